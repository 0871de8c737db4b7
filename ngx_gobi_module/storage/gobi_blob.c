/*
 * Copyright (C) the gobi authors
 *
 * The blob targets (gobi_blob.h): several storage drivers used as one.
 *
 * Health: a target that fails a call is left alone for a back-off (1 s,
 * doubling to 60 s), so that a dead remote does not cost every request its
 * timeout; when the back-off is over, one call tries it again (the others
 * still skip it meanwhile), and the first success clears it.  Only this
 * state is under the mutex: no lock is held across a driver's I/O.
 *
 * "Not there" (stat 0, read ENOENT) is an answer, not a failure; nor is
 * "no room" (put ENOSPC/EDQUOT): a full target still serves its blobs, and
 * a single one taken down for being full would fail every download too.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gobi_hash.h"
#include "gobi_blob.h"
#include "gobi_storage_spool.h"


#define GOBI_BLOB_BACKOFF_MIN  1000        /* ms */
#define GOBI_BLOB_BACKOFF_MAX  60000
#define GOBI_BLOB_ERRLEN       512
#define GOBI_BLOB_PIECE        (1024 * 1024)
/* blobs of one vault per target a scrub holds (40 bytes each) */
#define GOBI_BLOB_LIST_MAX     (1 << 21)


typedef struct {
    const gobi_storage_driver_t  *driver;
    gobi_storage_t               *s;
    char                         *name;

    /* the health, under the mutex */
    int64_t                       backoff;     /* ms; 0: healthy */
    int64_t                       retry;       /* ms: tried again from then */
    unsigned                      trying:1;    /* a call tries it again */
    char                          why[GOBI_BLOB_ERRLEN];
} gobi_blob_target_t;


struct gobi_blob_s {
    pthread_mutex_t               lock;
    int64_t                     (*now)(void);
    size_t                        n;
    size_t                        quorum;
    gobi_blob_target_t            t[GOBI_BLOB_TARGETS_MAX];
};


static int64_t
gobi_blob_now_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


gobi_blob_t *
gobi_blob_open(const gobi_blob_target_conf_t *targets, size_t n,
    size_t quorum, char *errbuf, size_t errlen)
{
    char                 msg[GOBI_BLOB_ERRLEN];
    size_t               i, j;
    const char          *name;
    gobi_blob_t         *b;
    gobi_blob_target_t  *t;

    if (targets == NULL || n == 0) {
        snprintf(errbuf, errlen, "no storage target");
        return NULL;
    }

    if (n > GOBI_BLOB_TARGETS_MAX) {
        snprintf(errbuf, errlen, "%zu storage targets, at most %d", n,
                 GOBI_BLOB_TARGETS_MAX);
        return NULL;
    }

    if (quorum > n) {
        snprintf(errbuf, errlen, "a quorum of %zu with %zu storage target%s",
                 quorum, n, n == 1 ? "" : "s");
        return NULL;
    }

    for (i = 0; i < n; i++) {
        name = targets[i].name ? targets[i].name : "(unnamed)";

        if (targets[i].driver == NULL || targets[i].arg == NULL) {
            snprintf(errbuf, errlen, "%s: no driver or no argument", name);
            return NULL;
        }

        /* the same place twice would make the quorum a pretence */

        for (j = 0; j < i; j++) {
            if (targets[j].driver == targets[i].driver
                && strcmp(targets[j].arg, targets[i].arg) == 0)
            {
                snprintf(errbuf, errlen, "%s: listed twice", name);
                return NULL;
            }
        }
    }

    b = calloc(1, sizeof(gobi_blob_t));
    if (b == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        snprintf(errbuf, errlen, "pthread_mutex_init() failed");
        free(b);
        return NULL;
    }

    b->now = gobi_blob_now_ms;
    b->quorum = quorum ? quorum : n;

    for (i = 0; i < n; i++) {
        t = &b->t[i];
        t->driver = targets[i].driver;
        t->name = strdup(targets[i].name ? targets[i].name
                                         : targets[i].driver->scheme);

        if (t->name == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            goto failed;
        }

        msg[0] = '\0';
        t->s = t->driver->open(targets[i].arg, &targets[i].conf, msg,
                               sizeof(msg));

        if (t->s == NULL) {
            snprintf(errbuf, errlen, "%s: %s", t->name,
                     msg[0] ? msg : "open failed");
            goto failed;
        }

        b->n = i + 1;
    }

    return b;

failed:

    gobi_blob_close(b);

    return NULL;
}


void
gobi_blob_close(gobi_blob_t *b)
{
    size_t  i;

    if (b == NULL) {
        return;
    }

    /* calloc()ed: a target open() did not reach has neither */

    for (i = 0; i < GOBI_BLOB_TARGETS_MAX; i++) {
        if (b->t[i].s) {
            b->t[i].driver->close(b->t[i].s);
        }

        free(b->t[i].name);
    }

    (void) pthread_mutex_destroy(&b->lock);
    free(b);
}


size_t
gobi_blob_targets(gobi_blob_t *b)
{
    return b->n;
}


const char *
gobi_blob_target_name(gobi_blob_t *b, size_t i)
{
    return i < b->n ? b->t[i].name : NULL;
}


int
gobi_blob_target_down(gobi_blob_t *b, size_t i)
{
    int  down;

    if (i >= b->n) {
        return 0;
    }

    pthread_mutex_lock(&b->lock);
    down = (b->t[i].backoff != 0);
    pthread_mutex_unlock(&b->lock);

    return down;
}


void
gobi_blob_clock(gobi_blob_t *b, int64_t (*now)(void))
{
    b->now = now ? now : gobi_blob_now_ms;
}


const char *
gobi_blob_tmp_dir(gobi_blob_t *b)
{
    return b->t[0].driver->tmp_dir(b->t[0].s);
}


/* the health ----------------------------------------------------------- */


/*
 * May target i be called now?  1, or 0 with `why` filled: it is in its
 * back-off.  The first call after the back-off is the one that tries it;
 * the retry time moves on at once, so that the others keep skipping it
 * (and a try that never reports back holds it for one back-off only).
 */

static int
gobi_blob_use(gobi_blob_t *b, size_t i, char *why, size_t len)
{
    int                  use;
    int64_t              now;
    gobi_blob_target_t  *t;

    t = &b->t[i];

    pthread_mutex_lock(&b->lock);

    if (t->backoff == 0) {
        use = 1;

    } else {
        now = b->now();

        if (now >= t->retry) {
            t->trying = 1;
            t->retry = now + t->backoff;
            use = 1;

        } else {
            snprintf(why, len, "down, skipped for %lld ms more (%s)",
                     (long long) (t->retry - now), t->why);
            use = 0;
        }
    }

    pthread_mutex_unlock(&b->lock);

    return use;
}


static void
gobi_blob_up(gobi_blob_t *b, size_t i)
{
    pthread_mutex_lock(&b->lock);
    b->t[i].backoff = 0;
    b->t[i].trying = 0;
    pthread_mutex_unlock(&b->lock);
}


/*
 * Target i failed.  A healthy one starts its back-off; a failed try after
 * a back-off doubles it.  A call that was under way when the target went
 * down (and failed late) changes nothing: it is the same outage.
 */

static void
gobi_blob_failed(gobi_blob_t *b, size_t i, const char *why)
{
    gobi_blob_target_t  *t;

    t = &b->t[i];

    pthread_mutex_lock(&b->lock);

    if (t->backoff == 0) {
        t->backoff = GOBI_BLOB_BACKOFF_MIN;

    } else if (t->trying) {
        t->backoff *= 2;

        if (t->backoff > GOBI_BLOB_BACKOFF_MAX) {
            t->backoff = GOBI_BLOB_BACKOFF_MAX;
        }

    } else {
        pthread_mutex_unlock(&b->lock);
        return;
    }

    t->trying = 0;
    t->retry = b->now() + t->backoff;
    snprintf(t->why, sizeof(t->why), "%s", why);

    pthread_mutex_unlock(&b->lock);
}


/* the first failure's words, with the target's name */

static void
gobi_blob_note(gobi_blob_t *b, size_t i, const char *msg, char *errbuf,
    size_t errlen, int *noted)
{
    if (*noted || errlen == 0) {
        return;
    }

    snprintf(errbuf, errlen, "%s: %s", b->t[i].name,
             msg[0] ? msg : "failed");
    *noted = 1;
}


size_t
gobi_blob_check(gobi_blob_t *b, char *errbuf, size_t errlen)
{
    int                  rc, noted;
    char                 msg[GOBI_BLOB_ERRLEN];
    size_t               i, up;
    int64_t              size;
    gobi_blob_target_t  *t;

    static const char    none[] = "0000000000000000000000000000000000000000"
                                  "000000000000000000000000";

    if (errlen) {
        errbuf[0] = '\0';
    }

    up = 0;
    noted = 0;

    for (i = 0; i < b->n; i++) {
        t = &b->t[i];
        msg[0] = '\0';

        if (t->driver->check) {
            rc = t->driver->check(t->s, msg, sizeof(msg));

        } else {
            /* vault 0 never exists: "not there" is the healthy answer */
            rc = t->driver->stat(t->s, 0, none, &size, msg, sizeof(msg));
        }

        if (rc < 0) {
            /* a healthy target starts its back-off; a down one stays */
            gobi_blob_failed(b, i, msg[0] ? msg : "check failed");
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        gobi_blob_up(b, i);
        up++;
    }

    return up;
}


size_t
gobi_blob_quorum(gobi_blob_t *b)
{
    return b->quorum ? b->quorum : b->n;
}


static int
gobi_blob_bad_hash(const char *hash, char *errbuf, size_t errlen)
{
    if (hash != NULL && gobi_storage_hash_valid(hash)) {
        return 0;
    }

    snprintf(errbuf, errlen, "not a blob hash: 64 lowercase hex digits");
    errno = EINVAL;

    return 1;
}


/* the target whose temp folder holds path, or b->n */

static size_t
gobi_blob_owner(gobi_blob_t *b, const char *path)
{
    size_t       i, len;
    const char  *dir;

    for (i = 0; i < b->n; i++) {
        dir = b->t[i].driver->tmp_dir(b->t[i].s);
        if (dir == NULL) {
            continue;
        }

        len = strlen(dir);

        while (len > 1 && dir[len - 1] == '/') {
            len--;
        }

        if (strncmp(path, dir, len) == 0 && path[len] == '/'
            && strchr(path + len + 1, '/') == NULL)
        {
            return i;
        }
    }

    return b->n;
}


/* the blobs ------------------------------------------------------------ */


int
gobi_blob_put(gobi_blob_t *b, int64_t vault, const char *hash,
    const char *tmp_path, int fd, size_t *stored, char *errbuf,
    size_t errlen)
{
    int     noted, nospace, err;
    char    msg[GOBI_BLOB_ERRLEN];
    size_t  i, k, own, have, order[GOBI_BLOB_TARGETS_MAX];

    if (stored) {
        *stored = 0;
    }

    if (errlen) {
        errbuf[0] = '\0';
    }

    if (gobi_blob_bad_hash(hash, errbuf, errlen)) {
        return -1;
    }

    if (tmp_path == NULL || fd < 0) {
        snprintf(errbuf, errlen, "no temp file to store");
        errno = EINVAL;
        return -1;
    }

    /* the owner of the temp file last: it may take the file away */

    own = gobi_blob_owner(b, tmp_path);

    for (i = 0, k = 0; i < b->n; i++) {
        if (i != own) {
            order[k++] = i;
        }
    }

    if (own < b->n) {
        order[k++] = own;
    }

    have = 0;
    noted = 0;
    nospace = 1;

    for (k = 0; k < b->n; k++) {
        i = order[k];
        msg[0] = '\0';

        if (!gobi_blob_use(b, i, msg, sizeof(msg))) {
            nospace = 0;
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        if (b->t[i].driver->put(b->t[i].s, vault, hash, tmp_path, fd, msg,
                                sizeof(msg))
            == 0)
        {
            gobi_blob_up(b, i);
            have++;
            continue;
        }

        err = errno;

        if (err == ENOSPC || err == EDQUOT) {
            /* it answered: full, not down */
            gobi_blob_up(b, i);

        } else {
            nospace = 0;
            gobi_blob_failed(b, i, msg);
        }

        gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
    }

    if (stored) {
        *stored = have;
    }

    if (have >= b->quorum) {
        return 0;
    }

    errno = nospace ? ENOSPC : EIO;

    return -1;
}


int
gobi_blob_stat(gobi_blob_t *b, int64_t vault, const char *hash,
    int64_t *size, char *errbuf, size_t errlen)
{
    int      rc, noted;
    char     msg[GOBI_BLOB_ERRLEN];
    size_t   i;
    int64_t  sz;

    if (errlen) {
        errbuf[0] = '\0';
    }

    if (gobi_blob_bad_hash(hash, errbuf, errlen)) {
        return -1;
    }

    noted = 0;

    for (i = 0; i < b->n; i++) {
        msg[0] = '\0';

        if (!gobi_blob_use(b, i, msg, sizeof(msg))) {
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        rc = b->t[i].driver->stat(b->t[i].s, vault, hash, &sz, msg,
                                  sizeof(msg));

        if (rc < 0) {
            gobi_blob_failed(b, i, msg);
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        gobi_blob_up(b, i);

        if (rc == 1) {
            if (size) {
                *size = sz;
            }

            return 1;
        }
    }

    /* not there, unless one that could not tell has it */

    return noted ? -1 : 0;
}


ssize_t
gobi_blob_read(gobi_blob_t *b, int64_t vault, const char *hash,
    int64_t off, void *buf, size_t len, size_t *target, char *errbuf,
    size_t errlen)
{
    int      noted;
    char     msg[GOBI_BLOB_ERRLEN];
    size_t   i, k, start;
    ssize_t  n;

    if (errlen) {
        errbuf[0] = '\0';
    }

    if (gobi_blob_bad_hash(hash, errbuf, errlen)) {
        return -1;
    }

    if (off < 0) {
        snprintf(errbuf, errlen, "negative offset");
        errno = EINVAL;
        return -1;
    }

    start = (target && *target < b->n) ? *target : 0;
    noted = 0;

    for (k = 0; k < b->n; k++) {
        i = (start + k) % b->n;
        msg[0] = '\0';

        if (!gobi_blob_use(b, i, msg, sizeof(msg))) {
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        n = b->t[i].driver->read(b->t[i].s, vault, hash, off, buf, len, msg,
                                 sizeof(msg));

        if (n >= 0) {
            gobi_blob_up(b, i);

            if (target) {
                *target = i;
            }

            return n;
        }

        if (errno == ENOENT) {
            gobi_blob_up(b, i);
            continue;
        }

        gobi_blob_failed(b, i, msg);
        gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
    }

    if (noted) {
        errno = EIO;
        return -1;
    }

    snprintf(errbuf, errlen, "no storage target has the blob");
    errno = ENOENT;

    return -1;
}


int
gobi_blob_path(gobi_blob_t *b, int64_t vault, const char *hash, char *buf,
    size_t len)
{
    int      rc;
    char     msg[GOBI_BLOB_ERRLEN];
    size_t   i;
    int64_t  size;

    if (gobi_blob_bad_hash(hash, msg, sizeof(msg))) {
        return -1;
    }

    for (i = 0; i < b->n; i++) {
        if (b->t[i].driver->path) {
            break;
        }
    }

    if (i == b->n || !gobi_blob_use(b, i, msg, sizeof(msg))) {
        return -1;
    }

    /* a name of a blob that is not there would fail only at open() */

    rc = b->t[i].driver->stat(b->t[i].s, vault, hash, &size, msg,
                              sizeof(msg));

    if (rc < 0) {
        gobi_blob_failed(b, i, msg);
        return -1;
    }

    gobi_blob_up(b, i);

    if (rc == 0) {
        return -1;
    }

    return b->t[i].driver->path(b->t[i].s, vault, hash, buf, len);
}


/*
 * A blob removed while a target was down stays there; the scrub does not
 * copy it back (it asks `referenced` first) and that target's collect()
 * removes it as garbage later.
 */

int
gobi_blob_remove(gobi_blob_t *b, int64_t vault, const char *hash,
    char *errbuf, size_t errlen)
{
    int     rc, noted;
    char    msg[GOBI_BLOB_ERRLEN];
    size_t  i;

    if (errlen) {
        errbuf[0] = '\0';
    }

    if (gobi_blob_bad_hash(hash, errbuf, errlen)) {
        return -1;
    }

    rc = 0;
    noted = 0;

    for (i = 0; i < b->n; i++) {
        msg[0] = '\0';

        if (!gobi_blob_use(b, i, msg, sizeof(msg))) {
            rc = -1;
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        if (b->t[i].driver->remove(b->t[i].s, vault, hash, msg, sizeof(msg))
            != 0)
        {
            rc = -1;
            gobi_blob_failed(b, i, msg);
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        gobi_blob_up(b, i);
    }

    return rc;
}


int
gobi_blob_remove_vault(gobi_blob_t *b, int64_t vault, char *errbuf,
    size_t errlen)
{
    int     rc, noted;
    char    msg[GOBI_BLOB_ERRLEN];
    size_t  i;

    if (errlen) {
        errbuf[0] = '\0';
    }

    rc = 0;
    noted = 0;

    for (i = 0; i < b->n; i++) {
        msg[0] = '\0';

        if (!gobi_blob_use(b, i, msg, sizeof(msg))) {
            rc = -1;
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        if (b->t[i].driver->remove_vault(b->t[i].s, vault, msg, sizeof(msg))
            != 0)
        {
            rc = -1;
            gobi_blob_failed(b, i, msg);
            gobi_blob_note(b, i, msg, errbuf, errlen, &noted);
            continue;
        }

        gobi_blob_up(b, i);
    }

    return rc;
}


int
gobi_blob_collect(gobi_blob_t *b, int64_t min_age_ms,
    int (*referenced)(void *data, int64_t vault, const char *hash),
    void *data, int64_t *removed)
{
    int      rc;
    char     msg[GOBI_BLOB_ERRLEN];
    size_t   i;
    int64_t  n;

    rc = 0;
    *removed = 0;

    for (i = 0; i < b->n; i++) {
        if (!gobi_blob_use(b, i, msg, sizeof(msg))) {
            rc = -1;
            continue;
        }

        n = 0;

        if (b->t[i].driver->collect(b->t[i].s, min_age_ms, referenced, data,
                                    &n)
            != 0)
        {
            rc = -1;
            gobi_blob_failed(b, i, "collecting garbage failed");

        } else {
            gobi_blob_up(b, i);
        }

        *removed += n;
    }

    return rc;
}


int
gobi_blob_tmp_sweep(gobi_blob_t *b, int64_t min_age_ms, int64_t *removed)
{
    int      rc;
    char     msg[GOBI_BLOB_ERRLEN];
    size_t   i;
    int64_t  n;

    rc = 0;
    *removed = 0;

    for (i = 0; i < b->n; i++) {
        if (!gobi_blob_use(b, i, msg, sizeof(msg))) {
            rc = -1;
            continue;
        }

        n = 0;

        if (b->t[i].driver->tmp_sweep(b->t[i].s, min_age_ms, &n) != 0) {
            rc = -1;
            gobi_blob_failed(b, i, "sweeping temp files failed");

        } else {
            gobi_blob_up(b, i);
        }

        *removed += n;
    }

    return rc;
}


/* the scrub ------------------------------------------------------------ */


typedef struct {
    unsigned char       hash[GOBI_HASH_LEN];
    int64_t             size;
} gobi_blob_entry_t;


typedef struct {
    gobi_blob_entry_t  *e;
    size_t              n;
    size_t              cap;
    const char         *full;              /* why the walk stopped */
} gobi_blob_list_t;


static int
gobi_blob_unhex(const char *hex, unsigned char *bin)
{
    int     hi, lo;
    size_t  i;

    if (!gobi_storage_hash_valid(hex)) {
        return -1;
    }

    for (i = 0; i < GOBI_HASH_LEN; i++) {
        hi = hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10;
        lo = hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0'
                                   : hex[2 * i + 1] - 'a' + 10;
        bin[i] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}


static int
gobi_blob_list_add(void *data, const char *hash, int64_t size)
{
    gobi_blob_list_t   *l = data;

    size_t              cap;
    gobi_blob_entry_t  *e;

    if (l->n == l->cap) {
        if (l->cap == GOBI_BLOB_LIST_MAX) {
            l->full = "too many blobs in the vault to scrub";
            return 1;
        }

        cap = l->cap ? l->cap * 2 : 1024;

        if (cap > GOBI_BLOB_LIST_MAX) {
            cap = GOBI_BLOB_LIST_MAX;
        }

        e = realloc(l->e, cap * sizeof(gobi_blob_entry_t));
        if (e == NULL) {
            l->full = "out of memory";
            return 1;
        }

        l->e = e;
        l->cap = cap;
    }

    /* a driver lists blobs only; anything else is not ours to copy */

    if (gobi_blob_unhex(hash, l->e[l->n].hash) == 0) {
        l->e[l->n++].size = size;
    }

    return 0;
}


static int
gobi_blob_entry_cmp(const void *a, const void *b)
{
    return memcmp(((const gobi_blob_entry_t *) a)->hash,
                  ((const gobi_blob_entry_t *) b)->hash, GOBI_HASH_LEN);
}


static int
gobi_blob_write(int fd, const char *p, size_t len, int64_t off)
{
    ssize_t  n;

    while (len) {
        n = pwrite(fd, p, len, off);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        p += n;
        len -= n;
        off += n;
    }

    return 0;
}


typedef struct {
    gobi_blob_t        *b;
    int64_t             vault;
    const char         *hash;              /* hex */
    int64_t             have[GOBI_BLOB_TARGETS_MAX];    /* size or -1 */
    int                 in[GOBI_BLOB_TARGETS_MAX];      /* listed */
    int64_t             want;
    char               *buf;               /* GOBI_BLOB_PIECE */
    char                path[PATH_MAX];    /* the temp file */
    size_t              owner;             /* whose temp folder holds it */
    char               *errbuf;
    size_t              errlen;
    int                 noted;
} gobi_blob_scrub_t;


/*
 * A temp file of ours (0600): in the first target's temp folder
 * (gobi_blob_tmp_dir), or if that one is down in the next listed one's,
 * so that the others are still repaired.
 */

static int
gobi_blob_scrub_temp(gobi_blob_scrub_t *sc, const char **dir)
{
    int           fd, noted;
    char          msg[GOBI_BLOB_ERRLEN];
    size_t        i;
    gobi_blob_t  *b;

    b = sc->b;
    noted = 0;

    for (i = 0; i < b->n; i++) {
        if (!sc->in[i]) {
            continue;
        }

        *dir = b->t[i].driver->tmp_dir(b->t[i].s);

        if (*dir == NULL
            || (size_t) snprintf(sc->path, sizeof(sc->path),
                                 "%s/scrub.XXXXXX", *dir)
               >= sizeof(sc->path))
        {
            continue;
        }

        fd = mkostemp(sc->path, O_CLOEXEC);
        if (fd >= 0) {
            sc->owner = i;
            return fd;
        }

        if (!noted) {
            snprintf(msg, sizeof(msg), "mkstemp() in \"%.400s\" failed: %s",
                     *dir, strerror(errno));
            gobi_blob_note(b, i, msg, sc->errbuf, sc->errlen, &sc->noted);
            noted = 1;
        }
    }

    if (!noted) {
        gobi_blob_note(b, 0, "no temp folder for the scrub", sc->errbuf,
                       sc->errlen, &sc->noted);
    }

    return -1;
}


/*
 * The blob into a new temp file of ours, from the first target that has
 * it with the wanted size: the fd, -1 (errbuf noted) or -2 (no target has
 * it any more: the collector took it meanwhile).
 */

static int
gobi_blob_scrub_fetch(gobi_blob_scrub_t *sc)
{
    int                  fd, gone, err;
    char                 msg[GOBI_BLOB_ERRLEN];
    size_t               i;
    int64_t              off;
    ssize_t              n;
    const char          *dir;
    gobi_blob_t         *b;
    gobi_blob_target_t  *t;

    b = sc->b;
    fd = gobi_blob_scrub_temp(sc, &dir);
    if (fd < 0) {
        return -1;
    }

    gone = 1;

    for (i = 0; i < b->n; i++) {
        t = &b->t[i];

        if (!sc->in[i] || sc->have[i] != sc->want
            || gobi_blob_target_down(b, i) || ftruncate(fd, 0) != 0)
        {
            continue;
        }

        for (off = 0; off < sc->want; off += n) {
            msg[0] = '\0';
            n = t->driver->read(t->s, sc->vault, sc->hash, off, sc->buf,
                                sc->want - off < GOBI_BLOB_PIECE
                                ? (size_t) (sc->want - off) : GOBI_BLOB_PIECE,
                                msg, sizeof(msg));

            if (n < 0) {
                if (errno == ENOENT) {
                    gobi_blob_up(b, i);
                    break;
                }

                gone = 0;
                gobi_blob_failed(b, i, msg);
                gobi_blob_note(b, i, msg, sc->errbuf, sc->errlen, &sc->noted);
                break;
            }

            if (n == 0) {
                gone = 0;
                snprintf(msg, sizeof(msg), "%s is shorter than listed",
                         sc->hash);
                gobi_blob_note(b, i, msg, sc->errbuf, sc->errlen, &sc->noted);
                break;
            }

            if (gobi_blob_write(fd, sc->buf, n, off) != 0) {
                err = errno;
                snprintf(msg, sizeof(msg), "write() in \"%.400s\" failed: %s",
                         dir, strerror(err));
                gobi_blob_note(b, sc->owner, msg, sc->errbuf, sc->errlen,
                               &sc->noted);
                goto failed;
            }
        }

        if (off == sc->want) {
            gobi_blob_up(b, i);
            return fd;
        }
    }

    if (gone) {
        (void) unlink(sc->path);
        close(fd);
        return -2;
    }

failed:

    (void) unlink(sc->path);
    close(fd);

    return -1;
}


/* one hash: what the targets listed is in sc->have */

static void
gobi_blob_scrub_one(gobi_blob_scrub_t *sc, int64_t *copied,
    int (*referenced)(void *data, int64_t vault, const char *hash),
    void *data)
{
    int                  fd;
    char                 msg[GOBI_BLOB_ERRLEN];
    size_t               i, j, k, own, holders, votes, fix,
                         order[GOBI_BLOB_TARGETS_MAX];
    gobi_blob_t         *b;
    struct stat          named, held;
    gobi_blob_target_t  *t;

    b = sc->b;
    holders = 0;
    fix = 0;

    for (i = 0; i < b->n; i++) {
        holders += (sc->in[i] && sc->have[i] >= 0);
    }

    /* the size a strict majority of the holders agree on */

    sc->want = -1;

    for (i = 0; i < b->n && sc->want < 0; i++) {
        if (!sc->in[i] || sc->have[i] < 0) {
            continue;
        }

        for (j = 0, votes = 0; j < b->n; j++) {
            votes += (sc->in[j] && sc->have[j] == sc->have[i]);
        }

        if (2 * votes > holders) {
            sc->want = sc->have[i];
        }
    }

    for (i = 0; i < b->n; i++) {
        fix += (sc->in[i] && sc->have[i] != sc->want);
    }

    if (fix == 0) {
        return;
    }

    if (sc->want < 0) {
        for (i = 0; !sc->in[i] || sc->have[i] < 0; i++) { /* void */ }

        snprintf(msg, sizeof(msg), "%s: the targets' sizes differ and no "
                 "majority agrees: left alone", sc->hash);
        gobi_blob_note(b, i, msg, sc->errbuf, sc->errlen, &sc->noted);
        return;
    }

    /*
     * Not spread if it is garbage: one target may lack it because the
     * collector removed it there while another was down; copied back (and
     * young again) it would outlive every collect on one target or another.
     * "Cannot tell" (-1) copies: a copy too many costs only room.
     */

    if (referenced && referenced(data, sc->vault, sc->hash) == 0) {
        return;
    }

    fd = gobi_blob_scrub_fetch(sc);
    if (fd < 0) {
        return;
    }

    /* the owner of the temp file last: it may take the file by rename */

    own = sc->owner;

    for (i = 0, k = 0; i < b->n; i++) {
        if (i != own) {
            order[k++] = i;
        }
    }

    if (own < b->n) {
        order[k++] = own;
    }

    for (k = 0; k < b->n; k++) {
        i = order[k];
        t = &b->t[i];

        if (!sc->in[i] || sc->have[i] == sc->want
            || gobi_blob_target_down(b, i))
        {
            continue;
        }

        msg[0] = '\0';

        /* put() keeps a blob that is there: one of the wrong size goes */

        if (sc->have[i] >= 0
            && t->driver->remove(t->s, sc->vault, sc->hash, msg, sizeof(msg))
               != 0)
        {
            gobi_blob_failed(b, i, msg);
            gobi_blob_note(b, i, msg, sc->errbuf, sc->errlen, &sc->noted);
            continue;
        }

        if (t->driver->put(t->s, sc->vault, sc->hash, sc->path, fd, msg,
                           sizeof(msg))
            != 0)
        {
            if (errno != ENOSPC && errno != EDQUOT) {
                gobi_blob_failed(b, i, msg);
            }

            gobi_blob_note(b, i, msg, sc->errbuf, sc->errlen, &sc->noted);
            continue;
        }

        gobi_blob_up(b, i);
        (*copied)++;
    }

    /*
     * Unless the owner took it: then the name is free for another temp
     * file, which is not ours to remove.
     */

    if (stat(sc->path, &named) == 0 && fstat(fd, &held) == 0
        && named.st_dev == held.st_dev && named.st_ino == held.st_ino)
    {
        (void) unlink(sc->path);
    }

    close(fd);
}


int
gobi_blob_scrub_vault(gobi_blob_t *b, int64_t vault,
    int (*referenced)(void *data, int64_t vault, const char *hash),
    void *data, int64_t *copied, char *errbuf, size_t errlen)
{
    int                 rc, listed;
    char                msg[GOBI_BLOB_ERRLEN], hex[GOBI_HASH_HEX_LEN + 1];
    size_t              i, pos[GOBI_BLOB_TARGETS_MAX];
    unsigned char       cur[GOBI_HASH_LEN];
    gobi_blob_entry_t  *e, *min;
    gobi_blob_list_t    lists[GOBI_BLOB_TARGETS_MAX];
    gobi_blob_scrub_t   sc;

    *copied = 0;

    if (errlen) {
        errbuf[0] = '\0';
    }

    if (b->n < 2) {
        return 0;
    }

    memset(lists, 0, sizeof(lists));
    memset(pos, 0, sizeof(pos));
    memset(&sc, 0, sizeof(sc));

    sc.b = b;
    sc.vault = vault;
    sc.hash = hex;
    sc.errbuf = errbuf;
    sc.errlen = errlen;

    listed = 0;

    for (i = 0; i < b->n; i++) {
        msg[0] = '\0';

        if (!gobi_blob_use(b, i, msg, sizeof(msg))) {
            continue;
        }

        rc = b->t[i].driver->list(b->t[i].s, vault, gobi_blob_list_add,
                                  &lists[i], msg, sizeof(msg));

        if (rc < 0) {
            gobi_blob_failed(b, i, msg);
            gobi_blob_note(b, i, msg, errbuf, errlen, &sc.noted);
            continue;
        }

        gobi_blob_up(b, i);

        if (rc > 0) {
            gobi_blob_note(b, i, lists[i].full ? lists[i].full : "list "
                           "stopped", errbuf, errlen, &sc.noted);
            continue;
        }

        if (lists[i].n > 1) {
            qsort(lists[i].e, lists[i].n, sizeof(gobi_blob_entry_t),
                  gobi_blob_entry_cmp);
        }

        sc.in[i] = 1;
        listed++;
    }

    if (listed >= 2) {
        sc.buf = malloc(GOBI_BLOB_PIECE);

        if (sc.buf == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            sc.noted = 1;
            listed = 0;
        }
    }

    /* a merge of the sorted lists: one hash at a time, in order */

    while (listed >= 2) {
        min = NULL;

        for (i = 0; i < b->n; i++) {
            if (sc.in[i] && pos[i] < lists[i].n) {
                e = &lists[i].e[pos[i]];

                if (min == NULL || gobi_blob_entry_cmp(e, min) < 0) {
                    min = e;
                }
            }
        }

        if (min == NULL) {
            break;
        }

        memcpy(cur, min->hash, GOBI_HASH_LEN);
        gobi_hex(hex, cur, GOBI_HASH_LEN);

        for (i = 0; i < b->n; i++) {
            sc.have[i] = -1;

            if (!sc.in[i] || pos[i] == lists[i].n
                || memcmp(lists[i].e[pos[i]].hash, cur, GOBI_HASH_LEN) != 0)
            {
                continue;
            }

            sc.have[i] = lists[i].e[pos[i]].size;

            /* (a name listed twice is one blob) */

            while (pos[i] < lists[i].n
                   && memcmp(lists[i].e[pos[i]].hash, cur, GOBI_HASH_LEN)
                      == 0)
            {
                pos[i]++;
            }
        }

        gobi_blob_scrub_one(&sc, copied, referenced, data);
    }

    free(sc.buf);

    for (i = 0; i < b->n; i++) {
        free(lists[i].e);
    }

    return sc.noted ? -1 : 0;
}
