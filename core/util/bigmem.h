/* Large buffers filled once per analysis: fewer page faults. A fresh process (songscope-analyze on one file) faults
 * in every page of its buffers one 4 KiB page at a time, a few thousand traps per 30 s clip; a transparent huge page
 * takes one fault per 2 MiB. Only the page faults change: the bytes are what malloc would give. */
#ifndef SS_UTIL_BIGMEM_H
#define SS_UTIL_BIGMEM_H

#include <stddef.h>

/* Bytes from which ss_bigmem_alloc aligns to 2 MiB and asks for huge pages; below, it is plain malloc. */
#define SS_BIGMEM_MIN ((size_t)1 << 20)

/* Allocate n bytes (uninitialised) like malloc; free with free(). From SS_BIGMEM_MIN bytes on the block is 2 MiB
 * aligned, rounded up to whole 2 MiB, and the kernel is advised (madvise MADV_HUGEPAGE, Linux; a hint that may be
 * ignored) to back it with huge pages: the resident size grows by less than 2 MiB per block at most. Returns NULL
 * when memory runs out or n is 0. */
void *ss_bigmem_alloc(size_t n);

/* Ask the kernel to map the pages of [p, p + n) (a read-only file mapping) now, in one call, instead of at the first
 * read of each page (madvise MADV_POPULATE_READ, Linux 5.14 and later). A hint: errors are ignored. */
void ss_bigmem_prefault(const void *p, size_t n);

#endif
