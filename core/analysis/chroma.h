/* Chroma (12 pitch-class energies) from magnitude spectra, through a tuned semitone spectrum. */
#ifndef SS_ANALYSIS_CHROMA_H
#define SS_ANALYSIS_CHROMA_H

#include <stddef.h>

#include "core/util/error.h"

/* Most semitones a map can hold (more than the audible range). */
#define SS_CHROMA_MAX_SEMITONES 128

/* How a frame's spectrum becomes a chroma vector. Pitches are MIDI numbers (69 = A4). */
typedef struct ss_chroma_params {
	int midi_lo, midi_hi;     /* semitone range analysed, inclusive */
	int bass_split;           /* pitches below this are "bass" */
	double bass_weight;       /* weight of bass pitches in the chroma (treble pitches weigh 1) */
	int use_max;              /* 1: a semitone is the largest weighted bin in it; 0: the sum of its bins */
	int power;                /* 1: magnitudes, 2: energies */
	double log_gamma;         /* > 0: compress with log(1 + gamma * s / frame max); 0: no compression */
	int whiten_half;          /* > 0: subtract the mean of +-whiten_half semitones and clip at 0 */
	double harmonics;         /* >= 0: strength of the removal of 3rd/5th/6th harmonics of lower pitches */
} ss_chroma_params;

/* The parameters chosen by measurement on labelled clips. */
void ss_chroma_params_default(ss_chroma_params *p);

/* Precomputed mapping from FFT bins to tuned semitones. Owns its arrays. */
typedef struct ss_chroma_map {
	ss_chroma_params p;
	size_t bin_lo, bin_hi;  /* bins [bin_lo, bin_hi) are used */
	int *semitone;          /* per used bin: semitone index 0..n_semitones-1 */
	float *weight;          /* per used bin: weight of that bin in its semitone */
	int n_semitones;        /* midi_hi - midi_lo + 1, possibly fewer below Nyquist */
	double *flat;           /* per semitone: 1 / its response to a flat spectrum, so that a flat spectrum
				 * gives a flat semitone spectrum whatever the alignment of bins and semitones */
	double *work;           /* n_semitones scratch values */
} ss_chroma_map;

/* Build the mapping for spectra of n_bins bins spaced bin_hz Hz apart, with the reference tuned by
 * tuning_cents away from A440. Semitones above the Nyquist frequency are dropped. Returns 0 and fills *m
 * (free with ss_chroma_map_free), or -1 with err (SS_ERR_NOMEM; SS_ERR_INTERNAL for bad parameters or a
 * spectrum that covers no semitone). */
int ss_chroma_map_init(ss_chroma_map *m, size_t n_bins, double bin_hz, double tuning_cents,
		       const ss_chroma_params *p, ss_error *err);

/* Free the map's arrays and zero it. NULL-safe. */
void ss_chroma_map_free(ss_chroma_map *m);

/* Chroma of one magnitude frame (the n_bins given to ss_chroma_map_init), C first, added to chroma[12]
 * after scaling so that its largest value is 1. Returns the frame's energy in the analysed band (sum of
 * squared magnitudes); a frame with no energy adds nothing. Not thread-safe per map (uses its scratch). */
double ss_chroma_add_frame(ss_chroma_map *m, const float *mag, double chroma[12]);

#endif
