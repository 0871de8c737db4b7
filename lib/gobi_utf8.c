/*
 * Copyright (C) the gobi authors
 *
 * The state packs what the current character still needs:
 *   bits 0-2   continuation bytes still expected
 *   bits 8-15  lower bound of the next byte (first continuation only)
 *   bits 16-23 upper bound of the next byte (first continuation only)
 */

#include <string.h>

#include "gobi_utf8.h"


#define GOBI_UTF8_NEED(s)   ((s) & 7)
#define GOBI_UTF8_LO(s)     (((s) >> 8) & 0xff)
#define GOBI_UTF8_HI(s)     (((s) >> 16) & 0xff)
#define GOBI_UTF8_STATE(need, lo, hi) \
    ((unsigned) (need) | ((unsigned) (lo) << 8) | ((unsigned) (hi) << 16))


int
gobi_utf8_feed(unsigned *state, const unsigned char *p, size_t len)
{
    unsigned  s, need, lo, hi;
    unsigned  c;
    size_t    i;

    s = *state;

    for (i = 0; i < len; i++) {
        c = p[i];
        need = GOBI_UTF8_NEED(s);

        if (need == 0) {
            if (c < 0x80) {
                continue;
            }

            if (c >= 0xc2 && c <= 0xdf) {
                s = GOBI_UTF8_STATE(1, 0x80, 0xbf);

            } else if (c == 0xe0) {
                s = GOBI_UTF8_STATE(2, 0xa0, 0xbf);

            } else if (c == 0xed) {
                s = GOBI_UTF8_STATE(2, 0x80, 0x9f);      /* no surrogates */

            } else if (c >= 0xe1 && c <= 0xef) {
                s = GOBI_UTF8_STATE(2, 0x80, 0xbf);

            } else if (c == 0xf0) {
                s = GOBI_UTF8_STATE(3, 0x90, 0xbf);

            } else if (c >= 0xf1 && c <= 0xf3) {
                s = GOBI_UTF8_STATE(3, 0x80, 0xbf);

            } else if (c == 0xf4) {
                s = GOBI_UTF8_STATE(3, 0x80, 0x8f);

            } else {
                *state = s;
                return -1;
            }

            continue;
        }

        lo = GOBI_UTF8_LO(s);
        hi = GOBI_UTF8_HI(s);

        if (c < lo || c > hi) {
            *state = s;
            return -1;
        }

        s = GOBI_UTF8_STATE(need - 1, 0x80, 0xbf);

        if (need - 1 == 0) {
            s = 0;
        }
    }

    *state = s;
    return 0;
}


int
gobi_utf8_valid(const unsigned char *p, size_t len)
{
    unsigned  state = 0;

    return gobi_utf8_feed(&state, p, len) == 0 && state == 0;
}


/* the length of the valid character at p, 0 if there is none */

static size_t
gobi_utf8_char(const unsigned char *p, size_t len)
{
    size_t    n;
    unsigned  state;

    state = 0;

    for (n = 1; n <= len && n <= 4; n++) {
        if (gobi_utf8_feed(&state, p + n - 1, 1) != 0) {
            return 0;
        }

        if (state == 0) {
            return n;
        }
    }

    return 0;
}


size_t
gobi_utf8_repair(const unsigned char *in, size_t len, unsigned char *out)
{
    size_t          n;
    unsigned char  *o;

    o = out;

    while (len) {
        n = gobi_utf8_char(in, len);

        if (n == 0) {
            *o++ = 0xef;
            *o++ = 0xbf;
            *o++ = 0xbd;
            n = 1;

        } else {
            memcpy(o, in, n);
            o += n;
        }

        in += n;
        len -= n;
    }

    return o - out;
}
