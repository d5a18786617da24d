#include "core/analysis/stft.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <kiss_fft.h>
#include <kiss_fftr.h>

#include "core/util/bigmem.h"

/* Frame loops run in chunks of SS_STFT_CHUNK with a constant inner trip count, which the compiler turns into
 * vector code at -O2; the rest of a frame runs one value at a time. */
#define SS_STFT_CHUNK 8

/* frame[i] = src[i] * win[i] for i < n. */
static void window_frame(float *restrict frame, const float *restrict src, const float *restrict win, size_t n)
{
	size_t i = 0;
	for (; i + SS_STFT_CHUNK <= n; i += SS_STFT_CHUNK)
		for (size_t j = 0; j < SS_STFT_CHUNK; j++)
			frame[i + j] = src[i + j] * win[i + j];
	for (; i < n; i++)
		frame[i] = src[i] * win[i];
}

/* row[k] = sqrt(row[k]) for k < n. */
static void sqrt_row(float *row, size_t n)
{
	size_t k = 0;
	for (; k + SS_STFT_CHUNK <= n; k += SS_STFT_CHUNK)
		for (size_t j = 0; j < SS_STFT_CHUNK; j++)
			row[k + j] = sqrtf(row[k + j]);
	for (; k < n; k++)
		row[k] = sqrtf(row[k]);
}

/* row[k] = |spec[k]|^2, or |spec[k]| unless power, for k < n. */
static void spectrum_row(float *restrict row, const kiss_fft_cpx *restrict spec, size_t n, int power)
{
	size_t k = 0;
	for (; k + SS_STFT_CHUNK <= n; k += SS_STFT_CHUNK)
		for (size_t j = 0; j < SS_STFT_CHUNK; j++)
			row[k + j] = spec[k + j].r * spec[k + j].r + spec[k + j].i * spec[k + j].i;
	for (; k < n; k++)
		row[k] = spec[k].r * spec[k].r + spec[k].i * spec[k].i;
	if (!power)
		sqrt_row(row, n);
}

/* From 1024 points on, one complex FFT of two real frames (a in the real part, b in the imaginary part)
 * costs about 80 % of two real FFTs with kissfft; below that it costs more. */
#define SS_STFT_PAIR_MIN 1024

/* Window frame t of x (n samples) into frame (n_fft floats): frames are centred on t * hop and the signal is
 * zero outside [0, n). */
static void load_frame(const float *x, size_t n, size_t t, size_t hop, const float *win, size_t n_fft,
		       float *frame)
{
	long start = (long)(t * hop) - (long)(n_fft / 2);
	if (start >= 0 && (size_t)start + n_fft <= n) {
		window_frame(frame, x + start, win, n_fft);
		return;
	}
	for (size_t i = 0; i < n_fft; i++) {
		long j = start + (long)i;
		frame[i] = (j >= 0 && (size_t)j < n) ? x[j] * win[i] : 0.0f;
	}
}

/* Rows ra and rb (n_fft/2 + 1 values) of the two real frames whose packed transform is z (n_fft values):
 * A[k] = (Z[k] + conj Z[N-k]) / 2, B[k] = (Z[k] - conj Z[N-k]) / 2i. */
static void split_pair(const kiss_fft_cpx *restrict z, size_t n_fft, float *restrict ra, float *restrict rb,
		       int power)
{
	const size_t n_bins = n_fft / 2 + 1;
	ra[0] = z[0].r * z[0].r; /* bin 0 is its own mirror: A = Re Z[0], B = Im Z[0] */
	rb[0] = z[0].i * z[0].i;
	/* bins 1 .. n_bins-1 pair with z[n_fft - k], read backwards; chunks of SS_STFT_CHUNK vectorise */
	const kiss_fft_cpx *restrict mirror = z + n_fft;
	size_t k = 1;
	for (; k + SS_STFT_CHUNK <= n_bins; k += SS_STFT_CHUNK)
		for (size_t j = 0; j < SS_STFT_CHUNK; j++) {
			const kiss_fft_cpx zk = z[k + j], zn = mirror[-(ptrdiff_t)(k + j)];
			const float ar = 0.5f * (zk.r + zn.r), ai = 0.5f * (zk.i - zn.i);
			const float br = 0.5f * (zk.i + zn.i), bi = 0.5f * (zn.r - zk.r);
			ra[k + j] = ar * ar + ai * ai;
			rb[k + j] = br * br + bi * bi;
		}
	for (; k < n_bins; k++) {
		const kiss_fft_cpx zk = z[k], zn = mirror[-(ptrdiff_t)k];
		const float ar = 0.5f * (zk.r + zn.r), ai = 0.5f * (zk.i - zn.i);
		const float br = 0.5f * (zk.i + zn.i), bi = 0.5f * (zn.r - zk.r);
		ra[k] = ar * ar + ai * ai;
		rb[k] = br * br + bi * bi;
	}
	if (!power) {
		sqrt_row(ra, n_bins);
		sqrt_row(rb, n_bins);
	}
}

static int stft_run(const float *x, size_t n, double sr, size_t n_fft, size_t hop, int power, ss_spectrogram *out,
		    ss_error *err)
{
	memset(out, 0, sizeof *out);
	if (n_fft < 16 || (n_fft & 1) != 0 || hop == 0 || n_fft > (1u << 20))
		return ss_error_set(err, SS_ERR_INTERNAL, "bad STFT parameters");

	size_t n_frames = 1 + n / hop;
	size_t n_bins = n_fft / 2 + 1;
	if (n_frames > ((size_t)-1) / sizeof(float) / n_bins)
		return ss_error_set(err, SS_ERR_TOO_LARGE, "signal too long for STFT");

	const int pairs = n_fft >= SS_STFT_PAIR_MIN && n_frames >= 2;
	float *mag = ss_bigmem_alloc(n_frames * n_bins * sizeof *mag);
	float *win = malloc(n_fft * sizeof *win);
	float *frame = malloc(2 * n_fft * sizeof *frame);
	kiss_fft_cpx *spec = malloc((pairs ? 2 * n_fft : n_bins) * sizeof *spec);
	kiss_fftr_cfg cfg = pairs ? NULL : kiss_fftr_alloc((int)n_fft, 0, NULL, NULL);
	kiss_fft_cfg ccfg = pairs ? kiss_fft_alloc((int)n_fft, 0, NULL, NULL) : NULL;
	if (mag == NULL || win == NULL || frame == NULL || spec == NULL || (cfg == NULL && ccfg == NULL)) {
		free(mag);
		free(win);
		free(frame);
		free(spec);
		kiss_fftr_free(cfg);
		kiss_fft_free(ccfg);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for STFT");
	}
	for (size_t i = 0; i < n_fft; i++)
		win[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)n_fft));

	size_t t = 0;
	if (pairs) {
		kiss_fft_cpx *z = spec + n_fft;
		for (; t + 2 <= n_frames; t += 2) {
			load_frame(x, n, t, hop, win, n_fft, frame);
			load_frame(x, n, t + 1, hop, win, n_fft, frame + n_fft);
			for (size_t i = 0; i < n_fft; i++) {
				spec[i].r = frame[i];
				spec[i].i = frame[n_fft + i];
			}
			kiss_fft(ccfg, spec, z);
			split_pair(z, n_fft, mag + t * n_bins, mag + (t + 1) * n_bins, power);
		}
		if (t < n_frames) { /* an odd last frame: paired with silence */
			load_frame(x, n, t, hop, win, n_fft, frame);
			for (size_t i = 0; i < n_fft; i++) {
				spec[i].r = frame[i];
				spec[i].i = 0.0f;
			}
			kiss_fft(ccfg, spec, z);
			split_pair(z, n_fft, mag + t * n_bins, frame, power); /* the silent half lands in scratch */
		}
	} else {
		for (; t < n_frames; t++) {
			load_frame(x, n, t, hop, win, n_fft, frame);
			kiss_fftr(cfg, frame, spec);
			spectrum_row(mag + t * n_bins, spec, n_bins, power);
		}
	}
	free(win);
	free(frame);
	free(spec);
	kiss_fftr_free(cfg);
	kiss_fft_free(ccfg);

	out->n_fft = n_fft;
	out->hop = hop;
	out->n_frames = n_frames;
	out->n_bins = n_bins;
	out->sr = sr;
	out->power = power;
	out->mag = mag;
	return 0;
}

int ss_stft_magnitude(const float *x, size_t n, double sr, size_t n_fft, size_t hop, ss_spectrogram *out,
		      ss_error *err)
{
	return stft_run(x, n, sr, n_fft, hop, 0, out, err);
}

int ss_stft_power(const float *x, size_t n, double sr, size_t n_fft, size_t hop, ss_spectrogram *out, ss_error *err)
{
	return stft_run(x, n, sr, n_fft, hop, 1, out, err);
}

void ss_spectrogram_free(ss_spectrogram *s)
{
	if (s == NULL)
		return;
	free(s->mag);
	memset(s, 0, sizeof *s);
}

double ss_spectrogram_bin_hz(const ss_spectrogram *s, size_t k)
{
	return (double)k * s->sr / (double)s->n_fft;
}
