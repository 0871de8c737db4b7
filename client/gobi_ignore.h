/*
 * Copyright (C) the gobi authors
 *
 * Ignore rules: built-in editor temp patterns, then .gobiignore at the
 * vault root, gitignore-like:
 *   # comment, blank lines, trailing spaces trimmed, \ escapes
 *   !pattern       re-includes what an earlier pattern excluded
 *   pattern/       matches folders only
 *   a/b, /a        a slash anywhere but at the end anchors to the root
 *   *, ?, [a-z], [!a-z]   within one path component
 *   **             any number of folders (a/ ** /b, ** /x, x/ **)
 * The last matching pattern decides.  Anything inside an ignored folder is
 * ignored.  .gobi/ at the root is always ignored.
 */

#ifndef _GOBI_IGNORE_H_INCLUDED_
#define _GOBI_IGNORE_H_INCLUDED_


#include <stddef.h>


typedef struct gobi_ignore_s  gobi_ignore_t;


/* built-in rules plus the given .gobiignore text (may be NULL) */
gobi_ignore_t *gobi_ignore_new(const char *text, size_t len);
/* built-in rules plus <root>/.gobiignore, if any */
gobi_ignore_t *gobi_ignore_load(int rootfd);
void gobi_ignore_free(gobi_ignore_t *ig);

/* this entry alone (its parents are assumed not ignored) */
int gobi_ignore_entry(gobi_ignore_t *ig, const char *path, int is_dir);
/* a file path, its parent folders included */
int gobi_ignore_path(gobi_ignore_t *ig, const char *path);

/* glob with the rules above; exported for the unit tests */
int gobi_ignore_glob(const char *pat, const char *s);


#endif /* _GOBI_IGNORE_H_INCLUDED_ */
