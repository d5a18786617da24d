#include "core/analysis/tuning.h"

#include <math.h>

void ss_tuning_init(ss_tuning *t)
{
	t->re = t->im = t->weight = 0.0;
}

void ss_tuning_add_frame(ss_tuning *t, const float *mag, size_t n_bins, double bin_hz, double fmin, double fmax)
{
	if (n_bins < 3 || bin_hz <= 0.0)
		return;
	size_t lo = (size_t)ceil(fmin / bin_hz);
	size_t hi = (size_t)floor(fmax / bin_hz);
	if (lo < 1)
		lo = 1;
	if (hi > n_bins - 2)
		hi = n_bins - 2;
	if (lo > hi)
		return;
	float peak = 0.0f;
	for (size_t k = lo; k <= hi; k++)
		if (mag[k] > peak)
			peak = mag[k];
	if (!(peak > 1e-9f))
		return;
	const float floor_mag = peak * 0.03f; /* -30 dB */
	for (size_t k = lo; k <= hi; k++) {
		float b = mag[k];
		if (b < floor_mag || b <= mag[k - 1] || b < mag[k + 1])
			continue;
		/* single precision is ample for a fraction of a bin and a few cents, and three times cheaper */
		float la = logf(mag[k - 1] + 1e-12f), lb = logf(b + 1e-12f), lc = logf(mag[k + 1] + 1e-12f);
		double den = (double)la - 2.0 * (double)lb + (double)lc;
		double delta = den < 0.0 ? 0.5 * ((double)la - (double)lc) / den : 0.0;
		if (delta > 0.5)
			delta = 0.5;
		else if (delta < -0.5)
			delta = -0.5;
		double f = ((double)k + delta) * bin_hz;
		if (f <= 0.0)
			continue;
		double cents = 1200.0 * log2(f / 440.0);
		double dev = cents - 100.0 * floor(cents / 100.0 + 0.5);
		double ang = 2.0 * M_PI * dev / 100.0;
		double w = (double)b;
		if (!isfinite(w) || !isfinite(delta))
			continue;
		const float a = (float)ang; /* cosf and sinf of one angle: the compiler makes one sincosf call */
		t->re += w * (double)cosf(a);
		t->im += w * (double)sinf(a);
		t->weight += w;
	}
}

double ss_tuning_cents(const ss_tuning *t)
{
	if (!(t->weight > 0.0) || !isfinite(t->weight) || !isfinite(t->re) || !isfinite(t->im))
		return 0.0;
	double len = sqrt(t->re * t->re + t->im * t->im);
	if (len < 0.1 * t->weight)
		return 0.0;
	double c = atan2(t->im, t->re) * 100.0 / (2.0 * M_PI);
	if (c >= 50.0)
		c -= 100.0;
	if (c < -50.0)
		c += 100.0;
	return c;
}
