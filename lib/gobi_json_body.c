/*
 * Copyright (C) the gobi authors
 */

#include <stdio.h>
#include <string.h>

#include "gobi_json_body.h"


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

    return v->u.string;
}
