/* The api_keys table: create, look up by hash, list, change and delete API keys. Plain keys are never
 * stored: only their SHA-256 and a short display prefix. */
#ifndef SS_STORE_KEYS_H
#define SS_STORE_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/auth/apikey.h"
#include "core/store/db.h"
#include "core/util/error.h"

/* Key scopes; the values equal ss_scope's CLIENT and ADMIN (fcgi/router.h). */
typedef enum ss_key_scope { SS_KEY_CLIENT = 1, SS_KEY_ADMIN = 2 } ss_key_scope;

#define SS_KEY_NAME_MAX 128
#define SS_KEY_EMAIL_MAX 256

typedef struct ss_key_record {
	int64_t id;
	char prefix[SS_APIKEY_PREFIX_MAX];
	char name[SS_KEY_NAME_MAX];
	char email[SS_KEY_EMAIL_MAX]; /* "" when none */
	ss_key_scope scope;
	bool active;
	int64_t daily_limit;          /* 0 = unlimited */
	int64_t rate_limit;           /* per minute; 0 = server default */
	char created_at[20];          /* "YYYY-MM-DD HH:MM:SS" UTC */
	char last_used[20];           /* "" when never used */
} ss_key_record;

/* "client" / "admin" and back. Parse returns 0 or -1 for anything else. */
const char *ss_key_scope_name(ss_key_scope s);
int ss_key_scope_parse(const char *s, ss_key_scope *out);

/* Create an active key (name 1..127 bytes; email may be NULL; limits >= 0). Writes the one-time plain key
 * into key_out and the stored record into *rec. Returns 0 or -1 with err (SS_ERR_BAD_REQUEST for bad
 * fields, SS_ERR_DB). */
int ss_keys_create(ss_db *db, const char *name, const char *email, ss_key_scope scope, int64_t daily_limit,
		   int64_t rate_limit, ss_key_record *rec, char key_out[SS_APIKEY_TEXT_MAX], ss_error *err);

/* Find the key whose stored hash equals hash (compared in constant time after the indexed lookup).
 * Returns 1 with *rec, 0 when there is none, -1 with err (SS_ERR_DB). */
int ss_keys_find_by_hash(ss_db *db, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec, ss_error *err);

/* The key named `name` (exact match): 1 with *rec when exactly one key has that name, 0 when none, 2 when
 * several do (*rec is the oldest; the caller should refuse to guess), -1 on a database error (err). */
int ss_keys_find_by_name(ss_db *db, const char *name, ss_key_record *rec, ss_error *err);

/* The key with this id. Returns 1 with *rec, 0 when there is none, -1 with err. */
int ss_keys_get(ss_db *db, int64_t id, ss_key_record *rec, ss_error *err);

/* Call fn for every key in id order (stop early when fn returns non-zero). Returns 0 or -1 with err. */
int ss_keys_list(ss_db *db, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err);

/* Changes to one key. Each returns 1 when the key existed and was changed, 0 when there is no such id,
 * -1 with err. The caller bumps the state file's key generation afterwards. */
int ss_keys_set_active(ss_db *db, int64_t id, bool active, ss_error *err);
int ss_keys_set_daily_limit(ss_db *db, int64_t id, int64_t daily_limit, ss_error *err);
int ss_keys_set_rate_limit(ss_db *db, int64_t id, int64_t rate_limit, ss_error *err);
int ss_keys_set_scope(ss_db *db, int64_t id, ss_key_scope scope, ss_error *err);
int ss_keys_delete(ss_db *db, int64_t id, ss_error *err);

/* Give key id a new secret (same record, limits and usage); the old secret stops working. Writes the new
 * plain key into key_out. Returns 1, 0 (no such id) or -1 with err. */
int ss_keys_rotate(ss_db *db, int64_t id, char key_out[SS_APIKEY_TEXT_MAX], ss_error *err);

/* An existing key string that is registered as it is (songscope-admin keys import, import-legacy). */
#define SS_KEY_IMPORT_MIN 16                      /* shortest accepted key, bytes */
#define SS_KEY_IMPORT_MAX (SS_APIKEY_INPUT_MAX - 1) /* longest: what the auth path still hashes */

typedef struct ss_key_import {
	const char *name;       /* 1..127 bytes */
	const char *email;      /* or NULL */
	ss_key_scope scope;
	bool active;
	int64_t daily_limit;    /* >= 0, 0 = unlimited */
	int64_t rate_limit;     /* 0..1000000 per minute, 0 = server default */
	const char *created_at; /* SQLite time string (UTC); NULL or unparsable = now */
} ss_key_import;

/* Is key (len bytes) acceptable as an imported secret: SS_KEY_IMPORT_MIN..SS_KEY_IMPORT_MAX bytes of printable
 * ASCII without spaces (what an X-API-Key header carries unchanged)? Returns 0, or -1 with err
 * (SS_ERR_BAD_REQUEST, naming the rule, never the key). */
int ss_keys_import_check(const char *key, size_t len, ss_error *err);

/* Register an existing secret: stores only its SHA-256 and a short display prefix (at most a quarter of the
 * key, and at most 8 characters). Returns 1 with *id of the new key, 0 when a key with this secret already
 * exists (*id = its id, nothing changed), -1 with err (SS_ERR_BAD_REQUEST for a bad key or fields, SS_ERR_DB).
 * Works inside or outside a transaction. */
int ss_keys_import(ss_db *db, const char *key, size_t len, const ss_key_import *k, int64_t *id, ss_error *err);

#endif
