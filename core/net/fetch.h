/* Downloading a remote audio file for POST /analyze: one reusable libcurl handle per responder, http and
 * https only, total timeout, minimum transfer rate, size cap enforced while downloading, bounded redirects
 * each re-checked, TLS verification on, and an address filter applied to every address curl actually connects to (so DNS
 * rebinding cannot slip a private address in between a check and the connect). */
#ifndef SS_NET_FETCH_H
#define SS_NET_FETCH_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/util/buf.h"
#include "core/util/error.h"

typedef struct ss_fetch_opts {
	long timeout_seconds;     /* whole transfer, redirects included */
	long long max_bytes;      /* body cap */
	int max_redirects;        /* 0 = redirects are an error */
	bool allow_private;       /* skip the address filter (local development and tests) */
	long low_speed_bytes;     /* minimum rate in bytes per second... */
	long low_speed_seconds;   /* ...averaged over this many seconds; either 0 = no minimum rate */
} ss_fetch_opts;

/* Decides whether an address may be connected to; returns true to refuse. */
typedef bool (*ss_fetch_policy_fn)(const struct sockaddr *sa, socklen_t len, void *arg);

typedef struct ss_fetcher ss_fetcher;

/* Create a fetcher (one curl easy handle, reused for every fetch). Call after fork; curl_global_init is
 * done on first use. Returns 0 and *out (free with ss_fetcher_free) or -1 with err. */
int ss_fetcher_new(const ss_fetch_opts *o, ss_fetcher **out, ss_error *err);

/* Release the handle. NULL is a no-op. */
void ss_fetcher_free(ss_fetcher *f);

/* Replace the address policy (default: ss_addr_refused unless allow_private). For tests. */
void ss_fetcher_set_policy(ss_fetcher *f, ss_fetch_policy_fn fn, void *arg);

/* GET url into out (reset first; out's own limit is ignored, the fetcher's cap applies). Errors:
 * SS_ERR_BAD_REQUEST (not an http/https URL, or malformed), SS_ERR_FORBIDDEN_URL (an address the policy
 * refuses, first hop or after a redirect), SS_ERR_DOWNLOAD (connection failure, upstream status >= 400
 * named in the message, too many redirects, body larger than the cap), SS_ERR_TIMEOUT (no complete answer
 * within the total timeout, or slower than the minimum rate for its whole window, the message saying
 * which: 504 timeout). */
int ss_fetch_url(ss_fetcher *f, const char *url, ss_buf *out, ss_error *err);

/* ss_fetch_url bounded by at most `seconds` (wall time, fractions allowed) instead of the configured total
 * timeout when that is shorter: for a request that has already spent part of its own time waiting.
 * seconds <= 0 fails at once with SS_ERR_TIMEOUT without connecting. */
int ss_fetch_url_within(ss_fetcher *f, const char *url, double seconds, ss_buf *out, ss_error *err);

/* The check ss_fetch_url applies to a URL before any network access: an absolute http or https URL with a
 * host, without credentials, at most 8192 bytes. Returns 0, or -1 with err (SS_ERR_BAD_REQUEST, or
 * SS_ERR_NOMEM). Pure apart from allocation; used by the fuzz target. */
int ss_fetch_check_url(const char *url, ss_error *err);

/* The HTTP status of the last fetch (0 when none was received). */
long ss_fetcher_last_status(const ss_fetcher *f);

/* libcurl version string, e.g. "libcurl/7.88.1 OpenSSL/3.0 ...". */
const char *ss_fetch_version(void);

#endif
