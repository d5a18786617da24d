/* Limits that cannot be turned against users, and process hygiene, through the real stack (songscope's master,
 * nginx, a SQLite file): bad keys never lock out a valid key, the per-minute burst is exactly
 * rate_limit_burst, a JSON \u0000 is refused; root is refused without --allow-root and dropped with `user`,
 * files are the owner's only whatever the umask, and a FastCGI socket reachable from other hosts is refused. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/util/jsonutil.h"
#include "core/util/strnum.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"
#include "tests/integration/harness.h"

static ss_it_server srv;

static void start(const char *auth, const char *extra)
{
	ss_it_opts o = {.workers = 2, .auth = auth, .extra_conf = extra};
	ss_it_start(&srv, &o);
}

static void teardown(void)
{
	ss_it_stop(&srv);
}

/* Create a key of scope with a per-minute rate (0 = the configured default); copies the key out. */
static void create_key(const char *scope, int rate, char *key, size_t keylen)
{
	char id[32], r[32];
	ss_it_create_key(&srv, key, keylen, id, sizeof id, "hygiene", "--scope", scope, NULL, NULL);
	if (rate > 0) {
		snprintf(r, sizeof r, "%d", rate);
		ss_it_admin(&srv, NULL, "keys", "rate", id, r, NULL);
	}
}

static long long header_int(const ss_it_resp *r, const char *name)
{
	char v[64];
	int64_t n;
	ck_assert_msg(ss_it_header(r, name, v, sizeof v), "no %s header (status %ld)", name, r->status);
	ck_assert_msg(ss_parse_i64(v, 0, INT64_MAX, &n) == 0, "%s: %s", name, v);
	return n;
}

/* ---- item: the failed-key throttle never refuses a valid key ---- */

START_TEST(bad_keys_never_lock_out_a_valid_key)
{
	start("required", "auth_failures_per_minute = 20\n");
	char key[128];
	create_key("client", 100000, key, sizeof key);
	ss_it_resp r;
	/* 25 bad keys from 127.0.0.1: the first 20 are 403, then the address is throttled. */
	for (int i = 0; i < 25; i++) {
		char bad[64];
		snprintf(bad, sizeof bad, "ssk_guess-%d", i);
		ss_it_keyed(&srv, "/auth/key", bad, &r);
		if (i < 20) {
			ss_it_assert_error(&r, 403, "invalid_api_key");
		} else {
			ss_it_assert_error(&r, 429, "rate_limited");
			ck_assert_int_ge(header_int(&r, "Retry-After"), 1);
		}
		ss_it_resp_free(&r);
	}
	/* A valid key from the same address is served, again and again, while bad keys stay throttled. */
	for (int i = 0; i < 5; i++) {
		ss_it_keyed(&srv, "/auth/key", key, &r);
		ck_assert_msg(r.status == 200, "valid key got %ld: %s", r.status, r.body.data);
		ck_assert_int_ge(header_int(&r, "X-RateLimit-Remaining"), 1);
		ss_it_resp_free(&r);
		ss_it_keyed(&srv, "/auth/key", "ssk_still-guessing", &r);
		ss_it_assert_error(&r, 429, "rate_limited");
		ck_assert_int_ge(header_int(&r, "Retry-After"), 1);
		ss_it_resp_free(&r);
	}
	/* A missing key is not an attempt: still 401. */
	ss_it_keyed(&srv, "/auth/key", NULL, &r);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
}
END_TEST

/* ---- item: the per-minute burst is exactly rate_limit_burst ---- */

START_TEST(burst_is_exactly_the_configured_one)
{
	/* 2 per minute (one every 30 s) and a burst of 3: exactly 4 at once, then 429 until the next 30 s. */
	start("required", "rate_limit_burst = 3\n");
	char key[128];
	create_key("client", 2, key, sizeof key);
	ss_it_resp r;
	for (int i = 0; i < 4; i++) {
		ss_it_keyed(&srv, "/auth/key", key, &r);
		ck_assert_msg(r.status == 200, "request %d got %ld: %s", i + 1, r.status, r.body.data);
		ck_assert_int_eq(header_int(&r, "X-RateLimit-Limit"), 2);
		ck_assert_int_eq(header_int(&r, "X-RateLimit-Remaining"), 3 - i);
		ck_assert_int_le(header_int(&r, "X-RateLimit-Reset"), 30 * (i + 1));
		ck_assert_int_gt(header_int(&r, "X-RateLimit-Reset"), 30 * i);
		ss_it_resp_free(&r);
	}
	for (int i = 0; i < 3; i++) {
		ss_it_keyed(&srv, "/auth/key", key, &r);
		ss_it_assert_error(&r, 429, "rate_limited");
		long long retry = header_int(&r, "Retry-After");
		ck_assert_int_ge(retry, 1);
		ck_assert_int_le(retry, 30);
		ck_assert_int_eq(header_int(&r, "X-RateLimit-Remaining"), 0);
		ss_it_resp_free(&r);
	}
}
END_TEST

/* ---- item: a JSON \u0000 never truncates a string in silence ---- */

static void post_json(const char *path, const char *key, const char *body, long status, const char *code)
{
	char h[200];
	snprintf(h, sizeof h, "X-API-Key: %s", key);
	const char *hdrs[] = {h, "Content-Type: application/json", NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&srv, "POST", path, hdrs, body, strlen(body), &r), 0);
	ss_it_assert_error(&r, status, code);
	if (status == 400)
		ck_assert_msg(strstr(r.body.data, "NUL") != NULL, "message does not say why: %s", r.body.data);
	ss_it_resp_free(&r);
}

START_TEST(json_nul_escape_is_refused)
{
	start("required", NULL);
	char key[128];
	create_key("admin", 0, key, sizeof key);
	post_json("/analyze", key, "{\"url\": \"http://127.0.0.1:9/a.mp3\\u0000.png\"}", 400, "bad_request");
	post_json("/analyze", key, "{\"url\": \"http://127.0.0.1:9/a.mp3\", \"title\": \"x\\u0000y\"}", 400, "bad_request");
	post_json("/analyze", key, "{\"u\\u0000rl\": \"http://127.0.0.1:9/a.mp3\"}", 400, "bad_request");
	post_json("/verify", key, "{\"url\": \"http://x/\\u0000\", \"manual_bpm\": 120}", 400, "bad_request");
	post_json("/analyze_batch", key, "[{\"audio_data\": \"AAAA\", \"title\": \"\\u0000\"}]", 400, "bad_request");
	/* An escaped backslash before u0000 is ordinary text: that request gets past the parser (404: no such
	 * cached song). */
	post_json("/verify", key, "{\"url\": \"http://x/\\\\u0000\", \"manual_bpm\": 120}", 404, "not_found");
}
END_TEST

/* ---- process hygiene: root, file modes, listen addresses ---- */

static void pause_briefly(void)
{
	struct pollfd none;
	poll(&none, 0, 20); /* between checks of a bounded wait loop */
}

/* A private directory with a songscope.conf (plus extra lines) for running the binary directly. */
static void scratch_conf(char *dir, size_t dirlen, char *conf, size_t conflen, const char *extra)
{
	ck_assert_int_eq(ss_scratch_path(dir, dirlen, "ss-hyg-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, conflen, "%s/songscope.conf", dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "database = %s/songscope.db\nstate_file = %s/songscope.state\nworkers = 1\n%s", dir, dir,
		extra ? extra : "");
	fclose(f);
}

/* Run songscope.fcgi with args (a shell fragment) and the config; returns its exit status, output in out. */
static int run_fcgi(const char *conf, const char *args, char *out, size_t outlen)
{
	char cmd[1400];
	snprintf(cmd, sizeof cmd, "%s/fcgi/songscope.fcgi --config %s %s 2>&1 </dev/null", ss_it_builddir(), conf, args);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t got = fread(out, 1, outlen - 1, p);
	out[got] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		  getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static bool port_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

START_TEST(root_without_user_is_refused_unless_allowed)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: root_without_user_is_refused_unless_allowed needs root\n");
		return;
	}
	char dir[256], conf[320], out[2048], sock[320];
	scratch_conf(dir, sizeof dir, conf, sizeof conf, NULL);
	snprintf(sock, sizeof sock, "--listen %s/fcgi.sock", dir);
	/* Standalone master and the fd-0 form alike: exit 2, a log line saying why, nothing created. */
	ck_assert_int_eq(run_fcgi(conf, sock, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "refusing to run as root") != NULL && strstr(out, "--allow-root") != NULL, "%s", out);
	ck_assert_int_eq(run_fcgi(conf, "", out, sizeof out), 2);
	ck_assert_msg(strstr(out, "refusing to run as root") != NULL, "%s", out);
	char path[320];
	snprintf(path, sizeof path, "%s/fcgi.sock", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/songscope.db", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	/* An unknown user is a configuration error too. */
	ck_assert_int_eq(ss_scratch_remove(dir), 0);
	scratch_conf(dir, sizeof dir, conf, sizeof conf, "user = no-such-user-here\n");
	ck_assert_int_eq(run_fcgi(conf, "--allow-root", out, sizeof out), 2);
	ck_assert_msg(strstr(out, "no-such-user-here") != NULL, "%s", out);
	ck_assert_int_eq(ss_scratch_remove(dir), 0);
	/* With --allow-root it runs, and says so in its log. */
	start("off", NULL);
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	char logpath[400];
	snprintf(logpath, sizeof logpath, "%s/songscope.log", srv.dir);
	FILE *f = fopen(logpath, "r");
	ck_assert_ptr_nonnull(f);
	size_t got = fread(out, 1, sizeof out - 1, f);
	out[got] = '\0';
	fclose(f);
	ck_assert_msg(strstr(out, "running as root (--allow-root)") != NULL, "%s", out);
}
END_TEST

static void assert_mode(const char *path, unsigned mode)
{
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
	ck_assert_msg((st.st_mode & 07777) == mode, "%s has mode %03o, expected %03o", path, st.st_mode & 07777, mode);
}

static void check_modes_under_umask(mode_t mask)
{
	mode_t old = umask(mask);
	start("required", NULL);
	umask(old);
	char key[128];
	ss_it_make_key(&srv, "client", key, sizeof key);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_keyed(&srv, "/auth/key", key, &r), 200);
	ss_it_resp_free(&r);
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char path[400];
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s%s", srv.db, suffix[i]);
		assert_mode(path, 0600);
	}
	static const char *const side[] = {"", ".stats", ".admission"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s%s", srv.state, side[i]);
		assert_mode(path, 0600);
	}
	ss_it_stop(&srv);
}

START_TEST(files_are_the_owners_only_whatever_the_umask)
{
	check_modes_under_umask(0);
	check_modes_under_umask(077);
}
END_TEST

/* uid and gid lines of /proc/PID/status: every field (real, effective, saved, filesystem) must equal. */
static void assert_ids(pid_t pid, uid_t uid, gid_t gid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	int seen = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		long a, b, c, d;
		if (sscanf(line, "Uid: %ld %ld %ld %ld", &a, &b, &c, &d) == 4) {
			ck_assert_msg(a == (long)uid && b == (long)uid && c == (long)uid && d == (long)uid,
				      "pid %ld: %s", (long)pid, line);
			seen++;
		} else if (sscanf(line, "Gid: %ld %ld %ld %ld", &a, &b, &c, &d) == 4) {
			ck_assert_msg(a == (long)gid && b == (long)gid && c == (long)gid && d == (long)gid,
				      "pid %ld: %s", (long)pid, line);
			seen++;
		} else if (strncmp(line, "Groups:", 7) == 0) {
			/* no supplementary root group */
			ck_assert_msg(strstr(line, "\t0 ") == NULL && strcmp(line + 7, "\t0\n") != 0 &&
					      strstr(line, " 0 ") == NULL,
				      "pid %ld: %s", (long)pid, line);
		}
	}
	fclose(f);
	ck_assert_int_eq(seen, 2);
}

START_TEST(root_drops_to_the_configured_user)
{
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	if (geteuid() != 0 || pw == NULL || gr == NULL) {
		fprintf(stderr, "skipped: root_drops_to_the_configured_user needs root and the nobody user and nogroup group\n");
		return;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = gr->gr_gid;
	/* The temp dir stays root's: the master creates and hands over every file before it drops root. */
	start("required", "user = nobody\ngroup = nogroup\n");
	ck_assert_int_gt(srv.master_pid, 0);
	assert_ids(srv.master_pid, uid, gid);
	pid_t kids[16];
	int n = ss_it_children(srv.master_pid, kids, 16);
	ck_assert_int_eq(n, srv.workers);
	for (int i = 0; i < n; i++)
		assert_ids(kids[i], uid, gid);
	static const char *const files[] = {"", "-wal", "-shm"};
	char path[400];
	for (size_t i = 0; i < 3; i++) {
		struct stat st;
		snprintf(path, sizeof path, "%s%s", srv.db, files[i]);
		ck_assert_msg(stat(path, &st) == 0 && st.st_uid == uid && st.st_gid == gid, "%s not given away", path);
	}
	struct stat st;
	ck_assert(stat(srv.state, &st) == 0 && st.st_uid == uid);
	ck_assert(stat(srv.socket, &st) == 0 && st.st_uid == uid && st.st_gid == gid && (st.st_mode & 0777) == 0660);

	/* Requests work: a key made by the operator (as root, files given back to the service user, as the
	 * harness does for the directory's owner), its limiter in the state file, usage rows in the database. */
	ck_assert_int_eq(chown(srv.dir, uid, gid), 0);
	char key[128];
	ss_it_make_key(&srv, "admin", key, sizeof key);
	ss_it_resp r;
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(ss_it_keyed(&srv, "/auth/key", key, &r), 200);
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(ss_it_keyed(&srv, "/stats", key, &r), 200);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_keyed(&srv, "/health", NULL, &r), 200);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_stop_songscope(&srv), 0);
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open_v2(srv.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *q = NULL;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM api_usage", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_int_ge(sqlite3_column_int(q, 0), 5); /* written by the responders running as nobody */
	sqlite3_finalize(q);
	sqlite3_close(db);
	ss_it_stop(&srv);

	/* The fd-0 form (spawn-fcgi, as root, execs one responder on its socket) drops before serving too. */
	if (!ss_it_have_front(SS_IT_SPAWN_FCGI_ONE)) {
		fprintf(stderr, "skipped: the fd-0 form needs spawn-fcgi\n");
		return;
	}
	ss_it_opts o = {.workers = 1, .auth = "off", .extra_conf = "user = nobody\ngroup = nogroup\n",
			.front = SS_IT_SPAWN_FCGI_ONE};
	ss_it_start(&srv, &o);
	ck_assert_int_eq(ss_it_keyed(&srv, "/health", NULL, &r), 200); /* answered by the responder, so it has dropped */
	ss_it_resp_free(&r);
	assert_ids(srv.master_pid, uid, gid);
	ck_assert_int_eq(ss_it_keyed(&srv, "/stats", NULL, &r), 200);
	ss_it_resp_free(&r);
	ck_assert(stat(srv.db, &st) == 0 && st.st_uid == uid);
}
END_TEST

START_TEST(remote_listen_addresses_are_refused)
{
	char dir[256], conf[320], out[2048], args[128];
	scratch_conf(dir, sizeof dir, conf, sizeof conf, NULL);
	const char *root = geteuid() == 0 ? " --allow-root" : "";
	static const char *const remote[] = {"", "*", "0.0.0.0"};
	for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
		int port = free_port();
		char spec[64];
		snprintf(spec, sizeof spec, "%s:%d", remote[i], port);
		snprintf(args, sizeof args, "--listen %s%s", spec, root);
		ck_assert_int_eq(run_fcgi(conf, args, out, sizeof out), 2);
		ck_assert_msg(strstr(out, "listen_allow_remote") != NULL, "%s: %s", spec, out);
		ck_assert_msg(!port_accepts(port), "%s was bound", spec);
	}
	/* Loopback is accepted: the master comes up on 127.0.0.1 (and on a name that resolves to it). */
	static const char *const local[] = {"127.0.0.1", "localhost"};
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		int port = free_port();
		char bin[512], spec[64], log[320];
		snprintf(bin, sizeof bin, "%s/fcgi/songscope.fcgi", ss_it_builddir());
		snprintf(spec, sizeof spec, "%s:%d", local[i], port);
		snprintf(log, sizeof log, "%s/out.log", dir);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			FILE *l = freopen(log, "a", stderr);
			(void)l;
			execl(bin, bin, "--config", conf, "--listen", spec, geteuid() == 0 ? "--allow-root" : NULL,
			      (char *)NULL);
			_exit(127);
		}
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		bool up = false;
		int st;
		do {
			up = port_accepts(port);
			if (!up)
				pause_briefly();
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (!up && waitpid(pid, &st, WNOHANG) == 0 && t.tv_sec - t0.tv_sec < 20);
		kill(pid, SIGTERM);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(up, "%s did not come up", spec);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_int_eq(ss_scratch_remove(dir), 0);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "nginx not found (SS_NGINX); skipping integration tests\n");
		return 77;
	}
	Suite *s = suite_create("hygiene");
	TCase *tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bad_keys_never_lock_out_a_valid_key);
	tcase_add_test(tc, burst_is_exactly_the_configured_one);
	tcase_add_test(tc, json_nul_escape_is_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("process");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, root_without_user_is_refused_unless_allowed);
	tcase_add_test(tc, files_are_the_owners_only_whatever_the_umask);
	tcase_add_test(tc, root_drops_to_the_configured_user);
	tcase_add_test(tc, remote_listen_addresses_are_refused);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
