/*
 * libFuzzer target: rs_state_decode on arbitrary bytes (sh fuzz/run.sh).
 *
 * Besides "no crash, no over-read" it checks, for every input the decoder
 * accepts, that encoding gives the input back. The wire format is canonical
 * but for one freedom: .NET's Read7BitEncodedInt accepts non-minimal 7-bit
 * ints (0x80 0x00 is 0), and so does our decoder, while every writer
 * (BinaryWriter, rs_state_encode) emits the minimal form. So the re-encoding
 * must equal exactly the input with each 7-bit int rewritten minimally
 * (canonical() below, an independent walk of the accepted input); when the
 * input was minimal already, that is the input itself. Decoding the
 * re-encoding must then give the same fields, encoded_len must match, and a
 * deep copy must encode the same. rs_state_view (the PUT body's decoder,
 * pointing into the input) must accept exactly what rs_state_decode does,
 * and encode the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "codec.h"

#define MAX_SIZE 1000000

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

typedef struct {
    const uint8_t *p, *end;
    uint8_t *o;
} walk_t;

/* Copies one 7-bit int minimally; 0 when the input does not hold one. */
static int w_int(walk_t *w, uint32_t *out)
{
    uint32_t v = 0;
    int shift;
    for (shift = 0; shift <= 28; shift += 7) {
        if (w->p >= w->end)
            return 0;
        v |= (uint32_t)(*w->p & 0x7F) << shift;
        if (!(*w->p++ & 0x80)) {
            *out = v;
            while (v >= 0x80) {
                *w->o++ = (uint8_t)(v | 0x80);
                v >>= 7;
            }
            *w->o++ = (uint8_t)v;
            return 1;
        }
    }
    return 0;
}

static int w_copy(walk_t *w, size_t n)
{
    if ((size_t)(w->end - w->p) < n)
        return 0;
    memcpy(w->o, w->p, n);
    w->o += n;
    w->p += n;
    return 1;
}

static int w_str(walk_t *w)
{
    uint32_t n;
    return w_int(w, &n) && w_copy(w, n);
}

/* The input with every 7-bit int in its minimal form, into out (>= len). */
static size_t canonical(const uint8_t *in, size_t len, uint8_t *out)
{
    walk_t w = { in, in + len, out };
    uint32_t n, t, i;
    if (!w_copy(&w, 1) || !w_str(&w) || !w_copy(&w, 3) || !w_int(&w, &t)
        || !w_int(&w, &n))
        abort();
    for (i = 0; i < n; i++)
        if (!w_str(&w) || !w_str(&w))
            abort();
    if (!w_int(&w, &n))
        abort();
    for (i = 0; i < n; i++)
        if (!w_str(&w))
            abort();
    if (w.p != w.end)
        abort();
    return (size_t)(w.o - out);
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
        if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len)
            || x->key[x->key_len] || y->key[y->key_len])
            return 0;
        if (values && (x->value_len != y->value_len
                       || memcmp(x->value, y->value, x->value_len)
                       || x->value[x->value_len] || y->value[y->value_len]))
            return 0;
    }
    return 1;
}

static int same_state(const rs_state_t *a, const rs_state_t *b)
{
    return a->id_len == b->id_len && !memcmp(a->id, b->id, a->id_len)
        && !a->id[a->id_len] && !b->id[b->id_len]
        && a->is_new == b->is_new && a->is_abandoned == b->is_abandoned
        && a->is_readonly == b->is_readonly && a->timeout == b->timeout
        && same_items(a->items, b->items, 1)
        && same_items(a->unknown, b->unknown, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    rs_state_t *st = NULL, *back = NULL, *view = NULL;
    const char *err, *verr;
    unsigned char *enc, *enc2;
    uint8_t *canon;
    apr_size_t len, len2;
    size_t clen;

    apr_pool_create(&p, root);
    err = rs_state_decode(p, data, size, MAX_SIZE, &st);
    verr = rs_state_view(p, data, size, MAX_SIZE, &view);
    if (!err != !verr)
        abort();                /* the view decides otherwise */
    if (err) {
        if (!*err)
            abort();            /* a refusal must say why */
        apr_pool_destroy(p);
        return 0;
    }
    if (!st)
        abort();

    enc = rs_state_encode(p, st, &len);
    if (len != rs_state_encoded_len(st))
        abort();
    canon = malloc(size ? size : 1);
    clen = canonical(data, size, canon);
    if (clen != len || memcmp(canon, enc, len))
        abort();                /* re-encoding is not the (minimal) input */
    free(canon);

    err = rs_state_decode(p, enc, len, MAX_SIZE, &back);
    if (err || !back || !same_state(st, back))
        abort();

    enc2 = rs_state_encode(p, rs_state_copy(p, st), &len2);
    if (len2 != len || memcmp(enc, enc2, len))
        abort();
    enc2 = rs_state_encode(p, view, &len2);
    if (len2 != len || memcmp(enc, enc2, len))
        abort();                /* the view holds other fields */

    apr_pool_destroy(p);
    return 0;
}
