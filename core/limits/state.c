#include "core/limits/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
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
#define STATE_LAYOUT 2u
#define FORMAT_WORD (STATE_LAYOUT | ((uint32_t)sizeof(void *) << 8) | ((uint32_t)alignof(pthread_mutex_t) << 16))
#define PROBE 64 /* open-addressing window */
#define LOCK_TIMEOUT_S 2
#define MAX_MAPPINGS 16 /* state mappings one process can have at once and still be guarded against SIGBUS */

/* The robust futex word of a glibc mutex (see futex(2)). */
#define FUTEX_WORD_WAITERS 0x80000000u
#define FUTEX_WORD_OWNER_DIED 0x40000000u
#define FUTEX_WORD_TID_MASK 0x3fffffffu

enum { READY_BUILDING = 0, READY_OK = 1, READY_BROKEN = 2 };

/* A slot's key_id: 0 = never used (ends a probe), -1 = free again (does not end a probe), > 0 = a key. */
typedef struct key_slot {
	int64_t key_id;
	int64_t tat_ns; /* GCRA: earliest time of the key's next request (TAT minus the burst tolerance), so it
			 * stays within one emission interval of now whatever the burst; 0 = fresh */
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
	uint64_t header_sum; /* FNV-1a over the fields above but `ready` */
	alignas(64) uint64_t key_generation;
	uint64_t repairs;
	uint64_t holder;     /* the lock's holder: pid << 32 | its CLOCK_MONOTONIC ms at acquire (low 32 bits) */
	alignas(64) pthread_mutex_t lock;
	char built_reason[160]; /* why this file replaced an earlier one ("" = there was none) */
	char broken_reason[80]; /* why a process marked it unusable (with ready = READY_BROKEN) */
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
	volatile sig_atomic_t broken; /* set by mark_broken or the SIGBUS handler: never touch f's tables again */
	const char *broken_why;       /* static text for ss_state_problem */
	char built_reason[160];       /* why this open built a new file ("" when it mapped an existing one) */
	char problem[200];
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

static uint64_t header_checksum(const state_file *f)
{
	const unsigned char *p = (const unsigned char *)f;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < offsetof(state_file, header_sum); i++) {
		if (i >= offsetof(state_file, ready) && i < offsetof(state_file, ready) + sizeof f->ready)
			continue;
		h = (h ^ p[i]) * 0x100000001b3ULL;
	}
	return h;
}

/* NULL when the header describes a usable file of this build, else why not. */
static const char *header_problem(const state_file *f)
{
	if (memcmp(f->magic, STATE_MAGIC, 8) != 0)
		return "it is not a songscope state file";
	if (f->format != FORMAT_WORD || f->header_size != offsetof(state_file, counter) ||
	    f->sizeof_mutex != sizeof(pthread_mutex_t) || f->key_slots != SS_STATE_KEY_SLOTS ||
	    f->addr_slots != SS_STATE_ADDR_SLOTS || f->counters != SS_STATE_COUNTERS ||
	    f->responders != SS_STATE_RESPONDERS || f->file_size != sizeof(state_file))
		return "its layout is not this build's";
	if (f->header_sum != header_checksum(f))
		return "its header checksum is wrong (the header is corrupted)";
	uint32_t ready = __atomic_load_n(&f->ready, __ATOMIC_ACQUIRE);
	if (ready == READY_BROKEN)
		return "a process marked it unusable";
	if (ready != READY_OK)
		return "it was never finished (or its ready word is corrupted)";
	return NULL;
}

/* ---- the mutex's own state ---- */

static int mutex_init_attr(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);
	if (rc == 0)
		rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	if (rc == 0)
		rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return rc;
}

static pthread_once_t template_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t template_mutex; /* initialised exactly as the file's: the reference for its kind bytes */

static void template_init(void)
{
	if (mutex_init_attr(&template_mutex) != 0)
		abort(); /* valid attributes and no resources: pthread_mutex_init cannot fail here */
}

static bool pid_alive(int32_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Cheap check on every lock: the mutex's kind/attribute bytes are those this build initialises. Calling
 * glibc on other kinds (PI, priority-protect, garbage) can block forever or abort. */
static bool mutex_kind_ok(const state_file *f)
{
#ifdef __GLIBC__
	pthread_once(&template_once, template_init);
	return __atomic_load_n(&f->lock.__data.__kind, __ATOMIC_RELAXED) == template_mutex.__data.__kind;
#else
	(void)f;
	return true;
#endif
}

/* NULL when the mutex's state is plausible: right kind, and either unlocked, or locked by a live thread,
 * or left by a dead owner (the next locker repairs). Else why not. */
static const char *mutex_problem(const state_file *f)
{
	if (!mutex_kind_ok(f))
		return "its mutex's kind bytes are corrupted";
#ifdef __GLIBC__
	for (int tries = 0; tries < 3; tries++) {
		uint32_t w = (uint32_t)__atomic_load_n(&f->lock.__data.__lock, __ATOMIC_ACQUIRE);
		if (w == 0 || (w & FUTEX_WORD_OWNER_DIED) != 0)
			return NULL;
		uint32_t tid = w & FUTEX_WORD_TID_MASK;
		if (tid != 0 && pid_alive((int32_t)tid))
			return NULL;
		/* A dead or no owner and no OWNER_DIED bit: corrupted, unless the word just changed under us. */
		if ((uint32_t)__atomic_load_n(&f->lock.__data.__lock, __ATOMIC_ACQUIRE) == w)
			return tid == 0 ? "its mutex's lock word is corrupted"
					: "its mutex is held by a process that does not exist";
	}
	return NULL;
#else
	uint64_t h = __atomic_load_n(&f->holder, __ATOMIC_ACQUIRE);
	return h != 0 && !pid_alive((int32_t)(h >> 32)) ? "its mutex is held by a process that does not exist" : NULL;
#endif
}

/* After a lock timeout (2 s) with a live owner: NULL when the holder record names that owner (a stopped or
 * stuck process: the master deals with it), else why the lock word cannot be believed (e.g. a stray write
 * that happens to name a live process that never took the lock). */
static const char *owner_unrecorded(const state_file *f)
{
#ifdef __GLIBC__
	uint32_t w = (uint32_t)__atomic_load_n(&f->lock.__data.__lock, __ATOMIC_ACQUIRE);
	int32_t tid = (int32_t)(w & FUTEX_WORD_TID_MASK);
	uint64_t h = __atomic_load_n(&f->holder, __ATOMIC_ACQUIRE);
	int32_t holder = (int32_t)(h >> 32);
	if (w == 0 || (w & FUTEX_WORD_OWNER_DIED) != 0 || tid == holder)
		return NULL;
	if (holder != 0) { /* the owner may be another thread of the recorded process */
		char p[64], line[128];
		snprintf(p, sizeof p, "/proc/%ld/status", (long)tid);
		FILE *sf = fopen(p, "re");
		long tgid = -1;
		if (sf != NULL) {
			while (fgets(line, sizeof line, sf) != NULL)
				if (sscanf(line, "Tgid: %ld", &tgid) == 1)
					break;
			fclose(sf);
		}
		if (tgid == holder || tgid < 0)
			return NULL; /* the same process, or we cannot tell: do not rebuild on a guess */
	}
	return "its mutex names an owner that never recorded taking it";
#else
	(void)f;
	return NULL;
#endif
}

/* ---- SIGBUS: a mapping whose file was truncated under it ---- */

static struct {
	_Atomic(char *) base;
	ss_state *_Atomic st;
} mappings[MAX_MAPPINGS];
static struct sigaction sigbus_previous;
static atomic_bool sigbus_installed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char *a = si->si_addr;
	for (unsigned i = 0; i < MAX_MAPPINGS; i++) {
		char *base = atomic_load(&mappings[i].base);
		ss_state *st = atomic_load(&mappings[i].st);
		if (base == NULL || st == NULL || a < base || a >= base + sizeof(state_file))
			continue;
		/* Anonymous zero pages over the whole mapping: the access completes, the caller sees the flag. */
		if (mmap(base, sizeof(state_file), PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0) == MAP_FAILED)
			break;
		st->broken_why = "the file was truncated under its mapping (SIGBUS)";
		st->broken = 1;
		return;
	}
	/* Not ours: what would have happened without this handler. A fault repeats on return; a SIGBUS sent by
	 * kill() must be raised again. */
	sigaction(SIGBUS, &sigbus_previous, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void guard_mapping(ss_state *st)
{
	bool expect = false;
	if (atomic_compare_exchange_strong(&sigbus_installed, &expect, true)) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, &sigbus_previous);
	}
	for (unsigned i = 0; i < MAX_MAPPINGS; i++) {
		ss_state *none = NULL;
		if (atomic_compare_exchange_strong(&mappings[i].st, &none, st)) {
			atomic_store(&mappings[i].base, (char *)st->f);
			return;
		}
	}
	/* More mappings than slots (never in songscope's processes): this one is simply not guarded. */
}

static void unguard_mapping(ss_state *st)
{
	for (unsigned i = 0; i < MAX_MAPPINGS; i++)
		if (atomic_load(&mappings[i].st) == st) {
			atomic_store(&mappings[i].base, NULL);
			atomic_store(&mappings[i].st, NULL);
		}
}

/* This mapping must not be used again; tell every other process too (they reopen, the opener rebuilds). */
static void mark_broken(ss_state *st, const char *why)
{
	if (st->broken)
		return;
	st->broken_why = why;
	st->broken = 1;
	state_file *f = st->f;
	snprintf(f->broken_reason, sizeof f->broken_reason, "%s", why);
	__atomic_store_n(&f->ready, READY_BROKEN, __ATOMIC_RELEASE);
}

/* ---- locking ---- */

/* Make the tables consistent after a process died holding the lock (or after an open found the lock free).
 * Every update is written so that any prefix of its stores is a valid state; this only clamps values a
 * torn or garbage write could leave. */
static void repair(state_file *f, int64_t now)
{
	int64_t today = ss_state_day(now);
	for (unsigned i = 0; i < SS_STATE_KEY_SLOTS; i++) {
		key_slot *s = &f->keys[i];
		if (s->key_id < -1)
			s->key_id = -1;
		if (s->count < 0)
			s->count = 0;
		if (s->day > today + 1 || s->day < 0)
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

static uint32_t mono_ms32(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* This process's pid without a system call per lock: cached, and forgotten in a child after fork(). */
static pid_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
	cached_pid = 0;
}

static void pid_once_init(void)
{
	pthread_atfork(NULL, NULL, pid_forget);
}

static pid_t my_pid(void)
{
	pthread_once(&pid_once, pid_once_init);
	if (cached_pid == 0)
		cached_pid = getpid();
	return cached_pid;
}

static void holder_set(state_file *f)
{
	uint64_t h = ((uint64_t)(uint32_t)my_pid() << 32) | mono_ms32();
	__atomic_store_n(&f->holder, h, __ATOMIC_RELEASE);
}

static int unusable(ss_state *st, ss_error *err)
{
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is unusable: %s.",
			    st->broken_why ? st->broken_why : "marked so");
}

/* Take the mutex. Anything but success or a dead owner (repaired here) that says the mutex itself is bad
 * (wrong kind, EINVAL, ENOTRECOVERABLE, a timeout with no live owner) marks the mapping broken for every
 * process: ss_state_is_usable turns false and the next open rebuilds the file. */
static int state_lock(ss_state *st, ss_error *err)
{
	if (st->broken)
		return unusable(st, err);
	state_file *f = st->f;
	if (!mutex_kind_ok(f)) {
		mark_broken(st, "its mutex's kind bytes are corrupted");
		return unusable(st, err);
	}
	int rc = pthread_mutex_trylock(&f->lock);
	if (rc == EBUSY) {
		const char *bad = mutex_problem(f);
		if (bad != NULL) {
			mark_broken(st, bad);
			return unusable(st, err);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += LOCK_TIMEOUT_S;
		do
			rc = pthread_mutex_timedlock(&f->lock, &ts);
		while (rc == EINTR);
	}
	if (st->broken) /* the file went away (SIGBUS) while we were in there */
		return unusable(st, err);
	if (rc == 0) {
		holder_set(f);
		return 0;
	}
	if (rc == EOWNERDEAD) {
		holder_set(f);
		repair(f, ss_state_now_ns());
		f->repairs++;
		if (pthread_mutex_consistent(&f->lock) == 0 && !st->broken)
			return 0;
		__atomic_store_n(&f->holder, 0, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&f->lock); /* now ENOTRECOVERABLE for everyone */
		rc = ENOTRECOVERABLE;
	}
	if (rc == ETIMEDOUT) {
		const char *bad = mutex_problem(f);
		if (bad == NULL && owner_unrecorded(f) != NULL) {
			/* Look again a moment later: a new owner may just not have written its record yet. */
			struct timespec pause = {0, 20 * 1000 * 1000};
			nanosleep(&pause, NULL);
			bad = owner_unrecorded(f);
		}
		if (bad == NULL)
			return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is busy.");
		mark_broken(st, bad);
		return unusable(st, err);
	}
	mark_broken(st, rc == ENOTRECOVERABLE ? "its mutex is unrecoverable" : "its mutex cannot be locked");
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "Locking the shared state file failed: %s", strerror(rc));
}

/* Release the mutex (holder record cleared first). Returns 0, or -1 with err (when err is not NULL) if the
 * mapping broke while it was held: the results of the critical section must then not be used. */
static int state_unlock(ss_state *st, ss_error *err)
{
	if (st->broken) /* the pages are zeros now: nothing to release */
		return err != NULL ? unusable(st, err) : -1;
	__atomic_store_n(&st->f->holder, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&st->f->lock);
	if (st->broken)
		return err != NULL ? unusable(st, err) : -1;
	return 0;
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
	int rc = mutex_init_attr(&f->lock);
	if (rc != 0)
		return ss_error_set(err, SS_ERR_IO, "Cannot initialise the state file's mutex: %s", strerror(rc));
	memcpy(f->magic, STATE_MAGIC, 8);
	f->header_sum = header_checksum(f);
	return 0;
}

static state_file *map_fd(int fd)
{
	void *p = mmap(NULL, sizeof(state_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Build a new file beside `path`, seed it and rename it over path. On success st->f/fd are the new file.
 * `reason` (may be "") is recorded in the new file: why it replaced the one before. */
static int build_new(ss_state *st, const char *path, const char *reason, ss_state_seed_fn seed, void *seed_arg,
		     ss_error *err)
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
	fchmod(fd, 0600); /* the owner only, whatever the umask */
	state_file *f = NULL;
	if (ftruncate(fd, (off_t)sizeof(state_file)) != 0 || (f = map_fd(fd)) == NULL) {
		ss_error_set(err, SS_ERR_IO, "Cannot size or map the state file %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (init_file(f, err) != 0)
		goto fail;
	snprintf(f->built_reason, sizeof f->built_reason, "%s", reason);
	st->f = f;
	st->broken = 0;
	if (seed != NULL)
		seed(seed_arg, st); /* best effort: a failed seed leaves today's counts at zero */
	__atomic_store_n(&f->ready, READY_OK, __ATOMIC_RELEASE);
	if (rename(tmp, path) != 0) {
		ss_error_set(err, SS_ERR_IO, "Cannot install the state file %s: %s", path, strerror(errno));
		goto fail;
	}
	st->fd = fd;
	st->created = true;
	snprintf(st->built_reason, sizeof st->built_reason, "%s", reason);
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

/* Check an existing mapping before trusting it: header, the mutex's own state, the tables' bounds (clamped
 * under the lock when it is free). NULL when usable, else why not (in buf or a static string). */
static const char *validate(state_file *f, char *buf, size_t len)
{
	const char *why = header_problem(f);
	if (why != NULL) {
		if (strcmp(why, "a process marked it unusable") == 0) {
			char r[sizeof f->broken_reason + 1];
			memcpy(r, f->broken_reason, sizeof f->broken_reason);
			r[sizeof f->broken_reason] = '\0';
			snprintf(buf, len, "a process marked it unusable (%s)", r);
			return buf;
		}
		return why;
	}
	if ((why = mutex_problem(f)) != NULL)
		return why;
	int rc = pthread_mutex_trylock(&f->lock);
	if (rc == 0 || rc == EOWNERDEAD) {
		holder_set(f);
		repair(f, ss_state_now_ns());
		if (rc == EOWNERDEAD) {
			f->repairs++;
			rc = pthread_mutex_consistent(&f->lock);
		}
		__atomic_store_n(&f->holder, 0, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&f->lock);
		return rc == 0 ? NULL : "its mutex is unrecoverable";
	}
	if (rc == EBUSY)
		return NULL; /* held by a live process (mutex_problem said so): it is in use */
	return "its mutex cannot be locked";
}

static ss_state *state_new(const char *path, ss_error *err)
{
	if (sodium_init() < 0) {
		ss_error_set(err, SS_ERR_INTERNAL, "libsodium cannot be initialised.");
		return NULL;
	}
	ss_state *st = calloc(1, sizeof *st);
	if (st == NULL || (st->path = strdup(path)) == NULL) {
		free(st);
		ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
		return NULL;
	}
	st->fd = -1;
	st->pid = getpid();
	return st;
}

static void state_free(ss_state *st)
{
	free(st->path);
	free(st);
}

int ss_state_open(const char *path, ss_state_seed_fn seed, void *seed_arg, ss_state **out, ss_error *err)
{
	*out = NULL;
	ss_state *st = state_new(path, err);
	if (st == NULL)
		return -1;

	for (int attempt = 0; attempt < 8; attempt++) {
		/* Only the process that creates the (empty) file knows it is new; anyone else who finds it empty
		 * is looking at a truncated file (or at one whose creator has not taken the lock yet, a window of
		 * two system calls: that creator then finds the file replaced and maps the new one). */
		bool existed = true;
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0 && errno == EEXIST)
				continue;
			existed = false;
		}
		if (fd < 0) {
			ss_error_set(err, SS_ERR_IO, "Cannot open the state file %s: %s", path, strerror(errno));
			state_free(st);
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
			state_free(st);
			return -1;
		}
		if (stat(path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(fd); /* replaced while we waited: start over with the new file */
			continue;
		}
		char why_buf[160], reason[160];
		const char *why = NULL;
		if (!existed) {
			why = "";
		} else if (a.st_size != (off_t)sizeof(state_file)) {
			snprintf(why_buf, sizeof why_buf, "its size is %lld bytes, not %zu (truncated?)",
				 (long long)a.st_size, sizeof(state_file));
			why = why_buf;
		} else {
			state_file *f = map_fd(fd);
			if (f == NULL) {
				why = "it cannot be mapped";
			} else {
				st->f = f;
				guard_mapping(st); /* validating reads it: a truncation now must not kill us */
				why = validate(f, why_buf, sizeof why_buf);
				if (why == NULL && st->broken)
					why = st->broken_why;
				if (why == NULL) {
					st->fd = fd;
					flock(fd, LOCK_UN);
					*out = st;
					return 0;
				}
				unguard_mapping(st);
				munmap(f, sizeof(state_file));
				st->f = NULL;
				st->broken = 0;
			}
		}
		/* Missing, foreign or broken: build a fresh one while holding the old file's lock, so that
		 * concurrent openers wait and then find the new file. */
		snprintf(reason, sizeof reason, "%s", why);
		rc = build_new(st, path, reason, seed, seed_arg, err);
		close(fd); /* releases the lock on the old inode */
		if (rc != 0) {
			state_free(st);
			return -1;
		}
		guard_mapping(st);
		*out = st;
		return 0;
	}
	state_free(st);
	return ss_error_set(err, SS_ERR_IO, "The state file %s keeps being replaced.", path);
}

int ss_state_attach(const char *path, ss_state **out, ss_error *err)
{
	*out = NULL;
	ss_state *st = state_new(path, err);
	if (st == NULL)
		return -1;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat a;
	if (fd < 0 || fstat(fd, &a) != 0 || a.st_size != (off_t)sizeof(state_file)) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The state file %s is missing or not ready.", path);
		goto fail;
	}
	st->f = map_fd(fd);
	if (st->f == NULL) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "Cannot map the state file %s: %s", path, strerror(errno));
		goto fail;
	}
	st->fd = fd;
	guard_mapping(st);
	const char *why = header_problem(st->f);
	if (why == NULL && st->broken)
		why = st->broken_why;
	if (why != NULL) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The state file %s is not usable: %s.", path, why);
		ss_state_close(st);
		return -1;
	}
	*out = st;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	state_free(st);
	return -1;
}

void ss_state_close(ss_state *st)
{
	if (st == NULL)
		return;
	if (st->registered && st->pid == getpid() && !st->broken) {
		for (unsigned i = 0; i < SS_STATE_RESPONDERS; i++) {
			int32_t expect = (int32_t)st->pid;
			if (__atomic_compare_exchange_n(&st->f->responder_pid[i], &expect, 0, false, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				break;
		}
	}
	unguard_mapping(st);
	munmap(st->f, sizeof(state_file));
	if (st->fd >= 0)
		close(st->fd);
	state_free(st);
}

bool ss_state_is_usable(const ss_state *st)
{
	struct stat a;
	if (st->broken)
		return false;
	if (fstat(st->fd, &a) != 0 || a.st_size != (off_t)sizeof(state_file))
		return false;
	return __atomic_load_n(&st->f->ready, __ATOMIC_ACQUIRE) == READY_OK && !st->broken;
}

bool ss_state_is_current(const ss_state *st)
{
	struct stat a, b;
	if (!ss_state_is_usable(st))
		return false;
	if (fstat(st->fd, &a) != 0 || stat(st->path, &b) != 0)
		return false;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

const char *ss_state_problem(ss_state *st)
{
	struct stat a;
	if (st->broken)
		snprintf(st->problem, sizeof st->problem, "%s", st->broken_why ? st->broken_why : "marked unusable");
	else if (fstat(st->fd, &a) != 0)
		snprintf(st->problem, sizeof st->problem, "fstat failed: %s", strerror(errno));
	else if (a.st_size != (off_t)sizeof(state_file))
		snprintf(st->problem, sizeof st->problem, "its size is %lld bytes, not %zu (truncated?)",
			 (long long)a.st_size, sizeof(state_file));
	else if (__atomic_load_n(&st->f->ready, __ATOMIC_ACQUIRE) != READY_OK) {
		char r[sizeof st->f->broken_reason + 1];
		memcpy(r, st->f->broken_reason, sizeof st->f->broken_reason);
		r[sizeof st->f->broken_reason] = '\0';
		snprintf(st->problem, sizeof st->problem, "a process marked it unusable (%s)", r[0] ? r : "no reason");
	} else if (!ss_state_is_current(st))
		snprintf(st->problem, sizeof st->problem, "it was replaced by a new file");
	else
		return NULL;
	return st->problem;
}

bool ss_state_was_created(const ss_state *st)
{
	return st->created;
}

const char *ss_state_built_reason(const ss_state *st)
{
	return st->created && st->built_reason[0] != '\0' ? st->built_reason : NULL;
}

bool ss_state_rebuild_info(const ss_state *st, int64_t *at_ns, char *reason, size_t len)
{
	if (st->broken || len == 0)
		return false;
	const state_file *f = st->f;
	char r[sizeof f->built_reason + 1];
	memcpy(r, f->built_reason, sizeof f->built_reason);
	r[sizeof f->built_reason] = '\0';
	if (r[0] == '\0' || st->broken)
		return false;
	*at_ns = (int64_t)f->created_ns;
	snprintf(reason, len, "%s", r);
	return true;
}

bool ss_state_lock_holder(const ss_state *st, pid_t *pid, int64_t *held_ms)
{
	if (st->broken)
		return false;
	uint64_t h = __atomic_load_n(&st->f->holder, __ATOMIC_ACQUIRE);
	if (h == 0 || st->broken)
		return false;
	*pid = (pid_t)(int32_t)(uint32_t)(h >> 32);
	*held_ms = (int64_t)(uint32_t)(mono_ms32() - (uint32_t)h);
	return true;
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

/* Requests a key could make at `now` without waiting, given its next-request time s (see key_slot). */
static int allowance(int64_t s, int64_t now, int64_t tau, int64_t T)
{
	if (s > now)
		return 0;
	int64_t base = s > now - tau ? s : now - tau;
	return (int)((now - base) / T) + 1;
}

int ss_state_acquire(ss_state *st, int64_t key_id, int rate_per_min, int burst, int64_t daily_limit, int64_t now,
		     ss_state_decision *d, ss_error *err)
{
	memset(d, 0, sizeof *d);
	if (rate_per_min < 1)
		rate_per_min = 1;
	if (burst < 0)
		burst = 0;
	const int64_t P = SS_STATE_PERIOD_NS;
	/* Emission interval rounded up, so that rate * T >= P: then no 60 s window holds more than rate + burst. */
	const int64_t T = (P + rate_per_min - 1) / rate_per_min;
	if (burst > SS_STATE_MAX_TOLERANCE_NS / T)
		burst = (int)(SS_STATE_MAX_TOLERANCE_NS / T);
	const int64_t tau = (int64_t)burst * T;
	const int64_t today = ss_state_day(now);
	d->limit = rate_per_min;

	if (state_lock(st, err) != 0)
		return -1;
	key_slot *s = key_claim(st->f, key_id, now, today);
	if (s == NULL) {
		if (state_unlock(st, err) != 0)
			return -1;
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file's key table is full.");
	}
	int64_t next = s->tat_ns;
	if (next > now + P) /* the clock went back: never hold a key longer than one period */
		next = now + P;
	int64_t count = s->day == today ? s->count : 0;

	if (daily_limit > 0 && count >= daily_limit) {
		d->verdict = SS_STATE_DAILY_LIMITED;
		int64_t midnight = (today + 1) * 86400LL * 1000000000LL;
		d->retry_after_s = ceil_s(midnight - now);
		d->remaining = allowance(next, now, tau, T);
		d->reset_s = ceil_s(next + tau - now);
	} else if (next > now) {
		d->verdict = SS_STATE_RATE_LIMITED;
		d->retry_after_s = ceil_s(next - now);
		d->remaining = 0;
		d->reset_s = ceil_s(next + tau - now);
	} else {
		d->verdict = SS_STATE_ALLOWED;
		next = (next > now - tau ? next : now - tau) + T;
		/* count before next: a prefix counts a request the dead process may not have served (safe side). */
		s->day = today;
		s->count = ++count;
		s->tat_ns = next;
		d->remaining = allowance(next, now, tau, T);
		d->reset_s = ceil_s(next + tau - now);
	}
	if (state_unlock(st, err) != 0) {
		memset(d, 0, sizeof *d);
		return -1;
	}
	if (d->retry_after_s < 1 && d->verdict != SS_STATE_ALLOWED)
		d->retry_after_s = 1;
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
	if (state_unlock(st, &err) != 0)
		return -1;
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
		if (state_unlock(st, err) != 0)
			return -1;
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file's key table is full.");
	}
	if (s->day != day) {
		s->count = 0;
		s->day = day;
	}
	if (s->count < count)
		s->count = count;
	return state_unlock(st, err);
}

int ss_state_forget_key(ss_state *st, int64_t key_id, ss_error *err)
{
	if (state_lock(st, err) != 0)
		return -1;
	key_slot *s = key_find(st->f, key_id);
	if (s != NULL)
		s->key_id = -1;
	return state_unlock(st, err);
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
	if (st->broken)
		return unusable(st, err);
	uint64_t h = addr_hash(st->f, addr);
	if (state_lock(st, err) != 0)
		return -1;
	addr_slot *a = addr_find(st->f, h, false, now);
	int64_t tat = a != NULL ? a->tat_ns : now;
	if (state_unlock(st, err) != 0)
		return -1;
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
	if (st->broken)
		return unusable(st, err);
	uint64_t h = addr_hash(st->f, addr);
	if (state_lock(st, err) != 0)
		return -1;
	addr_slot *a = addr_find(st->f, h, true, now);
	int64_t tat = a->tat_ns < now ? now : a->tat_ns;
	tat += T;
	if (tat > now + P + T)
		tat = now + P + T;
	a->tat_ns = tat;
	return state_unlock(st, err);
}

/* ---- generation, counters, responders ---- */

uint64_t ss_state_key_generation(const ss_state *st)
{
	if (st->broken)
		return 0;
	return __atomic_load_n(&st->f->key_generation, __ATOMIC_ACQUIRE);
}

uint64_t ss_state_bump_key_generation(ss_state *st)
{
	if (st->broken)
		return 0;
	return __atomic_add_fetch(&st->f->key_generation, 1, __ATOMIC_ACQ_REL);
}

uint64_t ss_state_counter_add(ss_state *st, unsigned idx, uint64_t delta)
{
	if (idx >= SS_STATE_COUNTERS || st->broken)
		return 0;
	return __atomic_add_fetch(&st->f->counter[idx], delta, __ATOMIC_RELAXED);
}

uint64_t ss_state_counter_get(const ss_state *st, unsigned idx)
{
	if (idx >= SS_STATE_COUNTERS || st->broken)
		return 0;
	return __atomic_load_n(&st->f->counter[idx], __ATOMIC_RELAXED);
}

void ss_state_counter_set(ss_state *st, unsigned idx, uint64_t v)
{
	if (idx < SS_STATE_COUNTERS && !st->broken)
		__atomic_store_n(&st->f->counter[idx], v, __ATOMIC_RELAXED);
}

int ss_state_register_responder(ss_state *st, ss_error *err)
{
	if (st->registered && st->pid == getpid())
		return 0;
	if (st->broken)
		return unusable(st, err);
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
	for (unsigned i = 0; i < SS_STATE_RESPONDERS && !st->broken; i++) {
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
	if (st->broken)
		return 0;
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
	if (state_unlock(st, rc == 0 ? err : NULL) != 0)
		return -1;
	return rc;
}
