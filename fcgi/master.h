/* The master process of standalone mode: holds the listening socket, forks and supervises responders. */
#ifndef SS_FCGI_MASTER_H
#define SS_FCGI_MASTER_H

#include "core/config/config.h"
#include "fcgi/privileges.h"

typedef struct ss_master_opts {
	const char *config_path; /* re-read on SIGHUP; NULL = built-in defaults only */
	const char *listen;      /* unix socket path or HOST:PORT; NULL = the socket inherited on fd 0 */
	int workers;             /* responders to run; <= 0 = take `workers` from the config */
	const ss_priv *priv;     /* privileges to drop once the socket and files are ready (NULL = none) */
} ss_master_opts;

/* Run until SIGTERM/SIGINT: open (or adopt) the socket — refused when it is TCP and not loopback unless
 * listen_allow_remote — prepare the database and, with o->priv, every file the responders need, give them
 * to the unprivileged user and drop root for good; then fork responders, respawn the dead (with backoff
 * when they die right after starting), let each recycle after max_requests, replace them all gracefully on
 * SIGHUP (after re-reading the config), and on stop wait for in-flight requests up to shutdown_timeout,
 * SIGKILL the rest, remove the socket file it created. *cfg is replaced on a successful reload.
 * Returns the process exit status: 0 after a clean stop, 1 when the socket cannot be opened or privileges
 * cannot be dropped, 2 for a refused (remote) listen address. */
int ss_master_run(const ss_master_opts *o, ss_config *cfg);

#endif
