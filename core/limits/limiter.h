/* The limiter: what every host serving the same keys must agree on, behind one interface with two backends.
 *
 *   - per key: the per-minute limiter (GCRA) and the daily counter, decided together in ONE atomic admit;
 *   - per client address: failed key attempts;
 *   - the key-change generation that invalidates every responder's key cache (a key deactivated anywhere is
 *     refused everywhere on its next request).
 *
 * Backends (config `limits`):
 *   local  the shared state file of this host (core/limits/state.h over core/limits/shm.h): no setup, one
 *          host. Every call is a few loads and stores under a process-shared mutex.
 *   redis  one Redis server shared by every host (core/limits/redis_limiter.c, hiredis): admit is one
 *          server-side Lua script (EVALSHA) that reads the server's clock, applies GCRA and the daily count,
 *          and returns the generation, so a cached key costs ONE round trip per request.
 *
 * What stays per host and on the local state file whatever the backend (it is about this host's processes):
 * the responder registry, the lock watchdog of the master, the named counters of /metrics and the state
 * file's own health (see core/limits/state.h).
 *
 * Opening a redis limiter sets SIGPIPE to SIG_IGN when it was at its default (a write to a server that went
 * away must be an error, not the end of the process).
 *
 * A limiter belongs to one process and is not thread-safe. Opened in a responder after fork (never shared
 * across fork). A backend that is down makes calls fail with SS_ERR_UNAVAILABLE; the next call reconnects
 * or reopens by itself (a redis backend retries at most every 250 ms after a failed connect, so a dead
 * server costs no time per request beyond that).
 */
#ifndef SS_LIMITS_LIMITER_H
#define SS_LIMITS_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config/config.h"
#include "core/util/error.h"

typedef struct ss_limiter ss_limiter;

typedef enum ss_limiter_verdict {
	SS_LIMITER_ALLOWED = 0,
	SS_LIMITER_RATE_LIMITED = 1,  /* per-minute limit reached */
	SS_LIMITER_DAILY_LIMITED = 2, /* daily_limit reached for the current UTC day */
	SS_LIMITER_STALE = 3          /* the caller's key generation is not the current one: nothing was counted;
				       * refresh the key (generation in the decision) and admit again */
} ss_limiter_verdict;

typedef struct ss_limiter_decision {
	ss_limiter_verdict verdict;
	int limit;           /* steady per-minute rate applied (X-RateLimit-Limit) */
	int remaining;       /* requests that would succeed right now, 0..burst+1 (X-RateLimit-Remaining) */
	int reset_s;         /* seconds until remaining is back at burst + 1 (X-RateLimit-Reset) */
	int retry_after_s;   /* when refused: seconds until the next request can succeed (>= 1); else 0 */
	int64_t day_count;   /* requests counted today for the key, including this one when allowed */
	uint64_t generation; /* the current key-change generation */
} ss_limiter_decision;

/* Seed callback: fill today's daily counts (`day`, a UTC day number) from durable storage by calling
 * ss_limiter_seed_day for each key. Called by the local backend when it builds a new state file, by the
 * redis backend when it finds a day Redis has not been seeded for. Returns 0 or -1 (then counts start from
 * what the backend holds). */
typedef int (*ss_limiter_seed_fn)(void *arg, ss_limiter *lim, int64_t day);

/* Open the limiter cfg->limits names (cfg is copied from: the limiter does not keep it). `seed` may be NULL.
 * The local backend opens (building when needed) cfg->state_file; the redis backend only prepares: it
 * connects on first use, so a server that is down does not stop a responder from starting. Returns 0 and
 * *out (close with ss_limiter_close), or -1 with err (SS_ERR_CONFIG: unknown backend, or redis without
 * hiredis support; SS_ERR_IO/NOMEM). */
int ss_limiter_open(const ss_config *cfg, ss_limiter_seed_fn seed, void *seed_arg, ss_limiter **out, ss_error *err);

/* ss_limiter_open for a tool that changes keys: with a shared backend (redis) this host's state file is not
 * opened (nor created); with local it is the limiter, so it is opened as by ss_limiter_open. */
int ss_limiter_open_shared(const ss_config *cfg, ss_limiter_seed_fn seed, void *seed_arg, ss_limiter **out,
			   ss_error *err);

/* Close and free. NULL is a no-op. */
void ss_limiter_close(ss_limiter *lim);

/* "local" or "redis". */
const char *ss_limiter_backend(const ss_limiter *lim);

/* The /health component name of the backend: "state_file" or "redis". */
const char *ss_limiter_component(const ss_limiter *lim);

/* Is the backend usable now? Local: the state file is open, usable and current (reopened when it was replaced
 * or broken, at most once a second after a failure). Redis: connected (connecting when not, at most every
 * 250 ms). Costs nothing on the happy path of redis (no round trip), one fstat() for local. */
bool ss_limiter_ready(ss_limiter *lim);

/* ss_limiter_ready, and the backend answers now (redis: a PING round trip; a dead connection is noticed and
 * dropped here rather than by the next request). For /health. */
bool ss_limiter_probe(ss_limiter *lim);

/* Why the backend is not usable, one lowercase phrase owned by lim (valid until the next call), or NULL. */
const char *ss_limiter_problem(ss_limiter *lim);

/* Atomically check and, when allowed, count one request of key_id (> 0): GCRA with rate_per_min (>= 1) and
 * burst (>= 0), and at most daily_limit requests per UTC day (0 = unlimited), with the semantics of
 * ss_state_acquire (a refused request consumes nothing; the daily check comes first). `seen_generation` is
 * the key-change generation the caller's key information was read under: when it is not the current one
 * nothing is counted and the verdict is SS_LIMITER_STALE. The time is the backend's: this host's clock
 * (local) or the Redis server's (redis), so hosts with skewed clocks agree. Returns 0 with *d filled, or -1
 * with err (SS_ERR_UNAVAILABLE: backend down; the next call tries to recover). */
int ss_limiter_admit(ss_limiter *lim, int64_t key_id, int rate_per_min, int burst, int64_t daily_limit,
		     uint64_t seen_generation, ss_limiter_decision *d, ss_error *err);

/* Has client address addr used up its per_min failed key attempts for now? Returns 1 (blocked, *retry_after_s
 * >= 1 set), 0 (not blocked), or -1 with err. Consumes nothing. */
int ss_limiter_authfail_blocked(ss_limiter *lim, const char *addr, int per_min, int *retry_after_s, ss_error *err);

/* Record one failed key attempt from addr. Returns 0 or -1 with err. */
int ss_limiter_authfail_record(ss_limiter *lim, const char *addr, int per_min, ss_error *err);

/* Requests counted today for key_id (0 when none), or -1 with err. */
int64_t ss_limiter_day_count(ss_limiter *lim, int64_t key_id, ss_error *err);

/* Raise key_id's counter for `day` to at least count (seeding). Returns 0 or -1 with err. */
int ss_limiter_seed_day(ss_limiter *lim, int64_t key_id, int64_t day, int64_t count, ss_error *err);

/* Forget key_id's limiter and counters (after the key was deleted). Returns 0 or -1 with err. */
int ss_limiter_forget_key(ss_limiter *lim, int64_t key_id, ss_error *err);

/* The key-change generation as this process knows it without a round trip: local, the shared one (one
 * atomic load); redis, the last one an admit or ss_limiter_generation_sync returned (0 before the first). */
uint64_t ss_limiter_generation(ss_limiter *lim);

/* The current generation, asking the backend (a round trip for redis). Returns 0 with *gen, or -1 with err. */
int ss_limiter_generation_sync(ss_limiter *lim, uint64_t *gen, ss_error *err);

/* Bump the generation after a committed change to api_keys: every responder of every host drops its cached
 * keys before serving its next request. Returns 0 or -1 with err. */
int ss_limiter_bump_generation(ss_limiter *lim, ss_error *err);

/* This host's state file (the per-host tables: responders, named counters, lock health; and with the local
 * backend the limits themselves), reopened when it broke or was replaced, or NULL while it cannot be opened.
 * Owned by lim; valid until the next call on lim. */
struct ss_state *ss_limiter_host_state(ss_limiter *lim);

/* Between requests, and when the time it returned last has passed: when this process found the host state file
 * broken during its calls (one load, no system call) the file is reopened now (which rebuilds it), rather than
 * by whatever call comes next; while it cannot be opened, the reopen is tried again here once it is due (at
 * most once a second). *reopened: whether it reopened or tried to (then the caller registers itself again and
 * takes the notes). Returns the seconds until it wants to be called again (>= 0), or -1 when nothing is due. */
double ss_limiter_maintain(ss_limiter *lim, bool *reopened);

/* What the limiter did by itself (e.g. "state file ... is unusable (...); reopening it", then "rebuilt the state
 * file ... because ..."), for the caller's log, one note per call, oldest first: copied into buf (len bytes)
 * and true, or false when there is none left. The newest SS_LIMITER_NOTES are kept until taken; when more
 * came, the first note taken says how many older ones were dropped. Take them after every request. */
#define SS_LIMITER_NOTES 8 /* a reopen makes at most two */
bool ss_limiter_take_note(ss_limiter *lim, char *buf, size_t len);

/* The UTC day number of the backend's clock for today (redis: as of the last round trip, else this host's). */
int64_t ss_limiter_today(ss_limiter *lim);

/* Called by ss_limiter_counters_total for each counter of each host: the host's id (as published), the
 * counter's name and value. */
typedef void (*ss_limiter_counter_fn)(void *arg, const char *host, const char *name, uint64_t value);

/* Publish this host's counters to a shared backend: host (a stable id of the host's counter file, non-empty)
 * with n named counters (names: short ASCII words; values: the host's absolute, never-decreasing totals).
 * The backend keeps per host and name the largest value published, so a publish is idempotent: one that
 * failed or raced another is simply repeated (nothing lost, nothing counted twice). One round trip (redis).
 * Returns 1 published, 0 when the backend is not shared (local: nothing to do), or -1 with err. */
int ss_limiter_counters_publish(ss_limiter *lim, const char *host, const char *const *names, const uint64_t *values,
				size_t n, ss_error *err);

/* Every host's published counters, each passed to fn (the caller sums or takes the maximum). Two round trips
 * (redis). Returns 1 done, 0 when the backend is not shared (fn not called), or -1 with err. */
int ss_limiter_counters_total(ss_limiter *lim, ss_limiter_counter_fn fn, void *arg, ss_error *err);

#endif
