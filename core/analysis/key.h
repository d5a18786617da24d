/* Musical key from mono audio: tuning estimate, chroma, correlation with major/minor key profiles. */
#ifndef SS_ANALYSIS_KEY_H
#define SS_ANALYSIS_KEY_H

#include <stddef.h>

#include "core/analysis/result.h"
#include "core/util/error.h"

typedef enum ss_key_profile_id {
	SS_KEY_PROFILE_DEFAULT = -1, /* the profile chosen by measurement */
	SS_KEY_PROFILE_KRUMHANSL = 0,
	SS_KEY_PROFILE_TEMPERLEY,
	SS_KEY_PROFILE_EDMA, /* EDM-oriented (Faraldo et al. 2016) */
	SS_KEY_PROFILE_TKP,  /* Temperley-Kostka-Payne (Temperley 2007), from a corpus of textbook excerpts */
	SS_KEY_PROFILE_TEMPERLEY_TKP, /* the mean of Temperley (1999) and Temperley-Kostka-Payne, each summing to 1 */
	SS_KEY_PROFILE_TEMPERLEY_TKP_KK, /* temperley+tkp, with Krumhansl-Kessler's vote on the tonic within a mode */
	SS_KEY_PROFILE_COUNT
} ss_key_profile_id;

typedef struct ss_key {
	int key_index;        /* 0..11, C = 0; -1 when no tonal content */
	int mode;             /* 1 major, 0 minor; -1 when unknown */
	double confidence;    /* 0..1: a real margin between best and second-best key */
	double mode_confidence; /* 0..1: the same measure of the margin between the best key and the best key of the
				 * other mode (major against minor); at least confidence */
	ss_key_candidate top[SS_KEY_CANDIDATES]; /* the chosen key first, then by score; top[0] may score up to
						  * 0.02 below top[1] when the leading-tone rule chose it (key.c) */
	double tuning_cents;  /* deviation of the reference from A440 in cents, -50..50 */
	double chroma[12];    /* mean normalised chroma, C first */
	double tonal_strength;/* 0..1: correlation of the best key profile */
	const char *profile;  /* static name of the profile used */
} ss_key;

/* The chroma of each analysis frame, kept so that the key of a part of the signal can be read afterwards
 * (ss_key_of_span) with the same estimator and profile as the whole. */
typedef struct ss_key_frames {
	double *chroma;           /* 12 values per frame (C first), each sounding frame max-normalised; owned */
	unsigned char *sounding;  /* 1 for a frame the estimate uses, 0 for a silent one; owned */
	size_t n;                 /* frames; frame t is centred at t * hop_s seconds */
	size_t cap;               /* frames allocated */
	double hop_s;             /* seconds between frame centres, > 0 once filled */
	ss_key_profile_id profile;/* the profile the whole was read with (never SS_KEY_PROFILE_DEFAULT) */
	double tuning_cents;      /* the whole signal's tuning estimate */
} ss_key_frames;

/* Analyse n mono samples at sr Hz with the given profile (SS_KEY_PROFILE_DEFAULT for the measured best).
 * Returns 0 and fills *out, or -1 with err (SS_ERR_NOMEM, SS_ERR_INTERNAL for a bad profile id).
 * Silence is not an error: key_index is -1 and confidence 0. Deterministic. */
int ss_key_analyze(const float *x, size_t n, double sr, ss_key_profile_id profile, ss_key *out, ss_error *err);

/* ss_key_analyze that also keeps each frame's chroma in *frames (owned by the caller afterwards:
 * ss_key_frames_free, also after an error). The same *out as ss_key_analyze. Memory: 97 bytes per 0.37 s of
 * signal. */
int ss_key_analyze_frames(const float *x, size_t n, double sr, ss_key_profile_id profile, ss_key *out,
			  ss_key_frames *frames, ss_error *err);

/* The key of the frames centred in [start, end) seconds, decided as the whole signal's is (same profile, tonality
 * gate and rules) from those frames' chroma, except that whole's key (the whole signal's result; NULL for none)
 * is favoured by a little correlation (KEY_SPAN_STAY in key.c, counted in the confidence too): fills *out
 * (tuning_cents is the whole signal's). A span holding every frame gives the whole signal's result exactly.
 * Fewer sounding frames than the whole needs (about 1.5 s), or a span outside the frames, give key_index -1 and
 * confidence 0. Allocates nothing; deterministic. */
void ss_key_of_span(const ss_key_frames *frames, double start, double end, const ss_key *whole, ss_key *out);

/* Free what frames owns and zero it. Safe on a zeroed struct. */
void ss_key_frames_free(ss_key_frames *frames);

/* Static name of a profile ("krumhansl", "temperley", "edma", "tkp", "temperley+tkp", "temperley+tkp+kk"), or
 * NULL for an unknown id. */
const char *ss_key_profile_name(ss_key_profile_id profile);

#endif
