/*
 * libFuzzer target: the validators that stand between a client's bytes
 * and a memcached key or the API key check. rs_sid_valid must accept
 * exactly 24 characters of a-z0-5; rs_guid_valid must never read past the
 * string and give, on every input, the verdict of the contract below
 * (PROTOCOL.md, README: every spelling either .NET peer takes, 32 hex
 * digits, never the all-zero GUID, no white space around it), as a
 * reference written here judges it: the fixed layouts of Guid.TryParse
 * (N, D, B, P, and X with white space inside), and the adapters' own ApiKey
 * check (a brace or parenthesis at either end, each dash optional), built
 * as every layout that check allows.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "sid.h"

static apr_pool_t *pool;

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
enum { FORM_N, FORM_D, FORM_B, FORM_P, FORM_X, NFORMS };
static const char *const form[NFORMS] = {
    "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh",
    "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh",
    "{hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh}",
    "(hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh)",
    "{0xhhhhhhhh,0xhhhh,0xhhhh,{0xhh,0xhh,0xhh,0xhh,0xhh,0xhh,0xhh,0xhh}}",
};

/* The adapters' check, as layouts: 3 openings x 16 dash sets x 3 ends. */
#define NPEER (3 * 16 * 3)
static char peer[NPEER][40];

static void make_peer_layouts(void)
{
    static const char *const open = "\0{(", *const close = "\0})";
    static const int run[] = { 8, 4, 4, 4, 12 };
    int o, d, c, i, k, n = 0;
    for (o = 0; o < 3; o++) {
        for (d = 0; d < 16; d++) {
            for (c = 0; c < 3; c++, n++) {
                char *t = peer[n];
                if (open[o]) {
                    *t++ = open[o];
                }
                for (i = 0; i < 5; i++) {
                    for (k = 0; k < run[i]; k++) {
                        *t++ = 'h';
                    }
                    if (i < 4 && (d >> i & 1)) {
                        *t++ = '-';
                    }
                }
                if (close[c]) {
                    *t++ = close[c];
                }
                *t = '\0';
            }
        }
    }
}

typedef struct {
    int accept;
    int form;       /* -1: none; NFORMS: an adapters' layout */
    int nonzero;    /* of the form found: a digit is not 0 */
    int padded;     /* white space around it */
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

/* s[0..n) without its ASCII white space, in out: the contract allows no
 * other inside X (TryParse would take any char.IsWhiteSpace). */
static size_t squeeze_white(const char *s, size_t n, char *out)
{
    size_t m = 0;
    for (; n; s++, n--) {
        if (!strchr("\t\n\v\f\r ", *s)) {
            out[m++] = *s;
        }
    }
    return m;
}

/* X alone allows white space anywhere inside. */
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
    r.padded = s != key || n != strlen(key);
    for (f = 0; f < NFORMS; f++) {
        if (has_form(f, s, n, scratch, &nonzero)) {
            r.form = f;
            r.nonzero = nonzero;
        }
    }
    for (f = 0; r.form < 0 && n >= 32 && n <= 38 && f < NPEER; f++) {
        if (fits_form(s, n, peer[f], &nonzero)) {
            r.form = NFORMS;
            r.nonzero = nonzero;
        }
    }
    r.accept = r.form >= 0 && r.nonzero && !r.padded;
    return r;
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
    { "{0X3f2504e0, 0x4f89, 0x11d3, {0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c,"
      " 0x33, 0x01}}", 1 },
    { " {0X3f2504e0, 0x4f89, 0x11d3, {0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c,"
      " 0x33, 0x01}}\n", 0 },
    { "\t3f2504e0-4f89-11d3-9a0c-0305e82c3301\xc2\xa0", 0 },
    { "00000000-0000-0000-0000-000000000000", 0 },
    { "{00000000000000000000000000000000}", 0 },
    { "(00000000-0000-0000-0000-000000000000}", 0 },
    { "3f2504e04-f89-11d3-9a0c-0305e82c3301", 0 },
    { "3f2504e0-4f89-11d3-9a0c0305e82c3301", 1 },
    { "{3f2504e04f8911d39a0c0305e82c3301}", 1 },
    { "(3f2504e04f8911d39a0c0305e82c3301)", 1 },
    { "(3f2504e0-4f89-11d3-9a0c-0305e82c3301}", 1 },
    { "{3f2504e0-4f89-11d3-9a0c-0305e82c3301", 1 },
    { "{{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", 0 },
    { "3f2504e0--4f89-11d3-9a0c-0305e82c3301", 0 },
    { "+0x2504e0-4f89-11d3-9a0c-0305e82c3301", 0 },
    { "3f2504e0-4f89-11d3-9a0c-0305e82c330g", 0 },
    { "3f2504e0-4f89-11d3-9a0c-0305e82c3301-", 0 },
    { "", 0 },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char scratch[128];
    unsigned i;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    make_peer_layouts();
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
    if (module != r.accept) {
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
