/* Key management over HTTP (admin), for the dashboard: GET /auth/keys lists the keys with today's use, POST
 * /auth/keys creates one (the plain key is in that answer only), DELETE /auth/keys/{id} deactivates one. Each
 * change is logged (who, from where, what) and bumps the key generation through the limiter, as songscope-admin
 * does, so every responder drops its cached view of the key at once. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/auth/apikey.h"
#include "core/limits/limiter.h"
#include "core/store/store.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"

#define KEYS_BODY_CAP (16 * 1024)

/* The key record as songscope-admin keys list --json shows it, plus requests_today from the state file. */
static json_object *record_json(ss_ctx *ctx, const ss_key_record *r)
{
	json_object *o = json_object_new_object();
	if (o == NULL)
		return NULL;
	ss_error err;
	int64_t today = ctx->limiter ? ss_limiter_day_count(ctx->limiter, r->id, &err) : -1;
	if (ss_json_add_int(o, "id", r->id) || ss_json_add_string(o, "name", r->name) ||
	    ss_json_add_string(o, "email", r->email[0] ? r->email : NULL) ||
	    ss_json_add_string(o, "prefix", r->prefix) ||
	    ss_json_add_string(o, "scope", ss_key_scope_name(r->scope)) || ss_json_add_bool(o, "active", r->active) ||
	    ss_json_add_int(o, "daily_limit", r->daily_limit) || ss_json_add_int(o, "rate_limit", r->rate_limit) ||
	    ss_json_add_string(o, "created_at", r->created_at) ||
	    ss_json_add_string(o, "last_used", r->last_used[0] ? r->last_used : NULL) ||
	    ss_json_add_int(o, "requests_today", today < 0 ? 0 : today)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

typedef struct list_arg {
	ss_ctx *ctx;
	json_object *arr;
	bool oom;
} list_arg;

static int list_row(void *arg, const ss_key_record *r)
{
	list_arg *a = arg;
	json_object *j = record_json(a->ctx, r);
	if (j == NULL || json_object_array_add(a->arr, j) != 0) {
		json_object_put(j);
		a->oom = true;
		return 1;
	}
	return 0;
}

int ss_handle_keys_list(ss_ctx *ctx, ss_request *req)
{
	if (ss_h_need_db(ctx, req))
		return 0;
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	if (o == NULL || arr == NULL || json_object_object_add(o, "keys", arr) != 0) {
		json_object_put(o);
		json_object_put(arr);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	ss_error err;
	ss_error_clear(&err);
	list_arg a = {ctx, arr, false};
	if (ss_store_key_list(ctx->store, list_row, &a, &err) != 0) {
		json_object_put(o);
		return ss_resp_error(req, err.code == SS_OK ? SS_ERR_DB : err.code, "The keys cannot be read.");
	}
	if (a.oom) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	int rc = ss_resp_json(req, 200, o);
	json_object_put(o);
	return rc;
}

/* Tell every responder (this one included, and those of other hosts sharing the limiter) that keys changed.
 * A limiter that cannot be reached is logged: the change still reaches the responders within key_cache_ttl. */
static void notify_key_change(ss_ctx *ctx)
{
	ss_error err;
	ss_error_clear(&err);
	if (ctx->limiter == NULL || ss_limiter_bump_generation(ctx->limiter, &err) != 0)
		ss_log_warn("the key change could not be announced to the responders (%s): they see it within "
			    "key_cache_ttl",
			    err.msg[0] ? err.msg : "no limiter");
}

/* An optional non-negative integer member (absent or null → def). Returns 0, or -1 when it is not one. */
static int opt_limit(json_object *o, const char *name, int64_t max, int64_t def, int64_t *out)
{
	json_object *v;
	*out = def;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	int64_t n = json_object_get_int64(v);
	if (n < 0 || n > max)
		return -1;
	*out = n;
	return 0;
}

/* An optional string member (absent or null → NULL). Returns 0, or -1 when it is there and not a string. */
static int opt_string(json_object *o, const char *name, const char **out)
{
	json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = json_object_get_string(v);
	return 0;
}

int ss_handle_keys_create(ss_ctx *ctx, ss_request *req)
{
	static const char usage[] = "Send a JSON object: {\"name\", \"scope\": \"client\" or \"admin\", \"email\", "
				    "\"daily_limit\", \"rate_limit\"}.";
	int rc;
	json_object *o = ss_h_read_json(ctx, req, KEYS_BODY_CAP, json_type_object, usage, &rc);
	if (o == NULL)
		return rc;
	const char *name, *email, *scope_s;
	int64_t daily, rate;
	ss_key_scope scope = SS_KEY_CLIENT;
	if (opt_string(o, "name", &name) != 0 || opt_string(o, "email", &email) != 0 ||
	    opt_string(o, "scope", &scope_s) != 0 || name == NULL) {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "%s", usage);
		goto done;
	}
	if (scope_s != NULL && ss_key_scope_parse(scope_s, &scope) != 0) {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "'scope' must be \"client\" or \"admin\".");
		goto done;
	}
	if (opt_limit(o, "daily_limit", INT64_MAX, 0, &daily) != 0 ||
	    opt_limit(o, "rate_limit", 1000000, 0, &rate) != 0) {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST,
				   "'daily_limit' (0 = unlimited) and 'rate_limit' (per minute, 0..1000000, 0 = the "
				   "server's default) must be non-negative integers.");
		goto done;
	}
	if (email != NULL && email[0] == '\0')
		email = NULL;
	if (ss_h_need_db(ctx, req)) {
		rc = 0;
		goto done;
	}
	ss_key_record r;
	char key[SS_APIKEY_TEXT_MAX];
	ss_error err;
	ss_error_clear(&err);
	if (ss_store_key_create(ctx->store, name, email, scope, daily, rate, &r, key, &err) != 0) {
		rc = ss_resp_error_from(req, &err);
		goto done;
	}
	notify_key_change(ctx);
	ss_log_info("key %" PRId64 " (%s, %s scope) created by key %lld (%s) from %s", r.id, r.prefix,
		    ss_key_scope_name(r.scope), req->key_id, req->key_prefix, req->remote_addr);
	json_object *j = record_json(ctx, &r);
	if (j == NULL || ss_json_add_string(j, "key", key) != 0) {
		json_object_put(j);
		sodium_memzero(key, sizeof key);
		rc = ss_resp_error(req, SS_ERR_NOMEM, "Out of memory (the key was created: deactivate it and retry).");
		goto done;
	}
	sodium_memzero(key, sizeof key);
	rc = ss_resp_json(req, 201, j);
	json_object_put(j);
done:
	json_object_put(o);
	return rc;
}

int ss_handle_keys_deactivate(ss_ctx *ctx, ss_request *req)
{
	if (ss_h_need_db(ctx, req))
		return 0;
	ss_error err;
	ss_error_clear(&err);
	int found = ss_store_key_set_active(ctx->store, req->path_id, false, &err);
	if (found < 0)
		return ss_resp_error_from(req, &err);
	if (found == 0)
		return ss_resp_error(req, SS_ERR_NOT_FOUND, "No key with id %lld.", req->path_id);
	notify_key_change(ctx);
	ss_log_info("key %lld deactivated by key %lld (%s) from %s", req->path_id, req->key_id, req->key_prefix,
		    req->remote_addr);
	json_object *o = json_object_new_object();
	if (o == NULL || ss_json_add_string(o, "status", "deactivated") != 0 ||
	    ss_json_add_int(o, "id", req->path_id) != 0) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	int rc = ss_resp_json(req, 200, o);
	json_object_put(o);
	return rc;
}
