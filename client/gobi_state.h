/*
 * Copyright (C) the gobi authors
 *
 * The client's local state, <dir>/.gobi/state.db (SQLite, WAL):
 *   meta       server, vault, username, device, cursor, last_sync
 *   base       the synced base: for each file the (version, hash, size,
 *              mtime) it last agreed on with the server, plus the local
 *              stat (mtime ns, inode) it had then
 *   queue      local operations not yet sent, in order
 *   conflicts  conflict copies made and not yet resolved
 */

#ifndef _GOBI_STATE_H_INCLUDED_
#define _GOBI_STATE_H_INCLUDED_


#include <stdint.h>
#include <stddef.h>

#include "gobi_event.h"


typedef struct gobi_state_s  gobi_state_t;


typedef struct {
    char       *path;
    int64_t     version;
    char        hash[GOBI_HASH_HEX_LEN + 1];
    int64_t     size;
    int64_t     mtime;                     /* the server's, unix ms */
    int64_t     lmtime;                    /* local st_mtim in ns, 0: none */
    int64_t     ino;
} gobi_base_t;


typedef enum {
    GOBI_QOP_CHECK = 1,                    /* path changed: compare, push */
    GOBI_QOP_RENAME                        /* src was moved to path */
} gobi_qop_e;


typedef struct {
    int64_t     id;
    gobi_qop_e  op;
    char       *path;
    char       *src;                       /* RENAME: the old path */
} gobi_qentry_t;


typedef struct {
    char       *path;
    char       *copy;
    int64_t     version;                   /* the remote version kept */
    int64_t     ts;
} gobi_conflict_t;


int gobi_state_open(const char *root, int create, gobi_state_t **out);
void gobi_state_close(gobi_state_t *st);

char *gobi_state_meta_get(gobi_state_t *st, const char *key);
int gobi_state_meta_set(gobi_state_t *st, const char *key, const char *val);
int64_t gobi_state_meta_int(gobi_state_t *st, const char *key, int64_t def);
int gobi_state_meta_set_int(gobi_state_t *st, const char *key, int64_t val);

int gobi_state_begin(gobi_state_t *st);
int gobi_state_commit(gobi_state_t *st);
void gobi_state_rollback(gobi_state_t *st);

/* 1 found (out->path is not set), 0 not found, < 0 error */
int gobi_state_base_get(gobi_state_t *st, const char *path,
    gobi_base_t *out);
int gobi_state_base_put(gobi_state_t *st, const gobi_base_t *b);
int gobi_state_base_del(gobi_state_t *st, const char *path);
/* all rows sorted by path; free with gobi_state_base_free */
int gobi_state_base_all(gobi_state_t *st, gobi_base_t **out, size_t *n);
void gobi_state_base_free(gobi_base_t *arr, size_t n);
int64_t gobi_state_base_count(gobi_state_t *st);
/* a path with this hash other than `not` (malloc'ed), or NULL */
char *gobi_state_base_find_hash(gobi_state_t *st, const char *hash,
    const char *not);

int gobi_state_queue_add(gobi_state_t *st, gobi_qop_e op, const char *path,
    const char *src);
int gobi_state_queue_list(gobi_state_t *st, gobi_qentry_t **out, size_t *n);
void gobi_state_queue_free(gobi_qentry_t *arr, size_t n);
int gobi_state_queue_del(gobi_state_t *st, int64_t id);
int64_t gobi_state_queue_count(gobi_state_t *st);

int gobi_state_conflict_add(gobi_state_t *st, const char *path,
    const char *copy, int64_t version);
int gobi_state_conflict_list(gobi_state_t *st, gobi_conflict_t **out,
    size_t *n);
void gobi_state_conflict_free(gobi_conflict_t *arr, size_t n);
int gobi_state_conflict_del(gobi_state_t *st, const char *copy);


#endif /* _GOBI_STATE_H_INCLUDED_ */
