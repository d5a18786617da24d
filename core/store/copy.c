#include "core/store/copy.h"

#include <stdbool.h>

#include <stdlib.h>
#include <string.h>

#include "core/util/utf8.h"

typedef struct copy_run {
	ss_store *to;
	ss_store_copy_counts *n;
	ss_error *err;
	bool failed;
	/* old key id -> new key id, for the keys this run copied */
	int64_t (*ids)[2];
	size_t nids, capids;
	ss_usage_row batch[256];
	size_t nbatch;
} copy_run;

/* s as UTF-8 text for the target store in *out: s itself when it is well-formed (all that this release writes),
 * else a converted copy in *owned (read as ISO-8859-1: earlier releases stored an upload's title as the header's
 * bytes and a key's name as typed, which PostgreSQL refuses). NULL stays NULL. false when out of memory, after
 * setting x's error. */
static bool as_utf8(copy_run *x, const char *s, const char **out, char **owned)
{
	*owned = NULL;
	*out = s;
	if (s == NULL || ss_utf8_valid(s))
		return true;
	*owned = ss_utf8_or_latin1_dup(s);
	*out = *owned;
	if (*owned == NULL) {
		ss_error_set(x->err, SS_ERR_NOMEM, "out of memory");
		x->failed = true;
	}
	return *owned != NULL;
}

static int copy_song(void *arg, const ss_cache_row *r)
{
	copy_run *x = arg;
	const char *title, *artist;
	char *title_own = NULL, *artist_own = NULL;
	if (!as_utf8(x, r->title, &title, &title_own) || !as_utf8(x, r->artist, &artist, &artist_own)) {
		free(title_own);
		return 1;
	}
	ss_cache_write w = {
		.cache_key = r->cache_key, .ns = r->ns, .source_kind = r->source_kind, .source = r->source,
		.preview_url = r->preview_url, .title = title, .artist = artist, .bpm = r->bpm,
		.bpm_confidence = r->bpm_confidence, .key = r->key, .key_confidence = r->key_confidence, .energy = r->energy,
		.danceability = r->danceability, .acousticness = r->acousticness, .spectral_centroid = r->spectral_centroid,
		.time_signature = r->time_signature, .mood = r->mood, .valence = r->valence, .loudness = r->loudness,
		.dynamic_range = r->dynamic_range, .silence_ratio = r->silence_ratio,
		.analysis_duration = r->analysis_duration, .result_json = r->result_json != NULL ? r->result_json : "{}",
		.beats_json = r->beats_json, .analyzed_at = r->analyzed_at,
	};
	int rc = ss_store_cache_import(x->to, &w, x->err);
	free(title_own);
	free(artist_own);
	if (rc < 0) {
		x->failed = true;
		return 1;
	}
	if (rc > 0)
		x->n->songs++;
	else
		x->n->songs_present++;
	return 0;
}

static int copy_override(void *arg, const ss_override_row *o)
{
	copy_run *x = arg;
	const char *notes;
	char *notes_own;
	if (!as_utf8(x, o->notes, &notes, &notes_own))
		return 1;
	int rc = ss_store_override_import(x->to, o->ns, o->source, o->manual_bpm, o->manual_key, notes, o->verified_at,
					  x->err);
	free(notes_own);
	if (rc < 0) {
		x->failed = true;
		return 1;
	}
	if (rc > 0)
		x->n->overrides++;
	else
		x->n->overrides_present++;
	return 0;
}

static int copy_key(void *arg, const ss_key_record *k)
{
	copy_run *x = arg;
	const char *name, *email;
	char *name_own = NULL, *email_own = NULL;
	if (!as_utf8(x, k->name, &name, &name_own) || !as_utf8(x, k->email, &email, &email_own)) {
		free(name_own);
		return 1;
	}
	if (name_own != NULL) /* read as ISO-8859-1, the text may have grown past the limits */
		ss_utf8_clip(name_own, SS_KEY_NAME_MAX);
	if (email_own != NULL)
		ss_utf8_clip(email_own, SS_KEY_EMAIL_MAX);
	ss_key_import imp = {
		.name = name, .email = email[0] != '\0' ? email : NULL, .scope = k->scope, .active = k->active,
		.daily_limit = k->daily_limit, .rate_limit = k->rate_limit, .created_at = k->created_at,
	};
	int64_t id = 0;
	int rc = ss_store_key_import_hashed(x->to, k->hash, k->prefix, &imp, &id, x->err);
	free(name_own);
	free(email_own);
	if (rc < 0) {
		x->failed = true;
		return 1;
	}
	if (rc == 0) {
		x->n->keys_present++;
		return 0;
	}
	x->n->keys++;
	if (x->nids == x->capids) {
		size_t cap = x->capids ? 2 * x->capids : 64;
		int64_t(*p)[2] = realloc(x->ids, cap * sizeof *p);
		if (p == NULL) {
			ss_error_set(x->err, SS_ERR_NOMEM, "out of memory");
			x->failed = true;
			return 1;
		}
		x->ids = p;
		x->capids = cap;
	}
	x->ids[x->nids][0] = k->id;
	x->ids[x->nids][1] = id;
	x->nids++;
	return 0;
}

static int flush_usage(copy_run *x)
{
	if (x->nbatch == 0)
		return 0;
	if (ss_store_usage_write(x->to, x->batch, x->nbatch, 0, 0, x->err) != 0)
		return -1;
	x->n->usage_rows += (long long)x->nbatch;
	x->nbatch = 0;
	return 0;
}

static int copy_usage(void *arg, const ss_usage_row *r)
{
	copy_run *x = arg;
	for (size_t i = 0; i < x->nids; i++) {
		if (x->ids[i][0] != r->key_id)
			continue;
		x->batch[x->nbatch] = *r;
		x->batch[x->nbatch].key_id = x->ids[i][1];
		if (++x->nbatch == sizeof x->batch / sizeof x->batch[0] && flush_usage(x) != 0) {
			x->failed = true;
			return 1;
		}
		break;
	}
	return 0;
}

int ss_store_copy(ss_store *from, ss_store *to, int64_t usage_from_s, ss_store_copy_counts *out, ss_error *err)
{
	memset(out, 0, sizeof *out);
	copy_run x = {.to = to, .n = out, .err = err};
	if (ss_store_bulk_begin(to, err) != 0)
		return -1;
	if (ss_store_key_list(from, copy_key, &x, err) < 0 ||
	    ss_store_cache_export(from, NULL, SS_CACHE_ROW_BEATS, NULL, copy_song, &x, err) < 0 ||
	    ss_store_override_list(from, copy_override, &x, err) < 0 || ss_store_bulk_commit(to, err) != 0) {
		ss_store_bulk_rollback(to);
		free(x.ids);
		memset(out, 0, sizeof *out);
		return -1;
	}
	/* Usage rows after the commit: writes of their own (one transaction per batch). */
	int rc = 0;
	if (x.nids > 0 && (ss_store_usage_rows(from, usage_from_s, copy_usage, &x, err) < 0 || flush_usage(&x) != 0))
		rc = -1;
	free(x.ids);
	return rc;
}
