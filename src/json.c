/*
 * Jansson is used to judge and build JSON, never to re-encode a stored
 * value: values travel as the bytes the client sent.
 */
#include <apr_strings.h>
#include <stdlib.h>
#include <jansson.h>
#include "json.h"

static const char *describe(apr_pool_t *p, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER:
        return apr_psprintf(p, "the integer %" JSON_INTEGER_FORMAT,
                            json_integer_value(v));
    case JSON_REAL:    return "a non-integer number";
    case JSON_TRUE:    return "true";
    case JSON_FALSE:   return "false";
    case JSON_NULL:    return "null";
    }
    return "an unknown JSON value";
}

static int fits(const json_t *v, rs_type_e type, int nullable)
{
    json_int_t i;
    if (json_is_null(v)) {
        return nullable;
    }
    switch (type) {
    case RS_TYPE_STRING: return json_is_string(v);
    case RS_TYPE_BOOL:   return json_is_boolean(v);
    case RS_TYPE_DOUBLE: return json_is_number(v);
    case RS_TYPE_OBJECT: return json_is_object(v);
    case RS_TYPE_ARRAY:  return json_is_array(v);
    case RS_TYPE_JSON:   return 1;
    case RS_TYPE_LONG:   return json_is_integer(v);
    case RS_TYPE_INT:
        if (!json_is_integer(v)) {
            return 0;
        }
        i = json_integer_value(v);
        return i >= -2147483647LL - 1 && i <= 2147483647LL;
    }
    return 0;
}

const char *rs_json_check(apr_pool_t *p, const char *json, apr_size_t len,
                          rs_type_e type, int nullable)
{
    json_error_t err;
    const char *what = NULL;
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY, &err);

    if (!v) {
        /* Jansson refuses integers beyond 64 bits: out of range, not junk. */
        return apr_psprintf(p, "invalid JSON (%s)", err.text);
    }
    if (!fits(v, type, nullable)) {
        what = describe(p, v);
    }
    json_decref(v);
    return what;
}

/* Copies Jansson's malloc'ed text into the pool and frees both. */
static const char *dump(apr_pool_t *p, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *out = text ? apr_pstrdup(p, text) : NULL;
    free(text);
    json_decref(v);
    return out;
}

const char *rs_json_result(apr_pool_t *p, const char *msg)
{
    if (!msg) {
        return dump(p, json_pack("{s:b}", "s", 1));
    }
    return dump(p, json_pack("{s:b,s:s}", "s", 0, "m", msg));
}
