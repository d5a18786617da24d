/* One FastCGI request: CGI parameters, the routed path, the query string and a bounded body reader. */
#ifndef SS_FCGI_REQUEST_H
#define SS_FCGI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <fcgiapp.h>

#include "core/util/buf.h"
#include "core/util/error.h"

typedef enum ss_method {
	SS_M_GET = 1 << 0,
	SS_M_POST = 1 << 1,
	SS_M_DELETE = 1 << 2,
	SS_M_HEAD = 1 << 3,
	SS_M_PUT = 1 << 4,
	SS_M_PATCH = 1 << 5,
	SS_M_OPTIONS = 1 << 6,
	SS_M_OTHER = 1 << 7
} ss_method;

#define SS_PATH_MAX 1024

typedef struct ss_request {
	FCGX_Request *fcgx;
	ss_method method;
	char path[SS_PATH_MAX];  /* routed path, e.g. "/cache/12"; no query, no trailing slash (except "/") */
	const char *query;       /* raw QUERY_STRING ("" when absent); owned by fcgx */
	const char *remote_addr; /* REMOTE_ADDR ("" when absent) */
	double t_start;          /* monotonic start time */

	/* response state (fcgi/response.c) */
	int status;              /* status sent, 0 before headers */
	bool headers_sent;
	ss_buf headers;          /* extra header lines queued by ss_resp_add_header */
	unsigned long long bytes_out;

	/* set by the router and auth */
	const char *route;       /* route name for logs and metrics, e.g. "health" */
	long long path_id;       /* numeric {id} captured from the path, or -1 */
	long long key_id;        /* authenticated API key id, or -1 */
	int key_scope;           /* ss_scope of the key (fcgi/router.h) */
	char key_prefix[16];     /* non-secret display prefix of the key, for logs */
} ss_request;

/* Fill r from an accepted FastCGI request (r->fcgx must be set). Computes method and path. Returns 0, or
 * -1 when the path is unusable (too long, not absolute) — the caller answers 400. */
int ss_req_init(ss_request *r, FCGX_Request *fcgx);

/* Free what r owns (queued headers). */
void ss_req_cleanup(ss_request *r);

/* Compute the routed path from CGI parameters: PATH_INFO when non-empty, else DOCUMENT_URI, else
 * SCRIPT_NAME, else the path part of REQUEST_URI. Trailing slashes are dropped. Pure; used by tests.
 * Returns 0, or -1 when none is usable or the result does not fit in outlen. */
int ss_req_route_path(const char *path_info, const char *document_uri, const char *script_name,
		      const char *request_uri, char *out, size_t outlen);

/* Map a REQUEST_METHOD string to ss_method (SS_M_OTHER when unknown or NULL). */
ss_method ss_req_method_parse(const char *s);

/* The methods in mask `methods` as an Allow header lists them ("GET, HEAD, POST"), into out (outlen > 0; a list
 * that does not fit ends at the last whole name). */
void ss_req_method_list(unsigned methods, char *out, size_t outlen);

/* A CGI parameter (e.g. "CONTENT_TYPE"), or NULL. Owned by the request. */
const char *ss_req_param(const ss_request *r, const char *name);

/* A request header by its HTTP name ("X-API-Key" → HTTP_X_API_KEY), or NULL. Owned by the request. */
const char *ss_req_header(const ss_request *r, const char *http_name);

/* Look up query parameter `name` in a raw query string, percent- and '+'-decoded into out.
 * Returns 1 when found, 0 when absent, -1 when malformed or longer than outlen-1 bytes or containing NUL. */
int ss_query_get(const char *query, const char *name, char *out, size_t outlen);

/* Parse a CONTENT_LENGTH value strictly: NULL or "" → 0; digits only otherwise. Returns 0 or -1. */
int ss_req_parse_content_length(const char *s, unsigned long long *out);

/* Read the whole body into out (reset first). With a CONTENT_LENGTH: fails with SS_ERR_BAD_REQUEST when it
 * is malformed or the body is shorter, SS_ERR_TOO_LARGE (before reading anything) when it exceeds `cap`.
 * Without one (absent or empty): reads to the end of the stream, SS_ERR_TOO_LARGE past `cap` bytes.
 * SS_ERR_NOMEM. Reads in fixed chunks; memory grows only with bytes actually received. */
int ss_req_read_body(ss_request *r, size_t cap, ss_buf *out, ss_error *err);

#endif
