
/*
 * Copyright (C) the gobi authors
 *
 * A blob's plaintext out when it is not a local file to send as it is
 * (encrypted at rest, or on a remote target): a pool thread reads (and
 * opens) one window while nginx sends the one before, so a download
 * holds two windows whatever its size.  The first window is read before
 * the headers go, so a blob that is missing or does not open at its
 * start still gets its JSON error; one that fails later ends the
 * connection short of its Content-Length (logged), never with a wrong
 * byte.  A single "Range: bytes=" is answered here (206 / 416), since
 * nginx's range filter needs the whole body.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"

#include <stdio.h>


#define NGX_HTTP_GOBI_STREAM_WINDOW  (512 * 1024)


typedef struct {
    ngx_http_request_t            *request;
    ngx_http_gobi_job_t           *job;
    int64_t                        off;          /* next to read */
    int64_t                        end;          /* past the last to send */

    ngx_buf_t                     *b[2];
    ngx_uint_t                     fill;         /* the one read next */
    ngx_flag_t                     ready[2];     /* read, not yet passed */
    ngx_flag_t                     busy;         /* a thread reads */
    ngx_flag_t                     started;      /* headers sent */

    ngx_thread_task_t              task;
    int64_t                        task_off;
    size_t                         task_len;
    gobi_reader_rc_e               rc;
    char                           err[512];
} ngx_http_gobi_stream_t;


static ngx_int_t ngx_http_gobi_stream_range(ngx_http_request_t *r,
    ngx_http_gobi_stream_t *st, int64_t size);
static ngx_int_t ngx_http_gobi_stream_read(ngx_http_gobi_stream_t *st);
static void ngx_http_gobi_stream_thread(void *data, ngx_log_t *log);
static void ngx_http_gobi_stream_event(ngx_event_t *ev);
static void ngx_http_gobi_stream_writer(ngx_http_request_t *r);
static ngx_int_t ngx_http_gobi_stream_run(ngx_http_request_t *r,
    ngx_http_gobi_stream_t *st);


ngx_int_t
ngx_http_gobi_stream_send(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    ngx_int_t                rc;
    ngx_uint_t               i;
    ngx_http_gobi_stream_t  *st;

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_gobi_stream_t));
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->request = r;
    st->job = job;
    job->stream = st;
    st->end = job->reader->plain;

    r->allow_ranges = 0;

    rc = ngx_http_gobi_stream_range(r, st, job->reader->plain);

    if (rc == NGX_DECLINED) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_RANGE_NOT_SATISFIABLE,
                                        "range_not_satisfiable",
                                        "the range is beyond the file's "
                                        "end");
    }

    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.content_length_n = st->end - st->off;

    if (r->method == NGX_HTTP_HEAD || st->end == st->off) {
        return ngx_http_gobi_send_empty(r);
    }

    for (i = 0; i < 2; i++) {
        st->b[i] = ngx_create_temp_buf(r->pool, NGX_HTTP_GOBI_STREAM_WINDOW);
        if (st->b[i] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        st->b[i]->pos = st->b[i]->last;    /* sent: free to fill */
    }

    if (ngx_http_gobi_stream_read(st) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


/*
 * "bytes=a-b", "bytes=a-" or "bytes=-n": one range, else the whole blob
 * (a server may ignore what it does not serve); If-Range other than the
 * ETag: the whole blob.  NGX_OK, NGX_DECLINED: unsatisfiable (416).
 */

static ngx_int_t
ngx_http_gobi_stream_range(ngx_http_request_t *r, ngx_http_gobi_stream_t *st,
    int64_t size)
{
    u_char           *p, *last;
    int64_t           a, b;
    ngx_uint_t        suffix;
    ngx_table_elt_t  *h, *cr;

    h = r->headers_in.range;

    if (h == NULL || h->value.len < 7
        || ngx_strncasecmp(h->value.data, (u_char *) "bytes=", 6) != 0)
    {
        return NGX_OK;
    }

    if (r->headers_in.if_range && r->headers_out.etag
        && (r->headers_in.if_range->value.len != r->headers_out.etag->value.len
            || ngx_strncmp(r->headers_in.if_range->value.data,
                           r->headers_out.etag->value.data,
                           r->headers_out.etag->value.len) != 0))
    {
        return NGX_OK;
    }

    p = h->value.data + 6;
    last = h->value.data + h->value.len;
    a = 0;
    b = -1;
    suffix = 0;

    if (p < last && *p == '-') {
        suffix = 1;
        p++;
    }

    if (p == last || *p < '0' || *p > '9') {
        return NGX_OK;
    }

    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
        if (a > (NGX_MAX_OFF_T_VALUE - 9) / 10) {
            return NGX_OK;
        }

        a = a * 10 + (*p - '0');
    }

    if (!suffix) {
        if (p == last || *p++ != '-') {
            return NGX_OK;
        }

        if (p < last) {
            for (b = 0; p < last && *p >= '0' && *p <= '9'; p++) {
                if (b > (NGX_MAX_OFF_T_VALUE - 9) / 10) {
                    return NGX_OK;
                }

                b = b * 10 + (*p - '0');
            }
        }
    }

    if (p != last) {
        /* several ranges, or not one: the whole blob */
        return NGX_OK;
    }

    if (suffix) {
        if (a == 0) {
            goto unsatisfiable;
        }

        a = (a > size) ? 0 : size - a;
        b = size - 1;

    } else {
        if (b >= 0 && b < a) {
            return NGX_OK;
        }

        if (a >= size) {
            goto unsatisfiable;
        }

        if (b < 0 || b >= size) {
            b = size - 1;
        }
    }

    cr = ngx_list_push(&r->headers_out.headers);
    if (cr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cr->value.data = ngx_pnalloc(r->pool, sizeof("bytes -/") - 1
                                          + 3 * NGX_OFF_T_LEN);
    if (cr->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cr->hash = 1;
    ngx_str_set(&cr->key, "Content-Range");
    cr->value.len = ngx_sprintf(cr->value.data, "bytes %L-%L/%L", a, b, size)
                    - cr->value.data;

    r->headers_out.status = NGX_HTTP_PARTIAL_CONTENT;
    st->off = a;
    st->end = b + 1;

    return NGX_OK;

unsatisfiable:

    cr = ngx_list_push(&r->headers_out.headers);
    if (cr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cr->value.data = ngx_pnalloc(r->pool, sizeof("bytes */") - 1
                                          + NGX_OFF_T_LEN);
    if (cr->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cr->hash = 1;
    ngx_str_set(&cr->key, "Content-Range");
    cr->value.len = ngx_sprintf(cr->value.data, "bytes */%L", size)
                    - cr->value.data;

    return NGX_DECLINED;
}


/* the next window into b[fill], in a thread */

static ngx_int_t
ngx_http_gobi_stream_read(ngx_http_gobi_stream_t *st)
{
    ngx_thread_task_t  *task;

    st->task_off = st->off;
    st->task_len = (size_t) ngx_min((int64_t) NGX_HTTP_GOBI_STREAM_WINDOW,
                                    st->end - st->off);
    st->off += st->task_len;

    task = &st->task;
    ngx_memzero(task, sizeof(ngx_thread_task_t));

    task->ctx = st;
    task->handler = ngx_http_gobi_stream_thread;
    task->event.data = st;
    task->event.handler = ngx_http_gobi_stream_event;
    task->event.log = st->request->connection->log;

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, 1);

    if (ngx_thread_task_post(st->job->gmcf->thread_pool, task) != NGX_OK) {
        ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, -1);
        return NGX_ERROR;
    }

    st->busy = 1;
    st->request->main->blocked++;
    ngx_http_gobi_task_hold();

    return NGX_OK;
}


static void
ngx_http_gobi_stream_thread(void *data, ngx_log_t *log)
{
    ngx_http_gobi_stream_t  *st = data;

    ngx_buf_t  *b;

    b = st->b[st->fill];

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_QUEUED, -1);
    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, 1);

    st->rc = gobi_reader_read(st->job->reader, st->task_off, b->start,
                              st->task_len, st->err, sizeof(st->err));

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_RUNNING, -1);
}


static void
ngx_http_gobi_stream_event(ngx_event_t *ev)
{
    ngx_int_t                rc;
    ngx_uint_t               level;
    ngx_buf_t               *b;
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_http_gobi_stream_t  *st;

    st = ev->data;
    r = st->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_gobi_task_release();
    r->main->blocked--;
    st->busy = 0;

    if (c->error) {
        /* the client went away: nginx's finalizer, if it set one */
        r->write_event_handler(r);
        ngx_http_run_posted_requests(c);
        return;
    }

    if (st->rc != GOBI_READER_OK) {
        if (!st->started) {
            (void) ngx_http_gobi_reader_error(st->job, st->rc, st->err);
            level = st->job->log_level ? st->job->log_level : NGX_LOG_ERR;
            ngx_log_error(level, c->log, 0, "gobi: \"%s\": %s",
                          st->job->path, st->job->log);
            r->headers_out.status = 0;
            ngx_http_clear_content_length(r);
            ngx_http_finalize_request(r, ngx_http_gobi_send_job(r,
                                                                st->job));
        } else {
            ngx_log_error(NGX_LOG_CRIT, c->log, 0,
                          "gobi: \"%s\" cut short: %s", st->job->path,
                          st->err);
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        ngx_http_run_posted_requests(c);
        return;
    }

    b = st->b[st->fill];
    b->pos = b->start;
    b->last = b->start + st->task_len;
    b->flush = 1;
    b->last_buf = (st->off == st->end);
    b->last_in_chain = b->last_buf;
    st->ready[st->fill] = 1;
    st->fill ^= 1;

    if (!st->started) {
        st->started = 1;

        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            ngx_http_finalize_request(r, rc);
            ngx_http_run_posted_requests(c);
            return;
        }

        r->write_event_handler = ngx_http_gobi_stream_writer;
    }

    if (ngx_http_gobi_stream_run(r, st) == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_gobi_stream_writer(ngx_http_request_t *r)
{
    ngx_connection_t        *c;
    ngx_http_gobi_stream_t  *st;

    c = r->connection;
    st = ngx_http_gobi_get_ctx(r)->job->stream;

    if (c->write->timedout) {
        if (!c->write->delayed) {
            c->timedout = 1;
            ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
            return;
        }

        /* limit_rate's pause is over (nginx's request handler may have
         * said so already) */
        c->write->timedout = 0;
        c->write->delayed = 0;
    }

    if (ngx_http_output_filter(r, NULL) == NGX_ERROR
        || ngx_http_gobi_stream_run(r, st) == NGX_ERROR)
    {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


/*
 * Passes what is read, in order, and reads on into a window nginx is
 * done with.  NGX_AGAIN while more is to come; NGX_DONE once the last
 * window is passed (the request finalized with what nginx said); or
 * NGX_ERROR.
 */

static ngx_int_t
ngx_http_gobi_stream_run(ngx_http_request_t *r, ngx_http_gobi_stream_t *st)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i, k;
    ngx_chain_t                out;
    ngx_connection_t          *c;
    ngx_http_core_loc_conf_t  *clcf;

    c = r->connection;
    rc = NGX_OK;

    /* the window read first is the one passed first */
    for (i = 0; i < 2; i++) {
        k = (st->fill + i) & 1;

        if (!st->ready[k]) {
            continue;
        }

        st->ready[k] = 0;
        out.buf = st->b[k];
        out.next = NULL;

        rc = ngx_http_output_filter(r, &out);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (st->b[k]->last_buf) {
            /* nginx's writer sends the rest */
            r->write_event_handler = ngx_http_request_empty_handler;
            ngx_http_finalize_request(r, rc);
            return NGX_DONE;
        }
    }

    if (!st->busy && st->off < st->end
        && st->b[st->fill]->pos == st->b[st->fill]->last)
    {
        if (ngx_http_gobi_stream_read(st) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (c->buffered || r->out) {
        if (c->write->delayed) {
            /* limit_rate (or sendfile_max_chunk) holds the rest back:
             * its timer wakes the writer, and it must stay set */
            return NGX_AGAIN;
        }

        /* the client reads slower than we do: wait for its socket */
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (!c->write->ready) {
            ngx_add_timer(c->write, clcf->send_timeout);

        } else if (c->write->timer_set) {
            ngx_del_timer(c->write);
        }

        if (ngx_handle_write_event(c->write, clcf->send_lowat) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_AGAIN;
}


/*
 * Thread side: opens a blob for reading, or sets the job's error: the
 * bytes missing or corrupt (500, logged: an operator must look), or no
 * target reachable (503: try again).
 */

ngx_int_t
ngx_http_gobi_reader_open(ngx_http_gobi_job_t *job, gobi_reader_t *rd,
    const char *hash, const unsigned char *dk)
{
    char              err[512];
    gobi_reader_rc_e  rc;

    err[0] = '\0';

    rc = gobi_reader_open(rd, job->blob, job->vault.id, hash, dk, err,
                          sizeof(err));

    return ngx_http_gobi_reader_error(job, rc, err);
}


ngx_int_t
ngx_http_gobi_reader_error(ngx_http_gobi_job_t *job, gobi_reader_rc_e rc,
    const char *err)
{
    switch (rc) {

    case GOBI_READER_OK:
        return NGX_OK;

    case GOBI_READER_MISSING:
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error",
                                "the file's bytes are missing");
        job->log_level = NGX_LOG_CRIT;
        break;

    case GOBI_READER_CORRUPT:
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "blob_corrupt",
                                "the file's stored bytes are damaged");
        job->log_level = NGX_LOG_CRIT;
        break;

    default:
        ngx_http_gobi_job_error(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "storage_unavailable",
                                "the file's bytes cannot be read now; "
                                "try again later");
        break;
    }

    snprintf(job->log, sizeof(job->log), "%s", err);

    return NGX_ERROR;
}


void
ngx_http_gobi_reader_cleanup(void *data)
{
    gobi_reader_close(data);
}


/* headers only (HEAD), or an empty body */

ngx_int_t
ngx_http_gobi_send_empty(ngx_http_request_t *r)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->header_only = (r->method == NGX_HTTP_HEAD);
    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
