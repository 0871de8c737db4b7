
/*
 * Copyright (C) the gobi authors
 *
 * The event bus drivers, chosen by the scheme of "gobi_bus".  A driver is
 * one file behind ngx_http_gobi_bus_t (ngx_http_gobi_bus.h) and one entry
 * here.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_bus.h"
#include "ngx_http_gobi_metrics.h"


static const ngx_http_gobi_scheme_t  ngx_http_gobi_bus_schemes[] = {

    { ngx_string("local"), NGX_HTTP_GOBI_ARG_NONE,
      &ngx_http_gobi_bus_local, "local bus" },

#if (NGX_HTTP_GOBI_REDIS)
    { ngx_string("redis://"), NGX_HTTP_GOBI_ARG_URI,
      &ngx_http_gobi_bus_redis, "Redis bus" },
    { ngx_string("rediss://"), NGX_HTTP_GOBI_ARG_URI,
      &ngx_http_gobi_bus_redis, "Redis bus" },
#else
    { ngx_string("redis://"), NGX_HTTP_GOBI_ARG_URI,
      NULL, "Redis bus" },
    { ngx_string("rediss://"), NGX_HTTP_GOBI_ARG_URI,
      NULL, "Redis bus" },
#endif

    { ngx_null_string, 0, NULL, NULL }
};


char *
ngx_http_gobi_bus(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    char                          *rv;
    ngx_str_t                     *value, uri, arg;
    const ngx_http_gobi_scheme_t  *s;

    if (gmcf->bus_uri.data) {
        return "is duplicate";
    }

    if (cmd) {
        value = cf->args->elts;
        uri = value[1];

    } else {
        ngx_str_set(&uri, "local");
    }

    rv = ngx_http_gobi_scheme_find(cf, "gobi_bus", ngx_http_gobi_bus_schemes,
                                   "\"local\" or \"redis://host:port/db\"",
                                   &uri, &s, &arg);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    gmcf->bus_uri = uri;
    gmcf->bus = s->driver;

    return NGX_CONF_OK;
}


void
ngx_http_gobi_bus_publish(int64_t vault, int64_t seq)
{
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_gobi_module);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "gobi: %s bus: publish vault %L at seq %L",
                   gmcf->bus->scheme, vault, seq);

    ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_EVENTS_PUBLISHED, 1);

    gmcf->bus->publish(vault, seq);
}
