/*
 * Lease renewal for locks held while a handler runs (SessionRequire On):
 * no code of ours runs during a CGI or a proxied request, so one thread
 * per child renews the leases of its requests' locks, every third of a
 * lease, until the request commits, releases or ends.
 */
#ifndef RS_LEASE_H
#define RS_LEASE_H

#include <httpd.h>
#include "lock.h"

/* Starts the child's renewal thread (child_init); stopped with pchild. */
void rs_lease_start(apr_pool_t *pchild, server_rec *s);

/* Renews s's lock until rs_lease_unwatch or the end of its request. */
void rs_lease_watch(request_rec *r, rs_session_t *s);
void rs_lease_unwatch(rs_session_t *s);

#endif
