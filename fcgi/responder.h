/* The responder loop: accept FastCGI requests on a listening socket and answer them one at a time. */
#ifndef SS_FCGI_RESPONDER_H
#define SS_FCGI_RESPONDER_H

#include "fcgi/setup.h"

/* Open what a responder owns (ss_ctx_open: store, state file, counters), serve requests on listen_fd until SIGTERM/SIGINT/SIGHUP/SIGUSR1
 * or until about max_requests (±10% jitter; 0 = unlimited) have been served, finishing the request in
 * flight, then close everything. Signals are only delivered while idle, so a stop never cuts a request.
 * Returns the process exit status (0 normal stop or recycle, 1 on a fatal socket error). */
int ss_responder_run(const ss_ctx_params *params, int listen_fd, long max_requests);

/* Is fd a listening stream socket? */
int ss_fd_is_listening_socket(int fd);

#endif
