/*
 * Server-wide counters, in the shared segment (shared.h), so that every
 * child adds to the same numbers and a graceful restart keeps them. Read
 * by the mod_status section and the remote-session-metrics handler
 * (metrics_page.c). Without a segment (unit tests) counting is a no-op.
 */
#ifndef RS_METRICS_H
#define RS_METRICS_H

#include <apr_pools.h>
#include <apr_time.h>

/* Keep in step with the names in metrics.c. */
typedef enum {
    RS_M_READONLY_GET,      /* requests by kind */
    RS_M_WRITEABLE_GET,
    RS_M_PUT,
    RS_M_POST,
    RS_M_REQUIRE_ON,
    RS_M_REQUIRE_READONLY,
    RS_M_CREATED,           /* sessions */
    RS_M_ABANDONED,
    RS_M_LOCK_WAITS,        /* writers that found the lock held */
    RS_M_LOCK_WAIT_USEC,    /* their total wait */
    RS_M_LOCK_WAIT_MAX_USEC,
    RS_M_WAIT_LE_1MS,       /* a histogram of those waits */
    RS_M_WAIT_LE_10MS,
    RS_M_WAIT_LE_100MS,
    RS_M_WAIT_LE_1S,
    RS_M_WAIT_LE_10S,
    RS_M_WAIT_GT_10S,
    RS_M_HANDOFFS,          /* a waiter got the lock its holder freed */
    RS_M_CAS_CONFLICTS,
    RS_M_TAKEOVERS,         /* stale leases taken over */
    RS_M_LOCK_TIMEOUTS,     /* 503 after RemoteSessionLockTimeout */
    RS_M_WAITERS_REFUSED,   /* 503 by RemoteSessionMaxWaiters */
    RS_M_STORE_LOST,        /* store errors by kind */
    RS_M_STORE_TIMEOUT,
    RS_M_STORE_ERROR,
    RS_M_REFUSED_400,       /* refused bodies */
    RS_M_REFUSED_413,
    RS_M_HELD_GETS,         /* gauges: right now */
    RS_M_WAITING_WRITERS,
    RS_M_COUNT
} rs_metric_e;

/* Bytes of shared memory the counters take (shared.c lays them out). */
apr_size_t rs_metrics_size(void);

/* Called by shared.c with the counters' place in the segment, or NULL. */
void rs_metrics_attach(void *base);

/* child_init: this child's part of the gauges is taken back when it
 * ends. */
void rs_metrics_child_init(apr_pool_t *pchild);

void rs_metric_add(rs_metric_e m, apr_int64_t n);
#define rs_metric_inc(m) rs_metric_add((m), 1)

/* A finished lock wait of usec: count, total, maximum, histogram. */
void rs_metric_wait(apr_interval_time_t usec);

/* The values now, summed over all children; 0 without a segment. */
void rs_metrics_read(apr_uint64_t out[RS_M_COUNT]);

/* Name (Prometheus, without the prefix), help text, 1 for a gauge. */
const char *rs_metric_name(rs_metric_e m);
const char *rs_metric_help(rs_metric_e m);
int rs_metric_is_gauge(rs_metric_e m);

#endif
