/* One libpq connection of one process to the PostgreSQL store: bounded connect and statement times, a bounded
 * reconnect after the connection dropped, statements prepared once per connection, and the mapping of server
 * errors to the ss_code values every store backend reports. Private to core/store/postgresql/. */
#ifndef SS_STORE_PG_CONN_H
#define SS_STORE_PG_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/util/error.h"

typedef struct ss_pgconn ss_pgconn;

#define SS_PG_CONNECT_TIMEOUT_S 3     /* default connect_timeout (the conninfo may set its own) */
#define SS_PG_STATEMENT_TIMEOUT_MS 30000 /* a statement running longer is cancelled (SS_ERR_BUSY) */
#define SS_PG_RECONNECT_PAUSE_S 1.0   /* a failed connect is retried at most this often */

/* A handle for conninfo (copied), not connected yet. lock_timeout_ms: how long a statement waits for a row or
 * table lock before it fails with SS_ERR_BUSY (<= 0: 5000). Returns NULL when out of memory. */
ss_pgconn *ss_pgconn_new(const char *conninfo, int lock_timeout_ms);

/* The lock timeout each connection is set up with, milliseconds. */
int ss_pgconn_lock_timeout(const ss_pgconn *c);

/* Disconnect and free. NULL is a no-op. */
void ss_pgconn_free(ss_pgconn *c);

/* Connect when not connected or when the connection is known to be broken, at most once per
 * SS_PG_RECONNECT_PAUSE_S (force: now), but never inside a transaction begun on the lost connection. A new
 * connection gets its settings (UTC, timeouts); prepared statements are prepared again as they are used.
 * Returns 1 when a new connection was made, 0 when the open one is kept, -1 with err (SS_ERR_UNAVAILABLE with
 * the server's reason; during the pause without trying). */
int ss_pgconn_connect(ss_pgconn *c, bool force, ss_error *err);

/* Close the connection (statements go with it); the next ss_pgconn_connect opens a new one. */
void ss_pgconn_disconnect(ss_pgconn *c);

/* Without a round trip: read what the server sent on an idle connection (a server that shut down or crashed
 * has closed it) and report whether the connection is still usable. False when not connected. */
bool ss_pgconn_alive(ss_pgconn *c);

/* Is a connection open (it may have broken since)? */
bool ss_pgconn_connected(const ss_pgconn *c);

/* The open connection (owned by c), or NULL. */
PGconn *ss_pgconn_handle(ss_pgconn *c);

/* "host=... port=... dbname=... user=..." of the conninfo, without a password (owned by c). */
const char *ss_pgconn_describe(const ss_pgconn *c);

/* Parameters of one statement, in text form except bytea (binary). Plain value on the stack; strings are
 * borrowed until the statement ran. */
#define SS_PG_PARAMS_MAX 32
typedef struct ss_pgparams {
	int n;
	const char *val[SS_PG_PARAMS_MAX];
	int len[SS_PG_PARAMS_MAX];
	int fmt[SS_PG_PARAMS_MAX];
	char num[SS_PG_PARAMS_MAX][32]; /* text of numeric parameters */
} ss_pgparams;

void ss_pgparams_init(ss_pgparams *p);
void ss_pgparams_text(ss_pgparams *p, const char *s);      /* NULL = SQL NULL */
void ss_pgparams_int(ss_pgparams *p, int64_t v);
void ss_pgparams_num(ss_pgparams *p, double v);            /* NaN or infinite = SQL NULL */
void ss_pgparams_bool(ss_pgparams *p, bool v);
void ss_pgparams_bytes(ss_pgparams *p, const void *data, int len);

/* Run the prepared statement for sql (pass a static string: it is prepared once per connection, keyed by the
 * pointer) with parameters p (NULL = none). Returns the result (PQclear it) when the statement succeeded,
 * NULL with err otherwise (err->code from ss_pgconn_code; the message starts with `what`). A connection that
 * broke is closed, so the next ss_pgconn_connect makes a new one. */
PGresult *ss_pgconn_run(ss_pgconn *c, const char *sql, const ss_pgparams *p, const char *what, ss_error *err);

/* ss_pgconn_run without preparing: planned for these very parameters each time, for queries whose best plan
 * depends on the values (a search pattern that is rare or common). */
PGresult *ss_pgconn_run_once(ss_pgconn *c, const char *sql, const ss_pgparams *p, const char *what, ss_error *err);

/* Stream the rows of query sql (parameters p) through a cursor, SS_PG_STREAM_BATCH rows per round trip, so memory
 * stays bounded whatever the row count; fn gets each row (non-zero stops). Runs inside the caller's transaction,
 * or else in its own REPEATABLE READ READ ONLY one (one snapshot). Returns the number of rows passed to fn, -1
 * with err, -2 when fn stopped. */
#define SS_PG_STREAM_BATCH 500
long long ss_pgconn_stream(ss_pgconn *c, const char *sql, const ss_pgparams *p,
			   int (*fn)(void *arg, const PGresult *r, int row), void *arg, const char *what, ss_error *err);

/* ss_pgconn_run for a statement whose rows are not needed: returns the affected row count, or -1 with err. */
long long ss_pgconn_run_count(ss_pgconn *c, const char *sql, const ss_pgparams *p, const char *what, ss_error *err);

/* Run sql (one or more statements, no parameters) with the simple protocol. Returns 0 or -1 with err. */
int ss_pgconn_exec(ss_pgconn *c, const char *sql, const char *what, ss_error *err);

/* Open a transaction (sql: "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ...), commit it, roll
 * it back (a no-op outside a transaction or on a broken connection). Return 0 or -1 with err. A connection lost
 * between begin and commit or rollback is not replaced (ss_pgconn_connect fails) until the caller rolls back;
 * a commit the server answers with ROLLBACK (the transaction had failed) is a failure. */
int ss_pgconn_begin(ss_pgconn *c, const char *sql, ss_error *err);
int ss_pgconn_commit(ss_pgconn *c, ss_error *err);
void ss_pgconn_rollback(ss_pgconn *c);

/* Is a transaction open on the connection? */
bool ss_pgconn_in_transaction(ss_pgconn *c);

/* The ss_code of a server error by its SQLSTATE (NULL: the client library failed, e.g. the connection):
 * connection failures (class 08, 57P01-57P03 shutdown, 53300 too many connections, NULL) -> SS_ERR_UNAVAILABLE;
 * 40001 serialization failure, 40P01 deadlock, 55P03 lock timeout, 57014 statement timeout -> SS_ERR_BUSY;
 * 53100 disk full -> SS_ERR_STORAGE_FULL; 25006 read-only transaction -> SS_ERR_READ_ONLY; else SS_ERR_DB. */
ss_code ss_pgconn_code(const char *sqlstate);

/* A result's column as a string, number, integer or boolean. A NULL column reads as NULL / NaN / 0 / false. */
const char *ss_pg_str(const PGresult *r, int row, int col);
double ss_pg_num(const PGresult *r, int row, int col);
int64_t ss_pg_int(const PGresult *r, int row, int col);
bool ss_pg_bool(const PGresult *r, int row, int col);

/* Normalise a time string the SQLite backend accepts ("YYYY-MM-DD HH:MM[:SS[.fff]]", 'T' or ' ' between date
 * and time, an optional trailing 'Z') into "YYYY-MM-DD HH:MM:SS" in out. Returns out, or NULL when s is NULL or
 * not such a string (the caller then uses now). */
const char *ss_pg_time_text(const char *s, char out[20]);

#endif
