/* songscope-admin: manage API keys, inspect usage, check, migrate and back up the database, import an
 * original server's database. This file parses the command line, loads the configuration, opens the database
 * and dispatches to the command groups in tools/admin/. Exit status: 0 done, 1 failure, 2 bad arguments or
 * unknown id. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/config/config.h"
#include "core/store/store.h"
#include "tools/admin/admin.h"

#define DEFAULT_CONFIG SS_SYSCONFDIR "/songscope/songscope.conf"

typedef admin_opts opts;

static ss_config cfg;
static ss_store *db;

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
		if (strcmp(a, "--force") == 0) {
			o->force = true;
			continue;
		}
		if (strcmp(a, "--key-stdin") == 0) {
			o->key_stdin = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			admin_print_usage(stdout);
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
		else if (strcmp(a, "--batch") == 0)
			slot = &o->batch;
		else if (strcmp(a, "--to") == 0)
			slot = &o->to;
		else if (a[0] == '-' && a[1] != '\0')
			return admin_usage_error("unknown option %s", a);
		if (slot != NULL) {
			if (i + 1 >= argc)
				return admin_usage_error("%s needs a value", a);
			*slot = argv[++i];
			continue;
		}
		if (o->npos >= (int)(sizeof o->pos / sizeof o->pos[0]))
			return admin_usage_error("too many arguments (%s)", a);
		o->pos[o->npos++] = a;
	}
	return 0;
}

int main(int argc, char **argv)
{
	opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc;
	if (o.npos == 0)
		return admin_usage_error("%s", "a command is needed");
	bool keys = strcmp(o.pos[0], "keys") == 0;
	bool state = strcmp(o.pos[0], "state") == 0;
	bool legacy = strcmp(o.pos[0], "import-legacy") == 0;
	if (!keys && !state && !legacy && strcmp(o.pos[0], "usage") != 0 && strcmp(o.pos[0], "db") != 0)
		return admin_usage_error("unknown command '%s'", o.pos[0]);
	if (keys && o.npos < 2)
		return admin_usage_error("%s", "keys needs a subcommand");
	static const char *const key_cmds[] = {"create", "list",  "show",  "activate", "deactivate", "limit",
					       "rate",   "scope", "rotate", "delete", "import"};
	if (keys) {
		bool known = false;
		for (size_t i = 0; i < sizeof key_cmds / sizeof key_cmds[0]; i++)
			known = known || strcmp(o.pos[1], key_cmds[i]) == 0;
		if (!known)
			return admin_usage_error("unknown keys command '%s'", o.pos[1]);
	}
	bool key_new = keys && (strcmp(o.pos[1], "create") == 0 || strcmp(o.pos[1], "import") == 0);
	if ((o.email || o.scope || o.daily || o.rate) && !key_new)
		return admin_usage_error("%s", "--email/--scope/--daily-limit/--rate-limit belong to keys create/import");
	if (o.key_stdin && !(keys && strcmp(o.pos[1], "import") == 0))
		return admin_usage_error("%s", "--key-stdin belongs to keys import");
	if (o.batch && !legacy)
		return admin_usage_error("%s", "--batch belongs to import-legacy");
	if (o.force && !(o.npos >= 2 && strcmp(o.pos[0], "db") == 0 && strcmp(o.pos[1], "backup") == 0))
		return admin_usage_error("%s", "--force belongs to db backup");
	bool copy = o.npos >= 2 && strcmp(o.pos[0], "db") == 0 && strcmp(o.pos[1], "copy") == 0;
	if (o.to && !copy)
		return admin_usage_error("%s", "--to belongs to db copy");

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
		rc = admin_cmd_state(&o, &cfg);
		return fflush(stdout) != 0 && rc == 0 ? EXIT_FAIL : rc;
	}
	if (copy) { /* two stores, whatever `store` says */
		rc = admin_cmd_db_copy(&o, &cfg);
		return fflush(stdout) != 0 && rc == 0 ? EXIT_FAIL : rc;
	}
	ss_store_params sp;
	ss_store_params_from_config(&cfg, &sp);
	if (ss_store_open(&sp, &db, &err) != 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		return EXIT_FAIL;
	}

	if (legacy)
		rc = admin_cmd_import_legacy(&o, &cfg, db);
	else if (!keys && strcmp(o.pos[0], "db") == 0 && o.npos >= 2 && strcmp(o.pos[1], "backup") == 0)
		rc = admin_cmd_db_backup(&o, db);
	else if (!keys)
		rc = strcmp(o.pos[0], "usage") == 0 ? admin_cmd_usage(&o, db) : admin_cmd_db(&o, db);
	else if (strcmp(o.pos[1], "import") == 0)
		rc = admin_cmd_keys_import(&o, &cfg, db);
	else
		rc = admin_cmd_keys(&o, &cfg, db);
	ss_store_close(db);
	if (fflush(stdout) != 0 && rc == 0)
		rc = EXIT_FAIL;
	return rc;
}
