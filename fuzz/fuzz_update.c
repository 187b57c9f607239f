/*
 * libFuzzer target: the X-Remote-Session-Update parser, as a backend's
 * header value arrives (any bytes up to a NUL). Whatever it accepts must
 * make a state whose REMOTE_SESSION object is one valid JSON object, in
 * both its environment and its one-line header form.
 *
 * Each update is applied twice: with no key registry, where any valid
 * JSON fits, and with a registry of every RemoteSessionKey type (nullable
 * twins and names that need escaping too), where the module's verdict
 * must equal that of a reference written here from INTERFACE.md.
 * fuzz_update.dict holds the key names and the edge values.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <jansson.h>
#include "json.h"
#include "keys.h"
#include "update.h"

static apr_pool_t *root;
static apr_hash_t *registry;

/*
 * Named after their types so that the dictionary reaches them. The
 * nullable column is INTERFACE.md's rule, stated here again rather than
 * taken from keys.c: a '?' suffix, or a type that allows null already.
 */
static const struct {
    const char *name, *type;
    rs_type_e base;
    int nullable;
} keys[] = {
    { "string", "string", RS_TYPE_STRING, 1 },
    { "string?", "string?", RS_TYPE_STRING, 1 },
    { "int", "int", RS_TYPE_INT, 0 },
    { "int?", "int?", RS_TYPE_INT, 1 },
    { "long", "long", RS_TYPE_LONG, 0 },
    { "long?", "long?", RS_TYPE_LONG, 1 },
    { "bool", "bool", RS_TYPE_BOOL, 0 },
    { "bool?", "bool?", RS_TYPE_BOOL, 1 },
    { "double", "double", RS_TYPE_DOUBLE, 0 },
    { "double?", "double?", RS_TYPE_DOUBLE, 1 },
    { "object", "object", RS_TYPE_OBJECT, 1 },
    { "object?", "object?", RS_TYPE_OBJECT, 1 },
    { "array", "array", RS_TYPE_ARRAY, 1 },
    { "array?", "array?", RS_TYPE_ARRAY, 1 },
    { "json", "json", RS_TYPE_JSON, 1 },
    { "json?", "json?", RS_TYPE_JSON, 1 },
    /* Reached only through JSON escapes or raw UTF-8 / control bytes. */
    { "caf\xc3\xa9", "int", RS_TYPE_INT, 0 },
    { "q\"\\/", "bool?", RS_TYPE_BOOL, 1 },
    { "t\t\x01", "long", RS_TYPE_LONG, 0 },
    { "\xf0\x9f\x98\x80", "double", RS_TYPE_DOUBLE, 0 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned i;
    apr_initialize();
    apr_pool_create(&root, NULL);
    registry = rs_keys_make(root);
    for (i = 0; i < NKEYS; i++) {
        if (rs_keys_add(root, registry, keys[i].name, keys[i].type, NULL)) {
            abort();
        }
    }
    return 0;
}

static void check_object(const char *text)
{
    json_error_t e;
    /* Integers beyond 64 bits and "\u0000" are valid JSON, kept as sent. */
    json_t *v = json_loads(text, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &e);
    if (!v || !json_is_object(v)) {
        abort();
    }
    json_decref(v);
}

static void check_session(apr_pool_t *p, const rs_state_t *st)
{
    const char *json = rs_json_session_object(p, st);
    check_object(json);
    if (strpbrk(rs_json_one_line(p, json), "\r\n\t")) {
        abort();
    }
}

/*
 * The reference judges a value by its text alone: it is valid JSON (the
 * parser took it), so its first byte gives its kind, and an integer's
 * range is a comparison of digit strings, with no number conversion.
 */
typedef enum { J_NULL, J_BOOL, J_STRING, J_OBJECT, J_ARRAY, J_INT, J_REAL }
    kind_e;

static int json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static kind_e kind_of(const char *v, size_t n)
{
    switch (*v) {
    case 'n': return J_NULL;
    case 't': case 'f': return J_BOOL;
    case '"': return J_STRING;
    case '{': return J_OBJECT;
    case '[': return J_ARRAY;
    }
    return memchr(v, '.', n) || memchr(v, 'e', n) || memchr(v, 'E', n)
        ? J_REAL : J_INT;
}

/* A JSON integer within [-(max + 1), max]; max as its decimal digits. */
static int int_within(const char *v, size_t n, const char *max,
                      const char *min_abs)
{
    int neg = *v == '-';
    const char *lim = neg ? min_abs : max;
    size_t len = n - (size_t)neg;

    /* JSON has no leading zeros: more digits is a larger magnitude. */
    return len < strlen(lim)
        || (len == strlen(lim) && memcmp(v + neg, lim, len) <= 0);
}

static int fits_type(rs_type_e type, kind_e k, const char *v, size_t n)
{
    switch (type) {
    case RS_TYPE_STRING: return k == J_STRING;
    case RS_TYPE_BOOL:   return k == J_BOOL;
    case RS_TYPE_DOUBLE: return k == J_INT || k == J_REAL;
    case RS_TYPE_OBJECT: return k == J_OBJECT;
    case RS_TYPE_ARRAY:  return k == J_ARRAY;
    case RS_TYPE_JSON:   return 1;
    case RS_TYPE_INT:
        return k == J_INT && int_within(v, n, "2147483647", "2147483648");
    case RS_TYPE_LONG:
        return k == J_INT && int_within(v, n, "9223372036854775807",
                                        "9223372036854775808");
    }
    return 0;
}

/* The row of keys[] naming the item's key (bytes, length); -1: none. */
static int key_row(const rs_item_t *it)
{
    unsigned i;
    for (i = 0; i < NKEYS; i++) {
        if (strlen(keys[i].name) == it->key_len
            && !memcmp(keys[i].name, it->key, it->key_len)) {
            return (int)i;
        }
    }
    return -1;
}

static int fits_registry(const rs_item_t *it)
{
    const char *v = it->value;
    size_t n = it->value_len;
    int row = key_row(it);
    kind_e k;

    if (row < 0) {
        return 0;
    }
    if (!n) {
        return 1;   /* the protocol's mark of a lost value */
    }
    while (n && json_space(*v)) {
        v++;
        n--;
    }
    while (n && json_space(v[n - 1])) {
        n--;
    }
    k = kind_of(v, n);
    return k == J_NULL ? keys[row].nullable
                       : fits_type(keys[row].base, k, v, n);
}

/* What the module must answer to u under the registry: 1 when it fits. */
static int update_fits(const rs_update_t *u)
{
    int i;
    if (u->abandon) {
        return 1;       /* the rest of the update is ignored */
    }
    for (i = 0; i < u->set->nelts; i++) {
        if (!fits_registry(&APR_ARRAY_IDX(u->set, i, rs_item_t))) {
            return 0;
        }
    }
    return 1;
}

/* Applies ups as the module does, stopping at the first refusal. */
static void apply_all(apr_pool_t *p, const apr_array_header_t *ups)
{
    rs_state_t *plain = rs_state_make(p, "abcdefghijklmnopqrstuvwx", 20);
    rs_state_t *typed = rs_state_make(p, "abcdefghijklmnopqrstuvwx", 20);
    int i, typed_ok = 1;

    for (i = 0; i < ups->nelts; i++) {
        const rs_update_t *u = &APR_ARRAY_IDX(ups, i, rs_update_t);
        /* With no registry any valid JSON fits: a refusal means the
         * parser produced a value that is not JSON. */
        if (rs_update_apply(p, NULL, plain, u)) {
            abort();
        }
        if (typed_ok) {
            typed_ok = !rs_update_apply(p, registry, typed, u);
            if (typed_ok != update_fits(u)) {
                abort();
            }
        }
    }
    check_session(p, plain);
    check_session(p, typed);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    apr_pool_t *p;
    apr_array_header_t *ups;
    const char *text;

    apr_pool_create(&p, root);
    text = apr_pstrmemdup(p, (const char *)data, size);
    ups = apr_array_make(p, 2, sizeof(rs_update_t));
    if (!rs_json_parse_updates(p, text, ups)) {
        apply_all(p, ups);
    }
    apr_pool_destroy(p);
    return 0;
}
