/* songscope-hello: the ceiling for the HTTP benchmark. A bare libfcgi responder answering every request with
 * a fixed JSON body, preforked like songscope (N processes accepting on one unix socket), so the benchmark can
 * put it behind the same nginx and compare. Not installed; not a server to run for anything else.
 * Usage: songscope-hello --listen PATH [--workers N] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int serve(int fd)
{
	FCGX_Request req;
	if (FCGX_InitRequest(&req, fd, 0) != 0)
		return 1;
	static const char body[] = "{\"status\":\"ok\",\"server\":\"hello\"}\n";
	while (!stop && FCGX_Accept_r(&req) == 0) {
		FCGX_FPrintF(req.out, "Status: 200\r\nContent-Type: application/json\r\nContent-Length: %u\r\n\r\n",
			     (unsigned)(sizeof body - 1));
		FCGX_PutStr(body, (int)(sizeof body - 1), req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int workers = 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
			workers = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: songscope-hello --listen PATH [--workers N]\n");
			return 2;
		}
	}
	if (path == NULL || workers < 1 || workers > 64) {
		fprintf(stderr, "usage: songscope-hello --listen PATH [--workers N]\n");
		return 2;
	}
	if (FCGX_Init() != 0)
		return 1;
	unlink(path);
	int fd = FCGX_OpenSocket(path, 128);
	if (fd < 0) {
		fprintf(stderr, "songscope-hello: cannot listen on %s\n", path);
		return 1;
	}
	chmod(path, 0660);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	pid_t kids[64];
	int n = 0;
	for (; n < workers; n++) {
		kids[n] = fork();
		if (kids[n] < 0)
			break;
		if (kids[n] == 0) {
			/* Default action in the children: a TERM ends a blocked accept at once. */
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			_exit(serve(fd));
		}
	}
	while (!stop)
		pause();
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGTERM);
	for (int i = 0; i < n; i++)
		while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
			;
	unlink(path);
	return 0;
}
