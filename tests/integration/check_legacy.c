/* Moving from the original (Python) server, and backups, on the real stack:
 *  - a database built with the original's schema (each version's CREATE TABLE from original-server.md §2) is
 *    imported with songscope-admin import-legacy, then the original clients' requests are replayed exactly as
 *    §1.5 describes them (headers, bodies) and every field each client decodes is checked (present, right
 *    JSON type, isValid rules);
 *  - import is idempotent and refuses databases it does not know; keys import registers an existing key;
 *  - db backup taken while writes go on is complete and consistent, the documented restore works, and a
 *    backup copied over the live database while the service runs is detected. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>
#include <sqlite3.h>

#include "core/store/store.h"
#include "core/util/jsonutil.h"
#include "tests/check_main.h"
#include "tests/integration/harness.h"

static ss_it_server srv;
static bool started;

static void teardown(void)
{
	if (started)
		ss_it_stop(&srv);
	started = false;
}

static void start(const char *auth)
{
	ss_it_opts o = {.workers = 2, .auth = auth};
	ss_it_start(&srv, &o);
	started = true;
}

/* ---- the original's schema, as its init_db() created it (original-server.md §2) ---- */

static const char V1_SQL[] =
	"CREATE TABLE analysis_cache (id INTEGER PRIMARY KEY AUTOINCREMENT, preview_url_hash TEXT UNIQUE NOT NULL,"
	" title TEXT NOT NULL, artist TEXT NOT NULL, preview_url TEXT NOT NULL, bpm REAL, bpm_confidence REAL,"
	" key TEXT, key_confidence REAL, energy REAL, danceability REAL, acousticness REAL, spectral_centroid REAL,"
	" analyzed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, analysis_duration REAL, user_verified INTEGER DEFAULT 0,"
	" manual_bpm REAL, manual_key TEXT, bpm_notes TEXT);"
	"CREATE INDEX idx_hash ON analysis_cache(preview_url_hash);"
	"CREATE INDEX idx_artist_title ON analysis_cache(artist, title);"
	"CREATE TABLE server_stats (id INTEGER PRIMARY KEY AUTOINCREMENT, total_analyses INTEGER DEFAULT 0,"
	" cache_hits INTEGER DEFAULT 0, cache_misses INTEGER DEFAULT 0,"
	" last_updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP);"
	"CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL, name TEXT NOT NULL,"
	" email TEXT, active INTEGER DEFAULT 1, daily_limit INTEGER DEFAULT 1000,"
	" created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, last_used TIMESTAMP);"
	"CREATE TABLE api_usage (id INTEGER PRIMARY KEY AUTOINCREMENT, api_key_id INTEGER NOT NULL REFERENCES"
	" api_keys(id), endpoint TEXT NOT NULL, success INTEGER DEFAULT 1, timestamp TIMESTAMP DEFAULT"
	" CURRENT_TIMESTAMP);"
	"CREATE INDEX idx_api_usage_key ON api_usage(api_key_id);"
	"CREATE INDEX idx_api_usage_timestamp ON api_usage(timestamp);"
	"INSERT INTO server_stats (total_analyses, cache_hits, cache_misses) VALUES (0, 0, 0);";

/* V3's migration loop (ALTER TABLE ... ADD COLUMN) on top of V1/V2. */
static const char V3_SQL[] = "ALTER TABLE analysis_cache ADD COLUMN time_signature TEXT;"
			     "ALTER TABLE analysis_cache ADD COLUMN valence REAL;"
			     "ALTER TABLE analysis_cache ADD COLUMN mood TEXT;"
			     "ALTER TABLE analysis_cache ADD COLUMN loudness REAL;"
			     "ALTER TABLE analysis_cache ADD COLUMN dynamic_range REAL;"
			     "ALTER TABLE analysis_cache ADD COLUMN silence_ratio REAL;";

/* A fresh V4+ database (backend/server/database.py): namespace right after preview_url. */
static const char V4_SQL[] =
	"CREATE TABLE analysis_cache (id INTEGER PRIMARY KEY AUTOINCREMENT, preview_url_hash TEXT UNIQUE NOT NULL,"
	" title TEXT NOT NULL, artist TEXT NOT NULL, preview_url TEXT NOT NULL, cache_namespace TEXT DEFAULT"
	" 'default', bpm REAL, bpm_confidence REAL, key TEXT, key_confidence REAL, energy REAL, danceability REAL,"
	" acousticness REAL, spectral_centroid REAL, analyzed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,"
	" analysis_duration REAL, user_verified INTEGER DEFAULT 0, manual_bpm REAL, manual_key TEXT, bpm_notes TEXT,"
	" time_signature TEXT, valence REAL, mood TEXT, loudness REAL, dynamic_range REAL, silence_ratio REAL,"
	" key_details TEXT, chunk_analysis TEXT, analysis_timing TEXT, dynamic_complexity REAL, tonal_strength REAL,"
	" spectral_complexity REAL, zero_crossing_rate REAL, spectral_flux REAL, percussive_energy_ratio REAL,"
	" harmonic_energy_ratio REAL);"
	"CREATE INDEX idx_hash ON analysis_cache(preview_url_hash);"
	"CREATE INDEX idx_artist_title ON analysis_cache(artist, title);"
	"CREATE INDEX idx_namespace_analyzed ON analysis_cache(cache_namespace, analyzed_at);"
	"CREATE TABLE server_stats (id INTEGER PRIMARY KEY AUTOINCREMENT, total_analyses INTEGER DEFAULT 0,"
	" cache_hits INTEGER DEFAULT 0, cache_misses INTEGER DEFAULT 0,"
	" last_updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP);"
	"CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL, name TEXT NOT NULL,"
	" email TEXT, active INTEGER DEFAULT 1, daily_limit INTEGER DEFAULT 1000,"
	" created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, last_used TIMESTAMP);"
	"CREATE TABLE api_usage (id INTEGER PRIMARY KEY AUTOINCREMENT, api_key_id INTEGER NOT NULL REFERENCES"
	" api_keys(id), endpoint TEXT NOT NULL, success INTEGER DEFAULT 1, timestamp TIMESTAMP DEFAULT"
	" CURRENT_TIMESTAMP);"
	"INSERT INTO server_stats (total_analyses, cache_hits, cache_misses) VALUES (0, 0, 0);";

/* The management app's compiled-in key and a key made by manage_api_keys.py (token_urlsafe(32)). */
#define MGMT_KEY "MacStudio-Server-Key-2025-abcdef0123456789"
#define CLI_KEY "Xq3v_9LzP0aB7cD2eF4gH6iJ8kL1mN3oP5qR7sT9uVw"
#define OFF_KEY "off0_9LzP0aB7cD2eF4gH6iJ8kL1mN3oP5qR7sT9uVw"
#define SONG_URL "https://previews.example.com/a/song1.m4a"

/* Rows as the V4+ server wrote them: plain and skip-chunk URL rows, an upload keyed by artist/title, a
 * verified row with overrides, another namespace, a namespace songscope cannot hold, NaN in key_details. */
static const char V4_ROWS[] =
	"UPDATE server_stats SET total_analyses = 40, cache_hits = 30, cache_misses = 10 WHERE id = 1;"
	"INSERT INTO api_keys (key, name, email, active, daily_limit) VALUES"
	" ('" MGMT_KEY "', 'Mac Studio app', NULL, 1, 0),"
	" ('" CLI_KEY "', 'iPhone', 'me@example.com', 1, 1000),"
	" ('" OFF_KEY "', 'old', NULL, 0, 1000),"
	" ('short', 'too short', NULL, 1, 1000);"
	"INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url, cache_namespace, bpm, bpm_confidence,"
	" key, key_confidence, energy, danceability, acousticness, spectral_centroid, analyzed_at, analysis_duration,"
	" user_verified, manual_bpm, manual_key, bpm_notes, time_signature, valence, mood, loudness, dynamic_range,"
	" silence_ratio, key_details, chunk_analysis, analysis_timing, dynamic_complexity, tonal_strength,"
	" spectral_complexity, zero_crossing_rate, spectral_flux, percussive_energy_ratio, harmonic_energy_ratio)"
	" VALUES"
	" ('h1', 'Song One', 'Band', '" SONG_URL "', 'default', 121.5, 0.82, 'F# Minor', 1.0, 0.71, 0.64, 0.18,"
	"  2210.5, '2025-11-18 02:38:39', 9.3, 1, 122.0, 'F# Minor', 'tapped', '6/8', 0.648455315341067, 'happy',"
	"  -9.5, 11.2, 0.01, '{\"key\":\"F# Minor\",\"confidence\":1.0}', '{\"skipped\":true}', '{\"hpss\":0.1}',"
	"  0.4, 0.7, 0.3, 0.05, 0.2, 0.45, 0.55),"
	" ('h2', 'Song One', 'Band', '" SONG_URL "::chunk=skip', 'default', 60.75, 0.5, 'A Major', 1.0, 0.7, 0.6,"
	"  0.2, 2200, '2025-11-18 02:40:00', 2.1, 0, NULL, NULL, NULL, '6/8', 0.5, 'neutral', -9, 11, 0.01, NULL, NULL,"
	"  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
	" ('h3', 'Upload Title', 'Upload Artist', 'audiodata://Upload Artist/Upload Title', 'default', 98.0, 0.6,"
	"  'C Major', 0.99, 0.5, 0.5, 0.4, 1800, '2025-11-19 10:00:00', 8.0, 0, NULL, NULL, NULL, '6/8', 0.55,"
	"  'neutral', -12, 9, 0.02, '{\"bad\": NaN}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
	" ('h4', 'Other NS', 'Someone', 'https://previews.example.com/b.m4a', 'sim_test', 140.0, 0.7, 'D Minor', 1.0,"
	"  0.9, 0.8, 0.1, 3000, '2025-11-20 18:03:01', 9.0, 0, NULL, NULL, NULL, '6/8', 0.6, 'energetic', -6, 8,"
	"  0.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
	" ('h5', 'Accented', 'NS', 'https://previews.example.com/c.m4a', 'caf\xc3\xa9', 100, 0.7, 'G Major', 1.0, 0.5,"
	"  0.5, 0.5, 2000, '2025-11-20 18:03:01', 9.0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
	"  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);";

static void sql_file(const char *path, const char *sql1, const char *sql2, const char *sql3)
{
	sqlite3 *h = NULL;
	unlink(path);
	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	const char *parts[3] = {sql1, sql2, sql3};
	for (int i = 0; i < 3; i++) {
		char *msg = NULL;
		if (parts[i] != NULL)
			ck_assert_msg(sqlite3_exec(h, parts[i], NULL, NULL, &msg) == SQLITE_OK, "%s", msg ? msg : "");
	}
	sqlite3_close(h);
}

/* Run songscope-admin with the server's config; stdout+stderr into out (may be NULL); stdin from `input`
 * when not NULL. Returns the exit status. */
static int admin(const char *input, ss_buf *out, const char *const *args)
{
	char cmd[4096];
	size_t n = (size_t)snprintf(cmd, sizeof cmd, "%s%s%s'%s/tools/songscope-admin' --config '%s'",
				    input ? "printf '%s\\n' '" : "", input ? input : "", input ? "' | " : "",
				    ss_it_builddir(), srv.conf);
	for (int i = 0; args[i] != NULL; i++)
		n += (size_t)snprintf(cmd + n, sizeof cmd - n, " '%s'", args[i]);
	snprintf(cmd + n, sizeof cmd - n, " 2>&1");
	ck_assert(n < sizeof cmd - 8);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	int rc = ss_it_run(argv, out);
	/* Give what songscope-admin created to the responders' user (the dir's owner), as an operator would. */
	struct stat dst;
	ck_assert_int_eq(stat(srv.dir, &dst), 0);
	const char *suffix[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char p[400];
		snprintf(p, sizeof p, "%s%s", srv.db, suffix[i]);
		if (access(p, F_OK) == 0)
			ck_assert_msg(chown(p, dst.st_uid, dst.st_gid) == 0, "chown %s: %s", p, strerror(errno));
	}
	return rc;
}

static json_object *import_json(const char *old, int want_rc)
{
	ss_buf out;
	ss_buf_init(&out, 0);
	const char *args[] = {"--json", "import-legacy", old, NULL};
	int rc = admin(NULL, &out, args);
	ck_assert_msg(rc == want_rc, "import-legacy exit %d: %s", rc, out.data ? out.data : "");
	/* Skipped rows are reported on stderr before the JSON: parse from the first '{'. */
	const char *brace = out.data == NULL ? NULL : out.data[0] == '{' ? out.data : strstr(out.data, "\n{");
	json_object *j = brace ? ss_json_parse(brace, strlen(brace), 8) : NULL;
	ck_assert_msg(j != NULL, "no JSON: %s", out.data ? out.data : "");
	ss_buf_free(&out);
	return j;
}

static long long jint(json_object *o, const char *k)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int), "%s: %s", k,
		      json_object_to_json_string(o));
	return json_object_get_int64(v);
}

/* ---- the clients' decode rules (original-server.md §1.5) ---- */

typedef enum { T_NUM, T_INT, T_STR, T_BOOL, T_ANY, T_NUM_OR_STR } jt;

static bool is_type(json_object *v, jt t)
{
	switch (t) {
	case T_NUM:
		return json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int);
	case T_INT:
		return json_object_is_type(v, json_type_int);
	case T_STR:
		return json_object_is_type(v, json_type_string);
	case T_BOOL:
		return json_object_is_type(v, json_type_boolean);
	case T_NUM_OR_STR:
		return is_type(v, T_NUM) || is_type(v, T_STR);
	case T_ANY:
		return true;
	}
	return false;
}

/* A required field: present, not null, of type t (a Swift Decodable non-optional). */
static json_object *need(json_object *o, const char *k, jt t, const char *model)
{
	json_object *v = NULL;
	ck_assert_msg(json_object_object_get_ex(o, k, &v) && v != NULL && is_type(v, t), "%s: required %s missing or "
		      "mistyped in %s", model, k, json_object_to_json_string(o));
	return v;
}

/* An optional field: absent, null, or of type t. */
static void maybe(json_object *o, const char *k, jt t, const char *model)
{
	json_object *v = NULL;
	if (json_object_object_get_ex(o, k, &v) && v != NULL)
		ck_assert_msg(is_type(v, t), "%s: optional %s mistyped in %s", model, k, json_object_to_json_string(o));
}

static const char *const RESULT_NUMS[] = {"bpm",    "bpm_confidence", "key_confidence", "energy", "danceability",
					  "acousticness", "spectral_centroid", NULL};

/* MacStudioService.AnalysisResult (iOS, /analyze and /analyze_data), including isValid. */
static void decode_ios_result(json_object *o)
{
	for (int i = 0; RESULT_NUMS[i]; i++) {
		double d = json_object_get_double(need(o, RESULT_NUMS[i], T_NUM, "iOS AnalysisResult"));
		ck_assert(isfinite(d));
	}
	need(o, "key", T_STR, "iOS AnalysisResult");
	need(o, "cached", T_BOOL, "iOS AnalysisResult");
	maybe(o, "analysis_duration", T_NUM, "iOS AnalysisResult");
	maybe(o, "analyzed_at", T_STR, "iOS AnalysisResult");
	ck_assert_msg(json_object_get_double(need(o, "bpm", T_NUM, "iOS")) > 0, "isValid: bpm <= 0");
}

/* The Simulator's AnalysisResult (/analyze_data, /analyze_batch items, /analyze). */
static void decode_sim_result(json_object *o)
{
	for (int i = 0; RESULT_NUMS[i]; i++)
		need(o, RESULT_NUMS[i], T_NUM, "Simulator AnalysisResult");
	need(o, "key", T_STR, "Simulator AnalysisResult");
	maybe(o, "analysis_duration", T_NUM, "Simulator AnalysisResult");
	maybe(o, "cached", T_BOOL, "Simulator AnalysisResult");
	maybe(o, "time_signature", T_STR, "Simulator AnalysisResult");
	maybe(o, "valence", T_NUM, "Simulator AnalysisResult");
	maybe(o, "mood", T_STR, "Simulator AnalysisResult");
	maybe(o, "loudness", T_NUM, "Simulator AnalysisResult");
	maybe(o, "dynamic_range", T_NUM, "Simulator AnalysisResult");
	maybe(o, "silence_ratio", T_NUM, "Simulator AnalysisResult");
}

/* CachedAnalysis (both clients; the Simulator's extra fields too), for /cache and /cache/search rows. */
static void decode_cached(json_object *o)
{
	const char *m = "CachedAnalysis";
	need(o, "id", T_INT, m);
	need(o, "title", T_STR, m);
	need(o, "artist", T_STR, m);
	need(o, "preview_url", T_STR, m);
	need(o, "analyzed_at", T_STR, m);
	need(o, "user_verified", T_BOOL, m);
	for (int i = 0; RESULT_NUMS[i]; i++)
		maybe(o, RESULT_NUMS[i], T_NUM, m);
	maybe(o, "key", T_STR, m);
	maybe(o, "analysis_duration", T_NUM, m);
	maybe(o, "manual_bpm", T_NUM, m);
	maybe(o, "manual_key", T_STR, m);
	maybe(o, "bpm_notes", T_STR, m);
	maybe(o, "time_signature", T_STR, m);
	maybe(o, "valence", T_NUM, m);
	maybe(o, "mood", T_STR, m);
	maybe(o, "loudness", T_NUM, m);
	maybe(o, "dynamic_range", T_NUM, m);
	maybe(o, "silence_ratio", T_NUM, m);
}

static json_object *get_json(const char *path, const char *const *hdrs, long want)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", path, hdrs, NULL, 0, &r), 0);
	ck_assert_msg(r.status == want, "GET %s: %ld %s", path, r.status, r.body.data ? r.body.data : "");
	json_object *j = ss_it_json(&r);
	ss_it_resp_free(&r);
	return j;
}

static json_object *post_json(const char *path, const char *const *hdrs, const char *body, long want)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", path, hdrs, body, strlen(body), &r), 0);
	ck_assert_msg(r.status == want, "POST %s: %ld %s", path, r.status, r.body.data ? r.body.data : "");
	json_object *j = ss_it_json(&r);
	ss_it_resp_free(&r);
	return j;
}

/* The row of an array whose preview_url is url (NULL when absent); borrowed. */
static json_object *row_with(json_object *arr, const char *url)
{
	ck_assert(json_object_is_type(arr, json_type_array));
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *r = json_object_array_get_idx(arr, i), *v;
		decode_cached(r);
		if (json_object_object_get_ex(r, "preview_url", &v) && strcmp(json_object_get_string(v), url) == 0)
			return r;
	}
	return NULL;
}

static unsigned char *wav_bytes(size_t *len)
{
	/* 6 s of 44.1 kHz clicks at 100 BPM over a chord, written with libsndfile to a temp file. */
	char path[400];
	snprintf(path, sizeof path, "%s/upload.wav", srv.dir);
	SF_INFO info = {.samplerate = 44100, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	ck_assert_ptr_nonnull(f);
	const int n = 44100 * 6;
	float *x = calloc((size_t)n, sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (int i = 0; i < n; i++) {
		double t = (double)i / 44100;
		x[i] = (float)(0.1 * sin(2 * M_PI * 220 * t) + 0.1 * sin(2 * M_PI * 329.63 * t));
		if (fmod(t, 0.6) < 0.01)
			x[i] += (float)(0.6 * sin(2 * M_PI * 2000 * t));
	}
	ck_assert_int_eq(sf_writef_float(f, x, n), n);
	sf_close(f);
	free(x);
	FILE *fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	long sz = ftell(fp);
	rewind(fp);
	unsigned char *b = malloc((size_t)sz);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(fread(b, 1, (size_t)sz, fp), (size_t)sz);
	fclose(fp);
	*len = (size_t)sz;
	return b;
}

static const char *old_db(const char *name)
{
	static char p[400];
	snprintf(p, sizeof p, "%s/%s", srv.dir, name);
	return p;
}

/* Import a V4+ database, then replay the management app and the Simulator (both send their key) with auth on. */
START_TEST(original_clients_decode_everything_after_import)
{
	start("required");
	const char *old = old_db("audio_analysis_cache.db");
	sql_file(old, V4_SQL, V4_ROWS, NULL);
	json_object *j = import_json(old, 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(j, "schema")), "V4-V8");
	ck_assert_int_eq(jint(j, "cache_rows"), 5);
	ck_assert_int_eq(jint(j, "cache_new"), 3);      /* song1 (plain wins over skip), upload, sim_test row */
	ck_assert_int_eq(jint(j, "cache_existing"), 1); /* song1's ::chunk=skip variant */
	ck_assert_int_eq(jint(j, "cache_skipped"), 1);  /* the accented namespace */
	ck_assert_int_eq(jint(j, "overrides_new"), 1);
	ck_assert_int_eq(jint(j, "keys_new"), 3);
	ck_assert_int_eq(jint(j, "keys_skipped"), 1); /* "short" */
	ck_assert(json_object_get_boolean(json_object_object_get(j, "stats_new")));
	json_object_put(j);

	/* Management app (MacStudioServerManager): its compiled-in key on /health, /stats, /cache*. */
	const char *mgmt[] = {"X-API-Key: " MGMT_KEY, NULL};
	j = get_json("/health", mgmt, 200);
	need(j, "running", T_BOOL, "ServerStatus");
	need(j, "port", T_INT, "ServerStatus");
	need(j, "version", T_STR, "ServerStatus");
	maybe(j, "uptime", T_NUM, "ServerStatus");
	json_object_put(j);

	j = get_json("/stats", mgmt, 200);
	ck_assert_int_ge(json_object_get_int64(need(j, "total_analyses", T_INT, "ServerStats")), 10);
	ck_assert_int_ge(json_object_get_int64(need(j, "cache_hits", T_INT, "ServerStats")), 30);
	ck_assert_int_ge(json_object_get_int64(need(j, "cache_misses", T_INT, "ServerStats")), 10);
	need(j, "cache_hit_rate", T_NUM_OR_STR, "ServerStats");
	maybe(j, "last_updated", T_STR, "ServerStats");
	maybe(j, "total_cached_songs", T_INT, "ServerStats");
	maybe(j, "database_path", T_STR, "ServerStats");
	json_object_put(j);

	j = get_json("/cache?limit=100&offset=0", mgmt, 200);
	json_object *row = row_with(j, SONG_URL);
	ck_assert_msg(row != NULL, "song1 not listed: %s", json_object_to_json_string(j));
	ck_assert(json_object_get_boolean(need(row, "user_verified", T_BOOL, "CachedAnalysis")));
	ck_assert(fabs(json_object_get_double(need(row, "manual_bpm", T_NUM, "CachedAnalysis")) - 122.0) < 1e-9);
	ck_assert_str_eq(json_object_get_string(need(row, "bpm_notes", T_STR, "CachedAnalysis")), "tapped");
	ck_assert(fabs(json_object_get_double(need(row, "bpm", T_NUM, "CachedAnalysis")) - 121.5) < 1e-9);
	ck_assert_str_eq(json_object_get_string(need(row, "analyzed_at", T_STR, "CachedAnalysis")), "2025-11-18 02:38:39");
	ck_assert_str_eq(json_object_get_string(need(row, "time_signature", T_STR, "CachedAnalysis")), "6/8");
	ck_assert_ptr_null(row_with(j, SONG_URL "::chunk=skip"));
	ck_assert_ptr_null(row_with(j, "https://previews.example.com/b.m4a")); /* another namespace */
	json_object_put(j);

	j = get_json("/cache?namespace=sim_test", mgmt, 200);
	ck_assert_ptr_nonnull(row_with(j, "https://previews.example.com/b.m4a"));
	json_object_put(j);

	/* An upload keyed by artist/title in the original: listed and found by search, as before. */
	j = get_json("/cache/search?q=Upload%20Art", mgmt, 200);
	row = row_with(j, "audiodata://Upload Artist/Upload Title");
	ck_assert_msg(row != NULL, "upload row not found: %s", json_object_to_json_string(j));
	ck_assert(!json_object_get_boolean(need(row, "user_verified", T_BOOL, "CachedAnalysis")));
	json_object_put(j);

	/* V1 client's export (CacheExportResponse + CachedSong: every song field required, non-null). */
	j = get_json("/cache/export", mgmt, 200);
	need(j, "total_songs", T_INT, "CacheExportResponse");
	need(j, "exported_at", T_STR, "CacheExportResponse");
	json_object *songs = need(j, "songs", T_ANY, "CacheExportResponse");
	ck_assert_int_ge(json_object_array_length(songs), 2);
	for (size_t i = 0; i < json_object_array_length(songs); i++) {
		json_object *s = json_object_array_get_idx(songs, i);
		need(s, "title", T_STR, "CachedSong");
		need(s, "artist", T_STR, "CachedSong");
		need(s, "key", T_STR, "CachedSong");
		need(s, "analyzed_at", T_STR, "CachedSong");
		need(s, "bpm", T_NUM, "CachedSong");
		need(s, "energy", T_NUM, "CachedSong");
		need(s, "danceability", T_NUM, "CachedSong");
		need(s, "acousticness", T_NUM, "CachedSong");
	}
	json_object_put(j);

	/* Simulator: /analyze with the clients' body {url, title, artist} hits the imported row (no download). */
	const char *sim[] = {"X-API-Key: " CLI_KEY, "Content-Type: application/json", NULL};
	j = post_json("/analyze", sim, "{\"url\":\"" SONG_URL "\",\"title\":\"Song One\",\"artist\":\"Band\"}", 200);
	decode_sim_result(j);
	decode_ios_result(j);
	ck_assert(json_object_get_boolean(json_object_object_get(j, "cached")));
	ck_assert(fabs(json_object_get_double(json_object_object_get(j, "bpm")) - 121.5) < 1e-9);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(j, "key")), "F# Minor");
	json_object_put(j);

	/* Simulator upload with every header it sends. */
	size_t len;
	unsigned char *wav = wav_bytes(&len);
	const char *up[] = {"X-API-Key: " CLI_KEY,
			    "X-Song-Title: Fresh",
			    "X-Song-Artist: Simulator",
			    "X-Client-Request-Id: 6C1F9A2E-0000-4000-8000-000000000001",
			    "X-Skip-Chunk-Analysis: 1",
			    "X-Force-Reanalyze: 1",
			    "X-Cache-Namespace: sim_test",
			    "Content-Type: audio/wav",
			    NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/analyze_data", up, wav, len, &r), 0);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body.data ? r.body.data : "");
	j = ss_it_json(&r);
	ss_it_resp_free(&r);
	free(wav);
	decode_sim_result(j);
	json_object_put(j);

	/* The deactivated original key stays refused; a key the original never had is refused. */
	const char *off[] = {"X-API-Key: " OFF_KEY, NULL};
	j = get_json("/stats", off, 403);
	json_object_put(j);
}
END_TEST

/* The iOS analysis client sends no key: with auth off (or anonymous_networks) its calls work on imported rows. */
START_TEST(ios_analysis_client_without_key_after_import)
{
	start("off");
	const char *old = old_db("audio_analysis_cache.db");
	sql_file(old, V4_SQL, V4_ROWS, NULL);
	json_object_put(import_json(old, 0));
	const char *h[] = {"Content-Type: application/json", NULL};
	json_object *j =
		post_json("/analyze", h, "{\"url\":\"" SONG_URL "\",\"title\":\"Song One\",\"artist\":\"Band\"}", 200);
	decode_ios_result(j);
	ck_assert(json_object_get_boolean(json_object_object_get(j, "cached")));
	json_object_put(j);

	/* /verify {url, manual_bpm, manual_key, bpm_notes} on the upload row, by its original key string. */
	j = post_json("/verify", h,
		      "{\"url\":\"audiodata://Upload Artist/Upload Title\",\"manual_bpm\":99.5,\"manual_key\":\"C Major\","
		      "\"bpm_notes\":\"from the phone\"}",
		      200);
	ck_assert(json_object_get_boolean(need(j, "success", T_BOOL, "ServerResponse")));
	json_object_put(j);
	j = get_json("/cache/search?q=Upload", NULL, 200);
	json_object *row = row_with(j, "audiodata://Upload Artist/Upload Title");
	ck_assert_ptr_nonnull(row);
	ck_assert(json_object_get_boolean(json_object_object_get(row, "user_verified")));
	ck_assert(fabs(json_object_get_double(json_object_object_get(row, "manual_bpm")) - 99.5) < 1e-9);
	json_object_put(j);
}
END_TEST

static long long count_rows(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	long long n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* Every version's schema imports; a second run adds nothing and says 0 new. */
START_TEST(import_every_version_idempotent)
{
	start("off");
	const char *v1 = old_db("v1.db");
	sql_file(v1, V1_SQL,
		 "INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url, bpm, bpm_confidence, key,"
		 " key_confidence, energy, danceability, acousticness, spectral_centroid, analysis_duration, user_verified)"
		 " VALUES ('a', 'V1 Song', 'Old', 'https://v1.example.com/x.m4a', 118, 0.95, 'E Minor', 0.2, 0.6, -0.1,"
		 " 0.3, 2500, 2.5, 1), ('b', 'T', 'A', 'audiodata://A/T', 90, 0.65, 'C Major', 0.1, 0.4, 0.5, 0.5, 1500, 3, 0);"
		 "UPDATE server_stats SET total_analyses = 7, cache_hits = 5, cache_misses = 7;",
		 NULL);
	json_object *j = import_json(v1, 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(j, "schema")), "V1-V2");
	ck_assert_int_eq(jint(j, "cache_new"), 2);
	ck_assert_int_eq(jint(j, "overrides_new"), 1); /* user_verified without manual values */
	json_object_put(j);

	const char *v3 = old_db("v3.db");
	sql_file(v3, V1_SQL, V3_SQL,
		 "INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url, bpm, bpm_confidence, key,"
		 " key_confidence, energy, danceability, acousticness, spectral_centroid, time_signature, valence, mood,"
		 " loudness, dynamic_range, silence_ratio) VALUES ('c', 'V3 Song', 'Mid', 'https://v3.example.com/y.m4a',"
		 " 128, 0.75, 'G Major', 0.3, 0.8, 0.7, 0.1, 3100, '4/4', 0.9, 'energetic', -8.2, 20.1, 0.0);"
		 "INSERT INTO api_keys (key, name) VALUES ('" CLI_KEY "', 'v3 key');");
	j = import_json(v3, 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(j, "schema")), "V3");
	ck_assert_int_eq(jint(j, "cache_new"), 1);
	ck_assert_int_eq(jint(j, "keys_new"), 1);
	json_object_put(j);

	const char *v4 = old_db("v4.db");
	sql_file(v4, V4_SQL, V4_ROWS, NULL);
	json_object_put(import_json(v4, 0));

	long long rows = count_rows(srv.db, "SELECT count(*) FROM analysis_cache");
	long long keys = count_rows(srv.db, "SELECT count(*) FROM api_keys");
	long long ovr = count_rows(srv.db, "SELECT count(*) FROM overrides");
	long long hits = count_rows(srv.db, "SELECT cache_hits FROM server_stats");
	ck_assert_int_eq(rows, 6);
	ck_assert_int_eq(hits, 5 + 30);
	const char *all[] = {v1, v3, v4};
	for (int i = 0; i < 3; i++) {
		j = import_json(all[i], 0);
		ck_assert_int_eq(jint(j, "cache_new"), 0);
		ck_assert_int_eq(jint(j, "keys_new"), 0);
		ck_assert_int_eq(jint(j, "overrides_new"), 0);
		ck_assert(!json_object_get_boolean(json_object_object_get(j, "stats_new")));
		json_object_put(j);
	}
	ck_assert_int_eq(count_rows(srv.db, "SELECT count(*) FROM analysis_cache"), rows);
	ck_assert_int_eq(count_rows(srv.db, "SELECT count(*) FROM api_keys"), keys);
	ck_assert_int_eq(count_rows(srv.db, "SELECT count(*) FROM overrides"), ovr);
	ck_assert_int_eq(count_rows(srv.db, "SELECT cache_hits FROM server_stats"), hits);

	/* The old file was opened read-only: not a byte changed, no journal left next to it. */
	char wal[420];
	snprintf(wal, sizeof wal, "%s-wal", v4);
	ck_assert_int_ne(access(wal, F_OK), 0);
}
END_TEST

static void expect_refused(const char *path, const char *why)
{
	ss_buf out;
	ss_buf_init(&out, 0);
	const char *args[] = {"import-legacy", path, NULL};
	int rc = admin(NULL, &out, args);
	ck_assert_msg(rc == 1, "%s: exit %d: %s", path, rc, out.data ? out.data : "");
	ck_assert_msg(out.data != NULL && strstr(out.data, why) != NULL, "%s: message '%s' lacks '%s'", path,
		      out.data ? out.data : "", why);
	ss_buf_free(&out);
}

START_TEST(unknown_databases_are_refused)
{
	start("off");
	long long before = count_rows(srv.db, "SELECT count(*) FROM analysis_cache");
	const char *junk = ss_it_write_file(&srv, "junk.db", "this is not a database, just some text....\n", 44);
	expect_refused(junk, "not an SQLite database");
	const char *other = old_db("other.db");
	sql_file(other, "CREATE TABLE songs (id INTEGER PRIMARY KEY, name TEXT);", NULL, NULL);
	expect_refused(other, "no analysis_cache table");
	const char *partial = old_db("partial.db");
	sql_file(partial, "CREATE TABLE analysis_cache (id INTEGER PRIMARY KEY, title TEXT, artist TEXT);", NULL, NULL);
	expect_refused(partial, "has no column");
	expect_refused(srv.db, "is a songscope database");
	expect_refused(old_db("missing.db"), "cannot read");
	ck_assert_int_eq(count_rows(srv.db, "SELECT count(*) FROM analysis_cache"), before);
}
END_TEST

START_TEST(keys_import_registers_an_existing_key)
{
	start("required");
	ss_buf out;
	ss_buf_init(&out, 0);
	const char *args[] = {"keys", "import", "Mac Studio app", "--key-stdin", "--scope", "admin", "--daily-limit",
			      "500", NULL};
	int rc = admin(MGMT_KEY, &out, args);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out.data);
	ck_assert_msg(strstr(out.data, MGMT_KEY) == NULL, "the key is printed: %s", out.data);
	ss_buf_reset(&out);
	/* The same key again: refused, nothing changes. */
	rc = admin(MGMT_KEY, &out, args);
	ck_assert_msg(rc == 1 && strstr(out.data, "already registered"), "exit %d: %s", rc, out.data);
	ss_buf_reset(&out);
	const char *bad[] = {"short-key", "has a space in it 0123456789", "tab\tinside-0123456789abc", ""};
	for (int i = 0; i < 4; i++) {
		const char *a2[] = {"keys", "import", "bad", "--key-stdin", NULL};
		rc = admin(bad[i], &out, a2);
		ck_assert_msg(rc == 2, "'%s' accepted: exit %d: %s", bad[i], rc, out.data);
		ss_buf_reset(&out);
	}
	const char *nostdin[] = {"keys", "import", "bad", NULL};
	ck_assert_int_eq(admin(NULL, &out, nostdin), 2);
	ss_buf_free(&out);
	ck_assert_int_eq(count_rows(srv.db, "SELECT count(*) FROM api_keys"), 1);
	/* The key works as it is, with the scope given (an admin endpoint). */
	const char *h[] = {"X-API-Key: " MGMT_KEY, NULL};
	json_object *j = get_json("/cache", h, 200);
	json_object_put(j);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/cache/clear?namespace=nothing", h, "", 0, &r), 0);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body.data);
	ss_it_resp_free(&r);
}
END_TEST

/* ---- backups ---- */

typedef struct writer {
	char db[400];
	atomic_int stop;
	atomic_llong committed; /* highest key id known committed */
} writer;

static void *write_keys(void *arg)
{
	writer *w = arg;
	ss_store *db = NULL;
	ss_error err;
	ss_store_params sp = {.backend = "sqlite", .path = w->db};
	if (ss_store_open(&sp, &db, &err) != 0)
		return NULL;
	while (!atomic_load(&w->stop)) {
		ss_key_record rec;
		char key[SS_APIKEY_TEXT_MAX];
		if (ss_store_key_create(db, "w", NULL, SS_KEY_CLIENT, 0, 0, &rec, key, &err) == 0)
			atomic_store(&w->committed, rec.id);
	}
	ss_store_close(db);
	return NULL;
}

static const char *backup_path(const char *name)
{
	static char p[400];
	snprintf(p, sizeof p, "%s/%s", srv.dir, name);
	return p;
}

/* A database big enough that the copy takes many steps: n synthetic original rows imported. */
static void fill(int n)
{
	const char *old = old_db("big.db");
	sql_file(old, V4_SQL, NULL, NULL);
	sqlite3 *h = NULL;
	ck_assert_int_eq(sqlite3_open(old, &h), SQLITE_OK);
	char sql[1024];
	snprintf(sql, sizeof sql,
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
		 " INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url, bpm, bpm_confidence, key,"
		 " key_confidence, energy, danceability, acousticness, spectral_centroid) SELECT 'h' || i, 'Title ' || i,"
		 " 'Artist ' || (i %% 97), 'https://bulk.example.com/' || i || '.m4a', 60 + i %% 120, 0.5, 'C Major', 0.9,"
		 " 0.5, 0.5, 0.5, 2000 FROM n",
		 n);
	ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	json_object_put(import_json(old, 0));
}

START_TEST(backup_under_writes_is_complete_and_restores)
{
	start("off");
	fill(20000);
	writer w = {.stop = 0, .committed = 0};
	snprintf(w.db, sizeof w.db, "%s", srv.db);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, write_keys, &w), 0);
	for (int i = 0; i < 100000 && atomic_load(&w.committed) < 20; i++)
		usleep(1000); /* bounded wait until writes are going on */
	ck_assert_int_ge(atomic_load(&w.committed), 20);
	long long before = atomic_load(&w.committed);
	const char *bk = backup_path("backup.db");
	ss_buf out;
	ss_buf_init(&out, 0);
	const char *args[] = {"db", "backup", bk, NULL};
	int rc = admin(NULL, &out, args);
	long long after_start = atomic_load(&w.committed);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out.data);
	ck_assert_msg(strstr(out.data, "20000 cached songs") != NULL, "%s", out.data);
	/* Writes went on during the backup. */
	for (int i = 0; i < 100000 && atomic_load(&w.committed) < after_start + 5; i++)
		usleep(1000);
	atomic_store(&w.stop, 1);
	pthread_join(t, NULL);
	ck_assert_int_gt(atomic_load(&w.committed), before);

	struct stat sb;
	ck_assert_int_eq(stat(bk, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	/* Consistent: integrity_check ok, and a snapshot: every key committed before it started, no gaps. */
	sqlite3 *h = NULL;
	ck_assert_int_eq(sqlite3_open_v2(bk, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(h);
	long long nkeys = count_rows(bk, "SELECT count(*) FROM api_keys");
	ck_assert_int_ge(nkeys, before);
	ck_assert_int_eq(count_rows(bk, "SELECT max(id) FROM api_keys"), nkeys);
	ck_assert_int_eq(count_rows(bk, "SELECT count(*) FROM analysis_cache"), 20000);

	/* No overwrite without --force; with it, fine. */
	ss_buf_reset(&out);
	ck_assert_int_eq(admin(NULL, &out, args), 1);
	ck_assert_msg(strstr(out.data, "--force") != NULL, "%s", out.data);
	const char *forced[] = {"db", "backup", bk, "--force", NULL};
	ss_buf_reset(&out);
	ck_assert_int_eq(admin(NULL, &out, forced), 0);
	long long nkeys2 = count_rows(bk, "SELECT count(*) FROM api_keys");
	ck_assert_int_ge(nkeys2, nkeys);

	/* Restore as documented: stop, copy over, remove -wal/-shm, start. A key made later is gone. */
	ss_buf_reset(&out);
	const char *mk[] = {"keys", "create", "after-backup", NULL};
	ck_assert_int_eq(admin(NULL, &out, mk), 0);
	ck_assert_int_eq(count_rows(srv.db, "SELECT count(*) FROM api_keys"), nkeys2 + 1);
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm' && chown --reference='%s' '%s'", bk, srv.db,
		 srv.db, srv.db, srv.dir, srv.db);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	ck_assert_int_eq(ss_it_run(argv, NULL), 0);
	ss_it_start_songscope(&srv);
	json_object *j = get_json("/health", NULL, 200);
	json_object_put(j);
	j = get_json("/stats", NULL, 200);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(j, "total_cached_songs")), 20000);
	json_object_put(j);
	ck_assert_int_eq(count_rows(srv.db, "SELECT count(*) FROM api_keys"), nkeys2);
	ss_buf_free(&out);
}
END_TEST

/* The dangerous restore: a backup written over the live file (same inode) while the service runs. */
START_TEST(copy_over_live_database_is_detected)
{
	start("off");
	const char *bk = backup_path("live-backup.db");
	ss_buf out;
	ss_buf_init(&out, 0);
	const char *args[] = {"db", "backup", bk, NULL};
	ck_assert_int_eq(admin(NULL, &out, args), 0);
	json_object *j = get_json("/health", NULL, 200);
	json_object_put(j);
	struct stat before, after;
	ck_assert_int_eq(stat(srv.db, &before), 0);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", bk, srv.db); /* cp rewrites the existing inode */
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	ck_assert_int_eq(ss_it_run(argv, NULL), 0);
	ck_assert_int_eq(stat(srv.db, &after), 0);
	ck_assert_int_eq(before.st_ino, after.st_ino);
	/* Every responder notices on its next request: /health says so, data requests get 503, nothing served. */
	for (int i = 0; i < 6; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&srv, "GET", "/health", NULL, NULL, 0, &r), 0);
		ck_assert_msg(r.status == 503, "%ld %s", r.status, r.body.data);
		ck_assert_msg(strstr(r.body.data, "overwritten") != NULL, "%s", r.body.data);
		ss_it_resp_free(&r);
		ck_assert_int_eq(ss_it_request(&srv, "GET", "/cache", NULL, NULL, 0, &r), 0);
		ss_it_assert_error(&r, 503, "unavailable");
		ss_it_resp_free(&r);
	}
	/* And the log says what to do. */
	char log[400];
	snprintf(log, sizeof log, "grep -rl 'overwritten while in use' '%s'", srv.dir);
	char *g[] = {"/bin/sh", "-c", log, NULL};
	ck_assert_int_eq(ss_it_run(g, NULL), 0);
	ss_buf_free(&out);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "nginx not found (SS_NGINX); skipping integration tests\n");
		return 77;
	}
	Suite *s = suite_create("legacy");
	TCase *tc = tcase_create("import");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, original_clients_decode_everything_after_import);
	tcase_add_test(tc, ios_analysis_client_without_key_after_import);
	tcase_add_test(tc, import_every_version_idempotent);
	tcase_add_test(tc, unknown_databases_are_refused);
	tcase_add_test(tc, keys_import_registers_an_existing_key);
	suite_add_tcase(s, tc);
	tc = tcase_create("backup");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, backup_under_writes_is_complete_and_restores);
	tcase_add_test(tc, copy_over_live_database_is_detected);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
