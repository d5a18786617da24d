/* Decode an encoded audio file held in memory into analysis-ready mono audio (see audio.h).
 * Containers are recognised from their first bytes (never from a name or a MIME type): WAV/RF64, AIFF,
 * FLAC, Ogg (Vorbis, Opus), MP3 through libsndfile; MP4/M4A and ADTS AAC through FFmpeg when built in. */
#ifndef SS_AUDIO_DECODE_H
#define SS_AUDIO_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/audio/audio.h"
#include "core/util/error.h"

/* Decode data[0..len) (not copied, not kept). On success fills *out (initialised by the caller; free with
 * ss_audio_free) and returns 0. On failure returns -1 with err->code SS_ERR_UNSUPPORTED_MEDIA (unknown or
 * not compiled-in format, unsupported channel count or rate), SS_ERR_UNPROCESSABLE (recognised but corrupt,
 * truncated or without audio), SS_ERR_NOMEM or SS_ERR_INTERNAL. */
int ss_audio_decode(const void *data, size_t len, const ss_audio_opts *o, ss_audio *out, ss_error *err);

/* The container family recognised from the first bytes: what ss_audio_decode would try. */
typedef enum ss_audio_kind {
	SS_AUDIO_KIND_UNKNOWN = 0,
	SS_AUDIO_KIND_SNDFILE, /* RIFF/RF64 WAVE, FORM AIFF/AIFC, fLaC, OggS, ID3 or an MPEG audio frame */
	SS_AUDIO_KIND_MP4,     /* ISO base media (ftyp box): M4A/MP4 */
	SS_AUDIO_KIND_ADTS     /* raw AAC in ADTS frames */
} ss_audio_kind;

/* Recognise the container from at most the first 12 bytes. */
ss_audio_kind ss_audio_sniff(const void *data, size_t len);

/* Static description of the decoders compiled in. */
const char *ss_audio_decoders(void);

/* FFmpeg is not linked: it is loaded (dlopen) the first time an MP4/ADTS file is decoded, or by this call.
 * A forking server calls it before fork so its children share the pages. Returns 0 when loaded, 1 when this
 * build has no FFmpeg (nothing to load), -1 with err SS_ERR_UNSUPPORTED_MEDIA when the libraries cannot be
 * loaded (then every AAC/M4A file fails the same way for the life of the process and of children forked
 * after; ss_audio_ffmpeg_load_error says why). Thread-safe. */
int ss_audio_ffmpeg_preload(ss_error *err);

/* Whether FFmpeg has been loaded in this process (false in a build without it). */
bool ss_audio_ffmpeg_loaded(void);

/* Why loading failed (the loader's message, naming the library), a static string; "" if it has not failed. */
const char *ss_audio_ffmpeg_load_error(void);

/* fn(reason) is called once per process, on the first failed load, so a service can log it once (library
 * code never prints). Set before the first load; NULL removes it. A no-op in a build without FFmpeg. */
void ss_audio_ffmpeg_on_load_failure(void (*fn)(const char *reason));

/* The decoders themselves (same contract as ss_audio_decode); the FFmpeg one exists only with SS_HAVE_FFMPEG. */
int ss_audio_decode_sndfile(const void *data, size_t len, const ss_audio_opts *o, ss_audio *out, ss_error *err);
int ss_audio_decode_ffmpeg(const void *data, size_t len, const ss_audio_opts *o, ss_audio *out, ss_error *err);

#endif
