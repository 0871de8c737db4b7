
/*
 * Copyright (C) the gobi authors
 *
 * Counters for Prometheus (ngx_http_gobi_metrics.c): one fixed-size shared
 * zone for every worker, updated with atomic adds, safe from pool threads
 * too.  This file calls no other gobi file: everything else may count.
 */


#ifndef _NGX_HTTP_GOBI_METRICS_H_INCLUDED_
#define _NGX_HTTP_GOBI_METRICS_H_INCLUDED_


#include "ngx_http_gobi_module.h"


/* instance-wide counters (and one gauge), see the table in the .c */
typedef enum {
    NGX_HTTP_GOBI_M_UPLOAD_BYTES = 0,
    NGX_HTTP_GOBI_M_DOWNLOAD_BYTES,
    NGX_HTTP_GOBI_M_WS_SESSIONS,
    NGX_HTTP_GOBI_M_EVENTS_PUBLISHED,
    NGX_HTTP_GOBI_M_EVENTS_DELIVERED,
    NGX_HTTP_GOBI_M_BUS_NOTICES,
    NGX_HTTP_GOBI_M_BUS_RECONNECTS,
    NGX_HTTP_GOBI_M_STORE_UNAVAILABLE,
    NGX_HTTP_GOBI_M_STORE_FAILED,
    NGX_HTTP_GOBI_M_STORE_REFUSED,
    NGX_HTTP_GOBI_M_BREAKER_OPENS,
    NGX_HTTP_GOBI_M_BREAKER_OPEN,          /* a gauge: 0 or 1 */
    NGX_HTTP_GOBI_M_BLOB_BYTES,
    NGX_HTTP_GOBI_M_RETENTION_RUNS,
    NGX_HTTP_GOBI_M_RETENTION_FAILED,
    NGX_HTTP_GOBI_M_EVENTS_PRUNED,
    NGX_HTTP_GOBI_M_BLOBS_COLLECTED,
    NGX_HTTP_GOBI_M_SCRUB_RUNS,
    NGX_HTTP_GOBI_M_HEALTH_CHECKS,
    NGX_HTTP_GOBI_M_N
} ngx_http_gobi_metric_e;


/*
 * Gauges kept per worker process (by its slot in the master's table): a
 * worker that was killed leaves no stale count behind, its replacement
 * starts its slot afresh.
 */
typedef enum {
    NGX_HTTP_GOBI_G_WS_OPEN = 0,
    NGX_HTTP_GOBI_G_QUEUED,                /* + the pool: 0 main, 1 auth */
    NGX_HTTP_GOBI_G_QUEUED_AUTH,
    NGX_HTTP_GOBI_G_RUNNING,
    NGX_HTTP_GOBI_G_RUNNING_AUTH,
    NGX_HTTP_GOBI_G_N
} ngx_http_gobi_gauge_e;


ngx_int_t ngx_http_gobi_metrics_init(ngx_conf_t *cf);
void ngx_http_gobi_metrics_init_process(void);
/* the API's route table, for the "endpoint" label (at configuration) */
ngx_int_t ngx_http_gobi_metrics_routes(ngx_conf_t *cf,
    const ngx_http_gobi_route_t *routes);
char *ngx_http_gobi_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

void ngx_http_gobi_metrics_add(ngx_http_gobi_metric_e m, ngx_atomic_int_t n);
void ngx_http_gobi_metrics_set(ngx_http_gobi_metric_e m, ngx_atomic_int_t v);
void ngx_http_gobi_metrics_gauge(ngx_http_gobi_gauge_e g, ngx_atomic_int_t n);
/* a pool thread's time on one store job, microseconds */
void ngx_http_gobi_metrics_store_job(uint64_t usec);


#endif /* _NGX_HTTP_GOBI_METRICS_H_INCLUDED_ */
