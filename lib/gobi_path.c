/*
 * Copyright (C) the gobi authors
 */

#include <string.h>

#include "gobi_path.h"
#include "gobi_utf8.h"


static int
gobi_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


ssize_t
gobi_path_unescape(char *dst, const char *src, size_t len)
{
    size_t  i, n;
    int     hi, lo;

    n = 0;

    for (i = 0; i < len; i++) {
        if (src[i] != '%') {
            dst[n++] = src[i];
            continue;
        }

        if (i + 2 >= len) {
            return -1;
        }

        hi = gobi_hexval((unsigned char) src[i + 1]);
        lo = gobi_hexval((unsigned char) src[i + 2]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        dst[n++] = (char) (hi << 4 | lo);
        i += 2;
    }

    dst[n] = '\0';

    return (ssize_t) n;
}


static const char *
gobi_component_check(const char *p, size_t len)
{
    size_t  i;

    if (len == 0) {
        return "empty path component";
    }

    if (len > GOBI_NAME_MAX) {
        return "path component too long";
    }

    if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
    {
        return "\".\" and \"..\" are not allowed in paths";
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f) {
            return "control characters are not allowed in paths";
        }
    }

    return NULL;
}


const char *
gobi_path_check(const char *path, size_t len)
{
    const char  *p, *end, *slash, *err;

    if (len == 0) {
        return "empty path";
    }

    if (len > GOBI_PATH_MAX) {
        return "path too long";
    }

    if (memchr(path, '\0', len) != NULL) {
        return "NUL is not allowed in paths";
    }

    if (path[0] == '/') {
        return "absolute paths are not allowed";
    }

    if (!gobi_utf8_valid((const unsigned char *) path, len)) {
        return "path is not valid UTF-8";
    }

    p = path;
    end = path + len;

    for ( ;; ) {
        slash = memchr(p, '/', end - p);

        err = gobi_component_check(p, (slash ? slash : end) - p);
        if (err) {
            return err;
        }

        if (slash == NULL) {
            return NULL;
        }

        p = slash + 1;
    }
}


const char *
gobi_vault_name_check(const char *name, size_t len)
{
    if (len == 0 || len > 128) {
        return "vault name must be 1-128 bytes";
    }

    if (memchr(name, '/', len) != NULL) {
        return "vault name must not contain \"/\"";
    }

    return gobi_path_check(name, len);
}


const char *
gobi_username_check(const char *name, size_t len)
{
    size_t  i;
    int     c;

    if (len == 0 || len > 64) {
        return "username must be 1-64 characters";
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) name[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '.' || c == '_' || c == '@' || c == '-')
        {
            continue;
        }

        return "username may only contain A-Z a-z 0-9 . _ @ -";
    }

    return NULL;
}
