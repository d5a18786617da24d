/* API keys: generation and hashing, the api_keys/api_usage store (no plain key on disk), and the key
 * cache's bound, TTL and generation invalidation. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/auth/apikey.h"
#include "core/auth/keycache.h"
#include "core/store/sqlite/sqlite.h"
#include "core/store/usage.h"
#include "tests/check_main.h"
#include "tests/store_fixture.h"

static void setup(void)
{
	store_fixture_setup("ss-keys", "db.sqlite");
}

static void teardown(void)
{
	store_fixture_teardown();
}

/* True when needle occurs anywhere in the file (database, WAL). */
static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return memmem(buf, n, needle, strlen(needle)) != NULL;
}

START_TEST(keys_are_random_256_bit_and_hashed)
{
	char a[SS_APIKEY_TEXT_MAX], b[SS_APIKEY_TEXT_MAX];
	ss_error err;
	ck_assert_int_eq(ss_apikey_generate(a, &err), 0);
	ck_assert_int_eq(ss_apikey_generate(b, &err), 0);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strlen(a), 4 + 43); /* "ssk_" + 256 bits in unpadded base64url */
	ck_assert(strncmp(a, "ssk_", 4) == 0);
	char p[SS_APIKEY_PREFIX_MAX];
	ss_apikey_prefix(a, p);
	ck_assert_uint_eq(strlen(p), 12);
	ck_assert(strncmp(a, p, 12) == 0);
	unsigned char h1[32], h2[32], h3[32];
	ss_apikey_hash(a, strlen(a), h1);
	ss_apikey_hash(a, strlen(a), h2);
	ss_apikey_hash(b, strlen(b), h3);
	ck_assert(ss_apikey_hash_equal(h1, h2));
	ck_assert(!ss_apikey_hash_equal(h1, h3));
	/* SHA-256("abc") */
	static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
					      0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
					      0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	ss_apikey_hash("abc", 3, h1);
	ck_assert(ss_apikey_hash_equal(h1, abc));
}
END_TEST

START_TEST(store_create_lookup_change_rotate_delete)
{
	ss_store *db = open_db();
	ss_key_record r, g;
	char key[SS_APIKEY_TEXT_MAX];
	ss_error err;
	ck_assert_int_eq(ss_store_key_create(db, "alice", "a@example.org", SS_KEY_CLIENT, 50, 30, &r, key, &err), 0);
	ck_assert_int_gt(r.id, 0);
	ck_assert_str_eq(r.name, "alice");
	ck_assert_str_eq(r.email, "a@example.org");
	ck_assert(r.active);
	ck_assert_int_eq(r.daily_limit, 50);
	ck_assert_int_eq(r.rate_limit, 30);
	ck_assert(strncmp(r.prefix, key, 12) == 0);
	ck_assert_str_eq(r.last_used, "");

	unsigned char h[32];
	ss_apikey_hash(key, strlen(key), h);
	ck_assert_int_eq(ss_store_key_find_by_hash(db, h, &g, &err), 1);
	ck_assert_int_eq(g.id, r.id);
	h[0] ^= 1;
	ck_assert_int_eq(ss_store_key_find_by_hash(db, h, &g, &err), 0);

	ck_assert_int_eq(ss_store_key_set_active(db, r.id, false, &err), 1);
	ck_assert_int_eq(ss_store_key_set_daily_limit(db, r.id, 7, &err), 1);
	ck_assert_int_eq(ss_store_key_set_rate_limit(db, r.id, 0, &err), 1);
	ck_assert_int_eq(ss_store_key_set_scope(db, r.id, SS_KEY_ADMIN, &err), 1);
	ck_assert_int_eq(ss_store_key_get(db, r.id, &g, &err), 1);
	ck_assert(!g.active);
	ck_assert_int_eq(g.daily_limit, 7);
	ck_assert_int_eq(g.rate_limit, 0);
	ck_assert_int_eq(g.scope, SS_KEY_ADMIN);
	ck_assert_int_eq(ss_store_key_set_active(db, 999, true, &err), 0);
	ck_assert_int_eq(ss_store_key_set_daily_limit(db, r.id, -1, &err), -1);
	ck_assert_int_eq(ss_store_key_create(db, "", NULL, SS_KEY_CLIENT, 0, 0, &g, key, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	/* names and emails are UTF-8 text (a name typed in an ISO-8859-1 terminal is refused, not stored as bytes
	 * that PostgreSQL refuses and JSON cannot carry) */
	ck_assert_int_eq(ss_store_key_create(db, "J\xe4ger", NULL, SS_KEY_CLIENT, 0, 0, &g, key, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_int_eq(ss_store_key_create(db, "bob", "b\xf6" "b@example.org", SS_KEY_CLIENT, 0, 0, &g, key, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_int_eq(ss_store_key_create(db, "J\xc3\xa4ger", NULL, SS_KEY_CLIENT, 0, 0, &g, key, &err), 0);
	ck_assert_str_eq(g.name, "J\xc3\xa4ger");
	ck_assert_int_eq(ss_store_key_delete(db, g.id, &err), 1);
	/* ... printable text: no control character a terminal would act on when an operator lists the keys (an
	 * escape sequence, a newline that forges a row; C1's CSI too) */
	static const char *const controls[] = {"a\tb", "evil\x1b[2J", "two\nlines", "del\x7f", "csi\xc2\x9b" "2J"};
	for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
		ck_assert_int_eq(ss_store_key_create(db, controls[i], NULL, SS_KEY_CLIENT, 0, 0, &g, key, &err), -1);
		ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
		ck_assert_int_eq(ss_store_key_create(db, "bob", controls[i], SS_KEY_CLIENT, 0, 0, &g, key, &err), -1);
		ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	}
	/* an imported key (another installation's, the original server's) is not refused for it: they become
	 * spaces */
	unsigned char ih[SS_APIKEY_HASH_LEN] = {7};
	ss_key_import imp = {.name = "old\x1b[31mkey\nx", .email = "m\te@x.org", .scope = SS_KEY_CLIENT,
			     .active = true};
	int64_t iid = 0;
	ck_assert_msg(ss_store_key_import_hashed(db, ih, "ssk_imported", &imp, &iid, &err) == 1, "%s", err.msg);
	ck_assert_int_eq(ss_store_key_get(db, iid, &g, &err), 1);
	ck_assert_str_eq(g.name, "old [31mkey x");
	ck_assert_str_eq(g.email, "m e@x.org");
	ck_assert_int_eq(ss_store_key_delete(db, g.id, &err), 1);

	char key2[SS_APIKEY_TEXT_MAX];
	ck_assert_int_eq(ss_store_key_rotate(db, r.id, key2, &err), 1);
	ss_apikey_hash(key, strlen(key), h);
	ck_assert_int_eq(ss_store_key_find_by_hash(db, h, &g, &err), 0); /* the old secret stops working */
	ss_apikey_hash(key2, strlen(key2), h);
	ck_assert_int_eq(ss_store_key_find_by_hash(db, h, &g, &err), 1);
	ck_assert_int_eq(g.id, r.id);
	ck_assert_int_eq(g.daily_limit, 7);

	ck_assert_int_eq(ss_store_key_delete(db, r.id, &err), 1);
	ck_assert_int_eq(ss_store_key_delete(db, r.id, &err), 0);
	ck_assert_int_eq(ss_store_key_get(db, r.id, &g, &err), 0);
	ss_store_close(db);
}
END_TEST

START_TEST(plain_key_never_reaches_the_database_file)
{
	ss_store *db = open_db();
	ss_key_record r;
	char key[SS_APIKEY_TEXT_MAX];
	ss_error err;
	ck_assert_int_eq(ss_store_key_create(db, "bob", NULL, SS_KEY_ADMIN, 0, 0, &r, key, &err), 0);
	ss_store_close(db);
	char wal[sizeof dbpath + 8];
	snprintf(wal, sizeof wal, "%s-wal", dbpath);
	ck_assert(file_contains(dbpath, "bob") || file_contains(wal, "bob")); /* the record is there... */
	ck_assert(!file_contains(dbpath, key + 4)); /* ...the secret is not */
	ck_assert(!file_contains(wal, key + 4));
}
END_TEST

static int count_cb(void *arg, int64_t key_id, int64_t count)
{
	int64_t *out = arg;
	out[key_id] = count;
	return 0;
}

static int recent_cb(void *arg, const char *endpoint, int status, const char *ts)
{
	(void)ts;
	int *n = arg;
	ck_assert_str_eq(endpoint, *n == 0 ? "analyze" : "health");
	ck_assert_int_eq(status, *n == 0 ? 429 : 200);
	(*n)++;
	return 0;
}

START_TEST(usage_batches_counts_and_last_used)
{
	ss_store *db = open_db();
	ss_key_record a, b;
	char key[SS_APIKEY_TEXT_MAX];
	ss_error err;
	ck_assert_int_eq(ss_store_key_create(db, "a", NULL, SS_KEY_CLIENT, 0, 0, &a, key, &err), 0);
	ck_assert_int_eq(ss_store_key_create(db, "b", NULL, SS_KEY_CLIENT, 0, 0, &b, key, &err), 0);
	static ss_usage_batch batch;
	ss_usage_batch_init(&batch);
	int64_t now = (int64_t)time(NULL), day = now / 86400;
	ck_assert(!ss_usage_batch_due(&batch, 100.0, 1.0));
	ss_usage_batch_add(&batch, a.id, "health", 200, now - 86400, 100.0); /* yesterday */
	ss_usage_batch_add(&batch, a.id, "health", 200, now, 100.0);
	ss_usage_batch_add(&batch, a.id, "analyze", 429, now, 100.0); /* refused by the limiter: not counted */
	ss_usage_batch_add(&batch, b.id, "health", 500, now, 100.2);
	ss_usage_batch_add(&batch, 999, "health", 200, now, 100.3); /* deleted key: skipped */
	ck_assert(!ss_usage_batch_due(&batch, 100.5, 1.0));
	ck_assert(ss_usage_batch_due(&batch, 101.0, 1.0));
	ck_assert_int_eq(ss_usage_flush(db, &batch, &err), 0);
	ck_assert_uint_eq(batch.n, 0);

	int64_t counts[1000] = {0};
	ck_assert_int_eq(ss_store_usage_day_counts(db, day, count_cb, counts, &err), 0);
	ck_assert_int_eq(counts[a.id], 1);
	ck_assert_int_eq(counts[b.id], 1);
	ck_assert_int_eq(counts[999], 0);

	ss_usage_stats s;
	ck_assert_int_eq(ss_store_usage_key_stats(db, a.id, day, &s, &err), 0);
	ck_assert_int_eq(s.total, 3);
	ck_assert_int_eq(s.successful, 2);
	ck_assert_int_eq(s.requests_today, 2);
	int n = 0;
	ck_assert_int_eq(ss_store_usage_recent(db, a.id, 2, recent_cb, &n, &err), 0);
	ck_assert_int_eq(n, 2);

	ss_key_record g;
	ck_assert_int_eq(ss_store_key_get(db, a.id, &g, &err), 1);
	ck_assert_uint_eq(strlen(g.last_used), 19);

	/* A full batch asks to be flushed and then drops (and counts) what does not fit. */
	for (int i = 0; i < SS_USAGE_BATCH_MAX - 1; i++)
		ck_assert(!ss_usage_batch_add(&batch, a.id, "x", 200, now, 1.0));
	ck_assert(ss_usage_batch_add(&batch, a.id, "x", 200, now, 1.0));
	ck_assert(ss_usage_batch_add(&batch, a.id, "x", 200, now, 1.0));
	ck_assert_uint_eq(batch.dropped, 1);
	ck_assert_uint_eq(batch.n, SS_USAGE_BATCH_MAX);
	ss_store_close(db);
}
END_TEST

static void fake_hash(unsigned char h[32], unsigned i)
{
	char s[32];
	snprintf(s, sizeof s, "key-%u", i);
	ss_apikey_hash(s, strlen(s), h);
}

START_TEST(cache_positive_negative_and_ttl)
{
	ss_keycache *c = NULL;
	ss_error err;
	ck_assert_int_eq(ss_keycache_new(64, 300, &c, &err), 0);
	unsigned char h[32];
	fake_hash(h, 1);
	ss_keyinfo in = {.valid = true, .key_id = 5, .scope = SS_KEY_ADMIN, .daily_limit = 9, .rate_limit = 3}, out;
	snprintf(in.prefix, sizeof in.prefix, "ssk_abcdefgh");
	ck_assert(!ss_keycache_get(c, h, 0, 10.0, &out));
	ss_keycache_put(c, h, 0, 10.0, &in);
	ck_assert(ss_keycache_get(c, h, 0, 11.0, &out));
	ck_assert(out.valid);
	ck_assert_int_eq(out.key_id, 5);
	ck_assert_str_eq(out.prefix, "ssk_abcdefgh");
	ck_assert(!ss_keycache_get(c, h, 0, 310.0, &out)); /* expired after the TTL */
	ck_assert_uint_eq(ss_keycache_count(c), 0);

	ss_keyinfo neg = {.valid = false};
	fake_hash(h, 2);
	ss_keycache_put(c, h, 0, 10.0, &neg);
	ck_assert(ss_keycache_get(c, h, 0, 11.0, &out));
	ck_assert(!out.valid);
	ss_keycache_free(c);
	ss_keycache_free(NULL);

	/* ttl 0: nothing is cached. */
	ck_assert_int_eq(ss_keycache_new(8, 0, &c, &err), 0);
	ss_keycache_put(c, h, 0, 10.0, &neg);
	ck_assert(!ss_keycache_get(c, h, 0, 10.0, &out));
	ss_keycache_free(c);
}
END_TEST

START_TEST(cache_generation_change_invalidates_everything)
{
	ss_keycache *c = NULL;
	ss_error err;
	ck_assert_int_eq(ss_keycache_new(128, 300, &c, &err), 0);
	unsigned char h[32];
	ss_keyinfo in = {.valid = true, .key_id = 1}, out;
	for (unsigned i = 0; i < 20; i++) {
		fake_hash(h, i);
		ss_keycache_put(c, h, 7, 1.0, &in);
	}
	ck_assert_uint_gt(ss_keycache_count(c), 0);
	fake_hash(h, 3);
	ck_assert(ss_keycache_get(c, h, 7, 2.0, &out));
	/* songscope-admin bumped the generation (e.g. a key was deactivated): the very next lookup misses. */
	ck_assert(!ss_keycache_get(c, h, 8, 2.0, &out));
	ck_assert_uint_eq(ss_keycache_count(c), 0);
	/* An answer read under the old generation is not stored. */
	ss_keycache_put(c, h, 7, 2.0, &in);
	ck_assert(!ss_keycache_get(c, h, 8, 2.0, &out));
	ss_keycache_put(c, h, 8, 2.0, &in);
	ck_assert(ss_keycache_get(c, h, 8, 2.0, &out));
	ss_keycache_free(c);
}
END_TEST

START_TEST(cache_is_bounded_under_random_invalid_keys)
{
	ss_keycache *c = NULL;
	ss_error err;
	ck_assert_int_eq(ss_keycache_new(100, 300, &c, &err), 0);
	size_t cap = ss_keycache_capacity(c);
	ck_assert_uint_ge(cap, 100);
	ck_assert_uint_le(cap, 103);
	unsigned char h[32];
	ss_keyinfo neg = {.valid = false}, pos = {.valid = true, .key_id = 1}, out;
	unsigned char good[32];
	fake_hash(good, 999999);
	ss_keycache_put(c, good, 0, 0.0, &pos);
	for (unsigned i = 0; i < 100000; i++) {
		fake_hash(h, i);
		ss_keycache_put(c, h, 0, 1.0 + i * 1e-6, &neg);
		ck_assert_uint_le(ss_keycache_count(c), cap);
	}
	ck_assert_uint_eq(ss_keycache_count(c), cap);
	/* An evicted valid key is simply looked up again (a miss, never a wrong answer). */
	if (ss_keycache_get(c, good, 0, 2.0, &out))
		ck_assert(out.valid);
	ss_keycache_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, keys_are_random_256_bit_and_hashed);
	tcase_add_test(tc, store_create_lookup_change_rotate_delete);
	tcase_add_test(tc, plain_key_never_reaches_the_database_file);
	tcase_add_test(tc, usage_batches_counts_and_last_used);
	tcase_add_test(tc, cache_positive_negative_and_ttl);
	tcase_add_test(tc, cache_generation_change_invalidates_everything);
	tcase_add_test(tc, cache_is_bounded_under_random_invalid_keys);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
