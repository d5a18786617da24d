/* One SQLite connection per process: WAL, busy_timeout, forward migrations, reusable prepared statements. */
#ifndef SS_STORE_SQLITE_DB_H
#define SS_STORE_SQLITE_DB_H

#include <stdbool.h>

#include <sqlite3.h>

#include "core/util/error.h"

typedef struct ss_db ss_db;

#define SS_DB_BUSY_TIMEOUT_MS 5000

/* Open (creating if needed) the database at path, set WAL, synchronous=NORMAL, foreign_keys, busy_timeout,
 * and bring the schema up to date (serialised across processes by an exclusive transaction).
 * Open it after fork(), never before. Returns 0 and *out (caller closes with ss_db_close), or -1 with
 * err (SS_ERR_DB; message names the path and SQLite's reason). */
int ss_db_open(const char *path, ss_db **out, ss_error *err);

/* ss_db_open flags. */
#define SS_DB_NO_CREATE 1u /* never create the file: a missing database is an error (SS_ERR_UNAVAILABLE) */

/* ss_db_open with flags. Without SS_DB_NO_CREATE a missing file is created, unless its "-shm" sibling exists:
 * then the file was deleted while some process still has it open (it can be restored from that connection,
 * see ss_db_restore) and the open fails with SS_ERR_UNAVAILABLE instead of starting an empty database.
 * A file that can only be opened read-only (file mode, or a read-only file system: then it is opened
 * immutable) is opened read-only when its schema is current; ss_db_is_readonly says so. */
int ss_db_open_flags(const char *path, unsigned flags, ss_db **out, ss_error *err);

/* Give connection h the SQL function songscope_utf8(x, cap): a text x as UTF-8 text (as it is when it is
 * UTF-8, else its bytes read as ISO-8859-1, ss_utf8_or_latin1), clipped to fewer than cap bytes at a
 * character boundary when cap > 0; any other value (number, NULL, blob) as it is. For reading text that
 * earlier releases or the original server may have stored as bytes (migrations, import-legacy).
 * Returns 0, or -1 (SQLite could not register it: out of memory). */
int ss_db_register_utf8(sqlite3 *h);

/* busy_timeout in milliseconds (how long a write waits for another process's write lock; 0 = fail at once). */
void ss_db_set_busy_timeout(ss_db *db, int ms);

/* True when the connection was opened read-only (every write answers SS_ERR_READ_ONLY). */
bool ss_db_is_readonly(ss_db *db);

/* The API code of this connection's last failure, for err->code of the store functions:
 * SQLITE_BUSY/SQLITE_LOCKED (after busy_timeout) -> SS_ERR_BUSY; SQLITE_FULL or ENOSPC -> SS_ERR_STORAGE_FULL;
 * SQLITE_READONLY or EROFS -> SS_ERR_READ_ONLY; SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_IOERR, SQLITE_CANTOPEN
 * and a moved file -> SS_ERR_UNAVAILABLE, and the connection is marked for reopening (ss_db_needs_reopen);
 * anything else SS_ERR_DB. */
ss_code ss_db_fault(ss_db *db);

/* True once a failure showed that this connection cannot be trusted any more (see ss_db_fault): close it
 * and open the path again. */
bool ss_db_needs_reopen(ss_db *db);

typedef enum ss_db_file_state {
	SS_DB_FILE_SAME = 0,  /* the path names the file this connection has open */
	SS_DB_FILE_MISSING,   /* nothing at the path: the file was deleted while open */
	SS_DB_FILE_REPLACED,  /* another file is at the path (moved, or restored by an operator) */
} ss_db_file_state;

/* Compare the path with the file the connection opened (device and inode): one stat(). */
ss_db_file_state ss_db_file_check(ss_db *db);

/* The file was deleted while open (SS_DB_FILE_MISSING): write what this connection still sees into a new
 * file beside it with SQLite's online backup, fsync it, and link it at the path only if the path is still
 * free, so that processes racing to do the same never replace each other's copy. Returns 1 when this call
 * put the copy in place, 0 when a file was already at the path, -1 with err. The caller reopens either way. */
int ss_db_restore(ss_db *db, ss_error *err);

/* What a request needs, for /health: the path still names the open file, its header is an SQLite header
 * (read from the file, not from a cache), the schema reads, and the file system is neither read-only nor
 * full (less than 256 KiB free). Returns SS_OK, or SS_ERR_UNAVAILABLE, SS_ERR_READ_ONLY, SS_ERR_STORAGE_FULL, SS_ERR_BUSY with err
 * (the message names the database). A broken header marks the connection for reopening. */
ss_code ss_db_probe(ss_db *db, ss_error *err);

/* Finalize every cached statement and close. NULL is a no-op. */
void ss_db_close(ss_db *db);

/* The raw handle, owned by db. */
sqlite3 *ss_db_handle(ss_db *db);

/* Path the database was opened with (owned by db). */
const char *ss_db_path(ss_db *db);

/* A prepared statement for `sql`, prepared once per connection and cached by the pointer value of sql
 * (pass a static string). The statement is reset and its bindings cleared before it is returned.
 * Returns NULL on error (message via ss_db_errmsg). Owned by db: do not finalize. */
sqlite3_stmt *ss_db_prepare(ss_db *db, const char *sql);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Return 0 or -1 (err->code from ss_db_fault; err may be NULL). */
int ss_db_begin(ss_db *db, ss_error *err);
int ss_db_commit(ss_db *db, ss_error *err);
void ss_db_rollback(ss_db *db);

/* Run SQL without results (several statements allowed). Returns 0 or -1 with err (code from ss_db_fault). */
int ss_db_exec(ss_db *db, const char *sql, ss_error *err);

/* Last SQLite error message of this connection. */
const char *ss_db_errmsg(ss_db *db);

/* Schema version of the open file (PRAGMA user_version). */
int ss_db_schema_version(ss_db *db);

/* Checkpoint the WAL with TRUNCATE when it is larger than max_bytes (0 = always). Skipped (returns 0) when the
 * path no longer names the open file (it was deleted or replaced). Returns 0 or -1. */
int ss_db_checkpoint(ss_db *db, long long max_bytes);

/* Was the file rewritten in place under this connection (e.g. `cp backup.db live.db` while running: same
 * inode, other content)? Reads the 4-byte identity stamp from the file's header (one pread) and compares it
 * with the one seen at open. Once true it stays true, and closing the connection then never checkpoints the
 * (stale) WAL into the new content. The caller stops using the connection and reports it. */
bool ss_db_overwritten(ss_db *db);

/* Run PRAGMA quick_check (full=0) or integrity_check (full=1). Returns 0 when "ok", else -1 with the
 * first problem in err. */
int ss_db_check(ss_db *db, int full, ss_error *err);

#endif
