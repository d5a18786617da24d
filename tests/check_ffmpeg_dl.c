/* FFmpeg only when needed: this program does not link FFmpeg (unlike check_analysis, whose fixtures encode
 * M4A), so what /proc/self/maps shows is what the decoder loaded. Analysing a WAV maps no FFmpeg library; the
 * first MP4/ADTS file loads it; a load that fails is a 415 for every AAC file, reported once, and WAV goes on.
 * Every test runs in its own process (loading is once per process). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/pipeline.h"
#include "core/audio/decode.h"
#include "tests/check_main.h"

/* A 16-bit mono WAV of `seconds` of a 440 Hz tone with a click every half second, written by hand (no
 * fixture library: it must not bring FFmpeg in). Caller frees. */
static unsigned char *make_wav(double seconds, size_t *len)
{
	const uint32_t rate = 22050, n = (uint32_t)(seconds * rate), data = n * 2;
	unsigned char *b = malloc(44 + (size_t)data);
	ck_assert_ptr_nonnull(b);
	unsigned char *p = b;
#define PUT4(s) (memcpy(p, s, 4), p += 4)
#define PUT32(v) (p[0] = (unsigned char)(v), p[1] = (unsigned char)((v) >> 8), p[2] = (unsigned char)((v) >> 16), \
		  p[3] = (unsigned char)((v) >> 24), p += 4)
#define PUT16(v) (p[0] = (unsigned char)(v), p[1] = (unsigned char)((v) >> 8), p += 2)
	PUT4("RIFF");
	PUT32(36 + data);
	PUT4("WAVE");
	PUT4("fmt ");
	PUT32(16u);
	PUT16(1u); /* PCM */
	PUT16(1u); /* mono */
	PUT32(rate);
	PUT32(rate * 2);
	PUT16(2u);
	PUT16(16u);
	PUT4("data");
	PUT32(data);
	for (uint32_t i = 0; i < n; i++) {
		double v = 0.3 * sin(2.0 * M_PI * 440.0 * i / rate) + ((i % (rate / 2)) < 64 ? 0.5 : 0.0);
		int16_t s = (int16_t)lrint(v * 32767.0);
		PUT16((uint16_t)s);
	}
#undef PUT4
#undef PUT32
#undef PUT16
	*len = 44 + (size_t)data;
	return b;
}

/* Whether a library whose file name contains `name` is mapped in this process. */
static int mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	ck_assert_ptr_nonnull(f);
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

static int mapped_any_ffmpeg(void)
{
	return mapped("/libavformat.so") || mapped("/libavcodec.so") || mapped("/libavutil.so") ||
	       mapped("/libswresample.so");
}

static void analyse_wav(void)
{
	size_t len = 0;
	unsigned char *b = make_wav(6.0, &len);
	ss_analysis_opts o;
	ss_analysis_opts_default(&o);
	ss_result r;
	ss_result_init(&r);
	ss_error e;
	ss_error_clear(&e);
	ck_assert_msg(ss_analyze_buffer(b, len, &o, &r, &e) == 0, "%s", e.msg);
	ck_assert(r.signal_duration > 5.0);
	ss_result_free(&r);
	free(b);
}

/* The first bytes of an M4A (an ftyp box, then nothing): enough for the sniffer to send it to FFmpeg. */
static const unsigned char m4a_head[32] = {0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'M', '4', 'A', ' ', 0, 0, 0, 0,
					  'M', '4', 'A', ' ', 'i', 's', 'o', 'm', 0, 0, 0, 8, 'f', 'r', 'e', 'e'};
static const ss_audio_opts AOPTS = {.max_seconds = 30.0, .out_rate = 22050.0};

START_TEST(wav_maps_no_ffmpeg)
{
	ck_assert(!mapped_any_ffmpeg());
	analyse_wav();
	ck_assert_msg(!mapped("/libavformat.so"), "analysing a WAV loaded libavformat");
	ck_assert(!mapped_any_ffmpeg());
	ck_assert(!ss_audio_ffmpeg_loaded());
#ifdef SS_HAVE_FFMPEG
	/* The probe does see FFmpeg once it is loaded (so the assertions above could fail). */
	ss_error e;
	ss_error_clear(&e);
	ck_assert_msg(ss_audio_ffmpeg_preload(&e) == 0, "%s: %s", e.msg, ss_audio_ffmpeg_load_error());
	ck_assert(ss_audio_ffmpeg_loaded());
	ck_assert(mapped("/libavformat.so") && mapped("/libavcodec.so") && mapped("/libavutil.so"));
	ck_assert_str_eq(ss_audio_ffmpeg_load_error(), "");
#else
	ss_error e;
	ck_assert_int_eq(ss_audio_ffmpeg_preload(&e), 1);
	ck_assert(!mapped_any_ffmpeg());
#endif
}
END_TEST

START_TEST(m4a_loads_ffmpeg_on_demand)
{
	ss_audio a;
	ss_error e;
	ss_error_clear(&e);
	ck_assert(!mapped_any_ffmpeg());
	ck_assert_int_eq(ss_audio_decode(m4a_head, sizeof m4a_head, &AOPTS, &a, &e), -1);
#ifdef SS_HAVE_FFMPEG
	/* FFmpeg was loaded and judged the file (a header without a movie: corrupt, 422), not refused (415). */
	ck_assert_msg(e.code == SS_ERR_UNPROCESSABLE, "%d %s", (int)e.code, e.msg);
	ck_assert(ss_audio_ffmpeg_loaded());
	ck_assert(mapped("/libavformat.so") && mapped("/libavcodec.so"));
#else
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	ck_assert(strstr(e.msg, "without FFmpeg") != NULL);
	ck_assert(!mapped_any_ffmpeg());
#endif
}
END_TEST

#if defined(SS_HAVE_FFMPEG) && defined(SS_TEST_HOOKS)
static int failures_reported;
static char failure_reason[256];

static void on_failure(const char *reason)
{
	failures_reported++;
	snprintf(failure_reason, sizeof failure_reason, "%s", reason);
}

START_TEST(failed_load_is_415_reported_once)
{
	/* Test builds look for the sonames in SS_TEST_FFMPEG_DIR: a directory that does not exist. */
	ck_assert_int_eq(setenv("SS_TEST_FFMPEG_DIR", "/nonexistent/ffmpeg-libs", 1), 0);
	ss_audio_ffmpeg_on_load_failure(on_failure);
	static const unsigned char adts_head[8] = {0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC, 0};
	for (int i = 0; i < 3; i++) {
		ss_audio a;
		ss_error e;
		ss_error_clear(&e);
		ck_assert_int_eq(ss_audio_decode(i == 1 ? adts_head : m4a_head, i == 1 ? sizeof adts_head
										       : sizeof m4a_head,
						 &AOPTS, &a, &e),
				 -1);
		ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
		ck_assert_msg(strstr(e.msg, "AAC/M4A decoding is unavailable") != NULL, "%s", e.msg);
	}
	ck_assert_int_eq(failures_reported, 1);
	ck_assert_msg(strstr(failure_reason, "/nonexistent/ffmpeg-libs/libavutil.so.") != NULL, "%s", failure_reason);
	ck_assert_str_eq(ss_audio_ffmpeg_load_error(), failure_reason);
	ck_assert(!ss_audio_ffmpeg_loaded());
	ss_error e;
	ck_assert_int_eq(ss_audio_ffmpeg_preload(&e), -1);
	ck_assert_int_eq(e.code, SS_ERR_UNSUPPORTED_MEDIA);
	ck_assert_int_eq(failures_reported, 1);
	/* Everything else still works. */
	analyse_wav();
	ck_assert(!mapped_any_ffmpeg());
	ss_audio_ffmpeg_on_load_failure(NULL);
}
END_TEST
#endif

int main(void)
{
	Suite *s = suite_create("ffmpeg_dl");
	TCase *tc = tcase_create("load");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, wav_maps_no_ffmpeg);
	tcase_add_test(tc, m4a_loads_ffmpeg_on_demand);
#if defined(SS_HAVE_FFMPEG) && defined(SS_TEST_HOOKS)
	tcase_add_test(tc, failed_load_is_415_reported_once);
#endif
	suite_add_tcase(s, tc);
	return ss_check_run_forking(s, CK_FORK); /* whatever CK_FORK says: each test needs a process of its own */
}
