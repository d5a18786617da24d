#include "tests/integration/pg_server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tests/fixtures/scratch.h"

#define PG_USER "songscope" /* the cluster's superuser, named at initdb */

const char *ss_pg_server_bindir(void)
{
	const char *d = getenv("SS_PG_BINDIR");
	return d != NULL && d[0] != '\0' ? d : "/usr/lib/postgresql/15/bin";
}

static void tool(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", ss_pg_server_bindir(), name);
}

bool ss_pg_server_available(void)
{
	char a[512], b[512];
	tool(a, sizeof a, "initdb");
	tool(b, sizeof b, "pg_ctl");
	return access(a, X_OK) == 0 && access(b, X_OK) == 0;
}

bool ss_pg_server_or_skip(void)
{
	if (ss_pg_server_available())
		return true;
	printf("SKIP: PostgreSQL is not installed (no %s/initdb; tools/install-deps.sh installs postgresql-15)\n",
	       ss_pg_server_bindir());
	return false;
}

static void set_msg(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t len, const char *fmt, ...)
{
	if (msg == NULL || len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

/* Append the last bytes of the file at path to msg. */
static void add_tail(char *msg, size_t len, const char *path)
{
	if (msg == NULL)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[600];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
	ssize_t got = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (got <= 0)
		return;
	buf[got] = '\0';
	size_t used = strlen(msg);
	if (used + 2 < len)
		snprintf(msg + used, len - used, "; %s: ...%s", path, buf);
}

/* Run argv (argv[0] a path) as the server's user with stdout and stderr appended to dir/tools.log; the child
 * cannot outlive its tool (pg_ctl itself bounds how long it waits). Returns the exit status or -1. */
static int run(ss_pg_server *pg, char *const argv[])
{
	char log[400];
	snprintf(log, sizeof log, "%s/tools.log", pg->dir);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (pg->as_other && (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0))
			_exit(126);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir(pg->dir) != 0)
			_exit(126);
		/* The test's own libpq settings must not steer the tools. */
		unsetenv("PGHOST");
		unsetenv("PGPORT");
		unsetenv("PGDATA");
		unsetenv("PGUSER");
		unsetenv("PGDATABASE");
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int pg_ctl(ss_pg_server *pg, const char *action)
{
	char bin[512], data[400], log[400];
	tool(bin, sizeof bin, "pg_ctl");
	snprintf(data, sizeof data, "%s/data", pg->dir);
	snprintf(log, sizeof log, "%s/server.log", pg->dir);
	if (strcmp(action, "stop") == 0) {
		char *argv[] = {bin, "-D", data, "-m", "immediate", "-w", "-t", "30", "stop", NULL};
		return run(pg, argv);
	}
	char *argv[] = {bin, "-D", data, "-l", log, "-w", "-t", "60", "start", NULL};
	return run(pg, argv);
}

static int write_settings(ss_pg_server *pg)
{
	char path[400];
	snprintf(path, sizeof path, "%s/data/postgresql.conf", pg->dir);
	FILE *f = fopen(path, "a");
	if (f == NULL)
		return -1;
	/* No TCP at all; the socket in the test's folder. fsync off (the operating system keeps what was written
	 * when only the server stops), but synchronous_commit stays on: a commit is written before it is
	 * acknowledged, so that a stop like a crash (ss_pg_server_stop) loses nothing acknowledged. */
	fprintf(f,
		"\n# songscope test server\nlisten_addresses = ''\nunix_socket_directories = '%s'\nport = 5432\n"
		"fsync = off\nfull_page_writes = off\nmax_connections = 60\n"
		"shared_buffers = 16MB\nlog_min_messages = warning\nTimeZone = 'UTC'\n",
		pg->dir);
	return fclose(f) == 0 ? 0 : -1;
}

static int create_db(ss_pg_server *pg, char *msg, size_t msglen)
{
	char ci[600];
	snprintf(ci, sizeof ci, "host=%s port=5432 dbname=postgres user=" PG_USER " connect_timeout=10", pg->dir);
	PGconn *c = PQconnectdb(ci);
	int rc = -1;
	if (PQstatus(c) != CONNECTION_OK) {
		set_msg(msg, msglen, "cannot connect to the test PostgreSQL: %s", PQerrorMessage(c));
	} else {
		PGresult *r = PQexec(c, "CREATE DATABASE " SS_PG_SERVER_DB);
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			rc = 0;
		else
			set_msg(msg, msglen, "CREATE DATABASE failed: %s", PQerrorMessage(c));
		PQclear(r);
	}
	PQfinish(c);
	return rc;
}

/* Choose who runs the server: root may not, so "postgres" (from the package) or else "nobody". */
static int pick_user(ss_pg_server *pg, char *msg, size_t msglen)
{
	if (geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam("postgres");
	if (pw == NULL)
		pw = getpwnam("nobody");
	if (pw == NULL) {
		set_msg(msg, msglen, "running as root and neither user postgres nor nobody exists to run PostgreSQL");
		return -1;
	}
	pg->as_other = true;
	pg->uid = pw->pw_uid;
	pg->gid = pw->pw_gid;
	return 0;
}

/* A child that waits for its parent's death (PR_SET_PDEATHSIG) and then stops the server. 0 or -1. */
static int start_watcher(ss_pg_server *pg)
{
	pid_t parent = getpid();
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old); /* no SIGTERM is lost between fork and sigwait */
	pid_t pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (pid == 0) {
		int sig = 0;
		/* A group of its own: a test runner that kills the test's process group after a failure or a
		 * timeout (Check does) must not take the watcher with it before it stopped the server. */
		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
			_exit(1);
		if (getppid() == parent) /* else the parent is already gone */
			sigwait(&term, &sig);
		/* the parent died (or destroy stopped the server and sends SIGKILL instead): stop it */
		pg->watcher = 0;
		char bin[512], data[400];
		tool(bin, sizeof bin, "pg_ctl");
		snprintf(data, sizeof data, "%s/data", pg->dir);
		char *argv[] = {bin, "-D", data, "-m", "immediate", "-w", "-t", "30", "stop", NULL};
		run(pg, argv);
		_exit(0);
	}
	setpgid(pid, pid); /* from both sides: the group is the watcher's own before start returns */
	sigprocmask(SIG_SETMASK, &old, NULL);
	pg->watcher = pid;
	return 0;
}

static void stop_watcher(ss_pg_server *pg)
{
	if (pg->watcher <= 0)
		return;
	kill(pg->watcher, SIGKILL);
	while (waitpid(pg->watcher, NULL, 0) < 0 && errno == EINTR)
		;
	pg->watcher = 0;
}

int ss_pg_server_start(ss_pg_server *pg, const char *parent, char *msg, size_t msglen)
{
	memset(pg, 0, sizeof *pg);
	if (!ss_pg_server_available()) {
		set_msg(msg, msglen, "PostgreSQL is not installed (no %s/initdb)", ss_pg_server_bindir());
		return -1;
	}
	if (parent == NULL) {
		if (ss_scratch_path(pg->parent, sizeof pg->parent, "ss-pg-XXXXXX") != 0) {
			set_msg(msg, msglen, "the scratch directory's name is too long: %s", ss_scratch_dir());
			return -1;
		}
		if (mkdtemp(pg->parent) == NULL) {
			set_msg(msg, msglen, "mkdtemp: %s", strerror(errno));
			pg->parent[0] = '\0';
			return -1;
		}
		chmod(pg->parent, 0755);
		pg->own_parent = true;
		parent = pg->parent;
	}
	snprintf(pg->dir, sizeof pg->dir, "%s/pg", parent);
	if (pick_user(pg, msg, msglen) != 0)
		return -1;
	if (mkdir(pg->dir, 0755) != 0) {
		set_msg(msg, msglen, "mkdir %s: %s", pg->dir, strerror(errno));
		return -1;
	}
	if (pg->as_other && chown(pg->dir, pg->uid, pg->gid) != 0) {
		set_msg(msg, msglen, "chown %s: %s", pg->dir, strerror(errno));
		return -1;
	}
	char bin[512], data[400], tlog[400];
	tool(bin, sizeof bin, "initdb");
	snprintf(data, sizeof data, "%s/data", pg->dir);
	snprintf(tlog, sizeof tlog, "%s/tools.log", pg->dir);
	char *argv[] = {bin, "-D", data, "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", NULL};
	if (run(pg, argv) != 0) {
		set_msg(msg, msglen, "initdb failed (as uid %ld)", (long)(pg->as_other ? pg->uid : geteuid()));
		add_tail(msg, msglen, tlog);
		return -1;
	}
	if (write_settings(pg) != 0) {
		set_msg(msg, msglen, "cannot write postgresql.conf: %s", strerror(errno));
		return -1;
	}
	/* The watcher first: a test killed at any moment after this (a runner's timeout) still has the server
	 * stopped, also one killed while pg_ctl start runs or before start returns. */
	if (start_watcher(pg) != 0) {
		set_msg(msg, msglen, "fork: %s", strerror(errno));
		return -1;
	}
	if (ss_pg_server_restart(pg) != 0) {
		char slog[400];
		snprintf(slog, sizeof slog, "%s/server.log", pg->dir);
		set_msg(msg, msglen, "pg_ctl start failed");
		add_tail(msg, msglen, tlog);
		add_tail(msg, msglen, slog);
		stop_watcher(pg);
		return -1;
	}
	/* this harness's own test (check_store_pg): die as a test killed now would, its server just started */
	if (getenv("SS_PG_SERVER_DIE_AFTER_START") != NULL)
		_exit(9);
	if (create_db(pg, msg, msglen) != 0) {
		stop_watcher(pg);
		ss_pg_server_stop(pg);
		return -1;
	}
	snprintf(pg->conninfo, sizeof pg->conninfo, "host=%s port=5432 dbname=" SS_PG_SERVER_DB " user=" PG_USER,
		 pg->dir);
	return 0;
}

int ss_pg_server_stop(ss_pg_server *pg)
{
	if (!pg->running)
		return 0;
	int rc = pg_ctl(pg, "stop");
	if (rc == 0)
		pg->running = false;
	return rc == 0 ? 0 : -1;
}

int ss_pg_server_restart(ss_pg_server *pg)
{
	if (pg->running)
		return 0;
	if (pg_ctl(pg, "start") != 0) {
		/* pg_ctl gave up waiting: make sure no half-started server stays behind */
		pg->running = true;
		ss_pg_server_stop(pg);
		pg->running = false;
		return -1;
	}
	pg->running = true;
	return 0;
}

/* The postmaster of the data directory, from its postmaster.pid, when it is alive; else 0. */
static pid_t postmaster(const ss_pg_server *pg)
{
	char path[420];
	snprintf(path, sizeof path, "%s/data/postmaster.pid", pg->dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	long v = 0;
	if (fscanf(f, "%ld", &v) != 1)
		v = 0;
	fclose(f);
	if (v <= 1 || kill((pid_t)v, 0) != 0)
		return 0;
	/* the file may be stale: only a process that is a postgres binary is the server */
	char exe[64], target[512];
	snprintf(exe, sizeof exe, "/proc/%ld/exe", v);
	ssize_t n = readlink(exe, target, sizeof target - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	return strcmp(base != NULL ? base + 1 : target, "postgres") == 0 ? (pid_t)v : 0;
}

/* Whatever the bookkeeping says (a start that pg_ctl reported as failed and that came up later, a stop that
 * failed), no server may outlive its folder: a postmaster still named by postmaster.pid gets SIGQUIT (immediate
 * shutdown), then SIGKILL, polling (bounded, 10 s) until it is gone. */
static void reap_postmaster(const ss_pg_server *pg)
{
	pid_t pid = postmaster(pg);
	for (int i = 0; pid > 0 && i < 1000 && kill(pid, 0) == 0; i++) {
		kill(pid, i < 500 ? SIGQUIT : SIGKILL);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void ss_pg_server_destroy(ss_pg_server *pg)
{
	if (pg->dir[0] == '\0')
		return;
	stop_watcher(pg);
	ss_pg_server_stop(pg);
	reap_postmaster(pg);
	if (getenv("SS_KEEP_TEST_DIRS") == NULL) {
		ss_scratch_remove(pg->dir);
		if (pg->own_parent)
			rmdir(pg->parent);
	}
	pg->dir[0] = '\0';
	pg->running = false;
}

int ss_pg_server_query(const ss_pg_server *pg, const char *sql, ss_buf *out)
{
	PGconn *c = PQconnectdb(pg->conninfo);
	int rc = -1;
	if (PQstatus(c) != CONNECTION_OK) {
		ss_buf_printf(out, "connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK) {
		rc = 0;
		for (int i = 0; i < PQntuples(r) && rc == 0; i++)
			for (int k = 0; k < PQnfields(r) && rc == 0; k++)
				rc = ss_buf_printf(out, "%s%s", PQgetisnull(r, i, k) ? "(null)" : PQgetvalue(r, i, k),
						   k + 1 < PQnfields(r) ? "|" : "\n");
	} else {
		ss_buf_printf(out, "%s", PQresultErrorMessage(r));
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}
