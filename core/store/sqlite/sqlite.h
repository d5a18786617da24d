/* The SQLite backend of core/store/store.h: its handle and the operations each file of this folder implements.
 * Private to core/store/sqlite/ (and to tools that work on an SQLite file on purpose: backup, benchmarks). */
#ifndef SS_STORE_SQLITE_SQLITE_H
#define SS_STORE_SQLITE_SQLITE_H

#include <stdbool.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/store/backend.h"
#include "core/store/sqlite/db.h"

/* An SQLite store: the path, and the connection while one is open. Owned by whoever opened the store. */
typedef struct ss_sqlite {
	ss_store base;               /* first: the handle callers hold */
	char *path;                  /* database file (owned) */
	unsigned flags;              /* SS_STORE_* */
	int busy_timeout_ms;
	ss_db *db;                   /* NULL while the file cannot be opened */
	double retry_at;             /* monotonic time of the next open attempt */
	double restore_retry_at;     /* monotonic time of the next restore attempt of a deleted file */
	bool seen;                   /* a database was open once: never create an empty one in its place */
	bool checked;                /* the file checks passed since the last ss_store_recheck */
	int txn;                     /* open bulk or read transactions (0 or 1): never reopen inside one */
	char error[SS_ERROR_MSG_MAX]; /* why the store is unusable, "" when usable */
	void (*notice)(void *arg, ss_store_level level, const char *msg); /* ss_store_params.notice */
	void *notice_arg;
	struct {
		bool valid, exists;
		struct stat st;
	} failed_on;                 /* the file at the path when an open last failed */
} ss_sqlite;

/* The handle behind s. */
static inline ss_sqlite *ss_sqlite_of(ss_store *s)
{
	return (ss_sqlite *)s;
}

/* Report an event through the store's notice hook (printf-style). */
void ss_sqlite_notice(ss_sqlite *q, ss_store_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The open connection of s when s is an SQLite store and connected, else NULL (tools that work on the file
 * itself: backup). Owned by s; ss_store_ready may replace it. */
ss_db *ss_sqlite_db(ss_store *s);

/* Set err from the connection's last failure (code from ss_db_fault) with "what". Returns -1. */
int ss_sqlite_fail(ss_db *db, ss_error *err, const char *what);

/* Binding: a non-finite number or a NULL string binds NULL. */
void ss_sqlite_bind_num(sqlite3_stmt *st, int i, double v);
void ss_sqlite_bind_text(sqlite3_stmt *st, int i, const char *s);

/* Reading columns: NaN for NULL; the text pointer is valid until the statement steps or resets. */
double ss_sqlite_col_num(sqlite3_stmt *st, int i);
const char *ss_sqlite_col_text(sqlite3_stmt *st, int i);

/* Columns every cache row query selects (ss_sqlite_read_row reads them in this order), with the FROM clause.
 * SS_SQLITE_ROW_COLS(beats) takes the beats column expression ("c.beats_json" or "NULL"). */
#define SS_SQLITE_ROW_COLS(beats)                                                                              \
	"c.id, c.cache_key, c.cache_namespace, c.source_kind, c.source, c.preview_url, c.title, c.artist,"         \
	" c.analyzed_at, c.result_json, " beats ", c.bpm, c.bpm_confidence, c.key, c.key_confidence, c.energy,"     \
	" c.danceability, c.acousticness, c.spectral_centroid, c.time_signature, c.valence, c.mood, c.loudness,"   \
	" c.dynamic_range, c.silence_ratio, c.analysis_duration, o.source IS NOT NULL, o.manual_bpm,"               \
	" o.manual_key, o.bpm_notes, o.verified_at"
#define SS_SQLITE_ROW_FROM                                                                                    \
	" FROM analysis_cache c LEFT JOIN overrides o ON o.cache_namespace = c.cache_namespace"                \
	" AND o.source = c.source"

/* Fill r from the current row of st (selected with SS_SQLITE_ROW_COLS). Strings point into st. */
void ss_sqlite_read_row(sqlite3_stmt *st, ss_cache_row *r);

/* Step st and pass each row to fn. Returns the row count, -1 with err, -2 when fn stopped. Resets st. */
int ss_sqlite_each_row(ss_db *db, sqlite3_stmt *st, ss_cache_row_fn fn, void *arg, ss_error *err);


/* cache.c */
int ss_sqlite_cache_put(ss_store *s, const ss_cache_write *w, int64_t *id, ss_error *err);
int ss_sqlite_cache_import(ss_store *s, const ss_cache_write *w, ss_error *err);
int ss_sqlite_cache_get(ss_store *s, const char *cache_key, unsigned flags, ss_cache_row_fn fn, void *arg,
			ss_error *err);
int ss_sqlite_cache_list(ss_store *s, const char *ns, int limit, long long offset, ss_cache_row_fn fn, void *arg,
			 ss_error *err);
int ss_sqlite_cache_search(ss_store *s, const char *ns, const char *q, int limit, ss_cache_row_fn fn, void *arg,
			   ss_error *err);
int ss_sqlite_cache_delete(ss_store *s, int64_t id, ss_error *err);
int ss_sqlite_cache_clear(ss_store *s, const char *ns, long long *deleted, ss_error *err);
long long ss_sqlite_cache_count(ss_store *s, const char *ns, ss_error *err);
int ss_sqlite_cache_has_source(ss_store *s, const char *ns, const char *source, ss_error *err);
int ss_sqlite_cache_key_by_prefix(ss_store *s, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err);

/* export.c */
int ss_sqlite_cache_export(ss_store *s, const char *ns, unsigned flags, int (*total)(void *arg, long long rows),
			   ss_cache_row_fn fn, void *arg, ss_error *err);

/* overrides.c */
int ss_sqlite_override_set(ss_store *s, const char *ns, const char *source, const ss_override_update *u,
			   ss_error *err);
int ss_sqlite_override_import(ss_store *s, const char *ns, const char *source, double bpm, const char *key,
			      const char *notes, const char *verified_at, ss_error *err);
long long ss_sqlite_override_list(ss_store *s, int (*fn)(void *arg, const ss_override_row *o), void *arg,
				  ss_error *err);

/* keys.c */
int ss_sqlite_key_insert(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
			 const ss_key_import *k, int64_t *id, ss_error *err);
int ss_sqlite_key_find_by_hash(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec,
			       ss_error *err);
int ss_sqlite_key_find_by_name(ss_store *s, const char *name, ss_key_record *rec, ss_error *err);
int ss_sqlite_key_get(ss_store *s, int64_t id, ss_key_record *rec, ss_error *err);
int ss_sqlite_key_list(ss_store *s, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err);
int ss_sqlite_key_set(ss_store *s, int64_t id, ss_key_field field, int64_t value, ss_error *err);
int ss_sqlite_key_set_secret(ss_store *s, int64_t id, const unsigned char hash[SS_APIKEY_HASH_LEN],
			     const char *prefix, ss_error *err);
int ss_sqlite_key_delete(ss_store *s, int64_t id, ss_error *err);

/* usage.c */
int ss_sqlite_usage_write(ss_store *s, const ss_usage_row *rows, size_t n, int64_t journal_id, int64_t last_seq,
			  ss_error *err);
long long ss_sqlite_usage_rows(ss_store *s, int64_t from_s, int (*fn)(void *arg, const ss_usage_row *row),
			       void *arg, ss_error *err);
int ss_sqlite_usage_journal_mark(ss_store *s, int64_t journal_id, int64_t *seq, ss_error *err);
int ss_sqlite_usage_journal_prune(ss_store *s, int days, ss_error *err);
int ss_sqlite_usage_day_counts(ss_store *s, int64_t day, int (*fn)(void *arg, int64_t key_id, int64_t count),
			       void *arg, ss_error *err);
int ss_sqlite_usage_key_stats(ss_store *s, int64_t key_id, int64_t day, ss_usage_stats *out, ss_error *err);
int ss_sqlite_usage_recent(ss_store *s, int64_t key_id, int limit,
			   int (*fn)(void *arg, const char *endpoint, int status, const char *timestamp), void *arg,
			   ss_error *err);
int ss_sqlite_usage_summary(ss_store *s, int days,
			    int (*fn)(void *arg, int64_t key_id, const char *name, const char *prefix, int64_t total,
				      int64_t successful),
			    void *arg, ss_error *err);

/* stats.c */
int ss_sqlite_stats_baseline(ss_store *s, ss_stats_baseline *out, ss_error *err);
int ss_sqlite_legacy_stats_add(ss_store *s, const char *signature, const int64_t now[3], int64_t added[3],
			       ss_error *err);

#endif
