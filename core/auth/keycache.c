#include "core/auth/keycache.h"

#include <stdlib.h>
#include <string.h>

#define WAYS 4

typedef struct entry {
	bool used;
	double expires;
	unsigned char hash[SS_APIKEY_HASH_LEN];
	ss_keyinfo info;
} entry;

struct ss_keycache {
	entry *e;
	size_t sets;
	size_t count;
	double ttl;
	uint64_t gen;
	bool gen_known;
};

int ss_keycache_new(size_t capacity, double ttl_s, ss_keycache **out, ss_error *err)
{
	*out = NULL;
	if (capacity < 1)
		capacity = 1;
	ss_keycache *c = calloc(1, sizeof *c);
	if (c == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory for the key cache.");
	c->sets = (capacity + WAYS - 1) / WAYS;
	c->e = calloc(c->sets * WAYS, sizeof *c->e);
	if (c->e == NULL) {
		free(c);
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory for the key cache.");
	}
	c->ttl = ttl_s;
	*out = c;
	return 0;
}

void ss_keycache_free(ss_keycache *c)
{
	if (c == NULL)
		return;
	free(c->e);
	free(c);
}

void ss_keycache_clear(ss_keycache *c)
{
	memset(c->e, 0, c->sets * WAYS * sizeof *c->e);
	c->count = 0;
}

static entry *set_of(ss_keycache *c, const unsigned char *hash)
{
	uint64_t h;
	memcpy(&h, hash, sizeof h); /* the hash is SHA-256: its bytes are already uniform */
	return &c->e[(h % c->sets) * WAYS];
}

static void sync_gen(ss_keycache *c, uint64_t gen)
{
	if (!c->gen_known || c->gen != gen) {
		ss_keycache_clear(c);
		c->gen = gen;
		c->gen_known = true;
	}
}

bool ss_keycache_get(ss_keycache *c, const unsigned char hash[SS_APIKEY_HASH_LEN], uint64_t gen, double now_s,
		     ss_keyinfo *out)
{
	sync_gen(c, gen);
	entry *s = set_of(c, hash);
	for (int i = 0; i < WAYS; i++) {
		if (s[i].used && ss_apikey_hash_equal(s[i].hash, hash)) {
			if (now_s >= s[i].expires) {
				s[i].used = false;
				c->count--;
				return false;
			}
			*out = s[i].info;
			return true;
		}
	}
	return false;
}

void ss_keycache_put(ss_keycache *c, const unsigned char hash[SS_APIKEY_HASH_LEN], uint64_t gen, double now_s,
		     const ss_keyinfo *info)
{
	if (c->ttl <= 0)
		return;
	if (c->gen_known && c->gen != gen)
		return; /* read under an older generation: may be stale */
	sync_gen(c, gen);
	entry *s = set_of(c, hash), *victim = NULL;
	for (int i = 0; i < WAYS; i++) {
		if (s[i].used && ss_apikey_hash_equal(s[i].hash, hash)) {
			victim = &s[i];
			break;
		}
	}
	if (victim == NULL) {
		for (int i = 0; i < WAYS; i++) {
			if (!s[i].used) {
				victim = &s[i];
				break;
			}
			if (victim == NULL || s[i].expires < victim->expires)
				victim = &s[i];
		}
		if (!victim->used)
			c->count++;
	}
	victim->used = true;
	victim->expires = now_s + c->ttl;
	memcpy(victim->hash, hash, SS_APIKEY_HASH_LEN);
	victim->info = *info;
}

size_t ss_keycache_count(const ss_keycache *c)
{
	return c->count;
}

size_t ss_keycache_capacity(const ss_keycache *c)
{
	return c->sets * WAYS;
}
