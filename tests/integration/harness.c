#include "tests/integration/harness.h"

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/store/store.h"
#include "core/util/jsonutil.h"
#include "tests/fixtures/scratch.h"
#include "tests/integration/pg_server.h"

#define WAIT_SECONDS 15.0

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The one pause the harness uses: between polls of a condition that has no event to wait on. */
static void brief_pause(void)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

bool ss_it_limits_redis(void)
{
	const char *v = getenv("SS_IT_LIMITS");
	return v != NULL && strcmp(v, "redis") == 0;
}

const char *ss_it_builddir(void)
{
	const char *d = getenv("SS_TOP_BUILDDIR");
	return d ? d : ".";
}

const char *ss_it_srcdir(void)
{
	const char *d = getenv("SS_TOP_SRCDIR");
	return d ? d : ".";
}

static const char *nginx_path(void)
{
	const char *p = getenv("SS_NGINX");
	return p && p[0] ? p : NULL;
}

bool ss_it_have_nginx(void)
{
	const char *p = nginx_path();
	if (p != NULL && access(p, X_OK) == 0)
		return true;
	printf("SKIP: nginx is not installed\n");
	return false;
}

/* A program configure found (its path in the environment variable `var`), or NULL. */
static const char *tool_path(const char *var)
{
	const char *p = getenv(var);
	return p && p[0] && access(p, X_OK) == 0 ? p : NULL;
}

static const char *apache_modules_dir(void)
{
	const char *p = getenv("SS_APACHE_MODULES");
	return p && p[0] ? p : "/usr/lib/apache2/modules";
}

static bool have_apache_module(const char *file)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", apache_modules_dir(), file);
	return access(path, R_OK) == 0;
}

bool ss_it_have_front(ss_it_front f)
{
	switch (f) {
	case SS_IT_NGINX:
		return ss_it_have_nginx();
	case SS_IT_LIGHTTPD:
	case SS_IT_LIGHTTPD_SPAWN:
		return tool_path("SS_LIGHTTPD") != NULL;
	case SS_IT_APACHE_PROXY:
		return tool_path("SS_APACHE2") != NULL && have_apache_module("mod_proxy_fcgi.so") &&
		       have_apache_module("mod_env.so") && have_apache_module("mod_mpm_event.so") &&
		       have_apache_module("mod_alias.so") && have_apache_module("mod_rewrite.so") &&
		       have_apache_module("mod_headers.so");
	case SS_IT_APACHE_FCGID:
		/* Apache will not serve as root, so mod_fcgid's responders run as www-data (or nobody) and need
		 * the temp dir handed to that user: only root can arrange that. */
		return tool_path("SS_APACHE2") != NULL && have_apache_module("mod_fcgid.so") &&
		       have_apache_module("mod_mpm_event.so") && have_apache_module("mod_alias.so") &&
		       have_apache_module("mod_rewrite.so") && have_apache_module("mod_headers.so") && geteuid() == 0 &&
		       (getpwnam("www-data") != NULL || getpwnam("nobody") != NULL);
	case SS_IT_SPAWN_FCGI:
	case SS_IT_SPAWN_FCGI_ONE:
		return ss_it_have_nginx() && tool_path("SS_SPAWN_FCGI") != NULL;
	case SS_IT_FRONT_COUNT:
		break;
	}
	return false;
}

const char *ss_it_front_name(ss_it_front f)
{
	static const char *const names[] = {"nginx", "lighttpd", "lighttpd-bin-path", "apache-proxy-fcgi",
					    "apache-fcgid", "spawn-fcgi", "spawn-fcgi-fd0"};
	return (unsigned)f < SS_IT_FRONT_COUNT ? names[f] : "?";
}

static void tail_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	fprintf(stderr, "---- %s ----\n", path);
	char line[512];
	long lines = 0;
	while (fgets(line, sizeof line, f) != NULL)
		lines++;
	rewind(f);
	long skip = lines > 30 ? lines - 30 : 0;
	for (long i = 0; fgets(line, sizeof line, f) != NULL; i++)
		if (i >= skip)
			fputs(line, stderr);
	fclose(f);
}

static void dump_logs(ss_it_server *s)
{
	char p[400];
	snprintf(p, sizeof p, "%s/songscope.log", s->dir);
	tail_file(p);
	snprintf(p, sizeof p, "%s/nginx-error.log", s->dir);
	tail_file(p);
	snprintf(p, sizeof p, "%s/lighttpd-error.log", s->dir);
	tail_file(p);
	snprintf(p, sizeof p, "%s/apache-error.log", s->dir);
	tail_file(p);
	snprintf(p, sizeof p, "%s/web.out", s->dir);
	tail_file(p);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

const char *ss_it_write_file(ss_it_server *s, const char *name, const void *data, size_t len)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", s->dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	ss_buf b;
	ss_buf_init(&b, 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ss_buf_append(&b, chunk, n);
	fclose(f);
	if (b.data == NULL)
		ss_buf_append(&b, "", 0);
	return ss_buf_steal(&b, NULL);
}

/* Replace every occurrence of `from` by `to` in text (returns a new string). */
static char *replace_all(const char *text, const char *from, const char *to)
{
	ss_buf b;
	ss_buf_init(&b, 0);
	size_t fl = strlen(from);
	const char *p = text;
	const char *hit;
	while ((hit = strstr(p, from)) != NULL) {
		ss_buf_append(&b, p, (size_t)(hit - p));
		ss_buf_puts(&b, to);
		p = hit + fl;
	}
	ss_buf_puts(&b, p);
	return ss_buf_steal(&b, NULL);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
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

static int port_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Tests run as root on CI: songscope refuses that without a `user` to drop to, unless told. Last in an argv,
 * so that when it is NULL (not root) it just ends the list early. */
#define ROOT_FLAG (geteuid() == 0 ? "--allow-root" : NULL)

static pid_t spawn(char *const argv[], const char *log_path, const char *notify)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* Servers never outlive the test process. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
			close(fd);
		}
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0) {
			dup2(devnull, 0);
			close(devnull);
		}
		if (notify)
			setenv("NOTIFY_SOCKET", notify, 1);
		else
			unsetenv("NOTIFY_SOCKET");
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Start argv (songscope's master, directly or through spawn-fcgi) with NOTIFY_SOCKET and wait for READY=1. */
static void start_master(ss_it_server *s, char *const argv[])
{
	char notify[400], log[400];
	snprintf(notify, sizeof notify, "%s/notify.sock", s->dir);
	snprintf(log, sizeof log, "%s/songscope.log", s->dir);

	unlink(notify);
	int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	ck_assert(strlen(notify) < sizeof sa.sun_path);
	strcpy(sa.sun_path, notify);
	ck_assert_msg(nfd >= 0 && bind(nfd, (struct sockaddr *)&sa, sizeof sa) == 0, "notify socket: %s",
		      strerror(errno));
	/* As systemd's: a master that dropped root privileges must still be able to report READY=1. */
	chmod(notify, 0666);

	s->master_pid = spawn(argv, log, notify);
	ck_assert_int_gt(s->master_pid, 0);

	/* Wait for the master's READY=1 (it is sent once the socket listens and responders are forked). */
	int ready = 0;
	double deadline = now_mono() + WAIT_SECONDS;
	while (!ready && now_mono() < deadline) {
		struct pollfd p = {.fd = nfd, .events = POLLIN};
		if (poll(&p, 1, 200) > 0) {
			char msg[256];
			ssize_t n = recv(nfd, msg, sizeof msg - 1, 0);
			if (n > 0) {
				msg[n] = '\0';
				ready = strstr(msg, "READY=1") != NULL;
			}
		}
		int st;
		if (waitpid(s->master_pid, &st, WNOHANG) == s->master_pid) {
			s->master_pid = 0;
			break;
		}
	}
	close(nfd);
	unlink(notify);
	if (!ready) {
		dump_logs(s);
		ck_abort_msg("songscope did not become ready");
	}
}

void ss_it_start_songscope(ss_it_server *s)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/fcgi/songscope.fcgi", ss_it_builddir());
	/* workers come from the config file, so a SIGHUP reload can change them. */
	char *argv[] = {bin, "--config", s->conf, "--listen", s->socket, ROOT_FLAG, NULL};
	start_master(s, argv);
}

/* spawn-fcgi as in conf/spawn-fcgi: it creates the socket and execs songscope's master on fd 0 (-n: in the
 * foreground, so its pid becomes the master's). */
static void start_spawn_fcgi(ss_it_server *s)
{
	char bin[512], spawn_fcgi[512], workers[16];
	snprintf(bin, sizeof bin, "%s/fcgi/songscope.fcgi", ss_it_builddir());
	snprintf(spawn_fcgi, sizeof spawn_fcgi, "%s", tool_path("SS_SPAWN_FCGI"));
	snprintf(workers, sizeof workers, "%d", s->workers);
	char *argv[] = {spawn_fcgi, "-n", "-s", s->socket, "-M", "0660", "--", bin, "--config", s->conf,
			"--workers", workers, ROOT_FLAG, NULL};
	start_master(s, argv);
}

/* The fd-0 form: spawn-fcgi creates the socket and execs one songscope responder on it (no master, no
 * READY=1), so wait until the socket accepts connections. */
static void start_spawn_fcgi_one(ss_it_server *s)
{
	char bin[512], spawn_fcgi[512], log[400];
	snprintf(bin, sizeof bin, "%s/fcgi/songscope.fcgi", ss_it_builddir());
	snprintf(spawn_fcgi, sizeof spawn_fcgi, "%s", tool_path("SS_SPAWN_FCGI"));
	snprintf(log, sizeof log, "%s/songscope.log", s->dir);
	char *argv[] = {spawn_fcgi, "-n", "-s", s->socket, "-M", "0660", "--", bin, "--config", s->conf, ROOT_FLAG,
			NULL};
	s->master_pid = spawn(argv, log, NULL);
	ck_assert_int_gt(s->master_pid, 0);
	double deadline = now_mono() + WAIT_SECONDS;
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa;
		memset(&sa, 0, sizeof sa);
		sa.sun_family = AF_UNIX;
		ck_assert(strlen(s->socket) < sizeof sa.sun_path);
		memcpy(sa.sun_path, s->socket, strlen(s->socket) + 1);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return;
		int st;
		if (waitpid(s->master_pid, &st, WNOHANG) == s->master_pid || now_mono() > deadline) {
			s->master_pid = 0;
			dump_logs(s);
			ck_abort_msg("spawn-fcgi (fd-0 form) did not start");
		}
		brief_pause();
	}
}

/* Text of a conf/ file with its installation paths replaced by this test's (the same substitutions
 * `make install` does with the configured prefix, plus the socket and the listen address). */
static char *site_from_conf(ss_it_server *s, const char *rel)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", ss_it_srcdir(), rel);
	char *text = read_text(path);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	struct {
		const char *from;
		char to[600];
	} subst[7];
	int n = 0;
	subst[n].from = "/usr/local/etc/songscope/songscope.conf";
	snprintf(subst[n++].to, sizeof subst[0].to, "%s", s->conf);
	subst[n].from = "/usr/local/etc/songscope/errors";
	snprintf(subst[n++].to, sizeof subst[0].to, "%s/conf/errors", ss_it_srcdir());
	subst[n].from = "/usr/local/sbin";
	snprintf(subst[n++].to, sizeof subst[0].to, "%s/fcgi", ss_it_builddir());
	subst[n].from = "/run/songscope/songscope.sock";
	snprintf(subst[n++].to, sizeof subst[0].to, "%s", s->socket);
	subst[n].from = "/run/lighttpd/songscope.sock";
	snprintf(subst[n++].to, sizeof subst[0].to, "%s/lighttpd-fcgi.sock", s->dir);
	subst[n].from = "127.0.0.1:8080";
	snprintf(subst[n++].to, sizeof subst[0].to, "127.0.0.1:%d", s->port);
	for (int i = 0; i < n; i++) {
		char *next = replace_all(text, subst[i].from, subst[i].to);
		free(text);
		text = next;
	}
	if (geteuid() == 0) {
		/* The web server may start songscope as root here (lighttpd does; Apache's mod_fcgid as its User). */
		char *next = replace_all(text, "songscope.fcgi --config", "songscope.fcgi --allow-root --config");
		free(text);
		text = next;
	}
	return text;
}

/* Wait until the web server accepts connections on s->port; abort with its logs when it exits first. */
static void wait_web(ss_it_server *s, pid_t pid, const char *name)
{
	double deadline = now_mono() + WAIT_SECONDS;
	while (!port_accepts(s->port)) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid || now_mono() > deadline) {
			dump_logs(s);
			ck_abort_msg("%s did not start", name);
		}
		brief_pause();
	}
}

static void start_lighttpd(ss_it_server *s, bool spawn_responders)
{
	char path[512];
	char *site = site_from_conf(s, spawn_responders ? "conf/lighttpd/songscope-spawn.conf"
							: "conf/lighttpd/songscope.conf");
	snprintf(path, sizeof path, "%s/site.conf", s->dir);
	write_text(path, site);
	free(site);

	ss_buf conf;
	ss_buf_init(&conf, 0);
	ss_buf_printf(&conf,
		      "server.document-root = \"%s\"\nserver.bind = \"127.0.0.1\"\nserver.port = %d\n"
		      "server.errorlog = \"%s/lighttpd-error.log\"\nserver.upload-dirs = ( \"%s\" )\n"
		      /* As Debian's lighttpd.conf: the site must not clash with the server's own settings. */
		      "mimetype.assign = ( \".html\" => \"text/html\", \".json\" => \"application/json\" )\n"
		      "include \"%s/site.conf\"\n",
		      s->dir, s->extra_port, s->dir, s->dir, s->dir);
	snprintf(path, sizeof path, "%s/lighttpd.conf", s->dir);
	write_text(path, conf.data);
	ss_buf_free(&conf);

	char log[400], bin[512];
	snprintf(log, sizeof log, "%s/web.out", s->dir);
	snprintf(bin, sizeof bin, "%s", tool_path("SS_LIGHTTPD"));
	char *argv[] = {bin, "-D", "-f", path, NULL};
	s->web_pid = spawn(argv, log, NULL);
	ck_assert_int_gt(s->web_pid, 0);
	wait_web(s, s->web_pid, "lighttpd");
}

static void start_apache(ss_it_server *s, bool fcgid)
{
	char path[512];
	/* Apache will not serve as root: its children (and mod_fcgid's responders) run as www-data. */
	struct passwd *pw = getpwnam("www-data");
	if (pw == NULL)
		pw = getpwnam("nobody");
	ck_assert_msg(pw != NULL, "no unprivileged user for Apache");
	char user[64];
	snprintf(user, sizeof user, "%s", pw->pw_name);
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (fcgid) {
		/* The responders mod_fcgid spawns create the database and state file in the temp dir. */
		ck_assert_int_eq(chown(s->dir, uid, gid), 0);
	} else if (geteuid() == 0) {
		/* As the systemd unit arranges it: the web server's group may connect to the 0660 socket. */
		ck_assert_msg(chown(s->socket, (uid_t)-1, gid) == 0, "chown %s: %s", s->socket, strerror(errno));
	}

	char *site = site_from_conf(s, fcgid ? "conf/apache/songscope-fcgid.conf"
					     : "conf/apache/songscope-proxy-fcgi.conf");
	snprintf(path, sizeof path, "%s/site.conf", s->dir);
	write_text(path, site);
	free(site);

	const char *m = apache_modules_dir();
	ss_buf conf;
	ss_buf_init(&conf, 0);
	ss_buf_printf(&conf,
		      "ServerRoot \"%s\"\nServerName localhost\nListen 127.0.0.1:%d\nPidFile \"%s/apache.pid\"\n"
		      "DefaultRuntimeDir \"%s\"\nMutex file:%s default\nErrorLog \"%s/apache-error.log\"\n"
		      "LogLevel warn\n",
		      s->dir, s->port, s->dir, s->dir, s->dir, s->dir);
	if (geteuid() == 0)
		ss_buf_printf(&conf, "User %s\nGroup #%ld\n", user, (long)gid);
	ss_buf_printf(&conf,
		      "LoadModule mpm_event_module %s/mod_mpm_event.so\n"
		      "LoadModule authz_core_module %s/mod_authz_core.so\n"
		      "LoadModule alias_module %s/mod_alias.so\n"
		      "LoadModule rewrite_module %s/mod_rewrite.so\n"
		      "LoadModule headers_module %s/mod_headers.so\n"
		      "StartServers 1\nServerLimit 1\nThreadsPerChild 16\nMaxRequestWorkers 16\n"
		      "MinSpareThreads 1\nMaxSpareThreads 16\nDocumentRoot \"%s\"\n"
		      "<Directory />\n  Require all denied\n</Directory>\n",
		      m, m, m, m, m, s->dir);
	if (fcgid)
		ss_buf_printf(&conf,
			      "LoadModule fcgid_module %s/mod_fcgid.so\nFcgidIPCDir \"%s/fcgid\"\n"
			      "FcgidProcessTableFile \"%s/fcgid-shm\"\n",
			      m, s->dir, s->dir);
	else
		ss_buf_printf(&conf,
			      "LoadModule proxy_module %s/mod_proxy.so\nLoadModule proxy_fcgi_module %s/mod_proxy_fcgi.so\n"
			      "LoadModule env_module %s/mod_env.so\n",
			      m, m, m);
	ss_buf_printf(&conf, "Include \"%s/site.conf\"\n", s->dir);
	snprintf(path, sizeof path, "%s/apache.conf", s->dir);
	write_text(path, conf.data);
	ss_buf_free(&conf);

	char log[400], bin[512];
	snprintf(log, sizeof log, "%s/web.out", s->dir);
	snprintf(bin, sizeof bin, "%s", tool_path("SS_APACHE2"));
	char *argv[] = {bin, "-DFOREGROUND", "-d", s->dir, "-f", path, NULL};
	s->web_pid = spawn(argv, log, NULL);
	ck_assert_int_gt(s->web_pid, 0);
	wait_web(s, s->web_pid, "Apache");
}

static void start_nginx(ss_it_server *s, const ss_it_opts *o)
{
	char path[512], p2[16], port[16];
	snprintf(path, sizeof path, "%s/conf/nginx/songscope.conf", ss_it_srcdir());
	char *site = read_text(path);
	ck_assert_msg(site != NULL, "cannot read %s", path);
	snprintf(port, sizeof port, "127.0.0.1:%d", s->port);
	char *a = replace_all(site, "127.0.0.1:8080", port);
	if (o->also_upstream != NULL) {
		/* A second host's socket in the same upstream block: nginx balances round robin over both. */
		char both[800];
		snprintf(both, sizeof both, "server unix:%s;\n    server unix:%s;", s->socket, o->also_upstream);
		char *two = replace_all(a, "server unix:/run/songscope/songscope.sock;", both);
		ck_assert_msg(strcmp(two, a) != 0, "conf/nginx/songscope.conf has no upstream server line to extend");
		free(a);
		a = two;
	}
	char *b = replace_all(a, "/run/songscope/songscope.sock", s->socket);
	snprintf(path, sizeof path, "%s/site.conf", s->dir);
	write_text(path, b);
	free(site);
	free(a);
	free(b);

	/* fastcgi_params ships with nginx; the site includes it relative to the conf dir. */
	char *params = read_text("/etc/nginx/fastcgi_params");
	ck_assert_msg(params != NULL, "nginx's fastcgi_params not found");
	snprintf(path, sizeof path, "%s/fastcgi_params", s->dir);
	write_text(path, params);
	free(params);

	char *extra = NULL;
	if (o->extra_http) {
		char *e1 = replace_all(o->extra_http, "@DIR@", s->dir);
		snprintf(p2, sizeof p2, "%d", s->extra_port);
		extra = replace_all(e1, "@PORT2@", p2);
		free(e1);
	}
	ss_buf conf;
	ss_buf_init(&conf, 0);
	if (o->also_upstream != NULL) {
		/* Which upstream server answered (the last one nginx tried), for ss_it_served_by; the site's
		 * `location /` sets no header of its own, so it inherits this one. */
		char *e = extra;
		extra = NULL;
		ss_buf hdr;
		ss_buf_init(&hdr, 0);
		ss_buf_printf(&hdr, "  add_header X-Test-Upstream $upstream_addr always;\n%s", e != NULL ? e : "");
		free(e);
		extra = ss_buf_steal(&hdr, NULL);
	}
	if (geteuid() == 0)
		ss_buf_puts(&conf, "user root root;\n");
	ss_buf_printf(&conf,
		      "daemon off;\nmaster_process on;\nworker_processes 1;\npid %s/nginx.pid;\n"
		      "error_log %s/nginx-error.log warn;\nevents { worker_connections 512; }\n"
		      "http {\n  access_log off;\n  default_type application/octet-stream;\n"
		      "  client_body_temp_path %s/tmp-body;\n  fastcgi_temp_path %s/tmp-fcgi;\n"
		      "  proxy_temp_path %s/tmp-proxy;\n  uwsgi_temp_path %s/tmp-uwsgi;\n  scgi_temp_path %s/tmp-scgi;\n"
		      "  include %s/site.conf;\n%s\n}\n",
		      s->dir, s->dir, s->dir, s->dir, s->dir, s->dir, s->dir, s->dir, extra ? extra : "");
	free(extra);
	snprintf(path, sizeof path, "%s/nginx.conf", s->dir);
	write_text(path, conf.data);
	ss_buf_free(&conf);

	char log[400], errlog[400], bin[512];
	snprintf(log, sizeof log, "%s/nginx.out", s->dir);
	snprintf(errlog, sizeof errlog, "%s/nginx-error.log", s->dir);
	snprintf(bin, sizeof bin, "%s", nginx_path());
	char *argv[] = {bin, "-e", errlog, "-p", s->dir, "-c", path, NULL};
	s->nginx_pid = spawn(argv, log, NULL);
	ck_assert_int_gt(s->nginx_pid, 0);
	double deadline = now_mono() + WAIT_SECONDS;
	while (!port_accepts(s->port)) {
		int st;
		if (waitpid(s->nginx_pid, &st, WNOHANG) == s->nginx_pid || now_mono() > deadline) {
			s->nginx_pid = 0;
			tail_file(log);
			dump_logs(s);
			ck_abort_msg("nginx did not start");
		}
		brief_pause();
	}
}

bool ss_it_store_postgresql(void)
{
	const char *v = getenv("SS_IT_STORE");
	return v != NULL && strcmp(v, "postgresql") == 0;
}

void ss_it_store_params(const ss_it_server *s, ss_store_params *p)
{
	memset(p, 0, sizeof *p);
	p->backend = s->pg != NULL ? "postgresql" : "sqlite";
	p->path = s->db;
	p->conninfo = s->pg != NULL ? s->pg->conninfo : NULL;
}

/* SS_IT_STORE=postgresql: a PostgreSQL of the test's own in s->dir, and the config lines that select it. */
static void start_store(ss_it_server *s, ss_buf *conf)
{
	if (!ss_it_store_postgresql())
		return;
#ifdef SS_HAVE_LIBPQ
	s->pg = calloc(1, sizeof *s->pg);
	ck_assert(s->pg != NULL);
	char msg[1024];
	ck_assert_msg(ss_pg_server_start(s->pg, s->dir, msg, sizeof msg) == 0, "PostgreSQL for the test: %s", msg);
	ss_buf_printf(conf, "store = postgresql\npostgresql = %s\n", s->pg->conninfo);
#else
	(void)conf;
	ck_abort_msg("SS_IT_STORE=postgresql, but this build has no PostgreSQL backend");
#endif
}

/* s's temp dir, file names and ports (nothing started yet). */
static void init_server(ss_it_server *s, const ss_it_opts *o)
{
	memset(s, 0, sizeof *s);
	ck_assert_msg(ss_scratch_path(s->dir, sizeof s->dir, "ss-it-XXXXXX") == 0, "scratch directory too long: %s",
		      ss_scratch_dir());
	/* the longest unix socket in it: lighttpd's spawned responders' DIR/lighttpd-fcgi.sock-N */
	ck_assert_msg(strlen(s->dir) + strlen("/lighttpd-fcgi.sock-99") < sizeof ((struct sockaddr_un *)0)->sun_path,
		      "%s is too long for the unix sockets in it: set TMPDIR to a shorter directory", s->dir);
	ck_assert_msg(mkdtemp(s->dir) != NULL, "mkdtemp: %s", strerror(errno));
	chmod(s->dir, 0755);
	snprintf(s->conf, sizeof s->conf, "%s/songscope.conf", s->dir);
	snprintf(s->db, sizeof s->db, "%s/songscope.db", s->dir);
	snprintf(s->state, sizeof s->state, "%s/songscope.state", s->dir);
	snprintf(s->socket, sizeof s->socket, "%s/fcgi.sock", s->dir);
	s->workers = o->workers > 0 ? o->workers : 2;
	s->port = free_port();
	s->extra_port = free_port();
	ck_assert(s->port > 0 && s->extra_port > 0);
	snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", s->port);
	s->front = o->front;
}

/* The first lines of s's songscope.conf: its database (db) and state file, auth, workers, the page's files from
 * the source tree, then o->extra_conf (which may set any of them again: the last line wins). */
static void base_conf(const ss_it_server *s, const ss_it_opts *o, const char *db, ss_buf *conf)
{
	char ui[PATH_MAX + 16];
	char *src = realpath(ss_it_srcdir(), NULL);
	ck_assert_ptr_nonnull(src);
	snprintf(ui, sizeof ui, "%s/fcgi/ui", src);
	free(src);
	ss_buf_printf(conf,
		      "database = %s\nstate_file = %s\nauth = %s\nworkers = %d\nlog_level = info\nui_dir = \"%s\"\n%s\n",
		      db, s->state, o->auth ? o->auth : "off", s->workers, ui, o->extra_conf ? o->extra_conf : "");
}

void ss_it_start(ss_it_server *s, const ss_it_opts *o)
{
	static const ss_it_opts none = {0};
	if (o == NULL)
		o = &none;
	init_server(s, o);

	ss_buf conf;
	ss_buf_init(&conf, 0);
	base_conf(s, o, s->db, &conf);
	if (ss_it_limits_redis()) {
		ck_assert_msg(ss_redis_start(&s->redis, s->dir) == 0, "redis-server did not start");
		ss_buf_printf(&conf, "limits = redis\nredis = unix:%s\n", s->redis.socket);
	}
	start_store(s, &conf);
	write_text(s->conf, conf.data);
	ss_buf_free(&conf);

	ck_assert_msg(ss_it_have_front(o->front), "%s is not available", ss_it_front_name(o->front));
	switch (o->front) {
	case SS_IT_NGINX:
	case SS_IT_LIGHTTPD:
	case SS_IT_APACHE_PROXY:
		if (!o->no_songscope)
			ss_it_start_songscope(s);
		break;
	case SS_IT_SPAWN_FCGI:
		if (!o->no_songscope)
			start_spawn_fcgi(s);
		break;
	case SS_IT_SPAWN_FCGI_ONE:
		if (!o->no_songscope)
			start_spawn_fcgi_one(s);
		break;
	case SS_IT_LIGHTTPD_SPAWN:
	case SS_IT_APACHE_FCGID:
	case SS_IT_FRONT_COUNT:
		break; /* the web server starts the responders */
	}
	switch (o->front) {
	case SS_IT_LIGHTTPD:
	case SS_IT_LIGHTTPD_SPAWN:
		start_lighttpd(s, o->front == SS_IT_LIGHTTPD_SPAWN);
		break;
	case SS_IT_APACHE_PROXY:
	case SS_IT_APACHE_FCGID:
		start_apache(s, o->front == SS_IT_APACHE_FCGID);
		break;
	default:
		start_nginx(s, o);
		break;
	}
}

/* Wait for pid to exit within `seconds`; returns its status, or -1 after SIGKILL. */
static int wait_exit(pid_t pid, double seconds)
{
	double deadline = now_mono() + seconds;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		if (now_mono() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		brief_pause();
	}
}

int ss_it_stop_songscope(ss_it_server *s)
{
	if (s->master_pid <= 0)
		return 0;
	kill(s->master_pid, SIGTERM);
	int st = wait_exit(s->master_pid, 40.0);
	s->master_pid = 0;
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Which children proc_children lists: any, or a master's responders, or its counter publisher. */
enum child_kind { CHILD_ANY, CHILD_RESPONDER, CHILD_PUBLISHER };
static int proc_children(pid_t pid, pid_t *out, int max, enum child_kind kind);

/* Every descendant of pid (breadth first), up to max. */
static int descendants(pid_t pid, pid_t *out, int max)
{
	int n = proc_children(pid, out, max, CHILD_ANY);
	for (int i = 0; i < n && n < max; i++)
		n += proc_children(out[i], out + n, max - n, CHILD_ANY);
	return n;
}

bool ss_it_pid_alive(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[got] = '\0';
	char *rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

bool ss_it_wait_ended(const pid_t *pids, int n, double seconds)
{
	double deadline = now_mono() + seconds;
	bool alive = true;
	while (alive) {
		alive = false;
		for (int i = 0; i < n && !alive; i++)
			alive = ss_it_pid_alive(pids[i]);
		if (!alive || now_mono() > deadline)
			break;
		brief_pause();
	}
	return !alive;
}

/* Wait (bounded) until none of the pids runs any more; SIGKILL what is left after `seconds`. */
static void wait_gone(const pid_t *pids, int n, double seconds)
{
	if (ss_it_wait_ended(pids, n, seconds))
		return;
	for (int i = 0; i < n; i++)
		if (ss_it_pid_alive(pids[i]))
			kill(pids[i], SIGKILL);
}

void ss_it_stop(ss_it_server *s)
{
	if (s->nginx_pid > 0) {
		kill(s->nginx_pid, SIGTERM);
		wait_exit(s->nginx_pid, 10.0);
		s->nginx_pid = 0;
	}
	if (s->web_pid > 0) {
		/* lighttpd and Apache stop the responders they spawned themselves, but do not wait for them:
		 * note every descendant first and wait until they are gone before the temp dir is removed. */
		pid_t desc[64];
		int nd = descendants(s->web_pid, desc, 64);
		kill(s->web_pid, SIGTERM);
		wait_exit(s->web_pid, 20.0);
		s->web_pid = 0;
		wait_gone(desc, nd, 20.0);
	}
	ss_it_stop_songscope(s);
#ifdef SS_HAVE_LIBPQ
	if (s->pg != NULL) {
		ss_pg_server_destroy(s->pg);
		free(s->pg);
		s->pg = NULL;
	}
#endif
	ss_redis_stop(&s->redis);
	if (s->dir[0] != '\0' && getenv("SS_KEEP_TEST_DIRS") == NULL)
		ss_scratch_remove(s->dir);
	s->dir[0] = '\0';
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	ss_buf *b = userdata;
	size_t n = size * nmemb;
	return ss_buf_append(b, ptr, n) == 0 ? n : 0;
}

int ss_it_request_url(const char *method, const char *url, const char *const *headers, const void *body,
		      size_t len, ss_it_resp *out)
{
	memset(out, 0, sizeof *out);
	ss_buf_init(&out->body, 0);
	ss_buf_init(&out->headers, 0);
	CURL *c = curl_easy_init();
	if (c == NULL)
		return -1;
	struct curl_slist *hl = NULL;
	for (const char *const *h = headers; h && *h; h++)
		hl = curl_slist_append(hl, *h);
	if (body != NULL)
		hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (out->body.data == NULL)
		ss_buf_append(&out->body, "", 0);
	if (out->headers.data == NULL)
		ss_buf_append(&out->headers, "", 0);
	return rc == CURLE_OK ? 0 : -1;
}

/* With SS_IT_RESPONSE_LOG set (a directory), append one JSON line per answer songscope's web server gave:
 * {front, method, path (no query), query, status, headers {lower-case name: value}, content_type, body (JSON
 * answers only)}, to DIR/<program>-<pid>.jsonl. tests/openapi-check.py validates them against man/openapi.yaml. */
static void log_response(const ss_it_server *s, const char *method, const char *path, const ss_it_resp *r)
{
	const char *dir = getenv("SS_IT_RESPONSE_LOG");
	if (dir == NULL || dir[0] == '\0' || r->status == 0)
		return;
	mkdir(dir, 0755);
	json_object *o = json_object_new_object(), *h = json_object_new_object();
	ck_assert(o != NULL && h != NULL);
	size_t plen = strcspn(path, "?");
	json_object_object_add(o, "front", json_object_new_string(ss_it_front_name(s->front)));
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "path", json_object_new_string_len(path, (int)plen));
	json_object_object_add(o, "query", json_object_new_string(path[plen] == '?' ? path + plen + 1 : ""));
	json_object_object_add(o, "status", json_object_new_int64(r->status));
	/* Header lines after the status line: "Name: value". */
	const char *p = r->headers.data ? r->headers.data : "";
	while (*p != '\0') {
		size_t n = strcspn(p, "\r\n");
		const char *colon = memchr(p, ':', n);
		if (colon != NULL && strncmp(p, "HTTP/", 5) != 0) {
			char name[128];
			size_t k = (size_t)(colon - p) < sizeof name - 1 ? (size_t)(colon - p) : sizeof name - 1;
			for (size_t i = 0; i < k; i++)
				name[i] = (char)tolower((unsigned char)p[i]);
			name[k] = '\0';
			const char *v = colon + 1;
			while (v < p + n && *v == ' ')
				v++;
			json_object_object_add(h, name, json_object_new_string_len(v, (int)(p + n - v)));
		}
		p += n;
		p += strspn(p, "\r\n");
	}
	json_object *ct = NULL;
	json_object_object_get_ex(h, "content-type", &ct);
	const char *type = ct ? json_object_get_string(ct) : "";
	json_object_object_add(o, "content_type", json_object_new_string(type));
	json_object_object_add(o, "headers", h);
	if (strncmp(type, "application/json", 16) == 0 && strcmp(method, "HEAD") != 0)
		json_object_object_add(o, "body",
				       json_object_new_string_len(r->body.data ? r->body.data : "", (int)r->body.len));
	char file[1200];
	extern char *program_invocation_short_name;
	snprintf(file, sizeof file, "%s/%s-%ld.jsonl", dir, program_invocation_short_name, (long)getpid());
	const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ss_buf b;
	ss_buf_init(&b, 0);
	ck_assert_int_eq(ss_buf_printf(&b, "%s\n", line), 0);
	int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "%s: %s", file, strerror(errno));
	ck_assert_int_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	ss_buf_free(&b);
	json_object_put(o);
}

int ss_it_request(ss_it_server *s, const char *method, const char *path, const char *const *headers,
		  const void *body, size_t len, ss_it_resp *out)
{
	/* Any length: GET /v1/audio-features?ids= with 100 ids is longer than a fixed buffer would take. */
	size_t n = strlen(s->base_url) + strlen(path) + 1;
	char *url = malloc(n);
	ck_assert_ptr_nonnull(url);
	snprintf(url, n, "%s%s", s->base_url, path);
	int rc = ss_it_request_url(method, url, headers, body, len, out);
	free(url);
	if (rc == 0)
		log_response(s, method, path, out);
	return rc;
}

/* Where the header block of a raw answer ends (just past its blank line), or 0 while it has not ended. */
static size_t raw_header_end(const ss_buf *b)
{
	for (size_t i = 0; i + 3 < b->len; i++)
		if (memcmp(b->data + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

/* Value of header `name` in the block [p, p+n) into out; 1 found, 0 absent. */
static int raw_header_value(const char *p, size_t n, const char *name, char *out, size_t outlen)
{
	ss_it_resp tmp;
	memset(&tmp, 0, sizeof tmp);
	ss_buf_init(&tmp.headers, 0);
	int found = ss_buf_append(&tmp.headers, p, n) == 0 && ss_it_header(&tmp, name, out, outlen);
	ss_buf_free(&tmp.headers);
	return found;
}

/* Decode a chunked body [p, p+n) into out; returns 1 when the last chunk has arrived, 0 when more is needed,
 * -1 when it is not chunked coding or memory ran out. */
static int raw_dechunk(const char *p, size_t n, ss_buf *out)
{
	size_t i = 0;
	for (;;) {
		size_t size = 0, digits = 0;
		while (i < n && isxdigit((unsigned char)p[i])) {
			int c = tolower((unsigned char)p[i++]);
			size = size * 16 + (size_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
			if (++digits > 10)
				return -1;
		}
		const char *eol = memchr(p + i, '\n', n - i);
		if (eol == NULL)
			return 0;
		if (digits == 0)
			return -1;
		i = (size_t)(eol - p) + 1; /* past chunk extensions and the line end */
		if (size == 0)
			return 1; /* trailers, if any, are not kept */
		if (n - i < size + 2)
			return 0;
		if (ss_buf_append(out, p + i, size) != 0)
			return -1;
		i += size + 2;
	}
}

/* Parse the raw answer in b into out (replacing what it held). Returns 1 when the answer is complete
 * (headers, and the body by Content-Length, chunks, or the server's close), 0 when more is to come, -1 when
 * memory ran out. */
static int raw_parse(const ss_buf *b, bool closed, ss_it_resp *out)
{
	ss_buf_reset(&out->headers);
	ss_buf_reset(&out->body);
	out->status = 0;
	if (b->len >= 5 && memcmp(b->data, "HTTP/", 5) != 0) {
		/* No status line (an HTTP/0.9 answer): everything is the body. */
		return ss_buf_append(&out->body, b->data, b->len) != 0 ? -1 : closed;
	}
	size_t hend = raw_header_end(b);
	if (hend == 0)
		return closed;
	if (ss_buf_append(&out->headers, b->data, hend) != 0)
		return -1;
	const char *sp = memchr(b->data, ' ', hend);
	if (sp != NULL)
		out->status = strtol(sp + 1, NULL, 10);
	char v[64];
	const char *body = b->data + hend;
	size_t blen = b->len - hend;
	if (raw_header_value(b->data, hend, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0) {
		int r = raw_dechunk(body, blen, &out->body);
		return r < 0 && !closed ? -1 : (r == 1 || closed);
	}
	size_t want = blen;
	if (raw_header_value(b->data, hend, "Content-Length", v, sizeof v))
		want = (size_t)strtoull(v, NULL, 10);
	else if (!closed && out->status != 204 && out->status != 304)
		return 0; /* the body ends when the server closes */
	if (ss_buf_append(&out->body, body, blen < want ? blen : want) != 0)
		return -1;
	return blen >= want || closed;
}

int ss_it_raw_request(ss_it_server *s, const void *req, size_t len, ss_it_resp *out)
{
	memset(out, 0, sizeof *out);
	ss_buf_init(&out->body, 0);
	ss_buf_init(&out->headers, 0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)s->port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ss_buf in;
	ss_buf_init(&in, 0);
	size_t sent = 0;
	bool closed = false;
	int done = 0;
	bool failed = false;
	double deadline = now_mono() + 30.0;
	while (!done && !closed && !failed && now_mono() < deadline) {
		/* Keep writing until the server has answered (it may answer before reading everything). */
		struct pollfd p = {.fd = fd, .events = POLLIN | (sent < len && in.len == 0 ? POLLOUT : 0)};
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (p.revents & POLLIN || p.revents & (POLLHUP | POLLERR)) {
			char chunk[16384];
			ssize_t n = recv(fd, chunk, sizeof chunk, 0);
			if (n > 0)
				failed = ss_buf_append(&in, chunk, (size_t)n) != 0;
			else if (n == 0 || errno != EINTR)
				closed = true; /* the end, or a reset after the answer */
			if (in.len > 0 && !failed) {
				done = raw_parse(&in, closed, out);
				failed = done < 0;
			}
		} else if (p.revents & POLLOUT) {
			ssize_t n = send(fd, (const char *)req + sent, len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EINTR && errno != EAGAIN)
				sent = len; /* the server stopped reading: wait for its answer */
		}
	}
	close(fd);
	if (done == 0 && !failed && in.len > 0)
		done = raw_parse(&in, true, out);
	ss_buf_free(&in);
	if (out->body.data == NULL)
		ss_buf_append(&out->body, "", 0);
	if (out->headers.data == NULL)
		ss_buf_append(&out->headers, "", 0);
	return done == 1 && !failed ? 0 : -1;
}

void ss_it_resp_free(ss_it_resp *r)
{
	ss_buf_free(&r->body);
	ss_buf_free(&r->headers);
}

int ss_it_header(const ss_it_resp *r, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	const char *p = r->headers.data;
	while (p && *p) {
		const char *eol = strstr(p, "\r\n");
		size_t linelen = eol ? (size_t)(eol - p) : strlen(p);
		if (linelen > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			size_t vl = linelen - (size_t)(v - p);
			if (vl >= outlen)
				vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 1;
		}
		p = eol ? eol + 2 : NULL;
	}
	return 0;
}

json_object *ss_it_json(const ss_it_resp *r)
{
	json_object *o = ss_json_parse(r->body.data, r->body.len, 64);
	ck_assert_msg(o != NULL, "response (status %ld) is not strict JSON: %.300s", r->status, r->body.data);
	return o;
}

void ss_it_assert_error(const ss_it_resp *r, long status, const char *code)
{
	ck_assert_msg(r->status == status, "status %ld, expected %ld: %.300s", r->status, status, r->body.data);
	char ct[128];
	ck_assert_msg(ss_it_header(r, "Content-Type", ct, sizeof ct) && strncmp(ct, "application/json", 16) == 0,
		      "content type of a %ld answer is not JSON", status);
	json_object *o = ss_it_json(r);
	json_object *e, *m;
	ck_assert_msg(json_object_object_get_ex(o, "error", &e) && json_object_is_type(e, json_type_string),
		      "no error code in %.300s", r->body.data);
	ck_assert_str_eq(json_object_get_string(e), code);
	ck_assert(json_object_object_get_ex(o, "message", &m) && json_object_is_type(m, json_type_string));
	ck_assert_uint_gt(strlen(json_object_get_string(m)), 0);
	json_object_put(o);
}

/* The live children of pid from /proc, up to max. */
static int proc_children(pid_t pid, pid_t *out, int max, enum child_kind kind)
{
	DIR *d = opendir("/proc");
	int n = 0;
	if (d == NULL)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < max) {
		char *end;
		long p = strtol(e->d_name, &end, 10);
		if (*end != '\0' || p <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof path, "/proc/%ld/stat", p);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t got = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[got] = '\0';
		/* pid (comm) state ppid ... — comm may contain spaces, so parse after the last ')'. */
		char *rp = strrchr(buf, ')');
		char state;
		long ppid;
		if (rp == NULL || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2)
			continue;
		if (ppid != pid || state == 'Z')
			continue;
		bool publisher = strstr(buf, "(" SS_IT_PUBLISHER_COMM ")") != NULL;
		if (kind == CHILD_ANY || (kind == CHILD_PUBLISHER) == publisher)
			out[n++] = (pid_t)p;
	}
	closedir(d);
	return n;
}

int ss_it_children(pid_t pid, pid_t *out, int max)
{
	return proc_children(pid, out, max, CHILD_RESPONDER);
}

int ss_it_counter_publishers(pid_t master, pid_t *out, int max)
{
	return proc_children(master, out, max, CHILD_PUBLISHER);
}

int ss_it_wait_children(pid_t pid, int n, const pid_t *old, int n_old)
{
	double deadline = now_mono() + 10.0;
	while (now_mono() < deadline) {
		pid_t kids[64];
		int k = ss_it_children(pid, kids, 64);
		int fresh = 1;
		for (int i = 0; i < k && fresh; i++)
			for (int j = 0; j < n_old; j++)
				if (kids[i] == old[j])
					fresh = 0;
		if (k == n && fresh)
			return 0;
		brief_pause();
	}
	return -1;
}

int ss_it_run(char *const argv[], ss_buf *out)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	char chunk[4096];
	ssize_t n;
	while ((n = read(pfd[0], chunk, sizeof chunk)) > 0)
		if (out)
			ss_buf_append(out, chunk, (size_t)n);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void ss_it_make_key(ss_it_server *s, const char *scope, char *key, size_t keylen)
{
	ss_it_create_key(s, key, keylen, NULL, 0, "it", "--scope", scope, NULL, NULL);
	/* songscope-admin ran as the test's user: give what it created to the user the responders run as
	 * (the dir's owner; www-data when Apache's mod_fcgid spawns them), as an operator would. */
	struct stat dst;
	ck_assert_int_eq(stat(s->dir, &dst), 0);
	const char *suffix[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		char p[400];
		snprintf(p, sizeof p, "%s%s", s->db, suffix[i]);
		if (access(p, F_OK) == 0)
			ck_assert_msg(chown(p, dst.st_uid, dst.st_gid) == 0, "chown %s: %s", p, strerror(errno));
	}
}

unsigned char *ss_it_make_wav(double hz, double seconds, size_t *len)
{
	const int sr = 22050;
	size_t frames = (size_t)(seconds * sr), data = frames * 2;
	unsigned char *w = malloc(44 + data);
	ck_assert_ptr_nonnull(w);
	uint32_t v32;
	uint16_t v16;
	memcpy(w, "RIFF", 4);
	v32 = (uint32_t)(36 + data);
	memcpy(w + 4, &v32, 4);
	memcpy(w + 8, "WAVEfmt ", 8);
	v32 = 16;
	memcpy(w + 16, &v32, 4);
	v16 = 1;
	memcpy(w + 20, &v16, 2);
	memcpy(w + 22, &v16, 2); /* one channel */
	v32 = (uint32_t)sr;
	memcpy(w + 24, &v32, 4);
	v32 = (uint32_t)sr * 2;
	memcpy(w + 28, &v32, 4);
	v16 = 2;
	memcpy(w + 32, &v16, 2);
	v16 = 16;
	memcpy(w + 34, &v16, 2);
	memcpy(w + 36, "data", 4);
	v32 = (uint32_t)data;
	memcpy(w + 40, &v32, 4);
	for (size_t i = 0; i < frames; i++) {
		double t = (double)i / sr, beat = fmod(t, 0.5);
		double x = 0.3 * sin(2.0 * M_PI * hz * t) + (beat < 0.01 ? 0.5 * (1.0 - beat / 0.01) : 0.0);
		int16_t s = (int16_t)lrint(x * 32000.0);
		memcpy(w + 44 + 2 * i, &s, 2);
	}
	*len = 44 + data;
	return w;
}

void ss_it_start_two_hosts(ss_it_server *h1, ss_it_server *h2, const ss_it_opts *o)
{
	ck_assert_msg(o->front == SS_IT_NGINX && !o->no_songscope && o->also_upstream == NULL,
		      "two hosts run behind the harness's nginx, each with its own master");
	init_server(h2, o);
	h2->base_url[0] = '\0'; /* no web server of its own: it is reached through h1's nginx */
	h2->port = 0;
	ss_it_opts o1 = *o;
	o1.also_upstream = h2->socket;
	ss_it_start(h1, &o1);

	/* Host 2's config, as a second machine's would be: its own state file, host 1's store and Redis. */
	ss_buf conf;
	ss_buf_init(&conf, 0);
	base_conf(h2, o, h1->pg != NULL ? h2->db : h1->db, &conf);
	if (h1->redis.pid > 0)
		ss_buf_printf(&conf, "limits = redis\nredis = unix:%s\n", h1->redis.socket);
	if (h1->pg != NULL)
		ss_buf_printf(&conf, "store = postgresql\npostgresql = %s\n", h1->pg->conninfo);
	write_text(h2->conf, conf.data);
	ss_buf_free(&conf);
	ss_it_start_songscope(h2);
}

bool ss_it_served_by(const ss_it_resp *r, const ss_it_server *host)
{
	char v[1024], want[400];
	if (!ss_it_header(r, "X-Test-Upstream", v, sizeof v))
		return false;
	/* "unix:A" or, when nginx had to try more than one, "unix:A, unix:B": the last one answered. */
	const char *last = v, *p;
	while ((p = strstr(last, ", ")) != NULL)
		last = p + 2;
	snprintf(want, sizeof want, "unix:%s", host->socket);
	return strcmp(last, want) == 0;
}

long ss_it_keyed(ss_it_server *s, const char *path, const char *key, ss_it_resp *out)
{
	char h[200];
	snprintf(h, sizeof h, "X-API-Key: %.150s", key != NULL ? key : "");
	const char *hdrs[] = {key != NULL && key[0] != '\0' ? h : NULL, NULL};
	ck_assert_msg(ss_it_request(s, "GET", path, hdrs, NULL, 0, out) == 0, "GET %s: no answer", path);
	return out->status;
}

long ss_it_status(ss_it_server *s, const char *path, const char *key)
{
	ss_it_resp r;
	long st = ss_it_keyed(s, path, key, &r);
	ss_it_resp_free(&r);
	return st;
}

json_object *ss_it_get_json(ss_it_server *s, const char *path, const char *key)
{
	ss_it_resp r;
	ss_it_keyed(s, path, key, &r);
	ck_assert_msg(r.status == 200, "GET %s: %ld %.300s", path, r.status, r.body.data);
	json_object *o = ss_it_json(&r);
	ss_it_resp_free(&r);
	return o;
}

long ss_it_wait_status(ss_it_server *s, const char *path, const char *key, long want, int n)
{
	long other = 0;
	int in_a_row = 0;
	double deadline = now_mono() + 20.0;
	while (in_a_row < n && now_mono() < deadline) {
		long st = ss_it_status(s, path, key);
		in_a_row = st == want ? in_a_row + 1 : 0;
		if (st != want) {
			other = st;
			brief_pause();
		}
	}
	return in_a_row >= n ? want : other;
}

long ss_it_want_in_a_row(ss_it_server *s, const char *path, const char *key, long want, int n)
{
	long got = 0;
	int in_a_row = 0;
	double deadline = now_mono() + 20.0;
	while (in_a_row < n) {
		ck_assert_msg(now_mono() < deadline, "%s: no %d answers %ld in a row within 20 s", path, n, want);
		long st = ss_it_status(s, path, key);
		ck_assert_msg(st == want || st == 503, "%s answered %ld, not %ld (or 503)", path, st, want);
		in_a_row = st == want ? in_a_row + 1 : 0;
		got += st == want;
	}
	return got;
}

long ss_it_health(ss_it_server *s, const char *component, char *out, size_t len)
{
	ss_it_resp r;
	ss_it_keyed(s, "/health", NULL, &r);
	json_object *j = ss_it_json(&r), *comps, *v;
	out[0] = '\0';
	if (json_object_object_get_ex(j, "components", &comps) && json_object_object_get_ex(comps, component, &v))
		snprintf(out, len, "%s", json_object_get_string(v));
	long st = r.status;
	json_object_put(j);
	ss_it_resp_free(&r);
	return st;
}

long ss_it_analyze_tone(ss_it_server *s, const char *key, double hz, bool *cached, ss_it_resp *out)
{
	size_t len;
	unsigned char *wav = ss_it_make_wav(hz, 4.0, &len);
	char title[64], kh[200];
	snprintf(title, sizeof title, "X-Song-Title: tone %.0f", hz);
	snprintf(kh, sizeof kh, "X-API-Key: %.150s", key != NULL ? key : "");
	const char *hdrs[] = {title, "Content-Type: audio/wav", key != NULL && key[0] != '\0' ? kh : NULL, NULL};
	ss_it_resp local;
	ss_it_resp *r = out != NULL ? out : &local;
	ck_assert_msg(ss_it_request(s, "POST", "/analyze_data", hdrs, wav, len, r) == 0, "analyze_data: no answer");
	free(wav);
	long st = r->status;
	if (cached != NULL) {
		*cached = false;
		if (st == 200) {
			json_object *o = ss_it_json(r), *v;
			*cached = json_object_object_get_ex(o, "cached", &v) && json_object_get_boolean(v);
			json_object_put(o);
		}
	}
	if (out == NULL)
		ss_it_resp_free(&local);
	return st;
}

/* What one client of ss_it_race reports through the pipe (one write, below PIPE_BUF: never interleaved). */
typedef struct race_report {
	int ok;
	int served[SS_IT_RACE_MAX_HOSTS];
} race_report;

int ss_it_race(ss_it_server *s, const char *path, const char *key, int clients, int tries, const char *refusal,
	       ss_it_server *const *hosts, int nhosts, int *served)
{
	ck_assert(clients > 0 && clients <= 64 && nhosts >= 0 && nhosts <= SS_IT_RACE_MAX_HOSTS);
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pids[64];
	for (int c = 0; c < clients; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] != 0)
			continue;
		close(pfd[0]);
		race_report rep;
		memset(&rep, 0, sizeof rep);
		char h[200], code[80], ra[32];
		snprintf(h, sizeof h, "X-API-Key: %.150s", key);
		snprintf(code, sizeof code, "\"%s\"", refusal);
		const char *hdrs[] = {h, NULL};
		for (int i = 0; i < tries; i++) {
			ss_it_resp r;
			if (ss_it_request(s, "GET", path, hdrs, NULL, 0, &r) != 0)
				_exit(3);
			if (r.status == 200) {
				rep.ok++;
				for (int k = 0; k < nhosts; k++)
					rep.served[k] += ss_it_served_by(&r, hosts[k]);
			} else if (r.status != 429 || strstr(r.body.data, code) == NULL ||
				   !ss_it_header(&r, "Retry-After", ra, sizeof ra)) {
				fprintf(stderr, "race client %d: %ld %.200s\n", c, r.status, r.body.data);
				_exit(4);
			}
			ss_it_resp_free(&r);
		}
		_exit(write(pfd[1], &rep, sizeof rep) == (ssize_t)sizeof rep ? 0 : 5);
	}
	close(pfd[1]);
	int total = 0;
	for (int k = 0; k < nhosts; k++)
		served[k] = 0;
	race_report rep;
	int reports = 0;
	while (read(pfd[0], &rep, sizeof rep) == (ssize_t)sizeof rep) {
		reports++;
		total += rep.ok;
		for (int k = 0; k < nhosts; k++)
			served[k] += rep.served[k];
	}
	close(pfd[0]);
	for (int c = 0; c < clients; c++) {
		int st;
		ck_assert_int_eq(waitpid(pids[c], &st, 0), pids[c]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "race client %d failed (%d)", c,
			      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	ck_assert_int_eq(reports, clients);
	return total;
}

int ss_it_children_sorted(pid_t pid, pid_t *out, int max)
{
	int n = ss_it_children(pid, out, max);
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && out[k - 1] > out[k]; k--) {
			pid_t t = out[k];
			out[k] = out[k - 1];
			out[k - 1] = t;
		}
	return n;
}

/* songscope-admin --config <s's config> --json with the arguments in ap (up to a NULL); stdout into out. */
static void admin_v(const ss_it_server *s, ss_buf *out, va_list ap)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	const char *argv[24] = {bin, "--config", s->conf, "--json"};
	int n = 4;
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		ck_assert_msg(n < 23, "too many songscope-admin arguments");
		argv[n++] = a;
	}
	argv[n] = NULL;
	int rc = ss_it_run((char *const *)argv, out);
	ck_assert_msg(rc == 0, "songscope-admin %s %s failed (%d): %s", n > 4 ? argv[4] : "", n > 5 ? argv[5] : "", rc,
		      out->data != NULL ? out->data : "");
}

void ss_it_admin(const ss_it_server *s, ss_buf *out, ...)
{
	ss_buf local;
	ss_buf_init(&local, 0);
	va_list ap;
	va_start(ap, out);
	admin_v(s, out != NULL ? out : &local, ap);
	va_end(ap);
	ss_buf_free(&local);
}

json_object *ss_it_admin_json(const ss_it_server *s, ...)
{
	ss_buf out;
	ss_buf_init(&out, 0);
	va_list ap;
	va_start(ap, s);
	admin_v(s, &out, ap);
	va_end(ap);
	json_object *j = out.data != NULL ? ss_json_parse(out.data, out.len, 16) : NULL;
	ck_assert_msg(j != NULL, "songscope-admin printed no JSON: %s", out.data != NULL ? out.data : "");
	ss_buf_free(&out);
	return j;
}

void ss_it_create_key(const ss_it_server *s, char *key, size_t keylen, char *id, size_t idlen, const char *name,
		      const char *opt1, const char *val1, const char *opt2, const char *val2)
{
	ss_buf out;
	ss_buf_init(&out, 0);
	ss_it_admin(s, &out, "keys", "create", name, opt1, val1, opt2, val2, NULL);
	json_object *j = out.data != NULL ? ss_json_parse(out.data, out.len, 8) : NULL, *v;
	ck_assert_msg(j != NULL && json_object_object_get_ex(j, "key", &v), "%s", out.data != NULL ? out.data : "");
	snprintf(key, keylen, "%s", json_object_get_string(v));
	ck_assert(json_object_object_get_ex(j, "id", &v));
	if (id != NULL)
		snprintf(id, idlen, "%lld", (long long)json_object_get_int64(v));
	json_object_put(j);
	ss_buf_free(&out);
}

void ss_it_assert_store_sound(const ss_it_server *s)
{
	ss_buf out;
	ss_buf_init(&out, 0);
	ss_it_admin(s, &out, "db", "check", NULL);
	json_object *j = out.data != NULL ? ss_json_parse(out.data, out.len, 8) : NULL, *v;
	ck_assert_msg(j != NULL && json_object_object_get_ex(j, "ok", &v) && json_object_get_boolean(v),
		      "songscope-admin db check: %s", out.data != NULL ? out.data : "");
	json_object_put(j);
	ss_buf_free(&out);
}

long long ss_it_redis_day_count(const ss_it_server *s, const char *key_id)
{
	char k[64], out[64];
	snprintf(k, sizeof k, "songscope:k:%s", key_id);
	const char *argv[] = {"HGET", k, "c", NULL};
	ck_assert_int_eq(ss_redis_command(&s->redis, out, sizeof out, argv), 0);
	return strcmp(out, "(nil)") == 0 ? -1 : atoll(out);
}

char *ss_it_pg_query(const ss_it_server *s, const char *sql)
{
	ck_assert_msg(s->pg != NULL, "the test's server has no PostgreSQL");
	ss_buf out;
	ss_buf_init(&out, 0);
#ifdef SS_HAVE_LIBPQ
	int rc = ss_pg_server_query(s->pg, sql, &out);
	ck_assert_msg(rc == 0, "%s: %s", sql, out.data != NULL ? out.data : "");
#else
	(void)sql;
	ck_abort_msg("this build has no PostgreSQL client");
#endif
	if (out.data == NULL)
		ss_buf_append(&out, "", 0);
	return ss_buf_steal(&out, NULL);
}

/* sql must answer one row "0". */
static void pg_expect_zero(const ss_it_server *s, const char *what, const char *sql)
{
	char *v = ss_it_pg_query(s, sql);
	ck_assert_msg(strcmp(v, "0\n") == 0, "%s: %s", what, v);
	free(v);
}

void ss_it_assert_pg_rows_sound(const ss_it_server *s)
{
	pg_expect_zero(s, "duplicate cache keys", "SELECT count(*) - count(DISTINCT cache_key) FROM analysis_cache");
	/* The cast fails the query for a result that is not JSON at all. */
	pg_expect_zero(s, "cache rows without a whole result",
		       "SELECT count(*) FROM analysis_cache WHERE jsonb_typeof(result_json::jsonb) <> 'object' OR NOT "
		       "(result_json::jsonb ?& array['bpm','bpm_confidence','key','key_confidence','energy',"
		       "'danceability','acousticness','spectral_centroid'])");
	pg_expect_zero(s, "usage rows out of range",
		       "SELECT count(*) FROM api_usage WHERE status NOT BETWEEN 100 AND 599 OR api_key_id <= 0 OR "
		       "timestamp > timezone('UTC', now()) + interval '1 day'");
	pg_expect_zero(s, "usage rows of no key",
		       "SELECT count(*) FROM api_usage u WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = u.api_key_id)");
	pg_expect_zero(s, "negative counters",
		       "SELECT count(*) FROM server_stats WHERE least(total_analyses, cache_hits, cache_misses, "
		       "requests_served) < 0");
}

/* What one load client reports through the pipe when it stops (one write, below PIPE_BUF). */
typedef struct load_report {
	long long keyed, keyed_ok;
	int unavailable;
} load_report;

void ss_it_load_start(ss_it_load *l, ss_it_server *s, int clients, ss_it_load_fn fn, const void *arg)
{
	ck_assert(clients > 0 && clients <= SS_IT_LOAD_MAX);
	memset(l, 0, sizeof *l);
	snprintf(l->stop, sizeof l->stop, "%s/stop-load-%ld", s->dir, (long)getpid());
	unlink(l->stop);
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	for (int c = 0; c < clients; c++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid != 0) {
			l->pids[l->n++] = pid;
			continue;
		}
		close(pfd[0]);
		load_report rep = {0, 0, 0};
		for (int i = 0; i < 3000 && access(l->stop, F_OK) != 0; i++) {
			ss_it_resp r;
			bool keyed = fn(s, c * 3000 + i, arg, &r);
			char ra[16];
			bool ok = r.status == 200 || (r.status == 503 && strstr(r.body.data, "\"unavailable\"") != NULL &&
						      ss_it_header(&r, "Retry-After", ra, sizeof ra));
			if (!ok)
				fprintf(stderr, "load client %d: %ld %.200s\n", c, r.status, r.body.data);
			rep.unavailable += r.status == 503;
			rep.keyed += keyed;
			rep.keyed_ok += keyed && r.status == 200;
			ss_it_resp_free(&r);
			if (!ok)
				_exit(4);
		}
		_exit(write(pfd[1], &rep, sizeof rep) == (ssize_t)sizeof rep ? 0 : 5);
	}
	close(pfd[1]);
	l->fd = pfd[0];
}

int ss_it_load_stop(ss_it_load *l, long long *keyed, long long *keyed_ok)
{
	FILE *f = fopen(l->stop, "w");
	ck_assert_msg(f != NULL, "%s: %s", l->stop, strerror(errno));
	fclose(f);
	load_report rep;
	int reports = 0, saw_503 = 0;
	*keyed = *keyed_ok = 0;
	while (read(l->fd, &rep, sizeof rep) == (ssize_t)sizeof rep) {
		reports++;
		*keyed += rep.keyed;
		*keyed_ok += rep.keyed_ok;
		saw_503 += rep.unavailable > 0;
	}
	close(l->fd);
	for (int c = 0; c < l->n; c++) {
		int st;
		ck_assert_int_eq(waitpid(l->pids[c], &st, 0), l->pids[c]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "load client %d: bad answer or transport error (%d)",
			      c, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	ck_assert_int_eq(reports, l->n);
	unlink(l->stop);
	return saw_503;
}
