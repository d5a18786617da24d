/* Authorisation of one request against its route's scope, and what it needs in each responder: the
 * shared state file (limits, quotas, counters), the key cache and the batched usage log. */
#ifndef SS_FCGI_AUTH_H
#define SS_FCGI_AUTH_H

#include <stdbool.h>

#include "fcgi/context.h"
#include "fcgi/request.h"
#include "fcgi/router.h"

/* Decide whether req may use a route of `scope`. The key is X-API-Key, else `Authorization: Bearer KEY`; a
 * request without one from anonymous_networks to a client-scope route acts as the key named anonymous_key
 * (its limits and usage; refused as without a key when that key is missing or inactive); /metrics from
 * metrics_allow needs none. On success returns 0 (req->key_id/key_scope set when a key was used). Otherwise sends the JSON error (401 missing_api_key, 403 invalid_api_key or forbidden, 429,
 * 503 when the key store is unusable) and returns 1. Returns -1 on a write error. */
int ss_auth_authorize(ss_ctx *ctx, ss_request *req, ss_scope scope);

/* Called after the handler answered: records usage for authenticated requests. Never fails the request. */
void ss_auth_finish(ss_ctx *ctx, ss_request *req);

/* In a freshly forked responder (after the database was tried): open the limiter into ctx->limiter (with this
 * host's state file, registering this responder; a newly built file, or a day Redis has no counts for, is
 * seeded with today's counts from api_usage) and,
 * with auth = required, the key cache into ctx->keys. Logs a warning when auth = off. Returns 0, or -1
 * when the state file cannot be opened (logged; keyed requests then get 503 until a later retry works). */
int ss_auth_open(ss_ctx *ctx);

/* Before any responder runs (the master, still root, about to drop privileges): open the state file once,
 * building and seeding it from ctx->store when missing or unusable, and close it. Returns 0, or -1 (logged). */
int ss_auth_create_state(ss_ctx *ctx);

/* Is the limiter usable: this host's state file open and current (reopened when it was replaced or broke, at
 * most once a second after a failure) and the limiter's backend reachable (redis: connected; reconnecting at
 * most every 250 ms)? Transitions are logged. */
bool ss_auth_state_ready(ss_ctx *ctx);

/* This host's state file (responder registry, named counters, lock health), reopened when needed and with
 * this responder registered in it, or NULL while it cannot be opened. Owned by ctx->limiter. */
struct ss_state *ss_auth_host_state(ss_ctx *ctx);

/* After every request, and when the time it returned last has passed while idle: the limiter's notes are logged,
 * and a state file this responder found broken while serving is reopened (rebuilt) now, not by its next
 * request (which may be long in coming); while it cannot be opened, reopening is retried when due. Cheap when
 * nothing happened (no system call). Returns the seconds until it wants to be called again, or -1. */
double ss_auth_between_requests(ss_ctx *ctx);

/* Seconds until the pending usage rows are due to be written (0 = now), or -1 when none are pending. */
double ss_auth_flush_due_in(const ss_ctx *ctx);

/* Write pending usage rows if due, or all of them when force. Never fails (errors are logged). */
void ss_auth_flush(ss_ctx *ctx, bool force);

/* Write all pending usage rows, then close the key cache and the state file. Safe to call twice. */
void ss_auth_close(ss_ctx *ctx);

#endif
