#include "core/analysis/descriptors.h"

#include <math.h>
#include <string.h>

#include "core/analysis/signal.h"

/* Number of i in 1..n-1 where x[i] and x[i - 1] lie on different sides of zero (0 counts as positive). */
static size_t sign_changes(const float *x, size_t n)
{
	unsigned c[8] = {0};
	size_t i = 1;
	for (; i + 8 <= n; i += 8)
		for (size_t k = 0; k < 8; k++)
			c[k] += (x[i + k] >= 0.0f) != (x[i + k - 1] >= 0.0f);
	size_t total = 0;
	for (; i < n; i++)
		total += (x[i] >= 0.0f) != (x[i - 1] >= 0.0f);
	for (size_t k = 0; k < 8; k++)
		total += c[k];
	return total;
}

void ss_frame_stats_compute(const float *x, size_t n, size_t frame_len, size_t hop, unsigned char *active,
			    ss_frame_stats *out)
{
	memset(out, 0, sizeof *out);
	out->n_frames = 1 + n / hop;
	out->active = active;
	const double thr = pow(10.0, SS_SILENCE_DBFS / 10.0); /* mean-square threshold */
	double max_ms = 0.0, zcr_sum = 0.0;
	const size_t half = frame_len / 2;
	for (size_t t = 0; t < out->n_frames; t++) {
		size_t c = t * hop;
		size_t a = c > half ? c - half : 0;
		size_t b = c + half < n ? c + half : n;
		double ss = ss_signal_energy(x + a, b - a);
		size_t crossings = b > a ? sign_changes(x + a, b - a) : 0;
		/* the frame is frame_len long; zero padding past the ends counts as silence */
		double ms = ss / (double)frame_len;
		if (ms > max_ms)
			max_ms = ms;
		int on = ms >= thr && b > a + 1;
		if (active != NULL)
			active[t] = (unsigned char)on;
		if (on) {
			out->n_active++;
			zcr_sum += (double)crossings / (double)(b - a - 1);
		}
	}
	out->max_rms_dbfs = max_ms > 1e-20 ? 10.0 * log10(max_ms) : -200.0;
	out->silence_ratio = 1.0 - (double)out->n_active / (double)out->n_frames;
	out->zero_crossing_rate = out->n_active > 0 ? zcr_sum / (double)out->n_active : NAN;
}

/* Row loops below keep SUM_LANES partial sums in double (a constant inner trip count, which -O2
 * vectorises) and add them in a fixed order. */
#define SUM_LANES 8

static double lanes_total(const double acc[SUM_LANES])
{
	double s = 0.0;
	for (size_t k = 0; k < SUM_LANES; k++)
		s += acc[k];
	return s;
}

/* *sum = sum of m[k], *weighted = sum of k * m[k], k < n. */
static void row_sums(const float *m, size_t n, double *sum, double *weighted)
{
	double s[SUM_LANES] = {0.0}, w[SUM_LANES] = {0.0};
	size_t k = 0;
	for (; k + SUM_LANES <= n; k += SUM_LANES)
		for (size_t j = 0; j < SUM_LANES; j++) {
			s[j] += (double)m[k + j];
			w[j] += (double)m[k + j] * (double)(k + j);
		}
	for (size_t j = 0; k < n; k++, j++) {
		s[j] += (double)m[k];
		w[j] += (double)m[k] * (double)k;
	}
	*sum = lanes_total(s);
	*weighted = lanes_total(w);
}

/* Sum over k < n of max(0, cur[k] * a1 - prev[k] * a0): the rise of the normalised spectrum. */
static double rise_sum(const float *cur, const float *prev, size_t n, double a1, double a0)
{
	double s[SUM_LANES] = {0.0};
	size_t k = 0;
	for (; k + SUM_LANES <= n; k += SUM_LANES)
		for (size_t j = 0; j < SUM_LANES; j++) {
			double d = (double)cur[k + j] * a1 - (double)prev[k + j] * a0;
			s[j] += d > 0.0 ? d : 0.0;
		}
	for (size_t j = 0; k < n; k++, j++) {
		double d = (double)cur[k] * a1 - (double)prev[k] * a0;
		s[j] += d > 0.0 ? d : 0.0;
	}
	return lanes_total(s);
}

/* Natural log of the product over k < n of q_k = (m[k]^2 + floor_p) * inv, for the geometric mean. Every q_k
 * lies in [1e-10, n] for the callers' floor and inv, so a product of eight of them per lane cannot under- or
 * overflow a double; after each chunk of eight bins per lane the lane products are renormalised with frexp
 * (one log per row instead of one per bin). */
static double log_product(const float *m, size_t n, double floor_p, double inv)
{
	double mant[SUM_LANES], prod[SUM_LANES];
	long exps = 0;
	for (size_t j = 0; j < SUM_LANES; j++)
		mant[j] = prod[j] = 1.0;
	size_t k = 0, chunks = 0;
	for (; k + SUM_LANES <= n; k += SUM_LANES) {
		for (size_t j = 0; j < SUM_LANES; j++)
			prod[j] *= ((double)m[k + j] * (double)m[k + j] + floor_p) * inv;
		if (++chunks == 8) {
			for (size_t j = 0; j < SUM_LANES; j++) {
				int e;
				mant[j] = frexp(mant[j] * prod[j], &e);
				exps += e;
				prod[j] = 1.0;
			}
			chunks = 0;
		}
	}
	for (size_t j = 0; k < n; k++, j++)
		prod[j] *= ((double)m[k] * (double)m[k] + floor_p) * inv;
	double logsum = (double)exps * M_LN2;
	for (size_t j = 0; j < SUM_LANES; j++)
		logsum += log(mant[j]) + log(prod[j]);
	return logsum;
}

void ss_spectral_stats_compute(const ss_spectrogram *s, const unsigned char *active, ss_spectral_stats *out)
{
	out->centroid = out->flatness = out->flux = out->hf_ratio = NAN;
	const size_t nb = s->n_bins;
	const double bin_hz = s->sr / (double)s->n_fft;
	size_t k_lo = (size_t)ceil(40.0 / bin_hz);
	if (k_lo < 1)
		k_lo = 1;
	if (k_lo > nb)
		k_lo = nb;
	size_t k_hf = (size_t)ceil(4000.0 / bin_hz);
	if (k_hf > nb)
		k_hf = nb;
	if (k_hf < k_lo)
		k_hf = k_lo;
	double c_sum = 0.0, f_sum = 0.0, x_sum = 0.0, hf_pow = 0.0, all_pow = 0.0;
	size_t n_act = 0, n_flux = 0;
	const float *prev = NULL;
	double prev_sum = 0.0;
	for (size_t t = 0; t < s->n_frames; t++) {
		const float *row = s->mag + t * nb;
		if (active != NULL && !active[t]) {
			prev = NULL;
			continue;
		}
		double msum, wsum, logsum;
		row_sums(row, nb, &msum, &wsum);
		if (!(msum > 0.0)) {
			prev = NULL;
			continue;
		}
		const double hsum = ss_signal_energy(row + k_hf, nb - k_hf);
		const double psum = ss_signal_energy(row + k_lo, k_hf - k_lo) + hsum;
		const size_t nflat = nb > k_lo ? nb - k_lo : 1;
		const double floor_p = psum / (double)nflat * 1e-10 + 1e-30;
		const double amean = psum / (double)nflat + floor_p;
		logsum = log_product(row + k_lo, nb - k_lo, floor_p, 1.0 / amean);
		double flat = exp(logsum / (double)nflat);
		n_act++;
		c_sum += wsum / msum * bin_hz;
		f_sum += flat > 1.0 ? 1.0 : flat;
		hf_pow += hsum;
		all_pow += psum;
		if (prev != NULL) {
			x_sum += rise_sum(row, prev, nb, 1.0 / msum, 1.0 / prev_sum);
			n_flux++;
		}
		prev = row;
		prev_sum = msum;
	}
	if (n_act > 0) {
		out->centroid = c_sum / (double)n_act;
		out->flatness = f_sum / (double)n_act;
		out->hf_ratio = all_pow > 0 ? hf_pow / all_pow : 0.0;
	}
	if (n_flux > 0)
		out->flux = x_sum / (double)n_flux;
	else if (n_act > 0)
		out->flux = 0.0;
}
