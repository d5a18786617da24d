/* Names in the analysis cache: namespaces, content hashes and cache keys, and what a stored result must hold (the
 * same for every backend). */
#ifndef SS_STORE_CACHE_H
#define SS_STORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/store/store.h"

/* Does ns match [A-Za-z0-9_-]{1,32}? */
bool ss_cache_namespace_valid(const char *ns);

/* Lower-case hex SHA-256 of len bytes into out. */
void ss_sha256_hex(const void *data, size_t len, char out[SS_SHA256_HEX]);

/* Is s exactly 64 hex digits? */
bool ss_sha256_hex_valid(const char *s);

/* The cache key: SHA-256 hex of "<ns>::<kind>::<source>::<opts_tag>", kind "url" (source = the URL) or
 * "sha256" (source = hex SHA-256 of the uploaded bytes). */
void ss_cache_key(const char *ns, const char *kind, const char *source, const char *opts_tag,
		  char out[SS_SHA256_HEX]);

/* Does result_json (a cache row's stored result) hold a whole result: a JSON object (strict: NaN and Infinity
 * refused) with every field API.md requires of one (bpm, bpm_confidence, key, key_confidence, energy,
 * danceability, acousticness, spectral_centroid), each a number or null (key a string or null)? A row written
 * halfway, or by hand, fails. When it does not, *problem (may be NULL) names what is wrong (static text). */
bool ss_cache_result_complete(const char *result_json, const char **problem);

#endif
