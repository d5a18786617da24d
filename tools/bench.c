/* songscope-bench: speed and memory of one analysis over a folder of clips (or listed files).
 * Each clip is analysed in a forked child (after one warm-up analysis in the parent, so shared libraries are
 * loaded and initialised as in a long-running responder): the child reads the file, runs the full analysis
 * --reps times (decode included) and also times the stages alone; the parent reads the child's peak RSS
 * (ru_maxrss from wait4). With --passes N the whole list is measured N times and each clip keeps its fastest
 * pass (a shared host's bursts of load last seconds). Prints markdown: one row per container and one for all. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/analysis/key.h"
#include "core/analysis/pipeline.h"
#include "core/analysis/stft.h"
#include "core/analysis/tempo.h"
#include "core/audio/decode.h"
#include "tools/labels.h"
#include "tools/stats.h"
#include "tools/stereo_clip.h"

typedef struct clip_stat {
	int ok;
	double wall_ms, cpu_ms;        /* medians over reps, full analysis */
	double decode_ms, tempo_ms, key_ms;
	double seconds;                /* audio analysed */
	long base_kb, peak_kb;         /* RSS at child start, peak RSS of the child */
	char container[24];
	char skipped[64];              /* --stereo: why the clip could not be re-encoded ("" otherwise) */
} clip_stat;

static double clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}


static long rss_now_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size <= 0) {
		fclose(f);
		return NULL;
	}
	unsigned char *b = malloc((size_t)st.st_size);
	if (b != NULL && fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)st.st_size;
	return b;
}

/* In the child: measure one clip. */
static void measure(const char *path, int reps, const ss_analysis_opts *opts, clip_stat *cs)
{
	memset(cs, 0, sizeof *cs);
	cs->base_kb = rss_now_kb();
	size_t len = 0;
	unsigned char *data = read_file(path, &len);
	if (data == NULL)
		return;
	double wall[64], cpu[64], dec[64], tem[64], key[64];
	if (reps > 64)
		reps = 64;
	ss_error err;
	for (int i = 0; i < reps; i++) {
		ss_result r;
		ss_result_init(&r);
		double w0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
		int rc = ss_analyze_buffer(data, len, opts, &r, &err);
		cpu[i] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
		wall[i] = clock_ms(CLOCK_MONOTONIC) - w0;
		cs->seconds = r.signal_duration;
		ss_result_free(&r);
		if (rc != 0) {
			free(data);
			return;
		}
	}
	/* stages alone: decode, then tempo and key on the decoded audio */
	for (int i = 0; i < reps; i++) {
		ss_audio a;
		ss_audio_init(&a);
		ss_audio_opts ao = {.max_seconds = opts->max_seconds, .out_rate = 22050.0};
		double t0 = clock_ms(CLOCK_MONOTONIC);
		if (ss_audio_decode(data, len, &ao, &a, &err) != 0) {
			free(data);
			return;
		}
		dec[i] = clock_ms(CLOCK_MONOTONIC) - t0;
		snprintf(cs->container, sizeof cs->container, "%s", a.container);
		ss_tempo t;
		memset(&t, 0, sizeof t);
		t0 = clock_ms(CLOCK_MONOTONIC);
		if (ss_tempo_analyze(a.x, a.n, a.sr, &t, &err) == 0)
			ss_tempo_free(&t);
		tem[i] = clock_ms(CLOCK_MONOTONIC) - t0;
		ss_key k;
		t0 = clock_ms(CLOCK_MONOTONIC);
		ss_key_analyze(a.x, a.n, a.sr, SS_KEY_PROFILE_DEFAULT, &k, &err);
		key[i] = clock_ms(CLOCK_MONOTONIC) - t0;
		ss_audio_free(&a);
	}
	free(data);
	cs->ok = 1;
	cs->wall_ms = tool_median(wall, (size_t)reps);
	cs->cpu_ms = tool_median(cpu, (size_t)reps);
	cs->decode_ms = tool_median(dec, (size_t)reps);
	cs->tempo_ms = tool_median(tem, (size_t)reps);
	cs->key_ms = tool_median(key, (size_t)reps);
}

static int run_child(const char *path, int reps, const ss_analysis_opts *opts, clip_stat *cs)
{
	int fds[2];
	memset(cs, 0, sizeof *cs);
	if (pipe(fds) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		clip_stat s;
		measure(path, reps, opts, &s);
		ssize_t w = write(fds[1], &s, sizeof s);
		_exit(w == (ssize_t)sizeof s ? 0 : 1);
	}
	close(fds[1]);
	ssize_t got = read(fds[0], cs, sizeof *cs);
	close(fds[0]);
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) != pid)
		return -1;
	if (got != (ssize_t)sizeof *cs)
		cs->ok = 0;
	cs->peak_kb = ru.ru_maxrss;
	return 0;
}

/* A fixed reference workload, to tell a quiet machine from a busy one (virtual machines share cores): the
 * 512-point power STFT of 30 s of noise at 11025 Hz, hop 128 (2584 kissfft calls), fastest of 9 runs, in ms. */
static double reference_ms(void)
{
	const size_t n = 330750;
	float *x = malloc(n * sizeof *x);
	if (x == NULL)
		return NAN;
	uint32_t seed = 1;
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		x[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
	}
	double best = INFINITY;
	for (int r = 0; r < 9; r++) {
		ss_spectrogram s;
		ss_error err;
		double t0 = clock_ms(CLOCK_MONOTONIC);
		if (ss_stft_power(x, n, 11025.0, 512, 128, &s, &err) != 0)
			break;
		double t = clock_ms(CLOCK_MONOTONIC) - t0;
		ss_spectrogram_free(&s);
		if (t < best)
			best = t;
	}
	free(x);
	return best;
}

/* --stereo: re-encode every clip as 44.1 kHz stereo into a new temporary folder (tmpdir receives its path),
 * each in a forked child so the encoders' memory never reaches the measured children; files[i] becomes the
 * stereo copy, or cs[i].skipped says why there is none. Returns 0, or -1 if the folder cannot be made. */
static int stereo_files(char **files, size_t nfiles, const ss_analysis_opts *opts, clip_stat *cs, char *tmpdir,
			size_t tmplen)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, tmplen, "%s/songscope-bench-XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "songscope-bench: cannot create %s\n", tmpdir);
		tmpdir[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < nfiles; i++) {
		const char *name = strrchr(files[i], '/');
		name = name != NULL ? name + 1 : files[i];
		char *out = malloc(strlen(tmpdir) + strlen(name) + 2);
		if (out == NULL)
			return -1;
		sprintf(out, "%s/%s", tmpdir, name);
		int fds[2];
		if (pipe(fds) != 0) {
			free(out);
			return -1;
		}
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			const char *why = "cannot read the clip";
			size_t len = 0, slen = 0;
			unsigned char *data = read_file(files[i], &len), *s = NULL;
			if (data != NULL)
				s = tool_stereo_clip(data, len, opts->max_seconds, &slen, &why);
			FILE *f = s != NULL ? fopen(out, "wb") : NULL;
			if (s != NULL && (f == NULL || fwrite(s, 1, slen, f) != slen))
				why = "cannot write the stereo clip";
			else if (s != NULL)
				why = "";
			if (f != NULL && fclose(f) != 0)
				why = "cannot write the stereo clip";
			ssize_t w = write(fds[1], why, strlen(why) + 1);
			_exit(w > 0 ? 0 : 1);
		}
		close(fds[1]);
		char why[sizeof cs[i].skipped] = "encoder failed";
		if (pid > 0) {
			ssize_t got = read(fds[0], why, sizeof why - 1);
			why[got > 0 ? got : 0] = '\0';
			if (got <= 0)
				snprintf(why, sizeof why, "encoder failed");
			waitpid(pid, NULL, 0);
		}
		close(fds[0]);
		if (why[0] != '\0') {
			snprintf(cs[i].skipped, sizeof cs[i].skipped, "%s", why);
			unlink(out);
			free(out);
			continue;
		}
		free(files[i]);
		files[i] = out;
	}
	return 0;
}

typedef struct group {
	char name[24];
	int n;
	double *wall, *cpu, *dec, *tem, *key, *rest, *peak, secs;
} group;

static void group_row(group *g)
{
	if (g->n == 0)
		return;
	int n = g->n;
	size_t m = (size_t)n;
	double mw = tool_median(g->wall, m), p90 = tool_quantile(g->wall, m, 0.9);
	printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0fx | %.1f | %.1f |\n", g->name, n, mw,
	       p90, tool_median(g->cpu, m), tool_median(g->dec, m), tool_median(g->tem, m), tool_median(g->key, m),
	       tool_median(g->rest, m), (g->secs / n) / (mw / 1000.0), tool_median(g->peak, m),
	       tool_quantile(g->peak, m, 1.0));
}

int main(int argc, char **argv)
{
	int reps = 3, verbose = 0, stereo = 0, passes = 1;
	ss_analysis_opts opts;
	ss_analysis_opts_default(&opts);
	ss_analysis_process_init(); /* the allocator policy of a responder */
	static const struct option longopts[] = {
		{"reps", required_argument, NULL, 'r'}, {"max-seconds", required_argument, NULL, 'm'},
		{"passes", required_argument, NULL, 'p'},
		{"verbose", no_argument, NULL, 'v'},    {"stereo", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "r:m:p:vsh", longopts, NULL)) != -1) {
		if (c == 'r')
			reps = atoi(optarg) < 1 ? 1 : atoi(optarg);
		else if (c == 'p')
			passes = atoi(optarg) < 1 ? 1 : atoi(optarg) > 20 ? 20 : atoi(optarg);
		else if (c == 'm')
			opts.max_seconds = atof(optarg);
		else if (c == 'v')
			verbose = 1;
		else if (c == 's')
			stereo = 1;
		else {
			fprintf(c == 'h' ? stdout : stderr,
				"Usage: songscope-bench [--reps N] [--passes N] [--max-seconds N] [--stereo] [-v] DIR|FILE...\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "Usage: songscope-bench [--reps N] [--passes N] [--max-seconds N] [--stereo] [-v] DIR|FILE...\n");
		return 2;
	}
	/* collect files */
	size_t nfiles = 0, cap = 0;
	char **files = NULL;
	for (int i = optind; i < argc; i++) {
		struct stat st;
		char **list = NULL;
		size_t n = 0;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (tool_list_audio(argv[i], &list, &n) != 0) {
				fprintf(stderr, "songscope-bench: cannot list %s\n", argv[i]);
				return 1;
			}
		}
		size_t add = list ? n : 1;
		if (nfiles + add + 1 > cap) {
			cap = (nfiles + add + 1) * 2;
			char **nf = realloc(files, cap * sizeof *nf);
			if (nf == NULL) {
				fprintf(stderr, "songscope-bench: out of memory\n");
				return 1;
			}
			files = nf;
		}
		for (size_t j = 0; j < add; j++) {
			files[nfiles] = strdup(list ? list[j] : argv[i]);
			if (files[nfiles] == NULL) {
				fprintf(stderr, "songscope-bench: out of memory\n");
				return 1;
			}
			nfiles++;
		}
		tool_files_free(list);
	}
	if (nfiles == 0) {
		fprintf(stderr, "songscope-bench: no audio files\n");
		return 1;
	}
	const double ref_before = reference_ms();
	/* warm-up in the parent; FFmpeg loaded before fork too, as a responder's master does (preload_ffmpeg) */
	{
		ss_result r;
		ss_result_init(&r);
		ss_error err;
		ss_audio_ffmpeg_preload(&err);
		ss_analyze_file(files[0], &opts, &r, &err);
		ss_result_free(&r);
	}
	clip_stat *cs = calloc(nfiles, sizeof *cs);
	if (cs == NULL)
		return 1;
	char tmpdir[4096] = "";
	if (stereo && stereo_files(files, nfiles, &opts, cs, tmpdir, sizeof tmpdir) != 0)
		return 1;
	int failures = 0, skipped = 0;
	for (size_t i = 0; i < nfiles; i++)
		if (cs[i].skipped[0] != '\0') {
			fprintf(stderr, "songscope-bench: %s: skipped: %s\n", files[i], cs[i].skipped);
			skipped++;
		}
	/* Each pass measures every clip once more; a clip keeps its fastest pass. On a shared host a burst of
	 * load lasts seconds, so it spoils a stretch of clips in one pass and rarely the same clip twice. */
	double *ref_after = calloc((size_t)passes, sizeof *ref_after);
	if (ref_after == NULL)
		return 1;
	for (int p = 0; p < passes; p++) {
		for (size_t i = 0; i < nfiles; i++) {
			if (cs[i].skipped[0] != '\0' || (p > 0 && !cs[i].ok))
				continue;
			clip_stat one;
			if (run_child(files[i], reps, &opts, &one) != 0 || !one.ok) {
				fprintf(stderr, "songscope-bench: %s: analysis failed\n", files[i]);
				failures++;
				cs[i].ok = 0;
				continue;
			}
			if (p == 0 || one.wall_ms < cs[i].wall_ms)
				cs[i] = one;
		}
		ref_after[p] = reference_ms();
	}
	enum { MAXG = 16 };
	group g[MAXG + 1];
	int ng = 0;
	memset(g, 0, sizeof g);
	for (int k = 0; k <= MAXG; k++) {
		double **arrs[] = {&g[k].wall, &g[k].cpu, &g[k].dec, &g[k].tem, &g[k].key, &g[k].rest, &g[k].peak};
		for (size_t a = 0; a < 7; a++) {
			*arrs[a] = calloc(nfiles, sizeof(double));
			if (*arrs[a] == NULL)
				return 1;
		}
	}
	group *all = &g[MAXG];
	snprintf(all->name, sizeof all->name, "**all**");
	if (verbose)
		printf("| file | container | ms | cpu ms | decode | tempo | key | peak RSS MiB |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < nfiles; i++) {
		if (!cs[i].ok)
			continue;
		if (verbose)
			printf("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", files[i], cs[i].container, cs[i].wall_ms,
			       cs[i].cpu_ms, cs[i].decode_ms, cs[i].tempo_ms, cs[i].key_ms, cs[i].peak_kb / 1024.0);
		group *gr = NULL;
		for (int k = 0; k < ng; k++)
			if (strcmp(g[k].name, cs[i].container) == 0)
				gr = &g[k];
		if (gr == NULL && ng < MAXG) {
			gr = &g[ng++];
			snprintf(gr->name, sizeof gr->name, "%s", cs[i].container);
		}
		group *targets[2] = {gr, all};
		for (int t = 0; t < 2; t++) {
			group *x = targets[t];
			if (x == NULL)
				continue;
			x->wall[x->n] = cs[i].wall_ms;
			x->cpu[x->n] = cs[i].cpu_ms;
			x->dec[x->n] = cs[i].decode_ms;
			x->tem[x->n] = cs[i].tempo_ms;
			x->key[x->n] = cs[i].key_ms;
			x->rest[x->n] = cs[i].wall_ms - cs[i].decode_ms - cs[i].tempo_ms - cs[i].key_ms;
			x->peak[x->n] = cs[i].peak_kb / 1024.0;
			x->secs += cs[i].seconds;
			x->n++;
		}
	}
	if (verbose)
		printf("\n");
	printf("| container | clips | median ms | p90 ms | median CPU ms | decode ms | tempo ms | key ms | rest ms | real-time factor | median peak RSS MiB | max peak RSS MiB |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int k = 0; k < ng; k++)
		group_row(&g[k]);
	group_row(all);
	printf("\nReference workload (a 512-point STFT of 30 s at 11025 Hz, fastest of 9): %.2f ms before the clips;"
	       " after each pass:",
	       ref_before);
	for (int p = 0; p < passes; p++)
		printf(" %.2f", ref_after[p]);
	printf(" ms.\nFigures from a busy machine show here as a slower reference.\n");
	if (passes > 1)
		printf("%d passes over the clips; each clip's figures are from its fastest pass.\n", passes);
	free(ref_after);
	if (stereo)
		printf("\nEvery clip re-encoded as 44.1 kHz stereo in its own container before measuring (%d skipped: no\n"
		       "encoder for the container).",
		       skipped);
	printf("\n%zu clips, %d failed, %d repetitions each, max %.0f s analysed. \"median ms\" is the wall time of the\n"
	       "full analysis from encoded bytes (decode included); stage columns time decode, tempo and key alone, \"rest\"\n"
	       "is the remainder (descriptor STFT, HPSS, loudness-independent statistics). Peak RSS is the ru_maxrss of\n"
	       "the forked child that ran the clip (its pages, not the parent's untouched ones).\n",
	       nfiles, failures, reps, opts.max_seconds);
	for (int k = 0; k <= MAXG; k++) {
		free(g[k].wall);
		free(g[k].cpu);
		free(g[k].dec);
		free(g[k].tem);
		free(g[k].key);
		free(g[k].rest);
		free(g[k].peak);
	}
	for (size_t i = 0; i < nfiles; i++) {
		if (tmpdir[0] != '\0' && cs[i].skipped[0] == '\0')
			unlink(files[i]);
		free(files[i]);
	}
	if (tmpdir[0] != '\0')
		rmdir(tmpdir);
	free(files);
	free(cs);
	return failures ? 1 : 0;
}
