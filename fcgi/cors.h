/* Cross-origin requests (CORS) for the origins listed in cors_origins: the response headers that let a page
 * on such an origin read songscope's answers, and the answers to browsers' preflight OPTIONS requests. With
 * cors_origins empty (the default) nothing here adds anything. */
#ifndef SS_FCGI_CORS_H
#define SS_FCGI_CORS_H

#include <stdbool.h>

#include "fcgi/context.h"
#include "fcgi/request.h"

/* Request headers a listed origin's page may send (the preflight's Access-Control-Allow-Headers). */
#define SS_CORS_ALLOW_HEADERS                                                                                      \
	"X-API-Key, Authorization, Content-Type, X-Song-Title, X-Song-Artist, X-Force-Reanalyze, X-Bypass-Cache, " \
	"X-Cache-Namespace, X-Client-Request-Id"
/* Response headers such a page may read besides the CORS-safelisted ones. */
#define SS_CORS_EXPOSE_HEADERS "Retry-After, Allow, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
/* Seconds a browser may keep a preflight answer. */
#define SS_CORS_MAX_AGE 600

/* Queue the CORS headers of any answer, before it is sent: "Vary: Origin" whenever cors_origins is set (the
 * answer depends on the Origin header), and Access-Control-Allow-Origin (the request's own origin, never "*")
 * plus Access-Control-Expose-Headers when that origin is listed. Nothing for other origins. */
void ss_cors_headers(const ss_ctx *ctx, ss_request *req);

/* Is req a preflight (OPTIONS with Origin and Access-Control-Request-Method) from a listed origin? */
bool ss_cors_is_preflight(const ss_ctx *ctx, const ss_request *req);

/* Answer a preflight for a path that takes the methods in mask `allowed` (ss_method bits, not 0): 204 with
 * Access-Control-Allow-Methods, -Allow-Headers and -Max-Age. No key is needed (browsers send none in a
 * preflight); the real request that follows is authorised as usual. Returns 0, or -1 on a write error. */
int ss_cors_preflight(ss_request *req, unsigned allowed);

#endif
