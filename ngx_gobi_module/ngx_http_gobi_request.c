
/*
 * Copyright (C) the gobi authors
 *
 * What every gobi request needs before its endpoint runs: its context,
 * the route (one table per handler: method, path pattern, checks, thread
 * work, answer), headers, query arguments and small JSON bodies.
 */


#include "ngx_http_gobi_module.h"

#include "gobi_json_body.h"
#include "gobi_path.h"


static void ngx_http_gobi_ctx_wipe(void *data);
static void ngx_http_gobi_json_body_handler(ngx_http_request_t *r);


/* the request's context, with its job set up for this worker */

ngx_http_gobi_ctx_t *
ngx_http_gobi_ctx_create(ngx_http_request_t *r)
{
    ngx_http_gobi_ctx_t  *ctx;
    ngx_http_gobi_job_t  *job;
    ngx_pool_cleanup_t   *cln;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_gobi_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    job = ngx_pcalloc(r->pool, sizeof(ngx_http_gobi_job_t));
    if (job == NULL) {
        return NULL;
    }

    ctx->job = job;
    ngx_http_set_ctx(r, ctx, ngx_http_gobi_module);

    job->request = r;
    job->gmcf = ngx_http_get_module_main_conf(r, ngx_http_gobi_module);
    job->store = ngx_http_gobi_worker.store;
    job->blob = ngx_http_gobi_worker.blob;
    job->keys = ngx_http_gobi_worker.keys;
    job->base_version = GOBI_BASE_ANY;

    if (job->keys) {
        /* the vault's data key does not outlive the request in memory */
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_gobi_ctx_wipe;
        cln->data = ctx;
    }

    return ctx;
}


static void
ngx_http_gobi_ctx_wipe(void *data)
{
    ngx_http_gobi_ctx_t  *ctx = data;

    if (ctx->job) {
        sodium_memzero(ctx->job->dk, sizeof(ctx->job->dk));
        ctx->job->has_dk = 0;
    }
}


/*
 * An upgraded WebSocket keeps its request for hours and does its work in
 * jobs of its own: the request's job (some 7 KB, larger than the pool's
 * blocks, so freed at once) goes back.
 */

void
ngx_http_gobi_ctx_drop_job(ngx_http_request_t *r)
{
    ngx_http_gobi_ctx_t  *ctx;

    ctx = ngx_http_gobi_get_ctx(r);
    if (ctx == NULL || ctx->job == NULL) {
        return;
    }

    ngx_http_gobi_ctx_wipe(ctx);
    ngx_pfree(r->pool, ctx->job);
    ctx->job = NULL;
}


/*
 * Does the API path (the part of the URI after the location) have the
 * route's shape?  "{vault}" is one non-empty segment, "{path}" the rest.
 */

static ngx_int_t
ngx_http_gobi_route_shape(const ngx_str_t *pattern, u_char *p, u_char *end,
    ngx_str_t *vault, ngx_str_t *path)
{
    u_char  *pp, *pe, *q;

    pp = pattern->data;
    pe = pp + pattern->len;

    while (pp < pe) {

        if (*pp == '{') {
            if (pe - pp >= 7 && ngx_strncmp(pp, "{vault}", 7) == 0) {
                q = ngx_strlchr(p, end, '/');
                if (q == NULL) {
                    q = end;
                }

                if (q == p) {
                    return 0;
                }

                vault->data = p;
                vault->len = q - p;
                p = q;
                pp += 7;
                continue;
            }

            /* "{path}": the rest */
            path->data = p;
            path->len = end - p;
            return 1;
        }

        if (p == end || *p != *pp) {
            return 0;
        }

        p++;
        pp++;
    }

    return p == end;
}


/*
 * Finds the request's route in a table ended by an empty pattern, and
 * decodes the vault name and file path it names.  NGX_OK with ctx->route
 * set, or ctx->route NULL and what sending the error returned.
 */

ngx_int_t
ngx_http_gobi_route_find(ngx_http_request_t *r,
    const ngx_http_gobi_route_t *routes, ngx_http_gobi_ctx_t *ctx)
{
    u_char                       *p, *end, *q, allow[40], *a;
    size_t                        len;
    ssize_t                       n;
    ngx_str_t                     vault, path, v, f;
    ngx_uint_t                    allowed, i, shaped;
    const char                   *err;
    ngx_table_elt_t              *h;
    ngx_http_gobi_job_t          *job;
    ngx_http_core_loc_conf_t     *clcf;
    const ngx_http_gobi_route_t  *rt;

    static const struct {
        ngx_uint_t   method;
        const char  *name;
    } methods[] = {
        { NGX_HTTP_GET, "GET" }, { NGX_HTTP_HEAD, "HEAD" },
        { NGX_HTTP_POST, "POST" }, { NGX_HTTP_PUT, "PUT" },
        { NGX_HTTP_DELETE, "DELETE" }, { NGX_HTTP_PATCH, "PATCH" }
    };

    job = ctx->job;
    ctx->route = NULL;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->unparsed_uri.data;
    end = p + r->unparsed_uri.len;

    q = ngx_strlchr(p, end, '?');
    if (q) {
        end = q;
    }

    len = end - p;

    if (clcf->name.len && len >= clcf->name.len
        && ngx_strncmp(p, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;

    } else {
        /* a regex or exact location: the API is what follows "/api/v1/" */
        q = ngx_strlcasestrn(p, end, (u_char *) "/api/v1/", 8 - 1);
        if (q == NULL) {
            goto not_found;
        }

        p = q + 8;
    }

    if (p > r->unparsed_uri.data && p[-1] != '/') {
        if (p < end && *p == '/') {
            p++;
        }
    }

    rt = NULL;
    allowed = 0;
    shaped = 0;
    ngx_str_null(&vault);
    ngx_str_null(&path);

    for (i = 0; routes[i].pattern.len; i++) {
        ngx_str_null(&v);
        ngx_str_null(&f);

        if (!ngx_http_gobi_route_shape(&routes[i].pattern, p, end, &v, &f)) {
            continue;
        }

        shaped = 1;
        vault = v;
        path = f;
        allowed |= routes[i].methods;

        if (rt == NULL && (routes[i].methods & r->method)) {
            rt = &routes[i];
        }
    }

    if (!shaped) {
        goto not_found;
    }

    if (vault.data) {
        job->vault_name = ngx_pnalloc(r->pool, vault.len + 1);
        if (job->vault_name == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        n = gobi_path_unescape(job->vault_name, (char *) vault.data,
                               vault.len);
        if (n < 0 || gobi_vault_name_check(job->vault_name, n) != NULL) {
            /* a name that cannot exist */
            return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "vault_not_found",
                                            "no such vault");
        }
    }

    if (path.data) {
        /* the file path: decoded exactly once, then checked */

        job->path = ngx_pnalloc(r->pool, path.len + 1);
        if (job->path == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        n = gobi_path_unescape(job->path, (char *) path.data, path.len);
        err = (n < 0) ? "malformed percent-encoding in path"
                      : gobi_path_check(job->path, n);

        if (err) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_path", err);
        }
    }

    if (rt) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "gobi: route \"%V\" for \"%V\"",
                       &rt->pattern, &r->method_name);
        ctx->route = rt;
        return NGX_OK;
    }

    a = allow;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (allowed & methods[i].method) {
            a = ngx_sprintf(a, "%s%s", a == allow ? "" : ", ",
                            methods[i].name);
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.len = a - allow;
    h->value.data = ngx_pnalloc(r->pool, h->value.len);
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(h->value.data, allow, h->value.len);

    return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "method not allowed here");

not_found:

    return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                    "no such endpoint");
}


/*
 * Reads a small JSON body (at most NGX_HTTP_GOBI_JSON_MAX), then calls
 * next(r, json) with the object; errors in the body are answered here.
 */

/*
 * A JSON body is counted while nginx reads it: a chunked (or lying)
 * client is cut at 64 KiB, before anything more reaches memory or the
 * temp file, and before its credentials cost anything.
 */

static ngx_http_request_body_filter_pt  ngx_http_gobi_next_body_filter;


static ngx_int_t
ngx_http_gobi_json_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t          *cl;
    ngx_http_gobi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gobi_module);

    if (ctx && ctx->json_next) {
        for (cl = in; cl; cl = cl->next) {
            ctx->json_read += ngx_buf_size(cl->buf);
        }

        if (ctx->json_read > NGX_HTTP_GOBI_JSON_MAX) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "gobi: JSON body cut at %O bytes",
                           ctx->json_read);
            return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }

    return ngx_http_gobi_next_body_filter(r, in);
}


ngx_int_t
ngx_http_gobi_body_filter_init(ngx_conf_t *cf)
{
    ngx_http_gobi_next_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_gobi_json_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_http_gobi_json_body(ngx_http_request_t *r, ngx_http_gobi_json_pt next)
{
    ngx_int_t             rc;
    ngx_http_gobi_ctx_t  *ctx;

    if (r->headers_in.content_length_n > NGX_HTTP_GOBI_JSON_MAX) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "payload_too_large",
                                        "JSON body larger than 64k");
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_gobi_module);
    ctx->json_next = next;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_gobi_json_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* a small JSON body: from memory, or from the temp file if it got there */

static ngx_int_t
ngx_http_gobi_read_json(ngx_http_request_t *r, yajl_val *json, char *err,
    size_t errlen)
{
    u_char       *buf, *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    if (r->request_body == NULL) {
        goto empty;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        goto empty;
    }

    if (len > NGX_HTTP_GOBI_JSON_MAX) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    buf = ngx_pnalloc(r->pool, len + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    p = buf;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';

    /* the pure part, fuzzed on its own: lib/gobi_json_body.c */
    switch (gobi_json_body_parse((char *) buf, p - buf, json, err, errlen)) {

    case GOBI_JSON_BODY_OK:
        return NGX_OK;

    case GOBI_JSON_BODY_TOO_BIG:
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;

    default:
        return NGX_DECLINED;
    }

empty:

    ngx_cpystrn((u_char *) err, (u_char *) "a JSON body is required", errlen);
    return NGX_DECLINED;
}


static void
ngx_http_gobi_json_cleanup(void *data)
{
    yajl_tree_free(data);
}


static void
ngx_http_gobi_json_body_handler(ngx_http_request_t *r)
{
    char                  err[128], *nl;
    ngx_int_t             rc;
    yajl_val              json;
    ngx_pool_cleanup_t   *cln;
    ngx_http_gobi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gobi_module);

    json = NULL;
    err[0] = '\0';

    rc = ngx_http_gobi_read_json(r, &json, err, sizeof(err));

    switch (rc) {

    case NGX_OK:
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            yajl_tree_free(json);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        cln->handler = ngx_http_gobi_json_cleanup;
        cln->data = json;

        rc = ctx->json_next(r, json);
        break;

    case NGX_DECLINED:
        nl = ngx_strchr(err, '\n');
        if (nl) {
            *nl = '\0';
        }

        rc = ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_request",
                                      err[0] ? err : "invalid JSON");
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        rc = ngx_http_gobi_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "payload_too_large",
                                      "JSON body larger than 64k");
        break;

    default:
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        break;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * A string member of the JSON body: NGX_OK and *out, NGX_DECLINED with
 * the job's error set when missing or not a string.
 */

ngx_int_t
ngx_http_gobi_json_str(ngx_http_gobi_job_t *job, yajl_val json,
    const char *key, char **out, size_t *len)
{
    const char  *s;

    s = gobi_json_body_str(json, key, len);

    if (s == NULL) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"%s\" must be a string", key);
        return NGX_DECLINED;
    }

    *out = (char *) s;

    return NGX_OK;
}


/* a request header by name, case-insensitively (also the unknown ones) */

ngx_table_elt_t *
ngx_http_gobi_header_in(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/* a non-negative decimal integer query argument; absent leaves *out */

ngx_int_t
ngx_http_gobi_arg_int(ngx_http_request_t *r, const char *name, int64_t *out)
{
    ngx_str_t  value;
    int64_t    n;
    size_t     i;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &value)
        != NGX_OK)
    {
        return NGX_OK;
    }

    if (value.len == 0 || value.len > 18) {
        return NGX_DECLINED;
    }

    n = 0;

    for (i = 0; i < value.len; i++) {
        if (value.data[i] < '0' || value.data[i] > '9') {
            return NGX_DECLINED;
        }

        n = n * 10 + (value.data[i] - '0');
    }

    *out = n;

    return NGX_OK;
}


/* a query argument that is a path (or a prefix of one), unescaped */

ngx_int_t
ngx_http_gobi_arg_path(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    const char *name, char **out)
{
    ssize_t    n;
    ngx_str_t  value;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &value)
        != NGX_OK)
    {
        return NGX_OK;
    }

    if (value.len > 4 * GOBI_PATH_MAX) {
        goto malformed;
    }

    *out = ngx_pnalloc(r->pool, value.len + 1);
    if (*out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* '+' is a space in query strings */
    for (n = 0; n < (ssize_t) value.len; n++) {
        if (value.data[n] == '+') {
            value.data[n] = ' ';
        }
    }

    n = gobi_path_unescape(*out, (char *) value.data, value.len);
    if (n >= 0 && ngx_strlen(*out) == (size_t) n) {
        return NGX_OK;
    }

malformed:

    ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                            "malformed \"%s\"", name);
    return NGX_DECLINED;
}
