/* Running as root. songscope decodes untrusted audio and fetches untrusted URLs, so it should never do that
 * as root: started as root with `user` (and optionally `group`) in the configuration, it opens its socket
 * and prepares every file the responders need, gives them to that user, then drops its privileges for good
 * before any responder runs. Started as root without `user`, it refuses to start unless --allow-root. */
#ifndef SS_FCGI_PRIVILEGES_H
#define SS_FCGI_PRIVILEGES_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/config/config.h"
#include "core/util/error.h"

typedef struct ss_priv {
	bool drop;      /* running as root with `user` set: ss_priv_drop will switch to uid/gid */
	uid_t uid;
	gid_t gid;
	char user[SS_CONFIG_NAME_MAX];
	char group[SS_CONFIG_NAME_MAX];
} ss_priv;

/* Decide, from the effective uid and cfg, what happens to privileges. As root with cfg->user: resolve the
 * user and group (cfg->group, else the user's primary group) into *p with p->drop set. As root without
 * it: an error unless allow_root (then a warning is logged). Not root: p->drop false (a `user` other than
 * the current one is logged as ignored). Returns 0, or -1 with err (SS_ERR_CONFIG: say why). */
int ss_priv_plan(const ss_config *cfg, bool allow_root, ss_priv *p, ss_error *err);

/* Create, as the process is now (root), the files the responders will open — the database (with its -wal
 * and -shm kept), the state file (seeded from the database), its side files — and give each to p's user
 * and group when it belongs to root (created now or by an earlier run as root; files of other users are
 * left alone), as well as `socket_path` when not NULL. Files are created mode 0600. Failures to create are
 * logged and left to the responders (they retry and /health reports them); failing to give a file away is
 * an error. No-op unless p->drop. Returns 0 or -1 with err. */
int ss_priv_prepare_files(const ss_priv *p, const ss_config *cfg, const char *socket_path, ss_error *err);

/* Drop root for good: supplementary groups (initgroups), gid, uid; then check that the ids are what was
 * asked and that root cannot be regained (setuid(0) must fail). Logs a warning for each directory of the
 * database and state file the user cannot write (SQLite and state-file rebuilds create files there).
 * No-op unless p->drop. Returns 0 or -1 with err. */
int ss_priv_drop(const ss_priv *p, const ss_config *cfg, ss_error *err);

#endif
