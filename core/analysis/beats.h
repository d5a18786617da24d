/* Dynamic-programming beat tracking (after Ellis 2007): the beat sequence that best trades onset strength
 * against deviation from a given beat period. */
#ifndef SS_ANALYSIS_BEATS_H
#define SS_ANALYSIS_BEATS_H

#include <stddef.h>

#include "core/util/error.h"

/* Track beats in novelty[0..n) (frames, >= 0) for a beat period of `period` frames (> 1); `tightness`
 * weighs tempo deviation (about 100). Weak beats before the first and after the last clear onset are
 * dropped. Stores malloc'd ascending frame indices in *beats (caller frees; NULL when none) and their count
 * in *n_beats. Returns 0, or -1 with err (SS_ERR_NOMEM). */
int ss_beats_track(const float *novelty, size_t n, double period, double tightness, size_t **beats,
		   size_t *n_beats, ss_error *err);

#endif
