/* Where every decoder delivers its samples: validates the stream format, sanitises samples, measures loudness
 * on the source channels, downmixes to mono (the mean of the channels; the first channel when the channels
 * cancel out, judged on the first second), resamples to the analysis rate and stops at max_seconds.
 * Memory is bounded by the options, never by what a file header claims. */
#ifndef SS_AUDIO_SINK_H
#define SS_AUDIO_SINK_H

#include <stddef.h>

#include "core/audio/audio.h"
#include "core/util/error.h"

typedef struct ss_audio_sink ss_audio_sink;

/* Start a sink for a stream of `channels` channels at `rate` Hz. Fails with SS_ERR_UNSUPPORTED_MEDIA when
 * channels is outside 1..SS_AUDIO_MAX_CHANNELS or rate outside SS_AUDIO_MIN_RATE..SS_AUDIO_MAX_RATE, with
 * SS_ERR_NOMEM otherwise. Returns NULL on failure. */
ss_audio_sink *ss_audio_sink_new(int channels, double rate, const ss_audio_opts *o, ss_error *err);

/* Push `frames` interleaved frames (NaN/Inf become 0, magnitudes are clamped to 16). Returns 0 to ask for
 * more, 1 when max_seconds has been reached (the decoder should stop), -1 with err on failure. */
int ss_audio_sink_push(ss_audio_sink *s, const float *interleaved, size_t frames, ss_error *err);

/* Flush the resampler and move the result into *out (which must be initialised; the caller frees it with
 * ss_audio_free). `container` is a static name stored in out. Returns 0 or -1 with err. */
int ss_audio_sink_finish(ss_audio_sink *s, const char *container, ss_audio *out, ss_error *err);

/* NULL-safe. */
void ss_audio_sink_free(ss_audio_sink *s);

#endif
