#include "core/net/origin.h"

#include <stdio.h>
#include <string.h>

static const char origin_sep[] = " \t,";

int ss_origin_check(const char *text, size_t len, char *why, size_t whylen)
{
	size_t i;
#define FAIL(...) do { if (why != NULL && whylen > 0) snprintf(why, whylen, __VA_ARGS__); return -1; } while (0)
	if (len >= SS_ORIGIN_MAX)
		FAIL("an origin is at most %d bytes", SS_ORIGIN_MAX - 1);
	if (len >= 7 && memcmp(text, "http://", 7) == 0)
		i = 7;
	else if (len >= 8 && memcmp(text, "https://", 8) == 0)
		i = 8;
	else
		FAIL("'%.*s' is not an origin: it must start with http:// or https://", (int)len, text);
	size_t host = i;
	if (i < len && text[i] == '[') {
		for (i++; i < len && text[i] != ']'; i++)
			if (strchr("0123456789abcdef:.", text[i]) == NULL)
				FAIL("'%.*s': bad IPv6 address (lower-case hex digits and ':' only)", (int)len, text);
		if (i >= len)
			FAIL("'%.*s': no closing ']'", (int)len, text);
		i++;
	} else {
		for (; i < len && text[i] != ':'; i++)
			if (strchr("abcdefghijklmnopqrstuvwxyz0123456789.-", text[i]) == NULL)
				FAIL("'%.*s' is not an origin: the host must be lower-case letters, digits, '.' and "
				     "'-', with no path or trailing '/'",
				     (int)len, text);
	}
	if (i == host || (i == host + 2 && text[host] == '['))
		FAIL("'%.*s': the host is empty", (int)len, text);
	if (i < len) {
		/* text[i] == ':' */
		size_t digits = len - i - 1;
		if (digits < 1 || digits > 5 || strspn(text + i + 1, "0123456789") < digits)
			FAIL("'%.*s': the port must be 1 to 5 digits, with no path after it", (int)len, text);
	}
	return 0;
#undef FAIL
}

int ss_origin_list_check(const char *list, char *why, size_t whylen)
{
	const char *p = list;
	while (*(p += strspn(p, origin_sep)) != '\0') {
		size_t n = strcspn(p, origin_sep);
		if (ss_origin_check(p, n, why, whylen) != 0)
			return -1;
		p += n;
	}
	return 0;
}

bool ss_origin_list_contains(const char *list, const char *origin)
{
	if (list == NULL || origin == NULL || origin[0] == '\0')
		return false;
	size_t olen = strlen(origin);
	const char *p = list;
	while (*(p += strspn(p, origin_sep)) != '\0') {
		size_t n = strcspn(p, origin_sep);
		if (n == olen && memcmp(p, origin, n) == 0)
			return true;
		p += n;
	}
	return false;
}
