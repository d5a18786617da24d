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

/* Append {"beats":[...],"downbeats":[...],"segments":[...],"sections":[...]} to b: what the cache stores to
 * answer ?beats=1 and the audio-analysis object later. Beats and downbeats in seconds, 3 decimals (the numbers
 * ss_result_to_json gives); each segment an array [start, duration, confidence, loudness_start,
 * loudness_max_time, loudness_max, loudness_end, [12 pitches], [12 timbre]] (segments.h), each section
 * [start, duration, confidence, loudness, key, mode, key_confidence, time_signature, time_signature_confidence,
 * tempo_confidence, tempo (0: the track's), mode_confidence] (sections.h): times and confidences to 3
 * decimals, key and mode whole (-1 without a key), each duration
 * reaching the next start; pitches to 2 decimals, levels and timbre to 1. The segments and then the sections
 * end the object, so a reader can cut both off at SS_RESULT_SEGMENTS_MEMBER. Returns 0 or -1 on ENOMEM. */
#define SS_RESULT_SEGMENTS_MEMBER ",\"segments\":"
int ss_result_beats_text(const ss_result *r, ss_buf *b);

#endif
