#include "core/limits/state.h"

#include <limits.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/limits/shm.h"

#define PROBE 64 /* open-addressing window */

/* A slot's key_id: 0 = never used (ends a probe), -1 = free again (does not end a probe), > 0 = a key. */
typedef struct key_slot {
	int64_t key_id;
	int64_t tat_ns; /* GCRA: earliest time of the key's next request (TAT minus the burst tolerance), so it
			 * stays within one emission interval of now whatever the burst; 0 = fresh */
	int64_t day;    /* UTC day `count` belongs to */
	int64_t count;  /* requests counted on `day` */
} key_slot;

typedef struct addr_slot {
	uint64_t hash; /* keyed hash of the address; 0 = never used */
	int64_t tat_ns;
} addr_slot;

/* The payload of the shared-memory file (core/limits/shm.h owns the header, the lock and the repair logic). */
typedef struct state_tables {
	unsigned char addr_hash_key[16];
	alignas(64) uint64_t key_generation;
	alignas(64) uint64_t counter[SS_STATE_COUNTERS];
	alignas(64) int32_t responder_pid[SS_STATE_RESPONDERS];
	alignas(64) key_slot keys[SS_STATE_KEY_SLOTS];
	alignas(64) addr_slot addrs[SS_STATE_ADDR_SLOTS];
} state_tables;

_Static_assert((SS_STATE_KEY_SLOTS & (SS_STATE_KEY_SLOTS - 1)) == 0, "key slots: a power of two");
_Static_assert((SS_STATE_ADDR_SLOTS & (SS_STATE_ADDR_SLOTS - 1)) == 0, "address slots: a power of two");
_Static_assert(PROBE <= SS_STATE_KEY_SLOTS && PROBE <= SS_STATE_ADDR_SLOTS, "probe window fits the tables");

struct ss_state {
	ss_shm *shm;
	state_tables *f; /* the payload of shm */
	bool registered;
	pid_t pid;
	ss_state_seed_fn seed; /* while opening: the caller's seed callback */
	void *seed_arg;
};

int64_t ss_state_now_ns(void)
{
	return ss_shm_now_ns();
}

int64_t ss_state_day(int64_t now_ns)
{
	int64_t s = now_ns / 1000000000LL;
	if (now_ns < 0 && now_ns % 1000000000LL != 0)
		s--;
	int64_t d = s / 86400;
	if (s < 0 && s % 86400 != 0)
		d--;
	return d;
}

/* ---- the tables' layout callbacks ---- */

static void tables_init(void *payload)
{
	state_tables *f = payload;
	randombytes_buf(f->addr_hash_key, sizeof f->addr_hash_key);
}

/* Make the tables consistent after a process died holding the lock (or after an open found the lock free).
 * Every update is written so that any prefix of its stores is a valid state; this only clamps values a
 * torn or garbage write could leave. */
static void tables_repair(void *payload, int64_t now)
{
	state_tables *f = payload;
	int64_t today = ss_state_day(now);
	for (unsigned i = 0; i < SS_STATE_KEY_SLOTS; i++) {
		key_slot *s = &f->keys[i];
		if (s->key_id < -1)
			s->key_id = -1;
		if (s->count < 0)
			s->count = 0;
		if (s->day > today + 1 || s->day < 0)
			s->day = today, s->count = 0;
		if (s->tat_ns < 0)
			s->tat_ns = 0;
		if (s->tat_ns > now + SS_STATE_PERIOD_NS)
			s->tat_ns = now + SS_STATE_PERIOD_NS;
	}
	for (unsigned i = 0; i < SS_STATE_ADDR_SLOTS; i++) {
		addr_slot *a = &f->addrs[i];
		if (a->tat_ns < 0 || a->tat_ns > now + SS_STATE_PERIOD_NS)
			a->tat_ns = now;
	}
}

static const ss_shm_layout tables_layout = {
	.magic = {'S', 'S', 'S', 'T', 'A', 'T', 'E', '1'},
	.version = 3, /* 2: one struct with the header; 3: the header split out into core/limits/shm.c */
	.payload_size = sizeof(state_tables),
	.init = tables_init,
	.repair = tables_repair,
};

/* ---- open and close ---- */

static bool broken(const ss_state *st)
{
	return ss_shm_is_broken(st->shm);
}

static int unusable(ss_state *st, ss_error *err)
{
	return ss_shm_unusable(st->shm, err);
}

static int state_lock(ss_state *st, ss_error *err)
{
	return ss_shm_lock(st->shm, err);
}

static int state_unlock(ss_state *st, ss_error *err)
{
	return ss_shm_unlock(st->shm, err);
}

static ss_state *state_new(ss_error *err)
{
	if (sodium_init() < 0) {
		ss_error_set(err, SS_ERR_INTERNAL, "libsodium cannot be initialised.");
		return NULL;
	}
	ss_state *st = calloc(1, sizeof *st);
	if (st == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "Out of memory.");
		return NULL;
	}
	st->pid = getpid();
	return st;
}

/* The shm module built a new file: let the caller's seed fill it through this ss_state. */
static void seed_tables(void *arg, ss_shm *shm)
{
	ss_state *st = arg;
	st->shm = shm;
	st->f = ss_shm_payload(shm);
	if (st->seed != NULL)
		st->seed(st->seed_arg, st); /* best effort: a failed seed leaves today's counts at zero */
}

int ss_state_open(const char *path, ss_state_seed_fn seed, void *seed_arg, ss_state **out, ss_error *err)
{
	*out = NULL;
	ss_state *st = state_new(err);
	if (st == NULL)
		return -1;
	st->seed = seed;
	st->seed_arg = seed_arg;
	if (ss_shm_open(path, &tables_layout, seed_tables, st, &st->shm, err) != 0) {
		free(st);
		return -1;
	}
	st->seed = NULL;
	st->seed_arg = NULL;
	st->f = ss_shm_payload(st->shm);
	*out = st;
	return 0;
}

int ss_state_attach(const char *path, ss_state **out, ss_error *err)
{
	*out = NULL;
	ss_state *st = state_new(err);
	if (st == NULL)
		return -1;
	if (ss_shm_attach(path, &tables_layout, &st->shm, err) != 0) {
		free(st);
		return -1;
	}
	st->f = ss_shm_payload(st->shm);
	*out = st;
	return 0;
}

void ss_state_close(ss_state *st)
{
	if (st == NULL)
		return;
	if (st->registered && st->pid == getpid() && !broken(st)) {
		for (unsigned i = 0; i < SS_STATE_RESPONDERS; i++) {
			int32_t expect = (int32_t)st->pid;
			if (__atomic_compare_exchange_n(&st->f->responder_pid[i], &expect, 0, false, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				break;
		}
	}
	ss_shm_close(st->shm);
	free(st);
}

bool ss_state_is_usable(const ss_state *st)
{
	return ss_shm_is_usable(st->shm);
}

bool ss_state_is_broken(const ss_state *st)
{
	return broken(st);
}

bool ss_state_is_current(const ss_state *st)
{
	return ss_shm_is_current(st->shm);
}

const char *ss_state_problem(ss_state *st)
{
	return ss_shm_problem(st->shm);
}

bool ss_state_was_created(const ss_state *st)
{
	return ss_shm_was_created(st->shm);
}

const char *ss_state_built_reason(const ss_state *st)
{
	return ss_shm_built_reason(st->shm);
}

bool ss_state_rebuild_info(const ss_state *st, int64_t *at_ns, char *reason, size_t len)
{
	return ss_shm_rebuild_info(st->shm, at_ns, reason, len);
}

bool ss_state_lock_holder(const ss_state *st, pid_t *pid, int64_t *held_ms)
{
	return ss_shm_lock_holder(st->shm, pid, held_ms);
}

/* ---- per-key slots (caller holds the lock) ---- */

static unsigned key_home(int64_t key_id)
{
	return (unsigned)(((uint64_t)key_id * 0x9E3779B97F4A7C15ULL) >> 40) & (SS_STATE_KEY_SLOTS - 1);
}

static key_slot *key_find(state_tables *f, int64_t key_id)
{
	unsigned h = key_home(key_id);
	for (unsigned i = 0; i < PROBE; i++) {
		key_slot *s = &f->keys[(h + i) & (SS_STATE_KEY_SLOTS - 1)];
		if (s->key_id == key_id)
			return s;
		if (s->key_id == 0)
			return NULL;
	}
	return NULL;
}

/* Find key_id's slot or claim one: a never-used or freed slot, or one whose state has expired (counter
 * from an earlier day and limiter fully recovered — forgetting it changes nothing). */
static key_slot *key_claim(state_tables *f, int64_t key_id, int64_t now, int64_t today)
{
	unsigned h = key_home(key_id);
	key_slot *reuse = NULL;
	for (unsigned i = 0; i < PROBE; i++) {
		key_slot *s = &f->keys[(h + i) & (SS_STATE_KEY_SLOTS - 1)];
		if (s->key_id == key_id)
			return s;
		if (s->key_id == 0) {
			if (reuse == NULL)
				reuse = s;
			break;
		}
		if (reuse == NULL && (s->key_id == -1 || (s->day != today && s->tat_ns <= now)))
			reuse = s;
	}
	if (reuse == NULL)
		return NULL;
	/* Fields first, id last: a prefix of these stores leaves either the old (expired) state or a fresh one. */
	reuse->tat_ns = 0;
	reuse->count = 0;
	reuse->day = today;
	reuse->key_id = key_id;
	return reuse;
}

static int ceil_s(int64_t ns)
{
	if (ns <= 0)
		return 0;
	int64_t s = (ns + 999999999LL) / 1000000000LL;
	return s > INT_MAX ? INT_MAX : (int)s;
}

/* Requests a key could make at `now` without waiting, given its next-request time s (see key_slot). */
static int allowance(int64_t s, int64_t now, int64_t tau, int64_t T)
{
	if (s > now)
		return 0;
	int64_t base = s > now - tau ? s : now - tau;
	return (int)((now - base) / T) + 1;
}

int ss_state_acquire(ss_state *st, int64_t key_id, int rate_per_min, int burst, int64_t daily_limit, int64_t now,
		     ss_state_decision *d, ss_error *err)
{
	memset(d, 0, sizeof *d);
	if (rate_per_min < 1)
		rate_per_min = 1;
	if (burst < 0)
		burst = 0;
	const int64_t P = SS_STATE_PERIOD_NS;
	/* Emission interval rounded up, so that rate * T >= P: then no 60 s window holds more than rate + burst. */
	const int64_t T = (P + rate_per_min - 1) / rate_per_min;
	if (burst > SS_STATE_MAX_TOLERANCE_NS / T)
		burst = (int)(SS_STATE_MAX_TOLERANCE_NS / T);
	const int64_t tau = (int64_t)burst * T;
	const int64_t today = ss_state_day(now);
	d->limit = rate_per_min;

	if (state_lock(st, err) != 0)
		return -1;
	key_slot *s = key_claim(st->f, key_id, now, today);
	if (s == NULL) {
		if (state_unlock(st, err) != 0)
			return -1;
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file's key table is full.");
	}
	int64_t next = s->tat_ns;
	if (next > now + P) /* the clock went back: never hold a key longer than one period */
		next = now + P;
	int64_t count = s->day == today ? s->count : 0;

	if (daily_limit > 0 && count >= daily_limit) {
		d->verdict = SS_STATE_DAILY_LIMITED;
		int64_t midnight = (today + 1) * 86400LL * 1000000000LL;
		d->retry_after_s = ceil_s(midnight - now);
		d->remaining = allowance(next, now, tau, T);
		d->reset_s = ceil_s(next + tau - now);
	} else if (next > now) {
		d->verdict = SS_STATE_RATE_LIMITED;
		d->retry_after_s = ceil_s(next - now);
		d->remaining = 0;
		d->reset_s = ceil_s(next + tau - now);
	} else {
		d->verdict = SS_STATE_ALLOWED;
		next = (next > now - tau ? next : now - tau) + T;
		/* count before next: a prefix counts a request the dead process may not have served (safe side). */
		s->day = today;
		s->count = ++count;
		s->tat_ns = next;
		d->remaining = allowance(next, now, tau, T);
		d->reset_s = ceil_s(next + tau - now);
	}
	if (state_unlock(st, err) != 0) {
		memset(d, 0, sizeof *d);
		return -1;
	}
	if (d->retry_after_s < 1 && d->verdict != SS_STATE_ALLOWED)
		d->retry_after_s = 1;
	d->day_count = count;
	return 0;
}

int64_t ss_state_day_count(ss_state *st, int64_t key_id, int64_t now)
{
	ss_error err;
	if (state_lock(st, &err) != 0)
		return -1;
	key_slot *s = key_find(st->f, key_id);
	int64_t c = (s != NULL && s->day == ss_state_day(now)) ? s->count : 0;
	if (state_unlock(st, &err) != 0)
		return -1;
	return c;
}

int ss_state_seed_day(ss_state *st, int64_t key_id, int64_t day, int64_t count, ss_error *err)
{
	if (key_id <= 0 || count < 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "Bad seed for key %lld.", (long long)key_id);
	int64_t now = ss_state_now_ns();
	if (state_lock(st, err) != 0)
		return -1;
	key_slot *s = key_claim(st->f, key_id, now, day);
	if (s == NULL) {
		if (state_unlock(st, err) != 0)
			return -1;
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "The shared state file's key table is full.");
	}
	if (s->day != day) {
		s->count = 0;
		s->day = day;
	}
	if (s->count < count)
		s->count = count;
	return state_unlock(st, err);
}

int ss_state_forget_key(ss_state *st, int64_t key_id, ss_error *err)
{
	if (state_lock(st, err) != 0)
		return -1;
	key_slot *s = key_find(st->f, key_id);
	if (s != NULL)
		s->key_id = -1;
	return state_unlock(st, err);
}

/* ---- per-address slots ---- */

static uint64_t addr_hash(const state_tables *f, const char *addr)
{
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, (const unsigned char *)addr, strlen(addr), f->addr_hash_key);
	uint64_t h;
	memcpy(&h, out, sizeof h);
	return h == 0 ? 1 : h;
}

static addr_slot *addr_find(state_tables *f, uint64_t h, bool claim, int64_t now)
{
	unsigned home = (unsigned)(h >> 40) & (SS_STATE_ADDR_SLOTS - 1);
	addr_slot *reuse = NULL, *oldest = NULL;
	for (unsigned i = 0; i < PROBE; i++) {
		addr_slot *a = &f->addrs[(home + i) & (SS_STATE_ADDR_SLOTS - 1)];
		if (a->hash == h)
			return a;
		if (a->hash == 0) {
			if (reuse == NULL)
				reuse = a;
			break;
		}
		if (reuse == NULL && a->tat_ns <= now)
			reuse = a;
		if (oldest == NULL || a->tat_ns < oldest->tat_ns)
			oldest = a;
	}
	if (!claim)
		return NULL;
	if (reuse == NULL)
		reuse = oldest; /* full of live entries: forget the one closest to recovery */
	reuse->tat_ns = now;
	reuse->hash = h;
	return reuse;
}

int ss_state_authfail_blocked(ss_state *st, const char *addr, int per_min, int64_t now, int *retry_after_s,
			      ss_error *err)
{
	*retry_after_s = 0;
	if (per_min < 1)
		per_min = 1;
	const int64_t P = SS_STATE_PERIOD_NS, T = P / per_min;
	if (broken(st))
		return unusable(st, err);
	uint64_t h = addr_hash(st->f, addr);
	if (state_lock(st, err) != 0)
		return -1;
	addr_slot *a = addr_find(st->f, h, false, now);
	int64_t tat = a != NULL ? a->tat_ns : now;
	if (state_unlock(st, err) != 0)
		return -1;
	if (tat < now)
		tat = now;
	if (tat + T - now > P) {
		*retry_after_s = ceil_s(tat + T - now - P);
		if (*retry_after_s < 1)
			*retry_after_s = 1;
		return 1;
	}
	return 0;
}

int ss_state_authfail_record(ss_state *st, const char *addr, int per_min, int64_t now, ss_error *err)
{
	if (per_min < 1)
		per_min = 1;
	const int64_t P = SS_STATE_PERIOD_NS, T = P / per_min;
	if (broken(st))
		return unusable(st, err);
	uint64_t h = addr_hash(st->f, addr);
	if (state_lock(st, err) != 0)
		return -1;
	addr_slot *a = addr_find(st->f, h, true, now);
	int64_t tat = a->tat_ns < now ? now : a->tat_ns;
	tat += T;
	if (tat > now + P + T)
		tat = now + P + T;
	a->tat_ns = tat;
	return state_unlock(st, err);
}

/* ---- generation, counters, responders ---- */

uint64_t ss_state_key_generation(const ss_state *st)
{
	if (broken(st))
		return 0;
	return __atomic_load_n(&st->f->key_generation, __ATOMIC_ACQUIRE);
}

uint64_t ss_state_bump_key_generation(ss_state *st)
{
	if (broken(st))
		return 0;
	return __atomic_add_fetch(&st->f->key_generation, 1, __ATOMIC_ACQ_REL);
}

uint64_t ss_state_counter_add(ss_state *st, unsigned idx, uint64_t delta)
{
	if (idx >= SS_STATE_COUNTERS || broken(st))
		return 0;
	return __atomic_add_fetch(&st->f->counter[idx], delta, __ATOMIC_RELAXED);
}

uint64_t ss_state_counter_get(const ss_state *st, unsigned idx)
{
	if (idx >= SS_STATE_COUNTERS || broken(st))
		return 0;
	return __atomic_load_n(&st->f->counter[idx], __ATOMIC_RELAXED);
}

void ss_state_counter_set(ss_state *st, unsigned idx, uint64_t v)
{
	if (idx < SS_STATE_COUNTERS && !broken(st))
		__atomic_store_n(&st->f->counter[idx], v, __ATOMIC_RELAXED);
}

int ss_state_register_responder(ss_state *st, ss_error *err)
{
	if (st->registered && st->pid == getpid())
		return 0;
	if (broken(st))
		return unusable(st, err);
	st->pid = getpid();
	int32_t me = (int32_t)st->pid;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < SS_STATE_RESPONDERS; i++) {
			int32_t *p = &st->f->responder_pid[i];
			int32_t cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);
			if (cur == me) {
				st->registered = true;
				return 0;
			}
			if (cur == 0 || (pass == 1 && !ss_shm_pid_alive(cur))) {
				if (__atomic_compare_exchange_n(p, &cur, me, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
					st->registered = true;
					return 0;
				}
			}
		}
	}
	return ss_error_set(err, SS_ERR_UNAVAILABLE, "The state file's responder table is full.");
}

int ss_state_responders_alive(ss_state *st)
{
	int n = 0;
	for (unsigned i = 0; i < SS_STATE_RESPONDERS && !broken(st); i++) {
		int32_t *p = &st->f->responder_pid[i];
		int32_t cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);
		if (cur == 0)
			continue;
		if (ss_shm_pid_alive(cur))
			n++;
		else
			__atomic_compare_exchange_n(p, &cur, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	}
	return n;
}

/* ---- diagnostics ---- */

int ss_state_test_lock_and_hold(ss_state *st)
{
	ss_error err;
	if (state_lock(st, &err) != 0)
		return -1;
	/* Leave a torn-looking slot behind, as a process killed mid-update could. */
	st->f->keys[0].count = -5;
	return 0;
}

uint64_t ss_state_repairs(const ss_state *st)
{
	return ss_shm_repairs(st->shm);
}

int ss_state_check(ss_state *st, ss_error *err)
{
	if (state_lock(st, err) != 0)
		return -1;
	int64_t now = ss_state_now_ns();
	int rc = 0;
	for (unsigned i = 0; i < SS_STATE_KEY_SLOTS && rc == 0; i++) {
		const key_slot *s = &st->f->keys[i];
		if (s->key_id < -1 || s->count < 0 || s->tat_ns < 0 || s->tat_ns > now + SS_STATE_PERIOD_NS)
			rc = ss_error_set(err, SS_ERR_INTERNAL, "Key slot %u is inconsistent.", i);
		else if (s->key_id > 0 && key_find(st->f, s->key_id) != s)
			rc = ss_error_set(err, SS_ERR_INTERNAL, "Key %lld is in slot %u twice or unreachable.",
					  (long long)s->key_id, i);
	}
	if (state_unlock(st, rc == 0 ? err : NULL) != 0)
		return -1;
	return rc;
}
