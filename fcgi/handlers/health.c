#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "core/util/jsonutil.h"
#include "core/util/strnum.h"
#include "core/util/timefmt.h"
#include "fcgi/auth.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"

/* The database as a request needs it: open, the file at the path, readable, writable. Returns the
 * component's word for /health ("ok", "read-only", "full", "unavailable") and fills problem when not ok. */
static const char *database_health(ss_ctx *ctx, char *problem, size_t len)
{
	if (ss_ctx_db_ready(ctx) != 0) {
		snprintf(problem, len, "The database is unavailable: %s", ctx->db_error);
		return "unavailable";
	}
	ss_error err;
	ss_error_clear(&err);
	ss_code c = ss_db_probe(ctx->db, &err);
	if (c == SS_OK)
		return "ok";
	snprintf(problem, len, "%s", err.msg);
	if (ss_db_needs_reopen(ctx->db))
		ss_ctx_db_ready(ctx); /* start the reopen now rather than on the next request */
	return c == SS_ERR_READ_ONLY ? "read-only" : c == SS_ERR_STORAGE_FULL ? "full" : c == SS_ERR_BUSY ? "busy"
												     : "unavailable";
}

int ss_handle_health(ss_ctx *ctx, ss_request *req)
{
	char dbproblem[SS_ERROR_MSG_MAX + 64] = "";
	const char *dbstate = database_health(ctx, dbproblem, sizeof dbproblem);
	const char *problem = NULL;
	if (dbproblem[0] != '\0')
		problem = dbproblem;
	else if (!ss_auth_state_ready(ctx))
		problem = "The shared state file is unavailable.";

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
	    json_object_object_add(o, "components", comps)) {
		json_object_put(comps);
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	if (problem)
		ss_resp_add_header(req, "Retry-After", "5");
	int rc = ss_resp_json(req, problem ? 503 : 200, o);
	json_object_put(o);
	return rc;
}
