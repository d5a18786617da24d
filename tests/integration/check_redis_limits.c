/* limits = redis on the real stack (nginx, the master and its responders, SQLite, a real redis-server on a
 * unix socket): two "hosts" (two masters, each with its own state file and its own nginx, one database and
 * one Redis) share one daily quota exactly and see a key deactivated through songscope-admin on their next
 * request; Redis stopped under a running service answers 503 with Retry-After (limits_fail = closed) and
 * /health 503 naming the component; Redis started again is used by the same responders (same pids) without a
 * restart, with today's counts re-seeded from api_usage; the same under load, where every answer is a 200 or a
 * JSON 503; limits_fail = open admits keyed requests meanwhile (without rate-limit headers) and still reports
 * the outage on /health and /diagnostics. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util/strnum.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"

static ss_it_server srv;
static ss_it_server host2; /* a second host: its own nginx, master and state file; srv's database and Redis */

static void start(const char *extra)
{
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = extra};
	ss_it_start(&srv, &o);
	ck_assert_int_gt(srv.redis.pid, 0);
}

static void teardown(void)
{
	if (host2.dir[0] != '\0')
		ss_it_stop(&host2);
	ss_it_stop(&srv);
}

/* Start host2 beside srv: nginx from the harness (without songscope), then a master whose config shares srv's
 * database and Redis but has a state file of its own, as a second machine would. */
static void start_host2(const char *extra)
{
	ss_it_opts o = {.workers = 2, .auth = "required", .no_songscope = true};
	unsetenv("SS_IT_LIMITS"); /* host2 uses srv's Redis, not one of its own */
	ss_it_start(&host2, &o);
	setenv("SS_IT_LIMITS", "redis", 1);
	char conf[2048];
	snprintf(conf, sizeof conf,
		 "database = %s\nstate_file = %s\nauth = required\nworkers = 2\nlog_level = info\n"
		 "limits = redis\nredis = unix:%s\n%s",
		 srv.db, host2.state, srv.redis.socket, extra);
	FILE *f = fopen(host2.conf, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(conf, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ss_it_start_songscope(&host2);
}

/* songscope-admin with srv's config; its output (JSON) into out when out is not NULL. */
static void admin(ss_buf *out, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	const char *argv[] = {bin, "--config", srv.conf, "--json", a1, a2, a3, a4, a5, NULL};
	ss_buf local;
	ss_buf_init(&local, 0);
	int rc = ss_it_run((char *const *)argv, out != NULL ? out : &local);
	ck_assert_msg(rc == 0, "songscope-admin %s %s failed (%d)", a1, a2 ? a2 : "", rc);
	ss_buf_free(&local);
}

static long keyed(const char *path, const char *key, ss_it_resp *r)
{
	char h[160];
	snprintf(h, sizeof h, "X-API-Key: %.120s", key);
	const char *hdrs[] = {h, NULL};
	ck_assert_int_eq(ss_it_request(&srv, "GET", path, hdrs, NULL, 0, r), 0);
	return r->status;
}

static long status_of(const char *path, const char *key)
{
	ss_it_resp r;
	long s = keyed(path, key, &r);
	ss_it_resp_free(&r);
	return s;
}

/* GET /health: its status, and components.<name> into out. */
static long health(const char *component, char *out, size_t len)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/health", NULL, NULL, 0, &r), 0);
	json_object *j = ss_it_json(&r), *comps, *v;
	ck_assert(json_object_object_get_ex(j, "components", &comps));
	out[0] = '\0';
	if (json_object_object_get_ex(comps, component, &v))
		snprintf(out, len, "%s", json_object_get_string(v));
	long s = r.status;
	json_object_put(j);
	ss_it_resp_free(&r);
	return s;
}

static int sorted_children(pid_t *out, int max)
{
	int n = ss_it_children(srv.master_pid, out, max);
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && out[k - 1] > out[k]; k--) {
			pid_t t = out[k];
			out[k] = out[k - 1];
			out[k - 1] = t;
		}
	return n;
}

static void pause_briefly(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* Poll (bounded, 15 s) until GET path with key answers want. */
static void wait_for_status(const char *path, const char *key, long want)
{
	long s = 0;
	for (int i = 0; i < 750 && (s = status_of(path, key)) != want; i++)
		pause_briefly();
	ck_assert_int_eq(s, want);
}

/* clients processes x tries requests each, alternating between the two hosts; returns how many got 200 (every
 * refusal must be 429 daily_limit_exceeded with Retry-After). */
static int race_two_hosts(const char *key, int clients, int tries)
{
	pid_t pids[16];
	for (int c = 0; c < clients; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			int ok = 0;
			for (int i = 0; i < tries; i++) {
				ss_it_resp r;
				char h[160], url[160];
				snprintf(h, sizeof h, "X-API-Key: %.120s", key);
				snprintf(url, sizeof url, "%s/auth/key", (c + i) % 2 ? host2.base_url : srv.base_url);
				const char *hdrs[] = {h, NULL};
				if (ss_it_request_url("GET", url, hdrs, NULL, 0, &r) != 0)
					_exit(254);
				char ra[32];
				if (r.status == 200)
					ok++;
				else if (r.status != 429 || strstr(r.body.data, "daily_limit_exceeded") == NULL ||
					 !ss_it_header(&r, "Retry-After", ra, sizeof ra))
					_exit(253);
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

static long status_at(const ss_it_server *host, const char *key)
{
	char h[160], url[160];
	snprintf(h, sizeof h, "X-API-Key: %.120s", key);
	snprintf(url, sizeof url, "%s/auth/key", host->base_url);
	const char *hdrs[] = {h, NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request_url("GET", url, hdrs, NULL, 0, &r), 0);
	long s = r.status;
	ss_it_resp_free(&r);
	return s;
}

START_TEST(two_hosts_share_the_quota_and_key_changes)
{
	start("rate_limit_per_minute = 100000\n");
	start_host2("rate_limit_per_minute = 100000\n");
	ss_buf out;
	ss_buf_init(&out, 0);
	admin(&out, "keys", "create", "shared", "--daily-limit", "50");
	json_object *j = json_tokener_parse(out.data), *v;
	ck_assert_ptr_nonnull(j);
	ck_assert(json_object_object_get_ex(j, "key", &v));
	char key[128], ids[32];
	snprintf(key, sizeof key, "%s", json_object_get_string(v));
	ck_assert(json_object_object_get_ex(j, "id", &v));
	snprintf(ids, sizeof ids, "%lld", (long long)json_object_get_int64(v));
	json_object_put(j);
	ss_buf_free(&out);

	/* 8 clients x 20 requests spread over both hosts: exactly 50 served in all (each host alone would
	 * have served 50 with limits = local). */
	ck_assert_int_eq(race_two_hosts(key, 8, 20), 50);
	ck_assert_int_eq(status_at(&srv, key), 429);
	ck_assert_int_eq(status_at(&host2, key), 429);

	/* Raise the limit, warm both hosts' key caches, deactivate through songscope-admin: both refuse the
	 * key on their very next request. */
	admin(NULL, "keys", "limit", ids, "1000", NULL);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(status_at(&srv, key), 200);
		ck_assert_int_eq(status_at(&host2, key), 200);
	}
	admin(NULL, "keys", "deactivate", ids, NULL, NULL);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(status_at(&host2, key), 403);
		ck_assert_int_eq(status_at(&srv, key), 403);
	}
	admin(NULL, "keys", "activate", ids, NULL, NULL);
	ck_assert_int_eq(status_at(&host2, key), 200);
	ck_assert_int_eq(status_at(&srv, key), 200);

	/* One host's master gone: the other serves on, with the same counts. */
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	ck_assert_int_eq(status_at(&host2, key), 200);
}
END_TEST

START_TEST(redis_down_fails_closed_and_recovers_without_a_restart)
{
	start("rate_limit_per_minute = 100000\n");
	char key[128], quota_key[128], comp[32];
	ss_it_make_key(&srv, "client", key, sizeof key);
	ck_assert_int_eq(status_of("/auth/key", key), 200);
	/* A key with a daily limit of 3, used up before Redis goes away. */
	ss_buf out;
	ss_buf_init(&out, 0);
	admin(&out, "keys", "create", "quota", "--daily-limit", "3");
	json_object *j = json_tokener_parse(out.data), *v;
	ck_assert(j != NULL && json_object_object_get_ex(j, "key", &v));
	snprintf(quota_key, sizeof quota_key, "%s", json_object_get_string(v));
	json_object_put(j);
	ss_buf_free(&out);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(status_of("/auth/key", quota_key), 200);
	ck_assert_int_eq(status_of("/auth/key", quota_key), 429);
	ck_assert_int_eq(health("redis", comp, sizeof comp), 200);
	ck_assert_str_eq(comp, "ok");
	pid_t before[8], after[8];
	int n = sorted_children(before, 8);
	ck_assert_int_eq(n, 2);

	ss_redis_stop(&srv.redis);
	for (int i = 0; i < 4; i++) { /* every responder, whether or not it had noticed yet */
		ss_it_resp r;
		keyed("/auth/key", key, &r);
		ss_it_assert_error(&r, 503, "unavailable");
		char retry[16];
		ck_assert(ss_it_header(&r, "Retry-After", retry, sizeof retry));
		ck_assert_ptr_null(strstr(r.headers.data, "X-RateLimit-Limit"));
		ck_assert_ptr_nonnull(strstr(r.body.data, "Redis"));
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(health("redis", comp, sizeof comp), 503);
	ck_assert_str_eq(comp, "unavailable");
	ck_assert_int_eq(health("limiter", comp, sizeof comp), 503);
	ck_assert_str_eq(comp, "unavailable");
	ck_assert_int_eq(health("database", comp, sizeof comp), 503);
	ck_assert_str_eq(comp, "ok"); /* the database is fine: the component at fault is named */
	/* Requests without a key do not need the limiter to be refused. */
	ck_assert_int_eq(status_of("/auth/key", ""), 401);

	/* Back, empty (nothing saved): served again by the same responders; today's counts come back from the
	 * usage rows (the used-up key stays refused). */
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	/* Each responder reconnects on its own next request (at most every 250 ms): wait until several answers in
	 * a row, whichever responder nginx picks, are served again. */
	int in_a_row = 0;
	for (int i = 0; i < 750 && in_a_row < 8; i++) {
		if (status_of("/auth/key", key) == 200) {
			in_a_row++;
		} else {
			in_a_row = 0;
			pause_briefly();
		}
	}
	ck_assert_int_ge(in_a_row, 8);
	ck_assert_int_eq(status_of("/auth/key", quota_key), 429);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(status_of("/auth/key", key), 200);
	ck_assert_int_eq(health("redis", comp, sizeof comp), 200);
	ck_assert_int_eq(sorted_children(after, 8), n);
	ck_assert_int_eq(memcmp(before, after, sizeof before[0] * (size_t)n), 0);
}
END_TEST

/* Clients hammer both a keyed endpoint and /health until `stop` exists (or 3000 requests each): every answer
 * must be 200, or a JSON 503 with Retry-After (never a 502 of a dead responder or a transport error). Exit
 * code: 0 when all were such, 1 when none was a 503 (then the outage was not seen by this client), else 2+. */
static pid_t hammer(const char *key, const char *stop)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid != 0)
		return pid;
	int unavailable = 0;
	for (int i = 0; i < 3000 && access(stop, F_OK) != 0; i++) {
		ss_it_resp r;
		char h[160];
		snprintf(h, sizeof h, "X-API-Key: %.120s", key);
		const char *hdrs[] = {h, NULL};
		if (ss_it_request(&srv, "GET", i % 4 == 3 ? "/health" : "/auth/key", hdrs, NULL, 0, &r) != 0)
			_exit(3);
		char ra[16];
		bool ok = r.status == 200 ||
			  (r.status == 503 && strstr(r.body.data, "\"unavailable\"") != NULL &&
			   ss_it_header(&r, "Retry-After", ra, sizeof ra));
		unavailable += r.status == 503;
		ss_it_resp_free(&r);
		if (!ok)
			_exit(4);
	}
	_exit(unavailable > 0 ? 0 : 1);
}

START_TEST(redis_stopped_and_restarted_under_load)
{
	start("rate_limit_per_minute = 1000000\n");
	char key[128], stop[400];
	ss_it_make_key(&srv, "client", key, sizeof key);
	snprintf(stop, sizeof stop, "%s/stop-clients", srv.dir);
	pid_t before[8], after[8];
	int n = sorted_children(before, 8);
	pid_t clients[4];
	for (int c = 0; c < 4; c++)
		clients[c] = hammer(key, stop);
	/* Down while they run: this test's own request sees the outage; up again: served again. */
	ss_redis_stop(&srv.redis);
	wait_for_status("/auth/key", key, 503);
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	wait_for_status("/auth/key", key, 200);
	FILE *f = fopen(stop, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	for (int c = 0; c < 4; c++) { /* 1: that client happened to see no 503 (fine: it may have been slow) */
		int st;
		ck_assert_int_eq(waitpid(clients[c], &st, 0), clients[c]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "client %d: bad answer or transport error (%d)", c,
			      WEXITSTATUS(st));
	}
	/* No responder died or was replaced. */
	ck_assert_int_eq(sorted_children(after, 8), n);
	ck_assert_int_eq(memcmp(before, after, sizeof before[0] * (size_t)n), 0);
	ck_assert_int_eq(status_of("/auth/key", key), 200);
}
END_TEST

START_TEST(redis_down_fails_open_when_configured)
{
	start("rate_limit_per_minute = 100000\nlimits_fail = open\n");
	char key[128], admin_key[128], comp[32];
	ss_it_make_key(&srv, "client", key, sizeof key);
	ss_it_make_key(&srv, "admin", admin_key, sizeof admin_key);
	ss_it_resp r;
	ck_assert_int_eq(keyed("/auth/key", key, &r), 200);
	ck_assert_ptr_nonnull(strstr(r.headers.data, "X-RateLimit-Limit"));
	ss_it_resp_free(&r);

	ss_redis_stop(&srv.redis);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(keyed("/auth/key", key, &r), 200);
		ck_assert_ptr_null(strstr(r.headers.data, "X-RateLimit-Limit")); /* no limit was applied */
		ss_it_resp_free(&r);
	}
	/* Bad keys are still refused (nothing to count their address in). */
	ck_assert_int_eq(status_of("/auth/key", "ss_not_a_key"), 403);
	ck_assert_int_eq(health("redis", comp, sizeof comp), 503);
	ck_assert_str_eq(comp, "unavailable");
	/* An admin sees which component failed, and the requests served without limits are counted. */
	ck_assert_int_eq(keyed("/diagnostics", admin_key, &r), 200);
	json_object *d = ss_it_json(&r), *comps, *lc, *v;
	ss_it_resp_free(&r);
	ck_assert(json_object_object_get_ex(d, "components", &comps));
	ck_assert(json_object_object_get_ex(comps, "limiter", &lc));
	ck_assert(json_object_object_get_ex(lc, "status", &v));
	ck_assert_str_eq(json_object_get_string(v), "failed");
	ck_assert(json_object_object_get_ex(lc, "backend", &v));
	ck_assert_str_eq(json_object_get_string(v), "redis");
	ck_assert(json_object_object_get_ex(lc, "error", &v));
	ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "redis"));
	json_object_put(d);
	ck_assert_int_eq(keyed("/metrics", admin_key, &r), 200);
	const char *m = strstr(r.body.data, "\nsongscope_limits_fail_open_total ");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_ge(atoi(m + strlen("\nsongscope_limits_fail_open_total ")), 6);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	/* Each responder reconnects on its own next request (at most every 250 ms), so wait until several requests
	 * in a row, whichever responder nginx picks, are limited again. */
	int in_a_row = 0;
	for (int i = 0; i < 750 && in_a_row < 8; i++) {
		ck_assert_int_eq(keyed("/auth/key", key, &r), 200);
		bool limited = strstr(r.headers.data, "X-RateLimit-Limit") != NULL;
		ss_it_resp_free(&r);
		in_a_row = limited ? in_a_row + 1 : 0;
		if (!limited)
			pause_briefly();
	}
	ck_assert_int_ge(in_a_row, 8);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx())
		return 77;
	if (!ss_redis_available()) {
		fprintf(stderr, "SKIP: redis-server is not installed (tools/install-deps.sh installs it)\n");
		return 77;
	}
	setenv("SS_IT_LIMITS", "redis", 1);
	Suite *s = suite_create("redis_limits");
	TCase *tc = tcase_create("redis_limits");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, two_hosts_share_the_quota_and_key_changes);
	tcase_add_test(tc, redis_down_fails_closed_and_recovers_without_a_restart);
	tcase_add_test(tc, redis_stopped_and_restarted_under_load);
	tcase_add_test(tc, redis_down_fails_open_when_configured);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
