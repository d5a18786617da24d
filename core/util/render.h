/* Writing JSON and CSV text directly into a buffer: the hot path splices stored JSON instead of rebuilding it. */
#ifndef SS_UTIL_RENDER_H
#define SS_UTIL_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util/buf.h"

/* Append s as a JSON string literal (quotes included; control characters, '"' and '\\' escaped; bytes
 * >= 0x80 copied as they are, invalid UTF-8 replaced by U+FFFD). NULL appends null. Returns 0 or -1 (cap/ENOMEM). */
int ss_render_json_str(ss_buf *b, const char *s);

/* Append a finite number with up to 10 significant digits, or null for NaN/Inf. Returns 0 or -1. */
int ss_render_json_num(ss_buf *b, double v);

/* Append one CSV cell (RFC 4180: quoted when it holds a comma, quote, CR or LF). Text cells (text = true)
 * starting with = + - @, tab, CR or LF (OWASP's list) are prefixed with a single quote so spreadsheets do not run them as
 * formulas. NULL appends an empty cell. Returns 0 or -1. */
int ss_render_csv_cell(ss_buf *b, const char *s, bool text);

/* Append a CSV number cell: empty for NaN/Inf, else printf "%.*f" with `decimals`. Returns 0 or -1. */
int ss_render_csv_num(ss_buf *b, double v, int decimals);

#endif
