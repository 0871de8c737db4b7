/*
 * Copyright (C) the gobi authors
 *
 * What the storage drivers share: the upload temp folder of one process
 * (a "spool": local keeps it under <root>/.tmp, s3 under its spool
 * folder), and the check of a blob's name.
 *
 *     <parent>/<host>.<pid>[.n]/  one worker's upload temp files (the
 *                                 glue's spool, gobi_spool.h, writes them)
 *
 * Each worker makes its own temp folder at open and holds an flock() on
 * it as long as it lives; the kernel lets go of it when the process dies,
 * SIGKILL included.  So a folder whose lock can be taken has no writer:
 * what is in it was left by a killed worker and goes at once, and the
 * files of an upload in flight are never touched however slow it is.
 * Ages could not tell the two apart: a slow client may send nothing for
 * client_body_timeout, and a large body is hashed and fsynced after its
 * last write; nor could a lock on each temp file, which would need one
 * more descriptor per upload.
 *
 * The host in a folder's name says whose kernel holds its lock.  On a file
 * system that several hosts share, a lock may not reach the others (NFS
 * with local locks): another host's folder is swept by age only, and left
 * in place.
 */

#ifndef _GOBI_STORAGE_SPOOL_H_INCLUDED_
#define _GOBI_STORAGE_SPOOL_H_INCLUDED_


#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define GOBI_STORAGE_HASH_LEN   64
#define GOBI_STORAGE_HOST_MAX   64


typedef struct {
    char    parent[PATH_MAX];             /* the folder of temp folders */
    char    mine[PATH_MAX];               /* this process's temp folder */
    char    host[GOBI_STORAGE_HOST_MAX + 1];
    int     lock;                         /* mine, open and flock()ed */
    dev_t   dev;                          /* mine's, to know its files */
    ino_t   ino;
} gobi_storage_spool_t;


/*
 * Makes (and locks) this process's temp folder under parent, which is
 * made 0700 if it is missing; what a dead process of the same name left
 * there is cleared.  0, or -1 with errbuf filled.
 */
int gobi_storage_spool_open(gobi_storage_spool_t *sp, const char *parent,
    char *errbuf, size_t errlen);
/* the process is done: its temp files go, and the folder with them */
void gobi_storage_spool_close(gobi_storage_spool_t *sp);

/* 1 when path, open as fd, is a file right in this process's folder */
int gobi_storage_spool_holds(gobi_storage_spool_t *sp, const char *path,
    int fd);

/*
 * A new temp file of this process (mode 0600), its name in path: the fd,
 * or -1 with errno set.
 */
int gobi_storage_spool_file(gobi_storage_spool_t *sp, char *path,
    size_t len);

/* tmp_sweep (gobi_storage.h) over parent */
int gobi_storage_spool_sweep(gobi_storage_spool_t *sp, int64_t min_age_ms,
    int64_t *removed);

/* 1 for a blob's name: 64 lowercase hex digits */
int gobi_storage_hash_valid(const char *hash);


#endif /* _GOBI_STORAGE_SPOOL_H_INCLUDED_ */
