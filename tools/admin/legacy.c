/* songscope-admin commands for moving from the original (Python) server: import-legacy and keys import. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/analysis/pipeline.h"
#include "core/store/sqlite/legacy.h"
#include "core/util/jsonutil.h"
#include "core/util/strnum.h"
#include "tools/admin/admin.h"

typedef struct progress {
	bool tty;
	long long skipped_shown;
} progress;

static void show_progress(void *arg, long long done, long long total)
{
	progress *p = arg;
	if (p->tty)
		fprintf(stderr, "\rimport-legacy: %lld of %lld rows", done, total);
}

static void show_skipped(void *arg, const char *what, long long id, const char *why)
{
	progress *p = arg;
	if (p->skipped_shown++ < 20)
		fprintf(stderr, "%simport-legacy: skipped %s %lld: %s\n", p->tty ? "\n" : "", what, id, why);
	else if (p->skipped_shown == 21)
		fprintf(stderr, "import-legacy: (further skipped rows are counted, not listed)\n");
}

int admin_cmd_import_legacy(const admin_opts *o, const ss_config *cfg, ss_store *db)
{
	if (o->npos != 2)
		return admin_usage_error("%s", "import-legacy needs exactly one OLD.db");
	int64_t batch = 0;
	if (o->batch && ss_parse_i64(o->batch, 1, 1000000, &batch) != 0)
		return admin_usage_error("bad --batch '%s' (1..1000000 rows per transaction)", o->batch);
	ss_legacy *l = NULL;
	ss_error err;
	ss_error_clear(&err);
	if (ss_legacy_open(o->pos[1], &l, &err) != 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		return EXIT_FAIL;
	}
	/* URL rows get the cache key POST /analyze computes with this configuration's analysis options. */
	ss_analysis_opts ao;
	char tag[128];
	ss_analysis_opts_default(&ao);
	ao.max_seconds = cfg->max_analysis_seconds;
	ss_analysis_opts_tag(&ao, tag, sizeof tag);
	progress p = {.tty = isatty(STDERR_FILENO) == 1};
	ss_legacy_opts lo = {.opts_tag = tag, .batch_rows = (int)batch, .progress = show_progress,
			     .skipped = show_skipped, .arg = &p};
	ss_legacy_counts c;
	int rc = ss_legacy_import(l, db, &lo, &c, &err);
	if (p.tty)
		fputc('\n', stderr);
	ss_legacy_version v = ss_legacy_schema(l);
	ss_legacy_close(l);
	if (rc != 0) {
		fprintf(stderr, "songscope-admin: import-legacy: %s (committed batches stay; running it again "
				"completes the import)\n",
			err.msg);
		return EXIT_FAIL;
	}
	if (c.keys_new > 0)
		admin_notify_key_change(cfg, db, 0);
	if (o->json) {
		json_object *j = json_object_new_object();
		if (j == NULL || ss_json_add_string(j, "schema", ss_legacy_schema_name(v)) ||
		    ss_json_add_int(j, "cache_rows", c.cache_total) || ss_json_add_int(j, "cache_new", c.cache_new) ||
		    ss_json_add_int(j, "cache_existing", c.cache_existing) ||
		    ss_json_add_int(j, "cache_skipped", c.cache_skipped) ||
		    ss_json_add_int(j, "overrides_new", c.overrides_new) ||
		    ss_json_add_int(j, "overrides_existing", c.overrides_existing) ||
		    ss_json_add_int(j, "keys", c.keys_total) || ss_json_add_int(j, "keys_new", c.keys_new) ||
		    ss_json_add_int(j, "keys_existing", c.keys_existing) ||
		    ss_json_add_int(j, "keys_skipped", c.keys_skipped) || ss_json_add_bool(j, "stats_found", c.has_stats) ||
		    ss_json_add_bool(j, "stats_new", c.stats_new)) {
			json_object_put(j);
			return EXIT_FAIL;
		}
		admin_print_json(j);
		return 0;
	}
	printf("original schema: %s\n", ss_legacy_schema_name(v));
	printf("cache rows:      %lld new, %lld already present, %lld skipped (of %lld)\n", c.cache_new, c.cache_existing,
	       c.cache_skipped, c.cache_total);
	printf("overrides:       %lld new, %lld already present\n", c.overrides_new, c.overrides_existing);
	printf("API keys:        %lld new, %lld already present, %lld skipped (of %lld)\n", c.keys_new, c.keys_existing,
	       c.keys_skipped, c.keys_total);
	if (!c.has_stats)
		printf("statistics:      none in the original\n");
	else if (c.stats_new)
		printf("statistics:      added %lld analyses, %lld hits, %lld misses\n", c.stats_analyses, c.stats_hits,
		       c.stats_misses);
	else
		printf("statistics:      0 new (already added by an earlier import)\n");
	return 0;
}

/* The key from standard input: one line; the newline (and a CR before it) is not part of the key. */
static int read_key(char *buf, size_t cap, size_t *len)
{
	size_t n = fread(buf, 1, cap, stdin);
	if (ferror(stdin))
		return -1;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*len = n;
	return 0;
}

int admin_cmd_keys_import(const admin_opts *o, const ss_config *cfg, ss_store *db)
{
	if (o->npos != 3)
		return admin_usage_error("%s", "keys import needs exactly one NAME");
	if (!o->key_stdin)
		return admin_usage_error("%s", "keys import reads the key from standard input: give --key-stdin "
					 "(a key on the command line would show in ps and the shell history)");
	ss_key_import k = {.name = o->pos[2], .email = o->email, .scope = SS_KEY_CLIENT, .active = true};
	if (o->scope && ss_key_scope_parse(o->scope, &k.scope) != 0)
		return admin_usage_error("bad scope '%s' (client or admin)", o->scope);
	if (o->daily && ss_parse_i64(o->daily, 0, INT64_MAX, &k.daily_limit) != 0)
		return admin_usage_error("bad daily limit '%s' (0..%lld)", o->daily, (long long)INT64_MAX);
	if (o->rate && ss_parse_i64(o->rate, 0, 1000000, &k.rate_limit) != 0)
		return admin_usage_error("bad rate limit '%s' (0..1000000)", o->rate);
	char key[SS_KEY_IMPORT_MAX + 3];
	size_t len;
	ss_error err;
	ss_error_clear(&err);
	if (read_key(key, sizeof key, &len) != 0) {
		fprintf(stderr, "songscope-admin: cannot read the key from standard input\n");
		return EXIT_FAIL;
	}
	int64_t id = 0;
	int rc = ss_store_key_import(db, key, len, &k, &id, &err);
	sodium_memzero(key, sizeof key);
	if (rc < 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		return err.code == SS_ERR_BAD_REQUEST ? EXIT_USAGE : EXIT_FAIL;
	}
	if (rc == 0) {
		fprintf(stderr, "songscope-admin: this key is already registered (key %lld); nothing changed\n",
			(long long)id);
		return EXIT_FAIL;
	}
	admin_notify_key_change(cfg, db, 0);
	ss_key_record r;
	if (ss_store_key_get(db, id, &r, &err) != 1) {
		fprintf(stderr, "songscope-admin: the imported key %lld cannot be read back\n", (long long)id);
		return EXIT_FAIL;
	}
	if (o->json) {
		json_object *j = json_object_new_object();
		if (j == NULL || ss_json_add_int(j, "id", r.id) || ss_json_add_string(j, "name", r.name) ||
		    ss_json_add_string(j, "prefix", r.prefix) || ss_json_add_string(j, "scope", ss_key_scope_name(r.scope)) ||
		    ss_json_add_int(j, "daily_limit", r.daily_limit) || ss_json_add_int(j, "rate_limit", r.rate_limit)) {
			json_object_put(j);
			return EXIT_FAIL;
		}
		admin_print_json(j);
	} else {
		printf("imported key %lld (%s), prefix %s, scope %s, daily limit %lld, rate limit %lld\n",
		       (long long)r.id, r.name, r.prefix, ss_key_scope_name(r.scope), (long long)r.daily_limit,
		       (long long)r.rate_limit);
	}
	return 0;
}
