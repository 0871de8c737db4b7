
/*
 * Copyright (C) the gobi authors
 *
 * The WebSocket endpoint: RFC 6455 handshake and connection handling.
 * Frames are parsed by lib/gobi_ws_frame.c; messages go to the user's
 * hooks (ngx_http_gobi_ws_hooks_t).  The connection is ours after the
 * handshake: reads go through a resumable parser, writes through a
 * bounded queue.
 */


#include "ngx_http_gobi_ws.h"

#include <ngx_sha1.h>
#include <stdlib.h>


#define NGX_HTTP_GOBI_WS_GUID   "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define NGX_HTTP_GOBI_WS_RBUF   16384


#define ctx_ws_get(r)                                                         \
    ((ngx_http_gobi_ws_t *)                                                   \
     ((ngx_http_gobi_ctx_t *) ngx_http_get_module_ctx(r,                      \
                                  ngx_http_gobi_module))->ws)
#define ctx_ws_set(r, w)                                                      \
    ((ngx_http_gobi_ctx_t *) ngx_http_get_module_ctx(r,                       \
                                 ngx_http_gobi_module))->ws = (w)


typedef struct {
    ngx_http_gobi_job_t          job;
    ngx_http_gobi_ws_t          *ws;
    ngx_http_gobi_ws_done_pt     done;
} ngx_http_gobi_ws_task_t;


static ngx_int_t ngx_http_gobi_ws_check(ngx_http_request_t *r,
    ngx_str_t *key);
static char *ngx_http_gobi_ws_token_arg(ngx_http_request_t *r);
static ngx_int_t ngx_http_gobi_ws_origin(ngx_http_request_t *r);
static void ngx_http_gobi_ws_run_auth(ngx_http_gobi_job_t *job);
static ngx_int_t ngx_http_gobi_ws_upgrade(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
static void ngx_http_gobi_ws_read(ngx_http_request_t *r);
static void ngx_http_gobi_ws_write(ngx_http_request_t *r);
static void ngx_http_gobi_ws_input(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_ws_message(ngx_http_gobi_ws_t *ws);
static ngx_int_t ngx_http_gobi_ws_queue(ngx_http_gobi_ws_t *ws,
    unsigned opcode, const u_char *p, size_t len);
static void ngx_http_gobi_ws_flush(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_ws_linger(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_ws_ping(ngx_event_t *ev);
static void ngx_http_gobi_ws_check_token(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_ws_revoked(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_ws_cleanup(void *data);
static void ngx_http_gobi_ws_close(ngx_http_gobi_ws_t *ws);
static void ngx_http_gobi_ws_close_handler(ngx_event_t *ev);
static void ngx_http_gobi_ws_task_done(ngx_http_gobi_job_t *job);


/* the handshake ---------------------------------------------------------- */


/* the handshake, then the connection is the user's through its hooks */

ngx_int_t
ngx_http_gobi_ws_accept(ngx_http_request_t *r,
    const ngx_http_gobi_ws_hooks_t *hooks)
{
    char                 *arg;
    ngx_int_t             rc;
    ngx_str_t             key;
    ngx_http_gobi_ws_t   *ws;
    ngx_http_gobi_ctx_t  *ctx;
    ngx_http_gobi_job_t  *job;

    ctx = ngx_http_gobi_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job = ctx->job;

    /*
     * Browsers cannot set headers: ?access_token= stands in for Bearer.
     * It is taken and masked before anything can answer, so no outcome
     * logs it.
     */

    arg = ngx_http_gobi_ws_token_arg(r);
    if (arg == (char *) NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* not a handshake: the error is sent, key.data stays NULL */
    key.data = NULL;

    rc = ngx_http_gobi_ws_check(r, &key);
    if (key.data == NULL) {
        return rc;
    }

    if (ngx_http_gobi_ws_origin(r) != NGX_OK) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                        "this Origin may not open a "
                                        "WebSocket (gobi_ws_allowed_origins)");
    }

    if (job->store == NULL) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "store_unavailable",
                                        "the metadata store is not open");
    }

    rc = ngx_http_gobi_auth_parse(r, job);
    if (rc == NGX_DECLINED && r->headers_in.authorization == NULL
        && arg != NULL)
    {
        job->token = arg;
        job->auth = NGX_HTTP_GOBI_AUTH_BEARER;
        rc = NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                        "unauthorized",
                                        "missing or invalid credentials");
    }

    /* a password check costs an argon2id: only logins may ask one */

    if (job->auth == NGX_HTTP_GOBI_AUTH_BASIC) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                        "unauthorized",
                                        "HTTP Basic is accepted only by "
                                        "POST /api/v1/sessions; send its "
                                        "token as Bearer");
    }

    job->path = (char *) key.data;   /* the key, for the upgrade */

    /*
     * Made now to keep the hooks until the upgrade; nothing reads it
     * before (the read and write handlers are nginx's until then).
     */

    ws = ngx_pcalloc(r->pool, sizeof(ngx_http_gobi_ws_t));
    if (ws == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ws->hooks = hooks;
    ctx_ws_set(r, ws);

    if (ngx_http_gobi_task_post(r, job, ngx_http_gobi_ws_run_auth,
                                ngx_http_gobi_ws_upgrade)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_gobi_ws_has_token(ngx_str_t *value, const char *token)
{
    size_t   n;
    u_char  *p, *end, *start;

    n = ngx_strlen(token);
    p = value->data;
    end = p + value->len;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < end && *p != ',' && *p != ' ' && *p != '\t') {
            p++;
        }

        if ((size_t) (p - start) == n
            && ngx_strncasecmp(start, (u_char *) token, n) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_gobi_ws_check(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char            raw[32];
    ngx_str_t         decoded;
    ngx_table_elt_t  *h, *conn, *version;

    if (r->http_version >= NGX_HTTP_VERSION_20) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "websocket_unsupported",
                                        "WebSocket needs HTTP/1.1; HTTP/2 "
                                        "extended CONNECT is not supported");
    }

    if (r->method != NGX_HTTP_GET) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET");

        return ngx_http_gobi_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                        "method_not_allowed",
                                        "the WebSocket handshake is a GET");
    }

    h = ngx_http_gobi_header_in(r, "Upgrade");
    conn = ngx_http_gobi_header_in(r, "Connection");

    if (r->http_version < NGX_HTTP_VERSION_11
        || h == NULL || !ngx_http_gobi_ws_has_token(&h->value, "websocket")
        || conn == NULL || !ngx_http_gobi_ws_has_token(&conn->value,
                                                       "upgrade"))
    {
        return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "expected a WebSocket handshake "
                                        "(Upgrade: websocket)");
    }

    version = ngx_http_gobi_header_in(r, "Sec-WebSocket-Version");

    if (version == NULL || version->value.len != 2
        || ngx_strncmp(version->value.data, "13", 2) != 0)
    {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Sec-WebSocket-Version");
        ngx_str_set(&h->value, "13");

        return ngx_http_gobi_send_error(r, 426, "bad_request",
                                        "Sec-WebSocket-Version must be 13");
    }

    h = ngx_http_gobi_header_in(r, "Sec-WebSocket-Key");

    decoded.data = raw;

    if (h == NULL || h->value.len != 24
        || ngx_decode_base64(&decoded, &h->value) != NGX_OK
        || decoded.len != 16)
    {
        return ngx_http_gobi_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "Sec-WebSocket-Key must be 16 bytes "
                                        "in base64");
    }

    key->len = h->value.len;
    key->data = ngx_pnalloc(r->pool, key->len + 1);
    if (key->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(key->data, h->value.data, key->len);
    key->data[key->len] = '\0';

    return NGX_OK;
}


/*
 * The first ?access_token= (NULL if none, or not a token's size), after
 * every access_token value in the arguments is overwritten with '*': the
 * arguments point into the request line, which the access and error logs
 * show, whatever the answer.
 */

static char *
ngx_http_gobi_ws_token_arg(ngx_http_request_t *r)
{
    char    *token;
    u_char  *p, *last, *v;

    token = NULL;
    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        v = NULL;

        if ((size_t) (last - p) > 13
            && ngx_strncmp(p, "access_token=", 13) == 0)
        {
            v = p + 13;
        }

        while (p < last && *p != '&') {
            p++;
        }

        if (v != NULL) {
            if (token == NULL && p - v > 0 && p - v <= 256) {
                /* tokens are url-safe base64: nothing to unescape */
                token = ngx_http_gobi_strdup(r->pool, v, p - v);
                if (token == NULL) {
                    return (char *) NGX_ERROR;
                }
            }

            ngx_memset(v, '*', p - v);
        }

        p++;
    }

    return token;
}


/* no Origin (not a browser), or one of gobi_ws_allowed_origins */

static ngx_int_t
ngx_http_gobi_ws_origin(ngx_http_request_t *r)
{
    ngx_str_t                 *o;
    ngx_uint_t                 i;
    ngx_table_elt_t           *h;
    ngx_http_gobi_loc_conf_t  *glcf;

    h = ngx_http_gobi_header_in(r, "Origin");
    if (h == NULL) {
        return NGX_OK;
    }

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gobi_module);

    if (glcf->ws_allowed_origins == NULL) {
        return NGX_DECLINED;
    }

    o = glcf->ws_allowed_origins->elts;

    for (i = 0; i < glcf->ws_allowed_origins->nelts; i++) {
        if (o[i].len == h->value.len
            && ngx_strncasecmp(o[i].data, h->value.data, o[i].len) == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static void
ngx_http_gobi_ws_run_auth(ngx_http_gobi_job_t *job)
{
    (void) ngx_http_gobi_auth_check(job);
}


static ngx_int_t
ngx_http_gobi_ws_upgrade(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    u_char                    *p, accept[32], digest[20];
    size_t                     len;
    ngx_str_t                  src, dst;
    ngx_sha1_t                 sha1;
    ngx_connection_t          *c;
    ngx_http_cleanup_t        *cln;
    ngx_http_gobi_ws_t        *ws;
    ngx_http_gobi_ws_out_t    *out;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_gobi_loc_conf_t  *glcf;

    if (job->code) {
        return ngx_http_gobi_send_job(r, job);
    }

    c = r->connection;
    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gobi_module);

    ws = ctx_ws_get(r);

    ws->request = r;
    ws->connection = c;
    ws->conf = glcf;
    ws->user = job->user;
    ngx_memcpy(ws->token_hash, job->token_hash, sizeof(ws->token_hash));
    ws->out_last = &ws->out;
    ws->pong = 1;

    ws->rbuf = ngx_alloc(NGX_HTTP_GOBI_WS_RBUF, c->log);
    if (ws->rbuf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ws->rpos = ws->rbuf;
    ws->rlast = ws->rbuf;

    gobi_ws_assembler_init(&ws->in, 1, glcf->ws_max_message);

    /*
     * Frames are small and often several in a row: Nagle would hold the
     * second behind the peer's delayed ACK (nginx does this for the
     * connections it proxies upgraded, too)
     */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->tcp_nodelay && ngx_tcp_nodelay(c) != NGX_OK) {
        ngx_free(ws->rbuf);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL || ws->hooks->on_open(ws) != NGX_OK) {
        ngx_free(ws->rbuf);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_gobi_ws_cleanup;
    cln->data = ws;

    /* Sec-WebSocket-Accept: base64(SHA-1(key + GUID)) */

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, job->path, ngx_strlen(job->path));
    ngx_sha1_update(&sha1, NGX_HTTP_GOBI_WS_GUID,
                    sizeof(NGX_HTTP_GOBI_WS_GUID) - 1);
    ngx_sha1_final(digest, &sha1);

    src.data = digest;
    src.len = sizeof(digest);
    dst.data = accept;
    ngx_encode_base64(&dst, &src);

    /*
     * The 101 goes out through our own queue, not nginx's filters: from
     * here on every byte on the connection is a frame of ours.
     */

#define NGX_HTTP_GOBI_WS_101                                                  \
    "HTTP/1.1 101 Switching Protocols" CRLF                                   \
    "Upgrade: websocket" CRLF                                                 \
    "Connection: Upgrade" CRLF                                                \
    "Sec-WebSocket-Accept: "

    len = sizeof(NGX_HTTP_GOBI_WS_101) - 1 + dst.len + 4;

    out = ngx_alloc(sizeof(ngx_http_gobi_ws_out_t) + len, c->log);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(out->data, NGX_HTTP_GOBI_WS_101,
                   sizeof(NGX_HTTP_GOBI_WS_101) - 1);
    p = ngx_cpymem(p, dst.data, dst.len);
    *p++ = CR; *p++ = LF; *p++ = CR; *p++ = LF;

    out->next = NULL;
    out->len = len;
    out->sent = 0;
    *ws->out_last = out;
    ws->out_last = &out->next;
    ws->queued = len;

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    r->header_sent = 1;
    r->keepalive = 0;
    r->lingering_close = 0;

    r->read_event_handler = ngx_http_gobi_ws_read;
    r->write_event_handler = ngx_http_gobi_ws_write;

    /* graceful shutdown closes "idle" connections: ours say 1001 then */
    c->idle = 1;
    c->log->action = "serving WebSocket";

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ws->close_ev.handler = ngx_http_gobi_ws_close_handler;
    ws->close_ev.data = ws;
    ws->close_ev.log = c->log;

    ws->ping.handler = ngx_http_gobi_ws_ping;
    ws->ping.data = ws;
    ws->ping.log = c->log;
    ws->ping.cancelable = 1;

    if (glcf->ws_ping_interval) {
        ngx_add_timer(&ws->ping, glcf->ws_ping_interval);
    }

    /* bytes pipelined after the handshake are frames already */

    if (r->header_in && r->header_in->pos < r->header_in->last) {
        len = ngx_min((size_t) (r->header_in->last - r->header_in->pos),
                      (size_t) NGX_HTTP_GOBI_WS_RBUF);
        ws->rlast = ngx_cpymem(ws->rbuf, r->header_in->pos, len);
        r->header_in->pos += len;
    }

    /* the session has what it needs of the job: ~7 KB back per session */
    ngx_http_gobi_ctx_drop_job(r);

    /* the session holds the request until it closes */
    r->main->count++;

    ngx_http_gobi_ws_flush(ws);

    if (!ws->closed) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    return NGX_DONE;
}


/* reading --------------------------------------------------------------- */


static void
ngx_http_gobi_ws_read(ngx_http_request_t *r)
{
    ngx_http_gobi_ws_t  *ws;

    ws = ctx_ws_get(r);

    if (ws == NULL || ws->closed) {
        return;
    }

    if (r->connection->read->timedout) {
        /* lingering_timeout after our close frame: the peer had its time */
        r->connection->read->timedout = 0;
        ngx_http_gobi_ws_close(ws);
        return;
    }

    ngx_http_gobi_ws_input(ws);
}


/* reading waits, the bytes stay in the socket (TCP pushes back) */

void
ngx_http_gobi_ws_pause(ngx_http_gobi_ws_t *ws)
{
    ws->busy = 1;
}


void
ngx_http_gobi_ws_resume(ngx_http_gobi_ws_t *ws)
{
    ws->busy = 0;

    if (!ws->closed) {
        ngx_http_gobi_ws_input(ws);
    }
}


static void
ngx_http_gobi_ws_input(ngx_http_gobi_ws_t *ws)
{
    int                 rc;
    ssize_t             n;
    ngx_connection_t   *c;

    c = ws->connection;

    for ( ;; ) {

        /* what is buffered first: one message at a time while busy */

        while (ws->rpos < ws->rlast && !ws->busy && !ws->closed) {

            if (ws->in.close_code) {
                /* past a protocol error (it sticks) no frame can be
                 * found: what comes is dropped */
                ws->rpos = ws->rlast;
                break;
            }

            rc = gobi_ws_assemble(&ws->in, &ws->rpos, ws->rlast);

            if (rc == GOBI_WS_MESSAGE) {
                ngx_http_gobi_ws_message(ws);
                continue;
            }

            if (rc == GOBI_WS_ERROR) {
                if (ws->closing) {
                    continue;
                }

                ngx_log_error(NGX_LOG_INFO, c->log, 0,
                              "gobi: websocket: %s", ws->in.error);
                ngx_http_gobi_ws_fail(ws, ws->in.close_code, ws->in.error);
                return;
            }
        }

        if (ws->busy || ws->closed || (ws->closing && !ws->lingering)) {
            return;
        }

        if (ws->rbuf == NULL) {
            ws->rbuf = ngx_alloc(NGX_HTTP_GOBI_WS_RBUF, c->log);
            if (ws->rbuf == NULL) {
                ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_INTERNAL,
                                      "out of memory");
                return;
            }
        }

        ws->rpos = ws->rbuf;
        ws->rlast = ws->rbuf;

        n = c->recv(c, ws->rbuf, NGX_HTTP_GOBI_WS_RBUF);

        if (n == NGX_AGAIN) {
            /*
             * all read and handled: an idle session gives its buffer
             * back until the peer sends again, as nginx's keepalive
             * connections do (most sessions are idle most of the time)
             */
            ngx_free(ws->rbuf);
            ws->rbuf = NULL;
            ws->rpos = NULL;
            ws->rlast = NULL;

            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                ngx_http_gobi_ws_close(ws);
            }

            return;
        }

        if (n == 0 || n == NGX_ERROR) {
            /* the peer is gone without a close frame (or after ours) */
            if (!ws->lingering) {
                c->error = 1;
            }

            ngx_http_gobi_ws_close(ws);
            return;
        }

        ws->rlast = ws->rbuf + n;
    }
}


static void
ngx_http_gobi_ws_message(ngx_http_gobi_ws_t *ws)
{
    unsigned        code, peer;
    size_t          rlen;
    const u_char   *reason;
    u_char          payload[GOBI_WS_MAX_CONTROL];

    if (ws->closing && ws->in.opcode != GOBI_WS_CLOSE) {
        /* after our close frame only the peer's close matters */
        return;
    }

    switch (ws->in.opcode) {

    case GOBI_WS_TEXT:
        ws->hooks->on_text(ws, ws->in.data, ws->in.len);
        return;

    case GOBI_WS_BINARY:
        ws->hooks->on_binary(ws, ws->in.data, ws->in.len);
        return;

    case GOBI_WS_PING:
        (void) ngx_http_gobi_ws_queue(ws, GOBI_WS_PONG, ws->in.data,
                                      ws->in.len);
        ngx_http_gobi_ws_flush(ws);
        return;

    case GOBI_WS_PONG:
        ws->pong = 1;
        return;

    case GOBI_WS_CLOSE:
        code = gobi_ws_close_parse(ws->in.data, ws->in.len, &peer, &reason,
                                   &rlen);
        if (code == 0) {
            code = GOBI_WS_CLOSE_NORMAL;
        }

        ws->peer_closed = 1;

        if (ws->closing) {
            /* the answer to our close: done (or once ours is out) */
            if (ws->lingering) {
                ngx_http_gobi_ws_close(ws);
            }

            return;
        }

        rlen = gobi_ws_close_payload(payload, code, "");
        (void) ngx_http_gobi_ws_queue(ws, GOBI_WS_CLOSE, payload, rlen);
        ws->closing = 1;

        /* the connection goes once the answer is out */
        ngx_http_gobi_ws_flush(ws);

        return;
    }
}


/* writing --------------------------------------------------------------- */


static ngx_int_t
ngx_http_gobi_ws_queue(ngx_http_gobi_ws_t *ws, unsigned opcode,
    const u_char *p, size_t len)
{
    ngx_http_gobi_ws_out_t  *out;

    if (ws->closed || (ws->closing && opcode != GOBI_WS_CLOSE)) {
        return NGX_DECLINED;
    }

    if (ws->queued && ws->queued + len > ws->conf->ws_send_queue
        && opcode != GOBI_WS_CLOSE)
    {
        /* a reader this slow loses the connection, not our memory */
        ngx_log_error(NGX_LOG_INFO, ws->connection->log, 0,
                      "gobi: websocket send queue over %uz bytes, closing",
                      ws->conf->ws_send_queue);
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_POLICY, "too slow");
        return NGX_ERROR;
    }

    out = ngx_alloc(sizeof(ngx_http_gobi_ws_out_t) + GOBI_WS_MAX_HEADER + len,
                    ws->connection->log);
    if (out == NULL) {
        ngx_http_gobi_ws_close(ws);
        return NGX_ERROR;
    }

    out->len = gobi_ws_frame(out->data, 1, opcode, p, len, NULL);
    out->sent = 0;
    out->next = NULL;

    *ws->out_last = out;
    ws->out_last = &out->next;
    ws->queued += out->len;

    return NGX_OK;
}


ngx_int_t
ngx_http_gobi_ws_send_text(ngx_http_gobi_ws_t *ws, const u_char *p,
    size_t len)
{
    if (ngx_http_gobi_ws_queue(ws, GOBI_WS_TEXT, p, len) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_gobi_ws_flush(ws);

    return ws->closed ? NGX_ERROR : NGX_OK;
}


ngx_int_t
ngx_http_gobi_ws_send_gen(ngx_http_gobi_ws_t *ws, yajl_gen g)
{
    size_t                len;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    return ngx_http_gobi_ws_send_text(ws, buf, len);
}


static void
ngx_http_gobi_ws_write(ngx_http_request_t *r)
{
    ngx_http_gobi_ws_t  *ws;

    ws = ctx_ws_get(r);

    if (ws == NULL || ws->closed) {
        return;
    }

    if (ws->connection->write->timedout) {
        ws->connection->write->timedout = 0;

        if (ws->closing) {
            /* not even our close frame gets out: give up on it */
            ngx_http_gobi_ws_close(ws);
            return;
        }

        ngx_log_error(NGX_LOG_INFO, ws->connection->log, 0,
                      "gobi: websocket peer read nothing for send_timeout, "
                      "closing");
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_POLICY, "too slow");
        return;
    }

    ngx_http_gobi_ws_flush(ws);
}


static void
ngx_http_gobi_ws_flush(ngx_http_gobi_ws_t *ws)
{
    ssize_t                    n;
    ngx_connection_t          *c;
    ngx_http_gobi_ws_out_t    *out;
    ngx_http_core_loc_conf_t  *clcf;

    c = ws->connection;

    while (ws->out) {
        out = ws->out;

        n = c->send(c, out->data + out->sent, out->len - out->sent);

        if (n == NGX_AGAIN) {
            /*
             * A peer that takes nothing for send_timeout is gone or not
             * reading (a replay waiting for the queue to drain, or our
             * close frame): nginx's own rule for stalled writes.
             */
            if (!c->write->timer_set) {
                clcf = ngx_http_get_module_loc_conf(ws->request,
                                                    ngx_http_core_module);
                ngx_add_timer(c->write, clcf->send_timeout);
            }

            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_gobi_ws_close(ws);
            }

            return;
        }

        if (n == NGX_ERROR) {
            c->error = 1;
            ngx_http_gobi_ws_close(ws);
            return;
        }

        out->sent += n;

        if (c->write->timer_set) {
            ngx_del_timer(c->write);
        }

        if (out->sent < out->len) {
            continue;
        }

        ws->queued -= out->len;
        ws->out = out->next;

        if (ws->out == NULL) {
            ws->out_last = &ws->out;
        }

        ngx_free(out);
    }

    if (ws->closing) {
        ngx_http_gobi_ws_linger(ws);
        return;
    }

    /* the queue is empty: the user may have more (a replay, paced) */
    ws->hooks->on_writable(ws);
}


/* closing --------------------------------------------------------------- */


/*
 * Our close frame is out.  Closing the socket while the peer's bytes (a
 * pong, its own close frame) wait unread in it would send a reset, and a
 * reset can take our close frame and the error before it away from a peer
 * that has not read them yet.  So the write side is shut (the peer reads
 * the end), and what comes is read and dropped until the peer's close
 * frame, its end of stream or lingering_timeout, as nginx's lingering
 * close does for HTTP.
 */

static void
ngx_http_gobi_ws_linger(ngx_http_gobi_ws_t *ws)
{
    ngx_connection_t          *c;
    ngx_http_core_loc_conf_t  *clcf;

    c = ws->connection;

    if (ws->peer_closed || c->error) {
        ngx_http_gobi_ws_close(ws);
        return;
    }

    if (ws->lingering) {
        return;
    }

    ws->lingering = 1;

    if (ws->ping.timer_set) {
        ngx_del_timer(&ws->ping);
    }

    /* TLS would need its close_notify first: there the peer's close or
     * the timeout ends it, without a half-close */

#if (NGX_SSL || NGX_COMPAT)
    if (c->ssl == NULL)
#endif
    {
        if (ngx_shutdown_socket(c->fd, NGX_WRITE_SHUTDOWN) == -1) {
            ngx_connection_error(c, ngx_socket_errno,
                                 ngx_shutdown_socket_n " failed");
            ngx_http_gobi_ws_close(ws);
            return;
        }
    }

    clcf = ngx_http_get_module_loc_conf(ws->request, ngx_http_core_module);
    ngx_add_timer(c->read, clcf->lingering_timeout);

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_gobi_ws_close(ws);
        return;
    }

    /* bytes already here: read them from the event loop, not from
     * whatever frame of ours is on the stack */

    if (c->read->ready || ws->rpos < ws->rlast) {
        ngx_post_event(c->read, &ngx_posted_events);
    }
}


/* a close frame with code and reason, then the connection goes */

void
ngx_http_gobi_ws_fail(ngx_http_gobi_ws_t *ws, unsigned code,
    const char *reason)
{
    ngx_http_gobi_ws_out_t  *out, *next, *keep;

    if (ws->closed || ws->closing) {
        return;
    }

    /*
     * What is queued no longer matters, only the close frame; but a frame
     * half sent must be finished first, or the peer reads garbage.
     */

    keep = (ws->out && ws->out->sent) ? ws->out : NULL;

    for (out = keep ? keep->next : ws->out; out; out = next) {
        next = out->next;
        ngx_free(out);
    }

    if (keep) {
        keep->next = NULL;
        ws->out = keep;
        ws->out_last = &keep->next;
        ws->queued = keep->len;

    } else {
        ws->out = NULL;
        ws->out_last = &ws->out;
        ws->queued = 0;
    }

    ngx_http_gobi_ws_end(ws, code, reason);
}


/* a close frame after what is queued, then the connection goes */

void
ngx_http_gobi_ws_end(ngx_http_gobi_ws_t *ws, unsigned code,
    const char *reason)
{
    size_t  len;
    u_char  payload[GOBI_WS_MAX_CONTROL];

    if (ws->closed || ws->closing) {
        return;
    }

    len = gobi_ws_close_payload(payload, code, reason);
    (void) ngx_http_gobi_ws_queue(ws, GOBI_WS_CLOSE, payload, len);
    ws->closing = 1;

    ngx_http_gobi_ws_flush(ws);
}


static void
ngx_http_gobi_ws_ping(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_gobi_ws_t  *ws;

    ws = ev->data;
    c = ws->connection;

    if (ws->closed) {
        return;
    }

    /* while a message is being handled nothing is read, pongs neither:
     * a missing pong counts only when we were listening for it */

    if (!ws->pong && !ws->busy) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "gobi: websocket peer did not answer the ping");
        ngx_http_gobi_ws_fail(ws, GOBI_WS_CLOSE_GOING_AWAY, "ping timeout");

    } else {
        ws->pong = 0;

        if (ngx_http_gobi_ws_queue(ws, GOBI_WS_PING, (u_char *) "gobi", 4)
            == NGX_OK)
        {
            ngx_http_gobi_ws_flush(ws);
        }

        /* a revoked or expired token ends the session within a ping */
        ngx_http_gobi_ws_check_token(ws);

        if (!ws->closed && !ws->closing) {
            ngx_add_timer(&ws->ping, ws->conf->ws_ping_interval);
        }
    }

    ngx_http_run_posted_requests(c);
}


/*
 * Tears the session down: waits for threads working for it, then lets
 * nginx close the request (the cleanup below frees what is ours).
 */

static void
ngx_http_gobi_ws_close(ngx_http_gobi_ws_t *ws)
{
    if (ws->closed) {
        return;
    }

    ws->closed = 1;

    if (ws->ping.timer_set) {
        ngx_del_timer(&ws->ping);
    }

    ws->hooks->on_close(ws);

    /*
     * Closing may be asked for in the middle of a fan-out loop: the request
     * is finalized from a posted event, with nothing else on the stack.
     * ngx_http_gobi_ws_task_done() posts it when threads are still busy.
     */

    if (ws->tasks == 0) {
        ngx_post_event(&ws->close_ev, &ngx_posted_events);
    }
}


static void
ngx_http_gobi_ws_close_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_gobi_ws_t  *ws;

    ws = ev->data;
    c = ws->connection;

    ngx_http_finalize_request(ws->request, NGX_HTTP_CLOSE);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_gobi_ws_cleanup(void *data)
{
    ngx_http_gobi_ws_t *ws = data;

    u_char                   frame[4];
    ngx_http_gobi_ws_out_t  *out, *next;

    ws->cleaned = 1;

    if (!ws->closed) {
        if (!ws->closing && !ws->connection->error) {
            /* nginx is closing us (shutdown, reload): say "going away" */
            frame[0] = 0x80 | GOBI_WS_CLOSE;
            frame[1] = 2;
            frame[2] = GOBI_WS_CLOSE_GOING_AWAY >> 8;
            frame[3] = GOBI_WS_CLOSE_GOING_AWAY & 0xff;

            if (ws->out == NULL || ws->out->sent == 0) {
                (void) ws->connection->send(ws->connection, frame, 4);
            }
        }

        ws->closed = 1;
        ws->hooks->on_close(ws);
    }

    if (ws->ping.timer_set) {
        ngx_del_timer(&ws->ping);
    }

    if (ws->close_ev.posted) {
        ngx_delete_posted_event(&ws->close_ev);
    }

    if (ws->connection->write->timer_set) {
        ngx_del_timer(ws->connection->write);
    }

    for (out = ws->out; out; out = next) {
        next = out->next;
        ngx_free(out);
    }

    ws->out = NULL;

    gobi_ws_assembler_free(&ws->in);

    ngx_free(ws->rbuf);
    ws->rbuf = NULL;
}


/* thread tasks for a session -------------------------------------------- */


ngx_http_gobi_job_t *
ngx_http_gobi_ws_job(ngx_http_gobi_ws_t *ws)
{
    ngx_http_gobi_ws_task_t    *t;
    ngx_http_gobi_main_conf_t  *gmcf;

    t = ngx_calloc(sizeof(ngx_http_gobi_ws_task_t), ws->connection->log);
    if (t == NULL) {
        return NULL;
    }

    gmcf = ngx_http_get_module_main_conf(ws->request, ngx_http_gobi_module);

    t->ws = ws;
    t->job.gmcf = gmcf;
    t->job.store = ngx_http_gobi_worker.store;
    t->job.blob = ngx_http_gobi_worker.blob;
    t->job.keys = ngx_http_gobi_worker.keys;
    t->job.user = ws->user;
    ngx_memcpy(t->job.token_hash, ws->token_hash, sizeof(ws->token_hash));
    t->job.base_version = GOBI_BASE_ANY;
    t->job.ws = ws;

    return &t->job;
}


void
ngx_http_gobi_ws_job_free(ngx_http_gobi_job_t *job)
{
    ngx_http_gobi_ws_task_t  *t;

    t = (ngx_http_gobi_ws_task_t *)
            ((u_char *) job - offsetof(ngx_http_gobi_ws_task_t, job));

    if (job->gen) {
        yajl_gen_free(job->gen);
    }

    ngx_http_gobi_job_free_results(job);

    ngx_free(t);
}


ngx_int_t
ngx_http_gobi_ws_task_post(ngx_http_gobi_ws_t *ws, ngx_http_gobi_job_t *job,
    ngx_http_gobi_run_pt run, ngx_http_gobi_ws_done_pt done)
{
    ngx_http_gobi_ws_task_t  *t;

    t = (ngx_http_gobi_ws_task_t *)
            ((u_char *) job - offsetof(ngx_http_gobi_ws_task_t, job));

    t->done = done;

    if (ngx_http_gobi_job_post(job, run, ngx_http_gobi_ws_task_done,
                               ws->connection->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ws->tasks++;
    ws->request->main->blocked++;

    return NGX_OK;
}


static void
ngx_http_gobi_ws_task_done(ngx_http_gobi_job_t *job)
{
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_gobi_ws_t       *ws;
    ngx_http_gobi_ws_task_t  *t;

    t = (ngx_http_gobi_ws_task_t *)
            ((u_char *) job - offsetof(ngx_http_gobi_ws_task_t, job));
    ws = t->ws;
    r = ws->request;
    c = ws->connection;

    ws->tasks--;
    r->main->blocked--;

    if (ws->closed) {
        ngx_http_gobi_ws_job_free(&t->job);

        if (ws->cleaned) {
            /*
             * nginx terminated the request while threads worked for it
             * (a graceful shutdown): its finalizer waits for the last of
             * them.  No close event may be posted now: the cleanup that
             * would take it back has run, and the request's memory could
             * go before the event runs.
             */
            if (r->main->blocked == 0) {
                r->write_event_handler(r);
            }

        } else if (ws->tasks == 0 && !ws->close_ev.posted) {
            ngx_post_event(&ws->close_ev, &ngx_posted_events);
        }

    } else if (t->job.code
               && ngx_strcmp(t->job.code, "unauthorized") == 0)
    {
        ngx_http_gobi_ws_job_free(&t->job);
        ngx_http_gobi_ws_revoked(ws);

    } else {
        t->done(ws, &t->job);
    }

    ngx_http_run_posted_requests(c);
}


/* token re-checks ------------------------------------------------------- */


ngx_int_t
ngx_http_gobi_ws_token_recheck(ngx_http_gobi_job_t *job)
{
    int64_t          expires;
    gobi_user_t      user;
    gobi_store_rc_e  rc;

    rc = job->gmcf->store_driver->token_get(job->store, job->token_hash,
                                            job->now, &user, &expires);
    if (rc == GOBI_STORE_OK) {
        return NGX_OK;
    }

    if (rc == GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_error(job, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                "the session's token was revoked or has "
                                "expired; log in again");
        return NGX_DECLINED;
    }

    /* the store is down: the session goes on, the next ping asks again */
    ngx_http_gobi_job_store_error(job, rc);

    return NGX_ERROR;
}


static void
ngx_http_gobi_ws_run_token_check(ngx_http_gobi_job_t *job)
{
    (void) ngx_http_gobi_ws_token_recheck(job);
}


static void
ngx_http_gobi_ws_token_checked(ngx_http_gobi_ws_t *ws,
    ngx_http_gobi_job_t *job)
{
    ws->checking = 0;
    ngx_http_gobi_ws_job_free(job);
}


static void
ngx_http_gobi_ws_check_token(ngx_http_gobi_ws_t *ws)
{
    ngx_http_gobi_job_t  *job;

    if (ws->checking || ws->closing || ws->closed) {
        return;
    }

    job = ngx_http_gobi_ws_job(ws);
    if (job == NULL) {
        return;
    }

    if (ngx_http_gobi_ws_task_post(ws, job, ngx_http_gobi_ws_run_token_check,
                                   ngx_http_gobi_ws_token_checked)
        != NGX_OK)
    {
        ngx_http_gobi_ws_job_free(job);
        return;
    }

    ws->checking = 1;
}


static void
ngx_http_gobi_ws_revoked(ngx_http_gobi_ws_t *ws)
{
    static u_char  msg[] = "{\"type\":\"error\",\"code\":\"unauthorized\","
                           "\"message\":\"the session's token was revoked "
                           "or has expired; log in again\"}";

    ws->checking = 0;

    ngx_log_error(NGX_LOG_INFO, ws->connection->log, 0,
                  "gobi: websocket of user %L ended: its token is no longer "
                  "valid", ws->user.id);

    (void) ngx_http_gobi_ws_send_text(ws, msg, sizeof(msg) - 1);
    ngx_http_gobi_ws_end(ws, GOBI_WS_CLOSE_POLICY, "unauthorized");
}
