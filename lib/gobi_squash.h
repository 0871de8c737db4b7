/*
 * Copyright (C) the gobi authors
 *
 * Event squashing for replay: the events of one vault after a client's
 * cursor, reduced to the fewest events that take the client from its state
 * at the cursor to the state at the last event.
 */

#ifndef _GOBI_SQUASH_H_INCLUDED_
#define _GOBI_SQUASH_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>

#include "gobi_event.h"


#define GOBI_SQUASH_ENOMEM        -1
#define GOBI_SQUASH_INCONSISTENT  -2       /* the log contradicts itself */


/*
 * in:  the n events of one vault with seq > since, ascending, as the store
 *      returns them (a RENAME carries the moved file's hash/size/mtime).
 * out: room for n events; must not overlap in.  Its strings (path, from,
 *      device) point into in[], which must outlive out.
 *
 * Returns the number of events written to out (never more than n), or
 * GOBI_SQUASH_ENOMEM, or GOBI_SQUASH_INCONSISTENT with *bad (if not NULL)
 * set to the index of the first event that contradicts the ones before it
 * (seq not ascending, a create at a path that exists, a modify, delete or
 * rename of a path that does not, a rename onto an existing path, a
 * missing path).  On an inconsistent log the caller should send `resync`.
 *
 * Applied in order to the client's tree at `since`, the result gives
 * exactly the tree at the last event: the same paths with the same hash,
 * size, mtime and version.  What comes out, per file (a file keeps its
 * identity through renames):
 *
 *   existed at since, deleted          DELETE at its path at since
 *   existed, still at the same path    MODIFY with the latest content (also
 *                                      when only renames away and back
 *                                      happened: the hash is then the one
 *                                      the client has, the version is new)
 *   existed, now at another path       RENAME from its path at since to its
 *                                      path now, carrying the latest
 *                                      content: rename chains collapse and
 *                                      rename+modify is one RENAME whose
 *                                      hash may differ from the client's
 *                                      copy (then it downloads `path`)
 *   created in the window, deleted     nothing
 *   created, still there               CREATE at its path now, latest
 *                                      content (a rename of a new file is
 *                                      a create at the new path)
 *   deleted + another file created at  MODIFY (the client has a file there
 *   the same path                      at since and at head)
 *
 * Every CREATE, MODIFY and RENAME describes the file at `path` as it is at
 * the last event (hash, size, mtime, version), so the client can fetch it
 * by path.  Each output event has the seq, version, device and ts of the
 * last event it summarizes.
 *
 * Order: by seq, except that an event that needs a path free (CREATE,
 * RENAME onto it) comes after the event that vacates it (DELETE, RENAME
 * away).  Renames that form a cycle (a swap a->t, b->a, t->b) cannot be
 * ordered; one of them becomes DELETE at its old path (seq of its first
 * rename) and CREATE at its new one.
 *
 * So the output seqs are not always ascending, and a prefix of the output
 * is not the state at any seq: a client takes head_seq as its cursor only
 * after the whole replay, never the seq of a replayed event.
 */
ssize_t gobi_squash(const gobi_event_t *in, size_t n, gobi_event_t *out,
    size_t *bad);


#endif /* _GOBI_SQUASH_H_INCLUDED_ */
