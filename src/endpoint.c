/*
 * The remote app session endpoint (docs/PROTOCOL.md): read-only GET, writeable
 * GET held open until a PUT commits, and single-connection POST.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "endpoint.h"
#include "config.h"
#include "session.h"
#include "sid.h"
#include "cookie.h"
#include "keys.h"
#include "json.h"
#include "workers.h"
#include "metrics.h"
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>
#include <ap_mpm.h>
#include <scoreboard.h>
#include <util_filter.h>

APLOG_USE_MODULE(remote_session);

#define READONLY_HEADER  "X-SystemWebAdapter-RemoteAppSession-ReadOnly"
#define HEARTBEAT        apr_time_from_msec(20)
#define RETRY_EVERY      apr_time_from_msec(200)
/* A PUT on this server wakes its held GET at once (shared.h); one on
 * another server is seen by the GET's next read of the store. */
#define POLL_EVERY       apr_time_from_msec(100)
#define BODY_POLL        apr_time_from_msec(5)

#define MSG_NO_ID        "No session ID found"
#define MSG_NOT_FOUND    "Could not find session"
#define MSG_DESERIALIZE  "Failed to deserialize session state"
#define MSG_ALREADY      "Session has already been updated"

/* .NET bool.TryParse: true/false in any case, white space around. */
static int header_true(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->headers_in, name);
    apr_size_t n;
    if (!v) {
        return 0;
    }
    while (apr_isspace(*v)) {
        v++;
    }
    n = strlen(v);
    while (n && apr_isspace(v[n - 1])) {
        n--;
    }
    return n == 4 && !strncasecmp(v, "true", 4);
}

/* A protocol answer: the message in the reason phrase and a text body. */
static int answer_text(request_rec *r, int status, const char *msg)
{
    r->status = status;
    r->status_line = apr_psprintf(r->pool, "%d %s", status, msg);
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, (apr_off_t)strlen(msg));
    ap_rputs(msg, r);
    return OK;
}

/* A refusal of the protocol, logged once with the session. */
static int refuse(request_rec *r, const char *id, const char *msg)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00032)
                  "session %s: %s %s", id ? id : "(none)", r->method, msg);
    return answer_text(r, HTTP_BAD_REQUEST, msg);
}

/* Passes bb and a flush on; bb is left empty for reuse. */
static apr_status_t pass_flushed(request_rec *r, apr_bucket_brigade *bb)
{
    apr_status_t rv;

    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(bb->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv != APR_SUCCESS ? rv : r->connection->aborted ? APR_ECONNABORTED
                                                          : APR_SUCCESS;
}

/* Writes and flushes buf through bb, which is left empty for reuse. */
static apr_status_t send_bytes(request_rec *r, apr_bucket_brigade *bb,
                               const void *buf, apr_size_t len)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_transient_create(
                                    buf, len, r->connection->bucket_alloc));
    return pass_flushed(r, bb);
}

static apr_bucket_brigade *brigade(request_rec *r)
{
    return apr_brigade_create(r->pool, r->connection->bucket_alloc);
}

/* The state as this response presents it, plus an optional newline:
 * what the .NET client may see of it (keys.h, rs_keys_client_view). */
static apr_status_t send_state(request_rec *r, const rs_state_t *st,
                               int is_new, int readonly, int newline)
{
    rs_state_t view = *rs_keys_client_view(r->pool,
                                           rs_sconf(r->server)->keys, st);
    apr_size_t n;
    unsigned char *b;

    view.is_new = is_new;
    view.is_readonly = readonly;
    view.is_abandoned = 0;
    b = rs_state_encode(r->pool, &view, &n);
    if (newline) {
        b = memcpy(apr_palloc(r->pool, n + 1), b, n);
        b[n++] = '\n';
    }
    if (readonly) {
        ap_set_content_length(r, (apr_off_t)n);
    }
    return send_bytes(r, brigade(r), b, n);
}

/*
 * A writer's state: as the lock took it, sent as stored (take_raw in
 * lock.c: nothing in it the client may not see) with its flags set in
 * place, or encoded from s->state.
 */
static apr_status_t send_writer_state(request_rec *r, rs_session_t *s,
                                      int is_new, int newline)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb;

    if (s->state) {
        return send_state(r, s->state, is_new, 0, newline);
    }
    memset(s->taken + s->taken_flags, 0, 3);  /* new, abandoned, read-only */
    bb = brigade(r);
    /* a pool bucket: the next read of the store clears scratch, and the
     * bucket then keeps a copy */
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create((const char *)s->taken,
                            s->taken_len, s->scratch, ba));
    if (newline) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create("\n", 1, ba));
    }
    return pass_flushed(r, bb);
}

/* Stops mod_deflate and friends from holding back a streamed answer. */
static void stream_response(request_rec *r)
{
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    ap_set_content_type(r, "text/event-stream");
}

/*
 * The cookie's session, or a new one with its cookie set; locked for a
 * writer, which must leave the worker reserve free. OK or the refusal.
 */
static int open_session(request_rec *r, rs_session_t *s, rs_lock_kind_e kind,
                        int *is_new)
{
    rs_server_conf *c = rs_sconf(r->server);
    rs_status_e st = kind ? rs_workers_spare(r, c, s->id) : RS_OK;
    if (st == RS_OK) {
        st = rs_session_open(s, kind, is_new);
    }
    if (st == RS_OK && *is_new) {
        rs_cookie_set_new(r, c, s->id);
    }
    return rs_http_status(r, st);
}

/*
 * A read-only GET of a stored session whose bytes are what the client
 * gets (no key of the Apache side to hide, no zero-length value): sent as
 * stored, its flags set in place, without decoding and encoding it again.
 * DECLINED when that does not apply (no such session, a state to filter,
 * or one that does not check: the usual path decides, and logs).
 */
static int readonly_stored(request_rec *r, rs_session_t *s)
{
    apr_bucket_brigade *bb = brigade(r);
    unsigned char *b;
    apr_size_t n;
    rs_scan_t scan;
    rs_status_e st = rs_lock_load_raw(s, &b, &n);

    if (st != RS_OK) {
        /* not found: the usual path makes a new session */
        return st == RS_NOT_FOUND ? DECLINED : rs_http_status(r, st);
    }
    if (rs_state_scan(r->pool, b, n, &scan) || scan.empty_values
        || scan.unknown) {
        return DECLINED;
    }
    if ((st = rs_lock_touch(s)) != RS_OK) {
        return rs_http_status(r, st);
    }
    rs_store_idle(s->conn);
    b[scan.flags_at] = 0;           /* IsNewSession */
    b[scan.flags_at + 1] = 0;       /* IsAbandoned */
    b[scan.flags_at + 2] = 1;       /* IsReadOnly */
    ap_set_content_type(r, "application/json; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)n);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create((const char *)b, n,
                            s->scratch, r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    return OK;
}

static int readonly_get(request_rec *r, rs_session_t *s)
{
    int is_new, status;
    if (s->id && !rs_sconf(r->server)->apache_keys
        && (status = readonly_stored(r, s)) != DECLINED) {
        return status;
    }
    status = open_session(r, s, RS_KIND_NONE, &is_new);
    if (status != OK) {
        return status;
    }
    /* A slow reader of the answer must not keep a store connection. */
    rs_store_idle(s->conn);
    ap_set_content_type(r, "application/json; charset=utf-8");
    send_state(r, s->state, is_new, 1, 0);
    return OK;
}

/*
 * A waiter may take the lock a PUT committed before this holder's next
 * poll sees the commit. While the holder's lease was fresh nothing else
 * can have ended it (a takeover needs a stale lease, and its taker logs
 * RS00025), so that is the normal hand-off, not a lost lock.
 */
static void lock_gone(request_rec *r, const rs_session_t *s)
{
    if (apr_time_now() - s->renewed < apr_time_from_sec(s->conf.lease)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RSLOG(00063)
                      "session %s: committed and handed on to the next "
                      "writer; GET ended", s->id);
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00061)
                  "session %s: lock lost (not renewed within the lease, "
                  "or the session expired); GET ended", s->id);
}

/* How long a held GET or a POST's body is waited for: the session's
 * timeout, within RemoteSessionHoldTimeout (a PUT may set a timeout of a
 * year, and a hold keeps a worker). */
static apr_time_t hold_end(request_rec *r, const rs_session_t *s)
{
    /* the record's copy of the state's (a raw take decodes no state) */
    apr_time_t session = apr_time_from_sec((apr_time_t)s->rec.timeout * 60);
    apr_time_t most = apr_time_from_sec(rs_hold_timeout(rs_sconf(r->server)));
    return apr_time_now() + (session < most ? session : most);
}

/*
 * A poll the store failed (logged by the lock) is tried again at the next
 * heartbeat while half a lease has not passed since the first failure:
 * a short outage must not end the hold, nor leave the lock to its lease.
 */
static rs_status_e poll_again(const rs_session_t *s, rs_status_e st,
                              apr_time_t *failing_since)
{
    apr_time_t now = apr_time_now();
    if (st != RS_UNAVAILABLE) {
        *failing_since = 0;
        return st;
    }
    if (!*failing_since) {
        *failing_since = now;
    }
    return now - *failing_since < apr_time_from_sec(s->conf.lease) / 2
           ? RS_OK : st;
}

/*
 * This child is ending because httpd restarted (gracefully): a held GET
 * would keep it, and its worker, until its PUT came. Not when a child
 * retires for idle maintenance or MaxConnectionsPerChild: those wait for
 * their requests, and a hold left unrenewed there could be taken over.
 */
static int child_stopping(void)
{
    int state = AP_MPMQ_RUNNING, mine = 0;
    ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
    if (state != AP_MPMQ_STOPPING || !ap_scoreboard_image) {
        return 0;
    }
    ap_mpm_query(AP_MPMQ_GENERATION, &mine);
    return mine != ap_scoreboard_image->global->running_generation;
}

/*
 * Ends the hold, leaving the lock held for the PUT, which commits it
 * through a child of the new generation (or the lock goes stale after its
 * lease, as a vanished holder's does).
 */
static void leave_for_put(request_rec *r, rs_session_t *s)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00066)
                  "session %s: httpd is stopping this child; GET ended, "
                  "its lock left for its PUT", s->id);
    s->held = 0;
}

/* Heartbeats until a PUT commits, the client goes, or the hold ends. */
static void hold_until_commit(request_rec *r, rs_session_t *s)
{
    apr_time_t end = hold_end(r, s), failing_since = 0;
    apr_time_t next_poll = apr_time_now() + POLL_EVERY;
    apr_bucket_brigade *bb = brigade(r);
    rs_status_e st = RS_OK;

    while (st == RS_OK) {
        if ((st = rs_lock_wait_commit(s, HEARTBEAT)) != RS_OK) {
            break;
        }
        if (send_bytes(r, bb, "\n", 1) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RSLOG(00030)
                          "session %s: client went away; lock released",
                          s->id);
            break;
        }
        if (child_stopping()) {
            leave_for_put(r, s);
            return;
        }
        if (apr_time_now() < next_poll) {
            continue;
        }
        st = poll_again(s, rs_lock_poll(s), &failing_since);
        next_poll = apr_time_now() + (failing_since ? RETRY_EVERY
                                                    : POLL_EVERY);
        if (st == RS_OK && apr_time_now() > end) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00031)
                          "session %s: no commit within the session "
                          "timeout or RemoteSessionHoldTimeout; lock "
                          "released", s->id);
            break;
        }
    }
    if (st == RS_LOST) {
        lock_gone(r, s);
    }
    if (st == RS_CORRUPT || st == RS_UNAVAILABLE) {
        /* Logged by the poll. A record that does not decode is never
         * written, not even to free its lock; a store that failed for half
         * a lease would fail the release too: the lease frees the lock. */
        s->held = 0;
        return;
    }
    rs_lock_release(s);
}

static int writeable_get(request_rec *r, rs_session_t *s)
{
    int is_new, status = open_session(r, s, RS_KIND_ENDPOINT, &is_new);
    if (status != OK) {
        return status;
    }
    stream_response(r);
    if (send_writer_state(r, s, is_new, 1) == APR_SUCCESS) {
        rs_metric_inc(RS_M_HELD_GETS);
        hold_until_commit(r, s);
        rs_metric_add(RS_M_HELD_GETS, -1);
    }
    rs_store_idle(s->conn);
    return OK;
}

/*
 * Reads the body into pool memory, up to limit bytes. With s given it does
 * not block: while no data is there it renews s's lock, so that a client
 * running its own request keeps its lease, for at most the session timeout;
 * a failed renewal ends it with APR_TIMEUP and the status in *lock.
 */
static apr_status_t read_body(request_rec *r, rs_session_t *s,
                              apr_size_t limit, char **buf, apr_size_t *len,
                              rs_status_e *lock)
{
    apr_bucket_brigade *bb = brigade(r), *all = brigade(r);
    apr_time_t end = s ? hold_end(r, s) : 0;
    apr_off_t have = 0, got;
    apr_status_t rv;
    int eos = 0;

    while (!eos) {
        apr_read_type_e mode = s ? APR_NONBLOCK_READ : APR_BLOCK_READ;
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, mode,
                            HUGE_STRING_LEN);
        if (APR_STATUS_IS_EAGAIN(rv) || (rv == APR_SUCCESS
                                         && APR_BRIGADE_EMPTY(bb))) {
            if (s && ((*lock = rs_lock_renew(s)) != RS_OK
                      || apr_time_now() > end)) {
                return APR_TIMEUP;
            }
            apr_sleep(BODY_POLL);
            continue;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        /* a body trickled in steadily must keep the lock too */
        if (s && (*lock = rs_lock_renew(s)) != RS_OK) {
            return APR_TIMEUP;
        }
        eos = APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb));
        apr_brigade_length(bb, 1, &got);
        APR_BRIGADE_CONCAT(all, bb);
        if ((apr_size_t)(have += got) > limit) {
            return APR_ENOSPC;
        }
    }
    *len = (apr_size_t)have;
    return apr_brigade_pflatten(all, buf, len, r->pool);
}

/* A PUT's or POST's body as a state for s (pointing into buf); NULL and
 * a logged reason if not. Its values are checked by the commit (lock.h). */
static rs_state_t *client_state(request_rec *r, const rs_session_t *s,
                                const char *buf, apr_size_t len)
{
    rs_state_t *st;
    const char *err = rs_state_view(r->pool, (const unsigned char *)buf,
                                    len, rs_max_size(rs_sconf(r->server)),
                                    &st);
    if (!err && (st->id_len != strlen(s->id)
                 || memcmp(st->id, s->id, st->id_len))) {
        err = "its session ID differs from the cookie's";
    }
    if (err) {
        rs_metric_inc(RS_M_REFUSED_400);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00029)
                      "session %s: refused state: %s", s->id, err);
        return NULL;
    }
    return st;
}

/* The commit found a value that does not fit the key registry. */
static const char *refused_keys(request_rec *r, const rs_session_t *s)
{
    rs_metric_inc(RS_M_REFUSED_400);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00033)
                  "session %s: refused state: %s", s->id, s->refused);
    return s->refused;
}

static void body_too_large(request_rec *r, const rs_session_t *s)
{
    rs_metric_inc(RS_M_REFUSED_413);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00034)
                  "session %s: %s body exceeds RemoteSessionMaxSize", s->id,
                  r->method);
}

/* POST: the lock went while the client ran its request, or at commit. */
static const char *lock_lost(request_rec *r, const rs_session_t *s,
                             rs_status_e st)
{
    if (st == RS_LOST) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00062)
                      "session %s: lock lost (not renewed within the lease, "
                      "or the session expired); POST not committed", s->id);
    }
    return "Session could not be committed";
}

static int put(request_rec *r, rs_session_t *s)
{
    rs_server_conf *c = rs_sconf(r->server);
    char *buf;
    apr_size_t len;
    rs_state_t *st;
    apr_status_t rv;
    rs_status_e status;

    rv = read_body(r, NULL, rs_max_size(c), &buf, &len, NULL);
    if (rv == APR_ENOSPC) {
        body_too_large(r, s);
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    if (rv != APR_SUCCESS) {
        return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
    }
    if (!(st = client_state(r, s, buf, len))) {
        return answer_text(r, HTTP_BAD_REQUEST, MSG_DESERIALIZE);
    }
    status = rs_lock_put(s, st);
    rs_store_idle(s->conn);
    switch (status) {
    case RS_OK:
        return answer_text(r, HTTP_OK, "OK");
    case RS_REFUSED:
        return answer_text(r, HTTP_BAD_REQUEST, refused_keys(r, s));
    case RS_NOT_FOUND:
    case RS_NOT_HELD:
        return refuse(r, s->id, MSG_NOT_FOUND);
    case RS_ALREADY:
        return refuse(r, s->id, MSG_ALREADY);
    default:
        return rs_http_status(r, status);
    }
}

static const char *post_commit(request_rec *r, rs_session_t *s)
{
    char *buf;
    apr_size_t len;
    rs_state_t *st;
    rs_status_e lock = RS_OK;
    apr_status_t rv = read_body(r, s, rs_max_size(rs_sconf(r->server)),
                                &buf, &len, &lock);
    if (rv == APR_ENOSPC) {
        body_too_large(r, s);
        return "Session state exceeds RemoteSessionMaxSize";
    }
    if (lock != RS_OK || rv != APR_SUCCESS) {
        /* The rest of the body is not waited for: httpd would read it
         * before ending the answer, which then could not end. */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    if (lock != RS_OK) {
        return lock_lost(r, s, lock);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, RSLOG(00035)
                      "session %s: POST body not received; lock released",
                      s->id);
        return "Request body not received";
    }
    if (!(st = client_state(r, s, buf, len))) {
        return MSG_DESERIALIZE;
    }
    switch (lock = rs_lock_commit(s, st)) {
    case RS_OK:
        return NULL;
    case RS_REFUSED:
        return refused_keys(r, s);
    case RS_TOO_LARGE:
        return "Session state exceeds RemoteSessionMaxSize";
    default:
        return lock_lost(r, s, lock);
    }
}

static int post(request_rec *r, rs_session_t *s)
{
    int is_new, status = open_session(r, s, RS_KIND_EXCLUSIVE, &is_new);
    const char *msg;
    if (status != OK) {
        return status;
    }
    stream_response(r);
    if (send_writer_state(r, s, is_new, 0) != APR_SUCCESS) {
        return OK;
    }
    msg = post_commit(r, s);
    rs_store_idle(s->conn);
    msg = rs_json_result(r->pool, msg);
    send_bytes(r, brigade(r), msg, strlen(msg));
    return OK;
}

static int answer(request_rec *r, rs_server_conf *c)
{
    const char *id = rs_cookie_sid(r, rs_cookie_name(c));
    rs_conn *conn;
    rs_session_t *s;

    if (!c->store) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RSLOG(00036)
                      "RemoteSessionStore is not set for this server");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rs_metric_inc(r->method_number == M_PUT ? RS_M_PUT
                  : r->method_number == M_POST ? RS_M_POST
                  : header_true(r, READONLY_HEADER) ? RS_M_READONLY_GET
                  : RS_M_WRITEABLE_GET);
    if (r->method_number == M_PUT && !id) {
        /* As the framework peer: a cookie it cannot read names no lock. */
        return refuse(r, NULL, rs_cookie_present(r, rs_cookie_name(c))
                               ? MSG_NOT_FOUND : MSG_NO_ID);
    }
    if (!(conn = rs_store_conn(r, c->store))) {
        return rs_http_status(r, RS_UNAVAILABLE);
    }
    s = rs_lock_open(r->pool, rs_log_request(r), rs_lock_conf_of(r, c), conn,
                     id);
    s->client = 1;
    /* what the client may see is what is stored: sent as it is */
    s->keep_raw = !c->apache_keys;
    if (r->method_number == M_PUT) {
        return put(r, s);
    }
    if (r->method_number == M_POST) {
        return post(r, s);
    }
    ap_discard_request_body(r);
    return header_true(r, READONLY_HEADER) ? readonly_get(r, s)
                                           : writeable_get(r, s);
}

/* The method, compared without regard to case as the protocol says. */
static int method_of(request_rec *r)
{
    static const char *const names[] = { "GET", "PUT", "POST" };
    static const int numbers[] = { M_GET, M_PUT, M_POST };
    int i;
    for (i = 0; i < 3; i++) {
        if (!strcasecmp(r->method, names[i])) {
            return numbers[i];
        }
    }
    return M_INVALID;
}

/* The handler SetHandler will give r, before core's fixups set it. */
static const char *set_handler_of(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *h;
    if (!d->expr_handler) {
        return NULL;
    }
    h = ap_expr_str_exec(r, d->expr_handler, &err);
    return err ? NULL : h;
}

/*
 * header_parser: the protocol takes method names in any case, httpd's
 * access control only the spellings it knows: "put" would pass a <Limit
 * PUT> or a Require method PUT. At the endpoint the name is made the one
 * httpd knows before access control runs.
 */
int rs_endpoint_method(request_rec *r)
{
    const char *h;
    int m;
    if (r->method_number != M_INVALID || (m = method_of(r)) == M_INVALID) {
        return DECLINED;
    }
    h = set_handler_of(r);
    if (h && !strcasecmp(h, RS_HANDLER)) {
        r->method = m == M_GET ? "GET" : m == M_PUT ? "PUT" : "POST";
        r->method_number = m;
    }
    return DECLINED;
}

int rs_endpoint_handler(request_rec *r)
{
    rs_server_conf *c;
    const char *key;

    if (!r->handler || strcmp(r->handler, RS_HANDLER)) {
        return DECLINED;
    }
    c = rs_sconf(r->server);
    if (!c->api_key) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RSLOG(00037)
                      "RemoteSessionApiKey is not set for this server");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    key = apr_table_get(r->headers_in, rs_api_key_header(c));
    /* Checked, it leaves the request: no access log format, later
     * handler or trace can show it. */
    apr_table_unset(r->headers_in, rs_api_key_header(c));
    if (!rs_key_equal(key, c->api_key)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00038)
                      "missing or wrong API key");
        r->status = HTTP_UNAUTHORIZED;
        ap_set_content_length(r, 0);
        return OK;
    }
    r->method_number = method_of(r);
    if (r->method_number == M_INVALID) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RSLOG(00039)
                      "method %s not allowed", r->method);
        ap_allow_methods(r, REPLACE_ALLOW, "GET", "PUT", "POST", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    return answer(r, c);
}
