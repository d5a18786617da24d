/* Every cache row in export order, read in one read transaction so that the count and the rows agree. */
#include "core/store/sqlite/sqlite.h"

#define EXPORT_ORDER " ORDER BY c.artist COLLATE NOCASE, c.title COLLATE NOCASE, c.id"

static const char SQL_EXPORT_NS[] =
	"SELECT " SS_SQLITE_ROW_COLS("NULL") SS_SQLITE_ROW_FROM " WHERE c.cache_namespace = ?1" EXPORT_ORDER;
static const char SQL_EXPORT_ALL[] = "SELECT " SS_SQLITE_ROW_COLS("NULL") SS_SQLITE_ROW_FROM EXPORT_ORDER;
static const char SQL_EXPORT_BEATS_NS[] =
	"SELECT " SS_SQLITE_ROW_COLS("c.beats_json") SS_SQLITE_ROW_FROM " WHERE c.cache_namespace = ?1" EXPORT_ORDER;
static const char SQL_EXPORT_BEATS_ALL[] = "SELECT " SS_SQLITE_ROW_COLS("c.beats_json") SS_SQLITE_ROW_FROM EXPORT_ORDER;
static const char SQL_COUNT_NS[] = "SELECT count(*) FROM analysis_cache WHERE cache_namespace = ?1";
static const char SQL_COUNT_ALL[] = "SELECT count(*) FROM analysis_cache";

int ss_sqlite_cache_export(ss_store *s, const char *ns, unsigned flags, int (*total)(void *arg, long long rows),
			   ss_cache_row_fn fn, void *arg, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	bool beats = (flags & SS_CACHE_ROW_BEATS) != 0;
	/* Inside a caller's transaction (db copy) the rows are read in that one; else in a read transaction. */
	bool own = sqlite3_get_autocommit(ss_db_handle(db)) != 0;
	if (own && ss_db_exec(db, "BEGIN", err) != 0)
		return -1;
	int rc = -1;
	sqlite3_stmt *cnt = ss_db_prepare(db, ns ? SQL_COUNT_NS : SQL_COUNT_ALL);
	if (cnt == NULL) {
		ss_sqlite_fail(db, err, "preparing export");
		goto out;
	}
	if (ns)
		sqlite3_bind_text(cnt, 1, ns, -1, SQLITE_STATIC);
	if (sqlite3_step(cnt) != SQLITE_ROW) {
		ss_sqlite_fail(db, err, "counting rows");
		sqlite3_reset(cnt);
		goto out;
	}
	long long n = sqlite3_column_int64(cnt, 0);
	sqlite3_reset(cnt);
	if (total != NULL && total(arg, n) != 0) {
		rc = -2;
		goto out;
	}
	const char *sql = beats ? (ns ? SQL_EXPORT_BEATS_NS : SQL_EXPORT_BEATS_ALL) : (ns ? SQL_EXPORT_NS : SQL_EXPORT_ALL);
	sqlite3_stmt *st = ss_db_prepare(db, sql);
	if (st == NULL) {
		ss_sqlite_fail(db, err, "preparing export");
		goto out;
	}
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	rc = ss_sqlite_each_row(db, st, fn, arg, err);
	sqlite3_clear_bindings(st);
out:
	if (own)
		ss_db_exec(db, "COMMIT", NULL);
	return rc;
}
