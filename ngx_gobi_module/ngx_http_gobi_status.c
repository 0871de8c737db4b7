
/*
 * Copyright (C) the gobi authors
 *
 * GET /api/v1/health, without credentials: 200
 * {"status":"ok","store":"ok","bus":"ok","storage":"ok"}, or 503 with
 * "down" for what is down (and "status":"down").
 *
 * Anyone may ask, so an answer costs no more than a token check: the
 * store and the storage targets are asked at most once a second per
 * instance, by one request (a cheap store read and each target's check,
 * in a pool thread; while the store breaker is open, not even that); the
 * others get what that check found (ngx_http_gobi_health.c keeps it in
 * shared memory).  The bus is this worker's own state: local is always
 * there, Redis is there while both connections are up.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_bus.h"
#include "ngx_http_gobi_metrics.h"


static ngx_flag_t ngx_http_gobi_status_storage(ngx_http_gobi_job_t *job);


/* loop side: a check is due (NGX_OK: to the thread), or answer at once */

ngx_int_t
ngx_http_gobi_status_check(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    job->targets_up = -1;

    if (ngx_http_gobi_health_claim(&job->health_store, &job->health_storage))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "gobi: health: this request checks");
        return NGX_OK;
    }

    /* what the last check found; before any, what this worker knows */

    if (job->health_store < 0) {
        job->health_store = !ngx_http_gobi_health_store_down();
    }

    if (job->health_storage < 0) {
        job->health_storage = ngx_http_gobi_status_storage(job);
    }

    return NGX_DONE;
}


/* thread side: one cheap read by primary key, and the targets' checks */

void
ngx_http_gobi_run_status(ngx_http_gobi_job_t *job)
{
    char             err[256];
    gobi_user_t      user;
    gobi_store_rc_e  rc;

    rc = job->gmcf->store_driver->user_get_by_id(job->store, 0, &user);

    if (rc != GOBI_STORE_OK && rc != GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_store_error(job, rc);
    }

    job->targets_up = gobi_blob_check(job->blob, err, sizeof(err));

    if ((size_t) job->targets_up < gobi_blob_quorum(job->blob)
        && job->log[0] == '\0')
    {
        snprintf(job->log, sizeof(job->log), "health: storage: %.400s", err);
        job->log_level = NGX_LOG_WARN;
    }
}


/*
 * Loop side: the answer.  job->run is set when this request checked
 * (job->code then says how the store did); otherwise the answers that
 * stand are in job->health_*.
 */

ngx_int_t
ngx_http_gobi_status_done(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    ngx_int_t                   rc;
    yajl_gen                    g;
    ngx_flag_t                  store, storage, bus, ok;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = job->gmcf;

    if (job->run) {
        store = (job->code == NULL);

        /* the breaker refused the check: the targets were not asked */
        storage = (job->targets_up >= 0)
                  ? (size_t) job->targets_up >= gobi_blob_quorum(job->blob)
                  : ngx_http_gobi_status_storage(job);

        ngx_http_gobi_health_record(store, storage);
        ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_HEALTH_CHECKS, 1);

    } else {
        store = (job->health_store > 0);
        storage = (job->health_storage > 0);
    }

    bus = gmcf->bus->connected();
    ok = store && storage && bus;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gobi: health: store %d, bus %d, storage %d%s",
                   store, bus, storage, job->run ? " (checked now)" : "");

    g = ngx_http_gobi_gen_new();
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_gobi_gen_str(g, "status");
    ngx_http_gobi_gen_str(g, ok ? "ok" : "down");
    ngx_http_gobi_gen_str(g, "store");
    ngx_http_gobi_gen_str(g, store ? "ok" : "down");
    ngx_http_gobi_gen_str(g, "bus");
    ngx_http_gobi_gen_str(g, bus ? "ok" : "down");
    ngx_http_gobi_gen_str(g, "storage");
    ngx_http_gobi_gen_str(g, storage ? "ok" : "down");
    yajl_gen_map_close(g);

    rc = ngx_http_gobi_send_gen(r, ok ? NGX_HTTP_OK
                                      : NGX_HTTP_SERVICE_UNAVAILABLE, g);
    yajl_gen_free(g);

    return rc;
}


/* without a check: this worker's targets out of their back-off suffice */

static ngx_flag_t
ngx_http_gobi_status_storage(ngx_http_gobi_job_t *job)
{
    size_t  i, n, up;

    n = gobi_blob_targets(job->blob);

    for (up = 0, i = 0; i < n; i++) {
        if (!gobi_blob_target_down(job->blob, i)) {
            up++;
        }
    }

    return up >= gobi_blob_quorum(job->blob);
}
