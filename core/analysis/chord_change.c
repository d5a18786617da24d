/* Harmonic change at beats: a magnitude STFT of the work signal (0.37 s windows every 186 ms), the key's chroma
 * (chroma.c, default parameters, no tuning offset) of each frame, summed over the frames whose centres fall in
 * a beat interval, and the cosine distance between neighbouring intervals' sums. */
#include "core/analysis/chord_change.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/chroma.h"
#include "core/analysis/stft.h"

#define CC_WINDOW_SEC 0.3 /* window at least this long (2048 samples at 5512.5 Hz: 2.7 Hz bins) */
#define CC_HOP_DIV 2      /* hop = window / this */

int ss_chord_change_at_beats(const float *x, size_t n, double sr, const double *beats, size_t nb, double *dist,
			     ss_error *err)
{
	if (!(sr >= 4000.0) || !isfinite(sr))
		return ss_error_set(err, SS_ERR_INTERNAL, "bad sample rate for chord changes");
	if (nb < 3)
		return 0;
	assert(x != NULL && beats != NULL && dist != NULL);
	size_t n_fft = 16;
	while ((double)n_fft < CC_WINDOW_SEC * sr)
		n_fft *= 2;
	size_t hop = n_fft / CC_HOP_DIV;
	size_t ni = nb - 1;
	double *c = calloc(ni * 12, sizeof *c);
	if (c == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for chord changes");
	ss_spectrogram sg;
	if (ss_stft_magnitude(x, n, sr, n_fft, hop, &sg, err) != 0) {
		free(c);
		return -1;
	}
	ss_chroma_params cp;
	ss_chroma_params_default(&cp);
	ss_chroma_map map;
	if (ss_chroma_map_init(&map, sg.n_bins, sr / (double)n_fft, 0.0, &cp, err) != 0) {
		ss_spectrogram_free(&sg);
		free(c);
		return -1;
	}
	size_t i = 0;
	for (size_t t = 0; t < sg.n_frames; t++) {
		double at = (double)(t * hop) / sr;
		if (at < beats[0])
			continue;
		while (i < ni && at >= beats[i + 1])
			i++;
		if (i >= ni)
			break;
		double f[12] = {0};
		if (ss_chroma_add_frame(&map, sg.mag + t * sg.n_bins, f) > 0.0)
			for (int k = 0; k < 12; k++)
				c[i * 12 + k] += f[k];
	}
	ss_chroma_map_free(&map);
	ss_spectrogram_free(&sg);
	for (size_t j = 0; j + 1 < ni; j++) {
		const double *a = c + j * 12, *b = c + (j + 1) * 12;
		double ab = 0.0, aa = 0.0, bb = 0.0;
		for (int k = 0; k < 12; k++) {
			ab += a[k] * b[k];
			aa += a[k] * a[k];
			bb += b[k] * b[k];
		}
		dist[j] = aa > 0.0 && bb > 0.0 ? fmax(0.0, 1.0 - ab / sqrt(aa * bb)) : NAN;
	}
	free(c);
	return 0;
}
