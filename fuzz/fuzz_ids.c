/*
 * libFuzzer target: the validators that stand between a client's bytes
 * and a memcached key or the API key check. rs_sid_valid must accept
 * exactly 24 characters of a-z0-5; rs_guid_valid must never read past the
 * string and give, on every input, the verdict of the contract below
 * (PROTOCOL.md: any spelling .NET Guid.TryParse accepts, 32 hex digits,
 * the all-zero GUID refused), as a reference parser written here judges it.
 *
 * Where the module departs from that contract today, the departure is
 * named in tolerated() and allowed, so that the target still pins every
 * other input; FUZZ_GUID_STRICT=1 in the environment allows none of them.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "sid.h"

static apr_pool_t *pool;
static int strict;

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

/*
 * The reference. TryParse trims what char.IsWhiteSpace calls white space
 * (the config line is UTF-8, so the non-ASCII ones as their UTF-8 bytes),
 * then takes the first character to pick one form, each of fixed layout.
 * "32 hex digits" rules out the compatibility spellings TryParse still
 * takes (a "+" or "0x" inside a D component, X components of any width).
 */
static const char *const white[] = {
    "\t", "\n", "\v", "\f", "\r", " ", "\xc2\x85", "\xc2\xa0",
    "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82",
    "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86",
    "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a",
    "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f",
    "\xe3\x80\x80",
};
#define NWHITE (sizeof(white) / sizeof(white[0]))

/* Templates: 'h' a hex digit, 'x' the x of "0x" in either case. */
enum { FORM_N, FORM_D, FORM_B, FORM_P, FORM_X, FORM_BRACED_N, NFORMS };
static const char *const form[NFORMS] = {
    "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh",
    "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh",
    "{hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh}",
    "(hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh)",
    "{0xhhhhhhhh,0xhhhh,0xhhhh,{0xhh,0xhh,0xhh,0xhh,0xhh,0xhh,0xhh,0xhh}}",
    /* Not a TryParse form ('{' without '-' is read as X); recognised so
     * that tolerated() can name it. */
    "{hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh}",
};

typedef struct {
    int accept;
    int form;       /* -1: none */
    int nonzero;    /* of the form found: a digit is not 0 */
    int padded;     /* white space was trimmed */
} guid_ref_t;

/* The length of the white space s[0..n) starts (or ends) with; 0: none. */
static size_t white_at(const char *s, size_t n, int at_end)
{
    size_t i, k;
    /* Called on every byte of a long input: the usual answer, fast. */
    if (!at_end && n && !strchr("\t\n\v\f\r \xc2\xe1\xe2\xe3", *s)) {
        return 0;
    }
    for (i = 0; i < NWHITE; i++) {
        k = strlen(white[i]);
        if (k <= n && !memcmp(at_end ? s + n - k : s, white[i], k)) {
            return k;
        }
    }
    return 0;
}

/* 1 when s[0..n) has the layout t; *nonzero says if a digit is not 0. */
static int fits_form(const char *s, size_t n, const char *t, int *nonzero)
{
    size_t i;
    *nonzero = 0;
    if (n != strlen(t)) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (t[i] == 'h') {
            if (!c || !strchr("0123456789abcdefABCDEF", c)) {
                return 0;
            }
            *nonzero |= c != '0';
        }
        else if (t[i] == 'x' ? c != 'x' && c != 'X' : c != t[i]) {
            return 0;
        }
    }
    return 1;
}

/* s[0..n) without its white space, in out. */
static size_t squeeze_white(const char *s, size_t n, char *out)
{
    size_t k, m = 0;
    while (n) {
        if ((k = white_at(s, n, 0))) {
            s += k;
            n -= k;
            continue;
        }
        out[m++] = *s++;
        n--;
    }
    return m;
}

/* TryParse reads a key starting '{' without '-' as X, which alone allows
 * white space anywhere. */
static int has_form(int f, const char *s, size_t n, char *scratch,
                    int *nonzero)
{
    if (f == FORM_X) {
        return n && *s == '{'
            && fits_form(scratch, squeeze_white(s, n, scratch), form[f],
                         nonzero);
    }
    return fits_form(s, n, form[f], nonzero);
}

static guid_ref_t guid_by_contract(const char *key, char *scratch)
{
    guid_ref_t r = { 0, -1, 0, 0 };
    const char *s = key;
    size_t k, n = strlen(s);
    int f, nonzero;

    while ((k = white_at(s, n, 0))) {
        s += k;
        n -= k;
    }
    while ((k = white_at(s, n, 1))) {
        n -= k;
    }
    r.padded = s != key || n != strlen(s);
    for (f = 0; f < NFORMS; f++) {
        if (has_form(f, s, n, scratch, &nonzero)) {
            r.form = f;
            r.nonzero = nonzero;
            r.accept = nonzero && f != FORM_BRACED_N;
        }
    }
    return r;
}

/*
 * The module's known departures from the contract (issue 16), each in
 * the one direction seen: it takes "{" N "}" (as the peer's own ApiKey
 * check does), and refuses P, X and a trimmed key.
 */
static int tolerated(const guid_ref_t *r, int module)
{
    if (strict) {
        return 0;
    }
    if (module) {
        return r->form == FORM_BRACED_N && r->nonzero && !r->padded;
    }
    return r->accept && (r->form == FORM_P || r->form == FORM_X
                         || r->padded);
}

/* A wrong reference would make every verdict meaningless: pin it. */
static const struct {
    const char *key;
    int accept;
} known[] = {
    { "3f2504e04f8911d39a0c0305e82c3301", 1 },
    { "3F2504E0-4F89-11D3-9A0C-0305E82C3301", 1 },
    { "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", 1 },
    { "(3f2504e0-4f89-11d3-9a0c-0305e82c3301)", 1 },
    { "{0x3f2504e0,0x4f89,0x11d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}}",
      1 },
    { " {0X3f2504e0, 0x4f89, 0x11d3, {0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c,"
      " 0x33, 0x01}}\n", 1 },
    { "\t3f2504e0-4f89-11d3-9a0c-0305e82c3301\xc2\xa0", 1 },
    { "00000000-0000-0000-0000-000000000000", 0 },
    { "{00000000000000000000000000000000}", 0 },
    { "3f2504e04-f89-11d3-9a0c-0305e82c3301", 0 },
    { "3f2504e0-4f89-11d3-9a0c0305e82c3301", 0 },
    { "{3f2504e04f8911d39a0c0305e82c3301}", 0 },
    { "(3f2504e0-4f89-11d3-9a0c-0305e82c3301}", 0 },
    { "+0x2504e0-4f89-11d3-9a0c-0305e82c3301", 0 },
    { "3f2504e0-4f89-11d3-9a0c-0305e82c330g", 0 },
    { "3f2504e0-4f89-11d3-9a0c-0305e82c3301-", 0 },
    { "", 0 },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *s = getenv("FUZZ_GUID_STRICT");
    char scratch[128];
    unsigned i;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    strict = s && *s && strcmp(s, "0");
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (guid_by_contract(known[i].key, scratch).accept
            != known[i].accept) {
            abort();
        }
    }
    return 0;
}

static void check_guid(const char *s, char *scratch)
{
    guid_ref_t r = guid_by_contract(s, scratch);
    int module = rs_guid_valid(s);
    if (module != r.accept && !tolerated(&r, module)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *s = malloc(size + 1), *scratch = malloc(size + 1);
    const char *id;

    memcpy(s, data, size);
    s[size] = '\0';
    if (rs_sid_valid(s) != sid_by_definition(s)) {
        abort();
    }
    check_guid(s, scratch);
    id = rs_sid_generate(pool);
    if (!id || !rs_sid_valid(id)) {
        abort();
    }
    /* One ID an execution, for hours: the pool must not keep them. */
    apr_pool_clear(pool);
    free(scratch);
    free(s);
    return 0;
}
