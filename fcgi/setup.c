#include "fcgi/setup.h"

#include <string.h>

#include "core/util/log.h"
#include "fcgi/auth.h"
#include "fcgi/handlers.h"

/* The store's events go to the log. */
static void store_notice(void *arg, ss_store_level level, const char *msg)
{
	(void)arg;
	if (level == SS_STORE_ERROR)
		ss_log_error("%s", msg);
	else if (level == SS_STORE_WARN)
		ss_log_warn("%s", msg);
	else
		ss_log_info("%s", msg);
}

int ss_ctx_open(ss_ctx *ctx, const ss_ctx_params *p, ss_error *err)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->cfg = p->cfg;
	ctx->config_path = p->config_path;
	ctx->service_started_at = p->service_started_at;
	ctx->own_master = p->own_master;
	ctx->master_pid = p->master_pid;
	ss_store_params sp;
	ss_store_params_from_config(p->cfg, &sp);
	sp.notice = store_notice;
	if (ss_store_new(&sp, &ctx->store, err) != 0)
		return -1;
	ss_store_ready(ctx->store, NULL); /* a failure is logged by the store and retried per request */
	ss_handlers_open(ctx);
	/* State file (limits, quotas, counters), key cache, usage journal: opened here, after fork. */
	ss_auth_open(ctx);
	return 0;
}

void ss_ctx_close(ss_ctx *ctx)
{
	if (ctx->store == NULL)
		return;
	ss_handlers_close(ctx);
	ss_auth_close(ctx); /* writes pending usage rows: nothing is lost on a graceful stop */
	ss_store_close(ctx->store);
	ctx->store = NULL;
}
