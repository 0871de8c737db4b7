/*
 * Copyright (C) the gobi authors
 *
 * status, log, conflicts, resolve.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "gobi.h"
#include "gobi_api.h"
#include "gobi_beneath.h"
#include "gobi_changes.h"
#include "gobi_cmd.h"
#include "gobi_json.h"
#include "gobi_local.h"
#include "gobi_out.h"
#include "gobi_path.h"
#include "gobi_state.h"
#include "gobi_strategy.h"
#include "gobi_sync.h"


/* a local change (src: a rename's old path) or a skip (src: why) */
typedef struct {
    gobi_change_e   kind;
    char           *path;
    char           *src;
} gobi_status_item_t;


/* a conflict copy: recorded here, or found by its name */
typedef struct {
    const char     *path;                  /* the file it is a copy of */
    const char     *copy;
    int64_t         ts;                    /* recorded: when; else 0 */
    int             recorded;
    int             present;               /* the copy is in the folder */
    char           *owned;                 /* path, when made here */
} gobi_status_conflict_t;


typedef struct {
    gobi_status_item_t      *changes;
    size_t                   nchanges;
    gobi_status_item_t      *skips;
    size_t                   nskips;
    gobi_status_conflict_t  *conflicts;
    size_t                   nconflicts;
} gobi_status_ctx_t;


static const char *
gobi_change_name(gobi_change_e kind)
{
    switch (kind) {
    case GOBI_CH_NEW:
        return "new";
    case GOBI_CH_MODIFIED:
        return "modified";
    case GOBI_CH_DELETED:
        return "deleted";
    case GOBI_CH_SKIPPED:
        return "skipped";
    default:
        return "renamed";
    }
}


static int
gobi_status_change(void *data, gobi_change_e kind, const char *path,
    const char *src)
{
    gobi_status_ctx_t   *ctx = data;
    gobi_status_item_t **list, *it;
    size_t              *n;

    if (kind == GOBI_CH_SKIPPED) {
        list = &ctx->skips;
        n = &ctx->nskips;

    } else {
        list = &ctx->changes;
        n = &ctx->nchanges;
    }

    *list = gobi_realloc(*list, (*n + 1) * sizeof(gobi_status_item_t));
    it = &(*list)[(*n)++];
    it->kind = kind;
    it->path = gobi_strdup(path);
    it->src = src ? gobi_strdup(src) : NULL;

    return 0;
}


static void
gobi_status_conflict(gobi_status_ctx_t *ctx, const char *copy)
{
    gobi_status_conflict_t  *c;
    char                     orig[GOBI_PATH_MAX + 1];
    size_t                   i;

    for (i = 0; i < ctx->nconflicts; i++) {
        if (strcmp(ctx->conflicts[i].copy, copy) == 0) {
            ctx->conflicts[i].present = 1;
            return;
        }
    }

    if (!gobi_conflict_of(orig, sizeof(orig), copy)) {
        return;
    }

    ctx->conflicts = gobi_realloc(ctx->conflicts, (ctx->nconflicts + 1)
                                  * sizeof(gobi_status_conflict_t));
    c = &ctx->conflicts[ctx->nconflicts++];
    memset(c, 0, sizeof(gobi_status_conflict_t));
    c->owned = gobi_strdup(orig);
    c->path = c->owned;
    c->copy = copy;
    c->present = 1;
}


/*
 * The conflicts: those recorded here (made by this client, until
 * resolved), and copies in the folder named like one: made by the server
 * (its strategy keeps both) or by another device, synced here.
 */
static int
gobi_status_conflicts(gobi_sync_t *s, gobi_status_ctx_t *ctx,
    gobi_conflict_t *rec, size_t nrec, gobi_base_t **base, size_t *nbase)
{
    struct stat  st;
    size_t       i;
    int          rc;

    ctx->conflicts = gobi_calloc((nrec + 1) * sizeof(gobi_status_conflict_t));

    for (i = 0; i < nrec; i++) {
        ctx->conflicts[i].path = rec[i].path;
        ctx->conflicts[i].copy = rec[i].copy;
        ctx->conflicts[i].ts = rec[i].ts;
        ctx->conflicts[i].recorded = 1;
        ctx->conflicts[i].present = gobi_beneath_stat(s->rootfd, rec[i].copy,
                                                      &st) == 0;
    }

    ctx->nconflicts = nrec;

    rc = gobi_state_base_all(s->st, base, nbase);
    if (rc != 0) {
        return rc;
    }

    for (i = 0; i < *nbase; i++) {
        gobi_status_conflict(ctx, (*base)[i].path);
    }

    for (i = 0; i < ctx->nchanges; i++) {
        if (ctx->changes[i].kind == GOBI_CH_NEW) {
            gobi_status_conflict(ctx, ctx->changes[i].path);
        }
    }

    return 0;
}


static const char *
gobi_status_ago(char *buf, size_t len, int64_t ms)
{
    int64_t  s;

    s = (gobi_now_ms() - ms) / 1000;

    if (s < 0) {
        snprintf(buf, len, "in the future: check the clock");

    } else if (s < 120) {
        snprintf(buf, len, "%lld s ago", (long long) s);

    } else if (s < 2 * 3600) {
        snprintf(buf, len, "%lld min ago", (long long) s / 60);

    } else if (s < 2 * 86400) {
        snprintf(buf, len, "%lld h ago", (long long) s / 3600);

    } else {
        snprintf(buf, len, "%lld days ago", (long long) s / 86400);
    }

    return buf;
}


static void
gobi_status_json(gobi_sync_t *s, gobi_status_ctx_t *ctx, int64_t last,
    int64_t files, int64_t queued)
{
    gobi_status_item_t      *it;
    gobi_status_conflict_t  *c;
    yajl_gen                 g;
    size_t                   i;

    g = gobi_json_out_new();
    yajl_gen_map_open(g);
    gobi_jkv_str(g, "dir", s->root);
    gobi_jkv_str(g, "server", s->server);
    gobi_jkv_str(g, "vault", s->vault);
    gobi_jkv_str(g, "device", s->device);
    gobi_jkv_int(g, "cursor", s->cursor);

    /* unix ms of the last complete pass; null: never */
    gobi_jstr(g, "last_sync");
    if (last > 0) {
        yajl_gen_integer(g, last);

    } else {
        yajl_gen_null(g);
    }

    gobi_jkv_int(g, "files", files);
    gobi_jkv_int(g, "pending", (int64_t) ctx->nchanges);
    gobi_jkv_int(g, "queued", queued);

    gobi_jstr(g, "changes");
    yajl_gen_array_open(g);

    for (i = 0; i < ctx->nchanges; i++) {
        it = &ctx->changes[i];
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "change", gobi_change_name(it->kind));
        gobi_jkv_str(g, "path", it->path);

        if (it->src) {
            gobi_jkv_str(g, "from", it->src);
        }

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    gobi_jstr(g, "conflicts");
    yajl_gen_array_open(g);

    for (i = 0; i < ctx->nconflicts; i++) {
        c = &ctx->conflicts[i];
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "path", c->path);
        gobi_jkv_str(g, "copy", c->copy);

        gobi_jstr(g, "ts");
        if (c->recorded) {
            yajl_gen_integer(g, c->ts);

        } else {
            yajl_gen_null(g);
        }

        gobi_jkv_bool(g, "recorded", c->recorded);
        gobi_jkv_bool(g, "present", c->present);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    /* links (never followed), special files, bad names */
    gobi_jstr(g, "skipped");
    yajl_gen_array_open(g);

    for (i = 0; i < ctx->nskips; i++) {
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "path", ctx->skips[i].path);
        gobi_jkv_str(g, "why", ctx->skips[i].src);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    gobi_json_out_end(g);
}


static void
gobi_status_text(gobi_sync_t *s, gobi_status_ctx_t *ctx, int64_t last,
    int64_t files, int64_t queued)
{
    gobi_status_item_t      *it;
    gobi_status_conflict_t  *c;
    size_t                   i, shown;
    char                     tbuf[64], abuf[64];

    gobi_out("vault %s on %s, device %s", s->vault, s->server, s->device);
    gobi_out("folder %s: %lld files, cursor %lld", s->root,
             (long long) files, (long long) s->cursor);

    if (last > 0) {
        gobi_out("last sync: %s (%s)", gobi_time_str(tbuf, sizeof(tbuf), last),
                 gobi_status_ago(abuf, sizeof(abuf), last));

    } else {
        gobi_out("last sync: never");
    }

    if (ctx->nchanges == 0) {
        gobi_out("pending: none");

    } else if (queued) {
        gobi_out("pending: %zu local changes to push (%lld queued by a "
                 "sync that could not send them)", ctx->nchanges,
                 (long long) queued);

    } else {
        gobi_out("pending: %zu local changes to push", ctx->nchanges);
    }

    shown = ctx->nchanges < (size_t) gobi_opts.limit
            ? ctx->nchanges : (size_t) gobi_opts.limit;

    for (i = 0; i < shown; i++) {
        it = &ctx->changes[i];

        if (it->src) {
            gobi_out("  %-9s %s -> %s", gobi_change_name(it->kind), it->src,
                     it->path);

        } else {
            gobi_out("  %-9s %s", gobi_change_name(it->kind), it->path);
        }
    }

    if (shown < ctx->nchanges) {
        gobi_out("  and %zu more (-n N lists more, --json all)",
                 ctx->nchanges - shown);
    }

    if (ctx->nconflicts == 0) {
        gobi_out("conflicts: none");

    } else {
        gobi_out("conflicts: %zu", ctx->nconflicts);
    }

    for (i = 0; i < ctx->nconflicts; i++) {
        c = &ctx->conflicts[i];
        gobi_out("  %s: %s%s", c->path, c->copy,
                 !c->present ? " (copy gone: gobi resolve)"
                 : !c->recorded ? " (made by the server or another device)"
                 : "");
    }

    if (ctx->nskips) {
        gobi_out("skipped (not synced):");
    }

    for (i = 0; i < ctx->nskips; i++) {
        gobi_out("  %s (%s)", ctx->skips[i].path, ctx->skips[i].src);
    }
}


static void
gobi_status_free(gobi_status_ctx_t *ctx)
{
    size_t  i;

    for (i = 0; i < ctx->nchanges; i++) {
        free(ctx->changes[i].path);
        free(ctx->changes[i].src);
    }

    for (i = 0; i < ctx->nskips; i++) {
        free(ctx->skips[i].path);
        free(ctx->skips[i].src);
    }

    for (i = 0; i < ctx->nconflicts; i++) {
        free(ctx->conflicts[i].owned);
    }

    free(ctx->changes);
    free(ctx->skips);
    free(ctx->conflicts);
}


int
gobi_cmd_status(int argc, char **argv)
{
    gobi_sync_t        *s;
    gobi_status_ctx_t   ctx;
    gobi_conflict_t    *rec;
    gobi_base_t        *base;
    size_t              nrec, nbase;
    int64_t             last, queued, files;
    int                 rc;

    rc = gobi_sync_open(argc > 0 ? argv[0] : ".", 0, &s);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_state_conflict_list(s->st, &rec, &nrec);
    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    last = gobi_state_meta_int(s->st, "last_sync", 0);
    queued = gobi_state_queue_count(s->st);
    files = gobi_state_base_count(s->st);

    memset(&ctx, 0, sizeof(ctx));
    base = NULL;
    nbase = 0;

    rc = gobi_sync_changes(s, gobi_status_change, &ctx);

    if (rc == 0) {
        rc = gobi_status_conflicts(s, &ctx, rec, nrec, &base, &nbase);
    }

    if (rc == 0 && gobi_opts.json) {
        gobi_status_json(s, &ctx, last, files, queued);

    } else if (rc == 0) {
        gobi_status_text(s, &ctx, last, files, queued);
    }

    gobi_status_free(&ctx);
    gobi_state_base_free(base, nbase);
    gobi_state_conflict_free(rec, nrec);
    gobi_sync_close(s);

    return rc;
}


int
gobi_cmd_log(int argc, char **argv)
{
    gobi_sync_t   *s;
    yajl_val       root, *items;
    yajl_gen       g;
    gobi_event_t   ev;
    int64_t        head, since;
    size_t         n, i;
    char           tbuf[64];
    int            rc, expired;

    rc = gobi_sync_open(argc > 0 ? argv[0] : ".", 0, &s);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_sync_connect(s);

    if (rc == 0) {
        rc = gobi_api_vault_head(s->http, s->server, s->vault, &head);
    }

    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    since = head > gobi_opts.limit ? head - gobi_opts.limit : 0;

    rc = gobi_api_events(s->http, s->server, s->vault, since,
                         gobi_opts.limit, &root, &expired);

    if (rc == 0 && expired) {
        rc = gobi_error(GOBI_EXIT_NOT_FOUND, "the server keeps no events "
                        "that old");
    }

    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    n = gobi_json_array(root, "events", &items);
    g = NULL;

    if (gobi_opts.json) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "vault", s->vault);
        gobi_jkv_int(g, "head_seq", head);
        gobi_jstr(g, "events");
        yajl_gen_array_open(g);
    }

    for (i = 0; i < n; i++) {
        if (gobi_api_event(items[i], &ev) != 0) {
            continue;
        }

        if (g) {
            yajl_gen_map_open(g);
            gobi_jkv_int(g, "seq", ev.seq);
            gobi_jkv_str(g, "type", gobi_event_type_name(ev.type));
            gobi_jkv_str(g, "path", ev.path);

            if (ev.from) {
                gobi_jkv_str(g, "from", ev.from);
            }

            gobi_jkv_int(g, "size", ev.size);
            gobi_jkv_str(g, "device", ev.device);
            gobi_jkv_int(g, "ts", ev.ts);
            yajl_gen_map_close(g);

        } else if (ev.from) {
            gobi_out("%6lld  %s  %-6s  %s -> %s  (%s)", (long long) ev.seq,
                     gobi_time_str(tbuf, sizeof(tbuf), ev.ts),
                     gobi_event_type_name(ev.type), ev.from, ev.path,
                     ev.device ? ev.device : "-");

        } else {
            gobi_out("%6lld  %s  %-6s  %s  (%s)", (long long) ev.seq,
                     gobi_time_str(tbuf, sizeof(tbuf), ev.ts),
                     gobi_event_type_name(ev.type), ev.path,
                     ev.device ? ev.device : "-");
        }
    }

    if (g) {
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);
    }

    yajl_tree_free(root);
    gobi_sync_close(s);

    return 0;
}


int
gobi_cmd_conflicts(int argc, char **argv)
{
    gobi_sync_t      *s;
    gobi_conflict_t  *c;
    yajl_gen          g;
    size_t            n, i;
    char              tbuf[64];
    int               rc;

    rc = gobi_sync_open(argc > 0 ? argv[0] : ".", 0, &s);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_state_conflict_list(s->st, &c, &n);
    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    if (gobi_opts.json) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jstr(g, "conflicts");
        yajl_gen_array_open(g);

        for (i = 0; i < n; i++) {
            yajl_gen_map_open(g);
            gobi_jkv_str(g, "path", c[i].path);
            gobi_jkv_str(g, "copy", c[i].copy);
            gobi_jkv_int(g, "remote_version", c[i].version);
            gobi_jkv_int(g, "ts", c[i].ts);
            yajl_gen_map_close(g);
        }

        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);

    } else {
        for (i = 0; i < n; i++) {
            gobi_out("%s\t%s\t%s", c[i].path, c[i].copy,
                     gobi_time_str(tbuf, sizeof(tbuf), c[i].ts));
        }
    }

    gobi_state_conflict_free(c, n);
    gobi_sync_close(s);

    return 0;
}


int
gobi_cmd_resolve(int argc, char **argv)
{
    gobi_sync_t      *s;
    gobi_conflict_t  *c, *hit;
    gobi_local_t      l;
    const char       *keep, *want;
    size_t            n, i, hits;
    int               rc;

    keep = gobi_opts.keep;

    if (keep == NULL || (strcmp(keep, "local") && strcmp(keep, "remote")
                         && strcmp(keep, "both")))
    {
        return gobi_error(GOBI_EXIT_USAGE, "usage: gobi resolve <path> "
                          "--keep local|remote|both [dir]");
    }

    rc = gobi_sync_open(argc > 1 ? argv[1] : ".", 1, &s);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_state_conflict_list(s->st, &c, &n);
    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    /* the path as given, or relative to the vault root from the cwd */
    want = argv[0];
    hit = NULL;
    hits = 0;

    for (i = 0; i < n; i++) {
        if (strcmp(c[i].copy, want) == 0) {
            hit = &c[i];
            hits = 1;
            break;
        }

        if (strcmp(c[i].path, want) == 0) {
            hit = &c[i];
            hits++;
        }
    }

    if (hits == 0) {
        rc = gobi_error(GOBI_EXIT_NOT_FOUND, "no conflict on \"%s\" (see "
                        "gobi conflicts)", want);
        goto done;
    }

    if (hits > 1) {
        rc = gobi_error(GOBI_EXIT_USAGE, "\"%s\" has several conflict "
                        "copies: name the copy to keep", want);
        goto done;
    }

    if (strcmp(keep, "local") == 0) {
        /* the conflict copy holds the local edit: it becomes the file */
        rc = gobi_local_get(s, hit->path, &l);
        if (rc != 0) {
            goto done;
        }

        if (l.state == GOBI_L_CHANGED) {
            rc = gobi_error(GOBI_EXIT_CONFLICT, "\"%s\" was edited after the "
                            "conflict: merge \"%s\" into it by hand, then "
                            "resolve with --keep both", hit->path,
                            hit->copy);
            goto done;
        }

        if (gobi_beneath_rename(s->rootfd, hit->copy, hit->path, 0) != 0) {
            rc = gobi_error(gobi_errno_exit(errno), "cannot replace \"%s\" "
                            "with \"%s\": %s", hit->path, hit->copy,
                            strerror(errno));
            goto done;
        }

    } else if (strcmp(keep, "remote") == 0) {
        if (gobi_beneath_unlink(s->rootfd, hit->copy, 0) != 0
            && errno != ENOENT)
        {
            rc = gobi_error(gobi_errno_exit(errno), "cannot delete \"%s\": "
                            "%s", hit->copy, strerror(errno));
            goto done;
        }
    }

    rc = gobi_state_conflict_del(s->st, hit->copy);
    if (rc != 0) {
        goto done;
    }

    gobi_out("resolved %s: kept %s", hit->path,
             strcmp(keep, "both") == 0 ? "both versions"
             : strcmp(keep, "local") == 0 ? "the local version"
             : "the remote version");

    /* tell the server */
    rc = gobi_sync_run(s);

done:

    gobi_state_conflict_free(c, n);
    gobi_sync_close(s);

    return rc;
}
