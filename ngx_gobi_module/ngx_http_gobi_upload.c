
/*
 * Copyright (C) the gobi authors
 *
 * A PUT's body, streamed into the spool (gobi_spool.h): nginx reads it
 * unbuffered, we copy it into one of two windows, and a pool thread
 * hashes (and, with encryption at rest, seals) and writes the full window
 * while the next one fills.  So no plaintext byte of an encrypted vault
 * touches the disk (nginx's own body temp files are not used), the hash
 * is done when the last byte is in, and a slow disk slows the client
 * down (we stop reading) rather than growing memory: an upload holds two
 * windows at most.  The last window is written by the commit's own task
 * (ngx_http_gobi_files.c), so a small file costs one task.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"

#include <errno.h>
#include <stdio.h>


#define NGX_HTTP_GOBI_WINDOW  (256 * 1024)


typedef struct {
    ngx_http_request_t            *request;
    ngx_http_gobi_job_t           *job;
    ngx_http_gobi_done_pt          done;
    ngx_http_gobi_run_pt           commit;

    gobi_spool_t                   spool;
    u_char                        *win[2];
    size_t                         fill[2];
    ngx_uint_t                     cur;          /* the window filling */
    off_t                          received;

    ngx_thread_task_t              task;
    size_t                         task_len;     /* of win[!cur] */
    ngx_flag_t                     busy;         /* a thread writes */
    ngx_flag_t                     opened;       /* the spool is */
    ngx_int_t                      aborted;      /* upload_fail()'s rc,
                                                    while a thread works */
    int                            failed;       /* errno of a write */
    char                           err[256];
} ngx_http_gobi_upload_t;


static void ngx_http_gobi_upload_post(ngx_http_request_t *r);
static void ngx_http_gobi_upload_handler(ngx_http_request_t *r);
static void ngx_http_gobi_upload_consume(ngx_http_request_t *r,
    ngx_http_gobi_upload_t *u);
static ngx_int_t ngx_http_gobi_upload_window(ngx_http_request_t *r,
    ngx_http_gobi_upload_t *u);
static void ngx_http_gobi_upload_thread(void *data, ngx_log_t *log);
static void ngx_http_gobi_upload_written(ngx_event_t *ev);
static void ngx_http_gobi_upload_fail(ngx_http_request_t *r,
    ngx_http_gobi_upload_t *u, ngx_int_t rc);
static ngx_int_t ngx_http_gobi_upload_write(ngx_http_gobi_upload_t *u,
    u_char *p, size_t len);
static void ngx_http_gobi_upload_cleanup(void *data);


/*
 * Reads the body, then runs commit (thread) and done (loop) like
 * ngx_http_gobi_task_post(); what ngx_http_finalize_request() gets.
 */

ngx_int_t
ngx_http_gobi_upload_start(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    ngx_http_gobi_run_pt commit, ngx_http_gobi_done_pt done)
{
    ngx_int_t                rc;
    ngx_pool_cleanup_t      *cln;
    ngx_http_gobi_upload_t  *u;

    u = ngx_pcalloc(r->pool, sizeof(ngx_http_gobi_upload_t));
    if (u == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u->win[0] = ngx_palloc(r->pool, NGX_HTTP_GOBI_WINDOW);
    u->win[1] = ngx_palloc(r->pool, NGX_HTTP_GOBI_WINDOW);
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (u->win[0] == NULL || u->win[1] == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the request goes only once no thread uses the spool (blocked) */
    cln->handler = ngx_http_gobi_upload_cleanup;
    cln->data = u;

    u->request = r;
    u->job = job;
    u->done = done;
    u->commit = commit;
    u->spool.fd = -1;

    job->upload = u;
    job->spool = &u->spool;

    ngx_http_gobi_get_ctx(r)->body_reading = 1;
    r->request_body_no_buffering = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_gobi_upload_post);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return ngx_http_gobi_send_error(r, rc, "payload_too_large",
                                            "the file is larger than "
                                            "gobi_max_file_size");
        }

        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_gobi_upload_post(ngx_http_request_t *r)
{
    ngx_http_gobi_job_t  *job;

    job = &ngx_http_gobi_get_ctx(r)->job;

    r->read_event_handler = ngx_http_gobi_upload_handler;
    r->write_event_handler = ngx_http_gobi_upload_handler;

    ngx_http_gobi_upload_consume(r, job->upload);
}


/* more of the body came, or a window was written: go on */

static void
ngx_http_gobi_upload_handler(ngx_http_request_t *r)
{
    ngx_http_gobi_job_t  *job;

    job = &ngx_http_gobi_get_ctx(r)->job;

    ngx_http_gobi_upload_consume(r, job->upload);
}


/*
 * Copies what nginx has read into the windows, and reads on, until nginx
 * has nothing more now (a read event brings us back), both windows are
 * full (the write's completion does), or the body has ended (then the
 * commit).
 */

static void
ngx_http_gobi_upload_consume(ngx_http_request_t *r, ngx_http_gobi_upload_t *u)
{
    size_t                    n;
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_connection_t         *c;
    ngx_http_request_body_t  *rb;

    c = r->connection;
    rb = r->request_body;

    if (u->busy && u->aborted) {
        return;
    }

    for ( ;; ) {

        for (cl = rb->bufs; cl; cl = cl->next) {
            b = cl->buf;

            while (b->pos < b->last) {
                n = NGX_HTTP_GOBI_WINDOW - u->fill[u->cur];

                if (n == 0) {
                    if (u->busy) {
                        /* both full: the client waits for the disk */
                        rb->bufs = cl;

                        if (c->read->timer_set) {
                            ngx_del_timer(c->read);
                        }

                        return;
                    }

                    if (ngx_http_gobi_upload_window(r, u) != NGX_OK) {
                        ngx_http_gobi_upload_fail(r, u,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
                        return;
                    }

                    continue;
                }

                n = ngx_min(n, (size_t) (b->last - b->pos));

                ngx_memcpy(u->win[u->cur] + u->fill[u->cur], b->pos, n);
                b->pos += n;
                u->fill[u->cur] += n;
                u->received += n;
                ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_UPLOAD_BYTES, n);

                if (u->received > u->job->gmcf->max_file_size) {
                    ngx_http_gobi_job_error(u->job,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "payload_too_large",
                                            "the file is larger than "
                                            "gobi_max_file_size");
                    ngx_http_gobi_upload_fail(r, u, NGX_DECLINED);
                    return;
                }
            }
        }

        rb->bufs = NULL;

        if (!r->reading_body) {
            break;
        }

        rc = ngx_http_read_unbuffered_request_body(r);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            ngx_http_gobi_upload_fail(r, u, rc);
            return;
        }

        if (rb->bufs == NULL && rc == NGX_AGAIN) {
            return;
        }
    }

    /* the whole body is in: the last window goes with the commit */

    if (u->busy) {
        return;
    }

    ngx_http_gobi_get_ctx(r)->body_reading = 0;
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    if (ngx_http_gobi_task_post(r, u->job, u->commit, u->done) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the count ngx_http_read_client_request_body() took */
    ngx_http_finalize_request(r, NGX_DONE);
}


/* the full window goes to a thread; the other one fills meanwhile */

static ngx_int_t
ngx_http_gobi_upload_window(ngx_http_request_t *r, ngx_http_gobi_upload_t *u)
{
    ngx_thread_task_t  *task;

    u->task_len = u->fill[u->cur];
    u->cur ^= 1;
    u->fill[u->cur] = 0;

    task = &u->task;
    ngx_memzero(task, sizeof(ngx_thread_task_t));

    task->ctx = u;
    task->handler = ngx_http_gobi_upload_thread;
    task->event.data = u;
    task->event.handler = ngx_http_gobi_upload_written;
    task->event.log = r->connection->log;

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, 1);

    if (ngx_thread_task_post(u->job->gmcf->thread_pool, task) != NGX_OK) {
        ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, -1);
        return NGX_ERROR;
    }

    u->busy = 1;
    r->main->blocked++;
    ngx_http_gobi_task_hold();

    return NGX_OK;
}


/* thread side: opens the spool first, with the vault's key if any */

static ngx_int_t
ngx_http_gobi_upload_write(ngx_http_gobi_upload_t *u, u_char *p, size_t len)
{
    ngx_http_gobi_job_t  *job;

    job = u->job;

    if (!u->opened) {
        if (gobi_spool_open(&u->spool, gobi_blob_tmp_dir(job->blob), "put",
                            job->has_dk ? job->dk : NULL, u->err,
                            sizeof(u->err))
            != 0)
        {
            u->failed = errno;
            return NGX_ERROR;
        }

        u->opened = 1;
    }

    if (len && gobi_spool_write(&u->spool, p, len, u->err, sizeof(u->err))
               != 0)
    {
        u->failed = errno;
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_gobi_upload_thread(void *data, ngx_log_t *log)
{
    ngx_http_gobi_upload_t  *u = data;

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, -1);
    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, 1);

    (void) ngx_http_gobi_upload_write(u, u->win[u->cur ^ 1], u->task_len);

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, -1);
}


static void
ngx_http_gobi_upload_written(ngx_event_t *ev)
{
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_http_gobi_upload_t  *u;

    u = ev->data;
    r = u->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_gobi_task_release();
    r->main->blocked--;
    u->busy = 0;

    if (u->aborted) {
        ngx_http_gobi_upload_fail(r, u, u->aborted);

    } else if (u->failed) {
        ngx_http_gobi_upload_fail(r, u, NGX_HTTP_INSUFFICIENT_STORAGE);

    } else {
        /* nginx's finalizer, if the request was terminated meanwhile */
        r->write_event_handler(r);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * The upload ends early: a write failed (rc the status to give), the
 * body is too large (NGX_DECLINED: the job's error), or reading failed
 * (rc from nginx).  While a thread still writes, that waits for it.
 */

static void
ngx_http_gobi_upload_fail(ngx_http_request_t *r, ngx_http_gobi_upload_t *u,
    ngx_int_t rc)
{
    ngx_http_gobi_job_t  *job;

    job = u->job;

    ngx_http_gobi_get_ctx(r)->body_reading = 0;
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    if (u->failed && job->code == NULL) {
        if (u->failed == ENOSPC || u->failed == EDQUOT) {
            ngx_http_gobi_job_error(job, NGX_HTTP_INSUFFICIENT_STORAGE,
                                    "insufficient_storage",
                                    "not enough free space for the file");
        } else {
            ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "internal_error", "cannot store file");
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, u->failed,
                      "gobi: upload of \"%s\": %s", job->path, u->err);
        rc = NGX_DECLINED;
    }

    if (u->busy) {
        /* the answer waits for the thread: it uses the request's memory */
        u->aborted = rc;
        return;
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_gobi_send_job(r, job);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Thread side, from the commit: the last window, then the end of the
 * spool (its hash and size into the job).  NGX_OK, or the job's error set.
 */

ngx_int_t
ngx_http_gobi_upload_finish(ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_upload_t  *u = job->upload;

    if (ngx_http_gobi_upload_write(u, u->win[u->cur], u->fill[u->cur])
            != NGX_OK
        || gobi_spool_finish(&u->spool, job->body_hash, &job->size, u->err,
                             sizeof(u->err))
           != 0)
    {
        if (errno == ENOSPC || errno == EDQUOT) {
            ngx_http_gobi_job_error(job, NGX_HTTP_INSUFFICIENT_STORAGE,
                                    "insufficient_storage",
                                    "not enough free space for the file");
        } else {
            ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "internal_error", "cannot store file");
        }

        snprintf(job->log, sizeof(job->log), "upload of \"%s\": %s",
                 job->path, u->err);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_gobi_upload_cleanup(void *data)
{
    ngx_http_gobi_upload_t  *u = data;

    /* what became a blob is not removed: see gobi_spool_close() */
    gobi_spool_close(&u->spool);
}
