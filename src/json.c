/*
 * Jansson is used to judge and build JSON, never to re-encode a stored
 * value: values travel as the bytes the client sent.
 */
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <apr_lib.h>
#include <sys/uio.h>
#include "json.h"
#include "config.h"

/*
 * What arrived, in words that hold no part of the value: these messages
 * go to the error log, where session values never go.
 */
static const char *describe(const json_t *v, rs_type_e type)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER:
        return type == RS_TYPE_INT ? "an integer outside the int range"
                                   : "an integer";
    case JSON_REAL:    return "a non-integer number";
    case JSON_TRUE:    return "true";
    case JSON_FALSE:   return "false";
    case JSON_NULL:    return "null";
    }
    return "an unknown JSON value";
}

/* Jansson's reason without its " near '<text>'" quote of the input. */
static const char *json_reason(apr_pool_t *p, const json_error_t *e)
{
    const char *near = strstr(e->text, " near ");
    return near ? apr_pstrmemdup(p, e->text, (apr_size_t)(near - e->text))
                : apr_pstrdup(p, e->text);
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
    json_t *v;

    /* Valid JSON text has no raw NUL; Jansson would stop reading there. */
    if (memchr(json, '\0', len)) {
        return "invalid JSON (a raw NUL byte)";
    }
    v = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v && type != RS_TYPE_INT && type != RS_TYPE_LONG) {
        /* Integers beyond 64 bits are valid JSON (and a valid double). */
        v = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL
                       | JSON_DECODE_INT_AS_REAL, &err);
    }
    if (!v) {
        return apr_psprintf(p, "invalid JSON (%s at byte %d)",
                            json_reason(p, &err), err.position);
    }
    if (!fits(v, type, nullable)) {
        what = describe(v, type);
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

static void append_key(apr_pool_t *p, struct iovec *v, const rs_item_t *it)
{
    json_t *k = json_stringn(it->key, it->key_len);
    const char *text = k ? dump(p, k) : "\"\"";
    v->iov_base = (void *)text;
    v->iov_len = strlen(text);
}

const char *rs_json_session_object(apr_pool_t *p, const rs_state_t *st,
                                   int one_line)
{
    int i, n = st->items->nelts;
    struct iovec *v = apr_palloc(p, sizeof(*v) * (4 * (apr_size_t)n + 2));
    int k = 0;
    char *out, *c;

    v[k].iov_base = "{";
    v[k++].iov_len = 1;
    for (i = 0; i < n; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        append_key(p, &v[k++], it);
        v[k].iov_base = ":";
        v[k++].iov_len = 1;
        v[k].iov_base = (void *)(it->value_len ? it->value : "null");
        v[k++].iov_len = it->value_len ? it->value_len : 4;
        v[k].iov_base = i + 1 < n ? "," : "}";
        v[k++].iov_len = 1;
    }
    if (!n) {
        v[k].iov_base = "}";
        v[k++].iov_len = 1;
    }
    out = apr_pstrcatv(p, v, k, NULL);
    for (c = out; one_line && *c; c++) {
        if (*c == '\r' || *c == '\n' || *c == '\t') {
            *c = ' ';
        }
    }
    return out;
}

static const char *keys_of(apr_pool_t *p, json_t *arr, apr_array_header_t *to)
{
    size_t i;
    json_t *k;
    if (!json_is_array(arr)) {
        return "\"remove\" must be an array of key names";
    }
    json_array_foreach(arr, i, k) {
        rs_item_t *it;
        if (!json_is_string(k)) {
            return "\"remove\" must be an array of key names";
        }
        it = apr_array_push(to);
        it->key_len = json_string_length(k);
        it->key = apr_pstrmemdup(p, json_string_value(k), it->key_len);
        it->value = "";
        it->value_len = 0;
    }
    return NULL;
}

static const char *values_of(apr_pool_t *p, json_t *obj,
                             apr_array_header_t *to)
{
    const char *key;
    json_t *val;
    if (!json_is_object(obj)) {
        return "\"set\" must be an object of keys and values";
    }
    json_object_foreach(obj, key, val) {
        rs_item_t *it = apr_array_push(to);
        json_incref(val);
        it->key = apr_pstrdup(p, key);
        it->key_len = strlen(key);
        it->value = dump(p, val);
        it->value_len = strlen(it->value);
    }
    return NULL;
}

static const char *flag_of(json_t *v, int *out, const char *name)
{
    if (!json_is_boolean(v)) {
        return name;
    }
    *out = json_is_true(v);
    return NULL;
}

static const char *member(apr_pool_t *p, rs_update_t *u, const char *name,
                          json_t *v)
{
    if (!strcmp(name, "abandon")) {
        return flag_of(v, &u->abandon, "\"abandon\" must be true or false");
    }
    if (!strcmp(name, "clear")) {
        return flag_of(v, &u->clear, "\"clear\" must be true or false");
    }
    if (!strcmp(name, "remove")) {
        return keys_of(p, v, u->remove);
    }
    if (!strcmp(name, "set")) {
        return values_of(p, v, u->set);
    }
    if (!strcmp(name, "timeout")) {
        json_int_t t = json_is_integer(v) ? json_integer_value(v) : 0;
        if (t < 1 || t > RS_MAX_TIMEOUT) {
            return "\"timeout\" must be a whole number of minutes from 1 "
                   "to 525600";
        }
        u->timeout = (int)t;
        return NULL;
    }
    return apr_psprintf(p, "unknown member \"%s\"", name);
}

static const char *one_update(apr_pool_t *p, json_t *obj, rs_update_t *u)
{
    const char *name, *err = NULL;
    json_t *v;
    if (!json_is_object(obj)) {
        return "an update must be a JSON object";
    }
    u->remove = apr_array_make(p, 2, sizeof(rs_item_t));
    u->set = apr_array_make(p, 4, sizeof(rs_item_t));
    json_object_foreach(obj, name, v) {
        if ((err = member(p, u, name, v))) {
            break;
        }
    }
    return err;
}

const char *rs_json_parse_updates(apr_pool_t *p, const char *text,
                                  apr_array_header_t *out)
{
    apr_size_t len = strlen(text), at = 0;
    do {
        json_error_t e;
        json_t *obj = json_loadb(text + at, len - at,
                                 JSON_DISABLE_EOF_CHECK, &e);
        const char *err;
        if (!obj) {
            return apr_psprintf(p, "invalid JSON at byte %" APR_SIZE_T_FMT
                                ": %s", at + (apr_size_t)e.position,
                                json_reason(p, &e));
        }
        err = one_update(p, obj, apr_array_push(out));
        json_decref(obj);
        if (err) {
            return err;
        }
        at += (apr_size_t)e.position;
        while (at < len && (apr_isspace(text[at]) || text[at] == ',')) {
            at++;
        }
    } while (at < len);
    return NULL;
}
