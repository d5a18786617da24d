/* JSON encoding of an analysis result: one encoder for the API and songscope-analyze. */
#ifndef SS_ANALYSIS_RESULT_JSON_H
#define SS_ANALYSIS_RESULT_JSON_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/analysis/result.h"
#include "core/util/buf.h"

/* Add the analysis fields of API.md's result object to obj (bpm ... signal_duration, speechiness, instrumentalness, liveness, bpm_candidates,
 * key_details, analysis_duration; beats and downbeats only when with_beats). NaN becomes null. Returns 0 or -1
 * on ENOMEM. */
int ss_result_to_json(const ss_result *r, bool with_beats, json_object *obj);

/* Append {"beats":[...],"downbeats":[...]} (seconds, 3 decimals, the same numbers ss_result_to_json gives) to
 * b: what the cache stores to answer ?beats=1 later. Returns 0 or -1 on ENOMEM. */
int ss_result_beats_text(const ss_result *r, ss_buf *b);

#endif
