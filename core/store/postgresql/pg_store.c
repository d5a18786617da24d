/* The PostgreSQL store: connection life (connect, migrate, notice a dropped connection, reconnect), health,
 * transactions, and the ops table. */
#include "core/store/postgresql/pg_store.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/postgresql/pg_schema.h"

/* Report an event worth a log line through the caller's hook (the store never logs itself). */
static void notice(ss_pgstore *s, ss_store_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void notice(ss_pgstore *s, ss_store_level level, const char *fmt, ...)
{
	if (s->notice == NULL)
		return;
	char msg[SS_ERROR_MSG_MAX + 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	s->notice(s->notice_arg, level, msg);
}

static int pg_create(const ss_store_params *p, ss_store **out, ss_error *err)
{
	*out = NULL;
	if (p->conninfo == NULL || p->conninfo[0] == '\0')
		return ss_error_set(err, SS_ERR_CONFIG,
				    "'store = postgresql' needs 'postgresql': a libpq connection string naming the PostgreSQL server");
	ss_pgstore *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	s->base.ops = &ss_store_postgresql_ops;
	s->flags = p->flags;
	s->notice = p->notice;
	s->notice_arg = p->notice_arg;
	s->c = ss_pgconn_new(p->conninfo, p->busy_timeout_ms);
	if (s->c == NULL) {
		free(s);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	}
	/* conninfo syntax errors are configuration errors: report them now, not at every request */
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(p->conninfo, &perr);
	if (opts == NULL) {
		ss_error_set(err, SS_ERR_CONFIG, "'postgresql' is not a valid libpq connection string: %.160s",
			     perr != NULL ? perr : "out of memory");
		PQfreemem(perr);
		ss_pgconn_free(s->c);
		free(s);
		return -1;
	}
	PQconninfoFree(opts);
	snprintf(s->describe, sizeof s->describe, "postgresql %s", ss_pgconn_describe(s->c));
	*out = &s->base;
	return 0;
}

static void pg_destroy(ss_store *st)
{
	ss_pgstore *s = ss_pgstore_of(st);
	if (s == NULL)
		return;
	ss_pgconn_free(s->c);
	free(s);
}

/* A new connection: is the server writable, and is the schema current (migrating when it may)? 0 or -1. */
static int setup_connection(ss_pgstore *s, ss_error *err)
{
	static const char SQL_STATE[] =
		"SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'";
	PGresult *r = ss_pgconn_run(s->c, SQL_STATE, NULL, "reading the server state", err);
	if (r == NULL)
		return -1;
	s->is_readonly = ss_pg_bool(r, 0, 0);
	PQclear(r);
	int v = ss_pg_schema_version(s->c, err);
	if (v < 0)
		return -1;
	if (v == 0 && (s->flags & SS_STORE_NO_CREATE))
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "database %s holds no songscope tables", s->describe);
	if (v != ss_pg_schema_latest()) {
		if (s->is_readonly)
			return ss_error_set(err, SS_ERR_UNAVAILABLE,
					    "database %s is read-only and its schema (version %d) is not current (%d)",
					    s->describe, v, ss_pg_schema_latest());
		v = ss_pg_schema_migrate(s->c, err);
		if (v < 0)
			return -1;
	}
	s->schema = v;
	return 0;
}

static int pg_ready(ss_store *st, ss_error *err)
{
	ss_pgstore *s = ss_pgstore_of(st);
	if (s->checked && ss_pgconn_connected(s->c))
		return 0;
	if (ss_pgconn_connected(s->c) && !ss_pgconn_alive(s->c)) {
		/* The server closed the connection (restart, crash, an administrator): replace it now. */
		notice(s, SS_STORE_WARN, "database %s closed the connection; reconnecting", s->describe);
		ss_pgconn_disconnect(s->c);
		s->schema = 0;
	}
	/* A connection lost just now is replaced at once; after a failed attempt, at most once a second. */
	ss_error e;
	ss_error_clear(&e);
	int rc = ss_pgconn_connect(s->c, s->error[0] == '\0', &e);
	if (rc == 1 && setup_connection(s, &e) != 0) {
		ss_pgconn_disconnect(s->c); /* the next attempt starts from scratch */
		rc = -1;
	}
	if (rc < 0) {
		if (!s->lost_logged)
			notice(s, SS_STORE_ERROR, "%s", e.msg);
		s->lost_logged = true;
		s->schema = 0;
		snprintf(s->error, sizeof s->error, "%s", e.msg);
		if (e.code != SS_ERR_NOMEM)
			e.code = SS_ERR_UNAVAILABLE;
		if (err != NULL)
			*err = e;
		return -1;
	}
	if (s->lost_logged)
		notice(s, SS_STORE_INFO, "database %s is usable again", s->describe);
	if (s->is_readonly && (s->lost_logged || !s->seen))
		notice(s, SS_STORE_WARN, "database %s takes no writes: reads are served, writes answer 503 read_only",
		       s->describe);
	s->seen = true;
	s->lost_logged = false;
	s->error[0] = '\0';
	s->checked = true;
	return 0;
}

static void pg_recheck(ss_store *st)
{
	ss_pgstore_of(st)->checked = false;
}

static bool pg_connected(const ss_store *st)
{
	return ss_pgconn_connected(((const ss_pgstore *)st)->c);
}

static const char *pg_error(const ss_store *st)
{
	return ((const ss_pgstore *)st)->error;
}

static const char *pg_describe(const ss_store *st)
{
	return ((const ss_pgstore *)st)->describe;
}

static ss_code pg_health(ss_store *st, ss_error *err)
{
	ss_pgstore *s = ss_pgstore_of(st);
	s->checked = false; /* a fresh look, not what the request saw */
	if (pg_ready(st, err) != 0)
		return err != NULL ? err->code : SS_ERR_UNAVAILABLE;
	static const char SQL_PROBE[] =
		"SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on',"
		" (SELECT max(version) FROM schema_version)";
	PGresult *r = ss_pgconn_run(s->c, SQL_PROBE, NULL, "probing the database", err);
	if (r == NULL)
		return err != NULL ? err->code : SS_ERR_UNAVAILABLE;
	s->is_readonly = ss_pg_bool(r, 0, 0);
	PQclear(r);
	if (s->is_readonly) {
		ss_error_set(err, SS_ERR_READ_ONLY, "database %s takes no writes (a standby, or read-only)", s->describe);
		return SS_ERR_READ_ONLY;
	}
	return SS_OK;
}

static bool pg_needs_restart(const ss_store *st)
{
	(void)st;
	return false;
}

static bool pg_readonly(const ss_store *st)
{
	return ((const ss_pgstore *)st)->is_readonly;
}

static int pg_schema_version(ss_store *st)
{
	ss_pgstore *s = ss_pgstore_of(st);
	return ss_pgconn_connected(s->c) ? s->schema : 0;
}

static int pg_schema_latest(const ss_store *st)
{
	(void)st;
	return ss_pg_schema_latest();
}

/* The server guards its own pages (checksums, WAL); what songscope can check is its schema: the version, every
 * index valid (a failed CREATE INDEX CONCURRENTLY leaves an invalid one), and, in full, every row readable, no
 * key duplicated, usage rows and counters within their ranges (ss_store_check then checks each cached result). */
static int pg_check(ss_store *st, bool full, ss_error *err)
{
	ss_pgstore *s = ss_pgstore_of(st);
	if (pg_ready(st, err) != 0)
		return -1;
	static const char SQL_QUICK[] =
		"SELECT (SELECT max(version) FROM schema_version),"
		" (SELECT string_agg(c.relname, ', ') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
		" JOIN pg_class t ON t.oid = i.indrelid WHERE NOT (i.indisvalid AND i.indisready) AND t.relname IN"
		" ('analysis_cache','overrides','api_keys','api_usage','usage_journal','legacy_imports','server_stats'))";
	PGresult *r = ss_pgconn_run(s->c, SQL_QUICK, NULL, "checking the schema", err);
	if (r == NULL)
		return -1;
	int v = (int)ss_pg_int(r, 0, 0);
	const char *bad = ss_pg_str(r, 0, 1);
	int rc = 0;
	if (v != ss_pg_schema_latest())
		rc = ss_error_set(err, SS_ERR_DB, "schema version %d, expected %d", v, ss_pg_schema_latest());
	else if (bad != NULL)
		rc = ss_error_set(err, SS_ERR_DB, "invalid index: %.200s (rebuild it with REINDEX)", bad);
	PQclear(r);
	if (rc != 0 || !full)
		return rc;
	static const char SQL_FULL[] =
		"SELECT (SELECT count(*) - count(DISTINCT cache_key) FROM analysis_cache),"
		" (SELECT count(*) - count(DISTINCT key_hash) FROM api_keys),"
		" (SELECT count(*) FROM api_usage u WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = u.api_key_id)),"
		" (SELECT count(*) FROM analysis_cache WHERE result_json IS NULL OR result_json NOT LIKE '{%}'),"
		" (SELECT count(*) FROM api_usage WHERE status NOT BETWEEN 100 AND 599 OR endpoint = ''),"
		" (SELECT count(*) FROM api_usage WHERE timestamp > " SS_PG_NOW_UTC " + interval '1 day'),"
		" (SELECT count(*) FROM usage_journal WHERE last_seq < 0),"
		" (SELECT count(*) FROM server_stats WHERE least(total_analyses, cache_hits, cache_misses,"
		" requests_served) < 0)";
	r = ss_pgconn_run(s->c, SQL_FULL, NULL, "checking every row", err);
	if (r == NULL)
		return -1;
	static const char *const what[] = {"duplicate cache keys",
					   "duplicate key hashes",
					   "usage rows without a key",
					   "cache rows without a result object",
					   "usage rows without a valid status or endpoint",
					   "usage rows dated in the future",
					   "usage journals with a negative sequence",
					   "negative server counters"};
	for (int i = 0; i < (int)(sizeof what / sizeof what[0]) && rc == 0; i++)
		if (ss_pg_int(r, 0, i) != 0)
			rc = ss_error_set(err, SS_ERR_DB, "%lld %s", (long long)ss_pg_int(r, 0, i), what[i]);
	PQclear(r);
	return rc;
}

static int pg_maintain(ss_store *st, ss_error *err)
{
	(void)st;
	(void)err;
	return 0; /* autovacuum does the server's housekeeping */
}

static int pg_bulk_begin(ss_store *st, ss_error *err)
{
	ss_pgstore_of(st)->bulk_rows = 0;
	return ss_pgconn_begin(ss_pgstore_of(st)->c, "BEGIN", err);
}

/* After a bulk load (db copy, import-legacy) the planner's statistics describe the tables before it, and with them
 * a search may walk the whole cache instead of the trigram index until autovacuum gets round to it: refresh them
 * now, and set the visibility map so that deep /cache pages skip rows in the index alone (one pass over the
 * table, outside the transaction). */
#define BULK_ANALYZE_ROWS 1000

static int pg_bulk_commit(ss_store *st, ss_error *err)
{
	ss_pgstore *s = ss_pgstore_of(st);
	if (ss_pgconn_commit(s->c, err) != 0)
		return -1;
	if (s->bulk_rows >= BULK_ANALYZE_ROWS) {
		ss_error e;
		ss_error_clear(&e);
		if (ss_pgconn_exec(s->c, "VACUUM (ANALYZE) analysis_cache, overrides, api_keys", "refreshing statistics",
				   &e) != 0)
			notice(s, SS_STORE_WARN, "%s", e.msg); /* the rows are in; autovacuum will analyse later */
	}
	s->bulk_rows = 0;
	return 0;
}

static void pg_bulk_rollback(ss_store *st)
{
	ss_pgconn_rollback(ss_pgstore_of(st)->c);
}

static int pg_read_begin(ss_store *st, ss_error *err)
{
	return ss_pgconn_begin(ss_pgstore_of(st)->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
}

static void pg_read_end(ss_store *st)
{
	ss_pgconn_rollback(ss_pgstore_of(st)->c); /* nothing was written */
}

/* The advisory lock key of a cache key: its first 16 hex digits (a SHA-256 prefix) as a signed 64-bit number. */
static void claim_key(const char *cache_key, ss_pgparams *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 16 && cache_key[i] != '\0'; i++) {
		char ch = cache_key[i];
		int d = ch >= '0' && ch <= '9'   ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : (unsigned char)ch & 15;
		v = v << 4 | (uint64_t)d;
	}
	ss_pgparams_int(p, (int64_t)v);
}

int ss_pg_claim(ss_store *st, const char *cache_key, int wait_ms, ss_error *err)
{
	static const char SQL_TRY[] = "SELECT pg_try_advisory_lock($1::bigint)";
	static const char SQL_WAIT[] = "SELECT set_config('lock_timeout', $2, false), pg_advisory_lock($1::bigint)";
	static const char SQL_TIMEOUT[] = "SELECT set_config('lock_timeout', $1, false)";
	ss_pgstore *s = ss_pgstore_of(st);
	ss_pgparams p;
	ss_pgparams_init(&p);
	claim_key(cache_key, &p);
	PGresult *r = ss_pgconn_run(s->c, SQL_TRY, &p, "claiming an analysis", err);
	if (r == NULL)
		return -1;
	bool got = ss_pg_bool(r, 0, 0);
	PQclear(r);
	if (got)
		return 1;
	if (wait_ms <= 0)
		return ss_error_set(err, SS_ERR_BUSY, "an identical analysis is in progress");
	char ms[24];
	snprintf(ms, sizeof ms, "%d", wait_ms);
	ss_pgparams_text(&p, ms);
	r = ss_pgconn_run(s->c, SQL_WAIT, &p, "waiting for an identical analysis", err);
	int rc = r != NULL ? 2 : -1;
	PQclear(r);
	if (rc < 0 && err != NULL && err->code == SS_ERR_BUSY)
		snprintf(err->msg, sizeof err->msg, "an identical analysis is still in progress after %d ms", wait_ms);
	/* back to the store's own lock wait */
	ss_pgparams_init(&p);
	snprintf(ms, sizeof ms, "%d", ss_pgconn_lock_timeout(s->c));
	ss_pgparams_text(&p, ms);
	ss_error e2;
	r = ss_pgconn_run(s->c, SQL_TIMEOUT, &p, "restoring the lock timeout", &e2);
	PQclear(r);
	return rc;
}

void ss_pg_release(ss_store *st, const char *cache_key)
{
	static const char SQL_RELEASE[] = "SELECT pg_advisory_unlock($1::bigint)";
	ss_pgstore *s = ss_pgstore_of(st);
	if (!ss_pgconn_connected(s->c))
		return;
	ss_pgparams p;
	ss_pgparams_init(&p);
	claim_key(cache_key, &p);
	ss_error e;
	PGresult *r = ss_pgconn_run(s->c, SQL_RELEASE, &p, "releasing a claim", &e);
	PQclear(r);
}

const ss_store_ops ss_store_postgresql_ops = {
	.name = "postgresql",
	.create = pg_create,
	.destroy = pg_destroy,
	.ready = pg_ready,
	.recheck = pg_recheck,
	.connected = pg_connected,
	.error = pg_error,
	.describe = pg_describe,
	.health = pg_health,
	.needs_restart = pg_needs_restart,
	.readonly = pg_readonly,
	.schema_version = pg_schema_version,
	.schema_latest = pg_schema_latest,
	.check = pg_check,
	.maintain = pg_maintain,
	.bulk_begin = pg_bulk_begin,
	.bulk_commit = pg_bulk_commit,
	.bulk_rollback = pg_bulk_rollback,
	.read_begin = pg_read_begin,
	.read_end = pg_read_end,
	.cache_put = ss_pg_cache_put,
	.cache_import = ss_pg_cache_import,
	.cache_get = ss_pg_cache_get,
	.cache_list = ss_pg_cache_list,
	.cache_search = ss_pg_cache_search,
	.cache_export = ss_pg_cache_export,
	.cache_delete = ss_pg_cache_delete,
	.cache_clear = ss_pg_cache_clear,
	.cache_count = ss_pg_cache_count,
	.cache_has_source = ss_pg_cache_has_source,
	.cache_key_by_prefix = ss_pg_cache_key_by_prefix,
	.claim = ss_pg_claim,
	.release = ss_pg_release,
	.override_set = ss_pg_override_set,
	.override_import = ss_pg_override_import,
	.override_list = ss_pg_override_list,
	.key_insert = ss_pg_key_insert,
	.key_find_by_hash = ss_pg_key_find_by_hash,
	.key_find_by_name = ss_pg_key_find_by_name,
	.key_get = ss_pg_key_get,
	.key_list = ss_pg_key_list,
	.key_set = ss_pg_key_set,
	.key_set_secret = ss_pg_key_set_secret,
	.key_delete = ss_pg_key_delete,
	.usage_write = ss_pg_usage_write,
	.usage_rows = ss_pg_usage_rows,
	.usage_journal_mark = ss_pg_usage_journal_mark,
	.usage_journal_prune = ss_pg_usage_journal_prune,
	.usage_day_counts = ss_pg_usage_day_counts,
	.usage_key_stats = ss_pg_usage_key_stats,
	.usage_recent = ss_pg_usage_recent,
	.usage_summary = ss_pg_usage_summary,
	.stats_baseline = ss_pg_stats_baseline,
	.legacy_stats_add = ss_pg_legacy_stats_add,
};
