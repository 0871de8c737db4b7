/*
 * Copyright (C) the gobi authors
 *
 * Three-way merge of text files for the "merge" conflict strategy, by
 * libgit2's git_merge_file (xdiff, as git merge-file does).  nginx-free and
 * synchronous: the glue calls it from thread-pool tasks, many at once.
 */

#ifndef _GOBI_MERGE_H_INCLUDED_
#define _GOBI_MERGE_H_INCLUDED_


#include <stddef.h>


#define GOBI_MERGE_MAX  (4 * 1024 * 1024)      /* each input at most 4 MiB */


typedef enum {
    GOBI_MERGE_CLEAN = 0,
    GOBI_MERGE_CONFLICT,
    GOBI_MERGE_NOT_TEXT,
    GOBI_MERGE_ERROR
} gobi_merge_rc_e;


/*
 * Three-way merge of base (the common ancestor), ours (the server's current
 * content) and theirs (the incoming upload); an empty base is a file both
 * sides created.
 *
 *   CLEAN     *out (malloc()ed, the caller frees it; may be empty) holds
 *             the merged bytes, *outlen their length.  Identical changes on
 *             both sides are clean.
 *   CONFLICT  overlapping edits; no result (no conflict markers either).
 *   NOT_TEXT  an input is over GOBI_MERGE_MAX, not strict UTF-8, or holds
 *             a NUL byte; errbuf says which.
 *   ERROR     out of memory or a libgit2 failure; errbuf says what.
 *
 * *out is NULL and *outlen 0 unless CLEAN.  Thread-safe.
 */
gobi_merge_rc_e gobi_merge_text(const char *base, size_t blen,
    const char *ours, size_t olen, const char *theirs, size_t tlen,
    char **out, size_t *outlen, char *errbuf, size_t errlen);

/*
 * The same on three files, each read whole; one over GOBI_MERGE_MAX by its
 * size is NOT_TEXT before anything is read.  A file that cannot be read is
 * ERROR.
 */
gobi_merge_rc_e gobi_merge_files(const char *base_path,
    const char *ours_path, const char *theirs_path,
    char **out, size_t *outlen, char *errbuf, size_t errlen);


#endif /* _GOBI_MERGE_H_INCLUDED_ */
