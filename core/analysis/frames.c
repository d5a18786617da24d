/* Per-frame level, mel bands and pitch-class power of the descriptor STFT (see frames.h). */
#include "core/analysis/frames.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MEL_LO_HZ 40.0
#define MEL_HI_HZ 10000.0
/* Pitch classes from C3 to B6: 46 ms frames do not resolve the semitones below, and no frame is cleaned of
 * harmonics (too coarse a spectrum for it). */
#define PITCH_MIDI_LO 48
#define PITCH_MIDI_HI 95

static double mel(double hz)
{
	return 2595.0 * log10(1.0 + hz / 700.0);
}

/* Bin-to-band and bin-to-pitch-class maps. A bin at position q among the BANDS + 2 mel points (j = floor(q))
 * feeds the falling side of band j - 1 and the rising side of band j with weight q - j: mel_slot[k] = j, so that
 * band b sums in e[b + 1] of an array padded at both ends. A bin at pitch q (MIDI) feeds the classes of floor(q)
 * and floor(q) + 1, the latter with weight q - floor(q). */
typedef struct maps {
	size_t mel_k0, mel_k1; /* bins that feed some band */
	int *mel_slot;
	float *mel_w;
	size_t pc_k0, pc_k1; /* bins between C3 and B6 */
	unsigned char *pc;
	float *pc_w;
} maps;

static void maps_free(maps *m)
{
	free(m->mel_slot);
	free(m->mel_w);
	free(m->pc);
	free(m->pc_w);
	memset(m, 0, sizeof *m);
}

static int maps_init(maps *m, size_t n_bins, double bin_hz)
{
	memset(m, 0, sizeof *m);
	m->mel_slot = malloc(n_bins * sizeof *m->mel_slot);
	m->mel_w = malloc(n_bins * sizeof *m->mel_w);
	m->pc = malloc(n_bins);
	m->pc_w = malloc(n_bins * sizeof *m->pc_w);
	if (m->mel_slot == NULL || m->mel_w == NULL || m->pc == NULL || m->pc_w == NULL) {
		maps_free(m);
		return -1;
	}
	const double m_lo = mel(MEL_LO_HZ), step = (mel(MEL_HI_HZ) - m_lo) / (SS_FRAME_BANDS + 1);
	const double f_lo = 440.0 * pow(2.0, (PITCH_MIDI_LO - 69) / 12.0);
	const double f_hi = 440.0 * pow(2.0, (PITCH_MIDI_HI - 69) / 12.0);
	m->mel_k0 = m->pc_k0 = n_bins;
	for (size_t k = 1; k < n_bins; k++) {
		const double hz = (double)k * bin_hz;
		double q = (mel(hz) - m_lo) / step;
		if (q >= 0.0 && q < SS_FRAME_BANDS + 1) {
			if (m->mel_k0 == n_bins)
				m->mel_k0 = k;
			m->mel_k1 = k + 1;
			m->mel_slot[k] = (int)q;
			m->mel_w[k] = (float)(q - (int)q);
		}
		if (hz >= f_lo && hz < f_hi) {
			if (m->pc_k0 == n_bins)
				m->pc_k0 = k;
			m->pc_k1 = k + 1;
			double p = 69.0 + 12.0 * log2(hz / 440.0), below = floor(p);
			m->pc[k] = (unsigned char)((int)below % 12);
			m->pc_w[k] = (float)(p - below);
		}
	}
	if (m->mel_k1 < m->mel_k0)
		m->mel_k1 = m->mel_k0;
	if (m->pc_k1 < m->pc_k0)
		m->pc_k1 = m->pc_k0;
	return 0;
}

/* dB of a mean square, floor_db..0. */
static double db(double ms, double floor_db)
{
	double v = ms > 0.0 ? 10.0 * log10(ms) : floor_db;
	return v < floor_db ? floor_db : v > 0.0 ? 0.0 : v;
}

/* Frame row (n_bins magnitudes) into its level, bands and pitch classes; scale turns a one-sided power sum into
 * a mean square. */
static void measure(const float *row, size_t n_bins, const maps *m, double scale, double *level, float *band,
		    float *pitch)
{
	double e[SS_FRAME_BANDS + 2] = {0}, pc[12] = {0}, total = 0.0;
	for (size_t k = 0; k < n_bins; k++)
		total += (double)row[k] * row[k];
	/* one-sided spectrum: every bin but DC and Nyquist stands for two */
	total = 2.0 * total - (double)row[0] * row[0] - (double)row[n_bins - 1] * row[n_bins - 1];
	for (size_t k = m->mel_k0; k < m->mel_k1; k++) {
		double p = (double)row[k] * row[k], w = m->mel_w[k];
		e[m->mel_slot[k]] += (1.0 - w) * p;
		e[m->mel_slot[k] + 1] += w * p;
	}
	for (size_t k = m->pc_k0; k < m->pc_k1; k++) {
		double p = (double)row[k] * row[k], w = m->pc_w[k];
		pc[m->pc[k]] += (1.0 - w) * p;
		pc[(m->pc[k] + 1) % 12] += w * p;
	}
	*level = db(total * scale, SS_FRAME_FLOOR_DB);
	for (int b = 0; b < SS_FRAME_BANDS; b++)
		band[b] = (float)db(2.0 * e[b + 1] * scale, SS_FRAME_BAND_FLOOR_DB);
	for (int c = 0; c < 12; c++)
		pitch[c] = (float)pc[c];
}

double ss_frames_span_start(const ss_frames *f, size_t t)
{
	assert(t < f->n);
	return fmax((double)t * f->hop_s - f->span_s / 2.0, 0.0);
}

double ss_frames_mean_level(const ss_frames *f, size_t a, size_t b)
{
	assert(a < b && b <= f->n);
	double power = 0.0;
	for (size_t t = a; t < b; t++)
		power += pow(10.0, f->level[t] / 10.0);
	return db(power / (double)(b - a), SS_FRAME_FLOOR_DB);
}

void ss_frames_free(ss_frames *f)
{
	if (f == NULL)
		return;
	free(f->level);
	free(f->band);
	free(f->pitch);
	memset(f, 0, sizeof *f);
}

int ss_frames_compute(const ss_spectrogram *s, ss_frames *out, ss_error *err)
{
	memset(out, 0, sizeof *out);
	if (s->n_frames == 0 || s->n_bins < 2 || s->power != 0 || s->hop == 0 || !(s->sr > 0.0))
		return ss_error_set(err, SS_ERR_INTERNAL, "frame levels need a magnitude spectrogram");
	const size_t T = s->n_frames, nb = s->n_bins;
	maps m;
	out->level = malloc(T * sizeof *out->level);
	out->band = malloc(T * SS_FRAME_BANDS * sizeof *out->band);
	out->pitch = malloc(T * 12 * sizeof *out->pitch);
	if (out->level == NULL || out->band == NULL || out->pitch == NULL || maps_init(&m, nb, s->sr / (double)s->n_fft) != 0) {
		ss_frames_free(out);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for frame levels");
	}
	/* Parseval with the periodic Hann window (sum of squares 3N/8): a frame's mean square */
	const double scale = 1.0 / ((double)s->n_fft * 3.0 * (double)s->n_fft / 8.0);
	for (size_t t = 0; t < T; t++)
		measure(s->mag + t * nb, nb, &m, scale, &out->level[t], out->band + t * SS_FRAME_BANDS, out->pitch + t * 12);
	maps_free(&m);
	out->n = T;
	out->hop_s = (double)s->hop / s->sr;
	out->span_s = (double)s->n_fft / s->sr;
	return 0;
}
