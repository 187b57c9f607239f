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
    apr_uint64_t pad;                 /* one slot per 32 bytes */
};

typedef struct {
    apr_shm_t *shm;
    int nslots;
} segment;

#define USERDATA "remote_session_shared"

/* Set in the parent before the children fork; they inherit it. */
static rs_slot *slots;
static apr_uint32_t nslots;

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

static segment *make_segment(apr_pool_t *p, int n, apr_status_t *rv)
{
    segment *seg = apr_pcalloc(p, sizeof(*seg));
    apr_size_t size = counters_size() + (apr_size_t)n * sizeof(rs_slot);
    *rv = apr_shm_create(&seg->shm, size, NULL, p);
    if (*rv != APR_SUCCESS) {
        return NULL;
    }
    memset(apr_shm_baseaddr_get(seg->shm), 0, size);
    seg->nslots = n;
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
    if (!seg || seg->nslots != n) {
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

int rs_slot_enter(rs_slot *slot, int most)
{
    if (!slot) {
        return 1;
    }
    if (apr_atomic_inc32(&slot->writers) >= (apr_uint32_t)most) {
        apr_atomic_dec32(&slot->writers);
        return 0;
    }
    return 1;
}

void rs_slot_leave(rs_slot *slot)
{
    if (slot) {
        apr_atomic_dec32(&slot->writers);
    }
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
