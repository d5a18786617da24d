#include "core/limits/limiter.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits/limiter_backend.h"
#include "core/util/timefmt.h"

/* ---- notes for the caller's log ---- */

/* Queue one note; when the ring is full the oldest gives way (counted, and reported by ss_limiter_take_note). */
static void note(ss_limiter *lim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(ss_limiter *lim, const char *fmt, ...)
{
	assert(lim->notes_len <= SS_LIMITER_NOTES && lim->notes_head < SS_LIMITER_NOTES);
	if (lim->notes_len == SS_LIMITER_NOTES) {
		lim->notes_head = (lim->notes_head + 1) % SS_LIMITER_NOTES;
		lim->notes_len--;
		lim->notes_dropped++;
	}
	char *slot = lim->notes[(lim->notes_head + lim->notes_len) % SS_LIMITER_NOTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(slot, sizeof lim->notes[0], fmt, ap);
	va_end(ap);
	lim->notes_len++;
}

bool ss_limiter_take_note(ss_limiter *lim, char *buf, size_t len)
{
	if (len == 0)
		return false;
	if (lim->notes_dropped != 0) {
		snprintf(buf, len, "%lu earlier notes about the state file were dropped (more than %d came between two "
			 "looks at them)", lim->notes_dropped, SS_LIMITER_NOTES);
		lim->notes_dropped = 0;
		return true;
	}
	if (lim->notes_len == 0)
		return false;
	snprintf(buf, len, "%s", lim->notes[lim->notes_head]);
	lim->notes_head = (lim->notes_head + 1) % SS_LIMITER_NOTES;
	lim->notes_len--;
	return true;
}

/* ---- the host's state file ---- */

/* The state file was just built: with the local backend, today's counts come from the caller's seed. */
static int seed_host(void *arg, ss_state *st)
{
	ss_limiter *lim = arg;
	if (lim->seed == NULL || lim->ops->host == NULL)
		return 0;
	ss_state *prev = lim->host;
	lim->host = st; /* ss_limiter_seed_day writes into the file being built */
	lim->seeding = true;
	int rc = lim->seed(lim->seed_arg, lim, ss_state_day(ss_state_now_ns()));
	lim->seeding = false;
	lim->host = prev;
	return rc;
}

static int host_open(ss_limiter *lim, ss_error *err)
{
	assert(lim->host == NULL);
	if (ss_state_open(lim->state_path, seed_host, lim, &lim->host, err) != 0) {
		lim->host_retry_at = ss_time_mono() + 1.0;
		return -1;
	}
	const char *why = ss_state_built_reason(lim->host);
	if (why != NULL)
		note(lim, "rebuilt the state file %s because %s%s", lim->state_path, why,
		     lim->ops->host != NULL ? " (daily counts re-seeded from api_usage)" : "");
	else if (ss_state_was_created(lim->host))
		note(lim, "built a new state file %s", lim->state_path);
	lim->host_checked_at = ss_time_mono();
	return 0;
}

static void host_drop(ss_limiter *lim)
{
	ss_state_close(lim->host);
	lim->host = NULL;
	lim->host_retry_at = 0;
}

/* The host state file, reopened when it is broken or was replaced (at most once a second after a failed open).
 * Returns it, or NULL when it cannot be opened now (lim->problem says why). */
static ss_state *host_get(ss_limiter *lim)
{
	if (lim->host != NULL) {
		if (!ss_state_is_usable(lim->host)) {
			const char *why = ss_state_problem(lim->host);
			note(lim, "state file %s is unusable (%s); reopening it", lim->state_path,
			     why != NULL ? why : "no reason given");
			host_drop(lim);
		} else {
			/* Rebuilt or replaced under us? Then follow it, or key changes announced in the new file
			 * would go unseen here. About once a second (one stat()). */
			double now = ss_time_mono();
			if (now - lim->host_checked_at < 1.0)
				return lim->host;
			lim->host_checked_at = now;
			if (ss_state_is_current(lim->host))
				return lim->host;
			note(lim, "state file %s was replaced; reopening it", lim->state_path);
			host_drop(lim);
		}
	}
	if (ss_time_mono() < lim->host_retry_at)
		return NULL;
	ss_error err;
	ss_error_clear(&err);
	if (host_open(lim, &err) != 0) {
		snprintf(lim->problem, sizeof lim->problem, "%s", err.msg);
		return NULL;
	}
	return lim->host;
}

double ss_limiter_maintain(ss_limiter *lim, bool *reopened)
{
	*reopened = false;
	if (!lim->wants_host)
		return -1;
	if (lim->host != NULL && !ss_state_is_broken(lim->host))
		return -1;
	double now = ss_time_mono();
	if (lim->host != NULL || now >= lim->host_retry_at) {
		*reopened = true;
		if (host_get(lim) != NULL)
			return -1;
		now = ss_time_mono();
	}
	return lim->host_retry_at > now ? lim->host_retry_at - now : 0;
}

/* After a call on the host state failed: true when it turned out broken and was reopened (retry once). */
static bool host_recovered(ss_limiter *lim)
{
	if (lim->host == NULL || ss_state_is_usable(lim->host))
		return false;
	return host_get(lim) != NULL;
}

static int host_unavailable(ss_limiter *lim, ss_error *err)
{
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is unavailable: %s",
			    lim->problem[0] != '\0' ? lim->problem : "not open");
}

/* Return `call` of a backend whose limits live in the host state file, run on that file as `st`: answered
 * SS_ERR_UNAVAILABLE while it cannot be opened; run once more on the reopened file when it failed because the
 * mapping broke. */
#define ON_HOST(lim, err, call)                                                                                      \
	do {                                                                                                         \
		ss_state *st = host_get(lim);                                                                        \
		if (st == NULL)                                                                                      \
			return host_unavailable(lim, err);                                                           \
		int64_t rc_ = (call);                                                                                \
		if (rc_ < 0 && host_recovered(lim)) {                                                                \
			st = lim->host;                                                                              \
			rc_ = (call);                                                                                \
		}                                                                                                    \
		return rc_;                                                                                          \
	} while (0)

/* ---- the interface ---- */

static int limiter_open(const ss_config *cfg, ss_limiter_seed_fn seed, void *seed_arg, bool host, ss_limiter **out,
			ss_error *err)
{
	*out = NULL;
	ss_limiter *lim = calloc(1, sizeof *lim);
	if (lim == NULL || (lim->state_path = strdup(cfg->state_file)) == NULL) {
		free(lim);
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	}
	lim->seed = seed;
	lim->seed_arg = seed_arg;
	int rc;
	if (strcmp(cfg->limits, "local") == 0)
		rc = ss_limiter_local_init(lim, cfg, err);
	else if (strcmp(cfg->limits, "redis") == 0)
		rc = ss_limiter_redis_init(lim, cfg, err);
	else
		rc = ss_error_set(err, SS_ERR_CONFIG, "Unknown limits backend '%s' (local or redis).", cfg->limits);
	lim->wants_host = rc == 0 && (host || lim->ops->host != NULL);
	if (lim->wants_host)
		rc = host_open(lim, err);
	if (rc != 0) {
		ss_limiter_close(lim);
		return -1;
	}
	*out = lim;
	return 0;
}

int ss_limiter_open(const ss_config *cfg, ss_limiter_seed_fn seed, void *seed_arg, ss_limiter **out, ss_error *err)
{
	return limiter_open(cfg, seed, seed_arg, true, out, err);
}

int ss_limiter_open_shared(const ss_config *cfg, ss_limiter_seed_fn seed, void *seed_arg, ss_limiter **out,
			   ss_error *err)
{
	return limiter_open(cfg, seed, seed_arg, false, out, err);
}

void ss_limiter_close(ss_limiter *lim)
{
	if (lim == NULL)
		return;
	if (lim->ops != NULL && lim->ops->close != NULL)
		lim->ops->close(lim);
	ss_state_close(lim->host);
	free(lim->state_path);
	free(lim);
}

const char *ss_limiter_backend(const ss_limiter *lim)
{
	return lim->ops->name;
}

const char *ss_limiter_component(const ss_limiter *lim)
{
	return lim->ops->component;
}

bool ss_limiter_ready(ss_limiter *lim)
{
	if (host_get(lim) == NULL)
		return false;
	return lim->ops->host != NULL || lim->ops->ready(lim);
}

bool ss_limiter_probe(ss_limiter *lim)
{
	if (host_get(lim) == NULL)
		return false;
	return lim->ops->host != NULL || lim->ops->probe(lim);
}

const char *ss_limiter_problem(ss_limiter *lim)
{
	if (lim->host == NULL)
		return lim->problem[0] != '\0' ? lim->problem : "the state file is not open";
	const char *p = ss_state_problem(lim->host);
	if (p != NULL) {
		snprintf(lim->problem, sizeof lim->problem, "state file: %s", p);
		return lim->problem;
	}
	return lim->ops->host != NULL ? NULL : lim->ops->problem(lim);
}

int ss_limiter_admit(ss_limiter *lim, int64_t key_id, int rate_per_min, int burst, int64_t daily_limit,
		     uint64_t seen_generation, ss_limiter_decision *d, ss_error *err)
{
	assert(key_id > 0);
	rate_per_min = rate_per_min < 1 ? 1 : rate_per_min;
	burst = burst < 0 ? 0 : burst;
	daily_limit = daily_limit < 0 ? 0 : daily_limit;
	if (lim->ops->host != NULL)
		ON_HOST(lim, err,
			lim->ops->host->admit(st, key_id, rate_per_min, burst, daily_limit, seen_generation, d, err));
	return lim->ops->admit(lim, key_id, rate_per_min, burst, daily_limit, seen_generation, d, err);
}

int ss_limiter_authfail_blocked(ss_limiter *lim, const char *addr, int per_min, int *retry_after_s, ss_error *err)
{
	*retry_after_s = 0;
	per_min = per_min < 1 ? 1 : per_min;
	if (lim->ops->host != NULL)
		ON_HOST(lim, err, lim->ops->host->authfail_blocked(st, addr, per_min, retry_after_s, err));
	return lim->ops->authfail_blocked(lim, addr, per_min, retry_after_s, err);
}

int ss_limiter_authfail_record(ss_limiter *lim, const char *addr, int per_min, ss_error *err)
{
	per_min = per_min < 1 ? 1 : per_min;
	if (lim->ops->host != NULL)
		ON_HOST(lim, err, lim->ops->host->authfail_record(st, addr, per_min, err));
	return lim->ops->authfail_record(lim, addr, per_min, err);
}

int64_t ss_limiter_day_count(ss_limiter *lim, int64_t key_id, ss_error *err)
{
	if (lim->ops->host != NULL)
		ON_HOST(lim, err, lim->ops->host->day_count(st, key_id, err));
	return lim->ops->day_count(lim, key_id, err);
}

int ss_limiter_seed_day(ss_limiter *lim, int64_t key_id, int64_t day, int64_t count, ss_error *err)
{
	if (key_id <= 0 || count < 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "Bad seed for key %lld.", (long long)key_id);
	if (lim->ops->host != NULL && lim->seeding) /* lim->host is the file being built: no reopen logic then */
		return lim->ops->host->seed_day(lim->host, key_id, day, count, err);
	if (lim->ops->host != NULL)
		ON_HOST(lim, err, lim->ops->host->seed_day(st, key_id, day, count, err));
	return lim->ops->seed_day(lim, key_id, day, count, err);
}

int ss_limiter_forget_key(ss_limiter *lim, int64_t key_id, ss_error *err)
{
	if (lim->ops->host != NULL)
		ON_HOST(lim, err, lim->ops->host->forget_key(st, key_id, err));
	return lim->ops->forget_key(lim, key_id, err);
}

uint64_t ss_limiter_generation(ss_limiter *lim)
{
	if (lim->ops->host != NULL)
		return lim->host != NULL ? lim->ops->host->generation(lim->host) : 0;
	return lim->ops->generation(lim);
}

int ss_limiter_generation_sync(ss_limiter *lim, uint64_t *gen, ss_error *err)
{
	if (lim->ops->host != NULL) {
		ss_state *st = host_get(lim);
		if (st == NULL)
			return host_unavailable(lim, err);
		*gen = lim->ops->host->generation(st);
		return 0;
	}
	return lim->ops->generation_sync(lim, gen, err);
}

int ss_limiter_bump_generation(ss_limiter *lim, ss_error *err)
{
	if (lim->ops->host != NULL)
		ON_HOST(lim, err, lim->ops->host->bump_generation(st, err));
	return lim->ops->bump_generation(lim, err);
}

struct ss_state *ss_limiter_host_state(ss_limiter *lim)
{
	return host_get(lim);
}

int64_t ss_limiter_today(ss_limiter *lim)
{
	return lim->ops->host != NULL ? lim->ops->host->today() : lim->ops->today(lim);
}

int ss_limiter_counters_publish(ss_limiter *lim, const char *host, const char *const *names, const uint64_t *values,
				size_t n, ss_error *err)
{
	assert(host != NULL && host[0] != '\0' && (n == 0 || (names != NULL && values != NULL)));
	if (lim->ops->counters_publish == NULL)
		return 0;
	return lim->ops->counters_publish(lim, host, names, values, n, err) < 0 ? -1 : 1;
}

int ss_limiter_counters_total(ss_limiter *lim, ss_limiter_counter_fn fn, void *arg, ss_error *err)
{
	assert(fn != NULL);
	if (lim->ops->counters_total == NULL)
		return 0;
	return lim->ops->counters_total(lim, fn, arg, err) < 0 ? -1 : 1;
}
