#include "tests/integration/webdriver.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "core/util/buf.h"
#include "core/util/timefmt.h"
#include "tests/fixtures/scratch.h"
#include "tests/integration/harness.h"

static const char *exe(const char *env, const char *def)
{
	const char *p = getenv(env);
	if (p == NULL || p[0] == '\0')
		p = def;
	return access(p, X_OK) == 0 ? p : NULL;
}

const char *ss_wd_chromium(void)
{
	return exe("SS_CHROMIUM", "/usr/bin/chromium");
}

const char *ss_wd_chromedriver(void)
{
	return exe("SS_CHROMEDRIVER", "/usr/bin/chromedriver");
}

static int loopback_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static void pause_briefly(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* One request to the driver. Returns the JSON "value" of the answer (caller puts), or aborts on an error. With
 * allow_fail, returns NULL instead of aborting when the driver cannot be reached. */
static json_object *call(ss_wd *wd, const char *method, const char *path, json_object *body, bool allow_fail)
{
	char url[512];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", wd->port, path);
	const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
	const char *h[] = {"Content-Type: application/json", NULL};
	ss_it_resp r;
	if (ss_it_request_url(method, url, h, text, text ? strlen(text) : 0, &r) != 0) {
		ss_it_resp_free(&r);
		if (allow_fail)
			return NULL;
		ck_abort_msg("webdriver %s %s: chromedriver cannot be reached (log: %s)", method, path, wd->log);
	}
	json_object *o = r.body.len ? json_tokener_parse(r.body.data) : NULL;
	json_object *v = NULL;
	if (o == NULL || !json_object_object_get_ex(o, "value", &v)) {
		if (allow_fail) {
			json_object_put(o);
			ss_it_resp_free(&r);
			return NULL;
		}
		ck_abort_msg("webdriver %s %s: HTTP %ld, not a WebDriver answer: %.300s", method, path, r.status,
			     r.body.data ? r.body.data : "");
	}
	if (r.status != 200 && !allow_fail) {
		json_object *m = NULL;
		json_object_object_get_ex(v, "message", &m);
		ck_abort_msg("webdriver %s %s: HTTP %ld: %.500s", method, path, r.status,
			     m ? json_object_get_string(m) : json_object_to_json_string(v));
	}
	ss_it_resp_free(&r);
	json_object_get(v);
	json_object_put(o);
	return v;
}

static void wd_path(ss_wd *wd, char *out, size_t outlen, const char *tail)
{
	snprintf(out, outlen, "/session/%s%s", wd->sid, tail);
}

void ss_wd_start(ss_wd *wd, int width, int height)
{
	memset(wd, 0, sizeof *wd);
	const char *driver = ss_wd_chromedriver(), *chromium = ss_wd_chromium();
	ck_assert_msg(driver != NULL && chromium != NULL, "chromium or chromedriver is not installed");
	ck_assert_msg(ss_scratch_path(wd->profile, sizeof wd->profile, "ss-wd-XXXXXX") == 0,
		      "scratch directory too long: %s", ss_scratch_dir());
	ck_assert_msg(mkdtemp(wd->profile) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(wd->log, sizeof wd->log, "%s.log", wd->profile);
	wd->port = loopback_port();
	ck_assert_int_gt(wd->port, 0);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(wd->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* The driver's and the browser's own temporary files go inside the profile, which is removed at the end
		 * (Chromium leaves scoped_dir folders behind otherwise). */
		char port[32], tmpdir[sizeof wd->profile + 8];
		snprintf(tmpdir, sizeof tmpdir, "%s/tmp", wd->profile);
		if (mkdir(tmpdir, 0700) == 0)
			setenv("TMPDIR", tmpdir, 1);
		snprintf(port, sizeof port, "--port=%d", wd->port);
		execl(driver, driver, port, "--allowed-ips=127.0.0.1", (char *)NULL);
		_exit(127);
	}
	wd->driver_pid = pid;
	/* Wait (bounded) until the driver answers /status with ready: true. */
	double end = ss_time_mono() + 30.0;
	for (;;) {
		json_object *st = call(wd, "GET", "/status", NULL, true), *ready = NULL;
		bool ok = st != NULL && json_object_object_get_ex(st, "ready", &ready) &&
			  json_object_get_boolean(ready);
		json_object_put(st);
		if (ok)
			break;
		ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "chromedriver exited at start (log: %s)", wd->log);
		ck_assert_msg(ss_time_mono() < end, "chromedriver did not get ready in 30 s (log: %s)", wd->log);
		pause_briefly();
	}

	char caps[2048], size[64], dir[320];
	snprintf(size, sizeof size, "--window-size=%d,%d", width, height);
	snprintf(dir, sizeof dir, "--user-data-dir=%s", wd->profile);
	/* Headless, no sandbox (tests may run as root), nothing that talks to the network by itself. */
	snprintf(caps, sizeof caps,
		 "{\"capabilities\":{\"alwaysMatch\":{\"browserName\":\"chrome\","
		 "\"goog:loggingPrefs\":{\"browser\":\"ALL\"},\"goog:chromeOptions\":{\"binary\":\"%s\","
		 "\"args\":[\"--headless=new\",\"--no-sandbox\",\"--disable-gpu\",\"--disable-dev-shm-usage\","
		 "\"--no-first-run\",\"--disable-background-networking\",\"--disable-sync\",\"--disable-extensions\","
		 "\"--disable-component-update\",\"--autoplay-policy=no-user-gesture-required\",\"%s\",\"%s\"]}}}}",
		 chromium, size, dir);
	json_object *body = json_tokener_parse(caps);
	ck_assert_ptr_nonnull(body);
	json_object *v = call(wd, "POST", "/session", body, false), *id = NULL;
	json_object_put(body);
	ck_assert_msg(json_object_object_get_ex(v, "sessionId", &id), "no sessionId from chromedriver");
	snprintf(wd->sid, sizeof wd->sid, "%s", json_object_get_string(id));
	json_object_put(v);
}

void ss_wd_stop(ss_wd *wd)
{
	if (wd->sid[0] != '\0') {
		char path[256];
		wd_path(wd, path, sizeof path, "");
		json_object_put(call(wd, "DELETE", path, NULL, true));
		wd->sid[0] = '\0';
	}
	if (wd->driver_pid > 0) {
		kill(wd->driver_pid, SIGTERM);
		double end = ss_time_mono() + 10.0;
		while (waitpid(wd->driver_pid, NULL, WNOHANG) == 0) {
			if (ss_time_mono() > end) {
				kill(wd->driver_pid, SIGKILL);
				waitpid(wd->driver_pid, NULL, 0);
				break;
			}
			pause_briefly();
		}
		wd->driver_pid = 0;
	}
	if (wd->profile[0] != '\0') {
		ss_scratch_remove(wd->profile);
		unlink(wd->log);
		wd->profile[0] = '\0';
	}
}

void ss_wd_navigate(ss_wd *wd, const char *url)
{
	char path[256];
	wd_path(wd, path, sizeof path, "/url");
	json_object *b = json_object_new_object();
	json_object_object_add(b, "url", json_object_new_string(url));
	json_object_put(call(wd, "POST", path, b, false));
	json_object_put(b);
}

json_object *ss_wd_exec(ss_wd *wd, const char *script, json_object *args)
{
	char path[256];
	wd_path(wd, path, sizeof path, "/execute/sync");
	json_object *b = json_object_new_object();
	json_object_object_add(b, "script", json_object_new_string(script));
	json_object_object_add(b, "args", args ? args : json_object_new_array());
	json_object *v = call(wd, "POST", path, b, false);
	json_object_put(b);
	return v;
}

void ss_wd_exec_string(ss_wd *wd, const char *script, char *out, size_t outlen)
{
	json_object *v = ss_wd_exec(wd, script, NULL);
	snprintf(out, outlen, "%s", v ? json_object_get_string(v) : "");
	json_object_put(v);
}

double ss_wd_exec_number(ss_wd *wd, const char *script)
{
	json_object *v = ss_wd_exec(wd, script, NULL);
	ck_assert_msg(v != NULL && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)),
		      "script did not return a number: %s", script);
	double d = json_object_get_double(v);
	json_object_put(v);
	return d;
}

bool ss_wd_wait(ss_wd *wd, const char *script, double timeout_s)
{
	double end = ss_time_mono() + timeout_s;
	for (;;) {
		json_object *v = ss_wd_exec(wd, script, NULL);
		bool ok = v != NULL && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
		json_object_put(v);
		if (ok)
			return true;
		if (ss_time_mono() > end)
			return false;
		pause_briefly();
	}
}

static void element(ss_wd *wd, const char *css, char *id, size_t idlen)
{
	char path[256];
	wd_path(wd, path, sizeof path, "/element");
	json_object *b = json_object_new_object();
	json_object_object_add(b, "using", json_object_new_string("css selector"));
	json_object_object_add(b, "value", json_object_new_string(css));
	json_object *v = call(wd, "POST", path, b, false);
	json_object_put(b);
	ck_assert_msg(v != NULL && json_object_is_type(v, json_type_object), "no element %s", css);
	/* The W3C element reference key. */
	json_object *e = NULL;
	ck_assert(json_object_object_get_ex(v, "element-6066-11e4-a52e-4f735466cecf", &e));
	snprintf(id, idlen, "%s", json_object_get_string(e));
	json_object_put(v);
}

void ss_wd_type(ss_wd *wd, const char *css, const char *text)
{
	char id[128], path[384];
	element(wd, css, id, sizeof id);
	char tail[200];
	snprintf(tail, sizeof tail, "/element/%s/value", id);
	wd_path(wd, path, sizeof path, tail);
	json_object *b = json_object_new_object();
	json_object_object_add(b, "text", json_object_new_string(text));
	json_object_put(call(wd, "POST", path, b, false));
	json_object_put(b);
}

void ss_wd_click(ss_wd *wd, const char *css)
{
	char id[128], path[384], tail[200];
	element(wd, css, id, sizeof id);
	snprintf(tail, sizeof tail, "/element/%s/click", id);
	wd_path(wd, path, sizeof path, tail);
	json_object *b = json_object_new_object();
	json_object_put(call(wd, "POST", path, b, false));
	json_object_put(b);
}

void ss_wd_screenshot(ss_wd *wd, const char *path)
{
	char p[256];
	wd_path(wd, p, sizeof p, "/screenshot");
	json_object *v = call(wd, "GET", p, NULL, false);
	const char *b64 = v ? json_object_get_string(v) : NULL;
	ck_assert_ptr_nonnull(b64);
	size_t n = strlen(b64), len = 0;
	unsigned char *png = malloc(n);
	ck_assert_ptr_nonnull(png);
	ck_assert_int_eq(sodium_base642bin(png, n, b64, n, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(png, 1, len, f), len);
	fclose(f);
	free(png);
	json_object_put(v);
}

json_object *ss_wd_console(ss_wd *wd)
{
	char path[256];
	wd_path(wd, path, sizeof path, "/se/log");
	json_object *b = json_object_new_object();
	json_object_object_add(b, "type", json_object_new_string("browser"));
	json_object *v = call(wd, "POST", path, b, false);
	json_object_put(b);
	ck_assert_msg(v != NULL && json_object_is_type(v, json_type_array), "no browser log from chromedriver");
	return v;
}
