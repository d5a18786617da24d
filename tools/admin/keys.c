/* songscope-admin keys ...: create, list, show, activate/deactivate, limit, rate, scope, rotate, delete (keys import
 * is in legacy.c). Every change bumps the key-change generation in the shared state file so that every responder
 * drops its cached key lookups on its next request. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/limits/limiter.h"
#include "core/limits/state.h"
#include "core/util/jsonutil.h"
#include "core/util/strnum.h"
#include "core/util/utf8.h"
#include "tools/admin/admin.h"

typedef admin_opts opts;

/* This run's configuration and database (set by admin_cmd_keys). */
static const ss_config *cfg;
static ss_store *db;

static json_object *record_json(const ss_key_record *r)
{
	json_object *o = json_object_new_object();
	if (o == NULL)
		return NULL;
	ss_json_add_int(o, "id", r->id);
	ss_json_add_string(o, "name", r->name);
	if (r->email[0])
		ss_json_add_string(o, "email", r->email);
	else
		json_object_object_add(o, "email", NULL);
	ss_json_add_string(o, "prefix", r->prefix);
	ss_json_add_string(o, "scope", ss_key_scope_name(r->scope));
	ss_json_add_bool(o, "active", r->active);
	ss_json_add_int(o, "daily_limit", r->daily_limit);
	ss_json_add_int(o, "rate_limit", r->rate_limit);
	ss_json_add_string(o, "created_at", r->created_at);
	if (r->last_used[0])
		ss_json_add_string(o, "last_used", r->last_used);
	else
		json_object_object_add(o, "last_used", NULL);
	return o;
}

/* The record as a terminal shows it: control characters in its name and email (earlier releases stored them)
 * folded to spaces, so that a listing never carries an escape sequence or a forged line. --json keeps them,
 * escaped. */
static ss_key_record shown(const ss_key_record *in)
{
	ss_key_record r = *in;
	ss_utf8_fold_controls(r.name);
	ss_utf8_fold_controls(r.email);
	return r;
}

static void print_record_text(const ss_key_record *in)
{
	ss_key_record s = shown(in), *r = &s;
	printf("id:          %lld\n", (long long)r->id);
	printf("name:        %s\n", r->name);
	printf("email:       %s\n", r->email[0] ? r->email : "-");
	printf("prefix:      %s\n", r->prefix);
	printf("scope:       %s\n", ss_key_scope_name(r->scope));
	printf("active:      %s\n", r->active ? "yes" : "no");
	printf("daily_limit: %lld%s\n", (long long)r->daily_limit, r->daily_limit == 0 ? " (unlimited)" : "");
	printf("rate_limit:  %lld%s\n", (long long)r->rate_limit, r->rate_limit == 0 ? " (server default)" : "");
	printf("created_at:  %s\n", r->created_at);
	printf("last_used:   %s\n", r->last_used[0] ? r->last_used : "never");
}

static int seed_row(void *arg, int64_t key_id, int64_t count)
{
	ss_limiter *lim = ((void **)arg)[0];
	const int64_t *day = ((void **)arg)[1];
	ss_error err;
	ss_limiter_seed_day(lim, key_id, *day, count, &err);
	return 0;
}

/* Used if opening has to rebuild a broken or foreign state file (or Redis has no counts for today): today's
 * counts come from api_usage. */
static int seed_limiter(void *arg, ss_limiter *lim, int64_t day)
{
	ss_error err;
	void *pass[2] = {lim, &day};
	return ss_store_usage_day_counts(arg, day, seed_row, pass, &err);
}

/* The limiter the service uses, or NULL (a warning printed) when it cannot be opened. With limits = local and
 * no state file yet, NULL without a word: no responder has a cache to drop, and this tool must not create
 * the file (it may run as another user than the service, which could then not open it). */
static ss_limiter *open_limiter(const ss_config *c, ss_store *d, bool quiet)
{
	if (strcmp(c->limits, "local") == 0 && access(c->state_file, F_OK) != 0)
		return NULL;
	ss_limiter *lim = NULL;
	ss_error err;
	ss_error_clear(&err);
	if (ss_limiter_open_shared(c, seed_limiter, d, &lim, &err) != 0) {
		if (!quiet)
			fprintf(stderr, "songscope-admin: warning: %s\n", err.msg);
		return NULL;
	}
	return lim;
}

/* Tell every responder (of every host sharing the limiter) that keys changed, and optionally forget a deleted
 * key's limiter state. */
void admin_notify_key_change(const ss_config *c, ss_store *d, int64_t forget_id)
{
	ss_limiter *lim = open_limiter(c, d, false);
	if (lim == NULL) {
		if (strcmp(c->limits, "local") != 0 || access(c->state_file, F_OK) == 0)
			fprintf(stderr, "songscope-admin: warning: running responders will notice the change within "
					"key_cache_ttl (%d s)\n", c->key_cache_ttl);
		return;
	}
	ss_error err;
	ss_error_clear(&err);
	if (forget_id > 0 && ss_limiter_forget_key(lim, forget_id, &err) != 0)
		fprintf(stderr, "songscope-admin: warning: %s\n", err.msg);
	if (ss_limiter_bump_generation(lim, &err) != 0)
		fprintf(stderr,
			"songscope-admin: warning: %s; running responders will notice the change within "
			"key_cache_ttl (%d s)\n",
			err.msg, c->key_cache_ttl);
	ss_limiter_close(lim);
}

static int parse_id(const char *s, int64_t *id)
{
	if (s == NULL || ss_parse_i64(s, 1, INT64_MAX, id) != 0)
		return admin_usage_error("bad key id '%s' (a positive integer)", s ? s : "");
	return 0;
}

static int parse_limit(const char *s, const char *what, int64_t max, int64_t *v)
{
	if (ss_parse_i64(s, 0, max, v) != 0) {
		fprintf(stderr, "songscope-admin: bad %s '%s' (0..%lld)\n", what, s, (long long)max);
		return EXIT_USAGE;
	}
	return 0;
}

static int no_such_key(int64_t id)
{
	fprintf(stderr, "songscope-admin: no key with id %lld\n", (long long)id);
	return EXIT_FAIL;
}

static int show_new_key(const opts *o, int64_t id, const char *key, const char *what)
{
	ss_key_record r;
	ss_error err;
	if (ss_store_key_get(db, id, &r, &err) != 1)
		return admin_db_failed(&err);
	if (o->json) {
		json_object *j = record_json(&r);
		if (j == NULL)
			return EXIT_FAIL;
		ss_json_add_string(j, "key", key);
		admin_print_json(j);
	} else {
		print_record_text(&r);
		printf("\n%s key (shown once, store it now):\n%s\n", what, key);
	}
	return 0;
}

static int cmd_create(const opts *o)
{
	if (o->npos != 3)
		return admin_usage_error("%s", "keys create needs exactly one NAME");
	ss_key_scope scope = SS_KEY_CLIENT;
	int64_t daily = 0, rate = 0;
	if (o->scope && ss_key_scope_parse(o->scope, &scope) != 0)
		return admin_usage_error("bad scope '%s' (client or admin)", o->scope);
	if (o->daily && parse_limit(o->daily, "daily limit", INT64_MAX, &daily))
		return EXIT_USAGE;
	if (o->rate && parse_limit(o->rate, "rate limit", 1000000, &rate))
		return EXIT_USAGE;
	ss_key_record r;
	char key[SS_APIKEY_TEXT_MAX];
	ss_error err;
	if (ss_store_key_create(db, o->pos[2], o->email, scope, daily, rate, &r, key, &err) != 0)
		return admin_db_failed(&err);
	admin_notify_key_change(cfg, db, 0);
	return show_new_key(o, r.id, key, "New");
}

static int list_row(void *arg, const ss_key_record *r)
{
	json_object *arr = arg;
	if (arr != NULL) {
		json_object *j = record_json(r);
		if (j != NULL)
			json_object_array_add(arr, j);
	} else {
		ss_key_record s = shown(r);
		printf("%-5lld %-14s %-7s %-6s %11lld %7lld  %-19s  %s\n", (long long)s.id, s.prefix,
		       ss_key_scope_name(s.scope), s.active ? "yes" : "no", (long long)s.daily_limit,
		       (long long)s.rate_limit, s.last_used[0] ? s.last_used : "never", s.name);
	}
	return 0;
}

static int cmd_list(const opts *o)
{
	if (o->npos != 2)
		return admin_usage_error("%s", "keys list takes no arguments");
	ss_error err;
	json_object *arr = NULL;
	if (o->json && (arr = json_object_new_array()) == NULL)
		return EXIT_FAIL;
	if (!o->json)
		printf("%-5s %-14s %-7s %-6s %11s %7s  %-19s  %s\n", "ID", "PREFIX", "SCOPE", "ACTIVE", "DAILY_LIMIT",
		       "RATE", "LAST_USED", "NAME");
	if (ss_store_key_list(db, list_row, arr, &err) != 0) {
		json_object_put(arr);
		return admin_db_failed(&err);
	}
	if (arr != NULL)
		admin_print_json(arr);
	return 0;
}

static int recent_row(void *arg, const char *endpoint, int status, const char *ts)
{
	json_object *arr = arg;
	if (arr != NULL) {
		json_object *j = json_object_new_object();
		if (j == NULL)
			return 1;
		ss_json_add_string(j, "endpoint", endpoint);
		ss_json_add_int(j, "status", status);
		ss_json_add_string(j, "timestamp", ts);
		json_object_array_add(arr, j);
	} else {
		printf("  %s  %3d  %s\n", ts, status, endpoint);
	}
	return 0;
}

static int cmd_show(const opts *o)
{
	int64_t id;
	if (o->npos != 3)
		return admin_usage_error("%s", "keys show needs an ID");
	if (parse_id(o->pos[2], &id))
		return EXIT_USAGE;
	ss_key_record r;
	ss_error err;
	int f = ss_store_key_get(db, id, &r, &err);
	if (f < 0)
		return admin_db_failed(&err);
	if (f == 0)
		return no_such_key(id);
	int64_t now = ss_state_now_ns();
	ss_usage_stats s;
	if (ss_store_usage_key_stats(db, id, ss_state_day(now), &s, &err) != 0)
		return admin_db_failed(&err);
	int64_t quota_used = -1;
	ss_limiter *lim = open_limiter(cfg, db, true);
	if (lim != NULL) {
		quota_used = ss_limiter_day_count(lim, id, &err);
		ss_limiter_close(lim);
	}
	if (o->json) {
		json_object *j = record_json(&r), *recent = json_object_new_array();
		if (j == NULL || recent == NULL) {
			json_object_put(j);
			json_object_put(recent);
			return EXIT_FAIL;
		}
		ss_json_add_int(j, "requests_today", s.requests_today);
		ss_json_add_int(j, "total_requests", s.total);
		ss_json_add_int(j, "successful_requests", s.successful);
		if (quota_used >= 0)
			ss_json_add_int(j, "quota_used_today", quota_used);
		if (ss_store_usage_recent(db, id, 10, recent_row, recent, &err) != 0) {
			json_object_put(j);
			json_object_put(recent);
			return admin_db_failed(&err);
		}
		json_object_object_add(j, "recent_requests", recent);
		admin_print_json(j);
		return 0;
	}
	print_record_text(&r);
	printf("requests_today:      %lld\n", (long long)s.requests_today);
	if (quota_used >= 0)
		printf("quota_used_today:    %lld\n", (long long)quota_used);
	printf("total_requests:      %lld\n", (long long)s.total);
	printf("successful_requests: %lld\n", (long long)s.successful);
	printf("last 10 requests:\n");
	if (ss_store_usage_recent(db, id, 10, recent_row, NULL, &err) != 0)
		return admin_db_failed(&err);
	return 0;
}

/* activate / deactivate / limit / rate / scope / delete: change, notify, print the result. */
static int cmd_change(const opts *o, const char *verb)
{
	bool needs_value = strcmp(verb, "limit") == 0 || strcmp(verb, "rate") == 0 || strcmp(verb, "scope") == 0;
	if (o->npos != (needs_value ? 4 : 3))
		return admin_usage_error(needs_value ? "keys %s needs an ID and a value" : "keys %s needs an ID", verb);
	int64_t id, v = 0;
	if (parse_id(o->pos[2], &id))
		return EXIT_USAGE;
	ss_key_scope scope = SS_KEY_CLIENT;
	if (strcmp(verb, "limit") == 0 && parse_limit(o->pos[3], "daily limit", INT64_MAX, &v))
		return EXIT_USAGE;
	if (strcmp(verb, "rate") == 0 && parse_limit(o->pos[3], "rate limit", 1000000, &v))
		return EXIT_USAGE;
	if (strcmp(verb, "scope") == 0 && ss_key_scope_parse(o->pos[3], &scope) != 0)
		return admin_usage_error("bad scope '%s' (client or admin)", o->pos[3]);

	ss_key_record before;
	ss_error err;
	int f = ss_store_key_get(db, id, &before, &err);
	if (f < 0)
		return admin_db_failed(&err);
	if (f == 0)
		return no_such_key(id);
	before = shown(&before); /* only its name is used below, in messages */
	if (strcmp(verb, "delete") == 0 && !o->yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "songscope-admin: deleting key %lld (%s) needs --yes\n", (long long)id, before.name);
			return EXIT_USAGE;
		}
		fprintf(stderr, "Delete key %lld (%s) and its usage history? [y/N] ", (long long)id, before.name);
		char line[16];
		if (fgets(line, sizeof line, stdin) == NULL || (line[0] != 'y' && line[0] != 'Y')) {
			fprintf(stderr, "not deleted\n");
			return EXIT_FAIL;
		}
	}

	int rc;
	if (strcmp(verb, "activate") == 0)
		rc = ss_store_key_set_active(db, id, true, &err);
	else if (strcmp(verb, "deactivate") == 0)
		rc = ss_store_key_set_active(db, id, false, &err);
	else if (strcmp(verb, "limit") == 0)
		rc = ss_store_key_set_daily_limit(db, id, v, &err);
	else if (strcmp(verb, "rate") == 0)
		rc = ss_store_key_set_rate_limit(db, id, v, &err);
	else if (strcmp(verb, "scope") == 0)
		rc = ss_store_key_set_scope(db, id, scope, &err);
	else
		rc = ss_store_key_delete(db, id, &err);
	if (rc < 0)
		return admin_db_failed(&err);
	if (rc == 0)
		return no_such_key(id);
	bool deleted = strcmp(verb, "delete") == 0;
	admin_notify_key_change(cfg, db, deleted ? id : 0);

	if (deleted) {
		if (o->json) {
			json_object *j = json_object_new_object();
			if (j == NULL)
				return EXIT_FAIL;
			ss_json_add_int(j, "id", id);
			ss_json_add_bool(j, "deleted", 1);
			admin_print_json(j);
		} else {
			printf("deleted key %lld (%s)\n", (long long)id, before.name);
		}
		return 0;
	}
	ss_key_record after;
	if (ss_store_key_get(db, id, &after, &err) != 1)
		return admin_db_failed(&err);
	if (o->json)
		admin_print_json(record_json(&after));
	else
		print_record_text(&after);
	return 0;
}

static int cmd_rotate(const opts *o)
{
	int64_t id;
	if (o->npos != 3)
		return admin_usage_error("%s", "keys rotate needs an ID");
	if (parse_id(o->pos[2], &id))
		return EXIT_USAGE;
	char key[SS_APIKEY_TEXT_MAX];
	ss_error err;
	int rc = ss_store_key_rotate(db, id, key, &err);
	if (rc < 0)
		return admin_db_failed(&err);
	if (rc == 0)
		return no_such_key(id);
	admin_notify_key_change(cfg, db, 0);
	return show_new_key(o, id, key, "Rotated");
}

int admin_cmd_keys(const admin_opts *o, const ss_config *c, ss_store *d)
{
	cfg = c;
	db = d;
	if (strcmp(o->pos[1], "create") == 0)
		return cmd_create(o);
	if (strcmp(o->pos[1], "list") == 0)
		return cmd_list(o);
	if (strcmp(o->pos[1], "show") == 0)
		return cmd_show(o);
	if (strcmp(o->pos[1], "rotate") == 0)
		return cmd_rotate(o);
	return cmd_change(o, o->pos[1]);
}
