/* Short-time Fourier transform magnitudes on kissfft, shared by every analysis stage. */
#ifndef SS_ANALYSIS_STFT_H
#define SS_ANALYSIS_STFT_H

#include <stddef.h>

#include "core/util/error.h"

typedef struct ss_spectrogram {
	size_t n_fft;    /* frame length in samples (even) */
	size_t hop;      /* samples between frame starts */
	size_t n_frames; /* number of frames */
	size_t n_bins;   /* n_fft / 2 + 1 */
	double sr;       /* sample rate of the input, Hz */
	int power;       /* 1: mag holds squared magnitudes (ss_stft_power) */
	float *mag;      /* n_frames * n_bins magnitudes (or their squares), frame-major: mag[t * n_bins + k]; owned */
} ss_spectrogram;

/* Magnitude STFT of x (n samples at sr Hz) with a periodic Hann window, frames centred on t*hop (the
 * signal is zero-padded by n_fft/2 on both sides), n_frames = 1 + n / hop. n_fft must be even and >= 16,
 * hop >= 1. Returns 0 and fills *out (free with ss_spectrogram_free), or -1 with err (SS_ERR_NOMEM,
 * SS_ERR_INTERNAL for bad parameters). */
int ss_stft_magnitude(const float *x, size_t n, double sr, size_t n_fft, size_t hop, ss_spectrogram *out,
		      ss_error *err);

/* As ss_stft_magnitude, but mag holds the squared magnitudes |X|^2 (no square root) and power is 1. */
int ss_stft_power(const float *x, size_t n, double sr, size_t n_fft, size_t hop, ss_spectrogram *out, ss_error *err);

/* Free the magnitudes and zero *s. NULL-safe. */
void ss_spectrogram_free(ss_spectrogram *s);

/* Centre frequency of bin k in Hz. */
double ss_spectrogram_bin_hz(const ss_spectrogram *s, size_t k);

#endif
