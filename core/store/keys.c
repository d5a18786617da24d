/* API keys for every backend: the checks on names and limits, making, hashing and importing secrets; the
 * backend stores only the SHA-256 and a short display prefix (ss_store_ops.key_insert, key_set_secret). */
#include <stdio.h>
#include <string.h>

#include "core/store/backend.h"
#include "core/util/utf8.h"

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

static int check_fields(const char *name, const char *email, ss_key_scope scope, int64_t daily, int64_t rate,
			ss_error *err)
{
	if (name == NULL || name[0] == '\0' || strlen(name) >= SS_KEY_NAME_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "A key name must have 1 to %d bytes.", SS_KEY_NAME_MAX - 1);
	if (email != NULL && strlen(email) >= SS_KEY_EMAIL_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "The email must be shorter than %d bytes.", SS_KEY_EMAIL_MAX);
	if (!ss_utf8_valid(name) || (email != NULL && !ss_utf8_valid(email)))
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "A key's name and email must be UTF-8 text.");
	if (ss_utf8_has_control(name) || (email != NULL && ss_utf8_has_control(email)))
		return ss_error_set(err, SS_ERR_BAD_REQUEST,
				    "A key's name and email must be printable text: no tab, newline or other control character.");
	if (daily < 0 || rate < 0 || rate > 1000000)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "Limits must be >= 0 (rate at most 1000000 per minute).");
	if (scope != SS_KEY_CLIENT && scope != SS_KEY_ADMIN)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "The scope must be client or admin.");
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

int ss_store_key_create(ss_store *s, const char *name, const char *email, ss_key_scope scope, int64_t daily_limit,
			int64_t rate_limit, ss_key_record *rec, char key_out[SS_APIKEY_TEXT_MAX], ss_error *err)
{
	if (check_fields(name, email, scope, daily_limit, rate_limit, err) != 0)
		return -1;
	unsigned char hash[SS_APIKEY_HASH_LEN];
	char prefix[SS_APIKEY_PREFIX_MAX];
	if (new_secret(key_out, hash, prefix, err) != 0)
		return -1;
	if (s->ops->ready(s, err) != 0)
		return -1;
	ss_key_import k = {.name = name, .email = email, .scope = scope, .active = true, .daily_limit = daily_limit,
			   .rate_limit = rate_limit, .created_at = NULL};
	int64_t id = 0;
	int rc = s->ops->key_insert(s, hash, prefix, &k, &id, err);
	if (rc < 0)
		return -1;
	if (rc == 0) /* 256 random bits equal to a stored key's: not a thing that happens */
		return ss_error_set(err, SS_ERR_INTERNAL, "A new key collided with key %lld; try again.", (long long)id);
	if (s->ops->key_get(s, id, rec, err) != 1)
		return ss_error_set(err, SS_ERR_DB, "The new key %lld cannot be read back.", (long long)id);
	return 0;
}

int ss_store_key_rotate(ss_store *s, int64_t id, char key_out[SS_APIKEY_TEXT_MAX], ss_error *err)
{
	unsigned char hash[SS_APIKEY_HASH_LEN];
	char prefix[SS_APIKEY_PREFIX_MAX];
	if (new_secret(key_out, hash, prefix, err) != 0)
		return -1;
	if (s->ops->ready(s, err) != 0)
		return -1;
	return s->ops->key_set_secret(s, id, hash, prefix, err);
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

int ss_store_key_import(ss_store *s, const char *key, size_t len, const ss_key_import *k, int64_t *id,
			ss_error *err)
{
	if (ss_keys_import_check(key, len, err) != 0)
		return -1;
	unsigned char hash[SS_APIKEY_HASH_LEN];
	ss_apikey_hash(key, len, hash);
	/* A short non-secret handle: a quarter of the key at most, so a 16-character key shows 4. */
	char prefix[SS_APIKEY_PREFIX_MAX];
	size_t plen = len / 4 < 8 ? len / 4 : 8;
	memcpy(prefix, key, plen);
	prefix[plen] = '\0';
	return ss_store_key_import_hashed(s, hash, prefix, k, id, err);
}

int ss_store_key_import_hashed(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
			       const ss_key_import *in, int64_t *id, ss_error *err)
{
	/* A key another installation (or the original server, or an earlier release) holds keeps working: control
	 * characters in its name or email become spaces instead of refusing it. Too long is still refused. */
	char name[SS_KEY_NAME_MAX], email[SS_KEY_EMAIL_MAX];
	ss_key_import fixed = *in, *k = &fixed;
	if (in->name != NULL && strlen(in->name) < sizeof name) {
		memcpy(name, in->name, strlen(in->name) + 1);
		ss_utf8_fold_controls(name);
		fixed.name = name;
	}
	if (in->email != NULL && strlen(in->email) < sizeof email) {
		memcpy(email, in->email, strlen(in->email) + 1);
		ss_utf8_fold_controls(email);
		fixed.email = email;
	}
	if (check_fields(k->name, k->email, k->scope, k->daily_limit, k->rate_limit, err) != 0)
		return -1;
	if (prefix == NULL || strlen(prefix) >= SS_APIKEY_PREFIX_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "A key prefix must be shorter than %d bytes.",
				    SS_APIKEY_PREFIX_MAX);
	if (s->ops->ready(s, err) != 0)
		return -1;
	return s->ops->key_insert(s, hash, prefix, k, id, err);
}
