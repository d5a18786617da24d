#include "core/analysis/beats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ss_beats_track(const float *novelty, size_t n, double period, double tightness, size_t **beats,
		   size_t *n_beats, ss_error *err)
{
	*beats = NULL;
	*n_beats = 0;
	if (n < 2 || !(period > 1.0) || !isfinite(period) || period > (double)n)
		return 0;

	double sum = 0.0, sq = 0.0;
	for (size_t t = 0; t < n; t++) {
		sum += novelty[t];
		sq += (double)novelty[t] * novelty[t];
	}
	double mean = sum / (double)n;
	double sd = sqrt(fmax(0.0, sq / (double)n - mean * mean));
	if (!(sd > 0.0))
		return 0;

	double *local = malloc(n * sizeof *local);
	double *score = malloc(n * sizeof *score);
	long *back = malloc(n * sizeof *back);
	if (local == NULL || score == NULL || back == NULL) {
		free(local);
		free(score);
		free(back);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for beat tracking");
	}

	/* Local score: novelty / sd smoothed with a Gaussian of st. dev. period / 32. */
	double sig = period / 32.0;
	long hw = (long)ceil(4.0 * sig);
	if (hw > 64)
		hw = 64;
	double kern[129];
	for (long d = -hw; d <= hw; d++)
		kern[d + hw] = exp(-0.5 * ((double)d / sig) * ((double)d / sig));
	for (size_t t = 0; t < n; t++) {
		double acc = 0.0;
		for (long d = -hw; d <= hw; d++) {
			long u = (long)t + d;
			if (u >= 0 && u < (long)n)
				acc += kern[d + hw] * novelty[u];
		}
		local[t] = acc / sd;
	}

	/* Cumulative score with a log-Gaussian transition penalty over [t - 2P, t - P/2]. */
	long pmin = (long)lround(period / 2.0), pmax = (long)lround(2.0 * period);
	if (pmin < 1)
		pmin = 1;
	double *pen = malloc((size_t)(pmax + 1) * sizeof *pen);
	if (pen == NULL) {
		free(local);
		free(score);
		free(back);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for beat tracking");
	}
	for (long d = pmin; d <= pmax; d++) {
		double lr = log((double)d / period);
		pen[d] = tightness * lr * lr;
	}
	for (size_t t = 0; t < n; t++) {
		double best = -INFINITY;
		long arg = -1;
		for (long d = pmin; d <= pmax && d <= (long)t; d++) {
			double s = score[(long)t - d] - pen[d];
			if (s > best) {
				best = s;
				arg = (long)t - d;
			}
		}
		if (arg >= 0 && best > 0.0) {
			score[t] = local[t] + best;
			back[t] = arg;
		} else {
			score[t] = local[t];
			back[t] = -1;
		}
	}

	free(pen);

	/* The last beat: best cumulative score in the final period. */
	size_t from = n > (size_t)pmax ? n - (size_t)lround(period) : 0;
	size_t last = from;
	for (size_t t = from; t < n; t++)
		if (score[t] > score[last])
			last = t;
	size_t count = 0;
	for (long t = (long)last; t >= 0; t = back[t])
		count++;
	size_t *out = malloc(count * sizeof *out);
	if (out == NULL) {
		free(local);
		free(score);
		free(back);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for beat list");
	}
	size_t i = count;
	for (long t = (long)last; t >= 0; t = back[t])
		out[--i] = (size_t)t;

	/* Trim weak beats at both ends (silence before the music starts or after it stops). */
	double ms = 0.0;
	for (size_t k = 0; k < count; k++)
		ms += local[out[k]] * local[out[k]];
	double thr = 0.5 * sqrt(ms / (double)count);
	size_t lo = 0, hi = count;
	while (lo < hi && local[out[lo]] < thr)
		lo++;
	while (hi > lo && local[out[hi - 1]] < thr)
		hi--;
	memmove(out, out + lo, (hi - lo) * sizeof *out);
	count = hi - lo;
	free(local);
	free(score);
	free(back);
	if (count == 0) {
		free(out);
		out = NULL;
	}
	*beats = out;
	*n_beats = count;
	return 0;
}
