/* songscope.conf: `key = value` lines, `#` comments. Unknown keys and bad values are errors naming the line. */
#ifndef SS_CONFIG_CONFIG_H
#define SS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util/error.h"

#define SS_CONFIG_PATH_MAX 1024
#define SS_CONFIG_LIST_MAX 512
#define SS_CONFIG_NAME_MAX 64

typedef enum ss_auth_mode { SS_AUTH_REQUIRED = 0, SS_AUTH_OFF = 1 } ss_auth_mode;

typedef struct ss_config {
	char store[16];                      /* store backend: sqlite (default) | postgresql */
	char database[SS_CONFIG_PATH_MAX];   /* SQLite file (store = sqlite) */
	char postgresql[SS_CONFIG_LIST_MAX]; /* libpq conninfo (store = postgresql) */
	char state_file[SS_CONFIG_PATH_MAX]; /* shared mmap'd state file */
	int database_busy_timeout_ms;        /* how long a write waits for another process's lock (then 503 busy) */
	ss_auth_mode auth;                   /* required (default) | off */
	int workers;                         /* responders the master forks (--listen mode) */
	long max_requests;                   /* requests per responder before it is recycled (±10% jitter) */
	char log_level[16];                  /* error|warn|info|debug */
	char log_target[16];                 /* stderr|syslog */
	int shutdown_timeout;                /* seconds in-flight requests get on stop before SIGKILL */
	long long max_body_bytes;            /* request body cap (413 above it) */
	double max_analysis_seconds;         /* analyse at most this much audio */
	int max_concurrent_analyses;         /* 0 = workers - 1, at least 1 */
	int max_concurrent_downloads;        /* URL downloads at once; 0 = workers - 1, at least 1 */
	int fetch_timeout_seconds;           /* total time for one download */
	long long fetch_max_bytes;           /* download size cap */
	int fetch_max_redirects;
	bool fetch_allow_private;            /* allow loopback/private/link-local targets */
	int fetch_low_speed_bytes_per_second; /* minimum download rate (0 = none)... */
	int fetch_low_speed_seconds;         /* ...over this many seconds (0 = none) */
	int dedup_wait_seconds;              /* wait for an identical analysis beyond the request's fetch time */
	int key_cache_ttl;                   /* seconds */
	int key_cache_size;                  /* entries per responder */
	int rate_limit_per_minute;           /* default per-key limit */
	int rate_limit_burst;                /* requests a key may make at once beyond the steady rate: a count, */
	bool rate_limit_burst_percent;       /* ...or, when true, a percentage of the key's rate (rounded down) */
	int auth_failures_per_minute;        /* failed key attempts allowed per client address */
	double analysis_queue_timeout;       /* seconds a miss waits for an analysis slot (0 = refuse at once) */
	char metrics_allow[SS_CONFIG_LIST_MAX]; /* addresses/CIDR ranges (space/comma separated) allowed /metrics
						 * without a key */
	char anonymous_networks[SS_CONFIG_LIST_MAX]; /* ranges whose requests without a key act as anonymous_key */
	char cors_origins[SS_CONFIG_LIST_MAX]; /* web origins (space/comma separated) whose pages may call the API
						* (CORS); "" = none */
	char anonymous_key[128];                     /* name of the client key those requests act as */
	char user[SS_CONFIG_NAME_MAX];       /* started as root: drop to this user after opening files ("" = none) */
	char group[SS_CONFIG_NAME_MAX];      /* ...and this group ("" = the user's primary group) */
	bool listen_allow_remote;            /* allow a --listen TCP address that is not loopback */
	char ui_dir[SS_CONFIG_PATH_MAX];     /* the web page's files, served under /ui/ ("" = no page) */
	char preload_ffmpeg[8];              /* auto|yes|no: load FFmpeg at start (before fork), not at the first AAC */
	char limits[8];                      /* local|redis: where rate limits, quotas and key invalidation live */
	char redis[SS_CONFIG_PATH_MAX];      /* limits = redis: unix:PATH or HOST:PORT */
	char redis_password[128];            /* AUTH after connecting ("" = none) */
	int redis_db;                        /* SELECT after connecting */
	int redis_timeout_ms;                /* connect and command timeout */
	char limits_fail[8];                 /* closed|open: what requests get while the limiter is unavailable */
} ss_config;

/* Fill c with the documented defaults (conf/songscope.conf). */
void ss_config_defaults(ss_config *c);

/* Parse config text (len bytes; need not be NUL-terminated) on top of what c holds. `name` is used in
 * messages. Returns 0, or -1 with err (SS_ERR_CONFIG) naming the line: "FILE:LINE: unknown key 'x'". */
int ss_config_parse(ss_config *c, const char *text, size_t len, const char *name, ss_error *err);

/* Read and parse a file on top of c. Returns 0 or -1 with err (unreadable file or parse error). */
int ss_config_load(ss_config *c, const char *path, ss_error *err);

/* Check cross-key constraints after loading (e.g. paths set). Returns 0 or -1 with err. */
int ss_config_validate(const ss_config *c, ss_error *err);

/* Effective download concurrency: max_concurrent_downloads, or workers - 1 (at least 1) when 0. */
int ss_config_download_slots(const ss_config *c);
/* rate_limit_burst for a key whose per-minute rate is `rate` (>= 1): the count, or rate * percent / 100
 * rounded down. Always >= 0. */
int ss_config_rate_burst(const ss_config *c, int rate);

/* Effective analysis concurrency: max_concurrent_analyses, or workers - 1 (at least 1) when 0. */
int ss_config_analysis_slots(const ss_config *c);

/* Requests that may wait for an analysis slot at once (queue seats): workers - slots - 1, so that one
 * responder stays free for cache hits and /health, but at least 1 (with the default workers = slots + 1,
 * one request may wait and then no responder is free until an analysis ends; see songscope.conf(5)). */
int ss_config_queue_seats(const ss_config *c);

#endif
