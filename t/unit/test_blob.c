/*
 * Copyright (C) the gobi authors
 *
 * The blob targets (gobi_blob.h) over two or three local drivers, each on
 * a temp folder of its own.  A target is broken the way a disk or mount
 * goes: its root folder is moved away and a file put in its place (chmod
 * does not stop root, who may run this), or a blob's file is replaced by
 * a folder, which fails reads and stats.  The drivers are the real local
 * one, counted by a thin wrapper, so "skipped" can be told from "tried".
 * The back-off runs on a clock of the test's own (gobi_blob_clock).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include "gobi_blob.h"


/* the s3 driver is optional in this binary */
extern const gobi_storage_driver_t  gobi_storage_s3 __attribute__((weak));


#define MiB        (1024 * 1024)
#define NTARGETS   3
#define NTHREADS   8
#define NREADS     200
#define NWRAPS     64


static char     tmpdir[256];
static char     outside[300];
static char     roots[NTARGETS][300];
static char     names[NTARGETS][320];
static char     errbuf[1024];
static int64_t  vault = 7;
static int64_t  clock_ms = 1000000;


static int64_t
fake_now(void)
{
    return clock_ms;
}


/* the local driver, counted ----------------------------------------------- */


typedef struct {
    gobi_storage_t  *s;
    int              io;                   /* put, read, stat, list, ... */
} wrap_t;


static wrap_t          wraps[NWRAPS];
static int             nwraps;
static wrap_t         *W[NTARGETS];       /* those of the blob open now */
static pthread_mutex_t wrap_lock = PTHREAD_MUTEX_INITIALIZER;


#define S(s)  (((wrap_t *) (s))->s)


static void
counted(gobi_storage_t *s)
{
    pthread_mutex_lock(&wrap_lock);
    ((wrap_t *) s)->io++;
    pthread_mutex_unlock(&wrap_lock);
}


static int
io(int i)
{
    int  n;

    pthread_mutex_lock(&wrap_lock);
    n = W[i]->io;
    pthread_mutex_unlock(&wrap_lock);

    return n;
}


static gobi_storage_t *
w_open(const char *arg, const gobi_storage_conf_t *conf, char *err,
    size_t len)
{
    wrap_t  *w;

    if (nwraps == NWRAPS) {
        snprintf(err, len, "too many opens in one test");
        return NULL;
    }

    w = &wraps[nwraps];
    w->io = 0;
    w->s = gobi_storage_local.open(arg, conf, err, len);

    if (w->s == NULL) {
        return NULL;
    }

    nwraps++;

    return (gobi_storage_t *) w;
}


static void
w_close(gobi_storage_t *s)
{
    gobi_storage_local.close(S(s));
}


static const char *
w_tmp_dir(gobi_storage_t *s)
{
    return gobi_storage_local.tmp_dir(S(s));
}


static int
w_put(gobi_storage_t *s, int64_t v, const char *h, const char *tmp_path,
    int fd, char *err, size_t len)
{
    counted(s);
    return gobi_storage_local.put(S(s), v, h, tmp_path, fd, err, len);
}


static int
w_stat(gobi_storage_t *s, int64_t v, const char *h, int64_t *size,
    char *err, size_t len)
{
    counted(s);
    return gobi_storage_local.stat(S(s), v, h, size, err, len);
}


static int
w_check(gobi_storage_t *s, char *err, size_t len)
{
    counted(s);
    return gobi_storage_local.check(S(s), err, len);
}


static ssize_t
w_read(gobi_storage_t *s, int64_t v, const char *h, int64_t off, void *buf,
    size_t n, char *err, size_t len)
{
    counted(s);
    return gobi_storage_local.read(S(s), v, h, off, buf, n, err, len);
}


static int
w_path(gobi_storage_t *s, int64_t v, const char *h, char *buf, size_t len)
{
    return gobi_storage_local.path(S(s), v, h, buf, len);
}


static int
w_remove(gobi_storage_t *s, int64_t v, const char *h, char *err,
    size_t len)
{
    counted(s);
    return gobi_storage_local.remove(S(s), v, h, err, len);
}


static int
w_remove_vault(gobi_storage_t *s, int64_t v, char *err, size_t len)
{
    counted(s);
    return gobi_storage_local.remove_vault(S(s), v, err, len);
}


static int
w_list(gobi_storage_t *s, int64_t v,
    int (*cb)(void *data, const char *hash, int64_t size), void *data,
    char *err, size_t len)
{
    counted(s);
    return gobi_storage_local.list(S(s), v, cb, data, err, len);
}


static int
w_collect(gobi_storage_t *s, int64_t min_age_ms,
    int (*referenced)(void *data, int64_t vault, const char *hash),
    void *data, int64_t *removed)
{
    counted(s);
    return gobi_storage_local.collect(S(s), min_age_ms, referenced, data,
                                      removed);
}


static int
w_tmp_sweep(gobi_storage_t *s, int64_t min_age_ms, int64_t *removed)
{
    counted(s);
    return gobi_storage_local.tmp_sweep(S(s), min_age_ms, removed);
}


static const gobi_storage_driver_t  counted_local = {
    "local",
    w_open,
    w_close,
    w_tmp_dir,
    w_put,
    w_stat,
    w_read,
    w_path,
    w_remove,
    w_remove_vault,
    w_list,
    w_collect,
    w_tmp_sweep,
    w_check
};


/* blobs, files and targets ----------------------------------------------- */


static const char *
hash(unsigned n)
{
    static char  bufs[8][65];
    static int   i;
    char        *b;

    b = bufs[i++ % 8];
    snprintf(b, 65, "%08x%056x", (unsigned) getpid(), n);

    return b;
}


/* odd blobs are small, even ones span several of the scrub's pieces */

static size_t
size_of(unsigned n)
{
    return (n % 2) ? 1000 + n : 2 * MiB + 12345 + n;
}


static unsigned char
byte(unsigned n, int64_t i)
{
    return (unsigned char) ((i * 31 + n * 7 + (i >> 13)) & 0xff);
}


static void
bail(const char *what, const char *path)
{
    printf("Bail out! %s(%s): %s\n", what, path, strerror(errno));
    exit(1);
}


/* a file of blob n's bytes in dir: its fd, its name in path */

static int
temp_file(const char *dir, unsigned n, char *path, size_t plen)
{
    int             fd;
    size_t          i, len;
    unsigned char  *p;

    snprintf(path, plen, "%s/upload.XXXXXX", dir);

    fd = mkstemp(path);
    if (fd < 0) {
        bail("mkstemp", path);
    }

    len = size_of(n);
    p = malloc(len);
    if (p == NULL) {
        bail("malloc", path);
    }

    for (i = 0; i < len; i++) {
        p[i] = byte(n, i);
    }

    if (write(fd, p, len) != (ssize_t) len) {
        bail("write", path);
    }

    free(p);

    return fd;
}


static int
exists(const char *path)
{
    struct stat  st;

    return lstat(path, &st) == 0;
}


/* blob n's file on target t */

static const char *
blob_file(int t, unsigned n)
{
    static char  bufs[4][1400];
    static int   i;
    char        *b;
    const char  *h;

    b = bufs[i++ % 4];
    h = hash(n);
    snprintf(b, 1400, "%s/%lld/%.2s/%s", roots[t], (long long) vault, h, h);

    return b;
}


/* target t holds blob n, every byte of it */

static int
on_disk(int t, unsigned n)
{
    int            fd, good;
    size_t         i, len;
    ssize_t        got;
    struct stat    st;
    unsigned char *p;

    fd = open(blob_file(t, n), O_RDONLY);
    if (fd < 0) {
        return 0;
    }

    len = size_of(n);
    good = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
            && (size_t) st.st_size == len);

    p = malloc(len);
    if (good && p) {
        got = pread(fd, p, len, 0);
        good = (got == (ssize_t) len);

        for (i = 0; good && i < len; i++) {
            good = (p[i] == byte(n, i));
        }
    }

    free(p);
    close(fd);

    return good;
}


/* the root folder gone, a file in its place; and back */

static void
break_target(int t)
{
    char  away[1200];
    int   fd;

    snprintf(away, sizeof(away), "%s.away", roots[t]);

    if (rename(roots[t], away) != 0) {
        bail("rename", roots[t]);
    }

    fd = open(roots[t], O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        bail("open", roots[t]);
    }

    close(fd);
}


static void
mend_target(int t)
{
    char  away[1200];

    snprintf(away, sizeof(away), "%s.away", roots[t]);

    if (unlink(roots[t]) != 0 || rename(away, roots[t]) != 0) {
        bail("rename", away);
    }
}


static gobi_blob_t *
blob_open(int n, size_t quorum)
{
    int                       i, base;
    gobi_blob_t              *b;
    gobi_blob_target_conf_t   conf[NTARGETS];

    memset(conf, 0, sizeof(conf));

    for (i = 0; i < n; i++) {
        conf[i].driver = &counted_local;
        conf[i].arg = roots[i];
        conf[i].name = names[i];
    }

    base = nwraps;
    errbuf[0] = '\0';

    b = gobi_blob_open(conf, n, quorum, errbuf, sizeof(errbuf));
    if (b == NULL) {
        printf("Bail out! gobi_blob_open: %s\n", errbuf);
        exit(1);
    }

    for (i = 0; i < n; i++) {
        W[i] = &wraps[base + i];
    }

    gobi_blob_clock(b, fake_now);

    return b;
}


/*
 * Blob n put from a temp file in dir (NULL: the blob's temp folder, whose
 * owner takes it); what is left of the file is removed, as the glue does.
 */

static int
put(gobi_blob_t *b, unsigned n, const char *dir, size_t *stored)
{
    int   fd, rc, err;
    char  path[1400];

    fd = temp_file(dir ? dir : gobi_blob_tmp_dir(b), n, path, sizeof(path));

    errbuf[0] = '\0';
    rc = gobi_blob_put(b, vault, hash(n), path, fd, stored, errbuf,
                       sizeof(errbuf));
    err = errno;

    close(fd);
    (void) unlink(path);

    errno = err;

    return rc;
}


/* bytes [off, off + len) of blob n through the targets */

static int
read_ok(gobi_blob_t *b, unsigned n, int64_t off, size_t len, size_t *target)
{
    int             good;
    ssize_t         got, want, i;
    unsigned char  *buf;

    buf = malloc(len);
    if (buf == NULL) {
        return 0;
    }

    want = (off + (int64_t) len <= (int64_t) size_of(n))
           ? (ssize_t) len : (ssize_t) size_of(n) - off;

    errbuf[0] = '\0';
    got = gobi_blob_read(b, vault, hash(n), off, buf, len, target, errbuf,
                         sizeof(errbuf));

    good = (got == want);

    if (!good) {
        printf("# read %u: %zd, want %zd (%s)\n", n, got, want, errbuf);
    }

    for (i = 0; good && i < got; i++) {
        good = (buf[i] == byte(n, off + i));
    }

    free(buf);

    return good;
}


static int
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}


/* the scrub's question: every blob but `unwanted` is used */

static int
referenced(void *data, int64_t v, const char *h)
{
    unsigned  *unwanted = data;

    (void) v;

    return strcmp(h, hash(*unwanted)) != 0;
}


/* the collector's question: the vault in data is garbage, all else used */

static int
unused(void *data, int64_t v, const char *h)
{
    (void) h;

    return v != *(int64_t *) data;
}


/* the files in a folder and in its folders; in target t's temp folder */

static int
temp_files_in(const char *dir)
{
    int             n, m;
    DIR            *d;
    char            path[1400];
    struct stat     st;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return -1;
    }

    n = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        snprintf(path, sizeof(path), "%.1000s/%.300s", dir, de->d_name);

        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            m = temp_files_in(path);
            n += m > 0 ? m : 0;

        } else {
            n++;
        }
    }

    closedir(d);

    return n;
}


static int
temp_files(int t)
{
    return temp_files_in(gobi_storage_local.tmp_dir(W[t]->s));
}


/* the tests -------------------------------------------------------------- */


static void
test_open(void)
{
    char                      nope[1200];
    gobi_blob_t              *b;
    gobi_blob_target_conf_t   conf[NTARGETS + 1];

    memset(conf, 0, sizeof(conf));
    conf[0].driver = &gobi_storage_local;
    conf[0].arg = roots[0];
    conf[0].name = names[0];
    conf[1] = conf[0];
    conf[1].arg = roots[1];
    conf[1].name = names[1];

    errbuf[0] = '\0';
    ok(gobi_blob_open(conf, 2, 3, errbuf, sizeof(errbuf)) == NULL
       && strstr(errbuf, "quorum"),
       "a quorum of 3 with 2 targets refused: %s", errbuf);

    errbuf[0] = '\0';
    ok(gobi_blob_open(conf, 0, 0, errbuf, sizeof(errbuf)) == NULL
       && errbuf[0], "no target refused: %s", errbuf);

    conf[2] = conf[0];
    errbuf[0] = '\0';
    ok(gobi_blob_open(conf, 3, 0, errbuf, sizeof(errbuf)) == NULL
       && strstr(errbuf, "twice"), "a target listed twice refused: %s",
       errbuf);

    snprintf(nope, sizeof(nope), "%s/nope", tmpdir);
    conf[2].arg = nope;
    conf[2].name = "local:nope";
    errbuf[0] = '\0';
    ok(gobi_blob_open(conf, 3, 0, errbuf, sizeof(errbuf)) == NULL
       && has_prefix(errbuf, "local:nope: "),
       "a target that does not open is named: %s", errbuf);

    b = gobi_blob_open(conf, 2, 0, errbuf, sizeof(errbuf));
    ok(b != NULL, "two targets open (%s)", b ? "" : errbuf);

    if (b) {
        is_int(gobi_blob_targets(b), 2, "two targets");
        is_str(gobi_blob_target_name(b, 1), names[1], "the second's name");
        ok(gobi_blob_target_name(b, 2) == NULL, "no third");
        ok(gobi_blob_tmp_dir(b) != NULL
           && has_prefix(gobi_blob_tmp_dir(b), roots[0]),
           "the temp folder is the first target's: %s",
           gobi_blob_tmp_dir(b));
        gobi_blob_close(b);
    }
}


static void
test_put_read(void)
{
    int          fd;
    char         path[1400], local[1400];
    size_t       stored, target;
    int64_t      size;
    gobi_blob_t *b;

    vault = 7;
    b = blob_open(2, 0);

    /* the temp file of the first target: it goes last and takes it */

    fd = temp_file(gobi_blob_tmp_dir(b), 1, path, sizeof(path));
    stored = 9;
    errbuf[0] = '\0';
    is_int(gobi_blob_put(b, vault, hash(1), path, fd, &stored, errbuf,
                         sizeof(errbuf)), 0, "put 1 (%s)", errbuf);
    close(fd);
    is_int(stored, 2, "stored on both");
    ok(!exists(path), "the first target took the temp file by rename");
    ok(on_disk(0, 1) && on_disk(1, 1), "blob 1 on both, every byte");

    /* a temp file of nobody's: both copy it, it stays */

    fd = temp_file(outside, 2, path, sizeof(path));
    errbuf[0] = '\0';
    is_int(gobi_blob_put(b, vault, hash(2), path, fd, &stored, errbuf,
                         sizeof(errbuf)), 0, "put 2 (%s)", errbuf);
    close(fd);
    is_int(stored, 2, "stored on both");
    ok(exists(path), "a temp file outside the targets is left alone");
    (void) unlink(path);
    ok(on_disk(0, 2) && on_disk(1, 2), "blob 2 on both, every byte");

    is_int(gobi_blob_stat(b, vault, hash(2), &size, errbuf, sizeof(errbuf)),
           1, "stat 2");
    is_int(size, size_of(2), "its size");
    is_int(gobi_blob_stat(b, vault, hash(99), &size, errbuf,
                          sizeof(errbuf)), 0, "stat of no blob: 0");
    errno = 0;
    ok(gobi_blob_stat(b, vault, "../../etc", &size, errbuf, sizeof(errbuf))
       == -1 && errno == EINVAL, "a bad hash refused: %s", errbuf);

    target = 0;
    ok(read_ok(b, 2, 0, size_of(2), &target), "read 2 whole");
    is_int(target, 0, "from the first");
    ok(read_ok(b, 2, MiB + 3, 4096, &target), "read 2 in the middle");
    ok(read_ok(b, 1, 900, 4096, &target), "read 1 past its end: short");

    errno = 0;
    ok(gobi_blob_read(b, vault, hash(99), 0, path, 16, &target, errbuf,
                      sizeof(errbuf)) == -1 && errno == ENOENT,
       "read of no blob: ENOENT (%s)", errbuf);
    errno = 0;
    ok(gobi_blob_read(b, vault, hash(1), -1, path, 16, &target, errbuf,
                      sizeof(errbuf)) == -1 && errno == EINVAL,
       "a negative offset refused: %s", errbuf);

    ok(gobi_blob_path(b, vault, hash(1), local, sizeof(local)) == 0
       && strcmp(local, blob_file(0, 1)) == 0, "path: the first's file");

    /* the first lacks it: the second answers, nobody is down */

    if (unlink(blob_file(0, 1)) != 0) {
        bail("unlink", blob_file(0, 1));
    }

    target = 0;
    ok(read_ok(b, 1, 0, size_of(1), &target), "read 1 the first lacks");
    is_int(target, 1, "from the second");
    ok(!gobi_blob_target_down(b, 0), "\"not there\" is no failure");
    is_int(gobi_blob_stat(b, vault, hash(1), &size, errbuf, sizeof(errbuf)),
           1, "stat 1 from the second");
    ok(gobi_blob_path(b, vault, hash(1), local, sizeof(local)) == -1,
       "no path when the first lacks it");

    ok(read_ok(b, 1, 0, 100, &target) && target == 1,
       "the next read starts at the second");

    gobi_blob_close(b);
}


static void
test_backoff(void)
{
    int          n, k;
    size_t       target;
    int64_t      size, backoff;
    gobi_blob_t *b;

    b = blob_open(2, 0);

    /* blob 2's file on the first becomes a folder: reads of it fail */

    if (unlink(blob_file(0, 2)) != 0 || mkdir(blob_file(0, 2), 0700) != 0) {
        bail("mkdir", blob_file(0, 2));
    }

    n = io(0);
    target = 0;
    ok(read_ok(b, 2, 0, 4096, &target) && target == 1,
       "read falls back when the first fails");
    ok(gobi_blob_target_down(b, 0), "the first is down");
    is_int(io(0), n + 1, "tried once");

    target = 0;
    ok(read_ok(b, 2, 0, 4096, &target) && target == 1,
       "read right after: from the second");
    is_int(io(0), n + 1, "the first skipped: no second failure");

    errbuf[0] = '\0';
    ok(gobi_blob_stat(b, vault, hash(99), &size, errbuf, sizeof(errbuf))
       == -1 && has_prefix(errbuf, names[0]),
       "stat of no blob with one down: cannot tell (%s)", errbuf);
    errno = 0;
    ok(gobi_blob_read(b, vault, hash(99), 0, &size, 1, &target, errbuf,
                      sizeof(errbuf)) == -1 && errno == EIO,
       "read of no blob with one down: EIO, not ENOENT");
    is_int(io(0), n + 1, "still skipped");

    /* each failed try doubles the back-off, to 60 s */

    backoff = 1000;

    for (k = 0; k < 8; k++) {
        clock_ms += backoff - 1;
        target = 0;
        (void) read_ok(b, 2, 0, 100, &target);
        is_int(io(0), n + 1 + k, "%lld ms - 1 into the back-off: skipped",
               (long long) backoff);

        clock_ms += 1;
        target = 0;
        (void) read_ok(b, 2, 0, 100, &target);
        is_int(io(0), n + 2 + k, "after %lld ms: tried again (and failed)",
               (long long) backoff);
        ok(gobi_blob_target_down(b, 0), "still down");

        backoff = backoff * 2 > 60000 ? 60000 : backoff * 2;
    }

    /* mended; the first call after its back-off clears it */

    if (rmdir(blob_file(0, 2)) != 0) {
        bail("rmdir", blob_file(0, 2));
    }

    clock_ms += 60000;
    target = 0;
    ok(read_ok(b, 2, 0, 4096, &target) && target == 1,
       "read after the back-off (the first lacks it now)");
    ok(!gobi_blob_target_down(b, 0), "the first is up again");
    n = io(0);
    target = 0;
    ok(read_ok(b, 2, 0, 4096, &target), "the next read");
    is_int(io(0), n + 1, "asks the first again");

    gobi_blob_close(b);
}


/* the health check's question: which targets can take blobs now? */

static void
test_check(void)
{
    int           fd;
    char          away[PATH_MAX];
    gobi_blob_t  *b;

    b = blob_open(2, 1);

    is_int((int) gobi_blob_check(b, errbuf, sizeof(errbuf)), 2,
           "both targets can take blobs");
    is_int((int) gobi_blob_quorum(b), 1, "the quorum");

    /* the second root replaced by a file, as a lost mount leaves it */

    snprintf(away, sizeof(away), "%s.away", roots[1]);

    if (rename(roots[1], away) != 0
        || (fd = open(roots[1], O_WRONLY|O_CREAT, 0600)) < 0)
    {
        bail("rename", roots[1]);
    }

    close(fd);

    errbuf[0] = '\0';
    is_int((int) gobi_blob_check(b, errbuf, sizeof(errbuf)), 1,
           "a root that is a file: one target");
    ok(has_prefix(errbuf, names[1]), "named: %s", errbuf);
    ok(gobi_blob_target_down(b, 1), "and it is in its back-off");

    if (unlink(roots[1]) != 0 || rename(away, roots[1]) != 0) {
        bail("rename", away);
    }

    is_int((int) gobi_blob_check(b, errbuf, sizeof(errbuf)), 2,
           "back: both");
    ok(!gobi_blob_target_down(b, 1), "the check ended its back-off");

    gobi_blob_close(b);
}


static void
test_quorum(void)
{
    int          n, err;
    size_t       stored;
    int64_t      copied;
    unsigned     unwanted;
    gobi_blob_t *b;

    /* 1 of 2: the second broken */

    vault = 20;
    b = blob_open(2, 1);
    break_target(1);

    stored = 9;
    is_int(put(b, 3, NULL, &stored), 0, "quorum 1 of 2, one broken: put");
    is_int(stored, 1, "stored = 1");
    ok(has_prefix(errbuf, names[1]) && strstr(errbuf, "failed"),
       "the failure told: %s", errbuf);
    ok(gobi_blob_target_down(b, 1), "the second is down");

    n = io(1);
    is_int(put(b, 4, outside, &stored), 0, "put right after");
    is_int(stored, 1, "stored = 1");
    is_int(io(1), n, "the second skipped");
    ok(has_prefix(errbuf, names[1]) && strstr(errbuf, "down"),
       "told it is down: %s", errbuf);

    clock_ms += 1000;
    is_int(put(b, 5, NULL, &stored), 0, "put after the back-off");
    is_int(io(1), n + 1, "the second tried again");
    is_int(stored, 1, "and failed: stored = 1");

    /* a scrub while it is down: nothing to compare */

    copied = -1;
    is_int(gobi_blob_scrub_vault(b, vault, NULL, NULL, &copied, errbuf,
                                 sizeof(errbuf)), 0, "scrub, one down");
    is_int(copied, 0, "copies nothing");

    mend_target(1);
    clock_ms += 2000;
    is_int(put(b, 6, NULL, &stored), 0, "put when it is back");
    is_int(stored, 2, "stored = 2");
    ok(!gobi_blob_target_down(b, 1), "the second is up");

    ok(!on_disk(1, 3) && !on_disk(1, 4) && !on_disk(1, 5),
       "the second missed 3, 4, 5");

    /* garbage (not referenced) is not spread */

    if (unlink(blob_file(1, 6)) != 0) {
        bail("unlink", blob_file(1, 6));
    }

    unwanted = 6;
    errbuf[0] = '\0';
    is_int(gobi_blob_scrub_vault(b, vault, referenced, &unwanted, &copied,
                                 errbuf, sizeof(errbuf)), 0,
           "scrub (%s)", errbuf);
    is_int(copied, 3, "copies exactly the three missed");
    ok(on_disk(1, 3) && on_disk(1, 4) && on_disk(1, 5),
       "3, 4, 5 on the second, every byte");
    ok(on_disk(0, 3) && on_disk(0, 4) && on_disk(0, 5) && on_disk(0, 6),
       "the first still has them");
    ok(!on_disk(1, 6), "6, unused, is not copied back");

    is_int(gobi_blob_scrub_vault(b, vault, referenced, &unwanted, &copied,
                                 errbuf, sizeof(errbuf)), 0, "scrub again");
    is_int(copied, 0, "copies nothing");

    unwanted = 99;
    is_int(gobi_blob_scrub_vault(b, vault, referenced, &unwanted, &copied,
                                 errbuf, sizeof(errbuf)), 0,
           "scrub with 6 used again");
    is_int(copied, 1, "copies it");
    ok(on_disk(1, 6), "6 on the second");

    gobi_blob_close(b);

    /* 2 of 2: the second broken */

    b = blob_open(2, 0);
    break_target(1);

    stored = 9;
    errno = 0;
    is_int(put(b, 7, NULL, &stored), -1, "quorum 2 of 2, one broken: fails");
    err = errno;
    is_int(err, EIO, "EIO");
    is_int(stored, 1, "stored = 1");
    ok(has_prefix(errbuf, names[1]) && strstr(errbuf, "failed"),
       "the errbuf says which and why: %s", errbuf);

    mend_target(1);
    gobi_blob_close(b);
}


static void
test_three(void)
{
    int          rc;
    size_t       stored, target;
    int64_t      copied, removed, garbage;
    unsigned     unwanted;
    gobi_blob_t *b;

    vault = 30;
    b = blob_open(3, 2);

    is_int(put(b, 10, NULL, &stored), 0, "3 targets: put 10");
    is_int(put(b, 11, outside, &stored), 0, "put 11");
    is_int(stored, 3, "stored = 3");

    /* the first target, the temp files' owner, broken */

    break_target(0);

    is_int(put(b, 12, outside, &stored), 0, "quorum 2 of 3, first broken");
    is_int(stored, 2, "stored = 2");

    target = 0;
    ok(read_ok(b, 12, 0, size_of(12), &target) && target == 1,
       "read 12 from the second");

    /* the third loses 11: repaired through the second's temp folder */

    if (unlink(blob_file(2, 11)) != 0) {
        bail("unlink", blob_file(2, 11));
    }

    unwanted = 99;
    errbuf[0] = '\0';
    is_int(gobi_blob_scrub_vault(b, vault, referenced, &unwanted, &copied,
                                 errbuf, sizeof(errbuf)), 0,
           "scrub with the first down (%s)", errbuf);
    is_int(copied, 1, "copies 11 to the third");
    ok(on_disk(2, 11), "11 on the third, every byte");
    ok(!exists(blob_file(0, 12)), "the first, down, untouched");
    ok(temp_files(1) == 0, "the second's temp folder is empty after");

    mend_target(0);
    clock_ms += 1000;

    /* blob 10 on the third loses a byte: 2 of 3 agree on its size */

    if (truncate(blob_file(2, 10), size_of(10) - 1) != 0) {
        bail("truncate", blob_file(2, 10));
    }

    errbuf[0] = '\0';
    is_int(gobi_blob_scrub_vault(b, vault, referenced, &unwanted, &copied,
                                 errbuf, sizeof(errbuf)), 0,
           "scrub with the first back (%s)", errbuf);
    is_int(copied, 2, "copies 12 to the first, 10 to the third");
    ok(on_disk(0, 12) && on_disk(1, 12) && on_disk(2, 12),
       "12 on all three, every byte");
    ok(on_disk(0, 10) && on_disk(1, 10) && on_disk(2, 10),
       "10 on all three, every byte: the short copy replaced");
    ok(on_disk(0, 11) && on_disk(1, 11) && on_disk(2, 11),
       "11 as it was");
    is_int(gobi_blob_scrub_vault(b, vault, referenced, &unwanted, &copied,
                                 errbuf, sizeof(errbuf)), 0, "scrub again");
    is_int(copied, 0, "copies nothing");
    ok(temp_files(0) == 0 && temp_files(1) == 0 && temp_files(2) == 0,
       "no temp file of the scrub's left");

    /* a tie on sizes: left alone, and told */

    if (truncate(blob_file(1, 11), 10) != 0
        || truncate(blob_file(2, 11), 20) != 0)
    {
        bail("truncate", blob_file(1, 11));
    }

    errbuf[0] = '\0';
    is_int(gobi_blob_scrub_vault(b, vault, referenced, &unwanted, &copied,
                                 errbuf, sizeof(errbuf)), -1,
           "three sizes of 11: the scrub fails");
    ok(strstr(errbuf, hash(11)) && strstr(errbuf, "majority"),
       "and says so: %s", errbuf);
    is_int(copied, 0, "copies nothing");
    ok(on_disk(0, 11), "the first's 11 is kept");

    /* collect and sweep: every target's, summed */

    garbage = ++vault;
    is_int(put(b, 13, outside, &stored), 0, "put 13 in another vault");
    removed = -1;
    is_int(gobi_blob_collect(b, 0, unused, &garbage, &removed), 0,
           "collect");
    is_int(removed, 3, "13 removed from the three targets");
    ok(!exists(blob_file(0, 13)) && !exists(blob_file(1, 13))
       && !exists(blob_file(2, 13)), "13 gone");
    vault--;
    ok(on_disk(0, 12) && on_disk(1, 12) && on_disk(2, 12),
       "what is used stays");

    removed = -1;
    is_int(gobi_blob_tmp_sweep(b, 0, &removed), 0, "tmp_sweep");
    is_int(removed, 0, "nothing to sweep");

    /* remove */

    is_int(gobi_blob_remove(b, vault, hash(10), errbuf, sizeof(errbuf)), 0,
           "remove 10");
    ok(!exists(blob_file(0, 10)) && !exists(blob_file(1, 10))
       && !exists(blob_file(2, 10)), "10 gone");

    /* remove_vault with the third broken: the others are done */

    break_target(2);
    is_int(put(b, 14, outside, &stored), 0, "put 14, the third broken");
    ok(gobi_blob_target_down(b, 2), "the third is down");

    errbuf[0] = '\0';
    rc = gobi_blob_remove_vault(b, vault, errbuf, sizeof(errbuf));
    is_int(rc, -1, "remove_vault with the third down: -1");
    ok(has_prefix(errbuf, names[2]), "naming it: %s", errbuf);
    ok(!exists(blob_file(0, 12)) && !exists(blob_file(1, 12))
       && !exists(blob_file(0, 14)) && !exists(blob_file(1, 14)),
       "the others removed the vault");

    mend_target(2);
    ok(on_disk(2, 12), "the third still has 12");
    clock_ms += 1000;
    errbuf[0] = '\0';
    is_int(gobi_blob_remove_vault(b, vault, errbuf, sizeof(errbuf)), 0,
           "remove_vault when it is back (%s)", errbuf);
    ok(!exists(blob_file(2, 12)) && !exists(blob_file(2, 11)),
       "the third's gone too");

    gobi_blob_close(b);
}


/* many threads on one gobi_blob_t, one target failing under them */

typedef struct {
    gobi_blob_t  *b;
    char          hash[65];               /* hash() is not thread-safe */
    int           bad;
} reader_t;


static void *
reader(void *data)
{
    reader_t       *r = data;

    int             i;
    char            err[256];
    size_t          target, len;
    unsigned        n;
    unsigned char   buf[4096];

    for (i = 0; i < NREADS; i++) {
        n = 20;
        target = 0;
        len = sizeof(buf);

        if (gobi_blob_read(r->b, vault, r->hash, 100, buf, len, &target,
                           err, sizeof(err))
                != (ssize_t) (size_of(n) - 100 < len ? size_of(n) - 100
                                                      : len)
            || buf[0] != byte(n, 100) || buf[len / 8] != byte(n, 100 + len / 8))
        {
            r->bad++;
        }
    }

    return NULL;
}


static void
test_threads(void)
{
    int          i, bad, n;
    size_t       stored;
    reader_t     r[NTHREADS];
    pthread_t    tid[NTHREADS];
    gobi_blob_t *b;

    vault = 40;
    b = blob_open(2, 0);
    gobi_blob_clock(b, NULL);                         /* the real one */

    (void) put(b, 20, outside, &stored);
    (void) put(b, 21, outside, &stored);
    is_int(stored, 2, "threads: 20, 21 on both");

    if (unlink(blob_file(0, 20)) != 0 || mkdir(blob_file(0, 20), 0700) != 0) {
        bail("mkdir", blob_file(0, 20));
    }

    n = io(0);

    for (i = 0; i < NTHREADS; i++) {
        r[i].b = b;
        r[i].bad = 0;
        snprintf(r[i].hash, sizeof(r[i].hash), "%s", hash(20));
        pthread_create(&tid[i], NULL, reader, &r[i]);
    }

    bad = 0;

    for (i = 0; i < NTHREADS; i++) {
        pthread_join(tid[i], NULL);
        bad += r[i].bad;
    }

    is_int(bad, 0, "%d threads x %d reads, every byte right", NTHREADS,
           NREADS);
    ok(gobi_blob_target_down(b, 0), "the first is down");
    ok(io(0) - n < NTHREADS * NREADS,
       "the first was skipped for most reads (%d of %d asked it)", io(0) - n,
       NTHREADS * NREADS);

    (void) rmdir(blob_file(0, 20));
    (void) gobi_blob_remove_vault(b, vault, errbuf, sizeof(errbuf));
    gobi_blob_close(b);
}


/*
 * A local and an s3 target, each order (GOBI_TEST_S3, scripts/with-s3):
 * the temp file is the first's, the other copies it; the scrub's pieces
 * come from s3 into local and the other way.
 */

static void
test_s3(const char *env)
{
    int                       first, fd, s3;
    char                      arg[4096], spool[300], path[1400];
    size_t                    stored, target;
    int64_t                   copied, size;
    const char               *q;
    gobi_blob_t              *b;
    gobi_storage_t           *sh;
    gobi_blob_target_conf_t   conf[2];

    q = strchr(env + 3, '?');
    snprintf(arg, sizeof(arg), "%.*s/blob-%ld%s",
             (int) (q ? q - env - 3 : (long) strlen(env + 3)), env + 3,
             (long) getpid(), q ? q : "");
    snprintf(spool, sizeof(spool), "%.200s/spool", tmpdir);

    for (first = 0; first < 2; first++) {
        vault = 50 + first;
        s3 = !first;                                 /* the s3 target */

        memset(conf, 0, sizeof(conf));
        conf[first].driver = &gobi_storage_local;
        conf[first].arg = roots[0];
        conf[first].name = names[0];
        conf[s3].driver = &gobi_storage_s3;
        conf[s3].arg = arg;
        conf[s3].name = "s3:test";
        conf[s3].conf.spool = spool;
        conf[s3].conf.credentials = getenv("GOBI_TEST_S3_CREDENTIALS");

        errbuf[0] = '\0';
        b = gobi_blob_open(conf, 2, 0, errbuf, sizeof(errbuf));
        ok(b != NULL, "%s first: open (%s)", first ? "s3" : "local",
           errbuf);
        if (b == NULL) {
            continue;
        }

        fd = temp_file(gobi_blob_tmp_dir(b), 60, path, sizeof(path));
        errbuf[0] = '\0';
        is_int(gobi_blob_put(b, vault, hash(60), path, fd, &stored, errbuf,
                             sizeof(errbuf)), 0, "put 60 (%s)", errbuf);
        is_int(stored, 2, "on both");
        close(fd);
        (void) unlink(path);

        is_int(put(b, 61, outside, &stored), 0, "put 61 from outside");
        is_int(stored, 2, "on both");
        ok(on_disk(0, 60) && on_disk(0, 61), "local has them");
        is_int(gobi_blob_stat(b, vault, hash(60), &size, errbuf,
                              sizeof(errbuf)), 1, "stat 60");
        is_int(size, size_of(60), "its size");

        /* local loses them: read from s3, scrub copies back */

        if (unlink(blob_file(0, 60)) != 0 || unlink(blob_file(0, 61)) != 0) {
            bail("unlink", blob_file(0, 60));
        }

        target = first;
        ok(read_ok(b, 60, MiB - 10, 4096, &target) && target == (size_t) s3,
           "read 60 falls back to s3");

        errbuf[0] = '\0';
        is_int(gobi_blob_scrub_vault(b, vault, NULL, NULL, &copied, errbuf,
                                     sizeof(errbuf)), 0, "scrub (%s)",
               errbuf);
        is_int(copied, 2, "copies 60 and 61 from s3");
        ok(on_disk(0, 60) && on_disk(0, 61), "local has them, every byte");

        /* s3 loses 61: the scrub copies it from local */

        sh = gobi_storage_s3.open(arg, &conf[s3].conf, errbuf,
                                  sizeof(errbuf));
        ok(sh && gobi_storage_s3.remove(sh, vault, hash(61), errbuf,
                                        sizeof(errbuf)) == 0,
           "61 removed from s3 behind the layer's back (%s)", errbuf);
        if (sh) {
            gobi_storage_s3.close(sh);
        }

        errbuf[0] = '\0';
        is_int(gobi_blob_scrub_vault(b, vault, NULL, NULL, &copied, errbuf,
                                     sizeof(errbuf)), 0, "scrub (%s)",
               errbuf);
        is_int(copied, 1, "copies 61 from local");
        target = s3;
        ok(read_ok(b, 61, 0, size_of(61), &target) && target == (size_t) s3,
           "s3 has 61 again, every byte");
        snprintf(path, sizeof(path), "%s/.tmp", roots[0]);
        ok(temp_files_in(spool) == 0 && temp_files_in(path) == 0,
           "no temp file of the scrub's left");

        is_int(gobi_blob_scrub_vault(b, vault, NULL, NULL, &copied, errbuf,
                                     sizeof(errbuf)), 0, "scrub again");
        is_int(copied, 0, "copies nothing");

        is_int(gobi_blob_remove_vault(b, vault, errbuf, sizeof(errbuf)), 0,
               "remove_vault on both (%s)", errbuf);
        is_int(gobi_blob_stat(b, vault, hash(60), &size, errbuf,
                              sizeof(errbuf)), 0, "60 is nowhere");

        gobi_blob_close(b);
    }
}


int
main(void)
{
    int          i;
    char         cmd[1300];
    const char  *env;

    setvbuf(stdout, NULL, _IOLBF, 0);

    snprintf(tmpdir, sizeof(tmpdir), "%s/gobi-blob.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        bail("mkdtemp", tmpdir);
    }

    snprintf(outside, sizeof(outside), "%.200s/outside", tmpdir);
    (void) mkdir(outside, 0700);

    for (i = 0; i < NTARGETS; i++) {
        snprintf(roots[i], sizeof(roots[i]), "%.200s/t%d", tmpdir, i);
        snprintf(names[i], sizeof(names[i]), "local:%.300s", roots[i]);
        (void) mkdir(roots[i], 0700);
    }

    test_open();
    test_put_read();
    test_backoff();
    test_check();
    test_quorum();
    test_three();
    test_threads();

    env = getenv("GOBI_TEST_S3");

    if (env == NULL || env[0] == '\0') {
        printf("# s3 skipped: GOBI_TEST_S3 is not set (scripts/with-s3)\n");

    } else if (&gobi_storage_s3 == NULL) {
        printf("# s3 skipped: this binary has no s3 driver\n");

    } else if (strncmp(env, "s3:", 3) != 0) {
        ok(0, "GOBI_TEST_S3 is s3:...");

    } else {
        test_s3(env);
    }

    if (!unit_failed) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", tmpdir);
        }
    }

    done_testing();
}
