/*
 * The session store: a named backend, in the way of httpd's socache
 * providers. A provider (memcached in store_memcached.c) registers under
 * RS_STORE_PROVIDER_GROUP; "RemoteSessionStore <name>:<spec>" picks it,
 * and a spec without a registered name before its first ':' is for
 * memcached, as it always was. Each child creates one instance of its
 * store; a request borrows one connection on first use and gives it back
 * in a pool cleanup. Callers see only this file: rs_store and rs_conn are
 * opaque, and what went wrong is a return code.
 */
#ifndef RS_STORE_H
#define RS_STORE_H

#include <httpd.h>

#define RS_STORE_PROVIDER_GROUP   "remote_session_store"
#define RS_STORE_PROVIDER_VERSION "1"   /* "1": with set_near, get_near */
#define RS_STORE_DEFAULT          "memcached"
#define RS_STORE_ERRLEN           160

typedef enum {
    RS_STORE_OK = 0,
    RS_STORE_MISS,      /* no such item */
    RS_STORE_EXISTS,    /* CAS lost, or add found an item: someone else won */
    RS_STORE_LOST,      /* the connection dropped (the server restarted) */
    RS_STORE_TIMEOUT,   /* the server did not answer in time */
    RS_STORE_ERROR      /* anything else failing */
} rs_store_rc;

/*
 * A backend. Instances and handles are the provider's own; err is a
 * buffer of RS_STORE_ERRLEN bytes for a failure's text, for the log (the
 * provider copies it: a library may free its own at the next call). TTLs
 * are seconds of idle time; a provider converts them as its server needs.
 */
typedef struct rs_store_provider {
    const char *name;
    /* At config time: NULL, or what is wrong with spec. */
    const char *(*check_spec)(apr_pool_t *p, const char *spec);
    /* In child_init: an instance serving up to max_conns at once. */
    void *(*create)(apr_pool_t *pchild, const char *spec, int max_conns,
                    const char **err);
    /* A connection, waiting a moment for one to free; NULL and err. */
    void *(*borrow)(void *instance, char *err);
    void (*give_back)(void *instance, void *handle);
    /* A connection outside the pool, for a thread that must never wait
     * for one; closed by close. */
    void *(*open)(void *instance, char *err);
    void (*close)(void *instance, void *handle);
    rs_store_rc (*get)(void *handle, apr_pool_t *p, const char *key,
                       const char **val, apr_size_t *len, apr_uint64_t *cas,
                       char *err);
    rs_store_rc (*add)(void *handle, const char *key, const char *val,
                       apr_size_t len, apr_uint32_t ttl, char *err);
    rs_store_rc (*cas)(void *handle, const char *key, const char *val,
                       apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas,
                       char *err);
    rs_store_rc (*touch)(void *handle, const char *key, apr_uint32_t ttl,
                         char *err);
    /* For a small item kept beside another (a watched record's companion):
     * on the server that holds the item named group. An unconditional
     * write, and a read of the value alone. */
    rs_store_rc (*set_near)(void *handle, const char *group, const char *key,
                            const char *val, apr_size_t len, apr_uint32_t ttl,
                            char *err);
    rs_store_rc (*get_near)(void *handle, apr_pool_t *p, const char *group,
                            const char *key, const char **val,
                            apr_size_t *len, char *err);
} rs_store_provider;

typedef struct rs_store rs_store;
typedef struct rs_conn rs_conn;

/* Splits "<name>:<spec>" when name is a registered provider; else the
 * default provider and the whole text. NULL when no provider is found. */
const rs_store_provider *rs_store_provider_of(apr_pool_t *p, const char *arg,
                                              const char **spec);

/* The child's instance of provider for spec; NULL and *err on failure. */
rs_store *rs_store_create(apr_pool_t *pchild, const rs_store_provider *prov,
                          const char *spec, int max_conns, const char **err);

/* The request's connection, borrowed on first use; NULL when none can be. */
rs_conn *rs_store_conn(request_rec *r, rs_store *store);

/* A connection for work outside a request; check rs_conn_ready. */
rs_conn *rs_store_borrow(rs_store *store, apr_pool_t *p);
void rs_store_give_back(rs_conn *conn);

/* A connection of its own, outside the pool (the lease thread's); it is
 * closed by rs_store_give_back. */
rs_conn *rs_store_own(rs_store *store, apr_pool_t *p);
int rs_conn_ready(const rs_conn *conn);

/*
 * The request's store work is done for now (the response, a handler, a
 * slow client may take long): the connection goes back to the pool at
 * once, and an operation after this borrows one again.
 */
void rs_store_idle(rs_conn *conn);

/* The text of the connection's last failure, and its backend's name. */
const char *rs_conn_error(const rs_conn *conn);
const char *rs_conn_backend(const rs_conn *conn);

/*
 * The operations, on a connection borrowed again if it was given back
 * (an error when none is free). A read, an add (its key is new), a
 * touch and the near ones are tried once more when the connection was
 * lost: a pooled connection to a server that restarted fails once, then
 * reconnects. A CAS write is not (it may have been applied).
 */
rs_store_rc rs_store_get(rs_conn *c, apr_pool_t *p, const char *key,
                         const char **val, apr_size_t *len,
                         apr_uint64_t *cas);
rs_store_rc rs_store_add(rs_conn *c, const char *key, const char *val,
                         apr_size_t len, apr_uint32_t ttl);
rs_store_rc rs_store_cas(rs_conn *c, const char *key, const char *val,
                         apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas);
rs_store_rc rs_store_touch(rs_conn *c, const char *key, apr_uint32_t ttl);
rs_store_rc rs_store_set_near(rs_conn *c, const char *group, const char *key,
                              const char *val, apr_size_t len,
                              apr_uint32_t ttl);
rs_store_rc rs_store_get_near(rs_conn *c, apr_pool_t *p, const char *group,
                              const char *key, const char **val,
                              apr_size_t *len);

#endif
