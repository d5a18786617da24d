/* The SQLite backend's handle: one connection per process to the file at the configured path, opened lazily,
 * checked once per request (the file may be deleted, replaced or overwritten under a running service) and
 * reopened or restored when it must be; and the ops table that core/store/store.c dispatches through. */
#include "core/store/sqlite/sqlite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/sqlite/schema.h"
#include "core/util/timefmt.h"

#define CHECKPOINT_WAL_BYTES (16LL * 1024 * 1024) /* ss_store_maintain checkpoints a WAL beyond this */

static int create(const ss_store_params *p, ss_store **out, ss_error *err)
{
	if (p->path == NULL || p->path[0] == '\0')
		return ss_error_set(err, SS_ERR_CONFIG, "store = sqlite needs a database file ('database').");
	ss_sqlite *q = calloc(1, sizeof *q);
	char *path = strdup(p->path);
	if (q == NULL || path == NULL) {
		free(q);
		free(path);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	}
	q->base.ops = &ss_store_sqlite_ops;
	q->path = path;
	q->flags = p->flags;
	q->busy_timeout_ms = p->busy_timeout_ms > 0 ? p->busy_timeout_ms : SS_DB_BUSY_TIMEOUT_MS;
	q->notice = p->notice;
	q->notice_arg = p->notice_arg;
	*out = &q->base;
	return 0;
}

void ss_sqlite_notice(ss_sqlite *q, ss_store_level level, const char *fmt, ...)
{
	if (q->notice == NULL)
		return;
	char msg[SS_ERROR_MSG_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	q->notice(q->notice_arg, level, msg);
}

static void close_db(ss_sqlite *q)
{
	if (q->db != NULL && (q->flags & SS_STORE_KEEP_SIDE_FILES)) {
		int one = 1;
		sqlite3_file_control(ss_db_handle(q->db), "main", SQLITE_FCNTL_PERSIST_WAL, &one);
	}
	ss_db_close(q->db);
	q->db = NULL;
}

static void destroy(ss_store *s)
{
	ss_sqlite *q = ss_sqlite_of(s);
	close_db(q);
	free(q->path);
	free(q);
}

ss_db *ss_sqlite_db(ss_store *s)
{
	if (s == NULL || s->ops != &ss_store_sqlite_ops)
		return NULL;
	return ss_sqlite_of(s)->db;
}

/* The open connection no longer matches the file at the path, or failed in a way that needs a new one.
 * Returns 0 after closing it (the caller reopens), -1 when it must stay open (the file is gone and could
 * not be restored: the connection holds the only copy, so it is kept and requests are refused). */
static int drop_connection(ss_sqlite *q, ss_db_file_state f)
{
	const char *path = q->path;
	ss_error err;
	ss_error_clear(&err);
	if (f == SS_DB_FILE_MISSING) {
		/* A failed restore is retried at most once a second. */
		double now = ss_time_mono();
		if (now < q->restore_retry_at)
			return -1;
		q->restore_retry_at = now + 1.0;
		ss_sqlite_notice(q, SS_STORE_ERROR,
				 "database %s was deleted while in use; restoring it from this responder's open connection",
				 path);
		int r = ss_db_restore(q->db, &err);
		if (r < 0) {
			ss_sqlite_notice(q, SS_STORE_ERROR,
					 "database %s could not be restored (requests are refused until it is): %s", path,
					 err.msg);
			snprintf(q->error, sizeof q->error, "The database %.200s was deleted and could not be restored.",
				 path);
			return -1;
		}
		if (r > 0)
			ss_sqlite_notice(q, SS_STORE_WARN, "database %s restored from the open connection; reopening it", path);
		else
			ss_sqlite_notice(q, SS_STORE_WARN, "database %s was put back by another process; reopening it", path);
	} else if (f == SS_DB_FILE_REPLACED) {
		ss_sqlite_notice(q, SS_STORE_WARN, "database %s was replaced on disk; reopening it", path);
	} else {
		ss_sqlite_notice(q, SS_STORE_ERROR, "database %s failed (%s); reopening it", path, ss_db_errmsg(q->db));
	}
	close_db(q);
	q->retry_at = 0;
	snprintf(q->error, sizeof q->error, "The database %.200s is being reopened.", path);
	return 0;
}

/* The file at the path when an open last failed: a change to it (restored, repaired, replaced) is worth a
 * new attempt at once rather than after the once-a-second pause. */
static void note_failed_file(ss_sqlite *q)
{
	q->failed_on.valid = true;
	q->failed_on.exists = stat(q->path, &q->failed_on.st) == 0;
}

static bool file_changed_since_failure(ss_sqlite *q)
{
	if (!q->failed_on.valid)
		return false;
	struct stat st;
	bool exists = stat(q->path, &st) == 0;
	if (exists != q->failed_on.exists)
		return true;
	if (!exists)
		return false;
	const struct stat *o = &q->failed_on.st;
	return st.st_dev != o->st_dev || st.st_ino != o->st_ino || st.st_size != o->st_size ||
	       st.st_mtim.tv_sec != o->st_mtim.tv_sec || st.st_mtim.tv_nsec != o->st_mtim.tv_nsec ||
	       st.st_ctim.tv_sec != o->st_ctim.tv_sec || st.st_ctim.tv_nsec != o->st_ctim.tv_nsec;
}

static int unusable(ss_sqlite *q, ss_error *err)
{
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "%s", q->error[0] ? q->error : "The database is unavailable.");
}

static int ready(ss_store *s, ss_error *err)
{
	ss_sqlite *q = ss_sqlite_of(s);
	/* The on-disk checks (a header read and a stat) run once per request: handlers, auth and the usage
	 * flush may each ask within one request, and the file does not change identity between their calls
	 * often enough to pay for the system calls again. A connection that reported an error is still dropped
	 * at once. */
	if (q->db != NULL && q->checked && !ss_db_needs_reopen(q->db))
		return 0;
	if (q->db != NULL && q->txn > 0) /* never reopen under an open transaction: its work would be lost */
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The database %.200s failed during a transaction.", q->path);
	if (q->db != NULL && ss_db_overwritten(q->db)) {
		/* Not reopened: the -wal and -shm next to it belong to the old content and would be replayed into
		 * the new one. Unavailable (503, /health says so) until the service is restarted properly. */
		if (strstr(q->error, "overwritten while in use") == NULL) {
			snprintf(q->error, sizeof q->error,
				 "database %.120s was overwritten while in use (a copy written over the live file?); stop the "
				 "service, remove its -wal and -shm, then start it",
				 q->path);
			ss_sqlite_notice(q, SS_STORE_ERROR, "%s", q->error);
		}
		return unusable(q, err);
	}
	if (q->db != NULL) {
		ss_db_file_state f = ss_db_file_check(q->db);
		if (f == SS_DB_FILE_SAME && !ss_db_needs_reopen(q->db)) {
			q->checked = true;
			return 0;
		}
		if (drop_connection(q, f) != 0)
			return unusable(q, err);
	}
	double now = ss_time_mono();
	if (now < q->retry_at && !file_changed_since_failure(q))
		return unusable(q, err);
	q->retry_at = now + 1.0;
	ss_error e;
	ss_error_clear(&e);
	unsigned flags = (q->seen || (q->flags & SS_STORE_NO_CREATE)) ? SS_DB_NO_CREATE : 0;
	if (ss_db_open_flags(q->path, flags, &q->db, &e) != 0) {
		note_failed_file(q);
		if (q->error[0] == '\0' || strstr(q->error, "being reopened") != NULL)
			ss_sqlite_notice(q, SS_STORE_ERROR, "%s", e.msg);
		snprintf(q->error, sizeof q->error, "%s", e.msg);
		q->db = NULL;
		return ss_error_set(err, e.code, "%s", e.msg);
	}
	q->seen = true;
	q->checked = true;
	q->failed_on.valid = false;
	ss_db_set_busy_timeout(q->db, q->busy_timeout_ms);
	if (ss_db_is_readonly(q->db))
		ss_sqlite_notice(q, SS_STORE_WARN,
				 "database %s is open read-only (file, directory or file system not writable): reads are "
				 "served, writes answer 503 read_only",
				 q->path);
	if (q->error[0] != '\0')
		ss_sqlite_notice(q, SS_STORE_INFO, "database %s is usable again", q->path);
	q->error[0] = '\0';
	return 0;
}

static void recheck(ss_store *s)
{
	ss_sqlite_of(s)->checked = false;
}

static bool connected(const ss_store *s)
{
	return ((const ss_sqlite *)s)->db != NULL;
}

static const char *error(const ss_store *s)
{
	return ((const ss_sqlite *)s)->error;
}

static const char *describe(const ss_store *s)
{
	return ((const ss_sqlite *)s)->path;
}

static ss_code health(ss_store *s, ss_error *err)
{
	ss_sqlite *q = ss_sqlite_of(s);
	if (ready(s, err) != 0)
		return SS_ERR_UNAVAILABLE;
	ss_code c = ss_db_probe(q->db, err);
	if (c != SS_OK && ss_db_needs_reopen(q->db))
		ready(s, NULL); /* start the reopen now rather than on the next request */
	return c;
}

static bool needs_restart(const ss_store *s)
{
	const ss_sqlite *q = (const ss_sqlite *)s;
	return q->db != NULL && ss_db_overwritten(q->db);
}

static bool readonly(const ss_store *s)
{
	const ss_sqlite *q = (const ss_sqlite *)s;
	return q->db != NULL && ss_db_is_readonly(q->db);
}

static int schema_version(ss_store *s)
{
	ss_sqlite *q = ss_sqlite_of(s);
	return q->db != NULL ? ss_db_schema_version(q->db) : 0;
}

static int schema_latest(const ss_store *s)
{
	(void)s;
	return ss_schema_latest();
}

static int check(ss_store *s, bool full, ss_error *err)
{
	return ss_db_check(ss_sqlite_of(s)->db, full ? 1 : 0, err);
}

static int maintain(ss_store *s, ss_error *err)
{
	if (ss_db_checkpoint(ss_sqlite_of(s)->db, CHECKPOINT_WAL_BYTES) != 0)
		return ss_error_set(err, SS_ERR_DB, "database: checkpoint failed");
	return 0;
}

static int bulk_begin(ss_store *s, ss_error *err)
{
	ss_sqlite *q = ss_sqlite_of(s);
	if (ss_db_begin(q->db, err) != 0)
		return -1;
	/* Rows land all over the unique indexes: a larger page cache (this connection only) keeps a large import
	 * from re-reading index pages. */
	sqlite3_exec(ss_db_handle(q->db), "PRAGMA cache_size = -65536", NULL, NULL, NULL);
	q->txn++;
	return 0;
}

static int bulk_commit(ss_store *s, ss_error *err)
{
	ss_sqlite *q = ss_sqlite_of(s);
	if (q->txn > 0)
		q->txn--;
	return ss_db_commit(q->db, err);
}

static void bulk_rollback(ss_store *s)
{
	ss_sqlite *q = ss_sqlite_of(s);
	if (q->txn > 0)
		q->txn--;
	if (q->db != NULL)
		ss_db_rollback(q->db);
}

static int read_begin(ss_store *s, ss_error *err)
{
	ss_sqlite *q = ss_sqlite_of(s);
	if (ss_db_exec(q->db, "BEGIN", err) != 0)
		return -1;
	q->txn++;
	return 0;
}

static void read_end(ss_store *s)
{
	bulk_rollback(s); /* nothing to keep */
}

const ss_store_ops ss_store_sqlite_ops = {
	.name = "sqlite",
	.create = create,
	.destroy = destroy,
	.ready = ready,
	.recheck = recheck,
	.connected = connected,
	.error = error,
	.describe = describe,
	.health = health,
	.needs_restart = needs_restart,
	.readonly = readonly,
	.schema_version = schema_version,
	.schema_latest = schema_latest,
	.check = check,
	.maintain = maintain,
	.bulk_begin = bulk_begin,
	.bulk_commit = bulk_commit,
	.bulk_rollback = bulk_rollback,
	.read_begin = read_begin,
	.read_end = read_end,
	.cache_put = ss_sqlite_cache_put,
	.cache_import = ss_sqlite_cache_import,
	.cache_get = ss_sqlite_cache_get,
	.cache_list = ss_sqlite_cache_list,
	.cache_search = ss_sqlite_cache_search,
	.cache_export = ss_sqlite_cache_export,
	.cache_delete = ss_sqlite_cache_delete,
	.cache_clear = ss_sqlite_cache_clear,
	.cache_count = ss_sqlite_cache_count,
	.cache_has_source = ss_sqlite_cache_has_source,
	.cache_key_by_prefix = ss_sqlite_cache_key_by_prefix,
	.override_set = ss_sqlite_override_set,
	.override_import = ss_sqlite_override_import,
	.override_list = ss_sqlite_override_list,
	.key_insert = ss_sqlite_key_insert,
	.key_find_by_hash = ss_sqlite_key_find_by_hash,
	.key_find_by_name = ss_sqlite_key_find_by_name,
	.key_get = ss_sqlite_key_get,
	.key_list = ss_sqlite_key_list,
	.key_set = ss_sqlite_key_set,
	.key_set_secret = ss_sqlite_key_set_secret,
	.key_delete = ss_sqlite_key_delete,
	.usage_write = ss_sqlite_usage_write,
	.usage_rows = ss_sqlite_usage_rows,
	.usage_journal_mark = ss_sqlite_usage_journal_mark,
	.usage_journal_prune = ss_sqlite_usage_journal_prune,
	.usage_day_counts = ss_sqlite_usage_day_counts,
	.usage_key_stats = ss_sqlite_usage_key_stats,
	.usage_recent = ss_sqlite_usage_recent,
	.usage_summary = ss_sqlite_usage_summary,
	.stats_baseline = ss_sqlite_stats_baseline,
	.legacy_stats_add = ss_sqlite_legacy_stats_add,
};
