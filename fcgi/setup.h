/* A responder's setup and teardown: everything in its context (fcgi/context.h), opened after fork in one
 * order and closed in the reverse one. */
#ifndef SS_FCGI_SETUP_H
#define SS_FCGI_SETUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/config/config.h"
#include "core/util/error.h"
#include "fcgi/context.h"

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

#endif
