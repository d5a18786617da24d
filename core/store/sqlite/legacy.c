#include "core/store/sqlite/legacy.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/analysis/result.h"
#include "core/store/cache.h"
#include "core/store/sqlite/db.h"
#include "core/util/render.h"
#include "core/util/buf.h"
#include "core/util/jsonutil.h"

#define SKIP_SUFFIX "::chunk=skip"
#define UPLOAD_PREFIX "audiodata://"
#define DEFAULT_BATCH 10000

struct ss_legacy {
	sqlite3 *h;
	char *path;
	ss_legacy_version version;
	bool has_stats, has_keys;
	char select_sql[2048]; /* the analysis_cache SELECT for this file's columns, without WHERE */
};

/* analysis_cache columns read, in this order; the first REQUIRED ones exist in every version. */
enum {
	C_ID, C_TITLE, C_ARTIST, C_PREVIEW, C_BPM, C_BPM_CONF, C_KEY, C_KEY_CONF, C_ENERGY, C_DANCE, C_ACOUSTIC,
	C_CENTROID, C_ANALYZED, C_DURATION, C_VERIFIED, C_MANUAL_BPM, C_MANUAL_KEY, C_NOTES,
	REQUIRED,
	C_NS = REQUIRED, C_TS, C_VALENCE, C_MOOD, C_LOUDNESS, C_DR, C_SILENCE, C_KEY_DETAILS, C_CHUNK, C_TIMING,
	C_DYN_COMPLEXITY, C_TONAL, C_SPEC_COMPLEXITY, C_ZCR, C_FLUX, C_PERC, C_HARM,
	NCOLS
};

static const char *const col_names[NCOLS] = {
	"id", "title", "artist", "preview_url", "bpm", "bpm_confidence", "key", "key_confidence", "energy",
	"danceability", "acousticness", "spectral_centroid", "analyzed_at", "analysis_duration", "user_verified",
	"manual_bpm", "manual_key", "bpm_notes", "cache_namespace", "time_signature", "valence", "mood", "loudness",
	"dynamic_range", "silence_ratio", "key_details", "chunk_analysis", "analysis_timing", "dynamic_complexity",
	"tonal_strength", "spectral_complexity", "zero_crossing_rate", "spectral_flux", "percussive_energy_ratio",
	"harmonic_energy_ratio"};

/* Text columns, read through songscope_utf8: the original wrote UTF-8, but a file edited by other tools may
 * hold other bytes, which a PostgreSQL store refuses and JSON cannot carry; they are read as ISO-8859-1. */
static const bool col_is_text[NCOLS] = {
	[C_TITLE] = true, [C_ARTIST] = true, [C_PREVIEW] = true, [C_KEY] = true, [C_ANALYZED] = true,
	[C_MANUAL_KEY] = true, [C_NOTES] = true, [C_NS] = true, [C_TS] = true, [C_MOOD] = true, [C_KEY_DETAILS] = true};

const char *ss_legacy_schema_name(ss_legacy_version v)
{
	return v == SS_LEGACY_V4 ? "V4-V8" : v == SS_LEGACY_V3 ? "V3" : "V1-V2";
}

ss_legacy_version ss_legacy_schema(const ss_legacy *l)
{
	return l->version;
}

void ss_legacy_close(ss_legacy *l)
{
	if (l == NULL)
		return;
	sqlite3_close(l->h);
	free(l->path);
	free(l);
}

static int lfail(ss_legacy *l, ss_error *err, const char *what)
{
	int code = sqlite3_errcode(l->h) & 0xff;
	if (code == SQLITE_NOTADB)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "%s is not an SQLite database", l->path);
	return ss_error_set(err, SS_ERR_DB, "%s: %s: %s", l->path, what, sqlite3_errmsg(l->h));
}

/* Does table exist? 1, 0 or -1. */
static int has_table(ss_legacy *l, const char *table, ss_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(l->h, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return lfail(l, err, "reading the schema");
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return lfail(l, err, "reading the schema");
	return rc == SQLITE_ROW;
}

/* Which of col_names (and a few songscope-only names) analysis_cache has. */
static int read_columns(ss_legacy *l, bool present[NCOLS], bool *songscope, ss_error *err)
{
	sqlite3_stmt *st;
	memset(present, 0, NCOLS * sizeof present[0]);
	*songscope = false;
	if (sqlite3_prepare_v2(l->h, "SELECT name FROM pragma_table_info('analysis_cache')", -1, &st, NULL) != SQLITE_OK)
		return lfail(l, err, "reading analysis_cache's columns");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		if (n == NULL)
			continue;
		if (strcmp(n, "cache_key") == 0 || strcmp(n, "result_json") == 0)
			*songscope = true;
		for (int i = 0; i < NCOLS; i++)
			if (strcmp(n, col_names[i]) == 0)
				present[i] = true;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return lfail(l, err, "reading analysis_cache's columns");
	return 0;
}

int ss_legacy_open(const char *path, ss_legacy **out, ss_error *err)
{
	*out = NULL;
	if (access(path, R_OK) != 0)
		return ss_error_set(err, SS_ERR_IO, "cannot read %s: %s", path, strerror(errno));
	ss_legacy *l = calloc(1, sizeof *l);
	if (l == NULL || (l->path = strdup(path)) == NULL) {
		free(l);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory opening %s", path);
	}
	if (sqlite3_open_v2(path, &l->h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		lfail(l, err, "cannot open");
		ss_legacy_close(l);
		return -1;
	}
	sqlite3_busy_timeout(l->h, SS_DB_BUSY_TIMEOUT_MS);
	if (ss_db_register_utf8(l->h) != 0) {
		lfail(l, err, "registering a function");
		ss_legacy_close(l);
		return -1;
	}
	int t = has_table(l, "analysis_cache", err);
	if (t <= 0) {
		if (t == 0)
			ss_error_set(err, SS_ERR_BAD_REQUEST,
				     "%s is not a database of the original server: it has no analysis_cache table", path);
		ss_legacy_close(l);
		return -1;
	}
	bool present[NCOLS], songscope;
	if (read_columns(l, present, &songscope, err) != 0) {
		ss_legacy_close(l);
		return -1;
	}
	if (songscope) {
		ss_legacy_close(l);
		return ss_error_set(err, SS_ERR_BAD_REQUEST,
				    "%s is a songscope database, not one of the original server (use db backup/restore to "
				    "move it)",
				    path);
	}
	for (int i = 0; i < REQUIRED; i++)
		if (!present[i]) {
			ss_legacy_close(l);
			return ss_error_set(err, SS_ERR_BAD_REQUEST,
					    "%s is not a database of the original server: analysis_cache has no column %s",
					    path, col_names[i]);
		}
	l->version = present[C_NS] ? SS_LEGACY_V4 : present[C_TS] ? SS_LEGACY_V3 : SS_LEGACY_V1;
	int s = has_table(l, "server_stats", err), k = s < 0 ? -1 : has_table(l, "api_keys", err);
	if (s < 0 || k < 0) {
		ss_legacy_close(l);
		return -1;
	}
	l->has_stats = s == 1;
	l->has_keys = k == 1;

	/* Columns a version lacks (or a half-migrated file misses) read as NULL. */
	size_t n = 0;
	n += (size_t)snprintf(l->select_sql + n, sizeof l->select_sql - n, "SELECT ");
	for (int i = 0; i < NCOLS && n < sizeof l->select_sql; i++) {
		const char *sep = i ? ", " : "";
		if (!present[i])
			n += (size_t)snprintf(l->select_sql + n, sizeof l->select_sql - n, "%sNULL", sep);
		else if (col_is_text[i])
			n += (size_t)snprintf(l->select_sql + n, sizeof l->select_sql - n, "%ssongscope_utf8(\"%s\", 0)",
					      sep, col_names[i]);
		else
			n += (size_t)snprintf(l->select_sql + n, sizeof l->select_sql - n, "%s\"%s\"", sep, col_names[i]);
	}
	n += (size_t)snprintf(l->select_sql + n, sizeof l->select_sql - n, " FROM analysis_cache");
	assert(n < sizeof l->select_sql);
	*out = l;
	return 0;
}

static double col_num(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NAN;
	double v = sqlite3_column_double(st, i);
	return isfinite(v) ? v : NAN;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static int put_num(ss_buf *b, const char *name, double v)
{
	return ss_buf_printf(b, ",\"%s\":", name) || ss_render_json_num(b, v);
}

/* A JSON member from a stored JSON text column: the value re-serialised when it is valid strict JSON (the
 * original could store NaN, which is not), else null. */
static int put_json(ss_buf *b, const char *name, const char *text)
{
	if (ss_buf_printf(b, ",\"%s\":", name))
		return -1;
	json_object *o = text != NULL ? ss_json_parse(text, strlen(text), 32) : NULL;
	if (o == NULL || !(json_object_is_type(o, json_type_object) || json_object_is_type(o, json_type_array))) {
		json_object_put(o);
		return ss_buf_puts(b, "null");
	}
	size_t len;
	const char *s = ss_json_text(o, &len);
	int rc = s != NULL ? ss_buf_append(b, s, len) : ss_buf_puts(b, "null");
	json_object_put(o);
	return rc;
}

/* The result object the API serves for an imported row: the fields a fresh result has, from the old
 * columns; the required numbers are 0 when the original stored none (as songscope does). */
static int build_result(sqlite3_stmt *st, const char *key, int key_index, int mode, ss_buf *b)
{
	double req[7] = {col_num(st, C_BPM),    col_num(st, C_BPM_CONF), col_num(st, C_KEY_CONF), col_num(st, C_ENERGY),
			 col_num(st, C_DANCE), col_num(st, C_ACOUSTIC), col_num(st, C_CENTROID)};
	for (int i = 0; i < 7; i++)
		if (!isfinite(req[i]))
			req[i] = 0.0;
	double dur = col_num(st, C_DURATION);
	ss_buf_reset(b);
	if (ss_buf_puts(b, "{\"bpm\":") || ss_render_json_num(b, req[0]) || put_num(b, "bpm_confidence", req[1]) ||
	    ss_buf_puts(b, ",\"key\":") || ss_render_json_str(b, key) ||
	    (key_index >= 0 ? ss_buf_printf(b, ",\"key_index\":%d,\"mode\":%d", key_index, mode)
			    : ss_buf_puts(b, ",\"key_index\":null,\"mode\":null")) ||
	    put_num(b, "key_confidence", req[2]) || put_json(b, "key_details", col_text(st, C_KEY_DETAILS)) ||
	    put_num(b, "energy", req[3]) || put_num(b, "danceability", req[4]) || put_num(b, "acousticness", req[5]) ||
	    put_num(b, "spectral_centroid", req[6]) || ss_buf_puts(b, ",\"time_signature\":") ||
	    ss_render_json_str(b, col_text(st, C_TS)) || put_num(b, "valence", col_num(st, C_VALENCE)) ||
	    ss_buf_puts(b, ",\"mood\":") || ss_render_json_str(b, col_text(st, C_MOOD)) ||
	    put_num(b, "loudness", col_num(st, C_LOUDNESS)) || put_num(b, "dynamic_range", col_num(st, C_DR)) ||
	    put_num(b, "silence_ratio", col_num(st, C_SILENCE)) || put_num(b, "zero_crossing_rate", col_num(st, C_ZCR)) ||
	    put_num(b, "spectral_flux", col_num(st, C_FLUX)) ||
	    put_num(b, "percussive_energy_ratio", col_num(st, C_PERC)) ||
	    put_num(b, "harmonic_energy_ratio", col_num(st, C_HARM)) ||
	    put_num(b, "tonal_strength", col_num(st, C_TONAL)) ||
	    put_num(b, "dynamic_complexity", col_num(st, C_DYN_COMPLEXITY)) ||
	    put_num(b, "spectral_complexity", col_num(st, C_SPEC_COMPLEXITY)) ||
	    put_num(b, "analysis_duration", isfinite(dur) ? dur : 0.0))
		return -1;
	if (col_text(st, C_CHUNK) != NULL && put_json(b, "chunk_analysis", col_text(st, C_CHUNK)))
		return -1;
	if (col_text(st, C_TIMING) != NULL && put_json(b, "analysis_timing", col_text(st, C_TIMING)))
		return -1;
	return ss_buf_puts(b, ",\"legacy_import\":true}");
}

typedef struct run {
	ss_legacy *l;
	ss_store *store;
	const ss_legacy_opts *o;
	ss_legacy_counts *c;
	int batch, in_batch;
	long long done;
	ss_buf json;
} run;

static void skipped(run *r, const char *what, long long id, const char *why)
{
	if (r->o->skipped != NULL)
		r->o->skipped(r->o->arg, what, id, why);
}

/* Commit the open batch when it is full (or at the end when force) and open the next. */
static int batch_step(run *r, bool force, ss_error *err)
{
	if (!force && ++r->in_batch < r->batch)
		return 0;
	r->in_batch = 0;
	if (ss_store_bulk_commit(r->store, err) != 0) {
		ss_store_bulk_rollback(r->store);
		return -1;
	}
	if (r->o->progress != NULL)
		r->o->progress(r->o->arg, r->done, r->c->cache_total + r->c->keys_total);
	return force ? 0 : ss_store_bulk_begin(r->store, err);
}

static int import_row(run *r, sqlite3_stmt *st, ss_error *err)
{
	long long id = sqlite3_column_int64(st, C_ID);
	const char *pv = col_text(st, C_PREVIEW);
	const char *title = col_text(st, C_TITLE), *artist = col_text(st, C_ARTIST);
	const char *ns = col_text(st, C_NS);
	if (ns == NULL || ns[0] == '\0')
		ns = "default";
	if (!ss_cache_namespace_valid(ns)) {
		r->c->cache_skipped++;
		skipped(r, "cache row", id, "its namespace is not 1 to 32 ASCII letters, digits, - or _");
		return 0;
	}
	size_t n = pv != NULL ? strlen(pv) : 0;
	if (ends_with(pv, n, SKIP_SUFFIX))
		n -= strlen(SKIP_SUFFIX);
	if (n == 0) {
		r->c->cache_skipped++;
		skipped(r, "cache row", id, "its preview_url is empty");
		return 0;
	}
	char *source = strndup(pv, n);
	if (source == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory importing row %lld", id);
	bool upload = strncmp(source, UPLOAD_PREFIX, strlen(UPLOAD_PREFIX)) == 0;
	char key[SS_SHA256_HEX];
	if (upload)
		ss_cache_key(ns, "legacy", source, "", key);
	else
		ss_cache_key(ns, "url", source, r->o->opts_tag, key);

	/* Keys the way songscope names them; a key text it cannot read is kept as the original served it. */
	int ki = -1, mode = 0;
	char keyname[16];
	const char *k = col_text(st, C_KEY);
	if (k != NULL && ss_key_parse(k, &ki, &mode) == 0)
		k = ss_key_name(ki, mode, keyname, sizeof keyname);
	else
		ki = -1;
	if (build_result(st, k != NULL ? k : "Unknown", ki, mode, &r->json) != 0) {
		free(source);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory importing row %lld", id);
	}
	ss_cache_write a = {
		.cache_key = key, .ns = ns, .source_kind = upload ? "upload" : "url", .source = source,
		.preview_url = source, .title = title != NULL ? title : "Unknown",
		.artist = artist != NULL ? artist : "Unknown", .bpm = col_num(st, C_BPM),
		.bpm_confidence = col_num(st, C_BPM_CONF), .key = k, .key_confidence = col_num(st, C_KEY_CONF),
		.energy = col_num(st, C_ENERGY), .danceability = col_num(st, C_DANCE),
		.acousticness = col_num(st, C_ACOUSTIC), .spectral_centroid = col_num(st, C_CENTROID),
		.time_signature = col_text(st, C_TS), .mood = col_text(st, C_MOOD), .valence = col_num(st, C_VALENCE),
		.loudness = col_num(st, C_LOUDNESS), .dynamic_range = col_num(st, C_DR),
		.silence_ratio = col_num(st, C_SILENCE), .analysis_duration = col_num(st, C_DURATION),
		.result_json = r->json.data, .analyzed_at = col_text(st, C_ANALYZED)};
	int ins = ss_store_cache_import(r->store, &a, err);
	if (ins > 0)
		r->c->cache_new++;
	else if (ins == 0)
		r->c->cache_existing++;
	/* The original's /verify flag and manual values (NULL ones cleared earlier overrides there too). */
	double mb = col_num(st, C_MANUAL_BPM);
	const char *mk = col_text(st, C_MANUAL_KEY), *notes = col_text(st, C_NOTES);
	if (ins >= 0 && (sqlite3_column_int(st, C_VERIFIED) != 0 || isfinite(mb) || mk != NULL || notes != NULL)) {
		char mkname[16];
		int mki, mmode;
		if (mk != NULL && ss_key_parse(mk, &mki, &mmode) == 0)
			mk = ss_key_name(mki, mmode, mkname, sizeof mkname);
		int o = ss_store_override_import(r->store, ns, source, mb, mk, notes, col_text(st, C_ANALYZED), err);
		if (o > 0)
			r->c->overrides_new++;
		else if (o == 0)
			r->c->overrides_existing++;
		else
			ins = -1;
	}
	free(source);
	return ins < 0 ? -1 : 0;
}

/* One pass over analysis_cache rows whose preview_url does (skip_rows) or does not end in ::chunk=skip, in
 * id order, so that a plain row is imported before the skip-chunk variant of the same source. */
static int import_cache_pass(run *r, bool skip_rows, ss_error *err)
{
	char sql[2200];
	snprintf(sql, sizeof sql, "%s WHERE preview_url %s LIKE '%%" SKIP_SUFFIX "' ORDER BY id", r->l->select_sql,
		 skip_rows ? "" : "NOT");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(r->l->h, sql, -1, &st, NULL) != SQLITE_OK)
		return lfail(r->l, err, "reading analysis_cache");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r->done++;
		if (import_row(r, st, err) != 0 || batch_step(r, false, err) != 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return lfail(r->l, err, "reading analysis_cache");
	return 0;
}

static int import_keys(run *r, ss_error *err)
{
	if (!r->l->has_keys)
		return 0;
	/* Name and email as UTF-8 text (the original wrote it so; other bytes are read as ISO-8859-1), cut to
	 * the limits at a character boundary. */
	char sql[200];
	snprintf(sql, sizeof sql,
		 "SELECT id, key, songscope_utf8(name, %d), songscope_utf8(email, %d), active, daily_limit, created_at"
		 " FROM api_keys ORDER BY id",
		 SS_KEY_NAME_MAX, SS_KEY_EMAIL_MAX);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(r->l->h, sql, -1, &st, NULL) != SQLITE_OK)
		return lfail(r->l, err, "reading api_keys");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		const char *key = col_text(st, 1), *nm = col_text(st, 2), *em = col_text(st, 3);
		char name[SS_KEY_NAME_MAX], email[SS_KEY_EMAIL_MAX];
		if (nm != NULL && nm[0] != '\0')
			snprintf(name, sizeof name, "%s", nm);
		else
			snprintf(name, sizeof name, "original key %lld", id);
		snprintf(email, sizeof email, "%s", em != NULL ? em : "");
		long long daily = sqlite3_column_type(st, 5) == SQLITE_NULL ? 1000 : sqlite3_column_int64(st, 5);
		ss_key_import k = {.name = name, .email = email, .scope = SS_KEY_CLIENT,
				   .active = sqlite3_column_type(st, 4) == SQLITE_NULL || sqlite3_column_int(st, 4) != 0,
				   .daily_limit = daily < 0 ? 0 : daily, .rate_limit = 0, .created_at = col_text(st, 6)};
		ss_error kerr;
		int64_t kid;
		r->done++;
		int ins = key != NULL ? ss_store_key_import(r->store, key, strlen(key), &k, &kid, &kerr)
				      : ss_error_set(&kerr, SS_ERR_BAD_REQUEST, "The key is NULL.");
		if (ins > 0) {
			r->c->keys_new++;
		} else if (ins == 0) {
			r->c->keys_existing++;
		} else if (kerr.code == SS_ERR_BAD_REQUEST) {
			r->c->keys_skipped++;
			skipped(r, "API key", id, kerr.msg);
		} else {
			*err = kerr;
			sqlite3_finalize(st);
			return -1;
		}
		if (batch_step(r, false, err) != 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return lfail(r->l, err, "reading api_keys");
	return 0;
}

/* Which original database this is, stable while that server keeps running: its first cache row's hash and
 * first key's hash (an empty database has neither; all empty ones are one). */
static int legacy_identity(ss_legacy *l, char out[SS_SHA256_HEX], ss_error *err)
{
	sqlite3_stmt *st;
	const char *sql = l->has_keys ? "SELECT (SELECT preview_url_hash FROM analysis_cache ORDER BY id LIMIT 1),"
					" (SELECT key FROM api_keys ORDER BY id LIMIT 1)"
				      : "SELECT (SELECT preview_url_hash FROM analysis_cache ORDER BY id LIMIT 1), NULL";
	if (sqlite3_prepare_v2(l->h, sql, -1, &st, NULL) != SQLITE_OK)
		return lfail(l, err, "reading the database's identity");
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return lfail(l, err, "reading the database's identity");
	}
	const char *a = col_text(st, 0), *b = col_text(st, 1);
	char key_hash[SS_SHA256_HEX] = "";
	if (b != NULL)
		ss_sha256_hex(b, strlen(b), key_hash); /* the key itself is never stored */
	ss_cache_key("legacy", "stats", a != NULL ? a : "", key_hash, out);
	sqlite3_finalize(st);
	return 0;
}

/* Add the original's counters to songscope's server_stats. legacy_imports remembers, per original database,
 * what was added: importing it again adds only what that server counted since (nothing for the same file);
 * a counter that went down (the original reset it) adds nothing. V4+ counted hits in total_analyses
 * ("requests served"); songscope's total_analyses counts analyses (= misses there). */
static int import_stats(run *r, ss_error *err)
{
	if (!r->l->has_stats)
		return 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(r->l->h,
			       "SELECT COALESCE(total_analyses,0), COALESCE(cache_hits,0), COALESCE(cache_misses,0)"
			       " FROM server_stats ORDER BY id LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return lfail(r->l, err, "reading server_stats");
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? 0 : lfail(r->l, err, "reading server_stats");
	}
	long long total = sqlite3_column_int64(st, 0), now[3] = {0, sqlite3_column_int64(st, 1),
								  sqlite3_column_int64(st, 2)};
	sqlite3_finalize(st);
	now[0] = r->l->version == SS_LEGACY_V4 ? now[2] : total;
	char sig[SS_SHA256_HEX];
	if (legacy_identity(r->l, sig, err) != 0)
		return -1;
	r->c->has_stats = true;

	int64_t now64[3] = {now[0], now[1], now[2]}, add[3];
	if (ss_store_legacy_stats_add(r->store, sig, now64, add, err) < 0)
		return -1;
	r->c->stats_analyses = add[0];
	r->c->stats_hits = add[1];
	r->c->stats_misses = add[2];
	r->c->stats_new = add[0] > 0 || add[1] > 0 || add[2] > 0;
	return 0;
}

static long long count_rows(ss_legacy *l, const char *sql, ss_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(l->h, sql, -1, &st, NULL) != SQLITE_OK)
		return lfail(l, err, "counting rows");
	long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	if (n < 0)
		return lfail(l, err, "counting rows");
	return n;
}

int ss_legacy_import(ss_legacy *l, ss_store *store, const ss_legacy_opts *o, ss_legacy_counts *c, ss_error *err)
{
	memset(c, 0, sizeof *c);
	run r = {.l = l, .store = store, .o = o, .c = c, .batch = o->batch_rows > 0 ? o->batch_rows : DEFAULT_BATCH};
	ss_buf_init(&r.json, 0);
	c->cache_total = count_rows(l, "SELECT count(*) FROM analysis_cache", err);
	if (c->cache_total < 0)
		return -1;
	if (l->has_keys && (c->keys_total = count_rows(l, "SELECT count(*) FROM api_keys", err)) < 0)
		return -1;
	sqlite3_exec(l->h, "PRAGMA cache_size = -16384", NULL, NULL, NULL);
	/* One read transaction over the old file: every pass sees the same snapshot. */
	if (sqlite3_exec(l->h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return lfail(l, err, "starting to read");
	int rc = -1;
	if (ss_store_bulk_begin(store, err) == 0) {
		if (import_cache_pass(&r, false, err) == 0 && import_cache_pass(&r, true, err) == 0 &&
		    import_keys(&r, err) == 0 && import_stats(&r, err) == 0)
			rc = batch_step(&r, true, err);
		else
			ss_store_bulk_rollback(store);
	}
	sqlite3_exec(l->h, "COMMIT", NULL, NULL, NULL);
	ss_buf_free(&r.json);
	return rc;
}
