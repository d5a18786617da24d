/* ss_analysis_opts.threads: an analysis on two threads (read-ahead decoder thread, spectral branch beside tempo
 * and key) gives exactly what the sequential path gives, field for field, on files of every container libsndfile
 * writes, and the same error for truncated and corrupt files (the decoder thread stopping early never hangs). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sndfile.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result_json.h"
#include "core/audio/decode.h"
#include "tests/check_main.h"
#include "tests/fixtures/synth.h"

/* LeakSanitizer hook (used only in --enable-sanitizers builds): libsndfile 1.2.0 leaks the vorbis_info it
 * allocated when opening a corrupt Ogg Vorbis stream fails. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:vorbis_info_init\n";
}

/* A second kind of music for the fixtures: a minor chord sequence with tremolo, a 95 BPM hi-hat of noise
 * bursts and a DC offset, so tempo, key, content and HPSS all see something other than synth_music. */
static void synth_minor(float *x, size_t n, double sr, int channel)
{
	static const double chords[4][3] = {{220.0, 261.63, 329.63}, {146.83, 174.61, 220.0}, {164.81, 207.65, 246.94},
					    {220.0, 261.63, 329.63}};
	unsigned seed = 12345u + (unsigned)channel;
	const double beat = 60.0 / 95.0;
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / sr;
		const double *c = chords[(size_t)(t / (4 * beat)) % 4];
		double v = 0.0;
		for (int k = 0; k < 3; k++)
			v += sin(2 * M_PI * c[k] * t * (1.0 + 0.001 * channel));
		v *= 0.12 * (1.0 + 0.3 * sin(2 * M_PI * 5.0 * t));
		double ph = fmod(t, beat);
		seed = seed * 1103515245u + 12345u;
		if (ph < 0.03)
			v += 0.3 * (1.0 - ph / 0.03) * ((double)(seed >> 9) / 4194304.0 - 1.0);
		x[i] = (float)(v + 0.02);
	}
}

/* The result as JSON text (beats included) with analysis_duration, the only wall-clock field, zeroed. Caller
 * frees. */
static char *result_text(ss_result *r)
{
	r->analysis_duration = 0.0;
	json_object *o = json_object_new_object();
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(ss_result_to_json(r, true, o), 0);
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	ck_assert_ptr_nonnull(s);
	json_object_put(o);
	return s;
}

/* The sequential (rc1, e1) and threaded (rc2, e2) outcomes of one call: both succeeded, or both failed with the
 * same error code and message. Returns 1 when both succeeded, for the caller to compare what they made. */
static int same_outcome(int rc1, const ss_error *e1, int rc2, const ss_error *e2, const char *what)
{
	ck_assert_msg(rc1 == rc2, "%s: sequential rc %d (%s), threaded rc %d (%s)", what, rc1, e1->msg, rc2, e2->msg);
	if (rc1 != 0)
		ck_assert_msg(e1->code == e2->code && strcmp(e1->msg, e2->msg) == 0, "%s: errors %d '%s' and %d '%s'",
			      what, e1->code, e1->msg, e2->code, e2->msg);
	return rc1 == 0;
}

/* Analyse b with 1 and 2 threads and check that both succeed or fail alike: the same JSON, or the same error
 * code and message. Returns the sequential rc. */
static int same_both_ways(const unsigned char *b, size_t len, double max_seconds, const char *what)
{
	ss_analysis_opts o;
	ss_analysis_opts_default(&o);
	ck_assert_int_eq(o.threads, 1);
	o.max_seconds = max_seconds;
	ss_result r1, r2;
	ss_error e1, e2;
	ss_error_clear(&e1);
	ss_error_clear(&e2);
	int rc1 = ss_analyze_buffer(b, len, &o, &r1, &e1);
	o.threads = 2;
	int rc2 = ss_analyze_buffer(b, len, &o, &r2, &e2);
	if (same_outcome(rc1, &e1, rc2, &e2, what)) {
		char *s1 = result_text(&r1), *s2 = result_text(&r2);
		ck_assert_msg(strcmp(s1, s2) == 0, "%s:\nsequential %s\nthreaded   %s", what, s1, s2);
		free(s1);
		free(s2);
	}
	ss_result_free(&r1);
	ss_result_free(&r2);
	return rc1;
}

static const struct {
	int format;
	double sr;
	int channels;
	const char *name;
} files[] = {
	{SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, "flac 44.1k stereo"},
	{SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 48000, 1, "flac 48k mono"},
	{SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, "wav 44.1k stereo"},
	{SF_FORMAT_WAV | SF_FORMAT_FLOAT, 22050, 1, "wav 22.05k mono float"},
	{SF_FORMAT_WAV | SF_FORMAT_PCM_16, 32000, 6, "wav 32k 6 channels"},
	{SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, "ogg/vorbis 44.1k stereo"},
	{SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 1, "mp3 44.1k mono"},
};

/* Every field the same on generated files of each container, two kinds of music, full and capped lengths
 * (the cap stops the sink while the decoder thread is ahead of it). */
START_TEST(test_threads_same_results)
{
	static const synth_fn gens[] = {synth_music, synth_minor};
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++)
		for (size_t g = 0; g < 2; g++) {
			size_t len = 0;
			unsigned char *b =
				synth_file(files[f].format, files[f].sr, files[f].channels, 12.0, gens[g], &len);
			if (b == NULL) /* an encoder this libsndfile lacks */
				continue;
			char what[96];
			snprintf(what, sizeof what, "%s, music %zu", files[f].name, g);
			ck_assert_int_eq(same_both_ways(b, len, 30.0, what), 0);
			snprintf(what, sizeof what, "%s, music %zu, max 5 s", files[f].name, g);
			ck_assert_int_eq(same_both_ways(b, len, 5.0, what), 0);
			free(b);
		}
}
END_TEST

/* Decode b with 1 and 2 threads (the second reads ahead on its own thread) and check that both succeed or fail
 * alike: the same samples, loudness, flags, or the same error. Returns the sequential rc; *truncated (when not
 * NULL) gets the truncated flag of a success. */
static int same_decode(const unsigned char *b, size_t len, double max_seconds, const char *what, int *truncated)
{
	ss_audio_opts ao = {.max_seconds = max_seconds, .out_rate = 22050.0, .threads = 1};
	ss_audio a1, a2;
	ss_error e1, e2;
	ss_error_clear(&e1);
	ss_error_clear(&e2);
	ss_audio_init(&a1);
	ss_audio_init(&a2);
	int rc1 = ss_audio_decode(b, len, &ao, &a1, &e1);
	ao.threads = 2;
	int rc2 = ss_audio_decode(b, len, &ao, &a2, &e2);
	if (same_outcome(rc1, &e1, rc2, &e2, what)) {
		ck_assert_msg(a1.n == a2.n, "%s: %zu and %zu samples", what, a1.n, a2.n);
		ck_assert_msg(a1.n == 0 || memcmp(a1.x, a2.x, a1.n * sizeof *a1.x) == 0, "%s: samples differ", what);
		ck_assert_msg(memcmp(&a1.loudness, &a2.loudness, sizeof a1.loudness) == 0, "%s: loudness %.17g and %.17g",
			      what, a1.loudness, a2.loudness);
		ck_assert(memcmp(&a1.loudness_range, &a2.loudness_range, sizeof a1.loudness_range) == 0);
		ck_assert_int_eq(a1.truncated, a2.truncated);
		ck_assert_int_eq(a1.src_channels, a2.src_channels);
		ck_assert(a1.src_rate == a2.src_rate);
		ck_assert_str_eq(a1.container, a2.container);
		if (truncated != NULL)
			*truncated = a1.truncated;
	}
	ss_audio_free(&a1);
	ss_audio_free(&a2);
	return rc1;
}

/* The decoded samples themselves, not only the results: the read-ahead gives the sink the same blocks, also when
 * max_seconds stops it early. */
START_TEST(test_threads_same_samples)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 20.0, synth_minor, &len);
	ck_assert_ptr_nonnull(b);
	for (int cap = 0; cap < 2; cap++) {
		int truncated = -1;
		ck_assert_int_eq(same_decode(b, len, cap ? 7.5 : 30.0, cap ? "20 s, max 7.5 s" : "20 s", &truncated), 0);
		ck_assert_int_eq(truncated, cap);
	}
	free(b);
}
END_TEST

#define BLK 4096 /* the decoder's read size (decode_sndfile.c) */

/* The read-ahead gives the sink the samples the sequential path gives it at the edges of its reads and hand-overs
 * (16 reads): FLAC and WAV/AIFF of one frame, shorter than two reads, around 16 and 34 reads, a few seconds with a
 * partial last read, and with max_seconds ending the decode on, just before and just after a read boundary. */
START_TEST(test_threads_edge_lengths)
{
	static const struct {
		int format;
		double sr;
		int channels;
	} kinds[] = {
		{SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2}, {SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 32768, 1},
		{SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2},  {SF_FORMAT_WAV | SF_FORMAT_FLOAT, 32768, 1},
		{SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 48000, 2},
	};
	/* frames: 1, under two reads, around one and two hand-overs of 16 reads, around 32 reads, a few seconds with
	 * a partial last read */
	static const long lengths[] = {1, BLK - 1, BLK + 1, 2 * BLK - 1, 16 * BLK - 1, 16 * BLK, 16 * BLK + 1,
				       34 * BLK - 1, 34 * BLK, 34 * BLK + 1, 35 * BLK, 131071, 131072, 131073, 200000};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
			size_t len = 0;
			double secs = ((double)lengths[i] + 0.5) / kinds[k].sr;
			unsigned char *b = synth_file(kinds[k].format, kinds[k].sr, kinds[k].channels, secs, synth_minor, &len);
			ck_assert_ptr_nonnull(b);
			char what[96];
			snprintf(what, sizeof what, "kind %zu, %ld frames", k, lengths[i]);
			ck_assert_int_eq(same_decode(b, len, 30.0, what, NULL), 0);
			/* max_seconds ending the decode: at 32768 Hz, 4 s is exactly 32 reads; 4 s +- a frame around it */
			static const double caps[] = {4.0, 4.0 - 1.0 / 32768, 4.0 + 1.0 / 32768, 3.0};
			for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
				snprintf(what, sizeof what, "kind %zu, %ld frames, max %.6f s", k, lengths[i], caps[c]);
				ck_assert_int_eq(same_decode(b, len, caps[c], what, NULL), 0);
			}
			free(b);
		}
}
END_TEST

/* test_threads_damaged_samples' damage: cut in either half, then a few bytes flipped in one half of the stream. */
static synth_damage damage_halves(int trial, size_t len)
{
	if (trial < 8)
		return (synth_damage){.cut = len * (size_t)(2 * trial + 1) / 16};
	return (synth_damage){.lo = trial % 2 ? len / 2 : 256, .hi = trial % 2 ? len : len / 2, .count = 1 + trial % 5};
}

/* The same samples or error decoded alone, also when max_seconds stops the sink first. */
static void same_decode_capped(const unsigned char *c, size_t len, const char *label)
{
	same_decode(c, len, 30.0, label, NULL);
	same_decode(c, len, 5.0, label, NULL);
}

/* Damaged FLAC and WAV, decoded alone: truncated in the first or the second half, or bytes flipped in either: the
 * read-ahead gives the sequential samples or error, also when max_seconds stops the sink first. */
START_TEST(test_threads_damaged_samples)
{
	static const int formats[] = {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	const size_t n = sizeof formats / sizeof formats[0];
	/* both formats written: a file missing fails the test */
	ck_assert_int_eq(synth_damage_trials(formats, n, 44100, 8.0, 7u, 24, damage_halves, same_decode_capped), n);
}
END_TEST

/* test_threads_damaged's damage: truncated to 1/7 .. 6/7 (some short of 3 s, some not), then bytes flipped in the
 * stream, not the header. */
static synth_damage damage_stream(int trial, size_t len)
{
	if (trial < 6)
		return (synth_damage){.cut = len * (size_t)(trial + 1) / 7};
	return (synth_damage){.lo = 256, .hi = len, .count = (trial - 5) * 6};
}

/* The same analysis or error on one and two threads. */
static void same_analysis(const unsigned char *c, size_t len, const char *label)
{
	same_both_ways(c, len, 30.0, label);
}

/* Truncated and corrupted files: the threaded path fails (or succeeds) exactly as the sequential one, with the
 * same error, and returns (a hang would time the test out). */
START_TEST(test_threads_damaged)
{
	static const int formats[] = {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, SF_FORMAT_WAV | SF_FORMAT_PCM_16,
				      SF_FORMAT_OGG | SF_FORMAT_VORBIS, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III};
	const size_t n = sizeof formats / sizeof formats[0];
	ck_assert_int_ge(synth_damage_trials(formats, n, 44100, 8.0, 99u, 16, damage_stream, same_analysis), 0);
}
END_TEST

/* Errors found before or after the threads run: not audio, silence, too short. */
START_TEST(test_threads_errors)
{
	static const unsigned char junk[] = "this is not audio at all, just text";
	ck_assert_int_eq(same_both_ways(junk, sizeof junk, 30.0, "junk"), -1);
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 6.0, synth_silence, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(same_both_ways(b, len, 30.0, "silence"), -1);
	free(b);
	b = synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 2.0, synth_music, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(same_both_ways(b, len, 30.0, "2 s"), -1);
	free(b);
}
END_TEST

static Suite *threads_suite(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("threads");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_threads_same_results);
	tcase_add_test(tc, test_threads_same_samples);
	tcase_add_test(tc, test_threads_damaged);
	tcase_add_test(tc, test_threads_errors);
	tcase_add_test(tc, test_threads_edge_lengths);
	tcase_add_test(tc, test_threads_damaged_samples);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ss_check_run(threads_suite());
}
