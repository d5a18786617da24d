/* The analysis result: every number the API returns for one song (API.md "The result object").
 * Doubles that could not be computed are NaN and are encoded as JSON null; the engine never emits Inf. */
#ifndef SS_ANALYSIS_RESULT_H
#define SS_ANALYSIS_RESULT_H

#include <stddef.h>

#include "core/analysis/sections.h"
#include "core/analysis/segments.h"

#define SS_KEY_CANDIDATES 3
#define SS_BPM_CANDIDATES 3

/* One reading of the tempo (API.md "bpm_candidates"). */
typedef struct ss_bpm_candidate {
	double bpm;   /* beats per minute, > 0 */
	double score; /* 0..1: the tempo stage's prior-weighted periodicity evidence for this reading, relative to
		       * the best reading over its whole tempo range */
} ss_bpm_candidate;

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
	int beats_per_bar;     /* tracked beats per bar: 2 (6/8 read at the dotted quarter), 3, 4 or 6 (6/8 read
				* at the eighth note) */
	const char *time_signature; /* static "3/4", "4/4", "6/8" ...; NULL without a tempo */
	double time_signature_confidence; /* 0..1: how clearly the bar's length stands out; 0 without downbeats */
	double *downbeats;     /* bar starts in seconds, each one of beats[] (same value); owned */
	size_t n_downbeats;
	ss_segment *segments;   /* the clip cut at its onsets (segments.h), tiling it; owned */
	size_t n_segments;
	ss_section *sections;   /* the clip divided where it changes for good (sections.h), tiling it; owned */
	size_t n_sections;
	ss_bpm_candidate bpm_candidates[SS_BPM_CANDIDATES]; /* the chosen tempo first (bpm_candidates[0].bpm ==
							    * bpm), then its half/double (2/3, 3/2) readings */
	size_t n_bpm_candidates; /* 0 without a tempo */

	/* key */
	int key_index;         /* 0..11, C = 0 */
	int mode;              /* 1 major, 0 minor */
	double key_confidence; /* 0..1: margin between best and second-best key */
	double mode_confidence; /* 0..1: margin between the best key and the best of the other mode (ss_key) */
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
	double speechiness;      /* 0..1: spoken words; > 0.66 spoken word, 0.33..0.66 speech over music (content.h) */
	double instrumentalness; /* 0..1: absence of a voice; > 0.5 no vocals */
	double liveness;         /* 0..1: presence of an audience; > 0.8 live */
	double signal_duration;                   /* seconds of audio analysed */
	double analysis_duration;                 /* seconds of wall time (decode + analysis) */
} ss_result;

/* Set every field to its "unknown" value (NaN, zero counts, NULL pointers). */
void ss_result_init(ss_result *r);

/* Free what r owns (beats, downbeats, segments, sections) and re-initialise it. Safe on an initialised or zeroed result. */
void ss_result_free(ss_result *r);

/* "C# Minor" style name for a key index and mode, into out (at least 16 bytes). Returns out. */
char *ss_key_name(int key_index, int mode, char *out, size_t outlen);

/* The time signature string ("3/4", "4/4", "6/8" ...): r->time_signature, else "<beats_per_bar>/4" written
 * into buf (len >= 8), or NULL without a tempo. */
const char *ss_result_time_signature(const ss_result *r, char *buf, size_t len);

/* The key's position on the Camelot wheel ("8A" for A minor, "8B" for C major) and in Open Key notation
 * ("1m" for A minor, "1d" for C major): static strings, or NULL for an invalid key_index or mode. */
const char *ss_key_camelot(int key_index, int mode);
const char *ss_key_open_key(int key_index, int mode);

/* Parse "C# Minor" / "Db major" / "a minor" into key_index and mode. Returns 0 or -1. */
int ss_key_parse(const char *s, int *key_index, int *mode);

#endif
