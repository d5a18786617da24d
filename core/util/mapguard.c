#include "core/util/mapguard.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

static struct {
	_Atomic(char *) base;
	_Atomic size_t size;
	_Atomic(const void *) owner;
	volatile sig_atomic_t *_Atomic broken;
	const char **_Atomic why;
} ranges[SS_MAPGUARD_MAX];
static struct sigaction previous;
static atomic_bool installed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char *a = si->si_addr;
	for (unsigned i = 0; i < SS_MAPGUARD_MAX; i++) {
		char *base = atomic_load(&ranges[i].base);
		size_t size = atomic_load(&ranges[i].size);
		volatile sig_atomic_t *broken = atomic_load(&ranges[i].broken);
		if (base == NULL || broken == NULL || a < base || a >= base + size)
			continue;
		/* Anonymous zero pages over the whole range: the access completes, the owner sees the flag. */
		if (mmap(base, size, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
			break;
		const char **why = atomic_load(&ranges[i].why);
		if (why != NULL)
			*why = SS_MAPGUARD_WHY;
		*broken = 1;
		return;
	}
	/* Not ours: what would have happened without this handler. A fault repeats on return; a SIGBUS sent by
	 * kill() must be raised again. */
	sigaction(SIGBUS, &previous, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

int ss_mapguard_add(const void *owner, void *base, size_t size, volatile sig_atomic_t *broken, const char **why)
{
	assert(owner != NULL && base != NULL && size > 0 && broken != NULL);
	bool expect = false;
	if (atomic_compare_exchange_strong(&installed, &expect, true)) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, &previous);
	}
	for (unsigned i = 0; i < SS_MAPGUARD_MAX; i++) {
		const void *none = NULL;
		if (atomic_compare_exchange_strong(&ranges[i].owner, &none, owner)) {
			atomic_store(&ranges[i].size, size);
			atomic_store(&ranges[i].why, why);
			atomic_store(&ranges[i].broken, broken);
			atomic_store(&ranges[i].base, (char *)base); /* last: the handler reads a range once base is set */
			return 0;
		}
	}
	return -1;
}

void ss_mapguard_remove(const void *owner)
{
	for (unsigned i = 0; i < SS_MAPGUARD_MAX; i++)
		if (atomic_load(&ranges[i].owner) == owner) {
			atomic_store(&ranges[i].base, NULL);
			atomic_store(&ranges[i].broken, NULL);
			atomic_store(&ranges[i].owner, NULL);
		}
}
