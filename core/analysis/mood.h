/* The perceptual 0..1 scores of the result (energy, danceability, acousticness, valence) and the mood word,
 * as documented formulas over measured descriptors. No training data: each term is a published correlate
 * mapped linearly between two anchor values and clamped (unit()), weights sum to 1. */
#ifndef SS_ANALYSIS_MOOD_H
#define SS_ANALYSIS_MOOD_H

typedef struct ss_mood_inputs {
	double loudness;        /* integrated LUFS */
	double loudness_range;  /* LU */
	double centroid;        /* Hz */
	double flatness;        /* 0..1 */
	double percussive;      /* percussive energy ratio 0..1 */
	double harmonic;        /* harmonic energy ratio 0..1 */
	double silence_ratio;   /* 0..1 */
	double onset_density;   /* onsets per second */
	double bpm;             /* NaN when no pulse */
	double pulse_clarity;   /* 0..1 */
	double beat_regularity; /* 0..1 */
	int mode;               /* 1 major, 0 minor, -1 unknown */
	double key_confidence;  /* 0..1 */
} ss_mood_inputs;

/* Energy, intensity and activity:
 *   0.40 unit(loudness, -30, -6 LUFS) + 0.20 unit(onset_density, 0.5, 6 /s) + 0.15 unit(centroid, 800, 3500 Hz)
 *   + 0.10 unit(flatness, 0.02, 0.35) + 0.15 unit(percussive, 0.2, 0.6), times (1 - silence_ratio). */
double ss_mood_energy(const ss_mood_inputs *in);

/* Danceability, a steady, clear pulse at a dance tempo:
 *   0.30 T + 0.35 pulse_clarity + 0.20 beat_regularity + 0.15 unit(percussive, 0.2, 0.6), times
 *   (1 - silence_ratio), with the tempo prior T = exp(-0.5 (log2(bpm / 118) / 0.5)^2) (half an octave wide,
 *   ~0.87 at 100 and 0.97 at 130 BPM; 0 without a pulse). */
double ss_mood_danceability(const ss_mood_inputs *in);

/* Acousticness, unamplified instruments in a natural mix:
 *   0.25 (1 - unit(centroid, 1000, 3500)) + 0.20 (1 - unit(flatness, 0.02, 0.30))
 *   + 0.15 (1 - unit(loudness, -24, -8)) + 0.20 unit(loudness_range, 3, 15) + 0.20 unit(harmonic, 0.4, 0.85). */
double ss_mood_acousticness(const ss_mood_inputs *in);

/* Valence, musical positiveness (the mode and tempo cues of Hevner / Gabrielsson & Lindstrom):
 *   0.5 + 0.15 m + 0.10 clamp((bpm - 110) / 50, -1, 1) + 0.30 (energy - 0.5) + 0.10 (unit(centroid, 800, 3500) - 0.5),
 *   m = +1 major, -1 minor, 0 unknown, scaled by min(1, 0.5 + 2 key_confidence); clamped to 0..1. */
double ss_mood_valence(const ss_mood_inputs *in, double energy);

/* Mood word from the valence x energy plane (Russell's circumplex): "neutral" within 0.08 of the centre on
 * both axes; otherwise energy >= 0.5: "energetic" (energy >= 0.75 and valence >= 0.5), "happy" (valence >=
 * 0.5) or "tense"; energy < 0.5: "calm" (valence >= 0.5) or "sad". Static ASCII string; "unknown" for NaN. */
const char *ss_mood_word(double valence, double energy);

#endif
