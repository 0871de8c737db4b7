
/*
 * Copyright (C) the gobi authors
 *
 * Stale writes under the vault's conflict strategy, and the mass-delete
 * guard.  What to do is lib/gobi_strategy.c's decision; doing it is here,
 * in the thread of the write that was refused, through the store and
 * storage drivers, so that every driver gets the same behaviour.
 */


#include "ngx_http_gobi_module.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gobi_hash.h"
#include "gobi_merge.h"
#include "gobi_strategy.h"


#define NGX_HTTP_GOBI_RESOLVE_TRIES   5    /* the state moved meanwhile */
#define NGX_HTTP_GOBI_COPY_NAMES      20   /* "... (conflict d t n)" */
#define NGX_HTTP_GOBI_COPY_LOOKBACK   30   /* s: a retry finds its copy */
#define NGX_HTTP_GOBI_MASS_WINDOW     (5 * 60 * 1000)
#define NGX_HTTP_GOBI_MASS_MIN        20


/* a conflict copy's time: UTC, "yyyy-mm-dd hhmmss" */

static void
ngx_http_gobi_copy_date(time_t t, char *date, size_t size)
{
    struct tm  tm;

    if (gmtime_r(&t, &tm) == NULL
        || strftime(date, size, "%Y-%m-%d %H%M%S", &tm) == 0)
    {
        snprintf(date, size, "%lld", (long long) t);
    }
}


/*
 * The conflict copy: the incoming bytes, already stored as a blob, under
 * a free name beside the file.  The device goes into the name: a '/' in
 * it would make a folder, it becomes '_'.
 */

static gobi_store_rc_e
ngx_http_gobi_resolve_copy(ngx_http_gobi_job_t *job, const gobi_write_t *w)
{
    int               n;
    char              date[32], device[GOBI_HEADER_DEVICE_MAX + 1], *p;
    time_t            t, back;
    gobi_write_t      cw;
    gobi_file_t       cur;
    gobi_event_t      ev;
    gobi_store_rc_e   rc;

    t = (time_t) (job->now / 1000);

    ngx_cpystrn((u_char *) device,
                (u_char *) (w->device ? w->device : "unknown"),
                sizeof(device));

    for (p = device; *p; p++) {
        if (*p == '/') {
            *p = '_';
        }
    }

    /*
     * A retried upload finds the copy its first try made: that one may be
     * named a few seconds earlier (reads only; this is the conflict path).
     */

    for (back = NGX_HTTP_GOBI_COPY_LOOKBACK; back > 0; back--) {
        ngx_http_gobi_copy_date(t - back, date, sizeof(date));

        if (gobi_conflict_name(job->copy_path, sizeof(job->copy_path),
                               w->path, device, date, 1) == 0)
        {
            break;
        }

        ngx_memzero(&cur, sizeof(gobi_file_t));

        rc = job->gmcf->store_driver->file_get(job->store, job->vault.id,
                                               job->copy_path, &cur);

        if (rc == GOBI_STORE_OK && !cur.deleted
            && ngx_strcmp(cur.hash, w->hash) == 0)
        {
            job->resolved = GOBI_RESOLVE_COPY;
            job->copy_version = cur.version;
            return GOBI_STORE_OK;
        }

        if (rc != GOBI_STORE_OK && rc != GOBI_STORE_NOT_FOUND) {
            return rc;
        }
    }

    ngx_http_gobi_copy_date(t, date, sizeof(date));

    cw = *w;
    cw.type = GOBI_EV_MODIFY;
    cw.base_version = 0;
    cw.path = job->copy_path;

    for (n = 1; n <= NGX_HTTP_GOBI_COPY_NAMES; n++) {

        if (gobi_conflict_name(job->copy_path, sizeof(job->copy_path),
                               w->path, device, date, n) == 0
            || gobi_path_check(job->copy_path, ngx_strlen(job->copy_path))
               != NULL)
        {
            break;
        }

        ngx_memzero(&cur, sizeof(gobi_file_t));

        rc = job->gmcf->store_driver->write(job->store, job->vault.id, &cw,
                                            &ev, &cur);

        switch (rc) {

        case GOBI_STORE_OK:
            job->resolved = GOBI_RESOLVE_COPY;
            job->copy_version = ev.version;
            job->publish = ev.seq;
            return GOBI_STORE_OK;

        case GOBI_STORE_CONFLICT:
        case GOBI_STORE_EXISTS:
            if (!cur.deleted && ngx_strcmp(cur.hash, w->hash) == 0) {
                /* this very copy was made already (a retried upload) */
                job->resolved = GOBI_RESOLVE_COPY;
                job->copy_version = cur.version;
                return GOBI_STORE_OK;
            }

            continue;                       /* the name is taken */

        default:
            return rc;
        }
    }

    ngx_http_gobi_job_error(job, NGX_HTTP_CONFLICT, "version_conflict",
                            "the file changed and no name was free for a "
                            "conflict copy");

    return GOBI_STORE_ERROR;
}


/*
 * last-writer-wins and the incoming write is the older: it still becomes
 * a version (history keeps it), then the winner is written again on top.
 * A crash in between leaves the older content current: nothing is lost,
 * the next write or a restore puts it right.
 */

static gobi_store_rc_e
ngx_http_gobi_resolve_lose(ngx_http_gobi_job_t *job, const gobi_write_t *w)
{
    gobi_file_t       win, cur;
    gobi_event_t      ev;
    gobi_write_t      lw, ww;
    gobi_store_rc_e   rc;

    win = job->file;

    lw = *w;
    lw.base_version = win.version;

    ngx_memzero(&cur, sizeof(gobi_file_t));

    rc = job->gmcf->store_driver->write(job->store, job->vault.id, &lw, &ev,
                                        &cur);
    if (rc != GOBI_STORE_OK) {
        if (rc == GOBI_STORE_CONFLICT || rc == GOBI_STORE_UNCHANGED) {
            job->file = cur;
        }

        return rc;
    }

    ngx_memzero(&ww, sizeof(gobi_write_t));
    ww.path = w->path;
    ww.base_version = ev.version;
    ww.now = w->now;

    if (win.deleted) {
        ww.type = GOBI_EV_DELETE;
        ww.hash = "";

    } else {
        ww.type = GOBI_EV_MODIFY;
        ww.hash = win.hash;
        ww.size = win.size;
        ww.mtime = win.mtime;
    }

    job->publish = ev.seq;

    ngx_memzero(&cur, sizeof(gobi_file_t));

    rc = job->gmcf->store_driver->write(job->store, job->vault.id, &ww,
                                        &job->event, &cur);

    if (rc == GOBI_STORE_OK) {
        job->publish = job->event.seq;
        gobi_event_apply(&job->event, w->path, &job->file);
        job->file.path = w->path;

    } else if (rc == GOBI_STORE_CONFLICT) {
        /* a newer write came in between: it is the current one */
        job->file = cur;

    } else {
        return rc;
    }

    job->resolved = GOBI_RESOLVE_LOSE;

    return GOBI_STORE_CONFLICT;
}


/*
 * The merged bytes become a blob like an upload: through a spool (sealed
 * with the vault's key when encryption is on), handed to the targets.
 */

static int
ngx_http_gobi_merged_blob(ngx_http_gobi_job_t *job, const unsigned char *dk,
    const char *data, size_t len, char hash[GOBI_HASH_HEX_LEN + 1])
{
    int            rc;
    char           err[512];
    int64_t        size;
    gobi_spool_t   sp;

    rc = -1;

    if (gobi_spool_open(&sp, gobi_blob_tmp_dir(job->blob), "merge", dk, err,
                        sizeof(err))
            != 0
        || gobi_spool_write(&sp, data, len, err, sizeof(err)) != 0
        || gobi_spool_finish(&sp, hash, &size, err, sizeof(err)) != 0
        || gobi_blob_put(job->blob, job->vault.id, hash, sp.path, sp.fd,
                         NULL, err, sizeof(err))
           != 0)
    {
        snprintf(job->log, sizeof(job->log), "storage: %.480s", err);
        goto done;
    }

    rc = 0;

done:

    gobi_spool_close(&sp);

    return rc;
}


/* the three sides of a merge, whole, in memory (each <= GOBI_MERGE_MAX) */

static gobi_merge_rc_e
ngx_http_gobi_merge_sides(ngx_http_gobi_job_t *job, const unsigned char *dk,
    const char *hashes[3], char *buf[3], size_t len[3])
{
    char              err[512];
    ngx_uint_t        i;
    gobi_reader_rc_e  rc;

    for (i = 0; i < 3; i++) {
        rc = gobi_reader_slurp(job->blob, job->vault.id, hashes[i], dk,
                               GOBI_MERGE_MAX, &buf[i], &len[i], err,
                               sizeof(err));
        if (rc != GOBI_READER_OK) {
            snprintf(job->log, sizeof(job->log), "merge: %.480s", err);
            job->log_level = NGX_LOG_WARN;
            return GOBI_MERGE_NOT_TEXT;
        }
    }

    return GOBI_MERGE_CLEAN;
}


/*
 * merge: base (the If-Match version, from history), current and incoming
 * merged by libgit2.  NGX_OK and rc: the merged write's outcome;
 * NGX_DECLINED: not mergeable (binary, too big, overlapping, no base),
 * keep both instead.
 */

static ngx_int_t
ngx_http_gobi_resolve_merge(ngx_http_gobi_job_t *job, const gobi_write_t *w,
    gobi_store_rc_e *rc)
{
    char                 err[256], *side[3], *out;
    char                 hash[GOBI_HASH_HEX_LEN + 1];
    size_t               len, slen[3];
    ngx_uint_t           i;
    ngx_flag_t           failed;
    const char          *hashes[3];
    gobi_write_t         mw;
    gobi_version_t       bv;
    gobi_merge_rc_e      mrc;
    const unsigned char *dk;

    *rc = job->gmcf->store_driver->version_get(job->store, job->vault.id,
                                               w->path, w->base_version, &bv);
    if (*rc == GOBI_STORE_NOT_FOUND || (*rc == GOBI_STORE_OK && bv.deleted)) {
        return NGX_DECLINED;
    }

    if (*rc != GOBI_STORE_OK) {
        return NGX_OK;
    }

    dk = ngx_http_gobi_job_dk(job, &failed);
    if (failed) {
        job->code = NULL;
        return NGX_DECLINED;
    }

    hashes[0] = bv.hash;
    hashes[1] = job->file.hash;
    hashes[2] = w->hash;
    side[0] = side[1] = side[2] = NULL;
    slen[0] = slen[1] = slen[2] = 0;

    out = NULL;
    len = 0;

    mrc = ngx_http_gobi_merge_sides(job, dk, hashes, side, slen);

    if (mrc == GOBI_MERGE_CLEAN) {
        mrc = gobi_merge_text(side[0], slen[0], side[1], slen[1], side[2],
                              slen[2], &out, &len, err, sizeof(err));
    }

    for (i = 0; i < 3; i++) {
        free(side[i]);
    }

    if (mrc != GOBI_MERGE_CLEAN) {
        if (mrc == GOBI_MERGE_ERROR) {
            snprintf(job->log, sizeof(job->log), "merge of \"%s\": %s",
                     w->path, err);
            job->log_level = NGX_LOG_WARN;
        }

        free(out);
        return NGX_DECLINED;
    }

    if (ngx_http_gobi_merged_blob(job, dk, out, len, hash) != 0) {
        free(out);
        return NGX_DECLINED;
    }

    free(out);

    mw = *w;
    mw.hash = hash;
    mw.size = (int64_t) len;
    mw.base_version = job->file.version;

    *rc = job->gmcf->store_driver->write(job->store, job->vault.id, &mw,
                                         &job->event, &job->file);

    if (*rc == GOBI_STORE_OK || *rc == GOBI_STORE_UNCHANGED) {
        /* the answer describes the merged content */
        ngx_memcpy(job->body_hash, hash, sizeof(job->body_hash));
        job->size = (int64_t) len;
        job->resolved = GOBI_RESOLVE_MERGE;
    }

    return NGX_OK;
}


gobi_store_rc_e
ngx_http_gobi_resolve(ngx_http_gobi_job_t *job, gobi_write_t *w,
    gobi_store_rc_e rc)
{
    ngx_uint_t       tries;
    gobi_resolve_e   how;

    for (tries = 0;
         rc == GOBI_STORE_CONFLICT && tries < NGX_HTTP_GOBI_RESOLVE_TRIES;
         tries++)
    {
        how = gobi_strategy_resolve(job->vault.strategy, w, &job->file);

        switch (how) {

        case GOBI_RESOLVE_APPLY:
            /* over what is there now: a newer change still conflicts */
            w->base_version = job->file.version;
            rc = job->gmcf->store_driver->write(job->store, job->vault.id, w,
                                                &job->event, &job->file);
            if (rc == GOBI_STORE_OK) {
                job->resolved = GOBI_RESOLVE_APPLY;
            }
            continue;

        case GOBI_RESOLVE_MERGE:
            if (ngx_http_gobi_resolve_merge(job, w, &rc) == NGX_OK) {
                continue;
            }

            /* fall through */

        case GOBI_RESOLVE_COPY:
            return ngx_http_gobi_resolve_copy(job, w);

        case GOBI_RESOLVE_LOSE:
            return ngx_http_gobi_resolve_lose(job, w);

        default: /* GOBI_RESOLVE_REJECT */
            return rc;
        }
    }

    return rc;
}


/*
 * A device that deletes more than gobi_mass_delete_limit files within 5
 * minutes (a wiped or unmounted folder looks like that) is stopped before
 * the next delete, until it says it means it.
 */

ngx_int_t
ngx_http_gobi_mass_delete_check(ngx_http_gobi_job_t *job)
{
    int64_t                     deletes, live, max;
    gobi_store_rc_e             rc;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = job->gmcf;

    if (gmcf->mass_delete_limit == 0 || job->confirm_mass_delete) {
        return NGX_OK;
    }

    live = 0;

    /* the deletes first: the vault's files are counted only when they
     * may matter (counting is a scan) */

    rc = gmcf->store_driver->delete_stats(job->store, job->vault.id,
                                          job->device,
                                          job->now - NGX_HTTP_GOBI_MASS_WINDOW,
                                          &deletes, NULL);

    if (rc == GOBI_STORE_OK && gmcf->mass_delete_percent
        && deletes >= NGX_HTTP_GOBI_MASS_MIN)
    {
        rc = gmcf->store_driver->delete_stats(job->store, job->vault.id,
                                              job->device,
                                              job->now
                                              - NGX_HTTP_GOBI_MASS_WINDOW,
                                              &deletes, &live);
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return NGX_ERROR;
    }

    if (gmcf->mass_delete_percent) {
        /* a share of the files there were when the deleting began */
        max = deletes >= NGX_HTTP_GOBI_MASS_MIN
              ? (live + deletes) * gmcf->mass_delete_limit / 100 : 0;
        max = ngx_max(max, NGX_HTTP_GOBI_MASS_MIN);

    } else {
        max = gmcf->mass_delete_limit;
    }

    if (deletes < max) {
        return NGX_OK;
    }

    ngx_http_gobi_job_error(job, NGX_HTTP_CONFLICT, "mass_delete_blocked",
                            "%lld files were deleted by this device in the "
                            "last 5 minutes; confirm with "
                            "X-Gobi-Confirm-Mass-Delete: 1 to go on",
                            (long long) deletes);

    return NGX_DECLINED;
}


/* answers ------------------------------------------------------------- */


/*
 * 409 conflict_copied: the file stayed as it was ("current"), the upload
 * is the copy beside it ("copy"); both reach every device as events.
 */

void
ngx_http_gobi_gen_copied(ngx_http_gobi_job_t *job)
{
    int        i;
    yajl_gen   g;

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    g = job->gen;
    job->status = NGX_HTTP_CONFLICT;
    job->file.path = job->path;

    yajl_gen_map_open(g);

    /* the same two objects in the error and at the top level */
    for (i = 0; i < 2; i++) {
        if (i == 0) {
            ngx_http_gobi_gen_str(g, "error");
            yajl_gen_map_open(g);
            ngx_http_gobi_gen_str(g, "code");
            ngx_http_gobi_gen_str(g, "conflict_copied");
            ngx_http_gobi_gen_str(g, "message");
            ngx_http_gobi_gen_str(g, "the file changed since the version "
                                     "this write is based on; the upload "
                                     "was kept as a conflict copy");
        }

        ngx_http_gobi_gen_str(g, "current");
        ngx_http_gobi_gen_file(g, &job->file, 1);

        ngx_http_gobi_gen_str(g, "copy");
        yajl_gen_map_open(g);
        ngx_http_gobi_gen_str(g, "path");
        ngx_http_gobi_gen_str(g, job->copy_path);
        ngx_http_gobi_gen_str(g, "version");
        ngx_http_gobi_gen_int(g, job->copy_version);
        ngx_http_gobi_gen_str(g, "hash");
        ngx_http_gobi_gen_str(g, job->body_hash);
        ngx_http_gobi_gen_str(g, "size");
        ngx_http_gobi_gen_int(g, job->size);
        yajl_gen_map_close(g);

        if (i == 0) {
            yajl_gen_map_close(g);
        }
    }

    yajl_gen_map_close(g);
}


/* in a success body: how a stale write was resolved, if it was */

void
ngx_http_gobi_gen_resolved(ngx_http_gobi_job_t *job)
{
    const char  *how;

    switch (job->resolved) {

    case GOBI_RESOLVE_APPLY:
        how = (job->vault.strategy == GOBI_STRATEGY_LWW) ? "lww" : "applied";
        break;

    case GOBI_RESOLVE_MERGE:
        ngx_http_gobi_gen_str(job->gen, "merged");
        yajl_gen_bool(job->gen, 1);
        how = "merge";
        break;

    default:
        return;
    }

    ngx_http_gobi_gen_str(job->gen, "resolved");
    ngx_http_gobi_gen_str(job->gen, how);
}
