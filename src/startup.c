/*
 * The configuration tree is walked rather than the server records: only
 * the tree tells where the endpoint is mapped (SetHandler in any section)
 * and whether a virtual host turns SSL on (mod_ssl's configuration is its
 * own). Mappings are found by directive, so a handler set by other means
 * (mod_rewrite's H=) goes unchecked.
 */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <ap_mpm.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <util_cfgtree.h>
#include "startup.h"
#include "config.h"

APLOG_USE_MODULE(remote_session);

/* The <VirtualHost> section d lies in, or NULL for the main server. */
static ap_directive_t *vhost_of(ap_directive_t *d)
{
    for (; d; d = d->parent) {
        if (!strcasecmp(d->directive, "<VirtualHost")) {
            return d;
        }
    }
    return NULL;
}

/* The server a directive node belongs to: its <VirtualHost>, else main. */
static server_rec *server_of(ap_directive_t *d, server_rec *main)
{
    ap_directive_t *v = vhost_of(d);
    server_rec *s;
    for (s = v ? main->next : NULL; s; s = s->next) {
        if (s->defn_line_number == (unsigned)v->line_num
            && s->defn_name && !strcmp(s->defn_name, v->filename)) {
            return s;
        }
    }
    return main;
}

static int is_endpoint_mapping(const ap_directive_t *d)
{
    const char *args;
    if (strcasecmp(d->directive, "SetHandler") || !d->args) {
        return 0;
    }
    args = d->args;
    if (*args == '"' || *args == '\'') {
        args++;
    }
    return !strncasecmp(args, "remote-session", 14)
        && (!args[14] || strchr("\"' \t", args[14]));
}

/* "SSLEngine on" among the section's own directives. */
static int turns_ssl_on(const ap_directive_t *section)
{
    const ap_directive_t *d;
    for (d = section ? section->first_child : ap_conftree; d; d = d->next) {
        if (!strcasecmp(d->directive, "SSLEngine") && d->args
            && !strcasecmp(d->args, "on")) {
            return 1;
        }
    }
    return 0;
}

/* mod_http2 offers h2 by ALPN only under a threaded MPM: under prefork it
 * stays inactive (AH10034), whatever Protocols says. */
static int lacks_h2(server_rec *s)
{
    int threaded = 0;
    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    return !ap_find_linked_module("mod_http2.c")
        || threaded == AP_MPMQ_NOT_SUPPORTED
        || !ap_is_allowed_protocol(NULL, NULL, s, "h2");
}

typedef struct {
    server_rec *main;
    apr_hash_t *warned;     /* servers warned about */
    int keys;               /* refuse a mapping without an API key */
    int warn;               /* warn about SSL without h2 */
} walk_t;

static void warn_no_h2(ap_directive_t *d, server_rec *s, walk_t *w)
{
    if (apr_hash_get(w->warned, &s, sizeof(s))) {
        return;
    }
    apr_hash_set(w->warned, apr_pmemdup(apr_hash_pool_get(w->warned), &s,
                                        sizeof(s)), sizeof(s), s);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, RSLOG(00071)
                 "'SetHandler remote-session' at %s:%d is on an SSL "
                 "virtual host that cannot speak h2: the ASP.NET Core client "
                 "sends every writeable request there as a POST over "
                 "HTTP/2 and does not fall back, so all of them will fail. "
                 "It needs mod_http2, 'Protocols h2 http/1.1' there and a "
                 "threaded MPM (event, worker; not prefork)",
                 d->filename, d->line_num);
}

static int check_mapping(ap_directive_t *d, walk_t *w)
{
    server_rec *s = server_of(d, w->main);
    if (w->keys && !rs_sconf(s)->api_key) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, w->main, RSLOG(00001)
                     "RemoteSessionApiKey is required: 'SetHandler "
                     "remote-session' at %s:%d maps the session endpoint "
                     "but its server has no key", d->filename, d->line_num);
        return 0;
    }
    if (w->warn && turns_ssl_on(vhost_of(d)) && lacks_h2(s)) {
        warn_no_h2(d, s, w);
    }
    return 1;
}

static int check_tree(ap_directive_t *d, walk_t *w)
{
    for (; d; d = d->next) {
        if (is_endpoint_mapping(d) && !check_mapping(d, w)) {
            return 0;
        }
        if (d->first_child && !check_tree(d->first_child, w)) {
            return 0;
        }
    }
    return 1;
}

int rs_startup_check(apr_pool_t *ptemp, server_rec *main)
{
    /* "httpd -t" runs no post_config: warn here for it. */
    walk_t w = { main, apr_hash_make(ptemp), 1,
                 ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST };
    return check_tree(ap_conftree, &w) ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

void rs_startup_warn(apr_pool_t *ptemp, server_rec *main)
{
    /* Once a start, when the error log is open: not in the first of
     * httpd's two configuration passes. */
    walk_t w = { main, apr_hash_make(ptemp), 0, 1 };
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        check_tree(ap_conftree, &w);
    }
}
