/* Tempo, beats and metre on synthesised signals: click tracks and drum patterns at several tempi and sample
 * rates, 3/4, 4/4 and 6/8 accents with their downbeats, the tempo readings offered (bpm_candidates), slow music
 * without sharp onsets (a hymn, a legato line), and the degenerate inputs (silence, a sine, noise, DC, clipping,
 * short input). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/chord_change.h"
#include "core/analysis/tempo.h"
#include "tests/check_main.h"

/* Deterministic noise in [-1, 1). */
static double noise(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (double)(*s >> 8) / 8388608.0 - 1.0;
}

enum drum { KICK, SNARE, HAT, CLICK };

/* Add one drum hit at sample position at. */
static void hit(float *x, size_t n, double sr, double at, enum drum d, double gain, uint32_t *seed)
{
	size_t start = (size_t)llround(at);
	size_t len = (size_t)(0.12 * sr);
	for (size_t i = 0; i < len && start + i < n; i++) {
		double t = (double)i / sr, v = 0.0;
		switch (d) {
		case KICK: /* pitch-dropping sine thump */
			v = sin(2.0 * M_PI * (50.0 * t + 60.0 * (1.0 - exp(-t * 30.0)) / 30.0)) * exp(-t * 25.0);
			break;
		case SNARE:
			v = (0.6 * noise(seed) + 0.4 * sin(2.0 * M_PI * 190.0 * t)) * exp(-t * 30.0);
			break;
		case HAT:
			v = noise(seed) * exp(-t * 120.0);
			if (sr < 16000.0)
				v *= 0.5;
			break;
		case CLICK:
			v = (0.5 * noise(seed) + 0.5 * sin(2.0 * M_PI * 1000.0 * t)) * exp(-t * 60.0);
			break;
		}
		x[start + i] += (float)(gain * v);
	}
}

/* n = seconds * sr samples; caller frees. */
static float *alloc_signal(double sr, double seconds, size_t *n)
{
	*n = (size_t)(seconds * sr);
	float *x = calloc(*n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	return x;
}

/* Clicks (kick + click) on every beat. */
static float *click_track(double sr, double bpm, double seconds, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	uint32_t seed = 1;
	double period = 60.0 / bpm * sr;
	for (double at = 0.05 * sr; at < (double)*n; at += period) {
		hit(x, *n, sr, at, KICK, 0.5, &seed);
		hit(x, *n, sr, at, CLICK, 0.3, &seed);
	}
	return x;
}

/* Rock pattern: kick on 1 and 3, snare on 2 and 4, closed hat on every quarter note. */
static float *rock(double sr, double bpm, double seconds, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	uint32_t seed = 7;
	double period = 60.0 / bpm * sr;
	size_t beat = 0;
	for (double at = 0.1 * sr; at < (double)*n; at += period, beat++) {
		hit(x, *n, sr, at, beat % 2 == 0 ? KICK : SNARE, 0.5, &seed);
		hit(x, *n, sr, at, HAT, 0.15, &seed);
	}
	return x;
}

/* Bars of `meter` beats: a loud low kick with a chord-like tone change on beat 1, soft high clicks on the
 * others. */
static float *accents(double sr, double bpm, int meter, double seconds, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	uint32_t seed = 3;
	double period = 60.0 / bpm * sr;
	size_t beat = 0;
	for (double at = 0.1 * sr; at < (double)*n; at += period, beat++) {
		if (beat % (size_t)meter == 0) {
			hit(x, *n, sr, at, KICK, 0.8, &seed);
			hit(x, *n, sr, at, CLICK, 0.4, &seed);
		} else {
			hit(x, *n, sr, at, CLICK, 0.15, &seed);
		}
	}
	return x;
}

/* Oom-pah-pah (or oom-pah in 4): a low bass note on beat 1, a mid-register chord on the other beats; the
 * harmony moves every bar. No level accents: the metre shows in timbre and harmony only. */
static float *oompah(double sr, double bpm, int meter, double seconds, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	static const double roots[] = {98.0, 130.8, 110.0, 146.8};
	double period = 60.0 / bpm * sr;
	size_t beat = 0;
	for (double at = 0.1 * sr; at < (double)*n; at += period, beat++) {
		size_t start = (size_t)llround(at), len = (size_t)(0.9 * period);
		double root = roots[(beat / (size_t)meter) % 4];
		for (size_t i = 0; i < len && start + i < *n; i++) {
			double t = (double)i / sr, env = (1.0 - exp(-t * 300.0)) * exp(-t * 6.0), v;
			if (beat % (size_t)meter == 0)
				v = 0.5 * sin(2.0 * M_PI * root * t);
			else
				v = 0.15 * (sin(2.0 * M_PI * root * 4.0 * t) + sin(2.0 * M_PI * root * 5.04 * t) +
					    sin(2.0 * M_PI * root * 6.0 * t));
			x[start + i] += (float)(env * v);
		}
	}
	return x;
}

/* 6/8: eighth notes at 3 * bpm (bpm counts dotted quarters); a loud low kick with a click on the first
 * eighth of the bar, a medium click on the fourth, soft clicks on the rest. */
static float *compound(double sr, double bpm, double seconds, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	uint32_t seed = 5;
	double eighth = 60.0 / bpm / 3.0 * sr;
	size_t k = 0;
	for (double at = 0.1 * sr; at < (double)*n; at += eighth, k++) {
		if (k % 6 == 0) {
			hit(x, *n, sr, at, KICK, 0.8, &seed);
			hit(x, *n, sr, at, CLICK, 0.4, &seed);
		} else {
			hit(x, *n, sr, at, CLICK, k % 6 == 3 ? 0.25 : 0.1, &seed);
		}
	}
	return x;
}

static double rel_err(double got, double want)
{
	return fabs(got - want) / want;
}

static void assert_no_pulse(const ss_tempo *t)
{
	ck_assert_msg(isnan(t->bpm), "expected no pulse, got %.2f BPM", t->bpm);
	ck_assert(t->confidence == 0.0);
	ck_assert_uint_eq(t->n_beats, 0);
	ck_assert_ptr_null(t->beats);
	ck_assert(isfinite(t->pulse_clarity) && isfinite(t->beat_regularity) && isfinite(t->onset_density));
}

static void assert_sane(const ss_tempo *t)
{
	ck_assert(isfinite(t->confidence) && t->confidence >= 0.0 && t->confidence <= 1.0);
	ck_assert(isfinite(t->pulse_clarity) && t->pulse_clarity >= 0.0 && t->pulse_clarity <= 1.0);
	ck_assert(isfinite(t->beat_regularity) && t->beat_regularity >= 0.0 && t->beat_regularity <= 1.0);
	ck_assert(isfinite(t->onset_density) && t->onset_density >= 0.0);
	ck_assert(t->beats_per_bar >= 2 && t->beats_per_bar <= 7);
	/* the metre's confidence: 0..1, and 0 where no bar line could be placed (or there is no pulse) */
	ck_assert(isfinite(t->time_signature_confidence) && t->time_signature_confidence >= 0.0 &&
		  t->time_signature_confidence <= 1.0);
	ck_assert(t->n_downbeats > 0 || t->time_signature_confidence == 0.0);
	for (size_t i = 1; i < t->n_beats; i++)
		ck_assert(t->beats[i] > t->beats[i - 1]);
	/* every downbeat is one of the beats, bars are beats_per_bar beats long */
	size_t j = 0;
	for (size_t i = 0; i < t->n_downbeats; i++) {
		while (j < t->n_beats && t->beats[j] != t->downbeats[i])
			j++;
		ck_assert_msg(j < t->n_beats, "downbeat %.3f is not a beat", t->downbeats[i]);
		j += (size_t)t->beats_per_bar;
		if (i + 1 < t->n_downbeats)
			ck_assert(j < t->n_beats && t->beats[j] == t->downbeats[i + 1]);
	}
	if (isfinite(t->bpm)) {
		ck_assert(t->time_signature != NULL);
		ck_assert(t->n_candidates >= 1 && t->n_candidates <= SS_BPM_CANDIDATES);
		ck_assert(t->candidates[0].bpm == t->bpm);
		for (size_t i = 0; i < t->n_candidates; i++)
			ck_assert(isfinite(t->candidates[i].score) && t->candidates[i].score >= 0.0 &&
				  t->candidates[i].score <= 1.0 && t->candidates[i].bpm > 0.0);
	}
}

static const double rates[] = {8000.0, 22050.0, 44100.0};
static const double tempi[] = {60.0, 75.0, 90.0, 120.0, 140.0, 165.0, 200.0};

START_TEST(test_click_tempo)
{
	double sr = rates[_i / (int)(sizeof tempi / sizeof tempi[0])];
	double bpm = tempi[_i % (int)(sizeof tempi / sizeof tempi[0])];
	size_t n;
	float *x = click_track(sr, bpm, 20.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, bpm) < 0.005, "%.0f Hz, %.1f BPM: got %.3f", sr, bpm, t.bpm);
	ck_assert_msg(t.confidence > 0.5, "%.0f Hz, %.1f BPM: confidence %.2f", sr, bpm, t.confidence);
	ck_assert_msg(t.pulse_clarity > 0.5, "pulse clarity %.2f", t.pulse_clarity);
	ck_assert_msg(t.beat_regularity > 0.9, "regularity %.2f", t.beat_regularity);
	ck_assert_msg(t.beats_per_bar == 4, "identical clicks at %.0f Hz, %.1f BPM: %d beats per bar", sr, bpm,
		      t.beats_per_bar);

	/* Beats: one per click, each within 30 ms of a click. */
	double period = 60.0 / bpm, expect = floor((20.0 - 0.05) / period) + 1.0;
	ck_assert_msg(fabs((double)t.n_beats - expect) <= 2.0, "%zu beats, expected about %.0f", t.n_beats, expect);
	for (size_t i = 0; i < t.n_beats; i++) {
		double k = round((t.beats[i] - 0.05) / period);
		ck_assert_msg(fabs(t.beats[i] - (0.05 + k * period)) < 0.03, "beat %zu at %.3f s is off the grid", i,
			      t.beats[i]);
	}
	double dens = t.onset_density * 60.0 / bpm;
	ck_assert_msg(dens > 0.8 && dens < 1.25, "onset density %.2f/s at %.0f BPM", t.onset_density, bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* Kick/snare backbeat with a hat on every beat. (Above about 170 BPM such a pattern is heard, and
 * estimated, in half time, so the tempi stop at 160.) */
START_TEST(test_rock_tempo)
{
	static const double bpms[] = {85.0, 100.0, 128.0, 160.0};
	double sr = 22050.0;
	size_t n;
	float *x = rock(sr, bpms[_i], 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, bpms[_i]) < 0.005, "%.1f BPM: got %.3f", bpms[_i], t.bpm);
	ck_assert_msg(t.beats_per_bar == 4, "%.1f BPM backbeat: %d beats per bar", bpms[_i], t.beats_per_bar);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* Swung backbeat: hats on the beat and on the last triplet of each beat. The triplet grid must not pull
 * the estimate to a 3:2 relative. */
START_TEST(test_swing)
{
	static const double bpms[] = {90.0, 120.0, 150.0};
	double sr = 22050.0;
	size_t n;
	float *x = alloc_signal(sr, 30.0, &n);
	uint32_t seed = 9;
	double period = 60.0 / bpms[_i] * sr;
	size_t beat = 0;
	for (double at = 0.1 * sr; at < (double)n; at += period, beat++) {
		hit(x, n, sr, at, beat % 2 == 0 ? KICK : SNARE, 0.5, &seed);
		hit(x, n, sr, at, HAT, 0.15, &seed);
		hit(x, n, sr, at + period * 2.0 / 3.0, HAT, 0.1, &seed);
	}
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, bpms[_i]) < 0.005, "swing at %.0f BPM: got %.3f", bpms[_i], t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* Sub-BPM precision on a tempo between grid points. */
START_TEST(test_precision)
{
	static const double bpms[] = {97.3, 123.4, 151.7};
	size_t n;
	float *x = click_track(22050.0, bpms[_i], 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	ck_assert_msg(fabs(t.bpm - bpms[_i]) < 0.1, "%.2f BPM: got %.3f", bpms[_i], t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

static void check_downbeats(const ss_tempo *t, double bar_s, double seconds);
/* Analyse x (22050 Hz, owned: freed here) and expect bpm within 1 % and the given beats per bar. */
static void check_meter(float *x, size_t n, double bpm, int meter)
{
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, bpm) < 0.01, "%.0f BPM in %d: got %.2f", bpm, meter, t.bpm);
	ck_assert_msg(t.beats_per_bar == meter, "%.0f BPM in %d: got %d beats per bar", bpm, meter, t.beats_per_bar);
	check_downbeats(&t, 60.0 / bpm * meter, 30.0);
	ss_tempo_free(&t);
	free(x);
}

START_TEST(test_meter)
{
	static const struct {
		double bpm;
		int meter;
	} cases[] = {{90.0, 3}, {120.0, 3}, {150.0, 3}, {90.0, 4}, {120.0, 4}, {150.0, 4}};
	size_t n;
	float *x = accents(22050.0, cases[_i].bpm, cases[_i].meter, 30.0, &n);
	check_meter(x, n, cases[_i].bpm, cases[_i].meter);
}
END_TEST

START_TEST(test_meter_oompah)
{
	static const struct {
		double bpm;
		int meter;
	} cases[] = {{100.0, 3}, {140.0, 3}, {100.0, 4}, {140.0, 4}};
	size_t n;
	float *x = oompah(22050.0, cases[_i].bpm, cases[_i].meter, 30.0, &n);
	check_meter(x, n, cases[_i].bpm, cases[_i].meter);
}
END_TEST

/* Every downbeat within a quarter of a beat (t's own beat period) of a bar start of the synthesised
 * pattern (first bar at 0.1 s, bars bar_s seconds long), and at least half of the bars found. */
static void check_downbeats(const ss_tempo *t, double bar_s, double seconds)
{
	double beat = 60.0 / t->bpm;
	size_t bars = (size_t)((seconds - 0.1) / bar_s);
	ck_assert_msg(t->n_downbeats * 2 >= bars, "%zu downbeats for %zu bars", t->n_downbeats, bars);
	for (size_t i = 0; i < t->n_downbeats; i++) {
		double k = round((t->downbeats[i] - 0.1) / bar_s);
		double off = fabs(t->downbeats[i] - (0.1 + k * bar_s)) / beat;
		ck_assert_msg(off < 0.25, "downbeat %.3f is %.2f beats from a bar start (bar %.3f s, %s, %.2f BPM)",
			      t->downbeats[i], off, bar_s, t->time_signature, t->bpm);
	}
}

/* 3/4 and 4/4 accent patterns: the time signature, and downbeats on the accented beats. */
START_TEST(test_downbeats_simple)
{
	static const struct {
		double bpm;
		int meter;
		const char *ts;
	} cases[] = {{90.0, 3, "3/4"}, {120.0, 3, "3/4"}, {150.0, 3, "3/4"},
		     {90.0, 4, "4/4"}, {120.0, 4, "4/4"}, {150.0, 4, "4/4"}};
	size_t n;
	float *x = accents(22050.0, cases[_i].bpm, cases[_i].meter, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, cases[_i].bpm) < 0.01, "got %.2f BPM", t.bpm);
	ck_assert_str_eq(t.time_signature, cases[_i].ts);
	/* one accent a bar and nothing else: the bar's length is clear */
	ck_assert_msg(t.time_signature_confidence >= 0.5, "%s at %.0f BPM: time signature confidence %.3f", cases[_i].ts,
		      cases[_i].bpm, t.time_signature_confidence);
	check_downbeats(&t, 60.0 / cases[_i].bpm * cases[_i].meter, 30.0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* 6/8 at several tempi: whatever beat level the tempo stage picks (dotted quarter or eighth), the time
 * signature is 6/8 and the downbeats fall on the bar accents. */
START_TEST(test_downbeats_compound)
{
	static const double bpms[] = {45.0, 55.0, 60.0, 80.0, 90.0}; /* eighth, quarter and dotted-quarter beats */
	double bpm = bpms[_i];
	size_t n;
	float *x = compound(22050.0, bpm, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(t.time_signature != NULL && strcmp(t.time_signature, "6/8") == 0,
		      "6/8 at %.0f dotted quarters per minute: got %s at %.2f BPM (%d beats per bar)", bpm,
		      t.time_signature ? t.time_signature : "(null)", t.bpm, t.beats_per_bar);
	ck_assert_msg(t.time_signature_confidence >= 0.5, "6/8 at %.0f: time signature confidence %.3f", bpm,
		      t.time_signature_confidence);
	check_downbeats(&t, 2.0 * 60.0 / bpm, 30.0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A plain 4/4 pulse: the first candidate is the tempo, the others are its half and double. */
START_TEST(test_candidates)
{
	static const double bpms[] = {90.0, 120.0, 140.0};
	size_t n;
	float *x = click_track(22050.0, bpms[_i], 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert(rel_err(t.bpm, bpms[_i]) < 0.005);
	ck_assert_str_eq(t.time_signature, "4/4");
	ck_assert_uint_eq(t.n_candidates, 3);
	ck_assert(t.candidates[0].bpm == t.bpm);
	int half = 0, dbl = 0;
	for (size_t i = 1; i < t.n_candidates; i++) {
		half |= rel_err(t.candidates[i].bpm, t.bpm / 2.0) < 1e-9;
		dbl |= rel_err(t.candidates[i].bpm, t.bpm * 2.0) < 1e-9;
	}
	ck_assert_msg(half && dbl, "%.2f BPM: candidates %.2f, %.2f", t.bpm, t.candidates[1].bpm, t.candidates[2].bpm);
	/* best first after the chosen tempo; identical clicks: the chosen reading is the best-scored one */
	ck_assert(t.candidates[1].score >= t.candidates[2].score);
	ck_assert(t.candidates[0].score >= t.candidates[1].score);
	/* identical beats: no bar lines to show, and no confidence in the metre */
	ck_assert_uint_eq(t.n_downbeats, 0);
	ck_assert(t.time_signature_confidence == 0.0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_silence)
{
	size_t n;
	float *x = alloc_signal(22050.0, 10.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_no_pulse(&t);
	ck_assert(t.onset_density == 0.0);
	ss_tempo_free(&t);
	/* No samples at all. */
	ck_assert_int_eq(ss_tempo_analyze(x, 0, 22050.0, &t, &err), 0);
	assert_no_pulse(&t);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_sine)
{
	size_t n;
	float *x = alloc_signal(22050.0, 20.0, &n);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.5 * sin(2.0 * M_PI * 440.0 * (double)i / 22050.0));
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_no_pulse(&t);
	ck_assert_msg(t.onset_density < 0.5, "onset density %.2f for a steady tone", t.onset_density);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A held chord: partials closer than the analysis bandwidth beat against each other; that must not turn
 * into a tempo. */
START_TEST(test_chord)
{
	static const double roots[] = {110.0, 220.0, 440.0};
	double sr = 22050.0;
	size_t n;
	float *x = alloc_signal(sr, 20.0, &n);
	double f0 = roots[_i];
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / sr;
		x[i] = (float)(0.2 * (sin(2.0 * M_PI * f0 * t) + sin(2.0 * M_PI * f0 * 1.26 * t) +
				      sin(2.0 * M_PI * f0 * 1.498 * t)));
	}
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	assert_no_pulse(&t);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_noise)
{
	size_t n;
	float *x = alloc_signal(22050.0, 20.0, &n);
	uint32_t seed = 99;
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.3 * noise(&seed));
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	/* stationary noise has no rhythm: no tempo, from the onsets nor from the slow rises */
	assert_no_pulse(&t);
	ck_assert_msg(t.onset_density < 5.0, "%.1f onsets/s in white noise", t.onset_density);
	ss_tempo_free(&t);
	free(x);
	/* the same with a slow swell in and out over the whole clip */
	x = alloc_signal(44100.0, 20.0, &n);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.3 * noise(&seed) * (0.6 - 0.4 * cos(2.0 * M_PI * (double)i / (double)n)));
	ck_assert_int_eq(ss_tempo_analyze(x, n, 44100.0, &t, &err), 0);
	assert_no_pulse(&t);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_dc_offset)
{
	size_t n;
	float *x = alloc_signal(22050.0, 10.0, &n);
	for (size_t i = 0; i < n; i++)
		x[i] = 0.4f;
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_no_pulse(&t);
	ss_tempo_free(&t);
	free(x);

	x = click_track(22050.0, 110.0, 20.0, &n);
	for (size_t i = 0; i < n; i++)
		x[i] += 0.4f;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	ck_assert_msg(rel_err(t.bpm, 110.0) < 0.005, "got %.3f with DC offset", t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_clipping)
{
	size_t n;
	float *x = rock(22050.0, 132.0, 20.0, &n);
	for (size_t i = 0; i < n; i++) {
		float v = x[i] * 20.0f;
		x[i] = v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v);
	}
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, 132.0) < 0.005, "got %.3f when clipped", t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A few non-finite samples (a broken decoder) must not poison the result. */
START_TEST(test_non_finite)
{
	size_t n;
	float *x = click_track(22050.0, 104.0, 20.0, &n);
	x[1000] = NAN;
	x[n / 2] = INFINITY;
	x[n / 2 + 7] = -INFINITY;
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, 104.0) < 0.005, "got %.3f with NaN/Inf samples", t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_short)
{
	size_t n;
	float *x = click_track(22050.0, 120.0, 3.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, 120.0) < 0.02, "got %.3f from 3 s", t.bpm);
	ck_assert(t.n_beats >= 4);
	ss_tempo_free(&t);
	free(x);

	/* A fraction of a second: no pulse, no error. */
	x = click_track(22050.0, 120.0, 0.3, &n);
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_no_pulse(&t);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_long)
{
	size_t n;
	float *x = rock(8000.0, 96.0, 600.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 8000.0, &t, &err), 0);
	ck_assert_msg(rel_err(t.bpm, 96.0) < 0.002, "got %.3f from 600 s", t.bpm);
	ck_assert_msg(fabs((double)t.n_beats - 960.0) <= 3.0, "%zu beats in 600 s", t.n_beats);
	ss_tempo_free(&t);
	free(x);

	/* 90 s at 44.1 kHz: many resampler and STFT blocks. */
	x = rock(44100.0, 131.0, 90.0, &n);
	ck_assert_int_eq(ss_tempo_analyze(x, n, 44100.0, &t, &err), 0);
	ck_assert_msg(rel_err(t.bpm, 131.0) < 0.002, "got %.3f from 90 s at 44.1 kHz", t.bpm);
	ck_assert_msg(fabs((double)t.n_beats - 196.0) <= 3.0, "%zu beats in 90 s", t.n_beats);
	for (size_t i = 0; i < t.n_beats; i++) {
		double k = round((t.beats[i] - 0.1) / (60.0 / 131.0));
		ck_assert_msg(fabs(t.beats[i] - (0.1 + k * 60.0 / 131.0)) < 0.03, "beat %zu at %.3f s is off the grid",
			      i, t.beats[i]);
	}
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* One soft pitched note starting at time at (s): four harmonics, a raised-cosine swell over attack_s, held
 * for hold_s from its start, then a raised-cosine release over release_s. */
static void soft_note(float *x, size_t n, double sr, double at, double f0, double attack_s, double hold_s,
		      double release_s, double gain)
{
	size_t start = (size_t)llround(at * sr), len = (size_t)((hold_s + release_s) * sr);
	for (size_t i = 0; i < len && start + i < n; i++) {
		double t = (double)i / sr;
		double env = t < attack_s ? 0.5 - 0.5 * cos(M_PI * t / attack_s) : 1.0;
		if (t > hold_s)
			env *= 0.5 + 0.5 * cos(M_PI * (t - hold_s) / release_s);
		double v = 0.0;
		for (int h = 1; h <= 4; h++)
			if (f0 * h < sr / 2.0)
				v += sin(2.0 * M_PI * f0 * h * t) / h;
		x[start + i] += (float)(gain * env * v);
	}
}

/* A slow hymn on a soft organ: four-note chords swelling in over half a second, held until the next, changing
 * on every beat (every == 1) or every other beat (every == 2); no drums, no sharp attack. */
static float *hymn(double sr, double bpm, int every, double seconds, size_t *n)
{
	static const double chords[][4] = {
		{130.81, 196.00, 261.63, 329.63}, {174.61, 220.00, 261.63, 349.23}, {196.00, 246.94, 293.66, 392.00},
		{110.00, 220.00, 261.63, 329.63}, {146.83, 220.00, 293.66, 349.23}, {196.00, 246.94, 293.66, 349.23},
	};
	float *x = alloc_signal(sr, seconds, n);
	double period = 60.0 / bpm * every;
	size_t k = 0;
	for (double at = 0.1; at < seconds; at += period, k++)
		for (int v = 0; v < 4; v++)
			soft_note(x, *n, sr, at, chords[k % 6][v], 0.5, period, 0.5, 0.08);
	return x;
}

/* A legato line: one bowed-like note per beat swelling in over 0.6 s and held into the next, stepping
 * through a scale, as in a slow fugue subject. */
static float *legato(double sr, double bpm, double seconds, size_t *n)
{
	static const double line[] = {293.66, 329.63, 349.23, 392.00, 440.00, 392.00, 349.23, 329.63,
				      293.66, 277.18, 293.66, 329.63, 349.23, 329.63, 293.66, 261.63};
	float *x = alloc_signal(sr, seconds, n);
	double period = 60.0 / bpm;
	size_t k = 0;
	for (double at = 0.1; at < seconds; at += period, k++)
		soft_note(x, *n, sr, at, line[k % 16], 0.6, period, 0.3, 0.2);
	return x;
}

/* Music always gets a tempo: a slow pulse with sparse, soft onsets is the best-supported reading in the
 * prior's range (the tempo or its double when the chords change only every other beat), never "no pulse". */
START_TEST(test_sparse_slow)
{
	static const struct {
		double sr, bpm;
		int every;
	} c[] = {{22050.0, 60.0, 1}, {44100.0, 60.0, 1}, {22050.0, 60.0, 2}, {44100.0, 60.0, 2}};
	size_t n;
	float *x = hymn(c[_i].sr, c[_i].bpm, c[_i].every, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, c[_i].sr, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(isfinite(t.bpm), "no tempo for a %.0f BPM hymn, chords every %d beats (clarity %.3f)",
		      c[_i].bpm, c[_i].every, t.pulse_clarity);
	ck_assert_msg(rel_err(t.bpm, c[_i].bpm) < 0.04 || rel_err(t.bpm, 2.0 * c[_i].bpm) < 0.04,
		      "got %.2f for a %.0f BPM hymn, chords every %d beats", t.bpm, c[_i].bpm, c[_i].every);
	ck_assert(t.confidence > 0.0 && t.n_beats > 0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A hymn on a church organ as accompaniment generators play it: the chord is held for a whole bar of four beats
 * (swelling in, tied over the beats), the bass moves in half notes (root on beat 1, fifth on beat 3), so nothing
 * sounds on beats 2 and 4 and the only regular onsets are at the half note, below the tempo range. */
static float *organ_hymn(double sr, double bpm, double seconds, size_t *n)
{
	static const double chords[][3] = {
		{261.63, 329.63, 392.00}, {220.00, 261.63, 329.63}, {174.61, 220.00, 261.63}, {196.00, 246.94, 293.66},
	};
	static const double roots[] = {65.41, 55.00, 87.31, 98.00};
	float *x = alloc_signal(sr, seconds, n);
	double beat = 60.0 / bpm;
	size_t bar = 0;
	for (double at = 0.1; at < seconds; at += 4.0 * beat, bar++) {
		for (int v = 0; v < 3; v++)
			soft_note(x, *n, sr, at, chords[bar % 4][v], 0.3, 4.0 * beat, 0.2, 0.06);
		soft_note(x, *n, sr, at, roots[bar % 4], 0.08, 2.0 * beat, 0.2, 0.15);
		soft_note(x, *n, sr, at + 2.0 * beat, roots[bar % 4] * 1.498, 0.08, 2.0 * beat, 0.2, 0.12);
	}
	return x;
}

/* Music always gets a tempo, also when its only regular onsets are at the half note (the organ hymn above):
 * the pulse is clear at that level, and the beat is read at the tempo or its double. */
START_TEST(test_organ_hymn)
{
	static const struct {
		double sr, bpm;
	} c[] = {{22050.0, 75.0}, {44100.0, 75.0}, {22050.0, 66.0}, {44100.0, 84.0}};
	size_t n;
	float *x = organ_hymn(c[_i].sr, c[_i].bpm, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, c[_i].sr, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(isfinite(t.bpm), "no tempo for a %.0f BPM organ hymn (clarity %.3f)", c[_i].bpm,
		      t.pulse_clarity);
	ck_assert_msg(rel_err(t.bpm, c[_i].bpm) < 0.04 || rel_err(t.bpm, 2.0 * c[_i].bpm) < 0.04,
		      "got %.2f for a %.0f BPM organ hymn", t.bpm, c[_i].bpm);
	ck_assert(t.confidence > 0.0 && t.n_beats > 0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_legato)
{
	static const double sr[] = {22050.0, 44100.0};
	size_t n;
	float *x = legato(sr[_i], 84.0, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr[_i], &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(isfinite(t.bpm), "no tempo for an 84 BPM legato line (clarity %.3f)", t.pulse_clarity);
	ck_assert_msg(rel_err(t.bpm, 84.0) < 0.04 || rel_err(t.bpm, 168.0) < 0.04, "got %.2f for 84 BPM legato",
		      t.bpm);
	ck_assert(t.confidence > 0.0 && t.n_beats > 0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A groove at bpm in 4/4 on I-vi-IV-V in C (four held voices), a new chord every beats_per_chord beats (4: one
 * chord per bar, 2: two), a bass note on beats 1 and 3 of the bar and a soft closed hat on every beat, plus a
 * much softer one on the eighths between when eighth > 0 (its level). With one chord per bar the bass and the
 * chords make every other beat the strongest pulse, so the half reading is plausible, and only the harmonic
 * rhythm tells the two apart. seed: the hats' noise. */
static float *chord_groove(double sr, double bpm, double seconds, size_t beats_per_chord, double eighth, uint32_t seed,
			   size_t *n)
{
	static const double chords[4][4] = {
		{130.81, 164.81, 196.00, 261.63}, {110.00, 130.81, 164.81, 220.00},
		{87.31, 110.00, 130.81, 174.61}, {98.00, 123.47, 146.83, 196.00},
	};
	static const double bass[4] = {65.41, 55.00, 43.65, 49.00};
	float *x = alloc_signal(sr, seconds, n);
	double beat = 60.0 / bpm;
	size_t k = 0;
	for (double at = 0.1; at < seconds; at += beat, k++) {
		size_t chord = (k / beats_per_chord) % 4;
		if (k % beats_per_chord == 0)
			for (int v = 0; v < 4; v++)
				soft_note(x, *n, sr, at, chords[chord][v], 0.02, (double)beats_per_chord * beat - 0.05, 0.05,
					  0.06);
		if (k % 2 == 0)
			soft_note(x, *n, sr, at, bass[chord], 0.01, 1.8 * beat, 0.05, 0.3);
		hit(x, *n, sr, at * sr, HAT, 0.1, &seed);
		if (eighth > 0.0)
			hit(x, *n, sr, (at + beat / 2.0) * sr, HAT, eighth, &seed);
	}
	return x;
}

/* The chord rule: a groove at 176-192 BPM whose chords change once a bar is read at its tempo, not at half of it
 * (where the chords change on every other beat and on nothing in between); the same groove notated at 88-96,
 * whose chords change every four beats of that reading, keeps it. */
START_TEST(test_chord_per_bar)
{
	static const struct {
		double sr, bpm;
	} c[] = {{22050.0, 184.0}, {44100.0, 176.0}, {22050.0, 192.0},
		 {22050.0, 92.0},  {44100.0, 88.0},  {22050.0, 96.0}};
	size_t n;
	float *x = chord_groove(c[_i].sr, c[_i].bpm, 30.0, 4, 0.0, 13, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, c[_i].sr, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, c[_i].bpm) < 0.01, "a chord per bar at %.0f BPM (%.0f Hz): got %.2f", c[_i].bpm,
		      c[_i].sr, t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* The chord rule doubles only to a level nearly as clear as the tracked one: a groove at 86-96 BPM whose chords
 * change every half bar, with soft eighths between its beats, keeps its tempo. */
START_TEST(test_half_bar_chords)
{
	static const struct {
		double sr, bpm;
	} c[] = {{22050.0, 92.0}, {44100.0, 86.0}, {22050.0, 96.0}};
	size_t n;
	float *x = chord_groove(c[_i].sr, c[_i].bpm, 30.0, 2, 0.02, 17, &n); /* two chords per bar, soft eighths */
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, c[_i].sr, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, c[_i].bpm) < 0.01, "two chords per bar at %.0f BPM (%.0f Hz): got %.2f",
		      c[_i].bpm, c[_i].sr, t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* ss_chord_change_at_beats: one-second beats holding C, C, F, F, A minor at 5512.5 Hz (the work signal's rate):
 * no change within a chord, a large one between chords, a smaller one between chords sharing two notes; NaN
 * for silence; fewer than three beats write nothing; a rate below 4 kHz is an error. */
START_TEST(test_chord_change)
{
	static const double chords[6][3] = {
		{261.63, 329.63, 392.00}, {261.63, 329.63, 392.00}, {174.61, 220.00, 261.63},
		{174.61, 220.00, 261.63}, {220.00, 261.63, 329.63}, {220.00, 261.63, 329.63},
	};
	double sr = 5512.5;
	size_t n;
	float *x = alloc_signal(sr, 6.5, &n);
	double beats[7];
	for (int b = 0; b < 7; b++)
		beats[b] = 0.25 + b;
	for (int b = 0; b < 6; b++)
		for (int v = 0; v < 3 && chords[b][v] > 0.0; v++)
			soft_note(x, n, sr, beats[b], chords[b][v], 0.02, 0.95, 0.03, 0.1);
	double d[5] = {-1.0, -1.0, -1.0, -1.0, -1.0};
	ss_error err;
	ck_assert_int_eq(ss_chord_change_at_beats(x, n, sr, beats, 7, d, &err), 0);
	ck_assert_msg(d[0] < 0.1 && d[2] < 0.1, "same chord: %.3f %.3f", d[0], d[2]);
	ck_assert_msg(d[1] > 0.3, "C to F: %.3f", d[1]);
	ck_assert_msg(d[3] > 0.1 && d[3] < d[1] && d[4] < 0.1, "F to A minor: %.3f, then %.3f", d[3], d[4]);
	float *z = calloc(n, sizeof *z);
	ck_assert_ptr_nonnull(z);
	ck_assert_int_eq(ss_chord_change_at_beats(z, n, sr, beats, 7, d, &err), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_msg(isnan(d[i]), "silence: %.3f", d[i]);
	free(z);
	double one = -1.0;
	ck_assert_int_eq(ss_chord_change_at_beats(x, n, sr, beats, 2, &one, &err), 0);
	ck_assert(one == -1.0);
	ck_assert_int_eq(ss_chord_change_at_beats(x, n, 2000.0, beats, 7, d, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_INTERNAL);
	free(x);
}
END_TEST

/* Four-on-the-floor electronic pattern: a kick on every beat, a clap on 2 and 4, an open hat on every
 * off-beat eighth. The kick on every beat is the evidence for the fast level. */
static float *four_floor(double sr, double bpm, double seconds, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	uint32_t seed = 11;
	double period = 60.0 / bpm * sr;
	size_t beat = 0;
	for (double at = 0.1 * sr; at < (double)*n; at += period, beat++) {
		hit(x, *n, sr, at, KICK, 0.6, &seed);
		if (beat % 2 == 1)
			hit(x, *n, sr, at, SNARE, 0.4, &seed);
		hit(x, *n, sr, at + period / 2.0, HAT, 0.2, &seed);
	}
	return x;
}

/* Fast electronic music (170-200 BPM) with a kick on every beat is read at its fast level, not half. */
START_TEST(test_fast_electronic)
{
	static const double bpms[] = {172.0, 180.0, 196.0};
	double sr = 22050.0;
	size_t n;
	float *x = four_floor(sr, bpms[_i], 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, bpms[_i]) < 0.01, "four on the floor at %.0f BPM: got %.2f", bpms[_i], t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A fast waltz (3/4 at 165-200 BPM, the bar at 55-67 per minute) is read at the beat, not at two thirds of it
 * (the dotted half that groups the bar in two) nor at the bar: accented clicks, and an oom-pah-pah whose beats
 * 2 and 3 are soft chords (at 190-200 BPM its bar, a third of the tempo, is a strong periodicity in the prior's
 * centre). */
START_TEST(test_fast_waltz)
{
	static const double accented[] = {165.0, 180.0, 190.0, 200.0}, oompahs[] = {165.0, 180.0, 190.0, 195.0, 200.0};
	size_t n, na = sizeof accented / sizeof accented[0];
	int oom = (size_t)_i >= na;
	double bpm = oom ? oompahs[(size_t)_i - na] : accented[_i];
	float *x = oom ? oompah(22050.0, bpm, 3, 30.0, &n) : accents(22050.0, bpm, 3, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, bpm) < 0.01, "%s waltz at %.0f BPM: got %.2f", oom ? "oom-pah-pah" : "accented",
		      bpm, t.bpm);
	ck_assert_msg(t.beats_per_bar == 3, "waltz at %.0f BPM: %d beats per bar", bpm, t.beats_per_bar);
	ck_assert_str_eq(t.time_signature, "3/4");
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A waltz with eighth-note fills: an accented 1, clicks on 2 and 3, a soft hat on the "and" of every beat (or
 * only on the and of 2, the figure of many Viennese waltz accompaniments). A train of dotted quarters (2/3
 * of the tempo) lands on 1 and on the and of 2 and must not win over the beat. */
static float *waltz_eighths(double sr, double bpm, int only_and_of_2, double seconds, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	uint32_t seed = 13;
	double period = 60.0 / bpm * sr;
	size_t beat = 0;
	for (double at = 0.1 * sr; at < (double)*n; at += period, beat++) {
		size_t b = beat % 3;
		if (b == 0) {
			hit(x, *n, sr, at, KICK, 0.8, &seed);
			hit(x, *n, sr, at, CLICK, 0.4, &seed);
		} else {
			hit(x, *n, sr, at, CLICK, 0.15, &seed);
		}
		if (!only_and_of_2 || b == 1)
			hit(x, *n, sr, at + period / 2.0, HAT, 0.1, &seed);
	}
	return x;
}

START_TEST(test_waltz_eighths)
{
	static const struct {
		double bpm;
		int only_and_of_2;
	} c[] = {{150.0, 0}, {170.0, 0}, {150.0, 1}, {180.0, 1}};
	size_t n;
	float *x = waltz_eighths(22050.0, c[_i].bpm, c[_i].only_and_of_2, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, c[_i].bpm) < 0.01, "waltz with %s at %.0f BPM: got %.2f",
		      c[_i].only_and_of_2 ? "the and of 2" : "eighths", c[_i].bpm, t.bpm);
	ck_assert_msg(t.beats_per_bar == 3, "waltz with eighths at %.0f BPM: %d beats per bar", c[_i].bpm,
		      t.beats_per_bar);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* 5/4: accented first beats every five beats. The tempo is the beat, never the bar (a fifth of it) nor a
 * grouping of 2 + 3. */
START_TEST(test_five_four)
{
	static const double bpms[] = {90.0, 120.0, 150.0, 170.0};
	size_t n;
	float *x = _i < 4 ? accents(22050.0, bpms[_i], 5, 30.0, &n) : oompah(22050.0, bpms[_i - 4], 5, 30.0, &n);
	double bpm = bpms[_i % 4];
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, bpm) < 0.01, "%s 5/4 at %.0f BPM: got %.2f", _i < 4 ? "accented" : "oom-pah",
		      bpm, t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* Bars of five and seven beats: accented clicks (a loud low first beat), the same with a secondary accent
 * where the bar divides (3 + 2, 4 + 3, as 5/4 and 7/4 are usually grouped), and an oom-pah with the bass on the
 * first beat. time_signature says 5/4 or 7/4 (Spotify's 5 and 7), and the downbeats fall on the first beats. */
static float *odd_bars(double sr, double bpm, int meter, int second, double seconds, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	uint32_t seed = 17;
	double period = 60.0 / bpm * sr;
	size_t beat = 0;
	for (double at = 0.1 * sr; at < (double)*n; at += period, beat++) {
		size_t b = beat % (size_t)meter;
		if (b == 0) {
			hit(x, *n, sr, at, KICK, 0.8, &seed);
			hit(x, *n, sr, at, CLICK, 0.4, &seed);
		} else {
			hit(x, *n, sr, at, CLICK, second > 0 && b == (size_t)second ? 0.25 : 0.15, &seed);
		}
	}
	return x;
}

START_TEST(test_meter_odd)
{
	static const struct {
		double bpm;
		int meter, second, oompah;
		const char *ts;
	} c[] = {{90.0, 5, 0, 0, "5/4"},  {120.0, 5, 0, 0, "5/4"}, {150.0, 5, 0, 0, "5/4"}, {120.0, 5, 3, 0, "5/4"},
		 {100.0, 5, 0, 1, "5/4"}, {100.0, 7, 0, 0, "7/4"}, {140.0, 7, 0, 0, "7/4"}, {120.0, 7, 4, 0, "7/4"},
		 {120.0, 7, 0, 1, "7/4"}};
	size_t n;
	float *x = c[_i].oompah ? oompah(22050.0, c[_i].bpm, c[_i].meter, 30.0, &n)
				: odd_bars(22050.0, c[_i].bpm, c[_i].meter, c[_i].second, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, c[_i].bpm) < 0.01, "%s at %.0f BPM: got %.2f", c[_i].ts, c[_i].bpm, t.bpm);
	ck_assert_msg(t.beats_per_bar == c[_i].meter && strcmp(t.time_signature, c[_i].ts) == 0,
		      "%s at %.0f BPM (%s): got %s, %d beats per bar", c[_i].ts, c[_i].bpm,
		      c[_i].oompah ? "oom-pah" : c[_i].second ? "grouped" : "accented", t.time_signature,
		      t.beats_per_bar);
	check_downbeats(&t, 60.0 / c[_i].bpm * c[_i].meter, 30.0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* Weak evidence keeps 4/4: a rock beat (kick 1 and 3, snare 2 and 4) and identical clicks are never read in
 * five or seven. */
START_TEST(test_meter_default)
{
	static const double bpms[] = {80.0, 110.0, 140.0};
	size_t n;
	float *x = _i < 3 ? rock(22050.0, bpms[_i], 30.0, &n) : click_track(22050.0, bpms[_i - 3], 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(strcmp(t.time_signature, "4/4") == 0, "%s at %.0f BPM: got %s", _i < 3 ? "rock" : "clicks",
		      bpms[_i % 3], t.time_signature);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A metre that changes: 16 s of 3/4 accents, then 4/4 (or the reverse) at the same tempo. Each part's own metre
 * (ss_tempo_meter_of_span) is its bar, clear of the whole's, and a span of every beat is the whole's; a span
 * too short to tell (under 12 beats), and any span of music without a pulse, take the whole's metre. */
START_TEST(test_meter_of_span)
{
	static const double bpms[] = {100.0, 130.0};
	const double bpm = bpms[_i / 2], sr = 22050.0, part = 16.0;
	const int first = _i % 2 ? 4 : 3, second = _i % 2 ? 3 : 4;
	size_t na, nb;
	float *a = accents(sr, bpm, first, part, &na), *b = accents(sr, bpm, second, 30.0 - part, &nb);
	/* the second part starts on the beat after the first's last (accents start 0.1 s in) */
	size_t beats_a = (size_t)ceil((part - 0.1) * bpm / 60.0), off = (size_t)lround((double)beats_a * 60.0 / bpm * sr);
	size_t n = off + nb - (size_t)lround(0.1 * sr);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	memcpy(x, a, (na < off ? na : off) * sizeof *x);
	memcpy(x + off, b + (size_t)lround(0.1 * sr), (n - off) * sizeof *x);
	free(a);
	free(b);
	double cut = 0.1 + (double)beats_a * 60.0 / bpm;
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	ck_assert_msg(rel_err(t.bpm, bpm) < 0.01, "%.0f BPM: got %.2f", bpm, t.bpm);
	ss_meter m;
	char want[8];
	ck_assert_int_eq(ss_tempo_meter_of_span(&t, 0.0, cut, &m, &err), 0);
	snprintf(want, sizeof want, "%d/4", first);
	ck_assert_msg(strcmp(m.time_signature, want) == 0, "first part (%s) at %.0f BPM read %s, the whole %s", want, bpm,
		      m.time_signature, t.time_signature);
	ck_assert_msg(m.confidence >= 0.5, "first part: confidence %.3f", m.confidence);
	ck_assert_int_eq(m.beats_per_bar, first);
	ck_assert_int_eq(ss_tempo_meter_of_span(&t, cut, HUGE_VAL, &m, &err), 0);
	snprintf(want, sizeof want, "%d/4", second);
	ck_assert_msg(strcmp(m.time_signature, want) == 0, "second part (%s) at %.0f BPM read %s, the whole %s", want,
		      bpm, m.time_signature, t.time_signature);
	ck_assert_msg(m.confidence >= 0.5, "second part: confidence %.3f", m.confidence);
	/* every beat: the whole's metre and confidence */
	ck_assert_int_eq(ss_tempo_meter_of_span(&t, 0.0, HUGE_VAL, &m, &err), 0);
	ck_assert_str_eq(m.time_signature, t.time_signature);
	ck_assert_double_eq(m.confidence, t.time_signature_confidence);
	/* five beats of the first part: too few to tell, so the whole's */
	ck_assert_int_eq(ss_tempo_meter_of_span(&t, 0.0, 0.1 + 5.0 * 60.0 / bpm, &m, &err), 0);
	ck_assert_str_eq(m.time_signature, t.time_signature);
	ck_assert_double_eq(m.confidence, t.time_signature_confidence);
	/* bar lines that follow each part's metre: on that part's accents (its bars start at 0.1 s and at cut), a
	 * bar apart; one part gives exactly the track's downbeats */
	const double parts[2] = {0.0, cut}, beat = 60.0 / bpm;
	ss_meter metres[2];
	ck_assert_int_eq(ss_tempo_meter_of_span(&t, 0.0, cut, &metres[0], &err), 0);
	ck_assert_int_eq(ss_tempo_meter_of_span(&t, cut, HUGE_VAL, &metres[1], &err), 0);
	double *db;
	size_t nd;
	ck_assert_int_eq(ss_tempo_part_downbeats(&t, parts, metres, 2, &db, &nd, &err), 0);
	ck_assert_msg(nd >= 6, "%zu bar lines", nd);
	size_t before = 0;
	for (size_t i = 0; i < nd; i++) {
		int in_first = db[i] < cut - 0.25 * beat;
		double origin = in_first ? 0.1 : cut, bar = (in_first ? first : second) * beat;
		double k = round((db[i] - origin) / bar), away = fabs(db[i] - (origin + k * bar)) / beat;
		ck_assert_msg(away < 0.25, "bar line %.3f is %.2f beats from a %s bar start", db[i], away,
			      in_first ? "first-part" : "second-part");
		before += in_first;
		if (i > 0)
			ck_assert(db[i] > db[i - 1]);
	}
	ck_assert_msg(before >= 2 && nd - before >= 2, "%zu bar lines before %.2f s, %zu after", before, cut, nd - before);
	free(db);
	ck_assert_int_eq(ss_tempo_meter_of_span(&t, 0.0, HUGE_VAL, &metres[0], &err), 0);
	ck_assert_int_eq(ss_tempo_part_downbeats(&t, parts, metres, 1, &db, &nd, &err), 0);
	ck_assert_uint_eq(nd, t.n_downbeats);
	for (size_t i = 0; i < nd; i++)
		ck_assert_double_eq(db[i], t.downbeats[i]);
	free(db);
	ss_tempo_free(&t);
	/* no pulse: the default metre, no confidence */
	memset(x, 0, n * sizeof *x);
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	ck_assert_int_eq(ss_tempo_meter_of_span(&t, 0.0, HUGE_VAL, &m, &err), 0);
	ck_assert_str_eq(m.time_signature, "4/4");
	ck_assert_double_eq(m.confidence, 0.0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A section's own tempo (ss_tempo_of_span): 15 s of a click track, then 15 s of noise, or of clicks at another
 * tempo. The clicks' part is clearly periodic at the track's tempo and keeps it; the noise's part keeps it with a
 * low confidence; clicks at an unrelated tempo give their own tempo. The whole track and a span too short to
 * measure give the track's tempo and confidence. */
START_TEST(test_tempo_of_span)
{
	static const double firsts[] = {128.0, 96.0, 100.0, 96.0}, second[] = {0.0, 0.0, 123.0, 77.0};
	const double sr = 22050.0, bpm = firsts[_i];
	size_t n, nc, n2 = 0;
	float *x = alloc_signal(sr, 30.0, &n), *c = click_track(sr, bpm, 15.0, &nc);
	memcpy(x, c, nc * sizeof *x);
	free(c);
	if (second[_i] > 0.0) {
		c = click_track(sr, second[_i], 30.0 - 15.0, &n2);
		memcpy(x + nc, c, (n - nc < n2 ? n - nc : n2) * sizeof *x);
		free(c);
	} else {
		uint32_t seed = 11;
		for (size_t i = nc; i < n; i++)
			x[i] = (float)(0.1 * noise(&seed));
	}
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	ss_span_tempo first, rest, whole, brief;
	ck_assert_int_eq(ss_tempo_of_span(&t, 0.0, 15.0, &first, &err), 0);
	ck_assert_int_eq(ss_tempo_of_span(&t, 15.0, HUGE_VAL, &rest, &err), 0);
	ck_assert_int_eq(ss_tempo_of_span(&t, 0.0, HUGE_VAL, &whole, &err), 0);
	ck_assert_int_eq(ss_tempo_of_span(&t, 3.0, 4.0, &brief, &err), 0);
	ck_assert(isnan(whole.bpm) && isnan(brief.bpm));
	ck_assert_double_eq(whole.confidence, t.confidence);
	ck_assert_double_eq(brief.confidence, t.confidence);
	if (second[_i] == 0.0) {
		ck_assert_msg(rel_err(t.bpm, bpm) < 0.01, "got %.2f BPM", t.bpm);
		ck_assert(isnan(first.bpm) && isnan(rest.bpm));
		ck_assert_msg(first.confidence >= 0.7 && first.confidence <= 1.0, "clicks: %.3f", first.confidence);
		ck_assert_msg(rest.confidence >= 0.0 && rest.confidence < 0.5 * first.confidence,
			      "noise: %.3f against the clicks' %.3f", rest.confidence, first.confidence);
	} else {
		/* the track takes one of the two tempi; the part at the other one gives its own */
		int track_first = rel_err(t.bpm, bpm) < 0.01;
		ck_assert_msg(track_first || rel_err(t.bpm, second[_i]) < 0.01, "got %.2f BPM for %.0f then %.0f", t.bpm,
			      bpm, second[_i]);
		const ss_span_tempo *same = track_first ? &first : &rest, *other = track_first ? &rest : &first;
		double other_bpm = track_first ? second[_i] : bpm;
		ck_assert(isnan(same->bpm));
		ck_assert_msg(rel_err(other->bpm, other_bpm) < 0.01, "the part at %.0f read %.2f", other_bpm, other->bpm);
		ck_assert_msg(other->confidence >= 0.5 && other->confidence <= 1.0, "its confidence %.3f", other->confidence);
	}
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* Music in one tempo and metre keeps both in every part: each 10 s span of 3/4 and 4/4 accents, rock patterns and a
 * click track reads the whole's metre, takes no tempo of its own and pulses clearly at the track's. */
START_TEST(test_span_steady)
{
	static const struct {
		int kind; /* 3 or 4: accents in bars of that many beats; 1 a rock pattern; 0 a click track */
		double bpm;
	} c[] = {{3, 115.0}, {4, 115.0}, {1, 115.0}, {1, 105.0}, {0, 140.0}};
	const double sr = 22050.0, bpm = c[_i].bpm;
	size_t n;
	float *x = c[_i].kind > 1 ? accents(sr, bpm, c[_i].kind, 30.0, &n)
				  : c[_i].kind ? rock(sr, bpm, 30.0, &n) : click_track(sr, bpm, 30.0, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr, &t, &err), 0);
	for (double at = 0.0; at < 30.0; at += 10.0) {
		ss_meter m;
		ss_span_tempo st;
		ck_assert_int_eq(ss_tempo_meter_of_span(&t, at, at + 10.0, &m, &err), 0);
		ck_assert_int_eq(ss_tempo_of_span(&t, at, at + 10.0, &st, &err), 0);
		ck_assert_msg(strcmp(m.time_signature, t.time_signature) == 0, "case %d, %.0f-%.0f s: %s, the whole %s", _i,
			      at, at + 10.0, m.time_signature, t.time_signature);
		ck_assert_msg(isnan(st.bpm), "case %d, %.0f-%.0f s: %.2f BPM, the track %.2f", _i, at, at + 10.0, st.bpm, t.bpm);
		ck_assert_msg(st.confidence >= 0.5, "case %d, %.0f-%.0f s: confidence %.3f", _i, at, at + 10.0, st.confidence);
	}
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* Speech over a beat (rap, a voice over a backing track): syllables of a voice (harmonics of 180-260 Hz, no energy
 * below 300 Hz) at an uneven 3-7 a second, 10 dB over a kick on every beat. The voice's onsets outnumber and
 * outweigh the kicks in the full band, so the beat's periodicity there sits under the pulse gate; the low band holds
 * only the kicks. The tempo is the beat's, never none. */
static float *speech_over_kick(double sr, double bpm, double seconds, uint32_t seed, size_t *n)
{
	float *x = alloc_signal(sr, seconds, n);
	uint32_t ks = 5;
	for (double at = 0.1 * sr; at < (double)*n; at += 60.0 / bpm * sr)
		hit(x, *n, sr, at, KICK, 0.3, &ks);
	for (double at = 0.05 * sr; at < (double)*n;) {
		double len = (0.08 + 0.12 * (noise(&seed) + 1.0) / 2.0) * sr;
		double f0 = 180.0 + 80.0 * (noise(&seed) + 1.0) / 2.0;
		for (size_t i = 0; i < (size_t)len && (size_t)at + i < *n; i++) {
			double t = (double)i / sr, env = fmin(1.0, t / 0.01) * fmin(1.0, (len / sr - t) / 0.03), v = 0.0;
			for (int h = 2; h <= 14; h++)
				v += sin(2.0 * M_PI * f0 * h * t) / h;
			x[(size_t)at + i] += (float)(1.0 * env * v);
		}
		at += len + (0.06 + 0.2 * (noise(&seed) + 1.0) / 2.0) * sr;
	}
	return x;
}

START_TEST(test_speech_over_beat)
{
	static const double bpms[] = {90.0, 100.0, 120.0};
	double bpm = bpms[_i % 3];
	size_t n;
	float *x = speech_over_kick(22050.0, bpm, 30.0, 11u + (uint32_t)_i, &n);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(rel_err(t.bpm, bpm) < 0.02, "speech over a kick at %.0f BPM: got %.2f", bpm, t.bpm);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

/* A 60 BPM pulse with sparse onsets: a soft plucked note on only some beats (1, 2 and 4 of every four,
 * none on 3 of every other bar), soft attacks, nothing else. Music: it gets a tempo. */
START_TEST(test_sparse_pulse)
{
	static const double sr[] = {22050.0, 44100.0};
	static const int pattern[8] = {1, 1, 0, 1, 1, 1, 1, 0};
	static const double pitch[8] = {196.0, 220.0, 0.0, 246.94, 261.63, 246.94, 220.0, 0.0};
	size_t n;
	float *x = alloc_signal(sr[_i], 30.0, &n);
	size_t k = 0;
	for (double at = 0.1; at < 30.0; at += 1.0, k++)
		if (pattern[k % 8])
			soft_note(x, n, sr[_i], at, pitch[k % 8], 0.15, 0.7, 0.2, 0.15);
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, sr[_i], &t, &err), 0);
	assert_sane(&t);
	ck_assert_msg(isfinite(t.bpm), "no tempo for a sparse 60 BPM pulse (clarity %.3f)", t.pulse_clarity);
	ck_assert_msg(rel_err(t.bpm, 60.0) < 0.04 || rel_err(t.bpm, 120.0) < 0.04, "got %.2f for a sparse 60 BPM pulse",
		      t.bpm);
	ck_assert(t.confidence > 0.0 && t.n_beats > 0);
	ss_tempo_free(&t);
	free(x);
}
END_TEST

START_TEST(test_deterministic_and_free)
{
	size_t n;
	float *x = rock(22050.0, 117.0, 15.0, &n);
	ss_tempo a, b;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &a, &err), 0);
	ck_assert_int_eq(ss_tempo_analyze(x, n, 22050.0, &b, &err), 0);
	ck_assert(a.bpm == b.bpm && a.confidence == b.confidence && a.n_beats == b.n_beats);
	ck_assert(memcmp(a.beats, b.beats, a.n_beats * sizeof *a.beats) == 0);
	ss_tempo_free(&a);
	ck_assert_ptr_null(a.beats);
	ss_tempo_free(&a);
	ss_tempo_free(&b);
	ss_tempo_free(NULL);
	free(x);
}
END_TEST

START_TEST(test_bad_rate)
{
	float x[16] = {0};
	ss_tempo t;
	ss_error err;
	ck_assert_int_eq(ss_tempo_analyze(x, 16, 0.0, &t, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_INTERNAL);
	ck_assert_int_eq(ss_tempo_analyze(x, 16, NAN, &t, &err), -1);
	ss_tempo_free(&t);
}
END_TEST

static Suite *tempo_suite(void)
{
	Suite *s = suite_create("tempo");
	TCase *tc = tcase_create("synthetic");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_click_tempo, 0,
			    (int)(sizeof rates / sizeof rates[0] * sizeof tempi / sizeof tempi[0]));
	tcase_add_loop_test(tc, test_rock_tempo, 0, 4);
	tcase_add_loop_test(tc, test_swing, 0, 3);
	tcase_add_loop_test(tc, test_precision, 0, 3);
	tcase_add_loop_test(tc, test_meter, 0, 6);
	tcase_add_loop_test(tc, test_meter_oompah, 0, 4);
	tcase_add_loop_test(tc, test_downbeats_simple, 0, 6);
	tcase_add_loop_test(tc, test_downbeats_compound, 0, 5);
	tcase_add_loop_test(tc, test_candidates, 0, 3);
	tcase_add_test(tc, test_silence);
	tcase_add_test(tc, test_sine);
	tcase_add_loop_test(tc, test_chord, 0, 3);
	tcase_add_test(tc, test_noise);
	tcase_add_test(tc, test_dc_offset);
	tcase_add_test(tc, test_clipping);
	tcase_add_test(tc, test_non_finite);
	tcase_add_test(tc, test_short);
	tcase_add_test(tc, test_long);
	tcase_add_loop_test(tc, test_sparse_slow, 0, 4);
	tcase_add_loop_test(tc, test_legato, 0, 2);
	tcase_add_loop_test(tc, test_organ_hymn, 0, 4);
	tcase_add_loop_test(tc, test_fast_electronic, 0, 3);
	tcase_add_loop_test(tc, test_chord_per_bar, 0, 6);
	tcase_add_loop_test(tc, test_half_bar_chords, 0, 3);
	tcase_add_test(tc, test_chord_change);
	tcase_add_loop_test(tc, test_fast_waltz, 0, 9);
	tcase_add_loop_test(tc, test_waltz_eighths, 0, 4);
	tcase_add_loop_test(tc, test_five_four, 0, 8);
	tcase_add_loop_test(tc, test_speech_over_beat, 0, 3);
	tcase_add_loop_test(tc, test_meter_odd, 0, 9);
	tcase_add_loop_test(tc, test_meter_default, 0, 6);
	tcase_add_loop_test(tc, test_meter_of_span, 0, 4);
	tcase_add_loop_test(tc, test_span_steady, 0, 5);
	tcase_add_loop_test(tc, test_tempo_of_span, 0, 4);
	tcase_add_loop_test(tc, test_sparse_pulse, 0, 2);
	tcase_add_test(tc, test_deterministic_and_free);
	tcase_add_test(tc, test_bad_rate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ss_check_run(tempo_suite());
}
