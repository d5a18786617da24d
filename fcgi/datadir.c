#include "fcgi/datadir.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/util/log.h"

/* The directory part of path into out ("." for a bare name, "/" for a file in the root). */
static void dir_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	char *slash = strrchr(out, '/');
	if (slash == NULL)
		snprintf(out, len, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
}

/* Whether p's user (or this process) has all of `want` (a mask of 4 read, 2 write, 1 search) on st. */
static bool user_may(const ss_priv *p, const char *path, const struct stat *st, int want)
{
	if (!p->drop) {
		int mode = (want & 4 ? R_OK : 0) | (want & 2 ? W_OK : 0) | (want & 1 ? X_OK : 0);
		return access(path, mode) == 0;
	}
	unsigned bits;
	if (st->st_uid == p->uid) {
		bits = (st->st_mode >> 6) & 7;
	} else {
		gid_t groups[256];
		int n = (int)(sizeof groups / sizeof groups[0]);
		bool member = st->st_gid == p->gid;
		if (!member && getgrouplist(p->user, p->gid, groups, &n) >= 0)
			for (int i = 0; i < n && !member; i++)
				member = groups[i] == st->st_gid;
		bits = member ? (st->st_mode >> 3) & 7 : st->st_mode & 7;
	}
	return (bits & (unsigned)want) == (unsigned)want;
}

static const char *who(const ss_priv *p, char *buf, size_t len)
{
	if (p->drop)
		snprintf(buf, len, "user %s", p->user);
	else
		snprintf(buf, len, "uid %ld", (long)geteuid());
	return buf;
}

/* mkdir -p dir as this process, mode 0750; directories created are given to p's user when p->drop. */
static int make_dirs(const ss_priv *p, const char *key, const char *dir, ss_error *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", dir);
	for (char *s = path + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(path, 0750) == 0) {
			if (p->drop && chown(path, p->uid, p->gid) != 0)
				return ss_error_set(err, SS_ERR_CONFIG, "%s: cannot give the new directory %s to %s: %s", key,
						    path, p->user, strerror(errno));
		} else if (errno != EEXIST) {
			return ss_error_set(err, SS_ERR_CONFIG, "%s: cannot create the directory %s: %s", key, path,
					    strerror(errno));
		}
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int check_one(const ss_priv *p, const char *key, const char *file, bool read_only_ok, bool create,
		     ss_error *err)
{
	char dir[PATH_MAX], name[96];
	if (strlen(file) >= sizeof dir)
		return ss_error_set(err, SS_ERR_CONFIG, "%s: path too long", key);
	dir_of(file, dir, sizeof dir);
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return ss_error_set(err, SS_ERR_CONFIG, "%s %s: directory %s: %s", key, file, dir, strerror(errno));
		/* Missing: the nearest existing ancestor must let this process create the rest. */
		char anc[PATH_MAX];
		snprintf(anc, sizeof anc, "%s", dir);
		for (;;) {
			char up[PATH_MAX];
			dir_of(anc, up, sizeof up);
			snprintf(anc, sizeof anc, "%s", up);
			if (stat(anc, &st) == 0 || errno != ENOENT || strcmp(anc, "/") == 0 || strcmp(anc, ".") == 0)
				break;
		}
		if (stat(anc, &st) != 0)
			return ss_error_set(err, SS_ERR_CONFIG, "%s %s: the directory %s cannot be created: %s: %s", key, file,
					    dir, anc, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return ss_error_set(err, SS_ERR_CONFIG, "%s %s: the directory %s cannot be created: %s: %s", key, file,
					    dir, anc, strerror(ENOTDIR));
		if (access(anc, W_OK | X_OK) != 0)
			return ss_error_set(err, SS_ERR_CONFIG, "%s %s: the directory %s cannot be created: %s: %s", key, file,
					    dir, anc, strerror(errno));
		if (!create)
			return 0;
		if (make_dirs(p, key, dir, err) != 0)
			return -1;
		if (stat(dir, &st) != 0)
			return ss_error_set(err, SS_ERR_CONFIG, "%s %s: directory %s: %s", key, file, dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return ss_error_set(err, SS_ERR_CONFIG, "%s %s: %s: %s", key, file, dir, strerror(ENOTDIR));
	/* The service's user writes the directory (SQLite and state-file rebuilds create files there) -- unless
	 * root prepares every file and gives it away before dropping: then root must be able to create them and
	 * the user only to reach them (ss_priv_drop warns that rebuilds will fail). */
	char why[256] = "";
	struct statvfs vfs;
	if (!user_may(p, dir, &st, p->drop ? 1 : 3)) {
		snprintf(why, sizeof why, "is not %s by %s (owner uid %ld, mode %03o); give it to that user",
			 p->drop ? "searchable" : "writable", who(p, name, sizeof name), (long)st.st_uid,
			 (unsigned)(st.st_mode & 07777));
	} else if (p->drop && access(dir, W_OK | X_OK) != 0) {
		snprintf(why, sizeof why, "is not writable: %s", strerror(errno));
	} else if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
		snprintf(why, sizeof why, "is not writable: %s", strerror(EROFS));
	}
	bool dir_ok = why[0] == '\0';
	bool searchable = user_may(p, dir, &st, 1);

	if (stat(file, &st) != 0) {
		if (errno == ENOENT && dir_ok)
			return 0;
		if (errno == ENOENT)
			return ss_error_set(err, SS_ERR_CONFIG, "%s %s: cannot be created: the directory %s %s", key, file, dir,
					    why);
		return ss_error_set(err, SS_ERR_CONFIG, "%s %s: %s", key, file, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return ss_error_set(err, SS_ERR_CONFIG, "%s %s: not a regular file", key, file);
	bool rw = (p->drop && st.st_uid == 0) || user_may(p, file, &st, 6); /* root's files are given away */
	if (dir_ok && rw)
		return 0;
	/* An existing database that can be read is served read-only: reads work, writes answer 503 read_only
	 * and /health says why (the store's own handling). The state file must be writable. */
	if (read_only_ok && searchable && (rw || user_may(p, file, &st, 4))) {
		ss_log_warn("%s %s: %s: serving it read-only (writes answer 503 read_only)", key, file,
			    dir_ok ? "the file is not writable" : "its directory is not writable");
		return 0;
	}
	if (!dir_ok)
		return ss_error_set(err, SS_ERR_CONFIG, "%s %s: the directory %s %s", key, file, dir, why);
	return ss_error_set(err, SS_ERR_CONFIG, "%s %s: not readable and writable by %s (owner uid %ld, mode %03o)",
			    key, file, who(p, name, sizeof name), (long)st.st_uid, (unsigned)(st.st_mode & 07777));
}

int ss_datadir_check(const ss_priv *p, const ss_config *cfg, bool create, ss_error *err)
{
	if (check_one(p, "database", cfg->database, true, create, err) != 0)
		return -1;
	return check_one(p, "state_file", cfg->state_file, false, create, err);
}
