
/*
 * Copyright (C) the gobi authors
 *
 * JSON responses: every answer is a JSON object, every error is
 * {"error":{"code":"...","message":"..."}} with a stable code.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"

#include <stdarg.h>
#include <stdio.h>

#include "gobi_json_gen.h"


static ngx_int_t ngx_http_gobi_send_body(ngx_http_request_t *r,
    ngx_uint_t status, const u_char *body, size_t len, ngx_uint_t copy);


yajl_gen
ngx_http_gobi_gen_new(void)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_config(g, yajl_gen_validate_utf8, 0);

    return g;
}


/* the job's success body (thread side) */

ngx_int_t
ngx_http_gobi_job_gen(ngx_http_gobi_job_t *job)
{
    job->gen = ngx_http_gobi_gen_new();

    if (job->gen == NULL) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "out of memory");
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_gobi_gen_str(yajl_gen g, const char *s)
{
    (void) gobi_json_gen_str(g, s, strlen(s));
}


void
ngx_http_gobi_gen_int(yajl_gen g, int64_t n)
{
    yajl_gen_integer(g, (long long) n);
}


/* "key": value pairs */
#define gen_kv_str(g, k, v)                                                   \
    ngx_http_gobi_gen_str(g, k); ngx_http_gobi_gen_str(g, v)
#define gen_kv_int(g, k, v)                                                   \
    ngx_http_gobi_gen_str(g, k); ngx_http_gobi_gen_int(g, v)


void
ngx_http_gobi_gen_file(yajl_gen g, const gobi_file_t *f, int full)
{
    yajl_gen_map_open(g);

    if (full) {
        gen_kv_str(g, "path", f->path);
    }

    gen_kv_int(g, "version", f->version);
    gen_kv_str(g, "hash", f->hash);
    gen_kv_int(g, "size", f->size);
    gen_kv_int(g, "mtime", f->mtime);

    if (full) {
        ngx_http_gobi_gen_str(g, "deleted");
        yajl_gen_bool(g, f->deleted);
    }

    yajl_gen_map_close(g);
}


void
ngx_http_gobi_job_error(ngx_http_gobi_job_t *job, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    va_list  args;

    job->status = status;
    job->code = code;

    va_start(args, fmt);
    vsnprintf(job->message, sizeof(job->message), fmt, args);
    va_end(args);
}


void
ngx_http_gobi_job_store_error(ngx_http_gobi_job_t *job, gobi_store_rc_e rc)
{
    const char  *msg;

    msg = job->gmcf->store_driver->errmsg(job->store);

    switch (rc) {

    case GOBI_STORE_UNAVAILABLE:
        ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_STORE_UNAVAILABLE, 1);
        ngx_http_gobi_job_error(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "store_unavailable",
                                "the metadata store is unavailable, "
                                "retry later");
        snprintf(job->log, sizeof(job->log), "store unavailable: %s", msg);
        job->log_level = NGX_LOG_WARN;
        break;

    default:
        ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_STORE_FAILED, 1);
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "internal server error");
        snprintf(job->log, sizeof(job->log), "store error %d: %s",
                 (int) rc, msg);
        job->log_level = NGX_LOG_ERR;
        break;
    }
}


/*
 * copy 0: body stays valid until the request is freed (a job's generator
 * goes with the request pool), so it is sent from where it is.
 */

static ngx_int_t
ngx_http_gobi_send_body(ngx_http_request_t *r, ngx_uint_t status,
    const u_char *body, size_t len, ngx_uint_t copy)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (r->request_body == NULL
        && ngx_http_discard_request_body(r) != NGX_OK)
    {
        r->keepalive = 0;
    }

    /* our preconditions are ours: nginx must not apply If-Match again */
    r->disable_not_modified = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (r->method == NGX_HTTP_HEAD || len == 0) {
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    if (copy) {
        b = ngx_create_temp_buf(r->pool, len);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->last = ngx_cpymem(b->pos, body, len);

    } else {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->pos = (u_char *) body;
        b->last = (u_char *) body + len;
        b->memory = 1;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_gobi_send_yajl(ngx_http_request_t *r, ngx_uint_t status, yajl_gen g,
    ngx_uint_t copy)
{
    size_t                len;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_gobi_send_body(r, status, buf, len, copy);
}


ngx_int_t
ngx_http_gobi_send_gen(ngx_http_request_t *r, ngx_uint_t status, yajl_gen g)
{
    return ngx_http_gobi_send_yajl(r, status, g, 1);
}


ngx_int_t
ngx_http_gobi_add_header(ngx_http_request_t *r, const char *key,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


/*
 * The error body; on a version conflict it also says what the server has
 * ("current"), so the client can catch up without another request.
 */

static ngx_int_t
ngx_http_gobi_send_error_file(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const gobi_file_t *current,
    const char *resolved, ngx_uint_t retry_after)
{
    u_char     *after;
    ngx_int_t   rc;
    yajl_gen    g;

    g = ngx_http_gobi_gen_new();
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_gobi_gen_str(g, "error");
    yajl_gen_map_open(g);
    gen_kv_str(g, "code", code);
    gen_kv_str(g, "message", message);

    if (current) {
        ngx_http_gobi_gen_str(g, "current");
        ngx_http_gobi_gen_file(g, current, 1);
    }

    if (resolved) {
        /* the write lost by the vault's strategy, and is in history */
        gen_kv_str(g, "resolved", resolved);
    }

    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    if (status == NGX_HTTP_UNAUTHORIZED) {
        if (ngx_http_gobi_add_header(r, "WWW-Authenticate",
                                     "Bearer realm=\"gobi\"") != NGX_OK
            || ngx_http_gobi_add_header(r, "WWW-Authenticate",
                                        "Basic realm=\"gobi\", "
                                        "charset=\"UTF-8\"") != NGX_OK)
        {
            yajl_gen_free(g);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        if (ngx_http_gobi_add_header(r, "Retry-After", "5") != NGX_OK) {
            yajl_gen_free(g);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (status == NGX_HTTP_TOO_MANY_REQUESTS && retry_after) {
        after = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 1);
        if (after == NULL) {
            yajl_gen_free(g);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *ngx_sprintf(after, "%ui", retry_after) = '\0';

        if (ngx_http_gobi_add_header(r, "Retry-After", (char *) after)
            != NGX_OK)
        {
            yajl_gen_free(g);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_gobi_send_gen(r, status, g);
    yajl_gen_free(g);

    return rc;
}


ngx_int_t
ngx_http_gobi_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    return ngx_http_gobi_send_error_file(r, status, code, message, NULL,
                                         NULL, 0);
}


/* the job's outcome: its error, or its body */

ngx_int_t
ngx_http_gobi_send_job(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    if (job->code) {
        return ngx_http_gobi_send_error_file(r, job->status, job->code,
                   job->message,
                   job->status == NGX_HTTP_PRECONDITION_FAILED
                   ? &job->file : NULL,
                   job->resolved == GOBI_RESOLVE_LOSE ? "lww" : NULL,
                   job->retry_after);
    }

    if (job->gen == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the generator is the request's (ngx_http_gobi_task.c): no copy */
    return ngx_http_gobi_send_yajl(r, job->status ? job->status : NGX_HTTP_OK,
                                   job->gen, 0);
}
