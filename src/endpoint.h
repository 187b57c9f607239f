/*
 * SetHandler remote-session: the remote app session endpoint of
 * docs/PROTOCOL.md, for the System.Web adapters session client.
 */
#ifndef RS_ENDPOINT_H
#define RS_ENDPOINT_H

#include <httpd.h>
#include "status.h"

int rs_endpoint_handler(request_rec *r);

/* header_parser: a method name of the protocol in another case gets the
 * spelling httpd's access control knows. */
int rs_endpoint_method(request_rec *r);

#endif
