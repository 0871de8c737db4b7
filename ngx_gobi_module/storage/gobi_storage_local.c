/*
 * Copyright (C) the gobi authors
 *
 * Blobs on a local (or network) filesystem:
 *
 *     <root>/<vault id>/<hash[0..1]>/<hash>
 *     <root>/.tmp/<host>.<pid>[.n]/  one worker's upload temp files (the
 *                                    spool writes them; gobi_storage_spool.h)
 *
 * Folders are made 0700 and blobs are 0600: the data is the users' only.
 * The temp folders are beside the blobs, on the same file system, so that
 * a finished upload becomes a blob by rename().
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "gobi_storage.h"
#include "gobi_storage_spool.h"


#define GOBI_STORAGE_COPY_BUF  (256 * 1024)


struct gobi_storage_s {
    char                   root[PATH_MAX];
    gobi_storage_spool_t   spool;          /* <root>/.tmp/<host>.<pid> */
};


static gobi_storage_t *
gobi_storage_local_open(const char *arg, const gobi_storage_conf_t *conf,
    char *errbuf, size_t errlen)
{
    char             tmp[PATH_MAX];
    gobi_storage_t  *s;
    struct stat      st;

    (void) conf;

    if (arg == NULL || arg[0] == '\0') {
        snprintf(errbuf, errlen, "no folder for local storage");
        return NULL;
    }

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
        || (size_t) snprintf(tmp, sizeof(tmp), "%s/.tmp", arg) >= sizeof(tmp))
    {
        snprintf(errbuf, errlen, "path too long");
        free(s);
        return NULL;
    }

    if (gobi_storage_spool_open(&s->spool, tmp, errbuf, errlen) != 0) {
        free(s);
        return NULL;
    }

    return s;
}


static void
gobi_storage_local_close(gobi_storage_t *s)
{
    gobi_storage_spool_close(&s->spool);
    free(s);
}


static const char *
gobi_storage_local_tmp_dir(gobi_storage_t *s)
{
    return s->spool.mine;
}


static int
gobi_storage_local_tmp_sweep(gobi_storage_t *s, int64_t min_age_ms,
    int64_t *removed)
{
    return gobi_storage_spool_sweep(&s->spool, min_age_ms, removed);
}


/*
 * The root and this process's temp folder are folders we may write in:
 * an upload lands in the one and is renamed into the other.  A root that
 * was removed, replaced or made read-only fails here, where a stat() of a
 * blob would only answer "not there".
 */

static int
gobi_storage_local_check(gobi_storage_t *s, char *errbuf, size_t errlen)
{
    size_t        i;
    struct stat   st;
    const char   *dir[2];

    dir[0] = s->root;
    dir[1] = s->spool.mine;

    for (i = 0; i < 2; i++) {
        if (stat(dir[i], &st) != 0) {
            snprintf(errbuf, errlen, "stat(\"%s\") failed: %s", dir[i],
                     strerror(errno));
            return -1;
        }

        if (!S_ISDIR(st.st_mode)) {
            snprintf(errbuf, errlen, "\"%s\" is not a folder", dir[i]);
            return -1;
        }

        if (access(dir[i], W_OK | X_OK) != 0) {
            snprintf(errbuf, errlen, "\"%s\" is not writable: %s", dir[i],
                     strerror(errno));
            return -1;
        }
    }

    return 0;
}


static int
gobi_storage_local_path(gobi_storage_t *s, int64_t vault, const char *hash,
    char *buf, size_t len)
{
    int  n;

    if (!gobi_storage_hash_valid(hash)) {
        errno = EINVAL;
        return -1;
    }

    n = snprintf(buf, len, "%s/%" PRId64 "/%.2s/%s", s->root, vault, hash,
                 hash);

    if (n < 0 || (size_t) n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }

    return 0;
}


/* the blob's file name, or -1 with errbuf filled */

static int
gobi_storage_local_blob(gobi_storage_t *s, int64_t vault, const char *hash,
    char *buf, size_t len, char *errbuf, size_t errlen)
{
    if (gobi_storage_local_path(s, vault, hash, buf, len) == 0) {
        return 0;
    }

    if (errno == EINVAL) {
        snprintf(errbuf, errlen, "\"%.80s\" is not a blob hash", hash);

    } else {
        snprintf(errbuf, errlen, "blob path too long");
    }

    return -1;
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
    int  fd, rc, err;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }

    rc = fsync(fd);
    err = errno;
    close(fd);
    errno = err;

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


/*
 * A copy of fd (from offset 0, to its end) in a temp file of our own, for
 * a temp file that is not ours to take: its name in path, fsynced.  The
 * fd, or -1 with errbuf filled and errno set.
 */

static int
gobi_storage_local_copy(gobi_storage_t *s, int fd, const char *from,
    char *path, size_t len, char *errbuf, size_t errlen)
{
    int      out, err;
    char    *buf;
    off_t    off;
    ssize_t  n, w, done;

    buf = malloc(GOBI_STORAGE_COPY_BUF);
    if (buf == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }

    out = gobi_storage_spool_file(&s->spool, path, len);
    if (out < 0) {
        err = errno;
        snprintf(errbuf, errlen, "a temp file in \"%s\" failed: %s",
                 s->spool.mine, strerror(err));
        free(buf);
        errno = err;
        return -1;
    }

    off = 0;

    for ( ;; ) {
        n = pread(fd, buf, GOBI_STORAGE_COPY_BUF, off);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            err = errno;
            snprintf(errbuf, errlen, "read(\"%s\") failed: %s", from,
                     strerror(err));
            goto failed;
        }

        if (n == 0) {
            break;
        }

        for (done = 0; done < n; done += w) {
            w = write(out, buf + done, n - done);

            if (w < 0) {
                if (errno == EINTR) {
                    w = 0;
                    continue;
                }

                err = errno;
                snprintf(errbuf, errlen, "write(\"%s\") failed: %s", path,
                         strerror(err));
                goto failed;
            }
        }

        off += n;
    }

    if (fsync(out) != 0) {
        err = errno;
        snprintf(errbuf, errlen, "fsync(\"%s\") failed: %s", path,
                 strerror(err));
        goto failed;
    }

    free(buf);

    return out;

failed:

    close(out);
    (void) unlink(path);
    free(buf);
    errno = err;

    return -1;
}


static int
gobi_storage_local_put(gobi_storage_t *s, int64_t vault, const char *hash,
    const char *tmp_path, int fd, char *errbuf, size_t errlen)
{
    int          own, err;
    char         path[PATH_MAX], vdir[PATH_MAX], dir[PATH_MAX],
                 copy[PATH_MAX];
    const char  *from;

    if (gobi_storage_local_blob(s, vault, hash, path, sizeof(path), errbuf,
                                errlen) != 0)
    {
        errno = EINVAL;
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

    /*
     * Only a file in our own temp folder is ours to take: another's (that
     * of a target before us, or on another file system) is copied, and
     * stays as it was for its owner.
     */

    own = gobi_storage_spool_holds(&s->spool, tmp_path, fd);

    if (own) {
        from = tmp_path;

        if (fsync(fd) != 0) {
            err = errno;
            snprintf(errbuf, errlen, "fsync(\"%s\") failed: %s", tmp_path,
                     strerror(err));
            errno = err;
            return -1;
        }

        (void) fchmod(fd, 0600);

    } else {
        from = copy;

        fd = gobi_storage_local_copy(s, fd, tmp_path, copy, sizeof(copy),
                                     errbuf, errlen);
        if (fd < 0) {
            return -1;
        }

        close(fd);
    }

    if (rename(from, path) != 0) {
        err = errno;
        snprintf(errbuf, errlen, "rename(\"%s\", \"%s\") failed: %s",
                 from, path, strerror(err));

        if (!own) {
            (void) unlink(copy);
        }

        errno = err;
        return -1;
    }

    if (gobi_storage_local_fsync_dir(dir) != 0) {
        err = errno;
        snprintf(errbuf, errlen, "fsync(\"%s\") failed: %s", dir,
                 strerror(err));
        errno = err;
        return -1;
    }

    return 0;
}


static int
gobi_storage_local_stat(gobi_storage_t *s, int64_t vault, const char *hash,
    int64_t *size, char *errbuf, size_t errlen)
{
    char         path[PATH_MAX];
    struct stat  st;

    if (gobi_storage_local_blob(s, vault, hash, path, sizeof(path), errbuf,
                                errlen) != 0)
    {
        return -1;
    }

    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return 0;
        }

        snprintf(errbuf, errlen, "stat(\"%s\") failed: %s", path,
                 strerror(errno));
        return -1;
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "\"%s\" is not a file", path);
        return -1;
    }

    *size = st.st_size;

    return 1;
}


static ssize_t
gobi_storage_local_read(gobi_storage_t *s, int64_t vault, const char *hash,
    int64_t off, void *buf, size_t len, char *errbuf, size_t errlen)
{
    int      fd, err;
    char     path[PATH_MAX];
    size_t   done;
    ssize_t  n;

    if (gobi_storage_local_blob(s, vault, hash, path, sizeof(path), errbuf,
                                errlen) != 0)
    {
        errno = EINVAL;
        return -1;
    }

    if (off < 0) {
        snprintf(errbuf, errlen, "negative offset");
        errno = EINVAL;
        return -1;
    }

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = (errno == ENOTDIR) ? ENOENT : errno;
        snprintf(errbuf, errlen, "open(\"%s\") failed: %s", path,
                 strerror(err));
        errno = err;
        return -1;
    }

    for (done = 0; done < len; done += n) {
        n = pread(fd, (char *) buf + done, len - done, off + done);

        if (n < 0) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }

            err = errno;
            snprintf(errbuf, errlen, "read(\"%s\") failed: %s", path,
                     strerror(err));
            close(fd);
            errno = err;
            return -1;
        }

        if (n == 0) {
            break;
        }
    }

    close(fd);

    return done;
}


static int
gobi_storage_local_remove(gobi_storage_t *s, int64_t vault, const char *hash,
    char *errbuf, size_t errlen)
{
    char  path[PATH_MAX];

    if (gobi_storage_local_blob(s, vault, hash, path, sizeof(path), errbuf,
                                errlen) != 0)
    {
        return -1;
    }

    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR) {
        snprintf(errbuf, errlen, "unlink(\"%s\") failed: %s", path,
                 strerror(errno));
        return -1;
    }

    return 0;
}


/* the first failure's words go to errbuf; the walk goes on */

static int
gobi_storage_local_rmtree(const char *dir, char *errbuf, size_t errlen,
    int *failed)
{
    char            path[PATH_MAX];
    DIR            *d;
    struct dirent  *de;
    struct stat     st;

#define gobi_storage_local_fail(what, name)                                  \
    if (!*failed) {                                                          \
        snprintf(errbuf, errlen, "%s(\"%s\") failed: %s", what, name,        \
                 strerror(errno));                                           \
        *failed = 1;                                                         \
    }

    d = opendir(dir);
    if (d == NULL) {
        if (errno != ENOENT) {
            gobi_storage_local_fail("opendir", dir);
        }

        return *failed ? -1 : 0;
    }

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, de->d_name)
            >= sizeof(path))
        {
            errno = ENAMETOOLONG;
            gobi_storage_local_fail("lstat", dir);
            continue;
        }

        if (lstat(path, &st) != 0) {
            if (errno != ENOENT) {
                gobi_storage_local_fail("lstat", path);
            }

            continue;
        }

        if (S_ISDIR(st.st_mode)) {
            (void) gobi_storage_local_rmtree(path, errbuf, errlen, failed);

        } else if (unlink(path) != 0 && errno != ENOENT) {
            gobi_storage_local_fail("unlink", path);
        }
    }

    closedir(d);

    if (rmdir(dir) != 0 && errno != ENOENT) {
        gobi_storage_local_fail("rmdir", dir);
    }

#undef gobi_storage_local_fail

    return *failed ? -1 : 0;
}


static int
gobi_storage_local_remove_vault(gobi_storage_t *s, int64_t vault,
    char *errbuf, size_t errlen)
{
    int   failed;
    char  dir[PATH_MAX];

    if (gobi_storage_local_dir(s, vault, NULL, dir, sizeof(dir)) != 0) {
        snprintf(errbuf, errlen, "vault path too long");
        return -1;
    }

    failed = 0;

    return gobi_storage_local_rmtree(dir, errbuf, errlen, &failed);
}


static int
gobi_storage_local_list(gobi_storage_t *s, int64_t vault,
    int (*cb)(void *data, const char *hash, int64_t size), void *data,
    char *errbuf, size_t errlen)
{
    int             rc;
    DIR            *v, *d;
    char            dir[PATH_MAX], sub[PATH_MAX], path[PATH_MAX];
    struct stat     st;
    struct dirent  *ve, *de;

    if (gobi_storage_local_dir(s, vault, NULL, dir, sizeof(dir)) != 0) {
        snprintf(errbuf, errlen, "vault path too long");
        return -1;
    }

    v = opendir(dir);
    if (v == NULL) {
        if (errno == ENOENT) {
            return 0;
        }

        snprintf(errbuf, errlen, "opendir(\"%s\") failed: %s", dir,
                 strerror(errno));
        return -1;
    }

    rc = 0;

    while (rc == 0 && (ve = readdir(v)) != NULL) {
        if (strlen(ve->d_name) != 2 || ve->d_name[0] == '.'
            || (size_t) snprintf(sub, sizeof(sub), "%s/%s", dir, ve->d_name)
               >= sizeof(sub))
        {
            continue;
        }

        d = opendir(sub);
        if (d == NULL) {
            if (errno == ENOENT || errno == ENOTDIR) {
                continue;
            }

            snprintf(errbuf, errlen, "opendir(\"%s\") failed: %s", sub,
                     strerror(errno));
            rc = -1;
            break;
        }

        while (rc == 0 && (de = readdir(d)) != NULL) {
            /* blobs only: not the collector's "<hash>.gc", nor strays */

            if (!gobi_storage_hash_valid(de->d_name)
                || strncmp(de->d_name, ve->d_name, 2) != 0
                || (size_t) snprintf(path, sizeof(path), "%s/%s", sub,
                                     de->d_name) >= sizeof(path)
                || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            {
                continue;
            }

            rc = cb(data, de->d_name, st.st_size);
        }

        closedir(d);
    }

    closedir(v);

    return rc;
}


/* the collector -------------------------------------------------------- */


typedef struct {
    int64_t           before;             /* this old (ms) or older: gone */
    int             (*referenced)(void *data, int64_t vault,
                                  const char *hash);
    void             *data;
    int64_t           removed;
} gobi_storage_local_gc_t;


static int64_t
gobi_storage_local_now_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int
gobi_storage_local_old(gobi_storage_local_gc_t *gc, const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0
           && (int64_t) st.st_mtim.tv_sec * 1000
              + st.st_mtim.tv_nsec / 1000000 <= gc->before;
}


static void
gobi_storage_local_gc_blob(gobi_storage_local_gc_t *gc, int64_t vault,
    const char *dir, const char *hash)
{
    char  path[PATH_MAX], aside[PATH_MAX];

    if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, hash)
            >= sizeof(path)
        || (size_t) snprintf(aside, sizeof(aside), "%s/%s.gc", dir, hash)
            >= sizeof(aside))
    {
        return;
    }

    if (!gobi_storage_local_old(gc, path)
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

    if (gobi_storage_local_old(gc, aside)
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

        if (gobi_storage_hash_valid(de->d_name)) {
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

    gc.before = gobi_storage_local_now_ms() - min_age_ms;
    gc.referenced = referenced;
    gc.data = data;
    gc.removed = 0;

    *removed = 0;

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
            if (strlen(ve->d_name) != 2 || ve->d_name[0] == '.'
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
    gobi_storage_local_stat,
    gobi_storage_local_read,
    gobi_storage_local_path,
    gobi_storage_local_remove,
    gobi_storage_local_remove_vault,
    gobi_storage_local_list,
    gobi_storage_local_collect,
    gobi_storage_local_tmp_sweep,
    gobi_storage_local_check
};
