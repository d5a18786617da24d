/* The "analyse a song" flow (core/song/song.h) with its real parts: an SQLite store, the admission file, the
 * analysis of a generated WAV. What each outcome is, what is handed back, and what ss_song_record counts. */
#include <check.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/limits/admission.h"
#include "core/song/song.h"
#include "core/store/cache.h"
#include "core/store/stats.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"
#include "tests/fixtures/synth.h"

static char dir[256];
static ss_config cfg;
static ss_store *store;
static ss_admission *adm;
static ss_stats *stats;
static unsigned char *wav;
static size_t wav_len;

static void setup(void)
{
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, "ss-song-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ss_config_defaults(&cfg);
	snprintf(cfg.database, sizeof cfg.database, "%s/t.db", dir);
	cfg.max_analysis_seconds = 5;
	ss_error err;
	ss_store_params p;
	ss_store_params_from_config(&cfg, &p);
	ck_assert_msg(ss_store_open(&p, &store, &err) == 0, "%s", err.msg);
	char path[320];
	snprintf(path, sizeof path, "%s/adm", dir);
	ck_assert_msg(ss_admission_open(path, 1, &adm, &err) == 0, "%s", err.msg);
	snprintf(path, sizeof path, "%s/stats", dir);
	ck_assert_msg(ss_stats_open(path, &stats, &err) == 0, "%s", err.msg);
	wav = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, 6.0, synth_music, &wav_len);
	ck_assert_ptr_nonnull(wav);
}

static void teardown(void)
{
	free(wav);
	ss_stats_close(stats);
	ss_admission_close(adm);
	ss_store_close(store);
	ck_assert_int_eq(ss_scratch_remove(dir), 0);
}

/* What the caller was handed. */
typedef struct got {
	int calls;
	bool cached;
	long long id;
	char title[64];
	bool beats;
	int refuse; /* the callback fails (as when out of memory) */
} got;

static int take(void *arg, const ss_cache_row *row, bool cached)
{
	got *g = arg;
	g->calls++;
	g->cached = cached;
	g->id = (long long)row->id;
	snprintf(g->title, sizeof g->title, "%s", row->title);
	g->beats = row->beats_json != NULL;
	return g->refuse;
}

static ss_song_job upload(const void *data, size_t len, char hash[SS_SHA256_HEX])
{
	ss_sha256_hex(data, len, hash);
	return (ss_song_job){.ns = "default", .kind = "sha256", .source_kind = "upload", .source = hash,
			     .preview_url = hash, .title = "Song", .artist = "Artist", .data = data, .len = len};
}

START_TEST(miss_then_hit_then_forced)
{
	ss_song_env env = {.cfg = &cfg, .store = store, .adm = adm};
	char hash[SS_SHA256_HEX];
	ss_song_job j = upload(wav, wav_len, hash);
	j.with_beats = true;
	got g = {0};
	ss_song_outcome o;
	ss_error err;
	ck_assert_msg(ss_song_run(&env, &j, take, &g, &o, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(o.result, SS_SONG_ANALYSED);
	ck_assert(!o.waited);
	ck_assert(o.analysis_ms > 0);
	ck_assert_int_eq(g.calls, 1);
	ck_assert(!g.cached);
	ck_assert(g.beats);
	ck_assert_str_eq(g.title, "Song");
	ss_song_record(stats, &o);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_ANALYSES), 1);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_MISSES), 1);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_HITS), 0);
	ck_assert_uint_gt(ss_stats_get(stats, SS_STAT_LAST_UPDATED), 0);
	long long id = g.id;

	/* The same bytes again: from the cache, the same row, without beats unless asked. */
	j.with_beats = false;
	g = (got){0};
	ck_assert_msg(ss_song_run(&env, &j, take, &g, &o, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(o.result, SS_SONG_HIT);
	ck_assert(g.cached);
	ck_assert(!g.beats);
	ck_assert_int_eq(g.id, id);
	ss_song_record(stats, &o);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_HITS), 1);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_ANALYSES), 1);

	/* Forced: analysed again into the same row. */
	j.force = true;
	g = (got){0};
	ck_assert_msg(ss_song_run(&env, &j, take, &g, &o, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(o.result, SS_SONG_ANALYSED);
	ck_assert(!g.cached);
	ck_assert_int_eq(g.id, id);
	ck_assert_int_eq(ss_store_cache_count(store, NULL, &err), 1);

	/* A caller that cannot take the row: out of memory, nothing counted as a hit. */
	j.force = false;
	g = (got){.refuse = 1};
	ck_assert_int_eq(ss_song_run(&env, &j, take, &g, &o, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_NOMEM);
	ck_assert_int_eq(o.result, SS_SONG_ERROR);
	ss_song_record(stats, &o);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_HITS), 1);
}
END_TEST

START_TEST(failures_say_what_failed)
{
	ss_song_env env = {.cfg = &cfg, .store = store, .adm = adm};
	static const char junk[] = "this is not audio at all, just text that no decoder accepts";
	char hash[SS_SHA256_HEX];
	ss_song_job j = upload(junk, sizeof junk, hash);
	got g = {0};
	ss_song_outcome o;
	ss_error err;
	ck_assert_int_eq(ss_song_run(&env, &j, take, &g, &o, &err), -1);
	ck_assert_int_eq(o.result, SS_SONG_ANALYSIS_FAILED);
	ck_assert_msg(err.code == SS_ERR_UNSUPPORTED_MEDIA || err.code == SS_ERR_UNPROCESSABLE, "%s",
		      ss_code_name(err.code));
	ck_assert_int_eq(g.calls, 0);
	ss_song_record(stats, &o);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_FAILED), 1);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_MISSES), 0);

	/* A URL miss without a fetcher, and any miss without admission: unavailable, nothing analysed. */
	ss_song_job u = {.ns = "default", .kind = "url", .source_kind = "url", .source = "http://127.0.0.1:9/x.wav",
			 .preview_url = "http://127.0.0.1:9/x.wav", .title = "t", .artist = "a"};
	ck_assert_int_eq(ss_song_run(&env, &u, take, &g, &o, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ck_assert_int_eq(o.result, SS_SONG_ERROR);
	env.adm = NULL;
	ck_assert_int_eq(ss_song_run(&env, &j, take, &g, &o, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);

	/* Every analysis slot taken and no queue: busy at once. */
	env.adm = adm;
	cfg.analysis_queue_timeout = 0;
	ck_assert_int_eq(ss_admission_acquire(adm, &err), 0);
	ss_song_job w = upload(wav, wav_len, hash);
	ck_assert_int_eq(ss_song_run(&env, &w, take, &g, &o, &err), -1);
	ss_admission_release(adm);
	ck_assert_int_eq(err.code, SS_ERR_BUSY);
	ck_assert_int_eq(o.result, SS_SONG_BUSY);
	ss_song_record(stats, &o);
	ck_assert_uint_eq(ss_stats_get(stats, SS_STAT_BUSY), 1);
	ck_assert_int_eq(g.calls, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("song");
	TCase *t = tcase_create("flow");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, miss_then_hit_then_forced);
	tcase_add_test(t, failures_say_what_failed);
	suite_add_tcase(s, t);
	return ss_check_run(s);
}
