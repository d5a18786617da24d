#include "core/limits/admission.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util/timefmt.h"

/* Byte layout of the lock file (nothing is ever written; only ranges are locked). */
#define OFF_SLOTS 0
#define OFF_KEYS (OFF_SLOTS + SS_ADMISSION_MAX_SLOTS)
#define OFF_ALIVE (OFF_KEYS + SS_ADMISSION_KEY_BYTES)

struct ss_admission {
	int fd;
	int slots;
	int slot;      /* held slot or -1 */
	long key_byte; /* held key byte or -1 */
	long alive_byte;
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
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
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
	a->key_byte = -1;
	a->alive_byte = -1;
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

int ss_admission_acquire(ss_admission *a, ss_error *err)
{
	if (a->slot >= 0)
		return 0;
	/* Start at a random slot so responders do not all probe the same bytes first. */
	int start = (int)(rand_r(&a->seed) % (unsigned)a->slots);
	for (int i = 0; i < a->slots; i++) {
		int s = (start + i) % a->slots;
		int rc = try_lock(a->fd, OFF_SLOTS + s);
		if (rc == 0) {
			a->slot = s;
			return 0;
		}
		if (rc < 0)
			return ss_error_set(err, SS_ERR_INTERNAL, "admission lock failed: %s", strerror(errno));
	}
	return 1;
}

void ss_admission_release(ss_admission *a)
{
	if (a == NULL || a->slot < 0)
		return;
	unlock(a->fd, OFF_SLOTS + a->slot);
	a->slot = -1;
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
	/* Someone is analysing the same key (or a colliding one): poll with a growing pause until it is done.
	 * Polling keeps the wait bounded without signals; the pause is tiny next to an analysis. */
	double deadline = ss_time_mono() + max_wait;
	long pause_us = 2000;
	for (;;) {
		struct timespec ts = {0, pause_us * 1000};
		nanosleep(&ts, NULL);
		rc = try_lock(a->fd, off);
		if (rc == 0) {
			a->key_byte = off;
			return 1;
		}
		if (rc < 0)
			return ss_error_set(err, SS_ERR_INTERNAL, "admission lock failed: %s", strerror(errno));
		if (ss_time_mono() >= deadline)
			return 2;
		if (pause_us < 50000)
			pause_us *= 2;
	}
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

int ss_admission_in_use(ss_admission *a)
{
	return count_held(a, OFF_SLOTS, a->slots, a->slot >= 0 ? OFF_SLOTS + a->slot : -1);
}

int ss_admission_slots(const ss_admission *a)
{
	return a->slots;
}
