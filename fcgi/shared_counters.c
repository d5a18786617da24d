#include "fcgi/shared_counters.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util/log.h"
#include "core/util/timefmt.h"

/* Counter names: s<slot> (a .stats slot, summed), m<slot> (SS_STAT_LAST_UPDATED: the latest), c<idx> (a state
 * file counter, summed). */
enum { NAME_LEN = 8, MAX_COUNTERS = SS_STAT_SLOTS + SS_STATE_COUNTERS };

struct ss_counter_pub {
	ss_config cfg;
	char stats_path[SS_CONFIG_PATH_MAX + 16];
	ss_stats *stats;
	ss_limiter *lim;
	char host[300];  /* hostname:device:inode of the .stats file, once it is open */
	double next_at;  /* monotonic: next publish due */
	bool failing;    /* the last publish failed (logged once) */
	char names[MAX_COUNTERS][NAME_LEN];
	const char *name_ptrs[MAX_COUNTERS];
	uint64_t values[MAX_COUNTERS];
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

void ss_counter_pub_free(ss_counter_pub *p)
{
	if (p == NULL)
		return;
	ss_limiter_close(p->lim);
	ss_stats_close(p->stats);
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

/* Open what is not open yet; false when something cannot be opened now (logged). */
static bool pub_open(ss_counter_pub *p, ss_error *err)
{
	if (p->stats == NULL) {
		if (ss_stats_open(p->stats_path, &p->stats, err) != 0)
			return false;
		if (ss_counter_host_id(p->stats_path, p->host, sizeof p->host) != 0) {
			ss_stats_close(p->stats);
			p->stats = NULL;
			ss_error_set(err, SS_ERR_IO, "Cannot identify %s.", p->stats_path);
			return false;
		}
	}
	if (p->lim == NULL && ss_limiter_open_shared(&p->cfg, NULL, NULL, &p->lim, err) != 0)
		return false;
	return true;
}

double ss_counter_pub_tick(ss_counter_pub *p, const ss_state *host_state, bool force)
{
	double now = ss_time_mono();
	if (!force && now < p->next_at)
		return p->next_at - now;
	p->next_at = now + SS_SHARED_COUNTERS_INTERVAL_S;
	ss_error err;
	ss_error_clear(&err);
	int rc = -1;
	if (pub_open(p, &err)) {
		size_t n = 0;
		for (unsigned i = 0; i < SS_STAT_SLOTS; i++) {
			uint64_t v = ss_stats_get(p->stats, i);
			if (v == 0)
				continue;
			snprintf(p->names[n], NAME_LEN, "%c%u", i == SS_STAT_LAST_UPDATED ? 'm' : 's', i);
			p->values[n++] = v;
		}
		for (unsigned i = 0; host_state != NULL && i < SS_STATE_COUNTERS; i++) {
			uint64_t v = ss_state_counter_get(host_state, i);
			if (v == 0)
				continue;
			snprintf(p->names[n], NAME_LEN, "c%u", i);
			p->values[n++] = v;
		}
		assert(n <= MAX_COUNTERS);
		for (size_t i = 0; i < n; i++)
			p->name_ptrs[i] = p->names[i];
		rc = ss_limiter_counters_publish(p->lim, p->host, p->name_ptrs, p->values, n, &err);
	}
	if (rc < 0 && !p->failing)
		ss_log_warn("cannot publish this host's counters (retrying every %.0f s): %s",
			    SS_SHARED_COUNTERS_INTERVAL_S, err.msg);
	else if (rc >= 0 && p->failing)
		ss_log_info("this host's counters are published again");
	p->failing = rc < 0;
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
