/*
 * Copyright (C) the gobi authors
 *
 * Walking the local tree: every regular file with a valid vault path that
 * no ignore rule excludes, sorted by path (byte order, as SQLite sorts).
 * Symbolic links (to files or folders: never followed, never synced),
 * special files and bad names are skipped and listed; .gobi/ is left out.
 */

#ifndef _GOBI_SCAN_H_INCLUDED_
#define _GOBI_SCAN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gobi_ignore.h"


typedef struct {
    char       *path;
    int64_t     size;
    int64_t     mtime_ns;
    int64_t     ino;
} gobi_scan_entry_t;


typedef struct {
    char               *path;
    const char         *why;               /* static text */
} gobi_scan_skip_t;


typedef struct {
    gobi_scan_entry_t  *files;
    size_t              n;
    size_t              cap;
    gobi_scan_skip_t   *skips;             /* links, specials, bad names */
    size_t              nskips;
    size_t              skips_cap;
} gobi_scan_t;


int gobi_scan_tree(int rootfd, gobi_ignore_t *ig, gobi_scan_t *out);
void gobi_scan_free(gobi_scan_t *s);

/*
 * 1 a regular file (e filled, e->path untouched), 0 none (or a link, or
 * beneath one), -1 error
 */
int gobi_scan_stat(int rootfd, const char *path, gobi_scan_entry_t *e);
void gobi_scan_from_stat(const struct stat *st, gobi_scan_entry_t *e);


#endif /* _GOBI_SCAN_H_INCLUDED_ */
