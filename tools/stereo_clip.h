/* songscope-bench --stereo: a clip re-encoded, in memory, as 44.1 kHz stereo in its own container, so the
 * analysis budget (stated for 44.1 kHz stereo) can be measured from mono development clips. */
#ifndef SS_TOOLS_STEREO_CLIP_H
#define SS_TOOLS_STEREO_CLIP_H

#include <stddef.h>

/* Decode data (len bytes, any format songscope reads), take the first max_seconds at 44.1 kHz, make a second
 * channel that differs from the first (a 0.14 ms delayed, slightly quieter copy mixed in) and encode both with
 * libsndfile in the same container: WAV and AIFF as 16-bit PCM, FLAC, Ogg Vorbis, Ogg Opus (at 48 kHz, the
 * rates Opus allows) or MP3. Returns the encoded bytes (free() them) and their length in *out_len, or NULL
 * with a static reason in *why (no libsndfile encoder for the container, e.g. AAC; decode or encode failure). */
unsigned char *tool_stereo_clip(const unsigned char *data, size_t len, double max_seconds, size_t *out_len,
				const char **why);

#endif
