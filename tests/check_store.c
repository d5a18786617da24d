/* Store: migrations, cache keys, upserts keeping ids and overrides, search escaping, listing, export, counters,
 * error codes of SQLite failures, restoring a deleted file, and the usage journals' exactly-once import. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "core/analysis/result.h"
#include "core/auth/apikey.h"
#include "core/config/config.h"
#include "core/store/cache.h"
#include "core/store/sqlite/schema.h"
#include "core/store/sqlite/sqlite.h"
#include "core/store/stats.h"
#include "core/util/base62.h"
#include "core/store/usage.h"
#include "core/store/usage_journal.h"
#include "core/util/jsonutil.h"
#include "core/util/render.h"
#include "fcgi/present.h"
#include "core/util/utf8.h"
#include "tests/check_main.h"
#include "tests/store_fixture.h"

static void setup(void)
{
	store_fixture_setup("ss-store", "t.db");
}

static void teardown(void)
{
	store_fixture_teardown();
}

static void fake_result(ss_result *r, double bpm)
{
	ss_result_init(r);
	r->bpm = bpm;
	r->bpm_confidence = 0.8;
	r->key_index = 1;
	r->mode = 0;
	r->key_confidence = 0.3;
	r->energy = 0.5;
	r->danceability = 0.6;
	r->acousticness = NAN;
	r->spectral_centroid = 1500;
	r->mood = "happy";
	r->analysis_duration = 0.05;
}

static long long put(ss_store *db, const char *ns, const char *kind, const char *source, const char *title,
		     const char *artist, double bpm)
{
	ss_result r;
	fake_result(&r, bpm);
	char key[SS_SHA256_HEX];
	ss_cache_key(ns, kind, source, "v1;max=30", key);
	char rj[128];
	snprintf(rj, sizeof rj, "{\"bpm\":%g,\"key\":\"C# Minor\",\"acousticness\":null,\"analysis_duration\":0.05}", bpm);
	ss_cache_put_args a = {.cache_key = key, .ns = ns, .source_kind = strcmp(kind, "url") ? "upload" : "url",
			       .source = source, .preview_url = source, .title = title, .artist = artist,
			       .result = &r, .result_json = rj, .beats_json = "[0.5,1.0]"};
	int64_t id = -1;
	ss_error err;
	ck_assert_msg(ss_store_cache_put(db, &a, &id, &err) == 0, "%s", err.msg);
	ck_assert_int_gt(id, 0);
	return id;
}

static json_object *render(ss_store *db, const char *ns, const char *kind, const char *source, bool beats)
{
	char key[SS_SHA256_HEX];
	ss_cache_key(ns, kind, source, "v1;max=30", key);
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	int rc = ss_present_cache_get(db, key, true, beats ? SS_SERIES_BEATS : SS_SERIES_NONE, &b, &err);
	ck_assert_int_ge(rc, 0);
	if (rc == 0) {
		ss_buf_free(&b);
		return NULL;
	}
	json_object *o = ss_json_parse(b.data, b.len, 16);
	ck_assert_msg(o != NULL, "invalid JSON: %s", b.data);
	ss_buf_free(&b);
	return o;
}

START_TEST(migrate_empty)
{
	ss_store *db = open_db();
	ck_assert_int_eq(ss_store_schema_version(db), ss_schema_latest());
	ck_assert_int_ge(ss_schema_latest(), 2);
	ss_error err;
	ck_assert_int_eq(ss_store_cache_count(db, NULL, &err), 0);
	ss_store_close(db);
	/* Reopening an up-to-date file changes nothing. */
	db = open_db();
	ck_assert_int_eq(ss_store_schema_version(db), ss_schema_latest());
	ss_store_close(db);
}
END_TEST

/* A database file at dbpath as an earlier release left it: the schema steps up to `version`, then the SQL `rows`,
 * stamped with that version (open_db then migrates the rest). */
static void old_database(int version, const char *rows)
{
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(dbpath, &h), SQLITE_OK);
	for (int i = 0; i < ss_schema_migration_count && ss_schema_migrations[i].version <= version; i++)
		ck_assert_int_eq(sqlite3_exec(h, ss_schema_migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
	char stamp[48];
	snprintf(stamp, sizeof stamp, "PRAGMA user_version = %d;", version);
	ck_assert_msg(sqlite3_exec(h, rows, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(h));
	ck_assert_int_eq(sqlite3_exec(h, stamp, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

START_TEST(migrate_from_v1)
{
	/* Build a version-1 file by hand, with a row, then let ss_db_open bring it forward. */
	old_database(1, "INSERT INTO analysis_cache(cache_key, source_kind, source, preview_url, title, artist, bpm,"
			" result_json) VALUES ('k','url','http://x/a.mp3','http://x/a.mp3','Old','Song', 99,"
			" '{\"bpm\":99}');");

	ss_store *db = open_db();
	ck_assert_int_eq(ss_store_schema_version(db), ss_schema_latest());
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	ck_assert_int_eq(ss_present_cache_get(db, "k", true, SS_SERIES_BEATS, &b, &err), 1);
	json_object *o = ss_json_parse(b.data, b.len, 16);
	ck_assert_ptr_nonnull(o);
	json_object *v;
	ck_assert(json_object_object_get_ex(o, "bpm", &v));
	ck_assert_int_eq(json_object_get_int(v), 99);
	ck_assert(json_object_object_get_ex(o, "beats", &v)); /* new column, empty for old rows */
	ck_assert_int_eq(json_object_array_length(v), 0);
	json_object_put(o);
	ss_buf_free(&b);
	ss_store_close(db);
}
END_TEST

/* Several processes opening a new file at once: one migrates, the others find the work done. */
START_TEST(concurrent_first_open)
{
	enum { N = 6 };
	pid_t kids[N];
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			char c;
			close(go[1]);
			if (read(go[0], &c, 1) != 0) /* released together when the parent closes the pipe */
				_exit(3);
			ss_db *db = NULL;
			ss_error err;
			if (ss_db_open(dbpath, &db, &err) != 0)
				_exit(1);
			int ok = ss_db_schema_version(db) == ss_schema_latest();
			ss_db_close(db);
			_exit(ok ? 0 : 2);
		}
	}
	close(go[0]);
	close(go[1]);
	for (int i = 0; i < N; i++) {
		int st;
		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d status %d", i, st);
	}
	ss_store *db = open_db();
	ck_assert_int_eq(ss_store_schema_version(db), ss_schema_latest());
	ss_store_close(db);
}
END_TEST

START_TEST(refuse_newer_schema)
{
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(dbpath, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	ss_db *db = NULL;
	ss_error err;
	ck_assert_int_eq(ss_db_open(dbpath, &db, &err), -1);
	ck_assert_ptr_null(db);
}
END_TEST

START_TEST(keys_distinct)
{
	char a[SS_SHA256_HEX], b[SS_SHA256_HEX], c[SS_SHA256_HEX], d[SS_SHA256_HEX];
	ss_cache_key("default", "url", "http://x/a", "v1;max=30", a);
	ss_cache_key("other", "url", "http://x/a", "v1;max=30", b);
	ss_cache_key("default", "url", "http://x/a", "v1;max=20", c);
	ss_cache_key("default", "sha256", "http://x/a", "v1;max=30", d);
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_str_ne(a, d);
	ck_assert_int_eq(strlen(a), 64);
	ck_assert(ss_cache_namespace_valid("default"));
	ck_assert(ss_cache_namespace_valid("A-b_9"));
	ck_assert(!ss_cache_namespace_valid(""));
	ck_assert(!ss_cache_namespace_valid("a b"));
	ck_assert(!ss_cache_namespace_valid("ns%"));
	ck_assert(!ss_cache_namespace_valid("abcdefghijabcdefghijabcdefghijabc")); /* 33 */
	ck_assert(ss_cache_namespace_valid("abcdefghijabcdefghijabcdefghijab"));   /* 32 */
	char h[SS_SHA256_HEX];
	ss_sha256_hex("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert(ss_sha256_hex_valid(h));
	ck_assert(!ss_sha256_hex_valid("abc"));
}
END_TEST

START_TEST(override_survives_reanalysis)
{
	ss_store *db = open_db();
	ss_error err;
	long long id = put(db, "default", "url", "http://x/a.mp3", "Song", "Artist", 120);

	/* No such song: nothing stored. */
	ss_override_update u = {.set_bpm = true, .bpm = 128, .set_key = true, .key = "A Minor"};
	ck_assert_int_eq(ss_store_override_set(db, "default", "http://x/missing.mp3", &u, &err), 0);
	ck_assert_int_eq(ss_store_override_set(db, "other", "http://x/a.mp3", &u, &err), 0);
	ck_assert_int_eq(ss_store_override_set(db, "default", "http://x/a.mp3", &u, &err), 1);

	/* Re-analysis: same id, new numbers, override still there. */
	long long id2 = put(db, "default", "url", "http://x/a.mp3", "Song (new)", "Artist", 121);
	ck_assert_int_eq(id, id2);
	json_object *o = render(db, "default", "url", "http://x/a.mp3", false);
	json_object *v;
	ck_assert(json_object_object_get_ex(o, "user_verified", &v) && json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(o, "manual_bpm", &v));
	ck_assert(fabs(json_object_get_double(v) - 128) < 1e-9);
	ck_assert(json_object_object_get_ex(o, "manual_key", &v));
	ck_assert_str_eq(json_object_get_string(v), "A Minor");
	ck_assert(json_object_object_get_ex(o, "bpm", &v));
	ck_assert_int_eq(json_object_get_int(v), 121);
	ck_assert(json_object_object_get_ex(o, "title", &v));
	ck_assert_str_eq(json_object_get_string(v), "Song (new)");
	ck_assert(json_object_object_get_ex(o, "beats", &v) == 0);
	json_object_put(o);

	/* A partial update keeps the other fields; explicit null clears. */
	ss_override_update u2 = {.set_notes = true, .notes = "half time", .set_bpm = true, .bpm = NAN};
	ck_assert_int_eq(ss_store_override_set(db, "default", "http://x/a.mp3", &u2, &err), 1);
	o = render(db, "default", "url", "http://x/a.mp3", true);
	ck_assert(json_object_object_get_ex(o, "manual_key", &v));
	ck_assert_str_eq(json_object_get_string(v), "A Minor");
	ck_assert(json_object_object_get_ex(o, "manual_bpm", &v) && v == NULL);
	ck_assert(json_object_object_get_ex(o, "bpm_notes", &v));
	ck_assert_str_eq(json_object_get_string(v), "half time");
	ck_assert(json_object_object_get_ex(o, "beats", &v));
	ck_assert_int_eq(json_object_array_length(v), 2);
	json_object_put(o);

	/* Unverified rows say so. */
	put(db, "default", "url", "http://x/b.mp3", "B", "Artist", 90);
	o = render(db, "default", "url", "http://x/b.mp3", false);
	ck_assert(json_object_object_get_ex(o, "user_verified", &v) && !json_object_get_boolean(v));
	json_object_put(o);
	ss_store_close(db);
}
END_TEST

static int count_array(ss_buf *b)
{
	json_object *a = ss_json_parse(b->data, b->len, 16);
	ck_assert_msg(a != NULL && json_object_is_type(a, json_type_array), "%s", b->data);
	int n = (int)json_object_array_length(a);
	json_object_put(a);
	ss_buf_reset(b);
	return n;
}

START_TEST(search_escaping)
{
	ss_store *db = open_db();
	ss_error err;
	ss_buf b;
	ss_buf_init(&b, 0);
	put(db, "default", "url", "u1", "100% Pure", "X", 100);
	put(db, "default", "url", "u2", "100 Pure", "X", 100);
	put(db, "default", "url", "u3", "a_b", "Y", 100);
	put(db, "default", "url", "u4", "axb", "Y", 100);
	put(db, "default", "url", "u5", "back\\slash", "Z", 100);
	put(db, "other", "url", "u6", "100% Other", "X", 100);

	ck_assert_int_eq(ss_present_cache_search(db, "default", "100%", 100, &b, &err), 1);
	ck_assert_int_eq(count_array(&b), 1);
	ck_assert_int_eq(ss_present_cache_search(db, "default", "a_b", 100, &b, &err), 1);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_search(db, "default", "\\", 100, &b, &err), 1);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_search(db, "default", "PURE", 100, &b, &err), 2);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_search(db, NULL, "100%", 100, &b, &err), 2);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_search(db, "default", "y", 100, &b, &err), 2); /* artist match */
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_search(db, "default", "", 100, &b, &err), 5);
	ck_assert_int_eq(count_array(&b), 5);
	char *p = ss_store_like_pattern("a%b_c\\");
	ck_assert_str_eq(p, "%a\\%b\\_c\\\\%");
	free(p);
	ss_buf_free(&b);
	ss_store_close(db);
}
END_TEST

/* Titles of the rows a search returns, in order, joined by '|'. */
static void search_titles(ss_store *db, const char *ns, const char *q, char *out, size_t cap)
{
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	ck_assert_msg(ss_present_cache_search(db, ns, q, 100, &b, &err) >= 0, "%s", err.msg);
	json_object *a = ss_json_parse(b.data, b.len, 16), *v;
	ck_assert_ptr_nonnull(a);
	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		ck_assert(json_object_object_get_ex(json_object_array_get_idx(a, i), "title", &v));
		if (i > 0)
			strncat(out, "|", cap - strlen(out) - 1);
		strncat(out, json_object_get_string(v), cap - strlen(out) - 1);
	}
	json_object_put(a);
	ss_buf_free(&b);
}

/* The trigram index (3+ characters): substrings inside words, either case, '%' and '_' literal, the
 * namespace filter, newest first, and the same answer as LIKE where Unicode case folding would differ. */
START_TEST(search_index_substrings)
{
	ss_store *db = open_db();
	char t[512];
	put(db, "default", "url", "s1", "Moonlight Sonata", "Beethoven", 100);
	put(db, "default", "url", "s2", "Blue MOON Rising", "Nobody", 100);
	put(db, "default", "url", "s3", "Sunrise", "The Honeymooners", 100);
	put(db, "other", "url", "s4", "Moonshadow", "Cat", 100);
	put(db, "default", "url", "s5", "50%_off", "Deal", 100);
	put(db, "default", "url", "s6", "50% off", "Deal", 100);
	put(db, "default", "url", "s7", "Café Élan", "Ünïcode", 100);

	search_titles(db, "default", "oon", t, sizeof t); /* middle of words, title and artist, newest first */
	ck_assert_str_eq(t, "Sunrise|Blue MOON Rising|Moonlight Sonata");
	search_titles(db, "default", "mOoNl", t, sizeof t);
	ck_assert_str_eq(t, "Moonlight Sonata");
	search_titles(db, NULL, "moon", t, sizeof t);
	ck_assert_str_eq(t, "Moonshadow|Sunrise|Blue MOON Rising|Moonlight Sonata");
	search_titles(db, "other", "moon", t, sizeof t);
	ck_assert_str_eq(t, "Moonshadow");
	search_titles(db, "default", "eethov", t, sizeof t);
	ck_assert_str_eq(t, "Moonlight Sonata");
	search_titles(db, "default", "0%_", t, sizeof t); /* literal, not wildcards */
	ck_assert_str_eq(t, "50%_off");
	search_titles(db, "default", "50%", t, sizeof t);
	ck_assert_str_eq(t, "50% off|50%_off");
	search_titles(db, "default", "% o", t, sizeof t);
	ck_assert_str_eq(t, "50% off");
	search_titles(db, "default", "0_o", t, sizeof t);
	ck_assert_str_eq(t, "");
	search_titles(db, "default", "nothing like it", t, sizeof t);
	ck_assert_str_eq(t, "");
	search_titles(db, "default", "\"moon", t, sizeof t); /* FTS5 syntax in q is text, not an error */
	ck_assert_str_eq(t, "");
	search_titles(db, "default", "Élan", t, sizeof t);
	ck_assert_str_eq(t, "Café Élan");
	/* LIKE folds ASCII only; the index folds more, and the answer stays LIKE's. */
	search_titles(db, "default", "élan", t, sizeof t);
	ck_assert_str_eq(t, "");
	search_titles(db, "default", "CAFé", t, sizeof t);
	ck_assert_str_eq(t, "Café Élan");
	ss_store_close(db);
}
END_TEST

/* The triggers: an upsert that renames a song, a delete and a clear are seen by the next search. */
START_TEST(search_index_follows_rows)
{
	ss_store *db = open_db();
	ss_error err;
	char t[256];
	long long id = put(db, "default", "url", "r1", "Yesterday", "Beatles", 100);
	put(db, "default", "url", "r2", "Today", "Someone", 100);
	search_titles(db, "default", "sterd", t, sizeof t);
	ck_assert_str_eq(t, "Yesterday");
	ck_assert_int_eq(put(db, "default", "url", "r1", "Tomorrow", "Beatles", 101), id); /* same row, new title */
	search_titles(db, "default", "sterd", t, sizeof t);
	ck_assert_str_eq(t, "");
	search_titles(db, "default", "morro", t, sizeof t);
	ck_assert_str_eq(t, "Tomorrow");
	search_titles(db, "default", "eatl", t, sizeof t);
	ck_assert_str_eq(t, "Tomorrow");
	ck_assert_int_eq(ss_store_cache_delete(db, id, &err), 1);
	search_titles(db, "default", "morro", t, sizeof t);
	ck_assert_str_eq(t, "");
	search_titles(db, "default", "oda", t, sizeof t);
	ck_assert_str_eq(t, "Today");
	long long n;
	ck_assert_int_eq(ss_store_cache_clear(db, NULL, &n, &err), 0);
	search_titles(db, "default", "oda", t, sizeof t);
	ck_assert_str_eq(t, "");
	/* The index agrees with its content table. */
	ck_assert_int_eq(sqlite3_exec(ss_db_handle(SQ(db)),
				      "INSERT INTO analysis_cache_fts(analysis_cache_fts) VALUES ('integrity-check')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ss_store_close(db);
}
END_TEST

/* A database made before the index (schema 4) gets it filled from its rows when opened. */
START_TEST(search_index_migration_fills)
{
	old_database(4, "INSERT INTO analysis_cache(cache_key, source_kind, source, preview_url, title, artist, result_json)"
			" VALUES ('k1','url','u1','u1','Hallelujah','Cohen','{}'),"
			" ('k2','url','u2','u2','Suzanne','Leonard Cohen','{}');");
	ss_store *db = open_db();
	ck_assert_int_eq(ss_store_schema_version(db), ss_schema_latest());
	char t[256];
	search_titles(db, "default", "lelu", t, sizeof t);
	ck_assert_str_eq(t, "Hallelujah");
	search_titles(db, "default", "COHEN", t, sizeof t);
	ck_assert_str_eq(t, "Suzanne|Hallelujah");
	ss_store_close(db);
}
END_TEST

/* Earlier releases stored an upload's X-Song-Title as the header's bytes, and a key's name as typed; a database
 * made then (schema 5) holds that text as UTF-8 when opened (bytes read as ISO-8859-1, a key name kept within
 * its limit at a character boundary), found by search; UTF-8 text is left as it is. */
START_TEST(text_stored_as_bytes_becomes_utf8)
{
	char hex[201] = ""; /* 100 ISO-8859-1 letters: 200 bytes of UTF-8, over the 127-byte limit of a key name */
	for (int i = 0; i < 100; i++)
		memcpy(hex + 2 * i, "E9", 3);
	char rows[1024];
	snprintf(rows, sizeof rows,
		 "INSERT INTO analysis_cache(cache_key, source_kind, source, preview_url, title, artist, result_json)"
		 " VALUES ('k1','upload','s1','p1',CAST(X'436166E9' AS TEXT),'Ren\xc3\xa9','{}');"
		 "INSERT INTO api_keys(key_hash, prefix, name, email) VALUES"
		 " (zeroblob(32), 'p1', CAST(X'%s' AS TEXT), NULL),"
		 " (randomblob(32), 'p2', CAST(X'4AE4676572' AS TEXT), CAST(X'6AF640782E6F7267' AS TEXT));"
		 "INSERT INTO overrides(cache_namespace, source, bpm_notes) VALUES"
		 " ('default', 's1', CAST(X'E0207069616E6F' AS TEXT));",
		 hex);
	old_database(5, rows);
	ss_store *db = open_db();
	ck_assert_int_eq(ss_store_schema_version(db), ss_schema_latest());
	char t[256];
	search_titles(db, "default", "caf\xc3\xa9", t, sizeof t);
	ck_assert_str_eq(t, "Caf\xc3\xa9");
	static const char *const want[][2] = {
		{"SELECT artist FROM analysis_cache", "Ren\xc3\xa9"},
		{"SELECT name FROM api_keys WHERE prefix = 'p2'", "J\xc3\xa4ger"},
		{"SELECT email FROM api_keys WHERE prefix = 'p2'", "j\xc3\xb6@x.org"},
		{"SELECT bpm_notes FROM overrides", "\xc3\xa0 piano"},
		{"SELECT length(CAST(name AS BLOB)) FROM api_keys WHERE prefix = 'p1'", "126"},
	};
	sqlite3 *h = ss_db_handle(SQ(db));
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		sqlite3_stmt *st;
		ck_assert_int_eq(sqlite3_prepare_v2(h, want[i][0], -1, &st, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_msg(strcmp((const char *)sqlite3_column_text(st, 0), want[i][1]) == 0, "%s: %s", want[i][0],
			      (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	ss_key_record r;
	ss_error err;
	ck_assert_int_eq(ss_store_key_get(db, 1, &r, &err), 1);
	ck_assert(ss_utf8_valid(r.name));
	ss_store_close(db);
}
END_TEST

/* 1-2 characters cannot use trigrams: they match within the newest SS_CACHE_SHORT_SEARCH_ROWS rows only. */
START_TEST(search_short_queries)
{
	ss_store *db = open_db();
	char t[256];
	put(db, "default", "url", "q1", "Old zq song", "A", 100);
	sqlite3 *h = ss_db_handle(SQ(db));
	ck_assert_int_eq(sqlite3_exec(h, "UPDATE analysis_cache SET analyzed_at = '2020-01-01 00:00:00'", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	put(db, "default", "url", "q2", "New zq", "B", 100);
	put(db, "other", "url", "q3", "zq elsewhere", "C", 100);
	search_titles(db, "default", "Q", t, sizeof t);
	ck_assert_str_eq(t, "New zq|Old zq song");
	search_titles(db, "default", "zq", t, sizeof t);
	ck_assert_str_eq(t, "New zq|Old zq song");
	search_titles(db, NULL, "zQ", t, sizeof t);
	ck_assert_str_eq(t, "zq elsewhere|New zq|Old zq song");
	search_titles(db, "default", "%", t, sizeof t);
	ck_assert_str_eq(t, "");
	/* Push the old row out of the window of "default" with newer rows; the window is per namespace. */
	char sql[400];
	snprintf(sql, sizeof sql,
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
		 " INSERT INTO analysis_cache(cache_key, source_kind, source, preview_url, title, artist, result_json)"
		 " SELECT 'f' || i, 'url', 'f' || i, 'f' || i, 'filler', 'x', '{}' FROM n;"
		 " UPDATE analysis_cache SET analyzed_at = '2021-01-01 00:00:00' WHERE title = 'filler'",
		 SS_CACHE_SHORT_SEARCH_ROWS - 1);
	ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	search_titles(db, "default", "zq", t, sizeof t);
	ck_assert_str_eq(t, "New zq");
	search_titles(db, "other", "zq", t, sizeof t);
	ck_assert_str_eq(t, "zq elsewhere");
	search_titles(db, "default", "zq ", t, sizeof t); /* 3 characters: the index sees every row */
	ck_assert_str_eq(t, "Old zq song");
	/* A q in more rows than the index is worth sorting takes the scan, with the same answer. */
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	ck_assert_int_eq(ss_present_cache_search(db, "default", "FIL", 100, &b, &err), 100);
	json_object *a = ss_json_parse(b.data, b.len, 16), *v;
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(a, 0), "title", &v));
	ck_assert_str_eq(json_object_get_string(v), "filler");
	json_object_put(a);
	ss_buf_free(&b);
	ss_store_close(db);
}
END_TEST

/* A track id's 128-bit prefix finds its row by range on the unique key index; nothing else does. */
START_TEST(key_by_prefix)
{
	ss_store *db = open_db();
	ss_error err;
	char key[SS_SHA256_HEX], want[SS_SHA256_HEX], found[SS_SHA256_HEX], prefix[33];
	put(db, "default", "url", "p1", "T", "A", 100);
	put(db, "default", "url", "p2", "T", "A", 101);
	ss_cache_key("default", "url", "p2", "v1;max=30", want);
	memcpy(prefix, want, 32);
	prefix[32] = '\0';
	ck_assert_int_eq(ss_store_cache_key_by_prefix(db, prefix, found, &err), 1);
	ck_assert_str_eq(found, want);
	ck_assert_int_eq(ss_store_cache_key_by_prefix(db, want, found, &err), 1); /* the whole key is a prefix too */
	ck_assert_str_eq(found, want);
	/* the next prefix up (last digit + 1, or a different first digit) is nobody's */
	ss_cache_key("default", "url", "nowhere", "v1;max=30", key);
	memcpy(prefix, key, 32);
	ck_assert_int_eq(ss_store_cache_key_by_prefix(db, prefix, found, &err), 0);
	ck_assert_str_eq(found, "");
	ck_assert_int_eq(ss_store_cache_key_by_prefix(db, "ABCDEF", found, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_int_eq(ss_store_cache_key_by_prefix(db, "", found, &err), -1);
	ck_assert_int_eq(ss_store_cache_key_by_prefix(db, "12'; --", found, &err), -1);
	ss_store_close(db);
}
END_TEST

START_TEST(list_delete_clear)
{
	ss_store *db = open_db();
	ss_error err;
	ss_buf b;
	ss_buf_init(&b, 0);
	long long ids[5];
	for (int i = 0; i < 5; i++) {
		char src[16];
		snprintf(src, sizeof src, "u%d", i);
		ids[i] = put(db, i < 3 ? "default" : "ns2", "url", src, "T", "A", 100 + i);
	}
	ck_assert_int_eq(ss_present_cache_list(db, "default", 100, 0, &b, &err), 3);
	/* newest first: same second, so id breaks the tie */
	json_object *a = ss_json_parse(b.data, b.len, 16), *v;
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(a, 0), "id", &v));
	ck_assert_int_eq(json_object_get_int64(v), ids[2]);
	json_object_put(a);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_list(db, NULL, 2, 1, &b, &err), 2);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_list(db, NULL, 0, 0, &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_int_eq(ss_present_cache_list(db, NULL, 501, 0, &b, &err), -1);
	ck_assert_int_eq(ss_present_cache_list(db, NULL, 10, SS_CACHE_OFFSET_MAX, &b, &err), 0); /* deepest allowed */
	ck_assert_int_eq(ss_present_cache_list(db, NULL, 10, SS_CACHE_OFFSET_MAX + 1, &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(err.msg, "/cache/export"));

	ck_assert_int_eq(ss_store_cache_delete(db, ids[0], &err), 1);
	ck_assert_int_eq(ss_store_cache_delete(db, ids[0], &err), 0);
	long long n;
	ck_assert_int_eq(ss_store_cache_clear(db, "ns2", &n, &err), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(ss_store_cache_count(db, NULL, &err), 2);
	ck_assert_int_eq(ss_store_cache_clear(db, NULL, &n, &err), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(ss_store_cache_count(db, NULL, &err), 0);
	ss_buf_free(&b);
	ss_store_close(db);
}
END_TEST

static int sink_buf(void *arg, const void *data, size_t len)
{
	return ss_buf_append(arg, data, len);
}

START_TEST(export_formats)
{
	ss_store *db = open_db();
	ss_error err;
	put(db, "default", "url", "u1", "=cmd()", "Comma, \"Quoted\"", 100);
	put(db, "default", "url", "u2", "Plain", "Alpha", 90);
	ss_buf b;
	ss_buf_init(&b, 0);
	ck_assert_int_eq(ss_present_cache_export(db, "default", SS_EXPORT_JSON, "2026-01-01 00:00:00", sink_buf, &b, &err), 0);
	json_object *o = ss_json_parse(b.data, b.len, 16), *v;
	ck_assert_msg(o != NULL, "%s", b.data);
	ck_assert(json_object_object_get_ex(o, "total_songs", &v));
	ck_assert_int_eq(json_object_get_int(v), 2);
	ck_assert(json_object_object_get_ex(o, "songs", &v));
	ck_assert_int_eq(json_object_array_length(v), 2);
	json_object *s0 = json_object_array_get_idx(v, 0), *f;
	ck_assert(json_object_object_get_ex(s0, "artist", &f));
	ck_assert_str_eq(json_object_get_string(f), "Alpha");
	ck_assert(json_object_object_get_ex(s0, "acousticness", &f) && f == NULL); /* NaN stored as null */
	json_object_put(o);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_export(db, NULL, SS_EXPORT_CSV, "2026-01-01 00:00:00", sink_buf, &b, &err), 0);
	ck_assert_msg(strncmp(b.data, "Title,Artist,Preview URL,BPM,", 29) == 0, "%s", b.data);
	ck_assert_msg(strstr(b.data, "\r\n'=cmd(),\"Comma, \"\"Quoted\"\"\",u1,100.000,") != NULL, "%s", b.data);
	ss_buf_free(&b);
	ss_store_close(db);
}
END_TEST

START_TEST(render_json_text)
{
	ss_buf b;
	ss_buf_init(&b, 0);
	ck_assert_int_eq(ss_render_json_str(&b, "a\"b\\c\n\x01\xff\xc3\xa9"), 0);
	ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\xc3\xa9\"");
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_render_json_num(&b, NAN), 0);
	ck_assert_int_eq(ss_render_json_num(&b, INFINITY), 0);
	ck_assert_int_eq(ss_render_json_num(&b, 120), 0);
	ck_assert_str_eq(b.data, "nullnull120.0");
	ss_buf_free(&b);
}
END_TEST

START_TEST(csv_guard_covers_leading_cr_lf_and_tab)
{
	/* OWASP: a cell starting with = + - @ tab CR or LF may run as a formula once a spreadsheet trims it. */
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"\r=1+1", "\"'\r=1+1\""}, {"\n=1+1", "\"'\n=1+1\""}, {"\t=1+1", "'\t=1+1"}, {"=1", "'=1"},
		{"+1", "'+1"},             {"-1", "'-1"},             {"@SUM(A1)", "'@SUM(A1)"}, {"a\r\nb", "\"a\r\nb\""},
		{"plain", "plain"},
	};
	ss_buf b;
	ss_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ss_buf_reset(&b);
		ck_assert_int_eq(ss_render_csv_cell(&b, cases[i].in, true), 0);
		ck_assert_msg(b.data != NULL && strcmp(b.data, cases[i].out) == 0, "case %zu: got [%s]", i,
			      b.data ? b.data : "");
	}
	/* Non-text cells (numbers, dates) are never prefixed. */
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_render_csv_cell(&b, "-1.5", false), 0);
	ck_assert_str_eq(b.data, "-1.5");
	ss_buf_free(&b);
}
END_TEST

static unsigned file_mode(const char *path)
{
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "%s missing", path);
	return (unsigned)(st.st_mode & 07777);
}

START_TEST(new_files_are_owner_only_whatever_the_umask)
{
	static const mode_t masks[] = {0, 077};
	for (size_t m = 0; m < 2; m++) {
		mode_t old = umask(masks[m]);
		char p[400];
		snprintf(p, sizeof p, "%s/m%zu.db", dir, m);
		ss_db *db = NULL;
		ss_error err;
		ck_assert_msg(ss_db_open(p, &db, &err) == 0, "%s", err.msg);
		/* -wal and -shm exist while the connection is open; SQLite gives them the database's mode. */
		ck_assert_int_eq(ss_db_exec(db, "CREATE TABLE IF NOT EXISTS t(x)", &err), 0);
		char q[420];
		snprintf(q, sizeof q, "%s", p);
		ck_assert_uint_eq(file_mode(q), 0600);
		snprintf(q, sizeof q, "%s-wal", p);
		ck_assert_uint_eq(file_mode(q), 0600);
		snprintf(q, sizeof q, "%s-shm", p);
		ck_assert_uint_eq(file_mode(q), 0600);
		ss_db_close(db);
		snprintf(p, sizeof p, "%s/m%zu.stats", dir, m);
		ss_stats *s = NULL;
		ck_assert_msg(ss_stats_open(p, &s, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(file_mode(p), 0600);
		ss_stats_close(s);
		umask(old);
	}
}
END_TEST

START_TEST(counters_shared)
{
	char path[400];
	snprintf(path, sizeof path, "%s/stats", dir);
	ss_stats *a = NULL, *b = NULL;
	ss_error err;
	ck_assert_int_eq(ss_stats_open(path, &a, &err), 0);
	ck_assert_int_eq(ss_stats_open(path, &b, &err), 0);
	ss_stats_add(a, SS_STAT_HITS, 3);
	ss_stats_add(b, SS_STAT_HITS, 4);
	ss_stats_observe(a, 2, 404, 0.003);
	ss_stats_observe(b, 2, 404, 100);
	ck_assert_uint_eq(ss_stats_get(b, SS_STAT_HITS), 7);
	ck_assert_uint_eq(ss_stats_get(a, SS_STAT_REQUESTS), 2);
	ck_assert_uint_eq(ss_stats_get(a, SS_STAT_ROUTE_BASE + 2 * SS_STAT_STATUSES + ss_stats_status_index(404)), 2);
	ck_assert_uint_eq(ss_stats_get(a, SS_STAT_LAT_BASE + SS_STAT_LAT_BUCKETS), 1); /* +Inf bucket */
	ss_stats_close(a);
	ss_stats_close(b);
	/* They survive a restart. */
	ck_assert_int_eq(ss_stats_open(path, &a, &err), 0);
	ck_assert_uint_eq(ss_stats_get(a, SS_STAT_HITS), 7);
	ss_stats_close(a);
	ss_stats_close(NULL);
}
END_TEST

/* A counters file that cannot be read (its creator killed between sizing it and writing its header, a bad disk,
 * another program's file, too short) is rebuilt empty by the next opener, which says why, instead of leaving
 * /stats and /metrics at 503 and the counting off until an operator deletes it. A good file is not rebuilt. */
START_TEST(unreadable_counters_file_is_rebuilt)
{
	char path[400];
	snprintf(path, sizeof path, "%s/stats", dir);
	ss_stats *s = NULL;
	ss_error err;
	ck_assert_int_eq(ss_stats_open(path, &s, &err), 0);
	ck_assert_ptr_null(ss_stats_rebuilt(s));
	ss_stats_add(s, SS_STAT_HITS, 5);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	size_t size = (size_t)st.st_size;
	ss_stats_close(s);
	static const struct {
		size_t len;
		unsigned char fill;
	} damage[] = {{0, 0}, {1, 0}, {7, 0xff}, {16, 0x5a}}; /* whole-file zeros; part of the header; the header */
	for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
		int fd = open(path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		unsigned char junk[16];
		memset(junk, damage[i].fill, sizeof junk);
		if (damage[i].len == 0) {
			ck_assert_int_eq(ftruncate(fd, 0), 0);
			ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
		} else {
			ck_assert_int_eq(pwrite(fd, junk, damage[i].len, 0), (ssize_t)damage[i].len);
		}
		close(fd);
		ck_assert_msg(ss_stats_open(path, &s, &err) == 0, "damage %zu: %s", i, err.msg);
		ck_assert_ptr_nonnull(ss_stats_rebuilt(s));
		ck_assert_uint_eq(ss_stats_get(s, SS_STAT_HITS), 0);
		ss_stats_add(s, SS_STAT_HITS, 2);
		ss_stats_close(s);
		ck_assert_int_eq(ss_stats_open(path, &s, &err), 0); /* and then it is a good file */
		ck_assert_ptr_null(ss_stats_rebuilt(s));
		ck_assert_uint_eq(ss_stats_get(s, SS_STAT_HITS), 2);
		ss_stats_close(s);
	}
	/* too short (a file of an older layout, or cut): rebuilt at the full size */
	ck_assert_int_eq(truncate(path, 24), 0);
	ck_assert_int_eq(ss_stats_open(path, &s, &err), 0);
	ck_assert_ptr_nonnull(ss_stats_rebuilt(s));
	ss_stats_add(s, SS_STAT_LAT_COUNT, 1); /* the last slot is inside the file */
	ss_stats_close(s);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((size_t)st.st_size, size);
}
END_TEST


/* Failures map to what a client can do: a held write lock is busy (503), not internal (500). */
START_TEST(fault_codes)
{
	ss_store *db = open_db();
	ss_db_set_busy_timeout(SQ(db), 0);
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(dbpath, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ss_error err;
	ss_error_clear(&err);
	ck_assert_int_eq(ss_db_begin(SQ(db), &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BUSY);
	ck_assert_str_eq(ss_code_name(err.code), "busy");
	ck_assert_int_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	ck_assert_int_eq(ss_db_probe(SQ(db), &err), SS_OK);
	ck_assert(!ss_db_needs_reopen(SQ(db)));
	ck_assert_int_eq(ss_code_http_status(SS_ERR_STORAGE_FULL), 507);
	ck_assert_str_eq(ss_code_name(SS_ERR_STORAGE_FULL), "insufficient_storage");
	ck_assert_int_eq(ss_code_http_status(SS_ERR_READ_ONLY), 503);
	ck_assert_str_eq(ss_code_name(SS_ERR_READ_ONLY), "read_only");

	/* An overwritten header: the probe reads the file itself and asks for a reopen, which then fails (after a
	 * checkpoint, so that no copy of page 1 in the WAL hides the damage). */
	ck_assert_int_eq(ss_db_checkpoint(SQ(db), 0), 0);
	int fd = open(dbpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	unsigned char saved[100], junk[100];
	ck_assert_int_eq(pread(fd, saved, sizeof saved, 0), 100);
	memset(junk, 0x5a, sizeof junk);
	ck_assert_int_eq(pwrite(fd, junk, sizeof junk, 0), 100);
	ck_assert_int_eq(ss_db_probe(SQ(db), &err), SS_ERR_UNAVAILABLE);
	ck_assert(ss_db_needs_reopen(SQ(db)));
	ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
	ss_store_close(db);
	ss_db *again = NULL;
	ck_assert_int_eq(ss_db_open_flags(dbpath, SS_DB_NO_CREATE, &again, &err), -1);
	ck_assert_ptr_null(again);
	ck_assert_int_eq(pwrite(fd, saved, sizeof saved, 0), 100);
	close(fd);
	ck_assert_int_eq(ss_db_open_flags(dbpath, SS_DB_NO_CREATE, &again, &err), 0);
	ck_assert_int_eq(ss_db_probe(again, &err), SS_OK);
	ss_db_close(again);
}
END_TEST

/* A file deleted while open comes back from the open connection, once, and a new open never creates an empty
 * database in its place meanwhile. */
START_TEST(restore_deleted_file)
{
	ss_store *db = open_db();
	ss_error err;
	ss_error_clear(&err);
	ck_assert_int_eq(ss_db_exec(SQ(db), "INSERT INTO overrides (cache_namespace, source) VALUES ('n', 's')", &err), 0);
	ck_assert_int_eq(ss_db_file_check(SQ(db)), SS_DB_FILE_SAME);
	ck_assert_int_eq(unlink(dbpath), 0);
	ck_assert_int_eq(ss_db_file_check(SQ(db)), SS_DB_FILE_MISSING);
	ss_db *other = NULL;
	ck_assert_int_eq(ss_db_open(dbpath, &other, &err), -1); /* its -shm is still there */
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	/* Written after the deletion: still in the copy. */
	ck_assert_int_eq(ss_db_exec(SQ(db), "INSERT INTO overrides (cache_namespace, source) VALUES ('n', 't')", &err), 0);
	ck_assert_int_eq(ss_db_restore(SQ(db), &err), 1);
	ck_assert_int_eq(ss_db_restore(SQ(db), &err), 0); /* the path is taken now: never replaced */
	ck_assert_int_eq(ss_db_file_check(SQ(db)), SS_DB_FILE_REPLACED);
	ss_store_close(db);
	struct stat st;
	ck_assert_int_eq(stat(dbpath, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	db = open_db();
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(ss_db_handle(SQ(db)), "SELECT count(*) FROM overrides", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(q, 0), 2);
	sqlite3_finalize(q);
	ss_store_close(db);
}
END_TEST

static long long usage_rows(ss_store *db)
{
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(ss_db_handle(SQ(db)), "SELECT count(*) FROM api_usage", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	long long n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

static int journal_files(void)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ls '%s' | grep -c -- '-usage-'", dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	int n = 0;
	ck_assert_int_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* In a child: open a journal, append n rows, flush the first `flush` of them, and die without cleanup
 * (as SIGKILL would leave it). */
static void child_journal(int n, int flush)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ss_usage_journal *j;
		ss_error err;
		ss_store *db = NULL;
		ss_store_params p = {.backend = "sqlite", .path = dbpath};
		if (ss_store_open(&p, &db, &err) != 0 || ss_usage_journal_open(dbpath, &j, &err) != 0)
			_exit(2);
		for (int i = 0; i < n; i++) {
			if (ss_usage_journal_append(j, 1, "auth/key", 200, 86400 * 20000 + i, 0) != 0)
				_exit(3);
			if (i + 1 == flush && ss_usage_journal_flush(j, db, &err) != 0)
				_exit(4);
		}
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A new database with one key (id 1), for the usage journal cases. */
static ss_store *open_db_with_key(void)
{
	ss_store *db = open_db();
	ss_error err;
	ck_assert_int_eq(ss_db_exec(SQ(db), "INSERT INTO api_keys (key_hash, prefix, name) VALUES (randomblob(32), 'p', 'k')",
				    &err),
			 0);
	return db;
}

START_TEST(usage_journal_exactly_once)
{
	ss_store *db = open_db_with_key();
	ss_error err;
	ss_error_clear(&err);
	/* A live journal (this process holds its lock) is never imported by someone else. */
	ss_usage_journal *mine;
	ck_assert_int_eq(ss_usage_journal_open(dbpath, &mine, &err), 0);
	ck_assert_int_eq(ss_usage_journal_append(mine, 1, "cache", 200, 86400 * 20000, 0), 0);
	ck_assert_int_eq(ss_usage_journal_pending(mine), 1);
	ck_assert_int_eq(ss_usage_journal_recover(db, dbpath, NULL, &err), 0);
	ck_assert_int_eq(usage_rows(db), 0);

	/* A dead process's journal: 7 rows, 3 of them flushed before it died; the other 4 are imported once. */
	child_journal(7, 3);
	ck_assert_int_eq(usage_rows(db), 3);
	ck_assert_int_eq(journal_files(), 2);
	ck_assert_int_eq(ss_usage_journal_recover(db, dbpath, NULL, &err), 4);
	ck_assert_int_eq(usage_rows(db), 7);
	ck_assert_int_eq(journal_files(), 1);
	ck_assert_int_eq(ss_usage_journal_recover(db, dbpath, NULL, &err), 0);
	ck_assert_int_eq(usage_rows(db), 7);

	/* Killed between the flush's commit and noting it in the file: the mark keeps the rows from counting
	 * twice. (The header's `flushed` field is the fifth 8-byte word, at offset 32.) */
	child_journal(5, 5);
	ck_assert_int_eq(usage_rows(db), 12);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ls '%s' | grep -- '-usage-' ", dir);
	FILE *p = popen(cmd, "r");
	char name[256], orphan[600] = "";
	while (fgets(name, sizeof name, p) != NULL) {
		name[strcspn(name, "\n")] = '\0';
		char path[600];
		snprintf(path, sizeof path, "%s/%s", dir, name);
		int fd = open(path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			snprintf(orphan, sizeof orphan, "%s", path);
		close(fd);
	}
	pclose(p);
	ck_assert(orphan[0] != '\0');
	int fd = open(orphan, O_RDWR);
	int64_t zero = 0;
	ck_assert_int_eq(pwrite(fd, &zero, sizeof zero, 32), (ssize_t)sizeof zero);
	close(fd);
	ck_assert_int_eq(ss_usage_journal_recover(db, dbpath, NULL, &err), 0);
	ck_assert_int_eq(usage_rows(db), 12);

	/* Our own rows flush with the mark; closing removes the empty journal. */
	ck_assert_int_eq(ss_usage_journal_flush(mine, db, &err), 0);
	ck_assert_int_eq(ss_usage_journal_pending(mine), 0);
	ck_assert_int_eq(usage_rows(db), 13);
	ss_usage_journal_close(mine, true);
	ck_assert_int_eq(journal_files(), 0);
	ss_store_close(db);
}
END_TEST

static int sum_counts(void *arg, int64_t key_id, int64_t count)
{
	((int64_t *)arg)[key_id == 1 ? 0 : 1] += count;
	return 0;
}

/* Write a journal file as a dead responder leaves it, in the on-disk format (header: magic, version, capacity,
 * id, head, flushed, pid, two reserved words; then records of seq + row in slot seq % capacity), with the rows of
 * seq 1..rows stored (day 20001, key 1) and the header's head and flushed as given. Returns its path. */
static const char *journal_file(int64_t id, uint32_t cap, int64_t head, int64_t flushed, int64_t rows)
{
	struct {
		char magic[8];
		uint32_t version, capacity;
		int64_t id, head, flushed, pid, reserved[2];
	} h = {.version = 1, .capacity = cap, .id = id, .head = head, .flushed = flushed, .pid = 1};
	memcpy(h.magic, "SSUSAGJ1", 8);
	struct {
		int64_t seq;
		ss_usage_row row;
	} rec;
	static char path[600];
	snprintf(path, sizeof path, "%s-usage-%016llx", dbpath, (unsigned long long)id);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
	ck_assert_int_eq(ftruncate(fd, (off_t)(sizeof h + cap * sizeof rec)), 0);
	for (int64_t seq = 1; seq <= rows; seq++) {
		memset(&rec, 0, sizeof rec);
		rec.seq = seq;
		rec.row.key_id = 1;
		snprintf(rec.row.endpoint, sizeof rec.row.endpoint, "analyze");
		rec.row.status = 200;
		rec.row.time_s = 86400 * 20001;
		off_t at = (off_t)(sizeof h + (size_t)(seq % cap) * sizeof rec);
		ck_assert_int_eq(pwrite(fd, &rec, sizeof rec, at), (ssize_t)sizeof rec);
	}
	close(fd);
	return path;
}

/* A database outage of thousands of requests: a responder's journal keeps every row (far more than one batch),
 * a dead responder's journal is imported in full, and a flush writes them all, a batch per transaction. A
 * journal written by an older version with 512 records is still imported. */
START_TEST(usage_journal_outlasts_an_outage)
{
	ss_store *db = open_db_with_key();
	ss_error err;
	ss_error_clear(&err);
	const int many = 6 * SS_USAGE_BATCH_MAX + 7;
	child_journal(many, 0); /* died with every row pending */
	ck_assert_int_eq(ss_usage_journal_recover(db, dbpath, NULL, &err), many);
	ck_assert_int_eq(usage_rows(db), many);

	ss_usage_journal *j;
	ck_assert_int_eq(ss_usage_journal_open(dbpath, &j, &err), 0);
	for (int i = 0; i < many; i++)
		ck_assert_int_eq(ss_usage_journal_append(j, 1, "cache", 200, 86400 * 20000 + i, 0), 0);
	ck_assert_int_eq(ss_usage_journal_pending(j), many);
	ck_assert_int_eq(ss_usage_journal_flush(j, db, &err), 0);
	ck_assert_int_eq(ss_usage_journal_pending(j), 0);
	ck_assert_int_eq(usage_rows(db), 2 * many);
	ss_usage_journal_close(j, true);

	/* A journal of an older version with 512 records: rows 101..300 pending. */
	const char *path = journal_file(0x1234, 512, 300, 100, 300);
	ck_assert_int_eq(ss_usage_journal_recover(db, dbpath, NULL, &err), 200);
	ck_assert_int_eq(usage_rows(db), 2 * many + 200);
	ck_assert_int_eq(access(path, F_OK), -1); /* imported, then removed */
	ss_store_close(db);
}
END_TEST


/* A dead responder's journal whose header counters are damaged (a torn page, a bad disk) crashes nothing: a
 * `flushed` outside 0..head is read as "nothing flushed" (the database's mark still keeps imported rows from
 * counting twice), a `head` no writer reaches makes the file damaged (removed, counted, nothing imported), and
 * the seeding count reads the same files without overflowing. */
START_TEST(usage_journal_with_a_damaged_header)
{
	ss_store *db = open_db_with_key();
	ss_error err;
	ss_error_clear(&err);
	static const struct {
		int64_t head, flushed, imported;
		int damaged;
	} cases[] = {{300, -100, 300, 0}, {300, INT64_MIN, 300, 0}, {300, INT64_MAX, 300, 0}, {300, 400, 300, 0},
		     {INT64_MAX, 0, 0, 1},   {INT64_MIN, 0, 0, 1},      {-5, -10, 0, 1}};
	int64_t total = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *path = journal_file(0x100 + (int64_t)i, 512, cases[i].head, cases[i].flushed, 300);
		int64_t sums[2] = {0, 0};
		ck_assert_int_eq(ss_usage_journal_day_counts(db, dbpath, 20001, sum_counts, sums, &err), 0);
		ck_assert_int_eq(sums[0], total + cases[i].imported); /* what the import will add, and no more */
		int damaged = -1;
		ck_assert_msg(ss_usage_journal_recover(db, dbpath, &damaged, &err) == cases[i].imported, "case %zu", i);
		ck_assert_int_eq(damaged, cases[i].damaged);
		total += cases[i].imported;
		ck_assert_int_eq(usage_rows(db), total);
		ck_assert_int_eq(access(path, F_OK), -1);
	}
	/* imported rows stay counted once: the same rows again under the same id add nothing */
	journal_file(0x100, 512, 300, -1, 300);
	ck_assert_int_eq(ss_usage_journal_recover(db, dbpath, NULL, &err), 0);
	ck_assert_int_eq(usage_rows(db), total);
	ss_store_close(db);
}
END_TEST

/* What a rebuilt state file is seeded with: rows in api_usage plus rows live journals have not flushed, each
 * counted once whether or not a flush happened in between; refusals (429) and other days not counted. */
START_TEST(usage_journal_day_counts)
{
	ss_store *db = open_db_with_key();
	ss_error err;
	ss_error_clear(&err);
	child_journal(4, 4); /* 4 rows of day 20000 in api_usage (its empty journal stays) */
	ss_usage_journal *mine;
	ck_assert_int_eq(ss_usage_journal_open(dbpath, &mine, &err), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ss_usage_journal_append(mine, 1, "cache", 200, 86400 * 20000 + 100 + i, 0), 0);
	ck_assert_int_eq(ss_usage_journal_append(mine, 1, "cache", 429, 86400 * 20000 + 200, 0), 0);
	ck_assert_int_eq(ss_usage_journal_append(mine, 1, "cache", 200, 86400 * 20001, 0), 0);
	int64_t sums[2] = {0, 0};
	ck_assert_int_eq(ss_usage_journal_day_counts(db, dbpath, 20000, sum_counts, sums, &err), 0);
	ck_assert_int_eq(sums[0], 7);
	ck_assert_int_eq(sums[1], 0);
	ck_assert_int_eq(ss_usage_journal_flush(mine, db, &err), 0);
	sums[0] = 0;
	ck_assert_int_eq(ss_usage_journal_day_counts(db, dbpath, 20000, sum_counts, sums, &err), 0);
	ck_assert_int_eq(sums[0], 7);
	ss_usage_journal_close(mine, true);
	ss_store_close(db);
}
END_TEST

/* The backend is picked by name; a name this build lacks is a configuration error at once, before anything is
 * opened, and a store that cannot be reached answers every operation with unavailable and says why. */
START_TEST(store_backend_by_name_and_unreachable_store)
{
	ss_store *st = NULL;
	ss_error err;
	ss_error_clear(&err);
	ss_store_params p = {.backend = "nosuch", .path = dbpath};
	ck_assert_int_eq(ss_store_new(&p, &st, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_CONFIG);
	ck_assert_ptr_null(st);
	p.backend = "postgresql";
	ck_assert_int_eq(ss_store_new(&p, &st, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_CONFIG);
	ck_assert_msg(strstr(err.msg, "PostgreSQL") != NULL, "%s", err.msg);
	p.backend = "sqlite";
	p.path = "";
	ck_assert_int_eq(ss_store_new(&p, &st, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_CONFIG);

	/* NULL is the default backend; nothing is opened until the store is used. */
	char missing[400];
	snprintf(missing, sizeof missing, "%s/no/such/dir/t.db", dir);
	p.backend = NULL;
	p.path = missing;
	ck_assert_int_eq(ss_store_new(&p, &st, &err), 0);
	ck_assert_str_eq(ss_store_backend(st), "sqlite");
	ck_assert(!ss_store_connected(st));
	ck_assert_int_eq(ss_store_cache_count(st, NULL, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ck_assert_str_ne(ss_store_error(st), "");
	ck_assert_int_eq(ss_store_health(st, &err), SS_ERR_UNAVAILABLE);
	ss_key_record rec;
	ck_assert_int_eq(ss_store_key_get(st, 1, &rec, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_UNAVAILABLE);
	ss_store_close(st);
	ck_assert_int_eq(ss_store_open(&p, &st, &err), -1);
	ck_assert_ptr_null(st);

	/* The configuration's names reach the parameters. */
	ss_config cfg;
	ss_config_defaults(&cfg);
	snprintf(cfg.database, sizeof cfg.database, "%s", dbpath);
	cfg.database_busy_timeout_ms = 1234;
	ss_store_params_from_config(&cfg, &p);
	ck_assert_str_eq(p.backend, "sqlite");
	ck_assert_str_eq(p.path, dbpath);
	ck_assert_int_eq(p.busy_timeout_ms, 1234);
	ck_assert_int_eq(ss_store_open(&p, &st, &err), 0);
	ck_assert(ss_store_connected(st));
	ck_assert_str_eq(ss_store_describe(st), dbpath);
	ck_assert_int_eq(ss_store_schema_version(st), ss_store_schema_latest(st));
	ck_assert_int_eq(ss_store_health(st, &err), SS_OK);
	ck_assert_int_eq(ss_store_check(st, false, &err), 0);
	ck_assert_int_eq(ss_store_maintain(st, &err), 0);
	ss_store_close(st);
}
END_TEST

static int stop_at_first(void *arg, const ss_cache_row *row)
{
	(void)row;
	++*(int *)arg;
	return 1;
}

static int collect_override(void *arg, const ss_override_row *o)
{
	char *out = arg;
	size_t n = strlen(out);
	snprintf(out + n, 512 - n, "%s|%s|%g|%s|%s;", o->ns, o->source, o->manual_bpm, o->manual_key ? o->manual_key : "-",
		 o->notes ? o->notes : "-");
	return 0;
}

static int collect_usage(void *arg, const ss_usage_row *r)
{
	char *out = arg;
	size_t n = strlen(out);
	snprintf(out + n, 512 - n, "%lld|%s|%d|%lld;", (long long)r->key_id, r->endpoint, r->status, (long long)r->time_s);
	return 0;
}

static int export_beats(void *arg, const ss_cache_row *row)
{
	char *out = arg;
	size_t n = strlen(out);
	snprintf(out + n, 512 - n, "%s|%s|%s;", row->title, row->source_kind, row->beats_json ? row->beats_json : "NULL");
	return 0;
}

/* What copying one store into another needs: overrides (also those whose song was deleted), usage rows from a
 * time on, key hashes, keys registered by hash, rows with their beats; and a callback that stops an operation. */
START_TEST(store_reads_for_copying)
{
	ss_store *db = open_db();
	ss_error err;
	put(db, "default", "url", "https://a/1", "One", "X", 100);
	put(db, "other", "url", "https://a/2", "Two", "Y", 110);
	ss_override_update u = {.set_bpm = true, .bpm = 50, .set_notes = true, .notes = "n"};
	ck_assert_int_eq(ss_store_override_set(db, "default", "https://a/1", &u, &err), 1);
	u = (ss_override_update){.set_key = true, .key = "A Minor"};
	ck_assert_int_eq(ss_store_override_set(db, "other", "https://a/2", &u, &err), 1);
	long long deleted;
	ck_assert_int_eq(ss_store_cache_clear(db, "other", &deleted, &err), 0);
	ck_assert_int_eq(deleted, 1);
	char out[512] = "";
	ck_assert_int_eq(ss_store_override_list(db, collect_override, out, &err), 2);
	ck_assert_str_eq(out, "default|https://a/1|50|-|n;other|https://a/2|nan|A Minor|-;");

	out[0] = '\0';
	ck_assert_int_eq(ss_store_cache_export(db, NULL, SS_CACHE_ROW_BEATS, NULL, export_beats, out, &err), 1);
	ck_assert_str_eq(out, "One|url|[0.5,1.0];");
	out[0] = '\0';
	ck_assert_int_eq(ss_store_cache_export(db, NULL, 0, NULL, export_beats, out, &err), 1);
	ck_assert_str_eq(out, "One|url|NULL;");
	int seen = 0;
	put(db, "default", "url", "https://a/3", "Three", "Z", 120);
	ck_assert_int_eq(ss_store_cache_list(db, NULL, 10, 0, stop_at_first, &seen, &err), -2);
	ck_assert_int_eq(seen, 1);

	ss_key_record rec, again;
	char key[SS_APIKEY_TEXT_MAX];
	ck_assert_int_eq(ss_store_key_create(db, "k", NULL, SS_KEY_ADMIN, 7, 0, &rec, key, &err), 0);
	unsigned char h[SS_APIKEY_HASH_LEN];
	ss_apikey_hash(key, strlen(key), h);
	ck_assert_int_eq(memcmp(rec.hash, h, sizeof h), 0);
	ss_key_import k = {.name = "copied", .scope = SS_KEY_CLIENT, .active = false, .daily_limit = 3,
			   .created_at = "2020-02-03 04:05:06"};
	unsigned char other[SS_APIKEY_HASH_LEN];
	memset(other, 0x5a, sizeof other);
	int64_t id = 0, id2 = 0;
	ck_assert_int_eq(ss_store_key_import_hashed(db, other, "ab", &k, &id, &err), 1);
	ck_assert_int_eq(ss_store_key_import_hashed(db, other, "ab", &k, &id2, &err), 0);
	ck_assert_int_eq(id, id2);
	ck_assert_int_eq(ss_store_key_find_by_hash(db, other, &again, &err), 1);
	ck_assert_str_eq(again.name, "copied");
	ck_assert_str_eq(again.prefix, "ab");
	ck_assert_str_eq(again.created_at, "2020-02-03 04:05:06");
	ck_assert(!again.active);
	ck_assert_int_eq(ss_store_key_import_hashed(db, other, "0123456789abcdefXYZ", &k, &id2, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);

	ss_usage_row rows[3] = {{.key_id = rec.id, .endpoint = "a", .status = 200, .time_s = 86400 * 20000 - 1},
				{.key_id = rec.id, .endpoint = "b", .status = 429, .time_s = 86400 * 20000},
				{.key_id = id, .endpoint = "c", .status = 500, .time_s = 86400 * 20000 + 5}};
	ck_assert_int_eq(ss_store_usage_write(db, rows, 3, 0, 0, &err), 0);
	out[0] = '\0';
	ck_assert_int_eq(ss_store_usage_rows(db, 86400 * 20000, collect_usage, out, &err), 2);
	char want[200];
	snprintf(want, sizeof want, "%lld|b|429|%d;%lld|c|500|%d;", (long long)rec.id, 86400 * 20000, (long long)id,
		 86400 * 20000 + 5);
	ck_assert_str_eq(out, want);
	ss_store_close(db);
}
END_TEST

/* The API's bytes for one row, exactly: what /analyze, /cache, /cache/search and /cache/export answered before
 * rendering moved out of the store (recorded from that code), so the presentation module cannot drift. */
static int bytes_sink(void *arg, const void *data, size_t len)
{
	return ss_buf_append(arg, data, len);
}

/* The track id of the row present_bytes stores (the base62 of its cache key's first 128 bits, checked there). */
#define TRACK_ID "7ftRgnmdOs5dVSuvPi8Opv"

/* A stored segment (ss_result_beats_text's layout): only the audio-analysis object reads it. */
#define SEGMENTS ",\"segments\":[[0,1,1,-20,0.1,-10,-30,[1,0,0,0,0,0,0,0,0,0,0,0],[40,0,0,0,0,0,0,0,0,0,0,0]]]"

START_TEST(present_bytes)
{
	ss_store *db = open_db();
	ss_result r;
	ss_result_init(&r);
	r.bpm = 128.25;
	r.bpm_confidence = 0.75;
	r.key_index = 1;
	r.mode = 0;
	r.key_confidence = 0.5;
	r.energy = 0.625;
	r.danceability = NAN;
	r.acousticness = 0.125;
	r.spectral_centroid = 1234.5;
	r.mood = "happy";
	r.analysis_duration = 0.05;
	char key[SS_SHA256_HEX];
	ss_cache_key("default", "url", "https://e.com/a", "v1", key);
	ss_cache_put_args a = {.cache_key = key, .ns = "default", .source_kind = "url", .source = "https://e.com/a",
			       .preview_url = "https://e.com/a", .title = "Caf\xc3\xa9 \"Q\", =1", .artist = "A\\B",
			       .result = &r, .result_json = "{\"bpm\":128.25,\"key\":\"C# Major\",\"x\":[1,2]}",
			       .beats_json = "{\"beats\":[0.5,1],\"downbeats\":[0.5]" SEGMENTS "}"};
	ss_error err;
	ck_assert_msg(ss_store_cache_put(db, &a, NULL, &err) == 0, "%s", err.msg);
	ss_override_update u = {.set_bpm = true, .bpm = 64.5, .set_key = true, .key = "D Minor", .set_notes = true,
				.notes = "half\ntime"};
	ck_assert_int_eq(ss_store_override_set(db, "default", "https://e.com/a", &u, &err), 1);
	ck_assert_int_eq(ss_db_exec(SQ(db), "UPDATE analysis_cache SET analyzed_at = '2024-05-06 07:08:09'", &err), 0);

	static const char get_beats[] = "{\"id\":1,\"track_id\":\"" TRACK_ID "\",\"title\":\"Café \\\"Q\\\", =1\",\"artist\":\"A\\\\B\",\"preview_url\":\"https://e.co"
		"m/a\",\"cache_namespace\":\"default\",\"cached\":true,\"analyzed_at\":\"2024-05-06 07:08:09\","
		"\"bpm\":128.25,\"key\":\"C# Major\",\"x\":[1,2],\"beats\":[0.5,1],\"downbeats\":[0.5],\"user_ve"
		"rified\":true,\"manual_bpm\":64.5,\"manual_key\":\"D Minor\",\"bpm_notes\":\"half\\ntime\"}";
	static const char get_plain[] = "{\"id\":1,\"track_id\":\"" TRACK_ID "\",\"title\":\"Café \\\"Q\\\", =1\",\"artist\":\"A\\\\B\",\"preview_url\":\"https://e.co"
		"m/a\",\"cache_namespace\":\"default\",\"cached\":false,\"analyzed_at\":\"2024-05-06 07:08:09\","
		"\"bpm\":128.25,\"key\":\"C# Major\",\"x\":[1,2],\"user_verified\":true,\"manual_bpm\":64.5,\"ma"
		"nual_key\":\"D Minor\",\"bpm_notes\":\"half\\ntime\"}";
	static const char list[] = "[{\"id\":1,\"track_id\":\"" TRACK_ID "\",\"title\":\"Café \\\"Q\\\", =1\",\"artist\":\"A\\\\B\",\"preview_url\":\"https://e.c"
		"om/a\",\"cache_namespace\":\"default\",\"cached\":true,\"analyzed_at\":\"2024-05-06 07:08:09\","
		"\"bpm\":128.25,\"key\":\"C# Major\",\"x\":[1,2],\"user_verified\":true,\"manual_bpm\":64.5,\"ma"
		"nual_key\":\"D Minor\",\"bpm_notes\":\"half\\ntime\"}]";
	static const char export_json[] = "{\"total_songs\":1,\"exported_at\":\"2024-01-01 00:00:00\",\"songs\":[{\"title\":\"Café \\\"Q"
		"\\\", =1\",\"artist\":\"A\\\\B\",\"bpm\":128.25,\"key\":\"C# Minor\",\"energy\":0.625,\"danceab"
		"ility\":null,\"acousticness\":0.125,\"analyzed_at\":\"2024-05-06 07:08:09\",\"preview_url\":\"h"
		"ttps://e.com/a\",\"user_verified\":true,\"manual_bpm\":64.5,\"manual_key\":\"D Minor\"}]}";
	static const char export_csv[] = "Title,Artist,Preview URL,BPM,BPM Confidence,Key,Key Confidence,Energy,Danceability,Acousticness"
		",Spectral Centroid (Hz),Time Signature,Valence,Mood,Loudness (LUFS),Dynamic Range (LU),Silence "
		"Ratio,Analysis Duration (s),Analyzed At,Namespace,User Verified,Manual BPM,Manual Key,BPM Notes"
		"\r\n\"Café \"\"Q\"\", =1\",A\\B,https://e.com/a,128.250,0.7500,C# Minor,0.5000,0.6250,,0.1250,1"
		"234.5,4/4,,happy,,,,0.050,2024-05-06 07:08:09,default,true,64.500,D Minor,\"half\ntime\"\r\n";
	char track[SS_BASE62_ID_LEN + 1];
	ck_assert_int_eq(ss_base62_from_hex128(key, track), 0);
	ck_assert_str_eq(track, TRACK_ID);
	ss_buf b;
	ss_buf_init(&b, 0);
	ck_assert_int_eq(ss_present_cache_get(db, key, true, SS_SERIES_BEATS, &b, &err), 1);
	ck_assert_str_eq(b.data, get_beats);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_get(db, key, true, SS_SERIES_ALL, &b, &err), 1);
	ck_assert_msg(strstr(b.data, "\"downbeats\":[0.5]" SEGMENTS ",\"user_verified\":true,") != NULL, "%s", b.data);
	json_object *all = ss_json_parse(b.data, b.len, 16);
	ck_assert_ptr_nonnull(all);
	json_object_put(all);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_get(db, key, false, SS_SERIES_NONE, &b, &err), 1);
	ck_assert_str_eq(b.data, get_plain);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_list(db, NULL, 10, 0, &b, &err), 1);
	ck_assert_str_eq(b.data, list);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_search(db, "default", "caf", 10, &b, &err), 1);
	ck_assert_str_eq(b.data, list);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_export(db, NULL, SS_EXPORT_JSON, "2024-01-01 00:00:00", bytes_sink, &b, &err), 0);
	ck_assert_str_eq(b.data, export_json);
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_present_cache_export(db, "default", SS_EXPORT_CSV, "x", bytes_sink, &b, &err), 0);
	ck_assert_str_eq(b.data, export_csv);
	ss_buf_free(&b);
	ss_store_close(db);
}
END_TEST

/* The full check reads every cache row's stored result: a row written halfway (not JSON, or without a field
 * API.md requires) is found, named by its id; the quick check leaves the rows alone. */
START_TEST(full_check_reads_every_result)
{
	ss_store *db = open_db();
	ss_error err;
	long long id = put(db, "default", "url", "http://x/a.mp3", "A", "B", 120);
	static const char whole[] = "UPDATE analysis_cache SET result_json = '{\"bpm\":120,\"bpm_confidence\":0.8,"
				    "\"key\":\"C# Minor\",\"key_confidence\":null,\"energy\":0.5,\"danceability\":0.6,"
				    "\"acousticness\":null,\"spectral_centroid\":1500}'";
	ck_assert_int_eq(sqlite3_exec(ss_db_handle(SQ(db)), whole, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_msg(ss_store_check(db, true, &err) == 0, "%s", err.msg);

	static const char *const broken[] = {
		"UPDATE analysis_cache SET result_json = '{\"bpm\":120,\"bpm_confidence\":0.8,\"key\":\"C# Minor\"'",
		"UPDATE analysis_cache SET result_json = '[1,2]'",
		"UPDATE analysis_cache SET result_json = '{\"bpm\":120,\"key\":\"C# Minor\"}'",
		"UPDATE analysis_cache SET result_json = replace(result_json, '\"bpm\":120', '\"bpm\":\"fast\"')",
		"UPDATE analysis_cache SET result_json = replace(result_json, '\"key\":\"C# Minor\"', '\"key\":5')",
	};
	char want[64];
	snprintf(want, sizeof want, "cache row %lld: ", id);
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		ck_assert_int_eq(sqlite3_exec(ss_db_handle(SQ(db)), whole, NULL, NULL, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_exec(ss_db_handle(SQ(db)), broken[i], NULL, NULL, NULL), SQLITE_OK);
		ck_assert_int_eq(ss_store_check(db, false, &err), 0);
		ck_assert_msg(ss_store_check(db, true, &err) == -1, "case %zu passed", i);
		ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "case %zu: %s", i, err.msg);
	}
	/* Several: counted, the first named. */
	put(db, "default", "url", "http://x/b.mp3", "C", "D", 90);
	ck_assert_int_eq(ss_store_check(db, true, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "2 cache rows hold an incomplete result"));
	ss_store_close(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *t = tcase_create("store");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, migrate_empty);
	tcase_add_test(t, migrate_from_v1);
	tcase_add_test(t, refuse_newer_schema);
	tcase_add_test(t, concurrent_first_open);
	tcase_add_test(t, keys_distinct);
	tcase_add_test(t, override_survives_reanalysis);
	tcase_add_test(t, search_escaping);
	tcase_add_test(t, search_index_substrings);
	tcase_add_test(t, search_index_follows_rows);
	tcase_add_test(t, search_index_migration_fills);
	tcase_add_test(t, text_stored_as_bytes_becomes_utf8);
	tcase_add_test(t, search_short_queries);
	tcase_add_test(t, list_delete_clear);
	tcase_add_test(t, key_by_prefix);
	tcase_add_test(t, export_formats);
	tcase_add_test(t, render_json_text);
	tcase_add_test(t, counters_shared);
	tcase_add_test(t, fault_codes);
	tcase_add_test(t, restore_deleted_file);
	tcase_add_test(t, usage_journal_exactly_once);
	tcase_add_test(t, usage_journal_outlasts_an_outage);
	tcase_add_test(t, usage_journal_day_counts);
	tcase_add_test(t, usage_journal_with_a_damaged_header);
	tcase_add_test(t, unreadable_counters_file_is_rebuilt);
	tcase_add_test(t, csv_guard_covers_leading_cr_lf_and_tab);
	tcase_add_test(t, new_files_are_owner_only_whatever_the_umask);
	tcase_add_test(t, present_bytes);
	tcase_add_test(t, store_backend_by_name_and_unreachable_store);
	tcase_add_test(t, store_reads_for_copying);
	tcase_add_test(t, full_check_reads_every_result);
	suite_add_tcase(s, t);
	return ss_check_run(s);
}
