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

#include "core/store/cache.h"
#include "core/util/buf.h"
#include "core/util/jsonutil.h"
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

/* Every deployment runs with auth = required and an admin key made by songscope-admin: the key header must
 * cross each web server too. */
static char key_header[192];

/* A request with the key header first, then `extra` (NULL-terminated, may be NULL). */
static void req(ss_it_server *s, const char *method, const char *path, const char *const *extra, const void *body,
		size_t len, ss_it_resp *r)
{
	const char *h[8] = {key_header};
	size_t n = 1;
	for (const char *const *e = extra; e && *e && n < 7; e++)
		h[n++] = *e;
	h[n] = NULL;
	ck_assert_msg(ss_it_request(s, method, path, h, body, len, r) == 0, "%s %s: transport error", method, path);
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

	/* The status line has its reason phrase, for songscope's own answers too. */
	static const char raw[] = "GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	ck_assert_int_eq(ss_it_raw_request(s, raw, sizeof raw - 1, &r), 0);
	static const char line[] = "HTTP/1.1 401 Unauthorized\r\n";
	ck_assert_msg(r.headers.data != NULL && strncmp(r.headers.data, line, sizeof line - 1) == 0,
		      "status line: %.40s", r.headers.data ? r.headers.data : "(none)");
	ss_it_resp_free(&r);
}

static void check_not_found(ss_it_server *s)
{
	const char *paths[] = {"/", "/nope", "/health/extra", "/cache/abc/def"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		ss_it_resp r;
		req(s, "GET", paths[i], NULL, NULL, 0, &r);
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

static const char upload_title[] = "Deploy Check";
static char upload_sha[SS_SHA256_HEX];

/* The fields the original's clients decode as required, with their types (API.md, reference §1.5). */
static void assert_client_result(json_object *o, bool cached)
{
	ck_assert(json_object_get_double(field(o, "bpm", json_type_double)) > 0);
	const char *nums[] = {"bpm_confidence", "key_confidence", "energy", "danceability", "acousticness",
			      "spectral_centroid"};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		json_object *v;
		ck_assert_msg(json_object_object_get_ex(o, nums[i], &v) &&
				      (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)),
			      "%s is not a number", nums[i]);
	}
	field(o, "key", json_type_string);
	ck_assert(json_object_get_boolean(field(o, "cached", json_type_boolean)) == cached);
}

static void check_upload(ss_it_server *s)
{
	ss_buf wav;
	ss_buf_init(&wav, 0);
	make_wav(s, &wav);
	ck_assert_uint_gt(wav.len, 128 * 1024);
	ss_sha256_hex(wav.data, wav.len, upload_sha);
	const char *headers[] = {"Content-Type: application/octet-stream", "X-Song-Title: Deploy Check",
				 "X-Song-Artist: songscope tests", NULL};
	for (int pass = 0; pass < 2; pass++) {
		ss_it_resp r;
		req(s, "POST", "/analyze_data", headers, wav.data, wav.len, &r);
		ck_assert_msg(r.status == 200, "POST /analyze_data: %ld %.300s", r.status, r.body.data);
		json_object *o = ss_it_json(&r);
		/* The second identical upload is served from the cache. */
		assert_client_result(o, pass == 1);
		json_object_put(o);
		ss_it_resp_free(&r);
	}
	ss_buf_free(&wav);
}

/* Keys cross the web server: missing 401, unknown 403, valid 200 with the rate-limit headers. */
static void check_keys(ss_it_server *s)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(s, "GET", "/stats", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	const char *bogus[] = {"X-API-Key: ssk_not_a_key", NULL};
	ck_assert_int_eq(ss_it_request(s, "GET", "/stats", bogus, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 403, "invalid_api_key");
	ss_it_resp_free(&r);
	req(s, "GET", "/stats", NULL, NULL, 0, &r);
	ck_assert_msg(r.status == 200, "GET /stats: %ld %.300s", r.status, r.body.data);
	char v[32];
	ck_assert(ss_it_header(&r, "X-RateLimit-Limit", v, sizeof v));
	ck_assert(ss_it_header(&r, "X-RateLimit-Remaining", v, sizeof v));
	ck_assert(ss_it_header(&r, "X-RateLimit-Reset", v, sizeof v));
	json_object *o = ss_it_json(&r);
	ck_assert_int_ge(json_object_get_int(field(o, "total_analyses", json_type_int)), 0);
	json_object_put(o);
	ss_it_resp_free(&r);
	/* The same key as a Bearer token (Prometheus' way): every front must pass Authorization on. */
	char bearer[256];
	snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", key_header + strlen("X-API-Key: "));
	const char *hb[] = {bearer, NULL};
	ck_assert_int_eq(ss_it_request(s, "GET", "/stats", hb, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "GET /stats with a Bearer key: %ld %.300s", r.status, r.body.data);
	ss_it_resp_free(&r);
}

/* List, search, export (JSON and CSV), verify and delete the uploaded song. */
static void check_cache(ss_it_server *s)
{
	ss_it_resp r;
	req(s, "GET", "/cache?limit=10", NULL, NULL, 0, &r);
	ck_assert_msg(r.status == 200, "GET /cache: %ld %.300s", r.status, r.body.data);
	json_object *a = ss_it_json(&r);
	ss_it_resp_free(&r);
	ck_assert(json_object_is_type(a, json_type_array));
	long long id = -1;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *row = json_object_array_get_idx(a, i);
		if (strcmp(json_object_get_string(field(row, "title", json_type_string)), upload_title) == 0) {
			id = json_object_get_int64(field(row, "id", json_type_int));
			ck_assert(!json_object_get_boolean(field(row, "user_verified", json_type_boolean)));
		}
	}
	json_object_put(a);
	ck_assert_msg(id > 0, "the uploaded song is not listed");

	req(s, "GET", "/cache/search?q=deploy%20CHECK", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	a = ss_it_json(&r);
	ck_assert_uint_ge(json_object_array_length(a), 1);
	json_object_put(a);
	ss_it_resp_free(&r);

	req(s, "GET", "/cache/export", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	a = ss_it_json(&r);
	ck_assert_int_ge(json_object_get_int(field(a, "total_songs", json_type_int)), 1);
	json_object_put(a);
	ss_it_resp_free(&r);
	req(s, "GET", "/cache/export?format=csv", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	char ct[64];
	ck_assert(ss_it_header(&r, "Content-Type", ct, sizeof ct) && strncmp(ct, "text/csv", 8) == 0);
	ck_assert_msg(strstr(r.body.data, upload_title) != NULL, "CSV lacks the song");
	ss_it_resp_free(&r);

	char body[256];
	snprintf(body, sizeof body, "{\"content_sha256\":\"%s\",\"manual_bpm\":120,\"manual_key\":\"A Major\"}",
		 upload_sha);
	const char *json_ct[] = {"Content-Type: application/json", NULL};
	req(s, "POST", "/verify", json_ct, body, strlen(body), &r);
	ck_assert_msg(r.status == 200, "POST /verify: %ld %.300s", r.status, r.body.data);
	ss_it_resp_free(&r);

	char path[64];
	snprintf(path, sizeof path, "/cache/%lld", id);
	req(s, "DELETE", path, NULL, NULL, 0, &r);
	ck_assert_msg(r.status == 200, "DELETE %s: %ld %.300s", path, r.status, r.body.data);
	ss_it_resp_free(&r);
	req(s, "DELETE", path, NULL, NULL, 0, &r);
	ss_it_assert_error(&r, 404, "not_found");
	ss_it_resp_free(&r);
}

static void check_too_large(ss_it_server *s)
{
	/* Every conf/ file limits bodies to 50 MiB at the web server: its own 413 must be JSON too. */
	size_t n = 51u * 1024 * 1024;
	char *big = calloc(1, n);
	ck_assert_ptr_nonnull(big);
	ss_it_resp r;
	req(s, "POST", "/analyze_data", NULL, big, n, &r);
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
	req(s, "POST", "/analyze_data", headers, wav.data, wav.len, &r);
	ss_buf_free(&wav);
	ck_assert_msg(r.status == 200, "chunked POST /analyze_data: %ld %.300s", r.status, r.body.data);
	json_object *o = ss_it_json(&r);
	assert_client_result(o, false);
	json_object_put(o);
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
	req(s, "POST", "/analyze_data", headers, big, n, &r);
	free(big);
	if (s->front == SS_IT_APACHE_FCGID)
		ss_it_assert_error(&r, 500, "internal"); /* mod_fcgid's own refusal (documented in conf/) */
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
	{"keys", check_keys},
	{"upload", check_upload},
	{"cache", check_cache},
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
	/* Not a rate-limit test: the key may send a minute's requests at once. */
	ss_it_opts o = {.workers = 2, .auth = "required", .front = front, .extra_conf = "rate_limit_burst = 100%\n"};
	ss_it_start(&srv, &o);
	char key[128];
	ss_it_make_key(&srv, "admin", key, sizeof key);
	snprintf(key_header, sizeof key_header, "X-API-Key: %s", key);
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
