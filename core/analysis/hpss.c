#include "core/analysis/hpss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

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

/* Element-wise medians with sorting networks on 4-float vectors: out[k] = median(r[0][k] .. r[w-1][k]).
 * A network is a fixed sequence of compare-exchanges, so four columns are ordered at once and there are no
 * data-dependent branches; the median is exact (the same value a sort picks). */
typedef float v4f __attribute__((vector_size(16)));

#if defined(__SSE__)
static inline v4f vmin(v4f a, v4f b)
{
	return (v4f)_mm_min_ps((__m128)a, (__m128)b);
}
static inline v4f vmax(v4f a, v4f b)
{
	return (v4f)_mm_max_ps((__m128)a, (__m128)b);
}
#else
typedef int v4i __attribute__((vector_size(16)));
static inline v4f vmin(v4f a, v4f b)
{
	v4i m = a < b;
	return (v4f)((m & (v4i)a) | (~m & (v4i)b));
}
static inline v4f vmax(v4f a, v4f b)
{
	v4i m = a < b;
	return (v4f)((m & (v4i)b) | (~m & (v4i)a));
}
#endif

#define CX(i, j)                                  \
	do {                                      \
		v4f lo_ = vmin(p[i], p[j]);       \
		p[j] = vmax(p[i], p[j]);          \
		p[i] = lo_;                       \
	} while (0)

/* Median of p[0..w-1] (w odd, <= SS_HPSS_MAX_KERNEL), lane by lane. Nine values take Paeth's 19-exchange
 * median network (Graphics Gems, 1990); other sizes a full insertion network (w(w-1)/2 exchanges). */
static v4f median_v4(v4f *p, size_t w)
{
	if (w == 9) {
		CX(1, 2); CX(4, 5); CX(7, 8); CX(0, 1); CX(3, 4); CX(6, 7); CX(1, 2); CX(4, 5); CX(7, 8);
		CX(0, 3); CX(5, 8); CX(4, 7); CX(3, 6); CX(1, 4); CX(2, 5); CX(4, 7); CX(4, 2); CX(6, 4);
		CX(4, 2);
		return p[4];
	}
	for (size_t i = 1; i < w; i++)
		for (size_t j = i; j > 0; j--)
			CX(j - 1, j);
	return p[w / 2];
}

#define SS_HPSS_MAX_KERNEL 255

/* out[k] = median over j < w of r[j][k], for k < n. */
static void median_rows(const float *const *r, size_t w, float *out, size_t n)
{
	v4f p[SS_HPSS_MAX_KERNEL];
	size_t k = 0;
	for (; k + 4 <= n; k += 4) {
		for (size_t j = 0; j < w; j++)
			memcpy(&p[j], r[j] + k, sizeof p[j]);
		v4f m = median_v4(p, w);
		memcpy(out + k, &m, sizeof m);
	}
	if (k < n) {
		const size_t rest = n - k;
		for (size_t j = 0; j < w; j++) {
			memset(&p[j], 0, sizeof p[j]);
			memcpy(&p[j], r[j] + k, rest * sizeof(float));
		}
		v4f m = median_v4(p, w);
		memcpy(out + k, &m, rest * sizeof(float));
	}
}

/* Whether pooled frame t counts: any of its frames t*pool .. (t+1)*pool-1 (below n_active) is flagged in active,
 * or active is NULL. */
static int pooled_active(const unsigned char *active, size_t n_active, size_t pool, size_t t)
{
	if (active == NULL)
		return 1;
	for (size_t f = t * pool; f < (t + 1) * pool && f < n_active; f++)
		if (active[f])
			return 1;
	return 0;
}

/* Median-filter HPSS energy over an nf x nb magnitude matrix (frame-major) of frames pooled pool at a time from
 * n_active frames flagged in active (NULL = all). */
static int hpss_matrix(const float *mag, size_t nf, size_t nb, size_t time_kernel, size_t freq_kernel,
		       const unsigned char *active, size_t n_active, size_t pool, double *e_harm, double *e_all,
		       ss_error *err)
{
	const size_t th = time_kernel / 2, fh = freq_kernel / 2;
	float *hrow = malloc(nb * sizeof *hrow);
	float *prow = malloc(nb * sizeof *prow);
	float *padded = malloc((nb + 2 * fh) * sizeof *padded);
	if (hrow == NULL || prow == NULL || padded == NULL) {
		free(hrow);
		free(prow);
		free(padded);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for HPSS");
	}
	const float *rows[SS_HPSS_MAX_KERNEL];
	double eh = 0.0, ea = 0.0;
	for (size_t t = 0; t < nf; t++) {
		if (!pooled_active(active, n_active, pool, t))
			continue;
		/* H: median along time of each bin, frames t-th..t+th reflected at the ends */
		for (size_t j = 0; j < time_kernel; j++)
			rows[j] = mag + reflect((long)t + (long)j - (long)th, nf) * nb;
		median_rows(rows, time_kernel, hrow, nb);
		/* P: median along frequency within frame t, bins reflected at the ends */
		const float *row = mag + t * nb;
		for (size_t i = 0; i < nb + 2 * fh; i++)
			padded[i] = row[reflect((long)i - (long)fh, nb)];
		for (size_t j = 0; j < freq_kernel; j++)
			rows[j] = padded + j;
		median_rows(rows, freq_kernel, prow, nb);
		for (size_t k = 0; k < nb; k++) {
			double h = hrow[k], p = prow[k], x = row[k];
			double h2 = h * h, p2 = p * p, x2 = x * x;
			double mh = h2 + p2 > 0.0 ? h2 / (h2 + p2) : 0.5;
			eh += mh * x2;
			ea += x2;
		}
	}
	free(hrow);
	free(prow);
	free(padded);
	*e_harm = eh;
	*e_all = ea;
	return 0;
}

int ss_hpss_energy(const ss_spectrogram *s, size_t pool_frames, size_t pool_bins, size_t time_kernel,
		   size_t freq_kernel, const unsigned char *active, double *harmonic, double *percussive, ss_error *err)
{
	*harmonic = *percussive = NAN;
	if (time_kernel < 3 || (time_kernel & 1) == 0 || freq_kernel < 3 || (freq_kernel & 1) == 0 ||
	    time_kernel > SS_HPSS_MAX_KERNEL || freq_kernel > SS_HPSS_MAX_KERNEL || pool_frames < 1 ||
	    pool_frames > 16 || pool_bins < 1 || pool_bins > 16)
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
	int rc = hpss_matrix(pooled, nf, nb, time_kernel, freq_kernel, active, s->n_frames, pool_frames, &eh, &ea,
			     err);
	free(pooled);
	if (rc != 0)
		return -1;
	if (ea > 0.0) {
		*harmonic = eh / ea;
		*percussive = 1.0 - *harmonic;
	}
	return 0;
}
