/*
 * The counters of metrics.h as an operator reads them: a section of
 * mod_status's server-status page (HTML, and "Key: value" lines for
 * ?auto), and SetHandler remote-session-metrics in the Prometheus text
 * exposition format.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "metrics_page.h"
#include "metrics.h"
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#define PREFIX "remote_session_"

/* Waits are counted in microseconds, shown in seconds. */
static int in_usec(rs_metric_e m)
{
    return m == RS_M_LOCK_WAIT_USEC || m == RS_M_LOCK_WAIT_MAX_USEC;
}

static const char *value_of(apr_pool_t *p, rs_metric_e m,
                            const apr_uint64_t *v)
{
    if (in_usec(m)) {
        return apr_psprintf(p, "%.6f", (double)v[m] / 1e6);
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)v[m]);
}

/* ?auto keys as mod_status writes its own: RemoteSessionPutTotal. */
static const char *auto_key(apr_pool_t *p, const char *name)
{
    char *k = apr_pstrcat(p, "RemoteSession_", name, NULL), *in, *out;
    int up = 0;
    for (in = out = k; *in; in++) {
        if (*in == '_') {
            up = 1;
            continue;
        }
        *out++ = up ? apr_toupper(*in) : *in;
        up = 0;
    }
    *out = '\0';
    return k;
}

int rs_metrics_status(request_rec *r, int flags)
{
    apr_uint64_t v[RS_M_COUNT];
    int i;

    rs_metrics_read(v);
    if (flags & AP_STATUS_SHORT) {
        for (i = 0; i < RS_M_COUNT; i++) {
            ap_rprintf(r, "%s: %s\n", auto_key(r->pool, rs_metric_name(i)),
                       value_of(r->pool, i, v));
        }
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_remote_session</h2>\n<table border=\"0\">\n",
             r);
    for (i = 0; i < RS_M_COUNT; i++) {
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                   rs_metric_name(i), value_of(r->pool, i, v),
                   rs_metric_help(i));
    }
    ap_rputs("</table>\n", r);
    return OK;
}

static void one(request_rec *r, const char *name, const char *type,
                const char *help, const char *value)
{
    ap_rprintf(r, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n"
               PREFIX "%s %s\n", name, help, name, type, name, value);
}

/* The waits as a Prometheus histogram: cumulative buckets, sum, count. */
static void wait_histogram(request_rec *r, const apr_uint64_t *v)
{
    static const char *const le[] = { "0.001", "0.01", "0.1", "1", "10" };
    apr_uint64_t sum = 0;
    int i;
    ap_rputs("# HELP " PREFIX "lock_wait_seconds time writers waited for a "
             "lock\n# TYPE " PREFIX "lock_wait_seconds histogram\n", r);
    for (i = 0; i < 5; i++) {
        sum += v[RS_M_WAIT_LE_1MS + i];
        ap_rprintf(r, PREFIX "lock_wait_seconds_bucket{le=\"%s\"} %"
                   APR_UINT64_T_FMT "\n", le[i], sum);
    }
    /* +Inf and the count from the buckets as read: a wait ending during
     * the scrape must not leave a bucket above +Inf */
    sum += v[RS_M_WAIT_GT_10S];
    ap_rprintf(r, PREFIX "lock_wait_seconds_bucket{le=\"+Inf\"} %"
               APR_UINT64_T_FMT "\n" PREFIX "lock_wait_seconds_sum %.6f\n"
               PREFIX "lock_wait_seconds_count %" APR_UINT64_T_FMT "\n",
               sum, (double)v[RS_M_LOCK_WAIT_USEC] / 1e6, sum);
}

static int in_histogram(rs_metric_e m)
{
    return m == RS_M_LOCK_WAITS || m == RS_M_LOCK_WAIT_USEC
           || (m >= RS_M_WAIT_LE_1MS && m <= RS_M_WAIT_GT_10S);
}

int rs_metrics_handler(request_rec *r)
{
    apr_uint64_t v[RS_M_COUNT];
    int i;

    if (!r->handler || strcmp(r->handler, RS_METRICS_HANDLER)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    rs_metrics_read(v);
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    wait_histogram(r, v);
    for (i = 0; i < RS_M_COUNT; i++) {
        if (!in_histogram(i)) {
            one(r, rs_metric_name(i),
                rs_metric_is_gauge(i) ? "gauge" : "counter",
                rs_metric_help(i), value_of(r->pool, i, v));
        }
    }
    return OK;
}
