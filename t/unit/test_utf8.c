/*
 * Copyright (C) the gobi authors
 *
 * Strict UTF-8, whole and incremental.  The reference is built the other
 * way round: every Unicode scalar value is encoded, and a byte string is
 * valid iff it is a concatenation of those encodings.  The incremental
 * decoder must agree with it on every input, at every split, and must
 * report an error at the first byte that no valid text can continue.
 */

#include "unit.h"

#include "gobi_utf8.h"


/* viable prefixes of 1, 2 and 3 bytes of multi-byte encodings */
static unsigned char  pre1[256];
static unsigned char  pre2[65536];
static unsigned char  pre3[(1 << 24) / 8];

/* complete encodings of 1, 2 and 3 bytes; 4 bytes via full4() */
static unsigned char  full1[256];
static unsigned char  full2[65536];
static unsigned char  full3[(1 << 24) / 8];


static unsigned  rnd_state = 12345;


static unsigned
rnd(void)
{
    rnd_state = rnd_state * 1103515245 + 12345;
    return (rnd_state >> 16) & 0x7fff;
}


static size_t
encode(unsigned cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = cp;
        return 1;
    }

    if (cp < 0x800) {
        out[0] = 0xc0 | (cp >> 6);
        out[1] = 0x80 | (cp & 0x3f);
        return 2;
    }

    if (cp < 0x10000) {
        out[0] = 0xe0 | (cp >> 12);
        out[1] = 0x80 | ((cp >> 6) & 0x3f);
        out[2] = 0x80 | (cp & 0x3f);
        return 3;
    }

    out[0] = 0xf0 | (cp >> 18);
    out[1] = 0x80 | ((cp >> 12) & 0x3f);
    out[2] = 0x80 | ((cp >> 6) & 0x3f);
    out[3] = 0x80 | (cp & 0x3f);
    return 4;
}


#define BIT_SET(a, i)  ((a)[(i) >> 3] |= 1 << ((i) & 7))
#define BIT_GET(a, i)  (((a)[(i) >> 3] >> ((i) & 7)) & 1)

#define K2(b)          ((unsigned) (b)[0] << 8 | (b)[1])
#define K3(b)          ((unsigned) (b)[0] << 16 | (unsigned) (b)[1] << 8 \
                        | (b)[2])


static void
build_tables(void)
{
    unsigned char  b[4];
    unsigned       cp;
    size_t         n;

    for (cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) {
            continue;
        }

        n = encode(cp, b);

        switch (n) {
        case 1:
            full1[b[0]] = 1;
            break;
        case 2:
            pre1[b[0]] = 1;
            full2[K2(b)] = 1;
            break;
        case 3:
            pre1[b[0]] = 1;
            pre2[K2(b)] = 1;
            BIT_SET(full3, K3(b));
            break;
        default:
            pre1[b[0]] = 1;
            pre2[K2(b)] = 1;
            BIT_SET(pre3, K3(b));
        }
    }
}


/* a complete 4-byte encoding: decoded arithmetically, then range-checked */
static int
full4(const unsigned char *b)
{
    unsigned  cp;

    if ((b[0] & 0xf8) != 0xf0 || (b[1] & 0xc0) != 0x80
        || (b[2] & 0xc0) != 0x80 || (b[3] & 0xc0) != 0x80)
    {
        return 0;
    }

    cp = (b[0] & 7u) << 18 | (b[1] & 0x3fu) << 12 | (b[2] & 0x3fu) << 6
         | (b[3] & 0x3fu);

    return cp >= 0x10000 && cp <= 0x10ffff;
}


/*
 * The reference: returns the index of the first byte at which the input
 * can no longer be valid, len when all of it is valid, or len + 1 when it
 * is a viable but incomplete prefix.
 */
static size_t
ref_check(const unsigned char *p, size_t len)
{
    unsigned char  cur[4];
    size_t         i, n;
    int            complete, viable;

    n = 0;

    for (i = 0; i < len; i++) {
        cur[n++] = p[i];

        switch (n) {
        case 1:
            complete = full1[cur[0]];
            viable = pre1[cur[0]];
            break;
        case 2:
            complete = full2[K2(cur)];
            viable = pre2[K2(cur)];
            break;
        case 3:
            complete = BIT_GET(full3, K3(cur));
            viable = BIT_GET(pre3, K3(cur));
            break;
        default:
            complete = full4(cur);
            viable = 0;
        }

        if (complete) {
            n = 0;
            continue;
        }

        if (!viable) {
            return i;
        }
    }

    return n ? len + 1 : len;
}


/* feeds the chunks ending at cuts[]: len when valid, -1 on an error */
static size_t
feed_check(const unsigned char *p, size_t len, const size_t *cuts,
    size_t ncuts)
{
    unsigned  state;
    size_t    from, to, k;

    state = 0;
    from = 0;

    for (k = 0; k <= ncuts; k++) {
        to = k < ncuts ? cuts[k] : len;

        if (gobi_utf8_feed(&state, p + from, to - from) != 0) {
            return (size_t) -1;         /* somewhere in this chunk */
        }

        from = to;
    }

    return state ? len + 1 : len;
}


/* byte at a time: the exact index of the first error */
static size_t
feed_bytes(const unsigned char *p, size_t len)
{
    unsigned  state;
    size_t    i;

    state = 0;

    for (i = 0; i < len; i++) {
        if (gobi_utf8_feed(&state, p + i, 1) != 0) {
            return i;
        }
    }

    return state ? len + 1 : len;
}


static const unsigned char  specials[] = {
    0x00, 0x01, 0x41, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
    0xc1, 0xc2, 0xc3, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1,
    0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff
};

#define NSPECIALS  (sizeof(specials) / sizeof(specials[0]))


static void
test_known(void)
{
    static const struct {
        const char  *s;
        int          valid;
        const char  *name;
    } cases[] = {
        { "", 1, "empty" },
        { "hello", 1, "ASCII" },
        { "\x7f", 1, "DEL is valid UTF-8" },
        { "\xc2\x80", 1, "U+0080" },
        { "\xdf\xbf", 1, "U+07FF" },
        { "\xe0\xa0\x80", 1, "U+0800" },
        { "\xed\x9f\xbf", 1, "U+D7FF" },
        { "\xee\x80\x80", 1, "U+E000" },
        { "\xef\xbf\xbf", 1, "U+FFFF" },
        { "\xf0\x90\x80\x80", 1, "U+10000" },
        { "\xf4\x8f\xbf\xbf", 1, "U+10FFFF" },
        { "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1, "kosme" },
        { "\x80", 0, "lone continuation" },
        { "\xbf", 0, "lone continuation bf" },
        { "\xc0\x80", 0, "overlong NUL" },
        { "\xc1\xbf", 0, "overlong U+007F" },
        { "\xe0\x80\x80", 0, "overlong 3-byte NUL" },
        { "\xe0\x9f\xbf", 0, "overlong U+07FF" },
        { "\xf0\x80\x80\x80", 0, "overlong 4-byte NUL" },
        { "\xf0\x8f\xbf\xbf", 0, "overlong U+FFFF" },
        { "\xed\xa0\x80", 0, "U+D800" },
        { "\xed\xaf\xbf", 0, "U+DBFF" },
        { "\xed\xb0\x80", 0, "U+DC00" },
        { "\xed\xbf\xbf", 0, "U+DFFF" },
        { "\xed\xa0\xbd\xed\xb2\xa9", 0, "CESU-8 surrogate pair" },
        { "\xf4\x90\x80\x80", 0, "U+110000" },
        { "\xf5\x80\x80\x80", 0, "lead f5" },
        { "\xf8\x88\x80\x80\x80", 0, "5-byte form" },
        { "\xfc\x84\x80\x80\x80\x80", 0, "6-byte form" },
        { "\xfe", 0, "fe" },
        { "\xff", 0, "ff" },
        { "\xc2", 0, "truncated 2-byte" },
        { "\xe1\x80", 0, "truncated 3-byte" },
        { "\xf1\x80\x80", 0, "truncated 4-byte" },
        { "\xc2\x41", 0, "ASCII after a lead" },
        { "\xe1\x80\xc0", 0, "lead in place of a continuation" },
        { "a\xc2\x80" "b\xe2\x82\xac" "c", 1, "mixed" },
    };
    size_t  i, len;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = strlen(cases[i].s);
        is_int(gobi_utf8_valid((const unsigned char *) cases[i].s, len),
               cases[i].valid, "valid(): %s", cases[i].name);
        is_int(ref_check((const unsigned char *) cases[i].s, len) == len,
               cases[i].valid, "reference agrees: %s", cases[i].name);
    }
}


static void
test_fail_fast(void)
{
    unsigned  state;

    /* errors show at the byte that makes them, not at the end */
    state = 0;
    is_int(gobi_utf8_feed(&state, (const unsigned char *) "\xed", 1), 0,
           "ed alone may continue");
    is_int(gobi_utf8_feed(&state, (const unsigned char *) "\xa0", 1), -1,
           "ed a0 fails at once (surrogate)");

    state = 0;
    is_int(gobi_utf8_feed(&state, (const unsigned char *) "\xf4\x90", 2), -1,
           "f4 90 fails at once (> U+10FFFF)");

    state = 0;
    is_int(gobi_utf8_feed(&state, (const unsigned char *) "\xe0\x9f", 2), -1,
           "e0 9f fails at once (overlong)");

    state = 0;
    is_int(gobi_utf8_feed(&state, (const unsigned char *) "\xf0\x9f\x98", 3),
           0, "incomplete emoji is fine so far");
    ok(state != 0, "state says a character is open");
    is_int(gobi_utf8_feed(&state, (const unsigned char *) "", 0), 0,
           "empty feed");
    ok(state != 0, "empty feed keeps the state");
    is_int(gobi_utf8_feed(&state, (const unsigned char *) "\x80", 1), 0,
           "last byte of the emoji");
    is_int(state, 0, "state back to 0");
}


/* the whole space of 1- and 2-byte inputs, and 3/4 bytes of specials */
static void
test_exhaustive(void)
{
    unsigned char  b[4];
    unsigned       x, i, j, k, l;
    size_t         bad;

    bad = 0;

    for (x = 0; x < 65536; x++) {
        b[0] = x >> 8;
        b[1] = x & 0xff;

        if (feed_bytes(b, 1) != ref_check(b, 1)
            || feed_bytes(b, 2) != ref_check(b, 2)
            || gobi_utf8_valid(b, 2) != (ref_check(b, 2) == 2))
        {
            bad++;
        }
    }

    is_int(bad, 0, "all 1- and 2-byte inputs agree with the reference");

    bad = 0;

    for (i = 0; i < NSPECIALS; i++) {
        for (j = 0; j < NSPECIALS; j++) {
            for (k = 0; k < NSPECIALS; k++) {
                b[0] = specials[i];
                b[1] = specials[j];
                b[2] = specials[k];

                if (feed_bytes(b, 3) != ref_check(b, 3)) {
                    bad++;
                }

                for (l = 0; l < NSPECIALS; l++) {
                    b[3] = specials[l];

                    if (feed_bytes(b, 4) != ref_check(b, 4)
                        || gobi_utf8_valid(b, 4) != (ref_check(b, 4) == 4))
                    {
                        bad++;
                    }
                }
            }
        }
    }

    is_int(bad, 0, "3- and 4-byte inputs of boundary bytes agree");

    /* every scalar value, and every surrogate */
    bad = 0;

    for (x = 0; x <= 0x10ffff; x++) {
        l = encode(x, b);

        if (gobi_utf8_valid(b, l) != !(x >= 0xd800 && x <= 0xdfff)) {
            bad++;
        }
    }

    is_int(bad, 0, "each code point: valid iff not a surrogate");
}


/* a random string: valid characters, boundary bytes and truncations */
static size_t
random_text(unsigned char *p, size_t max)
{
    unsigned char  b[4];
    unsigned       cp, r;
    size_t         n, len;

    len = 0;

    while (len + 4 <= max && rnd() % 16 != 0) {
        r = rnd() % 10;

        if (r < 6) {
            do {
                switch (rnd() % 4) {
                case 0:  cp = rnd() % 0x80; break;
                case 1:  cp = 0x80 + rnd() % 0x780; break;
                case 2:  cp = 0x800 + (rnd() << 1 | rnd()) % 0xf800; break;
                default: cp = 0x10000 + (rnd() << 15 | rnd()) % 0x100000;
                }
            } while (cp >= 0xd800 && cp <= 0xdfff);

            n = encode(cp, b);
            memcpy(p + len, b, n);
            len += n;

        } else if (r < 8) {
            p[len++] = specials[rnd() % NSPECIALS];

        } else {
            /* a character cut short, or a surrogate */
            cp = (r == 8) ? 0xd800 + rnd() % 0x800
                          : 0x80 + (rnd() << 15 | rnd()) % 0x10ff80;
            n = encode(cp, b);
            n = r == 8 ? n : 1 + rnd() % n;
            memcpy(p + len, b, n);
            len += n;
        }
    }

    return len;
}


static void
test_random_splits(void)
{
    unsigned char  buf[256];
    size_t         cuts[8];
    size_t         len, want, i, k, n, t, bad_whole, bad_bytes, bad_split;
    size_t         nvalid;

    bad_whole = bad_bytes = bad_split = nvalid = 0;

    for (t = 0; t < 20000; t++) {
        len = random_text(buf, sizeof(buf));
        want = ref_check(buf, len);

        if (want == len) {
            nvalid++;
        }

        if (gobi_utf8_valid(buf, len) != (want == len)) {
            bad_whole++;
        }

        if (feed_bytes(buf, len) != want) {
            bad_bytes++;
        }

        /* every single split point */
        for (i = 0; i <= len; i++) {
            if ((feed_check(buf, len, &i, 1) == len) != (want == len)) {
                bad_split++;
            }
        }

        /* several random split points, ascending */
        n = rnd() % 8;
        for (k = 0; k < n; k++) {
            cuts[k] = len ? rnd() % (len + 1) : 0;
        }

        for (i = 1; i < n; i++) {
            for (k = i; k > 0 && cuts[k - 1] > cuts[k]; k--) {
                size_t  tmp = cuts[k];
                cuts[k] = cuts[k - 1];
                cuts[k - 1] = tmp;
            }
        }

        if ((feed_check(buf, len, cuts, n) == len) != (want == len)) {
            bad_split++;
        }
    }

    is_int(bad_whole, 0, "random texts: valid() == reference");
    is_int(bad_bytes, 0, "random texts byte at a time: same first error");
    is_int(bad_split, 0, "random texts at every split: same answer");
    ok(nvalid > 2000 && nvalid < 18000, "both valid and invalid texts (%zu)",
       nvalid);
}


int
main(void)
{
    build_tables();

    test_known();
    test_fail_fast();
    test_exhaustive();
    test_random_splits();

    done_testing();
}
