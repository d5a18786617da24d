/* Harmonic/percussive energy split of a magnitude spectrogram by median filtering (Fitzgerald 2010):
 * harmonic sounds are smooth along time, percussive ones along frequency. */
#ifndef SS_ANALYSIS_HPSS_H
#define SS_ANALYSIS_HPSS_H

#include <stddef.h>

#include "core/analysis/stft.h"
#include "core/util/error.h"

/* The spectrogram is first pooled (power sum over pool_frames frames x pool_bins bins, 1..16 each), then
 * H = median of |X| over time_kernel cells (per pooled bin), P = median over freq_kernel cells (per pooled frame),
 * both centred with reflected edges; soft Wiener masks Mh = H^2/(H^2+P^2), Mp = P^2/(H^2+P^2) (0.5 each where
 * both are 0). *harmonic = sum(Mh |X|^2) / sum(|X|^2) over the pooled frames with any of their frames flagged in
 * active (s->n_frames flags; NULL = all), and *percussive = 1 - *harmonic; both NaN when there is no energy. Kernels must be odd,
 * 3..255. Memory: the pooled copy, three rows. The spectrogram is not
 * modified. Returns 0 or -1 with err (SS_ERR_NOMEM, SS_ERR_INTERNAL for bad parameters). Deterministic. */
int ss_hpss_energy(const ss_spectrogram *s, size_t pool_frames, size_t pool_bins, size_t time_kernel,
		   size_t freq_kernel, const unsigned char *active, double *harmonic, double *percussive, ss_error *err);

#endif
