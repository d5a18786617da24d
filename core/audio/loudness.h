/* EBU R 128 loudness of the source channels (ITU-R BS.1770 K-weighting and gating) on libebur128. */
#ifndef SS_AUDIO_LOUDNESS_H
#define SS_AUDIO_LOUDNESS_H

#include <stddef.h>

#include "core/util/error.h"

typedef struct ss_loudness_meter ss_loudness_meter;

/* A meter for interleaved float frames of `channels` channels at `rate` Hz. Channels 0..4 are weighted as
 * L, R, C, (LFE, ignored), Ls, Rs (the usual 5.1 order); further channels are ignored; a mono source counts as
 * one channel (not dual mono). Histogram mode keeps memory constant whatever the duration.
 * Returns NULL with err (SS_ERR_NOMEM) on failure. */
ss_loudness_meter *ss_loudness_meter_new(int channels, double rate, ss_error *err);

/* Feed `frames` interleaved frames. Returns 0 or -1 with err. */
int ss_loudness_meter_add(ss_loudness_meter *m, const float *interleaved, size_t frames, ss_error *err);

/* Integrated loudness (LUFS) and loudness range (LU) of everything fed. NaN when nothing passed the absolute
 * gate (-70 LUFS), e.g. for silence or less than 400 ms of audio. */
void ss_loudness_meter_result(ss_loudness_meter *m, double *integrated, double *range);

/* NULL-safe. */
void ss_loudness_meter_free(ss_loudness_meter *m);

#endif
