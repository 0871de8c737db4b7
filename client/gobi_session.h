/*
 * Copyright (C) the gobi authors
 *
 * A WebSocket session with the server: connect and say hello (vault,
 * cursor, device), hand each server message to the caller decoded by
 * lib/gobi_wsmsg.c, send operations and wait for their answers.  It knows
 * nothing of the sync engine: sync and watch plug it into s->rename.
 */

#ifndef _GOBI_SESSION_H_INCLUDED_
#define _GOBI_SESSION_H_INCLUDED_


#include <stdint.h>

#include "gobi_wsmsg.h"


typedef struct gobi_session_s  gobi_session_t;

/* a server message, valid until the handler returns */
typedef void (*gobi_session_msg_pt)(void *data,
    const gobi_wsmsg_server_t *m);


/*
 * Connects (blocking up to a few seconds) and sends hello.  welcome is not
 * waited for: it comes to the handler like every message, and the server
 * answers operations sent before it in order.  handler may be NULL.
 */
int gobi_session_open(const char *server, const char *token,
    const char *vault, int64_t since, const char *device,
    gobi_session_msg_pt handler, void *data, gobi_session_t **out);
int gobi_session_fd(gobi_session_t *ss);
/*
 * Reads what has arrived, answers pings, hands each message to the
 * handler.  Returns 0, or an exit code when the connection is gone: then
 * gobi_session_close() it.
 */
int gobi_session_read(gobi_session_t *ss);
/*
 * A rename op, waiting (up to 10 s) for its answer; other messages go to
 * the handler meanwhile.  Returns 0 with the file's new version, or an
 * exit code: NETWORK (no answer, connection gone), CONFLICT (refused).
 */
int gobi_session_rename(gobi_session_t *ss, const char *from, const char *to,
    int64_t base_version, int64_t *version);
void gobi_session_close(gobi_session_t *ss);


#endif /* _GOBI_SESSION_H_INCLUDED_ */
