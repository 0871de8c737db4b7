/*
 * Copyright (C) the gobi authors
 */

#ifndef _GOBI_UTF8_H_INCLUDED_
#define _GOBI_UTF8_H_INCLUDED_


#include <stddef.h>


/* strict UTF-8 (RFC 3629): no overlongs, no surrogates, max U+10FFFF */
int gobi_utf8_valid(const unsigned char *p, size_t len);

/*
 * Incremental form for data that arrives in pieces (WebSocket fragments):
 * *state is 0 at the start and after a complete character; returns 0 while
 * the bytes so far can still be valid, -1 on an error.  The whole input was
 * valid when the last call returned 0 and *state is 0.
 */
int gobi_utf8_feed(unsigned *state, const unsigned char *p, size_t len);


#endif /* _GOBI_UTF8_H_INCLUDED_ */
