/* Tempo, beats and metre from mono audio: onset novelty, periodicity with a tempo prior, DP beat tracking. */
#ifndef SS_ANALYSIS_TEMPO_H
#define SS_ANALYSIS_TEMPO_H

#include <stddef.h>

#include "core/analysis/meter.h"
#include "core/analysis/onset.h"
#include "core/analysis/result.h"
#include "core/util/error.h"

typedef struct ss_tempo {
	double bpm;             /* beats per minute (> 0), NaN when there is no pulse */
	double confidence;      /* 0..1, separates clear from ambiguous rhythm */
	double *beats;          /* beat times in seconds, ascending; owned */
	size_t n_beats;
	int beats_per_bar;      /* tracked beats per bar: 2 to 7 (meter.h) */
	const char *time_signature; /* static "3/4", "4/4", "5/4", "6/8" or "7/4" (meter.h); NULL without a pulse */
	double time_signature_confidence; /* 0..1: how clearly the bar's length stands out (meter.h's confidence);
					   * 0 without downbeats or a pulse */
	double *downbeats;      /* bar starts in seconds, each equal to one of beats[]; owned; NULL when the
				 * bar lines cannot be told (identical beats, too few beats) */
	size_t n_downbeats;
	ss_bpm_candidate candidates[SS_BPM_CANDIDATES]; /* candidates[0].bpm == bpm, then the other readings */
	size_t n_candidates;    /* 0 without a pulse */
	double pulse_clarity;   /* 0..1: how strongly the novelty is periodic at the chosen tempo */
	double beat_regularity; /* 0..1: 1 = perfectly even beat intervals */
	double onset_density;   /* onsets per second detected in the novelty curve */
	/* kept for the parts of the music (ss_tempo_of_span, ss_tempo_meter_of_span); empty (zero) without a pulse: */
	ss_onset onset;         /* the onset analysis the beats were tracked on; owned */
	size_t *beat_frames;    /* the beats as frames of onset (n_frames_beats of them, ascending); owned */
	size_t n_frames_beats;
	ss_meter meter;         /* the metre of every beat (time_signature above is its time_signature) */
	double confidence_scale; /* what confidence was scaled by (1, or less for a pulse found in slow rises) */
} ss_tempo;

/* Analyse n mono samples at sr Hz (any rate from 8 kHz up). Returns 0 and fills *out (free with
 * ss_tempo_free), or -1 with err (SS_ERR_NOMEM). A signal with no pulse (silence, stationary noise, a steady
 * tone or chord, a fraction of a second) is not an error: bpm is NaN, confidence 0, no beats. Music gets a tempo,
 * from the slow rises of its band energies at half the confidence when its notes have no sharp onsets.
 * Deterministic. */
int ss_tempo_analyze(const float *x, size_t n, double sr, ss_tempo *out, ss_error *err);

/* The tempo of a part of the music (a section), from its own onsets. */
typedef struct ss_span_tempo {
	double bpm;        /* the part's own tempo when it has one that is not another level of the track's beat (not
			    * within 4 % of 1, 2, 3, 1/2, 1/3, 3/2, 2/3, 4/3 or 3/4 times it, or of a multiple of those)
			    * with a confidence of at least TEMPO_SPAN_MOVE (tempo.c); else NaN: the track's tempo holds
			    * there */
	double confidence; /* 0..1: the track's confidence measure (periodicity at the tempo, and its margin over
			    * unrelated tempi) on the part's onsets, at bpm or else at the track's tempo; 0 when nothing
			    * in the part is periodic */
} ss_span_tempo;

/* The tempo of the part of t's music from start to end seconds (end may be HUGE_VAL). The whole track, a part
 * shorter than two beats of autocorrelation lag, and music without a pulse give NaN and the track's confidence.
 * Returns 0, or -1 with err (SS_ERR_NOMEM). Deterministic. */
int ss_tempo_of_span(const ss_tempo *t, double start, double end, ss_span_tempo *out, ss_error *err);

/* The bar starts (s) of t's music cut into parts that start at starts[0..n) (ascending, seconds; each part runs
 * to the next start, the last to the end), metres[i] being part i's ss_tempo_meter_of_span: in a part whose metre
 * is another time signature than the track's, with bar lines, that part's own bar lines; elsewhere the track's
 * downbeats. Each is one of t's beats, ascending. With no part departing, exactly t's downbeats. Fills *out
 * (malloc'd, owned by the caller; NULL without beats) and *n_out. Returns 0, or -1 with err (SS_ERR_NOMEM). Needs
 * t's beats. */
int ss_tempo_part_downbeats(const ss_tempo *t, const double *starts, const ss_meter *metres, size_t n, double **out,
			    size_t *n_out, ss_error *err);

/* The metre of the part of t's music from start to end seconds (a section; end may be HUGE_VAL) from the beats
 * inside it (ss_meter_of_span: the part's own metre where it is clear, else the whole's); out->phase is then an
 * index into t's beats (its first bar line where it has bar lines of its own). Without a pulse, the whole's
 * default metre. Returns 0, or -1 with err (SS_ERR_NOMEM). */
int ss_tempo_meter_of_span(const ss_tempo *t, double start, double end, ss_meter *out, ss_error *err);

/* ss_tempo_analyze with the work signal that ss_onset_work_signal made from the same x, n and sr (shared
 * with other stages instead of resampled again). */
int ss_tempo_analyze_work(const float *x, size_t n, double sr, const ss_work_signal *w, ss_tempo *out,
			  ss_error *err);

/* Free what t owns and zero it. NULL-safe. */
void ss_tempo_free(ss_tempo *t);

#endif
