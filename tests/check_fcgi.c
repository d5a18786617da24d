/* Request parsing (routed path, query strings, Content-Length), routing (404/405/Allow), which listen
 * addresses count as this host only, error bodies (UTF-8; a 500's cause logged, not sent), and Spotify's objects
 * built from stored results. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fcgi/listen.h"

#include <json-c/json.h>

#include "core/util/buf.h"
#include "fcgi/request.h"
#include "fcgi/response.h"
#include "fcgi/router.h"
#include "fcgi/spotify.h"
#include "core/util/error.h"
#include "core/util/utf8.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"

/* Every status songscope can send has its standard reason phrase for the Status line. */
START_TEST(every_status_has_a_reason_phrase)
{
	for (int c = 0; c < SS_CODE_COUNT; c++) {
		int st = ss_code_http_status((ss_code)c);
		ck_assert_msg(ss_resp_reason(st) != NULL, "status %d (code %d) has no reason phrase", st, c);
	}
	ck_assert_str_eq(ss_resp_reason(200), "OK");
	ck_assert_str_eq(ss_resp_reason(401), "Unauthorized");
	ck_assert_str_eq(ss_resp_reason(429), "Too Many Requests");
	ck_assert_str_eq(ss_resp_reason(503), "Service Unavailable");
	ck_assert_ptr_null(ss_resp_reason(299));
}
END_TEST

START_TEST(route_path_prefers_path_info)
{
	char out[64];
	ck_assert_int_eq(ss_req_route_path("/health", "/songscope/health", "/songscope", "/songscope/health?x", out,
					   sizeof out),
			 0);
	ck_assert_str_eq(out, "/health");
	ck_assert_int_eq(ss_req_route_path("", "/cache/12", "", NULL, out, sizeof out), 0);
	ck_assert_str_eq(out, "/cache/12");
	ck_assert_int_eq(ss_req_route_path(NULL, NULL, "/stats", NULL, out, sizeof out), 0);
	ck_assert_str_eq(out, "/stats");
	ck_assert_int_eq(ss_req_route_path(NULL, NULL, NULL, "/cache/search?q=a/b#frag", out, sizeof out), 0);
	ck_assert_str_eq(out, "/cache/search");
	ck_assert_int_eq(ss_req_route_path("/health///", NULL, NULL, NULL, out, sizeof out), 0);
	ck_assert_str_eq(out, "/health");
	ck_assert_int_eq(ss_req_route_path("/", NULL, NULL, NULL, out, sizeof out), 0);
	ck_assert_str_eq(out, "/");
	ck_assert_int_eq(ss_req_route_path(NULL, NULL, NULL, NULL, out, sizeof out), -1);
	ck_assert_int_eq(ss_req_route_path("health", NULL, NULL, NULL, out, sizeof out), -1);
	char longpath[200];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	ck_assert_int_eq(ss_req_route_path(longpath, NULL, NULL, NULL, out, sizeof out), -1);
}
END_TEST

START_TEST(query_parameters_are_decoded)
{
	char v[32];
	ck_assert_int_eq(ss_query_get("limit=10&offset=5", "offset", v, sizeof v), 1);
	ck_assert_str_eq(v, "5");
	ck_assert_int_eq(ss_query_get("q=100%25+pure&x", "q", v, sizeof v), 1);
	ck_assert_str_eq(v, "100% pure");
	ck_assert_int_eq(ss_query_get("q=a&x", "x", v, sizeof v), 1);
	ck_assert_str_eq(v, "");
	ck_assert_int_eq(ss_query_get("%6Eamespace=all", "namespace", v, sizeof v), 1);
	ck_assert_str_eq(v, "all");
	ck_assert_int_eq(ss_query_get("limit=10", "offset", v, sizeof v), 0);
	ck_assert_int_eq(ss_query_get("", "q", v, sizeof v), 0);
	ck_assert_int_eq(ss_query_get(NULL, "q", v, sizeof v), 0);
	ck_assert_int_eq(ss_query_get("q=%zz", "q", v, sizeof v), -1);
	ck_assert_int_eq(ss_query_get("q=%4", "q", v, sizeof v), -1);
	ck_assert_int_eq(ss_query_get("q=a%00b", "q", v, sizeof v), -1);
	ck_assert_int_eq(ss_query_get("q=0123456789012345678901234567890123456789", "q", v, sizeof v), -1);
	/* The first occurrence wins. */
	ck_assert_int_eq(ss_query_get("a=1&a=2", "a", v, sizeof v), 1);
	ck_assert_str_eq(v, "1");
}
END_TEST

START_TEST(content_length_is_strict)
{
	unsigned long long n;
	ck_assert_int_eq(ss_req_parse_content_length(NULL, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ss_req_parse_content_length("", &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ss_req_parse_content_length("1048576", &n), 0);
	ck_assert_uint_eq(n, 1048576);
	ck_assert_int_eq(ss_req_parse_content_length("-1", &n), -1);
	ck_assert_int_eq(ss_req_parse_content_length("12 ", &n), -1);
	ck_assert_int_eq(ss_req_parse_content_length(" 12", &n), -1);
	ck_assert_int_eq(ss_req_parse_content_length("1e3", &n), -1);
	ck_assert_int_eq(ss_req_parse_content_length("99999999999999999999999", &n), -1);
}
END_TEST

START_TEST(methods_parse)
{
	ck_assert_int_eq(ss_req_method_parse("GET"), SS_M_GET);
	ck_assert_int_eq(ss_req_method_parse("DELETE"), SS_M_DELETE);
	ck_assert_int_eq(ss_req_method_parse("get"), SS_M_OTHER);
	ck_assert_int_eq(ss_req_method_parse("BREW"), SS_M_OTHER);
	ck_assert_int_eq(ss_req_method_parse(NULL), SS_M_OTHER);
}
END_TEST

START_TEST(router_finds_routes_and_reports_allowed_methods)
{
	unsigned allowed;
	long long id;
	const ss_route *r = ss_router_match("/health", SS_M_GET, &allowed, &id);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "health");
	ck_assert_int_eq(r->scope, SS_SCOPE_NONE);
	ck_assert_int_eq(id, -1);
	/* HEAD is served wherever GET is. */
	ck_assert_ptr_nonnull(ss_router_match("/health", SS_M_HEAD, &allowed, &id));
	ck_assert_ptr_null(ss_router_match("/health", SS_M_POST, &allowed, &id));
	ck_assert(allowed & SS_M_GET);
	ck_assert(!(allowed & SS_M_POST));
	ck_assert_ptr_null(ss_router_match("/no/such/thing", SS_M_GET, &allowed, &id));
	ck_assert_uint_eq(allowed, 0);
	ck_assert_ptr_null(ss_router_match("/Health", SS_M_GET, &allowed, &id));
	ck_assert_uint_eq(allowed, 0);
	/* {key}: one non-empty segment of any length, no '/' (the handler judges it) */
	const ss_route *k = ss_router_match("/v1/audio-features/4uLU6hMCjMI75M1A2tKUQC", SS_M_GET, &allowed, &id);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->name, "audio_features_get");
	ck_assert_int_eq(id, -1);
	ck_assert_ptr_nonnull(ss_router_match("/v1/audio-features/not-an-id", SS_M_GET, &allowed, &id));
	ck_assert_ptr_null(ss_router_match("/v1/audio-features/a/b", SS_M_GET, &allowed, &id));
	ck_assert_uint_eq(allowed, 0);
	char longkey[512];
	snprintf(longkey, sizeof longkey, "/v1/audio-features/%0*d", 400, 0);
	k = ss_router_match(longkey, SS_M_GET, &allowed, &id);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->name, "audio_features_get");
	ck_assert_ptr_null(ss_router_match("/v1/audio-features/", SS_M_GET, &allowed, &id));
	ck_assert_ptr_null(ss_router_match("/v1/audio-features/4uLU6hMCjMI75M1A2tKUQC", SS_M_POST, &allowed, &id));
	ck_assert(allowed & SS_M_GET); /* 405, not 404 */
	k = ss_router_match("/v1/audio-features", SS_M_POST, &allowed, &id);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->name, "audio_features_post");
	/* {file}: one plain name with at most one extension, nothing that climbs or hides. */
	ck_assert_ptr_nonnull(ss_router_match("/ui/app.js", SS_M_GET, &allowed, &id));
	ck_assert_ptr_nonnull(ss_router_match("/ui/favicon.svg", SS_M_GET, &allowed, &id));
	ck_assert_ptr_nonnull(ss_router_match("/ui", SS_M_GET, &allowed, &id));
	static const char *const not_files[] = {"/ui/", "/ui/..", "/ui/../etc/passwd", "/ui/a/b.js", "/ui/.js",
						"/ui/a.b.js", "/ui/a.", "/ui/A.JS", "/ui/a.toolongext", "/uix/a.js",
						"/ui/a%2fb.js", "/ui/a b.js"};
	for (size_t i = 0; i < sizeof not_files / sizeof not_files[0]; i++) {
		ck_assert_msg(ss_router_match(not_files[i], SS_M_GET, &allowed, &id) == NULL, "%s matched", not_files[i]);
		ck_assert_uint_eq(allowed, 0);
	}
	char allow[64];
	ss_req_method_list(SS_M_GET | SS_M_HEAD | SS_M_DELETE, allow, sizeof allow);
	ck_assert_str_eq(allow, "GET, HEAD, DELETE");
}
END_TEST

START_TEST(every_route_is_well_formed)
{
	ck_assert_uint_gt(ss_route_count, 0);
	for (unsigned i = 0; i < ss_route_count; i++) {
		const ss_route *r = &ss_routes[i];
		ck_assert_ptr_nonnull(r->fn);
		ck_assert_ptr_nonnull(r->name);
		ck_assert_msg(r->pattern[0] == '/', "route %s", r->name);
		ck_assert_msg(r->methods != 0, "route %s has no method", r->name);
		const char *brace = strchr(r->pattern, '{');
		ck_assert_msg(brace == NULL || strcmp(brace, "{id}") == 0 || strcmp(brace, "{key}") == 0 ||
				      strcmp(brace, "{file}") == 0,
			      "route %s: only a trailing {id}, {key} or {file}", r->name);
		/* Everything but /health and the page's static files needs a key when auth is on. */
		if (strcmp(r->pattern, "/health") != 0 && strncmp(r->pattern, "/ui", 3) != 0)
			ck_assert_msg(r->scope != SS_SCOPE_NONE, "route %s is open", r->name);
		if (r->scope == SS_SCOPE_NONE)
			ck_assert_msg(r->methods == SS_M_GET, "open route %s takes more than GET", r->name);
	}
}
END_TEST

START_TEST(listen_addresses_must_stay_on_this_host)
{
	char why[256] = "";
	/* libfcgi's reading: a '/' makes a unix path; HOST:PORT with a port number is TCP. */
	ck_assert(!ss_listen_spec_is_tcp("/run/songscope/songscope.sock"));
	ck_assert(!ss_listen_spec_is_tcp("sock"));
	ck_assert(ss_listen_spec_is_tcp(":9000"));
	ck_assert(ss_listen_spec_is_tcp("127.0.0.1:9000"));
	ck_assert(ss_listen_spec_is_local("/run/songscope/songscope.sock", why, sizeof why));
	static const char *const local[] = {"127.0.0.1:9000", "127.1.2.3:9000", "localhost:9000"};
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
		ck_assert_msg(ss_listen_spec_is_local(local[i], why, sizeof why), "%s: %s", local[i], why);
	static const char *const remote[] = {":9000", "*:9000", "0.0.0.0:9000", "10.1.2.3:9000", "192.0.2.1:9000",
					     "128.0.0.1:9000"};
	for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
		why[0] = '\0';
		ck_assert_msg(!ss_listen_spec_is_local(remote[i], why, sizeof why), "%s accepted", remote[i]);
		ck_assert_msg(strstr(why, remote[i]) != NULL, "%s: the reason does not name it: %s", remote[i], why);
	}
	/* A bound socket: loopback and unix are local; something that is not a socket is not. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	ck_assert_msg(ss_listen_fd_is_local(fd, why, sizeof why), "%s", why);
	close(fd);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd >= 0) {
		struct sockaddr_in6 s6;
		memset(&s6, 0, sizeof s6);
		s6.sin6_family = AF_INET6;
		s6.sin6_addr = in6addr_loopback;
		if (bind(fd, (struct sockaddr *)&s6, sizeof s6) == 0)
			ck_assert_msg(ss_listen_fd_is_local(fd, why, sizeof why), "%s", why);
		close(fd);
	}
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert(ss_listen_fd_is_local(sv[0], why, sizeof why));
	close(sv[0]);
	close(sv[1]);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(!ss_listen_fd_is_local(p[0], why, sizeof why));
	close(p[0]);
	close(p[1]);
}
END_TEST

/* A FastCGI output stream that collects everything written into an ss_buf. */
typedef struct mem_out {
	FCGX_Stream s;
	unsigned char win[64];
	ss_buf data;
} mem_out;

static void mem_flush(FCGX_Stream *s, int doClose)
{
	(void)doClose;
	mem_out *m = s->data;
	ck_assert_int_eq(ss_buf_append(&m->data, m->win, (size_t)(s->wrNext - m->win)), 0);
	s->wrNext = m->win;
}

/* The JSON object of the error body that ss_resp_error(code, "%s", msg) writes for a GET of path, with the
 * log lines it wrote in *log (static storage; "" when none). */
static json_object *error_body(ss_code code, const char *path, const char *msg, const char **log)
{
	mem_out m;
	memset(&m, 0, sizeof m);
	ss_buf_init(&m.data, 0);
	m.s.wrNext = m.s.rdNext = m.s.stopUnget = m.win;
	m.s.stop = m.win + sizeof m.win;
	m.s.emptyBuffProc = mem_flush;
	m.s.data = &m;
	char method[] = "REQUEST_METHOD=GET", path_info[300];
	snprintf(path_info, sizeof path_info, "PATH_INFO=%s", path);
	char *env[] = {method, path_info, NULL};
	FCGX_Request fcgx;
	memset(&fcgx, 0, sizeof fcgx);
	fcgx.envp = env;
	fcgx.out = &m.s;
	ss_request r;
	ss_req_init(&r, &fcgx);
	char logpath[512];
	ck_assert_int_eq(ss_scratch_path(logpath, sizeof logpath, "ss-log-XXXXXX"), 0);
	int fd = mkstemp(logpath);
	ck_assert_int_ge(fd, 0);
	unlink(logpath);
	fflush(stderr);
	int saved = dup(2);
	ck_assert_int_eq(dup2(fd, 2), 2);
	ck_assert_int_eq(ss_resp_error(&r, code, "%s", msg), 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	static char logged[2048];
	ssize_t got = pread(fd, logged, sizeof logged - 1, 0);
	logged[got > 0 ? got : 0] = '\0';
	close(fd);
	*log = logged;
	mem_flush(&m.s, 0);
	const char *body = strstr(m.data.data, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	body += 4;
	ck_assert_msg(strlen(body) == m.data.len - (size_t)(body - m.data.data) && ss_utf8_valid(body),
		      "the body is not UTF-8 text: %s", body);
	json_object *o = json_tokener_parse(body);
	ck_assert_ptr_nonnull(o);
	ss_req_cleanup(&r);
	ss_buf_free(&m.data);
	return o;
}

static const char *member(json_object *o, const char *k)
{
	json_object *v;
	ck_assert(json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

/* A path that is not UTF-8 (nginx hands PATH_INFO over percent-decoded: GET /%FF%C3) and a message cut in
 * the middle of a character must still give a UTF-8 JSON error body that names what it can. */
START_TEST(error_bodies_are_utf8_whatever_the_path)
{
	static const char *const paths[] = {"/\xff\xfe", "/caf\xc3", "/\xc0\xaf", "/\xed\xa0\x80", "/ok\xe2\x82\xac"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		char msg[256];
		snprintf(msg, sizeof msg, "No such endpoint: %.200s", paths[i]);
		const char *log;
		json_object *o = error_body(SS_ERR_NOT_FOUND, "/x", msg, &log);
		ck_assert_ptr_nonnull(strstr(member(o, "message"), "No such endpoint: /"));
		if (i == 4) /* valid UTF-8 is kept as it is */
			ck_assert_str_eq(member(o, "message"), "No such endpoint: /ok\xe2\x82\xac");
		json_object_put(o);
	}
}
END_TEST

/* A 500's cause (a database's own error text, a file path) goes to the log with the request, never to the
 * client, who gets one sentence; other errors keep their message and are not logged here. */
START_TEST(internal_errors_keep_their_cause_from_the_client)
{
	static const ss_code internal[] = {SS_ERR_DB, SS_ERR_IO, SS_ERR_INTERNAL, SS_ERR_NOMEM, SS_ERR_CONFIG};
	const char *cause = "database: storing an analysis: ERROR:  invalid byte sequence for encoding \"UTF8\": 0xe9";
	for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++) {
		const char *log;
		json_object *o = error_body(internal[i], "/analyze_data", cause, &log);
		ck_assert_str_eq(member(o, "error"), "internal");
		ck_assert_msg(strstr(member(o, "message"), "database") == NULL && strstr(member(o, "message"), "UTF8") == NULL,
			      "the cause reached the client: %s", member(o, "message"));
		ck_assert_msg(strstr(log, "GET /analyze_data: database: storing an analysis: ERROR:") != NULL,
			      "the cause is not in the log: %s", log);
		json_object_put(o);
	}
	const char *log;
	json_object *o = error_body(SS_ERR_UNAVAILABLE, "/analyze", "The database is unavailable; retry later.", &log);
	ck_assert_str_eq(member(o, "error"), "unavailable");
	ck_assert_str_eq(member(o, "message"), "The database is unavailable; retry later.");
	ck_assert_str_eq(log, "");
	json_object_put(o);
}
END_TEST

static double num_at(json_object *o, const char *path)
{
	char name[64];
	snprintf(name, sizeof name, "%s", path);
	char *dot = strchr(name, '.');
	if (dot != NULL) {
		*dot = '\0';
		return num_at(json_object_object_get(o, name), dot + 1);
	}
	json_object *v = json_object_object_get(o, name);
	ck_assert_msg(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int), "%s", path);
	return json_object_get_double(v);
}

static size_t len_of(json_object *o, const char *name)
{
	json_object *a = json_object_object_get(o, name);
	ck_assert_msg(json_object_is_type(a, json_type_array), "%s", name);
	return json_object_array_length(a);
}

static double item(json_object *o, const char *name, size_t i, const char *field)
{
	return num_at(json_object_array_get_idx(json_object_object_get(o, name), i), field);
}

/* Spotify's audio-analysis object from a stored result: times that are not finite, increasing and inside the
 * track are left out, the last beat lasts the median beat and the last bar the median bar (cut at the end), an
 * override wins, and a result without beats has empty arrays; text that is not an object gives nothing. */
START_TEST(spotify_analysis_from_stored_results)
{
	ck_assert_ptr_null(ss_spotify_analysis("[1]", 3));
	ck_assert_ptr_null(ss_spotify_analysis("not json", 8));
	ck_assert_ptr_null(ss_spotify_features("{}", 2, "not hex", "http://h"));
	const char *r = "{\"bpm\":120,\"bpm_confidence\":0.8,\"key_index\":9,\"mode\":0,\"key_confidence\":0.5,"
			"\"manual_bpm\":121.5,\"manual_key\":\"D Major\",\"loudness\":null,\"time_signature\":\"3/4\","
			"\"signal_duration\":3.0,\"analyzed_at\":\"2026-12-07 09:00:00\",\"analysis_duration\":0.05,"
			"\"beats\":[0.5,1.0,1.5,2.0,\"x\",1.9,-1,40],\"downbeats\":[0.5,1.5]}";
	json_object *a = ss_spotify_analysis(r, strlen(r));
	ck_assert_ptr_nonnull(a);
	ck_assert_double_eq(num_at(a, "meta.timestamp"), 1796634000.0);
	ck_assert_double_eq(num_at(a, "track.tempo"), 121.5);
	ck_assert_double_eq(num_at(a, "track.tempo_confidence"), 0.8);
	ck_assert_double_eq(num_at(a, "track.key"), 2.0);
	ck_assert_double_eq(num_at(a, "track.mode"), 1.0);
	ck_assert_double_eq(num_at(a, "track.loudness"), -60.0);
	ck_assert_double_eq(num_at(a, "track.time_signature"), 3.0);
	ck_assert_double_eq(num_at(a, "track.num_samples"), 66150.0);
	ck_assert_uint_eq(len_of(a, "beats"), 4);
	ck_assert_double_eq(item(a, "beats", 3, "start"), 2.0);
	ck_assert_double_eq(item(a, "beats", 3, "duration"), 0.5);
	ck_assert_double_eq(item(a, "beats", 0, "confidence"), 0.8);
	ck_assert_uint_eq(len_of(a, "tatums"), 8);
	ck_assert_double_eq(item(a, "tatums", 1, "start"), 0.75);
	ck_assert_double_eq(item(a, "tatums", 1, "duration"), 0.25);
	ck_assert_uint_eq(len_of(a, "bars"), 2);
	ck_assert_double_eq(item(a, "bars", 1, "start"), 1.5);
	ck_assert_double_eq(item(a, "bars", 1, "duration"), 1.0);
	ck_assert_uint_eq(len_of(a, "sections"), 1);
	ck_assert_double_eq(item(a, "sections", 0, "duration"), 3.0);
	ck_assert_double_eq(item(a, "sections", 0, "key"), 2.0);
	ck_assert_uint_eq(len_of(a, "segments"), 0);
	json_object_put(a);

	/* the same tempo and key in the audio-features object */
	json_object *f = ss_spotify_features(r, strlen(r), "00000000000000000000000000000001", "http://h");
	ck_assert_ptr_nonnull(f);
	ck_assert_double_eq(num_at(f, "tempo"), 121.5);
	ck_assert_double_eq(num_at(f, "key"), 2.0);
	ck_assert_double_eq(num_at(f, "duration_ms"), 3000.0);
	json_object_put(f);

	/* scores and confidences outside 0..1 (rows imported from the original carry its values) are clamped */
	const char *odd = "{\"bpm\":90,\"bpm_confidence\":5.8,\"key_index\":0,\"mode\":1,\"key_confidence\":-0.2,"
			  "\"danceability\":1.3,\"speechiness\":-1,\"liveness\":null,\"signal_duration\":2,\"beats\":[0,1]}";
	a = ss_spotify_analysis(odd, strlen(odd));
	ck_assert_double_eq(num_at(a, "track.tempo_confidence"), 1.0);
	ck_assert_double_eq(num_at(a, "track.key_confidence"), 0.0);
	ck_assert_double_eq(item(a, "beats", 0, "confidence"), 1.0);
	json_object_put(a);
	f = ss_spotify_features(odd, strlen(odd), "00000000000000000000000000000001", "http://h");
	ck_assert_double_eq(num_at(f, "danceability"), 1.0);
	ck_assert_double_eq(num_at(f, "speechiness"), 0.0);
	ck_assert(json_object_is_type(json_object_object_get(f, "liveness"), json_type_null));
	json_object_put(f);

	/* no tempo, no key, a last bar cut at the end of the track */
	const char *quiet = "{\"bpm\":0,\"key_index\":null,\"signal_duration\":4,\"beats\":[],\"downbeats\":[]}";
	a = ss_spotify_analysis(quiet, strlen(quiet));
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(len_of(a, "beats"), 0);
	ck_assert_uint_eq(len_of(a, "tatums"), 0);
	ck_assert_uint_eq(len_of(a, "bars"), 0);
	ck_assert_double_eq(num_at(a, "track.key"), -1.0);
	ck_assert_double_eq(num_at(a, "track.key_confidence"), 0.0);
	ck_assert_double_eq(num_at(a, "track.time_signature"), 4.0);
	ck_assert_double_eq(num_at(a, "meta.timestamp"), 0.0);
	json_object_put(a);
	const char *end = "{\"bpm\":60,\"signal_duration\":3.2,\"beats\":[0,1,2,3],\"downbeats\":[0,2]}";
	a = ss_spotify_analysis(end, strlen(end));
	ck_assert_double_eq_tol(item(a, "bars", 1, "duration"), 1.2, 1e-9);
	ck_assert_double_eq_tol(item(a, "beats", 3, "duration"), 0.2, 1e-9);
	json_object_put(a);
}
END_TEST

/* Spotify's segments and sections from the stored arrays: in order, within the track and apart, each field where
 * Spotify puts it, levels on -60..0 dB, confidence and pitches on 0..1; an entry that is malformed, out of order
 * or past the end is left out, and one that runs past the next start or the end is cut there. Without stored
 * sections, one spans the track. */
START_TEST(spotify_segments_from_stored_arrays)
{
#define P12 "[1,0.5,0,0,0,0,0,0,0,0,0,0.25]"
#define T12 "[40,1.5,-2,0,0,0,0,0,0,0,0,3]"
	const char *r = "{\"signal_duration\":2.0,\"segments\":["
			"[0,0.5,1,-20,0.1,-10,-30," P12 "," T12 "],"
			"[0.5,0.5,7,-70,0.9,5,-12.5,[2,-1,0,0,0,0,0,0,0,0,0,0]," T12 "],"  /* overlaps the next */
			"[0.9,0.5,0.5,-20,0.1,-10,-30," P12 "," T12 "],"
			"[0.4,0.5,0.5,-20,0.1,-10,-30," P12 "," T12 "],"          /* out of order */
			"[1.0,0.5,0.5,-20,0.1,-10,-30,[1,2]," T12 "],"            /* eleven pitches short */
			"[1.1,0.5,0.5,-20,0.1,-10,\"x\"," P12 "," T12 "],"        /* a string */
			"[1.2,0.5,0.5,-20,0.1,-10,-30," P12 "],"                 /* no timbre */
			"[1.5,0.9,0.25,-20,0.1,-10,-30," P12 "," T12 "],"         /* crosses the end */
			"[2.0,0.5,0.5,-20,0.1,-10,-30," P12 "," T12 "],"          /* past it */
			"7]}";
	json_object *a = ss_spotify_analysis(r, strlen(r));
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(len_of(a, "segments"), 4);
	json_object *s0 = json_object_array_get_idx(json_object_object_get(a, "segments"), 0);
	ck_assert_double_eq(num_at(s0, "start"), 0.0);
	ck_assert_double_eq(num_at(s0, "duration"), 0.5);
	ck_assert_double_eq(num_at(s0, "confidence"), 1.0);
	ck_assert_double_eq(num_at(s0, "loudness_start"), -20.0);
	ck_assert_double_eq(num_at(s0, "loudness_max_time"), 0.1);
	ck_assert_double_eq(num_at(s0, "loudness_max"), -10.0);
	ck_assert_double_eq(num_at(s0, "loudness_end"), -30.0);
	json_object *p = json_object_object_get(s0, "pitches"), *t = json_object_object_get(s0, "timbre");
	ck_assert_uint_eq(json_object_array_length(p), 12);
	ck_assert_uint_eq(json_object_array_length(t), 12);
	ck_assert_double_eq(json_object_get_double(json_object_array_get_idx(p, 1)), 0.5);
	ck_assert_double_eq(json_object_get_double(json_object_array_get_idx(p, 11)), 0.25);
	ck_assert_double_eq(json_object_get_double(json_object_array_get_idx(t, 0)), 40.0);
	ck_assert_double_eq(json_object_get_double(json_object_array_get_idx(t, 2)), -2.0);
	/* out-of-range values clamped */
	ck_assert_double_eq(item(a, "segments", 1, "confidence"), 1.0);
	ck_assert_double_eq(item(a, "segments", 1, "loudness_start"), -60.0);
	ck_assert_double_eq(item(a, "segments", 1, "loudness_max"), 0.0);
	ck_assert_double_eq_tol(item(a, "segments", 1, "duration"), 0.4, 1e-9); /* cut at the next start */
	ck_assert_double_eq_tol(item(a, "segments", 1, "loudness_max_time"), 0.4, 1e-9);
	p = json_object_object_get(json_object_array_get_idx(json_object_object_get(a, "segments"), 1), "pitches");
	ck_assert_double_eq(json_object_get_double(json_object_array_get_idx(p, 0)), 1.0);
	ck_assert_double_eq(json_object_get_double(json_object_array_get_idx(p, 1)), 0.0);
	/* cut at the end of the track */
	ck_assert_double_eq(item(a, "segments", 3, "start"), 1.5);
	ck_assert_double_eq_tol(item(a, "segments", 3, "duration"), 0.5, 1e-9);
	json_object_put(a);
	/* a row stored before segments existed, or a member of another type: none, and one section */
	const char *old = "{\"signal_duration\":2.0,\"loudness\":-9,\"segments\":{\"a\":1},\"sections\":7}";
	a = ss_spotify_analysis(old, strlen(old));
	ck_assert_uint_eq(len_of(a, "segments"), 0);
	ck_assert_uint_eq(len_of(a, "sections"), 1);
	ck_assert_double_eq(item(a, "sections", 0, "duration"), 2.0);
	ck_assert_double_eq(item(a, "sections", 0, "loudness"), -9.0);
	ck_assert_double_eq(item(a, "sections", 0, "confidence"), 1.0);
	json_object_put(a);

	/* stored sections: read as the segments are, each with the track's key, mode and metre and its own tempo
	 * from the beats in it: 120 BPM in the first, 150 in the second, too few beats in the third (a stored tempo
	 * of the section's own wins: below) */
	const char *secs = "{\"signal_duration\":30,\"bpm\":100,\"bpm_confidence\":0.5,\"key_index\":7,\"mode\":1,"
			   "\"time_signature\":\"3/4\",\"sections\":[[0,12,1,-20],[12,30,1.5,-99],[11,2,0.5,-9],"
			   "[20,5,0.5,-9,1],[25,9,0.25,-8],[31,1,0.5,-9]],"
			   "\"beats\":[0,0.5,1,1.5,2,2.5,12,12.4,12.8,13.2,13.6,14,25.5,26]}";
	a = ss_spotify_analysis(secs, strlen(secs));
	ck_assert_uint_eq(len_of(a, "sections"), 3);
	ck_assert_double_eq(item(a, "sections", 0, "duration"), 12.0);
	ck_assert_double_eq(item(a, "sections", 0, "loudness"), -20.0);
	ck_assert_double_eq(item(a, "sections", 1, "start"), 12.0);
	ck_assert_double_eq(item(a, "sections", 1, "duration"), 13.0); /* cut at the next start */
	ck_assert_double_eq(item(a, "sections", 1, "confidence"), 1.0);
	ck_assert_double_eq(item(a, "sections", 1, "loudness"), -60.0);
	ck_assert_double_eq(item(a, "sections", 2, "duration"), 5.0); /* cut at the end */
	ck_assert_double_eq(item(a, "sections", 0, "tempo"), 120.0);
	ck_assert_double_eq(item(a, "sections", 1, "tempo"), 150.0);
	ck_assert_double_eq(item(a, "sections", 2, "tempo"), 100.0);
	ck_assert_double_eq(num_at(a, "track.tempo"), 100.0);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_double_eq(item(a, "sections", i, "key"), 7.0);
		ck_assert_double_eq(item(a, "sections", i, "mode"), 1.0);
		ck_assert_double_eq(item(a, "sections", i, "time_signature"), 3.0);
		ck_assert_double_eq(item(a, "sections", i, "tempo_confidence"), 0.5);
		ck_assert_double_eq(item(a, "sections", i, "time_signature_confidence"), 0.0); /* a row before v11 */
	}
	json_object_put(a);
	/* sections stored with their own keys (analysis v11: key, mode, key confidence after the level): each its
	 * own, -1 (mode 0, confidence 0) where it had none or the stored key is malformed; entries of another length
	 * are left out, and those stored before sections had keys carry the track's */
	const char *keyed = "{\"signal_duration\":30,\"key_index\":7,\"mode\":1,\"key_confidence\":0.9,"
			    "\"time_signature_confidence\":0.654,"
			    "\"sections\":[[0,6,1,-20,2,0,0.8],[6,6,1,-20,-1,-1,0],[12,6,1,-20,12,1,0.5],"
			    "[13,1,1,-20,4,1],[18,6,1,-20,4.5,1,0.5],[24,3,1,-20,5,1,7],[27,3,1,-20]]}";
	a = ss_spotify_analysis(keyed, strlen(keyed));
	ck_assert_uint_eq(len_of(a, "sections"), 6);
	static const double want_key[6] = {2, -1, -1, -1, 5, 7}, want_mode[6] = {0, 0, 0, 0, 1, 1},
			    want_conf[6] = {0.8, 0, 0, 0, 1, 0.9};
	for (size_t i = 0; i < 6; i++) {
		ck_assert_double_eq(item(a, "sections", i, "key"), want_key[i]);
		ck_assert_double_eq(item(a, "sections", i, "mode"), want_mode[i]);
		ck_assert_double_eq(item(a, "sections", i, "key_confidence"), want_conf[i]);
		ck_assert_double_eq(item(a, "sections", i, "mode_confidence"), want_conf[i]);
		ck_assert_double_eq(item(a, "sections", i, "time_signature_confidence"), 0.654);
	}
	ck_assert_double_eq(num_at(a, "track.key"), 7.0);
	ck_assert_double_eq(num_at(a, "track.time_signature_confidence"), 0.654);
	json_object_put(a);
	/* sections stored with their own metre and tempo confidence (analysis v12: time signature, its confidence and
	 * the tempo confidence after the key confidence): each its own; the track's metre where the stored one is
	 * outside 3..7, not whole or its confidence is not a number, the track's tempo confidence where it is not a
	 * number or not stored (rows of 9, 7 (v11) and 4 numbers); entries of 8 numbers are left out */
	const char *metred = "{\"signal_duration\":30,\"time_signature\":\"4/4\",\"time_signature_confidence\":0.6,"
			     "\"bpm\":100,\"bpm_confidence\":0.5,"
			     "\"sections\":[[0,5,1,-20,2,0,0.8,3,0.75,0.25],[5,5,1,-20,2,0,0.8,6,2,1.5],"
			     "[10,5,1,-20,2,0,0.8,2,0.5,null],[11,1,1,-20,2,0,0.8,3],[15,5,1,-20,2,0,0.8,3.5,0.5],"
			     "[20,5,1,-20,2,0,0.8,3,\"x\",0],[25,3,1,-20,2,0,0.8],[28,2,1,-20]]}";
	a = ss_spotify_analysis(metred, strlen(metred));
	ck_assert_uint_eq(len_of(a, "sections"), 7);
	static const double want_ts[7] = {3, 6, 4, 4, 4, 4, 4}, want_tsc[7] = {0.75, 1, 0.6, 0.6, 0.6, 0.6, 0.6},
			    want_tc[7] = {0.25, 1, 0.5, 0.5, 0, 0.5, 0.5};
	for (size_t i = 0; i < 7; i++) {
		ck_assert_double_eq(item(a, "sections", i, "time_signature"), want_ts[i]);
		ck_assert_double_eq(item(a, "sections", i, "time_signature_confidence"), want_tsc[i]);
		ck_assert_double_eq(item(a, "sections", i, "tempo_confidence"), want_tc[i]);
	}
	ck_assert_double_eq(item(a, "sections", 0, "key"), 2.0); /* the key is still read */
	ck_assert_double_eq(num_at(a, "track.time_signature"), 4.0);
	json_object_put(a);
	/* a section's own tempo (stored where the analysis found it is not the track's: 0 otherwise) wins over the
	 * beats'; a stored 0, a missing, negative or absurd one leaves the beats' */
	const char *tempi = "{\"signal_duration\":30,\"bpm\":100,\"bpm_confidence\":0.5,\"sections\":["
			    "[0,6,1,-20,2,0,0.8,4,0.5,0.9,0],[6,6,1,-20,2,0,0.8,4,0.5,0.8,137.5],[12,6,1,-20,2,0,0.8,4,0.5,0.7,-3],"
			    "[18,6,1,-20,2,0,0.8,4,0.5,0.6,5000],[24,6,1,-20,2,0,0.8,4,0.5,0.5]],"
			    "\"beats\":[0,0.6,1.2,1.8,2.4,6,6.6,7.2,7.8,8.4,12,12.6,13.2,13.8,18,18.6,19.2,19.8,24,24.6,25.2,25.8]}";
	a = ss_spotify_analysis(tempi, strlen(tempi));
	ck_assert_uint_eq(len_of(a, "sections"), 5);
	static const double want_tempo[5] = {100, 137.5, 100, 100, 100}, want_tconf[5] = {0.9, 0.8, 0.7, 0.6, 0.5};
	for (size_t i = 0; i < 5; i++) {
		ck_assert_double_eq(item(a, "sections", i, "tempo"), want_tempo[i]);
		ck_assert_double_eq(item(a, "sections", i, "tempo_confidence"), want_tconf[i]);
	}
	json_object_put(a);
	/* the mode's own confidence (v12: the twelfth number, and the result's mode_confidence): the key's where it is
	 * missing or not a number, 0 without a key */
	const char *moded = "{\"signal_duration\":30,\"key_index\":7,\"mode\":1,\"key_confidence\":0.4,"
			    "\"mode_confidence\":0.95,\"sections\":[[0,10,1,-20,2,0,0.3,4,0.5,0.9,0,0.85],"
			    "[10,10,1,-20,2,0,0.3,4,0.5,0.9,0,null],[20,10,1,-20,-1,-1,0,4,0.5,0.9,0,0.7]]}";
	a = ss_spotify_analysis(moded, strlen(moded));
	ck_assert_double_eq(num_at(a, "track.key_confidence"), 0.4);
	ck_assert_double_eq(num_at(a, "track.mode_confidence"), 0.95);
	static const double want_mc[3] = {0.85, 0.3, 0};
	for (size_t i = 0; i < 3; i++)
		ck_assert_double_eq(item(a, "sections", i, "mode_confidence"), want_mc[i]);
	json_object_put(a);
	/* a manual key is every section's, as a manual tempo is */
	const char *mkey = "{\"signal_duration\":30,\"key_index\":7,\"mode\":1,\"manual_key\":\"A minor\","
			   "\"sections\":[[0,6,1,-20,2,0,0.8],[6,24,1,-20,-1,-1,0]]}";
	a = ss_spotify_analysis(mkey, strlen(mkey));
	ck_assert_uint_eq(len_of(a, "sections"), 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_double_eq(item(a, "sections", i, "key"), 9.0);
		ck_assert_double_eq(item(a, "sections", i, "mode"), 0.0);
	}
	json_object_put(a);
	/* a manual tempo is every section's */
	const char *manual = "{\"signal_duration\":30,\"bpm\":100,\"bpm_confidence\":0.5,\"manual_bpm\":99,"
			     "\"sections\":[[0,12,1,-20,2,0,0.8,4,0.5,0.9,120],[12,18,1,-20]],"
			     "\"beats\":[0,0.5,1,1.5,2,2.5,12,12.4,12.8,13.2,13.6,14]}";
	a = ss_spotify_analysis(manual, strlen(manual));
	ck_assert_uint_eq(len_of(a, "sections"), 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_double_eq(item(a, "sections", i, "tempo"), 99.0);
		ck_assert_double_eq(item(a, "sections", i, "tempo_confidence"), 0.5); /* and its confidence the track's */
	}
	json_object_put(a);
#undef P12
#undef T12
}
END_TEST

/* The track's fades from the stored segments' loudest levels: a first segment more than 12 dB below the typical
 * level starts a fade-in, which ends where the first segment within 6 dB of it starts; the same from the end;
 * none without such quiet ends or without segments. */
START_TEST(spotify_fades_from_segments)
{
#define SEG(start, lmax) "[" #start ",1,1,-30,0.1," #lmax ",-30,[1,0,0,0,0,0,0,0,0,0,0,0],[40,0,0,0,0,0,0,0,0,0,0,0]]"
	const char *faded = "{\"signal_duration\":10,\"segments\":[" SEG(0, -40) "," SEG(1, -30) "," SEG(2, -15) ","
			    SEG(3, -10) "," SEG(4, -10) "," SEG(5, -11) "," SEG(6, -10) "," SEG(7, -9) "," SEG(8, -20) ","
			    SEG(9, -35) "]}";
	json_object *a = ss_spotify_analysis(faded, strlen(faded));
	ck_assert_double_eq(num_at(a, "track.end_of_fade_in"), 2.0);
	ck_assert_double_eq(num_at(a, "track.start_of_fade_out"), 8.0);
	json_object_put(a);
	const char *steady = "{\"signal_duration\":10,\"segments\":[" SEG(0, -12) "," SEG(1, -10) "," SEG(2, -15) ","
			     SEG(3, -10) "," SEG(9, -20) "]}";
	a = ss_spotify_analysis(steady, strlen(steady));
	ck_assert_double_eq(num_at(a, "track.end_of_fade_in"), 0.0);
	ck_assert_double_eq(num_at(a, "track.start_of_fade_out"), 10.0);
	json_object_put(a);
	const char *none = "{\"signal_duration\":10}";
	a = ss_spotify_analysis(none, strlen(none));
	ck_assert_double_eq(num_at(a, "track.end_of_fade_in"), 0.0);
	ck_assert_double_eq(num_at(a, "track.start_of_fade_out"), 10.0);
	json_object_put(a);
#undef SEG
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fcgi");
	TCase *tc = tcase_create("request");
	tcase_add_test(tc, every_status_has_a_reason_phrase);
	tcase_add_test(tc, route_path_prefers_path_info);
	tcase_add_test(tc, query_parameters_are_decoded);
	tcase_add_test(tc, content_length_is_strict);
	tcase_add_test(tc, methods_parse);
	suite_add_tcase(s, tc);
	tc = tcase_create("router");
	tcase_add_test(tc, router_finds_routes_and_reports_allowed_methods);
	tcase_add_test(tc, every_route_is_well_formed);
	tcase_add_test(tc, listen_addresses_must_stay_on_this_host);
	suite_add_tcase(s, tc);
	tc = tcase_create("response");
	tcase_add_test(tc, error_bodies_are_utf8_whatever_the_path);
	tcase_add_test(tc, internal_errors_keep_their_cause_from_the_client);
	tcase_add_test(tc, spotify_analysis_from_stored_results);
	tcase_add_test(tc, spotify_segments_from_stored_arrays);
	tcase_add_test(tc, spotify_fades_from_segments);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
