/* JSON encoding of an analysis result: one encoder for the API and songscope-analyze. */
#ifndef SS_ANALYSIS_RESULT_JSON_H
#define SS_ANALYSIS_RESULT_JSON_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/analysis/result.h"

/* Add the analysis fields of API.md's result object to obj (bpm ... signal_duration, key_details,
 * analysis_duration; beats only when with_beats). NaN becomes null. Returns 0 or -1 on ENOMEM. */
int ss_result_to_json(const ss_result *r, bool with_beats, json_object *obj);

#endif
