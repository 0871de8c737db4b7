/*
 * Copyright (C) the gobi authors
 *
 * The local side: comparing a file with its base, conflict copies, temp
 * files, batched base writes.  Nothing here follows a symbolic link in
 * the folder (gobi_beneath.c).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_beneath.h"
#include "gobi_hash.h"
#include "gobi_local.h"
#include "gobi_map.h"
#include "gobi_out.h"
#include "gobi_path.h"
#include "gobi_scan.h"
#include "gobi_state.h"
#include "gobi_strategy.h"


#define GOBI_BATCH        512              /* base writes per commit */
#define GOBI_RACY_NS      2000000000LL     /* mtimes this recent: rehash */


typedef struct {
    char               *path;
    gobi_scan_entry_t   stat;
    char                hash[GOBI_HASH_HEX_LEN + 1];
} gobi_hash_cache_t;


int64_t
gobi_local_lmtime(const gobi_scan_entry_t *e)
{
    struct timespec  ts;
    int64_t          now;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;

    /*
     * A file written again within the same timestamp tick keeps its mtime:
     * do not trust a recent one, hash the file again next time.
     */
    if (e->mtime_ns > now - GOBI_RACY_NS) {
        return 0;
    }

    return e->mtime_ns;
}


int
gobi_local_same(const gobi_scan_entry_t *a, const gobi_scan_entry_t *b)
{
    return a->size == b->size && a->mtime_ns == b->mtime_ns
           && a->ino == b->ino;
}


int
gobi_local_hash(gobi_sync_t *s, const char *path, const gobi_scan_entry_t *e,
    char hash[GOBI_HASH_HEX_LEN + 1])
{
    gobi_hash_cache_t  *c;
    gobi_scan_entry_t   now;
    struct stat         st;
    int64_t             size;
    int                 fd;

    c = gobi_map_get(&s->hashes, path);

    if (c && gobi_local_same(&c->stat, e)) {
        memcpy(hash, c->hash, sizeof(c->hash));
        return 0;
    }

    fd = gobi_beneath_open(s->rootfd, path, O_RDONLY, 0);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            /* gone, or a link now: the caller looks again */
            return GOBI_LOCAL_CHANGING;
        }

        return gobi_error(gobi_errno_exit(errno), "cannot read \"%s\": %s",
                          path, strerror(errno));
    }

    if (gobi_hash_fd(fd, hash, &size) != 0 || fstat(fd, &st) != 0) {
        close(fd);
        return gobi_error(gobi_errno_exit(errno), "cannot read \"%s\": %s",
                          path, strerror(errno));
    }

    close(fd);

    gobi_scan_from_stat(&st, &now);

    if (!gobi_local_same(&now, e) || size != e->size) {
        /* changing under us: the caller looks again later */
        return GOBI_LOCAL_CHANGING;
    }

    if (c == NULL) {
        c = gobi_calloc(sizeof(gobi_hash_cache_t));
        c->path = gobi_strdup(path);
        gobi_map_put(&s->hashes, c->path, c);
    }

    c->stat = *e;
    memcpy(c->hash, hash, sizeof(c->hash));

    return 0;
}


/* 1: a regular file in st; 0: l->state says what is there; or an error */
static int
gobi_local_lstat(gobi_sync_t *s, const char *path, struct stat *st,
    gobi_local_t *l)
{
    if (gobi_beneath_stat(s->rootfd, path, st) != 0) {
        if (errno == ELOOP) {
            /* a folder on the path is a link: not ours to look into */
            l->state = GOBI_L_OTHER;
            l->link = 1;
            return 0;
        }

        if (errno != ENOENT && errno != ENOTDIR) {
            return gobi_error(gobi_errno_exit(errno), "cannot stat \"%s\": "
                              "%s", path, strerror(errno));
        }

        l->state = l->has_base ? GOBI_L_DELETED : GOBI_L_ABSENT;
        return 0;
    }

    if (!S_ISREG(st->st_mode)) {
        l->state = GOBI_L_OTHER;
        l->link = S_ISLNK(st->st_mode);
        return 0;
    }

    return 1;
}


int
gobi_local_get(gobi_sync_t *s, const char *path, gobi_local_t *l)
{
    struct stat   st;
    int           rc;

    memset(l, 0, sizeof(gobi_local_t));

    rc = gobi_state_base_get(s->st, path, &l->base);
    if (rc < 0) {
        return gobi_error_code();
    }

    l->has_base = rc;

    rc = gobi_local_lstat(s, path, &st, l);
    if (rc != 1) {
        return rc;
    }

    gobi_scan_from_stat(&st, &l->stat);

    if (l->has_base && l->base.lmtime != 0
        && l->base.lmtime == l->stat.mtime_ns
        && l->base.size == l->stat.size && l->base.ino == l->stat.ino)
    {
        l->state = GOBI_L_UNCHANGED;
        memcpy(l->hash, l->base.hash, sizeof(l->hash));
        return 0;
    }

    for ( ;; ) {
        rc = gobi_local_hash(s, path, &l->stat, l->hash);

        if (rc == 0) {
            break;
        }

        if (rc != GOBI_LOCAL_CHANGING) {
            return rc;
        }

        /* it changed while we read it, or went away: look again */
        rc = gobi_local_lstat(s, path, &st, l);
        if (rc != 1) {
            return rc;
        }

        gobi_scan_from_stat(&st, &l->stat);
    }

    if (l->has_base && strcmp(l->hash, l->base.hash) == 0) {
        l->state = GOBI_L_UNCHANGED;

        /* remember the new stat: no hashing next time */
        if (l->base.lmtime != gobi_local_lmtime(&l->stat)
            || l->base.ino != l->stat.ino)
        {
            l->base.path = (char *) path;
            l->base.lmtime = gobi_local_lmtime(&l->stat);
            l->base.ino = l->stat.ino;
            rc = gobi_sync_base_put(s, &l->base);
            l->base.path = NULL;

            if (rc != 0) {
                return rc;
            }
        }

        return 0;
    }

    l->state = GOBI_L_CHANGED;

    return 0;
}


/* a free name beside path, in its folder dfd (the rule: lib's, as the
 * server's copies) */
static char *
gobi_local_conflict_name(gobi_sync_t *s, int dfd, const char *path)
{
    const char  *slash;
    char         date[32], copy[GOBI_PATH_MAX + 1];
    time_t       t;
    struct tm    tm;
    size_t       dirlen;
    int          i;
    struct stat  st;

    t = time(NULL);

    if (localtime_r(&t, &tm) == NULL
        || strftime(date, sizeof(date), "%Y-%m-%d %H%M%S", &tm) == 0)
    {
        snprintf(date, sizeof(date), "%lld", (long long) t);
    }

    slash = strrchr(path, '/');
    dirlen = slash ? (size_t) (slash + 1 - path) : 0;

    for (i = 1; i < 1000; i++) {
        if (gobi_conflict_name(copy, sizeof(copy), path, s->device, date, i)
            == 0)
        {
            return NULL;
        }

        /* free, or not for fstatat to say: RENAME_NOREPLACE decides */
        if (fstatat(dfd, copy + dirlen, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            return gobi_strdup(copy);
        }
    }

    return NULL;
}


int
gobi_local_conflict_copy(gobi_sync_t *s, const char *path,
    int64_t remote_version, char **out)
{
    const char  *name;
    char        *copy;
    int          rc, tries, dfd;

    /* the copy goes beside the file: one folder, opened once */
    dfd = gobi_beneath_parent(s->rootfd, path, &name);
    copy = NULL;
    rc = dfd < 0 ? errno : 0;

    for (tries = 0; dfd >= 0 && tries < 10; tries++) {
        copy = gobi_local_conflict_name(s, dfd, path);

        if (copy == NULL) {
            break;
        }

        if (renameat2(dfd, name, dfd, copy + (name - path), RENAME_NOREPLACE)
            == 0)
        {
            rc = 0;
            break;
        }

        rc = errno;
        free(copy);
        copy = NULL;

        if (rc != EEXIST) {
            break;
        }
    }

    if (dfd >= 0) {
        close(dfd);
    }

    if (rc == ENOENT || rc == ENOTDIR) {
        /* the local file went away meanwhile: nothing to keep */
        if (out) {
            *out = NULL;
        }

        return 0;
    }

    if (rc != 0 && rc != EEXIST) {
        return gobi_error(gobi_errno_exit(rc), "cannot keep the local "
                          "version of \"%s\": %s", path,
                          rc == ELOOP ? "a folder on the path is a symbolic "
                                        "link" : strerror(rc));
    }

    if (copy == NULL) {
        return gobi_error(GOBI_EXIT_ERROR, "cannot name a conflict copy of "
                          "\"%s\"", path);
    }

    rc = gobi_state_conflict_add(s->st, path, copy, remote_version);
    if (rc != 0) {
        free(copy);
        return rc;
    }

    s->stats.conflicts++;
    gobi_warn("conflict: \"%s\" changed here and on the server; your "
              "version is kept as \"%s\"", path, copy);

    if (out) {
        *out = copy;

    } else {
        free(copy);
    }

    return 0;
}


void
gobi_local_prune_dirs(gobi_sync_t *s, const char *path)
{
    char  *p, *slash;

    p = gobi_strdup(path);

    while ((slash = strrchr(p, '/')) != NULL) {
        *slash = '\0';

        if (gobi_beneath_unlink(s->rootfd, p, AT_REMOVEDIR) != 0) {
            break;
        }
    }

    free(p);
}


int
gobi_local_tmpfile(gobi_sync_t *s, char **name)
{
    static unsigned int   n;
    char                 *tmp;
    int                   fd, tries, err;

    /* O_EXCL and no links: nothing there is opened but our new file */
    for (tries = 0; tries < 100; tries++) {
        tmp = gobi_sprintf(".gobi/tmp/dl.%ld.%u", (long) getpid(), n++);
        fd = gobi_beneath_open(s->rootfd, tmp, O_RDWR | O_CREAT | O_EXCL,
                               0600);

        if (fd >= 0) {
            *name = tmp;
            return fd;
        }

        err = errno;
        free(tmp);

        if (err == ENOENT && tries == 0) {
            /* someone removed .gobi/tmp */
            gobi_beneath_mkdir(s->rootfd, ".gobi/tmp", 0700);
            continue;
        }

        if (err != EEXIST) {
            break;
        }
    }

    gobi_error(gobi_errno_exit(err), "cannot create a temporary file in "
               "%s/.gobi/tmp: %s", s->root,
               err == ELOOP ? "it is a symbolic link" : strerror(err));

    return -1;
}


static int
gobi_sync_batch(gobi_sync_t *s)
{
    int  rc;

    if (s->batch >= GOBI_BATCH) {
        rc = gobi_sync_flush(s);
        if (rc != 0) {
            return rc;
        }
    }

    if (s->batch == 0) {
        rc = gobi_state_begin(s->st);
        if (rc != 0) {
            return rc;
        }
    }

    s->batch++;

    return 0;
}


int
gobi_sync_base_put(gobi_sync_t *s, const gobi_base_t *b)
{
    int  rc;

    rc = gobi_sync_batch(s);
    if (rc != 0) {
        return rc;
    }

    return gobi_state_base_put(s->st, b);
}


int
gobi_sync_base_del(gobi_sync_t *s, const char *path)
{
    int  rc;

    rc = gobi_sync_batch(s);
    if (rc != 0) {
        return rc;
    }

    return gobi_state_base_del(s->st, path);
}


int
gobi_sync_flush(gobi_sync_t *s)
{
    /*
     * Files renamed into place must be on disk before the base says we
     * have them: one syncfs for the whole batch instead of an fsync each.
     */
    if (s->dirty_files) {
        if (syncfs(s->rootfd) != 0) {
            return gobi_error(gobi_errno_exit(errno), "cannot flush files "
                              "to disk: %s", strerror(errno));
        }

        s->dirty_files = 0;
    }

    s->batch = 0;

    return gobi_state_commit(s->st);
}
