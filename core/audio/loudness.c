#include "core/audio/loudness.h"

#include <math.h>

#include <ebur128.h>

int ss_loudness_measure(const float *x, size_t n, double rate, double *integrated, double *range, ss_error *err)
{
	*integrated = *range = NAN;
	ebur128_state *st = ebur128_init(1, (unsigned long)rate, EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_HISTOGRAM);
	if (st == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "cannot create loudness meter");
	const size_t block = 65536;
	for (size_t i = 0; i < n; i += block) {
		size_t m = n - i < block ? n - i : block;
		if (ebur128_add_frames_float(st, x + i, m) != EBUR128_SUCCESS) {
			ebur128_destroy(&st);
			return ss_error_set(err, SS_ERR_INTERNAL, "loudness meter failed");
		}
	}
	double li = NAN, lr = NAN;
	if (ebur128_loudness_global(st, &li) != EBUR128_SUCCESS || !isfinite(li))
		li = NAN;
	if (isnan(li) || ebur128_loudness_range(st, &lr) != EBUR128_SUCCESS || !isfinite(lr))
		lr = NAN;
	ebur128_destroy(&st);
	*integrated = li;
	*range = lr;
	return 0;
}
