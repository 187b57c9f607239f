/*
 * Unit tests of the session state codec (src/codec.h) against PROTOCOL.md,
 * "Serialized session state".
 */
#include <stdlib.h>
#include <ctype.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "codec.h"
#include "unit.h"

#define MAX 1000000
#define N(a) (sizeof(a))

static apr_pool_t *pool;

/* Decodes from an exact-size heap copy, so that ASan sees any over-read. */
static const char *decode(const unsigned char *buf, apr_size_t len,
                          apr_size_t max, rs_state_t **out)
{
    unsigned char *copy = malloc(len ? len : 1);
    const char *err;
    if (len)
        memcpy(copy, buf, len);
    *out = NULL;
    err = rs_state_decode(pool, copy, len, max, out);
    if (max >= len) {
        /* the scan of a stored state (no copies) agrees with the decoder */
        rs_scan_t scan;
        const char *serr = rs_state_scan(pool, copy, len, &scan);
        CHECK(!serr == !err, "scan and decode disagree: %s / %s",
              serr ? serr : "ok", err ? err : "ok");
    }
    free(copy);
    return err;
}

static rs_state_t *decode_ok(const char *what, const unsigned char *buf,
                             apr_size_t len, apr_size_t max)
{
    rs_state_t *st;
    const char *err = decode(buf, len, max, &st);
    CHECK(err == NULL && st != NULL, "%s: decode failed: %s", what,
          err ? err : "(no state)");
    return err ? NULL : st;
}

/* Case-insensitive search for any of the '|'-separated words. */
static int mentions(const char *msg, const char *words)
{
    char *ws = apr_pstrdup(pool, words), *last, *w;
    char *lmsg = apr_pstrdup(pool, msg ? msg : "");
    char *c;
    for (c = lmsg; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    for (w = apr_strtok(ws, "|", &last); w; w = apr_strtok(NULL, "|", &last)) {
        for (c = w; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (strstr(lmsg, w))
            return 1;
    }
    return 0;
}

static int has_digit(const char *s)
{
    for (; s && *s; s++)
        if (isdigit((unsigned char)*s))
            return 1;
    return 0;
}

/*
 * Expects a refusal. `words` ('|'-separated, any one suffices, case
 * insensitive) names the problem; positional errors must also give a byte
 * offset (a number). Returns the message (or "" when there was none).
 */
static const char *decode_bad(const char *what, const unsigned char *buf,
                              apr_size_t len, apr_size_t max,
                              const char *words, int positional)
{
    rs_state_t *st;
    const char *err = decode(buf, len, max, &st);
    CHECK(err != NULL, "%s: accepted hostile input", what);
    if (!err)
        return "";
    printf("    %-40s -> %s\n", what, err);
    CHECK(*err != '\0', "%s: empty error message", what);
    if (words)
        CHECK(mentions(err, words), "%s: message \"%s\" mentions none of %s",
              what, err, words);
    if (positional)
        CHECK(has_digit(err), "%s: message \"%s\" gives no byte offset",
              what, err);
    return err;
}

static void check_encodes(const char *what, const rs_state_t *st,
                          const unsigned char *exp, apr_size_t explen)
{
    apr_size_t len = 0;
    unsigned char *got = rs_state_encode(pool, st, &len);
    CHECK_BYTES(got, len, exp, explen);
    CHECK(rs_state_encoded_len(st) == explen, "%s: encoded_len %zu, want %zu",
          what, (size_t)rs_state_encoded_len(st), (size_t)explen);
}

static int same_items(const apr_array_header_t *a, const apr_array_header_t *b,
                      int values)
{
    int i;
    if (a->nelts != b->nelts)
        return 0;
    for (i = 0; i < a->nelts; i++) {
        const rs_item_t *x = &APR_ARRAY_IDX(a, i, rs_item_t);
        const rs_item_t *y = &APR_ARRAY_IDX(b, i, rs_item_t);
        if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len))
            return 0;
        if (values && (x->value_len != y->value_len
                       || memcmp(x->value, y->value, x->value_len)))
            return 0;
    }
    return 1;
}

static int same_state(const rs_state_t *a, const rs_state_t *b)
{
    return a->id_len == b->id_len && !memcmp(a->id, b->id, a->id_len)
        && !a->is_new == !b->is_new && !a->is_abandoned == !b->is_abandoned
        && !a->is_readonly == !b->is_readonly && a->timeout == b->timeout
        && same_items(a->items, b->items, 1)
        && same_items(a->unknown, b->unknown, 0);
}

/* The pointers and lengths of every decoded string are NUL-ended. */
static int nul_ended(const rs_state_t *st)
{
    int i;
    if (!st->id || st->id[st->id_len])
        return 0;
    for (i = 0; i < st->items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        if (!it->key || it->key[it->key_len] || !it->value
            || it->value[it->value_len])
            return 0;
    }
    for (i = 0; i < st->unknown->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->unknown, i, rs_item_t);
        if (!it->key || it->key[it->key_len])
            return 0;
    }
    return 1;
}

/* Encodes, checks the length, decodes, checks fields and re-encoding. */
static void round_trip(const char *what, const rs_state_t *st, apr_size_t max)
{
    apr_size_t len = 0, len2 = 0;
    unsigned char *buf = rs_state_encode(pool, st, &len), *buf2;
    rs_state_t *back;

    CHECK(rs_state_encoded_len(st) == len, "%s: encoded_len %zu != %zu", what,
          (size_t)rs_state_encoded_len(st), (size_t)len);
    back = decode_ok(what, buf, len, max);
    if (!back)
        return;
    CHECK(same_state(st, back), "%s: decoded state differs", what);
    CHECK(nul_ended(back), "%s: decoded strings not NUL-terminated", what);
    buf2 = rs_state_encode(pool, back, &len2);
    CHECK_BYTES(buf2, len2, buf, len);
}

/* ---- PROTOCOL.md examples, both directions ---- */

static void test_examples(void)
{
    static const unsigned char plain[] = {1, 2, 105, 100, 0, 0, 0, 0, 0, 0};
    static const unsigned char isnew[] = {1, 2, 105, 100, 1, 0, 0, 0, 0, 0};
    static const unsigned char aband[] = {1, 2, 105, 100, 0, 1, 0, 0, 0, 0};
    static const unsigned char ro[] = {1, 2, 105, 100, 0, 0, 1, 0, 0, 0};
    static const unsigned char t20[] = {1, 2, 105, 100, 0, 0, 0, 20, 0, 0};
    static const unsigned char item[] = {1, 2, 105, 100, 0, 0, 0, 0, 1,
                                         4, 107, 101, 121, 49, 1, 42, 0};
    rs_state_t *st;

    st = rs_state_make(pool, "id", 0);
    CHECK(st && st->id_len == 2 && st->items && st->items->nelts == 0
          && st->unknown && st->unknown->nelts == 0 && !st->is_new,
          "rs_state_make gives an empty state");
    check_encodes("plain", st, plain, N(plain));
    st->is_new = 1;
    check_encodes("IsNewSession", st, isnew, N(isnew));
    st->is_new = 0;
    st->is_abandoned = 1;
    check_encodes("IsAbandoned", st, aband, N(aband));
    st->is_abandoned = 0;
    st->is_readonly = 1;
    check_encodes("IsReadOnly", st, ro, N(ro));
    st->is_readonly = 7;     /* any true value is written as 1 */
    check_encodes("IsReadOnly=7", st, ro, N(ro));
    st = rs_state_make(pool, "id", 20);
    check_encodes("Timeout 20", st, t20, N(t20));
    st = rs_state_make(pool, "id", 0);
    rs_state_set(pool, st, "key1", 4, "*", 1);
    check_encodes("one item", st, item, N(item));

    if ((st = decode_ok("plain", plain, N(plain), MAX))) {
        CHECK(st->id_len == 2 && !memcmp(st->id, "id", 3), "plain: id");
        CHECK(!st->is_new && !st->is_abandoned && !st->is_readonly
              && st->timeout == 0, "plain: flags and timeout");
        CHECK(st->items->nelts == 0 && st->unknown->nelts == 0, "plain: empty");
    }
    if ((st = decode_ok("IsNewSession", isnew, N(isnew), MAX)))
        CHECK(st->is_new == 1 && !st->is_abandoned && !st->is_readonly,
              "IsNewSession flags");
    if ((st = decode_ok("IsAbandoned", aband, N(aband), MAX)))
        CHECK(!st->is_new && st->is_abandoned == 1 && !st->is_readonly,
              "IsAbandoned flags");
    if ((st = decode_ok("IsReadOnly", ro, N(ro), MAX)))
        CHECK(!st->is_new && !st->is_abandoned && st->is_readonly == 1,
              "IsReadOnly flags");
    if ((st = decode_ok("Timeout 20", t20, N(t20), MAX)))
        CHECK(st->timeout == 20 && st->items->nelts == 0, "Timeout 20");
    if ((st = decode_ok("one item", item, N(item), MAX))) {
        const rs_item_t *it;
        CHECK(st->items->nelts == 1 && st->unknown->nelts == 0, "one item");
        it = rs_state_get(st, "key1", 4);
        CHECK(it && it->key_len == 4 && !memcmp(it->key, "key1", 5)
              && it->value_len == 1 && !memcmp(it->value, "*", 2),
              "item key1 = 42");
        CHECK(nul_ended(st), "decoded strings NUL-terminated");
    }
}

/* ---- 7-bit ints ---- */

static void test_7bit(void)
{
    static const struct {
        apr_uint32_t v;
        unsigned char b[5];
        int n;
    } cases[] = {
        {0, {0}, 1}, {1, {1}, 1}, {127, {0x7F}, 1}, {128, {0x80, 0x01}, 2},
        {300, {0xAC, 0x02}, 2}, {16383, {0xFF, 0x7F}, 2},
        {16384, {0x80, 0x80, 0x01}, 3}, {2097151, {0xFF, 0xFF, 0x7F}, 3},
        {2097152, {0x80, 0x80, 0x80, 0x01}, 4},
        {268435455, {0xFF, 0xFF, 0xFF, 0x7F}, 4},
        {268435456, {0x80, 0x80, 0x80, 0x80, 0x01}, 5},
        {2147483647, {0xFF, 0xFF, 0xFF, 0xFF, 0x07}, 5},
        {2147483648u, {0x80, 0x80, 0x80, 0x80, 0x08}, 5},
        {4294967295u, {0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 5},
    };
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char exp[16] = {1, 2, 105, 100, 0, 0, 0};
        apr_size_t n = 7;
        rs_state_t *st = rs_state_make(pool, "id", cases[i].v), *back;
        char *what = apr_psprintf(pool, "timeout %u", cases[i].v);
        memcpy(exp + n, cases[i].b, (size_t)cases[i].n);
        n += (apr_size_t)cases[i].n;
        exp[n++] = 0;
        exp[n++] = 0;
        check_encodes(what, st, exp, n);
        if ((back = decode_ok(what, exp, n, MAX)))
            CHECK(back->timeout == cases[i].v, "%s: decoded %u", what,
                  back->timeout);
    }

    /* Lengths of strings and values at the 1/2 and 2/3 byte boundaries. */
    {
        static const apr_size_t lens[] = {0, 1, 127, 128, 16383, 16384};
        for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            char *k = apr_palloc(pool, lens[i] + 1);
            rs_state_t *st;
            apr_size_t len;
            unsigned char *b;
            memset(k, 'k', lens[i]);
            k[lens[i]] = 0;
            st = rs_state_make(pool, k, 1);
            rs_state_set(pool, st, k, lens[i], k, lens[i]);
            b = rs_state_encode(pool, st, &len);
            /* version, id varint at byte 1 */
            CHECK(b[1] == (lens[i] < 128 ? lens[i] : ((lens[i] & 0x7F) | 0x80)),
                  "length %zu: first varint byte %u", (size_t)lens[i], b[1]);
            round_trip(apr_psprintf(pool, "lengths %zu", (size_t)lens[i]), st,
                       MAX);
        }
    }

    /* .NET's reader accepts non-minimal encodings (0x94 0x00 = 20). */
    {
        static const unsigned char nm[] = {1, 0x82, 0x00, 105, 100, 0, 0, 0,
                                           0x94, 0x80, 0x00, 0x80, 0x00, 0};
        rs_state_t *st = decode_ok("non-minimal 7-bit ints", nm, N(nm), MAX);
        if (st)
            CHECK(st->timeout == 20 && st->id_len == 2 && st->items->nelts == 0,
                  "non-minimal 7-bit ints decode to their value");
    }
}

/* ---- round trips ---- */

static void test_round_trips(void)
{
    rs_state_t *st = rs_state_make(pool, "abcdefghijklmnopqrstuvwx", 20);
    int i;

    round_trip("empty state", st, MAX);
    st->is_new = st->is_abandoned = st->is_readonly = 1;
    round_trip("all flags", st, MAX);

    st = rs_state_make(pool, "", 0);
    round_trip("empty session ID", st, MAX);

    /* 1000 keys, in order */
    st = rs_state_make(pool, "abcdefghijklmnopqrstuvwx", 30);
    for (i = 0; i < 1000; i++) {
        char *k = apr_psprintf(pool, "key%d", i);
        char *v = apr_psprintf(pool, "{\"N\":%d,\"S\":\"%0*d\"}", i, i % 50, 0);
        rs_state_set(pool, st, k, strlen(k), v, strlen(v));
    }
    CHECK(st->items->nelts == 1000, "1000 items set");
    for (i = 0; i < 1000; i += 97) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        char *k = apr_psprintf(pool, "key%d", i);
        CHECK(it->key_len == strlen(k) && !memcmp(it->key, k, it->key_len),
              "item %d in insertion order", i);
    }
    round_trip("1000 keys", st, MAX);

    /* empty values (the sender's "could not serialize") */
    st = rs_state_make(pool, "id", 20);
    rs_state_set(pool, st, "a", 1, "", 0);
    rs_state_set(pool, st, "b", 1, "1", 1);
    rs_state_set(pool, st, "c", 1, "", 0);
    round_trip("empty values", st, MAX);
    {
        static const unsigned char exp[] = {1, 2, 105, 100, 0, 0, 0, 20, 3,
            1, 97, 0, 1, 98, 1, 49, 1, 99, 0, 0};
        rs_state_t *back;
        check_encodes("empty values", st, exp, N(exp));
        if ((back = decode_ok("empty values", exp, N(exp), MAX))) {
            const rs_item_t *a = rs_state_get(back, "a", 1);
            CHECK(a && a->value_len == 0 && a->value && a->value[0] == 0,
                  "empty value decodes as \"\" of length 0");
        }
    }

    /* unknown keys */
    st = rs_state_make(pool, "id", 20);
    rs_state_set(pool, st, "x", 1, "true", 4);
    {
        rs_item_t *u = apr_array_push(st->unknown);
        u->key = "lost";
        u->key_len = 4;
        u->value = "";
        u->value_len = 0;
        u = apr_array_push(st->unknown);
        u->key = "日本";
        u->key_len = strlen("日本");
        u->value = "";
        u->value_len = 0;
    }
    {
        static const unsigned char exp[] = {1, 2, 105, 100, 0, 0, 0, 20, 1,
            1, 120, 4, 116, 114, 117, 101, 2, 4, 108, 111, 115, 116,
            6, 0xE6, 0x97, 0xA5, 0xE6, 0x9C, 0xAC};
        check_encodes("unknown keys", st, exp, N(exp));
    }
    round_trip("unknown keys", st, MAX);

    /* Unicode keys, session ID and values: lengths are UTF-8 bytes */
    st = rs_state_make(pool, "sé", 20);
    rs_state_set(pool, st, "clé", strlen("clé"), "\"é\"", strlen("\"é\""));
    rs_state_set(pool, st, "日本", strlen("日本"), "1", 1);
    rs_state_set(pool, st, "\xF0\x9F\x98\x80", 4, "[\"\xF0\x9F\x98\x80\"]", 8);
    rs_state_set(pool, st, "\xF4\x8F\xBF\xBF", 4, "null", 4);
    {
        apr_size_t len;
        unsigned char *b = rs_state_encode(pool, st, &len);
        /* 1, 3 's' 0xC3 0xA9, flags, 20, 4, then "clé" as 4 bytes */
        static const unsigned char head[] = {1, 3, 115, 0xC3, 0xA9, 0, 0, 0,
            20, 4, 4, 99, 108, 0xC3, 0xA9, 4, 34, 0xC3, 0xA9, 34, 6};
        CHECK_BYTES(b, len < N(head) ? len : N(head), head, N(head));
    }
    CHECK(rs_state_get(st, "日本", strlen("日本")) != NULL, "get 日本");
    CHECK(rs_state_get(st, "\xF0\x9F\x98\x80", 4) != NULL, "get emoji");
    CHECK(rs_state_get(st, "cl", 2) == NULL, "prefix of clé is not clé");
    round_trip("Unicode", st, MAX);

    /* a 1 MB value */
    {
        apr_size_t vlen = 1024 * 1024, len;
        char *v = apr_palloc(pool, vlen);
        unsigned char *b;
        rs_state_t *back;
        memset(v, 'a', vlen);
        v[0] = v[vlen - 1] = '"';
        st = rs_state_make(pool, "abcdefghijklmnopqrstuvwx", 20);
        rs_state_set(pool, st, "big", 3, v, vlen);
        round_trip("1 MB value", st, 2000000);
        b = rs_state_encode(pool, st, &len);
        back = decode_ok("1 MB value, max_size = its length", b, len, len);
        if (back)
            CHECK(rs_state_get(back, "big", 3)
                  && rs_state_get(back, "big", 3)->value_len == vlen,
                  "1 MB value length");
        decode_bad("1 MB state, max_size = length - 1", b, len, len - 1,
                   "max|size|exceed|large|long", 0);
        decode_bad("1 MB value, default max_size", b, len, MAX,
                   "max|size|exceed|large|long", 0);
    }
}

/* ---- item access ---- */

static void test_items(void)
{
    rs_state_t *st = rs_state_make(pool, "id", 20);
    const rs_item_t *it;
    char buf[8];

    CHECK(rs_state_get(st, "a", 1) == NULL, "get on empty state");
    CHECK(rs_state_remove(st, "a", 1) == 0, "remove on empty state");
    rs_state_set(pool, st, "a", 1, "1", 1);
    rs_state_set(pool, st, "b", 1, "2", 1);
    rs_state_set(pool, st, "c", 1, "3", 1);
    it = rs_state_get(st, "b", 1);
    CHECK(it && it->value_len == 1 && it->value[0] == '2', "get b");

    /* replace in place: order kept, value replaced, no duplicate */
    rs_state_set(pool, st, "b", 1, "[22]", 4);
    CHECK(st->items->nelts == 3, "replace keeps 3 items (got %d)",
          st->items->nelts);
    it = &APR_ARRAY_IDX(st->items, 1, rs_item_t);
    CHECK(it->key_len == 1 && it->key[0] == 'b' && it->value_len == 4
          && !memcmp(it->value, "[22]", 5), "b replaced in place");
    {
        static const unsigned char exp[] = {1, 2, 105, 100, 0, 0, 0, 20, 3,
            1, 97, 1, 49, 1, 98, 4, 91, 50, 50, 93, 1, 99, 1, 51, 0};
        check_encodes("after replace", st, exp, N(exp));
    }

    /* set copies key and value */
    memcpy(buf, "dd", 3);
    rs_state_set(pool, st, buf, 1, buf, 2);
    buf[0] = buf[1] = 'X';
    it = rs_state_get(st, "d", 1);
    CHECK(it && it->key_len == 1 && it->key[0] == 'd' && it->key[1] == 0
          && it->value_len == 2 && !memcmp(it->value, "dd", 3),
          "set copies its key and value (NUL-ended)");

    /* keys compare by bytes and length */
    rs_state_set(pool, st, "ab", 2, "0", 1);
    CHECK(rs_state_get(st, "ab", 2) && rs_state_get(st, "ab", 1)
          && rs_state_get(st, "ab", 1)->key_len == 1, "ab and a distinct");
    rs_state_set(pool, st, "a\0b", 3, "5", 1);
    CHECK(st->items->nelts == 6, "a\\0b is its own key (%d items)",
          st->items->nelts);
    CHECK(rs_state_get(st, "a\0b", 3) && rs_state_get(st, "a\0b", 3)->value[0]
          == '5' && rs_state_get(st, "a", 1)->value[0] == '1',
          "a\\0b and a distinct");

    /* remove keeps the order of the rest */
    CHECK(rs_state_remove(st, "b", 1) == 1, "remove b");
    CHECK(rs_state_remove(st, "b", 1) == 0, "remove b twice");
    CHECK(rs_state_get(st, "b", 1) == NULL, "b gone");
    CHECK(st->items->nelts == 5, "5 left");
    it = &APR_ARRAY_IDX(st->items, 0, rs_item_t);
    CHECK(it->key[0] == 'a' && it->key_len == 1, "a first");
    it = &APR_ARRAY_IDX(st->items, 1, rs_item_t);
    CHECK(it->key[0] == 'c', "c second");
    it = &APR_ARRAY_IDX(st->items, 4, rs_item_t);
    CHECK(it->key_len == 3 && it->key[0] == 'a', "a\\0b last");
    CHECK(rs_state_remove(st, "a\0b", 3) == 1, "remove last");
    CHECK(rs_state_remove(st, "a", 1) == 1, "remove first");
    CHECK(st->items->nelts == 3, "3 left");
    round_trip("after removes", st, MAX);

    /* a removed key set again goes to the end */
    rs_state_set(pool, st, "a", 1, "9", 1);
    it = &APR_ARRAY_IDX(st->items, 3, rs_item_t);
    CHECK(st->items->nelts == 4 && it->key[0] == 'a', "re-set a at the end");

    rs_state_clear(st);
    CHECK(st->items->nelts == 0, "clear empties");
    CHECK(rs_state_get(st, "c", 1) == NULL, "clear: get c");
    {
        static const unsigned char exp[] = {1, 2, 105, 100, 0, 0, 0, 20, 0, 0};
        check_encodes("after clear", st, exp, N(exp));
    }
    rs_state_set(pool, st, "z", 1, "1", 1);
    CHECK(st->items->nelts == 1, "set after clear");
    round_trip("set after clear", st, MAX);

    /* items of a decoded state can be changed */
    {
        static const unsigned char in[] = {1, 2, 105, 100, 0, 0, 0, 0, 1,
                                           4, 107, 101, 121, 49, 1, 42, 0};
        static const unsigned char exp[] = {1, 2, 105, 100, 0, 0, 0, 0, 2,
            4, 107, 101, 121, 49, 2, 52, 51, 4, 107, 101, 121, 50, 0, 0};
        rs_state_t *d = decode_ok("decoded", in, N(in), MAX);
        if (d) {
            rs_state_set(pool, d, "key1", 4, "43", 2);
            rs_state_set(pool, d, "key2", 4, "", 0);
            check_encodes("decoded then set", d, exp, N(exp));
        }
    }
}

/* ---- rs_state_copy ---- */

static void test_copy(void)
{
    apr_pool_t *p1, *p2;
    rs_state_t *st, *c;
    rs_item_t *u;
    apr_size_t len1, len2;
    unsigned char *b1;

    apr_pool_create(&p1, pool);
    apr_pool_create(&p2, pool);
    st = rs_state_make(p1, "abcdefghijklmnopqrstuvwx", 25);
    st->is_new = 1;
    st->is_readonly = 1;
    rs_state_set(p1, st, "cart", 4, "{\"Items\":3}", 11);
    rs_state_set(p1, st, "e", 1, "", 0);
    u = apr_array_push(st->unknown);
    u->key = apr_pstrdup(p1, "lost");
    u->key_len = 4;
    u->value = "";
    u->value_len = 0;
    b1 = rs_state_encode(p1, st, &len1);
    b1 = apr_pmemdup(p2, b1, len1);

    c = rs_state_copy(p2, st);
    CHECK(c != st && same_state(c, st), "copy equals original");
    CHECK(c->id != st->id && c->items != st->items && c->unknown != st->unknown
          && c->items->elts != st->items->elts
          && c->unknown->elts != st->unknown->elts, "copy shares no arrays");
    CHECK(APR_ARRAY_IDX(c->items, 0, rs_item_t).key
          != APR_ARRAY_IDX(st->items, 0, rs_item_t).key
          && APR_ARRAY_IDX(c->items, 0, rs_item_t).value
          != APR_ARRAY_IDX(st->items, 0, rs_item_t).value
          && APR_ARRAY_IDX(c->unknown, 0, rs_item_t).key
          != APR_ARRAY_IDX(st->unknown, 0, rs_item_t).key,
          "copy shares no strings");

    /* changing the copy leaves the original alone, and the reverse */
    rs_state_set(p2, c, "cart", 4, "1", 1);
    rs_state_set(p2, c, "new", 3, "2", 1);
    CHECK(rs_state_get(st, "cart", 4)->value_len == 11
          && rs_state_get(st, "new", 3) == NULL && st->items->nelts == 2,
          "original unchanged by set on copy");
    rs_state_remove(st, "e", 1);
    CHECK(rs_state_get(c, "e", 1) != NULL, "copy unchanged by remove");
    rs_state_clear(c);
    CHECK(st->items->nelts == 1, "original unchanged by clear on copy");

    /* the copy outlives the original's pool */
    rs_state_set(p1, st, "e", 1, "", 0);
    c = rs_state_copy(p2, st);
    apr_pool_destroy(p1);
    {
        unsigned char *b2 = rs_state_encode(p2, c, &len2);
        CHECK_BYTES(b2, len2, b1, len1);
    }
    apr_pool_destroy(p2);
}

/* ---- hostile input ---- */

static unsigned char *multi_item(apr_size_t *len, apr_uint32_t timeout,
                                 apr_size_t vlen)
{
    rs_state_t *st = rs_state_make(pool, "abcdefghijklmnopqrstuvwx", timeout);
    char *v = apr_palloc(pool, vlen + 1);
    rs_item_t *u;
    memset(v, '1', vlen);
    st->is_new = 1;
    rs_state_set(pool, st, "cart", 4, "{\"Items\":3}", 11);
    rs_state_set(pool, st, "clé", 4, "\"日本\"", 8);
    rs_state_set(pool, st, "empty", 5, "", 0);
    rs_state_set(pool, st, "n", 1, v, vlen);
    u = apr_array_push(st->unknown);
    u->key = "lost";
    u->key_len = 4;
    u->value = "";
    u->value_len = 0;
    return rs_state_encode(pool, st, len);
}

static void test_truncation(void)
{
    static const struct { apr_uint32_t timeout; apr_size_t vlen; } v[] = {
        {20, 2}, {300000, 200}, {4294967295u, 20000}
    };
    unsigned j;

    for (j = 0; j < sizeof(v) / sizeof(v[0]); j++) {
        apr_size_t len, k;
        unsigned char *b = multi_item(&len, v[j].timeout, v[j].vlen);
        int fails = 0, silent = 0;
        decode_ok("multi-item", b, len, MAX);
        for (k = 0; k < len; k++) {
            rs_state_t *st;
            const char *err = decode(b, k, MAX, &st);
            if (!err) {
                if (fails++ < 5)
                    printf("FAIL truncated to %zu of %zu bytes: accepted\n",
                           (size_t)k, (size_t)len);
            }
            else if (!*err || !has_digit(err)) {
                silent++;
            }
        }
        CHECK(fails == 0, "%d truncations of %zu bytes accepted", fails,
              (size_t)len);
        CHECK(silent == 0, "%d truncations without a message with an offset",
              silent);
        /* a few, shown */
        decode_bad("truncated: empty input", b, 0, MAX,
                   "truncat|missing|end|short|empty", 0);
        decode_bad("truncated: in the session ID", b, 10, MAX,
                   "truncat|remain|end|short", 1);
        decode_bad("truncated: before the unknown count", b, len - 6, MAX,
                   "truncat|missing|end|short", 1);
        decode_bad("truncated: last byte missing", b, len - 1, MAX,
                   "truncat|remain|end|short", 1);
    }
}

/* Message per kind of problem, to show they differ. */
static const char *msgs[32];
static const char *msg_kind[32];
static int nmsgs;

static void keep(const char *kind, const char *msg)
{
    msg_kind[nmsgs] = kind;
    msgs[nmsgs++] = msg;
}

static void test_hostile(void)
{
    int i, j;

    /* version */
    {
        static const unsigned char v0[] = {0, 2, 105, 100, 0, 0, 0, 0, 0, 0};
        static const unsigned char v2[] = {2, 2, 105, 100, 0, 0, 0, 0, 0, 0};
        static const unsigned char v255[] = {255, 2, 105, 100, 0, 0, 0, 0, 0,
                                             0};
        keep("version", decode_bad("version 0", v0, N(v0), MAX, "version", 0));
        decode_bad("version 2", v2, N(v2), MAX, "version", 0);
        decode_bad("version 255", v255, N(v255), MAX, "version", 0);
        decode_bad("version 255 alone", v255, 1, MAX, "version", 0);
    }

    /* 7-bit ints */
    {
        static const unsigned char six[] = {1, 2, 105, 100, 0, 0, 0,
            0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0};
        static const unsigned char six0[] = {1, 2, 105, 100, 0, 0, 0,
            0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0, 0};
        static const unsigned char over[] = {1, 2, 105, 100, 0, 0, 0,
            0xFF, 0xFF, 0xFF, 0xFF, 0x10, 0, 0};
        static const unsigned char over7f[] = {1, 2, 105, 100, 0, 0, 0,
            0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0};
        static const unsigned char idlen6[] = {1,
            0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 105};
        static const unsigned char cnt6[] = {1, 2, 105, 100, 0, 0, 0, 0,
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0};
        static const unsigned char unk6[] = {1, 2, 105, 100, 0, 0, 0, 0, 0,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
        static const unsigned char vlen6[] = {1, 2, 105, 100, 0, 0, 0, 0, 1,
            1, 97, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 49};
        const char *m = "7-bit|varint|7bit|int";
        keep("7-bit", decode_bad("Timeout: sixth continuation byte", six,
                                 N(six), MAX, m, 1));
        decode_bad("Timeout: sixth byte 0", six0, N(six0), MAX, m, 1);
        decode_bad("Timeout: fifth byte 0x10 (beyond 32 bits)", over,
                   N(over), MAX, m, 1);
        decode_bad("Timeout: fifth byte 0x7F (beyond 32 bits)", over7f,
                   N(over7f), MAX, m, 1);
        decode_bad("ID length: six bytes", idlen6, N(idlen6), MAX, m, 1);
        decode_bad("item count: six bytes", cnt6, N(cnt6), MAX, m, 1);
        decode_bad("unknown count: 0xFF x5 then 1", unk6, N(unk6), MAX, m, 1);
        decode_bad("value length: six bytes", vlen6, N(vlen6), MAX, m, 1);
    }

    /* declared lengths beyond what remains / beyond max_size */
    {
        static const unsigned char id[] = {1, 3, 105, 100};
        static const unsigned char key[] = {1, 2, 105, 100, 0, 0, 0, 0, 1,
            9, 107, 101, 121, 0, 0};
        static const unsigned char val[] = {1, 2, 105, 100, 0, 0, 0, 0, 1,
            1, 107, 5, 49, 50, 0};
        static const unsigned char unk[] = {1, 2, 105, 100, 0, 0, 0, 0, 0, 1,
            4, 120};
        static const unsigned char idbig[] = {1, 0xC8, 0x01, 105, 100, 0, 0};
        static const unsigned char valbig[] = {1, 2, 105, 100, 0, 0, 0, 0, 1,
            1, 107, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 49, 0};
        static const unsigned char valneg[] = {1, 2, 105, 100, 0, 0, 0, 0, 1,
            1, 107, 0x80, 0x80, 0x80, 0x80, 0x08, 49, 0};
        const char *rem = "truncat|remain|length|beyond|end|short";
        const char *mx = "max|size|exceed|large|long";
        keep("length", decode_bad("session ID longer than the input", id,
                                  N(id), MAX, rem, 1));
        decode_bad("key longer than the input", key, N(key), MAX, rem, 1);
        decode_bad("value longer than the input", val, N(val), MAX, rem, 1);
        decode_bad("unknown key longer than the input", unk, N(unk), MAX,
                   rem, 1);
        keep("max_size", decode_bad("session ID length 200 > max_size 100",
                                    idbig, N(idbig), 100, mx, 1));
        decode_bad("value length 0xFFFFFFFF", valbig, N(valbig), MAX, mx, 1);
        decode_bad("value length 2^31 (negative in .NET)", valneg,
                   N(valneg), (apr_size_t)-1, "truncat|remain|length|max|size",
                   1);
        decode_bad("value length 0xFFFFFFFF, max_size SIZE_MAX", valbig,
                   N(valbig), (apr_size_t)-1, rem, 1);
    }

    /* whole input beyond max_size, even when it is otherwise valid */
    {
        static const unsigned char ok[] = {1, 2, 105, 100, 0, 0, 0, 0, 0, 0};
        keep("input size", decode_bad("10 bytes, max_size 9", ok, N(ok), 9,
                                      "max|size|exceed|large|long", 0));
        decode_bad("10 bytes, max_size 0", ok, N(ok), 0,
                   "max|size|exceed|large|long", 0);
        decode_ok("10 bytes, max_size 10", ok, N(ok), 10);
    }

    /* counts beyond what the rest could hold */
    {
        static const unsigned char items[] = {1, 2, 105, 100, 0, 0, 0, 0,
            0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0, 0, 0};
        static const unsigned char items2[] = {1, 2, 105, 100, 0, 0, 0, 0,
            0xFF, 0xFF, 0xFF, 0xFF, 0x07, 1, 97, 0, 0};
        static const unsigned char items3[] = {1, 2, 105, 100, 0, 0, 0, 0,
            3, 1, 97, 0, 0};
        static const unsigned char unk[] = {1, 2, 105, 100, 0, 0, 0, 0, 0,
            0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0, 0, 0};
        static const unsigned char unk2[] = {1, 2, 105, 100, 0, 0, 0, 0, 0,
            2, 0};
        keep("item count", decode_bad("item count 0xFFFFFFFF, 3 bytes left",
                                      items, N(items), MAX,
                                      "count|item|remain|hold", 1));
        decode_bad("item count 2^31-1, 4 bytes left", items2, N(items2), MAX,
                   "count|item|remain|hold|truncat", 1);
        decode_bad("item count 3, 4 bytes left", items3, N(items3), MAX,
                   "count|item|remain|hold|truncat", 1);
        keep("unknown count", decode_bad("unknown count 0xFFFFFFFF, 3 left",
                                         unk, N(unk), MAX,
                                         "count|unknown|remain|hold", 1));
        decode_bad("unknown count 2, 1 byte left", unk2, N(unk2), MAX,
                   "count|unknown|remain|hold|truncat", 1);
    }

    /* invalid UTF-8 in the session ID, an item key, an unknown key */
    {
        static const struct { const char *name; unsigned char b[4]; int n; }
        bad[] = {
            {"overlong C0 80", {0xC0, 0x80}, 2},
            {"overlong E0 80 AF", {0xE0, 0x80, 0xAF}, 3},
            {"lone continuation 80", {0x80}, 1},
            {"surrogate ED A0 80", {0xED, 0xA0, 0x80}, 3},
            {"truncated E6 97", {0xE6, 0x97}, 2},
            {"truncated F0 9F 98", {0xF0, 0x9F, 0x98}, 3},
            {"F5 80 80 80", {0xF5, 0x80, 0x80, 0x80}, 4},
            {"FF", {0xFF}, 1},
            {"U+110000 F4 90 80 80", {0xF4, 0x90, 0x80, 0x80}, 4},
        };
        static const char *where[] = {"session ID", "item key", "unknown key"};
        for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
            for (j = 0; j < 3; j++) {
                unsigned char b[64];
                apr_size_t n = 0;
                int k;
                const char *err;
                b[n++] = 1;
                if (j == 0) {       /* "x" + bad + "y" as the session ID */
                    b[n++] = (unsigned char)(bad[i].n + 2);
                    b[n++] = 'x';
                    memcpy(b + n, bad[i].b, (size_t)bad[i].n);
                    n += (apr_size_t)bad[i].n;
                    b[n++] = 'y';
                }
                else {
                    b[n++] = 2;
                    b[n++] = 105;
                    b[n++] = 100;
                }
                b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = 20;
                b[n++] = j == 1 ? 1 : 0;
                if (j == 1) {
                    b[n++] = (unsigned char)bad[i].n;
                    memcpy(b + n, bad[i].b, (size_t)bad[i].n);
                    n += (apr_size_t)bad[i].n;
                    b[n++] = 1;
                    b[n++] = '1';
                }
                b[n++] = j == 2 ? 2 : 0;
                if (j == 2) {
                    b[n++] = 1;
                    b[n++] = 'a';
                    b[n++] = (unsigned char)bad[i].n;
                    memcpy(b + n, bad[i].b, (size_t)bad[i].n);
                    n += (apr_size_t)bad[i].n;
                }
                err = decode_bad(apr_psprintf(pool, "%s: %s", where[j],
                                              bad[i].name), b, n, MAX,
                                 "utf-8|utf8", 1);
                if (i == 0)
                    keep(where[j], err);
                /* the message says which field */
                CHECK(mentions(err, j == 0 ? "session|id" : j == 1
                               ? "item|key" : "unknown"),
                      "UTF-8 error \"%s\" names the %s", err, where[j]);
                /* the same bytes with the bad sequence replaced decode */
                for (k = 0; k < (int)n; k++)
                    if (b[k] >= 0x80)
                        b[k] = 'z';
                decode_ok(apr_psprintf(pool, "%s: %s repaired", where[j],
                                       bad[i].name), b, n, MAX);
            }
        }
    }

    /* a bool byte of 2 (and 255) in each of the three flags */
    for (i = 0; i < 3; i++) {
        unsigned char b[] = {1, 2, 105, 100, 0, 0, 0, 0, 0, 0};
        const char *err;
        b[4 + i] = 2;
        err = decode_bad(apr_psprintf(pool, "bool %d = 2", i), b, N(b), MAX,
                         "bool|0 or 1|flag", 1);
        if (i == 0)
            keep("bool", err);
        b[4 + i] = 255;
        decode_bad(apr_psprintf(pool, "bool %d = 255", i), b, N(b), MAX,
                   "bool|0 or 1|flag", 1);
    }

    /* trailing bytes */
    {
        static const unsigned char t1[] = {1, 2, 105, 100, 0, 0, 0, 0, 0, 0,
                                           0};
        static const unsigned char t2[] = {1, 2, 105, 100, 0, 0, 0, 0, 1,
            4, 107, 101, 121, 49, 1, 42, 0, 10};
        keep("trailing", decode_bad("one trailing 0", t1, N(t1), MAX,
                                    "trailing|extra|after|garbage", 1));
        decode_bad("trailing newline", t2, N(t2), MAX,
                   "trailing|extra|after|garbage", 1);
    }

    /* every kind of problem has its own message */
    {
        int dup = 0;
        for (i = 0; i < nmsgs; i++)
            for (j = i + 1; j < nmsgs; j++)
                if (msgs[i] && msgs[j] && !strcmp(msgs[i], msgs[j])) {
                    printf("    same message for %s and %s\n", msg_kind[i],
                           msg_kind[j]);
                    dup++;
                }
        CHECK(dup == 0, "%d pairs of kinds of problem share a message", dup);
    }
}

/* ---- rs_utf8_valid ---- */

static void test_utf8(void)
{
    static const struct { const char *s; int n; } good[] = {
        {"", 0}, {"abc", 3}, {"\x7F", 1}, {"cl\xC3\xA9", 4},
        {"\xC2\x80", 2}, {"\xDF\xBF", 2}, {"\xE0\xA0\x80", 3},
        {"\xE6\x97\xA5\xE6\x9C\xAC", 6}, {"\xED\x9F\xBF", 3},
        {"\xEE\x80\x80", 3}, {"\xEF\xBF\xBF", 3}, {"\xF0\x90\x80\x80", 4},
        {"\xF0\x9F\x98\x80", 4}, {"\xF4\x8F\xBF\xBF", 4},
        {"a\xF0\x9F\x98\x80z\xC3\xA9", 8},
    };
    static const struct { const char *s; int n; const char *why; } bad[] = {
        {"\xC0\x80", 2, "overlong NUL"}, {"\xC1\xBF", 2, "overlong C1"},
        {"\xE0\x80\x80", 3, "overlong 3-byte"},
        {"\xE0\x9F\xBF", 3, "overlong 3-byte max"},
        {"\xF0\x80\x80\x80", 4, "overlong 4-byte"},
        {"\xF0\x8F\xBF\xBF", 4, "overlong 4-byte max"},
        {"\xED\xA0\x80", 3, "surrogate D800"},
        {"\xED\xBF\xBF", 3, "surrogate DFFF"},
        {"\xED\xA0\xBD\xED\xB8\x80", 6, "surrogate pair (CESU-8)"},
        {"\xF4\x90\x80\x80", 4, "U+110000"},
        {"\xF5\x80\x80\x80", 4, "F5"}, {"\xF7\xBF\xBF\xBF", 4, "F7"},
        {"\xF8\x88\x80\x80\x80", 5, "5-byte form"}, {"\xFE", 1, "FE"},
        {"\xFF", 1, "FF"}, {"\x80", 1, "lone continuation 80"},
        {"\xBF", 1, "lone continuation BF"}, {"a\x80z", 3, "stray 80"},
        {"\xC2", 1, "truncated 2-byte"}, {"\xE6\x97", 2, "truncated 3-byte"},
        {"\xF0\x9F\x98", 3, "truncated 4-byte"},
        {"\xC2\x41", 2, "2-byte, bad continuation"},
        {"\xE6\x41\x97", 3, "3-byte, bad 2nd"},
        {"\xE6\x97\x41", 3, "3-byte, bad 3rd"},
        {"\xF0\x9F\x98\x41", 4, "4-byte, bad 4th"},
        {"\xF0\x9F\xC3\xA9", 4, "4-byte, lead in 3rd"},
    };
    unsigned i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(rs_utf8_valid((const unsigned char *)good[i].s,
                            (apr_size_t)good[i].n) == 1,
              "valid UTF-8 #%u refused", i);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(rs_utf8_valid((const unsigned char *)bad[i].s,
                            (apr_size_t)bad[i].n) == 0,
              "invalid UTF-8 accepted: %s", bad[i].why);
    /* the length bounds the check: a valid prefix ending mid-character */
    CHECK(!rs_utf8_valid((const unsigned char *)"\xE6\x97\xA5", 2),
          "cut multi-byte character");
    CHECK(rs_utf8_valid((const unsigned char *)"ab\xFF", 2),
          "bytes beyond len are not read");
    /* every 2-byte sequence: valid exactly when C2..DF then 80..BF */
    {
        int errs = 0;
        unsigned a, b;
        for (a = 0; a < 256; a++)
            for (b = 0; b < 256; b++) {
                unsigned char s[2] = {(unsigned char)a, (unsigned char)b};
                int exp = (a < 0x80 && b < 0x80)
                       || (a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF);
                if (rs_utf8_valid(s, 2) != exp && errs++ < 5)
                    printf("    %02X %02X: got %d\n", a, b, !exp);
            }
        CHECK(errs == 0, "%d of the 65536 2-byte sequences misjudged", errs);
    }
}

/* rs_state_scan: where the flags are, what a stored state holds. */
static void test_scan(void)
{
    rs_state_t *st = rs_state_make(pool, "abc", 20);
    unsigned char *b;
    apr_size_t n;
    rs_scan_t scan;

    rs_state_set(pool, st, "k", 1, "42", 2);
    rs_state_set(pool, st, "e", 1, "", 0);
    st->is_readonly = 1;
    b = rs_state_encode(pool, st, &n);
    CHECK(rs_state_scan(pool, b, n, &scan) == NULL, "scan of an encoding");
    CHECK(scan.flags_at == 5 && b[scan.flags_at + 2] == 1,
          "flags after version, length and ID: at %d", (int)scan.flags_at);
    CHECK(scan.empty_values == 1 && scan.unknown == 0,
          "one zero-length value, no unknown keys");
    CHECK(rs_state_scan(pool, b, n - 1, &scan) != NULL, "a byte short: refused");
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);

    test_examples();
    test_7bit();
    test_round_trips();
    test_items();
    test_copy();
    test_truncation();
    test_hostile();
    test_utf8();
    test_scan();

    apr_pool_destroy(pool);
    return UNIT_DONE();
}
