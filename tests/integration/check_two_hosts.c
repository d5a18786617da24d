/* Two hosts on (postgresql, redis) through the real stack, behind ONE nginx as behind one load balancer: two
 * songscope masters, each with its own state file, and one nginx whose upstream lists both hosts' sockets
 * (round robin; ss_it_start_two_hosts), one PostgreSQL and one Redis, all real servers the harness starts. Every
 * request goes through that nginx, and each assertion also checks that both hosts answered (nginx names the
 * upstream server in X-Test-Upstream: ss_it_served_by). With 8 clients racing, a key with a daily limit of 50
 * gets exactly 50 across both hosts and a per-minute limit holds exactly; a key deactivated through
 * songscope-admin (same config) is refused by both on the next request; a song analysed through one host is a
 * cache hit through the other; one host's master killed with SIGKILL takes its responders with it (PDEATHSIG)
 * and nginx goes on answering 200s through the other host. /stats and /metrics report both hosts' counters
 * (within the publish interval), through a Redis outage too; after the outage the store passes
 * `songscope-admin db check` and Redis's daily counts are the 200s the test received. Skips (77) without nginx,
 * PostgreSQL or redis-server. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/check_main.h"
#include "tests/integration/harness.h"
#include "tests/integration/pg_server.h"

static ss_it_server srv;   /* host 1: its nginx balances over both hosts; starts the PostgreSQL and the Redis */
static ss_it_server host2; /* host 2: its own master and state file; host 1's PostgreSQL and Redis */

static void teardown(void)
{
	if (host2.dir[0] != '\0')
		ss_it_stop(&host2);
	ss_it_stop(&srv);
	memset(&host2, 0, sizeof host2);
}

/* Both hosts behind one nginx; extra: lines for both configs. */
static void start_both(const char *extra)
{
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = extra};
	ss_it_start_two_hosts(&srv, &host2, &o);
	ck_assert_ptr_nonnull(srv.pg);
	ck_assert_int_gt(srv.redis.pid, 0);
	ck_assert_ptr_null(host2.pg);
	ck_assert_int_eq(host2.redis.pid, 0);
}

/* Which host answered r: 0 for host 1, 1 for host 2; fails the test for anything else. */
static int host_of(const ss_it_resp *r)
{
	bool one = ss_it_served_by(r, &srv), two = ss_it_served_by(r, &host2);
	ck_assert_msg(one != two, "answer %ld from no known host: %.200s", r->status, r->headers.data);
	return one ? 0 : 1;
}

/* n GET path with key through the one nginx: every answer has status want, and both hosts gave some. */
static void expect_from_both(const char *path, const char *key, long want, int n)
{
	int by[2] = {0, 0};
	for (int i = 0; i < n; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_keyed(&srv, path, key, &r), want);
		by[host_of(&r)]++;
		ss_it_resp_free(&r);
	}
	ck_assert_msg(by[0] > 0 && by[1] > 0, "%s: host 1 answered %d, host 2 %d", path, by[0], by[1]);
}

/* 8 clients race on GET /auth/key through the one nginx: the 200s are `want` in all, and both hosts served some. */
static void race_both(const char *key, int tries, const char *refusal, int want)
{
	ss_it_server *hosts[] = {&srv, &host2};
	int served[2];
	ck_assert_int_eq(ss_it_race(&srv, "/auth/key", key, 8, tries, refusal, hosts, 2, served), want);
	ck_assert_msg(served[0] > 0 && served[1] > 0, "host 1 served %d, host 2 %d", served[0], served[1]);
	ck_assert_int_eq(served[0] + served[1], want);
}

START_TEST(daily_limit_is_exact_across_two_hosts)
{
	start_both("rate_limit_per_minute = 1000000\n");
	char key[128];
	ss_it_create_key(&srv, key, sizeof key, NULL, 0, "shared", "--daily-limit", "50", NULL, NULL);
	/* 8 clients x 20 requests balanced over both hosts: exactly 50 served in all. */
	race_both(key, 20, "daily_limit_exceeded", 50);
	expect_from_both("/auth/key", key, 429, 4);
}
END_TEST

/* A key of 1 request a minute with a burst of 9 (rate_limit_burst = 9): an idle key may send 10 at once, then
 * one a minute. 8 clients x 6 requests over both hosts get exactly 10 (the race ends well inside the minute
 * the 11th would need). */
START_TEST(per_minute_limit_is_exact_across_two_hosts)
{
	start_both("rate_limit_burst = 9\n");
	char key[128];
	ss_it_create_key(&srv, key, sizeof key, NULL, 0, "minute", "--rate-limit", "1", NULL, NULL);
	race_both(key, 6, "rate_limited", 10);
	expect_from_both("/auth/key", key, 429, 4);
}
END_TEST

/* POST /analyze_data of tone hz through the one nginx: asserts 200; returns which host answered (0 or 1) and
 * whether it came from the cache. */
static int analyze_on(const char *key, double hz, bool *cached)
{
	ss_it_resp r;
	long st = ss_it_analyze_tone(&srv, key, hz, cached, &r);
	ck_assert_msg(st == 200, "analyze: %ld %s", st, r.body.data);
	int h = host_of(&r);
	ss_it_resp_free(&r);
	return h;
}

START_TEST(revocation_cache_and_a_lost_host)
{
	start_both("rate_limit_per_minute = 100000\n");
	char key[128], id[32];
	ss_it_create_key(&srv, key, sizeof key, id, sizeof id, "client", "--daily-limit", "1000", NULL, NULL);

	/* A song analysed through one host is a cache hit through the other (and back). */
	bool cached;
	int first = analyze_on(key, 550, &cached);
	ck_assert(!cached);
	int seen[2] = {0, 0};
	for (int i = 0; i < 8 && (seen[0] == 0 || seen[1] == 0); i++) {
		seen[analyze_on(key, 550, &cached)]++;
		ck_assert(cached);
	}
	ck_assert_msg(seen[1 - first] > 0, "the other host never answered");
	ck_assert_int_gt(seen[first], 0);

	/* Warm both hosts' key caches (every responder), deactivate through songscope-admin: both refuse the key
	 * on their very next request; activated again, both serve it. */
	expect_from_both("/auth/key", key, 200, 16);
	ss_it_admin(&srv, NULL, "keys", "deactivate", id, NULL);
	expect_from_both("/auth/key", key, 403, 8);
	ss_it_admin(&srv, NULL, "keys", "activate", id, NULL);
	expect_from_both("/auth/key", key, 200, 4);

	/* Host 1's master killed outright: its responders end with it (PDEATHSIG), and the same nginx goes on
	 * answering through host 2 (a host that refuses connections is skipped: fastcgi_next_upstream), cache and
	 * keys included. */
	pid_t kids[8];
	int n = ss_it_children(srv.master_pid, kids, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(kill(srv.master_pid, SIGKILL), 0);
	int st;
	ck_assert_int_eq(waitpid(srv.master_pid, &st, 0), srv.master_pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	srv.master_pid = 0;
	ck_assert_msg(ss_it_wait_ended(kids, n, 10.0), "host 1's responders outlived their master");
	for (int i = 0; i < 8; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_keyed(&srv, "/auth/key", key, &r), 200);
		ck_assert_int_eq(host_of(&r), 1);
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(analyze_on(key, 550, &cached), 1);
	ck_assert(cached);
	ck_assert_int_eq(analyze_on(key, 770, &cached), 1);
	ck_assert(!cached);
}
END_TEST

/* The next reading of `what` through the one nginx: a /metrics sample (a name starting "songscope_": the value
 * on the line `what value`, -1 when absent) or else a /stats member; which host answered into *host. A 503
 * `unavailable` (after a Redis restart, a responder that has not reconnected yet: at most 250 ms after its last
 * try) is no reading: -2, and *host -1. */
static long long reading(const char *key, const char *what, int *host)
{
	bool metric = strncmp(what, "songscope_", 10) == 0;
	ss_it_resp r;
	long status = ss_it_keyed(&srv, metric ? "/metrics" : "/stats", key, &r);
	if (status == 503) {
		ss_it_assert_error(&r, 503, "unavailable");
		ss_it_resp_free(&r);
		*host = -1;
		return -2;
	}
	ck_assert_int_eq(status, 200);
	long long v = -1;
	if (metric) {
		char pat[200];
		snprintf(pat, sizeof pat, "\n%s ", what);
		const char *m = strstr(r.body.data, pat);
		v = m != NULL ? atoll(m + strlen(pat)) : -1;
	} else {
		json_object *o = ss_it_json(&r), *j;
		ck_assert(json_object_object_get_ex(o, what, &j));
		v = json_object_get_int64(j);
		json_object_put(o);
	}
	*host = host_of(&r);
	ss_it_resp_free(&r);
	return v;
}

/* `what` (see reading) is want on each of the hosts that run (both unless one is stopped): a bounded poll (20 s;
 * the counters are published within a second) until each of them has answered with want. */
static bool on_both(const char *key, const char *what, long long want, bool both)
{
	bool ok[2] = {false, false};
	for (int i = 0; i < 2000 && !(ok[0] && (ok[1] || !both)); i++) {
		int h;
		if (reading(key, what, &h) == want && h >= 0)
			ok[h] = true;
		if (!(ok[0] && (ok[1] || !both))) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL); /* a bounded poll on the published totals, not a synchronisation */
		}
	}
	return ok[0] && (ok[1] || !both);
}

/* /stats and /metrics report every host's counters: 1 miss and 23 hits, and 5 invalid keys, spread over both
 * hosts, read on either host, are 23 hits, 1 miss and 5 invalid keys (once each host's master has published, at
 * most a second later), and stay so (nothing counted twice). */
START_TEST(stats_and_metrics_count_every_host)
{
	start_both("rate_limit_per_minute = 100000\n");
	char key[128], admin_key[128];
	ss_it_create_key(&srv, key, sizeof key, NULL, 0, "client", NULL, NULL, NULL, NULL);
	ss_it_create_key(&srv, admin_key, sizeof admin_key, NULL, 0, "ops", "--scope", "admin", NULL, NULL);
	bool cached;
	analyze_on(key, 440, &cached);
	ck_assert(!cached);
	int by[2] = {0, 0};
	for (int i = 0; i < 23; i++) {
		by[analyze_on(key, 440, &cached)]++;
		ck_assert(cached);
	}
	ck_assert_msg(by[0] > 0 && by[1] > 0, "hits: host 1 answered %d, host 2 %d", by[0], by[1]);
	expect_from_both("/auth/key", "ss_not_a_key", 403, 5);

	ck_assert(on_both(admin_key, "cache_hits", 23, true));
	ck_assert(on_both(admin_key, "cache_misses", 1, true));
	ck_assert(on_both(admin_key, "total_analyses", 1, true));
	ck_assert(on_both(admin_key, "songscope_cache_hits_total", 23, true));
	ck_assert(on_both(admin_key, "songscope_cache_misses_total", 1, true));
	ck_assert(on_both(admin_key, "songscope_auth_rejections_total{reason=\"invalid_api_key\"}", 5, true));

	/* Host 2 stopped (its master publishes once more as it stops): nginx sends everything to host 1, and host
	 * 2's counts stay in the totals. */
	ck_assert_int_eq(ss_it_stop_songscope(&host2), 0);
	ck_assert_int_eq(analyze_on(key, 440, &cached), 0);
	ck_assert(cached);
	ck_assert(on_both(admin_key, "cache_hits", 24, false));
	ck_assert(on_both(admin_key, "cache_misses", 1, false));
}
END_TEST

/* Redis stopped and started again empty: the requests both hosts answered meanwhile (/health 503s, counted by
 * each host as usual) reach the totals once Redis is back, with everything counted before (each host publishes
 * its whole totals again): nothing lost, nothing twice. After it, the store is sound (songscope-admin db check)
 * and Redis's count of the day for the key is exactly the keyed 200s the test received: the requests refused
 * while Redis was down (limits_fail = closed) count for nothing, those before it are seeded again from the
 * usage rows. */
START_TEST(counters_survive_a_redis_outage)
{
	start_both("rate_limit_per_minute = 100000\n");
	char key[128], admin_key[128], id[32];
	ss_it_create_key(&srv, key, sizeof key, id, sizeof id, "client", NULL, NULL, NULL, NULL);
	ss_it_create_key(&srv, admin_key, sizeof admin_key, NULL, 0, "ops", "--scope", "admin", NULL, NULL);
	long long oks = 0; /* keyed 200s the test received for key */
	bool cached;
	analyze_on(key, 330, &cached);
	ck_assert(!cached);
	oks++;
	int by[2] = {0, 0};
	for (int i = 0; i < 4; i++, oks++) {
		by[analyze_on(key, 330, &cached)]++;
		ck_assert(cached);
	}
	ck_assert(by[0] > 0 && by[1] > 0);
	ck_assert(on_both(admin_key, "cache_hits", 4, true));
	ck_assert_int_eq(ss_it_redis_day_count(&srv, id), oks);
	/* Redis coming back empty is seeded from the usage rows in the store and this host's journals; a row the
	 * other host has not written yet (at most a second old, API.md) is not among them. The test waits for
	 * the rows (bounded): what it checks is that everything written counts, not that window. */
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM api_usage WHERE api_key_id = %s", id);
	for (int tries = 0;; tries++) {
		char *rows = ss_it_pg_query(&srv, sql);
		long long n = strtoll(rows, NULL, 10);
		free(rows);
		if (n >= oks)
			break;
		ck_assert_msg(tries < 500, "the usage rows were never written (%lld of %lld)", n, oks);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL); /* a bounded poll on the store, not a synchronisation */
	}

	ss_redis_stop(&srv.redis);
	expect_from_both("/health", NULL, 503, 6);
	for (int i = 0; i < 4; i++) {
		ss_it_resp r;
		ss_it_keyed(&srv, "/auth/key", key, &r);
		ss_it_assert_error(&r, 503, "unavailable");
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	/* Each responder reconnects to Redis on its own next request (at most every 250 ms): until 8 keyed requests
	 * in a row, whichever responder of whichever host nginx picks, are served. */
	ck_assert_int_eq(ss_it_wait_status(&srv, "/auth/key", admin_key, 200, 8), 200);
	/* Then 6 in a row with the key. A responder that none of those 8 reached may still answer a 503 until its
	 * next reconnect is due; it has not reached Redis, so Redis does not count it: every 200 is counted here. */
	oks += ss_it_want_in_a_row(&srv, "/auth/key", key, 200, 6);

	const char *h503 = "songscope_requests_total{endpoint=\"health\",status=\"503\"}";
	ck_assert(on_both(admin_key, h503, 6, true));
	ck_assert(on_both(admin_key, "cache_hits", 4, true));
	ck_assert(on_both(admin_key, "cache_misses", 1, true));

	/* Integrity after the outage: the store, and Redis's count of the day. */
	ss_it_assert_store_sound(&srv);
	ss_it_assert_pg_rows_sound(&srv);
	ck_assert_int_eq(ss_it_redis_day_count(&srv, id), oks);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx())
		return 77;
	if (!ss_pg_server_or_skip())
		return 77;
	if (!ss_redis_or_skip())
		return 77;
	setenv("SS_IT_STORE", "postgresql", 1);
	setenv("SS_IT_LIMITS", "redis", 1);
	Suite *s = suite_create("two_hosts");
	TCase *tc = tcase_create("two_hosts");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, daily_limit_is_exact_across_two_hosts);
	tcase_add_test(tc, per_minute_limit_is_exact_across_two_hosts);
	tcase_add_test(tc, revocation_cache_and_a_lost_host);
	tcase_add_test(tc, stats_and_metrics_count_every_host);
	tcase_add_test(tc, counters_survive_a_redis_outage);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
