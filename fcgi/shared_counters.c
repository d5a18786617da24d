#include "fcgi/shared_counters.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util/log.h"
#include "core/util/timefmt.h"

/* Counter names: s<slot> (a .stats slot, summed), m<slot> (SS_STAT_LAST_UPDATED: the latest), c<idx> (a state
 * file counter, summed). */
enum { NAME_LEN = 8, MAX_COUNTERS = SS_STAT_SLOTS + SS_STATE_COUNTERS };

/* One host's totals as handed from the master to its publisher thread. */
typedef struct {
	char host[300];
	size_t n;
	char names[MAX_COUNTERS][NAME_LEN];
	uint64_t values[MAX_COUNTERS];
} snapshot;

/* The master's thread reads the counters (a few loads from its own mappings) and hands a snapshot over; the
 * publisher thread makes the round trip, which may hang as long as Redis does. The thread never logs and never
 * touches the master's mappings; the master logs what the thread reports. */
struct ss_counter_pub {
	/* the master's thread only */
	char stats_path[SS_CONFIG_PATH_MAX + 16];
	ss_stats *stats;
	char host[300]; /* hostname:device:inode of the .stats file, once it is open */
	double next_at; /* monotonic: next publish due */
	bool failing;   /* the last publish failed (logged once) */
	unsigned long reported; /* results looked at */
	snapshot next;
	bool thread_started;
	pthread_t thread;
	/* the publisher thread only (after it started) */
	ss_config cfg;
	ss_limiter *lim;
	snapshot work;
	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool pending;         /* `handed` waits for the thread */
	snapshot handed;
	bool stop;            /* publish what is pending, then end */
	bool finished;        /* the thread is past its last publish */
	bool orphaned;        /* nobody waits for the thread: it frees the publisher itself */
	unsigned long done;   /* publishes finished */
	int last_rc;          /* of the latest: 1 published, 0 not shared, -1 failed (last_err says why) */
	char last_err[256];
};

int ss_counter_pub_new(const ss_config *cfg, ss_counter_pub **out, ss_error *err)
{
	*out = NULL;
	if (strcmp(cfg->limits, "redis") != 0)
		return 0;
	ss_counter_pub *p = calloc(1, sizeof *p);
	if (p == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return ss_error_set(err, SS_ERR_NOMEM, "Cannot create the counter publisher's mutex.");
	}
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return ss_error_set(err, SS_ERR_NOMEM, "Cannot create the counter publisher's condition.");
	}
	p->cfg = *cfg;
	snprintf(p->stats_path, sizeof p->stats_path, "%s.stats", cfg->state_file);
	*out = p;
	return 0;
}

static void pub_destroy(ss_counter_pub *p)
{
	assert(p->lim == NULL && p->stats == NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* The publisher thread: waits for a snapshot, publishes it, reports, until told to stop (after publishing what
 * is pending then). */
static void *publisher_main(void *arg)
{
	ss_counter_pub *p = arg;
	/* Its own descriptor table holding only what it opens itself (the Redis connection): responders forked
	 * by the master do not inherit that connection, and nothing the master closes stays open here. */
	if (unshare(CLONE_FILES) == 0)
		close_range(3, ~0U, 0);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->pending && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->pending)
			break;
		p->work = p->handed;
		p->pending = false;
		pthread_mutex_unlock(&p->mu);

		ss_error err;
		ss_error_clear(&err);
		int rc = -1;
		if (p->lim != NULL || ss_limiter_open_shared(&p->cfg, NULL, NULL, &p->lim, &err) == 0) {
			const char *names[MAX_COUNTERS];
			for (size_t i = 0; i < p->work.n; i++)
				names[i] = p->work.names[i];
			rc = ss_limiter_counters_publish(p->lim, p->work.host, names, p->work.values, p->work.n, &err);
		}

		pthread_mutex_lock(&p->mu);
		p->done++;
		p->last_rc = rc;
		snprintf(p->last_err, sizeof p->last_err, "%s", rc < 0 ? err.msg : "");
	}
	pthread_mutex_unlock(&p->mu);
	ss_limiter_close(p->lim);
	p->lim = NULL;
	pthread_mutex_lock(&p->mu);
	p->finished = true;
	bool orphaned = p->orphaned;
	pthread_mutex_unlock(&p->mu);
	if (orphaned)
		pub_destroy(p);
	return NULL;
}

/* Tell the thread to stop after what is pending; wait for it at most wait_s seconds, then leave it to end (and
 * free p) by itself. Without a thread, free p now. */
static void pub_stop(ss_counter_pub *p, double wait_s)
{
	/* The master's mapping is closed here, on the master's thread: its descriptor is in the master's table,
	 * not in the publisher's (which may be the one to free p). */
	ss_stats_close(p->stats);
	p->stats = NULL;
	if (!p->thread_started) {
		pub_destroy(p);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	double end = (double)dl.tv_sec + (double)dl.tv_nsec / 1e9 + wait_s;
	dl.tv_sec = (time_t)end;
	dl.tv_nsec = (long)((end - (double)dl.tv_sec) * 1e9);
	if (wait_s > 0 && pthread_timedjoin_np(p->thread, NULL, &dl) == 0) {
		pub_destroy(p);
		return;
	}
	pthread_mutex_lock(&p->mu);
	bool finished = p->finished;
	if (!finished)
		p->orphaned = true;
	pthread_mutex_unlock(&p->mu);
	if (finished) {
		pthread_join(p->thread, NULL); /* past its last use of p: returns at once */
		pub_destroy(p);
	} else {
		pthread_detach(p->thread);
	}
}

void ss_counter_pub_free(ss_counter_pub *p)
{
	if (p != NULL)
		pub_stop(p, 0);
}

void ss_counter_pub_finish(ss_counter_pub *p, double wait_s)
{
	if (p != NULL)
		pub_stop(p, wait_s);
}

void ss_counter_pub_forget(ss_counter_pub *p)
{
	if (p == NULL)
		return;
	/* In a child of the master: the thread does not exist here and its mutex may have been held at the fork;
	 * only what the master's thread owned is released. The rest is memory the child never touches. */
	ss_stats_close(p->stats);
	p->stats = NULL;
}

int ss_counter_host_id(const char *stats_path, char *out, size_t len)
{
	assert(len > 0);
	out[0] = '\0';
	struct stat st;
	char hn[128] = "";
	if (stat(stats_path, &st) != 0 || gethostname(hn, sizeof hn - 1) != 0)
		return -1;
	/* A new counters file (another inode) is another host as far as the totals go: its counts start from 0 and
	 * the old file's stay counted. */
	snprintf(out, len, "%.120s:%llu:%llu", hn, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	return 0;
}

/* Open the .stats file when it is not open yet; false when it cannot be opened now (err says why). */
static bool stats_open(ss_counter_pub *p, ss_error *err)
{
	if (p->stats != NULL)
		return true;
	if (ss_stats_open(p->stats_path, &p->stats, err) != 0)
		return false;
	if (ss_counter_host_id(p->stats_path, p->host, sizeof p->host) != 0) {
		ss_stats_close(p->stats);
		p->stats = NULL;
		ss_error_set(err, SS_ERR_IO, "Cannot identify %s.", p->stats_path);
		return false;
	}
	return true;
}

/* Log a change between failing and working (once per outage). */
static void report(ss_counter_pub *p, int rc, const char *why)
{
	if (rc < 0 && !p->failing)
		ss_log_warn("cannot publish this host's counters (retrying every %.0f s): %s",
			    SS_SHARED_COUNTERS_INTERVAL_S, why);
	else if (rc >= 0 && p->failing)
		ss_log_info("this host's counters are published again");
	p->failing = rc < 0;
}

double ss_counter_pub_tick(ss_counter_pub *p, const ss_state *host_state, bool force)
{
	if (p->thread_started) {
		pthread_mutex_lock(&p->mu);
		unsigned long done = p->done;
		int rc = p->last_rc;
		char why[sizeof p->last_err];
		memcpy(why, p->last_err, sizeof why);
		pthread_mutex_unlock(&p->mu);
		if (done != p->reported) {
			p->reported = done;
			report(p, rc, why);
		}
	}
	double now = ss_time_mono();
	if (!force && now < p->next_at)
		return p->next_at - now;
	p->next_at = now + SS_SHARED_COUNTERS_INTERVAL_S;
	ss_error err;
	ss_error_clear(&err);
	if (!stats_open(p, &err)) {
		report(p, -1, err.msg);
		return SS_SHARED_COUNTERS_INTERVAL_S;
	}
	snapshot *s = &p->next;
	snprintf(s->host, sizeof s->host, "%s", p->host);
	size_t n = 0;
	for (unsigned i = 0; i < SS_STAT_SLOTS; i++) {
		uint64_t v = ss_stats_get(p->stats, i);
		if (v == 0)
			continue;
		snprintf(s->names[n], NAME_LEN, "%c%u", i == SS_STAT_LAST_UPDATED ? 'm' : 's', i);
		s->values[n++] = v;
	}
	for (unsigned i = 0; host_state != NULL && i < SS_STATE_COUNTERS; i++) {
		uint64_t v = ss_state_counter_get(host_state, i);
		if (v == 0)
			continue;
		snprintf(s->names[n], NAME_LEN, "c%u", i);
		s->values[n++] = v;
	}
	assert(n <= MAX_COUNTERS);
	s->n = n;
	if (!p->thread_started) {
		/* Every signal stays blocked in the thread (the master takes them with sigtimedwait). */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		int rc = pthread_create(&p->thread, NULL, publisher_main, p);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			report(p, -1, "cannot start the publisher thread");
			return SS_SHARED_COUNTERS_INTERVAL_S;
		}
		p->thread_started = true;
	}
	/* A publish still hanging is not waited for: this newer snapshot replaces any that is still pending (the
	 * backend keeps the largest value, so a skipped one loses nothing). */
	ss_log_debug("publishing this host's counters (%zu)", n);
	pthread_mutex_lock(&p->mu);
	p->handed = *s;
	p->pending = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return SS_SHARED_COUNTERS_INTERVAL_S;
}

typedef struct {
	uint64_t *stats;
	uint64_t *state;
	const char *own; /* this host's id: its published counters are replaced by the live ones */
} totals;

static void add_counter(void *arg, const char *host, const char *name, uint64_t value)
{
	totals *t = arg;
	if (t->own[0] != '\0' && strcmp(host, t->own) == 0)
		return;
	char *end = NULL;
	unsigned long idx = strtoul(name + (name[0] != '\0'), &end, 10);
	if (name[0] == '\0' || end == name + 1 || *end != '\0')
		return; /* not a counter of this version */
	if (name[0] == 's' && idx < SS_STAT_SLOTS && idx != SS_STAT_LAST_UPDATED)
		t->stats[idx] += value;
	else if (name[0] == 'm' && idx == SS_STAT_LAST_UPDATED && value > t->stats[idx])
		t->stats[idx] = value;
	else if (name[0] == 'c' && idx < SS_STATE_COUNTERS)
		t->state[idx] += value;
}

int ss_counter_totals(ss_limiter *lim, const char *own_host, const ss_stats *own_stats, const ss_state *own_state,
		      uint64_t *stats, uint64_t *state, ss_error *err)
{
	if (lim == NULL)
		return 0;
	memset(stats, 0, sizeof *stats * SS_STAT_SLOTS);
	memset(state, 0, sizeof *state * SS_STATE_COUNTERS);
	totals t = {stats, state, own_host != NULL ? own_host : ""};
	int rc = ss_limiter_counters_total(lim, add_counter, &t, err);
	if (rc != 1)
		return rc;
	if (t.own[0] == '\0')
		return 1; /* this host's figures are those it published */
	for (unsigned i = 0; i < SS_STAT_SLOTS; i++) {
		uint64_t v = ss_stats_get(own_stats, i);
		if (i == SS_STAT_LAST_UPDATED)
			stats[i] = v > stats[i] ? v : stats[i];
		else
			stats[i] += v;
	}
	for (unsigned i = 0; own_state != NULL && i < SS_STATE_COUNTERS; i++)
		state[i] += ss_state_counter_get(own_state, i);
	return 1;
}
