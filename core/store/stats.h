/* Service counters shared by every responder: a small file of 64-bit counters mapped MAP_SHARED and updated
 * with atomic adds, so counts are exact across processes, cost no database write, never need a lock (a
 * responder killed mid-update cannot wedge anyone) and survive restarts with the file.
 * This is the one file to change when the counters move into the shared state file. */
#ifndef SS_STORE_STATS_H
#define SS_STORE_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util/error.h"

enum {
	SS_STAT_ANALYSES = 0,   /* analyses performed */
	SS_STAT_HITS,           /* cache hits served */
	SS_STAT_MISSES,         /* cache misses (answered by analysing) */
	SS_STAT_REQUESTS,       /* requests served, every endpoint */
	SS_STAT_BUSY,           /* misses refused with 503 busy */
	SS_STAT_RATE_LIMITED,   /* 429 answers */
	SS_STAT_FAILED,         /* analyses or downloads that failed */
	SS_STAT_DEDUP_WAITS,    /* misses that waited for an identical analysis instead of repeating it */
	SS_STAT_LAST_UPDATED,   /* unix seconds of the last hit/miss (stored, not added) */
	SS_STAT_NAMED_END = 16,

	SS_STAT_ROUTES = 40,    /* route slots for per-endpoint request counts */
	SS_STAT_STATUSES = 20,  /* status slots (see ss_stats_status_index) */
	SS_STAT_ROUTE_BASE = SS_STAT_NAMED_END,
	SS_STAT_LAT_BUCKETS = 12,
	SS_STAT_LAT_BASE = SS_STAT_ROUTE_BASE + SS_STAT_ROUTES * SS_STAT_STATUSES, /* buckets, then +Inf */
	SS_STAT_LAT_SUM_US = SS_STAT_LAT_BASE + SS_STAT_LAT_BUCKETS + 1,
	SS_STAT_LAT_COUNT,
	SS_STAT_SLOTS
};

/* Upper bounds of the latency histogram buckets, seconds (the last bucket is +Inf). */
extern const double ss_stats_latency_bounds[SS_STAT_LAT_BUCKETS];

/* HTTP status of each status slot (0 = "other"). */
extern const int ss_stats_statuses[SS_STAT_STATUSES];

typedef struct ss_stats ss_stats;

/* Open (creating and initialising under flock if needed) the counters file at path. Open after fork. A file
 * this version cannot read (too short, or a header that is not ours: a creator killed before writing it, a
 * damaged disk) is rebuilt empty, and ss_stats_rebuilt says why. Returns 0 and *out (close with
 * ss_stats_close) or -1 with err (SS_ERR_IO when the file cannot be opened, locked, sized or mapped). */
int ss_stats_open(const char *path, ss_stats **out, ss_error *err);

/* Does path still name the file s maps (same device and inode)? False when it was deleted or replaced, truncated
 * under the mapping (a SIGBUS there is caught: core/util/mapguard.h), or cannot be read: the caller opens path
 * again so that every process counts in one file. */
bool ss_stats_same_file(const ss_stats *s, const char *path);

/* Why ss_stats_open rebuilt s's file (the counts before are lost), or NULL when it did not (or s is NULL). */
const char *ss_stats_rebuilt(const ss_stats *s);

/* Unmap and close. NULL is a no-op. */
void ss_stats_close(ss_stats *s);

/* Add n to counter slot (atomic; out-of-range slots and NULL s are ignored). */
void ss_stats_add(ss_stats *s, unsigned slot, uint64_t n);

/* Store v into slot (atomic). */
void ss_stats_set(ss_stats *s, unsigned slot, uint64_t v);

/* Read a slot (atomic); 0 for NULL s or an out-of-range slot. */
uint64_t ss_stats_get(const ss_stats *s, unsigned slot);

/* Status slot of an HTTP status (the "other" slot for unlisted ones). */
unsigned ss_stats_status_index(int status);

/* Count one finished request: per-route/status counter, latency histogram, requests served, 429s. */
void ss_stats_observe(ss_stats *s, unsigned route_index, int status, double seconds);

#endif
