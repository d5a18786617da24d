#include "core/net/fetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/net/addrfilter.h"

struct ss_fetcher {
	CURL *h;
	ss_fetch_opts o;
	ss_fetch_policy_fn policy;
	void *policy_arg;
	/* per fetch */
	ss_buf *out;
	bool refused;
	bool too_big;
	long status;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool default_policy(const struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)arg;
	return ss_addr_refused(sa, len);
}

/* Every connection curl makes, first hop and redirects alike, gets its socket here with the address it
 * is about to connect to: refuse it before a single packet is sent. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	ss_fetcher *f = clientp;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (f->policy != NULL && f->policy(&a->addr, a->addrlen, f->policy_arg)) {
		f->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	ss_fetcher *f = arg;
	size_t len = size * n;
	if ((long long)(f->out->len + len) > f->o.max_bytes) {
		f->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (ss_buf_append(f->out, p, len) != 0)
		return 0;
	return len;
}

int ss_fetcher_new(const ss_fetch_opts *o, ss_fetcher **out, ss_error *err)
{
	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return ss_error_set(err, SS_ERR_INTERNAL, "libcurl initialisation failed: %s", curl_easy_strerror(global_rc));
	ss_fetcher *f = calloc(1, sizeof *f);
	if (f == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	f->o = *o;
	if (f->o.max_bytes <= 0)
		f->o.max_bytes = 50LL * 1024 * 1024;
	if (f->o.timeout_seconds <= 0)
		f->o.timeout_seconds = 30;
	if (f->o.max_redirects < 0)
		f->o.max_redirects = 0;
	f->policy = o->allow_private ? NULL : default_policy;
	f->h = curl_easy_init();
	if (f->h == NULL) {
		free(f);
		return ss_error_set(err, SS_ERR_INTERNAL, "cannot create a libcurl handle");
	}
	*out = f;
	return 0;
}

void ss_fetcher_free(ss_fetcher *f)
{
	if (f == NULL)
		return;
	curl_easy_cleanup(f->h);
	free(f);
}

void ss_fetcher_set_policy(ss_fetcher *f, ss_fetch_policy_fn fn, void *arg)
{
	f->policy = fn;
	f->policy_arg = arg;
}

long ss_fetcher_last_status(const ss_fetcher *f)
{
	return f->status;
}

const char *ss_fetch_version(void)
{
	return curl_version();
}

/* Only absolute http(s) URLs with a host, no credentials. */
static int check_url(const char *url, ss_error *err)
{
	CURLU *u = curl_url();
	if (u == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory");
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = 0;
	if (strlen(url) > 8192 || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
		rc = ss_error_set(err, SS_ERR_BAD_REQUEST, "The URL is not a valid absolute http or https URL.");
	else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		rc = ss_error_set(err, SS_ERR_BAD_REQUEST, "Only http and https URLs can be fetched, not %.20s.", scheme);
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		rc = ss_error_set(err, SS_ERR_BAD_REQUEST, "URLs with credentials are not fetched.");
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

int ss_fetch_check_url(const char *url, ss_error *err)
{
	return check_url(url, err);
}

int ss_fetch_url(ss_fetcher *f, const char *url, ss_buf *out, ss_error *err)
{
	return ss_fetch_url_within(f, url, (double)f->o.timeout_seconds, out, err);
}

int ss_fetch_url_within(ss_fetcher *f, const char *url, double seconds, ss_buf *out, ss_error *err)
{
	ss_buf_reset(out);
	f->status = 0;
	if (check_url(url, err) != 0)
		return -1;
	if (!(seconds > 0.0))
		return ss_error_set(err, SS_ERR_TIMEOUT,
				    "Download timed out: no time was left within %ld s of this request's arrival.",
				    f->o.timeout_seconds);
	long timeout_ms = seconds >= (double)f->o.timeout_seconds ? f->o.timeout_seconds * 1000L : (long)(seconds * 1000.0);
	if (timeout_ms < 1)
		timeout_ms = 1;
	CURL *h = f->h;
	curl_easy_reset(h);
	f->out = out;
	f->refused = false;
	f->too_big = false;
	f->errbuf[0] = '\0';
	size_t saved_limit = out->limit;
	out->limit = 0;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, f->o.max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)f->o.max_redirects);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000L ? timeout_ms : 10000L);
	if (f->o.low_speed_bytes > 0 && f->o.low_speed_seconds > 0) {
		/* A trickle that stays under the rate for the whole window is cut off then, not at the total
		 * timeout; this covers the wait for the response headers as well as the body. */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, f->o.low_speed_bytes);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, f->o.low_speed_seconds);
	}
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->o.max_bytes);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* a proxy would make the connected address meaningless */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "songscope/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* curl decodes; the cap applies to decoded bytes */
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, f);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 0L);

	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &f->status);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	out->limit = saved_limit;
	f->out = NULL;

	if (f->refused && rc != CURLE_OK) {
		ss_buf_reset(out);
		return ss_error_set(err, SS_ERR_FORBIDDEN_URL,
				    "The URL leads to an address this server does not fetch from (loopback, private, "
				    "link-local or similar).");
	}
	if (rc == CURLE_OK && f->status >= 300 && f->status < 400) {
		ss_buf_reset(out);
		return ss_error_set(err, SS_ERR_DOWNLOAD, "Download failed: upstream answered HTTP %ld (redirect not followed).",
				    f->status);
	}
	if (rc == CURLE_OK && (f->status >= 400 || f->status < 200)) {
		ss_buf_reset(out);
		return ss_error_set(err, SS_ERR_DOWNLOAD, "Download failed: upstream answered HTTP %ld.", f->status);
	}
	if (rc == CURLE_OK)
		return 0;
	ss_buf_reset(out);
	if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return ss_error_set(err, SS_ERR_DOWNLOAD, "Download failed: the file is larger than %lld bytes.",
				    f->o.max_bytes);
	if (rc == CURLE_OPERATION_TIMEDOUT && f->o.low_speed_bytes > 0 && f->o.low_speed_seconds > 0 &&
	    strstr(f->errbuf, "too slow") != NULL) /* curl's own wording for the LOW_SPEED abort */
		return ss_error_set(err, SS_ERR_TIMEOUT,
				    "Download too slow: the server sent less than %ld bytes per second for %ld s.",
				    f->o.low_speed_bytes, f->o.low_speed_seconds);
	if (rc == CURLE_OPERATION_TIMEDOUT && timeout_ms < f->o.timeout_seconds * 1000L)
		return ss_error_set(err, SS_ERR_TIMEOUT,
				    "Download timed out: no complete answer within %ld s of this request's arrival.",
				    f->o.timeout_seconds);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return ss_error_set(err, SS_ERR_TIMEOUT, "Download timed out: no complete answer within %ld s.",
				    f->o.timeout_seconds);
	if (rc == CURLE_TOO_MANY_REDIRECTS)
		return ss_error_set(err, SS_ERR_DOWNLOAD, "Download failed: more than %d redirects.", f->o.max_redirects);
	if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		return ss_error_set(err, SS_ERR_DOWNLOAD, "Download failed: redirected to a scheme other than http/https.");
	return ss_error_set(err, SS_ERR_DOWNLOAD, "Download failed: %s%s%s (HTTP %ld).", curl_easy_strerror(rc),
			    f->errbuf[0] ? ": " : "", f->errbuf, f->status);
}
