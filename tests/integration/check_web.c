/* What browsers meet, on every front in conf/ (nginx, lighttpd, Apache): CORS answers for the origins in
 * cors_origins and none for others, preflight OPTIONS passed through to songscope by every web server; the
 * page under /ui/ with its types and Content-Security-Policy; the admin key endpoints the dashboard uses. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"
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


/* The page's files through each web server: the index with a CSP that allows nothing but songscope itself and
 * no inline script or style, each asset with its type, "/ui" sent on to "ui/", anything else a JSON 404. */
START_TEST(ui_served_with_types_and_csp)
{
	ss_it_front f = fronts[_i];
	if (!ss_it_have_front(f)) {
		fprintf(stderr, "%s is not installed: /ui/ not checked behind it\n", ss_it_front_name(f));
		return;
	}
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "required", .front = f};
	ss_it_start(&s, &o);
	const char *name = ss_it_front_name(f);
	ss_it_resp r;

	ck_assert_int_eq(ss_it_request(&s, "GET", "/ui/", NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "%s: /ui/ -> %ld %.200s", name, r.status, r.body.data);
	expect_header(&r, name, "Content-Type", "text/html; charset=utf-8");
	expect_header_has(&r, name, "Content-Security-Policy", "default-src 'self'");
	expect_header_has(&r, name, "Content-Security-Policy", "script-src 'self';");
	expect_header(&r, name, "X-Content-Type-Options", "nosniff");
	char csp[512];
	ss_it_header(&r, "Content-Security-Policy", csp, sizeof csp);
	ck_assert_msg(strstr(csp, "unsafe") == NULL && strstr(csp, "http") == NULL, "%s: CSP %s", name, csp);
	ck_assert_ptr_nonnull(strstr(r.body.data, "<title>songscope</title>"));
	/* No inline script, style or handler: the CSP would block them. No address outside songscope. */
	ck_assert_ptr_null(strstr(r.body.data, "<script>"));
	ck_assert_ptr_null(strstr(r.body.data, "<style"));
	ck_assert_ptr_null(strstr(r.body.data, " style="));
	ck_assert_ptr_null(strstr(r.body.data, " onclick="));
	ck_assert_ptr_null(strstr(r.body.data, "https://cdn"));
	ck_assert_ptr_null(strstr(r.body.data, "src=\"http"));
	ss_it_resp_free(&r);

	static const struct {
		const char *path, *type;
	} assets[] = {{"/ui/index.html", "text/html; charset=utf-8"}, {"/ui/style.css", "text/css; charset=utf-8"},
		      {"/ui/common.js", "text/javascript; charset=utf-8"},
		      {"/ui/try.js", "text/javascript; charset=utf-8"},
		      {"/ui/dashboard.js", "text/javascript; charset=utf-8"}, {"/ui/favicon.svg", "image/svg+xml"}};
	for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++) {
		ck_assert_int_eq(ss_it_request(&s, "GET", assets[i].path, NULL, NULL, 0, &r), 0);
		ck_assert_msg(r.status == 200, "%s: %s -> %ld", name, assets[i].path, r.status);
		expect_header(&r, assets[i].path, "Content-Type", assets[i].type);
		ck_assert_int_gt(r.body.len, 100);
		ss_it_resp_free(&r);
	}

	/* "/ui" without the slash: to "ui/", so that the page's relative links work under any mount point. */
	ck_assert_int_eq(ss_it_request(&s, "GET", "/ui", NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 301, "%s: /ui -> %ld", name, r.status);
	expect_header(&r, name, "Location", "ui/");
	ss_it_resp_free(&r);

	static const char *const missing[] = {"/ui/nope.js", "/ui/songscope.conf", "/ui/local.mk", "/ui/.hidden.js",
					      "/ui/a.b.js", "/ui/sub/index.html", "/ui/%2e%2e/songscope.conf"};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		ck_assert_int_eq(ss_it_request(&s, "GET", missing[i], NULL, NULL, 0, &r), 0);
		ck_assert_msg(r.status == 404 || r.status == 400, "%s: %s -> %ld", name, missing[i], r.status);
		ss_it_assert_error(&r, r.status, r.status == 404 ? "not_found" : "bad_request");
		ss_it_resp_free(&r);
	}
	ss_it_stop(&s);
}
END_TEST

/* ui_dir: only regular files directly in it, never through a symbolic link; an empty ui_dir means no page. */
START_TEST(ui_dir_links_and_off)
{
	char dir[256], path[320], conf[320];
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, "ss-ui-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/index.html", dir);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("<!doctype html><title>t</title>\n", fp);
	fclose(fp);
	snprintf(path, sizeof path, "%s/secret.txt", dir);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof path, "%s/dir.js", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(conf, sizeof conf, "ui_dir = %s\n", dir);
	ss_it_server s;
	ss_it_opts o = {.workers = 1, .auth = "off", .extra_conf = conf};
	ss_it_start(&s, &o);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&s, "GET", "/ui/", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_request(&s, "GET", "/ui/secret.txt", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 404, "not_found");
	ck_assert_ptr_null(strstr(r.body.data, "root:"));
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_request(&s, "GET", "/ui/dir.js", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 404, "not_found");
	ss_it_resp_free(&r);
	ss_it_stop(&s);

	ss_it_opts off = {.workers = 1, .auth = "off", .extra_conf = "ui_dir =\n"};
	ss_it_start(&s, &off);
	ck_assert_int_eq(ss_it_request(&s, "GET", "/ui/", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 404, "not_found");
	ss_it_resp_free(&r);
	ss_it_stop(&s);
	ss_scratch_remove(dir);
}
END_TEST

static long req_json(ss_it_server *s, const char *method, const char *path, const char *key, const char *body,
		     json_object **out)
{
	char hdr[192];
	snprintf(hdr, sizeof hdr, "X-API-Key: %s", key);
	const char *h[] = {hdr, "Content-Type: application/json", NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(s, method, path, h, body, body ? strlen(body) : 0, &r), 0);
	long st = r.status;
	if (out != NULL)
		*out = ss_it_json(&r);
	ss_it_resp_free(&r);
	return st;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* The dashboard's key endpoints: an admin key lists, creates (the new key works at once) and deactivates
 * (refused at once, in every responder); a client key gets 403; bad bodies 400; unknown ids 404. */
START_TEST(admin_key_endpoints)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = "rate_limit_per_minute = 100000\n"};
	ss_it_start(&s, &o);
	char admin[128], client[128];
	ss_it_make_key(&s, "admin", admin, sizeof admin);
	ss_it_make_key(&s, "client", client, sizeof client);
	json_object *j;

	ck_assert_int_eq(req_json(&s, "GET", "/auth/keys", admin, NULL, &j), 200);
	json_object *keys;
	ck_assert(json_object_object_get_ex(j, "keys", &keys));
	ck_assert_int_eq(json_object_array_length(keys), 2);
	json_object *k0 = json_object_array_get_idx(keys, 0);
	ck_assert_str_eq(jstr(k0, "scope"), "admin");
	ck_assert_ptr_nonnull(jstr(k0, "prefix"));
	json_object *v;
	ck_assert(json_object_object_get_ex(k0, "requests_today", &v) && json_object_get_int64(v) >= 1);
	ck_assert(json_object_object_get_ex(k0, "daily_limit", &v));
	ck_assert(!json_object_object_get_ex(k0, "key", &v));
	json_object_put(j);

	ck_assert_int_eq(req_json(&s, "POST", "/auth/keys", admin,
				  "{\"name\":\"web app\",\"scope\":\"client\",\"daily_limit\":500}", &j),
			 201);
	const char *fresh = jstr(j, "key");
	ck_assert_ptr_nonnull(fresh);
	ck_assert_str_eq(jstr(j, "name"), "web app");
	ck_assert_str_eq(jstr(j, "scope"), "client");
	ck_assert(json_object_object_get_ex(j, "daily_limit", &v) && json_object_get_int64(v) == 500);
	char newkey[128];
	snprintf(newkey, sizeof newkey, "%s", fresh);
	ck_assert(json_object_object_get_ex(j, "id", &v));
	long long id = json_object_get_int64(v);
	json_object_put(j);
	/* Works at once, on every responder. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(req_json(&s, "GET", "/auth/key", newkey, NULL, NULL), 200);
	/* A client key (the new one too) is refused from the key endpoints. */
	ck_assert_int_eq(req_json(&s, "GET", "/auth/keys", client, NULL, &j), 403);
	ck_assert_str_eq(jstr(j, "error"), "forbidden");
	json_object_put(j);
	ck_assert_int_eq(req_json(&s, "POST", "/auth/keys", newkey, "{\"name\":\"x\",\"scope\":\"admin\"}", NULL), 403);
	ck_assert_int_eq(req_json(&s, "DELETE", "/auth/keys/1", client, NULL, NULL), 403);

	static const char *const bad[] = {"{}", "{\"name\":5}", "{\"name\":\"x\",\"scope\":\"root\"}",
					  "{\"name\":\"x\",\"daily_limit\":-1}",
					  "{\"name\":\"x\",\"rate_limit\":\"9\"}",
					  "{\"name\":\"\"}", "[]", "not json",
					  /* names an operator's terminal would act on when it lists the keys */
					  "{\"name\":\"x\\u001b[2J\"}", "{\"name\":\"a\\nforged row\"}",
					  "{\"name\":\"ok\",\"email\":\"a\\u009b2J@x.org\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(req_json(&s, "POST", "/auth/keys", admin, bad[i], &j), 400);
		ck_assert_str_eq(jstr(j, "error"), "bad_request");
		json_object_put(j);
	}
	ck_assert_int_eq(req_json(&s, "DELETE", "/auth/keys/999999", admin, NULL, &j), 404);
	ck_assert_str_eq(jstr(j, "error"), "not_found");
	json_object_put(j);

	char path[64];
	snprintf(path, sizeof path, "/auth/keys/%lld", id);
	ck_assert_int_eq(req_json(&s, "DELETE", path, admin, NULL, &j), 200);
	ck_assert_str_eq(jstr(j, "status"), "deactivated");
	json_object_put(j);
	/* Refused at once by every responder (no waiting for key_cache_ttl). */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(req_json(&s, "GET", "/auth/key", newkey, NULL, NULL), 403);
	ck_assert_int_eq(req_json(&s, "GET", "/auth/keys", admin, NULL, &j), 200);
	ck_assert(json_object_object_get_ex(j, "keys", &keys));
	ck_assert_int_eq(json_object_array_length(keys), 3);
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(keys, 2), "active", &v));
	ck_assert(!json_object_get_boolean(v));
	json_object_put(j);
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
	tc = tcase_create("ui");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, ui_served_with_types_and_csp, 0, N_FRONTS);
	tcase_add_test(tc, ui_dir_links_and_off);
	suite_add_tcase(su, tc);
	tc = tcase_create("keys");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, admin_key_endpoints);
	suite_add_tcase(su, tc);
	return ss_check_run(su);
}
