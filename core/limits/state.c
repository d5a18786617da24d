#include "core/limits/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define STATE_MAGIC "SSSTATE1"
#define STATE_LAYOUT 1u
#define FORMAT_WORD (STATE_LAYOUT | ((uint32_t)sizeof(void *) << 8) | ((uint32_t)alignof(pthread_mutex_t) << 16))
#define PROBE 64 /* open-addressing window */
#define LOCK_TIMEOUT_S 2

enum { READY_BUILDING = 0, READY_OK = 1, READY_BROKEN = 2 };

/* A slot's key_id: 0 = never used (ends a probe), -1 = free again (does not end a probe), > 0 = a key. */
typedef struct key_slot {
	int64_t key_id;
	int64_t tat_ns; /* GCRA theoretical arrival time; 0 = fresh */
	int64_t day;    /* UTC day `count` belongs to */
	int64_t count;  /* requests counted on `day` */
} key_slot;

typedef struct addr_slot {
	uint64_t hash; /* keyed hash of the address; 0 = never used */
	int64_t tat_ns;
} addr_slot;

typedef struct state_file {
	char magic[8];
	uint32_t format;
	uint32_t ready;
	uint32_t header_size;
	uint32_t sizeof_mutex;
	uint32_t key_slots;
	uint32_t addr_slots;
	uint32_t counters;
	uint32_t responders;
	uint64_t file_size;
	uint64_t created_ns;
	unsigned char addr_hash_key[16];
	alignas(64) uint64_t key_generation;
	uint64_t repairs;
	alignas(64) pthread_mutex_t lock;
	alignas(64) uint64_t counter[SS_STATE_COUNTERS];
	alignas(64) int32_t responder_pid[SS_STATE_RESPONDERS];
	alignas(64) key_slot keys[SS_STATE_KEY_SLOTS];
	alignas(64) addr_slot addrs[SS_STATE_ADDR_SLOTS];
} state_file;

_Static_assert((SS_STATE_KEY_SLOTS & (SS_STATE_KEY_SLOTS - 1)) == 0, "key slots: a power of two");
_Static_assert((SS_STATE_ADDR_SLOTS & (SS_STATE_ADDR_SLOTS - 1)) == 0, "address slots: a power of two");
_Static_assert(PROBE <= SS_STATE_KEY_SLOTS && PROBE <= SS_STATE_ADDR_SLOTS, "probe window fits the tables");

struct ss_state {
	state_file *f;
	char *path;
	int fd;
	bool created;
	bool registered;
	pid_t pid;
};

int64_t ss_state_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t ss_state_day(int64_t now_ns)
{
	int64_t s = now_ns / 1000000000LL;
	if (now_ns < 0 && now_ns % 1000000000LL != 0)
		s--;
	int64_t d = s / 86400;
	if (s < 0 && s % 86400 != 0)
		d--;
	return d;
}

static bool header_ok(const state_file *f)
{
	return memcmp(f->magic, STATE_MAGIC, 8) == 0 && f->format == FORMAT_WORD &&
	       f->header_size == offsetof(state_file, counter) && f->sizeof_mutex == sizeof(pthread_mutex_t) &&
	       f->key_slots == SS_STATE_KEY_SLOTS && f->addr_slots == SS_STATE_ADDR_SLOTS &&
	       f->counters == SS_STATE_COUNTERS && f->responders == SS_STATE_RESPONDERS &&
	       f->file_size == sizeof(state_file) && __atomic_load_n(&f->ready, __ATOMIC_ACQUIRE) == READY_OK;
}

/* ---- locking ---- */

/* Make the tables consistent after a process died holding the lock. Every update is written so that any
 * prefix of its stores is a valid state; this only clamps values a torn or garbage write could leave. */
static void repair(state_file *f, int64_t now)
{
	int64_t today = ss_state_day(now);
	for (unsigned i = 0; i < SS_STATE_KEY_SLOTS; i++) {
		key_slot *s = &f->keys[i];
		if (s->key_id < -1)
			s->key_id = -1;
		if (s->count < 0)
			s->count = 0;
		if (s->day > today + 1)
			s->day = today, s->count = 0;
		if (s->tat_ns < 0)
			s->tat_ns = 0;
		if (s->tat_ns > now + SS_STATE_PERIOD_NS)
			s->tat_ns = now + SS_STATE_PERIOD_NS;
	}
	for (unsigned i = 0; i < SS_STATE_ADDR_SLOTS; i++) {
		addr_slot *a = &f->addrs[i];
		if (a->tat_ns < 0 || a->tat_ns > now + SS_STATE_PERIOD_NS)
			a->tat_ns = now;
	}
}

static int state_lock(ss_state *st, ss_error *err)
{
	state_file *f = st->f;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LOCK_TIMEOUT_S;
	int rc;
	do
		rc = pthread_mutex_timedlock(&f->lock, &ts);
	while (rc == EINTR);
	if (rc == 0)
		return 0;
	if (rc == EOWNERDEAD) {
		repair(f, ss_state_now_ns());
		f->repairs++;
		if (pthread_mutex_consistent(&f->lock) == 0)
			return 0;
		pthread_mutex_unlock(&f->lock); /* now ENOTRECOVERABLE for everyone */
		rc = ENOTRECOVERABLE;
	}
	if (rc == ENOTRECOVERABLE) {
		/* The next open builds a new file; this one stays refused. */
		__atomic_store_n(&f->ready, READY_BROKEN, __ATOMIC_RELEASE);
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file's lock is unrecoverable.");
	}
	if (rc == ETIMEDOUT)
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is busy.");
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "Locking the shared state file failed: %s", strerror(rc));
}

static void state_unlock(ss_state *st)
{
	pthread_mutex_unlock(&st->f->lock);
}

/* ---- creation ---- */

static int init_file(state_file *f, ss_error *err)
{
	memset(f, 0, sizeof *f);
	f->format = FORMAT_WORD;
	f->header_size = offsetof(state_file, counter);
	f->sizeof_mutex = sizeof(pthread_mutex_t);
	f->key_slots = SS_STATE_KEY_SLOTS;
	f->addr_slots = SS_STATE_ADDR_SLOTS;
	f->counters = SS_STATE_COUNTERS;
	f->responders = SS_STATE_RESPONDERS;
	f->file_size = sizeof(state_file);
	f->created_ns = (uint64_t)ss_state_now_ns();
	randombytes_buf(f->addr_hash_key, sizeof f->addr_hash_key);

	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);
	if (rc == 0)
		rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	if (rc == 0)
		rc = pthread_mutex_init(&f->lock, &a);
	pthread_mutexattr_destroy(&a);
	if (rc != 0)
		return ss_error_set(err, SS_ERR_IO, "Cannot initialise the state file's mutex: %s", strerror(rc));
	memcpy(f->magic, STATE_MAGIC, 8);
	return 0;
}

static state_file *map_fd(int fd)
{
	void *p = mmap(NULL, sizeof(state_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Build a new file beside `path`, seed it and rename it over path. On success st->f/fd are the new file. */
static int build_new(ss_state *st, const char *path, ss_state_seed_fn seed, void *seed_arg, ss_error *err)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 16);
	if (tmp == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	snprintf(tmp, n + 16, "%s.new.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ss_error_set(err, SS_ERR_IO, "Cannot create the state file next to %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	mode_t um = umask(0);
	umask(um);
	fchmod(fd, 0660 & ~um);
	state_file *f = NULL;
	if (ftruncate(fd, (off_t)sizeof(state_file)) != 0 || (f = map_fd(fd)) == NULL) {
		ss_error_set(err, SS_ERR_IO, "Cannot size or map the state file %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (init_file(f, err) != 0)
		goto fail;
	st->f = f;
	if (seed != NULL)
		seed(seed_arg, st); /* best effort: a failed seed leaves today's counts at zero */
	__atomic_store_n(&f->ready, READY_OK, __ATOMIC_RELEASE);
	if (rename(tmp, path) != 0) {
		ss_error_set(err, SS_ERR_IO, "Cannot install the state file %s: %s", path, strerror(errno));
		goto fail;
	}
	st->fd = fd;
	st->created = true;
	free(tmp);
	return 0;
fail:
	if (f != NULL)
		munmap(f, sizeof(state_file));
	st->f = NULL;
	close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int ss_state_open(const char *path, ss_state_seed_fn seed, void *seed_arg, ss_state **out, ss_error *err)
{
	*out = NULL;
	if (sodium_init() < 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "libsodium cannot be initialised.");
	ss_state *st = calloc(1, sizeof *st);
	if (st == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	st->fd = -1;
	st->pid = getpid();
	st->path = strdup(path);
	if (st->path == NULL) {
		free(st);
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	}

	for (int attempt = 0; attempt < 8; attempt++) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
		if (fd < 0) {
			ss_error_set(err, SS_ERR_IO, "Cannot open the state file %s: %s", path, strerror(errno));
			free(st->path);
			free(st);
			return -1;
		}
		int rc;
		do
			rc = flock(fd, LOCK_EX);
		while (rc != 0 && errno == EINTR);
		struct stat a, b;
		if (rc != 0 || fstat(fd, &a) != 0) {
			ss_error_set(err, SS_ERR_IO, "Cannot lock the state file %s: %s", path, strerror(errno));
			close(fd);
			free(st->path);
			free(st);
			return -1;
		}
		if (stat(path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(fd); /* replaced while we waited: start over with the new file */
			continue;
		}
		if (a.st_size == (off_t)sizeof(state_file)) {
			state_file *f = map_fd(fd);
			if (f != NULL && header_ok(f)) {
				st->f = f;
				st->fd = fd;
				flock(fd, LOCK_UN);
				*out = st;
				return 0;
			}
			if (f != NULL)
				munmap(f, sizeof(state_file));
		}
		/* Missing, foreign or broken: build a fresh one while holding the old file's lock, so that
		 * concurrent openers wait and then find the new file. */
		rc = build_new(st, path, seed, seed_arg, err);
		close(fd); /* releases the lock on the old inode */
		if (rc != 0) {
			free(st->path);
			free(st);
			return -1;
		}
		*out = st;
		return 0;
	}
	free(st->path);
	free(st);
	return ss_error_set(err, SS_ERR_IO, "The state file %s keeps being replaced.", path);
}

void ss_state_close(ss_state *st)
{
	if (st == NULL)
		return;
	if (st->registered && st->pid == getpid()) {
		for (unsigned i = 0; i < SS_STATE_RESPONDERS; i++) {
			int32_t expect = (int32_t)st->pid;
			if (__atomic_compare_exchange_n(&st->f->responder_pid[i], &expect, 0, false, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				break;
		}
	}
	munmap(st->f, sizeof(state_file));
	if (st->fd >= 0)
		close(st->fd);
	free(st->path);
	free(st);
}

bool ss_state_is_current(const ss_state *st)
{
	struct stat a, b;
	if (__atomic_load_n(&st->f->ready, __ATOMIC_ACQUIRE) != READY_OK)
		return false;
	if (fstat(st->fd, &a) != 0 || stat(st->path, &b) != 0)
		return false;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

bool ss_state_was_created(const ss_state *st)
{
	return st->created;
}

/* ---- per-key slots (caller holds the lock) ---- */

static unsigned key_home(int64_t key_id)
{
	return (unsigned)(((uint64_t)key_id * 0x9E3779B97F4A7C15ULL) >> 40) & (SS_STATE_KEY_SLOTS - 1);
}

static key_slot *key_find(state_file *f, int64_t key_id)
{
	unsigned h = key_home(key_id);
	for (unsigned i = 0; i < PROBE; i++) {
		key_slot *s = &f->keys[(h + i) & (SS_STATE_KEY_SLOTS - 1)];
		if (s->key_id == key_id)
			return s;
		if (s->key_id == 0)
			return NULL;
	}
	return NULL;
}

/* Find key_id's slot or claim one: a never-used or freed slot, or one whose state has expired (counter
 * from an earlier day and limiter fully recovered — forgetting it changes nothing). */
static key_slot *key_claim(state_file *f, int64_t key_id, int64_t now, int64_t today)
{
	unsigned h = key_home(key_id);
	key_slot *reuse = NULL;
	for (unsigned i = 0; i < PROBE; i++) {
		key_slot *s = &f->keys[(h + i) & (SS_STATE_KEY_SLOTS - 1)];
		if (s->key_id == key_id)
			return s;
		if (s->key_id == 0) {
			if (reuse == NULL)
				reuse = s;
			break;
		}
		if (reuse == NULL && (s->key_id == -1 || (s->day != today && s->tat_ns <= now)))
			reuse = s;
	}
	if (reuse == NULL)
		return NULL;
	/* Fields first, id last: a prefix of these stores leaves either the old (expired) state or a fresh one. */
	reuse->tat_ns = 0;
	reuse->count = 0;
	reuse->day = today;
	reuse->key_id = key_id;
	return reuse;
}

static int ceil_s(int64_t ns)
{
	if (ns <= 0)
		return 0;
	int64_t s = (ns + 999999999LL) / 1000000000LL;
	return s > INT_MAX ? INT_MAX : (int)s;
}

int ss_state_acquire(ss_state *st, int64_t key_id, int rate_per_min, int64_t daily_limit, int64_t now,
		     ss_state_decision *d, ss_error *err)
{
	memset(d, 0, sizeof *d);
	if (rate_per_min < 1)
		rate_per_min = 1;
	const int64_t P = SS_STATE_PERIOD_NS;
	const int64_t T = P / rate_per_min;
	const int64_t today = ss_state_day(now);
	d->limit = rate_per_min;

	if (state_lock(st, err) != 0)
		return -1;
	key_slot *s = key_claim(st->f, key_id, now, today);
	if (s == NULL) {
		state_unlock(st);
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file's key table is full.");
	}
	int64_t tat = s->tat_ns;
	if (tat < now)
		tat = now;
	if (tat > now + P) /* the clock went back: never hold a key longer than one period */
		tat = now + P;
	int64_t count = s->day == today ? s->count : 0;
	int64_t next = tat + T;

	if (daily_limit > 0 && count >= daily_limit) {
		d->verdict = SS_STATE_DAILY_LIMITED;
		int64_t midnight = (today + 1) * 86400LL * 1000000000LL;
		d->retry_after_s = ceil_s(midnight - now);
		d->remaining = (int)((P - (tat - now)) / T);
		d->reset_s = ceil_s(tat - now);
	} else if (next - now > P) {
		d->verdict = SS_STATE_RATE_LIMITED;
		d->retry_after_s = ceil_s(next - now - P);
		d->remaining = 0;
		d->reset_s = ceil_s(tat - now);
	} else {
		d->verdict = SS_STATE_ALLOWED;
		/* count before tat: a prefix counts a request the dead process may not have served (safe side). */
		s->day = today;
		s->count = ++count;
		s->tat_ns = next;
		d->remaining = (int)((P - (next - now)) / T);
		d->reset_s = ceil_s(next - now);
	}
	state_unlock(st);
	if (d->retry_after_s < 1 && d->verdict != SS_STATE_ALLOWED)
		d->retry_after_s = 1;
	if (d->remaining < 0)
		d->remaining = 0;
	d->day_count = count;
	return 0;
}

int64_t ss_state_day_count(ss_state *st, int64_t key_id, int64_t now)
{
	ss_error err;
	if (state_lock(st, &err) != 0)
		return -1;
	key_slot *s = key_find(st->f, key_id);
	int64_t c = (s != NULL && s->day == ss_state_day(now)) ? s->count : 0;
	state_unlock(st);
	return c;
}

int ss_state_seed_day(ss_state *st, int64_t key_id, int64_t day, int64_t count, ss_error *err)
{
	if (key_id <= 0 || count < 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "Bad seed for key %lld.", (long long)key_id);
	int64_t now = ss_state_now_ns();
	if (state_lock(st, err) != 0)
		return -1;
	key_slot *s = key_claim(st->f, key_id, now, day);
	if (s == NULL) {
		state_unlock(st);
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file's key table is full.");
	}
	if (s->day != day) {
		s->count = 0;
		s->day = day;
	}
	if (s->count < count)
		s->count = count;
	state_unlock(st);
	return 0;
}

int ss_state_forget_key(ss_state *st, int64_t key_id, ss_error *err)
{
	if (state_lock(st, err) != 0)
		return -1;
	key_slot *s = key_find(st->f, key_id);
	if (s != NULL)
		s->key_id = -1;
	state_unlock(st);
	return 0;
}

/* ---- per-address slots ---- */

static uint64_t addr_hash(const state_file *f, const char *addr)
{
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, (const unsigned char *)addr, strlen(addr), f->addr_hash_key);
	uint64_t h;
	memcpy(&h, out, sizeof h);
	return h == 0 ? 1 : h;
}

static addr_slot *addr_find(state_file *f, uint64_t h, bool claim, int64_t now)
{
	unsigned home = (unsigned)(h >> 40) & (SS_STATE_ADDR_SLOTS - 1);
	addr_slot *reuse = NULL, *oldest = NULL;
	for (unsigned i = 0; i < PROBE; i++) {
		addr_slot *a = &f->addrs[(home + i) & (SS_STATE_ADDR_SLOTS - 1)];
		if (a->hash == h)
			return a;
		if (a->hash == 0) {
			if (reuse == NULL)
				reuse = a;
			break;
		}
		if (reuse == NULL && a->tat_ns <= now)
			reuse = a;
		if (oldest == NULL || a->tat_ns < oldest->tat_ns)
			oldest = a;
	}
	if (!claim)
		return NULL;
	if (reuse == NULL)
		reuse = oldest; /* full of live entries: forget the one closest to recovery */
	reuse->tat_ns = now;
	reuse->hash = h;
	return reuse;
}

int ss_state_authfail_blocked(ss_state *st, const char *addr, int per_min, int64_t now, int *retry_after_s,
			      ss_error *err)
{
	*retry_after_s = 0;
	if (per_min < 1)
		per_min = 1;
	const int64_t P = SS_STATE_PERIOD_NS, T = P / per_min;
	uint64_t h = addr_hash(st->f, addr);
	if (state_lock(st, err) != 0)
		return -1;
	addr_slot *a = addr_find(st->f, h, false, now);
	int64_t tat = a != NULL ? a->tat_ns : now;
	state_unlock(st);
	if (tat < now)
		tat = now;
	if (tat + T - now > P) {
		*retry_after_s = ceil_s(tat + T - now - P);
		if (*retry_after_s < 1)
			*retry_after_s = 1;
		return 1;
	}
	return 0;
}

int ss_state_authfail_record(ss_state *st, const char *addr, int per_min, int64_t now, ss_error *err)
{
	if (per_min < 1)
		per_min = 1;
	const int64_t P = SS_STATE_PERIOD_NS, T = P / per_min;
	uint64_t h = addr_hash(st->f, addr);
	if (state_lock(st, err) != 0)
		return -1;
	addr_slot *a = addr_find(st->f, h, true, now);
	int64_t tat = a->tat_ns < now ? now : a->tat_ns;
	tat += T;
	if (tat > now + P + T)
		tat = now + P + T;
	a->tat_ns = tat;
	state_unlock(st);
	return 0;
}

/* ---- generation, counters, responders ---- */

uint64_t ss_state_key_generation(const ss_state *st)
{
	return __atomic_load_n(&st->f->key_generation, __ATOMIC_ACQUIRE);
}

uint64_t ss_state_bump_key_generation(ss_state *st)
{
	return __atomic_add_fetch(&st->f->key_generation, 1, __ATOMIC_ACQ_REL);
}

uint64_t ss_state_counter_add(ss_state *st, unsigned idx, uint64_t delta)
{
	if (idx >= SS_STATE_COUNTERS)
		return 0;
	return __atomic_add_fetch(&st->f->counter[idx], delta, __ATOMIC_RELAXED);
}

uint64_t ss_state_counter_get(const ss_state *st, unsigned idx)
{
	if (idx >= SS_STATE_COUNTERS)
		return 0;
	return __atomic_load_n(&st->f->counter[idx], __ATOMIC_RELAXED);
}

void ss_state_counter_set(ss_state *st, unsigned idx, uint64_t v)
{
	if (idx < SS_STATE_COUNTERS)
		__atomic_store_n(&st->f->counter[idx], v, __ATOMIC_RELAXED);
}

static bool pid_alive(int32_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int ss_state_register_responder(ss_state *st, ss_error *err)
{
	if (st->registered && st->pid == getpid())
		return 0;
	st->pid = getpid();
	int32_t me = (int32_t)st->pid;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < SS_STATE_RESPONDERS; i++) {
			int32_t *p = &st->f->responder_pid[i];
			int32_t cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);
			if (cur == me) {
				st->registered = true;
				return 0;
			}
			if (cur == 0 || (pass == 1 && !pid_alive(cur))) {
				if (__atomic_compare_exchange_n(p, &cur, me, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
					st->registered = true;
					return 0;
				}
			}
		}
	}
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "The state file's responder table is full.");
}

int ss_state_responders_alive(ss_state *st)
{
	int n = 0;
	for (unsigned i = 0; i < SS_STATE_RESPONDERS; i++) {
		int32_t *p = &st->f->responder_pid[i];
		int32_t cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);
		if (cur == 0)
			continue;
		if (pid_alive(cur))
			n++;
		else
			__atomic_compare_exchange_n(p, &cur, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	}
	return n;
}

/* ---- diagnostics ---- */

int ss_state_test_lock_and_hold(ss_state *st)
{
	ss_error err;
	if (state_lock(st, &err) != 0)
		return -1;
	/* Leave a torn-looking slot behind, as a process killed mid-update could. */
	st->f->keys[0].count = -5;
	return 0;
}

uint64_t ss_state_repairs(const ss_state *st)
{
	return __atomic_load_n(&st->f->repairs, __ATOMIC_RELAXED);
}

int ss_state_check(ss_state *st, ss_error *err)
{
	if (state_lock(st, err) != 0)
		return -1;
	int64_t now = ss_state_now_ns();
	int rc = 0;
	for (unsigned i = 0; i < SS_STATE_KEY_SLOTS && rc == 0; i++) {
		const key_slot *s = &st->f->keys[i];
		if (s->key_id < -1 || s->count < 0 || s->tat_ns < 0 || s->tat_ns > now + SS_STATE_PERIOD_NS)
			rc = ss_error_set(err, SS_ERR_INTERNAL, "Key slot %u is inconsistent.", i);
		else if (s->key_id > 0 && key_find(st->f, s->key_id) != s)
			rc = ss_error_set(err, SS_ERR_INTERNAL, "Key %lld is in slot %u twice or unreachable.",
					  (long long)s->key_id, i);
	}
	state_unlock(st);
	return rc;
}
