#include "core/store/db.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/store/schema.h"

#define SS_DB_STMT_SLOTS 64

struct ss_db {
	sqlite3 *h;
	char *path;
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} stmts[SS_DB_STMT_SLOTS];
	int nstmts;
};

static int db_fail(ss_db *db, ss_error *err, const char *what)
{
	return ss_error_set(err, SS_ERR_DB, "database %s: %s: %s", db->path, what,
			    db->h ? sqlite3_errmsg(db->h) : "cannot allocate");
}

int ss_db_exec(ss_db *db, const char *sql, ss_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		ss_error_set(err, SS_ERR_DB, "database %s: %s", db->path, msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int ss_db_schema_version(ss_db *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Apply every migration newer than the file's user_version inside one exclusive transaction, so two
 * processes starting at once serialise here and the second finds the work done. */
static int migrate(ss_db *db, ss_error *err)
{
	if (ss_db_exec(db, "BEGIN EXCLUSIVE", err) != 0)
		return -1;
	int v = ss_db_schema_version(db);
	if (v < 0) {
		ss_db_rollback(db);
		return db_fail(db, err, "reading schema version");
	}
	if (v > ss_schema_latest()) {
		ss_db_rollback(db);
		return ss_error_set(err, SS_ERR_DB,
				    "database %s has schema version %d, newer than this build knows (%d)", db->path, v,
				    ss_schema_latest());
	}
	for (int i = 0; i < ss_schema_migration_count; i++) {
		const ss_migration *m = &ss_schema_migrations[i];
		if (m->version <= v)
			continue;
		char pragma[64];
		if (ss_db_exec(db, m->sql, err) != 0) {
			ss_db_rollback(db);
			return -1;
		}
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m->version);
		if (ss_db_exec(db, pragma, err) != 0) {
			ss_db_rollback(db);
			return -1;
		}
	}
	return ss_db_exec(db, "COMMIT", err);
}

static int open_once(const char *path, ss_db **out, ss_error *err, int *busy)
{
	ss_db *db = calloc(1, sizeof *db);
	*out = NULL;
	*busy = 0;
	if (db == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory opening database");
	db->path = strdup(path);
	if (db->path == NULL) {
		free(db);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory opening database");
	}
	/* A new database is the owner's only, whatever the umask; SQLite gives its -wal and -shm the same mode. */
	if (strcmp(path, ":memory:") != 0 && path[0] != '\0') {
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			fchmod(fd, 0600);
			close(fd);
		}
	}
	int rc = sqlite3_open_v2(path, &db->h,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		db_fail(db, err, "cannot open");
		ss_db_close(db);
		return -1;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, SS_DB_BUSY_TIMEOUT_MS);
	if (ss_db_exec(db,
		       "PRAGMA journal_mode = WAL;"
		       "PRAGMA synchronous = NORMAL;"
		       "PRAGMA foreign_keys = ON;"
		       "PRAGMA journal_size_limit = 67108864;",
		       err) != 0 ||
	    migrate(db, err) != 0) {
		int code = sqlite3_errcode(db->h) & 0xff;
		*busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
		ss_db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

int ss_db_open(const char *path, ss_db **out, ss_error *err)
{
	/* Switching a new file to WAL and the first migration can report SQLITE_BUSY without waiting when
	 * several processes start at once; retry those a few times with a growing pause. */
	for (int attempt = 0;; attempt++) {
		int busy;
		if (open_once(path, out, err, &busy) == 0)
			return 0;
		if (!busy || attempt >= 20)
			return -1;
		struct timespec ts = {0, (long)(10 + 10 * attempt) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

void ss_db_close(ss_db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < db->nstmts; i++)
		sqlite3_finalize(db->stmts[i].stmt);
	if (db->h != NULL)
		sqlite3_close(db->h);
	free(db->path);
	free(db);
}

sqlite3 *ss_db_handle(ss_db *db)
{
	return db->h;
}

const char *ss_db_path(ss_db *db)
{
	return db->path;
}

const char *ss_db_errmsg(ss_db *db)
{
	return sqlite3_errmsg(db->h);
}

sqlite3_stmt *ss_db_prepare(ss_db *db, const char *sql)
{
	for (int i = 0; i < db->nstmts; i++) {
		if (db->stmts[i].sql == sql) {
			sqlite3_stmt *st = db->stmts[i].stmt;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	}
	sqlite3_stmt *st = NULL;
	unsigned flags = db->nstmts < SS_DB_STMT_SLOTS ? SQLITE_PREPARE_PERSISTENT : 0;
	if (sqlite3_prepare_v3(db->h, sql, -1, flags, &st, NULL) != SQLITE_OK)
		return NULL;
	if (db->nstmts >= SS_DB_STMT_SLOTS) {
		/* Cache full: a programming error (too many distinct statements); refuse rather than leak. */
		sqlite3_finalize(st);
		return NULL;
	}
	db->stmts[db->nstmts].sql = sql;
	db->stmts[db->nstmts].stmt = st;
	db->nstmts++;
	return st;
}

int ss_db_begin(ss_db *db, ss_error *err)
{
	return ss_db_exec(db, "BEGIN IMMEDIATE", err);
}

int ss_db_commit(ss_db *db, ss_error *err)
{
	if (ss_db_exec(db, "COMMIT", err) != 0) {
		ss_db_rollback(db);
		return -1;
	}
	return 0;
}

void ss_db_rollback(ss_db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int ss_db_checkpoint(ss_db *db, long long max_bytes)
{
	if (max_bytes > 0) {
		char wal[4096];
		struct stat st;
		if ((size_t)snprintf(wal, sizeof wal, "%s-wal", db->path) >= sizeof wal)
			return -1;
		if (stat(wal, &st) != 0 || st.st_size <= max_bytes)
			return 0;
	}
	int rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : -1;
}

int ss_db_check(ss_db *db, int full, ss_error *err)
{
	sqlite3_stmt *st;
	int ok = 0;
	if (sqlite3_prepare_v2(db->h, full ? "PRAGMA integrity_check" : "PRAGMA quick_check", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(db, err, "integrity check");
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (r != NULL && strcmp(r, "ok") == 0)
			ok = 1;
		else
			ss_error_set(err, SS_ERR_DB, "database %s: %s", db->path, r ? r : "integrity check failed");
	} else {
		db_fail(db, err, "integrity check");
	}
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}
