/* Every error a client can provoke from the web server itself is JSON ({"error": code, "message": text}, a JSON
 * content type), on every shipped front: nginx, lighttpd (external socket and bin-path) and Apache
 * (mod_proxy_fcgi and mod_fcgid), each started from its file in conf/ on a free loopback port. The requests are
 * written as raw bytes (no client library sends most of them): a URI or a header line above the server's
 * limits, TRACE, an unknown method, an unknown transfer coding, an HTTP version other than 1.x, an unparsable
 * request line, HTTP/1.1 without Host, %00 in the path, a declared body above the limit, HTTP/1.0 POST without
 * a length, and the error pages' own paths. The servers differ in which status they answer (or whether they
 * pass the request on to songscope, whose own errors are JSON too): each expectation below names the status
 * and the code per server. A front whose web server is not installed is skipped, with a message. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/buf.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"

/* The web servers, as their conf/ files make them answer. */
enum { NGINX, LIGHTTPD, APACHE, FAMILIES };

static int family(ss_it_front f)
{
	switch (f) {
	case SS_IT_LIGHTTPD:
	case SS_IT_LIGHTTPD_SPAWN:
		return LIGHTTPD;
	case SS_IT_APACHE_PROXY:
	case SS_IT_APACHE_FCGID:
		return APACHE;
	default:
		return NGINX;
	}
}

typedef struct expect {
	long status;
	const char *code;
} expect;

typedef struct provocation {
	const char *name;
	void (*build)(ss_buf *req); /* the raw request */
	expect want[FAMILIES];      /* by web server */
} provocation;

static void put(ss_buf *b, const char *text)
{
	ck_assert_int_eq(ss_buf_puts(b, text), 0);
}

static void put_repeat(ss_buf *b, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(ss_buf_append(b, &c, 1), 0);
}

/* A 9 KiB request target: above nginx's and lighttpd's 8 KiB buffers and Apache's LimitRequestLine 8190. */
static void build_long_uri(ss_buf *b)
{
	put(b, "GET /health?pad=");
	put_repeat(b, 'a', 9 * 1024);
	put(b, " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

/* One 64 KiB header line. */
static void build_long_header(ss_buf *b)
{
	put(b, "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Padding: ");
	put_repeat(b, 'b', 64 * 1024);
	put(b, "\r\nConnection: close\r\n\r\n");
}

static void build_trace(ss_buf *b)
{
	put(b, "TRACE /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

static void build_unknown_method(ss_buf *b)
{
	put(b, "FOO /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

static void build_gzip_coding(ss_buf *b)
{
	put(b, "POST /analyze HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n");
}

/* The paths are no endpoint: a server that passes these versions on gets songscope's 404. */
static void build_http_2_5(ss_buf *b)
{
	put(b, "GET /nope HTTP/2.5\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

static void build_http_3_0(ss_buf *b)
{
	put(b, "GET /nope HTTP/3.0\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

static void build_garbage(ss_buf *b)
{
	put(b, "\x01\x02 this is no request line\r\n\r\n");
}

static void build_no_host(ss_buf *b)
{
	put(b, "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n");
}

static void build_nul_in_path(ss_buf *b)
{
	put(b, "GET /health%00 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

/* Declares 60 MB (every conf/ file allows 50 MiB) and sends none of it: refused on the header alone. */
static void build_body_too_large(ss_buf *b)
{
	put(b, "POST /analyze_data HTTP/1.1\r\nHost: localhost\r\nContent-Length: 60000000\r\n"
	       "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
}

static void build_post_without_length(ss_buf *b)
{
	put(b, "POST /analyze HTTP/1.0\r\nContent-Type: application/json\r\n\r\n");
}

static void build_unknown_expectation(ss_buf *b)
{
	put(b, "POST /analyze HTTP/1.1\r\nHost: localhost\r\nExpect: a-miracle\r\nContent-Type: application/json\r\n"
	       "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
}

/* The paths the error pages live under are not endpoints. */
static void build_error_page_nginx(ss_buf *b)
{
	put(b, "GET /.songscope-error/400 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

static void build_error_page_lighttpd(ss_buf *b)
{
	put(b, "GET /.songscope-error/early HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

static void build_error_page_file(ss_buf *b)
{
	put(b, "GET /.songscope-error/status-503.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

/* nginx 494 (a header line above large_client_header_buffers) goes out as 400; lighttpd counts the request
 * line as a header (431); Apache has no code of its own for either but 414 for the URI. Requests a server
 * passes on get songscope's answer: 405 for a method /health does not take, 404 for /nope, 400 for an empty
 * /analyze body or one without a URL (only Apache refuses an Expect it does not know). */
static const provocation provocations[] = {
	{"uri_9k", build_long_uri, {{414, "uri_too_long"}, {431, "header_too_large"}, {414, "uri_too_long"}}},
	{"header_line_64k", build_long_header,
	 {{400, "header_too_large"}, {431, "header_too_large"}, {400, "bad_request"}}},
	{"trace", build_trace,
	 {{405, "method_not_allowed"}, {405, "method_not_allowed"}, {405, "method_not_allowed"}}},
	{"unknown_method", build_unknown_method,
	 {{405, "method_not_allowed"}, {501, "not_implemented"}, {405, "method_not_allowed"}}},
	{"transfer_encoding_gzip", build_gzip_coding,
	 {{501, "not_implemented"}, {501, "not_implemented"}, {400, "bad_request"}}},
	{"http_2_5", build_http_2_5,
	 {{505, "http_version_not_supported"}, {505, "http_version_not_supported"}, {404, "not_found"}}},
	{"http_3_0", build_http_3_0,
	 {{505, "http_version_not_supported"}, {505, "http_version_not_supported"}, {404, "not_found"}}},
	{"garbage_request_line", build_garbage, {{400, "bad_request"}, {400, "bad_request"}, {400, "bad_request"}}},
	{"http11_without_host", build_no_host, {{400, "bad_request"}, {400, "bad_request"}, {400, "bad_request"}}},
	{"nul_in_path", build_nul_in_path, {{400, "bad_request"}, {400, "bad_request"}, {404, "not_found"}}},
	{"body_too_large", build_body_too_large,
	 {{413, "payload_too_large"}, {413, "payload_too_large"}, {413, "payload_too_large"}}},
	{"post_without_length", build_post_without_length,
	 {{400, "bad_request"}, {411, "bad_request"}, {400, "bad_request"}}},
	{"unknown_expectation", build_unknown_expectation,
	 {{400, "bad_request"}, {400, "bad_request"}, {417, "expectation_failed"}}},
	{"error_page_path", build_error_page_nginx, {{404, "not_found"}, {404, "not_found"}, {404, "not_found"}}},
	{"error_handler_path", build_error_page_lighttpd,
	 {{404, "not_found"}, {404, "not_found"}, {404, "not_found"}}},
	{"error_file_path", build_error_page_file, {{404, "not_found"}, {404, "not_found"}, {404, "not_found"}}},
};
enum { N_PROVOCATIONS = sizeof provocations / sizeof provocations[0] };

/* The fronts with a web-server configuration of their own (the spawn-fcgi ones reuse nginx's). */
static const ss_it_front fronts[] = {SS_IT_NGINX, SS_IT_LIGHTTPD, SS_IT_LIGHTTPD_SPAWN, SS_IT_APACHE_PROXY,
				     SS_IT_APACHE_FCGID};
enum { N_FRONTS = sizeof fronts / sizeof fronts[0] };

/* The server of the test case running now, started once for all its provocations (an unchecked fixture, in
 * the test runner's process; each test is a child that only sends requests to it). */
static ss_it_server running;
static ss_it_front running_front;
static bool running_up;

static void start_front(ss_it_front f)
{
	running_front = f;
	running_up = false;
	if (!ss_it_have_front(f))
		return;
	ss_it_opts o = {.workers = 2, .auth = "off", .front = f};
	ss_it_start(&running, &o);
	running_up = true;
}

static void stop_front(void)
{
	if (running_up)
		ss_it_stop(&running);
	running_up = false;
}

static void setup_nginx(void)
{
	start_front(SS_IT_NGINX);
}

static void setup_lighttpd(void)
{
	start_front(SS_IT_LIGHTTPD);
}

static void setup_lighttpd_spawn(void)
{
	start_front(SS_IT_LIGHTTPD_SPAWN);
}

static void setup_apache_proxy(void)
{
	start_front(SS_IT_APACHE_PROXY);
}

static void setup_apache_fcgid(void)
{
	start_front(SS_IT_APACHE_FCGID);
}

static void (*const setups[N_FRONTS])(void) = {setup_nginx, setup_lighttpd, setup_lighttpd_spawn, setup_apache_proxy,
					       setup_apache_fcgid};

/* Send provocation _i to the running front and check that its answer is the expected JSON error. */
START_TEST(error_is_json)
{
	const provocation *p = &provocations[_i];
	if (!running_up) {
		fprintf(stderr, "skipped: %s is not installed\n", ss_it_front_name(running_front));
		return;
	}
	const expect *w = &p->want[family(running_front)];
	ss_buf req;
	ss_buf_init(&req, 0);
	p->build(&req);
	ss_it_resp r;
	int rc = ss_it_raw_request(&running, req.data, req.len, &r);
	ss_buf_free(&req);
	ck_assert_msg(rc == 0, "%s %s: no complete answer (%ld %.200s)", ss_it_front_name(running_front), p->name,
		      r.status, r.headers.data);
	fprintf(stderr, "%s %s: %ld %.160s\n", ss_it_front_name(running_front), p->name, r.status, r.body.data);
	ck_assert_msg(r.status == w->status, "%s %s: status %ld, expected %ld: %.300s", ss_it_front_name(running_front),
		      p->name, r.status, w->status, r.body.data);
	ss_it_assert_error(&r, w->status, w->code);
	char v[128];
	if (w->status == 405)
		ck_assert_msg(ss_it_header(&r, "Allow", v, sizeof v), "%s %s: a 405 without Allow",
			      ss_it_front_name(running_front), p->name);
	ss_it_resp_free(&r);
}
END_TEST

/* With songscope's master stopped, the web server's own 503 (502/504) is JSON and says when to come back.
 * Not for lighttpd's bin-path and mod_fcgid, which restart their own responders. */
START_TEST(busy_has_retry_after)
{
	ss_it_front f = fronts[_i];
	if (!ss_it_have_front(f)) {
		fprintf(stderr, "skipped: %s is not installed\n", ss_it_front_name(f));
		return;
	}
	if (f == SS_IT_LIGHTTPD_SPAWN || f == SS_IT_APACHE_FCGID)
		return;
	ss_it_server s;
	ss_it_opts o = {.workers = 1, .auth = "off", .front = f};
	ss_it_start(&s, &o);
	ck_assert_int_eq(ss_it_stop_songscope(&s), 0);
	static const char req[] = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	ss_it_resp r;
	ck_assert_int_eq(ss_it_raw_request(&s, req, sizeof req - 1, &r), 0);
	fprintf(stderr, "%s responders down: %ld %.160s\n", ss_it_front_name(f), r.status, r.body.data);
	ck_assert_msg(r.status == 502 || r.status == 503 || r.status == 504, "%s: status %ld with the responders down",
		      ss_it_front_name(f), r.status);
	ss_it_assert_error(&r, r.status, "busy");
	char v[32];
	ck_assert_msg(ss_it_header(&r, "Retry-After", v, sizeof v), "%s: a %ld without Retry-After",
		      ss_it_front_name(f), r.status);
	ck_assert_int_gt(atoi(v), 0);
	ss_it_resp_free(&r);
	ss_it_stop(&s);
}
END_TEST

int main(void)
{
	bool any = false;
	for (size_t i = 0; i < N_FRONTS; i++)
		any = any || ss_it_have_front(fronts[i]);
	if (!any) {
		fprintf(stderr, "skipped: no web server (nginx, lighttpd, Apache) is installed\n");
		return 77;
	}
	Suite *su = suite_create("front_errors");
	for (size_t i = 0; i < N_FRONTS; i++) {
		TCase *tc = tcase_create(ss_it_front_name(fronts[i]));
		tcase_set_timeout(tc, 60);
		tcase_add_unchecked_fixture(tc, setups[i], stop_front);
		tcase_add_loop_test(tc, error_is_json, 0, N_PROVOCATIONS);
		suite_add_tcase(su, tc);
	}
	TCase *busy = tcase_create("busy");
	tcase_set_timeout(busy, 120);
	tcase_add_loop_test(busy, busy_has_retry_after, 0, N_FRONTS);
	suite_add_tcase(su, busy);
	return ss_check_run(su);
}
