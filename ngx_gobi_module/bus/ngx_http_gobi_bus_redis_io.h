
/*
 * Copyright (C) the gobi authors
 *
 * hiredis on nginx's event loop (ngx_http_gobi_bus_redis_io.c).
 */


#ifndef _NGX_HTTP_GOBI_BUS_REDIS_IO_H_INCLUDED_
#define _NGX_HTTP_GOBI_BUS_REDIS_IO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/async.h>


typedef struct {
    redisAsyncContext   *ac;               /* NULL once hiredis freed it */
    ngx_connection_t    *c;
    void                *data;             /* the owner; also ac->data */

    /* hiredis freed ac (its socket is closed); ac is still readable */
    void               (*closed)(void *data, redisAsyncContext *ac);
    /* an event could not be registered: the owner drops the context */
    void               (*failed)(void *data, const char *why);

    unsigned             writing:1;
} ngx_http_gobi_redis_io_t;


/* set io->data, closed and failed first */
ngx_int_t ngx_http_gobi_redis_io_attach(ngx_http_gobi_redis_io_t *io,
    redisAsyncContext *ac);


#endif /* _NGX_HTTP_GOBI_BUS_REDIS_IO_H_INCLUDED_ */
