#include "fcgi/shared_counters.h"

#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util/log.h"
#include "core/util/timefmt.h"

/* Counter names: s<slot> (a .stats slot, summed), m<slot> (SS_STAT_LAST_UPDATED: the latest), c<idx> (a state
 * file counter, summed). */
enum { NAME_LEN = 8, MAX_COUNTERS = SS_STAT_SLOTS + SS_STATE_COUNTERS };

#define RESTART_MIN_S 1.0 /* a publisher that died is replaced after this, doubling up to RESTART_MAX_S */
#define RESTART_MAX_S 30.0

/* The master's record of its publisher process. The process itself (ss_counter_pub_run) opens everything it
 * uses after the fork: the host's .stats file, the state file, the Redis connection. */
struct ss_counter_pub {
	ss_config cfg;
	char stats_path[SS_CONFIG_PATH_MAX + 16];
	pid_t pid;       /* the running publisher, or 0 */
	double started;  /* monotonic, when pid was forked */
	double start_at; /* monotonic: no new publisher before this */
	double backoff;  /* seconds before replacing one that died, 0 after one that lived long */
};

int ss_counter_pub_new(const ss_config *cfg, ss_counter_pub **out, ss_error *err)
{
	*out = NULL;
	if (strcmp(cfg->limits, "redis") != 0)
		return 0;
	ss_counter_pub *p = calloc(1, sizeof *p);
	if (p == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	p->cfg = *cfg;
	snprintf(p->stats_path, sizeof p->stats_path, "%s.stats", cfg->state_file);
	*out = p;
	return 0;
}

double ss_counter_pub_due(const ss_counter_pub *p)
{
	if (p->pid > 0)
		return SS_SHARED_COUNTERS_INTERVAL_S;
	double wait = p->start_at - ss_time_mono();
	return wait > 0 ? wait : 0;
}

void ss_counter_pub_started(ss_counter_pub *p, pid_t pid)
{
	assert(p->pid == 0);
	double now = ss_time_mono();
	if (pid < 0) {
		p->start_at = now + RESTART_MIN_S;
		return;
	}
	p->pid = pid;
	p->started = now;
	ss_log_debug("counter publisher %ld started", (long)pid);
}

bool ss_counter_pub_reaped(ss_counter_pub *p, pid_t pid, int status)
{
	if (p == NULL || pid != p->pid || pid <= 0)
		return false;
	p->pid = 0;
	double now = ss_time_mono();
	double lived = now - p->started;
	if (lived >= RESTART_MAX_S || p->backoff < RESTART_MIN_S)
		p->backoff = RESTART_MIN_S; /* the first death, or one after a long life */
	else
		p->backoff = p->backoff * 2 > RESTART_MAX_S ? RESTART_MAX_S : p->backoff * 2;
	p->start_at = now + p->backoff;
	if (WIFSIGNALED(status))
		ss_log_warn("counter publisher %ld killed by signal %d after %.1f s; starting another in %.0f s",
			    (long)pid, WTERMSIG(status), lived, p->backoff);
	else
		ss_log_warn("counter publisher %ld exited with status %d after %.1f s; starting another in %.0f s",
			    (long)pid, WEXITSTATUS(status), lived, p->backoff);
	return true;
}

void ss_counter_pub_finish(ss_counter_pub *p, double wait_s)
{
	if (p == NULL)
		return;
	pid_t pid = p->pid;
	free(p);
	if (pid <= 0 || kill(pid, SIGTERM) != 0)
		return;
	/* SIGCHLD is blocked in the master: wait for it with sigtimedwait, then look whether it was this child. */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	double end = ss_time_mono() + wait_s;
	for (;;) {
		int status;
		if (waitpid(pid, &status, WNOHANG) != 0)
			return; /* ended (or not ours any more) */
		double left = end - ss_time_mono();
		if (left <= 0)
			break;
		struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
		sigtimedwait(&chld, NULL, &ts);
	}
	/* Still in its last round trip (a Redis that hangs): what it was publishing is published by the next
	 * master, from the same absolute totals. */
	ss_log_warn("counter publisher %ld did not finish its last publish within %.1f s; killed it", (long)pid,
		    wait_s);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

void ss_counter_pub_free(ss_counter_pub *p)
{
	if (p == NULL)
		return;
	if (p->pid > 0)
		kill(p->pid, SIGTERM); /* it publishes once more and exits; the master's reaping collects it */
	free(p);
}

void ss_counter_pub_forget(ss_counter_pub *p)
{
	free(p);
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

/* ---- the publisher process ---- */

/* What the publisher process holds: its own mappings of the host's counters and its own limiter. */
typedef struct {
	const ss_counter_pub *p;
	ss_stats *stats;
	char host[300]; /* hostname:device:inode of the .stats file, once it is open */
	ss_state *state; /* the state file's named counters, when there is a valid file */
	ss_limiter *lim;
	bool failing;    /* the last publish failed (logged once per outage) */
} publisher;

/* Log a change between failing and working (once per outage). */
static void report(publisher *w, int rc, const char *why)
{
	if (rc < 0 && !w->failing)
		ss_log_warn("cannot publish this host's counters (retrying every %.0f s): %s",
			    SS_SHARED_COUNTERS_INTERVAL_S, why);
	else if (rc >= 0 && w->failing)
		ss_log_info("this host's counters are published again");
	w->failing = rc < 0;
}

/* Read the host's totals and publish them in one round trip. */
static void publish_once(publisher *w)
{
	ss_error err;
	ss_error_clear(&err);
	/* The responders follow a .stats file deleted or replaced under them (handlers/service.c); so does this. */
	if (w->stats != NULL && !ss_stats_same_file(w->stats, w->p->stats_path)) {
		ss_stats_close(w->stats);
		w->stats = NULL;
	}
	if (w->stats == NULL) {
		if (ss_stats_open(w->p->stats_path, &w->stats, &err) != 0) {
			report(w, -1, err.msg);
			return;
		}
		if (ss_counter_host_id(w->p->stats_path, w->host, sizeof w->host) != 0) {
			ss_stats_close(w->stats);
			w->stats = NULL;
			report(w, -1, "cannot identify this host's counters file");
			return;
		}
	}
	/* The state file follows rebuilds; its counters count when it is there and valid. */
	if (w->state != NULL && !ss_state_is_current(w->state)) {
		ss_state_close(w->state);
		w->state = NULL;
	}
	if (w->state == NULL && ss_state_attach(w->p->cfg.state_file, &w->state, &err) != 0)
		w->state = NULL;

	char names[MAX_COUNTERS][NAME_LEN];
	const char *np[MAX_COUNTERS];
	uint64_t values[MAX_COUNTERS];
	size_t n = 0;
	for (unsigned i = 0; i < SS_STAT_SLOTS; i++) {
		uint64_t v = ss_stats_get(w->stats, i);
		if (v == 0)
			continue;
		snprintf(names[n], NAME_LEN, "%c%u", i == SS_STAT_LAST_UPDATED ? 'm' : 's', i);
		values[n++] = v;
	}
	for (unsigned i = 0; w->state != NULL && i < SS_STATE_COUNTERS; i++) {
		uint64_t v = ss_state_counter_get(w->state, i);
		if (v == 0)
			continue;
		snprintf(names[n], NAME_LEN, "c%u", i);
		values[n++] = v;
	}
	assert(n <= MAX_COUNTERS);
	for (size_t i = 0; i < n; i++)
		np[i] = names[i];
	ss_log_debug("publishing this host's counters (%zu)", n);
	ss_error_clear(&err);
	int rc = -1;
	if (w->lim != NULL || ss_limiter_open_shared(&w->p->cfg, NULL, NULL, &w->lim, &err) == 0)
		rc = ss_limiter_counters_publish(w->lim, w->host, np, values, n, &err);
	report(w, rc, err.msg);
}

void ss_counter_pub_run(const ss_counter_pub *p)
{
	prctl(PR_SET_NAME, SS_COUNTER_PUB_NAME);
	/* SIGTERM stays blocked (as the master has it) and is taken between publishes: a round trip is never cut
	 * short, and one that hangs is ended by the master's SIGKILL. SIGINT and SIGHUP are the master's to act on:
	 * a Ctrl-C reaches the whole process group, and the publisher must outlive the responders that are still
	 * finishing, to publish their last counts when the master sends SIGTERM. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigset_t mask = stop;
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	publisher w = {.p = p};
	for (;;) {
		double next = ss_time_mono() + SS_SHARED_COUNTERS_INTERVAL_S;
		publish_once(&w);
		double left;
		int sig = -1;
		while (sig < 0 && (left = next - ss_time_mono()) > 0) {
			struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
			sig = sigtimedwait(&stop, NULL, &ts);
		}
		if (sig > 0)
			break;
	}
	publish_once(&w); /* the last counts, as the master stops (or replaces it on a reload) */
	ss_limiter_close(w.lim);
	ss_state_close(w.state);
	ss_stats_close(w.stats);
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
