#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "core/limits/limiter.h"
#include "core/limits/state.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "core/util/strnum.h"
#include "core/util/timefmt.h"
#include "fcgi/auth.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"

/* The database as a request needs it: open, the file at the path, readable, writable. Returns the
 * component's word for /health ("ok", "read-only", "full", "busy", "unavailable") and a message for the
 * caller in *problem (NULL when ok). The caller learns no path: the details go to the log, once per change. */
static const char *database_health(ss_ctx *ctx, const char **problem)
{
	static char logged[SS_ERROR_MSG_MAX]; /* the detail last logged, so a polling balancer does not flood */
	ss_error err;
	ss_error_clear(&err);
	ss_code c = ctx->store != NULL ? ss_store_health(ctx->store, &err) : SS_ERR_UNAVAILABLE;
	if (c == SS_OK) {
		logged[0] = '\0';
		*problem = NULL;
		return "ok";
	}
	if (strcmp(logged, err.msg) != 0) {
		ss_log_error("health: %s", err.msg);
		snprintf(logged, sizeof logged, "%s", err.msg);
	}
	switch (c) {
	case SS_ERR_READ_ONLY:
		*problem = "The database is read-only.";
		return "read-only";
	case SS_ERR_STORAGE_FULL:
		*problem = "The database's file system is full.";
		return "full";
	case SS_ERR_BUSY:
		*problem = "The database is busy.";
		return "busy";
	default:
		if (ctx->store != NULL && ss_store_needs_restart(ctx->store)) {
			*problem = "The database file was overwritten while in use; the service needs a restart "
				   "(songscope-admin(1), RESTORE).";
			return "overwritten";
		}
		*problem = "The database is unavailable.";
		return "unavailable";
	}
}

int ss_handle_health(ss_ctx *ctx, ss_request *req)
{
	const char *problem = NULL;
	/* Name the component, never its path: /health answers anyone (the log has the path and the reason). */
	const char *dbstate = database_health(ctx, &problem);
	/* The limiter: this host's state file, and the shared backend (redis) when there is one. */
	bool limiter_ok = ss_auth_state_ready(ctx) && ss_limiter_probe(ctx->limiter);
	ss_state *hs = ctx->limiter != NULL ? ss_limiter_host_state(ctx->limiter) : NULL;
	const char *backend = ctx->limiter != NULL ? ss_limiter_backend(ctx->limiter) : ctx->cfg->limits;
	bool redis = strcmp(backend, "redis") == 0;
	bool state_ok = hs != NULL && ss_state_is_usable(hs);
	bool redis_ok = limiter_ok || !state_ok; /* a broken state file is not Redis's fault */
	if (problem == NULL && !limiter_ok)
		problem = redis && state_ok ? "The rate limiter's Redis server (rate limits, quotas) is unavailable."
					    : "The shared state file (rate limits, quotas) is unavailable.";
	/* After a rebuild (of a corrupted, truncated or broken file): when and why, for whoever watches. */
	char why[200], at[SS_TIME_STR_LEN];
	int64_t at_ns = 0;
	bool rebuilt = hs != NULL && ss_state_rebuild_info(hs, &at_ns, why, sizeof why);
	if (rebuilt)
		ss_time_format_utc((time_t)(at_ns / 1000000000LL), at);

	int64_t port = 0;
	const char *sp = ss_req_param(req, "SERVER_PORT");
	if (sp == NULL || ss_parse_i64(sp, 0, 65535, &port) != 0)
		port = 0;
	char now[SS_TIME_STR_LEN];
	ss_time_format_utc(time(NULL), now);
	double uptime = ss_time_now() - ctx->service_started_at;

	json_object *o = json_object_new_object();
	if (o == NULL || ss_json_add_bool(o, "running", 1) || ss_json_add_int(o, "port", port) ||
	    ss_json_add_string(o, "version", PACKAGE_VERSION) ||
	    ss_json_add_string(o, "status", problem ? "unhealthy" : "healthy") ||
	    ss_json_add_string(o, "server", "songscope") || ss_json_add_string(o, "timestamp", now) ||
	    ss_json_add_double(o, "uptime", uptime < 0 ? 0 : uptime) ||
	    (problem && (ss_json_add_string(o, "error", "unavailable") || ss_json_add_string(o, "message", problem)))) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	json_object *comps = json_object_new_object();
	if (comps == NULL || ss_json_add_string(comps, "database", dbstate) ||
	    (ctx->store != NULL && ss_json_add_string(comps, "database_backend", ss_store_backend(ctx->store))) ||
	    ss_json_add_string(comps, "limiter", limiter_ok ? "ok" : "unavailable") ||
	    (redis && ss_json_add_string(comps, "redis", redis_ok ? "ok" : "unavailable")) ||
	    json_object_object_add(o, "components", comps)) {
		json_object_put(comps);
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	if (rebuilt) {
		json_object *sf = json_object_new_object();
		if (sf == NULL || json_object_object_add(o, "state_file", sf) != 0 ||
		    ss_json_add_string(sf, "rebuilt_at", at) || ss_json_add_string(sf, "rebuilt_reason", why)) {
			if (json_object_object_get_ex(o, "state_file", NULL) == 0)
				json_object_put(sf);
			json_object_put(o);
			return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
		}
	}
	if (problem)
		ss_resp_add_header(req, "Retry-After", "5");
	int rc = ss_resp_json(req, problem ? 503 : 200, o);
	json_object_put(o);
	return rc;
}
