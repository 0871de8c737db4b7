/*
 * Copyright (C) the gobi authors
 *
 * Scan: the disk against the base, into the queue (or, for status, to a
 * callback).  Both lists are sorted by path and merged; files whose size,
 * mtime and inode match their base are not read.
 */

#include <stdlib.h>
#include <string.h>

#include "gobi.h"
#include "gobi_beneath.h"
#include "gobi_changes.h"
#include "gobi_ignore.h"
#include "gobi_local.h"
#include "gobi_map.h"
#include "gobi_scan.h"
#include "gobi_state.h"


typedef struct {
    char               *path;
    char                hash[GOBI_HASH_HEX_LEN + 1];
    int                 used;
} gobi_gone_t;


static int
gobi_scan_emit(gobi_sync_t *s, gobi_change_pt cb, void *data,
    gobi_change_e kind, const char *path, const char *src)
{
    if (cb) {
        return cb(data, kind, path, src);
    }

    if (kind == GOBI_CH_RENAMED) {
        return gobi_state_queue_add(s->st, GOBI_QOP_RENAME, path, src);
    }

    return gobi_state_queue_add(s->st, GOBI_QOP_CHECK, path, NULL);
}


int
gobi_sync_scan(gobi_sync_t *s)
{
    return gobi_sync_changes(s, NULL, NULL);
}


int
gobi_sync_changes(gobi_sync_t *s, gobi_change_pt cb, void *data)
{
    gobi_scan_t         sc;
    gobi_base_t        *base;
    gobi_scan_entry_t  *f;
    gobi_gone_t        *gone, *g;
    gobi_map_t          by_hash;
    gobi_local_t        l;
    size_t              nbase, i, j, ngone, k;
    char              **fresh;
    size_t              nfresh;
    int                 rc, cmp;

    gobi_ignore_free(s->ign);
    s->ign = gobi_ignore_load(s->rootfd);

    rc = gobi_scan_tree(s->rootfd, s->ign, &sc);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_state_base_all(s->st, &base, &nbase);
    if (rc != 0) {
        gobi_scan_free(&sc);
        return rc;
    }

    gone = gobi_alloc(sizeof(gobi_gone_t) * (nbase + 1));
    ngone = 0;
    fresh = gobi_alloc(sizeof(char *) * (sc.n + 1));
    nfresh = 0;

    rc = gobi_state_begin(s->st);
    if (rc != 0) {
        goto done;
    }

    /* both lists are sorted by path: merge them */
    i = 0;
    j = 0;

    while (i < sc.n || j < nbase) {
        if (i == sc.n) {
            cmp = 1;

        } else if (j == nbase) {
            cmp = -1;

        } else {
            cmp = strcmp(sc.files[i].path, base[j].path);
        }

        if (cmp > 0) {
            /*
             * In the base, not on disk: deleted, unless now ignored or
             * behind a symbolic link (a folder replaced by a link is not
             * synced: the server keeps its files).
             */
            if (!gobi_ignore_path(s->ign, base[j].path)
                && gobi_beneath_link(s->rootfd, base[j].path) == 0)
            {
                gone[ngone].path = base[j].path;
                memcpy(gone[ngone].hash, base[j].hash, sizeof(base[j].hash));
                gone[ngone].used = 0;
                ngone++;
            }

            j++;
            continue;
        }

        f = &sc.files[i];

        if (cmp == 0 && base[j].lmtime != 0
            && base[j].lmtime == f->mtime_ns && base[j].size == f->size
            && base[j].ino == f->ino)
        {
            i++;
            j++;
            continue;
        }

        rc = gobi_local_get(s, f->path, &l);
        if (rc != 0) {
            goto done;
        }

        if (l.state == GOBI_L_CHANGED) {
            if (l.has_base) {
                rc = gobi_scan_emit(s, cb, data, GOBI_CH_MODIFIED, f->path,
                                    NULL);
                if (rc != 0) {
                    goto done;
                }

            } else {
                fresh[nfresh++] = f->path;
            }

        } else if (l.state == GOBI_L_DELETED && l.has_base) {
            gone[ngone].path = f->path;
            memcpy(gone[ngone].hash, l.base.hash, sizeof(l.base.hash));
            gone[ngone].used = 0;
            ngone++;
        }

        i++;

        if (cmp == 0) {
            j++;
        }
    }

    /* a file gone and a new one with its content: a rename */
    gobi_map_init(&by_hash);

    for (k = 0; k < ngone; k++) {
        if (gobi_map_get(&by_hash, gone[k].hash) == NULL) {
            gobi_map_put(&by_hash, gone[k].hash, &gone[k]);
        }
    }

    for (k = 0; k < nfresh; k++) {
        rc = gobi_local_get(s, fresh[k], &l);
        if (rc != 0) {
            break;
        }

        g = (l.state == GOBI_L_CHANGED) ? gobi_map_get(&by_hash, l.hash)
                                        : NULL;

        if (g && !g->used) {
            g->used = 1;
            rc = gobi_scan_emit(s, cb, data, GOBI_CH_RENAMED, fresh[k],
                                g->path);

        } else {
            rc = gobi_scan_emit(s, cb, data, GOBI_CH_NEW, fresh[k], NULL);
        }

        if (rc != 0) {
            break;
        }
    }

    gobi_map_free(&by_hash);

    for (k = 0; rc == 0 && k < ngone; k++) {
        if (!gone[k].used) {
            rc = gobi_scan_emit(s, cb, data, GOBI_CH_DELETED, gone[k].path,
                                NULL);
        }
    }

    for (k = 0; rc == 0 && cb && k < sc.nskips; k++) {
        rc = cb(data, GOBI_CH_SKIPPED, sc.skips[k].path, sc.skips[k].why);
    }

done:

    if (rc == 0) {
        rc = gobi_sync_flush(s);

    } else {
        gobi_state_rollback(s->st);
        s->batch = 0;
    }

    free(gone);
    free(fresh);
    gobi_state_base_free(base, nbase);
    gobi_scan_free(&sc);

    return rc;
}
