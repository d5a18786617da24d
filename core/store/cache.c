/* Cache names (namespaces, hashes, keys) and ss_store_cache_put, which turns an analysis into the stored
 * columns for whichever backend. */
#include "core/store/cache.h"

#include <math.h>
#include <string.h>

#include <sodium.h>

#include "core/analysis/result.h"
#include "core/store/backend.h"
#include "core/util/jsonutil.h"

bool ss_cache_namespace_valid(const char *ns)
{
	size_t n = 0;
	if (ns == NULL)
		return false;
	for (; ns[n]; n++) {
		char c = ns[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
		if (n >= SS_NAMESPACE_MAX)
			return false;
	}
	return n > 0;
}

void ss_sha256_hex(const void *data, size_t len, char out[SS_SHA256_HEX])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, SS_SHA256_HEX, h, sizeof h);
}

bool ss_sha256_hex_valid(const char *s)
{
	size_t n = 0;
	if (s == NULL)
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') || (s[n] >= 'A' && s[n] <= 'F')))
			return false;
	return n == 64;
}

void ss_cache_key(const char *ns, const char *kind, const char *source, const char *opts_tag,
		  char out[SS_SHA256_HEX])
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	const char *parts[4] = {ns, kind, source, opts_tag ? opts_tag : ""};
	crypto_hash_sha256_init(&st);
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			crypto_hash_sha256_update(&st, (const unsigned char *)"::", 2);
		crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], strlen(parts[i]));
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, SS_SHA256_HEX, h, sizeof h);
}

int ss_store_cache_put(ss_store *s, const ss_cache_put_args *a, int64_t *id, ss_error *err)
{
	const ss_result *r = a->result;
	char key[16], tsbuf[16];
	ss_key_name(r->key_index, r->mode, key, sizeof key);
	const char *ts = ss_result_time_signature(r, tsbuf, sizeof tsbuf);
	if (ts == NULL) /* the column has always held a metre, "4/4" without a tempo */
		ts = "4/4";
	ss_cache_write w = {
		.cache_key = a->cache_key, .ns = a->ns, .source_kind = a->source_kind, .source = a->source,
		.preview_url = a->preview_url, .title = a->title, .artist = a->artist, .bpm = r->bpm,
		.bpm_confidence = r->bpm_confidence, .key = r->key_index >= 0 ? key : NULL,
		.key_confidence = r->key_confidence, .energy = r->energy, .danceability = r->danceability,
		.acousticness = r->acousticness, .spectral_centroid = r->spectral_centroid, .time_signature = ts,
		.mood = r->mood, .valence = r->valence, .loudness = r->loudness, .dynamic_range = r->dynamic_range,
		.silence_ratio = r->silence_ratio, .analysis_duration = r->analysis_duration,
		.result_json = a->result_json, .beats_json = a->beats_json, .analyzed_at = NULL};
	if (s->ops->ready(s, err) != 0)
		return -1;
	return s->ops->cache_put(s, &w, id, err);
}

bool ss_cache_result_complete(const char *result_json, const char **problem)
{
	static const char *const numbers[] = {"bpm",	     "bpm_confidence", "key_confidence",   "energy",
					      "danceability", "acousticness",   "spectral_centroid"};
	const char *why = NULL;
	json_object *o = result_json != NULL ? ss_json_parse(result_json, strlen(result_json), 64) : NULL, *v;
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		why = "the stored result is not a JSON object";
	} else if (!json_object_object_get_ex(o, "key", &v)) {
		why = "the stored result has no key";
	} else if (v != NULL && !json_object_is_type(v, json_type_string)) {
		why = "the stored result's key is not text";
	} else {
		for (size_t i = 0; i < sizeof numbers / sizeof numbers[0] && why == NULL; i++) {
			if (!json_object_object_get_ex(o, numbers[i], &v))
				why = "the stored result lacks a required field (bpm, confidences, energy, danceability, "
				      "acousticness or spectral_centroid)";
			else if (v != NULL && !json_object_is_type(v, json_type_double) &&
				 !json_object_is_type(v, json_type_int))
				why = "a required field of the stored result is not a number";
		}
	}
	json_object_put(o);
	if (problem != NULL)
		*problem = why;
	return why == NULL;
}
