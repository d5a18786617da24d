/* A minimal FastCGI client for tests that must bypass the web server (malformed CONTENT_LENGTH, bodies
 * shorter than announced — things nginx never forwards). */
#ifndef SS_TESTS_FCGI_CLIENT_H
#define SS_TESTS_FCGI_CLIENT_H

#include <stddef.h>

#include "core/util/buf.h"

/* Send one responder request over the unix socket at path: params are "NAME=VALUE" strings (NULL-terminated
 * list), then `body` as FCGI_STDIN followed by the end-of-stream record. Collects FCGI_STDOUT into out and
 * sets *status from its "Status:" header (200 when absent). Returns 0, or -1 on a protocol/socket error. */
int ss_fcgi_call(const char *path, const char *const *params, const void *body, size_t body_len, ss_buf *out,
		 int *status);

#endif
