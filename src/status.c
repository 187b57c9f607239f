/*
 * A session operation's status as the HTTP answer both the endpoint and
 * SessionRequire give (INTERFACE.md, "Errors a user can meet").
 */
#include <apr_tables.h>
#include "status.h"
#include "log.h"
#include <http_log.h>

APLOG_USE_MODULE(remote_session);

int rs_http_status(request_rec *r, rs_status_e st)
{
    switch (st) {
    case RS_OK:
        return OK;
    case RS_BUSY:
    case RS_UNAVAILABLE:
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return HTTP_SERVICE_UNAVAILABLE;
    case RS_TOO_LARGE:
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    case RS_REFUSED:
        return HTTP_BAD_REQUEST;
    default:
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

static int wants(const rs_log *log, int level)
{
    return APLOG_R_MODULE_IS_LEVEL((const request_rec *)log->ctx,
                                   APLOG_MODULE_INDEX, level);
}

static void emit(const rs_log *log, const char *file, int line, int level,
                 const char *msg)
{
    ap_log_rerror_(file, line, APLOG_MODULE_INDEX, level, 0, log->ctx,
                   "%s", msg);
}

const rs_log *rs_log_request(request_rec *r)
{
    rs_log *log = apr_palloc(r->pool, sizeof(*log));
    log->wants = wants;
    log->emit = emit;
    log->ctx = r;
    return log;
}
