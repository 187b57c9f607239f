/*
 * Where an operator reads the counters (metrics.h): mod_status's page and
 * the Prometheus handler.
 */
#ifndef RS_METRICS_PAGE_H
#define RS_METRICS_PAGE_H

#include <httpd.h>

#define RS_METRICS_HANDLER "remote-session-metrics"

/* mod_status's status_hook: a section on server-status, or ?auto lines. */
int rs_metrics_status(request_rec *r, int flags);

/* SetHandler remote-session-metrics: the Prometheus text format. */
int rs_metrics_handler(request_rec *r);

#endif
