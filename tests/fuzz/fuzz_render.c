/* libFuzzer target: the JSON and CSV renderers of stored rows (core/store/render.c) on their own and through
 * the export and listing of a real SQLite file (core/store/export.c, cache.c). Input: four doubles (32 bytes,
 * native order), then newline-separated texts: two rows' title, artist and preview URL, then override notes
 * and key for the second row. Checked:
 *   - ss_render_json_str: a JSON string that decodes to the input when it is valid UTF-8, and is valid UTF-8
 *     in any case; ss_render_json_num: a float literal equal to the number to 10 digits, or null;
 *   - ss_render_csv_cell: one well-formed RFC 4180 field holding the text, with the formula guard;
 *   - the JSON export and list: valid UTF-8 JSON with both rows, their texts and numbers; the CSV export:
 *     a header and one CRLF record per row, 24 fields each, whose title/artist/notes are the row's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/analysis/result.h"
#include "core/analysis/result_json.h"
#include "core/store/cache.h"
#include "core/store/sqlite/sqlite.h"
#include "core/util/render.h"
#include "fcgi/present.h"
#include "core/util/buf.h"
#include "core/util/jsonutil.h"
#include "tests/fixtures/scratch.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static ss_store *db;
static char tmpdir[256];

static void cleanup(void)
{
	ss_store_close(db);
	ss_scratch_remove(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FZ_ASSERT(ss_scratch_path(tmpdir, sizeof tmpdir, "ssfuzz-XXXXXX") == 0 && mkdtemp(tmpdir) != NULL,
		  "a temporary directory");
	char p[320];
	snprintf(p, sizeof p, "%s/render.db", tmpdir);
	ss_error err;
	ss_store_params sp = {.backend = "sqlite", .path = p};
	FZ_ASSERT(ss_store_open(&sp, &db, &err) == 0, err.msg);
	atexit(cleanup);
	return 0;
}

/* ---- a strict RFC 4180 reader: fields of one record; returns the position after the record's CRLF ---- */
typedef struct {
	char *f[32];
	size_t len[32];
	size_t n;
} record;

static size_t csv_record(const char *s, size_t len, size_t pos, record *r)
{
	r->n = 0;
	for (;;) {
		FZ_ASSERT(r->n < 32, "at most 32 fields");
		ss_buf b;
		ss_buf_init(&b, 0);
		FZ_ASSERT(ss_buf_append(&b, "", 0) == 0, "out of memory");
		if (pos < len && s[pos] == '"') {
			pos++;
			for (;;) {
				FZ_ASSERT(pos < len, "a quoted field ends with a quote");
				if (s[pos] == '"') {
					if (pos + 1 < len && s[pos + 1] == '"') {
						FZ_ASSERT(ss_buf_append(&b, "\"", 1) == 0, "out of memory");
						pos += 2;
						continue;
					}
					pos++;
					break;
				}
				FZ_ASSERT(ss_buf_append(&b, s + pos, 1) == 0, "out of memory");
				pos++;
			}
		} else {
			while (pos < len && s[pos] != ',' && s[pos] != '\r') {
				FZ_ASSERT(s[pos] != '"' && s[pos] != '\n', "no quote or LF in an unquoted field");
				FZ_ASSERT(ss_buf_append(&b, s + pos, 1) == 0, "out of memory");
				pos++;
			}
		}
		r->len[r->n] = b.len;
		r->f[r->n++] = ss_buf_steal(&b, NULL);
		FZ_ASSERT(pos < len, "a record ends with CRLF");
		if (s[pos] == ',') {
			pos++;
			continue;
		}
		FZ_ASSERT(s[pos] == '\r' && pos + 1 < len && s[pos + 1] == '\n', "a record ends with CRLF");
		return pos + 2;
	}
}

static void record_free(record *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->f[i]);
	r->n = 0;
}

/* A text cell holds s, or s behind the formula guard ("'" first) when s starts with = + - @ or a tab (the
 * guard is required then; for CR and LF it is allowed). */
static void check_text_cell(const char *cell, const char *s)
{
	bool must = strchr("=+-@\t", s[0]) != NULL && s[0] != '\0';
	bool may = must || (s[0] == '\r' || s[0] == '\n');
	if (cell[0] == '\'' && may && strcmp(cell + 1, s) == 0)
		return;
	FZ_ASSERT(!must && strcmp(cell, s) == 0, "a CSV text cell holds its text, formula-guarded");
}

static void check_json_str(const char *s)
{
	ss_buf b;
	ss_buf_init(&b, 0);
	FZ_ASSERT(ss_render_json_str(&b, s) == 0, "out of memory");
	FZ_ASSERT(fz_utf8_valid(b.data, b.len), "a rendered JSON string is valid UTF-8");
	json_object *o = fz_json_parse(b.data, b.len);
	FZ_ASSERT(json_object_is_type(o, json_type_string), "a rendered JSON string parses as a string");
	if (fz_utf8_valid(s, strlen(s)))
		FZ_ASSERT(strcmp(json_object_get_string(o), s) == 0 &&
				  (size_t)json_object_get_string_len(o) == strlen(s),
			  "valid UTF-8 comes back unchanged");
	json_object_put(o);
	ss_buf_reset(&b);
	FZ_ASSERT(ss_render_csv_cell(&b, s, true) == 0, "out of memory");
	FZ_ASSERT(ss_buf_puts(&b, "\r\n") == 0, "out of memory");
	record r;
	FZ_ASSERT(csv_record(b.data, b.len, 0, &r) == b.len && r.n == 1, "a CSV cell is one field");
	check_text_cell(r.f[0], s);
	record_free(&r);
	ss_buf_free(&b);
}

static void check_num(double v)
{
	ss_buf b;
	ss_buf_init(&b, 0);
	FZ_ASSERT(ss_render_json_num(&b, v) == 0, "out of memory");
	json_object *o = fz_json_parse(b.data, b.len);
	if (!isfinite(v)) {
		FZ_ASSERT(o == NULL && fz_is_json_null(b.data, b.len), "NaN and infinity are null");
	} else if (fabs(v) <= 1e300) { /* beyond, 10 digits may round past DBL_MAX; no stored value is near */
		FZ_ASSERT(json_object_is_type(o, json_type_double), "a number is a float literal");
		double w = json_object_get_double(o);
		FZ_ASSERT(fabs(w - v) <= 1e-9 * fabs(v), "the number to 10 significant digits");
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_object_put(o);
	ss_buf_reset(&b);
	FZ_ASSERT(ss_render_csv_num(&b, v, 3) == 0, "out of memory");
	if (!isfinite(v))
		FZ_ASSERT(b.len == 0, "NaN and infinity are empty CSV cells");
	else
		FZ_ASSERT(b.len > 0 && strpbrk(b.data, ",\"\r\n") == NULL, "a CSV number needs no quoting");
	ss_buf_free(&b);
}

static int sink(void *arg, const void *data, size_t len)
{
	return ss_buf_append(arg, data, len);
}

static void put_row(const char *src, const char *title, const char *artist, const char *preview, const double *num)
{
	ss_result r;
	ss_result_init(&r);
	r.bpm = fabs(num[0]) <= 1e300 ? num[0] : NAN;
	r.energy = fabs(num[1]) <= 1e300 ? num[1] : NAN;
	r.loudness = num[3];
	r.key_index = isfinite(num[2]) ? (int)fmod(fabs(num[2]), 12.0) : -1;
	r.mode = r.key_index >= 0 ? 1 : -1;
	json_object *o = json_object_new_object();
	FZ_ASSERT(o != NULL && ss_result_to_json(&r, false, o) == 0, "out of memory");
	char key[SS_SHA256_HEX];
	size_t tl;
	ss_cache_key("default", "url", src, "fuzz", key);
	ss_cache_put_args a = {.cache_key = key, .ns = "default", .source_kind = "url", .source = src,
			       .preview_url = preview, .title = title, .artist = artist, .result = &r,
			       .result_json = ss_json_text(o, &tl), .beats_json = "[]"};
	ss_error err;
	FZ_ASSERT(ss_store_cache_put(db, &a, NULL, &err) == 0, err.msg);
	json_object_put(o);
}

static json_object *song_by_preview(json_object *songs, const char *prefix)
{
	for (size_t i = 0; i < json_object_array_length(songs); i++) {
		json_object *s = json_object_array_get_idx(songs, i), *p;
		if (json_object_object_get_ex(s, "preview_url", &p) &&
		    strncmp(json_object_get_string(p), prefix, strlen(prefix)) == 0)
			return s;
	}
	fz_fail(__FILE__, __LINE__, "song_by_preview", "every row is exported");
}

static void check_member_str(json_object *o, const char *name, const char *want)
{
	json_object *v;
	FZ_ASSERT(json_object_object_get_ex(o, name, &v), name);
	if (want == NULL) {
		FZ_ASSERT(v == NULL, "null for a missing text");
		return;
	}
	FZ_ASSERT(json_object_is_type(v, json_type_string), name);
	if (fz_utf8_valid(want, strlen(want)))
		FZ_ASSERT(strcmp(json_object_get_string(v), want) == 0, "an exported text is the row's");
}

static void check_member_num(json_object *o, const char *name, double want)
{
	json_object *v;
	FZ_ASSERT(json_object_object_get_ex(o, name, &v), name);
	if (!isfinite(want)) {
		FZ_ASSERT(v == NULL, "null for NaN and infinity");
		return;
	}
	double got = json_object_get_double(v);
	FZ_ASSERT(fabs(got - want) <= 1e-9 * fabs(want), "an exported number is the row's");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	double num[4] = {NAN, NAN, NAN, NAN};
	if (size >= 32) {
		memcpy(num, data, 32);
		data += 32;
		size -= 32;
	}
	char *p[8];
	fz_split(data, size, '\n', p, 8);
	for (int i = 0; i < 4; i++)
		check_num(num[i]);
	for (int i = 0; i < 8; i++)
		check_json_str(p[i]);

	/* two rows, the second with overrides */
	ss_error err;
	FZ_ASSERT(ss_db_exec(ss_sqlite_db(db), "DELETE FROM overrides; DELETE FROM analysis_cache;", &err) == 0, err.msg);
	char *prev_a = malloc(strlen(p[2]) + 3), *prev_b = malloc(strlen(p[5]) + 3);
	FZ_ASSERT(prev_a != NULL && prev_b != NULL, "out of memory");
	sprintf(prev_a, "a:%s", p[2]);
	sprintf(prev_b, "b:%s", p[5]);
	put_row("source-a", p[0], p[1], prev_a, num);
	put_row("source-b", p[3], p[4], prev_b, num);
	ss_override_update u = {.set_bpm = true, .bpm = fabs(num[2]) <= 1e300 ? num[2] : NAN,
				.set_key = true, .key = p[7], .set_notes = true, .notes = p[6]};
	FZ_ASSERT(ss_store_override_set(db, "default", "source-b", &u, &err) == 1, err.msg);

	ss_buf out;
	ss_buf_init(&out, 0);
	FZ_ASSERT(ss_present_cache_export(db, NULL, SS_EXPORT_JSON, "2024-01-01 00:00:00", sink, &out, &err) == 0, err.msg);
	FZ_ASSERT(fz_utf8_valid(out.data, out.len), "the JSON export is valid UTF-8");
	json_object *j = fz_json_parse(out.data, out.len), *songs, *v;
	FZ_ASSERT(j != NULL && json_object_object_get_ex(j, "songs", &songs) &&
			  json_object_array_length(songs) == 2 && json_object_object_get_ex(j, "total_songs", &v) &&
			  json_object_get_int64(v) == 2,
		  "the JSON export parses and holds both rows");
	json_object *a = song_by_preview(songs, "a:"), *b = song_by_preview(songs, "b:");
	check_member_str(a, "title", p[0]);
	check_member_str(a, "artist", p[1]);
	check_member_str(a, "preview_url", prev_a);
	check_member_str(b, "title", p[3]);
	check_member_str(b, "artist", p[4]);
	check_member_str(b, "manual_key", p[7]);
	check_member_num(a, "bpm", fabs(num[0]) <= 1e300 ? num[0] : NAN);
	check_member_num(a, "energy", fabs(num[1]) <= 1e300 ? num[1] : NAN);
	check_member_num(b, "manual_bpm", fabs(num[2]) <= 1e300 ? num[2] : NAN);
	json_object_put(j);

	ss_buf_reset(&out);
	int n = ss_present_cache_list(db, NULL, 10, 0, &out, &err);
	FZ_ASSERT(n == 2, err.msg);
	FZ_ASSERT(fz_utf8_valid(out.data, out.len), "the list is valid UTF-8");
	j = fz_json_parse(out.data, out.len);
	FZ_ASSERT(json_object_is_type(j, json_type_array) && json_object_array_length(j) == 2, "the list parses");
	json_object_put(j);

	ss_buf_reset(&out);
	FZ_ASSERT(ss_present_cache_export(db, "default", SS_EXPORT_CSV, "x", sink, &out, &err) == 0, err.msg);
	record r;
	size_t pos = csv_record(out.data, out.len, 0, &r);
	FZ_ASSERT(r.n == 24 && strcmp(r.f[0], "Title") == 0, "a header of 24 fields");
	record_free(&r);
	int seen = 0;
	while (pos < out.len) {
		pos = csv_record(out.data, out.len, pos, &r);
		FZ_ASSERT(r.n == 24, "24 fields per record");
		for (size_t i = 0; i < r.n; i++)
			FZ_ASSERT(strlen(r.f[i]) == r.len[i], "no NUL in a field");
		bool is_a = strncmp(r.f[2], "a:", 2) == 0 || strncmp(r.f[2], "'a:", 3) == 0;
		check_text_cell(r.f[0], is_a ? p[0] : p[3]);
		check_text_cell(r.f[1], is_a ? p[1] : p[4]);
		check_text_cell(r.f[2], is_a ? prev_a : prev_b);
		if (!is_a) {
			check_text_cell(r.f[22], p[7]);
			check_text_cell(r.f[23], p[6]);
		}
		seen |= is_a ? 1 : 2;
		record_free(&r);
	}
	FZ_ASSERT(seen == 3, "one record per row");
	ss_buf_free(&out);
	free(prev_a);
	free(prev_b);
	fz_free_parts(p, 8);
	return 0;
}
