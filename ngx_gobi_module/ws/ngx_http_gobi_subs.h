
/*
 * Copyright (C) the gobi authors
 *
 * A worker's subscriptions to vaults, and their fan-out.  A subscriber (a
 * WebSocket session) embeds an ngx_http_gobi_sub_t, joins its vault with a
 * table of functions, and is reached through that table only: this file
 * names no session, transport or protocol function.  The bus drivers ring
 * it with ngx_http_gobi_subs_notice() and ngx_http_gobi_subs_notice_all()
 * (declared in bus/ngx_http_gobi_bus.h).
 */


#ifndef _NGX_HTTP_GOBI_SUBS_H_INCLUDED_
#define _NGX_HTTP_GOBI_SUBS_H_INCLUDED_


#include "ngx_http_gobi_module.h"


typedef struct ngx_http_gobi_sub_s   ngx_http_gobi_sub_t;
typedef struct ngx_http_gobi_vsub_s  ngx_http_gobi_vsub_t;


/*
 * What a subscriber does for its subscription:
 *   respond   send one message of the vault's stream; NGX_ERROR: it is
 *             closing, send it nothing more now;
 *   catch_up  read the events after `since` on its own: a thread task of
 *             its own that runs ngx_http_gobi_subs_run_catch_up() on a job
 *             with vault.id and since set, handed back with
 *             ngx_http_gobi_subs_caught_up(); NGX_DECLINED: it is closing;
 *   error     tell the client a read failed (code, message);
 *   gone      the vault was deleted: tell the client, close.
 */
typedef struct {
    ngx_int_t                    (*respond)(ngx_http_gobi_sub_t *sub,
                                            u_char *msg, size_t len);
    ngx_int_t                    (*catch_up)(ngx_http_gobi_sub_t *sub,
                                             int64_t since);
    void                         (*error)(ngx_http_gobi_sub_t *sub,
                                          const char *code,
                                          const char *message);
    void                         (*gone)(ngx_http_gobi_sub_t *sub);
} ngx_http_gobi_sub_fn_t;


/* a subscriber's place in its vault's subscription (zeroed before join) */
struct ngx_http_gobi_sub_s {
    const ngx_http_gobi_sub_fn_t  *fn;
    ngx_http_gobi_vsub_t          *vsub;       /* NULL: not joined */
    ngx_queue_t                    queue;      /* in vsub->sessions */
    int64_t                        sent_seq;   /* events up to it are sent */
    unsigned                       catching_up:1;
};


ngx_int_t ngx_http_gobi_subs_join(ngx_http_gobi_sub_t *sub,
    const ngx_http_gobi_sub_fn_t *fn, int64_t vault, int64_t head,
    ngx_log_t *log);
void ngx_http_gobi_subs_leave(ngx_http_gobi_sub_t *sub);
void ngx_http_gobi_subs_run_catch_up(ngx_http_gobi_job_t *job);
void ngx_http_gobi_subs_caught_up(ngx_http_gobi_sub_t *sub,
    ngx_http_gobi_job_t *job);


#endif /* _NGX_HTTP_GOBI_SUBS_H_INCLUDED_ */
