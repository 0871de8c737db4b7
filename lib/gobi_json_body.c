/*
 * Copyright (C) the gobi authors
 */

#include <stdio.h>
#include <string.h>

#include "gobi_json_body.h"
#include "gobi_utf8.h"


/*
 * Before yajl builds a tree: at most GOBI_JSON_BODY_DEPTH levels (its
 * tree is freed recursively) and GOBI_JSON_BODY_KEYS members per object.
 * A scan of the bytes outside strings; yajl still judges the syntax.
 */

static const char *
gobi_json_body_shape(const char *p, size_t len)
{
    int          in_str, esc;
    size_t       depth;
    const char  *last;
    unsigned     keys[GOBI_JSON_BODY_DEPTH + 1];

    in_str = 0;
    esc = 0;
    depth = 0;
    keys[0] = 0;

    for (last = p + len; p < last; p++) {

        if (in_str) {
            if (esc) {
                esc = 0;

            } else if (*p == '\\') {
                esc = 1;

            } else if (*p == '"') {
                in_str = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            in_str = 1;
            break;

        case '{':
        case '[':
            if (++depth > GOBI_JSON_BODY_DEPTH) {
                return "JSON nested too deep";
            }

            keys[depth] = 0;
            break;

        case '}':
        case ']':
            if (depth) {
                depth--;
            }

            break;

        case ':':
            if (++keys[depth] > GOBI_JSON_BODY_KEYS) {
                return "too many members in a JSON object";
            }

            break;
        }
    }

    return NULL;
}


static int
gobi_json_body_fail(char *err, size_t errlen, const char *msg)
{
    if (errlen) {
        snprintf(err, errlen, "%s", msg);
    }

    return GOBI_JSON_BODY_BAD;
}


int
gobi_json_body_parse(const char *buf, size_t len, yajl_val *json, char *err,
    size_t errlen)
{
    const char  *msg;

    *json = NULL;

    if (len > GOBI_JSON_BODY_MAX) {
        return GOBI_JSON_BODY_TOO_BIG;
    }

    if (len == 0) {
        return gobi_json_body_fail(err, errlen, "a JSON body is required");
    }

    /* yajl hands strings over NUL-terminated: refuse an embedded NUL */
    if (strstr(buf, "\\u0000") != NULL) {
        return gobi_json_body_fail(err, errlen,
                                   "NUL is not allowed in strings");
    }

    msg = gobi_json_body_shape(buf, len);
    if (msg) {
        return gobi_json_body_fail(err, errlen, msg);
    }

    *json = yajl_tree_parse(buf, err, errlen);
    if (*json == NULL) {
        return GOBI_JSON_BODY_BAD;
    }

    if (!YAJL_IS_OBJECT(*json)) {
        yajl_tree_free(*json);
        *json = NULL;
        return gobi_json_body_fail(err, errlen, "expected a JSON object");
    }

    return GOBI_JSON_BODY_OK;
}


const char *
gobi_json_body_str(yajl_val json, const char *key, size_t *len)
{
    yajl_val     v;
    const char  *path[2];

    path[0] = key;
    path[1] = NULL;

    v = json ? yajl_tree_get(json, path, yajl_t_any) : NULL;

    if (v == NULL || !YAJL_IS_STRING(v)) {
        return NULL;
    }

    /* yajl strings are NUL-terminated and may hold NUL: keep the length */
    *len = strlen(v->u.string);

    /* yajl turns a lone surrogate escape into bytes that are not UTF-8 */
    if (!gobi_utf8_valid((const unsigned char *) v->u.string, *len)) {
        return NULL;
    }

    return v->u.string;
}
