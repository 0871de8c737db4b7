
/*
 * Copyright (C) the gobi authors
 *
 * The WebSocket transport (ngx_http_gobi_ws.c): RFC 6455 handshake,
 * frames in and out through a bounded send queue, ping, close, and thread
 * tasks that keep the connection until they are back.  It knows nothing
 * of vaults: its user gives it a table of hooks and hangs its own state
 * on ws->data.
 */


#ifndef _NGX_HTTP_GOBI_WS_H_INCLUDED_
#define _NGX_HTTP_GOBI_WS_H_INCLUDED_


#include "ngx_http_gobi_module.h"
#include "gobi_ws_frame.h"


typedef struct ngx_http_gobi_ws_out_s  ngx_http_gobi_ws_out_t;

struct ngx_http_gobi_ws_out_s {
    ngx_http_gobi_ws_out_t        *next;
    size_t                         len;
    size_t                         sent;
    u_char                         data[1];
};


typedef struct ngx_http_gobi_ws_s    ngx_http_gobi_ws_t;


/*
 * What the transport tells its user:
 *   on_open      upgraded, nothing sent yet: set ws->data (NGX_ERROR: 500);
 *   on_text      a text message (reading waits while paused);
 *   on_binary    a binary message;
 *   on_writable  the send queue is empty;
 *   on_close     once, when the connection closes or nginx closes it: let
 *                go of ws (tasks in flight are not done any more) and free
 *                what is yours.
 */
typedef struct {
    ngx_int_t                    (*on_open)(ngx_http_gobi_ws_t *ws);
    void                         (*on_text)(ngx_http_gobi_ws_t *ws,
                                            u_char *p, size_t len);
    void                         (*on_binary)(ngx_http_gobi_ws_t *ws,
                                              u_char *p, size_t len);
    void                         (*on_writable)(ngx_http_gobi_ws_t *ws);
    void                         (*on_close)(ngx_http_gobi_ws_t *ws);
} ngx_http_gobi_ws_hooks_t;


struct ngx_http_gobi_ws_s {
    ngx_http_request_t            *request;
    ngx_connection_t              *connection;
    ngx_http_gobi_loc_conf_t      *conf;
    gobi_user_t                    user;     /* who authenticated */
    char                           token_hash[GOBI_HASH_HEX_LEN + 1];

    const ngx_http_gobi_ws_hooks_t *hooks;
    void                          *data;     /* the user's */

    gobi_ws_assembler_t            in;
    u_char                        *rbuf;
    u_char                        *rpos;
    u_char                        *rlast;

    ngx_http_gobi_ws_out_t        *out;
    ngx_http_gobi_ws_out_t       **out_last;
    size_t                         queued;

    ngx_event_t                    ping;
    ngx_event_t                    close_ev;

    ngx_uint_t                     tasks;    /* thread tasks in flight */

    unsigned                       busy:1;     /* paused: reading waits */
    unsigned                       checking:1; /* a token re-check runs */
    unsigned                       pong:1;
    unsigned                       closing:1;  /* close frame queued */
    unsigned                       lingering:1; /* ours out: drain input */
    unsigned                       peer_closed:1; /* its close frame came */
    unsigned                       closed:1;   /* torn down */
    unsigned                       cleaned:1;  /* nginx ran our cleanup */
};


ngx_int_t ngx_http_gobi_ws_accept(ngx_http_request_t *r,
    const ngx_http_gobi_ws_hooks_t *hooks);
void ngx_http_gobi_ws_pause(ngx_http_gobi_ws_t *ws);
void ngx_http_gobi_ws_resume(ngx_http_gobi_ws_t *ws);
ngx_int_t ngx_http_gobi_ws_send_text(ngx_http_gobi_ws_t *ws,
    const u_char *p, size_t len);
ngx_int_t ngx_http_gobi_ws_send_gen(ngx_http_gobi_ws_t *ws, yajl_gen g);
void ngx_http_gobi_ws_fail(ngx_http_gobi_ws_t *ws, unsigned code,
    const char *reason);
void ngx_http_gobi_ws_end(ngx_http_gobi_ws_t *ws, unsigned code,
    const char *reason);

/*
 * A thread task for a connection: job and task live in one malloc'd block
 * (a long-lived connection must not grow its request pool), and the
 * connection is kept until every task of it has come back; done is not
 * called once it has closed.
 */
typedef void (*ngx_http_gobi_ws_done_pt)(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);

ngx_http_gobi_job_t *ngx_http_gobi_ws_job(ngx_http_gobi_ws_t *ws);
ngx_int_t ngx_http_gobi_ws_task_post(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job, ngx_http_gobi_run_pt run,
    ngx_http_gobi_ws_done_pt done);
void ngx_http_gobi_ws_job_free(ngx_http_gobi_job_t *job);

/*
 * Thread side: is the session's token still valid?  NGX_OK, or the job's
 * error is set (unauthorized: the session then ends with 1008 when the
 * task comes back, whatever the task was).
 */
ngx_int_t ngx_http_gobi_ws_token_recheck(ngx_http_gobi_job_t *job);

/*
 * The endpoint, the location handler of ngx_http_gobi_module.c, is the
 * protocol's (ngx_http_gobi_wsproto.c: the transport with the session's
 * hooks); declared here, the header the module includes.
 */
ngx_int_t ngx_http_gobi_ws_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_GOBI_WS_H_INCLUDED_ */
