/* libFuzzer target: requests through the real handlers of POST /analyze (JSON), /analyze_data (raw bytes and
 * X-Song-* headers), /analyze_batch (JSON array with base64 audio), /verify (JSON) and GET /cache, /cache/search,
 * /cache/export (query strings), with their own field checks, against a real SQLite file in a temporary
 * directory holding a few cached rows. No analysis or download runs: this context has no analysis slots or
 * fetcher, so an analysis that passes every check ends in 503 "unavailable" (analyze; batch items). Input: one
 * control byte (low three bits pick the handler, the rest the body fragment size), "NAME=value" CGI lines, an
 * empty line, the body. Checked: the HTTP contract of every answer (fuzz_fcgi.h), the statuses each handler may
 * give, that input with a field the handler must refuse (wrong type, too long, bad namespace, bad hash, bpm out
 * of range, unknown key) is refused with 400, that a URL containing NUL (\u0000) is never accepted, per batch
 * item an error object with its index, and that every search result contains the search text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/analysis/result.h"
#include "core/analysis/result_json.h"
#include "core/config/config.h"
#include "core/store/cache.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "fcgi/context.h"
#include "fcgi/handlers.h"
#include "fcgi/request.h"
#include "tests/fixtures/scratch.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_fcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static ss_config cfg;
static ss_ctx ctx;
static char tmpdir[256];

static void cleanup(void)
{
	ss_store_close(ctx.store);
	ctx.store = NULL;
	ss_scratch_remove(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ss_log_set_level(SS_LOG_ERROR);
	FZ_ASSERT(ss_scratch_path(tmpdir, sizeof tmpdir, "ssfuzz-XXXXXX") == 0 && mkdtemp(tmpdir) != NULL,
		  "a temporary directory");
	ss_config_defaults(&cfg);
	snprintf(cfg.database, sizeof cfg.database, "%s/songscope.db", tmpdir);
	snprintf(cfg.state_file, sizeof cfg.state_file, "%s/songscope.state", tmpdir);
	cfg.max_body_bytes = 1 << 20;
	cfg.auth = SS_AUTH_OFF;
	ctx.cfg = &cfg;
	ss_store_params sp;
	ss_store_params_from_config(&cfg, &sp);
	ss_error oerr;
	FZ_ASSERT(ss_store_open(&sp, &ctx.store, &oerr) == 0, oerr.msg);
	atexit(cleanup);
	static const char *const rows[][4] = {{"default", "https://e.com/a", "Song One", "Artist"},
					      {"default", "https://e.com/b", "100% Pure_Love", "A\\B"},
					      {"default", "https://e.com/c", "caf\xc3\xa9 \xc3\xbc", "=HYPERLINK(1)"},
					      {"other", "https://e.com/a", "Other Song", "Other, \"Artist\""}};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		ss_result r;
		ss_result_init(&r);
		r.bpm = 120.5 + (double)i;
		json_object *o = json_object_new_object();
		size_t tl;
		FZ_ASSERT(o != NULL && ss_result_to_json(&r, false, o) == 0, "out of memory");
		char key[SS_SHA256_HEX];
		ss_cache_key(rows[i][0], "url", rows[i][1], "fuzz", key);
		ss_cache_put_args a = {.cache_key = key, .ns = rows[i][0], .source_kind = "url", .source = rows[i][1],
				       .preview_url = rows[i][1], .title = rows[i][2], .artist = rows[i][3], .result = &r,
				       .result_json = ss_json_text(o, &tl), .beats_json = "[]"};
		ss_error err;
		FZ_ASSERT(ss_store_cache_put(ctx.store, &a, NULL, &err) == 0, err.msg);
		json_object_put(o);
	}
	return 0;
}

/* A string member that the handler must refuse: present, not null, and not a string of at most max bytes. */
static bool bad_string(json_object *o, const char *name, size_t max)
{
	json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return false;
	return !json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) > max;
}

/* A string member with an embedded NUL (a "\u0000" escape). */
static bool has_nul(json_object *o, const char *name)
{
	json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return false;
	return strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v);
}

static bool ns_ok(const char *s)
{
	return s == NULL || s[0] == '\0' || ss_cache_namespace_valid(s);
}

static void check_analyze(const fz_request *q, const fz_response *r)
{
	FZ_ASSERT(r->status == 400 || r->status == 413 || r->status == 503, "/analyze: 400, 413 or 503");
	json_object *o = fz_json_parse((const char *)q->body, q->body_len);
	if (r->status == 503) {
		FZ_ASSERT(strcmp(r->error, "unavailable") == 0, "503 only for the missing analysis slots");
		FZ_ASSERT(o != NULL && json_object_is_type(o, json_type_object), "accepted bodies are objects");
		json_object *url;
		FZ_ASSERT(json_object_object_get_ex(o, "url", &url) || json_object_object_get_ex(o, "audio_url", &url),
			  "an accepted body has a URL");
		FZ_ASSERT(!bad_string(o, "url", 4096) && !bad_string(o, "title", 512) && !bad_string(o, "artist", 512) &&
				  !bad_string(o, "cache_namespace", 64),
			  "fields of the wrong type or too long are refused");
		FZ_ASSERT(!has_nul(o, "url") && !has_nul(o, "audio_url"), "a URL with NUL is refused");
		const char *h = fz_env(q, "HTTP_X_CACHE_NAMESPACE");
		FZ_ASSERT(ns_ok(h), "a bad X-Cache-Namespace is refused");
	}
	json_object_put(o);
}

static void check_data(const fz_request *q, const fz_response *r)
{
	FZ_ASSERT(r->status == 400 || r->status == 413 || r->status == 503, "/analyze_data: 400, 413 or 503");
	if (r->status == 503) {
		FZ_ASSERT(strcmp(r->error, "unavailable") == 0, "503 only for the missing analysis slots");
		FZ_ASSERT(q->body_len > 0, "an empty upload is refused");
		const char *t = fz_env(q, "HTTP_X_SONG_TITLE"), *a = fz_env(q, "HTTP_X_SONG_ARTIST");
		FZ_ASSERT((t == NULL || strlen(t) <= 512) && (a == NULL || strlen(a) <= 512), "long titles are refused");
		FZ_ASSERT(ns_ok(fz_env(q, "HTTP_X_CACHE_NAMESPACE")), "a bad X-Cache-Namespace is refused");
	}
}

static void check_batch(const fz_request *q, const fz_response *r)
{
	FZ_ASSERT(r->status == 200 || r->status == 400 || r->status == 413, "/analyze_batch: 200, 400 or 413");
	if (r->status != 200)
		return;
	json_object *in = fz_json_parse((const char *)q->body, q->body_len);
	FZ_ASSERT(in != NULL && json_object_is_type(in, json_type_array), "an accepted batch is an array");
	size_t n = json_object_array_length(in);
	FZ_ASSERT(n >= 1 && n <= 10, "1 to 10 items");
	FZ_ASSERT(json_object_is_type(r->json, json_type_array) && json_object_array_length(r->json) == n,
		  "one answer per item");
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(in, i), *a = json_object_array_get_idx(r->json, i), *e, *ix, *v;
		FZ_ASSERT(json_object_object_get_ex(a, "error", &e) && json_object_object_get_ex(a, "index", &ix) &&
				  json_object_is_type(ix, json_type_int) && json_object_get_int64(ix) == (int64_t)i,
			  "each item answers an error with its index");
		bool has_data = json_object_is_type(it, json_type_object) && json_object_object_get_ex(it, "audio_data", &v) &&
				json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0;
		const char *code = json_object_get_string(e);
		FZ_ASSERT(strcmp(code, "bad_request") == 0 || strcmp(code, "unavailable") == 0,
			  "items fail as bad_request or unavailable here");
		if (!has_data)
			FZ_ASSERT(strcmp(code, "bad_request") == 0, "an item without audio_data is refused");
	}
	json_object_put(in);
}

static void check_verify(const fz_request *q, const fz_response *r)
{
	FZ_ASSERT(r->status == 200 || r->status == 400 || r->status == 404 || r->status == 413,
		  "/verify: 200, 400, 404 or 413");
	if (r->status != 404 && r->status != 200)
		return;
	json_object *o = fz_json_parse((const char *)q->body, q->body_len), *v;
	FZ_ASSERT(o != NULL && json_object_is_type(o, json_type_object), "accepted bodies are objects");
	const char *url = NULL, *sha = NULL;
	if (json_object_object_get_ex(o, "url", &v) && json_object_is_type(v, json_type_string))
		url = json_object_get_string(v);
	if (json_object_object_get_ex(o, "content_sha256", &v) && json_object_is_type(v, json_type_string))
		sha = json_object_get_string(v);
	bool has_url = url != NULL && url[0] != '\0', has_sha = sha != NULL && sha[0] != '\0';
	FZ_ASSERT(has_url != has_sha, "exactly one of url and content_sha256");
	FZ_ASSERT(!has_sha || ss_sha256_hex_valid(sha), "content_sha256 is 64 hex digits");
	FZ_ASSERT(!has_nul(o, "url"), "a URL with NUL is refused");
	if (json_object_object_get_ex(o, "manual_bpm", &v) && v != NULL) {
		FZ_ASSERT(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int),
			  "manual_bpm is a number");
		double b = json_object_get_double(v);
		FZ_ASSERT(b > 0 && b <= 1000, "manual_bpm in (0, 1000]");
	}
	if (json_object_object_get_ex(o, "manual_key", &v) && v != NULL) {
		int k, m;
		FZ_ASSERT(json_object_is_type(v, json_type_string) && ss_key_parse(json_object_get_string(v), &k, &m) == 0,
			  "manual_key parses");
	}
	if (json_object_object_get_ex(o, "bpm_notes", &v) && v != NULL)
		FZ_ASSERT(json_object_is_type(v, json_type_string) && json_object_get_string_len(v) <= 1000,
			  "bpm_notes is a string of at most 1000 bytes");
	json_object_put(o);
}

/* GET /cache, /cache/search, /cache/export: 200 or 400; a listing is an array of rows; every search result
 * holds the search text (ASCII case-insensitive) in its title or artist; a search text that is not UTF-8 is 400. */
static void check_listing(const fz_request *q, const fz_response *r, int which)
{
	FZ_ASSERT(r->status == 200 || r->status == 400, "listings: 200 or 400");
	char text[257];
	const char *qs = fz_env(q, "QUERY_STRING");
	if (which != 5 || ss_query_get(qs ? qs : "", "q", text, sizeof text) != 1)
		text[0] = '\0';
	FZ_ASSERT(fz_utf8_valid(text, strlen(text)) || r->status == 400, "a search text that is not UTF-8 is refused");
	if (r->status != 200 || which == 6)
		return;
	FZ_ASSERT(json_object_is_type(r->json, json_type_array), "a listing is an array");
	if (which != 5)
		return;
	for (size_t i = 0; i < json_object_array_length(r->json); i++) {
		json_object *row = json_object_array_get_idx(r->json, i), *t, *a;
		FZ_ASSERT(json_object_object_get_ex(row, "title", &t) && json_object_object_get_ex(row, "artist", &a),
			  "a row has a title and an artist");
		FZ_ASSERT(strcasestr(json_object_get_string(t), text) != NULL ||
				  strcasestr(json_object_get_string(a), text) != NULL,
			  "a search result contains the search text");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const char *const paths[8] = {"PATH_INFO=/analyze",       "PATH_INFO=/analyze_data",
					     "PATH_INFO=/analyze_batch", "PATH_INFO=/verify",
					     "PATH_INFO=/cache",         "PATH_INFO=/cache/search",
					     "PATH_INFO=/cache/export",  "PATH_INFO=/cache"};
	int which = data[0] & 7;
	const char *extra[] = {which < 4 ? "REQUEST_METHOD=POST" : "REQUEST_METHOD=GET", paths[which], NULL};
	fz_request q;
	fz_request_build(&q, data + 1, size - 1, extra, 1 + (size_t)(data[0] >> 3) * 127);
	ss_request r;
	ss_req_init(&r, &q.fcgx);
	int rc;
	switch (which) {
	case 0: rc = ss_handle_analyze(&ctx, &r); break;
	case 1: rc = ss_handle_analyze_data(&ctx, &r); break;
	case 2: rc = ss_handle_analyze_batch(&ctx, &r); break;
	case 3: rc = ss_handle_verify(&ctx, &r); break;
	case 5: rc = ss_handle_cache_search(&ctx, &r); break;
	case 6: rc = ss_handle_cache_export(&ctx, &r); break;
	default: rc = ss_handle_cache_list(&ctx, &r); break;
	}
	FZ_ASSERT(rc == 0, "writing to memory does not fail");
	fz_response resp;
	fz_response_check(&q, &resp, false);
	FZ_ASSERT(resp.status < 500 || resp.status == 503, "no 5xx other than the expected 503");
	switch (which) {
	case 0: check_analyze(&q, &resp); break;
	case 1: check_data(&q, &resp); break;
	case 2: check_batch(&q, &resp); break;
	case 3: check_verify(&q, &resp); break;
	default: check_listing(&q, &resp, which); break;
	}
	fz_response_free(&resp);
	ss_req_cleanup(&r);
	fz_request_free(&q);
	return 0;
}
