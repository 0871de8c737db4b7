/*
 * Copyright (C) the gobi authors
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_beneath.h"
#include "gobi_out.h"
#include "gobi_path.h"
#include "gobi_scan.h"


void
gobi_scan_from_stat(const struct stat *st, gobi_scan_entry_t *e)
{
    e->size = st->st_size;
    e->mtime_ns = (int64_t) st->st_mtim.tv_sec * 1000000000
                  + st->st_mtim.tv_nsec;
    e->ino = (int64_t) st->st_ino;
}


int
gobi_scan_stat(int rootfd, const char *path, gobi_scan_entry_t *e)
{
    struct stat  st;

    if (gobi_beneath_stat(rootfd, path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            return 0;
        }

        gobi_error(gobi_errno_exit(errno), "cannot stat \"%s\": %s", path,
                   strerror(errno));
        return -1;
    }

    if (!S_ISREG(st.st_mode)) {
        return 0;
    }

    gobi_scan_from_stat(&st, e);

    return 1;
}


static int
gobi_scan_cmp(const void *a, const void *b)
{
    return strcmp(((const gobi_scan_entry_t *) a)->path,
                  ((const gobi_scan_entry_t *) b)->path);
}


static int
gobi_scan_skip_cmp(const void *a, const void *b)
{
    return strcmp(((const gobi_scan_skip_t *) a)->path,
                  ((const gobi_scan_skip_t *) b)->path);
}


/* not synced: listed for status; takes path */
static void
gobi_scan_skip(gobi_scan_t *out, char *path, const char *why)
{
    if (out->nskips == out->skips_cap) {
        out->skips_cap = out->skips_cap ? out->skips_cap * 2 : 16;
        out->skips = gobi_realloc(out->skips,
                                  out->skips_cap * sizeof(gobi_scan_skip_t));
    }

    out->skips[out->nskips].path = path;
    out->skips[out->nskips].why = why;
    out->nskips++;
}


static int
gobi_scan_dir(int dfd, const char *prefix, gobi_ignore_t *ig,
    gobi_scan_t *out)
{
    DIR                *d;
    struct dirent      *de;
    struct stat         st;
    gobi_scan_entry_t  *e;
    char               *path;
    const char         *why;
    int                 fd, rc, is_dir;

    d = fdopendir(dfd);
    if (d == NULL) {
        rc = gobi_error(gobi_errno_exit(errno), "cannot read folder \"%s\": "
                        "%s", *prefix ? prefix : ".", strerror(errno));
        close(dfd);
        return rc;
    }

    rc = 0;

    for ( ;; ) {
        errno = 0;
        de = readdir(d);

        if (de == NULL) {
            if (errno != 0) {
                rc = gobi_error(gobi_errno_exit(errno), "cannot read folder "
                                "\"%s\": %s", *prefix ? prefix : ".",
                                strerror(errno));
            }

            break;
        }

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (*prefix == '\0' && strcmp(de->d_name, ".gobi") == 0) {
            continue;
        }

        path = *prefix ? gobi_sprintf("%s/%s", prefix, de->d_name)
                       : gobi_strdup(de->d_name);

        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) {
                gobi_warn("cannot stat \"%s\": %s", path, strerror(errno));
                gobi_scan_skip(out, path, "cannot be read");

            } else {
                free(path);
            }

            continue;
        }

        is_dir = S_ISDIR(st.st_mode);

        if (gobi_ignore_entry(ig, path, is_dir)) {
            free(path);
            continue;
        }

        if (S_ISLNK(st.st_mode)) {
            /* never followed: its target may be anywhere */
            gobi_out_v("skipping \"%s\": a symbolic link", path);
            gobi_scan_skip(out, path, "symbolic link");
            continue;
        }

        if (!is_dir && !S_ISREG(st.st_mode)) {
            gobi_scan_skip(out, path, "special file");
            continue;
        }

        why = gobi_path_check(path, strlen(path));

        if (why) {
            gobi_out_v("skipping \"%s\": %s", path, why);
            gobi_scan_skip(out, path, why);
            continue;
        }

        if (is_dir) {
            fd = openat(dfd, de->d_name,
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

            if (fd < 0) {
                gobi_warn("cannot open folder \"%s\": %s", path,
                          strerror(errno));
                gobi_scan_skip(out, path, "cannot be read");
                continue;
            }

            rc = gobi_scan_dir(fd, path, ig, out);
            free(path);

            if (rc != 0) {
                break;
            }

            continue;
        }

        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->files = gobi_realloc(out->files,
                                      out->cap * sizeof(gobi_scan_entry_t));
        }

        e = &out->files[out->n++];
        e->path = path;
        gobi_scan_from_stat(&st, e);
    }

    closedir(d);

    return rc;
}


int
gobi_scan_tree(int rootfd, gobi_ignore_t *ig, gobi_scan_t *out)
{
    int  fd, rc;

    memset(out, 0, sizeof(gobi_scan_t));

    fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return gobi_error(gobi_errno_exit(errno), "cannot open the vault "
                          "folder: %s", strerror(errno));
    }

    rc = gobi_scan_dir(fd, "", ig, out);

    if (rc != 0) {
        gobi_scan_free(out);
        return rc;
    }

    if (out->n > 1) {
        qsort(out->files, out->n, sizeof(gobi_scan_entry_t), gobi_scan_cmp);
    }

    if (out->nskips > 1) {
        qsort(out->skips, out->nskips, sizeof(gobi_scan_skip_t),
              gobi_scan_skip_cmp);
    }

    return 0;
}


void
gobi_scan_free(gobi_scan_t *s)
{
    size_t  i;

    for (i = 0; i < s->n; i++) {
        free(s->files[i].path);
    }

    for (i = 0; i < s->nskips; i++) {
        free(s->skips[i].path);
    }

    free(s->files);
    free(s->skips);
    memset(s, 0, sizeof(gobi_scan_t));
}
