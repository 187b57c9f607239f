/*
 * The generic side of the store: providers looked up by name, the
 * connection a request borrows, and the one retry policy for a lost
 * connection, whatever the backend.
 */
#include <string.h>
#include <apr_strings.h>
#include "store.h"
#include "status.h"
#include <http_log.h>
#include <ap_provider.h>

APLOG_USE_MODULE(remote_session);

struct rs_store {
    const rs_store_provider *prov;
    void *instance;
};

struct rs_conn {
    rs_store *store;
    void *handle;
    char error[RS_STORE_ERRLEN];
};

static const rs_store_provider *lookup(const char *name)
{
    return ap_lookup_provider(RS_STORE_PROVIDER_GROUP, name,
                              RS_STORE_PROVIDER_VERSION);
}

const rs_store_provider *rs_store_provider_of(apr_pool_t *p, const char *arg,
                                              const char **spec)
{
    const char *colon = strchr(arg, ':');
    const rs_store_provider *prov;
    if (colon && colon > arg
        && (prov = lookup(apr_pstrmemdup(p, arg, colon - arg)))) {
        *spec = colon + 1;
        return prov;
    }
    *spec = arg;
    return lookup(RS_STORE_DEFAULT);
}

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

void rs_store_give_back(rs_conn *c)
{
    if (c->handle) {
        c->store->prov->give_back(c->store->instance, c->handle);
        c->handle = NULL;
    }
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

static apr_status_t give_back(void *data)
{
    rs_store_give_back(data);
    return APR_SUCCESS;
}

/* One connection for the main request and its subrequests and redirects,
 * given back when the main request's pool goes. */
rs_conn *rs_store_conn(request_rec *r, rs_store *store)
{
    static const char note[] = "remote_session.conn";
    rs_conn *c = NULL;
    request_rec *top = r;

    while (top->main) {
        top = top->main;
    }
    apr_pool_userdata_get((void **)&c, note, top->pool);
    if (c) {
        return c;
    }
    c = rs_store_borrow(store, top->pool);
    if (!c->handle) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RSLOG(00010)
                      "no %s connection free in this child: %s",
                      store->prov->name, rs_conn_error(c));
        return NULL;
    }
    apr_pool_cleanup_register(top->pool, c, give_back, apr_pool_cleanup_null);
    apr_pool_userdata_setn(c, note, NULL, top->pool);
    return c;
}

#define PROV(c) ((c)->store->prov)

rs_store_rc rs_store_get(rs_conn *c, apr_pool_t *p, const char *key,
                         const char **val, apr_size_t *len,
                         apr_uint64_t *cas)
{
    rs_store_rc rc = PROV(c)->get(c->handle, p, key, val, len, cas, c->error);
    return rc == RS_STORE_LOST
           ? PROV(c)->get(c->handle, p, key, val, len, cas, c->error) : rc;
}

/* If the first add did land, the second finds the item: EXISTS, and the
 * caller draws another ID. */
rs_store_rc rs_store_add(rs_conn *c, const char *key, const char *val,
                         apr_size_t len, apr_uint32_t ttl)
{
    rs_store_rc rc = PROV(c)->add(c->handle, key, val, len, ttl, c->error);
    return rc == RS_STORE_LOST
           ? PROV(c)->add(c->handle, key, val, len, ttl, c->error) : rc;
}

rs_store_rc rs_store_cas(rs_conn *c, const char *key, const char *val,
                         apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas)
{
    return PROV(c)->cas(c->handle, key, val, len, ttl, cas, c->error);
}

rs_store_rc rs_store_touch(rs_conn *c, const char *key, apr_uint32_t ttl)
{
    rs_store_rc rc = PROV(c)->touch(c->handle, key, ttl, c->error);
    return rc == RS_STORE_LOST
           ? PROV(c)->touch(c->handle, key, ttl, c->error) : rc;
}
