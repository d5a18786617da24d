/* The PostgreSQL backend's handle and the operations of core/store/backend.h it implements, split by table
 * group over pg_store.c (connection, health, transactions), pg_cache.c (cache and overrides) and pg_keys.c (keys,
 * usage, statistics). Private to core/store/postgresql/. */
#ifndef SS_STORE_PG_STORE_H
#define SS_STORE_PG_STORE_H

#include <stdbool.h>

#include "core/store/backend.h"
#include "core/store/postgresql/pg_conn.h"

/* The table ss_store_new finds by the name "postgresql". */
extern const ss_store_ops ss_store_postgresql_ops;

typedef struct ss_pgstore {
	ss_store base;        /* first: the ss_store handle */
	ss_pgconn *c;
	unsigned flags;       /* SS_STORE_* */
	int schema;           /* schema version of the connected database, 0 when not connected */
	bool is_readonly;     /* the server takes no writes (a standby, or default_transaction_read_only) */
	bool checked;         /* ready's checks ran since the last recheck */
	bool seen;            /* connected once */
	long long bulk_rows;  /* rows imported in the open bulk transaction */
	bool lost_logged;     /* the lost connection was logged (once per outage) */
	void (*notice)(void *arg, ss_store_level level, const char *msg); /* ss_store_params.notice */
	void *notice_arg;
	char error[SS_ERROR_MSG_MAX];
	char describe[300];
} ss_pgstore;

static inline ss_pgstore *ss_pgstore_of(ss_store *s)
{
	return (ss_pgstore *)s;
}

/* ss_store_claim / ss_store_release: a connection-level advisory lock on the cache key, so a responder that dies
 * lets go with its connection. Returns 1 when claimed at once (analyse, store, then release), 2 when claimed after another
 * process let go within wait_ms (it has probably stored the result: look in the cache before analysing; release
 * either way), -1 with err: SS_ERR_BUSY when the claim was still held after wait_ms, or the connection's error. */
int ss_pg_claim(ss_store *s, const char *cache_key, int wait_ms, ss_error *err);

/* Let go of a claim (a no-op when not held or the connection is gone, which lets go by itself). */
void ss_pg_release(ss_store *s, const char *cache_key);

/* pg_cache.c */
int ss_pg_cache_put(ss_store *s, const ss_cache_write *w, int64_t *id, ss_error *err);
int ss_pg_cache_import(ss_store *s, const ss_cache_write *w, ss_error *err);
int ss_pg_cache_get(ss_store *s, const char *cache_key, unsigned flags, ss_cache_row_fn fn, void *arg, ss_error *err);
int ss_pg_cache_list(ss_store *s, const char *ns, int limit, long long offset, ss_cache_row_fn fn, void *arg,
		     ss_error *err);
int ss_pg_cache_search(ss_store *s, const char *ns, const char *q, int limit, ss_cache_row_fn fn, void *arg,
		       ss_error *err);
int ss_pg_cache_export(ss_store *s, const char *ns, unsigned flags, int (*total)(void *arg, long long rows),
		       ss_cache_row_fn fn, void *arg, ss_error *err);
int ss_pg_cache_delete(ss_store *s, int64_t id, ss_error *err);
int ss_pg_cache_clear(ss_store *s, const char *ns, long long *deleted, ss_error *err);
long long ss_pg_cache_count(ss_store *s, const char *ns, ss_error *err);
int ss_pg_cache_has_source(ss_store *s, const char *ns, const char *source, ss_error *err);
int ss_pg_cache_key_by_prefix(ss_store *s, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err);
int ss_pg_override_set(ss_store *s, const char *ns, const char *source, const ss_override_update *u, ss_error *err);
int ss_pg_override_import(ss_store *s, const char *ns, const char *source, double bpm, const char *key,
			  const char *notes, const char *verified_at, ss_error *err);
long long ss_pg_override_list(ss_store *s, int (*fn)(void *arg, const ss_override_row *o), void *arg, ss_error *err);

/* pg_keys.c */
int ss_pg_key_insert(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
		     const ss_key_import *k, int64_t *id, ss_error *err);
int ss_pg_key_find_by_hash(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec,
			   ss_error *err);
int ss_pg_key_find_by_name(ss_store *s, const char *name, ss_key_record *rec, ss_error *err);
int ss_pg_key_get(ss_store *s, int64_t id, ss_key_record *rec, ss_error *err);
int ss_pg_key_list(ss_store *s, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err);
int ss_pg_key_set(ss_store *s, int64_t id, ss_key_field field, int64_t value, ss_error *err);
int ss_pg_key_set_secret(ss_store *s, int64_t id, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
			 ss_error *err);
int ss_pg_key_delete(ss_store *s, int64_t id, ss_error *err);
int ss_pg_usage_write(ss_store *s, const ss_usage_row *rows, size_t n, int64_t journal_id, int64_t last_seq,
		      ss_error *err);
long long ss_pg_usage_rows(ss_store *s, int64_t from_s, int (*fn)(void *arg, const ss_usage_row *row), void *arg,
			   ss_error *err);
int ss_pg_usage_journal_mark(ss_store *s, int64_t journal_id, int64_t *seq, ss_error *err);
int ss_pg_usage_journal_prune(ss_store *s, int days, ss_error *err);
int ss_pg_usage_day_counts(ss_store *s, int64_t day, int (*fn)(void *arg, int64_t key_id, int64_t count), void *arg,
			   ss_error *err);
int ss_pg_usage_key_stats(ss_store *s, int64_t key_id, int64_t day, ss_usage_stats *out, ss_error *err);
int ss_pg_usage_recent(ss_store *s, int64_t key_id, int limit,
		       int (*fn)(void *arg, const char *endpoint, int status, const char *timestamp), void *arg,
		       ss_error *err);
int ss_pg_usage_summary(ss_store *s, int days,
			int (*fn)(void *arg, int64_t key_id, const char *name, const char *prefix, int64_t total,
				  int64_t successful),
			void *arg, ss_error *err);
int ss_pg_stats_baseline(ss_store *s, ss_stats_baseline *out, ss_error *err);
int ss_pg_legacy_stats_add(ss_store *s, const char *signature, const int64_t now[3], int64_t added[3], ss_error *err);

#endif
