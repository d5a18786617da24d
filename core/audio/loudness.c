#include "core/audio/loudness.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include <ebur128.h>

struct ss_loudness_meter {
	ebur128_state *st;
	int failed; /* a chunk was refused: finish reports it */
};

ss_loudness_meter *ss_loudness_meter_new(double rate)
{
	ss_loudness_meter *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->st = ebur128_init(1, (unsigned long)rate, EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_HISTOGRAM);
	if (m->st == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void ss_loudness_meter_add(ss_loudness_meter *m, const float *x, size_t n)
{
	assert(n <= SS_LOUDNESS_CHUNK);
	if (!m->failed && ebur128_add_frames_float(m->st, x, n) != EBUR128_SUCCESS)
		m->failed = 1;
}

int ss_loudness_meter_finish(ss_loudness_meter *m, double *integrated, double *range, ss_error *err)
{
	*integrated = *range = NAN;
	if (m->failed)
		return ss_error_set(err, SS_ERR_INTERNAL, "loudness meter failed");
	double li = NAN, lr = NAN;
	if (ebur128_loudness_global(m->st, &li) != EBUR128_SUCCESS || !isfinite(li))
		li = NAN;
	if (isnan(li) || ebur128_loudness_range(m->st, &lr) != EBUR128_SUCCESS || !isfinite(lr))
		lr = NAN;
	*integrated = li;
	*range = lr;
	return 0;
}

void ss_loudness_meter_free(ss_loudness_meter *m)
{
	if (m == NULL)
		return;
	ebur128_destroy(&m->st);
	free(m);
}

int ss_loudness_measure(const float *x, size_t n, double rate, double *integrated, double *range, ss_error *err)
{
	*integrated = *range = NAN;
	ss_loudness_meter *m = ss_loudness_meter_new(rate);
	if (m == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "cannot create loudness meter");
	for (size_t i = 0; i < n; i += SS_LOUDNESS_CHUNK)
		ss_loudness_meter_add(m, x + i, n - i < SS_LOUDNESS_CHUNK ? n - i : SS_LOUDNESS_CHUNK);
	int rc = ss_loudness_meter_finish(m, integrated, range, err);
	ss_loudness_meter_free(m);
	return rc;
}
