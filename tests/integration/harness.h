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
	const char *also_upstream; /* nginx fronts: a second host's FastCGI socket, listed beside songscope's own in
				    * nginx's upstream block (round robin); answers then carry X-Test-Upstream (see
				    * ss_it_served_by). Set by ss_it_start_two_hosts; NULL otherwise */
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

/* True when nginx is available; tests call this first and skip (exit 77) otherwise (a "SKIP: nginx is not
 * installed" line is printed then). */
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

/* The process name of a master's counter publisher (limits = redis). */
#define SS_IT_PUBLISHER_COMM "songscope-pub"

/* Child pids of pid (from /proc), up to max, leaving out a master's counter publisher: a master's responders.
 * Returns the count. */
int ss_it_children(pid_t pid, pid_t *out, int max);

/* The pids of master's counter publisher processes (one, or for a moment after a reload two: the old one ends
 * after its last publish), up to max; returns the count. */
int ss_it_counter_publishers(pid_t master, pid_t *out, int max);

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

/* Two hosts behind ONE nginx, as behind one load balancer: h1 as ss_it_start(h1, o) starts it (its PostgreSQL
 * and Redis when the environment selects them, its master, nginx), and h2 a second host with a temp dir, state
 * file, config and master of its own that shares h1's store (its SQLite file, or its PostgreSQL) and h1's Redis,
 * as a second machine would. nginx's upstream lists both hosts' sockets: requests to h1 (h1->base_url) are
 * balanced round robin over both, and a host that refuses connections is skipped (fastcgi_next_upstream).
 * h2 has no web server of its own (its base_url is empty). o->front must be SS_IT_NGINX. Aborts the test on
 * failure; ss_it_stop(h2) then ss_it_stop(h1) stop everything. */
void ss_it_start_two_hosts(ss_it_server *h1, ss_it_server *h2, const ss_it_opts *o);

/* True when r came from host: the last upstream server the two-host nginx tried (X-Test-Upstream) is host's
 * socket. False for answers of any other server, or without that header. */
bool ss_it_served_by(const ss_it_resp *r, const ss_it_server *host);

/* GET path through s's web server with X-API-Key: key (NULL or "": no key header); the answer into out (caller
 * frees with ss_it_resp_free). Returns the status; aborts the test when no answer came. */
long ss_it_keyed(ss_it_server *s, const char *path, const char *key, ss_it_resp *out);

/* The same, returning only the status. */
long ss_it_status(ss_it_server *s, const char *path, const char *key);

/* GET path with key (as ss_it_keyed): asserts 200 and returns the body as JSON (caller puts it). */
json_object *ss_it_get_json(ss_it_server *s, const char *path, const char *key);

/* Poll (bounded: 20 s) until n GET path with key in a row answer want: with several responders (or hosts) behind
 * the web server, each one that nginx picks in turn. For a change that every responder notices on its own next
 * request (a backend back up). Returns want when reached, else the last other status seen. */
long ss_it_wait_status(ss_it_server *s, const char *path, const char *key, long want, int n);

/* After a backend came back: GET path with key until n answers in a row are want, taking 503s in between (from a
 * responder whose reconnect is not due yet); any other status fails the test, as does not getting there within
 * 20 s. Returns how many answers were want (at least n), for tests that count what a backend counted. */
long ss_it_want_in_a_row(ss_it_server *s, const char *path, const char *key, long want, int n);

/* GET /health on s: its status, and components.<component> (as text, "" when absent) into out. */
long ss_it_health(ss_it_server *s, const char *component, char *out, size_t len);

/* POST /analyze_data of a 4 s ss_it_make_wav(hz) titled "tone <hz>" with key (NULL or "": none) to s. Returns
 * the status; *cached (may be NULL) is whether a 200 came from the cache; the answer into out when out is not
 * NULL (caller frees it). Aborts the test when no answer came. */
long ss_it_analyze_tone(ss_it_server *s, const char *key, double hz, bool *cached, ss_it_resp *out);

#define SS_IT_RACE_MAX_HOSTS 4

/* `clients` processes (at most 64) each send `tries` GET path with key through s's web server, all at once.
 * Every answer must be a 200, or a JSON 429 with Retry-After and the error code `refusal` (the test fails
 * otherwise, as when a client got no answer). Returns how many got 200. With nhosts > 0 (at most
 * SS_IT_RACE_MAX_HOSTS; hosts behind one nginx, ss_it_start_two_hosts), served[i] is how many of those 200s
 * hosts[i] answered (ss_it_served_by). */
int ss_it_race(ss_it_server *s, const char *path, const char *key, int clients, int tries, const char *refusal,
	       ss_it_server *const *hosts, int nhosts, int *served);

/* ss_it_children sorted by pid: equal lists mean the same responders. */
int ss_it_children_sorted(pid_t pid, pid_t *out, int max);

/* songscope-admin --config <s's config> --json ARGS... (a NULL-terminated list of strings; a NULL ends it early,
 * so optional arguments may be passed as NULL last); its standard output into out when out is not NULL.
 * Aborts the test unless it exits 0. */
void ss_it_admin(const ss_it_server *s, ss_buf *out, ...);

/* The same, returning its --json output parsed (caller puts it); the test fails when it printed no JSON. */
json_object *ss_it_admin_json(const ss_it_server *s, ...);

/* songscope-admin keys create NAME [opt1 val1 [opt2 val2]] (options NULL when unused, e.g. "--daily-limit",
 * "50"): the one-time secret into key, the key's id as text into id (may be NULL). Aborts the test on failure. */
void ss_it_create_key(const ss_it_server *s, char *key, size_t keylen, char *id, size_t idlen, const char *name,
		      const char *opt1, const char *val1, const char *opt2, const char *val2);

/* Assert that songscope-admin db check (a full check of s's store: SQLite's PRAGMA integrity_check, or the
 * PostgreSQL backend's schema and row checks; for both, every cached result whole) finds the store sound; fails
 * the test with the problem it names otherwise. */
void ss_it_assert_store_sound(const ss_it_server *s);

/* Redis's count of today for API key key_id (the `c` of songscope:k:ID in s's redis-server; see
 * core/limits/redis_limiter.c), or -1 when Redis holds none. Aborts the test when Redis cannot be asked. */
long long ss_it_redis_day_count(const ss_it_server *s, const char *key_id);

/* Run sql on s's PostgreSQL (s->pg; the test fails without one, or when the query fails) through a connection of
 * the test's own: the rows as text, one line each, columns separated by '|', NULL as "(null)". Caller frees. */
char *ss_it_pg_query(const ss_it_server *s, const char *sql);

/* Assert, with SQL of the test's own on s's PostgreSQL, what an outage must not break: no cache key twice,
 * every cache row's result a JSON object with every field API.md requires, usage rows with a key, a status
 * and a date in range, no negative counter. */
void ss_it_assert_pg_rows_sound(const ss_it_server *s);

/* Load while a test breaks something (a backend stopped and started again): client processes each send requests
 * through s's web server, one after another, until ss_it_load_stop (or 3000 each). fn sends request number i
 * (any method and path, arg passed through), fills r with the answer and returns whether it counts as keyed
 * (the test's key was sent). Every answer must be a 200, or a JSON 503 `unavailable` with Retry-After: the
 * client fails otherwise, as on a transport error. */
#define SS_IT_LOAD_MAX 16
typedef bool (*ss_it_load_fn)(ss_it_server *s, int i, const void *arg, ss_it_resp *r);
typedef struct ss_it_load {
	pid_t pids[SS_IT_LOAD_MAX];
	int n;
	int fd;         /* the clients' reports */
	char stop[400]; /* the file whose existence stops them */
} ss_it_load;

/* Start `clients` (1 to SS_IT_LOAD_MAX) load clients; aborts the test on failure. */
void ss_it_load_start(ss_it_load *l, ss_it_server *s, int clients, ss_it_load_fn fn, const void *arg);

/* Stop them and wait for each; the test fails when any got an answer other than those above. *keyed: keyed
 * answers in all; *keyed_ok: those that were 200. Returns how many clients saw a 503 at least once. */
int ss_it_load_stop(ss_it_load *l, long long *keyed, long long *keyed_ok);

/* True while pid runs (it exists and is not a zombie). */
bool ss_it_pid_alive(pid_t pid);

/* Wait (a bounded poll of at most `seconds`) until none of the n pids runs; returns whether they all ended. */
bool ss_it_wait_ended(const pid_t *pids, int n, double seconds);

#endif
