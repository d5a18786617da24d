/* songscope-analyze: analyse audio files and print one JSON object per file (the API's result fields), the
 * files shared out to a pool of worker processes (tools/pool.h) and printed in the order they were named; a
 * single file is analysed in this process. Idle processors give each analysis a second thread. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result_json.h"
#include "core/util/bigmem.h"
#include "core/util/jsonutil.h"
#include "core/util/utf8.h"
#include "tools/pool.h"
#include "tools/walk.h"

#define MAX_JOBS 256

/* The processors this process may run on (its affinity mask; the online count without one), at least 1. */
static unsigned default_jobs(void)
{
	cpu_set_t set;
	long n = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 0)
		n = 1;
	return n > MAX_JOBS ? MAX_JOBS : (unsigned)n;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: songscope-analyze [--beats] [--timeline] [--pretty] [--max-seconds N] [--jobs N] [-r] FILE|DIR...\n"
		"A FILE of - reads the audio from standard input.\n"
		"Analyse audio files (WAV, AIFF, FLAC, Ogg Vorbis/Opus, MP3, AAC/M4A when built with FFmpeg) and print\n"
		"one JSON object per line per file: \"file\" plus the fields the HTTP API returns for a result, in the\n"
		"order the files were named. A file that cannot be analysed prints {\"file\", \"error\", \"message\"};\n"
		"the exit status is then 1.\n"
		"\n"
		"  --beats           include the beat and downbeat times (seconds)\n"
		"  --timeline        include the segments and sections, as the cache stores them (arrays: API.md)\n"
		"  --pretty          indent the JSON (several lines per file)\n"
		"  --max-seconds N   analyse at most the first N seconds (default 30, 3..3600)\n"
		"  -j, --jobs N      analyse N files at a time, in N processes (default: the processors available, %u)\n"
		"  -r, --recursive   analyse the audio files in each DIR and the folders below it, sorted by path\n"
		"  --version         print the version and the decoders compiled in\n"
		"  --help            print this help\n",
		default_jobs());
}

/* All of standard input into *out (caller frees), at most max bytes. Returns 0, or -1 with err. */
static int read_stdin(unsigned char **out, size_t *len, size_t max, ss_error *err)
{
	size_t cap = 1 << 20, n = 0;
	unsigned char *buf = malloc(cap);
	if (buf == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				free(buf);
				return ss_error_set(err, SS_ERR_TOO_LARGE, "standard input is larger than %zu bytes", max);
			}
			size_t ncap = cap * 2 > max ? max : cap * 2;
			unsigned char *nb = realloc(buf, ncap);
			if (nb == NULL) {
				free(buf);
				return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (got == 0) {
			if (ferror(stdin)) {
				free(buf);
				return ss_error_set(err, SS_ERR_IO, "cannot read standard input");
			}
			break;
		}
	}
	*out = buf;
	*len = n;
	return 0;
}

typedef enum job_kind {
	JOB_FILE,        /* analyse the file at path */
	JOB_STDIN,       /* analyse standard input (the first "-") */
	JOB_STDIN_EMPTY, /* a later "-": standard input is used up, so this analyses no bytes (an error line) */
	JOB_ERROR,       /* known to fail before analysis (a folder without -r, a folder -r cannot read) */
} job_kind;

typedef struct job {
	job_kind kind;
	char *path;    /* as named or found; "-" for standard input */
	ss_code code;  /* JOB_ERROR */
	char *message; /* JOB_ERROR */
} job;

typedef struct run {
	job *v;
	size_t n, cap;
	bool beats, timeline, pretty;
	ss_analysis_opts opts;
	int status;      /* exit status so far */
	bool progress;   /* draw a progress line on stderr (it is a terminal) */
	bool stdout_tty; /* the results go to a terminal too: erase the progress line before each */
	bool shown;      /* a progress line is on the screen */
	double drawn_at; /* when it was drawn (monotonic seconds) */
	size_t done, failed;
} run;

/* "songscope-analyze: NAME: MESSAGE" on stderr, after lead ("" or "\n"), with the control characters of both
 * shown as spaces: a file name may hold escape sequences that would clear the terminal or forge a line. */
static void note(const char *lead, const char *name, const char *message)
{
	char *n = strdup(name), *m = strdup(message);
	if (n != NULL && m != NULL) {
		ss_utf8_fold_controls(n);
		ss_utf8_fold_controls(m);
		fprintf(stderr, "%ssongscope-analyze: %s: %s\n", lead, n, m);
	} else {
		fprintf(stderr, "%ssongscope-analyze: out of memory\n", lead);
	}
	free(n);
	free(m);
}

static int add_job(run *r, job_kind kind, char *path, ss_code code, const char *message)
{
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		job *nv = realloc(r->v, ncap * sizeof *nv);
		if (nv == NULL)
			return -1;
		r->v = nv;
		r->cap = ncap;
	}
	char *msg = message ? strdup(message) : NULL;
	if (path == NULL || (message != NULL && msg == NULL)) {
		free(msg);
		return -1;
	}
	r->v[r->n++] = (job){.kind = kind, .path = path, .code = code, .message = msg};
	return 0;
}

static void free_jobs(run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].path);
		free(r->v[i].message);
	}
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

/* Add the jobs for one operand. Returns 0, or -1 when memory runs out (path is then freed). */
static int add_operand(run *r, const char *arg, bool recursive, bool *stdin_used)
{
	if (strcmp(arg, "-") == 0) {
		job_kind k = *stdin_used ? JOB_STDIN_EMPTY : JOB_STDIN;
		*stdin_used = true;
		return add_job(r, k, strdup(arg), SS_OK, NULL);
	}
	struct stat st;
	if (stat(arg, &st) != 0 || !S_ISDIR(st.st_mode))
		return add_job(r, JOB_FILE, strdup(arg), SS_OK, NULL); /* the worker reports what is wrong with it */
	if (!recursive)
		return add_job(r, JOB_ERROR, strdup(arg), SS_ERR_NOT_FOUND,
			       "is a folder (-r analyses the audio files in it and below it)");
	tool_walk_list l = {0};
	if (tool_walk(arg, &l) != 0)
		return -1;
	int rc = 0;
	size_t files = 0;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		tool_walk_item *it = &l.v[i];
		if (it->kind == TOOL_WALK_NOTE) {
			note("", it->path, it->message);
			continue;
		}
		files += it->kind == TOOL_WALK_FILE;
		rc = add_job(r, it->kind == TOOL_WALK_FILE ? JOB_FILE : JOB_ERROR, it->path, SS_ERR_NOT_FOUND, it->message);
		if (rc == 0)
			it->path = NULL; /* the job owns it now */
	}
	if (rc == 0 && files == 0)
		note("", arg, "no audio files in it");
	tool_walk_list_free(&l);
	return rc;
}

static int json_text(json_object *o, bool pretty, char **text, size_t *len)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE | (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
							       : JSON_C_TO_STRING_PLAIN);
	size_t n = 0;
	const char *s = json_object_to_json_string_length(o, flags, &n);
	if (s == NULL || (*text = malloc(n + 1)) == NULL)
		return -1;
	memcpy(*text, s, n + 1);
	*len = n;
	return 0;
}

/* Add "segments" and "sections" to o, in the compact arrays the cache stores (ss_result_beats_text). */
static int add_timeline(const ss_result *res, json_object *o)
{
	ss_buf b;
	ss_buf_init(&b, 0);
	json_object *t = ss_result_beats_text(res, &b) == 0 ? ss_json_parse(b.data, b.len, 8) : NULL;
	ss_buf_free(&b);
	static const char *const names[] = {"segments", "sections"};
	int rc = t == NULL ? -1 : 0;
	for (size_t i = 0; i < 2 && rc == 0; i++) {
		json_object *v;
		if (!json_object_object_get_ex(t, names[i], &v) || json_object_object_add(o, names[i], json_object_get(v)) != 0)
			rc = -1;
	}
	json_object_put(t);
	return rc;
}

/* In a worker: analyse job i into one JSON text (tool_pool_work_fn). */
static int work(size_t i, void *ctx, char **text, size_t *len, bool *failed)
{
	run *r = ctx;
	const job *j = &r->v[i];
	ss_result res;
	ss_result_init(&res);
	ss_error err;
	ss_error_clear(&err);
	json_object *o = json_object_new_object();
	if (o == NULL || ss_json_add_string(o, "file", j->path) != 0) {
		json_object_put(o);
		return -1;
	}
	int rc;
	switch (j->kind) {
	case JOB_STDIN: {
		/* Capped like an upload. */
		unsigned char *data = NULL;
		size_t n = 0;
		rc = read_stdin(&data, &n, (size_t)1 << 30, &err);
		if (rc == 0)
			rc = ss_analyze_buffer(data, n, &r->opts, &res, &err);
		free(data);
		break;
	}
	case JOB_STDIN_EMPTY: {
		static const unsigned char nothing[1];
		rc = ss_analyze_buffer(nothing, 0, &r->opts, &res, &err);
		break;
	}
	case JOB_ERROR:
		rc = ss_error_set(&err, j->code, "%s", j->message);
		break;
	case JOB_FILE:
	default:
		rc = ss_analyze_file(j->path, &r->opts, &res, &err);
		break;
	}
	int enc;
	if (rc == 0)
		enc = ss_result_to_json(&res, r->beats, o) | (r->timeline ? add_timeline(&res, o) : 0);
	else
		enc = ss_json_add_string(o, "error", ss_code_name(err.code)) |
		      ss_json_add_string(o, "message", err.msg);
	*failed = rc != 0;
	int ret = enc == 0 ? json_text(o, r->pretty, text, len) : -1;
	json_object_put(o);
	ss_result_free(&res);
	return ret;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "12/340 files, 3 failed" over the previous line; unless forced, at most ten times a second. */
static void draw_progress(run *r, bool force)
{
	double t = now_seconds();
	if (!force && r->shown && t - r->drawn_at < 0.1)
		return;
	fprintf(stderr, "\r%zu/%zu files, %zu failed\033[K", r->done, r->n, r->failed);
	r->shown = true;
	r->drawn_at = t;
}

/* In the parent, as each job finishes (tool_pool_progress_fn). */
static void progress(size_t done, size_t failed, void *ctx)
{
	run *r = ctx;
	r->done = done;
	r->failed = failed;
	if (r->progress)
		draw_progress(r, false); /* main draws the last state */
}

/* In the parent, in job order: print job i's line (tool_pool_emit_fn). */
static int emit(size_t i, const char *text, size_t len, bool failed, int wstatus, void *ctx)
{
	run *r = ctx;
	char *own = NULL;
	if (failed)
		r->status = 1;
	if (text == NULL) {
		/* The worker died on this file: say how, in the same format as any other failure. */
		char msg[200];
		if (WIFSIGNALED(wstatus))
			snprintf(msg, sizeof msg, "the analysis process was killed by signal %d (%s) during this file",
				 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
		else
			snprintf(msg, sizeof msg, "the analysis process exited with status %d during this file",
				 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
		json_object *o = json_object_new_object();
		int enc = o == NULL ? -1
				    : ss_json_add_string(o, "file", r->v[i].path) |
					      ss_json_add_string(o, "error", ss_code_name(SS_ERR_INTERNAL)) |
					      ss_json_add_string(o, "message", msg);
		if (enc != 0 || json_text(o, r->pretty, &own, &len) != 0) {
			json_object_put(o);
			fprintf(stderr, "songscope-analyze: out of memory\n");
			return -1;
		}
		json_object_put(o);
		text = own;
	}
	if (r->shown && r->stdout_tty) {
		fputs("\r\033[K", stderr);
		r->shown = false;
	}
	int rc = 0;
	if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout) != 0) {
		char why[160];
		snprintf(why, sizeof why, "cannot write its result: %s", strerror(errno));
		note(r->shown ? "\n" : "", r->v[i].path, why);
		r->status = 1;
		rc = -1;
	}
	free(own);
	return rc;
}

/* The single job 0 in this process: the same work, progress and emit calls a worker and the parent make. */
static void run_inline(run *r)
{
	char *text = NULL;
	size_t len = 0;
	bool failed = false;
	if (work(0, r, &text, &len, &failed) != 0) {
		fprintf(stderr, "songscope-analyze: out of memory\n");
		r->status = 1;
		return;
	}
	progress(1, failed ? 1 : 0, r);
	if (emit(0, text, len, failed, 0, r) != 0)
		r->status = 1;
	free(text);
}

int main(int argc, char **argv)
{
	run r = {0};
	ss_analysis_opts_default(&r.opts);
	ss_analysis_process_init(); /* many files in one process; the workers inherit it */
	ss_bigmem_use_huge_pages(true); /* a short-lived process: fresh pages, fewer faults with huge ones */
	unsigned jobs = 0;
	bool recursive = false;
	static const struct option longopts[] = {
		{"beats", no_argument, NULL, 'b'},     {"pretty", no_argument, NULL, 'p'},
		{"timeline", no_argument, NULL, 't'},
		{"max-seconds", required_argument, NULL, 'm'}, {"version", no_argument, NULL, 'V'},
		{"jobs", required_argument, NULL, 'j'}, {"recursive", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "bpm:j:rVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			r.beats = true;
			break;
		case 't':
			r.timeline = true;
			break;
		case 'p':
			r.pretty = true;
			break;
		case 'm': {
			char *end = NULL;
			double v = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(v >= 3 && v <= 3600)) {
				fprintf(stderr, "songscope-analyze: --max-seconds must be a number from 3 to 3600\n");
				return 2;
			}
			r.opts.max_seconds = v;
			break;
		}
		case 'j': {
			char *end = NULL;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || errno != 0 || v < 1 || v > MAX_JOBS) {
				fprintf(stderr, "songscope-analyze: --jobs must be a whole number from 1 to %d\n", MAX_JOBS);
				return 2;
			}
			jobs = (unsigned)v;
			break;
		}
		case 'r':
			recursive = true;
			break;
		case 'V':
			printf("songscope-analyze %s\ndecoders: %s\n", PACKAGE_VERSION, ss_analysis_decoders());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (jobs == 0)
		jobs = default_jobs();

	bool stdin_used = false;
	for (int i = optind; i < argc; i++) {
		if (add_operand(&r, argv[i], recursive, &stdin_used) != 0) {
			fprintf(stderr, "songscope-analyze: out of memory\n");
			free_jobs(&r);
			return 1;
		}
	}
	r.progress = isatty(STDERR_FILENO) == 1;
	r.stdout_tty = isatty(STDOUT_FILENO) == 1;
	/* Cores left idle by the processes give each analysis a second thread (ss_analysis_opts.threads): one file
	 * on two cores is decoded and analysed on both. Threads start only in a process that forks no more. */
	size_t procs = r.n < jobs ? r.n : jobs;
	if (procs >= 1 && procs * 2 <= default_jobs())
		r.opts.threads = 2;
	if (r.n == 1) {
		/* One file: analysed in this process, no worker to fork and no pipe to pass the result through. */
		run_inline(&r);
	} else {
		size_t window = (size_t)jobs * 8 < 64 ? 64 : (size_t)jobs * 8;
		tool_pool_opts po = {
			.jobs = jobs, .window = window, .work = work, .emit = emit, .progress = progress, .ctx = &r};
		char why[256];
		if (tool_pool_run(r.n, &po, why, sizeof why) != 0) {
			if (why[0] != '\0')
				fprintf(stderr, "%ssongscope-analyze: %s\n", r.shown ? "\n" : "", why);
			r.shown = false;
			r.status = 1;
		}
	}
	if (r.progress && r.n > 0) {
		draw_progress(&r, true); /* the counts at the end stay on the screen */
		fputc('\n', stderr);
	}
	free_jobs(&r);
	return r.status;
}
