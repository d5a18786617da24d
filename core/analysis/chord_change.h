/* Harmonic change at beats: how much the chroma of each beat differs from the one before (the chord-change
 * cue of Goto and Muraoka 1999 used as metrical evidence). */
#ifndef SS_ANALYSIS_CHORD_CHANGE_H
#define SS_ANALYSIS_CHORD_CHANGE_H

#include <stddef.h>

#include "core/util/error.h"

/* Chroma of each beat interval [beats[i], beats[i+1]) of n mono samples x at sr Hz (the onset work signal, a
 * rate of at least 4 kHz), and in dist[i] (0 <= i < nb - 2) the cosine distance (0..1) between the chroma of
 * interval i and of interval i + 1, i.e. the harmonic change at beats[i + 1]; NaN where either interval is
 * silent. beats in seconds, ascending; dist holds nb - 2 values (nothing is written when nb < 3). Returns 0, or
 * -1 with err (SS_ERR_NOMEM; SS_ERR_INTERNAL for a bad rate). Deterministic. */
int ss_chord_change_at_beats(const float *x, size_t n, double sr, const double *beats, size_t nb, double *dist,
			     ss_error *err);

#endif
