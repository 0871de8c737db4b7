/*
 * Copyright (C) the gobi authors
 *
 * A WebSocket client connection: libcurl opens the socket (CONNECT_ONLY,
 * so https:// gives wss:// with libcurl's TLS), we speak the RFC 6455
 * handshake and lib/'s frame codec over curl_easy_send/recv.
 */

#ifndef _GOBI_WS_H_INCLUDED_
#define _GOBI_WS_H_INCLUDED_


#include <stddef.h>


typedef struct gobi_ws_s  gobi_ws_t;

typedef void (*gobi_ws_msg_pt)(void *data, const char *msg, size_t len);


/* connects to <server>/api/v1/ws with the token; blocks up to timeout */
int gobi_ws_connect(const char *server, const char *token, int timeout_ms,
    gobi_ws_t **out);
int gobi_ws_fd(gobi_ws_t *ws);
int gobi_ws_send_text(gobi_ws_t *ws, const char *text, size_t len);
/*
 * Reads what has arrived, answers pings, calls cb for each text message.
 * Returns 0, or an exit code when the connection is gone (closed by the
 * server, network error): then gobi_ws_close() it.
 */
int gobi_ws_read(gobi_ws_t *ws, gobi_ws_msg_pt cb, void *data);
void gobi_ws_close(gobi_ws_t *ws);

/* SHA-1 (the handshake needs it; libsodium has none) */
void gobi_ws_sha1(const unsigned char *p, size_t len, unsigned char out[20]);


#endif /* _GOBI_WS_H_INCLUDED_ */
