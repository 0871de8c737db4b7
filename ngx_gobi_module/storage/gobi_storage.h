/*
 * Copyright (C) the gobi authors
 *
 * The blob storage driver table.  Like the store drivers, storage drivers
 * are nginx-free and synchronous; the glue calls the blocking ones (put,
 * remove) from thread-pool tasks.  Blobs are content-addressed per vault:
 * (vault id, BLAKE2b-256 hex of the plaintext).
 */

#ifndef _GOBI_STORAGE_H_INCLUDED_
#define _GOBI_STORAGE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct gobi_storage_s  gobi_storage_t;

typedef struct {
    const char       *scheme;              /* "local" */

    /*
     * arg is what follows "scheme:"; NULL with errbuf filled on failure.
     * Called once per worker: the handle is the process's own (its temp
     * folder, see tmp_dir), and close() gives that up.
     */
    gobi_storage_t *(*open)(const char *arg, char *errbuf, size_t errlen);
    void            (*close)(gobi_storage_t *s);

    /*
     * The directory for this process's upload temp files: same filesystem
     * as the blobs, and no other process writes there, so that what a
     * killed worker left can be told from an upload in flight.
     */
    const char     *(*tmp_dir)(gobi_storage_t *s);

    /*
     * Makes the complete temp file `tmp_path` (open as fd) the blob
     * (vault, hash): fsync, then rename into place, so no reader sees a
     * partial blob.  An existing blob of that hash is kept and the temp file
     * left to its owner.  0 or -1 with errbuf filled and errno set (ENOSPC:
     * the disk is full).
     */
    int             (*put)(gobi_storage_t *s, int64_t vault, const char *hash,
                           const char *tmp_path, int fd,
                           char *errbuf, size_t errlen);

    /* the local path of a blob, for open() + sendfile; 0 or -1 */
    int             (*path)(gobi_storage_t *s, int64_t vault, const char *hash,
                            char *buf, size_t len);

    int             (*remove)(gobi_storage_t *s, int64_t vault,
                              const char *hash);
    /* every blob of a vault */
    int             (*remove_vault)(gobi_storage_t *s, int64_t vault);

    /*
     * Collects garbage: every blob older than min_age_ms (by mtime) that
     * `referenced` says no live file uses (1: used, 0: not, -1: could not
     * tell, keep it).  Safe against a writer of the same content: put()
     * refreshes an existing blob's mtime, and a blob is renamed aside and
     * checked again before it goes.  *removed counts the blobs removed.
     */
    int             (*collect)(gobi_storage_t *s, int64_t min_age_ms,
                               int (*referenced)(void *data, int64_t vault,
                                                 const char *hash),
                               void *data, int64_t *removed);

    /*
     * Removes upload temp files no process writes any more: those of a
     * process that is gone (killed mid-upload), at once, and any that
     * cannot be told apart (another host's, on a shared file system)
     * once older than min_age_ms.  Never one of an upload in flight.
     * *removed counts the files removed.
     */
    int             (*tmp_sweep)(gobi_storage_t *s, int64_t min_age_ms,
                                 int64_t *removed);
} gobi_storage_driver_t;


extern const gobi_storage_driver_t  gobi_storage_local;


#endif /* _GOBI_STORAGE_H_INCLUDED_ */
