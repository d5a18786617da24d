/* Metre and downbeats from beat-synchronous accents: onset strength at the beat, low-band onset strength, and
 * the spectral change from the previous beat (harmony tends to change at bar lines), plus the division of the
 * beat (two or three onsets per beat). */
#ifndef SS_ANALYSIS_METER_H
#define SS_ANALYSIS_METER_H

#include <stddef.h>

#include "core/analysis/onset.h"
#include "core/util/error.h"

typedef struct ss_meter {
	int beats_per_bar;          /* tracked beats per bar: 2 (6/8 at the dotted quarter), 3, 4, 5, 6 (6/8 at the
				     * eighth note), 7 */
	size_t phase;               /* index of the first downbeat in the beat list (< beats_per_bar) */
	int has_downbeats;          /* 0: too few beats to place bar lines (phase is 0, the metre the default) */
	const char *time_signature; /* static "3/4", "4/4", "5/4", "6/8" or "7/4" */
	double confidence;          /* 0..1: how far the chosen bar's accent contrast stands above the best contrast
				     * of the bar lengths it rules out (those that share no beat grid with it), as
				     * 1 - that contrast / the chosen one; 0 without downbeats. It speaks for the bar's
				     * length, not for 3/4 against 6/8. */
} ss_meter;

/* Estimate the metre and the bar phase from the novelty and band energies in o and n_beats ascending beat
 * frames. Defaults (too few beats to tell): 4 beats per bar, "4/4", no downbeats. Returns 0, or -1 with err
 * (SS_ERR_NOMEM). Deterministic. */
int ss_meter_analyze(const ss_onset *o, const size_t *beats, size_t n_beats, ss_meter *out, ss_error *err);

/* The metre of a part of the music (a section) from its own n_beats beat frames, given whole, the metre of every
 * beat: the part's own metre when it has bar lines and either agrees with whole's time signature or departs from
 * it with a confidence of at least METER_SPAN_MOVE (meter.c); otherwise whole's bar length and time signature,
 * with the part's confidence when it agrees and 0 when its own accents point elsewhere. A part of fewer than
 * METER_MIN_BEATS beats (too short to tell) takes whole as it is. out->phase indexes beats; has_downbeats is the
 * part's own. Returns 0, or -1 with err (SS_ERR_NOMEM). Deterministic. */
int ss_meter_of_span(const ss_onset *o, const size_t *beats, size_t n_beats, const ss_meter *whole, ss_meter *out,
		     ss_error *err);

/* ss_meter_analyze's beats per bar alone. */
int ss_meter_estimate(const ss_onset *o, const size_t *beats, size_t n_beats, int *beats_per_bar,
		      ss_error *err);

#endif
