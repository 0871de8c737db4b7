/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <unistd.h>

#include "gobi_hash.h"


void
gobi_hex(char *dst, const unsigned char *src, size_t len)
{
    static const char  digits[] = "0123456789abcdef";
    size_t             i;

    for (i = 0; i < len; i++) {
        *dst++ = digits[src[i] >> 4];
        *dst++ = digits[src[i] & 0xf];
    }

    *dst = '\0';
}


void
gobi_hash_init(gobi_hash_t *h)
{
    crypto_generichash_init(&h->st, NULL, 0, GOBI_HASH_LEN);
}


void
gobi_hash_update(gobi_hash_t *h, const void *p, size_t len)
{
    crypto_generichash_update(&h->st, p, len);
}


void
gobi_hash_final(gobi_hash_t *h, char hex[GOBI_HASH_HEX_LEN + 1])
{
    unsigned char  out[GOBI_HASH_LEN];

    crypto_generichash_final(&h->st, out, sizeof(out));
    gobi_hex(hex, out, sizeof(out));
}


void
gobi_hash_buf(const void *p, size_t len, char hex[GOBI_HASH_HEX_LEN + 1])
{
    gobi_hash_t  h;

    gobi_hash_init(&h);
    gobi_hash_update(&h, p, len);
    gobi_hash_final(&h, hex);
}


int
gobi_hash_fd(int fd, char hex[GOBI_HASH_HEX_LEN + 1], int64_t *size)
{
    unsigned char  buf[65536];
    gobi_hash_t    h;
    ssize_t        n;
    int64_t        total;

    gobi_hash_init(&h);
    total = 0;

    for ( ;; ) {
        n = pread(fd, buf, sizeof(buf), total);

        if (n == 0) {
            break;
        }

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        gobi_hash_update(&h, buf, n);
        total += n;
    }

    gobi_hash_final(&h, hex);

    if (size) {
        *size = total;
    }

    return 0;
}


int
gobi_hash_valid_hex(const char *p, size_t len)
{
    size_t  i;

    if (len != GOBI_HASH_HEX_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}
