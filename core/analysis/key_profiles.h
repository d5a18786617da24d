/* Major/minor key profiles (published pitch-class weights) and their correlation with a chroma vector. */
#ifndef SS_ANALYSIS_KEY_PROFILES_H
#define SS_ANALYSIS_KEY_PROFILES_H

#include "core/analysis/key.h"

/* Number of candidate keys: 12 major (index 0..11) then 12 minor (12..23), tonic C first. */
#define SS_KEY_PROFILE_KEYS 24

/* Pitch-class weights of a profile, tonic first (major[0] is the tonic of a major key). Returns 0 and points
 * *major and *minor at static tables of 12 values, or -1 for an unknown id. */
int ss_key_profile_tables(ss_key_profile_id profile, const double **major, const double **minor);

/* Pearson correlation of chroma (12 values, C first) with the profile rotated to each of the 24 keys:
 * scores[k] for k < 12 is the major key with tonic k, scores[12 + k] the minor key with tonic k.
 * A flat chroma (zero variance) gives 0 for every key. Returns 0, or -1 for an unknown profile id. */
int ss_key_profile_correlate(ss_key_profile_id profile, const double chroma[12], double scores[SS_KEY_PROFILE_KEYS]);

/* Pearson correlation of chroma (12 values, C first) with weights (12 values, tonic first) rotated to tonic 0..11,
 * as ss_key_profile_correlate does for its tables: for a profile of one's own (a variant of a table). 0 when either
 * is flat. */
double ss_key_profile_correlate_at(const double chroma[12], const double weights[12], int tonic);

#endif
