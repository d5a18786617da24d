/* UTF-8 well-formedness (RFC 3629): the one decoder the JSON renderer, the error messages and the checks of
 * request text share. */
#ifndef SS_UTIL_UTF8_H
#define SS_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence that starts at p, or 0 when the bytes there are not one
 * (a stray continuation byte, an overlong form, a surrogate, a code point above U+10FFFF, or a sequence cut
 * short, including by the terminating NUL). p points at a NUL-terminated string and is not NUL itself. */
size_t ss_utf8_seq_len(const char *p);

/* True when the NUL-terminated s is well-formed UTF-8 throughout. s must not be NULL. */
bool ss_utf8_valid(const char *s);

#endif
