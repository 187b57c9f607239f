/*
 * The module's one shared-memory segment, made in post_config and
 * inherited by every child of this httpd (and kept across graceful
 * restarts). It holds hints only: per-session slots, hashed by store key,
 * through which a commit or a release wakes the writers and held GETs
 * waiting on that session in any child at once, writers waiting on one
 * session are counted, and a read knows whether its server touched the
 * item lately; and the server-wide counters (metrics.h) come first in
 * it. memcached stays the truth: every wait is bounded and ends
 * in a read of the store, so a missed or spurious wake-up costs time,
 * never correctness. Without a segment (the C unit tests, or creation
 * failed) every function still works: waits become plain sleeps.
 */
#ifndef RS_SHARED_H
#define RS_SHARED_H

#include <httpd.h>
#include <apr_time.h>

#define RS_DEFAULT_SLOTS 4096

typedef struct rs_slot rs_slot;

/* post_config: makes (or, on a restart with the same size, keeps) the
 * segment of nslots slots, in the process pool. */
apr_status_t rs_shared_create(apr_pool_t *process, int nslots);

/* The slot of a session's store key; NULL without a segment. */
rs_slot *rs_shared_slot(const char *key);

/* Read before looking at the store, passed to rs_slot_wait after. */
apr_uint32_t rs_slot_seen(const rs_slot *slot);

/* Sleeps until the slot is woken after seen was read, or for most. */
void rs_slot_wait(rs_slot *slot, apr_uint32_t seen,
                  apr_interval_time_t most);

/* After a write that freed or committed a lock: wakes every waiter on
 * the slot. owner: the lock a PUT committed for its held GET, or NULL. */
void rs_slot_wake(rs_slot *slot, const unsigned char *owner);

/* Whether a PUT on this server committed the lock of owner, and its held
 * GET (if here) has not yet seen that. */
int rs_slot_committed(const rs_slot *slot, const unsigned char *owner);

/* The held GET of owner saw its commit: a later PUT finds no lock. */
void rs_slot_uncommit(rs_slot *slot, const unsigned char *owner);

/* child_init: this child's counts are given back when it ends. */
void rs_shared_child_init(apr_pool_t *pchild);

/* Since when (monotonic time) a waiter of this server first saw the held
 * lock of the slot's session in this version (a hash of its header); now
 * if none did. */
apr_time_t rs_slot_seen_since(rs_slot *slot, apr_uint64_t version,
                              apr_time_t now);

/* Counts a writer in; 0 (not counted) when most are in already. */
int rs_slot_enter(rs_slot *slot, int most);
void rs_slot_leave(rs_slot *slot);

/* Notes that this server reset the item's expiry of key at now. */
void rs_slot_touched(rs_slot *slot, const char *key, apr_time_t now);

/* Whether key's expiry was reset by this server less than window ago. */
int rs_slot_touched_within(const rs_slot *slot, const char *key,
                           apr_time_t now, apr_interval_time_t window);

#endif
