/* The route table: path patterns, allowed methods, required key scope, and the handler. */
#ifndef SS_FCGI_ROUTER_H
#define SS_FCGI_ROUTER_H

#include "fcgi/context.h"
#include "fcgi/request.h"

typedef enum ss_scope {
	SS_SCOPE_NONE = 0,   /* no key needed (GET /health) */
	SS_SCOPE_CLIENT = 1, /* any active key */
	SS_SCOPE_ADMIN = 2   /* a key whose scope is admin */
} ss_scope;

/* A handler answers the request (always sending a response) and returns 0, or -1 when writing failed. */
typedef int (*ss_handler_fn)(ss_ctx *ctx, ss_request *req);

typedef struct ss_route {
	const char *pattern; /* exact path, or with one trailing segment: "{id}" matching a decimal id, "{file}" a
			      * file name ([A-Za-z0-9_-]{1,64}, optionally '.' and [a-z0-9]{1,8}), or "{key}"
			      * one or more bytes other than '/' (of any length the request path allows: the
			      * handler answers 400 for what is not one of its keys, never 404) */
	unsigned methods;    /* mask of ss_method */
	ss_scope scope;
	ss_handler_fn fn;
	const char *name;    /* for logs and metrics */
} ss_route;

/* Find the route for path and method. Returns it (and sets *id for "{id}" patterns, else -1), or NULL:
 * then *allowed is the mask of methods the path accepts (0 = unknown path → 404, else 405). */
const ss_route *ss_router_match(const char *path, ss_method method, unsigned *allowed, long long *id);

/* Route, authorise and handle one request, always sending a response. Returns 0, or -1 on write error. */
int ss_router_dispatch(ss_ctx *ctx, ss_request *req);

/* The route table (defined in fcgi/routes.c) and its size. */
extern const ss_route ss_routes[];
extern const unsigned ss_route_count;

#endif
