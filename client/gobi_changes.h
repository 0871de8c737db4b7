/*
 * Copyright (C) the gobi authors
 *
 * The scan step: the local tree (gobi_scan.h) against the base.  Changed
 * paths become queue entries; a file gone and a new one with its hash is
 * a rename.
 */

#ifndef _GOBI_CHANGES_H_INCLUDED_
#define _GOBI_CHANGES_H_INCLUDED_


#include "gobi_sync.h"


int gobi_sync_scan(gobi_sync_t *s);

/*
 * Local changes against the base, reported instead of queued (status),
 * and what the scan skipped (not synced): src is the old path of a
 * rename, the reason of a skip.
 */
typedef enum {
    GOBI_CH_NEW = 1,
    GOBI_CH_MODIFIED,
    GOBI_CH_DELETED,
    GOBI_CH_RENAMED,
    GOBI_CH_SKIPPED
} gobi_change_e;

typedef int (*gobi_change_pt)(void *data, gobi_change_e kind,
    const char *path, const char *src);

int gobi_sync_changes(gobi_sync_t *s, gobi_change_pt cb, void *data);


#endif /* _GOBI_CHANGES_H_INCLUDED_ */
