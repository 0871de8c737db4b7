/*
 * Copyright (C) the gobi authors
 */

#include <stdlib.h>
#include <string.h>

#include "gobi_utf8.h"
#include "gobi_ws_frame.h"


#define GOBI_WS_ST_START    0              /* first two header bytes */
#define GOBI_WS_ST_LENGTH   1              /* extended length */
#define GOBI_WS_ST_MASK     2              /* mask key */
#define GOBI_WS_ST_PAYLOAD  3
#define GOBI_WS_ST_END      4
#define GOBI_WS_ST_ERROR    5

/* a message buffer at most this big survives between messages */
#define GOBI_WS_KEEP        4096

#define GOBI_WS_DELIVERED_DATA     1
#define GOBI_WS_DELIVERED_CONTROL  2


void
gobi_ws_parser_init(gobi_ws_parser_t *p, int server, uint64_t max_payload)
{
    memset(p, 0, sizeof(gobi_ws_parser_t));

    p->expect_mask = server ? 1 : 0;
    p->max_payload = max_payload;
    p->state = GOBI_WS_ST_START;
    p->hdr_need = 2;
}


static int
gobi_ws_parse_error(gobi_ws_parser_t *p, unsigned code, const char *error)
{
    p->state = GOBI_WS_ST_ERROR;
    p->close_code = code;
    p->error = error;

    return GOBI_WS_ERROR;
}


/* checks what the first two bytes say; the rest of the header may wait */
static int
gobi_ws_parse_start(gobi_ws_parser_t *p)
{
    unsigned  len7;

    p->fin = p->hdr[0] >> 7;
    p->opcode = p->hdr[0] & 0x0f;
    p->masked = p->hdr[1] >> 7;
    len7 = p->hdr[1] & 0x7f;

    if (p->hdr[0] & 0x70) {
        return gobi_ws_parse_error(p, GOBI_WS_CLOSE_PROTOCOL,
                                   "reserved bits set");
    }

    switch (p->opcode) {
    case GOBI_WS_CONT:
    case GOBI_WS_TEXT:
    case GOBI_WS_BINARY:
        break;

    case GOBI_WS_CLOSE:
    case GOBI_WS_PING:
    case GOBI_WS_PONG:
        if (!p->fin) {
            return gobi_ws_parse_error(p, GOBI_WS_CLOSE_PROTOCOL,
                                       "fragmented control frame");
        }

        if (len7 > GOBI_WS_MAX_CONTROL) {
            return gobi_ws_parse_error(p, GOBI_WS_CLOSE_PROTOCOL,
                                       "control frame over 125 bytes");
        }

        break;

    default:
        return gobi_ws_parse_error(p, GOBI_WS_CLOSE_PROTOCOL,
                                   "unknown opcode");
    }

    if (p->masked != p->expect_mask) {
        return gobi_ws_parse_error(p, GOBI_WS_CLOSE_PROTOCOL,
                                   p->expect_mask ? "frame not masked"
                                                  : "frame masked");
    }

    p->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);

    return GOBI_WS_AGAIN;
}


/* the length is known before the mask key: too big fails at once */
static int
gobi_ws_parse_length(gobi_ws_parser_t *p)
{
    uint64_t  len;
    unsigned  len7, i;

    len7 = p->hdr[1] & 0x7f;

    if (len7 == 126) {
        len = (uint64_t) p->hdr[2] << 8 | p->hdr[3];

    } else if (len7 == 127) {
        if (p->hdr[2] & 0x80) {
            return gobi_ws_parse_error(p, GOBI_WS_CLOSE_PROTOCOL,
                                       "64-bit length with the top bit set");
        }

        len = 0;
        for (i = 2; i < 10; i++) {
            len = len << 8 | p->hdr[i];
        }

    } else {
        len = len7;
    }

    /* control frames are bounded by 125 bytes already */
    if (p->max_payload && len > p->max_payload
        && !GOBI_WS_IS_CONTROL(p->opcode))
    {
        return gobi_ws_parse_error(p, GOBI_WS_CLOSE_TOO_BIG,
                                   "frame too big");
    }

    p->payload_len = len;
    p->payload_left = len;

    if (p->masked) {
        p->hdr_need += 4;
    }

    return GOBI_WS_AGAIN;
}


int
gobi_ws_parse(gobi_ws_parser_t *p, unsigned char **pos, unsigned char *last,
    unsigned char **data, size_t *len)
{
    unsigned char  *key;
    uint64_t        n;
    int             rc;

    for ( ;; ) {
        switch (p->state) {

        case GOBI_WS_ST_START:
        case GOBI_WS_ST_LENGTH:
        case GOBI_WS_ST_MASK:
            while (p->hdr_len < p->hdr_need) {
                if (*pos == last) {
                    return GOBI_WS_AGAIN;
                }

                p->hdr[p->hdr_len++] = *(*pos)++;
            }

            if (p->state == GOBI_WS_ST_START) {
                rc = gobi_ws_parse_start(p);
                p->state = GOBI_WS_ST_LENGTH;

            } else if (p->state == GOBI_WS_ST_LENGTH) {
                rc = gobi_ws_parse_length(p);
                p->state = GOBI_WS_ST_MASK;

            } else {
                p->state = p->payload_len ? GOBI_WS_ST_PAYLOAD
                                          : GOBI_WS_ST_END;
                return GOBI_WS_FRAME;
            }

            if (rc == GOBI_WS_ERROR) {
                p->state = GOBI_WS_ST_ERROR;
                return rc;
            }

            continue;

        case GOBI_WS_ST_PAYLOAD:
            if (*pos == last) {
                return GOBI_WS_AGAIN;
            }

            n = (uint64_t) (last - *pos);
            if (n > p->payload_left) {
                n = p->payload_left;
            }

            if (p->masked) {
                key = &p->hdr[p->hdr_need - 4];
                gobi_ws_mask(*pos, *pos, n, key,
                             p->payload_len - p->payload_left);
            }

            *data = *pos;
            *len = n;
            *pos += n;
            p->payload_left -= n;

            if (p->payload_left == 0) {
                p->state = GOBI_WS_ST_END;
            }

            return GOBI_WS_DATA;

        case GOBI_WS_ST_END:
            p->state = GOBI_WS_ST_START;
            p->hdr_len = 0;
            p->hdr_need = 2;
            return GOBI_WS_END;

        default:
            return GOBI_WS_ERROR;
        }
    }
}


void
gobi_ws_mask(unsigned char *dst, const unsigned char *src, size_t len,
    const unsigned char key[4], uint64_t offset)
{
    unsigned char  k[4];
    size_t         i;

    /* rotate the key so that k[i & 3] goes with src[i] */
    for (i = 0; i < 4; i++) {
        k[i] = key[(offset + i) & 3];
    }

    for (i = 0; i < len; i++) {
        dst[i] = src[i] ^ k[i & 3];
    }
}


size_t
gobi_ws_frame_header(unsigned char *buf, int fin, unsigned opcode,
    uint64_t len, const unsigned char *mask)
{
    unsigned char  m;
    size_t         n;
    int            i;

    buf[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
    m = mask ? 0x80 : 0;

    if (len < 126) {
        buf[1] = m | (unsigned char) len;
        n = 2;

    } else if (len <= 0xffff) {
        buf[1] = m | 126;
        buf[2] = (unsigned char) (len >> 8);
        buf[3] = (unsigned char) len;
        n = 4;

    } else {
        buf[1] = m | 127;

        for (i = 0; i < 8; i++) {
            buf[2 + i] = (unsigned char) (len >> (56 - 8 * i));
        }

        n = 10;
    }

    if (mask) {
        memcpy(buf + n, mask, 4);
        n += 4;
    }

    return n;
}


size_t
gobi_ws_frame(unsigned char *buf, int fin, unsigned opcode,
    const unsigned char *payload, size_t len, const unsigned char *mask)
{
    size_t  n;

    n = gobi_ws_frame_header(buf, fin, opcode, len, mask);

    if (mask) {
        gobi_ws_mask(buf + n, payload, len, mask, 0);

    } else if (len) {
        memmove(buf + n, payload, len);
    }

    return n + len;
}


size_t
gobi_ws_close_payload(unsigned char *buf, unsigned code, const char *reason)
{
    size_t  len;

    buf[0] = (unsigned char) (code >> 8);
    buf[1] = (unsigned char) code;

    len = reason ? strlen(reason) : 0;

    if (len > GOBI_WS_MAX_REASON) {
        /* back to the start of the character that would be cut */
        len = GOBI_WS_MAX_REASON;
        while (len > 0 && ((unsigned char) reason[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    if (len) {
        memcpy(buf + 2, reason, len);
    }

    return 2 + len;
}


unsigned
gobi_ws_close_parse(const unsigned char *p, size_t len, unsigned *code,
    const unsigned char **reason, size_t *reason_len)
{
    unsigned  c;

    *reason = p;
    *reason_len = 0;

    if (len == 0) {
        *code = GOBI_WS_CLOSE_NO_STATUS;
        return 0;
    }

    if (len == 1 || len > GOBI_WS_MAX_CONTROL) {
        return GOBI_WS_CLOSE_PROTOCOL;
    }

    c = (unsigned) p[0] << 8 | p[1];
    *code = c;

    /* codes a peer may send: registered ones, and 3000-4999 */
    if (!((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014)
          || (c >= 3000 && c <= 4999)))
    {
        return GOBI_WS_CLOSE_PROTOCOL;
    }

    if (!gobi_utf8_valid(p + 2, len - 2)) {
        return GOBI_WS_CLOSE_INVALID_DATA;
    }

    *reason = p + 2;
    *reason_len = len - 2;

    return 0;
}


void
gobi_ws_assembler_init(gobi_ws_assembler_t *a, int server,
    size_t max_message)
{
    memset(a, 0, sizeof(gobi_ws_assembler_t));

    /* no frame can be bigger than a message */
    gobi_ws_parser_init(&a->parser, server, max_message);
    a->max_message = max_message;
}


static int
gobi_ws_assemble_error(gobi_ws_assembler_t *a, unsigned code,
    const char *error)
{
    a->close_code = code;
    a->error = error;

    return GOBI_WS_ERROR;
}


static int
gobi_ws_assemble_append(gobi_ws_assembler_t *a, const unsigned char *data,
    size_t len)
{
    unsigned char  *nb;
    size_t          cap;

    if (a->buf_len + len > a->buf_cap) {
        cap = a->buf_cap ? a->buf_cap : 256;

        while (cap < a->buf_len + len) {
            cap *= 2;
        }

        if (a->max_message && cap > a->max_message) {
            cap = a->max_message;
        }

        nb = realloc(a->buf, cap);
        if (nb == NULL) {
            return -1;
        }

        a->buf = nb;
        a->buf_cap = cap;
    }

    memcpy(a->buf + a->buf_len, data, len);
    a->buf_len += len;

    return 0;
}


/* the message handed out last time is done with */
static void
gobi_ws_assemble_release(gobi_ws_assembler_t *a)
{
    if (a->delivered == GOBI_WS_DELIVERED_DATA) {
        a->buf_len = 0;
        a->direct = NULL;

        if (a->buf_cap > GOBI_WS_KEEP) {
            free(a->buf);
            a->buf = NULL;
            a->buf_cap = 0;
        }

    } else if (a->delivered == GOBI_WS_DELIVERED_CONTROL) {
        a->ctl_len = 0;
    }

    a->delivered = 0;
    a->data = NULL;
    a->len = 0;
}


static int
gobi_ws_assemble_frame(gobi_ws_assembler_t *a)
{
    gobi_ws_parser_t  *p;

    p = &a->parser;

    if (GOBI_WS_IS_CONTROL(p->opcode)) {
        a->ctl_len = 0;
        return GOBI_WS_AGAIN;
    }

    if (p->opcode == GOBI_WS_CONT) {
        if (!a->open) {
            return gobi_ws_assemble_error(a, GOBI_WS_CLOSE_PROTOCOL,
                                          "continuation frame without a "
                                          "message");
        }

    } else {
        if (a->open) {
            return gobi_ws_assemble_error(a, GOBI_WS_CLOSE_PROTOCOL,
                                          "new message inside a "
                                          "fragmented one");
        }

        a->open = p->opcode;
        a->utf8 = 0;
    }

    if (a->max_message && p->payload_len > a->max_message - a->buf_len) {
        return gobi_ws_assemble_error(a, GOBI_WS_CLOSE_TOO_BIG,
                                      "message too big");
    }

    return GOBI_WS_AGAIN;
}


static int
gobi_ws_assemble_data(gobi_ws_assembler_t *a, unsigned char *data,
    size_t len)
{
    gobi_ws_parser_t  *p;

    p = &a->parser;

    if (GOBI_WS_IS_CONTROL(p->opcode)) {
        memcpy(a->ctl + a->ctl_len, data, len);
        a->ctl_len += len;
        return GOBI_WS_AGAIN;
    }

    if (a->open == GOBI_WS_TEXT && gobi_utf8_feed(&a->utf8, data, len) != 0)
    {
        return gobi_ws_assemble_error(a, GOBI_WS_CLOSE_INVALID_DATA,
                                      "text is not UTF-8");
    }

    /* a whole single-frame message in the input: no copy */
    if (p->opcode != GOBI_WS_CONT && p->fin && len == p->payload_len) {
        a->direct = data;
        return GOBI_WS_AGAIN;
    }

    if (gobi_ws_assemble_append(a, data, len) != 0) {
        return gobi_ws_assemble_error(a, GOBI_WS_CLOSE_INTERNAL,
                                      "out of memory");
    }

    return GOBI_WS_AGAIN;
}


static int
gobi_ws_assemble_end(gobi_ws_assembler_t *a)
{
    gobi_ws_parser_t     *p;
    const unsigned char  *reason;
    size_t                reason_len;
    unsigned              code, rc;

    p = &a->parser;

    if (GOBI_WS_IS_CONTROL(p->opcode)) {
        if (p->opcode == GOBI_WS_CLOSE) {
            rc = gobi_ws_close_parse(a->ctl, a->ctl_len, &code, &reason,
                                     &reason_len);
            if (rc) {
                return gobi_ws_assemble_error(a, rc,
                                              rc == GOBI_WS_CLOSE_PROTOCOL
                                              ? "bad close frame"
                                              : "close reason is not UTF-8");
            }
        }

        a->opcode = p->opcode;
        a->data = a->ctl;
        a->len = a->ctl_len;
        a->delivered = GOBI_WS_DELIVERED_CONTROL;

        return GOBI_WS_MESSAGE;
    }

    if (!p->fin) {
        return GOBI_WS_AGAIN;
    }

    if (a->open == GOBI_WS_TEXT && a->utf8 != 0) {
        return gobi_ws_assemble_error(a, GOBI_WS_CLOSE_INVALID_DATA,
                                      "text ends inside a UTF-8 character");
    }

    a->opcode = a->open;
    a->open = 0;

    if (a->direct) {
        a->data = a->direct;
        a->len = (size_t) p->payload_len;

    } else {
        /* never NULL, even for an empty message */
        a->data = a->buf ? a->buf : a->ctl;
        a->len = a->buf_len;
    }

    a->delivered = GOBI_WS_DELIVERED_DATA;

    return GOBI_WS_MESSAGE;
}


int
gobi_ws_assemble(gobi_ws_assembler_t *a, unsigned char **pos,
    unsigned char *last)
{
    unsigned char  *data;
    size_t          len;
    int             rc;

    if (a->close_code) {
        return GOBI_WS_ERROR;
    }

    gobi_ws_assemble_release(a);

    for ( ;; ) {
        rc = gobi_ws_parse(&a->parser, pos, last, &data, &len);

        switch (rc) {

        case GOBI_WS_AGAIN:
            return GOBI_WS_AGAIN;

        case GOBI_WS_ERROR:
            return gobi_ws_assemble_error(a, a->parser.close_code,
                                          a->parser.error);

        case GOBI_WS_FRAME:
            rc = gobi_ws_assemble_frame(a);
            break;

        case GOBI_WS_DATA:
            rc = gobi_ws_assemble_data(a, data, len);
            break;

        default: /* GOBI_WS_END */
            rc = gobi_ws_assemble_end(a);
        }

        if (rc != GOBI_WS_AGAIN) {
            return rc;
        }
    }
}


void
gobi_ws_assembler_free(gobi_ws_assembler_t *a)
{
    free(a->buf);
    a->buf = NULL;
    a->buf_cap = 0;
    a->buf_len = 0;
}
