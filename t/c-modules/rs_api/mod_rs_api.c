/*
 * A consumer of mod_remote_session's optional functions, for the suite:
 * /rs_api?op=id|get|set|remove&key=K&json=J answers in text/plain what the
 * function returned. Built and loaded by Apache::Test (t/c-modules).
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

static int rs_api_handler(request_rec *r)
{
    const char *op, *key;
    if (strcmp(r->handler, "rs_api")) {
        return DECLINED;
    }
    op = arg(r, "op");
    key = arg(r, "key");
    ap_set_content_type(r, "text/plain");
    ap_rputs(call(r, op ? op : "", key ? key : ""), r);
    ap_rputs("\n", r);
    return OK;
}

APACHE_HTTPD_TEST_MODULE(rs_api);
