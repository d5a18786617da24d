/* songscope-admin's shared parts: parsed options, exit codes, shared functions and one entry point per command group
 * (songscope-admin.c parses the command line and dispatches; tools/admin/: output.c for the usage text, errors
 * and JSON printing; keys.c, usage.c, db.c, state.c; legacy.c for import-legacy and keys import; backup.c for
 * db backup; copy.c for db copy). */
#ifndef SS_TOOLS_ADMIN_H
#define SS_TOOLS_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "core/config/config.h"
#include "core/store/store.h"

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
	const char *to; /* db copy --to */
	bool json, yes, force, key_stdin;
	const char *pos[8];
	int npos;
} admin_opts;

/* Print the usage text on f. */
void admin_print_usage(FILE *f);

/* Print "songscope-admin: <message>" and the usage text on stderr; returns EXIT_USAGE. */
int admin_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print o pretty on stdout and release it (NULL prints null). */
void admin_print_json(json_object *o);

/* Print "songscope-admin: <err->msg>"; returns EXIT_USAGE for SS_ERR_BAD_REQUEST, else EXIT_FAIL. */
int admin_db_failed(const ss_error *err);

/* Tell running responders that keys changed (bump the state file's key generation; forget_id > 0 also drops
 * that key's limiter state; a state file rebuilt on the way is seeded from db's usage rows). Never creates
 * the state file. */
void admin_notify_key_change(const ss_config *cfg, ss_store *db, int64_t forget_id);

/* keys create|list|show|activate|deactivate|limit|rate|scope|rotate|delete (o->pos[1] is the verb, checked
 * by the caller). Returns an exit status. */
int admin_cmd_keys(const admin_opts *o, const ss_config *cfg, ss_store *db);

/* usage [--days N]. Returns an exit status. */
int admin_cmd_usage(const admin_opts *o, ss_store *db);

/* db check | db migrate. Returns an exit status. */
int admin_cmd_db(const admin_opts *o, ss_store *db);

/* state: the shared state file (needs no database). Returns an exit status. */
int admin_cmd_state(const admin_opts *o, const ss_config *cfg);

/* import-legacy OLD.db: take an original server's database over into db. Returns an exit status. */
int admin_cmd_import_legacy(const admin_opts *o, const ss_config *cfg, ss_store *db);

/* keys import NAME --key-stdin: register an existing key read from standard input. Returns an exit status. */
int admin_cmd_keys_import(const admin_opts *o, const ss_config *cfg, ss_store *db);

/* db copy --to postgresql: the SQLite database (`database`) copied into the server `postgresql` names (tools/admin/
 * copy.c). Returns an exit status. */
int admin_cmd_db_copy(const admin_opts *o, const ss_config *cfg);

/* db backup FILE [--force]: online, consistent copy of db. Returns an exit status. */
int admin_cmd_db_backup(const admin_opts *o, ss_store *db);

#endif
