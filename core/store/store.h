/* The store: everything songscope keeps (analysed songs, manual overrides, API keys, usage rows, statistics)
 * behind one opaque handle, so that the same binary runs on SQLite (a file, the zero-setup default) or on a
 * database server picked at run time by `store = ...`.
 *
 * Callers see row structs, never SQL and never JSON text built by the store: rendering is the fcgi
 * presentation module's job (the stored result object is handed over as JSON text to be spliced, not
 * re-parsed). Each backend fills an ss_store_ops table; the ss_store_* functions below validate what is
 * backend-independent and dispatch.
 *
 * Errors: every function that can fail takes an ss_error *err (may be NULL) and sets err->code to
 *   SS_ERR_BUSY         the store is locked by another writer beyond the configured wait (503 busy),
 *   SS_ERR_UNAVAILABLE  the store cannot be reached or read (file gone or corrupt, server down) (503),
 *   SS_ERR_STORAGE_FULL the store's disk is full (507),
 *   SS_ERR_READ_ONLY    the store can be read but not written (503 read_only),
 *   SS_ERR_DB           anything else the store refused (500),
 * plus SS_ERR_BAD_REQUEST for arguments the contract below refuses and SS_ERR_NOMEM.
 *
 * Strings in rows handed to a callback are owned by the store and valid only during that callback; copy what
 * must outlive it. Strings passed in are borrowed for the duration of the call.
 *
 * One handle belongs to one process (open it after fork()) and is used by one thread at a time.
 * Backends implement core/store/backend.h (ss_store_ops); sqlite3.h and SQL live only in core/store/sqlite/. */
#ifndef SS_STORE_STORE_H
#define SS_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/auth/apikey.h"
#include "core/util/error.h"

struct ss_config;
struct ss_result;

typedef struct ss_store ss_store;

/* ---- Opening ---------------------------------------------------------------------------------------------- */

#define SS_STORE_BACKEND_MAX 16

/* ss_store_params.flags */
#define SS_STORE_NO_CREATE 1u        /* never create an empty store: a missing one is SS_ERR_UNAVAILABLE */
#define SS_STORE_KEEP_SIDE_FILES 2u  /* SQLite: keep -wal and -shm when closing (their directory may not be
				      * writable by the user that opens the file next); ignored elsewhere */

/* How much an event the store reports matters (ss_store_params.notice). */
typedef enum ss_store_level { SS_STORE_INFO = 0, SS_STORE_WARN, SS_STORE_ERROR } ss_store_level;

typedef struct ss_store_params {
	const char *backend;   /* "sqlite" (NULL = "sqlite") or "postgresql" */
	const char *path;      /* sqlite: the database file */
	const char *conninfo;  /* postgresql: a libpq conninfo string */
	int busy_timeout_ms;   /* how long a write waits for another writer before SS_ERR_BUSY; <= 0: the default */
	unsigned flags;        /* SS_STORE_* */
	/* Events worth a log line, each reported once when it happens (connection lost, reopened, restored, usable
	 * again, opened read-only), with a one-line message (valid during the call). NULL: silent. The store
	 * itself never logs. */
	void (*notice)(void *arg, ss_store_level level, const char *msg);
	void *notice_arg;
} ss_store_params;

/* The parameters a configuration names (store, database, postgresql, database_busy_timeout_ms). The strings
 * point into cfg. */
void ss_store_params_from_config(const struct ss_config *cfg, ss_store_params *p);

/* A handle for the store p names, without connecting (ss_store_ready connects). Returns 0 and *out (close with
 * ss_store_close), or -1 with err: SS_ERR_CONFIG for an unknown backend or a backend this build lacks,
 * SS_ERR_NOMEM. */
int ss_store_new(const ss_store_params *p, ss_store **out, ss_error *err);

/* ss_store_new + ss_store_ready: connect now, creating the store and bringing its schema up to date (forward
 * migrations, serialised across processes). For tools and for the master before it forks. Returns 0 and
 * *out, or -1 with err (the message names the store, never a password). */
int ss_store_open(const ss_store_params *p, ss_store **out, ss_error *err);

/* Disconnect and free. NULL is a no-op. */
void ss_store_close(ss_store *s);

/* The backend's name ("sqlite", "postgresql"): static string. */
const char *ss_store_backend(const ss_store *s);

/* What to call the store in logs and in GET /stats: the file path, or the server and database name (never a
 * password). Owned by s. */
const char *ss_store_describe(const ss_store *s);

/* ---- Readiness and health (per request) --------------------------------------------------------------------- */

/* Make the store usable for the request in progress: connect when not connected (a failed connect is retried at
 * most once a second, or at once when the backend sees that something changed, e.g. the file was restored);
 * at the first call after ss_store_recheck, check that the connection still reaches the store it opened
 * (SQLite: the path still names the open file, which was not overwritten in place; a file deleted while open
 * is restored from the open connection; a replaced file or a connection that hit corruption is reopened).
 * Later calls cost nothing unless an operation failed in a way that needs a new connection. Every change is
 * reported once through ss_store_params.notice. Returns 0 when usable, -1 with err (SS_ERR_UNAVAILABLE, or
 * what the connection attempt reported; ss_store_error keeps the message). Every operation below calls it
 * first (so callers need not), except ss_store_bulk_commit/_rollback and ss_store_read_end, which finish what
 * a ready store began; an operation on a store that is not ready fails with that error. A backend never
 * reconnects inside an open bulk or read transaction: the operation fails with SS_ERR_UNAVAILABLE instead. */
int ss_store_ready(ss_store *s, ss_error *err);

/* The next ss_store_ready runs its checks again. The responder calls it before and after each request. */
void ss_store_recheck(ss_store *s);

/* Is a connection open (it may still be unusable; see ss_store_health)? */
bool ss_store_connected(const ss_store *s);

/* Why the store is unusable since the last ss_store_ready ("" when it is usable). Owned by s. */
const char *ss_store_error(const ss_store *s);

/* A fresh probe for GET /health (reads the store itself, not a cache): SS_OK, or SS_ERR_UNAVAILABLE,
 * SS_ERR_READ_ONLY, SS_ERR_STORAGE_FULL or SS_ERR_BUSY with err (the message names the store; /health does
 * not show it). Calls ss_store_ready first. */
ss_code ss_store_health(ss_store *s, ss_error *err);

/* True when the store cannot be used again without a service restart (SQLite: the file was overwritten in
 * place while open, its -wal belongs to the old content). */
bool ss_store_needs_restart(const ss_store *s);

/* True when connected read-only (every write answers SS_ERR_READ_ONLY). */
bool ss_store_readonly(const ss_store *s);

/* Schema version of the connected store (0 when not connected), and the latest this build knows. */
int ss_store_schema_version(ss_store *s);
int ss_store_schema_latest(const ss_store *s);

/* Integrity check: quick (full = false) or full. Full also reads every cache row (streamed) and checks that its
 * stored result is whole (ss_cache_result_complete). Returns 0 when sound, -1 with the first problem in err. */
int ss_store_check(ss_store *s, bool full, ss_error *err);

/* Housekeeping after writes, cheap when there is nothing to do (SQLite: checkpoint the WAL once it is larger
 * than 16 MiB; a no-op on a server). Returns 0 or -1 with err; a failure harms nothing. */
int ss_store_maintain(ss_store *s, ss_error *err);

/* ---- Transactions ----------------------------------------------------------------------------------------- */

/* A write transaction for many rows at once (songscope-admin import-legacy, db copy): the *_import functions
 * and ss_store_legacy_stats_add must run inside one. SQLite: BEGIN IMMEDIATE. Returns 0 or -1 with err.
 * Rollback after a failed commit is allowed and harmless. */
int ss_store_bulk_begin(ss_store *s, ss_error *err);
int ss_store_bulk_commit(ss_store *s, ss_error *err);
void ss_store_bulk_rollback(ss_store *s);

/* A read transaction: every read between begin and end sees one snapshot (used where rows in the store must be
 * counted together with rows outside it, see core/store/usage_journal.h). Returns 0 or -1 with err. */
int ss_store_read_begin(ss_store *s, ss_error *err);
void ss_store_read_end(ss_store *s);

/* ---- The analysis cache ----------------------------------------------------------------------------------- */

#define SS_SHA256_HEX 65       /* 64 hex digits + NUL */
#define SS_NAMESPACE_MAX 32    /* characters of a namespace */
#define SS_CACHE_LIST_MAX 500  /* largest page of GET /cache */
#define SS_CACHE_SEARCH_MAX 100
#define SS_CACHE_OFFSET_MAX 10000        /* deepest offset of GET /cache */
#define SS_CACHE_SHORT_SEARCH_ROWS 10000 /* a 0-2 character search looks at this many newest rows of ns only */

/* One cached song as stored, with its override (if any). Numbers are NaN and strings NULL when the column
 * holds no value. Strings are owned by the store, valid during the callback that received the row. */
typedef struct ss_cache_row {
	int64_t id;
	const char *cache_key;
	const char *ns;          /* namespace */
	const char *source_kind; /* "url" or "upload" */
	const char *source;      /* URL, or hex SHA-256 of the uploaded bytes */
	const char *preview_url;
	const char *title;
	const char *artist;
	const char *analyzed_at; /* "YYYY-MM-DD HH:MM:SS" UTC */
	const char *result_json; /* the stored JSON object of the analysis fields; spliced by the renderer */
	const char *beats_json;  /* the result's time series (ss_result_beats_text: beats, downbeats, segments,
				  * sections), an older object or bare beats array, or NULL; filled only when asked for
				  * (SS_CACHE_ROW_BEATS), else NULL */
	/* Scalar columns, for listing, search and export. */
	double bpm, bpm_confidence;
	const char *key;         /* "C# Minor" */
	double key_confidence, energy, danceability, acousticness, spectral_centroid;
	const char *time_signature;
	double valence;
	const char *mood;
	double loudness, dynamic_range, silence_ratio, analysis_duration;
	/* The manual override of (ns, source), kept apart so that re-analysis never wipes it. */
	bool user_verified;      /* an override exists */
	double manual_bpm;
	const char *manual_key;
	const char *notes;
	const char *verified_at; /* "YYYY-MM-DD HH:MM:SS" UTC, NULL without an override */
} ss_cache_row;

/* Receives one row. Returns 0 to go on; any other value stops the operation, which then returns -2 and leaves
 * err untouched (the callback reports its own failure through arg). */
typedef int (*ss_cache_row_fn)(void *arg, const ss_cache_row *row);

/* Flags of ss_store_cache_get. */
#define SS_CACHE_ROW_BEATS 1u /* fill beats_json */

/* What is written for one song. Strings are borrowed. NaN numbers and NULL strings are stored as no value. */
typedef struct ss_cache_write {
	const char *cache_key, *ns, *source_kind, *source, *preview_url, *title, *artist;
	double bpm, bpm_confidence;
	const char *key;
	double key_confidence, energy, danceability, acousticness, spectral_centroid;
	const char *time_signature, *mood;
	double valence, loudness, dynamic_range, silence_ratio, analysis_duration;
	const char *result_json; /* JSON object (never NULL) */
	const char *beats_json;  /* or NULL */
	const char *analyzed_at; /* import only: a time string (UTC); NULL or unparsable = now. Put: always now */
} ss_cache_write;

/* What a fresh analysis stores (the scalar columns come from result). Strings are borrowed. result_json is the
 * JSON object of the analysis fields (without beats, id, title, artist, cached, analyzed_at); beats_json the
 * object ss_result_beats_text writes or NULL. */
typedef struct ss_cache_put_args {
	const char *cache_key;
	const char *ns;
	const char *source_kind; /* "url" or "upload" */
	const char *source;      /* URL or content SHA-256 hex */
	const char *preview_url; /* what clients see in preview_url */
	const char *title;
	const char *artist;
	const struct ss_result *result;
	const char *result_json;
	const char *beats_json;
} ss_cache_put_args;

/* Insert or replace the row of a->cache_key in one transaction (analyzed_at = now). An existing row keeps its
 * id; overrides are never touched. Returns 0 (and *id when id != NULL) or -1 with err. */
int ss_store_cache_put(ss_store *s, const ss_cache_put_args *a, int64_t *id, ss_error *err);

/* Insert w unless a row with its cache_key exists (that row is left as it is). Inside ss_store_bulk_begin.
 * Returns 1 inserted, 0 already there, -1 with err. */
int ss_store_cache_import(ss_store *s, const ss_cache_write *w, ss_error *err);

/* The row of cache_key: calls fn once and returns 1; 0 when there is none; -1 with err; -2 when fn stopped. */
int ss_store_cache_get(ss_store *s, const char *cache_key, unsigned flags, ss_cache_row_fn fn, void *arg,
		       ss_error *err);

/* Rows of ns (NULL = every namespace), newest first (analyzed_at, then id, descending). limit 1..
 * SS_CACHE_LIST_MAX, offset 0..SS_CACHE_OFFSET_MAX (else SS_ERR_BAD_REQUEST, the message says so). Returns the
 * number of rows passed to fn, -1 with err, -2 when fn stopped. */
int ss_store_cache_list(ss_store *s, const char *ns, int limit, long long offset, ss_cache_row_fn fn, void *arg,
			ss_error *err);

/* Rows of ns (NULL = all) whose title or artist contains q (NULL = ""), case-insensitively for ASCII, with '%',
 * '_' and '\\' taken literally; newest first; at most limit rows (outside 1..SS_CACHE_SEARCH_MAX:
 * SS_CACHE_SEARCH_MAX). A q of 3 or more characters (UTF-8 code points) is looked for in every row; a q of 0-2
 * characters only in the SS_CACHE_SHORT_SEARCH_ROWS newest rows of ns. Backends serve the long form from an
 * index. Returns the number of rows passed to fn, -1 with err, -2 when fn stopped. */
int ss_store_cache_search(ss_store *s, const char *ns, const char *q, int limit, ss_cache_row_fn fn, void *arg,
			  ss_error *err);

/* Every row of ns (NULL = all) ordered by artist, then title (both ASCII case-insensitive), then id, read in
 * one snapshot; total (may be NULL) is called once first with the number of rows. flags: SS_CACHE_ROW_BEATS
 * or 0. Memory stays bounded whatever the row count (rows are streamed). Returns the number of rows, -1 with
 * err (also after some rows were passed on), -2 when a callback stopped. */
int ss_store_cache_export(ss_store *s, const char *ns, unsigned flags, int (*total)(void *arg, long long rows),
			  ss_cache_row_fn fn, void *arg, ss_error *err);

/* Delete the row with id. Returns 1 deleted, 0 no such row, -1 with err. */
int ss_store_cache_delete(ss_store *s, int64_t id, ss_error *err);

/* Delete every row of ns (NULL = all namespaces); overrides and statistics stay. Returns 0 and *deleted, or -1
 * with err. */
int ss_store_cache_clear(ss_store *s, const char *ns, long long *deleted, ss_error *err);

/* Rows in ns (NULL = all). Returns the count or -1 with err. */
long long ss_store_cache_count(ss_store *s, const char *ns, ss_error *err);

/* Is there a row for (ns, source)? Returns 1, 0, or -1 with err. */
int ss_store_cache_has_source(ss_store *s, const char *ns, const char *source, ss_error *err);

/* The cache key of the row whose key starts with hex_prefix (1..64 lower-case hex digits; the track ids of
 * /v1/audio-features carry the first 32) into key; when several rows share the prefix, the smallest key.
 * Returns 1 found, 0 none (key ""), -1 with err (SS_ERR_BAD_REQUEST for a prefix that is not lower-case hex). */
int ss_store_cache_key_by_prefix(ss_store *s, const char *hex_prefix, char key[SS_SHA256_HEX], ss_error *err);

/* ---- De-duplication of identical misses across hosts ------------------------------------------------------- */

/* Claim the analysis of cache_key among every process of every host sharing this store, waiting at most wait_ms
 * for a claim another process holds (the per-host de-duplication in core/limits/admission.h comes first; this
 * covers hosts). A process that dies lets go of its claims. Returns 1 when claimed at once (analyse, store,
 * then ss_store_release), 2 when claimed after another process let go (it has probably stored the result: look
 * in the cache again before analysing; release either way), -1 with err: SS_ERR_BUSY when the claim was still
 * held after wait_ms (nothing to release), or the store's error. A backend that cannot tell (SQLite: one host)
 * answers 1 at once. */
int ss_store_claim(ss_store *s, const char *cache_key, int wait_ms, ss_error *err);

/* Let go of a claim taken by ss_store_claim (a no-op when none is held). */
void ss_store_release(ss_store *s, const char *cache_key);

/* ---- Manual overrides (POST /verify), keyed by (namespace, source) ------------------------------------------- */

/* Which fields to change: a field with set_* false keeps its stored value; set with NaN / NULL clears it. */
typedef struct ss_override_update {
	bool set_bpm;
	double bpm;        /* NaN clears */
	bool set_key;
	const char *key;   /* NULL clears; borrowed */
	bool set_notes;
	const char *notes; /* NULL clears; borrowed */
} ss_override_update;

/* Record an override for the cached song (ns, source) in one transaction (verified_at = now). Returns 1 when
 * stored, 0 when no cached song has that source in ns (nothing written), -1 with err. */
int ss_store_override_set(ss_store *s, const char *ns, const char *source, const ss_override_update *u,
			  ss_error *err);

/* Store an override taken over from elsewhere for (ns, source) unless one exists (it is kept). bpm NaN, key
 * NULL, notes NULL mean none; verified_at a time string (NULL or unparsable = now). Inside
 * ss_store_bulk_begin. Returns 1 inserted, 0 already there, -1 with err. */
int ss_store_override_import(ss_store *s, const char *ns, const char *source, double bpm, const char *key,
			     const char *notes, const char *verified_at, ss_error *err);

/* One stored override, for copying a store (overrides outlive their cache rows). Strings valid during the
 * callback; NaN / NULL when not set. */
typedef struct ss_override_row {
	const char *ns, *source;
	double manual_bpm;
	const char *manual_key, *notes;
	const char *verified_at; /* "YYYY-MM-DD HH:MM:SS" UTC */
} ss_override_row;

/* Every override in (ns, source) order. Returns the count, -1 with err, -2 when fn stopped. */
long long ss_store_override_list(ss_store *s, int (*fn)(void *arg, const ss_override_row *o), void *arg,
				 ss_error *err);

/* ---- API keys --------------------------------------------------------------------------------------------- */

/* Key scopes; the values equal ss_scope's CLIENT and ADMIN (fcgi/router.h). */
typedef enum ss_key_scope { SS_KEY_CLIENT = 1, SS_KEY_ADMIN = 2 } ss_key_scope;

#define SS_KEY_NAME_MAX 128
#define SS_KEY_EMAIL_MAX 256

/* A stored key. Plain keys are never stored: only their SHA-256 and a short display prefix. A plain value
 * (copied out), no ownership. */
typedef struct ss_key_record {
	int64_t id;
	unsigned char hash[SS_APIKEY_HASH_LEN]; /* SHA-256 of the key (what is stored; for copying stores) */
	char prefix[SS_APIKEY_PREFIX_MAX];
	char name[SS_KEY_NAME_MAX];
	char email[SS_KEY_EMAIL_MAX]; /* "" when none */
	ss_key_scope scope;
	bool active;
	int64_t daily_limit;          /* 0 = unlimited */
	int64_t rate_limit;           /* per minute; 0 = server default */
	char created_at[20];          /* "YYYY-MM-DD HH:MM:SS" UTC */
	char last_used[20];           /* "" when never used */
} ss_key_record;

/* "client" / "admin" and back. Parse returns 0 or -1 for anything else. */
const char *ss_key_scope_name(ss_key_scope s);
int ss_key_scope_parse(const char *s, ss_key_scope *out);

/* Create an active key (name 1..127 bytes and email of printable UTF-8 text, ss_utf8_has_control false; email
 * may be NULL; limits >= 0). Writes the
 * one-time plain key into key_out and the stored record into *rec. Returns 0 or -1 with err (SS_ERR_BAD_REQUEST
 * for bad fields). */
int ss_store_key_create(ss_store *s, const char *name, const char *email, ss_key_scope scope, int64_t daily_limit,
			int64_t rate_limit, ss_key_record *rec, char key_out[SS_APIKEY_TEXT_MAX], ss_error *err);

/* The key whose stored hash equals hash (compared in constant time after the indexed lookup). Returns 1 with
 * *rec, 0 when there is none, -1 with err. */
int ss_store_key_find_by_hash(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], ss_key_record *rec,
			      ss_error *err);

/* The key named name (exact match): 1 with *rec when exactly one key has that name, 0 when none, 2 when several
 * do (*rec is the oldest; the caller should refuse to guess), -1 with err. */
int ss_store_key_find_by_name(ss_store *s, const char *name, ss_key_record *rec, ss_error *err);

/* The key with id. Returns 1 with *rec, 0 when there is none, -1 with err. */
int ss_store_key_get(ss_store *s, int64_t id, ss_key_record *rec, ss_error *err);

/* Call fn for every key in id order (stop early when fn returns non-zero: then -2). Returns 0, -1 with err, -2. */
int ss_store_key_list(ss_store *s, int (*fn)(void *arg, const ss_key_record *rec), void *arg, ss_error *err);

/* Changes to one key. Each returns 1 when the key existed and was changed, 0 when there is no such id, -1 with
 * err (SS_ERR_BAD_REQUEST for a negative limit). The caller tells the limiter (key-cache invalidation). */
int ss_store_key_set_active(ss_store *s, int64_t id, bool active, ss_error *err);
int ss_store_key_set_daily_limit(ss_store *s, int64_t id, int64_t daily_limit, ss_error *err);
int ss_store_key_set_rate_limit(ss_store *s, int64_t id, int64_t rate_limit, ss_error *err);
int ss_store_key_set_scope(ss_store *s, int64_t id, ss_key_scope scope, ss_error *err);
int ss_store_key_delete(ss_store *s, int64_t id, ss_error *err);

/* Give key id a new secret (same record, limits and usage); the old secret stops working. Writes the new plain
 * key into key_out. Returns 1, 0 (no such id) or -1 with err. */
int ss_store_key_rotate(ss_store *s, int64_t id, char key_out[SS_APIKEY_TEXT_MAX], ss_error *err);

/* An existing key string registered as it is (songscope-admin keys import, import-legacy, db copy). */
#define SS_KEY_IMPORT_MIN 16                        /* shortest accepted key, bytes */
#define SS_KEY_IMPORT_MAX (SS_APIKEY_INPUT_MAX - 1) /* longest: what the auth path still hashes */

typedef struct ss_key_import {
	const char *name;       /* 1..127 bytes */
	const char *email;      /* or NULL */
	ss_key_scope scope;
	bool active;
	int64_t daily_limit;    /* >= 0, 0 = unlimited */
	int64_t rate_limit;     /* 0..1000000 per minute, 0 = server default */
	const char *created_at; /* time string (UTC); NULL or unparsable = now */
} ss_key_import;

/* Is key (len bytes) acceptable as an imported secret: SS_KEY_IMPORT_MIN..SS_KEY_IMPORT_MAX bytes of printable
 * ASCII without spaces? Returns 0, or -1 with err (SS_ERR_BAD_REQUEST, naming the rule, never the key). */
int ss_keys_import_check(const char *key, size_t len, ss_error *err);

/* Register an existing secret: stores only its SHA-256 and a short display prefix (at most a quarter of the key,
 * and at most 8 characters). Control characters in the name and email become spaces (ss_utf8_fold_controls)
 * rather than refusing a key that works elsewhere; the other rules are ss_store_key_create's. Returns 1 with *id of the new key, 0 when a key with this secret exists (*id = its
 * id, nothing changed), -1 with err. Inside or outside ss_store_bulk_begin. */
int ss_store_key_import(ss_store *s, const char *key, size_t len, const ss_key_import *k, int64_t *id,
			ss_error *err);

/* The same for a key known only by its hash and prefix (copying one store into another: songscope-admin db copy). */
int ss_store_key_import_hashed(ss_store *s, const unsigned char hash[SS_APIKEY_HASH_LEN], const char *prefix,
			       const ss_key_import *k, int64_t *id, ss_error *err);

/* ---- Usage rows (one per authenticated request) ------------------------------------------------------------ */

#define SS_USAGE_ENDPOINT_MAX 48

typedef struct ss_usage_row {
	int64_t key_id;
	char endpoint[SS_USAGE_ENDPOINT_MAX];
	int status;
	int64_t time_s; /* CLOCK_REALTIME seconds */
} ss_usage_row;

/* Write rows[0..n) in one transaction and set each key's last_used to its newest row; rows of keys deleted
 * meanwhile are skipped. When journal_id != 0, record in the same transaction that journal journal_id's rows up
 * to sequence number last_seq are written (core/store/usage_journal.h). Returns 0, or -1 with err (nothing
 * written). */
int ss_store_usage_write(ss_store *s, const ss_usage_row *rows, size_t n, int64_t journal_id, int64_t last_seq,
			 ss_error *err);

/* Every row at or after time from_s (CLOCK_REALTIME seconds), oldest first, with its key (for copying a store:
 * today's rows carry the daily quotas). Returns the count, -1 with err, -2 when fn stopped. */
long long ss_store_usage_rows(ss_store *s, int64_t from_s, int (*fn)(void *arg, const ss_usage_row *row), void *arg,
			      ss_error *err);

/* The last sequence number recorded for journal_id (0 when none) into *seq. Returns 0 or -1 with err. */
int ss_store_usage_journal_mark(ss_store *s, int64_t journal_id, int64_t *seq, ss_error *err);

/* Forget journal marks not updated for days days (their journals are long imported). Returns 0 or -1. */
int ss_store_usage_journal_prune(ss_store *s, int days, ss_error *err);

/* Per-key count of the quota-counted rows (every row but the limiter's own 429 refusals) of UTC day day (days
 * since the epoch); fn once per key with rows (non-zero stops: -2). Returns 0, -1 with err, -2. */
int ss_store_usage_day_counts(ss_store *s, int64_t day, int (*fn)(void *arg, int64_t key_id, int64_t count),
			      void *arg, ss_error *err);

typedef struct ss_usage_stats {
	int64_t requests_today; /* rows in the given UTC day */
	int64_t total;          /* all rows */
	int64_t successful;     /* rows with a status below 400 */
} ss_usage_stats;

/* Usage figures of one key for UTC day day. Returns 0 or -1 with err. */
int ss_store_usage_key_stats(ss_store *s, int64_t key_id, int64_t day, ss_usage_stats *out, ss_error *err);

/* The key's newest limit rows, newest first; fn gets endpoint, status and "YYYY-MM-DD HH:MM:SS" (strings valid
 * during the call). Returns 0, -1 with err, -2 when fn stopped. */
int ss_store_usage_recent(ss_store *s, int64_t key_id, int limit,
			  int (*fn)(void *arg, const char *endpoint, int status, const char *timestamp), void *arg,
			  ss_error *err);

/* Per-key totals over the last days UTC days (today included), for keys with rows in that window, in key id
 * order. Returns 0, -1 with err, -2 when fn stopped. */
int ss_store_usage_summary(ss_store *s, int days,
			   int (*fn)(void *arg, int64_t key_id, const char *name, const char *prefix, int64_t total,
				     int64_t successful),
			   void *arg, ss_error *err);

/* ---- Statistics kept in the store ------------------------------------------------------------------------- */

/* Counts added to the live counters by GET /stats: kept by earlier versions or taken over by import-legacy. */
typedef struct ss_stats_baseline {
	int64_t analyses, hits, misses, requests;
	char last_updated[20]; /* "YYYY-MM-DD HH:MM:SS" UTC, "" when unknown */
} ss_stats_baseline;

/* Returns 1 with *out when the store holds a baseline, 0 when not (*out zeroed), -1 with err. */
int ss_store_stats_baseline(ss_store *s, ss_stats_baseline *out, ss_error *err);

/* Add an outside server's counters (now[0..3) = analyses, hits, misses) to the baseline, remembering them under
 * signature (a hex string naming that server's database): importing the same server again adds only what
 * grew since (a counter that went down adds nothing). Inside ss_store_bulk_begin. Writes what was added into
 * added[0..3). Returns 1 when the record changed, 0 when nothing did, -1 with err. */
int ss_store_legacy_stats_add(ss_store *s, const char *signature, const int64_t now[3], int64_t added[3],
			      ss_error *err);

#endif
