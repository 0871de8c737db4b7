/*
 * Copyright (C) the gobi authors
 *
 * Event squashing (lib/gobi_squash.c) against the unsquashed log.  The
 * input drives a server: writes (create/modify, delete, rename over six
 * paths, with or without a base version) go through gobi_write_check()
 * against the current records, accepted ones get the next seq (sometimes
 * with a gap) and are applied with gobi_event_apply(), as the store
 * drivers do.  Then, for every cursor k, the tree at k plus
 * gobi_squash(events after k), applied by a strict client (create needs
 * the path free, modify/delete need it taken, a rename needs its source
 * taken and its target free), must be the tree at the last event, and:
 *  - never more events out than in, every content event describes the
 *    file at head (hash, size, mtime, version);
 *  - the server's records (gobi_event_apply) always agree with the strict
 *    client that applied the raw log.
 * A second mode feeds gobi_squash arbitrary, maybe inconsistent, logs: it
 * must not crash and must answer in range.
 */

#include "fuzz.h"

#include "gobi_squash.h"
#include "gobi_write.h"


#define NPATHS   6
#define MAXEV    64


static const char  *paths[NPATHS] = {
    "a", "b", "c", "d/e", "d/f", "caf\xc3\xa9"
};

static const char  *devices[3] = { "dev-a", "dev-b", NULL };


typedef struct {
    int                 present;
    char                hash[GOBI_HASH_HEX_LEN + 1];
    int64_t             version;
    int64_t             size;
    int64_t             mtime;
} mfile_t;

typedef struct {
    mfile_t             f[NPATHS];
} mtree_t;


static int
pidx(const char *p)
{
    int  i;

    for (i = 0; p && i < NPATHS; i++) {
        if (strcmp(paths[i], p) == 0) {
            return i;
        }
    }

    return -1;
}


/* the strict client; 0, or -1 when the event does not fit the tree */
static int
mapply(mtree_t *t, const gobi_event_t *e)
{
    mfile_t  *dst;
    int       p, f;

    p = pidx(e->path);
    if (p < 0) {
        return -1;
    }

    dst = &t->f[p];

    switch (e->type) {

    case GOBI_EV_CREATE:
        if (dst->present) {
            return -1;
        }
        break;

    case GOBI_EV_MODIFY:
    case GOBI_EV_DELETE:
        if (!dst->present) {
            return -1;
        }

        if (e->type == GOBI_EV_DELETE) {
            dst->present = 0;
            return 0;
        }
        break;

    case GOBI_EV_RENAME:
        f = pidx(e->from);
        if (f < 0 || f == p || !t->f[f].present || dst->present) {
            return -1;
        }

        t->f[f].present = 0;
        break;

    default:
        return -1;
    }

    dst->present = 1;
    memcpy(dst->hash, e->hash, sizeof(dst->hash));
    dst->version = e->version;
    dst->size = e->size;
    dst->mtime = e->mtime;

    return 0;
}


static int
mequal(const mtree_t *a, const mtree_t *b)
{
    int  i;

    for (i = 0; i < NPATHS; i++) {
        if (a->f[i].present != b->f[i].present) {
            return 0;
        }

        if (a->f[i].present
            && (strcmp(a->f[i].hash, b->f[i].hash) != 0
                || a->f[i].version != b->f[i].version
                || a->f[i].size != b->f[i].size
                || a->f[i].mtime != b->f[i].mtime))
        {
            return 0;
        }
    }

    return 1;
}


static void
dump(const char *title, const gobi_event_t *ev, size_t n)
{
    size_t  i;

    fprintf(stderr, "%s\n", title);

    for (i = 0; i < n; i++) {
        fprintf(stderr, "  %lld %s %s%s%s %.6s v%lld\n",
                (long long) ev[i].seq, gobi_event_type_name(ev[i].type),
                ev[i].from ? ev[i].from : "", ev[i].from ? " -> " : "",
                ev[i].path ? ev[i].path : "(null)", ev[i].hash,
                (long long) ev[i].version);
    }
}


/* the server's records against the strict client's tree */
static void
check_records(const gobi_file_t *rec, const mtree_t *t)
{
    int  i;

    for (i = 0; i < NPATHS; i++) {
        fuzz_check(rec[i].deleted == !t->f[i].present, "%s: record deleted "
                   "%d, client present %d", paths[i], rec[i].deleted,
                   t->f[i].present);

        if (t->f[i].present) {
            fuzz_check(strcmp(rec[i].hash, t->f[i].hash) == 0
                       && rec[i].version == t->f[i].version
                       && rec[i].size == t->f[i].size
                       && rec[i].mtime == t->f[i].mtime,
                       "%s: record and client differ", paths[i]);
        }
    }
}


/* a log from the input, by the server's rules; returns its length */
static size_t
server_log(fuzz_in_t *in, gobi_event_t *ev)
{
    static gobi_file_t  rec[NPATHS];
    static mtree_t      t;
    gobi_write_t        w;
    gobi_event_t       *e;
    gobi_file_t         cur;
    gobi_write_rc_e     rc;
    char                hash[GOBI_HASH_HEX_LEN + 1];
    unsigned            op, p, f, b;
    int64_t             seq, now;
    size_t              n;
    int                 i;

    memset(rec, 0, sizeof(rec));
    memset(&t, 0, sizeof(t));

    for (i = 0; i < NPATHS; i++) {
        rec[i].path = paths[i];
        rec[i].deleted = 1;
    }

    n = 0;
    seq = 0;
    now = 1700000000000LL;

    while (in->left > 0 && n < MAXEV) {
        op = fuzz_byte(in);
        p = (op >> 2) % NPATHS;
        b = fuzz_byte(in);
        f = b % NPATHS;

        memset(&w, 0, sizeof(w));
        w.path = paths[p];
        w.now = now += 1 + (b & 3);
        w.device = devices[(b >> 2) % 3];

        switch (op & 3) {

        case 0:
        case 1:
            w.type = (op & 1) ? GOBI_EV_MODIFY : GOBI_EV_CREATE;
            /* few contents, so that unchanged writes and going back to an
             * older content come up */
            snprintf(hash, sizeof(hash), "%064x", (b >> 4) & 7);
            w.hash = hash;
            w.size = (b >> 4) & 7;
            w.mtime = (b & 0x80) ? 0 : 1600000000000LL + (b & 0x3f);
            break;

        case 2:
            w.type = GOBI_EV_DELETE;
            break;

        default:
            w.type = GOBI_EV_RENAME;
            w.from = paths[f];
        }

        /* a base version: any, "must not exist", the current one or a
         * stale one */
        switch ((op >> 5) & 3) {
        case 0:
            w.base_version = GOBI_BASE_ANY;
            break;
        case 1:
            w.base_version = 0;
            break;
        case 2:
            w.base_version = w.from ? rec[f].version : rec[p].version;
            break;
        default:
            w.base_version = seq > 0 ? (int64_t) (b % seq) + 1 : 1;
        }

        if (gobi_write_invalid(&w) != NULL) {
            continue;
        }

        e = &ev[n];
        memset(e, 0, sizeof(*e));

        rc = gobi_write_check(&w, &rec[p], w.from ? &rec[f] : NULL, e, &cur);
        if (rc != GOBI_WRITE_OK) {
            continue;
        }

        seq += 1 + ((op & 0x80) ? (b & 3) : 0);
        e->seq = seq;
        e->version = seq;

        gobi_event_apply(e, paths[p], &rec[p]);

        if (e->type == GOBI_EV_RENAME) {
            gobi_event_apply(e, paths[f], &rec[f]);
        }

        fuzz_check(mapply(&t, e) == 0, "gobi_write_check accepted an event "
                   "that does not fit: %s %s", gobi_event_type_name(e->type),
                   e->path);
        check_records(rec, &t);

        n++;
    }

    return n;
}


static void
check_cursors(const gobi_event_t *ev, size_t n)
{
    static gobi_event_t  out[MAXEV];
    mtree_t              since, head, t;
    ssize_t              rc;
    size_t               k, i, bad;
    const mfile_t       *hf;
    int                  p;

    memset(&head, 0, sizeof(head));

    for (i = 0; i < n; i++) {
        fuzz_check(mapply(&head, &ev[i]) == 0, "log not consistent");
    }

    memset(&since, 0, sizeof(since));

    for (k = 0; k <= n; k++) {
        if (k > 0) {
            mapply(&since, &ev[k - 1]);
        }

        rc = gobi_squash(ev + k, n - k, out, &bad);

        if (rc < 0) {
            dump("input", ev + k, n - k);
        }

        fuzz_check(rc >= 0, "gobi_squash of a consistent log: %zd at %zu",
                   rc, bad);
        fuzz_check((size_t) rc <= n - k, "%zd events out of %zu", rc, n - k);

        t = since;

        for (i = 0; i < (size_t) rc; i++) {
            if (mapply(&t, &out[i]) != 0) {
                dump("input", ev + k, n - k);
                dump("output", out, rc);
                fuzz_check(0, "cursor %zu: squashed event %zu does not "
                           "apply", k, i);
            }

            if (out[i].type == GOBI_EV_DELETE) {
                continue;
            }

            p = pidx(out[i].path);
            hf = &head.f[p];

            if (!hf->present || strcmp(hf->hash, out[i].hash) != 0
                || hf->version != out[i].version || hf->size != out[i].size
                || hf->mtime != out[i].mtime)
            {
                dump("input", ev + k, n - k);
                dump("output", out, rc);
            }

            fuzz_check(hf->present && strcmp(hf->hash, out[i].hash) == 0
                       && hf->version == out[i].version
                       && hf->size == out[i].size
                       && hf->mtime == out[i].mtime,
                       "cursor %zu: event %zu is not the file at head", k, i);
        }

        if (!mequal(&t, &head)) {
            dump("input", ev + k, n - k);
            dump("output", out, rc);
        }

        fuzz_check(mequal(&t, &head), "cursor %zu: since + squashed != head",
                   k);
    }
}


/* any log at all: in range, no crash */
static void
raw_log(fuzz_in_t *in)
{
    static gobi_event_t  ev[MAXEV], out[MAXEV];
    static const char   *names[NPATHS + 1] = {
        "a", "b", "c", "d/e", "d/f", "caf\xc3\xa9", NULL
    };
    unsigned             b;
    size_t               n, bad;
    ssize_t              rc;
    int64_t              seq;

    n = 0;
    seq = 0;

    while (in->left > 0 && n < MAXEV) {
        b = fuzz_byte(in);
        memset(&ev[n], 0, sizeof(gobi_event_t));
        ev[n].type = (gobi_event_type_e) (b & 7) % 5;
        ev[n].path = names[(b >> 3) % (NPATHS + 1)];
        b = fuzz_byte(in);
        ev[n].from = ev[n].type == GOBI_EV_RENAME || (b & 0x80)
                     ? names[b % (NPATHS + 1)] : NULL;
        seq += (int64_t) ((b >> 4) & 3) - 1;
        ev[n].seq = seq;
        ev[n].version = seq;
        snprintf(ev[n].hash, sizeof(ev[n].hash), "%064x", b & 3);
        n++;
    }

    bad = (size_t) -1;
    rc = gobi_squash(ev, n, out, &bad);

    fuzz_check(rc == GOBI_SQUASH_INCONSISTENT || rc == GOBI_SQUASH_ENOMEM
               || (rc >= 0 && (size_t) rc <= n), "gobi_squash gave %zd", rc);

    if (rc == GOBI_SQUASH_INCONSISTENT) {
        fuzz_check(bad < n, "bad index %zu of %zu", bad, n);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gobi_event_t  ev[MAXEV];
    fuzz_in_t            in;
    size_t               n;

    if (size == 0) {
        return 0;
    }

    in.p = data + 1;
    in.left = size - 1;

    if (data[0] == 0xff) {
        raw_log(&in);
        return 0;
    }

    n = server_log(&in, ev);
    check_cursors(ev, n);

    return 0;
}
