/* libFuzzer target: a FastCGI request's CGI parameters and body, as the responder sees them before a handler
 * runs. Input: one control byte (body fragment size and read cap), then "NAME=value" lines, an empty line and
 * the body (fcgi/request.c, fcgi/router.c). Checked:
 *   - the routed path: ss_req_init and ss_req_route_path agree; an accepted path is absolute, shorter than
 *     SS_PATH_MAX, a prefix of the parameter it came from (the part before '?'/'#' for REQUEST_URI), without
 *     a trailing slash unless it is "/";
 *   - the method and the query string are the parameters' (or SS_M_OTHER and "");
 *   - ss_req_header finds each HTTP_* parameter by its header name;
 *   - routing: a match allows the method, an {id} route captured the digits after its prefix, no match names
 *     the methods the path does accept (none of them the request's);
 *   - the body reader against CONTENT_LENGTH and the cap: exactly the announced bytes, 400 for a malformed or
 *     short length, 413 above the cap, the whole stream up to the cap without a length;
 *   - the 404/405 answer of the dispatcher (and a 400 naming the path): the HTTP contract (fuzz_fcgi.h);
 *   - REMOTE_ADDR against an address list (the parameter SS_LIST stands for metrics_allow): listed exactly when
 *     it is one of the list's space/comma/tab separated words; the display prefix of X-API-Key is its first
 *     12 bytes at most;
 *   - CORS (the parameter SS_CORS stands for cors_origins, used when it is a valid list): only an Origin that is
 *     exactly one of the list's words gets Access-Control-Allow-Origin (itself), and a 204 preflight answer only
 *     for OPTIONS with Access-Control-Request-Method to a path that takes other methods.
 * The dispatcher gets a context with a configuration and nothing else (no database, state file or key cache):
 * its own answers must not need them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth/apikey.h"
#include "core/net/cidr.h"
#include "core/net/origin.h"
#include "core/util/log.h"
#include "fcgi/auth.h"
#include "fcgi/request.h"
#include "fcgi/response.h"
#include "fcgi/router.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_fcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ss_log_set_level(SS_LOG_ERROR);
	return 0;
}

static bool set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static void check_path(const fz_request *q, const char *path)
{
	const char *pi = fz_env(q, "PATH_INFO"), *du = fz_env(q, "DOCUMENT_URI"), *sn = fz_env(q, "SCRIPT_NAME"),
		   *ru = fz_env(q, "REQUEST_URI");
	const char *src = set(pi) ? pi : set(du) ? du : set(sn) ? sn : ru;
	size_t n = strlen(path);
	FZ_ASSERT(src != NULL && path[0] == '/' && n < SS_PATH_MAX, "an accepted path is absolute and fits");
	FZ_ASSERT(strncmp(src, path, n) == 0, "the path is a prefix of its parameter");
	FZ_ASSERT(n == 1 || path[n - 1] != '/', "no trailing slash");
	/* what was dropped is trailing slashes, or REQUEST_URI's query/fragment */
	const char *rest = src + n;
	if (src == ru && !set(pi) && !set(du) && !set(sn)) {
		FZ_ASSERT(strpbrk(path, "?#") == NULL, "no query or fragment in a path from REQUEST_URI");
		rest += strspn(rest, "/");
		FZ_ASSERT(*rest == '\0' || *rest == '?' || *rest == '#', "only slashes, query and fragment are dropped");
	} else {
		FZ_ASSERT(strspn(rest, "/") == strlen(rest), "only trailing slashes are dropped");
	}
}

static void check_route(const ss_request *r)
{
	unsigned allowed;
	long long id;
	const ss_route *rt = ss_router_match(r->path, r->method, &allowed, &id);
	if (rt != NULL) {
		unsigned m = rt->methods | ((rt->methods & SS_M_GET) ? SS_M_HEAD : 0);
		FZ_ASSERT((m & r->method) != 0 && (allowed & r->method) != 0, "a route allows the method");
		const char *brace = strstr(rt->pattern, "{id}"), *file = strstr(rt->pattern, "{file}"),
			   *key = strstr(rt->pattern, "{key}");
		if (key != NULL) {
			/* One non-empty segment after the prefix, anything but '/': the handler decides whether it
			 * is one of its keys. */
			size_t pre = (size_t)(key - rt->pattern);
			const char *seg = r->path + pre;
			FZ_ASSERT(strncmp(rt->pattern, r->path, pre) == 0 && id == -1, "a {key} route keeps its prefix");
			FZ_ASSERT(strlen(seg) >= 1 && strchr(seg, '/') == NULL, "a {key} is one non-empty segment");
		} else if (file != NULL) {
			/* A plain file name after the prefix: one segment, letters, digits, '_', '-', at most one dot
			 * followed by a short lower-case extension; never "." or ".." or a hidden name. */
			size_t pre = (size_t)(file - rt->pattern);
			const char *name = r->path + pre;
			static const char lower[] = "abcdefghijklmnopqrstuvwxyz0123456789";
			size_t stem = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
			FZ_ASSERT(strncmp(rt->pattern, r->path, pre) == 0 && id == -1, "a {file} route keeps its prefix");
			FZ_ASSERT(stem >= 1 && stem <= 64 && strchr(name, '/') == NULL, "a {file} is one plain segment");
			const char *ext = name + stem + 1;
			bool short_ext = strspn(ext, lower) == strlen(ext) && strlen(ext) >= 1 && strlen(ext) <= 8;
			FZ_ASSERT(name[stem] == '\0' || (name[stem] == '.' && short_ext),
				  "a {file} has at most one short lower-case extension");
		} else if (brace == NULL) {
			FZ_ASSERT(id == -1 && strcmp(rt->pattern, r->path) == 0, "an exact route matches exactly");
		} else {
			size_t pre = (size_t)(brace - rt->pattern);
			const char *digits = r->path + pre;
			FZ_ASSERT(strncmp(rt->pattern, r->path, pre) == 0 && id >= 0, "an {id} route keeps its prefix");
			FZ_ASSERT(digits[0] != '\0' && strspn(digits, "0123456789") == strlen(digits) &&
					  strtoll(digits, NULL, 10) == id,
				  "the id is the decimal number after the prefix");
		}
	} else {
		FZ_ASSERT(id == -1 && (allowed & r->method) == 0, "no route: the path does not accept the method");
		char allow[128];
		ss_req_method_list(allowed, allow, sizeof allow);
		FZ_ASSERT((allowed == 0) == (allow[0] == '\0'), "Allow names the accepted methods");
	}
}

/* Reference: digits only, no sign or space, fits in 64 bits. */
static bool ref_u64(const char *s, unsigned long long *out)
{
	if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = v;
	return true;
}

/* Reference: is addr inside a range that is one of the words of list? An address that is itself a word of
 * the list (a word without a prefix length) is always inside. */
static bool ref_listed(const char *list, const char *addr)
{
	if (addr[0] == '\0')
		return false;
	char *copy = fz_strndup(list, strlen(list)), *save = NULL;
	bool found = false;
	for (char *w = strtok_r(copy, " ,\t", &save); w != NULL && !found; w = strtok_r(NULL, " ,\t", &save)) {
		ss_cidr c;
		if (ss_cidr_parse(w, &c, NULL, 0) != 0)
			continue;
		found = ss_cidr_contains(&c, addr);
		/* a word without a prefix length is one address: /32 or /128 (a REMOTE_ADDR that is itself a range,
		 * "::/20", is no address and inside nothing) */
		FZ_ASSERT(found || strcmp(w, addr) != 0 || strchr(w, '/') != NULL,
			  "an address is inside its own /32 or /128");
	}
	free(copy);
	return found;
}

static void check_body(fz_request *q, ss_request *r, size_t cap)
{
	ss_buf b;
	ss_error err;
	ss_buf_init(&b, 0);
	ss_error_clear(&err);
	int rc = ss_req_read_body(r, cap, &b, &err);
	const char *cl = fz_env(q, "CONTENT_LENGTH");
	if (!set(cl)) {
		if (q->body_len <= cap) {
			FZ_ASSERT(rc == 0 && b.len == q->body_len, "without a length: the whole body");
			FZ_ASSERT(b.len == 0 || memcmp(b.data, q->body, b.len) == 0, "the body's bytes");
		} else {
			FZ_ASSERT(rc != 0 && err.code == SS_ERR_TOO_LARGE, "without a length: 413 past the cap");
		}
	} else {
		unsigned long long want;
		unsigned long long ref;
		int prc = ss_req_parse_content_length(cl, &want);
		FZ_ASSERT((prc == 0) == ref_u64(cl, &ref) && (prc != 0 || want == ref),
			  "Content-Length: decimal digits only, at most 2^64-1");
		if (prc != 0) {
			FZ_ASSERT(rc != 0 && err.code == SS_ERR_BAD_REQUEST, "a malformed Content-Length is 400");
		} else if (want > cap) {
			FZ_ASSERT(rc != 0 && err.code == SS_ERR_TOO_LARGE, "a Content-Length over the cap is 413");
			FZ_ASSERT(q->body_pos == 0, "nothing is read before refusing a length over the cap");
		} else if (want > q->body_len) {
			FZ_ASSERT(rc != 0 && err.code == SS_ERR_BAD_REQUEST, "a short body is 400");
		} else {
			FZ_ASSERT(rc == 0 && b.len == want, "exactly Content-Length bytes");
			FZ_ASSERT(b.len == 0 || memcmp(b.data, q->body, b.len) == 0, "the body's bytes");
		}
	}
	if (rc != 0)
		FZ_ASSERT(err.msg[0] != '\0', "an error has a message");
	if (b.data != NULL)
		FZ_ASSERT(b.data[b.len] == '\0', "the body is NUL-terminated");
	ss_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t frag = 1 + (size_t)(data[0] & 0x0F) * 97;
	static const size_t caps[] = {0, 1, 16, 100, 1000, 4096, 10000, 65536};
	size_t cap = caps[(data[0] >> 4) & 7];
	fz_request q;
	fz_request_build(&q, data + 1, size - 1, NULL, frag);

	ss_request r;
	int irc = ss_req_init(&r, &q.fcgx);
	char ref[SS_PATH_MAX];
	int prc = ss_req_route_path(fz_env(&q, "PATH_INFO"), fz_env(&q, "DOCUMENT_URI"), fz_env(&q, "SCRIPT_NAME"),
				    fz_env(&q, "REQUEST_URI"), ref, sizeof ref);
	FZ_ASSERT(irc == prc, "ss_req_init and ss_req_route_path agree");
	if (irc == 0) {
		FZ_ASSERT(strcmp(ref, r.path) == 0, "ss_req_init routes like ss_req_route_path");
		check_path(&q, r.path);
	} else {
		FZ_ASSERT(strcmp(r.path, "/") == 0, "an unusable path is answered as \"/\"");
	}
	const char *m = fz_env(&q, "REQUEST_METHOD");
	FZ_ASSERT(r.method == ss_req_method_parse(m), "the method is REQUEST_METHOD's");
	FZ_ASSERT((r.method == SS_M_OTHER) ==
			  (m == NULL || (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "DELETE") && strcmp(m, "HEAD") &&
					 strcmp(m, "PUT") && strcmp(m, "PATCH") && strcmp(m, "OPTIONS"))),
		  "only the seven method names are known");
	const char *qs = fz_env(&q, "QUERY_STRING");
	FZ_ASSERT(strcmp(r.query, qs ? qs : "") == 0, "the query is QUERY_STRING");
	const char *ra = fz_env(&q, "REMOTE_ADDR");
	FZ_ASSERT(strcmp(r.remote_addr, ra ? ra : "") == 0, "the address is REMOTE_ADDR");

	/* every HTTP_X_Y parameter is header "x-y" */
	for (size_t i = 0; i < q.nenv; i++) {
		const char *e = q.envp[i];
		const char *eq = strchr(e, '=');
		if (strncmp(e, "HTTP_", 5) != 0 || eq == NULL || eq - e > 100 || eq - e == 5)
			continue;
		char hname[128];
		size_t n = (size_t)(eq - e) - 5;
		bool plain = true;
		for (size_t j = 0; j < n; j++) {
			char c = e[5 + j];
			if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
				plain = false;
			hname[j] = c == '_' ? '-' : (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		hname[n] = '\0';
		char pname[128];
		snprintf(pname, sizeof pname, "%.*s", (int)(eq - e), e);
		if (plain) {
			const char *h = ss_req_header(&r, hname);
			FZ_ASSERT(h != NULL && strcmp(h, fz_env(&q, pname)) == 0, "a header is found by its name");
		}
	}

	check_route(&r);
	check_body(&q, &r, cap);

	const char *list = fz_env(&q, "SS_LIST");
	if (list != NULL)
		FZ_ASSERT(ss_cidr_list_contains(list, r.remote_addr) == ref_listed(list, r.remote_addr),
			  "an address is listed exactly when a range of the list holds it");
	const char *key = ss_req_header(&r, "X-API-Key");
	if (key != NULL) {
		char prefix[SS_APIKEY_PREFIX_MAX];
		ss_apikey_prefix(key, prefix);
		size_t n = strlen(prefix);
		FZ_ASSERT(n <= 12 && n < sizeof prefix && strncmp(prefix, key, n) == 0 && (n == 12 || key[n] == '\0'),
			  "the key prefix is its first 12 bytes");
	}

	/* the dispatcher's own answers (404, 405, CORS preflights) never reach a handler or the context's resources */
	ss_config cfg;
	ss_config_defaults(&cfg);
	const char *cors = fz_env(&q, "SS_CORS");
	if (cors != NULL && strlen(cors) < sizeof cfg.cors_origins && ss_origin_list_check(cors, NULL, 0) == 0)
		memcpy(cfg.cors_origins, cors, strlen(cors) + 1);
	ss_ctx ctx = {.cfg = &cfg};
	const char *origin = ss_req_header(&r, "Origin");
	const bool listed = ss_origin_list_contains(cfg.cors_origins, origin);
	unsigned allowed;
	long long id;
	const bool routed = ss_router_match(r.path, r.method, &allowed, &id) != NULL;
	if (!routed)
		ss_router_dispatch(&ctx, &r);
	else
		ss_resp_error(&r, SS_ERR_BAD_REQUEST, "Bad request for %.200s (query %.200s).", r.path, r.query);
	fz_response resp;
	fz_response_check(&q, &resp, false);
	const bool preflight = !routed && allowed != 0 && r.method == SS_M_OPTIONS && listed &&
			       ss_req_header(&r, "Access-Control-Request-Method") != NULL;
	FZ_ASSERT(resp.status == 400 || resp.status == 404 || resp.status == 405 || (resp.status == 204 && preflight),
		  "400, 404 or 405, or 204 for a preflight from a listed origin");
	FZ_ASSERT(resp.status != 405 || !preflight, "a preflight from a listed origin is answered");
	char *acao = fz_response_header(&resp, "Access-Control-Allow-Origin");
	FZ_ASSERT(routed || (acao != NULL) == listed, "Access-Control-Allow-Origin exactly for listed origins");
	FZ_ASSERT(acao == NULL || strcmp(acao, origin) == 0, "Access-Control-Allow-Origin is the request's origin");
	free(acao);
	if (resp.status == 405) {
		char *allow = fz_response_header(&resp, "Allow");
		FZ_ASSERT(allow != NULL && allow[0] != '\0', "405 names the allowed methods");
		free(allow);
	}
	fz_response_free(&resp);
	ss_req_cleanup(&r);
	fz_request_free(&q);
	return 0;
}
