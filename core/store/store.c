/* The ss_store_* functions: pick a backend by name, check what the contracts in store.h promise independently of
 * the backend, make sure the store is ready, and dispatch through the backend's ops table. */
#include "core/store/store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config.h"
#include "core/store/backend.h"
#include "core/store/cache.h"

/* The backends of this build, by name. A new backend adds its table here (and its folder beside sqlite/). */
static const ss_store_ops *const backends[] = {
	&ss_store_sqlite_ops,
#ifdef SS_HAVE_LIBPQ
	&ss_store_postgresql_ops,
#endif
};

void ss_store_params_from_config(const ss_config *cfg, ss_store_params *p)
{
	memset(p, 0, sizeof *p);
	p->backend = cfg->store[0] != '\0' ? cfg->store : "sqlite";
	p->path = cfg->database;
	p->conninfo = cfg->postgresql;
	p->busy_timeout_ms = cfg->database_busy_timeout_ms;
}

int ss_store_new(const ss_store_params *p, ss_store **out, ss_error *err)
{
	const char *name = p->backend != NULL && p->backend[0] != '\0' ? p->backend : "sqlite";
	*out = NULL;
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		if (strcmp(backends[i]->name, name) == 0) {
			int rc = backends[i]->create(p, out, err);
			assert(rc != 0 || ((*out)->ops == backends[i]));
			return rc;
		}
	}
	if (strcmp(name, "postgresql") == 0)
		return ss_error_set(err, SS_ERR_CONFIG, "store = postgresql: this build has no PostgreSQL backend (configure"
				    " found no libpq); use store = sqlite or rebuild with libpq-dev installed.");
	return ss_error_set(err, SS_ERR_CONFIG, "store = %.32s: no such backend (sqlite or postgresql).", name);
}

int ss_store_open(const ss_store_params *p, ss_store **out, ss_error *err)
{
	if (ss_store_new(p, out, err) != 0)
		return -1;
	if ((*out)->ops->ready(*out, err) != 0) {
		ss_store_close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

void ss_store_close(ss_store *s)
{
	if (s != NULL)
		s->ops->destroy(s);
}

const char *ss_store_backend(const ss_store *s)
{
	return s->ops->name;
}

const char *ss_store_describe(const ss_store *s)
{
	return s->ops->describe(s);
}

int ss_store_ready(ss_store *s, ss_error *err)
{
	return s->ops->ready(s, err);
}

void ss_store_recheck(ss_store *s)
{
	if (s != NULL)
		s->ops->recheck(s);
}

bool ss_store_connected(const ss_store *s)
{
	return s != NULL && s->ops->connected(s);
}

const char *ss_store_error(const ss_store *s)
{
	return s->ops->error(s);
}

ss_code ss_store_health(ss_store *s, ss_error *err)
{
	return s->ops->health(s, err);
}

bool ss_store_needs_restart(const ss_store *s)
{
	return s->ops->needs_restart(s);
}

bool ss_store_readonly(const ss_store *s)
{
	return s->ops->readonly(s);
}

int ss_store_schema_version(ss_store *s)
{
	return s->ops->schema_version(s);
}

int ss_store_schema_latest(const ss_store *s)
{
	return s->ops->schema_latest(s);
}

/* Every operation below starts here: a store that is not ready answers with its reason. */
#define READY(s, err)                              \
	do {                                       \
		if ((s)->ops->ready((s), (err)) != 0) \
			return -1;                 \
	} while (0)

typedef struct check_rows {
	ss_error first; /* the first bad row */
	long long bad;
} check_rows;

/* A cache row whose stored result is not whole: the first is kept, the rest counted. */
static int check_row(void *arg, const ss_cache_row *row)
{
	check_rows *c = arg;
	const char *why;
	if (!ss_cache_result_complete(row->result_json, &why) && c->bad++ == 0)
		ss_error_set(&c->first, SS_ERR_DB, "cache row %lld: %s", (long long)row->id, why);
	return 0;
}

int ss_store_check(ss_store *s, bool full, ss_error *err)
{
	READY(s, err);
	if (s->ops->check(s, full, err) != 0)
		return -1;
	if (!full)
		return 0;
	/* What the backend cannot see, the same for every backend: each row's stored result is whole (one
	 * snapshot, streamed). */
	check_rows c;
	memset(&c, 0, sizeof c);
	if (s->ops->cache_export(s, NULL, 0, NULL, check_row, &c, err) < 0)
		return -1;
	if (c.bad == 1)
		return ss_error_set(err, SS_ERR_DB, "%s", c.first.msg);
	if (c.bad > 1)
		return ss_error_set(err, SS_ERR_DB, "%lld cache rows hold an incomplete result (the first: %s)", c.bad,
				    c.first.msg);
	return 0;
}

int ss_store_maintain(ss_store *s, ss_error *err)
{
	READY(s, err);
	return s->ops->maintain(s, err);
}

int ss_store_bulk_begin(ss_store *s, ss_error *err)
{
	READY(s, err);
	return s->ops->bulk_begin(s, err);
}

int ss_store_bulk_commit(ss_store *s, ss_error *err)
{
	return s->ops->bulk_commit(s, err);
}

void ss_store_bulk_rollback(ss_store *s)
{
	s->ops->bulk_rollback(s);
}

int ss_store_read_begin(ss_store *s, ss_error *err)
{
	READY(s, err);
	return s->ops->read_begin(s, err);
}

void ss_store_read_end(ss_store *s)
{
	s->ops->read_end(s);
}

int ss_store_cache_import(ss_store *s, const ss_cache_write *w, ss_error *err)
{
	READY(s, err);
	return s->ops->cache_import(s, w, err);
}

int ss_store_cache_get(ss_store *s, const char *cache_key, unsigned flags, ss_cache_row_fn fn, void *arg,
		       ss_error *err)
{
	READY(s, err);
	return s->ops->cache_get(s, cache_key, flags, fn, arg, err);
}

int ss_store_cache_list(ss_store *s, const char *ns, int limit, long long offset, ss_cache_row_fn fn, void *arg,
			ss_error *err)
{
	if (limit < 1 || limit > SS_CACHE_LIST_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "limit must be 1..%d.", SS_CACHE_LIST_MAX);
	if (offset < 0 || offset > SS_CACHE_OFFSET_MAX)
		return ss_error_set(err, SS_ERR_BAD_REQUEST,
				    "offset must be 0..%d (each page skips the rows before it); to read the whole cache"
				    " use GET /cache/export, which streams every row.",
				    SS_CACHE_OFFSET_MAX);
	READY(s, err);
	return s->ops->cache_list(s, ns, limit, offset, fn, arg, err);
}

int ss_store_cache_search(ss_store *s, const char *ns, const char *q, int limit, ss_cache_row_fn fn, void *arg,
			  ss_error *err)
{
	if (limit < 1 || limit > SS_CACHE_SEARCH_MAX)
		limit = SS_CACHE_SEARCH_MAX;
	READY(s, err);
	return s->ops->cache_search(s, ns, q != NULL ? q : "", limit, fn, arg, err);
}

int ss_store_cache_export(ss_store *s, const char *ns, unsigned flags, int (*total)(void *arg, long long rows),
			  ss_cache_row_fn fn, void *arg, ss_error *err)
{
	READY(s, err);
	return s->ops->cache_export(s, ns, flags, total, fn, arg, err);
}

int ss_store_cache_delete(ss_store *s, int64_t id, ss_error *err)
{
	READY(s, err);
	return s->ops->cache_delete(s, id, err);
}

int ss_store_cache_clear(ss_store *s, const char *ns, long long *deleted, ss_error *err)
{
	*deleted = 0;
	READY(s, err);
	return s->ops->cache_clear(s, ns, deleted, err);
}

long long ss_store_cache_count(ss_store *s, const char *ns, ss_error *err)
{
	READY(s, err);
	return s->ops->cache_count(s, ns, err);
}

int ss_store_cache_has_source(ss_store *s, const char *ns, const char *source, ss_error *err)
{
	READY(s, err);
	return s->ops->cache_has_source(s, ns, source, err);
}

int ss_store_cache_key_by_prefix(ss_store *s, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err)
{
	key[0] = '\0';
	size_t n = hex_prefix != NULL ? strlen(hex_prefix) : 0;
	if (n == 0 || n > 64 || strspn(hex_prefix, "0123456789abcdef") != n)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "A cache key prefix is 1..64 lower-case hex digits.");
	READY(s, err);
	return s->ops->cache_key_by_prefix(s, hex_prefix, key, err);
}

int ss_store_claim(ss_store *s, const char *cache_key, int wait_ms, ss_error *err)
{
	assert(cache_key != NULL);
	if (s->ops->claim == NULL)
		return 1;
	READY(s, err);
	return s->ops->claim(s, cache_key, wait_ms, err);
}

void ss_store_release(ss_store *s, const char *cache_key)
{
	if (s->ops->release != NULL)
		s->ops->release(s, cache_key);
}

int ss_store_override_set(ss_store *s, const char *ns, const char *source, const ss_override_update *u,
			  ss_error *err)
{
	READY(s, err);
	return s->ops->override_set(s, ns, source, u, err);
}

int ss_store_override_import(ss_store *s, const char *ns, const char *source, double bpm, const char *key,
			     const char *notes, const char *verified_at, ss_error *err)
{
	READY(s, err);
	return s->ops->override_import(s, ns, source, bpm, key, notes, verified_at, err);
}

long long ss_store_override_list(ss_store *s, int (*fn)(void *arg, const ss_override_row *o), void *arg,
				 ss_error *err)
{
	READY(s, err);
	return s->ops->override_list(s, fn, arg, err);
}

int ss_store_key_find_by_hash(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec,
			      ss_error *err)
{
	READY(s, err);
	return s->ops->key_find_by_hash(s, hash, rec, err);
}

int ss_store_key_find_by_name(ss_store *s, const char *name, ss_key_record *rec, ss_error *err)
{
	READY(s, err);
	return s->ops->key_find_by_name(s, name, rec, err);
}

int ss_store_key_get(ss_store *s, int64_t id, ss_key_record *rec, ss_error *err)
{
	READY(s, err);
	return s->ops->key_get(s, id, rec, err);
}

int ss_store_key_list(ss_store *s, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err)
{
	READY(s, err);
	return s->ops->key_list(s, fn, arg, err);
}

int ss_store_key_set_active(ss_store *s, int64_t id, bool active, ss_error *err)
{
	READY(s, err);
	return s->ops->key_set(s, id, SS_KEY_FIELD_ACTIVE, active ? 1 : 0, err);
}

int ss_store_key_set_daily_limit(ss_store *s, int64_t id, int64_t daily_limit, ss_error *err)
{
	if (daily_limit < 0)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "The daily limit must be >= 0.");
	READY(s, err);
	return s->ops->key_set(s, id, SS_KEY_FIELD_DAILY_LIMIT, daily_limit, err);
}

int ss_store_key_set_rate_limit(ss_store *s, int64_t id, int64_t rate_limit, ss_error *err)
{
	if (rate_limit < 0 || rate_limit > 1000000)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "The rate limit must be 0..1000000 per minute.");
	READY(s, err);
	return s->ops->key_set(s, id, SS_KEY_FIELD_RATE_LIMIT, rate_limit, err);
}

int ss_store_key_set_scope(ss_store *s, int64_t id, ss_key_scope scope, ss_error *err)
{
	if (scope != SS_KEY_CLIENT && scope != SS_KEY_ADMIN)
		return ss_error_set(err, SS_ERR_BAD_REQUEST, "The scope must be client or admin.");
	READY(s, err);
	return s->ops->key_set(s, id, SS_KEY_FIELD_SCOPE, scope, err);
}

int ss_store_key_delete(ss_store *s, int64_t id, ss_error *err)
{
	READY(s, err);
	return s->ops->key_delete(s, id, err);
}

int ss_store_usage_write(ss_store *s, const ss_usage_row *rows, size_t n, int64_t journal_id, int64_t last_seq,
			 ss_error *err)
{
	READY(s, err);
	return s->ops->usage_write(s, rows, n, journal_id, last_seq, err);
}

long long ss_store_usage_rows(ss_store *s, int64_t from_s, int (*fn)(void *arg, const ss_usage_row *row), void *arg,
			      ss_error *err)
{
	READY(s, err);
	return s->ops->usage_rows(s, from_s, fn, arg, err);
}

int ss_store_usage_journal_mark(ss_store *s, int64_t journal_id, int64_t *seq, ss_error *err)
{
	*seq = 0;
	READY(s, err);
	return s->ops->usage_journal_mark(s, journal_id, seq, err);
}

int ss_store_usage_journal_prune(ss_store *s, int days, ss_error *err)
{
	READY(s, err);
	return s->ops->usage_journal_prune(s, days < 1 ? 1 : days, err);
}

int ss_store_usage_day_counts(ss_store *s, int64_t day, int (*fn)(void *arg, int64_t key_id, int64_t count),
			      void *arg, ss_error *err)
{
	READY(s, err);
	return s->ops->usage_day_counts(s, day, fn, arg, err);
}

int ss_store_usage_key_stats(ss_store *s, int64_t key_id, int64_t day, ss_usage_stats *out, ss_error *err)
{
	memset(out, 0, sizeof *out);
	READY(s, err);
	return s->ops->usage_key_stats(s, key_id, day, out, err);
}

int ss_store_usage_recent(ss_store *s, int64_t key_id, int limit,
			  int (*fn)(void *arg, const char *endpoint, int status, const char *timestamp), void *arg,
			  ss_error *err)
{
	READY(s, err);
	return s->ops->usage_recent(s, key_id, limit, fn, arg, err);
}

int ss_store_usage_summary(ss_store *s, int days,
			   int (*fn)(void *arg, int64_t key_id, const char *name, const char *prefix, int64_t total,
				     int64_t successful),
			   void *arg, ss_error *err)
{
	READY(s, err);
	return s->ops->usage_summary(s, days < 1 ? 1 : days, fn, arg, err);
}

int ss_store_stats_baseline(ss_store *s, ss_stats_baseline *out, ss_error *err)
{
	memset(out, 0, sizeof *out);
	READY(s, err);
	return s->ops->stats_baseline(s, out, err);
}

int ss_store_legacy_stats_add(ss_store *s, const char *signature, const int64_t now[3], int64_t added[3],
			      ss_error *err)
{
	READY(s, err);
	return s->ops->legacy_stats_add(s, signature, now, added, err);
}

char *ss_store_like_pattern(const char *q)
{
	size_t n = strlen(q);
	char *p = malloc(2 * n + 3);
	if (p == NULL)
		return NULL;
	size_t j = 0;
	p[j++] = '%';
	for (size_t i = 0; i < n; i++) {
		if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
			p[j++] = '\\';
		p[j++] = q[i];
	}
	p[j++] = '%';
	p[j] = '\0';
	return p;
}

size_t ss_store_utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}
