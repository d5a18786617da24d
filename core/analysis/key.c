#include "core/analysis/key.h"

#include <math.h>
#include <string.h>

#include "core/analysis/chroma.h"
#include "core/analysis/key_profiles.h"
#include "core/analysis/stft.h"
#include "core/analysis/tuning.h"

/* The profile used for SS_KEY_PROFILE_DEFAULT (chosen by measurement, see check_key.c and the commit log). */
#define KEY_DEFAULT_PROFILE SS_KEY_PROFILE_TEMPERLEY

/* Frames per STFT call: bounds memory for long input (about 3 MB at 22050 Hz). */
#define KEY_BLOCK_FRAMES 192

/* A frame whose band level (about the amplitude of its strongest partial) is below this is silent. */
#define KEY_SILENT_LEVEL 1e-4

/* Chroma whose spread (standard deviation over mean of the 12 values) is below this is not tonal. */
#define KEY_MIN_SPREAD 0.05

/* Margin of correlation between the best and second-best key that maps to confidence 1 - 1/e. */
#define KEY_MARGIN_SCALE 0.1

/* Tuning is estimated from peaks in this band, in Hz. */
#define KEY_TUNING_FMIN 100.0
#define KEY_TUNING_FMAX 2000.0

const char *ss_key_profile_name(ss_key_profile_id profile)
{
	switch (profile) {
	case SS_KEY_PROFILE_KRUMHANSL:
		return "krumhansl";
	case SS_KEY_PROFILE_TEMPERLEY:
		return "temperley";
	case SS_KEY_PROFILE_EDMA:
		return "edma";
	default:
		return NULL;
	}
}

static void key_unknown(ss_key *out, const char *profile_name, double tuning)
{
	memset(out, 0, sizeof *out);
	out->key_index = -1;
	out->mode = -1;
	out->confidence = 0.0;
	for (int i = 0; i < SS_KEY_CANDIDATES; i++) {
		out->top[i].key_index = -1;
		out->top[i].mode = -1;
		out->top[i].score = 0.0;
	}
	out->tuning_cents = tuning;
	out->tonal_strength = 0.0;
	out->profile = profile_name;
}

/* Smallest power of two >= v (v >= 1). */
static size_t pow2_at_least(double v)
{
	size_t n = 16;
	while ((double)n < v && n < (1u << 20))
		n <<= 1;
	return n;
}

/* Analysis state shared by the blocks of one call. */
typedef struct key_run {
	const float *x;
	size_t n;
	double sr;
	size_t n_fft, hop;
	ss_chroma_params cp;
	ss_chroma_map map;
	int have_map;
	double tuning;
	double chroma[12];
	size_t used_frames;
} key_run;

/* STFT of global frames [t0, t1) (frames centred on t * hop, as one ss_stft_magnitude call over the whole
 * signal would give), fed to the tuning estimate (first block) and the chroma. */
static int key_block(key_run *r, size_t t0, size_t t1, ss_error *err)
{
	size_t half = r->n_fft / 2;
	size_t margin = (half + r->hop - 1) / r->hop;
	size_t f0 = t0 >= margin ? t0 - margin : 0;
	size_t a = f0 * r->hop;
	size_t want = (t1 - 1) * r->hop + half;
	size_t len = (want < r->n ? want : r->n) - a;
	if (a > r->n)
		len = 0;
	ss_spectrogram sg;
	if (ss_stft_magnitude(r->x + (a < r->n ? a : r->n), len, r->sr, r->n_fft, r->hop, &sg, err) != 0)
		return -1;
	double bin_hz = r->sr / (double)r->n_fft;
	size_t j0 = t0 - f0, j1 = t1 - f0;
	if (j1 > sg.n_frames)
		j1 = sg.n_frames;
	double level_scale = 4.0 / (double)r->n_fft; /* a Hann-windowed sine of amplitude A peaks at A * n_fft / 4 */

	if (!r->have_map) {
		ss_tuning tu;
		ss_tuning_init(&tu);
		for (size_t j = j0; j < j1; j++)
			ss_tuning_add_frame(&tu, sg.mag + j * sg.n_bins, sg.n_bins, bin_hz, KEY_TUNING_FMIN,
					    KEY_TUNING_FMAX);
		r->tuning = ss_tuning_cents(&tu);
		if (ss_chroma_map_init(&r->map, sg.n_bins, bin_hz, r->tuning, &r->cp, err) != 0) {
			ss_spectrogram_free(&sg);
			return -1;
		}
		r->have_map = 1;
	}
	for (size_t j = j0; j < j1; j++) {
		double c[12] = {0};
		double e = ss_chroma_add_frame(&r->map, sg.mag + j * sg.n_bins, c);
		if (sqrt(e) * level_scale < KEY_SILENT_LEVEL)
			continue;
		for (int i = 0; i < 12; i++)
			r->chroma[i] += c[i];
		r->used_frames++;
	}
	ss_spectrogram_free(&sg);
	return 0;
}

/* Key from a summed chroma: fills key_index, mode, top, confidence, tonal_strength, chroma. */
static void key_decide(const double sum[12], ss_key_profile_id profile, ss_key *out)
{
	double mx = 0.0, mean = 0.0;
	for (int i = 0; i < 12; i++) {
		if (sum[i] > mx)
			mx = sum[i];
		mean += sum[i];
	}
	mean /= 12.0;
	if (!(mx > 0.0))
		return;
	for (int i = 0; i < 12; i++)
		out->chroma[i] = sum[i] / mx;
	double var = 0.0;
	for (int i = 0; i < 12; i++)
		var += (sum[i] - mean) * (sum[i] - mean);
	double spread = sqrt(var / 12.0) / mean;
	if (spread < KEY_MIN_SPREAD)
		return;

	double scores[SS_KEY_PROFILE_KEYS];
	if (ss_key_profile_correlate(profile, out->chroma, scores) != 0)
		return;
	int order[SS_KEY_PROFILE_KEYS];
	for (int i = 0; i < SS_KEY_PROFILE_KEYS; i++)
		order[i] = i;
	/* Insertion sort, best first; equal scores keep index order, so the result is deterministic. */
	for (int i = 1; i < SS_KEY_PROFILE_KEYS; i++) {
		int v = order[i], j = i;
		while (j > 0 && scores[order[j - 1]] < scores[v]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = v;
	}
	for (int i = 0; i < SS_KEY_CANDIDATES; i++) {
		out->top[i].key_index = order[i] % 12;
		out->top[i].mode = order[i] < 12 ? 1 : 0;
		out->top[i].score = scores[order[i]];
	}
	double best = scores[order[0]], second = scores[order[1]];
	out->key_index = out->top[0].key_index;
	out->mode = out->top[0].mode;
	out->tonal_strength = best > 0.0 ? best : 0.0;
	double margin = best - second;
	out->confidence = 1.0 - exp(-margin / KEY_MARGIN_SCALE);
	if (out->confidence < 0.0)
		out->confidence = 0.0;
}

/* ss_key_analyze with explicit chroma parameters. */
static int key_analyze_params(const float *x, size_t n, double sr, ss_key_profile_id profile,
			      const ss_chroma_params *cp, ss_key *out, ss_error *err)
{
	if (profile == SS_KEY_PROFILE_DEFAULT)
		profile = KEY_DEFAULT_PROFILE;
	const char *name = ss_key_profile_name(profile);
	if (name == NULL)
		return ss_error_set(err, SS_ERR_INTERNAL, "unknown key profile %d", (int)profile);
	key_unknown(out, name, 0.0);
	if (!(sr >= 1000.0) || !isfinite(sr))
		return ss_error_set(err, SS_ERR_INTERNAL, "bad sample rate for key analysis");
	if (x == NULL || n == 0)
		return 0;

	key_run r;
	memset(&r, 0, sizeof r);
	r.x = x;
	r.n = n;
	r.sr = sr;
	r.n_fft = pow2_at_least(0.3 * sr);
	r.hop = r.n_fft / 2;
	r.cp = *cp;
	size_t n_frames = 1 + n / r.hop;
	for (size_t t0 = 0; t0 < n_frames; t0 += KEY_BLOCK_FRAMES) {
		size_t t1 = t0 + KEY_BLOCK_FRAMES < n_frames ? t0 + KEY_BLOCK_FRAMES : n_frames;
		if (key_block(&r, t0, t1, err) != 0) {
			ss_chroma_map_free(&r.map);
			return -1;
		}
	}
	ss_chroma_map_free(&r.map);
	out->tuning_cents = r.tuning;
	if (r.used_frames == 0)
		return 0;
	key_decide(r.chroma, profile, out);
	return 0;
}

int ss_key_analyze(const float *x, size_t n, double sr, ss_key_profile_id profile, ss_key *out, ss_error *err)
{
	ss_chroma_params cp;
	ss_chroma_params_default(&cp);
	return key_analyze_params(x, n, sr, profile, &cp, out, err);
}
