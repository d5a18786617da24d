/* songscope-admin's shared output: the usage text, error messages and JSON printing every command group uses
 * (tools/admin/admin.h). */
#include <stdarg.h>
#include <stdio.h>

#include <json-c/json.h>

#include "tools/admin/admin.h"

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
	"  keys import NAME --key-stdin [--email E] [--scope S] [--daily-limit N] [--rate-limit N]\n"
	"                           register an existing key read from standard input\n"
	"  usage [--days N]\n"
	"  db check | db migrate\n"
	"  db backup FILE [--force] online, consistent copy of the database\n"
	"  db copy --to postgresql  copy the SQLite database into the `postgresql` server\n"
	"  import-legacy OLD.db [--batch N]\n"
	"                           take an original (Python) server's database over\n"
	"  state                    the shared state file: responders, lock holder, repairs, rebuilds\n"
	"--json prints machine-readable output. `keys create` and `keys rotate` show the key once.\n";

void admin_print_usage(FILE *f)
{
	fputs(USAGE, f);
}

int admin_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "songscope-admin: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", USAGE);
	return EXIT_USAGE;
}

void admin_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int admin_db_failed(const ss_error *err)
{
	fprintf(stderr, "songscope-admin: %s\n", err->msg);
	return err->code == SS_ERR_BAD_REQUEST ? EXIT_USAGE : EXIT_FAIL;
}
