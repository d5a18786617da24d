/* API keys, limits and quotas through a real nginx with 4 responders: 401/403/429 answers and headers,
 * exact daily and per-minute limits with racing clients, instant revocation, scope, failed-key limiting,
 * usage rows flushed on graceful stop, and no plain key in the database. */
#include <check.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util/strnum.h"
#include "tests/integration/harness.h"
#include "tests/integration/pg_server.h"
#include "tests/check_main.h"

static ss_it_server srv;

static void start(const char *extra)
{
	ss_it_opts o = {.workers = 4, .auth = "required", .extra_conf = extra};
	ss_it_start(&srv, &o);
}

static void setup_default(void)
{
	start("rate_limit_per_minute = 100000\nauth_failures_per_minute = 1000\n");
}

static void teardown(void)
{
	ss_it_stop(&srv);
}

/* Run songscope-admin with the server's config; returns parsed --json output (caller puts it). */
static json_object *admin(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
			  const char *a6, const char *a7)
{
	return ss_it_admin_json(&srv, a1, a2, a3, a4, a5, a6, a7, NULL);
}

/* Create a key; returns its id and copies the one-time key into key. */
static long long create_key(const char *name, const char *scope, const char *daily, const char *rate, char *key,
			    size_t keylen)
{
	json_object *j = admin("keys", "create", name, "--scope", scope, daily ? "--daily-limit" : NULL, daily);
	json_object *v;
	ck_assert(json_object_object_get_ex(j, "key", &v));
	snprintf(key, keylen, "%s", json_object_get_string(v));
	ck_assert(json_object_object_get_ex(j, "id", &v));
	long long id = json_object_get_int64(v);
	json_object_put(j);
	if (rate != NULL) {
		char ids[32];
		snprintf(ids, sizeof ids, "%lld", id);
		json_object_put(admin("keys", "rate", ids, rate, NULL, NULL, NULL));
	}
	return id;
}

static long long header_int(const ss_it_resp *r, const char *name)
{
	char v[64];
	int64_t n;
	ck_assert_msg(ss_it_header(r, name, v, sizeof v), "no %s header", name);
	ck_assert_msg(ss_parse_i64(v, 0, INT64_MAX, &n) == 0, "%s: %s", name, v);
	return n;
}

START_TEST(missing_invalid_valid_and_headers)
{
	ss_it_resp r;
	ss_it_keyed(&srv, "/auth/key", NULL, &r);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	ss_it_keyed(&srv, "/auth/key", "ssk_not-a-real-key", &r);
	ss_it_assert_error(&r, 403, "invalid_api_key");
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_status(&srv, "/health", NULL), 200); /* no key needed */

	char key[128];
	long long id = create_key("client-one", "client", NULL, "25", key, sizeof key);
	ss_it_keyed(&srv, "/auth/key", key, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(header_int(&r, "X-RateLimit-Limit"), 25);
	ck_assert_int_eq(header_int(&r, "X-RateLimit-Remaining"), 2); /* burst: 10% of 25 */
	ck_assert_int_le(header_int(&r, "X-RateLimit-Reset"), 60);
	json_object *j = ss_it_json(&r), *v;
	ck_assert(json_object_object_get_ex(j, "id", &v));
	ck_assert_int_eq(json_object_get_int64(v), id);
	ck_assert(json_object_object_get_ex(j, "prefix", &v));
	ck_assert(strncmp(json_object_get_string(v), key, 12) == 0);
	json_object_put(j);
	ss_it_resp_free(&r);

	/* Scope: a client key on an admin endpoint is forbidden, an admin key is not. */
	ss_it_keyed(&srv, "/auth/usage", key, &r);
	ss_it_assert_error(&r, 403, "forbidden");
	ck_assert(header_int(&r, "X-RateLimit-Limit") == 25);
	ss_it_resp_free(&r);
	char akey[128];
	create_key("admin-one", "admin", NULL, NULL, akey, sizeof akey);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/usage", akey), 200);
	/* A key longer than any real one is refused without a lookup. */
	char longkey[400];
	memset(longkey, 'a', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", longkey), 403);
}
END_TEST

/* clients processes x tries requests each; returns how many got 200, and checks every refusal's code. */
static int race(const char *key, int clients, int tries, const char *refusal)
{
	pid_t pids[16];
	for (int c = 0; c < clients; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			int ok = 0;
			for (int i = 0; i < tries; i++) {
				ss_it_resp r;
				char h[128];
				snprintf(h, sizeof h, "X-API-Key: %s", key);
				const char *hdrs[] = {h, NULL};
				if (ss_it_request(&srv, "GET", "/auth/key", hdrs, NULL, 0, &r) != 0)
					_exit(254);
				if (r.status == 200) {
					ok++;
				} else {
					char ra[32];
					if (r.status != 429 || strstr(r.body.data, refusal) == NULL ||
					    !ss_it_header(&r, "Retry-After", ra, sizeof ra))
						_exit(253);
				}
				ss_it_resp_free(&r);
			}
			_exit(ok);
		}
	}
	int total = 0;
	for (int c = 0; c < clients; c++) {
		int st;
		ck_assert_int_eq(waitpid(pids[c], &st, 0), pids[c]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) < 253, "client %d failed (%d)", c, WEXITSTATUS(st));
		total += WEXITSTATUS(st);
	}
	return total;
}

START_TEST(exact_daily_limit_across_responders)
{
	char key[128];
	long long id = create_key("quota", "client", "50", NULL, key, sizeof key);
	ck_assert_int_eq(race(key, 8, 20, "daily_limit_exceeded"), 50);
	ss_it_resp r;
	ss_it_keyed(&srv, "/auth/key", key, &r);
	ss_it_assert_error(&r, 429, "daily_limit_exceeded");
	long long retry = header_int(&r, "Retry-After");
	time_t now = time(NULL);
	long long to_midnight = 86400 - (long long)(now % 86400);
	ck_assert_int_le(retry, to_midnight + 1);
	ck_assert_int_ge(retry, to_midnight - 5);
	ss_it_resp_free(&r);

	/* A graceful stop writes every pending usage row: 161 requests, 50 counted against the quota. */
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	json_object *j = admin("keys", "show", ids, NULL, NULL, NULL, NULL), *v;
	ck_assert(json_object_object_get_ex(j, "requests_today", &v));
	ck_assert_int_eq(json_object_get_int64(v), 161);
	ck_assert(json_object_object_get_ex(j, "successful_requests", &v));
	ck_assert_int_eq(json_object_get_int64(v), 50);
	ck_assert(json_object_object_get_ex(j, "quota_used_today", &v));
	ck_assert_int_eq(json_object_get_int64(v), 50);
	ck_assert(json_object_object_get_ex(j, "recent_requests", &v));
	ck_assert_int_eq(json_object_array_length(v), 10);
	ck_assert(json_object_object_get_ex(j, "last_used", &v));
	ck_assert(json_object_is_type(v, json_type_string));
	json_object_put(j);

	/* Lose the state file: the restarted service re-seeds today's count from api_usage. */
	ck_assert_int_eq(unlink(srv.state), 0);
	ss_it_start_songscope(&srv);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 429);
	/* Raising the limit applies at once: exactly 5 more. */
	json_object_put(admin("keys", "limit", ids, "55", NULL, NULL, NULL));
	ck_assert_int_eq(race(key, 4, 4, "daily_limit_exceeded"), 5);
}
END_TEST

/* The day's quota counts the requests the limiter admitted, whatever their answer (API.md): a 403 for the scope and
 * a 400 for a bad body use it up as a 200 does; the 429s after it, and requests with an invalid key, do not. */
START_TEST(quota_counts_admitted_requests_whatever_their_answer)
{
	char key[128];
	long long id = create_key("errors-count", "client", "3", NULL, key, sizeof key);
	char h[160];
	snprintf(h, sizeof h, "X-API-Key: %s", key);
	const char *hdrs[] = {h, NULL};
	ss_it_resp r;
	ss_it_keyed(&srv, "/auth/usage", key, &r);
	ss_it_assert_error(&r, 403, "forbidden");
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/analyze_batch", hdrs, "{}", 2, &r), 0);
	ss_it_assert_error(&r, 400, "bad_request");
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	for (int i = 0; i < 3; i++) {
		ss_it_keyed(&srv, "/auth/key", key, &r);
		ss_it_assert_error(&r, 429, "daily_limit_exceeded");
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", "ssk_not-a-real-key"), 403);
	/* One more allowed: exactly one more 200, so the 429s were not counted. */
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	json_object_put(admin("keys", "limit", ids, "4", NULL, NULL, NULL));
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 429);
}
END_TEST

START_TEST(exact_rate_limit_across_responders)
{
	char key[128];
	create_key("rate", "client", NULL, "20", key, sizeof key);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int ok = race(key, 8, 10, "rate_limited");
	clock_gettime(CLOCK_MONOTONIC, &b);
	double elapsed = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	/* The burst (10% of 20) plus one at once, plus one per 3 s that passed while the clients ran. */
	ck_assert_int_ge(ok, 3);
	ck_assert_int_le(ok, 3 + (int)(elapsed / 3.0) + 1);
	ss_it_resp r;
	ss_it_keyed(&srv, "/auth/key", key, &r);
	if (r.status == 429) {
		ss_it_assert_error(&r, 429, "rate_limited");
		ck_assert_int_ge(header_int(&r, "Retry-After"), 1);
		ck_assert_int_le(header_int(&r, "Retry-After"), 3);
		ck_assert_int_eq(header_int(&r, "X-RateLimit-Remaining"), 0);
	}
	ss_it_resp_free(&r);
}
END_TEST

START_TEST(deactivation_and_rotation_apply_at_once)
{
	char key[128];
	long long id = create_key("revoke", "client", NULL, NULL, key, sizeof key);
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	/* Warm every responder's key cache. */
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	json_object_put(admin("keys", "deactivate", ids, NULL, NULL, NULL, NULL));
	for (int i = 0; i < 16; i++) {
		ss_it_resp r;
		ss_it_keyed(&srv, "/auth/key", key, &r);
		ss_it_assert_error(&r, 403, "invalid_api_key");
		ss_it_resp_free(&r);
	}
	json_object_put(admin("keys", "activate", ids, NULL, NULL, NULL, NULL));
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	/* Rotation: the old secret stops, the new one works, same record. */
	json_object *j = admin("keys", "rotate", ids, NULL, NULL, NULL, NULL), *v;
	ck_assert(json_object_object_get_ex(j, "key", &v));
	char key2[128];
	snprintf(key2, sizeof key2, "%s", json_object_get_string(v));
	json_object_put(j);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 403);
		ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key2), 200);
	}
	/* A key created after its secret was refused (negative cache entry) works at once. */
	json_object_put(admin("keys", "delete", ids, "--yes", NULL, NULL, NULL));
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key2), 403);
}
END_TEST

/* What plain_keys_are_not_in_the_database looks for in each file. */
static struct {
	const char *key; /* the secret part of the plain key */
	bool record_seen; /* the key's name ("secret") was found */
} scan;

/* Read the whole file in overlapping chunks: the plain key must be in none, the record's name in some. */
static void scan_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return;
	static char buf[1 << 20];
	size_t keep = 0, n, klen = strlen(scan.key);
	while ((n = fread(buf + keep, 1, sizeof buf - keep, f)) > 0) {
		n += keep;
		ck_assert_msg(memmem(buf, n, scan.key, klen) == NULL, "plain key found in %s", path);
		scan.record_seen = scan.record_seen || memmem(buf, n, "secret", 6) != NULL;
		keep = n < klen ? n : klen;
		memmove(buf, buf + n - keep, keep);
	}
	fclose(f);
}

static int scan_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_F)
		scan_file(path);
	return 0;
}

START_TEST(plain_keys_are_not_in_the_database)
{
	char key[128];
	create_key("secret", "admin", NULL, NULL, key, sizeof key);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	scan.key = key + 4;
	scan.record_seen = false;
	if (srv.pg != NULL) {
		/* PostgreSQL: every file of the cluster (tables, indexes, WAL) */
		char data[400];
		snprintf(data, sizeof data, "%s/data", srv.pg->dir);
		ck_assert_int_eq(nftw(data, scan_entry, 16, FTW_PHYS), 0);
		ck_assert_msg(scan.record_seen, "the key's record was in no file of the PostgreSQL cluster");
		return;
	}
	/* The key's record is in the main file or, when the responders closed at the same moment and none of
	 * them could checkpoint, still in the WAL: the scan must find the record's name in one of them. */
	const char *suffixes[] = {"", "-wal"};
	for (int i = 0; i < 2; i++) {
		char p[400];
		snprintf(p, sizeof p, "%s%s", srv.db, suffixes[i]);
		scan_file(p);
	}
	bool record_seen = scan.record_seen;
	ck_assert_msg(record_seen, "the key's record was in neither the database nor its WAL");
}
END_TEST

START_TEST(failed_attempts_are_limited_per_address)
{
	start("auth_failures_per_minute = 3\n");
	char key[128];
	create_key("victim", "client", NULL, NULL, key, sizeof key);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ss_it_status(&srv, "/auth/key", "ssk_guess"), 403);
	ss_it_resp r;
	ss_it_keyed(&srv, "/auth/key", "ssk_guess", &r);
	ss_it_assert_error(&r, 429, "rate_limited");
	long long retry = header_int(&r, "Retry-After");
	ck_assert_int_ge(retry, 1);
	ck_assert_int_le(retry, 20);
	ss_it_resp_free(&r);
	/* Only failures are throttled: a valid key from the blocked address is still served. */
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", "ssk_guess"), 429);
	/* Missing keys are not attempts and keep their 401. */
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", NULL), 401);
}
END_TEST

START_TEST(killed_responders_do_not_wedge_or_break_the_quota)
{
	char key[128];
	create_key("chaos", "client", "30", NULL, key, sizeof key);
	/* tallies[c][0] = 200s, [1] = 429 daily_limit_exceeded, [2] = anything else (a killed responder) */
	int (*tallies)[3] = mmap(NULL, 8 * sizeof *tallies, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(tallies != MAP_FAILED);
	memset(tallies, 0, 8 * sizeof *tallies);
	pid_t pids[8];
	for (int c = 0; c < 8; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			for (int i = 0; i < 10; i++) {
				ss_it_resp r;
				char h[160];
				snprintf(h, sizeof h, "X-API-Key: %s", key);
				const char *hdrs[] = {h, NULL};
				if (ss_it_request(&srv, "GET", "/auth/key", hdrs, NULL, 0, &r) != 0)
					tallies[c][2]++;
				else if (r.status == 200)
					tallies[c][0]++;
				else if (r.status == 429 && strstr(r.body.data, "daily_limit_exceeded") != NULL)
					tallies[c][1]++;
				else
					tallies[c][2]++;
				ss_it_resp_free(&r);
			}
			_exit(0);
		}
	}
	/* Meanwhile SIGKILL every responder (some die mid-request, maybe holding the state mutex). */
	pid_t kids[16];
	int n = ss_it_children(srv.master_pid, kids, 16);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (int c = 0; c < 8; c++) {
		int st;
		ck_assert_int_eq(waitpid(pids[c], &st, 0), pids[c]);
	}
	int ok = 0, other = 0;
	for (int c = 0; c < 8; c++) {
		ok += tallies[c][0];
		other += tallies[c][2];
	}
	munmap(tallies, 8 * sizeof *tallies);
	ck_assert_int_le(ok, 30);
	/* The replacements serve on; the quota stays exact: every request the state file counted either
	 * succeeded or died with its responder, and nothing more gets through. */
	ck_assert_int_eq(ss_it_wait_children(srv.master_pid, 4, kids, n), 0);
	int more = race(key, 4, 10, "daily_limit_exceeded");
	ck_assert_int_le(ok + more, 30);
	ck_assert_int_ge(ok + more + other, 30);
}
END_TEST

static int admin_status(const char *const *args)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	const char *argv[16] = {bin, "--config", srv.conf};
	int n = 3;
	for (; args[n - 3] != NULL && n < 15; n++)
		argv[n] = args[n - 3];
	argv[n] = NULL;
	ss_buf out;
	ss_buf_init(&out, 0);
	int rc = ss_it_run((char *const *)argv, &out);
	ss_buf_free(&out);
	return rc;
}

START_TEST(admin_cli_errors_exit_2)
{
	/* A key that does not exist is a failure (1), as songscope-admin(1) says; usage errors are 2. */
	const char *missing[][6] = {
		{"keys", "show", "999", NULL},
		{"keys", "rate", "999", "10", NULL},
		{"keys", "delete", "999", "--yes", NULL},
		{"keys", "rotate", "999", NULL},
	};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
		ck_assert_msg(admin_status(missing[i]) == 1, "case %zu (%s %s %s) did not exit 1", i, missing[i][0],
			      missing[i][1], missing[i][2]);
	const char *bad[][6] = {
		{"keys", "show", "abc", NULL},
		{"keys", "activate", "0", NULL},
		{"keys", "limit", "1", "-5", NULL},
		{"keys", "scope", "999", "root", NULL},
		{"keys", "create", NULL},
		{"keys", "create", "x", "--scope", "root", NULL},
		{"keys", "frobnicate", NULL},
		{"usage", "--days", "0", NULL},
		{"db", "vacuum", NULL},
		{"--bogus", NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(admin_status(bad[i]) == 2, "case %zu (%s %s) did not exit 2", i, bad[i][0],
			      bad[i][1] ? bad[i][1] : "");
	const char *good[][4] = {{"keys", "list", NULL}, {"usage", "--days", "7", NULL}, {"db", "check", NULL},
				 {"db", "migrate", NULL}};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_int_eq(admin_status(good[i]), 0);
	char key[128];
	long long id = create_key("deleteme", "client", NULL, NULL, key, sizeof key);
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *del_yes[] = {"keys", "delete", ids, "--yes", NULL};
	ck_assert_int_eq(admin_status(del_yes), 0);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 403);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx())
		return 77;
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_add_checked_fixture(tc, setup_default, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, missing_invalid_valid_and_headers);
	tcase_add_test(tc, exact_daily_limit_across_responders);
	tcase_add_test(tc, quota_counts_admitted_requests_whatever_their_answer);
	tcase_add_test(tc, exact_rate_limit_across_responders);
	tcase_add_test(tc, deactivation_and_rotation_apply_at_once);
	tcase_add_test(tc, plain_keys_are_not_in_the_database);
	tcase_add_test(tc, admin_cli_errors_exit_2);
	tcase_add_test(tc, killed_responders_do_not_wedge_or_break_the_quota);
	suite_add_tcase(s, tc);
	TCase *tf = tcase_create("failures");
	tcase_add_checked_fixture(tf, NULL, teardown);
	tcase_set_timeout(tf, 120);
	tcase_add_test(tf, failed_attempts_are_limited_per_address);
	suite_add_tcase(s, tf);
	return ss_check_run(s);
}
