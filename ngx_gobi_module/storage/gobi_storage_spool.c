/*
 * Copyright (C) the gobi authors
 *
 * A process's upload temp folder, locked while it lives: see
 * gobi_storage_spool.h.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gobi_storage_spool.h"


#define GOBI_STORAGE_SPOOL_TRIES  16      /* names for a temp folder */


static int64_t gobi_storage_spool_clear(const char *dir, time_t before,
    int *left);


/* this host in folder names: no '.', which ends it */

static void
gobi_storage_spool_host(gobi_storage_spool_t *sp)
{
    size_t  i;

    if (gethostname(sp->host, sizeof(sp->host)) != 0) {
        sp->host[0] = '\0';
    }

    sp->host[sizeof(sp->host) - 1] = '\0';

    for (i = 0; sp->host[i]; i++) {
        if (!isalnum((unsigned char) sp->host[i]) && sp->host[i] != '-') {
            sp->host[i] = '_';
        }
    }

    if (i == 0) {
        strcpy(sp->host, "localhost");
    }
}


/*
 * A folder of the same name is what a dead process of the same pid left (a
 * live one holds the lock: then the next name); one that a sweep removed
 * meanwhile shows in its inode, and the next name is made.
 */

int
gobi_storage_spool_open(gobi_storage_spool_t *sp, const char *parent,
    char *errbuf, size_t errlen)
{
    int          n, fd, i, left;
    struct stat  named, held;

    sp->lock = -1;

    if ((size_t) snprintf(sp->parent, sizeof(sp->parent), "%s", parent)
        >= sizeof(sp->parent))
    {
        snprintf(errbuf, errlen, "temp folder path too long");
        return -1;
    }

    if (mkdir(parent, 0700) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "mkdir(\"%s\") failed: %s", parent,
                 strerror(errno));
        return -1;
    }

    gobi_storage_spool_host(sp);

    for (i = 0; i < GOBI_STORAGE_SPOOL_TRIES; i++) {

        if (i == 0) {
            n = snprintf(sp->mine, sizeof(sp->mine), "%s/%s.%ld", parent,
                         sp->host, (long) getpid());

        } else {
            n = snprintf(sp->mine, sizeof(sp->mine), "%s/%s.%ld.%d", parent,
                         sp->host, (long) getpid(), i);
        }

        if (n < 0 || (size_t) n >= sizeof(sp->mine)) {
            snprintf(errbuf, errlen, "temp folder path too long");
            return -1;
        }

        if (mkdir(sp->mine, 0700) != 0 && errno != EEXIST) {
            snprintf(errbuf, errlen, "mkdir(\"%s\") failed: %s", sp->mine,
                     strerror(errno));
            return -1;
        }

        fd = open(sp->mine, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT) {
                continue;
            }

            snprintf(errbuf, errlen, "open(\"%s\") failed: %s", sp->mine,
                     strerror(errno));
            return -1;
        }

        if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
            close(fd);
            continue;
        }

        /* (a file system without locks: sweeps go by age there) */

        if (stat(sp->mine, &named) != 0 || fstat(fd, &held) != 0
            || named.st_dev != held.st_dev || named.st_ino != held.st_ino)
        {
            close(fd);
            continue;
        }

        (void) gobi_storage_spool_clear(sp->mine, 0, &left);

        sp->lock = fd;
        sp->dev = held.st_dev;
        sp->ino = held.st_ino;

        return 0;
    }

    snprintf(errbuf, errlen, "no temp folder of its own under \"%s\"",
             parent);
    return -1;
}


void
gobi_storage_spool_close(gobi_storage_spool_t *sp)
{
    int  left;

    if (sp->lock < 0) {
        return;
    }

    /* the worker exits: nothing of it is in flight any more */
    (void) gobi_storage_spool_clear(sp->mine, 0, &left);

    if (!left) {
        (void) rmdir(sp->mine);
    }

    close(sp->lock);
    sp->lock = -1;
}


int
gobi_storage_spool_holds(gobi_storage_spool_t *sp, const char *path, int fd)
{
    char         dir[PATH_MAX];
    size_t       n;
    const char  *slash;
    struct stat  st, named;

    slash = strrchr(path, '/');
    if (slash == NULL) {
        return 0;
    }

    n = slash - path;
    if (n == 0 || n >= sizeof(dir)) {
        return 0;
    }

    memcpy(dir, path, n);
    dir[n] = '\0';

    /* the folder by its inode (however it is spelled), the file as fd */

    return stat(dir, &st) == 0 && st.st_dev == sp->dev
           && st.st_ino == sp->ino
           && lstat(path, &named) == 0 && S_ISREG(named.st_mode)
           && fstat(fd, &st) == 0 && st.st_dev == named.st_dev
           && st.st_ino == named.st_ino;
}


int
gobi_storage_spool_file(gobi_storage_spool_t *sp, char *path, size_t len)
{
    int  n, fd;

    n = snprintf(path, len, "%s/put.XXXXXX", sp->mine);
    if (n < 0 || (size_t) n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }

    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) {
        (void) fchmod(fd, 0600);
    }

    return fd;
}


/*
 * Unlinks the files in a temp folder (but dot files, such as NFS's silly
 * renames) whose mtime is before `before` (0: all), and counts them;
 * *left tells that something stays.
 */

static int64_t
gobi_storage_spool_clear(const char *dir, time_t before, int *left)
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
gobi_storage_spool_dead(const char *dir, int local, time_t before)
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

    n = gobi_storage_spool_clear(dir, local ? 0 : before, &left);

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


int
gobi_storage_spool_sweep(gobi_storage_spool_t *sp, int64_t min_age_ms,
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
    hlen = strlen(sp->host);
    *removed = 0;

    d = opendir(sp->parent);
    if (d == NULL) {
        return -1;
    }

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.'
            || (size_t) snprintf(path, sizeof(path), "%s/%s", sp->parent,
                                 de->d_name) >= sizeof(path)
            || strcmp(path, sp->mine) == 0
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
            local = strncmp(de->d_name, sp->host, hlen) == 0
                    && de->d_name[hlen] == '.';

            *removed += gobi_storage_spool_dead(path, local, before);
        }
    }

    closedir(d);

    return 0;
}


int
gobi_storage_hash_valid(const char *hash)
{
    size_t  i;

    for (i = 0; i < GOBI_STORAGE_HASH_LEN; i++) {
        if (!((hash[i] >= '0' && hash[i] <= '9')
              || (hash[i] >= 'a' && hash[i] <= 'f')))
        {
            return 0;
        }
    }

    return hash[i] == '\0';
}
