/*
 * SetHandler remote-session: the remote app session endpoint of
 * PROTOCOL.md, for the System.Web adapters session client.
 */
#ifndef RS_ENDPOINT_H
#define RS_ENDPOINT_H

#include <httpd.h>

#define RS_HANDLER "remote-session"

int rs_endpoint_handler(request_rec *r);

/* Shared with SessionRequire: an rs_status_e (already logged where it was
 * decided) as an HTTP status, with Retry-After on a 503. */
int rs_http_status(request_rec *r, int status);

#endif
