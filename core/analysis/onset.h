/* Onset novelty for tempo and beat tracking: log-compressed mel-band spectral flux, half-wave rectified and
 * with its local mean removed. */
#ifndef SS_ANALYSIS_ONSET_H
#define SS_ANALYSIS_ONSET_H

#include <stddef.h>

#include "core/util/error.h"

typedef struct ss_onset {
	float *novelty;    /* n_frames values >= 0; owned */
	float *bands;      /* n_frames * n_bands log-compressed band energies, frame-major; owned */
	size_t n_frames;   /* frame t is centred on t / frame_rate seconds */
	size_t n_bands;
	double frame_rate; /* frames per second (about 86 at any sample rate) */
	double lead;       /* seconds by which the novelty peaks before the onset (half the window): an onset
			      at frame t happened at t / frame_rate + lead */
} ss_onset;

/* The signal the onset analysis works on: above about 5.8 kHz (so always, for accepted rates) the input
 * resampled to 5512.5 Hz (libsoxr, low quality: a band-limited filter with a passband to about 2.5 kHz),
 * else the input itself. Other stages that need no more bandwidth (the key, whose chroma ends below 2 kHz)
 * can share it. */
typedef struct ss_work_signal {
	float *x;  /* n samples at sr Hz, owned; NULL when the input is used as it is */
	size_t n;  /* samples of x, or of the input when x is NULL */
	double sr; /* rate of x, or of the input when x is NULL */
	int src_finite; /* 1: the input was checked and holds only finite samples */
} ss_work_signal;

/* Fill *w for n mono samples of x at sr Hz (sr >= 1000; non-finite samples count as silence). Returns 0 (free
 * with ss_work_signal_free), or -1 with err (SS_ERR_NOMEM, SS_ERR_INTERNAL for a bad rate). */
int ss_onset_work_signal(const float *x, size_t n, double sr, ss_work_signal *w, ss_error *err);

/* Free what w owns and zero it. NULL-safe. */
void ss_work_signal_free(ss_work_signal *w);

/* ss_onset_analyze with the work signal w that ss_onset_work_signal made from the same x, n and sr. */
int ss_onset_analyze_work(const float *x, size_t n, double sr, const ss_work_signal *w, ss_onset *out,
			  ss_error *err);

/* Novelty of n mono samples at sr Hz (sr >= 1000). Memory is bounded by the signal length: the spectrum is
 * computed in blocks, only band energies are kept. Non-finite samples count as silence. Returns 0 and fills
 * *out (free with ss_onset_free), or -1 with err (SS_ERR_NOMEM, SS_ERR_INTERNAL for a bad rate). */
int ss_onset_analyze(const float *x, size_t n, double sr, ss_onset *out, ss_error *err);

/* Number of onsets in the novelty: local maxima above an adaptive threshold, at least 50 ms apart. */
size_t ss_onset_count(const ss_onset *o);

/* Free what o owns and zero it. NULL-safe. */
void ss_onset_free(ss_onset *o);

#endif
