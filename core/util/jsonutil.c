#include "core/util/jsonutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

json_object *ss_json_double(double v)
{
	if (!isfinite(v))
		return NULL;
	return json_object_new_double(v);
}

static int add_value(json_object *obj, const char *key, json_object *val, int may_be_null)
{
	if (val == NULL && !may_be_null)
		return -1;
	if (json_object_object_add_ex(obj, key, val, JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

int ss_json_add_double_(json_object *obj, const char *key, double v)
{
	if (!isfinite(v))
		return add_value(obj, key, NULL, 1);
	return add_value(obj, key, json_object_new_double(v), 0);
}

json_object *ss_json_num(double v)
{
	if (!isfinite(v))
		return NULL;
	if (v == 0.0)
		v = 0.0; /* no "-0" */
	char buf[32];
	snprintf(buf, sizeof buf, "%.10g", v);
	return json_object_new_double_s(v, buf);
}

int ss_json_add_num_(json_object *obj, const char *key, double v)
{
	return add_value(obj, key, ss_json_num(v), !isfinite(v));
}

double ss_json_get_num(json_object *obj, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return NAN;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return NAN;
	return json_object_get_double(v);
}

const char *ss_json_get_str(json_object *obj, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int ss_json_add_string_(json_object *obj, const char *key, const char *s)
{
	if (s == NULL)
		return add_value(obj, key, NULL, 1);
	return add_value(obj, key, json_object_new_string(s), 0);
}

int ss_json_add_int_(json_object *obj, const char *key, long long v)
{
	return add_value(obj, key, json_object_new_int64(v), 0);
}

int ss_json_add_bool_(json_object *obj, const char *key, int v)
{
	return add_value(obj, key, json_object_new_boolean(v ? 1 : 0), 0);
}

bool ss_json_all_finite(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0, n = json_object_array_length(o); i < n; i++)
			if (!ss_json_all_finite(json_object_array_get_idx(o, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (!ss_json_all_finite(v))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

bool ss_json_has_nul_escape(const char *text, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (text[i] != '\\')
			continue;
		if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
			return true;
		i++; /* skip the escaped character (an escaped backslash included) */
	}
	return false;
}

json_object *ss_json_parse(const char *text, size_t len, int depth)
{
	if (len > (size_t)INT32_MAX || ss_json_has_nul_escape(text, len))
		return NULL;
	json_tokener *tok = json_tokener_new_ex(depth);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error err = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (root == NULL && err == json_tokener_continue) {
		/* Input ended inside a value: feed a terminator to learn whether it is complete (a bare number).
		 * All of text was consumed in that case. */
		root = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		end = len;
	}
	if (err != json_tokener_success || root == NULL) {
		json_object_put(root);
		root = NULL;
	} else {
		/* Only whitespace may follow the value. */
		for (size_t i = end; i < len; i++) {
			char c = text[i];
			if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				json_object_put(root);
				root = NULL;
				break;
			}
		}
	}
	json_tokener_free(tok);
	if (root != NULL && !ss_json_all_finite(root)) { /* json-c takes NaN and Infinity even when strict */
		json_object_put(root);
		root = NULL;
	}
	return root;
}

const char *ss_json_text(json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
