/* songscope-admin usage [--days N]: requests per key over the last UTC days. */
#include <stdio.h>

#include "core/store/store.h"
#include "core/util/jsonutil.h"
#include "core/util/strnum.h"
#include "tools/admin/admin.h"

typedef admin_opts opts;

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

int admin_cmd_usage(const admin_opts *o, ss_store *db)
{
	int64_t days = 1;
	if (o->npos != 1)
		return admin_usage_error("%s", "usage takes no arguments besides --days N");
	if (o->days && ss_parse_i64(o->days, 1, 3660, &days) != 0)
		return admin_usage_error("bad --days '%s' (1..3660)", o->days);
	ss_error err;
	json_object *arr = NULL;
	if (o->json && (arr = json_object_new_array()) == NULL)
		return EXIT_FAIL;
	if (!o->json)
		printf("usage over the last %lld UTC day(s)\n%-5s %-14s %10s %10s  %s\n", (long long)days, "ID", "PREFIX",
		       "REQUESTS", "SUCCESSFUL", "NAME");
	if (ss_store_usage_summary(db, (int)days, summary_row, arr, &err) != 0) {
		json_object_put(arr);
		return admin_db_failed(&err);
	}
	if (arr != NULL) {
		json_object *j = json_object_new_object();
		if (j == NULL) {
			json_object_put(arr);
			return EXIT_FAIL;
		}
		ss_json_add_int(j, "days", days);
		json_object_object_add(j, "keys", arr);
		admin_print_json(j);
	}
	return 0;
}

