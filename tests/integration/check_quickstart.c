/* tools/quickstart.sh, run for real with this build (--build, --no-deps) in a scratch data dir:
 * a port another program holds is reported (exit non-zero, the port named, --port suggested) instead of a
 * success message; a second run over a database that already has keys prints the exact songscope-admin
 * command that makes one. Each run is its own process group, always stopped, and nothing of it may be left
 * running afterwards. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"
#include "tests/integration/harness.h"

/* A listening socket on a free loopback port; the port in *port. */
static int occupy_port(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	socklen_t len = sizeof sa;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

typedef struct run {
	pid_t pid; /* also its process group */
	char out[400];
} run;

/* Start quickstart.sh --port port --data dir --build BUILDDIR --no-deps in its own process group, output to
 * dir.outN (n: 1..9); with sigint_ignored, SIGINT ignored as a non-interactive shell leaves it for a command
 * started with `&`. */
static void start_with(run *r, const char *dir, int port, int n, bool sigint_ignored)
{
	char script[512], build[512], portarg[16];
	snprintf(script, sizeof script, "%s/tools/quickstart.sh", ss_it_srcdir());
	snprintf(build, sizeof build, "%s", ss_it_builddir());
	snprintf(portarg, sizeof portarg, "%d", port);
	snprintf(r->out, sizeof r->out, "%s.out%d", dir, n);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		setpgid(0, 0);
		if (sigint_ignored)
			signal(SIGINT, SIG_IGN);
		int fd = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);
		if (fd < 0 || in < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		dup2(in, 0);
		execl("/bin/sh", "sh", script, "--port", portarg, "--data", dir, "--build", build, "--no-deps", (char *)NULL);
		_exit(127);
	}
	setpgid(r->pid, r->pid);
}

static void start(run *r, const char *dir, int port, int n)
{
	start_with(r, dir, port, n, false);
}

static const char *output(const run *r)
{
	static char buf[8192];
	FILE *f = fopen(r->out, "r");
	if (f == NULL)
		return "";
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Wait (bounded: 60 s) until r exits by itself or its output contains `until` (when not NULL). Returns the
 * exit status, -2 when `until` appeared with r still running, -1 on timeout. */
static int wait_for(run *r, const char *until)
{
	for (int i = 0; i < 6000; i++) {
		int st;
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			r->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (until != NULL && strstr(output(r), until) != NULL)
			return -2;
		poll(NULL, 0, 10);
	}
	return -1;
}

/* Stop r's whole process group (TERM, bounded wait, then KILL) and reap it. */
static void stop(run *r)
{
	if (r->pid <= 0)
		return;
	kill(-r->pid, SIGTERM);
	if (wait_for(r, NULL) == -1) {
		kill(-r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
	}
	r->pid = 0;
}

/* No process is left whose command line names dir (songscope, nginx). */
static void assert_nothing_left(const char *dir)
{
	for (int i = 0; i < 500; i++) {
		bool found = false;
		DIR *d = opendir("/proc");
		ck_assert_ptr_nonnull(d);
		struct dirent *e;
		while ((e = readdir(d)) != NULL && !found) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			char path[300], cmd[4096];
			snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
			FILE *f = fopen(path, "r");
			if (f == NULL)
				continue;
			size_t n = fread(cmd, 1, sizeof cmd - 1, f);
			fclose(f);
			for (size_t k = 0; k < n; k++)
				if (cmd[k] == '\0')
					cmd[k] = ' ';
			cmd[n] = '\0';
			found = strstr(cmd, dir) != NULL;
		}
		closedir(d);
		if (!found)
			return;
		poll(NULL, 0, 10);
	}
	ck_abort_msg("processes of the quickstart in %s are still running", dir);
}

static void scratch(char *dir, size_t len)
{
	ck_assert_int_eq(ss_scratch_path(dir, len, "ss-quickstart-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* The data folder and the runs' outputs beside it (start's dir.out1, dir.out2, ...). */
static void remove_scratch(const char *dir)
{
	ck_assert_int_eq(ss_scratch_remove(dir), 0);
	for (int n = 1; n <= 9; n++) {
		char out[420];
		snprintf(out, sizeof out, "%s.out%d", dir, n);
		ck_assert_int_eq(ss_scratch_remove(out), 0);
	}
}

START_TEST(a_port_in_use_is_reported)
{
	char dir[256];
	scratch(dir, sizeof dir);
	int port;
	int fd = occupy_port(&port);
	run r = {0};
	start(&r, dir, port, 1);
	int st = wait_for(&r, NULL);
	const char *out = output(&r);
	stop(&r);
	close(fd);
	assert_nothing_left(dir);
	ck_assert_msg(st > 0, "quickstart exited %d with port %d in use: %s", st, port, out);
	char want[32];
	snprintf(want, sizeof want, "%d", port);
	ck_assert_msg(strstr(out, want) != NULL && strstr(out, "--port") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "is running on") == NULL, "claimed success: %s", out);
	remove_scratch(dir);
}
END_TEST

START_TEST(a_second_run_says_how_to_make_a_key)
{
	char dir[256];
	scratch(dir, sizeof dir);
	int port;
	int fd = occupy_port(&port);
	close(fd); /* free again: quickstart's nginx takes it */
	run r = {0};
	start(&r, dir, port, 1);
	int st = wait_for(&r, "Ctrl-C stops everything");
	const char *out = output(&r);
	ck_assert_msg(st == -2, "first run: %d: %s", st, out);
	ck_assert_msg(strstr(out, "Admin API key") != NULL && strstr(out, "X-API-Key: ") != NULL, "%s", out);
	stop(&r);
	assert_nothing_left(dir);

	start(&r, dir, port, 2);
	st = wait_for(&r, "Ctrl-C stops everything");
	out = output(&r);
	if (st != -2)
		stop(&r);
	ck_assert_msg(st == -2, "second run: %d: %s", st, out);
	char want[600];
	snprintf(want, sizeof want, "songscope-admin --config %s/songscope.conf keys create", dir);
	ck_assert_msg(strstr(out, want) != NULL, "no '%s' in: %s", want, out);
	ck_assert_msg(strstr(out, "X-API-Key: $KEY") != NULL, "%s", out);
	stop(&r);
	assert_nothing_left(dir);
	remove_scratch(dir);
}
END_TEST

/* `tools/quickstart.sh &` from a script: the shell starts it with SIGINT ignored, and a shell may not trap a
 * signal it was started with ignored, so an interrupt sent to it (kill -INT, or a runner's Ctrl-C) did
 * nothing. It must still stop everything and say so. */
START_TEST(an_interrupt_stops_it_when_started_in_the_background)
{
	char dir[256];
	scratch(dir, sizeof dir);
	int port;
	int fd = occupy_port(&port);
	close(fd);
	run r = {0};
	start_with(&r, dir, port, 1, true);
	int st = wait_for(&r, "Ctrl-C stops everything");
	const char *out = output(&r);
	if (st != -2)
		stop(&r);
	ck_assert_msg(st == -2, "start: %d: %s", st, out);
	ck_assert_int_eq(kill(r.pid, SIGINT), 0); /* the script alone, as `kill -INT` does */
	st = wait_for(&r, NULL);
	out = output(&r);
	if (st == -1)
		stop(&r);
	ck_assert_msg(st != -1, "quickstart ignored SIGINT for 60 s: %s", out);
	ck_assert_msg(strstr(out, "quickstart: stopped") != NULL, "exit %d: %s", st, out);
	assert_nothing_left(dir);
	remove_scratch(dir);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "nginx not found (SS_NGINX); skipping the quickstart tests\n");
		return 77;
	}
	Suite *s = suite_create("quickstart");
	TCase *tc = tcase_create("quickstart");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_port_in_use_is_reported);
	tcase_add_test(tc, a_second_run_says_how_to_make_a_key);
	tcase_add_test(tc, an_interrupt_stops_it_when_started_in_the_background);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
