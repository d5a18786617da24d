#include "core/config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/net/cidr.h"
#include "core/net/origin.h"
#include "core/util/strnum.h"

typedef enum { T_PATH, T_INT, T_LLONG, T_LONG, T_DOUBLE, T_BOOL, T_AUTH, T_CHOICE, T_LIST, T_NAME, T_BURST, T_CIDRS, T_TEXT, T_ORIGINS } opt_type;

typedef struct {
	const char *key;
	opt_type type;
	size_t off;
	double min, max;       /* numeric bounds */
	const char *choices;   /* T_CHOICE: '|'-separated */
	size_t size;           /* string capacity */
} opt_def;

#define OFF(f) offsetof(ss_config, f)
#define SZ(f) sizeof(((ss_config *)0)->f)

static const opt_def opts[] = {
	{"store", T_CHOICE, OFF(store), 0, 0, "sqlite|postgresql", SZ(store)},
	{"database", T_PATH, OFF(database), 0, 0, NULL, SZ(database)},
	{"postgresql", T_TEXT, OFF(postgresql), 0, 0, NULL, SZ(postgresql)},
	{"state_file", T_PATH, OFF(state_file), 0, 0, NULL, SZ(state_file)},
	{"database_busy_timeout_ms", T_INT, OFF(database_busy_timeout_ms), 0, 600000, NULL, 0},
	{"auth", T_AUTH, OFF(auth), 0, 0, NULL, 0},
	{"workers", T_INT, OFF(workers), 1, 256, NULL, 0},
	{"max_requests", T_LONG, OFF(max_requests), 1, 100000000, NULL, 0},
	{"log_level", T_CHOICE, OFF(log_level), 0, 0, "error|warn|info|debug", SZ(log_level)},
	{"log_target", T_CHOICE, OFF(log_target), 0, 0, "stderr|syslog", SZ(log_target)},
	{"shutdown_timeout", T_INT, OFF(shutdown_timeout), 1, 3600, NULL, 0},
	{"max_body_bytes", T_LLONG, OFF(max_body_bytes), 1024, 1073741824.0, NULL, 0},
	{"max_analysis_seconds", T_DOUBLE, OFF(max_analysis_seconds), 5, 600, NULL, 0},
	{"max_concurrent_analyses", T_INT, OFF(max_concurrent_analyses), 0, 256, NULL, 0},
	{"max_concurrent_downloads", T_INT, OFF(max_concurrent_downloads), 0, 256, NULL, 0},
	{"fetch_timeout_seconds", T_INT, OFF(fetch_timeout_seconds), 1, 600, NULL, 0},
	{"fetch_max_bytes", T_LLONG, OFF(fetch_max_bytes), 1024, 1073741824.0, NULL, 0},
	{"fetch_max_redirects", T_INT, OFF(fetch_max_redirects), 0, 20, NULL, 0},
	{"fetch_allow_private", T_BOOL, OFF(fetch_allow_private), 0, 0, NULL, 0},
	{"fetch_low_speed_bytes_per_second", T_INT, OFF(fetch_low_speed_bytes_per_second), 0, 1073741824.0, NULL, 0},
	{"fetch_low_speed_seconds", T_INT, OFF(fetch_low_speed_seconds), 0, 600, NULL, 0},
	{"dedup_wait_seconds", T_INT, OFF(dedup_wait_seconds), 1, 600, NULL, 0},
	{"key_cache_ttl", T_INT, OFF(key_cache_ttl), 0, 86400, NULL, 0},
	{"key_cache_size", T_INT, OFF(key_cache_size), 1, 1000000, NULL, 0},
	{"rate_limit_per_minute", T_INT, OFF(rate_limit_per_minute), 1, 1000000, NULL, 0},
	{"rate_limit_burst", T_BURST, OFF(rate_limit_burst), 0, 1000000, NULL, 0},
	{"auth_failures_per_minute", T_INT, OFF(auth_failures_per_minute), 1, 1000000, NULL, 0},
	{"analysis_queue_timeout", T_DOUBLE, OFF(analysis_queue_timeout), 0, 600, NULL, 0},
	{"metrics_allow", T_CIDRS, OFF(metrics_allow), 0, 0, NULL, SZ(metrics_allow)},
	{"anonymous_networks", T_CIDRS, OFF(anonymous_networks), 0, 0, NULL, SZ(anonymous_networks)},
	{"cors_origins", T_ORIGINS, OFF(cors_origins), 0, 0, NULL, SZ(cors_origins)},
	{"anonymous_key", T_TEXT, OFF(anonymous_key), 0, 0, NULL, SZ(anonymous_key)},
	{"user", T_NAME, OFF(user), 0, 0, NULL, SZ(user)},
	{"group", T_NAME, OFF(group), 0, 0, NULL, SZ(group)},
	{"listen_allow_remote", T_BOOL, OFF(listen_allow_remote), 0, 0, NULL, 0},
	{"ui_dir", T_TEXT, OFF(ui_dir), 0, 0, NULL, SZ(ui_dir)},
	{"preload_ffmpeg", T_CHOICE, OFF(preload_ffmpeg), 0, 0, "auto|yes|no", SZ(preload_ffmpeg)},
	{"limits", T_CHOICE, OFF(limits), 0, 0, "local|redis", SZ(limits)},
	{"redis", T_TEXT, OFF(redis), 0, 0, NULL, SZ(redis)},
	{"redis_password", T_TEXT, OFF(redis_password), 0, 0, NULL, SZ(redis_password)},
	{"redis_db", T_INT, OFF(redis_db), 0, 1000000, NULL, 0},
	{"redis_timeout_ms", T_INT, OFF(redis_timeout_ms), 10, 60000, NULL, 0},
	{"limits_fail", T_CHOICE, OFF(limits_fail), 0, 0, "closed|open", SZ(limits_fail)},
};

void ss_config_defaults(ss_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->store, sizeof c->store, "sqlite");
	snprintf(c->database, sizeof c->database, "%s/songscope.db", SS_STATEDIR);
	snprintf(c->state_file, sizeof c->state_file, "%s/songscope.state", SS_STATEDIR);
	c->database_busy_timeout_ms = 5000;
	c->auth = SS_AUTH_REQUIRED;
	c->workers = 2;
	c->max_requests = 10000;
	snprintf(c->log_level, sizeof c->log_level, "info");
	snprintf(c->log_target, sizeof c->log_target, "stderr");
	c->shutdown_timeout = 30;
	c->max_body_bytes = 50LL * 1024 * 1024;
	c->max_analysis_seconds = 30;
	c->max_concurrent_analyses = 0;
	c->max_concurrent_downloads = 0;
	c->fetch_timeout_seconds = 30;
	c->fetch_max_bytes = 50LL * 1024 * 1024;
	c->fetch_max_redirects = 3;
	c->fetch_allow_private = false;
	c->fetch_low_speed_bytes_per_second = 1024;
	c->fetch_low_speed_seconds = 5;
	c->dedup_wait_seconds = 30;
	c->key_cache_ttl = 300;
	c->key_cache_size = 4096;
	c->rate_limit_per_minute = 60;
	c->rate_limit_burst = 10;
	c->rate_limit_burst_percent = true;
	c->auth_failures_per_minute = 20;
	c->analysis_queue_timeout = 10;
	c->metrics_allow[0] = '\0';
	c->anonymous_networks[0] = '\0';
	c->anonymous_key[0] = '\0';
	c->cors_origins[0] = '\0';
	snprintf(c->ui_dir, sizeof c->ui_dir, "%s/ui", SS_PKGDATADIR);
	snprintf(c->preload_ffmpeg, sizeof c->preload_ffmpeg, "auto");
	snprintf(c->limits, sizeof c->limits, "local");
	c->redis_timeout_ms = 500;
	snprintf(c->limits_fail, sizeof c->limits_fail, "closed");
}

static int set_value(ss_config *c, const opt_def *o, const char *v, char *why, size_t whylen)
{
	char *field = (char *)c + o->off;
	int64_t i;
	double d;
	bool b;

	switch (o->type) {
	case T_NAME:
		/* A user or group name: what useradd accepts, or a number. */
		if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(v) ||
		    v[0] == '-') {
			snprintf(why, whylen, "expected a user or group name");
			return -1;
		}
		/* fall through */
	case T_PATH:
	case T_LIST:
	case T_CIDRS:
	case T_ORIGINS:
	case T_TEXT:
		if (strlen(v) >= o->size) {
			snprintf(why, whylen, "value too long (at most %zu bytes)", o->size - 1);
			return -1;
		}
		if (o->type == T_PATH && v[0] == '\0') {
			snprintf(why, whylen, "empty path");
			return -1;
		}
		if (o->type == T_CIDRS && ss_cidr_list_check(v, why, whylen) != 0)
			return -1;
		if (o->type == T_ORIGINS && ss_origin_list_check(v, why, whylen) != 0)
			return -1;
		for (const char *p = v; o->type == T_TEXT && *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				snprintf(why, whylen, "control characters are not allowed");
				return -1;
			}
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case T_INT:
	case T_LONG:
	case T_LLONG:
		if (ss_parse_i64(v, (int64_t)o->min, (int64_t)o->max, &i) != 0) {
			snprintf(why, whylen, "expected an integer from %.0f to %.0f", o->min, o->max);
			return -1;
		}
		if (o->type == T_INT)
			*(int *)(void *)field = (int)i;
		else if (o->type == T_LONG)
			*(long *)(void *)field = (long)i;
		else
			*(long long *)(void *)field = (long long)i;
		return 0;
	case T_DOUBLE:
		if (ss_parse_double(v, o->min, o->max, &d) != 0) {
			snprintf(why, whylen, "expected a number from %g to %g", o->min, o->max);
			return -1;
		}
		*(double *)(void *)field = d;
		return 0;
	case T_BOOL:
		if (ss_parse_bool(v, &b) != 0) {
			snprintf(why, whylen, "expected true or false");
			return -1;
		}
		*(bool *)(void *)field = b;
		return 0;
	case T_BURST: {
		/* "N" requests, or "N%" of the key's rate (at most 1000%). */
		size_t n = strlen(v);
		bool pct = n > 0 && v[n - 1] == '%';
		char num[32];
		size_t digits = n - (pct ? 1 : 0);
		if (digits < sizeof num) {
			memcpy(num, v, digits);
			num[digits] = '\0';
		}
		if (digits >= sizeof num || ss_parse_i64(num, 0, pct ? 1000 : (int64_t)o->max, &i) != 0) {
			snprintf(why, whylen, "expected a count from 0 to %.0f or a percentage from 0%% to 1000%% (e.g. 10%%)",
				 o->max);
			return -1;
		}
		c->rate_limit_burst = (int)i;
		c->rate_limit_burst_percent = pct;
		return 0;
	}
	case T_AUTH:
		if (strcmp(v, "required") == 0)
			c->auth = SS_AUTH_REQUIRED;
		else if (strcmp(v, "off") == 0)
			c->auth = SS_AUTH_OFF;
		else {
			snprintf(why, whylen, "expected 'required' or 'off'");
			return -1;
		}
		return 0;
	case T_CHOICE: {
		size_t n = strlen(v);
		for (const char *p = o->choices; *p != '\0';) {
			const char *bar = strchr(p, '|');
			size_t len = bar ? (size_t)(bar - p) : strlen(p);
			if (len == n && n > 0 && strncmp(p, v, n) == 0 && n < o->size) {
				memcpy(field, v, n + 1);
				return 0;
			}
			p += len + (bar ? 1 : 0);
		}
		snprintf(why, whylen, "expected one of %s", o->choices);
		return -1;
	}
	}
	return -1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Cut the comment off a trimmed value, in place. A value in double quotes runs to the next quote (no escapes);
 * after it only whitespace or a comment may follow. Unquoted, a comment needs whitespace before '#', so
 * values may contain '#'. Returns 0, or -1 with why. */
static int split_value(char **val, char *why, size_t whylen)
{
	char *v = *val;
	if (v[0] == '"') {
		char *close = strchr(v + 1, '"');
		if (close == NULL) {
			snprintf(why, whylen, "no closing quote");
			return -1;
		}
		*close = '\0';
		const char *rest = close + 1;
		rest += strspn(rest, " \t");
		if (*rest != '\0' && *rest != '#') {
			snprintf(why, whylen, "text after the closing quote (put a comment after '#')");
			return -1;
		}
		*val = v + 1;
		return 0;
	}
	for (char *h = v; (h = strchr(h, '#')) != NULL; h++) {
		if (h > v && (h[-1] == ' ' || h[-1] == '\t')) {
			*h = '\0';
			*val = trim(v);
			break;
		}
	}
	return 0;
}

int ss_config_parse(ss_config *c, const char *text, size_t len, const char *name, ss_error *err)
{
	size_t pos = 0;
	int lineno = 0;
	char line[2048];

	while (pos < len) {
		size_t end = pos;
		while (end < len && text[end] != '\n')
			end++;
		lineno++;
		size_t n = end - pos;
		if (n >= sizeof line)
			return ss_error_set(err, SS_ERR_CONFIG, "%s:%d: line too long", name, lineno);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos = end + 1;
		if (memchr(line, '\0', n) != NULL)
			return ss_error_set(err, SS_ERR_CONFIG, "%s:%d: NUL byte in line", name, lineno);

		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL)
			return ss_error_set(err, SS_ERR_CONFIG, "%s:%d: expected 'key = value'", name, lineno);
		*eq = '\0';
		char *key = trim(s);
		char *val = trim(eq + 1);
		const opt_def *o = NULL;
		for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
			if (strcmp(opts[i].key, key) == 0)
				o = &opts[i];
		if (o == NULL)
			return ss_error_set(err, SS_ERR_CONFIG, "%s:%d: unknown key '%.64s'", name, lineno, key);
		char why[160];
		if (split_value(&val, why, sizeof why) != 0 || set_value(c, o, val, why, sizeof why) != 0)
			return ss_error_set(err, SS_ERR_CONFIG, "%s:%d: bad value for '%s': %s", name, lineno, key,
					    why);
	}
	return 0;
}

int ss_config_load(ss_config *c, const char *path, ss_error *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return ss_error_set(err, SS_ERR_CONFIG, "%s: cannot open: %s", path, strerror(errno));
	char *text = NULL;
	size_t len = 0, cap = 0;
	char chunk[4096];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (len + n > 1024 * 1024) {
			rc = ss_error_set(err, SS_ERR_CONFIG, "%s: file too large", path);
			break;
		}
		if (len + n > cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			while (ncap < len + n)
				ncap *= 2;
			char *p = realloc(text, ncap);
			if (p == NULL) {
				rc = ss_error_set(err, SS_ERR_NOMEM, "%s: out of memory", path);
				break;
			}
			text = p;
			cap = ncap;
		}
		memcpy(text + len, chunk, n);
		len += n;
	}
	if (rc == 0 && ferror(f))
		rc = ss_error_set(err, SS_ERR_CONFIG, "%s: read error", path);
	fclose(f);
	if (rc == 0)
		rc = ss_config_parse(c, text ? text : "", len, path, err);
	free(text);
	return rc;
}

int ss_config_validate(const ss_config *c, ss_error *err)
{
	if (c->database[0] == '\0')
		return ss_error_set(err, SS_ERR_CONFIG, "'database' must be set");
	if (c->state_file[0] == '\0')
		return ss_error_set(err, SS_ERR_CONFIG, "'state_file' must be set");
	if (strcmp(c->database, c->state_file) == 0)
		return ss_error_set(err, SS_ERR_CONFIG, "'database' and 'state_file' must be different files");
	if (strcmp(c->store, "postgresql") == 0 && c->postgresql[0] == '\0')
		return ss_error_set(err, SS_ERR_CONFIG, "'store = postgresql' needs 'postgresql': a libpq connection string");
	if (c->group[0] != '\0' && c->user[0] == '\0')
		return ss_error_set(err, SS_ERR_CONFIG, "'group' needs 'user': set the user to run as");
	if (c->anonymous_networks[0] != '\0' && c->anonymous_key[0] == '\0')
		return ss_error_set(err, SS_ERR_CONFIG,
				    "'anonymous_networks' needs 'anonymous_key': the name of the client key those requests act as");
	if (strcmp(c->limits, "redis") == 0) {
		if (c->redis[0] == '\0')
			return ss_error_set(err, SS_ERR_CONFIG,
					    "'limits = redis' needs 'redis': unix:PATH or HOST:PORT");
		const char *colon = strrchr(c->redis, ':');
		int64_t port;
		if (strncmp(c->redis, "unix:", 5) == 0 ? c->redis[5] != '/'
						       : colon == NULL || colon == c->redis ||
								 ss_parse_i64(colon + 1, 1, 65535, &port) != 0)
			return ss_error_set(err, SS_ERR_CONFIG,
					    "'redis' must be unix:/ABSOLUTE/PATH or HOST:PORT (port 1 to 65535)");
	}
	return 0;
}

int ss_config_download_slots(const ss_config *c)
{
	if (c->max_concurrent_downloads > 0)
		return c->max_concurrent_downloads;
	return c->workers > 1 ? c->workers - 1 : 1;
}

int ss_config_rate_burst(const ss_config *c, int rate)
{
	if (!c->rate_limit_burst_percent)
		return c->rate_limit_burst;
	if (rate < 1)
		rate = 1;
	return (int)((int64_t)rate * c->rate_limit_burst / 100);
}

int ss_config_analysis_slots(const ss_config *c)
{
	if (c->max_concurrent_analyses > 0)
		return c->max_concurrent_analyses;
	return c->workers > 1 ? c->workers - 1 : 1;
}

int ss_config_queue_seats(const ss_config *c)
{
	int seats = c->workers - ss_config_analysis_slots(c) - 1;
	return seats > 1 ? seats : 1;
}
