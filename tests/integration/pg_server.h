/* A real PostgreSQL server for one test: initdb into a private folder, a unix socket in that folder and no TCP
 * listener, fsync off, run as an unprivileged user when the test runs as root (the server refuses root), always
 * stopped and removed by ss_pg_server_destroy. The binaries come from $SS_PG_BINDIR (configure's PG_BINDIR,
 * default /usr/lib/postgresql/15/bin). */
#ifndef SS_TESTS_PG_SERVER_H
#define SS_TESTS_PG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/util/buf.h"

#define SS_PG_SERVER_DB "songscope" /* the database created for the test */

typedef struct ss_pg_server {
	char dir[320];      /* server folder: the socket lives here, the cluster in dir/data, the log in dir/server.log */
	char conninfo[512]; /* libpq conninfo of the test database (host = dir, no password) */
	bool own_parent;    /* the parent folder was made by ss_pg_server_start and goes with destroy */
	char parent[256];
	bool running;
	bool as_other;      /* the server runs as uid/gid below (the test runs as root) */
	uid_t uid;
	gid_t gid;
	pid_t watcher;      /* stops the server if the test process dies without ss_pg_server_destroy, or 0 */
} ss_pg_server;

/* Directory of initdb/pg_ctl. */
const char *ss_pg_server_bindir(void);

/* True when initdb and pg_ctl are installed. Tests that need the server exit 77 with a message otherwise. */
bool ss_pg_server_available(void);

/* ss_pg_server_available, and when it is false a "SKIP: PostgreSQL is not installed" line on stdout, for a test
 * program's main to return 77 after. */
bool ss_pg_server_or_skip(void);

/* Initialise a cluster in parent/pg (parent NULL: a new folder in the scratch directory, tests/fixtures/scratch.h),
 * start it, wait until it accepts connections and create the database SS_PG_SERVER_DB. Returns 0, or -1 with the
 * reason (and the log's tail) in msg; then nothing is left running (call ss_pg_server_destroy anyway to remove the
 * folder). The server daemonises, so a watcher child of the calling process stops it (pg_ctl stop -m immediate)
 * when that process ends without ss_pg_server_destroy: a failed assertion ends a Check test without its teardown. */
int ss_pg_server_start(ss_pg_server *pg, const char *parent, char *msg, size_t msglen);

/* Stop the server at once (pg_ctl stop -m immediate: like a crash, clients see their connection drop). The
 * cluster stays for ss_pg_server_restart. Returns 0 or -1. */
int ss_pg_server_stop(ss_pg_server *pg);

/* Start a stopped server again and wait until it accepts connections. Returns 0 or -1. */
int ss_pg_server_restart(ss_pg_server *pg);

/* Stop the server when running and remove its folder (and the parent when ss_pg_server_start made it).
 * A zeroed or already destroyed pg is a no-op. */
void ss_pg_server_destroy(ss_pg_server *pg);

/* Run sql (one statement) on the test database through a connection of its own. Rows go to out as text, one line
 * each, columns separated by '|', NULL as "(null)". Returns 0, or -1 with the server's message in out. */
int ss_pg_server_query(const ss_pg_server *pg, const char *sql, ss_buf *out);

#endif
