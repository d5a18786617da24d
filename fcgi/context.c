#include "fcgi/context.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util/log.h"
#include "core/util/timefmt.h"

/* The open connection no longer matches the file at the path, or failed in a way that needs a new one.
 * Returns 0 after closing it (the caller reopens), -1 when it must stay open (the file is gone and could
 * not be restored: the connection holds the only copy, so it is kept and requests are refused). */
static int drop_connection(ss_ctx *ctx, ss_db_file_state f)
{
	const char *path = ctx->cfg->database;
	ss_error err;
	ss_error_clear(&err);
	if (f == SS_DB_FILE_MISSING) {
		/* A failed restore is retried at most once a second. */
		static double restore_retry_at;
		double now = ss_time_mono();
		if (now < restore_retry_at)
			return -1;
		restore_retry_at = now + 1.0;
		ss_log_error("database %s was deleted while in use; restoring it from this responder's open connection",
			     path);
		int r = ss_db_restore(ctx->db, &err);
		if (r < 0) {
			ss_log_error("database %s could not be restored (requests are refused until it is): %s", path,
				     err.msg);
			snprintf(ctx->db_error, sizeof ctx->db_error, "The database %.200s was deleted and could not be restored.",
				 path);
			return -1;
		}
		if (r > 0)
			ss_log_warn("database %s restored from the open connection; reopening it", path);
		else
			ss_log_warn("database %s was put back by another process; reopening it", path);
	} else if (f == SS_DB_FILE_REPLACED) {
		ss_log_warn("database %s was replaced on disk; reopening it", path);
	} else {
		ss_log_error("database %s failed (%s); reopening it", path, ss_db_errmsg(ctx->db));
	}
	ss_db_close(ctx->db);
	ctx->db = NULL;
	ctx->db_retry_at = 0;
	snprintf(ctx->db_error, sizeof ctx->db_error, "The database %.200s is being reopened.", path);
	return 0;
}

/* The file at the path when an open last failed: a change to it (restored, repaired, replaced) is worth a
 * new attempt at once rather than after the once-a-second pause. */
static struct {
	bool valid, exists;
	struct stat st;
} failed_on;

static void note_failed_file(const char *path)
{
	failed_on.valid = true;
	failed_on.exists = stat(path, &failed_on.st) == 0;
}

static bool file_changed_since_failure(const char *path)
{
	if (!failed_on.valid)
		return false;
	struct stat st;
	bool exists = stat(path, &st) == 0;
	if (exists != failed_on.exists)
		return true;
	if (!exists)
		return false;
	return st.st_dev != failed_on.st.st_dev || st.st_ino != failed_on.st.st_ino || st.st_size != failed_on.st.st_size ||
	       st.st_mtim.tv_sec != failed_on.st.st_mtim.tv_sec || st.st_mtim.tv_nsec != failed_on.st.st_mtim.tv_nsec ||
	       st.st_ctim.tv_sec != failed_on.st.st_ctim.tv_sec || st.st_ctim.tv_nsec != failed_on.st.st_ctim.tv_nsec;
}

int ss_ctx_db_ready(ss_ctx *ctx)
{
	/* The on-disk checks (a header read and a stat) run once per request: handlers, auth and the usage
	 * flush may each ask within one request, and the file does not change identity between their calls
	 * often enough to pay for the system calls again. A connection that reported an error is still dropped
	 * at once. */
	if (ctx->db != NULL && ctx->db_checked && !ss_db_needs_reopen(ctx->db))
		return 0;
	if (ctx->db != NULL && ss_db_overwritten(ctx->db)) {
		/* Not reopened: the -wal and -shm next to it belong to the old content and would be replayed into
		 * the new one. Unavailable (503, /health says so) until the service is restarted properly. */
		if (strstr(ctx->db_error, "overwritten while in use") == NULL) {
			snprintf(ctx->db_error, sizeof ctx->db_error,
				 "database %.120s was overwritten while in use (a copy written over the live file?); stop the "
				 "service, remove its -wal and -shm, then start it",
				 ctx->cfg->database);
			ss_log_error("%s", ctx->db_error);
		}
		return -1;
	}
	if (ctx->db != NULL) {
		ss_db_file_state f = ss_db_file_check(ctx->db);
		if (f == SS_DB_FILE_SAME && !ss_db_needs_reopen(ctx->db)) {
			ctx->db_checked = true;
			return 0;
		}
		if (drop_connection(ctx, f) != 0)
			return -1;
	}
	double now = ss_time_mono();
	if (now < ctx->db_retry_at && !file_changed_since_failure(ctx->cfg->database))
		return -1;
	ctx->db_retry_at = now + 1.0;
	ss_error err;
	ss_error_clear(&err);
	if (ss_db_open_flags(ctx->cfg->database, ctx->db_seen ? SS_DB_NO_CREATE : 0, &ctx->db, &err) != 0) {
		note_failed_file(ctx->cfg->database);
		if (ctx->db_error[0] == '\0' || strstr(ctx->db_error, "being reopened") != NULL)
			ss_log_error("%s", err.msg);
		snprintf(ctx->db_error, sizeof ctx->db_error, "%s", err.msg);
		return -1;
	}
	ctx->db_seen = true;
	ctx->db_checked = true;
	failed_on.valid = false;
	ss_db_set_busy_timeout(ctx->db, ctx->cfg->database_busy_timeout_ms);
	if (ss_db_is_readonly(ctx->db))
		ss_log_warn("database %s is open read-only (file, directory or file system not writable): reads are "
			    "served, writes answer 503 read_only",
			    ctx->cfg->database);
	if (ctx->db_error[0] != '\0')
		ss_log_info("database %s is usable again", ctx->cfg->database);
	ctx->db_error[0] = '\0';
	return 0;
}
