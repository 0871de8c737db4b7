
/*
 * Copyright (C) the gobi authors
 *
 * The event bus is a doorbell: it carries only "vault V is now at seq N"
 * between the workers of an instance (local) or between instances (redis).
 * A lost or late notice loses nothing: subscribers catch up from the store
 * by cursor.  Drivers call ngx_http_gobi_subs_notice() when they hear one,
 * and ngx_http_gobi_subs_notice_all() when they may have missed some.
 */


#ifndef _NGX_HTTP_GOBI_BUS_H_INCLUDED_
#define _NGX_HTTP_GOBI_BUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct ngx_http_gobi_bus_s {
    const char   *scheme;

    /* configuration time: uri is what gobi_bus was given */
    ngx_int_t   (*configure)(ngx_conf_t *cf, ngx_str_t *uri);
    /* the master, before the workers are forked */
    ngx_int_t   (*init_module)(ngx_cycle_t *cycle);
    ngx_int_t   (*init_process)(ngx_cycle_t *cycle);
    void        (*exit_process)(ngx_cycle_t *cycle);

    void        (*publish)(int64_t vault, int64_t seq);
    /* this worker serves (no longer serves) subscribers of the vault */
    void        (*subscribe)(int64_t vault);
    void        (*unsubscribe)(int64_t vault);
    /* can this worker ring and hear the others now? (the health check) */
    ngx_flag_t  (*connected)(void);
} ngx_http_gobi_bus_t;


extern const ngx_http_gobi_bus_t  ngx_http_gobi_bus_local;
extern const ngx_http_gobi_bus_t  ngx_http_gobi_bus_redis;


/* ngx_http_gobi_subs.c: what the bus rings */
void ngx_http_gobi_subs_notice(int64_t vault, int64_t seq);
void ngx_http_gobi_subs_notice_all(void);


#endif /* _NGX_HTTP_GOBI_BUS_H_INCLUDED_ */
