/* libFuzzer target: arbitrary bytes through decoding and the whole analysis, then the JSON encoder.
 * Any crash, sanitizer report, leak, error code other than the three documented, non-finite number in the
 * JSON, score outside 0..1 or analysed duration outside [SS_ANALYSIS_MIN_SECONDS, max_seconds] is a finding.
 * The percussive and harmonic energy ratios may also be unknown (NaN, null in the JSON), as hpss.h documents for
 * audio whose HPSS frames hold no energy; when known they are in 0..1 and add up to 1.
 * The fuzz build lowers SS_ANALYSIS_MIN_SECONDS so that 2 s are analysed per run (tests/fuzz.mk). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a short cap keeps each run fast; every code path is the same as with 30 s */
	ss_analysis_opts o = {.max_seconds = SS_ANALYSIS_MIN_SECONDS < 2.0 ? 2.0 : SS_ANALYSIS_MIN_SECONDS};
	ss_result r;
	ss_error e;
	if (ss_analyze_buffer(data, size, &o, &r, &e) != 0) {
		if (e.code != SS_ERR_UNSUPPORTED_MEDIA && e.code != SS_ERR_UNPROCESSABLE && e.code != SS_ERR_TOO_LARGE)
			abort();
		return 0;
	}
	const double unit[] = {r.energy, r.danceability, r.acousticness, r.valence, r.silence_ratio};
	for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
		if (!(unit[i] >= 0.0 && unit[i] <= 1.0))
			abort();
	const double p = r.percussive_energy_ratio, h = r.harmonic_energy_ratio;
	if (isnan(p) != isnan(h) ||
	    (!isnan(p) && !(p >= 0.0 && p <= 1.0 && h >= 0.0 && h <= 1.0 && fabs(p + h - 1.0) <= 2e-4)))
		abort();
	if (isinf(r.bpm) || isinf(r.loudness) || isinf(r.spectral_centroid) ||
	    r.signal_duration < SS_ANALYSIS_MIN_SECONDS - 1e-9 || r.signal_duration > o.max_seconds + 0.1)
		abort();
	json_object *j = json_object_new_object();
	if (j == NULL || ss_result_to_json(&r, true, j) != 0)
		abort();
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	if (s == NULL || strstr(s, "nan") != NULL || strstr(s, "inf") != NULL)
		abort();
	json_object_put(j);
	ss_result_free(&r);
	return 0;
}
