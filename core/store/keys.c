#include "core/store/keys.h"

#include <stdio.h>
#include <string.h>

static const char SQL_INSERT[] =
	"INSERT INTO api_keys (key_hash, prefix, name, email, scope, active, daily_limit, rate_limit)"
	" VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)";
#define KEY_COLS "id, key_hash, prefix, name, email, scope, active, daily_limit, rate_limit, created_at, last_used"
static const char SQL_IMPORT[] =
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

const char *ss_key_scope_name(ss_key_scope s)
{
	return s == SS_KEY_ADMIN ? "admin" : "client";
}

int ss_key_scope_parse(const char *s, ss_key_scope *out)
{
	if (s != NULL && strcmp(s, "client") == 0)
		*out = SS_KEY_CLIENT;
	else if (s != NULL && strcmp(s, "admin") == 0)
		*out = SS_KEY_ADMIN;
	else
		return -1;
	return 0;
}

static int db_fail(ss_db *db, ss_error *err, const char *what)
{
	return ss_error_set(err, ss_db_fault(db), "%s: %s", what, ss_db_errmsg(db));
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

static void read_row(sqlite3_stmt *st, ss_key_record *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
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

static int check_fields(const char *name, const char *email, int64_t daily, int64_t rate, ss_error *err)
{
	if (name == NULL || name[0] == '\0' || strlen(name) >= SS_KEY_NAME_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "A key name must have 1 to %d bytes.", SS_KEY_NAME_MAX - 1);
	if (email != NULL && strlen(email) >= SS_KEY_EMAIL_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "The email must be shorter than %d bytes.", SS_KEY_EMAIL_MAX);
	if (daily < 0 || rate < 0 || rate > 1000000)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "Limits must be >= 0 (rate at most 1000000 per minute).");
	return 0;
}

/* A fresh secret in key_out, with its SHA-256 (what is stored) and display prefix. */
static int new_secret(char key_out[SS_APIKEY_TEXT_MAX], unsigned char hash[SS_APIKEY_HASH_LEN],
		      char prefix[SS_APIKEY_PREFIX_MAX], ss_error *err)
{
	if (ss_apikey_generate(key_out, err) != 0)
		return -1;
	ss_apikey_hash(key_out, strlen(key_out), hash);
	ss_apikey_prefix(key_out, prefix);
	return 0;
}

int ss_keys_create(ss_db *db, const char *name, const char *email, ss_key_scope scope, int64_t daily_limit,
		   int64_t rate_limit, ss_key_record *rec, char key_out[SS_APIKEY_TEXT_MAX], ss_error *err)
{
	if (check_fields(name, email, daily_limit, rate_limit, err) != 0)
		return -1;
	unsigned char hash[SS_APIKEY_HASH_LEN];
	char prefix[SS_APIKEY_PREFIX_MAX];
	if (new_secret(key_out, hash, prefix, err) != 0)
		return -1;

	sqlite3_stmt *st = ss_db_prepare(db, SQL_INSERT);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key insert");
	sqlite3_bind_blob(st, 1, hash, sizeof hash, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
	if (email != NULL && email[0] != '\0')
		sqlite3_bind_text(st, 4, email, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, ss_key_scope_name(scope), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, daily_limit);
	sqlite3_bind_int64(st, 7, rate_limit);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "Cannot store the new key");
	int64_t id = sqlite3_last_insert_rowid(ss_db_handle(db));
	if (ss_keys_get(db, id, rec, err) != 1)
		return ss_error_set(err, SS_ERR_DB, "The new key %lld cannot be read back.", (long long)id);
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
		out = db_fail(db, err, "Cannot read the API key");
	}
	sqlite3_reset(st);
	return out;
}

int ss_keys_find_by_hash(ss_db *db, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_BY_HASH);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key lookup");
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
		out = db_fail(db, err, "Cannot look up the API key");
	}
	sqlite3_reset(st);
	return out;
}

int ss_keys_find_by_name(ss_db *db, const char *name, ss_key_record *rec, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_BY_NAME);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key lookup by name");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int out = 0, rc;
	while (out < 2 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out == 0)
			read_row(st, rec);
		out++;
	}
	if (out < 2 && rc != SQLITE_DONE)
		out = db_fail(db, err, "Cannot look up the API key by name");
	sqlite3_reset(st);
	return out;
}

int ss_keys_get(ss_db *db, int64_t id, ss_key_record *rec, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_BY_ID);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key query");
	sqlite3_bind_int64(st, 1, id);
	return get_one(db, st, rec, err);
}

int ss_keys_list(ss_db *db, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_LIST);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key list");
	int rc;
	ss_key_record r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(st, &r);
		if (fn(arg, &r) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "Cannot list the API keys");
	return 0;
}

static int update(ss_db *db, const char *sql, int64_t id, sqlite3_stmt **pst, ss_error *err)
{
	sqlite3_stmt *st = *pst;
	(void)sql;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "Cannot change the API key");
	return sqlite3_changes(ss_db_handle(db)) > 0 ? 1 : 0;
}

static int update_int(ss_db *db, const char *sql, int64_t id, int64_t v, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, sql);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key update");
	sqlite3_bind_int64(st, 2, v);
	return update(db, sql, id, &st, err);
}

int ss_keys_set_active(ss_db *db, int64_t id, bool active, ss_error *err)
{
	return update_int(db, SQL_ACTIVE, id, active ? 1 : 0, err);
}

int ss_keys_set_daily_limit(ss_db *db, int64_t id, int64_t daily_limit, ss_error *err)
{
	if (daily_limit < 0)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "The daily limit must be >= 0.");
	return update_int(db, SQL_DAILY, id, daily_limit, err);
}

int ss_keys_set_rate_limit(ss_db *db, int64_t id, int64_t rate_limit, ss_error *err)
{
	if (rate_limit < 0 || rate_limit > 1000000)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "The rate limit must be 0..1000000 per minute.");
	return update_int(db, SQL_RATE, id, rate_limit, err);
}

int ss_keys_set_scope(ss_db *db, int64_t id, ss_key_scope scope, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_SCOPE);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key update");
	sqlite3_bind_text(st, 2, ss_key_scope_name(scope), -1, SQLITE_STATIC);
	return update(db, SQL_SCOPE, id, &st, err);
}

int ss_keys_delete(ss_db *db, int64_t id, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_DELETE);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key delete");
	return update(db, SQL_DELETE, id, &st, err);
}

int ss_keys_rotate(ss_db *db, int64_t id, char key_out[SS_APIKEY_TEXT_MAX], ss_error *err)
{
	unsigned char hash[SS_APIKEY_HASH_LEN];
	char prefix[SS_APIKEY_PREFIX_MAX];
	if (new_secret(key_out, hash, prefix, err) != 0)
		return -1;
	sqlite3_stmt *st = ss_db_prepare(db, SQL_ROTATE);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key rotation");
	sqlite3_bind_blob(st, 2, hash, sizeof hash, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, prefix, -1, SQLITE_TRANSIENT);
	return update(db, SQL_ROTATE, id, &st, err);
}

int ss_keys_import_check(const char *key, size_t len, ss_error *err)
{
	if (key == NULL || len < SS_KEY_IMPORT_MIN || len > SS_KEY_IMPORT_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "An imported key must have %d to %d characters.",
				    SS_KEY_IMPORT_MIN, SS_KEY_IMPORT_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c <= 0x20 || c >= 0x7f)
			return ss_error_set(err, SS_ERR_BAD_REQUEST,
					    "An imported key may hold printable ASCII only: no spaces, control characters "
					    "or other bytes (character %zu is not).",
					    i + 1);
	}
	return 0;
}

int ss_keys_import(ss_db *db, const char *key, size_t len, const ss_key_import *k, int64_t *id, ss_error *err)
{
	if (ss_keys_import_check(key, len, err) != 0 ||
	    check_fields(k->name, k->email, k->daily_limit, k->rate_limit, err) != 0)
		return -1;
	unsigned char hash[SS_APIKEY_HASH_LEN];
	ss_apikey_hash(key, len, hash);
	/* A short non-secret handle: a quarter of the key at most, so a 16-character key shows 4. */
	char prefix[SS_APIKEY_PREFIX_MAX];
	size_t plen = len / 4 < 8 ? len / 4 : 8;
	memcpy(prefix, key, plen);
	prefix[plen] = '\0';

	sqlite3_stmt *st = ss_db_prepare(db, SQL_IMPORT);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key import");
	sqlite3_bind_blob(st, 1, hash, sizeof hash, SQLITE_TRANSIENT);
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
	if (k->created_at != NULL)
		sqlite3_bind_text(st, 9, k->created_at, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 9);
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
		return db_fail(db, err, "Cannot store the imported key");
	if (out == 1)
		return 1;
	st = ss_db_prepare(db, SQL_ID_BY_HASH);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the key lookup");
	sqlite3_bind_blob(st, 1, hash, sizeof hash, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return db_fail(db, err, "Cannot find the existing key");
	return 0;
}
