
/*
 * Copyright (C) the gobi authors
 *
 * The metadata store drivers, chosen by the scheme of "gobi_store".
 * A driver is one nginx-free file behind gobi_store_driver_t
 * (gobi_store.h) and one entry here.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_conf.h"


static const ngx_http_gobi_scheme_t  ngx_http_gobi_store_schemes[] = {

    { ngx_string("sqlite:"), NGX_HTTP_GOBI_ARG_FILE,
      &gobi_store_sqlite, "SQLite store" },

#if (NGX_HTTP_GOBI_MONGODB)
    { ngx_string("mongodb://"), NGX_HTTP_GOBI_ARG_URI,
      &gobi_store_mongodb, "MongoDB store" },
    { ngx_string("mongodb+srv://"), NGX_HTTP_GOBI_ARG_URI,
      &gobi_store_mongodb, "MongoDB store" },
#else
    { ngx_string("mongodb://"), NGX_HTTP_GOBI_ARG_URI,
      NULL, "MongoDB store" },
    { ngx_string("mongodb+srv://"), NGX_HTTP_GOBI_ARG_URI,
      NULL, "MongoDB store" },
#endif

    { ngx_null_string, 0, NULL, NULL }
};


char *
ngx_http_gobi_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    char                          *rv;
    ngx_str_t                     *value, uri;
    const ngx_http_gobi_scheme_t  *s;

    if (gmcf->store_driver) {
        return "is duplicate";
    }

    if (cmd) {
        value = cf->args->elts;
        uri = value[1];

    } else {
        ngx_str_set(&uri, "sqlite:var/gobi.db");
    }

    rv = ngx_http_gobi_scheme_find(cf, "gobi_store",
                                   ngx_http_gobi_store_schemes,
                                   "\"sqlite:/path/to/file.db\" or "
                                   "\"mongodb://...\"",
                                   &uri, &s, &gmcf->store_arg);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* store_uri is what the logs show: never the password (the driver
     * opens store_arg) */

    if (s->arg == NGX_HTTP_GOBI_ARG_URI
        && ngx_http_gobi_uri_mask(cf->pool, &uri, &uri) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    gmcf->store_uri = uri;
    gmcf->store_driver = s->driver;

    return NGX_CONF_OK;
}
