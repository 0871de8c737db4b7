
/*
 * Copyright (C) the gobi authors
 *
 * The REST API: routing, request parsing, and the users, sessions, vaults,
 * manifest and events endpoints.  File bytes are in ngx_http_gobi_files.c.
 */


#include "ngx_http_gobi_module.h"

#include <sodium.h>
#include <stdio.h>

#include "gobi_path.h"
#include "gobi_wsmsg.h"


typedef enum {
    NGX_HTTP_GOBI_OP_USER_CREATE = 1,
    NGX_HTTP_GOBI_OP_SESSION_CREATE,
    NGX_HTTP_GOBI_OP_SESSION_DELETE,
    NGX_HTTP_GOBI_OP_VAULT_LIST,
    NGX_HTTP_GOBI_OP_VAULT_CREATE,
    NGX_HTTP_GOBI_OP_VAULT_DELETE,
    NGX_HTTP_GOBI_OP_MANIFEST,
    NGX_HTTP_GOBI_OP_EVENTS,
    NGX_HTTP_GOBI_OP_FILE_PUT,
    NGX_HTTP_GOBI_OP_FILE_GET,
    NGX_HTTP_GOBI_OP_FILE_DELETE
} ngx_http_gobi_op_e;


static ngx_int_t ngx_http_gobi_route(ngx_http_request_t *r,
    ngx_http_gobi_ctx_t *ctx);
static void ngx_http_gobi_json_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gobi_start(ngx_http_request_t *r,
    ngx_http_gobi_ctx_t *ctx, yajl_val json);
static ngx_int_t ngx_http_gobi_query_args(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);

static void ngx_http_gobi_run_user_create(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_session_create(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_session_delete(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_vault_list(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_vault_create(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_vault_delete(ngx_http_gobi_job_t *job);
static ngx_int_t ngx_http_gobi_vault_deleted(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_manifest(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_events(ngx_http_gobi_job_t *job);


/* the request's context, with its job set up for this worker */

ngx_http_gobi_ctx_t *
ngx_http_gobi_ctx_create(ngx_http_request_t *r)
{
    ngx_http_gobi_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_gobi_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_gobi_module);

    ctx->job.request = r;
    ctx->job.gmcf = ngx_http_get_module_main_conf(r, ngx_http_gobi_module);
    ctx->job.store = ngx_http_gobi_worker.store;
    ctx->job.storage = ngx_http_gobi_worker.storage;
    ctx->job.fd = NGX_INVALID_FILE;
    ctx->job.base_version = GOBI_BASE_ANY;

    return ctx;
}


ngx_int_t
ngx_http_gobi_api_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_http_gobi_ctx_t  *ctx;

    ctx = ngx_http_gobi_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->job.store == NULL || ctx->job.storage == NULL) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "store_unavailable",
                                        "the metadata store is not open");
    }

    rc = ngx_http_gobi_route(r, ctx);
    if (ctx->op == 0) {
        /* no route: the error is sent */
        return rc;
    }

    switch (ctx->op) {

    case NGX_HTTP_GOBI_OP_USER_CREATE:
    case NGX_HTTP_GOBI_OP_VAULT_CREATE:
        goto json_body;

    case NGX_HTTP_GOBI_OP_SESSION_CREATE:
        /* Basic credentials, or a JSON body */
        if (r->headers_in.authorization == NULL
            || r->headers_in.content_length_n > 0
            || r->headers_in.chunked)
        {
            goto json_body;
        }

        break;

    default:
        break;
    }

    return ngx_http_gobi_start(r, ctx, NULL);

json_body:

    if (r->headers_in.content_length_n > NGX_HTTP_GOBI_JSON_MAX) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "payload_too_large",
                                        "JSON body larger than 64k");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_gobi_json_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The part of the raw URI after the location's prefix, split in routes.
 * Sets ctx->op, or leaves it 0 and returns what sending the error gave.
 */

static ngx_int_t
ngx_http_gobi_route(ngx_http_request_t *r, ngx_http_gobi_ctx_t *ctx)
{
    u_char                    *p, *end, *seg, *q;
    size_t                     len;
    ssize_t                    n;
    ngx_str_t                  rest, vault, path;
    ngx_uint_t                 method, allowed;
    const char                *err, *allow;
    ngx_table_elt_t           *h;
    ngx_http_gobi_job_t       *job;
    ngx_http_core_loc_conf_t  *clcf;

    job = &ctx->job;
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

    rest.data = p;
    rest.len = end - p;
    method = r->method;

#define is_route(s)                                                           \
    (rest.len == sizeof(s) - 1 && ngx_strncmp(rest.data, s, rest.len) == 0)

    if (is_route("users")) {
        allowed = NGX_HTTP_POST;
        allow = "POST";
        ctx->op = NGX_HTTP_GOBI_OP_USER_CREATE;
        goto check_method;
    }

    if (is_route("sessions")) {
        allowed = NGX_HTTP_POST;
        allow = "POST";
        ctx->op = NGX_HTTP_GOBI_OP_SESSION_CREATE;
        goto check_method;
    }

    if (is_route("sessions/current")) {
        allowed = NGX_HTTP_DELETE;
        allow = "DELETE";
        ctx->op = NGX_HTTP_GOBI_OP_SESSION_DELETE;
        goto check_method;
    }

    if (is_route("vaults")) {
        allowed = NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST;
        allow = "GET, HEAD, POST";
        ctx->op = (method == NGX_HTTP_POST) ? NGX_HTTP_GOBI_OP_VAULT_CREATE
                                            : NGX_HTTP_GOBI_OP_VAULT_LIST;
        goto check_method;
    }

#undef is_route

    if (rest.len <= 7 || ngx_strncmp(rest.data, "vaults/", 7) != 0) {
        goto not_found;
    }

    /* vaults/{vault}[/files[/{path}] | /events] */

    seg = rest.data + 7;
    q = ngx_strlchr(seg, end, '/');

    vault.data = seg;
    vault.len = (q ? q : end) - seg;

    job->vault_name = ngx_pnalloc(r->pool, vault.len + 1);
    if (job->vault_name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = gobi_path_unescape(job->vault_name, (char *) vault.data, vault.len);
    if (n < 0 || gobi_vault_name_check(job->vault_name, n) != NULL) {
        /* a name that cannot exist */
        return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_FOUND,
                                        "vault_not_found", "no such vault");
    }

    if (q == NULL) {
        allowed = NGX_HTTP_DELETE;
        allow = "DELETE";
        ctx->op = NGX_HTTP_GOBI_OP_VAULT_DELETE;
        goto check_method;
    }

    seg = q + 1;

    if ((size_t) (end - seg) == 6 && ngx_strncmp(seg, "events", 6) == 0) {
        allowed = NGX_HTTP_GET|NGX_HTTP_HEAD;
        allow = "GET, HEAD";
        ctx->op = NGX_HTTP_GOBI_OP_EVENTS;
        goto check_method;
    }

    if ((size_t) (end - seg) == 5 && ngx_strncmp(seg, "files", 5) == 0) {
        allowed = NGX_HTTP_GET|NGX_HTTP_HEAD;
        allow = "GET, HEAD";
        ctx->op = NGX_HTTP_GOBI_OP_MANIFEST;
        goto check_method;
    }

    if ((size_t) (end - seg) < 6 || ngx_strncmp(seg, "files/", 6) != 0) {
        goto not_found;
    }

    /* the file path: decoded exactly once, then checked */

    path.data = seg + 6;
    path.len = end - path.data;

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

    allowed = NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PUT|NGX_HTTP_DELETE;
    allow = "GET, HEAD, PUT, DELETE";

    switch (method) {
    case NGX_HTTP_PUT:
        ctx->op = NGX_HTTP_GOBI_OP_FILE_PUT;
        break;
    case NGX_HTTP_DELETE:
        ctx->op = NGX_HTTP_GOBI_OP_FILE_DELETE;
        break;
    default:
        ctx->op = NGX_HTTP_GOBI_OP_FILE_GET;
        break;
    }

check_method:

    if (method & allowed) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    ctx->op = 0;

    return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "method not allowed here");

not_found:

    return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                    "no such endpoint");
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

    /* yajl hands strings over NUL-terminated: refuse an embedded NUL */
    if (ngx_strstr(buf, "\\u0000") != NULL) {
        ngx_cpystrn((u_char *) err, (u_char *) "NUL is not allowed in strings",
                    errlen);
        return NGX_DECLINED;
    }

    *json = yajl_tree_parse((char *) buf, err, errlen);
    if (*json == NULL) {
        return NGX_DECLINED;
    }

    if (!YAJL_IS_OBJECT(*json)) {
        yajl_tree_free(*json);
        *json = NULL;
        ngx_cpystrn((u_char *) err, (u_char *) "expected a JSON object",
                    errlen);
        return NGX_DECLINED;
    }

    return NGX_OK;

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

        rc = ngx_http_gobi_start(r, ctx, json);
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
 * A string member of the JSON body: NGX_OK and *out, NGX_DECLINED when
 * missing or not a string (then the job error says which).
 */

static ngx_int_t
ngx_http_gobi_json_str(ngx_http_request_t *r, yajl_val json, const char *key,
    char **out, size_t *len)
{
    size_t       n;
    yajl_val     v;
    const char  *path[2];

    path[0] = key;
    path[1] = NULL;

    v = json ? yajl_tree_get(json, path, yajl_t_any) : NULL;

    if (v == NULL || !YAJL_IS_STRING(v)) {
        return NGX_DECLINED;
    }

    /* yajl strings are NUL-terminated and may hold NUL: keep the length */
    n = ngx_strlen(v->u.string);

    *out = v->u.string;
    *len = n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_bad_field(ngx_http_request_t *r, const char *key)
{
    u_char  *msg;

    msg = ngx_pnalloc(r->pool, 64 + ngx_strlen(key));
    if (msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(msg, "\"%s\" must be a string%Z", key);

    return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    (char *) msg);
}


static ngx_int_t
ngx_http_gobi_start(ngx_http_request_t *r, ngx_http_gobi_ctx_t *ctx,
    yajl_val json)
{
    size_t                      ulen, plen, nlen;
    char                       *username, *password, *name;
    const char                 *err;
    ngx_int_t                   rc;
    ngx_http_gobi_job_t        *job;
    ngx_http_gobi_run_pt        run;

    job = &ctx->job;

    if (ctx->op != NGX_HTTP_GOBI_OP_USER_CREATE
        && ctx->op != NGX_HTTP_GOBI_OP_SESSION_CREATE)
    {
        rc = ngx_http_gobi_auth_parse(r, job);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                            "unauthorized",
                                            "missing or invalid credentials");
        }
    }

    switch (ctx->op) {

    case NGX_HTTP_GOBI_OP_USER_CREATE:
        if (!job->gmcf->registration) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_FORBIDDEN,
                                            "registration_closed",
                                            "registration is disabled");
        }

        if (ngx_http_gobi_json_str(r, json, "username", &username, &ulen)
            != NGX_OK)
        {
            return ngx_http_gobi_bad_field(r, "username");
        }

        if (ngx_http_gobi_json_str(r, json, "password", &password, &plen)
            != NGX_OK)
        {
            return ngx_http_gobi_bad_field(r, "password");
        }

        err = gobi_username_check(username, ulen);
        if (err) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_username", err);
        }

        if (plen < 8 || plen > 1024) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_password",
                                            "password must be 8-1024 bytes");
        }

        job->username = username;
        job->password = password;
        run = ngx_http_gobi_run_user_create;
        break;

    case NGX_HTTP_GOBI_OP_SESSION_CREATE:
        if (json) {
            if (ngx_http_gobi_json_str(r, json, "username", &username, &ulen)
                != NGX_OK)
            {
                return ngx_http_gobi_bad_field(r, "username");
            }

            if (ngx_http_gobi_json_str(r, json, "password", &password, &plen)
                != NGX_OK)
            {
                return ngx_http_gobi_bad_field(r, "password");
            }

            job->username = username;
            job->password = password;
            job->auth = NGX_HTTP_GOBI_AUTH_BASIC;

        } else {
            rc = ngx_http_gobi_auth_parse(r, job);
            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED || job->auth != NGX_HTTP_GOBI_AUTH_BASIC) {
                return ngx_http_gobi_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                                "unauthorized",
                                                "username and password "
                                                "required");
            }
        }

        run = ngx_http_gobi_run_session_create;
        break;

    case NGX_HTTP_GOBI_OP_SESSION_DELETE:
        if (job->auth != NGX_HTTP_GOBI_AUTH_BEARER) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_request",
                                            "present the token to revoke "
                                            "as \"Authorization: Bearer\"");
        }

        run = ngx_http_gobi_run_session_delete;
        break;

    case NGX_HTTP_GOBI_OP_VAULT_LIST:
        run = ngx_http_gobi_run_vault_list;
        break;

    case NGX_HTTP_GOBI_OP_VAULT_CREATE:
        if (ngx_http_gobi_json_str(r, json, "name", &name, &nlen) != NGX_OK) {
            return ngx_http_gobi_bad_field(r, "name");
        }

        err = gobi_vault_name_check(name, nlen);
        if (err) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_vault_name", err);
        }

        job->vault_name = name;
        run = ngx_http_gobi_run_vault_create;
        break;

    case NGX_HTTP_GOBI_OP_VAULT_DELETE:
        run = ngx_http_gobi_run_vault_delete;
        break;

    case NGX_HTTP_GOBI_OP_MANIFEST:
    case NGX_HTTP_GOBI_OP_EVENTS:
        rc = ngx_http_gobi_query_args(r, job);

        if (rc == NGX_DECLINED) {
            return ngx_http_gobi_send_job(r, job);
        }

        if (rc != NGX_OK) {
            return rc;
        }

        run = (ctx->op == NGX_HTTP_GOBI_OP_MANIFEST)
              ? ngx_http_gobi_run_manifest : ngx_http_gobi_run_events;
        break;

    case NGX_HTTP_GOBI_OP_FILE_PUT:
        return ngx_http_gobi_file_put(r, job);

    case NGX_HTTP_GOBI_OP_FILE_GET:
        return ngx_http_gobi_file_get(r, job);

    case NGX_HTTP_GOBI_OP_FILE_DELETE:
        return ngx_http_gobi_file_delete(r, job);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_gobi_task_post(r, job, run,
                                ctx->op == NGX_HTTP_GOBI_OP_VAULT_DELETE
                                ? ngx_http_gobi_vault_deleted
                                : ngx_http_gobi_send_job)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* ring the vault's subscribers: their next read finds it gone */

static ngx_int_t
ngx_http_gobi_vault_deleted(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    if (job->code == NULL) {
        ngx_http_gobi_bus_publish(job->vault.id, job->vault.head_seq + 1);
    }

    return ngx_http_gobi_send_job(r, job);
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

static ngx_int_t
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


static ngx_int_t
ngx_http_gobi_query_args(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    ssize_t    n;
    int64_t    flag;
    ngx_str_t  value;

    job->since = 0;
    job->limit = NGX_HTTP_GOBI_EVENTS_LIMIT;
    flag = 0;

    if (ngx_http_gobi_arg_int(r, "since", &job->since) != NGX_OK) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"since\" must be a non-negative "
                                "integer");
        return NGX_DECLINED;
    }

    if (ngx_http_gobi_arg_int(r, "limit", &job->limit) != NGX_OK
        || job->limit < 1 || job->limit > NGX_HTTP_GOBI_EVENTS_MAX)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"limit\" must be 1-10000");
        return NGX_DECLINED;
    }

    if (ngx_http_gobi_arg_int(r, "include_deleted", &flag) != NGX_OK
        || flag > 1)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"include_deleted\" must be 0 or 1");
        return NGX_DECLINED;
    }

    job->include_deleted = flag;

    if (ngx_http_arg(r, (u_char *) "prefix", 6, &value) == NGX_OK) {
        job->prefix = ngx_pnalloc(r->pool, value.len + 1);
        if (job->prefix == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* '+' is a space in query strings */
        for (n = 0; n < (ssize_t) value.len; n++) {
            if (value.data[n] == '+') {
                value.data[n] = ' ';
            }
        }

        n = gobi_path_unescape(job->prefix, (char *) value.data, value.len);
        if (n < 0 || ngx_strlen(job->prefix) != (size_t) n) {
            ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST,
                                    "bad_request", "malformed \"prefix\"");
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* thread side -------------------------------------------------------- */


/* the authenticated user's vault named by the request */

ngx_int_t
ngx_http_gobi_job_vault(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = job->gmcf->store_driver->vault_get(job->store, job->user.id,
                                            job->vault_name, &job->vault);
    if (rc == GOBI_STORE_OK) {
        return NGX_OK;
    }

    if (rc == GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_error(job, NGX_HTTP_NOT_FOUND, "vault_not_found",
                                "no such vault");
    } else {
        ngx_http_gobi_job_store_error(job, rc);
    }

    return NGX_ERROR;
}


static void
ngx_http_gobi_gen_vault(yajl_gen g, const gobi_vault_t *v)
{
    yajl_gen_map_open(g);
    ngx_http_gobi_gen_str(g, "id");
    ngx_http_gobi_gen_int(g, v->id);
    ngx_http_gobi_gen_str(g, "name");
    ngx_http_gobi_gen_str(g, v->name);
    ngx_http_gobi_gen_str(g, "created_at");
    ngx_http_gobi_gen_int(g, v->created_at);
    ngx_http_gobi_gen_str(g, "head_seq");
    ngx_http_gobi_gen_int(g, v->head_seq);
    yajl_gen_map_close(g);
}


static ngx_int_t
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


static void
ngx_http_gobi_run_user_create(ngx_http_gobi_job_t *job)
{
    char             pwhash[GOBI_PWHASH_MAX];
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_password_hash(job->password, pwhash) != 0) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "password hashing failed");
        return;
    }

    rc = job->gmcf->store_driver->user_create(job->store, job->username,
                                              pwhash, job->now, &job->user);
    if (rc == GOBI_STORE_EXISTS) {
        ngx_http_gobi_job_error(job, NGX_HTTP_CONFLICT, "user_exists",
                                "this username is taken");
        return;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    job->status = NGX_HTTP_CREATED;

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "id");
    ngx_http_gobi_gen_int(job->gen, job->user.id);
    ngx_http_gobi_gen_str(job->gen, "username");
    ngx_http_gobi_gen_str(job->gen, job->user.username);
    yajl_gen_map_close(job->gen);
}


static void
ngx_http_gobi_run_session_create(ngx_http_gobi_job_t *job)
{
    char             token[64];
    int64_t          expires;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return;
    }

    if (ngx_http_gobi_token_new(job, token, sizeof(token)) != NGX_OK) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "token generation failed");
        return;
    }

    expires = job->now + (int64_t) job->gmcf->token_ttl * 1000;

    rc = job->gmcf->store_driver->token_create(job->store, job->token_hash,
                                               job->user.id, job->now,
                                               expires);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    job->status = NGX_HTTP_CREATED;

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "token");
    ngx_http_gobi_gen_str(job->gen, token);
    ngx_http_gobi_gen_str(job->gen, "expires_at");
    ngx_http_gobi_gen_int(job->gen, expires);
    ngx_http_gobi_gen_str(job->gen, "user");
    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "id");
    ngx_http_gobi_gen_int(job->gen, job->user.id);
    ngx_http_gobi_gen_str(job->gen, "username");
    ngx_http_gobi_gen_str(job->gen, job->user.username);
    yajl_gen_map_close(job->gen);
    yajl_gen_map_close(job->gen);

    sodium_memzero(token, sizeof(token));
}


static void
ngx_http_gobi_run_session_delete(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return;
    }

    rc = job->gmcf->store_driver->token_delete(job->store, job->token_hash);
    if (rc != GOBI_STORE_OK && rc != GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "revoked");
    yajl_gen_bool(job->gen, 1);
    yajl_gen_map_close(job->gen);
}


static int
ngx_http_gobi_vault_cb(void *data, const gobi_vault_t *v)
{
    ngx_http_gobi_gen_vault((yajl_gen) data, v);
    return 0;
}


static void
ngx_http_gobi_run_vault_list(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK
        || ngx_http_gobi_job_gen(job) != NGX_OK)
    {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "vaults");
    yajl_gen_array_open(job->gen);

    rc = job->gmcf->store_driver->vault_list(job->store, job->user.id,
                                             ngx_http_gobi_vault_cb,
                                             job->gen);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    yajl_gen_array_close(job->gen);
    yajl_gen_map_close(job->gen);
}


static void
ngx_http_gobi_run_vault_create(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return;
    }

    rc = job->gmcf->store_driver->vault_create(job->store, job->user.id,
                                               job->vault_name, job->now,
                                               &job->vault);
    if (rc == GOBI_STORE_EXISTS) {
        ngx_http_gobi_job_error(job, NGX_HTTP_CONFLICT, "vault_exists",
                                "you already have a vault of this name");
        return;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    job->status = NGX_HTTP_CREATED;
    ngx_http_gobi_gen_vault(job->gen, &job->vault);
}


static void
ngx_http_gobi_run_vault_delete(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_job_vault(job) != NGX_OK) {
        return;
    }

    rc = job->gmcf->store_driver->vault_delete(job->store, job->vault.id);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    /* the metadata is gone: the blobs are unreachable, remove them now */

    if (job->gmcf->storage_driver->remove_vault(job->storage, job->vault.id)
        != 0)
    {
        snprintf(job->log, sizeof(job->log),
                 "removing the blobs of vault %lld failed",
                 (long long) job->vault.id);
        job->log_level = NGX_LOG_WARN;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "id");
    ngx_http_gobi_gen_int(job->gen, job->vault.id);
    ngx_http_gobi_gen_str(job->gen, "name");
    ngx_http_gobi_gen_str(job->gen, job->vault.name);
    ngx_http_gobi_gen_str(job->gen, "deleted");
    yajl_gen_bool(job->gen, 1);
    yajl_gen_map_close(job->gen);
}


static int
ngx_http_gobi_file_cb(void *data, const gobi_file_t *f)
{
    ngx_http_gobi_gen_file((yajl_gen) data, f, 1);
    return 0;
}


static void
ngx_http_gobi_run_manifest(ngx_http_gobi_job_t *job)
{
    int64_t          seq;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_job_vault(job) != NGX_OK
        || ngx_http_gobi_job_gen(job) != NGX_OK)
    {
        return;
    }

    /* the body opens with "files" and "seq" is added after the listing,
     * when the driver has said which seq it reflects */

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "files");
    yajl_gen_array_open(job->gen);

    seq = 0;

    rc = job->gmcf->store_driver->file_list(job->store, job->vault.id,
                                            job->prefix, job->include_deleted,
                                            &seq, ngx_http_gobi_file_cb,
                                            job->gen);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    yajl_gen_array_close(job->gen);
    ngx_http_gobi_gen_str(job->gen, "seq");
    ngx_http_gobi_gen_int(job->gen, seq);
    yajl_gen_map_close(job->gen);
}


static int
ngx_http_gobi_event_cb(void *data, const gobi_event_t *e)
{
    /* the same event object as on the WebSocket */
    return gobi_wsmsg_gen_event((yajl_gen) data, e) != 0;
}


static void
ngx_http_gobi_run_events(ngx_http_gobi_job_t *job)
{
    int              more;
    int64_t          head;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_job_vault(job) != NGX_OK
        || ngx_http_gobi_job_gen(job) != NGX_OK)
    {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "events");
    yajl_gen_array_open(job->gen);

    head = 0;
    more = 0;

    rc = job->gmcf->store_driver->events_since(job->store, job->vault.id,
                                               job->since, job->limit,
                                               ngx_http_gobi_event_cb,
                                               job->gen, &head, &more);
    if (rc == GOBI_STORE_EXPIRED) {
        ngx_http_gobi_job_error(job, NGX_HTTP_GOBI_GONE, "history_expired",
                                "events after seq %lld are no longer kept; "
                                "rebuild from the manifest",
                                (long long) job->since);
        return;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    yajl_gen_array_close(job->gen);
    ngx_http_gobi_gen_str(job->gen, "head_seq");
    ngx_http_gobi_gen_int(job->gen, head);
    ngx_http_gobi_gen_str(job->gen, "more");
    yajl_gen_bool(job->gen, more);
    yajl_gen_map_close(job->gen);
}
