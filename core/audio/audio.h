/* Decoded audio ready for analysis: mono float samples at one analysis rate, plus facts about the source. */
#ifndef SS_AUDIO_AUDIO_H
#define SS_AUDIO_AUDIO_H

#include <stddef.h>

/* Limits every decoder enforces before allocating anything for a stream. */
#define SS_AUDIO_MIN_RATE 8000.0
#define SS_AUDIO_MAX_RATE 192000.0
#define SS_AUDIO_MAX_CHANNELS 32

typedef struct ss_audio {
	float *x;              /* mono samples in [-16, 16] (finite), owned */
	size_t n;              /* number of samples in x */
	double sr;             /* rate of x, Hz */
	double src_rate;       /* sample rate of the source stream, Hz */
	int src_channels;      /* channel count of the source stream */
	const char *container; /* static name of the container/codec, e.g. "wav", "ogg/vorbis", "m4a/aac" */
	double loudness;       /* integrated loudness of the decoded part (source channels), LUFS; NaN when gated out */
	double loudness_range; /* loudness range (EBU Tech 3342), LU; NaN when unknown */
	int truncated;         /* 1 when the source held more than max_seconds of audio */
} ss_audio;

/* Options for decoding. */
typedef struct ss_audio_opts {
	double max_seconds; /* decode at most this many seconds of the source (> 0) */
	double out_rate;    /* analysis rate, Hz (8000..192000) */
	int threads;        /* above 1: a decoder that supports it reads ahead on its own thread, joined before it
			     * returns; the samples and every result are the same as with 1 (0 counts as 1) */
} ss_audio_opts;

/* Set *a to empty (NULL samples, NaN loudness). */
void ss_audio_init(ss_audio *a);

/* Free the samples and re-initialise. NULL-safe. */
void ss_audio_free(ss_audio *a);

#endif
