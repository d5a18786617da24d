/* What browsers meet, on every front in conf/ (nginx, lighttpd, Apache): CORS answers for the origins in
 * cors_origins and none for others, preflight OPTIONS passed through to songscope by every web server. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check_main.h"
#include "tests/integration/harness.h"

static const ss_it_front fronts[] = {SS_IT_NGINX, SS_IT_LIGHTTPD, SS_IT_LIGHTTPD_SPAWN, SS_IT_APACHE_PROXY,
				     SS_IT_APACHE_FCGID};
enum { N_FRONTS = sizeof fronts / sizeof fronts[0] };

#define APP "https://app.example.org"

static bool has(const ss_it_resp *r, const char *name)
{
	char v[512];
	return ss_it_header(r, name, v, sizeof v) == 1;
}

static void expect_header(const ss_it_resp *r, const char *what, const char *name, const char *want)
{
	char v[512];
	ck_assert_msg(ss_it_header(r, name, v, sizeof v) == 1, "%s: no %s header", what, name);
	ck_assert_msg(strcmp(v, want) == 0, "%s: %s is '%s', want '%s'", what, name, v, want);
}

static void expect_header_has(const ss_it_resp *r, const char *what, const char *name, const char *part)
{
	char v[512];
	ck_assert_msg(ss_it_header(r, name, v, sizeof v) == 1, "%s: no %s header", what, name);
	ck_assert_msg(strstr(v, part) != NULL, "%s: %s is '%s', without '%s'", what, name, v, part);
}

/* A listed origin may read answers (errors too) and gets preflight answers naming the path's methods and the
 * headers songscope reads; an unlisted origin gets no CORS header at all, and its preflight is refused. */
START_TEST(cors_for_listed_origins_only)
{
	ss_it_front f = fronts[_i];
	if (!ss_it_have_front(f)) {
		fprintf(stderr, "%s is not installed: CORS not checked behind it\n", ss_it_front_name(f));
		return;
	}
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "required", .front = f,
			.extra_conf = "cors_origins = " APP ", http://localhost:3000\n"};
	ss_it_start(&s, &o);
	char key[128], hdr[192];
	ss_it_make_key(&s, "client", key, sizeof key);
	snprintf(hdr, sizeof hdr, "X-API-Key: %s", key);
	const char *name = ss_it_front_name(f);
	ss_it_resp r;

	/* Simple request from a listed origin. */
	const char *h1[] = {"Origin: " APP, hdr, NULL};
	ck_assert_int_eq(ss_it_request(&s, "GET", "/stats", h1, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	expect_header(&r, name, "Access-Control-Allow-Origin", APP);
	expect_header_has(&r, name, "Vary", "Origin");
	expect_header_has(&r, name, "Access-Control-Expose-Headers", "X-RateLimit-Remaining");
	expect_header_has(&r, name, "Access-Control-Expose-Headers", "Retry-After");
	ss_it_resp_free(&r);

	/* An error answer is readable too (the page shows the message). */
	const char *h2[] = {"Origin: " APP, NULL};
	ck_assert_int_eq(ss_it_request(&s, "GET", "/stats", h2, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	expect_header(&r, name, "Access-Control-Allow-Origin", APP);
	ss_it_resp_free(&r);

	/* Preflight: no key needed, methods of that path, the headers a page sends, a max-age. */
	const char *pre[] = {"Origin: " APP, "Access-Control-Request-Method: POST",
			     "Access-Control-Request-Headers: x-api-key, content-type, x-song-title", NULL};
	ck_assert_int_eq(ss_it_request(&s, "OPTIONS", "/analyze_data", pre, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 204, "%s: preflight status %ld: %.200s", name, r.status, r.body.data);
	expect_header(&r, name, "Access-Control-Allow-Origin", APP);
	expect_header(&r, name, "Access-Control-Allow-Methods", "POST");
	expect_header_has(&r, name, "Access-Control-Allow-Headers", "X-API-Key");
	expect_header_has(&r, name, "Access-Control-Allow-Headers", "Content-Type");
	expect_header_has(&r, name, "Access-Control-Allow-Headers", "X-Song-Title");
	expect_header(&r, name, "Access-Control-Max-Age", "600");
	expect_header_has(&r, name, "Vary", "Origin");
	ss_it_resp_free(&r);

	const char *pre_id[] = {"Origin: http://localhost:3000", "Access-Control-Request-Method: DELETE", NULL};
	ck_assert_int_eq(ss_it_request(&s, "OPTIONS", "/cache/42", pre_id, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 204, "%s: preflight status %ld", name, r.status);
	expect_header(&r, name, "Access-Control-Allow-Origin", "http://localhost:3000");
	expect_header(&r, name, "Access-Control-Allow-Methods", "DELETE");
	ss_it_resp_free(&r);

	/* A preflight for a path that does not exist is not a preflight answer. */
	ck_assert_int_eq(ss_it_request(&s, "OPTIONS", "/nope", pre, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 404, "not_found");
	ck_assert(!has(&r, "Access-Control-Allow-Methods"));
	ss_it_resp_free(&r);

	/* Unlisted origins: nothing that lets a browser read the answer, and no preflight answer. */
	static const char *const others[] = {"Origin: https://evil.example", "Origin: https://app.example.org.evil",
					     "Origin: http://app.example.org", "Origin: null"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		const char *h3[] = {others[i], hdr, NULL};
		ck_assert_int_eq(ss_it_request(&s, "GET", "/stats", h3, NULL, 0, &r), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_msg(!has(&r, "Access-Control-Allow-Origin"), "%s: %s got Access-Control-Allow-Origin", name,
			      others[i]);
		expect_header_has(&r, name, "Vary", "Origin");
		ss_it_resp_free(&r);
		const char *h4[] = {others[i], "Access-Control-Request-Method: POST", NULL};
		ck_assert_int_eq(ss_it_request(&s, "OPTIONS", "/analyze_data", h4, NULL, 0, &r), 0);
		ss_it_assert_error(&r, 405, "method_not_allowed");
		ck_assert(!has(&r, "Access-Control-Allow-Origin"));
		ck_assert(!has(&r, "Access-Control-Allow-Methods"));
		ss_it_resp_free(&r);
	}
	ss_it_stop(&s);
}
END_TEST

/* cors_origins unset (the default): not even Vary, and OPTIONS stays a 405. */
START_TEST(no_cors_by_default)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 1, .auth = "off"};
	ss_it_start(&s, &o);
	ss_it_resp r;
	const char *h[] = {"Origin: " APP, NULL};
	ck_assert_int_eq(ss_it_request(&s, "GET", "/health", h, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(!has(&r, "Access-Control-Allow-Origin"));
	ck_assert(!has(&r, "Vary"));
	ss_it_resp_free(&r);
	const char *pre[] = {"Origin: " APP, "Access-Control-Request-Method: POST", NULL};
	ck_assert_int_eq(ss_it_request(&s, "OPTIONS", "/analyze", pre, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 405, "method_not_allowed");
	ck_assert(!has(&r, "Access-Control-Allow-Origin"));
	ss_it_resp_free(&r);
	ss_it_stop(&s);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "skipped: nginx is not installed\n");
		return 77;
	}
	Suite *su = suite_create("web");
	TCase *tc = tcase_create("cors");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, cors_for_listed_origins_only, 0, N_FRONTS);
	tcase_add_test(tc, no_cors_by_default);
	suite_add_tcase(su, tc);
	return ss_check_run(su);
}
