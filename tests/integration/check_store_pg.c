/* songscope on PostgreSQL through the real stack (nginx, songscope's master and responders, a real PostgreSQL the
 * harness starts): the server stopped under requests gives JSON 503s with Retry-After and /health 503 naming the
 * database, no responder dies, and the service resumes by itself once the server is back, with nothing that was
 * acknowledged lost. Two masters sharing one PostgreSQL see one cache. Skips (77) without nginx or PostgreSQL. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result.h"
#include "core/store/cache.h"
#include "core/store/store.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"
#include "tests/integration/pg_server.h"

static ss_it_server srv, srv2;
static ss_pg_server pg; /* a server of the test's own (db copy), beside the harness's */

static void teardown(void)
{
	if (getenv("SS_IT_VERBOSE") != NULL && srv.dir[0] != '\0') {
		char cmd[512];
		snprintf(cmd, sizeof cmd, "tail -n 40 %s/songscope.log >&2", srv.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "(no log)\n");
	}
	/* pg lives in srv's folder: stop it before ss_it_stop removes that folder (and its postmaster.pid) */
	ss_pg_server_destroy(&pg);
	ss_it_stop(&srv2);
	ss_it_stop(&srv);
}

static const char *api_key; /* sent with every request when set */

/* POST /analyze_data of tone hz to s with api_key (see ss_it_analyze_tone). */
static long analyze(ss_it_server *s, double hz, bool *cached, ss_it_resp *r)
{
	return ss_it_analyze_tone(s, api_key, hz, cached, r);
}

/* /health: status, and components.database into comp; components.database_backend says postgresql. */
static long health(char *comp, size_t complen)
{
	char backend[32];
	ck_assert_int_eq(ss_it_health(&srv, "database_backend", backend, sizeof backend),
			 ss_it_health(&srv, "database", comp, complen));
	ck_assert_str_eq(backend, "postgresql");
	return ss_it_health(&srv, "database", comp, complen);
}

/* The API keys as the store holds them (what no outage may change; last_used aside). */
static char *keys_snapshot(void)
{
	return ss_it_pg_query(&srv, "SELECT id, name, encode(key_hash, 'hex'), prefix, scope, active, daily_limit,"
				    " rate_limit, created_at FROM api_keys ORDER BY id");
}

/* Did the answer come after the key was known, so that it leaves a usage row? A responder that had not seen the
 * key before the database went down cannot look it up, and refuses before it knows whose request it was. */
static bool attributed(const ss_it_resp *r)
{
	return r->body.data == NULL || strstr(r->body.data, "The key store is unavailable") == NULL;
}

/* Load: keyed requests (arg: the key): a cache page, then an analysis that is a cache hit, in turn. Counted as
 * keyed when they leave a usage row. */
static bool cache_or_hit(ss_it_server *s, int i, const void *arg, ss_it_resp *r)
{
	if (i % 2 == 0)
		ss_it_keyed(s, "/cache?limit=5", arg, r);
	else
		ss_it_analyze_tone(s, arg, 440, NULL, r);
	return attributed(r);
}

START_TEST(server_down_gives_503_and_service_resumes)
{
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = "rate_limit_per_minute = 1000000\n"};
	ss_it_start(&srv, &o);
	ck_assert_ptr_nonnull(srv.pg);
	char key[128], key_id[32];
	ss_it_create_key(&srv, key, sizeof key, key_id, sizeof key_id, "client", NULL, NULL, NULL, NULL);
	api_key = key;
	long long keyed = 0; /* keyed requests answered after the key was known: each leaves one usage row */
	char *keys_before = keys_snapshot();
	ss_it_resp r;
	bool cached;
	ck_assert_int_eq(analyze(&srv, 440, &cached, &r), 200);
	ck_assert(!cached);
	ss_it_resp_free(&r);
	ck_assert_int_eq(analyze(&srv, 440, &cached, &r), 200);
	ck_assert(cached);
	ss_it_resp_free(&r);
	keyed += 2;
	char comp[64];
	ck_assert_int_eq(health(comp, sizeof comp), 200);
	ck_assert_str_eq(comp, "ok");
	pid_t before[8], after[8];
	int nb = ss_it_children_sorted(srv.master_pid, before, 8);
	ck_assert_int_eq(nb, 2);

	/* Clients keep sending while the server goes down and comes back. */
	ss_it_load load;
	ss_it_load_start(&load, &srv, 2, cache_or_hit, key);
	ck_assert_int_eq(ss_pg_server_stop(srv.pg), 0);
	/* every responder, several times: a JSON 503 with Retry-After, never a hang or a crash */
	for (int i = 0; i < 3 * srv.workers; i++) {
		ck_assert_int_eq(analyze(&srv, 440, NULL, &r), 503);
		ss_it_assert_error(&r, 503, "unavailable");
		char ra[16];
		ck_assert_msg(ss_it_header(&r, "Retry-After", ra, sizeof ra), "503 without Retry-After");
		keyed += attributed(&r);
		ss_it_resp_free(&r);
		ss_it_keyed(&srv, "/cache?limit=5", key, &r);
		ss_it_assert_error(&r, 503, "unavailable");
		keyed += attributed(&r);
		ss_it_resp_free(&r);
		ck_assert_int_eq(health(comp, sizeof comp), 503);
		ck_assert_str_eq(comp, "unavailable");
	}
	ck_assert_int_eq(ss_it_children_sorted(srv.master_pid, after, 8), nb);
	ck_assert(memcmp(before, after, (size_t)nb * sizeof before[0]) == 0); /* the same responders */

	ck_assert_int_eq(ss_pg_server_restart(srv.pg), 0);
	ck_assert_int_eq(ss_it_wait_status(&srv, "/health", NULL, 200, 2 * srv.workers), 200);
	ck_assert_int_eq(health(comp, sizeof comp), 200);
	ck_assert_str_eq(comp, "ok");
	long long got, got_ok;
	ss_it_load_stop(&load, &got, &got_ok); /* a client may have seen no 503 (fine: it may have been slow) */
	keyed += got;

	/* what was stored before the outage is still there: a hit on every responder */
	for (int i = 0; i < 2 * srv.workers; i++, keyed++) {
		ck_assert_int_eq(analyze(&srv, 440, &cached, &r), 200);
		ck_assert(cached);
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(analyze(&srv, 550, &cached, &r), 200); /* and writes work again */
	ck_assert(!cached);
	ss_it_resp_free(&r);
	keyed++;
	ck_assert_int_eq(ss_it_children_sorted(srv.master_pid, after, 8), nb);
	ck_assert(memcmp(before, after, (size_t)nb * sizeof before[0]) == 0);

	/* Integrity after the outage (usage rows are all written at the latest when the service stops): the store's
	 * own full check, the rows checked with SQL of the test's own, the keys as they were, and exactly one usage
	 * row per keyed answer, those answered while the server was down included (none lost, none twice). */
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	ss_it_assert_store_sound(&srv);
	ss_it_assert_pg_rows_sound(&srv);
	char *keys_after = keys_snapshot();
	ck_assert_str_eq(keys_after, keys_before);
	free(keys_after);
	free(keys_before);
	char sql[200], want[40];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM api_usage WHERE api_key_id = %s", key_id);
	snprintf(want, sizeof want, "%lld\n", keyed);
	char *usage = ss_it_pg_query(&srv, sql);
	ck_assert_str_eq(usage, want);
	free(usage);
	char *songs = ss_it_pg_query(&srv, "SELECT count(*) FROM analysis_cache");
	ck_assert_str_eq(songs, "2\n");
	free(songs);
}
END_TEST

/* Two masters (each with its own state file) on one PostgreSQL behind one nginx: a song analysed through one is a
 * cache hit through the other. */
START_TEST(two_hosts_share_the_cache)
{
	ss_it_opts o = {.workers = 1};
	ss_it_start_two_hosts(&srv, &srv2, &o);
	ck_assert_ptr_nonnull(srv.pg);
	ck_assert_ptr_null(srv2.pg);
	ss_it_resp r;
	bool cached;
	ck_assert_int_eq(analyze(&srv, 660, &cached, &r), 200);
	ck_assert(!cached);
	ss_it_server *first = ss_it_served_by(&r, &srv) ? &srv : &srv2, *other = first == &srv ? &srv2 : &srv;
	ck_assert(ss_it_served_by(&r, first));
	ss_it_resp_free(&r);
	bool other_hit = false;
	for (int i = 0; i < 8 && !other_hit; i++) {
		ck_assert_int_eq(analyze(&srv, 660, &cached, &r), 200);
		ck_assert(cached);
		other_hit = ss_it_served_by(&r, other);
		ss_it_resp_free(&r);
	}
	ck_assert_msg(other_hit, "the other host never answered");
}
END_TEST

static long long int_member(json_object *o, const char *name)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, name, &v), "no %s in %s", name, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

/* The first field of the first row of sql on the server at conninfo (malloc'd; "" for NULL). */
static char *pg_text(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PGresult *res = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "%s", PQerrorMessage(c));
	char *out = strdup(PQgetvalue(res, 0, 0));
	ck_assert_ptr_nonnull(out);
	PQclear(res);
	PQfinish(c);
	return out;
}

/* Run songscope-admin db copy --to postgresql with s's config; returns its exit status and the JSON counts. */
static int db_copy(ss_it_server *s, json_object **counts)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	char *argv[] = {bin, "--config", s->conf, "--json", "db", "copy", "--to", "postgresql", NULL};
	ss_buf out;
	ss_buf_init(&out, 0);
	int rc = ss_it_run(argv, &out);
	*counts = rc == 0 ? json_tokener_parse(out.data != NULL ? out.data : "") : NULL;
	ss_buf_free(&out);
	return rc;
}

static void append_conf(ss_it_server *s, const char *text)
{
	FILE *f = fopen(s->conf, "a");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* An SQLite installation moved to PostgreSQL with songscope-admin db copy --to postgresql: the same keys work
 * (secrets, scopes, today's usage against the quota), cached songs are hits with their overrides, and a second
 * copy adds nothing. */
START_TEST(db_copy_moves_an_sqlite_installation)
{
	unsetenv("SS_IT_STORE");
	ss_it_opts o = {.workers = 1, .auth = "required"};
	ss_it_start(&srv, &o);
	setenv("SS_IT_STORE", "postgresql", 1);
	ck_assert_ptr_null(srv.pg);
	char admin[128], client[128];
	ss_it_make_key(&srv, "admin", admin, sizeof admin);
	ss_it_make_key(&srv, "client", client, sizeof client);
	api_key = client;
	ss_it_resp r;
	bool cached;
	ck_assert_int_eq(analyze(&srv, 770, &cached, &r), 200);
	ss_it_resp_free(&r);
	size_t len;
	unsigned char *wav = ss_it_make_wav(770, 4.0, &len);
	char sha[SS_SHA256_HEX], body[256], kh[160];
	ss_sha256_hex(wav, len, sha);
	free(wav);
	snprintf(body, sizeof body, "{\"content_sha256\":\"%s\",\"manual_bpm\":123.5,\"manual_key\":\"D Minor\"}", sha);
	snprintf(kh, sizeof kh, "X-API-Key: %s", admin);
	const char *hdrs[] = {kh, "Content-Type: application/json", NULL};
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/verify", hdrs, body, strlen(body), &r), 0);
	ck_assert_msg(r.status == 200, "verify: %ld %s", r.status, r.body.data);
	ss_it_resp_free(&r);
	json_object *k = ss_it_get_json(&srv, "/auth/key", client);
	long long today = int_member(k, "requests_today");
	json_object_put(k);
	ck_assert_int_ge(today, 2);
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0); /* usage rows are written at the latest when it stops */
	/* Earlier releases stored an upload's X-Song-Title as the header's bytes, and a key's name as typed: text
	 * that is not UTF-8 (here "Caf\xe9" and "J\xe4ger" in ISO-8859-1), which PostgreSQL refuses. */
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(srv.db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h,
				      "UPDATE analysis_cache SET title = CAST(X'436166E9' AS TEXT);"
				      "UPDATE api_keys SET name = CAST(X'4AE4676572' AS TEXT) WHERE scope = 'client';",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);

	char msg[1024];
	ck_assert_msg(ss_pg_server_start(&pg, srv.dir, msg, sizeof msg) == 0, "%s", msg);
	char line[700];
	snprintf(line, sizeof line, "postgresql = %s\n", pg.conninfo);
	append_conf(&srv, line);
	json_object *n;
	ck_assert_int_eq(db_copy(&srv, &n), 0);
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(int_member(n, "songs"), 1);
	ck_assert_int_eq(int_member(n, "overrides"), 1);
	ck_assert_int_eq(int_member(n, "keys"), 2);
	ck_assert_int_ge(int_member(n, "usage_rows"), today);
	json_object_put(n);
	char *names = pg_text(pg.conninfo, "SELECT string_agg(name, ',' ORDER BY name) FROM api_keys WHERE scope = 'client'");
	ck_assert_str_eq(names, "J\xc3\xa4ger"); /* read as ISO-8859-1, stored as UTF-8 */
	free(names);
	ck_assert_int_eq(db_copy(&srv, &n), 0); /* again: everything is there already */
	ck_assert_int_eq(int_member(n, "songs"), 0);
	ck_assert_int_eq(int_member(n, "songs_present"), 1);
	ck_assert_int_eq(int_member(n, "keys"), 0);
	ck_assert_int_eq(int_member(n, "keys_present"), 2);
	ck_assert_int_eq(int_member(n, "usage_rows"), 0);
	json_object_put(n);

	/* The service on PostgreSQL, with a new state file: today's counts come from the copied usage rows. */
	append_conf(&srv, "store = postgresql\n");
	ck_assert_int_eq(unlink(srv.state), 0);
	ss_it_start_songscope(&srv);
	k = ss_it_get_json(&srv, "/auth/key", client);
	ck_assert_int_eq(int_member(k, "requests_today"), today + 1);
	json_object_put(k);
	ck_assert_int_eq(analyze(&srv, 770, &cached, &r), 200);
	ck_assert(cached);
	json_object *j = ss_it_json(&r), *v;
	ck_assert(json_object_object_get_ex(j, "manual_bpm", &v) && json_object_get_double(v) == 123.5);
	ck_assert(json_object_object_get_ex(j, "title", &v));
	ck_assert_str_eq(json_object_get_string(v), "Caf\xc3\xa9");
	json_object_put(j);
	ss_it_resp_free(&r);
}
END_TEST

/* An original server's database imported straight into PostgreSQL (songscope-admin import-legacy, store =
 * postgresql): text the file holds as bytes that are not UTF-8 (the original wrote UTF-8; a file edited by other
 * tools may not), which PostgreSQL refuses, is read as ISO-8859-1 instead of failing the import. */
START_TEST(import_legacy_into_postgresql)
{
	ss_it_opts o = {.workers = 1};
	ss_it_start(&srv, &o);
	ck_assert_ptr_nonnull(srv.pg);
	char old[400];
	snprintf(old, sizeof old, "%s/original.db", srv.dir);
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(old, &h), SQLITE_OK);
	char *msg = NULL;
	ck_assert_msg(
		sqlite3_exec(h,
			     "CREATE TABLE analysis_cache (id INTEGER PRIMARY KEY AUTOINCREMENT, preview_url_hash TEXT"
			     " UNIQUE NOT NULL, title TEXT NOT NULL, artist TEXT NOT NULL, preview_url TEXT NOT NULL, bpm REAL,"
			     " bpm_confidence REAL, key TEXT, key_confidence REAL, energy REAL, danceability REAL,"
			     " acousticness REAL, spectral_centroid REAL, analyzed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,"
			     " analysis_duration REAL, user_verified INTEGER DEFAULT 0, manual_bpm REAL, manual_key TEXT,"
			     " bpm_notes TEXT);"
			     "INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url, bpm, key, user_verified,"
			     " bpm_notes) VALUES ('h', CAST(X'436166E9' AS TEXT), CAST(X'4AE4676572' AS TEXT),"
			     " CAST(X'68747470733A2F2F782F66E92E6D3461' AS TEXT), 120, CAST(X'48E4' AS TEXT), 1,"
			     " CAST(X'E0207069616E6F' AS TEXT));",
			     NULL, NULL, &msg) == SQLITE_OK,
		"%s", msg != NULL ? msg : "");
	sqlite3_close(h);
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	char *argv[] = {bin, "--config", srv.conf, "--json", "import-legacy", old, NULL};
	ss_buf out;
	ss_buf_init(&out, 0);
	int rc = ss_it_run(argv, &out);
	ck_assert_msg(rc == 0, "import-legacy exit %d: %s", rc, out.data != NULL ? out.data : "");
	ss_buf_free(&out);
	char *row = pg_text(srv.pg->conninfo, "SELECT title || '|' || artist || '|' || preview_url || '|' || key"
					      " FROM analysis_cache");
	ck_assert_str_eq(row, "Caf\xc3\xa9|J\xc3\xa4ger|https://x/f\xc3\xa9.m4a|H\xc3\xa4");
	free(row);
	char *notes = pg_text(srv.pg->conninfo, "SELECT bpm_notes FROM overrides");
	ck_assert_str_eq(notes, "\xc3\xa0 piano");
	free(notes);
}
END_TEST

typedef struct inflight {
	double hz;
	long status;
	bool cached;
	char title[64];
} inflight;

static void *send_analyze(void *arg)
{
	inflight *f = arg;
	ss_it_resp r;
	f->status = analyze(&srv, f->hz, &f->cached, &r);
	if (f->status == 200) {
		json_object *o = ss_it_json(&r), *v;
		if (json_object_object_get_ex(o, "title", &v))
			snprintf(f->title, sizeof f->title, "%s", json_object_get_string(v));
		json_object_put(o);
	}
	ss_it_resp_free(&r);
	return NULL;
}

/* Requests waiting on an advisory lock of the test's PostgreSQL (the store's claims), or -1. */
static int claim_waiters(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	int n = -1;
	if (PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			n = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	PQfinish(c);
	return n;
}

static long long stat_of(ss_it_server *s, const char *name)
{
	json_object *o = ss_it_get_json(s, "/stats", api_key), *v;
	ck_assert(json_object_object_get_ex(o, name, &v));
	long long n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

/* An identical miss in progress on another host sharing the store is waited for, not repeated: the test plays
 * the other host by holding the store's claim on the song's key and storing the result itself; the request
 * then answers from the cache (that result) without analysing. */
START_TEST(identical_miss_on_another_host_is_analysed_once)
{
	ss_it_opts o = {.workers = 1};
	ss_it_start(&srv, &o);
	size_t len;
	unsigned char *wav = ss_it_make_wav(880, 4.0, &len);
	char sha[SS_SHA256_HEX], tag[64], key[SS_SHA256_HEX];
	ss_sha256_hex(wav, len, sha);
	free(wav);
	ss_analysis_opts opts;
	ss_analysis_opts_default(&opts);
	opts.max_seconds = 30;
	ss_analysis_opts_tag(&opts, tag, sizeof tag);
	ss_cache_key("default", "sha256", sha, tag, key);

	ss_store_params sp;
	ss_it_store_params(&srv, &sp);
	ss_store *other = NULL;
	ss_error err;
	ss_error_clear(&err);
	ck_assert_msg(ss_store_open(&sp, &other, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(ss_store_claim(other, key, 0, &err), 1);
	long long analyses = stat_of(&srv, "total_analyses");

	inflight f = {.hz = 880};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, send_analyze, &f), 0);
	/* the request waits on the claim: seen in the server's lock table (a bounded poll) */
	int waiting = 0;
	for (int i = 0; i < 2000 && waiting < 1; i++) {
		waiting = claim_waiters(srv.pg->conninfo);
		if (waiting < 1) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	ck_assert_int_eq(waiting, 1);

	/* "the other host" finishes: stores its result and lets go */
	ss_result res;
	ss_result_init(&res);
	res.bpm = 120.0;
	ss_cache_put_args pa = {.cache_key = key, .ns = "default", .source_kind = "upload", .source = sha,
				.preview_url = "", .title = "stored by the other host", .artist = "Unknown", .result = &res,
				.result_json = "{\"bpm\":120.0,\"bpm_confidence\":0.5,\"key\":\"A Minor\","
					       "\"key_confidence\":0.2,\"energy\":0.1,\"danceability\":0.2,\"acousticness\":0.3,"
					       "\"spectral_centroid\":900.0,\"time_signature\":\"4/4\",\"valence\":0.3,"
					       "\"mood\":\"calm\",\"loudness\":-20.0,\"dynamic_range\":3.0,\"silence_ratio\":0.0,"
					       "\"key_details\":{},\"analysis_duration\":0.01}"};
	ck_assert_msg(ss_store_cache_put(other, &pa, NULL, &err) == 0, "%s", err.msg);
	ss_store_release(other, key);
	ss_result_free(&res);
	pthread_join(t, NULL);
	ck_assert_int_eq(f.status, 200);
	ck_assert(f.cached);
	ck_assert_str_eq(f.title, "stored by the other host");
	ck_assert_int_eq(stat_of(&srv, "total_analyses"), analyses); /* nothing analysed here */
	ss_store_close(other);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx())
		return 77;
	if (!ss_pg_server_or_skip())
		return 77;
	setenv("SS_IT_STORE", "postgresql", 1);
	Suite *s = suite_create("store_pg_faults");
	TCase *tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, server_down_gives_503_and_service_resumes);
	tcase_add_test(tc, two_hosts_share_the_cache);
	tcase_add_test(tc, db_copy_moves_an_sqlite_installation);
	tcase_add_test(tc, identical_miss_on_another_host_is_analysed_once);
	tcase_add_test(tc, import_legacy_into_postgresql);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
