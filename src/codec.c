/*
 * Binary session state, version 1, as .NET's BinaryWriter writes it.
 * The decoder is the module's first line against hostile bytes: every
 * length is checked against what remains before it is used.
 */
#include <string.h>
#include <apr_strings.h>
#include "codec.h"

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    const unsigned char *start;
    apr_size_t max_size;
    apr_pool_t *pool;
    const char *err;
    int scan;               /* check only: copy and keep nothing */
    int view;               /* point into the input instead of copying */
    apr_size_t empty;       /* zero-length values seen */
    apr_size_t unknown;     /* unknown keys seen */
    apr_size_t flags_at;    /* where the flags begin, once read */
} reader_t;

static apr_size_t remaining(const reader_t *rd)
{
    return (apr_size_t)(rd->end - rd->p);
}

static int fail(reader_t *rd, const char *what)
{
    if (!rd->err) {
        rd->err = apr_psprintf(rd->pool, "%s at byte %" APR_SIZE_T_FMT,
                               what, (apr_size_t)(rd->p - rd->start));
    }
    return 0;
}

static int read_byte(reader_t *rd, unsigned *out, const char *field)
{
    if (rd->p >= rd->end) {
        return fail(rd, apr_pstrcat(rd->pool, "truncated: ", field,
                                    " missing", NULL));
    }
    *out = *rd->p++;
    return 1;
}

static int read_bool(reader_t *rd, int *out, const char *field)
{
    unsigned b;
    if (!read_byte(rd, &b, field)) {
        return 0;
    }
    if (b > 1) {
        rd->p--;
        return fail(rd, apr_psprintf(rd->pool, "%s is %u, not a bool (0 or 1)",
                                     field, b));
    }
    *out = (int)b;
    return 1;
}

/* .NET Read7BitEncodedInt: at most five bytes, the fifth carrying 4 bits. */
static int read_7bit(reader_t *rd, apr_uint32_t *out, const char *field)
{
    apr_uint32_t v = 0;
    unsigned b, shift;
    for (shift = 0; shift < 35; shift += 7) {
        if (!read_byte(rd, &b, field)) {
            return 0;
        }
        if (shift == 28 && b > 0x0F) {
            rd->p--;
            return fail(rd, apr_pstrcat(rd->pool, "7-bit int ", field,
                                        " too long: a sixth byte or more "
                                        "than 32 bits", NULL));
        }
        v |= (apr_uint32_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0; /* not reached: the fifth byte has no continuation bit */
}

static int read_len(reader_t *rd, apr_size_t *out, const char *field)
{
    apr_uint32_t n;
    if (!read_7bit(rd, &n, field)) {
        return 0;
    }
    if (n > rd->max_size) {
        return fail(rd, apr_psprintf(rd->pool, "length of %s (%u) exceeds "
                                     "the maximum size %" APR_SIZE_T_FMT,
                                     field, n, rd->max_size));
    }
    if (n > remaining(rd)) {
        return fail(rd, apr_psprintf(rd->pool, "truncated: %s declares %u "
                                     "bytes, %" APR_SIZE_T_FMT " remain",
                                     field, n, remaining(rd)));
    }
    *out = n;
    return 1;
}

/* Bytes are copied so that the state outlives the input and is NUL-ended;
 * a view (rs_state_view) points into the input instead. */
static int read_bytes(reader_t *rd, const char **out, apr_size_t *len,
                      const char *field, int utf8)
{
    if (!read_len(rd, len, field)) {
        return 0;
    }
    if (utf8 && !rs_utf8_valid(rd->p, *len)) {
        return fail(rd, apr_pstrcat(rd->pool, field, " is not valid UTF-8",
                                    NULL));
    }
    *out = rd->scan ? NULL
         : rd->view ? (const char *)rd->p
         : apr_pstrmemdup(rd->pool, (const char *)rd->p, *len);
    rd->p += *len;
    return 1;
}

/* Each entry needs at least min_bytes, so a count is bounded by the input. */
static int read_count(reader_t *rd, apr_uint32_t *out, const char *field,
                      apr_size_t min_bytes)
{
    if (!read_7bit(rd, out, field)) {
        return 0;
    }
    if (*out > remaining(rd) / min_bytes) {
        return fail(rd, apr_psprintf(rd->pool, "%s %u is more than the "
                                     "%" APR_SIZE_T_FMT " remaining bytes "
                                     "can hold", field, *out, remaining(rd)));
    }
    return 1;
}

static int read_items(reader_t *rd, rs_state_t *st)
{
    apr_uint32_t n, i;
    if (!read_count(rd, &n, "item count", 2)) {
        return 0;
    }
    st->items = rd->scan ? NULL : apr_array_make(rd->pool, n ? (int)n : 1,
                                                 sizeof(rs_item_t));
    for (i = 0; i < n; i++) {
        rs_item_t one, *it = rd->scan ? &one : apr_array_push(st->items);
        if (!read_bytes(rd, &it->key, &it->key_len, "item key", 1)
            || !read_bytes(rd, &it->value, &it->value_len, "item value", 0)) {
            return 0;
        }
        rd->empty += it->value_len == 0;
    }
    return 1;
}

static int read_unknown(reader_t *rd, rs_state_t *st)
{
    apr_uint32_t n, i;
    if (!read_count(rd, &n, "unknown key count", 1)) {
        return 0;
    }
    st->unknown = rd->scan ? NULL : apr_array_make(rd->pool, n ? (int)n : 1,
                                                   sizeof(rs_item_t));
    for (i = 0; i < n; i++) {
        rs_item_t one, *it = rd->scan ? &one : apr_array_push(st->unknown);
        rd->unknown++;
        if (!read_bytes(rd, &it->key, &it->key_len, "unknown key", 1)) {
            return 0;
        }
        it->value = "";
    }
    return 1;
}

static int read_state(reader_t *rd, rs_state_t *st)
{
    unsigned version;
    if (!read_byte(rd, &version, "version")) {
        return 0;
    }
    if (version != RS_CODEC_VERSION) {
        rd->p--;
        return fail(rd, apr_psprintf(rd->pool, "unsupported version %u "
                                     "(expected 1)", version));
    }
    if (!read_bytes(rd, &st->id, &st->id_len, "session ID", 1)) {
        return 0;
    }
    rd->flags_at = (apr_size_t)(rd->p - rd->start);
    return read_bool(rd, &st->is_new, "IsNewSession")
        && read_bool(rd, &st->is_abandoned, "IsAbandoned")
        && read_bool(rd, &st->is_readonly, "IsReadOnly")
        && read_7bit(rd, &st->timeout, "Timeout")
        && read_items(rd, st)
        && read_unknown(rd, st);
}

static const char *decode(reader_t *rd, rs_state_t **out)
{
    rs_state_t *st;
    apr_size_t len = (apr_size_t)(rd->end - rd->start);

    if (len > rd->max_size) {
        return apr_psprintf(rd->pool, "state of %" APR_SIZE_T_FMT " bytes "
                            "exceeds the maximum size %" APR_SIZE_T_FMT,
                            len, rd->max_size);
    }
    st = apr_pcalloc(rd->pool, sizeof(*st));
    if (!read_state(rd, st)) {
        return rd->err;
    }
    if (rd->p != rd->end) {
        fail(rd, apr_psprintf(rd->pool, "%" APR_SIZE_T_FMT " trailing bytes",
                              remaining(rd)));
        return rd->err;
    }
    *out = st;
    return NULL;
}

const char *rs_state_decode(apr_pool_t *p, const unsigned char *buf,
                            apr_size_t len, apr_size_t max_size,
                            rs_state_t **out)
{
    reader_t rd = { buf, buf + len, buf, max_size, p, NULL };
    return decode(&rd, out);
}

const char *rs_state_view(apr_pool_t *p, const unsigned char *buf,
                          apr_size_t len, apr_size_t max_size,
                          rs_state_t **out)
{
    reader_t rd = { buf, buf + len, buf, max_size, p, NULL, 0, 1 };
    return decode(&rd, out);
}

static apr_size_t len_7bit(apr_uint32_t v)
{
    apr_size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

const char *rs_state_scan(apr_pool_t *p, const unsigned char *buf,
                          apr_size_t len, rs_scan_t *out)
{
    reader_t rd = { buf, buf + len, buf, len, p, NULL, 1 };
    rs_state_t *st;
    const char *err = decode(&rd, &st);

    if (err) {
        return err;
    }
    out->flags_at = rd.flags_at;
    out->empty_values = rd.empty;
    out->unknown = rd.unknown;
    return NULL;
}

static unsigned char *put_7bit(unsigned char *o, apr_uint32_t v)
{
    while (v >= 0x80) {
        *o++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *o++ = (unsigned char)v;
    return o;
}

static unsigned char *put_bytes(unsigned char *o, const char *s, apr_size_t n)
{
    o = put_7bit(o, (apr_uint32_t)n);
    memcpy(o, s, n);
    return o + n;
}

static apr_size_t len_bytes(apr_size_t n)
{
    return len_7bit((apr_uint32_t)n) + n;
}

apr_size_t rs_state_encoded_len(const rs_state_t *st)
{
    apr_size_t n = 1 + len_bytes(st->id_len) + 3 + len_7bit(st->timeout);
    int i;

    n += len_7bit((apr_uint32_t)st->items->nelts);
    for (i = 0; i < st->items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        n += len_bytes(it->key_len) + len_bytes(it->value_len);
    }
    n += len_7bit((apr_uint32_t)st->unknown->nelts);
    for (i = 0; i < st->unknown->nelts; i++) {
        n += len_bytes(APR_ARRAY_IDX(st->unknown, i, rs_item_t).key_len);
    }
    return n;
}

unsigned char *rs_state_encode(apr_pool_t *p, const rs_state_t *st,
                               apr_size_t *len)
{
    unsigned char *buf = apr_palloc(p, rs_state_encoded_len(st));
    unsigned char *o = buf;
    int i;

    *o++ = RS_CODEC_VERSION;
    o = put_bytes(o, st->id, st->id_len);
    *o++ = st->is_new ? 1 : 0;
    *o++ = st->is_abandoned ? 1 : 0;
    *o++ = st->is_readonly ? 1 : 0;
    o = put_7bit(o, st->timeout);
    o = put_7bit(o, (apr_uint32_t)st->items->nelts);
    for (i = 0; i < st->items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        o = put_bytes(o, it->key, it->key_len);
        o = put_bytes(o, it->value, it->value_len);
    }
    o = put_7bit(o, (apr_uint32_t)st->unknown->nelts);
    for (i = 0; i < st->unknown->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->unknown, i, rs_item_t);
        o = put_bytes(o, it->key, it->key_len);
    }
    *len = (apr_size_t)(o - buf);
    return buf;
}

rs_state_t *rs_state_make(apr_pool_t *p, const char *id, apr_uint32_t timeout)
{
    rs_state_t *st = apr_pcalloc(p, sizeof(*st));
    st->id = apr_pstrdup(p, id);
    st->id_len = strlen(id);
    st->timeout = timeout;
    st->items = apr_array_make(p, 4, sizeof(rs_item_t));
    st->unknown = apr_array_make(p, 1, sizeof(rs_item_t));
    return st;
}

static apr_array_header_t *copy_items(apr_pool_t *p,
                                      const apr_array_header_t *from)
{
    apr_array_header_t *to = apr_array_copy(p, from);
    int i;
    for (i = 0; i < to->nelts; i++) {
        rs_item_t *it = &APR_ARRAY_IDX(to, i, rs_item_t);
        it->key = apr_pstrmemdup(p, it->key, it->key_len);
        it->value = apr_pstrmemdup(p, it->value, it->value_len);
    }
    return to;
}

rs_state_t *rs_state_copy(apr_pool_t *p, const rs_state_t *st)
{
    rs_state_t *c = apr_pmemdup(p, st, sizeof(*st));
    c->id = apr_pstrmemdup(p, st->id, st->id_len);
    c->items = copy_items(p, st->items);
    c->unknown = copy_items(p, st->unknown);
    return c;
}

static int find(const rs_state_t *st, const char *key, apr_size_t key_len)
{
    int i;
    for (i = 0; i < st->items->nelts; i++) {
        const rs_item_t *it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
        if (it->key_len == key_len && !memcmp(it->key, key, key_len)) {
            return i;
        }
    }
    return -1;
}

const rs_item_t *rs_state_get(const rs_state_t *st, const char *key,
                              apr_size_t key_len)
{
    int i = find(st, key, key_len);
    return i < 0 ? NULL : &APR_ARRAY_IDX(st->items, i, rs_item_t);
}

void rs_state_set(apr_pool_t *p, rs_state_t *st, const char *key,
                  apr_size_t key_len, const char *json, apr_size_t json_len)
{
    int i = find(st, key, key_len);
    rs_item_t *it;
    if (i >= 0) {
        it = &APR_ARRAY_IDX(st->items, i, rs_item_t);
    }
    else {
        it = apr_array_push(st->items);
        it->key = apr_pstrmemdup(p, key, key_len);
        it->key_len = key_len;
    }
    it->value = apr_pstrmemdup(p, json, json_len);
    it->value_len = json_len;
}

int rs_state_remove(rs_state_t *st, const char *key, apr_size_t key_len)
{
    int i = find(st, key, key_len);
    rs_item_t *items = (rs_item_t *)st->items->elts;
    if (i < 0) {
        return 0;
    }
    memmove(&items[i], &items[i + 1],
            (apr_size_t)(st->items->nelts - i - 1) * sizeof(rs_item_t));
    st->items->nelts--;
    return 1;
}

void rs_state_clear(rs_state_t *st)
{
    apr_array_clear(st->items);
}

/* Well-formed UTF-8 per RFC 3629 table: no overlongs, no surrogates. */
int rs_utf8_valid(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        apr_size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        }
        else {
            return 0;
        }
        if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (apr_size_t k = 2; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
        }
        i += n + 1;
    }
    return 1;
}
