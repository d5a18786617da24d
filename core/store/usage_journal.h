/* A responder's write-ahead journal of usage rows: a small file beside the database, mapped MAP_SHARED, into
 * which each row is written before the response leaves the responder, and from which rows are flushed to
 * api_usage in batches. A row stored in the mapped page survives a SIGKILL of its writer (the kernel keeps
 * the page; no fsync per row: power loss is out of scope). Each live journal is held with an exclusive flock;
 * a journal whose lock can be taken belongs to a dead process and is imported by the next responder.
 *
 * Exactly once: every write of a journal's rows records, in the same transaction, the journal's id and the
 * sequence number of its last row (table usage_journal). An import skips rows at or below that mark and the
 * file is deleted only after the commit, so a process killed anywhere in a flush or an import can neither
 * lose a row nor count one twice.
 *
 * Files: DB + "-usage-" + 16 hex digits (0600), created as DB + "-usage-new." + pid and renamed once locked
 * and initialised, so an importer never sees a journal before its owner holds the lock. DB (db_path below) is
 * the local path the journals are named after: the SQLite database file, whatever the store is; the rows go to
 * the store (ss_store_usage_write with the journal mark, core/store/store.h). */
#ifndef SS_STORE_USAGE_JOURNAL_H
#define SS_STORE_USAGE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/store/usage.h"
#include "core/util/error.h"

typedef struct ss_usage_journal ss_usage_journal;

/* Rows a journal holds before appends are refused: while the database is down a responder keeps this many
 * (enough for many seconds of a busy responder; 640 KiB of file, allocated when the journal is created). It is
 * flushed long before in normal operation (ss_usage_journal_due). Journals written with another capacity, up to
 * SS_USAGE_JOURNAL_MAX_ROWS, are still imported and counted. */
#define SS_USAGE_JOURNAL_ROWS 8192
#define SS_USAGE_JOURNAL_MAX_ROWS (1 << 20)

/* Create and lock this process's journal beside db_path (the database file). Open it after fork(). Returns 0
 * and *out (free with ss_usage_journal_close), or -1 with err (SS_ERR_IO: directory not writable, disk full;
 * SS_ERR_NOMEM). */
int ss_usage_journal_open(const char *db_path, ss_usage_journal **out, ss_error *err);

/* True when the journal's file was truncated under its mapping (by something else; the SIGBUS is caught,
 * core/util/mapguard.h): what it held is lost, and appends go nowhere. Close it and open a new one. */
bool ss_usage_journal_broken(const ss_usage_journal *j);

/* Unmap and unlock. With remove and no pending row the file is deleted; otherwise it stays for the next
 * responder to import. NULL is a no-op. */
void ss_usage_journal_close(ss_usage_journal *j, bool remove);

/* Store one row in the mapped file. now_mono: monotonic seconds, for ss_usage_journal_due. Returns 0, or -1
 * when the journal is full (SS_USAGE_JOURNAL_ROWS pending: the row is not stored). */
int ss_usage_journal_append(ss_usage_journal *j, int64_t key_id, const char *endpoint, int status, int64_t time_s,
			    double now_mono);

/* Rows stored and not yet written to the database. */
size_t ss_usage_journal_pending(const ss_usage_journal *j);

/* True when rows are pending and the oldest is max_age_s old, or SS_USAGE_BATCH_MAX / 2 rows are pending. */
bool ss_usage_journal_due(const ss_usage_journal *j, double now_mono, double max_age_s);

/* Monotonic time the oldest pending row was stored (meaningful when rows are pending). */
double ss_usage_journal_first_mono(const ss_usage_journal *j);

/* Push the retry of a failed flush to now_mono (so it is due again after max_age_s, not at once). */
void ss_usage_journal_defer(ss_usage_journal *j, double now_mono);

/* Write every pending row to api_usage, in transactions of at most SS_USAGE_BATCH_MAX rows, each with the
 * journal mark. On success the journal is empty. Returns 0 or -1 with err (the rows not yet written stay
 * pending). */
int ss_usage_journal_flush(ss_usage_journal *j, ss_store *store, ss_error *err);

/* Import the journals beside db_path whose owner died (their flock can be taken): each in one transaction
 * with its mark, then deleted. Also removes half-created journals of dead processes. Journals of live
 * processes are left alone. A journal whose header is damaged (a head no writer reaches) is removed without
 * import and counted in *damaged (when not NULL); one whose `flushed` is impossible is imported above the
 * database's mark. Returns the number of rows imported (>= 0), or -1 with err when the directory cannot be
 * read or a write failed (the journals not imported stay for a later call). */
long ss_usage_journal_recover(ss_store *store, const char *db_path, int *damaged, ss_error *err);

/* Per-key counts of the UTC day `day` (days since the epoch) that a rebuilt state file must start from: the
 * quota-counted rows in api_usage (ss_usage_day_counts) plus those every journal beside db_path still holds
 * above its mark (rows of live responders not flushed yet, and of dead ones not imported yet), all read in
 * one read transaction so that a flush running meanwhile is counted once. Calls fn once per key with rows.
 * Returns 0 or -1 with err. */
int ss_usage_journal_day_counts(ss_store *store, const char *db_path, int64_t day,
				int (*fn)(void *arg, int64_t key_id, int64_t count), void *arg, ss_error *err);

#endif
