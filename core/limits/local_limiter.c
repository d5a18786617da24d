/* The "local" limiter backend: the limits live in this host's state file (core/limits/state.h), shared by
 * every responder of the host through the mapping. A call that finds the mapping broken (corrupted mutex,
 * truncated file) reopens it, which rebuilds the file, and tries once more. */
#include <stdio.h>
#include <string.h>

#include "core/limits/limiter_backend.h"

static int not_open(ss_limiter *lim, ss_error *err)
{
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is unavailable: %s",
			    lim->problem[0] != '\0' ? lim->problem : "not open");
}

/* Run `call` on the host state; when it fails because the mapping broke, reopen and run it once more. */
#define WITH_HOST(lim, err, call)                                                                                    \
	do {                                                                                                         \
		ss_state *st = ss_limiter_host(lim);                                                                 \
		if (st == NULL)                                                                                      \
			return not_open(lim, err);                                                                   \
		int64_t rc_ = (call);                                                                                \
		if (rc_ < 0 && ss_limiter_host_recovered(lim)) {                                                     \
			st = lim->host;                                                                              \
			rc_ = (call);                                                                                \
		}                                                                                                    \
		return rc_;                                                                                          \
	} while (0)

static void local_close(ss_limiter *lim)
{
	(void)lim; /* the host state is closed by limiter.c */
}

static bool local_ready(ss_limiter *lim)
{
	return lim->host != NULL;
}

static const char *local_problem(ss_limiter *lim)
{
	(void)lim;
	return NULL;
}

static int acquire(ss_state *st, int64_t key_id, int rate, int burst, int64_t daily, uint64_t seen,
		   ss_limiter_decision *d, ss_error *err)
{
	memset(d, 0, sizeof *d);
	d->generation = ss_state_key_generation(st);
	if (d->generation != seen) {
		d->verdict = SS_LIMITER_STALE;
		d->limit = rate;
		return 0;
	}
	ss_state_decision sd;
	if (ss_state_acquire(st, key_id, rate, burst, daily, ss_state_now_ns(), &sd, err) != 0)
		return -1;
	d->verdict = sd.verdict == SS_STATE_ALLOWED	     ? SS_LIMITER_ALLOWED
		     : sd.verdict == SS_STATE_DAILY_LIMITED ? SS_LIMITER_DAILY_LIMITED
							     : SS_LIMITER_RATE_LIMITED;
	d->limit = sd.limit;
	d->remaining = sd.remaining;
	d->reset_s = sd.reset_s;
	d->retry_after_s = sd.retry_after_s;
	d->day_count = sd.day_count;
	return 0;
}

static int local_admit(ss_limiter *lim, int64_t key_id, int rate, int burst, int64_t daily, uint64_t seen,
		       ss_limiter_decision *d, ss_error *err)
{
	WITH_HOST(lim, err, acquire(st, key_id, rate, burst, daily, seen, d, err));
}

static int local_authfail_blocked(ss_limiter *lim, const char *addr, int per_min, int *retry, ss_error *err)
{
	WITH_HOST(lim, err, ss_state_authfail_blocked(st, addr, per_min, ss_state_now_ns(), retry, err));
}

static int local_authfail_record(ss_limiter *lim, const char *addr, int per_min, ss_error *err)
{
	WITH_HOST(lim, err, ss_state_authfail_record(st, addr, per_min, ss_state_now_ns(), err));
}

static int64_t day_count(ss_state *st, int64_t key_id, ss_error *err)
{
	int64_t n = ss_state_day_count(st, key_id, ss_state_now_ns());
	if (n < 0)
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is unavailable.");
	return n;
}

static int64_t local_day_count(ss_limiter *lim, int64_t key_id, ss_error *err)
{
	WITH_HOST(lim, err, day_count(st, key_id, err));
}

static int local_seed_day(ss_limiter *lim, int64_t key_id, int64_t day, int64_t count, ss_error *err)
{
	/* While a new file is being built lim->host is that file (limiter.c): no reopen logic then. */
	if (lim->seeding)
		return ss_state_seed_day(lim->host, key_id, day, count, err);
	WITH_HOST(lim, err, ss_state_seed_day(st, key_id, day, count, err));
}

static int local_forget_key(ss_limiter *lim, int64_t key_id, ss_error *err)
{
	WITH_HOST(lim, err, ss_state_forget_key(st, key_id, err));
}

static uint64_t local_generation(ss_limiter *lim)
{
	return lim->host != NULL ? ss_state_key_generation(lim->host) : 0;
}

static int local_generation_sync(ss_limiter *lim, uint64_t *gen, ss_error *err)
{
	ss_state *st = ss_limiter_host(lim);
	if (st == NULL)
		return not_open(lim, err);
	*gen = ss_state_key_generation(st);
	return 0;
}

static int local_bump_generation(ss_limiter *lim, ss_error *err)
{
	ss_state *st = ss_limiter_host(lim);
	if (st == NULL)
		return not_open(lim, err);
	if (ss_state_bump_key_generation(st) == 0)
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is unusable.");
	return 0;
}

static int64_t local_today(ss_limiter *lim)
{
	(void)lim;
	return ss_state_day(ss_state_now_ns());
}

static const ss_limiter_ops local_ops = {
	.name = "local",
	.component = "state_file",
	.close = local_close,
	.ready = local_ready,
	.probe = local_ready,
	.problem = local_problem,
	.admit = local_admit,
	.authfail_blocked = local_authfail_blocked,
	.authfail_record = local_authfail_record,
	.day_count = local_day_count,
	.seed_day = local_seed_day,
	.forget_key = local_forget_key,
	.generation = local_generation,
	.generation_sync = local_generation_sync,
	.bump_generation = local_bump_generation,
	.today = local_today,
};

int ss_limiter_local_init(ss_limiter *lim, const ss_config *cfg, ss_error *err)
{
	(void)cfg;
	(void)err;
	lim->ops = &local_ops;
	return 0;
}
