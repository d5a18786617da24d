/* Frame-level signal descriptors averaged over a clip: level, silence, zero crossings, spectral shape and flux.
 * One pass over the time signal and one over a shared magnitude spectrogram; no allocation. */
#ifndef SS_ANALYSIS_DESCRIPTORS_H
#define SS_ANALYSIS_DESCRIPTORS_H

#include <stddef.h>

#include "core/analysis/stft.h"

/* Frames quieter than this RMS (dBFS, a full-scale sine is -3 dBFS) count as silent; a clip without a
 * single louder frame is silence and is not analysed. */
#define SS_SILENCE_DBFS (-60.0)

typedef struct ss_frame_stats {
	size_t n_frames;          /* frames on the grid (same grid as the spectrogram: centred, hop apart) */
	size_t n_active;          /* frames at or above SS_SILENCE_DBFS */
	unsigned char *active;    /* NULL, or n_frames flags when the caller provided storage */
	double max_rms_dbfs;      /* RMS of the loudest frame, dBFS; -inf clamps to -200 */
	double silence_ratio;     /* 1 - n_active / n_frames */
	double zero_crossing_rate;/* mean over active frames of crossings per sample pair (0..1) */
} ss_frame_stats;

/* Time-domain statistics of x (n samples) on frames of frame_len samples centred every hop samples
 * (frame t covers [t*hop - frame_len/2, t*hop + frame_len/2) clipped to the signal; 1 + n/hop frames).
 * A crossing is a sign change between neighbours with x >= 0 counting as positive.
 * If active is non-NULL it must hold 1 + n/hop bytes and receives 1 for active frames. */
void ss_frame_stats_compute(const float *x, size_t n, size_t frame_len, size_t hop, unsigned char *active,
			    ss_frame_stats *out);

typedef struct ss_spectral_stats {
	double centroid;   /* Hz: mean over active frames of sum(f_k S_k) / sum(S_k) */
	double flatness;   /* 0..1: mean over active frames of geometric / arithmetic mean of the power spectrum
			    * (bins above 40 Hz); ~0 for a pure tone, ~0.5..0.6 for white noise under a Hann window */
	double flux;       /* 0..1: mean over consecutive active frames of sum_k max(0, p_t(k) - p_{t-1}(k)) with
			    * p_t = S_t / sum(S_t), i.e. the share of the spectrum that is new; level-independent */
	double hf_ratio;   /* 0..1: share of the power above 4 kHz over active frames */
} ss_spectral_stats;

/* Spectral statistics of a magnitude spectrogram over the frames flagged in active (n_frames bytes, may be
 * NULL for all frames). Values are NaN when no frame is active. */
void ss_spectral_stats_compute(const ss_spectrogram *s, const unsigned char *active, ss_spectral_stats *out);

#endif
