/*
 * A scripted store backend for the C unit tests of the lock: items live
 * in memory with CAS tokens as memcached gives them, and a script makes
 * the Nth call of an operation answer a chosen code (a CAS conflict, a
 * lost connection, a timeout, a miss) without touching the items. The
 * lock reaches it through the real store.c, as it reaches memcached.
 */
#ifndef RS_FAKE_STORE_H
#define RS_FAKE_STORE_H

#include <string.h>
#include <apr_strings.h>
#include "store.h"

enum { OP_GET, OP_ADD, OP_CAS, OP_TOUCH, OP_SET, OP_COUNT };

typedef struct {
    char key[80];
    char *val;
    apr_size_t len;
    apr_uint64_t cas;
    apr_uint32_t ttl;
    int gets;               /* reads that found it */
} fake_item;

typedef struct {
    int op, nth;
    rs_store_rc rc;
} fake_step;

typedef struct {
    apr_pool_t *pool;
    fake_item items[16];
    int nitems;
    apr_uint64_t next_cas;
    fake_step script[80];
    int nscript;
    int calls[OP_COUNT];
} fake_store;

static fake_store fake;

static void fake_reset(apr_pool_t *p)
{
    memset(&fake, 0, sizeof(fake));
    fake.pool = p;
    fake.next_cas = 1;
}

/* The nth call (counted from now, 1 first) of op answers rc. */
static void fake_script(int op, int nth, rs_store_rc rc)
{
    fake_step *s = &fake.script[fake.nscript++];
    s->op = op;
    s->nth = fake.calls[op] + nth;
    s->rc = rc;
}

static fake_item *fake_find(const char *key)
{
    int i;
    for (i = 0; i < fake.nitems; i++) {
        if (!strcmp(fake.items[i].key, key)) {
            return &fake.items[i];
        }
    }
    return NULL;
}

static void fake_put(const char *key, const char *val, apr_size_t len)
{
    fake_item *it = fake_find(key);
    if (!it) {
        it = &fake.items[fake.nitems++];
        apr_cpystrn(it->key, key, sizeof(it->key));
    }
    it->val = apr_pmemdup(fake.pool, val, len);
    it->len = len;
    it->cas = fake.next_cas++;
}

static void fake_delete(const char *key)
{
    fake_item *it = fake_find(key);
    if (it) {
        *it = fake.items[--fake.nitems];
    }
}

/* 1 and *rc when the script says what this call answers. */
static int fake_scripted(int op, rs_store_rc *rc, char *err)
{
    int i, n = ++fake.calls[op];
    for (i = 0; i < fake.nscript; i++) {
        if (fake.script[i].op == op && fake.script[i].nth == n) {
            *rc = fake.script[i].rc;
            apr_cpystrn(err, "scripted failure", RS_STORE_ERRLEN);
            return 1;
        }
    }
    return 0;
}

static const char *f_check(apr_pool_t *p, const char *spec)
{
    return NULL;
}

static void *f_create(apr_pool_t *p, const char *spec, int max,
                      const char **err)
{
    return &fake;
}

static void *f_borrow(void *instance, char *err)
{
    return instance;
}

static void f_give_back(void *instance, void *handle)
{
}

static rs_store_rc f_get(void *h, apr_pool_t *p, const char *key,
                         const char **val, apr_size_t *len,
                         apr_uint64_t *cas, char *err)
{
    rs_store_rc rc;
    fake_item *it;
    if (fake_scripted(OP_GET, &rc, err)) {
        return rc;
    }
    if (!(it = fake_find(key))) {
        return RS_STORE_MISS;
    }
    it->gets++;
    *val = apr_pmemdup(p, it->val, it->len);
    *len = it->len;
    *cas = it->cas;
    return RS_STORE_OK;
}

static rs_store_rc f_add(void *h, const char *key, const char *val,
                         apr_size_t len, apr_uint32_t ttl, char *err)
{
    rs_store_rc rc;
    if (fake_scripted(OP_ADD, &rc, err)) {
        return rc;
    }
    if (fake_find(key)) {
        return RS_STORE_EXISTS;
    }
    fake_put(key, val, len);
    fake_find(key)->ttl = ttl;
    return RS_STORE_OK;
}

static rs_store_rc f_cas(void *h, const char *key, const char *val,
                         apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas,
                         char *err)
{
    rs_store_rc rc;
    fake_item *it;
    if (fake_scripted(OP_CAS, &rc, err)) {
        return rc;
    }
    if (!(it = fake_find(key))) {
        return RS_STORE_MISS;
    }
    if (it->cas != cas) {
        return RS_STORE_EXISTS;
    }
    fake_put(key, val, len);
    it->ttl = ttl;
    return RS_STORE_OK;
}

static rs_store_rc f_touch(void *h, const char *key, apr_uint32_t ttl,
                           char *err)
{
    rs_store_rc rc;
    fake_item *it;
    if (fake_scripted(OP_TOUCH, &rc, err)) {
        return rc;
    }
    if (!(it = fake_find(key))) {
        return RS_STORE_MISS;
    }
    it->ttl = ttl;
    return RS_STORE_OK;
}

static rs_store_rc f_set(void *h, const char *group, const char *key,
                         const char *val, apr_size_t len, apr_uint32_t ttl,
                         char *err)
{
    rs_store_rc rc;
    if (fake_scripted(OP_SET, &rc, err)) {
        return rc;
    }
    fake_put(key, val, len);
    fake_find(key)->ttl = ttl;
    return RS_STORE_OK;
}

static rs_store_rc f_get_near(void *h, apr_pool_t *p, const char *group,
                              const char *key, const char **val,
                              apr_size_t *len, char *err)
{
    apr_uint64_t cas;
    return f_get(h, p, key, val, len, &cas, err);
}

static const rs_store_provider fake_provider = {
    "fake", f_check, f_create, f_borrow, f_give_back, f_borrow, f_give_back,
    f_get, f_add, f_cas, f_touch, f_set, f_get_near
};

#endif
