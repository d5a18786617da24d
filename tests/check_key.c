/* Key detection: synthesised chord progressions in every key (cadences, natural minor, subdominant-heavy
 * major), detuned, at several sample rates; silence, noise, a single sine, short and long input. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/key.h"
#include "core/analysis/key_profiles.h"
#include "core/analysis/stft.h"
#include "core/analysis/tuning.h"
#include "tests/check_main.h"

/* Semitone offsets from the tonic of the chords I-IV-V-I (major) or i-iv-V-i (minor, harmonic V). */
static const int major_chords[4][3] = {{0, 4, 7}, {5, 9, 0}, {7, 11, 2}, {0, 4, 7}};
static const int minor_chords[4][3] = {{0, 3, 7}, {5, 8, 0}, {7, 11, 2}, {0, 3, 7}};

/* Chords for chord_cycle: up to four semitone offsets from the tonic, NO where a triad has no fourth note. */
#define NO (-1)

/* Natural minor i-iv-v-i: no raised leading tone anywhere, every chord from the relative major's scale. */
static const int aeolian_chords[4][4] = {{0, 3, 7, NO}, {5, 8, 0, NO}, {7, 10, 2, NO}, {0, 3, 7, NO}};
/* Subdominant-heavy major I-IV-I-IV-ii-V-I-I: half the time on IV, the leading tone only in V. */
static const int plagal_chords[8][4] = {{0, 4, 7, NO}, {5, 9, 0, NO}, {0, 4, 7, NO}, {5, 9, 0, NO},
					{2, 5, 9, NO}, {7, 11, 2, NO}, {0, 4, 7, NO}, {0, 4, 7, NO}};
/* The pop progression I-vi-IV-V dwelling on IV (I-vi-IV-IV-V): the tonic sounds in three chords of five and the
 * subdominant key's triads fill the rest, so its profile correlates best; only V's leading tone says otherwise. */
static const int pop_iv_chords[5][4] = {{0, 4, 7, NO}, {9, 0, 4, NO}, {5, 9, 0, NO}, {5, 9, 0, NO},
					{7, 11, 2, NO}};
/* A minor vamp on i and v with a major IV (dorian, or melodic minor's raised sixth): i-v-IV-v-i-v-i. */
static const int minor_raised_sixth_chords[7][4] = {{0, 3, 7, NO}, {7, 10, 2, NO}, {5, 9, 0, NO}, {7, 10, 2, NO},
						    {0, 3, 7, NO}, {7, 10, 2, NO}, {0, 3, 7, NO}};

/* The twelve-bar blues, I7-I7-I7-I7-IV7-IV7-I7-I7-V7-IV7-I7-V7: every chord a dominant seventh, so the minor
 * seventh of the key (Bb in C) sounds in seven bars of twelve and the subdominant key's scale (F major) holds
 * nearly every note; a blues in C is still in C. */
static const int blues_chords[12][4] = {{0, 4, 7, 10}, {0, 4, 7, 10}, {0, 4, 7, 10}, {0, 4, 7, 10},
					{5, 9, 0, 3},  {5, 9, 0, 3},  {0, 4, 7, 10}, {0, 4, 7, 10},
					{7, 11, 2, 5}, {5, 9, 0, 3},  {0, 4, 7, 10}, {7, 11, 2, 5}};

/* A minor riff on power chords (root and fifth), i5-bVII5-i5-bIII5, as distorted guitars play it: distortion adds
 * the root's major third to each power chord (its intermodulation, 2.5 times the root's frequency), here to the
 * tonic's at a little more than the minor third that bIII5 brings, while the flat seventh sounds in two chords of
 * four and the leading tone in none. Amplitudes per note in riff_amps. */
static const int minor_riff_chords[4][4] = {{0, 7, 4, NO}, {10, 5, NO, NO}, {0, 7, 4, NO}, {3, 10, NO, NO}};
static const double minor_riff_amps[4][4] = {{0.15, 0.15, 0.2, 0}, {0.15, 0.15, 0, 0}, {0.15, 0.15, 0.2, 0},
					     {0.15, 0.15, 0, 0}};
/* A major key borrowing its minor third's chord, I-bIII-IV-I (C Eb F C): the major and minor third sound alike and
 * the flat seventh (in bIII) more than the leading tone, but the minor key's other tones (Ab) do not. */
static const int major_borrowed_biii_chords[4][4] = {{0, 4, 7, NO}, {3, 7, 10, NO}, {5, 9, 0, NO}, {0, 4, 7, NO}};

/* A mixolydian vamp, I-bVII (C Bb in C): every note is in the scale of the major key a fifth below (F major). */
static const int mixolydian_vamp_chords[2][4] = {{0, 4, 7, NO}, {10, 2, 5, NO}};

/* Frequency of MIDI pitch m detuned by cents. */
static double pitch_hz(int m, double cents)
{
	return 440.0 * pow(2.0, ((double)m - 69.0 + cents / 100.0) / 12.0);
}

/* Add a tone with 6 harmonics of amplitude amp/h (those below Nyquist) to x[0..n). */
static void add_tone(float *x, size_t n, double sr, double f0, double amp)
{
	for (int h = 1; h <= 6; h++) {
		double f = f0 * h;
		if (f >= 0.45 * sr)
			break;
		double w = 2.0 * M_PI * f / sr;
		for (size_t i = 0; i < n; i++)
			x[i] += (float)(amp / h * sin(w * (double)i));
	}
}

/* n samples of the progression in the key (tonic 0..11, mode 1 major / 0 minor), chords of chord_s seconds
 * repeated to fill the buffer: the triad around C4-B4 and the chord root two octaves lower. Caller frees. */
static float *progression(int tonic, int mode, double cents, double sr, double seconds, double chord_s)
{
	size_t n = (size_t)(seconds * sr);
	size_t per = (size_t)(chord_s * sr);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	const int(*ch)[3] = mode ? major_chords : minor_chords;
	for (size_t start = 0, c = 0; start < n; start += per, c = (c + 1) % 4) {
		size_t len = start + per <= n ? per : n - start;
		for (int v = 0; v < 3; v++)
			add_tone(x + start, len, sr, pitch_hz(60 + (tonic + ch[c][v]) % 12, cents), 0.15);
		add_tone(x + start, len, sr, pitch_hz(36 + (tonic + ch[c][0]) % 12, cents), 0.2);
		/* Short fades avoid clicks at chord changes. */
		size_t fade = (size_t)(0.01 * sr);
		for (size_t i = 0; i < fade && i < len; i++) {
			x[start + i] *= (float)i / (float)fade;
			x[start + len - 1 - i] *= (float)i / (float)fade;
		}
	}
	return x;
}

/* n samples of n_chords chords (semitone offsets from the tonic, NO for none) of chord_s seconds each, repeated:
 * the chord's notes around C4-B4, each of amplitude amp[c][v] (0.15 when amp is NULL), and its root two octaves
 * lower, as progression() does. Caller frees. */
static float *chord_cycle_amps(const int (*ch)[4], const double (*amp)[4], size_t n_chords, int tonic, double sr,
			       double seconds, double chord_s)
{
	size_t n = (size_t)(seconds * sr);
	size_t per = (size_t)(chord_s * sr);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (size_t start = 0, c = 0; start < n; start += per, c = (c + 1) % n_chords) {
		size_t len = start + per <= n ? per : n - start;
		for (int v = 0; v < 4; v++)
			if (ch[c][v] != NO)
				add_tone(x + start, len, sr, pitch_hz(60 + (tonic + ch[c][v]) % 12, 0.0),
					 amp != NULL ? amp[c][v] : 0.15);
		add_tone(x + start, len, sr, pitch_hz(36 + (tonic + ch[c][0]) % 12, 0.0), 0.2);
		size_t fade = (size_t)(0.01 * sr);
		for (size_t i = 0; i < fade && i < len; i++) {
			x[start + i] *= (float)i / (float)fade;
			x[start + len - 1 - i] *= (float)i / (float)fade;
		}
	}
	return x;
}

/* chord_cycle_amps with every note at 0.15. */
static float *chord_cycle(const int (*ch)[4], size_t n_chords, int tonic, double sr, double seconds, double chord_s)
{
	return chord_cycle_amps(ch, NULL, n_chords, tonic, sr, seconds, chord_s);
}

static void assert_finite(const ss_key *k)
{
	ck_assert(isfinite(k->confidence) && k->confidence >= 0.0 && k->confidence <= 1.0);
	/* the mode's margin is over a key that ranks second or below */
	ck_assert(isfinite(k->mode_confidence) && k->mode_confidence >= k->confidence && k->mode_confidence <= 1.0);
	ck_assert(isfinite(k->tonal_strength) && k->tonal_strength >= 0.0 && k->tonal_strength <= 1.0);
	ck_assert(isfinite(k->tuning_cents) && k->tuning_cents >= -50.0 && k->tuning_cents < 50.0);
	for (int i = 0; i < 12; i++)
		ck_assert(isfinite(k->chroma[i]) && k->chroma[i] >= 0.0 && k->chroma[i] <= 1.0);
	for (int i = 0; i < SS_KEY_CANDIDATES; i++)
		ck_assert(isfinite(k->top[i].score));
	ck_assert_ptr_nonnull(k->profile);
}

/* The key of x[0..n) at sr Hz with a profile, which must be found without an error and with finite numbers. Takes
 * x and frees it. */
static ss_key key_of_profile(float *x, size_t n, double sr, ss_key_profile_id profile)
{
	ss_key k;
	ss_error err;
	ck_assert_int_eq(ss_key_analyze(x, n, sr, profile, &k, &err), 0);
	free(x);
	assert_finite(&k);
	return k;
}

/* key_of_profile with the default profile. */
static ss_key key_of(float *x, size_t n, double sr)
{
	return key_of_profile(x, n, sr, SS_KEY_PROFILE_DEFAULT);
}

/* key_of_profile of 16 s at 22050 Hz of chord_cycle(ch, n_chords, tonic), chords of 0.5 s. */
static ss_key cycle_key_profile(const int (*ch)[4], size_t n_chords, int tonic, ss_key_profile_id profile)
{
	return key_of_profile(chord_cycle(ch, n_chords, tonic, 22050.0, 16.0, 0.5), (size_t)(16.0 * 22050.0), 22050.0,
			      profile);
}

/* cycle_key_profile with the default profile. */
static ss_key cycle_key(const int (*ch)[4], size_t n_chords, int tonic)
{
	return cycle_key_profile(ch, n_chords, tonic, SS_KEY_PROFILE_DEFAULT);
}

/* cycle_key, which must name the key (tonic, mode: 1 major, 0 minor); what names the chords in a failure. */
static ss_key cycle_key_is(const int (*ch)[4], size_t n_chords, int tonic, int mode, const char *what)
{
	ss_key k = cycle_key(ch, n_chords, tonic);
	ck_assert_msg(k.key_index == tonic && k.mode == mode, "%s on %d: got %d mode %d", what, tonic, k.key_index,
		      k.mode);
	return k;
}

/* Progression in a key, detuned, at a sample rate: the detected key must be exact and first in top. */
static void check_key_at(int tonic, int mode, double cents, double sr, double seconds)
{
	ss_key k = key_of(progression(tonic, mode, cents, sr, seconds, 0.5), (size_t)(seconds * sr), sr);
	ck_assert_msg(k.key_index == tonic && k.mode == mode, "key %d mode %d at %+g cents, %g Hz: got %d mode %d",
		      tonic, mode, cents, sr, k.key_index, k.mode);
	ck_assert_int_eq(k.top[0].key_index, tonic);
	ck_assert_int_eq(k.top[0].mode, mode);
	ck_assert(k.top[0].score >= k.top[1].score && k.top[1].score >= k.top[2].score);
	ck_assert_msg(fabs(k.tuning_cents - cents) < 8.0, "tuning %g for %+g cents", k.tuning_cents, cents);
	ck_assert_msg(k.confidence > 0.1, "confidence %g", k.confidence);
	ck_assert(k.tonal_strength > 0.5);
	/* The tonic sounds in three of four chords; the tritone never does. */
	ck_assert_msg(k.chroma[tonic] > 0.6, "tonic chroma %g", k.chroma[tonic]);
	ck_assert_msg(k.chroma[(tonic + 6) % 12] < 0.5 * k.chroma[tonic], "tritone chroma %g", k.chroma[(tonic + 6) % 12]);
	/* Neither does the semitone above the tonic: detuned energy must not leak into it. */
	ck_assert_msg(k.chroma[(tonic + 1) % 12] < 0.5 * k.chroma[tonic], "chroma above tonic %g",
		      k.chroma[(tonic + 1) % 12]);
}

/* All 24 keys at 22050 Hz, each 30 cents sharp and 30 cents flat. */
START_TEST(all_keys_detuned)
{
	int tonic = _i % 12, mode = (_i / 12) % 2;
	check_key_at(tonic, mode, _i < 24 ? 30.0 : -30.0, 22050.0, 6.0);
}
END_TEST

/* Nearly a quarter tone off: only a tuned chroma keeps the notes in their semitones. */
START_TEST(quarter_tone_detuned)
{
	check_key_at((_i * 7) % 12, _i % 2, (_i % 2) ? 45.0 : -45.0, 22050.0, 6.0);
}
END_TEST

/* Other sample rates, including the minimum of 8000 Hz. */
START_TEST(sample_rates)
{
	/* 6000 Hz is below the required minimum but takes the path without resampling. */
	static const double rates[] = {8000.0, 16000.0, 44100.0, 48000.0, 6000.0};
	double sr = rates[_i % 5];
	check_key_at((_i * 5) % 12, _i % 2, (_i % 3 - 1) * 30.0, sr, 6.0);
}
END_TEST

/* 3 seconds are enough for a clear progression. */
START_TEST(short_input)
{
	check_key_at(2, 0, 0.0, 22050.0, 3.0);
	check_key_at(10, 1, 30.0, 22050.0, 3.0);
}
END_TEST

START_TEST(silence)
{
	size_t n = 5 * 22050;
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	ss_key k;
	ss_error err;
	ck_assert_int_eq(ss_key_analyze(x, n, 22050.0, SS_KEY_PROFILE_DEFAULT, &k, &err), 0);
	assert_finite(&k);
	ck_assert_int_eq(k.key_index, -1);
	ck_assert_int_eq(k.mode, -1);
	ck_assert_double_eq(k.confidence, 0.0);
	ck_assert_double_eq(k.mode_confidence, 0.0);
	ck_assert_double_eq(k.tonal_strength, 0.0);
	/* Nothing at all is not an error either. */
	ck_assert_int_eq(ss_key_analyze(x, 0, 22050.0, SS_KEY_PROFILE_DEFAULT, &k, &err), 0);
	ck_assert_int_eq(k.key_index, -1);
	ck_assert_double_eq(k.confidence, 0.0);
	free(x);
}
END_TEST

/* Deterministic white noise in [-a, a). */
static void white_noise(float *x, size_t n, double a, uint32_t seed)
{
	uint32_t s = seed;
	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (float)(a * ((double)(s >> 8) / 8388608.0 - 1.0));
	}
}

START_TEST(white_noise_low_confidence)
{
	static const double seconds[] = {3.0, 10.0, 30.0};
	size_t n = (size_t)(seconds[_i] * 22050);
	float *x = malloc(n * sizeof *x);
	ck_assert_ptr_nonnull(x);
	white_noise(x, n, 0.5, 12345u + (uint32_t)_i);
	ss_key k;
	ss_error err;
	ck_assert_int_eq(ss_key_analyze(x, n, 22050.0, SS_KEY_PROFILE_DEFAULT, &k, &err), 0);
	assert_finite(&k);
	ck_assert_msg(k.confidence < 0.1, "noise confidence %g", k.confidence);
	ck_assert_msg(k.tonal_strength < 0.3, "noise tonal strength %g", k.tonal_strength);
	free(x);
}
END_TEST

/* A single A4 sine: the chroma is A, and the key has tonic A. */
START_TEST(single_sine)
{
	size_t n = 5 * 22050;
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	add_tone(x, n, 22050.0, 440.0 * pow(2.0, 10.0 / 1200.0), 0.5);
	ss_key k = key_of(x, n, 22050.0);
	ck_assert_int_eq(k.key_index, 9);
	ck_assert_double_eq(k.chroma[9], 1.0);
	ck_assert_msg(fabs(k.tuning_cents - 10.0) < 3.0, "tuning %g", k.tuning_cents);
}
END_TEST

/* Long input goes through the STFT in blocks: same answer and nearly the same chroma as a short excerpt. */
START_TEST(long_input_blocks)
{
	double sr = 8000.0;
	size_t per = (size_t)(2.0 * sr); /* one I-IV-V-I cycle */
	float *cycle = progression(9, 0, -20.0, sr, 2.0, 0.5);
	size_t n = 150 * (size_t)sr; /* 150 s: several blocks */
	float *x = malloc(n * sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < n; i++)
		x[i] = cycle[i % per];
	free(cycle);
	ss_key a, b;
	ss_error err;
	ck_assert_int_eq(ss_key_analyze(x, n, sr, SS_KEY_PROFILE_DEFAULT, &a, &err), 0);
	ck_assert_int_eq(ss_key_analyze(x, 20 * (size_t)sr, sr, SS_KEY_PROFILE_DEFAULT, &b, &err), 0);
	free(x);
	assert_finite(&a);
	ck_assert_int_eq(a.key_index, 9);
	ck_assert_int_eq(a.mode, 0);
	ck_assert_int_eq(b.key_index, 9);
	for (int i = 0; i < 12; i++)
		ck_assert_msg(fabs(a.chroma[i] - b.chroma[i]) < 0.05, "chroma[%d] %g vs %g", i, a.chroma[i], b.chroma[i]);
	ck_assert(fabs(a.tuning_cents - b.tuning_cents) < 2.0);
}
END_TEST

START_TEST(deterministic_and_profiles)
{
	double sr = 22050.0;
	float *x = progression(7, 1, 0.0, sr, 4.0, 0.5);
	size_t n = (size_t)(4.0 * sr);
	ss_error err;
	for (int p = SS_KEY_PROFILE_DEFAULT; p < SS_KEY_PROFILE_COUNT; p++) {
		ss_key a, b;
		ck_assert_int_eq(ss_key_analyze(x, n, sr, (ss_key_profile_id)p, &a, &err), 0);
		ck_assert_int_eq(ss_key_analyze(x, n, sr, (ss_key_profile_id)p, &b, &err), 0);
		ck_assert_int_eq(a.key_index, b.key_index);
		ck_assert_double_eq(a.confidence, b.confidence);
		ck_assert_int_eq(memcmp(a.chroma, b.chroma, sizeof a.chroma), 0);
		ck_assert_int_eq(a.key_index, 7);
		ck_assert_int_eq(a.mode, 1);
		if (p != SS_KEY_PROFILE_DEFAULT)
			ck_assert_str_eq(a.profile, ss_key_profile_name((ss_key_profile_id)p));
	}
	ss_key k;
	ck_assert_int_eq(ss_key_analyze(x, n, sr, SS_KEY_PROFILE_COUNT, &k, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_INTERNAL);
	free(x);
	ck_assert_str_eq(ss_key_profile_name(SS_KEY_PROFILE_KRUMHANSL), "krumhansl");
	ck_assert_str_eq(ss_key_profile_name(SS_KEY_PROFILE_TEMPERLEY), "temperley");
	ck_assert_str_eq(ss_key_profile_name(SS_KEY_PROFILE_EDMA), "edma");
	ck_assert_ptr_null(ss_key_profile_name(SS_KEY_PROFILE_COUNT));
}
END_TEST

/* Tiny and poisoned input: no crash, no NaN out. */
START_TEST(degenerate_input)
{
	ss_key k;
	ss_error err;
	float tiny[100];
	for (int i = 0; i < 100; i++)
		tiny[i] = (float)sin(0.1 * i);
	ck_assert_int_eq(ss_key_analyze(tiny, 100, 22050.0, SS_KEY_PROFILE_DEFAULT, &k, &err), 0);
	assert_finite(&k);
	ck_assert_int_eq(ss_key_analyze(tiny, 1, 8000.0, SS_KEY_PROFILE_DEFAULT, &k, &err), 0);
	assert_finite(&k);

	double sr = 22050.0;
	size_t n = (size_t)(6.0 * sr);
	float *x = progression(4, 0, 0.0, sr, 6.0, 0.5);
	x[1000] = NAN;
	x[50000] = INFINITY;
	ck_assert_int_eq(ss_key_analyze(x, n, sr, SS_KEY_PROFILE_DEFAULT, &k, &err), 0);
	assert_finite(&k);
	ck_assert_int_eq(k.key_index, 4); /* the clean frames still tell the key */
	ck_assert_int_eq(k.mode, 0);
	free(x);

	/* A DC offset only sounds at its two edges: no key. */
	float *dc = malloc(n * sizeof *dc);
	ck_assert_ptr_nonnull(dc);
	for (size_t i = 0; i < n; i++)
		dc[i] = 0.5f;
	ck_assert_int_eq(ss_key_analyze(dc, n, sr, SS_KEY_PROFILE_DEFAULT, &k, &err), 0);
	assert_finite(&k);
	ck_assert_int_eq(k.key_index, -1);
	ck_assert_double_eq(k.confidence, 0.0);
	free(dc);

	/* A sample rate that is not a number is an error, not a NaN result. */
	ck_assert_int_eq(ss_key_analyze(tiny, 100, NAN, SS_KEY_PROFILE_DEFAULT, &k, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_INTERNAL);
}
END_TEST

/* The pieces on their own: a profile correlates perfectly with its own key, tuning reads a known offset. */
START_TEST(profiles_and_tuning_units)
{
	for (int p = 0; p < SS_KEY_PROFILE_COUNT; p++) {
		const double *major, *minor;
		ck_assert_int_eq(ss_key_profile_tables((ss_key_profile_id)p, &major, &minor), 0);
		double chroma[12], scores[SS_KEY_PROFILE_KEYS];
		for (int i = 0; i < 12; i++)
			chroma[(i + 5) % 12] = minor[i]; /* F minor */
		ck_assert_int_eq(ss_key_profile_correlate((ss_key_profile_id)p, chroma, scores), 0);
		ck_assert_double_eq_tol(scores[12 + 5], 1.0, 1e-12);
		for (int k = 0; k < SS_KEY_PROFILE_KEYS; k++)
			ck_assert(k == 12 + 5 || scores[k] < 0.999);
		for (int i = 0; i < 12; i++)
			chroma[(i + 10) % 12] = major[i]; /* Bb major */
		ck_assert_int_eq(ss_key_profile_correlate((ss_key_profile_id)p, chroma, scores), 0);
		ck_assert_double_eq_tol(scores[10], 1.0, 1e-12);
		for (int i = 0; i < 12; i++)
			chroma[i] = 1.0; /* flat: no key */
		ck_assert_int_eq(ss_key_profile_correlate((ss_key_profile_id)p, chroma, scores), 0);
		ck_assert_double_eq(scores[0], 0.0);
	}
	const double *major, *minor;
	ck_assert_int_eq(ss_key_profile_tables(SS_KEY_PROFILE_COUNT, &major, &minor), -1);
	/* The default's mixed profile is the mean of Temperley and Kostka-Payne, each scaled to sum to 1. */
	const double *tj, *tn, *kj, *kn;
	ck_assert_int_eq(ss_key_profile_tables(SS_KEY_PROFILE_TEMPERLEY, &tj, &tn), 0);
	ck_assert_int_eq(ss_key_profile_tables(SS_KEY_PROFILE_TKP, &kj, &kn), 0);
	ck_assert_int_eq(ss_key_profile_tables(SS_KEY_PROFILE_TEMPERLEY_TKP, &major, &minor), 0);
	double stj = 0.0, stn = 0.0, skj = 0.0, skn = 0.0;
	for (int i = 0; i < 12; i++) {
		stj += tj[i];
		stn += tn[i];
		skj += kj[i];
		skn += kn[i];
	}
	for (int i = 0; i < 12; i++) {
		ck_assert_double_eq_tol(major[i], 0.5 * (tj[i] / stj + kj[i] / skj), 1e-6);
		ck_assert_double_eq_tol(minor[i], 0.5 * (tn[i] / stn + kn[i] / skn), 1e-6);
	}
	ck_assert_str_eq(ss_key_profile_name(SS_KEY_PROFILE_TKP), "tkp");
	ck_assert_str_eq(ss_key_profile_name(SS_KEY_PROFILE_TEMPERLEY_TKP), "temperley+tkp");
	ck_assert_str_eq(ss_key_profile_name(SS_KEY_PROFILE_TEMPERLEY_TKP_KK), "temperley+tkp+kk");

	/* An A tuned to 445 Hz (+19.6 cents) with its harmonics, one frame of a 4096-point spectrum at 5512.5 Hz. */
	size_t n_fft = 4096;
	double sr = 5512.5;
	float *x = calloc(2 * n_fft, sizeof *x);
	ck_assert_ptr_nonnull(x);
	add_tone(x, 2 * n_fft, sr, 445.0, 0.5);
	ss_spectrogram sg;
	ss_error err;
	/* Frame 1 is centred on sample n_fft: its whole window lies inside the tone. */
	ck_assert_int_eq(ss_stft_magnitude(x, 2 * n_fft, sr, n_fft, n_fft, &sg, &err), 0);
	free(x);
	ss_tuning tu;
	ss_tuning_init(&tu);
	ck_assert_double_eq(ss_tuning_cents(&tu), 0.0);
	ss_tuning_add_frame(&tu, sg.mag + 1 * sg.n_bins, sg.n_bins, sr / (double)n_fft, 100.0, 2000.0);
	ss_spectrogram_free(&sg);
	double expect = 1200.0 * log2(445.0 / 440.0);
	ck_assert_msg(fabs(ss_tuning_cents(&tu) - expect) < 1.0, "tuning %g, expected %g", ss_tuning_cents(&tu), expect);
}
END_TEST

/* The two confusions rendered music showed most: a natural-minor piece (no raised leading tone) read as its
 * relative major, and a major piece that dwells on its subdominant read a fourth too high. Every tonic. */
START_TEST(aeolian_and_plagal)
{
	int tonic = _i % 12, plagal = _i >= 12;
	ss_key k = plagal ? cycle_key(plagal_chords, 8, tonic) : cycle_key(aeolian_chords, 4, tonic);
	int mode = plagal ? 1 : 0;
	ck_assert_msg(k.key_index == tonic && k.mode == mode, "%s on %d: got %d mode %d", plagal ? "I-IV" : "i-iv-v",
		      tonic, k.key_index, k.mode);
}
END_TEST

/* I-vi-IV-IV-V in every major key: the leading tone in V names the key. The profiles alone read the subdominant in
 * all 12 (C major as F major, by a few hundredths), which the leading-tone rule's second reach (key.c) turns back. */
START_TEST(pop_progression_dwelling_on_iv)
{
	int tonic = _i;
	ss_key k = cycle_key(pop_iv_chords, 5, tonic);
	ck_assert_msg(k.key_index == tonic && k.mode == 1, "I-vi-IV-IV-V on %d: got %d mode %d", tonic, k.key_index,
		      k.mode);
	ck_assert_msg(k.top[1].key_index == (tonic + 5) % 12 && k.top[1].mode == 1, "runner-up %d mode %d",
		      k.top[1].key_index, k.top[1].mode);
	/* the runner-up is major too: the key is close, the mode is not */
	assert_finite(&k);
	ck_assert_msg(k.mode_confidence > k.confidence + 0.1, "mode confidence %.3f, key confidence %.3f",
		      k.mode_confidence, k.confidence);
}
END_TEST

/* A minor key against the minor key a fifth above: i-v-IV-v-i-v-i (in A minor: Am Em D Em Am Em Am) in every key.
 * The major IV brings the raised sixth (F# in A minor) at twice the flat sixth or more (F, which never sounds), and
 * v's chords fill the upper key's scale, so its profile comes second, in most keys within the leading-tone rule's
 * second reach (KEY_LEADING_TONE_WINDOW, 0.06). Between minor keys that tone is the lower key's own raised sixth,
 * not a leading tone, so the lower key stays (key.c); applied to minor keys, the rule read E minor here. Read with
 * the profile mean alone: the default's tonic vote (KEY_TONIC_VOTE) reads E minor in three keys of twelve, E being
 * the note that sounds most (in five chords of seven), which makes this vamp ambiguous for it. */
START_TEST(minor_key_with_raised_sixth)
{
	int near = 0;
	for (int tonic = 0; tonic < 12; tonic++) {
		ss_key k = cycle_key_profile(minor_raised_sixth_chords, 7, tonic, SS_KEY_PROFILE_TEMPERLEY_TKP);
		ck_assert_msg(k.key_index == tonic && k.mode == 0, "i-v-IV-v-i-v-i on %d: got %d mode %d", tonic,
			      k.key_index, k.mode);
		ck_assert_msg(k.top[1].key_index == (tonic + 7) % 12 && k.top[1].mode == 0, "runner-up on %d: %d mode %d",
			      tonic, k.top[1].key_index, k.top[1].mode);
		ck_assert_msg(k.chroma[(tonic + 9) % 12] >= 2.0 * k.chroma[(tonic + 8) % 12],
			      "on %d: raised sixth %g, flat sixth %g", tonic, k.chroma[(tonic + 9) % 12],
			      k.chroma[(tonic + 8) % 12]);
		near += k.top[0].score - k.top[1].score < 0.06;
	}
	/* The case the exclusion is for must occur, or this test shows nothing. */
	ck_assert_msg(near >= 4, "the upper minor key was within 0.06 in %d keys of 12", near);
}
END_TEST

/* The twelve-bar blues in every key is in its tonic's major key. The profile mean alone reads every one a fourth too
 * high (C as F major: the blues' minor seventh, Bb in C, is F major's fourth, and C major's scale has no Bb); the
 * tonic vote, Krumhansl-Kessler ranking the tonics of each mode (key.c), names the tonic in all twelve. */
START_TEST(twelve_bar_blues)
{
	for (int tonic = 0; tonic < 12; tonic++) {
		ss_key k = cycle_key_is(blues_chords, 12, tonic, 1, "blues");
		ck_assert_str_eq(k.profile, "temperley+tkp+kk");
		/* what the vote is for */
		ss_key m = cycle_key_profile(blues_chords, 12, tonic, SS_KEY_PROFILE_TEMPERLEY_TKP);
		ck_assert_msg(m.key_index == (tonic + 5) % 12 && m.mode == 1, "blues on %d, profile mean alone: %d mode %d",
			      tonic, m.key_index, m.mode);
	}
}
END_TEST

/* The minor riff on distorted power chords (minor_riff_chords) in every key is never read as its parallel major. The
 * profiles and the tonic vote read the parallel major, a little ahead, in ten keys of twelve: the distortion's major
 * third outweighs the minor third, and the mean's minor profile, made for the harmonic minor, expects the leading
 * tone where the riff has the flat seventh. The natural-minor rule (key.c) scores the minor key with the natural
 * minor's seventh and names it. In the other two keys the chords' voicing (folded into one octave) makes the riff
 * read as its relative major (C minor's as Eb major: every note of the riff is in Eb's scale), far from the parallel
 * keys the rule is about. A major key that borrows bIII (major_borrowed_biii_chords) stays major in all twelve. */
START_TEST(minor_riff_on_distorted_power_chords)
{
	int minor = 0;
	for (int tonic = 0; tonic < 12; tonic++) {
		ss_key k = key_of(chord_cycle_amps(minor_riff_chords, minor_riff_amps, 4, tonic, 22050.0, 16.0, 0.5),
				  (size_t)(16.0 * 22050.0), 22050.0);
		int relative_major = k.key_index == (tonic + 3) % 12 && k.mode == 1;
		ck_assert_msg((k.key_index == tonic && k.mode == 0) || relative_major, "minor riff on %d: got %d mode %d",
			      tonic, k.key_index, k.mode);
		if (relative_major)
			continue;
		minor++;
		ck_assert_msg(k.top[1].key_index == tonic && k.top[1].mode == 1, "runner-up on %d: %d mode %d", tonic,
			      k.top[1].key_index, k.top[1].mode);
		/* the case the rule is for: more major third than minor, the flat seventh over the leading tone */
		ck_assert(k.chroma[(tonic + 4) % 12] > k.chroma[(tonic + 3) % 12]);
		ck_assert(k.chroma[(tonic + 10) % 12] > 2.0 * k.chroma[(tonic + 11) % 12]);
	}
	ck_assert_msg(minor >= 10, "the minor key in %d keys of 12", minor);
	for (int tonic = 0; tonic < 12; tonic++)
		cycle_key_is(major_borrowed_biii_chords, 4, tonic, 1, "I-bIII-IV-I");
}
END_TEST

/* The mixolydian vamp I-bVII in every key is in its tonic's major key. The profiles and the tonic vote read every one
 * a fourth too high (C as F major, whose scale it uses) by 0.2-0.3; its tonic sounds more than twice that key's tonic,
 * and the dominant's tonic rule (key.c) names it. */
START_TEST(mixolydian_vamp)
{
	for (int tonic = 0; tonic < 12; tonic++) {
		ss_key k = cycle_key_is(mixolydian_vamp_chords, 2, tonic, 1, "I-bVII");
		/* the case the rule is for: the key a fourth above is the runner-up, its tonic under half the tonic's */
		ck_assert_msg(k.top[1].key_index == (tonic + 5) % 12 && k.top[1].mode == 1, "runner-up on %d: %d mode %d",
			      tonic, k.top[1].key_index, k.top[1].mode);
		ck_assert(k.chroma[tonic] >= 2.0 * k.chroma[(tonic + 5) % 12]);
	}
}
END_TEST

/* A natural-minor tune (no raised leading tone: the relative major's notes) over an i-i-VI-VII bass line,
 * the shape of many folk and pop melodies in minor: it is the minor key, not its relative major. Every
 * tonic, notes of 0.4 s, the bass changing every four notes. (Temperley's profile alone read 7 of the 12
 * as the relative major; the profile mean reads all 12.) */
START_TEST(natural_minor_tune)
{
	static const int tune[16] = {7, 5, 3, 2, 3, 2, 0, -2, 0, 2, 3, 5, 7, 3, 0, 0};
	static const int bass[4] = {0, 0, -4, -2};
	int tonic = _i;
	double sr = 22050.0, seconds = 16.0, note_s = 0.4;
	size_t n = (size_t)(seconds * sr), per = (size_t)(note_s * sr), fade = (size_t)(0.01 * sr);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (size_t start = 0, c = 0; start < n; start += per, c++) {
		size_t len = start + per <= n ? per : n - start;
		add_tone(x + start, len, sr, pitch_hz(60 + tonic + tune[c % 16], 0.0), 0.2);
		add_tone(x + start, len, sr, pitch_hz(36 + tonic + bass[(c / 4) % 4], 0.0), 0.15);
		for (size_t i = 0; i < fade && i < len; i++) {
			x[start + i] *= (float)i / (float)fade;
			x[start + len - 1 - i] *= (float)i / (float)fade;
		}
	}
	ss_key k = key_of(x, n, sr);
	ck_assert_msg(k.key_index == tonic && k.mode == 0, "natural-minor tune on %d: got %d mode %d", tonic,
		      k.key_index, k.mode);
}
END_TEST

/* The key of each part of a signal (ss_key_of_span): 12 s of a progression in one key, then 12 s in another (a
 * fifth up, the commonest modulation, or a tritone away), every tonic and both modes. Each half must read its own
 * key, whatever the whole reads; the whole's frames must give the whole's result exactly; a span without frames or
 * too short to tell gives no key. */
START_TEST(span_keys_follow_a_key_change)
{
	int tonic = _i % 12, mode = (_i / 12) % 2, step = _i < 24 ? 7 : 6;
	int second = (tonic + step) % 12;
	double sr = 22050.0, half = 12.0;
	size_t m = (size_t)(half * sr);
	float *x = malloc(2 * m * sizeof *x);
	ck_assert_ptr_nonnull(x);
	float *a = progression(tonic, mode, 0.0, sr, half, 0.5), *b = progression(second, mode, 0.0, sr, half, 0.5);
	memcpy(x, a, m * sizeof *x);
	memcpy(x + m, b, m * sizeof *x);
	free(a);
	free(b);
	ss_key whole, part, again;
	ss_key_frames kf;
	ss_error err;
	ck_assert_int_eq(ss_key_analyze_frames(x, 2 * m, sr, SS_KEY_PROFILE_DEFAULT, &whole, &kf, &err), 0);
	ck_assert_int_eq(ss_key_analyze(x, 2 * m, sr, SS_KEY_PROFILE_DEFAULT, &again, &err), 0);
	free(x);
	ck_assert(kf.n > 0 && kf.hop_s > 0.3 && kf.hop_s < 0.4);
	ck_assert(whole.key_index == again.key_index && whole.mode == again.mode &&
		  whole.confidence == again.confidence); /* keeping the frames changes nothing */

	ss_key_of_span(&kf, 0.0, half, &whole, &part);
	assert_finite(&part);
	ck_assert_msg(part.key_index == tonic && part.mode == mode, "first half in %d mode %d (whole %d mode %d): got %d",
		      tonic, mode, whole.key_index, whole.mode, part.key_index);
	ss_key_of_span(&kf, half, 2.0 * half, &whole, &part);
	ck_assert_msg(part.key_index == second && part.mode == mode,
		      "second half in %d mode %d (whole %d mode %d): got %d mode %d", second, mode, whole.key_index,
		      whole.mode, part.key_index, part.mode);
	ck_assert(part.confidence > 0.0);

	ss_key_of_span(&kf, 0.0, HUGE_VAL, &whole, &part);
	ck_assert(part.key_index == whole.key_index && part.mode == whole.mode && part.confidence == whole.confidence &&
		  part.top[1].key_index == whole.top[1].key_index);
	ss_key_of_span(&kf, 2.0 * half + 1.0, 60.0, &whole, &part); /* after the end */
	ck_assert(part.key_index == -1 && part.mode == -1 && part.confidence == 0.0);
	ss_key_of_span(&kf, 3.0, 3.5, &whole, &part); /* one frame: too short to tell */
	ck_assert(part.key_index == -1 && part.confidence == 0.0);
	ss_key_of_span(&kf, 5.0, 4.0, NULL, &part); /* empty */
	ck_assert(part.key_index == -1);
	ss_key_frames_free(&kf);
	ck_assert_ptr_null(kf.chroma);
	ss_key_frames_free(&kf); /* twice is harmless */
}
END_TEST

/* A part that is silent has no key, and the frames of silence are kept as such; a part of a noise-free tone
 * between silences reads like the whole. */
START_TEST(span_of_silence_has_no_key)
{
	double sr = 11025.0, seconds = 24.0;
	size_t n = (size_t)(seconds * sr), third = n / 3;
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	float *p = progression(9, 0, 0.0, sr, 8.0, 0.5);
	memcpy(x + third, p, third * sizeof *x);
	free(p);
	ss_key whole, part;
	ss_key_frames kf;
	ss_error err;
	ck_assert_int_eq(ss_key_analyze_frames(x, n, sr, SS_KEY_PROFILE_DEFAULT, &whole, &kf, &err), 0);
	free(x);
	ck_assert(whole.key_index == 9 && whole.mode == 0);
	ss_key_of_span(&kf, 0.0, 7.5, &whole, &part);
	ck_assert(part.key_index == -1 && part.confidence == 0.0);
	ss_key_of_span(&kf, 8.5, 15.5, &whole, &part);
	ck_assert(part.key_index == 9 && part.mode == 0);
	size_t silent = 0;
	for (size_t t = 0; t < kf.n; t++)
		silent += !kf.sounding[t];
	ck_assert_msg(silent >= kf.n / 2, "%zu silent frames of %zu", silent, kf.n);
	ss_key_frames_free(&kf);
}
END_TEST

static Suite *key_suite(void)
{
	Suite *s = suite_create("key");
	TCase *tc = tcase_create("key");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, all_keys_detuned, 0, 48);
	tcase_add_loop_test(tc, sample_rates, 0, 10);
	tcase_add_loop_test(tc, aeolian_and_plagal, 0, 24);
	tcase_add_loop_test(tc, natural_minor_tune, 0, 12);
	tcase_add_test(tc, minor_riff_on_distorted_power_chords);
	tcase_add_test(tc, mixolydian_vamp);
	tcase_add_loop_test(tc, pop_progression_dwelling_on_iv, 0, 12);
	tcase_add_test(tc, minor_key_with_raised_sixth);
	tcase_add_test(tc, twelve_bar_blues);
	tcase_add_loop_test(tc, quarter_tone_detuned, 0, 4);
	tcase_add_test(tc, short_input);
	tcase_add_test(tc, silence);
	tcase_add_loop_test(tc, white_noise_low_confidence, 0, 3);
	tcase_add_test(tc, single_sine);
	tcase_add_test(tc, long_input_blocks);
	tcase_add_test(tc, deterministic_and_profiles);
	tcase_add_test(tc, degenerate_input);
	tcase_add_test(tc, profiles_and_tuning_units);
	tcase_add_loop_test(tc, span_keys_follow_a_key_change, 0, 48);
	tcase_add_test(tc, span_of_silence_has_no_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ss_check_run(key_suite());
}
