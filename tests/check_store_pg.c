/* The PostgreSQL store backend against a real PostgreSQL server started for this suite (tests/integration/
 * pg_server.h): migrations, cache upserts keeping ids and overrides, search semantics (ASCII case folding, '%'
 * and '_' literal), listing and export order, keys, usage batches and journal marks, statistics, the SQLSTATE
 * mapping, and a server stopped and started again under an open handle. Each test gets a database of its own. */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/store/backend.h"
#include "core/store/postgresql/pg_conn.h"
#include "core/store/postgresql/pg_schema.h"
#include "core/store/postgresql/pg_store.h"
#include "core/util/timefmt.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"
#include "tests/integration/pg_server.h"

static ss_pg_server pg;
static char conninfo[700];
static int test_seq;

/* A fresh database for each test (the suite runs each test in its own child). */
static void setup(void)
{
	char admin[600], sql[64];
	snprintf(admin, sizeof admin, "%s", pg.conninfo);
	PGconn *c = PQconnectdb(admin);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	snprintf(sql, sizeof sql, "CREATE DATABASE t%d_%ld", ++test_seq, (long)getpid());
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	snprintf(conninfo, sizeof conninfo, "host=%s port=5432 user=songscope dbname=t%d_%ld", pg.dir, test_seq,
		 (long)getpid());
}

static const ss_store_ops *ops = &ss_store_postgresql_ops;

static ss_store *open_store(void)
{
	ss_store_params p = {.backend = "postgresql", .conninfo = conninfo, .busy_timeout_ms = 2000};
	ss_store *s = NULL;
	ss_error err;
	ss_error_clear(&err);
	ck_assert_msg(ops->create(&p, &s, &err) == 0, "%s", err.msg);
	ck_assert_msg(ops->ready(s, &err) == 0, "%s", err.msg);
	return s;
}

/* Raw SQL on the test's database, for checks the interface does not offer. Returns the first value or "". */
static char *sql1(const char *sql)
{
	static char out[256];
	PGconn *c = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQerrorMessage(c));
	snprintf(out, sizeof out, "%s", PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	PQfinish(c);
	return out;
}

static ss_cache_write song(const char *key, const char *ns, const char *title, const char *artist, double bpm)
{
	ss_cache_write w = {
		.cache_key = key, .ns = ns, .source_kind = "url", .source = key, .preview_url = "http://x/p.m4a",
		.title = title, .artist = artist, .bpm = bpm, .bpm_confidence = 0.5, .key = "C Major",
		.key_confidence = NAN, .energy = 0.25, .danceability = 0.5, .acousticness = NAN, .spectral_centroid = 1000,
		.time_signature = "4/4", .mood = NULL, .valence = 0.125, .loudness = -9.5, .dynamic_range = 7,
		.silence_ratio = 0, .analysis_duration = 0.04, .result_json = "{\"bpm\":120.0}", .beats_json = NULL,
	};
	return w;
}

static void put(ss_store *s, const ss_cache_write *w, int64_t *id)
{
	ss_error err;
	ss_error_clear(&err);
	ck_assert_msg(ops->cache_put(s, w, id, &err) == 0, "%s", err.msg);
}

/* Rows collected by the callbacks. */
typedef struct rows {
	int n;
	int stop_after; /* 0 = never */
	char title[64][64];
	char key[64][16];
	char at[64][20];
	int64_t id[64];
	double bpm[64], key_conf[64], manual_bpm[64];
	bool verified[64];
	char beats[64][64];
	long long total;
} rows;

static int collect(void *arg, const ss_cache_row *r)
{
	rows *x = arg;
	if (x->n < 64) {
		snprintf(x->title[x->n], sizeof x->title[0], "%s", r->title);
		snprintf(x->key[x->n], sizeof x->key[0], "%s", r->key != NULL ? r->key : "(null)");
		snprintf(x->at[x->n], sizeof x->at[0], "%s", r->analyzed_at);
		snprintf(x->beats[x->n], sizeof x->beats[0], "%s", r->beats_json != NULL ? r->beats_json : "(null)");
		x->id[x->n] = r->id;
		x->bpm[x->n] = r->bpm;
		x->key_conf[x->n] = r->key_confidence;
		x->manual_bpm[x->n] = r->manual_bpm;
		x->verified[x->n] = r->user_verified;
	}
	x->n++;
	return x->stop_after > 0 && x->n >= x->stop_after;
}

static int total_cb(void *arg, long long n)
{
	((rows *)arg)->total = n;
	return 0;
}

START_TEST(test_migrate_once_and_idempotent)
{
	ss_store *a = open_store();
	ck_assert_int_eq(ops->schema_version(a), ss_pg_schema_latest());
	ck_assert_int_eq(ops->schema_latest(a), ss_pg_schema_latest());
	ss_store *b = open_store(); /* a second process finds the schema current */
	ck_assert_int_eq(ops->schema_version(b), ss_pg_schema_latest());
	char want[16];
	snprintf(want, sizeof want, "%d", ss_pg_schema_latest());
	ck_assert_str_eq(sql1("SELECT count(*) FROM schema_version"), want);
	ck_assert_str_eq(sql1("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"), "1");
	ss_error err;
	ss_error_clear(&err);
	ck_assert_msg(ops->check(a, false, &err) == 0, "%s", err.msg);
	ck_assert_msg(ops->check(a, true, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(ops->health(a, &err), SS_OK);
	ck_assert_ptr_nonnull(strstr(ops->describe(a), "dbname=t"));
	ck_assert_ptr_null(strstr(ops->describe(a), "password"));
	ops->destroy(a);
	ops->destroy(b);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
	ss_store *a = open_store();
	ops->destroy(a);
	sql1("INSERT INTO schema_version(version) VALUES (999)");
	ss_store_params p = {.backend = "postgresql", .conninfo = conninfo};
	ss_store *s = NULL;
	ss_error err;
	ss_error_clear(&err);
	ck_assert_int_eq(ops->create(&p, &s, &err), 0);
	ck_assert_int_eq(ops->ready(s, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ck_assert_msg(strstr(err.msg, "newer") != NULL, "%s", err.msg);
	ops->destroy(s);
}
END_TEST

START_TEST(test_bad_conninfo_is_config_error)
{
	ss_store_params p = {.backend = "postgresql", .conninfo = "host=/x dbname='unterminated"};
	ss_store *s = NULL;
	ss_error err;
	ss_error_clear(&err);
	ck_assert_int_eq(ops->create(&p, &s, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_CONFIG);
	ck_assert_ptr_null(s);
	p.conninfo = "";
	ck_assert_int_eq(ops->create(&p, &s, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_CONFIG);
}
END_TEST

START_TEST(test_put_get_upsert_keeps_id)
{
	ss_store *s = open_store();
	ss_cache_write w = song("k1", "default", "Song", "Artist", 120);
	w.beats_json = "{\"beats\":[0.5,1.0],\"downbeats\":[0.5]}";
	int64_t id1 = 0, id2 = 0;
	put(s, &w, &id1);
	ck_assert_int_gt(id1, 0);
	rows x = {0};
	ss_error err;
	ss_error_clear(&err);
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1);
	ck_assert_str_eq(x.title[0], "Song");
	ck_assert_str_eq(x.key[0], "C Major");
	ck_assert(x.bpm[0] == 120);
	ck_assert(isnan(x.key_conf[0])); /* NaN stored as NULL, read back as NaN */
	ck_assert_str_eq(x.beats[0], "(null)"); /* not asked for */
	ck_assert_int_eq((int)strlen(x.at[0]), 19);
	ck_assert(x.at[0][4] == '-' && x.at[0][10] == ' ' && x.at[0][13] == ':');
	/* analyzed_at is UTC now */
	char now[20];
	time_t t = time(NULL);
	strftime(now, sizeof now, "%Y-%m-%d", gmtime(&t));
	ck_assert(strncmp(x.at[0], now, 10) == 0);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_get(s, "k1", SS_CACHE_ROW_BEATS, collect, &x, &err), 1);
	ck_assert_str_eq(x.beats[0], "{\"beats\":[0.5,1.0],\"downbeats\":[0.5]}");

	/* re-analysis: same id, new values */
	w.bpm = 90;
	w.key = NULL;
	put(s, &w, &id2);
	ck_assert_int_eq(id1, id2);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1);
	ck_assert(x.bpm[0] == 90);
	ck_assert_str_eq(x.key[0], "(null)");
	ck_assert_int_eq(ops->cache_count(s, NULL, &err), 1);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_get(s, "nope", 0, collect, &x, &err), 0);
	ck_assert_int_eq(x.n, 0);
	/* a callback that stops */
	x.stop_after = 1;
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), -2);
	ops->destroy(s);
}
END_TEST

START_TEST(test_import_keeps_existing_and_time)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	ss_cache_write w = song("k1", "default", "Old", "A", 100);
	w.analyzed_at = "2020-05-06T07:08:09.123Z";
	ck_assert_int_eq(ops->bulk_begin(s, &err), 0);
	ck_assert_int_eq(ops->cache_import(s, &w, &err), 1);
	w.title = "New";
	ck_assert_int_eq(ops->cache_import(s, &w, &err), 0);
	ss_cache_write w2 = song("k2", "default", "Bad time", "A", 100);
	w2.analyzed_at = "yesterday";
	ck_assert_int_eq(ops->cache_import(s, &w2, &err), 1);
	ck_assert_int_eq(ops->bulk_commit(s, &err), 0);
	rows x = {0};
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1);
	ck_assert_str_eq(x.title[0], "Old");
	ck_assert_str_eq(x.at[0], "2020-05-06 07:08:09");
	ck_assert_int_eq(ops->cache_count(s, NULL, &err), 2);
	/* a rolled back bulk leaves nothing */
	ss_cache_write w3 = song("k3", "default", "Gone", "A", 100);
	ck_assert_int_eq(ops->bulk_begin(s, &err), 0);
	ck_assert_int_eq(ops->cache_import(s, &w3, &err), 1);
	ops->bulk_rollback(s);
	ck_assert_int_eq(ops->cache_count(s, NULL, &err), 2);
	ops->destroy(s);
}
END_TEST

START_TEST(test_list_order_namespace_offset)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	char key[16], title[16];
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof key, "k%d", i);
		snprintf(title, sizeof title, "T%d", i);
		ss_cache_write w = song(key, i % 2 ? "odd" : "even", title, "A", 100 + i);
		put(s, &w, NULL);
	}
	rows x = {0};
	ck_assert_int_eq(ops->cache_list(s, NULL, 10, 0, collect, &x, &err), 5);
	/* same second: newest first by id */
	ck_assert_str_eq(x.title[0], "T4");
	ck_assert_str_eq(x.title[4], "T0");
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_list(s, "odd", 10, 0, collect, &x, &err), 2);
	ck_assert_str_eq(x.title[0], "T3");
	ck_assert_str_eq(x.title[1], "T1");
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_list(s, NULL, 2, 3, collect, &x, &err), 2);
	ck_assert_str_eq(x.title[0], "T1");
	ck_assert_int_eq(ops->cache_count(s, "even", &err), 3);
	ck_assert_int_eq(ops->cache_has_source(s, "even", "k0", &err), 1);
	ck_assert_int_eq(ops->cache_has_source(s, "odd", "k0", &err), 0);
	long long del = 0;
	ck_assert_int_eq(ops->cache_clear(s, "odd", &del, &err), 0);
	ck_assert_int_eq(del, 2);
	ck_assert_int_eq(ops->cache_count(s, NULL, &err), 3);
	ops->destroy(s);
}
END_TEST

/* The row whose cache key starts with a hex prefix (the track ids of /v1/audio-features): the smallest such key. */
START_TEST(test_key_by_prefix)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	static const char *const keys[] = {"0abc", "0abd", "0abf1", "0ac0", "f"};
	for (int i = 0; i < 5; i++) {
		ss_cache_write w = song(keys[i], "default", "T", "A", 100);
		put(s, &w, NULL);
	}
	char key[SS_SHA256_HEX];
	ck_assert_int_eq(ops->cache_key_by_prefix(s, "0ab", key, &err), 1);
	ck_assert_str_eq(key, "0abc");
	ck_assert_int_eq(ops->cache_key_by_prefix(s, "0abf", key, &err), 1);
	ck_assert_str_eq(key, "0abf1");
	ck_assert_int_eq(ops->cache_key_by_prefix(s, "0ac", key, &err), 1);
	ck_assert_str_eq(key, "0ac0");
	ck_assert_int_eq(ops->cache_key_by_prefix(s, "0ae", key, &err), 0);
	ck_assert_str_eq(key, "");
	ck_assert_int_eq(ops->cache_key_by_prefix(s, "f", key, &err), 1);
	ck_assert_str_eq(key, "f");
	ops->destroy(s);
}
END_TEST

START_TEST(test_delete_by_id)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	int64_t id = 0;
	ss_cache_write w = song("k1", "default", "T", "A", 100);
	put(s, &w, &id);
	ck_assert_int_eq(ops->cache_delete(s, id, &err), 1);
	ck_assert_int_eq(ops->cache_delete(s, id, &err), 0);
	ck_assert_int_eq(ops->cache_count(s, NULL, &err), 0);
	ops->destroy(s);
}
END_TEST

START_TEST(test_search_semantics)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	static const char *const titles[][2] = {
		{"Hello World", "Band"}, {"100% Pure", "Band"}, {"snake_case", "Dev"}, {"100 Pure", "Band"},
		{"Back\\slash", "X"}, {"CAFÉ Élan", "Y"}, {"café élan", "Y"}, {"Other", "Hello Kitty"},
	};
	char key[16];
	for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++) {
		snprintf(key, sizeof key, "k%zu", i);
		ss_cache_write w = song(key, i == 7 ? "other" : "default", titles[i][0], titles[i][1], 100);
		put(s, &w, NULL);
	}
	struct {
		const char *q, *ns;
		int n;
		const char *first;
	} cases[] = {
		{"hello", NULL, 2, "Other"},       /* title or artist, case-insensitive, newest first */
		{"HELLO", "default", 1, "Hello World"},
		{"0% p", NULL, 1, "100% Pure"},    /* % literal */
		{"e_c", NULL, 1, "snake_case"},    /* _ literal */
		{"k\\s", NULL, 1, "Back\\slash"},  /* \ literal */
		{"Café", NULL, 1, "café élan"},    /* ASCII letters fold, é does not */
		{"cafÉ", NULL, 1, "CAFÉ Élan"},
		{"zzzz", NULL, 0, NULL},           /* nothing */
		{"ll", NULL, 2, "Other"},          /* short: newest rows */
		{"", "default", 7, "café élan"},  /* empty: every (newest) row of ns */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		rows x = {0};
		int n = ops->cache_search(s, cases[i].ns, cases[i].q, 50, collect, &x, &err);
		ck_assert_msg(n == cases[i].n, "q '%s': %d rows, want %d (%s)", cases[i].q, n, cases[i].n, err.msg);
		if (cases[i].first != NULL)
			ck_assert_msg(strcmp(x.title[0], cases[i].first) == 0, "q '%s': first %s", cases[i].q, x.title[0]);
	}
	rows x = {0};
	ck_assert_int_eq(ops->cache_search(s, NULL, "pure", 1, collect, &x, &err), 1); /* limit */
	ops->destroy(s);
}
END_TEST

START_TEST(test_search_uses_trigram_index)
{
	ss_store *s = open_store();
	ops->destroy(s);
	/* The planner picks the index for a rare pattern once the table is large (and a newest-first scan for a
	 * common one); at this size it would read the table, so ask whether the index can serve the query at all:
	 * the columns' collation and the operator must match the index's. */
	sql1("INSERT INTO analysis_cache (cache_key, source_kind, source, preview_url, title, artist, result_json)"
	     " SELECT 'k' || g, 'url', 'u' || g, 'p', 'title ' || md5(g::text), 'artist ' || g, '{}'"
	     " FROM generate_series(1, 2000) g; ANALYZE analysis_cache");
	PGconn *c = PQconnectdb(conninfo);
	ck_assert(PQstatus(c) == CONNECTION_OK);
	PGresult *r = PQexec(c, "SET enable_seqscan = off; SET enable_indexscan = off");
	PQclear(r);
	r = PQexec(c, "EXPLAIN SELECT id FROM analysis_cache c WHERE (c.title ILIKE '%qqzzxx%' ESCAPE '\\'"
				" OR c.artist ILIKE '%qqzzxx%' ESCAPE '\\') ORDER BY analyzed_at DESC, id DESC LIMIT 20");
	ck_assert(PQresultStatus(r) == PGRES_TUPLES_OK);
	bool uses = false;
	for (int i = 0; i < PQntuples(r); i++)
		uses = uses || strstr(PQgetvalue(r, i, 0), "idx_cache_trgm") != NULL;
	PQclear(r);
	PQfinish(c);
	ck_assert_msg(uses, "the search does not use the trigram index");
	s = open_store();
	rows x = {0};
	ss_error err;
	ss_error_clear(&err);
	ck_assert_int_eq(ops->cache_search(s, NULL, "qqzzxx", 20, collect, &x, &err), 0);
	ck_assert_int_eq(ops->cache_search(s, NULL, "ARTIST 199", 20, collect, &x, &err), 11); /* 199, 1990..1999 */
	ops->destroy(s);
}
END_TEST

START_TEST(test_export_order_total_and_stop)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	static const char *const rowsin[][2] = {{"b", "zed"}, {"A", "alpha"}, {"a", "Beta"}, {"c", "Alpha"}};
	char key[16];
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ss_cache_write w = song(key, "default", rowsin[i][0], rowsin[i][1], 100);
		put(s, &w, NULL);
	}
	rows x = {0};
	ck_assert_int_eq(ops->cache_export(s, NULL, 0, total_cb, collect, &x, &err), 4);
	ck_assert_int_eq(x.total, 4);
	/* artist then title, ASCII case-insensitive, then id */
	ck_assert_str_eq(x.title[0], "A");
	ck_assert_str_eq(x.title[1], "c");
	ck_assert_str_eq(x.title[2], "a");
	ck_assert_str_eq(x.title[3], "b");
	memset(&x, 0, sizeof x);
	x.stop_after = 2;
	ck_assert_int_eq(ops->cache_export(s, "default", 0, total_cb, collect, &x, &err), -2);
	ck_assert_int_eq(x.n, 2);
	/* the handle is usable after a stopped export */
	ck_assert_int_eq(ops->cache_count(s, NULL, &err), 4);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_export(s, "none", 0, total_cb, collect, &x, &err), 0);
	ck_assert_int_eq(x.total, 0);
	ops->destroy(s);
}
END_TEST

START_TEST(test_export_streams_many_rows)
{
	ss_store *s = open_store();
	ops->destroy(s);
	sql1("INSERT INTO analysis_cache (cache_key, source_kind, source, preview_url, title, artist, result_json)"
	     " SELECT 'k' || g, 'url', 'u' || g, 'p', 't', 'a', '{}' FROM generate_series(1, 1234) g");
	s = open_store();
	rows x = {0};
	ss_error err;
	ss_error_clear(&err);
	ck_assert_int_eq(ops->cache_export(s, NULL, SS_CACHE_ROW_BEATS, total_cb, collect, &x, &err), 1234);
	ck_assert_int_eq(x.n, 1234);
	ck_assert_int_eq(x.total, 1234);
	ops->destroy(s);
}
END_TEST

static int count_override(void *arg, const ss_override_row *o)
{
	(void)o;
	(*(int *)arg)++;
	return 0;
}

START_TEST(test_overrides)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	ss_override_update u = {.set_bpm = true, .bpm = 128, .set_notes = true, .notes = "double time"};
	ck_assert_int_eq(ops->override_set(s, "default", "k1", &u, &err), 0); /* not cached: nothing */
	ck_assert_str_eq(sql1("SELECT count(*) FROM overrides"), "0");
	ss_cache_write w = song("k1", "default", "T", "A", 64);
	put(s, &w, NULL);
	ck_assert_int_eq(ops->override_set(s, "default", "k1", &u, &err), 1);
	ss_override_update k = {.set_key = true, .key = "A Minor"};
	ck_assert_int_eq(ops->override_set(s, "default", "k1", &k, &err), 1); /* bpm and notes stay */
	rows x = {0};
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1);
	ck_assert(x.verified[0]);
	ck_assert(x.manual_bpm[0] == 128);
	ck_assert_str_eq(sql1("SELECT manual_key || '|' || bpm_notes FROM overrides"), "A Minor|double time");
	/* re-analysis keeps the override */
	put(s, &w, NULL);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1);
	ck_assert(x.verified[0] && x.manual_bpm[0] == 128);
	/* clearing with NaN */
	ss_override_update c = {.set_bpm = true, .bpm = NAN};
	ck_assert_int_eq(ops->override_set(s, "default", "k1", &c, &err), 1);
	ck_assert_str_eq(sql1("SELECT coalesce(manual_bpm::text, 'null') FROM overrides"), "null");
	/* import: kept when present, time kept */
	ck_assert_int_eq(ops->bulk_begin(s, &err), 0);
	ck_assert_int_eq(ops->override_import(s, "default", "k1", 1, NULL, NULL, NULL, &err), 0);
	ck_assert_int_eq(ops->override_import(s, "ns2", "gone", 99, "B Major", NULL, "2021-01-02 03:04:05", &err), 1);
	ck_assert_int_eq(ops->bulk_commit(s, &err), 0);
	ck_assert_str_eq(sql1("SELECT verified_at FROM overrides WHERE source = 'gone'"), "2021-01-02 03:04:05");
	int n = 0;
	ck_assert_int_eq(ops->override_list(s, count_override, &n, &err), 2);
	ck_assert_int_eq(n, 2);
	ops->destroy(s);
}
END_TEST

static int count_keys(void *arg, const ss_key_record *k)
{
	(void)k;
	(*(int *)arg)++;
	return 0;
}

START_TEST(test_keys)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	unsigned char h1[SS_APIKEY_HASH_LEN], h2[SS_APIKEY_HASH_LEN];
	memset(h1, 0xab, sizeof h1);
	memset(h2, 0x01, sizeof h2);
	ss_key_import k = {.name = "app", .email = "", .scope = SS_KEY_ADMIN, .active = true, .daily_limit = 50,
			   .rate_limit = 10, .created_at = "2022-02-03 04:05:06"};
	int64_t id1 = 0, id2 = 0, again = 0;
	ck_assert_int_eq(ops->key_insert(s, h1, "abcd", &k, &id1, &err), 1);
	ck_assert_int_eq(ops->key_insert(s, h1, "abcd", &k, &again, &err), 0);
	ck_assert_int_eq(again, id1);
	k.scope = SS_KEY_CLIENT;
	k.created_at = NULL;
	k.email = "me@example.org";
	ck_assert_int_eq(ops->key_insert(s, h2, "0101", &k, &id2, &err), 1);
	ss_key_record r;
	ck_assert_int_eq(ops->key_find_by_hash(s, h1, &r, &err), 1);
	ck_assert_int_eq(r.id, id1);
	ck_assert(memcmp(r.hash, h1, sizeof h1) == 0);
	ck_assert_str_eq(r.prefix, "abcd");
	ck_assert_str_eq(r.email, "");
	ck_assert_int_eq(r.scope, SS_KEY_ADMIN);
	ck_assert(r.active);
	ck_assert_int_eq(r.daily_limit, 50);
	ck_assert_str_eq(r.created_at, "2022-02-03 04:05:06");
	ck_assert_str_eq(r.last_used, "");
	ck_assert_int_eq(ops->key_find_by_name(s, "app", &r, &err), 2);
	ck_assert_int_eq(r.id, id1); /* the oldest */
	ck_assert_int_eq(ops->key_find_by_name(s, "none", &r, &err), 0);
	ck_assert_int_eq(ops->key_set(s, id2, SS_KEY_FIELD_ACTIVE, 0, &err), 1);
	ck_assert_int_eq(ops->key_set(s, id2, SS_KEY_FIELD_DAILY_LIMIT, 7, &err), 1);
	ck_assert_int_eq(ops->key_set(s, id2, SS_KEY_FIELD_RATE_LIMIT, 9, &err), 1);
	ck_assert_int_eq(ops->key_set(s, id2, SS_KEY_FIELD_SCOPE, SS_KEY_ADMIN, &err), 1);
	ck_assert_int_eq(ops->key_set(s, 999, SS_KEY_FIELD_ACTIVE, 0, &err), 0);
	ck_assert_int_eq(ops->key_get(s, id2, &r, &err), 1);
	ck_assert(!r.active);
	ck_assert_int_eq(r.daily_limit, 7);
	ck_assert_int_eq(r.rate_limit, 9);
	ck_assert_int_eq(r.scope, SS_KEY_ADMIN);
	ck_assert_str_eq(r.email, "me@example.org");
	unsigned char h3[SS_APIKEY_HASH_LEN];
	memset(h3, 0x33, sizeof h3);
	ck_assert_int_eq(ops->key_set_secret(s, id2, h3, "3333", &err), 1);
	ck_assert_int_eq(ops->key_find_by_hash(s, h2, &r, &err), 0);
	ck_assert_int_eq(ops->key_find_by_hash(s, h3, &r, &err), 1);
	ck_assert_str_eq(r.prefix, "3333");
	int n = 0;
	ck_assert_int_eq(ops->key_list(s, count_keys, &n, &err), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(ops->key_delete(s, id2, &err), 1);
	ck_assert_int_eq(ops->key_delete(s, id2, &err), 0);
	ck_assert_int_eq(ops->key_get(s, id2, &r, &err), 0);
	ops->destroy(s);
}
END_TEST

typedef struct counts {
	int n;
	int64_t key[8], count[8];
} counts;

static int day_cb(void *arg, int64_t key, int64_t count)
{
	counts *c = arg;
	c->key[c->n] = key;
	c->count[c->n] = count;
	c->n++;
	return 0;
}

static int recent_cb(void *arg, const char *endpoint, int status, const char *ts)
{
	char *out = arg;
	size_t used = strlen(out);
	snprintf(out + used, 256 - used, "%s%s:%d@%.10s", used ? "," : "", endpoint, status, ts);
	return 0;
}

static int usage_cb(void *arg, const ss_usage_row *r)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

START_TEST(test_usage)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	unsigned char h[SS_APIKEY_HASH_LEN];
	memset(h, 7, sizeof h);
	ss_key_import k = {.name = "u", .scope = SS_KEY_CLIENT, .active = true};
	int64_t id = 0;
	ck_assert_int_eq(ops->key_insert(s, h, "0707", &k, &id, &err), 1);
	int64_t now = (int64_t)time(NULL), today = now / 86400;
	ss_usage_row rows_in[4] = {
		{id, "analyze", 200, now - 5}, {id, "cache \"q\\", 429, now - 4}, {id + 100, "analyze", 200, now - 3},
		{id, "stats", 500, now - 2},
	};
	ck_assert_msg(ops->usage_write(s, rows_in, 4, 42, 10, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(sql1("SELECT count(*) FROM api_usage"), "3"); /* the unknown key's row is skipped */
	int64_t seq = 0;
	ck_assert_int_eq(ops->usage_journal_mark(s, 42, &seq, &err), 0);
	ck_assert_int_eq(seq, 10);
	ck_assert_int_eq(ops->usage_write(s, NULL, 0, 42, 5, &err), 0); /* a mark never goes back */
	ck_assert_int_eq(ops->usage_journal_mark(s, 42, &seq, &err), 0);
	ck_assert_int_eq(seq, 10);
	ck_assert_int_eq(ops->usage_journal_mark(s, 43, &seq, &err), 0);
	ck_assert_int_eq(seq, 0);
	counts c = {0};
	ck_assert_int_eq(ops->usage_day_counts(s, today, day_cb, &c, &err), 0);
	if ((now - 5) / 86400 == today) { /* not across midnight */
		ck_assert_int_eq(c.n, 1);
		ck_assert_int_eq(c.count[0], 2); /* the 429 is not counted */
	}
	ss_usage_stats st;
	ck_assert_int_eq(ops->usage_key_stats(s, id, today, &st, &err), 0);
	ck_assert_int_eq(st.total, 3);
	ck_assert_int_eq(st.successful, 1);
	char recent[256] = "";
	ck_assert_int_eq(ops->usage_recent(s, id, 2, recent_cb, recent, &err), 0);
	ck_assert_msg(strncmp(recent, "stats:500@", 10) == 0 && strstr(recent, ",cache \"q\\:429@") != NULL, "%s", recent);
	ss_key_record r;
	ck_assert_int_eq(ops->key_get(s, id, &r, &err), 1);
	char want[SS_TIME_STR_LEN];
	time_t t = (time_t)(now - 2);
	strftime(want, sizeof want, "%Y-%m-%d %H:%M:%S", gmtime(&t));
	ck_assert_str_eq(r.last_used, want);
	int n = 0;
	ck_assert_int_eq(ops->usage_rows(s, now - 60, usage_cb, &n, &err), 3);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(ops->usage_journal_prune(s, 1, &err), 0);
	ck_assert_int_eq(ops->usage_journal_mark(s, 42, &seq, &err), 0);
	ck_assert_int_eq(seq, 10); /* fresh marks stay */
	/* deleting the key deletes its rows */
	ck_assert_int_eq(ops->key_delete(s, id, &err), 1);
	ck_assert_str_eq(sql1("SELECT count(*) FROM api_usage"), "0");
	ops->destroy(s);
}
END_TEST

START_TEST(test_stats_baseline_and_legacy)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	ss_stats_baseline b;
	ck_assert_int_eq(ops->stats_baseline(s, &b, &err), 1);
	ck_assert_int_eq(b.analyses, 0);
	int64_t now1[3] = {10, 20, 10}, now2[3] = {12, 25, 3}, added[3];
	ck_assert_int_eq(ops->bulk_begin(s, &err), 0);
	ck_assert_int_eq(ops->legacy_stats_add(s, "sig", now1, added, &err), 1);
	ck_assert_int_eq(ops->legacy_stats_add(s, "sig", now1, added, &err), 0);
	ck_assert_int_eq(ops->legacy_stats_add(s, "sig", now2, added, &err), 1);
	ck_assert_int_eq(ops->bulk_commit(s, &err), 0);
	ck_assert_int_eq(added[0], 2);
	ck_assert_int_eq(added[1], 5);
	ck_assert_int_eq(added[2], 0);
	ck_assert_int_eq(ops->stats_baseline(s, &b, &err), 1);
	ck_assert_int_eq(b.analyses, 12);
	ck_assert_int_eq(b.hits, 25);
	ck_assert_int_eq(b.misses, 10);
	ck_assert_int_eq(b.requests, 35);
	ops->destroy(s);
}
END_TEST

START_TEST(test_sqlstate_codes)
{
	ck_assert_int_eq(ss_pgconn_code(NULL), SS_ERR_UNAVAILABLE);
	ck_assert_int_eq(ss_pgconn_code("08006"), SS_ERR_UNAVAILABLE);
	ck_assert_int_eq(ss_pgconn_code("57P01"), SS_ERR_UNAVAILABLE);
	ck_assert_int_eq(ss_pgconn_code("40001"), SS_ERR_BUSY);
	ck_assert_int_eq(ss_pgconn_code("40P01"), SS_ERR_BUSY);
	ck_assert_int_eq(ss_pgconn_code("55P03"), SS_ERR_BUSY);
	ck_assert_int_eq(ss_pgconn_code("57014"), SS_ERR_BUSY);
	ck_assert_int_eq(ss_pgconn_code("53100"), SS_ERR_STORAGE_FULL);
	ck_assert_int_eq(ss_pgconn_code("25006"), SS_ERR_READ_ONLY);
	ck_assert_int_eq(ss_pgconn_code("23505"), SS_ERR_DB);
	char t[20];
	ck_assert_str_eq(ss_pg_time_text("2024-01-02 03:04:05", t), "2024-01-02 03:04:05");
	ck_assert_str_eq(ss_pg_time_text("2024-01-02T03:04", t), "2024-01-02 03:04:00");
	ck_assert_str_eq(ss_pg_time_text("2024-01-02 03:04:05.999Z", t), "2024-01-02 03:04:05");
	ck_assert_ptr_null(ss_pg_time_text("2024-13-02 03:04:05", t));
	ck_assert_ptr_null(ss_pg_time_text("2023-02-29 00:00:00", t)); /* not a leap year */
	ck_assert_str_eq(ss_pg_time_text("2024-02-29 00:00:00", t), "2024-02-29 00:00:00");
	ck_assert_ptr_null(ss_pg_time_text("2024-04-31 00:00:00", t));
	ck_assert_ptr_null(ss_pg_time_text("2024-01-02", t));
	ck_assert_ptr_null(ss_pg_time_text("now", t));
	ck_assert_ptr_null(ss_pg_time_text(NULL, t));
}
END_TEST

/* A row lock held by another connection beyond the lock timeout is SS_ERR_BUSY, and a read-only database
 * SS_ERR_READ_ONLY, through the real server's errors. */
START_TEST(test_busy_and_read_only_codes)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	ss_cache_write w = song("k1", "default", "T", "A", 100);
	put(s, &w, NULL);
	PGconn *c = PQconnectdb(conninfo);
	ck_assert(PQstatus(c) == CONNECTION_OK);
	PGresult *r = PQexec(c, "BEGIN; SELECT * FROM analysis_cache FOR UPDATE");
	ck_assert(PQresultStatus(r) == PGRES_TUPLES_OK);
	PQclear(r);
	ck_assert_int_eq(ops->cache_put(s, &w, NULL, &err), -1); /* waits busy_timeout_ms (2 s), then gives up */
	ck_assert_int_eq(err.code, SS_ERR_BUSY);
	r = PQexec(c, "ROLLBACK");
	PQclear(r);
	PQfinish(c);
	ck_assert_msg(ops->cache_put(s, &w, NULL, &err) == 0, "%s", err.msg);
	ops->destroy(s);
	/* a database that takes no writes */
	char alter[160];
	snprintf(alter, sizeof alter, "ALTER DATABASE %s SET default_transaction_read_only = on",
		 strstr(conninfo, "dbname=") + 7);
	sql1(alter);
	s = open_store();
	ck_assert(ops->readonly(s));
	ck_assert_int_eq(ops->cache_put(s, &w, NULL, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_READ_ONLY);
	ck_assert_int_eq(ops->health(s, &err), SS_ERR_READ_ONLY);
	rows x = {0};
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1); /* reads are served */
	ops->destroy(s);
}
END_TEST

/* The server stopped under an open handle: every call fails with SS_ERR_UNAVAILABLE at once (no crash, no hang);
 * started again, the handle reconnects by itself and its statements are prepared again. */
START_TEST(test_server_restart_reconnects)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	ss_cache_write w = song("k1", "default", "T", "A", 100);
	put(s, &w, NULL);
	rows x = {0};
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1);
	ck_assert_int_eq(ss_pg_server_stop(&pg), 0);
	ops->recheck(s);
	ck_assert_int_eq(ops->ready(s, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ck_assert_str_ne(ops->error(s), "");
	ck_assert_int_eq(ops->health(s, &err), SS_ERR_UNAVAILABLE);
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ck_assert_int_eq(ss_pg_server_restart(&pg), 0);
	/* a failed connect is retried at most once a second: poll (bounded) until the handle is back */
	int rc = -1;
	for (int i = 0; i < 500 && rc != 0; i++) {
		ops->recheck(s);
		rc = ops->ready(s, &err);
		if (rc != 0) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	ck_assert_msg(rc == 0, "%s", err.msg);
	ck_assert_str_eq(ops->error(s), "");
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1);
	ck_assert_int_eq(ops->health(s, &err), SS_OK);
	/* the server restarted while the connection was idle: the next request notices and reconnects at once */
	ck_assert_int_eq(ss_pg_server_stop(&pg), 0);
	ck_assert_int_eq(ss_pg_server_restart(&pg), 0);
	ops->recheck(s);
	ck_assert_msg(ops->ready(s, &err) == 0, "%s", err.msg);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(ops->cache_get(s, "k1", 0, collect, &x, &err), 1);
	ops->destroy(s);
}
END_TEST

/* Identical misses on two processes (or hosts): one claims, the other waits and is told when the claim is still
 * held; a claim goes with its connection. */
START_TEST(test_claim)
{
	ss_store *a = open_store(), *b = open_store();
	ss_error err;
	ss_error_clear(&err);
	const char *k = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	const char *other = "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	ck_assert_int_eq(ss_pg_claim(a, k, 0, &err), 1);
	ck_assert_int_eq(ss_pg_claim(b, other, 0, &err), 1); /* another song is not held up */
	ck_assert_int_eq(ss_pg_claim(b, k, 0, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BUSY);
	ck_assert_int_eq(ss_pg_claim(b, k, 100, &err), -1); /* waits 100 ms, then gives up */
	ck_assert_int_eq(err.code, SS_ERR_BUSY);
	/* the lock timeout is back to the store's own */
	ck_assert_str_eq(sql1("SELECT 1"), "1");
	ss_pg_release(a, k);
	ck_assert_int_eq(ss_pg_claim(b, k, 100, &err), 1);
	ss_pg_release(b, k);
	ck_assert_int_eq(ss_pg_claim(a, k, 0, &err), 1);
	ops->destroy(a); /* a responder that dies: its connection closes and the claim goes with it */
	int rc = ss_pg_claim(b, k, 5000, &err); /* at once, or once the server noticed the closed connection */
	ck_assert_msg(rc == 1 || rc == 2, "claim after the holder went away: %d %s", rc, err.msg);
	ss_pg_release(b, k);
	ss_pg_release(b, other);
	ops->destroy(b);
}
END_TEST

/* The connection dropped in the middle of a bulk transaction (db copy, import-legacy): what the server rolled back
 * must not be followed by rows written one by one on a new connection and a commit that "succeeds". Every call
 * until the caller rolls back fails with SS_ERR_UNAVAILABLE; then the handle reconnects. */
START_TEST(test_connection_lost_inside_a_transaction)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	ck_assert_int_eq(ops->bulk_begin(s, &err), 0);
	ss_cache_write w1 = song("k1", "default", "T1", "A", 100), w2 = song("k2", "default", "T2", "A", 100);
	ck_assert_int_eq(ops->cache_import(s, &w1, &err), 1);
	ck_assert_str_eq(sql1("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name ="
			      " 'songscope'"), "1");
	/* until the server has ended that connection (a bounded poll) */
	for (int i = 0; i < 1000 && strcmp(sql1("SELECT count(*) FROM pg_stat_activity WHERE application_name ="
						 " 'songscope'"), "0") != 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ops->recheck(s); /* as between two requests, or before the next wrapper call */
	int rc = ops->ready(s, &err);
	if (rc == 0)
		rc = ops->cache_import(s, &w2, &err);
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ck_assert_int_eq(ops->bulk_commit(s, &err), -1);
	ops->bulk_rollback(s);
	ck_assert_str_eq(sql1("SELECT count(*) FROM analysis_cache"), "0");
	ops->recheck(s);
	ck_assert_msg(ops->ready(s, &err) == 0, "%s", err.msg); /* after the rollback, a new connection */
	ck_assert_int_eq(ops->cache_count(s, NULL, &err), 0);
	ops->destroy(s);
}
END_TEST

/* The full check (songscope-admin db check) finds what an outage or a hand could leave behind: a stored result
 * that is not whole, usage rows without a valid status, dated in the future, a negative journal mark or
 * counter. Each one alone fails it; put right, it passes again. */
START_TEST(test_full_check_finds_broken_rows)
{
	ss_store *s = open_store();
	ss_error err;
	ss_error_clear(&err);
	ss_cache_write w = song("k1", "default", "T", "A", 120);
	w.result_json = "{\"bpm\":120,\"bpm_confidence\":0.5,\"key\":\"C Major\",\"key_confidence\":null,"
			"\"energy\":0.25,\"danceability\":0.5,\"acousticness\":null,\"spectral_centroid\":1000}";
	int64_t cid;
	put(s, &w, &cid);
	unsigned char h[SS_APIKEY_HASH_LEN];
	memset(h, 9, sizeof h);
	ss_key_import k = {.name = "u", .scope = SS_KEY_CLIENT, .active = true};
	int64_t id = 0;
	ck_assert_int_eq(ops->key_insert(s, h, "0909", &k, &id, &err), 1);
	ss_usage_row row = {id, "analyze", 200, (int64_t)time(NULL)};
	ck_assert_msg(ops->usage_write(s, &row, 1, 7, 1, &err) == 0, "%s", err.msg);
	ck_assert_msg(ss_store_check(s, true, &err) == 0, "%s", err.msg);

	static const struct {
		const char *breaks, *mends, *says;
	} cases[] = {
		{"UPDATE analysis_cache SET result_json = '{\"bpm\":120}'", NULL, "cache row 1: the stored result has no key"},
		{"UPDATE analysis_cache SET result_json = '{\"bpm\":120,' || '}'", NULL, "cache row 1: the stored result is not a JSON object"},
		{"UPDATE api_usage SET status = 0", "UPDATE api_usage SET status = 200", "usage rows without a valid status"},
		{"UPDATE api_usage SET timestamp = timestamp + interval '3 days'",
		 "UPDATE api_usage SET timestamp = timestamp - interval '3 days'", "usage rows dated in the future"},
		{"UPDATE usage_journal SET last_seq = -1", "UPDATE usage_journal SET last_seq = 1", "negative sequence"},
		{"UPDATE server_stats SET cache_hits = -5", "UPDATE server_stats SET cache_hits = 0", "negative server counters"},
	};
	char mend_result[600];
	snprintf(mend_result, sizeof mend_result, "UPDATE analysis_cache SET result_json = '%s'", w.result_json);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sql1(cases[i].breaks);
		ck_assert_int_eq(ss_store_check(s, false, &err), 0);
		ck_assert_msg(ss_store_check(s, true, &err) == -1, "%s: passed", cases[i].breaks);
		ck_assert_msg(strstr(err.msg, cases[i].says) != NULL, "%s: %s", cases[i].breaks, err.msg);
		sql1(cases[i].mends != NULL ? cases[i].mends : mend_result);
		ck_assert_msg(ss_store_check(s, true, &err) == 0, "after %s: %s", cases[i].breaks, err.msg);
	}
	ops->destroy(s);
}
END_TEST

/* A test process that dies with its whole process group (as a test runner kills a failed or timed-out test's
 * group) still has its server stopped: the watcher is not in that group. */
START_TEST(test_server_stopped_when_the_test_group_is_killed)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		setpgid(0, 0);
		close(fds[0]);
		ss_pg_server other;
		char msg[512];
		if (ss_pg_server_start(&other, NULL, msg, sizeof msg) != 0)
			_exit(2);
		char path[600];
		snprintf(path, sizeof path, "%s/data/postmaster.pid", other.dir);
		FILE *f = fopen(path, "r");
		struct {
			long pm;
			char parent[256];
		} said = {0};
		if (f == NULL || fscanf(f, "%ld", &said.pm) != 1)
			_exit(3);
		fclose(f);
		snprintf(said.parent, sizeof said.parent, "%s", other.parent);
		if (write(fds[1], &said, sizeof said) != (ssize_t)sizeof said)
			_exit(4);
		pause();
		_exit(0);
	}
	close(fds[1]);
	struct {
		long pm;
		char parent[256];
	} said;
	ck_assert_int_eq(read(fds[0], &said, sizeof said), (ssize_t)sizeof said);
	close(fds[0]);
	long pm = said.pm;
	ck_assert_int_gt(pm, 0);
	ck_assert_int_eq(kill((pid_t)pm, 0), 0);
	ck_assert_int_eq(kill(-child, SIGKILL), 0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	/* bounded poll: pg_ctl stop -m immediate takes well under a second; 30 s is the watcher's own bound */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (kill((pid_t)pm, 0) != 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ck_assert_msg(t.tv_sec - t0.tv_sec < 40, "the postmaster (%ld) outlived its test's process group", pm);
		struct timespec pause_ = {0, 20 * 1000 * 1000};
		nanosleep(&pause_, NULL);
	}
	ck_assert_int_eq(ss_scratch_remove(said.parent), 0); /* the dead test's folder (made by mkdtemp) */
}
END_TEST

/* A test process killed while its server is starting (a runner's timeout can come at any moment) still has its
 * server stopped: here it dies right after pg_ctl start returned, before the database is made. */
START_TEST(test_server_stopped_when_the_test_dies_while_starting)
{
	char parent[256];
	ck_assert_int_eq(ss_scratch_path(parent, sizeof parent, "ss-pgdie-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(parent));
	chmod(parent, 0755);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		setpgid(0, 0);
		setenv("SS_PG_SERVER_DIE_AFTER_START", "1", 1);
		ss_pg_server other;
		char msg[512];
		ss_pg_server_start(&other, parent, msg, sizeof msg);
		_exit(2); /* the start returned: the hook did not run */
	}
	int st = 0;
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 9, "the child did not die in the start (status %d)", st);
	kill(-child, SIGKILL); /* and its group, as a runner would */
	char path[600];
	snprintf(path, sizeof path, "%s/pg/data/postmaster.pid", parent);
	FILE *f = fopen(path, "r");
	long pm = 0;
	ck_assert_msg(f != NULL && fscanf(f, "%ld", &pm) == 1 && pm > 0, "no postmaster.pid in %s", path);
	fclose(f);
	/* bounded poll, as above */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (kill((pid_t)pm, 0) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 40) {
			char stop[700]; /* leave no server behind, then fail */
			snprintf(stop, sizeof stop, "kill -QUIT %ld", pm);
			ck_assert_int_eq(system(stop), 0);
			ck_abort_msg("the postmaster (%ld) outlived a test killed while starting it", pm);
		}
		struct timespec pause_ = {0, 20 * 1000 * 1000};
		nanosleep(&pause_, NULL);
	}
	ck_assert_int_eq(ss_scratch_remove(parent), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store_pg");
	TCase *tc = tcase_create("backend");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sqlstate_codes);
	tcase_add_test(tc, test_bad_conninfo_is_config_error);
	tcase_add_test(tc, test_migrate_once_and_idempotent);
	tcase_add_test(tc, test_newer_schema_refused);
	tcase_add_test(tc, test_put_get_upsert_keeps_id);
	tcase_add_test(tc, test_import_keeps_existing_and_time);
	tcase_add_test(tc, test_list_order_namespace_offset);
	tcase_add_test(tc, test_delete_by_id);
	tcase_add_test(tc, test_key_by_prefix);
	tcase_add_test(tc, test_search_semantics);
	tcase_add_test(tc, test_search_uses_trigram_index);
	tcase_add_test(tc, test_export_order_total_and_stop);
	tcase_add_test(tc, test_export_streams_many_rows);
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_usage);
	tcase_add_test(tc, test_full_check_finds_broken_rows);
	tcase_add_test(tc, test_stats_baseline_and_legacy);
	tcase_add_test(tc, test_busy_and_read_only_codes);
	tcase_add_test(tc, test_claim);
	tcase_add_test(tc, test_connection_lost_inside_a_transaction);
	tcase_add_test(tc, test_server_stopped_when_the_test_group_is_killed);
	tcase_add_test(tc, test_server_stopped_when_the_test_dies_while_starting);
	tcase_add_test(tc, test_server_restart_reconnects); /* last: it stops the shared server */
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (!ss_pg_server_or_skip())
		return 77;
	char msg[1024];
	if (ss_pg_server_start(&pg, NULL, msg, sizeof msg) != 0) {
		fprintf(stderr, "cannot start PostgreSQL for the tests: %s\n", msg);
		ss_pg_server_destroy(&pg);
		return EXIT_FAILURE;
	}
	int rc = ss_check_run(suite());
	pg.running = true; /* the last test may have stopped and started it in its own process */
	ss_pg_server_destroy(&pg);
	return rc;
}
