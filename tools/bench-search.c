/* songscope-bench-search: /cache/search and deep /cache pages at growing cache sizes. For each size it fills a
 * fresh database (real schema, triggers and index) with N synthetic songs of about the real row size, then
 * prints the median time of a search matching ~3% of the rows, one matching ~0.01%, one matching nothing, a
 * 2-character search matching nothing, and the deepest page, through the store's functions ("index"), and
 * with --like also through the queries songscope ran before the index ("LIKE": a scan, and OFFSET N-100),
 * in one markdown table, with the time to fill the rows (index kept by the triggers) and to rebuild the index
 * from them (what the schema migration does to an existing cache). The old queries are timed without
 * rendering JSON, which only favours them.
 * Everything lives in a private temp dir that is removed at the end.
 * With --postgresql CONNINFO the same rows go into that PostgreSQL database instead, through the store's own
 * import (one transaction per size; its cache is emptied first, so give it a database of its own), and the
 * searches run through the PostgreSQL backend (--like and the index rebuild are SQLite's only).
 * Usage: songscope-bench-search [--like] [--repeat R] [--postgresql CONNINFO] [N ...]   (default N: 10000 100000) */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/store/cache.h"
#include "core/store/sqlite/sqlite.h"
#include "fcgi/present.h"
#include "core/util/buf.h"
#include "core/util/timefmt.h"

static char dir[256];
static int repeat = 7;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "songscope-bench-search: %s: %s\n", what, msg ? msg : "failed");
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* 64 words for titles and 64 for artists: "nlig" (in "moonlight") is in about 3% of titles. */
static const char WORDS[] =
	"INSERT INTO w VALUES (0,'moonlight'),(1,'river'),(2,'summer'),(3,'velvet'),(4,'echo'),(5,'golden'),"
	"(6,'midnight'),(7,'paper'),(8,'thunder'),(9,'silver'),(10,'ocean'),(11,'crystal'),(12,'shadow'),"
	"(13,'fire'),(14,'garden'),(15,'winter'),(16,'electric'),(17,'honey'),(18,'wild'),(19,'broken'),"
	"(20,'neon'),(21,'sugar'),(22,'desert'),(23,'rain'),(24,'highway'),(25,'diamond'),(26,'lonely'),"
	"(27,'morning'),(28,'city'),(29,'heart'),(30,'dream'),(31,'storm'),(32,'candle'),(33,'mirror'),"
	"(34,'forest'),(35,'satellite'),(36,'cherry'),(37,'lightning'),(38,'harbor'),(39,'violet'),(40,'canyon'),"
	"(41,'feather'),(42,'glass'),(43,'stone'),(44,'tiger'),(45,'orbit'),(46,'lemon'),(47,'anchor'),"
	"(48,'rocket'),(49,'marble'),(50,'prairie'),(51,'cobalt'),(52,'ember'),(53,'meadow'),(54,'saffron'),"
	"(55,'tundra'),(56,'willow'),(57,'zephyr'),(58,'quartz'),(59,'lantern'),(60,'copper'),(61,'autumn'),"
	"(62,'falcon'),(63,'harmony');";

static void fill(sqlite3 *h, long long n)
{
	char *msg = NULL;
	char sql[1024];
	if (sqlite3_exec(h, "CREATE TEMP TABLE w(k INTEGER PRIMARY KEY, v TEXT);", NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(h, WORDS, NULL, NULL, &msg) != SQLITE_OK)
		die("words", msg);
	/* Rows of about 1.2 KB like a real cache (result_json padded), one per second, in one transaction. */
	snprintf(sql, sizeof sql,
		 "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %lld)"
		 " INSERT INTO analysis_cache(cache_key, source_kind, source, preview_url, title, artist, result_json,"
		 " analyzed_at) SELECT 'k' || i, 'url', 'https://x.test/' || i, 'https://x.test/' || i,"
		 " (SELECT v FROM w WHERE k = (i * 2654435761) %% 64) || ' ' || (SELECT v FROM w WHERE k = (i * 40503) %% 61)"
		 " || ' ' || i,"
		 " upper(substr((SELECT v FROM w WHERE k = (i * 69069) %% 64), 1, 1)) || 'and ' ||"
		 " (SELECT v FROM w WHERE k = (i * 48271) %% 63),"
		 " '{\"pad\":\"' || hex(randomblob(500)) || '\"}', datetime(1600000000 + i, 'unixepoch') FROM n;"
		 " COMMIT;",
		 n);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("fill", msg);
}

/* The words of WORDS, in order (for the rows written through the store). */
static char words[64][16];

static void parse_words(void)
{
	const char *p = WORDS;
	for (int i = 0; i < 64; i++) {
		p = strchr(p, '\'');
		const char *e = p != NULL ? strchr(p + 1, '\'') : NULL;
		if (e == NULL || e - p - 1 >= (long)sizeof words[0])
			die("words", "malformed list");
		memcpy(words[i], p + 1, (size_t)(e - p - 1));
		words[i][e - p - 1] = '\0';
		p = e + 1;
	}
}

/* The rows fill() writes, through ss_store_cache_import (any backend) in one bulk transaction, after emptying
 * the cache: the same titles, artists, times and row size. */
static void fill_store(ss_store *db, long long n)
{
	ss_error err;
	ss_error_clear(&err);
	long long gone = 0;
	if (ss_store_cache_clear(db, NULL, &gone, &err) != 0 || ss_store_bulk_begin(db, &err) != 0)
		die("fill", err.msg);
	char pad[1024 + 16];
	snprintf(pad, sizeof pad, "{\"pad\":\"");
	for (size_t i = strlen(pad); i < 8 + 1000; i++)
		pad[i] = "0123456789ABCDEF"[(i * 7) % 16];
	snprintf(pad + 8 + 1000, sizeof pad - 8 - 1000, "\"}");
	for (long long i = 1; i <= n; i++) {
		char key[32], url[64], title[96], artist[64], at[SS_TIME_STR_LEN];
		snprintf(key, sizeof key, "k%lld", i);
		snprintf(url, sizeof url, "https://x.test/%lld", i);
		snprintf(title, sizeof title, "%s %s %lld", words[(i * 2654435761LL) % 64], words[(i * 40503LL) % 61], i);
		const char *a = words[(i * 69069LL) % 64];
		snprintf(artist, sizeof artist, "%cand %s", a[0] - 'a' + 'A', words[(i * 48271LL) % 63]);
		ss_time_format_utc((time_t)(1600000000LL + i), at);
		ss_cache_write w = {
			.cache_key = key, .ns = "default", .source_kind = "url", .source = url, .preview_url = url,
			.title = title, .artist = artist, .bpm = NAN, .bpm_confidence = NAN, .key_confidence = NAN,
			.energy = NAN, .danceability = NAN, .acousticness = NAN, .spectral_centroid = NAN, .valence = NAN,
			.loudness = NAN, .dynamic_range = NAN, .silence_ratio = NAN, .analysis_duration = NAN,
			.result_json = pad, .analyzed_at = at,
		};
		if (ss_store_cache_import(db, &w, &err) < 0)
			die("fill", err.msg);
	}
	if (ss_store_bulk_commit(db, &err) != 0)
		die("fill", err.msg);
}

/* The queries songscope ran before the index, without the JSON rendering (which both paths share). */
static double old_query(sqlite3 *h, const char *sql, const char *text, long long num)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(h));
	double t[32];
	int r = repeat < 32 ? repeat : 32;
	for (int i = -1; i < r; i++) { /* one warm-up */
		double t0 = now_ms();
		sqlite3_bind_text(st, 1, "default", -1, SQLITE_STATIC);
		if (text)
			sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, num);
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			(void)sqlite3_column_text(st, 6);
		if (rc != SQLITE_DONE)
			die("step", sqlite3_errmsg(h));
		sqlite3_reset(st);
		if (i >= 0)
			t[i] = now_ms() - t0;
	}
	sqlite3_finalize(st);
	qsort(t, (size_t)r, sizeof t[0], cmp_double);
	return t[r / 2];
}

static const char OLD_SEARCH[] =
	"SELECT c.id, c.title, c.artist, c.preview_url, c.cache_namespace, c.analyzed_at, c.result_json, c.beats_json,"
	" o.source IS NOT NULL, o.manual_bpm FROM analysis_cache c LEFT JOIN overrides o ON o.cache_namespace ="
	" c.cache_namespace AND o.source = c.source WHERE c.cache_namespace = ?1"
	" AND (c.title LIKE ?2 ESCAPE '\\' OR c.artist LIKE ?2 ESCAPE '\\')"
	" ORDER BY c.analyzed_at DESC, c.id DESC LIMIT ?3";
static const char OLD_LIST[] =
	"SELECT c.id, c.title, c.artist, c.preview_url, c.cache_namespace, c.analyzed_at, c.result_json, c.beats_json,"
	" o.source IS NOT NULL, o.manual_bpm FROM analysis_cache c LEFT JOIN overrides o ON o.cache_namespace ="
	" c.cache_namespace AND o.source = c.source WHERE c.cache_namespace = ?1"
	" ORDER BY c.analyzed_at DESC, c.id DESC LIMIT 100 OFFSET ?3";

static double old_search(sqlite3 *h, const char *q)
{
	char *pat = ss_store_like_pattern(q);
	if (pat == NULL)
		die("pattern", "out of memory");
	double ms = old_query(h, OLD_SEARCH, pat, 100);
	free(pat);
	return ms;
}

/* Median ms of a rendered /cache/search (list when q is NULL, at offset). */
static double new_query(ss_store *db, const char *q, long long offset)
{
	double t[32];
	int r = repeat < 32 ? repeat : 32;
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	ss_error_clear(&err);
	for (int i = -1; i < r; i++) {
		ss_buf_reset(&b);
		double t0 = now_ms();
		int n = q ? ss_present_cache_search(db, "default", q, SS_CACHE_SEARCH_MAX, &b, &err)
			  : ss_present_cache_list(db, "default", 100, offset, &b, &err);
		if (n < 0)
			die("query", err.msg);
		if (i >= 0)
			t[i] = now_ms() - t0;
	}
	ss_buf_free(&b);
	qsort(t, (size_t)r, sizeof t[0], cmp_double);
	return t[r / 2];
}

int main(int argc, char **argv)
{
	bool like = false;
	const char *pg = NULL;
	long long sizes[16];
	int nsizes = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--like") == 0)
			like = true;
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (strcmp(argv[i], "--postgresql") == 0 && i + 1 < argc)
			pg = argv[++i];
		else if (argv[i][0] != '-' && nsizes < 16 && atoll(argv[i]) >= 200)
			sizes[nsizes++] = atoll(argv[i]);
		else {
			fprintf(stderr, "usage: songscope-bench-search [--like] [--repeat R] [--postgresql CONNINFO] [N ...]"
					" (N >= 200)\n");
			return 2;
		}
	}
	if (repeat < 1)
		repeat = 1;
	if (nsizes == 0) {
		sizes[nsizes++] = 10000;
		sizes[nsizes++] = 100000;
	}
	if (pg != NULL && like)
		die("--like", "compares SQLite's old queries: not with --postgresql");
	parse_words();
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/songscope-bench-search-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", strerror(errno));
	printf("| rows | path | common \"nlig\" (ms) | rare \" 4242\" (ms) | no match \"zzqx\" (ms) |"
	       " 2 chars, no match \"qz\" (ms) | deepest page (ms) | fill (s) | index rebuild (s) |\n"
	       "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
	fflush(stdout);
	for (int s = 0; s < nsizes && pg != NULL; s++) {
		ss_store *db = NULL;
		ss_error err;
		ss_error_clear(&err);
		ss_store_params sp = {.backend = "postgresql", .conninfo = pg};
		if (ss_store_open(&sp, &db, &err) != 0)
			die("open", err.msg);
		double t0 = now_ms();
		fill_store(db, sizes[s]);
		double fill_s = (now_ms() - t0) / 1e3;
		long long deep = sizes[s] - 100 < SS_CACHE_OFFSET_MAX ? sizes[s] - 100 : SS_CACHE_OFFSET_MAX;
		printf("| %lld | postgresql | %.2f | %.2f | %.2f | %.2f | %.2f (offset %lld) | %.1f | |\n", sizes[s],
		       new_query(db, "nlig", 0), new_query(db, " 4242", 0), new_query(db, "zzqx", 0), new_query(db, "qz", 0),
		       new_query(db, NULL, deep), deep, fill_s);
		fflush(stdout);
		ss_store_close(db);
	}
	for (int s = 0; s < nsizes && pg == NULL; s++) {
		char path[320];
		snprintf(path, sizeof path, "%s/%lld.db", dir, sizes[s]);
		ss_store *db = NULL;
		ss_error err;
		ss_error_clear(&err);
		ss_store_params sp = {.backend = "sqlite", .path = path};
		if (ss_store_open(&sp, &db, &err) != 0)
			die("open", err.msg);
		double t0 = now_ms();
		fill(ss_db_handle(ss_sqlite_db(db)), sizes[s]);
		double fill_s = (now_ms() - t0) / 1e3;
		long long deep = sizes[s] - 100 < SS_CACHE_OFFSET_MAX ? sizes[s] - 100 : SS_CACHE_OFFSET_MAX;
		/* What schema step 5 does to an existing cache: fill the index from every row. */
		char *msg = NULL;
		double r0 = now_ms();
		if (sqlite3_exec(ss_db_handle(ss_sqlite_db(db)), "INSERT INTO analysis_cache_fts(analysis_cache_fts) VALUES ('rebuild')",
				 NULL, NULL, &msg) != SQLITE_OK)
			die("rebuild", msg);
		double rebuild_s = (now_ms() - r0) / 1e3;
		printf("| %lld | index | %.2f | %.2f | %.2f | %.2f | %.2f (offset %lld) | %.1f | %.1f |\n", sizes[s],
		       new_query(db, "nlig", 0), new_query(db, " 4242", 0), new_query(db, "zzqx", 0), new_query(db, "qz", 0),
		       new_query(db, NULL, deep), deep, fill_s, rebuild_s);
		fflush(stdout);
		if (like) {
			sqlite3 *h = ss_db_handle(ss_sqlite_db(db));
			printf("| %lld | LIKE | %.2f | %.2f | %.2f | %.2f | %.2f (offset %lld) | | |\n", sizes[s],
			       old_search(h, "nlig"), old_search(h, " 4242"), old_search(h, "zzqx"), old_search(h, "qz"),
			       old_query(h, OLD_LIST, NULL, sizes[s] - 100), sizes[s] - 100);
			fflush(stdout);
		}
		ss_store_close(db);
		remove(path);
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
