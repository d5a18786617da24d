/* Strict number parsing for untrusted text: whole string, no sign surprises, range checked. */
#ifndef SS_UTIL_STRNUM_H
#define SS_UTIL_STRNUM_H

#include <stdbool.h>
#include <stdint.h>

/* Parse a decimal integer in [min, max] from the whole of s: digits with an optional leading '-' (only when
 * min < 0); no whitespace and no '+'. Returns 0 and stores *out, or -1 when s is empty, malformed or out of
 * range (*out untouched). */
int ss_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parse an unsigned decimal (digits only) in [0, max]. Returns 0 or -1. */
int ss_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Parse a finite decimal floating-point number in [min, max] from the whole of s. Returns 0 or -1. */
int ss_parse_double(const char *s, double min, double max, double *out);

/* Parse a boolean: true|yes|on|1 and false|no|off|0 (case-insensitive). Returns 0 or -1. */
int ss_parse_bool(const char *s, bool *out);

#endif
