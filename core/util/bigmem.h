/* Large buffers filled once per analysis: fewer page faults. A fresh process (songscope-analyze on one file) faults
 * in every page of its buffers one 4 KiB page at a time, a few thousand traps per 30 s clip; a transparent huge page
 * takes one fault per 2 MiB. Only the page faults change: the bytes are what malloc would give. */
#ifndef SS_UTIL_BIGMEM_H
#define SS_UTIL_BIGMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes from which ss_bigmem_alloc aligns to 2 MiB and asks for huge pages (when on); below, it is plain malloc. */
#define SS_BIGMEM_MIN ((size_t)1 << 20)

/* Whether ss_bigmem_alloc asks for huge pages in this process (default: no, it is plain malloc). A process that
 * analyses a file or a few and exits (songscope-analyze) turns it on: its buffers are fresh pages. A long-lived
 * responder leaves it off: it reuses its heap between requests, where a huge-page block (mapped on its own, 2 MiB
 * rounded) would be zeroed again each time and cost resident memory. Call before other threads exist. */
void ss_bigmem_use_huge_pages(bool on);

/* Allocate n bytes (uninitialised) like malloc; free with free(). With huge pages on and from SS_BIGMEM_MIN bytes,
 * the block is 2 MiB aligned, rounded up to whole 2 MiB, and the kernel is advised (madvise MADV_HUGEPAGE, Linux;
 * a hint that may be ignored) to back it with huge pages: the resident size grows by less than 2 MiB per block at
 * most. Returns NULL when memory runs out or n is 0. */
void *ss_bigmem_alloc(size_t n);

/* Ask the kernel to map the pages of [p, p + n) (a read-only file mapping) now, in one call, instead of at the first
 * read of each page (madvise MADV_POPULATE_READ, Linux 5.14 and later). A hint: errors are ignored. */
void ss_bigmem_prefault(const void *p, size_t n);

#endif
