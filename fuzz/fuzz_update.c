/*
 * libFuzzer target: the X-Remote-Session-Update parser, as a backend's
 * header value arrives (any bytes up to a NUL). Whatever it accepts must
 * make a state whose REMOTE_SESSION object is one valid JSON object, in
 * both its environment and its one-line header form.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <jansson.h>
#include "json.h"
#include "update.h"

static apr_pool_t *root;

static void check_object(const char *text)
{
    json_error_t e;
    /* Integers beyond 64 bits and "\u0000" are valid JSON, kept as sent. */
    json_t *v = json_loads(text, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &e);
    if (!v || !json_is_object(v)) {
        abort();
    }
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    apr_pool_t *p;
    apr_array_header_t *ups;
    rs_state_t *st;
    const char *text, *json;
    int i;

    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&p, root);
    text = apr_pstrmemdup(p, (const char *)data, size);
    ups = apr_array_make(p, 2, sizeof(rs_update_t));
    st = rs_state_make(p, "abcdefghijklmnopqrstuvwx", 20);
    if (!rs_json_parse_updates(p, text, ups)) {
        for (i = 0; i < ups->nelts; i++) {
            /* With no registry any valid JSON fits: a refusal means the
             * parser produced a value that is not JSON. */
            if (rs_update_apply(p, NULL, st,
                                &APR_ARRAY_IDX(ups, i, rs_update_t))) {
                abort();
            }
        }
        json = rs_json_session_object(p, st);
        check_object(json);
        if (strpbrk(rs_json_one_line(p, json), "\r\n\t")) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
