/* The in-memory usage batch: rows queued by the responder and written with one ss_store_usage_write. */
#include "core/store/usage.h"

#include <stdio.h>

void ss_usage_batch_init(ss_usage_batch *b)
{
	b->n = 0;
	b->first_mono = 0;
	b->dropped = 0;
}

bool ss_usage_batch_add(ss_usage_batch *b, int64_t key_id, const char *endpoint, int status, int64_t time_s,
			double now_mono)
{
	if (b->n >= SS_USAGE_BATCH_MAX) {
		b->dropped++;
		return true;
	}
	if (b->n == 0)
		b->first_mono = now_mono;
	ss_usage_row *r = &b->rows[b->n++];
	r->key_id = key_id;
	snprintf(r->endpoint, sizeof r->endpoint, "%s", endpoint != NULL ? endpoint : "");
	r->status = status;
	r->time_s = time_s;
	return b->n >= SS_USAGE_BATCH_MAX;
}

bool ss_usage_batch_due(const ss_usage_batch *b, double now_mono, double max_age_s)
{
	return b->n >= SS_USAGE_BATCH_MAX || (b->n > 0 && now_mono - b->first_mono >= max_age_s);
}

int ss_usage_flush(ss_store *s, ss_usage_batch *b, ss_error *err)
{
	if (b->n == 0)
		return 0;
	if (ss_store_usage_write(s, b->rows, b->n, 0, 0, err) != 0)
		return -1;
	b->n = 0;
	return 0;
}
