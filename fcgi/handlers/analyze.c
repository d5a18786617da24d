/* POST /analyze, /analyze_data, /analyze_batch: the requests' fields, then the "analyse a song" flow
 * (core/song/song.h: cache first; a miss waits for an identical one already in progress instead of repeating it,
 * downloads holding no analysis slot, then takes an analysis slot, queueing for one up to
 * analysis_queue_timeout or 503 busy, to decode, analyse and store), its outcome counted and logged here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/song/song.h"
#include "core/store/cache.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "core/util/timefmt.h"
#include "core/util/utf8.h"
#include "fcgi/handlers.h"
#include "fcgi/present.h"
#include "fcgi/response.h"

#define JSON_BODY_CAP (64 * 1024) /* POST /analyze bodies are a few hundred bytes */
#define TEXT_FIELD_MAX 512        /* title, artist */
#define URL_MAX 4096
#define BATCH_MAX 10

/* A song's stored row appended to out as the API's result object. */
typedef struct render {
	ss_buf *out;
	bool with_beats;
	char *key_out; /* receives the row's cache key (SS_SHA256_HEX bytes) when not NULL */
} render;

static int render_row(void *arg, const ss_cache_row *row, bool cached)
{
	render *r = arg;
	if (r->key_out != NULL)
		snprintf(r->key_out, SS_SHA256_HEX, "%s", row->cache_key ? row->cache_key : "");
	return ss_present_result(r->out, row, cached, r->with_beats ? SS_SERIES_BEATS : SS_SERIES_NONE);
}

/* The log lines of an outcome (the flow itself never logs). */
static void log_outcome(const ss_ctx *ctx, const ss_song_job *j, const char *rid, const ss_song_outcome *o, int rc,
			const ss_error *err)
{
	if (o->slot_wait_ms >= 0 && o->result == SS_SONG_BUSY)
		ss_log_info("%.200s: no analysis slot within analysis_queue_timeout (%g s)", j->preview_url,
			    ctx->cfg->analysis_queue_timeout);
	else if (o->slot_wait_ms >= 0)
		ss_log_debug("%.200s waited %.0f ms for an analysis slot", j->preview_url, o->slot_wait_ms);
	switch (o->result) {
	case SS_SONG_ANALYSED:
		if (rc == 0)
			ss_log_info("analysed %.200s in %.0f ms%s%.64s", j->preview_url, o->analysis_ms,
				    rid ? ", request " : "", rid ? rid : "");
		break;
	case SS_SONG_ANALYSIS_FAILED:
		ss_log_info("analysis of %.200s%s%s failed: %s", j->preview_url, rid ? " request " : "", rid ? rid : "",
			    err->msg);
		break;
	case SS_SONG_FETCH_FAILED:
		ss_log_info("fetch %.200s: %s", j->source, err->msg);
		break;
	case SS_SONG_GAVE_UP:
		ss_log_info("gave up waiting for an identical request for %.200s", j->source);
		break;
	case SS_SONG_SHARED_FAILURE:
		ss_log_info("%.200s: the identical request this one waited for failed: %s", j->preview_url, err->msg);
		break;
	default:
		break;
	}
	if (o->aside.code != SS_OK)
		ss_log_warn("%s", o->aside.msg);
}

/* One song (core/song/song.h): append its result object to out (and its cache key to key_out when not NULL),
 * count and log what happened. Returns 0, or -1 with err (err->code picks the answer; out unchanged). */
static int run_job(ss_ctx *ctx, const ss_song_job *j, const char *rid, ss_buf *out, char *key_out, ss_error *err)
{
	ss_song_env env = {.cfg = ctx->cfg, .store = ctx->store, .adm = ctx->adm, .fetch = ctx->fetch};
	render r = {.out = out, .with_beats = j->with_beats, .key_out = key_out};
	size_t mark = out->len;
	ss_song_outcome o;
	int rc = ss_song_run(&env, j, render_row, &r, &o, err);
	if (rc != 0) {
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
	}
	ss_song_record(ctx->stats, &o);
	log_outcome(ctx, j, rid, &o, rc, err);
	return rc;
}

static int send_job_error(ss_request *req, const ss_error *err)
{
	if (err->code == SS_ERR_BUSY)
		ss_resp_add_header(req, "Retry-After", "2");
	if (err->code == SS_ERR_UNAVAILABLE)
		ss_resp_add_header(req, "Retry-After", "5");
	return ss_resp_error_from(req, err);
}

static int send_buf(ss_request *req, ss_buf *b)
{
	if (ss_buf_puts(b, "\n") != 0)
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	return ss_h_send_text(req, 200, "application/json", b->data, b->len);
}

/* A string member (absent → def, JSON null → def); 1 = wrong type or too long (answered). */
static int opt_string(ss_request *req, json_object *o, const char *name, const char *def, size_t max,
		      const char **out)
{
	json_object *v;
	*out = def;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) > max) {
		ss_resp_error(req, SS_ERR_BAD_REQUEST, "'%s' must be a string of at most %zu bytes.", name, max);
		return 1;
	}
	*out = json_object_get_string(v);
	if ((*out)[0] == '\0')
		*out = def;
	return 0;
}

static bool json_truthy(json_object *v)
{
	if (v == NULL)
		return false;
	switch (json_object_get_type(v)) {
	case json_type_boolean: return json_object_get_boolean(v);
	case json_type_int: return json_object_get_int64(v) != 0;
	case json_type_double: return json_object_get_double(v) != 0;
	case json_type_string: return ss_h_truthy(json_object_get_string(v));
	default: return false;
	}
}

/* Header `name` as UTF-8 text in out ("" when absent): 0, or -1 when longer than TEXT_FIELD_MAX bytes as UTF-8. */
static int header_text(ss_request *req, const char *name, char out[TEXT_FIELD_MAX + 1])
{
	const char *v = ss_req_header(req, name);
	return ss_utf8_or_latin1(v ? v : "", out, TEXT_FIELD_MAX + 1) < 0 ? -1 : 0;
}

int ss_h_analyze_url(ss_ctx *ctx, ss_request *req, ss_buf *out, char key[SS_SHA256_HEX], int *rc_out)
{
	ss_error err;
	ss_error_clear(&err);
	int rc, answered = 1;
	json_object *o = ss_h_read_json(ctx, req, JSON_BODY_CAP, json_type_object,
					"Send a JSON object: {\"url\": \"https://...\", \"title\": \"...\", \"artist\": \"...\"}.", &rc);
	if (o == NULL) {
		*rc_out = rc;
		return 1;
	}
	const char *url, *title, *artist, *ns_in;
	if (opt_string(req, o, "url", NULL, URL_MAX, &url) || (url == NULL && opt_string(req, o, "audio_url", NULL, URL_MAX, &url)) ||
	    opt_string(req, o, "title", "Unknown", TEXT_FIELD_MAX, &title) ||
	    opt_string(req, o, "artist", "Unknown", TEXT_FIELD_MAX, &artist) ||
	    opt_string(req, o, "cache_namespace", NULL, 64, &ns_in) ||
	    (ns_in == NULL && opt_string(req, o, "cacheNamespace", NULL, 64, &ns_in)))
		goto done;
	if (url == NULL) {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "Missing preview URL: send 'url' (or 'audio_url').");
		goto done;
	}
	const char *hns = ss_req_header(req, "X-Cache-Namespace");
	char ns[SS_NAMESPACE_MAX + 1];
	if (ss_h_namespace(req, hns && hns[0] ? hns : ns_in, "default", false, ns, NULL) != 0)
		goto done;
	json_object *v;
	bool force = (json_object_object_get_ex(o, "force_reanalyze", &v) && json_truthy(v)) ||
		     (json_object_object_get_ex(o, "bypass_cache", &v) && json_truthy(v)) || ss_h_force_header(req);
	bool with_beats = ss_h_want_beats(req);
	if (ss_h_need_db(ctx, req))
		goto done;

	const char *rid = ss_req_header(req, "X-Client-Request-Id");
	ss_song_job j = {.ns = ns, .kind = "url", .source_kind = "url", .source = url, .preview_url = url,
			 .title = title, .artist = artist, .force = force, .with_beats = with_beats};
	if (run_job(ctx, &j, rid != NULL && strlen(rid) <= 128 ? rid : NULL, out, key, &err) != 0)
		rc = send_job_error(req, &err);
	else
		answered = 0;
done:
	json_object_put(o);
	*rc_out = rc;
	return answered;
}

int ss_handle_analyze(ss_ctx *ctx, ss_request *req)
{
	char key[SS_SHA256_HEX];
	ss_buf out;
	ss_buf_init(&out, 0);
	int rc;
	if (ss_h_analyze_url(ctx, req, &out, key, &rc) == 0)
		rc = send_buf(req, &out);
	ss_buf_free(&out);
	return rc;
}

int ss_h_analyze_bytes(ss_ctx *ctx, ss_request *req, ss_buf *out, char key[SS_SHA256_HEX], int *rc_out)
{
	*rc_out = 0;
	ss_error err;
	ss_error_clear(&err);
	char title[TEXT_FIELD_MAX + 1], artist[TEXT_FIELD_MAX + 1];
	if (header_text(req, "X-Song-Title", title) != 0 || header_text(req, "X-Song-Artist", artist) != 0) {
		*rc_out = ss_resp_error(req, SS_ERR_BAD_REQUEST,
					"X-Song-Title and X-Song-Artist are limited to %d bytes of UTF-8.", TEXT_FIELD_MAX);
		return 1;
	}
	const char *rid = ss_req_header(req, "X-Client-Request-Id");
	if (rid != NULL && strlen(rid) > 128)
		rid = NULL;
	char ns[SS_NAMESPACE_MAX + 1];
	bool force, with_beats;
	if (ss_h_upload_opts(req, ns, &force, &with_beats) != 0)
		return 1;

	ss_buf body;
	ss_buf_init(&body, 0);
	if (ss_req_read_body(req, (size_t)ctx->cfg->max_body_bytes, &body, &err) != 0) {
		ss_buf_free(&body);
		*rc_out = ss_resp_error_from(req, &err);
		return 1;
	}
	if (body.len == 0) {
		ss_buf_free(&body);
		*rc_out = ss_resp_error(req, SS_ERR_BAD_REQUEST,
					"No audio data provided: send the file as the request body.");
		return 1;
	}
	if (ss_h_need_db(ctx, req)) {
		ss_buf_free(&body);
		return 1;
	}
	char hash[SS_SHA256_HEX], preview[SS_SHA256_HEX + 8];
	ss_sha256_hex(body.data, body.len, hash);
	snprintf(preview, sizeof preview, "sha256:%s", hash);
	ss_song_job j = {.ns = ns, .kind = "sha256", .source_kind = "upload", .source = hash, .preview_url = preview,
			 .title = title[0] ? title : "Unknown", .artist = artist[0] ? artist : "Unknown",
			 .force = force, .with_beats = with_beats, .data = body.data, .len = body.len};
	int answered = 0;
	if (run_job(ctx, &j, rid, out, key, &err) != 0) {
		*rc_out = send_job_error(req, &err);
		answered = 1;
	}
	ss_buf_free(&body);
	return answered;
}

int ss_handle_analyze_data(ss_ctx *ctx, ss_request *req)
{
	char key[SS_SHA256_HEX];
	ss_buf out;
	ss_buf_init(&out, 0);
	int rc;
	if (ss_h_analyze_bytes(ctx, req, &out, key, &rc) == 0)
		rc = send_buf(req, &out);
	ss_buf_free(&out);
	return rc;
}

static int item_error(ss_buf *out, ss_code code, const char *msg, size_t index)
{
	json_object *e = json_object_new_object();
	if (e == NULL || ss_json_add_string(e, "error", ss_code_name(code)) || ss_json_add_string(e, "message", msg) ||
	    ss_json_add_int(e, "index", (long long)index)) {
		json_object_put(e);
		return -1;
	}
	size_t len;
	const char *t = ss_json_text(e, &len);
	int rc = t ? ss_buf_append(out, t, len) : -1;
	json_object_put(e);
	return rc;
}

int ss_handle_analyze_batch(ss_ctx *ctx, ss_request *req)
{
	ss_error err;
	ss_error_clear(&err);
	char ns[SS_NAMESPACE_MAX + 1];
	bool force, with_beats;
	if (ss_h_upload_opts(req, ns, &force, &with_beats) != 0)
		return 0;

	static const char usage[] = "Send a JSON array of {audio_data (base64), title, artist}.";
	int rc;
	json_object *arr = ss_h_read_json(ctx, req, SIZE_MAX, json_type_array, usage, &rc);
	if (arr == NULL)
		return rc;
	if (json_object_array_length(arr) == 0) {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "%s", usage);
		goto done;
	}
	size_t n = json_object_array_length(arr);
	if (n > BATCH_MAX) {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "At most %d files per batch; received %zu.", BATCH_MAX, n);
		goto done;
	}
	if (ss_h_need_db(ctx, req))
		goto done;
	ss_buf out;
	ss_buf_init(&out, 0);
	if (ss_buf_puts(&out, "[") != 0)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && ss_buf_puts(&out, ",") != 0)
			goto nomem;
		json_object *it = json_object_array_get_idx(arr, i), *v;
		if (!json_object_is_type(it, json_type_object) || !json_object_object_get_ex(it, "audio_data", &v) ||
		    !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
			if (item_error(&out, SS_ERR_BAD_REQUEST, "Missing audio_data (base64 string).", i) != 0)
				goto nomem;
			continue;
		}
		const char *title = "Unknown", *artist = "Unknown";
		json_object *t;
		if (json_object_object_get_ex(it, "title", &t) && json_object_is_type(t, json_type_string) &&
		    json_object_get_string_len(t) > 0 && json_object_get_string_len(t) <= TEXT_FIELD_MAX)
			title = json_object_get_string(t);
		if (json_object_object_get_ex(it, "artist", &t) && json_object_is_type(t, json_type_string) &&
		    json_object_get_string_len(t) > 0 && json_object_get_string_len(t) <= TEXT_FIELD_MAX)
			artist = json_object_get_string(t);
		const char *b64 = json_object_get_string(v);
		size_t b64len = (size_t)json_object_get_string_len(v);
		size_t maxbin = b64len / 4 * 3 + 3;
		unsigned char *bin = malloc(maxbin);
		if (bin == NULL)
			goto nomem;
		size_t binlen = 0;
		const char *end = NULL;
		if (sodium_base642bin(bin, maxbin, b64, b64len, " \t\r\n", &binlen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    (end != NULL && end != b64 + b64len) || binlen == 0) {
			free(bin);
			if (item_error(&out, SS_ERR_BAD_REQUEST, "audio_data is not valid base64.", i) != 0)
				goto nomem;
			continue;
		}
		char hash[SS_SHA256_HEX], preview[SS_SHA256_HEX + 8];
		ss_sha256_hex(bin, binlen, hash);
		snprintf(preview, sizeof preview, "sha256:%s", hash);
		ss_song_job j = {.ns = ns, .kind = "sha256", .source_kind = "upload", .source = hash,
				 .preview_url = preview, .title = title, .artist = artist, .force = force,
				 .with_beats = with_beats, .data = bin, .len = binlen};
		size_t mark = out.len;
		ss_error_clear(&err);
		int jr = run_job(ctx, &j, NULL, &out, NULL, &err);
		free(bin);
		if (jr != 0) {
			out.len = mark;
			out.data[mark] = '\0';
			if (err.code == SS_ERR_NOMEM)
				goto nomem;
			if (ss_code_http_status(err.code) == 500)
				ss_log_error("batch item %zu: %s", i, err.msg);
			if (item_error(&out, err.code, ss_resp_public_message(err.code, err.msg), i) != 0)
				goto nomem;
		}
	}
	if (ss_buf_puts(&out, "]") != 0)
		goto nomem;
	rc = send_buf(req, &out);
	ss_buf_free(&out);
	goto done;
nomem:
	ss_buf_free(&out);
	rc = ss_resp_error(req, SS_ERR_NOMEM, "Out of memory while answering the batch.");
done:
	json_object_put(arr);
	return rc;
}
