/* What one responder process owns, used by every handler: the context's fields and the store check. It is
 * opened after fork and closed by fcgi/setup.h (ss_ctx_open, ss_ctx_close). */
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

/* Is the store usable for the request in progress (ss_store_ready)? 0 when usable, -1 otherwise (the store's
 * ss_store_error says why). The file checks behind it run at the first call of each request: the responder
 * calls ss_store_recheck before and after each request. */
static inline int ss_ctx_store_ready(ss_ctx *ctx)
{
	if (ctx->store == NULL)
		return -1;
	return ss_store_ready(ctx->store, NULL);
}

#endif
