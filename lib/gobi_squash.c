/*
 * Copyright (C) the gobi authors
 *
 * Squashing in three passes:
 *
 *   1. Replay the log over paths whose state at since is unknown.  Each file
 *      becomes a node: an "origin" node for a file that existed at since
 *      (first seen as the source of a modify, delete or rename), a new node
 *      for a create.  A node remembers where it was at since, where it is
 *      now, and its first, last and content-bearing events.
 *   2. Turn each node into at most one output event, merge a deleted file
 *      with a new one at the same path into a modify, and link each event
 *      that needs a path free to the one event that frees it.  Each event
 *      vacates at most one path and occupies at most one, so the links form
 *      chains and cycles; a cycle (only renames can form one) is broken by
 *      turning one rename into delete + create.
 *   3. Emit in seq order, an event only after the one it waits for.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gobi_squash.h"


#define GOBI_SQ_UNKNOWN  -2                /* untouched so far: as at since */
#define GOBI_SQ_ABSENT   -1


typedef struct {
    const char         *path;
    int                 cur;               /* node now there, or the above */
    int                 origin;            /* node there at since, or -1 */
} gobi_squash_path_t;


typedef struct {
    int                 origin;            /* path at since, -1: new file */
    int                 at;                /* path now, -1: deleted */
    int                 out;               /* its output, or -1 */
    int                 last;              /* event indexes, or -1 */
    int                 content;
    int                 first_move;
    int                 modified;
} gobi_squash_node_t;


typedef struct {
    gobi_event_type_e   type;
    int                 node;
    int                 path;              /* path it acts on or occupies */
    int                 from;              /* RENAME: path it vacates */
    int                 ev;                /* event giving seq/version/ts */
    int                 dep;               /* output that frees `path` */
    int                 next;              /* output waiting for this one */
    int                 mark;
    int                 removed;
} gobi_squash_out_t;


typedef struct {
    const gobi_event_t *in;
    gobi_squash_path_t *paths;
    size_t              mask;              /* hash table size - 1 */
    int                *slots;             /* path table: index or -1 */
    int                 npaths;
    gobi_squash_node_t *nodes;
    int                 nnodes;
    gobi_squash_out_t  *outs;
    int                 nouts;
    int                *heap;
    int                 nheap;
} gobi_squash_ctx_t;


static int
gobi_squash_path(gobi_squash_ctx_t *ctx, const char *path)
{
    uint32_t  h;
    size_t    i;
    int       k;

    h = 2166136261u;

    for (i = 0; path[i]; i++) {
        h = (h ^ (unsigned char) path[i]) * 16777619u;
    }

    for (i = h & ctx->mask; ; i = (i + 1) & ctx->mask) {
        k = ctx->slots[i];

        if (k < 0) {
            break;
        }

        if (strcmp(ctx->paths[k].path, path) == 0) {
            return k;
        }
    }

    k = ctx->npaths++;
    ctx->slots[i] = k;
    ctx->paths[k].path = path;
    ctx->paths[k].cur = GOBI_SQ_UNKNOWN;
    ctx->paths[k].origin = -1;

    return k;
}


static int
gobi_squash_new_node(gobi_squash_ctx_t *ctx, int origin, int at)
{
    gobi_squash_node_t  *nd;

    nd = &ctx->nodes[ctx->nnodes];
    nd->origin = origin;
    nd->at = at;
    nd->out = -1;
    nd->last = -1;
    nd->content = -1;
    nd->first_move = -1;
    nd->modified = 0;

    return ctx->nnodes++;
}


/* the file at path p now; a file first seen here existed at since */
static int
gobi_squash_existing(gobi_squash_ctx_t *ctx, int p)
{
    gobi_squash_path_t  *pt;

    pt = &ctx->paths[p];

    if (pt->cur == GOBI_SQ_UNKNOWN) {
        pt->cur = gobi_squash_new_node(ctx, p, p);
        pt->origin = pt->cur;
    }

    return pt->cur;
}


/* pass 1; returns the index of a contradicting event, or -1 */
static ssize_t
gobi_squash_replay(gobi_squash_ctx_t *ctx, size_t n)
{
    const gobi_event_t  *e;
    gobi_squash_node_t  *nd;
    size_t               i;
    int                  p, f, k;

    for (i = 0; i < n; i++) {
        e = &ctx->in[i];

        if (e->path == NULL || (i > 0 && e->seq <= ctx->in[i - 1].seq)) {
            return i;
        }

        p = gobi_squash_path(ctx, e->path);

        switch (e->type) {

        case GOBI_EV_CREATE:
            if (ctx->paths[p].cur >= 0) {
                return i;
            }

            k = gobi_squash_new_node(ctx, -1, p);
            ctx->paths[p].cur = k;
            ctx->nodes[k].modified = 1;
            break;

        case GOBI_EV_MODIFY:
        case GOBI_EV_DELETE:
            k = gobi_squash_existing(ctx, p);
            if (k < 0) {
                return i;
            }

            if (e->type == GOBI_EV_DELETE) {
                ctx->nodes[k].at = -1;
                ctx->paths[p].cur = GOBI_SQ_ABSENT;

            } else {
                ctx->nodes[k].modified = 1;
            }

            break;

        case GOBI_EV_RENAME:
            if (e->from == NULL) {
                return i;
            }

            f = gobi_squash_path(ctx, e->from);
            if (f == p || ctx->paths[p].cur >= 0) {
                return i;
            }

            k = gobi_squash_existing(ctx, f);
            if (k < 0) {
                return i;
            }

            ctx->paths[f].cur = GOBI_SQ_ABSENT;
            ctx->paths[p].cur = k;
            ctx->nodes[k].at = p;

            if (ctx->nodes[k].first_move < 0) {
                ctx->nodes[k].first_move = i;
            }

            break;

        default:
            return i;
        }

        nd = &ctx->nodes[k];
        nd->last = i;

        /* a rename carries the moved content; a delete carries none */
        if (e->type != GOBI_EV_DELETE) {
            nd->content = i;
        }
    }

    return -1;
}


static int
gobi_squash_add(gobi_squash_ctx_t *ctx, gobi_event_type_e type, int node,
    int path, int from, int ev)
{
    gobi_squash_out_t  *o;

    o = &ctx->outs[ctx->nouts];
    o->type = type;
    o->node = node;
    o->path = path;
    o->from = from;
    o->ev = ev;
    o->dep = -1;
    o->next = -1;
    o->mark = 0;
    o->removed = 0;

    return ctx->nouts++;
}


/* pass 2: one output per surviving change, then the links between them */
static void
gobi_squash_plan(gobi_squash_ctx_t *ctx)
{
    gobi_squash_node_t  *nd, *old;
    gobi_squash_out_t   *o;
    int                  k, j, v;

    for (k = 0; k < ctx->nnodes; k++) {
        nd = &ctx->nodes[k];

        if (nd->origin >= 0) {
            if (nd->at < 0) {
                nd->out = gobi_squash_add(ctx, GOBI_EV_DELETE, k, nd->origin,
                                          -1, nd->last);

            } else if (nd->at == nd->origin) {
                nd->out = gobi_squash_add(ctx, GOBI_EV_MODIFY, k, nd->at, -1,
                                          nd->last);

            } else {
                nd->out = gobi_squash_add(ctx, GOBI_EV_RENAME, k, nd->at,
                                          nd->origin, nd->last);
            }

        } else if (nd->at >= 0) {
            nd->out = gobi_squash_add(ctx, GOBI_EV_CREATE, k, nd->at, -1,
                                      nd->last);
        }
    }

    for (j = 0; j < ctx->nouts; j++) {
        o = &ctx->outs[j];

        if (o->type != GOBI_EV_CREATE && o->type != GOBI_EV_RENAME) {
            continue;
        }

        /* who was at this path at since?  It has left by now */
        v = ctx->paths[o->path].origin;
        if (v < 0) {
            continue;
        }

        old = &ctx->nodes[v];

        if (o->type == GOBI_EV_CREATE && old->at < 0) {
            /* the client has a file here before and after: a modify */
            ctx->outs[old->out].removed = 1;
            o->type = GOBI_EV_MODIFY;
            continue;
        }

        o->dep = old->out;
        ctx->outs[old->out].next = j;
    }
}


/* a cycle of renames: the rename of a changed file, else the first one */
static void
gobi_squash_break(gobi_squash_ctx_t *ctx, int start)
{
    gobi_squash_out_t  *o;
    int                 j, pick, d, waiter;

    pick = start;
    j = start;

    do {
        if (ctx->nodes[ctx->outs[j].node].modified) {
            pick = j;
            break;
        }

        j = ctx->outs[j].dep;
    } while (j != start);

    /* pick: RENAME x -> y becomes DELETE x, then CREATE y */
    o = &ctx->outs[pick];
    waiter = o->next;

    d = gobi_squash_add(ctx, GOBI_EV_DELETE, o->node, o->from, -1,
                        ctx->nodes[o->node].first_move);
    o = &ctx->outs[pick];
    o->type = GOBI_EV_CREATE;
    o->from = -1;
    o->next = -1;

    ctx->outs[d].next = waiter;
    ctx->outs[waiter].dep = d;
    ctx->nodes[o->node].out = pick;
}


static void
gobi_squash_cycles(gobi_squash_ctx_t *ctx)
{
    int  j, k, n, cycle;

    /* mark: 0 unseen, j + 1 seen on the walk from j, -1 finished */
    n = ctx->nouts;

    for (j = 0; j < n; j++) {
        if (ctx->outs[j].mark != 0 || ctx->outs[j].removed) {
            continue;
        }

        for (k = j; k >= 0 && ctx->outs[k].mark == 0; k = ctx->outs[k].dep) {
            ctx->outs[k].mark = j + 1;
        }

        /* the walk came back to itself */
        cycle = (k >= 0 && ctx->outs[k].mark == j + 1) ? k : -1;

        for (k = j; k >= 0 && ctx->outs[k].mark == j + 1;
             k = ctx->outs[k].dep)
        {
            ctx->outs[k].mark = -1;
        }

        if (cycle >= 0) {
            gobi_squash_break(ctx, cycle);
        }
    }
}


static int
gobi_squash_before(gobi_squash_ctx_t *ctx, int a, int b)
{
    int64_t  sa, sb;

    sa = ctx->in[ctx->outs[a].ev].seq;
    sb = ctx->in[ctx->outs[b].ev].seq;

    return sa < sb || (sa == sb && a < b);
}


static void
gobi_squash_push(gobi_squash_ctx_t *ctx, int j)
{
    int  i, parent, tmp;

    i = ctx->nheap++;
    ctx->heap[i] = j;

    while (i > 0) {
        parent = (i - 1) / 2;

        if (!gobi_squash_before(ctx, ctx->heap[i], ctx->heap[parent])) {
            break;
        }

        tmp = ctx->heap[i];
        ctx->heap[i] = ctx->heap[parent];
        ctx->heap[parent] = tmp;
        i = parent;
    }
}


static int
gobi_squash_pop(gobi_squash_ctx_t *ctx)
{
    int  top, i, c, tmp;

    top = ctx->heap[0];
    ctx->heap[0] = ctx->heap[--ctx->nheap];
    i = 0;

    for ( ;; ) {
        c = 2 * i + 1;

        if (c >= ctx->nheap) {
            break;
        }

        if (c + 1 < ctx->nheap
            && gobi_squash_before(ctx, ctx->heap[c + 1], ctx->heap[c]))
        {
            c++;
        }

        if (!gobi_squash_before(ctx, ctx->heap[c], ctx->heap[i])) {
            break;
        }

        tmp = ctx->heap[i];
        ctx->heap[i] = ctx->heap[c];
        ctx->heap[c] = tmp;
        i = c;
    }

    return top;
}


static void
gobi_squash_fill(gobi_squash_ctx_t *ctx, gobi_squash_out_t *o,
    gobi_event_t *ev)
{
    const gobi_event_t  *last, *content;
    gobi_squash_node_t  *nd;

    nd = &ctx->nodes[o->node];
    last = &ctx->in[o->ev];

    memset(ev, 0, sizeof(gobi_event_t));

    ev->type = o->type;
    ev->path = ctx->paths[o->path].path;
    ev->from = o->from >= 0 ? ctx->paths[o->from].path : NULL;
    ev->seq = last->seq;
    ev->version = last->version;
    ev->device = last->device;
    ev->ts = last->ts;

    if (o->type == GOBI_EV_DELETE || nd->content < 0) {
        return;
    }

    content = &ctx->in[nd->content];
    memcpy(ev->hash, content->hash, sizeof(ev->hash));
    ev->hash[GOBI_HASH_HEX_LEN] = '\0';
    ev->size = content->size;
    ev->mtime = content->mtime;
}


/* pass 3 */
static size_t
gobi_squash_emit(gobi_squash_ctx_t *ctx, gobi_event_t *out, size_t n)
{
    size_t  count;
    int     j;

    for (j = 0; j < ctx->nouts; j++) {
        if (!ctx->outs[j].removed && ctx->outs[j].dep < 0) {
            gobi_squash_push(ctx, j);
        }
    }

    count = 0;

    while (ctx->nheap > 0) {
        j = gobi_squash_pop(ctx);

        /* cannot happen for a consistent log; the input is an answer too */
        if (count == n) {
            memcpy(out, ctx->in, n * sizeof(gobi_event_t));
            return n;
        }

        gobi_squash_fill(ctx, &ctx->outs[j], &out[count++]);

        if (ctx->outs[j].next >= 0) {
            gobi_squash_push(ctx, ctx->outs[j].next);
        }
    }

    return count;
}


ssize_t
gobi_squash(const gobi_event_t *in, size_t n, gobi_event_t *out, size_t *bad)
{
    gobi_squash_ctx_t  ctx;
    ssize_t            rc;
    size_t             size, i;

    if (n == 0) {
        return 0;
    }

    /* int indexes; outputs: one per node plus one per broken cycle */
    if (n > INT32_MAX / 4) {
        return GOBI_SQUASH_ENOMEM;
    }

    memset(&ctx, 0, sizeof(ctx));
    ctx.in = in;

    for (size = 16; size < 4 * n; size *= 2) { /* void */ }

    ctx.mask = size - 1;
    ctx.slots = malloc(size * sizeof(int));
    ctx.paths = malloc(2 * n * sizeof(gobi_squash_path_t));
    ctx.nodes = malloc(n * sizeof(gobi_squash_node_t));
    ctx.outs = malloc(2 * n * sizeof(gobi_squash_out_t));
    ctx.heap = malloc(2 * n * sizeof(int));

    if (ctx.slots == NULL || ctx.paths == NULL || ctx.nodes == NULL
        || ctx.outs == NULL || ctx.heap == NULL)
    {
        rc = GOBI_SQUASH_ENOMEM;
        goto done;
    }

    for (i = 0; i < size; i++) {
        ctx.slots[i] = -1;
    }

    rc = gobi_squash_replay(&ctx, n);

    if (rc >= 0) {
        if (bad) {
            *bad = (size_t) rc;
        }

        rc = GOBI_SQUASH_INCONSISTENT;
        goto done;
    }

    gobi_squash_plan(&ctx);
    gobi_squash_cycles(&ctx);

    rc = (ssize_t) gobi_squash_emit(&ctx, out, n);

done:

    free(ctx.slots);
    free(ctx.paths);
    free(ctx.nodes);
    free(ctx.outs);
    free(ctx.heap);

    return rc;
}
