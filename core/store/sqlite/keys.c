/* API keys on SQLite: table api_keys (the SHA-256 of each key, never the key). */
#include "core/store/sqlite/sqlite.h"

#include <stdio.h>
#include <string.h>

#define KEY_COLS "id, key_hash, prefix, name, email, scope, active, daily_limit, rate_limit, created_at, last_used"
static const char SQL_INSERT[] =
	"INSERT INTO api_keys (key_hash, prefix, name, email, scope, active, daily_limit, rate_limit, created_at)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
	" COALESCE(strftime('%Y-%m-%d %H:%M:%S', ?9), strftime('%Y-%m-%d %H:%M:%S','now')))"
	" ON CONFLICT(key_hash) DO NOTHING RETURNING id";
static const char SQL_ID_BY_HASH[] = "SELECT id FROM api_keys WHERE key_hash = ?1";
static const char SQL_BY_HASH[] = "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = ?1";
static const char SQL_BY_ID[] = "SELECT " KEY_COLS " FROM api_keys WHERE id = ?1";
static const char SQL_BY_NAME[] = "SELECT " KEY_COLS " FROM api_keys WHERE name = ?1 ORDER BY id LIMIT 2";
static const char SQL_LIST[] = "SELECT " KEY_COLS " FROM api_keys ORDER BY id";
static const char SQL_ACTIVE[] = "UPDATE api_keys SET active = ?2 WHERE id = ?1";
static const char SQL_DAILY[] = "UPDATE api_keys SET daily_limit = ?2 WHERE id = ?1";
static const char SQL_RATE[] = "UPDATE api_keys SET rate_limit = ?2 WHERE id = ?1";
static const char SQL_SCOPE[] = "UPDATE api_keys SET scope = ?2 WHERE id = ?1";
static const char SQL_ROTATE[] = "UPDATE api_keys SET key_hash = ?2, prefix = ?3 WHERE id = ?1";
static const char SQL_DELETE[] = "DELETE FROM api_keys WHERE id = ?1";

#define SS_DB(s) (ss_sqlite_of(s)->db)

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

static void read_row(sqlite3_stmt *st, ss_key_record *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	const void *h = sqlite3_column_blob(st, 1);
	if (h != NULL && sqlite3_column_bytes(st, 1) == SS_APIKEY_HASH_LEN)
		memcpy(r->hash, h, SS_APIKEY_HASH_LEN);
	copy_text(r->prefix, sizeof r->prefix, st, 2);
	copy_text(r->name, sizeof r->name, st, 3);
	copy_text(r->email, sizeof r->email, st, 4);
	const unsigned char *sc = sqlite3_column_text(st, 5);
	r->scope = (sc != NULL && strcmp((const char *)sc, "admin") == 0) ? SS_KEY_ADMIN : SS_KEY_CLIENT;
	r->active = sqlite3_column_int(st, 6) != 0;
	r->daily_limit = sqlite3_column_int64(st, 7);
	r->rate_limit = sqlite3_column_int64(st, 8);
	copy_text(r->created_at, sizeof r->created_at, st, 9);
	copy_text(r->last_used, sizeof r->last_used, st, 10);
}

int ss_sqlite_key_insert(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
			 const ss_key_import *k, int64_t *id, ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_INSERT);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key insert");
	sqlite3_bind_blob(st, 1, hash, SS_APIKEY_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, k->name, -1, SQLITE_TRANSIENT);
	if (k->email != NULL && k->email[0] != '\0')
		sqlite3_bind_text(st, 4, k->email, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, ss_key_scope_name(k->scope), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, k->active ? 1 : 0);
	sqlite3_bind_int64(st, 7, k->daily_limit);
	sqlite3_bind_int64(st, 8, k->rate_limit);
	ss_sqlite_bind_text(st, 9, k->created_at);
	int rc = sqlite3_step(st);
	int out;
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
		out = 1;
	} else {
		out = 0;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return ss_sqlite_fail(db, err, "Cannot store the key");
	if (out == 1)
		return 1;
	st = ss_db_prepare(db, SQL_ID_BY_HASH);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key lookup");
	sqlite3_bind_blob(st, 1, hash, SS_APIKEY_HASH_LEN, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return ss_sqlite_fail(db, err, "Cannot find the existing key");
	return 0;
}

static int get_one(ss_db *db, sqlite3_stmt *st, ss_key_record *rec, ss_error *err)
{
	int rc = sqlite3_step(st);
	int out;
	if (rc == SQLITE_ROW) {
		read_row(st, rec);
		out = 1;
	} else if (rc == SQLITE_DONE) {
		out = 0;
	} else {
		out = ss_sqlite_fail(db, err, "Cannot read the API key");
	}
	sqlite3_reset(st);
	return out;
}

int ss_sqlite_key_find_by_hash(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec,
			       ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_BY_HASH);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key lookup");
	sqlite3_bind_blob(st, 1, hash, SS_APIKEY_HASH_LEN, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int out = 0;
	if (rc == SQLITE_ROW) {
		const void *stored = sqlite3_column_blob(st, 1);
		if (sqlite3_column_bytes(st, 1) == SS_APIKEY_HASH_LEN && stored != NULL &&
		    ss_apikey_hash_equal(stored, hash)) {
			read_row(st, rec);
			out = 1;
		}
	} else if (rc != SQLITE_DONE) {
		out = ss_sqlite_fail(db, err, "Cannot look up the API key");
	}
	sqlite3_reset(st);
	return out;
}

int ss_sqlite_key_find_by_name(ss_store *s, const char *name, ss_key_record *rec, ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_BY_NAME);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key lookup by name");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int out = 0, rc = SQLITE_DONE;
	while (out < 2 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out == 0)
			read_row(st, rec);
		out++;
	}
	if (out < 2 && rc != SQLITE_DONE)
		out = ss_sqlite_fail(db, err, "Cannot look up the API key by name");
	sqlite3_reset(st);
	return out;
}

int ss_sqlite_key_get(ss_store *s, int64_t id, ss_key_record *rec, ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_BY_ID);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key query");
	sqlite3_bind_int64(st, 1, id);
	return get_one(db, st, rec, err);
}

int ss_sqlite_key_list(ss_store *s, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_LIST);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key list");
	int rc;
	ss_key_record r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(st, &r);
		if (fn(arg, &r) != 0) {
			sqlite3_reset(st);
			return -2;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return ss_sqlite_fail(db, err, "Cannot list the API keys");
	return 0;
}

/* Run the prepared update st for id: 1 when a row changed, 0 when there is no such id, -1. */
static int update(ss_db *db, sqlite3_stmt *st, int64_t id, ss_error *err)
{
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return ss_sqlite_fail(db, err, "Cannot change the API key");
	return sqlite3_changes(ss_db_handle(db)) > 0 ? 1 : 0;
}

int ss_sqlite_key_set(ss_store *s, int64_t id, ss_key_field field, int64_t value, ss_error *err)
{
	ss_db *db = SS_DB(s);
	static const char *const sql[] = {SQL_ACTIVE, SQL_DAILY, SQL_RATE, SQL_SCOPE};
	sqlite3_stmt *st = ss_db_prepare(db, sql[field]);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key update");
	if (field == SS_KEY_FIELD_SCOPE)
		sqlite3_bind_text(st, 2, ss_key_scope_name((ss_key_scope)value), -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, value);
	return update(db, st, id, err);
}

int ss_sqlite_key_set_secret(ss_store *s, int64_t id, const unsigned char hash[SS_APIKEY_HASH_LEN],
			     const char *prefix, ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_ROTATE);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key rotation");
	sqlite3_bind_blob(st, 2, hash, SS_APIKEY_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, prefix, -1, SQLITE_TRANSIENT);
	return update(db, st, id, err);
}

int ss_sqlite_key_delete(ss_store *s, int64_t id, ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_DELETE);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "Cannot prepare the key delete");
	return update(db, st, id, err);
}
