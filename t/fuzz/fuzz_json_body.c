/*
 * Copyright (C) the gobi authors
 *
 * The REST JSON bodies (lib/gobi_json_body.c, what
 * ngx_http_gobi_read_json and ngx_http_gobi_json_str run).  The first
 * input byte may ask to pad the body with spaces to just under, at or
 * just over the 64 KiB bound, so that the bound itself is fuzzed.
 * Checks:
 *  - TOO_BIG exactly above GOBI_JSON_BODY_MAX;
 *  - a body with "\u0000" before its first NUL byte is refused;
 *  - BAD leaves a NUL-terminated message in the server's 128 bytes;
 *  - OK is an object; the members the server reads ("username",
 *    "password", "name") are strings whose length is their strlen, or
 *    missing; yajl can free what it built.
 */

#include "fuzz.h"

#include "gobi_json_body.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char  *keys[] = { "username", "password", "name", NULL };
    const char         *s, **k;
    char               *buf, err[128];
    size_t              len, pad, slen;
    yajl_val            json;
    int                 rc, nul;

    if (size == 0) {
        return 0;
    }

    pad = 0;

    /* 0xf0-0xf2: 65535, 65536, 65537 bytes in all */
    if (data[0] >= 0xf0 && data[0] <= 0xf2
        && size - 1 < GOBI_JSON_BODY_MAX - 1)
    {
        pad = GOBI_JSON_BODY_MAX - 1 + (data[0] - 0xf0) - (size - 1);
    }

    len = size - 1 + pad;
    buf = malloc(len + 1);
    fuzz_check(buf != NULL, "out of memory");
    memcpy(buf, data + 1, size - 1);
    memset(buf + size - 1, ' ', pad);
    buf[len] = '\0';

    nul = strstr(buf, "\\u0000") != NULL;

    memset(err, 'x', sizeof(err));
    rc = gobi_json_body_parse(buf, len, &json, err, sizeof(err));

    if (len > GOBI_JSON_BODY_MAX) {
        fuzz_check(rc == GOBI_JSON_BODY_TOO_BIG && json == NULL,
                   "%zu bytes not too big", len);
        free(buf);
        return 0;
    }

    fuzz_check(rc != GOBI_JSON_BODY_TOO_BIG, "%zu bytes too big", len);

    if (rc == GOBI_JSON_BODY_BAD) {
        fuzz_check(json == NULL, "a tree after an error");
        fuzz_check(memchr(err, '\0', sizeof(err)) != NULL,
                   "error message not terminated");
        free(buf);
        return 0;
    }

    fuzz_check(rc == GOBI_JSON_BODY_OK && json != NULL
               && YAJL_IS_OBJECT(json), "OK without an object");
    fuzz_check(!nul, "\\u0000 accepted");

    for (k = keys; *k; k++) {
        slen = (size_t) -1;
        s = gobi_json_body_str(json, *k, &slen);

        if (s != NULL) {
            fuzz_check(slen == strlen(s), "\"%s\" length", *k);
        }
    }

    fuzz_check(gobi_json_body_str(NULL, "name", &slen) == NULL,
               "a member of no body");

    yajl_tree_free(json);
    free(buf);

    return 0;
}
