/* The analysis result: every number the API returns for one song (API.md "The result object").
 * Doubles that could not be computed are NaN and are encoded as JSON null; the engine never emits Inf. */
#ifndef SS_ANALYSIS_RESULT_H
#define SS_ANALYSIS_RESULT_H

#include <stddef.h>

#define SS_KEY_CANDIDATES 3

typedef struct ss_key_candidate {
	int key_index; /* 0..11, C = 0 */
	int mode;      /* 1 major, 0 minor */
	double score;  /* profile correlation, higher is better */
} ss_key_candidate;

typedef struct ss_result {
	/* tempo */
	double bpm;            /* beats per minute; > 0 on success */
	double bpm_confidence; /* 0..1 */
	double *beats;         /* beat times in seconds, owned (free with ss_result_free) */
	size_t n_beats;
	int beats_per_bar;     /* time signature numerator: 3 or 4 (denominator 4) */

	/* key */
	int key_index;         /* 0..11, C = 0 */
	int mode;              /* 1 major, 0 minor */
	double key_confidence; /* 0..1: margin between best and second-best key */
	const char *key_profile; /* static name of the key profile used */
	ss_key_candidate key_candidates[SS_KEY_CANDIDATES];
	double tuning_cents;   /* estimated deviation from A440, cents */
	double tonal_strength; /* 0..1 */

	/* descriptors */
	double energy, danceability, acousticness; /* 0..1 */
	double valence;                           /* 0..1 */
	const char *mood;                         /* static string */
	double spectral_centroid;                 /* Hz, mean */
	double loudness;                          /* integrated loudness, LUFS */
	double dynamic_range;                     /* loudness range, LU */
	double silence_ratio;                     /* 0..1 */
	double zero_crossing_rate;                /* crossings per sample, mean */
	double spectral_flux;                     /* mean */
	double percussive_energy_ratio;           /* 0..1 */
	double harmonic_energy_ratio;             /* 0..1 */
	double signal_duration;                   /* seconds of audio analysed */
	double analysis_duration;                 /* seconds of wall time (decode + analysis) */
} ss_result;

/* Set every field to its "unknown" value (NaN, zero counts, NULL pointers). */
void ss_result_init(ss_result *r);

/* Free what r owns (beats) and re-initialise it. Safe on an initialised or zeroed result. */
void ss_result_free(ss_result *r);

/* "C# Minor" style name for a key index and mode, into out (at least 16 bytes). Returns out. */
char *ss_key_name(int key_index, int mode, char *out, size_t outlen);

/* Parse "C# Minor" / "Db major" / "a minor" into key_index and mode. Returns 0 or -1. */
int ss_key_parse(const char *s, int *key_index, int *mode);

#endif
