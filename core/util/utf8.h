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

/* s as UTF-8 text in out: copied as it is when s is well-formed UTF-8, else every byte read as ISO-8859-1
 * (0x80-0xFF become two bytes each): what an HTTP header value is when it is not UTF-8 (RFC 9110 5.5), and
 * what text stored as such bytes by earlier releases becomes. Returns the length written (out NUL-terminated),
 * or -1 when it does not fit in outlen (out is then ""); 2 * strlen(s) + 1 always fits. s and out must not be
 * NULL nor overlap. */
long ss_utf8_or_latin1(const char *s, char *out, size_t outlen);

/* As ss_utf8_or_latin1, into a malloc'd string the caller frees; NULL when out of memory. */
char *ss_utf8_or_latin1_dup(const char *s);

/* Does the UTF-8 text s hold a control character: C0 (U+0000-U+001F, tab and newline included), DEL (U+007F)
 * or C1 (U+0080-U+009F, CSI among them)? What a terminal may act on, in a label that has no use for it. */
bool ss_utf8_has_control(const char *s);

/* Replace each control character of the UTF-8 text s (as ss_utf8_has_control counts them) by one space, in
 * place (a C1 character's two bytes become one). */
void ss_utf8_fold_controls(char *s);

/* Shorten the UTF-8 text s in place, at a character boundary, to fewer than cap bytes (cap >= 1). */
void ss_utf8_clip(char *s, size_t cap);

#endif
