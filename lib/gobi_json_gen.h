/*
 * Copyright (C) the gobi authors
 *
 * The one JSON string writer of the server (REST answers and WebSocket
 * messages): whatever a store or a driver hands back, the text sent is
 * UTF-8, so no stored value can break every client's parser.
 */

#ifndef _GOBI_JSON_GEN_H_INCLUDED_
#define _GOBI_JSON_GEN_H_INCLUDED_


#include <stddef.h>

#include <yajl/yajl_gen.h>


/* s as a JSON string, invalid bytes as U+FFFD; non-zero if yajl refused */
int gobi_json_gen_str(yajl_gen g, const char *s, size_t len);


#endif /* _GOBI_JSON_GEN_H_INCLUDED_ */
