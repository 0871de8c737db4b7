
/*
 * Copyright (C) the gobi authors
 *
 * Blocking work (the store, argon2id, hashing and fsync of bodies) runs in
 * nginx's thread pool.  The request is held while a thread works for it:
 * r->main->count keeps it alive, r->main->blocked keeps nginx from
 * finalizing it, and the completion event resumes it in the event loop.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"


static ngx_http_gobi_gauge_e ngx_http_gobi_job_queue(
    ngx_http_gobi_job_t *job);
static void ngx_http_gobi_job_handler(void *data, ngx_log_t *log);
static void ngx_http_gobi_job_event(ngx_event_t *ev);
static void ngx_http_gobi_tasks_watch(ngx_event_t *ev);
static void ngx_http_gobi_task_complete(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_gen_cleanup(void *data);


/*
 * A graceful shutdown waits only for non-cancelable timers: while threads
 * work for us, one such timer keeps the worker until they come back.
 */

static ngx_uint_t        ngx_http_gobi_tasks;
static ngx_event_t       ngx_http_gobi_tasks_ev;
static ngx_connection_t  ngx_http_gobi_tasks_conn;


void
ngx_http_gobi_task_hold(void)
{
    if (ngx_http_gobi_tasks++ == 0 && !ngx_http_gobi_tasks_ev.timer_set) {
        ngx_http_gobi_tasks_conn.fd = (ngx_socket_t) -1;
        ngx_http_gobi_tasks_ev.data = &ngx_http_gobi_tasks_conn;
        ngx_http_gobi_tasks_ev.handler = ngx_http_gobi_tasks_watch;
        ngx_http_gobi_tasks_ev.log = ngx_cycle->log;
        ngx_http_gobi_tasks_ev.cancelable = 0;

        ngx_add_timer(&ngx_http_gobi_tasks_ev, 1000);
    }
}


void
ngx_http_gobi_task_release(void)
{
    if (--ngx_http_gobi_tasks == 0 && ngx_http_gobi_tasks_ev.timer_set) {
        ngx_del_timer(&ngx_http_gobi_tasks_ev);
    }
}


static void
ngx_http_gobi_tasks_watch(ngx_event_t *ev)
{
    if (ngx_http_gobi_tasks) {
        ngx_add_timer(ev, 1000);
    }
}


int64_t
ngx_http_gobi_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


/*
 * Runs job->run in a pool thread, then complete(job) in the event loop;
 * while the store is known to be down, only the completion, with the 503
 * already in the job.
 */

ngx_int_t
ngx_http_gobi_job_post(ngx_http_gobi_job_t *job, ngx_http_gobi_run_pt run,
    ngx_http_gobi_complete_pt complete, ngx_log_t *log)
{
    ngx_thread_task_t      *task;
    ngx_http_gobi_gauge_e   queued;

    job->run = run;
    job->complete = complete;
    job->now = ngx_http_gobi_now_ms();

    task = &job->task;
    ngx_memzero(task, sizeof(ngx_thread_task_t));

    task->ctx = job;
    task->handler = ngx_http_gobi_job_handler;
    task->event.data = job;
    task->event.handler = ngx_http_gobi_job_event;
    task->event.log = log;

    if (ngx_http_gobi_health_refuse(job)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, log, 0,
                       "gobi: store down, job refused without a thread");
        ngx_post_event(&task->event, &ngx_posted_events);

    } else {
        queued = ngx_http_gobi_job_queue(job);
        ngx_http_gobi_metrics_gauge(queued, 1);

        if (ngx_thread_task_post(job->hashing ? job->gmcf->auth_pool
                                              : job->gmcf->thread_pool,
                                 task)
            != NGX_OK)
        {
            ngx_http_gobi_metrics_gauge(queued, -1);
            return NGX_ERROR;
        }
    }

    ngx_http_gobi_task_hold();

    return NGX_OK;
}


/* the pool a job waits in, as a gauge: hashes may have one of their own */

static ngx_http_gobi_gauge_e
ngx_http_gobi_job_queue(ngx_http_gobi_job_t *job)
{
    return (job->hashing && job->gmcf->auth_pool != job->gmcf->thread_pool)
           ? NGX_HTTP_GOBI_G_QUEUED_AUTH : NGX_HTTP_GOBI_G_QUEUED;
}


static void
ngx_http_gobi_job_handler(void *data, ngx_log_t *log)
{
    ngx_http_gobi_job_t  *job = data;

    uint64_t               usec;
    struct timespec        t0, t1;
    ngx_http_gobi_gauge_e  queued;

    /* the running gauge follows its queue's: QUEUED + 2 */
    queued = ngx_http_gobi_job_queue(job);
    ngx_http_gobi_metrics_gauge(queued, -1);
    ngx_http_gobi_metrics_gauge(queued + 2, 1);

    (void) clock_gettime(CLOCK_MONOTONIC, &t0);

    job->run(job);

    (void) clock_gettime(CLOCK_MONOTONIC, &t1);
    ngx_http_gobi_metrics_gauge(queued + 2, -1);

    if (!job->hashing) {
        usec = (uint64_t) (t1.tv_sec - t0.tv_sec) * 1000000
               + (t1.tv_nsec - t0.tv_nsec) / 1000;
        ngx_http_gobi_metrics_store_job(usec);
    }
}


static void
ngx_http_gobi_job_event(ngx_event_t *ev)
{
    ngx_uint_t            level;
    ngx_http_gobi_job_t  *job;

    job = ev->data;

    if (job->request) {
        ngx_http_set_log_request(job->request->connection->log,
                                 job->request);
    }

    ngx_http_gobi_task_release();
    ngx_http_gobi_health_outcome(job);

    if (job->log[0]) {
        level = job->log_level ? job->log_level : NGX_LOG_ERR;
        ngx_log_error(level, ev->log, 0, "gobi: %s", job->log);
        job->log[0] = '\0';
    }

    job->complete(job);
}


/* a request's work: the request waits for it */

ngx_int_t
ngx_http_gobi_task_post(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    ngx_http_gobi_run_pt run, ngx_http_gobi_done_pt done)
{
    job->done = done;

    if (ngx_http_gobi_job_post(job, run, ngx_http_gobi_task_complete,
                               r->connection->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->main->blocked++;
    r->main->count++;
    r->aio = 1;

    return NGX_OK;
}


static void
ngx_http_gobi_task_complete(ngx_http_gobi_job_t *job)
{
    ngx_int_t             rc;
    ngx_connection_t     *c;
    ngx_pool_cleanup_t   *cln;
    ngx_http_request_t   *r;

    r = job->request;
    c = r->connection;

    r->main->blocked--;
    r->aio = 0;

    ngx_http_gobi_limit_done(r, job);

    if (job->gen) {
        /* the response body generator goes with the request */
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            yajl_gen_free(job->gen);
            job->gen = NULL;
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            ngx_http_run_posted_requests(c);
            return;
        }

        cln->handler = ngx_http_gobi_gen_cleanup;
        cln->data = job->gen;
    }

    rc = job->done(r, job);
    ngx_http_finalize_request(r, rc);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_gobi_gen_cleanup(void *data)
{
    yajl_gen_free((yajl_gen) data);
}
