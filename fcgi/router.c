#include "fcgi/router.h"

#include <stdio.h>
#include <string.h>

#include "core/util/log.h"
#include "core/util/strnum.h"
#include "fcgi/auth.h"
#include "fcgi/cors.h"
#include "fcgi/response.h"

/* Is s a file name as "{file}" matches: [A-Za-z0-9_-]{1,64}, optionally '.' and [a-z0-9]{1,8}? */
static bool file_name(const char *s)
{
	static const char stem[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
	size_t n = strspn(s, stem);
	if (n == 0 || n > 64)
		return false;
	if (s[n] == '\0')
		return true;
	if (s[n] != '.')
		return false;
	size_t e = strspn(s + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789");
	return e > 0 && e <= 8 && s[n + 1 + e] == '\0';
}

/* Does path match pattern? A trailing "{id}" segment matches 1..18 decimal digits; "{file}" a file name; a
 * trailing "{key}" segment one or more bytes but '/', of any length (the handler reads it from the path and
 * answers 400 when it is not one of its keys: an overlong id is a malformed id, not an unknown endpoint). */
static bool pattern_match(const char *pattern, const char *path, long long *id)
{
	const char *kb = strstr(pattern, "{key}");
	if (kb != NULL) {
		size_t pre = (size_t)(kb - pattern);
		if (strncmp(pattern, path, pre) != 0)
			return false;
		size_t n = strcspn(path + pre, "/");
		return n > 0 && path[pre + n] == '\0';
	}
	const char *file = strstr(pattern, "{file}");
	if (file != NULL) {
		size_t pre = (size_t)(file - pattern);
		return strncmp(pattern, path, pre) == 0 && file_name(path + pre);
	}
	const char *brace = strstr(pattern, "{id}");
	if (brace == NULL)
		return strcmp(pattern, path) == 0;
	size_t pre = (size_t)(brace - pattern);
	if (strncmp(pattern, path, pre) != 0)
		return false;
	const char *digits = path + pre;
	size_t n = strlen(digits);
	if (n == 0 || n > 18)
		return false;
	int64_t v;
	if (ss_parse_i64(digits, 0, INT64_MAX, &v) != 0)
		return false;
	*id = v;
	return true;
}

const ss_route *ss_router_match(const char *path, ss_method method, unsigned *allowed, long long *id)
{
	*allowed = 0;
	*id = -1;
	for (unsigned i = 0; i < ss_route_count; i++) {
		long long pid = -1;
		if (!pattern_match(ss_routes[i].pattern, path, &pid))
			continue;
		unsigned m = ss_routes[i].methods;
		if (m & SS_M_GET)
			m |= SS_M_HEAD;
		*allowed |= m;
		if (m & method) {
			*id = pid;
			return &ss_routes[i];
		}
	}
	return NULL;
}

int ss_router_dispatch(ss_ctx *ctx, ss_request *req)
{
	unsigned allowed;
	long long id;
	const ss_route *route = ss_router_match(req->path, req->method, &allowed, &id);

	ss_cors_headers(ctx, req);
	if (route == NULL && allowed != 0 && ss_cors_is_preflight(ctx, req)) {
		req->route = "cors_preflight";
		return ss_cors_preflight(req, allowed);
	}
	if (route == NULL) {
		if (allowed == 0) {
			req->route = "not_found";
			return ss_resp_error(req, SS_ERR_NOT_FOUND, "No such endpoint: %.200s", req->path);
		}
		char allow[128];
		ss_req_method_list(allowed, allow, sizeof allow);
		req->route = "method_not_allowed";
		ss_resp_add_header(req, "Allow", "%s", allow);
		return ss_resp_error(req, SS_ERR_METHOD, "Method not allowed on %.200s; use %s.", req->path, allow);
	}
	req->route = route->name;
	req->path_id = id;

	int a = ss_auth_authorize(ctx, req, route->scope);
	if (a != 0)
		return a < 0 ? -1 : 0;
	int rc = route->fn(ctx, req);
	ss_auth_finish(ctx, req);
	return rc;
}
