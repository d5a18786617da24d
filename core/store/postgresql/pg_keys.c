/* API keys, usage rows and the statistics baseline on PostgreSQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/store/postgresql/pg_schema.h"
#include "core/store/postgresql/pg_store.h"
#include "core/util/buf.h"
#include "core/util/timefmt.h"

#define NOW SS_PG_NOW_UTC

static ss_pgconn *conn(ss_store *s)
{
	return ss_pgstore_of(s)->c;
}

#define KEY_COLS                                                                                          \
	"id, encode(key_hash, 'hex'), prefix, name, email, scope, active, daily_limit, rate_limit, "         \
	SS_PG_TIME("created_at") ", " SS_PG_TIME("last_used")

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void copy_text(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s != NULL ? s : "");
}

static void read_key(const PGresult *r, int i, ss_key_record *k)
{
	memset(k, 0, sizeof *k);
	k->id = ss_pg_int(r, i, 0);
	const char *hex = ss_pg_str(r, i, 1);
	if (hex != NULL && strlen(hex) == 2 * SS_APIKEY_HASH_LEN)
		for (int j = 0; j < SS_APIKEY_HASH_LEN; j++)
			k->hash[j] = (unsigned char)(hexval(hex[2 * j]) << 4 | hexval(hex[2 * j + 1]));
	copy_text(k->prefix, sizeof k->prefix, ss_pg_str(r, i, 2));
	copy_text(k->name, sizeof k->name, ss_pg_str(r, i, 3));
	copy_text(k->email, sizeof k->email, ss_pg_str(r, i, 4));
	const char *scope = ss_pg_str(r, i, 5);
	k->scope = scope != NULL && strcmp(scope, "admin") == 0 ? SS_KEY_ADMIN : SS_KEY_CLIENT;
	k->active = ss_pg_bool(r, i, 6);
	k->daily_limit = ss_pg_int(r, i, 7);
	k->rate_limit = ss_pg_int(r, i, 8);
	copy_text(k->created_at, sizeof k->created_at, ss_pg_str(r, i, 9));
	copy_text(k->last_used, sizeof k->last_used, ss_pg_str(r, i, 10));
}

static const char SQL_KEY_INSERT[] =
	"INSERT INTO api_keys (key_hash, prefix, name, email, scope, active, daily_limit, rate_limit, created_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9::timestamp, " NOW "))"
	" ON CONFLICT (key_hash) DO NOTHING RETURNING id";
static const char SQL_KEY_ID_BY_HASH[] = "SELECT id FROM api_keys WHERE key_hash = $1";

int ss_pg_key_insert(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
		     const ss_key_import *k, int64_t *id, ss_error *err)
{
	char t[20];
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_bytes(&p, hash, SS_APIKEY_HASH_LEN);
	ss_pgparams_text(&p, prefix);
	ss_pgparams_text(&p, k->name);
	ss_pgparams_text(&p, k->email != NULL && k->email[0] != '\0' ? k->email : NULL);
	ss_pgparams_text(&p, ss_key_scope_name(k->scope));
	ss_pgparams_bool(&p, k->active);
	ss_pgparams_int(&p, k->daily_limit);
	ss_pgparams_int(&p, k->rate_limit);
	ss_pgparams_text(&p, ss_pg_time_text(k->created_at, t));
	PGresult *r = ss_pgconn_run(conn(s), SQL_KEY_INSERT, &p, "storing a key", err);
	if (r == NULL)
		return -1;
	int inserted = PQntuples(r) > 0;
	int64_t got = inserted ? ss_pg_int(r, 0, 0) : 0;
	PQclear(r);
	if (!inserted) {
		ss_pgparams_init(&p);
		ss_pgparams_bytes(&p, hash, SS_APIKEY_HASH_LEN);
		r = ss_pgconn_run(conn(s), SQL_KEY_ID_BY_HASH, &p, "looking up a key", err);
		if (r == NULL)
			return -1;
		got = PQntuples(r) > 0 ? ss_pg_int(r, 0, 0) : 0;
		PQclear(r);
	}
	if (id != NULL)
		*id = got;
	return inserted;
}

/* The first row of the key query sql into *rec: 1, 0 when none, -1 with err. */
static int one_key(ss_store *s, const char *sql, const ss_pgparams *p, ss_key_record *rec, ss_error *err)
{
	PGresult *r = ss_pgconn_run(conn(s), sql, p, "reading an API key", err);
	if (r == NULL)
		return -1;
	int n = PQntuples(r) > 0;
	if (n)
		read_key(r, 0, rec);
	PQclear(r);
	return n;
}

static const char SQL_KEY_BY_HASH[] = "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = $1";

int ss_pg_key_find_by_hash(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec,
			   ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_bytes(&p, hash, SS_APIKEY_HASH_LEN);
	ss_key_record k;
	int n = one_key(s, SQL_KEY_BY_HASH, &p, &k, err);
	if (n != 1)
		return n;
	if (!ss_apikey_hash_equal(k.hash, hash)) /* the index found it; compare in constant time all the same */
		return 0;
	*rec = k;
	return 1;
}

static const char SQL_KEY_BY_NAME[] = "SELECT " KEY_COLS " FROM api_keys WHERE name = $1 ORDER BY id LIMIT 2";

int ss_pg_key_find_by_name(ss_store *s, const char *name, ss_key_record *rec, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, name);
	PGresult *r = ss_pgconn_run(conn(s), SQL_KEY_BY_NAME, &p, "looking up a key by name", err);
	if (r == NULL)
		return -1;
	int n = PQntuples(r);
	if (n > 0)
		read_key(r, 0, rec);
	PQclear(r);
	return n;
}

static const char SQL_KEY_BY_ID[] = "SELECT " KEY_COLS " FROM api_keys WHERE id = $1";

int ss_pg_key_get(ss_store *s, int64_t id, ss_key_record *rec, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, id);
	return one_key(s, SQL_KEY_BY_ID, &p, rec, err);
}

static const char SQL_KEY_LIST[] = "SELECT " KEY_COLS " FROM api_keys ORDER BY id";

typedef struct key_list_ctx {
	int (*fn)(void *arg, const ss_key_record *rec);
	void *arg;
} key_list_ctx;

static int key_row(void *arg, const PGresult *r, int i)
{
	key_list_ctx *x = arg;
	ss_key_record k;
	read_key(r, i, &k);
	return x->fn(x->arg, &k);
}

int ss_pg_key_list(ss_store *s, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err)
{
	key_list_ctx x = {fn, arg};
	long long n = ss_pgconn_stream(conn(s), SQL_KEY_LIST, NULL, key_row, &x, "listing API keys", err);
	return n < 0 ? (int)n : 0;
}

static const char SQL_KEY_ACTIVE[] = "UPDATE api_keys SET active = $2::boolean WHERE id = $1";
static const char SQL_KEY_DAILY[] = "UPDATE api_keys SET daily_limit = $2 WHERE id = $1";
static const char SQL_KEY_RATE[] = "UPDATE api_keys SET rate_limit = $2 WHERE id = $1";
static const char SQL_KEY_SCOPE[] = "UPDATE api_keys SET scope = $2 WHERE id = $1";

int ss_pg_key_set(ss_store *s, int64_t id, ss_key_field field, int64_t value, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, id);
	const char *sql;
	switch (field) {
	case SS_KEY_FIELD_ACTIVE:
		sql = SQL_KEY_ACTIVE;
		ss_pgparams_bool(&p, value != 0);
		break;
	case SS_KEY_FIELD_DAILY_LIMIT:
		sql = SQL_KEY_DAILY;
		ss_pgparams_int(&p, value);
		break;
	case SS_KEY_FIELD_RATE_LIMIT:
		sql = SQL_KEY_RATE;
		ss_pgparams_int(&p, value);
		break;
	case SS_KEY_FIELD_SCOPE:
		sql = SQL_KEY_SCOPE;
		ss_pgparams_text(&p, ss_key_scope_name((ss_key_scope)value));
		break;
	default:
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "unknown key field");
	}
	long long n = ss_pgconn_run_count(conn(s), sql, &p, "changing an API key", err);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

static const char SQL_KEY_SECRET[] = "UPDATE api_keys SET key_hash = $2, prefix = $3 WHERE id = $1";

int ss_pg_key_set_secret(ss_store *s, int64_t id, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
			 ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, id);
	ss_pgparams_bytes(&p, hash, SS_APIKEY_HASH_LEN);
	ss_pgparams_text(&p, prefix);
	long long n = ss_pgconn_run_count(conn(s), SQL_KEY_SECRET, &p, "rotating an API key", err);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

static const char SQL_KEY_DELETE[] = "DELETE FROM api_keys WHERE id = $1";

int ss_pg_key_delete(ss_store *s, int64_t id, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, id);
	long long n = ss_pgconn_run_count(conn(s), SQL_KEY_DELETE, &p, "deleting an API key", err);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/* A batch of usage rows in one statement (one round trip, atomic): the rows as arrays, inserted in order for
 * keys that still exist, each key's last_used moved to its newest row, and the journal mark, all or nothing. */
static const char SQL_USAGE_WRITE[] =
	"WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::timestamp[])"
	" WITH ORDINALITY AS r(k, e, s, t, n)),"
	" ins AS (INSERT INTO api_usage (api_key_id, endpoint, status, timestamp)"
	" SELECT r.k, r.e, r.s, r.t FROM r WHERE EXISTS (SELECT 1 FROM api_keys a WHERE a.id = r.k) ORDER BY r.n"
	" RETURNING 1),"
	" lu AS (UPDATE api_keys a SET last_used = m.t FROM (SELECT k, max(t) AS t FROM r GROUP BY k) m"
	" WHERE a.id = m.k AND (a.last_used IS NULL OR a.last_used < m.t) RETURNING 1),"
	" mk AS (INSERT INTO usage_journal (journal_id, last_seq) SELECT $5::bigint, $6::bigint WHERE $5::bigint <> 0"
	" ON CONFLICT (journal_id) DO UPDATE SET last_seq = greatest(usage_journal.last_seq, excluded.last_seq),"
	" updated_at = " NOW " RETURNING 1)"
	" SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM lu), (SELECT count(*) FROM mk)";

/* Append s as an element of a PostgreSQL array literal (double-quoted, '"' and '\' escaped). */
static int array_text(ss_buf *b, const char *s)
{
	if (ss_buf_append(b, "\"", 1) != 0)
		return -1;
	for (; *s; s++)
		if (((*s == '"' || *s == '\\') && ss_buf_append(b, "\\", 1) != 0) || ss_buf_append(b, s, 1) != 0)
			return -1;
	return ss_buf_append(b, "\"", 1);
}

int ss_pg_usage_write(ss_store *s, const ss_usage_row *rows, size_t n, int64_t journal_id, int64_t last_seq,
		      ss_error *err)
{
	if (n == 0 && journal_id == 0)
		return 0;
	ss_buf a[4];
	for (int i = 0; i < 4; i++) {
		ss_buf_init(&a[i], 0);
		ss_buf_puts(&a[i], "{");
	}
	int bad = 0;
	char ts[SS_TIME_STR_LEN];
	for (size_t i = 0; i < n && !bad; i++) {
		const char *sep = i ? "," : "";
		ss_time_format_utc((time_t)rows[i].time_s, ts);
		bad |= ss_buf_printf(&a[0], "%s%lld", sep, (long long)rows[i].key_id);
		bad |= ss_buf_puts(&a[1], sep) || array_text(&a[1], rows[i].endpoint);
		bad |= ss_buf_printf(&a[2], "%s%d", sep, rows[i].status);
		bad |= ss_buf_printf(&a[3], "%s\"%s\"", sep, ts);
	}
	for (int i = 0; i < 4; i++)
		bad |= ss_buf_puts(&a[i], "}");
	int rc = -1;
	if (bad) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory writing API usage");
	} else {
		ss_pgparams p;
		ss_pgparams_init(&p);
		for (int i = 0; i < 4; i++)
			ss_pgparams_text(&p, a[i].data);
		ss_pgparams_int(&p, journal_id);
		ss_pgparams_int(&p, last_seq);
		PGresult *r = ss_pgconn_run(conn(s), SQL_USAGE_WRITE, &p, "writing API usage", err);
		if (r != NULL) {
			PQclear(r);
			rc = 0;
		}
	}
	for (int i = 0; i < 4; i++)
		ss_buf_free(&a[i]);
	return rc;
}

typedef struct usage_rows_ctx {
	int (*fn)(void *arg, const ss_usage_row *row);
	void *arg;
} usage_rows_ctx;

static int usage_row(void *arg, const PGresult *r, int i)
{
	usage_rows_ctx *x = arg;
	ss_usage_row u;
	memset(&u, 0, sizeof u);
	u.key_id = ss_pg_int(r, i, 0);
	copy_text(u.endpoint, sizeof u.endpoint, ss_pg_str(r, i, 1));
	u.status = (int)ss_pg_int(r, i, 2);
	u.time_s = ss_pg_int(r, i, 3);
	return x->fn(x->arg, &u);
}

static const char SQL_USAGE_ROWS[] = "SELECT api_key_id, endpoint, status, extract(epoch FROM timestamp)::bigint"
				     " FROM api_usage WHERE timestamp >= $1::timestamp ORDER BY id";

long long ss_pg_usage_rows(ss_store *s, int64_t from_s, int (*fn)(void *arg, const ss_usage_row *row), void *arg,
			   ss_error *err)
{
	char from[SS_TIME_STR_LEN];
	ss_time_format_utc((time_t)from_s, from);
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, from);
	usage_rows_ctx x = {fn, arg};
	return ss_pgconn_stream(conn(s), SQL_USAGE_ROWS, &p, usage_row, &x, "reading API usage", err);
}

static const char SQL_MARK_GET[] = "SELECT last_seq FROM usage_journal WHERE journal_id = $1";

int ss_pg_usage_journal_mark(ss_store *s, int64_t journal_id, int64_t *seq, ss_error *err)
{
	*seq = 0;
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, journal_id);
	PGresult *r = ss_pgconn_run(conn(s), SQL_MARK_GET, &p, "reading the usage journal mark", err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) > 0)
		*seq = ss_pg_int(r, 0, 0);
	PQclear(r);
	return 0;
}

static const char SQL_MARK_PRUNE[] =
	"DELETE FROM usage_journal WHERE updated_at < " NOW " - make_interval(days => $1::integer)";

int ss_pg_usage_journal_prune(ss_store *s, int days, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, days < 1 ? 1 : days);
	return ss_pgconn_run_count(conn(s), SQL_MARK_PRUNE, &p, "pruning usage journal marks", err) < 0 ? -1 : 0;
}

static void day_bounds(int64_t day, char from[SS_TIME_STR_LEN], char to[SS_TIME_STR_LEN])
{
	ss_time_format_utc((time_t)(day * 86400), from);
	ss_time_format_utc((time_t)((day + 1) * 86400), to);
}

static const char SQL_DAY_COUNTS[] =
	"SELECT api_key_id, count(*) FROM api_usage WHERE timestamp >= $1::timestamp AND timestamp < $2::timestamp"
	" AND status <> 429 GROUP BY api_key_id ORDER BY api_key_id";

int ss_pg_usage_day_counts(ss_store *s, int64_t day, int (*fn)(void *arg, int64_t key_id, int64_t count), void *arg,
			   ss_error *err)
{
	char from[SS_TIME_STR_LEN], to[SS_TIME_STR_LEN];
	day_bounds(day, from, to);
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, from);
	ss_pgparams_text(&p, to);
	PGresult *r = ss_pgconn_run(conn(s), SQL_DAY_COUNTS, &p, "counting today's usage", err);
	if (r == NULL)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		if (fn(arg, ss_pg_int(r, i, 0), ss_pg_int(r, i, 1)) != 0)
			rc = -2;
	PQclear(r);
	return rc;
}

static const char SQL_KEY_STATS[] =
	"SELECT count(*), count(*) FILTER (WHERE status < 400),"
	" count(*) FILTER (WHERE timestamp >= $2::timestamp AND timestamp < $3::timestamp)"
	" FROM api_usage WHERE api_key_id = $1";

int ss_pg_usage_key_stats(ss_store *s, int64_t key_id, int64_t day, ss_usage_stats *out, ss_error *err)
{
	char from[SS_TIME_STR_LEN], to[SS_TIME_STR_LEN];
	day_bounds(day, from, to);
	memset(out, 0, sizeof *out);
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, key_id);
	ss_pgparams_text(&p, from);
	ss_pgparams_text(&p, to);
	PGresult *r = ss_pgconn_run(conn(s), SQL_KEY_STATS, &p, "reading usage statistics", err);
	if (r == NULL)
		return -1;
	out->total = ss_pg_int(r, 0, 0);
	out->successful = ss_pg_int(r, 0, 1);
	out->requests_today = ss_pg_int(r, 0, 2);
	PQclear(r);
	return 0;
}

static const char SQL_RECENT[] = "SELECT endpoint, status, " SS_PG_TIME("timestamp")
				 " FROM api_usage WHERE api_key_id = $1 ORDER BY id DESC LIMIT $2";

int ss_pg_usage_recent(ss_store *s, int64_t key_id, int limit,
		       int (*fn)(void *arg, const char *endpoint, int status, const char *timestamp), void *arg,
		       ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, key_id);
	ss_pgparams_int(&p, limit);
	PGresult *r = ss_pgconn_run(conn(s), SQL_RECENT, &p, "reading recent usage", err);
	if (r == NULL)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		const char *e = ss_pg_str(r, i, 0), *t = ss_pg_str(r, i, 2);
		if (fn(arg, e != NULL ? e : "", (int)ss_pg_int(r, i, 1), t != NULL ? t : "") != 0)
			rc = -2;
	}
	PQclear(r);
	return rc;
}

static const char SQL_SUMMARY[] =
	"SELECT k.id, k.name, k.prefix, count(*), count(*) FILTER (WHERE u.status < 400)"
	" FROM api_usage u JOIN api_keys k ON k.id = u.api_key_id WHERE u.timestamp >= $1::timestamp"
	" GROUP BY k.id ORDER BY k.id";

int ss_pg_usage_summary(ss_store *s, int days,
			int (*fn)(void *arg, int64_t key_id, const char *name, const char *prefix, int64_t total,
				  int64_t successful),
			void *arg, ss_error *err)
{
	if (days < 1)
		days = 1;
	int64_t today = (int64_t)(time(NULL) / 86400);
	char from[SS_TIME_STR_LEN];
	ss_time_format_utc((time_t)((today - days + 1) * 86400), from);
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, from);
	PGresult *r = ss_pgconn_run(conn(s), SQL_SUMMARY, &p, "summarising usage", err);
	if (r == NULL)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		const char *name = ss_pg_str(r, i, 1), *prefix = ss_pg_str(r, i, 2);
		if (fn(arg, ss_pg_int(r, i, 0), name != NULL ? name : "", prefix != NULL ? prefix : "", ss_pg_int(r, i, 3),
		       ss_pg_int(r, i, 4)) != 0)
			rc = -2;
	}
	PQclear(r);
	return rc;
}

static const char SQL_BASELINE[] = "SELECT total_analyses, cache_hits, cache_misses, requests_served, "
				   SS_PG_TIME("last_updated") " FROM server_stats WHERE id = 1";

int ss_pg_stats_baseline(ss_store *s, ss_stats_baseline *out, ss_error *err)
{
	memset(out, 0, sizeof *out);
	PGresult *r = ss_pgconn_run(conn(s), SQL_BASELINE, NULL, "reading the statistics", err);
	if (r == NULL)
		return -1;
	int n = PQntuples(r) > 0;
	if (n) {
		out->analyses = ss_pg_int(r, 0, 0);
		out->hits = ss_pg_int(r, 0, 1);
		out->misses = ss_pg_int(r, 0, 2);
		out->requests = ss_pg_int(r, 0, 3);
		copy_text(out->last_updated, sizeof out->last_updated, ss_pg_str(r, 0, 4));
	}
	PQclear(r);
	return n;
}

static const char SQL_LEGACY_GET[] =
	"SELECT total_analyses, cache_hits, cache_misses FROM legacy_imports WHERE signature = $1 FOR UPDATE";
static const char SQL_LEGACY_PUT[] =
	"INSERT INTO legacy_imports (signature, total_analyses, cache_hits, cache_misses) VALUES ($1, $2, $3, $4)"
	" ON CONFLICT (signature) DO UPDATE SET total_analyses = excluded.total_analyses,"
	" cache_hits = excluded.cache_hits, cache_misses = excluded.cache_misses, imported_at = " NOW;
static const char SQL_LEGACY_ADD[] =
	"UPDATE server_stats SET total_analyses = total_analyses + $1, cache_hits = cache_hits + $2,"
	" cache_misses = cache_misses + $3, requests_served = requests_served + $2 + $3 WHERE id = 1";

int ss_pg_legacy_stats_add(ss_store *s, const char *signature, const int64_t now[3], int64_t added[3], ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, signature);
	PGresult *r = ss_pgconn_run(conn(s), SQL_LEGACY_GET, &p, "reading the import record", err);
	if (r == NULL)
		return -1;
	bool seen = PQntuples(r) > 0;
	int64_t before[3] = {0, 0, 0};
	for (int i = 0; i < 3 && seen; i++)
		before[i] = ss_pg_int(r, 0, i);
	PQclear(r);
	bool any = false;
	for (int i = 0; i < 3; i++) {
		added[i] = now[i] > before[i] ? now[i] - before[i] : 0;
		any = any || added[i] > 0 || now[i] != before[i];
	}
	if (!any && seen)
		return 0;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, signature);
	for (int i = 0; i < 3; i++)
		ss_pgparams_int(&p, now[i]);
	if (ss_pgconn_run_count(conn(s), SQL_LEGACY_PUT, &p, "recording the import", err) < 0)
		return -1;
	ss_pgparams_init(&p);
	for (int i = 0; i < 3; i++)
		ss_pgparams_int(&p, added[i]);
	if (ss_pgconn_run_count(conn(s), SQL_LEGACY_ADD, &p, "adding the statistics", err) < 0)
		return -1;
	return 1;
}
