/* Service counters exact across hosts. Each host keeps its counters as before (the .stats file of atomic
 * 64-bit slots, the state file's named counters); with a shared limiter backend (limits = redis) a process the
 * master forks and supervises publishes the host's totals once a second (and when it stops) under the host's
 * id. A process, not a thread: the master forks responders all its life and stays single-threaded, so no lock
 * of the C library can be held by another thread at a fork; and a Redis that hangs never holds up the master's
 * reaping, respawning or signals. /stats and
 * /metrics read the sum over every host. A publish carries absolute totals and the backend keeps the largest
 * value per host and counter, so a failed publish is simply repeated by the next one: nothing is lost or
 * counted twice, and a host that goes away keeps its last published counts in the totals. */
#ifndef SS_FCGI_SHARED_COUNTERS_H
#define SS_FCGI_SHARED_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/config/config.h"
#include "core/limits/limiter.h"
#include "core/limits/state.h"
#include "core/store/stats.h"
#include "core/util/error.h"

/* Seconds between two publishes of one host. */
#define SS_SHARED_COUNTERS_INTERVAL_S 1.0

/* The process name of the publisher (what ps and /proc/PID/comm show). */
#define SS_COUNTER_PUB_NAME "songscope-pub"

/* The master's record of its publisher process (one per host). */
typedef struct ss_counter_pub ss_counter_pub;

/* A publisher for cfg (copied from), or *out = NULL when cfg's limiter is not shared (limits = local). No
 * process is started yet (ss_counter_pub_due). Returns 0, or -1 with err (SS_ERR_NOMEM). */
int ss_counter_pub_new(const ss_config *cfg, ss_counter_pub **out, ss_error *err);

/* Seconds until the master should fork a publisher process: 0 when none runs and it is due now (then fork, run
 * ss_counter_pub_run in the child and tell ss_counter_pub_started the pid), else the time until one may be
 * (after one died: 1 s, doubling up to 30 s while they keep dying), or SS_SHARED_COUNTERS_INTERVAL_S while
 * one runs. */
double ss_counter_pub_due(const ss_counter_pub *p);

/* The master forked the publisher process pid (or pid < 0: fork failed; tried again in a second). */
void ss_counter_pub_started(ss_counter_pub *p, pid_t pid);

/* The master reaped child pid with wait status `status`: true when it was p's publisher (its end is logged and
 * another is started when ss_counter_pub_due says so), false otherwise (also for p NULL). */
bool ss_counter_pub_reaped(ss_counter_pub *p, pid_t pid, int status);

/* In the forked publisher process: every SS_SHARED_COUNTERS_INTERVAL_S, read the host's totals from its own
 * mappings of the .stats and state files and publish them in one round trip to the shared backend; on SIGTERM
 * (taken between round trips; SIGINT and SIGHUP are ignored) publish once more and return (the caller exits).
 * Failures are logged once per outage and retried at the next interval. Nothing it opens outlives the return. */
void ss_counter_pub_run(const ss_counter_pub *p);

/* Free p and stop its publisher without waiting: SIGTERM, after which it publishes once more and exits (the
 * master's reaping collects it; a Redis that hangs delays nobody). NULL is a no-op. */
void ss_counter_pub_free(ss_counter_pub *p);

/* ss_counter_pub_free for the master as it exits, after its responders ended: wait up to wait_s seconds for the
 * publisher's last publish, then SIGKILL it (a Redis that hangs: the next start publishes the same totals).
 * NULL is a no-op. */
void ss_counter_pub_finish(ss_counter_pub *p, double wait_s);

/* In a child forked by the master: free the master's record (the child neither signals nor reaps the
 * publisher). NULL is a no-op. */
void ss_counter_pub_forget(ss_counter_pub *p);

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
