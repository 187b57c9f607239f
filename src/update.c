/*
 * Applying one X-Remote-Session-Update to a state: abandon, or clear, then
 * remove, then set (each value checked against the key registry), then
 * timeout. Pure, so that the fuzz target runs the very same code.
 */
#include "update.h"
#include "keys.h"

const char *rs_update_apply(apr_pool_t *p, apr_hash_t *keys, rs_state_t *st,
                            const rs_update_t *u)
{
    int i;
    if (u->abandon) {
        st->is_abandoned = 1;
        return NULL;
    }
    if (u->clear) {
        rs_state_clear(st);
    }
    for (i = 0; i < u->remove->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(u->remove, i, rs_item_t);
        rs_state_remove(st, it->key, it->key_len);
    }
    for (i = 0; i < u->set->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(u->set, i, rs_item_t);
        const char *err = rs_keys_check(p, keys, it->key, it->key_len,
                                        it->value, it->value_len);
        if (err) {
            return err;
        }
        rs_state_set(p, st, it->key, it->key_len, it->value,
                     it->value_len);
    }
    if (u->timeout) {
        st->timeout = (apr_uint32_t)u->timeout;
    }
    return NULL;
}

