/*
 * memcached through libmemcached. Timeouts are short so that a dead
 * memcached costs a request about a second, and a dead server is retried
 * a second later (libmemcached counts whole seconds: up to two) so that
 * service resumes on its own.
 */
#include <string.h>
#include <apr_strings.h>
#include <libmemcached/memcached.h>
#include <libmemcachedutil-1.0/pool.h>
#include "store_memcached.h"

/* Ours first: the admin's own options, later in the string, win.
 * Consistent hashing: servers of a farm that list the same memcached pool
 * in another order still put a session on the same server (the default,
 * modula, depends on the order). */
#define MC_DEFAULTS "--CONNECT-TIMEOUT=300 --POLL-TIMEOUT=500 " \
    "--RCV-TIMEOUT=500000 --SND-TIMEOUT=500000 --RETRY-TIMEOUT=1 " \
    "--SUPPORT-CAS --TCP-NODELAY --DISTRIBUTION=consistent "

/* memcached reads an expiration past 30 days as a Unix time. */
#define MC_TTL_RELATIVE_MAX 2592000

static const char *full_spec(apr_pool_t *p, const char *spec, int max)
{
    return apr_psprintf(p, MC_DEFAULTS "--POOL-MAX=%d %s", max, spec);
}

static const char *mc_check_spec(apr_pool_t *p, const char *spec)
{
    char err[512] = "";
    const char *s = full_spec(p, spec, 1);
    if (!*spec) {
        return "RemoteSessionStore: the configuration is empty";
    }
    if (libmemcached_check_configuration(s, strlen(s), err, sizeof(err))
        != MEMCACHED_SUCCESS) {
        return apr_psprintf(p, "RemoteSessionStore: invalid libmemcached "
                            "configuration: %s", err);
    }
    return NULL;
}

typedef struct {
    memcached_pool_st *pool;
    const char *spec;       /* for connections outside the pool */
} mc_instance;

static apr_status_t destroy_pool(void *data)
{
    memcached_pool_destroy(data);
    return APR_SUCCESS;
}

static void *mc_create(apr_pool_t *pchild, const char *spec, int max_conns,
                       const char **err)
{
    mc_instance *mi = apr_pcalloc(pchild, sizeof(*mi));
    const char *s = full_spec(pchild, spec, max_conns);
    mi->spec = full_spec(pchild, spec, 1);
    mi->pool = memcached_pool(s, strlen(s));
    if (!mi->pool) {
        *err = "memcached_pool() refused the configuration";
        return NULL;
    }
    apr_pool_cleanup_register(pchild, mi->pool, destroy_pool,
                              apr_pool_cleanup_null);
    return mi;
}

static void *mc_borrow(void *instance, char *err)
{
    struct timespec wait = { 1, 0 };
    memcached_return_t rc;
    memcached_st *mc = memcached_pool_fetch(((mc_instance *)instance)->pool,
                                            &wait, &rc);
    if (!mc) {
        apr_cpystrn(err, memcached_strerror(NULL, rc), RS_STORE_ERRLEN);
    }
    return mc;
}

static void mc_give_back(void *instance, void *handle)
{
    memcached_pool_release(((mc_instance *)instance)->pool, handle);
}

static void *mc_open(void *instance, char *err)
{
    const char *s = ((mc_instance *)instance)->spec;
    memcached_st *mc = memcached(s, strlen(s));
    if (!mc) {
        apr_cpystrn(err, "memcached() refused the configuration",
                    RS_STORE_ERRLEN);
    }
    return mc;
}

static void mc_close(void *instance, void *handle)
{
    memcached_free(handle);
}

static time_t expiration(apr_uint32_t seconds)
{
    if (seconds > MC_TTL_RELATIVE_MAX) {
        return (time_t)apr_time_sec(apr_time_now()) + seconds;
    }
    return (time_t)seconds;
}

/* A dropped connection is worth one retry (store.c); a timeout is not:
 * the server is there but slow or hung. */
static rs_store_rc fail(memcached_st *mc, memcached_return_t rc, char *err)
{
    const char *msg = memcached_last_error_message(mc);
    apr_cpystrn(err, msg ? msg : memcached_strerror(mc, rc),
                RS_STORE_ERRLEN);
    switch (rc) {
    case MEMCACHED_CONNECTION_FAILURE: case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_READ_FAILURE: case MEMCACHED_UNKNOWN_READ_FAILURE:
        return RS_STORE_LOST;
    case MEMCACHED_TIMEOUT:
        return RS_STORE_TIMEOUT;
    default:
        return RS_STORE_ERROR;
    }
}

/* One item, on the server of group's item (group == key: its own). */
static rs_store_rc fetch_one(memcached_st *mc, apr_pool_t *p,
                             const char *group, const char *key,
                             const char **val, apr_size_t *len,
                             apr_uint64_t *cas, char *err)
{
    const char *keys[1] = { key };
    size_t lens[1] = { strlen(key) };
    memcached_result_st res, *got;
    memcached_return_t rc = group == key
        ? memcached_mget(mc, keys, lens, 1)
        : memcached_mget_by_key(mc, group, strlen(group), keys, lens, 1);
    rs_store_rc out = RS_STORE_MISS;

    if (rc != MEMCACHED_SUCCESS) {
        return fail(mc, rc, err);
    }
    memcached_result_create(mc, &res);
    /* Read to the end so the connection is clean for the next command. */
    while ((got = memcached_fetch_result(mc, &res, &rc))) {
        *len = memcached_result_length(got);
        *val = apr_pmemdup(p, memcached_result_value(got), *len);
        *cas = memcached_result_cas(got);
        out = RS_STORE_OK;
    }
    memcached_result_free(&res);
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND
        && rc != MEMCACHED_SUCCESS) {
        return fail(mc, rc, err);
    }
    return out;
}

static rs_store_rc mc_get(void *handle, apr_pool_t *p, const char *key,
                          const char **val, apr_size_t *len,
                          apr_uint64_t *cas, char *err)
{
    return fetch_one(handle, p, key, key, val, len, cas, err);
}

static rs_store_rc mc_get_near(void *handle, apr_pool_t *p,
                               const char *group, const char *key,
                               const char **val, apr_size_t *len, char *err)
{
    apr_uint64_t cas;
    return fetch_one(handle, p, group, key, val, len, &cas, err);
}

static rs_store_rc map_write(memcached_st *mc, memcached_return_t rc,
                             char *err)
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
        return fail(mc, rc, err);
    }
}

static rs_store_rc mc_add(void *handle, const char *key, const char *val,
                          apr_size_t len, apr_uint32_t ttl, char *err)
{
    return map_write(handle, memcached_add(handle, key, strlen(key), val, len,
                                           expiration(ttl), 0), err);
}

static rs_store_rc mc_cas(void *handle, const char *key, const char *val,
                          apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas,
                          char *err)
{
    return map_write(handle, memcached_cas(handle, key, strlen(key), val, len,
                                           expiration(ttl), 0, cas), err);
}

static rs_store_rc mc_touch(void *handle, const char *key, apr_uint32_t ttl,
                            char *err)
{
    return map_write(handle, memcached_touch(handle, key, strlen(key),
                                             expiration(ttl)), err);
}

static rs_store_rc mc_set_near(void *handle, const char *group,
                               const char *key, const char *val,
                               apr_size_t len, apr_uint32_t ttl, char *err)
{
    return map_write(handle, memcached_set_by_key(handle, group,
                                                  strlen(group), key,
                                                  strlen(key), val, len,
                                                  expiration(ttl), 0), err);
}

const rs_store_provider rs_store_memcached = {
    "memcached", mc_check_spec, mc_create, mc_borrow, mc_give_back,
    mc_open, mc_close, mc_get, mc_add, mc_cas, mc_touch, mc_set_near,
    mc_get_near
};
