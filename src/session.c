/*
 * A request's session: the cookie's, read (read-only) or locked (a
 * writer), or a new one when the cookie names none; a lock taken is
 * released when the request's pool goes, on every path.
 */
#include "session.h"

static apr_status_t release_cleanup(void *data)
{
    rs_session_t *s = data;
    if (s->held) {
        s->fresh = 0;
        rs_lock_release(s);
    }
    return APR_SUCCESS;
}

void rs_session_release_on_cleanup(rs_session_t *s)
{
    /* A pre-cleanup: it runs before the scratch subpool and the borrowed
     * connection are given back. */
    apr_pool_pre_cleanup_register(s->pool, s, release_cleanup);
}

rs_status_e rs_session_open(rs_session_t *s, rs_lock_kind_e kind,
                            int *is_new)
{
    return rs_session_open_as(s, kind, 0, is_new);
}

rs_status_e rs_session_open_as(rs_session_t *s, rs_lock_kind_e kind,
                               int lazy, int *is_new)
{
    rs_status_e st = RS_NOT_FOUND;
    if (s->id) {
        st = kind ? rs_lock_acquire(s, kind) : rs_lock_load(s);
    }
    *is_new = st == RS_NOT_FOUND;
    if (*is_new && lazy) {
        /* Nothing to lock: nobody else knows a fresh ID. */
        return rs_lock_fresh(s);
    }
    if (*is_new) {
        st = rs_lock_create(s, kind);
    }
    else if (st == RS_OK && !kind) {
        st = rs_lock_touch(s);
    }
    if (st == RS_OK && kind) {
        rs_session_release_on_cleanup(s);
    }
    return st;
}

