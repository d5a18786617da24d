#include "fcgi/privileges.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store/store.h"
#include "core/util/log.h"
#include "core/util/strnum.h"
#include "fcgi/auth.h"
#include "fcgi/context.h"
#include "fcgi/handlers.h"

static struct passwd *find_user(const char *name)
{
	struct passwd *pw = getpwnam(name);
	int64_t id;
	if (pw == NULL && ss_parse_i64(name, 0, INT32_MAX, &id) == 0)
		pw = getpwuid((uid_t)id);
	return pw;
}

static struct group *find_group(const char *name)
{
	struct group *gr = getgrnam(name);
	int64_t id;
	if (gr == NULL && ss_parse_i64(name, 0, INT32_MAX, &id) == 0)
		gr = getgrgid((gid_t)id);
	return gr;
}

int ss_priv_plan(const ss_config *cfg, bool allow_root, ss_priv *p, ss_error *err)
{
	memset(p, 0, sizeof *p);
	bool root = geteuid() == 0;
	if (cfg->user[0] == '\0') {
		if (!root)
			return 0;
		if (!allow_root)
			return ss_error_set(err, SS_ERR_CONFIG,
					    "refusing to run as root: set 'user' (and 'group') in the configuration so that "
					    "songscope drops to an unprivileged user after opening its files, or pass "
					    "--allow-root to run as root anyway");
		ss_log_warn("running as root (--allow-root): audio decoders and URL fetches run with root privileges; "
			    "set 'user' in the configuration instead");
		return 0;
	}
	struct passwd *pw = find_user(cfg->user);
	if (pw == NULL)
		return ss_error_set(err, SS_ERR_CONFIG, "user '%s' does not exist", cfg->user);
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	snprintf(p->user, sizeof p->user, "%s", pw->pw_name);
	if (cfg->group[0] != '\0') {
		struct group *gr = find_group(cfg->group);
		if (gr == NULL)
			return ss_error_set(err, SS_ERR_CONFIG, "group '%s' does not exist", cfg->group);
		gid = gr->gr_gid;
		snprintf(p->group, sizeof p->group, "%s", gr->gr_name);
	} else {
		struct group *gr = getgrgid(gid);
		snprintf(p->group, sizeof p->group, "%s", gr != NULL ? gr->gr_name : "");
	}
	if (uid == 0 || gid == 0)
		return ss_error_set(err, SS_ERR_CONFIG, "'user' and 'group' must not be root (uid and gid 0)");
	if (!root) {
		if (uid != geteuid())
			ss_log_warn("user = %s is ignored: songscope was not started as root (it runs as uid %ld)",
				    cfg->user, (long)geteuid());
		return 0;
	}
	p->drop = true;
	p->uid = uid;
	p->gid = gid;
	return 0;
}

/* Give path to p's user when it is a file of root's: a regular file (not a symbolic link, one link only, so
 * a user who can write the directory cannot point it at a system file) or, with sock, a socket. */
static int give(const ss_priv *p, const char *path, bool sock, ss_error *err)
{
	struct stat st;
	if (sock) {
		if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != 0)
			return 0;
		if (fchownat(AT_FDCWD, path, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) != 0)
			return ss_error_set(err, SS_ERR_IO, "cannot give %s to %s: %s", path, p->user, strerror(errno));
		return 0;
	}
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : ss_error_set(err, SS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = ss_error_set(err, SS_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		rc = ss_error_set(err, SS_ERR_IO, "%s is not a plain file; refusing to give it to %s", path, p->user);
	else if (st.st_uid == 0 && fchown(fd, p->uid, p->gid) != 0)
		rc = ss_error_set(err, SS_ERR_IO, "cannot give %s to %s: %s", path, p->user, strerror(errno));
	close(fd);
	return rc;
}

/* Create path empty with mode 0600 unless it exists. */
static void create_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		ss_log_error("cannot create %s: %s", path, strerror(errno));
	else
		close(fd);
}

int ss_priv_prepare_files(const ss_priv *p, const ss_config *cfg, const char *socket_path, ss_error *err)
{
	if (!p->drop)
		return 0;
	/* The database, migrated, with its -wal and -shm kept when this connection closes: the user may not be
	 * able to create them in the directory. */
	ss_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = cfg;
	ss_error e;
	ss_error_clear(&e);
	ss_store_params sp;
	ss_store_params_from_config(cfg, &sp);
	sp.flags |= SS_STORE_KEEP_SIDE_FILES;
	if (ss_store_open(&sp, &ctx.store, &e) != 0) /* no store: no retries here, the seed is skipped */
		ss_log_error("%s", e.msg);
	/* The state file, seeded from the store when new; then the side files. */
	ss_auth_create_state(&ctx);
	ss_store_close(ctx.store);
	ctx.store = NULL;

	size_t n = strlen(cfg->state_file) + 32;
	if (n < strlen(cfg->database) + 8)
		n = strlen(cfg->database) + 8;
	char *path = malloc(n);
	if (path == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	int rc = 0;
	for (const char *const *suffix = ss_handlers_side_files; *suffix != NULL; suffix++) {
		snprintf(path, n, "%s%s", cfg->state_file, *suffix);
		create_file(path);
		if (rc == 0)
			rc = give(p, path, false, err);
	}
	static const char *const db_files[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < sizeof db_files / sizeof db_files[0] && rc == 0; i++) {
		snprintf(path, n, "%s%s", cfg->database, db_files[i]);
		rc = give(p, path, false, err);
	}
	free(path);
	if (rc == 0)
		rc = give(p, cfg->state_file, false, err);
	if (rc == 0 && socket_path != NULL)
		rc = give(p, socket_path, true, err);
	return rc;
}

static void warn_unwritable_dir(const ss_priv *p, const char *file, const char *what)
{
	char *copy = strdup(file);
	if (copy == NULL)
		return;
	char *slash = strrchr(copy, '/');
	const char *dir = ".";
	if (slash == copy)
		dir = "/";
	else if (slash != NULL) {
		*slash = '\0';
		dir = copy;
	}
	if (access(dir, W_OK | X_OK) != 0)
		ss_log_warn("%s cannot write the directory %s of the %s: SQLite and state-file rebuilds create files "
			    "there; give the directory to %s",
			    p->user, dir, what, p->user);
	free(copy);
}

int ss_priv_drop(const ss_priv *p, const ss_config *cfg, ss_error *err)
{
	if (!p->drop)
		return 0;
	if (initgroups(p->user, p->gid) != 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "cannot set the groups of %s: %s", p->user, strerror(errno));
	if (setgid(p->gid) != 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "cannot switch to group %ld: %s", (long)p->gid, strerror(errno));
	if (setuid(p->uid) != 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "cannot switch to user %s: %s", p->user, strerror(errno));
	/* For good: every id is the new one, and root cannot be had back. */
	if (getuid() != p->uid || geteuid() != p->uid || getgid() != p->gid || getegid() != p->gid)
		return ss_error_set(err, SS_ERR_INTERNAL, "dropping privileges left other ids in place");
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return ss_error_set(err, SS_ERR_INTERNAL, "root privileges could be regained after dropping them");
	ss_log_info("dropped root privileges: running as user %s, group %s", p->user, p->group);
	warn_unwritable_dir(p, cfg->database, "database");
	warn_unwritable_dir(p, cfg->state_file, "state file");
	return 0;
}
