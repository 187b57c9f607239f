/*
 * mod_remote_session: Apache httpd as the session owner of the ASP.NET
 * System.Web adapters remote app session protocol, sessions in memcached.
 * This file is the front door only: module record, directives, hooks.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "config.h"
#include "endpoint.h"
#include "require.h"
#include "mod_remote_session.h"
#include "store.h"
#include "store_memcached.h"
#include "ap_provider.h"
#include "lease.h"
#include "startup.h"
#include "shared.h"
#include "metrics_page.h"
#include "metrics.h"
#include "mod_status.h"

/* check_config runs for "httpd -t" too, and before httpd detaches. */
static int rs_check_config(apr_pool_t *p, apr_pool_t *plog, apr_pool_t *ptemp,
                           server_rec *s)
{
    return rs_startup_check(ptemp, s);
}

static int rs_post_config(apr_pool_t *p, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    int n = rs_shared_slots(rs_sconf(s));
    apr_status_t rv = rs_shared_create(s->process->pool, n);
    if (rv != APR_SUCCESS) {
        /* Not fatal: waits then poll the store, as across servers. */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, RSLOG(00072)
                     "no shared memory for %d slots "
                     "(RemoteSessionSharedSlots); lock waits poll the store",
                     n);
    }
    rs_config_derive(ptemp, s);
    rs_startup_warn(ptemp, s);
    return OK;
}

/* Handlers run on MPM threads and, under HTTP/2, on mod_http2's workers. */
static int max_connections(void)
{
    int threads = 1;
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    return (threads > 0 ? threads : 1) * 2 + 8;
}

static void rs_child_init(apr_pool_t *pchild, server_rec *main)
{
    server_rec *s;
    int stores = 0;
    rs_shared_child_init(pchild);
    rs_metrics_child_init(pchild);
    for (s = main; s; s = s->next) {
        rs_server_conf *c = rs_sconf(s);
        const char *err = NULL;
        if (!c->store_spec) {
            continue;
        }
        if (s != main && c->store_spec == rs_sconf(main)->store_spec) {
            c->store = rs_sconf(main)->store;
            continue;
        }
        c->store = rs_store_create(pchild, c->store_provider, c->store_spec,
                                   max_connections(), &err);
        if (!c->store) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, RSLOG(00002)
                         "RemoteSessionStore: %s", err);
        }
        stores += c->store != NULL;
    }
    if (stores) {
        rs_lease_start(pchild, main);
    }
}

static void rs_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, RS_STORE_PROVIDER_GROUP, "memcached",
                         RS_STORE_PROVIDER_VERSION, &rs_store_memcached);
    ap_hook_check_config(rs_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(rs_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(rs_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Spoofed session headers go before any other module sees them. */
    ap_hook_post_read_request(rs_require_strip_headers, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(rs_require_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_filter(rs_require_insert_filter, NULL, NULL,
                          APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(rs_require_insert_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_register_output_filter(RS_UPDATE_FILTER, rs_require_update_filter,
                              NULL, AP_FTYPE_CONTENT_SET);
    /* After the update filter, before HTTP_HEADER (AP_FTYPE_PROTOCOL). */
    ap_register_output_filter(RS_STRIP_FILTER, rs_require_strip_filter,
                              NULL, AP_FTYPE_CONTENT_SET + 5);
    ap_hook_header_parser(rs_endpoint_method, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(rs_endpoint_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(rs_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* Only when mod_status is loaded: an optional hook. */
    APR_OPTIONAL_HOOK(ap, status_hook, rs_metrics_status, NULL, NULL,
                      APR_HOOK_MIDDLE);
    APR_REGISTER_OPTIONAL_FN(remote_session_id);
    APR_REGISTER_OPTIONAL_FN(remote_session_get);
    APR_REGISTER_OPTIONAL_FN(remote_session_set);
    APR_REGISTER_OPTIONAL_FN(remote_session_remove);
}

AP_DECLARE_MODULE(remote_session) = {
    STANDARD20_MODULE_STUFF,
    rs_create_dir_conf,
    rs_merge_dir_conf,
    rs_create_server_conf,
    rs_merge_server_conf,
    rs_directives,
    rs_register_hooks
};
