/*
 * IDs and cookies. No client-chosen byte reaches a memcached key: a cookie
 * value that is not of our exact form is treated as no cookie at all.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <http_protocol.h>
#include <util_cookies.h>
#include "sid.h"

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz012345";

const char *rs_sid_generate(apr_pool_t *p)
{
    unsigned char raw[15];
    char *id = apr_palloc(p, RS_SID_LEN + 1);
    int i;

    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        return NULL;
    }
    /* 8 characters from each 5 bytes (40 bits). */
    for (i = 0; i < RS_SID_LEN; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = raw[byte] << 8 | (byte + 1 < 15 ? raw[byte + 1] : 0);
        id[i] = alphabet[(v >> (11 - shift)) & 0x1F];
    }
    id[RS_SID_LEN] = '\0';
    return id;
}

int rs_sid_valid(const char *s)
{
    int i;
    for (i = 0; i < RS_SID_LEN; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '5'))) {
            return 0;
        }
    }
    return s[RS_SID_LEN] == '\0';
}

const char *rs_sid_from_cookie(request_rec *r, const char *cookie_name)
{
    const char *val = NULL;
    if (ap_cookie_read(r, cookie_name, &val, 0) != APR_SUCCESS || !val) {
        return NULL;
    }
    return rs_sid_valid(val) ? val : NULL;
}

void rs_sid_set_cookie(request_rec *r, const char *cookie_name,
                       const char *id, int secure)
{
    int https = !strcmp(ap_http_scheme(r), "https");
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_pstrcat(r->pool, cookie_name, "=", id,
                               "; path=/; HttpOnly; SameSite=Lax",
                               secure || https ? "; Secure" : "", NULL));
}

const char *rs_sid_store_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, "remote-session:", id, NULL);
}
