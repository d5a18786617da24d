/* Manual overrides on SQLite: table overrides, keyed by (cache_namespace, source). */
#include "core/store/sqlite/sqlite.h"

#include <assert.h>
#include <math.h>

static const char SQL_UPSERT[] =
	"INSERT INTO overrides(cache_namespace, source, manual_bpm, manual_key, bpm_notes) VALUES (?1,?2,?3,?4,?5)"
	" ON CONFLICT(cache_namespace, source) DO UPDATE SET"
	" manual_bpm = CASE WHEN ?6 THEN excluded.manual_bpm ELSE manual_bpm END,"
	" manual_key = CASE WHEN ?7 THEN excluded.manual_key ELSE manual_key END,"
	" bpm_notes = CASE WHEN ?8 THEN excluded.bpm_notes ELSE bpm_notes END,"
	" verified_at = strftime('%Y-%m-%d %H:%M:%S','now')";

int ss_sqlite_override_set(ss_store *s, const char *ns, const char *source, const ss_override_update *u,
			   ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	if (ss_db_begin(db, err) != 0)
		return -1;
	int has = ss_sqlite_cache_has_source(s, ns, source, err);
	if (has <= 0) {
		ss_db_rollback(db);
		return has;
	}
	sqlite3_stmt *st = ss_db_prepare(db, SQL_UPSERT);
	if (st == NULL) {
		ss_db_rollback(db);
		return ss_error_set(err, ss_db_fault(db), "database: preparing override: %s", ss_db_errmsg(db));
	}
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	if (u->set_bpm && isfinite(u->bpm))
		sqlite3_bind_double(st, 3, u->bpm);
	if (u->set_key && u->key != NULL)
		sqlite3_bind_text(st, 4, u->key, -1, SQLITE_STATIC);
	if (u->set_notes && u->notes != NULL)
		sqlite3_bind_text(st, 5, u->notes, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, u->set_bpm);
	sqlite3_bind_int(st, 7, u->set_key);
	sqlite3_bind_int(st, 8, u->set_notes);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		ss_error_set(err, ss_db_fault(db), "database: storing override: %s", ss_db_errmsg(db));
		ss_db_rollback(db);
		return -1;
	}
	if (ss_db_commit(db, err) != 0) {
		ss_db_rollback(db);
		return -1;
	}
	return 1;
}

static const char SQL_IMPORT[] =
	"INSERT INTO overrides(cache_namespace, source, manual_bpm, manual_key, bpm_notes, verified_at)"
	" VALUES (?1,?2,?3,?4,?5,"
	" COALESCE(strftime('%Y-%m-%d %H:%M:%S', ?6), strftime('%Y-%m-%d %H:%M:%S','now')))"
	" ON CONFLICT(cache_namespace, source) DO NOTHING";

int ss_sqlite_override_import(ss_store *s, const char *ns, const char *source, double bpm, const char *key,
			      const char *notes, const char *verified_at, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	assert(!sqlite3_get_autocommit(ss_db_handle(db))); /* the caller's transaction is open */
	sqlite3_stmt *st = ss_db_prepare(db, SQL_IMPORT);
	if (st == NULL)
		return ss_error_set(err, SS_ERR_DB, "database: preparing override import: %s", ss_db_errmsg(db));
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	if (isfinite(bpm))
		sqlite3_bind_double(st, 3, bpm);
	if (key != NULL)
		sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
	if (notes != NULL)
		sqlite3_bind_text(st, 5, notes, -1, SQLITE_STATIC);
	if (verified_at != NULL)
		sqlite3_bind_text(st, 6, verified_at, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return ss_error_set(err, SS_ERR_DB, "database: importing an override: %s", ss_db_errmsg(db));
	return sqlite3_changes(ss_db_handle(db)) > 0 ? 1 : 0;
}

static const char SQL_LIST[] =
	"SELECT cache_namespace, source, manual_bpm, manual_key, bpm_notes, verified_at FROM overrides"
	" ORDER BY cache_namespace, source";

long long ss_sqlite_override_list(ss_store *s, int (*fn)(void *arg, const ss_override_row *o), void *arg,
				  ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	sqlite3_stmt *st = ss_db_prepare(db, SQL_LIST);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing the override list");
	long long n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ss_override_row o = {.ns = ss_sqlite_col_text(st, 0), .source = ss_sqlite_col_text(st, 1),
				     .manual_bpm = ss_sqlite_col_num(st, 2), .manual_key = ss_sqlite_col_text(st, 3),
				     .notes = ss_sqlite_col_text(st, 4), .verified_at = ss_sqlite_col_text(st, 5)};
		if (fn(arg, &o) != 0) {
			sqlite3_reset(st);
			return -2;
		}
		n++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? n : ss_sqlite_fail(db, err, "listing the overrides");
}
