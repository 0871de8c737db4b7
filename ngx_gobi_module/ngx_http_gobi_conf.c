
/*
 * Copyright (C) the gobi authors
 *
 * Configuration helpers of the driver families (store/, storage/, bus/):
 * the driver of a "scheme:..." value, data folders nginx makes at
 * start-up, the form of a URI that may be logged, and gobi_bus_prefix.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_conf.h"


/*
 * Registers a folder with nginx's path list: nginx then creates it at
 * start-up, owned by the worker user, and refuses to start if it cannot.
 * nginx makes one level per path, so missing parents are added first.
 */

ngx_int_t
ngx_http_gobi_add_path(ngx_conf_t *cf, ngx_str_t *name, ngx_path_t **out)
{
    size_t           len;
    ngx_path_t      *path;
    ngx_file_info_t  fi;

    for (len = 1; len <= name->len; len++) {

        if (len < name->len && name->data[len] != '/') {
            continue;
        }

        path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
        if (path == NULL) {
            return NGX_ERROR;
        }

        /* nginx's mkdir() takes the name as a C string */
        path->name.len = len;
        path->name.data = ngx_pnalloc(cf->pool, len + 1);
        if (path->name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(path->name.data, name->data, len);
        path->name.data[len] = '\0';

        if (len < name->len
            && ngx_file_info(path->name.data, &fi) != NGX_FILE_ERROR)
        {
            continue;
        }

        path->conf_file = cf->conf_file->file.name.data;
        path->line = cf->conf_file->line;

        if (ngx_add_path(cf, &path) != NGX_OK) {
            return NGX_ERROR;
        }

        if (len == name->len && out) {
            *out = path;
        }
    }

    return NGX_OK;
}


/*
 * The driver of a "scheme:..." value, from a family's table (store,
 * storage, bus), and the argument it opens: the whole value, or what
 * follows the scheme as a path taken from the prefix, like nginx's own
 * paths, whose folder nginx creates at start-up.
 */

char *
ngx_http_gobi_scheme_find(ngx_conf_t *cf, const char *directive,
    const ngx_http_gobi_scheme_t *schemes, const char *expected,
    ngx_str_t *value, const ngx_http_gobi_scheme_t **found, ngx_str_t *arg)
{
    u_char                        *p, *slash;
    ngx_str_t                      dir, *data;
    const ngx_http_gobi_scheme_t  *s;
    ngx_http_gobi_main_conf_t     *gmcf;

    for (s = schemes; s->prefix.len; s++) {

        if (value->len < s->prefix.len
            || ngx_strncmp(value->data, s->prefix.data, s->prefix.len) != 0)
        {
            continue;
        }

        if (s->arg == NGX_HTTP_GOBI_ARG_NONE) {
            if (value->len != s->prefix.len) {
                continue;
            }

        } else if (value->len == s->prefix.len) {
            continue;
        }

        if (s->driver == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": the %s is not built into this "
                               "module (its library was not found)",
                               directive, s->name);
            return NGX_CONF_ERROR;
        }

        *found = s;

        if (s->arg == NGX_HTTP_GOBI_ARG_URI
            || s->arg == NGX_HTTP_GOBI_ARG_NONE)
        {
            dir = *value;
            goto copy;
        }

        dir.data = value->data + s->prefix.len;
        dir.len = value->len - s->prefix.len;

        if (s->arg == NGX_HTTP_GOBI_ARG_FILE) {
            if (dir.data[dir.len - 1] == '/') {
                goto invalid;
            }

        } else {
            while (dir.len > 1 && dir.data[dir.len - 1] == '/') {
                dir.len--;
            }
        }

        if (ngx_conf_full_name(cf->cycle, &dir, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        *arg = dir;

        if (s->arg == NGX_HTTP_GOBI_ARG_FILE) {
            /* the file's folder */
            slash = NULL;
            for (p = dir.data; p < dir.data + dir.len; p++) {
                if (*p == '/') {
                    slash = p;
                }
            }

            dir.len = (slash && slash != dir.data) ? slash - dir.data : 0;
        }

        if (dir.len) {
            if (ngx_http_gobi_add_path(cf, &dir, NULL) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            gmcf = ngx_http_conf_get_module_main_conf(cf,
                                                      ngx_http_gobi_module);
            data = ngx_array_push(&gmcf->data_paths);
            if (data == NULL) {
                return NGX_CONF_ERROR;
            }

            *data = dir;
        }

        dir = *arg;

    copy:

        /* drivers are nginx-free: they take C strings */
        arg->data = ngx_pnalloc(cf->pool, dir.len + 1);
        if (arg->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(arg->data, dir.data, dir.len);
        arg->data[dir.len] = '\0';
        arg->len = dir.len;

        return NGX_CONF_OK;
    }

invalid:

    if (ngx_http_gobi_uri_mask(cf->pool, value, &dir) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%s\" value \"%V\": expected %s",
                       directive, &dir, expected);
    return NGX_CONF_ERROR;
}


/*
 * The form of a URI for logs and error messages: the password goes
 * ("mongodb://user:***@host", "redis://:***@host").  The user part ends
 * at the last '@', so a password with an unescaped '@', '/' or '?' goes
 * whole.  A value with an '@' but no "://" is no URI we parse, only a
 * mistyped one: everything from its first ':' to the '@' goes.  Without
 * an '@' there is no password: the value is used as it is.
 */

ngx_int_t
ngx_http_gobi_uri_mask(ngx_pool_t *pool, ngx_str_t *value, ngx_str_t *out)
{
    u_char     *p, *last, *start, *at, *from;
    ngx_str_t   in, *uri;

    /* out may be value */
    in = *value;
    uri = &in;

    last = uri->data + uri->len;

    at = NULL;
    for (p = uri->data; p < last; p++) {
        if (*p == '@') {
            at = p;
        }
    }

    if (at == NULL) {
        *out = *uri;
        return NGX_OK;
    }

    start = NULL;
    for (p = uri->data; p + 3 <= at; p++) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            start = p + 3;
            break;
        }
    }

    if (start) {
        /* user:password@: the user stays */
        from = ngx_strlchr(start, at, ':');
        if (from == NULL) {
            *out = *uri;
            return NGX_OK;
        }

        from++;

    } else {
        from = ngx_strlchr(uri->data, at, ':');
        from = from ? from + 1 : uri->data;
    }

    out->len = (from - uri->data) + sizeof("***") - 1 + (last - at);
    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out->data, uri->data, from - uri->data);
    p = ngx_cpymem(p, "***", sizeof("***") - 1);
    ngx_memcpy(p, at, last - at);

    return NGX_OK;
}


/*
 * gobi_bus_prefix names a deployment's channels on a shared Redis: one
 * word of printable ASCII, bounded so that a channel name is too.
 */

ngx_int_t
ngx_http_gobi_bus_prefix_check(ngx_conf_t *cf, ngx_str_t *prefix)
{
    size_t  i;

    if (prefix->len == 0 || prefix->len > NGX_HTTP_GOBI_BUS_PREFIX_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_bus_prefix\" must be 1 to %d characters",
                           NGX_HTTP_GOBI_BUS_PREFIX_MAX);
        return NGX_ERROR;
    }

    for (i = 0; i < prefix->len; i++) {
        if (prefix->data[i] <= ' ' || prefix->data[i] >= 0x7f) {
            /* not echoed: it may hold control characters */
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gobi_bus_prefix\" must be printable "
                               "ASCII without spaces");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
