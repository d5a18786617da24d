#include "tests/integration/redis_server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Between polls of a condition that has no event to wait on. */
static void brief_pause(void)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static const char *server_path(void)
{
	static char found[512];
	const char *env = getenv("SS_REDIS_SERVER");
	if (env != NULL && env[0] != '\0')
		return access(env, X_OK) == 0 ? env : NULL;
	const char *path = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/bin:/usr/local/bin", path ? path : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof found, "%s/redis-server", d);
		if (access(found, X_OK) == 0)
			return found;
	}
	return NULL;
}

bool ss_redis_available(void)
{
	return server_path() != NULL;
}

bool ss_redis_or_skip(void)
{
	if (ss_redis_available())
		return true;
	fprintf(stderr, "SKIP: redis-server is not installed (tools/install-deps.sh installs it)\n");
	return false;
}

static void log_tail(const ss_redis_server *r)
{
	FILE *f = fopen(r->log, "r");
	if (f == NULL)
		return;
	char line[512];
	fprintf(stderr, "---- %s ----\n", r->log);
	while (fgets(line, sizeof line, f) != NULL)
		fputs(line, stderr);
	fclose(f);
}

int ss_redis_command(const ss_redis_server *r, char *out, size_t outlen, const char *const *argv)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectUnixWithTimeout(r->socket, tv);
	if (c == NULL || c->err != 0) {
		if (c != NULL)
			redisFree(c);
		return -1;
	}
	redisSetTimeout(c, tv);
	int argc = 0;
	while (argv[argc] != NULL)
		argc++;
	redisReply *rep = redisCommandArgv(c, argc, (const char **)argv, NULL);
	int rc = 0;
	if (rep == NULL)
		rc = -1;
	else if (rep->type == REDIS_REPLY_INTEGER)
		snprintf(out, outlen, "%lld", rep->integer);
	else if (rep->type == REDIS_REPLY_NIL)
		snprintf(out, outlen, "(nil)");
	else if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_ERROR)
		snprintf(out, outlen, "%s", rep->str);
	else
		snprintf(out, outlen, "(array)");
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(c);
	return rc;
}

int ss_redis_start(ss_redis_server *r, const char *dir)
{
	const char *bin = server_path();
	if (bin == NULL) {
		fprintf(stderr, "redis-server is not installed\n");
		return -1;
	}
	if (r->pid > 0)
		ss_redis_stop(r);
	snprintf(r->socket, sizeof r->socket, "%s/redis.sock", dir);
	snprintf(r->log, sizeof r->log, "%s/redis.log", dir);
	unlink(r->socket);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* a test that dies (an abort, a crash) takes its server along */
		/* 0777: the socket is in the test's own directory; responders a web server spawns as its own user
		 * (Apache's mod_fcgid runs them as www-data) must reach it as the service's do in production */
		execl(bin, bin, "--port", "0", "--unixsocket", r->socket, "--unixsocketperm", "777", "--save", "",
		      "--appendonly", "no", "--daemonize", "no", "--dir", dir, "--logfile", r->log, (char *)NULL);
		_exit(127);
	}
	r->pid = pid;
	double deadline = now_mono() + 15.0;
	const char *ping[] = {"PING", NULL};
	char out[64];
	while (now_mono() < deadline) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			r->pid = 0;
			fprintf(stderr, "redis-server exited at start (status %#x)\n", st);
			log_tail(r);
			return -1;
		}
		if (ss_redis_command(r, out, sizeof out, ping) == 0 && strcmp(out, "PONG") == 0)
			return 0;
		brief_pause();
	}
	fprintf(stderr, "redis-server did not answer PING within 15 s\n");
	log_tail(r);
	ss_redis_stop(r);
	return -1;
}

void ss_redis_stop(ss_redis_server *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGTERM);
	double deadline = now_mono() + 10.0;
	int st;
	for (;;) {
		pid_t w = waitpid(r->pid, &st, WNOHANG);
		if (w == r->pid || (w < 0 && errno != EINTR))
			break;
		if (now_mono() > deadline) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &st, 0);
			break;
		}
		brief_pause();
	}
	r->pid = 0;
}
