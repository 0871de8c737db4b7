/*
 * Copyright (C) the gobi authors
 *
 * Pull: the server's changes since our cursor, applied to the disk.
 *
 * The events (raw or squashed, in pages) are reduced per path to the
 * remote target state: exists with (version, hash, size, mtime), or gone.
 * Targets are independent of each other, so they are applied in an order
 * that keeps paths free: local renames first (a rename event whose source
 * we have unchanged), then deletions, then downloads, several in flight.
 * The cursor moves to the head only when every target was applied.
 *
 * Nothing is written through a symbolic link (gobi_beneath.c): a change
 * at a path that is, or goes through, a link here is refused with a
 * warning and counted as skipped; the server keeps the file.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "gobi.h"
#include "gobi_api.h"
#include "gobi_beneath.h"
#include "gobi_hash.h"
#include "gobi_http.h"
#include "gobi_ignore.h"
#include "gobi_json.h"
#include "gobi_local.h"
#include "gobi_map.h"
#include "gobi_out.h"
#include "gobi_path.h"
#include "gobi_progress.h"
#include "gobi_pull.h"
#include "gobi_scan.h"
#include "gobi_state.h"
#include "gobi_write.h"


#define GOBI_EVENTS_PAGE  1000


typedef struct {
    char           *path;
    char           *from;                  /* renamed from (a hint) */
    int             exists;
    int             done;
    int64_t         version;
    int64_t         size;
    int64_t         mtime;
    char            hash[GOBI_HASH_HEX_LEN + 1];
} gobi_rchange_t;


typedef struct {
    gobi_map_t        map;
    gobi_rchange_t  **list;
    size_t            n;
    size_t            cap;
    int64_t           target;              /* the cursor once applied */
    int64_t           bytes;               /* to download */
} gobi_remote_t;


typedef struct {
    gobi_sync_t      *s;
    gobi_rchange_t   *ch;
    gobi_local_t      l0;                  /* the local file we saw */
    char             *tmp;                 /* relative to the root */
    int               fd;
    int               refused;             /* a link on the path */
} gobi_dl_t;


static mode_t  gobi_file_mode = 0644;


static gobi_rchange_t *
gobi_remote_set(gobi_remote_t *r, const char *path)
{
    gobi_rchange_t  *ch;

    ch = gobi_map_get(&r->map, path);

    if (ch == NULL) {
        ch = gobi_calloc(sizeof(gobi_rchange_t));
        ch->path = gobi_strdup(path);
        gobi_map_put(&r->map, ch->path, ch);

        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 256;
            r->list = gobi_realloc(r->list,
                                   r->cap * sizeof(gobi_rchange_t *));
        }

        r->list[r->n++] = ch;
    }

    free(ch->from);
    ch->from = NULL;

    return ch;
}


static void
gobi_remote_free(gobi_remote_t *r)
{
    size_t  i;

    for (i = 0; i < r->n; i++) {
        free(r->list[i]->path);
        free(r->list[i]->from);
        free(r->list[i]);
    }

    free(r->list);
    gobi_map_free(&r->map);
}


static int
gobi_remote_cmp(const void *a, const void *b)
{
    return strcmp((*(gobi_rchange_t * const *) a)->path,
                  (*(gobi_rchange_t * const *) b)->path);
}


/* the server's state of ch->path after ev, by the server's own rule */
static void
gobi_remote_apply(gobi_rchange_t *ch, const gobi_event_t *ev)
{
    gobi_file_t  f;

    gobi_event_apply(ev, ch->path, &f);

    ch->exists = !f.deleted;
    ch->version = f.version;

    if (!f.deleted) {
        ch->size = f.size;
        ch->mtime = f.mtime;
        memcpy(ch->hash, f.hash, sizeof(ch->hash));
    }
}


static void
gobi_remote_event(gobi_remote_t *r, const gobi_event_t *ev)
{
    gobi_rchange_t  *ch;

    if (gobi_path_check(ev->path, strlen(ev->path)) != NULL
        || (ev->from && gobi_path_check(ev->from, strlen(ev->from)) != NULL))
    {
        gobi_warn("ignoring an event with a bad path from the server");
        return;
    }

    if (ev->type == GOBI_EV_RENAME) {
        gobi_remote_apply(gobi_remote_set(r, ev->from), ev);
    }

    ch = gobi_remote_set(r, ev->path);
    gobi_remote_apply(ch, ev);

    if (ev->type == GOBI_EV_RENAME) {
        ch->from = gobi_strdup(ev->from);
    }
}


/*
 * The whole remote tree from the manifest, page by page: clone, or history
 * expired.  Each page is consistent as of its own seq; the target is the
 * first page's, so the events after it (replayed by the next sync) cover
 * whatever changed while the later pages were read.
 */
static int
gobi_pull_manifest(gobi_sync_t *s, gobi_remote_t *r)
{
    yajl_val         root, *items;
    gobi_file_t      f;
    gobi_base_t     *base;
    gobi_rchange_t  *ch;
    const char      *next;
    char            *after;
    int64_t          seq;
    size_t           i, n, nbase;
    int              rc;

    after = NULL;

    for ( ;; ) {
        rc = gobi_api_manifest(s->http, s->server, s->vault, after, &root);
        if (rc != 0) {
            free(after);
            return rc;
        }

        if (gobi_json_int(root, "seq", &seq) != 0 || seq < 0) {
            rc = gobi_error(GOBI_EXIT_SERVER, "the server's file list has "
                            "no seq");
            goto failed;
        }

        if (after == NULL) {
            r->target = seq;
        }

        n = gobi_json_array(root, "files", &items);

        for (i = 0; i < n; i++) {
            if (gobi_api_file(items[i], &f) != 0) {
                rc = gobi_error(GOBI_EXIT_SERVER, "bad file entry in the "
                                "server's file list");
                goto failed;
            }

            if (f.deleted || gobi_path_check(f.path, strlen(f.path)) != NULL)
            {
                continue;
            }

            ch = gobi_remote_set(r, f.path);
            ch->exists = 1;
            ch->version = f.version;
            ch->size = f.size;
            ch->mtime = f.mtime;
            memcpy(ch->hash, f.hash, sizeof(ch->hash));
        }

        /* a cursor that does not move on would page forever */

        next = gobi_json_str(root, "next");

        if (next == NULL) {
            break;
        }

        if (n == 0 || (after && strcmp(next, after) <= 0)) {
            rc = gobi_error(GOBI_EXIT_SERVER, "the server's file list "
                            "pages do not move on");
            goto failed;
        }

        free(after);
        after = gobi_strdup(next);
        yajl_tree_free(root);
    }

    yajl_tree_free(root);
    free(after);

    /* what we have and the server no longer has: deleted */
    rc = gobi_state_base_all(s->st, &base, &nbase);
    if (rc != 0) {
        return rc;
    }

    for (i = 0; i < nbase; i++) {
        if (gobi_map_get(&r->map, base[i].path) == NULL) {
            ch = gobi_remote_set(r, base[i].path);
            ch->exists = 0;
            ch->version = r->target > base[i].version ? r->target
                                                       : base[i].version + 1;
        }
    }

    gobi_state_base_free(base, nbase);

    return 0;

failed:

    yajl_tree_free(root);
    free(after);

    return rc;
}


static int
gobi_pull_events(gobi_sync_t *s, gobi_remote_t *r, int *expired)
{
    yajl_val       root, *items;
    gobi_event_t   ev;
    int64_t        since, head, last;
    size_t         i, n;
    int            rc, more;

    since = s->cursor;
    r->target = since;

    for ( ;; ) {
        rc = gobi_api_events(s->http, s->server, s->vault, since,
                             GOBI_EVENTS_PAGE, &root, expired);
        if (rc != 0 || *expired) {
            return rc;
        }

        n = gobi_json_array(root, "events", &items);
        last = since;

        for (i = 0; i < n; i++) {
            if (gobi_api_event(items[i], &ev) != 0) {
                yajl_tree_free(root);
                return gobi_error(GOBI_EXIT_SERVER, "bad event from the "
                                  "server");
            }

            if (ev.seq <= s->cursor) {
                continue;
            }

            gobi_remote_event(r, &ev);

            if (ev.seq > last) {
                last = ev.seq;
            }
        }

        head = 0;
        gobi_json_int(root, "head_seq", &head);
        more = gobi_json_bool(root, "more");

        yajl_tree_free(root);

        if (last > r->target) {
            r->target = last;
        }

        if (!more) {
            if (head > r->target) {
                r->target = head;
            }

            return 0;
        }

        if (last <= since) {
            return gobi_error(GOBI_EXIT_SERVER, "the server says there are "
                              "more events but sent none after %lld",
                              (long long) since);
        }

        since = last;
    }
}


/* at most this many offered events wait for a pull: past it, ask */
#define GOBI_OFFER_MAX  4096


void
gobi_sync_offer(gobi_sync_t *s, const gobi_event_t *ev, size_t n)
{
    size_t           i;
    int64_t          last;
    gobi_event_t    *e;
    gobi_offered_t  *o;

    o = &s->offered;

    for (i = 0; i < n; i++) {
        last = o->n ? o->ev[o->n - 1].seq : s->cursor;

        if (ev[i].seq <= last) {
            continue;
        }

        if (ev[i].seq != last + 1 || o->n == GOBI_OFFER_MAX) {
            o->gap = 1;
            return;
        }

        if (o->n == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 16;
            o->ev = gobi_realloc(o->ev, o->cap * sizeof(gobi_event_t));
        }

        e = &o->ev[o->n++];
        *e = ev[i];
        e->path = gobi_strdup(ev[i].path);
        e->from = ev[i].from ? gobi_strdup(ev[i].from) : NULL;
        e->device = ev[i].device ? gobi_strdup(ev[i].device) : NULL;
    }
}


void
gobi_sync_offer_gap(gobi_sync_t *s)
{
    s->offered.gap = 1;
}


void
gobi_sync_offer_clear(gobi_sync_t *s)
{
    size_t           i;
    gobi_offered_t  *o;

    o = &s->offered;

    for (i = 0; i < o->n; i++) {
        free((char *) o->ev[i].path);
        free((char *) o->ev[i].from);
        free((char *) o->ev[i].device);
    }

    free(o->ev);
    memset(o, 0, sizeof(gobi_offered_t));
}


/*
 * The offered events, when they are every one since the cursor: the
 * server's log need not be read (one round trip less per live change).
 */
static int
gobi_pull_offered(gobi_sync_t *s, gobi_remote_t *r)
{
    size_t           i;
    gobi_offered_t  *o;

    o = &s->offered;

    for (i = 0; i < o->n && o->ev[i].seq <= s->cursor; i++) {
        /* applied by an earlier pull */
    }

    if (o->gap || i == o->n || o->ev[i].seq != s->cursor + 1) {
        return 0;
    }

    for ( /* void */ ; i < o->n; i++) {
        gobi_remote_event(r, &o->ev[i]);
    }

    r->target = o->ev[o->n - 1].seq;

    return 1;
}


/* a remote change at a path that is, or goes through, a link here */
static void
gobi_pull_refuse(gobi_sync_t *s, gobi_rchange_t *ch, const char *what)
{
    size_t  len;

    len = gobi_beneath_link(s->rootfd, ch->path);

    if (len) {
        gobi_warn("not applied: \"%s\" %s on the server, but \"%.*s\" is a "
                  "symbolic link here (gobi does not follow links)",
                  ch->path, what, (int) len, ch->path);

    } else {
        gobi_warn("not applied: \"%s\" %s on the server, but a folder on "
                  "its path was a symbolic link here (gobi does not follow "
                  "links)", ch->path, what);
    }

    s->stats.skipped++;
    ch->done = 1;
}


/* a rename event whose source we have unchanged: move it locally */
static int
gobi_pull_rename(gobi_sync_t *s, gobi_remote_t *r, gobi_rchange_t *ch)
{
    gobi_local_t     lf, lp;
    gobi_rchange_t  *src;
    gobi_base_t      b;
    int              rc;

    if (gobi_ignore_path(s->ign, ch->path)
        || gobi_ignore_path(s->ign, ch->from))
    {
        return 0;
    }

    rc = gobi_local_get(s, ch->from, &lf);
    if (rc != 0) {
        return rc;
    }

    if (lf.state != GOBI_L_UNCHANGED || strcmp(lf.hash, ch->hash) != 0) {
        return 0;
    }

    rc = gobi_local_get(s, ch->path, &lp);
    if (rc != 0) {
        return rc;
    }

    if (lp.state != GOBI_L_ABSENT) {
        /* a link there: the download refuses it */
        return 0;
    }

    if (gobi_beneath_mkparents(s->rootfd, ch->path, 0777) != 0) {
        if (errno == ELOOP) {
            return 0;
        }

        return gobi_error(gobi_errno_exit(errno), "cannot create the folder "
                          "of \"%s\": %s", ch->path, strerror(errno));
    }

    if (gobi_beneath_rename(s->rootfd, ch->from, ch->path, RENAME_NOREPLACE)
        != 0)
    {
        /* a race with the user: leave it to the download */
        return 0;
    }

    b = lf.base;
    b.path = ch->path;
    b.version = ch->version;
    b.mtime = ch->mtime;

    rc = gobi_sync_base_del(s, ch->from);
    if (rc == 0) {
        rc = gobi_sync_base_put(s, &b);
    }

    if (rc != 0) {
        return rc;
    }

    s->dirty_files++;
    gobi_local_prune_dirs(s, ch->from);

    ch->done = 1;

    src = gobi_map_get(&r->map, ch->from);
    if (src && !src->exists) {
        src->done = 1;
    }

    s->stats.renamed_local++;
    gobi_out_v("renamed %s -> %s", ch->from, ch->path);

    return 0;
}


static int
gobi_pull_delete(gobi_sync_t *s, gobi_rchange_t *ch)
{
    gobi_local_t        l;
    gobi_scan_entry_t   e;
    int                 rc;

    if (gobi_ignore_path(s->ign, ch->path)) {
        return 0;
    }

    rc = gobi_local_get(s, ch->path, &l);
    if (rc != 0) {
        return rc;
    }

    if (!l.has_base || l.base.version >= ch->version) {
        return 0;
    }

    if (l.link) {
        /* what is there is not ours: the base row goes, the file stays */
        gobi_pull_refuse(s, ch, "was deleted");
        return gobi_sync_base_del(s, ch->path);
    }

    switch (l.state) {

    case GOBI_L_UNCHANGED:
        /* unlink only what we compared: a file changed since is kept */
        if (gobi_scan_stat(s->rootfd, ch->path, &e) == 1
            && gobi_local_same(&e, &l.stat))
        {
            if (gobi_beneath_unlink(s->rootfd, ch->path, 0) != 0
                && errno != ENOENT)
            {
                if (errno == ELOOP) {
                    gobi_pull_refuse(s, ch, "was deleted");
                    return gobi_sync_base_del(s, ch->path);
                }

                return gobi_error(gobi_errno_exit(errno), "cannot delete "
                                  "\"%s\": %s", ch->path, strerror(errno));
            }

            gobi_local_prune_dirs(s, ch->path);
            s->stats.deleted_local++;
            gobi_out_v("deleted %s", ch->path);

        } else {
            gobi_warn("\"%s\" was deleted on the server but changed here: "
                      "keeping it", ch->path);
        }

        break;

    case GOBI_L_CHANGED:
        gobi_warn("\"%s\" was deleted on the server but changed here: "
                  "keeping it", ch->path);
        break;

    default:
        break;
    }

    return gobi_sync_base_del(s, ch->path);
}


static void
gobi_dl_free(gobi_dl_t *dl)
{
    if (dl->fd >= 0) {
        close(dl->fd);
    }

    if (dl->tmp) {
        gobi_beneath_unlink(dl->s->rootfd, dl->tmp, 0);
        free(dl->tmp);
    }

    free(dl);
}


static int
gobi_dl_place(gobi_dl_t *dl, int64_t version, const char *hash,
    int64_t size)
{
    gobi_sync_t        *s;
    gobi_rchange_t     *ch;
    gobi_scan_entry_t   now;
    gobi_base_t         b;
    struct timespec     ts[2];
    struct stat         st;
    char                cur[GOBI_HASH_HEX_LEN + 1];
    int                 rc, n, exists;

    s = dl->s;
    ch = dl->ch;

    if (ch->mtime > 0) {
        ts[0].tv_sec = 0;
        ts[0].tv_nsec = UTIME_OMIT;
        ts[1].tv_sec = ch->mtime / 1000;
        ts[1].tv_nsec = (ch->mtime % 1000) * 1000000;

        if (futimens(dl->fd, ts) != 0) {
            return gobi_error(gobi_errno_exit(errno), "cannot set the time "
                              "of \"%s\": %s", ch->path, strerror(errno));
        }
    }

    if (fchmod(dl->fd, gobi_file_mode) != 0 || fstat(dl->fd, &st) != 0) {
        return gobi_error(gobi_errno_exit(errno), "cannot write \"%s\": %s",
                          ch->path, strerror(errno));
    }

    if (gobi_beneath_mkparents(s->rootfd, ch->path, 0777) != 0) {
        if (errno == ELOOP) {
            dl->refused = 1;
            return 0;
        }

        return gobi_error(gobi_errno_exit(errno), "cannot create the folder "
                          "of \"%s\": %s", ch->path, strerror(errno));
    }

    for (n = 0; n < 5; n++) {
        exists = gobi_scan_stat(s->rootfd, ch->path, &now);
        if (exists < 0) {
            return gobi_error_code();
        }

        if (!exists) {
            if (dl->l0.state == GOBI_L_OTHER) {
                return 0;
            }

            if (gobi_beneath_rename(s->rootfd, dl->tmp, ch->path,
                                    RENAME_NOREPLACE) == 0)
            {
                break;
            }

            if (errno == ELOOP || (errno == EEXIST
                                   && gobi_beneath_link(s->rootfd, ch->path)))
            {
                dl->refused = 1;
                return 0;
            }

            if (errno == EEXIST) {
                continue;
            }

            return gobi_error(gobi_errno_exit(errno), "cannot write \"%s\": "
                              "%s", ch->path, strerror(errno));
        }

        if (dl->l0.state == GOBI_L_UNCHANGED
            && gobi_local_same(&now, &dl->l0.stat))
        {
            /* still the version the base knows: replace it */
            if (gobi_beneath_rename(s->rootfd, dl->tmp, ch->path, 0) != 0) {
                if (errno == ELOOP) {
                    dl->refused = 1;
                    return 0;
                }

                return gobi_error(gobi_errno_exit(errno), "cannot write "
                                  "\"%s\": %s", ch->path, strerror(errno));
            }

            break;
        }

        /* changed here since the base: same content, or a conflict */
        rc = gobi_local_hash(s, ch->path, &now, cur);

        if (rc != 0 && rc != GOBI_LOCAL_CHANGING) {
            return rc;
        }

        if (rc == 0 && strcmp(cur, hash) == 0) {
            b.path = ch->path;
            b.version = version;
            memcpy(b.hash, hash, sizeof(b.hash));
            b.size = size;
            b.mtime = ch->mtime;
            b.lmtime = gobi_local_lmtime(&now);
            b.ino = now.ino;

            return gobi_sync_base_put(s, &b);
        }

        rc = gobi_local_conflict_copy(s, ch->path, version, NULL);
        if (rc != 0) {
            return rc;
        }

        dl->l0.state = GOBI_L_ABSENT;
    }

    if (n == 5) {
        return gobi_error(GOBI_EXIT_ERROR, "\"%s\" keeps changing: not "
                          "replaced", ch->path);
    }

    free(dl->tmp);
    dl->tmp = NULL;
    s->dirty_files++;

    gobi_scan_from_stat(&st, &now);

    b.path = ch->path;
    b.version = version;
    memcpy(b.hash, hash, sizeof(b.hash));
    b.size = size;
    b.mtime = ch->mtime;
    b.lmtime = gobi_local_lmtime(&now);
    b.ino = now.ino;

    return gobi_sync_base_put(s, &b);
}


static void
gobi_dl_done(gobi_req_t *r)
{
    gobi_dl_t       *dl;
    gobi_sync_t     *s;
    gobi_rchange_t  *ch;
    char             got[GOBI_HASH_HEX_LEN + 1], *what;
    int64_t          version;
    const char      *hash;
    int              rc;

    dl = r->data;
    s = dl->s;
    ch = dl->ch;

    if (r->cc != CURLE_OK || r->status != 200) {
        if (r->cc == CURLE_OK && r->status == 404) {
            /* deleted since: a later event says so */
            ch->done = 1;

        } else if (s->rc == 0) {
            what = gobi_sprintf("cannot download \"%s\"", ch->path);
            s->rc = gobi_req_error(r, what);
            free(what);
        }

        goto done;
    }

    gobi_hash_final(&r->hash, got);

    version = ch->version;
    hash = ch->hash;

    if (r->etag > 0 && r->xhash[0] && r->etag != ch->version) {
        /* the server has a newer version than the event said: take it */
        version = r->etag;
        hash = r->xhash;
    }

    if (strcmp(got, hash) != 0) {
        if (s->rc == 0) {
            s->rc = gobi_error(GOBI_EXIT_SERVER, "download of \"%s\": hash "
                               "mismatch", ch->path);
        }

        goto done;
    }

    rc = gobi_dl_place(dl, version, hash, r->received);

    if (rc != 0) {
        if (s->rc == 0) {
            s->rc = rc;
        }

        goto done;
    }

    if (dl->refused) {
        /* a link appeared on the path while the bytes came */
        gobi_pull_refuse(s, ch, dl->l0.has_base ? "changed" : "was added");
        goto done;
    }

    ch->done = 1;
    s->stats.downloaded++;
    s->stats.bytes_down += r->received;
    gobi_out_v("downloaded %s", ch->path);

done:

    gobi_progress_file_done(ch->size, r->flowed);
    gobi_dl_free(dl);
    gobi_req_free(r);
}


/*
 * Nothing to fetch, by the base alone: ignored, or the base has this
 * version already (our own uploads coming back as events).  Asked before
 * the progress totals are made, so that they count real downloads only.
 */
static int
gobi_pull_current(gobi_sync_t *s, gobi_rchange_t *ch)
{
    gobi_base_t  b;
    int          rc;

    if (gobi_ignore_path(s->ign, ch->path)) {
        return 1;
    }

    rc = gobi_state_base_get(s->st, ch->path, &b);
    if (rc < 0) {
        return -1;
    }

    return rc == 1 && b.version >= ch->version;
}


static int
gobi_pull_download(gobi_sync_t *s, gobi_rchange_t *ch, int *started)
{
    gobi_local_t   l;
    gobi_base_t    b;
    gobi_dl_t     *dl;
    gobi_req_t    *r;
    int            rc;

    *started = 0;

    rc = gobi_local_get(s, ch->path, &l);
    if (rc != 0) {
        return rc;
    }

    if (l.has_base && strcmp(l.base.hash, ch->hash) == 0) {
        /* same content, a newer version (a rename back, a touch) */
        b = l.base;
        b.path = ch->path;
        b.version = ch->version;
        b.mtime = ch->mtime;
        ch->done = 1;
        return gobi_sync_base_put(s, &b);
    }

    if (l.state == GOBI_L_CHANGED && strcmp(l.hash, ch->hash) == 0) {
        /* both sides made the same change */
        b.path = ch->path;
        b.version = ch->version;
        memcpy(b.hash, ch->hash, sizeof(b.hash));
        b.size = ch->size;
        b.mtime = ch->mtime;
        b.lmtime = gobi_local_lmtime(&l.stat);
        b.ino = l.stat.ino;
        ch->done = 1;
        return gobi_sync_base_put(s, &b);
    }

    if (l.state == GOBI_L_CHANGED && s->server_resolves) {
        /*
         * Changed here and there: the push sends ours with its old base
         * and the vault's strategy decides on the server (a conflict
         * copy, a merge, the later one); what it decided comes down with
         * the next pull.  No conflict copy of our own.
         */
        ch->done = 1;
        return 0;
    }

    if (l.state == GOBI_L_OTHER && l.link) {
        gobi_pull_refuse(s, ch, l.has_base ? "changed" : "was added");
        return 0;
    }

    if (l.state == GOBI_L_OTHER) {
        gobi_warn("\"%s\" is a file on the server but not here: skipped",
                  ch->path);
        ch->done = 1;
        return 0;
    }

    dl = gobi_calloc(sizeof(gobi_dl_t));
    dl->s = s;
    dl->ch = ch;
    dl->l0 = l;
    dl->fd = gobi_local_tmpfile(s, &dl->tmp);

    if (dl->fd < 0) {
        free(dl);
        return gobi_error_code();
    }

    r = gobi_req_new("GET", gobi_api_file_url(s->server, s->vault,
                                              ch->path));
    r->out_fd = dl->fd;
    r->handler = gobi_dl_done;
    r->data = dl;
    r->flow = gobi_progress_bytes;
    *started = 1;

    gobi_http_start(s->http, r);

    return 0;
}


/*
 * Does the server decide conflicts for this vault (any strategy but
 * server-wins)?  Asked once per run; an older server, or one that cannot
 * be asked now, leaves conflict copies to the client.
 */
static void
gobi_pull_strategy(gobi_sync_t *s)
{
    yajl_val      root, *items;
    const char   *name, *strategy;
    size_t        i, n;

    if (s->strategy_known || gobi_api_vault_list(s->http, s->server, &root)
                             != 0)
    {
        /* not asked again, or not now: the pull says what is wrong */
        return;
    }

    s->strategy_known = 1;
    n = gobi_json_array(root, "vaults", &items);

    for (i = 0; i < n; i++) {
        name = gobi_json_str(items[i], "name");
        strategy = gobi_json_str(items[i], "conflict_strategy");

        if (name && strcmp(name, s->vault) == 0) {
            s->server_resolves = strategy != NULL
                                 && strcmp(strategy, "server-wins") != 0;
        }
    }

    yajl_tree_free(root);
}


int
gobi_sync_pull(gobi_sync_t *s)
{
    gobi_remote_t     r;
    gobi_rchange_t   *ch;
    size_t            i, ndl;
    mode_t            mask;
    int               rc, expired, inflight, started;

    memset(&r, 0, sizeof(gobi_remote_t));
    gobi_map_init(&r.map);

    mask = umask(0);
    umask(mask);
    gobi_file_mode = 0666 & ~mask;

    expired = 0;

    gobi_pull_strategy(s);

    if (s->cursor > 0 && !gobi_pull_offered(s, &r)) {
        rc = gobi_pull_events(s, &r, &expired);
        if (rc != 0) {
            goto done;
        }

        if (expired) {
            gobi_warn("the server no longer has the history since our last "
                      "sync: comparing every file");
            gobi_remote_free(&r);
            memset(&r, 0, sizeof(gobi_remote_t));
            gobi_map_init(&r.map);
        }
    }

    if (s->cursor == 0 || expired) {
        rc = gobi_pull_manifest(s, &r);
        if (rc != 0) {
            goto done;
        }
    }

    if (r.n > 1) {
        qsort(r.list, r.n, sizeof(gobi_rchange_t *), gobi_remote_cmp);
    }

    s->rc = 0;

    /* renames first, while their sources are there */
    for (i = 0; i < r.n; i++) {
        ch = r.list[i];

        if (ch->exists && ch->from) {
            rc = gobi_pull_rename(s, &r, ch);
            if (rc != 0) {
                goto done;
            }
        }
    }

    /* then deletions, so that paths are free for what comes */
    for (i = 0; i < r.n; i++) {
        ch = r.list[i];

        if (!ch->exists && !ch->done) {
            rc = gobi_pull_delete(s, ch);
            if (rc != 0) {
                goto done;
            }

            ch->done = 1;
        }
    }

    ndl = 0;

    for (i = 0; i < r.n; i++) {
        ch = r.list[i];

        if (!ch->exists || ch->done) {
            continue;
        }

        rc = gobi_pull_current(s, ch);
        if (rc < 0) {
            rc = gobi_error_code();
            goto done;
        }

        if (rc == 1) {
            ch->done = 1;
            continue;
        }

        ndl++;
        r.bytes += ch->size;
    }

    if (ndl) {
        gobi_progress_start(s->cursor == 0 ? "clone" : "download",
                            (int64_t) ndl, r.bytes);
    }

    inflight = gobi_opts.jobs * 2;

    for (i = 0; i < r.n && s->rc == 0; i++) {
        ch = r.list[i];

        if (!ch->exists || ch->done) {
            continue;
        }

        while (gobi_http_pending(s->http) >= inflight) {
            gobi_http_step(s->http, NULL, 0, 1000);
        }

        rc = gobi_pull_download(s, ch, &started);
        if (rc != 0) {
            gobi_http_wait(s->http);
            goto done;
        }

        if (!started) {
            /* nothing to fetch after all: done for the count */
            gobi_progress_file_done(ch->size, 0);
        }
    }

    gobi_http_wait(s->http);

    rc = s->rc;

    if (rc == 0) {
        for (i = 0; i < r.n; i++) {
            if (!r.list[i]->done) {
                rc = gobi_error(GOBI_EXIT_ERROR, "\"%s\" could not be "
                                "updated", r.list[i]->path);
                break;
            }
        }
    }

    if (rc == 0 && r.target != s->cursor) {
        rc = 0;

        if (s->batch == 0) {
            rc = gobi_state_begin(s->st);
        }

        if (rc == 0) {
            s->batch++;
            rc = gobi_state_meta_set_int(s->st, "cursor", r.target);
        }

        if (rc == 0) {
            s->cursor = r.target;
        }
    }

done:

    /* applied, or read again from the log by the next pull */
    gobi_sync_offer_clear(s);

    gobi_progress_end();

    if (gobi_sync_flush(s) != 0 && rc == 0) {
        rc = gobi_error_code();
    }

    gobi_remote_free(&r);

    return rc;
}
