/* Service counters exact across hosts. Each host keeps its counters as before (the .stats file of atomic
 * 64-bit slots, the state file's named counters); with a shared limiter backend (limits = redis) the master
 * publishes the host's totals at most once a second (and when it stops) under the host's id, from a thread of
 * its own (so a Redis that hangs never holds up reaping, respawning or signals), and /stats and
 * /metrics read the sum over every host. A publish carries absolute totals and the backend keeps the largest
 * value per host and counter, so a failed publish is simply repeated by the next one: nothing is lost or
 * counted twice, and a host that goes away keeps its last published counts in the totals. */
#ifndef SS_FCGI_SHARED_COUNTERS_H
#define SS_FCGI_SHARED_COUNTERS_H

#include <stdint.h>

#include "core/config/config.h"
#include "core/limits/limiter.h"
#include "core/limits/state.h"
#include "core/store/stats.h"
#include "core/util/error.h"

/* Seconds between two publishes of one host. */
#define SS_SHARED_COUNTERS_INTERVAL_S 1.0

/* The master's publisher (one per host). */
typedef struct ss_counter_pub ss_counter_pub;

/* A publisher for cfg (copied from), or *out = NULL when cfg's limiter is not shared (limits = local). It
 * opens the host's .stats file and the limiter lazily. Returns 0, or -1 with err (SS_ERR_NOMEM). */
int ss_counter_pub_new(const ss_config *cfg, ss_counter_pub **out, ss_error *err);

/* Stop publishing without waiting: a publish already handed over still goes out, and the publisher's thread then
 * ends and frees what is left by itself (a Redis that hangs delays nobody). NULL is a no-op. */
void ss_counter_pub_free(ss_counter_pub *p);

/* ss_counter_pub_free, but wait up to wait_s seconds for the last publish handed over (the master, exiting,
 * after its final ss_counter_pub_tick with force). NULL is a no-op. */
void ss_counter_pub_finish(ss_counter_pub *p, double wait_s);

/* In a child forked by the master: release the master's mappings and forget p (the publisher's thread does not
 * exist in the child, and its connection is not in the child's descriptor table). NULL is a no-op. */
void ss_counter_pub_forget(ss_counter_pub *p);

/* The host's totals, read now (a few loads), handed to the publisher's own thread when
 * SS_SHARED_COUNTERS_INTERVAL_S have passed since the last hand-over (always when force); the round trip to the
 * backend happens there, so a backend that hangs never holds up the caller. A newer snapshot replaces one still
 * waiting. host_state: this host's state file (its named counters), or NULL. Returns the seconds until the
 * next hand-over is due (> 0). Failures are logged (once per outage) and retried at the next interval. */
double ss_counter_pub_tick(ss_counter_pub *p, const ss_state *host_state, bool force);

/* This host's id for the counters of the .stats file at stats_path (hostname, device and inode) into out (len
 * bytes). Returns 0, or -1 when the file or the host name cannot be read (out ""). */
int ss_counter_host_id(const char *stats_path, char *out, size_t len);

/* The counters of every host: stats[SS_STAT_SLOTS] (sums; SS_STAT_LAST_UPDATED the latest) and
 * state[SS_STATE_COUNTERS] (sums). Other hosts count as last published (at most SS_SHARED_COUNTERS_INTERVAL_S
 * old); this host (own_host, from ss_counter_host_id) counts with its live figures own_stats and own_state (may
 * be NULL), so a client sees its own requests at once. own_host NULL or "": every host as published.
 * Returns 1 filled from the shared backend, 0 when lim is not shared (nothing filled), or -1 with err (the
 * backend is down: the caller falls back to this host's figures). */
int ss_counter_totals(ss_limiter *lim, const char *own_host, const ss_stats *own_stats, const ss_state *own_state,
		      uint64_t *stats, uint64_t *state, ss_error *err);

#endif
