/*
 * mod_remote_session: Apache httpd as the session owner of the ASP.NET
 * System.Web adapters remote app session protocol, sessions in memcached.
 * This file is the front door only: module record, directives, hooks.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "http_core.h"
#include "config.h"
#include "endpoint.h"
#include "store.h"

static int rs_post_config(apr_pool_t *p, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    return rs_check_endpoints(p, ptemp, s);
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
        c->store = rs_store_create(pchild, c->store_spec, max_connections(),
                                   &err);
        if (!c->store) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, RSLOG(00002)
                         "RemoteSessionStore: %s", err);
        }
    }
}

static void rs_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(rs_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(rs_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(rs_endpoint_handler, NULL, NULL, APR_HOOK_MIDDLE);
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
