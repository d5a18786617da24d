/* Limits that cannot be turned against users, and process hygiene, through the real stack (songscope's master,
 * nginx, a SQLite file): bad keys never lock out a valid key, the per-minute burst is exactly
 * rate_limit_burst, a JSON \u0000 is refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/jsonutil.h"
#include "core/util/strnum.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"

static ss_it_server srv;

static void start(const char *auth, const char *extra)
{
	ss_it_opts o = {.workers = 2, .auth = auth, .extra_conf = extra};
	ss_it_start(&srv, &o);
}

static void teardown(void)
{
	ss_it_stop(&srv);
}

/* songscope-admin with the server's config and --json; returns the parsed output (caller puts it). */
static json_object *admin(const char *const *args)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	const char *argv[16] = {bin, "--config", srv.conf, "--json"};
	int n = 4;
	for (; args[n - 4] != NULL && n < 15; n++)
		argv[n] = args[n - 4];
	argv[n] = NULL;
	ss_buf out;
	ss_buf_init(&out, 0);
	int rc = ss_it_run((char *const *)argv, &out);
	ck_assert_msg(rc == 0, "songscope-admin %s failed (%d): %s", args[0], rc, out.data ? out.data : "");
	json_object *j = out.data ? ss_json_parse(out.data, out.len, 8) : NULL;
	ck_assert_msg(j != NULL, "songscope-admin printed no JSON: %s", out.data ? out.data : "");
	ss_buf_free(&out);
	return j;
}

/* Create a key of scope with a per-minute rate (0 = the configured default); copies the key out. */
static void create_key(const char *scope, int rate, char *key, size_t keylen)
{
	const char *args[] = {"keys", "create", "hygiene", "--scope", scope, NULL};
	json_object *j = admin(args), *v;
	ck_assert(json_object_object_get_ex(j, "key", &v));
	snprintf(key, keylen, "%s", json_object_get_string(v));
	ck_assert(json_object_object_get_ex(j, "id", &v));
	char id[32], r[32];
	snprintf(id, sizeof id, "%lld", (long long)json_object_get_int64(v));
	json_object_put(j);
	if (rate > 0) {
		snprintf(r, sizeof r, "%d", rate);
		const char *rargs[] = {"keys", "rate", id, r, NULL};
		json_object_put(admin(rargs));
	}
}

static long get(const char *path, const char *key, ss_it_resp *r)
{
	char h[200];
	snprintf(h, sizeof h, "X-API-Key: %s", key);
	const char *hdrs[] = {h, NULL};
	ck_assert_int_eq(ss_it_request(&srv, "GET", path, key ? hdrs : NULL, NULL, 0, r), 0);
	return r->status;
}

static long long header_int(const ss_it_resp *r, const char *name)
{
	char v[64];
	int64_t n;
	ck_assert_msg(ss_it_header(r, name, v, sizeof v), "no %s header (status %ld)", name, r->status);
	ck_assert_msg(ss_parse_i64(v, 0, INT64_MAX, &n) == 0, "%s: %s", name, v);
	return n;
}

/* ---- item: the failed-key throttle never refuses a valid key ---- */

START_TEST(bad_keys_never_lock_out_a_valid_key)
{
	start("required", "auth_failures_per_minute = 20\n");
	char key[128];
	create_key("client", 100000, key, sizeof key);
	ss_it_resp r;
	/* 25 bad keys from 127.0.0.1: the first 20 are 403, then the address is throttled. */
	for (int i = 0; i < 25; i++) {
		char bad[64];
		snprintf(bad, sizeof bad, "ssk_guess-%d", i);
		get("/auth/key", bad, &r);
		if (i < 20) {
			ss_it_assert_error(&r, 403, "invalid_api_key");
		} else {
			ss_it_assert_error(&r, 429, "rate_limited");
			ck_assert_int_ge(header_int(&r, "Retry-After"), 1);
		}
		ss_it_resp_free(&r);
	}
	/* A valid key from the same address is served, again and again, while bad keys stay throttled. */
	for (int i = 0; i < 5; i++) {
		get("/auth/key", key, &r);
		ck_assert_msg(r.status == 200, "valid key got %ld: %s", r.status, r.body.data);
		ck_assert_int_ge(header_int(&r, "X-RateLimit-Remaining"), 1);
		ss_it_resp_free(&r);
		get("/auth/key", "ssk_still-guessing", &r);
		ss_it_assert_error(&r, 429, "rate_limited");
		ck_assert_int_ge(header_int(&r, "Retry-After"), 1);
		ss_it_resp_free(&r);
	}
	/* A missing key is not an attempt: still 401. */
	get("/auth/key", NULL, &r);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
}
END_TEST

/* ---- item: the per-minute burst is exactly rate_limit_burst ---- */

START_TEST(burst_is_exactly_the_configured_one)
{
	/* 2 per minute (one every 30 s) and a burst of 3: exactly 4 at once, then 429 until the next 30 s. */
	start("required", "rate_limit_burst = 3\n");
	char key[128];
	create_key("client", 2, key, sizeof key);
	ss_it_resp r;
	for (int i = 0; i < 4; i++) {
		get("/auth/key", key, &r);
		ck_assert_msg(r.status == 200, "request %d got %ld: %s", i + 1, r.status, r.body.data);
		ck_assert_int_eq(header_int(&r, "X-RateLimit-Limit"), 2);
		ck_assert_int_eq(header_int(&r, "X-RateLimit-Remaining"), 3 - i);
		ck_assert_int_le(header_int(&r, "X-RateLimit-Reset"), 30 * (i + 1));
		ck_assert_int_gt(header_int(&r, "X-RateLimit-Reset"), 30 * i);
		ss_it_resp_free(&r);
	}
	for (int i = 0; i < 3; i++) {
		get("/auth/key", key, &r);
		ss_it_assert_error(&r, 429, "rate_limited");
		long long retry = header_int(&r, "Retry-After");
		ck_assert_int_ge(retry, 1);
		ck_assert_int_le(retry, 30);
		ck_assert_int_eq(header_int(&r, "X-RateLimit-Remaining"), 0);
		ss_it_resp_free(&r);
	}
}
END_TEST

/* ---- item: a JSON \u0000 never truncates a string in silence ---- */

static void post_json(const char *path, const char *key, const char *body, long status, const char *code)
{
	char h[200];
	snprintf(h, sizeof h, "X-API-Key: %s", key);
	const char *hdrs[] = {h, "Content-Type: application/json", NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", path, hdrs, body, strlen(body), &r), 0);
	ss_it_assert_error(&r, status, code);
	if (status == 400)
		ck_assert_msg(strstr(r.body.data, "NUL") != NULL, "message does not say why: %s", r.body.data);
	ss_it_resp_free(&r);
}

START_TEST(json_nul_escape_is_refused)
{
	start("required", NULL);
	char key[128];
	create_key("admin", 0, key, sizeof key);
	post_json("/analyze", key, "{\"url\": \"http://127.0.0.1:9/a.mp3\\u0000.png\"}", 400, "bad_request");
	post_json("/analyze", key, "{\"url\": \"http://127.0.0.1:9/a.mp3\", \"title\": \"x\\u0000y\"}", 400, "bad_request");
	post_json("/analyze", key, "{\"u\\u0000rl\": \"http://127.0.0.1:9/a.mp3\"}", 400, "bad_request");
	post_json("/verify", key, "{\"url\": \"http://x/\\u0000\", \"manual_bpm\": 120}", 400, "bad_request");
	post_json("/analyze_batch", key, "[{\"audio_data\": \"AAAA\", \"title\": \"\\u0000\"}]", 400, "bad_request");
	/* An escaped backslash before u0000 is ordinary text: that request gets past the parser (404: no such
	 * cached song). */
	post_json("/verify", key, "{\"url\": \"http://x/\\\\u0000\", \"manual_bpm\": 120}", 404, "not_found");
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "nginx not found (SS_NGINX); skipping integration tests\n");
		return 77;
	}
	Suite *s = suite_create("hygiene");
	TCase *tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bad_keys_never_lock_out_a_valid_key);
	tcase_add_test(tc, burst_is_exactly_the_configured_one);
	tcase_add_test(tc, json_nul_escape_is_refused);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
