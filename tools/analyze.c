/* songscope-analyze: analyse audio files and print one JSON object per file (the API's result fields). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result_json.h"
#include "core/util/jsonutil.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: songscope-analyze [--beats] [--pretty] [--max-seconds N] FILE...\n"
		"A FILE of - reads the audio from standard input.\n"
		"Analyse audio files (WAV, AIFF, FLAC, Ogg Vorbis/Opus, MP3, AAC/M4A when built with FFmpeg) and print\n"
		"one JSON object per line per file: \"file\" plus the fields the HTTP API returns for a result.\n"
		"A file that cannot be analysed prints {\"file\", \"error\", \"message\"}; the exit status is then 1.\n"
		"\n"
		"  --beats           include the beat and downbeat times (seconds)\n"
		"  --pretty          indent the JSON (several lines per file)\n"
		"  --max-seconds N   analyse at most the first N seconds (default 30, 3..3600)\n"
		"  --version         print the version and the decoders compiled in\n"
		"  --help            print this help\n");
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

static int print_obj(json_object *o, bool pretty)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE | (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
							       : JSON_C_TO_STRING_PLAIN);
	const char *s = json_object_to_json_string_ext(o, flags);
	if (s == NULL)
		return -1;
	if (puts(s) == EOF)
		return -1;
	return fflush(stdout) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	bool beats = false, pretty = false;
	ss_analysis_opts opts;
	ss_analysis_opts_default(&opts);
	ss_analysis_process_init(); /* many files in one process */
	static const struct option longopts[] = {
		{"beats", no_argument, NULL, 'b'},     {"pretty", no_argument, NULL, 'p'},
		{"max-seconds", required_argument, NULL, 'm'}, {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "bpm:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			beats = true;
			break;
		case 'p':
			pretty = true;
			break;
		case 'm': {
			char *end = NULL;
			double v = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(v >= 3 && v <= 3600)) {
				fprintf(stderr, "songscope-analyze: --max-seconds must be a number from 3 to 3600\n");
				return 2;
			}
			opts.max_seconds = v;
			break;
		}
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
	int status = 0;
	for (int i = optind; i < argc; i++) {
		const char *path = argv[i];
		ss_result r;
		ss_result_init(&r);
		ss_error err;
		ss_error_clear(&err);
		json_object *o = json_object_new_object();
		if (o == NULL || ss_json_add_string(o, "file", path) != 0) {
			fprintf(stderr, "songscope-analyze: out of memory\n");
			return 1;
		}
		int rc;
		if (strcmp(path, "-") == 0) {
			/* Standard input (once: a second - finds it at its end). Capped like an upload. */
			unsigned char *data = NULL;
			size_t len = 0;
			rc = read_stdin(&data, &len, (size_t)1 << 30, &err);
			if (rc == 0)
				rc = ss_analyze_buffer(data, len, &opts, &r, &err);
			free(data);
		} else {
			rc = ss_analyze_file(path, &opts, &r, &err);
		}
		int enc;
		if (rc == 0) {
			enc = ss_result_to_json(&r, beats, o);
		} else {
			status = 1;
			enc = ss_json_add_string(o, "error", ss_code_name(err.code)) |
			      ss_json_add_string(o, "message", err.msg);
		}
		if (enc != 0 || print_obj(o, pretty) != 0) {
			fprintf(stderr, "songscope-analyze: cannot write the result for %s\n", path);
			status = 1;
		}
		json_object_put(o);
		ss_result_free(&r);
	}
	return status;
}
