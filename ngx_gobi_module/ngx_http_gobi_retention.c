
/*
 * Copyright (C) the gobi authors
 *
 * Housekeeping, by one worker now and then, in a pool thread:
 * - events older than gobi_event_retention go; clients whose cursor falls
 *   behind get 410 history_expired (REST) or resync (WebSocket) and
 *   rebuild from the manifest;
 * - expired tokens go;
 * - file history is thinned by gobi_version_retention, and deleted files
 *   leave the trash after gobi_trash_retention;
 * - blobs no live file nor kept version uses, unchanged for
 *   gobi_blob_grace, go;
 * - upload temp files no process writes any more go (those of a killed
 *   worker at once, see gobi_storage_local.c).
 * And every worker, when it starts, sweeps the temp files once: the one
 * it replaces may have been killed mid-upload.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"


#define NGX_HTTP_GOBI_SWEEP_RETRY  5000     /* ms, the store was down */


typedef struct {
    ngx_http_gobi_job_t            job;        /* first: see the casts */
    ngx_http_gobi_main_conf_t     *gmcf;
    int64_t                        before;
    int64_t                        removed;
    gobi_store_rc_e                rc;
    char                           err[256];
    int64_t                        tokens;
    gobi_store_rc_e                tokens_rc;
    int64_t                        versions;
    gobi_store_rc_e                versions_rc;
    int64_t                        blobs;
    int                            gc_failed;
    int64_t                        temps;
    int                            sweep_failed;
    unsigned                       start:1;    /* a worker's first round */
} ngx_http_gobi_prune_t;


static void ngx_http_gobi_retention_timer(ngx_event_t *ev);
static void ngx_http_gobi_retention_start(ngx_event_t *ev);
static ngx_int_t ngx_http_gobi_retention_post(ngx_event_t *ev,
    ngx_uint_t start);


static ngx_event_t                 ngx_http_gobi_retention_ev;
static ngx_connection_t            ngx_http_gobi_retention_conn;
static ngx_uint_t                  ngx_http_gobi_retention_busy;
static ngx_event_t                 ngx_http_gobi_sweep_ev;
static ngx_connection_t            ngx_http_gobi_sweep_conn;


static ngx_msec_t
ngx_http_gobi_retention_interval(ngx_http_gobi_main_conf_t *gmcf)
{
    time_t  t;

    /* often enough that history expires close to on time, at most hourly */
    t = gmcf->event_retention / 4;
    t = ngx_max(t, 1);
    t = ngx_min(t, 3600);

    return (ngx_msec_t) t * 1000;
}


ngx_int_t
ngx_http_gobi_retention_init(ngx_cycle_t *cycle)
{
    const char                 *dir;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gobi_module);

    /*
     * Upload bodies go to this worker's own temp folder (the storage's
     * tmp_dir()), which is how a sweep tells what a killed worker left
     * from an upload in flight.  The path every gobi location uses is
     * this process's copy of the configuration.
     */

    dir = gobi_blob_tmp_dir(ngx_http_gobi_worker.blob);
    gmcf->tmp_path->name.data = (u_char *) dir;
    gmcf->tmp_path->name.len = ngx_strlen(dir);

    ngx_http_gobi_sweep_conn.fd = (ngx_socket_t) -1;
    ngx_http_gobi_sweep_ev.data = &ngx_http_gobi_sweep_conn;
    ngx_http_gobi_sweep_ev.handler = ngx_http_gobi_retention_start;
    ngx_http_gobi_sweep_ev.log = cycle->log;
    ngx_http_gobi_sweep_ev.cancelable = 1;

    /* once the event loop (and the thread pool) runs */
    ngx_add_timer(&ngx_http_gobi_sweep_ev, 1);

    /* one worker is enough for the rest: the store is shared */
    if (ngx_worker != 0) {
        return NGX_OK;
    }

    ngx_http_gobi_retention_conn.fd = (ngx_socket_t) -1;
    ngx_http_gobi_retention_ev.data = &ngx_http_gobi_retention_conn;
    ngx_http_gobi_retention_ev.handler = ngx_http_gobi_retention_timer;
    ngx_http_gobi_retention_ev.log = cycle->log;
    ngx_http_gobi_retention_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_gobi_retention_ev,
                  ngx_http_gobi_retention_interval(gmcf));

    return NGX_OK;
}


static void
ngx_http_gobi_retention_run(ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_prune_t *p = (ngx_http_gobi_prune_t *) job;

    const gobi_store_driver_t  *drv;

    drv = p->gmcf->store_driver;

    /* first: it needs no store */
    p->sweep_failed = gobi_blob_tmp_sweep(ngx_http_gobi_worker.blob,
                                          (int64_t) p->gmcf->blob_grace,
                                          &p->temps);

    if (p->start) {
        /* the store was not asked: this says nothing of its health */
        job->refused = 1;
        return;
    }

    p->rc = drv->events_prune(ngx_http_gobi_worker.store, p->before,
                              &p->removed);

    if (p->rc == GOBI_STORE_OK) {
        p->rc = drv->tokens_prune(ngx_http_gobi_worker.store, job->now,
                                  &p->tokens);
        p->tokens_rc = p->rc;
    }

    if (p->rc == GOBI_STORE_OK) {
        /* before the blobs: what it drops, they may collect */
        p->rc = drv->versions_prune(ngx_http_gobi_worker.store,
                                    &p->gmcf->versions, job->now,
                                    &p->versions);
        p->versions_rc = p->rc;
    }

    if (p->rc != GOBI_STORE_OK) {
        if (p->rc == GOBI_STORE_UNAVAILABLE) {
            /* the breaker hears of it too */
            job->code = "store_unavailable";
        }

        ngx_cpystrn((u_char *) p->err,
                    (u_char *) drv->errmsg(ngx_http_gobi_worker.store),
                    sizeof(p->err));
        return;
    }

    p->gc_failed = gobi_blob_collect(ngx_http_gobi_worker.blob,
                                     (int64_t) p->gmcf->blob_grace,
                                     ngx_http_gobi_blob_referenced,
                                     &p->job, &p->blobs);
}


/* the collector's question: 1 used, 0 not, -1 unknown (keep it) */

int
ngx_http_gobi_blob_referenced(void *data, int64_t vault, const char *hash)
{
    ngx_http_gobi_job_t *job = data;

    int              referenced;
    gobi_store_rc_e  rc;

    rc = job->gmcf->store_driver->blob_referenced(ngx_http_gobi_worker.store,
                                                  vault, hash, &referenced);

    return (rc == GOBI_STORE_OK) ? (referenced != 0) : -1;
}


static void
ngx_http_gobi_retention_done(ngx_http_gobi_job_t *job)
{
    ngx_event_t            *ev;
    ngx_http_gobi_prune_t  *p;

    p = (ngx_http_gobi_prune_t *) job;
    ev = &job->task.event;

    if (p->start) {
        if (job->code) {
            /* refused, the store is down: the breaker holds every job */
            ngx_add_timer(&ngx_http_gobi_sweep_ev, NGX_HTTP_GOBI_SWEEP_RETRY);
            ngx_free(p);
            return;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "gobi: housekeeping at worker start: %L temp files "
                       "removed", p->temps);
        goto temps;
    }

    ngx_http_gobi_retention_busy = 0;

    if (job->code && p->rc == GOBI_STORE_OK) {
        /* refused, the store is down: the next round tries again */
        ngx_free(p);
        return;
    }

    ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_RETENTION_RUNS, 1);
    ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_EVENTS_PRUNED, p->removed);
    ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_BLOBS_COLLECTED, p->blobs);

    if (p->rc != GOBI_STORE_OK || p->gc_failed || p->sweep_failed) {
        ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_RETENTION_FAILED, 1);
    }

    if (p->rc != GOBI_STORE_OK) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "gobi: pruning old %s failed: %s",
                      p->versions_rc != GOBI_STORE_OK ? "versions"
                      : p->tokens_rc != GOBI_STORE_OK ? "tokens" : "events",
                      p->err);
    }

    if (p->removed) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "gobi: pruned %L events older than the retention",
                      p->removed);
    }

    if (p->tokens) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "gobi: pruned %L expired tokens", p->tokens);
    }

    if (p->versions) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "gobi: thinned %L old versions", p->versions);
    }

    if (p->gc_failed) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "gobi: collecting unused blobs failed");

    } else if (p->blobs) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "gobi: removed %L unused blobs", p->blobs);
    }

temps:

    if (p->sweep_failed) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "gobi: sweeping upload temp files failed");

    } else if (p->temps) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "gobi: removed %L upload temp files no process writes",
                      p->temps);
    }

    ngx_free(p);
}


static ngx_int_t
ngx_http_gobi_retention_post(ngx_event_t *ev, ngx_uint_t start)
{
    ngx_http_gobi_prune_t      *p;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_gobi_module);

    p = ngx_calloc(sizeof(ngx_http_gobi_prune_t), ev->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p->gmcf = gmcf;
    p->start = start;
    p->before = ngx_http_gobi_now_ms() - (int64_t) gmcf->event_retention * 1000;
    p->job.gmcf = gmcf;

    if (ngx_http_gobi_job_post(&p->job, ngx_http_gobi_retention_run,
                               ngx_http_gobi_retention_done, ev->log)
        != NGX_OK)
    {
        ngx_free(p);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_gobi_retention_start(ngx_event_t *ev)
{
    if (ngx_exiting || ngx_quit || ngx_terminate
        || ngx_http_gobi_worker.blob == NULL)
    {
        return;
    }

    (void) ngx_http_gobi_retention_post(ev, 1);
}


static void
ngx_http_gobi_retention_timer(ngx_event_t *ev)
{
    ngx_http_gobi_main_conf_t  *gmcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    gmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_gobi_module);

    ngx_add_timer(ev, ngx_http_gobi_retention_interval(gmcf));

    if (ngx_http_gobi_retention_busy || ngx_http_gobi_worker.store == NULL) {
        return;
    }

    if (ngx_http_gobi_retention_post(ev, 0) == NGX_OK) {
        ngx_http_gobi_retention_busy = 1;
    }
}
