/*
 * The session cookie: reading the request's ID, setting a new one.
 */
#ifndef RS_COOKIE_H
#define RS_COOKIE_H

#include <httpd.h>

/* The request's session ID, or NULL when absent or not of our form. */
const char *rs_sid_from_cookie(request_rec *r, const char *cookie_name);

/* 1 when the request has the cookie, whatever its value. */
int rs_cookie_present(request_rec *r, const char *cookie_name);

/* Adds Set-Cookie for id to err_headers_out (kept on error answers). */
void rs_sid_set_cookie(request_rec *r, const char *cookie_name,
                       const char *id, int secure);

#endif
