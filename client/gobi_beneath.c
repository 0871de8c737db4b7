/*
 * Copyright (C) the gobi authors
 *
 * Paths beneath the vault root, never through a symbolic link: openat2()
 * where the kernel has it, else a walk of O_NOFOLLOW opens.  Only libc
 * here: every file that writes in the folder uses this one.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "gobi_beneath.h"


#define GOBI_RESOLVE  (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS                 \
                       | RESOLVE_NO_MAGICLINKS)


static int  gobi_beneath_has_openat2 = -1;  /* -1: not tried yet */


static void
gobi_beneath_close(int fd)
{
    int  err;

    err = errno;
    close(fd);
    errno = err;
}


/* -1 with ENOSYS when openat2 is not there (or GOBI_NO_OPENAT2 is set) */
static int
gobi_beneath_openat2(int rootfd, const char *path, int flags, mode_t mode)
{
    struct open_how   how;
    const char       *env;
    int               fd;

    if (gobi_beneath_has_openat2 < 0) {
        env = getenv("GOBI_NO_OPENAT2");
        gobi_beneath_has_openat2 = (env == NULL || *env == '\0'
                                    || strcmp(env, "0") == 0);
    }

    if (!gobi_beneath_has_openat2) {
        errno = ENOSYS;
        return -1;
    }

    memset(&how, 0, sizeof(struct open_how));
    how.flags = flags;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = GOBI_RESOLVE;

    fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(struct open_how));

    if (fd < 0 && errno == ENOSYS) {
        gobi_beneath_has_openat2 = 0;
    }

    return fd;
}


/*
 * Errors after which the walk is tried: no openat2 (ENOSYS), a seccomp
 * filter that does not know it (EPERM, old container runtimes), a race
 * the kernel would not resolve (EAGAIN).  The walk is as strict.
 */
static int
gobi_beneath_fallback(void)
{
    return errno == ENOSYS || errno == EPERM || errno == EAGAIN;
}


/* one component below the folder fd: a folder, never a link */
static int
gobi_beneath_step(int fd, const char *name)
{
    struct stat  st;
    int          nfd;

    nfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (nfd < 0) {
        return -1;
    }

    if (fstat(nfd, &st) != 0) {
        gobi_beneath_close(nfd);
        return -1;
    }

    if (!S_ISDIR(st.st_mode)) {
        close(nfd);
        errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
        return -1;
    }

    return nfd;
}


/* the next component of *p into name; 0 at the end, -1 a bad one */
static int
gobi_beneath_next(const char **p, char name[NAME_MAX + 1])
{
    const char  *s;
    size_t       len;

    if (**p == '\0') {
        return 0;
    }

    s = strchr(*p, '/');
    len = s ? (size_t) (s - *p) : strlen(*p);

    if (len > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }

    if (len == 0 || strncmp(*p, "..", len) == 0) {
        /* "", "." and "..": vault paths have none */
        errno = EINVAL;
        return -1;
    }

    memcpy(name, *p, len);
    name[len] = '\0';
    *p += s ? len + 1 : len;

    return 1;
}


/* the folder dir, one O_NOFOLLOW open at a time; create: mkdir -p */
static int
gobi_beneath_walk(int rootfd, const char *dir, int create, mode_t mode)
{
    char         name[NAME_MAX + 1];
    const char  *p;
    int          fd, nfd, rc;

    fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    p = dir;

    while (fd >= 0) {
        rc = gobi_beneath_next(&p, name);

        if (rc <= 0) {
            if (rc < 0) {
                gobi_beneath_close(fd);
                fd = -1;
            }

            break;
        }

        if (create && mkdirat(fd, name, mode) != 0 && errno != EEXIST) {
            gobi_beneath_close(fd);
            return -1;
        }

        nfd = gobi_beneath_step(fd, name);
        gobi_beneath_close(fd);
        fd = nfd;
    }

    return fd;
}


static int
gobi_beneath_dir_len(int rootfd, const char *path, size_t len)
{
    char  dir[PATH_MAX];
    int   fd;

    if (len == 0) {
        return fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    }

    if (len >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    memcpy(dir, path, len);
    dir[len] = '\0';

    fd = gobi_beneath_openat2(rootfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
                              0);

    if (fd < 0 && gobi_beneath_fallback()) {
        fd = gobi_beneath_walk(rootfd, dir, 0, 0);
    }

    return fd;
}


int
gobi_beneath_dir(int rootfd, const char *path)
{
    return gobi_beneath_dir_len(rootfd, path, strlen(path));
}


int
gobi_beneath_parent(int rootfd, const char *path, const char **name)
{
    const char  *slash;

    slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;

    if (**name == '\0') {
        errno = EINVAL;
        return -1;
    }

    return gobi_beneath_dir_len(rootfd, path, slash ? slash - path : 0);
}


int
gobi_beneath_open(int rootfd, const char *path, int flags, mode_t mode)
{
    const char  *name;
    int          fd, dfd;

    flags |= O_NOFOLLOW | O_CLOEXEC;

    fd = gobi_beneath_openat2(rootfd, path, flags, mode);

    if (fd >= 0 || !gobi_beneath_fallback()) {
        return fd;
    }

    dfd = gobi_beneath_parent(rootfd, path, &name);
    if (dfd < 0) {
        return -1;
    }

    fd = openat(dfd, name, flags, mode);
    gobi_beneath_close(dfd);

    return fd;
}


int
gobi_beneath_stat(int rootfd, const char *path, struct stat *st)
{
    const char  *name;
    int          dfd, rc;

    dfd = gobi_beneath_parent(rootfd, path, &name);
    if (dfd < 0) {
        return -1;
    }

    rc = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW);
    gobi_beneath_close(dfd);

    return rc;
}


int
gobi_beneath_mkdir(int rootfd, const char *path, mode_t mode)
{
    const char  *name;
    int          dfd, rc;

    dfd = gobi_beneath_parent(rootfd, path, &name);
    if (dfd < 0) {
        return -1;
    }

    rc = mkdirat(dfd, name, mode);
    gobi_beneath_close(dfd);

    return rc;
}


int
gobi_beneath_mkparents(int rootfd, const char *path, mode_t mode)
{
    char         dir[PATH_MAX];
    const char  *slash;
    size_t       len;
    int          fd;

    slash = strrchr(path, '/');
    if (slash == NULL) {
        return 0;
    }

    len = slash - path;

    if (len >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    memcpy(dir, path, len);
    dir[len] = '\0';

    /* most downloads go into folders that are there: one open */
    fd = gobi_beneath_dir_len(rootfd, dir, len);

    if (fd < 0 && errno == ENOENT) {
        fd = gobi_beneath_walk(rootfd, dir, 1, mode);
    }

    if (fd < 0) {
        return -1;
    }

    close(fd);

    return 0;
}


int
gobi_beneath_rename(int rootfd, const char *from, const char *to,
    unsigned int flags)
{
    const char  *fname, *tname;
    int          ffd, tfd, rc;

    ffd = gobi_beneath_parent(rootfd, from, &fname);
    if (ffd < 0) {
        return -1;
    }

    tfd = gobi_beneath_parent(rootfd, to, &tname);
    if (tfd < 0) {
        gobi_beneath_close(ffd);
        return -1;
    }

    rc = flags ? renameat2(ffd, fname, tfd, tname, flags)
               : renameat(ffd, fname, tfd, tname);

    gobi_beneath_close(ffd);
    gobi_beneath_close(tfd);

    return rc;
}


int
gobi_beneath_unlink(int rootfd, const char *path, int flags)
{
    const char  *name;
    int          dfd, rc;

    dfd = gobi_beneath_parent(rootfd, path, &name);
    if (dfd < 0) {
        return -1;
    }

    rc = unlinkat(dfd, name, flags);
    gobi_beneath_close(dfd);

    return rc;
}


size_t
gobi_beneath_link(int rootfd, const char *path)
{
    char         prefix[PATH_MAX];
    struct stat  st;
    size_t       len;
    int          err;

    err = errno;

    /* each prefix in turn: the ones before it were no links */
    for (len = 0; path[len] && len < sizeof(prefix) - 1; len++) {
        prefix[len] = path[len];

        if (path[len + 1] != '/' && path[len + 1] != '\0') {
            continue;
        }

        prefix[len + 1] = '\0';

        if (fstatat(rootfd, prefix, &st, AT_SYMLINK_NOFOLLOW) != 0
            || !(S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)))
        {
            break;
        }

        if (S_ISLNK(st.st_mode)) {
            errno = err;
            return len + 1;
        }
    }

    errno = err;

    return 0;
}
