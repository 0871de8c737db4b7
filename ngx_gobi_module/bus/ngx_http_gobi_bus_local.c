
/*
 * Copyright (C) the gobi authors
 *
 * The local bus: the workers of one nginx instance.  Notices go into a ring
 * in shared memory; every worker has an eventfd, created by the master
 * before the fork, that the publisher writes to so the others wake up at
 * once (no polling).  A worker that fell a whole ring behind has missed
 * notices and re-reads every vault it serves.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_conf.h"
#include "ngx_http_gobi_bus.h"

#include <sys/eventfd.h>


#define NGX_HTTP_GOBI_BUS_RING  4096


typedef struct {
    int64_t                 vault;
    int64_t                 seq;
} ngx_http_gobi_notice_t;


typedef struct {
    uint64_t                written;
    ngx_http_gobi_notice_t  ring[NGX_HTTP_GOBI_BUS_RING];
} ngx_http_gobi_bus_shm_t;


static ngx_int_t ngx_http_gobi_bus_local_configure(ngx_conf_t *cf,
    ngx_str_t *uri);
static ngx_int_t ngx_http_gobi_bus_local_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_gobi_bus_local_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_gobi_bus_local_init_process(ngx_cycle_t *cycle);
static void ngx_http_gobi_bus_local_exit_process(ngx_cycle_t *cycle);
static void ngx_http_gobi_bus_local_publish(int64_t vault, int64_t seq);
static void ngx_http_gobi_bus_local_wake(ngx_event_t *ev);
static void ngx_http_gobi_bus_local_noop(int64_t vault);
static ngx_flag_t ngx_http_gobi_bus_local_connected(void);


const ngx_http_gobi_bus_t  ngx_http_gobi_bus_local = {
    "local",
    ngx_http_gobi_bus_local_configure,
    ngx_http_gobi_bus_local_init_module,
    ngx_http_gobi_bus_local_init_process,
    ngx_http_gobi_bus_local_exit_process,
    ngx_http_gobi_bus_local_publish,
    ngx_http_gobi_bus_local_noop,
    ngx_http_gobi_bus_local_noop,
    ngx_http_gobi_bus_local_connected
};


static ngx_shm_zone_t           *ngx_http_gobi_bus_zone;
static ngx_http_gobi_bus_shm_t  *ngx_http_gobi_bus_sh;

/*
 * The zone's slab mutex: it lives in the shared memory itself, semaphore
 * included.  An ngx_shmtx_t in process memory would carry a semaphore
 * private to each process after the fork, and a waiter would never wake.
 */
static ngx_shmtx_t              *ngx_http_gobi_bus_mutex;

/* one eventfd per worker slot, made by the master for the current cycle */
static int                      *ngx_http_gobi_bus_fds;
static ngx_uint_t                ngx_http_gobi_bus_nfds;

static ngx_connection_t         *ngx_http_gobi_bus_conn;
static uint64_t                  ngx_http_gobi_bus_read;
static ngx_http_gobi_notice_t    ngx_http_gobi_bus_batch[
                                     NGX_HTTP_GOBI_BUS_RING];


/*
 * The local bus needs no gobi_bus_prefix: its ring and eventfds belong to
 * one nginx instance (the zone is the master's memory, inherited by its
 * workers), so two instances never share them, whatever their zones are
 * called.  The prefix is checked all the same, so that a configuration
 * keeps loading when it moves to Redis.
 */

static ngx_int_t
ngx_http_gobi_bus_local_configure(ngx_conf_t *cf, ngx_str_t *uri)
{
    ngx_str_t                   name;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gobi_module);

    if (ngx_http_gobi_bus_prefix_check(cf, &gmcf->bus_prefix) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "gobi_bus");

    ngx_http_gobi_bus_zone = ngx_shared_memory_add(cf, &name,
                                 sizeof(ngx_http_gobi_bus_shm_t)
                                 + 16 * ngx_pagesize,
                                 &ngx_http_gobi_module);
    if (ngx_http_gobi_bus_zone == NULL) {
        return NGX_ERROR;
    }

    ngx_http_gobi_bus_zone->init = ngx_http_gobi_bus_local_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_bus_local_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_gobi_bus_shm_t  *sh;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (data) {
        /* a reload: the ring and its readers' positions stay valid */
        sh = data;

    } else if (zone->shm.exists) {
        sh = shpool->data;

    } else {
        sh = ngx_slab_alloc(shpool, sizeof(ngx_http_gobi_bus_shm_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(sh, sizeof(ngx_http_gobi_bus_shm_t));
        shpool->data = sh;
    }

    zone->data = sh;
    ngx_http_gobi_bus_sh = sh;
    ngx_http_gobi_bus_mutex = &shpool->mutex;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_bus_local_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t        i, n;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    /* the previous cycle's workers keep their own copies */
    for (i = 0; i < ngx_http_gobi_bus_nfds; i++) {
        (void) close(ngx_http_gobi_bus_fds[i]);
    }

    ngx_free(ngx_http_gobi_bus_fds);
    ngx_http_gobi_bus_fds = NULL;
    ngx_http_gobi_bus_nfds = 0;

    n = (ccf->worker_processes > 0) ? (ngx_uint_t) ccf->worker_processes : 1;

    ngx_http_gobi_bus_fds = ngx_alloc(n * sizeof(int), cycle->log);
    if (ngx_http_gobi_bus_fds == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        ngx_http_gobi_bus_fds[i] = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);

        if (ngx_http_gobi_bus_fds[i] == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "gobi: eventfd() failed");
            ngx_http_gobi_bus_nfds = i;
            return NGX_ERROR;
        }
    }

    ngx_http_gobi_bus_nfds = n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_bus_local_init_process(ngx_cycle_t *cycle)
{
    int                fd;
    ngx_event_t       *rev;
    ngx_connection_t  *c;

    if (ngx_worker >= ngx_http_gobi_bus_nfds) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gobi: no bus slot for worker %ui", ngx_worker);
        return NGX_ERROR;
    }

    ngx_shmtx_lock(ngx_http_gobi_bus_mutex);
    ngx_http_gobi_bus_read = ngx_http_gobi_bus_sh->written;
    ngx_shmtx_unlock(ngx_http_gobi_bus_mutex);

    fd = ngx_http_gobi_bus_fds[ngx_worker];

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = NULL;
    rev = c->read;
    rev->handler = ngx_http_gobi_bus_local_wake;
    rev->log = cycle->log;
    rev->channel = 1;          /* not a client connection: shutdown skips it */

    if (ngx_add_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_free_connection(c);
        return NGX_ERROR;
    }

    ngx_http_gobi_bus_conn = c;

    return NGX_OK;
}


static void
ngx_http_gobi_bus_local_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_gobi_bus_conn) {
        ngx_del_event(ngx_http_gobi_bus_conn->read, NGX_READ_EVENT,
                      NGX_CLOSE_EVENT);
        ngx_free_connection(ngx_http_gobi_bus_conn);
        ngx_http_gobi_bus_conn = NULL;
    }
}


static void
ngx_http_gobi_bus_local_publish(int64_t vault, int64_t seq)
{
    uint64_t                 one;
    ngx_uint_t               i;
    ngx_http_gobi_notice_t  *n;

    ngx_shmtx_lock(ngx_http_gobi_bus_mutex);

    n = &ngx_http_gobi_bus_sh->ring[ngx_http_gobi_bus_sh->written
                                    % NGX_HTTP_GOBI_BUS_RING];
    n->vault = vault;
    n->seq = seq;
    ngx_http_gobi_bus_sh->written++;

    ngx_shmtx_unlock(ngx_http_gobi_bus_mutex);

    /* ring every worker, this one too: one path for all deliveries */

    one = 1;

    for (i = 0; i < ngx_http_gobi_bus_nfds; i++) {
        if (write(ngx_http_gobi_bus_fds[i], &one, sizeof(one)) == -1
            && ngx_errno != NGX_EAGAIN)
        {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "gobi: bus write() failed");
        }
    }
}


static void
ngx_http_gobi_bus_local_wake(ngx_event_t *ev)
{
    uint64_t           value, written, i, n;
    ngx_connection_t  *c;

    c = ev->data;

    /* edge-triggered: drain the counter */
    while (read(c->fd, &value, sizeof(value)) > 0) { /* void */ }

    ngx_shmtx_lock(ngx_http_gobi_bus_mutex);

    written = ngx_http_gobi_bus_sh->written;
    n = written - ngx_http_gobi_bus_read;

    if (n > NGX_HTTP_GOBI_BUS_RING) {
        ngx_shmtx_unlock(ngx_http_gobi_bus_mutex);

        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "gobi: bus overrun by %uL notices, re-reading every "
                      "served vault", n - NGX_HTTP_GOBI_BUS_RING);

        ngx_http_gobi_bus_read = written;
        ngx_http_gobi_subs_notice_all();
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_http_gobi_bus_batch[i] = ngx_http_gobi_bus_sh->ring[
                     (ngx_http_gobi_bus_read + i) % NGX_HTTP_GOBI_BUS_RING];
    }

    ngx_http_gobi_bus_read = written;

    ngx_shmtx_unlock(ngx_http_gobi_bus_mutex);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "gobi: local bus: %ui notices", n);

    for (i = 0; i < n; i++) {
        ngx_http_gobi_subs_notice(ngx_http_gobi_bus_batch[i].vault,
                                  ngx_http_gobi_bus_batch[i].seq);
    }
}


static void
ngx_http_gobi_bus_local_noop(int64_t vault)
{
}


/* shared memory and eventfds: nothing to lose */

static ngx_flag_t
ngx_http_gobi_bus_local_connected(void)
{
    return 1;
}
