/*
 * Copyright (C) the gobi authors
 *
 * The sync engine.  Three trees, as in Dropbox's Nucleus: the remote one
 * (the server's event log after our cursor), the local one (the disk) and
 * the synced base (state.db) they last agreed on.  A side changed when it
 * differs from the base; both changed with different content is a
 * conflict, and then nothing is lost: the local edit becomes a conflict
 * copy beside the remote version.
 *
 * One pass (gobi_sync_run):
 *   pull   events since the cursor, reduced per path to the remote target
 *          state; each applied against the base and the disk (download to
 *          .gobi/tmp, verify, rename into place; delete; rename) and the
 *          cursor advanced only when all of them were applied
 *   scan   disk against base: changed paths become queue entries (a file
 *          gone and one with its hash appeared: a rename)
 *   push   the queue in order, each entry re-checked against the base:
 *          PUT with If-Match/If-None-Match, DELETE with If-Match; 412 means
 *          the server moved on: pull again, then retry
 *
 * Each step has its file and header: gobi_pull, gobi_changes (scan),
 * gobi_push; gobi_local holds what they share about the local side.  The
 * engine calls the steps, never the other way round.
 */

#ifndef _GOBI_SYNC_H_INCLUDED_
#define _GOBI_SYNC_H_INCLUDED_


#include <stdint.h>

#include "gobi.h"
#include "gobi_conf.h"
#include "gobi_event.h"
#include "gobi_http.h"
#include "gobi_ignore.h"
#include "gobi_map.h"
#include "gobi_state.h"


typedef struct gobi_sync_s  gobi_sync_t;


/*
 * A rename sender (a WebSocket session when there is one): returns 0 when
 * the server did it, with the file's new version; else push sends the
 * rename as PUT + DELETE.
 */
typedef int (*gobi_rename_pt)(void *data, const char *from, const char *to,
    int64_t base_version, int64_t *version);


/*
 * Events a WebSocket brought (watch), copied, in seq order after the
 * cursor: a pull that finds every one since the cursor here applies them
 * without asking the server for its log (gobi_sync_offer).
 */
typedef struct {
    gobi_event_t       *ev;
    size_t              n;
    size_t              cap;
    int                 gap;               /* some are missing: ask */
} gobi_offered_t;


typedef struct {
    int64_t     uploaded;
    int64_t     downloaded;
    int64_t     deleted_remote;            /* deletes we sent */
    int64_t     deleted_local;             /* deletes we applied */
    int64_t     renamed_remote;
    int64_t     renamed_local;
    int64_t     conflicts;
    int64_t     skipped;                   /* remote changes behind links */
    int64_t     bytes_up;
    int64_t     bytes_down;
    int64_t     mass_delete_refused;
} gobi_sync_stats_t;


struct gobi_sync_s {
    char               *root;              /* absolute */
    int                 rootfd;
    int                 lockfd;
    gobi_state_t       *st;
    gobi_http_t        *http;
    gobi_cred_t         cred;
    char               *server;
    char               *vault;
    char               *device;
    gobi_ignore_t      *ign;

    int64_t             cursor;
    int                 need_pull;         /* a 412 came back */
    int                 server_resolves;   /* the vault's strategy makes
                                              the server decide conflicts */
    int                 strategy_known;
    int                 rc;                /* first error of a transfer */
    int                 batch;             /* base writes not committed */
    int                 dirty_files;       /* files written since syncfs */

    gobi_map_t          hashes;            /* scan's hash cache */
    gobi_sync_stats_t   stats;

    gobi_rename_pt      rename;            /* NULL: PUT + DELETE */
    void               *rename_data;

    gobi_offered_t      offered;
};


/* opens the folder holding `dir` (or a parent of it); lock: take it */
int gobi_sync_open(const char *dir, int lock, gobi_sync_t **out);
/* makes dir a new vault folder (clone) */
int gobi_sync_create(const char *dir, const char *server, const char *vault,
    gobi_sync_t **out);
void gobi_sync_close(gobi_sync_t *s);
/* credentials and HTTP (not needed by status/conflicts) */
int gobi_sync_connect(gobi_sync_t *s);

int gobi_sync_run(gobi_sync_t *s);
void gobi_sync_report(gobi_sync_t *s, const char *what, int64_t ms);


#endif /* _GOBI_SYNC_H_INCLUDED_ */
