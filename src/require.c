/*
 * SessionRequire. The request's session lives in userdata of the main
 * request's pool, which internal redirects share and subrequests reach
 * through r->main: they reuse it and never wait on a lock of their own.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "require.h"
#include "config.h"
#include "status.h"
#include "workers.h"
#include "metrics.h"
#include "json.h"
#include "update.h"
#include "keys.h"
#include "session.h"
#include "lease.h"
#include "sid.h"
#include "cookie.h"
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

APLOG_USE_MODULE(remote_session);

#define UPDATE_HEADER "X-Remote-Session-Update"

typedef struct {
    apr_pool_t *pool;       /* the main request's: subrequest pools die first */
    rs_session_t *s;        /* NULL when the session could not be had */
    rs_require_e mode;
    int is_new;
    int done;               /* updates applied, lock given back */
    int failed;             /* the response was replaced by an error */
    rs_state_t *pending;    /* changes made through the API, or NULL */
    const char *json;       /* REMOTE_SESSION, built once */
    const char *file;       /* the JSON spooled, when too large for it */
    int spooled;            /* tried (once per request, logged once) */
} rs_req_t;

static const char ctx_key[] = "remote_session.require";

static rs_req_t *ctx_of(request_rec *r)
{
    void *q = NULL;
    while (r->main) {
        r = r->main;
    }
    apr_pool_userdata_get(&q, ctx_key, r->pool);
    return q;
}

/* Ours, with '_' read as '-': many backends map both to one variable. */
static int is_session_header(const char *name)
{
    static const char *const ours[] = {
        "x-remote-session-id", "x-remote-session", "x-remote-session-new",
        "x-remote-session-size"
    };
    unsigned i;
    for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
        const char *a = name, *b = ours[i];
        while (*a && (apr_tolower(*a) == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (!*a && !*b) {
            return 1;
        }
    }
    return 0;
}

static int collect_spoofed(void *names, const char *key, const char *value)
{
    if (is_session_header(key)) {
        *(const char **)apr_array_push(names) = key;
    }
    return 1;
}

int rs_require_strip_headers(request_rec *r)
{
    apr_array_header_t *names = apr_array_make(r->pool, 1, sizeof(char *));
    int i;
    apr_table_do(collect_spoofed, names, r->headers_in, NULL);
    for (i = 0; i < names->nelts; i++) {
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(names, i, const char *));
    }
    return DECLINED;
}

static const rs_state_t *current(const rs_req_t *q)
{
    return q->pending ? q->pending : q->s->state;
}

/*
 * A session too large for one environment variable (Linux refuses an
 * execve with a string over 128 KiB: every CGI page would fail) goes to a
 * file of its own, removed when the request ends; the backend finds its
 * name in REMOTE_SESSION_FILE. NULL, logged, when it cannot be written.
 */
static const char *spool(request_rec *r, rs_req_t *q, apr_size_t len)
{
    const char *dir = rs_sconf(r->server)->spool_dir;
    char *path;
    apr_file_t *f;
    apr_size_t n = len;
    apr_status_t rv = dir ? APR_SUCCESS : apr_temp_dir_get(&dir, q->pool);

    if (rv == APR_SUCCESS) {
        path = apr_pstrcat(q->pool, dir, "/remote-session-XXXXXX", NULL);
        rv = apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                             | APR_FOPEN_EXCL | APR_FOPEN_DELONCLOSE, q->pool);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, q->json, len, &n);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_flush(f);
    }
    ap_log_rerror(APLOG_MARK, rv == APR_SUCCESS ? APLOG_INFO : APLOG_ERR, rv,
                  r, RSLOG(00042) "session %s: %" APR_SIZE_T_FMT " bytes of "
                  "JSON exceed RemoteSessionEnvMax: %s", q->s->id, len,
                  rv == APR_SUCCESS ? "REMOTE_SESSION_FILE, no REMOTE_SESSION "
                  "or X-Remote-Session" : "not written to a file either");
    /* open until the request pool goes, then deleted (DELONCLOSE) */
    return rv == APR_SUCCESS ? path : NULL;
}

static void expose(request_rec *r, rs_req_t *q)
{
    const char *is_new = q->is_new ? "1" : "0";
    apr_size_t len;
    int too_large;
    if (!q->json) {
        q->json = rs_json_session_object(q->pool, current(q));
    }
    len = strlen(q->json);
    too_large = len > rs_env_max(rs_sconf(r->server));
    if (too_large && !q->spooled) {
        q->spooled = 1;
        q->file = spool(r, q, len);
    }
    apr_table_setn(r->subprocess_env, "REMOTE_SESSION_ID", q->s->id);
    apr_table_setn(r->subprocess_env, "REMOTE_SESSION_SIZE",
                   apr_psprintf(r->pool, "%" APR_SIZE_T_FMT, len));
    apr_table_setn(r->subprocess_env, "REMOTE_SESSION_NEW", is_new);
    apr_table_setn(r->subprocess_env, "REMOTE_SESSION_READONLY",
                   q->mode == RS_REQUIRE_READONLY ? "1" : "0");
    apr_table_setn(r->headers_in, "X-Remote-Session-Id", q->s->id);
    apr_table_setn(r->headers_in, "X-Remote-Session-New", is_new);
    apr_table_setn(r->headers_in, "X-Remote-Session-Size",
                   apr_table_get(r->subprocess_env, "REMOTE_SESSION_SIZE"));
    if (too_large) {
        if (q->file) {
            apr_table_setn(r->subprocess_env, "REMOTE_SESSION_FILE", q->file);
        }
        return;
    }
    apr_table_setn(r->subprocess_env, "REMOTE_SESSION", q->json);
    apr_table_setn(r->headers_in, "X-Remote-Session",
                   rs_json_one_line(r->pool, q->json));
}

static int load(request_rec *r, rs_req_t *q)
{
    rs_server_conf *c = rs_sconf(r->server);
    rs_conn *conn;
    rs_lock_kind_e kind = q->mode == RS_REQUIRE_ON ? RS_KIND_EXCLUSIVE
                                                   : RS_KIND_NONE;
    rs_session_t *s;
    rs_status_e st;

    if (!c->store) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RSLOG(00040)
                      "SessionRequire needs RemoteSessionStore");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!(conn = rs_store_conn(r, c->store))) {
        return rs_http_status(r, RS_UNAVAILABLE);
    }
    s = rs_lock_open(r->pool, rs_log_request(r), rs_lock_conf_of(r, c), conn,
                     rs_cookie_sid(r, rs_cookie_name(c)));
    st = kind ? rs_workers_spare(r, c, s->id) : RS_OK;
    if (st == RS_OK) {
        /* An item only once something is written: a flood of
         * cookieless requests costs memcached nothing. */
        st = rs_session_open_as(s, kind, 1, &q->is_new);
    }
    if (st != RS_OK) {
        return rs_http_status(r, st);
    }
    if (q->is_new) {
        rs_cookie_set_new(r, c, s->id);
    }
    if (s->held) {
        rs_lease_watch(r, s);
    }
    /* The handler may run long (its lease renewed by the lease thread's
     * own connection): the commit borrows one again. */
    rs_store_idle(conn);
    q->s = s;
    return OK;
}

int rs_require_fixups(request_rec *r)
{
    rs_require_e mode = rs_require_mode(r);
    rs_req_t *q;
    int status;

    if (mode == RS_REQUIRE_OFF
        || (r->handler && !strcmp(r->handler, RS_HANDLER))) {
        return DECLINED;
    }
    if ((q = ctx_of(r)) || r->main) {
        /* A redirect or subrequest: the main request's session, if any. */
        if (q && q->s) {
            expose(r, q);
        }
        return DECLINED;
    }
    rs_metric_inc(mode == RS_REQUIRE_ON ? RS_M_REQUIRE_ON
                                        : RS_M_REQUIRE_READONLY);
    q = apr_pcalloc(r->pool, sizeof(*q));
    q->pool = r->pool;
    q->mode = mode;
    apr_pool_userdata_setn(q, ctx_key, NULL, r->pool);
    if ((status = load(r, q)) != OK) {
        return status;
    }
    expose(r, q);
    return DECLINED;
}

void rs_require_insert_filter(request_rec *r)
{
    rs_req_t *q = ctx_of(r);
    /* A subrequest gets it even late: its updates are then refused. */
    if (q && q->s && (r->main || !q->done)) {
        ap_add_output_filter(RS_UPDATE_FILTER, q, r, r->connection);
    }
    if (!r->main) {
        ap_add_output_filter(RS_STRIP_FILTER, NULL, r, r->connection);
    }
}

apr_status_t rs_require_strip_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    if (!f->ctx) {
        f->ctx = f;     /* the headers leave with the first brigade */
        apr_table_unset(r->headers_out, UPDATE_HEADER);
        apr_table_unset(r->err_headers_out, UPDATE_HEADER);
    }
    if (!APR_BRIGADE_EMPTY(bb) && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb))) {
        if (r->trailers_out) {
            apr_table_unset(r->trailers_out, UPDATE_HEADER);
        }
        ap_remove_output_filter(f);
    }
    return ap_pass_brigade(f->next, bb);
}

typedef struct {
    request_rec *r;
    apr_array_header_t *updates;
    const char *err;
} collect_t;

static int collect_one(void *baton, const char *key, const char *value)
{
    collect_t *c = baton;
    if (!c->err) {
        c->err = rs_json_parse_updates(c->r->pool, value, c->updates);
    }
    return 1;
}

/* Every update header, headers_out first, removed from the response. */
static const char *collect(request_rec *r, apr_array_header_t *updates)
{
    collect_t c = { r, updates, NULL };
    apr_table_do(collect_one, &c, r->headers_out, UPDATE_HEADER, NULL);
    apr_table_do(collect_one, &c, r->err_headers_out, UPDATE_HEADER, NULL);
    apr_table_unset(r->headers_out, UPDATE_HEADER);
    apr_table_unset(r->err_headers_out, UPDATE_HEADER);
    return c.err;
}

/* The state after all updates, or NULL and *err. */
static rs_state_t *updated(request_rec *r, rs_req_t *q,
                           const apr_array_header_t *updates,
                           const char **err)
{
    rs_state_t *st = rs_state_copy(q->pool, current(q));
    int i;
    for (i = 0; i < updates->nelts && !st->is_abandoned; i++) {
        *err = rs_update_apply(q->pool, rs_sconf(r->server)->keys, st,
                               &APR_ARRAY_IDX(updates, i, rs_update_t));
        if (*err) {
            return NULL;
        }
    }
    return st;
}

static void log_refusal(request_rec *r, rs_req_t *q, const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RSLOG(00041)
                  "session %s: " UPDATE_HEADER " refused, nothing stored: %s",
                  q->s->id, err);
}

/* Nothing is stored; the lock goes back now, not after the 500 is sent. */
static int refuse_update(request_rec *r, rs_req_t *q, const char *err)
{
    rs_lock_release(q->s);
    log_refusal(r, q, err);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* Commits the response's updates (or frees the lock); an HTTP status. */
/*
 * The updates r's response carries, applied to the session as the request
 * knows it so far: NULL and the new state in *st (NULL: no updates), or
 * why they are refused. late: why any update now comes too late, if so.
 */
static const char *take_updates(request_rec *r, rs_req_t *q,
                                const char *late, rs_state_t **st)
{
    apr_array_header_t *updates = apr_array_make(r->pool, 2,
                                                 sizeof(rs_update_t));
    const char *err = collect(r, updates);

    *st = NULL;
    if (err || !updates->nelts) {
        return err;
    }
    if (q->mode == RS_REQUIRE_READONLY) {
        return "the location is SessionRequire ReadOnly";
    }
    if (late) {
        return late;
    }
    *st = updated(r, q, updates, &err);
    return err;
}

static int apply_updates(request_rec *r, rs_req_t *q)
{
    rs_state_t *st;
    const char *err = take_updates(r, q, NULL, &st);
    rs_status_e status;

    rs_lease_unwatch(q->s);
    if (err) {
        return refuse_update(r, q, err);
    }
    if (!st && !(st = q->pending)) {
        /* A failed release was logged; the lease frees the lock later. */
        rs_lock_release(q->s);
        return OK;
    }
    if (q->s->unstored) {
        /* its first write; abandoning it leaves nothing to delete */
        status = st->is_abandoned ? RS_OK : rs_lock_store_new(q->s, st);
        return status == RS_TOO_LARGE ? HTTP_INTERNAL_SERVER_ERROR
                                      : rs_http_status(r, status);
    }
    switch (status = rs_lock_commit(q->s, st)) {
    case RS_LOST:
        return refuse_update(r, q, "the session's lock was lost (the "
                             "session expired, its lease ran out, or "
                             "RemoteSessionRequireHold passed)");
    case RS_TOO_LARGE:
        return HTTP_INTERNAL_SERVER_ERROR;
    default:
        return rs_http_status(r, status);
    }
}

/* Replaces the response, before any of it left, by a short error. */
static apr_status_t error_response(ap_filter_t *f, apr_bucket_brigade *bb,
                                   int status)
{
    request_rec *r = f->r;
    const char *title = ap_get_status_line(status);
    const char *body = apr_pstrcat(r->pool, "<!DOCTYPE HTML PUBLIC \"-//IETF"
                                   "//DTD HTML 2.0//EN\">\n<html><head><title>",
                                   title, "</title></head><body><h1>", title,
                                   "</h1></body></html>\n", NULL);
    apr_brigade_cleanup(bb);
    apr_table_clear(r->headers_out);
    r->status = status;
    r->status_line = NULL;
    r->content_encoding = NULL;
    ap_set_content_type(r, "text/html; charset=iso-8859-1");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(body, strlen(body),
                                r->pool, f->c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    return ap_pass_brigade(f->next, bb);
}

/*
 * A subrequest's updates (an SSI include of a CGI, say) join the main
 * request's pending changes, committed with them at the main response's
 * first byte; after it, or under ReadOnly, they are refused and logged.
 */
static void subrequest_updates(request_rec *r, rs_req_t *q)
{
    rs_state_t *st;
    const char *err = take_updates(r, q, q->done ? "it came from a subrequest "
                                   "after the response had started" : NULL,
                                   &st);
    if (err) {
        log_refusal(r, q, err);
    }
    else if (st) {
        q->pending = st;
        q->json = NULL;
    }
}

apr_status_t rs_require_update_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    rs_req_t *q = f->ctx;
    int status;

    if (f->r->main) {
        subrequest_updates(f->r, q);
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }

    if (q->failed) {
        /* The handler goes on writing a response already replaced. */
        apr_brigade_cleanup(bb);
        return APR_SUCCESS;
    }
    if (q->done) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    q->done = 1;
    status = apply_updates(f->r, q);
    if (status == OK) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    q->failed = 1;
    return error_response(f, bb, status);
}

/* Callers are other modules: a key that is not UTF-8 would make the
 * stored record undecodable, and so the session unusable until it expires. */
static rs_req_t *writable(request_rec *r, const char *key, const char **err)
{
    rs_req_t *q = ctx_of(r);
    if (!rs_utf8_valid((const unsigned char *)key, strlen(key))) {
        *err = "the key is not UTF-8";
    }
    else if (!q || !q->s) {
        *err = "no session for this request (SessionRequire)";
    }
    else if (q->mode != RS_REQUIRE_ON) {
        *err = "the session is read-only here (SessionRequire ReadOnly)";
    }
    else if (q->done) {
        *err = "too late: the response has started";
    }
    else {
        if (!q->pending) {
            q->pending = rs_state_copy(q->pool, q->s->state);
        }
        return q;
    }
    return NULL;
}

const char *remote_session_id(request_rec *r)
{
    rs_req_t *q = ctx_of(r);
    return q && q->s ? q->s->id : NULL;
}

const char *remote_session_get(request_rec *r, const char *key)
{
    rs_req_t *q = ctx_of(r);
    const rs_item_t *it = q && q->s ? rs_state_get(current(q), key,
                                                   strlen(key)) : NULL;
    return it ? it->value : NULL;
}

const char *remote_session_set(request_rec *r, const char *key, const char *json)
{
    const char *err = NULL;
    rs_req_t *q = writable(r, key, &err);
    if (q) {
        err = *json ? rs_keys_check(r->pool, rs_sconf(r->server)->keys, key,
                                    strlen(key), json, strlen(json))
                    : "the value is empty, not JSON";
    }
    if (q && !err) {
        rs_state_set(q->pool, q->pending, key, strlen(key), json,
                     strlen(json));
        q->json = NULL;
    }
    return err;
}

const char *remote_session_remove(request_rec *r, const char *key)
{
    const char *err = NULL;
    rs_req_t *q = writable(r, key, &err);
    if (q) {
        rs_state_remove(q->pending, key, strlen(key));
        q->json = NULL;
    }
    return err;
}
