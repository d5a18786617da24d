#include "core/auth/apikey.h"

#include <string.h>

#include <sodium.h>

#define KEY_TAG "ssk_"
#define KEY_RANDOM_BYTES 32
#define PREFIX_CHARS 12

int ss_apikey_generate(char out[SS_APIKEY_TEXT_MAX], ss_error *err)
{
	unsigned char raw[KEY_RANDOM_BYTES];
	if (sodium_init() < 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "libsodium cannot be initialised.");
	randombytes_buf(raw, sizeof raw);
	memcpy(out, KEY_TAG, sizeof KEY_TAG - 1);
	sodium_bin2base64(out + sizeof KEY_TAG - 1, SS_APIKEY_TEXT_MAX - (sizeof KEY_TAG - 1), raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	return 0;
}

void ss_apikey_hash(const char *key, size_t len, unsigned char out[SS_APIKEY_HASH_LEN])
{
	crypto_hash_sha256(out, (const unsigned char *)key, len);
}

void ss_apikey_prefix(const char *key, char out[SS_APIKEY_PREFIX_MAX])
{
	size_t n = strnlen(key, PREFIX_CHARS);
	memcpy(out, key, n);
	out[n] = '\0';
}

bool ss_apikey_hash_equal(const unsigned char a[SS_APIKEY_HASH_LEN], const unsigned char b[SS_APIKEY_HASH_LEN])
{
	return sodium_memcmp(a, b, SS_APIKEY_HASH_LEN) == 0;
}
