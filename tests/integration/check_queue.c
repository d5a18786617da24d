/* Through a real nginx: misses queue for an analysis slot for a bounded time instead of being refused at once;
 * metrics_allow takes CIDR ranges and /metrics takes a Bearer key; the status line carries its reason phrase;
 * requests without a key from anonymous_networks act as the anonymous key, and only those. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>
#include <sodium.h>

#include "core/limits/admission.h"
#include "core/util/timefmt.h"
#include "tests/check_main.h"
#include "tests/fixtures/synth.h"
#include "tests/integration/harness.h"

/* Wait (bounded, 60 s) until cond(arg) holds; a short pause between looks, never a timing assertion. */
static bool wait_until(bool (*cond)(void *), void *arg)
{
	double end = ss_time_mono() + 60.0;
	while (!cond(arg)) {
		if (ss_time_mono() > end)
			return false;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return true;
}

/* A distinct WAV per index, about as long as a store's preview clip: different lengths give different bytes,
 * so no de-duplication. */
static unsigned char *wav(int i, size_t *len)
{
	unsigned char *p = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, 28.0 + 0.5 * i, synth_music, len);
	ck_assert_ptr_nonnull(p);
	return p;
}

typedef struct upload {
	ss_it_server *s;
	const unsigned char *data;
	size_t len;
	long status;
	char retry_after[16];
	char error[64];
} upload;

static void *send_upload(void *arg)
{
	upload *u = arg;
	ss_it_resp r;
	const char *h[] = {"Content-Type: audio/wav", NULL};
	u->status = -1;
	if (ss_it_request(u->s, "POST", "/analyze_data", h, u->data, u->len, &r) == 0) {
		u->status = r.status;
		if (!ss_it_header(&r, "Retry-After", u->retry_after, sizeof u->retry_after))
			u->retry_after[0] = '\0';
		if (r.status != 200) {
			json_object *o = json_tokener_parse(r.body.data);
			json_object *e;
			if (o != NULL && json_object_object_get_ex(o, "error", &e))
				snprintf(u->error, sizeof u->error, "%s", json_object_get_string(e));
			json_object_put(o);
		}
		ss_it_resp_free(&r);
	}
	return NULL;
}

static const char *admission_path(ss_it_server *s)
{
	static char path[400];
	snprintf(path, sizeof path, "%s.admission", s->state);
	return path;
}

/* ---- item 2: queue for a slot ---- */

/* The default two responders (one analysis slot): four parallel uploads all get their analysis. */
START_TEST(parallel_uploads_are_queued)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "off", .extra_conf = "analysis_queue_timeout = 300\n"};
	ss_it_start(&s, &o);
	upload u[4];
	unsigned char *bytes[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		memset(&u[i], 0, sizeof u[i]);
		bytes[i] = wav(i, &u[i].len);
		u[i].s = &s;
		u[i].data = bytes[i];
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, send_upload, &u[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(u[i].status == 200, "upload %d: %ld %s", i, u[i].status, u[i].error);
		free(bytes[i]);
	}
	ss_it_stop(&s);
}
END_TEST

typedef struct probe {
	ss_admission *a;
	int n;
} probe;

static bool queued_at_least(void *arg)
{
	probe *p = arg;
	return ss_admission_queued(p->a) >= p->n;
}

/* A miss finding the slot taken waits in the queue and gets its analysis once the slot is given back; with a
 * tiny analysis_queue_timeout it gives up with 503 busy and Retry-After. The test holds the slot itself. */
START_TEST(waiter_gets_slot_or_busy)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "off", .extra_conf = "analysis_queue_timeout = 300\n"};
	ss_it_start(&s, &o);
	ss_admission *hold = NULL;
	ss_error err;
	ck_assert_int_eq(ss_admission_open(admission_path(&s), 1, &hold, &err), 0);
	ck_assert_int_eq(ss_admission_acquire(hold, &err), 0);
	upload u = {.s = &s};
	unsigned char *bytes = wav(0, &u.len);
	u.data = bytes;
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, send_upload, &u), 0);
	probe p = {hold, 1};
	ck_assert_msg(wait_until(queued_at_least, &p), "the upload never queued for the slot");
	ss_admission_release(hold);
	pthread_join(t, NULL);
	ck_assert_msg(u.status == 200, "queued upload: %ld %s", u.status, u.error);
	ss_admission_close(hold);
	ss_it_stop(&s);

	ss_it_opts o2 = {.workers = 2, .auth = "off", .extra_conf = "analysis_queue_timeout = 0.2\n"};
	ss_it_start(&s, &o2);
	ck_assert_int_eq(ss_admission_open(admission_path(&s), 1, &hold, &err), 0);
	ck_assert_int_eq(ss_admission_acquire(hold, &err), 0);
	upload w = {.s = &s, .data = bytes, .len = u.len};
	send_upload(&w);
	ck_assert_int_eq(w.status, 503);
	ck_assert_str_eq(w.error, "busy");
	ck_assert_msg(atoi(w.retry_after) > 0, "Retry-After '%s'", w.retry_after);
	ss_admission_close(hold);
	free(bytes);
	ss_it_stop(&s);
}
END_TEST

/* Beyond the queue's seats a miss is refused at once, so that a responder stays free: with 3 responders and
 * one slot there is one seat. The test holds the slot and the seat. */
START_TEST(full_queue_refuses_at_once)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 3, .auth = "off", .extra_conf = "max_concurrent_analyses = 1\n"
								   "analysis_queue_timeout = 300\n"};
	ss_it_start(&s, &o);
	ss_admission *hold = NULL;
	ss_error err;
	ck_assert_int_eq(ss_admission_open(admission_path(&s), 1, &hold, &err), 0);
	ck_assert_int_eq(ss_admission_acquire(hold, &err), 0);
	ck_assert_int_eq(ss_admission_take_seat(hold, 1, &err), 0);
	upload u = {.s = &s};
	unsigned char *bytes = wav(1, &u.len);
	u.data = bytes;
	send_upload(&u);
	ck_assert_int_eq(u.status, 503);
	ck_assert_str_eq(u.error, "busy");
	ck_assert_msg(atoi(u.retry_after) > 0, "Retry-After '%s'", u.retry_after);
	/* /health is answered meanwhile. */
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&s, "GET", "/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	ss_admission_close(hold);
	free(bytes);
	ss_it_stop(&s);
}
END_TEST

/* ---- item 4: metrics_allow CIDR, Bearer ---- */

START_TEST(metrics_allow_cidr_and_bearer)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 1, .auth = "required", .extra_conf = "metrics_allow = 10.0.0.0/8, 127.0.0.0/8 ::1\n"};
	ss_it_start(&s, &o);
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&s, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.body.data);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_request(&s, "GET", "/stats", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	ss_it_stop(&s);

	/* Not allowed by address: a Bearer admin key works, a Bearer client key is forbidden. */
	ss_it_opts o2 = {.workers = 1, .auth = "required", .extra_conf = "metrics_allow = 10.0.0.0/8\n"};
	ss_it_start(&s, &o2);
	char admin[128], client[128], h1[200], h2[200];
	ss_it_make_key(&s, "admin", admin, sizeof admin);
	ss_it_make_key(&s, "client", client, sizeof client);
	snprintf(h1, sizeof h1, "Authorization: Bearer %s", admin);
	snprintf(h2, sizeof h2, "Authorization: Bearer %s", client);
	const char *ha[] = {h1, NULL}, *hc[] = {h2, NULL};
	ck_assert_int_eq(ss_it_request(&s, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_request(&s, "GET", "/metrics", ha, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "Bearer admin: %ld %s", r.status, r.body.data);
	ck_assert(strstr(r.body.data, "# TYPE") != NULL);
	ss_it_resp_free(&r);
	ck_assert_int_eq(ss_it_request(&s, "GET", "/metrics", hc, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 403, "forbidden");
	ss_it_resp_free(&r);
	/* A Bearer key is a key like any other: /stats with the client key. */
	ck_assert_int_eq(ss_it_request(&s, "GET", "/stats", hc, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	ss_it_stop(&s);
}
END_TEST

/* ---- item 5: reason phrase ---- */

START_TEST(status_line_has_reason_phrase)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 1, .auth = "required"};
	ss_it_start(&s, &o);
	static const struct {
		const char *req;
		const char *line;
	} cases[] = {
		{"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "HTTP/1.1 401 Unauthorized\r\n"},
		{"GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"},
		{"GET /stats HTTP/1.1\r\nHost: localhost\r\nX-API-Key: wrong\r\nConnection: close\r\n\r\n",
		 "HTTP/1.1 403 Forbidden\r\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ss_it_resp r;
		ck_assert_int_eq(ss_it_raw_request(&s, cases[i].req, strlen(cases[i].req), &r), 0);
		ck_assert_msg(r.headers.data != NULL && strncmp(r.headers.data, cases[i].line, strlen(cases[i].line)) == 0,
			      "expected %s got %.60s", cases[i].line, r.headers.data ? r.headers.data : "(none)");
		ss_it_resp_free(&r);
	}
	ss_it_stop(&s);
}
END_TEST

/* ---- anonymous_networks ---- */

/* Run songscope-admin on s's config with args (NULL-terminated), as the test's user; hand the database files
 * back to the responders' user as an operator would. Returns the exit status. */
static int admin(ss_it_server *s, const char *const *args)
{
	char bin[600];
	snprintf(bin, sizeof bin, "%s/tools/songscope-admin", ss_it_builddir());
	char *argv[16] = {bin, "--config", s->conf};
	size_t n = 3;
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	int rc = ss_it_run(argv, NULL);
	struct stat dst;
	ck_assert_int_eq(stat(s->dir, &dst), 0);
	const char *suffix[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		char p[400];
		snprintf(p, sizeof p, "%s%s", s->db, suffix[i]);
		if (access(p, F_OK) == 0)
			ck_assert_msg(chown(p, dst.st_uid, dst.st_gid) == 0, "chown %s: %s", p, strerror(errno));
	}
	return rc;
}

/* Requests without a key from anonymous_networks act as anonymous_key: its limits, client scope only, off when
 * the key is deactivated; requests with a key are unaffected; other networks still need a key. */
START_TEST(anonymous_networks_use_the_named_key)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "required",
			.extra_conf = "anonymous_networks = 127.0.0.0/8\nanonymous_key = ios-app\n"};
	ss_it_start(&s, &o);
	char adminkey[128];
	ss_it_make_key(&s, "admin", adminkey, sizeof adminkey); /* id 1 */
	const char *create[] = {"keys", "create", "ios-app", "--daily-limit", "4", NULL}; /* id 2 */
	ck_assert_int_eq(admin(&s, create), 0);

	ss_it_resp r;
	size_t len;
	unsigned char *bytes = wav(2, &len);
	const char *h[] = {"Content-Type: audio/wav", NULL};
	ck_assert_int_eq(ss_it_request(&s, "POST", "/analyze_data", h, bytes, len, &r), 0);
	ck_assert_msg(r.status == 200, "anonymous upload: %ld %s", r.status, r.body.data);
	char v[32];
	ck_assert(ss_it_header(&r, "X-RateLimit-Limit", v, sizeof v));
	ss_it_resp_free(&r);
	/* Client scope only: /verify and the other admin endpoints still need a key. */
	static const char vb[] = "{\"id\":1,\"bpm\":120}";
	ck_assert_int_eq(ss_it_request(&s, "POST", "/verify", NULL, vb, sizeof vb - 1, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	/* The key's own daily limit counts the anonymous requests: four, then 429. */
	ck_assert_int_eq(ss_it_request(&s, "POST", "/analyze_data", h, bytes, len, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(ss_it_request(&s, "GET", "/stats", NULL, NULL, 0, &r), 0);
		ck_assert_int_eq(r.status, 200);
		ss_it_resp_free(&r);
	}
	ck_assert_int_eq(ss_it_request(&s, "GET", "/stats", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 429, "daily_limit_exceeded");
	ss_it_resp_free(&r);
	/* A request with a key is that key's, whatever its address. */
	char hk[200];
	snprintf(hk, sizeof hk, "X-API-Key: %s", adminkey);
	const char *ha[] = {hk, NULL};
	ck_assert_int_eq(ss_it_request(&s, "GET", "/stats", ha, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ss_it_resp_free(&r);
	/* The operator turns it off by deactivating the key: a missing key is missing again. */
	const char *off[] = {"keys", "deactivate", "2", NULL};
	ck_assert_int_eq(admin(&s, off), 0);
	ck_assert_int_eq(ss_it_request(&s, "GET", "/cache", NULL, NULL, 0, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	ss_it_stop(&s);

	/* Another network: no key is no key. */
	ss_it_opts o2 = {.workers = 1, .auth = "required",
			 .extra_conf = "anonymous_networks = 10.0.0.0/8 fd00::/8\nanonymous_key = ios-app\n"};
	ss_it_start(&s, &o2);
	const char *create2[] = {"keys", "create", "ios-app", NULL};
	ck_assert_int_eq(admin(&s, create2), 0);
	ck_assert_int_eq(ss_it_request(&s, "POST", "/analyze_data", h, bytes, len, &r), 0);
	ss_it_assert_error(&r, 401, "missing_api_key");
	ss_it_resp_free(&r);
	free(bytes);
	ss_it_stop(&s);
}
END_TEST

int main(void)
{
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "nginx not found; skipping integration tests\n");
		return 77;
	}
	if (sodium_init() < 0)
		return 99;
	Suite *su = suite_create("queue");
	TCase *tc = tcase_create("queue");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, parallel_uploads_are_queued);
	tcase_add_test(tc, waiter_gets_slot_or_busy);
	tcase_add_test(tc, full_queue_refuses_at_once);
	suite_add_tcase(su, tc);
	tc = tcase_create("access");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, metrics_allow_cidr_and_bearer);
	tcase_add_test(tc, status_line_has_reason_phrase);
	tcase_add_test(tc, anonymous_networks_use_the_named_key);
	suite_add_tcase(su, tc);
	return ss_check_run(su);
}
