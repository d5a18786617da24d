#include "core/analysis/result_json.h"

#include <math.h>
#include <stdio.h>

#include "core/util/jsonutil.h"

static const char *const tonic_names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};

/* A JSON number printed with at most 10 significant digits (the pipeline already rounds every value to its
 * meaningful precision, so 100.01 prints as 100.01, not 100.01000000000001), or NULL (JSON null) for NaN/Inf. */
static json_object *num(double v)
{
	if (!isfinite(v))
		return NULL;
	if (v == 0.0)
		v = 0.0; /* no "-0" */
	char buf[32];
	snprintf(buf, sizeof buf, "%.10g", v);
	return json_object_new_double_s(v, buf);
}

static int add_num(json_object *obj, const char *key, double v)
{
	json_object *n = num(v);
	if (n == NULL && isfinite(v))
		return -1;
	if (json_object_object_add(obj, key, n) != 0) {
		json_object_put(n);
		return -1;
	}
	return 0;
}

/* The fields the original's clients decode as required Doubles (bpm, bpm_confidence, key_confidence, energy,
 * danceability, acousticness, spectral_centroid): null would fail their whole decode, so an unknown value is
 * 0 there — what the original sent for a track without a beat; the iOS client treats bpm <= 0 as "no
 * tempo". Every other unknown number is null. */
static int add_required(json_object *obj, const char *key, double v)
{
	return add_num(obj, key, isfinite(v) ? v : 0.0);
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
	    ss_json_add_string(d, "profile", r->key_profile) != 0 || add_num(d, "tuning_cents", r->tuning_cents) != 0)
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
		    add_num(e, "score", c->score) != 0 || json_object_array_add(cands, e) != 0) {
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

int ss_result_to_json(const ss_result *r, bool with_beats, json_object *obj)
{
	char key[32], ts[16];
	int ok = valid_key(r->key_index, r->mode);
	int has_ts = isfinite(r->bpm) && r->beats_per_bar >= 2 && r->beats_per_bar <= 16;
	if (has_ts)
		snprintf(ts, sizeof ts, "%d/4", r->beats_per_bar);
	if (add_required(obj, "bpm", r->bpm) != 0 ||
	    add_required(obj, "bpm_confidence", r->bpm_confidence) != 0 ||
	    ss_json_add_string(obj, "key", ss_key_name(r->key_index, r->mode, key, sizeof key)) != 0 ||
	    (ok ? ss_json_add_int(obj, "key_index", r->key_index) : ss_json_add_string(obj, "key_index", NULL)) != 0 ||
	    (ok ? ss_json_add_int(obj, "mode", r->mode) : ss_json_add_string(obj, "mode", NULL)) != 0 ||
	    add_required(obj, "key_confidence", r->key_confidence) != 0 ||
	    add_obj(obj, "key_details", key_details(r)) != 0 ||
	    add_required(obj, "energy", r->energy) != 0 ||
	    add_required(obj, "danceability", r->danceability) != 0 ||
	    add_required(obj, "acousticness", r->acousticness) != 0 ||
	    add_required(obj, "spectral_centroid", r->spectral_centroid) != 0 ||
	    ss_json_add_string(obj, "time_signature", has_ts ? ts : NULL) != 0 ||
	    add_num(obj, "valence", r->valence) != 0 ||
	    ss_json_add_string(obj, "mood", r->mood) != 0 ||
	    add_num(obj, "loudness", r->loudness) != 0 ||
	    add_num(obj, "dynamic_range", r->dynamic_range) != 0 ||
	    add_num(obj, "silence_ratio", r->silence_ratio) != 0 ||
	    add_num(obj, "zero_crossing_rate", r->zero_crossing_rate) != 0 ||
	    add_num(obj, "spectral_flux", r->spectral_flux) != 0 ||
	    add_num(obj, "percussive_energy_ratio", r->percussive_energy_ratio) != 0 ||
	    add_num(obj, "harmonic_energy_ratio", r->harmonic_energy_ratio) != 0 ||
	    add_num(obj, "tonal_strength", r->tonal_strength) != 0 ||
	    add_num(obj, "signal_duration", r->signal_duration) != 0 ||
	    add_num(obj, "analysis_duration", r->analysis_duration) != 0)
		return -1;
	if (with_beats) {
		json_object *b = json_object_new_array_ext((int)(r->n_beats < 1 ? 1 : r->n_beats));
		if (b == NULL)
			return -1;
		for (size_t i = 0; i < r->n_beats; i++) {
			json_object *v = num(r->beats[i]);
			if ((v == NULL && isfinite(r->beats[i])) || json_object_array_add(b, v) != 0) {
				json_object_put(v);
				json_object_put(b);
				return -1;
			}
		}
		if (add_obj(obj, "beats", b) != 0)
			return -1;
	}
	return 0;
}
