/* Segments (core/analysis/segments.h, over frames.h) on signals synthesised here: notes of known pitch, level
 * and onset time, silence, and a full-scale tone. Onsets must start segments within a frame, each note's segment must name its
 * pitch class and level, and every segment must keep the documented ranges and tile the clip. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/segments.h"
#include "core/analysis/stft.h"
#include "tests/check_main.h"

#define SR 22050.0
#define NFFT 1024 /* the pipeline's descriptor STFT */
#define FRAME_S (NFFT / SR)

/* Segments of x (n samples) through the pipeline's STFT and frame measurements; *n receives their count. */
static ss_segment *segments_of(const float *x, size_t n, size_t *count)
{
	ss_spectrogram s;
	ss_frames f;
	ss_error err;
	ck_assert_int_eq(ss_stft_magnitude(x, n, SR, NFFT, NFFT, &s, &err), 0);
	ck_assert_int_eq(ss_frames_compute(&s, &f, &err), 0);
	ck_assert_uint_eq(f.n, s.n_frames);
	ss_segment *seg = NULL;
	ck_assert_int_eq(ss_segments_compute(&f, (double)n / SR, &seg, count, &err), 0);
	ss_frames_free(&f);
	ss_spectrogram_free(&s);
	ck_assert_ptr_nonnull(seg);
	return seg;
}

/* Every documented invariant: segments tile [0, duration), values in their ranges. */
static void check_contract(const ss_segment *seg, size_t n, double duration)
{
	ck_assert_uint_ge(n, 1);
	ck_assert(seg[0].start == 0.0);
	for (size_t i = 0; i < n; i++) {
		const ss_segment *g = &seg[i];
		ck_assert_msg(g->duration > 0.0, "segment %zu has duration %g", i, g->duration);
		double end = i + 1 < n ? seg[i + 1].start : duration;
		ck_assert(fabs(g->start + g->duration - end) < 1e-9);
		ck_assert(g->confidence >= 0.0 && g->confidence <= 1.0);
		ck_assert(g->loudness_max_time >= 0.0 && g->loudness_max_time <= g->duration);
		const double lv[3] = {g->loudness_start, g->loudness_max, g->loudness_end};
		for (int k = 0; k < 3; k++)
			ck_assert(lv[k] >= SS_SEGMENT_FLOOR_DB && lv[k] <= 0.0);
		ck_assert(g->loudness_max >= g->loudness_start);
		double top = 0.0;
		for (int k = 0; k < SS_SEGMENT_DIMS; k++) {
			ck_assert(g->pitches[k] >= 0.0 && g->pitches[k] <= 1.0);
			top = fmax(top, g->pitches[k]);
			ck_assert(isfinite(g->timbre[k]));
		}
		ck_assert(top == 1.0 || top == 0.0);
		ck_assert(g->timbre[0] >= 0.0 && g->timbre[0] <= -SS_SEGMENT_FLOOR_DB);
	}
}

/* A note: harmonics 1..4 of midi pitch p at a steady amplitude a from t0 for len seconds (5 ms ramps), added
 * to x. */
static void add_note(float *x, size_t n, int p, double a, double t0, double len)
{
	double f = 440.0 * pow(2.0, (p - 69) / 12.0);
	size_t i0 = (size_t)(t0 * SR), i1 = (size_t)((t0 + len) * SR);
	for (size_t i = i0; i < i1 && i < n; i++) {
		double t = (double)(i - i0) / SR, v = 0.0;
		for (int h = 1; h <= 4; h++)
			v += sin(2 * M_PI * f * h * t) / h;
		double ramp = fmin(fmin(t, len - t) / 0.005, 1.0);
		x[i] += (float)(a * ramp * v);
	}
}

START_TEST(test_notes_start_segments)
{
	/* eight notes of 0.35 s every 0.5 s: C4 E4 G4 A4 D5 F4 B4 D#4, every second one 12 dB quieter */
	static const int pitch[8] = {60, 64, 67, 69, 74, 65, 71, 63};
	const double t0 = 0.3, step = 0.5;
	const size_t n = (size_t)(5.0 * SR);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (int i = 0; i < 8; i++)
		add_note(x, n, pitch[i], i % 2 ? 0.1 : 0.4, t0 + i * step, 0.35);
	size_t count;
	ss_segment *seg = segments_of(x, n, &count);
	check_contract(seg, count, 5.0);
	double loud[8];
	for (int i = 0; i < 8; i++) {
		double onset = t0 + i * step;
		/* the segment that starts within a frame of the onset */
		const ss_segment *g = NULL;
		for (size_t k = 0; k < count; k++)
			if (fabs(seg[k].start - onset) <= FRAME_S)
				g = &seg[k];
		ck_assert_msg(g != NULL, "no segment starts near the note at %.2f s", onset);
		ck_assert_msg(g->confidence > 0.5, "note %d: confidence %g", i, g->confidence);
		int best = 0;
		for (int k = 1; k < SS_SEGMENT_DIMS; k++)
			if (g->pitches[k] > g->pitches[best])
				best = k;
		ck_assert_msg(best == pitch[i] % 12, "note %d (class %d) read as class %d", i, pitch[i] % 12, best);
		ck_assert(g->loudness_max_time < 0.35);
		loud[i] = g->loudness_max;
	}
	for (int i = 0; i + 1 < 8; i += 2)
		ck_assert_msg(fabs(loud[i] - loud[i + 1] - 12.04) < 1.5, "levels %g and %g", loud[i], loud[i + 1]);
	/* nothing but the notes starts a segment: at most one more (the silence before the first note) */
	ck_assert_uint_le(count, 9);
	ck_assert(seg[0].loudness_start == SS_SEGMENT_FLOOR_DB);
	free(seg);
	free(x);
}
END_TEST

START_TEST(test_silence_is_one_segment)
{
	const size_t n = (size_t)(3.0 * SR);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	size_t count;
	ss_segment *seg = segments_of(x, n, &count);
	ck_assert_uint_eq(count, 1);
	check_contract(seg, count, 3.0);
	ck_assert(seg[0].loudness_max == SS_SEGMENT_FLOOR_DB && seg[0].timbre[0] == 0.0);
	ck_assert(seg[0].pitches[0] == 0.0 && seg[0].pitches[11] == 0.0);
	free(seg);
	free(x);
}
END_TEST

START_TEST(test_full_scale_tone_level)
{
	/* a steady sine of amplitude 1 has a mean square of 1/2: -3.01 dBFS, and starts nothing after its start */
	const size_t n = (size_t)(3.0 * SR);
	float *x = malloc(n * sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)sin(2 * M_PI * 440.0 * (double)i / SR);
	size_t count;
	ss_segment *seg = segments_of(x, n, &count);
	check_contract(seg, count, 3.0);
	ck_assert_uint_eq(count, 1);
	ck_assert_msg(fabs(seg[0].loudness_max + 3.01) < 0.2, "level %g", seg[0].loudness_max);
	ck_assert(seg[0].pitches[9] == 1.0); /* A */
	free(seg);
	free(x);
}
END_TEST

START_TEST(test_bad_input_is_refused)
{
	ss_spectrogram s;
	ss_error err;
	float x[4096] = {0};
	ck_assert_int_eq(ss_stft_power(x, 4096, SR, NFFT, NFFT, &s, &err), 0);
	ss_frames f;
	ck_assert_int_eq(ss_frames_compute(&s, &f, &err), -1); /* power, not magnitude */
	ck_assert(f.n == 0 && f.level == NULL && err.code == SS_ERR_INTERNAL);
	ss_spectrogram_free(&s);
	ss_segment *seg = (ss_segment *)&s; /* must be set to NULL */
	size_t n = 7;
	ck_assert_int_eq(ss_segments_compute(&f, 1.0, &seg, &n, &err), -1); /* no frames */
	ck_assert(seg == NULL && n == 0 && err.code == SS_ERR_INTERNAL);
	ck_assert_int_eq(ss_stft_magnitude(x, 4096, SR, NFFT, NFFT, &s, &err), 0);
	ck_assert_int_eq(ss_frames_compute(&s, &f, &err), 0);
	ck_assert_int_eq(ss_segments_compute(&f, 0.0, &seg, &n, &err), -1); /* no duration */
	ss_frames_free(&f);
	ss_frames_free(&f); /* twice is harmless */
	ss_spectrogram_free(&s);
}
END_TEST

static Suite *segments_suite(void)
{
	Suite *s = suite_create("segments");
	TCase *tc = tcase_create("segments");
	tcase_add_test(tc, test_notes_start_segments);
	tcase_add_test(tc, test_silence_is_one_segment);
	tcase_add_test(tc, test_full_scale_tone_level);
	tcase_add_test(tc, test_bad_input_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ss_check_run(segments_suite());
}
