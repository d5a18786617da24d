#include "fcgi/response.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "core/util/utf8.h"

int ss_resp_add_header(ss_request *r, const char *name, const char *fmt, ...)
{
	char value[1024];
	va_list ap;

	if (r->headers_sent)
		return -1;
	va_start(ap, fmt);
	int n = vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof value)
		return -1;
	/* Header injection guard: values never carry line breaks. */
	for (char *p = value; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return ss_buf_printf(&r->headers, "%s: %s\r\n", name, value);
}

static bool has_header(const ss_request *r, const char *name)
{
	size_t n = strlen(name);
	const char *p = r->headers.data;
	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			return true;
		p = strstr(p, "\r\n");
		if (p != NULL)
			p += 2;
	}
	return false;
}

const char *ss_resp_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 507: return "Insufficient Storage";
	default: return NULL;
	}
}

int ss_resp_begin(ss_request *r, int status, const char *content_type)
{
	if (r->headers_sent)
		return -1;
	r->status = status;
	r->headers_sent = true;
	/* With the reason phrase: the web servers pass the Status line through as it is (nginx would send
	 * "HTTP/1.1 200" without one). */
	const char *reason = ss_resp_reason(status);
	if (FCGX_FPrintF(r->fcgx->out, "Status: %d%s%s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n%s\r\n", status,
			 reason ? " " : "", reason ? reason : "", content_type, r->headers.data ? r->headers.data : "") < 0)
		return -1;
	return 0;
}

int ss_resp_write(ss_request *r, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		int n = len > 1 << 20 ? 1 << 20 : (int)len;
		if (FCGX_PutStr(p, n, r->fcgx->out) != n)
			return -1;
		p += n;
		len -= (size_t)n;
		r->bytes_out += (unsigned long long)n;
	}
	return 0;
}

int ss_resp_json(ss_request *r, int status, json_object *body)
{
	size_t len = 0;
	const char *text = body ? ss_json_text(body, &len) : "null";
	if (body == NULL)
		len = 4;
	if (text == NULL)
		return -1;
	if (ss_resp_add_header(r, "Content-Length", "%zu", len + 1) != 0)
		return -1;
	if (ss_resp_begin(r, status, "application/json") != 0)
		return -1;
	if (ss_resp_write(r, text, len) != 0 || ss_resp_write(r, "\n", 1) != 0)
		return -1;
	return 0;
}

/* Copy msg into out as valid UTF-8: every byte that does not start a well-formed sequence (a path that is not
 * UTF-8, a message cut inside a character) becomes U+FFFD, so the JSON body stays UTF-8 (RFC 8259). */
static void utf8_clean(const char *msg, char *out, size_t outlen)
{
	const char *p = msg;
	size_t j = 0;
	assert(outlen >= 4);
	while (*p != '\0') {
		size_t n = ss_utf8_seq_len(p);
		const char *src = n ? p : "\xEF\xBF\xBD";
		size_t len = n ? n : 3;
		if (j + len >= outlen)
			break;
		memcpy(out + j, src, len);
		j += len;
		p += n ? n : 1;
	}
	out[j] = '\0';
}

const char *ss_resp_public_message(ss_code code, const char *msg)
{
	return ss_code_http_status(code) == 500 ? "The server could not complete the request; the cause is in its log." : msg;
}

static int send_error(ss_request *r, ss_code code, const char *raw)
{
	char msg[SS_ERROR_MSG_MAX * 3];
	utf8_clean(raw, msg, sizeof msg);
	int status = ss_code_http_status(code);
	if (status == 500) {
		const char *method = ss_req_param(r, "REQUEST_METHOD");
		ss_log_error("%s %s: %s", method ? method : "-", r->path, msg);
	}
	if ((status == 429 || status == 503) && !has_header(r, "Retry-After"))
		ss_resp_add_header(r, "Retry-After", "1");
	json_object *o = json_object_new_object();
	if (o == NULL || ss_json_add_string(o, "error", ss_code_name(code)) != 0 ||
	    ss_json_add_string(o, "message", ss_resp_public_message(code, msg)) != 0) {
		json_object_put(o);
		/* Out of memory: a fixed body still keeps the contract. */
		static const char fallback[] = "{\"error\":\"internal\",\"message\":\"Out of memory.\"}\n";
		if (ss_resp_begin(r, 500, "application/json") != 0)
			return -1;
		return ss_resp_write(r, fallback, sizeof fallback - 1);
	}
	int rc = ss_resp_json(r, status, o);
	json_object_put(o);
	return rc;
}

int ss_resp_error(ss_request *r, ss_code code, const char *fmt, ...)
{
	char msg[SS_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return send_error(r, code, msg);
}

int ss_resp_error_from(ss_request *r, const ss_error *e)
{
	return send_error(r, e->code == SS_OK ? SS_ERR_INTERNAL : e->code,
			  e->msg[0] ? e->msg : "The request could not be completed.");
}
