/*
 * A consumer of mod_remote_session's optional functions, for the suite:
 * /rs_api?op=id|get|set|remove&key=K&json=J answers in text/plain what the
 * function returned; op=sub sets two keys from two subrequests, each
 * destroyed at once; op=workers answers "<mpm> <workers>", how many
 * requests this server can serve at once (RS::Test::need_workers). Built
 * and loaded by Apache::Test (t/c-modules).
 */
#if CONFIG_FOR_HTTPD_TEST
<Location /rs_api>
    SetHandler rs_api
    SessionRequire On
</Location>
<Location /rs_api_ro>
    SetHandler rs_api
    SessionRequire ReadOnly
</Location>
<Location /rs_api_none>
    SetHandler rs_api
</Location>
#endif

#define APACHE_HTTPD_TEST_HANDLER rs_api_handler

#include "apache_httpd_test.h"
#include "apr_strings.h"
#include "ap_mpm.h"
#include "../../../include/mod_remote_session.h"

static const char *arg(request_rec *r, const char *name)
{
    char *args = apr_pstrdup(r->pool, r->args ? r->args : "");
    char *pair, *last;
    for (pair = apr_strtok(args, "&", &last); pair;
         pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '=');
        if (eq && (size_t)(eq - pair) == strlen(name)
            && !strncmp(pair, name, strlen(name))) {
            ap_unescape_url(eq + 1);
            return eq + 1;
        }
    }
    return NULL;
}

static const char *call(request_rec *r, const char *op, const char *key)
{
    APR_OPTIONAL_FN_TYPE(remote_session_id) *id =
        APR_RETRIEVE_OPTIONAL_FN(remote_session_id);
    APR_OPTIONAL_FN_TYPE(remote_session_get) *get =
        APR_RETRIEVE_OPTIONAL_FN(remote_session_get);
    APR_OPTIONAL_FN_TYPE(remote_session_set) *set =
        APR_RETRIEVE_OPTIONAL_FN(remote_session_set);
    APR_OPTIONAL_FN_TYPE(remote_session_remove) *remove =
        APR_RETRIEVE_OPTIONAL_FN(remote_session_remove);
    const char *err;

    if (!id || !get || !set || !remove) {
        return "error: mod_remote_session is not loaded";
    }
    if (!strcmp(op, "id")) {
        return id(r) ? id(r) : "(none)";
    }
    if (!strcmp(op, "get")) {
        return get(r, key) ? get(r, key) : "(unset)";
    }
    err = !strcmp(op, "set") ? set(r, key, arg(r, "json") ? arg(r, "json")
                                                          : "")
        : !strcmp(op, "remove") ? remove(r, key) : "unknown op";
    return err ? apr_pstrcat(r->pool, "error: ", err, NULL) : "ok";
}

/* As PHP's virtual() or mod_lua may: the changes a subrequest made must
 * outlive its pool. The second one reuses the memory of the first. */
static const char *subrequests(request_rec *r)
{
    static const char *const uris[] = {
        "/rs_api?op=set&key=sub1&json=%22the-first-subrequest-value%22",
        "/rs_api?op=set&key=sub2&json=%22the-second-subrequest-value%22",
    };
    int i;
    for (i = 0; i < 2; i++) {
        request_rec *sub = ap_sub_req_lookup_uri(uris[i], r,
                                                r->output_filters);
        int status = sub->status == HTTP_OK ? ap_run_sub_req(sub)
                                            : sub->status;
        ap_destroy_sub_req(sub);
        if (status != OK) {
            return "error: a subrequest failed";
        }
    }
    return "ok";
}

/* MaxRequestWorkers as the running MPM computed it: daemons times threads. */
static const char *workers(request_rec *r)
{
    int daemons = 0, threads = 0;
    if (ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons) != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
        return "error: ap_mpm_query failed";
    }
    return apr_psprintf(r->pool, "%s %d", ap_show_mpm(),
                        daemons * (threads > 0 ? threads : 1));
}

static int rs_api_handler(request_rec *r)
{
    const char *op, *key;
    if (strcmp(r->handler, "rs_api")) {
        return DECLINED;
    }
    op = arg(r, "op");
    key = arg(r, "key");
    if (r->main) {
        /* No output: it would start the main response, and commit. */
        return strncmp(call(r, op ? op : "", key ? key : ""), "error", 5)
               ? OK : HTTP_BAD_REQUEST;
    }
    ap_set_content_type(r, "text/plain");
    if (op && !strcmp(op, "workers")) {
        ap_rputs(workers(r), r);
        ap_rputs("\n", r);
        return OK;
    }
    if (op && !strcmp(op, "sub")) {
        ap_rputs(subrequests(r), r);
        ap_rputs("\n", r);
        return OK;
    }
    ap_rputs(call(r, op ? op : "", key ? key : ""), r);
    ap_rputs("\n", r);
    return OK;
}

APACHE_HTTPD_TEST_MODULE(rs_api);
