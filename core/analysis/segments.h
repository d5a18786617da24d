/* Segments: the clip cut at its note and drum onsets into short pieces of steady sound, each with its loudness
 * envelope, its pitch-class content and its timbre, the shape of Spotify's audio-analysis "segments" (API.md
 * "The audio-analysis object"). Read from the frame measurements of the descriptor STFT (frames.h). */
#ifndef SS_ANALYSIS_SEGMENTS_H
#define SS_ANALYSIS_SEGMENTS_H

#include <stddef.h>

#include "core/analysis/frames.h"
#include "core/util/error.h"

#define SS_SEGMENT_DIMS 12
/* Levels are floored here (dBFS): what Spotify's loudness calls silence. */
#define SS_SEGMENT_FLOOR_DB SS_FRAME_FLOOR_DB

typedef struct ss_segment {
	double start;             /* s from the start of the clip */
	double duration;          /* s, > 0; segments tile the clip: each starts where the previous one ends */
	double confidence;        /* 0..1: how clear the onset that starts it is (the first segment: its level) */
	double loudness_start;    /* dBFS of the segment's first frame, SS_SEGMENT_FLOOR_DB..0 */
	double loudness_max;      /* dBFS of its loudest frame */
	double loudness_max_time; /* s from start to the centre of that frame, 0..duration */
	double loudness_end;      /* dBFS of the frame after it (the next segment's loudness_start); its last
				   * frame's for the last segment */
	double pitches[SS_SEGMENT_DIMS]; /* pitch classes C..B, 0..1, the strongest 1; all 0 in silence */
	double timbre[SS_SEGMENT_DIMS];  /* [0]: mean level, dB above SS_SEGMENT_FLOOR_DB (0..60); [1..11]: the
					  * cosine coefficients of its 24 mel-band levels (dB), slope first */
} ss_segment;

/* The segments of the frames f (ss_frames_compute) of a signal of duration seconds. An onset is a frame whose mel-band levels rise, on average over the bands, more than those
 * around it (a local peak of the positive spectral difference above an adaptive threshold, after Bello et al.
 * 2005, "A tutorial on onset detection in music signals"); segments are at least two frames long. Returns 0 with
 * *out (*n entries, n >= 1, owned by the caller: free()) or -1 with err (SS_ERR_NOMEM; SS_ERR_INTERNAL for an
 * f without frames or a duration that is not positive), *out NULL and *n 0. Deterministic. */
int ss_segments_compute(const ss_frames *f, double duration, ss_segment **out, size_t *n, ss_error *err);

#endif
