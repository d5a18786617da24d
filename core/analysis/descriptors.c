#include "core/analysis/descriptors.h"

#include <math.h>
#include <string.h>

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
		double ss = 0.0;
		size_t crossings = 0;
		for (size_t i = a; i < b; i++) {
			ss += (double)x[i] * (double)x[i];
			if (i > a && ((x[i] >= 0.0f) != (x[i - 1] >= 0.0f)))
				crossings++;
		}
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

void ss_spectral_stats_compute(const ss_spectrogram *s, const unsigned char *active, ss_spectral_stats *out)
{
	out->centroid = out->flatness = out->flux = out->hf_ratio = NAN;
	const size_t nb = s->n_bins;
	const double bin_hz = s->sr / (double)s->n_fft;
	size_t k_lo = (size_t)ceil(40.0 / bin_hz);
	if (k_lo < 1)
		k_lo = 1;
	size_t k_hf = (size_t)ceil(4000.0 / bin_hz);
	if (k_hf > nb)
		k_hf = nb;
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
		double msum = 0.0, wsum = 0.0, psum = 0.0, hsum = 0.0, logsum = 0.0;
		for (size_t k = 0; k < nb; k++) {
			double m = row[k];
			msum += m;
			wsum += m * (double)k;
		}
		if (!(msum > 0.0)) {
			prev = NULL;
			continue;
		}
		for (size_t k = k_lo; k < nb; k++) {
			double p = (double)row[k] * (double)row[k];
			psum += p;
			if (k >= k_hf)
				hsum += p;
		}
		/* Geometric mean as the log of a product of normalised values q = (p + floor) / mean, each in
		 * [1e-10, nflat]: eight at a time cannot under- or overflow a double, and one frexp per eight bins
		 * keeps the running product normalised (one log per frame instead of one per bin). */
		const size_t nflat = nb - k_lo;
		const double floor_p = psum / (double)nflat * 1e-10 + 1e-30;
		const double amean = psum / (double)nflat + floor_p;
		const double inv = 1.0 / amean;
		double mant = 1.0;
		long exps = 0;
		size_t k = k_lo;
		while (k < nb) {
			double prod = 1.0;
			size_t end = k + 8 < nb ? k + 8 : nb;
			for (; k < end; k++)
				prod *= ((double)row[k] * (double)row[k] + floor_p) * inv;
			int e;
			mant = frexp(mant * prod, &e);
			exps += e;
		}
		logsum = log(mant) + (double)exps * M_LN2;
		double flat = exp(logsum / (double)nflat);
		n_act++;
		c_sum += wsum / msum * bin_hz;
		f_sum += flat > 1.0 ? 1.0 : flat;
		hf_pow += hsum;
		all_pow += psum;
		if (prev != NULL) {
			double fl = 0.0;
			const double a1 = 1.0 / msum, a0 = 1.0 / prev_sum;
			for (size_t j = 0; j < nb; j++) {
				double d = (double)row[j] * a1 - (double)prev[j] * a0;
				fl += d > 0 ? d : 0.0;
			}
			x_sum += fl;
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
