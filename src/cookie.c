/*
 * The session cookie. No client-chosen byte reaches a memcached key: a
 * cookie value that is not of our exact form is treated as no cookie.
 */
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <util_cookies.h>
#include "cookie.h"
#include "sid.h"

const char *rs_cookie_sid(request_rec *r, const char *cookie_name)
{
    const char *val = NULL;
    if (ap_cookie_read(r, cookie_name, &val, 0) != APR_SUCCESS || !val) {
        return NULL;
    }
    return rs_sid_valid(val) ? val : NULL;
}

int rs_cookie_present(request_rec *r, const char *cookie_name)
{
    const char *val = NULL;
    return ap_cookie_read(r, cookie_name, &val, 0) == APR_SUCCESS && val;
}

void rs_cookie_set_new(request_rec *r, const rs_server_conf *c,
                       const char *id)
{
    int https = !strcmp(ap_http_scheme(r), "https");
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_pstrcat(r->pool, rs_cookie_name(c), "=", id,
                               "; path=/; HttpOnly; SameSite=Lax",
                               rs_cookie_secure(c) || https ? "; Secure" : "",
                               NULL));
    /* A shared cache must never hand one client's new session to others;
     * the rest of the response stays as cacheable as its handler made it. */
    apr_table_mergen(r->err_headers_out, "Cache-Control",
                     "no-cache=\"Set-Cookie\"");
}
