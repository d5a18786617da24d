/* Every endpoint handler. One file per resource group under fcgi/handlers/. */
#ifndef SS_FCGI_HANDLERS_H
#define SS_FCGI_HANDLERS_H

#include "fcgi/context.h"
#include "fcgi/request.h"

/* fcgi/handlers/health.c: GET /health (no key). 200 healthy, 503 when the database is unusable. */
int ss_handle_health(ss_ctx *ctx, ss_request *req);

/* fcgi/handlers/auth_info.c: GET /auth/key (client) describes the calling key (id, prefix, scope,
 * requests_today) without touching SQLite; GET /auth/usage (admin) lists today's per-key request totals. */
int ss_handle_auth_key(ss_ctx *ctx, ss_request *req);
int ss_handle_auth_usage(ss_ctx *ctx, ss_request *req);

#endif
