
/*
 * Copyright (C) the gobi authors
 *
 * ngx_http_gobi_conf.c: what the driver families (store/, storage/, bus/)
 * share at configuration time beside ngx_http_gobi_scheme_find(): the
 * form of a URI that may be logged, and the check of gobi_bus_prefix.
 */


#ifndef _NGX_HTTP_GOBI_CONF_H_INCLUDED_
#define _NGX_HTTP_GOBI_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_GOBI_BUS_PREFIX_MAX  64


ngx_int_t ngx_http_gobi_uri_mask(ngx_pool_t *pool, ngx_str_t *value,
    ngx_str_t *out);
ngx_int_t ngx_http_gobi_bus_prefix_check(ngx_conf_t *cf, ngx_str_t *prefix);


#endif /* _NGX_HTTP_GOBI_CONF_H_INCLUDED_ */
