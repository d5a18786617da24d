/* Where the FastCGI socket may listen. The FastCGI socket is a trust boundary: whoever can connect to it
 * sets REMOTE_ADDR (the address the failed-key throttle and the /metrics allow-list trust) and every other
 * CGI parameter. So a TCP socket must be reachable from this host only, unless the operator says otherwise
 * (listen_allow_remote = true). */
#ifndef SS_FCGI_LISTEN_H
#define SS_FCGI_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

/* Is --listen `spec` a TCP address, as libfcgi reads it: HOST:PORT with a port number other than 0 (a spec
 * with a '/' is a unix socket path)? */
bool ss_listen_spec_is_tcp(const char *spec);

/* Does --listen `spec` stay on this host: a unix socket path, or a TCP HOST:PORT whose host is an IPv4
 * loopback address (127.0.0.0/8) or a name resolving to such addresses only? ":PORT" and "*:PORT" (every
 * interface) are not. Returns true, or false with why (a sentence naming the spec and the address). */
bool ss_listen_spec_is_local(const char *spec, char *why, size_t whylen);

/* Is the bound socket fd local: a unix socket, or TCP bound to 127.0.0.0/8 or ::1? Returns true, or false
 * with why. A descriptor that is not a socket counts as not local. */
bool ss_listen_fd_is_local(int fd, char *why, size_t whylen);

#endif
