/* libFuzzer target: the config parser (ss_config_parse, and ss_config_load on the same bytes written to a
 * temporary file). Checked: parsing a buffer and loading the file give the same result and message; an error
 * names the file and a line that exists; on success every field is within its documented bounds and every
 * string is terminated inside its field; and a round trip: the parsed config written back as `key = "value"`
 * lines (bare when the value holds a quote) parses to the same config. Values holding " #" are left out of the
 * round trip: a quoted value with a comment marker used to be cut at the '#'. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config/config.h"
#include "core/util/buf.h"
#include "tests/fixtures/scratch.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[320];

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FZ_ASSERT(ss_scratch_path(path, sizeof path, "ssfuzz-conf-XXXXXX") == 0, "a temporary file's name");
	int fd = mkstemp(path);
	FZ_ASSERT(fd >= 0, "a temporary file");
	close(fd);
	atexit(cleanup);
	return 0;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void check_bounds(const ss_config *c)
{
	FZ_ASSERT(terminated(c->database, sizeof c->database) && c->database[0] != '\0', "database");
	FZ_ASSERT(terminated(c->state_file, sizeof c->state_file) && c->state_file[0] != '\0', "state_file");
	FZ_ASSERT(c->auth == SS_AUTH_REQUIRED || c->auth == SS_AUTH_OFF, "auth");
	FZ_ASSERT(c->workers >= 1 && c->workers <= 256, "workers");
	FZ_ASSERT(c->max_requests >= 1 && c->max_requests <= 100000000, "max_requests");
	FZ_ASSERT(!strcmp(c->log_level, "error") || !strcmp(c->log_level, "warn") || !strcmp(c->log_level, "info") ||
			  !strcmp(c->log_level, "debug"),
		  "log_level");
	FZ_ASSERT(!strcmp(c->log_target, "stderr") || !strcmp(c->log_target, "syslog"), "log_target");
	FZ_ASSERT(c->shutdown_timeout >= 1 && c->shutdown_timeout <= 3600, "shutdown_timeout");
	FZ_ASSERT(c->max_body_bytes >= 1024 && c->max_body_bytes <= 1073741824LL, "max_body_bytes");
	FZ_ASSERT(isfinite(c->max_analysis_seconds) && c->max_analysis_seconds >= 5 && c->max_analysis_seconds <= 600,
		  "max_analysis_seconds");
	FZ_ASSERT(c->max_concurrent_analyses >= 0 && c->max_concurrent_analyses <= 256, "max_concurrent_analyses");
	FZ_ASSERT(c->fetch_timeout_seconds >= 1 && c->fetch_timeout_seconds <= 600, "fetch_timeout_seconds");
	FZ_ASSERT(c->fetch_max_bytes >= 1024 && c->fetch_max_bytes <= 1073741824LL, "fetch_max_bytes");
	FZ_ASSERT(c->fetch_max_redirects >= 0 && c->fetch_max_redirects <= 20, "fetch_max_redirects");
	FZ_ASSERT(c->key_cache_ttl >= 0 && c->key_cache_ttl <= 86400, "key_cache_ttl");
	FZ_ASSERT(c->key_cache_size >= 1 && c->key_cache_size <= 1000000, "key_cache_size");
	FZ_ASSERT(c->rate_limit_per_minute >= 1 && c->rate_limit_per_minute <= 1000000, "rate_limit_per_minute");
	FZ_ASSERT(c->auth_failures_per_minute >= 1 && c->auth_failures_per_minute <= 1000000,
		  "auth_failures_per_minute");
	FZ_ASSERT(terminated(c->metrics_allow, sizeof c->metrics_allow), "metrics_allow");
	FZ_ASSERT(ss_config_analysis_slots(c) >= 1, "at least one analysis slot");
}

static bool comment_marker(const char *s)
{
	return strstr(s, " #") != NULL || strstr(s, "\t#") != NULL;
}

/* Write c as config text; false when a value cannot be written so that it reads back (see the header). */
static bool write_config(const ss_config *c, ss_buf *b)
{
	const char *strs[][2] = {{"database", c->database},
				 {"state_file", c->state_file},
				 {"log_level", c->log_level},
				 {"log_target", c->log_target},
				 {"metrics_allow", c->metrics_allow}};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		const char *v = strs[i][1];
		size_t n = strlen(v);
		FZ_ASSERT(strchr(v, '\n') == NULL, "no newline in a value");
		if (comment_marker(v))
			return false;
		if (strchr(v, '"') == NULL) { /* quoted: spaces and '#' kept */
			FZ_ASSERT(ss_buf_printf(b, "%s = \"%s\"\n", strs[i][0], v) == 0, "out of memory");
			continue;
		}
		/* a value holding a quote can only be written bare: no surrounding blanks, no leading quote */
		if (v[0] == '"' || strchr(" \t\r", v[0]) != NULL || strchr(" \t\r", v[n - 1]) != NULL || v[0] == '#')
			return false;
		FZ_ASSERT(ss_buf_printf(b, "%s = %s\n", strs[i][0], v) == 0, "out of memory");
	}
	FZ_ASSERT(ss_buf_printf(b,
				"auth = %s\nworkers = %d\nmax_requests = %ld\nshutdown_timeout = %d\n"
				"max_body_bytes = %lld\nmax_analysis_seconds = %.17g\nmax_concurrent_analyses = %d\n"
				"fetch_timeout_seconds = %d\nfetch_max_bytes = %lld\nfetch_max_redirects = %d\n"
				"fetch_allow_private = %s\nkey_cache_ttl = %d\nkey_cache_size = %d\n"
				"rate_limit_per_minute = %d\nauth_failures_per_minute = %d\n",
				c->auth == SS_AUTH_OFF ? "off" : "required", c->workers, c->max_requests,
				c->shutdown_timeout, c->max_body_bytes, c->max_analysis_seconds,
				c->max_concurrent_analyses, c->fetch_timeout_seconds, c->fetch_max_bytes,
				c->fetch_max_redirects, c->fetch_allow_private ? "true" : "false", c->key_cache_ttl,
				c->key_cache_size, c->rate_limit_per_minute, c->auth_failures_per_minute) == 0,
		  "out of memory");
	return true;
}

static bool same(const ss_config *a, const ss_config *b)
{
	return !strcmp(a->database, b->database) && !strcmp(a->state_file, b->state_file) && a->auth == b->auth &&
	       a->workers == b->workers && a->max_requests == b->max_requests && !strcmp(a->log_level, b->log_level) &&
	       !strcmp(a->log_target, b->log_target) && a->shutdown_timeout == b->shutdown_timeout &&
	       a->max_body_bytes == b->max_body_bytes && a->max_analysis_seconds == b->max_analysis_seconds &&
	       a->max_concurrent_analyses == b->max_concurrent_analyses &&
	       a->fetch_timeout_seconds == b->fetch_timeout_seconds && a->fetch_max_bytes == b->fetch_max_bytes &&
	       a->fetch_max_redirects == b->fetch_max_redirects && a->fetch_allow_private == b->fetch_allow_private &&
	       a->key_cache_ttl == b->key_cache_ttl && a->key_cache_size == b->key_cache_size &&
	       a->rate_limit_per_minute == b->rate_limit_per_minute &&
	       a->auth_failures_per_minute == b->auth_failures_per_minute && !strcmp(a->metrics_allow, b->metrics_allow);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ss_config c, f;
	ss_error e1, e2;
	ss_config_defaults(&c);
	ss_config_defaults(&f);
	ss_error_clear(&e1);
	ss_error_clear(&e2);
	int rc = ss_config_parse(&c, (const char *)data, size, path, &e1);

	FILE *fp = fopen(path, "wb");
	FZ_ASSERT(fp != NULL && fwrite(data, 1, size, fp) == size && fclose(fp) == 0, "writing the temporary file");
	int rc2 = ss_config_load(&f, path, &e2);
	FZ_ASSERT(rc == rc2 && (rc != 0 || same(&c, &f)), "parsing the text and loading the file agree");
	if (rc != 0) {
		FZ_ASSERT(e1.code == SS_ERR_CONFIG && strcmp(e1.msg, e2.msg) == 0, "the same error either way");
		size_t pl = strlen(path);
		FZ_ASSERT(strncmp(e1.msg, path, pl) == 0 && e1.msg[pl] == ':', "the error names the file");
		long line = strtol(e1.msg + pl + 1, NULL, 10);
		size_t lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		FZ_ASSERT(line >= 1 && (size_t)line <= lines, "the error names a line of the file");
		return 0;
	}
	check_bounds(&c);
	(void)ss_config_validate(&c, &e1);

	ss_buf b;
	ss_buf_init(&b, 0);
	if (write_config(&c, &b)) {
		ss_config r;
		ss_config_defaults(&r);
		/* start from other values so that every line has to set its field */
		r.workers = 7;
		r.auth = c.auth == SS_AUTH_OFF ? SS_AUTH_REQUIRED : SS_AUTH_OFF;
		r.fetch_allow_private = !c.fetch_allow_private;
		FZ_ASSERT(ss_config_parse(&r, b.data, b.len, "roundtrip", &e1) == 0, e1.msg);
		FZ_ASSERT(same(&c, &r), "written back and parsed again, the config is the same");
	}
	ss_buf_free(&b);
	return 0;
}
