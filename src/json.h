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

/*
 * All items of st as one compact JSON object: keys escaped by Jansson,
 * values copied byte for byte (an empty value as null).
 */
const char *rs_json_session_object(apr_pool_t *p, const rs_state_t *st);

/*
 * json fit for a header: the white space outside strings (the only place
 * raw CR, LF, TAB can be in valid JSON) as spaces; json itself when it
 * has none, which is the usual case.
 */
const char *rs_json_one_line(apr_pool_t *p, const char *json);

/* One change from X-Remote-Session-Update (INTERFACE.md). */
typedef struct {
    int abandon;
    int clear;
    apr_array_header_t *remove;     /* of rs_item_t (key only) */
    apr_array_header_t *set;        /* of rs_item_t (key, JSON value) */
    int timeout;                    /* minutes; 0 when not given */
} rs_update_t;

/*
 * Parses a header value holding one or more JSON objects (httpd folds
 * repeated headers with ", ") and appends an rs_update_t for each to out.
 * NULL, or a message saying what is wrong.
 */
const char *rs_json_parse_updates(apr_pool_t *p, const char *text,
                                  apr_array_header_t *out);

#endif
