/* Private to core/limits: what a limiter backend implements (limiter.h is the public interface). */
#ifndef SS_LIMITS_LIMITER_BACKEND_H
#define SS_LIMITS_LIMITER_BACKEND_H

#include "core/limits/limiter.h"
#include "core/limits/state.h"

/* A backend whose limits live in this host's state file (local). Each call gets that file (never NULL): the
 * generic layer (limiter.c) opens it, follows it when it broke or was replaced, answers SS_ERR_UNAVAILABLE
 * while it cannot be opened, and runs a call that failed on a broken mapping once more on the reopened file.
 * The calls mean what the ss_limiter_ops of the same names mean. */
typedef struct ss_limiter_host_ops {
	int (*admit)(ss_state *st, int64_t key_id, int rate_per_min, int burst, int64_t daily_limit,
		     uint64_t seen_generation, ss_limiter_decision *d, ss_error *err);
	int (*authfail_blocked)(ss_state *st, const char *addr, int per_min, int *retry_after_s, ss_error *err);
	int (*authfail_record)(ss_state *st, const char *addr, int per_min, ss_error *err);
	int64_t (*day_count)(ss_state *st, int64_t key_id, ss_error *err);
	int (*seed_day)(ss_state *st, int64_t key_id, int64_t day, int64_t count, ss_error *err);
	int (*forget_key)(ss_state *st, int64_t key_id, ss_error *err);
	uint64_t (*generation)(const ss_state *st);
	int (*bump_generation)(ss_state *st, ss_error *err);
	int64_t (*today)(void);
} ss_limiter_host_ops;

/* A backend: either `host` (its limits live in the host state file; every other member but name and component
 * is NULL) or the calls below (a backend of its own, e.g. a server; `impl` holds its data). */
typedef struct ss_limiter_ops {
	const char *name;      /* config word */
	const char *component; /* /health component */
	const ss_limiter_host_ops *host;
	void (*close)(ss_limiter *lim);
	bool (*ready)(ss_limiter *lim);                /* connect when needed; false when down */
	bool (*probe)(ss_limiter *lim);                /* ready, and answers a round trip now */
	const char *(*problem)(ss_limiter *lim);       /* NULL when fine */
	int (*admit)(ss_limiter *lim, int64_t key_id, int rate_per_min, int burst, int64_t daily_limit,
		     uint64_t seen_generation, ss_limiter_decision *d, ss_error *err);
	int (*authfail_blocked)(ss_limiter *lim, const char *addr, int per_min, int *retry_after_s, ss_error *err);
	int (*authfail_record)(ss_limiter *lim, const char *addr, int per_min, ss_error *err);
	int64_t (*day_count)(ss_limiter *lim, int64_t key_id, ss_error *err);
	int (*seed_day)(ss_limiter *lim, int64_t key_id, int64_t day, int64_t count, ss_error *err);
	int (*forget_key)(ss_limiter *lim, int64_t key_id, ss_error *err);
	uint64_t (*generation)(ss_limiter *lim);
	int (*generation_sync)(ss_limiter *lim, uint64_t *gen, ss_error *err);
	int (*bump_generation)(ss_limiter *lim, ss_error *err);
	int64_t (*today)(ss_limiter *lim);
	/* NULL when the backend is not shared (then the wrappers return 0) */
	int (*counters_publish)(ss_limiter *lim, const char *host, const char *const *names, const uint64_t *values,
				size_t n, ss_error *err);
	int (*counters_total)(ss_limiter *lim, ss_limiter_counter_fn fn, void *arg, ss_error *err);
} ss_limiter_ops;

struct ss_limiter {
	const ss_limiter_ops *ops;
	void *impl; /* the backend's own data (owned; freed by ops->close) */
	ss_limiter_seed_fn seed;
	void *seed_arg;
	bool seeding; /* the seed callback is filling a state file being built (lim->host is that file) */
	/* The host's state file (local backend: the limiter itself) */
	char *state_path;
	bool wants_host; /* the host state file is this limiter's to keep open (not for a tool's shared limiter) */
	ss_state *host;
	double host_retry_at;   /* monotonic: no reopen before */
	double host_checked_at; /* monotonic: last ss_state_is_current */
	/* What the limiter did by itself, for the caller's log: a ring of the newest notes, oldest first from
	 * notes_head; notes_dropped older ones gave way to newer ones before anybody took them. */
	char notes[SS_LIMITER_NOTES][300];
	unsigned notes_head, notes_len;
	unsigned long notes_dropped;
	char problem[300];
};

/* The backends' constructors: fill lim->ops and lim->impl from cfg. Return 0 or -1 with err. */
int ss_limiter_local_init(ss_limiter *lim, const ss_config *cfg, ss_error *err);
int ss_limiter_redis_init(ss_limiter *lim, const ss_config *cfg, ss_error *err);

#endif
