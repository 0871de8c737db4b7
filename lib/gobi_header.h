/*
 * Copyright (C) the gobi authors
 *
 * The values of the request headers the file endpoints read, parsed
 * without nginx so that they can be unit-tested and fuzzed: each takes
 * the value as it arrived (len bytes, not NUL-terminated) and returns 0
 * with the parsed value, or -1 when it is malformed (the device check
 * says why instead).
 */

#ifndef _GOBI_HEADER_H_INCLUDED_
#define _GOBI_HEADER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "gobi_event.h"


#define GOBI_HEADER_DEVICE_MAX   64        /* bytes of X-Gobi-Device */
#define GOBI_HEADER_MTIME_MAX    15        /* digits of X-Gobi-Mtime */


/*
 * If-Match: "*" is no precondition (*base = GOBI_BASE_ANY); "N", N or
 * W/"N" with 1-18 digits and N > 0 is a version (*base = N).
 */
int gobi_header_if_match(const char *v, size_t len, int64_t *base);

/* If-None-Match: only "*" (the path must not exist) */
int gobi_header_if_none_match(const char *v, size_t len);

/* X-Gobi-Mtime: 1-15 decimal digits, unix milliseconds */
int gobi_header_mtime(const char *v, size_t len, int64_t *mtime);

/*
 * X-Gobi-Hash: 64 hex digits in any case, lowercased into hex (written
 * even when the value is refused)
 */
int gobi_header_hash(const char *v, size_t len,
    char hex[GOBI_HASH_HEX_LEN + 1]);

/*
 * X-Gobi-Device (and a WebSocket hello's "device"): 1-64 bytes of
 * printable UTF-8 (the device goes into every event's JSON, which clients
 * refuse when it is not UTF-8, and is shown to people).  Returns NULL, or a
 * static message saying what is wrong.
 */
const char *gobi_header_device(const char *v, size_t len);


#endif /* _GOBI_HEADER_H_INCLUDED_ */
