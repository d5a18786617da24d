/* A batch of usage rows (one per authenticated request) kept in memory and written in one transaction
 * (ss_store_usage_write): the fallback of a responder without a usage journal (core/store/usage_journal.h). */
#ifndef SS_STORE_USAGE_H
#define SS_STORE_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/store/store.h"
#include "core/util/error.h"

#define SS_USAGE_BATCH_MAX 512 /* rows kept in memory before a flush is forced */

/* Rows not yet written. Plain value, no allocation: zero it (or ss_usage_batch_init) before use. */
typedef struct ss_usage_batch {
	ss_usage_row rows[SS_USAGE_BATCH_MAX];
	size_t n;
	double first_mono; /* monotonic time the oldest pending row was added */
	unsigned long long dropped; /* rows lost because the batch was full and could not be written */
} ss_usage_batch;

void ss_usage_batch_init(ss_usage_batch *b);

/* Queue one row. Returns true when the batch is now full (flush it). A full batch drops the row and
 * counts it in b->dropped. */
bool ss_usage_batch_add(ss_usage_batch *b, int64_t key_id, const char *endpoint, int status, int64_t time_s,
			double now_mono);

/* True when rows are pending and the oldest is at least max_age_s old, or the batch is full. */
bool ss_usage_batch_due(const ss_usage_batch *b, double now_mono, double max_age_s);

/* Write every pending row with one transaction (ss_store_usage_write). On success the batch is empty; on
 * failure the rows stay queued. Returns 0 or -1 with err. */
int ss_usage_flush(ss_store *s, ss_usage_batch *b, ss_error *err);

#endif
