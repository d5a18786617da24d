#include "core/util/error.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int status;
} code_table[SS_CODE_COUNT] = {
	[SS_OK] = {"ok", 200},
	[SS_ERR_BAD_REQUEST] = {"bad_request", 400},
	[SS_ERR_NOT_FOUND] = {"not_found", 404},
	[SS_ERR_TOO_LARGE] = {"payload_too_large", 413},
	[SS_ERR_UNSUPPORTED_MEDIA] = {"unsupported_media_type", 415},
	[SS_ERR_UNPROCESSABLE] = {"unprocessable_audio", 422},
	[SS_ERR_FORBIDDEN] = {"forbidden", 403},
	[SS_ERR_FORBIDDEN_URL] = {"forbidden_url", 403},
	[SS_ERR_DOWNLOAD] = {"download_failed", 502},
	[SS_ERR_BUSY] = {"busy", 503},
	[SS_ERR_TIMEOUT] = {"timeout", 504},
	[SS_ERR_NOMEM] = {"internal", 500},
	[SS_ERR_IO] = {"internal", 500},
	[SS_ERR_DB] = {"internal", 500},
	[SS_ERR_CONFIG] = {"internal", 500},
	[SS_ERR_INTERNAL] = {"internal", 500},
	[SS_ERR_MISSING_KEY] = {"missing_api_key", 401},
	[SS_ERR_INVALID_KEY] = {"invalid_api_key", 403},
	[SS_ERR_RATE_LIMITED] = {"rate_limited", 429},
	[SS_ERR_DAILY_LIMIT] = {"daily_limit_exceeded", 429},
	[SS_ERR_METHOD] = {"method_not_allowed", 405},
	[SS_ERR_NOT_IMPLEMENTED] = {"not_implemented", 501},
	[SS_ERR_UNAVAILABLE] = {"unavailable", 503},
	[SS_ERR_STORAGE_FULL] = {"insufficient_storage", 507},
	[SS_ERR_READ_ONLY] = {"read_only", 503},
};

int ss_error_set(ss_error *e, ss_code code, const char *fmt, ...)
{
	if (e != NULL) {
		va_list ap;
		e->code = code;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void ss_error_clear(ss_error *e)
{
	if (e != NULL) {
		e->code = SS_OK;
		e->msg[0] = '\0';
	}
}

const char *ss_code_name(ss_code code)
{
	if ((unsigned)code >= SS_CODE_COUNT)
		return "internal";
	return code_table[code].name;
}

int ss_code_http_status(ss_code code)
{
	if ((unsigned)code >= SS_CODE_COUNT)
		return 500;
	return code_table[code].status;
}
