/* The analysis pipeline: encoded audio bytes in, an ss_result out. Deterministic for the same bytes and options. */
#ifndef SS_ANALYSIS_PIPELINE_H
#define SS_ANALYSIS_PIPELINE_H

#include <stddef.h>

#include "core/analysis/result.h"
#include "core/util/error.h"

/* Shortest audio analysed, in seconds (shorter is SS_ERR_UNPROCESSABLE; max_seconds may not be below it). Only
 * the fuzz build changes it (to analyse 2 s per run instead of at least 3 s); products always use 3. */
#ifndef SS_ANALYSIS_MIN_SECONDS
#define SS_ANALYSIS_MIN_SECONDS 3.0
#endif

/* The rate (Hz) the audio is resampled to, mono, before every stage of the analysis. */
#define SS_ANALYSIS_RATE 22050.0

typedef struct ss_analysis_opts {
	double max_seconds; /* analyse at most the first max_seconds of audio (config max_analysis_seconds, 30) */
	int threads;        /* threads one analysis may use, 1 (the default; 0 counts as 1) or 2: with 2 the file is
			     * decoded on a second thread while the first downmixes and resamples, and the spectral
			     * descriptors run beside tempo and key; both threads are joined before the call returns
			     * and every result field but analysis_duration is bit-identical to 1. Not part of the
			     * options tag. Only for processes that fork no more after (songscope-analyze, benchmarks):
			     * the preforked responders keep 1 and never start a thread. */
} ss_analysis_opts;

/* Default options (max_seconds 30, threads 1). */
void ss_analysis_opts_default(ss_analysis_opts *o);

/* A short stable string naming the options that change results, e.g. "v9;max=30"; part of cache keys.
 * Writes into out (at least 64 bytes) and returns out. */
char *ss_analysis_opts_tag(const ss_analysis_opts *o, char *out, size_t outlen);

/* Decode and analyse `len` bytes of an encoded audio file held in memory (not copied, not kept).
 * On success fills *out (caller frees with ss_result_free) and returns 0. On failure returns -1 with
 * err->code SS_ERR_UNSUPPORTED_MEDIA (not a format we decode), SS_ERR_UNPROCESSABLE (decodable but nothing to
 * analyse: silence, shorter than SS_ANALYSIS_MIN_SECONDS, corrupt stream), SS_ERR_TOO_LARGE or SS_ERR_NOMEM; *out is left initialised. */
int ss_analyze_buffer(const void *data, size_t len, const ss_analysis_opts *o, ss_result *out, ss_error *err);

/* As ss_analyze_buffer for a file on disk. */
int ss_analyze_file(const char *path, const ss_analysis_opts *o, ss_result *out, ss_error *err);

/* Process-wide allocator policy for processes that analyse repeatedly (responders, benchmarks): freed
 * analysis buffers (a few MiB each, about 15 MiB in all for 30 s) stay mapped for the next analysis instead
 * of being returned to the kernel and faulted in again, which costs about 1 ms per analysis. Blocks over
 * 4 MiB (request bodies, long inputs) are still mapped and unmapped on their own, so a large upload does
 * not stay resident. Call once at startup, before other threads exist; glibc only (elsewhere a no-op). */
void ss_analysis_process_init(void);

/* Names of the decoders compiled in, e.g. "libsndfile (wav, aiff, flac, ogg, opus, mp3), ffmpeg (aac, m4a)". */
const char *ss_analysis_decoders(void);

#endif
