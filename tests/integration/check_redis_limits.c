/* limits = redis on the real stack (nginx, the master and its responders, SQLite, a real redis-server on a
 * unix socket): two hosts (two masters, each with its own state file, one database and one Redis, behind one
 * nginx that balances over both: ss_it_start_two_hosts) share one daily quota exactly and see a key deactivated
 * through songscope-admin on their next request; Redis stopped under a running service answers 503 with
 * Retry-After (limits_fail = closed) and /health 503 naming the component; Redis started again is used by the
 * same responders (same pids) without a restart, with today's counts re-seeded from api_usage; the same under
 * load, where every answer is a 200 or a JSON 503; limits_fail = open admits keyed requests meanwhile (without
 * rate-limit headers) and still reports the outage on /health and /diagnostics. After each outage Redis's count
 * of the day is exactly the keyed 200s the clients received and the database passes songscope-admin db check. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util/strnum.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"

static ss_it_server srv;
static ss_it_server host2; /* a second host: its own master and state file; srv's database, Redis and nginx */

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

static void pause_briefly(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* n GET /auth/key with key through srv's nginx (balancing over both hosts): every answer has status want, and
 * both hosts gave some. */
static void expect_from_both(const char *key, long want, int n)
{
	int by[2] = {0, 0};
	for (int i = 0; i < n; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_keyed(&srv, "/auth/key", key, &r), want);
		by[0] += ss_it_served_by(&r, &srv);
		by[1] += ss_it_served_by(&r, &host2);
		ss_it_resp_free(&r);
	}
	ck_assert_msg(by[0] > 0 && by[1] > 0 && by[0] + by[1] == n, "host 1 answered %d, host 2 %d", by[0], by[1]);
}

START_TEST(two_hosts_share_the_quota_and_key_changes)
{
	/* Two hosts (SQLite, Redis) behind one nginx: host 2 shares host 1's database and Redis and has a state
	 * file of its own, as a second machine would. */
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = "rate_limit_per_minute = 100000\n"};
	ss_it_start_two_hosts(&srv, &host2, &o);
	ck_assert_int_gt(srv.redis.pid, 0);
	char key[128], ids[32];
	ss_it_create_key(&srv, key, sizeof key, ids, sizeof ids, "shared", "--daily-limit", "50", NULL, NULL);

	/* 8 clients x 20 requests spread over both hosts: exactly 50 served in all (each host alone would
	 * have served 50 with limits = local). */
	ss_it_server *hosts[] = {&srv, &host2};
	int served[2];
	ck_assert_int_eq(ss_it_race(&srv, "/auth/key", key, 8, 20, "daily_limit_exceeded", hosts, 2, served), 50);
	ck_assert_msg(served[0] > 0 && served[1] > 0, "host 1 served %d, host 2 %d", served[0], served[1]);
	expect_from_both(key, 429, 4);

	/* Raise the limit, warm both hosts' key caches, deactivate through songscope-admin: both refuse the
	 * key on their very next request. */
	ss_it_admin(&srv, NULL, "keys", "limit", ids, "1000", NULL);
	expect_from_both(key, 200, 16);
	ss_it_admin(&srv, NULL, "keys", "deactivate", ids, NULL);
	expect_from_both(key, 403, 8);
	ss_it_admin(&srv, NULL, "keys", "activate", ids, NULL);
	expect_from_both(key, 200, 4);

	/* One host's master gone: nginx sends everything to the other, with the same counts. */
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	for (int i = 0; i < 4; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_keyed(&srv, "/auth/key", key, &r), 200);
		ck_assert(ss_it_served_by(&r, &host2));
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(ss_it_redis_day_count(&srv, ids), 50 + 16 + 4 + 4);
	ss_it_assert_store_sound(&srv);
}
END_TEST

START_TEST(redis_down_fails_closed_and_recovers_without_a_restart)
{
	start("rate_limit_per_minute = 100000\n");
	char key[128], key_id[32], quota_key[128], probe[128], comp[32];
	ss_it_create_key(&srv, key, sizeof key, key_id, sizeof key_id, "client", NULL, NULL, NULL, NULL);
	ss_it_make_key(&srv, "client", probe, sizeof probe); /* for the test's polls, which key's count is exact */
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	/* A key with a daily limit of 3, used up before Redis goes away. */
	char quota_id[32];
	ss_it_create_key(&srv, quota_key, sizeof quota_key, quota_id, sizeof quota_id, "quota", "--daily-limit", "3",
			 NULL, NULL);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ss_it_status(&srv, "/auth/key", quota_key), 200);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", quota_key), 429);
	ck_assert_int_eq(ss_it_health(&srv, "redis", comp, sizeof comp), 200);
	ck_assert_str_eq(comp, "ok");
	pid_t before[8], after[8];
	int n = ss_it_children_sorted(srv.master_pid, before, 8);
	ck_assert_int_eq(n, 2);

	ss_redis_stop(&srv.redis);
	for (int i = 0; i < 4; i++) { /* every responder, whether or not it had noticed yet */
		ss_it_resp r;
		ss_it_keyed(&srv, "/auth/key", key, &r);
		ss_it_assert_error(&r, 503, "unavailable");
		char retry[16];
		ck_assert(ss_it_header(&r, "Retry-After", retry, sizeof retry));
		ck_assert_ptr_null(strstr(r.headers.data, "X-RateLimit-Limit"));
		ck_assert_ptr_nonnull(strstr(r.body.data, "Redis"));
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(ss_it_health(&srv, "redis", comp, sizeof comp), 503);
	ck_assert_str_eq(comp, "unavailable");
	ck_assert_int_eq(ss_it_health(&srv, "limiter", comp, sizeof comp), 503);
	ck_assert_str_eq(comp, "unavailable");
	ck_assert_int_eq(ss_it_health(&srv, "database", comp, sizeof comp), 503);
	ck_assert_str_eq(comp, "ok"); /* the database is fine: the component at fault is named */
	/* Requests without a key do not need the limiter to be refused. */
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", ""), 401);

	/* Back, empty (nothing saved): served again by the same responders; today's counts come back from the
	 * usage rows (the used-up key stays refused). */
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	/* Each responder reconnects on its own next request (at most every 250 ms): wait until several answers in
	 * a row, whichever responder nginx picks, are served again. */
	ck_assert_int_eq(ss_it_wait_status(&srv, "/auth/key", probe, 200, 8), 200);
	/* A responder none of those reached may still answer a 503 (not counted by Redis) until its reconnect is due. */
	ss_it_want_in_a_row(&srv, "/auth/key", quota_key, 429, 1);
	long key_oks = ss_it_want_in_a_row(&srv, "/auth/key", key, 200, 4);
	/* /health as well: the responder that answers it may be one that has not reconnected yet (bounded poll). */
	for (int i = 0; ss_it_health(&srv, "redis", comp, sizeof comp) != 200; i++) {
		ck_assert_msg(i < 500, "/health never reported Redis back");
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(ss_it_children_sorted(srv.master_pid, after, 8), n);
	ck_assert_int_eq(memcmp(before, after, sizeof before[0] * (size_t)n), 0);
	/* Integrity after the outage: the day's counts are the 200s served (the 503s counted for nothing, nothing
	 * twice), and the database is sound. */
	ck_assert_int_eq(ss_it_redis_day_count(&srv, quota_id), 3);
	ck_assert_int_eq(ss_it_redis_day_count(&srv, key_id), 1 + key_oks);
	ss_it_assert_store_sound(&srv);
}
END_TEST

/* Load: three keyed GET /auth/key (arg: the key) to one GET /health without a key. */
static bool auth_or_health(ss_it_server *s, int i, const void *arg, ss_it_resp *r)
{
	bool health = i % 4 == 3;
	ss_it_keyed(s, health ? "/health" : "/auth/key", health ? NULL : arg, r);
	return !health;
}

START_TEST(redis_stopped_and_restarted_under_load)
{
	start("rate_limit_per_minute = 1000000\n");
	char key[128], key_id[32], probe[128];
	ss_it_create_key(&srv, key, sizeof key, key_id, sizeof key_id, "client", NULL, NULL, NULL, NULL);
	ss_it_make_key(&srv, "client", probe, sizeof probe); /* the test's own polls: the clients' key stays exact */
	pid_t before[8], after[8];
	int n = ss_it_children_sorted(srv.master_pid, before, 8);
	ss_it_load load;
	ss_it_load_start(&load, &srv, 4, auth_or_health, key);
	/* Down while they run: this test's own request sees the outage; up again: served again. */
	ss_redis_stop(&srv.redis);
	ck_assert_int_eq(ss_it_wait_status(&srv, "/auth/key", probe, 503, 1), 503);
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	ck_assert_int_eq(ss_it_wait_status(&srv, "/auth/key", probe, 200, 1), 200);
	long long keyed, served;
	ss_it_load_stop(&load, &keyed, &served); /* a client may have seen no 503 (fine: it may have been slow) */
	/* No responder died or was replaced. */
	ck_assert_int_eq(ss_it_children_sorted(srv.master_pid, after, 8), n);
	ck_assert_int_eq(memcmp(before, after, sizeof before[0] * (size_t)n), 0);
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", key), 200);
	/* Integrity after the outage under load: the key's count of the day is the 200s its clients got (and the
	 * one above): the refused requests count for nothing and none is counted twice across the restart (Redis
	 * came back empty and was seeded from the usage rows). A request admitted just before Redis stopped whose
	 * usage row was written only after the seed is not in it (API.md: at most one per responder; seen once in
	 * a sanitizer run). The database is sound. */
	long long day = ss_it_redis_day_count(&srv, key_id);
	ck_assert_int_le(day, served + 1);
	ck_assert_int_ge(day, served + 1 - n);
	ss_it_assert_store_sound(&srv);
}
END_TEST

START_TEST(redis_down_fails_open_when_configured)
{
	start("rate_limit_per_minute = 100000\nlimits_fail = open\n");
	char key[128], key_id[32], admin_key[128], comp[32];
	ss_it_create_key(&srv, key, sizeof key, key_id, sizeof key_id, "client", NULL, NULL, NULL, NULL);
	ss_it_make_key(&srv, "admin", admin_key, sizeof admin_key);
	long long oks = 0; /* the key's 200s */
	ss_it_resp r;
	ck_assert_int_eq(ss_it_keyed(&srv, "/auth/key", key, &r), 200);
	oks++;
	ck_assert_ptr_nonnull(strstr(r.headers.data, "X-RateLimit-Limit"));
	ss_it_resp_free(&r);

	ss_redis_stop(&srv.redis);
	for (int i = 0; i < 4; i++, oks++) {
		ck_assert_int_eq(ss_it_keyed(&srv, "/auth/key", key, &r), 200);
		ck_assert_ptr_null(strstr(r.headers.data, "X-RateLimit-Limit")); /* no limit was applied */
		ss_it_resp_free(&r);
	}
	/* Bad keys are still refused (nothing to count their address in). */
	ck_assert_int_eq(ss_it_status(&srv, "/auth/key", "ss_not_a_key"), 403);
	ck_assert_int_eq(ss_it_health(&srv, "redis", comp, sizeof comp), 503);
	ck_assert_str_eq(comp, "unavailable");
	/* An admin sees which component failed, and the requests served without limits are counted. */
	ck_assert_int_eq(ss_it_keyed(&srv, "/diagnostics", admin_key, &r), 200);
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
	ck_assert_int_eq(ss_it_keyed(&srv, "/metrics", admin_key, &r), 200);
	const char *m = strstr(r.body.data, "\nsongscope_limits_fail_open_total ");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_ge(atoi(m + strlen("\nsongscope_limits_fail_open_total ")), 6);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	/* Each responder reconnects on its own next request (at most every 250 ms), so wait until several requests
	 * in a row, whichever responder nginx picks, are limited again. */
	int in_a_row = 0;
	long long unlimited_after = 0; /* served without limits after Redis came back */
	for (int i = 0; i < 750 && in_a_row < 8; i++) {
		ck_assert_int_eq(ss_it_keyed(&srv, "/auth/key", key, &r), 200);
		oks++;
		bool limited = strstr(r.headers.data, "X-RateLimit-Limit") != NULL;
		ss_it_resp_free(&r);
		in_a_row = limited ? in_a_row + 1 : 0;
		unlimited_after += !limited;
		if (!limited)
			pause_briefly();
	}
	ck_assert_int_ge(in_a_row, 8);
	/* After the outage: Redis came back empty and was seeded (once, by the first responder to reconnect) from the
	 * usage rows, which hold the requests served without limits until then. So the day's count is every 200 the
	 * key got, except those a responder that had not reconnected yet served without limits after the seed; never
	 * more (nothing counted twice). The database is sound. */
	long long day = ss_it_redis_day_count(&srv, key_id);
	ck_assert_int_le(day, oks);
	ck_assert_int_ge(day, oks - unlimited_after);
	ss_it_assert_store_sound(&srv);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx())
		return 77;
	if (!ss_redis_or_skip())
		return 77;
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
