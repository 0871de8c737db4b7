/*
 * Copyright (C) the gobi authors
 *
 * The blob storage driver table.  Like the store drivers, storage drivers
 * are nginx-free and synchronous; the glue calls them from thread-pool
 * tasks only (open/close and tmp_dir excepted).  Blobs are
 * content-addressed per vault: (vault id, BLAKE2b-256 hex of the
 * plaintext).  A driver stores bytes as it is given them: with encryption
 * at rest these are ciphertext already (gobi_crypt.h), so no driver ever
 * sees plaintext, and what a driver reads back is checked above it.
 *
 * Several targets (gobi_storage lines) are composed by gobi_blob.h, not
 * by the drivers: each driver knows one place only.
 */

#ifndef _GOBI_STORAGE_H_INCLUDED_
#define _GOBI_STORAGE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


typedef struct gobi_storage_s  gobi_storage_t;


/* what open() is given besides its URI argument */
typedef struct {
    /*
     * A local folder for upload temp files, for drivers that keep no files
     * of their own (s3): NULL for local, which keeps them beside its blobs
     * so that a finished upload becomes a blob by rename().
     */
    const char     *spool;
    /* gobi_storage_credentials, or NULL (s3: "key_id secret" lines) */
    const char     *credentials;
    /*
     * its text when the master read it at configuration time (workers may
     * not read a file that only root may), or NULL: the driver reads it
     */
    const char     *credentials_text;
} gobi_storage_conf_t;


typedef struct {
    const char       *scheme;              /* "local", "s3" */

    /*
     * arg is what follows "scheme:" ("//bucket/prefix?..." for s3); NULL
     * with errbuf filled on failure.  Called once per worker: the handle is
     * the process's own (its temp folder, see tmp_dir), and close() gives
     * that up.  open() does no network round trip: a remote target that is
     * down at start is a target that is down, not a worker that fails.
     */
    gobi_storage_t *(*open)(const char *arg, const gobi_storage_conf_t *conf,
                            char *errbuf, size_t errlen);
    void            (*close)(gobi_storage_t *s);

    /*
     * The directory for this process's upload temp files: no other process
     * writes there, so that what a killed worker left can be told from an
     * upload in flight (see tmp_sweep).
     */
    const char     *(*tmp_dir)(gobi_storage_t *s);

    /*
     * Stores the complete temp file `tmp_path` (open as fd, read from
     * offset 0 with pread, its size by fstat) as the blob (vault, hash):
     * durable when put() returns 0 (fsync + rename for local; a completed
     * PUT or multipart upload for s3), never visible partially.  If
     * tmp_path is in this driver's own tmp_dir the driver may take it
     * (rename); else it copies from fd and leaves the file alone.  An
     * existing blob of that hash is kept, and marked as wanted again for
     * collect() (its mtime refreshed).  0 or -1 with errbuf filled and
     * errno set (ENOSPC/EDQUOT: no room).
     */
    int             (*put)(gobi_storage_t *s, int64_t vault, const char *hash,
                           const char *tmp_path, int fd,
                           char *errbuf, size_t errlen);

    /*
     * Is the blob there?  1 with *size (its stored size), 0 when it is not,
     * -1 when that cannot be told (errbuf filled: the target is down).
     */
    int             (*stat)(gobi_storage_t *s, int64_t vault, const char *hash,
                            int64_t *size, char *errbuf, size_t errlen);

    /*
     * Reads up to len bytes of the blob from offset off into buf: the
     * number read (less than len only at the blob's end), or -1 with errbuf
     * filled and errno set (ENOENT: no such blob).
     */
    ssize_t         (*read)(gobi_storage_t *s, int64_t vault, const char *hash,
                            int64_t off, void *buf, size_t len,
                            char *errbuf, size_t errlen);

    /*
     * A local file name of the blob, for open() + sendfile; 0 or -1.  NULL
     * for drivers without local files (s3).
     */
    int             (*path)(gobi_storage_t *s, int64_t vault, const char *hash,
                            char *buf, size_t len);

    /* 0, also when the blob was not there; -1 with errbuf filled */
    int             (*remove)(gobi_storage_t *s, int64_t vault,
                              const char *hash, char *errbuf, size_t errlen);
    /* every blob of a vault; 0 or -1 with errbuf filled */
    int             (*remove_vault)(gobi_storage_t *s, int64_t vault,
                                    char *errbuf, size_t errlen);

    /*
     * Every blob of a vault, in no particular order: cb(data, hash, size)
     * for each (a non-zero return stops the walk and is returned).  0, the
     * callback's value, or -1 with errbuf filled.  The scrub compares
     * targets with it.
     */
    int             (*list)(gobi_storage_t *s, int64_t vault,
                            int (*cb)(void *data, const char *hash,
                                      int64_t size),
                            void *data, char *errbuf, size_t errlen);

    /*
     * Collects garbage: every blob older than min_age_ms (by mtime) that
     * `referenced` says no live file or kept version uses (1: used, 0: not,
     * -1: could not tell, keep it).  Safe against a writer of the same
     * content: put() refreshes an existing blob's mtime, and a blob is
     * checked again just before it goes.  *removed counts the blobs
     * removed.  0 or -1.
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

    /*
     * Can the target take blobs now (local: its folders are there and
     * writable)?  0, or -1 with errbuf filled.  Cheap: the health check
     * asks it at most once a second.  NULL: gobi_blob_check() asks stat()
     * for a blob that is never there, which a reachable target answers.
     */
    int             (*check)(gobi_storage_t *s, char *errbuf, size_t errlen);
} gobi_storage_driver_t;


extern const gobi_storage_driver_t  gobi_storage_local;
extern const gobi_storage_driver_t  gobi_storage_s3;


#endif /* _GOBI_STORAGE_H_INCLUDED_ */
