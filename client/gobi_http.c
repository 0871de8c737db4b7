/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_http.h"
#include "gobi_json.h"


#define GOBI_HTTP_RESP_MAX   (1024 * 1024 * 1024)
#define GOBI_HTTP_FILE_BUF   (512 * 1024)     /* file bytes, each way */

/*
 * A file's bytes move in large pieces: libcurl's defaults (16 KiB in,
 * 64 KiB out) cost a recv(), a write() and a trip through poll() per
 * 16 KiB, 32768 of each for 512 MiB.
 */
#define GOBI_HTTP_RECV_BUF   (512 * 1024)
#define GOBI_HTTP_SEND_BUF   (1024 * 1024)

/*
 * Past its first GOBI_HTTP_SINK_AFTER bytes, a body written to a file is
 * gathered into a ring of GOBI_HTTP_RING buffers: each full one is
 * written here and hashed by a thread of the request's own, so BLAKE2b
 * (about as slow as the network on loopback) runs beside the receiving
 * and writing instead of after each piece.  Small files stay as they
 * were: no thread, no buffer.
 */
#define GOBI_HTTP_SINK_AFTER (1024 * 1024)
#define GOBI_HTTP_SINK_BUF   (512 * 1024)
#define GOBI_HTTP_RING       4


struct gobi_http_sink_s {
    pthread_t              tid;
    pthread_mutex_t        mu;
    pthread_cond_t         cv;
    gobi_hash_t           *hash;
    char                  *buf[GOBI_HTTP_RING];
    size_t                 len[GOBI_HTTP_RING];
    size_t                 fill;           /* of buf[head % RING] */
    unsigned               head;           /* buffers given to the thread */
    unsigned               tail;           /* buffers it hashed */
    int                    end;
};


struct gobi_http_s {
    CURLM                 *multi;
    char                  *auth;           /* "Authorization: Bearer ..." */
    int                    max;
    int                    running;        /* requests attached to multi */
    gobi_req_t            *queue;          /* not started yet, FIFO */
    gobi_req_t            *queue_tail;
    CURL                 **pool;           /* idle easy handles */
    int                    npool;
};


static size_t gobi_http_write(char *p, size_t size, size_t n, void *data);
static int gobi_http_sink_put(gobi_req_t *r, const char *p, size_t len);
static int gobi_http_sink_end(gobi_req_t *r);
static void *gobi_http_sink_thread(void *data);
static int gobi_http_write_all(gobi_req_t *r, const char *p, size_t len);
static size_t gobi_http_read(char *p, size_t size, size_t n, void *data);
static int gobi_http_seek(void *data, curl_off_t off, int origin);
static size_t gobi_http_header(char *p, size_t size, size_t n, void *data);
static void gobi_http_launch(gobi_http_t *h);


gobi_http_t *
gobi_http_new(const char *token, int max_inflight)
{
    static int    inited;
    gobi_http_t  *h;

    if (!inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            gobi_error(GOBI_EXIT_ERROR, "cannot initialise libcurl");
            return NULL;
        }

        inited = 1;
    }

    h = gobi_calloc(sizeof(gobi_http_t));

    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        free(h);
        gobi_error(GOBI_EXIT_ERROR, "cannot initialise libcurl");
        return NULL;
    }

    h->max = max_inflight > 0 ? max_inflight : 1;
    h->pool = gobi_calloc(sizeof(CURL *) * h->max);

    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long) h->max);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long) h->max + 2);

    gobi_http_set_token(h, token);

    return h;
}


void
gobi_http_set_token(gobi_http_t *h, const char *token)
{
    free(h->auth);
    h->auth = token ? gobi_sprintf("Authorization: Bearer %s", token) : NULL;
}


void
gobi_http_free(gobi_http_t *h)
{
    int  i;

    if (h == NULL) {
        return;
    }

    for (i = 0; i < h->npool; i++) {
        curl_easy_cleanup(h->pool[i]);
    }

    curl_multi_cleanup(h->multi);
    free(h->pool);
    free(h->auth);
    free(h);
}


gobi_req_t *
gobi_req_new(const char *method, char *url)
{
    gobi_req_t  *r;

    r = gobi_calloc(sizeof(gobi_req_t));
    r->method = method;
    r->url = url;
    r->in_fd = -1;
    r->out_fd = -1;
    r->etag = -1;

    return r;
}


void
gobi_req_header(gobi_req_t *r, const char *fmt, ...)
{
    va_list             ap;
    char               *line;
    struct curl_slist  *l;

    va_start(ap, fmt);

    if (vasprintf(&line, fmt, ap) < 0) {
        line = NULL;
    }

    va_end(ap);

    l = line ? curl_slist_append(r->headers, line) : NULL;
    free(line);

    if (l == NULL) {
        fputs("gobi: out of memory\n", stderr);
        exit(GOBI_EXIT_ERROR);
    }

    r->headers = l;
}


void
gobi_req_json_body(gobi_req_t *r, char *json)
{
    free(r->body);
    r->body = json;
    r->body_len = strlen(json);
    gobi_req_header(r, "Content-Type: application/json");
}


void
gobi_req_free(gobi_req_t *r)
{
    if (r == NULL) {
        return;
    }

    if (r->sink) {
        (void) gobi_http_sink_end(r);
    }

    free(r->url);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r->resp);
    free(r);
}


void
gobi_http_start(gobi_http_t *h, gobi_req_t *r)
{
    r->http = h;
    r->next = NULL;
    r->done = 0;

    if (h->queue_tail) {
        h->queue_tail->next = r;

    } else {
        h->queue = r;
    }

    h->queue_tail = r;

    gobi_http_launch(h);
}


int
gobi_http_pending(gobi_http_t *h)
{
    int          n;
    gobi_req_t  *r;

    n = h->running;

    for (r = h->queue; r; r = r->next) {
        n++;
    }

    return n;
}


static CURL *
gobi_http_easy(gobi_http_t *h)
{
    CURL  *e;

    if (h->npool > 0) {
        e = h->pool[--h->npool];
        curl_easy_reset(e);
        return e;
    }

    e = curl_easy_init();
    if (e == NULL) {
        fputs("gobi: cannot create a libcurl handle\n", stderr);
        exit(GOBI_EXIT_ERROR);
    }

    return e;
}


static void
gobi_http_setup(gobi_http_t *h, gobi_req_t *r)
{
    CURL  *e;

    e = r->easy;

    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "gobi/" GOBI_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, gobi_http_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, gobi_http_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);

    if (r->out_fd >= 0) {
        /* a file's bytes: a write() per 512 KiB, not per curl's 16 KiB */
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, GOBI_HTTP_FILE_BUF);
    }

    if (r->user) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, r->user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, r->pass ? r->pass : "");

    } else if (h->auth) {
        gobi_req_header(r, "%s", h->auth);
    }

    if (strcmp(r->method, "GET") == 0) {
        if (r->out_fd >= 0) {
            curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long) GOBI_HTTP_RECV_BUF);
        }

    } else if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);

    } else if (strcmp(r->method, "PUT") == 0 && r->in_fd >= 0) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, gobi_http_read);
        curl_easy_setopt(e, CURLOPT_READDATA, r);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, gobi_http_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t) r->in_size);

        if (r->in_size > GOBI_HTTP_SEND_BUF) {
            curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE,
                             (long) GOBI_HTTP_SEND_BUF);
        }

        /* small files: no Expect: 100-continue round trip */
        if (r->in_size < 1024 * 1024) {
            gobi_req_header(r, "Expect:");

        } else {
            curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, GOBI_HTTP_FILE_BUF);
        }

    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);

        if (r->body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t) r->body_len);

        } else if (strcmp(r->method, "PUT") == 0
                   || strcmp(r->method, "POST") == 0)
        {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t) 0);
        }
    }

    if (r->headers) {
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    }
}


static void
gobi_http_launch(gobi_http_t *h)
{
    gobi_req_t  *r;

    while (h->queue && h->running < h->max) {
        r = h->queue;
        h->queue = r->next;
        if (h->queue == NULL) {
            h->queue_tail = NULL;
        }

        r->next = NULL;
        r->status = 0;
        r->cc = CURLE_OK;
        r->errbuf[0] = '\0';
        r->received = 0;
        r->resp_len = 0;
        r->in_off = 0;
        r->out_errno = 0;
        r->xhash[0] = '\0';
        r->etag = -1;
        gobi_hash_init(&r->hash);

        if (r->flow && r->flowed) {
            /* started again: its bytes come again */
            r->flow(-r->flowed);
            r->flowed = 0;
        }

        r->easy = gobi_http_easy(h);
        gobi_http_setup(h, r);

        if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
            fputs("gobi: cannot start a transfer\n", stderr);
            exit(GOBI_EXIT_ERROR);
        }

        h->running++;
    }
}


static void
gobi_http_finish(gobi_http_t *h, CURLMsg *msg)
{
    gobi_req_t  *r;
    char        *priv;

    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    r = (gobi_req_t *) priv;

    r->cc = msg->data.result;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);

    if (r->sink && gobi_http_sink_end(r) != 0 && r->cc == CURLE_OK) {
        r->cc = CURLE_WRITE_ERROR;
    }

    if (r->cc != CURLE_OK && r->errbuf[0] == '\0') {
        snprintf(r->errbuf, sizeof(r->errbuf), "%s",
                 curl_easy_strerror(r->cc));
    }

    curl_multi_remove_handle(h->multi, r->easy);

    if (h->npool < h->max) {
        h->pool[h->npool++] = r->easy;

    } else {
        curl_easy_cleanup(r->easy);
    }

    r->easy = NULL;
    h->running--;
    r->done = 1;

    if (r->handler) {
        r->handler(r);
    }
}


int
gobi_http_step(gobi_http_t *h, struct curl_waitfd *extra, unsigned nextra,
    int timeout_ms)
{
    int        still, left;
    CURLMsg   *msg;
    CURLMcode  mc;

    gobi_http_launch(h);

    mc = curl_multi_perform(h->multi, &still);

    if (mc == CURLM_OK) {
        while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                gobi_http_finish(h, msg);
            }
        }
    }

    gobi_http_launch(h);

    if (h->running == 0 && nextra == 0) {
        /* nothing to wait for */
        return 0;
    }

    if (timeout_ms > 0) {
        mc = curl_multi_poll(h->multi, extra, nextra, timeout_ms, NULL);
        if (mc != CURLM_OK) {
            return -1;
        }

        mc = curl_multi_perform(h->multi, &still);

        while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                gobi_http_finish(h, msg);
            }
        }

        gobi_http_launch(h);
    }

    return 0;
}


void
gobi_http_wait(gobi_http_t *h)
{
    while (gobi_http_pending(h) > 0) {
        gobi_http_step(h, NULL, 0, 1000);
    }
}


void
gobi_http_do(gobi_http_t *h, gobi_req_t *r)
{
    gobi_http_start(h, r);

    while (!r->done) {
        gobi_http_step(h, NULL, 0, 1000);
    }
}


static size_t
gobi_http_write(char *p, size_t size, size_t n, void *data)
{
    gobi_req_t  *r = data;
    size_t       len, cap;
    long         status;

    len = size * n;
    status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);

    if (r->out_fd >= 0 && status >= 200 && status < 300) {
        if (r->sink || r->received >= GOBI_HTTP_SINK_AFTER) {
            if (gobi_http_sink_put(r, p, len) != 0) {
                return 0;
            }

        } else {
            gobi_hash_update(&r->hash, p, len);

            if (gobi_http_write_all(r, p, len) != 0) {
                return 0;
            }
        }

        r->received += len;

        if (r->flow) {
            r->flow(len);
            r->flowed += len;
        }

        return len;
    }

    if (r->resp_len + len + 1 > r->resp_cap) {
        if (r->resp_len + len + 1 > GOBI_HTTP_RESP_MAX) {
            return 0;
        }

        cap = r->resp_cap ? r->resp_cap : 4096;

        while (cap < r->resp_len + len + 1) {
            cap *= 2;
        }

        r->resp = gobi_realloc(r->resp, cap);
        r->resp_cap = cap;
    }

    memcpy(r->resp + r->resp_len, p, len);
    r->resp_len += len;
    r->resp[r->resp_len] = '\0';

    return len;
}


static int
gobi_http_write_all(gobi_req_t *r, const char *p, size_t len)
{
    ssize_t      w;
    const char  *s;

    for (s = p; s < p + len; s += w) {
        w = write(r->out_fd, s, p + len - s);

        if (w < 0) {
            if (errno == EINTR) {
                w = 0;
                continue;
            }

            r->out_errno = errno;
            return -1;
        }
    }

    return 0;
}


/* a piece of a large body into the ring; a full buffer is written and
 * given to the hashing thread */

static int
gobi_http_sink_put(gobi_req_t *r, const char *p, size_t len)
{
    size_t             n;
    char             **b;
    gobi_http_sink_t  *k;

    k = r->sink;

    if (k == NULL) {
        k = gobi_calloc(sizeof(gobi_http_sink_t));
        k->hash = &r->hash;
        pthread_mutex_init(&k->mu, NULL);
        pthread_cond_init(&k->cv, NULL);

        if (pthread_create(&k->tid, NULL, gobi_http_sink_thread, k) != 0) {
            r->out_errno = errno ? errno : EAGAIN;
            pthread_cond_destroy(&k->cv);
            pthread_mutex_destroy(&k->mu);
            free(k);
            return -1;
        }

        r->sink = k;
    }

    while (len) {
        b = &k->buf[k->head % GOBI_HTTP_RING];

        if (k->fill == 0) {
            /* the thread may still hash what was here */
            pthread_mutex_lock(&k->mu);

            while (k->head - k->tail == GOBI_HTTP_RING) {
                pthread_cond_wait(&k->cv, &k->mu);
            }

            pthread_mutex_unlock(&k->mu);

            if (*b == NULL) {
                *b = gobi_realloc(NULL, GOBI_HTTP_SINK_BUF);
            }
        }

        n = GOBI_HTTP_SINK_BUF - k->fill;
        n = n < len ? n : len;

        memcpy(*b + k->fill, p, n);
        k->fill += n;
        p += n;
        len -= n;

        if (k->fill == GOBI_HTTP_SINK_BUF) {
            if (gobi_http_write_all(r, *b, k->fill) != 0) {
                return -1;
            }

            pthread_mutex_lock(&k->mu);
            k->len[k->head % GOBI_HTTP_RING] = k->fill;
            k->head++;
            pthread_cond_broadcast(&k->cv);
            pthread_mutex_unlock(&k->mu);

            k->fill = 0;
        }
    }

    return 0;
}


/*
 * The transfer ended (well or not): the rest is written, the thread has
 * hashed everything and is gone.  0, or -1 if the last write failed.
 */

static int
gobi_http_sink_end(gobi_req_t *r)
{
    int                rc, i;
    gobi_http_sink_t  *k;

    k = r->sink;
    rc = 0;

    if (k->fill) {
        rc = gobi_http_write_all(r, k->buf[k->head % GOBI_HTTP_RING],
                                 k->fill);
    }

    pthread_mutex_lock(&k->mu);

    /* (with nothing left, the slot at head may be the thread's still) */
    if (k->fill) {
        k->len[k->head % GOBI_HTTP_RING] = k->fill;
        k->head++;
    }

    k->end = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);

    pthread_join(k->tid, NULL);

    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);

    for (i = 0; i < GOBI_HTTP_RING; i++) {
        free(k->buf[i]);
    }

    free(k);
    r->sink = NULL;

    return rc;
}


static void *
gobi_http_sink_thread(void *data)
{
    gobi_http_sink_t  *k = data;
    unsigned           i;

    pthread_mutex_lock(&k->mu);

    for ( ;; ) {
        while (k->tail == k->head && !k->end) {
            pthread_cond_wait(&k->cv, &k->mu);
        }

        if (k->tail == k->head) {
            break;
        }

        i = k->tail % GOBI_HTTP_RING;
        pthread_mutex_unlock(&k->mu);

        /* the buffer is the thread's until tail moves past it */
        gobi_hash_update(k->hash, k->buf[i], k->len[i]);

        pthread_mutex_lock(&k->mu);
        k->tail++;
        pthread_cond_broadcast(&k->cv);
    }

    pthread_mutex_unlock(&k->mu);

    return NULL;
}


static size_t
gobi_http_read(char *p, size_t size, size_t n, void *data)
{
    gobi_req_t  *r = data;
    ssize_t      got;
    size_t       want;

    want = size * n;

    if ((int64_t) want > r->in_size - r->in_off) {
        want = r->in_size - r->in_off;
    }

    if (want == 0) {
        return 0;
    }

    for ( ;; ) {
        got = pread(r->in_fd, p, want, r->in_off);

        if (got < 0 && errno == EINTR) {
            continue;
        }

        break;
    }

    if (got < 0) {
        r->out_errno = errno;
        return CURL_READFUNC_ABORT;
    }

    if (got == 0) {
        /* the file shrank under us: the server will see a short body */
        return CURL_READFUNC_ABORT;
    }

    r->in_off += got;

    if (r->flow) {
        r->flow(got);
        r->flowed += got;
    }

    return got;
}


static int
gobi_http_seek(void *data, curl_off_t off, int origin)
{
    gobi_req_t  *r = data;

    if (origin != SEEK_SET || off < 0 || off > r->in_size) {
        return CURL_SEEKFUNC_CANTSEEK;
    }

    if (r->flow) {
        /* a rewind (a redirect, an auth retry): those bytes go again */
        r->flow(off - r->in_off);
        r->flowed += off - r->in_off;
    }

    r->in_off = off;

    return CURL_SEEKFUNC_OK;
}


static size_t
gobi_http_header(char *p, size_t size, size_t n, void *data)
{
    gobi_req_t  *r = data;
    size_t       len, vlen;
    char        *v, *end;

    len = size * n;

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        r->etag = -1;
        r->xhash[0] = '\0';
        return len;
    }

    v = memchr(p, ':', len);
    if (v == NULL) {
        return len;
    }

    v++;

    while (v < p + len && (*v == ' ' || *v == '\t')) {
        v++;
    }

    vlen = p + len - v;

    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'
                        || v[vlen - 1] == ' '))
    {
        vlen--;
    }

    if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        if (vlen >= 2 && v[0] == 'W' && v[1] == '/') {
            v += 2;
            vlen -= 2;
        }

        if (vlen >= 3 && v[0] == '"' && v[vlen - 1] == '"') {
            r->etag = strtoll(v + 1, &end, 10);
            if (end != v + vlen - 1) {
                r->etag = -1;
            }
        }

    } else if (len > 12 && strncasecmp(p, "X-Gobi-Hash:", 12) == 0) {
        if (gobi_hash_valid_hex(v, vlen)) {
            memcpy(r->xhash, v, vlen);
            r->xhash[vlen] = '\0';
        }
    }

    return len;
}


const char *
gobi_req_error_code(gobi_req_t *r, char *buf, size_t len)
{
    yajl_val     root;
    const char  *code;

    buf[0] = '\0';

    if (r->resp == NULL) {
        return buf;
    }

    root = gobi_json_parse(r->resp, r->resp_len, NULL, 0);
    code = gobi_json_str(gobi_json_get(root, "error"), "code");

    if (code) {
        snprintf(buf, len, "%s", code);
    }

    yajl_tree_free(root);

    return buf;
}


/* a 412 that says our write lost under last-writer-wins */
int
gobi_req_resolved_lww(gobi_req_t *r)
{
    int          lww;
    yajl_val     root;
    const char  *how;

    if (r->resp == NULL) {
        return 0;
    }

    root = gobi_json_parse(r->resp, r->resp_len, NULL, 0);
    how = gobi_json_str(gobi_json_get(root, "error"), "resolved");
    lww = (how != NULL && strcmp(how, "lww") == 0);

    yajl_tree_free(root);

    return lww;
}


int
gobi_req_network_error(gobi_req_t *r)
{
    if (r->cc != CURLE_OK) {
        return r->out_errno == 0;
    }

    return r->status == 502 || r->status == 503 || r->status == 504;
}


int
gobi_req_error(gobi_req_t *r, const char *what)
{
    yajl_val     root;
    const char  *msg;
    char        *host, *end;
    int          rc, code;

    if (r->out_errno) {
        return gobi_error(gobi_errno_exit(r->out_errno), "%s: %s", what,
                          strerror(r->out_errno));
    }

    if (r->cc != CURLE_OK) {
        host = gobi_strdup(r->url);
        end = strstr(host, "://");
        end = end ? strchr(end + 3, '/') : NULL;
        if (end) {
            *end = '\0';
        }

        switch (r->cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_SSL_CONNECT_ERROR:
            rc = gobi_error(GOBI_EXIT_NETWORK, "cannot reach the server %s: "
                            "%s", host, r->errbuf);
            break;

        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            rc = gobi_error(GOBI_EXIT_USAGE, "bad URL %s: %s", host,
                            r->errbuf);
            break;

        default:
            rc = gobi_error(GOBI_EXIT_NETWORK, "%s: %s", what, r->errbuf);
        }

        free(host);

        return rc;
    }

    root = r->resp ? gobi_json_parse(r->resp, r->resp_len, NULL, 0) : NULL;
    msg = gobi_json_str(gobi_json_get(root, "error"), "message");

    switch (r->status) {
    case 401:
        code = GOBI_EXIT_AUTH;
        if (r->user == NULL) {
            msg = "not logged in or session expired: run \"gobi login\"";
        }
        break;
    case 404:
    case 410:
        code = GOBI_EXIT_NOT_FOUND;
        break;
    case 409:
        code = GOBI_EXIT_EXISTS;
        break;
    case 412:
        code = GOBI_EXIT_CONFLICT;
        break;
    case 502:
    case 503:
    case 504:
        code = GOBI_EXIT_NETWORK;
        break;
    case 507:
        code = GOBI_EXIT_DISK;
        break;
    case 400:
    case 403:
    case 413:
        code = GOBI_EXIT_ERROR;
        break;
    default:
        code = GOBI_EXIT_SERVER;
    }

    if (msg) {
        rc = gobi_error(code, "%s: %s", what, msg);

    } else if (code == GOBI_EXIT_NETWORK) {
        rc = gobi_error(code, "%s: server unavailable (HTTP %ld)", what,
                        r->status);

    } else {
        rc = gobi_error(code, "%s: unexpected answer from the server "
                        "(HTTP %ld)", what, r->status);
    }

    yajl_tree_free(root);

    return rc;
}


char *
gobi_http_escape_path(const char *path)
{
    static const char   hex[] = "0123456789ABCDEF";
    const unsigned char *p;
    char                *out, *o;

    out = gobi_alloc(strlen(path) * 3 + 1);
    o = out;

    for (p = (const unsigned char *) path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'
            || *p == '_' || *p == '~' || *p == '/')
        {
            *o++ = *p;

        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 0xf];
        }
    }

    *o = '\0';

    return out;
}
