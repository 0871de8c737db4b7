/*
 * Copyright (C) the gobi authors
 *
 * status, log, conflicts, resolve.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_api.h"
#include "gobi_beneath.h"
#include "gobi_changes.h"
#include "gobi_cmd.h"
#include "gobi_json.h"
#include "gobi_local.h"
#include "gobi_out.h"
#include "gobi_state.h"
#include "gobi_sync.h"


typedef struct {
    yajl_gen    g;
    int64_t     n;
    char      **skips;                     /* "path\0why": after changes */
    size_t      nskips;
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
    gobi_status_ctx_t  *ctx = data;
    size_t              len;

    if (kind == GOBI_CH_SKIPPED) {
        len = strlen(path) + 1;
        ctx->skips = gobi_realloc(ctx->skips,
                                  (ctx->nskips + 1) * sizeof(char *));
        ctx->skips[ctx->nskips] = gobi_alloc(len + strlen(src) + 1);
        memcpy(ctx->skips[ctx->nskips], path, len);
        strcpy(ctx->skips[ctx->nskips] + len, src);
        ctx->nskips++;
        return 0;
    }

    ctx->n++;

    if (ctx->g) {
        yajl_gen_map_open(ctx->g);
        gobi_jkv_str(ctx->g, "change", gobi_change_name(kind));
        gobi_jkv_str(ctx->g, "path", path);

        if (src) {
            gobi_jkv_str(ctx->g, "from", src);
        }

        yajl_gen_map_close(ctx->g);

    } else if (src) {
        gobi_out("  %-9s %s -> %s", gobi_change_name(kind), src, path);

    } else {
        gobi_out("  %-9s %s", gobi_change_name(kind), path);
    }

    return 0;
}


int
gobi_cmd_status(int argc, char **argv)
{
    gobi_sync_t        *s;
    gobi_status_ctx_t   ctx;
    gobi_conflict_t    *c;
    size_t              nc, i;
    int64_t             last, pending, files;
    char                tbuf[64];
    int                 rc;

    rc = gobi_sync_open(argc > 0 ? argv[0] : ".", 0, &s);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_state_conflict_list(s->st, &c, &nc);
    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    last = gobi_state_meta_int(s->st, "last_sync", 0);
    pending = gobi_state_queue_count(s->st);
    files = gobi_state_base_count(s->st);

    memset(&ctx, 0, sizeof(ctx));

    if (gobi_opts.json) {
        ctx.g = gobi_json_out_new();
        yajl_gen_map_open(ctx.g);
        gobi_jkv_str(ctx.g, "dir", s->root);
        gobi_jkv_str(ctx.g, "server", s->server);
        gobi_jkv_str(ctx.g, "vault", s->vault);
        gobi_jkv_str(ctx.g, "device", s->device);
        gobi_jkv_int(ctx.g, "cursor", s->cursor);
        gobi_jkv_int(ctx.g, "last_sync", last);
        gobi_jkv_int(ctx.g, "files", files);
        gobi_jkv_int(ctx.g, "queued", pending);
        gobi_jstr(ctx.g, "conflicts");
        yajl_gen_array_open(ctx.g);

        for (i = 0; i < nc; i++) {
            yajl_gen_map_open(ctx.g);
            gobi_jkv_str(ctx.g, "path", c[i].path);
            gobi_jkv_str(ctx.g, "copy", c[i].copy);
            gobi_jkv_int(ctx.g, "ts", c[i].ts);
            yajl_gen_map_close(ctx.g);
        }

        yajl_gen_array_close(ctx.g);
        gobi_jstr(ctx.g, "changes");
        yajl_gen_array_open(ctx.g);

    } else {
        gobi_out("vault %s on %s, device %s", s->vault, s->server,
                 s->device);
        gobi_out("folder %s: %lld files, cursor %lld, last sync %s",
                 s->root, (long long) files, (long long) s->cursor,
                 gobi_time_str(tbuf, sizeof(tbuf), last));

        if (pending) {
            gobi_out("%lld operations queued for the server",
                     (long long) pending);
        }

        for (i = 0; i < nc; i++) {
            gobi_out("conflict: %s (other version: %s)", c[i].path,
                     c[i].copy);
        }

        gobi_out("local changes:");
    }

    rc = gobi_sync_changes(s, gobi_status_change, &ctx);

    if (ctx.g) {
        yajl_gen_array_close(ctx.g);

        /* links (never followed), special files, bad names */
        gobi_jstr(ctx.g, "skipped");
        yajl_gen_array_open(ctx.g);

        for (i = 0; i < ctx.nskips; i++) {
            yajl_gen_map_open(ctx.g);
            gobi_jkv_str(ctx.g, "path", ctx.skips[i]);
            gobi_jkv_str(ctx.g, "why",
                         ctx.skips[i] + strlen(ctx.skips[i]) + 1);
            yajl_gen_map_close(ctx.g);
        }

        yajl_gen_array_close(ctx.g);
        yajl_gen_map_close(ctx.g);
        gobi_json_out_end(ctx.g);

    } else if (rc == 0) {
        if (ctx.n == 0) {
            gobi_out("  none");
        }

        if (ctx.nskips) {
            gobi_out("skipped (not synced):");
        }

        for (i = 0; i < ctx.nskips; i++) {
            gobi_out("  %s (%s)", ctx.skips[i],
                     ctx.skips[i] + strlen(ctx.skips[i]) + 1);
        }
    }

    for (i = 0; i < ctx.nskips; i++) {
        free(ctx.skips[i]);
    }

    free(ctx.skips);

    gobi_state_conflict_free(c, nc);
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
