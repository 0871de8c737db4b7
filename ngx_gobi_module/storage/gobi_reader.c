/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gobi_reader.h"


typedef struct {
    gobi_reader_t  *rd;
    char           *errbuf;
    size_t          errlen;
    int             missing;
} gobi_reader_io_t;


static ssize_t gobi_reader_stored(void *data, int64_t off, void *buf,
    size_t len);


/* stored bytes for the decoder, all of [off, off + len) unless at the end */

static ssize_t
gobi_reader_stored(void *data, int64_t off, void *buf, size_t len)
{
    gobi_reader_io_t  *io = data;

    char     *p;
    size_t    done;
    ssize_t   n;

    for (p = buf, done = 0; done < len; done += n) {
        n = gobi_blob_read(io->rd->blob, io->rd->vault, io->rd->hash,
                           off + done, p + done, len - done, &io->rd->target,
                           io->errbuf, io->errlen);
        if (n < 0) {
            io->missing = (errno == ENOENT);
            return -1;
        }

        if (n == 0) {
            break;
        }
    }

    return done;
}


gobi_reader_rc_e
gobi_reader_open(gobi_reader_t *rd, gobi_blob_t *b, int64_t vault,
    const char *hash, const unsigned char *dk, char *errbuf, size_t errlen)
{
    int               rc;
    ssize_t           n;
    gobi_reader_io_t  io;
    unsigned char     header[GOBI_CRYPT_HEADER_LEN];

    memset(rd, 0, sizeof(gobi_reader_t));
    rd->blob = b;
    rd->vault = vault;
    snprintf(rd->hash, sizeof(rd->hash), "%s", hash);

    rc = gobi_blob_stat(b, vault, hash, &rd->stored, errbuf, errlen);

    if (rc == 0) {
        snprintf(errbuf, errlen, "blob %s of vault %lld is missing", hash,
                 (long long) vault);
        return GOBI_READER_MISSING;
    }

    if (rc < 0) {
        return GOBI_READER_ERROR;
    }

    io.rd = rd;
    io.errbuf = errbuf;
    io.errlen = errlen;
    io.missing = 0;

    n = 0;

    if (rd->stored >= 8) {
        n = gobi_reader_stored(&io, 0, header,
                               rd->stored < GOBI_CRYPT_HEADER_LEN
                               ? (size_t) rd->stored : sizeof(header));
        if (n < 0) {
            return io.missing ? GOBI_READER_MISSING : GOBI_READER_ERROR;
        }
    }

    rd->sealed = (n >= 8 && gobi_crypt_is_sealed(header, n));

    if (dk == NULL) {
        if (rd->sealed) {
            snprintf(errbuf, errlen, "blob %s of vault %lld is encrypted "
                     "and no gobi_encryption_key is set", hash,
                     (long long) vault);
            return GOBI_READER_CORRUPT;
        }

        rd->plain = rd->stored;
        return GOBI_READER_OK;
    }

    if (!rd->sealed || n < GOBI_CRYPT_HEADER_LEN
        || gobi_crypt_dec_init(&rd->dec, dk, hash, header, rd->stored) != 0)
    {
        snprintf(errbuf, errlen, "blob %s of vault %lld does not open "
                 "(%s)", hash, (long long) vault,
                 rd->sealed ? "tampered, moved or truncated"
                            : "not encrypted");
        return GOBI_READER_CORRUPT;
    }

    rd->plain = rd->dec.plain;

    return GOBI_READER_OK;
}


gobi_reader_rc_e
gobi_reader_read(gobi_reader_t *rd, int64_t off, void *buf, size_t len,
    char *errbuf, size_t errlen)
{
    int               corrupt;
    size_t            need;
    ssize_t           n;
    gobi_reader_io_t  io;

    if (off < 0 || off > rd->plain || (int64_t) len > rd->plain - off) {
        snprintf(errbuf, errlen, "read beyond the blob's end");
        return GOBI_READER_ERROR;
    }

    io.rd = rd;
    io.errbuf = errbuf;
    io.errlen = errlen;
    io.missing = 0;

    if (!rd->sealed) {
        n = gobi_reader_stored(&io, off, buf, len);

        if (n < 0) {
            return io.missing ? GOBI_READER_MISSING : GOBI_READER_ERROR;
        }

        if ((size_t) n < len) {
            snprintf(errbuf, errlen, "blob %s of vault %lld ends early",
                     rd->hash, (long long) rd->vault);
            return GOBI_READER_CORRUPT;
        }

        return GOBI_READER_OK;
    }

    need = gobi_crypt_scratch(len);

    if (need > rd->scratch_len) {
        free(rd->scratch);
        rd->scratch = malloc(need);
        rd->scratch_len = rd->scratch ? need : 0;

        if (rd->scratch == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return GOBI_READER_ERROR;
        }
    }

    errbuf[0] = '\0';

    if (gobi_crypt_dec_range(&rd->dec, off, len, buf, rd->scratch,
                             gobi_reader_stored, &io, &corrupt)
        != 0)
    {
        if (corrupt) {
            snprintf(errbuf, errlen, "blob %s of vault %lld does not open "
                     "at %lld (tampered or truncated)", rd->hash,
                     (long long) rd->vault, (long long) off);
            return GOBI_READER_CORRUPT;
        }

        return io.missing ? GOBI_READER_MISSING : GOBI_READER_ERROR;
    }

    return GOBI_READER_OK;
}


gobi_reader_rc_e
gobi_reader_slurp(gobi_blob_t *b, int64_t vault, const char *hash,
    const unsigned char *dk, size_t max, char **buf, size_t *len,
    char *errbuf, size_t errlen)
{
    gobi_reader_t     rd;
    gobi_reader_rc_e  rc;

    *buf = NULL;
    *len = 0;

    rc = gobi_reader_open(&rd, b, vault, hash, dk, errbuf, errlen);

    if (rc == GOBI_READER_OK && (uint64_t) rd.plain > max) {
        snprintf(errbuf, errlen, "blob %s is larger than %zu bytes", hash,
                 max);
        rc = GOBI_READER_ERROR;
    }

    if (rc == GOBI_READER_OK) {
        *buf = malloc(rd.plain + 1);

        if (*buf == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            rc = GOBI_READER_ERROR;

        } else {
            rc = gobi_reader_read(&rd, 0, *buf, rd.plain, errbuf, errlen);
            (*buf)[rd.plain] = '\0';
            *len = rd.plain;
        }
    }

    if (rc != GOBI_READER_OK) {
        free(*buf);
        *buf = NULL;
        *len = 0;
    }

    gobi_reader_close(&rd);

    return rc;
}


void
gobi_reader_close(gobi_reader_t *rd)
{
    if (rd->sealed) {
        gobi_crypt_dec_wipe(&rd->dec);
    }

    free(rd->scratch);
    rd->scratch = NULL;
    rd->scratch_len = 0;
}
