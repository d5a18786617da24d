/* The shared state file: creation and rebuild, GCRA limiter and daily quota (exact under racing
 * processes, day rollover), a lock owner killed mid-update, failed-key limiting, counters, responders. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config/config.h"
#include "core/limits/limiter.h"
#include "core/limits/state.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"

#define NS 1000000000LL
#define DAY_NS (86400LL * NS)

static char dir[256];
static char path[300];

static void setup(void)
{
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, "ss-state-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/state", dir);
}

static void teardown(void)
{
	ck_assert_int_eq(ss_scratch_remove(dir), 0);
}

static ss_state *open_state(void)
{
	ss_state *st = NULL;
	ss_error err;
	ss_error_clear(&err);
	ck_assert_msg(ss_state_open(path, NULL, NULL, &st, &err) == 0, "%s", err.msg);
	return st;
}

/* Noon of some UTC day, so tests do not depend on the wall clock. */
static const int64_t T0 = 20000LL * DAY_NS + 12LL * 3600 * NS;

START_TEST(create_reopen_and_share)
{
	ss_state *a = open_state();
	ck_assert(ss_state_was_created(a));
	ss_state *b = open_state();
	ck_assert(!ss_state_was_created(b));
	uint64_t g = ss_state_key_generation(b);
	ck_assert_uint_eq(ss_state_bump_key_generation(a), g + 1);
	ck_assert_uint_eq(ss_state_key_generation(b), g + 1);
	ck_assert_uint_eq(ss_state_counter_add(a, 3, 5), 5);
	ck_assert_uint_eq(ss_state_counter_add(b, 3, 2), 7);
	ck_assert_uint_eq(ss_state_counter_get(a, 3), 7);
	ck_assert_uint_eq(ss_state_counter_get(a, SS_STATE_COUNTERS), 0); /* out of range: ignored */
	ss_state_counter_set(b, 3, 1);
	ck_assert_uint_eq(ss_state_counter_get(a, 3), 1);
	ss_state_close(a);
	ss_state_close(b);
	ss_state_close(NULL);
	/* Counts survive closing every handle (restart). */
	ss_state *c = open_state();
	ck_assert(!ss_state_was_created(c));
	ck_assert_uint_eq(ss_state_counter_get(c, 3), 1);
	ss_state_close(c);
}
END_TEST

static int seed_calls;
static int seed_fn(void *arg, ss_state *st)
{
	(void)arg;
	seed_calls++;
	ss_error err;
	return ss_state_seed_day(st, 42, ss_state_day(T0), 9, &err);
}

START_TEST(foreign_file_is_rebuilt_and_reseeded)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	char junk[4096];
	memset(junk, 0x5a, sizeof junk);
	ck_assert_int_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
	close(fd);
	ss_state *st = NULL;
	ss_error err;
	seed_calls = 0;
	ck_assert_int_eq(ss_state_open(path, seed_fn, NULL, &st, &err), 0);
	ck_assert(ss_state_was_created(st));
	ck_assert_int_eq(seed_calls, 1);
	ck_assert_int_eq(ss_state_day_count(st, 42, T0), 9);
	/* The seeded count holds against the daily limit: 9 used, limit 10 → one more. */
	ss_state_decision d;
	ck_assert_int_eq(ss_state_acquire(st, 42, 100, 0, 10, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_int_eq(ss_state_acquire(st, 42, 100, 0, 10, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_DAILY_LIMITED);
	ss_state_close(st);
	/* A valid file is not rebuilt and the seed is not run again. */
	ck_assert_int_eq(ss_state_open(path, seed_fn, NULL, &st, &err), 0);
	ck_assert(!ss_state_was_created(st));
	ck_assert_int_eq(seed_calls, 1);
	ck_assert_int_eq(ss_state_check(st, &err), 0);
	ss_state_close(st);
}
END_TEST

START_TEST(gcra_full_minute_burst_then_rate)
{
	ss_state *st = open_state();
	ss_error err;
	ss_state_decision d;
	/* 60/min with a burst of 59: a fresh key may send 60 at once... */
	for (int i = 0; i < 60; i++) {
		ck_assert_int_eq(ss_state_acquire(st, 1, 60, 59, 0, T0, &d, &err), 0);
		ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
		ck_assert_int_eq(d.limit, 60);
		ck_assert_int_eq(d.remaining, 59 - i);
	}
	ck_assert_int_eq(d.reset_s, 60);
	/* ...then is held to one per second. */
	ck_assert_int_eq(ss_state_acquire(st, 1, 60, 59, 0, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_RATE_LIMITED);
	ck_assert_int_eq(d.retry_after_s, 1);
	ck_assert_int_eq(d.remaining, 0);
	ck_assert_int_eq(ss_state_acquire(st, 1, 60, 59, 0, T0 + NS / 2, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_RATE_LIMITED);
	ck_assert_int_eq(ss_state_acquire(st, 1, 60, 59, 0, T0 + NS, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_int_eq(d.remaining, 0);
	ck_assert_int_eq(ss_state_acquire(st, 1, 60, 59, 0, T0 + NS, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_RATE_LIMITED);
	/* A full minute later the whole allowance is back. */
	ck_assert_int_eq(ss_state_acquire(st, 1, 60, 59, 0, T0 + 61 * NS, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_int_eq(d.remaining, 59);
	/* Refused requests were not counted. */
	ck_assert_int_eq(ss_state_day_count(st, 1, T0), 62);
	/* A clock that jumps back never holds a key for more than a minute. */
	ck_assert_int_eq(ss_state_acquire(st, 1, 60, 59, 0, T0 - 3600 * NS, &d, &err), 0);
	ck_assert_int_le(d.retry_after_s, 60);
	ss_state_close(st);
}
END_TEST

START_TEST(daily_limit_and_day_rollover)
{
	ss_state *st = open_state();
	ss_error err;
	ss_state_decision d;
	int64_t late = ss_state_day(T0) * DAY_NS + DAY_NS - 90 * NS; /* 23:58:30 UTC */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ss_state_acquire(st, 5, 1000, 1000, 3, late, &d, &err), 0);
		ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
		ck_assert_int_eq(d.day_count, i + 1);
	}
	ck_assert_int_eq(ss_state_acquire(st, 5, 1000, 1000, 3, late, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_DAILY_LIMITED);
	ck_assert_int_eq(d.retry_after_s, 90); /* to UTC midnight */
	ck_assert_int_eq(ss_state_acquire(st, 5, 1000, 1000, 3, late + 89 * NS, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_DAILY_LIMITED);
	/* Midnight: a new day, a new allowance. */
	int64_t next = late + 90 * NS;
	ck_assert_int_eq(ss_state_day(next), ss_state_day(late) + 1);
	ck_assert_int_eq(ss_state_day_count(st, 5, next), 0);
	ck_assert_int_eq(ss_state_acquire(st, 5, 1000, 1000, 3, next, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_int_eq(d.day_count, 1);
	/* Raising the limit (admin `keys limit`) applies at once. */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(ss_state_acquire(st, 5, 1000, 1000, 3, next, &d, &err), 0);
	ck_assert_int_eq(ss_state_acquire(st, 5, 1000, 1000, 3, next, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_DAILY_LIMITED);
	ck_assert_int_eq(ss_state_acquire(st, 5, 1000, 1000, 4, next, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_int_eq(ss_state_day(-1), -1);
	ss_state_close(st);
}
END_TEST

/* Children race on one key: each opens its own mapping, tries `tries` times, and reports its successes
 * through its exit status. */
static int race(int children, int tries, int64_t key, int rate, int burst, int64_t daily, int64_t now)
{
	pid_t pids[16];
	for (int c = 0; c < children; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			ss_state *st = NULL;
			ss_error err;
			if (ss_state_open(path, NULL, NULL, &st, &err) != 0)
				_exit(255);
			int ok = 0;
			for (int i = 0; i < tries; i++) {
				ss_state_decision d;
				if (ss_state_acquire(st, key, rate, burst, daily, now ? now : ss_state_now_ns(), &d, &err) != 0)
					_exit(254);
				ok += d.verdict == SS_STATE_ALLOWED;
			}
			ss_state_close(st);
			_exit(ok);
		}
	}
	int total = 0;
	for (int c = 0; c < children; c++) {
		int status;
		ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
		ck_assert(WIFEXITED(status));
		ck_assert_int_lt(WEXITSTATUS(status), 254);
		total += WEXITSTATUS(status);
	}
	return total;
}

START_TEST(exact_limits_with_racing_processes)
{
	ss_state *st = open_state(); /* create before the children race to open it */
	/* daily_limit 50, 8 processes x 40 attempts at real time: exactly 50 succeed. */
	ck_assert_int_eq(race(8, 40, 7, 1000000, 1000000, 50, 0), 50);
	ck_assert_int_eq(ss_state_day_count(st, 7, ss_state_now_ns()), 50);
	/* 30 per minute with a burst of 3 at one instant: exactly 4 succeed. */
	ck_assert_int_eq(race(8, 20, 8, 30, 3, 0, T0), 4);
	ss_error err;
	ck_assert_int_eq(ss_state_check(st, &err), 0);
	ss_state_close(st);
}
END_TEST

START_TEST(concurrent_first_open_builds_one_file)
{
	/* Eight processes open a missing file at once and each bumps a counter: one file, all bumps seen. */
	pid_t pids[8];
	for (int c = 0; c < 8; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			ss_state *st = NULL;
			ss_error err;
			if (ss_state_open(path, NULL, NULL, &st, &err) != 0)
				_exit(1);
			ss_state_counter_add(st, 0, 1);
			ss_state_close(st);
			_exit(0);
		}
	}
	for (int c = 0; c < 8; c++) {
		int status;
		ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ss_state *st = open_state();
	ck_assert_uint_eq(ss_state_counter_get(st, 0), 8);
	ss_state_close(st);
}
END_TEST

START_TEST(owner_killed_while_holding_the_mutex)
{
	ss_state *st = open_state();
	ss_error err;
	ss_state_decision d;
	ck_assert_int_eq(ss_state_acquire(st, 11, 100, 10, 0, T0, &d, &err), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ss_state *c = NULL;
		if (ss_state_open(path, NULL, NULL, &c, &err) != 0 || ss_state_test_lock_and_hold(c) != 0)
			_exit(1);
		raise(SIGKILL); /* dies holding the lock, with a torn slot behind it */
		_exit(2);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	uint64_t before = ss_state_repairs(st);
	/* The next locker gets EOWNERDEAD, repairs, marks the mutex consistent and carries on. */
	ck_assert_int_eq(ss_state_acquire(st, 11, 100, 10, 0, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_uint_eq(ss_state_repairs(st), before + 1);
	ck_assert_msg(ss_state_check(st, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(ss_state_day_count(st, 11, T0), 2);
	/* And it stays usable for everyone: another process can lock it normally. */
	ck_assert_int_eq(race(2, 5, 12, 1000, 100, 0, T0), 10);
	ck_assert_uint_eq(ss_state_repairs(st), before + 1);
	ss_state_close(st);
}
END_TEST

START_TEST(failed_key_attempts_per_address)
{
	ss_state *st = open_state();
	ss_error err;
	int retry;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ss_state_authfail_blocked(st, "10.0.0.1", 3, T0, &retry, &err), 0);
		ck_assert_int_eq(ss_state_authfail_record(st, "10.0.0.1", 3, T0, &err), 0);
	}
	ck_assert_int_eq(ss_state_authfail_blocked(st, "10.0.0.1", 3, T0, &retry, &err), 1);
	ck_assert_int_eq(retry, 20);
	ck_assert_int_eq(ss_state_authfail_blocked(st, "10.0.0.2", 3, T0, &retry, &err), 0);
	ck_assert_int_eq(ss_state_authfail_blocked(st, "10.0.0.1", 3, T0 + 20 * NS, &retry, &err), 0);
	/* Many addresses cannot grow anything: the table is fixed and recycles recovered entries. */
	char a[32];
	for (int i = 0; i < 3 * SS_STATE_ADDR_SLOTS; i++) {
		snprintf(a, sizeof a, "192.168.%d.%d", i / 256, i % 256);
		ck_assert_int_eq(ss_state_authfail_record(st, a, 3, T0, &err), 0);
	}
	ss_state_close(st);
}
END_TEST

START_TEST(forgotten_key_starts_fresh_and_table_recycles)
{
	ss_state *st = open_state();
	ss_error err;
	ss_state_decision d;
	ck_assert_int_eq(ss_state_acquire(st, 21, 1, 0, 0, T0, &d, &err), 0);
	ck_assert_int_eq(ss_state_acquire(st, 21, 1, 0, 0, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_RATE_LIMITED);
	ck_assert_int_eq(ss_state_forget_key(st, 21, &err), 0);
	ck_assert_int_eq(ss_state_acquire(st, 21, 1, 0, 0, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	/* More keys than slots over several days: yesterday's recovered slots are reused. */
	for (int day = 0; day < 3; day++)
		for (int64_t k = 1; k <= SS_STATE_KEY_SLOTS / 2; k++)
			ck_assert_int_eq(ss_state_acquire(st, k + day * SS_STATE_KEY_SLOTS, 100, 10, 0,
							  T0 + day * DAY_NS, &d, &err), 0);
	ck_assert_int_eq(ss_state_check(st, &err), 0);
	ss_state_close(st);
}
END_TEST

START_TEST(responders_alive_counts_live_processes)
{
	ss_state *st = open_state();
	ss_error err;
	ck_assert_int_eq(ss_state_responders_alive(st), 0);
	ck_assert_int_eq(ss_state_register_responder(st, &err), 0);
	ck_assert_int_eq(ss_state_register_responder(st, &err), 0);
	ck_assert_int_eq(ss_state_responders_alive(st), 1);
	pid_t pid = fork();
	if (pid == 0) {
		ss_state *c = NULL;
		if (ss_state_open(path, NULL, NULL, &c, &err) != 0 || ss_state_register_responder(c, &err) != 0)
			_exit(1);
		_exit(0); /* dies registered (no close) */
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(ss_state_responders_alive(st), 1);
	ss_state_close(st);
	st = open_state();
	ck_assert_int_eq(ss_state_responders_alive(st), 0);
	ss_state_close(st);
}
END_TEST

START_TEST(replaced_file_is_noticed)
{
	ss_state *a = open_state();
	ck_assert(ss_state_is_current(a));
	ck_assert_int_eq(unlink(path), 0);
	ck_assert(!ss_state_is_current(a));
	ss_state *b = open_state(); /* e.g. songscope-admin recreates it */
	ck_assert(ss_state_was_created(b));
	ck_assert(ss_state_is_current(b));
	ck_assert(!ss_state_is_current(a));
	ss_state_close(a);
	a = open_state(); /* the responder follows the new file and sees its generation */
	ss_state_bump_key_generation(b);
	ck_assert_uint_eq(ss_state_key_generation(a), ss_state_key_generation(b));
	ss_state_close(a);
	ss_state_close(b);
}
END_TEST

/* The lock records its holder: a process stopped while holding it is named (pid, time held) to whoever
 * looks (the master, through ss_state_attach), and once it is killed the next locker repairs and goes on. */
START_TEST(lock_holder_is_recorded)
{
	ss_state *st = open_state();
	ss_error err;
	ss_state_decision d;
	pid_t who;
	int64_t held;
	ck_assert(!ss_state_lock_holder(st, &who, &held));
	ck_assert_int_eq(ss_state_acquire(st, 11, 100, 10, 0, T0, &d, &err), 0);
	ck_assert(!ss_state_lock_holder(st, &who, &held)); /* cleared before unlocking */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ss_state *c = NULL;
		if (ss_state_open(path, NULL, NULL, &c, &err) != 0 || ss_state_test_lock_and_hold(c) != 0)
			_exit(1);
		raise(SIGSTOP);
		_exit(2);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(status));
	ss_state *watch = NULL;
	ck_assert_msg(ss_state_attach(path, &watch, &err) == 0, "%s", err.msg);
	ck_assert(ss_state_lock_holder(watch, &who, &held));
	ck_assert_int_eq(who, pid);
	ck_assert_int_ge(held, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(ss_state_acquire(st, 11, 100, 10, 0, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert(!ss_state_lock_holder(watch, &who, &held));
	ck_assert_msg(ss_state_check(st, &err) == 0, "%s", err.msg);
	ss_state_close(watch);
	/* attach never creates a file */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(ss_state_attach(path, &watch, &err), -1);
	ck_assert_int_eq(access(path, F_OK), -1);
	ss_state_close(st);
}
END_TEST

/* Bytes of the file overwritten (as by a stray write or a bad disk) at `off`. */
static void scribble(off_t off, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

/* Every public function on st must return (an error or a harmless value), never crash or hang. */
static void call_everything(ss_state *st)
{
	ss_error err;
	ss_state_decision d;
	int retry;
	pid_t who;
	int64_t held, at;
	char why[64];
	(void)ss_state_is_current(st);
	(void)ss_state_is_usable(st);
	(void)ss_state_problem(st);
	(void)ss_state_was_created(st);
	(void)ss_state_built_reason(st);
	(void)ss_state_rebuild_info(st, &at, why, sizeof why);
	(void)ss_state_lock_holder(st, &who, &held);
	(void)ss_state_acquire(st, 5, 100, 10, 10, T0, &d, &err);
	(void)ss_state_day_count(st, 5, T0);
	(void)ss_state_seed_day(st, 5, ss_state_day(T0), 3, &err);
	(void)ss_state_forget_key(st, 5, &err);
	(void)ss_state_authfail_blocked(st, "10.0.0.9", 3, T0, &retry, &err);
	(void)ss_state_authfail_record(st, "10.0.0.9", 3, T0, &err);
	(void)ss_state_key_generation(st);
	(void)ss_state_bump_key_generation(st);
	(void)ss_state_counter_add(st, 1, 1);
	(void)ss_state_counter_get(st, 1);
	ss_state_counter_set(st, 1, 7);
	(void)ss_state_register_responder(st, &err);
	(void)ss_state_responders_alive(st);
	(void)ss_state_repairs(st);
	(void)ss_state_check(st, &err);
}

/* Random bytes over the mutex (the offset 192, in a file whose header is intact): an open must not
 * trust it but rebuild, re-seeded; a process that had it mapped notices on its next call and reopens. */
START_TEST(corrupted_mutex_bytes_are_rebuilt)
{
	ss_error err;
	ss_state_decision d;
	for (unsigned seed = 1; seed <= 12; seed++) {
		ss_state *st = open_state();
		ck_assert_int_eq(ss_state_acquire(st, 5, 100, 10, 0, T0, &d, &err), 0);
		unsigned char junk[40];
		srand(seed);
		for (size_t i = 0; i < sizeof junk; i++)
			junk[i] = seed == 1 ? 0xff : seed == 2 ? 0x00 : (unsigned char)(rand() >> 5);
		if (seed == 3) /* looks locked by a process that does not exist */
			memcpy(junk, &(int32_t){0x3ffffff0}, 4);
		if (seed == 4) /* only the lock word: names a live process that never took the lock */
			scribble(192, &(int32_t){(int32_t)getppid()}, 4);
		else
			scribble(192, junk, sizeof junk);
		/* The mapped copy: at most one failed call, then the mapping says it is not current. */
		if (ss_state_acquire(st, 5, 100, 10, 0, T0, &d, &err) != 0)
			ck_assert(!ss_state_is_current(st));
		ss_state_close(st);
		st = open_state();
		ck_assert_msg(ss_state_was_created(st), "pattern %u: the corrupted file was trusted", seed);
		ck_assert_ptr_nonnull(ss_state_built_reason(st));
		int64_t at;
		char why[200];
		ck_assert(ss_state_rebuild_info(st, &at, why, sizeof why));
		ck_assert_str_eq(why, ss_state_built_reason(st));
		ck_assert_int_eq(ss_state_acquire(st, 5, 100, 10, 0, T0, &d, &err), 0);
		ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
		ck_assert_msg(ss_state_check(st, &err) == 0, "%s", err.msg);
		ss_state_close(st);
	}
}
END_TEST

/* The local limiter over a damaged file: the call that finds the damage reopens (rebuilding) and succeeds, and
 * the caller's log gets every note of it in order: that the file is unusable, then that it was rebuilt. Notes
 * nobody takes pile up to a bound, and then the oldest give way to a note saying how many were dropped. */
START_TEST(limiter_keeps_every_note_of_a_rebuild)
{
	ss_config c;
	ss_config_defaults(&c);
	snprintf(c.state_file, sizeof c.state_file, "%s", path);
	snprintf(c.limits, sizeof c.limits, "local");
	ss_limiter *lim = NULL;
	ss_error err;
	ss_error_clear(&err);
	ck_assert_msg(ss_limiter_open(&c, NULL, NULL, &lim, &err) == 0, "%s", err.msg);
	char note[400];
	ck_assert(ss_limiter_take_note(lim, note, sizeof note));
	ck_assert_msg(strstr(note, "built a new state file") != NULL, "%s", note);
	ck_assert(!ss_limiter_take_note(lim, note, sizeof note));

	unsigned char junk[40];
	memset(junk, 0xA5, sizeof junk);
	ss_limiter_decision d;
	int64_t key = 1;
	int events = 0;
	for (int round = 0; round < 20; round++) {
		scribble(192, junk, sizeof junk);
		ck_assert_msg(ss_limiter_admit(lim, key++, 100, 10, 0, ss_limiter_generation(lim), &d, &err) == 0, "%s",
			      err.msg);
		ck_assert_int_eq(d.verdict, SS_LIMITER_ALLOWED);
		events += 2;
		if (round == 0) {
			ck_assert(ss_limiter_take_note(lim, note, sizeof note));
			const char *want = "is unusable (its mutex's kind bytes are corrupted); reopening";
			ck_assert_msg(strstr(note, want) != NULL, "%s", note);
			ck_assert(ss_limiter_take_note(lim, note, sizeof note));
			ck_assert_msg(strstr(note, "rebuilt the state file") != NULL, "%s", note);
			ck_assert(!ss_limiter_take_note(lim, note, sizeof note));
			events = 0;
		}
	}
	/* 38 notes untaken: the first says how many older ones were dropped, the rest are the newest, in order. */
	ck_assert(ss_limiter_take_note(lim, note, sizeof note));
	unsigned dropped = 0;
	ck_assert_msg(sscanf(note, "%u earlier notes", &dropped) == 1, "%s", note);
	int kept = 0;
	bool unusable_next = dropped % 2 == 0; /* the notes come in pairs */
	while (ss_limiter_take_note(lim, note, sizeof note)) {
		const char *want = unusable_next ? "is unusable" : "rebuilt the state file";
		ck_assert_msg(strstr(note, want) != NULL, "%s", note);
		unusable_next = !unusable_next;
		kept++;
	}
	ck_assert_int_gt(kept, 0);
	ck_assert_int_eq((int)dropped + kept, events);
	ss_limiter_close(lim);
}
END_TEST

/* Damage found by a call that does not reopen by itself (here a direct table call) is repaired by the next
 * ss_limiter_maintain, which callers run after every request: the file is rebuilt there and then, not by
 * whichever call comes next. While the path cannot be built, maintain says when to try again, and does. */
START_TEST(limiter_maintain_rebuilds_what_a_call_found_broken)
{
	ss_config c;
	ss_config_defaults(&c);
	snprintf(c.state_file, sizeof c.state_file, "%s", path);
	snprintf(c.limits, sizeof c.limits, "local");
	ss_limiter *lim = NULL;
	ss_error err;
	ss_error_clear(&err);
	ck_assert_msg(ss_limiter_open(&c, NULL, NULL, &lim, &err) == 0, "%s", err.msg);
	char note[400];
	while (ss_limiter_take_note(lim, note, sizeof note))
		;
	bool reopened = true;
	ck_assert(ss_limiter_maintain(lim, &reopened) < 0); /* nothing to do: no system call, no note */
	ck_assert(!reopened);
	ck_assert(!ss_limiter_take_note(lim, note, sizeof note));

	unsigned char junk[40];
	memset(junk, 0xA5, sizeof junk);
	scribble(192, junk, sizeof junk);
	ss_state_decision sd;
	ck_assert_int_ne(ss_state_acquire(ss_limiter_host_state(lim), 5, 100, 10, 0, T0, &sd, &err), 0);
	ck_assert(ss_limiter_maintain(lim, &reopened) < 0);
	ck_assert(reopened);
	ck_assert(ss_limiter_take_note(lim, note, sizeof note));
	ck_assert_msg(strstr(note, "is unusable") != NULL, "%s", note);
	ck_assert(ss_limiter_take_note(lim, note, sizeof note));
	ck_assert_msg(strstr(note, "rebuilt the state file") != NULL, "%s", note);
	ss_state *other = open_state(); /* the file on disk is the rebuilt one */
	ck_assert(!ss_state_was_created(other));
	int64_t at;
	char why[200];
	ck_assert(ss_state_rebuild_info(other, &at, why, sizeof why));
	ck_assert_int_eq(ss_state_acquire(other, 5, 100, 10, 0, T0, &sd, &err), 0);

	/* The path taken by a directory: the damaged file cannot be rebuilt; maintain retries when it says. */
	scribble(192, junk, sizeof junk);
	ck_assert_int_ne(ss_state_acquire(other, 5, 100, 10, 0, T0, &sd, &err), 0); /* marks it broken for all */
	ss_state_close(other);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_ptr_null(ss_limiter_host_state(lim)); /* sees the mark, cannot reopen */
	double due = ss_limiter_maintain(lim, &reopened);
	ck_assert(!reopened); /* not yet due */
	ck_assert(due > 0 && due <= 1.0);
	ck_assert_int_eq(rmdir(path), 0);
	int tries = 0;
	for (;;) { /* bounded: each pass waits for the time maintain asked for, about a second */
		ck_assert_int_lt(tries++, 5);
		struct timespec ts = {(time_t)due, (long)((due - (double)(time_t)due) * 1e9)};
		nanosleep(&ts, NULL);
		due = ss_limiter_maintain(lim, &reopened);
		if (due < 0)
			break;
	}
	ck_assert(reopened);
	ck_assert_ptr_nonnull(ss_limiter_host_state(lim));
	ck_assert_int_eq(ss_state_acquire(ss_limiter_host_state(lim), 5, 100, 10, 0, T0, &sd, &err), 0);
	ss_limiter_close(lim);
}
END_TEST

/* A truncated file under a live mapping: no SIGBUS reaches the process; every call returns; the mapping
 * reports itself unusable; the next open rebuilds. Whole-file and partial truncation. */
START_TEST(truncated_file_every_function_returns)
{
	off_t sizes[] = {0, 4096, 64 * 1024};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		ss_state *st = open_state();
		ss_error err;
		ss_state_decision d;
		ck_assert_int_eq(ss_state_acquire(st, 5, 100, 10, 0, T0, &d, &err), 0);
		ck_assert_int_eq(truncate(path, sizes[k]), 0);
		call_everything(st);
		ck_assert(!ss_state_is_current(st));
		call_everything(st);
		ck_assert(!ss_state_is_usable(st));
		ck_assert_ptr_nonnull(ss_state_problem(st));
		ss_state_close(st);
		st = open_state();
		ck_assert(ss_state_was_created(st));
		ck_assert_ptr_nonnull(ss_state_built_reason(st));
		ck_assert_int_eq(ss_state_acquire(st, 5, 100, 10, 0, T0, &d, &err), 0);
		ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
		ss_state_close(st);
	}
}
END_TEST

/* A SIGBUS that has nothing to do with a state mapping still kills the process as before. */
START_TEST(foreign_sigbus_still_crashes)
{
	ss_state *st = open_state();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char other[320];
		snprintf(other, sizeof other, "%s/other", dir);
		int fd = open(other, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || ftruncate(fd, 8192) != 0)
			_exit(1);
		volatile char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || ftruncate(fd, 0) != 0)
			_exit(1);
		p[100] = 1; /* SIGBUS */
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* Killed by SIGBUS (or, under AddressSanitizer, whose handler was there first: reported, then exited or
	 * aborted as ASAN_OPTIONS say). */
	ck_assert_msg((WIFSIGNALED(status) && (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT)) ||
			      (WIFEXITED(status) && WEXITSTATUS(status) > 2),
		      "status %#x", status);
	ss_state_close(st);
}
END_TEST

/* ---- rate_limit_burst: over any 60 s window a key gets at most rate + burst requests ---- */

#define PERIOD_NS SS_STATE_PERIOD_NS

/* The most allowed timestamps (sorted) inside any half-open window [a, a + 60 s). The best window starts at
 * an allowed request, so trying each of them as the start covers every window. */
static int max_in_any_window(const int64_t *t, int n)
{
	int best = 0;
	for (int i = 0, j = 0; i < n; i++) {
		if (j < i)
			j = i;
		while (j < n && t[j] < t[i] + PERIOD_NS)
			j++;
		if (j - i > best)
			best = j - i;
	}
	return best;
}

/* One request of key at time now; appends now to t[] when allowed. Returns the decision's verdict. */
static int attempt(ss_state *st, int64_t key, int rate, int burst, int64_t now, int64_t *t, int *n, int cap,
		   ss_state_decision *d)
{
	ss_error err;
	ck_assert_msg(ss_state_acquire(st, key, rate, burst, 0, now, d, &err) == 0, "%s", err.msg);
	if (d->verdict == SS_STATE_ALLOWED) {
		ck_assert_int_lt(*n, cap);
		if (*n > 0)
			ck_assert_int_ge(now, t[*n - 1]);
		t[(*n)++] = now;
	}
	return d->verdict;
}

static const struct {
	int rate, burst;
} burst_pairs[] = {{1, 0}, {1, 2}, {2, 3}, {7, 0}, {7, 2}, {30, 3}, {60, 6}, {61, 60}, {1000, 100}};

START_TEST(burst_bounds_every_window_for_a_hammering_client)
{
	ss_state *st = open_state();
	enum { CAP = 20000 };
	int64_t *t = malloc(CAP * sizeof *t);
	ck_assert_ptr_nonnull(t);
	for (size_t p = 0; p < sizeof burst_pairs / sizeof burst_pairs[0]; p++) {
		int rate = burst_pairs[p].rate, burst = burst_pairs[p].burst, n = 0;
		int64_t key = 100 + (int64_t)p;
		ss_state_decision d;
		/* A fresh key gets burst + 1 at once, and no more. */
		for (int i = 0; i <= burst; i++) {
			ck_assert_int_eq(attempt(st, key, rate, burst, T0, t, &n, CAP, &d), SS_STATE_ALLOWED);
			ck_assert_int_eq(d.limit, rate);
			ck_assert_int_eq(d.remaining, burst - i);
		}
		ck_assert_int_eq(attempt(st, key, rate, burst, T0, t, &n, CAP, &d), SS_STATE_RATE_LIMITED);
		ck_assert_int_ge(d.retry_after_s, 1);
		ck_assert_int_eq(d.remaining, 0);
		/* Then a request every millisecond for four minutes, and again after a pause long enough to
		 * recover the whole burst. */
		for (int64_t now = T0 + 1000000; now < T0 + 240 * NS; now += 1000000)
			attempt(st, key, rate, burst, now, t, &n, CAP, &d);
		int64_t later = T0 + 240 * NS + (int64_t)(burst + 1) * (PERIOD_NS / rate + 1) + PERIOD_NS;
		for (int64_t now = later; now < later + 120 * NS; now += 1000000)
			attempt(st, key, rate, burst, now, t, &n, CAP, &d);
		ck_assert_msg(max_in_any_window(t, n) == rate + burst, "rate %d burst %d: %d in one window", rate,
			      burst, max_in_any_window(t, n));
	}
	free(t);
	ss_state_close(st);
}
END_TEST

START_TEST(burst_bounds_every_window_for_an_adversarial_client)
{
	/* A client that knows the algorithm's edges: it retries exactly on the emission interval and a
	 * nanosecond either side of it, waits out Retry-After to the nanosecond, idles to rebuild its burst
	 * and fires it at window edges. Whatever it does, no 60 s window holds more than rate + burst. */
	ss_state *st = open_state();
	enum { CAP = 200000 };
	int64_t *t = malloc(CAP * sizeof *t);
	ck_assert_ptr_nonnull(t);
	unsigned seed = 12345;
	for (size_t p = 0; p < sizeof burst_pairs / sizeof burst_pairs[0]; p++) {
		int rate = burst_pairs[p].rate, burst = burst_pairs[p].burst, n = 0;
		int64_t key = 200 + (int64_t)p;
		const int64_t T = (PERIOD_NS + rate - 1) / rate;
		int64_t now = T0;
		ss_state_decision d;
		int best = 0;
		/* First the greedy opening: the whole burst at once, then one request every T. */
		for (int i = 0; i <= burst; i++)
			ck_assert_int_eq(attempt(st, key, rate, burst, now, t, &n, CAP, &d), SS_STATE_ALLOWED);
		for (int i = 1; i < rate; i++)
			ck_assert_int_eq(attempt(st, key, rate, burst, now + i * T, t, &n, CAP, &d), SS_STATE_ALLOWED);
		now += (rate - 1) * T;
		for (int step = 0; step < 40000 && now < T0 + 3600 * NS; step++) {
			int verdict = attempt(st, key, rate, burst, now, t, &n, CAP, &d);
			int64_t gap;
			switch (rand_r(&seed) % 10) {
			case 0: gap = 0; break;
			case 1: gap = 1; break;
			case 2: gap = T - 1; break;
			case 3: gap = T; break;
			case 4: gap = T + 1; break;
			case 5: gap = verdict == SS_STATE_ALLOWED ? 0 : (int64_t)d.retry_after_s * NS - (int64_t)(rand_r(&seed) % 3); break;
			case 6: gap = (int64_t)(rand_r(&seed) % 1000) * (T / 1000 + 1); break;
			case 7: gap = PERIOD_NS - 1 - (int64_t)(rand_r(&seed) % 2) * T; break;
			case 8: gap = rand_r(&seed) % 50 == 0 ? (int64_t)(burst + 2) * T : 1000; break;
			default: gap = (int64_t)(rand_r(&seed) % 1000000); break;
			}
			now += gap < 0 ? 0 : gap;
		}
		best = max_in_any_window(t, n);
		ck_assert_msg(best <= rate + burst, "rate %d burst %d: %d in one window", rate, burst, best);
		/* The opening reached the bound (the fresh burst plus the steady rate). */
		ck_assert_msg(best == rate + burst, "rate %d burst %d: at most %d in a window", rate, burst, best);
	}
	free(t);
	ss_state_close(st);
}
END_TEST

START_TEST(burst_headers_mean_what_they_say)
{
	ss_state *st = open_state();
	ss_error err;
	ss_state_decision d;
	/* 30/min (one every 2 s) with a burst of 3: four at once, then one every 2 s. */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(ss_state_acquire(st, 300, 30, 3, 0, T0, &d, &err), 0);
		ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
		ck_assert_int_eq(d.limit, 30);
		ck_assert_int_eq(d.remaining, 3 - i);           /* requests that would succeed right now */
		ck_assert_int_eq(d.reset_s, 2 * (i + 1));        /* until the whole burst is back */
	}
	ck_assert_int_eq(ss_state_acquire(st, 300, 30, 3, 0, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_RATE_LIMITED);
	ck_assert_int_eq(d.retry_after_s, 2);
	ck_assert_int_eq(d.reset_s, 8);
	ck_assert_int_eq(ss_state_acquire(st, 300, 30, 3, 0, T0 + 2 * NS - 1, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_RATE_LIMITED);
	ck_assert_int_eq(ss_state_acquire(st, 300, 30, 3, 0, T0 + 2 * NS, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_int_eq(d.remaining, 0);
	/* After Reset seconds the whole burst is back. */
	ck_assert_int_eq(ss_state_acquire(st, 300, 30, 3, 0, T0 + 2 * NS + d.reset_s * NS, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_int_eq(d.remaining, 3);
	/* Burst 0: exactly the steady rate. */
	ck_assert_int_eq(ss_state_acquire(st, 301, 2, 0, 0, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_ALLOWED);
	ck_assert_int_eq(d.remaining, 0);
	ck_assert_int_eq(ss_state_acquire(st, 301, 2, 0, 0, T0, &d, &err), 0);
	ck_assert_int_eq(d.verdict, SS_STATE_RATE_LIMITED);
	ck_assert_int_eq(d.retry_after_s, 30);
	ck_assert_msg(ss_state_check(st, &err) == 0, "%s", err.msg);
	ss_state_close(st);
}
END_TEST

START_TEST(state_file_is_owner_only_whatever_the_umask)
{
	static const mode_t masks[] = {0, 077};
	for (size_t m = 0; m < 2; m++) {
		mode_t old = umask(masks[m]);
		unlink(path);
		ss_state *st = open_state(); /* built new */
		ck_assert(ss_state_was_created(st));
		struct stat sb;
		ck_assert_int_eq(stat(path, &sb), 0);
		ck_assert_msg((sb.st_mode & 07777) == 0600, "mode %03o under umask %03o", sb.st_mode & 07777, masks[m]);
		ss_state_close(st);
		umask(old);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_reopen_and_share);
	tcase_add_test(tc, foreign_file_is_rebuilt_and_reseeded);
	tcase_add_test(tc, gcra_full_minute_burst_then_rate);
	tcase_add_test(tc, daily_limit_and_day_rollover);
	tcase_add_test(tc, exact_limits_with_racing_processes);
	tcase_add_test(tc, concurrent_first_open_builds_one_file);
	tcase_add_test(tc, owner_killed_while_holding_the_mutex);
	tcase_add_test(tc, failed_key_attempts_per_address);
	tcase_add_test(tc, forgotten_key_starts_fresh_and_table_recycles);
	tcase_add_test(tc, responders_alive_counts_live_processes);
	tcase_add_test(tc, replaced_file_is_noticed);
	tcase_add_test(tc, corrupted_mutex_bytes_are_rebuilt);
	tcase_add_test(tc, limiter_keeps_every_note_of_a_rebuild);
	tcase_add_test(tc, limiter_maintain_rebuilds_what_a_call_found_broken);
	tcase_add_test(tc, truncated_file_every_function_returns);
	tcase_add_test(tc, foreign_sigbus_still_crashes);
	tcase_add_test(tc, lock_holder_is_recorded);
	tcase_add_test(tc, burst_bounds_every_window_for_a_hammering_client);
	tcase_add_test(tc, burst_bounds_every_window_for_an_adversarial_client);
	tcase_add_test(tc, burst_headers_mean_what_they_say);
	tcase_add_test(tc, state_file_is_owner_only_whatever_the_umask);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
