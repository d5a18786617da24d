#include "core/store/postgresql/pg_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_xact_lock key of schema migrations ("songscope" in letters, small enough for a bigint). */
#define MIGRATION_LOCK "7415151832"

typedef struct pg_migration {
	int version;
	const char *sql;
} pg_migration;

#define NOW_DEFAULT " DEFAULT " SS_PG_NOW_UTC

/* Append new steps at the end; never edit a step that has shipped. */
static const pg_migration migrations[] = {
	{1,
	 /* The SQLite schema's tables (core/store/schema.c, versions 1-4) with PostgreSQL types. Times are UTC
	  * timestamps in whole seconds, shown as "YYYY-MM-DD HH:MM:SS". Title and artist compare byte-wise
	  * (COLLATE "C") as in SQLite, so ordering and ILIKE's case folding (ASCII only) give the same answers. */
	 "CREATE TABLE analysis_cache ("
	 " id bigserial PRIMARY KEY,"
	 " cache_key text NOT NULL UNIQUE,"
	 " cache_namespace text NOT NULL DEFAULT 'default',"
	 " source_kind text NOT NULL CHECK (source_kind IN ('url','upload')),"
	 " source text NOT NULL,"
	 " preview_url text NOT NULL,"
	 " title text COLLATE \"C\" NOT NULL,"
	 " artist text COLLATE \"C\" NOT NULL,"
	 " bpm double precision, bpm_confidence double precision, key text, key_confidence double precision,"
	 " energy double precision, danceability double precision, acousticness double precision,"
	 " spectral_centroid double precision, time_signature text, valence double precision, mood text,"
	 " loudness double precision, dynamic_range double precision, silence_ratio double precision,"
	 " result_json text NOT NULL,"
	 " beats_json text,"
	 " analysis_duration double precision,"
	 " analyzed_at timestamp NOT NULL" NOW_DEFAULT
	 ");"
	 "CREATE INDEX idx_cache_ns_time ON analysis_cache(cache_namespace, analyzed_at, id);"
	 "CREATE INDEX idx_cache_time ON analysis_cache(analyzed_at, id);"
	 "CREATE INDEX idx_cache_source ON analysis_cache(cache_namespace, source);"
	 /* Overrides are keyed by what identifies the song, so re-analysis cannot wipe them. */
	 "CREATE TABLE overrides ("
	 " cache_namespace text NOT NULL,"
	 " source text NOT NULL,"
	 " manual_bpm double precision, manual_key text, bpm_notes text,"
	 " verified_at timestamp NOT NULL" NOW_DEFAULT ","
	 " PRIMARY KEY (cache_namespace, source)"
	 ");"
	 "CREATE TABLE server_stats ("
	 " id integer PRIMARY KEY CHECK (id = 1),"
	 " total_analyses bigint NOT NULL DEFAULT 0,"
	 " cache_hits bigint NOT NULL DEFAULT 0,"
	 " cache_misses bigint NOT NULL DEFAULT 0,"
	 " requests_served bigint NOT NULL DEFAULT 0,"
	 " last_updated timestamp NOT NULL" NOW_DEFAULT
	 ");"
	 "INSERT INTO server_stats(id) VALUES (1);"
	 "CREATE TABLE api_keys ("
	 " id bigserial PRIMARY KEY,"
	 " key_hash bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),"
	 " prefix text NOT NULL,"
	 " name text NOT NULL,"
	 " email text,"
	 " scope text NOT NULL DEFAULT 'client' CHECK (scope IN ('client','admin')),"
	 " active boolean NOT NULL DEFAULT true,"
	 " daily_limit bigint NOT NULL DEFAULT 0 CHECK (daily_limit >= 0),"
	 " rate_limit bigint NOT NULL DEFAULT 0 CHECK (rate_limit >= 0),"
	 " created_at timestamp NOT NULL" NOW_DEFAULT ","
	 " last_used timestamp"
	 ");"
	 "CREATE INDEX idx_keys_name ON api_keys(name);"
	 "CREATE TABLE api_usage ("
	 " id bigserial PRIMARY KEY,"
	 " api_key_id bigint NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,"
	 " endpoint text NOT NULL,"
	 " status integer NOT NULL,"
	 " timestamp timestamp NOT NULL" NOW_DEFAULT
	 ");"
	 "CREATE INDEX idx_usage_key_time ON api_usage(api_key_id, timestamp);"
	 "CREATE INDEX idx_usage_time ON api_usage(timestamp);"
	 /* Per responder journal, the last sequence number whose rows are in api_usage (usage_journal.h). */
	 "CREATE TABLE usage_journal ("
	 " journal_id bigint PRIMARY KEY,"
	 " last_seq bigint NOT NULL,"
	 " updated_at timestamp NOT NULL" NOW_DEFAULT
	 ");"
	 /* Counters taken over from original servers by import-legacy, per original database. */
	 "CREATE TABLE legacy_imports ("
	 " signature text PRIMARY KEY,"
	 " total_analyses bigint NOT NULL,"
	 " cache_hits bigint NOT NULL,"
	 " cache_misses bigint NOT NULL,"
	 " imported_at timestamp NOT NULL" NOW_DEFAULT
	 ");"},
	{2,
	 /* /cache/search finds substrings of title and artist through a trigram index (pg_trgm serves ILIKE
	  * '%q%' and rechecks every candidate, so the answer is exactly the ILIKE answer). pg_trgm is a trusted
	  * extension: the database owner may create it. */
	 "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
	 "CREATE INDEX idx_cache_trgm ON analysis_cache USING gin (title gin_trgm_ops, artist gin_trgm_ops);"},
	{3,
	 /* /v1/audio-features finds a row by the first 32 hex digits of its cache key: a range over the keys in byte
	  * order, whatever the database's collation. */
	 "CREATE INDEX idx_cache_key_bytes ON analysis_cache ((cache_key COLLATE \"C\"));"},
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int ss_pg_schema_latest(void)
{
	return migrations[NMIGRATIONS - 1].version;
}

static const char SQL_VERSION[] = "SELECT coalesce(max(version), 0) FROM schema_version";

int ss_pg_schema_version(ss_pgconn *c, ss_error *err)
{
	static const char SQL_HAS[] = "SELECT to_regclass('schema_version') IS NOT NULL";
	PGresult *r = ss_pgconn_run(c, SQL_HAS, NULL, "reading the schema version", err);
	if (r == NULL)
		return -1;
	bool has = ss_pg_bool(r, 0, 0);
	PQclear(r);
	if (!has)
		return 0;
	r = ss_pgconn_run(c, SQL_VERSION, NULL, "reading the schema version", err);
	if (r == NULL)
		return -1;
	int v = (int)ss_pg_int(r, 0, 0);
	PQclear(r);
	return v;
}

int ss_pg_schema_migrate(ss_pgconn *c, ss_error *err)
{
	if (ss_pgconn_begin(c, "BEGIN", err) != 0)
		return -1;
	if (ss_pgconn_exec(c,
			   "SET LOCAL statement_timeout = 0; SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ");"
			   " CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL,"
			   " applied_at timestamp NOT NULL" NOW_DEFAULT ")",
			   "locking the schema", err) != 0)
		goto fail;
	/* Not prepared: the table may have been created just now, in this transaction. */
	PGresult *r = PQexec(ss_pgconn_handle(c), SQL_VERSION);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		ss_error_set(err, ss_pgconn_code(PQresultErrorField(r, PG_DIAG_SQLSTATE)), "database: reading the schema"
			     " version: %s", PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	int have = (int)ss_pg_int(r, 0, 0);
	PQclear(r);
	if (have > ss_pg_schema_latest()) {
		ss_error_set(err, SS_ERR_DB,
			     "database %s has schema version %d, newer than this build knows (%d): upgrade songscope",
			     ss_pgconn_describe(c), have, ss_pg_schema_latest());
		goto fail;
	}
	for (int i = 0; i < NMIGRATIONS; i++) {
		if (migrations[i].version <= have)
			continue;
		char what[64];
		snprintf(what, sizeof what, "schema migration to version %d", migrations[i].version);
		if (ss_pgconn_exec(c, migrations[i].sql, what, err) != 0)
			goto fail;
		char rec[96];
		snprintf(rec, sizeof rec, "INSERT INTO schema_version(version) VALUES (%d)", migrations[i].version);
		if (ss_pgconn_exec(c, rec, what, err) != 0)
			goto fail;
		have = migrations[i].version;
	}
	if (ss_pgconn_commit(c, err) != 0)
		goto fail;
	return have;
fail:
	ss_pgconn_rollback(c);
	return -1;
}
