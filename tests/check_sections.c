/* Sections (core/analysis/sections.h) on music synthesised here: two textures that alternate every 10 s must be
 * cut where they change, steady music (chords cycling every 2 s over a beat) and a short clip must stay one
 * section, and every section must keep the documented ranges and tile the clip. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/sections.h"
#include "core/analysis/stft.h"
#include "tests/check_main.h"

#define SR 22050.0
#define NFFT 1024 /* the pipeline's descriptor STFT */

static unsigned seed = 7;

static double noise(void)
{
	return (double)rand_r(&seed) / RAND_MAX * 2.0 - 1.0;
}

/* Sections of x (n samples) through the pipeline's STFT and frame measurements. */
static ss_section *sections_of(const float *x, size_t n, size_t *count)
{
	ss_spectrogram s;
	ss_frames f;
	ss_error err;
	ck_assert_int_eq(ss_stft_magnitude(x, n, SR, NFFT, NFFT, &s, &err), 0);
	ck_assert_int_eq(ss_frames_compute(&s, &f, &err), 0);
	ss_section *sec = NULL;
	ck_assert_int_eq(ss_sections_compute(&f, (double)n / SR, &sec, count, &err), 0);
	ss_frames_free(&f);
	ss_spectrogram_free(&s);
	ck_assert_ptr_nonnull(sec);
	return sec;
}

static void check_contract(const ss_section *sec, size_t n, double duration)
{
	ck_assert_uint_ge(n, 1);
	ck_assert(sec[0].start == 0.0 && sec[0].confidence == 1.0);
	for (size_t i = 0; i < n; i++) {
		ck_assert(sec[i].duration > 0.0);
		double end = i + 1 < n ? sec[i + 1].start : duration;
		ck_assert(fabs(sec[i].start + sec[i].duration - end) < 1e-9);
		ck_assert(sec[i].confidence >= 0.0 && sec[i].confidence <= 1.0);
		ck_assert(sec[i].loudness >= SS_FRAME_FLOOR_DB && sec[i].loudness <= 0.0);
	}
}

/* A chord of three notes (midi) with four harmonics each, held from t0 for len seconds at amplitude a. */
static void add_chord(float *x, size_t n, const int notes[3], double a, double t0, double len)
{
	size_t i0 = (size_t)(t0 * SR), i1 = (size_t)((t0 + len) * SR);
	for (int k = 0; k < 3; k++) {
		double f = 440.0 * pow(2.0, (notes[k] - 69) / 12.0);
		for (size_t i = i0; i < i1 && i < n; i++) {
			double t = (double)(i - i0) / SR, v = 0.0;
			for (int h = 1; h <= 4; h++)
				v += sin(2 * M_PI * f * h * t) / h;
			x[i] += (float)(a * fmin(t / 0.01, 1.0) * v);
		}
	}
}

/* A kick on every beat and a noise hi-hat between, at bpm, from t0 for len seconds at amplitude a. */
static void add_beat(float *x, size_t n, double bpm, double a, double t0, double len)
{
	const double beat = 60.0 / bpm;
	for (size_t i = (size_t)(t0 * SR); i < (size_t)((t0 + len) * SR) && i < n; i++) {
		double t = (double)i / SR - t0, ph = fmod(t, beat), off = fmod(t + beat / 2, beat);
		x[i] += (float)(a * (exp(-ph * 30.0) * sin(2 * M_PI * 55.0 * ph) + 0.3 * exp(-off * 80.0) * noise()));
	}
}

/* Soft C-major chords alone (A), then loud F#-major chords over a beat (B), then A again: 10 s each. */
START_TEST(test_changes_start_sections)
{
	static const int a_chords[2][3] = {{60, 64, 67}, {65, 69, 72}};
	static const int b_chords[2][3] = {{66, 70, 73}, {71, 75, 78}};
	const size_t n = (size_t)(30.0 * SR);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (int i = 0; i < 15; i++) {
		double t0 = i * 2.0;
		bool b = t0 >= 10.0 && t0 < 20.0;
		add_chord(x, n, b ? b_chords[i % 2] : a_chords[i % 2], b ? 0.12 : 0.03, t0, 2.0);
	}
	add_beat(x, n, 120.0, 0.4, 10.0, 10.0);
	size_t count;
	ss_section *sec = sections_of(x, n, &count);
	check_contract(sec, count, 30.0);
	ck_assert_uint_eq(count, 3);
	ck_assert_msg(fabs(sec[1].start - 10.0) <= 1.0 && fabs(sec[2].start - 20.0) <= 1.0, "sections at %g and %g s",
		      sec[1].start, sec[2].start);
	ck_assert(sec[1].confidence > 0.5 && sec[2].confidence > 0.5);
	ck_assert_msg(sec[1].loudness > sec[0].loudness + 6.0 && sec[1].loudness > sec[2].loudness + 6.0,
		      "loudness %g %g %g", sec[0].loudness, sec[1].loudness, sec[2].loudness);
	free(sec);
	free(x);
}
END_TEST

/* The same four chords cycling every 2 s over the same beat for 30 s: nothing changes for good. */
START_TEST(test_steady_music_is_one_section)
{
	static const int chords[4][3] = {{57, 60, 64}, {53, 57, 60}, {60, 64, 67}, {55, 59, 62}};
	const size_t n = (size_t)(30.0 * SR);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (int i = 0; i < 15; i++)
		add_chord(x, n, chords[i % 4], 0.05, i * 2.0, 2.0);
	add_beat(x, n, 100.0, 0.3, 0.0, 30.0);
	size_t count;
	ss_section *sec = sections_of(x, n, &count);
	check_contract(sec, count, 30.0);
	ck_assert_uint_eq(count, 1);
	free(sec);
	free(x);
}
END_TEST

/* Shorter than 6 s on either side of any boundary, and silent: one section; no frames or no duration: refused. */
START_TEST(test_short_silent_and_refused)
{
	const size_t n = (size_t)(5.0 * SR);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	size_t count;
	ss_section *sec = sections_of(x, n, &count);
	check_contract(sec, count, 5.0);
	ck_assert_uint_eq(count, 1);
	ck_assert(sec[0].loudness == SS_FRAME_FLOOR_DB);
	free(sec);
	free(x);
	ss_frames none;
	memset(&none, 0, sizeof none);
	ss_error err;
	ss_section *out = (ss_section *)&none;
	count = 3;
	ck_assert_int_eq(ss_sections_compute(&none, 1.0, &out, &count, &err), -1);
	ck_assert(out == NULL && count == 0 && err.code == SS_ERR_INTERNAL);
	double lv = -20.0;
	float band[SS_FRAME_BANDS] = {0}, pitch[12] = {0};
	ss_frames one = {.n = 1, .hop_s = 0.05, .span_s = 0.05, .level = &lv, .band = band, .pitch = pitch};
	ck_assert_int_eq(ss_sections_compute(&one, 0.0, &out, &count, &err), -1);
	ck_assert_int_eq(ss_sections_compute(&one, 0.05, &out, &count, &err), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert(out[0].loudness == -20.0);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sections");
	TCase *tc = tcase_create("sections");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_changes_start_sections);
	tcase_add_test(tc, test_steady_music_is_one_section);
	tcase_add_test(tc, test_short_silent_and_refused);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
