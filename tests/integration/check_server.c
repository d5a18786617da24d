/* The responder behind a real nginx: /health, JSON 404/405, a killed responder is replaced, recycling,
 * SIGHUP reload, and SIGTERM stops everything cleanly. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "core/util/jsonutil.h"
#include "tests/integration/fcgi_client.h"
#include "tests/integration/harness.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"

static ss_it_server srv;

static void setup_shared(void)
{
	ss_it_opts o = {.workers = 2, .auth = "off"};
	ss_it_start(&srv, &o);
}

static void teardown_shared(void)
{
	ss_it_stop(&srv);
}

static json_object *get_field(json_object *o, const char *k, json_type t)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, k, &v), "missing field %s", k);
	ck_assert_msg(json_object_is_type(v, t), "field %s has type %s", k, json_type_to_name(json_object_get_type(v)));
	return v;
}

START_TEST(health_reports_healthy_with_client_fields)
{
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	char ct[64];
	ck_assert(ss_it_header(&r, "Content-Type", ct, sizeof ct));
	ck_assert_str_eq(ct, "application/json");
	json_object *o = ss_it_json(&r);
	/* The clients' ServerStatus model requires running (Bool), port (Int), version (String). */
	ck_assert(json_object_get_boolean(get_field(o, "running", json_type_boolean)));
	ck_assert_int_eq(json_object_get_int(get_field(o, "port", json_type_int)), srv.port);
	ck_assert_str_eq(json_object_get_string(get_field(o, "version", json_type_string)), PACKAGE_VERSION);
	ck_assert_str_eq(json_object_get_string(get_field(o, "status", json_type_string)), "healthy");
	ck_assert_str_eq(json_object_get_string(get_field(o, "server", json_type_string)), "songscope");
	const char *ts = json_object_get_string(get_field(o, "timestamp", json_type_string));
	ck_assert_uint_eq(strlen(ts), 19);
	ck_assert(ts[4] == '-' && ts[10] == ' ' && ts[13] == ':');
	ck_assert(json_object_get_double(get_field(o, "uptime", json_type_double)) >= 0);
	json_object_put(o);
	ss_it_resp_free(&r);

	/* Query strings and a trailing slash route to the same endpoint; HEAD is answered without a body. */
	ck_assert_int_eq(ss_it_request(&srv, "GET", "/health/?probe=1", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_request(&srv, "HEAD", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body.len, 0);
	ss_it_resp_free(&r);
}
END_TEST

START_TEST(unknown_paths_get_json_404)
{
	const char *paths[] = {"/", "/nope", "/health/extra", "/HEALTH", "/cache/abc/def", "/health%20"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&srv, "GET", paths[i], NULL, NULL, 0, &r), 0);
		ss_it_assert_error(&r, 404, "not_found");
		ss_it_resp_free(&r);
	}
}
END_TEST

START_TEST(unparsable_requests_get_json_400)
{
	/* nginx refuses a path escaping the root before the responder sees it: still JSON. */
	ss_it_resp r;
	const char *paths[] = {"/%2e%2e/etc/passwd", "/health%00"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		ck_assert_int_eq(ss_it_request(&srv, "GET", paths[i], NULL, NULL, 0, &r), 0);
		ss_it_assert_error(&r, 400, "bad_request");
		ss_it_resp_free(&r);
	}
}
END_TEST

START_TEST(wrong_method_gets_json_405_with_allow)
{
	const char *methods[] = {"POST", "DELETE", "PUT", "PATCH"};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&srv, methods[i], "/health", NULL, "{}", 2, &r), 0);
		ss_it_assert_error(&r, 405, "method_not_allowed");
		char allow[64];
		ck_assert(ss_it_header(&r, "Allow", allow, sizeof allow));
		ck_assert_str_eq(allow, "GET, HEAD");
		ss_it_resp_free(&r);
	}
}
END_TEST

START_TEST(oversized_body_is_refused_as_json)
{
	/* nginx's client_max_body_size (50m in conf/nginx) answers before the responder sees the body; it
	 * must still be JSON, never an HTML error page. */
	size_t n = 51u * 1024 * 1024;
	char *big = calloc(1, n);
	ck_assert_ptr_nonnull(big);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", "/health", NULL, big, n, &r), 0);
	free(big);
	ss_it_assert_error(&r, 413, "payload_too_large");
	ss_it_resp_free(&r);
}
END_TEST

START_TEST(killed_responder_is_replaced)
{
	pid_t kids[8];
	int n = ss_it_children(srv.master_pid, kids, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(kill(kids[0], SIGKILL), 0);
	/* The other responder keeps serving while the master replaces the dead one. */
	for (int i = 0; i < 20; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&srv, "GET", "/health", NULL, NULL, 0, &r), 0);
		ck_assert_int_eq(r.status, 200);
		ss_it_resp_free(&r);
	}
	ck_assert_msg(ss_it_wait_children(srv.master_pid, 2, &kids[0], 1) == 0, "dead responder was not replaced");
	pid_t now[8];
	ck_assert_int_eq(ss_it_children(srv.master_pid, now, 8), 2);
	ck_assert(now[0] == kids[1] || now[1] == kids[1]);
}
END_TEST

/* ---- tests that stop or reconfigure the service get their own instance ---- */

START_TEST(sigterm_stops_everything_cleanly)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 3, .auth = "off"};
	ss_it_start(&s, &o);
	pid_t kids[8];
	int n = ss_it_children(s.master_pid, kids, 8);
	ck_assert_int_eq(n, 3);
	struct stat st;
	ck_assert_int_eq(stat(s.socket, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0660);

	ck_assert_int_eq(ss_it_stop_songscope(&s), 0);
	for (int i = 0; i < n; i++)
		ck_assert_msg(kill(kids[i], 0) != 0 && errno == ESRCH, "responder %d survived", (int)kids[i]);
	ck_assert_msg(stat(s.socket, &st) != 0 && errno == ENOENT, "socket file left behind");

	/* With the service down, nginx still answers in JSON (its error_page), with Retry-After. */
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&s, "GET", "/health", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 503, "busy");
	char ra[16];
	ck_assert(ss_it_header(&r, "Retry-After", ra, sizeof ra));
	ss_it_resp_free(&r);
	ss_it_stop(&s);
}
END_TEST

START_TEST(responders_recycle_after_max_requests)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "off", .extra_conf = "max_requests = 5\n"};
	ss_it_start(&s, &o);
	pid_t first[8];
	ck_assert_int_eq(ss_it_children(s.master_pid, first, 8), 2);
	for (int i = 0; i < 40; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_request(&s, "GET", "/health", NULL, NULL, 0, &r), 0);
		ck_assert_msg(r.status == 200, "request %d got %ld: %s", i, r.status, r.body.data);
		ss_it_resp_free(&r);
	}
	/* 40 requests across two responders that each serve at most 5 (+-10%): all were replaced. */
	ck_assert_msg(ss_it_wait_children(s.master_pid, 2, first, 2) == 0, "responders were not recycled");
	ss_it_stop(&s);
}
END_TEST

START_TEST(sighup_reloads_config_and_replaces_responders)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "off"};
	ss_it_start(&s, &o);
	pid_t first[8];
	ck_assert_int_eq(ss_it_children(s.master_pid, first, 8), 2);

	/* A broken config is refused: responders stay. */
	FILE *f = fopen(s.conf, "a");
	fputs("workers = lots\n", f);
	fclose(f);
	ck_assert_int_eq(kill(s.master_pid, SIGHUP), 0);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&s, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	pid_t same[8];
	ck_assert_int_eq(ss_it_children(s.master_pid, same, 8), 2);
	ck_assert((same[0] == first[0] || same[0] == first[1]) && (same[1] == first[0] || same[1] == first[1]));

	/* A valid one with 3 workers: a new generation replaces the old. */
	char text[1024];
	snprintf(text, sizeof text, "database = %s\nstate_file = %s\nauth = off\nworkers = 3\n", s.db, s.state);
	f = fopen(s.conf, "w");
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(kill(s.master_pid, SIGHUP), 0);
	ck_assert_msg(ss_it_wait_children(s.master_pid, 3, first, 2) == 0, "reload did not replace responders");
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(ss_it_request(&s, "GET", "/health", NULL, NULL, 0, &r), 0);
		ck_assert_int_eq(r.status, 200);
		ss_it_resp_free(&r);
	}
	ss_it_stop(&s);
}
END_TEST

/* One responder; then `path` (the database or the state file) becomes unusable under it: replaced by a directory,
 * and the responder killed so that its replacement has to open it. /health must answer 503 "unhealthy" without
 * naming paths. (A path that is unusable from the start stops the service before it is ready: see
 * unusable_data_directory_is_refused_before_ready.) */
static void assert_unhealthy(bool database)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 1, .auth = "off"};
	ss_it_start(&s, &o);
	const char *path = database ? s.db : s.state;
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char p[400];
	/* The responder looks at the state file between requests, on a timer, and rebuilds a missing one: a rebuild
	 * can land between the unlink and the mkdir (seen once in CI). Then the unlink is repeated (bounded). */
	int made = -1;
	for (int attempt = 0; attempt < 100 && made != 0; attempt++) {
		for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
			snprintf(p, sizeof p, "%s%s", path, suffix[i]);
			unlink(p);
		}
		made = mkdir(path, 0700);
		ck_assert_msg(made == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
	}
	ck_assert_int_eq(made, 0);
	pid_t old[4];
	int n = ss_it_children(s.master_pid, old, 4);
	ck_assert_int_eq(n, 1);
	kill(old[0], SIGKILL);
	ck_assert_int_eq(ss_it_wait_children(s.master_pid, 1, old, n), 0);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&s, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 503, "status %ld: %s", r.status, r.body.data);
	json_object *o2 = ss_it_json(&r);
	ck_assert_str_eq(json_object_get_string(get_field(o2, "status", json_type_string)), "unhealthy");
	ck_assert(json_object_get_boolean(get_field(o2, "running", json_type_boolean)));
	/* The reason is logged for the operator but no file path is revealed to the caller. */
	ck_assert(strstr(r.body.data, s.dir) == NULL);
	json_object_put(o2);
	ss_it_resp_free(&r);
	rmdir(path);
	ss_it_stop(&s);
}

START_TEST(unusable_database_makes_health_503)
{
	assert_unhealthy(true);
}
END_TEST

START_TEST(unusable_state_file_makes_health_503)
{
	assert_unhealthy(false);
}
END_TEST

/* Straight to the FastCGI socket: what nginx would never forward. */
static void raw_upload(ss_it_server *s, const char *content_length, const char *body, size_t len, int want_status,
		       const char *want_code, const char *want_text)
{
	char cl[64];
	snprintf(cl, sizeof cl, "CONTENT_LENGTH=%s", content_length);
	const char *params[] = {"REQUEST_METHOD=POST", "PATH_INFO=/analyze_data", "SERVER_PORT=80",
				"REMOTE_ADDR=127.0.0.1", cl, NULL};
	ss_buf out;
	ss_buf_init(&out, 0);
	int status = 0;
	ck_assert_int_eq(ss_fcgi_call(s->socket, params, body, len, &out, &status), 0);
	ck_assert_msg(status == want_status, "CONTENT_LENGTH=%s: status %d: %s", content_length, status, out.data);
	ck_assert_msg(strstr(out.data, want_code) != NULL, "no %s in %s", want_code, out.data);
	if (want_text)
		ck_assert_msg(strstr(out.data, want_text) != NULL, "no '%s' in %s", want_text, out.data);
	ss_buf_free(&out);
}

START_TEST(request_bodies_are_bounded_and_exact)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 1, .auth = "off", .extra_conf = "max_body_bytes = 65536\n"};
	ss_it_start(&s, &o);
	raw_upload(&s, "12x", "x", 1, 400, "\"bad_request\"", "Content-Length");
	raw_upload(&s, "-5", "x", 1, 400, "\"bad_request\"", "Content-Length");
	/* Over the cap: refused from the header alone, before any byte is read (none is sent). */
	raw_upload(&s, "99999999999", NULL, 0, 413, "\"payload_too_large\"", NULL);
	raw_upload(&s, "65537", NULL, 0, 413, "\"payload_too_large\"", NULL);
	/* Shorter than announced: a clear 400, not a hang. */
	raw_upload(&s, "100", "0123456789", 10, 400, "\"bad_request\"", "10 of 100");
	/* An empty upload is a 400 too. */
	raw_upload(&s, "0", NULL, 0, 400, "\"bad_request\"", NULL);
	/* Without a length the body is read to its end, up to the cap. */
	static char big[65537];
	memset(big, 'x', sizeof big);
	raw_upload(&s, "", big, sizeof big, 413, "\"payload_too_large\"", NULL);
	raw_upload(&s, "", big, 1000, 415, "\"unsupported_media_type\"", NULL);
	/* The responder is still healthy afterwards. */
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&s, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	ss_it_stop(&s);
}
END_TEST

START_TEST(invalid_config_exits_2_naming_the_line)
{
	char path[512];
	ck_assert_int_eq(ss_scratch_path(path, sizeof path, "ss-badconf-XXXXXX"), 0);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char *text = "workers = 2\n\nfrobnicate = yes\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char bin[512];
	snprintf(bin, sizeof bin, "%s/fcgi/songscope.fcgi", ss_it_builddir());
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "%s --check-config --config %s 2>&1", bin, path);
	FILE *p = popen(cmd, "r");
	char out[512] = "";
	size_t got = fread(out, 1, sizeof out - 1, p);
	out[got] = '\0';
	int st = pclose(p);
	unlink(path);
	ck_assert_int_eq(WEXITSTATUS(st), 2);
	ck_assert_msg(strstr(out, ":3: unknown key 'frobnicate'") != NULL, "got: %s", out);
}
END_TEST

/* `store = postgresql` needs its connection string: refused by --check-config (exit 2) with a message naming
 * the missing key, before anything is opened. */
START_TEST(store_backend_without_its_settings_exits_2)
{
	char path[512];
	ck_assert_int_eq(ss_scratch_path(path, sizeof path, "ss-storeconf-XXXXXX"), 0);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char *text = "store = postgresql\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char bin[512];
	snprintf(bin, sizeof bin, "%s/fcgi/songscope.fcgi", ss_it_builddir());
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "%s --check-config --config %s 2>&1", bin, path);
	FILE *p = popen(cmd, "r");
	char out[512] = "";
	size_t got = fread(out, 1, sizeof out - 1, p);
	out[got] = '\0';
	int st = pclose(p);
	unlink(path);
	ck_assert_int_eq(WEXITSTATUS(st), 2);
	ck_assert_msg(strstr(out, "'store = postgresql' needs 'postgresql'") != NULL, "got: %s", out);
}
END_TEST

/* Write a songscope.conf into dir with extra lines; returns its path in conf. */
static void write_conf(const char *dir, const char *extra, char *conf, size_t len)
{
	snprintf(conf, len, "%s/songscope.conf", dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "auth = off\nworkers = 1\n%s", extra);
	ck_assert_int_eq(fclose(f), 0);
}

/* In a child about to exec: become `nobody` as systemd's User= would, when as_nobody (root only). */
static void become(bool as_nobody)
{
	if (!as_nobody)
		return;
	struct passwd *pw = getpwnam("nobody");
	if (pw == NULL || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		_exit(125);
}

/* songscope.fcgi --check-config --config conf (as nobody when as_nobody): exit status, output (stdout and
 * stderr) into out. */
static int check_config(const char *conf, bool as_nobody, char *out, size_t len)
{
	char bin[512], log[400];
	snprintf(bin, sizeof bin, "%s/fcgi/songscope.fcgi", ss_it_builddir());
	snprintf(log, sizeof log, "%s.check", conf);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		become(as_nobody);
		execl(bin, bin, "--check-config", "--config", conf, (char *)NULL);
		_exit(127);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	FILE *f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	size_t got = fread(out, 1, len - 1, f);
	out[got] = '\0';
	fclose(f);
	unlink(log);
	ck_assert_msg(!WIFEXITED(st) || WEXITSTATUS(st) < 125, "could not run %s: %d", bin, WEXITSTATUS(st));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Start the master on dir/fcgi.sock with NOTIFY_SOCKET set as systemd does, wait (bounded) for it to exit by
 * itself, and report its exit status, whether it sent READY=1, and its log in out. A master still running
 * after 30 s is killed and the test fails. */
static int start_master_expecting_exit(const char *dir, const char *conf, bool as_nobody, bool *ready, char *out,
				       size_t len)
{
	char notify[300], sock[300], log[300];
	snprintf(notify, sizeof notify, "%s/notify.sock", dir);
	snprintf(sock, sizeof sock, "%s/fcgi.sock", dir);
	snprintf(log, sizeof log, "%s/master.log", dir);
	int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ck_assert(strlen(notify) < sizeof sa.sun_path);
	strcpy(sa.sun_path, notify);
	ck_assert_msg(nfd >= 0 && bind(nfd, (struct sockaddr *)&sa, sizeof sa) == 0, "%s", strerror(errno));
	chmod(notify, 0666);
	char bin[512];
	snprintf(bin, sizeof bin, "%s/fcgi/songscope.fcgi", ss_it_builddir());
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("NOTIFY_SOCKET", notify, 1);
		become(as_nobody);
		char *argv[] = {bin, "--config", (char *)conf, "--listen", sock, geteuid() == 0 ? "--allow-root" : NULL,
				NULL};
		execv(bin, argv);
		_exit(127);
	}
	int st = 0;
	bool exited = false;
	for (int i = 0; i < 3000 && !exited; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			exited = true;
		else
			poll(NULL, 0, 10);
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	*ready = false;
	char msg[256];
	ssize_t n;
	while ((n = recv(nfd, msg, sizeof msg - 1, MSG_DONTWAIT)) > 0) {
		msg[n] = '\0';
		if (strstr(msg, "READY=1") != NULL)
			*ready = true;
	}
	close(nfd);
	unlink(notify);
	ck_assert_msg(exited, "the master did not exit by itself with an unusable data directory");
	FILE *f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	size_t got = fread(out, 1, len - 1, f);
	out[got] = '\0';
	fclose(f);
	ck_assert_msg(access(sock, F_OK) != 0, "the master left its socket %s", sock);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A database or state file whose directory cannot be created, or that the service's user cannot write, is
 * refused by --check-config (exit 2) and at start-up (non-zero exit, no READY=1), with a log line that names
 * the path and the reason. */
START_TEST(unusable_data_directory_is_refused_before_ready)
{
	char dir[256];
	ck_assert_int_eq(ss_scratch_path(dir, sizeof dir, "ss-datadir-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char file[300], extra[1200], conf[300], out[4096];
	bool ready;
	/* A parent that is a plain file: the directory can never be created. */
	snprintf(file, sizeof file, "%s/plain", dir);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	const char *key[] = {"database", "state_file"};
	for (int i = 0; i < 2; i++) {
		/* The other file in the scratch dir: nothing may be created outside it. */
		snprintf(extra, sizeof extra, "%s = %s/data/x\n%s = %s/other\n", key[i], file, key[1 - i], dir);
		write_conf(dir, extra, conf, sizeof conf);
		ck_assert_int_eq(check_config(conf, false, out, sizeof out), 2);
		ck_assert_msg(strstr(out, key[i]) != NULL && strstr(out, file) != NULL && strstr(out, "Not a directory"),
			      "--check-config: %s", out);
		ck_assert_int_ne(start_master_expecting_exit(dir, conf, false, &ready, out, sizeof out), 0);
		ck_assert_msg(!ready, "READY=1 sent with %s", extra);
		ck_assert_msg(strstr(out, key[i]) != NULL && strstr(out, file) != NULL && strstr(out, "Not a directory"),
			      "start-up log: %s", out);
	}

	/* A directory the service's user cannot write. As root, run it as nobody, as systemd's User= does
	 * (ExecStartPre=... --check-config, then the service); otherwise as ourselves. */
	char data[300];
	snprintf(data, sizeof data, "%s/ro", dir);
	ck_assert_int_eq(mkdir(data, 0755), 0);
	bool as_nobody = geteuid() == 0;
	if (as_nobody) {
		ck_assert_msg(getpwnam("nobody") != NULL, "no user nobody");
		ck_assert_int_eq(chmod(dir, 0755), 0);
	} else {
		ck_assert_int_eq(chmod(data, 0555), 0);
	}
	snprintf(extra, sizeof extra, "database = %s/songscope.db\nstate_file = %s/songscope.state\n", data, data);
	write_conf(dir, extra, conf, sizeof conf);
	chmod(conf, 0644);
	ck_assert_int_eq(check_config(conf, as_nobody, out, sizeof out), 2);
	ck_assert_msg(strstr(out, data) != NULL && strstr(out, "not writable") != NULL, "--check-config: %s", out);
	ck_assert_int_ne(start_master_expecting_exit(dir, conf, as_nobody, &ready, out, sizeof out), 0);
	ck_assert(!ready);
	ck_assert_msg(strstr(out, data) != NULL && strstr(out, "not writable") != NULL, "start-up log: %s", out);

	/* A missing directory that can be created passes --check-config (which creates nothing). */
	snprintf(extra, sizeof extra, "database = %s/new/sub/songscope.db\nstate_file = %s/new/songscope.state\n", dir,
		 dir);
	write_conf(dir, extra, conf, sizeof conf);
	ck_assert_msg(check_config(conf, false, out, sizeof out) == 0, "%s", out);
	snprintf(data, sizeof data, "%s/new", dir);
	ck_assert_int_ne(access(data, F_OK), 0);
	chmod(dir, 0755);
	snprintf(data, sizeof data, "%s/ro", dir);
	chmod(data, 0755);
	ck_assert_int_eq(ss_scratch_remove(dir), 0);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "nginx not found (SS_NGINX); skipping integration tests\n");
		return 77;
	}
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("shared");
	tcase_add_unchecked_fixture(tc, setup_shared, teardown_shared);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, health_reports_healthy_with_client_fields);
	tcase_add_test(tc, unknown_paths_get_json_404);
	tcase_add_test(tc, unparsable_requests_get_json_400);
	tcase_add_test(tc, wrong_method_gets_json_405_with_allow);
	tcase_add_test(tc, oversized_body_is_refused_as_json);
	tcase_add_test(tc, killed_responder_is_replaced);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, sigterm_stops_everything_cleanly);
	tcase_add_test(tc, responders_recycle_after_max_requests);
	tcase_add_test(tc, sighup_reloads_config_and_replaces_responders);
	tcase_add_test(tc, unusable_database_makes_health_503);
	tcase_add_test(tc, unusable_state_file_makes_health_503);
	tcase_add_test(tc, request_bodies_are_bounded_and_exact);
	tcase_add_test(tc, invalid_config_exits_2_naming_the_line);
	tcase_add_test(tc, store_backend_without_its_settings_exits_2);
	tcase_add_test(tc, unusable_data_directory_is_refused_before_ready);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
