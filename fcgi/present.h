/* The API's view of stored songs: store rows (core/store/store.h) turned into the JSON and CSV bytes of
 * POST /analyze results, GET /cache, GET /cache/search and GET /cache/export. The one place that knows the
 * field names and their order; the stored result object is spliced, never re-parsed. */
#ifndef SS_FCGI_PRESENT_H
#define SS_FCGI_PRESENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/store/store.h"
#include "core/util/buf.h"
#include "core/util/error.h"

/* Which of the row's stored time series (row->beats_json, ss_result_beats_text) a result object carries:
 * none; beats and downbeats (?beats=1); or those, the segments and the sections (for the audio-analysis object,
 * in their stored array form). */
typedef enum ss_present_series {
	SS_SERIES_NONE = 0,
	SS_SERIES_BEATS = 1,
	SS_SERIES_ALL = 2,
} ss_present_series;

/* Append the result object of row to b: id, track_id (the row's id in /v1/audio-features and /v1/audio-analysis:
 * the base62 of its cache key's first 128 bits; null when the key is not hex), title, artist, preview_url, cache_namespace, "cached", analyzed_at,
 * the stored result fields, the time series that series names (from row->beats_json; beats and downbeats as
 * empty arrays when the row has none), then user_verified, manual_bpm, manual_key, bpm_notes. Returns 0 or -1
 * (out of memory; b may hold part). */
int ss_present_result(ss_buf *b, const ss_cache_row *row, bool cached, ss_present_series series);

/* The result object of the row with cache_key appended to out (nothing appended when there is none or on
 * error). Returns 1 found, 0 none, -1 with err (the store's code, or SS_ERR_NOMEM). */
int ss_present_cache_get(ss_store *s, const char *cache_key, bool cached, ss_present_series series, ss_buf *out,
			 ss_error *err);

/* A JSON array of result objects ("cached": true, no beats) of ss_store_cache_list / ss_store_cache_search,
 * appended to out. Returns the row count or -1 with err (out unchanged). */
int ss_present_cache_list(ss_store *s, const char *ns, int limit, long long offset, ss_buf *out, ss_error *err);
int ss_present_cache_search(ss_store *s, const char *ns, const char *q, int limit, ss_buf *out, ss_error *err);

typedef enum ss_export_format { SS_EXPORT_JSON = 0, SS_EXPORT_CSV = 1 } ss_export_format;

/* Receives successive chunks; returns 0, or -1 to abort (e.g. the client went away). */
typedef int (*ss_export_sink)(void *arg, const void *data, size_t len);

/* GET /cache/export: every row of ns (NULL = all) ordered by artist, title, as JSON {"total_songs",
 * "exported_at", "songs": [{title, artist, bpm, key, energy, danceability, acousticness, analyzed_at,
 * preview_url, user_verified, manual_bpm, manual_key}]} or as CSV with a header row, written to sink in chunks
 * of about 16 KiB (memory stays bounded). exported_at is "YYYY-MM-DD HH:MM:SS". Returns 0; -1 with err: the
 * store's code when reading failed before anything was written, SS_ERR_IO once output was written (it is then
 * truncated) or when the sink failed. */
int ss_present_cache_export(ss_store *s, const char *ns, ss_export_format fmt, const char *exported_at,
			    ss_export_sink sink, void *arg, ss_error *err);

#endif
