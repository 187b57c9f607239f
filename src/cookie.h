/*
 * The session cookie: reading the request's ID, setting a new one.
 */
#ifndef RS_COOKIE_H
#define RS_COOKIE_H

#include <httpd.h>
#include "config.h"

/* The request's session ID, or NULL when absent or not of our form. */
const char *rs_cookie_sid(request_rec *r, const char *cookie_name);

/* 1 when the request has the cookie, whatever its value. */
int rs_cookie_present(request_rec *r, const char *cookie_name);

/* Adds Set-Cookie for a new session's id to err_headers_out (kept on
 * error answers), as the server's configuration names and secures it,
 * and Cache-Control: no-cache="Set-Cookie". */
void rs_cookie_set_new(request_rec *r, const rs_server_conf *c,
                       const char *id);

#endif
