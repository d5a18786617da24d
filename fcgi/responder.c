#include "fcgi/responder.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "core/analysis/pipeline.h"
#include "core/util/log.h"
#include "core/util/timefmt.h"
#include "fcgi/handlers.h"
#include "fcgi/auth.h"
#include "fcgi/request.h"
#include "fcgi/response.h"
#include "fcgi/router.h"
#include "fcgi/setup.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	FCGX_ShutdownPending();
}

int ss_fd_is_listening_socket(int fd)
{
	int v = 0;
	socklen_t len = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) != 0)
		return 0;
	return v != 0;
}

static long jittered(long max_requests)
{
	if (max_requests <= 0)
		return 0;
	long span = max_requests / 10;
	if (span == 0)
		return max_requests;
	unsigned seed = (unsigned)getpid() ^ (unsigned)ss_time_now_ns();
	long j = (long)(rand_r(&seed) % (unsigned)(2 * span + 1)) - span;
	return max_requests + j;
}

static void handle_one(ss_ctx *ctx, FCGX_Request *fx)
{
	ss_request req;
	int rc;
	ss_store_recheck(ctx->store); /* the store checks (file identity) run again for this request */

	if (ss_req_init(&req, fx) != 0)
		rc = ss_resp_error(&req, SS_ERR_BAD_REQUEST, "The request path is not usable.");
	else
		rc = ss_router_dispatch(ctx, &req);
	if (!req.headers_sent)
		rc = ss_resp_error(&req, SS_ERR_INTERNAL, "The request could not be answered.");
	double ms = (ss_time_mono() - req.t_start) * 1000.0;
	ss_handlers_observe(ctx, &req, ms / 1000.0);
	if (rc != 0)
		ss_log_info("%s %s: client went away before the response was written", ss_req_param(&req, "REQUEST_METHOD"),
			    req.path);
	else if (req.status >= 500)
		ss_log_warn("%s %s -> %d (%.1f ms)", ss_req_param(&req, "REQUEST_METHOD"), req.path, req.status, ms);
	else
		ss_log_debug("%s %s -> %d (%.1f ms)", ss_req_param(&req, "REQUEST_METHOD"), req.path, req.status, ms);
	ss_req_cleanup(&req);
	ctx->served++;
	ss_store_recheck(ctx->store); /* calls between requests (the usage flush) check the file each time */
}

int ss_responder_run(const ss_ctx_params *params, int listen_fd, long max_requests)
{
	static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	sigset_t block, idle_mask;
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = 0; /* no SA_RESTART: a blocking call must return EINTR */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
		sigaction(stop_signals[i], &sa, NULL);
		sigaddset(&block, stop_signals[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	ss_analysis_process_init(); /* keep analysis buffers mapped between requests */
	/* Stop signals stay blocked except inside ppoll(): a stop arriving mid-request waits until the
	 * response is written, and one arriving while idle wakes ppoll at once. */
	sigprocmask(SIG_BLOCK, &block, &idle_mask);
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		sigdelset(&idle_mask, stop_signals[i]);

	if (FCGX_Init() != 0) {
		ss_log_error("FastCGI library initialisation failed");
		return 1;
	}
	/* Several responders share the listening socket: poll, then accept without blocking, so a
	 * connection taken by a sibling never leaves this one stuck in accept(). */
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		ss_log_error("cannot make the FastCGI socket non-blocking: %s", strerror(errno));
		return 1;
	}

	FCGX_Request fx;
	if (FCGX_InitRequest(&fx, listen_fd, 0) != 0) {
		ss_log_error("FastCGI request initialisation failed");
		return 1;
	}
	ss_ctx context, *ctx = &context;
	ss_error err;
	ss_error_clear(&err);
	if (ss_ctx_open(ctx, params, &err) != 0) {
		ss_log_error("%s", err.msg);
		FCGX_Free(&fx, 1);
		return 1;
	}

	long limit = jittered(max_requests);
	int status = 0;
	double state_due = ss_auth_between_requests(ctx); /* seconds until the state file wants a look, or -1 */
	while (!stop_requested && (limit == 0 || (long)ctx->served < limit)) {
		struct pollfd p = {.fd = listen_fd, .events = POLLIN};
		/* Wake up to write batched usage rows, or to reopen the state file, when due even if no request
		 * comes. */
		double due = ss_auth_flush_due_in(ctx);
		if (state_due >= 0 && (due < 0 || state_due < due))
			due = state_due;
		struct timespec tmo = {.tv_sec = (time_t)due, .tv_nsec = (long)((due - (double)(time_t)due) * 1e9)};
		int n = ppoll(&p, 1, due >= 0 ? &tmo : NULL, &idle_mask);
		if (n == 0) {
			ss_auth_flush(ctx, false);
			state_due = ss_auth_between_requests(ctx);
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ss_log_error("poll on the FastCGI socket failed: %s", strerror(errno));
			status = 1;
			break;
		}
		if (stop_requested)
			break;
		if (p.revents & (POLLERR | POLLNVAL)) {
			ss_log_error("the FastCGI socket is no longer usable");
			status = 1;
			break;
		}
		int rc = FCGX_Accept_r(&fx);
		if (rc < 0) {
			int e = -rc;
			if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED || e == EPROTO)
				continue;
			if (stop_requested)
				break;
			ss_log_error("accepting a FastCGI connection failed: %s", strerror(e));
			status = 1;
			break;
		}
		handle_one(ctx, &fx);
		FCGX_Finish_r(&fx);
		state_due = ss_auth_between_requests(ctx);
	}
	FCGX_Free(&fx, 1);
	ss_log_debug("responder stopping after %lu requests", ctx->served);
	ss_ctx_close(ctx);
	return status;
}
