/* API key secrets: generation (256 random bits), the SHA-256 stored in the database, the display prefix. */
#ifndef SS_AUTH_APIKEY_H
#define SS_AUTH_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util/error.h"

#define SS_APIKEY_HASH_LEN 32
#define SS_APIKEY_TEXT_MAX 64   /* "ssk_" + 43 base64url characters + NUL fits */
#define SS_APIKEY_PREFIX_MAX 16 /* display prefix incl. NUL */
#define SS_APIKEY_INPUT_MAX 256 /* longer header values are refused without hashing */

/* Generate a new key: "ssk_" followed by 32 random bytes (libsodium) in unpadded base64url, into out.
 * Returns 0, or -1 with err when the random source is unusable. */
int ss_apikey_generate(char out[SS_APIKEY_TEXT_MAX], ss_error *err);

/* SHA-256 of the key text's len bytes into out. */
void ss_apikey_hash(const char *key, size_t len, unsigned char out[SS_APIKEY_HASH_LEN]);

/* Non-secret display prefix of a key: its first 12 characters ("ssk_" + 8), into out. */
void ss_apikey_prefix(const char *key, char out[SS_APIKEY_PREFIX_MAX]);

/* Constant-time comparison of two hashes. */
bool ss_apikey_hash_equal(const unsigned char a[SS_APIKEY_HASH_LEN], const unsigned char b[SS_APIKEY_HASH_LEN]);

#endif
