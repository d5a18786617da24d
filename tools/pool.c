#include "tools/pool.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Parent to worker: the job number, a uint64_t. Worker to parent: this header, then len bytes of text. Each
 * worker has one socket pair (a two-way pipe; sockets so that writes to a dead peer can be refused with
 * MSG_NOSIGNAL instead of raising SIGPIPE, which is left alone for standard output). */
typedef struct pool_head {
	uint64_t len;
	uint32_t failed;
	uint32_t pad;
} pool_head;

/* A result larger than this is a protocol error (a JSON line is kilobytes; with every beat of an hour, a few
 * hundred). */
#define POOL_MAX_RESULT ((uint64_t)256 << 20)

typedef struct pool_worker {
	pid_t pid;     /* 0: no process */
	int fd;        /* the parent's end of the socket pair; -1 with no process */
	bool busy;     /* a job was sent and its result has not all arrived */
	bool fresh;    /* started and not yet given a job */
	size_t job;    /* the job it runs when busy */
	pool_head head;
	size_t got;    /* bytes of head and text received so far */
	char *text;    /* allocated once the head has arrived */
} pool_worker;

typedef struct pool_slot {
	bool ready;
	char *text;
	size_t len;
	bool failed;
	int wstatus;
} pool_slot;

static int send_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes. Returns 1, 0 at end of file before the first byte, -1 on error or a short message. */
static int read_full(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return got == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

static _Noreturn void worker_main(int fd, const tool_pool_opts *o)
{
	for (;;) {
		uint64_t job;
		int r = read_full(fd, &job, sizeof job);
		if (r == 0)
			_exit(0); /* the parent is done (or gone) */
		if (r < 0)
			_exit(1);
		char *text = NULL;
		size_t len = 0;
		bool failed = false;
		if (o->work((size_t)job, o->ctx, &text, &len, &failed) != 0)
			_exit(1);
		pool_head h = {.len = len, .failed = failed ? 1 : 0, .pad = 0};
		if (send_full(fd, &h, sizeof h) != 0 || send_full(fd, text, len) != 0)
			_exit(1);
		free(text);
	}
}

static int spawn(pool_worker *w, pool_worker *all, unsigned nw, const tool_pool_opts *o)
{
	assert(w->pid == 0 && w->fd < 0);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	fflush(stdout); /* nothing buffered may be written twice */
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		/* Only this worker's end stays open: another worker's socket kept here would hide its end. */
		close(sv[0]);
		for (unsigned k = 0; k < nw; k++)
			if (all[k].fd >= 0)
				close(all[k].fd);
		worker_main(sv[1], o);
	}
	close(sv[1]);
	w->pid = pid;
	w->fd = sv[0];
	w->busy = false;
	w->fresh = true;
	w->got = 0;
	w->text = NULL;
	return 0;
}

/* Close w's socket, wait for its process, and return its wait status. */
static int reap(pool_worker *w)
{
	int st = 0;
	close(w->fd);
	w->fd = -1;
	while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	w->busy = false;
	free(w->text);
	w->text = NULL;
	w->got = 0;
	return st;
}

static void finish(pool_slot *s, char *text, size_t len, bool failed, int wstatus)
{
	assert(!s->ready);
	s->ready = true;
	s->text = text;
	s->len = len;
	s->failed = failed;
	s->wstatus = wstatus;
}

int tool_pool_run(size_t n, const tool_pool_opts *o, char *why, size_t whylen)
{
	assert(o->jobs >= 1 && o->window >= o->jobs && o->work != NULL && o->emit != NULL);
	why[0] = '\0';
	if (n == 0)
		return 0;
	unsigned nw = o->jobs < n ? o->jobs : (unsigned)n;
	size_t nslots = o->window;
	pool_worker *ws = calloc(nw, sizeof *ws);
	pool_slot *slots = calloc(nslots, sizeof *slots);
	struct pollfd *pfd = calloc(nw, sizeof *pfd);
	unsigned *pw = calloc(nw, sizeof *pw);
	int ret = 0;
	if (ws == NULL || slots == NULL || pfd == NULL || pw == NULL) {
		snprintf(why, whylen, "out of memory");
		ret = -1;
		goto out;
	}
	for (unsigned k = 0; k < nw; k++)
		ws[k].fd = -1;
	size_t next_job = 0, next_emit = 0, done = 0, failed = 0;
	for (;;) {
		/* Print what is ready in order first: that moves the window on before jobs are handed out. */
		while (next_emit < n && slots[next_emit % nslots].ready) {
			pool_slot *s = &slots[next_emit % nslots];
			int rc = o->emit(next_emit, s->text, s->len, s->failed, s->wstatus, o->ctx);
			free(s->text);
			memset(s, 0, sizeof *s);
			next_emit++;
			if (rc != 0) {
				ret = -1;
				goto out;
			}
		}
		if (next_emit == n)
			break;

		/* Hand each idle worker the next job, while the results held for ordering stay within the window. */
		for (unsigned k = 0; k < nw && next_job < n && next_job < next_emit + nslots; k++) {
			pool_worker *w = &ws[k];
			if (w->busy)
				continue;
			if (w->pid == 0 && spawn(w, ws, nw, o) != 0) {
				int e = errno;
				bool alive = false;
				for (unsigned j = 0; j < nw; j++)
					alive |= ws[j].pid != 0;
				if (!alive) {
					snprintf(why, whylen, "cannot start a worker process: %s", strerror(e));
					ret = -1;
					goto out;
				}
				continue; /* the others carry on */
			}
			uint64_t job = next_job;
			if (send_full(w->fd, &job, sizeof job) != 0 && !w->fresh) {
				/* It died while idle: replace it and give the job to the new one. */
				reap(w);
				k--;
				continue;
			}
			/* Sent, or refused by a worker that died at birth: then its end of file reports the job lost. */
			w->fresh = false;
			w->busy = true;
			w->job = next_job++;
			w->got = 0;
		}

		/* The oldest job is not done, so it runs on a worker (it was within the window, and a worker was idle or
		 * could be started): wait for any busy one. */
		nfds_t np = 0;
		for (unsigned k = 0; k < nw; k++) {
			if (ws[k].busy) {
				pfd[np].fd = ws[k].fd;
				pfd[np].events = POLLIN;
				pfd[np].revents = 0;
				pw[np++] = k;
			}
		}
		assert(np > 0);
		if (poll(pfd, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "poll: %s", strerror(errno));
			ret = -1;
			goto out;
		}
		for (nfds_t p = 0; p < np; p++) {
			if (pfd[p].revents == 0)
				continue;
			pool_worker *w = &ws[pw[p]];
			pool_slot *s = &slots[w->job % nslots];
			char *dst;
			size_t want;
			if (w->got < sizeof w->head) {
				dst = (char *)&w->head + w->got;
				want = sizeof w->head - w->got;
			} else {
				dst = w->text + (w->got - sizeof w->head);
				want = (size_t)w->head.len - (w->got - sizeof w->head);
			}
			ssize_t r = want > 0 ? read(w->fd, dst, want) : 0;
			if (r < 0 && errno == EINTR)
				continue;
			bool lost = r <= 0 && want > 0;
			if (r > 0) {
				w->got += (size_t)r;
				if (w->got == sizeof w->head) {
					if (w->head.len > POOL_MAX_RESULT) {
						lost = true;
						kill(w->pid, SIGKILL);
					} else if ((w->text = malloc((size_t)w->head.len + 1)) == NULL) {
						snprintf(why, whylen, "out of memory");
						ret = -1;
						goto out;
					}
				}
			}
			if (lost) {
				size_t job = w->job;
				int st = reap(w);
				finish(&slots[job % nslots], NULL, 0, true, st);
				done++;
				failed++;
				if (o->progress)
					o->progress(done, failed, o->ctx);
			} else if (w->got >= sizeof w->head && w->got == sizeof w->head + (size_t)w->head.len) {
				finish(s, w->text, (size_t)w->head.len, w->head.failed != 0, 0);
				w->text = NULL;
				w->got = 0;
				w->busy = false;
				done++;
				failed += w->head.failed != 0;
				if (o->progress)
					o->progress(done, failed, o->ctx);
			}
		}
	}
out:
	if (ws != NULL) {
		for (unsigned k = 0; k < nw; k++) {
			if (ws[k].pid == 0)
				continue;
			if (ret != 0)
				kill(ws[k].pid, SIGKILL); /* stopped early: do not wait for the jobs in progress (SIGKILL:
							   * a handler inherited from the caller must not run) */
			reap(&ws[k]);                   /* an idle worker exits at the end of its socket */
		}
	}
	if (slots != NULL)
		for (size_t i = 0; i < nslots; i++)
			free(slots[i].text);
	free(ws);
	free(slots);
	free(pfd);
	free(pw);
	return ret;
}
