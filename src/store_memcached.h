/*
 * The memcached backend of the store (store.h), through libmemcached:
 * RemoteSessionStore takes a libmemcached configuration string, one or
 * many --SERVER= entries.
 */
#ifndef RS_STORE_MEMCACHED_H
#define RS_STORE_MEMCACHED_H

#include "store.h"

extern const rs_store_provider rs_store_memcached;

#endif
