/* Error codes shared by every module: a code plus a one-sentence message, never printed by library code. */
#ifndef SS_UTIL_ERROR_H
#define SS_UTIL_ERROR_H

#include <stdarg.h>

/* Each code maps to one API error name and HTTP status (see API.md). */
typedef enum ss_code {
	SS_OK = 0,
	SS_ERR_BAD_REQUEST,       /* bad_request 400 */
	SS_ERR_NOT_FOUND,         /* not_found 404 */
	SS_ERR_TOO_LARGE,         /* payload_too_large 413 */
	SS_ERR_UNSUPPORTED_MEDIA, /* unsupported_media_type 415 */
	SS_ERR_UNPROCESSABLE,     /* unprocessable_audio 422 */
	SS_ERR_FORBIDDEN,         /* forbidden 403 */
	SS_ERR_FORBIDDEN_URL,     /* forbidden_url 403 */
	SS_ERR_DOWNLOAD,          /* download_failed 502 */
	SS_ERR_BUSY,              /* busy 503 */
	SS_ERR_TIMEOUT,           /* timeout 504 */
	SS_ERR_NOMEM,             /* internal 500 */
	SS_ERR_IO,                /* internal 500 */
	SS_ERR_DB,                /* internal 500 */
	SS_ERR_CONFIG,            /* internal 500 (config errors are reported at start) */
	SS_ERR_INTERNAL,          /* internal 500 */
	SS_ERR_MISSING_KEY,       /* missing_api_key 401 */
	SS_ERR_INVALID_KEY,       /* invalid_api_key 403 */
	SS_ERR_RATE_LIMITED,      /* rate_limited 429 */
	SS_ERR_DAILY_LIMIT,       /* daily_limit_exceeded 429 */
	SS_ERR_METHOD,            /* method_not_allowed 405 */
	SS_ERR_NOT_IMPLEMENTED,   /* not_implemented 501 */
	SS_ERR_UNAVAILABLE,       /* unavailable 503 (database or state file unusable) */
	SS_ERR_STORAGE_FULL,      /* insufficient_storage 507 (the database's file system is full) */
	SS_ERR_READ_ONLY,         /* read_only 503 (the database cannot be written) */
	SS_CODE_COUNT
} ss_code;

#define SS_ERROR_MSG_MAX 256

typedef struct ss_error {
	ss_code code;
	char msg[SS_ERROR_MSG_MAX];
} ss_error;

/* Record code and a printf-style message in *e (e may be NULL). Returns -1 so callers can `return ss_error_set(...)`. */
int ss_error_set(ss_error *e, ss_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset *e to SS_OK with an empty message. */
void ss_error_clear(ss_error *e);

/* API error name for a code, e.g. "bad_request"; static string. */
const char *ss_code_name(ss_code code);

/* HTTP status for a code, e.g. 400. */
int ss_code_http_status(ss_code code);

#endif
