
/*
 * Copyright (C) the gobi authors
 *
 * File bytes: PUT streams the body into a temp file beside the blobs,
 * a pool thread hashes, fsyncs and renames it into place and appends the
 * event; GET sends the blob with sendfile (ranges by nginx's range filter).
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "gobi_hash.h"
#include "gobi_header.h"


static ngx_int_t ngx_http_gobi_put_headers(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_put_commit(ngx_http_gobi_job_t *job);
static ngx_int_t ngx_http_gobi_put_done(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);


/* the header values are parsed by lib/gobi_header.c, fuzzed on its own */

static ngx_int_t
ngx_http_gobi_if_match(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    int64_t           base;
    ngx_table_elt_t  *h;

    h = r->headers_in.if_match;

    if (h == NULL) {
        return NGX_OK;
    }

    if (gobi_header_if_match((char *) h->value.data, h->value.len, &base)
        != 0)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "If-Match must be a version: \"N\"");
        return NGX_DECLINED;
    }

    /* "*" leaves the precondition as it was */
    if (base != GOBI_BASE_ANY) {
        job->base_version = base;
    }

    return NGX_OK;
}


/* X-Gobi-Device, checked (also of restores, ngx_http_gobi_history.c) */

ngx_int_t
ngx_http_gobi_device(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    const char       *err;
    ngx_table_elt_t  *h;

    h = ngx_http_gobi_header_in(r, "X-Gobi-Device");

    if (h == NULL) {
        return NGX_OK;
    }

    err = gobi_header_device((char *) h->value.data, h->value.len);

    if (err != NULL) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "%s", err);
        return NGX_DECLINED;
    }

    job->device = ngx_http_gobi_strdup(r->pool, h->value.data, h->value.len);
    if (job->device == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_put_headers(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    char              hex[GOBI_HASH_HEX_LEN + 1];
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    rc = ngx_http_gobi_if_match(r, job);
    if (rc != NGX_OK) {
        return rc;
    }

    h = r->headers_in.if_none_match;

    if (h) {
        if (gobi_header_if_none_match((char *) h->value.data, h->value.len)
            != 0)
        {
            ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "only \"If-None-Match: *\" is "
                                    "supported on uploads");
            return NGX_DECLINED;
        }

        if (r->headers_in.if_match) {
            ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "If-Match and If-None-Match "
                                    "exclude each other");
            return NGX_DECLINED;
        }

        job->base_version = 0;
    }

    h = ngx_http_gobi_header_in(r, "X-Gobi-Mtime");

    if (h != NULL
        && gobi_header_mtime((char *) h->value.data, h->value.len,
                             &job->mtime) != 0)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "X-Gobi-Mtime must be unix milliseconds");
        return NGX_DECLINED;
    }

    h = ngx_http_gobi_header_in(r, "X-Gobi-Hash");

    if (h) {
        if (gobi_header_hash((char *) h->value.data, h->value.len, hex)
            != 0)
        {
            ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "X-Gobi-Hash must be 64 hex "
                                    "digits (BLAKE2b-256)");
            return NGX_DECLINED;
        }

        job->hash = ngx_http_gobi_strdup(r->pool, (u_char *) hex,
                                             GOBI_HASH_HEX_LEN);
        if (job->hash == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_gobi_device(r, job);
}


/*
 * PUT: headers are checked first, then credentials and the vault in a
 * thread; only then is the body read (and "100 Continue" sent), so an
 * unauthorized client never gets to upload.
 */

ngx_int_t
ngx_http_gobi_file_put_check(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    ngx_int_t  rc;

    rc = ngx_http_gobi_put_headers(r, job);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->headers_in.content_length_n > job->gmcf->max_file_size) {
        ngx_http_gobi_job_error(job, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                "payload_too_large",
                                "the file is larger than "
                                "gobi_max_file_size");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Is there less room under the storage's temp folder than `need` bytes
 * (the temp file, and the blob it becomes by rename, share them) and a
 * margin for the database and the file system?  Thread side: statvfs()
 * may block on a network file system.
 */

ngx_int_t
ngx_http_gobi_no_room(ngx_http_gobi_job_t *job, off_t need)
{
    struct statvfs  fs;

    if (need < 0) {
        need = 0;
    }

    if (statvfs(gobi_blob_tmp_dir(job->blob), &fs) == -1) {
        return 0;
    }

    return (off_t) fs.f_bavail * (off_t) fs.f_frsize
           < need + NGX_HTTP_GOBI_ROOM_MARGIN;
}


/*
 * Before the body: credentials, the vault, and the precondition, so a
 * stale edit is refused before its bytes travel and leave no blob.  The
 * write checks again (another write may come in between).
 */

void
ngx_http_gobi_file_run_put_check(ngx_http_gobi_job_t *job)
{
    ngx_flag_t       failed;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_job_vault(job) != NGX_OK) {
        return;
    }

    /* the body is sealed as it comes: its key is needed before */
    (void) ngx_http_gobi_job_dk(job, &failed);

    if (failed) {
        return;
    }

    if (ngx_http_gobi_no_room(job, job->request->headers_in.content_length_n))
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_INSUFFICIENT_STORAGE,
                                "insufficient_storage",
                                "not enough free space for the file");
        snprintf(job->log, sizeof(job->log), "no room for %lld bytes under "
                 "\"%s\"",
                 (long long) job->request->headers_in.content_length_n,
                 gobi_blob_tmp_dir(job->blob));
        job->log_level = NGX_LOG_WARN;
        return;
    }

    /*
     * A stale write is refused before its body is read only where the
     * vault's strategy refuses it anyway; the others need the bytes (a
     * copy, a merge, history).
     */

    if (job->base_version == GOBI_BASE_ANY
        || job->vault.strategy != GOBI_STRATEGY_SERVER_WINS)
    {
        return;
    }

    ngx_memzero(&job->file, sizeof(gobi_file_t));

    rc = job->gmcf->store_driver->file_get(job->store, job->vault.id,
                                           job->path, &job->file);

    if (rc == GOBI_STORE_NOT_FOUND) {
        ngx_memzero(&job->file, sizeof(gobi_file_t));
        job->file.deleted = 1;

    } else if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    job->file.path = job->path;

    if ((job->base_version == 0 && !job->file.deleted)
        || (job->base_version > 0 && job->file.version != job->base_version))
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_PRECONDITION_FAILED,
                                "version_conflict",
                                "the file changed since the version this "
                                "write is based on");
    }
}


ngx_int_t
ngx_http_gobi_file_put_read(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    if (job->code) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "gobi: PUT \"%s\" refused before the body: %s",
                       job->path, job->code);
        return ngx_http_gobi_send_job(r, job);
    }

    return ngx_http_gobi_upload_start(r, job, ngx_http_gobi_run_put_commit,
                                      ngx_http_gobi_put_done);
}


static void
ngx_http_gobi_run_put_commit(ngx_http_gobi_job_t *job)
{
    char                        err[512];
    gobi_write_t                w;
    gobi_store_rc_e             rc;
    const gobi_store_driver_t  *drv;

    drv = job->gmcf->store_driver;

    if (ngx_http_gobi_upload_finish(job) != NGX_OK) {
        goto done;
    }

    if (job->hash && ngx_strcmp(job->hash, job->body_hash) != 0) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "hash_mismatch",
                                "the body's BLAKE2b-256 is %s, "
                                "not X-Gobi-Hash", job->body_hash);
        goto done;
    }

    if (job->size > job->gmcf->max_file_size) {
        ngx_http_gobi_job_error(job, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                "payload_too_large",
                                "the file is larger than gobi_max_file_size");
        goto done;
    }

    /* the blob first: an event never points at bytes that are not there */

    if (gobi_blob_put(job->blob, job->vault.id, job->body_hash,
                      job->spool->path, job->spool->fd, NULL, err,
                      sizeof(err))
        != 0)
    {
        if (errno == ENOSPC || errno == EDQUOT) {
            ngx_http_gobi_job_error(job, NGX_HTTP_INSUFFICIENT_STORAGE,
                                    "insufficient_storage",
                                    "not enough free space for the file");
        } else {
            ngx_http_gobi_job_error(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "storage_unavailable",
                                    "the file could not be stored; "
                                    "try again later");
        }

        snprintf(job->log, sizeof(job->log), "storage: %.480s", err);
        goto done;
    }

    ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_BLOB_BYTES, job->size);

    ngx_memzero(&w, sizeof(gobi_write_t));
    w.type = GOBI_EV_MODIFY;
    w.path = job->path;
    w.base_version = job->base_version;
    w.hash = job->body_hash;
    w.size = job->size;
    w.mtime = job->mtime ? job->mtime : job->now;
    w.device = job->device;
    w.now = job->now;

    ngx_memzero(&job->file, sizeof(gobi_file_t));
    job->file.path = job->path;

    rc = drv->write(job->store, job->vault.id, &w, &job->event, &job->file);

    if (rc == GOBI_STORE_CONFLICT) {
        /* the vault's conflict strategy decides (ngx_http_gobi_resolve.c) */
        rc = ngx_http_gobi_resolve(job, &w, rc);

        if (job->code) {
            goto done;
        }
    }

    if (rc == GOBI_STORE_OK && job->resolved == GOBI_RESOLVE_COPY) {
        ngx_http_gobi_gen_copied(job);
        goto done;
    }

    switch (rc) {

    case GOBI_STORE_OK:
        job->status = (job->event.type == GOBI_EV_CREATE) ? NGX_HTTP_CREATED
                                                          : NGX_HTTP_OK;
        job->file.path = job->path;
        job->file.version = job->event.version;
        ngx_memcpy(job->file.hash, job->body_hash, sizeof(job->file.hash));
        job->file.size = job->size;
        job->file.mtime = job->event.mtime;
        break;

    case GOBI_STORE_UNCHANGED:
        /* the same bytes again: no new version, no event */
        job->status = NGX_HTTP_OK;
        job->event.seq = job->file.version;
        break;

    case GOBI_STORE_CONFLICT:
    case GOBI_STORE_EXISTS:
        job->file.path = job->path;
        ngx_http_gobi_job_error(job, NGX_HTTP_PRECONDITION_FAILED,
                                "version_conflict",
                                "the file changed since the version this "
                                "write is based on");
        goto done;

    default:
        ngx_http_gobi_job_store_error(job, rc);
        goto done;
    }

    job->gen = ngx_http_gobi_gen_new();
    if (job->gen == NULL) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "out of memory");
        goto done;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "path");
    ngx_http_gobi_gen_str(job->gen, job->path);
    ngx_http_gobi_gen_str(job->gen, "version");
    ngx_http_gobi_gen_int(job->gen, job->file.version);
    ngx_http_gobi_gen_str(job->gen, "hash");
    ngx_http_gobi_gen_str(job->gen, job->file.hash);
    ngx_http_gobi_gen_str(job->gen, "size");
    ngx_http_gobi_gen_int(job->gen, job->file.size);
    ngx_http_gobi_gen_str(job->gen, "mtime");
    ngx_http_gobi_gen_int(job->gen, job->file.mtime);
    ngx_http_gobi_gen_str(job->gen, "seq");
    ngx_http_gobi_gen_int(job->gen, job->event.seq);
    ngx_http_gobi_gen_resolved(job);
    yajl_gen_map_close(job->gen);

done:

    /* a blob now, or garbage: the temp file goes either way */
    gobi_spool_close(job->spool);
}


static ngx_int_t
ngx_http_gobi_put_done(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gobi: PUT \"%s\" base %L: %s, seq %L", job->path,
                   job->base_version, job->code ? job->code : "written",
                   job->event.seq);

    if (job->code == NULL && job->event.seq > 0
        && job->event.seq == job->file.version)
    {
        ngx_http_gobi_bus_publish(job->vault.id, job->event.seq);

    } else if (job->publish) {
        /* a conflict copy, or a lost write kept in history */
        ngx_http_gobi_bus_publish(job->vault.id, job->publish);
    }

    return ngx_http_gobi_send_job(r, job);
}


/* ?version=N: an older version's bytes, from history */

ngx_int_t
ngx_http_gobi_file_get_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json)
{
    ngx_str_t            value;
    ngx_pool_cleanup_t  *cln;

    job->version = 0;

    /* a blob that is not a local file to send is read through this */
    job->reader = ngx_pcalloc(r->pool, sizeof(gobi_reader_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (job->reader == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_gobi_reader_cleanup;
    cln->data = job->reader;

    if (ngx_http_arg(r, (u_char *) "version", 7, &value) != NGX_OK) {
        return NGX_OK;
    }

    if (ngx_http_gobi_arg_int(r, "version", &job->version) != NGX_OK
        || job->version < 1)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"version\" must be a positive integer");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_gobi_file_get_version(ngx_http_gobi_job_t *job)
{
    gobi_version_t   v;
    gobi_store_rc_e  rc;

    rc = job->gmcf->store_driver->version_get(job->store, job->vault.id,
                                              job->path, job->version, &v);

    if (rc == GOBI_STORE_NOT_FOUND || (rc == GOBI_STORE_OK && v.deleted)) {
        ngx_http_gobi_job_error(job, NGX_HTTP_NOT_FOUND, "version_not_found",
                                "no version %lld of this file (never was, "
                                "a deletion, or thinned by retention)",
                                (long long) job->version);
        return;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    job->file.path = job->path;
    job->file.version = v.version;
    ngx_memcpy(job->file.hash, v.hash, sizeof(job->file.hash));
    job->file.size = v.size;
    job->file.mtime = v.mtime;
    job->file.deleted = 0;
}


void
ngx_http_gobi_file_run_get(ngx_http_gobi_job_t *job)
{
    ngx_flag_t            failed;
    gobi_store_rc_e       rc;
    const unsigned char  *dk;

    if (ngx_http_gobi_job_vault(job) != NGX_OK) {
        return;
    }

    if (job->version > 0) {
        ngx_http_gobi_file_get_version(job);

        if (job->code) {
            return;
        }

        goto blob;
    }

    rc = job->gmcf->store_driver->file_get(job->store, job->vault.id,
                                           job->path, &job->file);

    if (rc == GOBI_STORE_NOT_FOUND || (rc == GOBI_STORE_OK
                                       && job->file.deleted))
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_NOT_FOUND, "file_not_found",
                                "no such file");
        return;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

blob:

    /* plaintext on a local target: sendfile */

    if (job->keys == NULL
        && gobi_blob_path(job->blob, job->vault.id, job->file.hash,
                          job->blob_path, sizeof(job->blob_path))
           == 0)
    {
        return;
    }

    job->blob_path[0] = '\0';

    dk = ngx_http_gobi_job_dk(job, &failed);
    if (failed) {
        return;
    }

    ngx_http_gobi_reader_open(job, job->reader, job->file.hash, dk);
}


/* ETag (the version), X-Gobi-Hash, Last-Modified, the type */

ngx_int_t
ngx_http_gobi_file_headers(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    u_char           *etag, *hash;
    ngx_table_elt_t  *h;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.last_modified_time = job->file.mtime / 1000;
    ngx_str_set(&r->headers_out.content_type, "application/octet-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    etag = ngx_pnalloc(r->pool, NGX_INT64_LEN + 2);
    hash = ngx_pnalloc(r->pool, GOBI_HASH_HEX_LEN);
    if (etag == NULL || hash == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "ETag");
    h->value.data = etag;
    h->value.len = ngx_sprintf(etag, "\"%L\"", job->file.version) - etag;
    r->headers_out.etag = h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Gobi-Hash");
    h->value.data = ngx_cpymem(hash, job->file.hash, GOBI_HASH_HEX_LEN)
                    - GOBI_HASH_HEX_LEN;
    h->value.len = GOBI_HASH_HEX_LEN;

    return NGX_OK;
}


ngx_int_t
ngx_http_gobi_file_get_done(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    ngx_fd_t                   fd;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_chain_t                out;
    ngx_file_info_t            fi;
    ngx_pool_cleanup_t        *cln;
    ngx_pool_cleanup_file_t   *clnf;

    if (job->code) {
        return ngx_http_gobi_send_job(r, job);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_gobi_file_headers(r, job) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the body bytes sent are counted when the request is logged */
    ngx_http_gobi_get_ctx(r)->download = 1;

    if (job->blob_path[0] == '\0') {
        return ngx_http_gobi_stream_send(r, job);
    }

    fd = ngx_open_file(job->blob_path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      "gobi: blob \"%s\" of \"%s\" is missing",
                      job->blob_path, job->path);
        return ngx_http_gobi_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "internal_error",
                                        "the file's bytes are missing");
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        ngx_close_file(fd);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = fd;
    clnf->name = (u_char *) job->blob_path;
    clnf->log = r->pool->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_length_n = ngx_file_size(&fi);
    r->allow_ranges = 1;

    if (r->method == NGX_HTTP_HEAD || ngx_file_size(&fi) == 0) {
        return ngx_http_gobi_send_empty(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->file_pos = 0;
    b->file_last = ngx_file_size(&fi);
    b->in_file = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    b->file->fd = fd;
    b->file->name.data = (u_char *) job->blob_path;
    b->file->name.len = ngx_strlen(job->blob_path);
    b->file->log = r->connection->log;
    b->file->directio = 0;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_gobi_file_delete_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    rc = ngx_http_gobi_if_match(r, job);

    if (rc == NGX_OK) {
        rc = ngx_http_gobi_device(r, job);
    }

    h = ngx_http_gobi_header_in(r, "X-Gobi-Confirm-Mass-Delete");

    if (rc == NGX_OK && h != NULL) {
        if (h->value.len != 1
            || (h->value.data[0] != '0' && h->value.data[0] != '1'))
        {
            ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "X-Gobi-Confirm-Mass-Delete is 0 or 1");
            return NGX_DECLINED;
        }

        job->confirm_mass_delete = (h->value.data[0] == '1');
    }

    return rc;
}


void
ngx_http_gobi_file_run_delete(ngx_http_gobi_job_t *job)
{
    gobi_write_t     w;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_job_vault(job) != NGX_OK) {
        return;
    }

    ngx_memzero(&w, sizeof(gobi_write_t));
    w.type = GOBI_EV_DELETE;
    w.path = job->path;
    w.base_version = job->base_version;
    w.hash = "";
    w.device = job->device;
    w.now = job->now;

    ngx_memzero(&job->file, sizeof(gobi_file_t));
    job->file.path = job->path;

    if (ngx_http_gobi_mass_delete_check(job) != NGX_OK) {
        return;
    }

    rc = job->gmcf->store_driver->write(job->store, job->vault.id, &w,
                                        &job->event, &job->file);

    if (rc == GOBI_STORE_CONFLICT) {
        rc = ngx_http_gobi_resolve(job, &w, rc);

        if (job->code) {
            return;
        }
    }

    switch (rc) {

    case GOBI_STORE_OK:
        break;

    case GOBI_STORE_NOT_FOUND:
        ngx_http_gobi_job_error(job, NGX_HTTP_NOT_FOUND, "file_not_found",
                                "no such file");
        return;

    case GOBI_STORE_CONFLICT:
        job->file.path = job->path;
        ngx_http_gobi_job_error(job, NGX_HTTP_PRECONDITION_FAILED,
                                "version_conflict",
                                "the file changed since the version this "
                                "delete is based on");
        return;

    default:
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    job->gen = ngx_http_gobi_gen_new();
    if (job->gen == NULL) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "out of memory");
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "path");
    ngx_http_gobi_gen_str(job->gen, job->path);
    ngx_http_gobi_gen_str(job->gen, "version");
    ngx_http_gobi_gen_int(job->gen, job->event.version);
    ngx_http_gobi_gen_str(job->gen, "seq");
    ngx_http_gobi_gen_int(job->gen, job->event.seq);
    ngx_http_gobi_gen_resolved(job);
    yajl_gen_map_close(job->gen);
}


ngx_int_t
ngx_http_gobi_file_delete_done(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job)
{
    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gobi: DELETE \"%s\" base %L: %s", job->path,
                   job->base_version, job->code ? job->code : "deleted");

    if (job->code == NULL) {
        ngx_http_gobi_bus_publish(job->vault.id, job->event.seq);
    }

    return ngx_http_gobi_send_job(r, job);
}
