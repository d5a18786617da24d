#include "core/analysis/stft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <kiss_fftr.h>

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

/* row[k] = |spec[k]|^2, or |spec[k]| unless power, for k < n. */
static void spectrum_row(float *restrict row, const kiss_fft_cpx *restrict spec, size_t n, int power)
{
	size_t k = 0;
	for (; k + SS_STFT_CHUNK <= n; k += SS_STFT_CHUNK)
		for (size_t j = 0; j < SS_STFT_CHUNK; j++)
			row[k + j] = spec[k + j].r * spec[k + j].r + spec[k + j].i * spec[k + j].i;
	for (; k < n; k++)
		row[k] = spec[k].r * spec[k].r + spec[k].i * spec[k].i;
	if (power)
		return;
	for (k = 0; k + SS_STFT_CHUNK <= n; k += SS_STFT_CHUNK)
		for (size_t j = 0; j < SS_STFT_CHUNK; j++)
			row[k + j] = sqrtf(row[k + j]);
	for (; k < n; k++)
		row[k] = sqrtf(row[k]);
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

	float *mag = malloc(n_frames * n_bins * sizeof *mag);
	float *win = malloc(n_fft * sizeof *win);
	float *frame = malloc(n_fft * sizeof *frame);
	kiss_fft_cpx *spec = malloc(n_bins * sizeof *spec);
	kiss_fftr_cfg cfg = kiss_fftr_alloc((int)n_fft, 0, NULL, NULL);
	if (mag == NULL || win == NULL || frame == NULL || spec == NULL || cfg == NULL) {
		free(mag);
		free(win);
		free(frame);
		free(spec);
		kiss_fftr_free(cfg);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for STFT");
	}
	for (size_t i = 0; i < n_fft; i++)
		win[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)n_fft));

	const long half = (long)(n_fft / 2);
	for (size_t t = 0; t < n_frames; t++) {
		long start = (long)(t * hop) - half;
		if (start >= 0 && (size_t)start + n_fft <= n) {
			window_frame(frame, x + start, win, n_fft);
		} else {
			for (size_t i = 0; i < n_fft; i++) {
				long j = start + (long)i;
				frame[i] = (j >= 0 && (size_t)j < n) ? x[j] * win[i] : 0.0f;
			}
		}
		kiss_fftr(cfg, frame, spec);
		spectrum_row(mag + t * n_bins, spec, n_bins, power);
	}
	free(win);
	free(frame);
	free(spec);
	kiss_fftr_free(cfg);

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
