/* GET /cache, GET /cache/search, GET /cache/export, DELETE /cache/{id}, POST /cache/clear. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/store/cache.h"
#include "fcgi/present.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "core/util/strnum.h"
#include "core/util/timefmt.h"
#include "core/util/utf8.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"

#define QUERY_MAX 256

/* Query parameter into out: 1 found, 0 absent; malformed answers 400 and returns -1. */
static int query(ss_request *req, const char *name, char *out, size_t outlen)
{
	int rc = ss_query_get(req->query, name, out, outlen);
	if (rc < 0) {
		ss_resp_error(req, SS_ERR_BAD_REQUEST, "Query parameter '%s' is malformed or longer than %zu bytes.", name,
			      outlen - 1);
		return -1;
	}
	if (rc == 0)
		out[0] = '\0';
	return rc;
}

/* The namespace of a listing: ?namespace=, else the X-Cache-Namespace header, else def. 0 ok, 1 answered. */
static int list_namespace(ss_request *req, const char *def, char ns[SS_NAMESPACE_MAX + 1], bool *all)
{
	char q[64];
	int rc = query(req, "namespace", q, sizeof q);
	if (rc < 0)
		return 1;
	const char *v = rc == 1 && q[0] ? q : ss_req_header(req, "X-Cache-Namespace");
	return ss_h_namespace(req, v, def, true, ns, all);
}

static int send_rows(ss_ctx *ctx, ss_request *req, ss_buf *out, int n, const ss_error *err)
{
	(void)ctx;
	int rc;
	if (n < 0)
		rc = ss_h_store_failed(req, req->path, err);
	else if (ss_buf_puts(out, "\n") != 0)
		rc = ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	else
		rc = ss_h_send_text(req, 200, "application/json", out->data, out->len);
	ss_buf_free(out);
	return rc;
}

int ss_handle_cache_list(ss_ctx *ctx, ss_request *req)
{
	char v[32];
	int64_t limit = 100, offset = 0;
	int rc = query(req, "limit", v, sizeof v);
	if (rc < 0)
		return 0;
	if (rc == 1 && ss_parse_i64(v, 1, SS_CACHE_LIST_MAX, &limit) != 0)
		return ss_resp_error(req, SS_ERR_BAD_REQUEST, "limit must be an integer from 1 to %d.", SS_CACHE_LIST_MAX);
	if ((rc = query(req, "offset", v, sizeof v)) < 0)
		return 0;
	if (rc == 1 && ss_parse_i64(v, 0, INT64_MAX / 2, &offset) != 0)
		return ss_resp_error(req, SS_ERR_BAD_REQUEST, "offset must be a non-negative integer.");
	char ns[SS_NAMESPACE_MAX + 1];
	bool all;
	if (list_namespace(req, "default", ns, &all) != 0 || ss_h_need_db(ctx, req))
		return 0;
	ss_buf out;
	ss_buf_init(&out, 0);
	ss_error err;
	ss_error_clear(&err);
	int n = ss_present_cache_list(ctx->store, all ? NULL : ns, (int)limit, offset, &out, &err);
	return send_rows(ctx, req, &out, n, &err);
}

int ss_handle_cache_search(ss_ctx *ctx, ss_request *req)
{
	char q[QUERY_MAX + 1];
	if (query(req, "q", q, sizeof q) < 0)
		return 0;
	if (!ss_utf8_valid(q)) /* else SQLite's LIKE decodes it loosely and PostgreSQL refuses it */
		return ss_resp_error(req, SS_ERR_BAD_REQUEST, "Query parameter 'q' is not UTF-8 text.");
	char ns[SS_NAMESPACE_MAX + 1];
	bool all;
	if (list_namespace(req, "default", ns, &all) != 0 || ss_h_need_db(ctx, req))
		return 0;
	ss_buf out;
	ss_buf_init(&out, 0);
	ss_error err;
	ss_error_clear(&err);
	int n = ss_present_cache_search(ctx->store, all ? NULL : ns, q, SS_CACHE_SEARCH_MAX, &out, &err);
	return send_rows(ctx, req, &out, n, &err);
}

typedef struct export_sink {
	ss_request *req;
	bool csv;
	bool begun;
	char filename[64];
} export_sink;

static int sink_write(void *arg, const void *data, size_t len)
{
	export_sink *s = arg;
	if (!s->begun) {
		if (s->csv)
			ss_resp_add_header(s->req, "Content-Disposition", "attachment; filename=\"%s\"", s->filename);
		if (ss_resp_begin(s->req, 200, s->csv ? "text/csv; charset=utf-8" : "application/json") != 0)
			return -1;
		s->begun = true;
	}
	return ss_resp_write(s->req, data, len);
}

int ss_handle_cache_export(ss_ctx *ctx, ss_request *req)
{
	char fmt[16];
	int rc = query(req, "format", fmt, sizeof fmt);
	if (rc < 0)
		return 0;
	bool csv = false;
	if (rc == 1 && fmt[0] != '\0') {
		if (strcmp(fmt, "csv") == 0)
			csv = true;
		else if (strcmp(fmt, "json") != 0)
			return ss_resp_error(req, SS_ERR_BAD_REQUEST, "format must be json or csv.");
	}
	char ns[SS_NAMESPACE_MAX + 1];
	bool all;
	if (list_namespace(req, "default", ns, &all) != 0 || ss_h_need_db(ctx, req))
		return 0;
	time_t now = time(NULL);
	char at[SS_TIME_STR_LEN];
	ss_time_format_utc(now, at);
	export_sink s = {.req = req, .csv = csv};
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(s.filename, sizeof s.filename, "songscope_export_%Y%m%d_%H%M%S.csv", &tm);
	ss_error err;
	ss_error_clear(&err);
	if (ss_present_cache_export(ctx->store, all ? NULL : ns, csv ? SS_EXPORT_CSV : SS_EXPORT_JSON, at, sink_write, &s, &err) != 0) {
		if (!s.begun)
			return ss_h_store_failed(req, "export", &err);
		ss_log_info("export interrupted: %s", err.msg);
		return -1;
	}
	if (!s.begun)
		return ss_resp_error(req, SS_ERR_INTERNAL, "The export produced nothing.");
	return 0;
}

int ss_handle_cache_delete(ss_ctx *ctx, ss_request *req)
{
	if (ss_h_need_db(ctx, req))
		return 0;
	ss_error err;
	ss_error_clear(&err);
	int rc = ss_store_cache_delete(ctx->store, req->path_id, &err);
	if (rc < 0)
		return ss_h_store_failed(req, "delete", &err);
	if (rc == 0)
		return ss_resp_error(req, SS_ERR_NOT_FOUND, "Cache entry %lld not found.", req->path_id);
	json_object *o = json_object_new_object();
	if (o == NULL || ss_json_add_string(o, "status", "deleted") || ss_json_add_int(o, "id", req->path_id)) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	int w = ss_resp_json(req, 200, o);
	json_object_put(o);
	return w;
}

int ss_handle_cache_clear(ss_ctx *ctx, ss_request *req)
{
	char q[64];
	int rc = query(req, "namespace", q, sizeof q);
	if (rc < 0)
		return 0;
	char ns[SS_NAMESPACE_MAX + 1];
	bool all = true;
	if (rc == 1 && q[0] != '\0' && ss_h_namespace(req, q, "default", true, ns, &all) != 0)
		return 0;
	if (ss_h_need_db(ctx, req))
		return 0;
	ss_error err;
	ss_error_clear(&err);
	long long deleted = 0;
	if (ss_store_cache_clear(ctx->store, all ? NULL : ns, &deleted, &err) != 0)
		return ss_h_store_failed(req, "clear", &err);
	ss_log_info("cache cleared (%s): %lld rows", all ? "all" : ns, deleted);
	json_object *o = json_object_new_object();
	if (o == NULL || ss_json_add_string(o, "status", "cleared") || ss_json_add_string(o, "namespace", all ? "all" : ns) ||
	    ss_json_add_int(o, "deleted", deleted)) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	int w = ss_resp_json(req, 200, o);
	json_object_put(o);
	return w;
}
