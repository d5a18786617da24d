#include "core/util/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/util/utf8.h"

int ss_render_json_str(ss_buf *b, const char *s)
{
	if (s == NULL)
		return ss_buf_append(b, "null", 4);
	if (ss_buf_append(b, "\"", 1) != 0)
		return -1;
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;
	while (*p) {
		unsigned c = *p;
		const char *esc = NULL;
		char tmp[8];
		size_t skip = 1;
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == 0x7F) {
			snprintf(tmp, sizeof tmp, "\\u%04x", c);
			esc = tmp;
		} else if (c >= 0x80) {
			skip = ss_utf8_seq_len((const char *)p);
			if (skip == 0) {
				esc = "\xEF\xBF\xBD";
				skip = 1;
			} else {
				p += skip;
				continue;
			}
		} else {
			p++;
			continue;
		}
		if (ss_buf_append(b, run, (size_t)(p - run)) != 0 || ss_buf_puts(b, esc) != 0)
			return -1;
		p += skip;
		run = p;
	}
	if (ss_buf_append(b, run, (size_t)(p - run)) != 0)
		return -1;
	return ss_buf_append(b, "\"", 1);
}

int ss_render_json_num(ss_buf *b, double v)
{
	if (!isfinite(v))
		return ss_buf_append(b, "null", 4);
	if (v == 0)
		return ss_buf_append(b, "0.0", 3);
	char tmp[40];
	int n = snprintf(tmp, sizeof tmp, "%.10g", v);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -1;
	/* Keep it a float literal so typed clients decoding Double are happy either way. */
	if (strpbrk(tmp, ".eEn") == NULL && (size_t)n + 2 < sizeof tmp) {
		tmp[n++] = '.';
		tmp[n++] = '0';
		tmp[n] = '\0';
	}
	return ss_buf_append(b, tmp, (size_t)n);
}

int ss_render_csv_cell(ss_buf *b, const char *s, bool text)
{
	if (s == NULL)
		return 0;
	bool formula = text && s[0] != '\0' && strchr("=+-@\t\r\n", s[0]) != NULL;
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote && ss_buf_append(b, "\"", 1) != 0)
		return -1;
	if (formula && ss_buf_append(b, "'", 1) != 0)
		return -1;
	if (!quote) {
		if (ss_buf_puts(b, s) != 0)
			return -1;
	} else {
		for (const char *p = s; *p; p++)
			if ((*p == '"' && ss_buf_append(b, "\"\"", 2) != 0) || (*p != '"' && ss_buf_append(b, p, 1) != 0))
				return -1;
		if (ss_buf_append(b, "\"", 1) != 0)
			return -1;
	}
	return 0;
}

int ss_render_csv_num(ss_buf *b, double v, int decimals)
{
	if (!isfinite(v))
		return 0;
	return ss_buf_printf(b, "%.*f", decimals, v);
}
