/* Analysing a song, the whole flow: cache lookup, waiting for an identical request already in progress instead
 * of repeating it, the download (holding a download slot, no analysis slot), an analysis slot (queueing for one
 * up to analysis_queue_timeout), decoding, analysis and storing. Used by the /analyze handlers; usable by tools
 * and tests with the same objects. It returns what happened as an ss_song_outcome, which ss_song_record turns
 * into the service counters in one call; it never logs (the caller does, from the outcome). */
#ifndef SS_SONG_SONG_H
#define SS_SONG_SONG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config/config.h"
#include "core/store/store.h"
#include "core/util/error.h"

struct ss_admission;
struct ss_fetcher;
struct ss_stats;

/* What the flow works with; all borrowed. adm NULL: a miss answers unavailable; fetch NULL: a URL miss does. */
typedef struct ss_song_env {
	const ss_config *cfg;
	ss_store *store;
	struct ss_admission *adm;
	struct ss_fetcher *fetch;
} ss_song_env;

/* One song to analyse. Strings and bytes are borrowed for the call. */
typedef struct ss_song_job {
	const char *ns;
	const char *kind;        /* "url" or "sha256" (cache key part) */
	const char *source_kind; /* "url" or "upload" (stored column) */
	const char *source;      /* URL, or hex SHA-256 of data */
	const char *preview_url;
	const char *title;
	const char *artist;
	bool force;              /* analyse even when cached */
	bool with_beats;         /* the row handed back carries beats_json */
	const void *data;        /* upload bytes; NULL for a URL job */
	size_t len;
} ss_song_job;

typedef enum ss_song_result {
	SS_SONG_HIT = 0,         /* served from the cache (also after waiting for an identical request) */
	SS_SONG_ANALYSED,        /* a miss, analysed and stored here */
	SS_SONG_BUSY,            /* refused: every analysis or download slot taken, or the queue wait ran out */
	SS_SONG_FETCH_FAILED,    /* the download failed */
	SS_SONG_ANALYSIS_FAILED, /* decoding, analysis or storing the result failed */
	SS_SONG_SHARED_FAILURE,  /* the identical request this one waited for failed; this one answers the same */
	SS_SONG_GAVE_UP,         /* an identical URL request was still running past this request's deadline */
	SS_SONG_ERROR            /* anything else (the store, admission, memory): nothing said about the song */
} ss_song_result;

/* What happened, for the counters (ss_song_record) and the caller's log line. */
typedef struct ss_song_outcome {
	ss_song_result result;
	bool waited;         /* waited for an identical request in progress (a de-duplication wait) */
	double slot_wait_ms; /* time queued for an analysis slot; < 0 when it did not queue */
	double analysis_ms;  /* ANALYSED / ANALYSIS_FAILED: time holding the analysis slot */
	ss_error aside;      /* a problem that did not change the answer (telling waiters the outcome); SS_OK: none */
} ss_song_outcome;

/* Receives the song's stored row (strings valid during the call) and whether it came from the cache (true)
 * or was analysed by this request. Returns 0, or non-zero when it could not use the row (out of memory). */
typedef int (*ss_song_row_fn)(void *arg, const ss_cache_row *row, bool cached);

/* Run the flow for j. On success calls fn once with the stored row and returns 0. Otherwise returns -1 with
 * err (err->code picks the API answer: busy, timeout, download_failed, unprocessable_audio, unavailable, ...;
 * SS_ERR_NOMEM when fn failed). *o is filled either way (a result of ANALYSED with -1 means the song was
 * analysed and stored but could not be handed back). */
int ss_song_run(const ss_song_env *env, const ss_song_job *j, ss_song_row_fn fn, void *arg, ss_song_outcome *o,
		ss_error *err);

/* Count o in the service counters: hits, misses and analyses, busy refusals, failures, de-duplication waits,
 * and the time of the last hit or miss. NULL stats is a no-op. */
void ss_song_record(struct ss_stats *stats, const ss_song_outcome *o);

#endif
