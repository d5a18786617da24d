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
	r->key_confidence = r->tuning_cents = r->tonal_strength = NAN;
	for (int i = 0; i < SS_KEY_CANDIDATES; i++) {
		r->key_candidates[i].key_index = -1;
		r->key_candidates[i].mode = -1;
		r->key_candidates[i].score = NAN;
	}
	r->energy = r->danceability = r->acousticness = r->valence = NAN;
	r->spectral_centroid = r->loudness = r->dynamic_range = r->silence_ratio = NAN;
	r->zero_crossing_rate = r->spectral_flux = NAN;
	r->percussive_energy_ratio = r->harmonic_energy_ratio = NAN;
	r->signal_duration = r->analysis_duration = NAN;
}

void ss_result_free(ss_result *r)
{
	free(r->beats);
	ss_result_init(r);
}

char *ss_key_name(int key_index, int mode, char *out, size_t outlen)
{
	if (key_index < 0 || key_index > 11 || (mode != 0 && mode != 1))
		snprintf(out, outlen, "Unknown");
	else
		snprintf(out, outlen, "%s %s", pitch_names[key_index], mode ? "Major" : "Minor");
	return out;
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
