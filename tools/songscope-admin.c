/* songscope-admin: manage API keys, inspect usage, check and migrate the database.
 * Every change to a key bumps the key-change generation in the shared state file so that every responder
 * drops its cached key lookups on its next request. Exit status: 0 done, 1 failure, 2 bad arguments or
 * unknown id. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/config/config.h"
#include "core/limits/state.h"
#include "core/store/db.h"
#include "core/store/keys.h"
#include "core/store/usage.h"
#include "core/util/jsonutil.h"
#include "core/util/strnum.h"
#include "core/util/timefmt.h"

#define DEFAULT_CONFIG SS_SYSCONFDIR "/songscope/songscope.conf"
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char USAGE[] =
	"usage: songscope-admin [--config FILE] COMMAND [--json]\n"
	"  keys create NAME [--email E] [--scope client|admin] [--daily-limit N] [--rate-limit N]\n"
	"  keys list\n"
	"  keys show ID\n"
	"  keys activate ID | keys deactivate ID\n"
	"  keys limit ID N          daily limit (0 = unlimited)\n"
	"  keys rate ID N           requests per minute (0 = server default)\n"
	"  keys scope ID client|admin\n"
	"  keys rotate ID           new secret, same record\n"
	"  keys delete ID [--yes]\n"
	"  usage [--days N]\n"
	"  db check | db migrate\n"
	"  state                    the shared state file: responders, lock holder, repairs, rebuilds\n"
	"--json prints machine-readable output. `keys create` and `keys rotate` show the key once.\n";

typedef struct opts {
	const char *config;
	const char *email;
	const char *scope;
	const char *daily;
	const char *rate;
	const char *days;
	bool json, yes;
	const char *pos[8];
	int npos;
} opts;

static ss_config cfg;
static ss_db *db;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "songscope-admin: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", USAGE);
	return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if (strcmp(a, "--yes") == 0) {
			o->yes = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(USAGE, stdout);
			exit(0);
		}
		if (strcmp(a, "--config") == 0)
			slot = &o->config;
		else if (strcmp(a, "--email") == 0)
			slot = &o->email;
		else if (strcmp(a, "--scope") == 0)
			slot = &o->scope;
		else if (strcmp(a, "--daily-limit") == 0)
			slot = &o->daily;
		else if (strcmp(a, "--rate-limit") == 0)
			slot = &o->rate;
		else if (strcmp(a, "--days") == 0)
			slot = &o->days;
		else if (a[0] == '-' && a[1] != '\0')
			return usage_error("unknown option %s", a);
		if (slot != NULL) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			*slot = argv[++i];
			continue;
		}
		if (o->npos >= (int)(sizeof o->pos / sizeof o->pos[0]))
			return usage_error("too many arguments (%s)", a);
		o->pos[o->npos++] = a;
	}
	return 0;
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

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

static void print_record_text(const ss_key_record *r)
{
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
	ss_error err;
	ss_state_seed_day(arg, key_id, ss_state_day(ss_state_now_ns()), count, &err);
	return 0;
}

/* Used if opening has to rebuild a broken or foreign state file: today's counts come from api_usage. */
static int seed_state(void *arg, ss_state *st)
{
	(void)arg;
	ss_error err;
	return ss_usage_day_counts(db, ss_state_day(ss_state_now_ns()), seed_row, st, &err);
}

/* Tell every responder that keys changed (and optionally forget a deleted key's limiter state). */
static void notify_key_change(int64_t forget_id)
{
	ss_state *st = NULL;
	ss_error err;
	ss_error_clear(&err);
	/* No state file: no responder has a cache to drop. Do not create one here (this tool may run as
	 * another user than the service, which could then not open it). */
	if (access(cfg.state_file, F_OK) != 0)
		return;
	if (ss_state_open(cfg.state_file, seed_state, NULL, &st, &err) != 0) {
		fprintf(stderr,
			"songscope-admin: warning: %s; running responders will notice the change within "
			"key_cache_ttl (%d s)\n",
			err.msg, cfg.key_cache_ttl);
		return;
	}
	if (forget_id > 0)
		ss_state_forget_key(st, forget_id, &err);
	ss_state_bump_key_generation(st);
	ss_state_close(st);
}

static int parse_id(const char *s, int64_t *id)
{
	if (s == NULL || ss_parse_i64(s, 1, INT64_MAX, id) != 0)
		return usage_error("bad key id '%s' (a positive integer)", s ? s : "");
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

static int db_failed(const ss_error *err)
{
	fprintf(stderr, "songscope-admin: %s\n", err->msg);
	return err->code == SS_ERR_BAD_REQUEST ? EXIT_USAGE : EXIT_FAIL;
}

static int show_new_key(const opts *o, int64_t id, const char *key, const char *what)
{
	ss_key_record r;
	ss_error err;
	if (ss_keys_get(db, id, &r, &err) != 1)
		return db_failed(&err);
	if (o->json) {
		json_object *j = record_json(&r);
		if (j == NULL)
			return EXIT_FAIL;
		ss_json_add_string(j, "key", key);
		print_json(j);
	} else {
		print_record_text(&r);
		printf("\n%s key (shown once, store it now):\n%s\n", what, key);
	}
	return 0;
}

static int cmd_create(const opts *o)
{
	if (o->npos != 3)
		return usage_error("%s", "keys create needs exactly one NAME");
	ss_key_scope scope = SS_KEY_CLIENT;
	int64_t daily = 0, rate = 0;
	if (o->scope && ss_key_scope_parse(o->scope, &scope) != 0)
		return usage_error("bad scope '%s' (client or admin)", o->scope);
	if (o->daily && parse_limit(o->daily, "daily limit", INT64_MAX, &daily))
		return EXIT_USAGE;
	if (o->rate && parse_limit(o->rate, "rate limit", 1000000, &rate))
		return EXIT_USAGE;
	ss_key_record r;
	char key[SS_APIKEY_TEXT_MAX];
	ss_error err;
	if (ss_keys_create(db, o->pos[2], o->email, scope, daily, rate, &r, key, &err) != 0)
		return db_failed(&err);
	notify_key_change(0);
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
		printf("%-5lld %-14s %-7s %-6s %11lld %7lld  %-19s  %s\n", (long long)r->id, r->prefix,
		       ss_key_scope_name(r->scope), r->active ? "yes" : "no", (long long)r->daily_limit,
		       (long long)r->rate_limit, r->last_used[0] ? r->last_used : "never", r->name);
	}
	return 0;
}

static int cmd_list(const opts *o)
{
	if (o->npos != 2)
		return usage_error("%s", "keys list takes no arguments");
	ss_error err;
	json_object *arr = NULL;
	if (o->json && (arr = json_object_new_array()) == NULL)
		return EXIT_FAIL;
	if (!o->json)
		printf("%-5s %-14s %-7s %-6s %11s %7s  %-19s  %s\n", "ID", "PREFIX", "SCOPE", "ACTIVE", "DAILY_LIMIT",
		       "RATE", "LAST_USED", "NAME");
	if (ss_keys_list(db, list_row, arr, &err) != 0) {
		json_object_put(arr);
		return db_failed(&err);
	}
	if (arr != NULL)
		print_json(arr);
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
		return usage_error("%s", "keys show needs an ID");
	if (parse_id(o->pos[2], &id))
		return EXIT_USAGE;
	ss_key_record r;
	ss_error err;
	int f = ss_keys_get(db, id, &r, &err);
	if (f < 0)
		return db_failed(&err);
	if (f == 0)
		return no_such_key(id);
	int64_t now = ss_state_now_ns();
	ss_usage_stats s;
	if (ss_usage_key_stats(db, id, ss_state_day(now), &s, &err) != 0)
		return db_failed(&err);
	int64_t quota_used = -1;
	ss_state *st = NULL;
	if (access(cfg.state_file, F_OK) == 0 && ss_state_open(cfg.state_file, seed_state, NULL, &st, &err) == 0) {
		quota_used = ss_state_day_count(st, id, now);
		ss_state_close(st);
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
		if (ss_usage_recent(db, id, 10, recent_row, recent, &err) != 0) {
			json_object_put(j);
			json_object_put(recent);
			return db_failed(&err);
		}
		json_object_object_add(j, "recent_requests", recent);
		print_json(j);
		return 0;
	}
	print_record_text(&r);
	printf("requests_today:      %lld\n", (long long)s.requests_today);
	if (quota_used >= 0)
		printf("quota_used_today:    %lld\n", (long long)quota_used);
	printf("total_requests:      %lld\n", (long long)s.total);
	printf("successful_requests: %lld\n", (long long)s.successful);
	printf("last 10 requests:\n");
	if (ss_usage_recent(db, id, 10, recent_row, NULL, &err) != 0)
		return db_failed(&err);
	return 0;
}

/* activate / deactivate / limit / rate / scope / delete: change, notify, print the result. */
static int cmd_change(const opts *o, const char *verb)
{
	bool needs_value = strcmp(verb, "limit") == 0 || strcmp(verb, "rate") == 0 || strcmp(verb, "scope") == 0;
	if (o->npos != (needs_value ? 4 : 3))
		return usage_error(needs_value ? "keys %s needs an ID and a value" : "keys %s needs an ID", verb);
	int64_t id, v = 0;
	if (parse_id(o->pos[2], &id))
		return EXIT_USAGE;
	ss_key_scope scope = SS_KEY_CLIENT;
	if (strcmp(verb, "limit") == 0 && parse_limit(o->pos[3], "daily limit", INT64_MAX, &v))
		return EXIT_USAGE;
	if (strcmp(verb, "rate") == 0 && parse_limit(o->pos[3], "rate limit", 1000000, &v))
		return EXIT_USAGE;
	if (strcmp(verb, "scope") == 0 && ss_key_scope_parse(o->pos[3], &scope) != 0)
		return usage_error("bad scope '%s' (client or admin)", o->pos[3]);

	ss_key_record before;
	ss_error err;
	int f = ss_keys_get(db, id, &before, &err);
	if (f < 0)
		return db_failed(&err);
	if (f == 0)
		return no_such_key(id);
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
		rc = ss_keys_set_active(db, id, true, &err);
	else if (strcmp(verb, "deactivate") == 0)
		rc = ss_keys_set_active(db, id, false, &err);
	else if (strcmp(verb, "limit") == 0)
		rc = ss_keys_set_daily_limit(db, id, v, &err);
	else if (strcmp(verb, "rate") == 0)
		rc = ss_keys_set_rate_limit(db, id, v, &err);
	else if (strcmp(verb, "scope") == 0)
		rc = ss_keys_set_scope(db, id, scope, &err);
	else
		rc = ss_keys_delete(db, id, &err);
	if (rc < 0)
		return db_failed(&err);
	if (rc == 0)
		return no_such_key(id);
	bool deleted = strcmp(verb, "delete") == 0;
	notify_key_change(deleted ? id : 0);

	if (deleted) {
		if (o->json) {
			json_object *j = json_object_new_object();
			if (j == NULL)
				return EXIT_FAIL;
			ss_json_add_int(j, "id", id);
			ss_json_add_bool(j, "deleted", 1);
			print_json(j);
		} else {
			printf("deleted key %lld (%s)\n", (long long)id, before.name);
		}
		return 0;
	}
	ss_key_record after;
	if (ss_keys_get(db, id, &after, &err) != 1)
		return db_failed(&err);
	if (o->json)
		print_json(record_json(&after));
	else
		print_record_text(&after);
	return 0;
}

static int cmd_rotate(const opts *o)
{
	int64_t id;
	if (o->npos != 3)
		return usage_error("%s", "keys rotate needs an ID");
	if (parse_id(o->pos[2], &id))
		return EXIT_USAGE;
	char key[SS_APIKEY_TEXT_MAX];
	ss_error err;
	int rc = ss_keys_rotate(db, id, key, &err);
	if (rc < 0)
		return db_failed(&err);
	if (rc == 0)
		return no_such_key(id);
	notify_key_change(0);
	return show_new_key(o, id, key, "Rotated");
}

static int summary_row(void *arg, int64_t id, const char *name, const char *prefix, int64_t total, int64_t ok)
{
	json_object *arr = arg;
	if (arr != NULL) {
		json_object *j = json_object_new_object();
		if (j == NULL)
			return 1;
		ss_json_add_int(j, "id", id);
		ss_json_add_string(j, "name", name);
		ss_json_add_string(j, "prefix", prefix);
		ss_json_add_int(j, "requests", total);
		ss_json_add_int(j, "successful", ok);
		json_object_array_add(arr, j);
	} else {
		printf("%-5lld %-14s %10lld %10lld  %s\n", (long long)id, prefix, (long long)total, (long long)ok, name);
	}
	return 0;
}

static int cmd_usage(const opts *o)
{
	int64_t days = 1;
	if (o->npos != 1)
		return usage_error("%s", "usage takes no arguments besides --days N");
	if (o->days && ss_parse_i64(o->days, 1, 3660, &days) != 0)
		return usage_error("bad --days '%s' (1..3660)", o->days);
	ss_error err;
	json_object *arr = NULL;
	if (o->json && (arr = json_object_new_array()) == NULL)
		return EXIT_FAIL;
	if (!o->json)
		printf("usage over the last %lld UTC day(s)\n%-5s %-14s %10s %10s  %s\n", (long long)days, "ID", "PREFIX",
		       "REQUESTS", "SUCCESSFUL", "NAME");
	if (ss_usage_summary(db, (int)days, summary_row, arr, &err) != 0) {
		json_object_put(arr);
		return db_failed(&err);
	}
	if (arr != NULL) {
		json_object *j = json_object_new_object();
		if (j == NULL) {
			json_object_put(arr);
			return EXIT_FAIL;
		}
		ss_json_add_int(j, "days", days);
		json_object_object_add(j, "keys", arr);
		print_json(j);
	}
	return 0;
}

static int cmd_db(const opts *o)
{
	if (o->npos != 2)
		return usage_error("%s", "db needs check or migrate");
	ss_error err;
	if (strcmp(o->pos[1], "check") == 0) {
		int rc = ss_db_check(db, 1, &err);
		if (o->json) {
			json_object *j = json_object_new_object();
			if (j == NULL)
				return EXIT_FAIL;
			ss_json_add_bool(j, "ok", rc == 0);
			if (rc != 0)
				ss_json_add_string(j, "problem", err.msg);
			print_json(j);
		} else {
			printf(rc == 0 ? "%s: ok\n" : "%s: %s\n", ss_db_path(db), err.msg);
		}
		return rc == 0 ? 0 : EXIT_FAIL;
	}
	if (strcmp(o->pos[1], "migrate") == 0) {
		/* Opening the database already brought the schema up to date. */
		if (o->json) {
			json_object *j = json_object_new_object();
			if (j == NULL)
				return EXIT_FAIL;
			ss_json_add_int(j, "schema_version", ss_db_schema_version(db));
			print_json(j);
		} else {
			printf("%s: schema version %d\n", ss_db_path(db), ss_db_schema_version(db));
		}
		return 0;
	}
	return usage_error("unknown db command '%s'", o->pos[1]);
}

/* `state`: what the shared state file says now. Maps an existing file only (never builds one). */
static int cmd_state(const opts *o)
{
	if (o->npos != 1)
		return usage_error("%s", "state takes no arguments");
	ss_state *st = NULL;
	ss_error err;
	if (ss_state_attach(cfg.state_file, &st, &err) != 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		return EXIT_FAIL;
	}
	pid_t holder = 0;
	int64_t held_ms = 0;
	bool held = ss_state_lock_holder(st, &holder, &held_ms);
	int64_t rebuilt_ns = 0;
	char reason[128] = "";
	bool rebuilt = ss_state_rebuild_info(st, &rebuilt_ns, reason, sizeof reason);
	long long alive = ss_state_responders_alive(st);
	unsigned long long repairs = (unsigned long long)ss_state_repairs(st);
	unsigned long long killed = (unsigned long long)ss_state_counter_get(st, SS_STATE_COUNTER_HOLDERS_KILLED);
	unsigned long long generation = (unsigned long long)ss_state_key_generation(st);
	bool usable = ss_state_is_usable(st);
	ss_state_close(st);
	char when[SS_TIME_STR_LEN] = "";
	if (rebuilt)
		ss_time_format_utc((time_t)(rebuilt_ns / 1000000000LL), when);
	if (o->json) {
		json_object *j = json_object_new_object();
		if (j == NULL || ss_json_add_string(j, "path", cfg.state_file) || ss_json_add_bool(j, "usable", usable) ||
		    ss_json_add_int(j, "responders_alive", alive) ||
		    ss_json_add_int(j, "lock_holder_pid", held ? (int64_t)holder : 0) ||
		    ss_json_add_int(j, "lock_held_ms", held ? held_ms : 0) ||
		    ss_json_add_int(j, "lock_repairs", (int64_t)repairs) ||
		    ss_json_add_int(j, "lock_holders_killed", (int64_t)killed) ||
		    ss_json_add_int(j, "key_generation", (int64_t)generation) ||
		    (rebuilt && (ss_json_add_string(j, "rebuilt_at", when) || ss_json_add_string(j, "rebuilt_reason", reason)))) {
			json_object_put(j);
			return EXIT_FAIL;
		}
		print_json(j);
		return 0;
	}
	printf("path:                %s\n", cfg.state_file);
	printf("usable:              %s\n", usable ? "yes" : "no");
	printf("responders_alive:    %lld\n", alive);
	if (held)
		printf("lock_holder:         pid %ld for %lld ms\n", (long)holder, (long long)held_ms);
	else
		printf("lock_holder:         none\n");
	printf("lock_repairs:        %llu\n", repairs);
	printf("lock_holders_killed: %llu\n", killed);
	printf("key_generation:      %llu\n", generation);
	if (rebuilt)
		printf("rebuilt:             %s UTC (%s)\n", when, reason);
	return 0;
}

int main(int argc, char **argv)
{
	opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc;
	if (o.npos == 0)
		return usage_error("%s", "a command is needed");
	bool keys = strcmp(o.pos[0], "keys") == 0;
	bool state = strcmp(o.pos[0], "state") == 0;
	if (!keys && !state && strcmp(o.pos[0], "usage") != 0 && strcmp(o.pos[0], "db") != 0)
		return usage_error("unknown command '%s'", o.pos[0]);
	if (keys && o.npos < 2)
		return usage_error("%s", "keys needs a subcommand");
	static const char *const key_cmds[] = {"create", "list",  "show",  "activate", "deactivate", "limit",
					       "rate",   "scope", "rotate", "delete"};
	if (keys) {
		bool known = false;
		for (size_t i = 0; i < sizeof key_cmds / sizeof key_cmds[0]; i++)
			known = known || strcmp(o.pos[1], key_cmds[i]) == 0;
		if (!known)
			return usage_error("unknown keys command '%s'", o.pos[1]);
	}
	if ((o.email || o.scope || o.daily || o.rate) && !(keys && strcmp(o.pos[1], "create") == 0))
		return usage_error("%s", "--email/--scope/--daily-limit/--rate-limit belong to keys create");

	ss_error err;
	ss_error_clear(&err);
	ss_config_defaults(&cfg);
	const char *config_path = o.config;
	if (config_path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		config_path = DEFAULT_CONFIG;
	if ((config_path != NULL && ss_config_load(&cfg, config_path, &err) != 0) ||
	    ss_config_validate(&cfg, &err) != 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if (state) { /* the state file alone: no database needed */
		rc = cmd_state(&o);
		return fflush(stdout) != 0 && rc == 0 ? EXIT_FAIL : rc;
	}
	if (ss_db_open(cfg.database, &db, &err) != 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		return EXIT_FAIL;
	}

	if (!keys)
		rc = strcmp(o.pos[0], "usage") == 0 ? cmd_usage(&o) : cmd_db(&o);
	else if (strcmp(o.pos[1], "create") == 0)
		rc = cmd_create(&o);
	else if (strcmp(o.pos[1], "list") == 0)
		rc = cmd_list(&o);
	else if (strcmp(o.pos[1], "show") == 0)
		rc = cmd_show(&o);
	else if (strcmp(o.pos[1], "rotate") == 0)
		rc = cmd_rotate(&o);
	else
		rc = cmd_change(&o, o.pos[1]);
	ss_db_close(db);
	if (fflush(stdout) != 0 && rc == 0)
		rc = EXIT_FAIL;
	return rc;
}
