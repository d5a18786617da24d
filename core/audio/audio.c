#include "core/audio/audio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ss_audio_init(ss_audio *a)
{
	memset(a, 0, sizeof *a);
	a->container = "unknown";
	a->loudness = NAN;
	a->loudness_range = NAN;
}

void ss_audio_free(ss_audio *a)
{
	if (a == NULL)
		return;
	free(a->x);
	ss_audio_init(a);
}
