#include "core/audio/sink.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/audio/loudness.h"
#include "core/audio/resample.h"
#include "core/util/bigmem.h"

#define SS_SINK_BLOCK 4096 /* mono scratch block, samples */
#define SS_SAMPLE_LIMIT 16.0f
#define SS_HOLD_SECONDS 1.0 /* multichannel: source audio held back to choose the downmix */
#define SS_CANCEL_RATIO 0.01 /* downmix power below 1% (-20 dB) of the mean channel power: cancelled */

/* How several channels become one. The mean of the channels is the downmix; but channels in opposite
 * polarity (a wiring or mastering fault, or a "wide" effect) cancel in the mean and would be analysed as
 * silence. The first SS_HOLD_SECONDS of source audio are held back in both forms; if the mean has lost more
 * than 20 dB against the average channel, the first channel is analysed instead, from the start. */
enum { DOWNMIX_UNDECIDED = -1, DOWNMIX_MEAN = 0, DOWNMIX_FIRST = 1 };

struct ss_audio_sink {
	int channels;
	double rate, out_rate;
	size_t max_in;      /* source frames to accept: max_seconds * rate */
	size_t in_frames;   /* source frames accepted so far */
	int truncated;
	double pow_channels; /* sum over source samples of x^2, all channels */
	double pow_mono;     /* sum over source frames of the mean downmix squared */
	double pow_first;    /* sum over source frames of the first channel squared */
	int downmix;         /* DOWNMIX_* */
	float *hold_mean, *hold_first; /* held-back source frames in both forms, hold_cap each */
	size_t hold_n, hold_cap;
	ss_resampler *rs;
	float *mono;        /* SS_SINK_BLOCK scratch */
	float *clean;       /* SS_SINK_BLOCK * channels scratch for sanitised frames (rarely used) */
	float *out;         /* analysis-rate output, out_cap samples */
	size_t out_n, out_cap;
	ss_loudness_meter *lm; /* fed out[0, metered) in SS_LOUDNESS_CHUNK pieces as it is made; NULL: measured at
				* the end (no memory for it then) */
	size_t metered;
};

ss_audio_sink *ss_audio_sink_new(int channels, double rate, const ss_audio_opts *o, ss_error *err)
{
	if (channels < 1 || channels > SS_AUDIO_MAX_CHANNELS) {
		ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "%d channels is outside the supported 1..%d", channels,
			     SS_AUDIO_MAX_CHANNELS);
		return NULL;
	}
	if (!(rate >= SS_AUDIO_MIN_RATE && rate <= SS_AUDIO_MAX_RATE)) {
		ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "a sample rate of %.0f Hz is outside the supported %.0f..%.0f Hz",
			     rate, SS_AUDIO_MIN_RATE, SS_AUDIO_MAX_RATE);
		return NULL;
	}
	if (!(o->max_seconds > 0 && o->max_seconds <= 3600) ||
	    !(o->out_rate >= SS_AUDIO_MIN_RATE && o->out_rate <= SS_AUDIO_MAX_RATE)) {
		ss_error_set(err, SS_ERR_INTERNAL, "bad decode options");
		return NULL;
	}
	ss_audio_sink *s = calloc(1, sizeof *s);
	if (s == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoder");
		return NULL;
	}
	s->channels = channels;
	s->rate = rate;
	s->out_rate = o->out_rate;
	s->max_in = (size_t)floor(o->max_seconds * rate);
	/* The whole output is allocated once from the options (at most max_seconds of analysis-rate audio plus
	 * the resampler's flush slack); pages never written are never touched. */
	s->out_cap = (size_t)ceil(o->max_seconds * o->out_rate) + 8192;
	s->out = ss_bigmem_alloc(s->out_cap * sizeof *s->out);
	s->mono = malloc(SS_SINK_BLOCK * sizeof *s->mono);
	s->clean = malloc((size_t)SS_SINK_BLOCK * (size_t)channels * sizeof *s->clean);
	s->downmix = channels == 1 ? DOWNMIX_MEAN : DOWNMIX_UNDECIDED;
	if (channels > 1) {
		s->hold_cap = (size_t)ceil(SS_HOLD_SECONDS * rate);
		s->hold_mean = malloc(s->hold_cap * sizeof *s->hold_mean);
		s->hold_first = malloc(s->hold_cap * sizeof *s->hold_first);
	}
	if (s->out == NULL || s->mono == NULL || s->clean == NULL || (channels > 1 && (s->hold_mean == NULL || s->hold_first == NULL))) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoded audio");
		ss_audio_sink_free(s);
		return NULL;
	}
	s->rs = ss_resampler_new(rate, o->out_rate, err);
	if (s->rs == NULL) {
		ss_audio_sink_free(s);
		return NULL;
	}
	s->lm = ss_loudness_meter_new(o->out_rate); /* NULL is not an error: finish measures in one go */
	return s;
}

/* NaN becomes 0, everything else is clamped to +-SS_SAMPLE_LIMIT (so +-Inf too); branch-free. */
static inline float sanitise(float v)
{
	/* plain comparisons (fminf/fmaxf are library calls without -ffinite-math-only) */
	v = v == v ? v : 0.0f;
	v = v < SS_SAMPLE_LIMIT ? v : SS_SAMPLE_LIMIT;
	return v > -SS_SAMPLE_LIMIT ? v : -SS_SAMPLE_LIMIT;
}

/* Resample n mono source samples into the output. */
static int emit(ss_audio_sink *s, const float *x, size_t n, ss_error *err)
{
	size_t written = 0;
	if (ss_resampler_process(s->rs, x, n, s->out + s->out_n, s->out_cap - s->out_n, &written, err) != 0)
		return -1;
	s->out_n += written;
	/* Loudness of each whole chunk as soon as it exists, while its samples are in cache (and, with a
	 * read-ahead decoder, while the other thread decodes). The chunks are the ones ss_loudness_measure
	 * would feed, so the numbers are the same. */
	while (s->lm != NULL && s->out_n - s->metered >= SS_LOUDNESS_CHUNK) {
		ss_loudness_meter_add(s->lm, s->out + s->metered, SS_LOUDNESS_CHUNK);
		s->metered += SS_LOUDNESS_CHUNK;
	}
	return 0;
}

/* Choose the downmix from what was held back and emit the held audio in that form. */
static int decide(ss_audio_sink *s, ss_error *err)
{
	double mean_ch = s->pow_channels / (double)s->channels;
	s->downmix = (mean_ch > 0.0 && s->pow_mono < SS_CANCEL_RATIO * mean_ch) ? DOWNMIX_FIRST : DOWNMIX_MEAN;
	const float *h = s->downmix == DOWNMIX_FIRST ? s->hold_first : s->hold_mean;
	int rc = emit(s, h, s->hold_n, err);
	free(s->hold_mean);
	free(s->hold_first);
	s->hold_mean = s->hold_first = NULL;
	s->hold_n = 0;
	return rc;
}

/* 1 when every sample is finite and within +-SS_SAMPLE_LIMIT (the usual case: no sanitising pass). */
static int all_clean(const float *x, size_t n)
{
	/* chunks of eight with a constant trip count, which -O2 vectorises */
	int ok = 1;
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t k = 0; k < 8; k++)
			ok &= (x[i + k] > -SS_SAMPLE_LIMIT) & (x[i + k] < SS_SAMPLE_LIMIT); /* NaN fails both */
	for (; i < n; i++)
		ok &= (x[i] > -SS_SAMPLE_LIMIT) & (x[i] < SS_SAMPLE_LIMIT);
	return ok;
}

/* Sum of squares of x[0], x[stride], ... (n terms), four accumulators to keep the adds independent. */
static double sumsq(const float *x, size_t n, size_t stride)
{
	float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		float v0 = x[i * stride], v1 = x[(i + 1) * stride], v2 = x[(i + 2) * stride], v3 = x[(i + 3) * stride];
		a0 += v0 * v0;
		a1 += v1 * v1;
		a2 += v2 * v2;
		a3 += v3 * v3;
	}
	for (; i < n; i++)
		a0 += x[i * stride] * x[i * stride];
	return (double)a0 + (double)a1 + (double)a2 + (double)a3;
}

/* The common two-channel case in one pass: mean[f] = (l + r) / 2, and the powers sumsq would give (both
 * channels, the mean, the first channel) added to *pc, *pm and *pf. Two frames per step with separate
 * partial sums, kept in registers. */
static void stereo_downmix(const float *in, size_t frames, float *mean, double *pc, double *pm, double *pf)
{
	float c0 = 0.0f, c1 = 0.0f, m0 = 0.0f, m1 = 0.0f, f0 = 0.0f, f1 = 0.0f;
	size_t f = 0;
	for (; f + 2 <= frames; f += 2) {
		const float l0 = in[2 * f], r0 = in[2 * f + 1], l1 = in[2 * f + 2], r1 = in[2 * f + 3];
		const float a = (l0 + r0) * 0.5f, b = (l1 + r1) * 0.5f;
		mean[f] = a;
		mean[f + 1] = b;
		c0 += l0 * l0 + r0 * r0;
		c1 += l1 * l1 + r1 * r1;
		m0 += a * a;
		m1 += b * b;
		f0 += l0 * l0;
		f1 += l1 * l1;
	}
	if (f < frames) {
		const float l = in[2 * f], r = in[2 * f + 1], a = (l + r) * 0.5f;
		mean[f] = a;
		c0 += l * l + r * r;
		m0 += a * a;
		f0 += l * l;
	}
	*pc += (double)c0 + (double)c1;
	*pm += (double)m0 + (double)m1;
	*pf += (double)f0 + (double)f1;
}

static int push_block(ss_audio_sink *s, const float *in, size_t frames, ss_error *err)
{
	const int c = s->channels;
	const size_t ns = frames * (size_t)c;
	if (!all_clean(in, ns)) {
		for (size_t i = 0; i < ns; i++)
			s->clean[i] = sanitise(in[i]);
		in = s->clean;
	}
	if (c == 1)
		return emit(s, in, frames, err);
	float *mean_out = s->downmix == DOWNMIX_UNDECIDED ? s->hold_mean + s->hold_n : s->mono;
	if (c == 2) {
		stereo_downmix(in, frames, mean_out, &s->pow_channels, &s->pow_mono, &s->pow_first);
	} else {
		const float g = 1.0f / (float)c;
		for (size_t f = 0; f < frames; f++) {
			const float *p = in + f * (size_t)c;
			float acc = p[0];
			for (int ch = 1; ch < c; ch++)
				acc += p[ch];
			mean_out[f] = acc * g;
		}
		s->pow_channels += sumsq(in, ns, 1);
		s->pow_mono += sumsq(mean_out, frames, 1);
		s->pow_first += sumsq(in, frames, (size_t)c);
	}
	if (s->downmix == DOWNMIX_UNDECIDED) {
		float *first_out = s->hold_first + s->hold_n;
		for (size_t f = 0; f < frames; f++)
			first_out[f] = in[f * (size_t)c];
		s->hold_n += frames;
		return s->hold_n >= s->hold_cap ? decide(s, err) : 0;
	}
	if (s->downmix == DOWNMIX_FIRST) /* channels cancel: analyse the first one */
		for (size_t f = 0; f < frames; f++)
			s->mono[f] = in[f * (size_t)c];
	return emit(s, s->mono, frames, err);
}

int ss_audio_sink_push(ss_audio_sink *s, const float *interleaved, size_t frames, ss_error *err)
{
	while (frames > 0) {
		if (s->in_frames >= s->max_in) {
			s->truncated = 1;
			return 1;
		}
		size_t m = frames < SS_SINK_BLOCK ? frames : SS_SINK_BLOCK;
		if (m > s->max_in - s->in_frames)
			m = s->max_in - s->in_frames;
		if (s->downmix == DOWNMIX_UNDECIDED && m > s->hold_cap - s->hold_n)
			m = s->hold_cap - s->hold_n;
		if (push_block(s, interleaved, m, err) != 0)
			return -1;
		s->in_frames += m;
		interleaved += m * (size_t)s->channels;
		frames -= m;
	}
	return s->in_frames >= s->max_in ? 1 : 0;
}

int ss_audio_sink_finish(ss_audio_sink *s, const char *container, ss_audio *out, ss_error *err)
{
	if (s->downmix == DOWNMIX_UNDECIDED && decide(s, err) != 0)
		return -1;
	size_t written = 0;
	if (ss_resampler_process(s->rs, NULL, 0, s->out + s->out_n, s->out_cap - s->out_n, &written, err) != 0)
		return -1;
	s->out_n += written;
	/* Exactly as many output samples as the input duration implies (the filter tail is not signal). */
	size_t want = (size_t)floor((double)s->in_frames * s->out_rate / s->rate);
	if (s->out_n > want)
		s->out_n = want;
	/* A short resampler output (should not happen) is padded with silence so durations stay exact. */
	while (s->out_n < want && s->out_n < s->out_cap)
		s->out[s->out_n++] = 0.0f;

	/* Loudness (ITU-R BS.1770 / EBU R 128 through libebur128) is measured on the analysis signal: the mono
	 * downmix at the analysis rate, which costs a fraction of metering every source channel at its own rate.
	 * BS.1770 sums the mean squares of the channels, so the downmix's level is corrected by
	 * 10*log10(sum_c P_c / P_mono) with P the (unweighted) mean squares of the decoded source. This is exact
	 * for mono sources and for identical channels (+3.01 dB for a mono recording stored as stereo) and close
	 * for real stereo; content above the analysis Nyquist frequency (11 kHz) is ignored. P_mono is the power
	 * of the signal analysed (the mean, or the first channel for cancelled channels); the correction is capped
	 * at +12 dB. */
	double li, lr;
	if (s->lm != NULL && s->metered <= s->out_n) {
		for (size_t i = s->metered; i < s->out_n; i += SS_LOUDNESS_CHUNK)
			ss_loudness_meter_add(s->lm, s->out + i,
					      s->out_n - i < SS_LOUDNESS_CHUNK ? s->out_n - i : SS_LOUDNESS_CHUNK);
		s->metered = s->out_n;
		if (ss_loudness_meter_finish(s->lm, &li, &lr, err) != 0)
			return -1;
	} else if (ss_loudness_measure(s->out, s->out_n, s->out_rate, &li, &lr, err) != 0) {
		return -1; /* (metered past the final length, which the resampler's delay rules out, or no meter) */
	}
	if (s->channels > 1 && !isnan(li)) {
		double used = s->downmix == DOWNMIX_FIRST ? s->pow_first : s->pow_mono;
		double corr = 12.0;
		if (used > 0 && s->pow_channels > 0 && s->pow_channels < used * 15.8489)
			corr = 10.0 * log10(s->pow_channels / used);
		li += corr;
	}
	ss_audio_free(out);
	out->loudness = li;
	out->loudness_range = lr;
	out->x = s->out;
	out->n = s->out_n;
	out->sr = s->out_rate;
	out->src_rate = s->rate;
	out->src_channels = s->channels;
	out->container = container;
	out->truncated = s->truncated;
	s->out = NULL;
	s->out_n = 0;
	return 0;
}

void ss_audio_sink_free(ss_audio_sink *s)
{
	if (s == NULL)
		return;
	ss_resampler_free(s->rs);
	ss_loudness_meter_free(s->lm);
	free(s->hold_mean);
	free(s->hold_first);
	free(s->mono);
	free(s->clean);
	free(s->out);
	free(s);
}
