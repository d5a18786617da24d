/* The analysis cache and the manual overrides on PostgreSQL: the SQLite backend's statements with upserts
 * (INSERT ... ON CONFLICT), ILIKE served by the trigram index for search, and cursors for the export. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/postgresql/pg_schema.h"
#include "core/store/postgresql/pg_store.h"

#define NOW SS_PG_NOW_UTC

/* Columns every row query selects, in this order (see fill_row). BEATS is c.beats_json or NULL. */
#define ROW_COLS_WITH(BEATS)                                                                                      \
	"c.id, c.cache_key, c.cache_namespace, c.source_kind, c.source, c.preview_url, c.title, c.artist, "         \
	SS_PG_TIME("c.analyzed_at") ", c.result_json, " BEATS ", c.bpm, c.bpm_confidence, c.key, c.key_confidence," \
	" c.energy, c.danceability, c.acousticness, c.spectral_centroid, c.time_signature, c.valence, c.mood,"      \
	" c.loudness, c.dynamic_range, c.silence_ratio, c.analysis_duration, o.source IS NOT NULL, o.manual_bpm,"   \
	" o.manual_key, o.bpm_notes, " SS_PG_TIME("o.verified_at")
#define ROW_COLS ROW_COLS_WITH("NULL::text")
#define ROW_COLS_BEATS ROW_COLS_WITH("c.beats_json")
#define ROW_JOIN " LEFT JOIN overrides o ON o.cache_namespace = c.cache_namespace AND o.source = c.source"
#define ROW_FROM " FROM analysis_cache c" ROW_JOIN

static void fill_row(const PGresult *r, int i, ss_cache_row *w)
{
	memset(w, 0, sizeof *w);
	w->id = ss_pg_int(r, i, 0);
	w->cache_key = ss_pg_str(r, i, 1);
	w->ns = ss_pg_str(r, i, 2);
	w->source_kind = ss_pg_str(r, i, 3);
	w->source = ss_pg_str(r, i, 4);
	w->preview_url = ss_pg_str(r, i, 5);
	w->title = ss_pg_str(r, i, 6);
	w->artist = ss_pg_str(r, i, 7);
	w->analyzed_at = ss_pg_str(r, i, 8);
	w->result_json = ss_pg_str(r, i, 9);
	w->beats_json = ss_pg_str(r, i, 10);
	w->bpm = ss_pg_num(r, i, 11);
	w->bpm_confidence = ss_pg_num(r, i, 12);
	w->key = ss_pg_str(r, i, 13);
	w->key_confidence = ss_pg_num(r, i, 14);
	w->energy = ss_pg_num(r, i, 15);
	w->danceability = ss_pg_num(r, i, 16);
	w->acousticness = ss_pg_num(r, i, 17);
	w->spectral_centroid = ss_pg_num(r, i, 18);
	w->time_signature = ss_pg_str(r, i, 19);
	w->valence = ss_pg_num(r, i, 20);
	w->mood = ss_pg_str(r, i, 21);
	w->loudness = ss_pg_num(r, i, 22);
	w->dynamic_range = ss_pg_num(r, i, 23);
	w->silence_ratio = ss_pg_num(r, i, 24);
	w->analysis_duration = ss_pg_num(r, i, 25);
	w->user_verified = ss_pg_bool(r, i, 26);
	w->manual_bpm = ss_pg_num(r, i, 27);
	w->manual_key = ss_pg_str(r, i, 28);
	w->notes = ss_pg_str(r, i, 29);
	w->verified_at = ss_pg_str(r, i, 30);
}

/* Pass every row of r to fn. Returns the row count or -2 when fn stopped; clears r. */
static int emit_rows(PGresult *r, ss_cache_row_fn fn, void *arg)
{
	int n = PQntuples(r), i;
	for (i = 0; i < n; i++) {
		ss_cache_row row;
		fill_row(r, i, &row);
		if (fn(arg, &row) != 0)
			break;
	}
	PQclear(r);
	return i < n ? -2 : n;
}

static ss_pgconn *conn(ss_store *s)
{
	return ss_pgstore_of(s)->c;
}

/* The 24 values of a cache write, in the column order of SQL_PUT and SQL_IMPORT. */
static void write_params(ss_pgparams *p, const ss_cache_write *w)
{
	ss_pgparams_init(p);
	ss_pgparams_text(p, w->cache_key);
	ss_pgparams_text(p, w->ns);
	ss_pgparams_text(p, w->source_kind);
	ss_pgparams_text(p, w->source);
	ss_pgparams_text(p, w->preview_url);
	ss_pgparams_text(p, w->title);
	ss_pgparams_text(p, w->artist);
	ss_pgparams_num(p, w->bpm);
	ss_pgparams_num(p, w->bpm_confidence);
	ss_pgparams_text(p, w->key);
	ss_pgparams_num(p, w->key_confidence);
	ss_pgparams_num(p, w->energy);
	ss_pgparams_num(p, w->danceability);
	ss_pgparams_num(p, w->acousticness);
	ss_pgparams_num(p, w->spectral_centroid);
	ss_pgparams_text(p, w->time_signature);
	ss_pgparams_num(p, w->valence);
	ss_pgparams_text(p, w->mood);
	ss_pgparams_num(p, w->loudness);
	ss_pgparams_num(p, w->dynamic_range);
	ss_pgparams_num(p, w->silence_ratio);
	ss_pgparams_text(p, w->result_json);
	ss_pgparams_text(p, w->beats_json);
	ss_pgparams_num(p, w->analysis_duration);
}

#define WRITE_COLS                                                                                           \
	"cache_key, cache_namespace, source_kind, source, preview_url, title, artist, bpm, bpm_confidence, key,"  \
	" key_confidence, energy, danceability, acousticness, spectral_centroid, time_signature, valence, mood,"  \
	" loudness, dynamic_range, silence_ratio, result_json, beats_json, analysis_duration, analyzed_at"
#define WRITE_VALUES "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24"

/* One statement, so one atomic step (what BEGIN IMMEDIATE gave the SQLite backend): the row is inserted, or the
 * existing one (same id, so links to it stay valid) takes the new analysis. */
static const char SQL_PUT[] =
	"INSERT INTO analysis_cache(" WRITE_COLS ") VALUES (" WRITE_VALUES ", " NOW ")"
	" ON CONFLICT (cache_key) DO UPDATE SET preview_url = excluded.preview_url, title = excluded.title,"
	" artist = excluded.artist, bpm = excluded.bpm, bpm_confidence = excluded.bpm_confidence, key = excluded.key,"
	" key_confidence = excluded.key_confidence, energy = excluded.energy, danceability = excluded.danceability,"
	" acousticness = excluded.acousticness, spectral_centroid = excluded.spectral_centroid,"
	" time_signature = excluded.time_signature, valence = excluded.valence, mood = excluded.mood,"
	" loudness = excluded.loudness, dynamic_range = excluded.dynamic_range, silence_ratio = excluded.silence_ratio,"
	" result_json = excluded.result_json, beats_json = excluded.beats_json,"
	" analysis_duration = excluded.analysis_duration, analyzed_at = excluded.analyzed_at"
	" RETURNING id";

int ss_pg_cache_put(ss_store *s, const ss_cache_write *w, int64_t *id, ss_error *err)
{
	ss_pgparams p;
	write_params(&p, w);
	PGresult *r = ss_pgconn_run(conn(s), SQL_PUT, &p, "storing an analysis", err);
	if (r == NULL)
		return -1;
	if (id != NULL)
		*id = PQntuples(r) > 0 ? ss_pg_int(r, 0, 0) : -1;
	PQclear(r);
	return 0;
}

static const char SQL_IMPORT[] = "INSERT INTO analysis_cache(" WRITE_COLS ") VALUES (" WRITE_VALUES
				 ", COALESCE($25::timestamp, " NOW ")) ON CONFLICT (cache_key) DO NOTHING";

int ss_pg_cache_import(ss_store *s, const ss_cache_write *w, ss_error *err)
{
	ss_pgparams p;
	write_params(&p, w);
	char t[20];
	ss_pgparams_text(&p, ss_pg_time_text(w->analyzed_at, t));
	long long n = ss_pgconn_run_count(conn(s), SQL_IMPORT, &p, "importing a cache row", err);
	if (n > 0)
		ss_pgstore_of(s)->bulk_rows++;
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

static const char SQL_GET[] = "SELECT " ROW_COLS ROW_FROM " WHERE c.cache_key = $1";
static const char SQL_GET_BEATS[] = "SELECT " ROW_COLS_BEATS ROW_FROM " WHERE c.cache_key = $1";

int ss_pg_cache_get(ss_store *s, const char *cache_key, unsigned flags, ss_cache_row_fn fn, void *arg, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, cache_key);
	PGresult *r = ss_pgconn_run(conn(s), (flags & SS_CACHE_ROW_BEATS) ? SQL_GET_BEATS : SQL_GET, &p, "cache lookup",
				    err);
	if (r == NULL)
		return -1;
	int n = emit_rows(r, fn, arg);
	return n < 0 ? n : n > 0 ? 1 : 0;
}

/* The page's ids first, from the (namespace, time, id) index alone when the visibility map allows, then only those
 * rows are read: skipping `offset` rows costs index entries, not rows. */
static const char SQL_LIST_NS[] =
	"SELECT " ROW_COLS " FROM (SELECT id FROM analysis_cache WHERE cache_namespace = $1"
	" ORDER BY analyzed_at DESC, id DESC LIMIT $2 OFFSET $3) p JOIN analysis_cache c ON c.id = p.id" ROW_JOIN
	" ORDER BY c.analyzed_at DESC, c.id DESC";
static const char SQL_LIST_ALL[] =
	"SELECT " ROW_COLS " FROM (SELECT id FROM analysis_cache ORDER BY analyzed_at DESC, id DESC LIMIT $1 OFFSET $2) p"
	" JOIN analysis_cache c ON c.id = p.id" ROW_JOIN " ORDER BY c.analyzed_at DESC, c.id DESC";

int ss_pg_cache_list(ss_store *s, const char *ns, int limit, long long offset, ss_cache_row_fn fn, void *arg,
		     ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	if (ns != NULL)
		ss_pgparams_text(&p, ns);
	ss_pgparams_int(&p, limit);
	ss_pgparams_int(&p, offset);
	PGresult *r = ss_pgconn_run(conn(s), ns != NULL ? SQL_LIST_NS : SQL_LIST_ALL, &p, "listing the cache", err);
	return r == NULL ? -1 : emit_rows(r, fn, arg);
}

/* 3 or more characters: every row, through the trigram index (idx_cache_trgm) when the planner finds it cheaper
 * than reading the newest rows until `limit` match (a common q); both give the ILIKE answer. Title and artist are
 * COLLATE "C", so ILIKE folds ASCII letters only, like SQLite's LIKE. Shorter: the newest
 * SS_CACHE_SHORT_SEARCH_ROWS rows only, as in the SQLite backend. */
#define SEARCH_MATCH " (c.title ILIKE $2 ESCAPE '\\' OR c.artist ILIKE $2 ESCAPE '\\')"
#define SEARCH_ORDER " ORDER BY c.analyzed_at DESC, c.id DESC LIMIT $3"
static const char SQL_SEARCH_NS[] = "SELECT " ROW_COLS ROW_FROM " WHERE c.cache_namespace = $1 AND" SEARCH_MATCH
				    SEARCH_ORDER;
static const char SQL_SEARCH_ALL[] =
	"SELECT " ROW_COLS ROW_FROM " WHERE $1::text IS NULL AND" SEARCH_MATCH SEARCH_ORDER;
static const char SQL_SEARCH_SHORT_NS[] =
	"SELECT " ROW_COLS " FROM (SELECT * FROM analysis_cache WHERE cache_namespace = $1"
	" ORDER BY analyzed_at DESC, id DESC LIMIT $4) c" ROW_JOIN " WHERE" SEARCH_MATCH SEARCH_ORDER;
static const char SQL_SEARCH_SHORT_ALL[] =
	"SELECT " ROW_COLS " FROM (SELECT * FROM analysis_cache WHERE $1::text IS NULL"
	" ORDER BY analyzed_at DESC, id DESC LIMIT $4) c" ROW_JOIN " WHERE" SEARCH_MATCH SEARCH_ORDER;

int ss_pg_cache_search(ss_store *s, const char *ns, const char *q, int limit, ss_cache_row_fn fn, void *arg,
		       ss_error *err)
{
	if (q == NULL)
		q = "";
	char *pat = ss_store_like_pattern(q);
	if (pat == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	bool full = ss_store_utf8_chars(q) >= 3;
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, ns);
	ss_pgparams_text(&p, pat);
	ss_pgparams_int(&p, limit);
	PGresult *r;
	if (full) {
		/* planned for this pattern: whether the index pays depends on how common q is */
		r = ss_pgconn_run_once(conn(s), ns != NULL ? SQL_SEARCH_NS : SQL_SEARCH_ALL, &p, "searching the cache", err);
	} else {
		ss_pgparams_int(&p, SS_CACHE_SHORT_SEARCH_ROWS);
		r = ss_pgconn_run(conn(s), ns != NULL ? SQL_SEARCH_SHORT_NS : SQL_SEARCH_SHORT_ALL, &p,
				  "searching the cache", err);
	}
	free(pat);
	return r == NULL ? -1 : emit_rows(r, fn, arg);
}

typedef struct export_ctx {
	ss_cache_row_fn fn;
	void *arg;
} export_ctx;

static int export_row(void *arg, const PGresult *r, int i)
{
	export_ctx *x = arg;
	ss_cache_row row;
	fill_row(r, i, &row);
	return x->fn(x->arg, &row);
}

#define EXPORT_ORDER " ORDER BY lower(c.artist), lower(c.title), c.id"
static const char SQL_EXPORT_NS[] = "SELECT " ROW_COLS ROW_FROM " WHERE c.cache_namespace = $1" EXPORT_ORDER;
static const char SQL_EXPORT_ALL[] = "SELECT " ROW_COLS ROW_FROM EXPORT_ORDER;
static const char SQL_EXPORT_NS_BEATS[] =
	"SELECT " ROW_COLS_BEATS ROW_FROM " WHERE c.cache_namespace = $1" EXPORT_ORDER;
static const char SQL_EXPORT_ALL_BEATS[] = "SELECT " ROW_COLS_BEATS ROW_FROM EXPORT_ORDER;
static const char SQL_COUNT_NS[] = "SELECT count(*) FROM analysis_cache WHERE cache_namespace = $1";
static const char SQL_COUNT_ALL[] = "SELECT count(*) FROM analysis_cache";

int ss_pg_cache_export(ss_store *s, const char *ns, unsigned flags, int (*total)(void *arg, long long rows),
		       ss_cache_row_fn fn, void *arg, ss_error *err)
{
	ss_pgconn *c = conn(s);
	bool own = !ss_pgconn_in_transaction(c);
	if (own && ss_pgconn_begin(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) != 0)
		return -1;
	ss_pgparams p;
	ss_pgparams_init(&p);
	if (ns != NULL)
		ss_pgparams_text(&p, ns);
	long long n = -1;
	PGresult *r = ss_pgconn_run(c, ns != NULL ? SQL_COUNT_NS : SQL_COUNT_ALL, &p, "counting the cache", err);
	if (r != NULL) {
		long long rows = ss_pg_int(r, 0, 0);
		PQclear(r);
		n = total != NULL && total(arg, rows) != 0 ? -2 : 0;
	}
	if (n == 0) {
		bool beats = (flags & SS_CACHE_ROW_BEATS) != 0;
		const char *sql = ns != NULL ? (beats ? SQL_EXPORT_NS_BEATS : SQL_EXPORT_NS)
					     : (beats ? SQL_EXPORT_ALL_BEATS : SQL_EXPORT_ALL);
		export_ctx x = {fn, arg};
		n = ss_pgconn_stream(c, sql, &p, export_row, &x, "exporting the cache", err);
	}
	if (own)
		ss_pgconn_rollback(c); /* read only: nothing to commit */
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static const char SQL_DELETE[] = "DELETE FROM analysis_cache WHERE id = $1";

int ss_pg_cache_delete(ss_store *s, int64_t id, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_int(&p, id);
	long long n = ss_pgconn_run_count(conn(s), SQL_DELETE, &p, "deleting a cache row", err);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

static const char SQL_CLEAR_NS[] = "DELETE FROM analysis_cache WHERE cache_namespace = $1";
static const char SQL_CLEAR_ALL[] = "DELETE FROM analysis_cache";

int ss_pg_cache_clear(ss_store *s, const char *ns, long long *deleted, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	if (ns != NULL)
		ss_pgparams_text(&p, ns);
	*deleted = 0;
	long long n =
		ss_pgconn_run_count(conn(s), ns != NULL ? SQL_CLEAR_NS : SQL_CLEAR_ALL, &p, "clearing the cache", err);
	if (n < 0)
		return -1;
	*deleted = n;
	return 0;
}

long long ss_pg_cache_count(ss_store *s, const char *ns, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	if (ns != NULL)
		ss_pgparams_text(&p, ns);
	PGresult *r = ss_pgconn_run(conn(s), ns != NULL ? SQL_COUNT_NS : SQL_COUNT_ALL, &p, "counting cache rows", err);
	if (r == NULL)
		return -1;
	long long n = ss_pg_int(r, 0, 0);
	PQclear(r);
	return n;
}

static const char SQL_HAS_SOURCE[] = "SELECT 1 FROM analysis_cache WHERE cache_namespace = $1 AND source = $2 LIMIT 1";

int ss_pg_cache_has_source(ss_store *s, const char *ns, const char *source, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, ns);
	ss_pgparams_text(&p, source);
	PGresult *r = ss_pgconn_run(conn(s), SQL_HAS_SOURCE, &p, "source lookup", err);
	if (r == NULL)
		return -1;
	int n = PQntuples(r) > 0 ? 1 : 0;
	PQclear(r);
	return n;
}

static const char SQL_KEY_BY_PREFIX[] =
	"SELECT cache_key FROM analysis_cache WHERE (cache_key COLLATE \"C\") >= $1 AND (cache_key COLLATE \"C\") < $2"
	" ORDER BY (cache_key COLLATE \"C\") LIMIT 1";

int ss_pg_cache_key_by_prefix(ss_store *s, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err)
{
	size_t n = strlen(hex_prefix);
	assert(n >= 1 && n <= 64);
	char upper[66];
	memcpy(upper, hex_prefix, n); /* the first string after every key with this prefix: 'g' follows 'f' */
	upper[n] = 'g';
	upper[n + 1] = '\0';
	key[0] = '\0';
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, hex_prefix);
	ss_pgparams_text(&p, upper);
	PGresult *r = ss_pgconn_run(conn(s), SQL_KEY_BY_PREFIX, &p, "cache key lookup", err);
	if (r == NULL)
		return -1;
	int found = 0;
	const char *k = PQntuples(r) > 0 ? ss_pg_str(r, 0, 0) : NULL;
	if (k != NULL && strlen(k) < SS_SHA256_HEX) {
		memcpy(key, k, strlen(k) + 1);
		found = 1;
	}
	PQclear(r);
	return found;
}

/* One statement: stored only when the song is cached (the EXISTS), and each field changed only when asked. */
static const char SQL_OVERRIDE_SET[] =
	"INSERT INTO overrides(cache_namespace, source, manual_bpm, manual_key, bpm_notes)"
	" SELECT $1::text, $2::text, $3::double precision, $4::text, $5::text"
	" WHERE EXISTS (SELECT 1 FROM analysis_cache WHERE cache_namespace = $1::text AND source = $2::text)"
	" ON CONFLICT (cache_namespace, source) DO UPDATE SET"
	" manual_bpm = CASE WHEN $6::boolean THEN excluded.manual_bpm ELSE overrides.manual_bpm END,"
	" manual_key = CASE WHEN $7::boolean THEN excluded.manual_key ELSE overrides.manual_key END,"
	" bpm_notes = CASE WHEN $8::boolean THEN excluded.bpm_notes ELSE overrides.bpm_notes END,"
	" verified_at = " NOW;

int ss_pg_override_set(ss_store *s, const char *ns, const char *source, const ss_override_update *u, ss_error *err)
{
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, ns);
	ss_pgparams_text(&p, source);
	ss_pgparams_num(&p, u->set_bpm ? u->bpm : NAN);
	ss_pgparams_text(&p, u->set_key ? u->key : NULL);
	ss_pgparams_text(&p, u->set_notes ? u->notes : NULL);
	ss_pgparams_bool(&p, u->set_bpm);
	ss_pgparams_bool(&p, u->set_key);
	ss_pgparams_bool(&p, u->set_notes);
	long long n = ss_pgconn_run_count(conn(s), SQL_OVERRIDE_SET, &p, "storing an override", err);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

static const char SQL_OVERRIDE_IMPORT[] =
	"INSERT INTO overrides(cache_namespace, source, manual_bpm, manual_key, bpm_notes, verified_at)"
	" VALUES ($1, $2, $3, $4, $5, COALESCE($6::timestamp, " NOW ")) ON CONFLICT (cache_namespace, source) DO NOTHING";

int ss_pg_override_import(ss_store *s, const char *ns, const char *source, double bpm, const char *key,
			  const char *notes, const char *verified_at, ss_error *err)
{
	char t[20];
	ss_pgparams p;
	ss_pgparams_init(&p);
	ss_pgparams_text(&p, ns);
	ss_pgparams_text(&p, source);
	ss_pgparams_num(&p, bpm);
	ss_pgparams_text(&p, key);
	ss_pgparams_text(&p, notes);
	ss_pgparams_text(&p, ss_pg_time_text(verified_at, t));
	long long n = ss_pgconn_run_count(conn(s), SQL_OVERRIDE_IMPORT, &p, "importing an override", err);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

typedef struct override_ctx {
	int (*fn)(void *arg, const ss_override_row *o);
	void *arg;
} override_ctx;

static int override_row(void *arg, const PGresult *r, int i)
{
	override_ctx *x = arg;
	ss_override_row o = {
		.ns = ss_pg_str(r, i, 0),
		.source = ss_pg_str(r, i, 1),
		.manual_bpm = ss_pg_num(r, i, 2),
		.manual_key = ss_pg_str(r, i, 3),
		.notes = ss_pg_str(r, i, 4),
		.verified_at = ss_pg_str(r, i, 5),
	};
	return x->fn(x->arg, &o);
}

static const char SQL_OVERRIDE_LIST[] = "SELECT cache_namespace, source, manual_bpm, manual_key, bpm_notes, "
					SS_PG_TIME("verified_at") " FROM overrides ORDER BY cache_namespace, source";

long long ss_pg_override_list(ss_store *s, int (*fn)(void *arg, const ss_override_row *o), void *arg, ss_error *err)
{
	override_ctx x = {fn, arg};
	return ss_pgconn_stream(conn(s), SQL_OVERRIDE_LIST, NULL, override_row, &x, "listing overrides", err);
}
