/*
 * Copyright (C) the gobi authors
 *
 * HTTP over libcurl's multi interface: several transfers in flight over
 * keep-alive connections, completion handlers called from
 * gobi_http_step().  A synchronous call is a request started and stepped
 * until it is done (other transfers progress meanwhile).
 */

#ifndef _GOBI_HTTP_H_INCLUDED_
#define _GOBI_HTTP_H_INCLUDED_


#include <stdint.h>

#include <curl/curl.h>

#include "gobi_hash.h"


typedef struct gobi_http_s       gobi_http_t;
typedef struct gobi_req_s        gobi_req_t;
typedef struct gobi_http_sink_s  gobi_http_sink_t;

typedef void (*gobi_req_handler_pt)(gobi_req_t *r);


struct gobi_req_s {
    /* the request: set by the caller */
    const char            *method;
    char                  *url;            /* owned */
    struct curl_slist     *headers;        /* owned */
    char                  *body;           /* owned; a memory body */
    size_t                 body_len;
    int                    in_fd;          /* a file body, -1: none */
    int64_t                in_size;
    int                    out_fd;         /* 2xx body sink, -1: memory */
    const char            *user;           /* Basic auth instead of token */
    const char            *pass;
    gobi_req_handler_pt    handler;
    void                  *data;
    void                 (*flow)(int64_t n);   /* body bytes as they go
                                              (progress); < 0: taken back */

    /* the response */
    int                    done;
    CURLcode               cc;
    long                   status;
    char                  *resp;           /* memory body, NUL-terminated */
    size_t                 resp_len;
    int64_t                received;       /* bytes written to out_fd */
    gobi_hash_t            hash;           /* of those bytes */
    int                    out_errno;      /* a write to out_fd failed */
    int64_t                etag;           /* ETag: "<version>", or -1 */
    char                   xhash[GOBI_HASH_HEX_LEN + 1];
    char                   errbuf[CURL_ERROR_SIZE];

    int64_t                flowed;         /* the sum given to flow */

    /* internal */
    size_t                 resp_cap;
    int64_t                in_off;
    CURL                  *easy;
    gobi_http_sink_t      *sink;           /* a large body's writer */
    gobi_http_t           *http;
    gobi_req_t            *next;
};


gobi_http_t *gobi_http_new(const char *token, int max_inflight);
void gobi_http_free(gobi_http_t *h);
void gobi_http_set_token(gobi_http_t *h, const char *token);

/* url is taken over (freed with the request) */
gobi_req_t *gobi_req_new(const char *method, char *url);
void gobi_req_header(gobi_req_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gobi_req_json_body(gobi_req_t *r, char *json);
void gobi_req_free(gobi_req_t *r);

/* queues r; it starts when fewer than max_inflight run */
void gobi_http_start(gobi_http_t *h, gobi_req_t *r);
/* requests running or queued */
int gobi_http_pending(gobi_http_t *h);
/*
 * Drives the transfers: waits up to timeout_ms for activity on them or on
 * the extra fds, calls the handlers of finished requests.
 */
int gobi_http_step(gobi_http_t *h, struct curl_waitfd *extra,
    unsigned nextra, int timeout_ms);
/* runs until nothing is pending */
void gobi_http_wait(gobi_http_t *h);
/* starts r and steps until r is done */
void gobi_http_do(gobi_http_t *h, gobi_req_t *r);

/*
 * Turns a failed request into an exit code and a message (network errors,
 * HTTP statuses, the server's JSON error); `what` names the operation.
 */
int gobi_req_error(gobi_req_t *r, const char *what);
/* the server's error code ("vault_not_found"), or "" */
const char *gobi_req_error_code(gobi_req_t *r, char *buf, size_t len);
int gobi_req_resolved_lww(gobi_req_t *r);
/* 1 for a network-level failure (retry later) */
int gobi_req_network_error(gobi_req_t *r);

/* percent-encodes each component of a path, keeping the slashes */
char *gobi_http_escape_path(const char *path);


#endif /* _GOBI_HTTP_H_INCLUDED_ */
