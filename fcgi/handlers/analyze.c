/* POST /analyze, /analyze_data, /analyze_batch: cache first; a miss waits for an identical one already in
 * progress instead of repeating it, downloads (holding no analysis slot), then takes an analysis slot,
 * queueing for one up to analysis_queue_timeout (or 503 busy), to decode, analyse and store. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result_json.h"
#include "core/limits/admission.h"
#include "core/net/fetch.h"
#include "core/store/cache.h"
#include "core/store/stats.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "core/util/timefmt.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"

#define JSON_BODY_CAP (64 * 1024) /* POST /analyze bodies are a few hundred bytes */
#define TEXT_FIELD_MAX 512        /* title, artist */
#define URL_MAX 4096
#define BATCH_MAX 10
#define CHECKPOINT_WAL_BYTES (16LL * 1024 * 1024)

typedef struct job {
	const char *ns;
	const char *kind;        /* "url" or "sha256" (cache key part) */
	const char *source_kind; /* "url" or "upload" (column) */
	const char *source;      /* URL or content hash */
	const char *preview_url;
	const char *title;
	const char *artist;
	bool force;
	bool with_beats;
	const void *data; /* upload bytes; NULL for a URL job */
	size_t len;
	const char *request_id;
	char *key_out; /* receives the cache key (SS_SHA256_HEX bytes) when not NULL */
} job;

static void touch_stats(ss_ctx *ctx)
{
	ss_stats_set(ctx->stats, SS_STAT_LAST_UPDATED, (uint64_t)time(NULL));
}

/* Analyse bytes and store the result under key. */
static int analyse_and_store(ss_ctx *ctx, const job *j, const char *key, const void *data, size_t len,
			     const ss_analysis_opts *opts, ss_error *err)
{
	ss_result r;
	ss_result_init(&r);
	if (ss_analyze_buffer(data, len, opts, &r, err) != 0) {
		ss_result_free(&r);
		return -1;
	}
	json_object *o = json_object_new_object();
	ss_buf beats;
	ss_buf_init(&beats, 0);
	int rc = -1;
	if (o == NULL || ss_result_to_json(&r, false, o) != 0 || ss_result_beats_text(&r, &beats) != 0) {
		ss_error_set(err, SS_ERR_NOMEM, "Out of memory while encoding the result.");
		goto out;
	}
	size_t tlen;
	const char *text = ss_json_text(o, &tlen);
	if (text == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "Out of memory while encoding the result.");
		goto out;
	}
	ss_cache_put_args a = {.cache_key = key, .ns = j->ns, .source_kind = j->source_kind, .source = j->source,
			       .preview_url = j->preview_url, .title = j->title, .artist = j->artist, .result = &r,
			       .result_json = text, .beats_json = beats.data};
	rc = ss_cache_put(ctx->db, &a, NULL, err);
out:
	json_object_put(o);
	ss_buf_free(&beats);
	ss_result_free(&r);
	return rc;
}

/* Errors that belong to the source itself (the URL's server, the bytes): a request that waited for an
 * identical attempt answers the same instead of repeating it. The rest (busy, database, internal) say
 * nothing about the source, and a waiter then tries on its own. */
static bool shared_error(ss_code c)
{
	switch (c) {
	case SS_ERR_BAD_REQUEST:
	case SS_ERR_FORBIDDEN_URL:
	case SS_ERR_DOWNLOAD:
	case SS_ERR_TIMEOUT:
	case SS_ERR_TOO_LARGE:
	case SS_ERR_UNSUPPORTED_MEDIA:
	case SS_ERR_UNPROCESSABLE:
		return true;
	default:
		return false;
	}
}

/* Take an analysis slot: at once when one is free, else wait for one up to analysis_queue_timeout seconds
 * holding a queue seat. Without a seat (every one taken: a responder must stay free for cache hits and
 * /health) or after the wait, 503 busy. Returns 0 (slot held) or -1 with err. */
static int take_slot(ss_ctx *ctx, const job *j, ss_error *err)
{
	int a = ss_admission_acquire(ctx->adm, err);
	const double queue_timeout = ctx->cfg->analysis_queue_timeout;
	if (a == 1 && queue_timeout > 0) {
		int seat = ss_admission_take_seat(ctx->adm, ss_config_queue_seats(ctx->cfg), err);
		if (seat < 0)
			return -1;
		if (seat == 0) {
			double t0 = ss_time_mono();
			a = ss_admission_acquire_wait(ctx->adm, queue_timeout, err);
			ss_admission_leave_seat(ctx->adm);
			if (a == 0)
				ss_log_debug("%.200s waited %.0f ms for an analysis slot", j->preview_url,
					     (ss_time_mono() - t0) * 1000.0);
			else if (a == 1)
				ss_log_info("%.200s: no analysis slot within analysis_queue_timeout (%g s)", j->preview_url,
					    queue_timeout);
		}
	}
	if (a < 0)
		return -1;
	if (a == 1) {
		ss_stats_add(ctx->stats, SS_STAT_BUSY, 1);
		return ss_error_set(err, SS_ERR_BUSY, "All %d analysis slots are busy; retry shortly.",
				    ss_admission_slots(ctx->adm));
	}
	return 0;
}

/* Decode, analyse, store and render, holding an analysis slot for exactly that CPU work. */
static int analyse_in_slot(ss_ctx *ctx, const job *j, const char *key, const void *data, size_t len,
			   const ss_analysis_opts *opts, ss_buf *out, ss_error *err)
{
	if (take_slot(ctx, j, err) != 0)
		return -1;
	double t0 = ss_time_mono();
	int rc = analyse_and_store(ctx, j, key, data, len, opts, err);
	ss_admission_release(ctx->adm);
	if (rc != 0) {
		ss_stats_add(ctx->stats, SS_STAT_FAILED, 1);
		ss_log_info("analysis of %.200s%s%s failed: %s", j->preview_url, j->request_id ? " request " : "",
			    j->request_id ? j->request_id : "", err->msg);
		return -1;
	}
	ss_log_info("analysed %.200s in %.0f ms%s%.64s", j->preview_url, (ss_time_mono() - t0) * 1000.0,
		    j->request_id ? ", request " : "", j->request_id ? j->request_id : "");
	ss_stats_add(ctx->stats, SS_STAT_ANALYSES, 1);
	ss_stats_add(ctx->stats, SS_STAT_MISSES, 1);
	touch_stats(ctx);
	ss_db_checkpoint(ctx->db, CHECKPOINT_WAL_BYTES);
	int f = ss_cache_render(ctx->db, key, false, j->with_beats, out, err);
	if (f == 0)
		ss_error_set(err, SS_ERR_INTERNAL, "The result was stored but could not be read back.");
	return f == 1 ? 0 : -1;
}

/* One job: append its result object to out. Returns 0, or -1 with err (err->code picks the answer).
 *
 * A miss first takes the key's de-duplication lock (waiting, holding nothing else, for an identical request
 * in progress), then downloads a URL holding a download slot but no analysis slot, and takes an analysis
 * slot only to decode and analyse: a slow upstream ties up one responder and one download slot, never the
 * CPU admission, and never every responder. Every wait counts against this request's own deadline: a URL
 * request gets fetch_timeout_seconds from its arrival to have its bytes, and dedup_wait_seconds more for an
 * identical analysis to finish; past that it answers 504 timeout. An upload waits dedup_wait_seconds for
 * its twin, then analyses on its own. */
static int run_job(ss_ctx *ctx, const job *j, ss_buf *out, ss_error *err)
{
	const double arrived = ss_time_mono();
	ss_analysis_opts opts;
	char tag[64], key[SS_SHA256_HEX];
	ss_analysis_opts_default(&opts);
	opts.max_seconds = ctx->cfg->max_analysis_seconds;
	ss_analysis_opts_tag(&opts, tag, sizeof tag);
	ss_cache_key(j->ns, j->kind, j->source, tag, key);
	if (j->key_out != NULL)
		memcpy(j->key_out, key, SS_SHA256_HEX);

	if (!j->force) {
		int rc = ss_cache_render(ctx->db, key, true, j->with_beats, out, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			ss_stats_add(ctx->stats, SS_STAT_HITS, 1);
			touch_stats(ctx);
			return 0;
		}
	}

	/* A miss: CPU work ahead. With every slot taken and no seat left in the queue for one (or no queue),
	 * refuse at once rather than download for nothing. */
	if (ctx->adm == NULL)
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "Analysis admission is unavailable on this responder.");
	int used = ss_admission_in_use(ctx->adm);
	if (used >= ss_admission_slots(ctx->adm) &&
	    (!(ctx->cfg->analysis_queue_timeout > 0) ||
	     ss_admission_queued(ctx->adm) >= ss_config_queue_seats(ctx->cfg))) {
		ss_stats_add(ctx->stats, SS_STAT_BUSY, 1);
		return ss_error_set(err, SS_ERR_BUSY, "All %d analysis slots are busy; retry shortly.",
				    ss_admission_slots(ctx->adm));
	}

	const bool is_url = j->data == NULL;
	const double fetch_deadline = arrived + (is_url ? (double)ctx->cfg->fetch_timeout_seconds : 0.0);
	const double deadline = fetch_deadline + (double)ctx->cfg->dedup_wait_seconds;
	int rc = -1;
	bool noted = false; /* the outcome is someone else's (shared) or the key is not ours: record nothing */
	int lk = ss_admission_lock_key(ctx->adm, key, deadline - ss_time_mono(), err);
	if (lk < 0)
		return -1;
	if (lk == 2) {
		noted = true;
		if (is_url) {
			ss_log_info("gave up waiting for an identical request for %.200s", j->source);
			return ss_error_set(err, SS_ERR_TIMEOUT,
					    "An identical request for this URL was still in progress after this request's "
					    "%d s; retry shortly.",
					    ctx->cfg->fetch_timeout_seconds + ctx->cfg->dedup_wait_seconds);
		}
		/* An upload whose twin takes too long: analyse it here, without de-duplication. */
	}
	ss_buf dl;
	ss_buf_init(&dl, 0);
	if (lk == 1) {
		/* An identical request was in progress: its result is most likely stored now, or it failed for a
		 * reason this request shares (the same URL, the same bytes). */
		ss_stats_add(ctx->stats, SS_STAT_DEDUP_WAITS, 1);
		if (!j->force) {
			int h = ss_cache_render(ctx->db, key, true, j->with_beats, out, err);
			if (h < 0)
				goto out;
			if (h == 1) {
				ss_stats_add(ctx->stats, SS_STAT_HITS, 1);
				touch_stats(ctx);
				rc = 0;
				noted = true;
				goto out;
			}
		}
		int f = ss_admission_failure_since(ctx->adm, key, arrived, err);
		if (f == 1) {
			ss_log_info("%.200s: the identical request this one waited for failed: %s", j->preview_url, err->msg);
			noted = true;
			goto out;
		}
	}
	const void *data = j->data;
	size_t len = j->len;
	if (is_url) {
		if (ctx->fetch == NULL) {
			ss_error_set(err, SS_ERR_UNAVAILABLE, "The URL fetcher is unavailable on this responder.");
			goto out;
		}
		/* A download slot keeps slow upstreams from taking every responder. */
		int d = ss_admission_acquire_download(ctx->adm, ss_config_download_slots(ctx->cfg), err);
		if (d < 0)
			goto out;
		if (d == 1) {
			ss_stats_add(ctx->stats, SS_STAT_BUSY, 1);
			ss_error_set(err, SS_ERR_BUSY, "All %d download slots are busy; retry shortly.",
				     ss_config_download_slots(ctx->cfg));
			goto out;
		}
		int fr = ss_fetch_url_within(ctx->fetch, j->source, fetch_deadline - ss_time_mono(), &dl, err);
		ss_admission_release_download(ctx->adm);
		if (fr != 0) {
			ss_stats_add(ctx->stats, SS_STAT_FAILED, 1);
			ss_log_info("fetch %.200s: %s", j->source, err->msg);
			goto out;
		}
		data = dl.data;
		len = dl.len;
	}
	rc = analyse_in_slot(ctx, j, key, data, len, &opts, out, err);
out:
	ss_buf_free(&dl);
	if (!noted) {
		/* Tell whoever waited for this attempt how it ended (a success is in the cache). */
		ss_error werr;
		if (ss_admission_note_outcome(ctx->adm, key, rc != 0 && shared_error(err->code) ? err : NULL, &werr) != 0)
			ss_log_warn("%s", werr.msg);
	}
	ss_admission_unlock_key(ctx->adm);
	return rc;
}

static int send_job_error(ss_request *req, const ss_error *err)
{
	if (err->code == SS_ERR_BUSY)
		ss_resp_add_header(req, "Retry-After", "2");
	if (err->code == SS_ERR_UNAVAILABLE)
		ss_resp_add_header(req, "Retry-After", "5");
	if (err->code == SS_ERR_DB || err->code == SS_ERR_IO || err->code == SS_ERR_INTERNAL)
		ss_log_error("%s %s: %s", ss_req_param(req, "REQUEST_METHOD"), req->path, err->msg);
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

static bool header_len_ok(const char *s, size_t max)
{
	return s == NULL || strlen(s) <= max;
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
	job j = {.ns = ns, .kind = "url", .source_kind = "url", .source = url, .preview_url = url, .title = title,
		 .artist = artist, .force = force, .with_beats = with_beats,
		 .request_id = rid != NULL && strlen(rid) <= 128 ? rid : NULL, .key_out = key};
	if (run_job(ctx, &j, out, &err) != 0)
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
	const char *title = ss_req_header(req, "X-Song-Title");
	const char *artist = ss_req_header(req, "X-Song-Artist");
	const char *rid = ss_req_header(req, "X-Client-Request-Id");
	if (!header_len_ok(title, TEXT_FIELD_MAX) || !header_len_ok(artist, TEXT_FIELD_MAX)) {
		*rc_out = ss_resp_error(req, SS_ERR_BAD_REQUEST, "X-Song-Title and X-Song-Artist are limited to %d bytes.",
					TEXT_FIELD_MAX);
		return 1;
	}
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
	job j = {.ns = ns, .kind = "sha256", .source_kind = "upload", .source = hash, .preview_url = preview,
		 .title = title && title[0] ? title : "Unknown", .artist = artist && artist[0] ? artist : "Unknown",
		 .force = force, .with_beats = with_beats, .data = body.data, .len = body.len, .request_id = rid,
		 .key_out = key};
	int answered = 0;
	if (run_job(ctx, &j, out, &err) != 0) {
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
		job j = {.ns = ns, .kind = "sha256", .source_kind = "upload", .source = hash, .preview_url = preview,
			 .title = title, .artist = artist, .force = force, .with_beats = with_beats, .data = bin,
			 .len = binlen};
		size_t mark = out.len;
		ss_error_clear(&err);
		int jr = run_job(ctx, &j, &out, &err);
		free(bin);
		if (jr != 0) {
			out.len = mark;
			out.data[mark] = '\0';
			if (err.code == SS_ERR_NOMEM)
				goto nomem;
			if (err.code == SS_ERR_DB || err.code == SS_ERR_INTERNAL)
				ss_log_error("batch item %zu: %s", i, err.msg);
			if (item_error(&out, err.code, err.msg, i) != 0)
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
