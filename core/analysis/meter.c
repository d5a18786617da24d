#include "core/analysis/meter.h"

#include <math.h>
#include <stdlib.h>

#define METER_MIN_BEATS 12
#define METER_LOW_BANDS 8
#define METER_FLOOR 0.03 /* features varying less than this (log-energy units) carry no accent */

/* Zero-mean, unit-variance v; all zero when v hardly varies (st. dev. below floor or 5 % of the mean), so
 * that jitter between identical beats cannot decide the metre. */
static void standardise(double *v, size_t n, double floor)
{
	double sum = 0.0, sq = 0.0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	double mean = sum / (double)n;
	for (size_t i = 0; i < n; i++)
		sq += (v[i] - mean) * (v[i] - mean);
	double sd = sqrt(sq / (double)n);
	int flat = !(sd > floor) || sd < 0.05 * fabs(mean);
	for (size_t i = 0; i < n; i++)
		v[i] = flat ? 0.0 : (v[i] - mean) / sd;
}

/* How much one phase of a bar of m beats stands out: best phase mean minus the mean of the rest. */
static double bar_contrast(const double *f, size_t n, size_t m)
{
	double best = -INFINITY;
	for (size_t ph = 0; ph < m; ph++) {
		double in = 0.0, out = 0.0;
		size_t nin = 0, nout = 0;
		for (size_t i = 0; i < n; i++) {
			if (i % m == ph) {
				in += f[i];
				nin++;
			} else {
				out += f[i];
				nout++;
			}
		}
		if (nin == 0 || nout == 0)
			continue;
		double c = in / (double)nin - out / (double)nout;
		if (c > best)
			best = c;
	}
	return best;
}

int ss_meter_estimate(const ss_onset *o, const size_t *beats, size_t n_beats, int *beats_per_bar,
		      ss_error *err)
{
	*beats_per_bar = 4;
	if (n_beats < METER_MIN_BEATS || o->n_frames == 0)
		return 0;
	size_t nb = o->n_bands;
	size_t nlow = nb < METER_LOW_BANDS ? nb : METER_LOW_BANDS;
	double *acc = malloc(n_beats * sizeof *acc);
	double *low = malloc(n_beats * sizeof *low);
	double *chg = malloc(n_beats * sizeof *chg);
	double *prev = malloc(nb * sizeof *prev);
	double *cur = malloc(nb * sizeof *cur);
	if (acc == NULL || low == NULL || chg == NULL || prev == NULL || cur == NULL) {
		free(acc);
		free(low);
		free(chg);
		free(prev);
		free(cur);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for metre");
	}
	size_t span = (size_t)-1;
	for (size_t i = 1; i < n_beats; i++)
		if (beats[i] - beats[i - 1] < span)
			span = beats[i] - beats[i - 1];
	if (span == 0)
		span = 1;
	for (size_t i = 0; i < n_beats; i++) {
		size_t b = beats[i];
		size_t a = b >= 2 ? b - 2 : 0, e = b + 3 < o->n_frames ? b + 3 : o->n_frames;
		/* sums over the window rather than peaks: a peak's height depends on where the onset falls
		 * between two frames, which for some tempi cycles every few beats and would fake a metre */
		double m = 0.0, lf = 0.0;
		for (size_t t = a; t < e; t++) {
			m += o->novelty[t];
			if (t == 0)
				continue;
			for (size_t k = 0; k < nlow; k++) {
				double d = (double)o->bands[t * nb + k] - (double)o->bands[(t - 1) * nb + k];
				if (d > 0.0)
					lf += d;
			}
		}
		acc[i] = m;
		low[i] = lf;

		/* Mean band spectrum over a fixed span from this beat (the shortest beat interval, so that spans
		 * of unequal length cannot fake accents), compared with the previous beat's. */
		size_t s0 = b, s1 = b + span;
		if (s1 > o->n_frames)
			s1 = o->n_frames;
		if (s1 <= s0)
			s1 = s0 + 1 <= o->n_frames ? s0 + 1 : s0;
		for (size_t k = 0; k < nb; k++)
			cur[k] = 0.0;
		for (size_t t = s0; t < s1; t++)
			for (size_t k = 0; k < nb; k++)
				cur[k] += o->bands[t * nb + k];
		double d = 0.0;
		for (size_t k = 0; k < nb; k++) {
			cur[k] /= (double)(s1 > s0 ? s1 - s0 : 1);
			if (i > 0)
				d += fabs(cur[k] - prev[k]);
			prev[k] = cur[k];
		}
		chg[i] = d / (double)nb;
	}
	chg[0] = chg[1];
	standardise(acc, n_beats, METER_FLOOR);
	standardise(low, n_beats, METER_FLOOR);
	standardise(chg, n_beats, METER_FLOOR);
	for (size_t i = 0; i < n_beats; i++)
		acc[i] = acc[i] + low[i] + chg[i];
	double c3 = bar_contrast(acc, n_beats, 3);
	double c4 = bar_contrast(acc, n_beats, 4);
	if (c3 > 0.5 && c3 > 1.2 * c4)
		*beats_per_bar = 3;
	free(acc);
	free(low);
	free(chg);
	free(prev);
	free(cur);
	return 0;
}
