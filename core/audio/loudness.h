/* EBU R 128 loudness (ITU-R BS.1770 K-weighting and gating) of a mono signal on libebur128. */
#ifndef SS_AUDIO_LOUDNESS_H
#define SS_AUDIO_LOUDNESS_H

#include <stddef.h>

#include "core/util/error.h"

/* The meter is fed in chunks of this many samples (the last one may be shorter): a signal fed in these chunks,
 * at once or as it is produced, gives the same numbers to the bit. */
#define SS_LOUDNESS_CHUNK ((size_t)65536)

/* Integrated loudness (LUFS) and loudness range (EBU Tech 3342, LU) of n mono samples at rate Hz.
 * Either is NaN when nothing passes the absolute gate (-70 LUFS), e.g. silence or less than 400 ms.
 * Memory is constant (histogram mode). Returns 0, or -1 with err (SS_ERR_NOMEM). */
int ss_loudness_measure(const float *x, size_t n, double rate, double *integrated, double *range, ss_error *err);

/* The same measurement fed as the samples arrive (ss_loudness_measure is new, add per SS_LOUDNESS_CHUNK,
 * finish, free). new returns NULL when memory runs out. */
typedef struct ss_loudness_meter ss_loudness_meter;
ss_loudness_meter *ss_loudness_meter_new(double rate);

/* Add n (at most SS_LOUDNESS_CHUNK) samples; x is not kept. A refusal by the meter is reported by finish. */
void ss_loudness_meter_add(ss_loudness_meter *m, const float *x, size_t n);

/* The results as ss_loudness_measure gives them; -1 with err (SS_ERR_INTERNAL) when a chunk was refused. */
int ss_loudness_meter_finish(ss_loudness_meter *m, double *integrated, double *range, ss_error *err);

/* NULL-safe. */
void ss_loudness_meter_free(ss_loudness_meter *m);

#endif
