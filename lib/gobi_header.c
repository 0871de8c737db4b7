/*
 * Copyright (C) the gobi authors
 */

#include "gobi_header.h"
#include "gobi_hash.h"
#include "gobi_utf8.h"
#include "gobi_write.h"


int
gobi_header_if_match(const char *v, size_t len, int64_t *base)
{
    int64_t      n;
    const char  *p, *end;

    if (len == 1 && v[0] == '*') {
        *base = GOBI_BASE_ANY;
        return 0;
    }

    p = v;
    end = v + len;

    if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
        p += 2;
    }

    if (end - p >= 2 && *p == '"' && end[-1] == '"') {
        p++;
        end--;
    }

    /* 18 digits always fit in an int64_t */
    if (p == end || end - p > 18) {
        return -1;
    }

    n = 0;

    for ( /* void */ ; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        n = n * 10 + (*p - '0');
    }

    if (n <= 0) {
        return -1;
    }

    *base = n;

    return 0;
}


int
gobi_header_if_none_match(const char *v, size_t len)
{
    return (len == 1 && v[0] == '*') ? 0 : -1;
}


int
gobi_header_mtime(const char *v, size_t len, int64_t *mtime)
{
    size_t   i;
    int64_t  n;

    if (len == 0 || len > GOBI_HEADER_MTIME_MAX) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }

        n = n * 10 + (v[i] - '0');
    }

    *mtime = n;

    return 0;
}


int
gobi_header_hash(const char *v, size_t len, char hex[GOBI_HASH_HEX_LEN + 1])
{
    size_t  i;
    char    c;

    if (len != GOBI_HASH_HEX_LEN) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        c = v[i];
        hex[i] = (c >= 'A' && c <= 'Z') ? (char) (c | 0x20) : c;
    }

    hex[len] = '\0';

    return gobi_hash_valid_hex(hex, len) ? 0 : -1;
}


const char *
gobi_header_device(const char *v, size_t len)
{
    size_t                i;
    const unsigned char  *p;

    if (len == 0 || len > GOBI_HEADER_DEVICE_MAX) {
        return "X-Gobi-Device must be 1-64 bytes";
    }

    p = (const unsigned char *) v;

    if (!gobi_utf8_valid(p, len)) {
        return "X-Gobi-Device must be UTF-8";
    }

    /* C0, DEL and C1 controls: a device name is shown to people */

    for (i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f
            || (p[i] == 0xc2 && i + 1 < len && p[i + 1] < 0xa0))
        {
            return "X-Gobi-Device must be printable";
        }
    }

    return NULL;
}
