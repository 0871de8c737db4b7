/*
 * Copyright (C) the gobi authors
 *
 * libgit2 is initialized once per process, by whichever thread merges
 * first, and never shut down: its global state is a few allocations.  Its
 * merge of buffers needs no repository and shares nothing between calls,
 * so any number of pool threads may merge at once; that holds only for a
 * libgit2 built with threads (Debian's is), which the init checks.
 *
 * The text checks come before libgit2 sees anything: it would take a NUL
 * in the first 8000 bytes for binary (a conflict), and one further on for
 * text.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <git2.h>

#include "gobi_utf8.h"
#include "gobi_merge.h"


static void gobi_merge_init(void);
static int gobi_merge_is_text(const char *side, const char *p, size_t len,
    char *errbuf, size_t errlen);
static gobi_merge_rc_e gobi_merge_read(const char *path, char **buf,
    size_t *len, char *errbuf, size_t errlen);


static pthread_once_t  gobi_merge_once = PTHREAD_ONCE_INIT;
static char            gobi_merge_init_err[256];   /* "": initialized */


static void
gobi_merge_init(void)
{
    const git_error  *e;

    if (!(git_libgit2_features() & GIT_FEATURE_THREADS)) {
        snprintf(gobi_merge_init_err, sizeof(gobi_merge_init_err),
                 "libgit2 is built without threads");
        return;
    }

    if (git_libgit2_init() < 0) {
        e = git_error_last();
        snprintf(gobi_merge_init_err, sizeof(gobi_merge_init_err),
                 "git_libgit2_init: %s", e ? e->message : "failed");
    }
}


gobi_merge_rc_e
gobi_merge_text(const char *base, size_t blen, const char *ours, size_t olen,
    const char *theirs, size_t tlen, char **out, size_t *outlen,
    char *errbuf, size_t errlen)
{
    const git_error        *e;
    git_merge_file_input    b, o, t;
    git_merge_file_result   res;

    *out = NULL;
    *outlen = 0;

    if (!gobi_merge_is_text("base", base, blen, errbuf, errlen)
        || !gobi_merge_is_text("ours", ours, olen, errbuf, errlen)
        || !gobi_merge_is_text("theirs", theirs, tlen, errbuf, errlen))
    {
        return GOBI_MERGE_NOT_TEXT;
    }

    (void) pthread_once(&gobi_merge_once, gobi_merge_init);

    if (gobi_merge_init_err[0] != '\0') {
        snprintf(errbuf, errlen, "%s", gobi_merge_init_err);
        return GOBI_MERGE_ERROR;
    }

    /* not the INIT macros: they leave fields out, which -Wextra minds */
    (void) git_merge_file_input_init(&b, GIT_MERGE_FILE_INPUT_VERSION);
    (void) git_merge_file_input_init(&o, GIT_MERGE_FILE_INPUT_VERSION);
    (void) git_merge_file_input_init(&t, GIT_MERGE_FILE_INPUT_VERSION);

    /* an empty input may come as NULL; libgit2 wants a pointer */
    b.ptr = blen ? base : "";
    b.size = blen;
    o.ptr = olen ? ours : "";
    o.size = olen;
    t.ptr = tlen ? theirs : "";
    t.size = tlen;

    /* on failure res is freed already */
    if (git_merge_file(&res, &b, &o, &t, NULL) < 0) {
        e = git_error_last();
        snprintf(errbuf, errlen, "git_merge_file: %s",
                 e ? e->message : "failed");
        return GOBI_MERGE_ERROR;
    }

    if (!res.automergeable) {
        git_merge_file_result_free(&res);
        return GOBI_MERGE_CONFLICT;
    }

    /* ours to give away: libgit2's allocator need not be malloc() */
    *out = malloc(res.len ? res.len : 1);
    if (*out == NULL) {
        git_merge_file_result_free(&res);
        snprintf(errbuf, errlen, "out of memory");
        return GOBI_MERGE_ERROR;
    }

    if (res.len) {
        memcpy(*out, res.ptr, res.len);
    }

    *outlen = res.len;
    git_merge_file_result_free(&res);

    return GOBI_MERGE_CLEAN;
}


static int
gobi_merge_is_text(const char *side, const char *p, size_t len,
    char *errbuf, size_t errlen)
{
    if (len > GOBI_MERGE_MAX) {
        snprintf(errbuf, errlen, "%s: over %d bytes", side, GOBI_MERGE_MAX);
        return 0;
    }

    if (len == 0) {
        return 1;
    }

    /* valid UTF-8, but not text */
    if (memchr(p, '\0', len) != NULL) {
        snprintf(errbuf, errlen, "%s: a NUL byte", side);
        return 0;
    }

    if (!gobi_utf8_valid((const unsigned char *) p, len)) {
        snprintf(errbuf, errlen, "%s: not UTF-8", side);
        return 0;
    }

    return 1;
}


gobi_merge_rc_e
gobi_merge_files(const char *base_path, const char *ours_path,
    const char *theirs_path, char **out, size_t *outlen,
    char *errbuf, size_t errlen)
{
    int               i;
    char             *buf[3] = { NULL, NULL, NULL };
    size_t            len[3];
    const char       *path[3];
    gobi_merge_rc_e   rc;

    *out = NULL;
    *outlen = 0;

    path[0] = base_path;
    path[1] = ours_path;
    path[2] = theirs_path;

    for (i = 0; i < 3; i++) {
        rc = gobi_merge_read(path[i], &buf[i], &len[i], errbuf, errlen);
        if (rc != GOBI_MERGE_CLEAN) {
            goto done;
        }
    }

    rc = gobi_merge_text(buf[0], len[0], buf[1], len[1], buf[2], len[2],
                         out, outlen, errbuf, errlen);

done:

    for (i = 0; i < 3; i++) {
        free(buf[i]);
    }

    return rc;
}


/* a whole file into *buf (malloc()ed): CLEAN when read, or why not */

static gobi_merge_rc_e
gobi_merge_read(const char *path, char **buf, size_t *len, char *errbuf,
    size_t errlen)
{
    int              fd;
    char            *p;
    size_t           size, n;
    ssize_t          r;
    struct stat      st;
    gobi_merge_rc_e  rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(errbuf, errlen, "open(\"%s\"): %s", path, strerror(errno));
        return GOBI_MERGE_ERROR;
    }

    p = NULL;
    rc = GOBI_MERGE_ERROR;

    if (fstat(fd, &st) != 0) {
        snprintf(errbuf, errlen, "fstat(\"%s\"): %s", path, strerror(errno));
        goto done;
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "\"%s\" is not a file", path);
        goto done;
    }

    if (st.st_size > GOBI_MERGE_MAX) {
        snprintf(errbuf, errlen, "\"%s\": over %d bytes", path,
                 GOBI_MERGE_MAX);
        rc = GOBI_MERGE_NOT_TEXT;
        goto done;
    }

    /* one byte more than fstat() said, to see a file that grew */
    size = (size_t) st.st_size;

    p = malloc(size + 1);
    if (p == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto done;
    }

    for (n = 0; n <= size; n += r) {
        r = read(fd, p + n, size + 1 - n);

        if (r == -1) {
            if (errno == EINTR) {
                r = 0;
                continue;
            }

            snprintf(errbuf, errlen, "read(\"%s\"): %s", path,
                     strerror(errno));
            goto done;
        }

        if (r == 0) {
            break;
        }
    }

    if (n > size) {
        snprintf(errbuf, errlen, "\"%s\" grew while it was read", path);
        goto done;
    }

    *buf = p;
    *len = n;
    p = NULL;
    rc = GOBI_MERGE_CLEAN;

done:

    free(p);
    close(fd);

    return rc;
}
