/* Writes the fuzz seed corpus into a directory: short clips in every container we decode. */
#include <stdio.h>
#include <stdlib.h>

#include <sndfile.h>

#include "tests/fixtures/synth.h"

/* b and *len come from one generator call (pass &n, not n: argument evaluation order is unspecified). */
static int put(const char *dir, const char *name, unsigned char *b, const size_t *lenp)
{
	size_t len = *lenp;
	if (b == NULL)
		return 0; /* this libsndfile/FFmpeg cannot write it: no seed */
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(b, 1, len, f) == len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	free(b);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds DIR\n");
		return 2;
	}
	const char *d = argv[1];
	size_t n = 0;
	int rc = 0;
	rc |= put(d, "music.wav", synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 3.5, synth_music, &n), &n);
	rc |= put(d, "music-float.wav", synth_file(SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 2, 3.2, synth_music, &n), &n);
	rc |= put(d, "music.aiff", synth_file(SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 11025, 1, 3.2, synth_music, &n), &n);
	rc |= put(d, "music.flac", synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 2, 3.5, synth_music, &n), &n);
	rc |= put(d, "music.ogg", synth_file(SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 2, 3.5, synth_music, &n), &n);
	rc |= put(d, "music.opus", synth_file(SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1, 3.5, synth_music, &n), &n);
	rc |= put(d, "music.mp3", synth_file(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 22050, 1, 3.5, synth_music, &n), &n);
	rc |= put(d, "tone.wav", synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, 3.1, synth_sine440, &n), &n);
	rc |= put(d, "silence.flac", synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1, 3.2, synth_silence, &n), &n);
	rc |= put(d, "music.m4a", synth_m4a(22050, 2, 3.5, synth_music, &n), &n);
	return rc ? 1 : 0;
}
