/* Admission control: slots are exclusive across open handles and processes, a killed holder frees its slot
 * and key byte at once, identical keys serialise, live responders are counted. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/limits/admission.h"
#include "core/util/timefmt.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"

static char dir[256], path[300];

static void setup(void)
{
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, "ss-adm-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/admission", dir);
}

static void teardown(void)
{
	ss_scratch_remove(dir);
}

static ss_admission *open_adm(int slots)
{
	ss_admission *a = NULL;
	ss_error err;
	ck_assert_int_eq(ss_admission_open(path, slots, &a, &err), 0);
	return a;
}

START_TEST(slots_exclusive)
{
	ss_error err;
	ss_admission *a = open_adm(2), *b = open_adm(2), *c = open_adm(2);
	ck_assert_int_eq(ss_admission_acquire(a, &err), 0);
	ck_assert_int_eq(ss_admission_acquire(a, &err), 0); /* idempotent: still one slot */
	ck_assert_int_eq(ss_admission_in_use(c), 1);
	ck_assert_int_eq(ss_admission_acquire(b, &err), 0);
	ck_assert_int_eq(ss_admission_acquire(c, &err), 1);
	ck_assert_int_eq(ss_admission_in_use(c), 2);
	ss_admission_release(a);
	ck_assert_int_eq(ss_admission_acquire(c, &err), 0);
	ss_admission_close(b); /* closing drops the slot */
	ck_assert_int_eq(ss_admission_acquire(a, &err), 0);
	ss_admission_close(a);
	ss_admission_close(c);
	ss_admission_close(NULL);
	ck_assert_int_eq(ss_admission_open(path, 0, &a, &err), -1);
}
END_TEST

START_TEST(killed_holder_frees)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ss_admission *a = NULL;
		ss_error err;
		if (ss_admission_open(path, 1, &a, &err) != 0 || ss_admission_acquire(a, &err) != 0 ||
		    ss_admission_lock_key(a, "k1", 0, &err) != 0 || ss_admission_register(a, &err) != 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	char ch;
	ck_assert_int_eq(read(p[0], &ch, 1), 1);
	close(p[0]);
	ss_error err;
	ss_admission *b = open_adm(1);
	ck_assert_int_eq(ss_admission_acquire(b, &err), 1);
	ck_assert_int_eq(ss_admission_lock_key(b, "k1", 0, &err), 2);
	ck_assert_int_eq(ss_admission_alive(b), 1);
	kill(pid, SIGKILL);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(ss_admission_acquire(b, &err), 0);
	ck_assert_int_eq(ss_admission_lock_key(b, "k1", 0, &err), 0);
	ck_assert_int_eq(ss_admission_alive(b), 0);
	ss_admission_close(b);
}
END_TEST

static void *unlock_later(void *arg)
{
	ss_admission_unlock_key(arg);
	return NULL;
}

START_TEST(identical_keys_wait)
{
	ss_error err;
	ss_admission *a = open_adm(4), *b = open_adm(4);
	ck_assert_int_eq(ss_admission_lock_key(a, "same", 0, &err), 0);
	ck_assert_int_eq(ss_admission_lock_key(b, "same", 0, &err), 2);
	ck_assert_int_eq(ss_admission_lock_key(b, "different-key", 0, &err), 0);
	ss_admission_unlock_key(b);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, unlock_later, a), 0);
	int rc = ss_admission_lock_key(b, "same", 60, &err);
	ck_assert_msg(rc == 0 || rc == 1, "rc %d", rc); /* 1 when it had to wait, 0 if the unlock came first */
	pthread_join(t, NULL);
	ck_assert_int_eq(ss_admission_lock_key(a, "same", 0, &err), 2);
	ss_admission_close(a);
	ss_admission_close(b);
}
END_TEST

START_TEST(alive_count)
{
	ss_error err;
	ss_admission *a = open_adm(1), *b = open_adm(1);
	ck_assert_int_eq(ss_admission_alive(a), 0);
	ck_assert_int_eq(ss_admission_register(a, &err), 0);
	ck_assert_int_eq(ss_admission_register(b, &err), 0);
	ck_assert_int_eq(ss_admission_alive(a), 2);
	ck_assert_int_eq(ss_admission_alive(b), 2);
	ss_admission_close(b);
	ck_assert_int_eq(ss_admission_alive(a), 1);
	ss_admission_close(a);
}
END_TEST

/* Download slots are exclusive across handles, independent of analysis slots, and freed on close. */
START_TEST(download_slots)
{
	ss_error err;
	ss_admission *a = open_adm(1), *b = open_adm(1), *c = open_adm(1);
	ck_assert_int_eq(ss_admission_acquire(a, &err), 0); /* the analysis slot does not count */
	ck_assert_int_eq(ss_admission_acquire_download(a, 2, &err), 0);
	ck_assert_int_eq(ss_admission_acquire_download(a, 2, &err), 0); /* idempotent */
	ck_assert_int_eq(ss_admission_downloads(c, 2), 1);
	ck_assert_int_eq(ss_admission_acquire_download(b, 2, &err), 0);
	ck_assert_int_eq(ss_admission_acquire_download(c, 2, &err), 1);
	ck_assert_int_eq(ss_admission_downloads(c, 2), 2);
	ck_assert_int_eq(ss_admission_in_use(c), 1);
	ss_admission_release_download(a);
	ck_assert_int_eq(ss_admission_acquire_download(c, 2, &err), 0);
	ss_admission_close(b);
	ck_assert_int_eq(ss_admission_downloads(c, 2), 1);
	ck_assert_int_eq(ss_admission_acquire_download(c, 0, &err), -1);
	ck_assert_int_eq(ss_admission_downloads(c, SS_ADMISSION_MAX_DOWNLOADS + 1), -1);
	ss_admission_release_download(c);
	ss_admission_release_download(c);
	ss_admission_release_download(NULL);
	ck_assert_int_eq(ss_admission_downloads(a, 2), 0);
	ss_admission_close(a);
	ss_admission_close(c);
}
END_TEST

typedef struct waiter {
	ss_admission *a;
	int rc;
} waiter;

static void *wait_for_same(void *arg)
{
	waiter *w = arg;
	ss_error err;
	w->rc = ss_admission_lock_key(w->a, "same", 60, &err);
	return NULL;
}

/* A process waiting for an identical key is counted as waiting (and holds no slot) until it gets the key. */
START_TEST(waiting_is_counted)
{
	ss_error err;
	ss_admission *a = open_adm(2), *b = open_adm(2), *c = open_adm(2);
	ck_assert_int_eq(ss_admission_register(b, &err), 0);
	ck_assert_int_eq(ss_admission_waiting(c), 0);
	ck_assert_int_eq(ss_admission_lock_key(a, "same", 0, &err), 0);
	waiter w = {.a = b, .rc = -9};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, wait_for_same, &w), 0);
	double until = ss_time_mono() + 30;
	while (ss_admission_waiting(c) != 1) {
		ck_assert_msg(ss_time_mono() < until, "the waiter was never counted");
		sched_yield();
	}
	ck_assert_int_eq(ss_admission_in_use(c), 0);
	ss_admission_unlock_key(a);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, 1);
	ck_assert_int_eq(ss_admission_waiting(c), 0);
	ck_assert_int_eq(ss_admission_lock_key(c, "same", 0.05, &err), 2); /* b holds it: a bounded wait */
	ck_assert_int_eq(ss_admission_waiting(a), 0);
	ss_admission_close(a);
	ss_admission_close(b);
	ss_admission_close(c);
}
END_TEST

typedef struct slot_waiter {
	ss_admission *a;
	double max_wait;
	int rc;
} slot_waiter;

static void *wait_for_slot(void *arg)
{
	slot_waiter *w = arg;
	ss_error err;
	w->rc = ss_admission_acquire_wait(w->a, w->max_wait, &err);
	return NULL;
}

/* Queue seats are exclusive and counted; a seat holder waits for a slot in the kernel, bounded by its time,
 * and gets the slot once it is given back (with two slots, whichever is given back); no timer signal is left
 * pending after a wait. */
START_TEST(queue_seats_and_waiting_for_a_slot)
{
	ss_error err;
	ss_admission *a = open_adm(1), *b = open_adm(1), *c = open_adm(1);
	ck_assert_int_eq(ss_admission_acquire(a, &err), 0);
	ck_assert_int_eq(ss_admission_queued(c), 0);
	ck_assert_int_eq(ss_admission_take_seat(b, 1, &err), 0);
	ck_assert_int_eq(ss_admission_take_seat(c, 1, &err), 1);
	ck_assert_int_eq(ss_admission_queued(c), 1);
	ck_assert_int_eq(ss_admission_take_seat(c, 0, &err), -1);
	ck_assert_int_eq(ss_admission_take_seat(c, SS_ADMISSION_MAX_SEATS + 1, &err), -1);
	/* Bounded: the slot stays taken. */
	ck_assert_int_eq(ss_admission_acquire_wait(b, 0.05, &err), 1);
	ck_assert_int_eq(ss_admission_acquire_wait(b, 0, &err), 1);
	sigset_t pending;
	ck_assert_int_eq(sigpending(&pending), 0);
	ck_assert(!sigismember(&pending, SIGRTMIN + 2));
	/* Given back while b waits: b gets it. */
	slot_waiter w = {.a = b, .max_wait = 60, .rc = -9};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, wait_for_slot, &w), 0);
	ss_admission_release(a);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, 0);
	ck_assert_int_eq(ss_admission_in_use(c), 1);
	ck_assert_int_eq(ss_admission_acquire(a, &err), 1);
	ss_admission_leave_seat(b);
	ck_assert_int_eq(ss_admission_queued(c), 0);
	ck_assert_int_eq(ss_admission_take_seat(c, 1, &err), 0);
	ss_admission_release(b);
	ss_admission_close(a);
	ss_admission_close(b);
	ss_admission_close(c);

	/* Two slots, both taken: a waiter gets whichever is given back first. */
	for (int round = 0; round < 2; round++) {
		ss_admission *h[2] = {open_adm(2), open_adm(2)}, *x = open_adm(2);
		ck_assert_int_eq(ss_admission_acquire(h[0], &err), 0);
		ck_assert_int_eq(ss_admission_acquire(h[1], &err), 0);
		ck_assert_int_eq(ss_admission_take_seat(x, 1, &err), 0);
		slot_waiter v = {.a = x, .max_wait = 60, .rc = -9};
		ck_assert_int_eq(pthread_create(&t, NULL, wait_for_slot, &v), 0);
		ss_admission_close(h[round]);
		pthread_join(t, NULL);
		ck_assert_int_eq(v.rc, 0);
		ck_assert_int_eq(ss_admission_in_use(h[1 - round]), 2);
		ss_admission_close(h[1 - round]);
		ss_admission_close(x);
	}
}
END_TEST

/* The failure of an attempt reaches whoever holds the key next, only for that exact key and only when it
 * happened at or after the given time; a success clears it. */
START_TEST(outcome_records)
{
	ss_error err, got;
	ss_admission *a = open_adm(1), *b = open_adm(1);
	double before = ss_time_mono();
	ck_assert_int_eq(ss_admission_lock_key(b, "k1", 0, &err), 0);
	ck_assert_int_eq(ss_admission_failure_since(b, "k1", before, &got), 0); /* nothing recorded yet */
	ss_admission_unlock_key(b);

	ck_assert_int_eq(ss_admission_lock_key(a, "k1", 0, &err), 0);
	ss_error fail;
	ss_error_set(&fail, SS_ERR_TIMEOUT, "Download too slow.");
	ck_assert_int_eq(ss_admission_note_outcome(a, "k1", &fail, &err), 0);
	/* A key that shares k1's byte, found through the locks themselves: it never sees k1's failure. */
	char other[32] = "";
	for (int i = 0; i < 1000000 && other[0] == '\0'; i++) {
		char cand[32];
		snprintf(cand, sizeof cand, "x%d", i);
		if (ss_admission_lock_key(b, cand, 0, &err) == 2)
			snprintf(other, sizeof other, "%s", cand);
		ss_admission_unlock_key(b);
	}
	ck_assert(other[0] != '\0');
	ss_admission_unlock_key(a);

	ck_assert_int_eq(ss_admission_lock_key(b, other, 0, &err), 0);
	ck_assert_int_eq(ss_admission_failure_since(b, other, before, &got), 0);
	ss_admission_unlock_key(b);
	ck_assert_int_eq(ss_admission_lock_key(b, "k1", 0, &err), 0);
	ck_assert_int_eq(ss_admission_failure_since(b, "k1", before, &got), 1);
	ck_assert_int_eq(got.code, SS_ERR_TIMEOUT);
	ck_assert_str_eq(got.msg, "Download too slow.");
	ck_assert_int_eq(ss_admission_failure_since(b, "k1", ss_time_mono() + 1.0, &got), 0); /* older than asked */
	ck_assert_int_eq(ss_admission_note_outcome(b, "k1", NULL, &err), 0);
	ck_assert_int_eq(ss_admission_failure_since(b, "k1", before, &got), 0); /* a success clears it */
	ss_admission_unlock_key(b);

	/* A cache key too long for the record is not recorded (and nothing breaks). */
	char longkey[200];
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	ck_assert_int_eq(ss_admission_lock_key(a, longkey, 0, &err), 0);
	ck_assert_int_eq(ss_admission_note_outcome(a, longkey, &fail, &err), 0);
	ck_assert_int_eq(ss_admission_failure_since(a, longkey, before, &got), 0);
	ss_admission_close(a);
	ss_admission_close(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("admission");
	TCase *t = tcase_create("admission");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, slots_exclusive);
	tcase_add_test(t, killed_holder_frees);
	tcase_add_test(t, identical_keys_wait);
	tcase_add_test(t, alive_count);
	tcase_add_test(t, waiting_is_counted);
	tcase_add_test(t, download_slots);
	tcase_add_test(t, outcome_records);
	tcase_add_test(t, queue_seats_and_waiting_for_a_slot);
	suite_add_tcase(s, t);
	return ss_check_run_forking(s, CK_NOFORK);
}
