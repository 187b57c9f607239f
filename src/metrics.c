/*
 * The counters: one 64-bit word each, added to atomically by every child
 * (no lock: a reader may see one counter a step ahead of another, which a
 * scrape tolerates).
 */
#include <apr_atomic.h>
#include "metrics.h"

static volatile apr_uint64_t *counters;

/* This child's part of the gauges, taken back when the child ends (a
 * hard restart ends children with GETs held and writers waiting). */
static volatile apr_uint64_t local[RS_M_COUNT];
static int tracking;

static const struct {
    const char *name;
    const char *help;
    int gauge;
} info[RS_M_COUNT] = {
    { "readonly_get_total", "read-only endpoint GETs", 0 },
    { "writeable_get_total", "writeable endpoint GETs", 0 },
    { "put_total", "endpoint PUTs", 0 },
    { "post_total", "endpoint POSTs", 0 },
    { "require_on_total", "SessionRequire On requests", 0 },
    { "require_readonly_total", "SessionRequire ReadOnly requests", 0 },
    { "sessions_created_total", "sessions created", 0 },
    { "sessions_abandoned_total", "sessions abandoned", 0 },
    { "lock_waits_total", "writers that found the lock held and waited", 0 },
    { "lock_wait_seconds_total", "time writers waited for a lock", 0 },
    { "lock_wait_max_seconds", "longest wait for a lock", 1 },
    { "lock_waits_le_1ms_total", "lock waits of at most 1 ms", 0 },
    { "lock_waits_le_10ms_total", "lock waits of at most 10 ms", 0 },
    { "lock_waits_le_100ms_total", "lock waits of at most 100 ms", 0 },
    { "lock_waits_le_1s_total", "lock waits of at most 1 s", 0 },
    { "lock_waits_le_10s_total", "lock waits of at most 10 s", 0 },
    { "lock_waits_gt_10s_total", "lock waits of more than 10 s", 0 },
    { "handoffs_total", "locks a waiter took once its holder freed them", 0 },
    { "cas_conflicts_total", "CAS writes that lost to another writer", 0 },
    { "takeovers_total", "locks taken over after their lease ran out", 0 },
    { "lock_timeouts_total", "writers refused after RemoteSessionLockTimeout",
      0 },
    { "waiters_refused_total", "writers refused by RemoteSessionMaxWaiters",
      0 },
    { "store_lost_total", "store operations that lost their connection", 0 },
    { "store_timeout_total", "store operations that timed out", 0 },
    { "store_error_total", "store operations that failed otherwise", 0 },
    { "refused_400_total", "request bodies refused with 400", 0 },
    { "refused_413_total", "request bodies refused with 413", 0 },
    { "held_gets", "writeable GETs holding a lock now", 1 },
    { "waiting_writers", "writers waiting for a lock now", 1 },
};

apr_size_t rs_metrics_size(void)
{
    return RS_M_COUNT * sizeof(apr_uint64_t);
}

void rs_metrics_attach(void *base)
{
    counters = base;
}

void rs_metric_add(rs_metric_e m, apr_int64_t n)
{
    if (counters) {
        /* a gauge's decrement: two's complement wraps back */
        apr_atomic_add64(&counters[m], (apr_uint64_t)n);
        if (tracking && info[m].gauge) {
            apr_atomic_add64(&local[m], (apr_uint64_t)n);
        }
    }
}

static apr_status_t give_back_gauges(void *data)
{
    int i;
    tracking = 0;
    for (i = 0; counters && i < RS_M_COUNT; i++) {
        apr_uint64_t n = apr_atomic_read64(&local[i]);
        if (info[i].gauge && n && i != RS_M_LOCK_WAIT_MAX_USEC) {
            apr_atomic_add64(&counters[i], (apr_uint64_t)0 - n);
        }
    }
    return APR_SUCCESS;
}

void rs_metrics_child_init(apr_pool_t *pchild)
{
    tracking = 1;
    apr_pool_cleanup_register(pchild, NULL, give_back_gauges,
                              apr_pool_cleanup_null);
}

static void raise_max(volatile apr_uint64_t *mem, apr_uint64_t v)
{
    apr_uint64_t seen = apr_atomic_read64(mem);
    while (v > seen) {
        apr_uint64_t was = apr_atomic_cas64(mem, v, seen);
        if (was == seen) {
            return;
        }
        seen = was;
    }
}

void rs_metric_wait(apr_interval_time_t usec)
{
    rs_metric_e bucket = usec <= 1000 ? RS_M_WAIT_LE_1MS
                       : usec <= 10000 ? RS_M_WAIT_LE_10MS
                       : usec <= 100000 ? RS_M_WAIT_LE_100MS
                       : usec <= 1000000 ? RS_M_WAIT_LE_1S
                       : usec <= 10000000 ? RS_M_WAIT_LE_10S
                       : RS_M_WAIT_GT_10S;
    if (!counters) {
        return;
    }
    rs_metric_inc(RS_M_LOCK_WAITS);
    rs_metric_add(RS_M_LOCK_WAIT_USEC, usec);
    rs_metric_inc(bucket);
    raise_max(&counters[RS_M_LOCK_WAIT_MAX_USEC], (apr_uint64_t)usec);
}

void rs_metrics_read(apr_uint64_t out[RS_M_COUNT])
{
    int i;
    for (i = 0; i < RS_M_COUNT; i++) {
        out[i] = counters ? apr_atomic_read64(&counters[i]) : 0;
    }
}

const char *rs_metric_name(rs_metric_e m)
{
    return info[m].name;
}

const char *rs_metric_help(rs_metric_e m)
{
    return info[m].help;
}

int rs_metric_is_gauge(rs_metric_e m)
{
    return info[m].gauge;
}
