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
	SS_KEY_PROFILE_COUNT
} ss_key_profile_id;

typedef struct ss_key {
	int key_index;        /* 0..11, C = 0; -1 when no tonal content */
	int mode;             /* 1 major, 0 minor; -1 when unknown */
	double confidence;    /* 0..1: a real margin between best and second-best key */
	ss_key_candidate top[SS_KEY_CANDIDATES]; /* the chosen key first, then by score; top[0] may score up to
						  * 0.02 below top[1] when the leading-tone rule chose it (key.c) */
	double tuning_cents;  /* deviation of the reference from A440 in cents, -50..50 */
	double chroma[12];    /* mean normalised chroma, C first */
	double tonal_strength;/* 0..1: correlation of the best key profile */
	const char *profile;  /* static name of the profile used */
} ss_key;

/* Analyse n mono samples at sr Hz with the given profile (SS_KEY_PROFILE_DEFAULT for the measured best).
 * Returns 0 and fills *out, or -1 with err (SS_ERR_NOMEM, SS_ERR_INTERNAL for a bad profile id).
 * Silence is not an error: key_index is -1 and confidence 0. Deterministic. */
int ss_key_analyze(const float *x, size_t n, double sr, ss_key_profile_id profile, ss_key *out, ss_error *err);

/* Static name of a profile ("krumhansl", "temperley", "edma", "tkp", "temperley+tkp"), or NULL for an unknown
 * id. */
const char *ss_key_profile_name(ss_key_profile_id profile);

#endif
