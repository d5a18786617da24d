/* Speech, voice and audience scores (core/analysis/content.h) on signals synthesised here: steady music (chords
 * and drums), a speech-like voice (syllables at 4 Hz gliding in pitch through vowel formants, fricatives and
 * pauses between words), a held melody with 5.5 Hz vibrato over the same music, and the music with a crowd
 * (continuous noise floor and clapping bursts) under it. Each score must land on its documented side. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/content.h"
#include "core/analysis/stft.h"
#include "tests/check_main.h"

#define SR 22050.0
#define SECS 20.0
#define NS ((size_t)(SR * SECS))

static unsigned seed;

static double noise(void)
{
	return (double)rand_r(&seed) / RAND_MAX * 2.0 - 1.0;
}

/* Chords changing every 2 s (held notes with their harmonics), a kick and a hi-hat at 120 BPM. */
static void add_music(float *x, double gain)
{
	static const double roots[4] = {220.0, 174.61, 261.63, 196.0};
	for (size_t i = 0; i < NS; i++) {
		double t = (double)i / SR;
		double r = roots[(int)(t / 2.0) % 4], v = 0.0;
		const double chord[3] = {1.0, 1.2599, 1.4983};
		for (int n = 0; n < 3; n++)
			for (int h = 1; h <= 4; h++)
				v += 0.05 / h * sin(2 * M_PI * r * chord[n] * h * t);
		double beat = fmod(t, 0.5), off = fmod(t + 0.25, 0.5);
		v += 0.5 * exp(-beat * 30.0) * sin(2 * M_PI * 55.0 * beat);
		v += 0.08 * exp(-off * 120.0) * noise();
		x[i] += (float)(gain * v);
	}
}

/* Speech-like: words of three syllables (250 ms each, 4 Hz), f0 gliding 110 -> 150 Hz within a syllable,
 * harmonics shaped by a vowel's formants that change from syllable to syllable, a fricative (high noise)
 * between syllables, 350 ms pauses between words. */
static void add_speech(float *x, double gain)
{
	static const double formants[4][2] = {{700, 1200}, {300, 2300}, {500, 900}, {400, 2000}};
	double phase = 0.0;
	size_t i = 0;
	int syl = 0;
	while (i < NS) {
		for (int s = 0; s < 3 && i < NS; s++, syl++) {
			const double *f = formants[syl % 4];
			size_t len = (size_t)(0.25 * SR);
			for (size_t j = 0; j < len && i < NS; j++, i++) {
				double u = (double)j / (double)len;
				double f0 = 110.0 + 40.0 * u + 10.0 * (syl % 3);
				phase += 2 * M_PI * f0 / SR;
				double env = sin(M_PI * u), v = 0.0;
				if (u < 0.15) { /* fricative onset */
					x[i] += (float)(gain * 0.15 * noise() * (1.0 - u / 0.15));
					continue;
				}
				for (int h = 1; h * f0 < 4000.0; h++) {
					double fh = h * f0;
					double a = exp(-pow((fh - f[0]) / 150.0, 2)) +
						   0.6 * exp(-pow((fh - f[1]) / 200.0, 2)) + 0.05;
					v += a * sin(h * phase) / h;
				}
				x[i] += (float)(gain * 0.3 * env * v);
			}
		}
		i += (size_t)(0.35 * SR); /* pause */
	}
}

/* A held melody (notes of 600 ms) with a vibrato of rate Hz and +-cents, and harmonics up to 4 kHz shaped by
 * fixed formants f1, f2 (0: harmonics falling as 1/h, no formants): a held vowel, "ooh" with 300/870 Hz. */
static void melody(float *x, double gain, double rate, double cents, double f1, double f2)
{
	static const int notes[8] = {0, 2, 4, 5, 7, 5, 4, 2};
	double phase = 0.0;
	for (size_t i = 0; i < NS; i++) {
		double t = (double)i / SR;
		double f0 = 330.0 * pow(2.0, notes[(int)(t / 0.6) % 8] / 12.0);
		f0 *= pow(2.0, cents / 1200.0 * sin(2 * M_PI * rate * t));
		phase += 2 * M_PI * f0 / SR;
		double v = 0.0;
		for (int h = 1; h * f0 < 4000.0 && (f1 > 0.0 || h <= 6); h++) {
			double fh = h * f0;
			double a = f1 > 0.0 ? exp(-pow((fh - f1) / 150.0, 2)) + 0.6 * exp(-pow((fh - f2) / 200.0, 2)) + 0.05
					    : 1.0 / h;
			v += a * sin(h * phase);
		}
		x[i] += (float)(gain * 0.25 * v);
	}
}

/* 5.5 Hz, +-40 cents: a singer's vibrato. */
static void add_vibrato_melody(float *x, double gain)
{
	melody(x, gain, 5.5, 40.0, 0.0, 0.0);
}

/* The same notes held without vibrato (a flute or an organ). */
static void add_steady_melody(float *x, double gain)
{
	melody(x, gain, 5.5, 0.0, 0.0, 0.0);
}

/* "Ooh" sung with vibrato: the formants never move, as no syllables follow one another. */
static void add_ooh(float *x, double gain)
{
	melody(x, gain, 5.5, 40.0, 300.0, 870.0);
}

/* The same notes with every harmonic vibrating on its own (rates 4.5-7 Hz, phases apart): as much pitch
 * movement as add_vibrato_melody, but no common pitch moving all partials together. */
static void add_independent_vibratos(float *x, double gain)
{
	static const int notes[8] = {0, 2, 4, 5, 7, 5, 4, 2};
	double phase[6] = {0};
	for (size_t i = 0; i < NS; i++) {
		double t = (double)i / SR;
		double f0 = 330.0 * pow(2.0, notes[(int)(t / 0.6) % 8] / 12.0), v = 0.0;
		for (int h = 1; h <= 6; h++) {
			double fh = h * f0 * pow(2.0, 40.0 / 1200.0 * sin(2 * M_PI * (4.5 + 0.5 * h) * t + 1.3 * h));
			phase[h - 1] += 2 * M_PI * fh / SR;
			v += sin(phase[h - 1]) / h;
		}
		x[i] += (float)(gain * 0.25 * v);
	}
}

/* The same notes plucked: each starts loud and decays (time constant 150 ms), as a guitar's or a piano's. */
static void add_plucked_melody(float *x, double gain)
{
	static const int notes[8] = {0, 2, 4, 5, 7, 5, 4, 2};
	double phase = 0.0;
	for (size_t i = 0; i < NS; i++) {
		double t = (double)i / SR;
		double f0 = 330.0 * pow(2.0, notes[(int)(t / 0.6) % 8] / 12.0), v = 0.0;
		phase += 2 * M_PI * f0 / SR;
		for (int h = 1; h <= 6; h++)
			v += sin(h * phase) / h;
		x[i] += (float)(gain * 0.5 * exp(-fmod(t, 0.6) / 0.15) * v);
	}
}

/* Crowd: band-limited noise with a slowly moving level, and applause (dense short noise bursts) in the first
 * and last 4 s and for 2 s every 6 s. */
static void add_crowd(float *x, double gain)
{
	double lp = 0.0, hp = 0.0, prev = 0.0;
	const double a_lp = exp(-2 * M_PI * 2500.0 / SR), a_hp = exp(-2 * M_PI * 250.0 / SR);
	for (size_t i = 0; i < NS; i++) {
		double t = (double)i / SR;
		lp = (1 - a_lp) * noise() + a_lp * lp;
		hp = a_hp * (hp + lp - prev);
		prev = lp;
		x[i] += (float)(gain * 0.6 * (0.7 + 0.3 * sin(2 * M_PI * 0.3 * t)) * hp);
		bool applause = t < 4.0 || t > SECS - 4.0 || fmod(t, 6.0) < 2.0;
		if (applause && i % 300 == 0) { /* a clap every 14 ms on average from the audience */
			size_t start = i + (size_t)(rand_r(&seed) % 300);
			double g = 0.3 + 0.7 * (double)rand_r(&seed) / RAND_MAX;
			for (size_t j = 0; j < 400 && start + j < NS; j++)
				x[start + j] += (float)(gain * 0.4 * g * exp(-(double)j / 80.0) * noise());
		}
	}
}

typedef void (*layer_fn)(float *x, double gain);

/* Features of the sum of up to three layers (NULL ends the list early). */
static void features_of(layer_fn a, double ga, layer_fn b, double gb, layer_fn c, double gc, ss_content_features *f)
{
	float *x = calloc(NS, sizeof *x);
	ck_assert_ptr_nonnull(x);
	seed = 12345;
	a(x, ga);
	if (b != NULL)
		b(x, gb);
	if (c != NULL)
		c(x, gc);
	ss_spectrogram s;
	ss_error err;
	ck_assert_int_eq(ss_stft_magnitude(x, NS, SR, 1024, 1024, &s, &err), 0);
	ck_assert_int_eq(ss_content_features_compute(&s, NULL, f, &err), 0);
	ss_spectrogram_free(&s);
	free(x);
}

static void assert_scores_valid(const ss_content_features *f)
{
	double v[3] = {ss_content_speechiness(f), ss_content_instrumentalness(f), ss_content_liveness(f)};
	for (int i = 0; i < 3; i++)
		ck_assert_msg(v[i] >= 0.0 && v[i] <= 1.0, "score %d = %g", i, v[i]);
}

START_TEST(music_is_instrumental_studio_music)
{
	ss_content_features f;
	features_of(add_music, 1.0, NULL, 0, NULL, 0, &f);
	assert_scores_valid(&f);
	ck_assert_msg(ss_content_speechiness(&f) < 0.33, "speechiness %g", ss_content_speechiness(&f));
	ck_assert_msg(ss_content_instrumentalness(&f) > 0.5, "instrumentalness %g", ss_content_instrumentalness(&f));
	ck_assert_msg(ss_content_liveness(&f) < 0.8, "liveness %g", ss_content_liveness(&f));
}
END_TEST

START_TEST(speech_is_spoken_word)
{
	ss_content_features f;
	features_of(add_speech, 1.0, NULL, 0, NULL, 0, &f);
	assert_scores_valid(&f);
	ck_assert_msg(f.low_energy > 0.2, "low-energy frames %g", f.low_energy);
	ck_assert_msg(ss_content_speechiness(&f) > 0.66, "speechiness %g", ss_content_speechiness(&f));
	ck_assert_msg(ss_content_instrumentalness(&f) < 0.5, "instrumentalness %g", ss_content_instrumentalness(&f));
	ck_assert_msg(ss_content_liveness(&f) < 0.8, "liveness %g", ss_content_liveness(&f));
}
END_TEST

START_TEST(speech_over_music_is_between)
{
	ss_content_features m, f;
	features_of(add_music, 1.0, NULL, 0, NULL, 0, &m);
	features_of(add_music, 1.0, add_speech, 1.5, NULL, 0, &f);
	assert_scores_valid(&f);
	ck_assert_msg(ss_content_speechiness(&f) > 0.33, "speechiness %g", ss_content_speechiness(&f));
	ck_assert_msg(ss_content_speechiness(&f) > ss_content_speechiness(&m), "speech adds nothing");
	ck_assert_msg(ss_content_instrumentalness(&f) < 0.5, "instrumentalness %g", ss_content_instrumentalness(&f));
}
END_TEST

START_TEST(vibrato_voice_is_not_instrumental)
{
	ss_content_features m, f;
	features_of(add_music, 1.0, NULL, 0, NULL, 0, &m);
	features_of(add_music, 1.0, add_vibrato_melody, 1.0, NULL, 0, &f);
	assert_scores_valid(&f);
	ck_assert_msg(f.glide > m.glide, "glide %g vs %g without the voice", f.glide, m.glide);
	ck_assert_msg(ss_content_instrumentalness(&f) < ss_content_instrumentalness(&m), "%g vs %g",
		      ss_content_instrumentalness(&f), ss_content_instrumentalness(&m));
}
END_TEST

/* The vibrato feature reads a 4-8 Hz pitch modulation of partials, not held notes or note changes. */
START_TEST(vibrato_feature_reads_vibrato)
{
	ss_content_features v, st, m;
	features_of(add_vibrato_melody, 1.0, NULL, 0, NULL, 0, &v);
	features_of(add_steady_melody, 1.0, NULL, 0, NULL, 0, &st);
	features_of(add_music, 1.0, NULL, 0, NULL, 0, &m);
	ck_assert_msg(v.vibrato > 0.5, "vibrato on a vibrato melody %g", v.vibrato);
	ck_assert_msg(st.vibrato < 0.05, "vibrato on held notes %g", st.vibrato);
	ck_assert_msg(m.vibrato < 0.05, "vibrato on chords and drums %g", m.vibrato);
}
END_TEST

/* The syllable feature follows formants that change at syllable rate: speech moves them, a held "ooh" (with
 * vibrato) does not. */
START_TEST(syllable_feature_reads_formant_changes)
{
	ss_content_features sp, ooh;
	features_of(add_speech, 1.0, NULL, 0, NULL, 0, &sp);
	features_of(add_ooh, 1.0, NULL, 0, NULL, 0, &ooh);
	ck_assert_msg(ooh.vibrato > 0.5, "vibrato on the ooh %g", ooh.vibrato);
	ck_assert_msg(sp.syllable > 1.5 * ooh.syllable, "syllable: speech %g, ooh %g", sp.syllable, ooh.syllable);
}
END_TEST

/* The attack feature reads whether new partials decay: plucked notes fall by several dB over their first
 * frames, held notes (sung or bowed) do not. */
START_TEST(attack_feature_reads_decay)
{
	ss_content_features pl, st, v;
	features_of(add_plucked_melody, 1.0, NULL, 0, NULL, 0, &pl);
	features_of(add_steady_melody, 1.0, NULL, 0, NULL, 0, &st);
	features_of(add_vibrato_melody, 1.0, NULL, 0, NULL, 0, &v);
	ck_assert_msg(pl.attack < -4.0, "attack of plucked notes %g dB", pl.attack);
	ck_assert_msg(st.attack > -1.0, "attack of held notes %g dB", st.attack);
	ck_assert_msg(v.attack > pl.attack + 3.0, "attack of a vibrato melody %g dB, plucked %g dB", v.attack, pl.attack);
}
END_TEST

/* The fluctogram follows pitch moves: a vibrato melody moves its bands more than held notes (which move only at
 * their note changes) or chords with drums do, and moves them together, where harmonics vibrating each on their
 * own move as much but apart. */
START_TEST(fluctogram_reads_shared_pitch_moves)
{
	ss_content_features v, st, m, ind;
	features_of(add_vibrato_melody, 1.0, NULL, 0, NULL, 0, &v);
	features_of(add_steady_melody, 1.0, NULL, 0, NULL, 0, &st);
	features_of(add_music, 1.0, NULL, 0, NULL, 0, &m);
	features_of(add_independent_vibratos, 1.0, NULL, 0, NULL, 0, &ind);
	ck_assert_msg(v.fluct > 1.25 * st.fluct, "fluct: vibrato %g cents, held notes %g", v.fluct, st.fluct);
	ck_assert_msg(ind.fluct > 1.25 * st.fluct, "fluct: independent vibratos %g cents, held notes %g", ind.fluct,
		      st.fluct);
	ck_assert_msg(v.fluct > 1.15 * m.fluct, "fluct: vibrato %g cents, chords and drums %g", v.fluct, m.fluct);
	/* the same amount of movement, but only the vibrato melody moves all bands together */
	ck_assert_msg(v.fluct_coh > 1.8 * ind.fluct_coh, "fluct_coh: vibrato %g, independent vibratos %g", v.fluct_coh,
		      ind.fluct_coh);
	ck_assert(v.fluct_coh > 0.0 && v.fluct_coh <= 1.0 && ind.fluct_coh > 0.0 && ind.fluct_coh <= 1.0);
}
END_TEST

START_TEST(crowd_under_music_is_live)
{
	ss_content_features m, f;
	features_of(add_music, 1.0, NULL, 0, NULL, 0, &m);
	features_of(add_music, 1.0, add_crowd, 0.5, NULL, 0, &f);
	assert_scores_valid(&f);
	ck_assert_msg(f.floor_flat > m.floor_flat, "floor flatness %g vs %g dry", f.floor_flat, m.floor_flat);
	ck_assert_msg(ss_content_liveness(&f) > 0.8, "liveness %g (dry %g)", ss_content_liveness(&f), ss_content_liveness(&m));
	ck_assert_msg(ss_content_speechiness(&f) < 0.33, "speechiness %g", ss_content_speechiness(&f));
}
END_TEST

START_TEST(deterministic_and_bounded)
{
	ss_content_features a, b;
	features_of(add_music, 1.0, add_speech, 0.7, add_crowd, 0.2, &a);
	features_of(add_music, 1.0, add_speech, 0.7, add_crowd, 0.2, &b);
	ck_assert(memcmp(&a, &b, sizeof a) == 0);
	assert_scores_valid(&a);
	/* a power spectrogram is refused; too few frames give NaN features and valid scores */
	float x[4096] = {0};
	for (size_t i = 0; i < 4096; i++)
		x[i] = (float)sin(i * 0.1);
	ss_spectrogram s;
	ss_error err;
	ck_assert_int_eq(ss_stft_power(x, 4096, SR, 1024, 1024, &s, &err), 0);
	ck_assert_int_eq(ss_content_features_compute(&s, NULL, &a, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_INTERNAL);
	ss_spectrogram_free(&s);
	ck_assert_int_eq(ss_stft_magnitude(x, 4096, SR, 1024, 1024, &s, &err), 0);
	ck_assert_int_eq(ss_content_features_compute(&s, NULL, &a, &err), 0);
	ck_assert(isnan(a.low_energy) && isnan(a.glide) && isnan(a.floor_db) && isnan(a.vibrato) && isnan(a.syllable) &&
		  isnan(a.attack) && !(a.fluct > 0.0) && !(a.fluct_coh > 0.0));
	assert_scores_valid(&a);
	ss_spectrogram_free(&s);
	/* silence: no energy anywhere, still valid scores */
	float *z = calloc(NS, sizeof *z);
	ck_assert_ptr_nonnull(z);
	ck_assert_int_eq(ss_stft_magnitude(z, NS, SR, 1024, 1024, &s, &err), 0);
	ck_assert_int_eq(ss_content_features_compute(&s, NULL, &a, &err), 0);
	assert_scores_valid(&a);
	ss_spectrogram_free(&s);
	free(z);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("content");
	TCase *tc = tcase_create("scores");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, music_is_instrumental_studio_music);
	tcase_add_test(tc, speech_is_spoken_word);
	tcase_add_test(tc, speech_over_music_is_between);
	tcase_add_test(tc, vibrato_voice_is_not_instrumental);
	tcase_add_test(tc, vibrato_feature_reads_vibrato);
	tcase_add_test(tc, syllable_feature_reads_formant_changes);
	tcase_add_test(tc, attack_feature_reads_decay);
	tcase_add_test(tc, fluctogram_reads_shared_pitch_moves);
	tcase_add_test(tc, crowd_under_music_is_live);
	tcase_add_test(tc, deterministic_and_bounded);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
