/* libFuzzer target: Spotify's audio-features and audio-analysis objects made from a stored result text
 * (fcgi/spotify.c), whatever that text holds (a damaged row, a row imported from elsewhere). Input: the text.
 * Checked: only a JSON object gives objects, and then both; every number in them is finite; key -1..11, mode 0
 * or 1 and time_signature 3..7, the same in both, and the same tempo; the analysis' beats, bars and tatums are
 * intervals that start where the previous one ended, lie inside the track and carry a confidence in 0..1; there
 * are two tatums a beat; the fades lie in order inside the track; sections (at least one) and segments are in order, inside the track and apart, with
 * confidences in 0..1; each section has a key -1..11 and a mode 0 or 1 with confidences in 0..1 (0 without a key)
 * a time signature 3..7 with a confidence in 0..1 and a tempo confidence in 0..1,
 * and segments have levels in -60..0 dB, twelve pitches in 0..1 and twelve timbre numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/jsonutil.h"
#include "fcgi/spotify.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double num(json_object *o, const char *k)
{
	json_object *v;
	FZ_ASSERT(json_object_object_get_ex(o, k, &v) &&
			  (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)),
		  k);
	return json_object_get_double(v);
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v;
	FZ_ASSERT(json_object_object_get_ex(o, k, &v) && v != NULL, k);
	return v;
}

/* The intervals of member name: contiguous, inside [0, end], confidences in 0..1. Returns how many. */
static size_t intervals(json_object *a, const char *name, double end)
{
	json_object *arr = member(a, name);
	FZ_ASSERT(json_object_is_type(arr, json_type_array), name);
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		double s = num(it, "start"), d = num(it, "duration"), c = num(it, "confidence");
		FZ_ASSERT(s >= 0.0 && d > 0.0 && s + d <= end + 1e-6, "an interval inside the track");
		FZ_ASSERT(c >= 0.0 && c <= 1.0, "a confidence in 0..1");
		if (i + 1 < n)
			FZ_ASSERT(fabs(s + d - num(json_object_array_get_idx(arr, i + 1), "start")) < 1e-6 * (1.0 + s),
				  "each interval ends where the next starts");
	}
	return n;
}

/* Twelve numbers in lo..hi in member name of g. */
static void dims(json_object *g, const char *name, double lo, double hi)
{
	json_object *d = member(g, name);
	FZ_ASSERT(json_object_is_type(d, json_type_array) && json_object_array_length(d) == 12, "twelve numbers");
	for (size_t k = 0; k < 12; k++) {
		json_object *v = json_object_array_get_idx(d, k);
		FZ_ASSERT(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int), name);
		FZ_ASSERT(json_object_get_double(v) >= lo && json_object_get_double(v) <= hi, name);
	}
}

/* The items of arr are in order, inside [0, end] and apart, each with a confidence in 0..1. Returns how many. */
static size_t ordered(json_object *arr, double end)
{
	FZ_ASSERT(json_object_is_type(arr, json_type_array), "an array");
	double at = 0.0;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(arr, i);
		double s = num(g, "start"), d = num(g, "duration"), c = num(g, "confidence");
		FZ_ASSERT(s >= at && d > 0.0 && s + d <= end + 1e-6 * (1.0 + end), "items in order, inside, apart");
		at = s + d - 1e-9 * (1.0 + s);
		FZ_ASSERT(c >= 0.0 && c <= 1.0, "a confidence in 0..1");
	}
	return n;
}

static void sections(json_object *arr, json_object *track)
{
	double tsc = num(track, "time_signature_confidence");
	FZ_ASSERT(tsc >= 0.0 && tsc <= 1.0, "the time signature's confidence in 0..1");
	for (size_t i = 0, n = json_object_array_length(arr); i < n; i++) {
		json_object *g = json_object_array_get_idx(arr, i);
		double k = num(g, "key"), m = num(g, "mode");
		double kc = num(g, "key_confidence"), mc = num(g, "mode_confidence");
		FZ_ASSERT(k >= -1 && k <= 11 && k == floor(k) && (m == 0 || m == 1), "a section's key and mode in range");
		FZ_ASSERT(kc >= 0.0 && kc <= 1.0 && mc >= 0.0 && mc <= 1.0 && (k >= 0 || kc == 0.0),
			  "a section's key confidences in 0..1, 0 without a key");
		double ts = num(g, "time_signature"), sc = num(g, "time_signature_confidence");
		FZ_ASSERT(ts >= 3 && ts <= 7 && ts == floor(ts) && sc >= 0.0 && sc <= 1.0,
			  "a section's time signature in 3..7, its confidence in 0..1");
		double tc = num(g, "tempo_confidence"), tempo = num(g, "tempo");
		FZ_ASSERT(tc >= 0.0 && tc <= 1.0, "a section's tempo confidence in 0..1");
		FZ_ASSERT(tempo >= 0.0, "a section's tempo not negative");
	}
}

static void segments(json_object *arr, double end)
{
	ordered(arr, end);
	for (size_t i = 0, n = json_object_array_length(arr); i < n; i++) {
		json_object *g = json_object_array_get_idx(arr, i);
		double d = num(g, "duration");
		FZ_ASSERT(num(g, "loudness_max_time") >= 0.0 && num(g, "loudness_max_time") <= d, "the peak inside");
		static const char *const levels[] = {"loudness_start", "loudness_max", "loudness_end"};
		for (size_t k = 0; k < 3; k++)
			FZ_ASSERT(num(g, levels[k]) >= -60.0 && num(g, levels[k]) <= 0.0, "a level in -60..0 dB");
		dims(g, "pitches", 0.0, 1.0);
		dims(g, "timbre", -HUGE_VAL, HUGE_VAL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fz_strndup(data, size);
	json_object *in = fz_json_parse(text, size);
	bool object = in != NULL && json_object_is_type(in, json_type_object);
	json_object_put(in);
	static const char key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	json_object *f = ss_spotify_features(text, size, key, "http://h");
	json_object *a = ss_spotify_analysis(text, size);
	FZ_ASSERT((f == NULL) == (a == NULL), "both objects or neither");
	/* (an object the oracle accepts may still be refused: nested too deep, a \u0000 escape) */
	FZ_ASSERT(f == NULL || object, "only a JSON object gives objects");
	if (f == NULL)
		goto done;
	FZ_ASSERT(ss_json_all_finite(f) && ss_json_all_finite(a), "every number is finite");
	json_object *t = member(a, "track");
	double key_f = num(f, "key"), mode_f = num(f, "mode"), ts_f = num(f, "time_signature");
	FZ_ASSERT(key_f >= -1 && key_f <= 11 && (mode_f == 0 || mode_f == 1) && ts_f >= 3 && ts_f <= 7,
		  "key, mode and time signature in Spotify's ranges");
	FZ_ASSERT(num(t, "key") == key_f && num(t, "mode") == mode_f && num(t, "time_signature") == ts_f &&
			  num(t, "tempo") == num(f, "tempo"),
		  "the two objects agree");
	double end = num(t, "duration");
	FZ_ASSERT(end >= 0.0 && num(f, "tempo") >= 0.0, "no negative duration or tempo");
	FZ_ASSERT(num(t, "end_of_fade_in") >= 0.0 && num(t, "end_of_fade_in") <= num(t, "start_of_fade_out") &&
			  num(t, "start_of_fade_out") <= end,
		  "0 <= end_of_fade_in <= start_of_fade_out <= duration");
	size_t nb = intervals(a, "beats", end);
	FZ_ASSERT(intervals(a, "tatums", end) == 2 * nb, "two tatums a beat");
	intervals(a, "bars", end);
	/* (a track of unknown length has one section of length 0) */
	json_object *secs = member(a, "sections");
	FZ_ASSERT(end > 0.0 ? ordered(secs, end) >= 1 : json_object_array_length(secs) == 1, "at least one section");
	sections(secs, t);
	segments(member(a, "segments"), end);
done:
	json_object_put(f);
	json_object_put(a);
	free(text);
	return 0;
}
