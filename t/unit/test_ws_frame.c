/*
 * Copyright (C) the gobi authors
 *
 * RFC 6455 frames: the RFC's examples, every protocol error, and random
 * streams of messages encoded, cut at random places and read back.
 */

#include <stdint.h>

#include "unit.h"

#include "gobi_utf8.h"
#include "gobi_ws_frame.h"


#define SERVER  1                   /* reads masked frames from clients */
#define CLIENT  0


static uint64_t  rnd_state = 0x9e3779b97f4a7c15ull;


static unsigned
rnd(unsigned n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (unsigned) (rnd_state >> 11) % n;
}


/*
 * Parser output as text: "[fin op m len]payload" per frame, payload bytes
 * printable or as \xNN, and "ERR code" at an error.  Feeds a copy of the
 * input in pieces of `step` bytes (0: all at once).
 */
static const char *
parse_str(int server, uint64_t max, const unsigned char *in, size_t len,
    size_t step)
{
    static char        out[8192];
    static unsigned char  buf[4096];
    gobi_ws_parser_t   p;
    unsigned char     *pos, *last, *data, *end;
    size_t             dlen, i, o;
    int                rc;

    memcpy(buf, in, len);
    gobi_ws_parser_init(&p, server, max);

    o = 0;
    out[0] = '\0';
    pos = buf;
    end = buf + len;

    /* END comes in the same round as the last DATA: no input needed */
    while (pos < end) {
        last = (step && (size_t) (end - pos) > step) ? pos + step : end;

        for ( ;; ) {
            rc = gobi_ws_parse(&p, &pos, last, &data, &dlen);

            if (rc == GOBI_WS_AGAIN) {
                break;
            }

            if (o > sizeof(out) - 64) {
                return out;
            }

            switch (rc) {
            case GOBI_WS_FRAME:
                o += sprintf(out + o, "[%u %u %u %llu]", p.fin, p.opcode,
                             p.masked, (unsigned long long) p.payload_len);
                break;

            case GOBI_WS_DATA:
                for (i = 0; i < dlen && o < sizeof(out) - 8; i++) {
                    if (data[i] >= 0x20 && data[i] < 0x7f) {
                        out[o++] = data[i];

                    } else {
                        o += sprintf(out + o, "\\x%02x", data[i]);
                    }
                }

                out[o] = '\0';
                break;

            case GOBI_WS_END:
                o += sprintf(out + o, "|");
                break;

            default:
                sprintf(out + o, "ERR %u", p.close_code);
                return out;
            }
        }
    }

    return out;
}


/* the same through the assembler: "op:payload|" per message */
static const char *
assemble_str(int server, size_t max, const unsigned char *in, size_t len,
    size_t step)
{
    static char          out[8192];
    static unsigned char buf[4096];
    gobi_ws_assembler_t  a;
    unsigned char       *pos, *last, *end;
    size_t               i, o;
    int                  rc;

    memcpy(buf, in, len);
    gobi_ws_assembler_init(&a, server, max);

    o = 0;
    out[0] = '\0';
    pos = buf;
    end = buf + len;

    while (pos < end) {
        last = (step && (size_t) (end - pos) > step) ? pos + step : end;

        for ( ;; ) {
            rc = gobi_ws_assemble(&a, &pos, last);

            if (rc == GOBI_WS_AGAIN) {
                break;
            }

            if (rc == GOBI_WS_ERROR) {
                sprintf(out + o, "ERR %u", a.close_code);
                gobi_ws_assembler_free(&a);
                return out;
            }

            o += sprintf(out + o, "%u:", a.opcode);

            for (i = 0; i < a.len && o < sizeof(out) - 16; i++) {
                if (a.data[i] >= 0x20 && a.data[i] < 0x7f) {
                    out[o++] = a.data[i];

                } else {
                    o += sprintf(out + o, "\\x%02x", a.data[i]);
                }
            }

            o += sprintf(out + o, "|");
        }
    }

    gobi_ws_assembler_free(&a);

    return out;
}


/* the same answer fed whole, byte by byte, and in 2, 3 and 7 byte steps */
#define PARSE_IS(server, max, bytes, want, name)                             \
    do {                                                                     \
        static const unsigned char  in_[] = bytes;                           \
        static const size_t         steps_[] = { 0, 1, 2, 3, 7 };            \
        size_t                      s_;                                      \
        for (s_ = 0; s_ < 5; s_++) {                                         \
            is_str(parse_str(server, max, in_, sizeof(in_) - 1,              \
                             steps_[s_]), want, "%s (step %zu)", name,       \
                   steps_[s_]);                                              \
        }                                                                    \
    } while (0)

#define ASSEMBLE_IS(server, max, bytes, want, name)                          \
    do {                                                                     \
        static const unsigned char  in_[] = bytes;                           \
        static const size_t         steps_[] = { 0, 1, 2, 3, 7 };            \
        size_t                      s_;                                      \
        for (s_ = 0; s_ < 5; s_++) {                                         \
            is_str(assemble_str(server, max, in_, sizeof(in_) - 1,           \
                                steps_[s_]), want, "%s (step %zu)", name,    \
                   steps_[s_]);                                              \
        }                                                                    \
    } while (0)


#define HELLO_MASKED  "\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"


static void
test_rfc_examples(void)
{
    static unsigned char  big[65536 + 10];
    gobi_ws_parser_t      p;
    unsigned char        *pos, *data;
    size_t                len, total, i;
    int                   rc, frames, ends;

    /* RFC 6455 5.7 */
    PARSE_IS(CLIENT, 0, "\x81\x05Hello", "[1 1 0 5]Hello|",
             "unmasked text \"Hello\"");
    PARSE_IS(SERVER, 0, "\x81\x85" HELLO_MASKED, "[1 1 1 5]Hello|",
             "masked text \"Hello\"");
    PARSE_IS(CLIENT, 0, "\x01\x03Hel\x80\x02lo", "[0 1 0 3]Hel|[1 0 0 2]lo|",
             "fragmented unmasked text");
    PARSE_IS(CLIENT, 0, "\x89\x05Hello", "[1 9 0 5]Hello|",
             "unmasked ping");
    PARSE_IS(SERVER, 0, "\x8a\x85" HELLO_MASKED, "[1 10 1 5]Hello|",
             "masked pong");

    ASSEMBLE_IS(SERVER, 0, "\x81\x85" HELLO_MASKED, "1:Hello|",
                "assembled masked \"Hello\"");
    ASSEMBLE_IS(CLIENT, 0, "\x01\x03Hel\x80\x02lo", "1:Hello|",
                "assembled fragments");
    ASSEMBLE_IS(CLIENT, 0, "\x01\x03Hel\x89\x02hi\x80\x02lo",
                "9:hi|1:Hello|", "ping between fragments");
    ASSEMBLE_IS(CLIENT, 0, "\x01\x01H\x00\x01" "e\x8a\x00\x00\x01l\x89\x00"
                "\x80\x02lo", "10:|9:|1:Hello|",
                "pong and ping between four fragments");

    /* 256 bytes and 64 KiB binary, unmasked */
    big[0] = 0x82;
    big[1] = 0x7e;
    big[2] = 0x01;
    big[3] = 0x00;
    for (i = 0; i < 256; i++) {
        big[4 + i] = (unsigned char) i;
    }

    gobi_ws_parser_init(&p, CLIENT, 0);
    pos = big;
    rc = gobi_ws_parse(&p, &pos, big + 260, &data, &len);
    is_int(rc, GOBI_WS_FRAME, "256-byte binary: frame");
    is_int(p.payload_len, 256, "256-byte binary: 16-bit length");
    rc = gobi_ws_parse(&p, &pos, big + 260, &data, &len);
    ok(rc == GOBI_WS_DATA && len == 256 && data[255] == 255,
       "256-byte binary: data");
    is_int(gobi_ws_parse(&p, &pos, big + 260, &data, &len), GOBI_WS_END,
           "256-byte binary: end");

    memcpy(big, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    memset(big + 10, 'x', 65536);

    gobi_ws_parser_init(&p, CLIENT, 0);
    pos = big;
    total = 0;
    frames = ends = 0;

    /* in 1000-byte pieces */
    while (pos < big + sizeof(big)) {
        unsigned char  *last = pos + 1000 < big + sizeof(big)
                               ? pos + 1000 : big + sizeof(big);

        while ((rc = gobi_ws_parse(&p, &pos, last, &data, &len))
               != GOBI_WS_AGAIN)
        {
            if (rc == GOBI_WS_FRAME) {
                frames++;
                is_int(p.payload_len, 65536, "64 KiB: 64-bit length");

            } else if (rc == GOBI_WS_DATA) {
                total += len;

            } else if (rc == GOBI_WS_END) {
                ends++;

            } else {
                break;
            }
        }
    }

    ok(frames == 1 && ends == 1 && total == 65536, "64 KiB binary read");
}


static void
test_parse_errors(void)
{
    PARSE_IS(SERVER, 0, "\xc1\x85" HELLO_MASKED, "ERR 1002", "RSV1");
    PARSE_IS(SERVER, 0, "\xa1\x85" HELLO_MASKED, "ERR 1002", "RSV2");
    PARSE_IS(SERVER, 0, "\x91\x85" HELLO_MASKED, "ERR 1002", "RSV3");
    PARSE_IS(SERVER, 0, "\x83\x80\x00\x00\x00\x00", "ERR 1002", "opcode 3");
    PARSE_IS(SERVER, 0, "\x87\x80\x00\x00\x00\x00", "ERR 1002", "opcode 7");
    PARSE_IS(SERVER, 0, "\x8b\x80\x00\x00\x00\x00", "ERR 1002", "opcode b");
    PARSE_IS(SERVER, 0, "\x8f\x80\x00\x00\x00\x00", "ERR 1002", "opcode f");
    PARSE_IS(SERVER, 0, "\x09\x80\x00\x00\x00\x00", "ERR 1002",
             "fragmented ping");
    PARSE_IS(SERVER, 0, "\x08\x80\x00\x00\x00\x00", "ERR 1002",
             "fragmented close");
    PARSE_IS(SERVER, 0, "\x89\xfe\x00\x7e", "ERR 1002",
             "ping of 126 bytes");
    PARSE_IS(SERVER, 0, "\x8a\xff\x00\x00\x00\x00\x00\x00\x00\x00",
             "ERR 1002", "pong with a 64-bit length");
    PARSE_IS(SERVER, 0, "\x81\x05Hello", "ERR 1002",
             "server: unmasked frame");
    PARSE_IS(CLIENT, 0, "\x81\x85" HELLO_MASKED, "ERR 1002",
             "client: masked frame");
    PARSE_IS(SERVER, 4, "\x81\x85" HELLO_MASKED, "ERR 1009",
             "frame over the limit");
    PARSE_IS(SERVER, 5, "\x81\x85" HELLO_MASKED, "[1 1 1 5]Hello|",
             "frame at the limit");
    PARSE_IS(SERVER, 1000, "\x82\xfe\x03\xe9", "ERR 1009",
             "16-bit length over the limit, known before the mask");
    PARSE_IS(SERVER, 1000, "\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00",
             "ERR 1009", "64-bit length over the limit");
    PARSE_IS(SERVER, 0, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00",
             "ERR 1002", "64-bit length with the top bit set");
    PARSE_IS(SERVER, 0, "\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff",
             "ERR 1002", "64-bit length all ones");
    PARSE_IS(SERVER, 0, "\x81\x85" HELLO_MASKED "\x81\x05", "[1 1 1 5]Hello|"
             "ERR 1002", "good frame, then an unmasked one");
    PARSE_IS(CLIENT, 0, "\x81\x7e\x00\x05Hello", "[1 1 0 5]Hello|",
             "non-minimal length is accepted");
}


static void
test_fail_fast(void)
{
    gobi_ws_parser_t  p;
    unsigned char     in[] = "\xc1\x85", *pos, *data;
    size_t            len;

    /* nothing after the first two bytes is needed to see the error */
    gobi_ws_parser_init(&p, SERVER, 0);
    pos = in;
    is_int(gobi_ws_parse(&p, &pos, in + 2, &data, &len), GOBI_WS_ERROR,
           "error on the second byte");
    is_str(p.error, "reserved bits set", "error message");
    is_int(gobi_ws_parse(&p, &pos, in + 2, &data, &len), GOBI_WS_ERROR,
           "errors stick");

    gobi_ws_parser_init(&p, SERVER, 0);
    pos = in + 1;
    is_int(gobi_ws_parse(&p, &pos, in + 1, &data, &len), GOBI_WS_AGAIN,
           "no input: again");
    ok(pos == in + 1, "nothing used");
}


static void
test_assemble_errors(void)
{
    ASSEMBLE_IS(CLIENT, 0, "\x80\x02lo", "ERR 1002",
                "continuation without a message");
    ASSEMBLE_IS(CLIENT, 0, "\x00\x02lo", "ERR 1002",
                "non-final continuation without a message");
    ASSEMBLE_IS(CLIENT, 0, "\x01\x03Hel\x81\x02lo", "ERR 1002",
                "text inside a fragmented text");
    ASSEMBLE_IS(CLIENT, 0, "\x02\x03Hel\x82\x02lo", "ERR 1002",
                "binary inside a fragmented binary");
    ASSEMBLE_IS(CLIENT, 0, "\x01\x03Hel\x80\x02lo\x80\x01x", "1:Hello|ERR 1002",
                "continuation after the final fragment");
    ASSEMBLE_IS(CLIENT, 4, "\x01\x03Hel\x80\x02lo", "ERR 1009",
                "fragments over the message limit");
    ASSEMBLE_IS(CLIENT, 5, "\x01\x03Hel\x80\x02lo", "1:Hello|",
                "fragments at the message limit");
    ASSEMBLE_IS(CLIENT, 4, "\x81\x05Hello", "ERR 1009",
                "one frame over the message limit");
    ASSEMBLE_IS(CLIENT, 4, "\x01\x03Hel\x89\x05Hello\x80\x01l",
                "9:Hello|1:Hell|", "control frames do not count");

    ASSEMBLE_IS(CLIENT, 0, "\x81\x02\xc0\xaf", "ERR 1007", "overlong text");
    ASSEMBLE_IS(CLIENT, 0, "\x81\x03\xed\xa0\x80", "ERR 1007",
                "surrogate in text");
    ASSEMBLE_IS(CLIENT, 0, "\x82\x02\xc0\xaf", "2:\\xc0\\xaf|",
                "binary is not checked");
    ASSEMBLE_IS(CLIENT, 0, "\x01\x02\xe2\x82\x80\x01\xac", "1:\\xe2\\x82\\xac|",
                "a character split across fragments");
    ASSEMBLE_IS(CLIENT, 0, "\x81\x02\xe2\x82", "ERR 1007",
                "text ends inside a character");
    ASSEMBLE_IS(CLIENT, 0, "\x01\x02\xe2\x82\x80\x01\x41", "ERR 1007",
                "bad byte in the last fragment");
    ASSEMBLE_IS(CLIENT, 0, "\x01\x01\xff", "ERR 1007",
                "fails fast, before the message ends");
    ASSEMBLE_IS(CLIENT, 0, "\x89\x02\xff\xfe", "9:\\xff\\xfe|",
                "ping payload is binary");

    ASSEMBLE_IS(CLIENT, 0, "\x88\x00", "8:|", "close without a code");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x05\x03\xe8" "bye", "8:\\x03\\xe8bye|",
                "close 1000 bye");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x01\x03", "ERR 1002", "close of 1 byte");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x03\xe7", "ERR 1002", "close 999");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x03\xec", "ERR 1002", "close 1004");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x03\xed", "ERR 1002", "close 1005");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x03\xee", "ERR 1002", "close 1006");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x03\xf7", "ERR 1002", "close 1015");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x0b\xb7", "ERR 1002", "close 2999");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x0b\xb8", "8:\\x0b\\xb8|", "close 3000");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x13\x87", "8:\\x13\\x87|", "close 4999");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x02\x13\x88", "ERR 1002", "close 5000");
    ASSEMBLE_IS(CLIENT, 0, "\x88\x03\x03\xe8\xff", "ERR 1007",
                "close reason not UTF-8");
}


static void
test_assembler_buffers(void)
{
    static unsigned char  stream[20000];
    static unsigned char  payload[9000];
    gobi_ws_assembler_t   a;
    unsigned char        *pos, *start;
    size_t                n;
    int                   rc;

    gobi_ws_assembler_init(&a, CLIENT, 0);

    /* one whole frame in the input: the message is read in place */
    n = gobi_ws_frame(stream, 1, GOBI_WS_TEXT, (unsigned char *) "hi", 2,
                      NULL);
    pos = stream;
    rc = gobi_ws_assemble(&a, &pos, stream + n);
    ok(rc == GOBI_WS_MESSAGE && a.len == 2 && a.data == stream + 2,
       "whole frame: data points into the input");
    ok(a.buf == NULL, "whole frame: no buffer");

    /* cut in two: copied */
    n = gobi_ws_frame(stream, 1, GOBI_WS_TEXT, (unsigned char *) "hello", 5,
                      NULL);
    pos = stream;
    rc = gobi_ws_assemble(&a, &pos, stream + 4);
    is_int(rc, GOBI_WS_AGAIN, "half a frame");
    rc = gobi_ws_assemble(&a, &pos, stream + n);
    ok(rc == GOBI_WS_MESSAGE && a.len == 5 && memcmp(a.data, "hello", 5) == 0
       && a.data == a.buf, "cut frame: copied");

    /* a big fragmented message, then the buffer is let go */
    memset(payload, 'z', sizeof(payload));
    n = gobi_ws_frame(stream, 0, GOBI_WS_BINARY, payload, 4500, NULL);
    n += gobi_ws_frame(stream + n, 1, GOBI_WS_CONT, payload, 4500, NULL);
    start = stream;
    rc = gobi_ws_assemble(&a, &start, stream + n);
    ok(rc == GOBI_WS_MESSAGE && a.opcode == GOBI_WS_BINARY && a.len == 9000,
       "9000 bytes in two fragments");
    ok(a.buf_cap >= 9000, "held in a buffer");

    n = gobi_ws_frame(stream, 1, GOBI_WS_TEXT, (unsigned char *) "", 0,
                      NULL);
    pos = stream;
    rc = gobi_ws_assemble(&a, &pos, stream + n);
    ok(rc == GOBI_WS_MESSAGE && a.len == 0 && a.data != NULL,
       "empty message, data not NULL");
    ok(a.buf == NULL && a.buf_cap == 0, "big buffer freed after use");

    /* a small one is kept */
    n = gobi_ws_frame(stream, 0, GOBI_WS_TEXT, (unsigned char *) "ab", 2,
                      NULL);
    n += gobi_ws_frame(stream + n, 1, GOBI_WS_CONT, (unsigned char *) "c", 1,
                       NULL);
    n += gobi_ws_frame(stream + n, 1, GOBI_WS_PING, (unsigned char *) "p", 1,
                       NULL);
    pos = stream;
    rc = gobi_ws_assemble(&a, &pos, stream + n);
    ok(rc == GOBI_WS_MESSAGE && a.len == 3, "small fragmented message");
    rc = gobi_ws_assemble(&a, &pos, stream + n);
    ok(rc == GOBI_WS_MESSAGE && a.opcode == GOBI_WS_PING && a.len == 1,
       "then a ping");
    ok(a.buf != NULL && a.buf_cap <= 4096, "small buffer kept");
    rc = gobi_ws_assemble(&a, &pos, stream + n);
    is_int(rc, GOBI_WS_AGAIN, "then nothing");

    gobi_ws_assembler_free(&a);
    ok(a.buf == NULL, "freed");
}


static void
test_encoder(void)
{
    static const unsigned char  key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    static const unsigned char  rfc[] = "\x81\x85" HELLO_MASKED;
    unsigned char               buf[256], payload[125];
    const unsigned char        *reason;
    char                        long_reason[512];
    size_t                      n, i, rlen;
    unsigned                    code;

    n = gobi_ws_frame(buf, 1, GOBI_WS_TEXT, (unsigned char *) "Hello", 5,
                      key);
    ok(n == 11 && memcmp(buf, rfc, 11) == 0, "masked \"Hello\" as in RFC");

    n = gobi_ws_frame(buf, 1, GOBI_WS_TEXT, (unsigned char *) "Hello", 5,
                      NULL);
    ok(n == 7 && memcmp(buf, "\x81\x05Hello", 7) == 0, "unmasked \"Hello\"");

    n = gobi_ws_frame_header(buf, 0, GOBI_WS_BINARY, 125, NULL);
    ok(n == 2 && buf[0] == 0x02 && buf[1] == 125, "125: 7-bit length");
    n = gobi_ws_frame_header(buf, 1, GOBI_WS_BINARY, 126, NULL);
    ok(n == 4 && memcmp(buf, "\x82\x7e\x00\x7e", 4) == 0,
       "126: 16-bit length");
    n = gobi_ws_frame_header(buf, 1, GOBI_WS_BINARY, 256, NULL);
    ok(n == 4 && memcmp(buf, "\x82\x7e\x01\x00", 4) == 0, "256 as in RFC");
    n = gobi_ws_frame_header(buf, 1, GOBI_WS_BINARY, 65535, NULL);
    ok(n == 4 && memcmp(buf, "\x82\x7e\xff\xff", 4) == 0, "65535");
    n = gobi_ws_frame_header(buf, 1, GOBI_WS_BINARY, 65536, NULL);
    ok(n == 10 && memcmp(buf, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00",
                         10) == 0, "65536 as in RFC");
    n = gobi_ws_frame_header(buf, 1, GOBI_WS_BINARY, 0x123456789abull, key);
    ok(n == 14 && memcmp(buf, "\x82\xff\x00\x00\x01\x23\x45\x67\x89\xab"
                         "\x37\xfa\x21\x3d", 14) == 0, "40-bit, masked");
    n = gobi_ws_frame_header(buf, 1, GOBI_WS_CLOSE, 0, key);
    ok(n == 6 && memcmp(buf, "\x88\x80\x37\xfa\x21\x3d", 6) == 0,
       "empty masked close");

    /* close payloads */
    n = gobi_ws_close_payload(payload, 1000, "bye");
    ok(n == 5 && memcmp(payload, "\x03\xe8" "bye", 5) == 0, "close 1000 bye");
    n = gobi_ws_close_payload(payload, 1009, NULL);
    ok(n == 2 && memcmp(payload, "\x03\xf1", 2) == 0, "close 1009");
    is_int(gobi_ws_close_parse(payload, n, &code, &reason, &rlen), 0,
           "parse it back");
    ok(code == 1009 && rlen == 0, "code 1009, no reason");

    /* 200 x "é" (2 bytes): cut at 122 bytes, not in a character */
    for (i = 0; i < 200; i++) {
        memcpy(long_reason + 2 * i, "\xc3\xa9", 2);
    }
    long_reason[400] = '\0';

    n = gobi_ws_close_payload(payload, 1008, long_reason);
    is_int(n, 2 + 122, "long reason cut at a character");
    ok(gobi_utf8_valid(payload + 2, n - 2), "still UTF-8");
    is_int(gobi_ws_close_parse(payload, n, &code, &reason, &rlen), 0,
           "valid close payload");

    memset(long_reason, 'r', 300);
    long_reason[300] = '\0';
    n = gobi_ws_close_payload(payload, 1000, long_reason);
    is_int(n, 125, "ASCII reason cut to 123 bytes");

    is_int(gobi_ws_close_parse(payload, 0, &code, &reason, &rlen), 0,
           "empty close payload");
    is_int(code, GOBI_WS_CLOSE_NO_STATUS, "is 1005");
}


static void
test_mask(void)
{
    static const unsigned char  key[4] = { 0x01, 0x80, 0xff, 0x5a };
    unsigned char               a[100], b[100], c[100];
    size_t                      i, cut;

    for (i = 0; i < sizeof(a); i++) {
        a[i] = (unsigned char) (i * 7);
    }

    gobi_ws_mask(b, a, sizeof(a), key, 0);
    ok(b[0] == (a[0] ^ 0x01) && b[5] == (a[5] ^ 0x80), "mask");

    for (cut = 0; cut <= sizeof(a); cut++) {
        memcpy(c, b, sizeof(c));
        gobi_ws_mask(c, c, cut, key, 0);
        gobi_ws_mask(c + cut, c + cut, sizeof(c) - cut, key, cut);

        if (memcmp(c, a, sizeof(a)) != 0) {
            break;
        }
    }

    is_int(cut, sizeof(a) + 1, "unmasked in place in two pieces, any cut");
}


/*
 * Random streams: messages of random kinds and sizes, cut in fragments
 * with control frames between them, encoded (masked when the reader is a
 * server), cut in random pieces and assembled again.
 */

typedef struct {
    unsigned            opcode;
    size_t              off;
    size_t              len;
} want_t;


static size_t
random_len(void)
{
    static const size_t  edges[] = { 0, 1, 2, 125, 126, 127, 1000, 65535,
                                     65536, 70000 };

    switch (rnd(4)) {
    case 0:
        return edges[rnd(sizeof(edges) / sizeof(edges[0]))];
    case 1:
        return rnd(300);
    default:
        return rnd(20);
    }
}


/* a random valid UTF-8 or binary payload */
static void
random_payload(unsigned char *p, size_t len, int text)
{
    static const char  *chars[] = { "a", "Z", " ", "\xc3\xa9", "\xe2\x82\xac",
                                    "\xf0\x9f\x98\x80", "\xed\x9f\xbf" };
    size_t              i, n;
    const char         *c;

    i = 0;

    while (i < len) {
        if (!text) {
            p[i++] = (unsigned char) rnd(256);
            continue;
        }

        c = chars[rnd(7)];
        n = strlen(c);

        if (i + n > len) {
            c = "x";
            n = 1;
        }

        memcpy(p + i, c, n);
        i += n;
    }
}


static void
test_random_streams(void)
{
    static unsigned char  stream[1 << 22];
    static unsigned char  orig[1 << 22];
    static unsigned char  payloads[1 << 21];
    static want_t         want[2000];
    want_t                msg;
    gobi_ws_assembler_t   a;
    unsigned char         key[4], *pos, *last, *end, *keyp;
    size_t                n, pl, nwant, got, k, off, frag, len, total;
    size_t                nmsgs, msg_end;
    unsigned              op, nfrags, f, j;
    int                   server, rc, trial, bad, errors;

    bad = errors = 0;
    total = 0;

    for (trial = 0; trial < 400; trial++) {
        server = rnd(2);
        n = 0;
        pl = 0;
        nwant = 0;

        nmsgs = 1 + rnd(12);

        for (k = 0; k < nmsgs; k++) {
            op = rnd(4) ? GOBI_WS_TEXT : GOBI_WS_BINARY;
            len = random_len();

            if (pl + len > sizeof(payloads) / 2) {
                break;
            }

            random_payload(payloads + pl, len, op == GOBI_WS_TEXT);
            msg.opcode = op;
            msg.off = pl;
            msg.len = len;

            off = pl;
            pl += len;
            msg_end = pl;
            nfrags = 1 + (rnd(3) == 0 ? rnd(5) : 0);

            for (f = 0; f < nfrags; f++) {
                /* fragment boundaries anywhere, even inside a character */
                frag = f + 1 == nfrags ? msg_end - off
                                       : rnd(msg_end - off + 1);

                for (j = 0; j < 4; j++) {
                    key[j] = (unsigned char) rnd(256);
                }

                keyp = server ? key : NULL;
                n += gobi_ws_frame(stream + n, f + 1 == nfrags,
                                   f ? GOBI_WS_CONT : op, payloads + off,
                                   frag, keyp);
                off += frag;

                /* control frames between fragments come out first */
                if (f + 1 == nfrags) {
                    want[nwant++] = msg;
                }

                /* a control frame between fragments, or after */
                if (rnd(4) == 0) {
                    len = rnd(3) ? rnd(10) : 125;
                    random_payload(payloads + pl, len, 0);
                    want[nwant].opcode = rnd(2) ? GOBI_WS_PING : GOBI_WS_PONG;
                    want[nwant].off = pl;
                    want[nwant].len = len;
                    n += gobi_ws_frame(stream + n, 1, want[nwant].opcode,
                                       payloads + pl, len, keyp);
                    pl += len;
                    nwant++;
                }
            }
        }

        /* and read it back in random pieces */
        memcpy(orig, stream, n);
        gobi_ws_assembler_init(&a, server, 1 << 20);
        pos = stream;
        end = stream + n;
        got = 0;
        total += n;

        while (pos < end) {
            switch (rnd(3)) {
            case 0:
                len = 1;
                break;
            case 1:
                len = 1 + rnd(20);
                break;
            default:
                len = 1 + rnd(100000);
            }

            last = (size_t) (end - pos) > len ? pos + len : end;

            while ((rc = gobi_ws_assemble(&a, &pos, last)) == GOBI_WS_MESSAGE)
            {
                if (got >= nwant || a.opcode != want[got].opcode
                    || a.len != want[got].len
                    || memcmp(a.data, payloads + want[got].off, a.len) != 0)
                {
                    if (bad++ < 3) {
                        printf("# trial %d msg %zu/%zu: op %u len %zu, "
                               "want op %u len %zu\n", trial, got, nwant,
                               a.opcode, a.len, want[got].opcode,
                               want[got].len);
                    }
                }

                got++;
            }

            if (rc == GOBI_WS_ERROR) {
                printf("# trial %d: error %u %s\n", trial, a.close_code,
                       a.error);
                errors++;
                break;
            }
        }

        if (got != nwant) {
            bad++;
        }

        gobi_ws_assembler_free(&a);
    }

    is_int(errors, 0, "random streams: no errors");
    is_int(bad, 0, "random streams: every message back, in order (%zu bytes)",
           total);
}


int
main(void)
{
    test_rfc_examples();
    test_parse_errors();
    test_fail_fast();
    test_assemble_errors();
    test_assembler_buffers();
    test_encoder();
    test_mask();
    test_random_streams();

    done_testing();
}
