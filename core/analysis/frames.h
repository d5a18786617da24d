/* Per-frame measurements of the descriptor STFT that the audio-analysis timeline (segments.h, sections.h) reads:
 * each frame's level, its 24 mel-band levels and its power in the 12 pitch classes. */
#ifndef SS_ANALYSIS_FRAMES_H
#define SS_ANALYSIS_FRAMES_H

#include <stddef.h>

#include "core/analysis/stft.h"
#include "core/util/error.h"

#define SS_FRAME_BANDS 24
#define SS_FRAME_FLOOR_DB (-60.0)      /* a frame's level never reads below this (Spotify's silence) */
#define SS_FRAME_BAND_FLOOR_DB (-80.0) /* nor does a band's */

typedef struct ss_frames {
	size_t n;         /* frames, >= 1 */
	double hop_s;     /* s between frame centres; frame t is centred on t * hop_s */
	double span_s;    /* s each frame spans */
	double *level;    /* n: dBFS (mean square; a full-scale sine reads -3.01), SS_FRAME_FLOOR_DB..0 */
	float *band;      /* n * SS_FRAME_BANDS: mel-band levels, dB on the same scale, from SS_FRAME_BAND_FLOOR_DB;
			   * triangular bands equally spaced in mel between 40 Hz and 10 kHz, lowest first */
	float *pitch;     /* n * 12: power in each pitch class C..B between C3 and B6 (a bin's power shared between
			   * the two semitones around it, linear in cents), on an arbitrary linear scale */
} ss_frames;

/* The measurements of the magnitude spectrogram s (ss_stft_magnitude, power 0, at least one frame, a periodic Hann
 * window). Returns 0 and fills *out (free with ss_frames_free), or -1 with err (SS_ERR_NOMEM; SS_ERR_INTERNAL for
 * a spectrogram that is empty or holds powers) and *out zeroed. Deterministic. */
int ss_frames_compute(const ss_spectrogram *s, ss_frames *out, ss_error *err);

/* Where frame t's span starts, in s (0 for a span that starts before the signal): where a segment or section
 * whose first frame is t starts. t < f->n. */
double ss_frames_span_start(const ss_frames *f, size_t t);

/* The level of frames [a, b) together (a < b <= f->n): dBFS of their mean power, SS_FRAME_FLOOR_DB..0. */
double ss_frames_mean_level(const ss_frames *f, size_t a, size_t b);

/* Free what f owns and zero it. NULL-safe. */
void ss_frames_free(ss_frames *f);

#endif
