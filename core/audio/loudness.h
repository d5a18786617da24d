/* EBU R 128 loudness (ITU-R BS.1770 K-weighting and gating) of a mono signal on libebur128. */
#ifndef SS_AUDIO_LOUDNESS_H
#define SS_AUDIO_LOUDNESS_H

#include <stddef.h>

#include "core/util/error.h"

/* Integrated loudness (LUFS) and loudness range (EBU Tech 3342, LU) of n mono samples at rate Hz.
 * Either is NaN when nothing passes the absolute gate (-70 LUFS), e.g. silence or less than 400 ms.
 * Memory is constant (histogram mode). Returns 0, or -1 with err (SS_ERR_NOMEM). */
int ss_loudness_measure(const float *x, size_t n, double rate, double *integrated, double *range, ss_error *err);

#endif
