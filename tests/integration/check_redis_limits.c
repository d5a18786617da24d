/* limits = redis on the real stack (nginx, the master and its responders, SQLite, a real redis-server on a
 * unix socket): Redis stopped under a running service answers 503 with Retry-After (limits_fail = closed) and
 * /health 503 naming the component; Redis started again is used by the same responders (same pids) without a
 * restart, with today's counts re-seeded from api_usage; limits_fail = open admits keyed requests meanwhile
 * (without rate-limit headers) and still reports the outage on /health. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/strnum.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"

static ss_it_server srv;

static void start(const char *extra)
{
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = extra};
	ss_it_start(&srv, &o);
	ck_assert_int_gt(srv.redis.pid, 0);
}

static void teardown(void)
{
	ss_it_stop(&srv);
}

static long keyed(const char *path, const char *key, ss_it_resp *r)
{
	char h[128];
	snprintf(h, sizeof h, "X-API-Key: %s", key);
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

START_TEST(redis_down_fails_closed_and_recovers_without_a_restart)
{
	start("rate_limit_per_minute = 100000\n");
	char key[128], comp[32];
	ss_it_make_key(&srv, "client", key, sizeof key);
	ck_assert_int_eq(status_of("/auth/key", key), 200);
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

	/* Back, empty (nothing saved): served again by the same responders, each request counted again. */
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	wait_for_status("/auth/key", key, 200);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(status_of("/auth/key", key), 200);
	ck_assert_int_eq(health("redis", comp, sizeof comp), 200);
	ck_assert_int_eq(sorted_children(after, 8), n);
	ck_assert_int_eq(memcmp(before, after, sizeof before[0] * (size_t)n), 0);
}
END_TEST

START_TEST(redis_down_fails_open_when_configured)
{
	start("rate_limit_per_minute = 100000\nlimits_fail = open\n");
	char key[128], comp[32];
	ss_it_make_key(&srv, "client", key, sizeof key);
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
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	for (int i = 0; i < 750; i++) {
		ck_assert_int_eq(keyed("/auth/key", key, &r), 200);
		bool limited = strstr(r.headers.data, "X-RateLimit-Limit") != NULL;
		ss_it_resp_free(&r);
		if (limited)
			break;
		pause_briefly();
	}
	ck_assert_int_eq(keyed("/auth/key", key, &r), 200);
	ck_assert_ptr_nonnull(strstr(r.headers.data, "X-RateLimit-Limit"));
	ss_it_resp_free(&r);
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
	tcase_add_test(tc, redis_down_fails_closed_and_recovers_without_a_restart);
	tcase_add_test(tc, redis_down_fails_open_when_configured);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
