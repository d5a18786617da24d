/* Web origins for cors_origins: "scheme://host[:port]" as a browser sends it in the Origin header (RFC 6454),
 * compared exactly (the browser serialises origins one way: lower-case scheme and host, no default port). */
#ifndef SS_NET_ORIGIN_H
#define SS_NET_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#define SS_ORIGIN_MAX 256 /* longest origin accepted, bytes with the terminating NUL */

/* Is text (len bytes, no NUL needed) one serialised origin: "http://" or "https://", then a host of lower-case
 * letters, digits, '.', '-' (or a bracketed IPv6 address), then optionally ':' and 1..5 digits, and nothing
 * else (no path, no trailing '/', no user info)? Returns 0, or -1 with a short reason in why (may be NULL). */
int ss_origin_check(const char *text, size_t len, char *why, size_t whylen);

/* Check a list of origins separated by spaces, tabs or commas (empty is fine). Returns 0, or -1 with why
 * naming the first entry that is not an origin. */
int ss_origin_list_check(const char *list, char *why, size_t whylen);

/* Is origin (NUL-terminated, as the Origin header carries it) exactly one of the entries of list? False for an
 * empty list, a NULL or empty origin, and "null". No allocation. */
bool ss_origin_list_contains(const char *list, const char *origin);

#endif
