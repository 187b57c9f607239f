/*
 * Session IDs and the API key's form: pure functions, fuzzed on their own.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_crypto.h>
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

const char *rs_sid_store_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, "remote-session:", id, NULL);
}

/* 32 hex digits, as 8-4-4-4-12 with dashes or without, braces optional. */
int rs_guid_valid(const char *key)
{
    static const int dash_at[] = { 8, 13, 18, 23 };
    apr_size_t n = strlen(key);
    int dashes, i, nonzero = 0;

    if (n >= 2 && key[0] == '{' && key[n - 1] == '}') {
        key++;
        n -= 2;
    }
    if (n != 32 && n != 36) {
        return 0;
    }
    dashes = n == 36;
    for (i = 0; i < (int)n; i++) {
        int want_dash = dashes && (i == dash_at[0] || i == dash_at[1]
                                   || i == dash_at[2] || i == dash_at[3]);
        if (want_dash ? key[i] != '-' : !apr_isxdigit(key[i])) {
            return 0;
        }
        nonzero |= !want_dash && key[i] != '0';
    }
    return nonzero;
}

/*
 * Constant time whatever the position of a mismatch: every byte of the
 * configured key is compared, whatever was sent. The length is no secret
 * (a GUID's form is public).
 */
int rs_key_equal(const char *given, const char *want)
{
    apr_size_t wl = strlen(want);
    int same_len = given && strlen(given) == wl;
    return apr_crypto_equals(same_len ? given : want, want, wl) && same_len;
}
