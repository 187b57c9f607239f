/*
 * Session IDs and the session cookie. An ID is 24 characters of a-z0-5,
 * 15 random bytes at 5 bits a character, as the framework peer makes them.
 */
#ifndef RS_SID_H
#define RS_SID_H

#include <httpd.h>

#define RS_SID_LEN 24

/* A fresh ID from apr_generate_random_bytes; NULL if no entropy. */
const char *rs_sid_generate(apr_pool_t *p);

/* 1 when s is exactly an ID of our form. */
int rs_sid_valid(const char *s);

/* The request's session ID, or NULL when absent or not of our form. */
const char *rs_sid_from_cookie(request_rec *r, const char *cookie_name);

/* Adds Set-Cookie for id to err_headers_out (kept on error answers). */
void rs_sid_set_cookie(request_rec *r, const char *cookie_name,
                       const char *id, int secure);

/* The memcached key of a session. */
const char *rs_sid_store_key(apr_pool_t *p, const char *id);

#endif
