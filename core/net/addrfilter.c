#include "core/net/addrfilter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static bool v4_refused(uint32_t a) /* host byte order */
{
	static const struct {
		uint32_t net;
		int bits;
	} bad[] = {
		{0x00000000, 8},  {0x0A000000, 8},  {0x64400000, 10}, {0x7F000000, 8},  {0xA9FE0000, 16},
		{0xAC100000, 12}, {0xC0000000, 24}, {0xC0000200, 24}, {0xC0586300, 24}, {0xC0A80000, 16},
		{0xC6120000, 15}, {0xC6336400, 24}, {0xCB007100, 24}, {0xE0000000, 4},  {0xF0000000, 4},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint32_t mask = bad[i].bits == 0 ? 0 : 0xFFFFFFFFu << (32 - bad[i].bits);
		if ((a & mask) == bad[i].net)
			return true;
	}
	return false;
}

static uint32_t v4_at(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static bool v6_refused(const uint8_t *a)
{
	static const uint8_t zero[16];
	/* :: and ::1 */
	if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
		return true;
	/* ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated) are judged as IPv4 */
	if (memcmp(a, zero, 10) == 0 && a[10] == 0xFF && a[11] == 0xFF)
		return v4_refused(v4_at(a + 12));
	if (memcmp(a, zero, 12) == 0) /* ::/96, IPv4-compatible: deprecated, never a real destination */
		return true;
	if (memcmp(a, zero, 8) == 0 && a[8] == 0xFF && a[9] == 0xFF && a[10] == 0 && a[11] == 0)
		return v4_refused(v4_at(a + 12));
	/* 64:ff9b::/96 NAT64 and 64:ff9b:1::/48 local-use NAT64 */
	if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xFF && a[3] == 0x9B) {
		static const uint8_t z8[8];
		if (memcmp(a + 4, z8, 8) == 0)
			return v4_refused(v4_at(a + 12));
		if (a[4] == 0 && a[5] == 1)
			return true;
	}
	/* 2002::/16 6to4: embedded IPv4 in bytes 2..5 */
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_refused(v4_at(a + 2));
	if ((a[0] & 0xFE) == 0xFC) /* fc00::/7 */
		return true;
	if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) /* fe80::/10 */
		return true;
	if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) /* fec0::/10 */
		return true;
	if (a[0] == 0xFF) /* ff00::/8 */
		return true;
	if (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0) /* 100::/64 */
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) /* 2001:db8::/32 */
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && (a[2] & 0xFE) == 0x00) /* 2001::/23 */
		return true;
	return false;
}

bool ss_addr_refused(const struct sockaddr *sa, socklen_t len)
{
	/* Copy out with memcpy: callers hand us sockaddr_in/in6/storage through a sockaddr pointer. */
	sa_family_t family;
	if (sa == NULL || len < (socklen_t)sizeof family)
		return true;
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof family);
	if (family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		struct sockaddr_in s4;
		memcpy(&s4, sa, sizeof s4);
		return v4_refused(ntohl(s4.sin_addr.s_addr));
	}
	if (family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 s6;
		memcpy(&s6, sa, sizeof s6);
		return v6_refused(s6.sin6_addr.s6_addr);
	}
	return true;
}

bool ss_addr_refused_str(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	memset(&s4, 0, sizeof s4);
	memset(&s6, 0, sizeof s6);
	if (ip != NULL && inet_pton(AF_INET, ip, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		memcpy(&ss, &s4, sizeof s4);
		return ss_addr_refused((const struct sockaddr *)&ss, sizeof s4);
	}
	if (ip != NULL && inet_pton(AF_INET6, ip, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		memcpy(&ss, &s6, sizeof s6);
		return ss_addr_refused((const struct sockaddr *)&ss, sizeof s6);
	}
	return true;
}
