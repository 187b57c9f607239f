/*
 * memcached through libmemcached. Timeouts are short so that a dead
 * memcached costs a request about a second, and a dead server is retried
 * a second later so that service resumes on its own.
 */
#include <string.h>
#include <apr_strings.h>
#include <libmemcached/memcached.h>
#include <libmemcachedutil-1.0/pool.h>
#include "store.h"
#include "config.h"
#include <http_log.h>

APLOG_USE_MODULE(remote_session);

/* Ours first: the admin's own options, later in the string, win. */
#define RS_STORE_DEFAULTS "--CONNECT-TIMEOUT=300 --POLL-TIMEOUT=500 " \
    "--RCV-TIMEOUT=500000 --SND-TIMEOUT=500000 --RETRY-TIMEOUT=1 " \
    "--SUPPORT-CAS --TCP-NODELAY "

/* memcached reads an expiration past 30 days as a Unix time. */
#define RS_TTL_RELATIVE_MAX 2592000

struct rs_store {
    memcached_pool_st *pool;
};

typedef struct {
    rs_conn conn;
    rs_store *store;
} borrowed_t;

static const char *full_spec(apr_pool_t *p, const char *spec, int max)
{
    return apr_psprintf(p, RS_STORE_DEFAULTS "--POOL-MAX=%d %s", max, spec);
}

const char *rs_store_check_spec(apr_pool_t *p, const char *spec)
{
    char err[512] = "";
    const char *s = full_spec(p, spec, 1);
    if (libmemcached_check_configuration(s, strlen(s), err, sizeof(err))
        != MEMCACHED_SUCCESS) {
        return apr_psprintf(p, "RemoteSessionStore: invalid libmemcached "
                            "configuration: %s", err);
    }
    return NULL;
}

static apr_status_t destroy_pool(void *data)
{
    memcached_pool_destroy(((rs_store *)data)->pool);
    return APR_SUCCESS;
}

rs_store *rs_store_create(apr_pool_t *pchild, const char *spec,
                          int max_conns, const char **err)
{
    rs_store *st = apr_pcalloc(pchild, sizeof(*st));
    const char *s = full_spec(pchild, spec, max_conns);
    st->pool = memcached_pool(s, strlen(s));
    if (!st->pool) {
        *err = "memcached_pool() refused the configuration";
        return NULL;
    }
    apr_pool_cleanup_register(pchild, st, destroy_pool,
                              apr_pool_cleanup_null);
    return st;
}

apr_uint32_t rs_store_ttl(apr_uint32_t seconds)
{
    if (seconds > RS_TTL_RELATIVE_MAX) {
        return (apr_uint32_t)apr_time_sec(apr_time_now()) + seconds;
    }
    return seconds;
}

static memcached_st *mc(rs_conn *c)
{
    return c->handle;
}

/* A pooled connection the server dropped (it restarted): worth one retry.
 * A timeout is not: the server is there but slow or hung. */
static int connection_lost(memcached_return_t rc)
{
    return rc == MEMCACHED_CONNECTION_FAILURE || rc == MEMCACHED_WRITE_FAILURE
        || rc == MEMCACHED_READ_FAILURE
        || rc == MEMCACHED_UNKNOWN_READ_FAILURE;
}

static rs_store_rc fail(rs_conn *c, memcached_return_t rc)
{
    const char *msg;

    c->lost = connection_lost(rc);
    c->timed_out = rc == MEMCACHED_TIMEOUT;
    msg = memcached_last_error_message(mc(c));
    apr_cpystrn(c->error, msg ? msg : memcached_strerror(mc(c), rc),
                sizeof(c->error));
    return RS_STORE_ERROR;
}

static rs_store_rc mc_get_once(rs_conn *c, apr_pool_t *p, const char *key,
                               const char **val, apr_size_t *len,
                               apr_uint64_t *cas)
{
    const char *keys[1] = { key };
    size_t lens[1] = { strlen(key) };
    memcached_result_st res, *got;
    memcached_return_t rc = memcached_mget(mc(c), keys, lens, 1);
    rs_store_rc out = RS_STORE_MISS;

    if (rc != MEMCACHED_SUCCESS) {
        return fail(c, rc);
    }
    memcached_result_create(mc(c), &res);
    /* Read to the end so the connection is clean for the next command. */
    while ((got = memcached_fetch_result(mc(c), &res, &rc))) {
        *len = memcached_result_length(got);
        *val = apr_pmemdup(p, memcached_result_value(got), *len);
        *cas = memcached_result_cas(got);
        out = RS_STORE_OK;
    }
    memcached_result_free(&res);
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND
        && rc != MEMCACHED_SUCCESS) {
        return fail(c, rc);
    }
    return out;
}

/*
 * A pooled connection to a memcached that restarted fails once, then
 * reconnects: a read is safe to try again at once; a CAS write is not (it
 * may have been applied), and always follows a read on its connection.
 * Only a lost connection is retried, never a timeout.
 */
static rs_store_rc mc_get(rs_conn *c, apr_pool_t *p, const char *key,
                          const char **val, apr_size_t *len,
                          apr_uint64_t *cas)
{
    rs_store_rc rc = mc_get_once(c, p, key, val, len, cas);
    return rc == RS_STORE_ERROR && c->lost
           ? mc_get_once(c, p, key, val, len, cas) : rc;
}

static rs_store_rc map_write(rs_conn *c, memcached_return_t rc)
{
    switch (rc) {
    case MEMCACHED_SUCCESS:
    case MEMCACHED_STORED:
        return RS_STORE_OK;
    case MEMCACHED_DATA_EXISTS:
    case MEMCACHED_NOTSTORED:
        return RS_STORE_EXISTS;
    case MEMCACHED_NOTFOUND:
        return RS_STORE_MISS;
    default:
        return fail(c, rc);
    }
}

/*
 * An add is retried like a read: its key is new and random, so if the
 * first try did land, the second finds it and the caller draws another ID.
 */
static rs_store_rc mc_add(rs_conn *c, const char *key, const char *val,
                          apr_size_t len, apr_uint32_t ttl)
{
    rs_store_rc rc = map_write(c, memcached_add(mc(c), key, strlen(key), val,
                                                len, (time_t)ttl, 0));
    if (rc == RS_STORE_ERROR && c->lost) {
        rc = map_write(c, memcached_add(mc(c), key, strlen(key), val, len,
                                        (time_t)ttl, 0));
    }
    return rc;
}

static rs_store_rc mc_cas(rs_conn *c, const char *key, const char *val,
                          apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas)
{
    return map_write(c, memcached_cas(mc(c), key, strlen(key), val, len,
                                      (time_t)ttl, 0, cas));
}

static rs_store_rc mc_touch(rs_conn *c, const char *key, apr_uint32_t ttl)
{
    rs_store_rc rc = map_write(c, memcached_touch(mc(c), key, strlen(key),
                                                  (time_t)ttl));
    if (rc == RS_STORE_ERROR && c->lost) {
        rc = map_write(c, memcached_touch(mc(c), key, strlen(key),
                                          (time_t)ttl));
    }
    return rc;
}

static const rs_store_ops memcached_ops = { mc_get, mc_add, mc_cas, mc_touch };

rs_conn *rs_store_borrow(rs_store *store, apr_pool_t *p)
{
    borrowed_t *b = apr_pcalloc(p, sizeof(*b));
    memcached_return_t rc;
    struct timespec wait = { 1, 0 };

    b->store = store;
    b->conn.ops = &memcached_ops;
    b->conn.handle = memcached_pool_fetch(store->pool, &wait, &rc);
    if (!b->conn.handle) {
        apr_cpystrn(b->conn.error, memcached_strerror(NULL, rc),
                    sizeof(b->conn.error));
    }
    return &b->conn;
}

void rs_store_give_back(rs_conn *c)
{
    borrowed_t *b = (borrowed_t *)c;
    if (c->handle) {
        memcached_pool_release(b->store->pool, c->handle);
        c->handle = NULL;
    }
}

static apr_status_t give_back(void *data)
{
    rs_store_give_back(data);
    return APR_SUCCESS;
}

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
                      "no memcached connection free in this child: %s",
                      c->error);
        return NULL;
    }
    apr_pool_cleanup_register(top->pool, c, give_back, apr_pool_cleanup_null);
    apr_pool_userdata_setn(c, note, NULL, top->pool);
    return c;
}
