
/*
 * Copyright (C) the gobi authors
 *
 * The event reader of the WebSocket code, thread side: a vault's events
 * from the store as a list with copied strings, and the "event" messages
 * made of them.  It also keeps a job's message records (the functions
 * ngx_http_gobi_msgs_add(), ngx_http_gobi_msgs_next() and
 * ngx_http_gobi_job_free_results(), declared in ngx_http_gobi_module.h).
 * It knows nothing of connections or sessions.
 */


#ifndef _NGX_HTTP_GOBI_EVENTS_H_INCLUDED_
#define _NGX_HTTP_GOBI_EVENTS_H_INCLUDED_


#include "ngx_http_gobi_module.h"


/* events read by a thread, strings copied */
typedef struct {
    gobi_event_t                  *ev;
    size_t                         n;
    size_t                         cap;
    int                            failed;
} ngx_http_gobi_evlist_t;


gobi_store_rc_e ngx_http_gobi_events_load(ngx_http_gobi_job_t *job,
    int64_t since, int64_t limit, ngx_http_gobi_evlist_t *l, int64_t *head,
    int *more);
void ngx_http_gobi_evlist_free(ngx_http_gobi_evlist_t *l);
int ngx_http_gobi_events_msgs(ngx_http_gobi_job_t *job, yajl_gen g,
    const gobi_event_t *ev, size_t n);


#endif /* _NGX_HTTP_GOBI_EVENTS_H_INCLUDED_ */
