/* Address ranges for access lists (metrics_allow, anonymous_networks): IPv4 and IPv6 CIDR ranges and plain
 * addresses, matched against REMOTE_ADDR text. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4
 * address it carries, on either side. Host names are not ranges: "localhost" is refused, not resolved. */
#ifndef SS_NET_CIDR_H
#define SS_NET_CIDR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ss_cidr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];  /* network address (4 bytes used for AF_INET), host bits cleared */
	int prefix;              /* 0..32 or 0..128 */
} ss_cidr;

/* Parse "ADDR" or "ADDR/PREFIX" (numeric IPv4 or IPv6; a plain address is a /32 or /128). Host bits after
 * the prefix are allowed and ignored (127.0.0.1/8 is 127.0.0.0/8). Returns 0 with *out, or -1 with a short
 * reason in why (whylen bytes, may be 0) when text is not such a range. */
int ss_cidr_parse(const char *text, ss_cidr *out, char *why, size_t whylen);

/* Is the numeric address text addr (IPv4 or IPv6, as REMOTE_ADDR carries it) inside c? False when addr does
 * not parse. */
bool ss_cidr_contains(const ss_cidr *c, const char *addr);

/* Check a list of ranges separated by spaces, tabs or commas (empty is fine). Returns 0, or -1 with why
 * naming the first entry that does not parse (with a hint for "localhost"). */
int ss_cidr_list_check(const char *list, char *why, size_t whylen);

/* Is addr inside any range of list (as ss_cidr_list_check accepts; entries that do not parse match
 * nothing)? False for an empty list or an empty or unparsable addr. No allocation. */
bool ss_cidr_list_contains(const char *list, const char *addr);

#endif
