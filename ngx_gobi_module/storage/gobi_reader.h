/*
 * Copyright (C) the gobi authors
 *
 * Reading a blob's plaintext from the targets: as stored, or opened chunk
 * by chunk with the vault's data key (encryption at rest).  A blob that
 * does not open (tampered, truncated, moved, or plaintext where a sealed
 * one must be) is corrupt: never a wrong byte out.  nginx-free; one
 * thread at a time per reader.
 */

#ifndef _GOBI_READER_H_INCLUDED_
#define _GOBI_READER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gobi_blob.h"
#include "gobi_crypt.h"
#include "gobi_hash.h"


typedef enum {
    GOBI_READER_OK = 0,
    GOBI_READER_MISSING,               /* no target has the blob */
    GOBI_READER_CORRUPT,               /* it does not open, or is cut */
    GOBI_READER_ERROR                  /* no target could be read */
} gobi_reader_rc_e;


typedef struct {
    gobi_blob_t        *blob;
    int64_t             vault;
    char                hash[GOBI_HASH_HEX_LEN + 1];
    size_t              target;            /* where the last read came from */
    int64_t             stored;
    int64_t             plain;             /* the plaintext's size */
    int                 sealed;
    gobi_crypt_dec_t    dec;
    unsigned char      *scratch;
    size_t              scratch_len;
} gobi_reader_t;


/*
 * dk: the vault's data key when encryption is on (then every blob must be
 * sealed), NULL when off (a sealed blob is then an error: its key is not
 * configured).
 */
gobi_reader_rc_e gobi_reader_open(gobi_reader_t *rd, gobi_blob_t *b,
    int64_t vault, const char *hash, const unsigned char *dk, char *errbuf,
    size_t errlen);

/* plaintext [off, off + len), within rd->plain: all of it, or an error */
gobi_reader_rc_e gobi_reader_read(gobi_reader_t *rd, int64_t off, void *buf,
    size_t len, char *errbuf, size_t errlen);

/* the whole plaintext into a malloc()ed buffer, refused above max bytes */
gobi_reader_rc_e gobi_reader_slurp(gobi_blob_t *b, int64_t vault,
    const char *hash, const unsigned char *dk, size_t max, char **buf,
    size_t *len, char *errbuf, size_t errlen);

void gobi_reader_close(gobi_reader_t *rd);


#endif /* _GOBI_READER_H_INCLUDED_ */
