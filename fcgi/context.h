/* What one responder process owns: opened after fork by ss_ctx_open, used by every handler, closed by
 * ss_ctx_close. */
#ifndef SS_FCGI_CONTEXT_H
#define SS_FCGI_CONTEXT_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/config/config.h"
#include "core/store/store.h"

struct ss_limiter;
struct ss_keycache;
struct ss_fetcher;
struct ss_stats;
struct ss_admission;

typedef struct ss_ctx {
	const ss_config *cfg;
	const char *config_path;    /* file the config came from, or NULL for built-in defaults */
	ss_store *store;            /* the store (core/store/store.h); ss_store_ready says whether it is usable */
	struct ss_limiter *limiter; /* limits, quotas, key invalidation (+ this host's state file: counters) */
	struct ss_keycache *keys;   /* per-responder API key cache */
	struct ss_fetcher *fetch;   /* URL fetcher (one curl handle) */
	double service_started_at;  /* realtime when the service (master) started, for uptime */
	unsigned long served;       /* requests this responder has served */
	bool own_master;            /* our own master supervises this responder (POST /shutdown works) */
	pid_t master_pid;
	/* API objects, opened after fork by ss_handlers_open (fcgi/handlers.h) */
	struct ss_stats *stats;     /* shared service counters */
	char stats_host_id[300];    /* this host's id for those counters (ss_counter_host_id of the file mapped in
				     * stats), worked out once; "" until it could be */
	struct ss_admission *adm;   /* analysis admission control */
} ss_ctx;

/* Who the responder is: copied into the context by ss_ctx_open. cfg and config_path are borrowed and must
 * outlive the context. */
typedef struct ss_ctx_params {
	const ss_config *cfg;
	const char *config_path;
	double service_started_at;
	bool own_master;
	pid_t master_pid;
} ss_ctx_params;

/* Set up a responder after fork, in this order: the store (connected now when it can be; otherwise every
 * request retries and /health answers 503), the per-responder API objects (ss_handlers_open), the state file,
 * key cache and usage journal (ss_auth_open). Failures of the parts are logged and the responder still serves
 * what it can. Returns 0, or -1 with err when the store cannot even be set up (an unknown backend): the
 * context then holds nothing. */
int ss_ctx_open(ss_ctx *ctx, const ss_ctx_params *p, ss_error *err);

/* Tear down what ss_ctx_open set up, in reverse: pending usage rows are written first. Safe on a zeroed
 * context and twice. */
void ss_ctx_close(ss_ctx *ctx);

/* Is the store usable for the request in progress (ss_store_ready)? 0 when usable, -1 otherwise (the store's
 * ss_store_error says why). The file checks behind it run at the first call of each request: the responder
 * calls ss_store_recheck before and after each request. */
int ss_ctx_store_ready(ss_ctx *ctx);

#endif
