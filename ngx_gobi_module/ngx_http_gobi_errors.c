
/*
 * Copyright (C) the gobi authors
 *
 * nginx answers some requests itself before or instead of our handlers
 * (a body over client_max_body_size, a broken chunked body, a timeout).
 * In gobi locations those answers become JSON errors too, so a client has
 * one error format to read.
 */


#include "ngx_http_gobi_module.h"


typedef struct {
    ngx_uint_t      status;
    const char     *code;
    const char     *message;
} ngx_http_gobi_status_t;


static ngx_http_gobi_status_t  ngx_http_gobi_statuses[] = {
    { 400, "bad_request", "bad request" },
    { 401, "unauthorized", "missing or invalid credentials" },
    { 403, "forbidden", "forbidden" },
    { 404, "not_found", "not found" },
    { 405, "method_not_allowed", "method not allowed here" },
    { 408, "request_timeout", "the request took too long to arrive" },
    { 411, "length_required", "Content-Length required" },
    { 412, "precondition_failed", "precondition failed" },
    { 413, "payload_too_large", "the request body is too large" },
    { 414, "uri_too_long", "the URI is too long" },
    { 416, "range_not_satisfiable", "range not satisfiable" },
    { 494, "bad_request", "request headers too large" },
    { 500, "internal_error", "internal server error" },
    { 507, "insufficient_storage", "not enough free space for the file" },
    { 503, "service_unavailable", "service unavailable" },
    { 0, NULL, NULL }
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_gobi_errors_header_filter(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     len;
    ngx_http_gobi_ctx_t       *ctx;
    ngx_http_gobi_status_t    *s;
    ngx_http_gobi_loc_conf_t  *glcf;

    if (r != r->main || r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gobi_module);

    if (glcf == NULL
        || (glcf->api != 1 && glcf->websocket != 1 && glcf->web != 1))
    {
        return ngx_http_next_header_filter(r);
    }

    /* ours are JSON already */
    if (r->headers_out.content_type.len >= 16
        && ngx_strncmp(r->headers_out.content_type.data, "application/json",
                       16) == 0)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_gobi_module);

    /*
     * nginx failed writing a PUT's body to its temp file: when the disk
     * is full (the write's errno, or no room left now), that is a 507
     */

    if (r->headers_out.status == NGX_HTTP_INTERNAL_SERVER_ERROR
        && ctx != NULL && ctx->body_reading && ctx->job->blob != NULL
        && (ngx_errno == NGX_ENOSPC || ngx_http_gobi_no_room(ctx->job, 0)))
    {
        r->headers_out.status = NGX_HTTP_INSUFFICIENT_STORAGE;
    }

    for (s = ngx_http_gobi_statuses; s->status; s++) {
        if (s->status == r->headers_out.status) {
            break;
        }
    }

    if (s->status == 0) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_gobi_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_gobi_module);
    }

    len = sizeof("{\"error\":{\"code\":\"\",\"message\":\"\"}}") - 1
          + ngx_strlen(s->code) + ngx_strlen(s->message);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->error_body.data = p;
    ctx->error_body.len = ngx_sprintf(p,
                              "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                              s->code, s->message)
                          - p;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
    r->headers_out.content_length_n = ctx->error_body.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ctx->error_rewrite = 1;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_gobi_errors_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t            *b;
    ngx_chain_t          *cl, out;
    ngx_http_gobi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gobi_module);

    if (ctx == NULL || !ctx->error_rewrite || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's HTML page is dropped: our body replaces it once */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_rewrite == 2) {
        return NGX_OK;
    }

    ctx->error_rewrite = 2;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->error_body.data;
    b->last = ctx->error_body.data + ctx->error_body.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_gobi_errors_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_gobi_errors_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_gobi_errors_body_filter;

    return NGX_OK;
}
