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
#include <time.h>
#include <unistd.h>

#include "gobi_storage.h"


#define GOBI_STORAGE_HASH_LEN  64


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
    char  path[PATH_MAX], dir[PATH_MAX];

    if (gobi_storage_local_path(s, vault, hash, path, sizeof(path)) != 0) {
        snprintf(errbuf, errlen, "blob path too long");
        return -1;
    }

    /*
     * Content-addressed: the blob may be there already.  Its mtime is
     * refreshed, which tells the collector it is wanted again; if the
     * collector took it aside meanwhile, it is stored anew below.
     */

    if (utimensat(AT_FDCWD, path, NULL, 0) == 0) {
        return 0;
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


/* the collector -------------------------------------------------------- */


typedef struct {
    gobi_storage_t   *storage;
    time_t            before;             /* older than this: a candidate */
    int             (*referenced)(void *data, int64_t vault,
                                  const char *hash);
    void             *data;
    int64_t           removed;
} gobi_storage_local_gc_t;


static void
gobi_storage_local_gc_blob(gobi_storage_local_gc_t *gc, int64_t vault,
    const char *dir, const char *hash)
{
    char         path[PATH_MAX], aside[PATH_MAX];
    struct stat  st;

    if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, hash)
            >= sizeof(path)
        || (size_t) snprintf(aside, sizeof(aside), "%s/%s.gc", dir, hash)
            >= sizeof(aside))
    {
        return;
    }

    if (stat(path, &st) != 0 || st.st_mtime >= gc->before
        || gc->referenced(gc->data, vault, hash) != 0)
    {
        return;
    }

    /*
     * Aside first: a writer that finds the blob gone stores it anew; one
     * that refreshed it just before shows in the mtime, and one that
     * committed a reference shows in the second look.  Either way the blob
     * comes back (the same bytes: a rename over a new copy is harmless).
     */

    if (rename(path, aside) != 0) {
        return;
    }

    if (stat(aside, &st) == 0 && st.st_mtime < gc->before
        && gc->referenced(gc->data, vault, hash) == 0)
    {
        if (unlink(aside) == 0) {
            gc->removed++;
        }

        return;
    }

    (void) rename(aside, path);
}


static void
gobi_storage_local_gc_dir(gobi_storage_local_gc_t *gc, int64_t vault,
    const char *dir)
{
    char            hash[GOBI_STORAGE_HASH_LEN + 1], path[PATH_MAX],
                    back[PATH_MAX];
    size_t          len;
    DIR            *d;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);

        if (len == GOBI_STORAGE_HASH_LEN + 3
            && strcmp(de->d_name + GOBI_STORAGE_HASH_LEN, ".gc") == 0)
        {
            /* a collector stopped half way: put it back, look again later */
            memcpy(hash, de->d_name, GOBI_STORAGE_HASH_LEN);
            hash[GOBI_STORAGE_HASH_LEN] = '\0';

            if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir,
                                  de->d_name) < sizeof(path)
                && (size_t) snprintf(back, sizeof(back), "%s/%s", dir, hash)
                   < sizeof(back))
            {
                (void) rename(path, back);
            }

            continue;
        }

        if (len == GOBI_STORAGE_HASH_LEN) {
            gobi_storage_local_gc_blob(gc, vault, dir, de->d_name);
        }
    }

    closedir(d);
}


static void
gobi_storage_local_gc_tmp(gobi_storage_local_gc_t *gc)
{
    char            path[PATH_MAX];
    DIR            *d;
    struct stat     st;
    struct dirent  *de;

    d = opendir(gc->storage->tmp);
    if (d == NULL) {
        return;
    }

    /* an upload in progress keeps writing, so its mtime stays fresh */

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.'
            || (size_t) snprintf(path, sizeof(path), "%s/%s",
                                 gc->storage->tmp, de->d_name)
               >= sizeof(path))
        {
            continue;
        }

        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)
            && st.st_mtime < gc->before)
        {
            (void) unlink(path);
        }
    }

    closedir(d);
}


static int
gobi_storage_local_collect(gobi_storage_t *s, int64_t min_age_ms,
    int (*referenced)(void *data, int64_t vault, const char *hash),
    void *data, int64_t *removed)
{
    char                      *end, dir[PATH_MAX], sub[PATH_MAX];
    DIR                       *d, *v;
    int64_t                    vault;
    struct dirent             *de, *ve;
    gobi_storage_local_gc_t    gc;

    gc.storage = s;
    gc.before = time(NULL) - (time_t) (min_age_ms / 1000);
    gc.referenced = referenced;
    gc.data = data;
    gc.removed = 0;

    gobi_storage_local_gc_tmp(&gc);

    d = opendir(s->root);
    if (d == NULL) {
        return -1;
    }

    while ((de = readdir(d)) != NULL) {
        errno = 0;
        vault = strtoll(de->d_name, &end, 10);

        if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end != '\0'
            || errno != 0
            || gobi_storage_local_dir(s, vault, NULL, dir, sizeof(dir)) != 0)
        {
            continue;
        }

        v = opendir(dir);
        if (v == NULL) {
            continue;
        }

        while ((ve = readdir(v)) != NULL) {
            if (strlen(ve->d_name) != 2
                || (size_t) snprintf(sub, sizeof(sub), "%s/%s", dir,
                                     ve->d_name) >= sizeof(sub))
            {
                continue;
            }

            gobi_storage_local_gc_dir(&gc, vault, sub);
        }

        closedir(v);
    }

    closedir(d);

    *removed = gc.removed;

    return 0;
}


const gobi_storage_driver_t  gobi_storage_local = {
    "local",
    gobi_storage_local_open,
    gobi_storage_local_close,
    gobi_storage_local_tmp_dir,
    gobi_storage_local_put,
    gobi_storage_local_path,
    gobi_storage_local_remove,
    gobi_storage_local_remove_vault,
    gobi_storage_local_collect
};
