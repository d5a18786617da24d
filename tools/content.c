/* songscope-content FILE...: the speech, voice and audience features of each file (content.h) and the three
 * scores, one tab-separated line per file after a header, plus the median CPU time the features take per
 * clip (microseconds, over --reps runs on the decoded clip; decode and STFT excluded, since the pipeline shares
 * them). With --write-wav DIR it writes each decoded clip (mono, 22050 Hz, at most --max-seconds) to
 * DIR/<name>.wav instead, for sox to mix. tools/features-evidence.py reads it to fit and check the scores' weights. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/analysis/content.h"
#include "core/analysis/descriptors.h"
#include "core/analysis/signal.h"
#include "core/analysis/stft.h"
#include "core/audio/decode.h"

#include <sndfile.h>

#define USAGE "Usage: songscope-content [--reps N] [--max-seconds S] [--write-wav DIR] FILE...\n"
#define RATE 22050.0
#define NFFT 1024 /* the pipeline's descriptor STFT (pipeline.c DESC_NFFT / DESC_HOP) */
#define HOP 1024

/* CPU time of this process: a shared machine's other load does not count. */
static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	unsigned char *buf = malloc(cap);
	while (buf != NULL) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			unsigned char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

/* The decoded clip as a 16-bit mono WAV at the analysis rate, DIR/<file name>.wav. */
static int write_wav(const char *dir, const char *path, const ss_audio *a)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	char out[4096];
	snprintf(out, sizeof out, "%s/%s.wav", dir, base);
	SF_INFO info = {.samplerate = (int)a->sr, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(out, SFM_WRITE, &info);
	if (f == NULL) {
		fprintf(stderr, "songscope-content: %s: %s\n", out, sf_strerror(NULL));
		return -1;
	}
	int ok = sf_writef_float(f, a->x, (sf_count_t)a->n) == (sf_count_t)a->n;
	sf_close(f);
	return ok ? 0 : -1;
}

static const char *wav_dir; /* --write-wav */

static int one(const char *path, int reps, double max_seconds)
{
	size_t len = 0;
	unsigned char *data = read_file(path, &len);
	if (data == NULL) {
		fprintf(stderr, "songscope-content: cannot read %s\n", path);
		return -1;
	}
	ss_error err;
	ss_audio a;
	ss_audio_init(&a);
	ss_audio_opts ao = {.max_seconds = max_seconds, .out_rate = RATE};
	int rc = ss_audio_decode(data, len, &ao, &a, &err);
	free(data);
	if (rc != 0) {
		fprintf(stderr, "songscope-content: %s: %s\n", path, err.msg);
		return -1;
	}
	if (wav_dir != NULL) {
		rc = write_wav(wav_dir, path, &a);
		ss_audio_free(&a);
		return rc;
	}
	float mean = (float)ss_signal_mean(a.x, a.n);
	ss_signal_subtract(a.x, a.n, mean);
	size_t nf = 1 + a.n / HOP;
	unsigned char *active = malloc(nf);
	ss_spectrogram spec;
	if (active == NULL || ss_stft_magnitude(a.x, a.n, a.sr, NFFT, HOP, &spec, &err) != 0) {
		fprintf(stderr, "songscope-content: %s: out of memory\n", path);
		free(active);
		ss_audio_free(&a);
		return -1;
	}
	ss_frame_stats fs;
	ss_frame_stats_compute(a.x, a.n, NFFT, HOP, active, &fs);
	ss_content_features f;
	double us[64];
	if (reps > 64)
		reps = 64;
	for (int i = 0; i < reps; i++) {
		double t0 = now_us();
		rc = ss_content_features_compute(&spec, active, &f, &err);
		(void)ss_content_speechiness(&f);
		us[i] = now_us() - t0;
		if (rc != 0)
			break;
	}
	if (rc == 0) {
		qsort(us, (size_t)reps, sizeof us[0], cmp_d);
		printf("%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.3f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f"
		       "\t%.2f\t%.4f\t%.3f\t%.4f\n",
		       path, f.low_energy, f.mod4, f.flux_sd, f.centroid_sd, f.stay, f.glide, f.wobble, f.floor_db,
		       f.floor_flat, f.burst, f.vibrato, f.syllable,
		       ss_content_speechiness(&f), ss_content_instrumentalness(&f), ss_content_liveness(&f),
		       us[reps / 2], (double)a.n / a.sr, f.attack, f.fluct, f.fluct_coh);
	} else {
		fprintf(stderr, "songscope-content: %s: %s\n", path, err.msg);
	}
	ss_spectrogram_free(&spec);
	free(active);
	ss_audio_free(&a);
	return rc;
}

int main(int argc, char **argv)
{
	int reps = 5, c;
	double max_seconds = 30.0;
	static const struct option lo[] = {{"reps", required_argument, NULL, 'r'},
					   {"max-seconds", required_argument, NULL, 'm'},
					   {"write-wav", required_argument, NULL, 'w'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	while ((c = getopt_long(argc, argv, "r:m:w:h", lo, NULL)) != -1) {
		if (c == 'r')
			reps = atoi(optarg) > 0 ? atoi(optarg) : 1;
		else if (c == 'w')
			wav_dir = optarg;
		else if (c == 'm')
			max_seconds = atof(optarg) >= 3.0 ? atof(optarg) : 30.0;
		else {
			fprintf(c == 'h' ? stdout : stderr, "%s", USAGE);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s", USAGE);
		return 2;
	}
	if (wav_dir == NULL)
		printf("file\tlow_energy\tmod4\tflux_sd\tcentroid_sd\tstay\tglide\twobble\tfloor_db\tfloor_flat\tburst\t"
		       "vibrato\tsyllable\tspeechiness\tinstrumentalness\tliveness\tfeatures_us\tseconds\tattack\tfluct\tfluct_coh\n");
	int failed = 0;
	for (int i = optind; i < argc; i++)
		failed |= one(argv[i], reps, max_seconds) != 0;
	return failed ? 1 : 0;
}
