#include "core/store/export.h"

#include <math.h>
#include <stdbool.h>

#include "core/store/render.h"
#include "core/util/buf.h"

#define CHUNK 16384

static const char SQL_EXPORT_NS[] =
	"SELECT c.title, c.artist, c.preview_url, c.bpm, c.bpm_confidence, c.key, c.key_confidence, c.energy,"
	" c.danceability, c.acousticness, c.spectral_centroid, c.time_signature, c.valence, c.mood, c.loudness,"
	" c.dynamic_range, c.silence_ratio, c.analysis_duration, c.analyzed_at, c.cache_namespace,"
	" o.source IS NOT NULL, o.manual_bpm, o.manual_key, o.bpm_notes"
	" FROM analysis_cache c LEFT JOIN overrides o ON o.cache_namespace = c.cache_namespace AND o.source = c.source"
	" WHERE c.cache_namespace = ?1 ORDER BY c.artist COLLATE NOCASE, c.title COLLATE NOCASE, c.id";
static const char SQL_EXPORT_ALL[] =
	"SELECT c.title, c.artist, c.preview_url, c.bpm, c.bpm_confidence, c.key, c.key_confidence, c.energy,"
	" c.danceability, c.acousticness, c.spectral_centroid, c.time_signature, c.valence, c.mood, c.loudness,"
	" c.dynamic_range, c.silence_ratio, c.analysis_duration, c.analyzed_at, c.cache_namespace,"
	" o.source IS NOT NULL, o.manual_bpm, o.manual_key, o.bpm_notes"
	" FROM analysis_cache c LEFT JOIN overrides o ON o.cache_namespace = c.cache_namespace AND o.source = c.source"
	" ORDER BY c.artist COLLATE NOCASE, c.title COLLATE NOCASE, c.id";
static const char SQL_COUNT_NS[] = "SELECT count(*) FROM analysis_cache WHERE cache_namespace = ?1";
static const char SQL_COUNT_ALL[] = "SELECT count(*) FROM analysis_cache";

static const char CSV_HEADER[] =
	"Title,Artist,Preview URL,BPM,BPM Confidence,Key,Key Confidence,Energy,Danceability,Acousticness,"
	"Spectral Centroid (Hz),Time Signature,Valence,Mood,Loudness (LUFS),Dynamic Range (LU),Silence Ratio,"
	"Analysis Duration (s),Analyzed At,Namespace,User Verified,Manual BPM,Manual Key,BPM Notes\r\n";

static double col_num(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int csv_row(sqlite3_stmt *st, ss_buf *b)
{
	/* text (t) or number (decimals) per column */
	static const int dec[24] = {-1, -1, -1, 3, 4, -1, 4, 4, 4, 4, 1, -1, 4, -1, 2, 2, 4, 3, -1, -1, -2, 3, -1, -1};
	for (int i = 0; i < 24; i++) {
		if (i > 0 && ss_buf_append(b, ",", 1) != 0)
			return -1;
		int rc;
		if (dec[i] == -2)
			rc = ss_buf_puts(b, sqlite3_column_int(st, i) ? "true" : "false");
		else if (dec[i] >= 0)
			rc = ss_render_csv_num(b, col_num(st, i), dec[i]);
		else
			rc = ss_render_csv_cell(b, col_text(st, i), i != 18 && i != 11);
		if (rc != 0)
			return -1;
	}
	return ss_buf_append(b, "\r\n", 2);
}

static int json_row(sqlite3_stmt *st, ss_buf *b)
{
	return ss_buf_puts(b, "{\"title\":") || ss_render_json_str(b, col_text(st, 0)) ||
	       ss_buf_puts(b, ",\"artist\":") || ss_render_json_str(b, col_text(st, 1)) ||
	       ss_buf_puts(b, ",\"bpm\":") || ss_render_json_num(b, col_num(st, 3)) || ss_buf_puts(b, ",\"key\":") ||
	       ss_render_json_str(b, col_text(st, 5)) || ss_buf_puts(b, ",\"energy\":") ||
	       ss_render_json_num(b, col_num(st, 7)) || ss_buf_puts(b, ",\"danceability\":") ||
	       ss_render_json_num(b, col_num(st, 8)) || ss_buf_puts(b, ",\"acousticness\":") ||
	       ss_render_json_num(b, col_num(st, 9)) || ss_buf_puts(b, ",\"analyzed_at\":") ||
	       ss_render_json_str(b, col_text(st, 18)) || ss_buf_puts(b, ",\"preview_url\":") ||
	       ss_render_json_str(b, col_text(st, 2)) ||
	       ss_buf_puts(b, sqlite3_column_int(st, 20) ? ",\"user_verified\":true" : ",\"user_verified\":false") ||
	       ss_buf_puts(b, ",\"manual_bpm\":") || ss_render_json_num(b, col_num(st, 21)) ||
	       ss_buf_puts(b, ",\"manual_key\":") || ss_render_json_str(b, col_text(st, 22)) || ss_buf_puts(b, "}")
		       ? -1
		       : 0;
}

int ss_cache_export(ss_db *db, const char *ns, ss_export_format fmt, const char *exported_at, ss_export_sink sink,
		    void *arg, ss_error *err)
{
	ss_buf b;
	ss_buf_init(&b, 0);
	int wrote = 0, rc = -1;
	if (ss_db_exec(db, "BEGIN", err) != 0)
		return -1;
	sqlite3_stmt *cnt = ss_db_prepare(db, ns ? SQL_COUNT_NS : SQL_COUNT_ALL);
	sqlite3_stmt *st = ss_db_prepare(db, ns ? SQL_EXPORT_NS : SQL_EXPORT_ALL);
	if (cnt == NULL || st == NULL) {
		ss_error_set(err, ss_db_fault(db), "database: preparing export: %s", ss_db_errmsg(db));
		goto out;
	}
	long long total = 0;
	if (ns) {
		sqlite3_bind_text(cnt, 1, ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(cnt) != SQLITE_ROW) {
		ss_error_set(err, ss_db_fault(db), "database: counting rows: %s", ss_db_errmsg(db));
		sqlite3_reset(cnt);
		goto out;
	}
	total = sqlite3_column_int64(cnt, 0);
	sqlite3_reset(cnt);

	if (fmt == SS_EXPORT_CSV) {
		if (ss_buf_puts(&b, CSV_HEADER) != 0)
			goto nomem;
	} else if (ss_buf_printf(&b, "{\"total_songs\":%lld,\"exported_at\":", total) != 0 ||
		   ss_render_json_str(&b, exported_at) != 0 || ss_buf_puts(&b, ",\"songs\":[") != 0) {
		goto nomem;
	}
	int step, n = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (fmt == SS_EXPORT_CSV ? csv_row(st, &b) != 0
					 : ((n > 0 && ss_buf_puts(&b, ",") != 0) || json_row(st, &b) != 0))
			goto nomem;
		n++;
		if (b.len >= CHUNK) {
			if (sink(arg, b.data, b.len) != 0) {
				ss_error_set(err, SS_ERR_IO, "the client went away during the export");
				goto out;
			}
			wrote = 1;
			ss_buf_reset(&b);
		}
	}
	if (step != SQLITE_DONE) {
		ss_error_set(err, wrote ? SS_ERR_IO : ss_db_fault(db), "database: reading rows: %s", ss_db_errmsg(db));
		goto out;
	}
	if (fmt == SS_EXPORT_JSON && ss_buf_puts(&b, "]}") != 0)
		goto nomem;
	if (b.len > 0 && sink(arg, b.data, b.len) != 0) {
		ss_error_set(err, SS_ERR_IO, "the client went away during the export");
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	ss_error_set(err, wrote ? SS_ERR_IO : SS_ERR_NOMEM, "out of memory during the export");
out:
	if (st != NULL)
		sqlite3_reset(st);
	ss_db_exec(db, "COMMIT", NULL);
	ss_buf_free(&b);
	return rc;
}
