/* Sections: the clip divided where its harmony, timbre or level changes for good (a verse giving way to a
 * chorus, a breakdown), the shape of Spotify's audio-analysis "sections" (API.md "Sections"). Read from the frame
 * measurements of the descriptor STFT (frames.h). */
#ifndef SS_ANALYSIS_SECTIONS_H
#define SS_ANALYSIS_SECTIONS_H

#include <stddef.h>

#include "core/analysis/frames.h"
#include "core/util/error.h"

typedef struct ss_section {
	double start;      /* s from the start of the clip */
	double duration;   /* s, > 0; sections tile the clip */
	double confidence; /* 0..1: how clear the change that starts it is (1 for the first) */
	double loudness;   /* dBFS: the mean power of its frames, SS_FRAME_FLOOR_DB..0 */
	int key;           /* 0..11 (C = 0), -1 when none: the key of the section's own audio (ss_key_of_span), */
	int mode;          /* ... 1 major, 0 minor, -1 when none, */
	double key_confidence; /* ... 0..1; ss_sections_compute leaves -1, -1, 0: the pipeline fills them */
	double mode_confidence; /* 0..1 (ss_key's mode_confidence); ss_sections_compute leaves 0: the pipeline fills it */
	int time_signature; /* beats per bar of the section's metre as notated: 3 (3/4), 4, 5, 6 (6/8) or 7 */
	double time_signature_confidence; /* ... 0..1 (ss_tempo_meter_of_span); ss_sections_compute leaves 4, 0: the
					   * pipeline fills them */
	double tempo;            /* BPM: the section's own tempo where it is not the track's (ss_tempo_of_span), else 0 */
	double tempo_confidence; /* 0..1: how clearly the section's onsets pulse at that tempo, or at the track's
				  * (ss_tempo_of_span); ss_sections_compute leaves 0, 0: the pipeline fills them */
} ss_section;

/* The sections of the frames f (ss_frames_compute) of a signal of duration seconds. The frames are pooled into
 * blocks of about 0.5 s (chroma, spectral shape and level each, standardised over the clip); a boundary is where
 * the 6 s on either side are least like each other: each block there is compared with its best match among the
 * 12 s on the other side, a repetition-aware form of the novelty of Foote (2000, "Automatic audio segmentation
 * using a measure of audio novelty"), whose peaks are taken when they are the highest within 6 s and clear a
 * fixed threshold. Sections last 6 s or more (the last one may be up to a block shorter); steady music, a
 * repeating loop included, is one section. Returns 0 with *out (*n entries, n >= 1, owned by the caller:
 * free()) or -1 with err (SS_ERR_NOMEM; SS_ERR_INTERNAL for f without frames or a duration that is not
 * positive), *out NULL and *n 0. Deterministic. */
int ss_sections_compute(const ss_frames *f, double duration, ss_section **out, size_t *n, ss_error *err);

#endif
