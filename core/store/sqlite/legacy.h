/* Reading the original (Python) server's SQLite database and taking its cache rows, manual overrides, API keys
 * and statistics over into a songscope store (songscope-admin import-legacy). It reads an SQLite file on purpose,
 * so it lives with the SQLite backend, but writes through core/store/store.h, into whichever store is configured.
 *
 * How the original's cache keys map to songscope's (the original hashed "[<namespace>::]<key string>"):
 *  - a URL row (key string = the URL, maybe with "::chunk=skip") becomes a "url" row whose cache key is the one
 *    POST /analyze computes for that URL and namespace, so the same request is a cache hit as before; the
 *    row without the suffix wins over the "::chunk=skip" one when both exist;
 *  - an upload row ("audiodata://<artist>/<title>[::chunk=skip]") has no content hash, so it cannot be found by
 *    uploading the bytes again; it is kept as an "upload" row whose source is the key string without the
 *    suffix (cache key: SHA-256 of "<ns>::legacy::<source>::"), listed by /cache, found by /cache/search
 *    (title, artist) and verifiable by POST /verify {"url": "audiodata://<artist>/<title>"};
 *  - rows from before namespaces belong to "default"; a namespace songscope cannot hold (more than 32
 *    characters, or characters other than ASCII letters, digits, '-' and '_') is skipped and counted.
 * Keys are stored hashed, with their names, emails, active flags, daily limits and creation times; the
 * original's server_stats counters are added to songscope's; importing the same original database again adds
 * only what it counted since the last import (nothing for an unchanged file). */
#ifndef SS_STORE_SQLITE_LEGACY_H
#define SS_STORE_SQLITE_LEGACY_H

#include <stdbool.h>

#include "core/store/store.h"
#include "core/util/error.h"

typedef struct ss_legacy ss_legacy;

/* Schema generations of the original, told apart by analysis_cache's columns. */
typedef enum ss_legacy_version {
	SS_LEGACY_V1 = 1, /* V1, V2: no Phase-1 columns */
	SS_LEGACY_V3 = 3, /* Phase-1 columns (time_signature, valence, mood, loudness, ...), no namespaces */
	SS_LEGACY_V4 = 4  /* cache_namespace and the V4 descriptor and JSON columns (V4 to V8) */
} ss_legacy_version;

/* Open path read-only and recognise the original's schema. Refuses (SS_ERR_BAD_REQUEST, a message saying why)
 * a file that is not SQLite, a songscope database, or one without the original's analysis_cache columns;
 * SS_ERR_IO/SS_ERR_DB when it cannot be read. Returns 0 and *out (close with ss_legacy_close) or -1. */
int ss_legacy_open(const char *path, ss_legacy **out, ss_error *err);

/* Close. NULL is a no-op. */
void ss_legacy_close(ss_legacy *l);

ss_legacy_version ss_legacy_schema(const ss_legacy *l);

/* "V1-V2", "V3", "V4-V8". */
const char *ss_legacy_schema_name(ss_legacy_version v);

/* What one import did. "existing" rows were already in songscope (an earlier import, or the same song). */
typedef struct ss_legacy_counts {
	long long cache_total, cache_new, cache_existing, cache_skipped;
	long long overrides_new, overrides_existing;
	long long keys_total, keys_new, keys_existing, keys_skipped;
	bool has_stats;      /* the original had a server_stats row */
	bool stats_new;      /* something was added now (false: an earlier import added all of it) */
	long long stats_analyses, stats_hits, stats_misses; /* what was added now */
} ss_legacy_counts;

typedef struct ss_legacy_opts {
	const char *opts_tag; /* songscope's analysis-options tag (ss_analysis_opts_tag) for URL cache keys */
	int batch_rows;       /* rows per transaction; 0 = 10000 */
	/* Called after each committed batch (may be NULL). */
	void (*progress)(void *arg, long long done, long long total);
	/* Called for each row or key that is skipped, with a reason (may be NULL). */
	void (*skipped)(void *arg, const char *what, long long id, const char *why);
	void *arg;
} ss_legacy_opts;

/* Take everything over into store (any backend: the original is read here, the rows are written through
 * core/store/store.h): insert-only (a songscope row, override or key that exists is never changed),
 * in transactions of batch_rows rows with prepared statements. Running it again finds everything present and
 * changes nothing. A failure rolls back the current batch (earlier batches stay; running again completes
 * the import). Returns 0 and *c, or -1 with err (SS_ERR_DB / SS_ERR_NOMEM). */
int ss_legacy_import(ss_legacy *l, ss_store *store, const ss_legacy_opts *o, ss_legacy_counts *c, ss_error *err);

#endif
