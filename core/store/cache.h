/* The analysis cache: one row per (namespace, source, analysis options), keyed by a SHA-256 cache key.
 * Rows are rendered straight to JSON text by splicing the stored result object (no re-parse). */
#ifndef SS_STORE_CACHE_H
#define SS_STORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/analysis/result.h"
#include "core/store/db.h"
#include "core/util/buf.h"
#include "core/util/error.h"

#define SS_SHA256_HEX 65       /* 64 hex digits + NUL */
#define SS_NAMESPACE_MAX 32    /* characters of a namespace */
#define SS_CACHE_LIST_MAX 500  /* largest page of GET /cache */
#define SS_CACHE_SEARCH_MAX 100
#define SS_CACHE_OFFSET_MAX 10000       /* deepest offset of GET /cache: the skipped rows are read, so bound them */
#define SS_CACHE_SHORT_SEARCH_ROWS 10000 /* a 1-2 character search looks at this many newest rows only */
#define SS_CACHE_SEARCH_INDEX_MAX 20000  /* a search the index finds in more rows scans the rows newest first */

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

/* What a fresh analysis stores. Strings are borrowed. result_json is the JSON object of the analysis fields
 * (without beats, id, title, artist, cached, analyzed_at); beats_json the object ss_result_beats_text writes
 * ({"beats":[...],"downbeats":[...]}) or NULL. */
typedef struct ss_cache_put_args {
	const char *cache_key;
	const char *ns;
	const char *source_kind; /* "url" or "upload" */
	const char *source;      /* URL or content SHA-256 hex */
	const char *preview_url; /* what clients see in preview_url */
	const char *title;
	const char *artist;
	const ss_result *result; /* scalar columns for listing, search and export */
	const char *result_json;
	const char *beats_json;
} ss_cache_put_args;

/* Insert or update the row for a->cache_key in one IMMEDIATE transaction. An existing row keeps its id;
 * overrides live in their own table and are never touched. Returns 0 (and *id when id != NULL) or -1 with
 * err (SS_ERR_DB). */
int ss_cache_put(ss_db *db, const ss_cache_put_args *a, long long *id, ss_error *err);

/* A row taken over from another store (songscope-admin import-legacy): the listing columns are given as they
 * are (no ss_result), the analysis time is kept. Strings are borrowed; NaN numbers are stored as NULL. */
typedef struct ss_cache_import_args {
	const char *cache_key, *ns, *source_kind, *source, *preview_url, *title, *artist;
	double bpm, bpm_confidence;
	const char *key; /* "C# Minor" or NULL */
	double key_confidence, energy, danceability, acousticness, spectral_centroid;
	const char *time_signature, *mood; /* or NULL */
	double valence, loudness, dynamic_range, silence_ratio, analysis_duration;
	const char *result_json; /* JSON object, as for ss_cache_put */
	const char *analyzed_at; /* any SQLite time string (UTC); NULL or unparsable = now */
} ss_cache_import_args;

/* Insert the row unless one with the same cache_key exists (an existing row is left exactly as it is).
 * Must run inside the caller's transaction (ss_db_begin), so that many rows share one commit.
 * Returns 1 inserted, 0 already there, -1 with err (SS_ERR_DB). */
int ss_cache_import(ss_db *db, const ss_cache_import_args *a, ss_error *err);

/* Append the result object of the row with cache_key to out: row fields, "cached": cached, the stored
 * result fields, beats and downbeats when with_beats, and user_verified plus the manual override fields.
 * Returns 1 when found, 0 when there is no such row (out unchanged), -1 with err. */
int ss_cache_render(ss_db *db, const char *cache_key, bool cached, bool with_beats, ss_buf *out, ss_error *err);

/* The cache key of the row whose key starts with hex_prefix (1..64 lower-case hex digits; track ids carry the
 * first 32) into key. When several rows share the prefix, the smallest key. Returns 1 found, 0 none (key
 * ""), -1 with err (SS_ERR_BAD_REQUEST for a prefix that is not lower-case hex, database errors). */
int ss_cache_key_by_prefix(ss_db *db, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err);

/* Append a JSON array of row objects, newest first. ns NULL = every namespace. limit 1..500, offset
 * 0..SS_CACHE_OFFSET_MAX (else SS_ERR_BAD_REQUEST). Returns the number of rows or -1 with err. */
int ss_cache_list(ss_db *db, const char *ns, int limit, long long offset, ss_buf *out, ss_error *err);

/* Append a JSON array of rows whose title or artist contains q (case-insensitive for ASCII; '%', '_' and
 * '\\' are literal), newest first, at most limit rows. q of 3 or more characters is served by the trigram
 * index over every row (a q in very many rows scans the rows newest first instead, same answer); q of 0-2
 * characters only looks at the SS_CACHE_SHORT_SEARCH_ROWS newest rows of ns.
 * Returns the row count or -1 with err. */
int ss_cache_search(ss_db *db, const char *ns, const char *q, int limit, ss_buf *out, ss_error *err);

/* Escape q for LIKE ... ESCAPE '\\' and wrap it in '%': into out (caller frees). Returns NULL on ENOMEM. */
char *ss_cache_like_pattern(const char *q);

/* Delete one row by id. Returns 1 deleted, 0 no such row, -1 with err. */
int ss_cache_delete(ss_db *db, long long id, ss_error *err);

/* Delete every row of ns (NULL = all namespaces); overrides and stats are kept. Returns 0 and *deleted, or -1. */
int ss_cache_clear(ss_db *db, const char *ns, long long *deleted, ss_error *err);

/* Rows in ns (NULL = all). Returns the count or -1 with err. */
long long ss_cache_count(ss_db *db, const char *ns, ss_error *err);

/* Is there a cached row for (ns, source)? Returns 1, 0, or -1 with err. */
int ss_cache_has_source(ss_db *db, const char *ns, const char *source, ss_error *err);

#endif
