/*
 * Copyright (C) the gobi authors
 *
 * The path rules (lib/gobi_path.c).  The input is taken as a raw path, as
 * a percent-escaped one (unescaped into a buffer of exactly len + 1 bytes,
 * so ASan sees any byte written past it), as a vault name and as a user
 * name.  Checks, by an independent reading of the rules:
 *  - an accepted path is 1-4096 bytes of UTF-8, no NUL, no control
 *    character, no leading or trailing '/', and no empty, "." or ".."
 *    component nor one over 255 bytes; whatever breaks one of these is
 *    refused with a message;
 *  - unescape writes at most len + 1 bytes, NUL-terminated, fails only on
 *    a malformed escape, and decodes what an independent decoder does;
 *  - a vault name is an accepted path of 1-128 bytes without '/';
 *  - a user name is 1-64 of [A-Za-z0-9._@-].
 */

#include "fuzz.h"

#include "gobi_path.h"
#include "gobi_utf8.h"


/* the rules, written again as plainly as possible */
static int
model_path_ok(const unsigned char *p, size_t len)
{
    size_t  i, start, n;

    if (len == 0 || len > GOBI_PATH_MAX) {
        return 0;
    }

    if (!gobi_utf8_valid(p, len)) {
        return 0;
    }

    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && (p[i] < 0x20 || p[i] == 0x7f)) {
            return 0;
        }

        if (i < len && p[i] != '/') {
            continue;
        }

        n = i - start;

        if (n == 0 || n > GOBI_NAME_MAX
            || (n == 1 && p[start] == '.')
            || (n == 2 && p[start] == '.' && p[start + 1] == '.'))
        {
            return 0;
        }

        start = i + 1;
    }

    return 1;
}


static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


static void
check_path(const char *p, size_t len)
{
    const char  *err;
    int          ok;

    err = gobi_path_check(p, len);
    ok = model_path_ok((const unsigned char *) p, len);

    fuzz_check((err == NULL) == ok, "gobi_path_check says %s, the model %s",
               err ? err : "ok", ok ? "ok" : "no");
    fuzz_check(err == NULL || err[0] != '\0', "empty message");
}


static void
check_unescape(const char *src, size_t len)
{
    char     *dst, *want;
    ssize_t   n;
    size_t    i, k;
    int       hi, lo, bad;

    dst = malloc(len + 1);
    want = malloc(len + 1);
    fuzz_check(dst != NULL && want != NULL, "out of memory");

    k = 0;
    bad = 0;

    for (i = 0; i < len; i++) {
        if (src[i] != '%') {
            want[k++] = src[i];
            continue;
        }

        hi = i + 1 < len ? hexval((unsigned char) src[i + 1]) : -1;
        lo = i + 2 < len ? hexval((unsigned char) src[i + 2]) : -1;

        if (hi < 0 || lo < 0) {
            bad = 1;
            break;
        }

        want[k++] = (char) (hi << 4 | lo);
        i += 2;
    }

    n = gobi_path_unescape(dst, src, len);

    if (bad) {
        fuzz_check(n == -1, "malformed escape accepted");

    } else {
        fuzz_check(n >= 0 && (size_t) n == k && (size_t) n <= len
                   && dst[n] == '\0' && memcmp(dst, want, k) == 0,
                   "unescape gave %zd, want %zu", n, k);

        /* what the server does next */
        check_path(dst, (size_t) n);
    }

    free(dst);
    free(want);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char  *p, *err;
    char        *copy;
    size_t       i;
    int          ok;

    /* an exact-size copy: a read past len is an ASan report */
    copy = malloc(size ? size : 1);
    fuzz_check(copy != NULL, "out of memory");
    memcpy(copy, data, size);
    p = copy;

    check_path(p, size);
    check_unescape(p, size);

    err = gobi_vault_name_check(p, size);
    ok = size >= 1 && size <= 128 && memchr(p, '/', size) == NULL
         && model_path_ok((const unsigned char *) p, size);
    fuzz_check((err == NULL) == ok, "vault name: %s", err ? err : "ok");

    err = gobi_username_check(p, size);
    ok = size >= 1 && size <= 64;

    for (i = 0; ok && i < size; i++) {
        ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
             || (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '_'
             || p[i] == '@' || p[i] == '-';
    }

    fuzz_check((err == NULL) == ok, "user name: %s", err ? err : "ok");

    free(copy);

    return 0;
}
