#include "fcgi/context.h"

#include <stdio.h>

#include "core/util/log.h"
#include "core/util/timefmt.h"

int ss_ctx_db_ready(ss_ctx *ctx)
{
	if (ctx->db != NULL)
		return 0;
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
