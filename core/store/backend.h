/* What a store backend implements (core/store/store.h is what callers use). Each backend defines one
 * ss_store_ops table and a handle type whose first member is struct ss_store; ss_store_new picks the table by
 * name. Backends live in their own folder (core/store/sqlite/, ...) and only they include their client
 * library's headers. */
#ifndef SS_STORE_BACKEND_H
#define SS_STORE_BACKEND_H

#include "core/store/store.h"

/* ss_store_ops.key_set's fields. */
typedef enum ss_key_field {
	SS_KEY_FIELD_ACTIVE = 0,  /* value 0 or 1 */
	SS_KEY_FIELD_DAILY_LIMIT, /* value >= 0 */
	SS_KEY_FIELD_RATE_LIMIT,  /* value >= 0 */
	SS_KEY_FIELD_SCOPE        /* value an ss_key_scope */
} ss_key_field;

/* A backend's operations, one per ss_store_* function unless noted. The wrappers in core/store/store.c check
 * arguments against the contracts in store.h (limits, offsets, key fields, scopes, NULL q) before calling, so
 * backends get checked values. Every operation reports the error codes listed at the top of store.h and hands
 * rows to callbacks under its ownership rules (strings valid during the callback). A callback's non-zero return
 * stops the operation, which returns -2. Every member must be set unless marked optional. */
typedef struct ss_store_ops {
	const char *name; /* what `store =` names */
	/* Lifecycle. create: allocate the handle (struct ss_store first, ops set) without connecting; destroy:
	 * disconnect and free. */
	int (*create)(const ss_store_params *p, ss_store **out, ss_error *err);
	void (*destroy)(ss_store *s);
	int (*ready)(ss_store *s, ss_error *err);
	void (*recheck)(ss_store *s);
	bool (*connected)(const ss_store *s);
	const char *(*error)(const ss_store *s);
	const char *(*describe)(const ss_store *s);
	ss_code (*health)(ss_store *s, ss_error *err);
	bool (*needs_restart)(const ss_store *s);
	bool (*readonly)(const ss_store *s);
	int (*schema_version)(ss_store *s);
	int (*schema_latest)(const ss_store *s);
	int (*check)(ss_store *s, bool full, ss_error *err);
	int (*maintain)(ss_store *s, ss_error *err);
	int (*bulk_begin)(ss_store *s, ss_error *err);
	int (*bulk_commit)(ss_store *s, ss_error *err);
	void (*bulk_rollback)(ss_store *s);
	int (*read_begin)(ss_store *s, ss_error *err);
	void (*read_end)(ss_store *s);
	/* Cache. put gets w filled from the ss_cache_put_args (analyzed_at NULL: now; time_signature "4/4" when
	 * the analysis had none). */
	int (*cache_put)(ss_store *s, const ss_cache_write *w, int64_t *id, ss_error *err);
	int (*cache_import)(ss_store *s, const ss_cache_write *w, ss_error *err);
	int (*cache_get)(ss_store *s, const char *cache_key, unsigned flags, ss_cache_row_fn fn, void *arg,
			 ss_error *err);
	int (*cache_list)(ss_store *s, const char *ns, int limit, long long offset, ss_cache_row_fn fn, void *arg,
			  ss_error *err);
	int (*cache_search)(ss_store *s, const char *ns, const char *q, int limit, ss_cache_row_fn fn, void *arg,
			    ss_error *err);
	int (*cache_export)(ss_store *s, const char *ns, unsigned flags, int (*total)(void *arg, long long rows),
			    ss_cache_row_fn fn, void *arg, ss_error *err);
	int (*cache_delete)(ss_store *s, int64_t id, ss_error *err);
	int (*cache_clear)(ss_store *s, const char *ns, long long *deleted, ss_error *err);
	long long (*cache_count)(ss_store *s, const char *ns, ss_error *err);
	int (*cache_has_source)(ss_store *s, const char *ns, const char *source, ss_error *err);
	/* hex_prefix is checked by the dispatcher: 1..64 lower-case hex digits. */
	int (*cache_key_by_prefix)(ss_store *s, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err);
	/* ss_store_claim / ss_store_release. Optional (NULL: the backend cannot tell other hosts' work apart from
	 * its own; ss_store_claim then answers 1). */
	int (*claim)(ss_store *s, const char *cache_key, int wait_ms, ss_error *err);
	void (*release)(ss_store *s, const char *cache_key);
	/* Overrides. */
	int (*override_set)(ss_store *s, const char *ns, const char *source, const ss_override_update *u,
			    ss_error *err);
	int (*override_import)(ss_store *s, const char *ns, const char *source, double bpm, const char *key,
			       const char *notes, const char *verified_at, ss_error *err);
	long long (*override_list)(ss_store *s, int (*fn)(void *arg, const ss_override_row *o), void *arg,
				   ss_error *err);
	/* Keys. key_insert serves ss_store_key_create, _import and _import_hashed (the wrappers make and hash the
	 * secrets): a new key with this hash and prefix unless one with the hash exists: 1 with *id, 0 with *id of
	 * the existing key (nothing changed), -1. k is checked; created_at NULL or unparsable = now. */
	int (*key_insert)(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
			  const ss_key_import *k, int64_t *id, ss_error *err);
	int (*key_find_by_hash)(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec,
				ss_error *err);
	int (*key_find_by_name)(ss_store *s, const char *name, ss_key_record *rec, ss_error *err);
	int (*key_get)(ss_store *s, int64_t id, ss_key_record *rec, ss_error *err);
	int (*key_list)(ss_store *s, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err);
	/* ss_store_key_set_*: 1 changed, 0 no such id, -1. */
	int (*key_set)(ss_store *s, int64_t id, ss_key_field field, int64_t value, ss_error *err);
	/* ss_store_key_rotate (the wrapper makes the secret): 1, 0 no such id, -1. */
	int (*key_set_secret)(ss_store *s, int64_t id, const unsigned char hash[SS_APIKEY_HASH_LEN],
			      const char *prefix, ss_error *err);
	int (*key_delete)(ss_store *s, int64_t id, ss_error *err);
	/* Usage. */
	int (*usage_write)(ss_store *s, const ss_usage_row *rows, size_t n, int64_t journal_id, int64_t last_seq,
			   ss_error *err);
	long long (*usage_rows)(ss_store *s, int64_t from_s, int (*fn)(void *arg, const ss_usage_row *row), void *arg,
				ss_error *err);
	int (*usage_journal_mark)(ss_store *s, int64_t journal_id, int64_t *seq, ss_error *err);
	int (*usage_journal_prune)(ss_store *s, int days, ss_error *err);
	int (*usage_day_counts)(ss_store *s, int64_t day, int (*fn)(void *arg, int64_t key_id, int64_t count),
				void *arg, ss_error *err);
	int (*usage_key_stats)(ss_store *s, int64_t key_id, int64_t day, ss_usage_stats *out, ss_error *err);
	int (*usage_recent)(ss_store *s, int64_t key_id, int limit,
			    int (*fn)(void *arg, const char *endpoint, int status, const char *timestamp), void *arg,
			    ss_error *err);
	int (*usage_summary)(ss_store *s, int days,
			     int (*fn)(void *arg, int64_t key_id, const char *name, const char *prefix, int64_t total,
				       int64_t successful),
			     void *arg, ss_error *err);
	/* Statistics. */
	int (*stats_baseline)(ss_store *s, ss_stats_baseline *out, ss_error *err);
	int (*legacy_stats_add)(ss_store *s, const char *signature, const int64_t now[3], int64_t added[3],
				ss_error *err);
} ss_store_ops;

/* The head of every backend's handle (its first member). */
struct ss_store {
	const ss_store_ops *ops;
};

/* The backends of this build (ss_store_new looks them up by name). */
/* q for LIKE/ILIKE ... ESCAPE '\\' (both backends' substring search): '%', '_' and '\\' made literal, wrapped in
 * '%'. A new string (caller frees), NULL when out of memory. */
char *ss_store_like_pattern(const char *q);

/* Characters (UTF-8 code points) in s: how long a search query is for the backends' index choices. */
size_t ss_store_utf8_chars(const char *s);

extern const ss_store_ops ss_store_sqlite_ops;
/* PostgreSQL (core/store/postgresql/, libpq). */
extern const ss_store_ops ss_store_postgresql_ops;

#endif
