/*
 * The store's two objects, for store.c and store_httpd.c only: every
 * other file sees them as opaque (store.h).
 */
#ifndef RS_STORE_IMPL_H
#define RS_STORE_IMPL_H

#include "store.h"

struct rs_store {
    const rs_store_provider *prov;
    void *instance;
};

struct rs_conn {
    rs_store *store;
    void *handle;
    int own;                    /* outside the pool: opened, closed */
    int busy;                   /* inside an operation of the provider */
    char error[RS_STORE_ERRLEN];
};

#endif
