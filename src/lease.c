/*
 * The child's lease thread. Watched locks sit in a ring under a mutex;
 * each tick copies out the ones due and renews them with the mutex free,
 * so that a request ending never waits on memcached.
 */
#include <string.h>
#include <signal.h>
#include <pthread.h>
#include <apr_ring.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_strings.h>
#include "lease.h"
#include "config.h"
#include "sid.h"
#include <http_log.h>

APLOG_USE_MODULE(remote_session);

#define TICK apr_time_from_msec(100)

typedef struct entry {
    APR_RING_ENTRY(entry) link;
    rs_store *store;
    char key[RS_KEY_PREFIX_MAX + RS_SID_LEN + 1];
    unsigned char owner[RS_OWNER_LEN];
    apr_interval_time_t every;      /* a third of the lease */
    apr_time_t next;                /* when to renew next */
    apr_time_t until;               /* RemoteSessionRequireHold: then the
                                     * lock is freed, not renewed */
    int hold;                       /* that setting, seconds, to log */
} entry_t;

APR_RING_HEAD(entries, entry);

static struct {
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
    apr_thread_t *thread;
    struct entries watched;
    int stop;
    server_rec *server;
    apr_hash_t *conns;      /* store -> the thread's own connection */
} lease;

static int due(entry_t *e, apr_time_t now, entry_t *copy)
{
    if (now < e->next && now < e->until) {
        return 0;
    }
    /* Past its hold: freed once, then left alone until unwatched. */
    e->next = now >= e->until ? APR_INT64_MAX : now + e->every;
    *copy = *e;
    return 1;
}

/* Copies of the entries due now, in p. */
static apr_array_header_t *take_due(apr_pool_t *p)
{
    apr_array_header_t *todo = apr_array_make(p, 4, sizeof(entry_t));
    apr_time_t now = apr_time_now();
    entry_t *e;
    APR_RING_FOREACH(e, &lease.watched, entry, link) {
        entry_t copy;
        if (due(e, now, &copy)) {
            *(entry_t *)apr_array_push(todo) = copy;
        }
    }
    return todo;
}

/* The thread's own connection to a store, kept for the child's life: a
 * pool emptied by requests must not stop the renewals of live holders. */
static rs_conn *conn_for(rs_store *store)
{
    rs_conn *c = apr_hash_get(lease.conns, &store, sizeof(store));
    if (!c) {
        apr_pool_t *p = apr_hash_pool_get(lease.conns);
        c = rs_store_own(store, p);
        apr_hash_set(lease.conns, apr_pmemdup(p, &store, sizeof(store)),
                     sizeof(store), c);
    }
    return c;
}

static void give_back_all(void)
{
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(NULL, lease.conns); hi; hi = apr_hash_next(hi)) {
        rs_store_give_back(apr_hash_this_val(hi));
    }
}

/* A watched lock's companion not rewritten: waiters elsewhere see the
 * change later (lock.c, tell_watchers). */
static void untold(const entry_t *e, rs_conn *c)
{
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, lease.server, RSLOG(00067)
                 "%s: set of the lock's companion item failed: %s; writers "
                 "waiting on other servers see the change within half a "
                 "lease", e->key, rs_conn_error(c));
}

/* A request that kept its lock too long loses it, so that one slow (or
 * slowly fed) request cannot keep a session's writers waiting. */
static void release(apr_pool_t *p, const entry_t *e)
{
    rs_conn *c = conn_for(e->store);
    int quiet = 0;
    if (rs_lock_release_owned(p, c, e->key, e->owner, &quiet) == RS_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, lease.server, RSLOG(00053)
                     "%s: a SessionRequire On request held the lock for %d s "
                     "(RemoteSessionRequireHold): freed; its update will be "
                     "refused", e->key, e->hold);
    }
    if (quiet) {
        untold(e, c);
    }
}

static void renew(apr_pool_t *p, const entry_t *e)
{
    rs_conn *c;
    rs_status_e st;
    int quiet = 0;
    if (apr_time_now() >= e->until) {
        release(p, e);
        return;
    }
    c = conn_for(e->store);
    st = rs_lock_renew_owned(p, c, e->key, e->owner, &quiet);
    if (quiet) {
        untold(e, c);
    }
    if (st == RS_LOST) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, lease.server, RSLOG(00050)
                     "%s: lease not renewed: lock no longer held", e->key);
    }
    else if (st != RS_OK) {
        /* Its holder may lose the lock when the lease runs out. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, lease.server, RSLOG(00052)
                     "%s: lease not renewed: store failed (%s)", e->key,
                     rs_conn_error(c));
    }
}

static void *APR_THREAD_FUNC run(apr_thread_t *thread, void *data)
{
    apr_pool_t *p, *keep;
    apr_pool_create(&p, apr_thread_pool_get(thread));
    apr_pool_create(&keep, apr_thread_pool_get(thread));
    lease.conns = apr_hash_make(keep);
    apr_thread_mutex_lock(lease.mutex);
    while (!lease.stop) {
        apr_array_header_t *todo;
        int i;
        apr_thread_cond_timedwait(lease.cond, lease.mutex, TICK);
        apr_pool_clear(p);
        todo = take_due(p);
        apr_thread_mutex_unlock(lease.mutex);
        for (i = 0; i < todo->nelts; i++) {
            renew(p, &APR_ARRAY_IDX(todo, i, entry_t));
        }
        apr_thread_mutex_lock(lease.mutex);
    }
    apr_thread_mutex_unlock(lease.mutex);
    give_back_all();
    /* A plain return, not apr_thread_exit(): pthread_exit's forced unwind
     * leaves AddressSanitizer's stack poison behind; the pool goes with
     * pchild. */
    return NULL;
}

static apr_status_t stop(void *data)
{
    apr_status_t rv;
    apr_thread_mutex_lock(lease.mutex);
    lease.stop = 1;
    apr_thread_cond_signal(lease.cond);
    apr_thread_mutex_unlock(lease.mutex);
    apr_thread_join(&rv, lease.thread);
    lease.thread = NULL;
    return APR_SUCCESS;
}

/*
 * The thread is born with every signal blocked: child_init runs before
 * the MPM blocks them, and a SIGTERM delivered to this thread would run
 * the MPM's exit (and our pool's destruction) on it, joining itself.
 */
static apr_status_t create_thread(apr_pool_t *pchild)
{
    sigset_t all, was;
    apr_status_t rv;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &was);
    rv = apr_thread_create(&lease.thread, NULL, run, NULL, pchild);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    return rv;
}

void rs_lease_start(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    lease.server = s;
    APR_RING_INIT(&lease.watched, entry, link);
    if ((rv = apr_thread_mutex_create(&lease.mutex, APR_THREAD_MUTEX_DEFAULT,
                                      pchild)) == APR_SUCCESS
        && (rv = apr_thread_cond_create(&lease.cond, pchild)) == APR_SUCCESS
        && (rv = create_thread(pchild)) == APR_SUCCESS) {
        /* Before pchild's sub-pools (the thread's own) are destroyed. */
        apr_pool_pre_cleanup_register(pchild, NULL, stop);
        return;
    }
    lease.thread = NULL;
    ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, RSLOG(00051)
                 "lease thread not started: SessionRequire locks will not "
                 "be renewed while handlers run");
}

static apr_status_t unwatch_cleanup(void *data)
{
    entry_t *e = data;
    apr_thread_mutex_lock(lease.mutex);
    if (APR_RING_NEXT(e, link) != e) {
        APR_RING_REMOVE(e, link);
        APR_RING_ELEM_INIT(e, link);
    }
    apr_thread_mutex_unlock(lease.mutex);
    return APR_SUCCESS;
}

void rs_lease_watch(request_rec *r, rs_session_t *s)
{
    entry_t *e;
    if (!lease.thread || strlen(s->key) >= sizeof(e->key)) {
        return;
    }
    e = apr_pcalloc(r->pool, sizeof(*e));
    APR_RING_ELEM_INIT(e, link);
    e->store = rs_sconf(r->server)->store;
    strcpy(e->key, s->key);
    memcpy(e->owner, s->owner, RS_OWNER_LEN);
    e->every = apr_time_from_sec(s->conf.lease) / 3;
    e->next = apr_time_now() + e->every;
    e->hold = rs_require_hold(rs_sconf(r->server));
    e->until = apr_time_now() + apr_time_from_sec(e->hold);
    apr_thread_mutex_lock(lease.mutex);
    APR_RING_INSERT_TAIL(&lease.watched, e, entry, link);
    apr_thread_mutex_unlock(lease.mutex);
    s->lease = e;
    /* A pre-cleanup: the entry's memory goes with the request pool. */
    apr_pool_pre_cleanup_register(r->pool, e, unwatch_cleanup);
}

void rs_lease_unwatch(rs_session_t *s)
{
    if (s->lease) {
        unwatch_cleanup(s->lease);
    }
}
