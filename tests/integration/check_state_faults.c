/* Faults in the shared state file under the real stack (nginx, the songscope master, responders, SQLite):
 * bytes corrupted over the lock, a responder stopped while it holds the lock, and a truncated file. In each
 * case authenticated requests must come back by themselves, no responder may die of it, the log must say
 * what happened and /health must tell the truth. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "core/limits/admission.h"
#include "core/limits/state.h"
#include "core/store/stats.h"
#include "tests/integration/harness.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"

#define LOCK_AREA_OFFSET 192 /* where the corruption landed: the mutex */

static ss_it_server srv;
static char key[128];

static void start(int workers)
{
	ss_it_opts o = {.workers = workers,
			.auth = "required",
			.extra_conf = "rate_limit_per_minute = 100000\nauth_failures_per_minute = 1000\n"
				      "metrics_allow = 127.0.0.1\n"};
	ss_it_start(&srv, &o);
	ss_it_make_key(&srv, "admin", key, sizeof key);
}

static void teardown(void)
{
	ss_it_stop(&srv);
}

static void pause_a_little(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* GET path with the admin key; returns the status (the body is checked to be a JSON answer). */
static long get_keyed(const char *path, ss_it_resp *r)
{
	char h[192];
	snprintf(h, sizeof h, "X-API-Key: %s", key);
	const char *hdrs[] = {h, NULL};
	ck_assert_int_eq(ss_it_request(&srv, "GET", path, hdrs, NULL, 0, r), 0);
	return r->status;
}

/* Send keyed requests until one answers 200 (bounded: `max` requests). Every answer before it must be a
 * JSON 503 `unavailable`. Returns how many 503s came first. */
static int until_ok(const char *path, int max)
{
	for (int i = 0; i < max; i++) {
		ss_it_resp r;
		long st = get_keyed(path, &r);
		if (st == 200) {
			ss_it_resp_free(&r);
			return i;
		}
		ck_assert_msg(st == 503, "%s answered %ld: %s", path, st, r.body.data ? r.body.data : "");
		ss_it_assert_error(&r, 503, "unavailable");
		ss_it_resp_free(&r);
		pause_a_little();
	}
	ck_abort_msg("%s never answered 200 again after %d requests", path, max);
	return -1;
}

/* The whole songscope log (caller frees). */
static char *read_log(void)
{
	char p[400];
	snprintf(p, sizeof p, "%s/songscope.log", srv.dir);
	FILE *f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	ss_buf b;
	ss_buf_init(&b, 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ck_assert_int_eq(ss_buf_append(&b, chunk, n), 0);
	fclose(f);
	ck_assert_int_eq(ss_buf_append(&b, "", 1), 0);
	return b.data;
}

static bool log_has(const char *needle)
{
	char *log = read_log();
	bool found = strstr(log, needle) != NULL;
	free(log);
	return found;
}

/* Wait (bounded) until the log says `needle`. */
static void wait_log(const char *needle)
{
	double deadline = mono() + 20.0;
	while (!log_has(needle)) {
		if (mono() > deadline) {
			char *log = read_log();
			ck_abort_msg("the log never said \"%s\":\n%s", needle, log);
		}
		pause_a_little();
	}
}

static void overwrite(const char *path, off_t off, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

static void sorted(pid_t *p, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && p[j - 1] > p[j]; j--) {
			pid_t t = p[j];
			p[j] = p[j - 1];
			p[j - 1] = t;
		}
}

static int children(pid_t *out)
{
	int n = ss_it_children(srv.master_pid, out, 16);
	sorted(out, n);
	return n;
}

/* /health's JSON: status code and the "state_file" object's "rebuilt_reason" (copied, or ""). */
static long health(char *reason, size_t len)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/health", NULL, NULL, 0, &r), 0);
	long st = r.status;
	json_object *j = ss_it_json(&r), *sf, *v;
	reason[0] = '\0';
	if (json_object_object_get_ex(j, "state_file", &sf) && json_object_object_get_ex(sf, "rebuilt_reason", &v))
		snprintf(reason, len, "%s", json_object_get_string(v));
	if (st != 200) {
		ck_assert(json_object_object_get_ex(j, "message", &v));
		ck_assert_msg(strstr(json_object_get_string(v), "state file") != NULL, "/health does not name it: %s",
			      json_object_get_string(v));
	}
	json_object_put(j);
	ss_it_resp_free(&r);
	return st;
}

/* Random-looking bytes over the mutex in a running service: the responders notice on their next request,
 * rebuild the file (re-seeded), log it and go on; no responder dies; /health reports the rebuild. */
START_TEST(corrupted_lock_bytes_are_rebuilt_while_running)
{
	start(2);
	ss_it_resp r;
	ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
	ss_it_resp_free(&r);
	pid_t before[16], after[16];
	int n = children(before);
	ck_assert_int_eq(n, 2);

	unsigned char junk[40];
	srand(13);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(rand() >> 7);
	overwrite(srv.state, LOCK_AREA_OFFSET, junk, sizeof junk);

	/* Each responder may answer one 503 for the request that finds the damage; then they serve again. */
	ck_assert_int_le(until_ok("/auth/key", 8), 2);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
		ss_it_resp_free(&r);
	}
	wait_log("rebuilt the state file");
	char reason[256];
	ck_assert_int_eq(health(reason, sizeof reason), 200);
	ck_assert_msg(reason[0] != '\0', "/health does not report the rebuild");
	ck_assert_int_eq(children(after), n);
	ck_assert_msg(memcmp(before, after, sizeof(pid_t) * (size_t)n) == 0, "a responder died");
}
END_TEST

/* One responder, one request after the damage, then silence: the responder that found the damage rebuilds the
 * file and the log says so by itself (not on some later request, which may never come to that responder). */
START_TEST(a_rebuild_is_logged_without_a_later_request)
{
	start(1);
	ss_it_resp r;
	ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
	ss_it_resp_free(&r);
	unsigned char junk[40];
	memset(junk, 0xA5, sizeof junk);
	overwrite(srv.state, LOCK_AREA_OFFSET, junk, sizeof junk);
	ck_assert_int_eq(get_keyed("/auth/key", &r), 200); /* the request that finds the damage recovers */
	ss_it_resp_free(&r);
	wait_log("is unusable (its mutex's kind bytes are corrupted); reopening it");
	wait_log("rebuilt the state file");
}
END_TEST

/* The same damage found at start: a restarted service must not trust the file (the header is intact). */
START_TEST(corrupted_lock_bytes_are_rebuilt_at_start)
{
	start(2);
	ss_it_resp r;
	ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	unsigned char junk[40];
	memset(junk, 0xA5, sizeof junk);
	overwrite(srv.state, LOCK_AREA_OFFSET, junk, sizeof junk);
	ss_it_start_songscope(&srv);
	ck_assert_int_le(until_ok("/auth/key", 8), 2);
	wait_log("rebuilt the state file");
}
END_TEST

/* Truncating the file under running responders: none dies of SIGBUS, requests succeed again after the
 * rebuild, the log says it was rebuilt. */
START_TEST(truncated_file_is_rebuilt_and_nobody_dies)
{
	start(2);
	ss_it_resp r;
	ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
	ss_it_resp_free(&r);
	pid_t before[16], after[16];
	int n = children(before);
	ck_assert_int_eq(n, 2);

	ck_assert_int_eq(truncate(srv.state, 0), 0);
	ck_assert_int_le(until_ok("/auth/key", 8), 2);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(get_keyed("/stats", &r), 200);
		ss_it_resp_free(&r);
	}
	wait_log("rebuilt the state file");
	struct stat sb;
	ck_assert_int_eq(stat(srv.state, &sb), 0);
	ck_assert_int_gt(sb.st_size, 0);
	ck_assert_int_eq(children(after), n);
	ck_assert_msg(memcmp(before, after, sizeof(pid_t) * (size_t)n) == 0, "a responder died");
	ck_assert_int_eq(kill(srv.master_pid, 0), 0);

	/* Partly truncated (the header page stays, the tables go) is caught the same way. */
	ck_assert_int_eq(truncate(srv.state, 4096), 0);
	ck_assert_int_le(until_ok("/auth/key", 8), 2);
	ck_assert_int_eq(children(after), n);
	ck_assert_msg(memcmp(before, after, sizeof(pid_t) * (size_t)n) == 0, "a responder died");
}
END_TEST

/* Responders registered (holding their alive byte) in the admission file at path now; 0 when there is none. */
static int alive_in(const char *path)
{
	if (access(path, F_OK) != 0)
		return 0;
	ss_admission *a = NULL;
	ss_error err;
	ck_assert_msg(ss_admission_open(path, 1, &a, &err) == 0, "%s", err.msg);
	int n = ss_admission_alive(a);
	ss_admission_close(a);
	return n;
}

/* Requests counted in the counters file at path (its header, then the slots). */
static uint64_t requests_in(const char *path)
{
	uint64_t v = 0;
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &v, sizeof v, 16 + 8 * SS_STAT_REQUESTS), (ssize_t)sizeof v);
	close(fd);
	return v;
}

/* `count` keyed requests, each answered 200. */
static void keyed_ok(int count)
{
	for (int i = 0; i < count; i++) {
		ss_it_resp r;
		ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
		ss_it_resp_free(&r);
	}
}

/* The responders are the ones listed in before (n of them): none died and none was added. */
static void same_responders(const pid_t *before, int n)
{
	pid_t after[16];
	ck_assert_int_eq(children(after), n);
	ck_assert_msg(memcmp(before, after, sizeof(pid_t) * (size_t)n) == 0, "a responder died");
}

/* The counters file at stats counts every request: 20 keyed requests add 20 to it. */
static void counts_every_request(const char *stats)
{
	uint64_t counted = requests_in(stats);
	keyed_ok(20);
	ck_assert_uint_eq(requests_in(stats), counted + 20);
}

/* Keyed requests (at most 400) until both responders are registered in the admission file at adm. */
static void until_both_registered(const char *adm)
{
	for (int i = 0; i < 400 && alive_in(adm) < 2; i++)
		keyed_ok(1);
	ck_assert_int_eq(alive_in(adm), 2);
}

/* Start two responders and wait until both are registered; the side files' paths into adm and stats (600
 * bytes each), the responders into before (16). Returns how many there are. */
static int start_two(char *adm, char *stats, pid_t *before)
{
	start(2);
	snprintf(adm, 600, "%s.admission", srv.state);
	snprintf(stats, 600, "%s.stats", srv.state);
	until_both_registered(adm);
	int n = children(before);
	ck_assert_int_eq(n, 2);
	return n;
}

/* The side files beside the state file deleted while the service runs (a clean-up, a restore): .admission holds
 * the analysis slots, queue seats and identical-miss waits the responders share, .stats the counters of /stats
 * and /metrics. Every responder opens them again on its next request, so that they share one file again
 * instead of each locking and counting in a file nobody else sees; nobody dies of it. */
START_TEST(deleted_side_files_are_shared_again)
{
	char adm[600], stats[600];
	pid_t before[16];
	int n = start_two(adm, stats, before);

	ck_assert_int_eq(unlink(adm), 0);
	ck_assert_int_eq(unlink(stats), 0);
	until_both_registered(adm);
	counts_every_request(stats); /* both count in the new counters file */
	same_responders(before, n);
	wait_log("was deleted or replaced; sharing analysis slots");
}
END_TEST

/* The counters file truncated under the responders' mappings: nobody dies of the SIGBUS, every request is
 * answered, and the responders count in the rebuilt file. */
START_TEST(truncated_counters_file_kills_nobody)
{
	char adm[600], stats[600];
	pid_t before[16];
	int n = start_two(adm, stats, before);

	ck_assert_int_eq(truncate(stats, 0), 0);
	keyed_ok(20);
	counts_every_request(stats);
	same_responders(before, n);
}
END_TEST

/* The responders' usage journals truncated under their mappings: nobody dies of the SIGBUS, every request is
 * answered, and each responder starts a new journal (and says so). */
START_TEST(truncated_usage_journals_kill_nobody)
{
	char adm[600], stats[600];
	pid_t before[16];
	int n = start_two(adm, stats, before);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "for f in '%s'-usage-????????????????; do truncate -s 0 \"$f\" || exit 1; done", srv.db);
	ck_assert_int_eq(system(cmd), 0);
	keyed_ok(40);
	same_responders(before, n);
	wait_log("usage journal was truncated");
}
END_TEST

/* While the state file cannot be rebuilt (its path is taken by a directory), /health says the state file
 * is unavailable and keyed requests answer 503; once the path is free again both recover by themselves. */
START_TEST(unbuildable_state_file_makes_health_503_then_recovers)
{
	start(2);
	char reason[256];
	ck_assert_int_eq(health(reason, sizeof reason), 200);
	ck_assert_int_eq(unlink(srv.state), 0);
	ck_assert_int_eq(mkdir(srv.state, 0700), 0);
	double deadline = mono() + 20.0;
	while (health(reason, sizeof reason) != 503) { /* each responder notices within a second */
		ck_assert_msg(mono() < deadline, "/health never said the state file is unavailable");
		pause_a_little();
	}
	ss_it_resp r;
	while (get_keyed("/auth/key", &r) != 503) { /* the other responder too */
		ck_assert_msg(mono() < deadline, "keyed requests never answered 503");
		ss_it_resp_free(&r);
		pause_a_little();
	}
	ss_it_assert_error(&r, 503, "unavailable");
	ss_it_resp_free(&r);
	ck_assert_int_eq(rmdir(srv.state), 0);
	deadline = mono() + 20.0;
	for (;;) {
		ck_assert_int_eq(get_keyed("/auth/key", &r), r.status);
		long st = r.status;
		ss_it_resp_free(&r);
		if (st == 200 && health(reason, sizeof reason) == 200)
			break;
		ck_assert_msg(mono() < deadline, "the service did not recover once the state file could be built");
		pause_a_little();
	}
}
END_TEST

/* A process that is not one of the master's responders (here: this test, through the core library, as
 * songscope-admin would) stopped while holding the lock: the master only warns, kills nothing, and the
 * service recovers as soon as that process is gone (the next locker repairs). */
START_TEST(stopped_foreign_holder_is_only_logged)
{
	start(2);
	ss_it_resp r;
	ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
	ss_it_resp_free(&r);
	pid_t before[16], after[16];
	int n = children(before);
	pid_t holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		ss_state *st = NULL;
		ss_error err;
		if (ss_state_open(srv.state, NULL, NULL, &st, &err) != 0 || ss_state_test_lock_and_hold(st) != 0)
			_exit(1);
		raise(SIGSTOP);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(holder, &status, WUNTRACED), holder);
	ck_assert(WIFSTOPPED(status));
	wait_log("not a responder of this master");
	ck_assert_int_eq(kill(holder, 0), 0); /* still there: not the master's to kill */
	ck_assert_int_eq(kill(holder, SIGKILL), 0);
	ck_assert_int_eq(waitpid(holder, &status, 0), holder);
	ck_assert_int_le(until_ok("/auth/key", 8), 2);
	ck_assert_int_eq(children(after), n);
	ck_assert_msg(memcmp(before, after, sizeof(pid_t) * (size_t)n) == 0, "a responder was replaced");
	ck_assert(!log_has("killed it"));
}
END_TEST

#ifdef SS_TEST_HOOKS
/* Value of metric `name` in /metrics (asserts it is there). */
static unsigned long long metric(const char *name)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	char pat[128];
	snprintf(pat, sizeof pat, "\n%s ", name);
	const char *p = strstr(r.body.data, pat);
	ck_assert_msg(p != NULL, "no %s in /metrics:\n%s", name, r.body.data);
	unsigned long long v = strtoull(p + strlen(pat), NULL, 10);
	ss_it_resp_free(&r);
	return v;
}

/* A responder stopped (SIGSTOP) while it holds the lock: the master kills it within its bound, the robust
 * mutex hands the lock on, requests keep succeeding, a new responder takes its place, /metrics counts it.
 * The responder is made to stop there by the test hook (configure --enable-test-hooks): the first request
 * after SONGSCOPE_TEST_HOLD_LOCK names an existing file takes the lock, writes its pid and stops. */
START_TEST(stopped_lock_holder_is_killed_by_the_master)
{
	char trigger[400], held[420], taken[420], name[64];
	snprintf(name, sizeof name, "ss-hold-%ld", (long)getpid());
	ck_assert_int_eq(ss_scratch_path(trigger, sizeof trigger, name), 0);
	snprintf(held, sizeof held, "%s.held", trigger);
	snprintf(taken, sizeof taken, "%s.taken", trigger); /* the hook renames the trigger to this */
	unlink(held);
	setenv("SONGSCOPE_TEST_HOLD_LOCK", trigger, 1);
	start(3);
	unsetenv("SONGSCOPE_TEST_HOLD_LOCK");
	ss_it_resp r;
	ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
	ss_it_resp_free(&r);
	ck_assert_int_eq(metric("songscope_state_lock_holders_killed_total"), 0);
	pid_t before[16];
	ck_assert_int_eq(children(before), 3);

	FILE *t = fopen(trigger, "w");
	ck_assert_ptr_nonnull(t);
	fclose(t);
	/* The request that trips the hook never gets its answer from that responder: send it from a child. */
	pid_t req = fork();
	ck_assert_int_ge(req, 0);
	if (req == 0) {
		ss_it_resp rr;
		get_keyed("/auth/key", &rr);
		_exit(0);
	}
	long stopped = 0;
	double deadline = mono() + 20.0;
	while (stopped == 0) {
		ck_assert_msg(mono() < deadline, "no responder took the test hook");
		FILE *h = fopen(held, "r");
		if (h != NULL) {
			if (fscanf(h, "%ld", &stopped) != 1)
				stopped = 0;
			fclose(h);
		}
		if (stopped == 0)
			pause_a_little();
	}
	unlink(held);
	unlink(taken);
	/* Meanwhile, and after, every request succeeds (the others wait on the lock until the master acts). */
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
		ss_it_resp_free(&r);
	}
	int status;
	ck_assert_int_eq(waitpid(req, &status, 0), req);
	/* The stopped responder is gone and the master started a replacement. */
	deadline = mono() + 20.0;
	for (;;) {
		pid_t kids[16];
		int k = children(kids), has = 0;
		for (int i = 0; i < k; i++)
			has |= kids[i] == (pid_t)stopped;
		if (!has && k == 3)
			break;
		ck_assert_msg(mono() < deadline, "the stopped responder %ld is still there", stopped);
		pause_a_little();
	}
	wait_log("held the state lock");
	ck_assert_int_eq(metric("songscope_state_lock_holders_killed_total"), 1);
	ck_assert_int_eq(get_keyed("/diagnostics", &r), 200);
	json_object *dj = ss_it_json(&r), *comps, *sfo, *killed;
	ck_assert(json_object_object_get_ex(dj, "components", &comps));
	ck_assert(json_object_object_get_ex(comps, "state_file", &sfo));
	ck_assert(json_object_object_get_ex(sfo, "lock_holders_killed", &killed));
	ck_assert_int_eq(json_object_get_int64(killed), 1);
	json_object_put(dj);
	ss_it_resp_free(&r);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(get_keyed("/auth/key", &r), 200);
		ss_it_resp_free(&r);
	}
	char reason[256];
	ck_assert_int_eq(health(reason, sizeof reason), 200);
}
END_TEST
#endif

int main(void)
{
	if (!ss_it_have_nginx())
		return 77;
	Suite *s = suite_create("state_faults");
	TCase *tc = tcase_create("state_faults");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, corrupted_lock_bytes_are_rebuilt_while_running);
	tcase_add_test(tc, a_rebuild_is_logged_without_a_later_request);
	tcase_add_test(tc, corrupted_lock_bytes_are_rebuilt_at_start);
	tcase_add_test(tc, truncated_file_is_rebuilt_and_nobody_dies);
	tcase_add_test(tc, deleted_side_files_are_shared_again);
	tcase_add_test(tc, truncated_counters_file_kills_nobody);
	tcase_add_test(tc, truncated_usage_journals_kill_nobody);
	tcase_add_test(tc, unbuildable_state_file_makes_health_503_then_recovers);
	tcase_add_test(tc, stopped_foreign_holder_is_only_logged);
#ifdef SS_TEST_HOOKS
	tcase_add_test(tc, stopped_lock_holder_is_killed_by_the_master);
#endif
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
