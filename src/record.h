/*
 * The memcached item of one session: a small fixed header carrying the
 * lock, then the session state in the wire codec. See docs/DESIGN.md.
 *
 *   0  'R' 'S'          magic
 *   2  2                record format version (1: without the lease)
 *   3  lock state       0 free, 1 held, 2 committed (held, work done:
 *                       written by older versions only, read as free),
 *                       3 gone (abandoned; a tombstone until it expires)
 *   4  lock kind        0 none, 1 endpoint GET (a PUT may commit it),
 *                       2 exclusive (POST, SessionRequire)
 *   5  owner            16 random bytes; zero when free, except after a
 *                       PUT's commit (kind 1 kept), so that a second PUT
 *                       and the held GET know it was committed
 *  21  renewed          apr_time_t of the last renewal, big-endian
 *  29  timeout          minutes, big-endian (the state's, so that lock
 *                       changes can renew the expiry without decoding it)
 *  33  lease            seconds, big-endian: the holder's
 *                       RemoteSessionLockLease, by which waiters judge it
 *  35  flags            RS_REC_* below
 *  36  state            codec version 1 (docs/PROTOCOL.md)
 */
#ifndef RS_RECORD_H
#define RS_RECORD_H

#include <apr_pools.h>
#include <apr_time.h>
#include "codec.h"

#define RS_OWNER_LEN   16
#define RS_RECORD_HEAD    36   /* format 2, the one written */
#define RS_RECORD_HEAD_V1 33

typedef enum {
    RS_LOCK_FREE = 0, RS_LOCK_HELD, RS_LOCK_COMMITTED, RS_LOCK_GONE
} rs_lock_state_e;

typedef enum {
    RS_KIND_NONE = 0, RS_KIND_ENDPOINT, RS_KIND_EXCLUSIVE
} rs_lock_kind_e;

/* A writeable GET's hold ended without a commit (its client went, or its
 * hold timed out): a late PUT of that client may still come. */
#define RS_REC_UNCOMMITTED_END 0x01
/* This lock was taken after such an end (or taken over from a holder
 * that ended so): a PUT that commits it may be that late one. */
#define RS_REC_AFTER_UNCOMMITTED 0x02

/* Writers wait on this held lock by reading the companion item (the
 * record's key + ".w", holding its lock fields: rs_record_watch_pack)
 * instead of the big record: each write that replaces a record so flagged
 * rewrites that item too. Set by a waiter or a held GET, cleared when the
 * lock is freed. */
#define RS_REC_WATCHED 0x04

typedef struct {
    rs_lock_state_e lock;
    rs_lock_kind_e kind;
    unsigned char owner[RS_OWNER_LEN];
    apr_time_t renewed;
    apr_uint32_t timeout;
    apr_uint32_t lease;         /* seconds; 0: unknown (format 1) */
    unsigned flags;             /* RS_REC_* */
    apr_size_t head;            /* header bytes of the record as read */
} rs_record_t;

/* Reads the header of buf; NULL, or why it is not one of our records. */
const char *rs_record_decode_head(const char *buf, apr_size_t len,
                                  rs_record_t *rec);

/*
 * The companion item of a watched record: its lock fields alone (lock,
 * kind, owner, renewed, lease, flags), RS_WATCH_LEN bytes, so that a
 * watcher's check moves as few bytes as it can.
 */
#define RS_WATCH_LEN 29
void rs_record_watch_pack(const rs_record_t *rec, unsigned char *b);
/* Into rec's lock fields; its other fields are left as they are. NULL,
 * or why buf is not a companion. */
const char *rs_record_watch_decode(const char *buf, apr_size_t len,
                                   rs_record_t *rec);

/* Header rec (format 2) into b[0..RS_RECORD_HEAD). */
void rs_record_head(const rs_record_t *rec, unsigned char *b);

/* Header rec (format 2) followed by the encoded state bytes, in pool
 * memory. */
char *rs_record_pack(apr_pool_t *p, const rs_record_t *rec,
                     const unsigned char *state, apr_size_t state_len,
                     apr_size_t *len);

#endif
