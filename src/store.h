/*
 * The session store: memcached through libmemcached, behind a small table
 * of operations. Each child owns one memcached_pool_st; a request borrows
 * one connection on first use and gives it back in an r->pool cleanup.
 */
#ifndef RS_STORE_H
#define RS_STORE_H

#include <httpd.h>

typedef enum {
    RS_STORE_OK = 0,
    RS_STORE_MISS,      /* no such item */
    RS_STORE_EXISTS,    /* CAS lost, or add found an item: someone else won */
    RS_STORE_ERROR      /* memcached unreachable or failing */
} rs_store_rc;

typedef struct rs_store rs_store;
typedef struct rs_conn rs_conn;

typedef struct {
    rs_store_rc (*get)(rs_conn *c, apr_pool_t *p, const char *key,
                       const char **val, apr_size_t *len, apr_uint64_t *cas);
    rs_store_rc (*add)(rs_conn *c, const char *key, const char *val,
                       apr_size_t len, apr_uint32_t ttl);
    rs_store_rc (*cas)(rs_conn *c, const char *key, const char *val,
                       apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas);
    rs_store_rc (*touch)(rs_conn *c, const char *key, apr_uint32_t ttl);
} rs_store_ops;

struct rs_conn {
    const rs_store_ops *ops;
    void *handle;
    char error[160];        /* the last failure, for the log: a copy, since
                             * libmemcached frees its own at the next call */
    int lost;               /* ... and it was a dropped connection */
    int timed_out;          /* ... or a server that did not answer */
};

/* Checks a RemoteSessionStore string at config time; NULL or a message. */
const char *rs_store_check_spec(apr_pool_t *p, const char *spec);

/* Creates the child's pool of connections; NULL and *err on failure. */
rs_store *rs_store_create(apr_pool_t *pchild, const char *spec,
                          int max_conns, const char **err);

/* The request's connection, borrowed on first use; NULL when none can be. */
rs_conn *rs_store_conn(request_rec *r, rs_store *store);

/* A connection for work outside a request (conn->handle NULL: none). */
rs_conn *rs_store_borrow(rs_store *store, apr_pool_t *p);
void rs_store_give_back(rs_conn *conn);

/* Seconds of idle time as a memcached expiration (absolute past 30 days). */
apr_uint32_t rs_store_ttl(apr_uint32_t seconds);

#endif
