/* POST /verify: manual BPM/key/notes for a cached song, identified by URL or content SHA-256 in a namespace.
 * Overrides live in their own table, survive re-analysis and appear in every answer for the song. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/analysis/result.h"
#include "core/store/cache.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "fcgi/handlers.h"
#include "fcgi/response.h"

#define VERIFY_BODY_CAP (64 * 1024)
#define NOTES_MAX 1000

int ss_handle_verify(ss_ctx *ctx, ss_request *req)
{
	ss_error err;
	ss_error_clear(&err);
	int rc;
	json_object *v;
	json_object *o = ss_h_read_json(
		ctx, req, VERIFY_BODY_CAP, json_type_object,
		"Send a JSON object: {\"url\" or \"content_sha256\", \"manual_bpm\", \"manual_key\", \"bpm_notes\"}.", &rc);
	if (o == NULL)
		return rc;
	const char *url = NULL, *sha = NULL, *ns_in = NULL;
	if (json_object_object_get_ex(o, "url", &v) && json_object_is_type(v, json_type_string))
		url = json_object_get_string(v);
	if (json_object_object_get_ex(o, "content_sha256", &v) && json_object_is_type(v, json_type_string))
		sha = json_object_get_string(v);
	if ((json_object_object_get_ex(o, "namespace", &v) || json_object_object_get_ex(o, "cache_namespace", &v)) &&
	    json_object_is_type(v, json_type_string))
		ns_in = json_object_get_string(v);
	if ((url == NULL || url[0] == '\0') == (sha == NULL || sha[0] == '\0')) {
		rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "Send exactly one of 'url' and 'content_sha256'.");
		goto done;
	}
	char source[SS_SHA256_HEX];
	if (sha != NULL && sha[0] != '\0') {
		if (!ss_sha256_hex_valid(sha)) {
			rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "content_sha256 must be 64 hexadecimal digits.");
			goto done;
		}
		for (int i = 0; i < 64; i++)
			source[i] = (char)(sha[i] >= 'A' && sha[i] <= 'F' ? sha[i] - 'A' + 'a' : sha[i]);
		source[64] = '\0';
	}
	char ns[SS_NAMESPACE_MAX + 1];
	if (ss_h_namespace(req, ns_in, "default", false, ns, NULL) != 0)
		goto done;

	ss_override_update u = {0};
	char keyname[16];
	if (json_object_object_get_ex(o, "manual_bpm", &v)) {
		u.set_bpm = true;
		u.bpm = NAN;
		if (v != NULL) {
			if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
				rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "manual_bpm must be a number or null.");
				goto done;
			}
			u.bpm = json_object_get_double(v);
			if (!(u.bpm > 0 && u.bpm <= 1000)) {
				rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "manual_bpm must be above 0 and at most 1000 (BPM), or null.");
				goto done;
			}
		}
	}
	if (json_object_object_get_ex(o, "manual_key", &v)) {
		u.set_key = true;
		if (v != NULL) {
			int ki, mode;
			if (!json_object_is_type(v, json_type_string) || ss_key_parse(json_object_get_string(v), &ki, &mode) != 0) {
				rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "manual_key must be a key like \"C# Minor\" or null.");
				goto done;
			}
			u.key = ss_key_name(ki, mode, keyname, sizeof keyname);
		}
	}
	if (json_object_object_get_ex(o, "bpm_notes", &v)) {
		u.set_notes = true;
		if (v != NULL) {
			if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > NOTES_MAX) {
				rc = ss_resp_error(req, SS_ERR_BAD_REQUEST, "bpm_notes must be a string of at most %d bytes or null.",
						   NOTES_MAX);
				goto done;
			}
			u.notes = json_object_get_string(v);
		}
	}
	if (ss_h_need_db(ctx, req))
		goto done;
	const char *src = url != NULL && url[0] != '\0' ? url : source;
	int s = ss_store_override_set(ctx->store, ns, src, &u, &err);
	if (s < 0) {
		rc = ss_h_store_failed(req, "verify", &err);
		goto done;
	}
	if (s == 0) {
		rc = ss_resp_error(req, SS_ERR_NOT_FOUND, "No cached song with that %s in namespace '%s'.",
				   url != NULL && url[0] != '\0' ? "URL" : "content hash", ns);
		goto done;
	}
	json_object *r = json_object_new_object();
	if (r == NULL || ss_json_add_bool(r, "success", 1) || ss_json_add_string(r, "status", "verified") ||
	    ss_json_add_string(r, "message", "Song verified and updated") || ss_json_add_string(r, "namespace", ns) ||
	    ss_json_add_string(r, "source", src)) {
		json_object_put(r);
		rc = ss_resp_error(req, SS_ERR_NOMEM, "Out of memory.");
		goto done;
	}
	rc = ss_resp_json(req, 200, r);
	json_object_put(r);
done:
	json_object_put(o);
	return rc;
}
