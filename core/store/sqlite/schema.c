#include "core/store/sqlite/schema.h"

/* Append new steps at the end; never edit a step that has shipped. */
const ss_migration ss_schema_migrations[] = {
	{1,
	 /* Analysed songs. cache_key = sha256 hex of "namespace::url::<url>::<opts>" or
	  * "namespace::sha256::<content hash>::<opts>". source is the URL or the content hash. */
	 "CREATE TABLE analysis_cache ("
	 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	 " cache_key TEXT NOT NULL UNIQUE,"
	 " cache_namespace TEXT NOT NULL DEFAULT 'default',"
	 " source_kind TEXT NOT NULL CHECK (source_kind IN ('url','upload')),"
	 " source TEXT NOT NULL,"
	 " preview_url TEXT NOT NULL,"
	 " title TEXT NOT NULL,"
	 " artist TEXT NOT NULL,"
	 " bpm REAL, bpm_confidence REAL, key TEXT, key_confidence REAL,"
	 " energy REAL, danceability REAL, acousticness REAL, spectral_centroid REAL,"
	 " time_signature TEXT, valence REAL, mood TEXT, loudness REAL, dynamic_range REAL, silence_ratio REAL,"
	 " result_json TEXT NOT NULL,"
	 " analysis_duration REAL,"
	 " analyzed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))"
	 ");"
	 "CREATE INDEX idx_cache_ns_time ON analysis_cache(cache_namespace, analyzed_at, id);"
	 "CREATE INDEX idx_cache_time ON analysis_cache(analyzed_at, id);"
	 "CREATE INDEX idx_cache_source ON analysis_cache(cache_namespace, source);"
	 /* Manual overrides from /verify, keyed by what identifies the song, not by the cache row, so that
	  * re-analysis (which replaces the row) cannot wipe them. */
	 "CREATE TABLE overrides ("
	 " cache_namespace TEXT NOT NULL,"
	 " source TEXT NOT NULL,"
	 " manual_bpm REAL, manual_key TEXT, bpm_notes TEXT,"
	 " verified_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),"
	 " PRIMARY KEY (cache_namespace, source)"
	 ");"
	 "CREATE TABLE server_stats ("
	 " id INTEGER PRIMARY KEY CHECK (id = 1),"
	 " total_analyses INTEGER NOT NULL DEFAULT 0,"
	 " cache_hits INTEGER NOT NULL DEFAULT 0,"
	 " cache_misses INTEGER NOT NULL DEFAULT 0,"
	 " requests_served INTEGER NOT NULL DEFAULT 0,"
	 " last_updated TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))"
	 ");"
	 "INSERT INTO server_stats(id) VALUES (1);"
	 /* API keys: only the SHA-256 of the key is stored; prefix is a short non-secret handle for display. */
	 "CREATE TABLE api_keys ("
	 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	 " key_hash BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),"
	 " prefix TEXT NOT NULL,"
	 " name TEXT NOT NULL,"
	 " email TEXT,"
	 " scope TEXT NOT NULL DEFAULT 'client' CHECK (scope IN ('client','admin')),"
	 " active INTEGER NOT NULL DEFAULT 1,"
	 " daily_limit INTEGER NOT NULL DEFAULT 0 CHECK (daily_limit >= 0),"
	 " rate_limit INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit >= 0),"
	 " created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),"
	 " last_used TEXT"
	 ");"
	 "CREATE TABLE api_usage ("
	 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	 " api_key_id INTEGER NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,"
	 " endpoint TEXT NOT NULL,"
	 " status INTEGER NOT NULL,"
	 " timestamp TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))"
	 ");"
	 "CREATE INDEX idx_usage_key_time ON api_usage(api_key_id, timestamp);"
	 "CREATE INDEX idx_usage_time ON api_usage(timestamp);"},
	{2,
	 /* Beat times of a cached analysis (JSON array), served with ?beats=1 without bloating result_json. */
	 "ALTER TABLE analysis_cache ADD COLUMN beats_json TEXT;"},
	{3,
	 /* Usage journals (core/store/usage_journal.h): the last sequence number of each responder's journal
	  * whose rows are in api_usage, written in the same transaction as the rows, so that importing a
	  * journal left by a killed responder can never count a row twice. */
	 "CREATE TABLE usage_journal ("
	 " journal_id INTEGER PRIMARY KEY,"
	 " last_seq INTEGER NOT NULL,"
	 " updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))"
	 ");"},
	{4,
	 /* Statistics taken over from an original (Python) server's database by `songscope-admin import-legacy`:
	  * per original database (signature: a hash of its first cache row and first key), the counters already
	  * added, so importing it again adds only what it counted since. */
	 "CREATE TABLE legacy_imports ("
	 " signature TEXT PRIMARY KEY,"
	 " total_analyses INTEGER NOT NULL,"
	 " cache_hits INTEGER NOT NULL,"
	 " cache_misses INTEGER NOT NULL,"
	 " imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))"
	 ");"},
	{5,
	 /* A trigram index over title and artist, so that /cache/search finds substrings of 3 or more characters
	  * without reading every row (core/store/cache.c checks each candidate with the same LIKE as before, so
	  * results are unchanged). External content: the text stays in analysis_cache; the triggers keep the
	  * index in step with every insert, upsert, update and delete, and 'rebuild' fills it from the rows
	  * already there. */
	 "CREATE VIRTUAL TABLE analysis_cache_fts USING fts5(title, artist, content='analysis_cache',"
	 " content_rowid='id', tokenize='trigram');"
	 "CREATE TRIGGER analysis_cache_fts_insert AFTER INSERT ON analysis_cache BEGIN"
	 " INSERT INTO analysis_cache_fts(rowid, title, artist) VALUES (new.id, new.title, new.artist);"
	 " END;"
	 "CREATE TRIGGER analysis_cache_fts_delete AFTER DELETE ON analysis_cache BEGIN"
	 " INSERT INTO analysis_cache_fts(analysis_cache_fts, rowid, title, artist)"
	 " VALUES ('delete', old.id, old.title, old.artist);"
	 " END;"
	 "CREATE TRIGGER analysis_cache_fts_update AFTER UPDATE OF id, title, artist ON analysis_cache BEGIN"
	 " INSERT INTO analysis_cache_fts(analysis_cache_fts, rowid, title, artist)"
	 " VALUES ('delete', old.id, old.title, old.artist);"
	 " INSERT INTO analysis_cache_fts(rowid, title, artist) VALUES (new.id, new.title, new.artist);"
	 " END;"
	 "INSERT INTO analysis_cache_fts(analysis_cache_fts) VALUES ('rebuild');"},
	{6,
	 /* Text earlier releases stored as the bytes they got (an upload's X-Song-Title, a key name typed in an
	  * ISO-8859-1 terminal) becomes UTF-8 text, those bytes read as ISO-8859-1 as uploads are now; a key's
	  * name and email stay within SS_KEY_NAME_MAX (128) and SS_KEY_EMAIL_MAX (256). songscope_utf8 is
	  * registered by the migration (db.c); a row that is UTF-8 already is not written. */
	 "UPDATE analysis_cache SET title = songscope_utf8(title, 0) WHERE title IS NOT songscope_utf8(title, 0);"
	 "UPDATE analysis_cache SET artist = songscope_utf8(artist, 0) WHERE artist IS NOT songscope_utf8(artist, 0);"
	 "UPDATE api_keys SET name = songscope_utf8(name, 128) WHERE name IS NOT songscope_utf8(name, 128);"
	 "UPDATE api_keys SET email = songscope_utf8(email, 256) WHERE email IS NOT songscope_utf8(email, 256);"
	 "UPDATE overrides SET bpm_notes = songscope_utf8(bpm_notes, 0)"
	 " WHERE bpm_notes IS NOT songscope_utf8(bpm_notes, 0);"},
};

const int ss_schema_migration_count = (int)(sizeof ss_schema_migrations / sizeof ss_schema_migrations[0]);

int ss_schema_latest(void)
{
	return ss_schema_migrations[ss_schema_migration_count - 1].version;
}
