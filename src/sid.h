/*
 * Session IDs: 24 characters of a-z0-5, 15 random bytes at 5 bits a
 * character, as the framework peer makes them.
 */
#ifndef RS_SID_H
#define RS_SID_H

#include <apr_pools.h>

#define RS_SID_LEN 24

/* A fresh ID from apr_generate_random_bytes; NULL if no entropy. */
const char *rs_sid_generate(apr_pool_t *p);

/* 1 when s is exactly an ID of our form. */
int rs_sid_valid(const char *s);

/* 1 when key is a non-zero GUID as the .NET peers spell it: 32 hex digits,
 * dashes optional, a brace or parenthesis at either end, or the X form. */
int rs_guid_valid(const char *key);

/* 1 when given (may be NULL) equals want; time independent of content. */
int rs_key_equal(const char *given, const char *want);

#define RS_KEY_PREFIX "remote-session:"
#define RS_KEY_PREFIX_MAX 128   /* memcached keys end at 250 bytes */

/* The store key of a session: prefix (NULL: RS_KEY_PREFIX) and ID. */
const char *rs_sid_store_key(apr_pool_t *p, const char *prefix,
                             const char *id);

#endif
