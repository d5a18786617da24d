/* A shared-memory file: one fixed-size file mapped MAP_SHARED by several processes, a header this module owns
 * and a payload its user lays out (core/limits/state.c keeps its tables there).
 *
 * The header holds the identity (magic, format word, sizes, a checksum over them), a ready word, one
 * PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST mutex guarding the payload, the lock holder's record and why
 * the file was built or marked broken. The file is mapped once per process and never remapped. What is mapped
 * is validated before it is trusted: the header, the mutex's own state (its kind bytes equal those of a mutex
 * initialised with the same attributes; a locked mutex names a live owner or carries the owner-died bit), and
 * the payload through the user's repair callback (which clamps). A file that fails is replaced by a freshly
 * built one (written beside it, initialised and seeded, renamed over it; the reason is kept in the new file),
 * never trusted; creation is serialised with flock().
 *
 * Faults at run time never wedge or kill the process. A lock attempt that fails other than by success or a
 * dead owner (bad kind bytes, EINVAL, ENOTRECOVERABLE, a timeout with no live owner) marks the file broken
 * for every process; a file truncated under a mapping raises SIGBUS, which a handler installed by
 * ss_shm_open/ss_shm_attach turns into anonymous zero pages over that mapping (a SIGBUS anywhere else keeps
 * its previous disposition). Either way ss_shm_is_broken turns true, ss_shm_lock fails with
 * SS_ERR_UNAVAILABLE, and the user closes the mapping and opens the path again, which rebuilds the file.
 *
 * The lock records its holder (pid and CLOCK_MONOTONIC acquire time) right after acquiring and clears it
 * before releasing, so a supervisor can find a holder that is stopped or stuck (ss_shm_lock_holder).
 * Times are CLOCK_REALTIME nanoseconds unless said otherwise.
 */
#ifndef SS_LIMITS_SHM_H
#define SS_LIMITS_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/util/error.h"

typedef struct ss_shm ss_shm;

/* What the user puts in the file. Static data, referenced (not copied) by every ss_shm opened with it. */
typedef struct ss_shm_layout {
	char magic[8];        /* the file's first bytes (not NUL-terminated) */
	uint32_t version;     /* the payload's layout version: a different one rebuilds existing files */
	size_t payload_size;  /* bytes of payload (starts 64-byte aligned) */
	/* A new file's payload (already zeroed): fill what must not start at zero. May be NULL. */
	void (*init)(void *payload);
	/* Under the lock, after a process died holding it and when an open validates the file: clamp the payload
	 * to what is consistent (every update is written so that a prefix of its stores is valid; this only fixes
	 * what a torn or garbage write could leave). now_ns is CLOCK_REALTIME. May be NULL. */
	void (*repair)(void *payload, int64_t now_ns);
} ss_shm_layout;

/* Called once, under the creation lock, when a new file has been built and before any other process can
 * use it (e.g. to re-seed counters from durable storage). Its result is ignored: the file is used anyway. */
typedef void (*ss_shm_seed_fn)(void *arg, ss_shm *shm);

/* Open (creating or rebuilding when needed) the file at path and map it. A missing, wrongly sized, foreign,
 * corrupted or broken file is rebuilt (ss_shm_built_reason says why). Installs the process's SIGBUS handler
 * on first use. Returns 0 and *out (close with ss_shm_close), or -1 with err (SS_ERR_IO naming the path). */
int ss_shm_open(const char *path, const ss_shm_layout *layout, ss_shm_seed_fn seed, void *seed_arg, ss_shm **out,
		ss_error *err);

/* Map an existing, valid file without ever creating or rebuilding it (for a supervisor). Returns 0 and *out,
 * or -1 with err (SS_ERR_UNAVAILABLE: missing, wrong size or a bad header; try again later). */
int ss_shm_attach(const char *path, const ss_shm_layout *layout, ss_shm **out, ss_error *err);

/* Unmap and close. NULL is a no-op. The payload pointer is invalid afterwards. */
void ss_shm_close(ss_shm *shm);

/* The payload: payload_size bytes, 64-byte aligned, valid until ss_shm_close. After a SIGBUS it reads as
 * zeros (never faults); check ss_shm_is_broken before trusting what was read. */
void *ss_shm_payload(ss_shm *shm);

/* True once this mapping must not be used (marked broken by any process, or its file truncated). One load. */
bool ss_shm_is_broken(const ss_shm *shm);

/* Fill err with SS_ERR_UNAVAILABLE saying why the mapping is unusable; returns -1. */
int ss_shm_unusable(const ss_shm *shm, ss_error *err);

/* Take the payload's mutex (a dead owner's leftovers are repaired through layout->repair first). Returns 0,
 * or -1 with err: SS_ERR_UNAVAILABLE, either busy for 2 s with a live recorded holder, or the mapping was
 * found broken (then marked so for every process). Hold it for a few loads and stores, never across I/O. */
int ss_shm_lock(ss_shm *shm, ss_error *err);

/* Release the mutex. Returns 0, or -1 with err (err may be NULL) when the mapping broke while it was held:
 * the results of the critical section must then not be used. */
int ss_shm_unlock(ss_shm *shm, ss_error *err);

/* False when this mapping must not be used any more: broken, or the file's size is wrong (truncated). One
 * fstat() and one atomic load. When false, close it and open the path again (that rebuilds the file). */
bool ss_shm_is_usable(const ss_shm *shm);

/* ss_shm_is_usable, and the file at the path is still the one mapped (not rebuilt or replaced). */
bool ss_shm_is_current(const ss_shm *shm);

/* Why shm is not current, as one lowercase phrase (kept in shm until the next call), or NULL when it is. */
const char *ss_shm_problem(ss_shm *shm);

/* True when this open built a new file. */
bool ss_shm_was_created(const ss_shm *shm);

/* When this open replaced an existing file: why (one lowercase phrase, owned by shm); else NULL. */
const char *ss_shm_built_reason(const ss_shm *shm);

/* When the mapped file replaced an earlier one: true, *at_ns its build time and its reason copied into
 * reason (len bytes, truncated). False for a first creation. */
bool ss_shm_rebuild_info(const ss_shm *shm, int64_t *at_ns, char *reason, size_t len);

/* The process holding the lock now, if any: true with *pid and *held_ms. Lock-free: one atomic load. */
bool ss_shm_lock_holder(const ss_shm *shm, pid_t *pid, int64_t *held_ms);

/* Times the mutex was found with a dead owner and repaired, over the file's life. */
uint64_t ss_shm_repairs(const ss_shm *shm);

/* True when pid names a live process (signal 0 succeeds or is refused with EPERM). */
bool ss_shm_pid_alive(int32_t pid);

/* Current CLOCK_REALTIME time in nanoseconds. */
int64_t ss_shm_now_ns(void);

#endif
