/*
 * Copyright (C) the gobi authors
 *
 * The one place that says what a vault path is.  Server and client call
 * it on every path they accept.
 */

#ifndef _GOBI_PATH_H_INCLUDED_
#define _GOBI_PATH_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


#define GOBI_PATH_MAX       4096           /* bytes, whole path */
#define GOBI_NAME_MAX       255            /* bytes, one component */


/*
 * Returns NULL when `path` (len bytes, not necessarily NUL-terminated) is a
 * valid vault path, else a static message saying why not.  Valid: non-empty
 * UTF-8, components separated by single '/', no leading or trailing '/',
 * no empty, "." or ".." component, no control characters (< 0x20, 0x7f)
 * and no NUL, at most GOBI_PATH_MAX bytes and GOBI_NAME_MAX per component.
 */
const char *gobi_path_check(const char *path, size_t len);

/*
 * Percent-decodes src once into dst (room for len + 1 bytes, result is
 * NUL-terminated).  Returns the decoded length, or -1 on a malformed escape.
 * A decoded NUL is kept (and then refused by gobi_path_check).
 */
ssize_t gobi_path_unescape(char *dst, const char *src, size_t len);

/* same rules, for a vault name: 1-128 bytes, one valid path component */
const char *gobi_vault_name_check(const char *name, size_t len);

/* 1-64 chars of [A-Za-z0-9._@-] */
const char *gobi_username_check(const char *name, size_t len);


#endif /* _GOBI_PATH_H_INCLUDED_ */
