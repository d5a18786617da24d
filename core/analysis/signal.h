/* Whole-signal scans shared by the analysis stages (finite check, energy, mean, offset). Each runs in fixed-size
 * chunks that the compiler vectorises, so a scan of 30 s costs a fraction of a millisecond. */
#ifndef SS_ANALYSIS_SIGNAL_H
#define SS_ANALYSIS_SIGNAL_H

#include <stddef.h>

/* 1 when every one of the n samples of x is finite (no NaN or infinity), else 0. 1 for n == 0. */
int ss_signal_all_finite(const float *x, size_t n);

/* Sum of x[i]^2 over the finite samples (non-finite ones count as 0), accumulated in double. 0 for n == 0. */
double ss_signal_energy(const float *x, size_t n);

/* Arithmetic mean of the n samples (double accumulation); 0 for n == 0. Non-finite input gives a non-finite
 * mean. */
double ss_signal_mean(const float *x, size_t n);

/* x[i] -= d for the n samples of x. */
void ss_signal_subtract(float *x, size_t n, float d);

#endif
