/* Segments of a clip from its descriptor STFT (see segments.h). Three passes over the frames: levels (the frame's
 * and 24 mel bands'), onsets (a peak-picked rise of the band levels within 40 dB of the loudest), then each segment's loudness envelope, chroma and
 * cepstral timbre. */
#include "core/analysis/segments.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


#define BANDS 24
#define MEL_LO_HZ 40.0
#define MEL_HI_HZ 10000.0
#define BAND_FLOOR_DB (SS_SEGMENT_FLOOR_DB - 20.0) /* a band's level never reads below this */
/* Onsets: a frame's mean band rise (dB) must be a local peak and exceed the median rise of the frames within
 * MEDIAN_HALF on either side (about 0.5 s) by RISE_OVER_MEDIAN_DB, and RISE_MIN_DB in any case. */
#define MEDIAN_HALF 11
#define RISE_OVER_MEDIAN_DB 1.0
#define RISE_MIN_DB 1.5
/* A band's rise counts from this far below the loudest band of the two frames: the spectral splatter of a note's
 * end (a click, a gate) raises quiet bands between the partials while the sound falls. */
#define RISE_RANGE_DB 40.0
#define CONFIDENCE_DB 4.0 /* a rise this far above the median gives confidence 1 - 1/e */
#define MIN_FRAMES 2      /* segments are at least this many frames long */

static double mel(double hz)
{
	return 2595.0 * log10(1.0 + hz / 700.0);
}

/* The mel bands: triangular filters on BANDS + 2 points equally spaced in mel between MEL_LO_HZ and MEL_HI_HZ.
 * A bin at position q among the points (j = floor(q)) feeds the falling side of band j - 1 and the rising side of
 * band j, with weight q - j in the latter: slot[k] = j, so that band b sums in e[b + 1] of an array padded at
 * both ends (e[0] and e[BANDS + 1] collect what falls outside the bands). Bins k0 .. k1 - 1 feed some band. */
typedef struct mel_map {
	size_t k0, k1;
	int *slot;
	float *w_hi;
} mel_map;

static void mel_map_free(mel_map *m)
{
	free(m->slot);
	free(m->w_hi);
	m->slot = NULL;
	m->w_hi = NULL;
}

static int mel_map_init(mel_map *m, size_t n_bins, double bin_hz)
{
	m->slot = malloc(n_bins * sizeof *m->slot);
	m->w_hi = malloc(n_bins * sizeof *m->w_hi);
	if (m->slot == NULL || m->w_hi == NULL) {
		mel_map_free(m);
		return -1;
	}
	const double m_lo = mel(MEL_LO_HZ), step = (mel(MEL_HI_HZ) - m_lo) / (BANDS + 1);
	m->k0 = n_bins;
	m->k1 = 0;
	for (size_t k = 0; k < n_bins; k++) {
		double q = (mel((double)k * bin_hz) - m_lo) / step; /* position among the points 0..BANDS+1 */
		if (!(q >= 0.0) || q >= BANDS + 1)
			continue;
		if (m->k0 == n_bins)
			m->k0 = k;
		m->k1 = k + 1;
		m->slot[k] = (int)q;
		m->w_hi[k] = (float)(q - (int)q);
	}
	if (m->k1 < m->k0)
		m->k1 = m->k0;
	return 0;
}

/* dB of a mean square, floored. */
static double db(double ms, double floor_db)
{
	double v = ms > 0.0 ? 10.0 * log10(ms) : floor_db;
	return v < floor_db ? floor_db : v > 0.0 ? 0.0 : v;
}

/* Levels of frame row (n_bins magnitudes): the frame's (dBFS, floored) into *level and the mel bands' into band. */
static void frame_levels(const float *row, size_t n_bins, const mel_map *mm, double scale, double *level, float *band)
{
	double e[BANDS + 2] = {0}, total = 0.0;
	for (size_t k = 0; k < n_bins; k++)
		total += (double)row[k] * row[k];
	/* one-sided spectrum: every bin but DC and Nyquist stands for two */
	total = 2.0 * total - (double)row[0] * row[0] - (double)row[n_bins - 1] * row[n_bins - 1];
	for (size_t k = mm->k0; k < mm->k1; k++) {
		double p = (double)row[k] * row[k], w = mm->w_hi[k];
		e[mm->slot[k]] += (1.0 - w) * p;
		e[mm->slot[k] + 1] += w * p;
	}
	*level = db(total * scale, SS_SEGMENT_FLOOR_DB);
	for (int b = 0; b < BANDS; b++)
		band[b] = (float)db(2.0 * e[b + 1] * scale, BAND_FLOOR_DB);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of rise[lo, hi) (scratch: hi - lo values). */
static double median_of(const double *rise, size_t lo, size_t hi, double *scratch)
{
	size_t m = hi - lo;
	memcpy(scratch, rise + lo, m * sizeof *scratch);
	qsort(scratch, m, sizeof *scratch, cmp_double);
	return m % 2 ? scratch[m / 2] : 0.5 * (scratch[m / 2 - 1] + scratch[m / 2]);
}

/* The onset frames of rise[0, T) into start[] (the first is frame 0) with their confidences; returns how many. */
static size_t find_onsets(const double *rise, size_t T, size_t *start, double *conf)
{
	double scratch[2 * MEDIAN_HALF + 1];
	size_t n = 0;
	start[n] = 0;
	conf[n++] = 1.0 - exp(-rise[0] / CONFIDENCE_DB);
	for (size_t t = 1; t < T; t++) {
		if (!(rise[t] > rise[t - 1]) || (t + 1 < T && rise[t] < rise[t + 1]) || rise[t] < RISE_MIN_DB)
			continue;
		size_t lo = t > MEDIAN_HALF ? t - MEDIAN_HALF : 0, hi = t + MEDIAN_HALF + 1 < T ? t + MEDIAN_HALF + 1 : T;
		double over = rise[t] - median_of(rise, lo, hi, scratch);
		if (over < RISE_OVER_MEDIAN_DB)
			continue;
		double c = 1.0 - exp(-over / CONFIDENCE_DB);
		if (t - start[n - 1] < MIN_FRAMES) {
			/* too close to the previous onset: the clearer of the two starts the segment */
			if (n > 1 && c > conf[n - 1]) {
				start[n - 1] = t;
				conf[n - 1] = c;
			}
			continue;
		}
		start[n] = t;
		conf[n++] = c;
	}
	return n;
}

/* Per bin between C3 and B6 (46 ms frames do not resolve the semitones below): the pitch classes of the two
 * semitones around its frequency and its share in the upper one (linear in cents). A segment's chroma is the
 * power of its frames folded to 12 classes that way: its loud frames count most, and no frame is cleaned of
 * harmonics (too coarse a spectrum for it). */
#define FOLD_MIDI_LO 48
#define FOLD_MIDI_HI 95
typedef struct fold {
	size_t lo, n;         /* bins lo .. lo + n - 1 */
	unsigned char *pc_lo; /* per bin, 0..11: the semitone below (or at) its frequency */
	float *w_hi;          /* per bin: its share in the next semitone up */
} fold;

static void fold_free(fold *f)
{
	free(f->pc_lo);
	free(f->w_hi);
	f->pc_lo = NULL;
	f->w_hi = NULL;
}

static int fold_init(fold *f, size_t n_bins, double bin_hz)
{
	const double f_lo = 440.0 * pow(2.0, (FOLD_MIDI_LO - 69) / 12.0);
	const double f_hi = 440.0 * pow(2.0, (FOLD_MIDI_HI - 69) / 12.0);
	f->lo = (size_t)ceil(f_lo / bin_hz);
	size_t hi = (size_t)floor(f_hi / bin_hz) + 1;
	f->n = hi < n_bins ? hi - f->lo : n_bins > f->lo ? n_bins - f->lo : 0;
	f->pc_lo = malloc(f->n ? f->n : 1);
	f->w_hi = malloc((f->n ? f->n : 1) * sizeof *f->w_hi);
	if (f->pc_lo == NULL || f->w_hi == NULL) {
		fold_free(f);
		return -1;
	}
	for (size_t i = 0; i < f->n; i++) {
		double q = 69.0 + 12.0 * log2((double)(f->lo + i) * bin_hz / 440.0), below = floor(q);
		f->pc_lo[i] = (unsigned char)((int)below % 12);
		f->w_hi[i] = (float)(q - below);
	}
	return 0;
}

/* Fill seg from frames [a, b) (b <= T) whose segment runs from t0 to t1 seconds. */
static void describe(ss_segment *seg, const ss_spectrogram *s, const double *level, const float *band,
		     const fold *fo, const double dct[SS_SEGMENT_DIMS][BANDS], size_t a, size_t b, double t0, double t1)
{
	const double fps = s->sr / (double)s->hop;
	seg->start = t0;
	seg->duration = t1 - t0;
	seg->loudness_start = level[a];
	seg->loudness_end = b < s->n_frames ? level[b] : level[b - 1];
	size_t peak = a;
	double chroma[SS_SEGMENT_DIMS] = {0}, mean_band[BANDS] = {0}, mean_level = 0.0;
	for (size_t t = a; t < b; t++) {
		if (level[t] > level[peak])
			peak = t;
		if (level[t] > SS_SEGMENT_FLOOR_DB) {
			const float *row = s->mag + t * s->n_bins + fo->lo;
			for (size_t i = 0; i < fo->n; i++) {
				double p = (double)row[i] * row[i];
				chroma[fo->pc_lo[i]] += (1.0 - fo->w_hi[i]) * p;
				chroma[(fo->pc_lo[i] + 1) % 12] += fo->w_hi[i] * p;
			}
		}
		for (int k = 0; k < BANDS; k++)
			mean_band[k] += band[t * BANDS + (size_t)k];
		mean_level += level[t];
	}
	seg->loudness_max = level[peak];
	seg->loudness_max_time = fmin(fmax((double)peak / fps - t0, 0.0), seg->duration);
	double top = 0.0;
	for (int i = 0; i < SS_SEGMENT_DIMS; i++)
		top = fmax(top, chroma[i]);
	for (int i = 0; i < SS_SEGMENT_DIMS; i++)
		seg->pitches[i] = top > 0.0 ? chroma[i] / top : 0.0;
	const double frames = (double)(b - a);
	seg->timbre[0] = mean_level / frames - SS_SEGMENT_FLOOR_DB;
	for (int c = 1; c < SS_SEGMENT_DIMS; c++) {
		double v = 0.0;
		for (int k = 0; k < BANDS; k++)
			v += mean_band[k] * dct[c][k];
		seg->timbre[c] = 2.0 * v / (frames * BANDS);
	}
}

int ss_segments_compute(const ss_spectrogram *s, double duration, ss_segment **out, size_t *n, ss_error *err)
{
	*out = NULL;
	*n = 0;
	if (s->n_frames == 0 || s->n_bins < 2 || s->power != 0 || !(duration > 0.0) || s->hop == 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "segments need a magnitude spectrogram and a duration");
	const size_t T = s->n_frames, nb = s->n_bins;
	/* Parseval with the periodic Hann window (sum of squares 3N/8): a frame's mean square */
	const double scale = 1.0 / ((double)s->n_fft * 3.0 * (double)s->n_fft / 8.0);
	double *level = malloc(T * sizeof *level), *rise = malloc(T * sizeof *rise), *conf = malloc(T * sizeof *conf);
	float *band = malloc(T * BANDS * sizeof *band);
	size_t *start = malloc(T * sizeof *start);
	mel_map mm = {0};
	fold fo = {0};
	ss_segment *seg = NULL;
	int rc = -1;
	if (level == NULL || rise == NULL || conf == NULL || band == NULL || start == NULL ||
	    mel_map_init(&mm, nb, s->sr / (double)s->n_fft) != 0 || fold_init(&fo, nb, s->sr / (double)s->n_fft) != 0) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for segments");
		goto done;
	}
	for (size_t t = 0; t < T; t++) {
		float *cur = band + t * BANDS;
		const float *prev = t > 0 ? cur - BANDS : NULL;
		frame_levels(s->mag + t * nb, nb, &mm, scale, &level[t], cur);
		double top = BAND_FLOOR_DB, r = 0.0;
		for (int k = 0; k < BANDS; k++)
			top = fmax(top, fmax(cur[k], prev != NULL ? prev[k] : BAND_FLOOR_DB));
		const double floor_db = top - RISE_RANGE_DB;
		for (int k = 0; k < BANDS; k++) {
			double d = fmax(cur[k], floor_db) - fmax(prev != NULL ? prev[k] : BAND_FLOOR_DB, floor_db);
			r += d > 0.0 ? d : 0.0;
		}
		rise[t] = r / BANDS;
	}
	size_t m = find_onsets(rise, T, start, conf);
	assert(m >= 1 && start[0] == 0);
	if ((seg = malloc(m * sizeof *seg)) == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for segments");
		goto done;
	}
	double dct[SS_SEGMENT_DIMS][BANDS]; /* the cosines of the timbre coefficients (DCT-II) */
	for (int c = 0; c < SS_SEGMENT_DIMS; c++)
		for (int k = 0; k < BANDS; k++)
			dct[c][k] = cos(M_PI * c * (k + 0.5) / BANDS);
	/* a segment starts where its first frame's span does (frames are centred on t * hop) */
	const double half = (double)s->n_fft / 2.0;
	for (size_t i = 0; i < m; i++) {
		double t0 = i == 0 ? 0.0 : fmax(((double)start[i] * (double)s->hop - half) / s->sr, 0.0);
		double t1 = i + 1 < m ? fmax(((double)start[i + 1] * (double)s->hop - half) / s->sr, 0.0) : duration;
		describe(&seg[i], s, level, band, &fo, (const double(*)[BANDS])dct, start[i], i + 1 < m ? start[i + 1] : T, t0, fmax(t1, t0));
		seg[i].confidence = fmin(fmax(conf[i], 0.0), 1.0);
	}
	*out = seg;
	*n = m;
	seg = NULL;
	rc = 0;
done:
	free(seg);
	free(level);
	free(rise);
	free(conf);
	free(band);
	free(start);
	mel_map_free(&mm);
	fold_free(&fo);
	return rc;
}
