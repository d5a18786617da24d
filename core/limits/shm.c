#include "core/limits/shm.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
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

#include "core/util/mapguard.h"

#define SHM_HEADER_VERSION 1u
#define FORMAT_WORD                                                                                                  \
	(SHM_HEADER_VERSION | ((uint32_t)sizeof(void *) << 8) | ((uint32_t)alignof(pthread_mutex_t) << 16))
#define LOCK_TIMEOUT_S 2

/* The robust futex word of a glibc mutex (see futex(2)). */
#define FUTEX_WORD_WAITERS 0x80000000u
#define FUTEX_WORD_OWNER_DIED 0x40000000u
#define FUTEX_WORD_TID_MASK 0x3fffffffu

enum { READY_BUILDING = 0, READY_OK = 1, READY_BROKEN = 2 };

typedef struct shm_header {
	char magic[8];
	uint32_t format;
	uint32_t ready;
	uint32_t header_size;
	uint32_t sizeof_mutex;
	uint32_t payload_version;
	uint32_t spare;
	uint64_t payload_size;
	uint64_t file_size;
	uint64_t created_ns;
	uint64_t header_sum; /* FNV-1a over the fields above but `ready` */
	alignas(64) uint64_t repairs;
	uint64_t holder;        /* the lock's holder: pid << 32 | its CLOCK_MONOTONIC ms at acquire (low 32 bits) */
	char broken_reason[80]; /* why a process marked it unusable (with ready = READY_BROKEN) */
	alignas(64) pthread_mutex_t lock;
	char built_reason[160]; /* why this file replaced an earlier one ("" = there was none) */
} shm_header;

/* The mutex stays where earlier layouts had it, so tools that look at the file find it at the same place. */
_Static_assert(offsetof(shm_header, lock) == 192, "the mutex at offset 192");
_Static_assert(sizeof(shm_header) % 64 == 0, "the payload starts 64-byte aligned");

struct ss_shm {
	shm_header *h;
	size_t size; /* of the whole mapping */
	const ss_shm_layout *layout;
	char *path;
	int fd;
	bool created;
	volatile sig_atomic_t broken; /* set by mark_broken or the SIGBUS handler: never touch the file again */
	const char *broken_why;       /* static text for ss_shm_problem */
	char built_reason[160];       /* why this open built a new file ("" when it mapped an existing one) */
	char problem[200];
};

int64_t ss_shm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t file_size_for(const ss_shm_layout *layout)
{
	return sizeof(shm_header) + ((layout->payload_size + 63) & ~(size_t)63);
}

void *ss_shm_payload(ss_shm *shm)
{
	return (char *)shm->h + sizeof(shm_header);
}

bool ss_shm_is_broken(const ss_shm *shm)
{
	return shm->broken != 0;
}

static uint64_t header_checksum(const shm_header *h)
{
	const unsigned char *p = (const unsigned char *)h;
	uint64_t s = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < offsetof(shm_header, header_sum); i++) {
		if (i >= offsetof(shm_header, ready) && i < offsetof(shm_header, ready) + sizeof h->ready)
			continue;
		s = (s ^ p[i]) * 0x100000001b3ULL;
	}
	return s;
}

/* NULL when the header describes a usable file of this build and layout, else why not. */
static const char *header_problem(const shm_header *h, const ss_shm_layout *layout)
{
	if (memcmp(h->magic, layout->magic, 8) != 0)
		return "it is not a songscope state file";
	if (h->format != FORMAT_WORD || h->header_size != sizeof(shm_header) ||
	    h->sizeof_mutex != sizeof(pthread_mutex_t) || h->payload_version != layout->version ||
	    h->payload_size != layout->payload_size || h->file_size != file_size_for(layout))
		return "its layout is not this build's";
	if (h->header_sum != header_checksum(h))
		return "its header checksum is wrong (the header is corrupted)";
	uint32_t ready = __atomic_load_n(&h->ready, __ATOMIC_ACQUIRE);
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

bool ss_shm_pid_alive(int32_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Cheap check on every lock: the mutex's kind/attribute bytes are those this build initialises. Calling
 * glibc on other kinds (PI, priority-protect, garbage) can block forever or abort. */
static bool mutex_kind_ok(const shm_header *h)
{
#ifdef __GLIBC__
	pthread_once(&template_once, template_init);
	return __atomic_load_n(&h->lock.__data.__kind, __ATOMIC_RELAXED) == template_mutex.__data.__kind;
#else
	(void)h;
	return true;
#endif
}

/* NULL when the mutex's state is plausible: right kind, and either unlocked, or locked by a live thread,
 * or left by a dead owner (the next locker repairs). Else why not. */
static const char *mutex_problem(const shm_header *h)
{
	if (!mutex_kind_ok(h))
		return "its mutex's kind bytes are corrupted";
#ifdef __GLIBC__
	for (int tries = 0; tries < 3; tries++) {
		uint32_t w = (uint32_t)__atomic_load_n(&h->lock.__data.__lock, __ATOMIC_ACQUIRE);
		if (w == 0 || (w & FUTEX_WORD_OWNER_DIED) != 0)
			return NULL;
		uint32_t tid = w & FUTEX_WORD_TID_MASK;
		if (tid != 0 && ss_shm_pid_alive((int32_t)tid))
			return NULL;
		/* A dead or no owner and no OWNER_DIED bit: corrupted, unless the word just changed under us. */
		if ((uint32_t)__atomic_load_n(&h->lock.__data.__lock, __ATOMIC_ACQUIRE) == w)
			return tid == 0 ? "its mutex's lock word is corrupted"
					: "its mutex is held by a process that does not exist";
	}
	return NULL;
#else
	uint64_t hold = __atomic_load_n(&h->holder, __ATOMIC_ACQUIRE);
	if (hold != 0 && !ss_shm_pid_alive((int32_t)(hold >> 32)))
		return "its mutex is held by a process that does not exist";
	return NULL;
#endif
}

/* After a lock timeout (2 s) with a live owner: NULL when the holder record names that owner (a stopped or
 * stuck process: the master deals with it), else why the lock word cannot be believed (e.g. a stray write
 * that happens to name a live process that never took the lock). */
static const char *owner_unrecorded(const shm_header *h)
{
#ifdef __GLIBC__
	uint32_t w = (uint32_t)__atomic_load_n(&h->lock.__data.__lock, __ATOMIC_ACQUIRE);
	int32_t tid = (int32_t)(w & FUTEX_WORD_TID_MASK);
	uint64_t hold = __atomic_load_n(&h->holder, __ATOMIC_ACQUIRE);
	int32_t holder = (int32_t)(hold >> 32);
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
	(void)h;
	return NULL;
#endif
}

/* ---- SIGBUS: a mapping whose file was truncated under it (core/util/mapguard.h) ---- */

static void guard_mapping(ss_shm *shm)
{
	/* More mappings than the guard holds (never in songscope's processes): this one is simply not guarded. */
	(void)ss_mapguard_add(shm, shm->h, shm->size, &shm->broken, &shm->broken_why);
}

static void unguard_mapping(ss_shm *shm)
{
	ss_mapguard_remove(shm);
}

/* This mapping must not be used again; tell every other process too (they reopen, the opener rebuilds). */
static void mark_broken(ss_shm *shm, const char *why)
{
	if (shm->broken)
		return;
	shm->broken_why = why;
	shm->broken = 1;
	shm_header *h = shm->h;
	snprintf(h->broken_reason, sizeof h->broken_reason, "%s", why);
	__atomic_store_n(&h->ready, READY_BROKEN, __ATOMIC_RELEASE);
}

/* ---- locking ---- */

static void repair(ss_shm *shm)
{
	if (shm->layout->repair != NULL)
		shm->layout->repair(ss_shm_payload(shm), ss_shm_now_ns());
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

static void holder_set(shm_header *h)
{
	uint64_t v = ((uint64_t)(uint32_t)my_pid() << 32) | mono_ms32();
	__atomic_store_n(&h->holder, v, __ATOMIC_RELEASE);
}

int ss_shm_unusable(const ss_shm *shm, ss_error *err)
{
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is unusable: %s.",
			    shm->broken_why ? shm->broken_why : "marked so");
}

/* Anything but success or a dead owner (repaired here) that says the mutex itself is bad (wrong kind, EINVAL,
 * ENOTRECOVERABLE, a timeout with no live owner) marks the mapping broken for every process. */
int ss_shm_lock(ss_shm *shm, ss_error *err)
{
	if (shm->broken)
		return ss_shm_unusable(shm, err);
	shm_header *h = shm->h;
	if (!mutex_kind_ok(h)) {
		mark_broken(shm, "its mutex's kind bytes are corrupted");
		return ss_shm_unusable(shm, err);
	}
	int rc = pthread_mutex_trylock(&h->lock);
	if (rc == EBUSY) {
		const char *bad = mutex_problem(h);
		if (bad != NULL) {
			mark_broken(shm, bad);
			return ss_shm_unusable(shm, err);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += LOCK_TIMEOUT_S;
		do
			rc = pthread_mutex_timedlock(&h->lock, &ts);
		while (rc == EINTR);
	}
	if (shm->broken) /* the file went away (SIGBUS) while we were in there */
		return ss_shm_unusable(shm, err);
	if (rc == 0) {
		holder_set(h);
		return 0;
	}
	if (rc == EOWNERDEAD) {
		holder_set(h);
		repair(shm);
		h->repairs++;
		if (pthread_mutex_consistent(&h->lock) == 0 && !shm->broken)
			return 0;
		__atomic_store_n(&h->holder, 0, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&h->lock); /* now ENOTRECOVERABLE for everyone */
		rc = ENOTRECOVERABLE;
	}
	if (rc == ETIMEDOUT) {
		const char *bad = mutex_problem(h);
		if (bad == NULL && owner_unrecorded(h) != NULL) {
			/* Look again a moment later: a new owner may just not have written its record yet. */
			struct timespec pause = {0, 20 * 1000 * 1000};
			nanosleep(&pause, NULL);
			bad = owner_unrecorded(h);
		}
		if (bad == NULL)
			return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is busy.");
		mark_broken(shm, bad);
		return ss_shm_unusable(shm, err);
	}
	mark_broken(shm, rc == ENOTRECOVERABLE ? "its mutex is unrecoverable" : "its mutex cannot be locked");
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "Locking the shared state file failed: %s", strerror(rc));
}

int ss_shm_unlock(ss_shm *shm, ss_error *err)
{
	if (shm->broken) /* the pages are zeros now: nothing to release */
		return err != NULL ? ss_shm_unusable(shm, err) : -1;
	__atomic_store_n(&shm->h->holder, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&shm->h->lock);
	if (shm->broken)
		return err != NULL ? ss_shm_unusable(shm, err) : -1;
	return 0;
}

/* ---- creation ---- */

static int init_file(shm_header *h, const ss_shm_layout *layout, ss_error *err)
{
	memset(h, 0, file_size_for(layout));
	h->format = FORMAT_WORD;
	h->header_size = sizeof(shm_header);
	h->sizeof_mutex = sizeof(pthread_mutex_t);
	h->payload_version = layout->version;
	h->payload_size = layout->payload_size;
	h->file_size = file_size_for(layout);
	h->created_ns = (uint64_t)ss_shm_now_ns();
	int rc = mutex_init_attr(&h->lock);
	if (rc != 0)
		return ss_error_set(err, SS_ERR_IO, "Cannot initialise the state file's mutex: %s", strerror(rc));
	if (layout->init != NULL)
		layout->init((char *)h + sizeof(shm_header));
	memcpy(h->magic, layout->magic, 8);
	h->header_sum = header_checksum(h);
	return 0;
}

static shm_header *map_fd(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Build a new file beside `path`, seed it and rename it over path. On success shm->h/fd are the new file.
 * `reason` (may be "") is recorded in the new file: why it replaced the one before. */
static int build_new(ss_shm *shm, const char *path, const char *reason, ss_shm_seed_fn seed, void *seed_arg,
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
	shm_header *h = NULL;
	if (ftruncate(fd, (off_t)shm->size) != 0 || (h = map_fd(fd, shm->size)) == NULL) {
		ss_error_set(err, SS_ERR_IO, "Cannot size or map the state file %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (init_file(h, shm->layout, err) != 0)
		goto fail;
	snprintf(h->built_reason, sizeof h->built_reason, "%s", reason);
	shm->h = h;
	shm->broken = 0;
	if (seed != NULL)
		seed(seed_arg, shm); /* best effort */
	__atomic_store_n(&h->ready, READY_OK, __ATOMIC_RELEASE);
	if (rename(tmp, path) != 0) {
		ss_error_set(err, SS_ERR_IO, "Cannot install the state file %s: %s", path, strerror(errno));
		goto fail;
	}
	shm->fd = fd;
	shm->created = true;
	snprintf(shm->built_reason, sizeof shm->built_reason, "%s", reason);
	free(tmp);
	return 0;
fail:
	if (h != NULL)
		munmap(h, shm->size);
	shm->h = NULL;
	close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

/* Check an existing mapping before trusting it: header, the mutex's own state, the payload's bounds (clamped
 * under the lock when it is free). NULL when usable, else why not (in buf or a static string). */
static const char *validate(ss_shm *shm, char *buf, size_t len)
{
	shm_header *h = shm->h;
	const char *why = header_problem(h, shm->layout);
	if (why != NULL) {
		if (strcmp(why, "a process marked it unusable") == 0) {
			char r[sizeof h->broken_reason + 1];
			memcpy(r, h->broken_reason, sizeof h->broken_reason);
			r[sizeof h->broken_reason] = '\0';
			snprintf(buf, len, "a process marked it unusable (%s)", r);
			return buf;
		}
		return why;
	}
	if ((why = mutex_problem(h)) != NULL)
		return why;
	int rc = pthread_mutex_trylock(&h->lock);
	if (rc == 0 || rc == EOWNERDEAD) {
		holder_set(h);
		repair(shm);
		if (rc == EOWNERDEAD) {
			h->repairs++;
			rc = pthread_mutex_consistent(&h->lock);
		}
		__atomic_store_n(&h->holder, 0, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&h->lock);
		return rc == 0 ? NULL : "its mutex is unrecoverable";
	}
	if (rc == EBUSY)
		return NULL; /* held by a live process (mutex_problem said so): it is in use */
	return "its mutex cannot be locked";
}

static ss_shm *shm_new(const char *path, const ss_shm_layout *layout, ss_error *err)
{
	assert(layout != NULL && layout->payload_size > 0);
	ss_shm *shm = calloc(1, sizeof *shm);
	if (shm == NULL || (shm->path = strdup(path)) == NULL) {
		free(shm);
		ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
		return NULL;
	}
	shm->fd = -1;
	shm->layout = layout;
	shm->size = file_size_for(layout);
	return shm;
}

static void shm_free(ss_shm *shm)
{
	free(shm->path);
	free(shm);
}

int ss_shm_open(const char *path, const ss_shm_layout *layout, ss_shm_seed_fn seed, void *seed_arg, ss_shm **out,
		ss_error *err)
{
	*out = NULL;
	ss_shm *shm = shm_new(path, layout, err);
	if (shm == NULL)
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
			shm_free(shm);
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
			shm_free(shm);
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
		} else if (a.st_size != (off_t)shm->size) {
			snprintf(why_buf, sizeof why_buf, "its size is %lld bytes, not %zu (truncated?)",
				 (long long)a.st_size, shm->size);
			why = why_buf;
		} else {
			shm_header *h = map_fd(fd, shm->size);
			if (h == NULL) {
				why = "it cannot be mapped";
			} else {
				shm->h = h;
				guard_mapping(shm); /* validating reads it: a truncation now must not kill us */
				why = validate(shm, why_buf, sizeof why_buf);
				if (why == NULL && shm->broken)
					why = shm->broken_why;
				if (why == NULL) {
					shm->fd = fd;
					flock(fd, LOCK_UN);
					*out = shm;
					return 0;
				}
				unguard_mapping(shm);
				munmap(h, shm->size);
				shm->h = NULL;
				shm->broken = 0;
			}
		}
		/* Missing, foreign or broken: build a fresh one while holding the old file's lock, so that
		 * concurrent openers wait and then find the new file. */
		snprintf(reason, sizeof reason, "%s", why);
		rc = build_new(shm, path, reason, seed, seed_arg, err);
		close(fd); /* releases the lock on the old inode */
		if (rc != 0) {
			shm_free(shm);
			return -1;
		}
		guard_mapping(shm);
		*out = shm;
		return 0;
	}
	shm_free(shm);
	return ss_error_set(err, SS_ERR_IO, "The state file %s keeps being replaced.", path);
}

int ss_shm_attach(const char *path, const ss_shm_layout *layout, ss_shm **out, ss_error *err)
{
	*out = NULL;
	ss_shm *shm = shm_new(path, layout, err);
	if (shm == NULL)
		return -1;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat a;
	if (fd < 0 || fstat(fd, &a) != 0 || a.st_size != (off_t)shm->size) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The state file %s is missing or not ready.", path);
		goto fail;
	}
	shm->h = map_fd(fd, shm->size);
	if (shm->h == NULL) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "Cannot map the state file %s: %s", path, strerror(errno));
		goto fail;
	}
	shm->fd = fd;
	guard_mapping(shm);
	const char *why = header_problem(shm->h, layout);
	if (why == NULL && shm->broken)
		why = shm->broken_why;
	if (why != NULL) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The state file %s is not usable: %s.", path, why);
		ss_shm_close(shm);
		return -1;
	}
	*out = shm;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	shm_free(shm);
	return -1;
}

void ss_shm_close(ss_shm *shm)
{
	if (shm == NULL)
		return;
	unguard_mapping(shm);
	if (shm->h != NULL)
		munmap(shm->h, shm->size);
	if (shm->fd >= 0)
		close(shm->fd);
	shm_free(shm);
}

bool ss_shm_is_usable(const ss_shm *shm)
{
	struct stat a;
	if (shm->broken)
		return false;
	if (fstat(shm->fd, &a) != 0 || a.st_size != (off_t)shm->size)
		return false;
	return __atomic_load_n(&shm->h->ready, __ATOMIC_ACQUIRE) == READY_OK && !shm->broken;
}

bool ss_shm_is_current(const ss_shm *shm)
{
	struct stat a, b;
	if (!ss_shm_is_usable(shm))
		return false;
	if (fstat(shm->fd, &a) != 0 || stat(shm->path, &b) != 0)
		return false;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

const char *ss_shm_problem(ss_shm *shm)
{
	struct stat a;
	if (shm->broken)
		snprintf(shm->problem, sizeof shm->problem, "%s",
			 shm->broken_why ? shm->broken_why : "marked unusable");
	else if (fstat(shm->fd, &a) != 0)
		snprintf(shm->problem, sizeof shm->problem, "fstat failed: %s", strerror(errno));
	else if (a.st_size != (off_t)shm->size)
		snprintf(shm->problem, sizeof shm->problem, "its size is %lld bytes, not %zu (truncated?)",
			 (long long)a.st_size, shm->size);
	else if (__atomic_load_n(&shm->h->ready, __ATOMIC_ACQUIRE) != READY_OK) {
		char r[sizeof shm->h->broken_reason + 1];
		memcpy(r, shm->h->broken_reason, sizeof shm->h->broken_reason);
		r[sizeof shm->h->broken_reason] = '\0';
		snprintf(shm->problem, sizeof shm->problem, "a process marked it unusable (%s)",
			 r[0] ? r : "no reason");
	} else if (!ss_shm_is_current(shm))
		snprintf(shm->problem, sizeof shm->problem, "it was replaced by a new file");
	else
		return NULL;
	return shm->problem;
}

bool ss_shm_was_created(const ss_shm *shm)
{
	return shm->created;
}

const char *ss_shm_built_reason(const ss_shm *shm)
{
	return shm->created && shm->built_reason[0] != '\0' ? shm->built_reason : NULL;
}

bool ss_shm_rebuild_info(const ss_shm *shm, int64_t *at_ns, char *reason, size_t len)
{
	if (shm->broken || len == 0)
		return false;
	const shm_header *h = shm->h;
	char r[sizeof h->built_reason + 1];
	memcpy(r, h->built_reason, sizeof h->built_reason);
	r[sizeof h->built_reason] = '\0';
	if (r[0] == '\0' || shm->broken)
		return false;
	*at_ns = (int64_t)h->created_ns;
	snprintf(reason, len, "%s", r);
	return true;
}

bool ss_shm_lock_holder(const ss_shm *shm, pid_t *pid, int64_t *held_ms)
{
	if (shm->broken)
		return false;
	uint64_t v = __atomic_load_n(&shm->h->holder, __ATOMIC_ACQUIRE);
	if (v == 0 || shm->broken)
		return false;
	*pid = (pid_t)(int32_t)(uint32_t)(v >> 32);
	*held_ms = (int64_t)(uint32_t)(mono_ms32() - (uint32_t)v);
	return true;
}

uint64_t ss_shm_repairs(const ss_shm *shm)
{
	if (shm->broken)
		return 0;
	return __atomic_load_n(&shm->h->repairs, __ATOMIC_RELAXED);
}
