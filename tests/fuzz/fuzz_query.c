/* libFuzzer target: query strings (ss_query_get) and CONTENT_LENGTH values (ss_req_parse_content_length).
 * Input: one control byte (output buffer size), then lines: a parameter name, a raw query string, a
 * CONTENT_LENGTH value, and tab-separated key/value pairs. Checked:
 *   - a raw query: a found value fits the buffer, holds no NUL, and equals what an independent decoder makes
 *     of the first matching parameter ('+' is a space, %XX a byte, a malformed escape refuses);
 *   - round trip: the pairs, percent-encoded and joined with '&', give back each key's first value;
 *   - CONTENT_LENGTH: accepted exactly when it is 1..20 decimal digits with a value below 2^64, and read as
 *     that value. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/buf.h"
#include "fcgi/request.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reference decoder: 1 and the value in out, or -1 (malformed, NUL, too long for outlen). */
static int ref_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == 0 || j + 1 >= outlen)
			return -1;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	return 1;
}

/* Reference lookup over "k=v&k=v": the first parameter whose decoded key (< 128 bytes) is name. */
static int ref_get(const char *query, const char *name, char *out, size_t outlen)
{
	for (const char *p = query; *p != '\0';) {
		size_t seg = strcspn(p, "&");
		const char *eq = memchr(p, '=', seg);
		size_t klen = eq ? (size_t)(eq - p) : seg;
		char key[128];
		if (klen < sizeof key && ref_decode(p, klen, key, sizeof key) == 1 && strcmp(key, name) == 0)
			return eq ? ref_decode(eq + 1, seg - klen - 1, out, outlen) : ref_decode("", 0, out, outlen);
		if (p[seg] == '\0')
			break;
		p += seg + 1;
	}
	return 0; /* an empty query, or a trailing '&', has no parameter */
}

static void encode(ss_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.')
			FZ_ASSERT(ss_buf_append(b, p, 1) == 0, "out of memory");
		else if (*p == ' ')
			FZ_ASSERT(ss_buf_puts(b, "+") == 0, "out of memory");
		else
			FZ_ASSERT(ss_buf_printf(b, "%%%02X", *p) == 0, "out of memory");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t outlen = 1 + (size_t)data[0] * 8;
	char *part[4];
	fz_split(data + 1, size - 1, '\n', part, 4);
	const char *name = part[0], *query = part[1], *cl = part[2];

	char *out = malloc(outlen), *ref = malloc(outlen);
	FZ_ASSERT(out != NULL && ref != NULL, "out of memory");
	memset(out, 'x', outlen);
	int rc = ss_query_get(query, name, out, outlen);
	int want = ref_get(query, name, ref, outlen);
	/* a name that does not decode to itself can never match */
	FZ_ASSERT(rc == want || (strlen(name) >= 128 && rc == 0), "ss_query_get agrees with the reference decoder");
	if (rc == 1) {
		size_t n = strnlen(out, outlen);
		FZ_ASSERT(n < outlen && strcmp(out, ref) == 0, "the value fits and is the decoded parameter");
	}

	/* round trip of encoded pairs: the first value of each key comes back */
	char *kv[22];
	size_t npairs = 0;
	{
		const char *p = part[3];
		size_t n = 0;
		while (n < 22) {
			size_t seg = strcspn(p, "\t");
			kv[n++] = fz_strndup(p, seg);
			if (p[seg] == '\0')
				break;
			p += seg + 1;
		}
		npairs = n / 2;
		for (size_t i = npairs * 2; i < n; i++)
			free(kv[i]);
	}
	ss_buf qs;
	ss_buf_init(&qs, 0);
	for (size_t i = 0; i < npairs; i++) {
		if (i > 0)
			FZ_ASSERT(ss_buf_puts(&qs, "&") == 0, "out of memory");
		encode(&qs, kv[2 * i]);
		FZ_ASSERT(ss_buf_puts(&qs, "=") == 0, "out of memory");
		encode(&qs, kv[2 * i + 1]);
	}
	for (size_t i = 0; i < npairs; i++) {
		const char *k = kv[2 * i];
		size_t first = i;
		for (size_t j = 0; j < i; j++)
			if (strcmp(kv[2 * j], k) == 0) {
				first = j;
				break;
			}
		const char *v = kv[2 * first + 1];
		int g = ss_query_get(qs.data ? qs.data : "", k, out, outlen);
		ss_buf ek;
		ss_buf_init(&ek, 0);
		encode(&ek, k);
		size_t eklen = ek.len;
		ss_buf_free(&ek);
		if (eklen >= 128 || k[0] == '\0')
			continue; /* keys are at most 127 bytes as sent (encoded); an empty key matches "=v" too */
		if (strlen(v) < outlen)
			FZ_ASSERT(g == 1 && strcmp(out, v) == 0, "an encoded value comes back unchanged");
		else
			FZ_ASSERT(g == -1, "a value longer than the buffer is refused");
	}
	ss_buf_free(&qs);
	for (size_t i = 0; i < npairs * 2; i++)
		free(kv[i]);

	/* CONTENT_LENGTH */
	unsigned long long v = 12345;
	int prc = ss_req_parse_content_length(cl, &v);
	if (cl[0] == '\0') {
		FZ_ASSERT(prc == 0 && v == 0, "an empty Content-Length is 0");
	} else {
		bool digits = strspn(cl, "0123456789") == strlen(cl);
		errno = 0;
		unsigned long long r = digits ? strtoull(cl, NULL, 10) : 0;
		bool ok = digits && errno != ERANGE;
		FZ_ASSERT((prc == 0) == ok, "Content-Length: decimal digits, below 2^64");
		FZ_ASSERT(prc != 0 || v == r, "Content-Length is read as its value");
	}
	free(out);
	free(ref);
	fz_free_parts(part, 4);
	return 0;
}
