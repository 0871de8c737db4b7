
/*
 * Copyright (C) the gobi authors
 *
 * The WebSocket protocol and its sessions: hello and squashed replay,
 * rename and delete with ack or reject.  A session is this file's state
 * for one connection (its vault, device, cursor, paced replay), hung on
 * the transport's ws->data; the transport reaches it through hooks, the
 * subscriptions through ngx_http_gobi_sub_fn_t.  Messages are parsed and
 * written by lib/gobi_wsmsg.c; the store is used from pool threads only.
 * A session handles one message at a time: reading waits while an
 * operation runs (TCP pushes back), so operations are applied in the
 * order they were sent.
 */


#include "ngx_http_gobi_events.h"
#include "ngx_http_gobi_ws.h"
#include "ngx_http_gobi_subs.h"
#include "ngx_http_gobi_metrics.h"

#include <stdio.h>
#include <stdlib.h>

#include "gobi_path.h"
#include "gobi_squash.h"
#include "gobi_wsmsg.h"


typedef void (*ngx_http_gobi_session_sent_pt)(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);

typedef struct {
    ngx_http_gobi_ws_t            *ws;
    ngx_http_gobi_sub_t            sub;        /* the vault's, once live */
    int64_t                        vault_id;
    char                          *device;

    /* messages of a job still to be queued (see ngx_http_gobi_session_pump) */
    ngx_http_gobi_job_t           *pending;
    u_char                        *pending_pos;
    ngx_http_gobi_session_sent_pt  pending_sent;

    unsigned                       hello:1;
    unsigned                       live:1;     /* replay done */
    unsigned                       joining:1;  /* the first catch-up runs */
    unsigned                       pumping:1;
} ngx_http_gobi_session_t;


static ngx_int_t ngx_http_gobi_session_open(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_session_text(ngx_http_gobi_ws_t *ws, u_char *p,
    size_t len);
static void ngx_http_gobi_session_binary(ngx_http_gobi_ws_t *ws, u_char *p,
    size_t len);
static void ngx_http_gobi_session_pump(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_session_close(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_wsproto_error(ngx_http_gobi_ws_t *ws,
    const char *code, const char *message);
static void ngx_http_gobi_wsproto_hello(ngx_http_gobi_ws_t *ws,
    gobi_wsmsg_t *m);
static void ngx_http_gobi_wsproto_op(ngx_http_gobi_ws_t *ws,
    gobi_wsmsg_t *m);
static void ngx_http_gobi_run_hello(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_hello_done(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);
static int ngx_http_gobi_replay_page(ngx_http_gobi_job_t *job, yajl_gen g,
    ngx_http_gobi_evlist_t *list, int more);
static void ngx_http_gobi_run_replay(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_replay_done(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);
static void ngx_http_gobi_hello_sent(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_op(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_op_sent(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);
static void ngx_http_gobi_op_done(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);
static ngx_int_t ngx_http_gobi_session_respond(ngx_http_gobi_sub_t *sub,
    u_char *msg, size_t len);
static ngx_int_t ngx_http_gobi_session_catch_up(ngx_http_gobi_sub_t *sub,
    int64_t since);
static void ngx_http_gobi_session_caught_up(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job);
static void ngx_http_gobi_session_error(ngx_http_gobi_sub_t *sub,
    const char *code, const char *message);
static void ngx_http_gobi_session_gone(ngx_http_gobi_sub_t *sub);


/* how the transport reaches a session */
static const ngx_http_gobi_ws_hooks_t  ngx_http_gobi_session_hooks = {
    ngx_http_gobi_session_open,
    ngx_http_gobi_session_text,
    ngx_http_gobi_session_binary,
    ngx_http_gobi_session_pump,
    ngx_http_gobi_session_close
};


/* how the subscriptions reach a session */
static const ngx_http_gobi_sub_fn_t  ngx_http_gobi_session_sub_fn = {
    ngx_http_gobi_session_respond,
    ngx_http_gobi_session_catch_up,
    ngx_http_gobi_session_error,
    ngx_http_gobi_session_gone
};


#define ngx_http_gobi_sub_session(s)                                          \
    ((ngx_http_gobi_session_t *) ((u_char *) (s)                              \
                                  - offsetof(ngx_http_gobi_session_t, sub)))


/* the endpoint: the transport, with a session on every connection */

ngx_int_t
ngx_http_gobi_ws_handler(ngx_http_request_t *r)
{
    return ngx_http_gobi_ws_accept(r, &ngx_http_gobi_session_hooks);
}


/* the session on its connection ----------------------------------------- */


static ngx_int_t
ngx_http_gobi_session_open(ngx_http_gobi_ws_t *ws)
{
    ngx_http_gobi_session_t  *s;

    s = ngx_pcalloc(ws->request->pool, sizeof(ngx_http_gobi_session_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->ws = ws;
    ws->data = s;

    ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_WS_SESSIONS, 1);
    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_WS_OPEN, 1);

    return NGX_OK;
}


static void
ngx_http_gobi_session_close(ngx_http_gobi_ws_t *ws)
{
    ngx_http_gobi_session_t  *s;

    s = ws->data;

    ngx_http_gobi_metrics_gauge(NGX_HTTP_GOBI_G_WS_OPEN, -1);

    ngx_http_gobi_subs_leave(&s->sub);
    s->live = 0;

    /* the pump, if on the stack, touches the job no more once closed */

    if (s->pending) {
        ngx_http_gobi_ws_job_free(s->pending);
        s->pending = NULL;
    }
}


/*
 * Sends every message of a job, in order, without letting the send queue
 * grow past half of gobi_ws_send_queue: a replay can be far bigger than the
 * queue, and a client that reads is not too slow.  The rest goes out as
 * the queue drains (ngx_http_gobi_session_pump(), the transport's
 * on_writable); then `sent` runs and gets the job back.  The job belongs
 * to the session from here on: a session that closes frees it.
 */

static void
ngx_http_gobi_session_send_msgs(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job, ngx_http_gobi_session_sent_pt sent)
{
    ngx_http_gobi_session_t  *s;

    s = ws->data;

    s->pending = job;
    s->pending_pos = NULL;
    s->pending_sent = sent;

    ngx_http_gobi_session_pump(ws);
}


static void
ngx_http_gobi_session_pump(ngx_http_gobi_ws_t *ws)
{
    u_char                         *p, *msg;
    size_t                          len;
    int64_t                         seq;
    ngx_http_gobi_job_t            *job;
    ngx_http_gobi_session_t        *s;
    ngx_http_gobi_session_sent_pt   sent;

    s = ws->data;

    if (s->pending == NULL || s->pumping) {
        return;
    }

    s->pumping = 1;
    job = s->pending;

    for ( ;; ) {
        p = ngx_http_gobi_msgs_next(job, s->pending_pos, &seq, &msg, &len);

        if (p == NULL) {
            break;
        }

        if (ws->queued && ws->queued + len > ws->conf->ws_send_queue / 2) {
            /* the rest when the queue has drained */
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                           "gobi: replay paced: %uz bytes queued, next "
                           "message %uz bytes", ws->queued, len);
            s->pumping = 0;
            return;
        }

        s->pending_pos = p;

        if (ngx_http_gobi_ws_send_text(ws, msg, len) != NGX_OK) {
            /* closing or closed: the job is freed with the session */
            s->pumping = 0;
            return;
        }
    }

    s->pumping = 0;

    sent = s->pending_sent;
    s->pending = NULL;
    s->pending_sent = NULL;

    sent(ws, job);
}


/* client messages -------------------------------------------------------- */


static void
ngx_http_gobi_wsproto_send(ngx_http_gobi_ws_t *ws, yajl_gen g)
{
    (void) ngx_http_gobi_ws_send_gen(ws, g);
    yajl_gen_free(g);
}


static void
ngx_http_gobi_wsproto_error_id(ngx_http_gobi_ws_t *ws, const char *code,
    const char *message, const char *id, size_t id_len)
{
    yajl_gen  g;

    g = ngx_http_gobi_gen_new();
    if (g == NULL) {
        return;
    }

    (void) gobi_wsmsg_gen_error(g, code, message, id, id_len);
    ngx_http_gobi_wsproto_send(ws, g);
}


static void
ngx_http_gobi_wsproto_error(ngx_http_gobi_ws_t *ws, const char *code,
    const char *message)
{
    ngx_http_gobi_wsproto_error_id(ws, code, message, NULL, 0);
}


static void
ngx_http_gobi_wsproto_reject(ngx_http_gobi_ws_t *ws, gobi_wsmsg_t *m,
    const char *code, const char *message)
{
    yajl_gen  g;

    g = ngx_http_gobi_gen_new();
    if (g == NULL) {
        return;
    }

    (void) gobi_wsmsg_gen_reject(g, m->id, m->id_len, code, message, NULL, 0);
    ngx_http_gobi_wsproto_send(ws, g);
}


static void
ngx_http_gobi_session_binary(ngx_http_gobi_ws_t *ws, u_char *p, size_t len)
{
    ngx_http_gobi_wsproto_error(ws, "bad_message",
                                "binary messages are not part of the "
                                "protocol; send JSON text");
}


static void
ngx_http_gobi_session_text(ngx_http_gobi_ws_t *ws, u_char *p, size_t len)
{
    gobi_wsmsg_t  m;

    if (gobi_wsmsg_parse(&m, (char *) p, len) != 0) {
        ngx_http_gobi_wsproto_error_id(ws, m.code, m.message, m.id,
                                       m.id_len);
        gobi_wsmsg_free(&m);
        return;
    }

    switch (m.type) {

    case GOBI_WSMSG_HELLO:
        ngx_http_gobi_wsproto_hello(ws, &m);
        break;

    case GOBI_WSMSG_RENAME:
    case GOBI_WSMSG_DELETE:
        ngx_http_gobi_wsproto_op(ws, &m);
        break;

    default:
        ngx_http_gobi_wsproto_error(ws, GOBI_WSMSG_BAD, "unknown message");
        break;
    }

    gobi_wsmsg_free(&m);
}


static void
ngx_http_gobi_wsproto_hello(ngx_http_gobi_ws_t *ws, gobi_wsmsg_t *m)
{
    ngx_http_gobi_job_t      *job;
    ngx_http_gobi_session_t  *s;

    s = ws->data;

    if (s->hello) {
        ngx_http_gobi_wsproto_error(ws, GOBI_WSMSG_BAD,
                                    "hello was already sent on this "
                                    "connection; open another one for "
                                    "another vault");
        return;
    }

    if (m->protocol != GOBI_WSMSG_PROTOCOL) {
        ngx_http_gobi_wsproto_error(ws, GOBI_WSMSG_BAD,
                                    "unsupported protocol version; this "
                                    "server speaks protocol 1");
        return;
    }

    if (gobi_vault_name_check(m->vault, ngx_strlen(m->vault)) != NULL) {
        ngx_http_gobi_wsproto_error(ws, "vault_not_found", "no such vault");
        return;
    }

    if (m->device && ngx_strlen(m->device) > NGX_HTTP_GOBI_DEVICE_MAX) {
        ngx_http_gobi_wsproto_error(ws, GOBI_WSMSG_BAD,
                                    "\"device\" must be at most 64 bytes");
        return;
    }

    job = ngx_http_gobi_ws_job(ws);
    if (job == NULL) {
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    job->vault_name = strdup(m->vault);
    job->device = m->device ? strdup(m->device) : NULL;
    job->since = m->since;
    job->limit = ws->conf->ws_batch;
    job->replay_max = ws->conf->ws_max_replay;

    if (job->vault_name == NULL || (m->device && job->device == NULL)) {
        ngx_http_gobi_ws_job_free(job);
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                   "gobi: hello for vault \"%s\" since seq %L",
                   m->vault, m->since);

    s->hello = 1;
    ngx_http_gobi_ws_pause(ws);

    if (ngx_http_gobi_ws_task_post(ws, job, ngx_http_gobi_run_hello,
                                   ngx_http_gobi_hello_done)
        != NGX_OK)
    {
        ngx_http_gobi_ws_job_free(job);
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "overloaded");
    }
}


static void
ngx_http_gobi_wsproto_op(ngx_http_gobi_ws_t *ws, gobi_wsmsg_t *m)
{
    const char               *err;
    ngx_http_gobi_job_t      *job;
    ngx_http_gobi_session_t  *s;

    s = ws->data;

    if (!s->live) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                       "gobi: operation refused: no hello yet");

        ngx_http_gobi_wsproto_error_id(ws, GOBI_WSMSG_BAD,
                                       "send hello before operations",
                                       m->id, m->id_len);
        return;
    }

    err = gobi_path_check(m->path, ngx_strlen(m->path));

    if (err == NULL && m->type == GOBI_WSMSG_RENAME) {
        err = gobi_path_check(m->from, ngx_strlen(m->from));
    }

    if (err) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                       "gobi: operation rejected: invalid path: %s", err);
        ngx_http_gobi_wsproto_reject(ws, m, "invalid_path", err);
        return;
    }

    job = ngx_http_gobi_ws_job(ws);
    if (job == NULL) {
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    job->vault.id = s->vault_id;
    job->path = strdup(m->path);
    job->from = (m->type == GOBI_WSMSG_RENAME) ? strdup(m->from) : NULL;
    job->device = s->device ? strdup(s->device) : NULL;
    job->base_version = m->base_version > 0 ? m->base_version
                                            : GOBI_BASE_ANY;
    job->confirm_mass_delete = m->confirm_mass_delete;

    ngx_memcpy(job->op_id, m->id, m->id_len);
    job->op_id_len = m->id_len;

    if (job->path == NULL
        || (m->type == GOBI_WSMSG_RENAME && job->from == NULL)
        || (s->device && job->device == NULL))
    {
        ngx_http_gobi_ws_job_free(job);
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    ngx_http_gobi_ws_pause(ws);

    if (ngx_http_gobi_ws_task_post(ws, job, ngx_http_gobi_run_op,
                                   ngx_http_gobi_op_done)
        != NGX_OK)
    {
        ngx_http_gobi_ws_job_free(job);
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "overloaded");
    }
}


/* hello: the squashed replay (thread side) ------------------------------ */


static void
ngx_http_gobi_run_hello(ngx_http_gobi_job_t *job)
{
    int                      more;
    int64_t                  head;
    yajl_gen                 g;
    gobi_store_rc_e          rc;
    ngx_http_gobi_evlist_t   list;

    ngx_memzero(&list, sizeof(list));

    g = ngx_http_gobi_gen_new();
    if (g == NULL) {
        goto nomem;
    }

    rc = job->gmcf->store_driver->vault_get(job->store, job->user.id,
                                            job->vault_name, &job->vault);
    if (rc == GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_error(job, 404, "vault_not_found",
                                "no such vault");
        goto done;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        goto done;
    }

    head = job->vault.head_seq;

    if (job->since > head) {
        /* the client knows of events we do not: the store was restored */
        job->head = head;

        if (gobi_wsmsg_gen_welcome(g, job->vault.name, head,
                                   job->vault.oldest_seq) != 0
            || ngx_http_gobi_msgs_add(job, 0, g) != 0
            || gobi_wsmsg_gen_resync(g, "cursor_ahead", head) != 0
            || ngx_http_gobi_msgs_add(job, 0, g) != 0)
        {
            goto nomem;
        }

        goto done;
    }

    more = 0;
    rc = ngx_http_gobi_events_load(job, job->since, job->limit, &list, &head,
                                   &more);

    if (rc == GOBI_STORE_EXPIRED) {
        job->head = job->vault.head_seq;

        if (gobi_wsmsg_gen_welcome(g, job->vault.name, job->head,
                                   job->vault.oldest_seq) != 0
            || ngx_http_gobi_msgs_add(job, 0, g) != 0
            || gobi_wsmsg_gen_resync(g, "history_expired", job->head) != 0
            || ngx_http_gobi_msgs_add(job, 0, g) != 0)
        {
            goto nomem;
        }

        goto done;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        goto done;
    }

    if (list.n && list.ev[list.n - 1].seq > head) {
        head = list.ev[list.n - 1].seq;
    }

    job->head = head;

    if (gobi_wsmsg_gen_welcome(g, job->vault.name, head,
                               job->vault.oldest_seq) != 0
        || ngx_http_gobi_msgs_add(job, 0, g) != 0)
    {
        goto nomem;
    }

    /* the manifest is cheaper than a long replay, for both sides */

    if (job->replay_max && head - job->since > job->replay_max) {
        if (gobi_wsmsg_gen_resync(g, "replay_too_long", head) != 0
            || ngx_http_gobi_msgs_add(job, 0, g) != 0)
        {
            goto nomem;
        }

        goto done;
    }

    if (ngx_http_gobi_replay_page(job, g, &list, more) != 0) {
        goto nomem;
    }

    goto done;

nomem:

    ngx_http_gobi_job_error(job, 500, "internal_error", "out of memory");

done:

    ngx_http_gobi_evlist_free(&list);

    if (g) {
        yajl_gen_free(g);
    }
}


/*
 * One page of the replay: at most gobi_ws_batch events of the log, up to
 * the head the welcome announced, squashed.  Pages applied in order give
 * the state at that head as one squash would; the session reads the next
 * page only when this one is in the send queue, so a replay never holds
 * more than a page in memory, whatever the client reads.
 */

static int
ngx_http_gobi_replay_page(ngx_http_gobi_job_t *job, yajl_gen g,
    ngx_http_gobi_evlist_t *list, int more)
{
    size_t         i, n, batch;
    ssize_t        squashed;
    gobi_event_t  *out;

    n = list->n;

    while (n > 0 && list->ev[n - 1].seq > job->head) {
        n--;
        more = 0;
    }

    if (n > 0) {
        job->since = list->ev[n - 1].seq;
    }

    job->replay_more = more && job->since < job->head;

    out = malloc((n ? n : 1) * sizeof(gobi_event_t));
    if (out == NULL) {
        return -1;
    }

    squashed = gobi_squash(list->ev, n, out, NULL);

    if (squashed == GOBI_SQUASH_ENOMEM) {
        free(out);
        return -1;
    }

    /* a thread: the cycle's log, as nginx's own thread tasks log */
    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "gobi: replay of vault %L up to seq %L: %uz events "
                   "squashed to %z", job->vault.id, job->since, n, squashed);

    if (squashed < 0) {
        /* the log contradicts itself: start over from the manifest */
        free(out);
        job->replay_more = 0;

        snprintf(job->log, sizeof(job->log),
                 "event log of vault %lld does not replay before seq %lld",
                 (long long) job->vault.id, (long long) job->since);

        if (gobi_wsmsg_gen_resync(g, "inconsistent_history", job->head) != 0
            || ngx_http_gobi_msgs_add(job, 0, g) != 0)
        {
            return -1;
        }

        return 0;
    }

    batch = job->limit ? (size_t) job->limit : 500;
    i = 0;

    do {
        batch = ngx_min(batch, (size_t) squashed - i);

        if (gobi_wsmsg_gen_events(g, out + i, batch,
                                  i + batch < (size_t) squashed
                                  || job->replay_more)
            != 0
            || ngx_http_gobi_msgs_add(job, 0, g) != 0)
        {
            free(out);
            return -1;
        }

        i += batch;

    } while (i < (size_t) squashed);

    free(out);

    return 0;
}


/* the next page of a replay (thread side) */

static void
ngx_http_gobi_run_replay(ngx_http_gobi_job_t *job)
{
    int                      more;
    int64_t                  head;
    yajl_gen                 g;
    gobi_store_rc_e          rc;
    ngx_http_gobi_evlist_t   list;

    ngx_memzero(&list, sizeof(list));

    g = ngx_http_gobi_gen_new();
    if (g == NULL) {
        goto nomem;
    }

    more = 0;
    rc = ngx_http_gobi_events_load(job, job->since, job->limit, &list, &head,
                                   &more);

    if (rc == GOBI_STORE_EXPIRED) {
        /* pruned while the client read the first pages */
        job->replay_more = 0;

        if (gobi_wsmsg_gen_resync(g, "history_expired", job->head) != 0
            || ngx_http_gobi_msgs_add(job, 0, g) != 0)
        {
            goto nomem;
        }

        goto done;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        goto done;
    }

    if (ngx_http_gobi_replay_page(job, g, &list, more) != 0) {
        goto nomem;
    }

    goto done;

nomem:

    ngx_http_gobi_job_error(job, 500, "internal_error", "out of memory");

done:

    ngx_http_gobi_evlist_free(&list);

    if (g) {
        yajl_gen_free(g);
    }
}


static void
ngx_http_gobi_replay_done(ngx_http_gobi_ws_t *ws, ngx_http_gobi_job_t *job)
{
    if (job->code) {
        /* the store failed half way: the client reconnects from its
         * cursor, which only moves after more:false */
        ngx_http_gobi_wsproto_error(ws, job->code, job->message);
        ngx_http_gobi_ws_job_free(job);
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "replay failed");
        return;
    }

    ngx_http_gobi_session_send_msgs(ws, job, ngx_http_gobi_hello_sent);
}


static void
ngx_http_gobi_hello_done(ngx_http_gobi_ws_t *ws, ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_session_t  *s;

    s = ws->data;

    if (job->code) {
        /* no such vault, or the store failed: the session may try again */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                       "gobi: hello refused: %s", job->code);

        s->hello = 0;
        ngx_http_gobi_wsproto_error(ws, job->code, job->message);
        ngx_http_gobi_ws_job_free(job);
        ngx_http_gobi_ws_resume(ws);
        return;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                   "gobi: hello accepted: vault %L, since seq %L, head %L, "
                   "replay of %uz bytes",
                   job->vault.id, job->since, job->head, job->msgs_len);

    s->vault_id = job->vault.id;

    if (job->device) {
        s->device = ngx_pnalloc(ws->request->pool,
                                ngx_strlen(job->device) + 1);
        if (s->device) {
            ngx_cpystrn((u_char *) s->device, (u_char *) job->device,
                        ngx_strlen(job->device) + 1);
        }
    }

    ngx_http_gobi_session_send_msgs(ws, job, ngx_http_gobi_hello_sent);
}


static void
ngx_http_gobi_hello_sent(ngx_http_gobi_ws_t *ws, ngx_http_gobi_job_t *job)
{
    int64_t                   head;
    ngx_http_gobi_session_t  *s;

    s = ws->data;

    if (job->replay_more) {
        /* this page is queued: read the next */
        job->msgs_len = 0;

        if (ngx_http_gobi_ws_task_post(ws, job, ngx_http_gobi_run_replay,
                                       ngx_http_gobi_replay_done)
            != NGX_OK)
        {
            ngx_http_gobi_ws_job_free(job);
            ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "overloaded");
        }

        return;
    }

    head = job->head;
    ngx_http_gobi_ws_job_free(job);

    /*
     * Live from head on.  What was committed between the replay's read and
     * now is fetched by the catch-up that joining starts.
     */

    s->live = 1;

    if (ngx_http_gobi_subs_join(&s->sub, &ngx_http_gobi_session_sub_fn,
                                s->vault_id, head, ws->connection->log)
        != NGX_OK)
    {
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    /*
     * Operations wait for that catch-up: one that ran beside it could
     * have its own event delivered before its ack.
     */

    if (s->sub.catching_up) {
        s->joining = 1;
        return;
    }

    ngx_http_gobi_ws_resume(ws);
}


/* rename and delete ----------------------------------------------------- */


/*
 * Why a path the client named is gone: if its tombstone was left by a
 * rename, the client should rename too; else delete its copy.
 */

static void
ngx_http_gobi_gone_action(ngx_http_gobi_job_t *job, const char *path,
    gobi_wsmsg_action_t *a, char **to)
{
    int                      more;
    int64_t                  head;
    gobi_file_t              f;
    gobi_store_rc_e          rc;
    ngx_http_gobi_evlist_t   list;

    a->op = GOBI_WSMSG_DELETE_LOCAL;
    a->path = path;

    ngx_memzero(&f, sizeof(gobi_file_t));

    rc = job->gmcf->store_driver->file_get(job->store, job->vault.id, path,
                                           &f);
    if (rc != GOBI_STORE_OK || !f.deleted || f.version <= 0) {
        return;
    }

    ngx_memzero(&list, sizeof(list));

    rc = ngx_http_gobi_events_load(job, f.version - 1, 1, &list, &head,
                                   &more);

    if (rc == GOBI_STORE_OK && list.n == 1
        && list.ev[0].seq == f.version && list.ev[0].type == GOBI_EV_RENAME
        && list.ev[0].from && ngx_strcmp(list.ev[0].from, path) == 0)
    {
        *to = strdup(list.ev[0].path);

        if (*to) {
            a->op = GOBI_WSMSG_RENAME_LOCAL;
            a->from = path;
            a->to = *to;
        }
    }

    ngx_http_gobi_evlist_free(&list);
}


static void
ngx_http_gobi_run_op(ngx_http_gobi_job_t *job)
{
    char                 *to;
    size_t                nactions;
    yajl_gen              g;
    const char           *code, *msg, *subject;
    gobi_write_t          w;
    gobi_store_rc_e       rc;
    gobi_wsmsg_action_t   action;

    to = NULL;

    /* a revoked token changes nothing (the session then ends) */
    if (ngx_http_gobi_ws_token_recheck(job) != NGX_OK) {
        return;
    }

    g = ngx_http_gobi_gen_new();
    if (g == NULL) {
        ngx_http_gobi_job_error(job, 500, "internal_error", "out of memory");
        return;
    }

    ngx_memzero(&w, sizeof(gobi_write_t));
    w.type = job->from ? GOBI_EV_RENAME : GOBI_EV_DELETE;
    w.path = job->path;
    w.from = job->from;
    w.base_version = job->base_version;
    w.hash = "";
    w.device = job->device;
    w.now = job->now;

    ngx_memzero(&job->file, sizeof(gobi_file_t));
    ngx_memzero(&action, sizeof(action));
    nactions = 1;

    subject = job->from ? job->from : job->path;

    if (w.type == GOBI_EV_DELETE) {
        switch (ngx_http_gobi_mass_delete_check(job)) {

        case NGX_OK:
            break;

        case NGX_DECLINED:
            /* not deleted here: the device gets the file back */
            code = "mass_delete_blocked";
            msg = job->message;
            (void) job->gmcf->store_driver->file_get(job->store,
                                                     job->vault.id,
                                                     job->path, &job->file);
            action.op = GOBI_WSMSG_DOWNLOAD;
            action.path = subject;
            action.version = job->file.version;
            job->code = NULL;
            goto reject;

        default:
            goto done;
        }
    }

    rc = job->gmcf->store_driver->write(job->store, job->vault.id, &w,
                                        &job->event, &job->file);

    if (rc == GOBI_STORE_CONFLICT) {
        /* the session knows the vault's id only: its strategy is read
         * when a conflict needs it */
        rc = job->gmcf->store_driver->vault_get_by_id(job->store,
                                                      job->vault.id,
                                                      &job->vault);
        if (rc != GOBI_STORE_OK) {
            ngx_http_gobi_job_store_error(job, rc);
            goto done;
        }

        rc = ngx_http_gobi_resolve(job, &w, GOBI_STORE_CONFLICT);

        if (job->code) {
            goto done;
        }
    }

    switch (rc) {

    case GOBI_STORE_OK:
        job->head = job->event.seq;

        if (gobi_wsmsg_gen_ack(g, job->op_id, job->op_id_len,
                               job->event.seq, job->event.version) != 0
            || ngx_http_gobi_msgs_add(job, job->event.seq, g) != 0)
        {
            ngx_http_gobi_job_error(job, 500, "internal_error",
                                    "out of memory");
        }

        goto done;

    case GOBI_STORE_CONFLICT:
        code = "version_conflict";
        msg = "the file changed since the version this operation is "
              "based on";

        if (job->file.deleted) {
            ngx_http_gobi_gone_action(job, subject, &action, &to);

        } else {
            action.op = GOBI_WSMSG_DOWNLOAD;
            action.path = subject;
            action.version = job->file.version;
        }

        break;

    case GOBI_STORE_NOT_FOUND:
        code = "file_not_found";
        msg = "no such file";
        ngx_http_gobi_gone_action(job, subject, &action, &to);
        break;

    case GOBI_STORE_EXISTS:
        code = "target_exists";
        msg = "a file exists at the target path";
        action.op = GOBI_WSMSG_DOWNLOAD;
        action.path = job->path;
        action.version = job->file.version;
        break;

    default:
        ngx_http_gobi_job_store_error(job, rc);
        goto done;
    }

reject:

    if (gobi_wsmsg_gen_reject(g, job->op_id, job->op_id_len, code, msg,
                              &action, nactions) != 0
        || ngx_http_gobi_msgs_add(job, 0, g) != 0)
    {
        ngx_http_gobi_job_error(job, 500, "internal_error", "out of memory");
    }

done:

    free(to);
    yajl_gen_free(g);
}


static void
ngx_http_gobi_op_done(ngx_http_gobi_ws_t *ws, ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_session_t  *s;

    s = ws->data;

    if (job->code) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                       "gobi: operation %*s failed: %s",
                       job->op_id_len, job->op_id, job->code);

        ngx_http_gobi_wsproto_error_id(ws, job->code, job->message,
                                       job->op_id, job->op_id_len);
        ngx_http_gobi_ws_job_free(job);
        ngx_http_gobi_ws_resume(ws);
        return;
    }

    if (job->head) {
        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                       "gobi: operation %*s accepted: seq %L, "
                       "version %L", job->op_id_len, job->op_id,
                       job->event.seq, job->event.version);

        ngx_http_gobi_bus_publish(s->vault_id, job->head);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                       "gobi: operation %*s rejected",
                       job->op_id_len, job->op_id);
    }

    ngx_http_gobi_session_send_msgs(ws, job, ngx_http_gobi_op_sent);
}


static void
ngx_http_gobi_op_sent(ngx_http_gobi_ws_t *ws, ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_ws_job_free(job);
    ngx_http_gobi_ws_resume(ws);
}


/* the session as a subscriber (see ngx_http_gobi_sub_fn_t) -------------- */


static ngx_int_t
ngx_http_gobi_session_respond(ngx_http_gobi_sub_t *sub, u_char *msg,
    size_t len)
{
    return ngx_http_gobi_ws_send_text(ngx_http_gobi_sub_session(sub)->ws,
                                      msg, len);
}


static ngx_int_t
ngx_http_gobi_session_catch_up(ngx_http_gobi_sub_t *sub, int64_t since)
{
    ngx_http_gobi_ws_t       *ws;
    ngx_http_gobi_job_t      *job;
    ngx_http_gobi_session_t  *s;

    s = ngx_http_gobi_sub_session(sub);
    ws = s->ws;

    if (ws->closed) {
        return NGX_DECLINED;
    }

    job = ngx_http_gobi_ws_job(ws);
    if (job == NULL) {
        return NGX_ERROR;
    }

    job->vault.id = s->vault_id;
    job->since = since;

    if (ngx_http_gobi_ws_task_post(ws, job, ngx_http_gobi_subs_run_catch_up,
                                   ngx_http_gobi_session_caught_up)
        != NGX_OK)
    {
        ngx_http_gobi_ws_job_free(job);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                   "gobi: session catches up after seq %L", since);

    return NGX_OK;
}


static void
ngx_http_gobi_session_caught_up(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_session_t  *s;

    s = ws->data;

    ngx_http_gobi_subs_caught_up(&s->sub, job);
    ngx_http_gobi_ws_job_free(job);

    if (s->joining && !s->sub.catching_up) {
        s->joining = 0;
        ngx_http_gobi_ws_resume(ws);
    }
}


static void
ngx_http_gobi_session_error(ngx_http_gobi_sub_t *sub, const char *code,
    const char *message)
{
    ngx_http_gobi_wsproto_error(ngx_http_gobi_sub_session(sub)->ws, code,
                                message);
}


static void
ngx_http_gobi_session_gone(ngx_http_gobi_sub_t *sub)
{
    ngx_http_gobi_ws_t  *ws;

    ws = ngx_http_gobi_sub_session(sub)->ws;

    ngx_http_gobi_wsproto_error(ws, "vault_not_found",
                                "the vault was deleted");
    ngx_http_gobi_ws_end(ws, GOBI_WS_CLOSE_NORMAL, "vault deleted");
}
