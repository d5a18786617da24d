#include "core/analysis/hpss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reflect an index into 0..n-1 the way scipy's "reflect" mode does: d c b a | a b c d | d c b a. */
static size_t reflect(long i, size_t n)
{
	const long nn = (long)n;
	for (;;) {
		if (i < 0)
			i = -i - 1;
		else if (i >= nn)
			i = 2 * nn - i - 1;
		else
			return (size_t)i;
	}
}

/* Sorted window of w floats: remove one value equal to old, insert nw, keep sorted. Positions are found by
 * counting (branch-free, vectorisable) rather than by searching; then one memmove. */
static inline void window_replace(float *win, size_t w, float old, float nw)
{
	size_t i = 0, k = 0;
	for (size_t j = 0; j < w; j++) {
		i += win[j] < old;
		k += win[j] < nw;
	}
	/* win[i] == old. nw > old: k counts old too, so k >= i + 1 and nw lands at k - 1 after removal.
	 * nw <= old: k <= i and nw lands at k. */
	if (k > i) {
		memmove(win + i, win + i + 1, (k - 1 - i) * sizeof *win);
		win[k - 1] = nw;
	} else {
		memmove(win + k + 1, win + k, (i - k) * sizeof *win);
		win[k] = nw;
	}
}

/* The kernel size the pipeline uses, with the loop bounds known to the compiler. */
static void window_replace_9(float *win, float old, float nw)
{
	window_replace(win, 9, old, nw);
}

static void window_replace_any(float *win, size_t w, float old, float nw)
{
	if (w == 9)
		window_replace_9(win, old, nw);
	else
		window_replace(win, w, old, nw);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Median-filter HPSS energy over an n_frames x n_bins magnitude matrix (frame-major). */
static int hpss_matrix(const float *mag, size_t nf, size_t nb, size_t time_kernel, size_t freq_kernel,
		       const unsigned char *active, size_t active_step, double *e_harm, double *e_all, ss_error *err)
{
	const size_t tw = time_kernel, th = time_kernel / 2, fw = freq_kernel, fh = freq_kernel / 2;
	float *wins = malloc(nb * tw * sizeof *wins);
	float *fwin = malloc(fw * sizeof *fwin);
	float *hrow = malloc(nb * sizeof *hrow);
	if (wins == NULL || fwin == NULL || hrow == NULL) {
		free(wins);
		free(fwin);
		free(hrow);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for HPSS");
	}
	/* Time windows for frame 0: frames -th..th reflected. */
	for (size_t k = 0; k < nb; k++) {
		float *w = wins + k * tw;
		for (size_t j = 0; j < tw; j++)
			w[j] = mag[reflect((long)j - (long)th, nf) * nb + k];
		qsort(w, tw, sizeof *w, cmp_float);
	}
	double eh = 0.0, ea = 0.0;
	for (size_t t = 0; t < nf; t++) {
		if (t > 0) {
			/* slide every bin's window from frame t-1 to t */
			const float *old_row = mag + reflect((long)t - 1 - (long)th, nf) * nb;
			const float *new_row = mag + reflect((long)t + (long)th, nf) * nb;
			for (size_t k = 0; k < nb; k++)
				window_replace_any(wins + k * tw, tw, old_row[k], new_row[k]);
		}
		if (active != NULL && !active[t * active_step])
			continue;
		for (size_t k = 0; k < nb; k++)
			hrow[k] = wins[k * tw + th];
		/* frequency median along this frame, sliding over bins */
		const float *row = mag + t * nb;
		for (size_t j = 0; j < fw; j++)
			fwin[j] = row[reflect((long)j - (long)fh, nb)];
		qsort(fwin, fw, sizeof *fwin, cmp_float);
		for (size_t k = 0; k < nb; k++) {
			if (k > 0)
				window_replace_any(fwin, fw, row[reflect((long)k - 1 - (long)fh, nb)],
					       row[reflect((long)k + (long)fh, nb)]);
			double h = hrow[k], p = fwin[fh], x = row[k];
			double h2 = h * h, p2 = p * p, x2 = x * x;
			double mh = h2 + p2 > 0.0 ? h2 / (h2 + p2) : 0.5;
			eh += mh * x2;
			ea += x2;
		}
	}
	free(wins);
	free(fwin);
	free(hrow);
	*e_harm = eh;
	*e_all = ea;
	return 0;
}

int ss_hpss_energy(const ss_spectrogram *s, size_t pool_frames, size_t pool_bins, size_t time_kernel,
		   size_t freq_kernel, const unsigned char *active, double *harmonic, double *percussive, ss_error *err)
{
	*harmonic = *percussive = NAN;
	if (time_kernel < 3 || (time_kernel & 1) == 0 || freq_kernel < 3 || (freq_kernel & 1) == 0 ||
	    time_kernel > 255 || freq_kernel > 255 || pool_frames < 1 || pool_frames > 16 || pool_bins < 1 ||
	    pool_bins > 16)
		return ss_error_set(err, SS_ERR_INTERNAL, "bad HPSS parameters");
	if (s->n_bins == 0 || s->n_frames == 0)
		return 0;
	/* Pool cells (power sum over pool_frames frames and pool_bins bins) so the median filters see fewer. */
	const size_t nf = (s->n_frames + pool_frames - 1) / pool_frames, nb = s->n_bins / pool_bins;
	if (nb < 1)
		return 0;
	float *pooled = malloc(nf * nb * sizeof *pooled);
	if (pooled == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for HPSS");
	for (size_t t = 0; t < nf; t++) {
		float *o = pooled + t * nb;
		for (size_t k = 0; k < nb; k++)
			o[k] = 0.0f;
		for (size_t f = t * pool_frames; f < (t + 1) * pool_frames && f < s->n_frames; f++) {
			const float *r = s->mag + f * s->n_bins;
			for (size_t k = 0; k < nb; k++)
				for (size_t j = 0; j < pool_bins; j++)
					o[k] += r[k * pool_bins + j] * r[k * pool_bins + j];
		}
		for (size_t k = 0; k < nb; k++)
			o[k] = sqrtf(o[k]);
	}
	double eh = 0.0, ea = 0.0;
	int rc = hpss_matrix(pooled, nf, nb, time_kernel, freq_kernel, active, pool_frames, &eh, &ea, err);
	free(pooled);
	if (rc != 0)
		return -1;
	if (ea > 0.0) {
		*harmonic = eh / ea;
		*percussive = 1.0 - *harmonic;
	}
	return 0;
}
