/* GET /stats, GET /diagnostics, GET /metrics, POST /shutdown, and the per-responder objects they rely on. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "core/analysis/pipeline.h"
#include "core/audio/decode.h"
#include "core/limits/admission.h"
#include "core/limits/limiter.h"
#include "core/limits/state.h"
#include "core/net/fetch.h"
#include "core/store/cache.h"
#include "core/store/stats.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "core/util/timefmt.h"
#include "fcgi/auth.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"
#include "fcgi/router.h"
#include "fcgi/shared_counters.h"

const char *const ss_handlers_side_files[] = {".stats", ".admission", NULL};

static void side_path(const ss_ctx *ctx, const char *suffix, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", ctx->cfg->state_file, suffix);
}

/* This host's id for the shared counters (hostname, device and inode of the .stats file), worked out once per
 * responder, right after the file is mapped, so that it names the file this responder counts in; "" (tried
 * again at the next call) while it cannot be read. */
static const char *stats_host_id(ss_ctx *ctx)
{
	if (ctx->stats_host_id[0] == '\0' && ctx->stats != NULL) {
		char path[SS_CONFIG_PATH_MAX + 16];
		side_path(ctx, ".stats", path, sizeof path);
		if (ss_counter_host_id(path, ctx->stats_host_id, sizeof ctx->stats_host_id) != 0)
			ctx->stats_host_id[0] = '\0';
	}
	return ctx->stats_host_id;
}

void ss_handlers_open(ss_ctx *ctx)
{
	char path[SS_CONFIG_PATH_MAX + 16];
	ss_error err;
	ss_error_clear(&err);
	side_path(ctx, ".stats", path, sizeof path);
	if (ctx->stats == NULL && ss_stats_open(path, &ctx->stats, &err) != 0)
		ss_log_error("%s", err.msg);
	else if (ss_stats_rebuilt(ctx->stats) != NULL)
		ss_log_warn("rebuilt the counters file %s empty: %s; /stats and /metrics count from zero", path,
			    ss_stats_rebuilt(ctx->stats));
	stats_host_id(ctx);
	side_path(ctx, ".admission", path, sizeof path);
	if (ctx->adm == NULL) {
		if (ss_admission_open(path, ss_config_analysis_slots(ctx->cfg), &ctx->adm, &err) != 0)
			ss_log_error("%s", err.msg);
		else if (ss_admission_register(ctx->adm, &err) != 0)
			ss_log_warn("%s", err.msg);
	}
	if (ctx->fetch == NULL) {
		ss_fetch_opts fo = {.timeout_seconds = ctx->cfg->fetch_timeout_seconds,
				    .max_bytes = ctx->cfg->fetch_max_bytes,
				    .max_redirects = ctx->cfg->fetch_max_redirects,
				    .allow_private = ctx->cfg->fetch_allow_private,
				    .low_speed_bytes = ctx->cfg->fetch_low_speed_bytes_per_second,
				    .low_speed_seconds = ctx->cfg->fetch_low_speed_seconds};
		if (ss_fetcher_new(&fo, &ctx->fetch, &err) != 0)
			ss_log_error("%s", err.msg);
	}
}

void ss_handlers_close(ss_ctx *ctx)
{
	ss_fetcher_free(ctx->fetch);
	ctx->fetch = NULL;
	ss_admission_close(ctx->adm);
	ctx->adm = NULL;
	ss_stats_close(ctx->stats);
	ctx->stats = NULL;
	ctx->stats_host_id[0] = '\0';
}

/* Route slots: the route table's index; the last two for 405 and unrouted (404/400) answers. */
static unsigned route_index(const char *name)
{
	if (name != NULL) {
		for (unsigned i = 0; i < ss_route_count && i < SS_STAT_ROUTES - 2; i++)
			if (strcmp(ss_routes[i].name, name) == 0)
				return i;
		if (strcmp(name, "method_not_allowed") == 0)
			return SS_STAT_ROUTES - 2;
	}
	return SS_STAT_ROUTES - 1;
}

static const char *route_name(unsigned i)
{
	if (i < ss_route_count && i < SS_STAT_ROUTES - 2)
		return ss_routes[i].name;
	return i == SS_STAT_ROUTES - 2 ? "method_not_allowed" : "unrouted";
}

/* A side file deleted or replaced while the responder runs (a clean-up, a restore) would split the responders
 * between two files: slots, seats and identical-miss waits no longer shared, counts split. After each request
 * (nothing is held then), open again a side file whose path names another file or none (creating it); the open
 * one is kept until the new one is open. A failure is logged once until the next success. */
static void reopen_replaced_side_files(ss_ctx *ctx)
{
	static bool told_stats, told_adm;
	char path[SS_CONFIG_PATH_MAX + 16];
	ss_error err;
	ss_error_clear(&err);
	side_path(ctx, ".stats", path, sizeof path);
	if (ctx->stats != NULL && !ss_stats_same_file(ctx->stats, path)) {
		ss_stats *s = NULL;
		if (ss_stats_open(path, &s, &err) == 0) {
			const char *why = ss_stats_rebuilt(s);
			ss_log_warn("%s was deleted, replaced or truncated; counting in the file now at that path%s%s%s", path,
				    why ? " (rebuilt empty: " : "", why ? why : "", why ? ")" : "");
			ss_stats_close(ctx->stats);
			ctx->stats = s;
			ctx->stats_host_id[0] = '\0'; /* it names the file: worked out again */
			told_stats = false;
		} else if (!told_stats) {
			ss_log_error("%s was deleted, replaced or truncated and cannot be opened again: %s", path, err.msg);
			told_stats = true;
		}
	}
	side_path(ctx, ".admission", path, sizeof path);
	if (ctx->adm != NULL && !ss_admission_same_file(ctx->adm, path)) {
		ss_admission *a = NULL;
		if (ss_admission_open(path, ss_config_analysis_slots(ctx->cfg), &a, &err) == 0 &&
		    ss_admission_register(a, &err) == 0) {
			ss_log_warn("%s was deleted or replaced; sharing analysis slots through the file now at that path",
				    path);
			ss_admission_close(ctx->adm);
			ctx->adm = a;
			told_adm = false;
		} else {
			ss_admission_close(a);
			if (!told_adm)
				ss_log_error("%s was deleted or replaced and cannot be opened again: %s", path, err.msg);
			told_adm = true;
		}
	}
}

void ss_handlers_observe(ss_ctx *ctx, const ss_request *req, double seconds)
{
	ss_stats_observe(ctx->stats, route_index(req->route), req->status, seconds);
	reopen_replaced_side_files(ctx);
}

/* The counters /stats and /metrics report: this host's live ones plus every other host's (as last published, at
 * most SS_SHARED_COUNTERS_INTERVAL_S old) when the limiter is shared and answers, else this host's. */
typedef struct figures {
	uint64_t stats[SS_STAT_SLOTS];
	uint64_t state[SS_STATE_COUNTERS];
	bool have_state; /* state[] holds something (this host's state file is open, or the totals are shared) */
} figures;

static void figures_load(ss_ctx *ctx, figures *f)
{
	ss_error err;
	ss_error_clear(&err);
	int rc = 0;
	if (ctx->limiter != NULL)
		rc = ss_counter_totals(ctx->limiter, stats_host_id(ctx), ctx->stats, ss_auth_host_state(ctx), f->stats,
				       f->state, &err);
	if (rc == 1) {
		f->have_state = true;
		return;
	}
	if (rc < 0)
		ss_log_warn("counters of every host unavailable, reporting this host's: %s", err.msg);
	for (unsigned i = 0; i < SS_STAT_SLOTS; i++)
		f->stats[i] = ss_stats_get(ctx->stats, i);
	ss_state *hs = ss_auth_host_state(ctx);
	f->have_state = hs != NULL;
	for (unsigned i = 0; i < SS_STATE_COUNTERS; i++)
		f->state[i] = hs != NULL ? ss_state_counter_get(hs, i) : 0;
}

int ss_handle_stats(ss_ctx *ctx, ss_request *req)
{
	if (ss_h_need_db(ctx, req))
		return 0;
	/* Counts the store keeps (earlier versions', import-legacy's): added to the live counters; none when the
	 * store holds none or cannot say. */
	ss_error err;
	ss_error_clear(&err);
	ss_stats_baseline bl;
	if (ss_store_stats_baseline(ctx->store, &bl, &err) < 0)
		memset(&bl, 0, sizeof bl);
	long long base[4] = {bl.analyses, bl.hits, bl.misses, bl.requests};
	char last[SS_TIME_STR_LEN] = "";
	snprintf(last, sizeof last, "%s", bl.last_updated);
	long long songs = ss_store_cache_count(ctx->store, NULL, &err);
	if (songs < 0)
		return ss_h_store_failed(req, "stats", &err);
	figures *f = malloc(sizeof *f);
	if (f == NULL)
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	figures_load(ctx, f);
	long long analyses = base[0] + (long long)f->stats[SS_STAT_ANALYSES];
	long long hits = base[1] + (long long)f->stats[SS_STAT_HITS];
	long long misses = base[2] + (long long)f->stats[SS_STAT_MISSES];
	long long served = base[3] + (long long)f->stats[SS_STAT_REQUESTS];
	uint64_t lu = f->stats[SS_STAT_LAST_UPDATED];
	free(f);
	if (lu > 0 || last[0] == '\0')
		ss_time_format_utc(lu > 0 ? (time_t)lu : time(NULL), last);
	double rate = hits + misses > 0 ? (double)hits / (double)(hits + misses) : 0.0;
	double uptime = ss_time_now() - ctx->service_started_at;
	json_object *o = json_object_new_object();
	if (o == NULL || ss_json_add_int(o, "total_analyses", analyses) || ss_json_add_int(o, "cache_hits", hits) ||
	    ss_json_add_int(o, "cache_misses", misses) ||
	    json_object_object_add(o, "cache_hit_rate", json_object_new_double(rate)) ||
	    ss_json_add_string(o, "last_updated", last) || ss_json_add_int(o, "total_cached_songs", songs) ||
	    ss_json_add_int(o, "requests_served", served) || ss_json_add_double(o, "uptime", uptime < 0 ? 0 : uptime)) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	int rc = ss_resp_json(req, 200, o);
	json_object_put(o);
	return rc;
}

static json_object *component(const char *status)
{
	json_object *c = json_object_new_object();
	if (c != NULL && ss_json_add_string(c, "status", status) != 0) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

int ss_handle_diagnostics(ss_ctx *ctx, ss_request *req)
{
	const ss_config *cfg = ctx->cfg;
	json_object *o = json_object_new_object();
	json_object *comps = json_object_new_object();
	json_object *conf = json_object_new_object();
	json_object *warn = json_object_new_array();
	int bad = o == NULL || comps == NULL || conf == NULL || warn == NULL;
	bool unhealthy = false, degraded = false;
	char ts[SS_TIME_STR_LEN];
	ss_time_format_utc(time(NULL), ts);

	/* database */
	json_object *db = NULL;
	if (!bad && ss_ctx_store_ready(ctx) == 0) {
		ss_error err;
		ss_error_clear(&err);
		long long n = ss_store_cache_count(ctx->store, NULL, &err);
		/* Readable but not writable (read-only, full) is degraded; see ss_store_health. */
		ss_code probe = n >= 0 ? ss_store_health(ctx->store, &err) : SS_OK;
		db = component(n < 0 || probe == SS_ERR_UNAVAILABLE ? "failed" : probe != SS_OK ? "degraded" : "operational");
		bad |= db == NULL || ss_json_add_string(db, "path", ss_store_describe(ctx->store)) ||
		       ss_json_add_int(db, "schema_version", ss_store_schema_version(ctx->store)) ||
		       ss_json_add_int(db, "cache_entries", n < 0 ? 0 : n) ||
		       ss_json_add_bool(db, "read_only", ss_store_readonly(ctx->store) || probe == SS_ERR_READ_ONLY);
		if (n < 0 || probe == SS_ERR_UNAVAILABLE)
			unhealthy = true;
		else if (probe != SS_OK)
			degraded = true;
		if (n < 0 || probe != SS_OK)
			bad |= ss_json_add_string(db, "error", err.msg);
	} else if (!bad) {
		unhealthy = true;
		db = component("failed");
		bad |= db == NULL || ss_json_add_string(db, "error", ctx->store != NULL ? ss_store_error(ctx->store) : "not open");
	}
	bad |= bad || json_object_object_add(comps, "database", db);

	/* the limiter (limits, quotas, key invalidation): its backend, and whether it answers now */
	bool lim_ok = ss_auth_state_ready(ctx) && ss_limiter_probe(ctx->limiter);
	json_object *lc = component(lim_ok ? "operational" : "failed");
	const char *backend = ctx->limiter ? ss_limiter_backend(ctx->limiter) : cfg->limits;
	bad |= lc == NULL || ss_json_add_string(lc, "backend", backend) ||
	       ss_json_add_string(lc, "fail", cfg->limits_fail) || json_object_object_add(comps, "limiter", lc);
	if (!lim_ok) {
		degraded = true;
		const char *why = ctx->limiter ? ss_limiter_problem(ctx->limiter) : "not open";
		bad |= bad || ss_json_add_string(lc, "error", why ? why : "unknown");
	}

	/* the shared state file (limits, quotas), and the counters and admission files beside it */
	ss_state *hs = ss_auth_host_state(ctx);
	json_object *sf = component(hs && ss_state_is_current(hs) ? "operational" : "failed");
	bad |= sf == NULL || ss_json_add_string(sf, "path", cfg->state_file) || json_object_object_add(comps, "state_file", sf);
	if (!hs || !ss_state_is_current(hs)) {
		degraded = true;
		const char *why = hs ? ss_state_problem(hs) : "not open";
		bad |= bad || ss_json_add_string(sf, "error", why ? why : "unknown");
	} else {
		char why[200], at[SS_TIME_STR_LEN];
		int64_t at_ns;
		bad |= bad || ss_json_add_int(sf, "lock_holders_killed",
					      (int64_t)ss_state_counter_get(hs, SS_STATE_COUNTER_HOLDERS_KILLED)) ||
		       ss_json_add_int(sf, "lock_repairs", (int64_t)ss_state_repairs(hs));
		if (ss_state_rebuild_info(hs, &at_ns, why, sizeof why)) {
			ss_time_format_utc((time_t)(at_ns / 1000000000LL), at);
			bad |= bad || ss_json_add_string(sf, "rebuilt_at", at) || ss_json_add_string(sf, "rebuilt_reason", why);
		}
	}
	char path[SS_CONFIG_PATH_MAX + 16];
	side_path(ctx, ".stats", path, sizeof path);
	json_object *cf = component(ctx->stats ? "operational" : "failed");
	bad |= cf == NULL || ss_json_add_string(cf, "path", path) || json_object_object_add(comps, "counters", cf);
	side_path(ctx, ".admission", path, sizeof path);
	json_object *af = component(ctx->adm ? "operational" : "failed");
	int alive = ctx->adm ? ss_admission_alive(ctx->adm) : -1;
	int in_use = ctx->adm ? ss_admission_in_use(ctx->adm) : -1;
	bad |= af == NULL || ss_json_add_string(af, "path", path) || ss_json_add_int(af, "responders_alive", alive) ||
	       ss_json_add_int(af, "analysis_slots", ss_config_analysis_slots(cfg)) ||
	       ss_json_add_int(af, "analysis_slots_in_use", in_use) ||
	       ss_json_add_int(af, "analysis_queue_seats", ss_config_queue_seats(cfg)) ||
	       ss_json_add_int(af, "analysis_queued", ctx->adm ? ss_admission_queued(ctx->adm) : -1) ||
	       ss_json_add_int(af, "download_slots", ss_config_download_slots(cfg)) ||
	       ss_json_add_int(af, "downloads_in_flight",
			       ctx->adm ? ss_admission_downloads(ctx->adm, ss_config_download_slots(cfg)) : -1) ||
	       json_object_object_add(comps, "admission", af);
	if (!ctx->stats || !ctx->adm)
		degraded = true;

	/* FFmpeg in this responder: loaded (preloaded by the master, or at an earlier AAC file), on_demand (loaded
	 * at the first AAC file), unavailable (loading failed: AAC/M4A gets 415), not_built. */
	const char *ff_error = ss_audio_ffmpeg_load_error();
#ifdef SS_HAVE_FFMPEG
	const bool ff_missing = ff_error[0] != '\0';
	const char *ff = ss_audio_ffmpeg_loaded() ? "loaded" : ff_missing ? "unavailable" : "on_demand";
#else
	const bool ff_missing = false;
	const char *ff = "not_built";
#endif
	json_object *dec = component(ff_missing ? "degraded" : "operational");
	bad |= dec == NULL || ss_json_add_string(dec, "available", ss_analysis_decoders()) ||
	       ss_json_add_string(dec, "ffmpeg", ff) ||
	       (ff_missing && ss_json_add_string(dec, "ffmpeg_error", ff_error)) ||
	       json_object_object_add(comps, "decoders", dec);
	json_object *fe = component(ctx->fetch ? "operational" : "failed");
	bad |= fe == NULL || ss_json_add_string(fe, "library", ss_fetch_version()) ||
	       json_object_object_add(comps, "fetcher", fe);
	if (!ctx->fetch)
		degraded = true;

	/* configuration in effect, no secrets */
	char burst[24];
	snprintf(burst, sizeof burst, cfg->rate_limit_burst_percent ? "%d%%" : "%d", cfg->rate_limit_burst);
	bad |= bad || ss_json_add_string(conf, "auth", cfg->auth == SS_AUTH_OFF ? "off" : "required") ||
	       ss_json_add_int(conf, "workers", cfg->workers) || ss_json_add_int(conf, "max_requests", cfg->max_requests) ||
	       ss_json_add_int(conf, "database_busy_timeout_ms", cfg->database_busy_timeout_ms) ||
	       ss_json_add_int(conf, "max_body_bytes", cfg->max_body_bytes) ||
	       ss_json_add_double(conf, "max_analysis_seconds", cfg->max_analysis_seconds) ||
	       ss_json_add_int(conf, "max_concurrent_analyses", ss_config_analysis_slots(cfg)) ||
	       ss_json_add_int(conf, "max_concurrent_downloads", ss_config_download_slots(cfg)) ||
	       ss_json_add_int(conf, "fetch_timeout_seconds", cfg->fetch_timeout_seconds) ||
	       ss_json_add_int(conf, "fetch_max_bytes", cfg->fetch_max_bytes) ||
	       ss_json_add_int(conf, "fetch_max_redirects", cfg->fetch_max_redirects) ||
	       ss_json_add_bool(conf, "fetch_allow_private", cfg->fetch_allow_private) ||
	       ss_json_add_int(conf, "fetch_low_speed_bytes_per_second", cfg->fetch_low_speed_bytes_per_second) ||
	       ss_json_add_int(conf, "fetch_low_speed_seconds", cfg->fetch_low_speed_seconds) ||
	       ss_json_add_int(conf, "dedup_wait_seconds", cfg->dedup_wait_seconds) ||
	       ss_json_add_double(conf, "analysis_queue_timeout", cfg->analysis_queue_timeout) ||
	       ss_json_add_int(conf, "key_cache_ttl", cfg->key_cache_ttl) ||
	       ss_json_add_int(conf, "key_cache_size", cfg->key_cache_size) ||
	       ss_json_add_int(conf, "rate_limit_per_minute", cfg->rate_limit_per_minute) ||
	       ss_json_add_string(conf, "rate_limit_burst", burst) ||
	       ss_json_add_int(conf, "auth_failures_per_minute", cfg->auth_failures_per_minute) ||
	       ss_json_add_string(conf, "limits", cfg->limits) ||
	       ss_json_add_string(conf, "limits_fail", cfg->limits_fail) ||
	       ss_json_add_string(conf, "log_level", cfg->log_level) ||
	       ss_json_add_string(conf, "preload_ffmpeg", cfg->preload_ffmpeg) ||
	       ss_json_add_int(conf, "shutdown_timeout", cfg->shutdown_timeout);

	if (cfg->auth == SS_AUTH_OFF)
		bad |= json_object_array_add(warn, json_object_new_string("auth is off: every endpoint is open (local development only)"));
	if (cfg->fetch_allow_private)
		bad |= json_object_array_add(warn, json_object_new_string("fetch_allow_private is on: /analyze may fetch from loopback and private addresses"));
	if (unhealthy)
		bad |= json_object_array_add(warn, json_object_new_string("database check failed"));
	if (degraded)
		bad |= json_object_array_add(warn, json_object_new_string("a per-responder component failed to open (see components)"));
	if (ff_missing)
		bad |= json_object_array_add(warn, json_object_new_string("FFmpeg could not be loaded: AAC/M4A uploads are "
									  "answered 415 (see components.decoders)"));

	bad |= bad || ss_json_add_string(o, "timestamp", ts) || ss_json_add_string(o, "build", PACKAGE_VERSION) ||
	       ss_json_add_string(o, "mode", cfg->auth == SS_AUTH_OFF ? "development" : "production") ||
	       ss_json_add_bool(o, "own_master", ctx->own_master) ||
	       json_object_object_add(o, "components", comps) || json_object_object_add(o, "configuration", conf) ||
	       json_object_object_add(o, "warnings", warn) ||
	       ss_json_add_string(o, "overall_status",
				  unhealthy ? "unhealthy" : degraded || ff_missing ? "degraded" : "healthy");
	if (bad) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	int rc = ss_resp_json(req, 200, o);
	json_object_put(o);
	return rc;
}

static int counter(ss_buf *b, const char *name, const char *help, const char *type, uint64_t v)
{
	return ss_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
			     (unsigned long long)v);
}

int ss_handle_metrics(ss_ctx *ctx, ss_request *req)
{
	figures *f = malloc(sizeof *f);
	if (f == NULL)
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	figures_load(ctx, f);
	ss_buf b;
	ss_buf_init(&b, 0);
	int bad = ss_buf_puts(&b, "# HELP songscope_requests_total Requests answered, by endpoint and status.\n"
				  "# TYPE songscope_requests_total counter\n");
	for (unsigned r = 0; r < SS_STAT_ROUTES && !bad; r++)
		for (unsigned k = 0; k < SS_STAT_STATUSES && !bad; k++) {
			uint64_t v = f->stats[SS_STAT_ROUTE_BASE + r * SS_STAT_STATUSES + k];
			if (v == 0)
				continue;
			char status[8];
			if (ss_stats_statuses[k] == 0)
				snprintf(status, sizeof status, "other");
			else
				snprintf(status, sizeof status, "%d", ss_stats_statuses[k]);
			bad |= ss_buf_printf(&b, "songscope_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n", route_name(r),
					     status, (unsigned long long)v);
		}
	bad |= ss_buf_puts(&b, "# HELP songscope_request_duration_seconds Time to answer a request.\n"
			       "# TYPE songscope_request_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (unsigned i = 0; i <= SS_STAT_LAT_BUCKETS && !bad; i++) {
		cum += f->stats[SS_STAT_LAT_BASE + i];
		if (i < SS_STAT_LAT_BUCKETS)
			bad |= ss_buf_printf(&b, "songscope_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
					     ss_stats_latency_bounds[i], (unsigned long long)cum);
		else
			bad |= ss_buf_printf(&b, "songscope_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
					     (unsigned long long)cum);
	}
	bad |= ss_buf_printf(&b, "songscope_request_duration_seconds_sum %.6f\nsongscope_request_duration_seconds_count %llu\n",
			     (double)f->stats[SS_STAT_LAT_SUM_US] / 1e6,
			     (unsigned long long)f->stats[SS_STAT_LAT_COUNT]);
	bad |= counter(&b, "songscope_analyses_total", "Analyses performed.", "counter", f->stats[SS_STAT_ANALYSES]);
	bad |= counter(&b, "songscope_cache_hits_total", "Analysis requests answered from the cache.", "counter",
		       f->stats[SS_STAT_HITS]);
	bad |= counter(&b, "songscope_cache_misses_total", "Analysis requests answered by analysing.", "counter",
		       f->stats[SS_STAT_MISSES]);
	bad |= counter(&b, "songscope_analysis_failures_total", "Downloads or analyses that failed.", "counter",
		       f->stats[SS_STAT_FAILED]);
	bad |= counter(&b, "songscope_busy_rejections_total", "Misses refused with 503 busy (no free analysis slot).",
		       "counter", f->stats[SS_STAT_BUSY]);
	bad |= counter(&b, "songscope_dedup_waits_total", "Misses that waited for an identical analysis in progress.",
		       "counter", f->stats[SS_STAT_DEDUP_WAITS]);
	bad |= counter(&b, "songscope_rate_limited_total", "Requests refused with 429 (rate limit or daily quota).",
		       "counter", f->stats[SS_STAT_RATE_LIMITED]);
	ss_state *hs = ss_auth_host_state(ctx);
	if (hs != NULL) {
		static const struct {
			unsigned idx;
			const char *reason;
		} auth[] = {{SS_STATE_COUNTER_RATE_LIMITED, "rate_limited"},
			    {SS_STATE_COUNTER_DAILY_LIMITED, "daily_limit_exceeded"},
			    {SS_STATE_COUNTER_KEY_INVALID, "invalid_api_key"},
			    {SS_STATE_COUNTER_ADDR_BLOCKED, "address_blocked"},
			    {SS_STATE_COUNTER_LIMITS_DOWN, "limits_unavailable"}};
		bad |= ss_buf_puts(&b, "# HELP songscope_auth_rejections_total Requests refused by the key checks, by reason.\n"
				       "# TYPE songscope_auth_rejections_total counter\n");
		for (size_t i = 0; i < sizeof auth / sizeof auth[0]; i++)
			bad |= ss_buf_printf(&b, "songscope_auth_rejections_total{reason=\"%s\"} %llu\n", auth[i].reason,
					     (unsigned long long)f->state[auth[i].idx]);
		bad |= counter(&b, "songscope_state_lock_holders_killed_total",
			       "Responders the master killed because they held the state lock too long (stopped or stuck).",
			       "counter", f->state[SS_STATE_COUNTER_HOLDERS_KILLED]);
		bad |= counter(&b, "songscope_state_lock_repairs_total",
			       "Times the state lock was found with a dead owner and the tables repaired.", "counter",
			       ss_state_repairs(hs));
		bad |= counter(&b, "songscope_limits_fail_open_total",
			       "Requests served without limits while the limiter was down (limits_fail = open).",
			       "counter", f->state[SS_STATE_COUNTER_LIMITS_FAIL_OPEN]);
	}
	int alive = ctx->adm ? ss_admission_alive(ctx->adm) : -1;
	int in_use = ctx->adm ? ss_admission_in_use(ctx->adm) : -1;
	bad |= counter(&b, "songscope_responders_alive", "Responder processes alive.", "gauge", alive < 0 ? 0 : (uint64_t)alive);
	bad |= counter(&b, "songscope_analysis_slots", "Analyses allowed at once.", "gauge",
		       (uint64_t)ss_config_analysis_slots(ctx->cfg));
	bad |= counter(&b, "songscope_analysis_slots_in_use", "Analyses running now.", "gauge", in_use < 0 ? 0 : (uint64_t)in_use);
	int dl_slots = ss_config_download_slots(ctx->cfg);
	int dl_in_use = ctx->adm ? ss_admission_downloads(ctx->adm, dl_slots) : -1;
	bad |= counter(&b, "songscope_download_slots", "URL downloads allowed at once.", "gauge", (uint64_t)dl_slots);
	bad |= counter(&b, "songscope_downloads_in_flight", "URL downloads running now.", "gauge",
		       dl_in_use < 0 ? 0 : (uint64_t)dl_in_use);
	int queued = ctx->adm ? ss_admission_queued(ctx->adm) : -1;
	bad |= counter(&b, "songscope_analysis_queued", "Misses waiting for an analysis slot.", "gauge",
		       queued < 0 ? 0 : (uint64_t)queued);
	bad |= counter(&b, "songscope_analysis_queue_seats", "Misses allowed to wait for an analysis slot at once.",
		       "gauge", (uint64_t)ss_config_queue_seats(ctx->cfg));
	int waiting = ctx->adm ? ss_admission_waiting(ctx->adm) : -1;
	bad |= counter(&b, "songscope_dedup_waiting", "Requests waiting for an identical one in progress.", "gauge",
		       waiting < 0 ? 0 : (uint64_t)waiting);
	double up = ss_time_now() - ctx->service_started_at;
	bad |= ss_buf_printf(&b, "# HELP songscope_uptime_seconds Seconds since the service started.\n"
				 "# TYPE songscope_uptime_seconds gauge\nsongscope_uptime_seconds %.3f\n",
			     up < 0 ? 0 : up);
	free(f);
	int rc;
	if (bad)
		rc = ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	else
		rc = ss_h_send_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	ss_buf_free(&b);
	return rc;
}

int ss_handle_shutdown(ss_ctx *ctx, ss_request *req)
{
	if (!ctx->own_master || ctx->master_pid <= 0)
		return ss_resp_error(req, SS_ERR_NOT_IMPLEMENTED,
				     "songscope runs under an external process manager here; stop it through that manager "
				     "(e.g. systemctl stop or the web server's FastCGI control).");
	ss_log_warn("POST /shutdown from %s: stopping the service", req->remote_addr);
	json_object *o = json_object_new_object();
	if (o == NULL || ss_json_add_string(o, "status", "shutting_down") ||
	    ss_json_add_string(o, "message", "Server shutting down...")) {
		json_object_put(o);
		return ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
	}
	int rc = ss_resp_json(req, 200, o);
	json_object_put(o);
	/* The master stops every responder gracefully; this one finishes its response first. */
	kill(ctx->master_pid, SIGTERM);
	return rc;
}
