/* What one responder process owns: opened after fork, used by every handler, closed at exit. */
#ifndef SS_FCGI_CONTEXT_H
#define SS_FCGI_CONTEXT_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/config/config.h"
#include "core/store/db.h"

struct ss_limiter;
struct ss_keycache;
struct ss_fetcher;
struct ss_stats;
struct ss_admission;

typedef struct ss_ctx {
	const ss_config *cfg;
	const char *config_path;    /* file the config came from, or NULL for built-in defaults */
	ss_db *db;                  /* NULL while the database cannot be opened (/health answers 503) */
	double db_retry_at;         /* monotonic time of the next reopen attempt */
	char db_error[SS_ERROR_MSG_MAX];
	bool db_seen;               /* a database was open once: never create an empty one in its place */
	bool db_checked;            /* the file checks passed in the request in progress (cleared before and after) */
	struct ss_limiter *limiter; /* limits, quotas, key invalidation (+ this host's state file: counters) */
	struct ss_keycache *keys;   /* per-responder API key cache */
	struct ss_fetcher *fetch;   /* URL fetcher (one curl handle) */
	double service_started_at;  /* realtime when the service (master) started, for uptime */
	unsigned long served;       /* requests this responder has served */
	bool own_master;            /* our own master supervises this responder (POST /shutdown works) */
	pid_t master_pid;
	/* API objects, opened after fork by ss_handlers_open (fcgi/handlers.h) */
	struct ss_stats *stats;     /* shared service counters */
	struct ss_admission *adm;   /* analysis admission control */
} ss_ctx;

/* Make sure ctx->db is open and still the file at the configured path, retrying a failed open at most once
 * a second, or at once when the file changed since (restored, repaired, replaced). The file checks (a read
 * of the on-disk header and one stat()) run at the first call of each request (ctx->db_checked) and at every
 * call between requests; later calls in the same request cost nothing unless the connection reported an
 * error. A file deleted while open is restored from this connection (ss_db_restore) and reopened; a file
 * replaced on disk, or a connection that hit corruption or an I/O error, is reopened. Every such event is
 * logged. Returns 0 when usable, -1 otherwise (ctx->db_error says why).
 * May close and reopen ctx->db: never keep statements of it across a call. */
int ss_ctx_db_ready(ss_ctx *ctx);

#endif
