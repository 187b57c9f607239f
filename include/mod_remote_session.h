/*
 * mod_remote_session's public API for other httpd modules.
 *
 * The functions act on the session that SessionRequire loaded for the
 * current request (main request, internal redirects and subrequests alike).
 * Changes are validated at once against the RemoteSessionKey registry and
 * committed together with the backend's X-Remote-Session-Update headers,
 * before the first byte of the response leaves (API changes first).
 *
 * Fetch them in post_config (or later) with APR_RETRIEVE_OPTIONAL_FN and
 * fail with a clear message when they are NULL (the module is not loaded):
 *
 *     static APR_OPTIONAL_FN_TYPE(remote_session_get) *rs_get;
 *     rs_get = APR_RETRIEVE_OPTIONAL_FN(remote_session_get);
 */
#ifndef MOD_REMOTE_SESSION_H
#define MOD_REMOTE_SESSION_H

#include "httpd.h"
#include "apr_optional.h"

/* The session ID, or NULL when the request has no session. */
APR_DECLARE_OPTIONAL_FN(const char *, remote_session_id, (request_rec *r));

/* The JSON text of key's value (bytes as stored), or NULL when unset. */
APR_DECLARE_OPTIONAL_FN(const char *, remote_session_get,
                        (request_rec *r, const char *key));

/*
 * Sets key to a JSON text. NULL on success, else why not (read-only
 * location, unregistered key, wrong type, invalid JSON, response started).
 */
APR_DECLARE_OPTIONAL_FN(const char *, remote_session_set,
                        (request_rec *r, const char *key, const char *json));

/* Removes key. NULL on success, else why not (as for set). */
APR_DECLARE_OPTIONAL_FN(const char *, remote_session_remove,
                        (request_rec *r, const char *key));

#endif
