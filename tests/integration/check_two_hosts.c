/* Two hosts on (postgresql, redis) through the real stack: two songscope masters, each with its own state file
 * and its own nginx (clients alternate between the two nginx ports, as a round-robin balancer would), one
 * PostgreSQL and one Redis, both real servers the harness starts. With 8 clients racing, a key with a daily
 * limit of 50 gets exactly 50 across both hosts and a per-minute limit holds exactly; a key deactivated through
 * songscope-admin (same config) is refused by both on the next request; a song analysed through one host is a
 * cache hit through the other; one host's master killed with SIGKILL takes its responders with it (PDEATHSIG)
 * (host 1's nginx answers a JSON 503) and the other host serves on. /stats and /metrics report both hosts'
 * counters (within the publish interval), through a Redis outage too. Skips (77) without nginx, PostgreSQL or
 * redis-server. */
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

static ss_it_server srv;   /* host 1: starts the PostgreSQL and the Redis of the test */
static ss_it_server host2; /* host 2: its own nginx, master and state file; host 1's PostgreSQL and Redis */

static void teardown(void)
{
	if (host2.dir[0] != '\0')
		ss_it_stop(&host2);
	ss_it_stop(&srv);
	memset(&host2, 0, sizeof host2);
}

/* Host 1 with its own PostgreSQL and Redis, then host 2 sharing them (its config written here, as a second
 * machine's would be). extra: lines for both configs. */
static void start_both(const char *extra)
{
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = extra};
	ss_it_start(&srv, &o);
	ck_assert_ptr_nonnull(srv.pg);
	ck_assert_int_gt(srv.redis.pid, 0);

	ss_it_opts o2 = {.workers = 2, .auth = "required", .no_songscope = true};
	unsetenv("SS_IT_LIMITS");
	unsetenv("SS_IT_STORE");
	ss_it_start(&host2, &o2);
	setenv("SS_IT_LIMITS", "redis", 1);
	setenv("SS_IT_STORE", "postgresql", 1);
	ck_assert_ptr_null(host2.pg);
	char conf[4096];
	snprintf(conf, sizeof conf,
		 "database = %s\nstate_file = %s\nauth = required\nworkers = 2\nlog_level = info\n"
		 "store = postgresql\npostgresql = %s\nlimits = redis\nredis = unix:%s\n%s",
		 host2.db, host2.state, srv.pg->conninfo, srv.redis.socket, extra);
	FILE *f = fopen(host2.conf, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(conf, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ss_it_start_songscope(&host2);
}

/* songscope-admin with host 1's config; its JSON output into out when out is not NULL. */
static void admin(ss_buf *out, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
		  const char *a6, const char *a7)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	const char *argv[] = {bin, "--config", srv.conf, "--json", a1, a2, a3, a4, a5, a6, a7, NULL};
	ss_buf local;
	ss_buf_init(&local, 0);
	int rc = ss_it_run((char *const *)argv, out != NULL ? out : &local);
	ck_assert_msg(rc == 0, "songscope-admin %s %s failed (%d)", a1, a2 != NULL ? a2 : "", rc);
	ss_buf_free(&local);
}

/* songscope-admin keys create NAME with options; the secret into key, the id into id. */
static void create_key(const char *name, const char *opt1, const char *val1, const char *opt2, const char *val2,
		       char *key, size_t keylen, char *id, size_t idlen)
{
	ss_buf out;
	ss_buf_init(&out, 0);
	admin(&out, "keys", "create", name, opt1, val1, opt2, val2);
	json_object *j = json_tokener_parse(out.data != NULL ? out.data : ""), *v;
	ck_assert_ptr_nonnull(j);
	ck_assert(json_object_object_get_ex(j, "key", &v));
	snprintf(key, keylen, "%s", json_object_get_string(v));
	ck_assert(json_object_object_get_ex(j, "id", &v));
	snprintf(id, idlen, "%lld", (long long)json_object_get_int64(v));
	json_object_put(j);
	ss_buf_free(&out);
}

static long status_at(const ss_it_server *host, const char *path, const char *key)
{
	char h[160], url[400];
	snprintf(h, sizeof h, "X-API-Key: %.120s", key);
	snprintf(url, sizeof url, "%s%s", host->base_url, path);
	const char *hdrs[] = {h, NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request_url("GET", url, hdrs, NULL, 0, &r), 0);
	long s = r.status;
	ss_it_resp_free(&r);
	return s;
}

/* clients processes x tries GET /auth/key each, alternating between the two hosts; returns how many got 200.
 * Every refusal must be a JSON 429 with Retry-After and the error code `refusal`. */
static int race(const char *key, int clients, int tries, const char *refusal)
{
	pid_t pids[16];
	ck_assert_int_le(clients, 16);
	for (int c = 0; c < clients; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			int ok = 0;
			for (int i = 0; i < tries; i++) {
				ss_it_resp r;
				char h[160], url[160], code[64], ra[32];
				snprintf(h, sizeof h, "X-API-Key: %.120s", key);
				snprintf(url, sizeof url, "%s/auth/key", (c + i) % 2 ? host2.base_url : srv.base_url);
				snprintf(code, sizeof code, "\"%s\"", refusal);
				const char *hdrs[] = {h, NULL};
				if (ss_it_request_url("GET", url, hdrs, NULL, 0, &r) != 0)
					_exit(254);
				if (r.status == 200)
					ok++;
				else if (r.status != 429 || r.body.data == NULL || strstr(r.body.data, code) == NULL ||
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

START_TEST(daily_limit_is_exact_across_two_hosts)
{
	start_both("rate_limit_per_minute = 1000000\n");
	char key[128], id[32];
	create_key("shared", "--daily-limit", "50", NULL, NULL, key, sizeof key, id, sizeof id);
	/* 8 clients x 20 requests spread over both hosts: exactly 50 served in all. */
	ck_assert_int_eq(race(key, 8, 20, "daily_limit_exceeded"), 50);
	ck_assert_int_eq(status_at(&srv, "/auth/key", key), 429);
	ck_assert_int_eq(status_at(&host2, "/auth/key", key), 429);
}
END_TEST

/* A key of 1 request a minute with a burst of 9 (rate_limit_burst = 9): an idle key may send 10 at once, then
 * one a minute. 8 clients x 6 requests over both hosts get exactly 10 (the race ends well inside the minute
 * the 11th would need). */
START_TEST(per_minute_limit_is_exact_across_two_hosts)
{
	start_both("rate_limit_burst = 9\n");
	char key[128], id[32];
	create_key("minute", "--rate-limit", "1", NULL, NULL, key, sizeof key, id, sizeof id);
	ck_assert_int_eq(race(key, 8, 6, "rate_limited"), 10);
	ck_assert_int_eq(status_at(&srv, "/auth/key", key), 429);
	ck_assert_int_eq(status_at(&host2, "/auth/key", key), 429);
}
END_TEST

/* POST /analyze_data of tone hz to host with key: asserts 200 and returns whether it came from the cache. */
static bool analyze_cached(const ss_it_server *host, const char *key, double hz)
{
	size_t len;
	unsigned char *wav = ss_it_make_wav(hz, 4.0, &len);
	char kh[160], url[160];
	snprintf(kh, sizeof kh, "X-API-Key: %.120s", key);
	snprintf(url, sizeof url, "%s/analyze_data", host->base_url);
	const char *hdrs[] = {"X-Song-Title: tone", "Content-Type: audio/wav", kh, NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request_url("POST", url, hdrs, wav, len, &r), 0);
	free(wav);
	ck_assert_msg(r.status == 200, "analyze: %ld %s", r.status, r.body.data != NULL ? r.body.data : "");
	json_object *o = ss_it_json(&r), *v;
	bool cached = json_object_object_get_ex(o, "cached", &v) && json_object_get_boolean(v);
	json_object_put(o);
	ss_it_resp_free(&r);
	return cached;
}

/* True when pid is gone or a zombie (its process has ended). */
static bool ended(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return true;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p != NULL && (p[2] == 'Z' || p[2] == 'X');
}

START_TEST(revocation_cache_and_a_lost_host)
{
	start_both("rate_limit_per_minute = 100000\n");
	char key[128], id[32];
	create_key("client", "--daily-limit", "1000", NULL, NULL, key, sizeof key, id, sizeof id);

	/* A song analysed through host 1 is a cache hit through host 2 (and back). */
	ck_assert(!analyze_cached(&srv, key, 550));
	ck_assert(analyze_cached(&host2, key, 550));
	ck_assert(analyze_cached(&srv, key, 550));

	/* Warm both hosts' key caches (every responder), deactivate through songscope-admin: both refuse the key
	 * on their very next request; activated again, both serve it. */
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(status_at(&srv, "/auth/key", key), 200);
		ck_assert_int_eq(status_at(&host2, "/auth/key", key), 200);
	}
	admin(NULL, "keys", "deactivate", id, NULL, NULL, NULL, NULL);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(status_at(&host2, "/auth/key", key), 403);
		ck_assert_int_eq(status_at(&srv, "/auth/key", key), 403);
	}
	admin(NULL, "keys", "activate", id, NULL, NULL, NULL, NULL);
	ck_assert_int_eq(status_at(&srv, "/auth/key", key), 200);
	ck_assert_int_eq(status_at(&host2, "/auth/key", key), 200);

	/* Host 1's master killed outright: its responders end with it (PDEATHSIG), host 1's nginx has nothing
	 * behind it (a JSON 503), and host 2 serves on, cache and keys included. */
	pid_t kids[8];
	int n = ss_it_children(srv.master_pid, kids, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(kill(srv.master_pid, SIGKILL), 0);
	int st;
	ck_assert_int_eq(waitpid(srv.master_pid, &st, 0), srv.master_pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	srv.master_pid = 0;
	bool all_ended = false;
	for (int i = 0; i < 1000 && !all_ended; i++) { /* bounded poll (10 s) on the responders' state */
		all_ended = true;
		for (int k = 0; k < n; k++)
			all_ended = all_ended && ended(kids[k]);
		if (!all_ended) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	ck_assert_msg(all_ended, "host 1's responders outlived their master");
	/* nginx's answer for an unreachable upstream (conf/nginx/songscope.conf): a JSON 503 busy. */
	char kh[160], url[160];
	snprintf(kh, sizeof kh, "X-API-Key: %.120s", key);
	snprintf(url, sizeof url, "%s/auth/key", srv.base_url);
	const char *hdrs[] = {kh, NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request_url("GET", url, hdrs, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 503, "busy");
	ss_it_resp_free(&r);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(status_at(&host2, "/auth/key", key), 200);
	ck_assert(analyze_cached(&host2, key, 550));
	ck_assert(!analyze_cached(&host2, key, 770));
}
END_TEST

/* GET path on host with key: the body as JSON (caller puts it); asserts 200. */
static json_object *get_json(const ss_it_server *host, const char *path, const char *key)
{
	char h[160], url[400];
	snprintf(h, sizeof h, "X-API-Key: %.120s", key);
	snprintf(url, sizeof url, "%s%s", host->base_url, path);
	const char *hdrs[] = {h, NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request_url("GET", url, hdrs, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	json_object *o = ss_it_json(&r);
	ss_it_resp_free(&r);
	return o;
}

static long long stats_member(const ss_it_server *host, const char *key, const char *name)
{
	json_object *o = get_json(host, "/stats", key), *v;
	ck_assert(json_object_object_get_ex(o, name, &v));
	long long n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

/* A /metrics sample (the line starting with `sample `) on host, or -1 when absent. */
static long long metric(const ss_it_server *host, const char *key, const char *sample)
{
	char h[160], url[400], pat[200];
	snprintf(h, sizeof h, "X-API-Key: %.120s", key);
	snprintf(url, sizeof url, "%s/metrics", host->base_url);
	snprintf(pat, sizeof pat, "\n%s ", sample);
	const char *hdrs[] = {h, NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request_url("GET", url, hdrs, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	const char *m = strstr(r.body.data, pat);
	long long v = m != NULL ? atoll(m + strlen(pat)) : -1;
	ss_it_resp_free(&r);
	return v;
}

/* Poll (bounded: 20 s) until /stats' name on host is want; returns the last value. */
static long long wait_stats(const ss_it_server *host, const char *key, const char *name, long long want)
{
	long long v = -1;
	for (int i = 0; i < 2000 && (v = stats_member(host, key, name)) != want; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL); /* a bounded poll on the published totals, not a synchronisation */
	}
	return v;
}

/* /stats and /metrics report every host's counters: 1 miss and 9 hits through host 1 and 14 through host 2,
 * plus 3 and 2 invalid keys, read on either host, are 23 hits, 1 miss and 5 invalid keys (once each host's
 * master has published, at most a second later), and stay so (nothing counted twice). */
START_TEST(stats_and_metrics_count_every_host)
{
	start_both("rate_limit_per_minute = 100000\n");
	char key[128], admin_key[128], id[32];
	create_key("client", NULL, NULL, NULL, NULL, key, sizeof key, id, sizeof id);
	create_key("ops", "--scope", "admin", NULL, NULL, admin_key, sizeof admin_key, id, sizeof id);
	ck_assert(!analyze_cached(&srv, key, 440));
	for (int i = 0; i < 9; i++)
		ck_assert(analyze_cached(&srv, key, 440));
	for (int i = 0; i < 14; i++)
		ck_assert(analyze_cached(&host2, key, 440));
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(status_at(i < 3 ? &srv : &host2, "/auth/key", "ss_not_a_key"), 403);

	ck_assert_int_eq(wait_stats(&srv, admin_key, "cache_hits", 23), 23);
	ck_assert_int_eq(wait_stats(&host2, admin_key, "cache_hits", 23), 23);
	ck_assert_int_eq(stats_member(&srv, admin_key, "cache_misses"), 1);
	ck_assert_int_eq(stats_member(&host2, admin_key, "cache_misses"), 1);
	ck_assert_int_eq(stats_member(&host2, admin_key, "total_analyses"), 1);
	ck_assert_int_eq(metric(&srv, admin_key, "songscope_cache_hits_total"), 23);
	ck_assert_int_eq(metric(&host2, admin_key, "songscope_cache_misses_total"), 1);
	const char *invalid = "songscope_auth_rejections_total{reason=\"invalid_api_key\"}";
	long long inv = -1;
	for (int i = 0; i < 2000 && (inv = metric(&host2, admin_key, invalid)) != 5; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(inv, 5);
	ck_assert_int_eq(metric(&srv, admin_key, invalid), 5);

	/* Host 2 stopped (its master publishes once more as it stops): its counts stay in the totals. */
	ck_assert_int_eq(ss_it_stop_songscope(&host2), 0);
	ck_assert_int_eq(analyze_cached(&srv, key, 440), true);
	ck_assert_int_eq(wait_stats(&srv, admin_key, "cache_hits", 24), 24);
	ck_assert_int_eq(stats_member(&srv, admin_key, "cache_misses"), 1);
}
END_TEST

/* GET /health on host; its status. */
static long health_at(const ss_it_server *host)
{
	char url[160];
	snprintf(url, sizeof url, "%s/health", host->base_url);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request_url("GET", url, NULL, NULL, 0, &r), 0);
	long st = r.status;
	ss_it_resp_free(&r);
	return st;
}

/* Redis stopped and started again empty: the requests both hosts answered meanwhile (/health 503s, counted by
 * each host as usual) reach the totals once Redis is back, with everything counted before (each host publishes
 * its whole totals again): nothing lost, nothing twice. */
/* Each responder reconnects to Redis on its own next request (at most every 250 ms): poll (bounded) until
 * 8 keyed requests in a row, whichever responder nginx picks, are served. */
static void wait_served(const ss_it_server *host, const char *key)
{
	int in_a_row = 0;
	for (int i = 0; i < 2000 && in_a_row < 8; i++) {
		if (status_at(host, "/auth/key", key) == 200) {
			in_a_row++;
		} else {
			in_a_row = 0;
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	ck_assert_int_ge(in_a_row, 8);
}

START_TEST(counters_survive_a_redis_outage)
{
	start_both("rate_limit_per_minute = 100000\n");
	char key[128], admin_key[128], id[32];
	create_key("client", NULL, NULL, NULL, NULL, key, sizeof key, id, sizeof id);
	create_key("ops", "--scope", "admin", NULL, NULL, admin_key, sizeof admin_key, id, sizeof id);
	ck_assert(!analyze_cached(&srv, key, 330));
	for (int i = 0; i < 4; i++)
		ck_assert(analyze_cached(i % 2 ? &srv : &host2, key, 330));
	ck_assert_int_eq(wait_stats(&srv, admin_key, "cache_hits", 4), 4);

	ss_redis_stop(&srv.redis);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(health_at(i < 4 ? &srv : &host2), 503);
	ck_assert_int_eq(ss_redis_start(&srv.redis, srv.dir), 0);
	wait_served(&srv, admin_key);
	wait_served(&host2, admin_key);

	const char *h503 = "songscope_requests_total{endpoint=\"health\",status=\"503\"}";
	long long v = -1;
	for (int i = 0; i < 2000; i++) { /* bounded poll (20 s): until both hosts have published again */
		ss_it_resp r;
		char h[160], url[160];
		snprintf(h, sizeof h, "X-API-Key: %.120s", admin_key);
		snprintf(url, sizeof url, "%s/metrics", host2.base_url);
		const char *hdrs[] = {h, NULL};
		ck_assert_int_eq(ss_it_request_url("GET", url, hdrs, NULL, 0, &r), 0);
		v = -1;
		if (r.status == 200) {
			char pat[160];
			snprintf(pat, sizeof pat, "\n%s ", h503);
			const char *m = strstr(r.body.data, pat);
			v = m != NULL ? atoll(m + strlen(pat)) : 0;
		}
		ss_it_resp_free(&r);
		if (v == 6)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(v, 6);
	ck_assert_int_eq(wait_stats(&srv, admin_key, "cache_hits", 4), 4);
	ck_assert_int_eq(stats_member(&host2, admin_key, "cache_hits"), 4);
	ck_assert_int_eq(stats_member(&host2, admin_key, "cache_misses"), 1);
	ck_assert_int_eq(metric(&srv, admin_key, h503), 6);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		printf("SKIP: nginx is not installed\n");
		return 77;
	}
	if (!ss_pg_server_available()) {
		printf("SKIP: PostgreSQL is not installed (no %s/initdb; tools/install-deps.sh installs postgresql-15)\n",
		       ss_pg_server_bindir());
		return 77;
	}
	if (!ss_redis_available()) {
		printf("SKIP: redis-server is not installed (tools/install-deps.sh installs it)\n");
		return 77;
	}
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
