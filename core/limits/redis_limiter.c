/* The "redis" limiter backend: the limits live in one Redis server shared by every host (hiredis, blocking
 * calls with a bounded connect and command timeout).
 *
 * Keys (prefix "songscope:"): gen (the key-change generation), k:ID (a hash: t, the key's GCRA next-request
 * time in server microseconds; d, a UTC day; c, the key's count that day; it expires once the limiter has
 * recovered and the day is over), a:ADDR (an address's failed-attempt GCRA time), seeded:DAY (the day's
 * counts were seeded from the database, expires after two days), counters:hosts and counters:h:HOST (each
 * host's service counters for /stats and /metrics: fcgi/shared_counters.h). Every key a script touches is
 * passed in KEYS.
 *
 * Round trips: admit is ONE EVALSHA of a Lua script that reads the server's clock (TIME, so hosts whose clocks
 * disagree still agree on the limits), compares the caller's generation with `gen`, applies GCRA and the daily
 * count and returns the decision with the generation; Redis runs a script atomically, so there is no
 * INCR-then-EXPIRE race and no lost update between hosts. Scripts are loaded (SCRIPT LOAD) when connecting; a
 * NOSCRIPT reply (the server restarted or its script cache was flushed) is answered by EVAL with the body.
 *
 * Failures: a connection error or timeout frees the connection; the next call (at most every 250 ms)
 * connects again. Calls meanwhile fail at once with SS_ERR_UNAVAILABLE, costing no time per request. */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>

#include "core/limits/limiter_backend.h"
#include "core/util/timefmt.h"

#define PREFIX "songscope:"
#define RETRY_S 0.25

enum { SCRIPT_ADMIT, SCRIPT_BLOCKED, SCRIPT_RECORD, SCRIPT_DAY_COUNT, SCRIPT_SEED, SCRIPT_COUNT };

/* The start of every script that needs the time: microseconds of the server clock, and the UTC day. */
#define LUA_NOW                                                                                                      \
	"local t = redis.call('TIME')\n"                                                                             \
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"                                                    \
	"local day = math.floor(tonumber(t[1]) / 86400)\n"                                                           \
	"local function ceil_s(us) if us <= 0 then return 0 end return math.floor((us + 999999) / 1000000) end\n"

/* KEYS: gen, k:ID. ARGV: rate, burst, daily_limit, seen generation.
 * Returns {verdict, remaining, reset_s, retry_after_s, day_count, generation (string), day}. Semantics of
 * ss_state_acquire, in microseconds. k:ID is a hash: t (GCRA next-request time), d (the day c counts), c. */
static const char lua_admit[] = LUA_NOW
	"local gen = redis.call('GET', KEYS[1]) or '0'\n"
	"if gen ~= ARGV[4] then return {3, 0, 0, 0, 0, gen, day} end\n"
	"local rate, burst, daily = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"local P = 60000000\n"
	"local T = math.floor((P + rate - 1) / rate)\n"
	"if burst > math.floor(86400000000 / T) then burst = math.floor(86400000000 / T) end\n"
	"local tau = burst * T\n"
	"local h = redis.call('HMGET', KEYS[2], 't', 'd', 'c')\n"
	"local nxt = tonumber(h[1] or '0')\n"
	"if nxt > now + P then nxt = now + P end\n"
	"local count = 0\n"
	"if tonumber(h[2] or '-1') == day then count = tonumber(h[3] or '0') end\n"
	"local function allowance(s)\n"
	"  if s > now then return 0 end\n"
	"  local base = s\n"
	"  if base < now - tau then base = now - tau end\n"
	"  return math.floor((now - base) / T) + 1\n"
	"end\n"
	"local midnight = (day + 1) * 86400000000\n"
	"if daily > 0 and count >= daily then\n"
	"  return {2, allowance(nxt), ceil_s(nxt + tau - now), ceil_s(midnight - now), count, gen, day}\n"
	"elseif nxt > now then\n"
	"  return {1, 0, ceil_s(nxt + tau - now), ceil_s(nxt - now), count, gen, day}\n"
	"end\n"
	"if nxt < now - tau then nxt = now - tau end\n"
	"nxt = nxt + T\n"
	"count = count + 1\n"
	"redis.call('HSET', KEYS[2], 't', string.format('%.0f', nxt), 'd', string.format('%.0f', day), 'c', count)\n"
	"local keep = nxt + tau - now\n"
	"if midnight - now > keep then keep = midnight - now end\n"
	"redis.call('PEXPIRE', KEYS[2], math.floor(keep / 1000) + 60000)\n"
	"return {0, allowance(nxt), ceil_s(nxt + tau - now), 0, count, gen, day}\n";

/* KEYS: a:ADDR. ARGV: per_min. Returns seconds to wait (0 = not blocked). */
static const char lua_blocked[] = LUA_NOW
	"local T = math.floor(60000000 / tonumber(ARGV[1]))\n"
	"local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
	"if tat < now then tat = now end\n"
	"if tat + T - now > 60000000 then\n"
	"  local s = ceil_s(tat + T - now - 60000000)\n"
	"  if s < 1 then s = 1 end\n"
	"  return s\n"
	"end\n"
	"return 0\n";

/* KEYS: a:ADDR. ARGV: per_min. */
static const char lua_record[] = LUA_NOW
	"local T = math.floor(60000000 / tonumber(ARGV[1]))\n"
	"local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
	"if tat < now then tat = now end\n"
	"tat = tat + T\n"
	"if tat > now + 60000000 + T then tat = now + 60000000 + T end\n"
	"redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)\n"
	"return 0\n";

/* KEYS: k:ID. Returns today's count. */
static const char lua_day_count[] = LUA_NOW
	"local h = redis.call('HMGET', KEYS[1], 'd', 'c')\n"
	"if tonumber(h[1] or '-1') == day then return tonumber(h[2] or '0') end\n"
	"return 0\n";

/* KEYS: k:ID. ARGV: day, count. Raise the day's count to at least count; an earlier day never replaces a
 * later one's count. */
static const char lua_seed[] =
	"local h = redis.call('HMGET', KEYS[1], 'd', 'c')\n"
	"local d, D, n = tonumber(h[1] or '-1'), tonumber(ARGV[1]), tonumber(ARGV[2])\n"
	"if d > D or (d == D and tonumber(h[2] or '0') >= n) then return 0 end\n"
	"redis.call('HSET', KEYS[1], 'd', ARGV[1], 'c', ARGV[2])\n"
	"redis.call('EXPIRE', KEYS[1], 172800)\n"
	"return 0\n";

static const char *const scripts[SCRIPT_COUNT] = {lua_admit, lua_blocked, lua_record, lua_day_count, lua_seed};

typedef struct redis_impl {
	redisContext *c;
	char *unix_path;  /* unix:PATH, or NULL */
	char *host;       /* HOST:PORT */
	int port;
	char *password;   /* NULL = none */
	int db;
	struct timeval timeout;
	double retry_at;  /* monotonic: no connect before */
	char sha[SCRIPT_COUNT][41];
	uint64_t generation; /* as of the last round trip that returned it */
	int64_t day;         /* the server's UTC day as of the last admit (0 = none yet) */
	int64_t seeded_day;  /* the day this process saw seeded (or seeded) */
	char problem[300];
} redis_impl;

static redis_impl *impl_of(ss_limiter *lim)
{
	return lim->impl;
}

static void disconnect(redis_impl *r, const char *why)
{
	snprintf(r->problem, sizeof r->problem, "redis: %s", why);
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
	r->retry_at = ss_time_mono() + RETRY_S;
	r->seeded_day = 0; /* a server that comes back empty must be seeded again */
}

static int down(redis_impl *r, ss_error *err)
{
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "The limiter (Redis) is unavailable: %s",
			    r->problem[0] != '\0' ? r->problem : "not connected");
}

/* One command; on a connection error the connection is dropped. Returns the reply (free it) or NULL. */
static redisReply *command_argv(redis_impl *r, int argc, const char **argv, const size_t *lens)
{
	redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
	if (rep == NULL) {
		char why[200];
		snprintf(why, sizeof why, "%s", r->c->err != 0 ? r->c->errstr : "no reply");
		disconnect(r, why);
	}
	return rep;
}

static redisReply *command(redis_impl *r, int argc, const char **argv)
{
	size_t lens[16];
	assert(argc <= 16);
	for (int i = 0; i < argc && i < 16; i++)
		lens[i] = strlen(argv[i]);
	return command_argv(r, argc, argv, lens);
}

static bool connect_now(ss_limiter *lim)
{
	redis_impl *r = impl_of(lim);
	if (r->c != NULL)
		return true;
	if (ss_time_mono() < r->retry_at)
		return false;
	r->c = r->unix_path != NULL ? redisConnectUnixWithTimeout(r->unix_path, r->timeout)
				    : redisConnectWithTimeout(r->host, r->port, r->timeout);
	if (r->c == NULL) {
		disconnect(r, "out of memory");
		return false;
	}
	if (r->c->err != 0) {
		char why[200];
		snprintf(why, sizeof why, "cannot connect to %s: %s", r->unix_path != NULL ? r->unix_path : r->host,
			 r->c->errstr);
		disconnect(r, why);
		return false;
	}
	if (redisSetTimeout(r->c, r->timeout) != REDIS_OK) {
		disconnect(r, "cannot set the command timeout");
		return false;
	}
	char dbtext[24];
	snprintf(dbtext, sizeof dbtext, "%d", r->db);
	if (r->password != NULL) {
		redisReply *rep = command(r, 2, (const char *[]){"AUTH", r->password});
		if (rep == NULL)
			return false;
		bool ok = rep->type == REDIS_REPLY_STATUS;
		freeReplyObject(rep);
		if (!ok) {
			disconnect(r, "AUTH refused (check redis_password)");
			return false;
		}
	}
	if (r->db != 0) {
		redisReply *rep = command(r, 2, (const char *[]){"SELECT", dbtext});
		if (rep == NULL)
			return false;
		bool ok = rep->type == REDIS_REPLY_STATUS;
		freeReplyObject(rep);
		if (!ok) {
			disconnect(r, "SELECT refused (check redis_db)");
			return false;
		}
	}
	for (int i = 0; i < SCRIPT_COUNT; i++) {
		redisReply *rep = command(r, 3, (const char *[]){"SCRIPT", "LOAD", scripts[i]});
		if (rep == NULL)
			return false;
		bool ok = rep->type == REDIS_REPLY_STRING && rep->len == 40;
		if (ok)
			memcpy(r->sha[i], rep->str, 41);
		else {
			char why[200];
			snprintf(why, sizeof why, "SCRIPT LOAD failed: %s",
				 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
			freeReplyObject(rep);
			disconnect(r, why);
			return false;
		}
		freeReplyObject(rep);
	}
	r->problem[0] = '\0';
	return true;
}

/* Run script idx with keys and args (EVALSHA; EVAL with the body on NOSCRIPT). Returns the reply (free it),
 * or NULL with err. A Redis error reply (e.g. LOADING, OOM) is returned as an error too. */
static redisReply *run(ss_limiter *lim, int idx, int nkeys, const char **keys, int nargs, const char **args,
		       ss_error *err)
{
	redis_impl *r = impl_of(lim);
	if (!connect_now(lim)) {
		down(r, err);
		return NULL;
	}
	const char *argv[12];
	size_t lens[12];
	assert(nkeys >= 0 && nargs >= 0 && 3 + nkeys + nargs <= 12);
	char nk[8];
	snprintf(nk, sizeof nk, "%d", nkeys);
	int argc = 0;
	argv[argc++] = "EVALSHA";
	argv[argc++] = r->sha[idx];
	argv[argc++] = nk;
	for (int i = 0; i < nkeys; i++)
		argv[argc++] = keys[i];
	for (int i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	redisReply *rep = command_argv(r, argc, argv, lens);
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(rep);
		argv[0] = "EVAL";
		argv[1] = scripts[idx];
		lens[0] = 4;
		lens[1] = strlen(scripts[idx]);
		rep = command_argv(r, argc, argv, lens);
	}
	if (rep == NULL) {
		down(r, err);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The limiter (Redis) refused a script: %.200s", rep->str);
		snprintf(r->problem, sizeof r->problem, "redis: %.200s", rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	r->problem[0] = '\0';
	return rep;
}

static int64_t reply_int(const redisReply *e)
{
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type == REDIS_REPLY_STRING)
		return strtoll(e->str, NULL, 10);
	return 0;
}

static bool redis_ready(ss_limiter *lim);

/* A key's hash: its GCRA time and its count of a day. */
static void key_of(char *buf, size_t len, int64_t key_id)
{
	snprintf(buf, len, PREFIX "k:%lld", (long long)key_id);
}

static int redis_admit(ss_limiter *lim, int64_t key_id, int rate, int burst, int64_t daily, uint64_t seen,
		       ss_limiter_decision *d, ss_error *err)
{
	redis_impl *r = impl_of(lim);
	memset(d, 0, sizeof *d);
	char kkey[64], a_rate[16], a_burst[16], a_daily[24], a_gen[24];
	key_of(kkey, sizeof kkey, key_id);
	snprintf(a_rate, sizeof a_rate, "%d", rate);
	snprintf(a_burst, sizeof a_burst, "%d", burst);
	snprintf(a_daily, sizeof a_daily, "%lld", (long long)daily);
	snprintf(a_gen, sizeof a_gen, "%llu", (unsigned long long)seen);
	redisReply *rep = run(lim, SCRIPT_ADMIT, 2, (const char *[]){PREFIX "gen", kkey}, 4,
			      (const char *[]){a_rate, a_burst, a_daily, a_gen}, err);
	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 7) {
		freeReplyObject(rep);
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The limiter (Redis) answered the admit script oddly.");
	}
	int64_t v = reply_int(rep->element[0]);
	d->verdict = v == 0 ? SS_LIMITER_ALLOWED
		     : v == 1 ? SS_LIMITER_RATE_LIMITED
		     : v == 2 ? SS_LIMITER_DAILY_LIMITED
			      : SS_LIMITER_STALE;
	d->limit = rate;
	d->remaining = (int)reply_int(rep->element[1]);
	d->reset_s = (int)reply_int(rep->element[2]);
	d->retry_after_s = (int)reply_int(rep->element[3]);
	d->day_count = reply_int(rep->element[4]);
	d->generation = rep->element[5]->type == REDIS_REPLY_STRING ? strtoull(rep->element[5]->str, NULL, 10) : 0;
	int64_t day = reply_int(rep->element[6]);
	freeReplyObject(rep);
	r->generation = d->generation;
	if (day != r->day) {
		r->day = day; /* a new server day: has it been seeded? (next ready) */
		if (r->seeded_day != day)
			(void)redis_ready(lim);
	}
	if (d->retry_after_s < 1 && (d->verdict == SS_LIMITER_RATE_LIMITED || d->verdict == SS_LIMITER_DAILY_LIMITED))
		d->retry_after_s = 1;
	return 0;
}

/* Keys of an address: the address text itself (REMOTE_ADDR), cut to a bound. */
static void addr_key(char *buf, size_t len, const char *addr)
{
	snprintf(buf, len, PREFIX "a:%.64s", addr);
}

static int redis_authfail_blocked(ss_limiter *lim, const char *addr, int per_min, int *retry, ss_error *err)
{
	char key[96], a[16];
	addr_key(key, sizeof key, addr);
	snprintf(a, sizeof a, "%d", per_min);
	redisReply *rep = run(lim, SCRIPT_BLOCKED, 1, (const char *[]){key}, 1, (const char *[]){a}, err);
	if (rep == NULL)
		return -1;
	int64_t s = reply_int(rep);
	freeReplyObject(rep);
	if (s <= 0)
		return 0;
	*retry = (int)s;
	return 1;
}

static int redis_authfail_record(ss_limiter *lim, const char *addr, int per_min, ss_error *err)
{
	char key[96], a[16];
	addr_key(key, sizeof key, addr);
	snprintf(a, sizeof a, "%d", per_min);
	redisReply *rep = run(lim, SCRIPT_RECORD, 1, (const char *[]){key}, 1, (const char *[]){a}, err);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

static int64_t redis_day_count(ss_limiter *lim, int64_t key_id, ss_error *err)
{
	char kkey[64];
	key_of(kkey, sizeof kkey, key_id);
	redisReply *rep = run(lim, SCRIPT_DAY_COUNT, 1, (const char *[]){kkey}, 0, NULL, err);
	if (rep == NULL)
		return -1;
	int64_t n = reply_int(rep);
	freeReplyObject(rep);
	return n;
}

static int redis_seed_day(ss_limiter *lim, int64_t key_id, int64_t day, int64_t count, ss_error *err)
{
	char kkey[64], d[24], c[24];
	key_of(kkey, sizeof kkey, key_id);
	snprintf(d, sizeof d, "%lld", (long long)day);
	snprintf(c, sizeof c, "%lld", (long long)count);
	redisReply *rep = run(lim, SCRIPT_SEED, 1, (const char *[]){kkey}, 2, (const char *[]){d, c}, err);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

static int redis_forget_key(ss_limiter *lim, int64_t key_id, ss_error *err)
{
	redis_impl *r = impl_of(lim);
	char kkey[64];
	key_of(kkey, sizeof kkey, key_id);
	if (!connect_now(lim))
		return down(r, err);
	redisReply *rep = command(r, 2, (const char *[]){"DEL", kkey});
	if (rep == NULL)
		return down(r, err);
	int rc = rep->type == REDIS_REPLY_ERROR ? ss_error_set(err, SS_ERR_UNAVAILABLE,
								"The limiter (Redis) refused DEL: %.200s", rep->str)
						: 0;
	freeReplyObject(rep);
	return rc;
}

static uint64_t redis_generation(ss_limiter *lim)
{
	return impl_of(lim)->generation;
}

static int redis_generation_sync(ss_limiter *lim, uint64_t *gen, ss_error *err)
{
	redis_impl *r = impl_of(lim);
	if (!connect_now(lim))
		return down(r, err);
	redisReply *rep = command(r, 2, (const char *[]){"GET", PREFIX "gen"});
	if (rep == NULL)
		return down(r, err);
	if (rep->type == REDIS_REPLY_ERROR) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "The limiter (Redis) refused GET: %.200s", rep->str);
		freeReplyObject(rep);
		return -1;
	}
	r->generation = rep->type == REDIS_REPLY_STRING ? strtoull(rep->str, NULL, 10) : 0;
	freeReplyObject(rep);
	*gen = r->generation;
	return 0;
}

static int redis_bump_generation(ss_limiter *lim, ss_error *err)
{
	redis_impl *r = impl_of(lim);
	if (!connect_now(lim))
		return down(r, err);
	redisReply *rep = command(r, 2, (const char *[]){"INCR", PREFIX "gen"});
	if (rep == NULL)
		return down(r, err);
	int rc = 0;
	if (rep->type != REDIS_REPLY_INTEGER)
		rc = ss_error_set(err, SS_ERR_UNAVAILABLE, "The limiter (Redis) refused INCR: %.200s",
				  rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
	else
		r->generation = (uint64_t)rep->integer;
	freeReplyObject(rep);
	return rc;
}

static int64_t redis_today(ss_limiter *lim)
{
	redis_impl *r = impl_of(lim);
	return r->day != 0 ? r->day : ss_state_day(ss_state_now_ns());
}

/* Connected, and today's counts seeded: the first process to find a day without its marker (an empty or
 * restarted server, or a new day) claims it (SET NX) and seeds from the caller's durable storage; counts
 * only ever rise, so requests admitted meanwhile are not lost. */
static bool redis_ready(ss_limiter *lim)
{
	redis_impl *r = impl_of(lim);
	if (!connect_now(lim))
		return false;
	int64_t day = redis_today(lim);
	if (r->seeded_day == day || lim->seed == NULL)
		return true;
	char key[64], ex[16];
	snprintf(key, sizeof key, PREFIX "seeded:%lld", (long long)day);
	snprintf(ex, sizeof ex, "%d", 172800);
	redisReply *rep = command(r, 6, (const char *[]){"SET", key, "1", "NX", "EX", ex});
	if (rep == NULL)
		return false;
	bool claimed = rep->type == REDIS_REPLY_STATUS;
	bool failed = rep->type == REDIS_REPLY_ERROR;
	freeReplyObject(rep);
	if (failed)
		return false;
	r->seeded_day = day;
	if (claimed)
		lim->seed(lim->seed_arg, lim, day);
	return r->c != NULL;
}

static bool redis_probe(ss_limiter *lim)
{
	redis_impl *r = impl_of(lim);
	if (!redis_ready(lim))
		return false;
	redisReply *rep = command(r, 1, (const char *[]){"PING"});
	if (rep == NULL)
		return false;
	bool ok = rep->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(r->problem, sizeof r->problem, "redis: PING answered %.200s",
			 rep->type == REDIS_REPLY_ERROR ? rep->str : "oddly");
	freeReplyObject(rep);
	return ok;
}

static const char *redis_problem(ss_limiter *lim)
{
	redis_impl *r = impl_of(lim);
	if (r->c != NULL && r->problem[0] == '\0')
		return NULL;
	return r->problem[0] != '\0' ? r->problem : "redis: not connected";
}

static void redis_close(ss_limiter *lim)
{
	redis_impl *r = impl_of(lim);
	if (r == NULL)
		return;
	if (r->c != NULL)
		redisFree(r->c);
	free(r->unix_path);
	free(r->host);
	free(r->password);
	free(r);
	lim->impl = NULL;
}

/* ---- shared service counters ----
 * counters:hosts is the set of host hashes; counters:h:HOST holds a host's counters (name -> largest value
 * published). KEYS: counters:h:HOST, counters:hosts. ARGV: name, value pairs. */
static const char lua_counters_publish[] =
	"redis.call('SADD', KEYS[2], KEYS[1])\n"
	"for i = 1, #ARGV, 2 do\n"
	"  local old = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')\n"
	"  if tonumber(ARGV[i + 1]) > old then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
	"end\n"
	"return 1\n";

static int redis_counters_publish(ss_limiter *lim, const char *host, const char *const *names,
				  const uint64_t *values, size_t n, ss_error *err)
{
	redis_impl *r = impl_of(lim);
	if (!connect_now(lim))
		return down(r, err);
	size_t argc = 5 + 2 * n;
	const char **argv = calloc(argc, sizeof *argv);
	size_t *lens = calloc(argc, sizeof *lens);
	char *nums = calloc(n > 0 ? n : 1, 24);
	char hkey[300];
	int rc = 0;
	if (argv == NULL || lens == NULL || nums == NULL) {
		rc = ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
		goto out;
	}
	snprintf(hkey, sizeof hkey, PREFIX "counters:h:%.200s", host);
	argv[0] = "EVAL";
	argv[1] = lua_counters_publish;
	argv[2] = "2";
	argv[3] = hkey;
	argv[4] = PREFIX "counters:hosts";
	for (size_t i = 0; i < n; i++) {
		snprintf(nums + 24 * i, 24, "%llu", (unsigned long long)values[i]);
		argv[5 + 2 * i] = names[i];
		argv[6 + 2 * i] = nums + 24 * i;
	}
	for (size_t i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	redisReply *rep = redisCommandArgv(r->c, (int)argc, argv, lens);
	if (rep == NULL) {
		disconnect(r, r->c->err != 0 ? r->c->errstr : "no reply");
		rc = down(r, err);
	} else {
		if (rep->type == REDIS_REPLY_ERROR)
			rc = ss_error_set(err, SS_ERR_UNAVAILABLE, "The limiter (Redis) refused the counters: %.200s",
					  rep->str);
		freeReplyObject(rep);
	}
out:
	free(argv);
	free(lens);
	free(nums);
	return rc;
}

static int redis_counters_total(ss_limiter *lim, ss_limiter_counter_fn fn, void *arg, ss_error *err)
{
	redis_impl *r = impl_of(lim);
	if (!connect_now(lim))
		return down(r, err);
	redisReply *hosts = command(r, 2, (const char *[]){"SMEMBERS", PREFIX "counters:hosts"});
	if (hosts == NULL)
		return down(r, err);
	int rc = 0;
	if (hosts->type != REDIS_REPLY_ARRAY) {
		rc = ss_error_set(err, SS_ERR_UNAVAILABLE, "The limiter (Redis) refused SMEMBERS: %.200s",
				  hosts->type == REDIS_REPLY_ERROR ? hosts->str : "unexpected reply");
		freeReplyObject(hosts);
		return rc;
	}
	/* One pipelined round trip for every host's hash; asked[i] is the host id of the i-th reply. */
	size_t sent = 0;
	const char **asked = calloc(hosts->elements > 0 ? hosts->elements : 1, sizeof *asked);
	if (asked == NULL) {
		freeReplyObject(hosts);
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	}
	const size_t plen = strlen(PREFIX "counters:h:");
	for (size_t i = 0; i < hosts->elements; i++) {
		const redisReply *h = hosts->element[i];
		if (h->type != REDIS_REPLY_STRING)
			continue;
		if (redisAppendCommand(r->c, "HGETALL %b", h->str, (size_t)h->len) != REDIS_OK) {
			rc = ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
			break;
		}
		asked[sent++] = strncmp(h->str, PREFIX "counters:h:", plen) == 0 ? h->str + plen : h->str;
	}
	for (size_t i = 0; i < sent; i++) {
		void *v = NULL;
		if (redisGetReply(r->c, &v) != REDIS_OK || v == NULL) {
			disconnect(r, r->c->err != 0 ? r->c->errstr : "no reply");
			rc = down(r, err);
			break;
		}
		redisReply *rep = v;
		if (rc == 0 && rep->type == REDIS_REPLY_ARRAY) {
			for (size_t k = 0; k + 1 < rep->elements; k += 2)
				if (rep->element[k]->type == REDIS_REPLY_STRING)
					fn(arg, asked[i], rep->element[k]->str,
					   (uint64_t)reply_int(rep->element[k + 1]));
		} else if (rc == 0) {
			rc = ss_error_set(err, SS_ERR_UNAVAILABLE, "The limiter (Redis) refused HGETALL: %.200s",
					  rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		}
		freeReplyObject(rep);
	}
	free(asked);
	freeReplyObject(hosts);
	return rc;
}

static const ss_limiter_ops redis_ops = {
	.name = "redis",
	.component = "redis",
	.close = redis_close,
	.ready = redis_ready,
	.probe = redis_probe,
	.problem = redis_problem,
	.admit = redis_admit,
	.authfail_blocked = redis_authfail_blocked,
	.authfail_record = redis_authfail_record,
	.day_count = redis_day_count,
	.seed_day = redis_seed_day,
	.forget_key = redis_forget_key,
	.generation = redis_generation,
	.generation_sync = redis_generation_sync,
	.bump_generation = redis_bump_generation,
	.today = redis_today,
	.counters_publish = redis_counters_publish,
	.counters_total = redis_counters_total,
};

int ss_limiter_redis_init(ss_limiter *lim, const ss_config *cfg, ss_error *err)
{
	lim->ops = &redis_ops;
	/* Writing to a server that went away raises SIGPIPE: a process that kept the default (killed) is given
	 * SIG_IGN, so a dead server is an error return, never a dead process. */
	struct sigaction old;
	if (sigaction(SIGPIPE, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	redis_impl *r = calloc(1, sizeof *r);
	if (r == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	lim->impl = r;
	r->db = cfg->redis_db;
	int ms = cfg->redis_timeout_ms > 0 ? cfg->redis_timeout_ms : 500;
	r->timeout.tv_sec = ms / 1000;
	r->timeout.tv_usec = (ms % 1000) * 1000;
	if (strncmp(cfg->redis, "unix:", 5) == 0) {
		if ((r->unix_path = strdup(cfg->redis + 5)) == NULL)
			return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	} else {
		const char *colon = strrchr(cfg->redis, ':');
		char *end = NULL;
		long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
		if (colon == NULL || colon == cfg->redis || end == colon + 1 || *end != '\0' || port < 1 ||
		    port > 65535)
			return ss_error_set(err, SS_ERR_CONFIG, "'redis' must be unix:PATH or HOST:PORT, not '%.200s'.",
					    cfg->redis);
		if ((r->host = strndup(cfg->redis, (size_t)(colon - cfg->redis))) == NULL)
			return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
		r->port = (int)port;
	}
	if (cfg->redis_password[0] != '\0' && (r->password = strdup(cfg->redis_password)) == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
	snprintf(r->problem, sizeof r->problem, "redis: not connected yet");
	return 0;
}
