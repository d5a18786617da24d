/* json-c helpers: finite numbers only (NaN/Inf become null), and safe parsing of untrusted JSON. */
#ifndef SS_UTIL_JSONUTIL_H
#define SS_UTIL_JSONUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* A new json double, or NULL (JSON null) when v is NaN or infinite. Caller owns the result. */
json_object *ss_json_double(double v);

/* The ss_json_add_* adders take key as a string literal, which obj keeps without a copy
 * (JSON_C_OBJECT_ADD_CONSTANT_KEY): one allocation fewer per member, and none that can fail after the value
 * is in (json-c 0.16 leaks its copy of a key when its table cannot grow). Each is a macro that accepts nothing
 * but a literal; the functions behind them (name_) take any key that outlives obj. */

/* Add key: ss_json_double(v) to obj (ownership of the new value passes to obj). Returns 0 or -1 on ENOMEM. */
int ss_json_add_double_(json_object *obj, const char *key, double v);
#define ss_json_add_double(obj, key, v) ss_json_add_double_((obj), "" key "", (v))

/* A new json number printed with at most 10 significant digits (the analysis rounds every value to its
 * meaningful precision, so 100.01 prints as 100.01, not 100.01000000000001; no "-0"), or NULL (JSON null) when
 * v is NaN or infinite. Caller owns the result. */
json_object *ss_json_num(double v);

/* Add key: ss_json_num(v) to obj. Returns 0 or -1 on ENOMEM. */
int ss_json_add_num_(json_object *obj, const char *key, double v);
#define ss_json_add_num(obj, key, v) ss_json_add_num_((obj), "" key "", (v))

/* Member key of object obj as a number (an integer or a double): NaN when obj is not an object, or the member
 * is absent, null or of another type. */
double ss_json_get_num(json_object *obj, const char *key);

/* Member key of object obj when it is a string (owned by obj), else NULL. */
const char *ss_json_get_str(json_object *obj, const char *key);

/* Add key: string s (NULL → null). Returns 0 or -1. */
int ss_json_add_string_(json_object *obj, const char *key, const char *s);
#define ss_json_add_string(obj, key, s) ss_json_add_string_((obj), "" key "", (s))

/* Add key: integer. Returns 0 or -1. */
int ss_json_add_int_(json_object *obj, const char *key, long long v);
#define ss_json_add_int(obj, key, v) ss_json_add_int_((obj), "" key "", (v))

/* Add key: bool. Returns 0 or -1. */
int ss_json_add_bool_(json_object *obj, const char *key, int v);
#define ss_json_add_bool(obj, key, v) ss_json_add_bool_((obj), "" key "", (v))

/* Does JSON text (len bytes) contain a \u0000 escape, i.e. a string or member name with an embedded NUL?
 * An escaped backslash followed by "u0000" is not one. Only meaningful for text that is otherwise valid JSON
 * (outside strings a backslash is a syntax error anyway). */
bool ss_json_has_nul_escape(const char *text, size_t len);

/* Parse untrusted JSON text of exactly len bytes in strict mode with a nesting limit of `depth`.
 * Returns the root (caller owns it; json_object_put) or NULL on any syntax error, trailing garbage or a
 * \u0000 escape anywhere (json-c's C strings would silently end there): every string and member name in
 * the result is a whole C string (json_object_get_string_len == strlen). */
json_object *ss_json_parse(const char *text, size_t len, int depth);

/* Is every number in o (and in its members and elements, recursively) finite? JSON has no NaN or Infinity. */
bool ss_json_all_finite(json_object *o);

/* Serialise compactly without escaping '/'. The string belongs to obj (valid until json_object_put). */
const char *ss_json_text(json_object *obj, size_t *len);

#endif
