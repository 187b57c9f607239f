/*
 * What a commit from the .NET client stores. Stored values stay for the
 * keys it never saw (the Apache side's), the ones it lists as unknown
 * (received but not readable: set by a CGI, not registered there) and
 * leaves out, and the ones it could not serialize (a zero-length value,
 * also listed as unknown): a commit from one stack never drops another's
 * data, and a zero-length value is never stored.
 *
 * In time linear in the keys (a session may hold ten thousand, and this
 * runs inside the CAS loop): each list is hashed once. The items stay in
 * the client's order, the kept ones after them in stored order.
 */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "merge.h"
#include "keys.h"

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

/* The keys of items (those of the given emptiness, or all: -1). */
static apr_hash_t *key_set(apr_pool_t *p, const apr_array_header_t *items,
                           int empty)
{
    apr_hash_t *set = apr_hash_make(p);
    int i;
    for (i = 0; i < items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(items, i, rs_item_t);
        if (empty < 0 || (it->value_len == 0) == empty) {
            apr_hash_set(set, it->key, (apr_ssize_t)it->key_len, it);
        }
    }
    return set;
}

int rs_merge_needed(apr_pool_t *p, apr_hash_t *keys, const rs_state_t *in)
{
    return in->unknown->nelts || has_empty_value(in)
        || rs_keys_any_apache(p, keys);
}

static int kept(apr_hash_t *keys, const rs_item_t *old, apr_hash_t *sent,
                apr_hash_t *unknown, apr_hash_t *empty)
{
    apr_ssize_t n = (apr_ssize_t)old->key_len;
    if (!old->value_len || apr_hash_get(sent, old->key, n)) {
        return 0;   /* an older version's zero-length value, or replaced */
    }
    return rs_keys_apache(keys, old->key, old->key_len)
        || apr_hash_get(unknown, old->key, n) || apr_hash_get(empty, old->key, n);
}

rs_state_t *rs_merge_client(apr_pool_t *p, apr_hash_t *keys,
                            const rs_state_t *stored, const rs_state_t *in)
{
    rs_state_t *merged = apr_pmemdup(p, in, sizeof(*in));
    apr_hash_t *sent = key_set(p, in->items, 0);
    apr_hash_t *empty = key_set(p, in->items, 1);
    apr_hash_t *unknown = key_set(p, in->unknown, -1);
    int i;

    /* The items point into in's and stored's memory: both outlive it. */
    merged->items = apr_array_make(p, in->items->nelts + 1,
                                   sizeof(rs_item_t));
    for (i = 0; i < in->items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(in->items, i, rs_item_t);
        if (it->value_len) {
            *(rs_item_t *)apr_array_push(merged->items) = *it;
        }
    }
    for (i = 0; i < stored->items->nelts; i++) {
        const rs_item_t *old = &APR_ARRAY_IDX(stored->items, i, rs_item_t);
        if (kept(keys, old, sent, unknown, empty)) {
            *(rs_item_t *)apr_array_push(merged->items) = *old;
        }
    }
    return merged;
}
