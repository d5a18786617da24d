/* Spotify's audio-features and audio-analysis objects from a stored songscope result (see spotify.h). */
#include "fcgi/spotify.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result.h"
#include "core/analysis/segments.h"
#include "core/util/base62.h"
#include "core/util/jsonutil.h"
#include "core/util/timefmt.h"

#define NO_LOUDNESS_DB (-60.0) /* what loudness says when nothing was loud enough to measure */
#define URL_MAX 600

/* The stored result text as a JSON object, or NULL. */
static json_object *parse_result(const char *text, size_t len)
{
	json_object *r = ss_json_parse(text, len, 32);
	if (r == NULL || !json_object_is_type(r, json_type_object)) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

/* 0 for an unknown score: Spotify's clients decode these as plain floats. */
static double or0(double v)
{
	return isfinite(v) ? v : 0.0;
}

/* A score or confidence on Spotify's 0..1: clamped there (rows imported from the original server carry its
 * values, which need not be), NaN kept (null, or 0 through or0). */
static double unit(double v)
{
	return isfinite(v) ? fmin(fmax(v, 0.0), 1.0) : v;
}

/* Member name of r as a score on 0..1, or NaN. */
static double score(json_object *r, const char *name)
{
	return unit(ss_json_get_num(r, name));
}

/* Spotify's time_signature: the beats per bar of ours ("3/4" -> 3), 4 when there is no metre, and 2/4 read as
 * 4 (two bars as one), so the value stays within Spotify's 3..7. */
static int time_signature(json_object *r)
{
	const char *ts = ss_json_get_str(r, "time_signature");
	if (ts == NULL || !isdigit((unsigned char)ts[0]))
		return 4;
	int n = atoi(ts);
	if (n == 2)
		return 4;
	return n >= 3 && n <= 7 ? n : 4;
}

/* Spotify's key (-1..11) and mode (1 major, 0 minor): a manual override first, then the analysis; -1 and 0
 * without a key. Returns whether the override gave them. */
static bool key_mode(json_object *r, int *key, int *mode)
{
	int ki, mi;
	const char *manual = ss_json_get_str(r, "manual_key");
	double k = ss_json_get_num(r, "key_index"), m = ss_json_get_num(r, "mode");
	*key = -1;
	*mode = 0;
	if (manual != NULL && ss_key_parse(manual, &ki, &mi) == 0) {
		*key = ki;
		*mode = mi;
		return true;
	}
	if (k >= 0 && k <= 11 && (m == 0 || m == 1)) {
		*key = (int)k;
		*mode = (int)m;
	}
	return false;
}

/* The tempo in BPM: a manual override first, then the analysis; 0 without one. */
static double tempo_of(json_object *r)
{
	double t = ss_json_get_num(r, "manual_bpm");
	if (!(t > 0))
		t = ss_json_get_num(r, "bpm");
	return t > 0 ? t : 0.0;
}

static double loudness_of(json_object *r)
{
	double l = ss_json_get_num(r, "loudness");
	return isfinite(l) ? l : NO_LOUDNESS_DB;
}

static double duration_of(json_object *r)
{
	double d = ss_json_get_num(r, "signal_duration");
	return isfinite(d) && d > 0 ? d : 0.0;
}

json_object *ss_spotify_features(const char *text, size_t len, const char *cache_key, const char *base)
{
	json_object *r = parse_result(text, len);
	char id[SS_BASE62_ID_LEN + 1], url[URL_MAX], uri[64];
	if (r == NULL || ss_base62_from_hex128(cache_key, id) != 0) {
		json_object_put(r);
		return NULL;
	}
	int key, mode;
	key_mode(r, &key, &mode);
	double dur = duration_of(r);
	json_object *o = json_object_new_object();
	int bad = o == NULL || ss_json_add_num(o, "danceability", or0(score(r, "danceability"))) ||
		  ss_json_add_num(o, "energy", or0(score(r, "energy"))) || ss_json_add_int(o, "key", key) ||
		  ss_json_add_num(o, "loudness", loudness_of(r)) || ss_json_add_int(o, "mode", mode) ||
		  ss_json_add_num(o, "speechiness", score(r, "speechiness")) ||
		  ss_json_add_num(o, "acousticness", or0(score(r, "acousticness"))) ||
		  ss_json_add_num(o, "instrumentalness", score(r, "instrumentalness")) ||
		  ss_json_add_num(o, "liveness", score(r, "liveness")) || ss_json_add_num(o, "valence", or0(score(r, "valence"))) ||
		  ss_json_add_num(o, "tempo", tempo_of(r)) || ss_json_add_string(o, "type", "audio_features") ||
		  ss_json_add_string(o, "id", id);
	if (!bad) {
		snprintf(uri, sizeof uri, "songscope:track:%s", id);
		bad = ss_json_add_string(o, "uri", uri);
	}
	if (!bad) {
		snprintf(url, sizeof url, "%s/v1/audio-features/%s", base, id);
		bad = ss_json_add_string(o, "track_href", url);
	}
	if (!bad) {
		snprintf(url, sizeof url, "%s/v1/audio-analysis/%s", base, id);
		bad = ss_json_add_string(o, "analysis_url", url) ||
		      ss_json_add_int(o, "duration_ms", (long long)llround(dur * 1000.0)) ||
		      ss_json_add_int(o, "time_signature", time_signature(r));
	}
	json_object_put(r);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The finite, increasing times (s) of the result's array member name, within the track, into a new array *t of
 * *n values (*t NULL when there are none). Returns 0, or -1 when out of memory. */
static int times_of(json_object *r, const char *name, double end, double **t, size_t *n)
{
	json_object *a;
	*t = NULL;
	*n = 0;
	if (!json_object_object_get_ex(r, name, &a) || !json_object_is_type(a, json_type_array))
		return 0;
	size_t m = json_object_array_length(a);
	if (m == 0)
		return 0;
	double *v = malloc(m * sizeof *v);
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < m; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_double) && !json_object_is_type(e, json_type_int))
			continue;
		double x = json_object_get_double(e);
		if (isfinite(x) && x >= 0.0 && x < end && (*n == 0 || x > v[*n - 1]))
			v[(*n)++] = x;
	}
	if (*n == 0)
		free(v);
	else
		*t = v;
	return 0;
}

/* The median gap between consecutive times (0 with fewer than two). Sorts a copy in scratch (n - 1 values). */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_gap(const double *t, size_t n, double *scratch)
{
	if (n < 2)
		return 0.0;
	for (size_t i = 0; i + 1 < n; i++)
		scratch[i] = t[i + 1] - t[i];
	qsort(scratch, n - 1, sizeof *scratch, cmp_double);
	return scratch[(n - 1) / 2];
}

/* Add c (a new object or array; NULL when it could not be made) to parent as member name, a string literal
 * (kept without a copy, as the ss_json_add_* adders keep theirs). Returns c, or NULL (c is put) when out of
 * memory. */
static json_object *add_child(json_object *parent, const char *name, json_object *c)
{
	if (c == NULL || json_object_object_add_ex(parent, name, c, JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

/* A new object appended to the array arr, or NULL when out of memory. */
static json_object *new_element(json_object *arr)
{
	json_object *c = json_object_new_object();
	if (c != NULL && json_object_array_add(arr, c) != 0) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

/* One {start, duration, confidence} item appended to arr. */
static int add_item(json_object *arr, double start, double duration, double confidence)
{
	json_object *it = new_element(arr);
	return it == NULL || ss_json_add_num(it, "start", start) || ss_json_add_num(it, "duration", duration) ||
			       ss_json_add_num(it, "confidence", confidence)
		       ? -1
		       : 0;
}

/* Add member name: the intervals that start at t[0..n) (each `parts` equal items), the last one last_len long
 * (cut at end). Returns 0 or -1 when out of memory. */
static int add_intervals(json_object *o, const char *name, const double *t, size_t n, double last_len, double end,
			 int parts, double confidence)
{
	assert(parts >= 1);
	json_object *arr = add_child(o, name, json_object_new_array_ext((int)(n * (size_t)parts)));
	if (arr == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		double stop = i + 1 < n ? t[i + 1] : fmin(t[i] + last_len, end);
		double part = (stop - t[i]) / parts;
		if (!(part > 0.0))
			continue;
		for (int k = 0; k < parts; k++)
			if (add_item(arr, t[i] + k * part, part, confidence) != 0)
				return -1;
	}
	return 0;
}

/* Element i of array a as a finite number, or NaN. */
static double num_at(json_object *a, size_t i)
{
	json_object *e = json_object_array_get_idx(a, i);
	if (!json_object_is_type(e, json_type_double) && !json_object_is_type(e, json_type_int))
		return NAN;
	double v = json_object_get_double(e);
	return isfinite(v) ? v : NAN;
}

/* The stored number e itself (a new reference) when it is the finite number v, else a new number v (NULL when
 * out of memory). */
static json_object *same_or_new(json_object *e, double v)
{
	if ((json_object_is_type(e, json_type_double) || json_object_is_type(e, json_type_int)) &&
	    json_object_get_double(e) == v && !(v == 0.0 && signbit(json_object_get_double(e)))) /* no "-0" */
		return json_object_get(e);
	return ss_json_num(v);
}

/* Add member name to o: the first SS_SEGMENT_DIMS numbers of the array src, each clamped to lo..hi (0 where src
 * has no number there). Returns 0, or -1 when out of memory. */
static int add_dims(json_object *o, const char *name, json_object *src, double lo, double hi)
{
	json_object *a = add_child(o, name, json_object_new_array_ext(SS_SEGMENT_DIMS));
	if (a == NULL)
		return -1;
	for (size_t i = 0; i < SS_SEGMENT_DIMS; i++) {
		double v = num_at(src, i);
		json_object *n = same_or_new(json_object_array_get_idx(src, i), isfinite(v) ? fmin(fmax(v, lo), hi) : 0.0);
		if (n == NULL || json_object_array_add(a, n) != 0) {
			json_object_put(n);
			return -1;
		}
	}
	return 0;
}

/* Add member name (a string literal, kept without a copy) = v to o, sharing the stored number e when it holds v
 * (no new node, no formatting: the answer then carries the stored text of the number). Returns 0, or -1 when
 * out of memory. */
static int add_same(json_object *o, const char *name, json_object *e, double v)
{
	json_object *n = same_or_new(e, v);
	if (n == NULL || json_object_object_add_ex(o, name, n, JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0) {
		json_object_put(n);
		return -1;
	}
	return 0;
}

/* Whether e is an array of SS_SEGMENT_DIMS numbers. */
static bool dims_ok(json_object *e)
{
	if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != SS_SEGMENT_DIMS)
		return false;
	for (size_t i = 0; i < SS_SEGMENT_DIMS; i++)
		if (isnan(num_at(e, i)))
			return false;
	return true;
}

static double level(double db)
{
	return fmin(fmax(db, SS_SEGMENT_FLOOR_DB), 0.0);
}

/* A time series stored with a result (ss_result_beats_text's layout): an array whose entries are arrays of
 * `nums` numbers (start, duration, then the rest) followed by `dims` arrays of SS_SEGMENT_DIMS numbers. An entry
 * may also hold only the first k numbers for each k in the bit set `older` (entries stored before the rest
 * existed); the missing ones read as NaN. Only
 * well-formed entries that start inside the track, last, and start after the previous one kept are kept. */
#define SERIES_MAX 12 /* numbers in an entry, at most */
typedef struct series {
	json_object *src;
	size_t nums, dims;
	unsigned older; /* bit k: entries of k numbers are accepted too */
	size_t mandatory; /* numbers every accepted layout holds (a NaN among them rejects the entry) */
	double end;
	size_t *keep;  /* indices into src of the kept entries */
	double *start; /* their starts */
	size_t m;
} series;

/* How many numbers entry g holds before its arrays: nums, or a count in older; 0 when g is not such an array. */
static size_t entry_nums(const series *s, json_object *g)
{
	if (!json_object_is_type(g, json_type_array))
		return 0;
	size_t len = json_object_array_length(g), have = len >= s->dims ? len - s->dims : 0;
	return have == s->nums || (have < s->nums && (s->older >> have & 1u)) ? have : 0;
}

/* Entry g's numbers into v (nums of them, the missing optional ones NaN), if it is well formed and inside the
 * track. */
static bool entry(const series *s, json_object *g, double *v)
{
	size_t have = entry_nums(s, g);
	if (have == 0)
		return false;
	for (size_t k = 0; k < s->dims; k++)
		if (!dims_ok(json_object_array_get_idx(g, have + k)))
			return false;
	for (size_t k = 0; k < s->nums; k++)
		if (isnan(v[k] = k < have ? num_at(g, k) : NAN) && k < s->mandatory)
			return false;
	return v[0] >= 0.0 && v[0] < s->end && v[1] > 0.0;
}

/* Open member name of r as a series (none kept when it is missing or not an array). Returns 0, or -1 when out
 * of memory; series_close s either way. */
static int series_open(series *s, json_object *r, const char *name, size_t nums, unsigned older, size_t dims,
		       double end)
{
	assert(nums >= 2 && nums <= SERIES_MAX && (older & 3u) == 0 && older >> nums == 0);
	*s = (series){.nums = nums, .older = older, .dims = dims, .end = end, .mandatory = nums};
	for (size_t k = 2; k < nums; k++)
		if (older >> k & 1u) {
			s->mandatory = k; /* the numbers every accepted layout holds */
			break;
		}
	if (!json_object_object_get_ex(r, name, &s->src) || !json_object_is_type(s->src, json_type_array))
		return 0;
	size_t n = json_object_array_length(s->src);
	s->keep = malloc((n ? n : 1) * sizeof *s->keep);
	s->start = malloc((n ? n : 1) * sizeof *s->start);
	if (s->keep == NULL || s->start == NULL)
		return -1;
	double v[SERIES_MAX];
	for (size_t i = 0; i < n; i++)
		if (entry(s, json_object_array_get_idx(s->src, i), v) && (s->m == 0 || v[0] > s->start[s->m - 1])) {
			s->keep[s->m] = i;
			s->start[s->m++] = v[0];
		}
	return 0;
}

/* Kept entry j: its numbers into v, its duration (cut at the next kept start and at the end) into *dur.
 * Returns the entry. */
static json_object *series_item(const series *s, size_t j, double *v, double *dur)
{
	assert(j < s->m);
	json_object *g = json_object_array_get_idx(s->src, s->keep[j]);
	size_t have = entry_nums(s, g); /* entry() accepted g */
	for (size_t k = 0; k < s->nums; k++)
		v[k] = k < have ? num_at(g, k) : NAN;
	*dur = fmin(v[1], (j + 1 < s->m ? s->start[j + 1] : s->end) - v[0]);
	assert(*dur > 0.0);
	return g;
}

static void series_close(series *s)
{
	free(s->keep);
	free(s->start);
	s->keep = NULL;
	s->start = NULL;
}

/* Add "segments": Spotify's segment objects from the stored ones s (series_open: start, duration, confidence,
 * loudness_start, loudness_max_time, loudness_max, loudness_end, pitches, timbre), in order, inside the track and
 * apart (an entry that is malformed, out of order or outside the track is left out; one that runs past the next
 * start or the end is cut there), levels clamped to SS_SEGMENT_FLOOR_DB..0 dB, scores and pitches to 0..1.
 * Returns 0 or -1 when out of memory. */
static int add_segments(json_object *o, const series *s)
{
	json_object *arr = add_child(o, "segments", json_object_new_array());
	if (arr == NULL)
		return -1;
	int rc = 0;
	for (size_t j = 0; j < s->m && rc == 0; j++) {
		double v[7], dur;
		json_object *g = series_item(s, j, v, &dur), *it = new_element(arr);
#define SAME(name, k, value) add_same(it, name, json_object_array_get_idx(g, k), value)
		if (it == NULL || SAME("start", 0, v[0]) || SAME("duration", 1, dur) || SAME("confidence", 2, unit(v[2])) ||
		    SAME("loudness_start", 3, level(v[3])) || SAME("loudness_max_time", 4, fmin(fmax(v[4], 0.0), dur)) ||
		    SAME("loudness_max", 5, level(v[5])) || SAME("loudness_end", 6, level(v[6])) ||
		    add_dims(it, "pitches", json_object_array_get_idx(g, 7), 0.0, 1.0) ||
		    add_dims(it, "timbre", json_object_array_get_idx(g, 8), -HUGE_VAL, HUGE_VAL))
			rc = -1;
#undef SAME
	}
	return rc;
}

/* The fades of the kept segments s of a track of end seconds, from their loudest levels: a track fades in when
 * its first segment is more than FADE_DEEP_DB below its typical level (the duration-weighted median of those
 * levels), and the fade-in ends where the first segment within FADE_NEAR_DB of it starts; a fade-out the same
 * from the end, starting where the last such segment ends. Without segments, or when the two would cross: *in 0
 * and *out end, which is what Spotify gave a track without fades. Returns 0, or -1 when out of memory. */
#define FADE_DEEP_DB 12.0
#define FADE_NEAR_DB 6.0
typedef struct weighed {
	double level, dur;
} weighed;

static int cmp_weighed(const void *a, const void *b)
{
	const weighed *x = a, *y = b;
	return (x->level > y->level) - (x->level < y->level);
}

/* Kept segment j of s: its loudest level (clamped), its start and its end (s). */
static double segment_level(const series *s, size_t j, double *start, double *stop)
{
	double v[7], dur;
	series_item(s, j, v, &dur);
	*start = v[0];
	*stop = v[0] + dur;
	return level(v[5]);
}

static int fades(const series *s, double end, double *in, double *out)
{
	*in = 0.0;
	*out = end;
	const size_t m = s->m;
	if (m == 0)
		return 0;
	weighed *w = malloc(m * sizeof *w);
	if (w == NULL)
		return -1;
	double total = 0.0, a0, a1;
	for (size_t j = 0; j < m; j++) {
		w[j].level = segment_level(s, j, &a0, &a1);
		w[j].dur = a1 - a0;
		total += w[j].dur;
	}
	const double first = w[0].level, last = w[m - 1].level;
	qsort(w, m, sizeof *w, cmp_weighed);
	double typical = w[m - 1].level, acc = 0.0;
	for (size_t j = 0; j < m; j++)
		if ((acc += w[j].dur) > total / 2.0) {
			typical = w[j].level;
			break;
		}
	free(w);
	size_t a = 0, b = m - 1;
	while (a < m && segment_level(s, a, &a0, &a1) < typical - FADE_NEAR_DB)
		a++;
	while (b > 0 && segment_level(s, b, &a0, &a1) < typical - FADE_NEAR_DB)
		b--;
	double fin = 0.0, fout = end;
	if (first < typical - FADE_DEEP_DB && a < m)
		segment_level(s, a, &fin, &a1);
	if (last < typical - FADE_DEEP_DB)
		segment_level(s, b, &a0, &fout);
	if (fin <= fout) {
		*in = fin;
		*out = fmin(fout, end);
	}
	return 0;
}

/* The track-level values the track object and each section carry. */
typedef struct track_values {
	double loudness, tempo, tempo_conf;
	int key;
	double key_conf, mode_conf;
	int mode, ts;
	double ts_conf;
	bool key_manual; /* key and mode are a manual override */
} track_values;

/* The track-level fields (Spotify's names) added to o, with loudness loud. */
static int add_tonal_and_metre(json_object *o, double loud, const track_values *v)
{
	return ss_json_add_num(o, "loudness", loud) || ss_json_add_num(o, "tempo", v->tempo) ||
	       ss_json_add_num(o, "tempo_confidence", v->tempo_conf) || ss_json_add_int(o, "key", v->key) ||
	       ss_json_add_num(o, "key_confidence", v->key_conf) || ss_json_add_int(o, "mode", v->mode) ||
	       ss_json_add_num(o, "mode_confidence", v->mode_conf) || ss_json_add_int(o, "time_signature", v->ts) ||
	       ss_json_add_num(o, "time_signature_confidence", v->ts_conf);
}

/* One section object appended to arr, with the values here and loudness loud. Returns 0, or -1 when out of
 * memory. */
static int add_section(json_object *arr, double start, double dur, double conf, double loud, const track_values *here)
{
	json_object *it = new_element(arr);
	return it == NULL || ss_json_add_num(it, "start", start) || ss_json_add_num(it, "duration", dur) ||
			       ss_json_add_num(it, "confidence", conf) || add_tonal_and_metre(it, loud, here)
		       ? -1
		       : 0;
}

/* The key of a section into here from its stored key k (-1..11), mode m (0, 1; -1 with no key), confidence c
 * and mode confidence mc: the track's when they are missing (NaN: a row stored before sections had keys); no key
 * (-1, mode 0, confidences 0) when the section had none or they are malformed. The mode confidence is the key
 * confidence where it is missing (a row before v12) or not a number. */
static void section_key(track_values *here, double k, double m, double c, double mc)
{
	if (isnan(k) || isnan(m) || isnan(c))
		return;
	if (k >= 0.0 && k <= 11.0 && k == floor(k) && (m == 0.0 || m == 1.0)) {
		here->key = (int)k;
		here->mode = (int)m;
		here->key_conf = unit(c);
		here->mode_conf = isfinite(mc) ? unit(mc) : here->key_conf;
	} else {
		here->key = -1;
		here->mode = 0;
		here->key_conf = here->mode_conf = 0.0;
	}
}

/* The metre of a section into here from its stored time signature ts (beats per bar, as time_signature gives
 * it) and confidence c: the track's when they are missing (NaN: a row stored before sections had a metre) or
 * malformed. */
static void section_metre(track_values *here, double ts, double c)
{
	if (ts >= 3.0 && ts <= 7.0 && ts == floor(ts) && isfinite(c)) {
		here->ts = (int)ts;
		here->ts_conf = unit(c);
	}
}

/* The tempo of the section [start, start + dur): 60 over the median gap of the beats inside it (BPM, to 0.01)
 * when it holds at least SECTION_BEATS of them and the track's tempo is the analysis's, else the track's. */
#define SECTION_BEATS 4
static double section_tempo(const double *beats, size_t nb, double start, double dur, bool measured, double track,
			    double *scratch)
{
	size_t a = 0, b;
	while (a < nb && beats[a] < start)
		a++;
	for (b = a; b < nb && beats[b] < start + dur; b++)
		;
	if (!measured || !(track > 0.0) || b - a < SECTION_BEATS)
		return track;
	double gap = median_gap(beats + a, b - a, scratch);
	return gap > 0.0 ? round(6000.0 / gap) / 100.0 : track;
}

/* Add "sections": the stored ones (start, duration, confidence, loudness, key, mode, key confidence, time
 * signature, its confidence, tempo confidence, tempo, mode confidence) as the segments are read, each with its own tempo (the stored
 * one where the analysis found the section at a tempo other than the track's, else from the beats in it:
 * section_tempo; beats[0..nb), scratch for nb - 1 values) and its own tempo confidence (the track's under a manual
 * tempo or when it is not stored), its own key (section_key; the track's under a manual key) and its own
 * metre (section_metre); one
 * section spanning the track, with the track's values, when none is stored (a row analysed before sections
 * existed). Returns 0 or -1 when out of memory. */
static int add_sections(json_object *o, json_object *r, double end, const track_values *v, const double *beats,
			size_t nb, double *scratch)
{
	json_object *arr = add_child(o, "sections", json_object_new_array());
	series s;
	if (arr == NULL)
		return -1;
	/* 12 numbers since analysis v12, 7 in v11, 4 before (and 9 to 11 in builds on the way to v12) */
	if (series_open(&s, r, "sections", 12, 1u << 4 | 1u << 7 | 1u << 9 | 1u << 10 | 1u << 11, 0, end) != 0) {
		series_close(&s);
		return -1;
	}
	/* an override is the tempo, or the key, everywhere */
	const bool measured = !(ss_json_get_num(r, "manual_bpm") > 0.0);
	int rc = s.m == 0 ? add_section(arr, 0.0, end, 1.0, v->loudness, v) : 0;
	for (size_t j = 0; j < s.m && rc == 0; j++) {
		double w[12], dur;
		series_item(&s, j, w, &dur);
		track_values here = *v;
		/* a section's own tempo where the analysis found it is not the track's, else the beats' */
		here.tempo = measured && w[10] > 0.0 && w[10] < 1000.0 ? w[10]
								: section_tempo(beats, nb, w[0], dur, measured, v->tempo, scratch);
		if (!v->key_manual)
			section_key(&here, w[4], w[5], w[6], w[11]);
		section_metre(&here, w[7], w[8]);
		if (measured && isfinite(w[9]))
			here.tempo_conf = unit(w[9]);
		rc = add_section(arr, w[0], dur, unit(w[2]), level(w[3]), &here);
	}
	series_close(&s);
	return rc;
}

static json_object *meta_object(json_object *r)
{
	time_t at = 0;
	if (ss_time_parse_utc(ss_json_get_str(r, "analyzed_at"), &at) != 0)
		at = 0;
	json_object *m = json_object_new_object();
	if (m == NULL || ss_json_add_string(m, "analyzer_version", "songscope " PACKAGE_VERSION) ||
	    ss_json_add_string(m, "platform", "Linux") || ss_json_add_string(m, "detailed_status", "OK") ||
	    ss_json_add_int(m, "status_code", 0) || ss_json_add_int(m, "timestamp", (long long)at) ||
	    ss_json_add_num(m, "analysis_time", or0(ss_json_get_num(r, "analysis_duration"))) ||
	    ss_json_add_string(m, "input_process", "songscope: mono, 22050 Hz")) {
		json_object_put(m);
		return NULL;
	}
	return m;
}

json_object *ss_spotify_analysis(const char *text, size_t len)
{
	json_object *r = parse_result(text, len);
	if (r == NULL)
		return NULL;
	double dur = duration_of(r);
	track_values tv = {.loudness = loudness_of(r), .tempo = tempo_of(r), .tempo_conf = or0(score(r, "bpm_confidence")),
			   .key_conf = or0(score(r, "key_confidence")), .ts = time_signature(r),
			   .ts_conf = or0(score(r, "time_signature_confidence"))};
	tv.key_manual = key_mode(r, &tv.key, &tv.mode);
	/* the mode's own confidence since analysis v12; before, the key's */
	double mc = score(r, "mode_confidence");
	tv.mode_conf = isfinite(mc) ? mc : tv.key_conf;
	if (tv.key < 0)
		tv.key_conf = tv.mode_conf = 0.0;
	size_t nb = 0, nd = 0;
	double *beats = NULL, *downs = NULL, *scratch = NULL, fade_in = 0.0, fade_out = dur;
	json_object *o = json_object_new_object(), *t = NULL;
	series segs;
	bool ok = series_open(&segs, r, "segments", 7, 0, 2, dur) == 0 && fades(&segs, dur, &fade_in, &fade_out) == 0;
	ok = ok && o != NULL && times_of(r, "beats", dur, &beats, &nb) == 0 && times_of(r, "downbeats", dur, &downs, &nd) == 0;
	size_t most = nb > nd ? nb : nd;
	if (ok && most > 1)
		ok = (scratch = malloc((most - 1) * sizeof *scratch)) != NULL;
	if (ok) {
		/* the last beat lasts as long as the median beat, the last bar as the median bar */
		double beat = median_gap(beats, nb, scratch), bar = nd > 1 ? median_gap(downs, nd, scratch) : beat * tv.ts;
		ok = add_child(o, "meta", meta_object(r)) != NULL && (t = add_child(o, "track", json_object_new_object())) &&
		     ss_json_add_int(t, "num_samples", (long long)llround(dur * SS_ANALYSIS_RATE)) == 0 &&
		     ss_json_add_num(t, "duration", dur) == 0 && ss_json_add_string(t, "sample_md5", "") == 0 &&
		     ss_json_add_int(t, "offset_seconds", 0) == 0 && ss_json_add_int(t, "window_seconds", 0) == 0 &&
		     ss_json_add_int(t, "analysis_sample_rate", (long long)SS_ANALYSIS_RATE) == 0 &&
		     ss_json_add_int(t, "analysis_channels", 1) == 0 && ss_json_add_num(t, "end_of_fade_in", fade_in) == 0 &&
		     ss_json_add_num(t, "start_of_fade_out", fade_out) == 0 &&
		     add_tonal_and_metre(t, tv.loudness, &tv) == 0 &&
		     ss_json_add_string(t, "codestring", "") == 0 && ss_json_add_num(t, "code_version", 0.0) == 0 &&
		     ss_json_add_string(t, "echoprintstring", "") == 0 &&
		     ss_json_add_num(t, "echoprint_version", 0.0) == 0 && ss_json_add_string(t, "synchstring", "") == 0 &&
		     ss_json_add_num(t, "synch_version", 0.0) == 0 && ss_json_add_string(t, "rhythmstring", "") == 0 &&
		     ss_json_add_num(t, "rhythm_version", 0.0) == 0 &&
		     add_intervals(o, "bars", downs, nd, bar, dur, 1, tv.tempo_conf) == 0 &&
		     add_intervals(o, "beats", beats, nb, beat, dur, 1, tv.tempo_conf) == 0 &&
		     add_intervals(o, "tatums", beats, nb, beat, dur, 2, tv.tempo_conf) == 0 &&
		     add_sections(o, r, dur, &tv, beats, nb, scratch) == 0 &&
		     add_segments(o, &segs) == 0;
	}
	series_close(&segs);
	free(beats);
	free(downs);
	free(scratch);
	json_object_put(r);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
