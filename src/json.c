/*
 * Jansson is used to judge and build JSON, never to re-encode a stored
 * value: values travel as the bytes the client sent.
 */
#include <apr_strings.h>
#include <apr_escape.h>
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

const char *rs_json_session_object(apr_pool_t *p, const rs_state_t *st)
{
    int i, n = st->items->nelts;
    struct iovec *v = apr_palloc(p, sizeof(*v) * (4 * (apr_size_t)n + 2));
    int k = 0;

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
    return apr_pstrcatv(p, v, k, NULL);
}

const char *rs_json_one_line(apr_pool_t *p, const char *json)
{
    char *out, *c;
    if (!strpbrk(json, "\r\n\t")) {
        return json;
    }
    out = apr_pstrdup(p, json);
    for (c = out; (c = strpbrk(c, "\r\n\t")); c++) {
        *c = ' ';
    }
    return out;
}

/*
 * Updates are walked token by token: Jansson parses each key and value,
 * and reports how many bytes it read, so that a value set by a backend is
 * stored as the very bytes it wrote (no number re-formatted).
 */
typedef struct {
    apr_pool_t *p;
    const char *text;
    apr_size_t len, at;
    const char *err;
} cursor_t;

static void skip_space(cursor_t *c)
{
    while (c->at < c->len && (c->text[c->at] == ' ' || c->text[c->at] == '\t'
                              || c->text[c->at] == '\r'
                              || c->text[c->at] == '\n')) {
        c->at++;
    }
}

static int take(cursor_t *c, char ch)
{
    skip_space(c);
    if (c->at < c->len && c->text[c->at] == ch) {
        c->at++;
        return 1;
    }
    return 0;
}

/* A member name from the request as a message shows it (the error log,
 * a reason phrase): control and non-ASCII bytes escaped, so that no name
 * forges a log line; a long one cut. */
static const char *shown_name(apr_pool_t *p, const char *name, apr_size_t n)
{
    const char *cut = apr_pstrmemdup(p, name, n > 64 ? 64 : n);
    return apr_pstrcat(p, apr_pescape_echo(p, cut, 1), n > 64 ? "..." : "",
                       NULL);
}

/* The next value, or NULL and c->err; *raw and *n give its bytes. */
static json_t *next_value(cursor_t *c, size_t flags, const char **raw,
                          apr_size_t *n)
{
    json_error_t e;
    json_t *v;
    skip_space(c);
    v = json_loadb(c->text + c->at, c->len - c->at, flags | JSON_DECODE_ANY
                   | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &e);
    if (!v) {
        c->err = apr_psprintf(c->p, "invalid JSON at byte %" APR_SIZE_T_FMT
                              ": %s", c->at + (apr_size_t)e.position,
                              json_reason(c->p, &e));
        return NULL;
    }
    *raw = c->text + c->at;
    *n = (apr_size_t)e.position;
    c->at += *n;
    return v;
}

typedef const char *(*member_fn)(cursor_t *c, void *baton, const char *name,
                                 apr_size_t name_len);

/* Walks one object, calling fn for each member with c at its value. */
static const char *walk_object(cursor_t *c, member_fn fn, void *baton,
                               const char *what)
{
    if (!take(c, '{')) {
        return what;
    }
    if (take(c, '}')) {
        return NULL;
    }
    do {
        const char *raw, *err;
        apr_size_t n;
        json_t *k = next_value(c, 0, &raw, &n);
        if (!k || !json_is_string(k) || !take(c, ':')) {
            json_decref(k);
            return c->err ? c->err : what;
        }
        err = fn(c, baton, apr_pstrmemdup(c->p, json_string_value(k),
                                          json_string_length(k)),
                 json_string_length(k));
        json_decref(k);
        if (err) {
            return err;
        }
    } while (take(c, ','));
    return take(c, '}') ? NULL : what;
}

static const char *set_member(cursor_t *c, void *baton, const char *name,
                              apr_size_t name_len)
{
    const char *raw;
    apr_size_t n;
    /* Integers beyond 64 bits are valid JSON: only the bytes are kept. */
    json_t *v = next_value(c, JSON_DECODE_INT_AS_REAL, &raw, &n);
    rs_item_t *it;
    if (!v) {
        return c->err;
    }
    json_decref(v);
    it = apr_array_push(baton);
    it->key = name;
    it->key_len = name_len;
    it->value = apr_pstrmemdup(c->p, raw, n);
    it->value_len = n;
    return NULL;
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

static const char *flag_of(json_t *v, int *out, const char *name)
{
    if (!json_is_boolean(v)) {
        return name;
    }
    *out = json_is_true(v);
    return NULL;
}

static const char *timeout_of(json_t *v, int *out)
{
    json_int_t t = json_is_integer(v) ? json_integer_value(v) : 0;
    if (t < 1 || t > RS_MAX_TIMEOUT) {
        return "\"timeout\" must be a whole number of minutes from 1 "
               "to 525600";
    }
    *out = (int)t;
    return NULL;
}

/* Names may hold "\u0000": compared by length, "set\u0000x" is no "set". */
static int named(const char *name, apr_size_t len, const char *want)
{
    return len == strlen(want) && !memcmp(name, want, len);
}

static const char *scalar_member(rs_update_t *u, const char *name,
                                 apr_size_t len, json_t *v)
{
    if (named(name, len, "abandon")) {
        return flag_of(v, &u->abandon, "\"abandon\" must be true or false");
    }
    if (named(name, len, "clear")) {
        return flag_of(v, &u->clear, "\"clear\" must be true or false");
    }
    if (named(name, len, "timeout")) {
        return timeout_of(v, &u->timeout);
    }
    return NULL;
}

static const char *update_member(cursor_t *c, void *baton, const char *name,
                                 apr_size_t name_len)
{
    rs_update_t *u = baton;
    const char *raw, *err;
    apr_size_t n;
    json_t *v;

    if (named(name, name_len, "set")) {
        return walk_object(c, set_member, u->set,
                           "\"set\" must be an object of keys and values");
    }
    if (!named(name, name_len, "abandon") && !named(name, name_len, "clear")
        && !named(name, name_len, "timeout")
        && !named(name, name_len, "remove")) {
        return apr_psprintf(c->p, "unknown member \"%s\"",
                            shown_name(c->p, name, name_len));
    }
    if (!(v = next_value(c, 0, &raw, &n))) {
        return c->err;
    }
    err = named(name, name_len, "remove") ? keys_of(c->p, v, u->remove)
                                          : scalar_member(u, name, name_len, v);
    json_decref(v);
    return err;
}

/* Validates the JSON text at c (one object) before it is walked. */
static const char *whole_object(cursor_t *c)
{
    json_error_t e;
    json_t *v;
    const char *err = NULL;

    skip_space(c);
    v = json_loadb(c->text + c->at, c->len - c->at, JSON_DISABLE_EOF_CHECK
                   | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL
                   | JSON_ALLOW_NUL, &e);
    if (!v) {
        return apr_psprintf(c->p, "invalid JSON at byte %" APR_SIZE_T_FMT
                            ": %s", c->at + (apr_size_t)e.position,
                            json_reason(c->p, &e));
    }
    if (!json_is_object(v)) {
        err = "an update must be a JSON object";
    }
    json_decref(v);
    return err;
}

const char *rs_json_parse_updates(apr_pool_t *p, const char *text,
                                  apr_array_header_t *out)
{
    cursor_t c = { p, text, strlen(text), 0, NULL };
    do {
        rs_update_t *u = apr_array_push(out);
        const char *err = whole_object(&c);
        u->remove = apr_array_make(p, 2, sizeof(rs_item_t));
        u->set = apr_array_make(p, 4, sizeof(rs_item_t));
        if (!err) {
            err = walk_object(&c, update_member, u,
                              "an update must be a JSON object");
        }
        if (err) {
            return err;
        }
        skip_space(&c);
    } while (take(&c, ',') || c.at < c.len);
    return NULL;
}
