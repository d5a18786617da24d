#include "core/util/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ss_buf_init(ss_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

int ss_buf_reserve(ss_buf *b, size_t extra)
{
	if (extra > (size_t)-1 / 2 - b->len) {
		errno = EFBIG;
		return -1;
	}
	size_t need = b->len + extra;
	if (b->limit != 0 && need > b->limit) {
		errno = EFBIG;
		return -1;
	}
	if (need <= b->cap && b->data != NULL)
		return 0;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	if (b->limit != 0 && ncap > b->limit)
		ncap = b->limit;
	char *p = realloc(b->data, ncap + 1);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = ncap;
	b->data[b->len] = '\0';
	return 0;
}

int ss_buf_append(ss_buf *b, const void *p, size_t n)
{
	if (ss_buf_reserve(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ss_buf_puts(ss_buf *b, const char *s)
{
	return ss_buf_append(b, s, strlen(s));
}

int ss_buf_printf(ss_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof small)
		return ss_buf_append(b, small, (size_t)n);
	if (ss_buf_reserve(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void ss_buf_reset(ss_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void ss_buf_free(ss_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

char *ss_buf_steal(ss_buf *b, size_t *len)
{
	char *p = b->data;
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
