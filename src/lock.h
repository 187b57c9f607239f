/*
 * One session's record in the store, and its lock: optimistic, through
 * memcached CAS, shared by every httpd process and server that uses the
 * same memcached. Every change is a read then a compare-and-swap, retried
 * when another writer got there first. See docs/DESIGN.md.
 */
#ifndef RS_LOCK_H
#define RS_LOCK_H

#include <apr_hash.h>
#include "record.h"
#include "store.h"
#include "status.h"
#include "log.h"

#define RS_MAX_TIMEOUT 525600     /* minutes: a year */

/* The settings the lock works with: the caller's configuration. */
typedef struct {
    int lock_timeout;           /* seconds a writer waits */
    int lease;                  /* seconds a holder's renewal lasts */
    int timeout;                /* minutes: idle timeout of new sessions */
    apr_size_t max_size;        /* largest state stored */
    apr_hash_t *keys;           /* RemoteSessionKey registry, or NULL */
    int max_waiters;            /* writers waiting on one session, here */
    const char *key_prefix;     /* of store keys; NULL: RS_KEY_PREFIX */
} rs_lock_conf;

typedef struct {
    apr_pool_t *pool;           /* the session's lifetime: the request's */
    const rs_log *log;
    rs_lock_conf conf;
    rs_conn *conn;
    const char *id;
    const char *key;            /* memcached key */
    struct rs_slot *slot;       /* its wake-ups on this server (shared.h) */
    apr_pool_t *scratch;        /* cleared before every read */
    rs_state_t *state;          /* the session state, in r->pool */
    rs_record_t rec;            /* header as last read */
    const char *raw;            /* the item as last read, in scratch */
    apr_size_t raw_len;
    apr_uint64_t cas;           /* of the last read */
    int fresh;                  /* raw/cas still match the store, as far
                                   as we know (no write of ours since) */
    unsigned char owner[RS_OWNER_LEN];
    int held;                   /* we hold the lock (as far as we know) */
    apr_time_t renewed;         /* when we last renewed it */
    void *lease;                /* its entry with the lease thread, if any */
    int client;                 /* commits come from the .NET client:
                                   checked against the key registry and
                                   merged with the state they replace */
    const char *refused;        /* why a commit was RS_REFUSED */
    int keep_raw;               /* set by a caller that sends the state as
                                   stored: a take then checks it without
                                   decoding it, when it has no zero-length
                                   value and no unknown key, and leaves
                                   s->state NULL and its bytes in taken */
    unsigned char *taken;       /* in scratch, until the next read */
    apr_size_t taken_len;
    apr_size_t taken_flags;     /* offset of its three flags */
    int unstored;               /* a new session not in the store yet */
} rs_session_t;

/* A handle on session id (NULL: none yet, see rs_lock_create), living in
 * pool, logging to log. */
rs_session_t *rs_lock_open(apr_pool_t *pool, const rs_log *log,
                           const rs_lock_conf *conf, rs_conn *conn,
                           const char *id);

/* Reads the committed state into s->rec, taking no lock. */
rs_status_e rs_lock_load(rs_session_t *s);

/* The committed state's bytes as stored, not decoded: in s's scratch
 * pool, which the next read of s clears. */
rs_status_e rs_lock_load_raw(rs_session_t *s, unsigned char **b,
                             apr_size_t *n);

/* Resets the idle timer without a lock. */
rs_status_e rs_lock_touch(rs_session_t *s);

/* A new empty session under a fresh ID; locked when kind is not NONE. */
rs_status_e rs_lock_create(rs_session_t *s, rs_lock_kind_e kind);

/* A new empty session under a fresh ID, not stored (rs_lock_store_new
 * stores it when something is written). */
rs_status_e rs_lock_fresh(rs_session_t *s);

/* Stores st as the first state of an unstored session, unlocked. */
rs_status_e rs_lock_store_new(rs_session_t *s, const rs_state_t *st);

/* Takes the lock, waiting with back-off up to RemoteSessionLockTimeout. */
rs_status_e rs_lock_acquire(rs_session_t *s, rs_lock_kind_e kind);

/*
 * For a holder waiting on a PUT: RS_OK while the lock is still ours (and
 * renews it when due), RS_COMMITTED once committed, RS_LOST when no
 * longer ours. Reads the whole item (memcached has no partial get) but
 * decodes only the record header.
 */
rs_status_e rs_lock_poll(rs_session_t *s);

/* For the same holder, between polls: waits up to most for a PUT on this
 * server to commit the lock (RS_COMMITTED, the lock is then free), without
 * touching the store; RS_OK when none did. */
rs_status_e rs_lock_wait_commit(rs_session_t *s, apr_interval_time_t most);

/* Renews the lease when due; RS_LOST when the lock is no longer ours. */
rs_status_e rs_lock_renew(rs_session_t *s);

/*
 * As holder: stores st (abandoned: deletes the session) and frees the
 * lock in the same CAS. st NULL frees the lock leaving the state as is.
 * RS_REFUSED (the lock still ours) when s->client and st does not fit
 * the key registry; s->refused then says why.
 */
rs_status_e rs_lock_commit(rs_session_t *s, const rs_state_t *st);

/* As holder: frees the lock; a no-op when it is not ours any more. */
rs_status_e rs_lock_release(rs_session_t *s);

/* A PUT: commits st into the lock a writeable GET holds, for any holder,
 * and frees that lock in the same write; RS_REFUSED as rs_lock_commit. */
rs_status_e rs_lock_put(rs_session_t *s, const rs_state_t *st);


/* Renews owner's lock under key, outside a request (see lease.h). When
 * untold is given, it is set when a watched lock's companion could not be
 * rewritten (the caller logs RS00067). */
rs_status_e rs_lock_renew_owned(apr_pool_t *p, rs_conn *c, const char *key,
                                const unsigned char *owner, int *untold);

/* Frees owner's lock under key, outside a request: a holder that kept it
 * past RemoteSessionRequireHold. untold: as for rs_lock_renew_owned. */
rs_status_e rs_lock_release_owned(apr_pool_t *p, rs_conn *c, const char *key,
                                  const unsigned char *owner, int *untold);


#endif
