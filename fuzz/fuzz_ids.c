/*
 * libFuzzer target: the validators that stand between a client's bytes
 * and a memcached key or the API key check. rs_sid_valid must accept
 * exactly 24 characters of a-z0-5; rs_guid_valid must never read past the
 * string and accept only 32 hex digits (dashes at 8-4-4-4-12, braces).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "sid.h"

static int sid_by_definition(const char *s)
{
    size_t i, n = strlen(s);
    if (n != RS_SID_LEN) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyz012345", s[i])) {
            return 0;
        }
    }
    return 1;
}

static int hex_digits(const char *s)
{
    int n = 0;
    for (; *s; s++) {
        n += apr_isxdigit(*s) != 0;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static apr_pool_t *p;
    char *s;

    if (!p) {
        apr_initialize();
        apr_pool_create(&p, NULL);
    }
    s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    if (rs_sid_valid(s) != sid_by_definition(s)) {
        abort();
    }
    if (rs_guid_valid(s) && hex_digits(s) != 32) {
        abort();
    }
    if (!rs_sid_valid(rs_sid_generate(p))) {
        abort();
    }
    free(s);
    return 0;
}
