/* One SQLite connection per process: WAL, busy_timeout, forward migrations, reusable prepared statements. */
#ifndef SS_STORE_DB_H
#define SS_STORE_DB_H

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

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Return 0 or -1 (err set to SS_ERR_DB; err may be NULL). */
int ss_db_begin(ss_db *db, ss_error *err);
int ss_db_commit(ss_db *db, ss_error *err);
void ss_db_rollback(ss_db *db);

/* Run SQL without results (several statements allowed). Returns 0 or -1 with err. */
int ss_db_exec(ss_db *db, const char *sql, ss_error *err);

/* Last SQLite error message of this connection. */
const char *ss_db_errmsg(ss_db *db);

/* Schema version of the open file (PRAGMA user_version). */
int ss_db_schema_version(ss_db *db);

/* Checkpoint the WAL with TRUNCATE when it is larger than max_bytes (0 = always). Returns 0 or -1. */
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
