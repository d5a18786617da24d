#include "core/analysis/signal.h"

/* Lanes per chunk: eight floats, four doubles twice; a constant inner trip count lets -O2 vectorise. The
 * lanes are summed in a fixed order at the end, so results do not depend on the compiler. */
#define LANES 8

/* v - v is 0 for finite v and NaN for NaN and +-Inf: a branch-free finite test. */
static inline int finite_f(float v)
{
	return v - v == 0.0f;
}

int ss_signal_all_finite(const float *x, size_t n)
{
	int ok = 1;
	size_t i = 0;
	for (; i + LANES <= n; i += LANES) {
		int c = 1;
		for (size_t k = 0; k < LANES; k++)
			c &= finite_f(x[i + k]);
		ok &= c;
		if (!ok)
			return 0;
	}
	for (; i < n; i++)
		ok &= finite_f(x[i]);
	return ok;
}

static double lanes_sum(const double acc[LANES])
{
	double s = 0.0;
	for (size_t k = 0; k < LANES; k++)
		s += acc[k];
	return s;
}

double ss_signal_energy(const float *x, size_t n)
{
	/* One pass without conditions (it vectorises); squares of finite floats cannot overflow a double, so
	 * a non-finite total means non-finite input, which a second, conditional pass then skips. */
	double acc[LANES] = {0.0};
	size_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (size_t k = 0; k < LANES; k++)
			acc[k] += (double)x[i + k] * (double)x[i + k];
	for (size_t k = 0; i < n; i++, k++)
		acc[k] += (double)x[i] * (double)x[i];
	double s = lanes_sum(acc);
	if (s - s == 0.0)
		return s;
	for (size_t k = 0; k < LANES; k++)
		acc[k] = 0.0;
	for (size_t j = 0, k = 0; j < n; j++, k = (k + 1) % LANES) {
		float v = x[j];
		v = finite_f(v) ? v : 0.0f;
		acc[k] += (double)v * (double)v;
	}
	return lanes_sum(acc);
}

void ss_signal_subtract(float *x, size_t n, float d)
{
	size_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (size_t k = 0; k < LANES; k++)
			x[i + k] -= d;
	for (; i < n; i++)
		x[i] -= d;
}

double ss_signal_mean(const float *x, size_t n)
{
	if (n == 0)
		return 0.0;
	double acc[LANES] = {0.0};
	size_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (size_t k = 0; k < LANES; k++)
			acc[k] += (double)x[i + k];
	for (size_t k = 0; i < n; i++, k++)
		acc[k] += (double)x[i];
	return lanes_sum(acc) / (double)n;
}
