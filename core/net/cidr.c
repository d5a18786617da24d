#include "core/net/cidr.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define ENTRY_MAX 64 /* longer than any IPv6 text with a prefix */

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parse a numeric address into family/bytes; an IPv4-mapped IPv6 address becomes IPv4. 0 or -1. */
static int parse_addr(const char *text, int *family, unsigned char bytes[16])
{
	if (inet_pton(AF_INET, text, bytes) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, bytes) == 1) {
		*family = AF_INET6;
		if (memcmp(bytes, v4_mapped, sizeof v4_mapped) == 0) {
			memmove(bytes, bytes + 12, 4);
			*family = AF_INET;
		}
		return 0;
	}
	return -1;
}

static void mask_bits(unsigned char *bytes, int nbytes, int prefix)
{
	for (int i = 0; i < nbytes; i++) {
		int keep = prefix - i * 8;
		if (keep >= 8)
			continue;
		bytes[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
}

int ss_cidr_parse(const char *text, ss_cidr *out, char *why, size_t whylen)
{
	char buf[ENTRY_MAX];
	size_t n = strlen(text);
	if (n == 0 || n >= sizeof buf) {
		if (whylen > 0)
			snprintf(why, whylen, "'%.64s' is not an address or CIDR range", text);
		return -1;
	}
	memcpy(buf, text, n + 1);
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash != NULL) {
		*slash = '\0';
		char *end = NULL;
		const char *p = slash + 1;
		if (*p < '0' || *p > '9' || strlen(p) > 3)
			goto bad;
		prefix = strtol(p, &end, 10);
		if (*end != '\0')
			goto bad;
	}
	memset(out, 0, sizeof *out);
	bool v6_text = strchr(buf, ':') != NULL;
	if (!v6_text) {
		if (inet_pton(AF_INET, buf, out->addr) != 1)
			goto bad;
		out->family = AF_INET;
		if (prefix > 32)
			goto bad;
		out->prefix = prefix < 0 ? 32 : (int)prefix;
	} else {
		if (inet_pton(AF_INET6, buf, out->addr) != 1)
			goto bad;
		out->family = AF_INET6;
		if (prefix > 128)
			goto bad;
		out->prefix = prefix < 0 ? 128 : (int)prefix;
		if (out->prefix >= 96 && memcmp(out->addr, v4_mapped, sizeof v4_mapped) == 0) {
			/* ::ffff:a.b.c.d/n is the IPv4 range a.b.c.d/(n - 96). */
			memmove(out->addr, out->addr + 12, 4);
			memset(out->addr + 4, 0, 12);
			out->family = AF_INET;
			out->prefix -= 96;
		}
	}
	mask_bits(out->addr, out->family == AF_INET ? 4 : 16, out->prefix);
	return 0;
bad:
	if (whylen > 0) {
		if (strcasecmp(text, "localhost") == 0)
			snprintf(why, whylen, "'localhost' is a host name, not an address: write 127.0.0.1/8 and ::1");
		else
			snprintf(why, whylen, "'%.64s' is not an address or CIDR range (e.g. 10.0.0.0/8, ::1)", text);
	}
	return -1;
}

bool ss_cidr_contains(const ss_cidr *c, const char *addr)
{
	int family;
	unsigned char bytes[16];
	if (addr == NULL || parse_addr(addr, &family, bytes) != 0 || family != c->family)
		return false;
	int nbytes = family == AF_INET ? 4 : 16;
	assert(c->prefix >= 0 && c->prefix <= nbytes * 8);
	mask_bits(bytes, nbytes, c->prefix);
	return memcmp(bytes, c->addr, (size_t)nbytes) == 0;
}

/* Copy the next entry of list at *p into buf (truncated entries are marked unparsable by length). Returns
 * false at the end. */
static bool next_entry(const char **p, char *buf, size_t cap, bool *too_long)
{
	*p += strspn(*p, " ,\t");
	if (**p == '\0')
		return false;
	size_t len = strcspn(*p, " ,\t");
	*too_long = len >= cap;
	size_t copy = *too_long ? cap - 1 : len;
	memcpy(buf, *p, copy);
	buf[copy] = '\0';
	*p += len;
	return true;
}

int ss_cidr_list_check(const char *list, char *why, size_t whylen)
{
	char buf[ENTRY_MAX];
	bool too_long;
	ss_cidr c;
	for (const char *p = list; next_entry(&p, buf, sizeof buf, &too_long);) {
		if (too_long) {
			if (whylen > 0)
				snprintf(why, whylen, "'%.40s...' is not an address or CIDR range", buf);
			return -1;
		}
		if (ss_cidr_parse(buf, &c, why, whylen) != 0)
			return -1;
	}
	return 0;
}

bool ss_cidr_list_contains(const char *list, const char *addr)
{
	if (list == NULL || addr == NULL || addr[0] == '\0')
		return false;
	char buf[ENTRY_MAX];
	bool too_long;
	ss_cidr c;
	for (const char *p = list; next_entry(&p, buf, sizeof buf, &too_long);)
		if (!too_long && ss_cidr_parse(buf, &c, NULL, 0) == 0 && ss_cidr_contains(&c, addr))
			return true;
	return false;
}
