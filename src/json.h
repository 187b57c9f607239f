/*
 * Every JSON parse and build of the module, through Jansson, in one place.
 */
#ifndef RS_JSON_H
#define RS_JSON_H

#include <apr_pools.h>
#include "codec.h"
#include "keys.h"

/*
 * Checks that json[0..len) is one JSON text of the given type. Returns
 * NULL when it fits, else a short description of what arrived
 * ("invalid JSON: ...", "a string", "an integer out of range", ...).
 */
const char *rs_json_check(apr_pool_t *p, const char *json, apr_size_t len,
                          rs_type_e type, int nullable);

/* The POST result: {"s":true} or {"s":false,"m":"<msg>"}, in pool memory. */
const char *rs_json_result(apr_pool_t *p, const char *msg);

#endif
