/* The master publishes this host's counters to Redis (limits = redis) once a second; a Redis that hangs (here:
 * SIGSTOPped, so it accepts and never answers) must not hold up the master's own duties. With the command
 * timeout at its largest (60 s) and Redis stopped: a SIGKILLed responder is replaced, a reload (SIGHUP) is
 * carried out and SIGTERM stops the master, each within a bound far below that timeout; once Redis runs
 * again the counters are published again.
 * Real nginx, master, responders, SQLite and redis-server. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/check_main.h"
#include "tests/integration/harness.h"

#define BOUND_S 10.0 /* every wait below: far below the 60 s a publish could hang */

static ss_it_server srv;

static void teardown(void)
{
	if (srv.redis.pid > 0)
		kill(srv.redis.pid, SIGCONT);
	ss_it_stop(&srv);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_a_little(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static long long redis_int(const char *const *argv)
{
	char out[128];
	ck_assert_int_eq(ss_redis_command(&srv.redis, out, sizeof out, argv), 0);
	return strtoll(out, NULL, 10);
}

/* Wait (bounded) until this host has published its counters (the set of publishing hosts is not empty). */
static void wait_published(void)
{
	double deadline = mono() + BOUND_S;
	while (redis_int((const char *const[]){"SCARD", "songscope:counters:hosts", NULL}) < 1) {
		ck_assert_msg(mono() < deadline, "the master never published its counters");
		pause_a_little();
	}
}

/* How many times the master's log says it publishes the counters. */
static int publishes_logged(void)
{
	char p[400];
	snprintf(p, sizeof p, "%s/songscope.log", srv.dir);
	FILE *f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof line, f) != NULL)
		n += strstr(line, "publishing this host's counters") != NULL;
	fclose(f);
	return n;
}

static bool log_says(const char *needle)
{
	char p[400];
	snprintf(p, sizeof p, "%s/songscope.log", srv.dir);
	FILE *f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	char line[1024];
	bool found = false;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* Wait (bounded) until the master starts one more publish than it had when called. */
static void wait_publish_started(void)
{
	int before = publishes_logged();
	double deadline = mono() + BOUND_S;
	while (publishes_logged() <= before) {
		ck_assert_msg(mono() < deadline, "the master started no publish");
		pause_a_little();
	}
}

START_TEST(a_hanging_redis_does_not_hold_up_the_master)
{
	ss_it_opts o = {.workers = 2,
			.auth = "required",
			.extra_conf = "redis_timeout_ms = 60000\nlog_level = debug\n"};
	ss_it_start(&srv, &o);
	ck_assert_int_gt(srv.redis.pid, 0);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	wait_published();

	/* Redis hangs, and the master has started a publish since (it says so in its debug log). */
	ck_assert_int_eq(kill(srv.redis.pid, SIGSTOP), 0);
	wait_publish_started();
	pid_t kids[8];
	int n = ss_it_children(srv.master_pid, kids, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(kill(kids[0], SIGKILL), 0);
	ck_assert_msg(ss_it_wait_children(srv.master_pid, 2, &kids[0], 1) == 0,
		      "the killed responder was not replaced while Redis hung");

	/* Redis answers again: the counters are published again (the set is emptied first, so its return shows
	 * a publish made after the outage). */
	ck_assert_int_eq(kill(srv.redis.pid, SIGCONT), 0);
	ck_assert_int_ge(redis_int((const char *const[]){"DEL", "songscope:counters:hosts", NULL}), 0);
	wait_published();

	/* Redis hangs again: a reload (SIGHUP) is carried out, and SIGTERM still stops the master promptly. */
	ck_assert_int_eq(kill(srv.redis.pid, SIGSTOP), 0);
	wait_publish_started();
	pid_t master = srv.master_pid;
	pid_t old_pub;
	ck_assert_int_eq(ss_it_counter_publishers(master, &old_pub, 1), 1);
	ck_assert_int_eq(kill(master, SIGHUP), 0);
	double reload_deadline = mono() + BOUND_S;
	while (!log_says("configuration reloaded")) {
		ck_assert_msg(mono() < reload_deadline, "the master did not reload while Redis hung");
		pause_a_little();
	}
	/* The reloaded configuration's publisher runs (the old one, stuck in its round trip, ends when that does). */
	for (;;) {
		pid_t pubs[4];
		int npub = ss_it_counter_publishers(master, pubs, 4);
		bool fresh = false;
		for (int i = 0; i < npub; i++)
			fresh = fresh || pubs[i] != old_pub;
		if (fresh)
			break;
		ck_assert_msg(mono() < reload_deadline, "no publisher for the reloaded configuration");
		pause_a_little();
	}
	ck_assert_int_eq(kill(master, SIGTERM), 0);
	double deadline = mono() + BOUND_S;
	int status = 0;
	pid_t got;
	while ((got = waitpid(master, &status, WNOHANG)) == 0) {
		ck_assert_msg(mono() < deadline, "the master did not stop on SIGTERM while Redis hung");
		pause_a_little();
	}
	ck_assert_int_eq(got, master);
	srv.master_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the master did not exit cleanly (%d)", status);
}
END_TEST

/* The number of threads of process pid (/proc/PID/status), or -1. */
static int threads_of(pid_t pid)
{
	char p[64], line[256];
	snprintf(p, sizeof p, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(p, "r");
	if (f == NULL)
		return -1;
	int n = -1;
	while (n < 0 && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "Threads: %d", &n) != 1)
			n = -1;
	fclose(f);
	return n;
}

/* The master forks responders all its life. A second thread in it could hold a lock of the C library (the
 * resolver's, while connecting to Redis) at a fork and leave the new responder to deadlock on its own first
 * connection; so the master runs one thread, and publishing is the work of a process of its own, which the
 * master replaces when it dies. */
START_TEST(the_publisher_is_a_process_the_master_replaces)
{
	ss_it_opts o = {.workers = 2, .auth = "required"};
	ss_it_start(&srv, &o);
	wait_published();
	ck_assert_int_eq(threads_of(srv.master_pid), 1);
	pid_t pub;
	ck_assert_msg(ss_it_counter_publishers(srv.master_pid, &pub, 1) == 1, "the master has no counter publisher");
	pid_t kids[8];
	ck_assert_int_eq(ss_it_children(srv.master_pid, kids, 8), 2); /* the responders */

	/* A Ctrl-C reaches the whole process group: the publisher leaves SIGINT (and SIGHUP) to the master and
	 * stays, to publish the last counts of the responders that are still finishing. */
	ck_assert_int_eq(kill(pub, SIGINT), 0);
	ck_assert_int_eq(kill(pub, SIGHUP), 0);
	ck_assert_int_ge(redis_int((const char *const[]){"DEL", "songscope:counters:hosts", NULL}), 0);
	wait_published();
	pid_t same;
	ck_assert_int_eq(ss_it_counter_publishers(srv.master_pid, &same, 1), 1);
	ck_assert_msg(same == pub, "SIGINT or SIGHUP ended the publisher");

	ck_assert_int_eq(kill(pub, SIGKILL), 0);
	ck_assert_int_ge(redis_int((const char *const[]){"DEL", "songscope:counters:hosts", NULL}), 0);
	wait_published();
	pid_t again;
	ck_assert_int_eq(ss_it_counter_publishers(srv.master_pid, &again, 1), 1);
	ck_assert_msg(again != pub, "the killed publisher was not replaced");
	ck_assert_int_eq(threads_of(srv.master_pid), 1);
	ck_assert(log_says("counter publisher"));

	/* Stopping the master stops its publisher too (after a last publish). */
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	ck_assert(ss_it_wait_ended(&again, 1, BOUND_S));
}
END_TEST

/* The .stats file deleted while the service runs: the responders count in a new file (fcgi/handlers/service.c),
 * and the publisher follows them there, publishing under the new file's host id (the host name, device and
 * inode of the file) beside the old one, instead of publishing the deleted file's counts for ever. */
START_TEST(the_publisher_follows_a_new_counters_file)
{
	ss_it_opts o = {.workers = 2, .auth = "required"};
	ss_it_start(&srv, &o);
	wait_published();
	char stats[600];
	snprintf(stats, sizeof stats, "%s.stats", srv.state);
	ck_assert_int_eq(unlink(stats), 0);
	ss_it_resp r;
	for (int i = 0; i < 400 && access(stats, F_OK) != 0; i++) { /* a responder opens it again */
		ck_assert_int_eq(ss_it_request(&srv, "GET", "/health", NULL, NULL, 0, &r), 0);
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(redis_int((const char *const[]){"SCARD", "songscope:counters:hosts", NULL}), 1);
	double deadline = mono() + BOUND_S;
	while (redis_int((const char *const[]){"SCARD", "songscope:counters:hosts", NULL}) < 2) {
		ck_assert_msg(mono() < deadline, "the publisher never published the new counters file");
		pause_a_little();
	}
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx())
		return 77;
	if (!ss_redis_or_skip())
		return 77;
	setenv("SS_IT_LIMITS", "redis", 1);
	Suite *s = suite_create("counter_publish");
	TCase *tc = tcase_create("counter_publish");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, a_hanging_redis_does_not_hold_up_the_master);
	tcase_add_test(tc, the_publisher_is_a_process_the_master_replaces);
	tcase_add_test(tc, the_publisher_follows_a_new_counters_file);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
