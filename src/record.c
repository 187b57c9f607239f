/*
 * Record header around the codec. A record that does not decode is
 * reported, never repaired: it may be a newer module's format.
 */
#include <string.h>
#include "record.h"

static const unsigned char magic[2] = { 'R', 'S' };

static apr_uint64_t get_be(const unsigned char *b, int n)
{
    apr_uint64_t v = 0;
    int i;
    for (i = 0; i < n; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

static void put_be(unsigned char *b, int n, apr_uint64_t v)
{
    int i;
    for (i = n - 1; i >= 0; i--, v >>= 8) {
        b[i] = (unsigned char)(v & 0xFF);
    }
}

const char *rs_record_decode_head(const char *buf, apr_size_t len,
                                  rs_record_t *rec)
{
    const unsigned char *b = (const unsigned char *)buf;

    if (len < RS_RECORD_HEAD_V1 || memcmp(b, magic, sizeof(magic))
        || b[2] < 1 || b[2] > 2 || (b[2] == 2 && len < RS_RECORD_HEAD)) {
        return "not a record of this module's formats 1 and 2";
    }
    if (b[3] > RS_LOCK_GONE || b[4] > RS_KIND_EXCLUSIVE) {
        return "unknown lock state in the record header";
    }
    rec->lock = b[3];
    rec->kind = b[4];
    memcpy(rec->owner, b + 5, RS_OWNER_LEN);
    rec->renewed = (apr_time_t)get_be(b + 21, 8);
    rec->timeout = (apr_uint32_t)get_be(b + 29, 4);
    rec->lease = b[2] == 2 ? (apr_uint32_t)get_be(b + 33, 2) : 0;
    rec->flags = b[2] == 2 ? b[35] : 0;
    rec->head = b[2] == 2 ? RS_RECORD_HEAD : RS_RECORD_HEAD_V1;
    return NULL;
}

void rs_record_head(const rs_record_t *rec, unsigned char *b)
{
    memcpy(b, magic, sizeof(magic));
    b[2] = 2;
    b[3] = (unsigned char)rec->lock;
    b[4] = (unsigned char)rec->kind;
    memcpy(b + 5, rec->owner, RS_OWNER_LEN);
    put_be(b + 21, 8, (apr_uint64_t)rec->renewed);
    put_be(b + 29, 4, rec->timeout);
    put_be(b + 33, 2, rec->lease > 0xFFFF ? 0xFFFF : rec->lease);
    b[35] = (unsigned char)rec->flags;
}

char *rs_record_pack(apr_pool_t *p, const rs_record_t *rec,
                     const unsigned char *state, apr_size_t state_len,
                     apr_size_t *len)
{
    unsigned char *b = apr_palloc(p, RS_RECORD_HEAD + state_len);

    rs_record_head(rec, b);
    memcpy(b + RS_RECORD_HEAD, state, state_len);
    *len = RS_RECORD_HEAD + state_len;
    return (char *)b;
}

void rs_record_watch_pack(const rs_record_t *rec, unsigned char *b)
{
    b[0] = (unsigned char)rec->lock;
    b[1] = (unsigned char)rec->kind;
    memcpy(b + 2, rec->owner, RS_OWNER_LEN);
    put_be(b + 18, 8, (apr_uint64_t)rec->renewed);
    put_be(b + 26, 2, rec->lease > 0xFFFF ? 0xFFFF : rec->lease);
    b[28] = (unsigned char)rec->flags;
}

const char *rs_record_watch_decode(const char *buf, apr_size_t len,
                                   rs_record_t *rec)
{
    const unsigned char *b = (const unsigned char *)buf;
    if (len != RS_WATCH_LEN || b[0] > RS_LOCK_GONE
        || b[1] > RS_KIND_EXCLUSIVE) {
        return "not a companion item of this module";
    }
    rec->lock = b[0];
    rec->kind = b[1];
    memcpy(rec->owner, b + 2, RS_OWNER_LEN);
    rec->renewed = (apr_time_t)get_be(b + 18, 8);
    rec->lease = (apr_uint32_t)get_be(b + 26, 2);
    rec->flags = b[28];
    return NULL;
}
