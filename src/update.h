/*
 * X-Remote-Session-Update applied to a session state (INTERFACE.md).
 */
#ifndef RS_UPDATE_H
#define RS_UPDATE_H

#include <apr_hash.h>
#include "codec.h"
#include "json.h"

/* Applies u to st; NULL, or why a value was refused (st is then partly
 * changed: apply to a copy). */
const char *rs_update_apply(apr_pool_t *p, apr_hash_t *keys, rs_state_t *st,
                            const rs_update_t *u);

#endif
