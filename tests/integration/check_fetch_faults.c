/* Slow upstreams against the real stack (nginx, songscope's master and responders, SQLite, libcurl): a
 * download never holds an analysis slot, identical slow requests share one fetch and its failure, a waiter
 * answers at its own deadline, and a trickle is cut off by the minimum transfer rate. The remote side is a
 * small HTTP server in this process on a free loopback port that paces its answers and counts connections
 * per path, so the tests assert outcomes and connection counts, never durations. Slow downloads also take
 * at most max_concurrent_downloads responders. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "core/analysis/pipeline.h"
#include "core/limits/admission.h"
#include "core/store/cache.h"
#include "core/util/timefmt.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"

/* ---- the slow upstream ----
 * /fast/...   2 KiB every 100 ms (above the minimum rate) until released, then the connection is closed
 *             short of its Content-Length: the download fails (502).
 * /steady/... the same pace until released, then silence with the connection open: the minimum-rate
 *             check (or the total timeout) ends it.
 * /trickle/.. one byte every 200 ms until the client goes away. */
#define UP_MAX_PATHS 32

typedef struct upstream {
	int fd;
	int port;
	pthread_t accept_thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int active;   /* connections being served */
	bool release; /* /fast and /steady stop sending */
	bool stop;    /* every connection ends */
	int n_paths;
	char paths[UP_MAX_PATHS][128];
	int conns[UP_MAX_PATHS];
} upstream;

static upstream up;

typedef struct conn {
	upstream *u;
	int fd;
} conn;

static bool up_flag(upstream *u, const bool *flag)
{
	pthread_mutex_lock(&u->mu);
	bool v = *flag;
	pthread_mutex_unlock(&u->mu);
	return v;
}

static void count_path(upstream *u, const char *path)
{
	pthread_mutex_lock(&u->mu);
	int i;
	for (i = 0; i < u->n_paths; i++)
		if (strcmp(u->paths[i], path) == 0)
			break;
	if (i == u->n_paths && u->n_paths < UP_MAX_PATHS) {
		snprintf(u->paths[i], sizeof u->paths[i], "%s", path);
		u->n_paths++;
	}
	if (i < UP_MAX_PATHS)
		u->conns[i]++;
	pthread_mutex_unlock(&u->mu);
}

/* Connections the upstream accepted for path so far. */
static int up_conns(const char *path)
{
	pthread_mutex_lock(&up.mu);
	int n = 0;
	for (int i = 0; i < up.n_paths; i++)
		if (strcmp(up.paths[i], path) == 0)
			n = up.conns[i];
	pthread_mutex_unlock(&up.mu);
	return n;
}

static int up_active(void)
{
	pthread_mutex_lock(&up.mu);
	int n = up.active;
	pthread_mutex_unlock(&up.mu);
	return n;
}

static void up_release(void)
{
	pthread_mutex_lock(&up.mu);
	up.release = true;
	pthread_mutex_unlock(&up.mu);
}

static void *serve_conn(void *arg)
{
	conn *c = arg;
	upstream *u = c->u;
	char req[4096];
	size_t n = 0;
	while (n < sizeof req - 1) {
		ssize_t r = read(c->fd, req + n, sizeof req - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[n] = '\0';
	char path[128] = "/";
	sscanf(req, "GET %127s", path);
	count_path(u, path);
	static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 10000000\r\n"
				  "Connection: close\r\n\r\n";
	bool trickle = strncmp(path, "/trickle/", 9) == 0, fast = strncmp(path, "/fast/", 6) == 0;
	char chunk[2048];
	memset(chunk, 'R', sizeof chunk);
	if (send(c->fd, hdr, sizeof hdr - 1, MSG_NOSIGNAL) < 0)
		goto out;
	/* The pace of the simulated upstream: one step per poll interval, or at once when the client leaves. */
	while (!up_flag(u, &u->stop)) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&p, 1, trickle ? 200 : 100);
		if (pr > 0) {
			char sink[256];
			if (read(c->fd, sink, sizeof sink) <= 0)
				break; /* the client gave up */
		}
		bool released = up_flag(u, &u->release);
		if (trickle) {
			if (send(c->fd, "R", 1, MSG_NOSIGNAL) < 0)
				break;
		} else if (!released) {
			if (send(c->fd, chunk, sizeof chunk, MSG_NOSIGNAL) < 0)
				break;
		} else if (fast) {
			break; /* close short of the announced length */
		}
	}
out:
	close(c->fd);
	free(c);
	pthread_mutex_lock(&u->mu);
	u->active--;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

static void *accept_loop(void *arg)
{
	upstream *u = arg;
	for (;;) {
		int fd = accept4(u->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		conn *c = malloc(sizeof *c);
		pthread_t t;
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->u = u;
		c->fd = fd;
		pthread_mutex_lock(&u->mu);
		u->active++;
		pthread_mutex_unlock(&u->mu);
		if (pthread_create(&t, NULL, serve_conn, c) != 0) {
			close(fd);
			free(c);
			pthread_mutex_lock(&u->mu);
			u->active--;
			pthread_mutex_unlock(&u->mu);
			continue;
		}
		pthread_detach(t);
	}
}

static void up_start(void)
{
	memset(&up, 0, sizeof up);
	pthread_mutex_init(&up.mu, NULL);
	pthread_cond_init(&up.cv, NULL);
	up.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(up.fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	ck_assert_int_eq(bind(up.fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(up.fd, 32), 0);
	ck_assert_int_eq(getsockname(up.fd, (struct sockaddr *)&a, &len), 0);
	up.port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&up.accept_thread, NULL, accept_loop, &up), 0);
}

/* Stop accepting, end every connection, and wait (bounded) until they are all closed. */
static void up_stop(void)
{
	shutdown(up.fd, SHUT_RDWR);
	pthread_join(up.accept_thread, NULL);
	close(up.fd);
	pthread_mutex_lock(&up.mu);
	up.stop = true;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	while (up.active > 0)
		if (pthread_cond_timedwait(&up.cv, &up.mu, &until) != 0)
			break;
	int left = up.active;
	pthread_mutex_unlock(&up.mu);
	ck_assert_int_eq(left, 0);
}

/* Wait for a condition with a bounded poll; fails the test when it never holds. */
#define WAIT_UNTIL(cond, what)                                                   \
	do {                                                                     \
		double wait_until_ = ss_time_mono() + 60.0;                      \
		while (!(cond)) {                                                \
			ck_assert_msg(ss_time_mono() < wait_until_, "never reached: %s", what); \
			struct timespec ts_ = {0, 5 * 1000 * 1000};              \
			nanosleep(&ts_, NULL);                                   \
		}                                                                \
	} while (0)

/* ---- the service ---- */
static ss_it_server srv;

static void start_service(int workers, const char *extra_conf)
{
	char conf[1024];
	snprintf(conf, sizeof conf, "fetch_allow_private = true\nmax_body_bytes = 3000000\n%s", extra_conf);
	ss_it_opts o = {.workers = workers, .auth = "off", .extra_conf = conf};
	ss_it_start(&srv, &o);
	up_start();
}

static void stop_service(void)
{
	up_stop();
	ss_it_stop(&srv);
}

static ss_admission *probe(int slots)
{
	char path[400];
	snprintf(path, sizeof path, "%s.admission", srv.state);
	ss_admission *a = NULL;
	ss_error err;
	ck_assert_msg(ss_admission_open(path, slots, &a, &err) == 0, "%s", err.msg);
	return a;
}

typedef struct call {
	char body[512];
	long status;
	char code[64];
	char message[256];
	pthread_t thread;
} call;

static void *do_call(void *arg)
{
	call *c = arg;
	ss_it_resp r;
	c->status = -1;
	if (ss_it_request(&srv, "POST", "/analyze", NULL, c->body, strlen(c->body), &r) != 0)
		return NULL;
	c->status = r.status;
	json_object *o = r.body.data ? json_tokener_parse(r.body.data) : NULL, *v;
	if (o != NULL && json_object_object_get_ex(o, "error", &v))
		snprintf(c->code, sizeof c->code, "%s", json_object_get_string(v));
	if (o != NULL && json_object_object_get_ex(o, "message", &v))
		snprintf(c->message, sizeof c->message, "%s", json_object_get_string(v));
	json_object_put(o);
	ss_it_resp_free(&r);
	return NULL;
}

static void call_start(call *c, const char *path, const char *ns)
{
	memset(c, 0, sizeof *c);
	snprintf(c->body, sizeof c->body, "{\"url\":\"http://127.0.0.1:%d%s\",\"cache_namespace\":\"%s\"}", up.port, path,
		 ns);
	ck_assert_int_eq(pthread_create(&c->thread, NULL, do_call, c), 0);
}

static void call_join_expect(call *c, long status, const char *code)
{
	pthread_join(c->thread, NULL);
	ck_assert_msg(c->status == status && strcmp(c->code, code) == 0, "%s: status %ld error '%s' (%s), want %ld %s",
		      c->body, c->status, c->code, c->message, status, code);
}

/* A few seconds of clicks over a chord, as WAV bytes. */
static void *wav_bytes(size_t *len)
{
	const int sr = 22050, n = sr * 4;
	float *x = calloc((size_t)n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (int i = 0; i < n; i++) {
		double t = (double)i / sr;
		x[i] = (float)(0.1 * sin(2 * M_PI * 220.0 * t) + 0.1 * sin(2 * M_PI * 261.63 * t));
		if (fmod(t, 0.5) < 0.01)
			x[i] += (float)(0.5 * sin(2 * M_PI * 2000.0 * t));
	}
	char path[400];
	snprintf(path, sizeof path, "%s/upload.wav", srv.dir);
	SF_INFO info = {.samplerate = sr, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(f != NULL, "sf_open: %s", sf_strerror(NULL));
	ck_assert_int_eq(sf_writef_float(f, x, n), n);
	sf_close(f);
	free(x);
	FILE *in = fopen(path, "rb");
	ck_assert_ptr_nonnull(in);
	fseek(in, 0, SEEK_END);
	long sz = ftell(in);
	fseek(in, 0, SEEK_SET);
	void *p = malloc((size_t)sz);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)sz, in), (size_t)sz);
	fclose(in);
	*len = (size_t)sz;
	return p;
}

static long upload(const void *bytes, size_t len, const char *ns, char *code, size_t codelen)
{
	char nsh[96];
	snprintf(nsh, sizeof nsh, "X-Cache-Namespace: %s", ns);
	const char *hdrs[] = {"Content-Type: audio/wav", nsh, NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/analyze_data", hdrs, bytes, len, &r), 0);
	long st = r.status;
	code[0] = '\0';
	json_object *o = ss_it_json(&r), *v;
	if (json_object_object_get_ex(o, "error", &v))
		snprintf(code, codelen, "%s", json_object_get_string(v));
	json_object_put(o);
	ss_it_resp_free(&r);
	return st;
}

static bool metric_is(const char *line)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	bool found = r.body.data != NULL && strstr(r.body.data, line) != NULL;
	ss_it_resp_free(&r);
	return found;
}

/* Three downloads in flight hold three responders but no analysis slot: an upload analysed meanwhile gets
 * its answer (it used to get 503 busy with every slot held by a download). */
START_TEST(downloads_do_not_hold_analysis_slots)
{
	start_service(5, "max_concurrent_analyses = 3\nfetch_timeout_seconds = 120\n");
	ss_admission *p = probe(3);
	call c[3];
	char path[3][32];
	for (int i = 0; i < 3; i++) {
		snprintf(path[i], sizeof path[i], "/fast/%d", i);
		call_start(&c[i], path[i], "slots");
	}
	WAIT_UNTIL(up_active() == 3, "three downloads in flight");
	ck_assert_int_eq(ss_admission_in_use(p), 0);

	size_t len;
	void *bytes = wav_bytes(&len);
	char code[64];
	long st = upload(bytes, len, "slots", code, sizeof code);
	ck_assert_msg(st == 200, "upload during three downloads: %ld %s", st, code);
	free(bytes);
	ck_assert_int_eq(up_active(), 3); /* the downloads were still in flight throughout */

	up_release(); /* the upstream closes short of its length: each download fails */
	for (int i = 0; i < 3; i++) {
		call_join_expect(&c[i], 502, "download_failed");
		ck_assert_int_eq(up_conns(path[i]), 1);
	}
	ck_assert_int_eq(ss_admission_in_use(p), 0);
	ss_admission_close(p);
	stop_service();
}
END_TEST

/* Slow downloads take at most max_concurrent_downloads responders: beyond it a URL miss gets 503 busy at
 * once without connecting, and the responder left over still serves health checks and uploads. */
START_TEST(download_slots_keep_a_responder_free)
{
	start_service(3, "max_concurrent_downloads = 2\nfetch_timeout_seconds = 120\n");
	ss_admission *p = probe(2);
	call c[2];
	call_start(&c[0], "/fast/a", "dl");
	call_start(&c[1], "/fast/b", "dl");
	WAIT_UNTIL(up_active() == 2 && ss_admission_downloads(p, 2) == 2, "two downloads in flight");

	call third;
	call_start(&third, "/fast/c", "dl");
	call_join_expect(&third, 503, "busy");
	ck_assert_msg(strstr(third.message, "download") != NULL, "%s", third.message);
	ck_assert_int_eq(up_conns("/fast/c"), 0);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	ck_assert(metric_is("songscope_downloads_in_flight 2\n"));
	size_t len;
	void *bytes = wav_bytes(&len);
	char code[64];
	long st = upload(bytes, len, "dl", code, sizeof code);
	ck_assert_msg(st == 200, "upload with every download slot taken: %ld %s", st, code);
	free(bytes);

	up_release();
	for (int i = 0; i < 2; i++)
		call_join_expect(&c[i], 502, "download_failed");
	ck_assert_int_eq(ss_admission_downloads(p, 2), 0);
	ss_admission_close(p);
	stop_service();
}
END_TEST

/* Three identical requests for one slow URL: one connection upstream, the two late ones wait for it without
 * holding a slot, and all three answer 504 timeout when the first is cut off (they used to fetch again one
 * after the other, each for a full timeout). */
START_TEST(identical_slow_requests_share_one_fetch)
{
	start_service(5, "fetch_timeout_seconds = 120\nfetch_low_speed_bytes_per_second = 1024\n"
			 "fetch_low_speed_seconds = 2\n");
	ss_admission *p = probe(4);
	call c[3];
	call_start(&c[0], "/steady/same", "same");
	WAIT_UNTIL(up_conns("/steady/same") == 1, "the first request reached the upstream");
	call_start(&c[1], "/steady/same", "same");
	call_start(&c[2], "/steady/same", "same");
	WAIT_UNTIL(ss_admission_waiting(p) == 2, "two identical requests waiting");
	ck_assert_int_eq(ss_admission_in_use(p), 0);
	up_release(); /* the upstream goes silent: the minimum transfer rate ends the first download */
	for (int i = 0; i < 3; i++) {
		call_join_expect(&c[i], 504, "timeout");
		ck_assert_msg(strstr(c[i].message, "too slow") != NULL, "%s", c[i].message);
	}
	ck_assert_int_eq(up_conns("/steady/same"), 1);
	ck_assert(metric_is("songscope_dedup_waits_total 2\n"));
	ss_admission_close(p);
	stop_service();
}
END_TEST

/* The identical request in progress never finishes (the test holds its lock): a URL request answers 504 at
 * its own deadline without connecting upstream; an upload analyses on its own after its wait. */
START_TEST(waiter_answers_at_its_own_deadline)
{
	start_service(3, "fetch_timeout_seconds = 1\ndedup_wait_seconds = 1\n");
	char url[256], key[SS_SHA256_HEX], tag[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/trickle/held", up.port);
	ss_analysis_opts opts;
	ss_analysis_opts_default(&opts);
	opts.max_seconds = 30;
	ss_analysis_opts_tag(&opts, tag, sizeof tag);
	ss_cache_key("held", "url", url, tag, key);
	ss_admission *hold = probe(2);
	ss_error err;
	ck_assert_int_eq(ss_admission_lock_key(hold, key, 0, &err), 0);

	call c;
	call_start(&c, "/trickle/held", "held");
	call_join_expect(&c, 504, "timeout");
	ck_assert_int_eq(up_conns("/trickle/held"), 0);

	size_t len;
	void *bytes = wav_bytes(&len);
	char hash[SS_SHA256_HEX];
	ss_sha256_hex(bytes, len, hash);
	ss_cache_key("held", "sha256", hash, tag, key);
	ck_assert_int_eq(ss_admission_lock_key(hold, key, 0, &err), 0);
	char code[64];
	long st = upload(bytes, len, "held", code, sizeof code);
	ck_assert_msg(st == 200, "upload whose twin never finishes: %ld %s", st, code);
	free(bytes);
	ss_admission_close(hold);
	stop_service();
}
END_TEST

/* A trickle (one byte every 200 ms) is cut off by the minimum transfer rate long before the total timeout,
 * with a message that says so. */
START_TEST(trickle_is_cut_off_by_minimum_rate)
{
	start_service(3, "fetch_timeout_seconds = 120\nfetch_low_speed_seconds = 1\n");
	call c;
	call_start(&c, "/trickle/one", "trickle");
	call_join_expect(&c, 504, "timeout");
	ck_assert_msg(strstr(c.message, "too slow") != NULL && strstr(c.message, "1024 bytes") != NULL, "%s", c.message);
	ck_assert_int_eq(up_conns("/trickle/one"), 1);
	stop_service();
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx())
		return 77;
	Suite *s = suite_create("fetch_faults");
	TCase *t = tcase_create("fetch_faults");
	tcase_set_timeout(t, 240);
	tcase_add_test(t, downloads_do_not_hold_analysis_slots);
	tcase_add_test(t, download_slots_keep_a_responder_free);
	tcase_add_test(t, identical_slow_requests_share_one_fetch);
	tcase_add_test(t, waiter_answers_at_its_own_deadline);
	tcase_add_test(t, trickle_is_cut_off_by_minimum_rate);
	suite_add_tcase(s, t);
	return ss_check_run(s);
}
