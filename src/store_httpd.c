/*
 * The store as httpd uses it: backends are providers registered with
 * httpd, and a request borrows one connection for itself and its
 * subrequests, given back when its pool goes.
 */
#include <string.h>
#include <apr_strings.h>
#include "store_impl.h"
#include "status.h"
#include <http_log.h>
#include <ap_provider.h>

APLOG_USE_MODULE(remote_session);

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

