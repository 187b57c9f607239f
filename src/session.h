/*
 * A request's session over the lock (lock.h): opened once per request.
 */
#ifndef RS_SESSION_H
#define RS_SESSION_H

#include "lock.h"

/*
 * The cookie's session, locked for kind (NONE: read-only, idle timer
 * reset), or a new one (*is_new: its cookie is the caller's to set) when
 * the cookie names none. A lock taken is released when s's pool goes.
 */
rs_status_e rs_session_open(rs_session_t *s, rs_lock_kind_e kind,
                            int *is_new);

/* The same; lazy: a new session is not stored (s->unstored) until
 * rs_lock_store_new, so that requests that write nothing cost no item. */
rs_status_e rs_session_open_as(rs_session_t *s, rs_lock_kind_e kind,
                               int lazy, int *is_new);

/* Releases s's lock when its pool goes, whatever the path. */
void rs_session_release_on_cleanup(rs_session_t *s);

#endif
