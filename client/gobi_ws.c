/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "gobi.h"
#include "gobi_ws.h"
#include "gobi_ws_frame.h"


#define GOBI_WS_MAX_MESSAGE   (16 * 1024 * 1024)
#define GOBI_WS_HANDSHAKE_MAX 16384
#define GOBI_WS_GUID          "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


struct gobi_ws_s {
    CURL                  *easy;
    curl_socket_t          fd;
    gobi_ws_assembler_t    asm_;
    unsigned char         *rbuf;           /* handshake leftovers */
    size_t                 rlen;
    int                    closed;
    int                    open;           /* handshake done */
};


static uint32_t
gobi_rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}


static void
gobi_sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t  w[80], a, b, c, d, e, f, k, t;
    int       i;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t) p[i * 4] << 24 | (uint32_t) p[i * 4 + 1] << 16
               | (uint32_t) p[i * 4 + 2] << 8 | p[i * 4 + 3];
    }

    for (i = 16; i < 80; i++) {
        w[i] = gobi_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }

    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];

    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;

        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;

        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;

        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }

        t = gobi_rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = gobi_rol(b, 30);
        b = a;
        a = t;
    }

    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}


void
gobi_ws_sha1(const unsigned char *p, size_t len, unsigned char out[20])
{
    uint32_t       h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                            0xc3d2e1f0 };
    unsigned char  tail[128];
    size_t         i, rest, n;
    uint64_t       bits;

    for (i = 0; i + 64 <= len; i += 64) {
        gobi_sha1_block(h, p + i);
    }

    rest = len - i;
    memset(tail, 0, sizeof(tail));
    memcpy(tail, p + i, rest);
    tail[rest] = 0x80;

    n = (rest + 9 <= 64) ? 64 : 128;
    bits = (uint64_t) len * 8;

    for (i = 0; i < 8; i++) {
        tail[n - 1 - i] = (unsigned char) (bits >> (i * 8));
    }

    gobi_sha1_block(h, tail);

    if (n == 128) {
        gobi_sha1_block(h, tail + 64);
    }

    for (i = 0; i < 5; i++) {
        out[i * 4] = (unsigned char) (h[i] >> 24);
        out[i * 4 + 1] = (unsigned char) (h[i] >> 16);
        out[i * 4 + 2] = (unsigned char) (h[i] >> 8);
        out[i * 4 + 3] = (unsigned char) h[i];
    }
}


static int
gobi_ws_wait(gobi_ws_t *ws, short events, int timeout_ms)
{
    struct pollfd  pfd;
    int            n;

    pfd.fd = ws->fd;
    pfd.events = events;

    do {
        n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);

    return n;
}


static int
gobi_ws_send_all(gobi_ws_t *ws, const unsigned char *p, size_t len)
{
    CURLcode  cc;
    size_t    sent;

    while (len > 0) {
        cc = curl_easy_send(ws->easy, p, len, &sent);

        if (cc == CURLE_AGAIN) {
            if (gobi_ws_wait(ws, POLLOUT, 10000) <= 0) {
                return gobi_error(GOBI_EXIT_NETWORK, "WebSocket: send "
                                  "timed out");
            }

            continue;
        }

        if (cc != CURLE_OK) {
            return gobi_error(GOBI_EXIT_NETWORK, "WebSocket: %s",
                              curl_easy_strerror(cc));
        }

        p += sent;
        len -= sent;
    }

    return 0;
}


static int
gobi_ws_handshake(gobi_ws_t *ws, const char *server, const char *token,
    int timeout_ms)
{
    unsigned char   key[16], digest[20];
    char            key64[32], want64[32], *req, *path, *host, *p, *end;
    char           *accept;
    const char     *slash;
    size_t          got, len;
    CURLcode        cc;
    int64_t         deadline;
    int             rc;

    randombytes_buf(key, sizeof(key));
    sodium_bin2base64(key64, sizeof(key64), key, sizeof(key),
                      sodium_base64_VARIANT_ORIGINAL);

    host = strstr(server, "://");
    host = gobi_strdup(host ? host + 3 : server);
    slash = strchr(host, '/');
    path = gobi_sprintf("%s/api/v1/ws", slash ? slash : "");

    if (slash) {
        host[slash - host] = '\0';
    }

    req = gobi_sprintf("GET %s HTTP/1.1\r\n"
                       "Host: %s\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Authorization: Bearer %s\r\n"
                       "User-Agent: gobi/" GOBI_VERSION "\r\n"
                       "\r\n", path, host, key64, token);

    free(host);
    free(path);

    rc = gobi_ws_send_all(ws, (unsigned char *) req, strlen(req));
    sodium_memzero(req, strlen(req));
    free(req);

    if (rc != 0) {
        return rc;
    }

    ws->rbuf = gobi_alloc(GOBI_WS_HANDSHAKE_MAX + 1);
    len = 0;
    deadline = gobi_mono_ms() + timeout_ms;

    for ( ;; ) {
        if (len >= GOBI_WS_HANDSHAKE_MAX) {
            return gobi_error(GOBI_EXIT_SERVER, "WebSocket: handshake "
                              "answer too long");
        }

        cc = curl_easy_recv(ws->easy, ws->rbuf + len,
                            GOBI_WS_HANDSHAKE_MAX - len, &got);

        if (cc == CURLE_AGAIN) {
            if (gobi_mono_ms() >= deadline
                || gobi_ws_wait(ws, POLLIN,
                                (int) (deadline - gobi_mono_ms())) <= 0)
            {
                return gobi_error(GOBI_EXIT_NETWORK, "WebSocket: no "
                                  "handshake answer");
            }

            continue;
        }

        if (cc != CURLE_OK || got == 0) {
            return gobi_error(GOBI_EXIT_NETWORK, "WebSocket: connection "
                              "closed during the handshake");
        }

        len += got;
        ws->rbuf[len] = '\0';

        end = strstr((char *) ws->rbuf, "\r\n\r\n");
        if (end) {
            break;
        }
    }

    if (strncmp((char *) ws->rbuf, "HTTP/1.1 101", 12) != 0) {
        if (strncmp((char *) ws->rbuf, "HTTP/1.1 401", 12) == 0) {
            return gobi_error(GOBI_EXIT_AUTH, "WebSocket: not authorized "
                              "(run \"gobi login\")");
        }

        p = strstr((char *) ws->rbuf, "\r\n");
        return gobi_error(GOBI_EXIT_SERVER, "WebSocket: the server answered "
                          "\"%.*s\"",
                          (int) (p ? p - (char *) ws->rbuf : 40),
                          (char *) ws->rbuf);
    }

    /* Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) */
    accept = NULL;

    for (p = strstr((char *) ws->rbuf, "\r\n"); p && p < end;
         p = strstr(p + 2, "\r\n"))
    {
        if (strncasecmp(p + 2, "Sec-WebSocket-Accept:", 21) == 0) {
            accept = p + 23;
            break;
        }
    }

    req = gobi_sprintf("%s%s", key64, GOBI_WS_GUID);
    gobi_ws_sha1((unsigned char *) req, strlen(req), digest);
    free(req);
    sodium_bin2base64(want64, sizeof(want64), digest, sizeof(digest),
                      sodium_base64_VARIANT_ORIGINAL);

    while (accept && (*accept == ' ' || *accept == '\t')) {
        accept++;
    }

    if (accept == NULL || strncmp(accept, want64, strlen(want64)) != 0) {
        return gobi_error(GOBI_EXIT_SERVER, "WebSocket: bad "
                          "Sec-WebSocket-Accept from the server");
    }

    /* frames that came with the handshake answer */
    end += 4;
    ws->rlen = len - (end - (char *) ws->rbuf);
    memmove(ws->rbuf, end, ws->rlen);

    return 0;
}


int
gobi_ws_connect(const char *server, const char *token, int timeout_ms,
    gobi_ws_t **out)
{
    gobi_ws_t  *ws;
    CURLcode    cc;
    int         rc;

    *out = NULL;

    ws = gobi_calloc(sizeof(gobi_ws_t));
    ws->fd = CURL_SOCKET_BAD;

    ws->easy = curl_easy_init();
    if (ws->easy == NULL) {
        free(ws);
        return gobi_error(GOBI_EXIT_ERROR, "cannot create a libcurl handle");
    }

    curl_easy_setopt(ws->easy, CURLOPT_URL, server);
    curl_easy_setopt(ws->easy, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(ws->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(ws->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt(ws->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(ws->easy, CURLOPT_TCP_NODELAY, 1L);

    cc = curl_easy_perform(ws->easy);

    if (cc != CURLE_OK) {
        rc = gobi_error(GOBI_EXIT_NETWORK, "cannot reach the server %s: %s",
                        server, curl_easy_strerror(cc));
        gobi_ws_close(ws);
        return rc;
    }

    if (curl_easy_getinfo(ws->easy, CURLINFO_ACTIVESOCKET, &ws->fd)
        != CURLE_OK || ws->fd == CURL_SOCKET_BAD)
    {
        gobi_ws_close(ws);
        return gobi_error(GOBI_EXIT_ERROR, "WebSocket: no socket");
    }

    rc = gobi_ws_handshake(ws, server, token, timeout_ms);
    if (rc != 0) {
        gobi_ws_close(ws);
        return rc;
    }

    gobi_ws_assembler_init(&ws->asm_, 0, GOBI_WS_MAX_MESSAGE);
    ws->open = 1;

    *out = ws;

    return 0;
}


int
gobi_ws_fd(gobi_ws_t *ws)
{
    return (int) ws->fd;
}


static int
gobi_ws_send_frame(gobi_ws_t *ws, unsigned opcode, const unsigned char *p,
    size_t len)
{
    unsigned char   mask[4], *buf;
    size_t          n;
    int             rc;

    randombytes_buf(mask, sizeof(mask));

    buf = gobi_alloc(len + GOBI_WS_MAX_HEADER);
    n = gobi_ws_frame(buf, 1, opcode, p, len, mask);
    rc = gobi_ws_send_all(ws, buf, n);
    free(buf);

    return rc;
}


int
gobi_ws_send_text(gobi_ws_t *ws, const char *text, size_t len)
{
    if (ws->closed) {
        return gobi_error(GOBI_EXIT_NETWORK, "WebSocket closed");
    }

    return gobi_ws_send_frame(ws, GOBI_WS_TEXT, (const unsigned char *) text,
                              len);
}


static int
gobi_ws_fail(gobi_ws_t *ws, unsigned code, const char *why)
{
    unsigned char  payload[GOBI_WS_MAX_CONTROL];
    size_t         len;

    len = gobi_ws_close_payload(payload, code, NULL);
    gobi_ws_send_frame(ws, GOBI_WS_CLOSE, payload, len);
    ws->closed = 1;

    return gobi_error(GOBI_EXIT_SERVER, "WebSocket: protocol error: %s",
                      why);
}


static int
gobi_ws_feed(gobi_ws_t *ws, unsigned char *p, size_t len, gobi_ws_msg_pt cb,
    void *data)
{
    unsigned char   *pos, *last, payload[GOBI_WS_MAX_CONTROL];
    unsigned         code;
    int              rc;

    pos = p;
    last = p + len;

    while (pos < last) {
        rc = gobi_ws_assemble(&ws->asm_, &pos, last);

        if (rc == GOBI_WS_AGAIN) {
            break;
        }

        if (rc == GOBI_WS_ERROR) {
            return gobi_ws_fail(ws, ws->asm_.close_code
                                    ? ws->asm_.close_code
                                    : GOBI_WS_CLOSE_PROTOCOL,
                                ws->asm_.error ? ws->asm_.error
                                               : "bad frame");
        }

        switch (ws->asm_.opcode) {

        case GOBI_WS_TEXT:
            cb(data, (const char *) ws->asm_.data, ws->asm_.len);
            break;

        case GOBI_WS_PING:
            if (gobi_ws_send_frame(ws, GOBI_WS_PONG, ws->asm_.data,
                                   ws->asm_.len) != 0)
            {
                ws->closed = 1;
                return gobi_error_code();
            }

            break;

        case GOBI_WS_CLOSE:
            code = 0;

            if (ws->asm_.len >= 2) {
                code = ws->asm_.data[0] << 8 | ws->asm_.data[1];
            }

            len = gobi_ws_close_payload(payload, GOBI_WS_CLOSE_NORMAL, NULL);
            gobi_ws_send_frame(ws, GOBI_WS_CLOSE, payload, len);
            ws->closed = 1;

            return gobi_error(GOBI_EXIT_NETWORK, "WebSocket closed by the "
                              "server (%u)", code);

        case GOBI_WS_BINARY:
            return gobi_ws_fail(ws, GOBI_WS_CLOSE_UNSUPPORTED,
                                "unexpected binary message");

        default:
            /* PONG */
            break;
        }
    }

    return 0;
}


int
gobi_ws_read(gobi_ws_t *ws, gobi_ws_msg_pt cb, void *data)
{
    unsigned char  buf[16384];
    size_t         got;
    CURLcode       cc;
    int            rc;

    if (ws->closed) {
        return gobi_error(GOBI_EXIT_NETWORK, "WebSocket closed");
    }

    if (ws->rlen) {
        got = ws->rlen;
        ws->rlen = 0;
        rc = gobi_ws_feed(ws, ws->rbuf, got, cb, data);
        if (rc != 0) {
            return rc;
        }
    }

    for ( ;; ) {
        cc = curl_easy_recv(ws->easy, buf, sizeof(buf), &got);

        if (cc == CURLE_AGAIN) {
            return 0;
        }

        if (cc != CURLE_OK || got == 0) {
            ws->closed = 1;
            return gobi_error(GOBI_EXIT_NETWORK, "WebSocket: connection "
                              "lost");
        }

        rc = gobi_ws_feed(ws, buf, got, cb, data);
        if (rc != 0) {
            return rc;
        }
    }
}


void
gobi_ws_close(gobi_ws_t *ws)
{
    unsigned char  payload[GOBI_WS_MAX_CONTROL];
    size_t         len;

    if (ws == NULL) {
        return;
    }

    if (!ws->closed && ws->open) {
        len = gobi_ws_close_payload(payload, GOBI_WS_CLOSE_NORMAL, NULL);
        gobi_ws_send_frame(ws, GOBI_WS_CLOSE, payload, len);
    }

    if (ws->open) {
        gobi_ws_assembler_free(&ws->asm_);
    }

    curl_easy_cleanup(ws->easy);
    free(ws->rbuf);
    free(ws);
}
