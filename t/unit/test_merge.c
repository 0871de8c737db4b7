/*
 * Copyright (C) the gobi authors
 *
 * The three-way text merge (ngx_gobi_module/gobi_merge.c): clean merges,
 * conflicts, what is not text, whole files, and merges from several threads
 * at once.  The threads go first, so that libgit2's one-time init is raced.
 */

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include "gobi_merge.h"


#define NTHREADS  4
#define NMERGES   500

#define BASE      "one\ntwo\nthree\nfour\nfive\n"


typedef struct {
    int   n;
    int   bad;
} worker_t;


static char  tmpdir[1024];


/* merges NUL-terminated strings; a clean result lands in res as a string */

static gobi_merge_rc_e
merge(const char *base, const char *ours, const char *theirs, char *res,
    size_t len)
{
    char             *out, errbuf[256];
    size_t            outlen;
    gobi_merge_rc_e   rc;

    res[0] = '\0';
    errbuf[0] = '\0';

    rc = gobi_merge_text(base, strlen(base), ours, strlen(ours),
                         theirs, strlen(theirs), &out, &outlen,
                         errbuf, sizeof(errbuf));

    if (rc == GOBI_MERGE_CLEAN) {
        if (out == NULL || outlen >= len) {
            snprintf(res, len, "(bad result)");
        } else {
            memcpy(res, out, outlen);
            res[outlen] = '\0';
        }

    } else if (out != NULL || outlen != 0) {
        snprintf(res, len, "(a result with rc %d)", (int) rc);
    }

    if (errbuf[0]) {
        printf("# %s\n", errbuf);
    }

    free(out);

    return rc;
}


static void
test_clean(void)
{
    char  res[256];

    is_int(merge(BASE, "ONE\ntwo\nthree\nfour\nfive\n",
                 "one\ntwo\nthree\nfour\nFIVE\n", res, sizeof(res)),
           GOBI_MERGE_CLEAN, "edits at the top and the bottom: clean");
    is_str(res, "ONE\ntwo\nthree\nfour\nFIVE\n", "both edits are in it");

    is_int(merge(BASE, BASE, "one\ntwo\n3\nfour\nfive\n", res, sizeof(res)),
           GOBI_MERGE_CLEAN, "only theirs changed: clean");
    is_str(res, "one\ntwo\n3\nfour\nfive\n", "the result is theirs");

    is_int(merge(BASE, "one\ntwo\n3\nfour\nfive\n", BASE, res, sizeof(res)),
           GOBI_MERGE_CLEAN, "only ours changed: clean");
    is_str(res, "one\ntwo\n3\nfour\nfive\n", "the result is ours");

    is_int(merge(BASE, "zero\n" BASE, BASE "six\n", res, sizeof(res)),
           GOBI_MERGE_CLEAN, "a line added at each end: clean");
    is_str(res, "zero\n" BASE "six\n", "both lines are in it");

    is_int(merge(BASE, "one\ntwo\nfour\nfive\n",
                 "one\ntwo\nthree\nfour\nFIVE\n", res, sizeof(res)),
           GOBI_MERGE_CLEAN, "a deletion and an edit elsewhere: clean");
    is_str(res, "one\ntwo\nfour\nFIVE\n", "both are in it");

    is_int(merge(BASE, "one\ntwo\n3\nfour\nfive\n",
                 "one\ntwo\n3\nfour\nfive\n", res, sizeof(res)),
           GOBI_MERGE_CLEAN, "identical edits: clean");
    is_str(res, "one\ntwo\n3\nfour\nfive\n", "the edit once");

    is_int(merge(BASE, "", BASE, res, sizeof(res)), GOBI_MERGE_CLEAN,
           "ours emptied the file, theirs left it: clean");
    is_str(res, "", "the result is empty");

    is_int(merge("a\nb\nc\nd\ne", "A\nb\nc\nd\ne", "a\nb\nc\nd\nE", res,
                 sizeof(res)),
           GOBI_MERGE_CLEAN, "no newline at the end: clean");
    is_str(res, "A\nb\nc\nd\nE", "and still none");

    is_int(merge("grüße\nb\nc\nd\n€\n", "Grüße\nb\nc\nd\n€\n",
                 "grüße\nb\nc\nd\n😀\n", res, sizeof(res)),
           GOBI_MERGE_CLEAN, "UTF-8 beyond ASCII: clean");
    is_str(res, "Grüße\nb\nc\nd\n😀\n", "both edits are in it");

    is_int(merge("", "same\n", "same\n", res, sizeof(res)),
           GOBI_MERGE_CLEAN, "both created the same file: clean");
    is_str(res, "same\n", "the content once");

    is_int(merge("", "", "", res, sizeof(res)), GOBI_MERGE_CLEAN,
           "three empty inputs: clean");
    is_str(res, "", "the result is empty");
}


static void
test_conflict(void)
{
    char  res[256];

    is_int(merge(BASE, "one\ntwo\nTHREE\nfour\nfive\n",
                 "one\ntwo\n3\nfour\nfive\n", res, sizeof(res)),
           GOBI_MERGE_CONFLICT, "different edits of one line: conflict");
    is_str(res, "", "no result, no conflict markers");

    is_int(merge(BASE, "one\nTWO\nthree\nfour\nfive\n",
                 "one\ntwo\n3\nfour\nfive\n", res, sizeof(res)),
           GOBI_MERGE_CONFLICT, "edits of adjacent lines: conflict");

    is_int(merge(BASE, "one\ntwo\nfour\nfive\n", "one\ntwo\n3\nfour\nfive\n",
                 res, sizeof(res)),
           GOBI_MERGE_CONFLICT, "a line deleted and edited: conflict");

    is_int(merge("", "mine\n", "yours\n", res, sizeof(res)),
           GOBI_MERGE_CONFLICT, "both created the file, differently: "
           "conflict");
    is_str(res, "", "no result");
}


static void
test_not_text(void)
{
    char             *out, *big, res[256], errbuf[256];
    size_t            outlen, i;
    gobi_merge_rc_e   rc;
    static char       nul[9001];

    out = NULL;

    is_int(merge(BASE, BASE, "one\n\xff\n", res, sizeof(res)),
           GOBI_MERGE_NOT_TEXT, "theirs is not UTF-8: NOT_TEXT");
    is_int(merge("\xc0\xaf\n", BASE, BASE, res, sizeof(res)),
           GOBI_MERGE_NOT_TEXT, "an overlong in the base: NOT_TEXT");
    is_int(merge(BASE, "one\n\xed\xa0\x80\n", BASE, res, sizeof(res)),
           GOBI_MERGE_NOT_TEXT, "a surrogate in ours: NOT_TEXT");
    is_int(merge(BASE, "one\n\xe2\x82", BASE, res, sizeof(res)),
           GOBI_MERGE_NOT_TEXT, "a character cut short at the end: NOT_TEXT");

    rc = gobi_merge_text(BASE, strlen(BASE), "a\0b\n", 4, BASE, strlen(BASE),
                         &out, &outlen, errbuf, sizeof(errbuf));
    is_int(rc, GOBI_MERGE_NOT_TEXT, "a NUL byte in ours: NOT_TEXT");
    is_str(errbuf, "ours: a NUL byte", "errbuf says which and why");
    ok(out == NULL && outlen == 0, "no result");

    /* libgit2 itself looks for a NUL in the first 8000 bytes only */
    memset(nul, 'a', sizeof(nul));
    for (i = 99; i < sizeof(nul); i += 100) {
        nul[i] = '\n';
    }
    nul[9000 - 1] = '\0';

    rc = gobi_merge_text(BASE, strlen(BASE), BASE, strlen(BASE), nul,
                         sizeof(nul), &out, &outlen, errbuf, sizeof(errbuf));
    is_int(rc, GOBI_MERGE_NOT_TEXT, "a NUL byte after 8000 bytes: NOT_TEXT");

    big = malloc(GOBI_MERGE_MAX + 1);
    if (big == NULL) {
        ok(0, "malloc");
        return;
    }

    for (i = 0; i < GOBI_MERGE_MAX + 1; i++) {
        big[i] = (i % 64 == 63) ? '\n' : 'x';
    }

    rc = gobi_merge_text(BASE, strlen(BASE), BASE, strlen(BASE), big,
                         GOBI_MERGE_MAX + 1, &out, &outlen,
                         errbuf, sizeof(errbuf));
    is_int(rc, GOBI_MERGE_NOT_TEXT, "theirs over 4 MiB: NOT_TEXT");
    ok(out == NULL && outlen == 0, "no result");
    printf("# %s\n", errbuf);

    /* exactly the limit is text: ours changes the first line */
    memcpy(big, "first\n", 6);
    rc = gobi_merge_text(big + 6, GOBI_MERGE_MAX - 6, big, GOBI_MERGE_MAX,
                         big + 6, GOBI_MERGE_MAX - 6, &out, &outlen,
                         errbuf, sizeof(errbuf));
    is_int(rc, GOBI_MERGE_CLEAN, "ours at exactly 4 MiB: merged");
    ok(outlen == GOBI_MERGE_MAX && out && memcmp(out, big, outlen) == 0,
       "the result is ours");

    free(out);
    free(big);
}


static void
put_file(const char *name, const char *data, size_t len, char *path,
    size_t plen)
{
    FILE  *f;

    snprintf(path, plen, "%s/%s", tmpdir, name);

    f = fopen(path, "w");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        printf("# cannot write %s\n", path);
        exit(1);
    }
}


static void
test_files(void)
{
    int               fd;
    char              base[1100], ours[1100], theirs[1100], big[1100];
    char              empty[1100], errbuf[256], *out;
    size_t            outlen;
    const char       *want;
    gobi_merge_rc_e   rc;

    put_file("base", BASE, strlen(BASE), base, sizeof(base));
    put_file("ours", "ONE\ntwo\nthree\nfour\nfive\n", strlen(BASE), ours,
             sizeof(ours));
    put_file("theirs", "one\ntwo\nthree\nfour\nFIVE\n", strlen(BASE), theirs,
             sizeof(theirs));
    put_file("empty", "", 0, empty, sizeof(empty));

    want = "ONE\ntwo\nthree\nfour\nFIVE\n";

    rc = gobi_merge_files(base, ours, theirs, &out, &outlen, errbuf,
                          sizeof(errbuf));
    is_int(rc, GOBI_MERGE_CLEAN, "files: edits at the top and the bottom");
    ok(out && outlen == strlen(want) && memcmp(out, want, outlen) == 0,
       "files: both edits are in it");
    free(out);

    rc = gobi_merge_files(base, ours, base, &out, &outlen, errbuf,
                          sizeof(errbuf));
    is_int(rc, GOBI_MERGE_CLEAN, "files: only ours changed");
    want = "ONE\ntwo\nthree\nfour\nfive\n";
    ok(out && outlen == strlen(want) && memcmp(out, want, outlen) == 0,
       "files: the result is ours");
    free(out);

    rc = gobi_merge_files(empty, ours, theirs, &out, &outlen, errbuf,
                          sizeof(errbuf));
    is_int(rc, GOBI_MERGE_CONFLICT, "files: an empty base, both created");
    ok(out == NULL && outlen == 0, "files: no result");

    rc = gobi_merge_files(base, empty, base, &out, &outlen, errbuf,
                          sizeof(errbuf));
    is_int(rc, GOBI_MERGE_CLEAN, "files: ours emptied the file");
    ok(out != NULL && outlen == 0, "files: an empty result, not NULL");
    free(out);

    /* over the limit by its size: sparse, nothing is read */
    snprintf(big, sizeof(big), "%s/big", tmpdir);
    fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok(fd >= 0 && ftruncate(fd, GOBI_MERGE_MAX + 1) == 0,
       "a sparse file of 4 MiB + 1");
    if (fd >= 0) {
        close(fd);
    }

    rc = gobi_merge_files(base, ours, big, &out, &outlen, errbuf,
                          sizeof(errbuf));
    is_int(rc, GOBI_MERGE_NOT_TEXT, "files: theirs over 4 MiB: NOT_TEXT");
    printf("# %s\n", errbuf);

    put_file("binary", "a\0b\n", 4, big, sizeof(big));
    rc = gobi_merge_files(base, big, theirs, &out, &outlen, errbuf,
                          sizeof(errbuf));
    is_int(rc, GOBI_MERGE_NOT_TEXT, "files: a NUL byte: NOT_TEXT");

    snprintf(big, sizeof(big), "%s/missing", tmpdir);
    errbuf[0] = '\0';
    rc = gobi_merge_files(base, ours, big, &out, &outlen, errbuf,
                          sizeof(errbuf));
    is_int(rc, GOBI_MERGE_ERROR, "files: a missing file: ERROR");
    ok(strstr(errbuf, "missing") != NULL, "errbuf names it: %s", errbuf);
    ok(out == NULL && outlen == 0, "files: no result");

    rc = gobi_merge_files(tmpdir, ours, theirs, &out, &outlen, errbuf,
                          sizeof(errbuf));
    is_int(rc, GOBI_MERGE_ERROR, "files: a folder: ERROR (%s)", errbuf);
}


static void *
worker(void *data)
{
    worker_t         *wk = data;
    int               i;
    char              ours[64], theirs[64], want[128], res[256];
    gobi_merge_rc_e   rc;

    for (i = 0; i < NMERGES; i++) {
        snprintf(ours, sizeof(ours), "%d.%d\ntwo\nthree\nfour\nfive\n",
                 wk->n, i);

        if (i % 2) {
            /* the other end: clean */
            snprintf(theirs, sizeof(theirs), "one\ntwo\nthree\nfour\n%d\n",
                     i);
            snprintf(want, sizeof(want), "%d.%d\ntwo\nthree\nfour\n%d\n",
                     wk->n, i, i);

            rc = merge(BASE, ours, theirs, res, sizeof(res));
            if (rc != GOBI_MERGE_CLEAN || strcmp(res, want) != 0) {
                wk->bad++;
            }

        } else {
            /* the same line: a conflict */
            snprintf(theirs, sizeof(theirs), "%d\ntwo\nthree\nfour\nfive\n",
                     i);

            rc = merge(BASE, ours, theirs, res, sizeof(res));
            if (rc != GOBI_MERGE_CONFLICT || res[0] != '\0') {
                wk->bad++;
            }
        }
    }

    return NULL;
}


static void
test_threads(void)
{
    int        i, bad;
    pthread_t  t[NTHREADS];
    worker_t   wk[NTHREADS];

    for (i = 0; i < NTHREADS; i++) {
        wk[i].n = i;
        wk[i].bad = 0;
        pthread_create(&t[i], NULL, worker, &wk[i]);
    }

    bad = 0;

    for (i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        bad += wk[i].bad;
    }

    is_int(bad, 0, "%d threads, %d merges each, clean and conflicting: "
           "every result right", NTHREADS, NMERGES);
}


int
main(void)
{
    char  cmd[1100];

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/gobi-test-merge.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    test_threads();
    test_clean();
    test_conflict();
    test_not_text();
    test_files();

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        printf("# could not remove %s\n", tmpdir);
    }

    done_testing();
}
