/*
 * Owner of the shared-memory segment (see shared.h). The wake-up is a
 * generation counter per slot that waiters block on: a Linux futex where
 * there is one (shared, not private: the waiters are in other processes),
 * else a short sleep on the counter.
 */
#include <string.h>
#include "shared.h"
#include <apr_atomic.h>
#include <apr_shm.h>
#include "metrics.h"
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <limits.h>
#endif

struct rs_slot {
    volatile apr_uint32_t gen;        /* bumped by every wake-up */
    volatile apr_uint32_t writers;    /* writers waiting, this server */
    volatile apr_uint64_t committed;  /* first bytes of the owner whose
                                       * lock a PUT committed last */
    volatile apr_uint64_t touched;    /* key hash << 32 | seconds */
    volatile apr_uint64_t watch;      /* a held version seen since when:
                                       * CAS low 40 bits << 24 | seconds
                                       * (monotonic, low 24 bits) */
};

typedef struct {
    apr_shm_t *shm;
    apr_size_t size;
} segment;

#define USERDATA "remote_session_shared"

/* Set in the parent before the children fork; they inherit it. */
static rs_slot *slots;
static apr_uint32_t nslots;

/* This child's share of each slot's writer count, given back when the
 * child ends with writers still counted (a hard restart ends children in
 * the middle of a wait; their counts would stay for good). */
static volatile apr_uint32_t *mine;

/* FNV-1a: the keys are random already, this only spreads them. */
static apr_uint32_t hash_of(const char *key)
{
    apr_uint32_t h = 2166136261u;
    for (; *key; key++) {
        h = (h ^ (unsigned char)*key) * 16777619u;
    }
    return h;
}

/* The counters (metrics.h) first, then the slots, each 64-byte aligned. */
static apr_size_t counters_size(void)
{
    return APR_ALIGN(rs_metrics_size(), 64);
}

static apr_size_t segment_size(int n)
{
    return counters_size() + (apr_size_t)n * sizeof(rs_slot);
}

static segment *make_segment(apr_pool_t *p, int n, apr_status_t *rv)
{
    segment *seg = apr_pcalloc(p, sizeof(*seg));
    apr_size_t size = segment_size(n);
    *rv = apr_shm_create(&seg->shm, size, NULL, p);
    if (*rv != APR_SUCCESS) {
        return NULL;
    }
    memset(apr_shm_baseaddr_get(seg->shm), 0, size);
    seg->size = size;
    apr_pool_userdata_set(seg, USERDATA, NULL, p);
    return seg;
}

/*
 * The segment lives in the process pool, so that a graceful restart keeps
 * it: children of the old and the new generation then wake each other,
 * and the counters go on. A new size makes a new segment, counters from
 * zero (the old one stays until httpd exits).
 */
apr_status_t rs_shared_create(apr_pool_t *p, int n)
{
    apr_status_t rv = APR_SUCCESS;
    segment *seg = NULL;

    apr_pool_userdata_get((void **)&seg, USERDATA, p);
    /* by size: a new build with other counters, or another slot count */
    if (!seg || seg->size != segment_size(n)) {
        seg = make_segment(p, n, &rv);
    }
    rs_metrics_attach(seg ? apr_shm_baseaddr_get(seg->shm) : NULL);
    slots = seg ? (rs_slot *)((char *)apr_shm_baseaddr_get(seg->shm)
                              + counters_size()) : NULL;
    nslots = seg ? (apr_uint32_t)n : 0;
    return rv;
}

rs_slot *rs_shared_slot(const char *key)
{
    return slots && key ? &slots[hash_of(key) % nslots] : NULL;
}

apr_uint32_t rs_slot_seen(const rs_slot *slot)
{
    return slot ? apr_atomic_read32(&((rs_slot *)slot)->gen) : 0;
}

#ifdef __linux__
static void block(rs_slot *slot, apr_uint32_t seen, apr_interval_time_t most)
{
    struct timespec ts;
    ts.tv_sec = (time_t)apr_time_sec(most);
    ts.tv_nsec = (long)apr_time_usec(most) * 1000;
    /* EAGAIN (woken before we slept), EINTR and ETIMEDOUT all mean: go
     * and look at the store. */
    syscall(SYS_futex, &slot->gen, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static void wake_all(rs_slot *slot)
{
    syscall(SYS_futex, &slot->gen, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
#else
static void block(rs_slot *slot, apr_uint32_t seen, apr_interval_time_t most)
{
    apr_time_t end = apr_time_now() + most;
    while (apr_atomic_read32(&slot->gen) == seen && apr_time_now() < end) {
        apr_sleep(apr_time_from_msec(1));
    }
}

static void wake_all(rs_slot *slot)
{
}
#endif

void rs_slot_wait(rs_slot *slot, apr_uint32_t seen, apr_interval_time_t most)
{
    if (most <= 0) {
        return;
    }
    if (!slot) {
        apr_sleep(most);
        return;
    }
    block(slot, seen, most);
}

static apr_uint64_t owner_word(const unsigned char *owner)
{
    apr_uint64_t w;
    memcpy(&w, owner, sizeof(w));
    return w;
}

void rs_slot_wake(rs_slot *slot, const unsigned char *owner)
{
    if (!slot) {
        return;
    }
    if (owner) {
        apr_atomic_set64(&slot->committed, owner_word(owner));
    }
    apr_atomic_inc32(&slot->gen);
    wake_all(slot);
}

int rs_slot_committed(const rs_slot *slot, const unsigned char *owner)
{
    return slot && apr_atomic_read64(&((rs_slot *)slot)->committed)
                   == owner_word(owner);
}

void rs_slot_uncommit(rs_slot *slot, const unsigned char *owner)
{
    if (slot) {
        apr_atomic_cas64(&slot->committed, 0, owner_word(owner));
    }
}

static apr_status_t give_back_mine(void *data)
{
    apr_uint32_t i;
    for (i = 0; mine && i < nslots; i++) {
        apr_uint32_t n = apr_atomic_read32(&mine[i]);
        if (n) {
            apr_atomic_sub32(&slots[i].writers, n);
        }
    }
    mine = NULL;
    return APR_SUCCESS;
}

void rs_shared_child_init(apr_pool_t *pchild)
{
    if (slots) {
        mine = apr_pcalloc(pchild, nslots * sizeof(*mine));
        apr_pool_cleanup_register(pchild, NULL, give_back_mine,
                                  apr_pool_cleanup_null);
    }
}

int rs_slot_enter(rs_slot *slot, int most)
{
    if (!slot) {
        return 1;
    }
    if (apr_atomic_inc32(&slot->writers) >= (apr_uint32_t)most) {
        apr_atomic_dec32(&slot->writers);
        return 0;
    }
    if (mine) {
        apr_atomic_inc32(&mine[slot - slots]);
    }
    return 1;
}

void rs_slot_leave(rs_slot *slot)
{
    if (slot) {
        apr_atomic_dec32(&slot->writers);
        if (mine) {
            apr_atomic_dec32(&mine[slot - slots]);
        }
    }
}

#define WATCH_SECS 0xFFFFFFu

apr_time_t rs_slot_seen_since(rs_slot *slot, apr_uint64_t version,
                              apr_time_t now)
{
    apr_uint64_t tag = version & 0xFFFFFFFFFFull, w;
    apr_uint32_t secs = (apr_uint32_t)apr_time_sec(now) & WATCH_SECS, age;
    if (!slot) {
        return now;
    }
    w = apr_atomic_read64(&slot->watch);
    age = (secs - (apr_uint32_t)(w & WATCH_SECS)) & WATCH_SECS;
    if (w >> 24 == tag && age < WATCH_SECS / 2) {
        return now - apr_time_from_sec(age) - apr_time_usec(now);
    }
    /* Seen from the next whole second on: rounding may delay a takeover
     * by up to a second, never hasten it. */
    apr_atomic_cas64(&slot->watch, tag << 24 | ((secs + 1) & WATCH_SECS), w);
    return now;
}

void rs_slot_touched(rs_slot *slot, const char *key, apr_time_t now)
{
    if (slot) {
        apr_atomic_set64(&slot->touched, (apr_uint64_t)hash_of(key) << 32
                                         | (apr_uint32_t)apr_time_sec(now));
    }
}

int rs_slot_touched_within(const rs_slot *slot, const char *key,
                           apr_time_t now, apr_interval_time_t window)
{
    apr_uint64_t t;
    if (!slot) {
        return 0;
    }
    t = apr_atomic_read64(&((rs_slot *)slot)->touched);
    return (apr_uint32_t)(t >> 32) == hash_of(key)
           && (apr_uint32_t)apr_time_sec(now) - (apr_uint32_t)t
              < (apr_uint32_t)apr_time_sec(window);
}
