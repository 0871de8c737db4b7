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
 *   X-Gobi-Device  1-128 bytes
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
    char     *v, hex[GOBI_HASH_HEX_LEN + 1];
    size_t    len, i;
    int64_t   n, want;
    int       rc, ok;

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
        rc = gobi_header_device(v, len);
        ok = len >= 1 && len <= GOBI_HEADER_DEVICE_MAX;
        fuzz_check((rc == 0) == ok, "X-Gobi-Device rc %d", rc);
    }

    free(v);

    return 0;
}
