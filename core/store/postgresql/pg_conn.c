#include "core/store/postgresql/pg_conn.h"

#include <assert.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/timefmt.h"

/* One statement prepared on the current connection. */
typedef struct prepared {
	const char *sql; /* the caller's static string: the key */
	char name[16];
} prepared;

struct ss_pgconn {
	char *conninfo;
	char describe[256];
	PGconn *conn;       /* NULL when not connected */
	int lock_timeout_ms;
	double retry_at;    /* monotonic time before which a failed connect is not tried again */
	bool tx;            /* a transaction was begun and not yet committed or rolled back */
	prepared *stmts;
	size_t nstmts, capstmts;
	unsigned next_name;
};

static void no_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* library code never prints; NOTICEs such as "already exists, skipping" are expected */
}

static void make_describe(ss_pgconn *c)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(c->conninfo, &errmsg);
	PQfreemem(errmsg);
	size_t used = 0;
	c->describe[0] = '\0';
	static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user"};
	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
			if (strcmp(o->keyword, shown[i]) != 0)
				continue;
			int n = snprintf(c->describe + used, sizeof c->describe - used, "%s%s=%s", used ? " " : "",
					 o->keyword, o->val);
			if (n > 0 && (size_t)n < sizeof c->describe - used)
				used += (size_t)n;
		}
	}
	PQconninfoFree(opts);
	if (c->describe[0] == '\0')
		snprintf(c->describe, sizeof c->describe, "(libpq defaults)");
}

ss_pgconn *ss_pgconn_new(const char *conninfo, int lock_timeout_ms)
{
	ss_pgconn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->conninfo = strdup(conninfo != NULL ? conninfo : "");
	if (c->conninfo == NULL) {
		free(c);
		return NULL;
	}
	c->lock_timeout_ms = lock_timeout_ms > 0 ? lock_timeout_ms : 5000;
	make_describe(c);
	return c;
}

int ss_pgconn_lock_timeout(const ss_pgconn *c)
{
	return c->lock_timeout_ms;
}

static void disconnect(ss_pgconn *c)
{
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = NULL;
	c->nstmts = 0; /* statements belong to the connection */
}

void ss_pgconn_disconnect(ss_pgconn *c)
{
	disconnect(c);
}

void ss_pgconn_free(ss_pgconn *c)
{
	if (c == NULL)
		return;
	disconnect(c);
	free(c->stmts);
	free(c->conninfo);
	free(c);
}

bool ss_pgconn_connected(const ss_pgconn *c)
{
	return c->conn != NULL;
}

PGconn *ss_pgconn_handle(ss_pgconn *c)
{
	return c->conn;
}

const char *ss_pgconn_describe(const ss_pgconn *c)
{
	return c->describe;
}

/* libpq's messages end with a newline and may run over several lines: the first line only. */
static void first_line(char *dst, size_t cap, const char *msg)
{
	if (msg == NULL || msg[0] == '\0')
		msg = "no reason given";
	size_t n = strcspn(msg, "\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, msg, n);
	dst[n] = '\0';
}

int ss_pgconn_connect(ss_pgconn *c, bool force, ss_error *err)
{
	if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK)
		return 0;
	disconnect(c);
	/* The server rolled the transaction back with the connection: carrying on over a new connection would write the
	 * rest on its own and commit nothing of what came before. The caller rolls back first. */
	if (c->tx)
		return ss_error_set(err, SS_ERR_UNAVAILABLE,
				    "database %s: the connection was lost inside a transaction (rolled back by the server)",
				    c->describe);
	double now = ss_time_mono();
	if (!force && now < c->retry_at)
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "database %s is unreachable (retrying shortly)", c->describe);
	c->retry_at = now + SS_PG_RECONNECT_PAUSE_S;
	/* Later entries override earlier ones, and the expanded conninfo overrides the defaults before it. */
	char timeout[16];
	snprintf(timeout, sizeof timeout, "%d", SS_PG_CONNECT_TIMEOUT_S);
	const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *const vals[] = {timeout, "songscope", c->conninfo, NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory connecting to the database");
	if (PQstatus(conn) != CONNECTION_OK) {
		char why[200];
		first_line(why, sizeof why, PQerrorMessage(conn));
		PQfinish(conn);
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "database %s: cannot connect: %s", c->describe, why);
	}
	PQsetNoticeProcessor(conn, no_notices, NULL);
	c->conn = conn;
	char set[256];
	snprintf(set, sizeof set,
		 "SET TimeZone = 'UTC'; SET statement_timeout = %d; SET lock_timeout = %d", SS_PG_STATEMENT_TIMEOUT_MS,
		 c->lock_timeout_ms);
	if (ss_pgconn_exec(c, set, "setting up the connection", err) != 0) {
		disconnect(c);
		return -1;
	}
	return 1;
}

bool ss_pgconn_alive(ss_pgconn *c)
{
	if (c->conn == NULL)
		return false;
	if (PQstatus(c->conn) != CONNECTION_OK)
		return false;
	int fd = PQsocket(c->conn);
	if (fd < 0)
		return false;
	/* Nothing is expected between statements: what arrives is a notice (a server shutting down sends one) or
	 * the end of the connection, which the next read reports. */
	for (int i = 0; i < 4; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0)
			break;
		if (PQconsumeInput(c->conn) == 0 || PQstatus(c->conn) != CONNECTION_OK)
			return false;
		PGnotify *n;
		while ((n = PQnotifies(c->conn)) != NULL)
			PQfreemem(n);
	}
	return true;
}

void ss_pgparams_init(ss_pgparams *p)
{
	p->n = 0;
}

static int slot(ss_pgparams *p)
{
	assert(p->n < SS_PG_PARAMS_MAX);
	int i = p->n++;
	p->len[i] = 0;
	p->fmt[i] = 0;
	return i;
}

void ss_pgparams_text(ss_pgparams *p, const char *s)
{
	p->val[slot(p)] = s;
}

void ss_pgparams_int(ss_pgparams *p, int64_t v)
{
	int i = slot(p);
	snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
	p->val[i] = p->num[i];
}

void ss_pgparams_num(ss_pgparams *p, double v)
{
	int i = slot(p);
	if (!isfinite(v)) {
		p->val[i] = NULL;
		return;
	}
	snprintf(p->num[i], sizeof p->num[i], "%.17g", v);
	p->val[i] = p->num[i];
}

void ss_pgparams_bool(ss_pgparams *p, bool v)
{
	p->val[slot(p)] = v ? "t" : "f";
}

void ss_pgparams_bytes(ss_pgparams *p, const void *data, int len)
{
	int i = slot(p);
	p->val[i] = data;
	p->len[i] = len;
	p->fmt[i] = 1;
}

ss_code ss_pgconn_code(const char *sqlstate)
{
	if (sqlstate == NULL || sqlstate[0] == '\0')
		return SS_ERR_UNAVAILABLE;
	if (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 || strcmp(sqlstate, "57P02") == 0 ||
	    strcmp(sqlstate, "57P03") == 0 || strcmp(sqlstate, "53300") == 0)
		return SS_ERR_UNAVAILABLE;
	if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0 || strcmp(sqlstate, "55P03") == 0 ||
	    strcmp(sqlstate, "57014") == 0)
		return SS_ERR_BUSY;
	if (strcmp(sqlstate, "53100") == 0)
		return SS_ERR_STORAGE_FULL;
	if (strcmp(sqlstate, "25006") == 0)
		return SS_ERR_READ_ONLY;
	return SS_ERR_DB;
}

/* Report a failed statement (r may be NULL) and drop a connection that broke. Returns -1. */
static int fail(ss_pgconn *c, PGresult *r, const char *what, ss_error *err)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	bool broken = c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK;
	ss_code code = broken ? SS_ERR_UNAVAILABLE : ss_pgconn_code(state);
	char why[200];
	const char *msg = r != NULL ? PQresultErrorMessage(r) : NULL;
	first_line(why, sizeof why, msg != NULL && msg[0] ? msg : c->conn != NULL ? PQerrorMessage(c->conn) : NULL);
	ss_error_set(err, code, "database: %s: %s", what, why);
	if (broken)
		disconnect(c);
	return -1;
}

/* The name of sql's prepared statement on this connection, preparing it the first time. NULL with err. */
static const char *statement(ss_pgconn *c, const char *sql, int nparams, const char *what, ss_error *err)
{
	for (size_t i = 0; i < c->nstmts; i++)
		if (c->stmts[i].sql == sql)
			return c->stmts[i].name;
	if (c->nstmts == c->capstmts) {
		size_t cap = c->capstmts ? 2 * c->capstmts : 32;
		prepared *p = realloc(c->stmts, cap * sizeof *p);
		if (p == NULL) {
			ss_error_set(err, SS_ERR_NOMEM, "out of memory preparing a statement");
			return NULL;
		}
		c->stmts = p;
		c->capstmts = cap;
	}
	prepared *p = &c->stmts[c->nstmts];
	snprintf(p->name, sizeof p->name, "ss%u", c->next_name++);
	PGresult *r = PQprepare(c->conn, p->name, sql, nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fail(c, r, what, err);
		PQclear(r);
		return NULL;
	}
	PQclear(r);
	p->sql = sql;
	c->nstmts++;
	return p->name;
}

/* r when it holds rows or a completed command; otherwise the failure is reported (fail) and r released: NULL. */
static PGresult *result_or_fail(ss_pgconn *c, PGresult *r, const char *what, ss_error *err)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	fail(c, r, what, err);
	PQclear(r);
	return NULL;
}

PGresult *ss_pgconn_run(ss_pgconn *c, const char *sql, const ss_pgparams *p, const char *what, ss_error *err)
{
	if (c->conn == NULL) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "database: %s: not connected", what);
		return NULL;
	}
	int n = p != NULL ? p->n : 0;
	const char *name = statement(c, sql, n, what, err);
	if (name == NULL)
		return NULL;
	PGresult *r = PQexecPrepared(c->conn, name, n, p != NULL ? p->val : NULL, p != NULL ? p->len : NULL,
				     p != NULL ? p->fmt : NULL, 0);
	return result_or_fail(c, r, what, err);
}

PGresult *ss_pgconn_run_once(ss_pgconn *c, const char *sql, const ss_pgparams *p, const char *what, ss_error *err)
{
	if (c->conn == NULL) {
		ss_error_set(err, SS_ERR_UNAVAILABLE, "database: %s: not connected", what);
		return NULL;
	}
	int n = p != NULL ? p->n : 0;
	PGresult *r = PQexecParams(c->conn, sql, n, NULL, p != NULL ? p->val : NULL, p != NULL ? p->len : NULL,
				   p != NULL ? p->fmt : NULL, 0);
	return result_or_fail(c, r, what, err);
}

long long ss_pgconn_stream(ss_pgconn *c, const char *sql, const ss_pgparams *p,
			   int (*fn)(void *arg, const PGresult *r, int row), void *arg, const char *what, ss_error *err)
{
	static const char declare[] = "DECLARE ss_stream NO SCROLL CURSOR FOR ";
	char *q = malloc(sizeof declare + strlen(sql));
	if (q == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	memcpy(q, declare, sizeof declare - 1);
	memcpy(q + sizeof declare - 1, sql, strlen(sql) + 1);
	bool own = !ss_pgconn_in_transaction(c);
	if (own && ss_pgconn_begin(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) != 0) {
		free(q);
		return -1;
	}
	long long n = 0;
	PGresult *r = ss_pgconn_run_once(c, q, p, what, err);
	free(q);
	if (r == NULL) {
		n = -1;
		goto out;
	}
	PQclear(r);
	for (;;) {
		char fetch[64];
		snprintf(fetch, sizeof fetch, "FETCH %d FROM ss_stream", SS_PG_STREAM_BATCH);
		r = PQexec(c->conn, fetch);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fail(c, r, what, err);
			PQclear(r);
			n = -1;
			goto out;
		}
		int rows = PQntuples(r);
		for (int i = 0; i < rows && n >= 0; i++) {
			if (fn(arg, r, i) != 0)
				n = -2;
			else
				n++;
		}
		PQclear(r);
		if (n < 0 || rows < SS_PG_STREAM_BATCH)
			break;
	}
	if (c->conn != NULL) {
		r = PQexec(c->conn, "CLOSE ss_stream");
		PQclear(r);
	}
out:
	if (own) {
		if (n >= 0 && ss_pgconn_commit(c, err) != 0)
			n = -1;
		ss_pgconn_rollback(c);
	}
	return n;
}

long long ss_pgconn_run_count(ss_pgconn *c, const char *sql, const ss_pgparams *p, const char *what, ss_error *err)
{
	PGresult *r = ss_pgconn_run(c, sql, p, what, err);
	if (r == NULL)
		return -1;
	const char *t = PQcmdTuples(r);
	long long n = t != NULL && t[0] ? strtoll(t, NULL, 10) : 0;
	PQclear(r);
	return n;
}

int ss_pgconn_exec(ss_pgconn *c, const char *sql, const char *what, ss_error *err)
{
	if (c->conn == NULL)
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "database: %s: not connected", what);
	PGresult *r = PQexec(c->conn, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = fail(c, r, what, err);
	PQclear(r);
	return rc;
}

int ss_pgconn_begin(ss_pgconn *c, const char *sql, ss_error *err)
{
	if (ss_pgconn_exec(c, sql != NULL ? sql : "BEGIN", "starting a transaction", err) != 0)
		return -1;
	c->tx = true;
	return 0;
}

int ss_pgconn_commit(ss_pgconn *c, ss_error *err)
{
	if (c->conn == NULL)
		return ss_error_set(err, SS_ERR_UNAVAILABLE, "database %s: the connection was lost before the commit",
				    c->describe);
	/* A transaction the server aborted answers COMMIT with ROLLBACK: that is a failure, not a commit. */
	PGresult *r = PQexec(c->conn, "COMMIT");
	int rc = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = fail(c, r, "committing", err);
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = ss_error_set(err, SS_ERR_DB, "database: committing: the transaction had failed and was rolled back");
	PQclear(r);
	if (rc == 0)
		c->tx = false;
	return rc;
}

void ss_pgconn_rollback(ss_pgconn *c)
{
	if (c->tx && c->conn == NULL)
		c->retry_at = 0; /* the connection was lost, no connect failed: the next one may try at once */
	c->tx = false;
	if (ss_pgconn_in_transaction(c)) {
		PGresult *r = PQexec(c->conn, "ROLLBACK");
		PQclear(r);
	}
}

bool ss_pgconn_in_transaction(ss_pgconn *c)
{
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK)
		return false;
	PGTransactionStatusType t = PQtransactionStatus(c->conn);
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

const char *ss_pg_str(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

double ss_pg_num(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NAN : strtod(PQgetvalue(r, row, col), NULL);
}

int64_t ss_pg_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool ss_pg_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

const char *ss_pg_time_text(const char *s, char out[20])
{
	if (s == NULL || strlen(s) < 16)
		return NULL;
	/* YYYY-MM-DD?HH:MM */
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != ' ' && s[10] != 'T') || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2))
		return NULL;
	const char *rest = s + 16;
	char sec[3] = "00";
	if (rest[0] == ':') {
		if (!digits(rest + 1, 2))
			return NULL;
		sec[0] = rest[1];
		sec[1] = rest[2];
		rest += 3;
		if (rest[0] == '.') {
			rest++;
			while (*rest >= '0' && *rest <= '9')
				rest++;
		}
	}
	if (rest[0] == 'Z')
		rest++;
	if (rest[0] != '\0')
		return NULL;
	int mo = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
	int h = (s[11] - '0') * 10 + (s[12] - '0'), mi = (s[14] - '0') * 10 + (s[15] - '0');
	int se = (sec[0] - '0') * 10 + (sec[1] - '0');
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || se > 59)
		return NULL; /* the server would refuse it: the caller uses now, as SQLite does with a bad date */
	snprintf(out, 20, "%.4s-%.2s-%.2s %.2s:%.2s:%.2s", s, s + 5, s + 8, s + 11, s + 14, sec);
	return out;
}
