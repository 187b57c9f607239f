/*
 * Configuration: per-server (store, key, cookie, timeouts, key registry)
 * and per-directory (SessionRequire). Unset fields are sentinels; the
 * defaults are applied by the getters, so that inheritance into vhosts and
 * sections works (no defaults in the create functions).
 */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <apr_hash.h>
#include "status.h"
#include "lock.h"

#define RS_UNSET (-1)


#define RS_DEFAULT_COOKIE       "ASP.NET_SessionId"
#define RS_DEFAULT_KEY_HEADER   "X-SystemWebAdapter-RemoteAppAuthentication-Key"
#define RS_DEFAULT_TIMEOUT      20          /* minutes */
#define RS_DEFAULT_LOCK_TIMEOUT 30          /* seconds */
#define RS_DEFAULT_LOCK_LEASE   10          /* seconds */
#define RS_DEFAULT_MAX_SIZE     1000000     /* bytes */
#define RS_DEFAULT_WORKER_RESERVE 2         /* workers */
#define RS_DEFAULT_HOLD_TIMEOUT 300         /* seconds */
#define RS_DEFAULT_MAX_WAITERS  32          /* writers per session */
#define RS_DEFAULT_REQUIRE_HOLD 10          /* seconds */
#define RS_DEFAULT_ENV_MAX      65536       /* bytes of REMOTE_SESSION */

typedef enum {
    RS_REQUIRE_UNSET = RS_UNSET, RS_REQUIRE_OFF = 0, RS_REQUIRE_ON,
    RS_REQUIRE_READONLY
} rs_require_e;

struct rs_store;
struct rs_store_provider;       /* store.h */

typedef struct {
    const char *store_spec;     /* the provider's part of RemoteSessionStore */
    const struct rs_store_provider *store_provider;
    const char *api_key;
    const char *api_key_header;
    const char *cookie_name;
    int cookie_secure;
    int timeout;
    int lock_timeout;
    int lock_lease;
    long max_size;
    int worker_reserve;
    int hold_timeout;
    int max_waiters;
    int require_hold;
    long env_max;
    const char *spool_dir;      /* NULL: the system's temporary directory */
    int shared_slots;           /* main server only */
    const char *key_prefix;
    apr_hash_t *keys;           /* name -> rs_key_t */
    int apache_keys;            /* keys has one of the Apache side (set
                                   once the configuration is read) */
    struct rs_store *store;     /* per child, set in child_init */
} rs_server_conf;

typedef struct {
    rs_require_e require;
} rs_dir_conf;

extern module AP_MODULE_DECLARE_DATA remote_session_module;
extern const command_rec rs_directives[];

void *rs_create_server_conf(apr_pool_t *p, server_rec *s);
void *rs_merge_server_conf(apr_pool_t *p, void *base, void *over);
void *rs_create_dir_conf(apr_pool_t *p, char *dir);
void *rs_merge_dir_conf(apr_pool_t *p, void *base, void *over);

rs_server_conf *rs_sconf(const server_rec *s);

/* post_config: what each server's configuration implies, once read. */
void rs_config_derive(apr_pool_t *ptemp, server_rec *main);
rs_require_e rs_require_mode(const request_rec *r);

const char *rs_cookie_name(const rs_server_conf *c);
const char *rs_api_key_header(const rs_server_conf *c);
int rs_cookie_secure(const rs_server_conf *c);
int rs_timeout_minutes(const rs_server_conf *c);
int rs_lock_timeout(const rs_server_conf *c);
int rs_lock_lease(const rs_server_conf *c);
apr_size_t rs_max_size(const rs_server_conf *c);

/* The lock's settings from c, in r's pool. */
const rs_lock_conf *rs_lock_conf_of(request_rec *r, const rs_server_conf *c);
int rs_worker_reserve(const rs_server_conf *c);
int rs_hold_timeout(const rs_server_conf *c);
int rs_max_waiters(const rs_server_conf *c);
int rs_require_hold(const rs_server_conf *c);
apr_size_t rs_env_max(const rs_server_conf *c);
int rs_shared_slots(const rs_server_conf *c);
const char *rs_key_prefix(const rs_server_conf *c);

#endif
