/* Copy one store into another (songscope-admin db copy --to postgresql): the way from one SQLite host to several
 * hosts on PostgreSQL. Backend-independent: only the store.h interface. */
#ifndef SS_STORE_COPY_H
#define SS_STORE_COPY_H

#include <stdint.h>

#include "core/store/store.h"
#include "core/util/error.h"

typedef struct ss_store_copy_counts {
	long long songs, songs_present;       /* cache rows copied; already in the target (left as they are) */
	long long overrides, overrides_present;
	long long keys, keys_present;         /* keys copied (same secrets: clients keep working); already there */
	long long usage_rows;                 /* usage rows since usage_from_s of the keys copied now */
} ss_store_copy_counts;

/* Copy every cache row (with beats and its analysis time), every override and every API key (hash, prefix,
 * scope, limits, state, creation time) from `from` into `to` inside one bulk transaction of `to`, so that a
 * failure leaves nothing half-copied; rows and keys already in `to` (same cache key, same (namespace, source),
 * same secret) are kept as they are, so running it again copies only what is new. Then the usage rows at or
 * after usage_from_s (CLOCK_REALTIME seconds; the start of today carries the daily quotas) of the keys copied by
 * this run, under their new ids (keys already present had theirs copied before). Both stores must be ready.
 * Returns 0 with *out, or -1 with err (nothing copied when the bulk part failed). */
int ss_store_copy(ss_store *from, ss_store *to, int64_t usage_from_s, ss_store_copy_counts *out, ss_error *err);

#endif
