#include "core/analysis/result.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const pitch_names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};

void ss_result_init(ss_result *r)
{
	memset(r, 0, sizeof *r);
	r->bpm = r->bpm_confidence = NAN;
	r->beats_per_bar = 4;
	r->key_index = -1;
	r->mode = -1;
	r->key_confidence = r->mode_confidence = r->tuning_cents = r->tonal_strength = NAN;
	for (int i = 0; i < SS_KEY_CANDIDATES; i++) {
		r->key_candidates[i].key_index = -1;
		r->key_candidates[i].mode = -1;
		r->key_candidates[i].score = NAN;
	}
	r->energy = r->danceability = r->acousticness = r->valence = NAN;
	r->spectral_centroid = r->loudness = r->dynamic_range = r->silence_ratio = NAN;
	r->zero_crossing_rate = r->spectral_flux = NAN;
	r->percussive_energy_ratio = r->harmonic_energy_ratio = NAN;
	r->speechiness = r->instrumentalness = r->liveness = NAN;
	r->signal_duration = r->analysis_duration = NAN;
}

void ss_result_free(ss_result *r)
{
	free(r->beats);
	free(r->downbeats);
	free(r->segments);
	free(r->sections);
	ss_result_init(r);
}

const char *ss_result_time_signature(const ss_result *r, char *buf, size_t len)
{
	if (!isfinite(r->bpm))
		return NULL;
	if (r->time_signature != NULL)
		return r->time_signature;
	if (r->beats_per_bar < 2 || r->beats_per_bar > 16)
		return NULL;
	snprintf(buf, len, "%d/4", r->beats_per_bar);
	return buf;
}

char *ss_key_name(int key_index, int mode, char *out, size_t outlen)
{
	if (key_index < 0 || key_index > 11 || (mode != 0 && mode != 1))
		snprintf(out, outlen, "Unknown");
	else
		snprintf(out, outlen, "%s %s", pitch_names[key_index], mode ? "Major" : "Minor");
	return out;
}

/* Both wheels put the major keys on a circle of fifths and each minor key beside its relative major. Camelot
 * (Mark Davis, Mixed In Key): C major 8B, G major 9B, ... F major 7B; minor keys are "A" (A minor 8A). Open Key
 * (Beatunes / Traktor): C major 1d, G major 2d, ... F major 12d; minor keys "m" (A minor 1m). Indexed by the
 * pitch class of the key's tonic (C = 0). */
static const char *const camelot_major[12] = {"8B", "3B", "10B", "5B", "12B", "7B", "2B", "9B", "4B", "11B", "6B", "1B"};
static const char *const camelot_minor[12] = {"5A", "12A", "7A", "2A", "9A", "4A", "11A", "6A", "1A", "8A", "3A", "10A"};
static const char *const open_major[12] = {"1d", "8d", "3d", "10d", "5d", "12d", "7d", "2d", "9d", "4d", "11d", "6d"};
static const char *const open_minor[12] = {"10m", "5m", "12m", "7m", "2m", "9m", "4m", "11m", "6m", "1m", "8m", "3m"};

const char *ss_key_camelot(int key_index, int mode)
{
	if (key_index < 0 || key_index > 11 || (mode != 0 && mode != 1))
		return NULL;
	return mode ? camelot_major[key_index] : camelot_minor[key_index];
}

const char *ss_key_open_key(int key_index, int mode)
{
	if (key_index < 0 || key_index > 11 || (mode != 0 && mode != 1))
		return NULL;
	return mode ? open_major[key_index] : open_minor[key_index];
}

int ss_key_parse(const char *s, int *key_index, int *mode)
{
	static const int letter_pc[7] = {9, 11, 0, 2, 4, 5, 7}; /* A B C D E F G */
	if (s == NULL)
		return -1;
	while (*s == ' ')
		s++;
	char l = (char)toupper((unsigned char)*s);
	if (l < 'A' || l > 'G')
		return -1;
	int pc = letter_pc[l - 'A'];
	s++;
	if (*s == '#') {
		pc++;
		s++;
	} else if (*s == 'b') {
		pc--;
		s++;
	}
	pc = (pc + 12) % 12;
	while (*s == ' ')
		s++;
	int m;
	if (strncasecmp(s, "major", 5) == 0) {
		m = 1;
		s += 5;
	} else if (strncasecmp(s, "minor", 5) == 0) {
		m = 0;
		s += 5;
	} else {
		return -1;
	}
	while (*s == ' ')
		s++;
	if (*s != '\0')
		return -1;
	*key_index = pc;
	*mode = m;
	return 0;
}
