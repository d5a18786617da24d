/* The "local" limiter backend: the limits live in this host's state file (core/limits/state.h), shared by
 * every responder of the host through the mapping. Each call works on the file it is given; opening,
 * following and reopening that file (which rebuilds a broken one) is the generic layer's (limiter.c), so this
 * backend knows nothing of ss_limiter. */
#include <string.h>

#include "core/limits/limiter_backend.h"

static int local_admit(ss_state *st, int64_t key_id, int rate, int burst, int64_t daily, uint64_t seen,
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

static int local_authfail_blocked(ss_state *st, const char *addr, int per_min, int *retry, ss_error *err)
{
	return ss_state_authfail_blocked(st, addr, per_min, ss_state_now_ns(), retry, err);
}

static int local_authfail_record(ss_state *st, const char *addr, int per_min, ss_error *err)
{
	return ss_state_authfail_record(st, addr, per_min, ss_state_now_ns(), err);
}

static int64_t local_day_count(ss_state *st, int64_t key_id, ss_error *err)
{
	int64_t n = ss_state_day_count(st, key_id, ss_state_now_ns());
	if (n < 0)
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is unavailable.");
	return n;
}

static int local_bump_generation(ss_state *st, ss_error *err)
{
	if (ss_state_bump_key_generation(st) == 0)
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file is unusable.");
	return 0;
}

static int64_t local_today(void)
{
	return ss_state_day(ss_state_now_ns());
}

static const ss_limiter_host_ops local_host_ops = {
	.admit = local_admit,
	.authfail_blocked = local_authfail_blocked,
	.authfail_record = local_authfail_record,
	.day_count = local_day_count,
	.seed_day = ss_state_seed_day,
	.forget_key = ss_state_forget_key,
	.generation = ss_state_key_generation,
	.bump_generation = local_bump_generation,
	.today = local_today,
};

static const ss_limiter_ops local_ops = {
	.name = "local",
	.component = "state_file",
	.host = &local_host_ops,
};

int ss_limiter_local_init(ss_limiter *lim, const ss_config *cfg, ss_error *err)
{
	(void)cfg;
	(void)err;
	lim->ops = &local_ops;
	return 0;
}
