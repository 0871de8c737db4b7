/*
 * Copyright (C) the gobi authors
 *
 * Blobs on a local (or network) filesystem:
 *
 *     <root>/<vault id>/<hash[0..1]>/<hash>
 *     <root>/.tmp/<host>.<pid>[.n]/  one worker's upload temp files (nginx
 *                                    writes them)
 *
 * Folders are made 0700 and blobs are 0600: the data is the users' only.
 *
 * Each worker makes its own temp folder at open() and holds an flock() on
 * it as long as it lives; the kernel lets go of it when the process dies,
 * SIGKILL included.  So a folder whose lock can be taken has no
 * writer: what is in it was left by a killed worker and goes at once, and
 * the files of an upload in flight are never touched however slow it is.
 * Ages could not tell the two apart: a slow client may send nothing for
 * client_body_timeout, and a large body is hashed and fsynced after its
 * last write; nor could a lock on each temp file, which nginx creates
 * without asking us.
 *
 * The host in a folder's name says whose kernel holds its lock.  On a file
 * system that several hosts share, a lock may not reach the others (NFS
 * with local locks): another host's folder is swept by age only, and left
 * in place.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "gobi_storage.h"


#define GOBI_STORAGE_HASH_LEN  64
#define GOBI_STORAGE_HOST_MAX  64
#define GOBI_STORAGE_TRIES     16          /* names for a temp folder */


struct gobi_storage_s {
    char   root[PATH_MAX];
    char   tmp[PATH_MAX];                  /* <root>/.tmp */
    char   mine[PATH_MAX];                 /* this process's temp folder */
    char   host[GOBI_STORAGE_HOST_MAX + 1];
    int    lock;                           /* mine, open and flock()ed */
};


static int gobi_storage_local_tmp_own(gobi_storage_t *s, char *errbuf,
    size_t errlen);
static int64_t gobi_storage_local_tmp_clear(const char *dir, time_t before,
    int *left);


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

    s->lock = -1;

    if ((size_t) snprintf(s->root, sizeof(s->root), "%s", arg)
            >= sizeof(s->root)
        || (size_t) snprintf(s->tmp, sizeof(s->tmp), "%s/.tmp", arg)
            >= sizeof(s->tmp))
    {
        snprintf(errbuf, errlen, "path too long");
        free(s);
        return NULL;
    }

    if (gobi_storage_local_tmp_own(s, errbuf, errlen) != 0) {
        free(s);
        return NULL;
    }

    return s;
}


static void
gobi_storage_local_close(gobi_storage_t *s)
{
    int  left;

    if (s->lock >= 0) {
        /* the worker exits: nothing of it is in flight any more */
        (void) gobi_storage_local_tmp_clear(s->mine, 0, &left);

        if (!left) {
            (void) rmdir(s->mine);
        }

        close(s->lock);
    }

    free(s);
}


/* this host in folder names: no '.', which ends it */

static void
gobi_storage_local_host(gobi_storage_t *s)
{
    size_t  i;

    if (gethostname(s->host, sizeof(s->host)) != 0) {
        s->host[0] = '\0';
    }

    s->host[sizeof(s->host) - 1] = '\0';

    for (i = 0; s->host[i]; i++) {
        if (!isalnum((unsigned char) s->host[i]) && s->host[i] != '-') {
            s->host[i] = '_';
        }
    }

    if (i == 0) {
        strcpy(s->host, "localhost");
    }
}


/*
 * Makes this process's temp folder and locks it.  A folder of the same
 * name is what a dead process of the same pid left (a live one holds the
 * lock: then the next name); one that a sweep removed meanwhile shows in
 * its inode, and the next name is made.
 */

static int
gobi_storage_local_tmp_own(gobi_storage_t *s, char *errbuf, size_t errlen)
{
    int          n, fd, i, left;
    struct stat  named, held;

    gobi_storage_local_host(s);

    for (i = 0; i < GOBI_STORAGE_TRIES; i++) {

        if (i == 0) {
            n = snprintf(s->mine, sizeof(s->mine), "%s/%s.%ld", s->tmp,
                         s->host, (long) getpid());

        } else {
            n = snprintf(s->mine, sizeof(s->mine), "%s/%s.%ld.%d", s->tmp,
                         s->host, (long) getpid(), i);
        }

        if (n < 0 || (size_t) n >= sizeof(s->mine)) {
            snprintf(errbuf, errlen, "temp folder path too long");
            return -1;
        }

        if (mkdir(s->mine, 0700) != 0 && errno != EEXIST) {
            snprintf(errbuf, errlen, "mkdir(\"%s\") failed: %s", s->mine,
                     strerror(errno));
            return -1;
        }

        fd = open(s->mine, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT) {
                continue;
            }

            snprintf(errbuf, errlen, "open(\"%s\") failed: %s", s->mine,
                     strerror(errno));
            return -1;
        }

        if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
            close(fd);
            continue;
        }

        /* (a file system without locks: sweeps go by age there) */

        if (stat(s->mine, &named) != 0 || fstat(fd, &held) != 0
            || named.st_dev != held.st_dev || named.st_ino != held.st_ino)
        {
            close(fd);
            continue;
        }

        (void) gobi_storage_local_tmp_clear(s->mine, 0, &left);

        s->lock = fd;

        return 0;
    }

    snprintf(errbuf, errlen, "no temp folder of its own under \"%s\"",
             s->tmp);
    return -1;
}


/*
 * Unlinks the files in a temp folder (but dot files, such as NFS's silly
 * renames) whose mtime is before `before` (0: all), and counts them;
 * *left tells that something stays.
 */

static int64_t
gobi_storage_local_tmp_clear(const char *dir, time_t before, int *left)
{
    char            path[PATH_MAX];
    DIR            *d;
    int64_t         n;
    struct stat     st;
    struct dirent  *de;

    n = 0;
    *left = 0;

    d = opendir(dir);
    if (d == NULL) {
        *left = (errno != ENOENT);
        return 0;
    }

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (de->d_name[0] == '.'
            || (size_t) snprintf(path, sizeof(path), "%s/%s", dir,
                                 de->d_name) >= sizeof(path)
            || lstat(path, &st) != 0 || !S_ISREG(st.st_mode)
            || (before && st.st_mtime >= before)
            || unlink(path) != 0)
        {
            *left = 1;
            continue;
        }

        n++;
    }

    closedir(d);

    return n;
}


/*
 * Another process's temp folder: swept when its lock is free, that is when
 * the process is gone.  This host's goes whole; another host's (whose lock
 * may not reach us), or one on a file system without locks, by age only.
 */

static int64_t
gobi_storage_local_tmp_dead(const char *dir, int local, time_t before)
{
    int      fd, left;
    int64_t  n;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return 0;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            /* its process lives */
            close(fd);
            return 0;
        }

        local = 0;
    }

    n = gobi_storage_local_tmp_clear(dir, local ? 0 : before, &left);

    /*
     * Under the lock: a process that makes a folder of this name meanwhile
     * fails to lock it, or locks the folder removed, sees that and makes
     * another.
     */

    if (local && !left) {
        (void) rmdir(dir);
    }

    close(fd);

    return n;
}


static int
gobi_storage_local_tmp_sweep(gobi_storage_t *s, int64_t min_age_ms,
    int64_t *removed)
{
    int             local;
    char            path[PATH_MAX];
    DIR            *d;
    size_t          hlen;
    time_t          before;
    struct stat     st;
    struct dirent  *de;

    before = time(NULL) - (time_t) (min_age_ms / 1000);
    hlen = strlen(s->host);
    *removed = 0;

    d = opendir(s->tmp);
    if (d == NULL) {
        return -1;
    }

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.'
            || (size_t) snprintf(path, sizeof(path), "%s/%s", s->tmp,
                                 de->d_name) >= sizeof(path)
            || strcmp(path, s->mine) == 0
            || lstat(path, &st) != 0)
        {
            continue;
        }

        if (S_ISREG(st.st_mode)) {
            /* loose (gobi before folders per process): by age */
            if (st.st_mtime < before && unlink(path) == 0) {
                (*removed)++;
            }

            continue;
        }

        if (S_ISDIR(st.st_mode)) {
            local = strncmp(de->d_name, s->host, hlen) == 0
                    && de->d_name[hlen] == '.';

            *removed += gobi_storage_local_tmp_dead(path, local, before);
        }
    }

    closedir(d);

    return 0;
}


static const char *
gobi_storage_local_tmp_dir(gobi_storage_t *s)
{
    return s->mine;
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


/*
 * A blob folder, 0700.  One made now is fsynced into its parent: else a
 * crash could lose the folder, and the blob acknowledged in it.
 */

static int
gobi_storage_local_mkdir(const char *dir, const char *parent, char *errbuf,
    size_t errlen)
{
    if (mkdir(dir, 0700) == 0) {
        if (gobi_storage_local_fsync_dir(parent) != 0) {
            snprintf(errbuf, errlen, "fsync(\"%s\") failed: %s", parent,
                     strerror(errno));
            return -1;
        }

        return 0;
    }

    if (errno == EEXIST) {
        return 0;
    }

    snprintf(errbuf, errlen, "mkdir(\"%s\") failed: %s", dir,
             strerror(errno));
    return -1;
}


static int
gobi_storage_local_put(gobi_storage_t *s, int64_t vault, const char *hash,
    const char *tmp_path, int fd, char *errbuf, size_t errlen)
{
    char  path[PATH_MAX], vdir[PATH_MAX], dir[PATH_MAX];

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

    if (gobi_storage_local_dir(s, vault, NULL, vdir, sizeof(vdir)) != 0
        || gobi_storage_local_dir(s, vault, hash, dir, sizeof(dir)) != 0)
    {
        snprintf(errbuf, errlen, "blob path too long");
        return -1;
    }

    if (gobi_storage_local_mkdir(vdir, s->root, errbuf, errlen) != 0
        || gobi_storage_local_mkdir(dir, vdir, errbuf, errlen) != 0)
    {
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

    gc.before = time(NULL) - (time_t) (min_age_ms / 1000);
    gc.referenced = referenced;
    gc.data = data;
    gc.removed = 0;

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
    gobi_storage_local_collect,
    gobi_storage_local_tmp_sweep
};
