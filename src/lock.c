/*
 * The lock state machine over memcached CAS (docs/DESIGN.md). Lock-only
 * changes rewrite the record header and keep the state bytes as read:
 * renewing and freeing a lock never decode or re-encode a state.
 */
#include <string.h>
#include <time.h>
#include <apr_strings.h>
#include "lock.h"
#include "merge.h"
#include "keys.h"
#include "sid.h"
#include "shared.h"
#include "metrics.h"
#include <http_log.h>

APLOG_USE_MODULE(remote_session);

#define RS_CAS_TRIES     64
#define RS_BACKOFF_FIRST 1000       /* usec */
#define RS_RETRY         ((rs_status_e)-1)
#define RS_NO_RANDOM     ((rs_status_e)-2)   /* logged; not worth a retry */
#define RS_CREATE_TRIES  4
/* A waiter on another server's holder learns of its commit by reading
 * the store at most this long after it; on one server, at once. */
#define RS_WAIT_MAX      25000      /* usec */
/* Records this big are watched (record.h) by the writers that wait on
 * them: reading a smaller one whole costs the same round trip. */
#define RS_WATCH_MIN     (16 * 1024)
#define RS_WATCH_SUFFIX  ".w"

rs_session_t *rs_lock_open(apr_pool_t *pool, const rs_log *log,
                           const rs_lock_conf *conf, rs_conn *conn,
                           const char *id)
{
    rs_session_t *s = apr_pcalloc(pool, sizeof(*s));
    s->pool = pool;
    s->log = log;
    s->conf = *conf;
    s->conn = conn;
    s->id = id;
    s->key = id ? rs_sid_store_key(pool, conf->key_prefix, id) : NULL;
    s->slot = rs_shared_slot(s->key);
    apr_pool_create(&s->scratch, pool);
    apr_pool_tag(s->scratch, "remote_session_scratch");
    return s;
}

static rs_status_e store_failed(rs_session_t *s, const char *op,
                                rs_store_rc rc)
{
    rs_metric_inc(rc == RS_STORE_LOST ? RS_M_STORE_LOST
                  : rc == RS_STORE_TIMEOUT ? RS_M_STORE_TIMEOUT
                  : RS_M_STORE_ERROR);
    RS_LOGF(s->log, APLOG_ERR, RSLOG(00020)
            "session %s: %s %s failed: %s", s->id,
            rs_conn_backend(s->conn), op, rs_conn_error(s->conn));
    return RS_UNAVAILABLE;
}

static apr_time_t lease(const rs_session_t *s)
{
    return apr_time_from_sec(s->conf.lease);
}

static apr_uint32_t ttl_of(const rs_record_t *rec)
{
    return rec->timeout * 60;
}

static int ours(const rs_session_t *s)
{
    return !memcmp(s->rec.owner, s->owner, RS_OWNER_LEN);
}

/* The item and its header, into scratch. */
static rs_status_e read_rec(rs_session_t *s)
{
    const char *err;
    rs_store_rc rc;

    apr_pool_clear(s->scratch);
    s->fresh = 0;
    rc = rs_store_get(s->conn, s->scratch, s->key, &s->raw, &s->raw_len,
                      &s->cas);
    if (rc == RS_STORE_MISS) {
        return RS_NOT_FOUND;
    }
    if (rc != RS_STORE_OK) {
        return store_failed(s, "get", rc);
    }
    err = rs_record_decode_head(s->raw, s->raw_len, &s->rec);
    if (err) {
        RS_LOGF(s->log, APLOG_ERR, RSLOG(00021)
                "session %s: stored record is unreadable (%s); left "
                "in place until it expires", s->id, err);
        return RS_CORRUPT;
    }
    s->fresh = 1;
    return RS_OK;
}

static const unsigned char *raw_state(const rs_session_t *s, apr_size_t *n)
{
    *n = s->raw_len - s->rec.head;
    return (const unsigned char *)s->raw + s->rec.head;
}

/* Decodes the state bytes of the last read into p. */
static rs_status_e decode_state(rs_session_t *s, apr_pool_t *p,
                                rs_state_t **out)
{
    apr_size_t n;
    const unsigned char *b = raw_state(s, &n);
    const char *err = rs_state_decode(p, b, n, (apr_size_t)-1, out);
    if (err) {
        RS_LOGF(s->log, APLOG_ERR, RSLOG(00022)
                "session %s: stored state is unreadable (%s); left "
                "in place until it expires", s->id, err);
        return RS_CORRUPT;
    }
    return RS_OK;
}

/* The companion item of a watched record: next's lock fields, on the
 * record's server (a second server would be a second way to fail). */
static rs_store_rc put_companion(rs_conn *c, apr_pool_t *p, const char *key,
                                 const rs_record_t *next)
{
    unsigned char b[RS_WATCH_LEN];
    rs_record_watch_pack(next, b);
    return rs_store_set_near(c, key, apr_pstrcat(p, key, RS_WATCH_SUFFIX,
                                                 NULL),
                             (const char *)b, sizeof(b), ttl_of(next));
}

/* The companion of the record under key: RS_STORE_OK and its bytes in
 * b, or why not. */
static rs_store_rc get_companion(rs_conn *c, apr_pool_t *p, const char *key,
                                 unsigned char *b)
{
    const char *v;
    apr_size_t n;
    rs_store_rc rc = rs_store_get_near(c, p, key,
                                       apr_pstrcat(p, key, RS_WATCH_SUFFIX,
                                                   NULL), &v, &n);
    if (rc == RS_STORE_OK && n != RS_WATCH_LEN) {
        return RS_STORE_ERROR;
    }
    if (rc == RS_STORE_OK) {
        memcpy(b, v, RS_WATCH_LEN);
    }
    return rc;
}

/* After a write that replaced a watched record. Its waiters fall back to
 * reading the record itself when the companion stays silent, so a failure
 * here costs them time, not correctness. */
static void tell_watchers(rs_session_t *s, const rs_record_t *next)
{
    if (put_companion(s->conn, s->scratch, s->key, next) != RS_STORE_OK) {
        RS_LOGF(s->log, APLOG_INFO, RSLOG(00067)
                "session %s: %s set of the lock's companion item failed: "
                "%s; writers waiting on other servers see the change "
                "within half a lease", s->id, rs_conn_backend(s->conn),
                rs_conn_error(s->conn));
    }
}

/* CAS-writes header next with the given state bytes. */
static rs_status_e write_rec(rs_session_t *s, const rs_record_t *next,
                             const unsigned char *state, apr_size_t n,
                             apr_uint32_t ttl)
{
    apr_size_t len;
    const char *buf = rs_record_pack(s->scratch, next, state, n, &len);
    rs_store_rc rc = rs_store_cas(s->conn, s->key, buf, len, ttl, s->cas);

    s->fresh = 0;
    switch (rc) {
    case RS_STORE_OK:
        if (next->lock == RS_LOCK_GONE && s->rec.lock != RS_LOCK_GONE) {
            rs_metric_inc(RS_M_ABANDONED);
        }
        rs_slot_touched(s->slot, s->key, apr_time_now());
        if (s->rec.flags & RS_REC_WATCHED) {
            tell_watchers(s, next);
        }
        if (next->lock != RS_LOCK_HELD) {
            rs_slot_wake(s->slot, s->rec.lock == RS_LOCK_HELD
                                  && !memcmp(next->owner, s->rec.owner,
                                             RS_OWNER_LEN)
                                  ? next->owner : NULL);
        }
        s->rec = *next;
        return RS_OK;
    case RS_STORE_EXISTS:
        rs_metric_inc(RS_M_CAS_CONFLICTS);
        return RS_RETRY;
    case RS_STORE_MISS:
        return RS_NOT_FOUND;
    default:
        return store_failed(s, "cas", rc);
    }
}

static rs_status_e too_many_conflicts(rs_session_t *s)
{
    RS_LOGF(s->log, APLOG_ERR, RSLOG(00023)
            "session %s: %d CAS conflicts in a row, giving up",
            s->id, RS_CAS_TRIES);
    return RS_UNAVAILABLE;
}

static int new_owner(rs_session_t *s)
{
    if (apr_generate_random_bytes(s->owner, RS_OWNER_LEN) != APR_SUCCESS) {
        RS_LOGF(s->log, APLOG_ERR, RSLOG(00060)
                "session %s: no random bytes for a lock owner",
                s->id ? s->id : "(new)");
        return 0;
    }
    return 1;
}

rs_status_e rs_lock_load(rs_session_t *s)
{
    rs_status_e st = read_rec(s);
    if (st == RS_OK && s->rec.lock == RS_LOCK_GONE) {
        st = RS_NOT_FOUND;
    }
    return st == RS_OK ? decode_state(s, s->pool, &s->state) : st;
}

/*
 * A read resets the expiry only when this server has not done so (by a
 * touch or a write) for a tenth of the timeout, at most a minute: most
 * reads are then one get, and an item lives at least the timeout less
 * that from its last read.
 */
static apr_interval_time_t touch_window(const rs_session_t *s)
{
    apr_interval_time_t tenth = apr_time_from_sec(ttl_of(&s->rec)) / 10;
    return tenth < apr_time_from_sec(60) ? tenth : apr_time_from_sec(60);
}

rs_status_e rs_lock_load_raw(rs_session_t *s, unsigned char **b,
                             apr_size_t *n)
{
    rs_status_e st = read_rec(s);
    if (st == RS_OK && s->rec.lock == RS_LOCK_GONE) {
        st = RS_NOT_FOUND;
    }
    if (st == RS_OK) {
        /* our own copy of the item, in scratch */
        *b = (unsigned char *)raw_state(s, n);
    }
    return st;
}

rs_status_e rs_lock_touch(rs_session_t *s)
{
    apr_time_t now = apr_time_now();
    rs_store_rc rc;
    if (rs_slot_touched_within(s->slot, s->key, now, touch_window(s))) {
        return RS_OK;
    }
    rc = rs_store_touch(s->conn, s->key, ttl_of(&s->rec));
    switch (rc) {
    case RS_STORE_OK:
        rs_slot_touched(s->slot, s->key, now);
        return RS_OK;
    case RS_STORE_MISS: /* gone since the read: what was read is still the
                         * last committed state, and a read may answer it */
        return RS_OK;
    default:
        return store_failed(s, "touch", rc);
    }
}

/* s becomes a new empty session under a fresh ID; 0 (logged) without
 * random bytes. */
static int fresh_id(rs_session_t *s)
{
    const char *id = rs_sid_generate(s->pool);
    if (!id) {
        RS_LOGF(s->log, APLOG_ERR, RSLOG(00024)
                "no random bytes for a new session ID");
        return 0;
    }
    s->id = id;
    s->key = rs_sid_store_key(s->pool, s->conf.key_prefix, id);
    s->slot = rs_shared_slot(s->key);
    s->state = rs_state_make(s->pool, id, (apr_uint32_t)s->conf.timeout);
    return 1;
}

static rs_status_e add_new(rs_session_t *s, rs_lock_kind_e kind,
                           rs_store_rc *rc)
{
    rs_record_t rec = { kind ? RS_LOCK_HELD : RS_LOCK_FREE, kind, { 0 },
                        apr_time_now(), (apr_uint32_t)s->conf.timeout,
                        (apr_uint32_t)s->conf.lease, 0, RS_RECORD_HEAD };
    const unsigned char *state;
    apr_size_t n, len;
    const char *buf;

    if (!fresh_id(s) || (kind && !new_owner(s))) {
        return RS_NO_RANDOM;
    }
    if (kind) {
        memcpy(rec.owner, s->owner, RS_OWNER_LEN);
    }
    state = rs_state_encode(s->pool, s->state, &n);
    buf = rs_record_pack(s->pool, &rec, state, n, &len);
    switch (*rc = rs_store_add(s->conn, s->key, buf, len, ttl_of(&rec))) {
    case RS_STORE_OK:
        rs_metric_inc(RS_M_CREATED);
        rs_slot_touched(s->slot, s->key, rec.renewed);
        s->rec = rec;
        s->held = kind != RS_KIND_NONE;
        s->renewed = rec.renewed;
        return RS_OK;
    case RS_STORE_EXISTS:
        return RS_RETRY;
    default:
        return RS_UNAVAILABLE;
    }
}

/*
 * A fresh ID per try: with a pool of memcached servers one of which is
 * down, the next ID likely maps to a live one. A server that times out
 * is not tried again: each try would cost the whole timeout.
 */
rs_status_e rs_lock_create(rs_session_t *s, rs_lock_kind_e kind)
{
    rs_status_e st = RS_RETRY;
    rs_store_rc rc = RS_STORE_OK;
    int i;
    for (i = 0; i < RS_CREATE_TRIES && (st == RS_RETRY
                                        || (st == RS_UNAVAILABLE
                                            && rc != RS_STORE_TIMEOUT)); i++) {
        st = add_new(s, kind, &rc);
    }
    if (st == RS_UNAVAILABLE) {
        return store_failed(s, "add", rc);
    }
    if (st == RS_NO_RANDOM) {
        return RS_UNAVAILABLE;
    }
    return st == RS_RETRY ? too_many_conflicts(s) : st;
}

/* The waiter's own clock, which no server's setting or offset moves. */
static apr_time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return apr_time_from_sec(ts.tv_sec) + ts.tv_nsec / 1000;
}

/* The lease the holder renews by (older records do not say: ours). */
static apr_interval_time_t holder_lease(const rs_session_t *s)
{
    return apr_time_from_sec(s->rec.lease ? (int)s->rec.lease : s->conf.lease);
}

/*
 * A held lock as a waiter saw it in the record: its header (which every
 * write of a holder changes) and since when; when the record was last
 * read; and, for a watched record, the companion as last read and since
 * when. Only reads of the record judge staleness: the companion may lag
 * behind it (a lost companion write), and only says when to read.
 */
typedef struct {
    unsigned char head[RS_RECORD_HEAD];
    int have;
    apr_time_t since;
    apr_time_t read_at;
    unsigned char comp[RS_WATCH_LEN];
    apr_time_t comp_since;
} watch_t;

/* FNV-1a: the header's version for the shared watch. */
static apr_uint64_t version_of(const unsigned char *b, apr_size_t n)
{
    apr_uint64_t h = 0xcbf29ce484222325ull;
    while (n--) {
        h = (h ^ *b++) * 0x100000001b3ull;
    }
    return h;
}

/*
 * How long the held lock of the last read of the record has been seen
 * unchanged. A live holder rewrites it every third of its lease, so one
 * unchanged for its whole lease is stale, whatever this server's lease
 * setting and however far its clock is from the holder's (the record's
 * renewal time, a wall clock, is not used for this). A waiter's WATCHED
 * mark is not the holder's doing and does not count. -1 when the lock is
 * not held.
 */
static apr_interval_time_t unchanged_for(const rs_session_t *s, watch_t *w)
{
    apr_time_t now = mono_now();
    unsigned char head[RS_RECORD_HEAD];
    rs_record_t rec = s->rec;

    if (rec.lock != RS_LOCK_HELD) {
        w->have = 0;
        return -1;
    }
    rec.flags &= ~RS_REC_WATCHED;
    rs_record_head(&rec, head);
    if (!w->have || memcmp(w->head, head, sizeof(head))) {
        /* other waiters of this server may have watched it before: their
         * time counts (a lock timeout shorter than the lease could
         * otherwise keep a dead holder's lock for ever) */
        memcpy(w->head, head, sizeof(head));
        w->have = 1;
        w->since = rs_slot_seen_since(s->slot, version_of(head, sizeof(head)),
                                      now);
    }
    return now - w->since;
}

/* For a caller that sends the state as stored (keep_raw): the bytes of
 * the last read, checked; 0 when they must be decoded instead. */
static int take_raw(rs_session_t *s, apr_pool_t *p)
{
    apr_size_t n;
    const unsigned char *b = raw_state(s, &n);
    rs_scan_t scan;

    if (!s->keep_raw || rs_state_scan(p, b, n, &scan) || scan.empty_values
        || scan.unknown) {
        return 0;
    }
    s->state = NULL;
    s->taken = (unsigned char *)b;
    s->taken_len = n;
    s->taken_flags = scan.flags_at;
    return 1;
}

/*
 * The state is checked before the take, so that a record that does not
 * decode is never written: decoded into p, cleared on each try, so that
 * CAS conflicts do not pile up copies in the request pool, or only
 * scanned (take_raw). idle: how long a stale lock was seen unchanged (a
 * takeover), or -1.
 */
static rs_status_e try_take(rs_session_t *s, apr_pool_t *p,
                            rs_lock_kind_e kind, apr_time_t now,
                            apr_interval_time_t idle)
{
    rs_record_t next = s->rec;
    apr_size_t n;
    const unsigned char *b = raw_state(s, &n);
    rs_status_e st;

    apr_pool_clear(p);
    if (!take_raw(s, p) && (st = decode_state(s, p, &s->state)) != RS_OK) {
        return st;
    }
    next.lock = RS_LOCK_HELD;
    next.kind = kind;
    next.renewed = now;
    next.lease = (apr_uint32_t)s->conf.lease;
    next.flags = s->rec.flags & RS_REC_UNCOMMITTED_END
                 || (idle >= 0 && s->rec.kind == RS_KIND_ENDPOINT)
                 ? RS_REC_AFTER_UNCOMMITTED : 0;
    /* taken over: the dead holder's waiters still wait */
    next.flags |= s->rec.flags & RS_REC_WATCHED;
    memcpy(next.owner, s->owner, RS_OWNER_LEN);
    if ((st = write_rec(s, &next, b, n, ttl_of(&next))) != RS_OK) {
        return st;
    }
    s->held = 1;
    s->renewed = now;
    if (idle >= 0) {
        rs_metric_inc(RS_M_TAKEOVERS);
        RS_LOGF(s->log, APLOG_WARNING, RSLOG(00025)
                "session %s: took over a lock unchanged for %" APR_TIME_T_FMT
                " ms (its holder's lease: %" APR_TIME_T_FMT " s)", s->id,
                apr_time_as_msec(idle), apr_time_sec(holder_lease(s)));
    }
    return RS_OK;
}

static rs_status_e lock_busy(rs_session_t *s)
{
    rs_metric_inc(RS_M_LOCK_TIMEOUTS);
    RS_LOGF(s->log, APLOG_WARNING, RSLOG(00026)
            "session %s: lock not obtained within %d s "
            "(RemoteSessionLockTimeout)", s->id, s->conf.lock_timeout);
    return RS_BUSY;
}

static rs_status_e too_many_waiters(rs_session_t *s)
{
    rs_metric_inc(RS_M_WAITERS_REFUSED);
    RS_LOGF(s->log, APLOG_WARNING, RSLOG(00064)
            "session %s: %d writers wait on it already on this server "
            "(RemoteSessionMaxWaiters)", s->id, s->conf.max_waiters);
    return RS_BUSY;
}

/*
 * Marks the held record of the last read watched: the companion first, so
 * that it can never hold older lock fields than a holder's write after the
 * mark. 1 when the record is watched.
 */
static int mark_watched(rs_session_t *s)
{
    rs_record_t next = s->rec;
    apr_size_t n;
    const unsigned char *b = raw_state(s, &n);

    if (s->rec.flags & RS_REC_WATCHED) {
        return 1;
    }
    next.flags |= RS_REC_WATCHED;
    return put_companion(s->conn, s->scratch, s->key, &next) == RS_STORE_OK
        && write_rec(s, &next, b, n, ttl_of(&next)) == RS_OK;
}

/*
 * Reads the companion of the watched lock: 1 while it shows the lock held
 * (renewed, or by a new holder), 0 when the record must be read. A
 * companion gone (evicted, its server restarted) is written again from
 * the record last read: at worst older than a holder's write since, which
 * costs a read of the record after half a lease of silence.
 */
static int companion_held(rs_session_t *s, apr_pool_t *p, watch_t *w)
{
    unsigned char b[RS_WATCH_LEN];
    rs_record_t rec;
    rs_store_rc rc = get_companion(s->conn, p, s->key, b);

    if (rc == RS_STORE_MISS) {
        put_companion(s->conn, p, s->key, &s->rec);
        return 0;
    }
    if (rc != RS_STORE_OK || rs_record_watch_decode((const char *)b,
                                                    sizeof(b), &rec)
        || rec.lock != RS_LOCK_HELD) {
        return 0;
    }
    if (memcmp(b, w->comp, sizeof(b))) {
        memcpy(w->comp, b, sizeof(b));
        w->comp_since = mono_now();
    }
    return 1;
}

/* Whether a watcher must read the record: the lock unchanged there for
 * the holder's lease (stale, if it still is: to take it over), or the
 * companion silent for half of it with the record not read meanwhile (a
 * live holder renews every third of its lease: its companion write may
 * have been lost). */
static int must_read(const rs_session_t *s, const watch_t *w)
{
    apr_time_t now = mono_now();
    apr_interval_time_t half = holder_lease(s) / 2;
    return now - w->since >= holder_lease(s)
        || (now - w->comp_since >= half && now - w->read_at >= half);
}

/*
 * Sleeps until the held lock of the last read may have changed: a wake-up
 * on this server, or the next back-off step. A big record is watched: its
 * waiters read the small companion item instead, and read the record only
 * when that shows the lock free or must_read says so.
 */
static void wait_for_change(rs_session_t *s, watch_t *w, apr_uint32_t seen,
                            apr_interval_time_t *delay, apr_time_t deadline)
{
    int watched = s->raw_len >= RS_WATCH_MIN && mark_watched(s);
    apr_pool_t *p = NULL;

    for (;;) {
        apr_interval_time_t left = deadline - apr_time_now();
        rs_slot_wait(s->slot, seen, *delay < left ? *delay : left);
        *delay = *delay * 2 < RS_WAIT_MAX ? *delay * 2 : RS_WAIT_MAX;
        if (!watched || rs_slot_seen(s->slot) != seen
            || apr_time_now() >= deadline) {
            break;
        }
        if (p) {
            apr_pool_clear(p);
        }
        else {
            apr_pool_create(&p, s->scratch);
        }
        if (!companion_held(s, p, w) || must_read(s, w)) {
            break;
        }
    }
    if (p) {
        apr_pool_destroy(p);
    }
}

/*
 * Waits with back-off between reads of the store; a commit or release on
 * this server ends the wait at once (shared.h), one on another server is
 * seen at the next read.
 */
static rs_status_e acquire_loop(rs_session_t *s, apr_pool_t *p,
                                rs_lock_kind_e kind, apr_time_t *waited)
{
    apr_time_t deadline = apr_time_now()
                          + apr_time_from_sec(s->conf.lock_timeout);
    apr_interval_time_t delay = RS_BACKOFF_FIRST;
    watch_t watch = { { 0 }, 0, 0, 0, { 0 }, 0 };
    int conflicts = 0;

    while (conflicts < RS_CAS_TRIES) {
        apr_interval_time_t idle;
        apr_uint32_t seen = rs_slot_seen(s->slot);
        apr_time_t now = apr_time_now();
        rs_status_e st = read_rec(s);
        if (st == RS_OK && s->rec.lock == RS_LOCK_GONE) {
            st = RS_NOT_FOUND;
        }
        if (st != RS_OK) {
            return st;
        }
        watch.read_at = watch.comp_since = mono_now();
        idle = unchanged_for(s, &watch);
        if (idle < 0 || idle >= holder_lease(s)) {
            st = try_take(s, p, kind, now, idle);
            if (st == RS_OK && *waited && idle < 0) {
                rs_metric_inc(RS_M_HANDOFFS);
            }
            if (st != RS_RETRY) {
                return st;
            }
            conflicts++;
            continue;
        }
        if (now >= deadline) {
            return lock_busy(s);
        }
        /* Conflicts count in a row: a wake-up sends every waiter of the
         * session at the lock at once, and all but one lose. */
        conflicts = 0;
        if (!*waited) {
            *waited = now;
            rs_metric_inc(RS_M_WAITING_WRITERS);
        }
        wait_for_change(s, &watch, seen, &delay, deadline);
    }
    return too_many_conflicts(s);
}

rs_status_e rs_lock_acquire(rs_session_t *s, rs_lock_kind_e kind)
{
    rs_status_e st;
    apr_pool_t *p;
    apr_time_t waited = 0;      /* when it first found the lock held */

    if (!new_owner(s)) {
        return RS_UNAVAILABLE;
    }
    if (!rs_slot_enter(s->slot, s->conf.max_waiters)) {
        return too_many_waiters(s);
    }
    apr_pool_create(&p, s->pool);
    st = acquire_loop(s, p, kind, &waited);
    rs_slot_leave(s->slot);
    if (waited) {
        rs_metric_add(RS_M_WAITING_WRITERS, -1);
        rs_metric_wait(apr_time_now() - waited);
    }
    return st;
}

/* With a fresh read: renew when a third of the lease has passed. */
static rs_status_e renew_read(rs_session_t *s)
{
    apr_time_t now = apr_time_now();
    rs_record_t next = s->rec;
    apr_size_t n;
    const unsigned char *b;
    rs_status_e st;

    if (now - s->renewed < lease(s) / 3) {
        return RS_OK;
    }
    b = raw_state(s, &n);
    next.renewed = now;
    next.lease = (apr_uint32_t)s->conf.lease;
    st = write_rec(s, &next, b, n, ttl_of(&next));
    if (st == RS_OK) {
        s->renewed = now;
    }
    return st;
}

static rs_status_e still_ours(rs_session_t *s, rs_status_e st)
{
    if (st == RS_NOT_FOUND || (st == RS_OK && !ours(s))) {
        s->held = 0;
        return RS_LOST;
    }
    return st;
}

/*
 * A held GET's lock on a watched record, while no renewal is due: the
 * companion still holds the lock fields it wrote or read last, so nobody
 * wrote the record since (a PUT, a takeover or an abandon rewrites both).
 * Spares a poll reading a big record ten times a second.
 */
static int companion_unchanged(rs_session_t *s)
{
    unsigned char mine[RS_WATCH_LEN], b[RS_WATCH_LEN];
    apr_pool_t *p;
    int same;

    if (!(s->rec.flags & RS_REC_WATCHED) || s->rec.lock != RS_LOCK_HELD
        || !ours(s) || apr_time_now() - s->renewed >= lease(s) / 3) {
        return 0;
    }
    rs_record_watch_pack(&s->rec, mine);
    apr_pool_create(&p, s->pool);
    same = get_companion(s->conn, p, s->key, b) == RS_STORE_OK
           && !memcmp(b, mine, sizeof(mine));
    apr_pool_destroy(p);
    return same;
}

rs_status_e rs_lock_poll(rs_session_t *s)
{
    int i;
    if (companion_unchanged(s)) {
        return RS_OK;
    }
    for (i = 0; i < RS_CAS_TRIES; i++) {
        rs_status_e st = still_ours(s, read_rec(s));
        if (st != RS_OK) {
            return st;
        }
        if (s->rec.lock != RS_LOCK_HELD) {
            /* A PUT committed (and freed) it or abandoned the session; an
             * older module's PUT left it for us to free. */
            s->held = s->rec.lock == RS_LOCK_COMMITTED;
            rs_slot_uncommit(s->slot, s->owner);
            return RS_COMMITTED;
        }
        if (s->rec.kind == RS_KIND_ENDPOINT && s->raw_len >= RS_WATCH_MIN
            && !(s->rec.flags & RS_REC_WATCHED)
            && apr_time_now() - s->renewed < lease(s) / 3) {
            /* a held GET that outlived its first poll: the next ones read
             * the companion (a quick PUT never pays for the mark); not
             * with a renewal due, which needs the CAS the mark changes */
            mark_watched(s);
        }
        st = renew_read(s);
        if (st != RS_RETRY) {
            return still_ours(s, st);
        }
    }
    return too_many_conflicts(s);
}

rs_status_e rs_lock_wait_commit(rs_session_t *s, apr_interval_time_t most)
{
    apr_uint32_t seen = rs_slot_seen(s->slot);
    if (!rs_slot_committed(s->slot, s->owner)) {
        rs_slot_wait(s->slot, seen, most);
    }
    if (!rs_slot_committed(s->slot, s->owner)) {
        return RS_OK;
    }
    s->held = 0;
    rs_slot_uncommit(s->slot, s->owner);
    return RS_COMMITTED;
}

rs_status_e rs_lock_renew(rs_session_t *s)
{
    rs_status_e st;
    if (apr_time_now() - s->renewed < lease(s) / 3) {
        return RS_OK;
    }
    st = rs_lock_poll(s);
    return st == RS_COMMITTED ? RS_LOST : st;
}

/* Minutes memcached can keep an item for; 0 would mean for ever. */
static apr_uint32_t valid_timeout(const rs_session_t *s, apr_uint32_t t)
{
    if (t < 1 || t > RS_MAX_TIMEOUT) {
        RS_LOGF(s->log, APLOG_DEBUG, RSLOG(00028)
                "session %s: Timeout %u out of range, kept at %d",
                s->id, t, t < 1 ? 1 : RS_MAX_TIMEOUT);
        return t < 1 ? 1 : RS_MAX_TIMEOUT;
    }
    return t;
}

/* The state as stored: flags are per response, not per session. */
static const unsigned char *stored_bytes(rs_session_t *s,
                                         const rs_state_t *st, apr_size_t *n)
{
    rs_state_t copy = *st;
    copy.id = s->id;
    copy.id_len = strlen(s->id);
    copy.timeout = valid_timeout(s, st->timeout);
    copy.is_new = copy.is_abandoned = copy.is_readonly = 0;
    copy.unknown = apr_array_make(s->scratch, 1, sizeof(rs_item_t));
    /* scratch: a CAS retry reads (and clears it) before encoding again */
    return rs_state_encode(s->scratch, &copy, n);
}

static rs_status_e too_large(rs_session_t *s, apr_size_t n)
{
    RS_LOGF(s->log, APLOG_ERR, RSLOG(00027)
            "session %s: state of %" APR_SIZE_T_FMT " bytes exceeds "
            "RemoteSessionMaxSize %" APR_SIZE_T_FMT "; not stored",
            s->id, n, s->conf.max_size);
    return RS_TOO_LARGE;
}

rs_status_e rs_lock_fresh(rs_session_t *s)
{
    if (!fresh_id(s)) {
        return RS_UNAVAILABLE;
    }
    s->unstored = 1;
    return RS_OK;
}

/* The ID was drawn fresh and given to no one but this request's client:
 * nothing can be stored under it yet but by chance (then: unavailable). */
rs_status_e rs_lock_store_new(rs_session_t *s, const rs_state_t *st)
{
    rs_record_t rec = { RS_LOCK_FREE, RS_KIND_NONE, { 0 }, apr_time_now(),
                        0, (apr_uint32_t)s->conf.lease, 0, RS_RECORD_HEAD };
    apr_size_t n, len;
    const unsigned char *b = stored_bytes(s, st, &n);
    const char *buf;
    rs_store_rc rc;

    if (n > s->conf.max_size) {
        return too_large(s, n);
    }
    rec.timeout = valid_timeout(s, st->timeout);
    buf = rs_record_pack(s->scratch, &rec, b, n, &len);
    rc = rs_store_add(s->conn, s->key, buf, len, ttl_of(&rec));
    if (rc != RS_STORE_OK) {
        return store_failed(s, "add", rc);
    }
    rs_metric_inc(RS_M_CREATED);
    rs_slot_touched(s->slot, s->key, rec.renewed);
    s->rec = rec;
    s->unstored = 0;
    return RS_OK;
}

/* The state of the last read, pointing into it: no copy. NULL when it
 * does not decode (logged once, by the merge that then needs it). */
static rs_state_t *stored_view(rs_session_t *s)
{
    apr_size_t n;
    const unsigned char *b = raw_state(s, &n);
    rs_state_t *st;
    return rs_state_view(s->scratch, b, n, (apr_size_t)-1, &st) ? NULL : st;
}

/*
 * A commit from the .NET client is checked against the key registry, its
 * values unchanged from the version it replaces excepted, and keeps some
 * stored values (merge.c): both against that version, inside the CAS loop.
 */
static rs_status_e client_commit(rs_session_t *s, const rs_state_t **st)
{
    rs_state_t *stored = stored_view(s);
    const char *err = rs_keys_check_state(s->scratch, s->conf.keys, *st,
                                          stored);
    if (err) {
        s->refused = apr_pstrdup(s->pool, err);
        return RS_REFUSED;
    }
    if (!rs_merge_needed(s->scratch, s->conf.keys, *st)) {
        return RS_OK;
    }
    if (!stored) {
        decode_state(s, s->scratch, &stored);   /* logs why it does not */
        return RS_CORRUPT;
    }
    *st = rs_merge_client(s->scratch, s->conf.keys, stored, *st);
    return RS_OK;
}

/*
 * The header and state bytes that commit st onto s->rec. An abandoned
 * session becomes a tombstone holding no data, gone after a short while.
 */
static rs_status_e commit_record(rs_session_t *s, const rs_state_t *st,
                                 rs_record_t *next,
                                 const unsigned char **b, apr_size_t *n,
                                 apr_uint32_t *ttl)
{
    if (st && st->is_abandoned) {
        next->lock = RS_LOCK_GONE;
        *b = stored_bytes(s, rs_state_make(s->scratch, s->id, 0), n);
        *ttl = (apr_uint32_t)s->conf.lease * 2;
        return RS_OK;
    }
    if (st) {
        rs_status_e rc = s->client ? client_commit(s, &st) : RS_OK;
        if (rc != RS_OK) {
            return rc;
        }
        *b = stored_bytes(s, st, n);
        if (*n > s->conf.max_size) {
            return too_large(s, *n);
        }
        next->timeout = valid_timeout(s, st->timeout);
    }
    else {
        *b = raw_state(s, n);
    }
    *ttl = ttl_of(next);
    return RS_OK;
}

/*
 * Reads the record and checks the change is allowed, then CAS-writes st
 * (NULL: the state as read) with the lock in state to; again on conflicts.
 */
static rs_status_e write_state(rs_session_t *s, const rs_state_t *st,
                               rs_status_e (*check)(rs_session_t *),
                               int keep_owner, unsigned *was)
{
    int i;
    for (i = 0; i < RS_CAS_TRIES; i++) {
        rs_record_t next;
        const unsigned char *b;
        apr_size_t n;
        apr_uint32_t ttl;
        rs_status_e rc = check(s);
        if (rc == RS_OK) {
            next = s->rec;
            *was = s->rec.flags;
            next.flags = 0;
            rc = commit_record(s, st, &next, &b, &n, &ttl);
        }
        if (rc != RS_OK) {
            return rc;
        }
        if (next.lock != RS_LOCK_GONE) {
            next.lock = RS_LOCK_FREE;
        }
        if (next.lock == RS_LOCK_FREE && !keep_owner) {
            next.kind = RS_KIND_NONE;
            memset(next.owner, 0, RS_OWNER_LEN);
        }
        rc = write_rec(s, &next, b, n, ttl);
        if (rc != RS_RETRY) {
            return rc;
        }
    }
    return too_many_conflicts(s);
}

static rs_status_e holder_check(rs_session_t *s)
{
    rs_status_e rc = still_ours(s, read_rec(s));
    if (rc == RS_OK && s->rec.lock != RS_LOCK_HELD) {
        s->held = 0;
        return RS_LOST;
    }
    return rc;
}

rs_status_e rs_lock_commit(rs_session_t *s, const rs_state_t *st)
{
    unsigned was;
    rs_status_e rc = write_state(s, st, holder_check, 0, &was);
    /* Too large or refused before writing: the lock is ours to release.
     * Otherwise it is given up (a failed store is logged once, and the
     * lease frees what is left). */
    if (rc != RS_TOO_LARGE && rc != RS_REFUSED) {
        s->held = 0;
    }
    return rc == RS_NOT_FOUND ? RS_LOST : rc;
}

rs_status_e rs_lock_release(rs_session_t *s)
{
    int i;
    for (i = 0; s->held && i < RS_CAS_TRIES; i++) {
        rs_record_t next;
        apr_size_t n;
        const unsigned char *b;
        rs_status_e st = s->fresh ? RS_OK : read_rec(s);
        if (still_ours(s, st) != RS_OK || s->rec.lock == RS_LOCK_GONE
            || s->rec.lock == RS_LOCK_FREE) {
            s->held = 0;
            return st == RS_NOT_FOUND ? RS_OK : st;
        }
        next = s->rec;
        next.lock = RS_LOCK_FREE;
        next.kind = RS_KIND_NONE;
        /* a held GET ending without a commit: its PUT may still come */
        next.flags = s->rec.kind == RS_KIND_ENDPOINT ? RS_REC_UNCOMMITTED_END
                                                     : 0;
        memset(next.owner, 0, RS_OWNER_LEN);
        b = raw_state(s, &n);
        st = write_rec(s, &next, b, n, ttl_of(&next));
        if (st != RS_RETRY) {
            s->held = 0;
            return st == RS_NOT_FOUND ? RS_OK : st;
        }
    }
    return s->held ? too_many_conflicts(s) : RS_OK;
}

/* A PUT commits the lock of a writeable GET, held by another request. */
static rs_status_e put_check(rs_session_t *s)
{
    rs_status_e rc = read_rec(s);
    if (rc != RS_OK) {
        return rc;
    }
    if (s->rec.lock == RS_LOCK_GONE) {
        return RS_NOT_FOUND;
    }
    if (s->rec.kind != RS_KIND_ENDPOINT) {
        return RS_NOT_HELD;
    }
    if (s->rec.lock == RS_LOCK_HELD) {
        return RS_OK;
    }
    /*
     * Free with the GET's owner kept: a PUT committed it. As for the .NET
     * peer, that is "already updated" until the held GET ends, then "not
     * found": this server knows the first while its slot keeps the mark
     * (an older module's COMMITTED means the GET is still there).
     */
    return s->rec.lock == RS_LOCK_COMMITTED
           || rs_slot_committed(s->slot, s->rec.owner)
           ? RS_ALREADY : RS_NOT_HELD;
}

/*
 * The commit frees the lock in the same CAS, so that the next writer can
 * take it at once; the GET's owner stays in the record (and in this
 * server's slot) for the held GET to know its lock was committed.
 */
rs_status_e rs_lock_put(rs_session_t *s, const rs_state_t *st)
{
    unsigned was = 0;
    rs_status_e rc = write_state(s, st, put_check, 1, &was);
    if (rc == RS_OK && (was & RS_REC_AFTER_UNCOMMITTED)) {
        /* The protocol gives a PUT nothing that names its GET. */
        RS_LOGF(s->log, APLOG_WARNING, RSLOG(00065)
                "session %s: PUT committed into a lock taken after an "
                "earlier writeable GET ended without a commit; if this PUT "
                "was that GET's, it replaced the later one's work", s->id);
    }
    return rc;
}

/*
 * Renews (or, release set, frees) the lock held by owner, outside any
 * request (the lease thread). RS_LOST when it is no longer that owner's.
 */
static rs_status_e change_owned(apr_pool_t *p, rs_conn *c, const char *key,
                                const unsigned char *owner, int release,
                                int *untold)
{
    int i;
    for (i = 0; i < RS_CAS_TRIES; i++) {
        const char *raw, *buf;
        apr_size_t len, n;
        apr_uint64_t cas;
        rs_record_t rec;
        unsigned watched;
        rs_store_rc rc = rs_store_get(c, p, key, &raw, &len, &cas);

        if (rc == RS_STORE_MISS) {
            return RS_LOST;
        }
        if (rc != RS_STORE_OK) {
            return RS_UNAVAILABLE;
        }
        if (rs_record_decode_head(raw, len, &rec) || rec.lock != RS_LOCK_HELD
            || memcmp(rec.owner, owner, RS_OWNER_LEN)) {
            return RS_LOST;
        }
        watched = rec.flags & RS_REC_WATCHED;
        rec.renewed = apr_time_now();
        if (release) {
            rec.lock = RS_LOCK_FREE;
            rec.kind = RS_KIND_NONE;
            rec.flags &= ~RS_REC_WATCHED;
            memset(rec.owner, 0, RS_OWNER_LEN);
        }
        buf = rs_record_pack(p, &rec, (const unsigned char *)raw
                             + rec.head, len - rec.head, &n);
        rc = rs_store_cas(c, key, buf, n, ttl_of(&rec), cas);
        if (rc == RS_STORE_OK && watched
            && put_companion(c, p, key, &rec) != RS_STORE_OK && untold) {
            *untold = 1;                        /* see tell_watchers */
        }
        if (rc != RS_STORE_EXISTS) {
            if (rc == RS_STORE_OK && release) {
                rs_slot_wake(rs_shared_slot(key), NULL);
            }
            return rc == RS_STORE_OK ? RS_OK
                 : rc == RS_STORE_MISS ? RS_LOST : RS_UNAVAILABLE;
        }
    }
    return RS_UNAVAILABLE;
}

rs_status_e rs_lock_renew_owned(apr_pool_t *p, rs_conn *c, const char *key,
                                const unsigned char *owner, int *untold)
{
    return change_owned(p, c, key, owner, 0, untold);
}

rs_status_e rs_lock_release_owned(apr_pool_t *p, rs_conn *c, const char *key,
                                  const unsigned char *owner, int *untold)
{
    return change_owned(p, c, key, owner, 1, untold);
}
