#include "core/store/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util/mapguard.h"

#define STATS_MAGIC 0x5353535441545331ULL /* "SSSTATS1" */
#define STATS_VERSION 1u

typedef struct stats_file {
	uint64_t magic;
	uint32_t version;
	uint32_t nslots;
	uint64_t slots[SS_STAT_SLOTS];
} stats_file;

struct ss_stats {
	stats_file *map;
	size_t size;
	const char *rebuilt; /* why this open rebuilt the file, or NULL */
	dev_t dev;           /* the file mapped */
	ino_t ino;
	volatile sig_atomic_t broken; /* the file was truncated under the mapping (core/util/mapguard.h) */
};

const double ss_stats_latency_bounds[SS_STAT_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
							     0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

const int ss_stats_statuses[SS_STAT_STATUSES] = {0,   200, 201, 204, 304, 400, 401, 403, 404, 405,
						 413, 415, 422, 429, 500, 501, 502, 503, 504, 206};

/* Write an empty counters file's header and zero its slots (the caller holds the file's flock). The magic goes
 * last, so an opener that sees it sees the rest. */
static void init_file(stats_file *f)
{
	__atomic_store_n(&f->magic, 0, __ATOMIC_RELAXED);
	memset(f->slots, 0, sizeof f->slots);
	f->version = STATS_VERSION;
	f->nslots = SS_STAT_SLOTS;
	__atomic_store_n(&f->magic, STATS_MAGIC, __ATOMIC_RELEASE);
}

int ss_stats_open(const char *path, ss_stats **out, ss_error *err)
{
	*out = NULL;
	ss_stats *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(s);
		return ss_error_set(err, SS_ERR_IO, "cannot open counters file %s: %s", path, strerror(errno));
	}
	size_t size = sizeof(stats_file);
	if (flock(fd, LOCK_EX) != 0) {
		int e = errno;
		close(fd);
		free(s);
		return ss_error_set(err, SS_ERR_IO, "cannot lock counters file %s: %s", path, strerror(e));
	}
	/* Under the lock: size a new or short file (never shrink one: another process may map it), map it, and
	 * give it a header when it has none that this version reads. */
	struct stat st;
	int rc = fstat(fd, &st);
	bool fresh = rc == 0 && st.st_size == 0, short_file = rc == 0 && !fresh && (size_t)st.st_size < size;
	if (rc == 0 && (fresh || short_file) && ftruncate(fd, (off_t)size) != 0)
		rc = -1;
	void *m = rc == 0 ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (m == MAP_FAILED) {
		int e = errno;
		flock(fd, LOCK_UN);
		close(fd);
		free(s);
		return ss_error_set(err, SS_ERR_IO, "cannot map counters file %s: %s", path, strerror(e));
	}
	stats_file *f = m;
	if (short_file)
		s->rebuilt = "it was shorter than its layout (cut, or from an older version)";
	else if (!fresh && (__atomic_load_n(&f->magic, __ATOMIC_ACQUIRE) != STATS_MAGIC || f->version != STATS_VERSION ||
			    f->nslots != SS_STAT_SLOTS))
		s->rebuilt = "its header was not a counters file's (its creator was killed, a damaged disk, or another "
			     "program's file)";
	if (fresh || s->rebuilt != NULL)
		init_file(f);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	flock(fd, LOCK_UN);
	close(fd);
	s->map = f;
	s->size = size;
	/* A file truncated under us (by something else) must not kill the responder: the guard gives it zero pages
	 * and sets broken, and ss_stats_same_file says so (the caller opens the file again). */
	(void)ss_mapguard_add(s, f, size, &s->broken, NULL);
	*out = s;
	return 0;
}

bool ss_stats_same_file(const ss_stats *s, const char *path)
{
	struct stat named;
	return !s->broken && stat(path, &named) == 0 && named.st_dev == s->dev && named.st_ino == s->ino;
}

const char *ss_stats_rebuilt(const ss_stats *s)
{
	return s != NULL ? s->rebuilt : NULL;
}

void ss_stats_close(ss_stats *s)
{
	if (s == NULL)
		return;
	ss_mapguard_remove(s);
	munmap(s->map, s->size);
	free(s);
}

void ss_stats_add(ss_stats *s, unsigned slot, uint64_t n)
{
	if (s != NULL && slot < SS_STAT_SLOTS)
		__atomic_fetch_add(&s->map->slots[slot], n, __ATOMIC_RELAXED);
}

void ss_stats_set(ss_stats *s, unsigned slot, uint64_t v)
{
	if (s != NULL && slot < SS_STAT_SLOTS)
		__atomic_store_n(&s->map->slots[slot], v, __ATOMIC_RELAXED);
}

uint64_t ss_stats_get(const ss_stats *s, unsigned slot)
{
	if (s == NULL || slot >= SS_STAT_SLOTS)
		return 0;
	return __atomic_load_n(&s->map->slots[slot], __ATOMIC_RELAXED);
}

unsigned ss_stats_status_index(int status)
{
	for (unsigned i = 1; i < SS_STAT_STATUSES; i++)
		if (ss_stats_statuses[i] == status)
			return i;
	return 0;
}

void ss_stats_observe(ss_stats *s, unsigned route_index, int status, double seconds)
{
	if (s == NULL)
		return;
	if (route_index >= SS_STAT_ROUTES)
		route_index = SS_STAT_ROUTES - 1;
	ss_stats_add(s, SS_STAT_ROUTE_BASE + route_index * SS_STAT_STATUSES + ss_stats_status_index(status), 1);
	ss_stats_add(s, SS_STAT_REQUESTS, 1);
	if (status == 429)
		ss_stats_add(s, SS_STAT_RATE_LIMITED, 1);
	if (!(seconds >= 0))
		seconds = 0;
	unsigned b = 0;
	while (b < SS_STAT_LAT_BUCKETS && seconds > ss_stats_latency_bounds[b])
		b++;
	ss_stats_add(s, SS_STAT_LAT_BASE + b, 1); /* non-cumulative here; /metrics accumulates */
	ss_stats_add(s, SS_STAT_LAT_SUM_US, (uint64_t)(seconds * 1e6));
	ss_stats_add(s, SS_STAT_LAT_COUNT, 1);
}
