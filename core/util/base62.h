/* Track ids: 128 bits written as 22 base62 characters, the shape of Spotify's track ids. */
#ifndef SS_UTIL_BASE62_H
#define SS_UTIL_BASE62_H

#include <stdbool.h>

#define SS_BASE62_ID_LEN 22 /* characters of an id (62^22 > 2^128) */

/* The 128-bit number whose big-endian hex is the first 32 characters of hex (at least 32 hex digits, either
 * case) as exactly SS_BASE62_ID_LEN characters of "0-9A-Za-z" (most significant first, '0'-padded) into out
 * (SS_BASE62_ID_LEN + 1 bytes). Returns 0, or -1 (out = "") when hex has fewer than 32 hex digits. */
int ss_base62_from_hex128(const char *hex, char out[SS_BASE62_ID_LEN + 1]);

/* The inverse: id must be exactly SS_BASE62_ID_LEN characters of the alphabet and below 2^128. Writes 32
 * lower-case hex digits and a NUL into out. Returns 0, or -1 for anything else (out = ""). */
int ss_base62_to_hex128(const char *id, char out[33]);

#endif
