/* songscope-analyze --jobs: a fixed pool of forked worker processes that each run one numbered job at a time,
 * with the results handed back in job order. Processes, not threads: the analysis keeps process-wide buffers
 * (ss_analysis_process_init), and a worker that crashes takes only its own job down. */
#ifndef SS_TOOLS_POOL_H
#define SS_TOOLS_POOL_H

#include <stdbool.h>
#include <stddef.h>

/* Runs in a worker process: do job i and put its result, len bytes of text (malloc'd, any bytes), in *text,
 * and whether the job failed in *failed. Returns 0, or -1 when no result can be made (out of memory): the
 * worker then exits with status 1 and the job is reported as lost. ctx is the pointer given to
 * tool_pool_run, as it was when the worker was forked. */
typedef int (*tool_pool_work_fn)(size_t i, void *ctx, char **text, size_t *len, bool *failed);

/* Runs in the parent once per job, in job order (0, 1, 2, ...). text/len/failed as the worker gave them
 * (text is freed after the call); or, when the worker died during job i, text is NULL, failed true and
 * wstatus the worker's status from waitpid. Returns 0, or -1 to stop the run (e.g. stdout cannot be written). */
typedef int (*tool_pool_emit_fn)(size_t i, const char *text, size_t len, bool failed, int wstatus, void *ctx);

/* Runs in the parent each time a job finishes, in the order they finish: done jobs so far, failed among them. */
typedef void (*tool_pool_progress_fn)(size_t done, size_t failed, void *ctx);

typedef struct tool_pool_opts {
	unsigned jobs;  /* worker processes, at least 1 (fewer are started when there are fewer jobs) */
	size_t window;  /* at most this many jobs past the oldest unemitted one are started: bounds the results
			 * held for ordering; at least jobs */
	tool_pool_work_fn work;
	tool_pool_emit_fn emit;
	tool_pool_progress_fn progress; /* may be NULL */
	void *ctx;
} tool_pool_opts;

/* Run jobs 0..n-1 on o->jobs workers; each worker is forked on first need and replaced when it dies, and the
 * job it was running is emitted as lost, so no other job is lost with it. Standard output is flushed before
 * every fork; workers never write to it. Returns 0 when every job was emitted; -1 when emit stopped the run
 * or no worker could be started (fork, socketpair fail), with a reason in why (why[0] is '\0' when emit
 * stopped it); the workers still running a job are then killed (SIGKILL). Every worker has exited and been
 * reaped when this returns. */
int tool_pool_run(size_t n, const tool_pool_opts *o, char *why, size_t whylen);

#endif
