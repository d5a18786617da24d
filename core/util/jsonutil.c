#include "core/util/jsonutil.h"

#include <math.h>
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
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

int ss_json_add_double(json_object *obj, const char *key, double v)
{
	if (!isfinite(v))
		return add_value(obj, key, NULL, 1);
	return add_value(obj, key, json_object_new_double(v), 0);
}

int ss_json_add_string(json_object *obj, const char *key, const char *s)
{
	if (s == NULL)
		return add_value(obj, key, NULL, 1);
	return add_value(obj, key, json_object_new_string(s), 0);
}

int ss_json_add_int(json_object *obj, const char *key, long long v)
{
	return add_value(obj, key, json_object_new_int64(v), 0);
}

int ss_json_add_bool(json_object *obj, const char *key, int v)
{
	return add_value(obj, key, json_object_new_boolean(v ? 1 : 0), 0);
}

json_object *ss_json_parse(const char *text, size_t len, int depth)
{
	if (len > (size_t)INT32_MAX)
		return NULL;
	json_tokener *tok = json_tokener_new_ex(depth);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error err = json_tokener_get_error(tok);
	if (root == NULL && err == json_tokener_continue) {
		/* Input ended inside a value: feed the terminator to learn whether it is complete (numbers). */
		root = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
	}
	if (err != json_tokener_success || (root == NULL && len == 0)) {
		json_object_put(root);
		root = NULL;
	} else if (json_tokener_get_parse_end(tok) < len) {
		/* Only whitespace may follow the value. */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
			char c = text[i];
			if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				json_object_put(root);
				root = NULL;
				break;
			}
		}
	}
	json_tokener_free(tok);
	return root;
}

const char *ss_json_text(json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
