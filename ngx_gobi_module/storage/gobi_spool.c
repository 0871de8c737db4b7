/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gobi_spool.h"


static int gobi_spool_out(void *data, const void *buf, size_t len);
static int gobi_spool_pwrite(gobi_spool_t *sp, const void *buf, size_t len,
    off_t off);


int
gobi_spool_open(gobi_spool_t *sp, const char *dir, const char *prefix,
    const unsigned char *dk, char *errbuf, size_t errlen)
{
    memset(sp, 0, sizeof(gobi_spool_t));
    sp->fd = -1;

    if ((size_t) snprintf(sp->path, sizeof(sp->path), "%s/%s.XXXXXX", dir,
                          prefix)
        >= sizeof(sp->path))
    {
        snprintf(errbuf, errlen, "temp file path too long");
        errno = ENAMETOOLONG;
        return -1;
    }

    if (dk) {
        sp->enc = malloc(sizeof(gobi_crypt_enc_t));
        if (sp->enc == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            errno = ENOMEM;
            return -1;
        }

        gobi_crypt_enc_init(sp->enc, dk);

        /* the chunks come first; the header is written over this gap */
        sp->off = GOBI_CRYPT_HEADER_LEN;
    }

    sp->fd = mkostemp(sp->path, O_CLOEXEC);

    if (sp->fd < 0) {
        snprintf(errbuf, errlen, "mkstemp(\"%s\") failed: %s", sp->path,
                 strerror(errno));
        sp->path[0] = '\0';
        gobi_spool_close(sp);
        return -1;
    }

    gobi_hash_init(&sp->hash);

    return 0;
}


static int
gobi_spool_pwrite(gobi_spool_t *sp, const void *buf, size_t len, off_t off)
{
    ssize_t      n;
    const char  *p;

    for (p = buf; len > 0; p += n, len -= n, off += n) {
        n = pwrite(sp->fd, p, len, off);

        if (n < 0) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }

            sp->failed = errno;
            return -1;
        }
    }

    return 0;
}


/* the sealed chunks, in order */

static int
gobi_spool_out(void *data, const void *buf, size_t len)
{
    gobi_spool_t  *sp = data;

    if (gobi_spool_pwrite(sp, buf, len, sp->off) != 0) {
        return -1;
    }

    sp->off += len;

    return 0;
}


int
gobi_spool_write(gobi_spool_t *sp, const void *data, size_t len,
    char *errbuf, size_t errlen)
{
    int  rc;

    gobi_hash_update(&sp->hash, data, len);
    sp->size += len;

    if (sp->enc) {
        rc = gobi_crypt_enc_update(sp->enc, data, len, gobi_spool_out, sp);

    } else {
        rc = gobi_spool_out(sp, data, len);
    }

    if (rc != 0) {
        errno = sp->failed ? sp->failed : EIO;
        snprintf(errbuf, errlen, "writing \"%s\" failed: %s", sp->path,
                 strerror(errno));
        return -1;
    }

    return 0;
}


void
gobi_spool_hash(gobi_spool_t *sp, const void *data, size_t len)
{
    gobi_hash_update(&sp->hash, data, len);
    sp->size += len;
}


int
gobi_spool_write_at(gobi_spool_t *sp, const void *data, size_t len,
    off_t off, char *errbuf, size_t errlen)
{
    if (gobi_spool_pwrite(sp, data, len, off) != 0) {
        errno = sp->failed ? sp->failed : EIO;
        snprintf(errbuf, errlen, "writing \"%s\" failed: %s", sp->path,
                 strerror(errno));
        return -1;
    }

    return 0;
}


int
gobi_spool_finish(gobi_spool_t *sp, char hash[GOBI_HASH_HEX_LEN + 1],
    int64_t *size, char *errbuf, size_t errlen)
{
    unsigned char  header[GOBI_CRYPT_HEADER_LEN];

    gobi_hash_final(&sp->hash, hash);
    *size = sp->size;

    if (sp->enc == NULL) {
        return 0;
    }

    if (gobi_crypt_enc_final(sp->enc, hash, gobi_spool_out, sp, header) != 0
        || gobi_spool_pwrite(sp, header, sizeof(header), 0) != 0)
    {
        errno = sp->failed ? sp->failed : EIO;
        snprintf(errbuf, errlen, "writing \"%s\" failed: %s", sp->path,
                 strerror(errno));
        return -1;
    }

    return 0;
}


void
gobi_spool_close(gobi_spool_t *sp)
{
    struct stat  name, open;

    if (sp->enc) {
        gobi_crypt_enc_wipe(sp->enc);
        free(sp->enc);
        sp->enc = NULL;
    }

    if (sp->fd < 0) {
        return;
    }

    if (sp->path[0] && stat(sp->path, &name) == 0
        && fstat(sp->fd, &open) == 0
        && name.st_ino == open.st_ino && name.st_dev == open.st_dev)
    {
        (void) unlink(sp->path);
    }

    (void) close(sp->fd);
    sp->fd = -1;
}
