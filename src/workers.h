/*
 * The worker reserve: a writeable request (held GET, POST, SessionRequire
 * On) may keep its worker for a whole ASP.NET Core request or a lock wait,
 * and read-only GETs and the PUTs that end those holds need workers too.
 */
#ifndef RS_WORKERS_H
#define RS_WORKERS_H

#include <httpd.h>
#include "config.h"
#include "status.h"

/* RS_OK, or RS_UNAVAILABLE (503) when taking this worker for a writer
 * would leave fewer free than the reserve; logs the refusal once, naming
 * the session id (NULL: a new one). */
rs_status_e rs_workers_spare(request_rec *r, const rs_server_conf *c,
                             const char *id);

#endif
