#include "core/store/db.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
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
	uint32_t stamp; /* application_id at open: what the file's header must keep saying */
	bool overwritten;
};

static int stamp_if_new(ss_db *db, ss_error *err);

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
	if (stamp_if_new(db, err) != 0) {
		ss_db_rollback(db);
		return -1;
	}
	return ss_db_exec(db, "COMMIT", err);
}

/* The file's identity stamp (SQLite's application_id header field): a random non-zero value given at first
 * open, and a fresh one in every `songscope-admin db backup` copy, so a copy written over the live file is
 * told apart from the file the connection opened (ss_db_overwritten). */
static int64_t app_id(ss_db *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->h, "PRAGMA application_id", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return id;
}

/* Inside migrate's exclusive transaction, so that processes opening at once agree on one stamp. */
static int stamp_if_new(ss_db *db, ss_error *err)
{
	int64_t id = app_id(db);
	if (id < 0)
		return db_fail(db, err, "reading application_id");
	if (id != 0 || strcmp(db->path, ":memory:") == 0 || db->path[0] == '\0')
		return 0;
	uint32_t r = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &r, sizeof r) != (ssize_t)sizeof r)
			r = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
		close(fd);
	}
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA application_id = %u", (unsigned)((r & 0x7fffffffu) | 1u));
	return ss_db_exec(db, sql, err);
}

static int read_stamp(ss_db *db, ss_error *err)
{
	int64_t id = app_id(db);
	if (id < 0)
		return db_fail(db, err, "reading application_id");
	db->stamp = (uint32_t)id;
	return 0;
}

bool ss_db_overwritten(ss_db *db)
{
	if (db->overwritten)
		return true;
	sqlite3_file *f = NULL;
	if (sqlite3_file_control(db->h, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || f == NULL ||
	    f->pMethods == NULL)
		return false;
	/* The raw header as it is on disk now (SQLite's cache and WAL index would not notice a rewrite). Before
	 * the first checkpoint the file may still say 0 (or be empty): that is not a different file. */
	unsigned char b[4] = {0, 0, 0, 0};
	int rc = f->pMethods->xRead(f, b, sizeof b, 68);
	if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
		return false;
	uint32_t now = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	if (now == 0 || now == db->stamp)
		return false;
	db->overwritten = true;
	/* Its -wal belongs to the old content: closing must not checkpoint it into the new file. */
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
	return true;
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
	if (read_stamp(db, err) != 0) {
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
