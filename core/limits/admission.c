#include "core/limits/admission.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util/timefmt.h"

static int count_held(ss_admission *a, long from, int n, long own);

/* Byte layout of the lock file. The lock ranges hold no data; the outcome records after them are the only
 * bytes ever written (a sparse file: records never written read as zeros). */
#define OFF_SLOTS 0
#define OFF_KEYS (OFF_SLOTS + SS_ADMISSION_MAX_SLOTS)
#define OFF_ALIVE (OFF_KEYS + SS_ADMISSION_KEY_BYTES)
#define OFF_WAIT (OFF_ALIVE + SS_ADMISSION_MAX_RESPONDERS)
#define OFF_DOWNLOADS (OFF_WAIT + SS_ADMISSION_MAX_RESPONDERS)
#define OFF_SEATS (OFF_DOWNLOADS + SS_ADMISSION_MAX_DOWNLOADS)
#define OFF_RECORDS 8192L

_Static_assert(OFF_SEATS + SS_ADMISSION_MAX_SEATS <= OFF_RECORDS, "lock ranges overlap the outcome records");

/* The signal that ends a blocking wait for a slot (a per-thread timer sends it to the waiting thread). */
#define WAIT_SIGNAL (SIGRTMIN + 2)
/* With several slots, a waiter blocks on one slot byte at a time for at most this long before trying them all. */
#define WAIT_SLICE_S 0.2

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define RECORD_MAGIC 0x53534f31u /* "SSO1" */

/* The outcome of the last attempt for the key that owns a key byte; read and written only by the holder of
 * that key byte, so never torn. */
typedef struct outcome_rec {
	uint32_t magic; /* RECORD_MAGIC for a failure; anything else: no failure recorded */
	int32_t code;   /* ss_code */
	double at;      /* ss_time_mono() when recorded (CLOCK_MONOTONIC is system-wide) */
	char key[128];
	char msg[SS_ERROR_MSG_MAX];
} outcome_rec;

struct ss_admission {
	int fd;
	int slots;
	int slot;      /* held slot or -1 */
	int download;  /* held download slot or -1 */
	int seat;      /* held queue seat or -1 */
	long key_byte; /* held key byte or -1 */
	long alive_byte;
	long wait_byte; /* held while waiting in ss_admission_lock_key, else -1 */
	unsigned seed;
};

static int lock_byte(int fd, long off, short type, int cmd)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = off;
	fl.l_len = 1;
	return fcntl(fd, cmd, &fl);
}

/* 0 locked, 1 held by someone else, -1 error */
static int try_lock(int fd, long off)
{
	if (lock_byte(fd, off, F_WRLCK, F_OFD_SETLK) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? 1 : -1;
}

static void unlock(int fd, long off)
{
	lock_byte(fd, off, F_UNLCK, F_OFD_SETLK);
}

/* 1 when another open file description holds the byte */
static int held_by_other(int fd, long off)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = off;
	fl.l_len = 1;
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -1;
	return fl.l_type != F_UNLCK;
}

int ss_admission_open(const char *path, int slots, ss_admission **out, ss_error *err)
{
	*out = NULL;
	if (slots < 1 || slots > SS_ADMISSION_MAX_SLOTS)
		return ss_error_set(err, SS_ERR_CONFIG, "analysis slots must be 1..%d", SS_ADMISSION_MAX_SLOTS);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return ss_error_set(err, SS_ERR_IO, "cannot open admission lock file %s: %s", path, strerror(errno));
	ss_admission *a = calloc(1, sizeof *a);
	if (a == NULL) {
		close(fd);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	}
	a->fd = fd;
	a->slots = slots;
	a->slot = -1;
	a->download = -1;
	a->seat = -1;
	a->key_byte = -1;
	a->alive_byte = -1;
	a->wait_byte = -1;
	a->seed = (unsigned)getpid() ^ (unsigned)ss_time_now_ns();
	*out = a;
	return 0;
}

void ss_admission_close(ss_admission *a)
{
	if (a == NULL)
		return;
	close(a->fd); /* drops every OFD lock of this description */
	free(a);
}

bool ss_admission_same_file(const ss_admission *a, const char *path)
{
	struct stat open_file, named;
	return fstat(a->fd, &open_file) == 0 && stat(path, &named) == 0 && open_file.st_dev == named.st_dev &&
	       open_file.st_ino == named.st_ino;
}

/* Lock one free byte of [base, base + n), starting at a random one so that responders do not all probe the
 * same bytes first. 0 with *held set, 1 when all are taken, -1 on a lock error. */
static int take_one(ss_admission *a, long base, int n, int *held, ss_error *err)
{
	int start = (int)(rand_r(&a->seed) % (unsigned)n);
	for (int i = 0; i < n; i++) {
		int s = (start + i) % n;
		int rc = try_lock(a->fd, base + s);
		if (rc == 0) {
			*held = s;
			return 0;
		}
		if (rc < 0)
			return ss_error_set(err, SS_ERR_INTERNAL, "admission lock failed: %s", strerror(errno));
	}
	return 1;
}

int ss_admission_acquire(ss_admission *a, ss_error *err)
{
	if (a->slot >= 0)
		return 0;
	return take_one(a, OFF_SLOTS, a->slots, &a->slot, err);
}

static void on_wait_signal(int sig)
{
	(void)sig; /* only there to interrupt F_OFD_SETLKW with EINTR */
}

/* Lock byte off, blocking at most `seconds`: 0 locked, 1 not within that time, -1 error (errno). A timer
 * signals this thread when the time is up (and every 10 ms after, in case the first signal came before the
 * fcntl call blocked); the handler does nothing and has no SA_RESTART, so the fcntl call fails with EINTR. A
 * signal still pending when the timer is deleted is taken off before returning. */
static int lock_wait(int fd, long off, double seconds)
{
	static bool installed;
	if (!installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_wait_signal;
		sigemptyset(&sa.sa_mask);
		if (sigaction(WAIT_SIGNAL, &sa, NULL) != 0)
			return -1;
		installed = true;
	}
	sigset_t sig, old;
	sigemptyset(&sig);
	sigaddset(&sig, WAIT_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &sig, &old);
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = WAIT_SIGNAL;
	sev.sigev_notify_thread_id = gettid();
	timer_t timer;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (seconds < 0.001)
		seconds = 0.001;
	struct itimerspec its = {.it_interval = {0, 10 * 1000 * 1000},
				 .it_value = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)}};
	int rc, saved = 0;
	if (timer_settime(timer, 0, &its, NULL) != 0) {
		saved = errno;
		rc = -1;
	} else {
		rc = lock_byte(fd, off, F_WRLCK, F_OFD_SETLKW);
		saved = errno;
		rc = rc == 0 ? 0 : saved == EINTR ? 1 : -1;
	}
	/* Stop the timer and take off a signal it may have left pending. */
	pthread_sigmask(SIG_BLOCK, &sig, NULL);
	timer_delete(timer);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&sig, NULL, &zero) == WAIT_SIGNAL)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return rc;
}

int ss_admission_acquire_wait(ss_admission *a, double max_wait, ss_error *err)
{
	if (a->slot >= 0)
		return 0;
	const double deadline = ss_time_mono() + max_wait;
	for (;;) {
		int rc = take_one(a, OFF_SLOTS, a->slots, &a->slot, err);
		if (rc != 1)
			return rc;
		double left = deadline - ss_time_mono();
		if (left <= 0)
			return 1;
		if (a->slots > 1 && left > WAIT_SLICE_S)
			left = WAIT_SLICE_S;
		/* Seats spread the waiters over the slots: with as many waiters as slots, each slot has one. */
		unsigned pick = a->seat >= 0 ? (unsigned)a->seat : (unsigned)rand_r(&a->seed);
		int target = (int)(pick % (unsigned)a->slots);
		rc = lock_wait(a->fd, OFF_SLOTS + target, left);
		if (rc == 0) {
			a->slot = target;
			return 0;
		}
		if (rc < 0)
			return ss_error_set(err, SS_ERR_INTERNAL, "admission wait failed: %s", strerror(errno));
	}
}

void ss_admission_release(ss_admission *a)
{
	if (a == NULL || a->slot < 0)
		return;
	unlock(a->fd, OFF_SLOTS + a->slot);
	a->slot = -1;
}

int ss_admission_acquire_download(ss_admission *a, int limit, ss_error *err)
{
	if (limit < 1 || limit > SS_ADMISSION_MAX_DOWNLOADS)
		return ss_error_set(err, SS_ERR_CONFIG, "download slots must be 1..%d", SS_ADMISSION_MAX_DOWNLOADS);
	if (a->download >= 0)
		return 0;
	return take_one(a, OFF_DOWNLOADS, limit, &a->download, err);
}

void ss_admission_release_download(ss_admission *a)
{
	if (a == NULL || a->download < 0)
		return;
	unlock(a->fd, OFF_DOWNLOADS + a->download);
	a->download = -1;
}

int ss_admission_take_seat(ss_admission *a, int seats, ss_error *err)
{
	if (seats < 1 || seats > SS_ADMISSION_MAX_SEATS)
		return ss_error_set(err, SS_ERR_CONFIG, "queue seats must be 1..%d", SS_ADMISSION_MAX_SEATS);
	if (a->seat >= 0)
		return 0;
	return take_one(a, OFF_SEATS, seats, &a->seat, err);
}

void ss_admission_leave_seat(ss_admission *a)
{
	if (a == NULL || a->seat < 0)
		return;
	unlock(a->fd, OFF_SEATS + a->seat);
	a->seat = -1;
}

int ss_admission_queued(ss_admission *a)
{
	return count_held(a, OFF_SEATS, SS_ADMISSION_MAX_SEATS, a->seat >= 0 ? OFF_SEATS + a->seat : -1);
}

/* Mark this handle as waiting (for ss_admission_waiting): the waiting byte paired with its alive byte when
 * registered, else any free one. Counting only, so a failure is ignored. */
static void mark_waiting(ss_admission *a)
{
	if (a->wait_byte >= 0)
		return;
	if (a->alive_byte >= 0) {
		long off = OFF_WAIT + (a->alive_byte - OFF_ALIVE);
		if (try_lock(a->fd, off) == 0)
			a->wait_byte = off;
		return;
	}
	int start = (int)(rand_r(&a->seed) % SS_ADMISSION_MAX_RESPONDERS);
	for (int i = 0; i < SS_ADMISSION_MAX_RESPONDERS; i++) {
		long off = OFF_WAIT + (start + i) % SS_ADMISSION_MAX_RESPONDERS;
		if (try_lock(a->fd, off) == 0) {
			a->wait_byte = off;
			return;
		}
	}
}

static void unmark_waiting(ss_admission *a)
{
	if (a->wait_byte < 0)
		return;
	unlock(a->fd, a->wait_byte);
	a->wait_byte = -1;
}

static long key_byte(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return OFF_KEYS + (long)(h % SS_ADMISSION_KEY_BYTES);
}

int ss_admission_lock_key(ss_admission *a, const char *cache_key, double max_wait, ss_error *err)
{
	ss_admission_unlock_key(a);
	long off = key_byte(cache_key);
	int rc = try_lock(a->fd, off);
	if (rc == 0) {
		a->key_byte = off;
		return 0;
	}
	if (rc < 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "admission lock failed: %s", strerror(errno));
	if (!(max_wait > 0))
		return 2;
	/* Someone is analysing the same key (or a colliding one): poll with a growing pause until it is done.
	 * Polling keeps the wait bounded without signals; the pause is tiny next to an analysis. */
	mark_waiting(a);
	double deadline = ss_time_mono() + max_wait;
	long pause_us = 2000;
	int result;
	for (;;) {
		double left = deadline - ss_time_mono();
		long step_us = left * 1e6 < (double)pause_us ? (long)(left * 1e6) : pause_us;
		if (step_us > 0) {
			struct timespec ts = {step_us / 1000000, (step_us % 1000000) * 1000};
			nanosleep(&ts, NULL);
		}
		rc = try_lock(a->fd, off);
		if (rc == 0) {
			a->key_byte = off;
			result = 1;
			break;
		}
		if (rc < 0) {
			result = ss_error_set(err, SS_ERR_INTERNAL, "admission lock failed: %s", strerror(errno));
			break;
		}
		if (ss_time_mono() >= deadline) {
			result = 2;
			break;
		}
		if (pause_us < 50000)
			pause_us *= 2;
	}
	unmark_waiting(a);
	return result;
}

static long record_off(long key_off)
{
	return OFF_RECORDS + (key_off - OFF_KEYS) * (long)sizeof(outcome_rec);
}

int ss_admission_note_outcome(ss_admission *a, const char *cache_key, const ss_error *failure, ss_error *err)
{
	long off = key_byte(cache_key);
	assert(a->key_byte == off);
	outcome_rec r;
	memset(&r, 0, sizeof r);
	size_t klen = strlen(cache_key);
	if (failure != NULL && klen < sizeof r.key) {
		r.magic = RECORD_MAGIC;
		r.code = (int32_t)failure->code;
		r.at = ss_time_mono();
		memcpy(r.key, cache_key, klen + 1);
		snprintf(r.msg, sizeof r.msg, "%s", failure->msg);
	}
	ssize_t n = pwrite(a->fd, &r, sizeof r, record_off(off));
	if (n != (ssize_t)sizeof r)
		return ss_error_set(err, SS_ERR_IO, "cannot write the admission outcome record: %s",
				    n < 0 ? strerror(errno) : "short write");
	return 0;
}

int ss_admission_failure_since(ss_admission *a, const char *cache_key, double since, ss_error *failure)
{
	long off = key_byte(cache_key);
	assert(a->key_byte == off);
	outcome_rec r;
	ssize_t n = pread(a->fd, &r, sizeof r, record_off(off));
	if (n < 0)
		return -1;
	if (n != (ssize_t)sizeof r || r.magic != RECORD_MAGIC || r.code <= SS_OK || r.code >= SS_CODE_COUNT ||
	    !(r.at >= since))
		return 0;
	r.key[sizeof r.key - 1] = '\0';
	r.msg[sizeof r.msg - 1] = '\0';
	if (strcmp(r.key, cache_key) != 0)
		return 0;
	ss_error_set(failure, (ss_code)r.code, "%s", r.msg);
	return 1;
}

void ss_admission_unlock_key(ss_admission *a)
{
	if (a == NULL || a->key_byte < 0)
		return;
	unlock(a->fd, a->key_byte);
	a->key_byte = -1;
}

int ss_admission_register(ss_admission *a, ss_error *err)
{
	if (a->alive_byte >= 0)
		return 0;
	int start = (int)(rand_r(&a->seed) % SS_ADMISSION_MAX_RESPONDERS);
	for (int i = 0; i < SS_ADMISSION_MAX_RESPONDERS; i++) {
		long off = OFF_ALIVE + (start + i) % SS_ADMISSION_MAX_RESPONDERS;
		int rc = try_lock(a->fd, off);
		if (rc == 0) {
			a->alive_byte = off;
			return 0;
		}
		if (rc < 0)
			break;
	}
	return ss_error_set(err, SS_ERR_INTERNAL, "cannot register the responder in the admission file");
}

static int count_held(ss_admission *a, long from, int n, long own)
{
	int count = 0;
	for (int i = 0; i < n; i++) {
		long off = from + i;
		if (off == own) {
			count++;
			continue;
		}
		int h = held_by_other(a->fd, off);
		if (h < 0)
			return -1;
		count += h;
	}
	return count;
}

int ss_admission_alive(ss_admission *a)
{
	return count_held(a, OFF_ALIVE, SS_ADMISSION_MAX_RESPONDERS, a->alive_byte);
}

int ss_admission_waiting(ss_admission *a)
{
	return count_held(a, OFF_WAIT, SS_ADMISSION_MAX_RESPONDERS, a->wait_byte);
}

int ss_admission_downloads(ss_admission *a, int limit)
{
	if (limit < 1 || limit > SS_ADMISSION_MAX_DOWNLOADS)
		return -1;
	return count_held(a, OFF_DOWNLOADS, limit, a->download >= 0 ? OFF_DOWNLOADS + a->download : -1);
}

int ss_admission_in_use(ss_admission *a)
{
	return count_held(a, OFF_SLOTS, a->slots, a->slot >= 0 ? OFF_SLOTS + a->slot : -1);
}

int ss_admission_slots(const ss_admission *a)
{
	return a->slots;
}
