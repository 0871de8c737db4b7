
/*
 * Copyright (C) the gobi authors
 *
 * The event reader: a vault's events read by a pool thread into a list,
 * one "event" message per event, and the message records a thread fills
 * for the event loop.  Used by the protocol (replay) and the
 * subscriptions (fan-out, catch-up); it calls neither.
 */


#include "ngx_http_gobi_events.h"

#include <stdlib.h>

#include "gobi_wsmsg.h"


/* messages made by threads --------------------------------------------- */


int
ngx_http_gobi_msgs_add(ngx_http_gobi_job_t *job, int64_t seq, yajl_gen g)
{
    u_char               *p;
    size_t                len, need, cap;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        return -1;
    }

    need = sizeof(int64_t) + sizeof(size_t) + len;

    if (job->msgs_len + need > job->msgs_cap) {
        cap = job->msgs_cap ? job->msgs_cap * 2 : 4096;

        while (cap < job->msgs_len + need) {
            cap *= 2;
        }

        p = realloc(job->msgs, cap);
        if (p == NULL) {
            return -1;
        }

        job->msgs = p;
        job->msgs_cap = cap;
    }

    p = job->msgs + job->msgs_len;
    memcpy(p, &seq, sizeof(int64_t));
    memcpy(p + sizeof(int64_t), &len, sizeof(size_t));
    memcpy(p + sizeof(int64_t) + sizeof(size_t), buf, len);
    job->msgs_len += need;

    yajl_gen_clear(g);
    yajl_gen_reset(g, NULL);

    return 0;
}


/* iterates: p = NULL first; returns NULL after the last message */

u_char *
ngx_http_gobi_msgs_next(ngx_http_gobi_job_t *job, u_char *p, int64_t *seq,
    u_char **msg, size_t *len)
{
    if (p == NULL) {
        p = job->msgs;
    }

    if (p == NULL || p >= job->msgs + job->msgs_len) {
        return NULL;
    }

    memcpy(seq, p, sizeof(int64_t));
    memcpy(len, p + sizeof(int64_t), sizeof(size_t));
    *msg = p + sizeof(int64_t) + sizeof(size_t);

    return *msg + *len;
}


void
ngx_http_gobi_job_free_results(ngx_http_gobi_job_t *job)
{
    free(job->msgs);
    job->msgs = NULL;
    job->msgs_len = 0;
    job->msgs_cap = 0;

    if (job->ws) {
        /* session jobs own their strings */
        free(job->path);
        free(job->from);
        free(job->vault_name);
        free(job->device);
        job->path = NULL;
        job->from = NULL;
        job->vault_name = NULL;
        job->device = NULL;
    }
}


/* a vault's events (thread side) ------------------------------------- */


static char *
ngx_http_gobi_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}


static int
ngx_http_gobi_evlist_add(void *data, const gobi_event_t *e)
{
    gobi_event_t            *ev;
    ngx_http_gobi_evlist_t  *l = data;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        ev = realloc(l->ev, l->cap * sizeof(gobi_event_t));
        if (ev == NULL) {
            l->failed = 1;
            return 1;
        }

        l->ev = ev;
    }

    ev = &l->ev[l->n];
    *ev = *e;
    ev->path = ngx_http_gobi_strdup0(e->path);
    ev->from = ngx_http_gobi_strdup0(e->from);
    ev->device = ngx_http_gobi_strdup0(e->device);

    if (ev->path == NULL || (e->from && ev->from == NULL)
        || (e->device && ev->device == NULL))
    {
        free((char *) ev->path);
        free((char *) ev->from);
        free((char *) ev->device);
        l->failed = 1;
        return 1;
    }

    l->n++;

    return 0;
}


void
ngx_http_gobi_evlist_free(ngx_http_gobi_evlist_t *l)
{
    size_t  i;

    for (i = 0; i < l->n; i++) {
        free((char *) l->ev[i].path);
        free((char *) l->ev[i].from);
        free((char *) l->ev[i].device);
    }

    free(l->ev);
    l->ev = NULL;
    l->n = 0;
}


/* thread side: events after `since` (at most limit, 0: all) as a list */

gobi_store_rc_e
ngx_http_gobi_events_load(ngx_http_gobi_job_t *job, int64_t since,
    int64_t limit, ngx_http_gobi_evlist_t *l, int64_t *head, int *more)
{
    gobi_store_rc_e  rc;

    rc = job->gmcf->store_driver->events_since(job->store, job->vault.id,
                                               since, limit,
                                               ngx_http_gobi_evlist_add, l,
                                               head, more);
    if (rc == GOBI_STORE_OK && l->failed) {
        return GOBI_STORE_ERROR;
    }

    return rc;
}


/* thread side: one {"type":"event"} message per event, keyed by seq */

int
ngx_http_gobi_events_msgs(ngx_http_gobi_job_t *job, yajl_gen g,
    const gobi_event_t *ev, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (gobi_wsmsg_gen_event_msg(g, &ev[i]) != 0
            || ngx_http_gobi_msgs_add(job, ev[i].seq, g) != 0)
        {
            return -1;
        }
    }

    return 0;
}
