
/*
 * Copyright (C) the gobi authors
 *
 * ngx_http_gobi_conf.c: what the driver families (store/, storage/, bus/)
 * share at configuration time beside ngx_http_gobi_scheme_find(): the
 * form of a URI that may be logged.
 */


#ifndef _NGX_HTTP_GOBI_CONF_H_INCLUDED_
#define _NGX_HTTP_GOBI_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_int_t ngx_http_gobi_uri_mask(ngx_pool_t *pool, ngx_str_t *value,
    ngx_str_t *out);


#endif /* _NGX_HTTP_GOBI_CONF_H_INCLUDED_ */
