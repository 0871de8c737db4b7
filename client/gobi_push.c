/*
 * Copyright (C) the gobi authors
 *
 * Push: the queue to the server.  Each queue entry is re-checked against
 * the base when it is sent, so entries queued long ago (offline) stay
 * correct after a pull changed the base.  Files are read without
 * following a symbolic link on their path: a link is never uploaded.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_api.h"
#include "gobi_beneath.h"
#include "gobi_http.h"
#include "gobi_ignore.h"
#include "gobi_path.h"
#include "gobi_local.h"
#include "gobi_map.h"
#include "gobi_out.h"
#include "gobi_progress.h"
#include "gobi_push.h"
#include "gobi_scan.h"
#include "gobi_state.h"


typedef enum {
    GOBI_P_NOTHING = 0,
    GOBI_P_UPLOAD,
    GOBI_P_DELETE,
    GOBI_P_RENAME,
    GOBI_P_SPLIT                           /* rename sent as PUT + DELETE */
} gobi_pkind_e;


typedef struct {
    gobi_qentry_t      *q;
    gobi_pkind_e        kind;
    gobi_local_t        l;                 /* UPLOAD, DELETE: q->path */
    gobi_local_t        lsrc;              /* RENAME: q->src */
} gobi_plan_t;


typedef struct {
    gobi_sync_t        *s;
    int64_t             qid;
    char               *path;
    int                 fd;
    int                 is_delete;
    int64_t             base_version;      /* of If-Match, 0: none */
    gobi_scan_entry_t   stat;
    char                hash[GOBI_HASH_HEX_LEN + 1];
} gobi_up_t;


static void
gobi_up_free(gobi_up_t *u)
{
    if (u->fd >= 0) {
        close(u->fd);
    }

    free(u->path);
    free(u);
}


/*
 * The server did not take the bytes as they are (a merge, or a write that
 * lost under last-writer-wins, kept in its history): the base becomes
 * "the local content, at the version it was based on", so the pull sees
 * an unchanged local file and a changed remote one, and downloads it
 * rather than keeping a conflict copy.
 */
static int
gobi_up_superseded(gobi_up_t *u)
{
    gobi_base_t  b;

    memset(&b, 0, sizeof(b));
    b.path = u->path;
    b.version = u->base_version;
    memcpy(b.hash, u->hash, sizeof(b.hash));
    b.size = u->stat.size;
    b.mtime = u->stat.mtime_ns / 1000000;
    b.lmtime = gobi_local_lmtime(&u->stat);
    b.ino = u->stat.ino;

    u->s->need_pull = 1;

    return gobi_sync_base_put(u->s, &b);
}


/*
 * 409 conflict_copied: the server kept its file and stored these bytes as
 * a conflict copy beside it.  The local file becomes that copy (renamed,
 * its base the copy's version) and the file's own base goes, so the pull
 * downloads the server's version: no second copy is made here.
 */
static int
gobi_up_copied(gobi_up_t *u, gobi_req_t *r)
{
    gobi_sync_t        *s;
    gobi_base_t         b;
    gobi_scan_entry_t   now;
    struct stat         st;
    yajl_val            root, err, copy, cur;
    const char         *path, *hash;
    int64_t             current;
    int                 rc;

    s = u->s;
    s->need_pull = 1;

    root = r->resp ? gobi_json_parse(r->resp, r->resp_len, NULL, 0) : NULL;
    err = gobi_json_get(root, "error");
    copy = gobi_json_get(err, "copy");
    cur = gobi_json_get(err, "current");
    path = gobi_json_str(copy, "path");
    hash = gobi_json_str(copy, "hash");

    memset(&b, 0, sizeof(b));

    if (path == NULL || gobi_path_check(path, strlen(path)) != NULL
        || hash == NULL || strlen(hash) != GOBI_HASH_HEX_LEN
        || gobi_json_int(copy, "version", &b.version) != 0)
    {
        yajl_tree_free(root);
        return gobi_error(GOBI_EXIT_SERVER, "upload of \"%s\": bad answer "
                          "from the server", u->path);
    }

    current = 0;
    (void) gobi_json_int(cur, "version", &current);

    /* only the bytes that were sent become the copy */
    if (gobi_beneath_stat(s->rootfd, u->path, &st) != 0) {
        yajl_tree_free(root);
        return 0;
    }

    gobi_scan_from_stat(&st, &now);

    if (!gobi_local_same(&now, &u->stat) || strcmp(hash, u->hash) != 0
        || gobi_beneath_mkparents(s->rootfd, path, 0755) != 0
        || gobi_beneath_rename(s->rootfd, u->path, path, RENAME_NOREPLACE)
           != 0)
    {
        /* changed meanwhile, or the name is taken here: the pull sorts
         * it out (it downloads the copy, the file is a conflict then) */
        yajl_tree_free(root);
        return 0;
    }

    b.path = (char *) path;
    memcpy(b.hash, hash, sizeof(b.hash));
    b.size = u->stat.size;
    b.mtime = u->stat.mtime_ns / 1000000;
    b.lmtime = gobi_local_lmtime(&now);
    b.ino = now.ino;

    rc = gobi_sync_base_put(s, &b);

    if (rc == 0) {
        rc = gobi_sync_base_del(s, u->path);
    }

    if (rc == 0) {
        rc = gobi_state_conflict_add(s->st, u->path, path, current);
    }

    if (rc == 0 && current > 0 && s->cursor >= current) {
        /* the pull may have passed the server's version of the file (it
         * left it to the server): read the log again from before it */
        s->cursor = current - 1;
        rc = gobi_state_meta_set_int(s->st, "cursor", s->cursor);
    }

    if (rc == 0) {
        s->stats.conflicts++;
        gobi_warn("conflict: \"%s\" changed here and on the server; your "
                  "version is kept as \"%s\"", u->path, path);
    }

    yajl_tree_free(root);

    return rc;
}


static void
gobi_up_done(gobi_req_t *r)
{
    gobi_up_t          *u;
    gobi_sync_t        *s;
    gobi_base_t         b;
    gobi_scan_entry_t   now;
    struct stat         st;
    yajl_val            root;
    const char         *hash;
    char                code[64], *what;
    int                 rc;

    u = r->data;
    s = u->s;
    rc = 0;

    if (r->cc == CURLE_OK && r->status == 412) {
        /* the server moved on: pull, then this entry again */
        s->need_pull = 1;

        if (!u->is_delete && gobi_req_resolved_lww(r)) {
            /* our write lost by its mtime: it is in the server's
             * history, the newer version comes down */
            rc = gobi_up_superseded(u);

            if (rc == 0 && u->qid) {
                rc = gobi_state_queue_del(s->st, u->qid);
            }
        }

        goto done;
    }

    if (!u->is_delete && r->cc == CURLE_OK && r->status == 409
        && strcmp(gobi_req_error_code(r, code, sizeof(code)),
                  "conflict_copied") == 0)
    {
        rc = gobi_up_copied(u, r);

        if (rc == 0 && u->qid) {
            rc = gobi_state_queue_del(s->st, u->qid);
        }

        goto done;
    }

    if (u->is_delete) {
        if (r->cc == CURLE_OK && (r->status == 200 || r->status == 204
                                  || (r->status == 404
                                      && strcmp(gobi_req_error_code(r, code,
                                                sizeof(code)),
                                                "vault_not_found") != 0)))
        {
            rc = gobi_sync_base_del(s, u->path);

            if (rc == 0 && u->qid) {
                rc = gobi_state_queue_del(s->st, u->qid);
            }

            if (rc == 0) {
                s->stats.deleted_remote++;
                gobi_out_v("deleted on the server: %s", u->path);
            }

            goto done;
        }

        if (r->cc == CURLE_OK && r->status == 409
            && strcmp(gobi_req_error_code(r, code, sizeof(code)),
                      "mass_delete_blocked") == 0)
        {
            /* the server's guard (this device deleted many files in a
             * few minutes): the delete stays queued, the sync says so */
            s->stats.mass_delete_refused++;
            goto done;
        }

        what = gobi_sprintf("cannot delete \"%s\" on the server", u->path);
        rc = gobi_req_error(r, what);
        free(what);
        goto done;
    }

    if (r->cc != CURLE_OK || (r->status != 200 && r->status != 201)) {
        if (r->cc == CURLE_OK && r->status == 400
            && strcmp(gobi_req_error_code(r, code, sizeof(code)),
                      "hash_mismatch") == 0)
        {
            /* the file changed while it was sent: again next round */
            s->need_pull = 1;
            goto done;
        }

        if (r->cc == CURLE_OK && r->status == 413) {
            gobi_warn("\"%s\" is larger than the server accepts: not "
                      "synced", u->path);

            if (u->qid) {
                rc = gobi_state_queue_del(s->st, u->qid);
            }

            goto done;
        }

        what = gobi_sprintf("cannot upload \"%s\"", u->path);
        rc = gobi_req_error(r, what);
        free(what);
        goto done;
    }

    root = r->resp ? gobi_json_parse(r->resp, r->resp_len, NULL, 0) : NULL;

    b.path = u->path;
    hash = gobi_json_str(root, "hash");

    if (gobi_json_int(root, "version", &b.version) != 0 || hash == NULL
        || strlen(hash) != GOBI_HASH_HEX_LEN)
    {
        yajl_tree_free(root);
        rc = gobi_error(GOBI_EXIT_SERVER, "upload of \"%s\": bad answer "
                        "from the server", u->path);
        goto done;
    }

    if (gobi_json_bool(root, "merged")) {
        /* the server merged our edit with another: fetch the result */
        yajl_tree_free(root);
        rc = gobi_up_superseded(u);

        if (rc == 0 && u->qid) {
            rc = gobi_state_queue_del(s->st, u->qid);
        }

        if (rc == 0) {
            s->stats.uploaded++;
            s->stats.bytes_up += u->stat.size;
            gobi_out_v("uploaded %s (merged on the server)", u->path);
        }

        goto done;
    }

    memcpy(b.hash, hash, sizeof(b.hash));
    b.size = u->stat.size;
    b.mtime = u->stat.mtime_ns / 1000000;
    gobi_json_int(root, "size", &b.size);
    gobi_json_int(root, "mtime", &b.mtime);
    yajl_tree_free(root);

    /* the stat we hashed is the base's only if the file did not move */
    b.lmtime = 0;
    b.ino = u->stat.ino;

    if (gobi_beneath_stat(s->rootfd, u->path, &st) == 0) {
        gobi_scan_from_stat(&st, &now);

        if (gobi_local_same(&now, &u->stat)
            && strcmp(b.hash, u->hash) == 0)
        {
            b.lmtime = gobi_local_lmtime(&now);
        }
    }

    rc = gobi_sync_base_put(s, &b);

    if (rc == 0 && u->qid) {
        rc = gobi_state_queue_del(s->st, u->qid);
    }

    if (rc == 0) {
        s->stats.uploaded++;
        s->stats.bytes_up += u->stat.size;
        gobi_out_v("uploaded %s", u->path);
    }

done:

    if (rc != 0 && s->rc == 0) {
        s->rc = rc;
    }

    gobi_progress_file_done(u->is_delete ? 0 : u->stat.size, r->flowed);
    gobi_up_free(u);
    gobi_req_free(r);
}


static int
gobi_push_upload(gobi_sync_t *s, int64_t qid, const char *path,
    gobi_local_t *l)
{
    gobi_up_t          *u;
    gobi_req_t         *r;
    gobi_scan_entry_t   now;
    struct stat         st;
    int                 fd;

    fd = gobi_beneath_open(s->rootfd, path, O_RDONLY, 0);

    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            /* gone meanwhile, or a link now: the next scan sees it */
            gobi_progress_file_done(l->stat.size, 0);
            return 0;
        }

        return gobi_error(gobi_errno_exit(errno), "cannot read \"%s\": %s",
                          path, strerror(errno));
    }

    if (fstat(fd, &st) != 0) {
        close(fd);
        return gobi_error(gobi_errno_exit(errno), "cannot read \"%s\": %s",
                          path, strerror(errno));
    }

    gobi_scan_from_stat(&st, &now);

    if (!gobi_local_same(&now, &l->stat)) {
        /* changed since it was hashed: next round */
        close(fd);
        s->need_pull = 1;
        gobi_progress_file_done(l->stat.size, 0);
        return 0;
    }

    u = gobi_calloc(sizeof(gobi_up_t));
    u->s = s;
    u->qid = qid;
    u->path = gobi_strdup(path);
    u->fd = fd;
    u->stat = now;
    memcpy(u->hash, l->hash, sizeof(u->hash));

    r = gobi_req_new("PUT", gobi_api_file_url(s->server, s->vault, path));
    r->in_fd = fd;
    r->in_size = now.size;
    r->handler = gobi_up_done;
    r->data = u;
    r->flow = gobi_progress_bytes;

    if (l->has_base) {
        u->base_version = l->base.version;
        gobi_req_header(r, "If-Match: \"%lld\"",
                        (long long) l->base.version);

    } else {
        gobi_req_header(r, "If-None-Match: *");
    }

    gobi_req_header(r, "X-Gobi-Hash: %s", l->hash);
    gobi_req_header(r, "X-Gobi-Mtime: %lld",
                    (long long) (now.mtime_ns / 1000000));
    gobi_req_header(r, "X-Gobi-Device: %s", s->device);
    gobi_req_header(r, "Content-Type: application/octet-stream");

    gobi_http_start(s->http, r);

    return 0;
}


static int
gobi_push_delete(gobi_sync_t *s, int64_t qid, const char *path,
    gobi_local_t *l)
{
    gobi_up_t   *u;
    gobi_req_t  *r;

    u = gobi_calloc(sizeof(gobi_up_t));
    u->s = s;
    u->qid = qid;
    u->path = gobi_strdup(path);
    u->fd = -1;
    u->is_delete = 1;

    r = gobi_req_new("DELETE", gobi_api_file_url(s->server, s->vault,
                                                 path));
    r->handler = gobi_up_done;
    r->data = u;

    gobi_req_header(r, "If-Match: \"%lld\"", (long long) l->base.version);
    gobi_req_header(r, "X-Gobi-Device: %s", s->device);

    if (gobi_opts.allow_mass_delete) {
        gobi_req_header(r, "X-Gobi-Confirm-Mass-Delete: 1");
    }

    gobi_http_start(s->http, r);

    return 0;
}


/* the server did a rename (s->rename): so does the base */
static int
gobi_push_renamed(gobi_sync_t *s, const char *from, const char *to,
    int64_t version)
{
    gobi_base_t        b;
    gobi_scan_entry_t  e;
    int                rc;

    rc = gobi_state_base_get(s->st, from, &b);
    if (rc < 0) {
        return gobi_error_code();
    }

    if (rc == 1) {
        b.path = (char *) to;
        b.version = version > 0 ? version : b.version;
        b.lmtime = 0;

        if (gobi_scan_stat(s->rootfd, to, &e) == 1) {
            b.ino = e.ino;
        }

        rc = gobi_sync_base_del(s, from);

        if (rc == 0) {
            rc = gobi_sync_base_put(s, &b);
        }

        if (rc != 0) {
            return rc;
        }
    }

    s->stats.renamed_remote++;
    gobi_out_v("renamed on the server: %s -> %s", from, to);

    return 0;
}


/* what an entry means now, against the current base and disk */
static int
gobi_push_plan(gobi_sync_t *s, gobi_qentry_t *q, gobi_plan_t *p)
{
    int  rc;

    p->q = q;
    p->kind = GOBI_P_NOTHING;

    if (gobi_ignore_path(s->ign, q->path)) {
        return 0;
    }

    rc = gobi_local_get(s, q->path, &p->l);
    if (rc != 0) {
        return rc;
    }

    if (q->op == GOBI_QOP_RENAME && q->src) {
        rc = gobi_local_get(s, q->src, &p->lsrc);
        if (rc != 0) {
            return rc;
        }

        if (p->lsrc.state == GOBI_L_DELETED && !p->l.has_base
            && p->l.state == GOBI_L_CHANGED
            && !gobi_ignore_path(s->ign, q->src))
        {
            p->kind = (s->rename && strcmp(p->l.hash, p->lsrc.base.hash) == 0)
                      ? GOBI_P_RENAME : GOBI_P_SPLIT;
            return 0;
        }

        /* no longer a rename: each side on its own */
        rc = gobi_state_queue_add(s->st, GOBI_QOP_CHECK, q->src, NULL);
        if (rc != 0) {
            return rc;
        }
    }

    switch (p->l.state) {
    case GOBI_L_CHANGED:
        p->kind = GOBI_P_UPLOAD;
        break;
    case GOBI_L_DELETED:
        p->kind = GOBI_P_DELETE;
        break;
    default:
        break;
    }

    return 0;
}


int
gobi_sync_push(gobi_sync_t *s)
{
    gobi_qentry_t  *q;
    gobi_plan_t    *plan, *p;
    gobi_map_t      busy;
    size_t          n, i;
    int64_t         deletes, total, files, bytes, version;
    int             rc, inflight, round;

    rc = 0;
    s->rc = 0;
    inflight = gobi_opts.jobs * 2;

    for (round = 0; round < 8; round++) {
        rc = gobi_state_queue_list(s->st, &q, &n);
        if (rc != 0 || n == 0) {
            break;
        }

        plan = gobi_calloc(sizeof(gobi_plan_t) * n);

        rc = gobi_state_begin(s->st);

        for (i = 0; rc == 0 && i < n; i++) {
            rc = gobi_push_plan(s, &q[i], &plan[i]);
        }

        if (rc == 0) {
            rc = gobi_sync_flush(s);

        } else {
            gobi_state_rollback(s->st);
            s->batch = 0;
        }

        if (rc != 0) {
            free(plan);
            gobi_state_queue_free(q, n);
            break;
        }

        /* the mass-delete guard */
        deletes = 0;

        for (i = 0; i < n; i++) {
            if (plan[i].kind == GOBI_P_DELETE) {
                deletes++;
            }
        }

        total = gobi_state_base_count(s->st);

        if (deletes >= 2 && deletes * 2 > total
            && !gobi_opts.allow_mass_delete)
        {
            s->stats.mass_delete_refused = deletes;
        }

        /* what the progress line counts: a request done is a file */
        files = 0;
        bytes = 0;

        for (i = 0; i < n; i++) {
            switch (plan[i].kind) {
            case GOBI_P_UPLOAD:
                files++;
                bytes += plan[i].l.stat.size;
                break;
            case GOBI_P_DELETE:
                files += s->stats.mass_delete_refused ? 0 : 1;
                break;
            case GOBI_P_RENAME:
                files++;
                break;
            case GOBI_P_SPLIT:
                files += 2;
                bytes += plan[i].l.stat.size;
                break;
            default:
                break;
            }
        }

        gobi_progress_start("upload", files, bytes);
        gobi_map_init(&busy);

        for (i = 0; i < n && s->rc == 0; i++) {
            p = &plan[i];

            /* one transfer per path at a time */
            if (gobi_map_get(&busy, p->q->path)
                || (p->q->src && gobi_map_get(&busy, p->q->src)))
            {
                gobi_http_wait(s->http);
                gobi_map_free(&busy);
                gobi_map_init(&busy);
            }

            while (gobi_http_pending(s->http) >= inflight) {
                gobi_http_step(s->http, NULL, 0, 1000);
            }

            switch (p->kind) {

            case GOBI_P_NOTHING:
                rc = gobi_state_queue_del(s->st, p->q->id);
                break;

            case GOBI_P_UPLOAD:
                gobi_map_put(&busy, p->q->path, p);
                rc = gobi_push_upload(s, p->q->id, p->q->path, &p->l);
                break;

            case GOBI_P_DELETE:
                if (s->stats.mass_delete_refused) {
                    rc = gobi_state_queue_del(s->st, p->q->id);
                    break;
                }

                gobi_map_put(&busy, p->q->path, p);
                rc = gobi_push_delete(s, p->q->id, p->q->path, &p->l);
                break;

            case GOBI_P_RENAME:
                gobi_http_wait(s->http);
                rc = s->rename(s->rename_data, p->q->src, p->q->path,
                               p->lsrc.base.version, &version);

                if (rc == 0) {
                    rc = gobi_push_renamed(s, p->q->src, p->q->path,
                                           version);
                }

                if (rc == 0) {
                    gobi_progress_file_done(0, 0);
                    rc = gobi_state_queue_del(s->st, p->q->id);
                    break;
                }

                /* not sent: fall back to PUT + DELETE */
                gobi_error_clear();
                gobi_progress_add_total(1, p->l.stat.size);

                /* fall through */

            case GOBI_P_SPLIT:
                gobi_map_put(&busy, p->q->path, p);
                gobi_map_put(&busy, p->q->src, p);
                rc = gobi_push_upload(s, 0, p->q->path, &p->l);

                if (rc == 0) {
                    rc = gobi_push_delete(s, p->q->id, p->q->src, &p->lsrc);
                }

                break;
            }

            if (rc != 0) {
                break;
            }
        }

        gobi_http_wait(s->http);
        gobi_progress_end();
        gobi_map_free(&busy);

        if (gobi_sync_flush(s) != 0 && rc == 0) {
            rc = gobi_error_code();
        }

        free(plan);
        gobi_state_queue_free(q, n);

        if (rc == 0) {
            rc = s->rc;
        }

        if (rc != 0 || s->need_pull) {
            break;
        }
    }

    return rc;
}
