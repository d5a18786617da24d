/* Statistics kept in the SQLite file: the server_stats baseline (earlier versions' counts, and what
 * import-legacy added) and legacy_imports, what each original database already contributed. */
#include "core/store/sqlite/sqlite.h"

#include <stdio.h>
#include <string.h>

static const char SQL_BASELINE[] =
	"SELECT total_analyses, cache_hits, cache_misses, requests_served, last_updated FROM server_stats WHERE id = 1";

int ss_sqlite_stats_baseline(ss_store *s, ss_stats_baseline *out, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_BASELINE);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing the statistics");
	int rc = sqlite3_step(st), found = 0;
	if (rc == SQLITE_ROW) {
		out->analyses = sqlite3_column_int64(st, 0);
		out->hits = sqlite3_column_int64(st, 1);
		out->misses = sqlite3_column_int64(st, 2);
		out->requests = sqlite3_column_int64(st, 3);
		const char *t = ss_sqlite_col_text(st, 4);
		snprintf(out->last_updated, sizeof out->last_updated, "%s", t != NULL ? t : "");
		found = 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ss_sqlite_fail(db, err, "reading the statistics");
	return found;
}

static const char SQL_GET[] = "SELECT total_analyses, cache_hits, cache_misses FROM legacy_imports WHERE signature = ?1";
static const char SQL_PUT[] =
	"INSERT INTO legacy_imports(signature, total_analyses, cache_hits, cache_misses) VALUES (?1,?2,?3,?4)"
	" ON CONFLICT(signature) DO UPDATE SET total_analyses = excluded.total_analyses,"
	" cache_hits = excluded.cache_hits, cache_misses = excluded.cache_misses,"
	" imported_at = strftime('%Y-%m-%d %H:%M:%S','now')";
static const char SQL_ADD[] =
	"UPDATE server_stats SET total_analyses = total_analyses + ?1, cache_hits = cache_hits + ?2,"
	" cache_misses = cache_misses + ?3, requests_served = requests_served + ?2 + ?3 WHERE id = 1";

int ss_sqlite_legacy_stats_add(ss_store *s, const char *signature, const int64_t now[3], int64_t added[3],
			       ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	int64_t before[3] = {0, 0, 0};
	added[0] = added[1] = added[2] = 0;
	sqlite3_stmt *g = ss_db_prepare(db, SQL_GET);
	if (g == NULL)
		return ss_sqlite_fail(db, err, "preparing the import record");
	sqlite3_bind_text(g, 1, signature, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(g);
	if (rc == SQLITE_ROW)
		for (int i = 0; i < 3; i++)
			before[i] = sqlite3_column_int64(g, i);
	sqlite3_reset(g);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ss_sqlite_fail(db, err, "reading the import record");
	bool any = false;
	for (int i = 0; i < 3; i++) {
		added[i] = now[i] > before[i] ? now[i] - before[i] : 0;
		any = any || added[i] > 0 || now[i] != before[i];
	}
	if (!any && rc == SQLITE_ROW)
		return 0;
	sqlite3_stmt *m = ss_db_prepare(db, SQL_PUT);
	if (m == NULL)
		return ss_sqlite_fail(db, err, "preparing the import record");
	sqlite3_bind_text(m, 1, signature, -1, SQLITE_TRANSIENT);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(m, i + 2, now[i]);
	rc = sqlite3_step(m);
	sqlite3_reset(m);
	if (rc != SQLITE_DONE)
		return ss_sqlite_fail(db, err, "recording the import");
	sqlite3_stmt *u = ss_db_prepare(db, SQL_ADD);
	if (u == NULL)
		return ss_sqlite_fail(db, err, "preparing the stats update");
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(u, i + 1, added[i]);
	rc = sqlite3_step(u);
	sqlite3_reset(u);
	if (rc != SQLITE_DONE)
		return ss_sqlite_fail(db, err, "adding the statistics");
	return 1;
}
