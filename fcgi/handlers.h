/* Every endpoint handler. One file per resource group under fcgi/handlers/. */
#ifndef SS_FCGI_HANDLERS_H
#define SS_FCGI_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/store/cache.h"
#include <json-c/json.h>

#include "fcgi/context.h"
#include "fcgi/request.h"

/* fcgi/handlers/health.c: GET /health (no key). 200 healthy, 503 when the database is unusable. */
int ss_handle_health(ss_ctx *ctx, ss_request *req);

/* fcgi/handlers/analyze.c: POST /analyze (JSON {url|audio_url, title, artist, force_reanalyze,
 * cache_namespace}), POST /analyze_data (raw bytes, X-Song-* headers), POST /analyze_batch (JSON array of
 * up to 10 {audio_data base64, title, artist}). Cache first; a miss needs an analysis slot (503 busy). */
int ss_handle_analyze(ss_ctx *ctx, ss_request *req);
int ss_handle_analyze_data(ss_ctx *ctx, ss_request *req);
int ss_handle_analyze_batch(ss_ctx *ctx, ss_request *req);

/* The work of POST /analyze (JSON body with a URL) and POST /analyze_data (the bytes, X-Song-* headers), for
 * endpoints that answer the same request with another view of the result: cache first, then de-duplication,
 * admission, fetch, analysis and store, exactly as those endpoints. Returns 0 with the result object appended
 * to out and the row's cache key in key; or 1 when the request was answered already (a JSON error, or a 503
 * from the database check), with *rc the result of writing that answer. */
int ss_h_analyze_url(ss_ctx *ctx, ss_request *req, ss_buf *out, char key[SS_SHA256_HEX], int *rc);
int ss_h_analyze_bytes(ss_ctx *ctx, ss_request *req, ss_buf *out, char key[SS_SHA256_HEX], int *rc);

/* fcgi/handlers/audio_features.c: the Spotify-compatible view (API.md "Spotify-compatible view").
 * POST /v1/audio-features (JSON {url} or the bytes, as /analyze and /analyze_data), GET /v1/audio-features/{key}
 * (one object by track id), GET /v1/audio-features?ids= (up to 100, unknown ids null), GET
 * /v1/audio-analysis/{key} (Spotify's audio-analysis object of that track; with ?format=songscope the full
 * result object, beats included). */
int ss_handle_audio_features_post(ss_ctx *ctx, ss_request *req);
int ss_handle_audio_features_get(ss_ctx *ctx, ss_request *req);
int ss_handle_audio_features_list(ss_ctx *ctx, ss_request *req);
int ss_handle_audio_analysis(ss_ctx *ctx, ss_request *req);

/* fcgi/handlers/cache.c: GET /cache, GET /cache/search, GET /cache/export, DELETE /cache/{id},
 * POST /cache/clear. */
int ss_handle_cache_list(ss_ctx *ctx, ss_request *req);
int ss_handle_cache_search(ss_ctx *ctx, ss_request *req);
int ss_handle_cache_export(ss_ctx *ctx, ss_request *req);
int ss_handle_cache_delete(ss_ctx *ctx, ss_request *req);
int ss_handle_cache_clear(ss_ctx *ctx, ss_request *req);

/* fcgi/handlers/verify.c: POST /verify (admin): manual overrides for a cached song; 404 when none. */
int ss_handle_verify(ss_ctx *ctx, ss_request *req);

/* fcgi/handlers/service.c: GET /stats, GET /diagnostics (admin), GET /metrics (admin; allow-listed
 * addresses are the authoriser's business), POST /shutdown (admin). */
int ss_handle_stats(ss_ctx *ctx, ss_request *req);
int ss_handle_diagnostics(ss_ctx *ctx, ss_request *req);
int ss_handle_metrics(ss_ctx *ctx, ss_request *req);
int ss_handle_shutdown(ss_ctx *ctx, ss_request *req);

/* fcgi/handlers/service.c: per-responder objects of the API (counters, admission file, fetcher), opened
 * after fork by the responder and closed when it stops. Failures are logged; the responder still serves
 * (the affected endpoints answer 503). Paths: "<state_file>.stats" and "<state_file>.admission". */
void ss_handlers_open(ss_ctx *ctx);
void ss_handlers_close(ss_ctx *ctx);

/* Suffixes of the files beside the state file that ss_handlers_open opens (".stats", ".admission"),
 * NULL-terminated: the master creates them before dropping privileges. */
extern const char *const ss_handlers_side_files[];

/* Count one answered request (requests served, per-endpoint/status counters, latency histogram), then open again
 * a side file (.stats, .admission) deleted or replaced since it was opened. */
void ss_handlers_observe(ss_ctx *ctx, const ss_request *req, double seconds);

/* fcgi/handlers/common.c: helpers shared by the handlers. */

/* Send JSON text (len bytes) with Content-Length. Returns 0 or -1 on a write error. */
int ss_h_send_text(ss_request *req, int status, const char *content_type, const char *text, size_t len);

/* Resolve a namespace value (NULL or "" → def). With allow_all, "all" and "*" (any case) set *all and
 * leave out empty. Invalid names answer 400 and return 1; otherwise return 0 with out filled. */
int ss_h_namespace(ss_request *req, const char *value, const char *def, bool allow_all,
		   char out[SS_NAMESPACE_MAX + 1], bool *all);

/* Truthy flag: "1", "true", "yes", "on", "y" (case-insensitive, trimmed). NULL is false. */
bool ss_h_truthy(const char *s);

/* Make sure the database is usable; otherwise answer 503 unavailable and return 1. */
int ss_h_need_db(ss_ctx *ctx, ss_request *req);

/* Answer err, the failure of a store call made for `what` ("verify", "stats", ...): a refusal of the store
 * (busy, unavailable, read-only, full) is logged here with `what`; an internal error is logged by the response
 * layer, which keeps its cause from the client. Returns what ss_resp_error_from returns. */
int ss_h_store_failed(ss_request *req, const char *what, const ss_error *err);

/* Read the body (at most cap bytes, and never more than max_body_bytes) and parse it as strict JSON of the
 * given type. Returns the value (caller puts it), or NULL after answering 400 (with `usage` as the message,
 * or saying that a \u0000 escape is refused: no string read from the result has an embedded NUL) or 413;
 * then *rc is the result of writing that answer. */
json_object *ss_h_read_json(ss_ctx *ctx, ss_request *req, size_t cap, json_type type, const char *usage, int *rc);

/* X-Force-Reanalyze or X-Bypass-Cache is truthy. */
bool ss_h_force_header(const ss_request *req);

/* ?beats=1 (any truthy value) asks for beat times in analysis results. */
bool ss_h_want_beats(const ss_request *req);

/* The options of an upload taken from its headers and query: namespace (X-Cache-Namespace), force and beats.
 * Returns 0, or 1 after answering 400 for a bad namespace. */
int ss_h_upload_opts(ss_request *req, char ns[SS_NAMESPACE_MAX + 1], bool *force, bool *with_beats);

/* fcgi/handlers/auth_info.c: GET /auth/key (client) describes the calling key (id, prefix, scope,
 * requests_today) without touching SQLite; GET /auth/usage (admin) lists today's per-key request totals. */
int ss_handle_auth_key(ss_ctx *ctx, ss_request *req);
int ss_handle_auth_usage(ss_ctx *ctx, ss_request *req);

/* fcgi/handlers/keys.c (admin): GET /auth/keys lists every key with requests_today; POST /auth/keys creates one
 * from JSON {name, scope, email, daily_limit, rate_limit} and answers 201 with the record and the plain key
 * (shown only there); DELETE /auth/keys/{id} deactivates a key (404 when there is none). Changes are logged
 * with the calling key and address, and bump the key generation through the limiter (ctx->limiter). */
int ss_handle_keys_list(ss_ctx *ctx, ss_request *req);
int ss_handle_keys_create(ss_ctx *ctx, ss_request *req);
int ss_handle_keys_deactivate(ss_ctx *ctx, ss_request *req);

/* fcgi/handlers/ui.c: GET /ui/ (index.html; "/ui" without the slash answers 301 to "ui/") and GET /ui/{file}
 * (no key): static files from ui_dir with their Content-Type and a Content-Security-Policy allowing only
 * songscope's own origin. 404 for names without a known type, missing files, non-regular files and links. */
int ss_handle_ui(ss_ctx *ctx, ss_request *req);

#endif
