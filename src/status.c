/*
 * A session operation's status as the HTTP answer both the endpoint and
 * SessionRequire give (INTERFACE.md, "Errors a user can meet").
 */
#include <apr_tables.h>
#include "status.h"

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
    default:
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}
