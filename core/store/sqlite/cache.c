/* The analysis cache on SQLite: one row per cache key in analysis_cache, overrides joined from their own table,
 * a trigram FTS5 index for search (schema step 5). */
#include "core/store/sqlite/sqlite.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SS_DB(s) (ss_sqlite_of(s)->db)

int ss_sqlite_fail(ss_db *db, ss_error *err, const char *what)
{
	return ss_error_set(err, ss_db_fault(db), "database: %s: %s", what, ss_db_errmsg(db));
}

void ss_sqlite_bind_num(sqlite3_stmt *st, int i, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

void ss_sqlite_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

double ss_sqlite_col_num(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

const char *ss_sqlite_col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

#define WRITE_COLS                                                                                            \
	"cache_key, cache_namespace, source_kind, source, preview_url, title, artist, bpm, bpm_confidence, key,"   \
	" key_confidence, energy, danceability, acousticness, spectral_centroid, time_signature, valence, mood,"  \
	" loudness, dynamic_range, silence_ratio, result_json, beats_json, analysis_duration, analyzed_at"
#define WRITE_VALUES "?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,"

static const char SQL_PUT[] =
	"INSERT INTO analysis_cache(" WRITE_COLS ") VALUES (" WRITE_VALUES " strftime('%Y-%m-%d %H:%M:%S','now'))"
	" ON CONFLICT(cache_key) DO UPDATE SET preview_url=excluded.preview_url, title=excluded.title,"
	" artist=excluded.artist, bpm=excluded.bpm, bpm_confidence=excluded.bpm_confidence, key=excluded.key,"
	" key_confidence=excluded.key_confidence, energy=excluded.energy, danceability=excluded.danceability,"
	" acousticness=excluded.acousticness, spectral_centroid=excluded.spectral_centroid,"
	" time_signature=excluded.time_signature, valence=excluded.valence, mood=excluded.mood,"
	" loudness=excluded.loudness, dynamic_range=excluded.dynamic_range, silence_ratio=excluded.silence_ratio,"
	" result_json=excluded.result_json, beats_json=excluded.beats_json,"
	" analysis_duration=excluded.analysis_duration, analyzed_at=excluded.analyzed_at"
	" RETURNING id";

static const char SQL_IMPORT[] =
	"INSERT INTO analysis_cache(" WRITE_COLS ") VALUES (" WRITE_VALUES
	" COALESCE(strftime('%Y-%m-%d %H:%M:%S', ?25), strftime('%Y-%m-%d %H:%M:%S','now')))"
	" ON CONFLICT(cache_key) DO NOTHING";

static void bind_write(sqlite3_stmt *st, const ss_cache_write *w)
{
	const char *text[7] = {w->cache_key, w->ns, w->source_kind, w->source, w->preview_url, w->title, w->artist};
	for (int i = 0; i < 7; i++)
		sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_STATIC);
	ss_sqlite_bind_num(st, 8, w->bpm);
	ss_sqlite_bind_num(st, 9, w->bpm_confidence);
	ss_sqlite_bind_text(st, 10, w->key);
	ss_sqlite_bind_num(st, 11, w->key_confidence);
	ss_sqlite_bind_num(st, 12, w->energy);
	ss_sqlite_bind_num(st, 13, w->danceability);
	ss_sqlite_bind_num(st, 14, w->acousticness);
	ss_sqlite_bind_num(st, 15, w->spectral_centroid);
	ss_sqlite_bind_text(st, 16, w->time_signature);
	ss_sqlite_bind_num(st, 17, w->valence);
	ss_sqlite_bind_text(st, 18, w->mood);
	ss_sqlite_bind_num(st, 19, w->loudness);
	ss_sqlite_bind_num(st, 20, w->dynamic_range);
	ss_sqlite_bind_num(st, 21, w->silence_ratio);
	sqlite3_bind_text(st, 22, w->result_json, -1, SQLITE_STATIC);
	ss_sqlite_bind_text(st, 23, w->beats_json);
	ss_sqlite_bind_num(st, 24, w->analysis_duration);
}

int ss_sqlite_cache_put(ss_store *s, const ss_cache_write *w, int64_t *id, ss_error *err)
{
	ss_db *db = SS_DB(s);
	if (ss_db_begin(db, err) != 0)
		return -1;
	sqlite3_stmt *st = ss_db_prepare(db, SQL_PUT);
	if (st == NULL) {
		ss_sqlite_fail(db, err, "preparing cache insert");
		ss_db_rollback(db);
		return -1;
	}
	bind_write(st, w);
	int rc = sqlite3_step(st);
	int64_t rid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		ss_sqlite_fail(db, err, "storing an analysis");
		ss_db_rollback(db);
		return -1;
	}
	if (ss_db_commit(db, err) != 0) {
		ss_db_rollback(db);
		return -1;
	}
	if (id != NULL)
		*id = rid;
	return 0;
}

int ss_sqlite_cache_import(ss_store *s, const ss_cache_write *w, ss_error *err)
{
	ss_db *db = SS_DB(s);
	assert(!sqlite3_get_autocommit(ss_db_handle(db))); /* the caller's transaction is open */
	sqlite3_stmt *st = ss_db_prepare(db, SQL_IMPORT);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing cache import");
	bind_write(st, w);
	ss_sqlite_bind_text(st, 25, w->analyzed_at);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return ss_sqlite_fail(db, err, "importing a cache row");
	return sqlite3_changes(ss_db_handle(db)) > 0 ? 1 : 0;
}

void ss_sqlite_read_row(sqlite3_stmt *st, ss_cache_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->cache_key = ss_sqlite_col_text(st, 1);
	r->ns = ss_sqlite_col_text(st, 2);
	r->source_kind = ss_sqlite_col_text(st, 3);
	r->source = ss_sqlite_col_text(st, 4);
	r->preview_url = ss_sqlite_col_text(st, 5);
	r->title = ss_sqlite_col_text(st, 6);
	r->artist = ss_sqlite_col_text(st, 7);
	r->analyzed_at = ss_sqlite_col_text(st, 8);
	r->result_json = ss_sqlite_col_text(st, 9);
	r->beats_json = ss_sqlite_col_text(st, 10);
	r->bpm = ss_sqlite_col_num(st, 11);
	r->bpm_confidence = ss_sqlite_col_num(st, 12);
	r->key = ss_sqlite_col_text(st, 13);
	r->key_confidence = ss_sqlite_col_num(st, 14);
	r->energy = ss_sqlite_col_num(st, 15);
	r->danceability = ss_sqlite_col_num(st, 16);
	r->acousticness = ss_sqlite_col_num(st, 17);
	r->spectral_centroid = ss_sqlite_col_num(st, 18);
	r->time_signature = ss_sqlite_col_text(st, 19);
	r->valence = ss_sqlite_col_num(st, 20);
	r->mood = ss_sqlite_col_text(st, 21);
	r->loudness = ss_sqlite_col_num(st, 22);
	r->dynamic_range = ss_sqlite_col_num(st, 23);
	r->silence_ratio = ss_sqlite_col_num(st, 24);
	r->analysis_duration = ss_sqlite_col_num(st, 25);
	r->user_verified = sqlite3_column_int(st, 26) != 0;
	r->manual_bpm = ss_sqlite_col_num(st, 27);
	r->manual_key = ss_sqlite_col_text(st, 28);
	r->notes = ss_sqlite_col_text(st, 29);
	r->verified_at = ss_sqlite_col_text(st, 30);
}

int ss_sqlite_each_row(ss_db *db, sqlite3_stmt *st, ss_cache_row_fn fn, void *arg, ss_error *err)
{
	int n = 0, rc;
	ss_cache_row row;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ss_sqlite_read_row(st, &row);
		if (fn(arg, &row) != 0) {
			sqlite3_reset(st);
			return -2;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		ss_sqlite_fail(db, err, "reading the cache");
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return n;
}

#define ROW_COLS SS_SQLITE_ROW_COLS("NULL")
#define ROW_FROM SS_SQLITE_ROW_FROM

static const char SQL_GET[] = "SELECT " ROW_COLS ROW_FROM " WHERE c.cache_key = ?1";
static const char SQL_GET_BEATS[] = "SELECT " SS_SQLITE_ROW_COLS("c.beats_json") ROW_FROM " WHERE c.cache_key = ?1";

int ss_sqlite_cache_get(ss_store *s, const char *cache_key, unsigned flags, ss_cache_row_fn fn, void *arg,
			ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, (flags & SS_CACHE_ROW_BEATS) ? SQL_GET_BEATS : SQL_GET);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing cache lookup");
	sqlite3_bind_text(st, 1, cache_key, -1, SQLITE_STATIC);
	int n = ss_sqlite_each_row(db, st, fn, arg, err);
	sqlite3_clear_bindings(st);
	return n > 1 ? 1 : n;
}

static const char SQL_LIST_NS[] = "SELECT " ROW_COLS ROW_FROM " WHERE c.cache_namespace = ?1"
				  " ORDER BY c.analyzed_at DESC, c.id DESC LIMIT ?2 OFFSET ?3";
static const char SQL_LIST_ALL[] = "SELECT " ROW_COLS ROW_FROM
				   " ORDER BY c.analyzed_at DESC, c.id DESC LIMIT ?2 OFFSET ?3";

int ss_sqlite_cache_list(ss_store *s, const char *ns, int limit, long long offset, ss_cache_row_fn fn, void *arg,
			 ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, ns ? SQL_LIST_NS : SQL_LIST_ALL);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing cache listing");
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit);
	sqlite3_bind_int64(st, 3, offset);
	int n = ss_sqlite_each_row(db, st, fn, arg, err);
	sqlite3_clear_bindings(st);
	return n;
}

/* Search: 3 or more characters go through the trigram index (schema step 5), which yields every row whose
 * title or artist contains q case-folded (a superset of what LIKE accepts); each candidate is then checked
 * with the same LIKE as always, so the answer is exactly the LIKE answer. The candidates are ordered by time
 * on (time, id) alone and only the newest rows are read whole; the CROSS JOINs keep SQLite from walking the
 * time index instead. Each candidate costs a row read in id order (about 7 times a row of the scan, measured
 * by tools/bench-search.c), while a scan newest first stops after the limit's matches: about
 * limit * rows / candidates rows when matches are spread evenly. So a q with more than sqrt(16 * rows)
 * candidates (bounded to SEARCH_INDEX_MIN..SEARCH_INDEX_MAX) is common enough to take the scan; the
 * cost of either path stays near sqrt(rows). Queries of 0-2 characters cannot use trigrams: they scan the
 * newest SS_CACHE_SHORT_SEARCH_ROWS rows only. */
#define SEARCH_INDEX_MIN 1000
#define SEARCH_INDEX_MAX 20000 /* a search the index finds in more rows scans the rows newest first */
#define SEARCH_LIKE " (c.title LIKE ?2 ESCAPE '\\' OR c.artist LIKE ?2 ESCAPE '\\')"
#define SEARCH_TOP(from, where)                                                                          \
	"SELECT " ROW_COLS " FROM (SELECT c.id AS rid FROM " from " CROSS JOIN analysis_cache c ON c.id = f.fid" \
	" WHERE" SEARCH_LIKE where " ORDER BY c.analyzed_at DESC, c.id DESC LIMIT ?3) t"                    \
	" CROSS JOIN analysis_cache c ON c.id = t.rid LEFT JOIN overrides o ON o.cache_namespace ="          \
	" c.cache_namespace AND o.source = c.source ORDER BY c.analyzed_at DESC, c.id DESC"
#define FTS_FROM "(SELECT rowid AS fid FROM analysis_cache_fts WHERE analysis_cache_fts MATCH ?4) f"
static const char SQL_SEARCH_FTS_COUNT[] =
	"SELECT (SELECT count(*) FROM (SELECT 1 FROM analysis_cache_fts WHERE analysis_cache_fts MATCH ?1 LIMIT ?2)),"
	" (SELECT max(id) FROM analysis_cache)";
static const char SQL_SEARCH_FTS_NS[] = SEARCH_TOP(FTS_FROM, " AND c.cache_namespace = ?1");
static const char SQL_SEARCH_FTS_ALL[] = SEARCH_TOP(FTS_FROM, "");
static const char SQL_SEARCH_SHORT_NS[] =
	SEARCH_TOP("(SELECT id AS fid FROM analysis_cache WHERE cache_namespace = ?1"
		   " ORDER BY analyzed_at DESC, id DESC LIMIT ?4) f", "");
static const char SQL_SEARCH_SHORT_ALL[] =
	SEARCH_TOP("(SELECT id AS fid FROM analysis_cache ORDER BY analyzed_at DESC, id DESC LIMIT ?4) f", "");
static const char SQL_SEARCH_SCAN_NS[] = "SELECT " ROW_COLS ROW_FROM " WHERE c.cache_namespace = ?1 AND"
					 SEARCH_LIKE " ORDER BY c.analyzed_at DESC, c.id DESC LIMIT ?3";
static const char SQL_SEARCH_SCAN_ALL[] = "SELECT " ROW_COLS ROW_FROM " WHERE" SEARCH_LIKE
					  " ORDER BY c.analyzed_at DESC, c.id DESC LIMIT ?3";

/* Does the index serve phrase (1), or is it common enough for the scan (0)? -1 with err. */
static int fts_worth_it(ss_db *db, const char *phrase, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_SEARCH_FTS_COUNT);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing cache search");
	sqlite3_bind_text(st, 1, phrase, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, SEARCH_INDEX_MAX + 1);
	int rv = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		long long cand = sqlite3_column_int64(st, 0), rows = sqlite3_column_int64(st, 1);
		long long k = (long long)sqrt(16.0 * (double)rows);
		if (k < SEARCH_INDEX_MIN)
			k = SEARCH_INDEX_MIN;
		if (k > SEARCH_INDEX_MAX)
			k = SEARCH_INDEX_MAX;
		rv = cand <= k;
	} else {
		ss_sqlite_fail(db, err, "searching the cache index");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv;
}

/* q as one FTS5 phrase: in double quotes, inner quotes doubled. Caller frees; NULL on ENOMEM. */
static char *fts_phrase(const char *q)
{
	size_t n = strlen(q);
	char *p = malloc(2 * n + 3);
	if (p == NULL)
		return NULL;
	size_t j = 0;
	p[j++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (q[i] == '"')
			p[j++] = '"';
		p[j++] = q[i];
	}
	p[j++] = '"';
	p[j] = '\0';
	return p;
}

int ss_sqlite_cache_search(ss_store *s, const char *ns, const char *q, int limit, ss_cache_row_fn fn, void *arg,
			   ss_error *err)
{
	ss_db *db = SS_DB(s);
	if (limit < 1 || limit > SS_CACHE_SEARCH_MAX)
		limit = SS_CACHE_SEARCH_MAX;
	if (q == NULL)
		q = "";
	bool fts = ss_store_utf8_chars(q) >= 3;
	char *pat = ss_store_like_pattern(q);
	char *phrase = fts ? fts_phrase(q) : NULL;
	if (pat == NULL || (fts && phrase == NULL)) {
		free(pat);
		free(phrase);
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	}
	const char *sql = fts ? (ns ? SQL_SEARCH_FTS_NS : SQL_SEARCH_FTS_ALL)
			      : (ns ? SQL_SEARCH_SHORT_NS : SQL_SEARCH_SHORT_ALL);
	if (fts) {
		int use = fts_worth_it(db, phrase, err);
		if (use < 0) {
			free(pat);
			free(phrase);
			return -1;
		}
		if (use == 0) {
			sql = ns ? SQL_SEARCH_SCAN_NS : SQL_SEARCH_SCAN_ALL;
			fts = false;
		}
	}
	sqlite3_stmt *st = ss_db_prepare(db, sql);
	if (st == NULL) {
		free(pat);
		free(phrase);
		return ss_sqlite_fail(db, err, "preparing cache search");
	}
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pat, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, limit);
	if (fts)
		sqlite3_bind_text(st, 4, phrase, -1, SQLITE_STATIC);
	else if (phrase == NULL)
		sqlite3_bind_int(st, 4, SS_CACHE_SHORT_SEARCH_ROWS);
	int n = ss_sqlite_each_row(db, st, fn, arg, err);
	sqlite3_clear_bindings(st);
	free(pat);
	free(phrase);
	return n;
}

static int exec_changes(ss_db *db, const char *sql, const char *text, long long id, long long *changes,
			ss_error *err, const char *what)
{
	if (ss_db_begin(db, err) != 0)
		return -1;
	sqlite3_stmt *st = ss_db_prepare(db, sql);
	if (st == NULL) {
		ss_sqlite_fail(db, err, what);
		ss_db_rollback(db);
		return -1;
	}
	if (text != NULL)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	else if (id >= 0)
		sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		ss_sqlite_fail(db, err, what);
		ss_db_rollback(db);
		return -1;
	}
	*changes = sqlite3_changes64(ss_db_handle(db));
	if (ss_db_commit(db, err) != 0) {
		ss_db_rollback(db);
		return -1;
	}
	return 0;
}

static const char SQL_DELETE[] = "DELETE FROM analysis_cache WHERE id = ?1";

int ss_sqlite_cache_delete(ss_store *s, int64_t id, ss_error *err)
{
	ss_db *db = SS_DB(s);
	long long n = 0;
	if (exec_changes(db, SQL_DELETE, NULL, id, &n, err, "deleting a cache row") != 0)
		return -1;
	return n > 0 ? 1 : 0;
}

static const char SQL_CLEAR_NS[] = "DELETE FROM analysis_cache WHERE cache_namespace = ?1";
static const char SQL_CLEAR_ALL[] = "DELETE FROM analysis_cache";

int ss_sqlite_cache_clear(ss_store *s, const char *ns, long long *deleted, ss_error *err)
{
	ss_db *db = SS_DB(s);
	*deleted = 0;
	return exec_changes(db, ns ? SQL_CLEAR_NS : SQL_CLEAR_ALL, ns, -1, deleted, err, "clearing the cache");
}

static const char SQL_COUNT_NS[] = "SELECT count(*) FROM analysis_cache WHERE cache_namespace = ?1";
static const char SQL_COUNT_ALL[] = "SELECT count(*) FROM analysis_cache";

long long ss_sqlite_cache_count(ss_store *s, const char *ns, ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, ns ? SQL_COUNT_NS : SQL_COUNT_ALL);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing count");
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	long long n = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		ss_sqlite_fail(db, err, "counting cache rows");
	sqlite3_reset(st);
	return n;
}

static const char SQL_HAS_SOURCE[] = "SELECT 1 FROM analysis_cache WHERE cache_namespace = ?1 AND source = ?2 LIMIT 1";

int ss_sqlite_cache_has_source(ss_store *s, const char *ns, const char *source, ss_error *err)
{
	ss_db *db = SS_DB(s);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_HAS_SOURCE);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing source lookup");
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return ss_sqlite_fail(db, err, "source lookup");
}

/* Keys are lower-case hex, so [prefix, prefix || 'g') is exactly the keys starting with prefix: a range on the
 * UNIQUE index. */
static const char SQL_KEY_BY_PREFIX[] =
	"SELECT cache_key FROM analysis_cache WHERE cache_key >= ?1 AND cache_key < ?2 ORDER BY cache_key LIMIT 1";

int ss_sqlite_cache_key_by_prefix(ss_store *s, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err)
{
	ss_db *db = SS_DB(s);
	size_t n = strlen(hex_prefix);
	assert(n >= 1 && n <= 64);
	char upper[66];
	memcpy(upper, hex_prefix, n);
	upper[n] = 'g';
	upper[n + 1] = '\0';
	sqlite3_stmt *st = ss_db_prepare(db, SQL_KEY_BY_PREFIX);
	if (st == NULL)
		return ss_sqlite_fail(db, err, "preparing cache key lookup");
	sqlite3_bind_text(st, 1, hex_prefix, (int)n, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, upper, (int)n + 1, SQLITE_STATIC);
	int rc = sqlite3_step(st), found = 0;
	if (rc == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		if (k != NULL && strlen(k) < SS_SHA256_HEX) {
			memcpy(key, k, strlen(k) + 1);
			found = 1;
		}
	} else if (rc != SQLITE_DONE) {
		found = ss_sqlite_fail(db, err, "cache key lookup");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}
