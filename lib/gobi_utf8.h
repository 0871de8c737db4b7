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

/*
 * in with every byte that does not start a valid character replaced by
 * U+FFFD; out holds 3 * len bytes.  Returns the length written.
 */
size_t gobi_utf8_repair(const unsigned char *in, size_t len,
    unsigned char *out);


#endif /* _GOBI_UTF8_H_INCLUDED_ */
