/*
 * Copyright (C) the gobi authors
 *
 * The local side, shared by the sync steps: a file compared with its
 * base, conflict copies, temp files, and base writes batched into one
 * transaction (and one syncfs) per GOBI_BATCH.  Paths are resolved with
 * gobi_beneath.h: a symbolic link in the folder is never followed.
 */

#ifndef _GOBI_LOCAL_H_INCLUDED_
#define _GOBI_LOCAL_H_INCLUDED_


#include <stdint.h>

#include "gobi_event.h"
#include "gobi_scan.h"
#include "gobi_state.h"
#include "gobi_sync.h"


/* a local file compared with its base */
typedef enum {
    GOBI_L_ABSENT = 0,                     /* no file, no base */
    GOBI_L_UNCHANGED,                      /* same as the base */
    GOBI_L_DELETED,                        /* base, no file */
    GOBI_L_CHANGED,                        /* differs (or new) */
    GOBI_L_OTHER                           /* a folder, link, special file */
} gobi_lstate_e;


typedef struct {
    gobi_lstate_e       state;
    int                 has_base;
    int                 link;              /* OTHER: a symlink on the path */
    gobi_base_t         base;
    gobi_scan_entry_t   stat;              /* when a file is there */
    char                hash[GOBI_HASH_HEX_LEN + 1];  /* CHANGED, UNCHANGED */
} gobi_local_t;


/* gobi_local_hash(): the file changed or went away while being read */
#define GOBI_LOCAL_CHANGING  (-2)

int gobi_local_get(gobi_sync_t *s, const char *path, gobi_local_t *l);
int gobi_local_hash(gobi_sync_t *s, const char *path,
    const gobi_scan_entry_t *e, char hash[GOBI_HASH_HEX_LEN + 1]);
int gobi_local_same(const gobi_scan_entry_t *a, const gobi_scan_entry_t *b);
int gobi_local_conflict_copy(gobi_sync_t *s, const char *path,
    int64_t remote_version, char **copy);
void gobi_local_prune_dirs(gobi_sync_t *s, const char *path);
/* a new file in .gobi/tmp; *name relative to the root */
int gobi_local_tmpfile(gobi_sync_t *s, char **name);
int64_t gobi_local_lmtime(const gobi_scan_entry_t *e);

/* base writes, committed by gobi_sync_flush() (or every GOBI_BATCH) */
int gobi_sync_base_put(gobi_sync_t *s, const gobi_base_t *b);
int gobi_sync_base_del(gobi_sync_t *s, const char *path);
int gobi_sync_flush(gobi_sync_t *s);


#endif /* _GOBI_LOCAL_H_INCLUDED_ */
