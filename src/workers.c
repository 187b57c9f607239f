/*
 * Free workers counted on httpd's scoreboard, which every child shares,
 * so that the reserve holds across children (prefork has one worker per
 * child). The count is a snapshot: two writers arriving together may both
 * pass, which costs a worker of the reserve, never correctness.
 */
#include <ap_mpm.h>
#include <http_log.h>
#include <scoreboard.h>
#include "workers.h"

APLOG_USE_MODULE(remote_session);

/* Statuses that keep a worker from taking a new request for long. A
 * request being logged or its connection closing is done in moments, and
 * counted free. An async MPM (event) parks idle keep-alive connections
 * without a worker; prefork's children wait on them. */
static int is_busy(int status, int async)
{
    switch (status) {
    case SERVER_BUSY_READ: case SERVER_BUSY_WRITE: case SERVER_BUSY_DNS:
    case SERVER_GRACEFUL:
        return 1;
    case SERVER_BUSY_KEEPALIVE:
        return !async;
    default:
        return 0;
    }
}

static int busy_workers(void)
{
    int daemons = 0, threads = 0, async = 0, busy = 0, i, j;
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads);
    ap_mpm_query(AP_MPMQ_IS_ASYNC, &async);
    for (i = 0; i < daemons; i++) {
        if (!ap_get_scoreboard_process(i)->pid) {
            continue;
        }
        for (j = 0; j < (threads > 0 ? threads : 1); j++) {
            busy += is_busy(ap_get_scoreboard_worker_from_indexes(i, j)
                            ->status, async);
        }
    }
    return busy;
}

static int max_workers(void)
{
    int daemons = 0, threads = 0;
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    return daemons * (threads > 0 ? threads : 1);
}

rs_status_e rs_workers_spare(request_rec *r, const rs_server_conf *c,
                             const char *id)
{
    int max, busy, reserve = rs_worker_reserve(c);
    if (!reserve || !ap_exists_scoreboard_image()) {
        return RS_OK;
    }
    max = max_workers();
    /* A server too small for the reserve keeps half for the writers. */
    if (reserve > max / 2) {
        reserve = max / 2;
    }
    busy = busy_workers();
    if (max - busy >= reserve) {
        return RS_OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, RSLOG(00070)
                  "session %s: %d of %d workers busy: writeable request "
                  "refused, so that %d stay free for read-only GETs and "
                  "PUTs (RemoteSessionWorkerReserve; raise "
                  "MaxRequestWorkers)", id ? id : "(new)", busy, max,
                  reserve);
    return RS_UNAVAILABLE;
}
