/* The same API checks through every supported deployment: nginx, lighttpd (external socket and bin-path),
 * Apache (mod_proxy_fcgi and mod_fcgid) and spawn-fcgi (songscope's master on fd 0, and the fd-0 form with
 * one responder), each started from its file in conf/ on a free loopback port and stopped afterwards.
 * A front whose web server is not installed is skipped.
 * To add a check, write a function taking the running server and add it to `checks` below. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sndfile.h>

#include "core/util/buf.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"

typedef struct deploy_check {
	const char *name;
	void (*run)(ss_it_server *s);
} deploy_check;

static json_object *field(json_object *o, const char *k, json_type t)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, k, &v), "missing field %s", k);
	ck_assert_msg(json_object_is_type(v, t), "field %s has type %s", k, json_type_to_name(json_object_get_type(v)));
	return v;
}

static void check_health(ss_it_server *s)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(s, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "GET /health: %ld %.300s", r.status, r.body.data);
	char ct[64];
	ck_assert(ss_it_header(&r, "Content-Type", ct, sizeof ct));
	ck_assert_str_eq(ct, "application/json");
	json_object *o = ss_it_json(&r);
	ck_assert(json_object_get_boolean(field(o, "running", json_type_boolean)));
	ck_assert_int_eq(json_object_get_int(field(o, "port", json_type_int)), s->port);
	ck_assert_str_eq(json_object_get_string(field(o, "version", json_type_string)), PACKAGE_VERSION);
	json_object_put(o);
	ss_it_resp_free(&r);

	/* A query string and a trailing slash route to the same endpoint. */
	ck_assert_int_eq(ss_it_request(s, "GET", "/health/?probe=1", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
}

static void check_not_found(ss_it_server *s)
{
	const char *paths[] = {"/", "/nope", "/health/extra", "/cache/abc/def"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(s, "GET", paths[i], NULL, NULL, 0, &r), 0);
		ss_it_assert_error(&r, 404, "not_found");
		ss_it_resp_free(&r);
	}
}

static void check_method_not_allowed(ss_it_server *s)
{
	const char *methods[] = {"POST", "DELETE"};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(s, methods[i], "/health", NULL, "{}", 2, &r), 0);
		ss_it_assert_error(&r, 405, "method_not_allowed");
		char allow[64];
		ck_assert(ss_it_header(&r, "Allow", allow, sizeof allow));
		ck_assert_str_eq(allow, "GET, HEAD");
		ss_it_resp_free(&r);
	}
}

/* A 4 s stereo 16-bit 44.1 kHz WAV (about 690 KiB, well above mod_fcgid's 128 KiB default): a 440 Hz tone
 * with clicks at 120 BPM. Written by libsndfile into the server's dir and read back. */
static void make_wav(ss_it_server *s, ss_buf *out)
{
	char path[512];
	snprintf(path, sizeof path, "%s/upload.wav", s->dir);
	SF_INFO info = {.samplerate = 44100, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(f != NULL, "sf_open: %s", sf_strerror(NULL));
	enum { FRAMES = 4 * 44100 };
	float *pcm = malloc(sizeof(float) * FRAMES * 2);
	ck_assert_ptr_nonnull(pcm);
	for (int i = 0; i < FRAMES; i++) {
		double t = (double)i / 44100.0;
		double beat = fmod(t, 0.5);
		double v = 0.2 * sin(2.0 * M_PI * 440.0 * t) + (beat < 0.01 ? 0.6 * (1.0 - beat / 0.01) : 0.0);
		pcm[2 * i] = pcm[2 * i + 1] = (float)v;
	}
	ck_assert_int_eq(sf_writef_float(f, pcm, FRAMES), FRAMES);
	free(pcm);
	sf_close(f);

	FILE *in = fopen(path, "rb");
	ck_assert_ptr_nonnull(in);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
		ck_assert_int_eq(ss_buf_append(out, chunk, n), 0);
	fclose(in);
	unlink(path);
}

static void check_upload(ss_it_server *s)
{
	ss_buf wav;
	ss_buf_init(&wav, 0);
	make_wav(s, &wav);
	ck_assert_uint_gt(wav.len, 128 * 1024);
	const char *headers[] = {"Content-Type: application/octet-stream", "X-Song-Title: Deploy Check",
				 "X-Song-Artist: songscope tests", NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(s, "POST", "/analyze_data", headers, wav.data, wav.len, &r), 0);
	ss_buf_free(&wav);
	if (r.status == 404) {
		/* The endpoint is not built into this tree yet: the body still reached the responder. */
		ss_it_assert_error(&r, 404, "not_found");
	} else {
		ck_assert_msg(r.status == 200, "POST /analyze_data: %ld %.300s", r.status, r.body.data);
		json_object *o = ss_it_json(&r);
		ck_assert(json_object_is_type(o, json_type_object));
		json_object *bpm;
		ck_assert(json_object_object_get_ex(o, "bpm", &bpm));
		json_object_put(o);
	}
	ss_it_resp_free(&r);
}

static void check_too_large(ss_it_server *s)
{
	/* Every conf/ file limits bodies to 50 MiB at the web server: its own 413 must be JSON too. */
	size_t n = 51u * 1024 * 1024;
	char *big = calloc(1, n);
	ck_assert_ptr_nonnull(big);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(s, "POST", "/analyze_data", NULL, big, n, &r), 0);
	free(big);
	ss_it_assert_error(&r, 413, "payload_too_large");
	ss_it_resp_free(&r);
}

/* Small chunked uploads reach the responder with their length (mod_proxy_fcgi spools them: proxy-sendcl). */
static void check_upload_chunked(ss_it_server *s)
{
	ss_buf wav;
	ss_buf_init(&wav, 0);
	make_wav(s, &wav);
	const char *headers[] = {"Transfer-Encoding: chunked", "Content-Type: application/octet-stream", NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(s, "POST", "/analyze_data", headers, wav.data, wav.len, &r), 0);
	ss_buf_free(&wav);
	if (r.status == 404) {
		ss_it_assert_error(&r, 404, "not_found"); /* endpoint not in this tree yet */
	} else {
		ck_assert_msg(r.status == 200, "chunked POST /analyze_data: %ld %.300s", r.status, r.body.data);
		json_object *o = ss_it_json(&r);
		json_object *bpm;
		ck_assert(json_object_object_get_ex(o, "bpm", &bpm));
		json_object_put(o);
	}
	ss_it_resp_free(&r);
}

static void check_too_large_chunked(ss_it_server *s)
{
	/* Without a Content-Length the web server counts the chunked body against its limit. */
	size_t n = 51u * 1024 * 1024;
	char *big = calloc(1, n);
	ck_assert_ptr_nonnull(big);
	const char *headers[] = {"Transfer-Encoding: chunked", NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(s, "POST", "/analyze_data", headers, big, n, &r), 0);
	free(big);
	if (s->front == SS_IT_APACHE_FCGID)
		ss_it_assert_error(&r, 500, "internal"); /* mod_fcgid's own refusal (documented in conf/) */
	else if (r.status == 404)
		ss_it_assert_error(&r, 404, "not_found"); /* spooled by Apache, endpoint not in this tree yet */
	else
		ss_it_assert_error(&r, 413, "payload_too_large");
	ss_it_resp_free(&r);
}

/* Paths the web servers normalise, refuse or pass on: whoever answers, the answer is a JSON error. */
static void check_odd_paths(ss_it_server *s)
{
	const char *paths[] = {"/%2e%2e/etc/passwd", "/health%00", "/health%20", "/../../etc/passwd", "/%",
			       "/.songscope-error/status-413.html"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		/* Known limit (conf/lighttpd): lighttpd's own 400 for an unparsable path is HTML. */
		if ((s->front == SS_IT_LIGHTTPD || s->front == SS_IT_LIGHTTPD_SPAWN) && strstr(paths[i], "%00"))
			continue;
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(s, "GET", paths[i], NULL, NULL, 0, &r), 0);
		ck_assert_msg(r.status == 400 || r.status == 404, "GET %s: %ld %.200s", paths[i], r.status, r.body.data);
		ss_it_assert_error(&r, r.status, r.status == 400 ? "bad_request" : "not_found");
		ss_it_resp_free(&r);
	}
}

/* Runs last: stops songscope's master (where the web server does not own the responders) and expects the web
 * server's own "responders unreachable" answer to be JSON. */
static void check_responders_down(ss_it_server *s)
{
	if (s->master_pid <= 0)
		return; /* lighttpd bin-path and mod_fcgid restart their own responders */
	ck_assert_int_eq(ss_it_stop_songscope(s), 0);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(s, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 502 || r.status == 503 || r.status == 504, "status %ld with the responders down",
		      r.status);
	ss_it_assert_error(&r, r.status, "busy");
	ss_it_resp_free(&r);
}

static const deploy_check checks[] = {
	{"health", check_health},
	{"not_found", check_not_found},
	{"method_not_allowed", check_method_not_allowed},
	{"upload", check_upload},
	{"too_large", check_too_large},
	{"odd_paths", check_odd_paths},
	{"upload_chunked", check_upload_chunked},
	{"too_large_chunked", check_too_large_chunked},
	{"responders_down", check_responders_down}, /* keep last */
};

START_TEST(api_checks_through_front)
{
	ss_it_front front = (ss_it_front)_i;
	if (!ss_it_have_front(front)) {
		fprintf(stderr, "skipped: %s is not installed\n", ss_it_front_name(front));
		return;
	}
	ss_it_server srv;
	ss_it_opts o = {.workers = 2, .auth = "off", .front = front};
	ss_it_start(&srv, &o);
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		fprintf(stderr, "%s: %s\n", ss_it_front_name(front), checks[i].name);
		checks[i].run(&srv);
	}
	ss_it_stop(&srv);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("deploy");
	TCase *tc = tcase_create("fronts");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, api_checks_through_front, 0, SS_IT_FRONT_COUNT);
	suite_add_tcase(su, tc);
	return ss_check_run(su);
}
