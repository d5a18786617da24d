/* FFmpeg's libraries loaded at run time: no program links libavformat/libavcodec/libavutil (and, through
 * them, dozens of codec libraries), so a run that never meets an AAC/M4A file never maps them. The first
 * call of ss_ffmpeg_load dlopens the sonames that match the headers this was compiled with (e.g.
 * libavformat.so.59) and resolves the functions the decoder uses into one table. Exists only with
 * SS_HAVE_FFMPEG (the headers are still needed at build time for struct layouts and constants). */
#ifndef SS_AUDIO_FFMPEG_DL_H
#define SS_AUDIO_FFMPEG_DL_H

#include <stdbool.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "core/util/error.h"

/* Every FFmpeg function the decoder calls: X(library, name). Each table entry has the exact type the
 * headers declare (so a mismatch is a compile error, not a crash). */
#define SS_FFMPEG_FUNCTIONS(X)                                                                                   \
	X(avutil, avutil_version)                                                                                  \
	X(avutil, av_log_set_callback)                                                                             \
	X(avutil, av_max_alloc)                                                                                    \
	X(avutil, av_malloc)                                                                                       \
	X(avutil, av_free)                                                                                         \
	X(avutil, av_freep)                                                                                        \
	X(avutil, av_dict_set)                                                                                     \
	X(avutil, av_dict_free)                                                                                    \
	X(avutil, av_frame_alloc)                                                                                  \
	X(avutil, av_frame_free)                                                                                   \
	X(avutil, av_frame_unref)                                                                                  \
	X(avcodec, avcodec_version)                                                                                \
	X(avcodec, avcodec_find_decoder)                                                                           \
	X(avcodec, avcodec_alloc_context3)                                                                         \
	X(avcodec, avcodec_free_context)                                                                           \
	X(avcodec, avcodec_parameters_to_context)                                                                  \
	X(avcodec, avcodec_open2)                                                                                  \
	X(avcodec, avcodec_send_packet)                                                                            \
	X(avcodec, avcodec_receive_frame)                                                                          \
	X(avcodec, av_packet_alloc)                                                                                \
	X(avcodec, av_packet_free)                                                                                 \
	X(avcodec, av_packet_unref)                                                                                \
	X(avformat, avformat_version)                                                                              \
	X(avformat, avio_alloc_context)                                                                            \
	X(avformat, avio_context_free)                                                                             \
	X(avformat, avformat_alloc_context)                                                                        \
	X(avformat, avformat_open_input)                                                                           \
	X(avformat, avformat_close_input)                                                                          \
	X(avformat, av_read_frame)

typedef struct ss_ffmpeg {
#define SS_FFMPEG_FIELD(lib, name) __typeof__(&name) name;
	SS_FFMPEG_FUNCTIONS(SS_FFMPEG_FIELD)
#undef SS_FFMPEG_FIELD
} ss_ffmpeg;

/* The loaded table. Thread-safe; the first call in a process loads the libraries (and silences FFmpeg's
 * logger, caps its allocations), later calls return the same table, or fail again without retrying: a
 * failure is final for the process (and for children forked after it). Never unloaded. On failure returns
 * NULL with err SS_ERR_UNSUPPORTED_MEDIA ("AAC/M4A decoding is unavailable ..."); the reason (dlerror text)
 * is in ss_ffmpeg_load_error(). */
const ss_ffmpeg *ss_ffmpeg_load(ss_error *err);

/* Whether ss_ffmpeg_load has succeeded in this process. */
bool ss_ffmpeg_loaded(void);

/* After a failed load, what went wrong (e.g. "libavformat.so.59: cannot open shared object file ..."), a
 * static string; "" otherwise. */
const char *ss_ffmpeg_load_error(void);

/* Call fn(reason) once, on the first failed load of this process (from the thread that failed), so a
 * service can log it once. Set it before the first load; NULL removes it. */
void ss_ffmpeg_on_load_failure(void (*fn)(const char *reason));

/* The sonames loaded, "libavutil.so.57 libavcodec.so.59 libavformat.so.59" (static). */
const char *ss_ffmpeg_sonames(void);

#endif
