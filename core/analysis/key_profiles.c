#include "core/analysis/key_profiles.h"

#include <assert.h>
#include <math.h>

/* Krumhansl & Kessler (1982), probe-tone ratings. */
static const double krumhansl_major[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
static const double krumhansl_minor[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};

/* Temperley (1999, "What's key for key?"), revised Krumhansl-Schmuckler weights. */
static const double temperley_major[12] = {5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0};
static const double temperley_minor[12] = {5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0};

/* Faraldo, Gomez, Jorda & Herrera (2016, "Key estimation in electronic dance music"), the "edma" profiles
 * derived automatically from an EDM corpus. */
static const double edma_major[12] = {1.00, 0.29, 0.50, 0.40, 0.60, 0.56, 0.32, 0.80, 0.31, 0.45, 0.42, 0.39};
static const double edma_minor[12] = {1.00, 0.31, 0.44, 0.58, 0.33, 0.49, 0.29, 0.78, 0.43, 0.29, 0.53, 0.32};

/* Temperley (2007, "Music and Probability", ch. 4), the Kostka-Payne profiles: the share of segments of the
 * excerpts in Kostka & Payne's harmony textbook that contain each scale degree. Unlike the 1999 weights they
 * come from counting music, and their minor profile weighs the natural 7th (0.133) beside the raised one. */
static const double tkp_major[12] = {0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400};
static const double tkp_minor[12] = {0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330};

/* The mean of the Temperley (1999) and Kostka-Payne tables above, each first scaled to sum to 1 (rounded to
 * 6 places; tests/check_key.c recomputes it). */
static const double temperley_tkp_major[12] = {0.153018, 0.033039, 0.102920, 0.035630, 0.137339, 0.106117,
					       0.037279, 0.142638, 0.038221, 0.088554, 0.026193, 0.099051};
static const double temperley_tkp_minor[12] = {0.150041, 0.036015, 0.102112, 0.132312, 0.031831, 0.106933,
					       0.038525, 0.147732, 0.093745, 0.033983, 0.035378, 0.091393};

int ss_key_profile_tables(ss_key_profile_id profile, const double **major, const double **minor)
{
	switch (profile) {
	case SS_KEY_PROFILE_KRUMHANSL:
		*major = krumhansl_major;
		*minor = krumhansl_minor;
		return 0;
	case SS_KEY_PROFILE_TEMPERLEY:
		*major = temperley_major;
		*minor = temperley_minor;
		return 0;
	case SS_KEY_PROFILE_EDMA:
		*major = edma_major;
		*minor = edma_minor;
		return 0;
	case SS_KEY_PROFILE_TKP:
		*major = tkp_major;
		*minor = tkp_minor;
		return 0;
	case SS_KEY_PROFILE_TEMPERLEY_TKP:
	case SS_KEY_PROFILE_TEMPERLEY_TKP_KK: /* its own tables; the tonic vote is key.c's */
		*major = temperley_tkp_major;
		*minor = temperley_tkp_minor;
		return 0;
	default:
		return -1;
	}
}

double ss_key_profile_correlate_at(const double a[12], const double b[12], int tonic)
{
	assert(tonic >= 0 && tonic < 12);
	double ma = 0.0, mb = 0.0;
	for (int i = 0; i < 12; i++) {
		ma += a[i];
		mb += b[i];
	}
	ma /= 12.0;
	mb /= 12.0;
	double sab = 0.0, saa = 0.0, sbb = 0.0;
	for (int i = 0; i < 12; i++) {
		double da = a[(i + tonic) % 12] - ma;
		double db = b[i] - mb;
		sab += da * db;
		saa += da * da;
		sbb += db * db;
	}
	if (saa <= 0.0 || sbb <= 0.0)
		return 0.0;
	return sab / sqrt(saa * sbb);
}

int ss_key_profile_correlate(ss_key_profile_id profile, const double chroma[12], double scores[SS_KEY_PROFILE_KEYS])
{
	const double *major, *minor;
	if (ss_key_profile_tables(profile, &major, &minor) != 0)
		return -1;
	for (int k = 0; k < 12; k++) {
		scores[k] = ss_key_profile_correlate_at(chroma, major, k);
		scores[12 + k] = ss_key_profile_correlate_at(chroma, minor, k);
	}
	return 0;
}
