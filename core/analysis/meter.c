/* Metre and downbeats.
 *
 * Bar length: the beat-synchronous accent features are compared across the beats of each candidate bar
 * length, in the manner of Gouyon & Herrera, "Determination of the meter of musical audio signals: seeking
 * recurrences in beat segment descriptors" (AES 114th Convention, 2003): the bar length whose one position
 * stands out most from the others is the metre.
 *
 * Downbeats: the position within that bar with the strongest accent, where the accent includes the spectral
 * difference between consecutive beats, after Davies & Plumbley, "A spectral difference approach to downbeat
 * extraction in musical audio" (EUSIPCO 2006): the downbeat is the beat phase at which the spectrum changes
 * most (harmony changes at bar lines) together with onset and bass-onset strength, and (for the phase alone,
 * once the bar length is chosen) the level of the bass register against the rest of the spectrum, the bass
 * content feature of Durand, Bello, David & Richard, "Downbeat tracking with multiple features and deep neural
 * networks" (ICASSP 2015): the bass note of a bar sounds on its first beat. Without it an oom-pah-pah (bass on
 * 1, chords on 2 and 3) had its bar lines on beat 2, where the spectrum changes as much as on beat 1.
 *
 * Beat division (simple or compound time): onset strength one third and two thirds of the way through each
 * beat against half way, as in the tatum analysis of Klapuri, Eronen & Astola, "Analysis of the meter of
 * acoustic musical signals" (IEEE TASLP 14(1), 2006): a beat divided in three, with bars of two beats, is 6/8
 * read at the dotted quarter; bars of six beats with the accent pattern repeating every six (not every three)
 * are 6/8 read at the eighth note (when those beats are fast and undivided, as eighths are); bars of three beats
 * whose secondary accent falls half way through the bar (between the second and third beats, a hemiola against
 * 3/4) are 6/8 read at the quarter note.
 *
 * Bars of five and seven beats (5/4, 7/4; Spotify's time_signature 5 and 7) by the same recurrence measure:
 * a bar of m beats whose one position stands out gives a contrast at m and at no divisor or multiple of m
 * among 2, 3, 4 and 6, since 5 and 7 share no factor with them (its accents fall on every position of a bar
 * of four in turn). The best of more positions stands out more by chance, so these need twice the contrast
 * and a clear win over every common bar length, over at least four bars, and the recurrence itself: the
 * beat accents must correlate with those one bar and two bars later (Gouyon & Herrera's recurrence of beat
 * segment descriptors, as an autocorrelation at the bar lag); otherwise 4/4 stays the answer. */
#include "core/analysis/meter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define METER_MIN_BEATS 12
#define METER_LOW_BANDS 8
#define METER_FLOOR 0.03 /* features varying less than this (log-energy units) carry no accent */
#define METER_MIN_CONTRAST 0.5 /* a bar position must stand out by this much (in st. dev. of the accents) */
#define METER_WIN 1.2          /* ... and by this factor over the other bar lengths */
#define METER_DIVISION_ON 0.15 /* beat thirds or halves: onsets at least this fraction of the beats' ... */
#define METER_TERNARY_HALF 2.0 /* ... and this many times those half way through the beat */
#define METER_EIGHTH_MIN_BPM 100.0 /* 6/8 read at the eighth note: eighths at least this fast (slower, the same
				    * accents are 3/4 with alternating bars) */
#define METER_DOTTED_MAX_BPM 100.0 /* 6/8 read at the dotted quarter: at most this fast (eighths at 300 per
				    * minute); faster beats divided in three are swung or shuffled quarter notes */
#define METER_HEMIOLA 1.2      /* 6/8 read in quarters: mid-bar onsets this many times the weak beats' */
#define METER_BASS_BANDS 4     /* bar phase: level of the lowest bands (30 Hz to about 200 Hz) */
#define METER_ODD_CONTRAST 1.0 /* bars of five or seven beats: the first beat stands out by this much (twice
				* what the common metres need) ... */
#define METER_ODD_WIN 1.5      /* ... and by this factor over every other bar length */
#define METER_ODD_BARS 4       /* ... over at least this many bars */
#define METER_SPAN_MOVE 0.5    /* a part of the music (ss_meter_of_span) leaves the whole's metre only with this
				* confidence: of the 10 s spans of labelled music in one metre that departed from a
				* right whole, 8 reached 0.2 and 2 reached 0.4, none 0.5 */
#define METER_ODD_RECUR 0.5    /* ... and the accents recur: correlation of the beat accents with those one and
				* two bars later at least this (labelled 4/4 music: at most 0.37; bars of five or seven
				* accented beats: 0.94 and more) */

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

/* How much one phase of a bar of m beats stands out: best phase mean minus the mean of the rest; that phase
 * (the first on ties) in *phase. */
static double bar_contrast(const double *f, size_t n, size_t m, size_t *phase)
{
	double best = -INFINITY;
	*phase = 0;
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
		if (c > best) {
			best = c;
			*phase = ph;
		}
	}
	return best;
}

/* Pearson correlation of f[i] and f[i + lag] over the pairs that fit; 0 when either side is constant. */
static double lag_corr(const double *f, size_t n, size_t lag)
{
	if (lag + 2 > n)
		return 0.0;
	size_t m = n - lag;
	double ma = 0.0, mb = 0.0;
	for (size_t i = 0; i < m; i++) {
		ma += f[i];
		mb += f[i + lag];
	}
	ma /= (double)m;
	mb /= (double)m;
	double sab = 0.0, saa = 0.0, sbb = 0.0;
	for (size_t i = 0; i < m; i++) {
		double a = f[i] - ma, b = f[i + lag] - mb;
		sab += a * b;
		saa += a * a;
		sbb += b * b;
	}
	return saa > 0.0 && sbb > 0.0 ? sab / sqrt(saa * sbb) : 0.0;
}

/* Largest novelty within +-1 frame of fractional frame position at. */
static double novelty_near(const ss_onset *o, double at)
{
	if (!(at >= 0.0))
		return 0.0;
	size_t i = (size_t)lround(at);
	if (i >= o->n_frames)
		return 0.0;
	double v = o->novelty[i];
	if (i > 0 && o->novelty[i - 1] > v)
		v = o->novelty[i - 1];
	if (i + 1 < o->n_frames && o->novelty[i + 1] > v)
		v = o->novelty[i + 1];
	return v;
}

/* How the beat is divided: mean onset strength at both one and two thirds of each beat interval (the smaller
 * of the two, so that a swung off-beat alone does not count) and half way, against the beat's own. Returns 3
 * for a beat divided in three, 2 for one divided in two, 0 for undivided beats (or too short to tell). */
static int beat_division(const ss_onset *o, const size_t *beats, size_t n_beats)
{
	double on = 0.0, half = 0.0, third = 0.0;
	for (size_t i = 0; i + 1 < n_beats; i++) {
		double b = (double)beats[i], d = (double)(beats[i + 1] - beats[i]);
		if (d < 6.0) /* too short to tell a third from a half (+-1 frame) */
			return 0;
		on += novelty_near(o, b);
		half += novelty_near(o, b + d / 2.0);
		third += fmin(novelty_near(o, b + d / 3.0), novelty_near(o, b + 2.0 * d / 3.0));
	}
	if (!(on > 0.0))
		return 0;
	if (third > METER_DIVISION_ON * on && third > METER_TERNARY_HALF * half)
		return 3;
	return half > METER_DIVISION_ON * on ? 2 : 0;
}

/* Bars of three beats that are really 6/8 read at the quarter note (two eighths per beat): the strongest
 * onsets after the downbeat fall half way through the bar's second beat (the fourth eighth) rather than on
 * its second and third beats. Mean onset strength at that point against those beats, bars starting at
 * beats[phase]. */
static int hemiola(const ss_onset *o, const size_t *beats, size_t n_beats, size_t phase)
{
	double mid = 0.0, weak = 0.0, down = 0.0;
	for (size_t i = phase; i + 2 < n_beats; i += 3) {
		down += novelty_near(o, (double)beats[i]);
		weak += 0.5 * (novelty_near(o, (double)beats[i + 1]) + novelty_near(o, (double)beats[i + 2]));
		mid += novelty_near(o, 0.5 * (double)(beats[i + 1] + beats[i + 2]));
	}
	return mid > METER_HEMIOLA * weak && mid > METER_DIVISION_ON * down;
}

int ss_meter_estimate(const ss_onset *o, const size_t *beats, size_t n_beats, int *beats_per_bar,
		      ss_error *err)
{
	ss_meter m;
	int rc = ss_meter_analyze(o, beats, n_beats, &m, err);
	*beats_per_bar = m.beats_per_bar;
	return rc;
}

int ss_meter_analyze(const ss_onset *o, const size_t *beats, size_t n_beats, ss_meter *out, ss_error *err)
{
	out->beats_per_bar = 4;
	out->phase = 0;
	out->has_downbeats = 0;
	out->time_signature = "4/4";
	out->confidence = 0.0;
	if (n_beats < METER_MIN_BEATS || o->n_frames == 0)
		return 0;
	size_t nb = o->n_bands;
	size_t nlow = nb < METER_LOW_BANDS ? nb : METER_LOW_BANDS;
	double *acc = malloc(n_beats * sizeof *acc);
	double *low = malloc(n_beats * sizeof *low);
	double *chg = malloc(n_beats * sizeof *chg);
	double *bass = malloc(n_beats * sizeof *bass);
	double *prev = malloc(nb * sizeof *prev);
	double *cur = malloc(nb * sizeof *cur);
	if (acc == NULL || low == NULL || chg == NULL || bass == NULL || prev == NULL || cur == NULL) {
		free(bass);
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
		/* the bass register's level over the same span, above the rest of the spectrum's */
		double lo = 0.0, all = 0.0;
		size_t nbass = nb < METER_BASS_BANDS ? nb : METER_BASS_BANDS;
		for (size_t k = 0; k < nb; k++) {
			all += cur[k];
			if (k < nbass)
				lo += cur[k];
		}
		bass[i] = nbass > 0 && nb > nbass ? lo / (double)nbass - (all - lo) / (double)(nb - nbass) : 0.0;
	}
	chg[0] = chg[1];
	standardise(acc, n_beats, METER_FLOOR);
	standardise(low, n_beats, METER_FLOOR);
	standardise(chg, n_beats, METER_FLOOR);
	standardise(bass, n_beats, METER_FLOOR);
	for (size_t i = 0; i < n_beats; i++)
		acc[i] = acc[i] + low[i] + chg[i];
	size_t ph2, ph3, ph4, ph6, ph5, ph7;
	double c2 = bar_contrast(acc, n_beats, 2, &ph2);
	double c3 = bar_contrast(acc, n_beats, 3, &ph3);
	double c4 = bar_contrast(acc, n_beats, 4, &ph4);
	double c6 = bar_contrast(acc, n_beats, 6, &ph6);
	double c5 = bar_contrast(acc, n_beats, 5, &ph5);
	double c7 = bar_contrast(acc, n_beats, 7, &ph7);
	double common = fmax(fmax(c2, c3), fmax(c4, c6));
	int division = beat_division(o, beats, n_beats), ternary = division == 3;
	/* the beat rate, from the mean beat interval */
	double beat_bpm = 60.0 * o->frame_rate * (double)(n_beats - 1) / (double)(beats[n_beats - 1] - beats[0]);
	double c, rival; /* the chosen bar's contrast, and the best of the bar lengths it rules out */
	int odd = c5 >= c7 ? 5 : 7;
	double c_odd = odd == 5 ? c5 : c7, c_other = odd == 5 ? c7 : c5;
	if (n_beats >= (size_t)(METER_ODD_BARS * odd) && c_odd > METER_ODD_CONTRAST &&
	    c_odd > METER_ODD_WIN * fmax(common, c_other) && lag_corr(acc, n_beats, (size_t)odd) >= METER_ODD_RECUR &&
	    lag_corr(acc, n_beats, 2 * (size_t)odd) >= METER_ODD_RECUR) {
		out->beats_per_bar = odd;
		out->phase = odd == 5 ? ph5 : ph7;
		out->time_signature = odd == 5 ? "5/4" : "7/4";
		c = c_odd;
		rival = fmax(common, c_other);
	} else if (beat_bpm >= METER_EIGHTH_MIN_BPM && division == 0 && c3 > METER_MIN_CONTRAST &&
		   c6 > METER_WIN * c3 && c6 > METER_WIN * c4 && c6 > METER_WIN * c2) {
		/* a bar of six beats with one accent per bar: 6/8 at the eighth-note level */
		out->beats_per_bar = 6;
		out->phase = ph6;
		out->time_signature = "6/8";
		c = c6;
		rival = fmax(c4, fmax(c5, c7));
	} else if (c3 > METER_MIN_CONTRAST && c3 > METER_WIN * c4) {
		out->beats_per_bar = 3;
		out->phase = ph3;
		/* (a beat divided in three here is 9/8 in notation, rare enough to name 3/4) */
		out->time_signature = !ternary && hemiola(o, beats, n_beats, ph3) ? "6/8" : "3/4";
		c = c3;
		rival = fmax(fmax(c2, c4), fmax(c5, c7));
	} else if (ternary && beat_bpm <= METER_DOTTED_MAX_BPM && c2 >= c4) {
		/* compound duple: two dotted-quarter beats per bar */
		out->beats_per_bar = 2;
		out->phase = ph2;
		out->time_signature = "6/8";
		c = c2;
		rival = fmax(c3, fmax(c5, c7));
	} else {
		out->beats_per_bar = 4;
		out->phase = ph4;
		/* (a beat divided in three here is 12/8, or a swung or shuffled 4/4 as it is usually written) */
		out->time_signature = "4/4";
		c = c4;
		rival = fmax(c3, fmax(c5, c7));
	}
	/* Bar lines are placed only where some position of the bar stands out; identical beats give a metre by
	 * default and no downbeats. */
	out->has_downbeats = c > METER_MIN_CONTRAST;
	out->confidence = out->has_downbeats ? fmin(1.0, fmax(0.0, 1.0 - fmax(rival, 0.0) / c)) : 0.0;
	if (out->has_downbeats) {
		/* the bar phase: the accents plus the bass register's level (see the head of this file) */
		for (size_t i = 0; i < n_beats; i++)
			bass[i] += acc[i];
		bar_contrast(bass, n_beats, (size_t)out->beats_per_bar, &out->phase);
	}
	if (!out->has_downbeats)
		out->phase = 0;
	free(acc);
	free(low);
	free(chg);
	free(bass);
	free(prev);
	free(cur);
	return 0;
}

int ss_meter_of_span(const ss_onset *o, const size_t *beats, size_t n_beats, const ss_meter *whole, ss_meter *out,
		     ss_error *err)
{
	*out = *whole;
	if (n_beats < METER_MIN_BEATS)
		return 0;
	ss_meter own;
	if (ss_meter_analyze(o, beats, n_beats, &own, err) != 0)
		return -1;
	int same = strcmp(own.time_signature, whole->time_signature) == 0;
	if (own.has_downbeats && (same || own.confidence >= METER_SPAN_MOVE)) {
		*out = own;
		return 0;
	}
	out->phase = 0;
	out->has_downbeats = own.has_downbeats && same;
	out->confidence = own.has_downbeats && same ? own.confidence : 0.0;
	return 0;
}
