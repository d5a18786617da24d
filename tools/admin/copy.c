/* songscope-admin db copy --to postgresql: an SQLite installation (the `database` file) copied into the
 * PostgreSQL server named by `postgresql`, so that several hosts can share it. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/store/copy.h"
#include "core/util/jsonutil.h"
#include "tools/admin/admin.h"

int admin_cmd_db_copy(const admin_opts *o, const ss_config *cfg)
{
	if (o->npos != 2 || o->to == NULL || strcmp(o->to, "postgresql") != 0)
		return admin_usage_error("%s", "db copy needs --to postgresql");
	if (cfg->postgresql[0] == '\0')
		return admin_usage_error("%s", "db copy --to postgresql needs 'postgresql' (a libpq connection string) in "
				       "the configuration");
	ss_error err;
	ss_error_clear(&err);
	ss_store_params sp = {.backend = "sqlite", .path = cfg->database, .busy_timeout_ms = cfg->database_busy_timeout_ms,
			      .flags = SS_STORE_NO_CREATE | SS_STORE_KEEP_SIDE_FILES};
	ss_store *from = NULL, *to = NULL;
	if (ss_store_open(&sp, &from, &err) != 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		return EXIT_FAIL;
	}
	ss_store_params tp = {.backend = "postgresql", .conninfo = cfg->postgresql,
			      .busy_timeout_ms = cfg->database_busy_timeout_ms};
	if (ss_store_open(&tp, &to, &err) != 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		ss_store_close(from);
		return EXIT_FAIL;
	}
	int64_t today = (int64_t)time(NULL) / 86400 * 86400;
	ss_store_copy_counts n;
	int rc = ss_store_copy(from, to, today, &n, &err);
	if (rc != 0) {
		fprintf(stderr, "songscope-admin: copying %s to %s: %s\n", ss_store_describe(from), ss_store_describe(to),
			err.msg);
	} else if (o->json) {
		json_object *j = json_object_new_object();
		if (j == NULL) {
			rc = -1;
		} else {
			ss_json_add_int(j, "songs", n.songs);
			ss_json_add_int(j, "songs_present", n.songs_present);
			ss_json_add_int(j, "overrides", n.overrides);
			ss_json_add_int(j, "overrides_present", n.overrides_present);
			ss_json_add_int(j, "keys", n.keys);
			ss_json_add_int(j, "keys_present", n.keys_present);
			ss_json_add_int(j, "usage_rows", n.usage_rows);
			admin_print_json(j);
		}
	} else {
		printf("%s -> %s\n", ss_store_describe(from), ss_store_describe(to));
		printf("songs: %lld copied, %lld already there\n", n.songs, n.songs_present);
		printf("overrides: %lld copied, %lld already there\n", n.overrides, n.overrides_present);
		printf("keys: %lld copied (same secrets), %lld already there\n", n.keys, n.keys_present);
		printf("usage rows of today: %lld copied\n", n.usage_rows);
		printf("Next: set `store = postgresql` on every host and restart the service.\n");
	}
	ss_store_close(to);
	ss_store_close(from);
	return rc == 0 ? 0 : EXIT_FAIL;
}
