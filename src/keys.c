/*
 * RemoteSessionKey: the registry of session keys and their JSON types.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include "keys.h"
#include "json.h"

static const struct {
    const char *name;
    rs_type_e type;
    int nullable;           /* null allowed without a '?' */
} types[] = {
    { "string", RS_TYPE_STRING, 1 }, { "int", RS_TYPE_INT, 0 },
    { "long", RS_TYPE_LONG, 0 },     { "bool", RS_TYPE_BOOL, 0 },
    { "double", RS_TYPE_DOUBLE, 0 }, { "object", RS_TYPE_OBJECT, 1 },
    { "array", RS_TYPE_ARRAY, 1 },   { "json", RS_TYPE_JSON, 1 },
};

apr_hash_t *rs_keys_make(apr_pool_t *p)
{
    return apr_hash_make(p);
}

const char *rs_keys_add(apr_pool_t *p, apr_hash_t *reg, const char *name,
                        const char *type, const char *scope)
{
    apr_size_t n = strlen(type);
    int q = n > 0 && type[n - 1] == '?';
    const char *base = apr_pstrmemdup(p, type, q ? n - 1 : n);
    rs_key_t *k;
    unsigned i;

    if (!*name) {
        return "the key name is empty";
    }
    if (scope && strcmp(scope, "apache")) {
        return apr_psprintf(p, "unknown scope '%s' for key '%s' (expected "
                            "apache, or none for a key shared with .NET)",
                            scope, name);
    }
    if (apr_hash_get(reg, name, APR_HASH_KEY_STRING)) {
        return apr_psprintf(p, "key '%s' is registered twice", name);
    }
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (!strcmp(base, types[i].name)) {
            break;
        }
    }
    if (i == sizeof(types) / sizeof(types[0])) {
        return apr_psprintf(p, "unknown type '%s' for key '%s' (expected "
                            "string, int, long, bool, double, object, array "
                            "or json, optionally with a '?' suffix)",
                            type, name);
    }
    k = apr_palloc(p, sizeof(*k));
    k->name = apr_pstrdup(p, name);
    k->type = types[i].type;
    k->nullable = q || types[i].nullable;
    k->spelling = apr_pstrdup(p, type);
    k->apache = scope != NULL;
    apr_hash_set(reg, k->name, APR_HASH_KEY_STRING, k);
    return NULL;
}

apr_hash_t *rs_keys_merge(apr_pool_t *p, apr_hash_t *base, apr_hash_t *over)
{
    if (!base || !apr_hash_count(base)) {
        return over;
    }
    if (!over || !apr_hash_count(over)) {
        return base;
    }
    return apr_hash_overlay(p, over, base);
}

/*
 * A key as refusals show it: PUT answers carry the message in the reason
 * phrase, so control and non-ASCII bytes are escaped, and a huge key is cut.
 */
#define SHOWN_KEY_MAX 64

static const char *shown(apr_pool_t *p, const char *key, apr_size_t len)
{
    const char *k = apr_pstrmemdup(p, key, len > SHOWN_KEY_MAX ? SHOWN_KEY_MAX
                                                              : len);
    return apr_pstrcat(p, apr_pescape_echo(p, k, 0),
                       len > SHOWN_KEY_MAX ? "..." : "", NULL);
}

int rs_keys_apache(apr_hash_t *reg, const char *key, apr_size_t key_len)
{
    const rs_key_t *k = reg ? apr_hash_get(reg, key, (apr_ssize_t)key_len)
                            : NULL;
    return k && k->apache;
}

/* The iterators come from p: the registry is shared by all threads. */
int rs_keys_any_apache(apr_pool_t *p, apr_hash_t *reg)
{
    apr_hash_index_t *hi;
    for (hi = reg ? apr_hash_first(p, reg) : NULL; hi;
         hi = apr_hash_next(hi)) {
        if (((const rs_key_t *)apr_hash_this_val(hi))->apache) {
            return 1;
        }
    }
    return 0;
}

/* Registering a key for .NET makes the registry closed, as RegisterKey
 * does there; keys of the Apache side alone leave it open. */
static int closed(apr_pool_t *p, apr_hash_t *reg)
{
    apr_hash_index_t *hi;
    for (hi = reg ? apr_hash_first(p, reg) : NULL; hi;
         hi = apr_hash_next(hi)) {
        if (!((const rs_key_t *)apr_hash_this_val(hi))->apache) {
            return 1;
        }
    }
    return 0;
}

static const char *check_one(apr_pool_t *p, apr_hash_t *reg, int strict,
                             const char *key, apr_size_t key_len,
                             const char *json, apr_size_t json_len)
{
    const rs_key_t *k = reg ? apr_hash_get(reg, key, (apr_ssize_t)key_len)
                            : NULL;
    const char *got;

    if (strict && !k) {
        return apr_psprintf(p, "key '%s' is not registered "
                            "(RemoteSessionKey)", shown(p, key, key_len));
    }
    if (json_len == 0) {
        return NULL;    /* the protocol's mark of a value the sender lost */
    }
    got = rs_json_check(p, json, json_len, k ? k->type : RS_TYPE_JSON,
                        k ? k->nullable : 1);
    if (got) {
        return apr_psprintf(p, "key '%s' expects %s, got %s",
                            shown(p, key, key_len),
                            k ? k->spelling : "JSON", got);
    }
    return NULL;
}

const char *rs_keys_check(apr_pool_t *p, apr_hash_t *reg, const char *key,
                          apr_size_t key_len, const char *json,
                          apr_size_t json_len)
{
    return check_one(p, reg, closed(p, reg), key, key_len, json, json_len);
}

/*
 * 1 when known holds it->key with byte for byte the same value: that
 * value was checked when it was stored. A client sends a session back in
 * the order it read it, so the same position is tried before the index of
 * the stored keys, which is built only when that fails.
 */
static int unchanged(apr_pool_t *p, const rs_state_t *known,
                     apr_hash_t **index, int i, const rs_item_t *it)
{
    const rs_item_t *old = NULL;
    int k;
    if (!known || !it->value_len) {
        return 0;
    }
    if (i < known->items->nelts) {
        old = &APR_ARRAY_IDX(known->items, i, rs_item_t);
    }
    if (!old || old->key_len != it->key_len
        || memcmp(old->key, it->key, it->key_len)) {
        if (!*index) {
            *index = apr_hash_make(p);
            for (k = 0; k < known->items->nelts; k++) {
                const rs_item_t *o = &APR_ARRAY_IDX(known->items, k,
                                                    rs_item_t);
                apr_hash_set(*index, o->key, (apr_ssize_t)o->key_len, o);
            }
        }
        old = apr_hash_get(*index, it->key, (apr_ssize_t)it->key_len);
    }
    return old && old->value_len == it->value_len
        && !memcmp(old->value, it->value, it->value_len);
}

const char *rs_keys_check_state(apr_pool_t *p, apr_hash_t *reg,
                                const rs_state_t *st,
                                const rs_state_t *known)
{
    apr_hash_t *index = NULL;
    int i, strict = closed(p, reg);
    for (i = 0; i < st->items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        const char *err = NULL;
        if (rs_keys_apache(reg, it->key, it->key_len)) {
            err = apr_psprintf(p, "key '%s' belongs to the Apache side "
                               "(RemoteSessionKey ... apache): the .NET side "
                               "never receives it and may not write it",
                               shown(p, it->key, it->key_len));
        }
        else {
            /* an unchanged value gets the checks of its name alone */
            int same = unchanged(p, known, &index, i, it);
            err = check_one(p, reg, strict, it->key, it->key_len,
                            same ? NULL : it->value,
                            same ? 0 : it->value_len);
        }
        if (err) {
            return err;
        }
    }
    return NULL;
}

static int hidden(apr_hash_t *reg, const rs_item_t *it)
{
    return it->value_len == 0 || rs_keys_apache(reg, it->key, it->key_len);
}

const rs_state_t *rs_keys_client_view(apr_pool_t *p, apr_hash_t *reg,
                                      const rs_state_t *st)
{
    rs_state_t *view;
    int i, n = 0;
    for (i = 0; i < st->items->nelts; i++) {
        n += hidden(reg, &APR_ARRAY_IDX(st->items, i, rs_item_t));
    }
    if (!n) {
        return st;
    }
    view = apr_pmemdup(p, st, sizeof(*st));
    view->items = apr_array_make(p, st->items->nelts - n + 1,
                                 sizeof(rs_item_t));
    for (i = 0; i < st->items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        if (!hidden(reg, it)) {
            *(rs_item_t *)apr_array_push(view->items) = *it;
        }
    }
    return view;
}
