
/*
 * Copyright (C) the gobi authors
 *
 * The web page: gobi_web serves the files of web/ that scripts/web-embed
 * compiled into the module (ngx_http_gobi_web_files.c), or with
 * gobi_web_root the files of a folder (for working on the page without
 * rebuilding).  Names are one path component of [A-Za-z0-9._-] that does
 * not start with a dot: nothing else is looked up, so nothing outside the
 * page can be reached.  GET and HEAD only; every error is JSON.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_web.h"


#define NGX_HTTP_GOBI_WEB_NAME_MAX  128


typedef struct {
    ngx_str_t                      ext;
    ngx_str_t                      type;
    ngx_flag_t                     utf8;         /* "; charset=utf-8" */
} ngx_http_gobi_web_type_t;


static ngx_int_t ngx_http_gobi_web_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gobi_web_name(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_gobi_web_headers(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_gobi_web_embedded(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_gobi_web_file(ngx_http_request_t *r,
    ngx_str_t *root, ngx_str_t *name);
static ngx_int_t ngx_http_gobi_web_send(ngx_http_request_t *r,
    ngx_buf_t *b);


static ngx_http_gobi_web_type_t  ngx_http_gobi_web_types[] = {
    { ngx_string("html"), ngx_string("text/html"), 1 },
    { ngx_string("js"), ngx_string("text/javascript"), 1 },
    { ngx_string("css"), ngx_string("text/css"), 1 },
    { ngx_string("json"), ngx_string("application/json"), 0 },
    { ngx_string("txt"), ngx_string("text/plain"), 1 },
    { ngx_string("svg"), ngx_string("image/svg+xml"), 0 },
    { ngx_string("png"), ngx_string("image/png"), 0 },
    { ngx_string("ico"), ngx_string("image/x-icon"), 0 },
    { ngx_string("webmanifest"), ngx_string("application/manifest+json"), 0 },
    { ngx_null_string, ngx_string("application/octet-stream"), 0 }
};


/*
 * The page talks to its own origin only: the REST API, and the WebSocket
 * ('self' covers ws: and wss: to the same host, CSP level 3).
 */
#define NGX_HTTP_GOBI_WEB_CSP                                                 \
    "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "    \
    "object-src 'none'; base-uri 'none'; form-action 'none'; "                \
    "frame-ancestors 'none'"


/* gobi_web: this location serves the page */

char *
ngx_http_gobi_web(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_loc_conf_t *glcf = conf;

    ngx_http_gobi_web_file_t   *f;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_gobi_main_conf_t  *gmcf;

    if (glcf->web != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    glcf->web = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_gobi_web_handler;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gobi_module);
    gmcf->enabled = 1;

    /* the embedded files' ETags, once, before the workers fork */

    for (f = ngx_http_gobi_web_files; f->name.len; f++) {
        if (f->crc == 0) {
            f->crc = ngx_crc32_long(f->data, f->len) | 1;
        }
    }

    return NGX_CONF_OK;
}


/* gobi_web_root /path: the files of a folder instead of the embedded ones */

char *
ngx_http_gobi_web_root(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_loc_conf_t *glcf = conf;

    ngx_str_t        *value, root;
    ngx_file_info_t   fi;

    if (glcf->web_root.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    root = value[1];

    while (root.len > 1 && root.data[root.len - 1] == '/') {
        root.len--;
    }

    if (root.len == 0) {
        return "takes a folder";
    }

    if (ngx_conf_full_name(cf->cycle, &root, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(root.data, &fi) == NGX_FILE_ERROR || !ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"gobi_web_root\": \"%V\" is not a folder",
                           &root);
        return NGX_CONF_ERROR;
    }

    glcf->web_root = root;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gobi_web_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  name;
    ngx_http_gobi_loc_conf_t  *glcf;

    /* a body is never read, on a refusal neither (keepalive stays sane) */

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_gobi_add_header(r, "Allow", "GET, HEAD") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                        "method_not_allowed",
                                        "the web page takes GET and HEAD");
    }

    if (ngx_http_gobi_web_name(r, &name) != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "gobi web: no such name \"%V\"", &r->uri);

        return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such file in the web page");
    }

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gobi_module);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gobi web: \"%V\" from %s", &name,
                   glcf->web_root.data ? "the folder" : "the module");

    if (glcf->web_root.data) {
        return ngx_http_gobi_web_file(r, &glcf->web_root, &name);
    }

    return ngx_http_gobi_web_embedded(r, &name);
}


/*
 * The name below the location: "/app/" is index.html, "/app/app.js" is
 * app.js; anything with another "/" or an unusual byte is not a name.
 */

static ngx_int_t
ngx_http_gobi_web_name(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char                    *p, *last, c;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (clcf->name.len && clcf->name.data[clcf->name.len - 1] == '/'
        && r->uri.len >= clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;

    } else {
        /* a regex or exact location: the last component */
        while (last > p && last[-1] != '/') {
            last--;
        }

        p = last;
        last = r->uri.data + r->uri.len;
    }

    name->data = p;
    name->len = last - p;

    if (name->len == 0) {
        ngx_str_set(name, "index.html");
        return NGX_OK;
    }

    if (name->len > NGX_HTTP_GOBI_WEB_NAME_MAX || *p == '.') {
        return NGX_DECLINED;
    }

    for ( /* void */ ; p < last; p++) {
        c = *p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
        {
            continue;
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* Content-Type by extension, caching and the page's security headers */

static ngx_int_t
ngx_http_gobi_web_headers(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char                    *dot;
    ngx_str_t                  ext;
    ngx_http_gobi_web_type_t  *t;

    /* after the last dot */

    ext.data = name->data + name->len;
    ext.len = 0;

    for (dot = ext.data; dot > name->data; dot--) {
        if (dot[-1] == '.') {
            ext.data = dot;
            ext.len = name->data + name->len - dot;
            break;
        }
    }

    for (t = ngx_http_gobi_web_types; t->ext.len; t++) {
        if (t->ext.len == ext.len
            && ngx_strncasecmp(t->ext.data, ext.data, ext.len) == 0)
        {
            break;
        }
    }

    r->headers_out.content_type = t->type;
    r->headers_out.content_type_len = t->type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (t->utf8) {
        ngx_str_set(&r->headers_out.charset, "utf-8");
    }

    /* always asked again, answered with 304 while the ETag holds */

    if (ngx_http_gobi_add_header(r, "Cache-Control", "no-cache") != NGX_OK
        || ngx_http_gobi_add_header(r, "X-Content-Type-Options", "nosniff")
           != NGX_OK
        || ngx_http_gobi_add_header(r, "Referrer-Policy", "no-referrer")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the page itself (html, the table's first type) */

    if (t == ngx_http_gobi_web_types
        && ngx_http_gobi_add_header(r, "Content-Security-Policy",
                                    NGX_HTTP_GOBI_WEB_CSP)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_web_embedded(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char                    *p;
    ngx_buf_t                 *b;
    ngx_table_elt_t           *etag;
    ngx_http_gobi_web_file_t  *f;

    for (f = ngx_http_gobi_web_files; f->name.len; f++) {
        if (f->name.len == name->len
            && ngx_strncmp(f->name.data, name->data, name->len) == 0)
        {
            break;
        }
    }

    if (f->name.len == 0) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such file in the web page");
    }

    if (ngx_http_gobi_web_headers(r, name) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the ETag: the bytes' CRC32 and length ("W/" is not needed) */

    etag = ngx_list_push(&r->headers_out.headers);
    if (etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, sizeof("\"-\"") - 1 + 8 + NGX_SIZE_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag->hash = 1;
    ngx_str_set(&etag->key, "ETag");
    etag->value.data = p;
    etag->value.len = ngx_sprintf(p, "\"%08xD-%xz\"", f->crc, f->len) - p;
    r->headers_out.etag = etag;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = f->len;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the module's own bytes, never written to */
    b->pos = f->data;
    b->last = f->data + f->len;
    b->memory = f->len ? 1 : 0;

    return ngx_http_gobi_web_send(r, b);
}


static ngx_int_t
ngx_http_gobi_web_file(ngx_http_request_t *r, ngx_str_t *root,
    ngx_str_t *name)
{
    u_char                    *p;
    ngx_fd_t                   fd;
    ngx_err_t                  err;
    ngx_str_t                  path;
    ngx_buf_t                 *b;
    ngx_file_info_t            fi;
    ngx_pool_cleanup_t        *cln;
    ngx_pool_cleanup_file_t   *clnf;

    path.len = root->len + 1 + name->len;
    path.data = ngx_pnalloc(r->pool, path.len + 1);
    if (path.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(path.data, root->data, root->len);
    *p++ = '/';
    p = ngx_cpymem(p, name->data, name->len);
    *p = '\0';

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a symbolic link in the folder is not followed */

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY|O_NOFOLLOW, NGX_FILE_OPEN,
                       0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (err != NGX_ENOENT && err != NGX_ENOTDIR && err != NGX_ELOOP) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, err,
                          "gobi: web: " ngx_open_file_n " \"%V\" failed",
                          &path);
            return ngx_http_gobi_send_error(r,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR,
                                            "internal_error",
                                            "the file cannot be read");
        }

        return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such file in the web page");
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = fd;
    clnf->name = path.data;
    clnf->log = r->pool->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "gobi: web: " ngx_fd_info_n " \"%V\" failed", &path);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_is_file(&fi)) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such file in the web page");
    }

    if (ngx_http_gobi_web_headers(r, name) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ngx_file_size(&fi);
    r->headers_out.last_modified_time = ngx_file_mtime(&fi);

    if (ngx_http_set_etag(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file_pos = 0;
    b->file_last = ngx_file_size(&fi);
    b->in_file = b->file_last ? 1 : 0;
    b->file->fd = fd;
    b->file->name = path;
    b->file->log = r->connection->log;

    return ngx_http_gobi_web_send(r, b);
}


static ngx_int_t
ngx_http_gobi_web_send(ngx_http_request_t *r, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
