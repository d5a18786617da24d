/* The Spotify-compatible endpoints (API.md "Spotify-compatible audio features"): Spotify's audio-features and
 * audio-analysis objects (fcgi/spotify.h), rendered from the same cached result as /analyze. A track's id is the
 * first 128 bits of its cache key in base62 (22 characters, core/util/base62.h): stable for the row, the same for
 * everyone who sends the same bytes or URL in the same namespace, and not a row number. The store is read through
 * two calls only: ss_store_cache_key_by_prefix (id -> cache key) and ss_present_cache_get (cache key -> the
 * result object, fcgi/present.h, as /analyze renders it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/store/cache.h"
#include "core/util/base62.h"
#include "core/util/jsonutil.h"
#include "fcgi/handlers.h"
#include "fcgi/present.h"
#include "fcgi/response.h"
#include "fcgi/spotify.h"

#define IDS_MAX 100
#define IDS_PARAM_MAX (IDS_MAX * (SS_BASE62_ID_LEN + 1) + 64) /* 100 ids and their commas, with some slack */
#define BASE_URL_MAX 512

/* Host names and addresses as they may appear in a Host header, nothing else. */
static bool host_ok(const char *h)
{
	size_t n = h != NULL ? strlen(h) : 0;
	return n > 0 && n <= 255 &&
	       strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

/* Where clients reached us, e.g. "https://music.example/api": scheme from HTTPS / REQUEST_SCHEME; host from the
 * Host header (HTTP_HOST), else SERVER_NAME, with SERVER_PORT added when the host carries no port and the port
 * is not the scheme's default (nginx's stock fastcgi_params pass the host without its port); and the prefix the
 * web server mounts songscope under (what REQUEST_URI's path holds before the routed path). */
static void base_url(const ss_request *req, char out[BASE_URL_MAX])
{
	const char *https = ss_req_param(req, "HTTPS"), *scheme = ss_req_param(req, "REQUEST_SCHEME");
	bool tls = (https != NULL && (strcasecmp(https, "on") == 0 || strcmp(https, "1") == 0)) ||
		   (scheme != NULL && strcasecmp(scheme, "https") == 0);
	const char *h = ss_req_param(req, "HTTP_HOST");
	if (!host_ok(h))
		h = ss_req_param(req, "SERVER_NAME");
	if (!host_ok(h))
		h = "localhost";
	const char *port = ss_req_param(req, "SERVER_PORT");
	const char *last_colon = strrchr(h, ':');
	bool has_port = last_colon != NULL && strchr(last_colon, ']') == NULL;
	bool add_port = !has_port && port != NULL && port[0] != '\0' && strlen(port) <= 5 &&
			strspn(port, "0123456789") == strlen(port) && strcmp(port, tls ? "443" : "80") != 0;
	const char *uri = ss_req_param(req, "REQUEST_URI");
	size_t ulen = uri != NULL ? strcspn(uri, "?#") : 0, plen = strlen(req->path), pre = 0;
	if (ulen > plen && ulen - plen < 200 && uri[0] == '/' && strncmp(uri + ulen - plen, req->path, plen) == 0 &&
	    strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._~") >= ulen - plen)
		pre = ulen - plen;
	snprintf(out, BASE_URL_MAX, "%s://%s%s%s%.*s", tls ? "https" : "http", h, add_port ? ":" : "",
		 add_port ? port : "", (int)pre, pre > 0 ? uri : "");
}

/* Send obj (and put it) with a trailing newline, as the other endpoints do. */
static int send_obj(ss_request *req, json_object *obj)
{
	size_t len;
	const char *t = obj != NULL ? ss_json_text(obj, &len) : NULL;
	ss_buf b;
	ss_buf_init(&b, 0);
	int rc;
	if (t == NULL || ss_buf_append(&b, t, len) != 0 || ss_buf_puts(&b, "\n") != 0)
		rc = ss_resp_error(req, SS_ERR_NOMEM, "Out of memory while encoding the answer.");
	else
		rc = ss_h_send_text(req, 200, "application/json", b.data, b.len);
	ss_buf_free(&b);
	json_object_put(obj);
	return rc;
}

static int send_err(ss_request *req, const ss_error *err)
{
	if (err->code == SS_ERR_UNAVAILABLE)
		ss_resp_add_header(req, "Retry-After", "5");
	return ss_resp_error_from(req, err);
}

int ss_handle_audio_features_post(ss_ctx *ctx, ss_request *req)
{
	const char *ct = ss_req_param(req, "CONTENT_TYPE");
	bool json = ct != NULL && strncasecmp(ct, "application/json", 16) == 0;
	char key[SS_SHA256_HEX], base[BASE_URL_MAX];
	ss_buf out;
	ss_buf_init(&out, 0);
	int rc;
	if ((json ? ss_h_analyze_url(ctx, req, &out, key, &rc) : ss_h_analyze_bytes(ctx, req, &out, key, &rc)) == 0) {
		base_url(req, base);
		json_object *o = ss_spotify_features(out.data, out.len, key, base);
		rc = o != NULL ? send_obj(req, o) : ss_resp_error(req, SS_ERR_NOMEM, "Out of memory while encoding the answer.");
	}
	ss_buf_free(&out);
	return rc;
}

/* Look one id up: 1 with the result object text in out and the key in key, 0 unknown (or not an id), -1 err. */
static int lookup(ss_ctx *ctx, const char *id, ss_present_series series, char key[SS_SHA256_HEX], ss_buf *out,
		  ss_error *err)
{
	char prefix[33];
	if (ss_base62_to_hex128(id, prefix) != 0)
		return 0;
	int f = ss_store_cache_key_by_prefix(ctx->store, prefix, key, err);
	if (f != 1)
		return f;
	return ss_present_cache_get(ctx->store, key, true, series, out, err);
}

/* The {key} segment of the path. */
static const char *path_id(const ss_request *req)
{
	const char *slash = strrchr(req->path, '/');
	return slash != NULL ? slash + 1 : req->path;
}

/* GET by id: 400 for what cannot be an id, 404 for an id with no row. */
/* What GET by id answers: Spotify's audio-features object, Spotify's audio-analysis object (read from the result
 * with every stored time series), or songscope's own result object (with beats and downbeats). */
typedef enum view { VIEW_FEATURES, VIEW_ANALYSIS, VIEW_RESULT } view;

static int get_one(ss_ctx *ctx, ss_request *req, view v)
{
	const char *id = path_id(req);
	char prefix[33];
	if (ss_base62_to_hex128(id, prefix) != 0)
		return ss_resp_error(req, SS_ERR_BAD_REQUEST, "Invalid id: a track id is %d characters of 0-9, A-Z, a-z.",
				     SS_BASE62_ID_LEN);
	if (ss_h_need_db(ctx, req))
		return 0;
	ss_error err;
	ss_error_clear(&err);
	char key[SS_SHA256_HEX], base[BASE_URL_MAX];
	ss_buf out;
	ss_buf_init(&out, 0);
	static const ss_present_series series[] = {[VIEW_FEATURES] = SS_SERIES_NONE, [VIEW_ANALYSIS] = SS_SERIES_ALL,
						   [VIEW_RESULT] = SS_SERIES_BEATS};
	int rc, f = lookup(ctx, id, series[v], key, &out, &err);
	if (f < 0)
		rc = send_err(req, &err);
	else if (f == 0)
		rc = ss_resp_error(req, SS_ERR_NOT_FOUND, "No analysed track has the id %s.", id);
	else if (v == VIEW_RESULT)
		rc = ss_buf_puts(&out, "\n") == 0 ? ss_h_send_text(req, 200, "application/json", out.data, out.len)
						   : ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	else {
		base_url(req, base);
		json_object *o = v == VIEW_FEATURES ? ss_spotify_features(out.data, out.len, key, base)
						    : ss_spotify_analysis(out.data, out.len);
		rc = o != NULL ? send_obj(req, o) : ss_resp_error(req, SS_ERR_NOMEM, "Out of memory while encoding the answer.");
	}
	ss_buf_free(&out);
	return rc;
}

int ss_handle_audio_features_get(ss_ctx *ctx, ss_request *req)
{
	return get_one(ctx, req, VIEW_FEATURES);
}

int ss_handle_audio_analysis(ss_ctx *ctx, ss_request *req)
{
	char format[16];
	int q = ss_query_get(req->query, "format", format, sizeof format);
	if (q == 0 || (q == 1 && strcmp(format, "spotify") == 0))
		return get_one(ctx, req, VIEW_ANALYSIS);
	if (q == 1 && strcmp(format, "songscope") == 0)
		return get_one(ctx, req, VIEW_RESULT);
	return ss_resp_error(req, SS_ERR_BAD_REQUEST, "format is spotify (the default) or songscope.");
}

int ss_handle_audio_features_list(ss_ctx *ctx, ss_request *req)
{
	char *ids = malloc(IDS_PARAM_MAX);
	if (ids == NULL)
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	int q = ss_query_get(req->query, "ids", ids, IDS_PARAM_MAX);
	int rc;
	if (q != 1 || ids[0] == '\0') {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST,
				   q < 0 ? "ids is malformed or too long: at most %d comma-separated track ids."
					 : "Send ids: a comma-separated list of at most %d track ids.",
				   IDS_MAX);
		free(ids);
		return rc;
	}
	size_t n = 1;
	for (const char *p = ids; *p; p++)
		n += *p == ',';
	if (n > IDS_MAX) {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "At most %d ids per request; received %zu.", IDS_MAX, n);
		free(ids);
		return rc;
	}
	if (ss_h_need_db(ctx, req)) {
		free(ids);
		return 0;
	}
	char base[BASE_URL_MAX];
	base_url(req, base);
	ss_error err;
	ss_error_clear(&err);
	json_object *root = json_object_new_object(), *arr = json_object_new_array_ext((int)n);
	if (root == NULL || arr == NULL || json_object_object_add(root, "audio_features", arr) != 0) {
		json_object_put(arr);
		goto nomem;
	}
	/* walk the commas (strtok would merge empty items): "a,,b" keeps its null in the middle */
	for (char *p = ids;;) {
		char *comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		char key[SS_SHA256_HEX];
		ss_buf out;
		ss_buf_init(&out, 0);
		int f = lookup(ctx, p, SS_SERIES_NONE, key, &out, &err);
		json_object *o = NULL;
		if (f == 1) {
			o = ss_spotify_features(out.data, out.len, key, base);
			if (o == NULL) {
				ss_buf_free(&out);
				goto nomem;
			}
		}
		ss_buf_free(&out);
		if (f < 0) {
			json_object_put(root);
			free(ids);
			return send_err(req, &err);
		}
		if (json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			goto nomem;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	free(ids);
	return send_obj(req, root);
nomem:
	json_object_put(root);
	free(ids);
	return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory while encoding the answer.");
}
