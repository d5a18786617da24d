/* The api_usage table: per-responder batches of usage rows (one per authenticated request) written in one
 * transaction, and the queries behind quotas re-seeding and `songscope-admin keys show` / `usage`. */
#ifndef SS_STORE_USAGE_H
#define SS_STORE_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/store/db.h"
#include "core/util/error.h"

#define SS_USAGE_BATCH_MAX 512 /* rows kept in memory before a flush is forced */
#define SS_USAGE_ENDPOINT_MAX 48

typedef struct ss_usage_row {
	int64_t key_id;
	char endpoint[SS_USAGE_ENDPOINT_MAX];
	int status;
	int64_t time_s; /* CLOCK_REALTIME seconds */
} ss_usage_row;

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

/* Write every pending row with one BEGIN IMMEDIATE transaction, and set each key's last_used to its
 * newest row. Rows of keys deleted meanwhile are skipped. On success the batch is empty; on failure the
 * rows stay queued. Returns 0 or -1 with err (SS_ERR_DB). */
int ss_usage_flush(ss_db *db, ss_usage_batch *b, ss_error *err);

/* Write rows[0..n) as ss_usage_flush does and, when journal_id != 0, record in the same transaction that
 * journal journal_id's rows up to sequence number last_seq are written (see core/store/usage_journal.h).
 * Returns 0 or -1 with err (nothing written). */
int ss_usage_write(ss_db *db, const ss_usage_row *rows, size_t n, int64_t journal_id, int64_t last_seq,
		   ss_error *err);

/* Forget journal marks not updated for `days` days (their journals are long imported). Returns 0 or -1. */
int ss_usage_journal_prune(ss_db *db, int days, ss_error *err);

/* The last sequence number recorded for journal_id (0 when none) into *seq. Returns 0 or -1 with err. */
int ss_usage_journal_mark(ss_db *db, int64_t journal_id, int64_t *seq, ss_error *err);

/* Per-key count of today's quota-counted rows (every row but the limiter's own 429 refusals) in the UTC
 * day `day` (days since the epoch). Calls fn for each key with rows. Returns 0 or -1 with err. */
int ss_usage_day_counts(ss_db *db, int64_t day, int (*fn)(void *arg, int64_t key_id, int64_t count), void *arg,
			ss_error *err);

typedef struct ss_usage_stats {
	int64_t requests_today; /* rows in the current UTC day */
	int64_t total;          /* all rows */
	int64_t successful;     /* rows with a status below 400 */
} ss_usage_stats;

/* Usage figures of one key for UTC day `day`. Returns 0 or -1 with err. */
int ss_usage_key_stats(ss_db *db, int64_t key_id, int64_t day, ss_usage_stats *out, ss_error *err);

/* The key's newest `limit` rows, newest first. fn gets endpoint, status and "YYYY-MM-DD HH:MM:SS".
 * Returns 0 or -1 with err. */
int ss_usage_recent(ss_db *db, int64_t key_id, int limit,
		    int (*fn)(void *arg, const char *endpoint, int status, const char *timestamp), void *arg,
		    ss_error *err);

/* Per-key totals over the last `days` UTC days (today included), for keys with rows in that window.
 * Returns 0 or -1 with err. */
int ss_usage_summary(ss_db *db, int days,
		     int (*fn)(void *arg, int64_t key_id, const char *name, const char *prefix, int64_t total,
			       int64_t successful),
		     void *arg, ss_error *err);

#endif
