/*
 * Copyright (C) the gobi authors
 *
 * Conflict strategies, in one place: what the server does with a write
 * whose precondition is stale (a PUT's If-Match, a delete's or rename's
 * base version), given the vault's strategy and the path's current state.
 * Pure functions: the nginx glue asks, then does what the answer says
 * through the store driver, whichever it is.
 */

#ifndef _GOBI_STRATEGY_H_INCLUDED_
#define _GOBI_STRATEGY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "gobi_event.h"
#include "gobi_write.h"


typedef enum {
    GOBI_STRATEGY_KEEP_BOTH = 0,           /* the default */
    GOBI_STRATEGY_LWW,
    GOBI_STRATEGY_SERVER_WINS,
    GOBI_STRATEGY_MERGE
} gobi_strategy_e;

#define GOBI_STRATEGY_DEFAULT  GOBI_STRATEGY_KEEP_BOTH


typedef enum {
    GOBI_RESOLVE_REJECT = 0,   /* 412 version_conflict / ws reject */
    GOBI_RESOLVE_COPY,         /* the incoming bytes to a conflict copy */
    GOBI_RESOLVE_APPLY,        /* the write over the current version */
    GOBI_RESOLVE_LOSE,         /* lww, the incoming is older: it goes to
                                  history, the current is written again */
    GOBI_RESOLVE_MERGE         /* three-way merge; COPY when it fails */
} gobi_resolve_e;


/* "keep-both", "last-writer-wins", "server-wins", "merge" */
const char *gobi_strategy_name(gobi_strategy_e s);
/* 0 and *s, or -1 for an unknown name */
int gobi_strategy_parse(const char *name, size_t len, gobi_strategy_e *s);

/*
 * w was refused with GOBI_WRITE_CONFLICT (or, for a create on a live
 * path, GOBI_WRITE_CONFLICT as well: base 0 against a live file) against
 * `current`, the state of w->path (rename: of w->from).
 *
 *   server-wins   REJECT, always; so is a base version above the current
 *                 one (the server never gave it out), whatever the strategy.
 *   keep-both     an upload: COPY, or APPLY over a delete (the edit is the
 *                 newer intent and nothing is lost: the delete left the old
 *                 content in history); a delete of a changed file: REJECT
 *                 (the change stays); a rename: APPLY (the changed content
 *                 moves, both intents kept).
 *   merge         as keep-both, with MERGE instead of COPY when a base
 *                 version exists (w->base_version > 0).
 *   lww           the later mtime wins (w->mtime; 0 is w->now), ties go
 *                 to the incoming write: APPLY, or LOSE for an upload and
 *                 REJECT for a delete; a rename: APPLY.
 */
gobi_resolve_e gobi_strategy_resolve(gobi_strategy_e s,
    const gobi_write_t *w, const gobi_file_t *current);

/*
 * The name of a conflict copy of path: "dir/name (conflict <device>
 * <date>).ext", with " <n>" after the date for n > 1; the name part is
 * cut to 255 bytes (the extension dropped first).  date is what the caller
 * formatted ("%Y-%m-%d %H%M%S": the server in UTC, the client local).
 * Returns the length written (NUL-terminated), or 0 when buf is too small.
 */
size_t gobi_conflict_name(char *buf, size_t size, const char *path,
    const char *device, const char *date, int n);

/*
 * Is path a conflict copy's name (as gobi_conflict_name makes them, with
 * a "YYYY-MM-DD HHMMSS" date)?  Then the path of the file it is a copy
 * of goes to buf (the name as it was, or as cut) and 1 is returned; else
 * 0.  How `gobi status` finds copies made by the server or elsewhere.
 */
int gobi_conflict_of(char *buf, size_t size, const char *path);


#endif /* _GOBI_STRATEGY_H_INCLUDED_ */
