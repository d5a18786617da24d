/* The database schema as an ordered list of forward migrations; user_version = number applied. */
#ifndef SS_STORE_SQLITE_SCHEMA_H
#define SS_STORE_SQLITE_SCHEMA_H

typedef struct ss_migration {
	int version;     /* user_version after this step */
	const char *sql; /* statements to run */
} ss_migration;

/* The migrations, in order, and their count. A step may call the SQL function songscope_utf8(text, cap),
 * which only the migrating connection has (ss_db_register_utf8). */
extern const ss_migration ss_schema_migrations[];
extern const int ss_schema_migration_count;

/* Latest schema version this build knows. */
int ss_schema_latest(void);

#endif
