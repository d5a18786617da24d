/* Manual overrides from POST /verify, keyed by (namespace, source) so re-analysis never wipes them. */
#ifndef SS_STORE_OVERRIDES_H
#define SS_STORE_OVERRIDES_H

#include <stdbool.h>

#include "core/store/db.h"
#include "core/util/error.h"

/* Which fields to change: a field with set_* false keeps its stored value; set with NaN / NULL clears it. */
typedef struct ss_override_update {
	bool set_bpm;
	double bpm;        /* NaN clears */
	bool set_key;
	const char *key;   /* NULL clears; borrowed */
	bool set_notes;
	const char *notes; /* NULL clears; borrowed */
} ss_override_update;

/* Record an override for the cached song (ns, source) in one IMMEDIATE transaction. Returns 1 when stored,
 * 0 when no cached song has that source in ns (nothing written), -1 with err (SS_ERR_DB). */
int ss_override_set(ss_db *db, const char *ns, const char *source, const ss_override_update *u, ss_error *err);

/* Store an override taken over from another store for (ns, source), unless one exists (it is kept).
 * bpm NaN, key NULL, notes NULL mean "none"; verified_at is a SQLite time string (NULL = now). Must run
 * inside the caller's transaction. Returns 1 inserted, 0 already there, -1 with err (SS_ERR_DB). */
int ss_override_import(ss_db *db, const char *ns, const char *source, double bpm, const char *key, const char *notes,
		       const char *verified_at, ss_error *err);

#endif
