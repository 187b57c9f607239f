/*
 * The session state and its binary wire format, version 1 (docs/PROTOCOL.md,
 * "Serialized session state"): what .NET's BinaryWriter produces.
 * Values are kept as the JSON bytes that arrived, never re-encoded.
 */
#ifndef RS_CODEC_H
#define RS_CODEC_H

#include <apr_pools.h>
#include <apr_tables.h>

#define RS_CODEC_VERSION 1

typedef struct {
    const char *key;        /* UTF-8, NUL-terminated in pool memory */
    apr_size_t key_len;     /* bytes, without the NUL */
    const char *value;      /* JSON text, NUL-terminated in pool memory */
    apr_size_t value_len;   /* 0: the sender could not serialize the value */
} rs_item_t;

typedef struct {
    const char *id;
    apr_size_t id_len;
    int is_new;
    int is_abandoned;
    int is_readonly;
    apr_uint32_t timeout;           /* minutes */
    apr_array_header_t *items;      /* of rs_item_t, in wire order */
    apr_array_header_t *unknown;    /* of rs_item_t, value unused */
} rs_state_t;

/* An empty state for session `id`. */
rs_state_t *rs_state_make(apr_pool_t *p, const char *id, apr_uint32_t timeout);

/* A deep copy whose memory lives in p. */
rs_state_t *rs_state_copy(apr_pool_t *p, const rs_state_t *st);

/*
 * Decodes buf[0..len). Returns NULL and sets *out on success, or a message
 * (in p) that says what is wrong and at which byte. Never reads outside buf.
 * Inputs longer than max_size, and declared lengths beyond it, are refused.
 */
const char *rs_state_decode(apr_pool_t *p, const unsigned char *buf,
                            apr_size_t len, apr_size_t max_size,
                            rs_state_t **out);

/*
 * As rs_state_decode, but the ID, keys and values point into buf (so are
 * not NUL-ended), which must outlive the state: no copy of a big state.
 */
const char *rs_state_view(apr_pool_t *p, const unsigned char *buf,
                          apr_size_t len, apr_size_t max_size,
                          rs_state_t **out);

/* What rs_state_scan found out about an encoded state. */
typedef struct {
    apr_size_t flags_at;        /* offset of IsNewSession; IsAbandoned and
                                   IsReadOnly follow */
    apr_size_t empty_values;    /* items with a zero-length value */
    apr_size_t unknown;         /* keys in the unknown list */
} rs_scan_t;

/*
 * Checks buf[0..len) as rs_state_decode does, keeping nothing: for
 * sending a stored state as it is, with its flags set in place. NULL, or
 * what is wrong (in p).
 */
const char *rs_state_scan(apr_pool_t *p, const unsigned char *buf,
                          apr_size_t len, rs_scan_t *out);

/* The encoded length of st, without encoding it. */
apr_size_t rs_state_encoded_len(const rs_state_t *st);

/* Encodes st into pool memory; *len gets its length. */
unsigned char *rs_state_encode(apr_pool_t *p, const rs_state_t *st,
                               apr_size_t *len);

/* Item access by key (byte comparison). */
const rs_item_t *rs_state_get(const rs_state_t *st, const char *key,
                              apr_size_t key_len);
/* Sets key to the JSON bytes given (copied into p), replacing in place. */
void rs_state_set(apr_pool_t *p, rs_state_t *st, const char *key,
                  apr_size_t key_len, const char *json, apr_size_t json_len);
/* Removes key; returns 1 when it was there. */
int rs_state_remove(rs_state_t *st, const char *key, apr_size_t key_len);
void rs_state_clear(rs_state_t *st);

/* 1 when buf[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int rs_utf8_valid(const unsigned char *buf, apr_size_t len);

#endif
