/*
 * Copyright (C) the gobi authors
 *
 * The header values of the file endpoints (lib/gobi_header.c), each value
 * in a buffer of exactly its length (no NUL after it, as nginx hands
 * them over).  Every parser is checked against the forms it documents,
 * written again independently:
 *   If-Match       "*", or N, "N", W/N, W/"N": 1-18 digits, N > 0
 *   If-None-Match  "*" only
 *   X-Gobi-Mtime   1-15 digits
 *   X-Gobi-Hash    64 hex digits of any case, lowercased
 *   X-Gobi-Device  1-128 bytes of UTF-8 (no overlong form, no surrogate,
 *                  nothing above U+10FFFF)
 */

#include "fuzz.h"

#include <ctype.h>

#include "gobi_header.h"
#include "gobi_write.h"


/* 1-max digits: their value, else -1 */
static int64_t
digits(const char *p, size_t len, size_t max)
{
    char    buf[32];
    size_t  i;

    if (len == 0 || len > max) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char) p[i])) {
            return -1;
        }
    }

    memcpy(buf, p, len);
    buf[len] = '\0';

    return strtoll(buf, NULL, 10);
}


/* UTF-8 by RFC 3629's table, without a shared decoder */
static int
model_utf8(const char *s, size_t len)
{
    const unsigned char  *p;
    size_t                i, n, k;
    unsigned char         lo, hi;

    p = (const unsigned char *) s;

    for (i = 0; i < len; i += n) {
        lo = 0x80;
        hi = 0xbf;

        if (p[i] < 0x80) {
            n = 1;
        } else if (p[i] >= 0xc2 && p[i] <= 0xdf) {
            n = 2;
        } else if (p[i] >= 0xe0 && p[i] <= 0xef) {
            n = 3;
            lo = p[i] == 0xe0 ? 0xa0 : 0x80;
            hi = p[i] == 0xed ? 0x9f : 0xbf;
        } else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
            n = 4;
            lo = p[i] == 0xf0 ? 0x90 : 0x80;
            hi = p[i] == 0xf4 ? 0x8f : 0xbf;
        } else {
            return 0;
        }

        if (len - i < n) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if (p[i + k] < (k == 1 ? lo : 0x80)
                || p[i + k] > (k == 1 ? hi : 0xbf))
            {
                return 0;
            }
        }
    }

    return 1;
}


static int64_t
model_if_match(const char *p, size_t len)
{
    int64_t  n;

    if (len == 1 && p[0] == '*') {
        return GOBI_BASE_ANY;
    }

    if (len >= 2 && p[0] == 'W' && p[1] == '/') {
        p += 2;
        len -= 2;
    }

    if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
        p++;
        len -= 2;
    }

    n = digits(p, len, 18);

    return n > 0 ? n : -2;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char        *v, hex[GOBI_HASH_HEX_LEN + 1];
    const char  *err;
    size_t       len, i;
    int64_t      n, want;
    int          rc, ok;

    if (size == 0) {
        return 0;
    }

    len = size - 1;
    v = malloc(len ? len : 1);
    fuzz_check(v != NULL, "out of memory");
    memcpy(v, data + 1, len);

    switch (data[0] % 5) {

    case 0:
        n = -42;
        rc = gobi_header_if_match(v, len, &n);
        want = model_if_match(v, len);
        fuzz_check(rc == (want == -2 ? -1 : 0), "If-Match rc %d", rc);
        fuzz_check(rc != 0 || n == want, "If-Match %lld, want %lld",
                   (long long) n, (long long) want);
        break;

    case 1:
        rc = gobi_header_if_none_match(v, len);
        fuzz_check((rc == 0) == (len == 1 && v[0] == '*'), "If-None-Match");
        break;

    case 2:
        n = -42;
        rc = gobi_header_mtime(v, len, &n);
        want = digits(v, len, GOBI_HEADER_MTIME_MAX);
        fuzz_check(rc == (want < 0 ? -1 : 0), "X-Gobi-Mtime rc %d", rc);
        fuzz_check(rc != 0 || n == want, "X-Gobi-Mtime %lld, want %lld",
                   (long long) n, (long long) want);
        break;

    case 3:
        memset(hex, 'x', sizeof(hex));
        rc = gobi_header_hash(v, len, hex);
        ok = len == GOBI_HASH_HEX_LEN;

        for (i = 0; ok && i < len; i++) {
            ok = isxdigit((unsigned char) v[i]) != 0;
        }

        fuzz_check((rc == 0) == ok, "X-Gobi-Hash rc %d", rc);

        if (rc == 0) {
            fuzz_check(hex[GOBI_HASH_HEX_LEN] == '\0', "hash not terminated");

            for (i = 0; i < len; i++) {
                fuzz_check(hex[i] == tolower((unsigned char) v[i]),
                           "hash not lowercased at %zu", i);
            }
        }
        break;

    default:
        /* it goes into JSON and before people: UTF-8 (checked byte by
         * byte by the model) without C0, DEL or C1 controls */
        err = gobi_header_device(v, len);
        ok = len >= 1 && len <= GOBI_HEADER_DEVICE_MAX && model_utf8(v, len);

        for (i = 0; ok && i < len; i++) {
            ok = (unsigned char) v[i] >= 0x20 && (unsigned char) v[i] != 0x7f
                 && !((unsigned char) v[i] == 0xc2 && i + 1 < len
                      && (unsigned char) v[i + 1] < 0xa0);
        }
        fuzz_check((err == NULL) == ok, "X-Gobi-Device: %s",
                   err ? err : "accepted");
    }

    free(v);

    return 0;
}
