/* Tuning estimate: deviation of the reference pitch from A440 in cents, from interpolated spectral peaks. */
#ifndef SS_ANALYSIS_TUNING_H
#define SS_ANALYSIS_TUNING_H

#include <stddef.h>

/* Running estimate: a magnitude-weighted circular mean of each peak's deviation from the nearest
 * equal-tempered semitone (A440 grid). Plain value, no resources; zero it with ss_tuning_init. */
typedef struct ss_tuning {
	double re, im;  /* sum of weight * (cos, sin)(2 pi deviation / 100 cents) */
	double weight;  /* sum of weights */
} ss_tuning;

/* Reset the estimate. */
void ss_tuning_init(ss_tuning *t);

/* Add the spectral peaks of one magnitude frame (n_bins values, bin k at k * bin_hz Hz) that lie between
 * fmin and fmax Hz and within 30 dB of the frame's strongest peak in that range. Peak frequencies are refined
 * by parabolic interpolation of the log magnitude. */
void ss_tuning_add_frame(ss_tuning *t, const float *mag, size_t n_bins, double bin_hz, double fmin, double fmax);

/* Estimated deviation in cents, in [-50, 50). 0 when no peaks were added or when their deviations do not
 * agree (resultant shorter than a tenth of the total weight, as for noise). */
double ss_tuning_cents(const ss_tuning *t);

#endif
