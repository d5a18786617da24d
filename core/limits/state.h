/* The shared state file: one fixed-size file mapped MAP_SHARED by every responder and by songscope-admin.
 *
 * It holds what responders must agree on: per-key rate limiters (GCRA) and daily counters, per-address
 * failed-key limiters, the key-change generation that invalidates every responder's key cache, a small
 * array of named 64-bit counters, and the list of live responders. Table operations run under one
 * PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST mutex held for a few loads and stores (never across I/O);
 * a process killed while holding it does not wedge the others (the next locker repairs the tables).
 *
 * The file is mapped once per process and never remapped. What is mapped is validated before it is
 * trusted: the header (magic, layout version, sizes, mutex size/alignment and a checksum over them), the
 * mutex's own state (its kind bytes equal those of a mutex initialised with the same attributes; a locked
 * mutex names a live owner or carries the owner-died bit) and the tables' per-field bounds (clamped). A
 * file that fails is replaced by a freshly built one (written beside it, re-seeded through the seed
 * callback, renamed over it; the reason is kept in the new file), never trusted; creation is serialised
 * with flock().
 *
 * Faults at run time never wedge or kill the process. A lock attempt that fails other than by success or a
 * dead owner (bad kind bytes, EINVAL, ENOTRECOVERABLE, a timeout with no live owner) marks the file broken
 * for every process; a file truncated under a mapping raises SIGBUS, which a handler installed by
 * ss_state_open/ss_state_attach turns into anonymous zero pages over that mapping (a SIGBUS anywhere else
 * keeps its previous disposition). Either way every call on that mapping then fails with
 * SS_ERR_UNAVAILABLE (or returns 0 for the lock-free readers), ss_state_is_usable turns false, and the
 * caller closes it and opens the path again, which rebuilds the file.
 *
 * The lock records its holder (pid and CLOCK_MONOTONIC acquire time) right after acquiring and clears it
 * before releasing, so a supervisor can find a holder that is stopped or stuck (ss_state_lock_holder).
 * Times are CLOCK_REALTIME nanoseconds unless said otherwise; the UTC day is floor(seconds / 86400).
 */
#ifndef SS_LIMITS_STATE_H
#define SS_LIMITS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/util/error.h"

typedef struct ss_state ss_state;

/* Sizes of the fixed tables (part of the layout: changing one rebuilds existing files). */
#define SS_STATE_KEY_SLOTS 8192      /* per-key limiter/quota slots */
#define SS_STATE_ADDR_SLOTS 8192     /* per-address failed-key slots */
#define SS_STATE_COUNTERS 64         /* named 64-bit counters */
#define SS_STATE_RESPONDERS 512      /* live responder registrations */

#define SS_STATE_PERIOD_NS 60000000000LL /* the rate-limit period: one minute */
#define SS_STATE_MAX_TOLERANCE_NS (86400LL * 1000000000LL) /* a burst is capped at one day of the rate */

/* A process holding the lock longer than this is stopped or stuck: critical sections are a few loads and
 * stores (the longest, repair(), well under a millisecond), and lockers give up after 2 s. The master
 * SIGKILLs one of its own responders found holding it longer (see fcgi/master.c). */
#define SS_STATE_LOCK_HOLD_MAX_MS 500

/* Called once, under the creation lock, when a new file has just been built and before any other
 * process can use it: re-seed today's daily counters (ss_state_seed_day) from durable storage.
 * Returns 0, or -1 (the new file is used anyway; daily counts then start from zero). */
typedef int (*ss_state_seed_fn)(void *arg, ss_state *st);

/* Open (creating or rebuilding when needed) the state file at path and map it. `seed` may be NULL.
 * A missing, wrongly sized, foreign, corrupted or broken file is rebuilt (ss_state_built_reason says why).
 * Installs the process's SIGBUS handler on first use. Returns 0 and *out (close with ss_state_close), or -1
 * with err (SS_ERR_IO naming the path). */
int ss_state_open(const char *path, ss_state_seed_fn seed, void *seed_arg, ss_state **out, ss_error *err);

/* Map an existing, valid state file without ever creating or rebuilding it (for a supervisor that must
 * not build a file without the seed callback). Returns 0 and *out, or -1 with err (SS_ERR_UNAVAILABLE:
 * missing, wrong size or a bad header; try again later). */
int ss_state_attach(const char *path, ss_state **out, ss_error *err);

/* Unregister this process (if registered), unmap and close. NULL is a no-op. */
void ss_state_close(ss_state *st);

/* False when this mapping must not be used any more: marked broken (by this or another process), or the
 * file's size is wrong (truncated). Cheap enough for every request: one fstat() and one atomic load.
 * When false, close st and open the path again (that rebuilds the file). */
bool ss_state_is_usable(const ss_state *st);

/* True once this process found the mapping broken itself (a lock attempt failed on it, or the file was
 * truncated under it). One load, no system call: for a check after every request. */
bool ss_state_is_broken(const ss_state *st);

/* ss_state_is_usable, and the file at the path st was opened from is still the one mapped (not rebuilt by
 * another process, or deleted and recreated). One fstat() and one stat(); call it about once a second. */
bool ss_state_is_current(const ss_state *st);

/* Why st is not current, as one lowercase phrase (kept in st until the next call), or NULL when it is. */
const char *ss_state_problem(ss_state *st);

/* True when this open built a new file (first start, lost file, layout mismatch, corruption). */
bool ss_state_was_created(const ss_state *st);

/* When this open replaced an existing file: why (one lowercase phrase, owned by st); else NULL. */
const char *ss_state_built_reason(const ss_state *st);

/* When the mapped file replaced an earlier one (by whichever process built it): true, *at_ns its build
 * time and its reason copied into reason (len bytes, truncated). False for a first creation. */
bool ss_state_rebuild_info(const ss_state *st, int64_t *at_ns, char *reason, size_t len);

/* The process holding the lock now, if any: true with *pid and *held_ms (milliseconds since it took the
 * lock). The record is written right after acquiring and cleared before releasing; a holder that died
 * leaves its record until the next locker repairs. Lock-free: one atomic load. */
bool ss_state_lock_holder(const ss_state *st, pid_t *pid, int64_t *held_ms);

/* Current time in the state file's time base (CLOCK_REALTIME ns). */
int64_t ss_state_now_ns(void);

/* UTC day number of a CLOCK_REALTIME ns time. */
int64_t ss_state_day(int64_t now_ns);

/* ---- per-key limiter and daily quota ---- */

typedef enum ss_state_verdict {
	SS_STATE_ALLOWED = 0,
	SS_STATE_RATE_LIMITED = 1,  /* per-minute limit reached */
	SS_STATE_DAILY_LIMITED = 2  /* daily_limit reached for the current UTC day */
} ss_state_verdict;

typedef struct ss_state_decision {
	ss_state_verdict verdict;
	int limit;              /* steady per-minute rate applied (X-RateLimit-Limit) */
	int remaining;          /* requests that would succeed if sent right now, 0..burst+1 (X-RateLimit-Remaining) */
	int reset_s;            /* seconds until remaining is back at burst + 1 (X-RateLimit-Reset) */
	int retry_after_s;      /* when refused: seconds until the next request can succeed (>= 1); else 0 */
	int64_t day_count;      /* requests counted today for the key, including this one when allowed */
} ss_state_decision;

/* Atomically check and, when allowed, count one request of key `key_id` (> 0) at time now_ns:
 * GCRA with emission interval T = 60 s / `rate_per_min` (>= 1; rounded up to the nanosecond) and a
 * tolerance of `burst` (>= 0; capped at SS_STATE_MAX_TOLERANCE_NS / T) intervals — a fresh key may send
 * burst + 1 requests at once, then one per T, and over ANY 60 s window (half-open) at most
 * rate_per_min + burst — and at most `daily_limit` requests per UTC day (0 = unlimited).
 * A refused request consumes nothing. The daily check comes first (its Retry-After is the time to UTC
 * midnight). Returns 0 with *d filled, or -1 with err (SS_ERR_UNAVAILABLE: mutex unrecoverable or table
 * full of live entries). */
int ss_state_acquire(ss_state *st, int64_t key_id, int rate_per_min, int burst, int64_t daily_limit,
		     int64_t now_ns, ss_state_decision *d, ss_error *err);

/* Requests counted today (the UTC day of now_ns) for key_id. Returns the count (0 when unknown) or -1. */
int64_t ss_state_day_count(ss_state *st, int64_t key_id, int64_t now_ns);

/* Raise key_id's counter for `day` to at least `count` (used by the seed callback and after a rebuild).
 * Returns 0 or -1 with err. */
int ss_state_seed_day(ss_state *st, int64_t key_id, int64_t day, int64_t count, ss_error *err);

/* Forget key_id's limiter and counter (after the key was deleted). Returns 0 or -1 with err. */
int ss_state_forget_key(ss_state *st, int64_t key_id, ss_error *err);

/* ---- failed key attempts per client address ---- */

/* True when `addr` (e.g. REMOTE_ADDR text) has used up its `per_min` failed attempts for now; then
 * *retry_after_s is the seconds until the next attempt is allowed. Consumes nothing. Returns 1 blocked,
 * 0 not blocked, -1 on error (err set). */
int ss_state_authfail_blocked(ss_state *st, const char *addr, int per_min, int64_t now_ns, int *retry_after_s,
			      ss_error *err);

/* Record one failed key attempt from addr. Returns 0 or -1 with err. */
int ss_state_authfail_record(ss_state *st, const char *addr, int per_min, int64_t now_ns, ss_error *err);

/* ---- key-change generation (key cache invalidation) ---- */

/* The current key-change generation (one atomic load; no lock). */
uint64_t ss_state_key_generation(const ss_state *st);

/* Bump the key-change generation: every responder's key cache drops its entries on its next lookup.
 * Call after any change to api_keys has been committed. Returns the new generation. */
uint64_t ss_state_bump_key_generation(ss_state *st);

/* ---- named counters (lock-free, relaxed atomics) ---- */

/* Counters kept by fcgi/auth.c (for /metrics); indices below SS_STATE_COUNTER_AUTH_FIRST are free for
 * other modules to name. */
enum {
	SS_STATE_COUNTER_LIMITS_DOWN = 53,      /* requests refused because the limiter was unavailable (fail closed) */
	SS_STATE_COUNTER_LIMITS_FAIL_OPEN = 54, /* requests admitted without limits while it was (limits_fail = open) */
	SS_STATE_COUNTER_HOLDERS_KILLED = 55, /* lock holders the master killed (stopped or stuck; fcgi/master.c) */
	SS_STATE_COUNTER_AUTH_FIRST = 56,
	SS_STATE_COUNTER_RATE_LIMITED = 56,  /* requests refused with rate_limited (per-key limiter) */
	SS_STATE_COUNTER_DAILY_LIMITED = 57, /* requests refused with daily_limit_exceeded */
	SS_STATE_COUNTER_KEY_INVALID = 58,   /* requests refused with invalid_api_key */
	SS_STATE_COUNTER_ADDR_BLOCKED = 59   /* requests refused because their address failed too often */
};

/* Add delta to counter idx (0 <= idx < SS_STATE_COUNTERS; other indices are ignored). Returns the new value.
 * Which index means what is decided by the caller (see fcgi/ for the names in use). */
uint64_t ss_state_counter_add(ss_state *st, unsigned idx, uint64_t delta);

/* Current value of counter idx (0 for an invalid index). */
uint64_t ss_state_counter_get(const ss_state *st, unsigned idx);

/* Set counter idx to v (e.g. to seed it from the database after a rebuild). */
void ss_state_counter_set(ss_state *st, unsigned idx, uint64_t v);

/* ---- live responders ---- */

/* Register the calling process as a live responder (idempotent). Returns 0, or -1 with err when the
 * registration table is full of live processes. ss_state_close unregisters it. */
int ss_state_register_responder(ss_state *st, ss_error *err);

/* Number of registered processes that are still alive (dead registrations are cleared on the way). */
int ss_state_responders_alive(ss_state *st);

/* ---- diagnostics and tests ---- */

/* Take the mutex and return without releasing it (tests: a child calls this, then dies or stops; the holder
 * record names it). Returns 0 or -1. */
int ss_state_test_lock_and_hold(ss_state *st);

/* Times the mutex was found with a dead owner and repaired, over the file's life. */
uint64_t ss_state_repairs(const ss_state *st);

/* Check the tables' invariants under the lock. Returns 0 when consistent, else -1 with err saying what. */
int ss_state_check(ss_state *st, ss_error *err);

#endif
