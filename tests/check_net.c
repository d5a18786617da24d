/* Address filter and fetcher: every refused range, IPv4-mapped IPv6, redirects to refused addresses,
 * size cap, upstream errors, schemes. A tiny HTTP server thread on 127.0.0.1 plays the remote side. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/net/addrfilter.h"
#include "core/net/cidr.h"
#include "core/net/origin.h"
#include "core/net/fetch.h"
#include "tests/check_main.h"

START_TEST(refused_ranges)
{
	static const char *refused[] = {
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254", "127.0.0.1",
		"127.255.0.9", "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1",
		"192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9",
		"224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::ffff:0:192.168.0.1",
		"::127.0.0.1", "::8.8.8.8", "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1", "2002:7f00:1::1",
		"2002:c0a8:101::", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1", "ff02::1", "ff0e::1",
		"100::1", "2001:db8::1", "2001::1", "2001:0:4136:e378::1", "not an address", "",
	};
	static const char *allowed[] = {
		"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1", "192.167.1.1",
		"198.20.0.1", "223.255.255.255", "::ffff:8.8.8.8", "2606:4700:4700::1111", "2a00:1450::1",
		"64:ff9b::808:808", "2002:808:808::1", "2001:200::1",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		ck_assert_msg(ss_addr_refused_str(refused[i]), "%s should be refused", refused[i]);
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		ck_assert_msg(!ss_addr_refused_str(allowed[i]), "%s should be allowed", allowed[i]);
	struct sockaddr_un_like {
		sa_family_t f;
		char pad[32];
	} other = {.f = AF_UNIX};
	ck_assert(ss_addr_refused((struct sockaddr *)&other, sizeof other));
	ck_assert(ss_addr_refused(NULL, 0));
}
END_TEST

/* cors_origins entries: serialised web origins only, matched exactly. */
START_TEST(origins_are_exact)
{
	static const char *good[] = {"http://localhost:8080", "https://app.example.org", "http://127.0.0.1",
				     "https://[::1]:8443", "http://a-b.c0m:1"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char why[160] = "";
		ck_assert_msg(ss_origin_check(good[i], strlen(good[i]), why, sizeof why) == 0, "%s: %s", good[i], why);
	}
	static const char *bad[] = {"*", "null", "example.org", "ftp://example.org", "https://example.org/",
				    "https://example.org/app", "https://Example.org", "https://", "https://:80",
				    "https://example.org:", "https://example.org:123456", "https://user@example.org",
				    "https://[::1", "https://[]", "http://example.org:80/x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char why[160] = "";
		ck_assert_msg(ss_origin_check(bad[i], strlen(bad[i]), why, sizeof why) == -1, "%s accepted", bad[i]);
		ck_assert_msg(why[0] != '\0', "%s: no reason given", bad[i]);
	}
	char why[160];
	ck_assert_int_eq(ss_origin_list_check("", why, sizeof why), 0);
	ck_assert_int_eq(ss_origin_list_check(" https://a.example, http://b.example:81 ", why, sizeof why), 0);
	ck_assert_int_eq(ss_origin_list_check("https://a.example https://b.example/", why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "https://b.example/"));

	const char *list = "https://a.example, http://b.example:81";
	ck_assert(ss_origin_list_contains(list, "https://a.example"));
	ck_assert(ss_origin_list_contains(list, "http://b.example:81"));
	ck_assert(!ss_origin_list_contains(list, "http://a.example"));
	ck_assert(!ss_origin_list_contains(list, "https://a.example.evil"));
	ck_assert(!ss_origin_list_contains(list, "https://a.exampl"));
	ck_assert(!ss_origin_list_contains(list, "http://b.example"));
	ck_assert(!ss_origin_list_contains(list, ""));
	ck_assert(!ss_origin_list_contains(list, NULL));
	ck_assert(!ss_origin_list_contains("", "https://a.example"));
	ck_assert(!ss_origin_list_contains(list, "null"));
}
END_TEST

/* CIDR ranges: IPv4 and IPv6, host bits ignored, IPv4-mapped addresses on either side, bad text refused. */
START_TEST(cidr_ranges_match)
{
	static const struct {
		const char *range, *addr;
		bool in;
	} cases[] = {
		{"127.0.0.0/8", "127.0.0.1", true},       {"127.0.0.0/8", "127.255.1.2", true},
		{"127.0.0.0/8", "128.0.0.1", false},      {"127.0.0.1/8", "127.9.9.9", true},
		{"10.1.2.3", "10.1.2.3", true},           {"10.1.2.3", "10.1.2.4", false},
		{"0.0.0.0/0", "203.0.113.9", true},       {"0.0.0.0/0", "::1", false},
		{"192.168.0.0/23", "192.168.1.255", true}, {"192.168.0.0/23", "192.168.2.0", false},
		{"::1", "::1", true},                     {"::1", "::2", false},
		{"::1/128", "::1", true},                 {"fd00::/8", "fd12:3456::1", true},
		{"fd00::/8", "fe80::1", false},           {"2001:db8::/32", "2001:db8:ffff::1", true},
		{"2001:db8::/33", "2001:db8:8000::1", false}, {"::/0", "2a00:1450::1", true},
		{"::/0", "8.8.8.8", false},               {"127.0.0.0/8", "::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.0/104", "10.2.3.4", true}, {"::ffff:10.0.0.0/104", "11.2.3.4", false},
		{"10.0.0.0/8", "", false},                {"10.0.0.0/8", "garbage", false},
		{"10.0.0.0/31", "10.0.0.1", true},        {"10.0.0.0/32", "10.0.0.1", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ss_cidr c;
		char why[160];
		ck_assert_msg(ss_cidr_parse(cases[i].range, &c, why, sizeof why) == 0, "%s: %s", cases[i].range, why);
		ck_assert_msg(ss_cidr_contains(&c, cases[i].addr) == cases[i].in, "%s in %s should be %d", cases[i].addr,
			      cases[i].range, cases[i].in);
	}
	static const char *bad[] = {"localhost", "", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8x",
				    "10.0.0", "1.2.3.4.5", "300.0.0.0", "fe80::1%eth0", "10.0.0.0/ 8", "::1/0128",
				    "example.org", "10.0.0.0/8/8", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ss_cidr c;
		char why[160];
		ck_assert_msg(ss_cidr_parse(bad[i], &c, why, sizeof why) != 0, "'%s' parsed", bad[i]);
		ck_assert(why[0] != '\0');
	}
	char why[160];
	ck_assert_int_eq(ss_cidr_parse("localhost", &(ss_cidr){0}, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "127.0.0.1/8") != NULL && strstr(why, "::1") != NULL, "%s", why);
	/* Lists. */
	ck_assert_int_eq(ss_cidr_list_check("", why, sizeof why), 0);
	ck_assert_int_eq(ss_cidr_list_check(" 10.0.0.0/8,  ::1\t192.168.1.1 ", why, sizeof why), 0);
	ck_assert_int_eq(ss_cidr_list_check("10.0.0.0/8, localhost", why, sizeof why), -1);
	ck_assert_msg(strstr(why, "localhost") != NULL, "%s", why);
	ck_assert(ss_cidr_list_contains("10.0.0.0/8, 127.0.0.0/8 ::1", "127.0.0.1"));
	ck_assert(ss_cidr_list_contains("10.0.0.0/8, 127.0.0.0/8 ::1", "::1"));
	ck_assert(!ss_cidr_list_contains("10.0.0.0/8, 127.0.0.0/8 ::1", "192.168.0.1"));
	ck_assert(!ss_cidr_list_contains("", "127.0.0.1"));
	ck_assert(!ss_cidr_list_contains("127.0.0.0/8", ""));
	ck_assert(!ss_cidr_list_contains("127.0.0.0/8", NULL));
}
END_TEST

/* ---- a minimal HTTP server ---- */
static int srv_fd = -1;
static int srv_port;
static pthread_t srv_thread;
static volatile int srv_connections;

static void reply(int c, const char *path)
{
	char hdr[2600];
	if (strcmp(path, "/ok") == 0) {
		const char *body = "RIFFfakeaudio";
		snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(body), body);
	} else if (strcmp(path, "/big") == 0) {
		static char big[70000];
		memset(big, 'x', sizeof big);
		snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"); /* no length: streamed */
		if (write(c, hdr, strlen(hdr)) < 0 || write(c, big, sizeof big) < 0)
			return;
		return;
	} else if (strncmp(path, "/to?", 4) == 0) {
		snprintf(hdr, sizeof hdr, "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 path + 4);
	} else if (strcmp(path, "/stall") == 0) {
		/* Half an answer, then nothing until the client gives up and closes. */
		snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nRIFF");
		if (write(c, hdr, strlen(hdr)) < 0)
			return;
		char sink[256];
		while (read(c, sink, sizeof sink) > 0)
			;
		return;
	} else if (strcmp(path, "/trickle") == 0) {
		/* A byte every 100 ms of an announced 100000 until the client gives up: far under any useful
		 * rate, and it would last for hours. */
		snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n");
		if (send(c, hdr, strlen(hdr), MSG_NOSIGNAL) < 0)
			return;
		for (int i = 0; i < 100000; i++) {
			struct pollfd p = {.fd = c, .events = POLLIN};
			if (poll(&p, 1, 100) > 0)
				return; /* the client closed (or sent something): stop */
			if (send(c, "R", 1, MSG_NOSIGNAL) < 0)
				return;
		}
		return;
	} else if (strcmp(path, "/loop") == 0) {
		snprintf(hdr, sizeof hdr, "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else {
		snprintf(hdr, sizeof hdr, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	}
	if (write(c, hdr, strlen(hdr)) < 0)
		return;
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(srv_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		srv_connections++;
		char req[4096];
		size_t n = 0;
		while (n < sizeof req - 1) {
			ssize_t r = read(c, req + n, sizeof req - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[n] = '\0';
		char path[2048] = "/";
		sscanf(req, "GET %2047s", path);
		reply(c, path);
		shutdown(c, SHUT_WR);
		char drain[256];
		while (read(c, drain, sizeof drain) > 0)
			;
		close(c);
	}
}

static void srv_start(void)
{
	srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(srv_fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	ck_assert_int_eq(bind(srv_fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(srv_fd, 16), 0);
	ck_assert_int_eq(getsockname(srv_fd, (struct sockaddr *)&a, &len), 0);
	srv_port = ntohs(a.sin_port);
	srv_connections = 0;
	ck_assert_int_eq(pthread_create(&srv_thread, NULL, serve, NULL), 0);
}

static void srv_stop(void)
{
	shutdown(srv_fd, SHUT_RDWR);
	pthread_join(srv_thread, NULL);
	close(srv_fd);
	srv_fd = -1;
}

/* Tests allow exactly 127.0.0.1 (the test server) and refuse what the real filter refuses otherwise. */
static bool test_policy(const struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)arg;
	if (sa->sa_family == AF_INET && ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
		return false;
	return ss_addr_refused(sa, len);
}

static ss_fetcher *new_fetcher(bool allow_private, int redirects)
{
	ss_fetch_opts o = {.timeout_seconds = 10, .max_bytes = 65536, .max_redirects = redirects,
			   .allow_private = allow_private};
	ss_fetcher *f = NULL;
	ss_error err;
	ck_assert_int_eq(ss_fetcher_new(&o, &f, &err), 0);
	return f;
}

static int fetch(ss_fetcher *f, const char *fmt, ss_buf *b, ss_error *err)
{
	char url[1024], port[16];
	/* fmt holds "%d" placeholders for the server port; substitute them by hand. */
	snprintf(port, sizeof port, "%d", srv_port);
	size_t j = 0;
	for (const char *p = fmt; *p && j + 16 < sizeof url; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			memcpy(url + j, port, strlen(port));
			j += strlen(port);
			p++;
		} else {
			url[j++] = *p;
		}
	}
	url[j] = '\0';
	ss_error_clear(err);
	return ss_fetch_url(f, url, b, err);
}

START_TEST(fetch_times_out_as_504)
{
	srv_start();
	ss_fetch_opts o = {.timeout_seconds = 1, .max_bytes = 65536, .max_redirects = 0, .allow_private = true};
	ss_fetcher *f = NULL;
	ss_error err;
	ck_assert_int_eq(ss_fetcher_new(&o, &f, &err), 0);
	ss_buf b;
	ss_buf_init(&b, 0);
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/stall", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_TIMEOUT);
	ck_assert_int_eq(ss_code_http_status(err.code), 504);
	ck_assert_uint_eq(b.len, 0);
	ss_buf_free(&b);
	ss_fetcher_free(f);
	srv_stop();
}
END_TEST

/* The minimum transfer rate cuts a trickle off long before the total timeout, and says so; with no
 * minimum the same trickle runs into the total timeout instead. */
START_TEST(fetch_trickle_cut_off_by_minimum_rate)
{
	srv_start();
	ss_fetch_opts o = {.timeout_seconds = 40, .max_bytes = 1 << 20, .allow_private = true,
			   .low_speed_bytes = 1024, .low_speed_seconds = 1};
	ss_fetcher *f = NULL;
	ss_error err;
	ck_assert_int_eq(ss_fetcher_new(&o, &f, &err), 0);
	ss_buf b;
	ss_buf_init(&b, 0);
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/trickle", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_TIMEOUT);
	ck_assert_msg(strstr(err.msg, "too slow") != NULL && strstr(err.msg, "1024 bytes per second for 1 s") != NULL,
		      "%s", err.msg);
	ck_assert_uint_eq(b.len, 0);
	ss_fetcher_free(f);

	o = (ss_fetch_opts){.timeout_seconds = 1, .max_bytes = 1 << 20, .allow_private = true};
	ck_assert_int_eq(ss_fetcher_new(&o, &f, &err), 0);
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/trickle", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_TIMEOUT);
	ck_assert_msg(strstr(err.msg, "timed out") != NULL, "%s", err.msg);
	ss_buf_free(&b);
	ss_fetcher_free(f);
	srv_stop();
}
END_TEST

/* A per-call bound shorter than the configured timeout applies (the message says it is this request's own
 * time), and no time left fails at once without connecting. */
START_TEST(fetch_within_own_time)
{
	srv_start();
	ss_fetcher *f = new_fetcher(true, 0);
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	ck_assert_int_eq(ss_fetch_url_within(f, "http://127.0.0.1:1/ok", 0.0, &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_TIMEOUT);
	ck_assert_int_eq(ss_fetch_url_within(f, "http://127.0.0.1:1/ok", -3.0, &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_TIMEOUT);
	ck_assert_int_eq(ss_fetch_url_within(f, "ftp://127.0.0.1/ok", 0.0, &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST); /* a bad URL is still a bad URL */
	ck_assert_int_eq(srv_connections, 0);

	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/stall", srv_port);
	ck_assert_int_eq(ss_fetch_url_within(f, url, 0.3, &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_TIMEOUT);
	ck_assert_msg(strstr(err.msg, "arrival") != NULL, "%s", err.msg);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", srv_port);
	ck_assert_int_eq(ss_fetch_url_within(f, url, 5.0, &b, &err), 0);
	ck_assert_str_eq(b.data, "RIFFfakeaudio");
	ss_buf_free(&b);
	ss_fetcher_free(f);
	srv_stop();
}
END_TEST

START_TEST(fetch_default_refuses_loopback)
{
	srv_start();
	ss_fetcher *f = new_fetcher(false, 3);
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/ok", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_FORBIDDEN_URL);
	ck_assert_int_eq(fetch(f, "http://localhost:%d/ok", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_FORBIDDEN_URL);
	ck_assert_int_eq(fetch(f, "http://[::ffff:127.0.0.1]:%d/ok", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_FORBIDDEN_URL);
	ck_assert_int_eq(fetch(f, "http://2130706433:%d/ok", &b, &err), -1); /* 127.0.0.1 as a number */
	ck_assert_int_eq(err.code, SS_ERR_FORBIDDEN_URL);
	ck_assert_int_eq(srv_connections, 0); /* refused before connecting */
	ss_buf_free(&b);
	ss_fetcher_free(f);
	srv_stop();
}
END_TEST

START_TEST(fetch_allowed_and_errors)
{
	srv_start();
	ss_fetcher *f = new_fetcher(true, 3);
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/ok", &b, &err), 0);
	ck_assert_str_eq(b.data, "RIFFfakeaudio");
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/to?/ok", &b, &err), 0); /* one redirect, followed */
	ck_assert_str_eq(b.data, "RIFFfakeaudio");
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/missing", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_DOWNLOAD);
	ck_assert_msg(strstr(err.msg, "404") != NULL, "%s", err.msg);
	ck_assert_int_eq(b.len, 0);
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/big", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_DOWNLOAD);
	ck_assert_msg(strstr(err.msg, "larger") != NULL, "%s", err.msg);
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/loop", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_DOWNLOAD);
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/to?file:///etc/passwd", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_DOWNLOAD);
	ck_assert_int_eq(fetch(f, "ftp://127.0.0.1:%d/ok", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_int_eq(fetch(f, "file:///etc/passwd", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_int_eq(fetch(f, "not a url", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ck_assert_int_eq(fetch(f, "http://user:pw@127.0.0.1:%d/ok", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_BAD_REQUEST);
	ss_buf_free(&b);
	ss_fetcher_free(f);

	/* No redirects allowed: a 302 is a failure naming the status. */
	f = new_fetcher(true, 0);
	ss_buf_init(&b, 0);
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/to?/ok", &b, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_DOWNLOAD);
	ck_assert_msg(strstr(err.msg, "302") != NULL, "%s", err.msg);
	ss_buf_free(&b);
	ss_fetcher_free(f);
	srv_stop();
}
END_TEST

START_TEST(fetch_redirect_to_refused)
{
	srv_start();
	ss_fetcher *f = new_fetcher(false, 3);
	ss_fetcher_set_policy(f, test_policy, NULL);
	ss_buf b;
	ss_buf_init(&b, 0);
	ss_error err;
	/* The first hop is allowed by the test policy... */
	ck_assert_int_eq(fetch(f, "http://127.0.0.1:%d/ok", &b, &err), 0);
	/* ...but every redirect target is checked again at connect time. */
	static const char *targets[] = {
		"http://127.0.0.1:%d/to?http://127.0.0.2:%d/ok",
		"http://127.0.0.1:%d/to?http://[::1]:%d/ok",
		"http://127.0.0.1:%d/to?http://[::ffff:127.0.0.2]:%d/ok",
		"http://127.0.0.1:%d/to?http://169.254.169.254:%d/latest/meta-data",
		"http://127.0.0.1:%d/to?http://10.0.0.1:%d/",
		"http://127.0.0.1:%d/to?http://0.0.0.0:%d/",
	};
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		ck_assert_int_eq(fetch(f, targets[i], &b, &err), -1);
		ck_assert_msg(err.code == SS_ERR_FORBIDDEN_URL, "%s: %s", targets[i], err.msg);
		ck_assert_int_eq(b.len, 0);
	}
	ss_buf_free(&b);
	ss_fetcher_free(f);
	srv_stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net");
	TCase *t = tcase_create("net");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, refused_ranges);
	tcase_add_test(t, cidr_ranges_match);
	tcase_add_test(t, origins_are_exact);
	tcase_add_test(t, fetch_default_refuses_loopback);
	tcase_add_test(t, fetch_allowed_and_errors);
	tcase_add_test(t, fetch_redirect_to_refused);
	tcase_add_test(t, fetch_times_out_as_504);
	tcase_add_test(t, fetch_trickle_cut_off_by_minimum_rate);
	tcase_add_test(t, fetch_within_own_time);
	suite_add_tcase(s, t);
	return ss_check_run(s);
}
