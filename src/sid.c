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

const char *rs_sid_store_key(apr_pool_t *p, const char *prefix,
                             const char *id)
{
    return apr_pstrcat(p, prefix ? prefix : RS_KEY_PREFIX, id, NULL);
}

/* n hex digits at *s, advancing it; *nonzero notes a digit not 0. */
static int hex_run(const char **s, int n, int *nonzero)
{
    for (; n > 0; n--, (*s)++) {
        if (!apr_isxdigit(**s)) {
            return 0;
        }
        *nonzero |= **s != '0';
    }
    return 1;
}

/* The peer's own ApiKey check: an optional brace or parenthesis at either
 * end, 8-4-4-4-12 hex digits, each dash optional. */
static int peer_form(const char *s, int *nonzero)
{
    static const int run[] = { 8, 4, 4, 4, 12 };
    int i;
    s += *s == '{' || *s == '(';
    for (i = 0; i < 5; i++) {
        if (!hex_run(&s, run[i], nonzero)) {
            return 0;
        }
        s += i < 4 && *s == '-';
    }
    s += *s == '}' || *s == ')';
    return *s == '\0';
}

/* Guid.TryParse's "X" spelling, {0x8,0x4,0x4,{0x2,0x2,0x2,0x2,0x2,0x2,
 * 0x2,0x2}}, which may have white space anywhere inside: TryParse drops it
 * before it reads the digits, and so does this. */
static int x_form(const char *key, int *nonzero)
{
    static const char layout[] = "{0x8,0x4,0x4,{0x2,0x2,0x2,0x2,0x2,0x2,"
                                 "0x2,0x2}}";
    char packed[80];
    const char *s = packed, *t;
    apr_size_t n = 0, len = strlen(key);

    if (!len || apr_isspace(key[0]) || apr_isspace(key[len - 1])) {
        return 0;   /* around it, the key could never match a header */
    }
    for (; *key; key++) {
        if (apr_isspace(*key)) {
            continue;
        }
        if (n == sizeof(packed) - 1) {
            return 0;
        }
        packed[n++] = *key;
    }
    packed[n] = '\0';
    for (t = layout; *t; t++) {
        if (*t >= '1' && *t <= '9') {
            if (!hex_run(&s, *t - '0', nonzero)) {
                return 0;
            }
        }
        else if (*t == 'x' ? (*s != 'x' && *s != 'X') : *s != *t) {
            return 0;
        }
        else {
            s++;
        }
    }
    return *s == '\0';
}

/* Every spelling either peer takes for a key: the ApiKey check of the
 * adapters, and Guid.TryParse's forms (N, D, B, P: all of the first;
 * X besides); never the all-zero GUID. Not white space around it: httpd
 * trims a header value, so such a key could never match. */
int rs_guid_valid(const char *key)
{
    int nonzero = 0;
    if (peer_form(key, &nonzero)) {
        return nonzero;
    }
    nonzero = 0;
    return x_form(key, &nonzero) && nonzero;
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
