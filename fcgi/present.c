#include "fcgi/present.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/analysis/result_json.h"
#include "core/util/base62.h"
#include "core/util/render.h"

int ss_present_result(ss_buf *b, const ss_cache_row *r, bool cached, ss_present_series series)
{
	char num[32], track[SS_BASE62_ID_LEN + 1];
	snprintf(num, sizeof num, "%lld", (long long)r->id);
	bool has_track = r->cache_key != NULL && ss_base62_from_hex128(r->cache_key, track) == 0;
	if (ss_buf_puts(b, "{\"id\":") || ss_buf_puts(b, num) || ss_buf_puts(b, ",\"track_id\":") ||
	    ss_render_json_str(b, has_track ? track : NULL) || ss_buf_puts(b, ",\"title\":") ||
	    ss_render_json_str(b, r->title) || ss_buf_puts(b, ",\"artist\":") || ss_render_json_str(b, r->artist) ||
	    ss_buf_puts(b, ",\"preview_url\":") || ss_render_json_str(b, r->preview_url) ||
	    ss_buf_puts(b, ",\"cache_namespace\":") || ss_render_json_str(b, r->ns) ||
	    ss_buf_puts(b, cached ? ",\"cached\":true" : ",\"cached\":false") || ss_buf_puts(b, ",\"analyzed_at\":") ||
	    ss_render_json_str(b, r->analyzed_at))
		return -1;
	/* Splice the stored object's members. */
	const char *rj = r->result_json;
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
	if (series != SS_SERIES_NONE) {
		/* {"beats":[...],"downbeats":[...],"segments":[...],"sections":[...]} (ss_result_beats_text): its
		 * members are spliced, the segments and sections (always last) only when asked for; rows stored before
		 * downbeats existed hold the beats array alone, rows stored before segments existed have neither */
		const char *beats = r->beats_json;
		const char *open = beats != NULL ? strchr(beats, '{') : NULL;
		const char *close = open != NULL ? strrchr(open, '}') : NULL;
		const char *segments = open != NULL ? strstr(open, SS_RESULT_SEGMENTS_MEMBER) : NULL;
		if (series == SS_SERIES_BEATS && segments != NULL && close != NULL && segments < close)
			close = segments;
		if (open != NULL && close != NULL && close > open + 1) {
			if (ss_buf_append(b, ",", 1) || ss_buf_append(b, open + 1, (size_t)(close - open - 1)))
				return -1;
		} else if (ss_buf_puts(b, ",\"beats\":") || ss_buf_puts(b, beats != NULL && open == NULL ? beats : "[]") ||
			   ss_buf_puts(b, ",\"downbeats\":[]")) {
			return -1;
		}
	}
	if (ss_buf_puts(b, r->user_verified ? ",\"user_verified\":true" : ",\"user_verified\":false") ||
	    ss_buf_puts(b, ",\"manual_bpm\":") || ss_render_json_num(b, r->manual_bpm) ||
	    ss_buf_puts(b, ",\"manual_key\":") || ss_render_json_str(b, r->manual_key) ||
	    ss_buf_puts(b, ",\"bpm_notes\":") || ss_render_json_str(b, r->notes) || ss_buf_puts(b, "}"))
		return -1;
	return 0;
}

/* Rows appended to a buffer: one result object, or an array of them. */
typedef struct collect {
	ss_buf *out;
	bool cached;
	ss_present_series series;
	int n;
} collect;

static int one_row(void *arg, const ss_cache_row *row)
{
	collect *c = arg;
	return ss_present_result(c->out, row, c->cached, c->series);
}

static int array_row(void *arg, const ss_cache_row *row)
{
	collect *c = arg;
	if ((c->n > 0 && ss_buf_puts(c->out, ",") != 0) || ss_present_result(c->out, row, true, SS_SERIES_NONE) != 0)
		return -1;
	c->n++;
	return 0;
}

/* Undo what was appended to out since mark. */
static void truncate_to(ss_buf *out, size_t mark)
{
	out->len = mark;
	if (out->data != NULL)
		out->data[mark] = '\0';
}

static int nomem(ss_buf *out, size_t mark, ss_error *err)
{
	truncate_to(out, mark);
	return ss_error_set(err, SS_ERR_NOMEM, "The response does not fit in memory.");
}

int ss_present_cache_get(ss_store *s, const char *cache_key, bool cached, ss_present_series series, ss_buf *out,
			 ss_error *err)
{
	size_t mark = out->len;
	collect c = {.out = out, .cached = cached, .series = series};
	int rc = ss_store_cache_get(s, cache_key, series != SS_SERIES_NONE ? SS_CACHE_ROW_BEATS : 0, one_row, &c, err);
	if (rc == -2)
		return nomem(out, mark, err);
	if (rc < 0)
		truncate_to(out, mark);
	return rc;
}

/* Run list or search into a JSON array. */
static int array_of(ss_store *s, const char *ns, const char *q, int limit, long long offset, ss_buf *out,
		    ss_error *err)
{
	size_t mark = out->len;
	collect c = {.out = out};
	if (ss_buf_puts(out, "[") != 0)
		return nomem(out, mark, err);
	int rc = q != NULL ? ss_store_cache_search(s, ns, q, limit, array_row, &c, err)
			   : ss_store_cache_list(s, ns, limit, offset, array_row, &c, err);
	if (rc == -2 || (rc >= 0 && ss_buf_puts(out, "]") != 0))
		return nomem(out, mark, err);
	if (rc < 0) {
		truncate_to(out, mark);
		return -1;
	}
	return c.n;
}

int ss_present_cache_list(ss_store *s, const char *ns, int limit, long long offset, ss_buf *out, ss_error *err)
{
	return array_of(s, ns, NULL, limit, offset, out, err);
}

int ss_present_cache_search(ss_store *s, const char *ns, const char *q, int limit, ss_buf *out, ss_error *err)
{
	return array_of(s, ns, q != NULL ? q : "", limit, 0, out, err);
}

#define CHUNK 16384

static const char CSV_HEADER[] =
	"Title,Artist,Preview URL,BPM,BPM Confidence,Key,Key Confidence,Energy,Danceability,Acousticness,"
	"Spectral Centroid (Hz),Time Signature,Valence,Mood,Loudness (LUFS),Dynamic Range (LU),Silence Ratio,"
	"Analysis Duration (s),Analyzed At,Namespace,User Verified,Manual BPM,Manual Key,BPM Notes\r\n";

static int csv_row(ss_buf *b, const ss_cache_row *r)
{
	/* Text cells: formula-escaped except the time signature and the time (their shapes are fixed). */
	const char *t1[] = {r->title, r->artist, r->preview_url};
	for (int i = 0; i < 3; i++)
		if ((i > 0 && ss_buf_append(b, ",", 1)) || ss_render_csv_cell(b, t1[i], true))
			return -1;
	return ss_buf_append(b, ",", 1) || ss_render_csv_num(b, r->bpm, 3) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->bpm_confidence, 4) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_cell(b, r->key, true) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->key_confidence, 4) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->energy, 4) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->danceability, 4) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->acousticness, 4) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->spectral_centroid, 1) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_cell(b, r->time_signature, false) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->valence, 4) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_cell(b, r->mood, true) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->loudness, 2) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->dynamic_range, 2) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->silence_ratio, 4) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->analysis_duration, 3) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_cell(b, r->analyzed_at, false) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_cell(b, r->ns, true) || ss_buf_append(b, ",", 1) ||
			       ss_buf_puts(b, r->user_verified ? "true" : "false") || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_num(b, r->manual_bpm, 3) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_cell(b, r->manual_key, true) || ss_buf_append(b, ",", 1) ||
			       ss_render_csv_cell(b, r->notes, true) || ss_buf_append(b, "\r\n", 2)
		       ? -1
		       : 0;
}

static int json_row(ss_buf *b, const ss_cache_row *r)
{
	return ss_buf_puts(b, "{\"title\":") || ss_render_json_str(b, r->title) || ss_buf_puts(b, ",\"artist\":") ||
			       ss_render_json_str(b, r->artist) || ss_buf_puts(b, ",\"bpm\":") ||
			       ss_render_json_num(b, r->bpm) || ss_buf_puts(b, ",\"key\":") ||
			       ss_render_json_str(b, r->key) || ss_buf_puts(b, ",\"energy\":") ||
			       ss_render_json_num(b, r->energy) || ss_buf_puts(b, ",\"danceability\":") ||
			       ss_render_json_num(b, r->danceability) || ss_buf_puts(b, ",\"acousticness\":") ||
			       ss_render_json_num(b, r->acousticness) || ss_buf_puts(b, ",\"analyzed_at\":") ||
			       ss_render_json_str(b, r->analyzed_at) || ss_buf_puts(b, ",\"preview_url\":") ||
			       ss_render_json_str(b, r->preview_url) ||
			       ss_buf_puts(b, r->user_verified ? ",\"user_verified\":true" : ",\"user_verified\":false") ||
			       ss_buf_puts(b, ",\"manual_bpm\":") || ss_render_json_num(b, r->manual_bpm) ||
			       ss_buf_puts(b, ",\"manual_key\":") || ss_render_json_str(b, r->manual_key) ||
			       ss_buf_puts(b, "}")
		       ? -1
		       : 0;
}

typedef struct export_run {
	ss_buf b;
	ss_export_format fmt;
	const char *exported_at;
	ss_export_sink sink;
	void *arg;
	long long n;
	bool wrote;     /* a chunk went to the sink */
	ss_code failed; /* why a callback stopped the export */
} export_run;

static int export_total(void *arg, long long total)
{
	export_run *e = arg;
	int rc = e->fmt == SS_EXPORT_CSV ? ss_buf_puts(&e->b, CSV_HEADER)
					 : (ss_buf_printf(&e->b, "{\"total_songs\":%lld,\"exported_at\":", total) ||
					    ss_render_json_str(&e->b, e->exported_at) || ss_buf_puts(&e->b, ",\"songs\":["));
	if (rc != 0)
		e->failed = SS_ERR_NOMEM;
	return rc;
}

static int flush_chunk(export_run *e)
{
	if (e->sink(e->arg, e->b.data, e->b.len) != 0) {
		e->failed = SS_ERR_IO;
		return -1;
	}
	e->wrote = true;
	ss_buf_reset(&e->b);
	return 0;
}

static int export_row(void *arg, const ss_cache_row *r)
{
	export_run *e = arg;
	if (e->fmt == SS_EXPORT_CSV ? csv_row(&e->b, r) != 0
				    : ((e->n > 0 && ss_buf_puts(&e->b, ",") != 0) || json_row(&e->b, r) != 0)) {
		e->failed = SS_ERR_NOMEM;
		return -1;
	}
	e->n++;
	return e->b.len >= CHUNK ? flush_chunk(e) : 0;
}

int ss_present_cache_export(ss_store *s, const char *ns, ss_export_format fmt, const char *exported_at,
			    ss_export_sink sink, void *arg, ss_error *err)
{
	export_run e = {.fmt = fmt, .exported_at = exported_at, .sink = sink, .arg = arg, .failed = SS_OK};
	ss_buf_init(&e.b, 0);
	int rc = ss_store_cache_export(s, ns, 0, export_total, export_row, &e, err);
	if (rc >= 0 && fmt == SS_EXPORT_JSON && ss_buf_puts(&e.b, "]}") != 0) {
		e.failed = SS_ERR_NOMEM;
		rc = -2;
	}
	if (rc >= 0 && e.b.len > 0 && flush_chunk(&e) != 0)
		rc = -2;
	ss_buf_free(&e.b);
	if (rc >= 0)
		return 0;
	if (rc == -2) {
		if (e.failed == SS_ERR_IO)
			return ss_error_set(err, SS_ERR_IO, "the client went away during the export");
		return ss_error_set(err, e.wrote ? SS_ERR_IO : SS_ERR_NOMEM, "out of memory during the export");
	}
	if (e.wrote && err != NULL)
		err->code = SS_ERR_IO; /* the response is under way: it can only be cut short */
	return -1;
}
