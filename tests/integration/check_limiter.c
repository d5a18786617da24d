/* The limiter interface against a real redis-server (tests/integration/redis_server.h): exact daily and
 * per-minute limits with racing processes, failed-key limits per address, key-change generation seen by
 * another limiter at once, seeding an empty day once, forgetting a key, a flushed script cache, a server
 * stopped and started again (the same limiter recovers by itself), and a server that never answers (the
 * command timeout bounds the call). The local backend runs the same race for comparison. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config/config.h"
#include "core/limits/limiter.h"
#include "core/limits/state.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"
#include "tests/integration/redis_server.h"

static char dir[256];
static ss_redis_server redis;

static void setup(void)
{
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, "ss-lim-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&redis, 0, sizeof redis);
	ck_assert_int_eq(ss_redis_start(&redis, dir), 0);
}

static void teardown(void)
{
	ss_redis_stop(&redis);
	ck_assert_int_eq(ss_scratch_remove(dir), 0);
}

static void config(ss_config *c, const char *backend)
{
	ss_config_defaults(c);
	snprintf(c->state_file, sizeof c->state_file, "%s/songscope.state", dir);
	snprintf(c->database, sizeof c->database, "%s/songscope.db", dir);
	snprintf(c->limits, sizeof c->limits, "%s", backend);
	snprintf(c->redis, sizeof c->redis, "unix:%s", redis.socket);
}

static ss_limiter *open_limiter(const char *backend, ss_limiter_seed_fn seed, void *arg)
{
	ss_config c;
	config(&c, backend);
	ss_limiter *lim = NULL;
	ss_error err;
	ss_error_clear(&err);
	ck_assert_msg(ss_limiter_open(&c, seed, arg, &lim, &err) == 0, "%s", err.msg);
	return lim;
}

static const char *redis_do(const char *a, const char *b, const char *c)
{
	static char out[256];
	const char *argv[] = {a, b, c, NULL};
	ck_assert_int_eq(ss_redis_command(&redis, out, sizeof out, argv), 0);
	return out;
}

/* Children each open their own limiter and make `tries` admits of key; returns how many were allowed. */
static int race(const char *backend, int children, int tries, int64_t key, int rate, int burst, int64_t daily)
{
	pid_t pids[16];
	for (int c = 0; c < children; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			ss_config cf;
			config(&cf, backend);
			ss_limiter *lim = NULL;
			ss_error err;
			if (ss_limiter_open(&cf, NULL, NULL, &lim, &err) != 0 || !ss_limiter_ready(lim))
				_exit(255);
			uint64_t gen = 0;
			if (ss_limiter_generation_sync(lim, &gen, &err) != 0)
				_exit(255);
			int ok = 0;
			for (int i = 0; i < tries; i++) {
				ss_limiter_decision d;
				if (ss_limiter_admit(lim, key, rate, burst, daily, gen, &d, &err) != 0)
					_exit(254);
				if (d.verdict == SS_LIMITER_ALLOWED)
					ok++;
				else if (d.verdict == SS_LIMITER_STALE || d.retry_after_s < 1)
					_exit(253);
			}
			ss_limiter_close(lim);
			_exit(ok);
		}
	}
	int total = 0;
	for (int c = 0; c < children; c++) {
		int status;
		ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
		ck_assert(WIFEXITED(status));
		ck_assert_msg(WEXITSTATUS(status) < 253, "child failed: %d", WEXITSTATUS(status));
		total += WEXITSTATUS(status);
	}
	return total;
}

START_TEST(exact_daily_limit_with_racing_processes)
{
	/* daily_limit 50, 8 processes x 20 attempts: exactly 50 succeed, and the count says 50. */
	ck_assert_int_eq(race("redis", 8, 20, 7, 1000000, 1000000, 50), 50);
	ss_limiter *lim = open_limiter("redis", NULL, NULL);
	ss_error err;
	ck_assert_int_eq(ss_limiter_day_count(lim, 7, &err), 50);
	/* The key's record expires by itself, after the day is over (count and expiry set in one script). */
	int ttl = atoi(redis_do("TTL", "songscope:k:7", NULL));
	ck_assert_int_gt(ttl, 0);
	ck_assert_int_le(ttl, 86400 + 61);
	ss_limiter_close(lim);
	/* The same race on the local backend gives the same answer. */
	ck_assert_int_eq(race("local", 8, 20, 7, 1000000, 1000000, 50), 50);
}
END_TEST

START_TEST(exact_rate_limit_with_racing_processes)
{
	/* 1 per minute with a burst of 9: within this test's run (well under a minute) exactly 10 succeed. */
	ck_assert_int_eq(race("redis", 8, 5, 8, 1, 9, 0), 10);
	ss_limiter *lim = open_limiter("redis", NULL, NULL);
	ss_limiter_decision d;
	ss_error err;
	ck_assert_int_eq(ss_limiter_admit(lim, 8, 1, 9, 0, ss_limiter_generation(lim), &d, &err), 0);
	if (d.verdict == SS_LIMITER_STALE) /* generation 0 before the first round trip: fine either way */
		ck_assert_int_eq(ss_limiter_admit(lim, 8, 1, 9, 0, d.generation, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_LIMITER_RATE_LIMITED);
	ck_assert_int_eq(d.remaining, 0);
	ck_assert_int_ge(d.retry_after_s, 1);
	ck_assert_int_le(d.retry_after_s, 60);
	ck_assert_int_eq(d.limit, 1);
	ck_assert_int_eq(ss_limiter_day_count(lim, 8, &err), 10); /* refused requests consume nothing */
	ss_limiter_close(lim);
}
END_TEST

START_TEST(failed_key_attempts_per_address)
{
	ss_limiter *lim = open_limiter("redis", NULL, NULL);
	ss_error err;
	int retry = 0;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ss_limiter_authfail_blocked(lim, "10.0.0.9", 3, &retry, &err), 0);
		ck_assert_int_eq(ss_limiter_authfail_record(lim, "10.0.0.9", 3, &err), 0);
	}
	ck_assert_int_eq(ss_limiter_authfail_blocked(lim, "10.0.0.9", 3, &retry, &err), 1);
	ck_assert_int_ge(retry, 1);
	ck_assert_int_le(retry, 20);
	/* Another address, and another limiter (another host) sees the same block. */
	ck_assert_int_eq(ss_limiter_authfail_blocked(lim, "10.0.0.10", 3, &retry, &err), 0);
	ss_limiter *other = open_limiter("redis", NULL, NULL);
	ck_assert_int_eq(ss_limiter_authfail_blocked(other, "10.0.0.9", 3, &retry, &err), 1);
	ss_limiter_close(other);
	ss_limiter_close(lim);
}
END_TEST

START_TEST(generation_bump_is_seen_by_the_next_admit)
{
	ss_limiter *a = open_limiter("redis", NULL, NULL), *b = open_limiter("redis", NULL, NULL);
	ss_error err;
	uint64_t g = 0;
	ck_assert_int_eq(ss_limiter_generation_sync(b, &g, &err), 0);
	ss_limiter_decision d;
	ck_assert_int_eq(ss_limiter_admit(b, 11, 100, 10, 0, g, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_LIMITER_ALLOWED);
	ck_assert_uint_eq(d.generation, g);
	/* A changes a key: B's very next admit under the old generation counts nothing and says so. */
	ck_assert_int_eq(ss_limiter_bump_generation(a, &err), 0);
	ck_assert_int_eq(ss_limiter_admit(b, 11, 100, 10, 0, g, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_LIMITER_STALE);
	ck_assert_uint_eq(d.generation, g + 1);
	ck_assert_uint_eq(ss_limiter_generation(b), g + 1);
	ck_assert_int_eq(ss_limiter_day_count(b, 11, &err), 1);
	ck_assert_int_eq(ss_limiter_admit(b, 11, 100, 10, 0, g + 1, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_LIMITER_ALLOWED);
	ck_assert_int_eq(d.day_count, 2);
	/* Forgetting the key (deleted) clears its counts. */
	ck_assert_int_eq(ss_limiter_forget_key(a, 11, &err), 0);
	ck_assert_int_eq(ss_limiter_day_count(b, 11, &err), 0);
	ss_limiter_close(a);
	ss_limiter_close(b);
}
END_TEST

static int seed_calls;
static int seed_fn(void *arg, ss_limiter *lim, int64_t day)
{
	(void)arg;
	seed_calls++;
	ss_error err;
	ck_assert_int_eq(ss_limiter_seed_day(lim, 5, day, 42, &err), 0);
	return 0;
}

START_TEST(an_empty_day_is_seeded_once)
{
	seed_calls = 0;
	ss_limiter *a = open_limiter("redis", seed_fn, NULL), *b = open_limiter("redis", seed_fn, NULL);
	ck_assert_int_eq(seed_calls, 0); /* opening does not connect */
	ck_assert(ss_limiter_ready(a));
	ck_assert(ss_limiter_ready(b));
	ck_assert_int_eq(seed_calls, 1); /* the second found the day seeded */
	ss_error err;
	ck_assert_int_eq(ss_limiter_day_count(b, 5, &err), 42);
	uint64_t g;
	ck_assert_int_eq(ss_limiter_generation_sync(a, &g, &err), 0);
	ss_limiter_decision d;
	ck_assert_int_eq(ss_limiter_admit(a, 5, 100, 10, 43, g, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_LIMITER_ALLOWED);
	ck_assert_int_eq(d.day_count, 43);
	ck_assert_int_eq(ss_limiter_admit(a, 5, 100, 10, 43, g, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_LIMITER_DAILY_LIMITED);
	ck_assert_int_ge(d.retry_after_s, 1);
	ck_assert_int_le(d.retry_after_s, 86400);
	/* Seeding never lowers a count. */
	ck_assert_int_eq(ss_limiter_seed_day(b, 5, ss_limiter_today(b), 3, &err), 0);
	ck_assert_int_eq(ss_limiter_day_count(b, 5, &err), 43);
	ss_limiter_close(a);
	ss_limiter_close(b);
}
END_TEST

START_TEST(flushed_script_cache_falls_back_to_eval)
{
	ss_limiter *lim = open_limiter("redis", NULL, NULL);
	ck_assert(ss_limiter_ready(lim));
	ck_assert_str_eq(redis_do("SCRIPT", "FLUSH", NULL), "OK");
	ss_error err;
	uint64_t g;
	ck_assert_int_eq(ss_limiter_generation_sync(lim, &g, &err), 0);
	ss_limiter_decision d;
	ck_assert_msg(ss_limiter_admit(lim, 12, 100, 10, 0, g, &d, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(d.verdict, SS_LIMITER_ALLOWED);
	ck_assert_msg(ss_limiter_admit(lim, 12, 100, 10, 0, g, &d, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(d.day_count, 2);
	ss_limiter_close(lim);
}
END_TEST

static void pause_briefly(void)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

START_TEST(server_stopped_then_back_recovers_by_itself)
{
	seed_calls = 0;
	ss_limiter *lim = open_limiter("redis", seed_fn, NULL);
	ck_assert(ss_limiter_probe(lim));
	ck_assert_ptr_null(ss_limiter_problem(lim));
	ck_assert_int_eq(seed_calls, 1);
	ss_redis_stop(&redis);
	ss_error err;
	ss_limiter_decision d;
	ck_assert_int_eq(ss_limiter_admit(lim, 13, 100, 10, 0, ss_limiter_generation(lim), &d, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ck_assert(!ss_limiter_probe(lim));
	ck_assert_ptr_nonnull(ss_limiter_problem(lim));
	ck_assert_ptr_nonnull(strstr(ss_limiter_problem(lim), "redis"));
	int blocked_retry;
	ck_assert_int_eq(ss_limiter_authfail_blocked(lim, "10.0.0.1", 3, &blocked_retry, &err), -1);
	ck_assert_int_eq(ss_limiter_bump_generation(lim, &err), -1);
	/* Back (empty: nothing was saved): the same limiter reconnects within a bounded wait and seeds again. */
	ck_assert_int_eq(ss_redis_start(&redis, dir), 0);
	bool back = false;
	for (int i = 0; i < 1000 && !back; i++) {
		back = ss_limiter_ready(lim);
		if (!back)
			pause_briefly();
	}
	ck_assert(back);
	ck_assert_int_eq(seed_calls, 2);
	uint64_t g;
	ck_assert_int_eq(ss_limiter_generation_sync(lim, &g, &err), 0);
	ck_assert_msg(ss_limiter_admit(lim, 5, 100, 10, 0, g, &d, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(d.verdict, SS_LIMITER_ALLOWED);
	ck_assert_int_eq(d.day_count, 43);
	ss_limiter_close(lim);
}
END_TEST

START_TEST(a_server_that_never_answers_is_bounded)
{
	/* A unix socket that accepts connections (the backlog) and never says a word. */
	char path[320];
	snprintf(path, sizeof path, "%s/mute.sock", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ck_assert_msg(strlen(path) < sizeof sa.sun_path, "socket path too long: %s", path);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ss_config c;
	config(&c, "redis");
	snprintf(c.redis, sizeof c.redis, "unix:%s", path);
	c.redis_timeout_ms = 100;
	ss_limiter *lim = NULL;
	ss_error err;
	ck_assert_int_eq(ss_limiter_open(&c, NULL, NULL, &lim, &err), 0);
	ss_limiter_decision d;
	ck_assert_int_eq(ss_limiter_admit(lim, 14, 100, 10, 0, 0, &d, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ck_assert(!ss_limiter_ready(lim)); /* dropped; no reconnect within 250 ms */
	ss_limiter_close(lim);
	close(fd);
}
END_TEST

START_TEST(bad_configuration_is_refused)
{
	ss_config c;
	config(&c, "redis");
	ss_error err;
	snprintf(c.redis, sizeof c.redis, "nonsense");
	ck_assert_int_eq(ss_config_validate(&c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "redis"));
	c.redis[0] = '\0';
	ck_assert_int_eq(ss_config_validate(&c, &err), -1);
	snprintf(c.redis, sizeof c.redis, "127.0.0.1:6379");
	ck_assert_int_eq(ss_config_validate(&c, &err), 0);
	snprintf(c.redis, sizeof c.redis, "unix:%s", redis.socket);
	ck_assert_int_eq(ss_config_validate(&c, &err), 0);
	snprintf(c.limits, sizeof c.limits, "etcd");
	ss_limiter *lim = NULL;
	ck_assert_int_eq(ss_limiter_open(&c, NULL, NULL, &lim, &err), -1);
	ck_assert_ptr_null(lim);
	ck_assert_int_eq(err.code, SS_ERR_CONFIG);
}
END_TEST

int main(void)
{
	if (!ss_redis_or_skip())
		return 77;
	Suite *s = suite_create("limiter");
	TCase *tc = tcase_create("redis");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, exact_daily_limit_with_racing_processes);
	tcase_add_test(tc, exact_rate_limit_with_racing_processes);
	tcase_add_test(tc, failed_key_attempts_per_address);
	tcase_add_test(tc, generation_bump_is_seen_by_the_next_admit);
	tcase_add_test(tc, an_empty_day_is_seeded_once);
	tcase_add_test(tc, flushed_script_cache_falls_back_to_eval);
	tcase_add_test(tc, server_stopped_then_back_recovers_by_itself);
	tcase_add_test(tc, a_server_that_never_answers_is_bounded);
	tcase_add_test(tc, bad_configuration_is_refused);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
