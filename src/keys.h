/*
 * The key registry (RemoteSessionKey): which session keys exist and the
 * JSON type of each, mirroring RegisterKey<T> on the .NET side.
 */
#ifndef RS_KEYS_H
#define RS_KEYS_H

#include <apr_pools.h>
#include <apr_hash.h>
#include "codec.h"

typedef enum {
    RS_TYPE_STRING, RS_TYPE_INT, RS_TYPE_LONG, RS_TYPE_BOOL,
    RS_TYPE_DOUBLE, RS_TYPE_OBJECT, RS_TYPE_ARRAY, RS_TYPE_JSON
} rs_type_e;

typedef struct {
    const char *name;
    rs_type_e type;
    int nullable;
    const char *spelling;   /* the type as configured, e.g. "int?" */
    int apache;             /* the Apache side's alone: never sent to the
                               .NET client nor taken from it */
} rs_key_t;

/* A registry is an apr_hash_t of name -> rs_key_t. */
apr_hash_t *rs_keys_make(apr_pool_t *p);

/* Registers name with type ("int", "int?", ...) and scope (NULL: shared
 * with the .NET side; "apache": the Apache side's alone). NULL or an error
 * message. */
const char *rs_keys_add(apr_pool_t *p, apr_hash_t *reg, const char *name,
                        const char *type, const char *scope);

/* 1 when key is registered as the Apache side's alone. */
int rs_keys_apache(apr_hash_t *reg, const char *key, apr_size_t key_len);

/* 1 when any key is. */
int rs_keys_any_apache(apr_pool_t *p, apr_hash_t *reg);

/* Union of two registries; entries of `over` win. */
apr_hash_t *rs_keys_merge(apr_pool_t *p, apr_hash_t *base, apr_hash_t *over);

/*
 * Checks one value's JSON bytes against the registry. NULL when it fits,
 * else a message naming the key, the expected type and what arrived.
 * A registry without shared keys (or NULL) accepts any valid JSON under a
 * key it does not name.
 */
const char *rs_keys_check(apr_pool_t *p, apr_hash_t *reg, const char *key,
                          apr_size_t key_len, const char *json,
                          apr_size_t json_len);

/* Checks every item of st, a state from the .NET client, which may not
 * hold keys of the Apache side; the first failure's message, or NULL.
 * A value byte for byte the one known (the stored state it replaces, or
 * NULL) has under its key is not parsed again: it was checked when it
 * was stored, and a client sends most values back unchanged. */
const char *rs_keys_check_state(apr_pool_t *p, apr_hash_t *reg,
                                const rs_state_t *st,
                                const rs_state_t *known);

/* st as the .NET client sees it: without the Apache side's keys and
 * without zero-length values; st itself when there is nothing to leave
 * out, else a copy in p. */
const rs_state_t *rs_keys_client_view(apr_pool_t *p, apr_hash_t *reg,
                                      const rs_state_t *st);

#endif
