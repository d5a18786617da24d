#include "core/util/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)

static bool use_huge; /* set before threads exist, read-only after */

void ss_bigmem_use_huge_pages(bool on)
{
	use_huge = on;
}

void *ss_bigmem_alloc(size_t n)
{
	if (n == 0)
		return NULL;
	if (!use_huge || n < SS_BIGMEM_MIN)
		return malloc(n);
	/* whole huge pages: the block is rounded up to the next 2 MiB (the rest is never touched by the caller, but
	 * the huge page holding the last bytes is faulted in whole) */
	if (n > SIZE_MAX - HUGE_PAGE)
		return NULL;
	size_t whole = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	void *p = NULL;
	if (posix_memalign(&p, HUGE_PAGE, whole) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, whole, MADV_HUGEPAGE);
#endif
	return p;
}

void ss_bigmem_prefault(const void *p, size_t n)
{
#ifdef MADV_POPULATE_READ
	long ps = sysconf(_SC_PAGESIZE);
	uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096;
	uintptr_t a = (uintptr_t)p / page * page;
	if (n > 0)
		(void)madvise((void *)a, (uintptr_t)p + n - a, MADV_POPULATE_READ);
#else
	(void)p;
	(void)n;
#endif
}
