/* tools/pool: results in job order, the window bounds how far ahead jobs start, a worker that dies loses only
 * its own job and is replaced, a stopped run reaps every worker. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"
#include "tools/pool.h"

typedef struct pool_test {
	int release[2];   /* job 0 waits for a byte on release[0] */
	char flag[320];   /* job 0 creates this file before it returns */
	size_t window;
	size_t next;      /* the job emit expects */
	size_t early;     /* jobs past the window that started before job 0 had finished */
	size_t lost;      /* jobs emitted without text */
	int lost_status[16];
	size_t lost_job[16];
	size_t stop_at;   /* emit returns -1 at this job (SIZE_MAX: never) */
	bool released;
} pool_test;

static int text_of(const char *s, char **text, size_t *len)
{
	*len = strlen(s);
	*text = strdup(s);
	return *text ? 0 : -1;
}

/* Window test: job 0 blocks until released, then marks the flag; a later job past the window reports whether
 * the flag was there when it started. */
static int work_window(size_t i, void *ctx, char **text, size_t *len, bool *failed)
{
	pool_test *t = ctx;
	*failed = false;
	if (i == 0) {
		char c;
		if (read(t->release[0], &c, 1) != 1)
			return -1;
		FILE *f = fopen(t->flag, "w");
		if (f == NULL)
			return -1;
		fclose(f);
		return text_of("first", text, len);
	}
	if (i >= t->window)
		return text_of(access(t->flag, F_OK) == 0 ? "after" : "early", text, len);
	return text_of("before", text, len);
}

static void progress_window(size_t done, size_t failed, void *ctx)
{
	pool_test *t = ctx;
	/* Jobs 1 .. window-1 are all that may finish while job 0 waits: then let job 0 go. */
	if (!t->released && done == t->window - 1) {
		ck_assert_int_eq(write(t->release[1], "x", 1), 1);
		t->released = true;
	}
}

static int emit_check(size_t i, const char *text, size_t len, bool failed, int wstatus, void *ctx)
{
	pool_test *t = ctx;
	ck_assert_uint_eq(i, t->next);
	t->next++;
	if (text == NULL) {
		ck_assert(failed);
		ck_assert_uint_lt(t->lost, 16);
		t->lost_job[t->lost] = i;
		t->lost_status[t->lost++] = wstatus;
	} else if (len == 5 && memcmp(text, "early", 5) == 0) {
		t->early++;
	}
	return i == t->stop_at ? -1 : 0;
}

static void no_children_left(void)
{
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

START_TEST(test_order_and_window)
{
	pool_test t = {.window = 4, .stop_at = SIZE_MAX};
	ck_assert_int_eq(pipe(t.release), 0);
	char dir[256];
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, "ss-pool-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(t.flag, sizeof t.flag, "%s/done0", dir);
	tool_pool_opts o = {.jobs = 2, .window = 4, .work = work_window, .emit = emit_check,
			    .progress = progress_window, .ctx = &t};
	char why[128];
	ck_assert_int_eq(tool_pool_run(40, &o, why, sizeof why), 0);
	ck_assert_uint_eq(t.next, 40);
	ck_assert_uint_eq(t.early, 0);
	ck_assert_uint_eq(t.lost, 0);
	no_children_left();
	unlink(t.flag);
	rmdir(dir);
	close(t.release[0]);
	close(t.release[1]);
}
END_TEST

/* Job 3 is killed by SIGKILL, job 6 cannot make its result (the worker exits with status 1). */
static int work_dying(size_t i, void *ctx, char **text, size_t *len, bool *failed)
{
	*failed = i == 8;
	if (i == 3)
		kill(getpid(), SIGKILL);
	if (i == 6)
		return -1;
	return text_of("ok", text, len);
}

START_TEST(test_dead_worker_loses_one_job)
{
	for (unsigned jobs = 1; jobs <= 3; jobs++) {
		pool_test t = {.stop_at = SIZE_MAX};
		tool_pool_opts o = {.jobs = jobs, .window = 8, .work = work_dying, .emit = emit_check, .ctx = &t};
		char why[128];
		ck_assert_int_eq(tool_pool_run(12, &o, why, sizeof why), 0);
		ck_assert_uint_eq(t.next, 12);
		ck_assert_uint_eq(t.lost, 2);
		ck_assert_uint_eq(t.lost_job[0], 3);
		ck_assert(WIFSIGNALED(t.lost_status[0]) && WTERMSIG(t.lost_status[0]) == SIGKILL);
		ck_assert_uint_eq(t.lost_job[1], 6);
		ck_assert(WIFEXITED(t.lost_status[1]) && WEXITSTATUS(t.lost_status[1]) == 1);
		no_children_left();
	}
}
END_TEST

START_TEST(test_emit_stops_the_run)
{
	pool_test t = {.stop_at = 2};
	tool_pool_opts o = {.jobs = 2, .window = 2, .work = work_dying, .emit = emit_check, .ctx = &t};
	char why[128];
	ck_assert_int_eq(tool_pool_run(12, &o, why, sizeof why), -1);
	ck_assert_str_eq(why, "");
	ck_assert_uint_eq(t.next, 3);
	no_children_left();
	/* No jobs: nothing is started or emitted. */
	t.next = 0;
	ck_assert_int_eq(tool_pool_run(0, &o, why, sizeof why), 0);
	ck_assert_uint_eq(t.next, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	tcase_add_test(tc, test_order_and_window);
	tcase_add_test(tc, test_dead_worker_loses_one_job);
	tcase_add_test(tc, test_emit_stops_the_run);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
