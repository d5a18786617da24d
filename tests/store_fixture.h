/* The fixture of the test programs that open a SQLite store (check_store, check_keys, check_import): a new
 * temporary directory for each test, a store file named in it, and a way to open it. Included by one test
 * program each: the directory and the file name are that program's own statics. */
#ifndef SS_TESTS_STORE_FIXTURE_H
#define SS_TESTS_STORE_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/store/sqlite/sqlite.h"
#include "core/store/store.h"
#include "tests/fixtures/scratch.h"

static char dir[256];    /* the running test's directory (store_fixture_setup) */
static char dbpath[300]; /* the store file in it */

/* Make a new directory PREFIX-XXXXXX in the scratch directory (tests/fixtures/scratch.h) for the running test and
 * name dbpath DIR/FILE (not created). Fails the test when the directory cannot be made. */
static inline void store_fixture_setup(const char *prefix, const char *file)
{
	char name[128];
	ck_assert_int_lt(snprintf(name, sizeof name, "%s-XXXXXX", prefix), (int)sizeof name);
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, name), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/%s", dir, file);
}

/* Remove the running test's directory and everything in it. */
static inline void store_fixture_teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Open (creating it if need be) the SQLite store at dbpath; fails the test on an error. The caller closes it. */
static inline ss_store *open_db(void)
{
	ss_store *db = NULL;
	ss_error err;
	ss_error_clear(&err);
	ss_store_params p = {.backend = "sqlite", .path = dbpath};
	ck_assert_msg(ss_store_open(&p, &db, &err) == 0, "%s", err.msg);
	return db;
}

/* The SQLite connection behind a store, for the tests of the backend itself. */
#define SQ(store) ss_sqlite_db(store)

#endif
