/*
 * SessionRequire On|ReadOnly|Off: the session for whatever Apache serves
 * at a location (CGI, PHP, proxied apps). Fixups load it (and lock it
 * under On) and expose it; an output filter takes the backend's updates
 * from X-Remote-Session-Update and commits them before the first byte of
 * the response leaves.
 */
#ifndef RS_REQUIRE_H
#define RS_REQUIRE_H

#include <httpd.h>
#include <util_filter.h>

#define RS_UPDATE_FILTER "REMOTE_SESSION_UPDATE"
#define RS_STRIP_FILTER  "REMOTE_SESSION_STRIP"

int rs_require_strip_headers(request_rec *r);
int rs_require_fixups(request_rec *r);
void rs_require_insert_filter(request_rec *r);
apr_status_t rs_require_update_filter(ap_filter_t *f, apr_bucket_brigade *bb);

/* On every response, after the update filter and before the headers go:
 * no X-Remote-Session-Update ever reaches a client, in headers or
 * trailers, session or not. */
apr_status_t rs_require_strip_filter(ap_filter_t *f, apr_bucket_brigade *bb);

/* The optional functions of include/mod_remote_session.h. */
const char *remote_session_id(request_rec *r);
const char *remote_session_get(request_rec *r, const char *key);
const char *remote_session_set(request_rec *r, const char *key, const char *json);
const char *remote_session_remove(request_rec *r, const char *key);

#endif
