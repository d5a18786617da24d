#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"

int ss_h_send_text(ss_request *req, int status, const char *content_type, const char *text, size_t len)
{
	if (ss_resp_add_header(req, "Content-Length", "%zu", len) != 0 || ss_resp_begin(req, status, content_type) != 0)
		return -1;
	return ss_resp_write(req, text, len);
}

int ss_h_namespace(ss_request *req, const char *value, const char *def, bool allow_all,
		   char out[SS_NAMESPACE_MAX + 1], bool *all)
{
	if (all != NULL)
		*all = false;
	out[0] = '\0';
	if (value == NULL || value[0] == '\0')
		value = def;
	if (allow_all && (strcasecmp(value, "all") == 0 || strcmp(value, "*") == 0)) {
		if (all != NULL)
			*all = true;
		return 0;
	}
	if (!ss_cache_namespace_valid(value) || strcasecmp(value, "all") == 0) {
		ss_resp_error(req, SS_ERR_BAD_REQUEST,
			      "The namespace must be 1 to 32 characters from A-Z, a-z, 0-9, '_' and '-' (and not 'all').");
		return 1;
	}
	strcpy(out, value);
	return 0;
}

bool ss_h_truthy(const char *s)
{
	if (s == NULL)
		return false;
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	static const char *const yes[] = {"1", "true", "yes", "on", "y"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0)
			return true;
	return false;
}

int ss_h_need_db(ss_ctx *ctx, ss_request *req)
{
	if (ss_ctx_store_ready(ctx) == 0)
		return 0;
	ss_resp_add_header(req, "Retry-After", "5");
	ss_resp_error(req, SS_ERR_UNAVAILABLE, "The database is unavailable; try again shortly.");
	return 1;
}

int ss_h_store_failed(ss_request *req, const char *what, const ss_error *err)
{
	int status = ss_code_http_status(err->code);
	if (status >= 500 && status != 500)
		ss_log_error("%s: %s", what, err->msg);
	return ss_resp_error_from(req, err);
}

json_object *ss_h_read_json(ss_ctx *ctx, ss_request *req, size_t cap, json_type type, const char *usage, int *rc)
{
	ss_error err;
	ss_buf body;
	ss_error_clear(&err);
	ss_buf_init(&body, 0);
	if (cap > (size_t)ctx->cfg->max_body_bytes)
		cap = (size_t)ctx->cfg->max_body_bytes;
	if (ss_req_read_body(req, cap, &body, &err) != 0) {
		ss_buf_free(&body);
		*rc = ss_resp_error_from(req, &err);
		return NULL;
	}
	if (ss_json_has_nul_escape(body.data, body.len)) {
		ss_buf_free(&body);
		*rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "JSON strings must not contain NUL characters (\\u0000).");
		return NULL;
	}
	json_object *o = body.len ? ss_json_parse(body.data, body.len, 8) : NULL;
	ss_buf_free(&body);
	if (o == NULL || !json_object_is_type(o, type)) {
		json_object_put(o);
		*rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "%s", usage);
		return NULL;
	}
	*rc = 0;
	return o;
}

bool ss_h_force_header(const ss_request *req)
{
	return ss_h_truthy(ss_req_header(req, "X-Force-Reanalyze")) || ss_h_truthy(ss_req_header(req, "X-Bypass-Cache"));
}

bool ss_h_want_beats(const ss_request *req)
{
	char beats[8];
	return ss_query_get(req->query, "beats", beats, sizeof beats) == 1 && ss_h_truthy(beats);
}

int ss_h_upload_opts(ss_request *req, char ns[SS_NAMESPACE_MAX + 1], bool *force, bool *with_beats)
{
	if (ss_h_namespace(req, ss_req_header(req, "X-Cache-Namespace"), "default", false, ns, NULL) != 0)
		return 1;
	*force = ss_h_force_header(req);
	*with_beats = ss_h_want_beats(req);
	return 0;
}
