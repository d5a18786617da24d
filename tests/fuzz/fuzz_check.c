#include "tests/fuzz/fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_fail(const char *file, int line, const char *cond, const char *what)
{
	fprintf(stderr, "FUZZ-ASSERT %s:%d: %s (%s)\n", file, line, cond, what ? what : "");
	abort();
}

bool fz_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p;
		size_t n;
		unsigned cp, min;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 2, min = 0x80, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 3, min = 0x800, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 4, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) < n)
			return false;
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += n;
	}
	return true;
}

json_object *fz_json_parse(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new_ex(64);
	FZ_ASSERT(tok != NULL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	/* with its terminating NUL, so that a number at the very end is complete */
	char *copy = fz_strndup(s, len);
	json_object *o = json_tokener_parse_ex(tok, copy, (int)len + 1);
	free(copy);
	size_t used = (size_t)json_tokener_get_parse_end(tok);
	if (used > len)
		used = len;
	enum json_tokener_error e = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success) {
		json_object_put(o);
		return NULL;
	}
	for (; used < len; used++)
		if (strchr(" \t\r\n", s[used]) == NULL || s[used] == '\0') {
			json_object_put(o);
			return NULL;
		}
	return o;
}

bool fz_is_json_null(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", s[i]) != NULL && s[i] != '\0')
		i++;
	if (len - i < 4 || memcmp(s + i, "null", 4) != 0)
		return false;
	for (i += 4; i < len; i++)
		if (strchr(" \t\r\n", s[i]) == NULL || s[i] == '\0')
			return false;
	return true;
}

char *fz_strndup(const void *data, size_t len)
{
	char *s = malloc(len + 1);
	FZ_ASSERT(s != NULL, "out of memory");
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

void fz_split(const uint8_t *data, size_t size, char sep, char **out, size_t n)
{
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		size_t end = size;
		if (i + 1 < n) {
			const uint8_t *q = pos < size ? memchr(data + pos, sep, size - pos) : NULL;
			if (q != NULL)
				end = (size_t)(q - data);
		}
		out[i] = fz_strndup(data + (pos < size ? pos : size), end > pos ? end - pos : 0);
		pos = end < size ? end + 1 : size;
	}
}

void fz_free_parts(char **parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(parts[i]);
}
