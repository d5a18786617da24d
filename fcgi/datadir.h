/* Can the service use its data files? Checked by --check-config and at start-up, before anything is opened
 * or READY=1 is sent, so that a wrong installation (a database directory that does not exist, cannot be
 * created, or that the service's user cannot write) stops the service with one clear line instead of a
 * master that reports ready while every responder fails. */
#ifndef SS_FCGI_DATADIR_H
#define SS_FCGI_DATADIR_H

#include <stdbool.h>

#include "core/config/config.h"
#include "core/util/error.h"
#include "fcgi/privileges.h"

/* Check the database and the state file of cfg for the user the service runs as (p's user when p->drop,
 * else this process): each one's directory must exist, or be creatable by this process (its nearest
 * existing ancestor writable), and be a directory on a writable filesystem that user can write and search
 * (SQLite and state-file rebuilds create files there) -- when p->drop, that root can write and the user
 * can search (root creates the files and gives them away before the drop); an existing file must be a
 * regular file that user can read and write (a file of root's passes when p->drop: it is given away).
 * An existing database the user can read (and reach) in a directory it cannot write, or that it cannot
 * write itself, passes with a warning logged: the store serves it read-only (writes answer 503
 * read_only). The state file has no such grace: it is written on every request. With create, missing directories are created (mode 0750) and, when p->drop, given to p's user;
 * without it nothing is changed. Returns 0, or -1 with err (SS_ERR_CONFIG) naming the key, the path and
 * the reason. */
int ss_datadir_check(const ss_priv *p, const ss_config *cfg, bool create, ss_error *err);

#endif
