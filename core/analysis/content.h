/* What a clip holds besides the music itself: a speaking voice, a singing voice, an audience. Three scores on
 * 0..1 with Spotify's documented thresholds (speechiness > 0.66 spoken word, 0.33..0.66 speech over music,
 * < 0.33 music; instrumentalness > 0.5 no vocals; liveness > 0.8 live), each a logistic function of a few
 * frame features that the three share, read from the pipeline's magnitude spectrogram (46 ms frames). */
#ifndef SS_ANALYSIS_CONTENT_H
#define SS_ANALYSIS_CONTENT_H

#include <stddef.h>

#include "core/analysis/stft.h"
#include "core/util/error.h"

#define SS_CONTENT_N_FEATURES 15 /* the doubles of ss_content_features */

typedef struct ss_content_features {
	/* speech/music, after Scheirer & Slaney 1997 */
	double low_energy;  /* 0..1: share of frames with RMS below half the mean RMS of the surrounding 1 s */
	double mod4;        /* 0..1: share of the 300-3400 Hz envelope's modulation power (1-10 Hz) in 3-6 Hz */
	double flux_sd;     /* dB: standard deviation over frames of the band-level change between frames */
	double centroid_sd; /* octaves: standard deviation of log2 spectral centroid over sounding frames */
	/* voiced-pitch continuity of harmonic partials (singing and speaking voices glide, instruments hold) */
	double stay;        /* 0..1: share of spectral peaks (200-4000 Hz) found in the same bin in the next frame */
	double glide;       /* 0..1: share of continued peaks that moved 1-2 bins (vibrato, pitch glides) */
	double wobble;      /* 0..1: share of those moves that go back against the peak's previous move: a held
			     * partial between two bins flips back and forth, a voice's glide goes on (on the
			     * labelled set instruments score higher than voices, vibrato included) */
	/* audience: broadband noise between notes (minimum statistics, Martin 2001) and noise bursts */
	double floor_db;    /* dB: 1-8 kHz noise floor (per-bin minimum over 1 s) over the mean level there */
	double floor_flat;  /* 0..1: spectral flatness of that floor (noise ~0.5, tonal decay ~0) */
	double burst;       /* 0..1: share of frames whose 2-8 kHz spectrum is flat (noise-like) and loud */
	/* a singing voice: vibrato on the partials, and lyrics (syllables) moving the formants */
	double vibrato;     /* 0..1: share of 0.37 s windows of partial tracks (200-4000 Hz, frequencies read between
			     * bins) whose detrended frequency swings 15-120 cents and crosses its mean 3 or more
			     * times (a 4-8 Hz periodic pitch modulation: a singer's vibrato) */
	double syllable;    /* dB: RMS of the 3-8 Hz modulation of the 300-3400 Hz spectral shape (band levels minus
			     * their mean): consonants and vowels changing at syllable rate move it, a held "ooh" or
			     * an instrument's note does not */
	double attack;      /* dB: mean level change of new partial tracks (200-4000 Hz) from their 2nd to their 4th
			     * frame (each clamped to +-20 dB): a struck or plucked note decays, a voice holds */
	/* the fluctogram (Lehner et al. 2014): how far each 600-cent band of the 600-4000 Hz spectrum moves in pitch
	 * from one frame to the next, found by cross-correlation within +-100 cents (a note change reads as a move
	 * of about 100): a voice's partials fluctuate, together; an instrument's hold */
	double fluct;       /* cents: mean over the bands of the standard deviation over frames of that move */
	double fluct_coh;   /* 0..1: the share of the moves' power that all bands share (their mean's power over
			     * the mean of their powers): one pitch moving every partial gives 1, independent
			     * moves 1 / bands */
} ss_content_features;

/* Compute the features from a magnitude spectrogram (ss_stft_magnitude, not power) of the clip, over the
 * frames flagged in active (n_frames bytes, NULL = all). Deterministic; allocates O(n_frames) scratch.
 * Returns 0, or -1 with err (SS_ERR_NOMEM, SS_ERR_INTERNAL for a power spectrogram). Fields that cannot be
 * computed (too few frames) are NaN. */
int ss_content_features_compute(const ss_spectrogram *s, const unsigned char *active, ss_content_features *out,
				ss_error *err);

/* The scores, 0..1, from the features (NaN features count as "no evidence"): speech content, absence of a
 * singing or speaking voice, presence of an audience. Never NaN. */
double ss_content_speechiness(const ss_content_features *f);
double ss_content_instrumentalness(const ss_content_features *f);
double ss_content_liveness(const ss_content_features *f);

#endif
