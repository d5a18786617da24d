/* Integration-test harness: the real songscope.fcgi (its own master, N responders) behind a real nginx
 * built from conf/nginx/songscope.conf, on a free loopback port, in a private temp dir; libcurl requests.
 * The same for lighttpd, Apache and spawn-fcgi (ss_it_opts.front), each from its file in conf/. */
#ifndef SS_TESTS_HARNESS_H
#define SS_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "core/util/buf.h"
#include "tests/integration/redis_server.h"

/* Which web server fronts songscope, and who starts the responders. */
typedef enum ss_it_front {
	SS_IT_NGINX = 0,      /* nginx (conf/nginx/songscope.conf); songscope's master on a unix socket */
	SS_IT_LIGHTTPD,       /* lighttpd (conf/lighttpd/songscope.conf); songscope's master on a unix socket */
	SS_IT_LIGHTTPD_SPAWN, /* lighttpd (conf/lighttpd/songscope-spawn.conf) spawns the responders (bin-path) */
	SS_IT_APACHE_PROXY,   /* Apache mod_proxy_fcgi (conf/apache/songscope-proxy-fcgi.conf); songscope's master */
	SS_IT_APACHE_FCGID,   /* Apache mod_fcgid (conf/apache/songscope-fcgid.conf) spawns the responders */
	SS_IT_SPAWN_FCGI,     /* spawn-fcgi -n ... -- songscope.fcgi --workers N (fd-0 master), behind nginx */
	SS_IT_SPAWN_FCGI_ONE, /* spawn-fcgi -n ... -- songscope.fcgi (the fd-0 form: one responder), behind nginx */
	SS_IT_FRONT_COUNT
} ss_it_front;

typedef struct ss_it_opts {
	int workers;            /* responders (default 2) */
	const char *auth;       /* "required" or "off" (default "off") */
	const char *extra_conf; /* lines appended to songscope.conf, or NULL */
	const char *extra_http; /* text added inside nginx's http {} (e.g. a static file server), or NULL;
				 * "@DIR@" in it is replaced by the temp dir */
	bool no_songscope;      /* start only nginx (the test starts the responder itself) */
	ss_it_front front;      /* default SS_IT_NGINX; extra_http applies to nginx fronts only */
} ss_it_opts;

typedef struct ss_it_server {
	char dir[256];         /* private temp dir, removed by ss_it_stop */
	char conf[320];        /* songscope.conf */
	char db[320];          /* SQLite file */
	char state[320];       /* state file */
	char socket[320];      /* FastCGI unix socket */
	char base_url[64];     /* http://127.0.0.1:PORT */
	int port;              /* nginx port */
	int extra_port;        /* a second free port, for servers in extra_http ("@PORT2@") */
	pid_t master_pid;      /* songscope master, 0 when not running (and always 0 when the web server
				* spawns the responders) */
	pid_t nginx_pid;       /* nginx (SS_IT_NGINX, SS_IT_SPAWN_FCGI), else 0 */
	int workers;
	ss_it_front front;
	pid_t web_pid;         /* lighttpd or Apache, else 0 */
	struct ss_pg_server *pg; /* the test's own PostgreSQL when SS_IT_STORE=postgresql (see ss_it_start), else NULL */
	ss_redis_server redis; /* with SS_IT_LIMITS=redis in the environment: the test's redis-server (else pid 0) */
} ss_it_server;

typedef struct ss_it_resp {
	long status;
	ss_buf body;
	ss_buf headers; /* raw header block */
} ss_it_resp;

/* Path of the built songscope binaries and source tree (from the test environment). */
const char *ss_it_builddir(void);
const char *ss_it_srcdir(void);

/* True when nginx is available; tests call this first and skip (exit 77) otherwise. */
bool ss_it_have_nginx(void);

/* True when everything front f needs is installed (web server, modules, spawn-fcgi). */
bool ss_it_have_front(ss_it_front f);

/* Short name of a front for messages ("nginx", "lighttpd", "lighttpd-bin-path", "apache-proxy-fcgi",
 * "apache-fcgid", "spawn-fcgi", "spawn-fcgi-fd0"). */
const char *ss_it_front_name(ss_it_front f);

/* The store backend the integration tests run against: SS_IT_STORE=postgresql selects PostgreSQL (each
 * ss_it_start then starts its own server, see tests/integration/pg_server.h); anything else SQLite. */
bool ss_it_store_postgresql(void);

/* The store parameters of the server s runs (its SQLite file, or its PostgreSQL), for a test that opens the same
 * store with ss_store_open. The strings point into s. */
struct ss_store_params;
void ss_it_store_params(const ss_it_server *s, struct ss_store_params *p);

/* Start everything; aborts the test (ck_abort) on failure with the logs' tails. With ss_it_store_postgresql(),
 * a PostgreSQL server is started first in the temp dir and songscope.conf gets `store = postgresql` and its
 * `postgresql = ...` conninfo. With SS_IT_LIMITS=redis in the environment, a redis-server is started first
 * (s->redis, socket in the temp dir) and songscope.conf gets `limits = redis` and `redis = unix:...` (test
 * programs check ss_it_limits_redis() and skip with 77 when redis-server is missing). */
void ss_it_start(ss_it_server *s, const ss_it_opts *o);

/* True when SS_IT_LIMITS=redis is set (the limiter under test is Redis). */
bool ss_it_limits_redis(void);

/* Start (or restart) only the songscope master with the server's config; waits for READY=1. */
void ss_it_start_songscope(ss_it_server *s);

/* Stop the web server and songscope (SIGTERM, bounded wait, then SIGKILL) and remove the temp dir. */
void ss_it_stop(ss_it_server *s);

/* SIGTERM the songscope master and wait for it; returns its exit status (or -1 if it had to be killed). */
int ss_it_stop_songscope(ss_it_server *s);

/* One HTTP request to nginx (path: any length, with its query). headers: NULL-terminated "Name: value" strings
 * or NULL. Returns 0 or -1 on a transport error. With SS_IT_RESPONSE_LOG set the answer is logged for
 * tests/check_openapi.test. Caller frees with ss_it_resp_free. */
int ss_it_request(ss_it_server *s, const char *method, const char *path, const char *const *headers,
		  const void *body, size_t len, ss_it_resp *out);

/* Same to any URL. */
int ss_it_request_url(const char *method, const char *url, const char *const *headers, const void *body,
		      size_t len, ss_it_resp *out);

void ss_it_resp_free(ss_it_resp *r);

/* One request written as raw bytes (req, len: anything, well-formed or not) to the web server's port on
 * 127.0.0.1, for what a client library will not send. Stops writing once the server answers, reads the whole
 * answer (to Content-Length, the last chunk or the server's close; bounded to 30 s) and fills out: status
 * (0 when the answer has no status line), headers (the raw block, status line first, as ss_it_request gives
 * it) and body (chunked transfer coding removed). Returns 0, or -1 when nothing could be sent or read.
 * Caller frees with ss_it_resp_free. */
int ss_it_raw_request(ss_it_server *s, const void *req, size_t len, ss_it_resp *out);


/* Value of a response header (case-insensitive) into out; returns 1 found, 0 absent. */
int ss_it_header(const ss_it_resp *r, const char *name, char *out, size_t outlen);

/* Parse the body as strict JSON (NaN/Infinity refused); aborts the test when it is not JSON. */
json_object *ss_it_json(const ss_it_resp *r);

/* Assert a JSON error answer: status, {"error": code, "message": non-empty string}, JSON content type. */
void ss_it_assert_error(const ss_it_resp *r, long status, const char *code);

/* Child pids of pid (from /proc), up to max; returns the count. */
int ss_it_children(pid_t pid, pid_t *out, int max);

/* Wait (bounded, 10 s) until pid has exactly n children none of which is in `old` (n_old entries).
 * Returns 0 when reached, -1 on timeout. */
int ss_it_wait_children(pid_t pid, int n, const pid_t *old, int n_old);

/* Run a command with argv (argv[0] a path), capture stdout into out (may be NULL); returns exit status. */
int ss_it_run(char *const argv[], ss_buf *out);

/* Create an API key of scope "client" or "admin" with songscope-admin (aborts the test on failure); copies
 * the one-time secret into key. */
void ss_it_make_key(ss_it_server *s, const char *scope, char *key, size_t keylen);

/* Write a file in the server dir; returns the full path in a static buffer. */
const char *ss_it_write_file(ss_it_server *s, const char *name, const void *data, size_t len);

/* A mono 16-bit WAV of `seconds` at 22.05 kHz: a tone of `hz` with clicks at 120 BPM (distinct bytes per hz).
 * Returns the bytes (caller frees) and their count in *len; aborts the test when out of memory. */
unsigned char *ss_it_make_wav(double hz, double seconds, size_t *len);

#endif
