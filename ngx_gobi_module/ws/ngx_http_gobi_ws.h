
/*
 * Copyright (C) the gobi authors
 *
 * WebSocket sessions: one per connection, subscribed to one vault.
 */


#ifndef _NGX_HTTP_GOBI_WS_H_INCLUDED_
#define _NGX_HTTP_GOBI_WS_H_INCLUDED_


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_events.h"
#include "ngx_http_gobi_subs.h"
#include "gobi_ws_frame.h"


typedef struct ngx_http_gobi_ws_out_s  ngx_http_gobi_ws_out_t;

struct ngx_http_gobi_ws_out_s {
    ngx_http_gobi_ws_out_t        *next;
    size_t                         len;
    size_t                         sent;
    u_char                         data[1];
};


typedef struct ngx_http_gobi_ws_s    ngx_http_gobi_ws_t;

typedef void (*ngx_http_gobi_ws_sent_pt)(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);


struct ngx_http_gobi_ws_s {
    ngx_http_request_t            *request;
    ngx_connection_t              *connection;
    ngx_http_gobi_loc_conf_t      *conf;

    gobi_user_t                    user;
    int64_t                        vault_id;
    char                          *device;

    ngx_http_gobi_sub_t            sub;      /* the vault's, once live */

    gobi_ws_assembler_t            in;
    u_char                        *rbuf;
    u_char                        *rpos;
    u_char                        *rlast;

    ngx_http_gobi_ws_out_t        *out;
    ngx_http_gobi_ws_out_t       **out_last;
    size_t                         queued;

    ngx_event_t                    ping;
    ngx_event_t                    close_ev;

    /* messages of a job still to be queued (see ngx_http_gobi_ws_pump) */
    ngx_http_gobi_job_t           *pending;
    u_char                        *pending_pos;
    ngx_http_gobi_ws_sent_pt       pending_sent;

    ngx_uint_t                     tasks;    /* thread tasks in flight */

    unsigned                       hello:1;
    unsigned                       live:1;     /* replay done */
    unsigned                       busy:1;     /* an op or replay runs:
                                                  reading waits */
    unsigned                       pong:1;
    unsigned                       closing:1;  /* close frame queued */
    unsigned                       closed:1;   /* torn down */
    unsigned                       pumping:1;
};


/* ngx_http_gobi_ws.c */
ngx_int_t ngx_http_gobi_ws_handler(ngx_http_request_t *r);
void ngx_http_gobi_ws_resume(ngx_http_gobi_ws_t *ws);
ngx_int_t ngx_http_gobi_ws_send_text(ngx_http_gobi_ws_t *ws,
    const u_char *p, size_t len);
ngx_int_t ngx_http_gobi_ws_send_gen(ngx_http_gobi_ws_t *ws, yajl_gen g);
void ngx_http_gobi_ws_fail(ngx_http_gobi_ws_t *ws, unsigned code,
    const char *reason);
void ngx_http_gobi_ws_end(ngx_http_gobi_ws_t *ws, unsigned code,
    const char *reason);

/*
 * A thread task for a session: job and task live in one malloc'd block
 * (a long-lived connection must not grow its request pool), and the
 * session is kept until every task of it has come back.
 */
typedef void (*ngx_http_gobi_ws_done_pt)(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);

ngx_http_gobi_job_t *ngx_http_gobi_ws_job(ngx_http_gobi_ws_t *ws);
ngx_int_t ngx_http_gobi_ws_task_post(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job, ngx_http_gobi_run_pt run,
    ngx_http_gobi_ws_done_pt done);
void ngx_http_gobi_ws_job_free(ngx_http_gobi_job_t *job);

/* ngx_http_gobi_wsproto.c */
void ngx_http_gobi_wsproto_text(ngx_http_gobi_ws_t *ws, u_char *p,
    size_t len);
void ngx_http_gobi_wsproto_error(ngx_http_gobi_ws_t *ws, const char *code,
    const char *message);
void ngx_http_gobi_ws_send_msgs(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job, ngx_http_gobi_ws_sent_pt sent);
void ngx_http_gobi_ws_pump(ngx_http_gobi_ws_t *ws);


#endif /* _NGX_HTTP_GOBI_WS_H_INCLUDED_ */
