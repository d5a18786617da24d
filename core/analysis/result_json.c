#include "core/analysis/result_json.h"

#include <math.h>
#include <stdio.h>

#include "core/util/jsonutil.h"

static const char *const tonic_names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};

/* The fields the original's clients decode as required Doubles (bpm, bpm_confidence, key_confidence, energy,
 * danceability, acousticness, spectral_centroid): null would fail their whole decode, so an unknown value is
 * 0 there — what the original sent for a track without a beat; the iOS client treats bpm <= 0 as "no
 * tempo". Every other unknown number is null. */
#define add_required(obj, key, v) ss_json_add_num((obj), key, finite_or_0(v))
static double finite_or_0(double v)
{
	return isfinite(v) ? v : 0.0;
}

static int add_obj(json_object *obj, const char *key, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

static int valid_key(int key_index, int mode)
{
	return key_index >= 0 && key_index < 12 && (mode == 0 || mode == 1);
}

static json_object *key_details(const ss_result *r)
{
	json_object *d = json_object_new_object();
	if (d == NULL)
		return NULL;
	int ok = valid_key(r->key_index, r->mode);
	json_object *cands = json_object_new_array();
	if (cands == NULL || ss_json_add_string(d, "tonic", ok ? tonic_names[r->key_index] : NULL) != 0 ||
	    ss_json_add_string(d, "mode", ok ? (r->mode ? "major" : "minor") : NULL) != 0 ||
	    ss_json_add_string(d, "camelot", ok ? ss_key_camelot(r->key_index, r->mode) : NULL) != 0 ||
	    ss_json_add_string(d, "open_key", ok ? ss_key_open_key(r->key_index, r->mode) : NULL) != 0 ||
	    ss_json_add_string(d, "profile", r->key_profile) != 0 || ss_json_add_num(d, "tuning_cents", r->tuning_cents) != 0)
		goto fail;
	for (int i = 0; i < SS_KEY_CANDIDATES; i++) {
		const ss_key_candidate *c = &r->key_candidates[i];
		if (!valid_key(c->key_index, c->mode))
			continue;
		char name[32];
		json_object *e = json_object_new_object();
		if (e == NULL)
			goto fail;
		if (ss_json_add_string(e, "key", ss_key_name(c->key_index, c->mode, name, sizeof name)) != 0 ||
		    ss_json_add_int(e, "key_index", c->key_index) != 0 || ss_json_add_int(e, "mode", c->mode) != 0 ||
		    ss_json_add_num(e, "score", c->score) != 0 || json_object_array_add(cands, e) != 0) {
			json_object_put(e);
			goto fail;
		}
	}
	if (add_obj(d, "candidates", cands) != 0) {
		cands = NULL;
		goto fail;
	}
	return d;
fail:
	json_object_put(cands);
	json_object_put(d);
	return NULL;
}

/* [{"bpm", "score"}, ...]: the chosen tempo first; empty without a tempo. */
static json_object *bpm_candidates(const ss_result *r)
{
	json_object *a = json_object_new_array();
	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < r->n_bpm_candidates && i < SS_BPM_CANDIDATES; i++) {
		const ss_bpm_candidate *c = &r->bpm_candidates[i];
		if (!isfinite(c->bpm) || !(c->bpm > 0.0))
			continue;
		json_object *e = json_object_new_object();
		if (e == NULL || ss_json_add_num(e, "bpm", c->bpm) != 0 || ss_json_add_num(e, "score", c->score) != 0 ||
		    json_object_array_add(a, e) != 0) {
			json_object_put(e);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* A JSON array of n times in seconds. */
static json_object *times(const double *t, size_t n)
{
	json_object *b = json_object_new_array_ext((int)(n < 1 ? 1 : n));
	if (b == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_object *v = ss_json_num(t[i]);
		if ((v == NULL && isfinite(t[i])) || json_object_array_add(b, v) != 0) {
			json_object_put(v);
			json_object_put(b);
			return NULL;
		}
	}
	return b;
}

static int times_text(ss_buf *b, const char *name, const double *t, size_t n)
{
	if (ss_buf_printf(b, "\"%s\":[", name) != 0)
		return -1;
	int first = 1;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(t[i]))
			continue;
		if (ss_buf_printf(b, "%s%.3f", first ? "" : ",", t[i]) != 0)
			return -1;
		first = 0;
	}
	return ss_buf_puts(b, "]");
}

/* v rounded to 1/scale, shortest text; a comma before it unless first. 0 for a value that is not finite. */
static int num_text(ss_buf *b, double v, double scale, bool first)
{
	v = isfinite(v) ? round(v * scale) / scale : 0.0;
	return ss_buf_printf(b, "%s%.10g", first ? "" : ",", v == 0.0 ? 0.0 : v);
}

/* "start,duration" of an item that lasts until stop (the next item's start, or its own end for the last), both
 * ends rounded to whole milliseconds first, so that stored items still tile the clip. */
static int interval_text(ss_buf *b, double start, double stop)
{
	double s = round(start * 1000.0) / 1000.0, e = round(stop * 1000.0) / 1000.0;
	return num_text(b, s, 1000, true) || num_text(b, e - s, 1000, false) ? -1 : 0;
}

static int dims_text(ss_buf *b, const double *v, double scale)
{
	if (ss_buf_puts(b, ",[") != 0)
		return -1;
	for (int i = 0; i < SS_SEGMENT_DIMS; i++)
		if (num_text(b, v[i], scale, i == 0) != 0)
			return -1;
	return ss_buf_puts(b, "]");
}

static int segments_text(ss_buf *b, const ss_segment *s, size_t n)
{
	if (ss_buf_puts(b, SS_RESULT_SEGMENTS_MEMBER "[") != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const ss_segment *g = &s[i];
		if (ss_buf_puts(b, i ? ",[" : "[") != 0 ||
		    interval_text(b, g->start, i + 1 < n ? s[i + 1].start : g->start + g->duration) != 0 ||
		    num_text(b, g->confidence, 1000, false) != 0 ||
		    num_text(b, g->loudness_start, 10, false) != 0 || num_text(b, g->loudness_max_time, 1000, false) != 0 ||
		    num_text(b, g->loudness_max, 10, false) != 0 || num_text(b, g->loudness_end, 10, false) != 0 ||
		    dims_text(b, g->pitches, 100) != 0 || dims_text(b, g->timbre, 10) != 0 || ss_buf_puts(b, "]") != 0)
			return -1;
	}
	return ss_buf_puts(b, "]");
}

static int sections_text(ss_buf *b, const ss_section *s, size_t n)
{
	if (ss_buf_puts(b, ",\"sections\":[") != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const ss_section *g = &s[i];
		if (ss_buf_puts(b, i ? ",[" : "[") != 0 ||
		    interval_text(b, g->start, i + 1 < n ? s[i + 1].start : g->start + g->duration) != 0 ||
		    num_text(b, g->confidence, 1000, false) != 0 ||
		    num_text(b, g->loudness, 10, false) != 0 || num_text(b, g->key, 1, false) != 0 ||
		    num_text(b, g->mode, 1, false) != 0 || num_text(b, g->key_confidence, 1000, false) != 0 ||
		    num_text(b, g->time_signature, 1, false) != 0 ||
		    num_text(b, g->time_signature_confidence, 1000, false) != 0 ||
		    num_text(b, g->tempo_confidence, 1000, false) != 0 || num_text(b, g->tempo, 100, false) != 0 ||
		    num_text(b, g->mode_confidence, 1000, false) != 0 || ss_buf_puts(b, "]") != 0)
			return -1;
	}
	return ss_buf_puts(b, "]");
}

int ss_result_beats_text(const ss_result *r, ss_buf *b)
{
	if (ss_buf_puts(b, "{") != 0 || times_text(b, "beats", r->beats, r->n_beats) != 0 ||
	    ss_buf_puts(b, ",") != 0 || times_text(b, "downbeats", r->downbeats, r->n_downbeats) != 0 ||
	    segments_text(b, r->segments, r->n_segments) != 0 || sections_text(b, r->sections, r->n_sections) != 0)
		return -1;
	return ss_buf_puts(b, "}");
}

int ss_result_to_json(const ss_result *r, bool with_beats, json_object *obj)
{
	char key[32], tsbuf[16];
	int ok = valid_key(r->key_index, r->mode);
	const char *ts = ss_result_time_signature(r, tsbuf, sizeof tsbuf);
	if (add_required(obj, "bpm", r->bpm) != 0 ||
	    add_required(obj, "bpm_confidence", r->bpm_confidence) != 0 ||
	    add_obj(obj, "bpm_candidates", bpm_candidates(r)) != 0 ||
	    ss_json_add_string(obj, "key", ss_key_name(r->key_index, r->mode, key, sizeof key)) != 0 ||
	    (ok ? ss_json_add_int(obj, "key_index", r->key_index) : ss_json_add_string(obj, "key_index", NULL)) != 0 ||
	    (ok ? ss_json_add_int(obj, "mode", r->mode) : ss_json_add_string(obj, "mode", NULL)) != 0 ||
	    add_required(obj, "key_confidence", r->key_confidence) != 0 ||
	    ss_json_add_num(obj, "mode_confidence", r->mode_confidence) != 0 ||
	    add_obj(obj, "key_details", key_details(r)) != 0 ||
	    add_required(obj, "energy", r->energy) != 0 ||
	    add_required(obj, "danceability", r->danceability) != 0 ||
	    add_required(obj, "acousticness", r->acousticness) != 0 ||
	    add_required(obj, "spectral_centroid", r->spectral_centroid) != 0 ||
	    ss_json_add_string(obj, "time_signature", ts) != 0 ||
	    ss_json_add_num(obj, "time_signature_confidence", r->time_signature_confidence) != 0 ||
	    ss_json_add_num(obj, "valence", r->valence) != 0 ||
	    ss_json_add_string(obj, "mood", r->mood) != 0 ||
	    ss_json_add_num(obj, "loudness", r->loudness) != 0 ||
	    ss_json_add_num(obj, "dynamic_range", r->dynamic_range) != 0 ||
	    ss_json_add_num(obj, "silence_ratio", r->silence_ratio) != 0 ||
	    ss_json_add_num(obj, "zero_crossing_rate", r->zero_crossing_rate) != 0 ||
	    ss_json_add_num(obj, "spectral_flux", r->spectral_flux) != 0 ||
	    ss_json_add_num(obj, "percussive_energy_ratio", r->percussive_energy_ratio) != 0 ||
	    ss_json_add_num(obj, "harmonic_energy_ratio", r->harmonic_energy_ratio) != 0 ||
	    ss_json_add_num(obj, "tonal_strength", r->tonal_strength) != 0 ||
	    ss_json_add_num(obj, "speechiness", r->speechiness) != 0 ||
	    ss_json_add_num(obj, "instrumentalness", r->instrumentalness) != 0 ||
	    ss_json_add_num(obj, "liveness", r->liveness) != 0 ||
	    ss_json_add_num(obj, "signal_duration", r->signal_duration) != 0 ||
	    ss_json_add_num(obj, "analysis_duration", r->analysis_duration) != 0)
		return -1;
	if (with_beats && (add_obj(obj, "beats", times(r->beats, r->n_beats)) != 0 ||
			   add_obj(obj, "downbeats", times(r->downbeats, r->n_downbeats)) != 0))
		return -1;
	return 0;
}
