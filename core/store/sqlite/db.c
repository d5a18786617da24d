#include "core/store/sqlite/db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/store/sqlite/schema.h"
#include "core/util/utf8.h"

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
	dev_t dev;       /* the file opened, to notice it being deleted or replaced */
	ino_t ino;
	bool have_id;
	bool readonly;   /* opened read-only */
	bool reopen;     /* a failure showed the connection must be reopened */
};

static int stamp_if_new(ss_db *db, ss_error *err);

/* Below this much free space a file system that filled up still counts as full. */
#define SS_DB_FREE_MIN (256 * 1024)

ss_code ss_db_fault(ss_db *db)
{
	if (db->h == NULL)
		return SS_ERR_NOMEM;
	int ext = sqlite3_extended_errcode(db->h), code = ext & 0xff;
	int sys = sqlite3_system_errno(db->h);
	switch (code) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SS_ERR_BUSY;
	case SQLITE_FULL:
		return SS_ERR_STORAGE_FULL;
	case SQLITE_READONLY:
		if (ext == SQLITE_READONLY_DBMOVED) {
			db->reopen = true;
			return SS_ERR_UNAVAILABLE;
		}
		return SS_ERR_READ_ONLY;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		if (sys == ENOSPC || sys == EDQUOT) {
			return SS_ERR_STORAGE_FULL;
		}
		if (sys == EROFS) {
			return SS_ERR_READ_ONLY;
		}
		db->reopen = true;
		return SS_ERR_UNAVAILABLE;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		db->reopen = true;
		return SS_ERR_UNAVAILABLE;
	case SQLITE_NOMEM:
		return SS_ERR_NOMEM;
	default:
		return SS_ERR_DB;
	}
}

bool ss_db_needs_reopen(ss_db *db)
{
	return db->reopen;
}

bool ss_db_is_readonly(ss_db *db)
{
	return db->readonly;
}

void ss_db_set_busy_timeout(ss_db *db, int ms)
{
	sqlite3_busy_timeout(db->h, ms < 0 ? 0 : ms);
}

static int db_fail(ss_db *db, ss_error *err, const char *what)
{
	return ss_error_set(err, db->h ? ss_db_fault(db) : SS_ERR_NOMEM, "database %s: %s: %s", db->path, what,
			    db->h ? sqlite3_errmsg(db->h) : "cannot allocate");
}

int ss_db_exec(ss_db *db, const char *sql, ss_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		ss_error_set(err, ss_db_fault(db), "database: %s", msg ? msg : sqlite3_errmsg(db->h));
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

/* SQL songscope_utf8(x, cap): see ss_db_register_utf8. */
static void sql_utf8(sqlite3_context *c, int argc, sqlite3_value **v)
{
	(void)argc;
	const char *s = sqlite3_value_type(v[0]) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v[0]) : NULL;
	sqlite3_int64 cap = sqlite3_value_int64(v[1]);
	if (s == NULL || (ss_utf8_valid(s) && (cap <= 0 || strlen(s) < (size_t)cap))) {
		sqlite3_result_value(c, v[0]);
		return;
	}
	char *out = ss_utf8_or_latin1_dup(s);
	if (out == NULL) {
		sqlite3_result_error_nomem(c);
		return;
	}
	if (cap > 0)
		ss_utf8_clip(out, (size_t)cap);
	sqlite3_result_text(c, out, -1, free);
}

int ss_db_register_utf8(sqlite3 *h)
{
	return sqlite3_create_function_v2(h, "songscope_utf8", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_utf8,
					  NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : -1;
}

/* Apply every migration newer than the file's user_version inside one exclusive transaction, so two
 * processes starting at once serialise here and the second finds the work done. */
static int migrate(ss_db *db, ss_error *err)
{
	if (ss_db_register_utf8(db->h) != 0)
		return db_fail(db, err, "registering a migration function");
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
	 * the first checkpoint the file may still say 0 (or be empty): that is not a different file. A header
	 * that is not SQLite's is damage, not another database: ss_db_probe and ss_db_fault handle that. */
	unsigned char b[72];
	memset(b, 0, sizeof b);
	int rc = f->pMethods->xRead(f, b, sizeof b, 0);
	if ((rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) || memcmp(b, "SQLite format 3", 16) != 0)
		return false;
	uint32_t now = (uint32_t)b[68] << 24 | (uint32_t)b[69] << 16 | (uint32_t)b[70] << 8 | b[71];
	if (now == 0 || now == db->stamp)
		return false;
	db->overwritten = true;
	/* Its -wal belongs to the old content: closing must not checkpoint it into the new file. */
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
	return true;
}

/* SQLite's automatic checkpoint (at 1000 WAL pages), but only while the path still names the file this
 * connection has open: a connection to a deleted file must not copy pages that other processes' connections
 * (to the file now at the path) share through the same WAL into the deleted file and reset the WAL. */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int pages)
{
	ss_db *db = arg;
	if (pages >= 1000 && ss_db_file_check(db) == SS_DB_FILE_SAME)
		sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* "file:" URI of path with everything but unreserved characters and '/' percent-encoded. */
static char *file_uri(const char *path, const char *query)
{
	size_t n = strlen(path);
	char *u = malloc(5 + 3 * n + strlen(query) + 2);
	if (u == NULL)
		return NULL;
	char *o = u + sprintf(u, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("/-._~", *p) != NULL)
			*o++ = (char)*p;
		else
			o += sprintf(o, "%%%02X", *p);
	}
	sprintf(o, "?%s", query);
	return u;
}

/* Is the file system holding path mounted read-only? */
static bool fs_readonly(const char *path)
{
	struct statvfs v;
	return statvfs(path, &v) == 0 && (v.f_flag & ST_RDONLY) != 0;
}

/* A read-only connection: nothing is migrated; the schema must already be the one this build uses. */
static int check_readonly_schema(ss_db *db, ss_error *err)
{
	int v = ss_db_schema_version(db);
	if (v < 0)
		return db_fail(db, err, "reading schema version (opened read-only)");
	if (v != ss_schema_latest())
		return ss_error_set(err, SS_ERR_READ_ONLY,
				    "database %s is read-only and has schema version %d; this build needs %d", db->path,
				    v, ss_schema_latest());
	return 0;
}

static int open_once(const char *path, unsigned flags, ss_db **out, ss_error *err, int *busy)
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
	struct stat st;
	if (stat(path, &st) != 0 && errno == ENOENT) {
		char shm[4096];
		int e = 0;
		if ((flags & SS_DB_NO_CREATE) != 0)
			e = ss_error_set(err, SS_ERR_UNAVAILABLE, "database %s is missing", path);
		else if ((size_t)snprintf(shm, sizeof shm, "%s-shm", path) < sizeof shm && access(shm, F_OK) == 0)
			e = ss_error_set(err, SS_ERR_UNAVAILABLE,
					 "database %s is missing but %s exists: it was deleted while in use and a running "
					 "responder restores it (remove the -wal and -shm files to start an empty one)",
					 path, shm);
		if (e != 0) {
			ss_db_close(db);
			return -1;
		}
	}
	/* A new database is the owner's only, whatever the umask; SQLite gives its -wal and -shm the same mode. */
	if ((flags & SS_DB_NO_CREATE) == 0 && strcmp(path, ":memory:") != 0 && path[0] != '\0') {
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			fchmod(fd, 0600);
			close(fd);
		}
	}
	int rc = sqlite3_open_v2(path, &db->h,
				 SQLITE_OPEN_READWRITE | ((flags & SS_DB_NO_CREATE) ? 0 : SQLITE_OPEN_CREATE) |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		db_fail(db, err, "cannot open");
		ss_db_close(db);
		return -1;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, SS_DB_BUSY_TIMEOUT_MS);
	db->readonly = sqlite3_db_readonly(db->h, "main") == 1;
	if (db->readonly) {
		/* SQLite fell back to read-only (file mode or file system). A WAL database on a read-only file
		 * system without its -shm can only be read as immutable, which is safe there: nobody can write. */
		if (check_readonly_schema(db, err) != 0) {
			if (!fs_readonly(path)) {
				ss_db_close(db);
				return -1;
			}
			sqlite3_close(db->h);
			db->h = NULL;
			char *uri = file_uri(path, "mode=ro&immutable=1");
			if (uri == NULL) {
				ss_db_close(db);
				return ss_error_set(err, SS_ERR_NOMEM, "out of memory opening database");
			}
			rc = sqlite3_open_v2(uri, &db->h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
			free(uri);
			if (rc != SQLITE_OK) {
				db_fail(db, err, "cannot open read-only");
				ss_db_close(db);
				return -1;
			}
			sqlite3_extended_result_codes(db->h, 1);
			if (check_readonly_schema(db, err) != 0) {
				ss_db_close(db);
				return -1;
			}
		}
	} else if (ss_db_exec(db,
			      "PRAGMA journal_mode = WAL;"
			      "PRAGMA synchronous = NORMAL;"
			      "PRAGMA foreign_keys = ON;"
			      "PRAGMA journal_size_limit = 67108864;",
			      err) != 0 ||
		   migrate(db, err) != 0) {
		if (err != NULL && strncmp(err->msg, "database: ", 10) == 0) {
			char m[SS_ERROR_MSG_MAX];
			snprintf(m, sizeof m, "%s", err->msg + 10);
			ss_error_set(err, err->code, "database %s: %s", path, m);
		}
		int code = sqlite3_errcode(db->h) & 0xff;
		*busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
		ss_db_close(db);
		return -1;
	}
	if (read_stamp(db, err) != 0) {
		ss_db_close(db);
		return -1;
	}
	if (!db->readonly)
		sqlite3_wal_hook(db->h, wal_hook, db);
	if (stat(path, &st) == 0) {
		db->dev = st.st_dev;
		db->ino = st.st_ino;
		db->have_id = true;
	}
	*out = db;
	return 0;
}

int ss_db_open(const char *path, ss_db **out, ss_error *err)
{
	return ss_db_open_flags(path, 0, out, err);
}

int ss_db_open_flags(const char *path, unsigned flags, ss_db **out, ss_error *err)
{
	/* Switching a new file to WAL and the first migration can report SQLITE_BUSY without waiting when
	 * several processes start at once; retry those a few times with a growing pause. */
	for (int attempt = 0;; attempt++) {
		int busy;
		if (open_once(path, flags, out, err, &busy) == 0)
			return 0;
		if (!busy || attempt >= 20)
			return -1;
		struct timespec ts = {0, (long)(10 + 10 * attempt) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

ss_db_file_state ss_db_file_check(ss_db *db)
{
	struct stat st;
	if (stat(db->path, &st) != 0)
		return errno == ENOENT ? SS_DB_FILE_MISSING : SS_DB_FILE_SAME;
	if (db->have_id && (st.st_dev != db->dev || st.st_ino != db->ino))
		return SS_DB_FILE_REPLACED;
	return SS_DB_FILE_SAME;
}

/* fsync the directory holding path, so a new name in it survives a crash. */
static void sync_dir(const char *path)
{
	char *copy = strdup(path);
	if (copy == NULL)
		return;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int ss_db_restore(ss_db *db, ss_error *err)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.restore-%ld", db->path, (long)getpid()) >= sizeof tmp)
		return ss_error_set(err, SS_ERR_IO, "database path %s is too long", db->path);
	unlink(tmp);
	sqlite3 *dst = NULL;
	int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_backup *b = sqlite3_backup_init(dst, "main", db->h, "main");
		if (b == NULL) {
			rc = sqlite3_errcode(dst);
		} else {
			rc = sqlite3_backup_step(b, -1);
			int fin = sqlite3_backup_finish(b);
			rc = rc == SQLITE_DONE ? fin : rc;
		}
	}
	char msg[SS_ERROR_MSG_MAX];
	snprintf(msg, sizeof msg, "%s", dst != NULL ? sqlite3_errmsg(dst) : "out of memory");
	if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK)
		rc = SQLITE_ERROR;
	if (rc != SQLITE_OK) {
		unlink(tmp);
		return ss_error_set(err, SS_ERR_IO, "cannot copy database %s from the open connection: %s", db->path, msg);
	}
	int fd = open(tmp, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return ss_error_set(err, SS_ERR_IO, "cannot write the copy of database %s: %s", db->path, strerror(e));
	}
	close(fd);
	/* link() never replaces: when another process got its copy (or an operator's file) there first, ours
	 * is dropped. */
	int linked = link(tmp, db->path);
	int e = errno;
	unlink(tmp);
	if (linked != 0) {
		if (e == EEXIST)
			return 0;
		return ss_error_set(err, SS_ERR_IO, "cannot put the copy of database %s in place: %s", db->path,
				    strerror(e));
	}
	sync_dir(db->path);
	return 1;
}

ss_code ss_db_probe(ss_db *db, ss_error *err)
{
	switch (ss_db_file_check(db)) {
	case SS_DB_FILE_MISSING:
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The database %s was deleted.", db->path);
		return SS_ERR_UNAVAILABLE;
	case SS_DB_FILE_REPLACED:
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The database %s was replaced on disk.", db->path);
		return SS_ERR_UNAVAILABLE;
	case SS_DB_FILE_SAME:
		break;
	}
	/* The header as it is on disk (a page cache or the WAL could hide an overwritten one), read through
	 * SQLite's own file handle: opening and closing another descriptor of the file would drop the POSIX
	 * locks SQLite holds on it in this process. */
	unsigned char hdr[16];
	sqlite3_file *f = NULL;
	int rd = SQLITE_ERROR;
	if (sqlite3_file_control(db->h, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f != NULL &&
	    f->pMethods != NULL)
		rd = f->pMethods->xRead(f, hdr, (int)sizeof hdr, 0);
	if (rd != SQLITE_OK || memcmp(hdr, "SQLite format 3", 16) != 0) {
		db->reopen = true;
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The database %s does not start with an SQLite header.", db->path);
		return SS_ERR_UNAVAILABLE;
	}
	static const char SQL_PROBE[] = "SELECT count(*) FROM sqlite_master";
	sqlite3_stmt *st = ss_db_prepare(db, SQL_PROBE);
	int rc = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;
	if (st != NULL)
		sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		ss_code c = ss_db_fault(db);
		ss_error_set(err, c == SS_ERR_DB ? SS_ERR_UNAVAILABLE : c, "The database %s cannot be read: %s", db->path,
			     sqlite3_errmsg(db->h));
		return c == SS_ERR_DB ? SS_ERR_UNAVAILABLE : c;
	}
	/* What the file and its file system say now, not a remembered write failure (another responder may be the
	 * one whose write failed, and a remembered failure would not clear while /health keeps writes away):
	 * opened read-only, a read-only mount or file, less than SS_DB_FREE_MIN free. */
	struct statvfs v;
	bool have_vfs = statvfs(db->path, &v) == 0;
	if (db->readonly || (have_vfs && (v.f_flag & ST_RDONLY) != 0) || access(db->path, W_OK) != 0) {
		ss_error_set(err, SS_ERR_READ_ONLY, "The database %s is read-only.", db->path);
		return SS_ERR_READ_ONLY;
	}
	if (have_vfs && (unsigned long long)v.f_bavail * v.f_frsize < SS_DB_FREE_MIN) {
		ss_error_set(err, SS_ERR_STORAGE_FULL, "The file system of the database %s is full.", db->path);
		return SS_ERR_STORAGE_FULL;
	}
	return SS_OK;
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
	if (ss_db_file_check(db) != SS_DB_FILE_SAME)
		return 0; /* see wal_hook */
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
