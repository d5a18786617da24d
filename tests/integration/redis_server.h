/* A real redis-server for a test: started as the current user on a unix socket in a directory the test owns
 * (no TCP port, nothing saved), stopped always. */
#ifndef SS_TESTS_REDIS_SERVER_H
#define SS_TESTS_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct ss_redis_server {
	char socket[300]; /* DIR/redis.sock */
	char log[300];    /* DIR/redis.log */
	pid_t pid;        /* 0 when not running */
} ss_redis_server;

/* True when a redis-server can be run (on PATH, or $SS_REDIS_SERVER). Tests skip (exit 77) otherwise. */
bool ss_redis_available(void);

/* ss_redis_available, and when it is false a "SKIP: redis-server is not installed" line on stderr, for a test
 * program's main to return 77 after. */
bool ss_redis_or_skip(void);

/* Start redis-server with its socket and log in dir (an existing directory, path short enough for a unix
 * socket) and wait (bounded, 15 s) until it answers PING. Also restarts a stopped server on the same socket.
 * Returns 0, or -1 with a message on stderr (the log's tail). */
int ss_redis_start(ss_redis_server *r, const char *dir);

/* Stop it (SIGTERM, bounded wait, then SIGKILL) and wait for the process. A no-op when not running. */
void ss_redis_stop(ss_redis_server *r);

/* Run one command (argv-style, NULL-terminated) and return the reply as text in out (integers and statuses
 * printed, nil as "(nil)", errors as "ERR..."; arrays not supported). Returns 0, or -1 on a connection error. */
int ss_redis_command(const ss_redis_server *r, char *out, size_t outlen, const char *const *argv);

#endif
