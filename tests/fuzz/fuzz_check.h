/* Assertions shared by the fuzz targets: a failed check prints what broke and aborts, which libFuzzer reports
 * as a finding with the input that caused it. */
#ifndef SS_FUZZ_CHECK_H
#define SS_FUZZ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Abort with "FUZZ-ASSERT file:line: cond (what)" unless cond holds. */
#define FZ_ASSERT(cond, what)                                                                                     \
	do {                                                                                                      \
		if (!(cond))                                                                                      \
			fz_fail(__FILE__, __LINE__, #cond, (what));                                               \
	} while (0)

void fz_fail(const char *file, int line, const char *cond, const char *what) __attribute__((noreturn));

/* Is s[0..len) valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF)? Written apart from
 * core/util/utf8.c on purpose: it is the oracle for the code that uses that one. */
bool fz_utf8_valid(const char *s, size_t len);

/* Parse s[0..len) as one complete JSON text (strict, trailing whitespace allowed). Returns the value (caller
 * puts it) or NULL when it is not JSON. JSON null also returns NULL: check with fz_is_json_null. */
json_object *fz_json_parse(const char *s, size_t len);

/* Is s[0..len) exactly the JSON text "null" (with optional surrounding whitespace)? */
bool fz_is_json_null(const char *s, size_t len);

/* Copy data[0..len) into a new NUL-terminated string (bytes after an embedded NUL are kept but invisible to
 * C string functions). Aborts on ENOMEM. Caller frees. */
char *fz_strndup(const void *data, size_t len);

/* Split fuzz input into n C strings at each of the first n-1 occurrences of sep (the last part takes the rest).
 * out[i] are new strings (free with fz_free_parts); missing parts are "". */
void fz_split(const uint8_t *data, size_t size, char sep, char **out, size_t n);
void fz_free_parts(char **parts, size_t n);

#endif
