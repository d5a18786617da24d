/* songscope-admin db check | db migrate (db backup is in backup.c). */
#include <stdio.h>
#include <string.h>

#include "core/util/jsonutil.h"
#include "tools/admin/admin.h"

typedef admin_opts opts;

int admin_cmd_db(const admin_opts *o, ss_store *db)
{
	if (o->npos != 2)
		return admin_usage_error("%s", "db needs check, migrate or backup FILE");
	ss_error err;
	if (strcmp(o->pos[1], "check") == 0) {
		int rc = ss_store_check(db, true, &err);
		if (o->json) {
			json_object *j = json_object_new_object();
			if (j == NULL)
				return EXIT_FAIL;
			ss_json_add_bool(j, "ok", rc == 0);
			if (rc != 0)
				ss_json_add_string(j, "problem", err.msg);
			admin_print_json(j);
		} else {
			printf(rc == 0 ? "%s: ok\n" : "%s: %s\n", ss_store_describe(db), err.msg);
		}
		return rc == 0 ? 0 : EXIT_FAIL;
	}
	if (strcmp(o->pos[1], "migrate") == 0) {
		/* Opening the database already brought the schema up to date. */
		if (o->json) {
			json_object *j = json_object_new_object();
			if (j == NULL)
				return EXIT_FAIL;
			ss_json_add_int(j, "schema_version", ss_store_schema_version(db));
			admin_print_json(j);
		} else {
			printf("%s: schema version %d\n", ss_store_describe(db), ss_store_schema_version(db));
		}
		return 0;
	}
	return admin_usage_error("unknown db command '%s'", o->pos[1]);
}

/* `state`: what the shared state file says now. Maps an existing file only (never builds one). */
