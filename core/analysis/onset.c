/* Onset novelty: mel-band energies from the shared STFT (46 ms window, ~86 frames/s, of the input resampled
 * to 5512.5 Hz, so the bands end at 2.76 kHz), plus one band for everything above from the full-rate signal,
 * smoothed over time, log-compressed against one common reference, half-wave rectified flux averaged over
 * bands, minus its local mean. */
#include "core/analysis/onset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <soxr.h>

#include "core/analysis/signal.h"
#include "core/analysis/stft.h"

#define ONSET_FRAME_RATE 86.1328125  /* frames per second (22050 / 256) */
#define ONSET_BANDS 40               /* mel bands */
#define ONSET_FMIN 30.0              /* lowest band edge, Hz */
#define ONSET_FMAX 11025.0           /* highest band edge, Hz (or the Nyquist frequency) */
#define ONSET_WORK_RATE 5512.5       /* higher rates are resampled to this first */
/* The band above the working band counts as this many mel bands. It spans about 1400 mel (2.76-11 kHz at
 * 22.05 kHz), some 30 of the working bands' width, but its flux is one broad band's; 16 measured as well as
 * the 8 the 5.5-11 kHz band had with an 11025 Hz working rate (tempo Acc1 85.9 %, Acc2 100 % on the
 * development clips either way; 8 here lost 2 clips to octave errors and counts more onsets in noise). */
#define ONSET_HF_WEIGHT 16.0
#define ONSET_FFT_HOPS 4             /* window: smallest power of two >= this many hops (256 at 5512.5 Hz) */
#define ONSET_BLOCK 1024             /* STFT frames computed per block */
#define ONSET_RESAMPLE_BLOCK 65536   /* input samples per resampler call */
#define ONSET_GAMMA 1000.0           /* log compression: log(1 + gamma * E / mean E) */
#define ONSET_MEAN_SEC 0.6           /* local mean window, s */
#define FLUX_LANES 8                 /* partial sums of the flux; ONSET_BANDS is a multiple of this */
#define ONSET_PEAK_FLOOR 0.03        /* an onset peak is at least this high (~95th percentile of white noise) */
_Static_assert(ONSET_BANDS % FLUX_LANES == 0, "the flux sums whole lanes");

static double hz_to_mel(double f)
{
	return 2595.0 * log10(1.0 + f / 700.0);
}

static double mel_to_hz(double m)
{
	return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

typedef struct filterbank {
	size_t lo[ONSET_BANDS];  /* first bin */
	size_t cnt[ONSET_BANDS]; /* bins in the band */
	size_t off[ONSET_BANDS]; /* offset into w */
	float *w;
} filterbank;

/* Triangular mel filters; a band narrower than a bin takes the nearest bin. */
static int filterbank_init(filterbank *fb, size_t n_fft, double sr)
{
	size_t n_bins = n_fft / 2 + 1;
	double fmax = sr / 2.0 < ONSET_FMAX ? sr / 2.0 : ONSET_FMAX;
	double mlo = hz_to_mel(ONSET_FMIN), mhi = hz_to_mel(fmax);
	double edge[ONSET_BANDS + 2];
	for (size_t i = 0; i < ONSET_BANDS + 2; i++)
		edge[i] = mel_to_hz(mlo + (mhi - mlo) * (double)i / (double)(ONSET_BANDS + 1));
	fb->w = malloc((3 * n_bins + ONSET_BANDS) * sizeof *fb->w);
	if (fb->w == NULL)
		return -1;
	double bin_hz = sr / (double)n_fft;
	size_t used = 0;
	for (size_t b = 0; b < ONSET_BANDS; b++) {
		double f0 = edge[b], f1 = edge[b + 1], f2 = edge[b + 2];
		size_t k0 = (size_t)ceil(f0 / bin_hz), k2 = (size_t)floor(f2 / bin_hz);
		if (k2 >= n_bins)
			k2 = n_bins - 1;
		fb->off[b] = used;
		fb->lo[b] = k0;
		fb->cnt[b] = 0;
		for (size_t k = k0; k <= k2 && k < n_bins; k++) {
			double f = (double)k * bin_hz;
			double wt = f <= f1 ? (f - f0) / (f1 - f0) : (f2 - f) / (f2 - f1);
			if (wt < 0.0)
				wt = 0.0;
			fb->w[used++] = (float)wt;
			fb->cnt[b]++;
		}
		double sum = 0.0;
		for (size_t i = 0; i < fb->cnt[b]; i++)
			sum += fb->w[fb->off[b] + i];
		if (sum <= 0.0) {
			size_t k = (size_t)lround(f1 / bin_hz);
			if (k >= n_bins)
				k = n_bins - 1;
			used = fb->off[b];
			fb->lo[b] = k;
			fb->cnt[b] = 1;
			fb->w[used++] = 1.0f;
		}
	}
	return 0;
}

/* Frames whose band energies mel_energies computes together: independent sums keep the FPU busy. */
#define MEL_FRAMES 4

/* out[j][b] = sum over the band's bins of weight * power, for MEL_FRAMES power rows of n_bins; a non-finite
 * sum is 0. inter (n_bins * MEL_FRAMES floats) receives the rows interleaved, so that each weight multiplies
 * the same bin of every frame in one vector operation. */
static void mel_energies(const filterbank *fb, const float *const rows[MEL_FRAMES], size_t n_bins, float *inter,
			 float *const out[MEL_FRAMES])
{
	for (size_t k = 0; k < n_bins; k++)
		for (size_t j = 0; j < MEL_FRAMES; j++)
			inter[k * MEL_FRAMES + j] = rows[j][k];
	for (size_t b = 0; b < ONSET_BANDS; b++) {
		const float *w = fb->w + fb->off[b];
		const float *p = inter + fb->lo[b] * MEL_FRAMES;
		const size_t cnt = fb->cnt[b];
		float acc[MEL_FRAMES] = {0.0f};
		for (size_t i = 0; i < cnt; i++)
			for (size_t j = 0; j < MEL_FRAMES; j++)
				acc[j] += w[i] * p[i * MEL_FRAMES + j];
		for (size_t j = 0; j < MEL_FRAMES; j++)
			out[j][b] = isfinite(acc[j]) ? acc[j] : 0.0f;
	}
}

typedef struct hf_src {
	const float *x; /* the signal at its own rate, or NULL */
	size_t n;
	double sr;
} hf_src;

static int onset_at_rate(const float *x, size_t n, double sr, const hf_src *hf, ss_onset *out, ss_error *err);

/* A copy of x with non-finite samples replaced by 0 in *clean (owned by the caller), or NULL in *clean when x
 * is all finite. -1 on allocation failure. */
static int finite_copy(const float *x, size_t n, float **clean)
{
	*clean = NULL;
	if (ss_signal_all_finite(x, n))
		return 0;
	float *c = malloc(n * sizeof *c);
	if (c == NULL)
		return -1;
	for (size_t j = 0; j < n; j++)
		c[j] = isfinite(x[j]) ? x[j] : 0.0f;
	*clean = c;
	return 0;
}

int ss_onset_work_signal(const float *x, size_t n, double sr, ss_work_signal *w, ss_error *err)
{
	memset(w, 0, sizeof *w);
	if (!(sr >= 1000.0) || !isfinite(sr) || (x == NULL && n > 0))
		return ss_error_set(err, SS_ERR_INTERNAL, "bad input for onset analysis");
	w->sr = sr;
	w->n = n;
	if (sr <= ONSET_WORK_RATE * 1.05 || n == 0)
		return 0; /* analysed at its own rate */
	/* Non-finite samples become silence (a NaN would spread through the resampler's filter blocks). */
	float *clean;
	if (finite_copy(x, n, &clean) != 0)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for onset analysis");
	if (clean != NULL)
		x = clean;
	w->src_finite = clean == NULL;
	/* Work at 5512.5 Hz: a 46 ms window then costs a 256-point FFT, and a window of four hops keeps the
	 * beating of unresolved partials (chords) from aliasing into the frame rate; what lies above the
	 * working band reaches the novelty through the full-rate high band. */
	double ratio = ONSET_WORK_RATE / sr;
	size_t cap = (size_t)ceil((double)n * ratio) + 16, done = 0;
	float *y = malloc(cap * sizeof *y);
	if (y == NULL) {
		free(clean);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for resampling");
	}
	/* Streamed in blocks: the one-shot call buffers several times the signal internally. */
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_LQ, 0);
	soxr_error_t se = NULL;
	soxr_t rs = soxr_create(sr, ONSET_WORK_RATE, 1, &se, &io, &q, NULL);
	if (rs == NULL || se != NULL) {
		soxr_delete(rs);
		free(y);
		free(clean);
		/* the rates and specification are valid, so what fails is memory */
		return ss_error_set(err, SS_ERR_NOMEM, "resampler for onset analysis: %s", se ? se : "failed");
	}
	size_t pos = 0;
	while (se == NULL && done < cap) {
		size_t ilen = n - pos < ONSET_RESAMPLE_BLOCK ? n - pos : ONSET_RESAMPLE_BLOCK;
		size_t idone = 0, odone = 0;
		se = soxr_process(rs, pos < n ? x + pos : NULL, ilen, &idone, y + done, cap - done, &odone);
		pos += idone;
		done += odone;
		if (pos >= n && idone == 0 && odone == 0)
			break;
	}
	soxr_delete(rs);
	free(clean);
	if (se != NULL) {
		free(y);
		return ss_error_set(err, SS_ERR_INTERNAL, "resampling for onset analysis failed");
	}
	w->x = y;
	w->n = done;
	w->sr = ONSET_WORK_RATE;
	return 0;
}

void ss_work_signal_free(ss_work_signal *w)
{
	if (w == NULL)
		return;
	free(w->x);
	memset(w, 0, sizeof *w);
}

int ss_onset_analyze_work(const float *x, size_t n, double sr, const ss_work_signal *w, ss_onset *out,
			  ss_error *err)
{
	memset(out, 0, sizeof *out);
	if (!(sr >= 1000.0) || !isfinite(sr) || (x == NULL && n > 0))
		return ss_error_set(err, SS_ERR_INTERNAL, "bad input for onset analysis");
	float *clean = NULL;
	if (!w->src_finite && finite_copy(x, n, &clean) != 0)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for onset analysis");
	if (clean != NULL)
		x = clean;
	int rc;
	if (w->x == NULL) {
		rc = onset_at_rate(x, n, sr, NULL, out, err);
	} else {
		hf_src hf = {x, n, sr};
		rc = onset_at_rate(w->x, w->n, w->sr, &hf, out, err);
	}
	free(clean);
	return rc;
}

int ss_onset_analyze(const float *x, size_t n, double sr, ss_onset *out, ss_error *err)
{
	memset(out, 0, sizeof *out);
	ss_work_signal w;
	if (ss_onset_work_signal(x, n, sr, &w, err) != 0)
		return -1;
	int rc = ss_onset_analyze_work(x, n, sr, &w, out, err);
	ss_work_signal_free(&w);
	return rc;
}

/* Energy above the working band, per frame: the squared second difference of the full-rate signal (a
 * 12 dB/octave high-frequency emphasis, as in high-frequency-content onset detection) summed over one hop
 * around each frame centre, then smoothed over five hops with binomial weights so that it is sampled
 * like an STFT frame of four hops. blk holds n_frames scratch values. */
static void hf_energy(const hf_src *hf, double frame_sec, size_t n_frames, float *blk, float *e)
{
	double h = frame_sec * hf->sr;
	for (size_t j = 0; j < n_frames; j++) {
		double a = ceil(((double)j - 0.5) * h), b = ceil(((double)j + 0.5) * h);
		size_t s0 = a < 2.0 ? 2 : (size_t)a, s1 = b < 0.0 ? 0 : (size_t)b;
		if (s1 > hf->n)
			s1 = hf->n;
		float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
		size_t i = s0;
		for (; i + 4 <= s1; i += 4)
			for (size_t k = 0; k < 4; k++) {
				float d = hf->x[i + k] - 2.0f * hf->x[i + k - 1] + hf->x[i + k - 2];
				acc[k] += d * d;
			}
		for (; i < s1; i++) {
			float d = hf->x[i] - 2.0f * hf->x[i - 1] + hf->x[i - 2];
			acc[0] += d * d;
		}
		float sum = acc[0] + acc[1] + acc[2] + acc[3];
		blk[j] = isfinite(sum) ? sum : 0.0f;
	}
	static const float w[5] = {1.0f / 16, 4.0f / 16, 6.0f / 16, 4.0f / 16, 1.0f / 16};
	for (size_t t = 0; t < n_frames; t++) {
		float acc = 0.0f;
		for (int k = -2; k <= 2; k++) {
			long j = (long)t + k;
			if (j >= 0 && (size_t)j < n_frames)
				acc += w[k + 2] * blk[j];
		}
		e[t] = acc;
	}
}

static int onset_at_rate(const float *x, size_t n, double sr, const hf_src *hf, ss_onset *out, ss_error *err)
{
	size_t hop = (size_t)lround(sr / ONSET_FRAME_RATE);
	if (hop < 1)
		hop = 1;
	size_t n_fft = 16;
	while ((double)n_fft < ONSET_FFT_HOPS * (double)hop)
		n_fft *= 2;
	size_t n_frames = 1 + n / hop;
	size_t nb = ONSET_BANDS;
	if (n_frames > ((size_t)-1) / sizeof(float) / nb)
		return ss_error_set(err, SS_ERR_TOO_LARGE, "signal too long for onset analysis");

	filterbank fb;
	if (filterbank_init(&fb, n_fft, sr) != 0)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for onset filterbank");
	double w_all = 0.0;
	for (size_t b = 0; b < ONSET_BANDS; b++)
		for (size_t i = 0; i < fb.cnt[b]; i++)
			w_all += fb.w[fb.off[b] + i];
	const double w_mean = w_all / ONSET_BANDS;
	float *bands = malloc(n_frames * nb * sizeof *bands);
	float *nov = malloc(n_frames * sizeof *nov);
	float *flux = malloc(n_frames * sizeof *flux);
	float *inter = malloc((n_fft / 2 + 1) * MEL_FRAMES * sizeof *inter);
	if (bands == NULL || nov == NULL || flux == NULL || inter == NULL) {
		free(inter);
		free(fb.w);
		free(bands);
		free(nov);
		free(flux);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for onset novelty");
	}

	/* Band energies, block by block. A block of frames [f0, f1) is cut from the signal so that every
	 * frame sees exactly the samples (or the zero padding) it would see in one whole-signal STFT. */
	const size_t half = n_fft / 2;
	const size_t lead = (half + hop - 1) / hop;
	double band_sum[ONSET_BANDS] = {0.0}; /* per band: independent sums */
	for (size_t f0 = 0; f0 < n_frames; f0 += ONSET_BLOCK) {
		size_t f1 = f0 + ONSET_BLOCK < n_frames ? f0 + ONSET_BLOCK : n_frames;
		size_t first = f0 >= lead ? lead : f0;
		size_t a = (f0 - first) * hop;
		size_t e = (f1 - 1) * hop + half;
		if (e > n)
			e = n;
		ss_spectrogram s;
		ss_error e2;
		if (ss_stft_power(x + a, e - a, sr, n_fft, hop, &s, &e2) != 0) {
			free(inter);
			free(fb.w);
			free(bands);
			free(nov);
			free(flux);
			if (err != NULL)
				*err = e2;
			return -1;
		}
		for (size_t t = f0; t < f1; t += MEL_FRAMES) {
			const float *rows[MEL_FRAMES];
			float *eb[MEL_FRAMES], spare[ONSET_BANDS];
			for (size_t j = 0; j < MEL_FRAMES; j++) {
				size_t tj = t + j < f1 ? t + j : f1 - 1; /* past the block: recompute its last frame */
				rows[j] = s.mag + (first + tj - f0) * s.n_bins;
				eb[j] = t + j < f1 ? bands + (t + j) * nb : spare;
			}
			mel_energies(&fb, rows, s.n_bins, inter, eb);
			for (size_t j = 0; j < MEL_FRAMES && t + j < f1; j++)
				for (size_t b = 0; b < ONSET_BANDS; b++)
					band_sum[b] += eb[j][b];
		}
		ss_spectrogram_free(&s);
	}
	free(inter);
	free(fb.w);
	double e_sum = 0.0;
	for (size_t b = 0; b < ONSET_BANDS; b++)
		e_sum += band_sum[b];
	const double e_mean = e_sum / (double)(n_frames * nb);

	/* Smooth each band over time with binomial weights (1 4 6 4 1)/16: this removes the fast beating of
	 * unresolved partials (a low chord), whose rectified log flux would otherwise show slow periodicities,
	 * and keeps onsets (a rise stays a rise). */
	if (n_frames >= 5) {
		/* Row by row, in place: ring[r % 3] keeps the original of row r once it is overwritten (rows after
		 * t are still original); edges repeat the first and last frame. */
		float ring[3][ONSET_BANDS];
		for (size_t t = 0; t < n_frames; t++) {
			float *row = bands + t * ONSET_BANDS;
			memcpy(ring[t % 3], row, sizeof ring[0]);
			const float *m2 = ring[(t >= 2 ? t - 2 : 0) % 3], *m1 = ring[(t >= 1 ? t - 1 : 0) % 3];
			const float *c0 = ring[t % 3];
			const float *p1 = t + 1 < n_frames ? row + ONSET_BANDS : c0;
			const float *p2 = t + 2 < n_frames ? row + 2 * ONSET_BANDS : p1;
			for (size_t b = 0; b < ONSET_BANDS; b++)
				row[b] = (m2[b] + 4.0f * m1[b] + 6.0f * c0[b] + 4.0f * p1[b] + p2[b]) / 16.0f;
		}
	}

	/* Log compression relative to the mean band energy, so the novelty does not depend on the gain. */
	float scale = e_mean > 1e-30 ? (float)(ONSET_GAMMA / e_mean) : 0.0f;
	for (size_t i = 0; i < n_frames * nb; i++)
		bands[i] = logf(1.0f + scale * bands[i]);

	/* Above the working band (when the input was resampled down): one extra band from the full-rate
	 * signal, log-compressed like the mel bands, weighted like ONSET_HF_WEIGHT bands. */
	float *hfe = NULL;
	if (hf != NULL) {
		hfe = malloc(n_frames * sizeof *hfe);
		if (hfe == NULL) {
			free(bands);
			free(nov);
			free(flux);
			return ss_error_set(err, SS_ERR_NOMEM, "out of memory for onset novelty");
		}
		hf_energy(hf, (double)hop / sr, n_frames, nov, hfe);
		/* The same reference as the mel bands, converted with what white noise gives both: per frame, a
		 * mel band of weight sum W holds sigma^2 (sr/hf_sr) (3 n_fft / 8) W (the working signal keeps the
		 * band below its Nyquist frequency; a periodic Hann window's squares sum to 3 n_fft / 8), the high
		 * band 6 sigma^2 h (the second difference's gain 1 + 4 + 1, over the h full-rate samples of one hop).
		 * So high-frequency energy that is negligible beside the music (the beating of faint partials) stays
		 * small, instead of being scaled up to full weight by its own mean. */
		const double h = hf->sr * (double)hop / sr;
		const double white = 6.0 * h / ((sr / hf->sr) * (3.0 * (double)n_fft / 8.0) * w_mean);
		const float hscale = e_mean > 1e-30 ? (float)(ONSET_GAMMA / (white * e_mean)) : 0.0f;
		for (size_t t = 0; t < n_frames; t++)
			hfe[t] = logf(1.0f + hscale * hfe[t]);
	}

	/* Half-wave rectified flux, averaged over bands. */
	float hw = hfe != NULL ? (float)ONSET_HF_WEIGHT : 0.0f;
	flux[0] = 0.0f;
	for (size_t t = 1; t < n_frames; t++) {
		const float *cur = bands + t * ONSET_BANDS, *prev = cur - ONSET_BANDS;
		float lane[FLUX_LANES] = {0.0f}; /* partial sums, added in a fixed order */
		for (size_t b = 0; b < ONSET_BANDS; b += FLUX_LANES)
			for (size_t j = 0; j < FLUX_LANES; j++) {
				float d = cur[b + j] - prev[b + j];
				lane[j] += d > 0.0f ? d : 0.0f;
			}
		float acc = 0.0f;
		for (size_t j = 0; j < FLUX_LANES; j++)
			acc += lane[j];
		if (hfe != NULL && hfe[t] > hfe[t - 1])
			acc += hw * (hfe[t] - hfe[t - 1]);
		flux[t] = acc / ((float)nb + hw);
	}
	free(hfe);

	/* Subtract a centred moving average, rectify. */
	double fr = sr / (double)hop;
	size_t w = (size_t)lround(ONSET_MEAN_SEC * fr / 2.0);
	double run = 0.0;
	size_t lo = 0, hi = 0; /* running sum over flux[lo, hi) */
	for (size_t t = 0; t < n_frames; t++) {
		size_t want_lo = t > w ? t - w : 0;
		size_t want_hi = t + w + 1 < n_frames ? t + w + 1 : n_frames;
		while (hi < want_hi)
			run += flux[hi++];
		while (lo < want_lo)
			run -= flux[lo++];
		double mean = run / (double)(hi - lo);
		double v = (double)flux[t] - mean;
		nov[t] = v > 0.0 ? (float)v : 0.0f;
	}
	free(flux);

	out->novelty = nov;
	out->bands = bands;
	out->n_frames = n_frames;
	out->n_bands = nb;
	out->frame_rate = fr;
	out->lead = (double)(n_fft / 2) / sr;
	return 0;
}

size_t ss_onset_count(const ss_onset *o)
{
	size_t n = o->n_frames;
	if (n < 3)
		return 0;
	double sum = 0.0, sq = 0.0;
	for (size_t t = 0; t < n; t++) {
		sum += o->novelty[t];
		sq += (double)o->novelty[t] * o->novelty[t];
	}
	double mean = sum / (double)n;
	double sd = sqrt(fmax(0.0, sq / (double)n - mean * mean));
	if (sd <= 0.0)
		return 0;
	size_t r = (size_t)lround(0.05 * o->frame_rate);
	if (r < 1)
		r = 1;
	size_t count = 0, last = 0;
	int have_last = 0;
	for (size_t t = 1; t + 1 < n; t++) {
		double v = o->novelty[t];
		if (v < mean + 0.5 * sd || v < ONSET_PEAK_FLOOR)
			continue;
		size_t a = t > r ? t - r : 0, b = t + r < n ? t + r : n - 1;
		int is_max = 1;
		for (size_t u = a; u <= b && is_max; u++)
			if (o->novelty[u] > v || (o->novelty[u] == v && u < t))
				is_max = 0;
		if (!is_max)
			continue;
		if (have_last && t - last < r)
			continue;
		count++;
		last = t;
		have_last = 1;
	}
	return count;
}

void ss_onset_free(ss_onset *o)
{
	if (o == NULL)
		return;
	free(o->novelty);
	free(o->bands);
	memset(o, 0, sizeof *o);
}
