
/*
 * Copyright (C) the gobi authors
 *
 * A PUT's body, streamed into the spool (gobi_spool.h): nginx reads it
 * unbuffered, we copy it into a ring of windows, and pool threads hash
 * (and, with encryption at rest, seal) and write the full ones while the
 * next fills.  So no plaintext byte of an encrypted vault touches the
 * disk (nginx's own body temp files are not used), the hash is done when
 * the last byte is in, and a slow disk slows the client down (we stop
 * reading) rather than growing memory: an upload holds the ring at most.
 *
 * Plaintext windows after the first are hashed and written by two tasks
 * that run at once (a chain of hashes in order, a chain of writes), so
 * one window's hash does not wait for another's write: on two cores the
 * page cache copy and BLAKE2b were one thread's sum before.  The first
 * window (it opens the spool) and every sealed one take one task that
 * does all.  The last window is written by the commit's own task
 * (ngx_http_gobi_files.c), so a small file costs one task.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"

#include <errno.h>
#include <stdio.h>


#define NGX_HTTP_GOBI_WINDOW   (512 * 1024)
#define NGX_HTTP_GOBI_WINDOWS  4


typedef void (*ngx_http_gobi_upload_pt)(void *data, ngx_log_t *log);


typedef struct {
    ngx_http_request_t            *request;
    ngx_http_gobi_job_t           *job;
    ngx_http_gobi_done_pt          done;
    ngx_http_gobi_run_pt           commit;

    gobi_spool_t                   spool;
    u_char                        *win[NGX_HTTP_GOBI_WINDOWS];
    size_t                         size;         /* of a window */
    size_t                         fill;         /* of the one filling */
    off_t                          received;

    /* full windows by number: window n is win[n % NGX_HTTP_GOBI_WINDOWS] */
    ngx_uint_t                     filled;       /* the one filling */
    ngx_uint_t                     hashed;       /* the next to hash */
    ngx_uint_t                     written;      /* the next to write */

    ngx_thread_task_t              hash_task;    /* hashed's, or all of it */
    ngx_thread_task_t              write_task;   /* written's */
    ngx_flag_t                     hashing;      /* a thread works */
    ngx_flag_t                     writing;
    ngx_flag_t                     sealed;       /* every window in one */
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
static ngx_int_t ngx_http_gobi_upload_schedule(ngx_http_request_t *r,
    ngx_http_gobi_upload_t *u);
static ngx_int_t ngx_http_gobi_upload_task(ngx_http_request_t *r,
    ngx_http_gobi_upload_t *u, ngx_thread_task_t *task,
    ngx_http_gobi_upload_pt handler, ngx_event_handler_pt done);
static void ngx_http_gobi_upload_all_thread(void *data, ngx_log_t *log);
static void ngx_http_gobi_upload_hash_thread(void *data, ngx_log_t *log);
static void ngx_http_gobi_upload_write_thread(void *data, ngx_log_t *log);
static void ngx_http_gobi_upload_hashed(ngx_event_t *ev);
static void ngx_http_gobi_upload_written(ngx_event_t *ev);
static void ngx_http_gobi_upload_resume(ngx_http_gobi_upload_t *u);
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
    off_t                    len;
    ngx_int_t                rc;
    ngx_pool_cleanup_t      *cln;
    ngx_http_gobi_upload_t  *u;

    u = ngx_pcalloc(r->pool, sizeof(ngx_http_gobi_upload_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (u == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the request goes only once no thread uses the spool (blocked) */
    cln->handler = ngx_http_gobi_upload_cleanup;
    cln->data = u;

    /* windows are allocated as they are first filled: a small file
     * takes one of its own size */

    len = r->headers_in.content_length_n;

    u->size = (len >= 0 && len < NGX_HTTP_GOBI_WINDOW)
              ? (size_t) ngx_max(len, 1) : NGX_HTTP_GOBI_WINDOW;

    u->request = r;
    u->job = job;
    u->done = done;
    u->commit = commit;
    u->spool.fd = -1;
    u->sealed = job->has_dk;

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

    job = ngx_http_gobi_get_ctx(r)->job;

    r->read_event_handler = ngx_http_gobi_upload_handler;
    r->write_event_handler = ngx_http_gobi_upload_handler;

    ngx_http_gobi_upload_consume(r, job->upload);
}


/* more of the body came, or a window was done: go on */

static void
ngx_http_gobi_upload_handler(ngx_http_request_t *r)
{
    ngx_http_gobi_job_t  *job;

    job = ngx_http_gobi_get_ctx(r)->job;

    ngx_http_gobi_upload_consume(r, job->upload);
}


/*
 * Copies what nginx has read into the windows, and reads on, until nginx
 * has nothing more now (a read event brings us back), every window is
 * full or in a thread's hands (a task's completion does), or the body
 * has ended (then the commit, once no thread works).
 */

static void
ngx_http_gobi_upload_consume(ngx_http_request_t *r, ngx_http_gobi_upload_t *u)
{
    size_t                    n;
    u_char                  **w;
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_connection_t         *c;
    ngx_http_request_body_t  *rb;

    c = r->connection;
    rb = r->request_body;

    if (u->aborted) {
        return;
    }

    for ( ;; ) {

        for (cl = rb->bufs; cl; cl = cl->next) {
            b = cl->buf;

            while (b->pos < b->last) {

                if (u->fill == u->size) {
                    /* full: to the threads, and on to the next */
                    u->filled++;
                    u->fill = 0;

                    if (ngx_http_gobi_upload_schedule(r, u) != NGX_OK) {
                        ngx_http_gobi_upload_fail(r, u,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
                        return;
                    }
                }

                if (u->filled - u->hashed >= NGX_HTTP_GOBI_WINDOWS
                    || u->filled - u->written >= NGX_HTTP_GOBI_WINDOWS)
                {
                    /* the ring is full: the client waits for the disk */
                    rb->bufs = cl;

                    if (c->read->timer_set) {
                        ngx_del_timer(c->read);
                    }

                    return;
                }

                w = &u->win[u->filled % NGX_HTTP_GOBI_WINDOWS];

                if (*w == NULL) {
                    /* aligned: fit for a direct write */
                    *w = ngx_pmemalign(r->pool, u->size, 4096);
                    if (*w == NULL) {
                        ngx_http_gobi_upload_fail(r, u,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
                        return;
                    }
                }

                n = ngx_min(u->size - u->fill, (size_t) (b->last - b->pos));

                ngx_memcpy(*w + u->fill, b->pos, n);
                b->pos += n;
                u->fill += n;
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

    if (u->hashing || u->writing) {
        return;
    }

    if (u->opened && !u->sealed) {
        /* gobi_spool_write() goes on after the windows written apart */
        u->spool.off = (off_t) u->filled * u->size;
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


/*
 * Gives full windows to idle chains: the next to hash (with all else the
 * window needs, while the spool is not open or when sealing), and the
 * next to write apart (plaintext, once the spool is open).
 */

static ngx_int_t
ngx_http_gobi_upload_schedule(ngx_http_request_t *r,
    ngx_http_gobi_upload_t *u)
{
    ngx_http_gobi_upload_pt  handler;

    if (!u->hashing && u->hashed < u->filled) {
        handler = (u->hashed == 0 || u->sealed)
                  ? ngx_http_gobi_upload_all_thread
                  : ngx_http_gobi_upload_hash_thread;

        if (ngx_http_gobi_upload_task(r, u, &u->hash_task, handler,
                                      ngx_http_gobi_upload_hashed)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        u->hashing = 1;
    }

    /* (after the first window: its task opens the spool) */

    if (!u->writing && !u->sealed && u->hashed > 0
        && u->written < u->filled)
    {
        if (ngx_http_gobi_upload_task(r, u, &u->write_task,
                                      ngx_http_gobi_upload_write_thread,
                                      ngx_http_gobi_upload_written)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        u->writing = 1;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_upload_task(ngx_http_request_t *r, ngx_http_gobi_upload_t *u,
    ngx_thread_task_t *task, ngx_http_gobi_upload_pt handler,
    ngx_event_handler_pt done)
{
    ngx_memzero(task, sizeof(ngx_thread_task_t));

    task->ctx = u;
    task->handler = handler;
    task->event.data = u;
    task->event.handler = done;
    task->event.log = r->connection->log;

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, 1);

    if (ngx_thread_task_post(u->job->gmcf->thread_pool, task) != NGX_OK) {
        ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, -1);
        return NGX_ERROR;
    }

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


/* the hash chain's window, whole: opened, hashed, sealed, written */

static void
ngx_http_gobi_upload_all_thread(void *data, ngx_log_t *log)
{
    ngx_http_gobi_upload_t  *u = data;

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, -1);
    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, 1);

    (void) ngx_http_gobi_upload_write(u,
                                 u->win[u->hashed % NGX_HTTP_GOBI_WINDOWS],
                                 u->size);

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, -1);
}


static void
ngx_http_gobi_upload_hash_thread(void *data, ngx_log_t *log)
{
    ngx_http_gobi_upload_t  *u = data;

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, -1);
    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, 1);

    gobi_spool_hash(&u->spool, u->win[u->hashed % NGX_HTTP_GOBI_WINDOWS],
                    u->size);

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, -1);
}


static void
ngx_http_gobi_upload_write_thread(void *data, ngx_log_t *log)
{
    ngx_http_gobi_upload_t  *u = data;

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, -1);
    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, 1);

    if (gobi_spool_write_at(&u->spool,
                            u->win[u->written % NGX_HTTP_GOBI_WINDOWS],
                            u->size, (off_t) u->written * u->size, u->err,
                            sizeof(u->err))
        != 0)
    {
        u->failed = errno;
    }

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, -1);
}


static void
ngx_http_gobi_upload_hashed(ngx_event_t *ev)
{
    ngx_http_gobi_upload_t  *u;

    u = ev->data;

    if (u->hashed == 0 || u->sealed) {
        /* written with it */
        u->written++;
    }

    u->hashed++;
    u->hashing = 0;

    ngx_http_gobi_upload_resume(u);
}


static void
ngx_http_gobi_upload_written(ngx_event_t *ev)
{
    ngx_http_gobi_upload_t  *u;

    u = ev->data;

    u->written++;
    u->writing = 0;

    ngx_http_gobi_upload_resume(u);
}


/* a task is done: the next ones, the reading, or the end of a failure */

static void
ngx_http_gobi_upload_resume(ngx_http_gobi_upload_t *u)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = u->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_gobi_task_release();
    r->main->blocked--;

    if (u->aborted) {
        if (!u->hashing && !u->writing) {
            ngx_http_gobi_upload_fail(r, u, u->aborted);
        }

    } else if (u->failed) {
        ngx_http_gobi_upload_fail(r, u, NGX_HTTP_INSUFFICIENT_STORAGE);

    } else if (ngx_http_gobi_upload_schedule(r, u) != NGX_OK) {
        ngx_http_gobi_upload_fail(r, u, NGX_HTTP_INTERNAL_SERVER_ERROR);

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

    if (u->hashing || u->writing) {
        /* the answer waits for the threads: they use the request's
         * memory */
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

    if (ngx_http_gobi_upload_write(u, u->win[u->filled
                                             % NGX_HTTP_GOBI_WINDOWS],
                                   u->fill)
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
