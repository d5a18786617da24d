/* songscope-admin db backup FILE: an online, consistent copy of the database (SQLite stores only: it works on
 * the file; a server-backed store is backed up with that server's tools).
 * The copy is taken with SQLite's backup API from one read snapshot (responders keep writing meanwhile: in WAL
 * mode a reader does not block writers), into a temporary file next to FILE (mode 0600), switched to a
 * self-contained rollback journal, stamped with a fresh application_id (so a running service can tell when
 * this copy is put over its live database), checked with quick_check, fsynced and renamed into place. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/store/sqlite/sqlite.h"
#include "tools/admin/admin.h"

#define PAGES_PER_STEP 1024

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "songscope-admin: db backup: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return EXIT_FAIL;
}

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static long long count(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	long long n = -1;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Copy src into the file at tmp. Returns 0 or -1 with a message printed. */
static int copy_into(sqlite3 *src, const char *tmp)
{
	sqlite3 *dst = NULL;
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fail("cannot open %s: %s", tmp, dst ? sqlite3_errmsg(dst) : "out of memory");
		sqlite3_close(dst);
		return -1;
	}
	/* One read transaction on the source for the whole copy: every step reads the same snapshot, so the
	 * copy is consistent and never restarts however busy the writers are. */
	int rc = sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_master;", NULL, NULL, NULL);
	sqlite3_backup *b = rc == SQLITE_OK ? sqlite3_backup_init(dst, "main", src, "main") : NULL;
	if (b == NULL) {
		fail("cannot start: %s", rc == SQLITE_OK ? sqlite3_errmsg(dst) : sqlite3_errmsg(src));
		sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(dst);
		return -1;
	}
	do {
		rc = sqlite3_backup_step(b, PAGES_PER_STEP);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(20);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	int frc = sqlite3_backup_finish(b);
	sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_DONE || frc != SQLITE_OK) {
		fail("copy failed: %s", sqlite3_errstr(rc != SQLITE_DONE ? rc : frc));
		sqlite3_close(dst);
		return -1;
	}
	/* A single self-contained file (no -wal to carry along), stamped as a songscope backup. */
	uint32_t stamp = randombytes_uniform(0x7ffffffe) + 1;
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA journal_mode = DELETE; PRAGMA application_id = %u;", (unsigned)stamp);
	char *msg = NULL;
	if (sqlite3_exec(dst, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fail("cannot finish the copy: %s", msg ? msg : sqlite3_errmsg(dst));
		sqlite3_free(msg);
		sqlite3_close(dst);
		return -1;
	}
	sqlite3_stmt *st;
	const char *res = NULL;
	rc = sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		res = (const char *)sqlite3_column_text(st, 0);
	int ok = res != NULL && strcmp(res, "ok") == 0;
	if (!ok)
		fail("the copy fails quick_check: %s", res ? res : sqlite3_errmsg(dst));
	if (rc == SQLITE_OK)
		sqlite3_finalize(st);
	if (ok) {
		printf("rows: %lld cached songs, %lld overrides, %lld API keys, %lld usage rows\n",
		       count(dst, "SELECT count(*) FROM analysis_cache"), count(dst, "SELECT count(*) FROM overrides"),
		       count(dst, "SELECT count(*) FROM api_keys"), count(dst, "SELECT count(*) FROM api_usage"));
	}
	if (sqlite3_close(dst) != SQLITE_OK && ok)
		ok = !fail("cannot close %s", tmp);
	return ok ? 0 : -1;
}

int admin_cmd_db_backup(const admin_opts *o, ss_store *db)
{
	if (o->npos != 3)
		return admin_usage_error("%s", "db backup needs exactly one FILE");
	const char *dest = o->pos[2];
	struct stat sb;
	if (lstat(dest, &sb) == 0 && !o->force)
		return fail("%s exists (give --force to replace it)", dest);
	if (lstat(dest, &sb) == 0 && !S_ISREG(sb.st_mode))
		return fail("%s exists and is not a regular file", dest);
	ss_db *sdb = ss_sqlite_db(db);
	if (sdb == NULL)
		return fail("db backup copies an SQLite database; this store is %s (use that server's own backup tools)",
			    ss_store_backend(db));
	char live[PATH_MAX];
	if (realpath(ss_db_path(sdb), live) != NULL) {
		char target[PATH_MAX];
		if (realpath(dest, target) != NULL && strcmp(live, target) == 0)
			return fail("%s is the live database itself", dest);
	}

	size_t n = strlen(dest);
	char *tmp = malloc(n + 16), *dircopy = strdup(dest);
	if (tmp == NULL || dircopy == NULL) {
		free(tmp);
		free(dircopy);
		return fail("out of memory%s", "");
	}
	snprintf(tmp, n + 16, "%s.tmp-XXXXXX", dest);
	int fd = mkstemp(tmp); /* mode 0600, whatever the umask */
	if (fd < 0) {
		int e = errno;
		free(tmp);
		free(dircopy);
		return fail("cannot create a file next to %s: %s", dest, strerror(e));
	}
	close(fd);
	int rc = copy_into(ss_db_handle(sdb), tmp);
	if (rc == 0 && fsync_path(tmp, false) != 0)
		rc = fail("cannot fsync %s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, dest) != 0)
		rc = fail("cannot rename the copy to %s: %s", dest, strerror(errno));
	if (rc != 0) {
		unlink(tmp);
		free(tmp);
		free(dircopy);
		return EXIT_FAIL;
	}
	fsync_path(dirname(dircopy), true);
	free(tmp);
	free(dircopy);
	if (stat(dest, &sb) != 0)
		return fail("%s vanished after the rename: %s", dest, strerror(errno));
	printf("backup: %s, %lld bytes, quick_check ok\n", dest, (long long)sb.st_size);
	return 0;
}
