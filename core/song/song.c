#include "core/song/song.h"

#include <time.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result_json.h"
#include "core/limits/admission.h"
#include "core/net/fetch.h"
#include "core/store/cache.h"
#include "core/store/stats.h"
#include "core/util/buf.h"
#include "core/util/jsonutil.h"
#include "core/util/timefmt.h"

/* The row handed to the caller, with whether it was cached. */
typedef struct hand {
	ss_song_row_fn fn;
	void *arg;
	bool cached;
} hand;

static int hand_row(void *arg, const ss_cache_row *row)
{
	hand *h = arg;
	return h->fn(h->arg, row, h->cached);
}

/* The stored row of key to the caller: 1 handed over, 0 none stored, -1 with err. */
static int fetch_row(const ss_song_env *env, const ss_song_job *j, const char *key, bool cached, ss_song_row_fn fn,
		     void *arg, ss_error *err)
{
	hand h = {.fn = fn, .arg = arg, .cached = cached};
	int rc = ss_store_cache_get(env->store, key, j->with_beats ? SS_CACHE_ROW_BEATS : 0, hand_row, &h, err);
	if (rc == -2)
		return ss_error_set(err, SS_ERR_NOMEM, "The response does not fit in memory.");
	return rc;
}

/* After waiting for an identical request: its stored row, unless the job forces a new analysis. 1 handed over
 * (o->result SS_SONG_HIT), 0 none (analyse here), -1 with err. */
static int hit_after_wait(const ss_song_env *env, const ss_song_job *j, const char *key, ss_song_row_fn fn, void *arg,
			  ss_song_outcome *o, ss_error *err)
{
	if (j->force)
		return 0;
	int h = fetch_row(env, j, key, true, fn, arg, err);
	if (h == 1)
		o->result = SS_SONG_HIT;
	return h;
}

/* Analyse bytes and store the result under key. */
static int analyse_and_store(const ss_song_env *env, const ss_song_job *j, const char *key, const void *data,
			     size_t len, const ss_analysis_opts *opts, ss_error *err)
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
	rc = ss_store_cache_put(env->store, &a, NULL, err);
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
 * /health) or after the wait, busy. Returns 0 (slot held), 1 busy (err set), -1 with err. */
static int take_slot(const ss_song_env *env, ss_song_outcome *o, ss_error *err)
{
	int a = ss_admission_acquire(env->adm, err);
	const double queue_timeout = env->cfg->analysis_queue_timeout;
	if (a == 1 && queue_timeout > 0) {
		int seat = ss_admission_take_seat(env->adm, ss_config_queue_seats(env->cfg), err);
		if (seat < 0)
			return -1;
		if (seat == 0) {
			double t0 = ss_time_mono();
			a = ss_admission_acquire_wait(env->adm, queue_timeout, err);
			ss_admission_leave_seat(env->adm);
			o->slot_wait_ms = (ss_time_mono() - t0) * 1000.0;
		}
	}
	if (a < 0)
		return -1;
	if (a == 1) {
		ss_error_set(err, SS_ERR_BUSY, "All %d analysis slots are busy; retry shortly.", ss_admission_slots(env->adm));
		return 1;
	}
	return 0;
}

/* Decode, analyse and store holding an analysis slot for exactly that CPU work, then hand the row back. */
static int analyse_in_slot(const ss_song_env *env, const ss_song_job *j, const char *key, const void *data,
			   size_t len, const ss_analysis_opts *opts, ss_song_row_fn fn, void *arg, ss_song_outcome *o,
			   ss_error *err)
{
	int t = take_slot(env, o, err);
	if (t != 0) {
		o->result = t == 1 ? SS_SONG_BUSY : SS_SONG_ERROR;
		return -1;
	}
	double t0 = ss_time_mono();
	int rc = analyse_and_store(env, j, key, data, len, opts, err);
	ss_admission_release(env->adm);
	o->analysis_ms = (ss_time_mono() - t0) * 1000.0;
	if (rc != 0) {
		o->result = SS_SONG_ANALYSIS_FAILED;
		return -1;
	}
	o->result = SS_SONG_ANALYSED;
	ss_store_maintain(env->store, NULL); /* e.g. the WAL checkpoint, after a write */
	int f = fetch_row(env, j, key, false, fn, arg, err);
	if (f == 0)
		ss_error_set(err, SS_ERR_INTERNAL, "The result was stored but could not be read back.");
	return f == 1 ? 0 : -1;
}

/* A miss first takes the key's de-duplication lock (waiting, holding nothing else, for an identical request
 * in progress), then downloads a URL holding a download slot but no analysis slot, and takes an analysis
 * slot only to decode and analyse: a slow upstream ties up one responder and one download slot, never the
 * CPU admission, and never every responder. Every wait counts against this request's own deadline: a URL
 * request gets fetch_timeout_seconds from its arrival to have its bytes, and dedup_wait_seconds more for an
 * identical analysis to finish; past that it answers 504 timeout. An upload waits dedup_wait_seconds for
 * its twin, then analyses on its own. */
int ss_song_run(const ss_song_env *env, const ss_song_job *j, ss_song_row_fn fn, void *arg, ss_song_outcome *o,
		ss_error *err)
{
	*o = (ss_song_outcome){.result = SS_SONG_ERROR, .slot_wait_ms = -1};
	ss_error_clear(&o->aside);
	const double arrived = ss_time_mono();
	ss_analysis_opts opts;
	char tag[64], key[SS_SHA256_HEX];
	ss_analysis_opts_default(&opts);
	opts.max_seconds = env->cfg->max_analysis_seconds;
	ss_analysis_opts_tag(&opts, tag, sizeof tag);
	ss_cache_key(j->ns, j->kind, j->source, tag, key);

	if (!j->force) {
		int rc = fetch_row(env, j, key, true, fn, arg, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			o->result = SS_SONG_HIT;
			return 0;
		}
	}

	/* A miss: CPU work ahead. With every slot taken and no seat left in the queue for one (or no queue),
	 * refuse at once rather than download for nothing. */
	if (env->adm == NULL)
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "Analysis admission is unavailable on this responder.");
	int used = ss_admission_in_use(env->adm);
	if (used >= ss_admission_slots(env->adm) &&
	    (!(env->cfg->analysis_queue_timeout > 0) ||
	     ss_admission_queued(env->adm) >= ss_config_queue_seats(env->cfg))) {
		o->result = SS_SONG_BUSY;
		return ss_error_set(err, SS_ERR_BUSY, "All %d analysis slots are busy; retry shortly.",
				    ss_admission_slots(env->adm));
	}

	const bool is_url = j->data == NULL;
	const double fetch_deadline = arrived + (is_url ? (double)env->cfg->fetch_timeout_seconds : 0.0);
	const double deadline = fetch_deadline + (double)env->cfg->dedup_wait_seconds;
	int rc = -1;
	bool noted = false; /* the outcome is someone else's (shared) or the key is not ours: record nothing */
	bool claimed = false; /* the store's claim on the key is ours (ss_store_claim) */
	int lk = ss_admission_lock_key(env->adm, key, deadline - ss_time_mono(), err);
	if (lk < 0)
		return -1;
	if (lk == 2) {
		noted = true;
		if (is_url) {
			o->result = SS_SONG_GAVE_UP;
			return ss_error_set(err, SS_ERR_TIMEOUT,
					    "An identical request for this URL was still in progress after this request's "
					    "%d s; retry shortly.",
					    env->cfg->fetch_timeout_seconds + env->cfg->dedup_wait_seconds);
		}
		/* An upload whose twin takes too long: analyse it here, without de-duplication. */
	}
	ss_buf dl;
	ss_buf_init(&dl, 0);
	if (lk == 1) {
		/* An identical request was in progress: its result is most likely stored now, or it failed for a
		 * reason this request shares (the same URL, the same bytes). */
		o->waited = true;
		int h = hit_after_wait(env, j, key, fn, arg, o, err);
		if (h != 0) {
			rc = h > 0 ? 0 : -1;
			noted = h > 0;
			goto out;
		}
		int f = ss_admission_failure_since(env->adm, key, arrived, err);
		if (f == 1) {
			o->result = SS_SONG_SHARED_FAILURE;
			noted = true;
			goto out;
		}
	}
	/* Hosts sharing the store: an identical miss in progress on another host is waited for the same way (a
	 * no-op on a store only one host uses). */
	double left = deadline - ss_time_mono();
	int cl = ss_store_claim(env->store, key, left > 0 ? (int)(left * 1000.0) : 0, err);
	if (cl < 0 && err->code != SS_ERR_BUSY)
		goto out;
	if (cl < 0 && is_url) {
		o->result = SS_SONG_GAVE_UP;
		noted = true;
		ss_error_set(err, SS_ERR_TIMEOUT,
			     "An identical request for this URL was still in progress on another host after this request's"
			     " %d s; retry shortly.",
			     env->cfg->fetch_timeout_seconds + env->cfg->dedup_wait_seconds);
		goto out;
	}
	claimed = cl > 0; /* an upload whose twin elsewhere takes too long is analysed here all the same */
	if (cl == 2) {
		o->waited = true;
		int h = hit_after_wait(env, j, key, fn, arg, o, err);
		if (h != 0) {
			rc = h > 0 ? 0 : -1;
			noted = h > 0;
			goto out;
		}
	}
	const void *data = j->data;
	size_t len = j->len;
	if (is_url) {
		if (env->fetch == NULL) {
			ss_error_set(err, SS_ERR_UNAVAILABLE, "The URL fetcher is unavailable on this responder.");
			goto out;
		}
		/* A download slot keeps slow upstreams from taking every responder. */
		int d = ss_admission_acquire_download(env->adm, ss_config_download_slots(env->cfg), err);
		if (d < 0)
			goto out;
		if (d == 1) {
			o->result = SS_SONG_BUSY;
			ss_error_set(err, SS_ERR_BUSY, "All %d download slots are busy; retry shortly.",
				     ss_config_download_slots(env->cfg));
			goto out;
		}
		int fr = ss_fetch_url_within(env->fetch, j->source, fetch_deadline - ss_time_mono(), &dl, err);
		ss_admission_release_download(env->adm);
		if (fr != 0) {
			o->result = SS_SONG_FETCH_FAILED;
			goto out;
		}
		data = dl.data;
		len = dl.len;
	}
	rc = analyse_in_slot(env, j, key, data, len, &opts, fn, arg, o, err);
out:
	ss_buf_free(&dl);
	/* Tell whoever waited for this attempt how it ended (a success is in the cache). */
	if (!noted && ss_admission_note_outcome(env->adm, key, rc != 0 && shared_error(err->code) ? err : NULL,
						&o->aside) != 0 && o->aside.code == SS_OK)
		o->aside.code = SS_ERR_INTERNAL;
	if (claimed)
		ss_store_release(env->store, key);
	ss_admission_unlock_key(env->adm);
	return rc;
}

void ss_song_record(ss_stats *stats, const ss_song_outcome *o)
{
	if (stats == NULL)
		return;
	if (o->waited)
		ss_stats_add(stats, SS_STAT_DEDUP_WAITS, 1);
	switch (o->result) {
	case SS_SONG_HIT:
		ss_stats_add(stats, SS_STAT_HITS, 1);
		break;
	case SS_SONG_ANALYSED:
		ss_stats_add(stats, SS_STAT_ANALYSES, 1);
		ss_stats_add(stats, SS_STAT_MISSES, 1);
		break;
	case SS_SONG_BUSY:
		ss_stats_add(stats, SS_STAT_BUSY, 1);
		return;
	case SS_SONG_FETCH_FAILED:
	case SS_SONG_ANALYSIS_FAILED:
		ss_stats_add(stats, SS_STAT_FAILED, 1);
		return;
	default:
		return;
	}
	ss_stats_set(stats, SS_STAT_LAST_UPDATED, (uint64_t)time(NULL));
}
