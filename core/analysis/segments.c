/* Segments of a clip from its frame measurements (see segments.h): onsets (a peak-picked rise of the band levels
 * within 40 dB of the loudest band), then each segment's loudness envelope, chroma and cepstral timbre. */
#include "core/analysis/segments.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BANDS SS_FRAME_BANDS
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

/* The mean band rise of frame t over the one before (dB; from silence for the first). */
static double band_rise(const ss_frames *f, size_t t)
{
	const float *cur = f->band + t * BANDS, *prev = t > 0 ? cur - BANDS : NULL;
	double top = SS_FRAME_BAND_FLOOR_DB, r = 0.0;
	for (int k = 0; k < BANDS; k++)
		top = fmax(top, fmax(cur[k], prev != NULL ? prev[k] : SS_FRAME_BAND_FLOOR_DB));
	const double floor_db = top - RISE_RANGE_DB;
	for (int k = 0; k < BANDS; k++) {
		double d = fmax(cur[k], floor_db) - fmax(prev != NULL ? prev[k] : SS_FRAME_BAND_FLOOR_DB, floor_db);
		r += d > 0.0 ? d : 0.0;
	}
	return r / BANDS;
}

/* Fill seg from frames [a, b) (b <= f->n) whose segment runs from t0 to t1 seconds. */
static void describe(ss_segment *seg, const ss_frames *f, const double dct[SS_SEGMENT_DIMS][BANDS], size_t a,
		     size_t b, double t0, double t1)
{
	const double *level = f->level;
	seg->start = t0;
	seg->duration = t1 - t0;
	seg->loudness_start = level[a];
	seg->loudness_end = b < f->n ? level[b] : level[b - 1];
	size_t peak = a;
	double chroma[SS_SEGMENT_DIMS] = {0}, mean_band[BANDS] = {0}, mean_level = 0.0;
	for (size_t t = a; t < b; t++) {
		if (level[t] > level[peak])
			peak = t;
		if (level[t] > SS_SEGMENT_FLOOR_DB)
			for (int i = 0; i < SS_SEGMENT_DIMS; i++)
				chroma[i] += f->pitch[t * 12 + (size_t)i];
		for (int k = 0; k < BANDS; k++)
			mean_band[k] += f->band[t * BANDS + (size_t)k];
		mean_level += level[t];
	}
	seg->loudness_max = level[peak];
	seg->loudness_max_time = fmin(fmax((double)peak * f->hop_s - t0, 0.0), seg->duration);
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

int ss_segments_compute(const ss_frames *f, double duration, ss_segment **out, size_t *n, ss_error *err)
{
	*out = NULL;
	*n = 0;
	if (f->n == 0 || !(duration > 0.0))
		return ss_error_set(err, SS_ERR_INTERNAL, "segments need frames and a duration");
	const size_t T = f->n;
	double *rise = malloc(T * sizeof *rise), *conf = malloc(T * sizeof *conf);
	size_t *start = malloc(T * sizeof *start);
	ss_segment *seg = NULL;
	int rc = -1;
	if (rise == NULL || conf == NULL || start == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for segments");
		goto done;
	}
	for (size_t t = 0; t < T; t++)
		rise[t] = band_rise(f, t);
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
	/* a segment starts where its first frame's span does */
	for (size_t i = 0; i < m; i++) {
		double t0 = i == 0 ? 0.0 : ss_frames_span_start(f, start[i]);
		double t1 = i + 1 < m ? ss_frames_span_start(f, start[i + 1]) : duration;
		describe(&seg[i], f, (const double(*)[BANDS])dct, start[i], i + 1 < m ? start[i + 1] : T, t0, fmax(t1, t0));
		seg[i].confidence = fmin(fmax(conf[i], 0.0), 1.0);
	}
	*out = seg;
	*n = m;
	seg = NULL;
	rc = 0;
done:
	free(seg);
	free(rise);
	free(conf);
	free(start);
	return rc;
}
