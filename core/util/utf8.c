#include "core/util/utf8.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

size_t ss_utf8_seq_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	assert(p != NULL && p[0] != '\0');
	unsigned c = p[0];
	size_t n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, min = 0x10000;
	else
		return 0;
	unsigned cp = c & (0x7Fu >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = (cp << 6) | (p[i] & 0x3Fu);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

bool ss_utf8_valid(const char *s)
{
	assert(s != NULL);
	while (*s != '\0') {
		size_t n = ss_utf8_seq_len(s);
		if (n == 0)
			return false;
		s += n;
	}
	return true;
}

long ss_utf8_or_latin1(const char *s, char *out, size_t outlen)
{
	assert(s != NULL && out != NULL && outlen > 0);
	size_t n = strlen(s), j = 0;
	if (ss_utf8_valid(s)) {
		if (n >= outlen) {
			out[0] = '\0';
			return -1;
		}
		memcpy(out, s, n + 1);
		return (long)n;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (j + (*p < 0x80 ? 1 : 2) >= outlen) {
			out[0] = '\0';
			return -1;
		}
		if (*p < 0x80) {
			out[j++] = (char)*p;
		} else {
			out[j++] = (char)(0xC0 | (*p >> 6));
			out[j++] = (char)(0x80 | (*p & 0x3F));
		}
	}
	out[j] = '\0';
	return (long)j;
}

char *ss_utf8_or_latin1_dup(const char *s)
{
	assert(s != NULL);
	size_t cap = 2 * strlen(s) + 1;
	char *out = malloc(cap);
	if (out != NULL)
		(void)ss_utf8_or_latin1(s, out, cap); /* always fits */
	return out;
}

/* The length of the control character at p (1 for C0 and DEL, 2 for C1 in UTF-8), or 0. */
static size_t control_len(const unsigned char *p)
{
	if (*p < 0x20 || *p == 0x7F)
		return 1;
	return p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F ? 2 : 0;
}

bool ss_utf8_has_control(const char *s)
{
	assert(s != NULL);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (control_len(p) > 0)
			return true;
	return false;
}

void ss_utf8_fold_controls(char *s)
{
	assert(s != NULL);
	unsigned char *w = (unsigned char *)s;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
		size_t n = control_len(p);
		if (n > 0) {
			*w++ = ' ';
			p += n;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
}

void ss_utf8_clip(char *s, size_t cap)
{
	assert(s != NULL && cap >= 1);
	size_t n = strlen(s);
	if (n < cap)
		return;
	n = cap - 1;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}
