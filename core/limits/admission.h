/* Admission control for analyses across all responders, crash-safe: open-file-description byte-range locks
 * (F_OFD_SETLK) on one lock file. Byte i is analysis slot i; a byte picked by hash of the cache key
 * de-duplicates identical misses; one byte per live responder lets /metrics count them, and one more per
 * responder marks it as waiting for an identical miss. The kernel drops a lock when its holder dies, so a
 * SIGKILLed responder never leaks a slot. The only data written to the file is, per key byte, the outcome
 * of the last failed attempt, so that requests that waited for it answer the same instead of repeating it.
 *
 * An analysis slot bounds CPU work (decode and analysis) only: a download holds no analysis slot but a
 * download slot of its own (bytes after the responder bytes), so that slow upstreams can take at most that
 * many responders; each responder serves one request at a time, so the responders bound both in the end.
 * A miss that finds every analysis slot taken may wait for one only while holding a queue seat (bytes after
 * the download slots), so that the number of responders waiting is bounded too. */
#ifndef SS_LIMITS_ADMISSION_H
#define SS_LIMITS_ADMISSION_H

#include <stdbool.h>

#include "core/util/error.h"

#define SS_ADMISSION_MAX_SLOTS 256
#define SS_ADMISSION_KEY_BYTES 4096
#define SS_ADMISSION_MAX_RESPONDERS 1024
#define SS_ADMISSION_MAX_DOWNLOADS 256
#define SS_ADMISSION_MAX_SEATS 1024

typedef struct ss_admission ss_admission;

/* Open (creating) the lock file at path with `slots` analysis slots (1..256; every responder must use the
 * same number). Open after fork. Returns 0 and *out (close with ss_admission_close) or -1 with err. */
int ss_admission_open(const char *path, int slots, ss_admission **out, ss_error *err);

/* Close the file, dropping every lock this handle holds. NULL is a no-op. */
void ss_admission_close(ss_admission *a);

/* Does path still name the file a has open (same device and inode)? False when it was deleted or replaced (a
 * clean-up, a restore), or cannot be read: the caller opens path again so that every responder shares one file. */
bool ss_admission_same_file(const ss_admission *a, const char *path);

/* Take a free analysis slot without waiting. Returns 0 (slot held until ss_admission_release), 1 when every
 * slot is taken (answer 503 busy), -1 on a lock error (err). A handle holds at most one slot. */
int ss_admission_acquire(ss_admission *a, ss_error *err);

/* Take a free analysis slot, waiting for one at most max_wait seconds: blocked in the kernel on a slot's lock
 * byte (F_OFD_SETLKW ended by a per-thread timer signal), no polling; with more than one slot the wait is cut
 * into slices of at most 0.2 s after which every slot is tried again, so a slot freed elsewhere is taken
 * too. Returns 0 (slot held until ss_admission_release), 1 when max_wait passed (answer 503 busy), -1 on a
 * lock error (err). max_wait <= 0 is ss_admission_acquire. Waiting this way is for holders of a queue seat
 * (ss_admission_take_seat), which bounds how many responders can wait at once. */
int ss_admission_acquire_wait(ss_admission *a, double max_wait, ss_error *err);

/* Give back the slot (no-op when none is held). */
void ss_admission_release(ss_admission *a);

/* Take one of `seats` queue seats (1..SS_ADMISSION_MAX_SEATS; every responder must use the same number)
 * without waiting: the right to wait for an analysis slot. Returns 0 (held until ss_admission_leave_seat),
 * 1 when all are taken (answer 503 busy at once), -1 on a lock error (err). A handle holds at most one. */
int ss_admission_take_seat(ss_admission *a, int seats, ss_error *err);

/* Give back the queue seat (no-op when none is held). */
void ss_admission_leave_seat(ss_admission *a);

/* Number of queue seats taken across all processes (requests waiting for an analysis slot), -1 on error. */
int ss_admission_queued(ss_admission *a);

/* Take one of `limit` download slots (1..SS_ADMISSION_MAX_DOWNLOADS; every responder must use the same
 * limit) without waiting. Returns 0 (held until ss_admission_release_download), 1 when all are taken (answer
 * 503 busy), -1 on a lock error (err). A handle holds at most one download slot. */
int ss_admission_acquire_download(ss_admission *a, int limit, ss_error *err);

/* Give back the download slot (no-op when none is held). */
void ss_admission_release_download(ss_admission *a);

/* Number of download slots of `limit` taken across all processes, -1 on error. */
int ss_admission_downloads(ss_admission *a, int limit);

/* Lock the de-duplication byte of cache_key, waiting at most max_wait seconds for another process analysing
 * the same key (marked as waiting meanwhile, see ss_admission_waiting). Returns 0 when locked without
 * waiting, 1 when locked after waiting (the caller should look in the cache again: the other analysis has
 * probably stored the result, or see ss_admission_failure_since), 2 when max_wait passed (not locked), -1 on
 * error. */
int ss_admission_lock_key(ss_admission *a, const char *cache_key, double max_wait, ss_error *err);

/* Record the outcome of the work done for cache_key while holding its key byte (an assert checks it):
 * failure NULL for a success (clears the record), else the error the request answers. Cache keys longer
 * than 127 bytes are not recorded. Returns 0, or -1 with err when the file cannot be written. */
int ss_admission_note_outcome(ss_admission *a, const char *cache_key, const ss_error *failure, ss_error *err);

/* While holding cache_key's byte: when the last attempt for exactly this key failed at or after `since`
 * (ss_time_mono seconds, e.g. when the caller arrived), copy its error into *failure and return 1; 0 when
 * there is no such failure (it succeeded, its process died first, or the byte served another key); -1 when
 * the file cannot be read. */
int ss_admission_failure_since(ss_admission *a, const char *cache_key, double since, ss_error *failure);

/* Number of processes waiting in ss_admission_lock_key right now, -1 on error. */
int ss_admission_waiting(ss_admission *a);

/* Unlock the key byte (no-op when none is held). */
void ss_admission_unlock_key(ss_admission *a);

/* Register this process as a live responder (one byte for as long as the handle is open). Returns 0 or -1. */
int ss_admission_register(ss_admission *a, ss_error *err);

/* Number of registered responders alive (this one included when registered), -1 on error. */
int ss_admission_alive(ss_admission *a);

/* Number of analysis slots currently taken across all processes, -1 on error. */
int ss_admission_in_use(ss_admission *a);

/* Configured number of slots. */
int ss_admission_slots(const ss_admission *a);

#endif
