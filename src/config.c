/*
 * Directives of INTERFACE.md. Every number is range-checked with a message
 * that names the directive; unset values inherit, defaults come last.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "config.h"
#include <http_log.h>
#include <http_core.h>
#include "keys.h"
#include "store.h"
#include "sid.h"
#include "shared.h"

APLOG_USE_MODULE(remote_session);

void *rs_create_server_conf(apr_pool_t *p, server_rec *s)
{
    rs_server_conf *c = apr_pcalloc(p, sizeof(*c));
    c->cookie_secure = RS_UNSET;
    c->timeout = RS_UNSET;
    c->lock_timeout = RS_UNSET;
    c->lock_lease = RS_UNSET;
    c->max_size = RS_UNSET;
    c->worker_reserve = RS_UNSET;
    c->hold_timeout = RS_UNSET;
    c->max_waiters = RS_UNSET;
    c->require_hold = RS_UNSET;
    c->env_max = RS_UNSET;
    c->shared_slots = RS_UNSET;
    return c;
}

#define MERGE_PTR(f)  m->f = over->f ? over->f : base->f
#define MERGE_INT(f)  m->f = over->f != RS_UNSET ? over->f : base->f

void *rs_merge_server_conf(apr_pool_t *p, void *basev, void *overv)
{
    rs_server_conf *base = basev, *over = overv;
    rs_server_conf *m = apr_pcalloc(p, sizeof(*m));
    MERGE_PTR(store_spec);
    m->store_provider = over->store_spec ? over->store_provider
                                         : base->store_provider;
    MERGE_PTR(api_key);
    MERGE_PTR(api_key_header);
    MERGE_PTR(cookie_name);
    MERGE_PTR(key_prefix);
    MERGE_PTR(spool_dir);
    MERGE_INT(cookie_secure);
    MERGE_INT(timeout);
    MERGE_INT(lock_timeout);
    MERGE_INT(lock_lease);
    MERGE_INT(max_size);
    MERGE_INT(worker_reserve);
    MERGE_INT(hold_timeout);
    MERGE_INT(max_waiters);
    MERGE_INT(require_hold);
    MERGE_INT(env_max);
    MERGE_INT(shared_slots);
    m->keys = rs_keys_merge(p, base->keys, over->keys);
    return m;
}

void *rs_create_dir_conf(apr_pool_t *p, char *dir)
{
    rs_dir_conf *c = apr_pcalloc(p, sizeof(*c));
    c->require = RS_REQUIRE_UNSET;
    return c;
}

void *rs_merge_dir_conf(apr_pool_t *p, void *basev, void *overv)
{
    rs_dir_conf *base = basev, *over = overv;
    rs_dir_conf *m = apr_pcalloc(p, sizeof(*m));
    MERGE_INT(require);
    return m;
}

rs_server_conf *rs_sconf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &remote_session_module);
}

rs_require_e rs_require_mode(const request_rec *r)
{
    const rs_dir_conf *d = ap_get_module_config(r->per_dir_config,
                                                &remote_session_module);
    return d && d->require != RS_REQUIRE_UNSET ? d->require : RS_REQUIRE_OFF;
}

#define OR_DEFAULT(v, d) ((v) != RS_UNSET ? (v) : (d))

const char *rs_cookie_name(const rs_server_conf *c)
{
    return c->cookie_name ? c->cookie_name : RS_DEFAULT_COOKIE;
}

const char *rs_api_key_header(const rs_server_conf *c)
{
    return c->api_key_header ? c->api_key_header : RS_DEFAULT_KEY_HEADER;
}

int rs_cookie_secure(const rs_server_conf *c)
{
    return OR_DEFAULT(c->cookie_secure, 0);
}

int rs_timeout_minutes(const rs_server_conf *c)
{
    return OR_DEFAULT(c->timeout, RS_DEFAULT_TIMEOUT);
}

int rs_lock_timeout(const rs_server_conf *c)
{
    return OR_DEFAULT(c->lock_timeout, RS_DEFAULT_LOCK_TIMEOUT);
}

int rs_lock_lease(const rs_server_conf *c)
{
    return OR_DEFAULT(c->lock_lease, RS_DEFAULT_LOCK_LEASE);
}

int rs_hold_timeout(const rs_server_conf *c)
{
    return OR_DEFAULT(c->hold_timeout, RS_DEFAULT_HOLD_TIMEOUT);
}

void rs_config_derive(apr_pool_t *ptemp, server_rec *main)
{
    server_rec *s;
    for (s = main; s; s = s->next) {
        rs_server_conf *c = rs_sconf(s);
        c->apache_keys = rs_keys_any_apache(ptemp, c->keys);
    }
}

int rs_max_waiters(const rs_server_conf *c)
{
    return OR_DEFAULT(c->max_waiters, RS_DEFAULT_MAX_WAITERS);
}

int rs_require_hold(const rs_server_conf *c)
{
    return OR_DEFAULT(c->require_hold, RS_DEFAULT_REQUIRE_HOLD);
}

apr_size_t rs_env_max(const rs_server_conf *c)
{
    return (apr_size_t)OR_DEFAULT(c->env_max, RS_DEFAULT_ENV_MAX);
}

int rs_shared_slots(const rs_server_conf *c)
{
    return OR_DEFAULT(c->shared_slots, RS_DEFAULT_SLOTS);
}

const char *rs_key_prefix(const rs_server_conf *c)
{
    return c->key_prefix ? c->key_prefix : RS_KEY_PREFIX;
}

int rs_worker_reserve(const rs_server_conf *c)
{
    return OR_DEFAULT(c->worker_reserve, RS_DEFAULT_WORKER_RESERVE);
}

apr_size_t rs_max_size(const rs_server_conf *c)
{
    return (apr_size_t)OR_DEFAULT(c->max_size, RS_DEFAULT_MAX_SIZE);
}

static const char *set_int(cmd_parms *cmd, const char *arg, long lo, long hi,
                           long *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);
    if (!*arg || *end || v < lo || v > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number "
                            "from %ld to %ld", cmd->cmd->name, arg, lo, hi);
    }
    *out = (long)v;
    return NULL;
}

/* Which int field of rs_server_conf a numeric directive sets, and its range. */
typedef struct {
    apr_size_t offset;
    long lo, hi;
} int_field_t;

static const int_field_t f_timeout =
    { APR_OFFSETOF(rs_server_conf, timeout), 1, RS_MAX_TIMEOUT };
static const int_field_t f_lock_timeout =
    { APR_OFFSETOF(rs_server_conf, lock_timeout), 0, 3600 };
static const int_field_t f_lock_lease =
    { APR_OFFSETOF(rs_server_conf, lock_lease), 1, 3600 };
static const int_field_t f_hold_timeout =
    { APR_OFFSETOF(rs_server_conf, hold_timeout), 1, 86400 };
static const int_field_t f_max_waiters =
    { APR_OFFSETOF(rs_server_conf, max_waiters), 1, 100000 };
static const int_field_t f_require_hold =
    { APR_OFFSETOF(rs_server_conf, require_hold), 1, 86400 };
static const int_field_t f_worker_reserve =
    { APR_OFFSETOF(rs_server_conf, worker_reserve), 0, 100000 };

static const char *set_server_int(cmd_parms *cmd, void *dummy,
                                  const char *arg)
{
    const int_field_t *f = cmd->info;
    long v;
    const char *err = set_int(cmd, arg, f->lo, f->hi, &v);
    if (!err) {
        *(int *)((char *)rs_sconf(cmd->server) + f->offset) = (int)v;
    }
    return err;
}

/* A directory both httpd and the backends see (php-fpm runs with a /tmp
 * of its own under systemd's PrivateTmp). */
static const char *set_spool_dir(cmd_parms *cmd, void *dummy,
                                 const char *arg)
{
    apr_finfo_t fi;
    const char *dir = ap_server_root_relative(cmd->pool, arg);
    if (!dir || apr_stat(&fi, dir, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "RemoteSessionSpoolDir: '%s' is not "
                            "a directory", arg);
    }
    rs_sconf(cmd->server)->spool_dir = dir;
    return NULL;
}

/* Linux takes an environment string of at most 128 KiB. */
static const char *set_env_max(cmd_parms *cmd, void *dummy, const char *arg)
{
    return set_int(cmd, arg, 0, 131072, &rs_sconf(cmd->server)->env_max);
}

/* One segment for the whole server: only the main server's setting. */
static const char *set_shared_slots(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    long v;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (!err) {
        err = set_int(cmd, arg, 16, 16L * 1024 * 1024, &v);
    }
    if (!err) {
        rs_sconf(cmd->server)->shared_slots = (int)v;
    }
    return err;
}

static const char *set_max_size(cmd_parms *cmd, void *dummy, const char *arg)
{
    return set_int(cmd, arg, 64, 64L * 1024 * 1024,
                   &rs_sconf(cmd->server)->max_size);
}

static const char *set_store(cmd_parms *cmd, void *dummy, const char *arg)
{
    rs_server_conf *c = rs_sconf(cmd->server);
    const char *spec, *err;
    const rs_store_provider *prov = rs_store_provider_of(cmd->pool, arg,
                                                         &spec);
    if (!prov) {
        return "RemoteSessionStore: no store provider '" RS_STORE_DEFAULT
               "' is registered";
    }
    if ((err = prov->check_spec(cmd->pool, spec))) {
        return err;
    }
    c->store_provider = prov;
    c->store_spec = spec;
    return NULL;
}

static const char *set_api_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    if (!rs_guid_valid(arg)) {
        /* Never echo the key: it may be a real one with a typo. */
        return "RemoteSessionApiKey: the key must be a GUID as .NET spells "
               "it (32 hex digits, dashes optional, in braces or parentheses "
               "or not, or Guid's {0x...} form), without spaces around it, "
               "and not all zeros";
    }
    rs_sconf(cmd->server)->api_key = arg;
    return NULL;
}

/* An HTTP token (RFC 9110): what a cookie or a header name may be. */
static int is_token(const char *s)
{
    const char *c;
    for (c = s; *c; c++) {
        if (!apr_isgraph(*c) || strchr("()<>@,;:\\\"/[]?={}", *c)) {
            return 0;
        }
    }
    return *s != '\0';
}

static const char *set_cookie_name(cmd_parms *cmd, void *dummy,
                                   const char *arg)
{
    if (!is_token(arg)) {
        return apr_psprintf(cmd->pool, "RemoteSessionCookieName: '%s' is "
                            "not a valid cookie name", arg);
    }
    rs_sconf(cmd->server)->cookie_name = arg;
    return NULL;
}

static const char *set_key_header(cmd_parms *cmd, void *dummy,
                                  const char *arg)
{
    if (!is_token(arg)) {
        return apr_psprintf(cmd->pool, "RemoteSessionApiKeyHeader: '%s' is "
                            "not a valid header name", arg);
    }
    rs_sconf(cmd->server)->api_key_header = arg;
    return NULL;
}

/* What memcached takes in a key: no spaces or control bytes. */
static const char *set_key_prefix(cmd_parms *cmd, void *dummy,
                                  const char *arg)
{
    const char *c;
    for (c = arg; *c; c++) {
        if (!apr_isgraph(*c)) {
            break;
        }
    }
    if (*c || c - arg > RS_KEY_PREFIX_MAX) {
        return apr_psprintf(cmd->pool, "RemoteSessionKeyPrefix: at most %d "
                            "printable bytes, no spaces", RS_KEY_PREFIX_MAX);
    }
    rs_sconf(cmd->server)->key_prefix = arg;
    return NULL;
}

static const char *set_cookie_secure(cmd_parms *cmd, void *dummy, int on)
{
    rs_sconf(cmd->server)->cookie_secure = on;
    return NULL;
}

static const char *set_key(cmd_parms *cmd, void *dummy, const char *name,
                           const char *type, const char *scope)
{
    rs_server_conf *c = rs_sconf(cmd->server);
    const char *err;
    if (!c->keys) {
        c->keys = rs_keys_make(cmd->pool);
    }
    err = rs_keys_add(cmd->pool, c->keys, name, type, scope);
    return err ? apr_pstrcat(cmd->pool, "RemoteSessionKey: ", err, NULL)
               : NULL;
}

static const char *set_require(cmd_parms *cmd, void *dirconf, const char *arg)
{
    rs_dir_conf *d = dirconf;
    if (!strcasecmp(arg, "On")) {
        d->require = RS_REQUIRE_ON;
    }
    else if (!strcasecmp(arg, "ReadOnly")) {
        d->require = RS_REQUIRE_READONLY;
    }
    else if (!strcasecmp(arg, "Off")) {
        d->require = RS_REQUIRE_OFF;
    }
    else {
        return apr_psprintf(cmd->pool, "SessionRequire: '%s' is not one of "
                            "On, ReadOnly, Off", arg);
    }
    return NULL;
}

const command_rec rs_directives[] = {
    AP_INIT_TAKE1("RemoteSessionStore", set_store, NULL, RSRC_CONF,
        "[<backend>:]<its configuration>; memcached (the default) takes a "
        "libmemcached string, e.g. \"--SERVER=127.0.0.1:11211\""),
    AP_INIT_TAKE1("RemoteSessionApiKey", set_api_key, NULL, RSRC_CONF,
        "API key (a GUID) the session endpoint requires"),
    AP_INIT_TAKE1("RemoteSessionApiKeyHeader", set_key_header, NULL,
        RSRC_CONF, "request header carrying the API key (default "
        RS_DEFAULT_KEY_HEADER ")"),
    AP_INIT_TAKE1("RemoteSessionCookieName", set_cookie_name, NULL, RSRC_CONF,
        "session cookie name (default ASP.NET_SessionId)"),
    AP_INIT_FLAG("RemoteSessionCookieSecure", set_cookie_secure, NULL,
        RSRC_CONF, "add Secure to the session cookie (always on HTTPS)"),
    AP_INIT_TAKE1("RemoteSessionTimeout", set_server_int, (void *)&f_timeout,
        RSRC_CONF, "idle timeout of new sessions, minutes (default 20)"),
    AP_INIT_TAKE1("RemoteSessionLockTimeout", set_server_int,
        (void *)&f_lock_timeout, RSRC_CONF,
        "seconds a writer waits for a held session (default 30)"),
    AP_INIT_TAKE1("RemoteSessionLockLease", set_server_int,
        (void *)&f_lock_lease, RSRC_CONF,
        "seconds after which an unrenewed lock may be taken over (default 10)"),
    AP_INIT_TAKE1("RemoteSessionHoldTimeout", set_server_int,
        (void *)&f_hold_timeout, RSRC_CONF,
        "seconds a held GET or a POST waits for its commit, at most "
        "(default 300)"),
    AP_INIT_TAKE1("RemoteSessionWorkerReserve", set_server_int,
        (void *)&f_worker_reserve, RSRC_CONF,
        "workers a writeable request may not take, kept for read-only GETs "
        "and PUTs (default 2; 0: none)"),
    AP_INIT_TAKE1("RemoteSessionMaxWaiters", set_server_int,
        (void *)&f_max_waiters, RSRC_CONF,
        "writers that may wait on one session at once in this httpd; more "
        "get 503 at once (default 32)"),
    AP_INIT_TAKE1("RemoteSessionRequireHold", set_server_int,
        (void *)&f_require_hold, RSRC_CONF,
        "seconds a SessionRequire On request may hold the session's lock; "
        "then it is freed and the request's update refused (default 10)"),
    AP_INIT_TAKE1("RemoteSessionEnvMax", set_env_max, NULL, RSRC_CONF,
        "largest session JSON passed in REMOTE_SESSION and X-Remote-Session, "
        "bytes; a larger one goes to the file REMOTE_SESSION_FILE names "
        "(default 65536)"),
    AP_INIT_TAKE1("RemoteSessionSpoolDir", set_spool_dir, NULL, RSRC_CONF,
        "where a session over RemoteSessionEnvMax is written for the "
        "backend (default: the system's temporary directory)"),
    AP_INIT_TAKE1("RemoteSessionKeyPrefix", set_key_prefix, NULL, RSRC_CONF,
        "prefix of the session's memcached key (default " RS_KEY_PREFIX
        "): apps sharing a memcached but not their sessions use different "
        "ones"),
    AP_INIT_TAKE1("RemoteSessionSharedSlots", set_shared_slots, NULL,
        RSRC_CONF, "slots of the shared memory through which commits wake "
        "waiters, 32 bytes each (default 4096)"),
    AP_INIT_TAKE23("RemoteSessionKey", set_key, NULL, RSRC_CONF,
        "registers a session key: name, type (string int long bool double "
        "object array json, '?' suffix for nullable) and, for a key of the "
        "Apache side alone, the word apache"),
    AP_INIT_TAKE1("RemoteSessionMaxSize", set_max_size, NULL, RSRC_CONF,
        "largest serialized session accepted, bytes (default 1000000)"),
    AP_INIT_TAKE1("SessionRequire", set_require, NULL,
        RSRC_CONF | ACCESS_CONF | OR_FILEINFO,
        "On (session with exclusive lock), ReadOnly, or Off"),
    { NULL }
};

const rs_lock_conf *rs_lock_conf_of(request_rec *r, const rs_server_conf *c)
{
    rs_lock_conf *lc = apr_palloc(r->pool, sizeof(*lc));
    lc->lock_timeout = rs_lock_timeout(c);
    lc->lease = rs_lock_lease(c);
    lc->timeout = rs_timeout_minutes(c);
    lc->max_size = rs_max_size(c);
    lc->keys = c->keys;
    lc->max_waiters = rs_max_waiters(c);
    lc->key_prefix = rs_key_prefix(c);
    return lc;
}
