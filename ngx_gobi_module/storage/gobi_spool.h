/*
 * Copyright (C) the gobi authors
 *
 * An upload's temp file: what the body brings is hashed (BLAKE2b-256 of
 * the plaintext, the blob's name) and, with encryption at rest, sealed
 * before a byte of it reaches the disk.  The finished file is the blob's
 * stored form, handed to gobi_blob_put().  nginx-free; one thread at a
 * time per spool (the upload's tasks follow each other), except that a
 * plaintext spool, once open, may be hashed (gobi_spool_hash) in one
 * thread while another writes (gobi_spool_write_at): they share no field.
 */

#ifndef _GOBI_SPOOL_H_INCLUDED_
#define _GOBI_SPOOL_H_INCLUDED_


#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gobi_crypt.h"
#include "gobi_hash.h"


typedef struct {
    int                 fd;                /* -1: not open */
    char                path[PATH_MAX];
    gobi_hash_t         hash;
    int64_t             size;              /* plaintext bytes so far */
    off_t               off;               /* where the next write goes */
    gobi_crypt_enc_t   *enc;               /* NULL: stored as it comes */
    int                 failed;            /* errno of a failed write */
} gobi_spool_t;


/*
 * A new temp file "<dir>/<prefix>.XXXXXX" (0600); dk: the vault's data
 * key, or NULL to store plaintext.  0, or -1 with errbuf filled and errno
 * set.
 */
int gobi_spool_open(gobi_spool_t *sp, const char *dir, const char *prefix,
    const unsigned char *dk, char *errbuf, size_t errlen);

/* 0, or -1 with errbuf filled and errno set (ENOSPC: no room) */
int gobi_spool_write(gobi_spool_t *sp, const void *data, size_t len,
    char *errbuf, size_t errlen);

/*
 * A plaintext spool in two parts that may run at once: the hash (in
 * order) and the bytes at their offset (any order).  gobi_spool_write()
 * goes on at "off", which the caller sets past what it wrote.
 */
void gobi_spool_hash(gobi_spool_t *sp, const void *data, size_t len);
int gobi_spool_write_at(gobi_spool_t *sp, const void *data, size_t len,
    off_t off, char *errbuf, size_t errlen);

/*
 * The end: the last chunk and the header when sealing; the hash and the
 * plaintext size.  The file is not fsynced (the storage's put() does).
 */
int gobi_spool_finish(gobi_spool_t *sp, char hash[GOBI_HASH_HEX_LEN + 1],
    int64_t *size, char *errbuf, size_t errlen);

/*
 * Closes the file, and removes it unless it became a blob (a put() that
 * took it by rename leaves another inode, or none, under the name).
 */
void gobi_spool_close(gobi_spool_t *sp);


#endif /* _GOBI_SPOOL_H_INCLUDED_ */
