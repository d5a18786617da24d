/* A growable byte buffer with an explicit size cap: the one building block for bodies, JSON and downloads. */
#ifndef SS_UTIL_BUF_H
#define SS_UTIL_BUF_H

#include <stddef.h>

typedef struct ss_buf {
	char *data;   /* always NUL-terminated when non-NULL (the NUL is not counted in len) */
	size_t len;   /* bytes in use */
	size_t cap;   /* bytes allocated (excluding the terminator slot) */
	size_t limit; /* growth beyond this many bytes fails; 0 = no limit */
} ss_buf;

/* Initialise an empty buffer that may grow to at most `limit` bytes (0 = unlimited). Allocates nothing. */
void ss_buf_init(ss_buf *b, size_t limit);

/* Ensure room for `extra` more bytes. Returns 0, or -1 when the limit would be exceeded or on ENOMEM
 * (errno is set to EFBIG or ENOMEM). The buffer is unchanged on failure. */
int ss_buf_reserve(ss_buf *b, size_t extra);

/* Append n bytes. Returns 0 or -1 as ss_buf_reserve. */
int ss_buf_append(ss_buf *b, const void *p, size_t n);

/* Append a NUL-terminated string. Returns 0 or -1. */
int ss_buf_puts(ss_buf *b, const char *s);

/* Append printf-formatted text. Returns 0 or -1. */
int ss_buf_printf(ss_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drop the contents but keep the allocation. */
void ss_buf_reset(ss_buf *b);

/* Free the allocation; the buffer is empty and reusable afterwards. */
void ss_buf_free(ss_buf *b);

/* Hand the data to the caller (who must free() it) and leave the buffer empty. May return NULL if empty. */
char *ss_buf_steal(ss_buf *b, size_t *len);

#endif
