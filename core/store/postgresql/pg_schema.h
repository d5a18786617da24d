/* The PostgreSQL store's schema: the SQLite store's tables with the same names, columns and meaning, as forward
 * migrations recorded in a schema_version table and applied under a transaction-level advisory lock, so that
 * processes and hosts starting together migrate once. Private to core/store/postgresql/. */
#ifndef SS_STORE_PG_SCHEMA_H
#define SS_STORE_PG_SCHEMA_H

#include "core/store/postgresql/pg_conn.h"
#include "core/util/error.h"

/* A column default and a value for "now" as the API shows it: UTC, whole seconds (timestamp without time zone). */
#define SS_PG_NOW_UTC "date_trunc('second', timezone('UTC', now()))"

/* A timestamp column as the API's "YYYY-MM-DD HH:MM:SS". */
#define SS_PG_TIME(col) "to_char(" col ", 'YYYY-MM-DD HH24:MI:SS')"

/* Latest schema version this build knows. */
int ss_pg_schema_latest(void);

/* Bring the connected database's schema up to date (one transaction holding the advisory lock; statement
 * timeout lifted for index builds). Returns the version now in place, or -1 with err (SS_ERR_DB when the
 * database has a newer schema than this build knows, or a migration failed: nothing of it stays). */
int ss_pg_schema_migrate(ss_pgconn *c, ss_error *err);

/* The schema version of the connected database (0 when none yet), or -1 with err. */
int ss_pg_schema_version(ss_pgconn *c, ss_error *err);

#endif
