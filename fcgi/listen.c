#include "fcgi/listen.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static bool ipv4_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

/* The host part and port of a TCP spec (libfcgi's reading: split at the first ':', port = atoi). */
static bool split_spec(const char *spec, char *host, size_t hostlen, long *port)
{
	if (strchr(spec, '/') != NULL)
		return false;
	const char *colon = strchr(spec, ':');
	if (colon == NULL)
		return false;
	long p = strtol(colon + 1, NULL, 10);
	if (p <= 0)
		return false;
	size_t n = (size_t)(colon - spec);
	if (n >= hostlen)
		n = hostlen - 1;
	memcpy(host, spec, n);
	host[n] = '\0';
	*port = p;
	return true;
}

bool ss_listen_spec_is_tcp(const char *spec)
{
	char host[256];
	long port;
	return split_spec(spec, host, sizeof host, &port);
}

bool ss_listen_spec_is_local(const char *spec, char *why, size_t whylen)
{
	char host[256];
	long port;
	if (!split_spec(spec, host, sizeof host, &port))
		return true; /* a unix socket path */
	if (host[0] == '\0' || strcmp(host, "*") == 0) {
		snprintf(why, whylen, "--listen %s listens on every interface", spec);
		return false;
	}
	/* libfcgi binds IPv4 only: the literal address, or the name's only IPv4 address. */
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(why, whylen, "--listen %s: cannot resolve %s: %s", spec, host, gai_strerror(rc));
		return false;
	}
	bool local = res != NULL;
	for (struct addrinfo *ai = res; ai != NULL && local; ai = ai->ai_next) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ai->ai_addr;
		if (!ipv4_loopback(&sin->sin_addr)) {
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &sin->sin_addr, a, sizeof a);
			snprintf(why, whylen, "--listen %s is reachable from other hosts (%s is not a loopback address)",
				 spec, a);
			local = false;
		}
	}
	freeaddrinfo(res);
	return local;
}

bool ss_listen_fd_is_local(int fd, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(why, whylen, "file descriptor %d is not a socket", fd);
		return false;
	}
	char a[INET6_ADDRSTRLEN] = "?";
	switch (ss.ss_family) {
	case AF_UNIX:
		return true;
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)&ss;
		if (ipv4_loopback(&sin->sin_addr))
			return true;
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof a);
		snprintf(why, whylen, "the FastCGI socket listens on %s:%u, reachable from other hosts", a,
			 (unsigned)ntohs(sin->sin_port));
		return false;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)&ss;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			struct in_addr v4;
			memcpy(&v4, &s6->sin6_addr.s6_addr[12], sizeof v4);
			if (ipv4_loopback(&v4))
				return true;
		}
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(why, whylen, "the FastCGI socket listens on [%s]:%u, reachable from other hosts", a,
			 (unsigned)ntohs(s6->sin6_port));
		return false;
	}
	default:
		snprintf(why, whylen, "the FastCGI socket has an unexpected address family (%d)", (int)ss.ss_family);
		return false;
	}
}
