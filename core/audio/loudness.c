#include "core/audio/loudness.h"

#include <math.h>
#include <stdlib.h>

#include <ebur128.h>

struct ss_loudness_meter {
	ebur128_state *st;
};

ss_loudness_meter *ss_loudness_meter_new(int channels, double rate, ss_error *err)
{
	ss_loudness_meter *m = calloc(1, sizeof *m);
	if (m == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for loudness meter");
		return NULL;
	}
	m->st = ebur128_init((unsigned)channels, (unsigned long)rate,
			     EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_HISTOGRAM);
	if (m->st == NULL) {
		free(m);
		ss_error_set(err, SS_ERR_NOMEM, "cannot create loudness meter");
		return NULL;
	}
	return m;
}

int ss_loudness_meter_add(ss_loudness_meter *m, const float *interleaved, size_t frames, ss_error *err)
{
	if (frames > 0 && ebur128_add_frames_float(m->st, interleaved, frames) != EBUR128_SUCCESS)
		return ss_error_set(err, SS_ERR_INTERNAL, "loudness meter failed");
	return 0;
}

void ss_loudness_meter_result(ss_loudness_meter *m, double *integrated, double *range)
{
	double i = NAN, r = NAN;
	if (ebur128_loudness_global(m->st, &i) != EBUR128_SUCCESS || !isfinite(i))
		i = NAN;
	if (isnan(i) || ebur128_loudness_range(m->st, &r) != EBUR128_SUCCESS || !isfinite(r))
		r = NAN;
	*integrated = i;
	*range = r;
}

void ss_loudness_meter_free(ss_loudness_meter *m)
{
	if (m == NULL)
		return;
	ebur128_destroy(&m->st);
	free(m);
}
