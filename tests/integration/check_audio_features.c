/* The Spotify-compatible view through a real nginx: POST /v1/audio-features with bytes and with a URL (audio
 * served by a second nginx server on loopback), the object's schema and types field for field, ids that stay
 * the same and resolve, GET ?ids= with 100 ids mixed known and unknown, key -1 on noise, the full result at
 * analysis_url, and 400/401/403/404/429 answered exactly as the rest of the API answers them. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sndfile.h>
#include <sodium.h>

#include "tests/check_main.h"
#include "tests/integration/harness.h"

static const char EXTRA_HTTP[] = "server {\n"
				 "  listen 127.0.0.1:@PORT2@;\n"
				 "  root @DIR@/www;\n"
				 "}\n";

static ss_it_server srv;
static char audio_base[128];
static unsigned char *music_wav, *noise_wav;
static size_t music_len, noise_len;

/* ---- fixtures: WAV files in memory and on the static server ---- */

/* secs of 44.1 kHz mono 16-bit WAV from x, into a malloc'd buffer (via a file in the server dir). */
static unsigned char *wav_bytes(const char *name, const float *x, int n, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/www/%s", srv.dir, name);
	SF_INFO info = {.samplerate = 44100, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(f != NULL, "sf_open %s: %s", path, sf_strerror(NULL));
	ck_assert_int_eq(sf_writef_float(f, x, n), n);
	sf_close(f);
	FILE *in = fopen(path, "rb");
	ck_assert_ptr_nonnull(in);
	fseek(in, 0, SEEK_END);
	long sz = ftell(in);
	fseek(in, 0, SEEK_SET);
	unsigned char *b = malloc((size_t)sz);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(fread(b, 1, (size_t)sz, in), (size_t)sz);
	fclose(in);
	*len = (size_t)sz;
	return b;
}

/* 10 s of clicks at 120 BPM over an A minor triad (a tempo and a key), and 10 s of white noise (neither). */
static void make_fixtures(void)
{
	char d[400];
	snprintf(d, sizeof d, "%s/www", srv.dir);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	const int sr = 44100, n = sr * 10;
	float *x = calloc((size_t)n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	const double f[3] = {220.0, 261.63, 329.63};
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			x[i] += (float)(0.08 * sin(2 * M_PI * f[k] * i / sr));
	for (double t = 0.1; t < 10.0; t += 0.5) {
		int s0 = (int)(t * sr);
		unsigned seed = (unsigned)s0;
		for (int j = 0; j < sr / 40 && s0 + j < n; j++)
			x[s0 + j] += (float)(0.6 * exp(-(double)j / (sr * 0.005)) * ((double)rand_r(&seed) / RAND_MAX * 2 - 1));
	}
	music_wav = wav_bytes("music.wav", x, n, &music_len);
	unsigned seed = 7;
	for (int i = 0; i < n; i++)
		x[i] = (float)(0.3 * ((double)rand_r(&seed) / RAND_MAX * 2 - 1));
	noise_wav = wav_bytes("noise.wav", x, n, &noise_len);
	free(x);
	snprintf(audio_base, sizeof audio_base, "http://127.0.0.1:%d", srv.extra_port);
}

static void setup_shared(void)
{
	ss_it_opts o = {.workers = 2, .auth = "off", .extra_http = EXTRA_HTTP,
			.extra_conf = "fetch_allow_private = true\nanalysis_queue_timeout = 10\n"};
	ss_it_start(&srv, &o);
	make_fixtures();
}

static void teardown_shared(void)
{
	free(music_wav);
	free(noise_wav);
	ss_it_stop(&srv);
}

/* ---- requests and assertions ---- */

static json_object *request_json(const char *method, const char *path, const char *const *headers, const void *body,
				 size_t len, long want)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, method, path, headers, body, len, &r), 0);
	char ct[64] = "";
	ss_it_header(&r, "Content-Type", ct, sizeof ct);
	ck_assert_msg(strncmp(ct, "application/json", 16) == 0, "content type %s", ct);
	ck_assert_msg(r.status == want, "%s %s: %ld, want %ld: %.300s", method, path, r.status, want,
		      r.body.data ? r.body.data : "");
	json_object *o = ss_it_json(&r);
	ss_it_resp_free(&r);
	return o;
}

/* request_json on another server than the shared one (no body). */
static json_object *request_json_on(ss_it_server *c, const char *method, const char *path, const char *const *headers,
				    long want)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(c, method, path, headers, NULL, 0, &r), 0);
	ck_assert_msg(r.status == want, "%s %s: %ld, want %ld: %.300s", method, path, r.status, want,
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
	ss_it_assert_error(&r, status, code);
	ss_it_resp_free(&r);
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;
	ck_assert_msg(json_object_object_get_ex(o, k, &v), "missing %s in %s", k, json_object_to_json_string(o));
	return v;
}

static double unit_num(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	ck_assert_msg(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int),
		      "%s is not a number: %s", k, json_object_to_json_string(o));
	double d = json_object_get_double(v);
	ck_assert_msg(d >= 0.0 && d <= 1.0, "%s = %g is outside 0..1", k, d);
	return d;
}

static long long int_of(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	ck_assert_msg(json_object_is_type(v, json_type_int), "%s is not an integer: %s", k, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static const char *str_of(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	ck_assert_msg(json_object_is_type(v, json_type_string), "%s is not a string", k);
	return json_object_get_string(v);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Spotify's audio-features object, field for field, and nothing else. */
static void assert_features(json_object *o)
{
	static const char *const fields[] = {"danceability", "energy", "key", "loudness", "mode", "speechiness",
					     "acousticness", "instrumentalness", "liveness", "valence", "tempo", "type",
					     "id", "uri", "track_href", "analysis_url", "duration_ms", "time_signature"};
	ck_assert_int_eq(json_object_object_length(o), (int)(sizeof fields / sizeof fields[0]));
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		member(o, fields[i]);
	unit_num(o, "danceability");
	unit_num(o, "energy");
	unit_num(o, "speechiness");
	unit_num(o, "acousticness");
	unit_num(o, "instrumentalness");
	unit_num(o, "liveness");
	unit_num(o, "valence");
	long long key = int_of(o, "key"), mode = int_of(o, "mode");
	ck_assert(key >= -1 && key <= 11);
	ck_assert(mode == 0 || mode == 1);
	json_object *l = member(o, "loudness");
	ck_assert(json_object_is_type(l, json_type_double) || json_object_is_type(l, json_type_int));
	ck_assert(json_object_get_double(l) <= 0.0 && json_object_get_double(l) >= -70.0);
	json_object *t = member(o, "tempo");
	ck_assert(json_object_is_type(t, json_type_double) || json_object_is_type(t, json_type_int));
	ck_assert(json_object_get_double(t) >= 0.0);
	long long ts = int_of(o, "time_signature");
	ck_assert(ts >= 3 && ts <= 7);
	ck_assert(int_of(o, "duration_ms") > 0);
	ck_assert_str_eq(str_of(o, "type"), "audio_features");
	const char *id = str_of(o, "id");
	ck_assert_uint_eq(strlen(id), 22);
	ck_assert_uint_eq(strspn(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), 22);
	char want[128];
	snprintf(want, sizeof want, "songscope:track:%s", id);
	ck_assert_str_eq(str_of(o, "uri"), want);
	snprintf(want, sizeof want, "/v1/audio-features/%s", id);
	ck_assert_msg(ends_with(str_of(o, "track_href"), want), "track_href %s", str_of(o, "track_href"));
	ck_assert_msg(strncmp(str_of(o, "track_href"), "http://127.0.0.1:", 17) == 0, "track_href %s", str_of(o, "track_href"));
	snprintf(want, sizeof want, "/v1/audio-analysis/%s", id);
	ck_assert_msg(ends_with(str_of(o, "analysis_url"), want), "analysis_url %s", str_of(o, "analysis_url"));
}

static double num_of(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	ck_assert_msg(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int),
		      "%s is not a number: %s", k, json_object_to_json_string(o));
	return json_object_get_double(v);
}

/* An array of Spotify's time intervals ({start, duration, confidence}, nothing else), in order, each ending
 * where the next starts and the last within the track; returns its length and the starts in starts[0..max). */
static size_t intervals(json_object *a, double track_end, double *starts, size_t max)
{
	ck_assert(json_object_is_type(a, json_type_array));
	size_t n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(a, i);
		ck_assert_int_eq(json_object_object_length(it), 3);
		double s = num_of(it, "start"), d = num_of(it, "duration"), c = num_of(it, "confidence");
		ck_assert_msg(s >= 0.0 && d > 0.0 && s + d <= track_end + 1e-6, "item %zu: %g + %g of %g", i, s, d,
			      track_end);
		ck_assert(c >= 0.0 && c <= 1.0);
		if (i + 1 < n) {
			double next = num_of(json_object_array_get_idx(a, i + 1), "start");
			ck_assert_msg(fabs(s + d - next) < 1e-6, "item %zu ends at %g, the next starts at %g", i, s + d, next);
		}
		if (i < max)
			starts[i] = s;
	}
	return n;
}

/* Spotify's segments: they tile the track from 0, every field of Spotify's in its range, the twelve pitches with
 * their strongest at 1 (all 0 in silence); music has more than one. */
static void assert_segments(json_object *a, double track_end, bool music)
{
	static const char *const fields[] = {"start", "duration", "confidence", "loudness_start", "loudness_max",
					     "loudness_max_time", "loudness_end", "pitches", "timbre"};
	ck_assert(json_object_is_type(a, json_type_array));
	size_t n = json_object_array_length(a);
	ck_assert_uint_ge(n, music ? 2 : 1);
	double at = 0.0;
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(a, i);
		ck_assert_int_eq(json_object_object_length(g), 9);
		for (size_t k = 0; k < 9; k++)
			member(g, fields[k]);
		double s = num_of(g, "start"), d = num_of(g, "duration");
		ck_assert_msg(fabs(s - at) < 1e-6 && d > 0.0, "segment %zu: %g + %g after %g", i, s, d, at);
		at = s + d;
		ck_assert(num_of(g, "confidence") >= 0.0 && num_of(g, "confidence") <= 1.0);
		ck_assert(num_of(g, "loudness_max_time") >= 0.0 && num_of(g, "loudness_max_time") <= d);
		static const char *const levels[] = {"loudness_start", "loudness_max", "loudness_end"};
		for (size_t k = 0; k < 3; k++)
			ck_assert(num_of(g, levels[k]) >= -60.0 && num_of(g, levels[k]) <= 0.0);
		json_object *p = member(g, "pitches"), *t = member(g, "timbre");
		ck_assert_uint_eq(json_object_array_length(p), 12);
		ck_assert_uint_eq(json_object_array_length(t), 12);
		double top = 0.0;
		for (size_t k = 0; k < 12; k++) {
			double v = json_object_get_double(json_object_array_get_idx(p, k));
			ck_assert(v >= 0.0 && v <= 1.0);
			top = fmax(top, v);
			ck_assert(json_object_is_type(json_object_array_get_idx(t, k), json_type_double) ||
				  json_object_is_type(json_object_array_get_idx(t, k), json_type_int));
		}
		ck_assert(top == 1.0 || top == 0.0);
	}
	ck_assert_msg(fabs(at - track_end) < 1e-6, "segments end at %g, the track at %g", at, track_end);
}

/* Spotify's audio-analysis object, and what it shares with the audio-features object f of the same track. */
static void assert_analysis(json_object *o, json_object *f)
{
	static const char *const top[] = {"meta", "track", "bars", "beats", "tatums", "sections", "segments"};
	ck_assert_int_eq(json_object_object_length(o), 7);
	for (size_t i = 0; i < 7; i++)
		member(o, top[i]);
	json_object *meta = member(o, "meta");
	ck_assert_str_eq(str_of(meta, "detailed_status"), "OK");
	ck_assert_int_eq(int_of(meta, "status_code"), 0);
	ck_assert(int_of(meta, "timestamp") > 1700000000); /* when the row was analysed */
	ck_assert(num_of(meta, "analysis_time") >= 0.0);
	str_of(meta, "analyzer_version");
	str_of(meta, "platform");
	str_of(meta, "input_process");

	json_object *t = member(o, "track");
	double dur = num_of(t, "duration");
	ck_assert_msg(fabs(dur * 1000.0 - (double)int_of(f, "duration_ms")) <= 1.0, "duration %g", dur);
	ck_assert_int_eq(int_of(t, "analysis_sample_rate"), 22050);
	ck_assert_int_eq(int_of(t, "analysis_channels"), 1);
	ck_assert_int_eq(int_of(t, "num_samples"), llround(dur * 22050.0));
	ck_assert_double_eq(num_of(t, "tempo"), num_of(f, "tempo"));
	ck_assert_double_eq(num_of(t, "loudness"), num_of(f, "loudness"));
	ck_assert_int_eq(int_of(t, "key"), int_of(f, "key"));
	ck_assert_int_eq(int_of(t, "mode"), int_of(f, "mode"));
	ck_assert_int_eq(int_of(t, "time_signature"), int_of(f, "time_signature"));
	static const char *const unit[] = {"tempo_confidence", "key_confidence", "mode_confidence",
					   "time_signature_confidence"};
	for (size_t i = 0; i < 4; i++)
		ck_assert(num_of(t, unit[i]) >= 0.0 && num_of(t, unit[i]) <= 1.0);
	ck_assert(num_of(t, "mode_confidence") >= num_of(t, "key_confidence"));
	ck_assert(num_of(t, "end_of_fade_in") >= 0.0 && num_of(t, "end_of_fade_in") <= num_of(t, "start_of_fade_out") &&
		  num_of(t, "start_of_fade_out") <= dur);
	static const char *const strings[] = {"sample_md5", "codestring", "echoprintstring", "synchstring",
					      "rhythmstring"};
	for (size_t i = 0; i < 5; i++)
		str_of(t, strings[i]);
	static const char *const versions[] = {"offset_seconds", "window_seconds", "code_version",
					       "echoprint_version", "synch_version", "rhythm_version"};
	for (size_t i = 0; i < 6; i++)
		num_of(t, versions[i]);

	/* beats at the tempo, two tatums a beat, bars starting on beats */
	static double beats[4096], tatums[8192], bars[2048];
	size_t nb = intervals(member(o, "beats"), dur, beats, 4096);
	size_t nt = intervals(member(o, "tatums"), dur, tatums, 8192);
	size_t nbar = intervals(member(o, "bars"), dur, bars, 2048);
	ck_assert_uint_eq(nt, 2 * nb);
	for (size_t i = 0; i < nb; i++)
		ck_assert_double_eq_tol(tatums[2 * i], beats[i], 1e-9);
	double tempo = num_of(f, "tempo");
	if (tempo > 0.0) {
		ck_assert_uint_gt(nb, 4);
		double mean = (beats[nb - 1] - beats[0]) / (double)(nb - 1);
		ck_assert_msg(fabs(mean * tempo / 60.0 - 1.0) < 0.1, "beats %g s apart at %g BPM", mean, tempo);
		ck_assert_uint_gt(nbar, 0);
		ck_assert_uint_lt(nbar, nb);
		for (size_t i = 0, j = 0; i < nbar; i++) {
			while (j < nb && beats[j] < bars[i] - 1e-9)
				j++;
			ck_assert_msg(j < nb && fabs(beats[j] - bars[i]) < 1e-9, "bar %zu at %g is on no beat", i, bars[i]);
		}
	}

	/* sections tile the track from 0, each with the track's metre and a key, level and tempo of its own (the
	 * track's key where there is one section) */
	json_object *sections = member(o, "sections");
	size_t ns = json_object_array_length(sections);
	ck_assert_uint_ge(ns, 1);
	double at = 0.0;
	for (size_t i = 0; i < ns; i++) {
		json_object *s = json_object_array_get_idx(sections, i);
		ck_assert_int_eq(json_object_object_length(s), 12);
		ck_assert_msg(fabs(num_of(s, "start") - at) < 1e-6, "section %zu starts at %g, not %g", i,
			      num_of(s, "start"), at);
		ck_assert(num_of(s, "duration") > 0.0);
		at += num_of(s, "duration");
		ck_assert(num_of(s, "confidence") >= 0.0 && num_of(s, "confidence") <= 1.0);
		ck_assert(num_of(s, "loudness") >= -60.0 && num_of(s, "loudness") <= 0.0);
		ck_assert(int_of(s, "key") >= -1 && int_of(s, "key") <= 11);
		ck_assert(int_of(s, "mode") == 0 || int_of(s, "mode") == 1);
		ck_assert(num_of(s, "key_confidence") >= 0.0 && num_of(s, "key_confidence") <= 1.0);
		/* the mode's margin is over a key that ranks second or below: at least the key's */
		ck_assert(num_of(s, "mode_confidence") >= num_of(s, "key_confidence") && num_of(s, "mode_confidence") <= 1.0);
		if (ns == 1) {
			ck_assert_int_eq(int_of(s, "key"), int_of(f, "key"));
			ck_assert_int_eq(int_of(s, "mode"), int_of(f, "mode"));
		}
		ck_assert_int_eq(int_of(s, "time_signature"), int_of(f, "time_signature"));
		/* its own tempo, from the beats in it: this clip keeps one */
		ck_assert_msg(fabs(num_of(s, "tempo") - num_of(f, "tempo")) <= 0.02 * num_of(f, "tempo"),
			      "section %zu at %g BPM in a track at %g", i, num_of(s, "tempo"), num_of(f, "tempo"));
	}
	ck_assert_msg(fabs(at - dur) < 1e-6, "sections end at %g, the track at %g", at, dur);
	assert_segments(member(o, "segments"), dur, tempo > 0.0);
}

static json_object *post_bytes(const unsigned char *b, size_t len, long want)
{
	const char *h[] = {"Content-Type: audio/wav", "X-Song-Title: Song", NULL};
	return request_json("POST", "/v1/audio-features", h, b, len, want);
}

static json_object *post_url(const char *file, long want)
{
	char body[512];
	snprintf(body, sizeof body, "{\"url\":\"%s/%s\"}", audio_base, file);
	const char *h[] = {"Content-Type: application/json", NULL};
	return request_json("POST", "/v1/audio-features", h, body, strlen(body), want);
}

/* ---- tests ---- */

START_TEST(post_bytes_schema_and_same_cache_as_analyze)
{
	json_object *a = post_bytes(music_wav, music_len, 200);
	assert_features(a);
	ck_assert_int_ne(int_of(a, "key"), -1);
	ck_assert(json_object_get_double(member(a, "tempo")) > 0.0);
	char id[32];
	snprintf(id, sizeof id, "%s", str_of(a, "id"));

	/* the same bytes again: the same id and object (served from the cache) */
	json_object *b = post_bytes(music_wav, music_len, 200);
	ck_assert(json_object_equal(a, b));
	json_object_put(b);

	/* /analyze_data sees the cached row and carries the three new fields with the same values, and the track id
	 * that leads to the Spotify objects */
	json_object *r = request_json("POST", "/analyze_data", NULL, music_wav, music_len, 200);
	ck_assert(json_object_get_boolean(member(r, "cached")));
	ck_assert_str_eq(str_of(r, "track_id"), str_of(a, "id"));
	const char *three[] = {"speechiness", "instrumentalness", "liveness", "danceability", "energy"};
	for (size_t i = 0; i < 5; i++)
		ck_assert_double_eq(unit_num(r, three[i]), unit_num(a, three[i]));
	json_object_put(r);

	/* GET by id gives the same object; analysis_url gives Spotify's audio-analysis object of the same track, and
	 * with format=songscope the full result with beats */
	char path[128];
	snprintf(path, sizeof path, "/v1/audio-features/%s", id);
	b = request_json("GET", path, NULL, NULL, 0, 200);
	ck_assert(json_object_equal(a, b));
	json_object_put(b);
	const char *url = strstr(str_of(a, "analysis_url"), "/v1/audio-analysis/");
	ck_assert_ptr_nonnull(url);
	r = request_json("GET", url, NULL, NULL, 0, 200);
	assert_analysis(r, a);
	json_object_put(r);
	snprintf(path, sizeof path, "/v1/audio-analysis/%s?format=spotify", id);
	b = request_json("GET", path, NULL, NULL, 0, 200);
	assert_analysis(b, a);
	json_object_put(b);
	snprintf(path, sizeof path, "/v1/audio-analysis/%s?format=songscope", id);
	r = request_json("GET", path, NULL, NULL, 0, 200);
	ck_assert(json_object_is_type(member(r, "beats"), json_type_array));
	ck_assert(json_object_is_type(member(r, "downbeats"), json_type_array));
	ck_assert(!json_object_object_get_ex(r, "segments", NULL)); /* stored for Spotify's object only */
	unit_num(r, "speechiness");
	ck_assert_str_eq(str_of(r, "title"), "Song");
	json_object_put(r);
	snprintf(path, sizeof path, "/v1/audio-analysis/%s?format=xml", id);
	expect_error("GET", path, NULL, NULL, 0, 400, "bad_request");
	json_object_put(a);
}
END_TEST

START_TEST(post_url_and_ids_are_stable)
{
	json_object *a = post_url("music.wav", 200);
	assert_features(a);
	json_object *b = post_url("music.wav", 200);
	ck_assert_str_eq(str_of(a, "id"), str_of(b, "id"));
	/* the URL and the uploaded bytes are cached apart (API.md cache keys), so their ids differ */
	json_object *c = post_bytes(music_wav, music_len, 200);
	ck_assert_str_ne(str_of(a, "id"), str_of(c, "id"));
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
}
END_TEST

START_TEST(key_minus_one_on_noise)
{
	json_object *a = post_bytes(noise_wav, noise_len, 200);
	assert_features(a);
	ck_assert_int_eq(int_of(a, "key"), -1);
	/* its audio-analysis: no key (and no key confidence) there either */
	json_object *r = request_json("GET", strstr(str_of(a, "analysis_url"), "/v1/audio-analysis/"), NULL, NULL, 0, 200);
	assert_analysis(r, a);
	ck_assert_double_eq(num_of(member(r, "track"), "key_confidence"), 0.0);
	json_object_put(r);
	json_object_put(a);
}
END_TEST

START_TEST(ids_hundred_mixed_known_and_unknown)
{
	json_object *known[3] = {post_bytes(music_wav, music_len, 200), post_bytes(noise_wav, noise_len, 200),
				 post_url("music.wav", 200)};
	const int at[3] = {0, 50, 99};
	char ids[100 * 24];
	size_t j = 0;
	for (int i = 0; i < 100; i++) {
		char id[32];
		int k = i == at[0] ? 0 : i == at[1] ? 1 : i == at[2] ? 2 : -1;
		if (k >= 0)
			snprintf(id, sizeof id, "%s", str_of(known[k], "id"));
		else if (i % 10 == 3)
			snprintf(id, sizeof id, "not-an-id-%d", i); /* malformed: unknown too */
		else
			snprintf(id, sizeof id, "%022d", i); /* well formed, no such track */
		j += (size_t)snprintf(ids + j, sizeof ids - j, "%s%s", i ? "," : "", id);
	}
	char *path = malloc(sizeof ids + 64);
	ck_assert_ptr_nonnull(path);
	snprintf(path, sizeof ids + 64, "/v1/audio-features?ids=%s", ids);
	json_object *o = request_json("GET", path, NULL, NULL, 0, 200);
	ck_assert_int_eq(json_object_object_length(o), 1);
	json_object *arr = member(o, "audio_features");
	ck_assert(json_object_is_type(arr, json_type_array));
	ck_assert_uint_eq(json_object_array_length(arr), 100);
	for (int i = 0; i < 100; i++) {
		json_object *e = json_object_array_get_idx(arr, (size_t)i);
		int k = i == at[0] ? 0 : i == at[1] ? 1 : i == at[2] ? 2 : -1;
		if (k < 0) {
			ck_assert_msg(e == NULL, "entry %d is not null", i);
			continue;
		}
		ck_assert_msg(e != NULL, "entry %d is null", i);
		assert_features(e);
		ck_assert(json_object_equal(e, known[k]));
	}
	json_object_put(o);

	/* 101 ids: 400, like every other limit of the API */
	snprintf(path, sizeof ids + 64, "/v1/audio-features?ids=%s,%s", ids, str_of(known[0], "id"));
	expect_error("GET", path, NULL, NULL, 0, 400, "bad_request");
	free(path);
	expect_error("GET", "/v1/audio-features", NULL, NULL, 0, 400, "bad_request");
	expect_error("GET", "/v1/audio-features?ids=", NULL, NULL, 0, 400, "bad_request");
	for (int k = 0; k < 3; k++)
		json_object_put(known[k]);
}
END_TEST

/* A manual override (/verify) is what the Spotify view reports as tempo, key and mode. */
START_TEST(overrides_win)
{
	json_object *a = post_bytes(music_wav, music_len, 200);
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1], body[256], path[64];
	crypto_hash_sha256(h, music_wav, music_len);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	snprintf(body, sizeof body, "{\"content_sha256\":\"%s\",\"manual_bpm\":98.5,\"manual_key\":\"D Major\"}", hex);
	const char *json[] = {"Content-Type: application/json", NULL};
	json_object_put(request_json("POST", "/verify", json, body, strlen(body), 200));
	snprintf(path, sizeof path, "/v1/audio-features/%s", str_of(a, "id"));
	json_object *b = request_json("GET", path, NULL, NULL, 0, 200);
	assert_features(b);
	ck_assert_double_eq(json_object_get_double(member(b, "tempo")), 98.5);
	ck_assert_int_eq(int_of(b, "key"), 2);
	ck_assert_int_eq(int_of(b, "mode"), 1);
	ck_assert_str_eq(str_of(b, "id"), str_of(a, "id"));
	json_object_put(a);
	json_object_put(b);
}
END_TEST

START_TEST(errors_are_the_api_errors)
{
	expect_error("GET", "/v1/audio-features/not-an-id", NULL, NULL, 0, 400, "bad_request");
	expect_error("GET", "/v1/audio-features/0000000000000000000000", NULL, NULL, 0, 404, "not_found");
	expect_error("GET", "/v1/audio-analysis/0000000000000000000000", NULL, NULL, 0, 404, "not_found");
	expect_error("GET", "/v1/audio-features/zzzzzzzzzzzzzzzzzzzzzz", NULL, NULL, 0, 400, "bad_request"); /* > 2^128 */
	/* Longer than any id (a pasted URL, a cache key in hex): still "not an id", not "no such endpoint". */
	char longer[96 + 200];
	int n = snprintf(longer, sizeof longer, "/v1/audio-features/");
	memset(longer + n, 'a', 200);
	longer[n + 200] = '\0';
	expect_error("GET", longer, NULL, NULL, 0, 400, "bad_request");
	memcpy(longer, "/v1/audio-analysis/", (size_t)n);
	expect_error("GET", longer, NULL, NULL, 0, 400, "bad_request");
	expect_error("DELETE", "/v1/audio-features", NULL, NULL, 0, 405, "method_not_allowed");
	const char *json[] = {"Content-Type: application/json", NULL};
	expect_error("POST", "/v1/audio-features", json, "{\"title\":\"x\"}", 13, 400, "bad_request");
	expect_error("POST", "/v1/audio-features", json, "{", 1, 400, "bad_request");
	const char *bin[] = {"Content-Type: application/octet-stream", NULL};
	expect_error("POST", "/v1/audio-features", bin, NULL, 0, 400, "bad_request");
	expect_error("POST", "/v1/audio-features", bin, "not audio at all, just text", 27, 415, "unsupported_media_type");
}
END_TEST

/* 401 and 403 on every new endpoint as on /analyze, the client scope is enough, and 429 with Retry-After
 * and the rate-limit headers once the key's minute is spent, on the new endpoints as on the old. */
START_TEST(auth_and_limits_identical)
{
	ss_it_server c;
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = "rate_limit_per_minute = 2\nrate_limit_burst = 2\n"};
	ss_it_start(&c, &o);
	static const struct {
		const char *method, *path;
	} eps[] = {{"POST", "/analyze"},
		   {"POST", "/v1/audio-features"},
		   {"GET", "/v1/audio-features?ids=0000000000000000000000"},
		   {"GET", "/v1/audio-features/0000000000000000000000"},
		   {"GET", "/v1/audio-analysis/0000000000000000000000"}};
	const char *bogus[] = {"X-API-Key: not-a-real-key", NULL};
	char first401[512] = "", first403[512] = "";
	for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&c, eps[i].method, eps[i].path, NULL, "{}", 2, &r), 0);
		ss_it_assert_error(&r, 401, "missing_api_key");
		if (i == 0)
			snprintf(first401, sizeof first401, "%s", r.body.data);
		else
			ck_assert_str_eq(r.body.data, first401);
		ss_it_resp_free(&r);
		ck_assert_int_eq(ss_it_request(&c, eps[i].method, eps[i].path, bogus, "{}", 2, &r), 0);
		ss_it_assert_error(&r, 403, "invalid_api_key");
		if (i == 0)
			snprintf(first403, sizeof first403, "%s", r.body.data);
		else
			ck_assert_str_eq(r.body.data, first403);
		ss_it_resp_free(&r);
	}
	char key[128], h[160];
	ss_it_make_key(&c, "client", key, sizeof key);
	snprintf(h, sizeof h, "X-API-Key: %s", key);
	const char *with_key[] = {h, NULL};
	/* 2 per minute and a burst of 2: three at once are admitted, then 429 everywhere */
	for (int i = 0; i < 3; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&c, "GET", "/v1/audio-features?ids=0000000000000000000000", with_key, NULL, 0,
					       &r), 0);
		ck_assert_msg(r.status == 200, "request %d: %ld %s", i, r.status, r.body.data);
		char v[32];
		ck_assert(ss_it_header(&r, "X-RateLimit-Limit", v, sizeof v));
		ck_assert_str_eq(v, "2");
		ck_assert(ss_it_header(&r, "X-RateLimit-Remaining", v, sizeof v));
		ck_assert(ss_it_header(&r, "X-RateLimit-Reset", v, sizeof v));
		json_object *j = ss_it_json(&r);
		ck_assert(json_object_array_get_idx(member(j, "audio_features"), 0) == NULL);
		json_object_put(j);
		ss_it_resp_free(&r);
	}
	for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&c, eps[i].method, eps[i].path, with_key, "{}", 2, &r), 0);
		ss_it_assert_error(&r, 429, "rate_limited");
		char v[32];
		ck_assert_msg(ss_it_header(&r, "Retry-After", v, sizeof v), "no Retry-After on %s", eps[i].path);
		ck_assert(ss_it_header(&r, "X-RateLimit-Remaining", v, sizeof v));
		ck_assert_str_eq(v, "0");
		ss_it_resp_free(&r);
	}
	ss_it_stop(&c);
}
END_TEST

/* songscope-admin with the server's config; aborts the test when it fails. Returns its JSON (caller puts). */
static json_object *admin_json(ss_it_server *c, const char *const *args)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	const char *argv[16] = {bin, "--config", c->conf, "--json"};
	size_t n = 4;
	for (size_t i = 0; args[i] != NULL && n + 1 < sizeof argv / sizeof argv[0]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ss_buf out;
	ss_buf_init(&out, 0);
	int rc = ss_it_run((char *const *)argv, &out);
	ck_assert_msg(rc == 0, "songscope-admin %s failed (%d): %s", args[0], rc, out.data ? out.data : "");
	json_object *j = json_tokener_parse(out.data);
	ck_assert_msg(j != NULL, "songscope-admin printed no JSON: %s", out.data ? out.data : "");
	ss_buf_free(&out);
	return j;
}

/* Every endpoint of the table answers what /analyze (the first) answers: status, error code, body. */
static void all_refuse_alike(ss_it_server *c, const char *const *headers, long status, const char *code,
			     bool retry_after)
{
	static const struct {
		const char *method, *path;
	} eps[] = {{"POST", "/analyze"},
		   {"POST", "/v1/audio-features"},
		   {"GET", "/v1/audio-features?ids=0000000000000000000000"},
		   {"GET", "/v1/audio-features/0000000000000000000000"},
		   {"GET", "/v1/audio-analysis/0000000000000000000000"}};
	char first[512] = "";
	for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(c, eps[i].method, eps[i].path, headers, "{}", 2, &r), 0);
		ss_it_assert_error(&r, status, code);
		char v[32];
		if (retry_after)
			ck_assert_msg(ss_it_header(&r, "Retry-After", v, sizeof v), "no Retry-After on %s",
				      eps[i].path);
		if (i == 0)
			snprintf(first, sizeof first, "%s", r.body.data);
		else
			ck_assert_msg(strcmp(r.body.data, first) == 0, "%s %s: %s, /analyze: %s", eps[i].method,
				      eps[i].path, r.body.data, first);
		ss_it_resp_free(&r);
	}
}

/* A key's daily quota spent: 429 daily_limit_exceeded with Retry-After on the new endpoints as on /analyze,
 * and a key deactivated with songscope-admin: the same 403 everywhere on its very next request. */
START_TEST(daily_limit_and_deactivation_identical)
{
	ss_it_server c;
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = "rate_limit_per_minute = 100\n"};
	ss_it_start(&c, &o);
	const char *create[] = {"keys", "create", "quota", "--scope", "client", "--daily-limit", "2", NULL};
	json_object *j = admin_json(&c, create);
	char key[128], h[160], id[32];
	snprintf(key, sizeof key, "%s", str_of(j, "key"));
	snprintf(id, sizeof id, "%lld", (long long)int_of(j, "id"));
	json_object_put(j);
	snprintf(h, sizeof h, "X-API-Key: %s", key);
	const char *with_key[] = {h, NULL};
	const char *ids = "/v1/audio-features?ids=0000000000000000000000";
	for (int i = 0; i < 2; i++)
		json_object_put(request_json_on(&c, "GET", ids, with_key, 200));
	all_refuse_alike(&c, with_key, 429, "daily_limit_exceeded", true);

	const char *create2[] = {"keys", "create", "gone", "--scope", "client", NULL};
	j = admin_json(&c, create2);
	snprintf(key, sizeof key, "%s", str_of(j, "key"));
	snprintf(id, sizeof id, "%lld", (long long)int_of(j, "id"));
	json_object_put(j);
	snprintf(h, sizeof h, "X-API-Key: %s", key);
	json_object_put(request_json_on(&c, "GET", "/v1/audio-features/0000000000000000000000", with_key, 404));
	const char *deactivate[] = {"keys", "deactivate", id, NULL};
	json_object_put(admin_json(&c, deactivate));
	all_refuse_alike(&c, with_key, 403, "invalid_api_key", false);
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
	Suite *s = suite_create("audio_features");
	TCase *tc = tcase_create("shared");
	tcase_add_unchecked_fixture(tc, setup_shared, teardown_shared);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, post_bytes_schema_and_same_cache_as_analyze);
	tcase_add_test(tc, post_url_and_ids_are_stable);
	tcase_add_test(tc, key_minus_one_on_noise);
	tcase_add_test(tc, ids_hundred_mixed_known_and_unknown);
	tcase_add_test(tc, overrides_win);
	tcase_add_test(tc, errors_are_the_api_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("separate");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, auth_and_limits_identical);
	tcase_add_test(tc, daily_limit_and_deactivation_identical);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
