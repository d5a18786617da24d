/* Out of memory on every allocation in turn: the audio-analysis timeline (frames.h, segments.h, sections.h), the
 * key's frames for the sections' keys (key.h) and Spotify's objects (fcgi/spotify.h) must fail cleanly at each one (an error or NULL, never a crash) and free all
 * they took, and must still give the full answer once nothing fails. This program replaces malloc, calloc,
 * realloc and free for the whole process (json-c's allocations included) to fail the Nth allocation and to count
 * the blocks alive; the sanitizer build, which replaces them itself, skips it. The allocations of json-c's parser
 * are not failed: it is not safe against them (json-c 0.16 uses a member name whose copy failed, and crashes),
 * so the builders' runs fail each allocation after the parse of their stored text. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/frames.h"
#include "core/analysis/key.h"
#include "core/analysis/sections.h"
#include "core/analysis/segments.h"
#include "core/analysis/stft.h"
#include "core/util/jsonutil.h"
#include "fcgi/spotify.h"
#include "tests/check_main.h"

#if defined(__SANITIZE_ADDRESS__)
#define NOMEM_SKIP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NOMEM_SKIP 1
#endif
#endif

#ifndef NOMEM_SKIP
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static bool armed;       /* count allocations and fail one */
static long fail_at;     /* the allocation, counted from 0 when armed, that fails */
static long counted;     /* allocations since armed */
static long live;        /* blocks allocated and not freed */

#define fails() (armed && counted++ == fail_at)

void *malloc(size_t n)
{
	if (fails())
		return NULL;
	void *p = __libc_malloc(n);
	live += p != NULL;
	return p;
}

void *calloc(size_t n, size_t size)
{
	if (fails())
		return NULL;
	void *p = __libc_calloc(n, size);
	live += p != NULL;
	return p;
}

void *realloc(void *p, size_t n)
{
	if (fails())
		return NULL;
	void *q = __libc_realloc(p, n);
	if (p == NULL)
		live += q != NULL;
	return q;
}

void free(void *p)
{
	live -= p != NULL;
	__libc_free(p);
}

/* Fail allocation k, counted from now, until disarm(). */
static void arm(long k)
{
	counted = 0;
	fail_at = k;
	armed = true;
}

static void disarm(void)
{
	armed = false;
}

/* Whether the last armed run reached its failing allocation. */
static bool failed(void)
{
	return counted > fail_at;
}

#define SR 22050.0
#define NFFT 1024

/* 20 s at sr Hz of notes changing every 0.4 s over a pulse, with a different texture in the second half. */
static float *music_at(double sr, size_t *n)
{
	*n = (size_t)(20.0 * sr);
	float *x = __libc_calloc(*n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < *n; i++) {
		double t = (double)i / sr, note = fmod(t, 0.4);
		double f = 220.0 * pow(2.0, (double)((int)(t / 0.4) % 5) / 12.0) * (t < 10.0 ? 1.0 : 1.5);
		x[i] = (float)(0.3 * exp(-6.0 * note) * sin(2 * M_PI * f * t) + (t < 10.0 ? 0.0 : 0.05 * sin(2 * M_PI * 3000.0 * t)));
	}
	return x;
}

static float *music(size_t *n)
{
	return music_at(SR, n);
}

/* Each of the timeline's allocations fails in turn: an SS_ERR_NOMEM error and nothing left alive, then the
 * same answer as without failures. */
START_TEST(timeline_fails_cleanly_at_every_allocation)
{
	size_t n;
	float *x = music(&n);
	ss_spectrogram s;
	ss_error err;
	ck_assert_int_eq(ss_stft_magnitude(x, n, SR, NFFT, NFFT, &s, &err), 0);
	size_t n_seg = 0, n_sec = 0;
	bool done = false;
	for (long k = 0; !done; k++) {
		ck_assert_int_lt(k, 1000);
		long before = live;
		ss_frames f;
		ss_segment *seg = NULL;
		ss_section *sec = NULL;
		size_t ns = 0, nc = 0;
		arm(k);
		int rc = ss_frames_compute(&s, &f, &err);
		if (rc == 0)
			rc = ss_segments_compute(&f, (double)n / SR, &seg, &ns, &err);
		if (rc == 0)
			rc = ss_sections_compute(&f, (double)n / SR, &sec, &nc, &err);
		disarm();
		done = !failed();
		n_seg = ns;
		n_sec = nc;
		ss_frames_free(&f);
		free(seg);
		free(sec);
		long left = live - before; /* before any assertion: Check allocates for those */
		ck_assert_msg(rc == 0 || err.code == SS_ERR_NOMEM, "allocation %ld: %s", k, err.msg);
		ck_assert_msg(left == 0, "allocation %ld failed: %ld blocks left alive", k, left);
	}
	ck_assert_uint_gt(n_seg, 20);
	ck_assert_uint_ge(n_sec, 1);
	ss_spectrogram_free(&s);
	__libc_free(x);
}
END_TEST

/* Each allocation of the key analysis that keeps its frames fails in turn (the STFT's, the chroma map's, the
 * frames' growing arrays): an SS_ERR_NOMEM error, or a result, and nothing left alive once the frames are freed;
 * then the key of a part read from the frames allocates nothing. The signal is at the key's working rate, as the
 * pipeline hands it over, so no resampler runs: libsoxr 0.1.3 crashes when an allocation inside soxr_create
 * fails (as json-c's parser does above), so its allocations cannot be failed here. */
START_TEST(key_frames_fail_cleanly_at_every_allocation)
{
	size_t n;
	const double sr = 5512.5;
	float *x = music_at(sr, &n);
	ss_key whole, part;
	ss_key_frames kf;
	ss_error err;
	bool done = false;
	for (long k = 0; !done; k++) {
		ck_assert_int_lt(k, 1000);
		long before = live;
		arm(k);
		int rc = ss_key_analyze_frames(x, n, sr, SS_KEY_PROFILE_DEFAULT, &whole, &kf, &err);
		disarm();
		done = !failed();
		size_t frames = kf.n;
		ss_key_frames_free(&kf);
		long left = live - before; /* before any assertion: Check allocates for those */
		ck_assert_msg(rc == 0 || err.code == SS_ERR_NOMEM, "allocation %ld: %s", k, err.msg);
		ck_assert_msg(left == 0, "allocation %ld failed: %ld blocks left alive", k, left);
		ck_assert(!done || (rc == 0 && frames > 40));
	}
	ck_assert_int_eq(ss_key_analyze_frames(x, n, sr, SS_KEY_PROFILE_DEFAULT, &whole, &kf, &err), 0);
	arm(0);
	ss_key_of_span(&kf, 0.0, 10.0, &whole, &part);
	disarm();
	ck_assert(!failed());
	ck_assert_int_eq(counted, 0);
	ss_key_frames_free(&kf);
	__libc_free(x);
}
END_TEST

/* A stored result with beats, segments and sections (one stored before sections had keys, one after). */
static const char stored[] =
	"{\"bpm\":120,\"bpm_confidence\":0.8,\"key_index\":9,\"mode\":0,\"key_confidence\":0.5,\"loudness\":-9,"
	"\"time_signature\":\"4/4\",\"signal_duration\":4,\"analyzed_at\":\"2026-12-07 09:00:00\",\"danceability\":0.5,"
	"\"beats\":[0,0.5,1,1.5,2,2.5,3,3.5],\"downbeats\":[0,2],"
	"\"segments\":[[0,1,1,-20,0.1,-10,-30,[1,0.5,0,0,0,0,0,0,0,0,0,0.25],[40,1.5,-2,0,0,0,0,0,0,0,0,3]],"
	"[1,1,0.5,-30,0.2,-12,-40,[0,1,0,0,0,0,0,0,0,0,0,0],[30,1,2,0,0,0,0,0,0,0,0,1]],"
	"[2,2,0.7,-50,0.2,-40,-60,[0,0,1,0,0,0,0,0,0,0,0,0],[20,0,0,0,0,0,0,0,0,0,0,0]]],"
	"\"sections\":[[0,2,1,-12],[2,2,0.6,-30,4,1,0.5]]}";

/* Each of the Spotify builders' allocations fails in turn: NULL and nothing left alive, then the full object. */
START_TEST(spotify_objects_fail_cleanly_at_every_allocation)
{
	static const char key[] = "00000000000000000000000000000001";
	/* one run first, so that what the C library allocates once and keeps (the time zone it reads for the
	 * timestamp) is not counted as left alive */
	json_object_put(ss_spotify_analysis(stored, strlen(stored)));
	/* how many allocations parsing the stored text takes (the same every time: the builders parse it first) */
	arm(1L << 40);
	json_object *parsed = ss_json_parse(stored, strlen(stored), 32);
	disarm();
	const long parse = counted;
	ck_assert_ptr_nonnull(parsed);
	json_object_put(parsed);
	for (int which = 0; which < 2; which++) {
		bool done = false;
		for (long k = parse; !done; k++) {
			ck_assert_int_lt(k, 5000);
			long before = live;
			arm(k);
			json_object *o = which == 0 ? ss_spotify_analysis(stored, strlen(stored))
						    : ss_spotify_features(stored, strlen(stored), key, "http://h");
			disarm();
			done = !failed();
			json_object *segs;
			/* whole, when it comes at all */
			bool whole = o != NULL && (which == 1 || (json_object_object_get_ex(o, "segments", &segs) &&
								  json_object_array_length(segs) == 3));
			bool given = o != NULL;
			json_object_put(o);
			long left = live - before; /* before any assertion: Check allocates for those */
			ck_assert_msg(given || !done, "%s: NULL with no allocation failing", which ? "features" : "analysis");
			ck_assert(!given || whole);
			ck_assert_msg(left == 0, "%s, allocation %ld failed: %ld blocks left alive",
				      which == 0 ? "analysis" : "features", k, left);
		}
	}
}
END_TEST
#endif

int main(void)
{
#ifdef NOMEM_SKIP
	return 77; /* the sanitizers replace malloc themselves */
#else
	Suite *s = suite_create("nomem");
	TCase *tc = tcase_create("nomem");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, timeline_fails_cleanly_at_every_allocation);
	tcase_add_test(tc, key_frames_fail_cleanly_at_every_allocation);
	tcase_add_test(tc, spotify_objects_fail_cleanly_at_every_allocation);
	suite_add_tcase(s, tc);
	/* no fork: the counters must see what the test does, in this process */
	return ss_check_run_forking(s, CK_NOFORK);
#endif
}
