/* Store side of moving from the original server and of backups: imported keys (rules, hashing, prefix,
 * idempotence), insert-only cache rows, reading odd original databases (half-migrated columns, NULLs,
 * infinities, unreadable keys, oversize names), and the identity stamp that tells an overwritten file. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "core/auth/apikey.h"
#include "core/store/cache.h"
#include "core/store/sqlite/sqlite.h"
#include "core/store/sqlite/legacy.h"
#include "fcgi/present.h"
#include "core/util/jsonutil.h"
#include "core/util/utf8.h"
#include "tests/check_main.h"
#include "tests/store_fixture.h"

static char oldpath[300];

static void setup(void)
{
	store_fixture_setup("ss-legacy", "new.db");
	snprintf(oldpath, sizeof oldpath, "%s/old.db", dir);
}

static void teardown(void)
{
	store_fixture_teardown();
}

static void exec_old(const char *sql)
{
	sqlite3 *h = NULL;
	ck_assert_int_eq(sqlite3_open(oldpath, &h), SQLITE_OK);
	char *msg = NULL;
	ck_assert_msg(sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK, "%s", msg ? msg : "");
	sqlite3_close(h);
}

START_TEST(imported_key_rules)
{
	ss_error err;
	char k[300];
	memset(k, 'a', sizeof k);
	ck_assert_int_eq(ss_keys_import_check(k, 15, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_int_eq(ss_keys_import_check(k, 16, &err), 0);
	ck_assert_int_eq(ss_keys_import_check(k, 255, &err), 0);
	ck_assert_int_eq(ss_keys_import_check(k, 256, &err), -1);
	const char *bad[] = {"0123456789 abcdef", "0123456789\tabcdef", "0123456789\x7f" "abcdef", "0123456789\xc3\xa9" "abcdef",
			     "0123456789\nabcdef"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(ss_keys_import_check(bad[i], strlen(bad[i]), &err), -1);
		ck_assert_ptr_null(strstr(err.msg, "abcdef")); /* the message never quotes the key */
	}
	ck_assert_int_eq(ss_keys_import_check("ABC-_~!0123456789", 17, &err), 0);
}
END_TEST

START_TEST(imported_key_hashed_once)
{
	ss_store *db = open_db();
	ss_error err;
	const char *key = "Xq3v_9LzP0aB7cD2eF4gH6iJ8kL1mN3oP5qR7sT9uVw";
	ss_key_import k = {.name = "iPhone", .email = "me@example.com", .scope = SS_KEY_CLIENT, .active = false,
			   .daily_limit = 1000, .created_at = "2025-11-11 09:00:00"};
	int64_t id = 0, id2 = 0;
	ck_assert_int_eq(ss_store_key_import(db, key, strlen(key), &k, &id, &err), 1);
	ck_assert_int_eq(ss_store_key_import(db, key, strlen(key), &k, &id2, &err), 0);
	ck_assert_int_eq(id, id2);
	unsigned char h[SS_APIKEY_HASH_LEN];
	ss_apikey_hash(key, strlen(key), h);
	ss_key_record r;
	ck_assert_int_eq(ss_store_key_find_by_hash(db, h, &r, &err), 1);
	ck_assert_int_eq(r.id, id);
	ck_assert_str_eq(r.prefix, "Xq3v_9Lz"); /* 8 of 43 characters */
	ck_assert(!r.active);
	ck_assert_int_eq(r.daily_limit, 1000);
	ck_assert_str_eq(r.created_at, "2025-11-11 09:00:00");
	/* The plain key is nowhere in the file. */
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(ss_db_handle(SQ(db)), "SELECT count(*) FROM api_keys WHERE prefix = ?1 OR name = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	/* A short key shows a quarter of itself. */
	const char *shortkey = "abcdefghijklmnop";
	ck_assert_int_eq(ss_store_key_import(db, shortkey, 16, &k, &id, &err), 1);
	ck_assert_int_eq(ss_store_key_get(db, id, &r, &err), 1);
	ck_assert_str_eq(r.prefix, "abcd");
	ss_store_close(db);
}
END_TEST

START_TEST(cache_import_never_overwrites)
{
	ss_store *db = open_db();
	ss_error err;
	char key[SS_SHA256_HEX];
	ss_cache_key("default", "url", "https://x/a.m4a", "t", key);
	ss_cache_write a = {.cache_key = key, .ns = "default", .source_kind = "url", .source = "https://x/a.m4a",
				  .preview_url = "https://x/a.m4a", .title = "First", .artist = "A", .bpm = 120,
				  .bpm_confidence = NAN, .key = "C Major", .key_confidence = INFINITY, .energy = 0.5,
				  .danceability = 0.5, .acousticness = 0.5, .spectral_centroid = 1000, .valence = NAN,
				  .loudness = NAN, .dynamic_range = NAN, .silence_ratio = NAN, .analysis_duration = 1,
				  .result_json = "{\"bpm\":120}", .analyzed_at = "2025-01-02 03:04:05"};
	ck_assert_int_eq(ss_store_bulk_begin(db, &err), 0);
	ck_assert_int_eq(ss_store_cache_import(db, &a, &err), 1);
	a.title = "Second";
	ck_assert_int_eq(ss_store_cache_import(db, &a, &err), 0);
	ck_assert_int_eq(ss_store_bulk_commit(db, &err), 0);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(ss_db_handle(SQ(db)),
					    "SELECT title, analyzed_at, bpm_confidence IS NULL, key_confidence IS NULL"
					    " FROM analysis_cache",
					    -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "First");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "2025-01-02 03:04:05");
	ck_assert_int_eq(sqlite3_column_int(st, 2), 1);
	ck_assert_int_eq(sqlite3_column_int(st, 3), 1);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	ss_store_close(db);
}
END_TEST

static void no_skip_report(void *arg, const char *what, long long id, const char *why)
{
	int *n = arg;
	(void)what;
	(void)id;
	(void)why;
	(*n)++;
}

/* A database half-way through V4's ALTER loop (namespace added, JSON columns not yet), odd values. */
START_TEST(odd_original_rows)
{
	char name[400]; /* 150 two-byte characters: 127 bytes would end inside one */
	for (size_t i = 0; i < 150; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[300] = '\0';
	char sql[4096];
	snprintf(sql, sizeof sql,
		 "CREATE TABLE analysis_cache (id INTEGER PRIMARY KEY AUTOINCREMENT, preview_url_hash TEXT UNIQUE NOT NULL,"
		 " title TEXT NOT NULL, artist TEXT NOT NULL, preview_url TEXT NOT NULL, bpm REAL, bpm_confidence REAL,"
		 " key TEXT, key_confidence REAL, energy REAL, danceability REAL, acousticness REAL, spectral_centroid REAL,"
		 " analyzed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, analysis_duration REAL, user_verified INTEGER DEFAULT 0,"
		 " manual_bpm REAL, manual_key TEXT, bpm_notes TEXT);"
		 "ALTER TABLE analysis_cache ADD COLUMN cache_namespace TEXT DEFAULT 'default';"
		 "CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL, name TEXT NOT NULL,"
		 " email TEXT, active INTEGER DEFAULT 1, daily_limit INTEGER DEFAULT 1000, created_at TIMESTAMP DEFAULT"
		 " CURRENT_TIMESTAMP, last_used TIMESTAMP);"
		 "INSERT INTO api_keys (key, name, daily_limit) VALUES ('0123456789abcdefXYZ', '%s', -5),"
		 " ('0123456789abcdefXY2', '', NULL), ('0123456789abcdefXY3', CAST(X'4AE4676572' AS TEXT), 10);"
		 "INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url, cache_namespace, bpm, key,"
		 " energy, analyzed_at) VALUES"
		 " ('a', 'Nulls', 'X', 'https://x/1.m4a', NULL, NULL, NULL, 1e999, 'not a time'),"
		 " ('b', 'Odd key', CAST(X'4AE4676572' AS TEXT), 'https://x/2.m4a', '', 100, 'H minor', 0.5,"
		 " '2025-01-01 00:00:00'),"
		 " ('d', CAST(X'436166E9' AS TEXT), 'X', 'https://x/4.m4a', 'default', 100, CAST(X'48E4' AS TEXT), 0.5,"
		 " NULL);"
		 "UPDATE analysis_cache SET user_verified = 1, bpm_notes = CAST(X'E0207069616E6F' AS TEXT) WHERE preview_url_hash = 'd';"
		 "INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url, cache_namespace) VALUES"
		 " ('c', 'Empty', 'X', '::chunk=skip', 'default');",
		 name);
	exec_old(sql);
	ss_legacy *l = NULL;
	ss_error err;
	ck_assert_msg(ss_legacy_open(oldpath, &l, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(ss_legacy_schema(l), SS_LEGACY_V4);
	ss_store *db = open_db();
	int skipped = 0;
	ss_legacy_opts o = {.opts_tag = "t", .batch_rows = 1, .skipped = no_skip_report, .arg = &skipped};
	ss_legacy_counts c;
	ck_assert_msg(ss_legacy_import(l, db, &o, &c, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(c.cache_new, 3);
	ck_assert_int_eq(c.cache_skipped, 1);
	ck_assert_int_eq(c.keys_new, 3);
	ck_assert_int_eq(skipped, 1);
	ck_assert(!c.has_stats);
	ss_legacy_close(l);

	/* Rendered as the API serves them: required numbers 0 when unknown, no non-finite number, unreadable key
	 * text kept, "Unknown" when none; text that is not UTF-8 in the original read as ISO-8859-1. */
	ss_buf b;
	ss_buf_init(&b, 0);
	ck_assert_int_eq(ss_present_cache_list(db, "default", 10, 0, &b, &err), 3);
	ck_assert_msg(ss_utf8_valid(b.data), "%s", b.data);
	json_object *arr = ss_json_parse(b.data, b.len, 16);
	ck_assert_ptr_nonnull(arr);
	for (size_t i = 0; i < 3; i++) {
		json_object *r = json_object_array_get_idx(arr, i), *v;
		const char *title = json_object_get_string(json_object_object_get(r, "title"));
		ck_assert(json_object_object_get_ex(r, "bpm", &v) && v != NULL);
		ck_assert(json_object_object_get_ex(r, "legacy_import", &v) && json_object_get_boolean(v));
		if (strcmp(title, "Nulls") == 0) {
			ck_assert(json_object_get_double(json_object_object_get(r, "bpm")) == 0.0);
			ck_assert(json_object_get_double(json_object_object_get(r, "energy")) == 0.0);
			ck_assert_str_eq(json_object_get_string(json_object_object_get(r, "key")), "Unknown");
			ck_assert_int_eq(strlen(json_object_get_string(json_object_object_get(r, "analyzed_at"))), 19);
		} else if (strcmp(title, "Odd key") == 0) {
			ck_assert_str_eq(json_object_get_string(json_object_object_get(r, "key")), "H minor");
			ck_assert_str_eq(json_object_get_string(json_object_object_get(r, "artist")), "J\xc3\xa4ger");
		} else {
			ck_assert_str_eq(title, "Caf\xc3\xa9");
			ck_assert_str_eq(json_object_get_string(json_object_object_get(r, "key")), "H\xc3\xa4");
			ck_assert(json_object_get_boolean(json_object_object_get(r, "user_verified")));
			ck_assert_str_eq(json_object_get_string(json_object_object_get(r, "bpm_notes")), "\xc3\xa0 piano");
		}
	}
	json_object_put(arr);
	ss_buf_free(&b);

	ss_key_record r;
	ck_assert_int_eq(ss_store_key_get(db, 1, &r, &err), 1);
	ck_assert_int_eq(strlen(r.name), SS_KEY_NAME_MAX - 2); /* cut at a character boundary */
	ck_assert(ss_utf8_valid(r.name));
	ck_assert_int_eq(r.daily_limit, 0);
	ck_assert_int_eq(ss_store_key_get(db, 2, &r, &err), 1);
	ck_assert_str_eq(r.name, "original key 2");
	ck_assert_int_eq(r.daily_limit, 1000);
	ck_assert_int_eq(ss_store_key_get(db, 3, &r, &err), 1);
	ck_assert_str_eq(r.name, "J\xc3\xa4ger"); /* not UTF-8 in the original: read as ISO-8859-1 */
	ss_store_close(db);
}
END_TEST

static long long stats_hits(ss_store *db)
{
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(ss_db_handle(SQ(db)), "SELECT cache_hits FROM server_stats", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	long long n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static ss_legacy_counts import_old(ss_store *db)
{
	ss_legacy *l = NULL;
	ss_error err;
	ck_assert_msg(ss_legacy_open(oldpath, &l, &err) == 0, "%s", err.msg);
	ss_legacy_opts o = {.opts_tag = "t"};
	ss_legacy_counts c;
	ck_assert_msg(ss_legacy_import(l, db, &o, &c, &err) == 0, "%s", err.msg);
	ss_legacy_close(l);
	return c;
}

/* The old server may keep running between a trial import and the final one: only what it counted since is
 * added; the same file adds nothing; a reset counter adds nothing. */
START_TEST(stats_added_once_per_original)
{
	exec_old("CREATE TABLE analysis_cache (id INTEGER PRIMARY KEY AUTOINCREMENT, preview_url_hash TEXT UNIQUE NOT"
		 " NULL, title TEXT NOT NULL, artist TEXT NOT NULL, preview_url TEXT NOT NULL, bpm REAL, bpm_confidence"
		 " REAL, key TEXT, key_confidence REAL, energy REAL, danceability REAL, acousticness REAL,"
		 " spectral_centroid REAL, analyzed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, analysis_duration REAL,"
		 " user_verified INTEGER DEFAULT 0, manual_bpm REAL, manual_key TEXT, bpm_notes TEXT);"
		 "CREATE TABLE server_stats (id INTEGER PRIMARY KEY AUTOINCREMENT, total_analyses INTEGER DEFAULT 0,"
		 " cache_hits INTEGER DEFAULT 0, cache_misses INTEGER DEFAULT 0, last_updated TIMESTAMP DEFAULT"
		 " CURRENT_TIMESTAMP);"
		 "INSERT INTO server_stats (total_analyses, cache_hits, cache_misses) VALUES (10, 20, 10);"
		 "INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url) VALUES ('h', 'T', 'A', 'u://1');");
	ss_store *db = open_db();
	long long base = stats_hits(db);
	ss_legacy_counts c = import_old(db);
	ck_assert(c.stats_new);
	ck_assert_int_eq(c.stats_hits, 20);
	ck_assert_int_eq(stats_hits(db), base + 20);
	c = import_old(db);
	ck_assert(!c.stats_new);
	ck_assert_int_eq(stats_hits(db), base + 20);
	exec_old("UPDATE server_stats SET cache_hits = 25, last_updated = '2030-01-01 00:00:00';");
	c = import_old(db);
	ck_assert(c.stats_new);
	ck_assert_int_eq(c.stats_hits, 5);
	ck_assert_int_eq(stats_hits(db), base + 25);
	exec_old("UPDATE server_stats SET cache_hits = 3;"); /* V1-V3's /cache/clear reset it */
	c = import_old(db);
	ck_assert_int_eq(c.stats_hits, 0);
	ck_assert_int_eq(stats_hits(db), base + 25);
	exec_old("UPDATE server_stats SET cache_hits = 7;");
	c = import_old(db);
	ck_assert_int_eq(c.stats_hits, 4);
	ck_assert_int_eq(stats_hits(db), base + 29);
	ss_store_close(db);
}
END_TEST

/* The identity stamp: the same file after checkpoints is not "overwritten"; another stamp on a valid header
 * is; a damaged header is left to the fault handling. */
START_TEST(overwritten_file_is_told_by_its_stamp)
{
	ss_store *db = open_db();
	ss_error err;
	ck_assert_int_eq(ss_db_exec(SQ(db), "CREATE TABLE t(x); INSERT INTO t VALUES (1);", &err), 0);
	ck_assert(!ss_db_overwritten(SQ(db)));
	ck_assert_int_eq(ss_db_checkpoint(SQ(db), 0), 0);
	ck_assert(!ss_db_overwritten(SQ(db)));
	ss_store *db2 = open_db(); /* a second open keeps the stamp */
	ck_assert(!ss_db_overwritten(SQ(db2)));
	ss_store_close(db2);

	int fd = open(dbpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	unsigned char saved[4], other[4] = {0x12, 0x34, 0x56, 0x78}, magic[16], junk[16];
	ck_assert_int_eq(pread(fd, saved, 4, 68), 4);
	ck_assert(memcmp(saved, "\0\0\0\0", 4) != 0);
	/* A damaged header: not this check's business. */
	ck_assert_int_eq(pread(fd, magic, 16, 0), 16);
	memset(junk, 'x', sizeof junk);
	ck_assert_int_eq(pwrite(fd, junk, 16, 0), 16);
	ck_assert_int_eq(pwrite(fd, other, 4, 68), 4);
	ck_assert(!ss_db_overwritten(SQ(db)));
	ck_assert_int_eq(pwrite(fd, magic, 16, 0), 16);
	ck_assert_int_eq(pwrite(fd, saved, 4, 68), 4);
	ck_assert(!ss_db_overwritten(SQ(db)));
	/* Another database's stamp under a valid header: overwritten, and it stays so. */
	ck_assert_int_eq(pwrite(fd, other, 4, 68), 4);
	ck_assert(ss_db_overwritten(SQ(db)));
	ck_assert_int_eq(pwrite(fd, saved, 4, 68), 4);
	ck_assert(ss_db_overwritten(SQ(db)));
	close(fd);
	ss_store_close(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("import");
	TCase *t = tcase_create("import");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, imported_key_rules);
	tcase_add_test(t, imported_key_hashed_once);
	tcase_add_test(t, cache_import_never_overwrites);
	tcase_add_test(t, odd_original_rows);
	tcase_add_test(t, stats_added_once_per_original);
	tcase_add_test(t, overwritten_file_is_told_by_its_stamp);
	suite_add_tcase(s, t);
	return ss_check_run(s);
}
