/* Writing responses: JSON bodies, JSON errors with the right status, extra headers, streamed bodies. */
#ifndef SS_FCGI_RESPONSE_H
#define SS_FCGI_RESPONSE_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/util/error.h"
#include "fcgi/request.h"

/* Queue a header line ("Name: value") to be sent with the response headers. Must be called before the
 * body starts. Returns 0 or -1 (headers already sent, or ENOMEM). */
int ss_resp_add_header(ss_request *r, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Send status, queued headers, Content-Type: application/json and the serialised body (borrowed: the
 * caller still owns and puts it). Returns 0 or -1 on a write error (client gone). */
int ss_resp_json(ss_request *r, int status, json_object *body);

/* Send {"error": ss_code_name(code), "message": ...} with ss_code_http_status(code). The message is made valid
 * UTF-8 first (bytes that are not, e.g. from a request path, become U+FFFD). A 500's message is its cause: it is
 * logged (error level, with the method and path) and the client reads ss_resp_public_message's sentence. Adds
 * Retry-After: 1 to 429/503 answers unless a Retry-After header is already queued. Returns 0 or -1. */
int ss_resp_error(ss_request *r, ss_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Send the error held in *e (code and message). */
int ss_resp_error_from(ss_request *r, const ss_error *e);

/* The message a client may read for an error of this code whose cause is msg: msg itself, except for the
 * internal errors (status 500), whose cause (a database's own text, a path) is for the log only; then a fixed
 * sentence. Returns msg or a static string. */
const char *ss_resp_public_message(ss_code code, const char *msg);

/* The standard reason phrase for an HTTP status code (RFC 9110), or NULL for a code it does not know. Every
 * code songscope sends (ss_code_http_status, handlers) has one. */
const char *ss_resp_reason(int status);

/* Start a streamed response: status, queued headers and Content-Type. Then write with ss_resp_write. */
int ss_resp_begin(ss_request *r, int status, const char *content_type);

/* Write body bytes after ss_resp_begin. Returns 0 or -1 on a write error. */
int ss_resp_write(ss_request *r, const void *data, size_t len);

#endif
