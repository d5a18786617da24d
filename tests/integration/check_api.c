/* The HTTP API through a real nginx with real audio served by a second nginx server on loopback:
 * every endpoint, the clients' required fields and types (original-server.md §1.5), caching by URL and by
 * content, batch with bad items, overrides, stats exactness, admission (busy, de-duplication), the fetch
 * guards, and every error path as JSON. No HTML body, no NaN. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>
#include <sodium.h>

#include "core/analysis/pipeline.h"
#include "core/analysis/result.h"
#include "core/limits/admission.h"
#include "core/store/cache.h"
#include "core/util/jsonutil.h"
#include "tests/integration/harness.h"
#include "tests/check_main.h"

/* A static file server on the second port: audio, redirects, errors. */
static const char EXTRA_HTTP[] =
	"server {\n"
	"  listen 127.0.0.1:@PORT2@;\n"
	"  root @DIR@/www;\n"
	"  location = /redirect { return 302 /audio/a.wav; }\n"
	"  location = /r1 { return 302 /r2; }\n"
	"  location = /r2 { return 302 /r3; }\n"
	"  location = /r3 { return 302 /r4; }\n"
	"  location = /r4 { return 302 /audio/a.wav; }\n"
	"  location = /redirect-private { return 302 http://127.0.0.2:@PORT2@/audio/a.wav; }\n"
	"  location = /fail { return 500; }\n"
	"}\n";

static ss_it_server srv;
static char audio_base[128];

/* ---- audio fixtures ---- */

/* Clicks at `bpm` over a sustained A minor triad, `secs` s of 44.1 kHz mono 16-bit WAV (gain 0: silence). */
static void write_wav_secs(const char *path, double bpm, double gain, double secs)
{
	const int sr = 44100, n = (int)(sr * secs);
	float *x = calloc((size_t)n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	const double f[3] = {220.0, 261.63, 329.63};
	for (int i = 0; i < n; i++) {
		double t = (double)i / sr;
		for (int k = 0; k < 3; k++)
			x[i] += (float)(0.08 * sin(2 * M_PI * f[k] * t));
	}
	double period = 60.0 / bpm;
	for (double t = 0.1; t < secs; t += period) {
		int s0 = (int)(t * sr);
		unsigned seed = (unsigned)s0;
		for (int j = 0; j < sr / 40 && s0 + j < n; j++) {
			double env = exp(-(double)j / (sr * 0.005));
			x[s0 + j] += (float)(0.6 * env * ((double)rand_r(&seed) / RAND_MAX * 2 - 1));
		}
	}
	for (int i = 0; i < n; i++)
		x[i] *= (float)gain;
	SF_INFO info = {.samplerate = sr, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f_out = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(f_out != NULL, "sf_open %s: %s", path, sf_strerror(NULL));
	ck_assert_int_eq(sf_writef_float(f_out, x, n), n);
	sf_close(f_out);
	free(x);
}

/* secs of a waltz at bpm over an A minor chord: a low thump and a loud click on the first beat of each bar
 * of three (the first at 0.1 s), soft clicks on the others. */
static void write_waltz(const char *path, double bpm, double secs)
{
	const int sr = 44100, n = (int)(sr * secs);
	float *x = calloc((size_t)n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	const double f[3] = {220.0, 261.63, 329.63};
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			x[i] += (float)(0.05 * sin(2 * M_PI * f[k] * (double)i / sr));
	int beat = 0;
	for (double t = 0.1; t < secs; t += 60.0 / bpm, beat++) {
		int s0 = (int)(t * sr);
		unsigned seed = (unsigned)s0;
		double g = beat % 3 == 0 ? 0.6 : 0.15;
		for (int j = 0; j < sr / 8 && s0 + j < n; j++) {
			double u = (double)j / sr;
			x[s0 + j] += (float)(g * exp(-u / 0.005) * ((double)rand_r(&seed) / RAND_MAX * 2 - 1));
			if (beat % 3 == 0)
				x[s0 + j] += (float)(0.5 * exp(-u * 25.0) * sin(2 * M_PI * 60.0 * u));
		}
	}
	SF_INFO info = {.samplerate = sr, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f_out = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(f_out != NULL, "sf_open %s: %s", path, sf_strerror(NULL));
	ck_assert_int_eq(sf_writef_float(f_out, x, n), n);
	sf_close(f_out);
	free(x);
}

static void write_wav(const char *path, double bpm, double gain)
{
	write_wav_secs(path, bpm, gain, 8.0);
}

static void *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *p = malloc((size_t)n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static const char *www(const char *name)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/www/%s", srv.dir, name);
	return path;
}

static void make_fixtures(void)
{
	char d[400];
	snprintf(d, sizeof d, "%s/www", srv.dir);
	mkdir(d, 0755);
	snprintf(d, sizeof d, "%s/www/audio", srv.dir);
	mkdir(d, 0755);
	write_wav(www("audio/a.wav"), 120, 1.0);
	write_wav(www("audio/b.wav"), 90, 0.9);
	write_wav(www("audio/c.wav"), 100, 0.8);
	write_wav(www("audio/d.wav"), 140, 0.7);
	write_wav(www("audio/e.wav"), 110, 0.6);
	write_wav_secs(www("audio/short.wav"), 120, 1.0, 1.0);
	write_wav_secs(www("audio/silence.wav"), 120, 0.0, 8.0);
	write_waltz(www("audio/waltz.wav"), 100, 15.0);
	FILE *f = fopen(www("audio/noise.bin"), "wb");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 5000; i++)
		fputc((i * 7919) & 0xFF, f);
	fclose(f);
	snprintf(audio_base, sizeof audio_base, "http://127.0.0.1:%d", srv.extra_port);
}

static void setup_shared(void)
{
	ss_it_opts o = {.workers = 3, .auth = "off", .extra_http = EXTRA_HTTP,
			.extra_conf = "fetch_allow_private = true\nmax_body_bytes = 3000000\n"
				      "analysis_queue_timeout = 0\n"};
	ss_it_start(&srv, &o);
	make_fixtures();
}

static void teardown_shared(void)
{
	ss_it_stop(&srv);
}

/* ---- helpers ---- */

static void assert_json_response(const ss_it_resp *r)
{
	char ct[64] = "";
	ss_it_header(r, "Content-Type", ct, sizeof ct);
	ck_assert_msg(strncmp(ct, "application/json", 16) == 0, "content type %s (status %ld): %.200s", ct, r->status,
		      r->body.data ? r->body.data : "");
	ck_assert_msg(r->body.data == NULL || strstr(r->body.data, "<html") == NULL, "HTML body");
	ck_assert_msg(r->body.data == NULL || (strstr(r->body.data, "NaN") == NULL && strstr(r->body.data, "Infinity") == NULL),
		      "NaN in JSON");
}

static json_object *request_json(const char *method, const char *path, const char *const *headers, const void *body,
				 size_t len, long want_status)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, method, path, headers, body, len, &r), 0);
	assert_json_response(&r);
	ck_assert_msg(r.status == want_status, "%s %s: status %ld, want %ld: %.300s", method, path, r.status, want_status,
		      r.body.data ? r.body.data : "");
	json_object *o = ss_it_json(&r);
	ss_it_resp_free(&r);
	return o;
}

static void expect_error(const char *method, const char *path, const char *const *headers, const void *body,
			 size_t len, long status, const char *code)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, method, path, headers, body, len, &r), 0);
	assert_json_response(&r);
	ss_it_assert_error(&r, status, code);
	if (status == 429 || status == 503) {
		char ra[16];
		ck_assert_msg(ss_it_header(&r, "Retry-After", ra, sizeof ra), "no Retry-After on %ld", status);
	}
	ss_it_resp_free(&r);
}

static json_object *field(json_object *o, const char *k)
{
	json_object *v = NULL;
	ck_assert_msg(json_object_object_get_ex(o, k, &v), "missing field %s in %s", k, json_object_to_json_string(o));
	return v;
}

static double num(json_object *o, const char *k)
{
	json_object *v = field(o, k);
	ck_assert_msg(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int),
		      "field %s is not a number: %s", k, json_object_to_json_string(v));
	double d = json_object_get_double(v);
	ck_assert(isfinite(d));
	return d;
}

static const char *str(json_object *o, const char *k)
{
	json_object *v = field(o, k);
	ck_assert_msg(json_object_is_type(v, json_type_string), "field %s is not a string", k);
	return json_object_get_string(v);
}

static bool boolean(json_object *o, const char *k)
{
	json_object *v = field(o, k);
	ck_assert_msg(json_object_is_type(v, json_type_boolean), "field %s is not a bool", k);
	return json_object_get_boolean(v);
}

static long long integer(json_object *o, const char *k)
{
	json_object *v = field(o, k);
	ck_assert_msg(json_object_is_type(v, json_type_int), "field %s is not an integer", k);
	return json_object_get_int64(v);
}

/* iOS MacStudioService.AnalysisResult and the Simulator's AnalysisResult: required keys and types. */
static void assert_result(json_object *o)
{
	ck_assert_msg(num(o, "bpm") > 0, "bpm must be > 0 (iOS isValid)");
	double c = num(o, "bpm_confidence");
	ck_assert(c >= 0 && c <= 1);
	const char *key = str(o, "key");
	ck_assert_msg(strstr(key, " Major") || strstr(key, " Minor"), "key %s", key);
	c = num(o, "key_confidence");
	ck_assert(c >= 0 && c <= 1);
	num(o, "energy");
	num(o, "danceability");
	num(o, "acousticness");
	num(o, "spectral_centroid");
	boolean(o, "cached");
	num(o, "analysis_duration");
	ck_assert_uint_eq(strlen(str(o, "analyzed_at")), 19);
	integer(o, "id");
	str(o, "title");
	str(o, "artist");
	str(o, "preview_url");
	boolean(o, "user_verified");
	/* Simulator optional fields, when present, have the right types. */
	str(o, "time_signature");
	num(o, "valence");
	str(o, "mood");
	num(o, "loudness");
	num(o, "dynamic_range");
	num(o, "silence_ratio");
	ck_assert(json_object_is_type(field(o, "key_details"), json_type_object));
}

static json_object *analyze_url(const char *url_field, const char *file, const char *extra, long status)
{
	char body[1024];
	snprintf(body, sizeof body, "{\"%s\":\"%s/%s\",\"title\":\"T %s\",\"artist\":\"Art\"%s}", url_field, audio_base,
		 file, file, extra ? extra : "");
	return request_json("POST", "/analyze", NULL, body, strlen(body), status);
}

static json_object *get_stats(void)
{
	return request_json("GET", "/stats", NULL, NULL, 0, 200);
}

/* ---- tests ---- */

START_TEST(analyze_by_url_caches_by_namespace_and_url)
{
	json_object *a = analyze_url("url", "audio/a.wav", NULL, 200);
	assert_result(a);
	ck_assert(!boolean(a, "cached"));
	long long id = integer(a, "id");
	double bpm = num(a, "bpm");
	ck_assert_msg(bpm > 110 && bpm < 130, "bpm %.2f for a 120 BPM click track", bpm);
	json_object_put(a);

	/* Same URL (also as audio_url): a hit with the same row. */
	a = analyze_url("audio_url", "audio/a.wav", NULL, 200);
	assert_result(a);
	ck_assert(boolean(a, "cached"));
	ck_assert_int_eq(integer(a, "id"), id);
	ck_assert(fabs(num(a, "bpm") - bpm) < 1e-9);
	json_object_put(a);

	/* Another namespace misses. */
	a = analyze_url("url", "audio/a.wav", ",\"cache_namespace\":\"other-ns\"", 200);
	ck_assert(!boolean(a, "cached"));
	ck_assert_int_ne(integer(a, "id"), id);
	ck_assert_str_eq(str(a, "cache_namespace"), "other-ns");
	json_object_put(a);

	/* Forced re-analysis keeps the row id. */
	a = analyze_url("url", "audio/a.wav", ",\"force_reanalyze\":true", 200);
	ck_assert(!boolean(a, "cached"));
	ck_assert_int_eq(integer(a, "id"), id);
	json_object_put(a);

	/* Beats on request only. */
	char body[256];
	snprintf(body, sizeof body, "{\"url\":\"%s/audio/a.wav\"}", audio_base);
	a = request_json("POST", "/analyze?beats=1", NULL, body, strlen(body), 200);
	ck_assert(json_object_is_type(field(a, "beats"), json_type_array));
	ck_assert_int_gt(json_object_array_length(field(a, "beats")), 8);
	json_object_put(a);
	a = request_json("POST", "/analyze", NULL, body, strlen(body), 200);
	ck_assert(!json_object_object_get_ex(a, "beats", NULL));
	ck_assert_str_eq(str(a, "title"), "T audio/a.wav"); /* cached row keeps its title */
	json_object_put(a);

	/* A redirect (within fetch_max_redirects) is followed. */
	a = analyze_url("url", "redirect", NULL, 200);
	assert_result(a);
	json_object_put(a);
}
END_TEST

START_TEST(analyze_data_caches_by_content)
{
	size_t len_b, len_c;
	void *b = read_all(www("audio/b.wav"), &len_b);
	void *c = read_all(www("audio/c.wav"), &len_c);
	const char *h1[] = {"X-Song-Title: Same Title", "X-Song-Artist: Same Artist", "Content-Type: audio/wav",
			    "X-Client-Request-Id: it-1", NULL};
	json_object *o = request_json("POST", "/analyze_data", h1, b, len_b, 200);
	assert_result(o);
	ck_assert(!boolean(o, "cached"));
	long long id = integer(o, "id");
	char hash[SS_SHA256_HEX], preview[80];
	ss_sha256_hex(b, len_b, hash);
	snprintf(preview, sizeof preview, "sha256:%s", hash);
	ck_assert_str_eq(str(o, "preview_url"), preview);
	json_object_put(o);

	/* Same bytes under another title: a hit. */
	const char *h2[] = {"X-Song-Title: Another Title", "X-Song-Artist: Someone Else", NULL};
	o = request_json("POST", "/analyze_data", h2, b, len_b, 200);
	ck_assert(boolean(o, "cached"));
	ck_assert_int_eq(integer(o, "id"), id);
	json_object_put(o);

	/* Other bytes under the same title: a miss. */
	o = request_json("POST", "/analyze_data", h1, c, len_c, 200);
	ck_assert(!boolean(o, "cached"));
	ck_assert_int_ne(integer(o, "id"), id);
	json_object_put(o);

	/* Without titles: Unknown. Forced: analysed again, same row. */
	const char *h3[] = {"X-Force-Reanalyze: 1", NULL};
	o = request_json("POST", "/analyze_data", h3, b, len_b, 200);
	ck_assert(!boolean(o, "cached"));
	ck_assert_int_eq(integer(o, "id"), id);
	ck_assert_str_eq(str(o, "title"), "Unknown");
	json_object_put(o);

	/* Namespaced uploads are separate. */
	const char *h4[] = {"X-Cache-Namespace: uploads_2", NULL};
	o = request_json("POST", "/analyze_data", h4, b, len_b, 200);
	ck_assert(!boolean(o, "cached"));
	json_object_put(o);

	/* Errors. */
	expect_error("POST", "/analyze_data", NULL, "", 0, 400, "bad_request");
	const char *bad_ns[] = {"X-Cache-Namespace: no spaces", NULL};
	expect_error("POST", "/analyze_data", bad_ns, b, len_b, 400, "bad_request");
	size_t nlen;
	void *noise = read_all(www("audio/noise.bin"), &nlen);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/analyze_data", NULL, noise, nlen, &r), 0);
	assert_json_response(&r);
	ck_assert_msg(r.status == 415 || r.status == 422, "status %ld", r.status);
	ss_it_assert_error(&r, r.status, r.status == 415 ? "unsupported_media_type" : "unprocessable_audio");
	ss_it_resp_free(&r);
	/* Decodable but nothing to analyse: too short, or silent. */
	const char *unproc[] = {"audio/short.wav", "audio/silence.wav"};
	for (size_t i = 0; i < 2; i++) {
		size_t ulen;
		void *u = read_all(www(unproc[i]), &ulen);
		expect_error("POST", "/analyze_data", NULL, u, ulen, 422, "unprocessable_audio");
		free(u);
	}
	/* Larger than max_body_bytes (3 MB here): 413 before reading. */
	size_t big = 3200000;
	char *blob = calloc(1, big);
	ck_assert_ptr_nonnull(blob);
	expect_error("POST", "/analyze_data", NULL, blob, big, 413, "payload_too_large");
	free(blob);
	free(noise);
	free(b);
	free(c);
}
END_TEST

static char *b64(const void *p, size_t n)
{
	size_t m = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(m);
	ck_assert_ptr_nonnull(s);
	sodium_bin2base64(s, m, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/* The v3 fields: bpm_candidates (the chosen tempo first), time_signature, key_details.camelot/open_key, and
 * with ?beats=1 downbeats, each one of the beats, the same from the cache. A row cached under the v2 tag is
 * not served: the bytes are analysed again. */
/* Header values are bytes: UTF-8 is taken as it is, anything else as ISO-8859-1 (RFC 9110 5.5), so a title is
 * always stored as UTF-8 text, on either store, and found again by search. */
START_TEST(analyze_data_titles_in_any_header_encoding)
{
	size_t len;
	void *b = read_all(www("audio/a.wav"), &len);
	const char *utf8[] = {"X-Song-Title: Caf\xc3\xa9", "X-Song-Artist: \xe2\x82\xac", "X-Cache-Namespace: enc-utf8", NULL};
	json_object *o = request_json("POST", "/analyze_data", utf8, b, len, 200);
	ck_assert_str_eq(str(o, "title"), "Caf\xc3\xa9");
	ck_assert_str_eq(str(o, "artist"), "\xe2\x82\xac");
	json_object_put(o);
	const char *latin1[] = {"X-Song-Title: Caf\xe9", "X-Song-Artist: \xc2 \xff", "X-Cache-Namespace: enc-latin1", NULL};
	o = request_json("POST", "/analyze_data", latin1, b, len, 200);
	ck_assert(!boolean(o, "cached"));
	ck_assert_str_eq(str(o, "title"), "Caf\xc3\xa9");
	ck_assert_str_eq(str(o, "artist"), "\xc3\x82 \xc3\xbf");
	json_object_put(o);
	json_object *rows = request_json("GET", "/cache/search?q=caf%C3%A9&namespace=enc-latin1", NULL, NULL, 0, 200);
	ck_assert_int_eq(json_object_array_length(rows), 1);
	ck_assert_str_eq(str(json_object_array_get_idx(rows, 0), "artist"), "\xc3\x82 \xc3\xbf");
	json_object_put(rows);
	/* The 512-byte limit holds for the UTF-8 text: 257 ISO-8859-1 letters are 514 bytes of it. */
	char big[32 + 257] = "X-Song-Title: ";
	memset(big + strlen(big), 0xe9, 257);
	const char *too_long[] = {big, "X-Cache-Namespace: enc-latin1", NULL};
	expect_error("POST", "/analyze_data", too_long, b, len, 400, "bad_request");
	free(b);
}
END_TEST

START_TEST(analyze_data_alternatives_and_downbeats)
{
	size_t len;
	void *w = read_all(www("audio/waltz.wav"), &len);

	/* a stale v2 row for the same bytes */
	char sha[SS_SHA256_HEX], key[SS_SHA256_HEX];
	ss_sha256_hex(w, len, sha);
	ss_cache_key("alts", "sha256", sha, "v2;max=30", key);
	ss_store *db = NULL;
	ss_error err;
	ss_store_params sp_;
	ss_it_store_params(&srv, &sp_);
	ck_assert_int_eq(ss_store_open(&sp_, &db, &err), 0);
	ss_result res;
	ss_result_init(&res);
	res.bpm = 50.0;
	ss_cache_put_args pa = {.cache_key = key, .ns = "alts", .source_kind = "upload", .source = sha,
				.preview_url = "", .title = "v2 row", .artist = "Unknown", .result = &res,
				.result_json = "{\"bpm\":50.0}", .beats_json = "[1.0,2.0]"};
	ck_assert_int_eq(ss_store_cache_put(db, &pa, NULL, &err), 0);
	ss_store_close(db);

	const char *h[] = {"X-Song-Title: Waltz", "X-Cache-Namespace: alts", "Content-Type: audio/wav", NULL};
	for (int pass = 0; pass < 2; pass++) {
		json_object *o = request_json("POST", "/analyze_data?beats=1", h, w, len, 200);
		assert_result(o);
		ck_assert(boolean(o, "cached") == (pass == 1));
		ck_assert_str_eq(str(o, "title"), "Waltz");
		double bpm = num(o, "bpm");
		ck_assert_msg(fabs(bpm - 100.0) < 1.0, "bpm %.2f for a 100 BPM waltz", bpm);
		ck_assert_str_eq(str(o, "time_signature"), "3/4");

		json_object *c = field(o, "bpm_candidates");
		ck_assert(json_object_is_type(c, json_type_array));
		size_t nc = json_object_array_length(c);
		ck_assert(nc >= 1 && nc <= 3);
		ck_assert(num(json_object_array_get_idx(c, 0), "bpm") == bpm);
		for (size_t i = 0; i < nc; i++) {
			double sc = num(json_object_array_get_idx(c, i), "score");
			ck_assert(sc >= 0.0 && sc <= 1.0);
		}

		json_object *kd = field(o, "key_details");
		ck_assert_str_eq(str(o, "key"), "A Minor");
		ck_assert_str_eq(str(kd, "camelot"), "8A");
		ck_assert_str_eq(str(kd, "open_key"), "1m");

		json_object *b = field(o, "beats"), *d = field(o, "downbeats");
		ck_assert(json_object_is_type(b, json_type_array) && json_object_is_type(d, json_type_array));
		size_t nb = json_object_array_length(b), nd = json_object_array_length(d);
		ck_assert_msg(nd >= 3 && nd * 3 <= nb + 2, "%zu downbeats for %zu beats", nd, nb);
		for (size_t i = 0; i < nd; i++) {
			double t = json_object_get_double(json_object_array_get_idx(d, i));
			size_t k = 0;
			while (k < nb && json_object_get_double(json_object_array_get_idx(b, k)) != t)
				k++;
			ck_assert_msg(k < nb, "downbeat %.3f is not one of the beats", t);
			/* on the accented beats: 0.1 s + a whole number of 1.8 s bars, within a quarter beat */
			double bars = (t - 0.1) / 1.8;
			ck_assert_msg(fabs(bars - round(bars)) * 3.0 < 0.25, "downbeat %.3f is off the bar lines", t);
		}
		json_object_put(o);
	}

	/* without beats=1: the candidates, no beats and no downbeats */
	json_object *o = request_json("POST", "/analyze_data", h, w, len, 200);
	ck_assert(boolean(o, "cached"));
	ck_assert(json_object_is_type(field(o, "bpm_candidates"), json_type_array));
	ck_assert(!json_object_object_get_ex(o, "beats", NULL));
	ck_assert(!json_object_object_get_ex(o, "downbeats", NULL));
	json_object_put(o);
	free(w);
}
END_TEST

START_TEST(batch_with_bad_items)
{
	size_t ld, le;
	void *d = read_all(www("audio/d.wav"), &ld);
	void *e = read_all(www("audio/e.wav"), &le);
	char *bd = b64(d, ld), *be = b64(e, le);
	ss_buf body;
	ss_buf_init(&body, 0);
	ss_buf_printf(&body, "[{\"audio_data\":\"%s\",\"title\":\"D\",\"artist\":\"X\"},{\"title\":\"no data\"},"
			     "{\"audio_data\":\"***not base64***\"},{\"audio_data\":\"%s\"},{\"audio_data\":\"%s\"}]",
		      bd, be, bd);
	json_object *a = request_json("POST", "/analyze_batch", NULL, body.data, body.len, 200);
	ck_assert(json_object_is_type(a, json_type_array));
	ck_assert_int_eq(json_object_array_length(a), 5);
	assert_result(json_object_array_get_idx(a, 0));
	ck_assert_str_eq(str(json_object_array_get_idx(a, 0), "title"), "D");
	for (int i = 1; i <= 2; i++) {
		json_object *it = json_object_array_get_idx(a, (size_t)i);
		ck_assert_str_eq(str(it, "error"), "bad_request");
		ck_assert_int_eq(integer(it, "index"), i);
		ck_assert(strlen(str(it, "message")) > 0);
	}
	assert_result(json_object_array_get_idx(a, 3));
	/* The same bytes again in one batch: served from the cache. */
	ck_assert(boolean(json_object_array_get_idx(a, 4), "cached"));
	json_object_put(a);
	ss_buf_free(&body);

	/* Shape errors. */
	expect_error("POST", "/analyze_batch", NULL, "{}", 2, 400, "bad_request");
	expect_error("POST", "/analyze_batch", NULL, "[]", 2, 400, "bad_request");
	expect_error("POST", "/analyze_batch", NULL, "[1,", 3, 400, "bad_request");
	ss_buf_init(&body, 0);
	ss_buf_puts(&body, "[");
	for (int i = 0; i < 11; i++)
		ss_buf_printf(&body, "%s{\"audio_data\":\"AAAA\"}", i ? "," : "");
	ss_buf_puts(&body, "]");
	expect_error("POST", "/analyze_batch", NULL, body.data, body.len, 400, "bad_request");
	ss_buf_free(&body);
	free(bd);
	free(be);
	free(d);
	free(e);
}
END_TEST

static json_object *find_row(json_object *arr, long long id)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *r = json_object_array_get_idx(arr, i);
		if (integer(r, "id") == id)
			return r;
	}
	return NULL;
}

/* CachedAnalysis (both clients): id Int, title, artist, preview_url, analyzed_at String, user_verified Bool. */
static void assert_row(json_object *r)
{
	integer(r, "id");
	str(r, "title");
	str(r, "artist");
	str(r, "preview_url");
	str(r, "analyzed_at");
	boolean(r, "user_verified");
	num(r, "bpm");
	str(r, "key");
	num(r, "analysis_duration");
	field(r, "manual_bpm");
	field(r, "manual_key");
	field(r, "bpm_notes");
}

START_TEST(cache_list_search_export_delete_clear)
{
	json_object *a = analyze_url("url", "audio/c.wav", ",\"title\":\"100% Literal_Title\",\"cache_namespace\":\"lists\"", 200);
	ck_assert_int_eq(0, 0);
	json_object_put(a);
	char body[512];
	snprintf(body, sizeof body,
		 "{\"url\":\"%s/audio/b.wav\",\"title\":\"100 Percent\",\"artist\":\"Other Caf\\u00e9\",\"cache_namespace\":\"lists\"}",
		 audio_base);
	a = request_json("POST", "/analyze", NULL, body, strlen(body), 200);
	long long id_b = integer(a, "id");
	json_object_put(a);

	json_object *rows = request_json("GET", "/cache?namespace=lists&limit=10", NULL, NULL, 0, 200);
	ck_assert(json_object_is_type(rows, json_type_array));
	ck_assert_int_eq(json_object_array_length(rows), 2);
	for (size_t i = 0; i < 2; i++)
		assert_row(json_object_array_get_idx(rows, i));
	ck_assert_int_eq(integer(json_object_array_get_idx(rows, 0), "id"), id_b); /* newest first */
	json_object_put(rows);
	rows = request_json("GET", "/cache?namespace=lists&limit=1&offset=1", NULL, NULL, 0, 200);
	ck_assert_int_eq(json_object_array_length(rows), 1);
	json_object_put(rows);
	rows = request_json("GET", "/cache?namespace=lists&offset=10000", NULL, NULL, 0, 200); /* deepest offset */
	ck_assert_int_eq(json_object_array_length(rows), 0);
	json_object_put(rows);
	rows = request_json("GET", "/cache?namespace=all&limit=500", NULL, NULL, 0, 200);
	ck_assert(find_row(rows, id_b) != NULL);
	json_object_put(rows);

	/* '%' and '_' are literal. */
	rows = request_json("GET", "/cache/search?q=100%25&namespace=lists", NULL, NULL, 0, 200);
	ck_assert_int_eq(json_object_array_length(rows), 1);
	assert_row(json_object_array_get_idx(rows, 0));
	json_object_put(rows);
	rows = request_json("GET", "/cache/search?q=100_&namespace=lists", NULL, NULL, 0, 200);
	ck_assert_int_eq(json_object_array_length(rows), 0);
	json_object_put(rows);
	rows = request_json("GET", "/cache/search?q=literal_title&namespace=lists", NULL, NULL, 0, 200);
	ck_assert_int_eq(json_object_array_length(rows), 1);
	json_object_put(rows);
	rows = request_json("GET", "/cache/search?q=other&namespace=lists", NULL, NULL, 0, 200); /* artist */
	ck_assert_int_eq(json_object_array_length(rows), 1);
	json_object_put(rows);
	rows = request_json("GET", "/cache/search?q=caf%C3%A9&namespace=lists", NULL, NULL, 0, 200); /* UTF-8 */
	ck_assert_int_eq(json_object_array_length(rows), 1);
	json_object_put(rows);
	/* Text that is not UTF-8 is refused, not matched loosely: a truncated 3-byte sequence E3 A9 would otherwise
	 * decode as U+00E9 in SQLite's LIKE and find "Café", and PostgreSQL refuses such bytes as a server error. */
	expect_error("GET", "/cache/search?q=CAF%E3%A9&namespace=lists", NULL, NULL, 0, 400, "bad_request");
	expect_error("GET", "/cache/search?q=%C0%AF&namespace=lists", NULL, NULL, 0, 400, "bad_request"); /* overlong */
	expect_error("GET", "/cache/search?q=%ED%A0%80&namespace=lists", NULL, NULL, 0, 400, "bad_request"); /* surrogate */

	/* Export: JSON (CacheExportResponse/CachedSong) and CSV. */
	json_object *ex = request_json("GET", "/cache/export?namespace=lists", NULL, NULL, 0, 200);
	ck_assert_int_eq(integer(ex, "total_songs"), 2);
	str(ex, "exported_at");
	json_object *songs = field(ex, "songs");
	ck_assert_int_eq(json_object_array_length(songs), 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *s = json_object_array_get_idx(songs, i);
		str(s, "title");
		str(s, "artist");
		num(s, "bpm");
		str(s, "key");
		num(s, "energy");
		num(s, "danceability");
		num(s, "acousticness");
		str(s, "analyzed_at");
	}
	json_object_put(ex);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/cache/export?format=csv&namespace=lists", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	char ct[64];
	ck_assert(ss_it_header(&r, "Content-Type", ct, sizeof ct));
	ck_assert_msg(strncmp(ct, "text/csv", 8) == 0, "%s", ct);
	ck_assert(ss_it_header(&r, "Content-Disposition", ct, sizeof ct));
	ck_assert_msg(strncmp(r.body.data, "Title,Artist,Preview URL,BPM", 28) == 0, "%s", r.body.data);
	int lines = 0;
	for (const char *p = r.body.data; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 3);
	ss_it_resp_free(&r);
	expect_error("GET", "/cache/export?format=xml", NULL, NULL, 0, 400, "bad_request");

	/* Delete and clear. */
	char path[64];
	snprintf(path, sizeof path, "/cache/%lld", id_b);
	json_object *d = request_json("DELETE", path, NULL, NULL, 0, 200);
	ck_assert_str_eq(str(d, "status"), "deleted");
	ck_assert_int_eq(integer(d, "id"), id_b);
	json_object_put(d);
	expect_error("DELETE", path, NULL, NULL, 0, 404, "not_found");
	expect_error("DELETE", "/cache/abc", NULL, NULL, 0, 404, "not_found");
	d = request_json("POST", "/cache/clear?namespace=lists", NULL, NULL, 0, 200);
	ck_assert_str_eq(str(d, "status"), "cleared");
	ck_assert_str_eq(str(d, "namespace"), "lists");
	ck_assert_int_eq(integer(d, "deleted"), 1);
	json_object_put(d);
	rows = request_json("GET", "/cache?namespace=lists", NULL, NULL, 0, 200);
	ck_assert_int_eq(json_object_array_length(rows), 0);
	json_object_put(rows);

	/* Parameter validation. */
	const char *bad[] = {"/cache?limit=0", "/cache?limit=501", "/cache?limit=abc", "/cache?limit=-1",
			     "/cache?offset=-5", "/cache?offset=10001", "/cache?namespace=bad%20ns", "/cache?namespace=x%2Fy",
			     "/cache/search?namespace=a.b", "/cache/clear?namespace=no!"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error(strncmp(bad[i], "/cache/clear", 12) == 0 ? "POST" : "GET", bad[i], NULL, NULL, 0, 400,
			     "bad_request");
	ss_it_resp r2;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/cache/clear", NULL, NULL, 0, &r2), 0);
	ss_it_assert_error(&r2, 405, "method_not_allowed");
	ck_assert(ss_it_header(&r2, "Allow", ct, sizeof ct));
	ck_assert_str_eq(ct, "POST");
	ss_it_resp_free(&r2);
}
END_TEST

START_TEST(verify_overrides_survive_reanalysis)
{
	json_object *a = analyze_url("url", "audio/e.wav", ",\"cache_namespace\":\"verify\"", 200);
	json_object_put(a);
	char body[512];
	snprintf(body, sizeof body,
		 "{\"url\":\"%s/audio/e.wav\",\"namespace\":\"verify\",\"manual_bpm\":111.5,\"manual_key\":\"a minor\","
		 "\"bpm_notes\":\"tapped\"}",
		 audio_base);
	json_object *v = request_json("POST", "/verify", NULL, body, strlen(body), 200);
	ck_assert(boolean(v, "success"));
	json_object_put(v);

	/* Overrides appear in analysis answers and survive a forced re-analysis. */
	a = analyze_url("url", "audio/e.wav", ",\"cache_namespace\":\"verify\",\"force_reanalyze\":1", 200);
	ck_assert(!boolean(a, "cached"));
	ck_assert(boolean(a, "user_verified"));
	ck_assert(fabs(num(a, "manual_bpm") - 111.5) < 1e-9);
	ck_assert_str_eq(str(a, "manual_key"), "A Minor");
	ck_assert_str_eq(str(a, "bpm_notes"), "tapped");
	json_object_put(a);
	json_object *rows = request_json("GET", "/cache/search?q=e.wav&namespace=verify", NULL, NULL, 0, 200);
	ck_assert_int_eq(json_object_array_length(rows), 1);
	ck_assert(boolean(json_object_array_get_idx(rows, 0), "user_verified"));
	json_object_put(rows);

	/* No such song: 404, not a fake success; default namespace does not match. */
	snprintf(body, sizeof body, "{\"url\":\"%s/audio/e.wav\",\"manual_bpm\":100}", audio_base);
	expect_error("POST", "/verify", NULL, body, strlen(body), 404, "not_found");
	snprintf(body, sizeof body, "{\"url\":\"%s/nothing.wav\",\"namespace\":\"verify\"}", audio_base);
	expect_error("POST", "/verify", NULL, body, strlen(body), 404, "not_found");
	/* By content hash for uploads. */
	size_t len;
	void *bytes = read_all(www("audio/e.wav"), &len);
	const char *h[] = {"X-Cache-Namespace: verify", NULL};
	a = request_json("POST", "/analyze_data", h, bytes, len, 200);
	json_object_put(a);
	char hash[SS_SHA256_HEX];
	ss_sha256_hex(bytes, len, hash);
	snprintf(body, sizeof body, "{\"content_sha256\":\"%s\",\"namespace\":\"verify\",\"manual_key\":\"Db Major\"}", hash);
	v = request_json("POST", "/verify", NULL, body, strlen(body), 200);
	json_object_put(v);
	a = request_json("POST", "/analyze_data", h, bytes, len, 200);
	ck_assert(boolean(a, "cached"));
	ck_assert_str_eq(str(a, "manual_key"), "C# Major");
	json_object_put(a);
	free(bytes);

	/* Validation. */
	const char *bad[] = {"{}", "not json", "{\"url\":\"x\",\"content_sha256\":\"ab\"}", "{\"content_sha256\":\"xyz\"}",
			     "{\"url\":\"x\",\"manual_bpm\":\"fast\"}", "{\"url\":\"x\",\"manual_bpm\":-3}",
			     "{\"url\":\"x\",\"manual_key\":\"H minor\"}", "{\"url\":\"x\",\"namespace\":\"a b\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error("POST", "/verify", NULL, bad[i], strlen(bad[i]), 400, "bad_request");
}
END_TEST

START_TEST(analyze_error_paths)
{
	char body[512];
	const char *bad[] = {"", "[]", "not json", "{\"title\":\"no url\"}", "{\"url\":42}", "{\"url\":\"ftp://127.0.0.1/a.wav\"}",
			     "{\"url\":\"file:///etc/passwd\"}", "{\"url\":\"http://x\",\"cache_namespace\":\"bad ns\"}",
			     "{\"url\":\"http://x\",\"cache_namespace\":\"all\"}", "{\"url\":\"not a url\"}",
			     "{\"url\": NaN}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error("POST", "/analyze", NULL, bad[i], strlen(bad[i]), 400, "bad_request");

	/* Upstream failures: 502 naming the upstream status. */
	snprintf(body, sizeof body, "{\"url\":\"%s/audio/missing.wav\"}", audio_base);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/analyze", NULL, body, strlen(body), &r), 0);
	ss_it_assert_error(&r, 502, "download_failed");
	ck_assert_msg(strstr(r.body.data, "404") != NULL, "%s", r.body.data);
	ss_it_resp_free(&r);
	snprintf(body, sizeof body, "{\"url\":\"%s/fail\"}", audio_base);
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/analyze", NULL, body, strlen(body), &r), 0);
	ss_it_assert_error(&r, 502, "download_failed");
	ck_assert_msg(strstr(r.body.data, "500") != NULL, "%s", r.body.data);
	ss_it_resp_free(&r);
	/* More than fetch_max_redirects (3). */
	snprintf(body, sizeof body, "{\"url\":\"%s/r1\"}", audio_base);
	expect_error("POST", "/analyze", NULL, body, strlen(body), 502, "download_failed");
	/* Nothing listens: connection refused. */
	snprintf(body, sizeof body, "{\"url\":\"http://127.0.0.1:1/a.wav\"}");
	expect_error("POST", "/analyze", NULL, body, strlen(body), 502, "download_failed");
	/* Not audio. */
	snprintf(body, sizeof body, "{\"url\":\"%s/audio/noise.bin\"}", audio_base);
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/analyze", NULL, body, strlen(body), &r), 0);
	assert_json_response(&r);
	ck_assert_msg(r.status == 415 || r.status == 422, "status %ld", r.status);
	ss_it_resp_free(&r);

	/* Methods. */
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/analyze", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 405, "method_not_allowed");
	ss_it_resp_free(&r);
	expect_error("PUT", "/stats", NULL, NULL, 0, 405, "method_not_allowed");
	/* A JSON body larger than the /analyze cap. */
	size_t big = 70000;
	char *blob = malloc(big);
	ck_assert_ptr_nonnull(blob);
	memset(blob, ' ', big);
	blob[0] = '{';
	blob[big - 1] = '}';
	expect_error("POST", "/analyze", NULL, blob, big, 413, "payload_too_large");
	free(blob);
}
END_TEST

START_TEST(stats_are_exact_and_typed)
{
	/* Make sure one URL is cached, then count hits exactly across responders. */
	json_object *a = analyze_url("url", "audio/d.wav", ",\"cache_namespace\":\"stats\"", 200);
	json_object_put(a);
	json_object *s0 = get_stats();
	long long hits0 = integer(s0, "cache_hits"), an0 = integer(s0, "total_analyses");
	long long req0 = integer(s0, "requests_served");
	const int n = 25;
	for (int i = 0; i < n; i++) {
		a = analyze_url("url", "audio/d.wav", ",\"cache_namespace\":\"stats\"", 200);
		ck_assert(boolean(a, "cached"));
		json_object_put(a);
	}
	json_object *s1 = get_stats();
	/* ServerStats: total_analyses, cache_hits, cache_misses Int; cache_hit_rate a Double. */
	ck_assert_int_eq(integer(s1, "cache_hits"), hits0 + n);
	ck_assert_int_eq(integer(s1, "total_analyses"), an0); /* hits are not analyses */
	integer(s1, "cache_misses");
	ck_assert(json_object_is_type(field(s1, "cache_hit_rate"), json_type_double));
	double rate = num(s1, "cache_hit_rate");
	ck_assert(rate > 0 && rate <= 1);
	ck_assert_int_eq(integer(s1, "requests_served"), req0 + n + 1); /* the hits and the first /stats */
	ck_assert_uint_eq(strlen(str(s1, "last_updated")), 19);
	ck_assert_int_gt(integer(s1, "total_cached_songs"), 0);
	num(s1, "uptime");
	json_object_put(s0);
	json_object_put(s1);
}
END_TEST

START_TEST(service_endpoints)
{
	json_object *d = request_json("GET", "/diagnostics", NULL, NULL, 0, 200);
	ck_assert_str_eq(str(d, "overall_status"), "healthy");
	json_object *c = field(d, "components");
	ck_assert_str_eq(str(field(c, "database"), "status"), "operational");
	ck_assert_int_eq(integer(field(c, "admission"), "responders_alive"), 3);
	ck_assert_str_eq(str(field(c, "state_file"), "status"), "operational");
	ck_assert_str_eq(str(field(c, "counters"), "status"), "operational");
	str(field(c, "decoders"), "available");
	ck_assert(json_object_is_type(field(d, "warnings"), json_type_array));
	ck_assert_int_ge(json_object_array_length(field(d, "warnings")), 2); /* auth off, private fetches */
	ck_assert(!json_object_object_get_ex(field(d, "configuration"), "database", NULL) ||
		  json_object_is_type(field(field(d, "configuration"), "database"), json_type_string));
	json_object_put(d);

	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	char ct[64];
	ck_assert(ss_it_header(&r, "Content-Type", ct, sizeof ct));
	ck_assert_msg(strncmp(ct, "text/plain", 10) == 0, "%s", ct);
	ck_assert(strstr(r.body.data, "# TYPE songscope_requests_total counter") != NULL);
	ck_assert(strstr(r.body.data, "songscope_requests_total{endpoint=\"diagnostics\",status=\"200\"}") != NULL);
	ck_assert(strstr(r.body.data, "songscope_request_duration_seconds_bucket{le=\"+Inf\"}") != NULL);
	ck_assert(strstr(r.body.data, "songscope_responders_alive 3\n") != NULL);
	ck_assert(strstr(r.body.data, "songscope_cache_hits_total ") != NULL);
	ck_assert(strstr(r.body.data, "songscope_auth_rejections_total{reason=\"rate_limited\"}") != NULL);
	ss_it_resp_free(&r);
}
END_TEST

/* Hold every analysis slot from outside: a miss gets 503 busy at once (analysis_queue_timeout = 0 here: no
 * queue; tests/integration/check_queue.c covers the queue), a cached request still succeeds. */
START_TEST(busy_when_all_slots_taken)
{
	json_object *a = analyze_url("url", "audio/b.wav", ",\"cache_namespace\":\"busy\"", 200);
	json_object_put(a);
	char path[400];
	snprintf(path, sizeof path, "%s.admission", srv.state);
	ss_admission *h1 = NULL, *h2 = NULL;
	ss_error err;
	ck_assert_int_eq(ss_admission_open(path, 2, &h1, &err), 0);
	ck_assert_int_eq(ss_admission_open(path, 2, &h2, &err), 0);
	ck_assert_int_eq(ss_admission_acquire(h1, &err), 0);
	ck_assert_int_eq(ss_admission_acquire(h2, &err), 0);
	char body[256];
	snprintf(body, sizeof body, "{\"url\":\"%s/audio/c.wav\",\"cache_namespace\":\"busy\"}", audio_base);
	expect_error("POST", "/analyze", NULL, body, strlen(body), 503, "busy");
	a = analyze_url("url", "audio/b.wav", ",\"cache_namespace\":\"busy\"", 200);
	ck_assert(boolean(a, "cached"));
	json_object_put(a);
	json_object *h = request_json("GET", "/health", NULL, NULL, 0, 200);
	json_object_put(h);
	ss_admission_close(h1);
	ss_admission_close(h2);
	a = request_json("POST", "/analyze", NULL, body, strlen(body), 200);
	ck_assert(!boolean(a, "cached"));
	json_object_put(a);
}
END_TEST

typedef struct inflight {
	const char *body;
	json_object *result;
	long status;
} inflight;

static void *send_analyze(void *arg)
{
	inflight *f = arg;
	ss_it_resp r;
	if (ss_it_request(&srv, "POST", "/analyze", NULL, f->body, strlen(f->body), &r) == 0) {
		f->status = r.status;
		f->result = r.status == 200 ? json_tokener_parse(r.body.data) : NULL;
		ss_it_resp_free(&r);
	}
	return NULL;
}

/* Identical misses wait for the analysis in progress: the test plays the first analyser by holding the key's
 * lock, and stores the result itself; both waiting requests then answer from the cache without analysing. */
START_TEST(identical_misses_are_analysed_once)
{
	char url[256], body[512], path[400];
	snprintf(url, sizeof url, "%s/audio/e.wav", audio_base);
	snprintf(body, sizeof body, "{\"url\":\"%s\",\"cache_namespace\":\"dedup\"}", url);
	ss_analysis_opts opts;
	ss_analysis_opts_default(&opts);
	opts.max_seconds = 30;
	char tag[64], key[SS_SHA256_HEX];
	ss_analysis_opts_tag(&opts, tag, sizeof tag);
	ss_cache_key("dedup", "url", url, tag, key);

	snprintf(path, sizeof path, "%s.admission", srv.state);
	ss_admission *hold = NULL, *probe = NULL;
	ss_error err;
	ck_assert_int_eq(ss_admission_open(path, 2, &hold, &err), 0);
	ck_assert_int_eq(ss_admission_open(path, 2, &probe, &err), 0);
	ck_assert_int_eq(ss_admission_lock_key(hold, key, 0, &err), 0);
	json_object *s0 = get_stats();

	inflight f[2] = {{.body = body}, {.body = body}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, send_analyze, &f[i]), 0);
	/* Both requests wait on the key, holding no analysis slot: observed through the lock file, not by
	 * sleeping. */
	while (ss_admission_waiting(probe) < 2)
		sched_yield();
	ck_assert_int_eq(ss_admission_in_use(probe), 0);

	/* "Finish" the first analysis: analyse the bytes here and store them under the same key. */
	size_t len;
	void *bytes = read_all(www("audio/e.wav"), &len);
	ss_result res;
	ss_result_init(&res);
	ck_assert_int_eq(ss_analyze_buffer(bytes, len, &opts, &res, &err), 0);
	ss_store *db = NULL;
	ss_store_params sp_;
	ss_it_store_params(&srv, &sp_);
	ck_assert_int_eq(ss_store_open(&sp_, &db, &err), 0);
	ss_cache_put_args pa = {.cache_key = key, .ns = "dedup", .source_kind = "url", .source = url, .preview_url = url,
				.title = "stored by test", .artist = "Unknown", .result = &res,
				.result_json = "{\"bpm\":110.0,\"bpm_confidence\":0.5,\"key\":\"A Minor\",\"key_confidence\":0.2,"
					       "\"energy\":0.1,\"danceability\":0.2,\"acousticness\":0.3,\"spectral_centroid\":900.0,"
					       "\"time_signature\":\"4/4\",\"valence\":0.3,\"mood\":\"calm\",\"loudness\":-20.0,"
					       "\"dynamic_range\":3.0,\"silence_ratio\":0.0,\"key_details\":{},\"analysis_duration\":0.01}"};
	ck_assert_int_eq(ss_store_cache_put(db, &pa, NULL, &err), 0);
	ss_store_close(db);
	ss_result_free(&res);
	free(bytes);
	ss_admission_unlock_key(hold);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(f[i].status, 200);
		ck_assert(boolean(f[i].result, "cached"));
		ck_assert_str_eq(str(f[i].result, "title"), "stored by test");
		json_object_put(f[i].result);
	}
	json_object *s1 = get_stats();
	ck_assert_int_eq(integer(s1, "total_analyses"), integer(s0, "total_analyses"));
	json_object_put(s0);
	json_object_put(s1);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	ck_assert_msg(strstr(r.body.data, "songscope_dedup_waits_total 2\n") != NULL, "%s", r.body.data);
	ss_it_resp_free(&r);
	ss_admission_close(hold);
	ss_admission_close(probe);
}
END_TEST

/* Default fetch policy: loopback targets are refused with 403 forbidden_url, directly or via a redirect;
 * /shutdown stops a service that runs its own master. */
START_TEST(private_targets_refused_and_shutdown)
{
	ss_it_server b;
	ss_it_opts o = {.workers = 2, .auth = "off", .extra_http = EXTRA_HTTP};
	ss_it_start(&b, &o);
	char d[400];
	snprintf(d, sizeof d, "%s/www", b.dir);
	mkdir(d, 0755);
	snprintf(d, sizeof d, "%s/www/audio", b.dir);
	mkdir(d, 0755);
	snprintf(d, sizeof d, "%s/www/audio/a.wav", b.dir);
	write_wav(d, 120, 1.0);
	const char *hosts[] = {"127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]"};
	for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
		char url[128], body[256];
		snprintf(url, sizeof url, "http://%s:%d/audio/a.wav", hosts[i], b.extra_port);
		snprintf(body, sizeof body, "{\"url\":\"%s\"}", url);
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&b, "POST", "/analyze", NULL, body, strlen(body), &r), 0);
		assert_json_response(&r);
		ss_it_assert_error(&r, 403, "forbidden_url");
		ss_it_resp_free(&r);
	}
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&b, "POST", "/shutdown", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	/* The master exits by itself; reap it. */
	int st = ss_it_stop_songscope(&b);
	ck_assert_int_eq(st, 0);
	ss_it_stop(&b);
}
END_TEST

/* With auth = required every endpoint but /health needs a key (401 missing, 403 unknown), as JSON. */
START_TEST(auth_required_errors)
{
	ss_it_server c;
	/* Not a rate-limit test: room for every request below at once. */
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = "rate_limit_burst = 100%\n"};
	ss_it_start(&c, &o);
	static const struct {
		const char *method, *path;
	} eps[] = {{"POST", "/analyze"},     {"POST", "/analyze_data"}, {"POST", "/analyze_batch"}, {"GET", "/cache"},
		   {"GET", "/cache/search"}, {"GET", "/cache/export"},  {"DELETE", "/cache/1"},     {"POST", "/cache/clear"},
		   {"POST", "/verify"},      {"GET", "/stats"},         {"GET", "/diagnostics"},    {"GET", "/metrics"},
		   {"POST", "/shutdown"}};
	const char *bogus[] = {"X-API-Key: not-a-real-key", NULL};
	for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&c, eps[i].method, eps[i].path, NULL, "{}", 2, &r), 0);
		assert_json_response(&r);
		ss_it_assert_error(&r, 401, "missing_api_key");
		ss_it_resp_free(&r);
		ck_assert_int_eq(ss_it_request(&c, eps[i].method, eps[i].path, bogus, "{}", 2, &r), 0);
		assert_json_response(&r);
		ss_it_assert_error(&r, 403, "invalid_api_key");
		ss_it_resp_free(&r);
	}
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&c, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);

	/* Scopes (API.md): client keys use the client endpoints, admin endpoints answer them 403 forbidden. */
	char client[128], admin_key[128];
	ss_it_make_key(&c, "client", client, sizeof client);
	ss_it_make_key(&c, "admin", admin_key, sizeof admin_key);
	char hc[160], ha[160];
	snprintf(hc, sizeof hc, "X-API-Key: %s", client);
	snprintf(ha, sizeof ha, "X-API-Key: %s", admin_key);
	const char *with_client[] = {hc, NULL}, *with_admin[] = {ha, NULL};
	static const struct {
		const char *method, *path;
		bool admin;
	} scoped[] = {{"GET", "/stats", false},          {"GET", "/cache", false},         {"GET", "/cache/search?q=x", false},
		      {"GET", "/cache/export", false},   {"POST", "/cache/clear", true},   {"DELETE", "/cache/9999", true},
		      {"POST", "/verify", true},         {"GET", "/diagnostics", true},    {"GET", "/metrics", true}};
	for (size_t i = 0; i < sizeof scoped / sizeof scoped[0]; i++) {
		ck_assert_int_eq(ss_it_request(&c, scoped[i].method, scoped[i].path, with_client, NULL, 0, &r), 0);
		if (scoped[i].admin) {
			ss_it_assert_error(&r, 403, "forbidden");
		} else {
			ck_assert_msg(r.status == 200, "%s %s: %ld", scoped[i].method, scoped[i].path, r.status);
			char v[32];
			ck_assert(ss_it_header(&r, "X-RateLimit-Limit", v, sizeof v));
			ck_assert(ss_it_header(&r, "X-RateLimit-Remaining", v, sizeof v));
			ck_assert(ss_it_header(&r, "X-RateLimit-Reset", v, sizeof v));
		}
		ss_it_resp_free(&r);
		ck_assert_int_eq(ss_it_request(&c, scoped[i].method, scoped[i].path, with_admin, NULL, 0, &r), 0);
		ck_assert_msg(r.status != 401 && r.status != 403, "%s %s with an admin key: %ld", scoped[i].method,
			      scoped[i].path, r.status);
		ss_it_resp_free(&r);
	}
	ss_it_stop(&c);
}
END_TEST

/* metrics_allow lets a scraper on a listed address read /metrics without a key, and nothing else. */
START_TEST(metrics_allow_list)
{
	ss_it_server c;
	ss_it_opts o = {.workers = 1, .auth = "required", .extra_conf = "metrics_allow = 10.1.2.3, 127.0.0.1\n"};
	ss_it_start(&c, &o);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&c, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.body.data);
	ck_assert(strstr(r.body.data, "# TYPE") != NULL);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_request(&c, "GET", "/stats", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	ss_it_stop(&c);

	/* Not listed: a key is needed. */
	ss_it_opts o2 = {.workers = 1, .auth = "required", .extra_conf = "metrics_allow = 10.1.2.3\n"};
	ss_it_start(&c, &o2);
	ck_assert_int_eq(ss_it_request(&c, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	ss_it_stop(&c);
}
END_TEST

/* Counters live in a file next to the state file: a restart keeps them. */
START_TEST(stats_survive_restart)
{
	ss_it_server c;
	ss_it_opts o = {.workers = 2, .auth = "off"};
	ss_it_start(&c, &o);
	for (int i = 0; i < 5; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&c, "GET", "/cache", NULL, NULL, 0, &r), 0);
		ss_it_resp_free(&r);
	}
	json_object *a = ss_it_get_json(&c, "/stats", NULL);
	long long served = integer(a, "requests_served");
	ck_assert_int_eq(served, 5);
	json_object_put(a);
	ck_assert_int_eq(ss_it_stop_songscope(&c), 0);
	ss_it_start_songscope(&c);
	a = ss_it_get_json(&c, "/stats", NULL);
	ck_assert_int_eq(integer(a, "requests_served"), served + 1);
	json_object_put(a);
	ss_it_stop(&c);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "nginx not found; skipping integration tests\n");
		return 77;
	}
	if (sodium_init() < 0)
		return 99;
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("shared");
	tcase_add_unchecked_fixture(tc, setup_shared, teardown_shared);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, analyze_by_url_caches_by_namespace_and_url);
	tcase_add_test(tc, analyze_data_caches_by_content);
	tcase_add_test(tc, analyze_data_titles_in_any_header_encoding);
	tcase_add_test(tc, analyze_data_alternatives_and_downbeats);
	tcase_add_test(tc, batch_with_bad_items);
	tcase_add_test(tc, cache_list_search_export_delete_clear);
	tcase_add_test(tc, verify_overrides_survive_reanalysis);
	tcase_add_test(tc, analyze_error_paths);
	tcase_add_test(tc, stats_are_exact_and_typed);
	tcase_add_test(tc, service_endpoints);
	tcase_add_test(tc, busy_when_all_slots_taken);
	tcase_add_test(tc, identical_misses_are_analysed_once);
	suite_add_tcase(s, tc);
	tc = tcase_create("separate");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, private_targets_refused_and_shutdown);
	tcase_add_test(tc, auth_required_errors);
	tcase_add_test(tc, metrics_allow_list);
	tcase_add_test(tc, stats_survive_restart);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
