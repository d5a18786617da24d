/* The analysis pipeline: decode -> mono at 22050 Hz -> DC removal -> frame statistics (silence, zero
 * crossings) -> tempo and key modules -> one shared magnitude STFT for the spectral descriptors and HPSS ->
 * perceptual scores. Every number is computed from the samples only, in a fixed order, so the same bytes and
 * options give the same result. With opts.threads 2 the stages that share no data run on two threads (decoding
 * beside the sink; the spectral branch beside tempo and key), each computing exactly what it computes alone.
 *
 * Where each result field comes from:
 *   bpm, bpm_confidence, beats, time_signature   tempo module (bpm null and confidence 0 without a pulse)
 *   bpm_candidates, downbeats                     tempo module (tempo.c readings, meter.c bar lines)
 *   time_signature_confidence                     meter.c (how clearly the bar's length stands out)
 *   key*, tonal_strength, key_details             key module ("Unknown"/null without tonal content);
 *                                                 key_details.camelot/open_key from the key (result.c)
 *   loudness, dynamic_range                       libebur128 integrated loudness and loudness range (audio/sink)
 *   silence_ratio, zero_crossing_rate             46 ms frames of the time signal (descriptors.h)
 *   spectral_centroid, spectral_flux              46 ms Hann frames of the shared STFT (descriptors.h)
 *   percussive/harmonic_energy_ratio              median-filter HPSS on that STFT (hpss.h)
 *   speechiness, instrumentalness, liveness       speech, voice and audience features of that STFT (content.h)
 *   energy, danceability, acousticness, valence,
 *   mood                                          documented formulas over the above (mood.h)
 *   segments, sections (for the audio-analysis)   that STFT's frame levels, mel bands and chroma (frames.h):
 *                                                 onsets (segments.h) and novelty (sections.h)
 *   signal_duration                               seconds analysed (at most max_seconds)
 *   analysis_duration                             wall time of decode + analysis (the only non-deterministic field)
 * Values are rounded to their meaningful precision (bpm 0.01, scores 1e-4, beats 1 ms) so encodings are short. */
#include "core/analysis/pipeline.h"

#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/analysis/content.h"
#include "core/analysis/descriptors.h"
#include "core/analysis/hpss.h"
#include "core/analysis/key.h"
#include "core/analysis/mood.h"
#include "core/analysis/sections.h"
#include "core/analysis/segments.h"
#include "core/analysis/signal.h"
#include "core/analysis/stft.h"
#include "core/analysis/tempo.h"
#include "core/audio/decode.h"
#include "core/util/bigmem.h"

#define MIN_SECONDS SS_ANALYSIS_MIN_SECONDS
#define MAX_SECONDS 3600.0
#define FILE_MAX_BYTES (1024LL * 1024 * 1024)
#define PREFAULT_BYTES ((size_t)32 * 1024 * 1024) /* more than a 30 s clip in any container */
/* Descriptor STFT: 46 ms Hann frames tiling the signal (hop = frame). Every descriptor is an average over a
 * clip, for which overlap adds cost but no information: a sample's expected window weight is the same
 * wherever it falls. The silence/zero-crossing frames use the same grid. */
#define DESC_NFFT 1024
#define DESC_HOP 1024
/* HPSS on cells of 2 frames x 2 bins (93 ms x 43 Hz): 9 cells (0.84 s) along time and 9 cells (388 Hz)
 * along frequency, close in extent to the usual 31 x 31 kernels on a 2048/512 STFT at 22050 Hz (0.72 s x
 * 334 Hz) at a sixteenth of the cells. Coarser cells than that reference read more energy as percussive
 * (partials blur across a wider bin): on the development clips the ratio is 0.05-0.25 above the 2048/512
 * reference with the same ordering; 46 ms x 43 Hz cells with 17 x 9 kernels are no closer and cost twice. */
#define HPSS_POOL_FRAMES 2
#define HPSS_POOL_BINS 2
#define HPSS_TIME_KERNEL 9
#define HPSS_FREQ_KERNEL 9

void ss_analysis_opts_default(ss_analysis_opts *o)
{
	o->max_seconds = 30.0;
	o->threads = 1;
}

char *ss_analysis_opts_tag(const ss_analysis_opts *o, char *out, size_t outlen)
{
	/* v<N> names the analysis algorithms and the result's fields; bump it whenever a change alters any
	 * number or adds a field, so cached results are recomputed (v2: the onset stage works at 5512.5 Hz and
	 * the key reads its signal, paired FFTs, reordered sums; v3: bpm_candidates, downbeats, 6/8 time
	 * signatures, key_details.camelot and open_key; v4: the temperley+tkp key profile and the leading-tone
	 * rule, fast tempi doubled on the low band's off-beats, 3:2 near-ties decided by the unshared beats,
	 * speechiness, instrumentalness and liveness; v5: instrumentalness reads partial vibrato and formant
	 * modulation; v6: 5/4 and 7/4 time signatures, the bar phase from the bass register too, a half-beat
	 * reading doubled before the 3:2 near-ties; v7: the chord rule, a pulse at the half-note level counts,
	 * instrumentalness with the attack and the fluctogram; v8: the leading-tone rule's second reach; v9: a pulse
	 * in the low band alone passes the gate, so a voice over a beat gets the beat's tempo; v10: segments and
	 * sections; v11: each section's own key, time_signature_confidence; v12: each section's own metre, tempo and
	 * tempo confidence; v13: the key's tonic vote; v14: the natural-minor rule between parallel keys, the
	 * dominant's tonic for mixolydian pieces). */
	snprintf(out, outlen, "v14;max=%g", o->max_seconds);
	return out;
}

/* Blocks above this are mapped on their own; the heap keeps up to SS_TRIM_BYTES free before trimming. */
#define SS_MMAP_BYTES (4 * 1024 * 1024)
#define SS_TRIM_BYTES (32 * 1024 * 1024)

void ss_analysis_process_init(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, SS_MMAP_BYTES);
	mallopt(M_TRIM_THRESHOLD, SS_TRIM_BYTES);
#endif
}

const char *ss_analysis_decoders(void)
{
	return ss_audio_decoders();
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Round to a fixed number of decimals so encoded numbers are short and stable; NaN stays NaN. */
static double rnd(double v, double scale)
{
	if (!isfinite(v))
		return NAN;
	return round(v * scale) / scale;
}

/* The spectral branch of the analysis: one magnitude STFT and what is read from it (spectral statistics,
 * content features, HPSS). Reads x and active only, so it can run beside tempo and key. */
typedef struct spectral_branch {
	const float *x;
	size_t n;
	double sr;
	const unsigned char *active;
	ss_spectral_stats ss;
	ss_content_features cf;
	ss_segment *segs; /* owned until handed to the result */
	size_t n_segs;
	ss_section *secs; /* owned until handed to the result */
	size_t n_secs;
	double harm, perc;
	int rc;
	ss_error err;
} spectral_branch;

static void spectral_branch_run(spectral_branch *b)
{
	b->harm = b->perc = NAN;
	ss_spectrogram spec;
	b->rc = ss_stft_magnitude(b->x, b->n, b->sr, DESC_NFFT, DESC_HOP, &spec, &b->err);
	if (b->rc != 0)
		return;
	ss_spectral_stats_compute(&spec, b->active, &b->ss);
	b->rc = ss_content_features_compute(&spec, b->active, &b->cf, &b->err);
	if (b->rc == 0) {
		ss_frames fr;
		b->rc = ss_frames_compute(&spec, &fr, &b->err);
		if (b->rc == 0)
			b->rc = ss_segments_compute(&fr, (double)b->n / b->sr, &b->segs, &b->n_segs, &b->err);
		if (b->rc == 0)
			b->rc = ss_sections_compute(&fr, (double)b->n / b->sr, &b->secs, &b->n_secs, &b->err);
		ss_frames_free(&fr);
	}
	if (b->rc == 0)
		b->rc = ss_hpss_energy(&spec, HPSS_POOL_FRAMES, HPSS_POOL_BINS, HPSS_TIME_KERNEL, HPSS_FREQ_KERNEL,
				       b->active, &b->harm, &b->perc, &b->err);
	ss_spectrogram_free(&spec);
}

static void *spectral_branch_main(void *arg)
{
	spectral_branch_run(arg);
	return NULL;
}

/* Tempo and key of a (see analyze_audio), with the key's frames in *kf for the sections' keys. Returns 0, or -1
 * with err and nothing to free. */
static int tempo_and_key(const ss_audio *a, ss_tempo *tempo, ss_key *key, ss_key_frames *kf, ss_error *err)
{
	/* Tempo and key share the onset stage's band-limited 5512.5 Hz copy, which is the key's working rate:
	 * its chroma needs less than 2 kHz, so the key does no resampling of its own. */
	memset(kf, 0, sizeof *kf);
	ss_work_signal w;
	if (ss_onset_work_signal(a->x, a->n, a->sr, &w, err) != 0)
		return -1;
	memset(tempo, 0, sizeof *tempo);
	if (ss_tempo_analyze_work(a->x, a->n, a->sr, &w, tempo, err) != 0) {
		ss_work_signal_free(&w);
		return -1;
	}
	memset(key, 0, sizeof *key);
	/* w.n and w.sr describe the input itself when it was not resampled */
	int krc = ss_key_analyze_frames(w.x != NULL ? w.x : a->x, w.n, w.sr, SS_KEY_PROFILE_DEFAULT, key, kf, err);
	ss_work_signal_free(&w);
	if (krc != 0) {
		ss_key_frames_free(kf);
		ss_tempo_free(tempo);
		return -1;
	}
	return 0;
}

/* The key, mode and confidences a result gives for k: the mode -1 and the confidences 0 without a key. */
static void key_fields(const ss_key *k, int *key, int *mode, double *confidence, double *mode_confidence)
{
	*key = k->key_index;
	*mode = k->key_index >= 0 ? k->mode : -1;
	*confidence = k->key_index >= 0 && isfinite(k->confidence) ? rnd(k->confidence, 1000) : 0.0;
	*mode_confidence = k->key_index >= 0 && isfinite(k->mode_confidence) ? rnd(k->mode_confidence, 1000) : 0.0;
}

/* Each section's own key from the key frames (the last one runs to the end of the frames). */
static void section_keys(ss_section *sec, size_t n, const ss_key_frames *kf, const ss_key *whole)
{
	for (size_t i = 0; i < n; i++) {
		ss_key k;
		ss_key_of_span(kf, sec[i].start, i + 1 < n ? sec[i + 1].start : HUGE_VAL, whole, &k);
		key_fields(&k, &sec[i].key, &sec[i].mode, &sec[i].key_confidence, &sec[i].mode_confidence);
	}
}

/* Each section's own metre, tempo (where it is not the track's) and tempo confidence from the beats and onsets
 * inside it (the last one runs to the end); t's downbeats then follow each section's metre
 * (ss_tempo_part_downbeats). Returns 0, or -1 with err (SS_ERR_NOMEM). */
static int section_rhythm(ss_section *sec, size_t n, ss_tempo *t, ss_error *err)
{
	double *starts = malloc((n ? n : 1) * sizeof *starts), *db = NULL;
	ss_meter *metres = malloc((n ? n : 1) * sizeof *metres);
	size_t nd = 0;
	int rc = starts != NULL && metres != NULL ? 0 : ss_error_set(err, SS_ERR_NOMEM, "out of memory for sections");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const double end = i + 1 < n ? sec[i + 1].start : HUGE_VAL;
		ss_span_tempo st;
		if (ss_tempo_meter_of_span(t, sec[i].start, end, &metres[i], err) != 0 ||
		    ss_tempo_of_span(t, sec[i].start, end, &st, err) != 0) {
			rc = -1;
			break;
		}
		starts[i] = sec[i].start;
		sec[i].time_signature = atoi(metres[i].time_signature);
		sec[i].time_signature_confidence = rnd(metres[i].confidence, 1000);
		sec[i].tempo = isfinite(st.bpm) ? rnd(st.bpm, 100) : 0.0;
		sec[i].tempo_confidence = isfinite(st.confidence) ? rnd(st.confidence, 1000) : 0.0;
	}
	if (rc == 0)
		rc = ss_tempo_part_downbeats(t, starts, metres, n, &db, &nd, err);
	free(starts);
	free(metres);
	if (rc != 0)
		return -1;
	free(t->downbeats);
	t->downbeats = db;
	t->n_downbeats = nd;
	return 0;
}

/* Analyse decoded audio a (mono, SS_ANALYSIS_RATE): removes its DC offset in place, then fills out. With threads > 1
 * the spectral branch runs on a second thread beside tempo and key (joined before returning). */
static int analyze_audio(ss_audio *a, int threads, ss_result *out, ss_error *err)
{
	const double sr = a->sr;
	if ((double)a->n < MIN_SECONDS * sr)
		return ss_error_set(err, SS_ERR_UNPROCESSABLE, "the audio is %.2f s long; at least %g s are needed",
				    (double)a->n / sr, MIN_SECONDS);

	/* A constant offset is not sound: remove the mean (double accumulation, fixed order). */
	const double mean = ss_signal_mean(a->x, a->n);
	if (mean != 0.0)
		ss_signal_subtract(a->x, a->n, (float)mean);

	const size_t n_frames = 1 + a->n / DESC_HOP;
	unsigned char *active = malloc(n_frames);
	if (active == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for analysis");
	ss_frame_stats fs;
	ss_frame_stats_compute(a->x, a->n, DESC_NFFT, DESC_HOP, active, &fs);
	if (fs.n_active == 0) {
		free(active);
		return ss_error_set(err, SS_ERR_UNPROCESSABLE, "the audio is silent (no 46 ms frame above %.0f dBFS RMS)",
				    SS_SILENCE_DBFS);
	}

	/* With two threads the spectral branch runs on the second one; each branch owns its outputs and error,
	 * and an error is reported in the order the sequential path meets them (tempo and key first). */
	spectral_branch sb = {.x = a->x, .n = a->n, .sr = sr, .active = active};
	ss_error_clear(&sb.err);
	pthread_t th;
	int threaded = threads > 1 && pthread_create(&th, NULL, spectral_branch_main, &sb) == 0;
	ss_tempo tempo;
	ss_key key;
	ss_key_frames kf;
	int tk = tempo_and_key(a, &tempo, &key, &kf, err);
	if (threaded)
		pthread_join(th, NULL);
	else if (tk == 0)
		spectral_branch_run(&sb);
	free(active);
	if (tk != 0) {
		free(sb.segs);
		free(sb.secs);
		return -1;
	}
	if (sb.rc != 0) {
		ss_tempo_free(&tempo);
		ss_key_frames_free(&kf);
		free(sb.segs);
		free(sb.secs);
		*err = sb.err;
		return -1;
	}
	out->segments = sb.segs;
	out->n_segments = sb.n_segs;
	section_keys(sb.secs, sb.n_secs, &kf, &key);
	ss_key_frames_free(&kf);
	if (section_rhythm(sb.secs, sb.n_secs, &tempo, err) != 0) {
		ss_tempo_free(&tempo);
		free(sb.secs);
		out->segments = NULL;
		out->n_segments = 0;
		free(sb.segs);
		return -1;
	}
	out->sections = sb.secs;
	out->n_sections = sb.n_secs;
	const ss_spectral_stats ss = sb.ss;
	const ss_content_features cf = sb.cf;
	const double harm = sb.harm, perc = sb.perc;

	/* tempo */
	int has_pulse = isfinite(tempo.bpm) && tempo.bpm > 0;
	out->bpm = has_pulse ? rnd(tempo.bpm, 100) : NAN;
	out->bpm_confidence = has_pulse && isfinite(tempo.confidence) ? rnd(tempo.confidence, 1000) : 0.0;
	out->beats_per_bar = tempo.beats_per_bar;
	out->beats = tempo.beats;
	out->n_beats = tempo.n_beats;
	tempo.beats = NULL;
	tempo.n_beats = 0;
	for (size_t i = 0; i < out->n_beats; i++)
		out->beats[i] = rnd(out->beats[i], 1000);
	out->time_signature = has_pulse ? tempo.time_signature : NULL;
	out->time_signature_confidence = has_pulse ? rnd(tempo.time_signature_confidence, 1000) : 0.0;
	out->downbeats = tempo.downbeats; /* each one of the beats: rounded the same way, so equal to it */
	out->n_downbeats = tempo.n_downbeats;
	tempo.downbeats = NULL;
	tempo.n_downbeats = 0;
	for (size_t i = 0; i < out->n_downbeats; i++)
		out->downbeats[i] = rnd(out->downbeats[i], 1000);
	out->n_bpm_candidates = has_pulse ? tempo.n_candidates : 0;
	for (size_t i = 0; i < out->n_bpm_candidates; i++) {
		out->bpm_candidates[i].bpm = i == 0 ? out->bpm : rnd(tempo.candidates[i].bpm, 100);
		out->bpm_candidates[i].score = rnd(tempo.candidates[i].score, 10000);
	}

	/* key */
	key_fields(&key, &out->key_index, &out->mode, &out->key_confidence, &out->mode_confidence);
	out->key_profile = key.profile;
	for (int i = 0; i < SS_KEY_CANDIDATES; i++) {
		out->key_candidates[i] = key.top[i];
		out->key_candidates[i].score = rnd(key.top[i].score, 10000);
	}
	out->tuning_cents = rnd(key.tuning_cents, 10);
	out->tonal_strength = rnd(key.tonal_strength, 10000);

	/* descriptors */
	ss_mood_inputs mi = {
		.loudness = a->loudness,
		.loudness_range = a->loudness_range,
		.centroid = ss.centroid,
		.flatness = ss.flatness,
		.percussive = perc,
		.harmonic = harm,
		.silence_ratio = fs.silence_ratio,
		.onset_density = tempo.onset_density,
		.bpm = has_pulse ? tempo.bpm : NAN,
		.pulse_clarity = has_pulse ? tempo.pulse_clarity : 0.0,
		.beat_regularity = has_pulse ? tempo.beat_regularity : 0.0,
		.mode = out->mode,
		.key_confidence = out->key_confidence,
	};
	double energy = ss_mood_energy(&mi);
	double valence = ss_mood_valence(&mi, energy);
	out->energy = rnd(energy, 10000);
	out->danceability = rnd(ss_mood_danceability(&mi), 10000);
	out->acousticness = rnd(ss_mood_acousticness(&mi), 10000);
	out->valence = rnd(valence, 10000);
	out->mood = ss_mood_word(valence, energy);
	out->spectral_centroid = rnd(ss.centroid, 10);
	out->loudness = rnd(a->loudness, 100);
	out->dynamic_range = rnd(a->loudness_range, 100);
	out->silence_ratio = rnd(fs.silence_ratio, 10000);
	out->zero_crossing_rate = rnd(fs.zero_crossing_rate, 100000);
	out->spectral_flux = rnd(ss.flux, 10000);
	out->percussive_energy_ratio = rnd(perc, 10000);
	out->harmonic_energy_ratio = rnd(harm, 10000);
	out->speechiness = rnd(ss_content_speechiness(&cf), 10000);
	out->instrumentalness = rnd(ss_content_instrumentalness(&cf), 10000);
	out->liveness = rnd(ss_content_liveness(&cf), 10000);
	out->signal_duration = rnd((double)a->n / sr, 1000);
	ss_tempo_free(&tempo);
	return 0;
}

int ss_analyze_buffer(const void *data, size_t len, const ss_analysis_opts *o, ss_result *out, ss_error *err)
{
	double t0 = now_seconds();
	ss_result_init(out);
	ss_analysis_opts def;
	if (o == NULL) {
		ss_analysis_opts_default(&def);
		o = &def;
	}
	if (!(o->max_seconds >= MIN_SECONDS && o->max_seconds <= MAX_SECONDS))
		return ss_error_set(err, SS_ERR_INTERNAL, "max_seconds must be between %g and %.0f", MIN_SECONDS,
				    MAX_SECONDS);
	ss_audio a;
	ss_audio_init(&a);
	ss_audio_opts ao = {.max_seconds = o->max_seconds, .out_rate = SS_ANALYSIS_RATE, .threads = o->threads};
	if (ss_audio_decode(data, len, &ao, &a, err) != 0)
		return -1;
	ss_result r;
	ss_result_init(&r);
	int rc = analyze_audio(&a, o->threads, &r, err);
	ss_audio_free(&a);
	if (rc != 0) {
		ss_result_free(&r);
		return -1;
	}
	r.analysis_duration = rnd(now_seconds() - t0, 10000);
	*out = r;
	return 0;
}

int ss_analyze_file(const char *path, const ss_analysis_opts *o, ss_result *out, ss_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ss_error_set(err, SS_ERR_NOT_FOUND, "cannot open %s", path);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return ss_error_set(err, SS_ERR_IO, "cannot stat %s", path);
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return ss_error_set(err, SS_ERR_NOT_FOUND, "%s is a directory", path);
	}
	if (S_ISREG(st.st_mode)) {
		if (st.st_size == 0) {
			close(fd);
			return ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "empty input is not audio");
		}
		if (st.st_size > FILE_MAX_BYTES) {
			close(fd);
			return ss_error_set(err, SS_ERR_TOO_LARGE, "%s is larger than 1 GiB", path);
		}
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return ss_error_set(err, SS_ERR_IO, "cannot map %s", path);
		/* the decoder reads the file front to back: map its pages in one call, not one fault per 4 KiB */
		ss_bigmem_prefault(p, (size_t)st.st_size < PREFAULT_BYTES ? (size_t)st.st_size : PREFAULT_BYTES);
		int rc = ss_analyze_buffer(p, (size_t)st.st_size, o, out, err);
		munmap(p, (size_t)st.st_size);
		return rc;
	}
	/* pipes and devices: read up to the cap */
	size_t cap = 1 << 20, len = 0;
	unsigned char *buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory reading %s", path);
	}
	for (;;) {
		if (len == cap) {
			if (cap >= (size_t)FILE_MAX_BYTES) {
				free(buf);
				close(fd);
				return ss_error_set(err, SS_ERR_TOO_LARGE, "%s is larger than 1 GiB", path);
			}
			unsigned char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				close(fd);
				return ss_error_set(err, SS_ERR_NOMEM, "out of memory reading %s", path);
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0) {
			free(buf);
			close(fd);
			return ss_error_set(err, SS_ERR_IO, "read error on %s", path);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	int rc = ss_analyze_buffer(buf, len, o, out, err);
	free(buf);
	return rc;
}
