/* songscope-admin's shared parts: parsed options, exit codes and helpers used by every command group
 * (songscope-admin.c: keys, usage, db check/migrate, state; admin/legacy.c: import-legacy, keys import;
 * admin/backup.c: db backup). */
#ifndef SS_TOOLS_ADMIN_H
#define SS_TOOLS_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/config/config.h"
#include "core/store/db.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

typedef struct admin_opts {
	const char *config;
	const char *email;
	const char *scope;
	const char *daily;
	const char *rate;
	const char *days;
	const char *batch;
	bool json, yes, force, key_stdin;
	const char *pos[8];
	int npos;
} admin_opts;

/* Print "songscope-admin: <message>" and the usage text on stderr; returns EXIT_USAGE. */
int admin_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print o pretty on stdout and release it (NULL prints null). */
void admin_print_json(json_object *o);

/* Tell running responders that keys changed (bump the state file's key generation; forget_id > 0 also drops
 * that key's limiter state). Never creates the state file. */
void admin_notify_key_change(const ss_config *cfg, int64_t forget_id);

/* import-legacy OLD.db: take an original server's database over into db. Returns an exit status. */
int admin_cmd_import_legacy(const admin_opts *o, const ss_config *cfg, ss_db *db);

/* keys import NAME --key-stdin: register an existing key read from standard input. Returns an exit status. */
int admin_cmd_keys_import(const admin_opts *o, const ss_config *cfg, ss_db *db);

/* db backup FILE [--force]: online, consistent copy of db. Returns an exit status. */
int admin_cmd_db_backup(const admin_opts *o, ss_db *db);

#endif
