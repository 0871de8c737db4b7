
/*
 * Copyright (C) the gobi authors
 *
 * A worker's subscriptions: for every vault with live sessions here, the
 * seq up to which its events were fanned out.  When the bus rings, the
 * worker reads the new events once (a thread) and sends them to every
 * session, in seq order.  A session that is behind the vault (it joined
 * late, or was catching up) reads on its own until it has caught up, so
 * no session sees a gap or a duplicate.  Sessions are reached through
 * their ngx_http_gobi_sub_fn_t only.
 */


#include "ngx_http_gobi_subs.h"
#include "ngx_http_gobi_events.h"
#include "ngx_http_gobi_bus.h"
#include "ngx_http_gobi_metrics.h"

#include <stdlib.h>

#include "gobi_wsmsg.h"


#define NGX_HTTP_GOBI_FETCH_LIMIT  500
#define NGX_HTTP_GOBI_FETCH_RETRY  1000     /* ms, after the store failed */


struct ngx_http_gobi_vsub_s {
    ngx_rbtree_node_t              node;       /* key: vault id */
    int64_t                        vault;
    int64_t                        seq;        /* fanned out up to */
    int64_t                        announced;  /* highest seq heard of
                                                  since the last read */
    ngx_queue_t                    sessions;
    ngx_uint_t                     nsessions;
    ngx_event_t                    retry;      /* the store failed a read */
    unsigned                       fetching:1;
    unsigned                       again:1;    /* re-read when done */
};


typedef struct {
    ngx_http_gobi_job_t            job;        /* first: see the casts */
    ngx_http_gobi_vsub_t          *vsub;
    int64_t                        since;
    int                            more;
    int                            expired;
} ngx_http_gobi_fetch_t;


static ngx_rbtree_t                ngx_http_gobi_subs_tree;
static ngx_rbtree_node_t           ngx_http_gobi_subs_sentinel;
static ngx_uint_t                  ngx_http_gobi_subs_ready;


static void ngx_http_gobi_subs_fetch(ngx_http_gobi_vsub_t *vsub);
static void ngx_http_gobi_subs_retry(ngx_event_t *ev);
static void ngx_http_gobi_subs_deliver(ngx_http_gobi_vsub_t *vsub,
    ngx_http_gobi_job_t *job, int64_t since);
static void ngx_http_gobi_subs_free(ngx_http_gobi_vsub_t *vsub);
static void ngx_http_gobi_subs_gone(ngx_http_gobi_vsub_t *vsub);
static ngx_int_t ngx_http_gobi_subs_catch_up(ngx_http_gobi_sub_t *sub);


static ngx_http_gobi_main_conf_t *
ngx_http_gobi_subs_conf(void)
{
    return ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_gobi_module);
}


static ngx_http_gobi_vsub_t *
ngx_http_gobi_subs_find(int64_t vault)
{
    ngx_rbtree_node_t  *node, *sentinel;

    if (!ngx_http_gobi_subs_ready) {
        return NULL;
    }

    node = ngx_http_gobi_subs_tree.root;
    sentinel = ngx_http_gobi_subs_tree.sentinel;

    while (node != sentinel) {
        if ((ngx_rbtree_key_t) vault < node->key) {
            node = node->left;
            continue;
        }

        if ((ngx_rbtree_key_t) vault > node->key) {
            node = node->right;
            continue;
        }

        return (ngx_http_gobi_vsub_t *) node;
    }

    return NULL;
}


ngx_int_t
ngx_http_gobi_subs_join(ngx_http_gobi_sub_t *sub,
    const ngx_http_gobi_sub_fn_t *fn, int64_t vault, int64_t head,
    ngx_log_t *log)
{
    ngx_http_gobi_vsub_t       *vsub;
    ngx_http_gobi_main_conf_t  *gmcf;

    if (!ngx_http_gobi_subs_ready) {
        ngx_rbtree_init(&ngx_http_gobi_subs_tree,
                        &ngx_http_gobi_subs_sentinel,
                        ngx_rbtree_insert_value);
        ngx_http_gobi_subs_ready = 1;
    }

    vsub = ngx_http_gobi_subs_find(vault);

    if (vsub == NULL) {
        vsub = ngx_calloc(sizeof(ngx_http_gobi_vsub_t), log);
        if (vsub == NULL) {
            return NGX_ERROR;
        }

        vsub->node.key = (ngx_rbtree_key_t) vault;
        vsub->vault = vault;
        vsub->seq = head;
        vsub->announced = head;
        ngx_queue_init(&vsub->sessions);

        vsub->retry.handler = ngx_http_gobi_subs_retry;
        vsub->retry.data = vsub;
        vsub->retry.log = ngx_cycle->log;
        vsub->retry.cancelable = 1;

        ngx_rbtree_insert(&ngx_http_gobi_subs_tree, &vsub->node);

        gmcf = ngx_http_gobi_subs_conf();
        gmcf->bus->subscribe(vsub->vault);
    }

    sub->fn = fn;
    sub->vsub = vsub;
    sub->sent_seq = head;

    ngx_queue_insert_tail(&vsub->sessions, &sub->queue);
    vsub->nsessions++;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "gobi: session joins vault %L at seq %L (%ui here)",
                   vault, head, vsub->nsessions);

    /*
     * Whatever was committed since the replay read the store may have rung
     * before this session listened: read once more on its own.
     */

    return ngx_http_gobi_subs_catch_up(sub);
}

void
ngx_http_gobi_subs_leave(ngx_http_gobi_sub_t *sub)
{
    ngx_http_gobi_vsub_t  *vsub;

    vsub = sub->vsub;

    if (vsub == NULL) {
        return;
    }

    ngx_queue_remove(&sub->queue);
    sub->vsub = NULL;

    if (--vsub->nsessions == 0 && !vsub->fetching) {
        ngx_http_gobi_subs_free(vsub);
    }
}

static void
ngx_http_gobi_subs_free(ngx_http_gobi_vsub_t *vsub)
{
    ngx_http_gobi_main_conf_t  *gmcf;

    ngx_rbtree_delete(&ngx_http_gobi_subs_tree, &vsub->node);

    gmcf = ngx_http_gobi_subs_conf();
    gmcf->bus->unsubscribe(vsub->vault);

    if (vsub->retry.timer_set) {
        ngx_del_timer(&vsub->retry);
    }

    ngx_free(vsub);
}


/* the bus: vault is at seq (seq < 0: unknown, read the store) */

void
ngx_http_gobi_subs_notice(int64_t vault, int64_t seq)
{
    ngx_http_gobi_vsub_t  *vsub;

    if (seq >= 0) {
        ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_BUS_NOTICES, 1);
    }

    vsub = ngx_http_gobi_subs_find(vault);

    if (vsub == NULL) {
        return;
    }

    if (seq < 0) {
        vsub->again = 1;

    } else if (seq > vsub->announced) {
        vsub->announced = seq;
    }

    if (vsub->fetching) {
        return;
    }

    if (vsub->again || vsub->announced > vsub->seq) {
        ngx_http_gobi_subs_fetch(vsub);
    }
}


static void
ngx_http_gobi_subs_notice_node(ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    if (node == sentinel) {
        return;
    }

    ngx_http_gobi_subs_notice_node(node->left, sentinel);
    ngx_http_gobi_subs_notice_node(node->right, sentinel);

    ngx_http_gobi_subs_notice(((ngx_http_gobi_vsub_t *) node)->vault, -1);
}


void
ngx_http_gobi_subs_notice_all(void)
{
    if (!ngx_http_gobi_subs_ready) {
        return;
    }

    ngx_http_gobi_subs_notice_node(ngx_http_gobi_subs_tree.root,
                                   ngx_http_gobi_subs_tree.sentinel);
}


/* the vault's reader ---------------------------------------------------- */


/*
 * Thread side: the events after `since` (a batch) as "event" messages in
 * the job, keyed by seq; job->head becomes the last seq read.  EXPIRED:
 * they were pruned, job->head is the vault's head.
 */

static gobi_store_rc_e
ngx_http_gobi_subs_read(ngx_http_gobi_job_t *job, int64_t since, int *more)
{
    int64_t                  head;
    yajl_gen                 g;
    gobi_store_rc_e          rc;
    ngx_http_gobi_evlist_t   list;

    ngx_memzero(&list, sizeof(list));

    rc = ngx_http_gobi_events_load(job, since, NGX_HTTP_GOBI_FETCH_LIMIT,
                                   &list, &head, more);

    if (rc == GOBI_STORE_EXPIRED) {
        job->head = head;
        goto done;
    }

    if (rc == GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_error(job, 404, "vault_not_found",
                                "the vault was deleted");
        goto done;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        goto done;
    }

    job->head = list.n ? list.ev[list.n - 1].seq : since;

    g = ngx_http_gobi_gen_new();

    if (g == NULL
        || ngx_http_gobi_events_msgs(job, g, list.ev, list.n) != 0)
    {
        ngx_http_gobi_job_error(job, 500, "internal_error", "out of memory");
    }

    if (g) {
        yajl_gen_free(g);
    }

done:

    ngx_http_gobi_evlist_free(&list);

    return rc;
}


static void
ngx_http_gobi_subs_run_fetch(ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_fetch_t *f = (ngx_http_gobi_fetch_t *) job;

    if (ngx_http_gobi_subs_read(&f->job, f->since, &f->more)
        == GOBI_STORE_EXPIRED)
    {
        f->expired = 1;
    }
}


static void
ngx_http_gobi_subs_fetch_done(ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_vsub_t   *vsub;
    ngx_http_gobi_fetch_t  *f;

    f = (ngx_http_gobi_fetch_t *) job;
    vsub = f->vsub;

    if (f->job.code && ngx_strcmp(f->job.code, "vault_not_found") == 0) {
        ngx_http_gobi_subs_gone(vsub);

    } else if (f->job.code) {
        /*
         * The store failed, or is down and the breaker refused: read
         * again soon (the notice that rang may have been the last one).
         */
        vsub->again = 1;

        if (!vsub->retry.timer_set) {
            ngx_add_timer(&vsub->retry, NGX_HTTP_GOBI_FETCH_RETRY);
        }

    } else if (f->expired) {
        /* pruned past our position: every session gets its resync */
        vsub->seq = f->job.head;
        ngx_http_gobi_subs_deliver(vsub, &f->job, vsub->seq + 1);

    } else {
        /* vsub->fetching keeps the vault while sessions leave meanwhile */
        ngx_http_gobi_subs_deliver(vsub, &f->job, f->since);
        vsub->seq = f->job.head;
    }

    vsub->fetching = 0;

    if (vsub->nsessions == 0) {
        ngx_http_gobi_subs_free(vsub);
        goto done;
    }

    if (!f->job.code
        && (f->more || vsub->again || vsub->announced > vsub->seq))
    {
        ngx_http_gobi_subs_fetch(vsub);
    }

done:

    ngx_http_gobi_job_free_results(&f->job);
    ngx_free(f);
}


static void
ngx_http_gobi_subs_fetch(ngx_http_gobi_vsub_t *vsub)
{
    ngx_http_gobi_fetch_t      *f;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_gobi_subs_conf();

    f = ngx_calloc(sizeof(ngx_http_gobi_fetch_t), ngx_cycle->log);
    if (f == NULL) {
        return;
    }

    f->vsub = vsub;
    f->since = vsub->seq;
    f->job.gmcf = gmcf;
    f->job.store = ngx_http_gobi_worker.store;
    f->job.vault.id = vsub->vault;

    if (ngx_http_gobi_job_post(&f->job, ngx_http_gobi_subs_run_fetch,
                               ngx_http_gobi_subs_fetch_done, ngx_cycle->log)
        != NGX_OK)
    {
        ngx_free(f);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "gobi: fan-out of vault %L reads after seq %L",
                   vsub->vault, vsub->seq);

    vsub->fetching = 1;
    vsub->again = 0;

    /*
     * What was heard so far, this read covers: a seq beyond what the
     * store then has (a stale or foreign notice) is forgotten, not read
     * for again and again.  Notices heard while it runs count anew.
     */
    vsub->announced = vsub->seq;
}


static void
ngx_http_gobi_subs_retry(ngx_event_t *ev)
{
    ngx_http_gobi_vsub_t  *vsub;

    vsub = ev->data;

    if (!vsub->fetching) {
        ngx_http_gobi_subs_fetch(vsub);
    }
}


/* the vault was deleted: its sessions are told and closed */

static void
ngx_http_gobi_subs_gone(ngx_http_gobi_vsub_t *vsub)
{
    ngx_queue_t          *q, *next;
    ngx_http_gobi_sub_t  *sub;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "gobi: vault %L was deleted: %ui sessions close",
                   vsub->vault, vsub->nsessions);

    for (q = ngx_queue_head(&vsub->sessions);
         q != ngx_queue_sentinel(&vsub->sessions);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_http_gobi_sub_t, queue);

        sub->fn->gone(sub);
    }
}

/* sends a fetched batch to every session that is exactly where it began */

static void
ngx_http_gobi_subs_deliver(ngx_http_gobi_vsub_t *vsub,
    ngx_http_gobi_job_t *job, int64_t since)
{
    u_char               *p, *msg;
    size_t                len;
    int64_t               seq;
    ngx_uint_t            n;
    ngx_queue_t          *q, *next;
    ngx_http_gobi_sub_t  *sub;

    n = 0;

    for (q = ngx_queue_head(&vsub->sessions);
         q != ngx_queue_sentinel(&vsub->sessions);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_http_gobi_sub_t, queue);

        if (sub->catching_up) {
            continue;
        }

        if (sub->sent_seq < since) {
            /* behind: it reads on its own */
            (void) ngx_http_gobi_subs_catch_up(sub);
            continue;
        }

        n++;
        p = NULL;

        while ((p = ngx_http_gobi_msgs_next(job, p, &seq, &msg, &len))
               != NULL)
        {
            if (seq <= sub->sent_seq) {
                continue;
            }

            if (sub->fn->respond(sub, msg, len) != NGX_OK) {
                /* too slow for live traffic, or gone: it is closing */
                ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                               "gobi: fan-out of vault %L cut a session "
                               "off at seq %L", vsub->vault, seq);
                break;
            }

            sub->sent_seq = seq;
            ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_EVENTS_DELIVERED, 1);
        }
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "gobi: fan-out of vault %L after seq %L up to %L "
                   "delivered to %ui sessions",
                   vsub->vault, since, job->head, n);
}

/* a session's own reader ------------------------------------------------ */


/*
 * Thread side of a session's catch-up (the session posts it, see
 * ngx_http_gobi_sub_fn_t): job->limit becomes "more".
 */

void
ngx_http_gobi_subs_run_catch_up(ngx_http_gobi_job_t *job)
{
    int       more;
    yajl_gen  g;

    more = 0;

    if (ngx_http_gobi_subs_read(job, job->since, &more)
        == GOBI_STORE_EXPIRED)
    {
        /* it fell behind the retention horizon while connected */
        g = ngx_http_gobi_gen_new();

        if (g == NULL
            || gobi_wsmsg_gen_resync(g, "history_expired", job->head) != 0
            || ngx_http_gobi_msgs_add(job, -1, g) != 0)
        {
            ngx_http_gobi_job_error(job, 500, "internal_error",
                                    "out of memory");
        }

        if (g) {
            yajl_gen_free(g);
        }
    }

    job->limit = more;
}


/* a catch-up came back: what the session has not had goes out */

void
ngx_http_gobi_subs_caught_up(ngx_http_gobi_sub_t *sub,
    ngx_http_gobi_job_t *job)
{
    int       more;
    u_char   *p, *msg;
    size_t    len;
    int64_t   seq;

    sub->catching_up = 0;
    more = (int) job->limit;

    if (job->code) {
        if (ngx_strcmp(job->code, "vault_not_found") == 0) {
            sub->fn->gone(sub);

        } else {
            sub->fn->error(sub, job->code, job->message);
        }

        return;
    }

    p = NULL;

    while ((p = ngx_http_gobi_msgs_next(job, p, &seq, &msg, &len)) != NULL) {
        if (seq >= 0 && seq <= sub->sent_seq) {
            continue;
        }

        if (sub->fn->respond(sub, msg, len) != NGX_OK) {
            return;
        }

        sub->sent_seq = (seq >= 0) ? seq : job->head;
    }

    if (job->head > sub->sent_seq) {
        sub->sent_seq = job->head;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "gobi: session caught up to seq %L (vault at %L, more %d)",
                   sub->sent_seq, sub->vsub ? sub->vsub->seq : -1, more);

    if (sub->vsub && (more || sub->sent_seq < sub->vsub->seq)) {
        (void) ngx_http_gobi_subs_catch_up(sub);
    }
}


static ngx_int_t
ngx_http_gobi_subs_catch_up(ngx_http_gobi_sub_t *sub)
{
    ngx_int_t  rc;

    if (sub->catching_up) {
        return NGX_OK;
    }

    rc = sub->fn->catch_up(sub, sub->sent_seq);

    if (rc == NGX_DECLINED) {
        /* closing */
        return NGX_OK;
    }

    if (rc == NGX_OK) {
        sub->catching_up = 1;
    }

    return rc;
}
