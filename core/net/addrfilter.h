/* Which network addresses outgoing fetches may connect to: public unicast only, unless private targets are
 * explicitly allowed. Applied to the address actually connected (see core/net/fetch.h). */
#ifndef SS_NET_ADDRFILTER_H
#define SS_NET_ADDRFILTER_H

#include <stdbool.h>
#include <sys/socket.h>

/* Is the address refused for outgoing fetches? Refused: IPv4 0/8 (this network, unspecified), 10/8,
 * 100.64/10 (CGNAT), 127/8, 169.254/16 (link-local), 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24,
 * 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/4 (multicast), 240/4 and broadcast; IPv6 ::,
 * ::1, ::/96 (IPv4-compatible), IPv4-mapped/-translated/NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses judged by their embedded
 * IPv4, fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10 (site-local), ff00::/8 (multicast),
 * 100::/64 (discard), 2001:db8::/32 (documentation), 2001::/23 (IETF special purpose, incl. Teredo).
 * Anything not AF_INET/AF_INET6 is refused. */
bool ss_addr_refused(const struct sockaddr *sa, socklen_t len);

/* As ss_addr_refused for a numeric IPv4 or IPv6 literal. Unparsable text is refused. */
bool ss_addr_refused_str(const char *ip);

#endif
