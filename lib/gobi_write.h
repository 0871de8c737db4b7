/*
 * Copyright (C) the gobi authors
 *
 * The write rules, in one place: what a write does to a path given the
 * path's current state (precondition, unchanged content, create vs modify,
 * rename target), and the state of a path after an event.  Pure functions:
 * the store drivers only read the states, insert the event and retry; the
 * client applies remote events with the same rule.
 */

#ifndef _GOBI_WRITE_H_INCLUDED_
#define _GOBI_WRITE_H_INCLUDED_


#include <stdint.h>

#include "gobi_event.h"


/*
 * base_version:
 *   GOBI_BASE_ANY (-1)  no precondition
 *   0                   the path must not exist (If-None-Match: *)
 *   > 0                 the current version of `path` (rename: of `from`)
 *                       must equal it; a tombstone's version counts (the
 *                       client saw the delete)
 */

#define GOBI_BASE_ANY  (-1)

typedef struct {
    gobi_event_type_e   type;
    const char         *path;
    const char         *from;              /* RENAME only */
    int64_t             base_version;
    const char         *hash;              /* 64 hex chars, CREATE/MODIFY */
    int64_t             size;
    int64_t             mtime;             /* client's unix ms, 0: now */
    const char         *device;            /* may be NULL */
    int64_t             now;               /* unix ms, the event's ts */
} gobi_write_t;


typedef enum {
    GOBI_WRITE_OK = 0,
    GOBI_WRITE_CONFLICT,                   /* base_version does not match */
    GOBI_WRITE_UNCHANGED,                  /* the live content already */
    GOBI_WRITE_NOT_FOUND,                  /* delete/rename of no live file */
    GOBI_WRITE_EXISTS                      /* rename onto a live file */
} gobi_write_rc_e;


/* NULL if w is well formed, else what is wrong with it */
const char *gobi_write_invalid(const gobi_write_t *w);

/*
 * Checks w against the current states of its paths: `target` is the
 * record of w->path, `source` that of w->from (RENAME only, else NULL);
 * a path without a record is a tombstone of version 0.
 *
 * OK: `ev` is the event to append, all but seq and version (the
 * driver's): CREATE for a path that is not live, MODIFY for one that is,
 * DELETE without content, RENAME carrying the source's content.
 * Otherwise `current` is the state the write was refused against: the
 * source for a rename whose source is gone or stale, else the target.
 */
gobi_write_rc_e gobi_write_check(const gobi_write_t *w,
    const gobi_file_t *target, const gobi_file_t *source, gobi_event_t *ev,
    gobi_file_t *current);

/* does ev change path (as its path or, for a rename, its from)? */
int gobi_event_touches(const gobi_event_t *ev, const char *path);

/*
 * The state of `path` right after ev, which touches it.  A tombstone tells
 * nothing about content: no hash, size 0; its mtime is the delete's, or
 * the time of the rename that moved the file away.  A rename's target
 * gets the file (same hash, size and mtime).
 */
void gobi_event_apply(const gobi_event_t *ev, const char *path,
    gobi_file_t *f);


#endif /* _GOBI_WRITE_H_INCLUDED_ */
