/* Authorisation of one request against its route's scope. */
#ifndef SS_FCGI_AUTH_H
#define SS_FCGI_AUTH_H

#include "fcgi/context.h"
#include "fcgi/request.h"
#include "fcgi/router.h"

/* Decide whether req may use a route of `scope`. On success returns 0 (req->key_id/key_scope set when a key
 * was used). Otherwise sends the JSON error (401 missing_api_key, 403 invalid_api_key or forbidden, 429,
 * 503 when the key store is unusable) and returns 1. Returns -1 on a write error. */
int ss_auth_authorize(ss_ctx *ctx, ss_request *req, ss_scope scope);

/* Called after the handler answered: records usage for authenticated requests. Never fails the request. */
void ss_auth_finish(ss_ctx *ctx, ss_request *req);

#endif
