/*
 * Unit tests of src/merge.c: what a .NET client's commit keeps of the
 * stored state (zero-length values, unknown keys, the Apache side's keys),
 * at small and at large sizes (20,000 keys: the merge runs inside the CAS
 * loop; its time is a figure for make bench, its result is checked here).
 */
#include <stdlib.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "unit.h"
#include "merge.h"
#include "keys.h"

static apr_pool_t *pool;

static rs_state_t *state(const char *const *kv)
{
    rs_state_t *st = rs_state_make(pool, "id", 20);
    for (; kv[0]; kv += 2) {
        rs_state_set(pool, st, kv[0], strlen(kv[0]), kv[1], strlen(kv[1]));
    }
    return st;
}

static void unknown(rs_state_t *st, const char *key)
{
    rs_item_t u = { key, strlen(key), "", 0 };
    *(rs_item_t *)apr_array_push(st->unknown) = u;
}

/* "k=v,k=v" of st's items, in order. */
static const char *items(const rs_state_t *st)
{
    const char *out = "";
    int i;
    for (i = 0; i < st->items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        out = apr_psprintf(pool, "%s%s%.*s=%.*s", out, i ? "," : "",
                           (int)it->key_len, it->key, (int)it->value_len,
                           it->value);
    }
    return out;
}

static void small(void)
{
    static const char *const stored_kv[] = {
        "a", "1", "x", "{\"k\":1}", "u", "2", "gone", "3", "php", "7",
        "old", "", NULL };
    static const char *const in_kv[] = {
        "a", "9", "x", "", "z", "", "new", "4", NULL };
    apr_hash_t *keys = rs_keys_make(pool);
    rs_state_t *stored = state(stored_kv), *in = state(in_kv);

    rs_keys_add(pool, keys, "php", "int", "apache");
    unknown(in, "x");
    unknown(in, "z");
    unknown(in, "u");
    CHECK(rs_merge_needed(pool, keys, in), "unknown keys: a merge");
    CHECK_STR(items(rs_merge_client(pool, keys, stored, in)),
              "a=9,new=4,x={\"k\":1},u=2,php=7");
    CHECK(rs_merge_needed(pool, NULL, state(stored_kv + 4)),
          "an empty value: a merge");
    CHECK(!rs_merge_needed(pool, NULL, state(in_kv + 6)),
          "nothing unknown, no empty value, no Apache keys: no merge");
}

static void large(void)
{
    enum { N = 20000 };
    rs_state_t *stored = rs_state_make(pool, "id", 20);
    rs_state_t *in = rs_state_make(pool, "id", 20), *out;
    int i, ok = 1;

    for (i = 0; i < N; i++) {
        const char *k = apr_psprintf(pool, "key%05d", i);
        rs_item_t it = { k, strlen(k), "1", 1 };
        *(rs_item_t *)apr_array_push(stored->items) = it;
        if (i % 2) {
            unknown(in, k);
        }
        else {
            it.value = "2";
            *(rs_item_t *)apr_array_push(in->items) = it;
        }
    }
    out = rs_merge_client(pool, NULL, stored, in);
    CHECK(out->items->nelts == N, "%d keys: all %d kept or sent",
          N, out->items->nelts);
    for (i = 0; i < out->items->nelts && ok; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(out->items, i, rs_item_t);
        int n = atoi(it->key + 3);
        ok = it->value[0] == (n % 2 ? '1' : '2');
    }
    CHECK(ok, "sent values are the client's, unknown ones the stored");
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    small();
    large();
    apr_pool_destroy(pool);
    return UNIT_DONE();
}
