/*
 * What a commit from the .NET client stores. Stored values stay for the
 * keys it never saw (the Apache side's), the ones it lists as unknown
 * (received but not readable: set by a CGI, not registered there) and
 * leaves out, and the ones it could not serialize (a zero-length value,
 * also listed as unknown): a commit from one stack never drops another's
 * data, and a zero-length value is never stored.
 */
#include <string.h>
#include "merge.h"
#include "keys.h"

static int listed_unknown(const rs_state_t *st, const rs_item_t *it)
{
    int i;
    for (i = 0; i < st->unknown->nelts; i++) {
        const rs_item_t *u = &APR_ARRAY_IDX(st->unknown, i, rs_item_t);
        if (u->key_len == it->key_len
            && !memcmp(u->key, it->key, it->key_len)) {
            return 1;
        }
    }
    return 0;
}

static int has_empty_value(const rs_state_t *st)
{
    int i;
    for (i = 0; i < st->items->nelts; i++) {
        if (!APR_ARRAY_IDX(st->items, i, rs_item_t).value_len) {
            return 1;
        }
    }
    return 0;
}

/* A client's items without its zero-length values, in p. */
static rs_state_t *without_empty(apr_pool_t *p, const rs_state_t *st)
{
    rs_state_t *out = rs_state_copy(p, st);
    int i = 0;
    while (i < out->items->nelts) {
        const rs_item_t *it = &APR_ARRAY_IDX(out->items, i, rs_item_t);
        if (it->value_len || !rs_state_remove(out, it->key, it->key_len)) {
            i++;
        }
    }
    return out;
}

int rs_merge_needed(apr_pool_t *p, apr_hash_t *keys, const rs_state_t *in)
{
    return in->unknown->nelts || has_empty_value(in)
        || rs_keys_any_apache(p, keys);
}

rs_state_t *rs_merge_client(apr_pool_t *p, apr_hash_t *keys,
                            const rs_state_t *stored, const rs_state_t *in)
{
    rs_state_t *merged = without_empty(p, in);
    int i;

    for (i = 0; i < stored->items->nelts; i++) {
        const rs_item_t *old = &APR_ARRAY_IDX(stored->items, i, rs_item_t);
        if (!old->value_len) {
            continue;   /* an older version stored it: not again */
        }
        if (rs_keys_apache(keys, old->key, old->key_len)
            || (!rs_state_get(merged, old->key, old->key_len)
                && (listed_unknown(in, old)
                    || rs_state_get(in, old->key, old->key_len)))) {
            rs_state_set(p, merged, old->key, old->key_len,
                         old->value, old->value_len);
        }
    }
    return merged;
}

