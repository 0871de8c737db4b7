/*
 * Copyright (C) the gobi authors
 *
 * Blobs on a local (or network) filesystem:
 *
 *     <root>/<vault id>/<hash[0..1]>/<hash>
 *     <root>/.tmp/                  upload temp files (nginx writes them)
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>

#include "gobi_storage.h"


struct gobi_storage_s {
    char   root[PATH_MAX];
    char   tmp[PATH_MAX];
};


static gobi_storage_t *
gobi_storage_local_open(const char *arg, char *errbuf, size_t errlen)
{
    gobi_storage_t  *s;
    struct stat      st;

    if (stat(arg, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "\"%s\" is not a folder: %s", arg,
                 strerror(errno ? errno : ENOTDIR));
        return NULL;
    }

    s = calloc(1, sizeof(gobi_storage_t));
    if (s == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    if ((size_t) snprintf(s->root, sizeof(s->root), "%s", arg)
            >= sizeof(s->root)
        || (size_t) snprintf(s->tmp, sizeof(s->tmp), "%s/.tmp", arg)
            >= sizeof(s->tmp))
    {
        snprintf(errbuf, errlen, "path too long");
        free(s);
        return NULL;
    }

    return s;
}


static void
gobi_storage_local_close(gobi_storage_t *s)
{
    free(s);
}


static const char *
gobi_storage_local_tmp_dir(gobi_storage_t *s)
{
    return s->tmp;
}


static int
gobi_storage_local_path(gobi_storage_t *s, int64_t vault, const char *hash,
    char *buf, size_t len)
{
    int  n;

    n = snprintf(buf, len, "%s/%" PRId64 "/%.2s/%s", s->root, vault, hash,
                 hash);

    return (n < 0 || (size_t) n >= len) ? -1 : 0;
}


/* the vault's folder, or with a hash the blob's fan-out folder */

static int
gobi_storage_local_dir(gobi_storage_t *s, int64_t vault, const char *hash,
    char *buf, size_t len)
{
    int  n;

    if (hash) {
        n = snprintf(buf, len, "%s/%" PRId64 "/%.2s", s->root, vault, hash);

    } else {
        n = snprintf(buf, len, "%s/%" PRId64, s->root, vault);
    }

    if (n < 0 || (size_t) n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }

    return 0;
}


static int
gobi_storage_local_fsync_dir(const char *dir)
{
    int  fd, rc;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }

    rc = fsync(fd);
    close(fd);

    return rc;
}


static int
gobi_storage_local_mkdir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
        return 0;
    }

    return -1;
}


static int
gobi_storage_local_put(gobi_storage_t *s, int64_t vault, const char *hash,
    const char *tmp_path, int fd, char *errbuf, size_t errlen)
{
    char         path[PATH_MAX], dir[PATH_MAX];
    struct stat  st;

    if (gobi_storage_local_path(s, vault, hash, path, sizeof(path)) != 0) {
        snprintf(errbuf, errlen, "blob path too long");
        return -1;
    }

    if (stat(path, &st) == 0) {
        return 0;                            /* content-addressed: done */
    }

    if (gobi_storage_local_dir(s, vault, NULL, dir, sizeof(dir)) != 0
        || gobi_storage_local_mkdir(dir) != 0
        || gobi_storage_local_dir(s, vault, hash, dir, sizeof(dir)) != 0
        || gobi_storage_local_mkdir(dir) != 0)
    {
        snprintf(errbuf, errlen, "mkdir(\"%s\") failed: %s", dir,
                 strerror(errno));
        return -1;
    }

    if (fsync(fd) != 0) {
        snprintf(errbuf, errlen, "fsync(\"%s\") failed: %s", tmp_path,
                 strerror(errno));
        return -1;
    }

    (void) fchmod(fd, 0600);

    if (rename(tmp_path, path) != 0) {
        snprintf(errbuf, errlen, "rename(\"%s\", \"%s\") failed: %s",
                 tmp_path, path, strerror(errno));
        return -1;
    }

    if (gobi_storage_local_fsync_dir(dir) != 0) {
        snprintf(errbuf, errlen, "fsync(\"%s\") failed: %s", dir,
                 strerror(errno));
        return -1;
    }

    return 0;
}


static int
gobi_storage_local_remove(gobi_storage_t *s, int64_t vault, const char *hash)
{
    char  path[PATH_MAX];

    if (gobi_storage_local_path(s, vault, hash, path, sizeof(path)) != 0) {
        return -1;
    }

    if (unlink(path) != 0 && errno != ENOENT) {
        return -1;
    }

    return 0;
}


static int
gobi_storage_local_rmtree(const char *dir)
{
    char            path[PATH_MAX];
    int             rc;
    DIR            *d;
    struct dirent  *de;
    struct stat     st;

    d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT ? 0 : -1;
    }

    rc = 0;

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, de->d_name)
            >= sizeof(path))
        {
            rc = -1;
            continue;
        }

        if (lstat(path, &st) != 0) {
            rc = -1;
            continue;
        }

        if (S_ISDIR(st.st_mode)) {
            if (gobi_storage_local_rmtree(path) != 0) {
                rc = -1;
            }

        } else if (unlink(path) != 0 && errno != ENOENT) {
            rc = -1;
        }
    }

    closedir(d);

    if (rmdir(dir) != 0 && errno != ENOENT) {
        rc = -1;
    }

    return rc;
}


static int
gobi_storage_local_remove_vault(gobi_storage_t *s, int64_t vault)
{
    char  dir[PATH_MAX];

    if (gobi_storage_local_dir(s, vault, NULL, dir, sizeof(dir)) != 0) {
        return -1;
    }

    return gobi_storage_local_rmtree(dir);
}


const gobi_storage_driver_t  gobi_storage_local = {
    "local",
    gobi_storage_local_open,
    gobi_storage_local_close,
    gobi_storage_local_tmp_dir,
    gobi_storage_local_put,
    gobi_storage_local_path,
    gobi_storage_local_remove,
    gobi_storage_local_remove_vault
};
