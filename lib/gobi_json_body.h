/*
 * Copyright (C) the gobi authors
 *
 * The REST JSON bodies, read without nginx so that they can be fuzzed:
 * the size bound, the "\u0000" refusal, yajl's tree and the object check,
 * then string members by name.
 */

#ifndef _GOBI_JSON_BODY_H_INCLUDED_
#define _GOBI_JSON_BODY_H_INCLUDED_


#include <stddef.h>

#include <yajl/yajl_tree.h>


#define GOBI_JSON_BODY_MAX       65536     /* bytes */
#define GOBI_JSON_BODY_DEPTH     64        /* nesting levels */
#define GOBI_JSON_BODY_KEYS      64        /* members of an object */

#define GOBI_JSON_BODY_OK        0
#define GOBI_JSON_BODY_BAD       -1        /* err says why */
#define GOBI_JSON_BODY_TOO_BIG   -2


/*
 * buf: len bytes and a NUL after them (yajl reads a C string, so a NUL
 * byte inside ends the text).  OK: *json is an object, to be freed with
 * yajl_tree_free.  BAD: err (errlen bytes) holds yajl's message or ours;
 * it may span lines (yajl draws where it stopped).
 */
int gobi_json_body_parse(const char *buf, size_t len, yajl_val *json,
    char *err, size_t errlen);

/*
 * The string member `key` of json (which may be NULL), and its length;
 * NULL when missing, not a string or not valid UTF-8.
 */
const char *gobi_json_body_str(yajl_val json, const char *key, size_t *len);


#endif /* _GOBI_JSON_BODY_H_INCLUDED_ */
