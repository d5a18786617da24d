#include "fcgi/master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "core/limits/state.h"
#include "core/store/store.h"
#include "core/util/log.h"
#include "core/util/timefmt.h"
#include "fcgi/context.h"
#include "fcgi/listen.h"
#include "fcgi/notify.h"
#include "fcgi/responder.h"
#include "fcgi/shared_counters.h"

#define MAX_CHILDREN 512
#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 10.0
#define QUICK_DEATH 1.0 /* a responder dying sooner than this after start counts as a crash loop */
#define PUB_FINAL_WAIT_S 1.0 /* at exit, how long the last counter publish may take (a hung Redis: no longer) */

typedef struct {
	pid_t pid;
	unsigned generation;
	double started;
} child;

typedef struct {
	child kids[MAX_CHILDREN];
	int nkids;
	unsigned generation;
	double backoff;
	double next_spawn;
	double service_started;
} master_state;

/* ---- the state-lock watchdog ----
 * Responders hold the state file's lock for a few loads and stores. One that holds it for longer than
 * SS_STATE_LOCK_HOLD_MAX_MS is stopped (SIGSTOP, a debugger) or stuck, and every other responder would
 * wait 2 s and answer 503 until it resumes. The master, which never takes the lock itself, maps the file
 * (ss_state_attach: it never creates one) and SIGKILLs such a holder when it is one of its own responders
 * (SIGKILL works on a stopped process; the robust mutex then hands EOWNERDEAD to the next locker, which
 * repairs the tables). A holder that is not its child (songscope-admin, another master) is only logged. */

typedef struct {
	ss_state *st;
	double retry_at;  /* next attach attempt */
	double checked_at; /* last ss_state_is_current */
	pid_t warned;     /* last foreign holder warned about, and when */
	double warned_at;
	pid_t killed;     /* last holder killed (until it is reaped its record may still be seen) */
} watchdog;

static watchdog wd; /* the master's; a responder closes its inherited copy at start */

/* The record of the process that publishes this host's counters to the shared limiter backend (NULL with
 * limits = local); the master's, a child frees its inherited copy at start. */
static ss_counter_pub *pub;

static void pub_reopen(const ss_config *cfg)
{
	ss_counter_pub_free(pub);
	pub = NULL;
	ss_error err;
	ss_error_clear(&err);
	if (ss_counter_pub_new(cfg, &pub, &err) != 0)
		ss_log_error("%s", err.msg);
}

static void watchdog_drop(watchdog *w)
{
	ss_state_close(w->st);
	w->st = NULL;
	w->retry_at = 0;
}

static const child *find_child(const master_state *m, pid_t pid)
{
	for (int i = 0; i < m->nkids; i++)
		if (m->kids[i].pid == pid)
			return &m->kids[i];
	return NULL;
}

/* One look at the lock's holder. Returns the seconds until the next look is due. */
static double watchdog_check(watchdog *w, const master_state *m, const char *path)
{
	const double idle = 1.0, watching = 0.1;
	double now = ss_time_mono();
	if (w->st != NULL && (!ss_state_is_usable(w->st) || now - w->checked_at >= 1.0)) {
		w->checked_at = now;
		if (!ss_state_is_current(w->st))
			watchdog_drop(w); /* rebuilt, replaced or broken: follow the new file */
	}
	if (w->st == NULL) {
		if (now < w->retry_at)
			return idle;
		ss_error err;
		if (ss_state_attach(path, &w->st, &err) != 0) {
			w->retry_at = now + 1.0; /* not there yet: the responders build it */
			return idle;
		}
		w->checked_at = now;
	}
	pid_t pid;
	int64_t held_ms;
	if (!ss_state_lock_holder(w->st, &pid, &held_ms))
		return idle;
	if (held_ms < SS_STATE_LOCK_HOLD_MAX_MS) {
		double left = (double)(SS_STATE_LOCK_HOLD_MAX_MS - held_ms) / 1000.0 + 0.01;
		return left < watching ? watching : left;
	}
	if (pid == w->killed || kill(pid, 0) != 0)
		return watching; /* dead or being reaped: the next locker repairs */
	const child *c = find_child(m, pid);
	/* The holder must have existed when the hold began (a recycled pid must not be killed for it). */
	if (c != NULL && c->started <= now - (double)held_ms / 1000.0) {
		kill(pid, SIGKILL);
		w->killed = pid;
		uint64_t n = ss_state_counter_add(w->st, SS_STATE_COUNTER_HOLDERS_KILLED, 1);
		ss_log_error("responder %ld held the state lock for %lld ms (stopped or stuck; the bound is %d ms): "
			     "killed it (%llu so far)",
			     (long)pid, (long long)held_ms, SS_STATE_LOCK_HOLD_MAX_MS, (unsigned long long)n);
		return watching;
	}
	if (pid != w->warned || now - w->warned_at >= 10.0) {
		ss_log_warn("process %ld, not a responder of this master, has held the state lock for %lld ms; "
			    "requests will fail until it releases it",
			    (long)pid, (long long)held_ms);
		w->warned = pid;
		w->warned_at = now;
	}
	return watching;
}

static int is_unix_path(const char *listen)
{
	return strchr(listen, '/') != NULL;
}

/* Remove a stale socket file left by a crash, refusing when someone still listens on it. */
static int clear_stale_socket(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		ss_log_error("%s exists and is not a socket; refusing to replace it", path);
		return -1;
	}
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int in_use = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	if (in_use) {
		ss_log_error("another process is already serving %s", path);
		return -1;
	}
	return unlink(path);
}

static int open_listen_socket(const char *listen)
{
	if (is_unix_path(listen)) {
		struct sockaddr_un sa;
		if (strlen(listen) >= sizeof sa.sun_path) {
			ss_log_error("socket path too long: %s", listen);
			return -1;
		}
		if (clear_stale_socket(listen) != 0)
			return -1;
		mode_t old = umask(0117);
		int fd = FCGX_OpenSocket(listen, 1024);
		umask(old);
		if (fd < 0) {
			ss_log_error("cannot listen on %s: %s", listen, strerror(errno));
			return -1;
		}
		if (chmod(listen, 0660) != 0)
			ss_log_warn("cannot set mode 0660 on %s: %s", listen, strerror(errno));
		return fd;
	}
	/* HOST:PORT or :PORT */
	int fd = FCGX_OpenSocket(listen, 1024);
	if (fd < 0)
		ss_log_error("cannot listen on %s: %s", listen, strerror(errno));
	return fd;
}

/* Create the database and run migrations once before forking, so responders starting together find the
 * schema ready. A failure is not fatal: responders retry and /health reports it. */
static void prepare_database(const ss_config *cfg)
{
	ss_store *store = NULL;
	ss_store_params sp;
	ss_error err;
	ss_error_clear(&err);
	ss_store_params_from_config(cfg, &sp);
	if (ss_store_open(&sp, &store, &err) != 0)
		ss_log_error("%s", err.msg);
	ss_store_close(store);
}

/* First steps of any child of the master: end with it, and let go of what is the master's. */
static void child_start(pid_t master)
{
	signal(SIGCHLD, SIG_DFL);
	/* Die with the master even if it is SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	watchdog_drop(&wd); /* the master's mapping of the state file is not the child's */
}

/* The counter publisher's process (never returns). It keeps every signal blocked but those it waits for. */
static void publisher_main(int listen_fd, pid_t master)
{
	child_start(master);
	close(listen_fd); /* it serves nobody */
	ss_counter_pub_run(pub);
	fflush(NULL);
	_exit(0);
}

static void child_main(ss_config *cfg, const char *config_path, int listen_fd, pid_t master, double started)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	child_start(master);
	ss_counter_pub_forget(pub); /* the master's record of its publisher */
	pub = NULL;

	ss_ctx_params cp = {.cfg = cfg, .config_path = config_path, .service_started_at = started, .own_master = true,
			    .master_pid = master};
	int status = ss_responder_run(&cp, listen_fd, cfg->max_requests);
	fflush(NULL);
	_exit(status);
}

static int spawn(master_state *m, ss_config *cfg, const char *config_path, int listen_fd)
{
	if (m->nkids >= MAX_CHILDREN)
		return -1;
	pid_t master = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		ss_log_error("fork failed: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child_main(cfg, config_path, listen_fd, master, m->service_started);
	m->kids[m->nkids].pid = pid;
	m->kids[m->nkids].generation = m->generation;
	m->kids[m->nkids].started = ss_time_mono();
	m->nkids++;
	return 0;
}

/* Fork the counter publisher when ss_counter_pub_due says so. Returns the seconds until it is next due. */
static double publisher_check(int listen_fd)
{
	double due = ss_counter_pub_due(pub);
	if (due > 0)
		return due;
	pid_t master = getpid();
	pid_t pid = fork();
	if (pid == 0)
		publisher_main(listen_fd, master);
	if (pid < 0)
		ss_log_error("fork failed (counter publisher): %s", strerror(errno));
	ss_counter_pub_started(pub, pid);
	return ss_counter_pub_due(pub);
}

static int count_generation(const master_state *m, unsigned gen)
{
	int n = 0;
	for (int i = 0; i < m->nkids; i++)
		n += m->kids[i].generation == gen;
	return n;
}

static void signal_all(master_state *m, int sig, int only_old)
{
	for (int i = 0; i < m->nkids; i++)
		if (!only_old || m->kids[i].generation != m->generation)
			kill(m->kids[i].pid, sig);
}

static void reap(master_state *m, int stopping)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (ss_counter_pub_reaped(pub, pid, status))
			continue;
		for (int i = 0; i < m->nkids; i++) {
			if (m->kids[i].pid != pid)
				continue;
			child c = m->kids[i];
			m->kids[i] = m->kids[--m->nkids];
			double lived = ss_time_mono() - c.started;
			int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
			if (clean) {
				ss_log_debug("responder %ld exited (recycled or stopped)", (long)pid);
				if (lived >= QUICK_DEATH)
					m->backoff = 0;
			} else if (!stopping && c.generation == m->generation) {
				if (WIFSIGNALED(status))
					ss_log_warn("responder %ld killed by signal %d after %.1f s; replacing it", (long)pid,
						    WTERMSIG(status), lived);
				else
					ss_log_warn("responder %ld exited with status %d after %.1f s; replacing it", (long)pid,
						    WEXITSTATUS(status), lived);
				if (lived < QUICK_DEATH) {
					m->backoff = m->backoff == 0 ? BACKOFF_MIN : m->backoff * 2;
					if (m->backoff > BACKOFF_MAX)
						m->backoff = BACKOFF_MAX;
					m->next_spawn = ss_time_mono() + m->backoff;
					ss_log_warn("responders are dying at start; next start in %.1f s", m->backoff);
				} else {
					m->backoff = 0;
				}
			}
			break;
		}
	}
}

int ss_master_run(const ss_master_opts *o, ss_config *cfg)
{
	int listen_fd;
	int created_socket = 0;

	/* Blocked before the socket exists: a SIGTERM that arrives as soon as a client can connect (a supervisor
	 * stopping a service it just started) is taken by the loop below and ends in a clean exit, not in the
	 * default action's death by signal. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	char why[256];
	if (o->listen != NULL) {
		/* Whoever reaches the FastCGI socket sets REMOTE_ADDR and every other parameter: loopback only,
		 * unless the operator says otherwise. Checked before binding, and on the bound socket after. */
		if (!cfg->listen_allow_remote && !ss_listen_spec_is_local(o->listen, why, sizeof why)) {
			ss_log_error("%s; refusing: listen on a unix socket or 127.0.0.1, or set listen_allow_remote = true",
				     why);
			return 2;
		}
		listen_fd = open_listen_socket(o->listen);
		if (listen_fd < 0)
			return 1;
		created_socket = is_unix_path(o->listen);
	} else {
		listen_fd = 0;
		if (!ss_fd_is_listening_socket(listen_fd)) {
			ss_log_error("no listening FastCGI socket on standard input; use --listen PATH");
			return 1;
		}
	}
	if (!cfg->listen_allow_remote && !ss_listen_fd_is_local(listen_fd, why, sizeof why)) {
		ss_log_error("%s; refusing: listen on a unix socket or 127.0.0.1, or set listen_allow_remote = true", why);
		if (created_socket)
			unlink(o->listen);
		close(listen_fd);
		return 2;
	}
	if (o->priv != NULL && o->priv->drop) {
		/* Socket and files are ready as root; everything after this runs as the unprivileged user. */
		ss_error err;
		ss_error_clear(&err);
		if (ss_priv_prepare_files(o->priv, cfg, created_socket ? o->listen : NULL, &err) != 0 ||
		    ss_priv_drop(o->priv, cfg, &err) != 0) {
			ss_log_error("%s", err.msg);
			if (created_socket)
				unlink(o->listen);
			close(listen_fd);
			return 1;
		}
	}

	static master_state m;
	memset(&m, 0, sizeof m);
	m.service_started = ss_time_now();
	int workers = o->workers > 0 ? o->workers : cfg->workers;
	int stopping = 0;
	double deadline = 0;
	int ready_sent = 0;

	ss_log_info("songscope master %ld listening on %s with %d responders", (long)getpid(),
		    o->listen ? o->listen : "fd 0", workers);
	if (o->priv == NULL || !o->priv->drop)
		prepare_database(cfg); /* else done before dropping privileges */
	memset(&wd, 0, sizeof wd);
	pub_reopen(cfg);

	for (;;) {
		double now = ss_time_mono();
		if (!stopping && now >= m.next_spawn) {
			while (count_generation(&m, m.generation) < workers)
				if (spawn(&m, cfg, o->config_path, listen_fd) != 0) {
					m.next_spawn = now + 1.0;
					break;
				}
			if (!ready_sent) {
				char msg[64];
				snprintf(msg, sizeof msg, "READY=1\nMAINPID=%ld", (long)getpid());
				ss_notify(msg);
				ready_sent = 1;
			}
		}
		if (stopping && m.nkids == 0)
			break;

		double watch_wait = watchdog_check(&wd, &m, cfg->state_file);
		double wait = watch_wait;
		if (!stopping && m.next_spawn > now && m.next_spawn - now < wait)
			wait = m.next_spawn - now;
		if (stopping) {
			wait = deadline - now;
			if (wait <= 0) {
				ss_log_warn("%d responders still busy after %d s; killing them", m.nkids,
					    cfg->shutdown_timeout);
				signal_all(&m, SIGKILL, 0);
				wait = 1.0;
				deadline = now + 3600;
			}
			if (watch_wait < wait)
				wait = watch_wait;
		}
		if (pub != NULL && !stopping) {
			double pub_wait = publisher_check(listen_fd);
			if (pub_wait < wait)
				wait = pub_wait;
		}
		struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
		siginfo_t info;
		int sig = sigtimedwait(&set, &info, &ts);
		if (sig < 0)
			continue;
		switch (sig) {
		case SIGCHLD:
			reap(&m, stopping);
			break;
		case SIGTERM:
		case SIGINT:
			if (!stopping) {
				ss_log_info("stopping: waiting up to %d s for %d responders", cfg->shutdown_timeout, m.nkids);
				ss_notify("STOPPING=1");
				stopping = 1;
				deadline = ss_time_mono() + cfg->shutdown_timeout;
				signal_all(&m, SIGTERM, 0);
			}
			break;
		case SIGHUP: {
			if (stopping)
				break;
			ss_config fresh;
			ss_error err;
			ss_config_defaults(&fresh);
			ss_error_clear(&err);
			if ((o->config_path && ss_config_load(&fresh, o->config_path, &err) != 0) ||
			    ss_config_validate(&fresh, &err) != 0) {
				ss_log_error("reload refused, keeping the running configuration: %s", err.msg);
				break;
			}
			if (strcmp(fresh.user, cfg->user) != 0 || strcmp(fresh.group, cfg->group) != 0)
				ss_log_warn("'user' and 'group' changes apply at the next start, not on reload");
			if (strcmp(fresh.preload_ffmpeg, cfg->preload_ffmpeg) != 0)
				ss_log_warn("'preload_ffmpeg' changes apply at the next start, not on reload");
			ss_notify("RELOADING=1");
			*cfg = fresh;
			watchdog_drop(&wd); /* state_file may have changed */
			pub_reopen(cfg); /* and limits, redis: the old publisher publishes once more and ends */
			ss_log_level lvl;
			if (ss_log_level_parse(cfg->log_level, &lvl) == 0)
				ss_log_set_level(lvl);
			workers = o->workers > 0 ? o->workers : cfg->workers;
			m.generation++;
			m.backoff = 0;
			m.next_spawn = 0;
			/* New responders first, then the old ones finish what they are doing and exit. */
			while (count_generation(&m, m.generation) < workers)
				if (spawn(&m, cfg, o->config_path, listen_fd) != 0)
					break;
			signal_all(&m, SIGTERM, 1);
			ss_log_info("configuration reloaded; responders replaced (generation %u)", m.generation);
			ss_notify("READY=1");
			break;
		}
		default:
			break;
		}
	}
	if (created_socket && unlink(o->listen) != 0 && errno != ENOENT)
		ss_log_warn("cannot remove %s: %s", o->listen, strerror(errno));
	close(listen_fd);
	/* The publisher publishes the last counts of the responders that just ended, then exits. */
	ss_counter_pub_finish(pub, PUB_FINAL_WAIT_S);
	pub = NULL;
	watchdog_drop(&wd);
	ss_log_info("stopped");
	return 0;
}
