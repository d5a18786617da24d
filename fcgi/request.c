#include "fcgi/request.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/util/strnum.h"
#include "core/util/timefmt.h"

#define BODY_CHUNK 65536

/* Every method songscope knows, in the order an Allow header lists them. */
static const struct {
	const char *name;
	ss_method m;
} known_methods[] = {{"GET", SS_M_GET}, {"HEAD", SS_M_HEAD},     {"POST", SS_M_POST},      {"PUT", SS_M_PUT},
		     {"PATCH", SS_M_PATCH}, {"DELETE", SS_M_DELETE}, {"OPTIONS", SS_M_OPTIONS}};

ss_method ss_req_method_parse(const char *s)
{
	if (s == NULL)
		return SS_M_OTHER;
	for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++)
		if (strcmp(s, known_methods[i].name) == 0)
			return known_methods[i].m;
	return SS_M_OTHER;
}

void ss_req_method_list(unsigned methods, char *out, size_t outlen)
{
	size_t j = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++) {
		if (!(methods & known_methods[i].m))
			continue;
		int n = snprintf(out + j, outlen - j, "%s%s", j ? ", " : "", known_methods[i].name);
		if (n < 0 || (size_t)n >= outlen - j)
			break;
		j += (size_t)n;
	}
}

int ss_req_route_path(const char *path_info, const char *document_uri, const char *script_name,
		      const char *request_uri, char *out, size_t outlen)
{
	const char *src = NULL;
	size_t n = 0;

	if (path_info != NULL && path_info[0] != '\0')
		src = path_info;
	else if (document_uri != NULL && document_uri[0] != '\0')
		src = document_uri;
	else if (script_name != NULL && script_name[0] != '\0')
		src = script_name;
	if (src != NULL) {
		n = strlen(src);
	} else if (request_uri != NULL && request_uri[0] != '\0') {
		src = request_uri;
		n = strcspn(request_uri, "?#");
	} else {
		return -1;
	}
	if (src[0] != '/')
		return -1;
	while (n > 1 && src[n - 1] == '/')
		n--;
	if (n >= outlen)
		return -1;
	memcpy(out, src, n);
	out[n] = '\0';
	return 0;
}

const char *ss_req_param(const ss_request *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgx->envp);
}

const char *ss_req_header(const ss_request *r, const char *http_name)
{
	char name[128] = "HTTP_";
	size_t j = 5;
	for (const char *p = http_name; *p != '\0'; p++) {
		if (j + 1 >= sizeof name)
			return NULL;
		name[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	}
	name[j] = '\0';
	return FCGX_GetParam(name, r->fcgx->envp);
}

int ss_req_init(ss_request *r, FCGX_Request *fcgx)
{
	memset(r, 0, sizeof *r);
	r->fcgx = fcgx;
	r->t_start = ss_time_mono();
	r->path_id = -1;
	r->key_id = -1;
	r->route = "unknown";
	ss_buf_init(&r->headers, 16384);
	r->method = ss_req_method_parse(ss_req_param(r, "REQUEST_METHOD"));
	r->query = ss_req_param(r, "QUERY_STRING");
	if (r->query == NULL)
		r->query = "";
	r->remote_addr = ss_req_param(r, "REMOTE_ADDR");
	if (r->remote_addr == NULL)
		r->remote_addr = "";
	if (ss_req_route_path(ss_req_param(r, "PATH_INFO"), ss_req_param(r, "DOCUMENT_URI"),
			      ss_req_param(r, "SCRIPT_NAME"), ss_req_param(r, "REQUEST_URI"), r->path,
			      sizeof r->path) != 0) {
		snprintf(r->path, sizeof r->path, "/");
		return -1;
	}
	return 0;
}

void ss_req_cleanup(ss_request *r)
{
	ss_buf_free(&r->headers);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode src[0..n) into out; returns decoded length or -1. */
static long url_decode(const char *src, size_t n, char *out, size_t outlen)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)src[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int h = hexval((unsigned char)src[i + 1]), l = hexval((unsigned char)src[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0 || j + 1 >= outlen)
			return -1;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	return (long)j;
}

int ss_query_get(const char *query, const char *name, char *out, size_t outlen)
{
	if (query == NULL || outlen == 0)
		return 0;
	size_t nlen = strlen(name);
	const char *p = query;
	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t seglen = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', seglen);
		size_t klen = eq ? (size_t)(eq - p) : seglen;
		char key[128];
		long kl = klen < sizeof key ? url_decode(p, klen, key, sizeof key) : -1;
		if (kl >= 0 && (size_t)kl == nlen && memcmp(key, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : p + seglen;
			size_t vlen = eq ? seglen - klen - 1 : 0;
			return url_decode(v, vlen, out, outlen) < 0 ? -1 : 1;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return 0;
}

int ss_req_parse_content_length(const char *s, unsigned long long *out)
{
	uint64_t v;
	if (s == NULL || s[0] == '\0') {
		*out = 0;
		return 0;
	}
	if (ss_parse_u64(s, UINT64_MAX, &v) != 0)
		return -1;
	*out = v;
	return 0;
}

int ss_req_read_body(ss_request *r, size_t cap, ss_buf *out, ss_error *err)
{
	unsigned long long want;
	const char *cl = ss_req_param(r, "CONTENT_LENGTH");

	ss_buf_reset(out);
	if (cl == NULL || cl[0] == '\0') {
		/* No length (a web server passing a chunked body through): read to the end of the stream, at
		 * most cap bytes. */
		out->limit = cap;
		for (;;) {
			if (out->len == cap) {
				char probe;
				if (FCGX_GetStr(&probe, 1, r->fcgx->in) > 0)
					return ss_error_set(err, SS_ERR_TOO_LARGE,
							    "Request body exceeds the limit of %zu bytes.", cap);
				return 0;
			}
			size_t chunk = cap - out->len < BODY_CHUNK ? cap - out->len : BODY_CHUNK;
			if (ss_buf_reserve(out, chunk) != 0)
				return ss_error_set(err, SS_ERR_NOMEM, "Out of memory reading the request body.");
			int got = FCGX_GetStr(out->data + out->len, (int)chunk, r->fcgx->in);
			if (got <= 0)
				return 0;
			out->len += (size_t)got;
			out->data[out->len] = '\0';
		}
	}
	if (ss_req_parse_content_length(cl, &want) != 0)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "Content-Length is not a valid number.");
	if (want > cap)
		return ss_error_set(err, SS_ERR_TOO_LARGE, "Request body of %llu bytes exceeds the limit of %zu bytes.",
				    want, cap);
	out->limit = (size_t)want;
	while (out->len < want) {
		size_t chunk = (size_t)(want - out->len);
		if (chunk > BODY_CHUNK)
			chunk = BODY_CHUNK;
		if (ss_buf_reserve(out, chunk) != 0)
			return ss_error_set(err, SS_ERR_NOMEM, "Out of memory reading the request body.");
		int got = FCGX_GetStr(out->data + out->len, (int)chunk, r->fcgx->in);
		if (got <= 0)
			return ss_error_set(err, SS_ERR_BAD_REQUEST,
					    "Request body ended after %zu of %llu bytes announced by Content-Length.",
					    out->len, want);
		out->len += (size_t)got;
		out->data[out->len] = '\0';
	}
	return 0;
}
