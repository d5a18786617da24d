/* Per-responder cache of API key lookups: positive and negative answers, bounded, with a TTL, and dropped
 * at once when the shared key-change generation moves. Not shared between processes; not thread-safe. */
#ifndef SS_AUTH_KEYCACHE_H
#define SS_AUTH_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/auth/apikey.h"
#include "core/util/error.h"

typedef struct ss_keycache ss_keycache;

/* What a lookup needs to authorise a request. valid = false caches "unknown or inactive". */
typedef struct ss_keyinfo {
	bool valid;
	int64_t key_id;
	int scope;             /* ss_key_scope (core/store/store.h) */
	int64_t daily_limit;   /* 0 = unlimited */
	int rate_limit;        /* per minute; 0 = server default */
	char prefix[SS_APIKEY_PREFIX_MAX];
} ss_keyinfo;

/* A cache of at most `capacity` entries (>= 1; rounded up to a multiple of its 4-way sets) whose entries
 * live `ttl_s` seconds (0 = never cache). Returns 0 and *out (free with ss_keycache_free) or -1 (ENOMEM). */
int ss_keycache_new(size_t capacity, double ttl_s, ss_keycache **out, ss_error *err);

/* Free the cache. NULL is a no-op. */
void ss_keycache_free(ss_keycache *c);

/* Look up a key hash at monotonic time now_s, given the current shared generation `gen` (a different
 * generation than the cache's empties the cache first). Returns true and fills *out on a live hit
 * (positive or negative), false on a miss. */
bool ss_keycache_get(ss_keycache *c, const unsigned char hash[SS_APIKEY_HASH_LEN], uint64_t gen, double now_s,
		     ss_keyinfo *out);

/* Store the answer for hash that was read from the database after generation `gen` was read. Evicts the
 * entry closest to expiry in its set when the set is full. Ignored when gen is not the cache's current one. */
void ss_keycache_put(ss_keycache *c, const unsigned char hash[SS_APIKEY_HASH_LEN], uint64_t gen, double now_s,
		     const ss_keyinfo *info);

/* Drop every entry. */
void ss_keycache_clear(ss_keycache *c);

/* Live-or-expired entries currently held, and the fixed number of entries the cache can hold. */
size_t ss_keycache_count(const ss_keycache *c);
size_t ss_keycache_capacity(const ss_keycache *c);

#endif
