/* Tempo: periodicity of the onset novelty, read from its autocorrelation through a comb over the first harmonics
 * of each candidate period, plus a share of the neighbouring metrical levels and of the comb of the low-band
 * (bass, kick) flux, weighted by a log-normal tempo prior. Near-ties with a 3:2 or 4:3 relative go to the
 * reading whose own beats (those the two do not share) carry the stronger onsets, and the tempo is doubled when
 * the off-beats are as strong as the beats (before the near-tie comparison, which a reading at half the beat
 * does not enter) or, after tracking, when the chords change on alternate tracked beats (the chord rule). The
 * period is refined to sub-frame precision over every harmonic of the autocorrelation and then by a line fit
 * through the beats tracked by dynamic programming (beats.c); the metre comes from
 * beat-synchronous accents (meter.c). There is a pulse when the comb of the beat, or of the level above it (half
 * the tempo), rises above a fixed floor and the noise level. Without a pulse in the onset novelty, the same
 * analysis runs on the slow rises of the band energies (notes that swell in); no tempo only when neither shows
 * one (silence, stationary noise, a steady tone). */
#include "core/analysis/tempo.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/beats.h"
#include "core/analysis/chord_change.h"
#include "core/analysis/meter.h"
#include "core/analysis/onset.h"
#include "core/analysis/signal.h"

#define TEMPO_BPM_MIN 40.0
#define TEMPO_BPM_MAX 250.0
#define TEMPO_GRID_STEP 1.002   /* ratio between neighbouring candidate tempi */
#define TEMPO_PRIOR_BPM 130.0   /* centre of the log-normal tempo prior */
#define TEMPO_PRIOR_OCT 1.0     /* its standard deviation in octaves */
#define TEMPO_UP_RHO 0.9        /* double the tempo when the off-beats are this strong relative to the beats */
#define TEMPO_UP_COMB 0.95      /* ... and the doubled tempo's comb salience is at least this fraction */
#define TEMPO_UP_MAX 210.0      /* ... and the doubled tempo is at most this */
#define TEMPO_UP_LOW_MIN 160.0  /* the low band alone doubles only to this tempo and faster (kick on every beat) */
#define TEMPO_UP_LOW_COMB 0.98  /* ... when its comb at the doubled tempo is at least this fraction of the slow one's */
#define TEMPO_CHORD_ALT 0.7     /* chord rule: contrast of the harmonic change on even and odd beats, at least */
#define TEMPO_CHORD_HALF 0.6    /* ... and the change two beats after the bar's strongest one, relative to it */
#define TEMPO_CHORD_BEATS 16    /* ... measured over at least this many tracked beats */
#define TEMPO_CHORD_COMB 0.6    /* ... and the doubled level's comb is at least this fraction of the tracked one's */
#define TEMPO_HIER 0.25         /* weight of the neighbouring metrical levels in the salience */
#define TEMPO_NH 4              /* comb teeth for the candidate salience */
#define TEMPO_FIT_RES 0.04      /* beat line fit used when its rms residual is below this fraction of a period */
#define TEMPO_TIE 0.1           /* candidates within this fraction of the best score are near-ties */
#define TEMPO_LOW 0.5           /* weight of the low-band comb in the salience */
#define TEMPO_LOW_BANDS 8       /* low bands: the lowest 8 of 40 mel bands (30 Hz to about 500 Hz) */
#define TEMPO_MAX_LAG_SEC 6.0   /* longest autocorrelation lag */
#define TEMPO_SMOOTH_SEC 0.015  /* Gaussian smoothing of the novelty before autocorrelation */
#define TEMPO_MIN_CLARITY 0.1   /* below this (or 2.5 / sqrt(frames), the noise level) there is no pulse */
#define TEMPO_MIN_ONSETS 4
#define TEMPO_SLOW_SEC 0.1      /* slow rises (swelled notes): band energy rise over this span */
#define TEMPO_SLOW_CONF 0.5     /* confidence scale of a pulse found only in the slow rises */
#define TEMPO_SLOW_CV 0.6       /* ... looked for only when they vary this much (sd / mean; stationary noise: 0.3) */
#define TEMPO_TIGHTNESS 100.0
#define TEMPO_SPAN_MOVE 0.5    /* a part of the music (ss_tempo_of_span) takes a tempo of its own, unrelated to the
				* track's, only with at least this confidence */
#define TEMPO_ALT_MIN 30.0      /* bpm_candidates: readings considered, a little wider than the search range */
#define TEMPO_ALT_MAX 300.0

typedef struct acf {
	double *r; /* r[0..len], r[0] = 1 */
	size_t len;
} acf;

/* Linear interpolation of the autocorrelation at a fractional lag; 0 outside. */
static double acf_at(const acf *a, double lag)
{
	if (!(lag >= 0.0) || lag > (double)a->len)
		return 0.0;
	size_t i = (size_t)lag;
	if (i >= a->len)
		return a->r[a->len];
	double f = lag - (double)i;
	return a->r[i] * (1.0 - f) + a->r[i + 1] * f;
}

/* Comb salience: mean autocorrelation over the first harmonics of the period that fit. */
static double comb(const acf *a, double period, size_t harmonics)
{
	size_t k_max = (size_t)((double)a->len / period);
	if (k_max > harmonics)
		k_max = harmonics;
	if (k_max == 0)
		return 0.0;
	double s = 0.0;
	for (size_t k = 1; k <= k_max; k++)
		s += acf_at(a, (double)k * period);
	return s / (double)k_max;
}

/* Salience of a period: its comb plus a share of the combs of the neighbouring metrical levels (half and
 * double the period), since a beat usually sits between a periodic bar level and a periodic subdivision;
 * this keeps estimates off 3:2 relatives. (Subtracting an off-beat comb at odd multiples of half the period
 * was tried; it pushes estimates to 3:2 relatives.) */
/* The periodicity evidence: autocorrelations of the full-band novelty and of the low-band (bass, kick)
 * flux. */
typedef struct evidence {
	acf full;
	acf low; /* r NULL when the low bands are silent */
} evidence;

static double salience(const evidence *ev, double period)
{
	const acf *a = &ev->full;
	double s = comb(a, period, TEMPO_NH) +
		   TEMPO_HIER * 0.5 * (comb(a, period * 2.0, TEMPO_NH) + comb(a, period / 2.0, TEMPO_NH));
	if (ev->low.r != NULL)
		s += TEMPO_LOW * comb(&ev->low, period, TEMPO_NH);
	return s;
}

static double prior(double bpm)
{
	double z = log2(bpm / TEMPO_PRIOR_BPM) / TEMPO_PRIOR_OCT;
	return exp(-0.5 * z * z);
}

static double clamp01(double v)
{
	return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

/* Sub-frame time of the novelty peak nearest beat frame b (parabolic interpolation within +-2 frames). */
static double peak_time(const float *v, size_t n, size_t b)
{
	size_t a = b >= 2 ? b - 2 : 0, e = b + 2 < n ? b + 2 : n - 1;
	size_t m = b;
	for (size_t t = a; t <= e; t++)
		if (v[t] > v[m])
			m = t;
	if (m == 0 || m + 1 >= n)
		return (double)m;
	double y0 = v[m - 1], y1 = v[m], y2 = v[m + 1];
	double den = y0 - 2.0 * y1 + y2;
	if (den >= 0.0)
		return (double)m;
	double d = 0.5 * (y0 - y2) / den;
	if (d > 0.5)
		d = 0.5;
	if (d < -0.5)
		d = -0.5;
	return (double)m + d;
}

/* Mean novelty on the best-aligned pulse train of the given period (on-beats) and half a period later
 * (off-beats). Returns off / on (0 when there is no on-beat energy). */
static double offbeat_ratio(const float *v, size_t n, double period)
{
	double best_on = 0.0, best_off = 0.0;
	size_t steps = (size_t)ceil(period);
	for (size_t ph = 0; ph < steps; ph++) {
		double on = 0.0, off = 0.0;
		size_t cnt = 0;
		for (double at = (double)ph; at + period / 2.0 + 1.0 < (double)n; at += period) {
			size_t i = (size_t)lround(at), j = (size_t)lround(at + period / 2.0);
			double a = v[i], b = v[j];
			if (i > 0 && v[i - 1] > a) a = v[i - 1];
			if (i + 1 < n && v[i + 1] > a) a = v[i + 1];
			if (j > 0 && v[j - 1] > b) b = v[j - 1];
			if (j + 1 < n && v[j + 1] > b) b = v[j + 1];
			on += a;
			off += b;
			cnt++;
		}
		if (cnt > 0 && on > best_on) {
			best_on = on;
			best_off = off;
		}
	}
	return best_on > 0.0 ? best_off / best_on : 0.0;
}

/* Autocorrelation of the novelty, smoothed with a small Gaussian and made zero-mean, for lags 0..len
 * (unbiased, normalised so r[0] = 1). Leaves a->r NULL when the novelty is constant. */
static int novelty_acf(const float *nov, size_t n, double fr, size_t len, acf *a, ss_error *err)
{
	a->r = NULL;
	a->len = len;
	double *z = malloc(n * sizeof *z);
	double *r = malloc((len + 1) * sizeof *r);
	if (z == NULL || r == NULL) {
		free(z);
		free(r);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for tempo");
	}
	double sig = TEMPO_SMOOTH_SEC * fr;
	long hw = (long)ceil(3.0 * sig);
	if (hw > 32)
		hw = 32;
	double kern[65], ksum = 0.0;
	for (long d = -hw; d <= hw; d++) {
		kern[d + hw] = exp(-0.5 * ((double)d / sig) * ((double)d / sig));
		ksum += kern[d + hw];
	}
	double mean = 0.0;
	for (size_t t = 0; t < n; t++) {
		double acc = 0.0;
		for (long d = -hw; d <= hw; d++) {
			long u = (long)t + d;
			if (u >= 0 && u < (long)n)
				acc += kern[d + hw] * nov[u];
		}
		z[t] = acc / ksum;
		mean += z[t];
	}
	mean /= (double)n;
	for (size_t t = 0; t < n; t++)
		z[t] -= mean;
	for (size_t l = 0; l <= len; l++) {
		/* four partial sums: the loop is bound by the latency of the additions otherwise */
		double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
		size_t m = n - l, t = 0;
		for (; t + 4 <= m; t += 4) {
			s0 += z[t] * z[t + l];
			s1 += z[t + 1] * z[t + 1 + l];
			s2 += z[t + 2] * z[t + 2 + l];
			s3 += z[t + 3] * z[t + 3 + l];
		}
		for (; t < m; t++)
			s0 += z[t] * z[t + l];
		r[l] = (s0 + s1 + s2 + s3) / (double)m;
	}
	free(z);
	if (!(r[0] > 0.0)) {
		free(r);
		return 0;
	}
	for (size_t l = 1; l <= len; l++)
		r[l] /= r[0];
	r[0] = 1.0;
	a->r = r;
	return 0;
}

/* Mean novelty (max over +-1 frame) at frames ph + j * period, j = 0, 1, ..., leaving out every j that is a
 * multiple of skip (skip 0 leaves out none). 0 when no frame is taken. */
static double train_mean(const float *v, size_t n, double ph, double period, size_t skip)
{
	double on = 0.0;
	size_t cnt = 0, j = 0;
	for (double at = ph; at + 1.0 < (double)n; at = ph + (double)(++j) * period) {
		if (skip > 0 && j % skip == 0)
			continue;
		size_t i = (size_t)lround(at);
		double a = v[i];
		if (i > 0 && v[i - 1] > a)
			a = v[i - 1];
		if (i + 1 < n && v[i + 1] > a)
			a = v[i + 1];
		on += a;
		cnt++;
	}
	return cnt > 0 ? on / (double)cnt : 0.0;
}

/* How much more the relative reading's own beats carry than the best reading's, in a metre both fit: the two
 * pulse trains (periods p_best and p_alt, q_best * p_best == q_alt * p_alt) meet once per common cycle (a bar
 * of 3/4 for 3:2, of 4/4 for 4:3), placed on the strongest such cycle; their shared beat there is left out
 * and the mean novelty of the rest compared. Comparing whole trains instead favoured the sparser one, whose
 * hits include the strong shared beat more often: a waltz with eighth-note fills (accented 1, clicks on 2 and
 * 3, softer "ands") read at 2/3 of its tempo, the train of dotted quarters landing on 1 and on the and of 2. */
static double unshared_gain(const float *v, size_t n, double p_best, size_t q_best, double p_alt, size_t q_alt)
{
	double cycle = p_best * (double)q_best;
	double ph_best = 0.0, s_best = -1.0;
	size_t steps = (size_t)ceil(cycle);
	for (size_t ph = 0; ph < steps; ph++) {
		double s = train_mean(v, n, (double)ph, cycle, 0);
		if (s > s_best) {
			s_best = s;
			ph_best = (double)ph;
		}
	}
	return train_mean(v, n, ph_best, p_alt, q_alt) - train_mean(v, n, ph_best, p_best, q_best);
}

/* The tempo with the best prior-weighted salience (its score in *score), doubled when the off-beats are as
 * strong as the beats. NaN when nothing is periodic. */
static double choose_tempo(const evidence *ev, const float *nov, const float *low, size_t n, double fr,
			   double *score)
{
	double best_bpm = NAN, best_s = 0.0;
	for (double b = TEMPO_BPM_MIN; b <= TEMPO_BPM_MAX; b *= TEMPO_GRID_STEP) {
		double c = salience(ev, 60.0 * fr / b);
		double s = c * prior(b);
		if (c > 0.0 && s > best_s) {
			best_s = s;
			best_bpm = b;
		}
	}
	/* A reading whose off-beats are as strong as its beats (the off-beat rule below) is half the beat, not a
	 * beat level: its 3:2 and 4:3 relatives are then relatives of a subdivision of the bar, not of the beat,
	 * and are not weighed against it; it is doubled straight away. An oom-pah-pah at 190-200 BPM (bass on 1,
	 * chords on 2 and 3) is read at 95-100 (every beat alike, so two beats form the best period under the
	 * prior), and the bar, 2/3 of that, won the near-tie against it, giving a third of the tempo. */
	int half_beat = 0;
	if (best_s > 0.0 && 2.0 * best_bpm <= TEMPO_UP_MAX) {
		double pt = 60.0 * fr / best_bpm;
		half_beat = offbeat_ratio(nov, n, pt) >= TEMPO_UP_RHO &&
			    comb(&ev->full, pt / 2.0, TEMPO_NH) >= TEMPO_UP_COMB * comb(&ev->full, pt, TEMPO_NH);
	}
	/* Near-ties with a 2:3, 3:2, 3:4 or 4:3 relative (the prior cannot judge those) go to the tempo whose
	 * own beats, those the two readings do not share, carry the stronger onsets (unshared_gain). */
	if (best_s > 0.0 && !half_beat) {
		static const struct {
			double r;       /* the relative's tempo over the best's */
			size_t q_best;  /* beats of the best per common cycle */
			size_t q_alt;   /* beats of the relative per common cycle */
		} rr[] = {{2.0 / 3.0, 3, 2}, {1.5, 2, 3}, {0.75, 4, 3}, {4.0 / 3.0, 3, 4}};
		double p_best = 60.0 * fr / best_bpm, pick = best_bpm, pick_s = best_s, pick_g = 0.0;
		for (size_t i = 0; i < sizeof rr / sizeof rr[0]; i++) {
			double bs = 0.0, bb = 0.0;
			for (double f = 0.98; f <= 1.0201; f += 0.002) {
				double b = best_bpm * rr[i].r * f;
				if (b < TEMPO_BPM_MIN || b > TEMPO_BPM_MAX)
					continue;
				double c = salience(ev, 60.0 * fr / b) * prior(b);
				if (c > bs) {
					bs = c;
					bb = b;
				}
			}
			if (bs < (1.0 - TEMPO_TIE) * best_s)
				continue;
			/* the relative's period, exactly q_best / q_alt of the best's so that the two trains meet */
			double p_alt = p_best * (double)rr[i].q_best / (double)rr[i].q_alt;
			double g = unshared_gain(nov, n, p_best, rr[i].q_best, p_alt, rr[i].q_alt);
			if (g > pick_g) {
				pick_g = g;
				pick = bb;
				pick_s = bs;
			}
		}
		best_bpm = pick;
		best_s = pick_s;
	}
	*score = best_s;
	if (!(best_s > 0.0))
		return NAN;
	/* The off-beat rule: double when the off-beats are as strong as the beats, in the full band or, for fast
	 * tempi (160-210 BPM: drum and bass, hardcore, fast house), in the low band alone: a kick on every beat
	 * under a snare on two and four reads as half time in the full band, whose novelty the snare dominates,
	 * but the kick itself is the faster pulse. The low-band comb must hold up at the doubled tempo nearly as
	 * well as at the slow one (0.98: on the labelled clips a 100 BPM render with an eighth-note bass measured
	 * 0.96 and must stay at 100; four-on-the-floor patterns measure 0.997-1.01). */
	if (2.0 * best_bpm <= TEMPO_UP_MAX) {
		double pt = 60.0 * fr / best_bpm;
		double c_slow = comb(&ev->full, pt, TEMPO_NH), c_fast = comb(&ev->full, pt / 2.0, TEMPO_NH);
		if (offbeat_ratio(nov, n, pt) >= TEMPO_UP_RHO && c_fast >= TEMPO_UP_COMB * c_slow)
			best_bpm *= 2.0;
		else if (ev->low.r != NULL && 2.0 * best_bpm >= TEMPO_UP_LOW_MIN && offbeat_ratio(low, n, pt) >= TEMPO_UP_RHO &&
			 comb(&ev->low, pt / 2.0, TEMPO_NH) >= TEMPO_UP_LOW_COMB * comb(&ev->low, pt, TEMPO_NH))
			best_bpm *= 2.0;
	}
	return best_bpm;
}

/* 1 when tempo b is within 4 % of 1, 2, 3, 1/2 or 1/3 times bpm. */
static int related_tempo(double b, double bpm)
{
	static const double rel[] = {1.0, 2.0, 3.0, 0.5, 1.0 / 3.0};
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
		if (fabs(b / bpm / rel[i] - 1.0) < 0.04)
			return 1;
	return 0;
}

/* 1 when tempo b is another metrical level of bpm's beat: related_tempo to 1, 3/2, 2/3, 4/3 or 3/4 times it. */
static int beat_level(double b, double bpm)
{
	static const double rel[] = {1.0, 1.5, 2.0 / 3.0, 4.0 / 3.0, 0.75};
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
		if (related_tempo(b, bpm * rel[i]))
			return 1;
	return 0;
}

/* 1 - (best prior-weighted salience of a tempo unrelated to bpm (related_tempo)) / best_s. */
static double unrelated_margin(const evidence *ev, double fr, double bpm, double best_s)
{
	double unrel = 0.0;
	for (double b = TEMPO_BPM_MIN; b <= TEMPO_BPM_MAX; b *= TEMPO_GRID_STEP) {
		if (related_tempo(b, bpm))
			continue;
		double c = salience(ev, 60.0 * fr / b) * prior(b);
		if (c > unrel)
			unrel = c;
	}
	return clamp01(1.0 - unrel / best_s);
}

/* Confidence: a strong pulse (clarity, 0..1) that stands out from unrelated tempi (margin, unrelated_margin); a
 * reported tempo keeps at least a little confidence even when an unrelated tempo scores as well (0 means no
 * pulse). (The margin over the octave alternatives was measured too; it does not predict which estimates are
 * right.) */
static double confidence_of(double clarity, double margin)
{
	return sqrt(clamp01(clarity / 0.8) * (0.1 + 0.9 * clamp01(margin / 0.5)));
}

/* Sub-frame period near `period`: maximise the autocorrelation summed over every multiple that fits. */
static double refine_period(const acf *a, double period)
{
	double p_best = period, s_best = -INFINITY;
	for (double p = period * 0.985; p <= period * 1.015; p += 0.002) {
		double s = 0.0;
		size_t k_max = (size_t)((double)a->len / p);
		for (size_t k = 1; k <= k_max; k++)
			s += acf_at(a, (double)k * p);
		if (s > s_best) {
			s_best = s;
			p_best = p;
		}
	}
	return p_best;
}

/* Least-squares line through the beat frames bt[] against their beat numbers (counted in periods from
 * the first, so a skipped beat does not bias it). Returns its slope when it is within 2 % of `period` and
 * the rms distance of the beats from the line is below TEMPO_FIT_RES periods, else `period` (the
 * autocorrelation estimate is the more robust one for irregular beat tracks). */
static double fit_period(const double *bt, size_t nb, double period)
{
	if (nb < 8)
		return period;
	double sk = 0.0, st = 0.0, skk = 0.0, skt = 0.0;
	for (size_t i = 0; i < nb; i++) {
		double k = round((bt[i] - bt[0]) / period);
		sk += k;
		st += bt[i];
		skk += k * k;
		skt += k * bt[i];
	}
	double m = (double)nb;
	double den = m * skk - sk * sk;
	if (!(den > 0.0))
		return period;
	double slope = (m * skt - sk * st) / den;
	double icpt = (st - slope * sk) / m;
	double res = 0.0;
	for (size_t i = 0; i < nb; i++) {
		double d = bt[i] - (icpt + slope * round((bt[i] - bt[0]) / period));
		res += d * d;
	}
	res = sqrt(res / m);
	return fabs(slope / period - 1.0) < 0.02 && res < TEMPO_FIT_RES * period ? slope : period;
}

/* 1 - 4 * (coefficient of variation of the beat intervals), clamped to 0..1. */
static double regularity(const double *bt, size_t nb)
{
	if (nb < 3)
		return 0.0;
	double s = 0.0, sq = 0.0;
	for (size_t i = 1; i < nb; i++) {
		double d = bt[i] - bt[i - 1];
		s += d;
		sq += d * d;
	}
	double m = s / (double)(nb - 1);
	double sd = sqrt(fmax(0.0, sq / (double)(nb - 1) - m * m));
	return m > 0.0 ? clamp01(1.0 - 4.0 * sd / m) : 0.0;
}

/* Low-band flux: half-wave rectified rise of the lowest TEMPO_LOW_BANDS log band energies, averaged.
 * Returns a malloc'd array of n_frames values or NULL (out of memory). */
static float *low_novelty(const ss_onset *on)
{
	size_t n = on->n_frames, nb = on->n_bands, nl = nb < TEMPO_LOW_BANDS ? nb : TEMPO_LOW_BANDS;
	float *v = malloc((n > 0 ? n : 1) * sizeof *v);
	if (v == NULL)
		return NULL;
	for (size_t t = 0; t < n; t++) {
		float acc = 0.0f;
		for (size_t k = 0; t > 0 && k < nl; k++) {
			float d = on->bands[t * nb + k] - on->bands[(t - 1) * nb + k];
			if (d > 0.0f)
				acc += d;
		}
		v[t] = nl > 0 ? acc / (float)nl : 0.0f;
	}
	return v;
}

/* The best prior-weighted salience over the tempo grid (the scale of the candidates' scores). */
static double grid_best(const evidence *ev, double fr)
{
	double best = 0.0;
	for (double b = TEMPO_BPM_MIN; b <= TEMPO_BPM_MAX; b *= TEMPO_GRID_STEP) {
		double c = salience(ev, 60.0 * fr / b) * prior(b);
		if (c > best)
			best = c;
	}
	return best;
}

/* Score of the reading bpm: its best prior-weighted salience within +-2 % (the tolerance choose_tempo gives
 * a relative), over the best on the grid, clamped to 0..1. */
static double reading_score(const evidence *ev, double fr, double bpm, double best)
{
	double s = 0.0;
	for (double f = 0.98; f <= 1.0201; f += 0.002) {
		double b = bpm * f;
		double c = salience(ev, 60.0 * fr / b) * prior(b);
		if (c > s)
			s = c;
	}
	return best > 0.0 ? clamp01(s / best) : 0.0;
}

/* The readings a DJ would weigh against the chosen tempo out->bpm: half and double, and in a metre of three
 * (3/4, 6/8) also 2/3 and 3/2, each scored by the same periodicity evidence and prior that chose
 * the tempo. The chosen tempo comes first (whatever its score: the off-beat and near-tie rules may prefer it
 * to a better-scored relative), then the best two of the others within 30..300 BPM, best first (ties
 * in the order listed). Fills out->candidates. */
static void tempo_candidates(const evidence *ev, double fr, ss_tempo *out)
{
	static const double ratios[] = {0.5, 2.0, 2.0 / 3.0, 1.5};
	double best = grid_best(ev, fr);
	int triple = out->time_signature != NULL &&
		     (strcmp(out->time_signature, "3/4") == 0 || strcmp(out->time_signature, "6/8") == 0);
	size_t nr = triple ? 4 : 2;
	ss_bpm_candidate alt[4];
	size_t na = 0;
	out->candidates[0].bpm = out->bpm;
	out->candidates[0].score = reading_score(ev, fr, out->bpm, best);
	out->n_candidates = 1;
	for (size_t i = 0; i < nr; i++) {
		double b = out->bpm * ratios[i];
		if (b < TEMPO_ALT_MIN || b > TEMPO_ALT_MAX)
			continue;
		ss_bpm_candidate c = {.bpm = b, .score = reading_score(ev, fr, b, best)};
		size_t j = na++;
		while (j > 0 && alt[j - 1].score < c.score) { /* insertion sort: stable, best first */
			alt[j] = alt[j - 1];
			j--;
		}
		alt[j] = c;
	}
	for (size_t i = 0; i < na && out->n_candidates < SS_BPM_CANDIDATES; i++)
		out->candidates[out->n_candidates++] = alt[i];
}

static void no_pulse(ss_tempo *out)
{
	free(out->beats);
	out->beats = NULL;
	out->n_beats = 0;
	free(out->downbeats);
	out->downbeats = NULL;
	out->n_downbeats = 0;
	out->n_candidates = 0;
	out->time_signature = NULL;
	out->time_signature_confidence = 0.0;
	out->bpm = NAN;
	out->confidence = 0.0;
	out->beats_per_bar = 4;
	out->pulse_clarity = 0.0;
	out->beat_regularity = 0.0;
}

/* Beats, their sub-frame times, the fitted period and the metre; fills out. */
static int track(const ss_onset *on, double period, double clarity, double margin, ss_tempo *out,
		 ss_error *err)
{
	size_t *bf = NULL, nbf = 0;
	if (ss_beats_track(on->novelty, on->n_frames, period, TEMPO_TIGHTNESS, &bf, &nbf, err) != 0)
		return -1;
	double *bt = nbf > 0 ? malloc(nbf * sizeof *bt) : NULL;
	if (nbf > 0 && bt == NULL) {
		free(bf);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for beats");
	}
	for (size_t i = 0; i < nbf; i++)
		bt[i] = peak_time(on->novelty, on->n_frames, bf[i]);
	period = fit_period(bt, nbf, period);
	ss_meter meter;
	if (ss_meter_analyze(on, bf, nbf, &meter, err) != 0) {
		free(bf);
		free(bt);
		return -1;
	}
	for (size_t i = 0; i < nbf; i++)
		bt[i] = fmax(0.0, bt[i] / on->frame_rate + on->lead);
	size_t bpb = (size_t)meter.beats_per_bar, nd = 0;
	double *db = NULL;
	if (meter.has_downbeats && meter.phase < nbf) {
		nd = (nbf - meter.phase + bpb - 1) / bpb;
		db = malloc(nd * sizeof *db);
		if (db == NULL) {
			free(bf);
			free(bt);
			return ss_error_set(err, SS_ERR_NOMEM, "out of memory for downbeats");
		}
		for (size_t i = 0; i < nd; i++)
			db[i] = bt[meter.phase + i * bpb];
	}

	out->bpm = 60.0 * on->frame_rate / period;
	out->pulse_clarity = clarity;
	out->confidence = confidence_of(clarity, margin);
	out->beats = bt;
	out->n_beats = nbf;
	out->beats_per_bar = meter.beats_per_bar;
	out->time_signature = meter.time_signature;
	out->time_signature_confidence = meter.confidence;
	out->downbeats = db;
	out->n_downbeats = nd;
	out->beat_regularity = regularity(bt, nbf);
	out->beat_frames = bf;
	out->n_frames_beats = nbf;
	out->meter = meter;
	return 0;
}

/* The chord rule (harmonic rhythm as metrical evidence, Goto and Muraoka 1999; Goto 2001): chords change at bar
 * or half-bar positions. Music notated at 184 BPM with a chord per bar of four beats, read at 92, changes chord
 * on every other tracked beat and on nothing in between; music read right at 92 changes every four or eight
 * tracked beats, or irregularly. 1 when, over beats t tracked four to the bar at a tempo whose double is at most
 * TEMPO_UP_MAX, the harmonic change at the beats (chord_change.h, over the work signal x, n samples at sr Hz) is
 * strong on alternate beats (the contrast of its mean on even and odd beats, (a - b) / (a + b), at least
 * TEMPO_CHORD_ALT) and the half bar changes nearly as much as the bar's strongest position (its mean at least
 * TEMPO_CHORD_HALF of it): the tempo is then twice the tracked one. Renders of real scores seldom change chord
 * this regularly, and are left alone; music at 92 whose chords change every half bar with nothing changing in
 * between would be doubled. Returns 0 (result in *yes), or -1 with err (SS_ERR_NOMEM). */
static int chords_on_alternate_beats(const ss_tempo *t, const float *x, size_t n, double sr, int *yes, ss_error *err)
{
	*yes = 0;
	if (x == NULL || !(sr >= 4000.0) || t->beats_per_bar != 4 || t->n_beats < TEMPO_CHORD_BEATS ||
	    !(2.0 * t->bpm <= TEMPO_UP_MAX))
		return 0;
	size_t nd = t->n_beats - 2;
	double *d = malloc(nd * sizeof *d);
	if (d == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for tempo");
	if (ss_chord_change_at_beats(x, n, sr, t->beats, t->n_beats, d, err) != 0) {
		free(d);
		return -1;
	}
	double s4[4] = {0}, m4[4];
	size_t c4[4] = {0};
	for (size_t i = 0; i < nd; i++)
		if (!isnan(d[i])) {
			s4[i % 4] += d[i];
			c4[i % 4]++;
		}
	free(d);
	size_t b = 0;
	for (size_t k = 0; k < 4; k++) {
		if (c4[k] < 2)
			return 0;
		m4[k] = s4[k] / (double)c4[k];
		if (m4[k] > m4[b])
			b = k;
	}
	double even = (s4[0] + s4[2]) / (double)(c4[0] + c4[2]), odd = (s4[1] + s4[3]) / (double)(c4[1] + c4[3]);
	if (!(m4[b] > 0.0))
		return 0;
	double alt = fabs(even - odd) / (even + odd);
	*yes = alt >= TEMPO_CHORD_ALT && m4[(b + 2) % 4] >= TEMPO_CHORD_HALF * m4[b];
	return 0;
}

/* The pulse in on->novelty: sets *found and fills out (bpm, beats, metre, candidates; the confidence scaled
 * by conf_scale) when the novelty has at least TEMPO_MIN_ONSETS onsets and is periodic above the noise
 * level, else leaves out without a pulse (pulse_clarity set when it was measured). Returns 0 or -1 with
 * err. */
static int pulse(const ss_onset *on, size_t onsets, double conf_scale, const float *wx, size_t wn, double wsr,
		 int *found, ss_tempo *out, ss_error *err)
{
	const size_t N = on->n_frames;
	const double fr = on->frame_rate;
	*found = 0;
	size_t L = (size_t)ceil(TEMPO_MAX_LAG_SEC * fr);
	if (L > N / 2)
		L = N / 2;
	if (onsets < TEMPO_MIN_ONSETS || (double)L < 2.0 * 60.0 * fr / TEMPO_BPM_MAX)
		return 0;
	evidence ev = {{NULL, 0}, {NULL, 0}};
	float *lown = low_novelty(on);
	if (lown == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for tempo");
	int rc = novelty_acf(on->novelty, N, fr, L, &ev.full, err);
	if (rc == 0)
		rc = novelty_acf(lown, N, fr, L, &ev.low, err);
	if (rc != 0) {
		free(lown);
		free(ev.full.r);
		return -1;
	}
	double best_s = 0.0;
	double bpm = ev.full.r != NULL ? choose_tempo(&ev, on->novelty, lown, N, fr, &best_s) : NAN;
	free(lown);
	if (isnan(bpm)) {
		free(ev.full.r);
		free(ev.low.r);
		return 0;
	}
	double period = 60.0 * fr / bpm;
	double clarity = clamp01(comb(&ev.full, period, TEMPO_NH));
	double margin = unrelated_margin(&ev, fr, bpm, best_s);
	/* Is there a pulse? At the beat or at the metrical level above it: a hymn whose organ chords are held
	 * over the bar and whose bass moves in half notes has its only regular onsets at half the beat rate,
	 * below the tempo range, and the beat's comb (teeth on the silent beats 2 and 4) then sits under the
	 * gate although the periodicity is plain (the pulse clarity of Lartillot et al. 2008 is likewise the
	 * strongest autocorrelation peak, whatever level it is at). Or in the low band alone: a voice over a beat
	 * (rap, speech over a backing track) fills the full band with syllables at an uneven 3-7 a second that bury
	 * the beat's periodicity there, while the kick and bass below the voice keep it. The clarity reported and
	 * used for the confidence stays the full band's beat's. */
	double gate = fmax(clarity, clamp01(comb(&ev.full, 2.0 * period, TEMPO_NH)));
	gate = fmax(gate, clamp01(comb(&ev.low, period, TEMPO_NH)));
	if (gate < TEMPO_MIN_CLARITY || gate < 2.5 / sqrt((double)N)) {
		free(ev.full.r);
		free(ev.low.r);
		out->pulse_clarity = clarity;
		return 0;
	}
	period = refine_period(&ev.full, period);
	rc = track(on, period, clarity, margin, out, err);
	/* The chord rule doubles only to a level that is a pulse of its own (passes the gate above: chords that
	 * change on alternate beats with no onset between them are no evidence for the faster level) and nearly as
	 * clear as the tracked one: music at 80-105 BPM whose chords change every half bar has onsets between its
	 * beats too, but their comb is weaker (half-bar MMA grooves doubled wrongly: 0.40-0.59 of the tracked
	 * level's, but two of seven; fast grooves read at half: 0.69-0.99, but two of nineteen). */
	int twice = 0;
	double half = refine_period(&ev.full, period / 2.0), half_clarity = clamp01(comb(&ev.full, half, TEMPO_NH));
	if (rc == 0 && half_clarity >= TEMPO_MIN_CLARITY && half_clarity >= TEMPO_CHORD_COMB * clarity)
		rc = chords_on_alternate_beats(out, wx, wn, wsr, &twice, err);
	if (rc == 0 && twice) {
		/* track again at half the period; the unrelated margin is the same (the double is related) */
		free(out->beats);
		free(out->downbeats);
		free(out->beat_frames);
		out->beats = out->downbeats = NULL;
		out->beat_frames = NULL;
		out->n_beats = out->n_downbeats = out->n_frames_beats = 0;
		rc = track(on, half, half_clarity, margin, out, err);
	}
	if (rc == 0) {
		out->confidence *= conf_scale;
		out->confidence_scale = conf_scale;
		tempo_candidates(&ev, fr, out);
		*found = 1;
	}
	free(ev.full.r);
	free(ev.low.r);
	return rc;
}

/* Slow rises: the half-wave rectified rise of every log band energy over TEMPO_SLOW_SEC, averaged over the
 * bands. Returns a malloc'd array of n_frames values or NULL (out of memory). */
static float *slow_novelty(const ss_onset *on)
{
	size_t n = on->n_frames, nb = on->n_bands;
	size_t k = (size_t)lround(TEMPO_SLOW_SEC * on->frame_rate);
	if (k < 1)
		k = 1;
	float *v = malloc((n > 0 ? n : 1) * sizeof *v);
	if (v == NULL)
		return NULL;
	for (size_t t = 0; t < n; t++) {
		float acc = 0.0f;
		for (size_t b = 0; t >= k && b < nb; b++) {
			float d = on->bands[t * nb + b] - on->bands[(t - k) * nb + b];
			if (d > 0.0f)
				acc += d;
		}
		v[t] = nb > 0 ? acc / (float)nb : 0.0f;
	}
	return v;
}

/* 1 when the slow rises v[0..n) fluctuate as evenly as those of stationary noise (their standard deviation
 * below TEMPO_SLOW_CV times their mean; swelled notes give a few large rises and many small ones), or are
 * all zero. */
static int stationary(const float *v, size_t n)
{
	double s = 0.0, sq = 0.0;
	for (size_t t = 0; t < n; t++) {
		s += v[t];
		sq += (double)v[t] * v[t];
	}
	if (n == 0 || !(s > 0.0))
		return 1;
	double m = s / (double)n, sd = sqrt(fmax(0.0, sq / (double)n - m * m));
	return sd < TEMPO_SLOW_CV * m;
}

int ss_tempo_analyze(const float *x, size_t n, double sr, ss_tempo *out, ss_error *err)
{
	memset(out, 0, sizeof *out);
	no_pulse(out);
	ss_work_signal w;
	if (ss_onset_work_signal(x, n, sr, &w, err) != 0)
		return -1;
	int rc = ss_tempo_analyze_work(x, n, sr, &w, out, err);
	ss_work_signal_free(&w);
	return rc;
}

int ss_tempo_analyze_work(const float *x, size_t n, double sr, const ss_work_signal *w, ss_tempo *out,
			  ss_error *err)
{
	memset(out, 0, sizeof *out);
	no_pulse(out);
	if (!(sr >= 1000.0) || !isfinite(sr) || (x == NULL && n > 0))
		return ss_error_set(err, SS_ERR_INTERNAL, "bad input for tempo analysis");

	/* Silence (below -100 dBFS RMS) has no pulse. */
	double e = ss_signal_energy(x, n);
	if (n == 0 || e / (double)n < 1e-10)
		return 0;

	ss_onset on;
	if (ss_onset_analyze_work(x, n, sr, w, &on, err) != 0)
		return -1;
	size_t onsets = ss_onset_count(&on);
	out->onset_density = (double)onsets / ((double)n / sr);
	int found = 0;
	const float *wx = w->x != NULL ? w->x : x;
	size_t wn = w->x != NULL ? w->n : n;
	double wsr = w->x != NULL ? w->sr : sr;
	int rc = pulse(&on, onsets, 1.0, wx, wn, wsr, &found, out, err);
	if (rc == 0 && !found) {
		/* No pulse in the onset novelty. Music whose notes swell in (a slow hymn, soft legato lines) has
		 * its rhythm in slower rises of the band energies, which the novelty's local mean removes: look
		 * for the pulse there, with the same gates (at least TEMPO_MIN_ONSETS rises, periodicity above
		 * the noise level) and half the confidence, unless the rises are as even as those of stationary
		 * noise. A steady tone or chord, stationary noise and silence have no periodic rises and keep no
		 * tempo. */
		float *slow = slow_novelty(&on);
		if (slow == NULL) {
			rc = ss_error_set(err, SS_ERR_NOMEM, "out of memory for tempo");
		} else if (stationary(slow, on.n_frames)) {
			free(slow);
		} else {
			float *fast = on.novelty;
			on.novelty = slow;
			double clarity = out->pulse_clarity;
			rc = pulse(&on, ss_onset_count(&on), TEMPO_SLOW_CONF, wx, wn, wsr, &found, out, err);
			/* the beats were tracked on the slow rises: those are the novelty kept for their metre */
			on.novelty = rc == 0 && found ? slow : fast;
			free(rc == 0 && found ? fast : slow);
			if (rc == 0 && !found)
				out->pulse_clarity = clarity;
		}
	}
	if (rc == 0 && found && out->beat_frames != NULL) {
		out->onset = on; /* moved: ss_tempo_free frees it */
		return 0;
	}
	ss_onset_free(&on);
	if (rc != 0)
		ss_tempo_free(out); /* a failure leaves nothing to free */
	return rc;
}

/* The beats of t in the part from start to end seconds: indices [*a, *b) of t's beats. Beat frame f is at
 * f / frame_rate + lead seconds. */
static void span_beats(const ss_tempo *t, double start, double end, size_t *a, size_t *b)
{
	assert(t->onset.frame_rate > 0.0);
	size_t i = 0, j;
	while (i < t->n_frames_beats && (double)t->beat_frames[i] / t->onset.frame_rate + t->onset.lead < start)
		i++;
	for (j = i; j < t->n_frames_beats && (double)t->beat_frames[j] / t->onset.frame_rate + t->onset.lead < end; j++)
		;
	*a = i;
	*b = j;
}

int ss_tempo_of_span(const ss_tempo *t, double start, double end, ss_span_tempo *out, ss_error *err)
{
	out->bpm = NAN;
	out->confidence = t->confidence;
	if (t->beat_frames == NULL || !(t->bpm > 0.0))
		return 0;
	const ss_onset *on = &t->onset;
	const double fr = on->frame_rate;
	/* frame f holds what happened at f / fr + lead seconds */
	double fa = ceil((start - on->lead) * fr), fb = ceil((end - on->lead) * fr);
	size_t a = fa > 0.0 ? (fa < (double)on->n_frames ? (size_t)fa : on->n_frames) : 0;
	size_t b = fb > (double)a ? (fb < (double)on->n_frames ? (size_t)fb : on->n_frames) : a;
	if (a == 0 && b == on->n_frames)
		return 0; /* the whole track */
	size_t n = b - a, L = (size_t)ceil(TEMPO_MAX_LAG_SEC * fr);
	if (L > n / 2)
		L = n / 2;
	const double period = 60.0 * fr / t->bpm;
	if ((double)L < 2.0 * period)
		return 0; /* too short for two periods of lag */
	float *low = low_novelty(on);
	if (low == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for tempo");
	evidence ev = {{NULL, 0}, {NULL, 0}};
	int rc = novelty_acf(on->novelty + a, n, fr, L, &ev.full, err);
	if (rc == 0)
		rc = novelty_acf(low + a, n, fr, L, &ev.low, err);
	if (rc == 0 && ev.full.r == NULL)
		out->confidence = 0.0; /* nothing periodic in the span (silence, a held chord) */
	if (rc == 0 && ev.full.r != NULL) {
		/* the span's own evidence for the track's tempo: its best prior-weighted salience within +-2 % */
		double here = 0.0;
		for (double f = 0.98; f <= 1.0201; f += 0.002) {
			double c = salience(&ev, period / f) * prior(t->bpm * f);
			if (c > here)
				here = c;
		}
		out->confidence = here > 0.0 ? confidence_of(clamp01(comb(&ev.full, period, TEMPO_NH)),
							     unrelated_margin(&ev, fr, t->bpm, here)) *
						       t->confidence_scale
					     : 0.0;
		/* the span's own reading, by the rules that chose the track's; taken when it is another tempo and
		 * clearly so. Not another metrical level of the track's beat: a multiple or fraction, nor 3:2, 2:3,
		 * 4:3 or 3:4 of it (a short span of music in one tempo reads those where the whole reads the beat). */
		double own_s = 0.0, own = choose_tempo(&ev, on->novelty + a, low + a, n, fr, &own_s);
		if (isfinite(own) && own_s > 0.0 && !beat_level(own, t->bpm)) {
			double p = refine_period(&ev.full, 60.0 * fr / own);
			double c = confidence_of(clamp01(comb(&ev.full, p, TEMPO_NH)), unrelated_margin(&ev, fr, own, own_s)) *
				   t->confidence_scale;
			if (c >= TEMPO_SPAN_MOVE && c > out->confidence) {
				out->bpm = 60.0 * fr / p;
				out->confidence = c;
			}
		}
	}
	free(low);
	free(ev.full.r);
	free(ev.low.r);
	return rc;
}

int ss_tempo_meter_of_span(const ss_tempo *t, double start, double end, ss_meter *out, ss_error *err)
{
	if (t->beat_frames == NULL) {
		ss_meter none;
		ss_meter_analyze(&t->onset, NULL, 0, &none, err); /* the default metre (no beats: cannot fail) */
		*out = none;
		return 0;
	}
	size_t a, b;
	span_beats(t, start, end, &a, &b);
	if (ss_meter_of_span(&t->onset, t->beat_frames + a, b - a, &t->meter, out, err) != 0)
		return -1;
	out->phase += a; /* an index into t's beats */
	return 0;
}

int ss_tempo_part_downbeats(const ss_tempo *t, const double *starts, const ss_meter *metres, size_t n, double **out,
			    size_t *n_out, ss_error *err)
{
	*out = NULL;
	*n_out = 0;
	if (t->beat_frames == NULL || t->n_beats == 0)
		return 0; /* no beats, no bar lines */
	double *db = malloc(t->n_beats * sizeof *db); /* bar lines are beats: at most one a beat */
	if (db == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for downbeats");
	size_t nd = 0, k = 0; /* k: the next of t's downbeats */
	for (size_t i = 0; i < n; i++) {
		size_t a, b;
		span_beats(t, starts[i], i + 1 < n ? starts[i + 1] : HUGE_VAL, &a, &b);
		const ss_meter *m = &metres[i];
		if (m->has_downbeats && strcmp(m->time_signature, t->time_signature) != 0) {
			assert(m->phase >= a && m->beats_per_bar > 0);
			for (size_t j = m->phase; j < b; j += (size_t)m->beats_per_bar)
				db[nd++] = t->beats[j];
		} else {
			/* the track's downbeats among this part's beats (downbeats are beats, so they compare equal) */
			double lo = a < t->n_beats ? t->beats[a] : HUGE_VAL, hi = b < t->n_beats ? t->beats[b] : HUGE_VAL;
			while (k < t->n_downbeats && t->downbeats[k] < lo)
				k++;
			for (; k < t->n_downbeats && t->downbeats[k] < hi; k++)
				db[nd++] = t->downbeats[k];
		}
		assert(nd <= t->n_beats);
	}
	*out = db;
	*n_out = nd;
	return 0;
}

void ss_tempo_free(ss_tempo *t)
{
	if (t == NULL)
		return;
	free(t->beats);
	free(t->downbeats);
	free(t->beat_frames);
	ss_onset_free(&t->onset);
	memset(t, 0, sizeof *t);
}
