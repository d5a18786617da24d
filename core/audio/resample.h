/* Streaming mono sample-rate conversion on libsoxr (single-threaded, deterministic). */
#ifndef SS_AUDIO_RESAMPLE_H
#define SS_AUDIO_RESAMPLE_H

#include <stddef.h>

#include "core/util/error.h"

typedef struct ss_resampler ss_resampler;

/* Create a converter from in_rate to out_rate (Hz, both > 0). Equal rates give a pass-through copy.
 * Returns NULL with err (SS_ERR_NOMEM or SS_ERR_INTERNAL) on failure. Free with ss_resampler_free. */
ss_resampler *ss_resampler_new(double in_rate, double out_rate, ss_error *err);

/* Convert n input samples (in may be NULL with n == 0 to flush the filter tail at the end) and write at most
 * out_cap output samples to out. *written receives how many were written. Input the converter could not take
 * because out_cap was reached is dropped: size out_cap with ss_resampler_out_bound. Returns 0 or -1 with err. */
int ss_resampler_process(ss_resampler *r, const float *in, size_t n, float *out, size_t out_cap,
			 size_t *written, ss_error *err);

/* An upper bound on the output one call with n input samples (or a flush) can produce. */
size_t ss_resampler_out_bound(const ss_resampler *r, size_t n);

/* NULL-safe. */
void ss_resampler_free(ss_resampler *r);

#endif
