/* Key checks on every request. Hot path (cached key): one hash, one fstat() and one atomic load to check
 * the state file's mapping is still usable (so a corrupted or truncated file is left on the very next
 * request; about a microsecond), one atomic load of the key-change generation, a key cache hit and one short
 * critical section in the state file — no SQLite. Usage rows are written ahead into this responder's mapped
 * journal (core/store/usage_journal.h) before the response leaves the responder's FastCGI buffer, and
 * flushed to api_usage every USAGE_MAX_AGE_S seconds or half a journal, and on graceful stop. A SIGKILLed
 * responder's journal is imported by the next responder (at its start, and at most once a second when it
 * flushes, and at its graceful stop), exactly once; so a kill loses only the row of the request in flight in
 * that responder (counted in the state file, not yet answered). Without a journal (the database's directory not
 * writable) rows are batched in memory and a kill loses up to one second of them. */
#include "fcgi/auth.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#include "core/auth/apikey.h"
#include "core/auth/keycache.h"
#include "core/limits/limiter.h"
#include "core/limits/state.h"
#include "core/net/cidr.h"
#include "core/store/usage.h"
#include "core/store/usage_journal.h"
#include "core/util/log.h"
#include "core/util/timefmt.h"
#include "fcgi/response.h"

#define USAGE_MAX_AGE_S 1.0

/* One responder per process: the pending usage rows live here (the journal, or the batch without one). */
static ss_usage_batch usage;
static ss_usage_journal *journal;
static double recover_at; /* monotonic time of the next orphan-journal import */
static double state_retry_at;

#define JOURNAL_MARK_DAYS 7 /* journal marks older than this are forgotten */

/* Import the usage journals of dead responders (at most once a second unless force). */
static void recover_journals(ss_ctx *ctx, bool force)
{
	double now = ss_time_mono();
	if (!force && now < recover_at)
		return;
	recover_at = now + 1.0;
	if (ss_ctx_store_ready(ctx) != 0 || ss_store_readonly(ctx->store))
		return;
	ss_error err;
	ss_error_clear(&err);
	int damaged = 0;
	long n = ss_usage_journal_recover(ctx->store, ctx->cfg->database, &damaged, &err);
	if (damaged > 0)
		ss_log_warn("removed %d damaged usage journal(s) of stopped responders without importing them: their "
			    "header could not be read (a torn write or a bad disk); their requests are missing from the "
			    "usage history", damaged);
	if (n < 0)
		ss_log_warn("usage journals of stopped responders not imported yet: %s", err.msg);
	else if (n > 0)
		ss_log_info("imported %ld usage rows from the journals of stopped responders", n);
}

static int seed_from_usage_row(void *arg, int64_t key_id, int64_t count)
{
	ss_limiter *lim = ((void **)arg)[0];
	const int64_t *day = ((void **)arg)[1];
	ss_error err;
	ss_limiter_seed_day(lim, key_id, *day, count, &err);
	return 0;
}

/* Limiter seed callback (a new state file, or a day Redis has no counts for): today's quota-counted usage
 * rows, in api_usage or still in a journal, become the daily counters. */
static int seed_from_db(void *arg, ss_limiter *lim, int64_t day)
{
	ss_ctx *ctx = arg;
	if (ss_ctx_store_ready(ctx) != 0)
		return -1;
	/* Rows still in journals count too: those of responders that died are imported first, and those
	 * that live responders (this one included) have not flushed yet are counted from their journals. */
	recover_journals(ctx, true);
	void *pass[2] = {lim, &day};
	ss_error err;
	if (ss_usage_journal_day_counts(ctx->store, ctx->cfg->database, day, seed_from_usage_row, pass, &err) != 0) {
		ss_log_error("re-seeding daily counts from api_usage failed: %s", err.msg);
		return -1;
	}
	return 0;
}

static void log_limiter_note(ss_ctx *ctx)
{
	char note[320];
	while (ctx->limiter != NULL && ss_limiter_take_note(ctx->limiter, note, sizeof note))
		ss_log_warn("%s", note);
}

static int open_limiter(ss_ctx *ctx)
{
	ss_error err;
	ss_error_clear(&err);
	if (ss_limiter_open(ctx->cfg, seed_from_db, ctx, &ctx->limiter, &err) != 0) {
		double now = ss_time_mono();
		if (now >= state_retry_at)
			ss_log_error("%s", err.msg);
		state_retry_at = now + 1.0;
		return -1;
	}
	log_limiter_note(ctx);
	return 0;
}

int ss_auth_create_state(ss_ctx *ctx)
{
	ss_limiter *lim = NULL;
	ss_error err;
	ss_error_clear(&err);
	if (ss_limiter_open(ctx->cfg, seed_from_db, ctx, &lim, &err) != 0) {
		ss_log_error("%s", err.msg);
		return -1;
	}
	char note[320];
	while (ss_limiter_take_note(lim, note, sizeof note))
		ss_log_info("%s", note);
	ss_limiter_close(lim);
	return 0;
}

int ss_auth_open(ss_ctx *ctx)
{
	ss_usage_batch_init(&usage);
	if (ctx->cfg->auth != SS_AUTH_OFF && journal == NULL) {
		ss_error err;
		ss_error_clear(&err);
		if (ss_usage_journal_open(ctx->cfg->database, &journal, &err) != 0)
			ss_log_warn("usage rows are kept in memory only (a killed responder loses up to a second of them): "
				    "%s",
				    err.msg);
		recover_journals(ctx, true);
		if (ss_ctx_store_ready(ctx) == 0 && !ss_store_readonly(ctx->store) &&
		    ss_store_usage_journal_prune(ctx->store, JOURNAL_MARK_DAYS, &err) != 0)
			ss_log_warn("%s", err.msg);
	}
	if (ctx->cfg->auth != SS_AUTH_OFF && ctx->keys == NULL) {
		ss_error err;
		if (ss_keycache_new((size_t)ctx->cfg->key_cache_size, ctx->cfg->key_cache_ttl, &ctx->keys, &err) != 0) {
			ss_log_error("%s", err.msg);
			return -1;
		}
	}
	if (ctx->limiter == NULL && open_limiter(ctx) != 0)
		return -1;
	ss_auth_host_state(ctx); /* registers this responder */
	return 0;
}

struct ss_state *ss_auth_host_state(ss_ctx *ctx)
{
	if (ctx->limiter == NULL)
		return NULL;
	ss_state *st = ss_limiter_host_state(ctx->limiter);
	log_limiter_note(ctx);
	ss_error err;
	/* Idempotent (a flag test) once registered; a reopened file needs it again. */
	if (st != NULL && ss_state_register_responder(st, &err) != 0) {
		static double warned_at;
		if (ss_time_mono() - warned_at > 60.0) {
			ss_log_warn("%s", err.msg);
			warned_at = ss_time_mono();
		}
	}
	return st;
}

double ss_auth_between_requests(ss_ctx *ctx)
{
	if (ctx->limiter == NULL)
		return -1;
	bool reopened;
	double due = ss_limiter_maintain(ctx->limiter, &reopened);
	if (reopened)
		ss_auth_host_state(ctx); /* registers this responder in the new file */
	log_limiter_note(ctx);
	return due;
}

/* Every call (so every authenticated request): the state file's mapping is usable (one fstat() and one atomic
 * load, so a mapping marked broken or a truncated file is left on the very next request; about once a second
 * also whether the file was replaced) and the limiter's backend is reachable (redis: connected, reconnecting at
 * most every 250 ms; no round trip). */
bool ss_auth_state_ready(ss_ctx *ctx)
{
	if (ctx->limiter == NULL) {
		if (ss_time_mono() < state_retry_at || open_limiter(ctx) != 0)
			return false;
	}
	if (ss_auth_host_state(ctx) == NULL)
		return false;
	bool ok = ss_limiter_ready(ctx->limiter);
	log_limiter_note(ctx);
	static bool was_down;
	if (!ok && !was_down) {
		const char *why = ss_limiter_problem(ctx->limiter);
		ss_log_error("the limiter (%s) is unavailable: %s", ss_limiter_backend(ctx->limiter),
			     why != NULL ? why : "no reason given");
	} else if (ok && was_down)
		ss_log_info("the limiter (%s) is available again", ss_limiter_backend(ctx->limiter));
	was_down = !ok;
	return ok;
}

#ifdef SS_TEST_HOOKS
/* Test builds only (configure --enable-test-hooks): when $SONGSCOPE_TEST_HOLD_LOCK names a file that exists,
 * the first responder to rename it away takes the state lock, writes its pid to FILE.held and stops
 * itself (SIGSTOP) holding the lock, as a responder stopped by an operator or a debugger would. */
static void test_hook_hold_lock(ss_ctx *ctx)
{
	static const char *trigger;
	static bool looked;
	if (!looked) {
		trigger = getenv("SONGSCOPE_TEST_HOLD_LOCK");
		looked = true;
	}
	ss_state *st = ss_auth_host_state(ctx);
	if (trigger == NULL || st == NULL)
		return;
	char taken[1100], held[1100], tmp[1100];
	snprintf(taken, sizeof taken, "%s.taken", trigger);
	snprintf(held, sizeof held, "%s.held", trigger);
	snprintf(tmp, sizeof tmp, "%s.held.tmp", trigger);
	if (rename(trigger, taken) != 0 || ss_state_test_lock_and_hold(st) != 0)
		return;
	FILE *f = fopen(tmp, "w");
	if (f != NULL) {
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
		rename(tmp, held);
	}
	raise(SIGSTOP);
}
#endif

static int refuse(ss_request *req, ss_code code, const char *msg)
{
	return ss_resp_error(req, code, "%s", msg) ? -1 : 1;
}

static void log_usage(ss_ctx *ctx, int64_t key_id, const char *endpoint, int status)
{
	double now = ss_time_mono();
	if (journal != NULL && ss_usage_journal_broken(journal)) {
		/* truncated under us by something else: its rows are gone; a new journal for the next ones */
		ss_usage_journal_close(journal, true);
		journal = NULL;
		ss_error err;
		ss_error_clear(&err);
		if (ss_usage_journal_open(ctx->cfg->database, &journal, &err) != 0)
			ss_log_warn("this responder's usage journal was truncated under it and no new one can be made (%s); "
				    "usage rows are kept in memory only", err.msg);
		else
			ss_log_warn("this responder's usage journal was truncated under it; the usage rows it held are lost, "
				    "a new journal holds the next ones");
	}
	if (journal != NULL) {
		if (ss_usage_journal_append(journal, key_id, endpoint, status, (int64_t)ss_time_now(), now) != 0)
			usage.dropped++;
		if (ss_usage_journal_due(journal, now, USAGE_MAX_AGE_S))
			ss_auth_flush(ctx, true);
		return;
	}
	ss_usage_batch_add(&usage, key_id, endpoint, status, (int64_t)ss_time_now(), now);
	if (ss_usage_batch_due(&usage, now, USAGE_MAX_AGE_S))
		ss_auth_flush(ctx, true);
}

/* Find the key: key cache first, the database on a miss. Returns 0 with *info, or -1 (503 sent or
 * write error: *rc set). */
static int lookup(ss_ctx *ctx, ss_request *req, const unsigned char hash[SS_APIKEY_HASH_LEN], uint64_t gen,
		  ss_keyinfo *info, int *rc)
{
	double now = ss_time_mono();
	if (ss_keycache_get(ctx->keys, hash, gen, now, info))
		return 0;
	if (ss_ctx_store_ready(ctx) != 0) {
		*rc = refuse(req, SS_ERR_UNAVAILABLE, "The key store is unavailable; try again shortly.");
		return -1;
	}
	ss_key_record rec;
	ss_error err;
	int found = ss_store_key_find_by_hash(ctx->store, hash, &rec, &err);
	if (found < 0) {
		ss_log_error("%s", err.msg);
		*rc = refuse(req, SS_ERR_UNAVAILABLE, "The key store is unavailable; try again shortly.");
		return -1;
	}
	memset(info, 0, sizeof *info);
	info->valid = found == 1 && rec.active;
	if (found == 1) {
		info->key_id = rec.id;
		info->scope = (int)rec.scope;
		info->daily_limit = rec.daily_limit;
		info->rate_limit = (int)rec.rate_limit;
		memcpy(info->prefix, rec.prefix, sizeof info->prefix);
	}
	ss_keycache_put(ctx->keys, hash, gen, now, info);
	return 0;
}

/* The key a request carries: X-API-Key, else an `Authorization: Bearer KEY` header (what Prometheus and most
 * HTTP clients send); NULL when neither holds one. Bearer keys are cut at the first space or tab. */
static const char *request_key(ss_request *req, char *buf, size_t cap)
{
	const char *key = ss_req_header(req, "X-API-Key");
	if (key != NULL && key[0] != '\0')
		return key;
	const char *auth = ss_req_header(req, "Authorization");
	if (auth == NULL || strncasecmp(auth, "Bearer", 6) != 0 || (auth[6] != ' ' && auth[6] != '\t'))
		return NULL;
	auth += 6;
	auth += strspn(auth, " \t");
	size_t n = strcspn(auth, " \t");
	if (n == 0)
		return NULL;
	if (n >= cap)
		n = cap - 1; /* too long for any key: still refused as invalid below */
	memcpy(buf, auth, n);
	buf[n] = '\0';
	return buf;
}

/* The key that requests without one from anonymous_networks act as, looked up by name and kept for the key
 * cache's time to live or until a key changes (so deactivating it takes effect like any key change). */
static struct {
	bool loaded;
	uint64_t gen;
	double at;
	ss_keyinfo info;
} anon;

/* 0 with *info (info->valid false when the key is missing, inactive or ambiguous), or -1 (503 sent: *rc). */
static int anonymous_key(ss_ctx *ctx, ss_request *req, uint64_t gen, ss_keyinfo *info, int *rc)
{
	double now = ss_time_mono();
	if (anon.loaded && anon.gen == gen && now - anon.at < (double)ctx->cfg->key_cache_ttl) {
		*info = anon.info;
		return 0;
	}
	if (ss_ctx_store_ready(ctx) != 0) {
		*rc = refuse(req, SS_ERR_UNAVAILABLE, "The key store is unavailable; try again shortly.");
		return -1;
	}
	ss_key_record rec;
	ss_error err;
	int found = ss_store_key_find_by_name(ctx->store, ctx->cfg->anonymous_key, &rec, &err);
	if (found < 0) {
		ss_log_error("%s", err.msg);
		*rc = refuse(req, SS_ERR_UNAVAILABLE, "The key store is unavailable; try again shortly.");
		return -1;
	}
	memset(info, 0, sizeof *info);
	if (found == 0)
		ss_log_warn("anonymous_key '%s' names no key: requests without a key are refused", ctx->cfg->anonymous_key);
	else if (found == 2)
		ss_log_warn("anonymous_key '%s' names several keys: requests without a key are refused until one is "
			    "renamed or deleted", ctx->cfg->anonymous_key);
	else {
		info->valid = rec.active;
		info->key_id = rec.id;
		info->scope = (int)rec.scope;
		info->daily_limit = rec.daily_limit;
		info->rate_limit = (int)rec.rate_limit;
		memcpy(info->prefix, rec.prefix, sizeof info->prefix);
	}
	anon.loaded = true;
	anon.gen = gen;
	anon.at = now;
	anon.info = *info;
	return 0;
}

/* A host counter (for /metrics), when the state file is open. */
static void count(ss_ctx *ctx, unsigned idx)
{
	ss_state *st = ctx->limiter != NULL ? ss_limiter_host_state(ctx->limiter) : NULL;
	if (st != NULL)
		ss_state_counter_add(st, idx, 1);
}

/* The limiter is unavailable and limits fail closed: 503 with Retry-After, naming the backend. */
static int limits_down(ss_ctx *ctx, ss_request *req)
{
	count(ctx, SS_STATE_COUNTER_LIMITS_DOWN);
	ss_resp_add_header(req, "Retry-After", "%d", 5);
	const char *backend = ctx->limiter != NULL ? ss_limiter_backend(ctx->limiter) : ctx->cfg->limits;
	if (strcmp(backend, "redis") == 0)
		return refuse(req, SS_ERR_UNAVAILABLE,
			      "The rate limiter (Redis) is unavailable; try again shortly.");
	return refuse(req, SS_ERR_UNAVAILABLE, "The rate-limit state is unavailable; try again shortly.");
}

static bool fail_open(const ss_ctx *ctx)
{
	return strcmp(ctx->cfg->limits_fail, "open") == 0;
}

/* limits_fail = open and the limiter is down: the request goes on without limits (logged at most once a
 * minute, counted for /metrics). */
static void admitted_unlimited(ss_ctx *ctx, int64_t key_id, const ss_error *err)
{
	static double logged_at;
	count(ctx, SS_STATE_COUNTER_LIMITS_FAIL_OPEN);
	double now = ss_time_mono();
	if (logged_at == 0 || now - logged_at >= 60.0) {
		ss_log_warn("limits_fail = open: admitting key %lld without limits (%s)", (long long)key_id,
			    err != NULL && err->msg[0] != '\0' ? err->msg : "the limiter is unavailable");
		logged_at = now;
	}
}

/* A bad or unknown key: throttle its address (per-address failed-attempt limit), then 403. */
static int refuse_invalid(ss_ctx *ctx, ss_request *req, bool limiter_up)
{
	if (!limiter_up) /* fail open: nothing to count failures in */
		return refuse(req, SS_ERR_INVALID_KEY, "The API key is not valid.");
	const char *addr = req->remote_addr != NULL ? req->remote_addr : "";
	int per_min = ctx->cfg->auth_failures_per_minute;
	int retry = 0;
	ss_error err;
	int blocked = ss_limiter_authfail_blocked(ctx->limiter, addr, per_min, &retry, &err);
	if (blocked < 0) {
		ss_log_error("%s", err.msg);
		if (!fail_open(ctx))
			return limits_down(ctx, req);
		return refuse(req, SS_ERR_INVALID_KEY, "The API key is not valid.");
	}
	if (blocked) {
		count(ctx, SS_STATE_COUNTER_ADDR_BLOCKED);
		ss_resp_add_header(req, "Retry-After", "%d", retry);
		return ss_resp_error(req, SS_ERR_RATE_LIMITED,
				     "Too many requests with invalid API keys from this address; retry in %d s.", retry)
			       ? -1
			       : 1;
	}
	if (ss_limiter_authfail_record(ctx->limiter, addr, per_min, &err) != 0)
		ss_log_warn("%s", err.msg);
	count(ctx, SS_STATE_COUNTER_KEY_INVALID);
	return refuse(req, SS_ERR_INVALID_KEY, "The API key is not valid.");
}

int ss_auth_authorize(ss_ctx *ctx, ss_request *req, ss_scope scope)
{
	if (scope == SS_SCOPE_NONE || ctx->cfg->auth == SS_AUTH_OFF)
		return 0;
	/* Monitoring systems on allow-listed addresses may scrape /metrics without a key. */
	if (strcmp(req->route, "metrics") == 0 && ss_cidr_list_contains(ctx->cfg->metrics_allow, req->remote_addr))
		return 0;
	char bearer[SS_APIKEY_INPUT_MAX + 2];
	const char *key = request_key(req, bearer, sizeof bearer);
	/* Without a key, a client-scope request from anonymous_networks acts as anonymous_key. */
	const bool anonymous = key == NULL && scope == SS_SCOPE_CLIENT && ctx->cfg->anonymous_networks[0] != '\0' &&
			       ss_cidr_list_contains(ctx->cfg->anonymous_networks, req->remote_addr);
	static const char missing[] = "An API key is required: send it in the X-API-Key header (or Authorization: Bearer).";
	if (key == NULL && !anonymous)
		return refuse(req, SS_ERR_MISSING_KEY, missing);
	if (ctx->keys == NULL)
		return refuse(req, SS_ERR_UNAVAILABLE, "The rate-limit state is unavailable; try again shortly.");
	bool limiter_up = ss_auth_state_ready(ctx);
	if (!limiter_up && !fail_open(ctx))
		return limits_down(ctx, req);
#ifdef SS_TEST_HOOKS
	test_hook_hold_lock(ctx);
#endif

	/* The key first: a valid key goes on to its own limits whatever its address did, so a stranger's bad
	 * keys from a shared address (NAT, a proxy) can never lock its owner out. Only failures are throttled.
	 * The key information is read under a key-change generation that the admit checks in the same round
	 * trip: when another process (or host) changed keys since, nothing is counted and the key is read again,
	 * so a deactivated key is refused everywhere on its very next request. */
	unsigned char hash[SS_APIKEY_HASH_LEN];
	bool too_long = !anonymous && strnlen(key, SS_APIKEY_INPUT_MAX + 1) > SS_APIKEY_INPUT_MAX;
	if (!anonymous && !too_long)
		ss_apikey_hash(key, strlen(key), hash);
	ss_keyinfo info;
	ss_limiter_decision d;
	ss_error err;
	ss_error_clear(&err);
	int rate = 0;
	for (int attempt = 0;; attempt++) {
		uint64_t gen = ctx->limiter != NULL ? ss_limiter_generation(ctx->limiter) : 0;
		int rc = 0;
		if (anonymous) {
			if (anonymous_key(ctx, req, gen, &info, &rc) != 0)
				return rc;
			if (!info.valid) /* missing, deactivated or ambiguous: the operator turned it off */
				return refuse(req, SS_ERR_MISSING_KEY, missing);
		} else if (too_long) {
			info.valid = false;
		} else if (lookup(ctx, req, hash, gen, &info, &rc) != 0) {
			return rc;
		}
		if (!info.valid) {
			/* Cached as invalid under an old generation (a key created since on another host)? */
			uint64_t now_gen = gen;
			if (attempt == 0 && !too_long && limiter_up &&
			    ss_limiter_generation_sync(ctx->limiter, &now_gen, &err) == 0 && now_gen != gen)
				continue;
			return refuse_invalid(ctx, req, limiter_up);
		}
		rate = info.rate_limit > 0 ? info.rate_limit : ctx->cfg->rate_limit_per_minute;
		if (!limiter_up)
			break;
		int burst = ss_config_rate_burst(ctx->cfg, rate);
		if (ss_limiter_admit(ctx->limiter, info.key_id, rate, burst, info.daily_limit, gen, &d, &err) != 0) {
			ss_log_error("%s", err.msg);
			if (!fail_open(ctx))
				return limits_down(ctx, req);
			limiter_up = false;
			break;
		}
		if (d.verdict != SS_LIMITER_STALE)
			break;
		if (attempt >= 3) /* keys changing faster than we can read them: do not spin */
			return refuse(req, SS_ERR_UNAVAILABLE, "API keys are changing; try again shortly.");
	}

	req->key_id = info.key_id;
	req->key_scope = info.scope;
	memcpy(req->key_prefix, info.prefix, sizeof req->key_prefix < sizeof info.prefix ? sizeof req->key_prefix
											    : sizeof info.prefix);
	req->key_prefix[sizeof req->key_prefix - 1] = '\0';

	if (!limiter_up) {
		admitted_unlimited(ctx, info.key_id, &err);
		if (scope == SS_SCOPE_ADMIN && info.scope != SS_KEY_ADMIN) {
			int rc = ss_resp_error(req, SS_ERR_FORBIDDEN, "This endpoint needs an admin key.");
			log_usage(ctx, info.key_id, req->route, req->status);
			return rc ? -1 : 1;
		}
		return 0;
	}
	ss_resp_add_header(req, "X-RateLimit-Limit", "%d", d.limit);
	ss_resp_add_header(req, "X-RateLimit-Remaining", "%d", d.remaining);
	ss_resp_add_header(req, "X-RateLimit-Reset", "%d", d.reset_s);
	int rc = 0;
	if (d.verdict != SS_LIMITER_ALLOWED) {
		ss_resp_add_header(req, "Retry-After", "%d", d.retry_after_s);
		count(ctx, d.verdict == SS_LIMITER_DAILY_LIMITED ? SS_STATE_COUNTER_DAILY_LIMITED
								  : SS_STATE_COUNTER_RATE_LIMITED);
		if (d.verdict == SS_LIMITER_DAILY_LIMITED)
			rc = ss_resp_error(req, SS_ERR_DAILY_LIMIT,
					   "Daily limit of %lld requests reached; it resets at 00:00 UTC.",
					   (long long)info.daily_limit);
		else
			rc = ss_resp_error(req, SS_ERR_RATE_LIMITED, "Rate limit of %d requests per minute reached.",
					   rate);
	} else if (scope == SS_SCOPE_ADMIN && info.scope != SS_KEY_ADMIN) {
		rc = ss_resp_error(req, SS_ERR_FORBIDDEN, "This endpoint needs an admin key.");
	} else {
		return 0;
	}
	log_usage(ctx, info.key_id, req->route, req->status);
	return rc ? -1 : 1;
}

void ss_auth_finish(ss_ctx *ctx, ss_request *req)
{
	if (req->key_id > 0 && ctx->cfg->auth != SS_AUTH_OFF)
		log_usage(ctx, req->key_id, req->route, req->status);
}

double ss_auth_flush_due_in(const ss_ctx *ctx)
{
	(void)ctx;
	double first;
	if (journal != NULL && ss_usage_journal_pending(journal) > 0)
		first = ss_usage_journal_first_mono(journal);
	else if (journal == NULL && usage.n > 0)
		first = usage.first_mono;
	else
		return -1;
	double left = first + USAGE_MAX_AGE_S - ss_time_mono();
	return left > 0 ? left : 0;
}

void ss_auth_flush(ss_ctx *ctx, bool force)
{
	double now = ss_time_mono();
	size_t pending = journal != NULL ? ss_usage_journal_pending(journal) : usage.n;
	bool due = journal != NULL ? ss_usage_journal_due(journal, now, USAGE_MAX_AGE_S)
				   : ss_usage_batch_due(&usage, now, USAGE_MAX_AGE_S);
	if (pending == 0 || (!force && !due))
		return;
	ss_error err;
	ss_error_clear(&err);
	unsigned long long dropped = usage.dropped;
	if (ss_ctx_store_ready(ctx) != 0) {
		/* retry in a second, not in a busy loop */
		if (journal != NULL)
			ss_usage_journal_defer(journal, now);
		else
			usage.first_mono = now;
		return;
	}
	int rc = journal != NULL ? ss_usage_journal_flush(journal, ctx->store, &err) : ss_usage_flush(ctx->store, &usage, &err);
	if (rc != 0) {
		ss_log_warn("usage rows not written yet (%zu pending): %s", pending, err.msg);
		if (journal != NULL)
			ss_usage_journal_defer(journal, now);
		else
			usage.first_mono = now;
	}
	if (dropped != 0) {
		ss_log_warn("%llu usage rows were dropped while the database was unavailable", dropped);
		usage.dropped = 0;
	}
	if (rc == 0 && journal != NULL)
		recover_journals(ctx, false);
}

void ss_auth_close(ss_ctx *ctx)
{
	ss_auth_flush(ctx, true);
	/* Journals of killed responders that were still locked when this one last looked (a dying process keeps
	 * its lock until the kernel has torn it down) are imported now, so a graceful stop leaves none behind
	 * even when no request came since. */
	if (journal != NULL)
		recover_journals(ctx, true);
	/* Rows that could not be written stay in the file for the next responder to import. */
	ss_usage_journal_close(journal, true);
	journal = NULL;
	ss_keycache_free(ctx->keys);
	ctx->keys = NULL;
	ss_limiter_close(ctx->limiter);
	ctx->limiter = NULL;
}
