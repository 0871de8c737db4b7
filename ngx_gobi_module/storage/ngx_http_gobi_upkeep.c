
/*
 * Copyright (C) the gobi authors
 *
 * The storage's upkeep, in one worker (the targets and the store are
 * shared): soon after start and then every gobi_storage_scrub, the data
 * keys the old master key wrapped are wrapped anew with the current one
 * (gobi_encryption_key_old), and with several targets each vault's blobs
 * are compared across them and what a target missed is copied to it.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"

#include <stdio.h>
#include <stdlib.h>


#define NGX_HTTP_GOBI_UPKEEP_FIRST  1000   /* ms after the worker starts */


typedef struct {
    ngx_http_gobi_job_t            job;        /* first: see the casts */
    int64_t                        rewrapped;
    int64_t                        foreign;
    gobi_store_rc_e                keys_rc;
    int64_t                        vaults;
    int64_t                        copied;
    int64_t                        failed;
    gobi_store_rc_e                vaults_rc;
    int64_t                       *ids;
    size_t                         n;
    size_t                         cap;
    char                           err[512];
} ngx_http_gobi_upkeep_t;


static void ngx_http_gobi_upkeep_timer(ngx_event_t *ev);
static void ngx_http_gobi_upkeep_run(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_upkeep_done(ngx_http_gobi_job_t *job);
static int ngx_http_gobi_upkeep_vault(void *data, const gobi_vault_t *v);
static ngx_msec_t ngx_http_gobi_upkeep_interval(
    ngx_http_gobi_main_conf_t *gmcf);


static ngx_event_t       ngx_http_gobi_upkeep_ev;
static ngx_connection_t  ngx_http_gobi_upkeep_conn;


ngx_int_t
ngx_http_gobi_upkeep_init(ngx_cycle_t *cycle)
{
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gobi_module);

    if (ngx_worker != 0 || ngx_http_gobi_upkeep_interval(gmcf) == 0) {
        return NGX_OK;
    }

    ngx_http_gobi_upkeep_conn.fd = (ngx_socket_t) -1;
    ngx_http_gobi_upkeep_ev.data = &ngx_http_gobi_upkeep_conn;
    ngx_http_gobi_upkeep_ev.handler = ngx_http_gobi_upkeep_timer;
    ngx_http_gobi_upkeep_ev.log = cycle->log;
    ngx_http_gobi_upkeep_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_gobi_upkeep_ev, NGX_HTTP_GOBI_UPKEEP_FIRST);

    return NGX_OK;
}


/* 0: nothing to do (one target and no key to rotate away from) */

static ngx_msec_t
ngx_http_gobi_upkeep_interval(ngx_http_gobi_main_conf_t *gmcf)
{
    ngx_msec_t  t;

    t = (gmcf->storage.nelts > 1) ? gmcf->storage_scrub : 0;

    if (gmcf->encryption_key_old && t == 0) {
        t = 3600 * 1000;
    }

    return t;
}


static void
ngx_http_gobi_upkeep_timer(ngx_event_t *ev)
{
    ngx_http_gobi_upkeep_t     *u;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_gobi_module);

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    u = ngx_calloc(sizeof(ngx_http_gobi_upkeep_t), ev->log);
    if (u != NULL) {
        u->job.gmcf = gmcf;
        u->job.store = ngx_http_gobi_worker.store;
        u->job.blob = ngx_http_gobi_worker.blob;
        u->job.keys = ngx_http_gobi_worker.keys;

        if (ngx_http_gobi_job_post(&u->job, ngx_http_gobi_upkeep_run,
                                   ngx_http_gobi_upkeep_done, ev->log)
            == NGX_OK)
        {
            return;                        /* done re-arms the timer */
        }

        ngx_free(u);
    }

    ngx_add_timer(ev, ngx_http_gobi_upkeep_interval(gmcf));
}


static void
ngx_http_gobi_upkeep_run(ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_upkeep_t *u = (ngx_http_gobi_upkeep_t *) job;

    size_t                      i;
    int64_t                     copied;
    const gobi_store_driver_t  *drv;

    drv = job->gmcf->store_driver;

    if (job->keys && job->gmcf->encryption_key_old) {
        u->keys_rc = gobi_keys_rotate(job->keys, drv, job->store,
                                      &u->rewrapped, &u->foreign, u->err,
                                      sizeof(u->err));
    }

    if (job->gmcf->storage.nelts < 2 || job->gmcf->storage_scrub == 0) {
        return;
    }

    /* the ids first: no blob I/O inside the store's walk */
    u->vaults_rc = drv->vault_all(job->store, ngx_http_gobi_upkeep_vault, u);

    for (i = 0; u->vaults_rc == GOBI_STORE_OK && i < u->n; i++) {
        copied = 0;

        if (gobi_blob_scrub_vault(job->blob, u->ids[i],
                                  /* garbage is not copied back */
                                  ngx_http_gobi_blob_referenced, job,
                                  &copied, u->err, sizeof(u->err))
            != 0)
        {
            u->failed++;
        }

        u->copied += copied;
        u->vaults++;
    }

    if (u->vaults_rc == GOBI_STORE_OK) {
        ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_SCRUB_RUNS, 1);
    }

    free(u->ids);
    u->ids = NULL;
}


static int
ngx_http_gobi_upkeep_vault(void *data, const gobi_vault_t *v)
{
    ngx_http_gobi_upkeep_t *u = data;

    void    *p;
    size_t   cap;

    if (u->n == u->cap) {
        cap = u->cap ? u->cap * 2 : 64;

        p = realloc(u->ids, cap * sizeof(int64_t));
        if (p == NULL) {
            return 1;
        }

        u->ids = p;
        u->cap = cap;
    }

    u->ids[u->n++] = v->id;

    return 0;
}


static void
ngx_http_gobi_upkeep_done(ngx_http_gobi_job_t *job)
{
    ngx_event_t                *ev;
    ngx_http_gobi_upkeep_t     *u;
    ngx_http_gobi_main_conf_t  *gmcf;

    u = (ngx_http_gobi_upkeep_t *) job;
    gmcf = job->gmcf;
    ev = &job->task.event;

    if (u->keys_rc != GOBI_STORE_OK) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "gobi: re-wrapping the data keys failed: %s",
                      u->err[0] ? u->err
                                : job->gmcf->store_driver->errmsg(job->store));
    }

    if (u->rewrapped) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "gobi: %L data keys wrapped anew with the current "
                      "gobi_encryption_key", u->rewrapped);
    }

    if (u->foreign) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "gobi: %L data keys open with neither "
                      "gobi_encryption_key nor gobi_encryption_key_old",
                      u->foreign);
    }

    if (u->vaults_rc != GOBI_STORE_OK) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "gobi: storage scrub: listing the vaults failed: %s",
                      job->gmcf->store_driver->errmsg(job->store));

    } else if (u->failed) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "gobi: storage scrub: %L of %L vaults not done "
                      "(%s); %L blobs copied", u->failed, u->vaults, u->err,
                      u->copied);

    } else if (u->copied) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "gobi: storage scrub: %L blobs copied to the targets "
                      "that missed them", u->copied);
    }

    ngx_free(u);

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(&ngx_http_gobi_upkeep_ev,
                      ngx_http_gobi_upkeep_interval(gmcf));
    }
}
