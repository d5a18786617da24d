/* FFmpeg in the service: with preload_ffmpeg = auto (the default) the master loads it before fork and every
 * responder has it mapped from the start; with `no` a WAV upload maps no FFmpeg library in any process; when
 * it cannot be loaded (test builds: SS_TEST_FFMPEG_DIR names a missing directory) AAC/M4A uploads are a JSON
 * 415 saying so, logged once, WAV still works, and `yes` refuses to start. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check_main.h"
#include "tests/integration/harness.h"

static ss_it_server srv;

static void teardown(void)
{
	ss_it_stop(&srv);
	unsetenv("SS_TEST_FFMPEG_DIR");
}

/* Whether process pid maps a file whose name contains `name`. */
static int pid_maps(pid_t pid, const char *name)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

/* A 4 s 16-bit mono WAV: a tone with a click every half second. */
static unsigned char *make_wav(size_t *len)
{
	const uint32_t rate = 22050, n = 4 * rate, data = n * 2;
	unsigned char *b = malloc(44 + (size_t)data);
	ck_assert_ptr_nonnull(b);
	static const unsigned char head[36] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
					       16, 0, 0, 0, 1, 0, 1, 0, 0x22, 0x56, 0, 0, 0x44, 0xAC, 0, 0, 2, 0, 16, 0};
	memcpy(b, head, sizeof head);
	uint32_t riff = 36 + data;
	for (int i = 0; i < 4; i++) {
		b[4 + i] = (unsigned char)(riff >> (8 * i));
		b[40 + i] = (unsigned char)(data >> (8 * i));
	}
	memcpy(b + 36, "data", 4);
	for (uint32_t i = 0; i < n; i++) {
		double v = 0.3 * sin(2.0 * M_PI * 440.0 * i / rate) + ((i % (rate / 2)) < 64 ? 0.5 : 0.0);
		uint16_t s = (uint16_t)(int16_t)lrint(v * 32767.0);
		b[44 + 2 * (size_t)i] = (unsigned char)s;
		b[45 + 2 * (size_t)i] = (unsigned char)(s >> 8);
	}
	*len = 44 + (size_t)data;
	return b;
}

/* The first bytes of an M4A file: the service sends them to FFmpeg (then 422 corrupt) or refuses (415). */
static const unsigned char m4a_head[32] = {0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'M', '4', 'A', ' ', 0, 0, 0, 0,
					  'M', '4', 'A', ' ', 'i', 's', 'o', 'm', 0, 0, 0, 8, 'f', 'r', 'e', 'e'};

static void upload(const void *body, size_t len, long status, const char *code, ss_it_resp *r)
{
	const char *h[] = {"Content-Type: application/octet-stream", NULL};
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/analyze_data", h, body, len, r), 0);
	if (code != NULL)
		ss_it_assert_error(r, status, code);
	else
		ck_assert_msg(r->status == status, "status %ld: %s", r->status, r->body.data ? r->body.data : "");
}

static void upload_wav(void)
{
	size_t len;
	unsigned char *wav = make_wav(&len);
	ss_it_resp r;
	upload(wav, len, 200, NULL, &r);
	ss_it_resp_free(&r);
	free(wav);
}

/* GET /diagnostics (auth is off in these tests): the decoders component's `ffmpeg` and the overall status. */
static void diagnostics(char *ffmpeg, size_t ffmpeg_len, char *overall, size_t overall_len, char *ffmpeg_error,
			size_t error_len)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/diagnostics", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	json_object *d = ss_it_json(&r), *c, *dec, *v;
	ck_assert(json_object_object_get_ex(d, "components", &c) && json_object_object_get_ex(c, "decoders", &dec));
	ck_assert(json_object_object_get_ex(dec, "ffmpeg", &v));
	snprintf(ffmpeg, ffmpeg_len, "%s", json_object_get_string(v));
	ck_assert(json_object_object_get_ex(d, "overall_status", &v));
	snprintf(overall, overall_len, "%s", json_object_get_string(v));
	snprintf(ffmpeg_error, error_len, "%s",
		 json_object_object_get_ex(dec, "ffmpeg_error", &v) ? json_object_get_string(v) : "");
	json_object_put(d);
	ss_it_resp_free(&r);
}

#if !defined(SS_HAVE_FFMPEG) || defined(SS_TEST_HOOKS)
/* Count the lines of the service's log containing `what`. */
static int log_count(const char *what)
{
	char path[400];
	snprintf(path, sizeof path, "%s/songscope.log", srv.dir);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "no log %s", path);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof line, f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}
#endif

START_TEST(default_preloads_in_the_master)
{
	ss_it_opts o = {.workers = 2};
	ss_it_start(&srv, &o);
	pid_t kids[8];
	ck_assert_int_eq(ss_it_wait_children(srv.master_pid, 2, NULL, 0), 0);
	int n = ss_it_children(srv.master_pid, kids, 8);
	ck_assert_int_eq(n, 2);
#ifdef SS_HAVE_FFMPEG
	/* Loaded once, before fork: the master and every responder map it before any AAC file arrives. */
	ck_assert(pid_maps(srv.master_pid, "/libavformat.so"));
	for (int i = 0; i < n; i++)
		ck_assert(pid_maps(kids[i], "/libavformat.so") && pid_maps(kids[i], "/libavcodec.so"));
	char ff[32], overall[32], ff_error[256];
	diagnostics(ff, sizeof ff, overall, sizeof overall, ff_error, sizeof ff_error);
	ck_assert_str_eq(ff, "loaded");
	/* and it decodes: the M4A head reaches FFmpeg, which finds no movie in it (422, not 415) */
	ss_it_resp r;
	upload(m4a_head, sizeof m4a_head, 422, "unprocessable_audio", &r);
	ss_it_resp_free(&r);
#else
	ck_assert(!pid_maps(srv.master_pid, "/libavformat.so"));
	ss_it_resp r;
	upload(m4a_head, sizeof m4a_head, 415, "unsupported_media_type", &r);
	ss_it_resp_free(&r);
	char ff[32], overall[32], ff_error[256];
	diagnostics(ff, sizeof ff, overall, sizeof overall, ff_error, sizeof ff_error);
	ck_assert_str_eq(ff, "not_built");
#endif
	upload_wav();
}
END_TEST

START_TEST(no_preload_and_wav_maps_no_ffmpeg)
{
	ss_it_opts o = {.workers = 2, .extra_conf = "preload_ffmpeg = no\n"};
	ss_it_start(&srv, &o);
	ck_assert_int_eq(ss_it_wait_children(srv.master_pid, 2, NULL, 0), 0);
	upload_wav();
	upload_wav();
	pid_t kids[8];
	int n = ss_it_children(srv.master_pid, kids, 8);
	ck_assert_int_eq(n, 2);
	ck_assert(!pid_maps(srv.master_pid, "/libavformat.so") && !pid_maps(srv.master_pid, "/libavcodec.so"));
	for (int i = 0; i < n; i++)
		ck_assert_msg(!pid_maps(kids[i], "/libavformat.so") && !pid_maps(kids[i], "/libavcodec.so") &&
				      !pid_maps(kids[i], "/libavutil.so"),
			      "responder %ld maps FFmpeg after WAV uploads", (long)kids[i]);
#ifdef SS_HAVE_FFMPEG
	char ff[32], overall[32], ff_error[256];
	diagnostics(ff, sizeof ff, overall, sizeof overall, ff_error, sizeof ff_error);
	ck_assert_str_eq(ff, "on_demand");
	ck_assert_str_eq(overall, "healthy");
	/* The first AAC file loads it in the responder that gets it. */
	ss_it_resp r;
	upload(m4a_head, sizeof m4a_head, 422, "unprocessable_audio", &r);
	ss_it_resp_free(&r);
	int loaded = 0;
	for (int i = 0; i < n; i++)
		loaded += pid_maps(kids[i], "/libavformat.so");
	ck_assert_int_eq(loaded, 1);
#endif
}
END_TEST

#if defined(SS_HAVE_FFMPEG) && defined(SS_TEST_HOOKS)
START_TEST(unloadable_ffmpeg_is_a_415_logged_once)
{
	ck_assert_int_eq(setenv("SS_TEST_FFMPEG_DIR", "/nonexistent/ffmpeg-libs", 1), 0);
	ss_it_opts o = {.workers = 2};
	ss_it_start(&srv, &o);
	for (int i = 0; i < 4; i++) {
		ss_it_resp r;
		upload(m4a_head, sizeof m4a_head, 415, "unsupported_media_type", &r);
		ck_assert_msg(strstr(r.body.data, "AAC/M4A decoding is unavailable") != NULL, "%s", r.body.data);
		ss_it_resp_free(&r);
	}
	upload_wav();
	/* The master tried once before fork and logged why; the responders inherited the outcome and did not try
	 * again (each failed request still has its own line, as every failed analysis does). */
	ck_assert_int_eq(log_count("cannot load FFmpeg"), 1);
	ck_assert_int_eq(log_count("/nonexistent/ffmpeg-libs/libavutil.so."), 1);
	/* /diagnostics says so, with the reason. */
	char ff[32], overall[32], ff_error[256];
	diagnostics(ff, sizeof ff, overall, sizeof overall, ff_error, sizeof ff_error);
	ck_assert_str_eq(ff, "unavailable");
	ck_assert_str_eq(overall, "degraded");
	ck_assert_msg(strstr(ff_error, "/nonexistent/ffmpeg-libs/libavutil.so.") != NULL, "%s", ff_error);
}
END_TEST
#endif

/* Without FFmpeg (a build without it, or, in a test build, a directory without the libraries) `yes` stops the
 * service at start with the reason instead of serving without AAC. */
#if !defined(SS_HAVE_FFMPEG) || defined(SS_TEST_HOOKS)
START_TEST(preload_yes_refuses_to_start_without_ffmpeg)
{
	ss_it_opts o = {.workers = 1, .no_songscope = true, .extra_conf = "preload_ffmpeg = yes\n"};
	ss_it_start(&srv, &o);
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "SS_TEST_FFMPEG_DIR=/nonexistent/ffmpeg-libs timeout 30 '%s/fcgi/songscope.fcgi' --config '%s' "
		 "--listen '%s' %s 2>'%s/songscope.log'",
		 ss_it_builddir(), srv.conf, srv.socket, geteuid() == 0 ? "--allow-root" : "", srv.dir);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	ck_assert_int_eq(ss_it_run(argv, NULL), 1);
#ifdef SS_HAVE_FFMPEG
	ck_assert_int_eq(log_count("preload_ffmpeg = yes and FFmpeg cannot be loaded; refusing to start"), 1);
#else
	ck_assert_int_eq(log_count("preload_ffmpeg = yes, but this build has no FFmpeg"), 1);
#endif
	ck_assert_int_eq(access(srv.socket, F_OK), -1); /* it never listened */
}
END_TEST
#endif

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "nginx not found (SS_NGINX); skipping integration tests\n");
		return 77;
	}
	Suite *s = suite_create("ffmpeg");
	TCase *tc = tcase_create("preload");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, default_preloads_in_the_master);
	tcase_add_test(tc, no_preload_and_wav_maps_no_ffmpeg);
#if defined(SS_HAVE_FFMPEG) && defined(SS_TEST_HOOKS)
	tcase_add_test(tc, unloadable_ffmpeg_is_a_415_logged_once);
#endif
#if !defined(SS_HAVE_FFMPEG) || defined(SS_TEST_HOOKS)
	tcase_add_test(tc, preload_yes_refuses_to_start_without_ffmpeg);
#endif
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
