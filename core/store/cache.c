#include "core/store/cache.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/store/render.h"

bool ss_cache_namespace_valid(const char *ns)
{
	size_t n = 0;
	if (ns == NULL)
		return false;
	for (; ns[n]; n++) {
		char c = ns[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
		if (n >= SS_NAMESPACE_MAX)
			return false;
	}
	return n > 0;
}

void ss_sha256_hex(const void *data, size_t len, char out[SS_SHA256_HEX])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, SS_SHA256_HEX, h, sizeof h);
}

bool ss_sha256_hex_valid(const char *s)
{
	size_t n = 0;
	if (s == NULL)
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') || (s[n] >= 'A' && s[n] <= 'F')))
			return false;
	return n == 64;
}

void ss_cache_key(const char *ns, const char *kind, const char *source, const char *opts_tag,
		  char out[SS_SHA256_HEX])
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	const char *parts[4] = {ns, kind, source, opts_tag ? opts_tag : ""};
	crypto_hash_sha256_init(&st);
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			crypto_hash_sha256_update(&st, (const unsigned char *)"::", 2);
		crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], strlen(parts[i]));
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, SS_SHA256_HEX, h, sizeof h);
}

static int db_err(ss_db *db, ss_error *err, const char *what)
{
	return ss_error_set(err, ss_db_fault(db), "database: %s: %s", what, ss_db_errmsg(db));
}

static void bind_num(sqlite3_stmt *st, int i, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static const char SQL_PUT[] =
	"INSERT INTO analysis_cache(cache_key, cache_namespace, source_kind, source, preview_url, title, artist,"
	" bpm, bpm_confidence, key, key_confidence, energy, danceability, acousticness, spectral_centroid,"
	" time_signature, valence, mood, loudness, dynamic_range, silence_ratio, result_json, beats_json,"
	" analysis_duration, analyzed_at)"
	" VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,"
	" strftime('%Y-%m-%d %H:%M:%S','now'))"
	" ON CONFLICT(cache_key) DO UPDATE SET preview_url=excluded.preview_url, title=excluded.title,"
	" artist=excluded.artist, bpm=excluded.bpm, bpm_confidence=excluded.bpm_confidence, key=excluded.key,"
	" key_confidence=excluded.key_confidence, energy=excluded.energy, danceability=excluded.danceability,"
	" acousticness=excluded.acousticness, spectral_centroid=excluded.spectral_centroid,"
	" time_signature=excluded.time_signature, valence=excluded.valence, mood=excluded.mood,"
	" loudness=excluded.loudness, dynamic_range=excluded.dynamic_range, silence_ratio=excluded.silence_ratio,"
	" result_json=excluded.result_json, beats_json=excluded.beats_json,"
	" analysis_duration=excluded.analysis_duration, analyzed_at=excluded.analyzed_at"
	" RETURNING id";

int ss_cache_put(ss_db *db, const ss_cache_put_args *a, long long *id, ss_error *err)
{
	const ss_result *r = a->result;
	char key[16], tsbuf[16];
	ss_key_name(r->key_index, r->mode, key, sizeof key);
	const char *ts = ss_result_time_signature(r, tsbuf, sizeof tsbuf);
	if (ts == NULL) /* the column has always held a metre, "4/4" without a tempo */
		ts = "4/4";

	if (ss_db_begin(db, err) != 0)
		return -1;
	sqlite3_stmt *st = ss_db_prepare(db, SQL_PUT);
	if (st == NULL) {
		db_err(db, err, "preparing cache insert");
		ss_db_rollback(db);
		return -1;
	}
	sqlite3_bind_text(st, 1, a->cache_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->source_kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a->preview_url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, a->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, a->artist, -1, SQLITE_STATIC);
	bind_num(st, 8, r->bpm);
	bind_num(st, 9, r->bpm_confidence);
	if (r->key_index >= 0)
		sqlite3_bind_text(st, 10, key, -1, SQLITE_TRANSIENT);
	bind_num(st, 11, r->key_confidence);
	bind_num(st, 12, r->energy);
	bind_num(st, 13, r->danceability);
	bind_num(st, 14, r->acousticness);
	bind_num(st, 15, r->spectral_centroid);
	sqlite3_bind_text(st, 16, ts, -1, SQLITE_TRANSIENT);
	bind_num(st, 17, r->valence);
	if (r->mood != NULL)
		sqlite3_bind_text(st, 18, r->mood, -1, SQLITE_STATIC);
	bind_num(st, 19, r->loudness);
	bind_num(st, 20, r->dynamic_range);
	bind_num(st, 21, r->silence_ratio);
	sqlite3_bind_text(st, 22, a->result_json, -1, SQLITE_STATIC);
	if (a->beats_json != NULL)
		sqlite3_bind_text(st, 23, a->beats_json, -1, SQLITE_STATIC);
	bind_num(st, 24, r->analysis_duration);
	int rc = sqlite3_step(st);
	long long rid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_err(db, err, "storing an analysis");
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

static const char SQL_IMPORT[] =
	"INSERT INTO analysis_cache(cache_key, cache_namespace, source_kind, source, preview_url, title, artist,"
	" bpm, bpm_confidence, key, key_confidence, energy, danceability, acousticness, spectral_centroid,"
	" time_signature, valence, mood, loudness, dynamic_range, silence_ratio, result_json, analysis_duration,"
	" analyzed_at)"
	" VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,"
	" COALESCE(strftime('%Y-%m-%d %H:%M:%S', ?24), strftime('%Y-%m-%d %H:%M:%S','now')))"
	" ON CONFLICT(cache_key) DO NOTHING";

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int ss_cache_import(ss_db *db, const ss_cache_import_args *a, ss_error *err)
{
	assert(!sqlite3_get_autocommit(ss_db_handle(db))); /* the caller's transaction is open */
	sqlite3_stmt *st = ss_db_prepare(db, SQL_IMPORT);
	if (st == NULL)
		return db_err(db, err, "preparing cache import");
	const char *text[7] = {a->cache_key, a->ns, a->source_kind, a->source, a->preview_url, a->title, a->artist};
	for (int i = 0; i < 7; i++)
		sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_STATIC);
	bind_num(st, 8, a->bpm);
	bind_num(st, 9, a->bpm_confidence);
	bind_text_or_null(st, 10, a->key);
	bind_num(st, 11, a->key_confidence);
	bind_num(st, 12, a->energy);
	bind_num(st, 13, a->danceability);
	bind_num(st, 14, a->acousticness);
	bind_num(st, 15, a->spectral_centroid);
	bind_text_or_null(st, 16, a->time_signature);
	bind_num(st, 17, a->valence);
	bind_text_or_null(st, 18, a->mood);
	bind_num(st, 19, a->loudness);
	bind_num(st, 20, a->dynamic_range);
	bind_num(st, 21, a->silence_ratio);
	sqlite3_bind_text(st, 22, a->result_json, -1, SQLITE_STATIC);
	bind_num(st, 23, a->analysis_duration);
	bind_text_or_null(st, 24, a->analyzed_at);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return db_err(db, err, "importing a cache row");
	return sqlite3_changes(ss_db_handle(db)) > 0 ? 1 : 0;
}

/* Columns every rendering query selects, in this order. */
#define ROW_COLS                                                                                            \
	"c.id, c.title, c.artist, c.preview_url, c.cache_namespace, c.analyzed_at, c.result_json, c.beats_json," \
	" o.source IS NOT NULL, o.manual_bpm, o.manual_key, o.bpm_notes"
#define ROW_FROM                                                                                       \
	" FROM analysis_cache c LEFT JOIN overrides o ON o.cache_namespace = c.cache_namespace"         \
	" AND o.source = c.source"

static int append_row(sqlite3_stmt *st, bool cached, bool with_beats, ss_buf *b)
{
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(st, 0));
	if (ss_buf_puts(b, "{\"id\":") || ss_buf_puts(b, num) || ss_buf_puts(b, ",\"title\":") ||
	    ss_render_json_str(b, (const char *)sqlite3_column_text(st, 1)) || ss_buf_puts(b, ",\"artist\":") ||
	    ss_render_json_str(b, (const char *)sqlite3_column_text(st, 2)) || ss_buf_puts(b, ",\"preview_url\":") ||
	    ss_render_json_str(b, (const char *)sqlite3_column_text(st, 3)) ||
	    ss_buf_puts(b, ",\"cache_namespace\":") || ss_render_json_str(b, (const char *)sqlite3_column_text(st, 4)) ||
	    ss_buf_puts(b, cached ? ",\"cached\":true" : ",\"cached\":false") || ss_buf_puts(b, ",\"analyzed_at\":") ||
	    ss_render_json_str(b, (const char *)sqlite3_column_text(st, 5)))
		return -1;
	/* Splice the stored object's members. */
	const char *rj = (const char *)sqlite3_column_text(st, 6);
	if (rj != NULL) {
		const char *open = strchr(rj, '{');
		const char *close = strrchr(rj, '}');
		if (open != NULL && close != NULL && close > open) {
			const char *s = open + 1;
			while (s < close && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
				s++;
			if (s < close && (ss_buf_append(b, ",", 1) || ss_buf_append(b, s, (size_t)(close - s))))
				return -1;
		}
	}
	if (with_beats) {
		/* {"beats":[...],"downbeats":[...]} (ss_result_beats_text): its members are spliced; rows stored
		 * before downbeats existed hold the beats array alone */
		const char *beats = (const char *)sqlite3_column_text(st, 7);
		const char *open = beats != NULL ? strchr(beats, '{') : NULL;
		const char *close = open != NULL ? strrchr(open, '}') : NULL;
		if (open != NULL && close != NULL && close > open + 1) {
			if (ss_buf_append(b, ",", 1) || ss_buf_append(b, open + 1, (size_t)(close - open - 1)))
				return -1;
		} else if (ss_buf_puts(b, ",\"beats\":") || ss_buf_puts(b, beats != NULL && open == NULL ? beats : "[]") ||
			   ss_buf_puts(b, ",\"downbeats\":[]")) {
			return -1;
		}
	}
	bool verified = sqlite3_column_int(st, 8) != 0;
	if (ss_buf_puts(b, verified ? ",\"user_verified\":true" : ",\"user_verified\":false") ||
	    ss_buf_puts(b, ",\"manual_bpm\":") ||
	    ss_render_json_num(b, sqlite3_column_type(st, 9) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 9)) ||
	    ss_buf_puts(b, ",\"manual_key\":") || ss_render_json_str(b, (const char *)sqlite3_column_text(st, 10)) ||
	    ss_buf_puts(b, ",\"bpm_notes\":") || ss_render_json_str(b, (const char *)sqlite3_column_text(st, 11)) ||
	    ss_buf_puts(b, "}"))
		return -1;
	return 0;
}

static const char SQL_RENDER[] = "SELECT " ROW_COLS ROW_FROM " WHERE c.cache_key = ?1";

int ss_cache_render(ss_db *db, const char *cache_key, bool cached, bool with_beats, ss_buf *out, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_RENDER);
	if (st == NULL)
		return db_err(db, err, "preparing cache lookup");
	sqlite3_bind_text(st, 1, cache_key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int found = 0;
	if (rc == SQLITE_ROW) {
		size_t mark = out->len;
		if (append_row(st, cached, with_beats, out) != 0) {
			out->len = mark;
			if (out->data)
				out->data[mark] = '\0';
			sqlite3_reset(st);
			return ss_error_set(err, SS_ERR_NOMEM, "The response does not fit in memory.");
		}
		found = 1;
	} else if (rc != SQLITE_DONE) {
		db_err(db, err, "cache lookup");
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return found;
}

/* Keys are lower-case hex, so [prefix, prefix || 'g') is exactly the keys starting with prefix: a range on the
 * UNIQUE index. */
static const char SQL_KEY_BY_PREFIX[] =
	"SELECT cache_key FROM analysis_cache WHERE cache_key >= ?1 AND cache_key < ?2 ORDER BY cache_key LIMIT 1";

int ss_cache_key_by_prefix(ss_db *db, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err)
{
	key[0] = '\0';
	size_t n = strlen(hex_prefix);
	if (n == 0 || n > 64 || strspn(hex_prefix, "0123456789abcdef") != n)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "A cache key prefix is 1..64 lower-case hex digits.");
	char upper[66];
	memcpy(upper, hex_prefix, n);
	upper[n] = 'g';
	upper[n + 1] = '\0';
	sqlite3_stmt *st = ss_db_prepare(db, SQL_KEY_BY_PREFIX);
	if (st == NULL)
		return db_err(db, err, "preparing cache key lookup");
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
		db_err(db, err, "cache key lookup");
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

static int append_rows(ss_db *db, sqlite3_stmt *st, ss_buf *out, ss_error *err)
{
	int n = 0, rc;
	if (ss_buf_puts(out, "[") != 0)
		goto nomem;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((n > 0 && ss_buf_puts(out, ",") != 0) || append_row(st, true, false, out) != 0)
			goto nomem;
		n++;
	}
	if (rc != SQLITE_DONE) {
		db_err(db, err, "reading the cache");
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	if (ss_buf_puts(out, "]") != 0)
		return ss_error_set(err, SS_ERR_NOMEM, "The response does not fit in memory.");
	return n;
nomem:
	sqlite3_reset(st);
	return ss_error_set(err, SS_ERR_NOMEM, "The response does not fit in memory.");
}

static const char SQL_LIST_NS[] = "SELECT " ROW_COLS ROW_FROM " WHERE c.cache_namespace = ?1"
				  " ORDER BY c.analyzed_at DESC, c.id DESC LIMIT ?2 OFFSET ?3";
static const char SQL_LIST_ALL[] = "SELECT " ROW_COLS ROW_FROM
				   " ORDER BY c.analyzed_at DESC, c.id DESC LIMIT ?2 OFFSET ?3";

int ss_cache_list(ss_db *db, const char *ns, int limit, long long offset, ss_buf *out, ss_error *err)
{
	if (limit < 1 || limit > SS_CACHE_LIST_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "limit must be 1..%d.", SS_CACHE_LIST_MAX);
	if (offset < 0 || offset > SS_CACHE_OFFSET_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST,
				    "offset must be 0..%d (each page skips the rows before it); to read the whole cache"
				    " use GET /cache/export, which streams every row.",
				    SS_CACHE_OFFSET_MAX);
	sqlite3_stmt *st = ss_db_prepare(db, ns ? SQL_LIST_NS : SQL_LIST_ALL);
	if (st == NULL)
		return db_err(db, err, "preparing cache listing");
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit);
	sqlite3_bind_int64(st, 3, offset);
	return append_rows(db, st, out, err);
}

char *ss_cache_like_pattern(const char *q)
{
	size_t n = strlen(q);
	char *p = malloc(2 * n + 3);
	if (p == NULL)
		return NULL;
	size_t j = 0;
	p[j++] = '%';
	for (size_t i = 0; i < n; i++) {
		if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
			p[j++] = '\\';
		p[j++] = q[i];
	}
	p[j++] = '%';
	p[j] = '\0';
	return p;
}

/* Search: 3 or more characters go through the trigram index (schema step 5), which yields every row whose
 * title or artist contains q case-folded (a superset of what LIKE accepts); each candidate is then checked
 * with the same LIKE as always, so the answer is exactly the LIKE answer. The candidates are ordered by time
 * on (time, id) alone and only the newest rows are read whole; the CROSS JOINs keep SQLite from walking the
 * time index instead. Each candidate costs a row read in id order (about 7 times a row of the scan, measured
 * by tools/bench-search.c), while a scan newest first stops after the limit's matches: about
 * limit * rows / candidates rows when matches are spread evenly. So a q with more than sqrt(16 * rows)
 * candidates (bounded to SEARCH_INDEX_MIN..SS_CACHE_SEARCH_INDEX_MAX) is common enough to take the scan; the
 * cost of either path stays near sqrt(rows). Queries of 0-2 characters cannot use trigrams: they scan the
 * newest SS_CACHE_SHORT_SEARCH_ROWS rows only. */
#define SEARCH_INDEX_MIN 1000
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
		return db_err(db, err, "preparing cache search");
	sqlite3_bind_text(st, 1, phrase, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, SS_CACHE_SEARCH_INDEX_MAX + 1);
	int rv = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		long long cand = sqlite3_column_int64(st, 0), rows = sqlite3_column_int64(st, 1);
		long long k = (long long)sqrt(16.0 * (double)rows);
		if (k < SEARCH_INDEX_MIN)
			k = SEARCH_INDEX_MIN;
		if (k > SS_CACHE_SEARCH_INDEX_MAX)
			k = SS_CACHE_SEARCH_INDEX_MAX;
		rv = cand <= k;
	} else {
		db_err(db, err, "searching the cache index");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv;
}

/* Characters (UTF-8 code points) in s. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
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

int ss_cache_search(ss_db *db, const char *ns, const char *q, int limit, ss_buf *out, ss_error *err)
{
	if (limit < 1 || limit > SS_CACHE_SEARCH_MAX)
		limit = SS_CACHE_SEARCH_MAX;
	if (q == NULL)
		q = "";
	bool fts = utf8_chars(q) >= 3;
	char *pat = ss_cache_like_pattern(q);
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
		return db_err(db, err, "preparing cache search");
	}
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pat, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, limit);
	if (fts)
		sqlite3_bind_text(st, 4, phrase, -1, SQLITE_STATIC);
	else if (phrase == NULL)
		sqlite3_bind_int(st, 4, SS_CACHE_SHORT_SEARCH_ROWS);
	int n = append_rows(db, st, out, err);
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
		db_err(db, err, what);
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
		db_err(db, err, what);
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

int ss_cache_delete(ss_db *db, long long id, ss_error *err)
{
	long long n = 0;
	if (exec_changes(db, SQL_DELETE, NULL, id, &n, err, "deleting a cache row") != 0)
		return -1;
	return n > 0 ? 1 : 0;
}

static const char SQL_CLEAR_NS[] = "DELETE FROM analysis_cache WHERE cache_namespace = ?1";
static const char SQL_CLEAR_ALL[] = "DELETE FROM analysis_cache";

int ss_cache_clear(ss_db *db, const char *ns, long long *deleted, ss_error *err)
{
	*deleted = 0;
	return exec_changes(db, ns ? SQL_CLEAR_NS : SQL_CLEAR_ALL, ns, -1, deleted, err, "clearing the cache");
}

static const char SQL_COUNT_NS[] = "SELECT count(*) FROM analysis_cache WHERE cache_namespace = ?1";
static const char SQL_COUNT_ALL[] = "SELECT count(*) FROM analysis_cache";

long long ss_cache_count(ss_db *db, const char *ns, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, ns ? SQL_COUNT_NS : SQL_COUNT_ALL);
	if (st == NULL)
		return db_err(db, err, "preparing count");
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	long long n = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		db_err(db, err, "counting cache rows");
	sqlite3_reset(st);
	return n;
}

static const char SQL_HAS_SOURCE[] = "SELECT 1 FROM analysis_cache WHERE cache_namespace = ?1 AND source = ?2 LIMIT 1";

int ss_cache_has_source(ss_db *db, const char *ns, const char *source, ss_error *err)
{
	sqlite3_stmt *st = ss_db_prepare(db, SQL_HAS_SOURCE);
	if (st == NULL)
		return db_err(db, err, "preparing source lookup");
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_err(db, err, "source lookup");
}
