/* GET /auth/key (client): the calling key as the responder sees it (no SQLite: key cache + state file).
 * GET /auth/usage (admin): per-key request totals for today, from api_usage. */
#include <string.h>

#include "core/limits/limiter.h"
#include "core/store/usage.h"
#include "core/util/jsonutil.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"

int ss_handle_auth_key(ss_ctx *ctx, ss_request *req)
{
	json_object *o = json_object_new_object();
	if (o == NULL)
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	if (req->key_id > 0) {
		ss_error err;
		int64_t today = ctx->limiter ? ss_limiter_day_count(ctx->limiter, req->key_id, &err) : -1;
		if (ss_json_add_int(o, "id", req->key_id) || ss_json_add_string(o, "prefix", req->key_prefix) ||
		    ss_json_add_string(o, "scope", ss_key_scope_name((ss_key_scope)req->key_scope)) ||
		    ss_json_add_int(o, "requests_today", today < 0 ? 0 : today)) {
			json_object_put(o);
			return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
		}
	} else if (ss_json_add_string(o, "auth", "off")) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	int rc = ss_resp_json(req, 200, o);
	json_object_put(o);
	return rc;
}

static int usage_row(void *arg, int64_t id, const char *name, const char *prefix, int64_t total, int64_t ok)
{
	json_object *arr = arg, *j = json_object_new_object();
	if (j == NULL || ss_json_add_int(j, "id", id) || ss_json_add_string(j, "name", name) ||
	    ss_json_add_string(j, "prefix", prefix) || ss_json_add_int(j, "requests", total) ||
	    ss_json_add_int(j, "successful", ok) || json_object_array_add(arr, j) != 0) {
		json_object_put(j);
		return 1;
	}
	return 0;
}

int ss_handle_auth_usage(ss_ctx *ctx, ss_request *req)
{
	if (ss_ctx_store_ready(ctx) != 0)
		return ss_resp_error(req, SS_ERR_UNAVAILABLE, "The database is unavailable.");
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	ss_error err;
	ss_error_clear(&err);
	if (o == NULL || arr == NULL) {
		json_object_put(o);
		json_object_put(arr);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	json_object_object_add(o, "keys", arr);
	if (ss_store_usage_summary(ctx->store, 1, usage_row, arr, &err) != 0) {
		json_object_put(o);
		return ss_resp_error(req, err.code == SS_OK ? SS_ERR_DB : err.code, "Usage cannot be read.");
	}
	int rc = ss_resp_json(req, 200, o);
	json_object_put(o);
	return rc;
}
