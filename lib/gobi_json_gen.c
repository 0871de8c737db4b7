/*
 * Copyright (C) the gobi authors
 */

#include <stdlib.h>

#include "gobi_json_gen.h"
#include "gobi_utf8.h"


int
gobi_json_gen_str(yajl_gen g, const char *s, size_t len)
{
    int             rc;
    size_t          n;
    unsigned char  *fixed;

    if (gobi_utf8_valid((const unsigned char *) s, len)) {
        return yajl_gen_string(g, (const unsigned char *) s, len)
               != yajl_gen_status_ok;
    }

    fixed = malloc(3 * len);
    if (fixed == NULL) {
        return -1;
    }

    n = gobi_utf8_repair((const unsigned char *) s, len, fixed);
    rc = yajl_gen_string(g, fixed, n) != yajl_gen_status_ok;

    free(fixed);

    return rc;
}
