/* songscope-bench-db: the original server's three database micro-benchmarks (connection reuse, combined vs
 * separate key queries, the composite usage index), ported to C on the original's schema, printed beside
 * songscope's real key path (key cache hit, cache miss with a hashed lookup, the shared-state limiter), each
 * as ns/op in one markdown table. Everything lives in a private temp dir that is removed at the end.
 * Usage: songscope-bench-db [--usage-rows N] [--keys N] [--repeat R] */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/auth/apikey.h"
#include "core/auth/keycache.h"
#include "core/limits/state.h"
#include "core/store/store.h"

static char dir[256];
static int usage_rows = 100000;
static int nkeys = 100;
static int repeat = 5;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "songscope-bench-db: %s: %s\n", what, msg ? msg : "failed");
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median over `repeat` runs of fn(arg, iters) of the ns per iteration. */
static double measure(void (*fn)(void *, int), void *arg, int iters)
{
	double t[16];
	int r = repeat < 16 ? repeat : 16;
	fn(arg, iters / 10 + 1); /* warm caches and prepared statements */
	for (int i = 0; i < r; i++) {
		double t0 = now_ns();
		fn(arg, iters);
		t[i] = (now_ns() - t0) / iters;
	}
	qsort(t, (size_t)r, sizeof t[0], cmp_double);
	return t[r / 2];
}

/* ---- the original's schema and queries (reference: V1 and V2+ key validation) ---- */

static void exec_or_die(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die(sql, msg);
}

static void original_db(const char *path, int with_index)
{
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("open", sqlite3_errmsg(db));
	exec_or_die(db, "CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL, "
			"name TEXT NOT NULL, email TEXT, active INTEGER DEFAULT 1, daily_limit INTEGER DEFAULT 1000, "
			"created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, last_used TIMESTAMP);"
			"CREATE TABLE api_usage (id INTEGER PRIMARY KEY AUTOINCREMENT, api_key_id INTEGER NOT NULL "
			"REFERENCES api_keys(id), endpoint TEXT NOT NULL, success INTEGER DEFAULT 1, "
			"timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP);");
	if (with_index)
		exec_or_die(db, "CREATE INDEX idx_api_usage_key_date ON api_usage(api_key_id, timestamp)");
	exec_or_die(db, "BEGIN");
	sqlite3_stmt *k, *u;
	sqlite3_prepare_v2(db, "INSERT INTO api_keys(key, name) VALUES (?, ?)", -1, &k, NULL);
	for (int i = 1; i <= nkeys; i++) {
		char key[64], name[32];
		snprintf(key, sizeof key, "original-plaintext-key-%06d", i);
		snprintf(name, sizeof name, "key %d", i);
		sqlite3_bind_text(k, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(k, 2, name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(k) != SQLITE_DONE)
			die("insert key", sqlite3_errmsg(db));
		sqlite3_reset(k);
	}
	/* Usage spread over the last 30 days, a thirtieth of it today. */
	sqlite3_prepare_v2(db,
			   "INSERT INTO api_usage(api_key_id, endpoint, timestamp) VALUES (?, '/analyze', "
			   "datetime('now', ?))",
			   -1, &u, NULL);
	for (int i = 0; i < usage_rows; i++) {
		char off[32];
		snprintf(off, sizeof off, "-%d minutes", (i * 7919) % (30 * 24 * 60));
		sqlite3_bind_int(u, 1, 1 + i % nkeys);
		sqlite3_bind_text(u, 2, off, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(u) != SQLITE_DONE)
			die("insert usage", sqlite3_errmsg(db));
		sqlite3_reset(u);
	}
	sqlite3_finalize(k);
	sqlite3_finalize(u);
	exec_or_die(db, "COMMIT; ANALYZE");
	sqlite3_close(db);
}

typedef struct orig_ctx {
	const char *path;
	sqlite3 *db;
	sqlite3_stmt *key_q, *count_q, *combined_q;
	unsigned n;
} orig_ctx;

static const char *orig_key(orig_ctx *c, char *buf, size_t len)
{
	snprintf(buf, len, "original-plaintext-key-%06u", 1 + (c->n++ % (unsigned)nkeys));
	return buf;
}

static int step_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	return v;
}

/* V1: a new connection for every query (open, prepare, step, close). */
static void orig_connect_per_query(void *arg, int iters)
{
	orig_ctx *c = arg;
	char key[64];
	for (int i = 0; i < iters; i++) {
		sqlite3 *db;
		sqlite3_stmt *st;
		if (sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
			die("open", "connect per query");
		sqlite3_prepare_v2(db, "SELECT id, active, daily_limit FROM api_keys WHERE key=?", -1, &st, NULL);
		sqlite3_bind_text(st, 1, orig_key(c, key, sizeof key), -1, SQLITE_STATIC);
		if (step_row(st) < 0)
			die("lookup", "no row");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

/* V1p: the same query on one reused connection (a prepared statement kept, as C code would). */
static void orig_reused_connection(void *arg, int iters)
{
	orig_ctx *c = arg;
	char key[64];
	for (int i = 0; i < iters; i++) {
		sqlite3_bind_text(c->key_q, 1, orig_key(c, key, sizeof key), -1, SQLITE_STATIC);
		if (step_row(c->key_q) < 0)
			die("lookup", "no row");
	}
}

/* V1 validation: key lookup, then today's usage count (two queries). */
static void orig_separate_queries(void *arg, int iters)
{
	orig_ctx *c = arg;
	char key[64];
	for (int i = 0; i < iters; i++) {
		sqlite3_bind_text(c->key_q, 1, orig_key(c, key, sizeof key), -1, SQLITE_STATIC);
		int id = step_row(c->key_q);
		sqlite3_bind_int(c->count_q, 1, id);
		if (step_row(c->count_q) < 0)
			die("count", "no row");
	}
}

/* V2+ validation: one query with a subselect for the daily usage. */
static void orig_combined_query(void *arg, int iters)
{
	orig_ctx *c = arg;
	char key[64];
	for (int i = 0; i < iters; i++) {
		sqlite3_bind_text(c->combined_q, 1, orig_key(c, key, sizeof key), -1, SQLITE_STATIC);
		if (step_row(c->combined_q) < 0)
			die("combined", "no row");
	}
}

/* The daily count alone (what the composite index is for). */
static void orig_daily_count(void *arg, int iters)
{
	orig_ctx *c = arg;
	for (int i = 0; i < iters; i++) {
		sqlite3_bind_int(c->count_q, 1, 1 + (int)(c->n++ % (unsigned)nkeys));
		if (step_row(c->count_q) < 0)
			die("count", "no row");
	}
}

static void orig_open(orig_ctx *c, const char *path)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("open", path);
	if (sqlite3_prepare_v2(c->db, "SELECT id, active, daily_limit FROM api_keys WHERE key=?", -1, &c->key_q,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db,
			       "SELECT COUNT(*) FROM api_usage WHERE api_key_id=? AND DATE(timestamp)=DATE('now')", -1,
			       &c->count_q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db,
			       "SELECT k.id, k.active, k.daily_limit, (SELECT COUNT(*) FROM api_usage WHERE "
			       "api_key_id = k.id AND DATE(timestamp) = DATE('now')) AS daily_usage FROM api_keys k "
			       "WHERE k.key = ?",
			       -1, &c->combined_q, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(c->db));
}

static void orig_close(orig_ctx *c)
{
	sqlite3_finalize(c->key_q);
	sqlite3_finalize(c->count_q);
	sqlite3_finalize(c->combined_q);
	sqlite3_close(c->db);
}

/* ---- songscope's key path (fcgi/auth.c): hash, key cache, database on a miss, state-file limiter ---- */

typedef struct ours_ctx {
	ss_store *db;
	ss_keycache *cache;
	ss_state *state;
	char keys[8][SS_APIKEY_TEXT_MAX];
	int64_t ids[8];
	unsigned n;
} ours_ctx;

/* Hash the presented key and find it in the per-responder cache (the hot path of every request). */
static void ours_cache_hit(void *arg, int iters)
{
	ours_ctx *c = arg;
	unsigned char hash[SS_APIKEY_HASH_LEN];
	ss_keyinfo info;
	for (int i = 0; i < iters; i++) {
		const char *k = c->keys[c->n++ % 8];
		ss_apikey_hash(k, strlen(k), hash);
		uint64_t gen = ss_state_key_generation(c->state);
		if (!ss_keycache_get(c->cache, hash, gen, 1.0, &info) || !info.valid)
			die("key cache", "expected a hit");
	}
}

/* A cache miss: hash, then the prepared lookup by hash in SQLite (persistent connection). */
static void ours_cache_miss(void *arg, int iters)
{
	ours_ctx *c = arg;
	unsigned char hash[SS_APIKEY_HASH_LEN];
	ss_key_record rec;
	ss_error err;
	for (int i = 0; i < iters; i++) {
		const char *k = c->keys[c->n++ % 8];
		ss_apikey_hash(k, strlen(k), hash);
		if (ss_store_key_find_by_hash(c->db, hash, &rec, &err) != 1)
			die("find by hash", err.msg);
	}
}

/* The per-minute and daily limiter in the shared state file (robust mutex, one critical section). */
static void ours_limiter(void *arg, int iters)
{
	ours_ctx *c = arg;
	ss_state_decision d;
	ss_error err;
	for (int i = 0; i < iters; i++) {
		if (ss_state_acquire(c->state, c->ids[c->n++ % 8], 1000000000, 1000000000, 0, ss_state_now_ns(), &d, &err) != 0)
			die("state acquire", err.msg);
	}
}

/* Everything a keyed request does before its handler on the hot path: hit + limiter. */
static void ours_full_hit(void *arg, int iters)
{
	ours_ctx *c = arg;
	unsigned char hash[SS_APIKEY_HASH_LEN];
	ss_keyinfo info;
	ss_state_decision d;
	ss_error err;
	for (int i = 0; i < iters; i++) {
		const char *k = c->keys[c->n++ % 8];
		ss_apikey_hash(k, strlen(k), hash);
		uint64_t gen = ss_state_key_generation(c->state);
		if (!ss_keycache_get(c->cache, hash, gen, 1.0, &info))
			die("key cache", "expected a hit");
		if (ss_state_acquire(c->state, info.key_id, 1000000000, 1000000000, 0, ss_state_now_ns(), &d, &err) != 0)
			die("state acquire", err.msg);
	}
}

static void ours_open(ours_ctx *c)
{
	char path[400];
	ss_error err;
	memset(c, 0, sizeof *c);
	snprintf(path, sizeof path, "%s/songscope.db", dir);
	ss_store_params sp = {.backend = "sqlite", .path = path};
	if (ss_store_open(&sp, &c->db, &err) != 0)
		die("ss_store_open", err.msg);
	snprintf(path, sizeof path, "%s/songscope.state", dir);
	if (ss_state_open(path, NULL, NULL, &c->state, &err) != 0)
		die("ss_state_open", err.msg);
	if (ss_keycache_new(4096, 300.0, &c->cache, &err) != 0)
		die("ss_keycache_new", err.msg);
	uint64_t gen = ss_state_key_generation(c->state);
	for (int i = 0; i < 8; i++) {
		char name[32];
		ss_key_record rec;
		snprintf(name, sizeof name, "bench %d", i);
		if (ss_store_key_create(c->db, name, NULL, SS_KEY_CLIENT, 0, 0, &rec, c->keys[i], &err) != 0)
			die("ss_store_key_create", err.msg);
		c->ids[i] = rec.id;
		ss_keyinfo info = {.valid = true, .key_id = rec.id, .scope = rec.scope};
		unsigned char hash[SS_APIKEY_HASH_LEN];
		ss_apikey_hash(c->keys[i], strlen(c->keys[i]), hash);
		ss_keycache_put(c->cache, hash, gen, 1.0, &info);
	}
}

static void ours_close(ours_ctx *c)
{
	ss_keycache_free(c->cache);
	ss_state_close(c->state);
	ss_store_close(c->db);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--usage-rows") == 0 && i + 1 < argc)
			usage_rows = atoi(argv[++i]);
		else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
			nkeys = atoi(argv[++i]);
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: songscope-bench-db [--usage-rows N] [--keys N] [--repeat R]\n");
			return 2;
		}
	}
	if (usage_rows < 1 || nkeys < 1 || repeat < 1) {
		fprintf(stderr, "songscope-bench-db: counts must be positive\n");
		return 2;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/songscope-bench-db.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", strerror(errno));

	char plain[400], indexed[400];
	snprintf(plain, sizeof plain, "%s/original-noindex.db", dir);
	snprintf(indexed, sizeof indexed, "%s/original-index.db", dir);
	original_db(plain, 0);
	original_db(indexed, 1);

	orig_ctx o, oi;
	orig_open(&o, plain);
	orig_open(&oi, indexed);
	ours_ctx s;
	ours_open(&s);

	struct {
		const char *group, *name;
		double ns;
	} rows[16];
	int n = 0;
#define ROW(g, nm, fn, arg, it) (rows[n].group = (g), rows[n].name = (nm), rows[n].ns = measure(fn, arg, it), n++)
	ROW("original: connection reuse", "new connection per key lookup (V1)", orig_connect_per_query, &oi, 2000);
	ROW("original: connection reuse", "reused connection, key lookup (V1p)", orig_reused_connection, &oi, 200000);
	ROW("original: combined query", "key lookup + daily count, two queries (V1), indexed", orig_separate_queries,
	    &oi, 20000);
	ROW("original: combined query", "one query with subselect (V2+), indexed", orig_combined_query, &oi, 20000);
	ROW("original: composite index", "daily count without the index (V4+ fresh db)", orig_daily_count, &o, 200);
	ROW("original: composite index", "daily count with idx_api_usage_key_date (V2-V3)", orig_daily_count, &oi,
	    20000);
	ROW("songscope key path", "key cache hit (SHA-256 + cache probe)", ours_cache_hit, &s, 1000000);
	ROW("songscope key path", "cache miss: SHA-256 + lookup by hash in SQLite", ours_cache_miss, &s, 200000);
	ROW("songscope key path", "shared-state limiter check (robust mutex, GCRA + daily)", ours_limiter, &s,
	    1000000);
	ROW("songscope key path", "hot path total: cache hit + limiter", ours_full_hit, &s, 1000000);
#undef ROW

	printf("Database micro-benchmarks: %d keys, %d usage rows over 30 days, median of %d runs, SQLite %s\n\n",
	       nkeys, usage_rows, repeat, sqlite3_libversion());
	printf("| group | operation | ns/op |\n|---|---|---:|\n");
	for (int i = 0; i < n; i++)
		printf("| %s | %s | %.0f |\n", rows[i].group, rows[i].name, rows[i].ns);

	orig_close(&o);
	orig_close(&oi);
	ours_close(&s);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
