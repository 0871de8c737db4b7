/*
 * Copyright (C) the gobi authors
 *
 * Event squashing against a reference client: a tree path -> file that
 * applies events strictly (create needs the path free, modify and delete
 * need it taken, rename needs its source taken and its target free).
 * The tree at since plus the squashed events must equal the tree at head.
 */

#include <stdint.h>
#include <time.h>

#include "unit.h"

#include "gobi_squash.h"


#define MAX_PATHS  1024


typedef struct {
    int                 present;
    char                hash[GOBI_HASH_HEX_LEN + 1];
    int64_t             version;
    int64_t             size;
    int64_t             mtime;
} mfile_t;


typedef struct {
    int                 npaths;
    mfile_t             f[MAX_PATHS];
} mtree_t;


static char  *names[MAX_PATHS];
static char   errbuf[256];

static uint64_t  rnd_state = 88172645463325252ull;


static unsigned
rnd(unsigned n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (unsigned) (rnd_state >> 11) % n;
}


/* paths are "p0", "p1", ...; the model finds them by number */
static int
mpath(const mtree_t *t, const char *p)
{
    int  k;

    if (p == NULL || p[0] != 'p') {
        return -1;
    }

    k = atoi(p + 1);

    return (k >= 0 && k < t->npaths && strcmp(names[k], p) == 0) ? k : -1;
}


/* the reference client; returns 0, or -1 with errbuf saying why */
static int
mapply(mtree_t *t, const gobi_event_t *e)
{
    mfile_t  *dst;
    int       p, f;

    p = mpath(t, e->path);
    if (p < 0) {
        snprintf(errbuf, sizeof(errbuf), "seq %lld: bad path",
                 (long long) e->seq);
        return -1;
    }

    dst = &t->f[p];

    switch (e->type) {

    case GOBI_EV_CREATE:
        if (dst->present) {
            snprintf(errbuf, sizeof(errbuf), "seq %lld: create of existing %s",
                     (long long) e->seq, e->path);
            return -1;
        }
        break;

    case GOBI_EV_MODIFY:
    case GOBI_EV_DELETE:
        if (!dst->present) {
            snprintf(errbuf, sizeof(errbuf), "seq %lld: %s of missing %s",
                     (long long) e->seq, gobi_event_type_name(e->type),
                     e->path);
            return -1;
        }

        if (e->type == GOBI_EV_DELETE) {
            dst->present = 0;
            return 0;
        }
        break;

    case GOBI_EV_RENAME:
        f = mpath(t, e->from);
        if (f < 0 || f == p || !t->f[f].present || dst->present) {
            snprintf(errbuf, sizeof(errbuf), "seq %lld: bad rename %s -> %s",
                     (long long) e->seq, e->from ? e->from : "(null)",
                     e->path);
            return -1;
        }

        t->f[f].present = 0;
        break;

    default:
        snprintf(errbuf, sizeof(errbuf), "seq %lld: bad type",
                 (long long) e->seq);
        return -1;
    }

    /* every event but a delete says what the file at path is now */
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
    const mfile_t  *x, *y;
    int             i;

    for (i = 0; i < a->npaths; i++) {
        x = &a->f[i];
        y = &b->f[i];

        if (x->present != y->present) {
            snprintf(errbuf, sizeof(errbuf), "%s: present %d, want %d",
                     names[i], x->present, y->present);
            return 0;
        }

        if (x->present
            && (strcmp(x->hash, y->hash) != 0 || x->version != y->version
                || x->size != y->size || x->mtime != y->mtime))
        {
            snprintf(errbuf, sizeof(errbuf), "%s: version %lld hash %.8s, "
                     "want version %lld hash %.8s", names[i],
                     (long long) x->version, x->hash,
                     (long long) y->version, y->hash);
            return 0;
        }
    }

    return 1;
}


static void
mcopy(mtree_t *dst, const mtree_t *src)
{
    dst->npaths = src->npaths;
    memcpy(dst->f, src->f, src->npaths * sizeof(mfile_t));
}


static void
set_hash(char *hash, unsigned content)
{
    snprintf(hash, GOBI_HASH_HEX_LEN + 1, "%064x", content);
}


/*
 * A random consistent log of n events over the tree t (which it changes):
 * renames are frequent so that chains, swaps and cycles come up.
 */
static void
random_log(mtree_t *t, gobi_event_t *ev, int n, int64_t seq0,
    unsigned *content)
{
    static const char  *devices[] = { "dev-a", "dev-b", NULL };
    gobi_event_t       *e;
    int                 i, p, f, op;
    int64_t             seq;

    seq = seq0;

    for (i = 0; i < n; i++) {
        e = &ev[i];
        memset(e, 0, sizeof(*e));

        seq += 1 + (rnd(4) == 0 ? rnd(3) : 0);
        e->seq = seq;
        e->version = seq;
        e->ts = seq * 1000;
        e->device = devices[rnd(3)];

        for ( ;; ) {
            op = rnd(10);
            p = rnd(t->npaths);

            if (op < 2) {
                if (t->f[p].present) {
                    continue;
                }

                e->type = GOBI_EV_CREATE;

            } else if (op < 4) {
                if (!t->f[p].present) {
                    continue;
                }

                e->type = GOBI_EV_MODIFY;

            } else if (op < 5) {
                if (!t->f[p].present) {
                    continue;
                }

                e->type = GOBI_EV_DELETE;

            } else {
                f = rnd(t->npaths);
                if (!t->f[f].present || t->f[p].present) {
                    continue;
                }

                e->type = GOBI_EV_RENAME;
                e->from = names[f];
                memcpy(e->hash, t->f[f].hash, sizeof(e->hash));
                e->size = t->f[f].size;
                e->mtime = t->f[f].mtime;
            }

            break;
        }

        e->path = names[p];

        if (e->type == GOBI_EV_CREATE || e->type == GOBI_EV_MODIFY) {
            /* sometimes back to an older content */
            set_hash(e->hash, rnd(5) == 0 ? rnd(*content + 1)
                                          : ++*content);
            e->size = rnd(100000);
            e->mtime = 1700000000000LL + rnd(1000000);
        }

        if (mapply(t, e) != 0) {
            printf("Bail out! generator: %s\n", errbuf);
            exit(1);
        }
    }
}


static void
random_tree(mtree_t *t, int npaths, unsigned *content)
{
    int  i;

    t->npaths = npaths;
    memset(t->f, 0, npaths * sizeof(mfile_t));

    for (i = 0; i < npaths; i++) {
        if (rnd(2)) {
            t->f[i].present = 1;
            set_hash(t->f[i].hash, ++*content);
            t->f[i].version = 1 + rnd(5);
            t->f[i].size = rnd(1000);
            t->f[i].mtime = 1600000000000LL + rnd(1000);
        }
    }
}


typedef struct {
    long                runs;
    long                failures;
    long                longer;
    long                not_final;
    long                events_in;
    long                events_out;
    long                cycles;
    long                renames;
    long                unsorted;
} stats_t;


/* squash in[0..n) and check it against the model; 0 when all is well */
static int
check_squash(const mtree_t *since, const mtree_t *head,
    const gobi_event_t *in, int n, stats_t *st)
{
    static gobi_event_t  out[100000];
    static mtree_t       t;
    const mfile_t       *hf;
    ssize_t              rc;
    size_t               bad;
    int                  i, j, lo, hi, p;

    st->runs++;
    st->events_in += n;

    rc = gobi_squash(in, n, out, &bad);
    if (rc < 0) {
        snprintf(errbuf, sizeof(errbuf), "gobi_squash: %zd at %zu", rc, bad);
        st->failures++;
        return -1;
    }

    st->events_out += rc;

    if (rc > n) {
        st->longer++;
    }

    mcopy(&t, since);

    for (i = 0; i < rc; i++) {
        if (mapply(&t, &out[i]) != 0) {
            st->failures++;
            return -1;
        }

        if (i > 0 && out[i].seq < out[i - 1].seq) {
            st->unsorted++;
        }

        if (out[i].type == GOBI_EV_RENAME) {
            st->renames++;
        }

        if (out[i].type == GOBI_EV_DELETE) {
            /* a delete at a rename's seq: a broken cycle */
            lo = 0;
            hi = n - 1;

            while (lo < hi) {
                j = (lo + hi) / 2;

                if (in[j].seq < out[i].seq) {
                    lo = j + 1;

                } else {
                    hi = j;
                }
            }

            st->cycles += in[lo].type != GOBI_EV_DELETE;
            continue;
        }

        /* each content event describes the file at head, downloadable */
        p = mpath(&t, out[i].path);
        hf = &head->f[p];

        if (!hf->present || strcmp(hf->hash, out[i].hash) != 0
            || hf->version != out[i].version)
        {
            st->not_final++;
        }
    }

    if (!mequal(&t, head)) {
        st->failures++;
        return -1;
    }

    return 0;
}


static void
dump(const char *title, const gobi_event_t *ev, int n)
{
    int  i;

    printf("# %s\n", title);

    for (i = 0; i < n; i++) {
        printf("#   %lld %s %s%s%s %.6s\n", (long long) ev[i].seq,
               gobi_event_type_name(ev[i].type),
               ev[i].from ? ev[i].from : "", ev[i].from ? " -> " : "",
               ev[i].path, ev[i].hash);
    }
}


static void
test_random(int trials, int maxpaths, int maxlen)
{
    static gobi_event_t  ev[256];
    static mtree_t       t0, since, head;
    static gobi_event_t  out[256];
    stats_t              st;
    unsigned             content;
    int                  i, j, n, k, np, shown;

    memset(&st, 0, sizeof(st));
    shown = 0;

    for (i = 0; i < trials; i++) {
        content = 0;
        np = 2 + rnd(maxpaths - 1);
        n = 1 + rnd(maxlen);

        random_tree(&t0, np, &content);
        mcopy(&head, &t0);
        random_log(&head, ev, n, rnd(50), &content);

        /* cut: the client saw the first k events */
        k = rnd(n + 1);
        mcopy(&since, &t0);
        for (j = 0; j < k; j++) {
            mapply(&since, &ev[j]);
        }

        if (check_squash(&since, &head, ev + k, n - k, &st) != 0
            && shown++ < 3)
        {
            printf("# failure: %s\n", errbuf);
            dump("input", ev + k, n - k);
            n = (int) gobi_squash(ev + k, n - k, out, NULL);
            dump("output", out, n);
        }
    }

    is_int(st.failures, 0, "%d paths, %d events: %ld runs, since + squashed "
           "== head", maxpaths, maxlen, st.runs);
    is_int(st.longer, 0, "never longer than the input (%ld in, %ld out)",
           st.events_in, st.events_out);
    is_int(st.not_final, 0, "every content event carries the head file");
    ok(st.events_out < st.events_in, "it squashes");
    ok(st.renames > 0, "renames survive (%ld)", st.renames);

    if (maxpaths <= 6) {
        ok(st.cycles > 0, "rename cycles came up and were broken (%ld)",
           st.cycles);
    }
}


/* a large log over many paths: correct and fast */
static void
test_large(void)
{
    static gobi_event_t  ev[100000];
    static mtree_t       t0, head;
    stats_t              st;
    unsigned             content;
    clock_t              start;
    double               secs;

    memset(&st, 0, sizeof(st));
    content = 0;

    random_tree(&t0, 1000, &content);
    mcopy(&head, &t0);
    random_log(&head, ev, 100000, 0, &content);

    start = clock();
    check_squash(&t0, &head, ev, 100000, &st);
    secs = (double) (clock() - start) / CLOCKS_PER_SEC;

    is_int(st.failures, 0, "100000 events over 1000 paths (%s)",
           st.failures ? errbuf : "ok");
    ok(st.events_out <= 1000 + 1000, "at most ~one event per path (%ld)",
       st.events_out);
    printf("# 100000 events squashed and checked in %.3fs\n", secs);
}


/*
 * Hand-written cases.  Input: "seq type path [from] [content]" lines in a
 * compact form; output compared as "type [from>]path seq content", where
 * content is the hash's first character, '-' for none.
 */

typedef struct {
    gobi_event_t        ev[16];
    int                 n;
} log_t;


static void
add(log_t *l, int64_t seq, gobi_event_type_e type, const char *from,
    const char *path, char content)
{
    gobi_event_t  *e;

    e = &l->ev[l->n++];
    memset(e, 0, sizeof(*e));
    e->seq = seq;
    e->version = seq;
    e->type = type;
    e->from = from;
    e->path = path;
    e->ts = seq * 1000;

    if (content) {
        memset(e->hash, content, GOBI_HASH_HEX_LEN);
        e->size = content;
        e->mtime = content * 1000;
    }
}


static const char *
squash_str(const log_t *l)
{
    static char   buf[1024];
    gobi_event_t  out[16];
    ssize_t       n, i;
    size_t        len;

    n = gobi_squash(l->ev, l->n, out, NULL);
    if (n < 0) {
        snprintf(buf, sizeof(buf), "error %zd", n);
        return buf;
    }

    len = 0;
    buf[0] = '\0';

    for (i = 0; i < n; i++) {
        len += snprintf(buf + len, sizeof(buf) - len, "%s%s %s%s%s %lld %c",
                        i ? "; " : "", gobi_event_type_name(out[i].type),
                        out[i].from ? out[i].from : "",
                        out[i].from ? ">" : "", out[i].path,
                        (long long) out[i].seq,
                        out[i].hash[0] ? out[i].hash[0] : '-');
    }

    return buf;
}


#define C  GOBI_EV_CREATE
#define M  GOBI_EV_MODIFY
#define D  GOBI_EV_DELETE
#define R  GOBI_EV_RENAME


static void
test_rules(void)
{
    log_t  l;

    l.n = 0;
    is_str(squash_str(&l), "", "nothing in, nothing out");

    l.n = 0;
    add(&l, 1, C, NULL, "a", '1');
    add(&l, 2, M, NULL, "a", '2');
    is_str(squash_str(&l), "create a 2 2", "create+modify -> create");

    l.n = 0;
    add(&l, 1, C, NULL, "a", '1');
    add(&l, 2, D, NULL, "a", 0);
    is_str(squash_str(&l), "", "create+delete -> nothing");

    l.n = 0;
    add(&l, 1, M, NULL, "a", '1');
    add(&l, 2, D, NULL, "a", 0);
    is_str(squash_str(&l), "delete a 2 -", "modify+delete -> delete");

    l.n = 0;
    add(&l, 4, M, NULL, "a", '1');
    add(&l, 7, M, NULL, "a", '2');
    is_str(squash_str(&l), "modify a 7 2", "modify+modify -> modify");

    l.n = 0;
    add(&l, 1, D, NULL, "a", 0);
    add(&l, 2, C, NULL, "a", '2');
    is_str(squash_str(&l), "modify a 2 2",
           "delete+create of a file the client has -> modify");

    l.n = 0;
    add(&l, 1, C, NULL, "a", '1');
    add(&l, 2, D, NULL, "a", 0);
    add(&l, 3, C, NULL, "a", '3');
    is_str(squash_str(&l), "create a 3 3",
           "create+delete+create -> create");

    l.n = 0;
    add(&l, 1, C, NULL, "a", '1');
    add(&l, 2, R, "a", "b", '1');
    add(&l, 3, R, "b", "c", '1');
    is_str(squash_str(&l), "create c 3 1",
           "rename of a new file -> create at the new path");

    l.n = 0;
    add(&l, 1, R, "a", "b", '5');
    add(&l, 2, R, "b", "c", '5');
    add(&l, 3, R, "c", "d", '5');
    is_str(squash_str(&l), "rename a>d 3 5", "rename chain collapses");

    l.n = 0;
    add(&l, 1, R, "a", "b", '5');
    add(&l, 2, M, NULL, "b", '6');
    is_str(squash_str(&l), "rename a>b 2 6",
           "rename+modify -> rename carrying the latest content");

    l.n = 0;
    add(&l, 1, M, NULL, "a", '6');
    add(&l, 2, R, "a", "b", '6');
    is_str(squash_str(&l), "rename a>b 2 6", "modify+rename -> rename");

    l.n = 0;
    add(&l, 1, R, "a", "b", '5');
    add(&l, 2, D, NULL, "b", 0);
    is_str(squash_str(&l), "delete a 2 -",
           "rename+delete -> delete at the old path");

    l.n = 0;
    add(&l, 1, R, "a", "b", '5');
    add(&l, 2, R, "b", "a", '5');
    is_str(squash_str(&l), "modify a 2 5",
           "rename there and back: no rename, the version moves");

    l.n = 0;
    add(&l, 1, R, "a", "b", '5');
    add(&l, 2, C, NULL, "a", '2');
    is_str(squash_str(&l), "rename a>b 1 5; create a 2 2",
           "rename frees a path, then a create there");

    l.n = 0;
    add(&l, 1, C, NULL, "x", '2');
    add(&l, 2, R, "a", "b", '5');
    add(&l, 3, R, "x", "a", '2');
    is_str(squash_str(&l), "rename a>b 2 5; create a 3 2",
           "new file renamed into a vacated path");

    l.n = 0;
    add(&l, 1, D, NULL, "b", 0);
    add(&l, 2, R, "a", "b", '5');
    is_str(squash_str(&l), "delete b 1 -; rename a>b 2 5",
           "delete then rename onto the freed path");

    l.n = 0;
    add(&l, 1, R, "a", "x", '5');
    add(&l, 2, R, "b", "a", '6');
    add(&l, 3, R, "x", "y", '5');
    is_str(squash_str(&l), "rename a>y 3 5; rename b>a 2 6",
           "the vacating rename first, whatever its seq");

    l.n = 0;
    add(&l, 1, R, "a", "t", 'a');
    add(&l, 2, R, "b", "a", 'b');
    add(&l, 3, R, "t", "b", 'a');
    is_str(squash_str(&l), "delete a 1 -; rename b>a 2 b; create b 3 a",
           "swap: one rename becomes delete + create");

    l.n = 0;
    add(&l, 1, R, "a", "t", 'a');
    add(&l, 2, R, "b", "a", 'b');
    add(&l, 3, M, NULL, "a", 'n');
    add(&l, 4, R, "t", "b", 'a');
    is_str(squash_str(&l), "delete b 2 -; rename a>b 4 a; create a 3 n",
           "swap: the modified file is the one downloaded");

    l.n = 0;
    add(&l, 1, R, "a", "t", 'a');
    add(&l, 2, R, "c", "a", 'c');
    add(&l, 3, R, "b", "c", 'b');
    add(&l, 4, R, "t", "b", 'a');
    is_str(squash_str(&l),
           "delete a 1 -; rename c>a 2 c; rename b>c 3 b; create b 4 a",
           "3-cycle");

    l.n = 0;
    add(&l, 1, M, NULL, "a", '1');
    add(&l, 2, C, NULL, "b", '2');
    add(&l, 3, D, NULL, "c", 0);
    add(&l, 4, M, NULL, "a", '4');
    add(&l, 5, M, NULL, "d", '5');
    is_str(squash_str(&l), "create b 2 2; delete c 3 -; modify a 4 4; "
           "modify d 5 5", "independent files stay in seq order");
}


static void
test_fields(void)
{
    gobi_event_t  out[4];
    log_t         l;
    ssize_t       n;

    l.n = 0;
    add(&l, 10, M, NULL, "a", '1');
    l.ev[0].device = "dev-x";
    add(&l, 11, R, "a", "b", '1');
    l.ev[1].device = "dev-y";
    l.ev[1].version = 11;
    l.ev[1].ts = 12345;

    n = gobi_squash(l.ev, l.n, out, NULL);
    is_int(n, 1, "one event");
    is_int(out[0].seq, 11, "seq of the last event");
    is_int(out[0].version, 11, "version of the last event");
    is_int(out[0].ts, 12345, "ts of the last event");
    is_str(out[0].device, "dev-y", "device of the last event");
    is_int(out[0].size, '1', "size of the content");
    is_int(out[0].mtime, '1' * 1000, "mtime of the content");
    ok(out[0].path == l.ev[1].path, "path points into the input");
    ok(out[0].from == l.ev[0].path, "from points into the input");
    is_int(strlen(out[0].hash), GOBI_HASH_HEX_LEN, "full hash");

    l.n = 0;
    add(&l, 3, D, NULL, "a", 0);
    l.ev[0].device = "dev-z";
    n = gobi_squash(l.ev, l.n, out, NULL);
    is_int(n, 1, "a delete");
    is_str(out[0].hash, "", "a delete has no hash");
    is_int(out[0].size, 0, "nor size");
    is_str(out[0].device, "dev-z", "but its device");
    ok(out[0].from == NULL, "no from");
}


static void
test_inconsistent(void)
{
    gobi_event_t  out[8];
    log_t         l;
    size_t        bad;

#define BAD(name, want)                                                      \
    bad = 99;                                                                \
    is_int(gobi_squash(l.ev, l.n, out, &bad), GOBI_SQUASH_INCONSISTENT,      \
           "inconsistent: %s", name);                                        \
    is_int(bad, want, "inconsistent: %s: the event", name)

    l.n = 0;
    add(&l, 1, C, NULL, "a", '1');
    add(&l, 2, C, NULL, "a", '2');
    BAD("create of an existing path", 1);

    l.n = 0;
    add(&l, 1, D, NULL, "a", 0);
    add(&l, 2, M, NULL, "a", '2');
    BAD("modify of a deleted path", 1);

    l.n = 0;
    add(&l, 1, R, "a", "b", '1');
    add(&l, 2, D, NULL, "a", 0);
    BAD("delete of a renamed-away path", 1);

    l.n = 0;
    add(&l, 1, C, NULL, "b", '1');
    add(&l, 2, R, "a", "b", '2');
    BAD("rename onto an existing path", 1);

    l.n = 0;
    add(&l, 1, M, NULL, "b", '1');
    add(&l, 2, R, "a", "b", '2');
    BAD("rename onto a path known to exist", 1);

    l.n = 0;
    add(&l, 1, R, "a", "a", '1');
    BAD("rename onto itself", 0);

    l.n = 0;
    add(&l, 1, R, NULL, "a", '1');
    BAD("rename without from", 0);

    l.n = 0;
    add(&l, 1, M, NULL, NULL, '1');
    BAD("no path", 0);

    l.n = 0;
    add(&l, 1, GOBI_EV_NONE, NULL, "a", '1');
    BAD("no type", 0);

    l.n = 0;
    add(&l, 5, M, NULL, "a", '1');
    add(&l, 5, M, NULL, "b", '1');
    BAD("seq repeated", 1);

    l.n = 0;
    add(&l, 5, M, NULL, "a", '1');
    add(&l, 6, M, NULL, "b", '1');
    add(&l, 4, M, NULL, "c", '1');
    BAD("seq going back", 2);

    is_int(gobi_squash(l.ev, 0, out, NULL), 0, "n = 0");

#undef BAD
}


int
main(void)
{
    char  buf[16];
    int   i;

    for (i = 0; i < MAX_PATHS; i++) {
        snprintf(buf, sizeof(buf), "p%d", i);
        names[i] = strdup(buf);
    }

    test_rules();
    test_fields();
    test_inconsistent();
    test_random(20000, 3, 12);
    test_random(20000, 5, 30);
    test_random(5000, 12, 100);
    test_large();

    for (i = 0; i < MAX_PATHS; i++) {
        free(names[i]);
    }

    done_testing();
}
