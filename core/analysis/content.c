/* Speech, voice and audience features and scores (content.h).
 *
 * Methods:
 * - Speech/music: Scheirer & Slaney, "Construction and evaluation of a robust multifeature speech/music
 *   discriminator", ICASSP 1997: the 4 Hz modulation energy of the speech band (syllable rate), the share of
 *   low-energy frames (speech pauses between words and syllables), the variance of the spectral flux (speech
 *   alternates between voiced, unvoiced and silent frames faster than music changes), and the variance of the
 *   spectral centroid (fricatives against vowels).
 * - Singing and speaking voices: voiced-pitch continuity of harmonic partials. Instruments hold a pitch, so a
 *   spectral peak stays in its bin from one 46 ms frame to the next; a voice glides between notes and sings
 *   with vibrato (5-7 Hz, a few tens of cents, which moves the partials above about 500 Hz by a bin or two at
 *   this resolution), after the partial-tracking vibrato cues of Nwe & Li, "Exploring vibrato-motivated
 *   acoustic features for singer identification", IEEE TASLP 2007, and Regnier & Peeters, "Singing voice
 *   detection in music tracks using direct voice vibrato detection", ICASSP 2009. Which way a moving peak goes
 *   next counts too: an instrument's partial that sits between two bins flips back and forth, while a voice's
 *   glide goes on (on the labelled set this separates them better than vibrato's own reversals, which at
 *   21.5 frames/s come every other frame or later).
 * - Vibrato proper: partial tracks read between bins (a parabola through the log powers around each peak), each
 *   0.37 s of a track with its straight line (a glide) removed judged for a 4-8 Hz swing of 15-120 cents that
 *   crosses its mean three or more times: Regnier & Peeters' direct vibrato detection on partials (ICASSP
 *   2009), with Prame's sung-vibrato rates and extents ("Vibrato extent and intonation in professional Western
 *   lyric singing", JASA 1997). A violin's vibrato and a held "ooh" read as vibrato too, so on its own it says
 *   "a voice-like source", not "lyrics".
 * - Lyrics: the 3-8 Hz modulation of the formant region's spectral shape (four band levels 300-3400 Hz minus
 *   their mean): consonants and changing vowels move it at syllable rate, a held vowel or an instrument's
 *   note much less (the modulation-spectrum view of speech, e.g. Greenberg & Kingsbury, "The modulation
 *   spectrogram", ICASSP 1997). With "ooh/aah" counted as instrumental (Spotify), this is what separates
 *   lyrics from a wordless voice.
 * - Sustain: how a new partial's level goes on over its first frames (from the 2nd frame to the 4th, 46-140 ms
 *   after it appears). A struck or plucked note (piano, guitar, mallets, most General-MIDI percussion-like
 *   patches) has decayed by then, a sung note holds or grows: the temporal-envelope cues of instrument
 *   recognition (Eronen & Klapuri, "Musical instrument recognition using cepstral coefficients and temporal
 *   features", ICASSP 2000; Peeters, "A large set of audio features for sound description", CUIDADO report
 *   2004: the temporal decrease), read here per partial track so that a voice over a decaying accompaniment
 *   still counts.
 * - Pitch fluctuation across bands: the fluctogram of Lehner, Widmer & Sonnleitner, "On the reduction of false
 *   positives in singing voice detection", ICASSP 2014, designed against instruments that a vibrato cue alone
 *   mistakes for a voice. The 600-4000 Hz magnitude spectrum is read on a log-frequency grid (20 cents), cut
 *   into overlapping 600-cent bands, and each band of a frame is cross-correlated with the same region of the
 *   previous frame within +-100 cents: the best shift is how far that band's partials moved. A voice's pitch
 *   never holds still (vibrato, scoops, drift) and moves all its partials at once; a sampled or synthesised
 *   instrument's note holds its pitch. Two clip-level numbers are kept: the spread of the moves over time per
 *   band, and the share of the moves that the bands have in common.
 * - Audience: the broadband noise floor between notes, estimated by minimum statistics (Martin, "Noise power
 *   spectral density estimation based on optimal smoothing and minimum statistics", IEEE TSAP 2001): a studio
 *   recording decays to a low, tonal floor between notes, a crowd keeps a flat noise floor under the music;
 *   and the share of frames that are loud, flat noise above 2 kHz (applause and cheering bursts).
 * Each score is a logistic function of a weighted sum of the standardised features; the weights were fitted by
 * logistic regression on half of the labelled audio that tools/features-evidence.py builds and are reported
 * on the other half (man/BENCHMARKS.md). Every sum runs in a fixed order, so results are deterministic. */
#include "core/analysis/content.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_BANDS 15          /* half-octave bands from 62.5 Hz for the band-level flux */
#define MOD_WIN 64          /* envelope frames per modulation window (about 3 s at 21.5 frames/s) */
#define PEAK_RANGE_DB 30.0  /* spectral peaks within this of the frame's strongest (200-4000 Hz) */
#define PEAK_PROMINENCE 8.0 /* power ratio (9 dB) of a partial's peak over the bins two away */
#define NEW_PEAK 100        /* mv_* value of a peak that continues none of the previous frame */
#define VIB_LEN 8           /* frames of a partial track judged for vibrato (0.37 s: 1.5-3 periods at 4-8 Hz) */
#define VIB_MIN_CENTS 15.0  /* vibrato extent (half the detrended swing), cents: singers' is 30-150 (Prame 1997) */
#define VIB_MAX_CENTS 120.0 /* wider is a note change or a glide, not vibrato */
#define VIB_MIN_BINS 0.12   /* and at least this many bins, above the jitter of a steady partial's estimate */
#define VIB_CROSSINGS 3     /* mean crossings in VIB_LEN frames: 4-8 Hz at 21.5 frames/s gives 2.8-5.6 */
#define N_SHAPE 4           /* bands of the 300-3400 Hz spectral shape (formant region) */
#define ATTACK_LEN 4        /* a new partial track's level is compared between its 2nd and this frame */
#define ATTACK_CLAMP_DB 20.0 /* one track's level change counts at most this much either way */
#define FL_LO_HZ 600.0      /* the fluctogram's log-frequency grid: from here */
#define FL_HI_HZ 4000.0     /* to here (at least), */
#define FL_STEP_CENTS 20.0  /* in steps of this many cents */
#define FL_BAND 30          /* grid points per band (600 cents), */
#define FL_BAND_HOP 15      /* a new band every this many (half-overlapping) */
#define FL_SHIFT 5          /* shifts tried: +-FL_SHIFT grid points (+-100 cents) */

static size_t bin_of(const ss_spectrogram *s, double hz)
{
	double k = ceil(hz * (double)s->n_fft / s->sr);
	if (k < 1.0)
		k = 1.0;
	return k > (double)s->n_bins ? s->n_bins : (size_t)k;
}

/* mean(p^2) / mean(p)^2 of a power row: about 2 for noise (exponentially distributed bin powers), large for
 * a few strong partials. Returned as a 0..1 noisiness, min(1, 2 / ratio); 0 without energy. */
static double noisiness(const double *p, size_t n)
{
	double s = 0.0, s2 = 0.0;
	for (size_t k = 0; k < n; k++) {
		s += p[k];
		s2 += p[k] * p[k];
	}
	if (!(s > 0.0) || n == 0)
		return 0.0;
	double ratio = s2 * (double)n / (s * s);
	double v = 2.0 / ratio;
	return v > 1.0 ? 1.0 : v;
}

/* Noisiness of p[lo..hi) over sub-bands of `width` bins (a spectral tilt within one band then matters little),
 * averaged with each sub-band's power as its weight: a quiet band of noise beside loud partials is not a noise
 * floor. 0 without energy. */
static double banded_noisiness(const double *p, size_t lo, size_t hi, size_t width)
{
	double acc = 0.0, total = 0.0;
	for (size_t k = lo; k + width <= hi; k += width) {
		double e = 0.0;
		for (size_t j = k; j < k + width; j++)
			e += p[j];
		acc += e * noisiness(p + k, width);
		total += e;
	}
	return total > 0.0 ? acc / total : 0.0;
}

typedef struct scratch {
	double *e;      /* frame power above 40 Hz */
	double *sp;     /* frame power 300-3400 Hz */
	double *hf;     /* frame power 2-8 kHz */
	double *cent;   /* spectral centroid, Hz (NaN without energy) */
	double *noisy;  /* 2-8 kHz noisiness */
	double *band;   /* N_BANDS band powers per frame */
	double *pow;    /* one power row */
	double *fmin;   /* per-bin minimum over a block */
	double *fsum;   /* per-bin sum over a block */
	double *shape;  /* N_SHAPE levels per frame (dB, minus their mean) */
	double *trk_prev, *trk_cur; /* per bin holding a peak: its track's last VIB_LEN frequencies, bins */
	int *len_prev, *len_cur;    /* per bin: frames in the track ending at that peak (0 without a peak) */
	double *lv1_prev, *lv1_cur; /* per bin: that track's level in its second frame, dB */
	unsigned char *pk_prev, *pk_cur;
	signed char *mv_prev, *mv_cur; /* how far each peak moved to get to its bin: 0 stayed, +-1/+-2, NEW */
} scratch;

/* The tables of a MOD_WIN-point DFT of a Hann-windowed window: cosines, sines, the window and its power. */
typedef struct mod_dft {
	double cs[MOD_WIN], sn[MOD_WIN], hann[MOD_WIN], h2;
} mod_dft;

static void mod_dft_init(mod_dft *d)
{
	d->h2 = 0.0;
	for (size_t i = 0; i < MOD_WIN; i++) {
		d->cs[i] = cos(2.0 * M_PI * (double)i / MOD_WIN);
		d->sn[i] = sin(2.0 * M_PI * (double)i / MOD_WIN);
		d->hann[i] = 0.5 - 0.5 * cos(2.0 * M_PI * ((double)i + 0.5) / MOD_WIN);
		d->h2 += d->hann[i] * d->hann[i];
	}
}

/* Power of bin m of the DFT of y[0..MOD_WIN) (already windowed). */
static double mod_dft_power(const mod_dft *d, const double *y, size_t m)
{
	double re = 0.0, im = 0.0;
	for (size_t i = 0; i < MOD_WIN; i++) {
		size_t j = (m * i) % MOD_WIN;
		re += y[i] * d->cs[j];
		im -= y[i] * d->sn[j];
	}
	return re * re + im * im;
}

/* RMS (in the series' units) of the lo..hi Hz modulation of series x[0..T) sampled at fps, averaged over
 * windows of MOD_WIN frames (Hann, mean removed, hop MOD_WIN / 2); NaN when T < MOD_WIN. x is read with the
 * given stride (one band of a frames x bands matrix). */
static double modulation_rms(const double *x, size_t T, size_t stride, double fps, double lo, double hi)
{
	if (T < MOD_WIN)
		return NAN;
	size_t m_lo = (size_t)ceil(lo * MOD_WIN / fps), m_hi = (size_t)floor(hi * MOD_WIN / fps);
	if (m_hi > MOD_WIN / 2 - 1)
		m_hi = MOD_WIN / 2 - 1;
	if (m_lo < 1)
		m_lo = 1;
	mod_dft d;
	mod_dft_init(&d);
	double y[MOD_WIN];
	double acc = 0.0;
	size_t nw = 0;
	for (size_t t0 = 0; t0 + MOD_WIN <= T; t0 += MOD_WIN / 2) {
		double mean = 0.0;
		for (size_t i = 0; i < MOD_WIN; i++)
			mean += x[(t0 + i) * stride];
		mean /= MOD_WIN;
		for (size_t i = 0; i < MOD_WIN; i++)
			y[i] = (x[(t0 + i) * stride] - mean) * d.hann[i];
		double p = 0.0;
		for (size_t m = m_lo; m <= m_hi; m++)
			p += mod_dft_power(&d, y, m);
		/* Parseval: both sidebands of the band, per sample of the window, undoing the window's power */
		acc += 2.0 * p / ((double)MOD_WIN * d.h2);
		nw++;
	}
	return sqrt(acc / (double)nw);
}

/* Frequency of the partial at bin k in bins, read between bins by a parabola through the log powers of k - 1,
 * k, k + 1 (within +-0.5 bin of k). */
static double peak_bin(const double *p, size_t k)
{
	double a = log(p[k - 1] + 1e-30), b = log(p[k] + 1e-30), c = log(p[k + 1] + 1e-30);
	double den = a - 2.0 * b + c;
	double d = den < 0.0 ? 0.5 * (a - c) / den : 0.0;
	if (d > 0.5)
		d = 0.5;
	if (d < -0.5)
		d = -0.5;
	return (double)k + d;
}

/* Judge the track window h[0..VIB_LEN) (cents) for vibrato: remove its straight line (a glide), then the swing
 * must be VIB_MIN_CENTS..VIB_MAX_CENTS (and VIB_MIN_BINS at this frequency) and cross its mean VIB_CROSSINGS
 * times or more. */
static int is_vibrato(const double *h, double cents_per_bin)
{
	const double n = VIB_LEN, mi = (n - 1.0) / 2.0;
	double my = 0.0, sxy = 0.0, sxx = 0.0;
	for (size_t i = 0; i < VIB_LEN; i++)
		my += h[i];
	my /= n;
	for (size_t i = 0; i < VIB_LEN; i++) {
		sxy += ((double)i - mi) * (h[i] - my);
		sxx += ((double)i - mi) * ((double)i - mi);
	}
	const double b = sxy / sxx;
	double r[VIB_LEN], lo = 0.0, hi = 0.0;
	for (size_t i = 0; i < VIB_LEN; i++) {
		r[i] = h[i] - my - b * ((double)i - mi);
		lo = i == 0 || r[i] < lo ? r[i] : lo;
		hi = i == 0 || r[i] > hi ? r[i] : hi;
	}
	const double ext = 0.5 * (hi - lo);
	if (ext < VIB_MIN_CENTS || ext > VIB_MAX_CENTS || ext < VIB_MIN_BINS * cents_per_bin)
		return 0;
	int crossings = 0;
	for (size_t i = 1; i < VIB_LEN; i++)
		crossings += (r[i] > 0.0) != (r[i - 1] > 0.0);
	return crossings >= VIB_CROSSINGS;
}

static void features_speech(const ss_spectrogram *s, const unsigned char *active, const scratch *w,
			    ss_content_features *out)
{
	const size_t T = s->n_frames;
	const double fps = s->sr / (double)s->hop;

	/* low-energy frames: RMS < 0.5 x mean RMS over the surrounding second (Scheirer & Slaney) */
	size_t half = (size_t)(fps / 2.0 + 0.5);
	double run = 0.0;
	size_t lo = 0, hi = 0, n_low = 0, n_all = 0;
	for (size_t t = 0; t < T; t++) {
		size_t a = t > half ? t - half : 0, b = t + half + 1 < T ? t + half + 1 : T;
		while (hi < b)
			run += sqrt(w->e[hi++]);
		while (lo < a)
			run -= sqrt(w->e[lo++]);
		double mean = run / (double)(b - a);
		if (!(mean > 0.0))
			continue;
		n_all++;
		n_low += sqrt(w->e[t]) < 0.5 * mean;
	}
	out->low_energy = n_all > 0 ? (double)n_low / (double)n_all : NAN;

	/* 4 Hz modulation of the speech-band envelope (dB, floored 60 dB under its maximum) */
	double smax = 0.0;
	for (size_t t = 0; t < T; t++)
		if (w->sp[t] > smax)
			smax = w->sp[t];
	if (T >= MOD_WIN && smax > 0.0) {
		const double env_floor = smax * 1e-6;
		size_t m_lo = (size_t)ceil(1.0 * MOD_WIN / fps), m_hi = (size_t)floor(10.0 * MOD_WIN / fps);
		size_t m4_lo = (size_t)ceil(3.0 * MOD_WIN / fps), m4_hi = (size_t)floor(6.0 * MOD_WIN / fps);
		if (m_hi > MOD_WIN / 2)
			m_hi = MOD_WIN / 2;
		mod_dft d;
		mod_dft_init(&d);
		double x[MOD_WIN];
		double acc = 0.0;
		size_t nw = 0;
		for (size_t t0 = 0; t0 + MOD_WIN <= T; t0 += MOD_WIN / 2) {
			double mean = 0.0;
			for (size_t i = 0; i < MOD_WIN; i++) {
				x[i] = 10.0 * log10(w->sp[t0 + i] + env_floor);
				mean += x[i];
			}
			mean /= MOD_WIN;
			for (size_t i = 0; i < MOD_WIN; i++)
				x[i] = (x[i] - mean) * d.hann[i];
			double p4 = 0.0, pall = 0.0;
			for (size_t m = m_lo; m <= m_hi; m++) {
				double p = mod_dft_power(&d, x, m);
				pall += p;
				if (m >= m4_lo && m <= m4_hi)
					p4 += p;
			}
			if (pall > 0.0) {
				acc += p4 / pall;
				nw++;
			}
		}
		if (nw > 0)
			out->mod4 = acc / (double)nw;
	}

	/* spectral flux on band levels (dB, floored 50 dB under the loudest band, so that bands falling silent between
	 * drum hits do not swamp it) and centroid spread */
	double bmax = 0.0, emax = 0.0;
	for (size_t i = 0; i < T * N_BANDS; i++)
		if (w->band[i] > bmax)
			bmax = w->band[i];
	for (size_t t = 0; t < T; t++)
		if (w->e[t] > emax)
			emax = w->e[t];
	if (bmax > 0.0) {
		const double bfloor = bmax * 1e-5;
		double s1 = 0.0, s2 = 0.0, prev[N_BANDS];
		size_t n = 0;
		int have_prev = 0;
		for (size_t t = 0; t < T; t++) {
			if (active != NULL && !active[t]) {
				have_prev = 0;
				continue;
			}
			double cur[N_BANDS], d2 = 0.0;
			for (size_t j = 0; j < N_BANDS; j++) {
				cur[j] = 10.0 * log10(w->band[t * N_BANDS + j] + bfloor);
				double d = cur[j] - prev[j];
				d2 += have_prev ? d * d : 0.0;
			}
			if (have_prev) {
				double fl = sqrt(d2 / N_BANDS);
				s1 += fl;
				s2 += fl * fl;
				n++;
			}
			memcpy(prev, cur, sizeof prev);
			have_prev = 1;
		}
		if (n > 1) {
			double m = s1 / (double)n, v = s2 / (double)n - m * m;
			out->flux_sd = sqrt(v > 0.0 ? v : 0.0);
		}
	}
	if (emax > 0.0) {
		double s1 = 0.0, s2 = 0.0;
		size_t n = 0;
		for (size_t t = 0; t < T; t++) {
			if ((active != NULL && !active[t]) || !(w->e[t] > emax * 1e-4) || !(w->cent[t] > 0.0))
				continue;
			double c = log2(w->cent[t]);
			s1 += c;
			s2 += c * c;
			n++;
		}
		if (n > 1) {
			double m = s1 / (double)n, v = s2 / (double)n - m * m;
			out->centroid_sd = sqrt(v > 0.0 ? v : 0.0);
		}
	}
}

/* Mark the partials of p[lo..hi) into flags (n_bins bytes): local maxima within PEAK_RANGE_DB of the strongest
 * that stand PEAK_PROMINENCE above the bins two away on both sides (a sinusoid under a Hann window has its
 * main lobe within +-2 bins, so a partial does; a noise bin rarely does). lo >= 2, hi + 2 <= n_bins. */
static void mark_peaks(const double *p, size_t lo, size_t hi, unsigned char *flags, size_t n_bins)
{
	assert(lo >= 2 && hi + 2 <= n_bins);
	memset(flags, 0, n_bins);
	double mx = 0.0;
	for (size_t k = lo; k < hi; k++)
		if (p[k] > mx)
			mx = p[k];
	if (!(mx > 0.0))
		return;
	const double thr = mx * pow(10.0, -PEAK_RANGE_DB / 10.0);
	for (size_t k = lo; k < hi; k++)
		flags[k] = p[k] > thr && p[k] > p[k - 1] && p[k] >= p[k + 1] && p[k] > PEAK_PROMINENCE * p[k - 2] &&
			   p[k] > PEAK_PROMINENCE * p[k + 2];
}

/* Points of the fluctogram's grid and its bands (at least one band). */
static size_t fluct_points(void)
{
	return (size_t)ceil(1200.0 * log2(FL_HI_HZ / FL_LO_HZ) / FL_STEP_CENTS) + 1;
}

static size_t fluct_bands(void)
{
	return (fluct_points() - FL_BAND) / FL_BAND_HOP + 1;
}

/* Doubles of scratch features_fluct needs: two padded grid rows, the grid's positions, the moves. */
static size_t fluct_scratch(size_t n_frames)
{
	return 2 * (fluct_points() + 2 * FL_SHIFT) + fluct_points() + n_frames * fluct_bands();
}

/* The sum (*sum) and the sum of squares (*sumsq) of the finite ones of n values v[0], v[stride], ...; returns
 * how many were finite. */
static size_t finite_sums(const double *v, size_t n, size_t stride, double *sum, double *sumsq)
{
	double a = 0.0, q = 0.0;
	size_t c = 0;
	for (size_t i = 0; i < n; i++) {
		double x = v[i * stride];
		if (isfinite(x)) {
			a += x;
			q += x * x;
			c++;
		}
	}
	*sum = a;
	*sumsq = q;
	return c;
}

/* The fluctogram (Lehner, Widmer & Sonnleitner 2014) of the spectrogram and the two numbers read from it (see
 * the top of this file). buf: 2 * fluct_points() + n_frames * fluct_bands() doubles of scratch. A band's move is
 * read where the frame and the previous one are active and the band has energy; the features stay NaN without
 * moves or when the spectrum does not reach FL_HI_HZ. */
static void features_fluct(const ss_spectrogram *s, const unsigned char *active, double *buf, ss_content_features *out)
{
	const size_t T = s->n_frames, K = s->n_bins, G = fluct_points(), NB = fluct_bands();
	const double bin_hz = s->sr / (double)s->n_fft;
	assert(G >= FL_BAND && NB >= 1);
	/* two rows of the grid, each with FL_SHIFT zeros on both sides for the shifted reads */
	const size_t R = G + 2 * FL_SHIFT;
	double *cur = buf, *prev = buf + R, *pos = buf + 2 * R, *fl = buf + 2 * R + G;
	memset(buf, 0, 2 * R * sizeof *buf);
	for (size_t g = 0; g < G; g++) /* grid points in bins */
		pos[g] = FL_LO_HZ * pow(2.0, (double)g * FL_STEP_CENTS / 1200.0) / bin_hz;
	if (pos[G - 1] + 1.0 >= (double)K)
		return;
	double tri[FL_BAND]; /* a triangular weight across each band, so that its edges matter less */
	for (size_t i = 0; i < FL_BAND; i++)
		tri[i] = 1.0 - fabs(((double)i + 0.5) / (FL_BAND / 2.0) - 1.0);
	int prev_ok = 0;
	for (size_t t = 0; t < T; t++) {
		const float *row = s->mag + t * K;
		for (size_t g = 0; g < G; g++) { /* magnitude between bins, linearly */
			size_t k = (size_t)pos[g];
			double fr = pos[g] - (double)k;
			cur[FL_SHIFT + g] = (1.0 - fr) * (double)row[k] + fr * (double)row[k + 1];
		}
		const int on = active == NULL || active[t];
		for (size_t b = 0; b < NB; b++) {
			double *f = fl + t * NB + b;
			*f = NAN;
			const double *x = cur + FL_SHIFT + b * FL_BAND_HOP, *y = prev + FL_SHIFT + b * FL_BAND_HOP;
			double tx[FL_BAND], ex = 0.0;
			for (size_t i = 0; i < FL_BAND; i++) {
				tx[i] = tri[i] * x[i];
				ex += tx[i] * x[i];
			}
			if (!on || !prev_ok || !(ex > 0.0))
				continue;
			double cs[2 * FL_SHIFT + 1], best = -1.0;
			int bi = 0;
			for (int sh = -FL_SHIFT; sh <= FL_SHIFT; sh++) {
				const double *ys = y + sh;
				double c = 0.0;
				for (size_t i = 0; i < FL_BAND; i++)
					c += tx[i] * ys[i];
				cs[sh + FL_SHIFT] = c;
				if (c > best) {
					best = c;
					bi = sh;
				}
			}
			double d = 0.0; /* between grid points: a parabola through the correlations */
			if (bi > -FL_SHIFT && bi < FL_SHIFT) {
				double a = cs[bi + FL_SHIFT - 1], m = cs[bi + FL_SHIFT], c = cs[bi + FL_SHIFT + 1];
				double den = a - 2.0 * m + c;
				d = den < 0.0 ? 0.5 * (a - c) / den : 0.0;
			}
			/* x[i] matches the previous frame's y[i + shift]: the band moved down by the shift */
			*f = -((double)bi + d) * FL_STEP_CENTS;
		}
		double *tmp = prev;
		prev = cur;
		cur = tmp;
		prev_ok = on;
	}
	double sd_acc = 0.0;
	size_t n_sd = 0;
	for (size_t b = 0; b < NB; b++) {
		double m, m2;
		size_t c = finite_sums(fl + b, T, NB, &m, &m2);
		if (c > 1) {
			m /= (double)c;
			double var = m2 / (double)c - m * m;
			sd_acc += sqrt(var > 0.0 ? var : 0.0);
			n_sd++;
		}
	}
	if (n_sd > 0)
		out->fluct = sd_acc / (double)n_sd;
	double shared = 0.0, all = 0.0;
	for (size_t t = 0; t < T; t++) {
		double m, q;
		size_t c = finite_sums(fl + t * NB, NB, 1, &m, &q);
		if (c == NB) { /* frames where every band moved (or held) */
			m /= (double)c;
			shared += m * m;
			all += q / (double)c;
		}
	}
	if (all > 0.0)
		out->fluct_coh = shared / all;
}

int ss_content_features_compute(const ss_spectrogram *s, const unsigned char *active, ss_content_features *out,
				ss_error *err)
{
	out->low_energy = out->mod4 = out->flux_sd = out->centroid_sd = NAN;
	out->stay = out->glide = out->wobble = out->floor_db = out->floor_flat = out->burst = NAN;
	out->vibrato = out->syllable = out->attack = out->fluct = out->fluct_coh = NAN;
	if (s->power)
		return ss_error_set(err, SS_ERR_INTERNAL, "content features need a magnitude spectrogram");
	const size_t T = s->n_frames, K = s->n_bins;
	if (T < 8 || K < 64)
		return 0;
	scratch w;
	memset(&w, 0, sizeof w);
	double *blk = malloc(sizeof(double) * (T * (5 + N_BANDS + N_SHAPE) + 5 * K + 2 * K * VIB_LEN));
	unsigned char *flags = malloc(4 * K);
	int *lens = calloc(2 * K, sizeof *lens);
	double *fbuf = malloc(sizeof(double) * fluct_scratch(T));
	if (blk == NULL || flags == NULL || lens == NULL || fbuf == NULL) {
		free(blk);
		free(flags);
		free(lens);
		free(fbuf);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for content features");
	}
	w.e = blk;
	w.sp = w.e + T;
	w.hf = w.sp + T;
	w.cent = w.hf + T;
	w.noisy = w.cent + T;
	w.band = w.noisy + T;
	w.pow = w.band + T * N_BANDS;
	w.fmin = w.pow + K;
	w.fsum = w.fmin + K;
	w.shape = w.fsum + K;
	w.trk_prev = w.shape + T * N_SHAPE;
	w.trk_cur = w.trk_prev + K * VIB_LEN;
	memset(w.trk_prev, 0, 2 * K * VIB_LEN * sizeof *w.trk_prev);
	w.lv1_prev = w.trk_cur + K * VIB_LEN;
	w.lv1_cur = w.lv1_prev + K;
	memset(w.lv1_prev, 0, 2 * K * sizeof *w.lv1_prev);
	w.len_prev = lens;
	w.len_cur = lens + K;
	w.pk_prev = flags;
	w.pk_cur = flags + K;
	w.mv_prev = (signed char *)(flags + 2 * K);
	w.mv_cur = (signed char *)(flags + 3 * K);
	memset(w.mv_prev, NEW_PEAK, K);

	const double bin_hz = s->sr / (double)s->n_fft;
	const size_t k40 = bin_of(s, 40.0), k300 = bin_of(s, 300.0);
	const size_t k200 = bin_of(s, 200.0) > 2 ? bin_of(s, 200.0) : 2; /* partial tests read 2 bins below */
	const size_t k1k = bin_of(s, 1000.0), k2k = bin_of(s, 2000.0), k3400 = bin_of(s, 3400.0);
	/* room for the +-2 bins the partial tests read */
	const size_t k4k = bin_of(s, 4000.0) < K - 3 ? bin_of(s, 4000.0) : K - 3;
	const size_t k8k = bin_of(s, 8000.0) < K - 1 ? bin_of(s, 8000.0) : K - 1;
	const size_t sub = bin_of(s, 1000.0) - bin_of(s, 0.0) + 1; /* about 1 kHz of bins */
	size_t edges[N_BANDS + 1];
	for (size_t j = 0; j <= N_BANDS; j++) {
		size_t k = bin_of(s, 62.5 * pow(2.0, (double)j / 2.0));
		edges[j] = k < K ? k : K;
	}
	size_t shape_edges[N_SHAPE + 1];
	for (size_t j = 0; j <= N_SHAPE; j++) {
		size_t k = bin_of(s, 300.0 * pow(3400.0 / 300.0, (double)j / N_SHAPE));
		shape_edges[j] = k < K ? k : K;
	}
	const double fps = s->sr / (double)s->hop;
	const size_t block = (size_t)(fps + 0.5) > 2 ? (size_t)(fps + 0.5) : 2;

	size_t n_vib = 0, n_vwin = 0, n_attack = 0;
	double attack_acc = 0.0;
	size_t n_stay = 0, n_move = 0, n_end = 0, n_rev = 0, n_burst = 0, n_act = 0, n_blocks = 0, in_block = 0;
	double floor_acc = 0.0, flat_acc = 0.0;
	int prev_ok = 0;
	for (size_t t = 0; t < T; t++) {
		const float *row = s->mag + t * K;
		double e = 0.0, sp = 0.0, hf = 0.0, wsum = 0.0;
		for (size_t k = 0; k < K; k++) {
			double p = (double)row[k] * (double)row[k];
			w.pow[k] = p;
			if (k >= k40) {
				e += p;
				wsum += p * (double)k;
			}
			if (k >= k300 && k < k3400)
				sp += p;
			if (k >= k2k && k < k8k)
				hf += p;
		}
		w.e[t] = e;
		w.sp[t] = sp;
		w.hf[t] = hf;
		w.cent[t] = e > 0.0 ? wsum / e * bin_hz : NAN;
		for (size_t j = 0; j < N_BANDS; j++) {
			double b = 0.0;
			for (size_t k = edges[j]; k < edges[j + 1]; k++)
				b += w.pow[k];
			w.band[t * N_BANDS + j] = b;
		}
		const int on = active == NULL || active[t];
		/* formant-region shape: band levels 40 dB deep under the loudest, minus their mean; a silent or
		 * inactive frame holds the previous shape (its start and end are not syllables) */
		double *sh = w.shape + t * N_SHAPE, bmax = 0.0;
		for (size_t j = 0; j < N_SHAPE; j++) {
			double b = 0.0;
			for (size_t k = shape_edges[j]; k < shape_edges[j + 1]; k++)
				b += w.pow[k];
			sh[j] = b;
			bmax = b > bmax ? b : bmax;
		}
		if (on && bmax > 0.0) {
			double mean = 0.0;
			for (size_t j = 0; j < N_SHAPE; j++) {
				sh[j] = 10.0 * log10(sh[j] + bmax * 1e-4);
				mean += sh[j] / N_SHAPE;
			}
			for (size_t j = 0; j < N_SHAPE; j++)
				sh[j] -= mean;
		} else {
			for (size_t j = 0; j < N_SHAPE; j++)
				sh[j] = t > 0 ? w.shape[(t - 1) * N_SHAPE + j] : 0.0;
		}
		w.noisy[t] = banded_noisiness(w.pow, k2k, k8k, sub);
		if (on && e > 0.0) {
			n_act++;
			n_burst += w.noisy[t] > 0.6 && hf > 0.1 * e;
		}

		/* partial continuity against the previous frame */
		mark_peaks(w.pow, k200, k4k, w.pk_cur, K);
		memset(w.mv_cur, NEW_PEAK, K);

		/* partial tracks read between bins, judged for vibrato (Regnier & Peeters 2009: a partial's frequency
		 * modulated at 4-8 Hz); each peak continues the previous frame's nearest peak within 2 bins */
		memset(w.len_cur, 0, K * sizeof *w.len_cur);
		for (size_t k = k200; k < k4k; k++) {
			if (!w.pk_cur[k])
				continue;
			const double fb = peak_bin(w.pow, k);
			double *h = w.trk_cur + k * VIB_LEN;
			size_t best = 0;
			int found = 0;
			double bd = 2.5;
			if (on && prev_ok)
				for (size_t j = k - 2; j <= k + 2; j++) {
					if (!w.pk_prev[j] || w.len_prev[j] == 0)
						continue;
					double d = fabs(w.trk_prev[j * VIB_LEN + VIB_LEN - 1] - fb);
					if (d < bd) {
						bd = d;
						best = j;
						found = 1;
					}
				}
			if (found) {
				memcpy(h, w.trk_prev + best * VIB_LEN + 1, (VIB_LEN - 1) * sizeof *h);
				w.len_cur[k] = w.len_prev[best] < 100000 ? w.len_prev[best] + 1 : 100000;
				w.lv1_cur[k] = w.lv1_prev[best];
			} else {
				w.len_cur[k] = 1;
			}
			h[VIB_LEN - 1] = fb; /* the track holds bins; judged in cents */
			/* attack: the level change from a new track's 2nd frame to its ATTACK_LEN-th (the 1st frame may
			 * hold the onset only in part): a struck or plucked note has decayed, a sung or bowed one not */
			if (w.len_cur[k] == 2) {
				w.lv1_cur[k] = 10.0 * log10(w.pow[k]);
			} else if (w.len_cur[k] == ATTACK_LEN) {
				double d = 10.0 * log10(w.pow[k]) - w.lv1_cur[k];
				attack_acc += d > ATTACK_CLAMP_DB ? ATTACK_CLAMP_DB : d < -ATTACK_CLAMP_DB ? -ATTACK_CLAMP_DB : d;
				n_attack++;
			}
			if (w.len_cur[k] >= VIB_LEN) {
				double c[VIB_LEN];
				for (size_t i = 0; i < VIB_LEN; i++)
					c[i] = 1200.0 * log2(h[i] > 0.5 ? h[i] : 0.5);
				n_vwin++;
				n_vib += (size_t)is_vibrato(c, 1200.0 * log2((fb + 1.0) / fb));
			}
		}
		double *ttmp = w.trk_prev;
		w.trk_prev = w.trk_cur;
		w.trk_cur = ttmp;
		int *ltmp = w.len_prev;
		w.len_prev = w.len_cur;
		w.len_cur = ltmp;
		ttmp = w.lv1_prev;
		w.lv1_prev = w.lv1_cur;
		w.lv1_cur = ttmp;
		if (on && prev_ok) {
			for (size_t k = k200; k < k4k; k++) {
				if (!w.pk_prev[k])
					continue;
				static const int steps[5] = {0, -1, 1, -2, 2}; /* nearest first */
				int d = NEW_PEAK;
				for (int i = 0; i < 5 && d == NEW_PEAK; i++)
					if (w.pk_cur[(size_t)((long)k + steps[i])])
						d = steps[i];
				if (d == NEW_PEAK) {
					n_end++;
					continue;
				}
				if (d == 0) {
					n_stay++;
				} else {
					n_move++;
					/* a move back against the previous one: vibrato, not a note change */
					int before = w.mv_prev[k];
					n_rev += before != NEW_PEAK && before != 0 && (before > 0) != (d > 0);
				}
				w.mv_cur[(size_t)((long)k + d)] = (signed char)d;
			}
		}
		unsigned char *tmp = w.pk_prev;
		w.pk_prev = w.pk_cur;
		w.pk_cur = tmp;
		signed char *mtmp = w.mv_prev;
		w.mv_prev = w.mv_cur;
		w.mv_cur = mtmp;
		prev_ok = on;

		/* minimum-statistics floor over blocks of about 1 s of sounding frames, 1-8 kHz */
		if (!on) {
			in_block = 0;
			continue;
		}
		for (size_t k = k1k; k < k8k; k++) {
			if (in_block == 0) {
				w.fmin[k] = w.pow[k];
				w.fsum[k] = w.pow[k];
			} else {
				w.fmin[k] = w.pow[k] < w.fmin[k] ? w.pow[k] : w.fmin[k];
				w.fsum[k] += w.pow[k];
			}
		}
		if (++in_block == block) {
			double smin = 0.0, smean = 0.0;
			for (size_t k = k1k; k < k8k; k++) {
				smin += w.fmin[k];
				smean += w.fsum[k] / (double)block;
			}
			if (smean > 0.0) {
				floor_acc += smin / smean;
				flat_acc += banded_noisiness(w.fmin, k1k, k8k, sub);
				n_blocks++;
			}
			in_block = 0;
		}
	}
	out->stay = n_stay + n_move + n_end > 0 ? (double)n_stay / (double)(n_stay + n_move + n_end) : NAN;
	out->glide = n_stay + n_move > 0 ? (double)n_move / (double)(n_stay + n_move) : NAN;
	out->wobble = n_move > 0 ? (double)n_rev / (double)n_move : NAN;
	out->burst = n_act > 0 ? (double)n_burst / (double)n_act : NAN;
	out->vibrato = n_vwin > 0 ? (double)n_vib / (double)n_vwin : NAN;
	out->attack = n_attack > 0 ? attack_acc / (double)n_attack : NAN;
	if (T >= MOD_WIN) {
		double ms = 0.0;
		for (size_t j = 0; j < N_SHAPE; j++) {
			double r = modulation_rms(w.shape + j, T, N_SHAPE, fps, 3.0, 8.0);
			ms += r * r / N_SHAPE;
		}
		out->syllable = sqrt(ms);
	}
	if (n_blocks > 0) {
		double r = floor_acc / (double)n_blocks;
		out->floor_db = r > 1e-12 ? 10.0 * log10(r) : -120.0;
		out->floor_flat = flat_acc / (double)n_blocks;
	}
	features_speech(s, active, &w, out);
	features_fluct(s, active, fbuf, out);
	free(fbuf);
	free(blk);
	free(flags);
	free(lens);
	return 0;
}

/* A logistic score: sum of w[i] * (x[i] - mu[i]) / sd[i] + bias; a NaN feature contributes nothing. */
typedef struct lin_model {
	double bias;
	double w[SS_CONTENT_N_FEATURES], mu[SS_CONTENT_N_FEATURES], sd[SS_CONTENT_N_FEATURES];
} lin_model;

static double feature(const ss_content_features *f, size_t i)
{
	const double v[SS_CONTENT_N_FEATURES] = {
		f->low_energy, f->mod4,   f->flux_sd, f->centroid_sd, f->stay,  f->glide, f->wobble,   f->floor_db,
		f->floor_flat, f->burst, f->vibrato, f->syllable,    f->attack, f->fluct, f->fluct_coh};
	assert(i < SS_CONTENT_N_FEATURES);
	return v[i];
}

static double score(const lin_model *m, const ss_content_features *f)
{
	double z = m->bias;
	for (size_t i = 0; i < SS_CONTENT_N_FEATURES; i++) {
		double x = feature(f, i);
		if (isfinite(x) && m->sd[i] > 0.0)
			z += m->w[i] * (x - m->mu[i]) / m->sd[i];
	}
	double s = 1.0 / (1.0 + exp(-z));
	return isfinite(s) ? s : (z > 0 ? 1.0 : 0.0);
}

/* Feature order: low_energy, mod4, flux_sd, centroid_sd, stay, glide, wobble, floor_db, floor_flat, burst, vibrato,
 * syllable, attack, fluct, fluct_coh. SPEECH and LIVE are the analysis-v4 fit (on the calibration half of the set
 * as it was then, before the sung and ooh/aah clips; they leave the last five out); VOICE is fitted on the
 * calibration half of the larger set with all fifteen (attack, then the fluctogram's two, chosen by
 * cross-validation inside that half, man/BENCHMARKS.md). */
static const lin_model SPEECH = {
	.bias = -1.322,
	.w = {-0.05877, 0.2089, 0.512, -0.1673, -0.3559, 0.4573, -0.586, 0.05527, -0.4494, -0.08184},
	.mu = {0.1098, 0.3243, 3.26, 0.7964, 0.438, 0.2248, 0.2146, -20.4, 0.5142, 0.1634},
	.sd = {0.1142, 0.08824, 1.244, 0.2936, 0.1697, 0.1391, 0.06817, 7.89, 0.2206, 0.1791},
};
static const lin_model VOICE = {
	.bias = 0.4971,
	.w = {0.3192, -0.7682, -0.3234, -0.7297, 0.805, 2.092, -0.676, -0.9459, -1.86, -0.8, -0.3934, 0.9397, 1.072,
	      2.4, -0.5115},
	.mu = {0.09041, 0.2923, 3.106, 0.7342, 0.4293, 0.2522, 0.226, -19.99, 0.4651, 0.114, 0.2227, 1.593, -1.602,
	       49.25, 0.1342},
	.sd = {0.09945, 0.08924, 1.103, 0.2767, 0.1502, 0.1343, 0.06143, 6.643, 0.1944, 0.1576, 0.2171, 0.7795, 1.264,
	       12.84, 0.04733},
};
static const lin_model LIVE = {
	.bias = -0.04488,
	.w = {0.467, 0.6271, -1.842, 0.03196, -0.3215, -1.626, 0.76, 1.281, 2.405, 0.3048},
	.mu = {0.107, 0.3161, 3.229, 0.7896, 0.4354, 0.2309, 0.214, -20.44, 0.5068, 0.1584},
	.sd = {0.1121, 0.09295, 1.223, 0.2891, 0.1663, 0.139, 0.06651, 7.715, 0.2178, 0.1767},
};

double ss_content_speechiness(const ss_content_features *f)
{
	return score(&SPEECH, f);
}

double ss_content_instrumentalness(const ss_content_features *f)
{
	return 1.0 - score(&VOICE, f);
}

double ss_content_liveness(const ss_content_features *f)
{
	return score(&LIVE, f);
}
