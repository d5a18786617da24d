#include "fcgi/context.h"

#include <stdio.h>

#include "core/util/log.h"
#include "core/util/timefmt.h"

int ss_ctx_db_ready(ss_ctx *ctx)
{
	if (ctx->db != NULL && !ss_db_overwritten(ctx->db))
		return 0;
	if (ctx->db != NULL) {
		/* Not reopened: the -wal and -shm next to it belong to the old content and would be replayed into
		 * the new one. Unavailable (503, /health says so) until the service is restarted properly. */
		if (ctx->db_error[0] == '\0') {
			snprintf(ctx->db_error, sizeof ctx->db_error,
				 "database %.120s was overwritten while in use (a copy written over the live file?); stop the "
				 "service, remove its -wal and -shm, then start it",
				 ctx->cfg->database);
			ss_log_error("%s", ctx->db_error);
		}
		return -1;
	}
	double now = ss_time_mono();
	if (now < ctx->db_retry_at)
		return -1;
	ctx->db_retry_at = now + 1.0;
	ss_error err;
	ss_error_clear(&err);
	if (ss_db_open(ctx->cfg->database, &ctx->db, &err) != 0) {
		if (ctx->db_error[0] == '\0')
			ss_log_error("%s", err.msg);
		snprintf(ctx->db_error, sizeof ctx->db_error, "%s", err.msg);
		return -1;
	}
	if (ctx->db_error[0] != '\0')
		ss_log_info("database %s is usable again", ctx->cfg->database);
	ctx->db_error[0] = '\0';
	return 0;
}
