/*
 * Copyright (C) the gobi authors
 *
 * The storage driver contract (gobi_storage.h), one test for every driver:
 *
 *   local                  on a fresh temp folder, always
 *   s3                     when GOBI_TEST_S3 is set (scripts/with-s3):
 *                          GOBI_TEST_S3="s3://bucket/prefix?endpoint=..."
 *                          GOBI_TEST_S3_CREDENTIALS=<credentials file>
 *
 * Vault ids and the s3 prefix are made unique per run, so a shared bucket
 * can be reused.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "unit.h"

#include "gobi_storage.h"


/* the s3 driver is optional in this binary */
extern const gobi_storage_driver_t  gobi_storage_s3 __attribute__((weak));


#define SMALL      1000
#define BIG        (20 * 1024 * 1024 + 12345)
#define MiB        (1024 * 1024)
#define NTHREADS   4
#define NBLOBS     5


static char     tmpdir[1024];
static char     errbuf[1024];
static int64_t  vault;


static int64_t
now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


static void
sleep_ms(int64_t ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { /* void */ }
}


/* a valid content hash per number (the drivers do not check content) */

static const char *
hash(unsigned n)
{
    static __thread char  bufs[8][65];
    static __thread int   i;
    char                 *b;

    b = bufs[i++ % 8];
    snprintf(b, 65, "%08x%056x", (unsigned) getpid(), n);

    return b;
}


/* byte i of blob n */

static unsigned char
byte(unsigned n, int64_t i)
{
    return (unsigned char) ((i * 31 + n * 7 + (i >> 13)) & 0xff);
}


static unsigned char *
content(unsigned n, size_t len)
{
    size_t          i;
    unsigned char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }

    for (i = 0; i < len; i++) {
        p[i] = byte(n, i);
    }

    return p;
}


/* a file of blob n's bytes in dir: its fd (open, at 0), its name in path */

static int
temp_file(const char *dir, unsigned n, size_t len, char *path, size_t plen)
{
    int             fd;
    unsigned char  *p;

    snprintf(path, plen, "%s/upload.XXXXXX", dir);

    fd = mkstemp(path);
    if (fd < 0) {
        printf("Bail out! mkstemp(%s): %s\n", path, strerror(errno));
        exit(1);
    }

    p = content(n, len);

    if (write(fd, p, len) != (ssize_t) len) {
        printf("Bail out! write(%s): %s\n", path, strerror(errno));
        exit(1);
    }

    free(p);

    return fd;
}


static int
put(const gobi_storage_driver_t *drv, gobi_storage_t *s, unsigned n,
    size_t len, const char *dir, char *path, size_t plen)
{
    int   fd, rc;
    char  name[1024];

    if (path == NULL) {
        path = name;
        plen = sizeof(name);
    }

    fd = temp_file(dir ? dir : drv->tmp_dir(s), n, len, path, plen);

    errbuf[0] = '\0';
    rc = drv->put(s, vault, hash(n), path, fd, errbuf, sizeof(errbuf));
    if (rc != 0) {
        printf("# put %u: %s\n", n, errbuf);
    }

    close(fd);

    if (dir == NULL) {
        (void) unlink(path);     /* as the glue does with what is left */
    }

    return rc;
}


/* bytes [off, off + len) of blob n read back as they were written */

static int
read_ok(const gobi_storage_driver_t *drv, gobi_storage_t *s, unsigned n,
    int64_t off, size_t len, ssize_t want)
{
    int             good;
    ssize_t         got, i;
    unsigned char  *buf;

    buf = malloc(len ? len : 1);
    if (buf == NULL) {
        return 0;
    }

    errbuf[0] = '\0';
    got = drv->read(s, vault, hash(n), off, buf, len, errbuf,
                    sizeof(errbuf));

    good = (got == want);

    if (!good) {
        printf("# read %u [%lld, +%zu): %zd, want %zd (%s)\n", n,
               (long long) off, len, got, want, errbuf);
    }

    for (i = 0; good && i < got; i++) {
        if (buf[i] != byte(n, off + i)) {
            printf("# read %u: byte %lld differs\n", n,
                   (long long) (off + i));
            good = 0;
        }
    }

    free(buf);

    return good;
}


static int
stat_of(const gobi_storage_driver_t *drv, gobi_storage_t *s, unsigned n,
    int64_t *size)
{
    int64_t  dummy;

    errbuf[0] = '\0';

    return drv->stat(s, vault, hash(n), size ? size : &dummy, errbuf,
                     sizeof(errbuf));
}


/* list() ---------------------------------------------------------------- */


typedef struct {
    int      n;
    int      found[8];
    int64_t  size[8];
    int      strays;
} listed_t;


static int
list_cb(void *data, const char *h, int64_t size)
{
    unsigned   i;
    listed_t  *l;

    l = data;
    l->n++;

    for (i = 0; i < 8; i++) {
        if (strcmp(h, hash(i)) == 0) {
            l->found[i]++;
            l->size[i] = size;
            return 0;
        }
    }

    l->strays++;

    return 0;
}


static int
list_stop(void *data, const char *h, int64_t size)
{
    (void) data;
    (void) h;
    (void) size;

    return 7;
}


/* collect() ------------------------------------------------------------- */


typedef struct {
    int       answer;                      /* for `unwanted`, others: 1 */
    unsigned  unwanted;
    int       asked;
} refs_t;


static int
referenced(void *data, int64_t v, const char *h)
{
    refs_t  *r;

    r = data;

    if (v == vault && strcmp(h, hash(r->unwanted)) == 0) {
        r->asked++;
        return r->answer;
    }

    /* anything else in the bucket or folder is someone's */
    return 1;
}


static int64_t
collect(const gobi_storage_driver_t *drv, gobi_storage_t *s, int64_t min_age,
    int answer, unsigned unwanted, int *rc)
{
    refs_t   r;
    int64_t  removed;

    r.answer = answer;
    r.unwanted = unwanted;
    r.asked = 0;
    removed = -1;

    *rc = drv->collect(s, min_age, referenced, &r, &removed);

    return removed;
}


/* tmp_sweep() ----------------------------------------------------------- */


static int
exists(const char *path)
{
    struct stat  st;

    return lstat(path, &st) == 0;
}


/*
 * A worker killed mid-upload: a child opens the driver, leaves a temp file
 * in its folder and dies by SIGKILL.  The name of its file in path.
 */

static int
killed_worker(const gobi_storage_driver_t *drv, const char *arg,
    const gobi_storage_conf_t *conf, char *path, size_t plen)
{
    int              p[2], status;
    pid_t            pid;
    ssize_t          n;
    gobi_storage_t  *s;

    if (pipe(p) != 0) {
        return -1;
    }

    fflush(stdout);

    pid = fork();
    if (pid < 0) {
        return -1;
    }

    if (pid == 0) {
        close(p[0]);

        s = drv->open(arg, conf, errbuf, sizeof(errbuf));
        if (s == NULL) {
            _exit(1);
        }

        close(temp_file(drv->tmp_dir(s), 99, 10, path, plen));

        if (write(p[1], path, strlen(path) + 1) < 0) {
            _exit(1);
        }

        kill(getpid(), SIGKILL);
        _exit(1);
    }

    close(p[1]);

    n = read(p[0], path, plen - 1);
    close(p[0]);

    if (waitpid(pid, &status, 0) != pid || n <= 0) {
        return -1;
    }

    path[n] = '\0';

    return (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ? 0 : -1;
}


/* several threads on one handle, as the thread pool does -------------- */


typedef struct {
    const gobi_storage_driver_t  *drv;
    gobi_storage_t               *s;
    unsigned                      base;
    int                           failed;
    char                          err[512];
} worker_t;


static void *
worker(void *data)
{
    int             fd;
    char            path[1024];
    unsigned        i, n;
    int64_t         size;
    worker_t       *w;
    unsigned char   buf[4096];

    w = data;

    for (i = 0; i < NBLOBS && !w->failed; i++) {
        n = w->base + i;

        fd = temp_file(w->drv->tmp_dir(w->s), n, 3000 + n, path,
                       sizeof(path));

        if (w->drv->put(w->s, vault, hash(n), path, fd, w->err,
                        sizeof(w->err)) != 0
            || w->drv->stat(w->s, vault, hash(n), &size, w->err,
                            sizeof(w->err)) != 1
            || size != 3000 + n
            || w->drv->read(w->s, vault, hash(n), 1000, buf, sizeof(buf),
                            w->err, sizeof(w->err)) != 2000 + n
            || buf[0] != byte(n, 1000) || buf[1999 + n] != byte(n, 2999 + n)
            || w->drv->remove(w->s, vault, hash(n), w->err,
                              sizeof(w->err)) != 0)
        {
            w->failed = 1;
        }

        close(fd);
        (void) unlink(path);
    }

    return NULL;
}


static void
threads(const gobi_storage_driver_t *drv, gobi_storage_t *s)
{
    int        i, failed;
    pthread_t  t[NTHREADS];
    worker_t   w[NTHREADS];

    for (i = 0; i < NTHREADS; i++) {
        w[i].drv = drv;
        w[i].s = s;
        w[i].base = 1000 + i * NBLOBS;
        w[i].failed = 0;
        w[i].err[0] = '\0';

        if (pthread_create(&t[i], NULL, worker, &w[i]) != 0) {
            printf("Bail out! pthread_create\n");
            exit(1);
        }
    }

    failed = 0;

    for (i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);

        if (w[i].failed) {
            printf("# thread %d: %s\n", i, w[i].err);
            failed++;
        }
    }

    is_int(failed, 0, "%s: %d threads put, stat, read and remove on one "
           "handle", drv->scheme, NTHREADS);
}


/* the contract ---------------------------------------------------------- */


static void
contract(const gobi_storage_driver_t *drv, const char *arg,
    const gobi_storage_conf_t *conf, const char *outside)
{
    int               fd, rc;
    char              path[1024], kept[1024], dead[1024];
    int64_t           size, t0, removed;
    listed_t          l;
    const char       *tmp;
    struct stat       st;
    gobi_storage_t   *s, *s2;

    printf("# driver %s\n", drv->scheme);

    s = drv->open(arg, conf, errbuf, sizeof(errbuf));
    ok(s != NULL, "%s: open (%s)", drv->scheme, s ? "ok" : errbuf);
    if (s == NULL) {
        return;
    }

    tmp = drv->tmp_dir(s);
    ok(tmp != NULL && stat(tmp, &st) == 0 && S_ISDIR(st.st_mode)
       && (st.st_mode & 077) == 0,
       "%s: tmp_dir is a folder of ours: %s", drv->scheme,
       tmp ? tmp : "(null)");

    vault = (int64_t) now_ms() * 1000 + (getpid() % 1000);

    /* the blob whose refresh is checked below is put first: it gets old */
    is_int(put(drv, s, 6, 100, NULL, NULL, 0), 0, "%s: put 6",
           drv->scheme);
    t0 = now_ms();

    /* put from the driver's own temp folder, and from another */

    is_int(put(drv, s, 1, SMALL, NULL, path, sizeof(path)), 0,
           "%s: put 1 from tmp_dir", drv->scheme);

    is_int(put(drv, s, 2, 10, outside, path, sizeof(path)), 0,
           "%s: put 2 from a file outside tmp_dir", drv->scheme);
    ok(stat(path, &st) == 0 && st.st_size == 10,
       "%s: the file outside tmp_dir is left alone", drv->scheme);
    (void) unlink(path);

    is_int(put(drv, s, 3, 0, NULL, NULL, 0), 0, "%s: put 3 (empty)",
           drv->scheme);

    /* stat */

    size = -1;
    is_int(stat_of(drv, s, 1, &size), 1, "%s: stat 1", drv->scheme);
    is_int(size, SMALL, "%s: stat 1: its size", drv->scheme);
    size = -1;
    is_int(stat_of(drv, s, 2, &size), 1, "%s: stat 2", drv->scheme);
    is_int(size, 10, "%s: stat 2: its size", drv->scheme);
    size = -1;
    is_int(stat_of(drv, s, 3, &size), 1, "%s: stat 3", drv->scheme);
    is_int(size, 0, "%s: stat 3: its size", drv->scheme);

    /* read: whole, ranges, at the end, past it */

    ok(read_ok(drv, s, 1, 0, SMALL, SMALL), "%s: read 1 whole", drv->scheme);
    ok(read_ok(drv, s, 1, 0, 2 * SMALL, SMALL),
       "%s: read 1 with room to spare: its size", drv->scheme);
    ok(read_ok(drv, s, 1, 100, 50, 50), "%s: read 1 [100, 150)",
       drv->scheme);
    ok(read_ok(drv, s, 1, SMALL - 10, 50, 10),
       "%s: read 1 across its end: short", drv->scheme);
    ok(read_ok(drv, s, 1, SMALL - 1, 1, 1), "%s: read 1: its last byte",
       drv->scheme);
    ok(read_ok(drv, s, 1, SMALL, 10, 0), "%s: read 1 at its end: 0",
       drv->scheme);
    ok(read_ok(drv, s, 1, SMALL + 5000, 10, 0), "%s: read 1 past its end: 0",
       drv->scheme);
    ok(read_ok(drv, s, 1, 10, 0, 0), "%s: read 1, no bytes: 0",
       drv->scheme);
    ok(read_ok(drv, s, 3, 0, 10, 0), "%s: read 3 (empty): 0", drv->scheme);
    ok(read_ok(drv, s, 2, 0, 10, 10), "%s: read 2", drv->scheme);

    /* a missing blob */

    is_int(stat_of(drv, s, 5, NULL), 0, "%s: stat of a missing blob: 0",
           drv->scheme);
    errno = 0;
    ok(read_ok(drv, s, 5, 0, 10, -1), "%s: read of a missing blob: -1",
       drv->scheme);
    is_int(errno, ENOENT, "%s: ... with ENOENT", drv->scheme);
    errno = 0;
    ok(read_ok(drv, s, 5, 0, 0, -1), "%s: read 0 bytes of it: -1 too",
       drv->scheme);
    is_int(errno, ENOENT, "%s: ... with ENOENT", drv->scheme);

    /* a bad hash never becomes a name */

    is_int(drv->stat(s, vault, "../../etc/passwd", &size, errbuf,
                     sizeof(errbuf)), -1, "%s: stat of a bad hash: -1",
           drv->scheme);

    /* list */

    memset(&l, 0, sizeof(l));
    is_int(drv->list(s, vault, list_cb, &l, errbuf, sizeof(errbuf)), 0,
           "%s: list", drv->scheme);
    ok(l.n == 4 && l.found[1] == 1 && l.found[2] == 1 && l.found[3] == 1
       && l.found[6] == 1 && l.strays == 0,
       "%s: list: 1, 2, 3 and 6 once each (%d, %d strays)", drv->scheme,
       l.n, l.strays);
    ok(l.size[1] == SMALL && l.size[2] == 10 && l.size[3] == 0
       && l.size[6] == 100, "%s: list: their sizes", drv->scheme);
    is_int(drv->list(s, vault, list_stop, NULL, errbuf, sizeof(errbuf)), 7,
           "%s: list: the callback's non-zero stops it", drv->scheme);

    memset(&l, 0, sizeof(l));
    is_int(drv->list(s, vault + 1, list_cb, &l, errbuf, sizeof(errbuf)), 0,
           "%s: list of a vault without blobs", drv->scheme);
    is_int(l.n, 0, "%s: ... is empty", drv->scheme);

    /* a put of an existing blob marks it as wanted again */

    sleep_ms(2200 - (now_ms() - t0));
    is_int(put(drv, s, 6, 100, NULL, NULL, 0), 0, "%s: put 6 again",
           drv->scheme);

    removed = collect(drv, s, 1500, 0, 6, &rc);
    ok(rc == 0 && removed == 0,
       "%s: collect: a blob put again is not old (%lld removed)",
       drv->scheme, (long long) removed);
    is_int(stat_of(drv, s, 6, NULL), 1, "%s: ... and is there",
           drv->scheme);

    removed = collect(drv, s, 0, 1, 6, &rc);
    ok(rc == 0 && removed == 0, "%s: collect: a referenced blob stays",
       drv->scheme);
    removed = collect(drv, s, 3600 * 1000, 0, 6, &rc);
    ok(rc == 0 && removed == 0,
       "%s: collect: an unreferenced blob younger than min_age stays",
       drv->scheme);
    is_int(stat_of(drv, s, 6, NULL), 1, "%s: ... it is there", drv->scheme);

    removed = collect(drv, s, 0, 0, 6, &rc);
    ok(rc == 0 && removed == 1,
       "%s: collect: an old unreferenced blob goes (%lld removed)",
       drv->scheme, (long long) removed);
    is_int(stat_of(drv, s, 6, NULL), 0, "%s: ... it is gone", drv->scheme);
    is_int(stat_of(drv, s, 1, NULL), 1, "%s: ... the others stay",
           drv->scheme);

    /* remove */

    is_int(drv->remove(s, vault, hash(1), errbuf, sizeof(errbuf)), 0,
           "%s: remove 1", drv->scheme);
    is_int(stat_of(drv, s, 1, NULL), 0, "%s: ... it is gone", drv->scheme);
    is_int(drv->remove(s, vault, hash(1), errbuf, sizeof(errbuf)), 0,
           "%s: remove 1 again: 0", drv->scheme);

    threads(drv, s);

    /* a large blob (a multipart upload on s3) */

    is_int(put(drv, s, 4, BIG, NULL, NULL, 0), 0, "%s: put 4 (20 MiB)",
           drv->scheme);
    size = -1;
    is_int(stat_of(drv, s, 4, &size), 1, "%s: stat 4", drv->scheme);
    is_int(size, BIG, "%s: stat 4: its size", drv->scheme);
    ok(read_ok(drv, s, 4, 0, BIG, BIG), "%s: read 4 whole", drv->scheme);
    ok(read_ok(drv, s, 4, 8 * MiB - 100, 200, 200),
       "%s: read 4 across 8 MiB", drv->scheme);
    ok(read_ok(drv, s, 4, 16 * MiB - 3, 3 * MiB, 3 * MiB),
       "%s: read 4 [16 MiB - 3, +3 MiB)", drv->scheme);
    ok(read_ok(drv, s, 4, BIG - 1000, 64 * 1024, 1000),
       "%s: read 4 across its end", drv->scheme);
    ok(read_ok(drv, s, 4, 12345, 1, 1), "%s: read 4: one byte",
       drv->scheme);

    /* remove_vault */

    is_int(drv->remove_vault(s, vault, errbuf, sizeof(errbuf)), 0,
           "%s: remove_vault (%s)", drv->scheme, errbuf);
    memset(&l, 0, sizeof(l));
    is_int(drv->list(s, vault, list_cb, &l, errbuf, sizeof(errbuf)), 0,
           "%s: list after remove_vault", drv->scheme);
    is_int(l.n, 0, "%s: ... is empty", drv->scheme);
    is_int(stat_of(drv, s, 4, NULL), 0, "%s: ... blob 4 is gone",
           drv->scheme);
    is_int(drv->remove_vault(s, vault, errbuf, sizeof(errbuf)), 0,
           "%s: remove_vault again: 0", drv->scheme);

    /*
     * tmp_sweep: the temp files of a live process stay (ours and those of
     * another handle, which holds its own folder), a killed one's go
     */

    fd = temp_file(tmp, 7, 10, path, sizeof(path));
    close(fd);

    s2 = drv->open(arg, conf, errbuf, sizeof(errbuf));
    ok(s2 != NULL, "%s: a second open (%s)", drv->scheme,
       s2 ? "ok" : errbuf);
    if (s2 == NULL) {
        drv->close(s);
        return;
    }

    ok(strcmp(drv->tmp_dir(s2), tmp) != 0,
       "%s: ... has a temp folder of its own", drv->scheme);
    fd = temp_file(drv->tmp_dir(s2), 7, 10, kept, sizeof(kept));
    close(fd);

    is_int(killed_worker(drv, arg, conf, dead, sizeof(dead)), 0,
           "%s: a worker killed mid-upload", drv->scheme);
    ok(exists(dead), "%s: ... left its temp file", drv->scheme);

    removed = -1;
    is_int(drv->tmp_sweep(s, 0, &removed), 0, "%s: tmp_sweep",
           drv->scheme);
    ok(removed >= 1, "%s: ... removed %lld", drv->scheme,
       (long long) removed);
    ok(!exists(dead), "%s: ... the killed worker's file is gone",
       drv->scheme);
    ok(exists(path), "%s: ... our own temp file stays", drv->scheme);
    ok(exists(kept), "%s: ... a live handle's temp file stays",
       drv->scheme);

    drv->close(s2);
    ok(!exists(kept), "%s: close clears its temp folder", drv->scheme);

    (void) unlink(path);
    drv->close(s);
}


/* s3 only --------------------------------------------------------------- */


static void
write_file(const char *path, const char *text, mode_t mode)
{
    int  fd;

    (void) unlink(path);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
        printf("Bail out! write %s: %s\n", path, strerror(errno));
        exit(1);
    }

    (void) fchmod(fd, mode);
    close(fd);
}


/* the value of `name = value` in a credentials file */

static int
cred_value(const char *file, const char *name, char *buf, size_t len)
{
    FILE    *f;
    char     line[1024], *p, *e;
    size_t   n;

    f = fopen(file, "r");
    if (f == NULL) {
        return -1;
    }

    n = strlen(name);

    while (fgets(line, sizeof(line), f)) {
        p = line + strspn(line, " \t");

        if (strncmp(p, name, n) != 0) {
            continue;
        }

        p += n;
        p += strspn(p, " \t");

        if (*p++ != '=') {
            continue;
        }

        p += strspn(p, " \t");
        e = p + strcspn(p, " \t\r\n");
        *e = '\0';

        snprintf(buf, len, "%s", p);
        fclose(f);

        return 0;
    }

    fclose(f);

    return -1;
}


/* an arg with another query (what follows '?') */

static void
with_query(char *buf, size_t len, const char *arg, const char *query)
{
    const char  *q;

    q = strchr(arg, '?');

    snprintf(buf, len, "%.*s?%s", (int) (q ? q - arg : (long) strlen(arg)),
             arg, query);
}


/* a loopback port nobody listens on */

static int
dead_port(void)
{
    int                 fd, port;
    socklen_t           len;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sin);

    if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || getsockname(fd, (struct sockaddr *) &sin, &len) != 0)
    {
        printf("Bail out! no free port\n");
        exit(1);
    }

    port = ntohs(sin.sin_port);
    close(fd);

    return port;
}


static size_t
collect_body(char *p, size_t size, size_t n, void *data)
{
    size_t   len;
    char    *buf;

    buf = data;
    len = strlen(buf);

    if (len + size * n < 65536) {
        memcpy(buf + len, p, size * n);
        buf[len + size * n] = '\0';
    }

    return size * n;
}


/*
 * The multipart uploads in flight of blob n, by a request of our own
 * (ListMultipartUploads; MinIO lists those of one key only): the number of
 * <Upload>s, or -1.
 */

static int
uploads_in_flight(const char *arg, unsigned n, const char *key,
    const char *secret)
{
    int                 found;
    long                status;
    char                url[4096], user[600], bucket[128], prefix[1024],
                        endpoint[256], *esc, *body;
    CURL               *h;
    const char         *p, *q, *e;
    struct curl_slist  *hl;

    p = arg + 2;
    q = strchr(p, '/');
    e = strchr(p, '?');
    if (q == NULL || e == NULL || strstr(e, "endpoint=") == NULL) {
        return -1;
    }

    snprintf(bucket, sizeof(bucket), "%.*s", (int) (q - p), p);
    snprintf(prefix, sizeof(prefix), "%.*s/%lld/%.2s/%s", (int) (e - q - 1),
             q + 1, (long long) vault, hash(n), hash(n));
    p = strstr(e, "endpoint=") + 9;
    snprintf(endpoint, sizeof(endpoint), "%.*s", (int) strcspn(p, "&"), p);
    snprintf(user, sizeof(user), "%s:%s", key, secret);

    h = curl_easy_init();
    body = calloc(1, 65536);
    esc = curl_easy_escape(h, prefix, 0);
    snprintf(url, sizeof(url), "%s/%s?prefix=%s&uploads=", endpoint, bucket,
             esc);
    curl_free(esc);

    hl = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(h, CURLOPT_USERPWD, user);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);

    found = -1;
    status = 0;

    if (curl_easy_perform(h) == CURLE_OK
        && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK
        && status == 200 && strstr(body, "<ListMultipartUploadsResult"))
    {
        for (found = 0, p = body; (p = strstr(p, "<Upload>")); p++) {
            found++;
        }

    } else {
        printf("# ListMultipartUploads: HTTP %ld %.300s\n", status, body);
    }

    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    free(body);

    return found;
}


static void
s3_only(const char *arg, const gobi_storage_conf_t *conf)
{
    int                   fd, rc;
    char                  a[4096], q[512], key[256], secret[256],
                          file[1200], text[1024], path[1024];
    int64_t               t, size;
    const char           *bad[] = {
        "//bucket/p?endpoint=http://127.0.0.1:9&colour=blue",
        "///p?endpoint=http://127.0.0.1:9",
        "//bucket/p?endpoint=ftp://127.0.0.1:9",
        "//bucket/p?endpoint=http://",
        "//bucket/p?endpoint=http://127.0.0.1:99999",
        "//bucket/p?endpoint=http://127.0.0.1:9/a/path",
        "//bucket/p?region=",
        "//bucket/p?region=us-east-1&region=eu-west-1",
        "//BUCKET/p",
        "//bucket/a//b",
        "//bucket/p?endpoint",
        "bucket/p",
        NULL
    };
    const char          **b;
    gobi_storage_t       *s;
    gobi_storage_conf_t   c;

    printf("# s3 only\n");

    c = *conf;

    for (b = bad; *b; b++) {
        errbuf[0] = '\0';
        s = gobi_storage_s3.open(*b, &c, errbuf, sizeof(errbuf));
        ok(s == NULL && errbuf[0], "s3: open \"%s\" refused: %s", *b, errbuf);
        if (s) {
            gobi_storage_s3.close(s);
        }
    }

    errbuf[0] = '\0';
    c.spool = NULL;
    s = gobi_storage_s3.open(arg, &c, errbuf, sizeof(errbuf));
    ok(s == NULL && errbuf[0], "s3: open without a spool refused: %s",
       errbuf);
    c.spool = conf->spool;

    c.credentials = NULL;
    s = gobi_storage_s3.open(arg, &c, errbuf, sizeof(errbuf));
    ok(s == NULL && errbuf[0], "s3: open without credentials refused: %s",
       errbuf);

    if (cred_value(conf->credentials, "aws_access_key_id", key, sizeof(key))
        != 0
        || cred_value(conf->credentials, "aws_secret_access_key", secret,
                      sizeof(secret)) != 0)
    {
        ok(0, "s3: the credentials file has a key and a secret");
        return;
    }

    /* a file others may read is refused, and so are bad ones */

    snprintf(file, sizeof(file), "%s/creds", tmpdir);
    snprintf(text, sizeof(text), "[default]\naws_access_key_id = %s\n"
             "aws_secret_access_key = %s\n", key, secret);
    write_file(file, text, 0644);

    c.credentials = file;
    errbuf[0] = '\0';
    s = gobi_storage_s3.open(arg, &c, errbuf, sizeof(errbuf));
    ok(s == NULL && strstr(errbuf, "0644") != NULL,
       "s3: a credentials file of mode 0644 refused: %s", errbuf);
    ok(strstr(errbuf, secret) == NULL, "s3: ... without its secret");

    write_file(file, "[default]\naws_access_key_id = x\n", 0600);
    s = gobi_storage_s3.open(arg, &c, errbuf, sizeof(errbuf));
    ok(s == NULL && errbuf[0], "s3: a file without a secret refused: %s",
       errbuf);

    snprintf(text, sizeof(text), "# a comment\n%s %s\n", key, secret);
    write_file(file, text, 0600);
    s = gobi_storage_s3.open(arg, &c, errbuf, sizeof(errbuf));
    ok(s != NULL, "s3: a \"key_id secret\" line is taken (%s)",
       s ? "ok" : errbuf);
    if (s) {
        size = -1;
        rc = gobi_storage_s3.stat(s, vault, hash(1), &size, errbuf,
                                  sizeof(errbuf));
        is_int(rc, 0, "s3: ... and works (%s)", rc < 0 ? errbuf : "ok");
        gobi_storage_s3.close(s);
    }

    /* a wrong secret: refused by the server, and never shown */

    snprintf(text, sizeof(text), "[default]\naws_access_key_id = %s\n"
             "aws_secret_access_key = WrongSecretK3yThatIsLong/Enough+42\n",
             key);
    write_file(file, text, 0600);

    s = gobi_storage_s3.open(arg, &c, errbuf, sizeof(errbuf));
    ok(s != NULL, "s3: open with a wrong secret (%s)", s ? "ok" : errbuf);
    if (s) {
        fd = temp_file(gobi_storage_s3.tmp_dir(s), 1, 100, path,
                       sizeof(path));
        errbuf[0] = '\0';
        errno = 0;
        rc = gobi_storage_s3.put(s, vault, hash(1), path, fd, errbuf,
                                 sizeof(errbuf));
        is_int(rc, -1, "s3: put with a wrong secret fails: %s", errbuf);
        is_int(errno, EIO, "s3: ... with EIO");
        ok(strstr(errbuf, "WrongSecret") == NULL
           && strstr(errbuf, secret) == NULL,
           "s3: ... and errbuf has no secret");
        close(fd);
        (void) unlink(path);
        gobi_storage_s3.close(s);
    }

    /*
     * A multipart upload that fails half way (a file that cannot be read:
     * open for writing only) is given up, so no part of it stays
     */

    c.credentials = conf->credentials;
    s = gobi_storage_s3.open(arg, &c, errbuf, sizeof(errbuf));
    ok(s != NULL, "s3: open (%s)", s ? "ok" : errbuf);
    if (s) {
        close(temp_file(gobi_storage_s3.tmp_dir(s), 8, BIG, path,
                        sizeof(path)));
        fd = open(path, O_WRONLY);
        errbuf[0] = '\0';
        errno = 0;
        rc = gobi_storage_s3.put(s, vault, hash(8), path, fd, errbuf,
                                 sizeof(errbuf));
        is_int(rc, -1, "s3: a multipart put from an unreadable file "
               "fails: %s", errbuf);
        ok(errno != 0, "s3: ... with errno set (%s)", strerror(errno));
        is_int(gobi_storage_s3.stat(s, vault, hash(8), &size, errbuf,
                                    sizeof(errbuf)), 0,
               "s3: ... and no blob");
        is_int(uploads_in_flight(arg, 8, key, secret), 0,
               "s3: ... nor a multipart upload in flight");
        close(fd);
        (void) unlink(path);
        gobi_storage_s3.close(s);
    }

    /* an endpoint nobody listens on: open works, stat fails, quickly */

    snprintf(q, sizeof(q), "endpoint=http://127.0.0.1:%d&region=us-east-1",
             dead_port());
    with_query(a, sizeof(a), arg, q);

    s = gobi_storage_s3.open(a, &c, errbuf, sizeof(errbuf));
    ok(s != NULL, "s3: open on a dead endpoint works (%s)",
       s ? "ok" : errbuf);
    if (s) {
        t = now_ms();
        rc = gobi_storage_s3.stat(s, vault, hash(1), &size, errbuf,
                                  sizeof(errbuf));
        t = now_ms() - t;
        is_int(rc, -1, "s3: stat on a dead endpoint: -1: %s", errbuf);
        ok(t < 6000, "s3: ... within seconds (%lld ms)", (long long) t);
        gobi_storage_s3.close(s);
    }
}


/* ----------------------------------------------------------------------- */


int
main(void)
{
    char                  root[1200], outside[1200], spool[1200],
                          arg[4096];
    const char           *env, *q;
    gobi_storage_conf_t   conf;

    setvbuf(stdout, NULL, _IOLBF, 0);

    snprintf(tmpdir, sizeof(tmpdir), "%s/gobi-storage.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }

    snprintf(root, sizeof(root), "%s/blobs", tmpdir);
    snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
    snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
    (void) mkdir(root, 0700);
    (void) mkdir(outside, 0700);

    /* local */

    memset(&conf, 0, sizeof(conf));
    contract(&gobi_storage_local, root, &conf, outside);

    errbuf[0] = '\0';
    ok(gobi_storage_local.open("/nonexistent/gobi", &conf, errbuf,
                               sizeof(errbuf)) == NULL && errbuf[0],
       "local: open of a missing folder refused: %s", errbuf);

    /* s3 */

    env = getenv("GOBI_TEST_S3");

    if (env == NULL || env[0] == '\0') {
        printf("# s3 skipped: GOBI_TEST_S3 is not set (scripts/with-s3)\n");

    } else if (&gobi_storage_s3 == NULL) {
        printf("# s3 skipped: this binary has no s3 driver\n");

    } else if (strncmp(env, "s3:", 3) != 0
               || getenv("GOBI_TEST_S3_CREDENTIALS") == NULL)
    {
        ok(0, "GOBI_TEST_S3 is s3:... and GOBI_TEST_S3_CREDENTIALS is set");

    } else {
        /* a prefix of this run's own below the one given */
        q = strchr(env + 3, '?');
        snprintf(arg, sizeof(arg), "%.*s/run-%ld-%lld%s",
                 (int) (q ? q - env - 3 : (long) strlen(env + 3)), env + 3,
                 (long) getpid(), (long long) now_ms(), q ? q : "");

        conf.spool = spool;
        conf.credentials = getenv("GOBI_TEST_S3_CREDENTIALS");

        contract(&gobi_storage_s3, arg, &conf, outside);
        s3_only(arg, &conf);
    }

    if (!unit_failed) {
        char  cmd[1300];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", tmpdir);
        }
    }

    done_testing();
}
