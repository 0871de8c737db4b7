
/*
 * Copyright (C) the gobi authors
 *
 * hiredis on nginx's event loop: the socket of an async context wrapped
 * in an nginx connection, hiredis' add/del read/write hooks mapped to
 * nginx events.  Events are edge triggered on epoll, so reads are drained
 * until the socket says EAGAIN (hiredis reads 16k per call and cannot
 * tell us) and writes go on while they make progress.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_gobi_bus_redis_io.h"

#include <hiredis/sds.h>


/* reads of 16k in one go before the loop gets its turn */
#define NGX_HTTP_GOBI_REDIS_IO_READS  64


static void ngx_http_gobi_redis_io_add_read(void *data);
static void ngx_http_gobi_redis_io_del_read(void *data);
static void ngx_http_gobi_redis_io_add_write(void *data);
static void ngx_http_gobi_redis_io_del_write(void *data);
static void ngx_http_gobi_redis_io_cleanup(void *data);
static void ngx_http_gobi_redis_io_read(ngx_event_t *rev);
static void ngx_http_gobi_redis_io_write(ngx_event_t *wev);


ngx_int_t
ngx_http_gobi_redis_io_attach(ngx_http_gobi_redis_io_t *io,
    redisAsyncContext *ac)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = io;
    c->read->handler = ngx_http_gobi_redis_io_read;
    c->write->handler = ngx_http_gobi_redis_io_write;
    c->read->log = c->log;
    c->write->log = c->log;

    /* not a client connection: a shutdown leaves it to exit_process */
    c->read->channel = 1;
    c->write->channel = 1;

    io->c = c;
    io->ac = ac;
    io->writing = 0;
    ac->data = io->data;

    ac->ev.data = io;
    ac->ev.addRead = ngx_http_gobi_redis_io_add_read;
    ac->ev.delRead = ngx_http_gobi_redis_io_del_read;
    ac->ev.addWrite = ngx_http_gobi_redis_io_add_write;
    ac->ev.delWrite = ngx_http_gobi_redis_io_del_write;
    ac->ev.cleanup = ngx_http_gobi_redis_io_cleanup;

    return NGX_OK;
}


#define ngx_http_gobi_redis_io_flags                                       \
    ((ngx_event_flags & NGX_USE_CLEAR_EVENT) ? NGX_CLEAR_EVENT                \
                                             : NGX_LEVEL_EVENT)


static void
ngx_http_gobi_redis_io_add_read(void *data)
{
    ngx_http_gobi_redis_io_t *io = data;

    ngx_event_t  *rev;

    rev = io->c->read;

    if (!rev->active) {
        if (ngx_add_event(rev, NGX_READ_EVENT, ngx_http_gobi_redis_io_flags)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "gobi: redis: cannot add a read event");
        }
    }
}


static void
ngx_http_gobi_redis_io_del_read(void *data)
{
    ngx_http_gobi_redis_io_t *io = data;

    ngx_event_t  *rev;

    rev = io->c->read;

    /* edge-triggered: an armed event costs nothing */

    if (rev->active && !(ngx_event_flags & NGX_USE_CLEAR_EVENT)) {
        (void) ngx_del_event(rev, NGX_READ_EVENT, 0);
    }
}


/*
 * hiredis asks to write after every command: the write is tried at the
 * end of this loop iteration, so a burst of PUBLISHes goes in one write(2)
 * and the event is registered with the kernel only when the socket is
 * full (or still connecting).
 */

static void
ngx_http_gobi_redis_io_add_write(void *data)
{
    ngx_http_gobi_redis_io_t *io = data;

    ngx_event_t  *wev;

    if (io->writing) {
        return;
    }

    wev = io->c->write;

    if (!(io->ac->c.flags & REDIS_CONNECTED)) {
        /*
         * hiredis takes the first write event for "connected" (it only
         * looks at SO_ERROR): that must be the kernel's, not ours
         */

        if (!wev->active
            && ngx_add_event(wev, NGX_WRITE_EVENT,
                             ngx_http_gobi_redis_io_flags)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "gobi: redis: cannot add a write event");
        }

        return;
    }

    if (!wev->posted) {
        ngx_post_event(wev, &ngx_posted_events);
    }
}


static void
ngx_http_gobi_redis_io_del_write(void *data)
{
    ngx_http_gobi_redis_io_t *io = data;

    ngx_event_t  *wev;

    wev = io->c->write;

    if (wev->active && !(ngx_event_flags & NGX_USE_CLEAR_EVENT)) {
        (void) ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_gobi_redis_io_write(ngx_event_t *wev)
{
    size_t                           before, left;
    redisAsyncContext               *ac;
    ngx_connection_t                *c;
    ngx_http_gobi_redis_io_t        *io;

    c = wev->data;
    io = c->data;
    ac = io->ac;

    io->writing = 1;

    for ( ;; ) {
        before = sdslen(ac->c.obuf);

        redisAsyncHandleWrite(ac);

        if (io->ac == NULL) {
            /* freed: c is gone too (and io->writing was reset) */
            return;
        }

        if (!(ac->c.flags & REDIS_CONNECTED)) {
            /* still connecting: the kernel tells when it is done */
            break;
        }

        left = sdslen(ac->c.obuf);

        if (left == 0) {
            io->writing = 0;
            return;
        }

        if (left == before) {
            /* EAGAIN */
            break;
        }
    }

    io->writing = 0;

    if (!wev->active) {
        if (ngx_add_event(wev, NGX_WRITE_EVENT, ngx_http_gobi_redis_io_flags)
            != NGX_OK)
        {
            io->failed(io->data, "cannot add a write event");
        }
    }
}


/*
 * hiredis reads at most 16k per call and hides EAGAIN; on edge-triggered
 * epoll a read event is not repeated while data is left, so we peek
 * until the socket is empty (or at EOF or an error, which hiredis then
 * reads and handles).  After many reads the rest waits for the next
 * iteration, so a flood of messages does not starve the worker.
 */

static void
ngx_http_gobi_redis_io_read(ngx_event_t *rev)
{
    u_char                           b;
    ssize_t                          n;
    ngx_err_t                        err;
    ngx_uint_t                       reads;
    redisAsyncContext               *ac;
    ngx_connection_t                *c;
    ngx_http_gobi_redis_io_t        *io;

    c = rev->data;
    io = c->data;
    ac = io->ac;

    for (reads = 0; reads < NGX_HTTP_GOBI_REDIS_IO_READS; /* void */ ) {

        redisAsyncHandleRead(ac);

        if (io->ac == NULL) {
            return;
        }

        if (!(ac->c.flags & REDIS_CONNECTED)) {
            return;
        }

        reads++;

        n = recv(c->fd, &b, 1, MSG_PEEK);

        if (n == -1) {
            err = ngx_socket_errno;

            if (err == NGX_EAGAIN) {
                return;
            }

            if (err == NGX_EINTR) {
                continue;
            }
        }

        /* data, EOF or an error: hiredis reads it */
    }

    ngx_post_event(rev, &ngx_posted_events);
}


/* hiredis frees the context: nginx closes the socket (and forgets its
 * events), not hiredis; then the owner hears of it */

static void
ngx_http_gobi_redis_io_cleanup(void *data)
{
    ngx_http_gobi_redis_io_t *io = data;

    redisAsyncContext  *ac;

    ac = io->ac;

    if (ac == NULL) {
        return;
    }

    if (io->c) {
        ac->c.fd = -1;
        ngx_close_connection(io->c);
        io->c = NULL;
    }

    io->ac = NULL;
    io->writing = 0;

    io->closed(io->data, ac);
}
