/*
 * Copyright (C) the gobi authors
 *
 * The WebSocket frame codec (lib/gobi_ws_frame.c) as the server and the
 * client run it.  Input: a flags byte (bit 0: server side, bits 1-3: the
 * message limit), four bytes seeding the chunking, then the bytes that
 * arrive.  Checks:
 *  - the parser's events are well formed: FRAME, DATA adding up to the
 *    frame's length, END; control frames final and at most 125 bytes; a
 *    data frame over the limit never gets past its header;
 *  - the assembler gives the same messages and the same error whether the
 *    bytes arrive at once or in random chunks (each chunk in a buffer of
 *    its own, freed right after, so ASan sees any pointer kept too long);
 *  - every message, re-encoded with gobi_ws_frame() in random fragments,
 *    reads back the same; a close payload rebuilt with
 *    gobi_ws_close_payload() reads back the same code and a prefix of the
 *    reason;
 *  - gobi_ws_mask() at an offset agrees with masking at once.
 */

#include "fuzz.h"

#include "gobi_utf8.h"
#include "gobi_ws_frame.h"


typedef struct {
    unsigned char      *buf;
    size_t              len;
    size_t              cap;
} fuzz_log_t;


static uint32_t  rnd_state;


static unsigned
rnd(unsigned n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;

    return n ? rnd_state % n : 0;
}


static void
log_add(fuzz_log_t *log, const void *p, size_t len)
{
    fuzz_check(log->len + len <= log->cap, "log overflow");
    memcpy(log->buf + log->len, p, len);
    log->len += len;
}


static void
log_message(fuzz_log_t *log, gobi_ws_assembler_t *a)
{
    unsigned char  op;
    uint64_t       len;

    fuzz_check(a->data != NULL, "a message without data pointer");
    fuzz_check(a->opcode == GOBI_WS_TEXT || a->opcode == GOBI_WS_BINARY
               || a->opcode == GOBI_WS_CLOSE || a->opcode == GOBI_WS_PING
               || a->opcode == GOBI_WS_PONG, "opcode %u", a->opcode);
    /* control frames have their own bound, whatever the limit */
    fuzz_check(GOBI_WS_IS_CONTROL(a->opcode) || a->max_message == 0
               || a->len <= a->max_message,
               "message of %zu over the limit %zu", a->len, a->max_message);

    if (a->opcode == GOBI_WS_TEXT) {
        fuzz_check(gobi_utf8_valid(a->data, a->len), "text not UTF-8");
    }

    if (GOBI_WS_IS_CONTROL(a->opcode)) {
        fuzz_check(a->len <= GOBI_WS_MAX_CONTROL, "control of %zu", a->len);
    }

    op = (unsigned char) a->opcode;
    len = a->len;
    log_add(log, &op, 1);
    log_add(log, &len, sizeof(len));
    log_add(log, a->data, a->len);
}


/* the assembler over stream[0..len), in chunks when `chunked` */
static unsigned
assemble(int server, size_t max, const uint8_t *stream, size_t len,
    int chunked, fuzz_log_t *log)
{
    gobi_ws_assembler_t   a;
    unsigned char        *chunk, *pos;
    size_t                off, n;
    unsigned              code;
    int                   rc;

    gobi_ws_assembler_init(&a, server, max);
    code = 0;
    off = 0;

    do {
        n = len - off;

        if (chunked && n > 0) {
            n = 1 + rnd(rnd(4) == 0 ? (unsigned) n : 16);
            if (n > len - off) {
                n = len - off;
            }
        }

        /* malloc(0) may be NULL: keep one byte */
        chunk = malloc(n ? n : 1);
        fuzz_check(chunk != NULL, "out of memory");
        memcpy(chunk, stream + off, n);
        pos = chunk;

        for ( ;; ) {
            rc = gobi_ws_assemble(&a, &pos, chunk + n);

            if (rc == GOBI_WS_MESSAGE) {
                fuzz_check(pos >= chunk && pos <= chunk + n, "pos moved out");
                log_message(log, &a);
                continue;
            }

            break;
        }

        if (rc == GOBI_WS_ERROR) {
            code = a.close_code;
            fuzz_check(code >= 1000 && code <= 1011 && a.error != NULL,
                       "error %u without a message", code);
            fuzz_check(gobi_ws_assemble(&a, &pos, chunk + n)
                       == GOBI_WS_ERROR, "an error does not stick");

        } else {
            fuzz_check(rc == GOBI_WS_AGAIN, "assemble returned %d", rc);
            fuzz_check(pos == chunk + n, "AGAIN left %zu bytes",
                       (size_t) (chunk + n - pos));
        }

        free(chunk);
        off += n;

    } while (code == 0 && off < len);

    gobi_ws_assembler_free(&a);

    return code;
}


/* the raw parser in chunks: the events it returns are well formed */
static void
parse_events(int server, uint64_t max, const uint8_t *stream, size_t len)
{
    gobi_ws_parser_t   p;
    unsigned char     *buf, *pos, *last, *data;
    size_t             dlen, n;
    uint64_t           seen;
    int                rc, in_frame;

    buf = malloc(len ? len : 1);
    fuzz_check(buf != NULL, "out of memory");
    memcpy(buf, stream, len);

    gobi_ws_parser_init(&p, server, max);
    pos = buf;
    in_frame = 0;
    seen = 0;

    while (pos < buf + len) {
        n = 1 + rnd(64);
        last = (size_t) (buf + len - pos) < n ? buf + len : pos + n;

        for ( ;; ) {
            rc = gobi_ws_parse(&p, &pos, last, &data, &dlen);

            if (rc == GOBI_WS_AGAIN) {
                fuzz_check(pos == last, "AGAIN with bytes left");
                break;
            }

            if (rc == GOBI_WS_ERROR) {
                fuzz_check(p.close_code == GOBI_WS_CLOSE_PROTOCOL
                           || p.close_code == GOBI_WS_CLOSE_TOO_BIG,
                           "parser error %u", p.close_code);
                free(buf);
                return;
            }

            switch (rc) {

            case GOBI_WS_FRAME:
                fuzz_check(!in_frame, "FRAME inside a frame");
                fuzz_check(p.opcode <= GOBI_WS_BINARY
                           || (p.opcode >= GOBI_WS_CLOSE
                               && p.opcode <= GOBI_WS_PONG),
                           "opcode %u", p.opcode);
                fuzz_check(p.masked == (unsigned) (server != 0), "mask bit");
                fuzz_check(p.payload_left == p.payload_len, "left");

                if (GOBI_WS_IS_CONTROL(p.opcode)) {
                    fuzz_check(p.fin && p.payload_len <= GOBI_WS_MAX_CONTROL,
                               "control frame fin %u len %llu", p.fin,
                               (unsigned long long) p.payload_len);

                } else {
                    fuzz_check(max == 0 || p.payload_len <= max,
                               "frame of %llu over %llu",
                               (unsigned long long) p.payload_len,
                               (unsigned long long) max);
                }

                in_frame = 1;
                seen = 0;
                break;

            case GOBI_WS_DATA:
                fuzz_check(in_frame && dlen > 0, "DATA outside a frame");
                fuzz_check(data >= buf && data + dlen <= last,
                           "DATA outside the input");
                seen += dlen;
                fuzz_check(seen <= p.payload_len
                           && p.payload_left == p.payload_len - seen,
                           "DATA adds up wrong");
                break;

            default:
                fuzz_check(rc == GOBI_WS_END, "parse returned %d", rc);
                fuzz_check(in_frame && seen == p.payload_len,
                           "END after %llu of %llu bytes",
                           (unsigned long long) seen,
                           (unsigned long long) p.payload_len);
                in_frame = 0;
            }
        }
    }

    free(buf);
}


/* one message of the log, re-encoded in fragments, read back */
static void
roundtrip(int server, unsigned op, const unsigned char *data, size_t len)
{
    gobi_ws_assembler_t   a;
    unsigned char        *buf, *pos, mask[4], *key;
    size_t                n, off, piece, cap;
    unsigned              code, code2;
    int                   rc, fin, first, frags;
    const unsigned char  *reason, *reason2;
    size_t                rlen, rlen2;
    unsigned char         cp[GOBI_WS_MAX_CONTROL];
    char                  rs[GOBI_WS_MAX_CONTROL + 1];

    /* at most 8 fragments, some maybe empty */
    cap = len + GOBI_WS_MAX_HEADER * 8;
    buf = malloc(cap);
    fuzz_check(buf != NULL, "out of memory");

    /* the server reads masked frames: the client's encoder makes them */
    key = server ? mask : NULL;
    mask[0] = (unsigned char) rnd(256);
    mask[1] = (unsigned char) rnd(256);
    mask[2] = (unsigned char) rnd(256);
    mask[3] = (unsigned char) rnd(256);

    n = 0;
    off = 0;
    first = 1;
    frags = 0;

    do {
        piece = len - off;

        if (!GOBI_WS_IS_CONTROL(op) && ++frags < 8 && rnd(2)) {
            piece = rnd((unsigned) piece + 1);
        }

        fin = off + piece == len;
        n += gobi_ws_frame(buf + n, fin, first ? op : GOBI_WS_CONT,
                           data + off, piece, key);
        fuzz_check(n <= cap, "encoder overflow");
        off += piece;
        first = 0;

    } while (off < len);

    gobi_ws_assembler_init(&a, server, 0);
    pos = buf;
    rc = gobi_ws_assemble(&a, &pos, buf + n);
    fuzz_check(rc == GOBI_WS_MESSAGE, "re-encoded message read as %d (%s)",
               rc, a.error ? a.error : "");
    fuzz_check(a.opcode == op && a.len == len
               && (len == 0 || memcmp(a.data, data, len) == 0),
               "re-encoded message differs");
    fuzz_check(pos == buf + n, "re-encoded message not used up");
    gobi_ws_assembler_free(&a);
    free(buf);

    if (op != GOBI_WS_CLOSE) {
        return;
    }

    fuzz_check(gobi_ws_close_parse(data, len, &code, &reason, &rlen) == 0,
               "a delivered close payload is refused");

    if (len == 0 || memchr(reason, '\0', rlen) != NULL) {
        return;
    }

    memcpy(rs, reason, rlen);
    rs[rlen] = '\0';

    n = gobi_ws_close_payload(cp, code, rs);
    fuzz_check(n <= GOBI_WS_MAX_CONTROL, "close payload of %zu", n);
    fuzz_check(gobi_ws_close_parse(cp, n, &code2, &reason2, &rlen2) == 0,
               "a rebuilt close payload is refused");
    fuzz_check(code2 == code && rlen2 <= rlen
               && memcmp(reason2, reason, rlen2) == 0,
               "close payload does not round-trip");
}


static void
check_mask(const uint8_t *d, size_t len)
{
    unsigned char  a[64], b[64], key[4];
    size_t         cut;

    if (len < 4) {
        return;
    }

    memcpy(key, d, 4);
    d += 4;
    len -= 4;
    len = len > sizeof(a) ? sizeof(a) : len;
    cut = len ? rnd((unsigned) len + 1) : 0;

    gobi_ws_mask(a, d, len, key, 0);
    gobi_ws_mask(b, d, cut, key, 0);
    gobi_ws_mask(b + cut, d + cut, len - cut, key, cut);
    fuzz_check(len == 0 || memcmp(a, b, len) == 0, "mask at an offset");

    gobi_ws_mask(b, a, len, key, 0);
    fuzz_check(len == 0 || memcmp(b, d, len) == 0, "mask twice");
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t  limits[] = { 0, 1, 16, 125, 126, 300, 4096, 65536 };
    fuzz_log_t           whole, chunked;
    const uint8_t       *stream;
    unsigned             code1, code2, op;
    size_t               len, max, i, mlen;
    uint64_t             l64;
    int                  server;
    uint32_t             seed;

    if (size < 5) {
        return 0;
    }

    server = data[0] & 1;
    max = limits[(data[0] >> 1) & 7];
    seed = (uint32_t) data[1] | (uint32_t) data[2] << 8
           | (uint32_t) data[3] << 16 | (uint32_t) data[4] << 24;
    rnd_state = seed ? seed : 1;
    stream = data + 5;
    len = size - 5;

    /* per message 9 bytes of log; payload bytes never grow */
    whole.cap = chunked.cap = len * 10 + 16;
    whole.buf = malloc(whole.cap);
    chunked.buf = malloc(chunked.cap);
    fuzz_check(whole.buf && chunked.buf, "out of memory");
    whole.len = chunked.len = 0;

    code1 = assemble(server, max, stream, len, 0, &whole);
    code2 = assemble(server, max, stream, len, 1, &chunked);

    fuzz_check(code1 == code2, "error %u at once, %u in chunks", code1,
               code2);
    fuzz_check(whole.len == chunked.len
               && memcmp(whole.buf, chunked.buf, whole.len) == 0,
               "messages differ at once and in chunks");

    parse_events(server, max, stream, len);

    for (i = 0; i < whole.len; i += 9 + mlen) {
        op = whole.buf[i];
        memcpy(&l64, whole.buf + i + 1, sizeof(l64));
        mlen = (size_t) l64;
        roundtrip(server, op, whole.buf + i + 9, mlen);
    }

    check_mask(stream, len);

    free(whole.buf);
    free(chunked.buf);

    return 0;
}
