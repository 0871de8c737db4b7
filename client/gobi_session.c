/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "gobi.h"
#include "gobi_out.h"
#include "gobi_session.h"
#include "gobi_ws.h"


#define GOBI_SESSION_TIMEOUT  5000         /* connect and handshake */
#define GOBI_OP_TIMEOUT       10000        /* an op's answer */


struct gobi_session_s {
    gobi_ws_t            *ws;
    gobi_session_msg_pt   handler;
    void                 *data;

    /* the op waiting for its answer: its id as JSON text */
    int64_t               op_n;
    char                  op_id[32];
    size_t                op_id_len;
    int                   op_done;
    int                   op_ok;
    int64_t               op_version;
    char                 *op_msg;
};


/* sends the one message in g (gen_rc: how writing it went), frees g */
static int
gobi_session_send(gobi_session_t *ss, yajl_gen g, int gen_rc,
    const char *what)
{
    const unsigned char  *buf;
    size_t                len;
    int                   rc;

    if (gen_rc != 0) {
        yajl_gen_free(g);
        return gobi_error(GOBI_EXIT_ERROR, "cannot write the %s message",
                          what);
    }

    yajl_gen_get_buf(g, &buf, &len);
    rc = gobi_ws_send_text(ss->ws, (const char *) buf, len);
    yajl_gen_free(g);

    return rc;
}


static yajl_gen
gobi_session_gen(void)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        fputs("gobi: out of memory\n", stderr);
        exit(GOBI_EXIT_ERROR);
    }

    /* what the server would refuse as not UTF-8 is not sent */
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    return g;
}


int
gobi_session_open(const char *server, const char *token, const char *vault,
    int64_t since, const char *device, gobi_session_msg_pt handler,
    void *data, gobi_session_t **out)
{
    gobi_session_t  *ss;
    yajl_gen         g;
    int              rc;

    *out = NULL;

    ss = gobi_calloc(sizeof(gobi_session_t));
    ss->handler = handler;
    ss->data = data;

    rc = gobi_ws_connect(server, token, GOBI_SESSION_TIMEOUT, &ss->ws);

    if (rc == 0) {
        g = gobi_session_gen();
        rc = gobi_session_send(ss, g,
                               gobi_wsmsg_gen_hello(g, vault, since, device),
                               "hello");
    }

    if (rc != 0) {
        gobi_session_close(ss);
        return rc;
    }

    *out = ss;

    return 0;
}


int
gobi_session_fd(gobi_session_t *ss)
{
    return gobi_ws_fd(ss->ws);
}


/* a message from the server: answers resolve the op, all go on */
static void
gobi_session_msg(void *data, const char *text, size_t len)
{
    gobi_session_t       *ss = data;
    gobi_wsmsg_server_t   m;
    int                   rc, ours;

    rc = gobi_wsmsg_parse_server(&m, text, len);

    ours = (m.type == GOBI_WSMSG_ACK || m.type == GOBI_WSMSG_REJECT
            || m.type == GOBI_WSMSG_ERROR)
           && ss->op_id_len && m.id_len == ss->op_id_len
           && memcmp(m.id, ss->op_id, m.id_len) == 0;

    if (rc != 0) {
        gobi_out_v("bad message from the server: %s", m.error);

        if (ours) {
            /* an answer we cannot read is no yes */
            ss->op_done = 1;
            ss->op_ok = 0;
            free(ss->op_msg);
            ss->op_msg = gobi_sprintf("unreadable answer: %s", m.error);
        }

        gobi_wsmsg_server_free(&m);
        return;
    }

    if (m.type == GOBI_WSMSG_ERROR) {
        gobi_out_v("server: %s", m.message);
    }

    if (ours) {
        ss->op_done = 1;
        ss->op_ok = (m.type == GOBI_WSMSG_ACK);
        ss->op_version = (m.version > 0) ? m.version : m.seq;
        free(ss->op_msg);
        ss->op_msg = gobi_strdup(ss->op_ok ? "" : m.message);
    }

    if (ss->handler) {
        ss->handler(ss->data, &m);
    }

    gobi_wsmsg_server_free(&m);
}


int
gobi_session_read(gobi_session_t *ss)
{
    return gobi_ws_read(ss->ws, gobi_session_msg, ss);
}


int
gobi_session_rename(gobi_session_t *ss, const char *from, const char *to,
    int64_t base_version, int64_t *version)
{
    yajl_gen       g;
    int64_t        deadline;
    struct pollfd  pfd;
    int            rc;

    ss->op_n++;
    ss->op_id_len = snprintf(ss->op_id, sizeof(ss->op_id), "%lld",
                             (long long) ss->op_n);
    ss->op_done = 0;

    g = gobi_session_gen();
    rc = gobi_session_send(ss, g,
                           gobi_wsmsg_gen_rename(g, ss->op_id, ss->op_id_len,
                                                 from, to, base_version),
                           "rename");

    deadline = gobi_mono_ms() + GOBI_OP_TIMEOUT;

    while (rc == 0 && !ss->op_done && gobi_mono_ms() < deadline) {
        rc = gobi_session_read(ss);

        if (rc != 0 || ss->op_done) {
            break;
        }

        pfd.fd = gobi_ws_fd(ss->ws);
        pfd.events = POLLIN;

        if (poll(&pfd, 1, 200) < 0 && errno != EINTR) {
            break;
        }
    }

    /* a late answer to this op is no one's */
    ss->op_id_len = 0;

    if (rc != 0) {
        return rc;
    }

    if (!ss->op_done) {
        return gobi_error(GOBI_EXIT_NETWORK, "rename: no answer");
    }

    if (!ss->op_ok) {
        return gobi_error(GOBI_EXIT_CONFLICT, "rename refused: %s",
                          ss->op_msg);
    }

    *version = ss->op_version;

    return 0;
}


void
gobi_session_close(gobi_session_t *ss)
{
    if (ss == NULL) {
        return;
    }

    gobi_ws_close(ss->ws);
    free(ss->op_msg);
    free(ss);
}
