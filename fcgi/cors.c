#include "fcgi/cors.h"

#include <assert.h>

#include "core/net/origin.h"
#include "fcgi/response.h"

static const char *listed_origin(const ss_ctx *ctx, const ss_request *req)
{
	const char *origin = ss_req_header(req, "Origin");
	return ss_origin_list_contains(ctx->cfg->cors_origins, origin) ? origin : NULL;
}

void ss_cors_headers(const ss_ctx *ctx, ss_request *req)
{
	if (ctx->cfg->cors_origins[0] == '\0')
		return;
	ss_resp_add_header(req, "Vary", "Origin");
	const char *origin = listed_origin(ctx, req);
	if (origin == NULL)
		return;
	ss_resp_add_header(req, "Access-Control-Allow-Origin", "%s", origin);
	ss_resp_add_header(req, "Access-Control-Expose-Headers", "%s", SS_CORS_EXPOSE_HEADERS);
}

bool ss_cors_is_preflight(const ss_ctx *ctx, const ss_request *req)
{
	return req->method == SS_M_OPTIONS && ss_req_header(req, "Access-Control-Request-Method") != NULL &&
	       listed_origin(ctx, req) != NULL;
}

int ss_cors_preflight(ss_request *req, unsigned allowed)
{
	char methods[128];
	assert(allowed != 0);
	ss_req_method_list(allowed, methods, sizeof methods);
	if (ss_resp_add_header(req, "Access-Control-Allow-Methods", "%s", methods) != 0 ||
	    ss_resp_add_header(req, "Access-Control-Allow-Headers", "%s", SS_CORS_ALLOW_HEADERS) != 0 ||
	    ss_resp_add_header(req, "Access-Control-Max-Age", "%d", SS_CORS_MAX_AGE) != 0 ||
	    ss_resp_add_header(req, "Content-Length", "0") != 0)
		return -1;
	return ss_resp_begin(req, 204, "text/plain");
}
