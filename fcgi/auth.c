#include "fcgi/auth.h"

#include "fcgi/response.h"

int ss_auth_authorize(ss_ctx *ctx, ss_request *req, ss_scope scope)
{
	if (scope == SS_SCOPE_NONE || ctx->cfg->auth == SS_AUTH_OFF)
		return 0;
	const char *key = ss_req_header(req, "X-API-Key");
	if (key == NULL || key[0] == '\0')
		return ss_resp_error(req, SS_ERR_MISSING_KEY, "An API key is required: send it in the X-API-Key header.") ? -1 : 1;
	/* No key store in this build yet: every key is unknown. */
	return ss_resp_error(req, SS_ERR_INVALID_KEY, "The API key is not valid.") ? -1 : 1;
}

void ss_auth_finish(ss_ctx *ctx, ss_request *req)
{
	(void)ctx;
	(void)req;
}
