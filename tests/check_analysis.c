/* Decoding and the analysis pipeline end to end on files generated here: every container libsndfile can
 * write (and M4A when built with FFmpeg), rates 8..192 kHz, channel counts, loudness, caps, corrupt and
 * hostile input, and the edge cases of the pipeline (silence, short, single tone, DC offset, clipping). */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sndfile.h>

#include "core/analysis/hpss.h"
#include "core/analysis/mood.h"
#include "core/analysis/pipeline.h"
#include "core/analysis/result_json.h"
#include "core/analysis/signal.h"
#include "core/analysis/stft.h"
#include "core/audio/decode.h"
#include "core/audio/resample.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"
#include "tests/fixtures/synth.h"

/* LeakSanitizer hook (used only in --enable-sanitizers builds): libsndfile 1.2.0 leaks the vorbis_info it
 * allocated when opening a corrupt Ogg Vorbis stream fails (test_decode_damaged provokes it). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:vorbis_info_init\n";
}

static const ss_audio_opts AOPTS = {.max_seconds = 30.0, .out_rate = 22050.0};

/* Dominant frequency from zero crossings (rising edges per second). */
static double zc_freq(const float *x, size_t n, double sr)
{
	size_t rises = 0, first = 0, last = 0;
	for (size_t i = 1; i < n; i++)
		if (x[i - 1] < 0.0f && x[i] >= 0.0f) {
			if (rises == 0)
				first = i;
			last = i;
			rises++;
		}
	return rises > 1 ? (double)(rises - 1) * sr / (double)(last - first) : 0.0;
}

static double rms(const float *x, size_t n)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	return n ? sqrt(s / (double)n) : 0.0;
}

static int decode(const unsigned char *b, size_t len, ss_audio *a, ss_error *e)
{
	ss_audio_init(a);
	ss_error_clear(e);
	return ss_audio_decode(b, len, &AOPTS, a, e);
}

/* ------------------------------------------------------------------ decoding */

static const struct {
	int format;
	double sr;
	const char *container;
	double len_tol; /* relative tolerance on the decoded length (codec padding) */
} containers[] = {
	{SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, "wav", 0.0},
	{SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, "wav", 0.0},
	{SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, 48000, "wav", 0.0},
	{SF_FORMAT_RF64 | SF_FORMAT_PCM_16, 44100, "wav", 0.0},
	{SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 44100, "aiff", 0.0},
	{SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, "flac", 0.0},
	{SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, "ogg/vorbis", 0.02},
	{SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, "ogg/opus", 0.03},
	{SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, "mp3", 0.05},
};

START_TEST(test_decode_container)
{
	size_t len = 0;
	unsigned char *b = synth_file(containers[_i].format, containers[_i].sr, 2, 4.0, synth_sine440, &len);
	if (b == NULL) {
		/* MP3 writing needs libsndfile built with LAME; decoding is still covered by the other cases */
		ck_assert_msg(containers[_i].format == (SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III),
			      "libsndfile cannot write %s", containers[_i].container);
		return;
	}
	ck_assert_int_eq(ss_audio_sniff(b, len), SS_AUDIO_KIND_SNDFILE);
	ss_audio a;
	ss_error e;
	ck_assert_msg(decode(b, len, &a, &e) == 0, "%s: %s", containers[_i].container, e.msg);
	ck_assert_str_eq(a.container, containers[_i].container);
	ck_assert(a.sr == 22050.0);
	ck_assert_int_eq(a.src_channels, 2);
	ck_assert(a.src_rate == containers[_i].sr);
	double want = 4.0 * 22050.0;
	ck_assert_msg(fabs((double)a.n - want) <= want * containers[_i].len_tol + 1, "%s: %zu samples",
		      containers[_i].container, a.n);
	/* skip codec warm-up at both ends */
	double f = zc_freq(a.x + 2205, a.n - 4410, a.sr);
	ck_assert_msg(fabs(f - 440.0) < 4.0, "%s: %f Hz", containers[_i].container, f);
	double r = rms(a.x + 2205, a.n - 4410);
	ck_assert_msg(fabs(r - 0.5 / sqrt(2.0)) < 0.04, "%s: rms %f", containers[_i].container, r);
	ck_assert(isfinite(a.loudness));
	ss_audio_free(&a);
	free(b);
}
END_TEST

static const double rates[] = {8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 192000};

START_TEST(test_decode_rates)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, rates[_i], 1, 3.0, synth_sine1k, &len);
	ck_assert_ptr_nonnull(b);
	ss_audio a;
	ss_error e;
	ck_assert_msg(decode(b, len, &a, &e) == 0, "%.0f Hz: %s", rates[_i], e.msg);
	ck_assert_uint_eq(a.n, (size_t)floor(3.0 * 22050.0));
	double f = zc_freq(a.x + 1000, a.n - 2000, a.sr);
	ck_assert_msg(fabs(f - 997.0) < 5.0, "%.0f Hz: %f", rates[_i], f);
	ss_audio_free(&a);
	free(b);
}
END_TEST

START_TEST(test_decode_channels)
{
	static const int ch[] = {1, 2, 3, 6, 8, 32};
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 44100, ch[_i], 3.0, synth_sine440, &len);
	ck_assert_ptr_nonnull(b);
	ss_audio a;
	ss_error e;
	ck_assert_msg(decode(b, len, &a, &e) == 0, "%d ch: %s", ch[_i], e.msg);
	ck_assert_int_eq(a.src_channels, ch[_i]);
	ck_assert(fabs(rms(a.x + 1000, a.n - 2000) - 0.5 / sqrt(2.0)) < 0.01);
	ss_audio_free(&a);
	free(b);
}
END_TEST

/* Right channel in opposite polarity: the mean cancels, so the first channel is analysed; its loudness is
 * that of the two channels (BS.1770 sums channel powers): same as identical channels. */
static void synth_antiphase(float *x, size_t n, double sr, int channel)
{
	synth_sine1k(x, n, sr, channel);
	if (channel == 1)
		for (size_t i = 0; i < n; i++)
			x[i] = -x[i];
}

START_TEST(test_decode_antiphase)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 6.0, synth_antiphase, &len);
	ck_assert_ptr_nonnull(b);
	ss_audio a;
	ss_error e;
	ck_assert_int_eq(decode(b, len, &a, &e), 0);
	ck_assert_uint_eq(a.n, 6 * 22050);
	ck_assert_msg(fabs(rms(a.x + 1000, a.n - 2000) - 0.1 / sqrt(2.0)) < 0.005, "rms %f", rms(a.x, a.n));
	ck_assert_msg(fabs(a.loudness - (-20.0)) < 0.2, "%f LUFS", a.loudness);
	ss_audio_free(&a);
	free(b);
	/* a clip shorter than the hold-back second is decided at the end */
	b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 2, 0.5, synth_antiphase, &len);
	ck_assert_int_eq(decode(b, len, &a, &e), 0);
	ck_assert_uint_eq(a.n, 22050 / 2);
	ck_assert(rms(a.x + 500, a.n - 1000) > 0.05);
	ss_audio_free(&a);
	free(b);
}
END_TEST

START_TEST(test_decode_refuses_bad_formats)
{
	size_t len = 0;
	ss_audio a;
	ss_error e;
	/* 33 channels, and rates outside 8..192 kHz: refused before anything is allocated for the stream */
	unsigned char *b = synth_file(SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 44100, 33, 0.5, synth_sine440, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(decode(b, len, &a, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	free(b);
	b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 4000, 1, 3.0, synth_sine440, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(decode(b, len, &a, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	free(b);
	b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 384000, 1, 0.5, synth_sine440, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(decode(b, len, &a, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	free(b);
	/* formats libsndfile knows but we do not accept */
	b = synth_file(SF_FORMAT_AU | SF_FORMAT_PCM_16, 44100, 1, 0.5, synth_sine440, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(decode(b, len, &a, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	free(b);
	/* nothing, text, random bytes */
	ck_assert_int_eq(decode((const unsigned char *)"", 0, &a, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	const char *txt = "file,bpm,key\nclip.ogg,120,\n";
	ck_assert_int_eq(decode((const unsigned char *)txt, strlen(txt), &a, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	ss_audio_free(&a);
}
END_TEST

START_TEST(test_decode_loudness)
{
	/* A 997 Hz sine of amplitude 0.1 has mean square 0.005; K-weighting adds ~0.69 dB at 1 kHz, which the
	 * -0.691 of BS.1770 cancels: -23.0 LUFS for one channel, 3.01 LU more for the same signal on two. */
	size_t len = 0;
	ss_audio a;
	ss_error e;
	unsigned char *b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 10.0, synth_sine1k, &len);
	ck_assert_int_eq(decode(b, len, &a, &e), 0);
	ck_assert_msg(fabs(a.loudness - (-23.01)) < 0.2, "mono %f LUFS", a.loudness);
	ck_assert_msg(a.loudness_range < 0.5, "LRA %f", a.loudness_range);
	ss_audio_free(&a);
	free(b);
	b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 10.0, synth_sine1k, &len);
	ck_assert_int_eq(decode(b, len, &a, &e), 0);
	ck_assert_msg(fabs(a.loudness - (-20.0)) < 0.2, "stereo %f LUFS", a.loudness);
	ss_audio_free(&a);
	free(b);
	/* silence has no loudness */
	b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, 3.0, synth_silence, &len);
	ck_assert_int_eq(decode(b, len, &a, &e), 0);
	ck_assert(isnan(a.loudness) && isnan(a.loudness_range));
	ss_audio_free(&a);
	free(b);
}
END_TEST

START_TEST(test_decode_cap)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 12.0, synth_sine440, &len);
	ck_assert_ptr_nonnull(b);
	ss_audio a;
	ss_audio_init(&a);
	ss_error e;
	ss_audio_opts o = {.max_seconds = 5.0, .out_rate = 22050.0};
	ck_assert_int_eq(ss_audio_decode(b, len, &o, &a, &e), 0);
	ck_assert_uint_eq(a.n, 5 * 22050);
	ck_assert_int_eq(a.truncated, 1);
	ss_audio_free(&a);
	free(b);
}
END_TEST

/* test_decode_damaged's damage: cut to 1/9 .. 8/9 of the file, then flip bytes, more and more of them, header
 * included. */
static synth_damage decode_damage(int trial, size_t len)
{
	if (trial < 8)
		return (synth_damage){.cut = len * (size_t)(trial + 1) / 9};
	return (synth_damage){.lo = 0, .hi = trial < 16 ? 64 : len, .count = (trial - 7) * 4};
}

/* A damaged file decodes to a bounded, finite signal or fails with a media error. */
static void decode_damaged(const unsigned char *c, size_t len, const char *label)
{
	ss_audio a;
	ss_error e;
	int rc = decode(c, len, &a, &e);
	if (rc == 0) {
		ck_assert(a.n <= (size_t)(30 * 22050) + 1);
		for (size_t i = 0; i < a.n; i++)
			ck_assert(isfinite(a.x[i]) && fabsf(a.x[i]) <= 16.0f);
	} else {
		ck_assert_msg(e.code == SS_ERR_UNSUPPORTED_MEDIA || e.code == SS_ERR_UNPROCESSABLE, "%s: code %d %s",
			      label, e.code, e.msg);
	}
	ss_audio_free(&a);
}

/* Cut, corrupt and overwrite files of every container: every outcome is a clean success or a clean error. */
START_TEST(test_decode_damaged)
{
	static const int formats[] = {SF_FORMAT_WAV | SF_FORMAT_PCM_16, SF_FORMAT_AIFF | SF_FORMAT_PCM_16,
				      SF_FORMAT_FLAC | SF_FORMAT_PCM_16, SF_FORMAT_OGG | SF_FORMAT_VORBIS,
				      SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III};
	const size_t n = sizeof formats / sizeof formats[0];
	ck_assert_int_ge(synth_damage_trials(formats, n, 22050, 2.0, 7u, 24, decode_damage, decode_damaged), 0);
}
END_TEST

/* WAV headers that lie: absurd rates and channel counts are refused before the stream is decoded. */
START_TEST(test_decode_lying_header)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, 3.5, synth_music, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert(len > 44 && memcmp(b + 12, "fmt ", 4) == 0);
	unsigned char *c = malloc(len);
	ck_assert_ptr_nonnull(c);
	static const uint32_t bad_rates[] = {0, 1, 7999, 192001, 1000000000u, 0xFFFFFFFFu};
	for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
		memcpy(c, b, len);
		uint32_t r = bad_rates[i];
		c[24] = (unsigned char)r;
		c[25] = (unsigned char)(r >> 8);
		c[26] = (unsigned char)(r >> 16);
		c[27] = (unsigned char)(r >> 24);
		ss_audio a;
		ss_error e;
		ck_assert_int_eq(decode(c, len, &a, &e), -1);
		ck_assert_msg(e.code == SS_ERR_UNSUPPORTED_MEDIA || e.code == SS_ERR_UNPROCESSABLE, "rate %u: %d", r, e.code);
		ss_audio_free(&a);
	}
	static const uint16_t bad_channels[] = {0, 33, 1024, 65535};
	for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++) {
		memcpy(c, b, len);
		c[22] = (unsigned char)bad_channels[i];
		c[23] = (unsigned char)(bad_channels[i] >> 8);
		ss_audio a;
		ss_error e;
		ck_assert_int_eq(decode(c, len, &a, &e), -1);
		ck_assert_msg(e.code == SS_ERR_UNSUPPORTED_MEDIA || e.code == SS_ERR_UNPROCESSABLE, "channels %u: %d",
			      bad_channels[i], e.code);
		ss_audio_free(&a);
	}
	/* a data chunk claiming 4 GiB of frames: decodes what is there, allocates nothing for the claim */
	memcpy(c, b, len);
	for (size_t off = 36; off + 8 <= len; off++)
		if (memcmp(c + off, "data", 4) == 0) {
			c[off + 4] = c[off + 5] = c[off + 6] = c[off + 7] = 0xFF;
			break;
		}
	ss_audio a;
	ss_error e;
	if (decode(c, len, &a, &e) == 0)
		ck_assert(fabs((double)a.n - 3.5 * 22050) < 2);
	ss_audio_free(&a);
	free(c);
	free(b);
}
END_TEST

/* Float WAV carrying NaN, Inf and huge values: sanitised, never propagated. */
static void synth_hostile_float(float *x, size_t n, double sr, int channel)
{
	synth_music(x, n, sr, channel);
	for (size_t i = 0; i < n; i += 97)
		x[i] = (i / 97) % 3 == 0 ? NAN : (i / 97) % 3 == 1 ? INFINITY : 1e30f;
}

START_TEST(test_decode_hostile_floats)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_WAV | SF_FORMAT_FLOAT, 22050, 1, 5.0, synth_hostile_float, &len);
	ck_assert_ptr_nonnull(b);
	ss_audio a;
	ss_error e;
	ck_assert_int_eq(decode(b, len, &a, &e), 0);
	for (size_t i = 0; i < a.n; i++)
		ck_assert(isfinite(a.x[i]) && fabsf(a.x[i]) <= 16.0f);
	ss_audio_free(&a);
	ss_result r;
	ss_analysis_opts o;
	ss_analysis_opts_default(&o);
	if (ss_analyze_buffer(b, len, &o, &r, &e) == 0) {
		ck_assert(!isinf(r.energy) && !isinf(r.loudness) && !isinf(r.spectral_centroid));
		ss_result_free(&r);
	}
	free(b);
}
END_TEST

START_TEST(test_decode_m4a)
{
	size_t len = 0;
	unsigned char *b = synth_m4a(44100, 2, 5.0, synth_sine440, &len);
#ifdef SS_HAVE_FFMPEG
	if (b == NULL)
		return; /* FFmpeg without an AAC encoder: nothing to decode */
	ck_assert_int_eq(ss_audio_sniff(b, len), SS_AUDIO_KIND_MP4);
	ss_audio a;
	ss_error e;
	ck_assert_msg(decode(b, len, &a, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(a.container, "m4a/aac");
	ck_assert_int_eq(a.src_channels, 2);
	ck_assert_msg(fabs((double)a.n - 5.0 * 22050) < 0.05 * 5.0 * 22050, "%zu", a.n);
	double f = zc_freq(a.x + 4410, a.n - 8820, a.sr);
	ck_assert_msg(fabs(f - 440.0) < 4.0, "%f Hz", f);
	ss_audio_free(&a);
	/* truncated M4A: clean outcome */
	for (int cut = 1; cut < 8; cut++) {
		int rc = decode(b, len * (size_t)cut / 8, &a, &e);
		ck_assert(rc == 0 || e.code == SS_ERR_UNPROCESSABLE || e.code == SS_ERR_UNSUPPORTED_MEDIA);
		ss_audio_free(&a);
	}
	free(b);
	/* ALAC in M4A (integer planar samples from the decoder) */
	b = synth_ffmpeg("ipod", "alac", 44100, 2, 4.0, synth_sine440, &len);
	if (b != NULL) {
		ck_assert_msg(decode(b, len, &a, &e) == 0, "%s", e.msg);
		ck_assert_str_eq(a.container, "m4a/alac");
		ck_assert(a.n >= 4 * 22050 && a.n <= 4 * 22050 + 2048); /* last frame zero-padded by the fixture */
		ck_assert(fabs(rms(a.x + 2205, a.n - 4410) - 0.5 / sqrt(2.0)) < 0.01);
		ss_audio_free(&a);
		free(b);
	}
	/* raw AAC in ADTS frames, mono 48 kHz */
	b = synth_aac("adts", 48000, 1, 4.0, synth_sine440, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(ss_audio_sniff(b, len), SS_AUDIO_KIND_ADTS);
	ck_assert_msg(decode(b, len, &a, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(a.container, "aac");
	ck_assert(a.src_rate == 48000 && a.src_channels == 1);
	ck_assert(fabs(zc_freq(a.x + 4410, a.n - 8820, a.sr) - 440.0) < 4.0);
	ss_audio_free(&a);
	free(b);
#else
	ck_assert_ptr_null(b);
	/* without FFmpeg an M4A is a clear 415 */
	static const unsigned char m4a_head[16] = {0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'M', '4', 'A', ' '};
	ss_audio a;
	ss_error e;
	ck_assert_int_eq(decode(m4a_head, sizeof m4a_head, &a, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
#endif
}
END_TEST

START_TEST(test_sniff)
{
	ck_assert_int_eq(ss_audio_sniff("RIFF\0\0\0\0WAVE", 12), SS_AUDIO_KIND_SNDFILE);
	ck_assert_int_eq(ss_audio_sniff("RIFF\0\0\0\0AVI ", 12), SS_AUDIO_KIND_UNKNOWN);
	ck_assert_int_eq(ss_audio_sniff("FORM\0\0\0\0AIFF", 12), SS_AUDIO_KIND_SNDFILE);
	ck_assert_int_eq(ss_audio_sniff("fLaC", 4), SS_AUDIO_KIND_SNDFILE);
	ck_assert_int_eq(ss_audio_sniff("OggS", 4), SS_AUDIO_KIND_SNDFILE);
	ck_assert_int_eq(ss_audio_sniff("ID3\3", 4), SS_AUDIO_KIND_SNDFILE);
	ck_assert_int_eq(ss_audio_sniff("\xFF\xFB\x90\x64", 4), SS_AUDIO_KIND_SNDFILE);
	ck_assert_int_eq(ss_audio_sniff("\xFF\xF1\x50\x80", 4), SS_AUDIO_KIND_ADTS);
	ck_assert_int_eq(ss_audio_sniff("\0\0\0\x20" "ftypM4A ", 12), SS_AUDIO_KIND_MP4);
	ck_assert_int_eq(ss_audio_sniff("\x89PNG\r\n\x1a\n", 8), SS_AUDIO_KIND_UNKNOWN);
	ck_assert_int_eq(ss_audio_sniff("R", 1), SS_AUDIO_KIND_UNKNOWN);
}
END_TEST

START_TEST(test_resampler_streaming)
{
	/* block by block equals the expected length and keeps a tone's frequency */
	ss_error e;
	ss_resampler *r = ss_resampler_new(48000, 22050, &e);
	ck_assert_ptr_nonnull(r);
	size_t n = 48000 * 2;
	float *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
	ck_assert(in && out);
	synth_sine1k(in, n, 48000, 0);
	size_t total = 0, w;
	for (size_t i = 0; i < n; i += 1000) {
		size_t m = n - i < 1000 ? n - i : 1000;
		ck_assert_int_eq(ss_resampler_process(r, in + i, m, out + total, n - total, &w, &e), 0);
		total += w;
	}
	ck_assert_int_eq(ss_resampler_process(r, NULL, 0, out + total, n - total, &w, &e), 0);
	total += w;
	ck_assert_msg(total >= 44100 - 2 && total <= 44100 + 64, "%zu", total);
	ck_assert(fabs(zc_freq(out + 500, 40000, 22050) - 997.0) < 3.0);
	ss_resampler_free(r);
	ss_resampler_free(NULL);
	free(in);
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ pipeline */

static int analyze_signal(synth_fn gen, double seconds, double sr, int channels, ss_result *r, ss_error *e)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_WAV | SF_FORMAT_FLOAT, sr, channels, seconds, gen, &len);
	ck_assert_ptr_nonnull(b);
	ss_analysis_opts o;
	ss_analysis_opts_default(&o);
	ss_error_clear(e);
	int rc = ss_analyze_buffer(b, len, &o, r, e);
	free(b);
	return rc;
}

/* Every number is finite or NaN (encoded as null), every 0..1 score in range. */
static void assert_well_defined(const ss_result *r)
{
	const double v01[] = {r->bpm_confidence, r->key_confidence, r->energy, r->danceability, r->acousticness,
			      r->valence, r->silence_ratio, r->percussive_energy_ratio, r->harmonic_energy_ratio,
			      r->tonal_strength, r->spectral_flux};
	for (size_t i = 0; i < sizeof v01 / sizeof v01[0]; i++)
		ck_assert_msg(isnan(v01[i]) || (v01[i] >= 0.0 && v01[i] <= 1.0), "score %zu = %f", i, v01[i]);
	ck_assert(!isinf(r->bpm) && (isnan(r->bpm) || r->bpm > 0));
	ck_assert(!isinf(r->loudness) && !isinf(r->dynamic_range) && !isinf(r->spectral_centroid));
	ck_assert(isnan(r->zero_crossing_rate) || (r->zero_crossing_rate >= 0 && r->zero_crossing_rate <= 1));
	ck_assert(isfinite(r->signal_duration) && r->signal_duration >= 3.0);
	ck_assert(isfinite(r->energy) && isfinite(r->danceability) && isfinite(r->acousticness));
	ck_assert_ptr_nonnull(r->mood);
	for (size_t i = 0; i < r->n_beats; i++)
		ck_assert(isfinite(r->beats[i]) && r->beats[i] >= 0 && r->beats[i] <= r->signal_duration + 0.1);
}

START_TEST(test_pipeline_music)
{
	ss_result r;
	ss_error e;
	ck_assert_msg(analyze_signal(synth_music, 12.0, 44100, 2, &r, &e) == 0, "%s", e.msg);
	assert_well_defined(&r);
	/* 120 BPM kick: the pulse or its octave */
	ck_assert_msg(fabs(r.bpm - 120) < 4.8 || fabs(r.bpm - 240) < 9.6 || fabs(r.bpm - 60) < 2.4, "bpm %f", r.bpm);
	ck_assert(r.n_beats > 5);
	ck_assert(fabs(r.signal_duration - 12.0) < 0.01);
	ck_assert(r.percussive_energy_ratio > 0.2);
	ck_assert(r.silence_ratio < 0.05);
	ss_result_free(&r);
}
END_TEST

START_TEST(test_pipeline_silence)
{
	ss_result r;
	ss_error e;
	ck_assert_int_eq(analyze_signal(synth_silence, 10.0, 44100, 2, &r, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNPROCESSABLE);
	ck_assert(strstr(e.msg, "silent") != NULL);
	ck_assert(isnan(r.bpm) && r.beats == NULL); /* left initialised */
}
END_TEST

START_TEST(test_pipeline_short)
{
	ss_result r;
	ss_error e;
	ck_assert_int_eq(analyze_signal(synth_music, 2.5, 44100, 1, &r, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNPROCESSABLE);
	ck_assert(strstr(e.msg, "3 s") != NULL);
	/* exactly 3 s is enough */
	ck_assert_msg(analyze_signal(synth_music, 3.0, 44100, 1, &r, &e) == 0, "%s", e.msg);
	assert_well_defined(&r);
	ss_result_free(&r);
}
END_TEST

START_TEST(test_pipeline_single_tone)
{
	ss_result r;
	ss_error e;
	ck_assert_msg(analyze_signal(synth_sine440, 8.0, 44100, 1, &r, &e) == 0, "%s", e.msg);
	assert_well_defined(&r);
	ck_assert(r.harmonic_energy_ratio > 0.8);
	ck_assert(fabs(r.spectral_centroid - 440.0) < 60.0);
	ck_assert(r.zero_crossing_rate > 0 && fabs(r.zero_crossing_rate - 2 * 440.0 / 22050) < 0.005);
	ss_result_free(&r);
}
END_TEST

static void synth_music_dc(float *x, size_t n, double sr, int channel)
{
	synth_music(x, n, sr, channel);
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] * 0.5f + 0.4f;
}

static void synth_music_half(float *x, size_t n, double sr, int channel)
{
	synth_music(x, n, sr, channel);
	for (size_t i = 0; i < n; i++)
		x[i] *= 0.5f;
}

START_TEST(test_pipeline_dc_offset)
{
	ss_result a, b;
	ss_error e;
	ck_assert_int_eq(analyze_signal(synth_music_half, 10.0, 44100, 1, &a, &e), 0);
	ck_assert_int_eq(analyze_signal(synth_music_dc, 10.0, 44100, 1, &b, &e), 0);
	assert_well_defined(&b);
	ck_assert(fabs(a.bpm - b.bpm) < 0.5);
	ck_assert_msg(fabs(a.spectral_centroid - b.spectral_centroid) < 0.05 * a.spectral_centroid, "%f %f",
		      a.spectral_centroid, b.spectral_centroid);
	ck_assert(fabs(a.zero_crossing_rate - b.zero_crossing_rate) < 0.01);
	ck_assert(fabs(a.loudness - b.loudness) < 0.5); /* K-weighting removes DC */
	ss_result_free(&a);
	ss_result_free(&b);
}
END_TEST

static void synth_clipped(float *x, size_t n, double sr, int channel)
{
	synth_music(x, n, sr, channel);
	for (size_t i = 0; i < n; i++) {
		float v = x[i] * 8.0f;
		x[i] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
	}
}

START_TEST(test_pipeline_clipping)
{
	ss_result r;
	ss_error e;
	ck_assert_msg(analyze_signal(synth_clipped, 8.0, 44100, 2, &r, &e) == 0, "%s", e.msg);
	assert_well_defined(&r);
	ck_assert(r.loudness > -10.0);
	ss_result_free(&r);
}
END_TEST

START_TEST(test_pipeline_deterministic)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 8.0, synth_music, &len);
	ck_assert_ptr_nonnull(b);
	ss_analysis_opts o;
	ss_analysis_opts_default(&o);
	char *text[2];
	for (int k = 0; k < 2; k++) {
		ss_result r;
		ss_error e;
		ck_assert_int_eq(ss_analyze_buffer(b, len, &o, &r, &e), 0);
		r.analysis_duration = 0.0; /* wall time is the one field that may differ */
		json_object *j = json_object_new_object();
		ck_assert_int_eq(ss_result_to_json(&r, true, j), 0);
		text[k] = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
		ss_result_free(&r);
	}
	ck_assert_str_eq(text[0], text[1]);
	free(text[0]);
	free(text[1]);
	free(b);
}
END_TEST

START_TEST(test_pipeline_max_seconds)
{
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, 9.0, synth_music, &len);
	ss_analysis_opts o = {.max_seconds = 5.0};
	ss_result r;
	ss_error e;
	ck_assert_int_eq(ss_analyze_buffer(b, len, &o, &r, &e), 0);
	ck_assert(fabs(r.signal_duration - 5.0) < 1e-9);
	ss_result_free(&r);
	o.max_seconds = 0.5; /* out of range */
	ck_assert_int_eq(ss_analyze_buffer(b, len, &o, &r, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_INTERNAL);
	char tag[64];
	ss_analysis_opts_default(&o);
	ck_assert_str_eq(ss_analysis_opts_tag(&o, tag, sizeof tag), "v14;max=30");
	free(b);
}
END_TEST

START_TEST(test_analyze_file_errors)
{
	ss_result r;
	ss_error e;
	ss_analysis_opts o;
	ss_analysis_opts_default(&o);
	ck_assert_int_eq(ss_analyze_file("/nonexistent/clip.wav", &o, &r, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_NOT_FOUND);
	ck_assert_int_eq(ss_analyze_file(".", &o, &r, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_NOT_FOUND);
	ck_assert_int_eq(ss_analyze_file("/dev/null", &o, &r, &e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	ck_assert_ptr_nonnull(ss_analysis_decoders());
}
END_TEST

/* songscope-analyze: one JSON line per file, the API fields plus "file", errors inline, exit status 1. */
START_TEST(test_analyze_cli)
{
	const char *top = getenv("SS_TOP_BUILDDIR");
	if (top == NULL)
		top = ".";
	char tool[1024];
	snprintf(tool, sizeof tool, "%s/tools/songscope-analyze", top);
	if (access(tool, X_OK) != 0)
		return; /* run outside the build tree */
	char wav[512], bad[512], name[64];
	snprintf(name, sizeof name, "ss-cli-%d.wav", (int)getpid());
	ck_assert_int_eq(ss_scratch_path(wav, sizeof wav, name), 0);
	snprintf(name, sizeof name, "ss-cli-%d.txt", (int)getpid());
	ck_assert_int_eq(ss_scratch_path(bad, sizeof bad, name), 0);
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, 6.0, synth_music, &len);
	FILE *f = fopen(wav, "wb");
	ck_assert(f != NULL && fwrite(b, 1, len, f) == len && fclose(f) == 0);
	f = fopen(bad, "wb");
	ck_assert(f != NULL && fputs("not audio\n", f) >= 0 && fclose(f) == 0);
	free(b);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "'%s' --beats '%s' '%s'", tool, wav, bad);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[65536];
	ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
	json_object *j = json_tokener_parse(line);
	ck_assert_ptr_nonnull(j);
	json_object *v;
	ck_assert(json_object_object_get_ex(j, "file", &v) && strcmp(json_object_get_string(v), wav) == 0);
	ck_assert(json_object_object_get_ex(j, "bpm", &v) && json_object_object_get_ex(j, "beats", &v));
	ck_assert(json_object_object_get_ex(j, "key_details", &v) && !json_object_object_get_ex(j, "error", &v));
	json_object_put(j);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
	j = json_tokener_parse(line);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_object_object_get_ex(j, "error", &v) &&
		  strcmp(json_object_get_string(v), "unsupported_media_type") == 0);
	ck_assert(json_object_object_get_ex(j, "message", &v) && json_object_object_get_ex(j, "file", &v));
	json_object_put(j);
	ck_assert_ptr_null(fgets(line, sizeof line, p));
	int st = pclose(p);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	/* all good: 0; usage error: 2 */
	snprintf(cmd, sizeof cmd, "'%s' --max-seconds 5 '%s' >/dev/null", tool, wav);
	st = system(cmd);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(cmd, sizeof cmd, "'%s' --max-seconds 1 '%s' >/dev/null 2>&1", tool, wav);
	st = system(cmd);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	unlink(wav);
	unlink(bad);
}
END_TEST

/* songscope-score and songscope-bench on a two-clip labelled folder: they run and print their tables. */
static int run_capture(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_score_and_bench_tools)
{
	const char *top = getenv("SS_TOP_BUILDDIR");
	if (top == NULL)
		top = ".";
	char score[1024], bench[1024];
	snprintf(score, sizeof score, "%s/tools/songscope-score", top);
	snprintf(bench, sizeof bench, "%s/tools/songscope-bench", top);
	if (access(score, X_OK) != 0 || access(bench, X_OK) != 0)
		return;
	char dir[512], path[600];
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, "ss-labels-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	size_t len = 0;
	unsigned char *b = synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 6.0, synth_music, &len);
	snprintf(path, sizeof path, "%s/groove.flac", dir);
	FILE *f = fopen(path, "wb");
	ck_assert(f != NULL && fwrite(b, 1, len, f) == len && fclose(f) == 0);
	free(b);
	snprintf(path, sizeof path, "%s/labels.csv", dir);
	f = fopen(path, "w");
	ck_assert(f != NULL && fputs("file,bpm,key,kind\ngroove.flac,120,C major,synth\n", f) >= 0 && fclose(f) == 0);
	char cmd[2048], out[16384];
	snprintf(cmd, sizeof cmd, "'%s' -v '%s' 2>/dev/null", score, dir);
	ck_assert_int_eq(run_capture(cmd, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "| synth | 1 | 1 | 1 |") != NULL, "%s", out);
	ck_assert(strstr(out, "| **all** | 1 | 1 | 1 |") != NULL && strstr(out, "key MIREX") != NULL);
	/* the clip labelled 120 BPM counts in the middle band of the tempo table, and only there */
	ck_assert_msg(strstr(out, "| middle (81-169 BPM) | 1 |") != NULL && strstr(out, "| slow (") == NULL &&
			      strstr(out, "| fast (") == NULL,
		      "%s", out);
	snprintf(cmd, sizeof cmd, "'%s' --reps 1 '%s' 2>/dev/null", bench, dir);
	ck_assert_int_eq(run_capture(cmd, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "| flac | 1 |") != NULL && strstr(out, "real-time factor") != NULL, "%s", out);
	/* a folder without labels.csv is an error for the scorer */
	snprintf(cmd, sizeof cmd, "'%s' '%s/nope' 2>/dev/null", score, dir);
	ck_assert_int_eq(run_capture(cmd, out, sizeof out), 1);
	snprintf(path, sizeof path, "%s/groove.flac", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/labels.csv", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------------ encoder, HPSS, scores */

START_TEST(test_result_json)
{
	ss_result r;
	ss_result_init(&r);
	json_object *j = json_object_new_object();
	ck_assert_int_eq(ss_result_to_json(&r, false, j), 0);
	/* every field present, unknowns are null, no beats unless asked */
	static const char *const fields[] = {
		"bpm", "bpm_confidence", "key", "key_index", "mode", "key_confidence", "key_details", "energy",
		"danceability", "acousticness", "spectral_centroid", "time_signature", "valence", "mood", "loudness",
		"dynamic_range", "silence_ratio", "zero_crossing_rate", "spectral_flux", "percussive_energy_ratio",
		"harmonic_energy_ratio", "tonal_strength", "signal_duration", "analysis_duration", "bpm_candidates",
		"speechiness", "instrumentalness", "liveness"};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		json_object *v;
		ck_assert_msg(json_object_object_get_ex(j, fields[i], &v), "missing %s", fields[i]);
	}
	json_object *v;
	/* Fields the clients decode as required numbers are 0 when unknown; the others are null. */
	static const char *const required[] = {"bpm", "bpm_confidence", "key_confidence", "energy", "danceability",
					       "acousticness", "spectral_centroid"};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		ck_assert(json_object_object_get_ex(j, required[i], &v));
		ck_assert_msg(v != NULL && json_object_get_double(v) == 0.0, "%s is not 0", required[i]);
	}
	ck_assert(json_object_object_get_ex(j, "valence", &v) && v == NULL);
	ck_assert(json_object_object_get_ex(j, "loudness", &v) && v == NULL);
	ck_assert(!json_object_object_get_ex(j, "beats", &v));
	ck_assert(!json_object_object_get_ex(j, "downbeats", &v));
	ck_assert(json_object_object_get_ex(j, "bpm_candidates", &v) && json_object_is_type(v, json_type_array) &&
		  json_object_array_length(v) == 0);
	ck_assert(json_object_object_get_ex(j, "time_signature", &v) && v == NULL);
	json_object *kd = json_object_object_get(j, "key_details");
	ck_assert(json_object_object_get_ex(kd, "camelot", &v) && v == NULL);
	ck_assert(json_object_object_get_ex(kd, "open_key", &v) && v == NULL);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(j, "key")), "Unknown");
	json_object_put(j);

	r.bpm = 127.5;
	r.beats_per_bar = 3;
	r.key_index = 1;
	r.mode = 0;
	r.key_candidates[0] = (ss_key_candidate){1, 0, 0.81};
	r.key_profile = "temperley";
	r.energy = INFINITY; /* never leaks as a number */
	double beats[2] = {0.5, 1.0}, downbeats[1] = {1.0};
	r.beats = beats;
	r.n_beats = 2;
	r.downbeats = downbeats;
	r.n_downbeats = 1;
	r.bpm_candidates[0] = (ss_bpm_candidate){127.5, 0.9};
	r.bpm_candidates[1] = (ss_bpm_candidate){85.0, 0.95};
	r.n_bpm_candidates = 2;
	j = json_object_new_object();
	ck_assert_int_eq(ss_result_to_json(&r, true, j), 0);
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	ck_assert_msg(strstr(s, "\"bpm\":127.5") != NULL, "%s", s);
	ck_assert(strstr(s, "\"key\":\"C# Minor\"") != NULL);
	ck_assert(strstr(s, "\"time_signature\":\"3/4\"") != NULL);
	ck_assert(strstr(s, "\"energy\":0") != NULL);
	ck_assert(strstr(s, "\"beats\":[0.5,1]") != NULL || strstr(s, "\"beats\":[0.5,1.0]") != NULL);
	ck_assert(strstr(s, "\"tonic\":\"C#\"") != NULL && strstr(s, "\"mode\":\"minor\"") != NULL);
	ck_assert(strstr(s, "\"candidates\":[{\"key\":\"C# Minor\"") != NULL);
	ck_assert(strstr(s, "NaN") == NULL && strstr(s, "Infinity") == NULL);
	ck_assert_msg(strstr(s, "\"downbeats\":[1]") != NULL || strstr(s, "\"downbeats\":[1.0]") != NULL, "%s", s);
	ck_assert_msg(strstr(s, "\"bpm_candidates\":[{\"bpm\":127.5,\"score\":0.9},{\"bpm\":85,\"score\":0.95}]") !=
			      NULL,
		      "%s", s);
	ck_assert(strstr(s, "\"camelot\":\"12A\"") != NULL && strstr(s, "\"open_key\":\"5m\"") != NULL);
	json_object_put(j);

	/* a time signature from the metre stage wins over beats_per_bar; what the cache stores for ?beats=1 */
	r.time_signature = "6/8";
	r.beats_per_bar = 2;
	j = json_object_new_object();
	ck_assert_int_eq(ss_result_to_json(&r, false, j), 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(j, "time_signature")), "6/8");
	json_object_put(j);
	ss_buf b;
	ss_buf_init(&b, 0);
	ck_assert_int_eq(ss_result_beats_text(&r, &b), 0);
	ck_assert_str_eq(b.data, "{\"beats\":[0.500,1.000],\"downbeats\":[1.000],\"segments\":[],\"sections\":[]}");
	/* segments: compact arrays, rounded to their stored precision, last */
	ss_segment seg[2] = {{.start = 0.0, .duration = 0.2321, .confidence = 1.0, .loudness_start = -20.04,
			      .loudness_max = -9.96, .loudness_max_time = 0.0694, .loudness_end = -30.0},
			     {.start = 0.2321, .duration = 0.5, .confidence = 0.25, .loudness_start = -30.0,
			      .loudness_max = -12.5, .loudness_max_time = 0.1, .loudness_end = -60.0}};
	for (int i = 0; i < SS_SEGMENT_DIMS; i++) {
		seg[0].pitches[i] = i == 9 ? 1.0 : 0.1234;
		seg[0].timbre[i] = i == 0 ? 40.04 : -1.26;
	}
	ss_section sec[2] = {{.start = 0.0, .duration = 6.3214, .confidence = 1.0, .loudness = -12.34, .key = 9,
			      .mode = 0, .key_confidence = 0.8765, .time_signature = 3, .time_signature_confidence = 0.6543,
			      .tempo_confidence = 0.4321, .tempo = 123.456, .mode_confidence = 0.9876},
			     {.start = 6.3214, .duration = 10.0, .confidence = 0.4567, .loudness = -60.0, .key = -1,
			      .mode = -1, .key_confidence = 0.0, .time_signature = 4, .time_signature_confidence = 0.0}};
	r.segments = seg;
	r.n_segments = 2;
	r.sections = sec;
	r.n_sections = 2;
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_result_beats_text(&r, &b), 0);
	ck_assert_str_eq(b.data, "{\"beats\":[0.500,1.000],\"downbeats\":[1.000],\"segments\":["
				 "[0,0.232,1,-20,0.069,-10,-30,[0.12,0.12,0.12,0.12,0.12,0.12,0.12,0.12,0.12,1,0.12,0.12],"
				 "[40,-1.3,-1.3,-1.3,-1.3,-1.3,-1.3,-1.3,-1.3,-1.3,-1.3,-1.3]],"
				 "[0.232,0.5,0.25,-30,0.1,-12.5,-60,[0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0]]],"
				 "\"sections\":[[0,6.321,1,-12.3,9,0,0.877,3,0.654,0.432,123.46,0.988],[6.321,10,0.457,-60,-1,-1,0,4,0,0,0,0]]}");
	r.segments = NULL;
	r.n_segments = 0;
	r.sections = NULL;
	r.n_sections = 0;
	ss_buf_free(&b);
}
END_TEST

/* Camelot and Open Key for all 24 keys, as the published wheels print them (Mixed In Key's Camelot wheel,
 * Beatunes/Traktor's Open Key), written here with the wheels' own spellings (flats) and parsed. */
START_TEST(test_key_wheels)
{
	static const struct {
		const char *key, *camelot, *open_key;
	} wheel[] = {
		{"Ab minor", "1A", "6m"},  {"B major", "1B", "6d"},   {"Eb minor", "2A", "7m"},  {"F# major", "2B", "7d"},
		{"Bb minor", "3A", "8m"},  {"Db major", "3B", "8d"},  {"F minor", "4A", "9m"},   {"Ab major", "4B", "9d"},
		{"C minor", "5A", "10m"},  {"Eb major", "5B", "10d"}, {"G minor", "6A", "11m"},  {"Bb major", "6B", "11d"},
		{"D minor", "7A", "12m"},  {"F major", "7B", "12d"},  {"A minor", "8A", "1m"},   {"C major", "8B", "1d"},
		{"E minor", "9A", "2m"},   {"G major", "9B", "2d"},   {"B minor", "10A", "3m"},  {"D major", "10B", "3d"},
		{"F# minor", "11A", "4m"}, {"A major", "11B", "4d"},  {"Db minor", "12A", "5m"}, {"E major", "12B", "5d"},
	};
	int seen[24] = {0};
	for (size_t i = 0; i < sizeof wheel / sizeof wheel[0]; i++) {
		int k, m;
		ck_assert_int_eq(ss_key_parse(wheel[i].key, &k, &m), 0);
		seen[k * 2 + m]++;
		ck_assert_msg(ss_key_camelot(k, m) != NULL && strcmp(ss_key_camelot(k, m), wheel[i].camelot) == 0,
			      "%s: Camelot %s, want %s", wheel[i].key, ss_key_camelot(k, m), wheel[i].camelot);
		ck_assert_msg(ss_key_open_key(k, m) != NULL && strcmp(ss_key_open_key(k, m), wheel[i].open_key) == 0,
			      "%s: Open Key %s, want %s", wheel[i].key, ss_key_open_key(k, m), wheel[i].open_key);
	}
	for (int i = 0; i < 24; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_ptr_null(ss_key_camelot(-1, 0));
	ck_assert_ptr_null(ss_key_camelot(12, 1));
	ck_assert_ptr_null(ss_key_open_key(0, -1));
	ck_assert_ptr_null(ss_key_open_key(0, 2));
}
END_TEST

START_TEST(test_signal_scans)
{
	/* lengths around the eight-sample chunks, and non-finite samples anywhere */
	for (size_t n = 0; n < 40; n++) {
		float x[40];
		double want_e = 0.0, want_sum = 0.0;
		for (size_t i = 0; i < n; i++) {
			x[i] = (float)((int)(i % 7) - 3) * 0.25f;
			want_e += (double)x[i] * x[i];
			want_sum += x[i];
		}
		ck_assert_int_eq(ss_signal_all_finite(x, n), 1);
		ck_assert(fabs(ss_signal_energy(x, n) - want_e) < 1e-9);
		ss_signal_subtract(x, n, 0.5f);
		for (size_t i = 0; i < n; i++)
			ck_assert(x[i] == (float)((int)(i % 7) - 3) * 0.25f - 0.5f);
		ss_signal_subtract(x, n, -0.5f);
		ck_assert(fabs(ss_signal_mean(x, n) - (n ? want_sum / (double)n : 0.0)) < 1e-9);
		for (size_t bad = 0; bad < n; bad += 5) {
			float keep = x[bad];
			x[bad] = bad % 2 ? NAN : -INFINITY;
			ck_assert_int_eq(ss_signal_all_finite(x, n), 0);
			/* non-finite samples count as silence in the energy */
			ck_assert(fabs(ss_signal_energy(x, n) - (want_e - (double)keep * keep)) < 1e-9);
			ck_assert(!isfinite(ss_signal_mean(x, n)));
			x[bad] = keep;
		}
	}
	/* the largest finite samples: their squares do not overflow a double */
	float big[9];
	for (size_t i = 0; i < 9; i++)
		big[i] = FLT_MAX;
	ck_assert(isfinite(ss_signal_energy(big, 9)) && ss_signal_energy(big, 9) > 1e77);
}
END_TEST

START_TEST(test_stft_matches_dft)
{
	/* Both code paths (one real FFT per frame below 1024 points, two frames per complex FFT from 1024 on),
	 * odd and even frame counts, frames at both ends: magnitude and power against a direct DFT. */
	const size_t cases[][3] = {{16, 4, 101}, {64, 64, 640}, {1024, 1024, 5000}, {1024, 256, 4096}, {2048, 700, 9000}};
	uint32_t seed = 777;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const size_t n_fft = cases[c][0], hop = cases[c][1], n = cases[c][2];
		float *x = malloc(n * sizeof *x);
		ck_assert_ptr_nonnull(x);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1664525u + 1013904223u;
			x[i] = (float)((double)(seed >> 8) / 16777216.0 - 0.5);
		}
		ss_spectrogram m, p;
		ss_error e;
		ck_assert_int_eq(ss_stft_magnitude(x, n, 8000, n_fft, hop, &m, &e), 0);
		ck_assert_int_eq(ss_stft_power(x, n, 8000, n_fft, hop, &p, &e), 0);
		ck_assert_uint_eq(m.n_frames, 1 + n / hop);
		ck_assert_int_eq(p.power, 1);
		for (size_t t = 0; t < m.n_frames; t += (t % 7 == 0) ? 1 : 5) {
			for (size_t k = 0; k < m.n_bins; k += 1 + m.n_bins / 23) {
				double re = 0, im = 0;
				for (size_t i = 0; i < n_fft; i++) {
					long j = (long)(t * hop) - (long)(n_fft / 2) + (long)i;
					double v = j >= 0 && (size_t)j < n ? x[j] : 0.0;
					v *= 0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)n_fft);
					re += v * cos(2 * M_PI * (double)(i * k) / (double)n_fft);
					im -= v * sin(2 * M_PI * (double)(i * k) / (double)n_fft);
				}
				double want = sqrt(re * re + im * im), tol = 1e-4 * sqrt((double)n_fft);
				ck_assert_msg(fabs(m.mag[t * m.n_bins + k] - want) < tol, "n_fft %zu frame %zu bin %zu: %f vs %f",
					      n_fft, t, k, m.mag[t * m.n_bins + k], want);
				ck_assert(fabs(p.mag[t * p.n_bins + k] - want * want) < tol * (2 * want + tol));
			}
		}
		ss_spectrogram_free(&m);
		ss_spectrogram_free(&p);
		free(x);
	}
}
END_TEST

START_TEST(test_hpss)
{
	const double sr = 22050;
	size_t n = (size_t)(sr * 4);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	ss_spectrogram s;
	ss_error e;
	double h, p;
	/* steady tones: harmonic */
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.3 * sin(2 * M_PI * 330 * i / sr) + 0.2 * sin(2 * M_PI * 1250 * i / sr));
	ck_assert_int_eq(ss_stft_magnitude(x, n, sr, 1024, 1024, &s, &e), 0);
	ck_assert_int_eq(ss_hpss_energy(&s, 1, 2, 17, 9, NULL, &h, &p, &e), 0);
	ck_assert_msg(h > 0.9 && fabs(h + p - 1.0) < 1e-9, "h %f", h);
	ss_spectrogram_free(&s);
	/* clicks: percussive */
	memset(x, 0, n * sizeof *x);
	for (size_t i = 0; i < n; i += 5000)
		x[i] = 0.9f;
	ck_assert_int_eq(ss_stft_magnitude(x, n, sr, 1024, 1024, &s, &e), 0);
	ck_assert_int_eq(ss_hpss_energy(&s, 1, 2, 17, 9, NULL, &h, &p, &e), 0);
	ck_assert_msg(p > 0.7, "p %f", p);
	ck_assert_int_eq(ss_hpss_energy(&s, 1, 2, 16, 9, NULL, &h, &p, &e), -1); /* even kernel */
	ss_spectrogram_free(&s);
	free(x);
}
END_TEST

/* With pooling, a pooled frame counts when any of its frames is flagged active: flags on only the second frame of each
 * pair give what no flags (all active) give, and no flag at all gives no energy (both ratios NaN). A clip whose only
 * sounding frame was the second of a pair once got no ratios at all. */
START_TEST(test_hpss_pooled_frame_active_by_any_frame)
{
	const double sr = 22050;
	size_t n = (size_t)(sr * 3);
	float *x = calloc(n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.3 * sin(2 * M_PI * 330 * i / sr) + (i % 4000 == 0 ? 0.8 : 0.0));
	ss_spectrogram s;
	ss_error e;
	ck_assert_int_eq(ss_stft_magnitude(x, n, sr, 1024, 512, &s, &e), 0);
	unsigned char *second = calloc(s.n_frames, 1), *none = calloc(s.n_frames, 1);
	ck_assert(second != NULL && none != NULL);
	for (size_t f = 1; f < s.n_frames; f += 2)
		second[f] = 1;
	double h_all, p_all, h, p;
	ck_assert_int_eq(ss_hpss_energy(&s, 2, 2, 17, 9, NULL, &h_all, &p_all, &e), 0);
	ck_assert(isfinite(h_all) && h_all > 0.5);
	ck_assert_int_eq(ss_hpss_energy(&s, 2, 2, 17, 9, second, &h, &p, &e), 0);
	ck_assert_msg(h == h_all && p == p_all, "second frames only: h %g, all frames: h %g", h, h_all);
	ck_assert_int_eq(ss_hpss_energy(&s, 2, 2, 17, 9, none, &h, &p, &e), 0);
	ck_assert(isnan(h) && isnan(p));
	free(second);
	free(none);
	ss_spectrogram_free(&s);
	free(x);
}
END_TEST

/* Reference HPSS for test_hpss_matches_reference: medians by sorting, reflected edges, no pooling. */
static int cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static long refl(long i, long n)
{
	while (i < 0 || i >= n)
		i = i < 0 ? -i - 1 : 2 * n - i - 1;
	return i;
}

static double hpss_reference(const float *m, long nf, long nb, long tk, long fk)
{
	float w[64];
	double eh = 0, ea = 0;
	for (long t = 0; t < nf; t++)
		for (long k = 0; k < nb; k++) {
			for (long j = 0; j < tk; j++)
				w[j] = m[refl(t + j - tk / 2, nf) * nb + k];
			qsort(w, (size_t)tk, sizeof *w, cmp_f);
			double h = w[tk / 2];
			for (long j = 0; j < fk; j++)
				w[j] = m[t * nb + refl(k + j - fk / 2, nb)];
			qsort(w, (size_t)fk, sizeof *w, cmp_f);
			double p = w[fk / 2], x = m[t * nb + k];
			double mh = h * h + p * p > 0 ? h * h / (h * h + p * p) : 0.5;
			eh += mh * x * x;
			ea += x * x;
		}
	return eh / ea;
}

START_TEST(test_hpss_matches_reference)
{
	/* odd sizes (a partial last vector of bins), ties, zeros and kernels longer than the matrix */
	const size_t shapes[][2] = {{37, 29}, {5, 3}, {64, 130}};
	const size_t kernels[][2] = {{9, 9}, {17, 9}, {3, 5}, {31, 11}};
	uint32_t seed = 12345;
	for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
		size_t nf = shapes[si][0], nb = shapes[si][1];
		ss_spectrogram s = {.n_fft = 2 * (nb - 1), .hop = 1, .n_frames = nf, .n_bins = nb, .sr = 8000};
		s.mag = malloc(nf * nb * sizeof *s.mag);
		ck_assert_ptr_nonnull(s.mag);
		for (size_t i = 0; i < nf * nb; i++) {
			seed = seed * 1664525u + 1013904223u;
			unsigned v = seed >> 24;
			s.mag[i] = v < 40 ? 0.0f : (float)(v % 16) * 0.25f; /* many equal values */
		}
		for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++) {
			double h, p;
			ss_error e;
			ck_assert_int_eq(ss_hpss_energy(&s, 1, 1, kernels[ki][0], kernels[ki][1], NULL, &h, &p, &e), 0);
			double want = hpss_reference(s.mag, (long)nf, (long)nb, (long)kernels[ki][0], (long)kernels[ki][1]);
			ck_assert_msg(fabs(h - want) < 1e-12, "%zux%zu kernels %zu/%zu: %.15f vs %.15f", nf, nb,
				      kernels[ki][0], kernels[ki][1], h, want);
		}
		free(s.mag);
	}
}
END_TEST

START_TEST(test_mood_scores)
{
	ss_mood_inputs loud = {.loudness = -7, .loudness_range = 4, .centroid = 3000, .flatness = 0.3, .percussive = 0.55,
			       .harmonic = 0.45, .silence_ratio = 0, .onset_density = 5, .bpm = 124, .pulse_clarity = 0.9,
			       .beat_regularity = 0.9, .mode = 1, .key_confidence = 0.5};
	ss_mood_inputs soft = {.loudness = -28, .loudness_range = 14, .centroid = 900, .flatness = 0.02, .percussive = 0.1,
			       .harmonic = 0.9, .silence_ratio = 0.1, .onset_density = 0.6, .bpm = 66, .pulse_clarity = 0.2,
			       .beat_regularity = 0.3, .mode = 0, .key_confidence = 0.5};
	double el = ss_mood_energy(&loud), es = ss_mood_energy(&soft);
	ck_assert(el > 0.8 && es < 0.2);
	ck_assert(ss_mood_danceability(&loud) > 0.8 && ss_mood_danceability(&soft) < 0.4);
	ck_assert(ss_mood_acousticness(&soft) > 0.8 && ss_mood_acousticness(&loud) < 0.3);
	double vl = ss_mood_valence(&loud, el), vs = ss_mood_valence(&soft, es);
	ck_assert(vl > 0.7 && vs < 0.3);
	ck_assert_str_eq(ss_mood_word(vl, el), "energetic");
	ck_assert_str_eq(ss_mood_word(vs, es), "sad");
	ck_assert_str_eq(ss_mood_word(0.8, 0.3), "calm");
	ck_assert_str_eq(ss_mood_word(0.2, 0.7), "tense");
	ck_assert_str_eq(ss_mood_word(0.7, 0.6), "happy");
	ck_assert_str_eq(ss_mood_word(0.52, 0.47), "neutral");
	ck_assert_str_eq(ss_mood_word(NAN, 0.5), "unknown");
	/* no pulse, NaN inputs: still 0..1 */
	ss_mood_inputs none = {.loudness = NAN, .loudness_range = NAN, .centroid = NAN, .flatness = NAN, .percussive = NAN,
			       .harmonic = NAN, .silence_ratio = NAN, .onset_density = NAN, .bpm = NAN,
			       .pulse_clarity = NAN, .beat_regularity = NAN, .mode = -1, .key_confidence = NAN};
	double e0 = ss_mood_energy(&none);
	ck_assert(e0 >= 0 && e0 <= 1);
	ck_assert(ss_mood_danceability(&none) == 0.0);
	double a0 = ss_mood_acousticness(&none), v0 = ss_mood_valence(&none, e0);
	ck_assert(a0 >= 0 && a0 <= 1 && v0 >= 0 && v0 <= 1);
}
END_TEST

static Suite *analysis_suite(void)
{
	Suite *s = suite_create("analysis");
	TCase *d = tcase_create("decode");
	tcase_set_timeout(d, 120);
	tcase_add_loop_test(d, test_decode_container, 0, (int)(sizeof containers / sizeof containers[0]));
	tcase_add_loop_test(d, test_decode_rates, 0, (int)(sizeof rates / sizeof rates[0]));
	tcase_add_loop_test(d, test_decode_channels, 0, 6);
	tcase_add_test(d, test_decode_antiphase);
	tcase_add_test(d, test_decode_refuses_bad_formats);
	tcase_add_test(d, test_decode_loudness);
	tcase_add_test(d, test_decode_cap);
	tcase_add_test(d, test_decode_damaged);
	tcase_add_test(d, test_decode_lying_header);
	tcase_add_test(d, test_decode_hostile_floats);
	tcase_add_test(d, test_decode_m4a);
	tcase_add_test(d, test_sniff);
	tcase_add_test(d, test_resampler_streaming);
	suite_add_tcase(s, d);
	TCase *p = tcase_create("pipeline");
	tcase_set_timeout(p, 120);
	tcase_add_test(p, test_pipeline_music);
	tcase_add_test(p, test_pipeline_silence);
	tcase_add_test(p, test_pipeline_short);
	tcase_add_test(p, test_pipeline_single_tone);
	tcase_add_test(p, test_pipeline_dc_offset);
	tcase_add_test(p, test_pipeline_clipping);
	tcase_add_test(p, test_pipeline_deterministic);
	tcase_add_test(p, test_pipeline_max_seconds);
	tcase_add_test(p, test_analyze_file_errors);
	tcase_add_test(p, test_analyze_cli);
	tcase_add_test(p, test_score_and_bench_tools);
	suite_add_tcase(s, p);
	TCase *u = tcase_create("units");
	tcase_set_timeout(u, 60);
	tcase_add_test(u, test_result_json);
	tcase_add_test(u, test_key_wheels);
	tcase_add_test(u, test_signal_scans);
	tcase_add_test(u, test_stft_matches_dft);
	tcase_add_test(u, test_hpss);
	tcase_add_test(u, test_hpss_matches_reference);
	tcase_add_test(u, test_hpss_pooled_frame_active_by_any_frame);
	tcase_add_test(u, test_mood_scores);
	suite_add_tcase(s, u);
	return s;
}

int main(void)
{
	return ss_check_run(analysis_suite());
}
