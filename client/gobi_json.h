/*
 * Copyright (C) the gobi authors
 *
 * Reading the server's JSON answers (yajl's tree parser).
 */

#ifndef _GOBI_JSON_H_INCLUDED_
#define _GOBI_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>


#define GOBI_JSON_MAX_DEPTH  64          /* nesting of a server answer */


/* NULL on a parse error, or nesting deeper than GOBI_JSON_MAX_DEPTH
 * (errbuf filled) */
yajl_val gobi_json_parse(const char *buf, size_t len, char *errbuf,
    size_t errlen);

yajl_val gobi_json_get(yajl_val obj, const char *key);
/* NULL when missing or not a string */
const char *gobi_json_str(yajl_val obj, const char *key);
/* 0 when present and an integer, else -1 (*out untouched) */
int gobi_json_int(yajl_val obj, const char *key, int64_t *out);
/* 1 for true, 0 for false/missing */
int gobi_json_bool(yajl_val obj, const char *key);
/* the array's length and items, or 0 */
size_t gobi_json_array(yajl_val obj, const char *key, yajl_val **items);


#endif /* _GOBI_JSON_H_INCLUDED_ */
