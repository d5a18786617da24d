#include "tests/fuzz/fuzz_fcgi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util/error.h"
#include "fcgi/response.h"
#include "tests/fuzz/fuzz_check.h"

static void fill(FCGX_Stream *s)
{
	fz_request *q = s->data;
	if (q->body_pos >= q->body_len) {
		s->isClosed = 1; /* end of the body */
		return;
	}
	size_t n = q->body_len - q->body_pos;
	if (n > q->frag)
		n = q->frag;
	s->rdNext = s->stopUnget = (unsigned char *)(uintptr_t)(q->body + q->body_pos);
	s->stop = s->rdNext + n;
	q->body_pos += n;
}

static void empty(FCGX_Stream *s, int doClose)
{
	(void)doClose;
	fz_request *q = s->data;
	size_t n = (size_t)(s->wrNext - q->outbuf);
	FZ_ASSERT(ss_buf_append(&q->out_data, q->outbuf, n) == 0, "out of memory");
	s->wrNext = q->outbuf;
}

static void add_env(fz_request *q, char *s)
{
	char **e = realloc(q->envp, (q->nenv + 2) * sizeof *e);
	FZ_ASSERT(e != NULL, "out of memory");
	q->envp = e;
	q->envp[q->nenv++] = s;
	q->envp[q->nenv] = NULL;
}

void fz_request_build(fz_request *q, const uint8_t *data, size_t size, const char *const *extra, size_t frag)
{
	memset(q, 0, sizeof *q);
	ss_buf_init(&q->out_data, 0);
	add_env(q, NULL);
	q->nenv = 0;
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
		add_env(q, fz_strndup(extra[i], strlen(extra[i])));
	size_t pos = 0;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size;
		if (end == pos) { /* empty line: the body follows */
			pos++;
			break;
		}
		const uint8_t *eq = memchr(data + pos, '=', end - pos);
		char *s;
		if (eq != NULL) {
			s = fz_strndup(data + pos, end - pos);
		} else {
			s = malloc(end - pos + 2);
			FZ_ASSERT(s != NULL, "out of memory");
			memcpy(s, data + pos, end - pos);
			s[end - pos] = '=';
			s[end - pos + 1] = '\0';
		}
		add_env(q, s);
		pos = end + 1;
	}
	q->body = data + (pos < size ? pos : size);
	q->body_len = pos < size ? size - pos : 0;
	q->frag = frag ? frag : 1;
	q->in.isReader = 1;
	q->in.fillBuffProc = fill;
	q->in.data = q;
	q->out.rdNext = q->out.wrNext = q->out.stopUnget = q->outbuf;
	q->out.stop = q->outbuf + sizeof q->outbuf;
	q->out.emptyBuffProc = empty;
	q->out.data = q;
	q->fcgx.in = &q->in;
	q->fcgx.out = &q->out;
	q->fcgx.err = NULL;
	q->fcgx.envp = q->envp;
	q->fcgx.ipcFd = -1;
}

void fz_request_free(fz_request *q)
{
	for (size_t i = 0; i < q->nenv; i++)
		free(q->envp[i]);
	free(q->envp);
	ss_buf_free(&q->out_data);
}

const char *fz_env(const fz_request *q, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < q->nenv; i++)
		if (strncmp(q->envp[i], name, n) == 0 && q->envp[i][n] == '=')
			return q->envp[i] + n + 1;
	return NULL;
}

char *fz_response_header(const fz_response *r, const char *name)
{
	size_t n = strlen(name);
	const char *p = r->headers, *end = r->headers + r->headers_len;
	while (p < end) {
		const char *eol = strstr(p, "\r\n");
		if (eol == NULL || eol > end)
			break;
		if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			return fz_strndup(v, (size_t)(eol - v));
		}
		p = eol + 2;
	}
	return NULL;
}

static bool known_error(const char *name, int status)
{
	for (int c = SS_ERR_BAD_REQUEST; c < SS_CODE_COUNT; c++)
		if (strcmp(ss_code_name((ss_code)c), name) == 0 && ss_code_http_status((ss_code)c) == status)
			return true;
	return false;
}

void fz_response_check(fz_request *q, fz_response *r, bool allow_empty)
{
	memset(r, 0, sizeof *r);
	empty(&q->out, 0);
	const char *t = q->out_data.data;
	size_t len = q->out_data.len;
	if (len == 0) {
		FZ_ASSERT(allow_empty, "nothing was written");
		return;
	}
	FZ_ASSERT(len > 12 && memcmp(t, "Status: ", 8) == 0, "the response starts with Status:");
	int status = 0;
	for (int i = 8; i < 11; i++) {
		FZ_ASSERT(t[i] >= '0' && t[i] <= '9', "a three-digit status");
		status = status * 10 + (t[i] - '0');
	}
	FZ_ASSERT(status >= 200 && status <= 599, "status 200..599");
	/* "Status: NNN Reason\r\n": the code's standard reason phrase */
	const char *reason = ss_resp_reason(status);
	size_t rlen = reason != NULL ? strlen(reason) : 0;
	FZ_ASSERT(reason != NULL && len > 14 + rlen && t[11] == ' ' && memcmp(t + 12, reason, rlen) == 0 &&
			  t[12 + rlen] == '\r' && t[13 + rlen] == '\n',
		  "the status line carries the code's reason phrase");
	const char *hend = strstr(t, "\r\n\r\n");
	FZ_ASSERT(hend != NULL, "headers end with an empty line");
	r->status = status;
	r->headers = t + 14 + rlen;
	r->headers_len = (size_t)(hend + 2 - r->headers);
	r->body = hend + 4;
	r->body_len = len - (size_t)(r->body - t);
	/* every header line "Name: value" with a token name and no bare CR or LF */
	for (const char *p = r->headers; p < hend + 2;) {
		const char *eol = strstr(p, "\r\n");
		FZ_ASSERT(eol != NULL && eol <= hend, "header lines end with CRLF");
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		FZ_ASSERT(colon != NULL && colon > p, "a header line has a name and a colon");
		for (const char *c = p; c < colon; c++)
			FZ_ASSERT((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-',
				  "header names are tokens");
		for (const char *c = colon + 1; c < eol; c++)
			FZ_ASSERT(*c != '\r' && *c != '\n' && *c != '\0', "no CR, LF or NUL in a header value");
		p = eol + 2;
	}
	char *cl = fz_response_header(r, "Content-Length");
	if (cl != NULL) {
		char want[32];
		snprintf(want, sizeof want, "%zu", r->body_len);
		FZ_ASSERT(strcmp(cl, want) == 0, "Content-Length is the body length");
		free(cl);
	}
	char *ct = fz_response_header(r, "Content-Type");
	FZ_ASSERT(ct != NULL, "a Content-Type");
	bool json = strncmp(ct, "application/json", 16) == 0;
	free(ct);
	FZ_ASSERT(json || status < 400, "errors are JSON");
	if (status == 429 || status == 503) {
		char *ra = fz_response_header(r, "Retry-After");
		FZ_ASSERT(ra != NULL && ra[0] >= '0' && ra[0] <= '9', "Retry-After on 429 and 503");
		free(ra);
	}
	if (!json)
		return;
	FZ_ASSERT(fz_utf8_valid(r->body, r->body_len), "a JSON body is valid UTF-8");
	r->json = fz_json_parse(r->body, r->body_len);
	FZ_ASSERT(r->json != NULL || fz_is_json_null(r->body, r->body_len), "a JSON body parses");
	if (status < 400)
		return;
	json_object *e, *m;
	FZ_ASSERT(json_object_is_type(r->json, json_type_object) && json_object_object_get_ex(r->json, "error", &e) &&
			  json_object_is_type(e, json_type_string) && json_object_object_get_ex(r->json, "message", &m) &&
			  json_object_is_type(m, json_type_string),
		  "an error body is {\"error\": string, \"message\": string}");
	r->error = json_object_get_string(e);
	FZ_ASSERT(known_error(r->error, status), "the error code is one API.md lists, with its own status");
}

void fz_response_free(fz_response *r)
{
	json_object_put(r->json);
	r->json = NULL;
}
