#include "core/util/base62.h"

#include <assert.h>
#include <string.h>

static const char ALPHABET[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ss_base62_from_hex128(const char *hex, char out[SS_BASE62_ID_LEN + 1])
{
	unsigned char v[16];
	out[0] = '\0';
	for (int i = 0; i < 16; i++) {
		int hi = hexval(hex[2 * i]);
		int lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		v[i] = (unsigned char)(hi << 4 | lo);
	}
	/* long division of the 16-byte big-endian number by 62, least significant digit first */
	for (int d = SS_BASE62_ID_LEN - 1; d >= 0; d--) {
		unsigned rem = 0;
		for (int i = 0; i < 16; i++) {
			unsigned cur = rem << 8 | v[i];
			v[i] = (unsigned char)(cur / 62);
			rem = cur % 62;
		}
		out[d] = ALPHABET[rem];
	}
	out[SS_BASE62_ID_LEN] = '\0';
	for (int i = 0; i < 16; i++)
		assert(v[i] == 0); /* 62^22 > 2^128: every bit was consumed */
	return 0;
}

int ss_base62_to_hex128(const char *id, char out[33])
{
	unsigned char v[16] = {0};
	out[0] = '\0';
	if (strlen(id) != SS_BASE62_ID_LEN)
		return -1;
	for (int d = 0; d < SS_BASE62_ID_LEN; d++) {
		const char *p = strchr(ALPHABET, id[d]);
		if (id[d] == '\0' || p == NULL)
			return -1;
		unsigned carry = (unsigned)(p - ALPHABET);
		for (int i = 15; i >= 0; i--) { /* v = v * 62 + digit */
			unsigned cur = (unsigned)v[i] * 62 + carry;
			v[i] = (unsigned char)(cur & 0xFF);
			carry = cur >> 8;
		}
		if (carry != 0)
			return -1; /* 2^128 or more */
	}
	static const char HEX[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = HEX[v[i] >> 4];
		out[2 * i + 1] = HEX[v[i] & 15];
	}
	out[32] = '\0';
	return 0;
}
