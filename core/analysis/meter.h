/* Metre (3 or 4 beats per bar) from beat-synchronous accents: onset strength at the beat, low-band onset
 * strength, and the spectral change from the previous beat (harmony tends to change at bar lines). */
#ifndef SS_ANALYSIS_METER_H
#define SS_ANALYSIS_METER_H

#include <stddef.h>

#include "core/analysis/onset.h"
#include "core/util/error.h"

/* Estimate beats per bar from the novelty and band energies in o and n_beats ascending beat frames.
 * Stores 3 or 4 in *beats_per_bar (4 when there are too few beats to tell). Returns 0, or -1 with err
 * (SS_ERR_NOMEM). */
int ss_meter_estimate(const ss_onset *o, const size_t *beats, size_t n_beats, int *beats_per_bar,
		      ss_error *err);

#endif
