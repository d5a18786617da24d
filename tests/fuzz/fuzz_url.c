/* libFuzzer target: the URL check of outgoing fetches (ss_fetch_check_url, core/net/fetch.c; no network) and
 * the address filter (core/net/addrfilter.c). The input is tried as a URL and as an address literal, and its
 * first 4 and 16 bytes as raw IPv4 and IPv6 addresses. Checked:
 *   - an accepted URL is at most 8192 bytes, free of spaces and control characters, http or https with a
 *     host and without user or password, and its normalised form is accepted too;
 *   - the filter agrees with a reference built from the ranges its header lists (prefixes parsed from text),
 *     for sockaddrs and literals alike; IPv4-mapped, -translated, NAT64 and 6to4 forms of an IPv4 address are
 *     judged as that address; a literal and its inet_ntop text agree; anything else is refused. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/net/addrfilter.h"
#include "core/net/fetch.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct {
	uint8_t a[16];
	int bits;
	int v4_at; /* embedded IPv4 at this byte (judged as it), or -1: refused */
} prefix;

static prefix v4_bad[20], v6_rules[20];
static size_t n_v4, n_v6;

static void add(prefix *t, size_t *n, const char *cidr, int v4_at)
{
	char addr[64];
	const char *slash = strchr(cidr, '/');
	snprintf(addr, sizeof addr, "%.*s", (int)(slash - cidr), cidr);
	prefix *p = &t[(*n)++];
	memset(p, 0, sizeof *p);
	int ok = strchr(addr, ':') ? inet_pton(AF_INET6, addr, p->a) : inet_pton(AF_INET, addr, p->a);
	FZ_ASSERT(ok == 1, cidr);
	p->bits = atoi(slash + 1);
	p->v4_at = v4_at;
}

static bool in_prefix(const uint8_t *a, const prefix *p)
{
	for (int i = 0; i < p->bits; i++)
		if (((a[i / 8] ^ p->a[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* the ranges the header of core/net/addrfilter.h lists */
	static const char *const v4[] = {"0.0.0.0/8",     "10.0.0.0/8",      "100.64.0.0/10",  "127.0.0.0/8",
					 "169.254.0.0/16", "172.16.0.0/12",  "192.0.0.0/24",   "192.0.2.0/24",
					 "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",  "198.51.100.0/24",
					 "203.0.113.0/24", "224.0.0.0/4",    "240.0.0.0/4",    "255.255.255.255/32"};
	for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++)
		add(v4_bad, &n_v4, v4[i], -1);
	/* embedded IPv4 first, then refused ranges */
	add(v6_rules, &n_v6, "::ffff:0:0/96", 12);
	add(v6_rules, &n_v6, "::ffff:0:0:0/96", 12);
	add(v6_rules, &n_v6, "64:ff9b::/96", 12);
	add(v6_rules, &n_v6, "2002::/16", 2);
	static const char *const v6[] = {"::/96",     "64:ff9b:1::/48", "fc00::/7",      "fe80::/10",
					 "fec0::/10", "ff00::/8",       "100::/64",      "2001:db8::/32",
					 "2001::/23"};
	for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++)
		add(v6_rules, &n_v6, v6[i], -1);
	return 0;
}

static bool ref_v4(const uint8_t *a)
{
	for (size_t i = 0; i < n_v4; i++)
		if (in_prefix(a, &v4_bad[i]))
			return true;
	return false;
}

static bool ref_v6(const uint8_t *a)
{
	for (size_t i = 0; i < n_v6; i++)
		if (in_prefix(a, &v6_rules[i]))
			return v6_rules[i].v4_at < 0 ? true : ref_v4(a + v6_rules[i].v4_at);
	return false;
}

static bool refused4(const uint8_t *a)
{
	struct sockaddr_in s;
	memset(&s, 0, sizeof s);
	s.sin_family = AF_INET;
	memcpy(&s.sin_addr, a, 4);
	bool r = ss_addr_refused((const struct sockaddr *)&s, sizeof s);
	FZ_ASSERT(ss_addr_refused((const struct sockaddr *)&s, sizeof s - 1), "a short sockaddr is refused");
	return r;
}

static bool refused6(const uint8_t *a)
{
	struct sockaddr_in6 s;
	memset(&s, 0, sizeof s);
	s.sin6_family = AF_INET6;
	memcpy(&s.sin6_addr, a, 16);
	bool r = ss_addr_refused((const struct sockaddr *)&s, sizeof s);
	FZ_ASSERT(ss_addr_refused((const struct sockaddr *)&s, sizeof s - 1), "a short sockaddr is refused");
	char text[INET6_ADDRSTRLEN];
	FZ_ASSERT(inet_ntop(AF_INET6, a, text, sizeof text) != NULL, "inet_ntop");
	FZ_ASSERT(ss_addr_refused_str(text) == r, "a literal and its address agree");
	return r;
}

static void check_url(const char *s)
{
	ss_error err;
	ss_error_clear(&err);
	if (ss_fetch_check_url(s, &err) != 0) {
		FZ_ASSERT(err.code == SS_ERR_BAD_REQUEST && err.msg[0] != '\0', "a refused URL is a 400 with a message");
		return;
	}
	FZ_ASSERT(strlen(s) <= 8192, "at most 8192 bytes");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		FZ_ASSERT(*p > 0x20 && *p != 0x7F, "no space or control character");
	CURLU *u = curl_url();
	FZ_ASSERT(u != NULL, "out of memory");
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, *norm = NULL;
	FZ_ASSERT(curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK, "an accepted URL parses");
	FZ_ASSERT(curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
			  (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0),
		  "http or https");
	FZ_ASSERT(curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0', "a host");
	FZ_ASSERT(curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK, "no user name");
	FZ_ASSERT(curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) != CURLUE_OK, "no password");
	FZ_ASSERT(curl_url_get(u, CURLUPART_URL, &norm, 0) == CURLUE_OK, "a normalised form");
	FZ_ASSERT(ss_fetch_check_url(norm, &err) == 0, "the normalised URL is accepted too");
	/* an IP literal host: the filter judges it without crashing (the connect-time check is what counts) */
	size_t hl = strlen(host);
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		(void)ss_addr_refused_str(host + 1);
	} else {
		(void)ss_addr_refused_str(host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pass);
	curl_free(norm);
	curl_url_cleanup(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_strndup(data, size);
	check_url(s);

	/* the text as an address literal */
	uint8_t a[16];
	bool r = ss_addr_refused_str(s);
	if (inet_pton(AF_INET, s, a) == 1)
		FZ_ASSERT(r == ref_v4(a), "an IPv4 literal is judged by the listed ranges");
	else if (inet_pton(AF_INET6, s, a) == 1)
		FZ_ASSERT(r == ref_v6(a), "an IPv6 literal is judged by the listed ranges");
	else
		FZ_ASSERT(r, "unparsable text is refused");
	free(s);

	/* raw addresses */
	if (size >= 4) {
		bool r4 = refused4(data);
		FZ_ASSERT(r4 == ref_v4(data), "IPv4: the listed ranges");
		uint8_t m[16];
		static const uint8_t forms[4][12] = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF},
						     {0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0},
						     {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0}};
		for (int f = 0; f < 3; f++) {
			memcpy(m, forms[f], 12);
			memcpy(m + 12, data, 4);
			FZ_ASSERT(refused6(m) == r4, "mapped, translated and NAT64 forms are judged as the IPv4 address");
		}
		memset(m, size > 4 ? data[4] : 0, sizeof m);
		m[0] = 0x20;
		m[1] = 0x02;
		memcpy(m + 2, data, 4);
		FZ_ASSERT(refused6(m) == r4, "6to4 is judged as the IPv4 address");
	}
	if (size >= 16)
		FZ_ASSERT(refused6(data) == ref_v6(data), "IPv6: the listed ranges");
	/* other families and lengths */
	struct sockaddr_storage st;
	memset(&st, 0, sizeof st);
	st.ss_family = AF_UNIX;
	FZ_ASSERT(ss_addr_refused((const struct sockaddr *)&st, sizeof st), "other families are refused");
	return 0;
}
