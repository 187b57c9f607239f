/*
 * What the module's layers tell each other, and how it is logged and
 * answered: the log message IDs, the status of a session operation, and
 * its HTTP answer. Every layer may include this; it includes none of them.
 */
#ifndef RS_STATUS_H
#define RS_STATUS_H

#include <httpd.h>

/* Stable message IDs of our own, e.g. RSLOG(00001) gives "RS00001: ". */
#define RSLOG(n) "RS" #n ": "

/* The handler name of the endpoint (SetHandler remote-session). */
#define RS_HANDLER "remote-session"

typedef enum {
    RS_OK = 0,
    RS_NOT_FOUND,       /* no live session under this ID */
    RS_BUSY,            /* lock not obtained within RemoteSessionLockTimeout */
    RS_UNAVAILABLE,     /* the store failed or is unreachable */
    RS_CORRUPT,         /* the record does not decode; left untouched */
    RS_TOO_LARGE,       /* the state exceeds RemoteSessionMaxSize */
    RS_LOST,            /* our lock is gone: taken over, or session expired */
    RS_COMMITTED,       /* poll: a PUT committed our lock */
    RS_NOT_HELD,        /* PUT: no writeable GET holds the session */
    RS_ALREADY,         /* PUT: that lock was committed already */
    RS_REFUSED          /* a client's state does not fit the key registry */
} rs_status_e;

/* A status (already logged where it was decided) as an HTTP status, with
 * Retry-After on a 503: for the endpoint and SessionRequire alike. */
int rs_http_status(request_rec *r, rs_status_e st);

/* The request's error log as the session layer's log (log.h). */
const struct rs_log *rs_log_request(request_rec *r);

#endif
