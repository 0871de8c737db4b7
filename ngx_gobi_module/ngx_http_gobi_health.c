
/*
 * Copyright (C) the gobi authors
 *
 * The store's health, shared by the workers of an instance.  While the
 * store is down every call waits for the driver's timeouts (seconds) and
 * holds a pool thread.  So after a call answers "unavailable", requests get
 * 503 at once for a second; then one request, the probe, tries the store.
 * The first answer after that, in any worker, opens the door for all.
 * A call that was posted before the last good answer and failed after it
 * says nothing new (it waited through the outage) and is ignored.
 *
 * The zone also keeps what GET /api/v1/health found last: an unauthenticated
 * client may ask as often as it likes, the store and the targets are asked
 * at most once a second per instance (ngx_http_gobi_health_claim()).
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"


#define NGX_HTTP_GOBI_HEALTH_RETRY  1000   /* ms of fast 503s */
#define NGX_HTTP_GOBI_HEALTH_PROBE  15000  /* ms a probe may take */
#define NGX_HTTP_GOBI_HEALTH_FRESH  1000   /* ms a check's answer holds */
#define NGX_HTTP_GOBI_HEALTH_SLOW   2000   /* ms: a check still out is
                                              a store that does not answer */


typedef struct {
    ngx_atomic_t           down_until;     /* 0: up */
    ngx_atomic_t           probe_until;    /* a probe is out until then */
    ngx_atomic_t           up_at;          /* the last good answer */

    /* GET /api/v1/health */
    ngx_atomic_t           checked_at;     /* 0: never */
    ngx_atomic_t           check_until;    /* a check is out until then */
    ngx_atomic_t           store_ok;
    ngx_atomic_t           storage_ok;
} ngx_http_gobi_health_t;


static ngx_int_t ngx_http_gobi_health_init_zone(ngx_shm_zone_t *zone,
    void *data);


static ngx_http_gobi_health_t  *ngx_http_gobi_health;


ngx_int_t
ngx_http_gobi_health_init(ngx_conf_t *cf)
{
    ngx_str_t        name;
    ngx_shm_zone_t  *zone;

    ngx_str_set(&name, "gobi_health");

    zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize,
                                 &ngx_http_gobi_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_gobi_health_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_health_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t         *shpool;
    ngx_http_gobi_health_t  *h;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (data) {
        h = data;

    } else if (zone->shm.exists) {
        h = shpool->data;

    } else {
        h = ngx_slab_alloc(shpool, sizeof(ngx_http_gobi_health_t));
        if (h == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(h, sizeof(ngx_http_gobi_health_t));
        shpool->data = h;
    }

    /* a new cycle starts hopeful, and checks afresh */
    h->down_until = 0;
    h->probe_until = 0;
    h->checked_at = 0;
    h->check_until = 0;
    ngx_http_gobi_metrics_set(NGX_HTTP_GOBI_M_BREAKER_OPEN, 0);

    zone->data = h;
    ngx_http_gobi_health = h;

    return NGX_OK;
}


static ngx_msec_t
ngx_http_gobi_health_now(void)
{
    /* 0 means "up": never hand it out as a time */
    return ngx_current_msec ? ngx_current_msec : 1;
}


/* 1: answer 503 without asking the store (the job's error is set) */

ngx_int_t
ngx_http_gobi_health_refuse(ngx_http_gobi_job_t *job)
{
    ngx_msec_t               now;
    ngx_atomic_uint_t        down, probe;
    ngx_http_gobi_health_t  *h;

    h = ngx_http_gobi_health;
    now = ngx_http_gobi_health_now();
    job->posted = now;

    down = h->down_until;

    if (down == 0) {
        return 0;
    }

    probe = h->probe_until;

    if ((ngx_msec_int_t) (now - down) >= 0
        && ((ngx_msec_int_t) (now - probe) >= 0 || probe == 0)
        && ngx_atomic_cmp_set(&h->probe_until, probe,
                              now + NGX_HTTP_GOBI_HEALTH_PROBE))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "gobi: store breaker: this call probes the store");
        job->probe = 1;
        return 0;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "gobi: store breaker open: 503 without asking");

    ngx_http_gobi_job_error(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                            "store_unavailable",
                            "the metadata store is unavailable, retry later");
    job->refused = 1;
    ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_STORE_REFUSED, 1);

    return 1;
}


void
ngx_http_gobi_health_outcome(ngx_http_gobi_job_t *job)
{
    ngx_msec_t               now;
    ngx_http_gobi_health_t  *h;

    h = ngx_http_gobi_health;
    now = ngx_http_gobi_health_now();

    if (job->probe) {
        h->probe_until = 0;
        job->probe = 0;
    }

    if (job->refused) {
        /* it asked nobody: it says nothing about the store */
        job->refused = 0;
        return;
    }

    if (job->code && ngx_strcmp(job->code, "store_unavailable") == 0) {

        if ((ngx_msec_int_t) (job->posted - h->up_at) >= 0) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "gobi: store breaker opens");

            if (h->down_until == 0) {
                ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_BREAKER_OPENS, 1);
            }

            h->down_until = now + NGX_HTTP_GOBI_HEALTH_RETRY;
            ngx_http_gobi_metrics_set(NGX_HTTP_GOBI_M_BREAKER_OPEN, 1);
        }

        return;
    }

    if (h->down_until) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "gobi: store breaker closes: the store answered");
    }

    h->up_at = now;
    h->down_until = 0;
    ngx_http_gobi_metrics_set(NGX_HTTP_GOBI_M_BREAKER_OPEN, 0);
}


/* is the breaker open (the store deemed down)? */

ngx_flag_t
ngx_http_gobi_health_store_down(void)
{
    return ngx_http_gobi_health->down_until != 0;
}


/*
 * The health check's turn: 1 when this request is to ask the store and
 * the targets (the last answer is older than a second and no other check
 * is out), 0 when the last answers stand (*store_ok, *storage_ok; -1: no
 * check has answered yet).  A check out for more than 2 s waits for a
 * store that does not answer (a driver's server selection can take
 * 30 s): meanwhile the store is down for everyone who asks.
 */

ngx_int_t
ngx_http_gobi_health_claim(ngx_int_t *store_ok, ngx_int_t *storage_ok)
{
    ngx_msec_t               now;
    ngx_atomic_uint_t        checked, until;
    ngx_http_gobi_health_t  *h;

    h = ngx_http_gobi_health;
    now = ngx_http_gobi_health_now();

    checked = h->checked_at;
    until = h->check_until;

    if (checked == 0) {
        *store_ok = -1;
        *storage_ok = -1;

    } else {
        *store_ok = h->store_ok;
        *storage_ok = h->storage_ok;

        if ((ngx_msec_int_t) (now - checked) < NGX_HTTP_GOBI_HEALTH_FRESH) {
            return 0;
        }
    }

    if (until != 0 && (ngx_msec_int_t) (now - until) < 0) {

        if ((ngx_msec_int_t) (now - (until - NGX_HTTP_GOBI_HEALTH_PROBE))
            > NGX_HTTP_GOBI_HEALTH_SLOW)
        {
            *store_ok = 0;
        }

        return 0;
    }

    return ngx_atomic_cmp_set(&h->check_until, until,
                              now + NGX_HTTP_GOBI_HEALTH_PROBE);
}


/* what the claimed check found; storage_ok -1: it could not look */

void
ngx_http_gobi_health_record(ngx_flag_t store_ok, ngx_int_t storage_ok)
{
    ngx_http_gobi_health_t  *h;

    h = ngx_http_gobi_health;

    h->store_ok = store_ok;

    if (storage_ok >= 0) {
        h->storage_ok = storage_ok;
    }

    h->checked_at = ngx_http_gobi_health_now();
    h->check_until = 0;
}
