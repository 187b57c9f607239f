/*
 * The generic side of the store: an instance of a provider, connections
 * borrowed from it, and the one retry policy for a lost connection,
 * whatever the backend. Nothing here needs httpd (store_httpd.c has the
 * provider lookup and the request's connection), so the C unit tests run
 * the lock over a fake backend through these same functions.
 */
#include <string.h>
#include <apr_strings.h>
#include "store_impl.h"

rs_store *rs_store_create(apr_pool_t *pchild, const rs_store_provider *prov,
                          const char *spec, int max_conns, const char **err)
{
    rs_store *st = apr_pcalloc(pchild, sizeof(*st));
    st->prov = prov;
    st->instance = prov->create(pchild, spec, max_conns, err);
    return st->instance ? st : NULL;
}

rs_conn *rs_store_borrow(rs_store *store, apr_pool_t *p)
{
    rs_conn *c = apr_pcalloc(p, sizeof(*c));
    c->store = store;
    c->handle = store->prov->borrow(store->instance, c->error);
    return c;
}

rs_conn *rs_store_own(rs_store *store, apr_pool_t *p)
{
    rs_conn *c = apr_pcalloc(p, sizeof(*c));
    c->store = store;
    c->own = 1;
    c->handle = store->prov->open(store->instance, c->error);
    return c;
}

void rs_store_give_back(rs_conn *c)
{
    if (c->busy) {
        return;     /* interrupted mid-operation (see ready): left alone */
    }
    if (c->handle && c->own) {
        c->store->prov->close(c->store->instance, c->handle);
    }
    else if (c->handle) {
        c->store->prov->give_back(c->store->instance, c->handle);
    }
    c->handle = NULL;
}

void rs_store_idle(rs_conn *c)
{
    rs_store_give_back(c);
}

int rs_conn_ready(const rs_conn *c)
{
    return c->handle != NULL;
}

const char *rs_conn_error(const rs_conn *c)
{
    return c->error[0] ? c->error : "unknown error";
}

const char *rs_conn_backend(const rs_conn *c)
{
    return c->store->prov->name;
}

#define PROV(c) ((c)->store->prov)

/*
 * A connection given back between two pieces of a request's store work
 * (rs_store_idle) is borrowed again by the next operation. One already in
 * an operation is not used again: a prefork child that a restart signals
 * destroys its pools inside the signal handler, and a cleanup that reached
 * the store from there would re-enter libmemcached on the connection the
 * interrupted code was using (its state is then corrupt: an assertion
 * aborts the child). Such a cleanup fails instead; the lease frees the lock.
 */
static int ready(rs_conn *c)
{
    if (c->busy) {
        apr_cpystrn(c->error, "connection in use (an interrupted operation)",
                    RS_STORE_ERRLEN);
        return 0;
    }
    if (!c->handle) {
        c->handle = c->own ? PROV(c)->open(c->store->instance, c->error)
                           : PROV(c)->borrow(c->store->instance, c->error);
    }
    return c->handle != NULL;
}

rs_store_rc rs_store_get(rs_conn *c, apr_pool_t *p, const char *key,
                         const char **val, apr_size_t *len,
                         apr_uint64_t *cas)
{
    rs_store_rc rc;
    if (!ready(c)) {
        return RS_STORE_ERROR;
    }
    c->busy = 1;
    rc = PROV(c)->get(c->handle, p, key, val, len, cas, c->error);
    if (rc == RS_STORE_LOST) {
        rc = PROV(c)->get(c->handle, p, key, val, len, cas, c->error);
    }
    c->busy = 0;
    return rc;
}

/* If the first add did land, the second finds the item: EXISTS, and the
 * caller draws another ID. */
rs_store_rc rs_store_add(rs_conn *c, const char *key, const char *val,
                         apr_size_t len, apr_uint32_t ttl)
{
    rs_store_rc rc;
    if (!ready(c)) {
        return RS_STORE_ERROR;
    }
    c->busy = 1;
    rc = PROV(c)->add(c->handle, key, val, len, ttl, c->error);
    if (rc == RS_STORE_LOST) {
        rc = PROV(c)->add(c->handle, key, val, len, ttl, c->error);
    }
    c->busy = 0;
    return rc;
}

rs_store_rc rs_store_cas(rs_conn *c, const char *key, const char *val,
                         apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas)
{
    rs_store_rc rc;
    if (!ready(c)) {
        return RS_STORE_ERROR;
    }
    c->busy = 1;
    rc = PROV(c)->cas(c->handle, key, val, len, ttl, cas, c->error);
    c->busy = 0;
    return rc;
}

rs_store_rc rs_store_touch(rs_conn *c, const char *key, apr_uint32_t ttl)
{
    rs_store_rc rc;
    if (!ready(c)) {
        return RS_STORE_ERROR;
    }
    c->busy = 1;
    rc = PROV(c)->touch(c->handle, key, ttl, c->error);
    if (rc == RS_STORE_LOST) {
        rc = PROV(c)->touch(c->handle, key, ttl, c->error);
    }
    c->busy = 0;
    return rc;
}

rs_store_rc rs_store_set_near(rs_conn *c, const char *group, const char *key,
                              const char *val, apr_size_t len,
                              apr_uint32_t ttl)
{
    rs_store_rc rc;
    if (!ready(c)) {
        return RS_STORE_ERROR;
    }
    c->busy = 1;
    rc = PROV(c)->set_near(c->handle, group, key, val, len, ttl, c->error);
    if (rc == RS_STORE_LOST) {
        rc = PROV(c)->set_near(c->handle, group, key, val, len, ttl,
                               c->error);
    }
    c->busy = 0;
    return rc;
}

rs_store_rc rs_store_get_near(rs_conn *c, apr_pool_t *p, const char *group,
                              const char *key, const char **val,
                              apr_size_t *len)
{
    rs_store_rc rc;
    if (!ready(c)) {
        return RS_STORE_ERROR;
    }
    c->busy = 1;
    rc = PROV(c)->get_near(c->handle, p, group, key, val, len, c->error);
    if (rc == RS_STORE_LOST) {
        rc = PROV(c)->get_near(c->handle, p, group, key, val, len, c->error);
    }
    c->busy = 0;
    return rc;
}
