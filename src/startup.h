/*
 * Checks of the whole configuration at startup (check_config), where a
 * mistake is cheap to report: before httpd detaches, and for "httpd -t".
 */
#ifndef RS_STARTUP_H
#define RS_STARTUP_H

#include <httpd.h>

/* check_config: refuses a mapped endpoint without an API key. */
int rs_startup_check(apr_pool_t *ptemp, server_rec *main);

/* post_config: warns (RS00071) once per server where the endpoint is on an
 * SSL virtual host that cannot speak h2, which the ASP.NET Core client
 * needs for every writeable request. */
void rs_startup_warn(apr_pool_t *ptemp, server_rec *main);

#endif
