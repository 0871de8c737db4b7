/*
 * Copyright (C) the gobi authors
 *
 * RFC 6455 frames for both ends: the nginx module (server: peers must
 * mask) and the client (peers must not).  No I/O and no nginx here: the
 * parser eats whatever bytes arrived, split anywhere, and says what it
 * found; the encoder writes headers into the caller's buffer.
 */

#ifndef _GOBI_WS_FRAME_H_INCLUDED_
#define _GOBI_WS_FRAME_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define GOBI_WS_CONT                0x0
#define GOBI_WS_TEXT                0x1
#define GOBI_WS_BINARY              0x2
#define GOBI_WS_CLOSE               0x8
#define GOBI_WS_PING                0x9
#define GOBI_WS_PONG                0xa

#define GOBI_WS_IS_CONTROL(op)      ((op) & 0x8)

#define GOBI_WS_CLOSE_NORMAL        1000
#define GOBI_WS_CLOSE_GOING_AWAY    1001
#define GOBI_WS_CLOSE_PROTOCOL      1002
#define GOBI_WS_CLOSE_UNSUPPORTED   1003
#define GOBI_WS_CLOSE_NO_STATUS     1005   /* received empty; never sent */
#define GOBI_WS_CLOSE_ABNORMAL      1006   /* never sent */
#define GOBI_WS_CLOSE_INVALID_DATA  1007   /* e.g. text not UTF-8 */
#define GOBI_WS_CLOSE_POLICY        1008
#define GOBI_WS_CLOSE_TOO_BIG       1009
#define GOBI_WS_CLOSE_INTERNAL      1011

#define GOBI_WS_MAX_HEADER          14
#define GOBI_WS_MAX_CONTROL         125    /* control frame payload */
#define GOBI_WS_MAX_REASON          123    /* close reason after the code */


/* what gobi_ws_parse() and gobi_ws_assemble() return */
#define GOBI_WS_AGAIN               0      /* input used up, send more */
#define GOBI_WS_FRAME               1      /* a frame header is complete */
#define GOBI_WS_DATA                2      /* payload bytes */
#define GOBI_WS_END                 3      /* the frame's payload is done */
#define GOBI_WS_MESSAGE             4      /* a whole message (assembler) */
#define GOBI_WS_ERROR               -1     /* close with close_code */


typedef struct {
    /* set by gobi_ws_parser_init() */
    unsigned            expect_mask;       /* 1: we are the server */
    uint64_t            max_payload;       /* 0: no limit */

    /* the current frame, from GOBI_WS_FRAME to its GOBI_WS_END */
    unsigned            fin;
    unsigned            opcode;
    unsigned            masked;
    uint64_t            payload_len;
    uint64_t            payload_left;      /* not yet returned as DATA */

    /* after GOBI_WS_ERROR, which sticks */
    unsigned            close_code;
    const char         *error;

    /* private */
    unsigned            state;
    unsigned            hdr_len;
    unsigned            hdr_need;
    unsigned char       hdr[GOBI_WS_MAX_HEADER];
} gobi_ws_parser_t;


void gobi_ws_parser_init(gobi_ws_parser_t *p, int server,
    uint64_t max_payload);

/*
 * Reads the bytes from *pos to last and moves *pos past the ones it used.
 * Returns one of:
 *   GOBI_WS_AGAIN   all bytes used; call again when more arrive
 *   GOBI_WS_FRAME   p->fin, opcode, masked, payload_len are set
 *   GOBI_WS_DATA    *data, *len: the next payload bytes, unmasked in place
 *                   (inside [*pos, last) as given; copy the input first to
 *                   keep it intact)
 *   GOBI_WS_END     the frame is complete (right after FRAME when empty)
 *   GOBI_WS_ERROR   p->close_code (1002, 1009) and p->error; the peer
 *                   broke the protocol, the connection must be closed
 * Validation: reserved bits, unknown opcodes, control frames that are
 * fragmented or longer than 125 bytes, a 64-bit length with the top bit
 * set, a frame not masked when it must be or masked when it must not
 * (all 1002), a data frame above max_payload (1009, as soon as the length
 * is read).
 * Non-minimal length encodings are accepted.
 */
int gobi_ws_parse(gobi_ws_parser_t *p, unsigned char **pos,
    unsigned char *last, unsigned char **data, size_t *len);

/*
 * XORs len bytes of src with key into dst (may be src), `offset` being the
 * position of src[0] in the payload: masks and unmasks alike.
 */
void gobi_ws_mask(unsigned char *dst, const unsigned char *src, size_t len,
    const unsigned char key[4], uint64_t offset);


/*
 * Writes a frame header for a payload of len bytes into buf (room for
 * GOBI_WS_MAX_HEADER) and returns its length.  mask: the 4-byte key (the
 * client must mask, from a good random source), NULL for none (server).
 * The caller masks the payload itself with gobi_ws_mask().
 */
size_t gobi_ws_frame_header(unsigned char *buf, int fin, unsigned opcode,
    uint64_t len, const unsigned char *mask);

/* a whole frame: header plus (masked) payload; returns its length */
size_t gobi_ws_frame(unsigned char *buf, int fin, unsigned opcode,
    const unsigned char *payload, size_t len, const unsigned char *mask);

/*
 * Close frame payload: the code in network order, then the reason cut to
 * GOBI_WS_MAX_REASON bytes without splitting a UTF-8 character.  buf has
 * room for GOBI_WS_MAX_CONTROL bytes; returns the payload length.
 */
size_t gobi_ws_close_payload(unsigned char *buf, unsigned code,
    const char *reason);

/*
 * Reads a received close payload.  Empty: *code = 1005.  Returns 0, or the
 * close code to answer with: 1002 for a 1-byte payload or a code that may
 * not be sent (< 1000, 1004-1006, 1015, 1016-2999, >= 5000), 1007 for a
 * reason that is not UTF-8.
 */
unsigned gobi_ws_close_parse(const unsigned char *p, size_t len,
    unsigned *code, const unsigned char **reason, size_t *reason_len);


/*
 * Messages out of frames: continuation frames are joined, control frames
 * may come between them and are returned on their own, text is checked as
 * UTF-8 as it arrives, a close payload is checked with gobi_ws_close_parse.
 * Errors: a continuation with no message open or a new data frame while
 * one is (1002), a message above max_message (1009, as soon as the
 * frame header says so), invalid UTF-8 (1007), out of memory (1011).
 */
typedef struct {
    gobi_ws_parser_t    parser;
    size_t              max_message;       /* 0: no limit */

    /*
     * after GOBI_WS_MESSAGE: the message, valid until the next call.  data
     * points into the input when one frame held it all and arrived whole,
     * else into a buffer of the assembler's (freed or reused on the next
     * call, kept only when small so that idle connections stay cheap).
     */
    unsigned            opcode;            /* TEXT BINARY CLOSE PING PONG */
    unsigned char      *data;
    size_t              len;

    /* after GOBI_WS_ERROR, which sticks */
    unsigned            close_code;
    const char         *error;

    /* private */
    unsigned            open;              /* opcode of a fragmented msg */
    unsigned            utf8;
    unsigned            delivered;
    unsigned char      *direct;
    unsigned char      *buf;
    size_t              buf_len;
    size_t              buf_cap;
    size_t              ctl_len;
    unsigned char       ctl[GOBI_WS_MAX_CONTROL];
} gobi_ws_assembler_t;


void gobi_ws_assembler_init(gobi_ws_assembler_t *a, int server,
    size_t max_message);

/* GOBI_WS_AGAIN, GOBI_WS_MESSAGE or GOBI_WS_ERROR; *pos as in parse */
int gobi_ws_assemble(gobi_ws_assembler_t *a, unsigned char **pos,
    unsigned char *last);

/* frees the message buffer; the assembler may be used again after init */
void gobi_ws_assembler_free(gobi_ws_assembler_t *a);


#endif /* _GOBI_WS_FRAME_H_INCLUDED_ */
