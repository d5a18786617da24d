/* GET /cache/export: the cache as JSON or CSV, written in chunks to a sink (nothing goes to disk). */
#ifndef SS_STORE_EXPORT_H
#define SS_STORE_EXPORT_H

#include <stddef.h>

#include "core/store/db.h"
#include "core/util/error.h"

typedef enum ss_export_format { SS_EXPORT_JSON = 0, SS_EXPORT_CSV = 1 } ss_export_format;

/* Receives successive chunks; returns 0, or -1 to abort (e.g. the client went away). */
typedef int (*ss_export_sink)(void *arg, const void *data, size_t len);

/* Write every row of ns (NULL = all) ordered by artist, title, inside one read transaction:
 * JSON {"total_songs", "exported_at", "songs": [{title, artist, bpm, key, energy, danceability, acousticness,
 * analyzed_at, preview_url, user_verified, manual_bpm, manual_key}]} or CSV with a header row.
 * exported_at is "YYYY-MM-DD HH:MM:SS". Memory stays bounded (chunks of about 16 KiB).
 * Returns 0; -1 with err (SS_ERR_DB) when reading failed before anything was written, or SS_ERR_IO when
 * the sink failed (output is then truncated). */
int ss_cache_export(ss_db *db, const char *ns, ss_export_format fmt, const char *exported_at, ss_export_sink sink,
		    void *arg, ss_error *err);

#endif
