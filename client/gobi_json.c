/*
 * Copyright (C) the gobi authors
 */

#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "gobi.h"
#include "gobi_json.h"


yajl_val
gobi_json_parse(const char *buf, size_t len, char *errbuf, size_t errlen)
{
    int        depth, in_string;
    char      *s;
    size_t     i;
    yajl_val   v;

    /*
     * yajl_tree_free() recurses: a server answer nested millions deep would
     * overflow the stack.  Answers nest a few levels; refuse more than
     * GOBI_JSON_MAX_DEPTH before yajl sees them.
     */

    depth = 0;
    in_string = 0;

    for (i = 0; i < len; i++) {
        if (in_string) {
            if (buf[i] == '\\') {
                i++;
            } else if (buf[i] == '"') {
                in_string = 0;
            }
            continue;
        }

        if (buf[i] == '"') {
            in_string = 1;

        } else if (buf[i] == '[' || buf[i] == '{') {
            if (++depth > GOBI_JSON_MAX_DEPTH) {
                if (errlen) {
                    snprintf(errbuf, errlen, "JSON nested more than %d deep",
                             GOBI_JSON_MAX_DEPTH);
                }

                return NULL;
            }

        } else if (buf[i] == ']' || buf[i] == '}') {
            depth--;

        } else if (buf[i] == '/') {
            /* yajl allows comments, which would hide brackets from this */
            if (errlen) {
                snprintf(errbuf, errlen, "not JSON: a comment");
            }

            return NULL;
        }
    }

    s = gobi_strndup(buf, len);
    v = yajl_tree_parse(s, errbuf, errlen);
    free(s);

    return v;
}


yajl_val
gobi_json_get(yajl_val obj, const char *key)
{
    size_t  i;

    if (obj == NULL || !YAJL_IS_OBJECT(obj)) {
        return NULL;
    }

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


const char *
gobi_json_str(yajl_val obj, const char *key)
{
    yajl_val  v;

    v = gobi_json_get(obj, key);

    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}


int
gobi_json_int(yajl_val obj, const char *key, int64_t *out)
{
    yajl_val  v;

    v = gobi_json_get(obj, key);

    if (v == NULL || !YAJL_IS_INTEGER(v)) {
        return -1;
    }

    *out = YAJL_GET_INTEGER(v);

    return 0;
}


int
gobi_json_bool(yajl_val obj, const char *key)
{
    return YAJL_IS_TRUE(gobi_json_get(obj, key));
}


size_t
gobi_json_array(yajl_val obj, const char *key, yajl_val **items)
{
    yajl_val  v;

    v = gobi_json_get(obj, key);

    if (v == NULL || !YAJL_IS_ARRAY(v)) {
        *items = NULL;
        return 0;
    }

    *items = v->u.array.values;

    return v->u.array.len;
}
