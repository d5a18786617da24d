/* Mappings of files that another process may truncate (the shared state file, the counters file): a SIGBUS inside
 * a guarded range replaces the range with zero-filled private pages, so that the faulting access completes, and
 * raises its owner's flag, instead of killing the process. The owner then stops using the mapping and opens the
 * file again. */
#ifndef SS_UTIL_MAPGUARD_H
#define SS_UTIL_MAPGUARD_H

#include <signal.h>
#include <stddef.h>

/* Ranges one process can have guarded at once. */
#define SS_MAPGUARD_MAX 16

/* What *why says after a SIGBUS in a guarded range (static text). */
#define SS_MAPGUARD_WHY "the file was truncated under its mapping (SIGBUS)"

/* Guard [base, base + size) for owner: after a SIGBUS inside it the range holds zero pages, *why (when why is not
 * NULL) is SS_MAPGUARD_WHY and *broken is 1. The first call installs the process's SIGBUS handler, which hands a
 * SIGBUS outside every guarded range to the handler that was there before. Nothing is allocated. Returns 0, or -1
 * when SS_MAPGUARD_MAX ranges are guarded already (this one is then not guarded). */
int ss_mapguard_add(const void *owner, void *base, size_t size, volatile sig_atomic_t *broken, const char **why);

/* Stop guarding every range of owner (before unmapping it). An owner with no range is ignored. */
void ss_mapguard_remove(const void *owner);

#endif
