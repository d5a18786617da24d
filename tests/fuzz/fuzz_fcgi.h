/* An in-memory FastCGI request for the fuzz targets: CGI parameters and a body taken from fuzz bytes, the body
 * delivered to FCGX_GetStr in fragments, the response collected in memory and checked against the HTTP
 * contract (status line, headers, JSON body, error objects). */
#ifndef SS_FUZZ_FCGI_H
#define SS_FUZZ_FCGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "core/util/buf.h"

typedef struct fz_request {
	FCGX_Request fcgx;
	FCGX_Stream in, out;
	char **envp;               /* "NAME=value" strings, NULL-terminated */
	size_t nenv;
	const unsigned char *body; /* borrowed from the fuzz input */
	size_t body_len, body_pos;
	size_t frag;               /* bytes per fill of the input stream (>= 1) */
	unsigned char outbuf[256]; /* the output stream's window; flushed into out_data */
	ss_buf out_data;
} fz_request;

/* Build a request from `data`: lines "NAME=value" (a line without '=' is a name with an empty value) up to
 * the first empty line, then the body (everything after it). `extra` is a NULL-terminated list of parameters
 * put before the parsed ones (FCGX_GetParam returns the first match), or NULL. The body is delivered `frag`
 * bytes per fill. Keeps pointers into data (which must outlive q). */
void fz_request_build(fz_request *q, const uint8_t *data, size_t size, const char *const *extra, size_t frag);

/* Free what q owns. */
void fz_request_free(fz_request *q);

/* The first parameter `name` as FCGX_GetParam sees it, or NULL. */
const char *fz_env(const fz_request *q, const char *name);

typedef struct fz_response {
	int status;
	const char *headers; /* header block, lines "Name: value\r\n" (points into the request's output) */
	size_t headers_len;
	const char *body;
	size_t body_len;
	json_object *json;   /* parsed body when the type is application/json (owned; fz_response_free) */
	const char *error;   /* "error" member of an error object, or NULL */
} fz_response;

/* Check what the responder wrote: "Status: NNN" first, well-formed header lines without NUL, CR or LF in a
 * value, Content-Length equal to the body when present, a JSON body that parses as UTF-8 JSON when the type
 * is application/json, and for status >= 400 an object {"error": known code whose status is this one,
 * "message": string}, with Retry-After on 429 and 503. Aborts (a finding) when any of it does not hold.
 * When nothing was written, aborts unless allow_empty. */
void fz_response_check(fz_request *q, fz_response *r, bool allow_empty);

/* The value of header `name` in r (a new string), or NULL. */
char *fz_response_header(const fz_response *r, const char *name);

void fz_response_free(fz_response *r);

#endif
