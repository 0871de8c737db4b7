
/*
 * Copyright (C) the gobi authors
 *
 * History: a file's versions, the trash, and restores (a version of one
 * file, or the whole vault as of a seq).  A restore is an ordinary write
 * of old content: every device gets it as a create or modify event.
 */


#include "ngx_http_gobi_module.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>


#define NGX_HTTP_GOBI_HISTORY_LIMIT   100
#define NGX_HTTP_GOBI_HISTORY_MAX     1000
#define NGX_HTTP_GOBI_RESTORE_PAGE    1000


/* ?before= (versions), ?after= (trash), ?limit= */

ngx_int_t
ngx_http_gobi_history_args(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    job->since = 0;
    job->limit = NGX_HTTP_GOBI_HISTORY_LIMIT;

    if (ngx_http_gobi_arg_int(r, "before", &job->since) != NGX_OK) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"before\" must be a version");
        return NGX_DECLINED;
    }

    if (ngx_http_gobi_arg_int(r, "limit", &job->limit) != NGX_OK
        || job->limit < 1 || job->limit > NGX_HTTP_GOBI_HISTORY_MAX)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"limit\" must be 1-1000");
        return NGX_DECLINED;
    }

    return ngx_http_gobi_arg_path(r, job, "after", &job->after);
}


static void
ngx_http_gobi_gen_version(yajl_gen g, const gobi_version_t *v)
{
    yajl_gen_map_open(g);
    ngx_http_gobi_gen_str(g, "version");
    ngx_http_gobi_gen_int(g, v->version);
    ngx_http_gobi_gen_str(g, "hash");
    ngx_http_gobi_gen_str(g, v->hash);
    ngx_http_gobi_gen_str(g, "size");
    ngx_http_gobi_gen_int(g, v->size);
    ngx_http_gobi_gen_str(g, "mtime");
    ngx_http_gobi_gen_int(g, v->mtime);
    ngx_http_gobi_gen_str(g, "device");

    if (v->device[0]) {
        ngx_http_gobi_gen_str(g, v->device);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_gobi_gen_str(g, "ts");
    ngx_http_gobi_gen_int(g, v->ts);
    ngx_http_gobi_gen_str(g, "deleted");
    yajl_gen_bool(g, v->deleted);

    if (v->moved) {
        ngx_http_gobi_gen_str(g, "moved");
        yajl_gen_bool(g, 1);
    }

    yajl_gen_map_close(g);
}


typedef struct {
    yajl_gen   gen;
    int64_t    n;
    int64_t    last;                         /* the page's oldest */
} ngx_http_gobi_vpage_t;


static int
ngx_http_gobi_version_cb(void *data, const char *path,
    const gobi_version_t *v)
{
    ngx_http_gobi_vpage_t  *page = data;

    ngx_http_gobi_gen_version(page->gen, v);
    page->last = v->version;
    page->n++;

    return 0;
}


/* GET vaults/{vault}/versions/{path}: newest first, "next" is ?before= */

void
ngx_http_gobi_run_versions(ngx_http_gobi_job_t *job)
{
    int                     more;
    gobi_store_rc_e         rc;
    ngx_http_gobi_vpage_t   page;

    if (ngx_http_gobi_job_vault(job) != NGX_OK
        || ngx_http_gobi_job_gen(job) != NGX_OK)
    {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "path");
    ngx_http_gobi_gen_str(job->gen, job->path);
    ngx_http_gobi_gen_str(job->gen, "versions");
    yajl_gen_array_open(job->gen);

    page.gen = job->gen;
    page.n = 0;
    page.last = 0;
    more = 0;

    rc = job->gmcf->store_driver->version_list(job->store, job->vault.id,
                                               job->path, job->since,
                                               job->limit,
                                               ngx_http_gobi_version_cb,
                                               &page, &more);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (page.n == 0 && job->since == 0) {
        ngx_http_gobi_job_error(job, NGX_HTTP_NOT_FOUND, "file_not_found",
                                "no such file, nor any history of it");
        return;
    }

    yajl_gen_array_close(job->gen);
    ngx_http_gobi_gen_str(job->gen, "next");

    if (more) {
        ngx_http_gobi_gen_int(job->gen, page.last);
    } else {
        yajl_gen_null(job->gen);
    }

    yajl_gen_map_close(job->gen);
}


typedef struct {
    yajl_gen   gen;
    char      *last;                         /* GOBI_PATH_MAX + 1 bytes */
} ngx_http_gobi_tpage_t;


static int
ngx_http_gobi_trash_cb(void *data, const char *path,
    const gobi_version_t *deleted, const gobi_version_t *last)
{
    ngx_http_gobi_tpage_t  *page = data;

    yajl_gen  g = page->gen;

    yajl_gen_map_open(g);
    ngx_http_gobi_gen_str(g, "path");
    ngx_http_gobi_gen_str(g, path);

    /* what to restore: the last content */
    ngx_http_gobi_gen_str(g, "version");
    ngx_http_gobi_gen_int(g, last->version);
    ngx_http_gobi_gen_str(g, "hash");
    ngx_http_gobi_gen_str(g, last->hash);
    ngx_http_gobi_gen_str(g, "size");
    ngx_http_gobi_gen_int(g, last->size);
    ngx_http_gobi_gen_str(g, "mtime");
    ngx_http_gobi_gen_int(g, last->mtime);

    /* and when and by whom it was deleted */
    ngx_http_gobi_gen_str(g, "deleted_version");
    ngx_http_gobi_gen_int(g, deleted->version);
    ngx_http_gobi_gen_str(g, "deleted_at");
    ngx_http_gobi_gen_int(g, deleted->ts);
    ngx_http_gobi_gen_str(g, "device");

    if (deleted->device[0]) {
        ngx_http_gobi_gen_str(g, deleted->device);
    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);

    (void) ngx_cpystrn((u_char *) page->last, (u_char *) path,
                       GOBI_PATH_MAX + 1);

    return 0;
}


/* GET vaults/{vault}/trash: by path, "next" is ?after= */

void
ngx_http_gobi_run_trash(ngx_http_gobi_job_t *job)
{
    int                     more;
    char                    last[GOBI_PATH_MAX + 1];
    gobi_store_rc_e         rc;
    ngx_http_gobi_tpage_t   page;

    if (ngx_http_gobi_job_vault(job) != NGX_OK
        || ngx_http_gobi_job_gen(job) != NGX_OK)
    {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "trash");
    yajl_gen_array_open(job->gen);

    page.gen = job->gen;
    page.last = last;
    last[0] = '\0';
    more = 0;

    rc = job->gmcf->store_driver->trash_list(job->store, job->vault.id,
                                             job->after, job->limit,
                                             ngx_http_gobi_trash_cb, &page,
                                             &more);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    yajl_gen_array_close(job->gen);
    ngx_http_gobi_gen_str(job->gen, "retention");
    ngx_http_gobi_gen_int(job->gen, (int64_t) job->gmcf->trash_retention);
    ngx_http_gobi_gen_str(job->gen, "next");

    if (more) {
        ngx_http_gobi_gen_str(job->gen, last);
    } else {
        yajl_gen_null(job->gen);
    }

    yajl_gen_map_close(job->gen);
}


/* restores -------------------------------------------------------------- */


/* {"path": "...", "version": N} or {"seq": N} */

ngx_int_t
ngx_http_gobi_restore_check(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    size_t       len;
    char        *path;
    yajl_val     seq, version, p;
    ngx_int_t    rc;
    const char  *err;

    static const char  *seq_path[] = { "seq", NULL };
    static const char  *version_path[] = { "version", NULL };
    static const char  *path_path[] = { "path", NULL };

    seq = yajl_tree_get(json, seq_path, yajl_t_any);
    version = yajl_tree_get(json, version_path, yajl_t_any);
    p = yajl_tree_get(json, path_path, yajl_t_any);

    if (seq != NULL) {
        if (p != NULL || version != NULL || !YAJL_IS_INTEGER(seq)
            || YAJL_GET_INTEGER(seq) < 0)
        {
            ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "a restore takes {\"seq\": N} (N >= 0) "
                                    "or {\"path\", \"version\"}");
            return NGX_DECLINED;
        }

        job->restore_seq = YAJL_GET_INTEGER(seq);
        job->version = 0;

        rc = ngx_http_gobi_device(r, job);

        return rc;
    }

    if (version == NULL || !YAJL_IS_INTEGER(version)
        || YAJL_GET_INTEGER(version) < 1)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"version\" must be a positive integer");
        return NGX_DECLINED;
    }

    if (ngx_http_gobi_json_str(job, json, "path", &path, &len) != NGX_OK) {
        return NGX_DECLINED;
    }

    err = gobi_path_check(path, len);
    if (err) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "invalid_path",
                                "%s", err);
        return NGX_DECLINED;
    }

    job->path = path;
    job->version = YAJL_GET_INTEGER(version);
    job->restore_seq = -1;

    return ngx_http_gobi_device(r, job);
}


/* one path back to v (NULL: to not existing); counts what it did */

typedef struct {
    int64_t   restored;
    int64_t   deleted;
    int64_t   unchanged;
} ngx_http_gobi_restored_t;


static gobi_store_rc_e
ngx_http_gobi_restore_path(ngx_http_gobi_job_t *job, const char *path,
    const gobi_version_t *v, gobi_event_t *ev, gobi_file_t *cur,
    ngx_http_gobi_restored_t *n)
{
    gobi_write_t     w;
    gobi_store_rc_e  rc;

    ngx_memzero(&w, sizeof(gobi_write_t));
    w.path = path;
    w.base_version = GOBI_BASE_ANY;
    w.device = job->device;
    w.now = job->now;

    if (v == NULL || v->deleted) {
        w.type = GOBI_EV_DELETE;
        w.hash = "";

    } else {
        /* new content to every device: it is dated now */
        w.type = GOBI_EV_MODIFY;
        w.hash = v->hash;
        w.size = v->size;
        w.mtime = job->now;
    }

    rc = job->gmcf->store_driver->write(job->store, job->vault.id, &w, ev,
                                        cur);

    switch (rc) {

    case GOBI_STORE_OK:
        if (w.type == GOBI_EV_DELETE) {
            n->deleted++;
        } else {
            n->restored++;
        }

        job->publish = ev->seq;
        return GOBI_STORE_OK;

    case GOBI_STORE_UNCHANGED:
    case GOBI_STORE_NOT_FOUND:              /* deleted already */
        n->unchanged++;
        return GOBI_STORE_OK;

    default:
        return rc;
    }
}


/* the blob of a version must still be there to be restored */

static int
ngx_http_gobi_restorable(ngx_http_gobi_job_t *job, const gobi_version_t *v)
{
    char     err[256];
    int64_t  size;

    if (v == NULL || v->deleted) {
        return 1;
    }

    /* a target that cannot tell: not restorable now */
    return gobi_blob_stat(job->blob, job->vault.id, v->hash, &size, err,
                          sizeof(err)) == 1;
}


typedef struct {
    size_t            n;
    char             *paths[NGX_HTTP_GOBI_RESTORE_PAGE];
    gobi_version_t    v[NGX_HTTP_GOBI_RESTORE_PAGE];
    unsigned char     none[NGX_HTTP_GOBI_RESTORE_PAGE];
    int               nomem;
} ngx_http_gobi_at_page_t;


static int
ngx_http_gobi_at_cb(void *data, const char *path, const gobi_version_t *v)
{
    ngx_http_gobi_at_page_t  *page = data;

    if (page->n == NGX_HTTP_GOBI_RESTORE_PAGE) {
        return 1;
    }

    page->paths[page->n] = strdup(path);
    if (page->paths[page->n] == NULL) {
        page->nomem = 1;
        return 1;
    }

    page->none[page->n] = (v == NULL);

    if (v) {
        page->v[page->n] = *v;
    }

    page->n++;

    return 0;
}


static void
ngx_http_gobi_at_page_free(ngx_http_gobi_at_page_t *page)
{
    size_t  i;

    for (i = 0; i < page->n; i++) {
        free(page->paths[i]);
    }

    page->n = 0;
}


/*
 * The whole vault back to seq: a page of changed paths at a time (their
 * state as of seq is read before any of them is written; the writes only
 * add versions above seq, which the next page's question does not see).
 */

static void
ngx_http_gobi_restore_seq(ngx_http_gobi_job_t *job,
    ngx_http_gobi_restored_t *n)
{
    int                       more;
    char                     *after;
    size_t                    i;
    gobi_file_t               cur;
    gobi_event_t              ev;
    gobi_store_rc_e           rc;
    ngx_http_gobi_at_page_t  *page;

    if (job->restore_seq > job->vault.head_seq) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "seq %lld is beyond the vault's head %lld",
                                (long long) job->restore_seq,
                                (long long) job->vault.head_seq);
        return;
    }

    page = calloc(1, sizeof(ngx_http_gobi_at_page_t));
    if (page == NULL) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "out of memory");
        return;
    }

    after = NULL;
    rc = GOBI_STORE_OK;

    for ( ;; ) {
        more = 0;

        rc = job->gmcf->store_driver->versions_at(job->store, job->vault.id,
                                                  job->restore_seq, after,
                                                  NGX_HTTP_GOBI_RESTORE_PAGE,
                                                  ngx_http_gobi_at_cb, page,
                                                  &more);
        free(after);
        after = NULL;

        if (rc != GOBI_STORE_OK || page->nomem) {
            break;
        }

        for (i = 0; i < page->n; i++) {
            if (!page->none[i] && !ngx_http_gobi_restorable(job, &page->v[i]))
            {
                /* its bytes went with retention: the newest kept stays */
                n->unchanged++;
                continue;
            }

            ngx_memzero(&cur, sizeof(gobi_file_t));

            rc = ngx_http_gobi_restore_path(job, page->paths[i],
                                            page->none[i] ? NULL
                                                          : &page->v[i],
                                            &ev, &cur, n);
            if (rc != GOBI_STORE_OK) {
                break;
            }
        }

        if (rc != GOBI_STORE_OK || !more || page->n == 0) {
            break;
        }

        after = page->paths[page->n - 1];
        page->paths[page->n - 1] = NULL;
        ngx_http_gobi_at_page_free(page);
    }

    ngx_http_gobi_at_page_free(page);

    if (page->nomem) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "out of memory");

    } else if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
    }

    free(page);
}


/* POST vaults/{vault}/restore */

void
ngx_http_gobi_run_restore(ngx_http_gobi_job_t *job)
{
    gobi_file_t               cur;
    gobi_event_t              ev;
    gobi_version_t            v;
    gobi_store_rc_e           rc;
    ngx_http_gobi_restored_t  n;

    if (ngx_http_gobi_job_vault(job) != NGX_OK) {
        return;
    }

    ngx_memzero(&n, sizeof(n));
    ngx_memzero(&ev, sizeof(gobi_event_t));

    if (job->restore_seq >= 0) {
        ngx_http_gobi_restore_seq(job, &n);

    } else {
        rc = job->gmcf->store_driver->version_get(job->store, job->vault.id,
                                                  job->path, job->version,
                                                  &v);

        if (rc == GOBI_STORE_NOT_FOUND || (rc == GOBI_STORE_OK && v.deleted)
            || (rc == GOBI_STORE_OK && !ngx_http_gobi_restorable(job, &v)))
        {
            ngx_http_gobi_job_error(job, NGX_HTTP_NOT_FOUND,
                                    "version_not_found",
                                    "no version %lld of this file to "
                                    "restore (never was, a deletion, or "
                                    "thinned by retention)",
                                    (long long) job->version);
            return;
        }

        if (rc != GOBI_STORE_OK) {
            ngx_http_gobi_job_store_error(job, rc);
            return;
        }

        ngx_memzero(&cur, sizeof(gobi_file_t));

        rc = ngx_http_gobi_restore_path(job, job->path, &v, &ev, &cur, &n);
        if (rc != GOBI_STORE_OK) {
            ngx_http_gobi_job_store_error(job, rc);
            return;
        }

        if (n.unchanged) {
            /* it is the current content already */
            ev.seq = cur.version;
            ev.version = cur.version;
            ngx_memcpy(ev.hash, cur.hash, sizeof(ev.hash));
            ev.size = cur.size;
            ev.mtime = cur.mtime;
        }
    }

    if (job->code || ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    yajl_gen_map_open(job->gen);

    if (job->restore_seq >= 0) {
        ngx_http_gobi_gen_str(job->gen, "restored_to");
        ngx_http_gobi_gen_int(job->gen, job->restore_seq);
        ngx_http_gobi_gen_str(job->gen, "restored");
        ngx_http_gobi_gen_int(job->gen, n.restored);
        ngx_http_gobi_gen_str(job->gen, "deleted");
        ngx_http_gobi_gen_int(job->gen, n.deleted);
        ngx_http_gobi_gen_str(job->gen, "unchanged");
        ngx_http_gobi_gen_int(job->gen, n.unchanged);
        ngx_http_gobi_gen_str(job->gen, "seq");
        ngx_http_gobi_gen_int(job->gen, job->publish ? job->publish
                                                     : job->vault.head_seq);

    } else {
        ngx_http_gobi_gen_str(job->gen, "path");
        ngx_http_gobi_gen_str(job->gen, job->path);
        ngx_http_gobi_gen_str(job->gen, "version");
        ngx_http_gobi_gen_int(job->gen, ev.version);
        ngx_http_gobi_gen_str(job->gen, "hash");
        ngx_http_gobi_gen_str(job->gen, ev.hash);
        ngx_http_gobi_gen_str(job->gen, "size");
        ngx_http_gobi_gen_int(job->gen, ev.size);
        ngx_http_gobi_gen_str(job->gen, "mtime");
        ngx_http_gobi_gen_int(job->gen, ev.mtime);
        ngx_http_gobi_gen_str(job->gen, "seq");
        ngx_http_gobi_gen_int(job->gen, ev.seq);
        ngx_http_gobi_gen_str(job->gen, "restored_from");
        ngx_http_gobi_gen_int(job->gen, job->version);
        ngx_http_gobi_gen_str(job->gen, "unchanged");
        yajl_gen_bool(job->gen, n.unchanged != 0);
    }

    yajl_gen_map_close(job->gen);
}


ngx_int_t
ngx_http_gobi_restore_done(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    if (job->publish) {
        ngx_http_gobi_bus_publish(job->vault.id, job->publish);
    }

    return ngx_http_gobi_send_job(r, job);
}
