#include "core/store/usage_journal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/util/mapguard.h"

#define JOURNAL_MAGIC "SSUSAGJ1"
#define JOURNAL_VERSION 1u
#define JOURNAL_SEQ_MAX (INT64_MAX / 4) /* a head beyond this is damage: a million rows a second for 70,000 years */

/* The mapped file: a header, then a ring of `capacity` records (SS_USAGE_JOURNAL_ROWS for the journals this
 * version creates). Record seq s lives in slot s % capacity; rows (flushed, head] are pending. The writer stores a record, then its seq,
 * then head (release), so a reader of a dead writer's file trusts a slot only when its seq is the expected
 * one. */
typedef struct journal_hdr {
	char magic[8];
	uint32_t version;
	uint32_t capacity;
	int64_t id;      /* random, > 0: the key of the mark in usage_journal */
	int64_t head;    /* seq of the newest stored row (0 = none) */
	int64_t flushed; /* seq of the newest row known to be in api_usage */
	int64_t pid;
	int64_t reserved[2];
} journal_hdr;

typedef struct journal_rec {
	int64_t seq;
	ss_usage_row row;
} journal_rec;

/* Bytes of a journal file of cap records. */
static size_t journal_bytes(uint32_t cap)
{
	return sizeof(journal_hdr) + (size_t)cap * sizeof(journal_rec);
}

#define JOURNAL_BYTES journal_bytes(SS_USAGE_JOURNAL_ROWS)

struct ss_usage_journal {
	int fd;
	char *path;
	journal_hdr *h;
	journal_rec *recs;
	double first_mono;
	volatile sig_atomic_t broken; /* the file was truncated under the mapping (core/util/mapguard.h) */
	ss_usage_row scratch[SS_USAGE_BATCH_MAX];
};

static int io_fail(ss_error *err, const char *what, const char *path)
{
	return ss_error_set(err, SS_ERR_IO, "usage journal %s: %s: %s", path, what, strerror(errno));
}

/* Split db_path into its directory and base name (malloc'd; free both). */
static int split_path(const char *db_path, char **dir, char **base)
{
	char *a = strdup(db_path), *b = strdup(db_path);
	*dir = *base = NULL;
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return -1;
	}
	*dir = strdup(dirname(a));
	*base = strdup(basename(b));
	free(a);
	free(b);
	if (*dir == NULL || *base == NULL) {
		free(*dir);
		free(*base);
		return -1;
	}
	return 0;
}

int ss_usage_journal_open(const char *db_path, ss_usage_journal **out, ss_error *err)
{
	*out = NULL;
	ss_usage_journal *j = calloc(1, sizeof *j);
	size_t plen = strlen(db_path) + 40;
	char *tmp = malloc(plen);
	if (j == NULL || tmp == NULL || (j->path = malloc(plen)) == NULL) {
		free(tmp);
		free(j);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory opening the usage journal");
	}
	int64_t id;
	do {
		randombytes_buf(&id, sizeof id);
		id &= INT64_MAX;
	} while (id == 0);
	snprintf(tmp, plen, "%s-usage-new.%ld", db_path, (long)getpid());
	snprintf(j->path, plen, "%s-usage-%016llx", db_path, (unsigned long long)id);
	j->fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->fd < 0) {
		io_fail(err, "cannot create", tmp);
		goto fail;
	}
	int e;
	if (fchmod(j->fd, 0600) != 0 || flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
		io_fail(err, "cannot lock", tmp);
		goto fail_unlink;
	}
	/* Allocate every page now: storing into a mapped page of a full file system would be SIGBUS. */
	if ((e = posix_fallocate(j->fd, 0, (off_t)JOURNAL_BYTES)) != 0) {
		errno = e;
		io_fail(err, "cannot allocate", tmp);
		goto fail_unlink;
	}
	void *m = mmap(NULL, JOURNAL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
	if (m == MAP_FAILED) {
		io_fail(err, "cannot map", tmp);
		goto fail_unlink;
	}
	j->h = m;
	j->recs = (journal_rec *)((char *)m + sizeof(journal_hdr));
	(void)ss_mapguard_add(j, m, JOURNAL_BYTES, &j->broken, NULL); /* truncated by something else: not fatal */
	memcpy(j->h->magic, JOURNAL_MAGIC, sizeof j->h->magic);
	j->h->version = JOURNAL_VERSION;
	j->h->capacity = SS_USAGE_JOURNAL_ROWS;
	j->h->id = id;
	j->h->pid = (int64_t)getpid();
	if (rename(tmp, j->path) != 0) {
		io_fail(err, "cannot rename", tmp);
		ss_mapguard_remove(j);
		munmap(m, JOURNAL_BYTES);
		goto fail_unlink;
	}
	free(tmp);
	*out = j;
	return 0;
fail_unlink:
	unlink(tmp);
fail:
	if (j->fd >= 0)
		close(j->fd);
	free(tmp);
	free(j->path);
	free(j);
	return -1;
}

bool ss_usage_journal_broken(const ss_usage_journal *j)
{
	return j->broken != 0;
}

size_t ss_usage_journal_pending(const ss_usage_journal *j)
{
	return (size_t)(j->h->head - j->h->flushed);
}

void ss_usage_journal_close(ss_usage_journal *j, bool remove)
{
	if (j == NULL)
		return;
	if (remove && ss_usage_journal_pending(j) == 0)
		unlink(j->path);
	ss_mapguard_remove(j);
	munmap(j->h, JOURNAL_BYTES);
	close(j->fd); /* releases the flock */
	free(j->path);
	free(j);
}

int ss_usage_journal_append(ss_usage_journal *j, int64_t key_id, const char *endpoint, int status, int64_t time_s,
			    double now_mono)
{
	if (ss_usage_journal_pending(j) >= SS_USAGE_JOURNAL_ROWS)
		return -1;
	if (ss_usage_journal_pending(j) == 0)
		j->first_mono = now_mono;
	int64_t seq = j->h->head + 1;
	journal_rec *r = &j->recs[seq % SS_USAGE_JOURNAL_ROWS];
	r->row.key_id = key_id;
	snprintf(r->row.endpoint, sizeof r->row.endpoint, "%s", endpoint != NULL ? endpoint : "");
	r->row.status = status;
	r->row.time_s = time_s;
	__atomic_store_n(&r->seq, seq, __ATOMIC_RELEASE);
	__atomic_store_n(&j->h->head, seq, __ATOMIC_RELEASE);
	return 0;
}

bool ss_usage_journal_due(const ss_usage_journal *j, double now_mono, double max_age_s)
{
	size_t n = ss_usage_journal_pending(j);
	return n >= SS_USAGE_BATCH_MAX / 2 || (n > 0 && now_mono - j->first_mono >= max_age_s);
}

double ss_usage_journal_first_mono(const ss_usage_journal *j)
{
	return j->first_mono;
}

void ss_usage_journal_defer(ss_usage_journal *j, double now_mono)
{
	j->first_mono = now_mono;
}

/* Copy the valid rows with seq in (from, to] of a ring of cap records into out; returns how many. The caller
 * keeps to - from <= SS_USAGE_BATCH_MAX (out's size) and to - from <= cap. */
static size_t collect(const journal_rec *recs, uint32_t cap, int64_t from, int64_t to, ss_usage_row *out)
{
	assert(to - from <= SS_USAGE_BATCH_MAX && to - from <= (int64_t)cap);
	size_t n = 0;
	for (int64_t s = from + 1; s <= to; s++) {
		const journal_rec *r = &recs[s % cap];
		if (__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) != s)
			continue;
		out[n] = r->row;
		out[n].endpoint[sizeof out[n].endpoint - 1] = '\0';
		n++;
	}
	return n;
}

/* Write the rows with seq in (from, head] of journal id (a ring of cap records) to the store, in transactions of
 * at most SS_USAGE_BATCH_MAX rows (scratch holds that many), each recording the journal's mark. flushed, when not
 * NULL, is advanced past each chunk written. Returns rows written, or -1 with err (later chunks not written). */
static long write_rows(ss_store *store, const journal_rec *recs, uint32_t cap, int64_t id, int64_t from, int64_t head,
		       int64_t *flushed, ss_usage_row *scratch, ss_error *err)
{
	long total = 0;
	if (head - from > (int64_t)cap)
		from = head - cap; /* older slots were reused (cannot happen: appends refuse) */
	while (from < head) {
		int64_t to = head - from > SS_USAGE_BATCH_MAX ? from + SS_USAGE_BATCH_MAX : head;
		size_t n = collect(recs, cap, from, to, scratch);
		if (ss_store_usage_write(store, scratch, n, id, to, err) != 0)
			return -1;
		/* Killed here, the mark in the database still keeps an importer from writing these rows again. */
		if (flushed != NULL)
			__atomic_store_n(flushed, to, __ATOMIC_RELEASE);
		total += (long)n;
		from = to;
	}
	return total;
}

int ss_usage_journal_flush(ss_usage_journal *j, ss_store *store, ss_error *err)
{
	int64_t head = j->h->head, flushed = j->h->flushed;
	if (head == flushed)
		return 0;
	return write_rows(store, j->recs, SS_USAGE_JOURNAL_ROWS, j->h->id, flushed, head, &j->h->flushed, j->scratch,
			  err) < 0
		       ? -1
		       : 0;
}

/* The header of a mapped journal file of len bytes when it is one of ours (any capacity up to
 * SS_USAGE_JOURNAL_MAX_ROWS that the file holds) and its head is a sequence number a writer can have reached,
 * else NULL (not ours, never initialised, or damaged). */
static const journal_hdr *valid_header(const void *m, size_t len)
{
	const journal_hdr *h = m;
	if (len < sizeof *h || memcmp(h->magic, JOURNAL_MAGIC, sizeof h->magic) != 0 || h->version != JOURNAL_VERSION ||
	    h->capacity == 0 || h->capacity > SS_USAGE_JOURNAL_MAX_ROWS || h->id <= 0 || len < journal_bytes(h->capacity))
		return NULL;
	int64_t head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
	return head >= 0 && head <= JOURNAL_SEQ_MAX ? h : NULL;
}

static bool is_journal_name(const char *name, const char *base, bool *half_created)
{
	size_t bl = strlen(base);
	*half_created = false;
	if (strncmp(name, base, bl) != 0)
		return false;
	name += bl;
	if (strncmp(name, "-usage-new.", 11) == 0) {
		*half_created = name[11] != '\0' && strspn(name + 11, "0123456789") == strlen(name + 11);
		return *half_created;
	}
	if (strncmp(name, "-usage-", 7) != 0)
		return false;
	name += 7;
	return strlen(name) == 16 && strspn(name, "0123456789abcdef") == 16;
}

/* Import one journal file whose lock this process now holds (fd). Returns rows imported, or -1 with err; *damaged
 * is set when the file had our name and size but a header that cannot be read (it is removed). */
static long import_one(ss_store *store, int fd, const char *path, ss_usage_row *scratch, bool *damaged, ss_error *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return io_fail(err, "cannot stat", path);
	if (st.st_nlink == 0)
		return 0; /* another importer finished it and deleted it while we waited */
	size_t len = (size_t)st.st_size;
	if (len < sizeof(journal_hdr) || len > journal_bytes(SS_USAGE_JOURNAL_MAX_ROWS)) {
		unlink(path); /* not one of ours, or never initialised: nothing in it can be a row */
		return 0;
	}
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return io_fail(err, "cannot map", path);
	const journal_hdr *h = valid_header(m, len);
	if (h == NULL) {
		*damaged = memcmp(m, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC)) == 0;
		unlink(path);
		munmap(m, len);
		return 0;
	}
	const journal_rec *recs = (const journal_rec *)((const char *)m + sizeof(journal_hdr));
	/* flushed outside 0..head is damage: read as nothing flushed (the database's mark below still keeps the rows
	 * it holds from counting twice) */
	int64_t mark = 0, head = h->head, from = h->flushed >= 0 && h->flushed <= head ? h->flushed : 0;
	if (ss_store_usage_journal_mark(store, h->id, &mark, err) != 0) {
		munmap(m, len);
		return -1;
	}
	if (mark > from)
		from = mark;
	long out = write_rows(store, recs, h->capacity, h->id, from, head, NULL, scratch, err);
	munmap(m, len);
	if (out < 0)
		return -1;
	unlink(path); /* only after the commit: the mark covers a kill before this line */
	return out;
}

long ss_usage_journal_recover(ss_store *store, const char *db_path, int *damaged, ss_error *err)
{
	if (damaged != NULL)
		*damaged = 0;
	char *dir, *base;
	if (split_path(db_path, &dir, &base) != 0)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory recovering usage journals");
	ss_usage_row *scratch = NULL;
	DIR *d = opendir(dir);
	long total = 0;
	int failed = 0;
	if (d == NULL) {
		io_fail(err, "cannot read the directory", dir);
		failed = 1;
	}
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		bool half;
		if (!is_journal_name(de->d_name, base, &half))
			continue;
		char path[4096];
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path)
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue; /* gone meanwhile */
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			close(fd); /* its owner is alive */
			continue;
		}
		if (half) {
			long pid = strtol(de->d_name + strlen(base) + 11, NULL, 10);
			if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
				close(fd); /* its creator is still setting it up */
				continue;
			}
			unlink(path); /* its creator died before it held a row */
			close(fd);
			continue;
		}
		if (scratch == NULL && (scratch = malloc(SS_USAGE_BATCH_MAX * sizeof *scratch)) == NULL) {
			close(fd);
			ss_error_set(err, SS_ERR_NOMEM, "out of memory recovering usage journals");
			failed = 1;
			break;
		}
		bool bad = false;
		long n = import_one(store, fd, path, scratch, &bad, err);
		close(fd);
		if (bad && damaged != NULL)
			(*damaged)++;
		if (n < 0) {
			failed = 1;
			break;
		}
		total += n;
	}
	if (d != NULL)
		closedir(d);
	free(scratch);
	free(dir);
	free(base);
	return failed ? -1 : total;
}

typedef struct key_count {
	int64_t key_id, count;
} key_count;

typedef struct counts {
	key_count *v;
	size_t n, cap;
	int failed;
} counts;

static int counts_add(void *arg, int64_t key_id, int64_t count)
{
	counts *c = arg;
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].key_id == key_id) {
			c->v[i].count += count;
			return 0;
		}
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		key_count *v = realloc(c->v, cap * sizeof *v);
		if (v == NULL) {
			c->failed = 1;
			return 1;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = (key_count){key_id, count};
	return 0;
}

/* Add the rows of the journal at path above its mark (read in the caller's transaction) to c. */
static int count_journal(ss_store *store, const char *path, int64_t day, counts *c, ss_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0; /* imported and deleted meanwhile: its rows are in the snapshot or were not yet */
	struct stat st;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(journal_hdr) ||
	    (size_t)st.st_size > journal_bytes(SS_USAGE_JOURNAL_MAX_ROWS)) {
		close(fd);
		return 0;
	}
	size_t len = (size_t)st.st_size;
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return io_fail(err, "cannot map", path);
	const journal_hdr *h = valid_header(m, len);
	const journal_rec *recs = (const journal_rec *)((const char *)m + sizeof(journal_hdr));
	int rc = 0;
	int64_t mark = 0;
	if (h != NULL) {
		int64_t cap = h->capacity;
		rc = ss_store_usage_journal_mark(store, h->id, &mark, err);
		if (mark < 0)
			mark = 0; /* a damaged mark row: count every row the ring still holds */
		int64_t head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
		for (int64_t s = head - cap > mark ? head - cap + 1 : mark + 1; rc == 0 && s <= head; s++) {
			const journal_rec *r = &recs[s % cap];
			if (__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) != s)
				continue;
			ss_usage_row row = r->row;
			if (row.status != 429 && row.time_s >= day * 86400 && row.time_s < (day + 1) * 86400 &&
			    counts_add(c, row.key_id, 1) != 0)
				rc = ss_error_set(err, SS_ERR_NOMEM, "out of memory counting usage");
		}
	}
	munmap(m, len);
	return rc;
}

int ss_usage_journal_day_counts(ss_store *store, const char *db_path, int64_t day,
				int (*fn)(void *arg, int64_t key_id, int64_t count), void *arg, ss_error *err)
{
	char *dir, *base;
	if (split_path(db_path, &dir, &base) != 0)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory counting usage");
	counts c = {0};
	int rc = ss_store_read_begin(store, err);
	if (rc == 0) {
		rc = ss_store_usage_day_counts(store, day, counts_add, &c, err);
		if (rc == -2 || (rc == 0 && c.failed))
			rc = ss_error_set(err, SS_ERR_NOMEM, "out of memory counting usage");
		DIR *d = rc == 0 ? opendir(dir) : NULL;
		if (rc == 0 && d == NULL)
			rc = io_fail(err, "cannot read the directory", dir);
		struct dirent *de;
		while (rc == 0 && d != NULL && (de = readdir(d)) != NULL) {
			bool half;
			char path[4096];
			if (!is_journal_name(de->d_name, base, &half) || half ||
			    (size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path)
				continue;
			rc = count_journal(store, path, day, &c, err);
		}
		if (d != NULL)
			closedir(d);
		ss_store_read_end(store); /* a read transaction: nothing to keep */
	}
	for (size_t i = 0; rc == 0 && i < c.n; i++)
		if (fn(arg, c.v[i].key_id, c.v[i].count) != 0)
			break;
	free(c.v);
	free(dir);
	free(base);
	return rc;
}
