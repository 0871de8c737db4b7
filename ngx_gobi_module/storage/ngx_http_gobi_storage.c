
/*
 * Copyright (C) the gobi authors
 *
 * The blob storage drivers, chosen by the scheme of "gobi_storage".
 * A driver is one nginx-free file behind gobi_storage_driver_t
 * (gobi_storage.h) and one entry here.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_conf.h"


static const ngx_http_gobi_scheme_t  ngx_http_gobi_storage_schemes[] = {

    { ngx_string("local:"), NGX_HTTP_GOBI_ARG_DIR,
      &gobi_storage_local, "local storage" },

    { ngx_null_string, 0, NULL, NULL }
};


char *
ngx_http_gobi_storage(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    char                          *rv;
    ngx_str_t                     *value, uri, tmp;
    const ngx_http_gobi_scheme_t  *s;

    if (gmcf->storage_driver) {
        return "is duplicate";
    }

    if (cmd) {
        value = cf->args->elts;
        uri = value[1];

    } else {
        ngx_str_set(&uri, "local:var/vaults");
    }

    rv = ngx_http_gobi_scheme_find(cf, "gobi_storage",
                                   ngx_http_gobi_storage_schemes,
                                   "\"local:/path/to/folder\"",
                                   &uri, &s, &gmcf->storage_root);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* storage_uri is what the logs show: a URI's password never is */

    if (s->arg == NGX_HTTP_GOBI_ARG_URI
        && ngx_http_gobi_uri_mask(cf->pool, &uri, &uri) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    gmcf->storage_uri = uri;
    gmcf->storage_driver = s->driver;

    /* upload temp files live under the root: same filesystem, so a
     * finished upload becomes a blob by rename() */

    tmp.len = gmcf->storage_root.len + sizeof("/.tmp") - 1;
    tmp.data = ngx_pnalloc(cf->pool, tmp.len);
    if (tmp.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(tmp.data, "%V/.tmp", &gmcf->storage_root);

    if (ngx_http_gobi_add_path(cf, &tmp, &gmcf->tmp_path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
