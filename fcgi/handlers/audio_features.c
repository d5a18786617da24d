/* The Spotify-compatible view (API.md "Spotify-compatible view"): Spotify's audio-features object, field for
 * field, rendered from the same cached result as /analyze. A track's id is the first 128 bits of its cache key
 * in base62 (22 characters, core/util/base62.h): stable for the row, the same for everyone who sends the same
 * bytes or URL in the same namespace, and not a row number. The store is read through two calls only:
 * ss_store_cache_key_by_prefix (id -> cache key) and ss_present_cache_get (cache key -> the result object,
 * fcgi/present.h, as /analyze renders it). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/analysis/result.h"
#include "core/store/cache.h"
#include "core/util/base62.h"
#include "core/util/jsonutil.h"
#include "fcgi/handlers.h"
#include "fcgi/present.h"
#include "fcgi/response.h"

#define IDS_MAX 100
#define IDS_PARAM_MAX (IDS_MAX * (SS_BASE62_ID_LEN + 1) + 64) /* 100 ids and their commas, with some slack */
#define BASE_URL_MAX 512
#define NO_LOUDNESS_DB (-60.0) /* what loudness says when nothing was loud enough to measure */

/* A JSON number with at most 10 significant digits (as result_json.c writes them); NaN/Inf as null. */
static int add_num(json_object *o, const char *k, double v)
{
	json_object *n = NULL;
	if (isfinite(v)) {
		char buf[32];
		snprintf(buf, sizeof buf, "%.10g", v == 0.0 ? 0.0 : v);
		n = json_object_new_double_s(v, buf);
		if (n == NULL)
			return -1;
	}
	if (json_object_object_add(o, k, n) != 0) {
		json_object_put(n);
		return -1;
	}
	return 0;
}

/* A number member of the stored result, or NaN when absent, null or not a number. */
static double num_of(json_object *r, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(r, k, &v) || v == NULL)
		return NAN;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return NAN;
	return json_object_get_double(v);
}

static const char *str_of(json_object *r, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(r, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* 0 for an unknown score: Spotify's clients decode these as plain floats. */
static double or0(double v)
{
	return isfinite(v) ? v : 0.0;
}

/* Spotify's time_signature: the beats per bar of ours ("3/4" -> 3), 4 when there is no metre, and 2/4 read as
 * 4 (two bars as one), so the value stays within Spotify's 3..7. */
static int time_signature(const char *ts)
{
	if (ts == NULL || !isdigit((unsigned char)ts[0]))
		return 4;
	int n = atoi(ts);
	if (n == 2)
		return 4;
	return n >= 3 && n <= 7 ? n : 4;
}

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

/* Spotify's audio-features object for the result object text (what ss_present_cache_get appends) of the row with
 * cache_key. Returns a new object, or NULL on ENOMEM or text that is not a JSON object. */
static json_object *features_object(const char *text, size_t len, const char *cache_key, const char *base)
{
	json_object *r = ss_json_parse(text, len, 32);
	if (r == NULL || !json_object_is_type(r, json_type_object)) {
		json_object_put(r);
		return NULL;
	}
	char id[SS_BASE62_ID_LEN + 1], url[BASE_URL_MAX + 64], uri[64];
	if (ss_base62_from_hex128(cache_key, id) != 0) {
		json_object_put(r);
		return NULL;
	}
	/* key and mode: a manual override (/verify) wins, then the analysis; -1 and 0 without a key */
	int key = -1, mode = 0, ki, mi;
	const char *manual_key = str_of(r, "manual_key");
	double k = num_of(r, "key_index"), m = num_of(r, "mode");
	if (manual_key != NULL && ss_key_parse(manual_key, &ki, &mi) == 0) {
		key = ki;
		mode = mi;
	} else if (k >= 0 && k <= 11 && (m == 0 || m == 1)) {
		key = (int)k;
		mode = (int)m;
	}
	double tempo = num_of(r, "manual_bpm");
	if (!(tempo > 0))
		tempo = num_of(r, "bpm");
	double loud = num_of(r, "loudness"), dur = num_of(r, "signal_duration");
	json_object *o = json_object_new_object();
	int bad = o == NULL || add_num(o, "danceability", or0(num_of(r, "danceability"))) ||
		  add_num(o, "energy", or0(num_of(r, "energy"))) || ss_json_add_int(o, "key", key) ||
		  add_num(o, "loudness", isfinite(loud) ? loud : NO_LOUDNESS_DB) || ss_json_add_int(o, "mode", mode) ||
		  add_num(o, "speechiness", num_of(r, "speechiness")) ||
		  add_num(o, "acousticness", or0(num_of(r, "acousticness"))) ||
		  add_num(o, "instrumentalness", num_of(r, "instrumentalness")) ||
		  add_num(o, "liveness", num_of(r, "liveness")) || add_num(o, "valence", or0(num_of(r, "valence"))) ||
		  add_num(o, "tempo", tempo > 0 ? tempo : 0.0) || ss_json_add_string(o, "type", "audio_features") ||
		  ss_json_add_string(o, "id", id);
	if (!bad) {
		snprintf(uri, sizeof uri, "songscope:track:%s", id);
		bad = ss_json_add_string(o, "uri", uri);
	}
	if (!bad) {
		snprintf(url, sizeof url, "%s/v1/audio-features/%s", base, id);
		bad = ss_json_add_string(o, "track_href", url);
	}
	if (!bad) {
		snprintf(url, sizeof url, "%s/v1/audio-analysis/%s", base, id);
		bad = ss_json_add_string(o, "analysis_url", url) ||
		      ss_json_add_int(o, "duration_ms", isfinite(dur) && dur > 0 ? (long long)llround(dur * 1000.0) : 0) ||
		      ss_json_add_int(o, "time_signature", time_signature(str_of(r, "time_signature")));
	}
	json_object_put(r);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
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
		json_object *o = features_object(out.data, out.len, key, base);
		rc = o != NULL ? send_obj(req, o) : ss_resp_error(req, SS_ERR_NOMEM, "Out of memory while encoding the answer.");
	}
	ss_buf_free(&out);
	return rc;
}

/* Look one id up: 1 with the result object text in out and the key in key, 0 unknown (or not an id), -1 err. */
static int lookup(ss_ctx *ctx, const char *id, bool with_beats, char key[SS_SHA256_HEX], ss_buf *out, ss_error *err)
{
	char prefix[33];
	if (ss_base62_to_hex128(id, prefix) != 0)
		return 0;
	int f = ss_store_cache_key_by_prefix(ctx->store, prefix, key, err);
	if (f != 1)
		return f;
	return ss_present_cache_get(ctx->store, key, true, with_beats, out, err);
}

/* The {key} segment of the path. */
static const char *path_id(const ss_request *req)
{
	const char *slash = strrchr(req->path, '/');
	return slash != NULL ? slash + 1 : req->path;
}

/* GET by id: 400 for what cannot be an id, 404 for an id with no row. */
static int get_one(ss_ctx *ctx, ss_request *req, bool analysis)
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
	int rc, f = lookup(ctx, id, analysis, key, &out, &err);
	if (f < 0)
		rc = send_err(req, &err);
	else if (f == 0)
		rc = ss_resp_error(req, SS_ERR_NOT_FOUND, "No analysed track has the id %s.", id);
	else if (analysis)
		rc = ss_buf_puts(&out, "\n") == 0 ? ss_h_send_text(req, 200, "application/json", out.data, out.len)
						   : ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	else {
		base_url(req, base);
		json_object *o = features_object(out.data, out.len, key, base);
		rc = o != NULL ? send_obj(req, o) : ss_resp_error(req, SS_ERR_NOMEM, "Out of memory while encoding the answer.");
	}
	ss_buf_free(&out);
	return rc;
}

int ss_handle_audio_features_get(ss_ctx *ctx, ss_request *req)
{
	return get_one(ctx, req, false);
}

int ss_handle_audio_analysis(ss_ctx *ctx, ss_request *req)
{
	return get_one(ctx, req, true);
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
		int f = lookup(ctx, p, false, key, &out, &err);
		json_object *o = NULL;
		if (f == 1) {
			o = features_object(out.data, out.len, key, base);
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
