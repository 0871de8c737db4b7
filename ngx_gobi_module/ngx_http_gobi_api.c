
/*
 * Copyright (C) the gobi authors
 *
 * The REST API: the route table, credentials and limits before any work,
 * and the endpoints that page through the log and the manifest.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"

#include "gobi_path.h"
#include "gobi_wsmsg.h"


static ngx_int_t ngx_http_gobi_api_start(ngx_http_request_t *r,
    yajl_val json);
static ngx_int_t ngx_http_gobi_query_args(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
static void ngx_http_gobi_run_manifest(ngx_http_gobi_job_t *job);
static void ngx_http_gobi_run_events(ngx_http_gobi_job_t *job);


#define NGX_HTTP_GOBI_GET   (NGX_HTTP_GET|NGX_HTTP_HEAD)

#define PUBLIC   NGX_HTTP_GOBI_ROUTE_PUBLIC
#define JSON     NGX_HTTP_GOBI_ROUTE_JSON
#define BASIC    NGX_HTTP_GOBI_ROUTE_BASIC
#define HASH     NGX_HTTP_GOBI_ROUTE_HASH
#define SIGNUP   NGX_HTTP_GOBI_ROUTE_SIGNUP


static const ngx_http_gobi_route_t  ngx_http_gobi_routes[] = {

    /* the instance's health, for anyone: ngx_http_gobi_status.c */

    { NGX_HTTP_GOBI_GET, ngx_string("health"), PUBLIC,
      ngx_http_gobi_status_check, ngx_http_gobi_run_status,
      ngx_http_gobi_status_done },

    /* accounts: ngx_http_gobi_account.c */

    { NGX_HTTP_POST, ngx_string("users"), PUBLIC|JSON|HASH|SIGNUP,
      ngx_http_gobi_user_check, ngx_http_gobi_run_user_create,
      ngx_http_gobi_send_job },

    { NGX_HTTP_PUT, ngx_string("users/me/password"), JSON|HASH,
      ngx_http_gobi_password_check, ngx_http_gobi_run_password_change,
      ngx_http_gobi_send_job },

    { NGX_HTTP_DELETE, ngx_string("users/me"), JSON|HASH,
      ngx_http_gobi_account_delete_check, ngx_http_gobi_run_account_delete,
      ngx_http_gobi_send_job },

    { NGX_HTTP_POST, ngx_string("sessions"), PUBLIC|JSON|BASIC|HASH,
      ngx_http_gobi_session_check, ngx_http_gobi_run_session_create,
      ngx_http_gobi_send_job },

    { NGX_HTTP_DELETE, ngx_string("sessions"), 0,
      NULL, ngx_http_gobi_run_sessions_delete, ngx_http_gobi_send_job },

    { NGX_HTTP_DELETE, ngx_string("sessions/current"), 0,
      NULL, ngx_http_gobi_run_session_delete, ngx_http_gobi_send_job },

    /* vaults: ngx_http_gobi_vaults.c */

    { NGX_HTTP_GOBI_GET, ngx_string("vaults"), 0,
      NULL, ngx_http_gobi_run_vault_list, ngx_http_gobi_send_job },

    { NGX_HTTP_POST, ngx_string("vaults"), JSON,
      ngx_http_gobi_vault_check, ngx_http_gobi_run_vault_create,
      ngx_http_gobi_send_job },

    { NGX_HTTP_DELETE, ngx_string("vaults/{vault}"), 0,
      NULL, ngx_http_gobi_run_vault_delete, ngx_http_gobi_vault_deleted },
    { NGX_HTTP_PATCH, ngx_string("vaults/{vault}"), JSON,
      ngx_http_gobi_vault_patch_check, ngx_http_gobi_run_vault_patch,
      ngx_http_gobi_send_job },

    /* history: ngx_http_gobi_history.c */
    { NGX_HTTP_GOBI_GET, ngx_string("vaults/{vault}/versions/{path}"), 0,
      ngx_http_gobi_history_args, ngx_http_gobi_run_versions,
      ngx_http_gobi_send_job },
    { NGX_HTTP_GOBI_GET, ngx_string("vaults/{vault}/trash"), 0,
      ngx_http_gobi_history_args, ngx_http_gobi_run_trash,
      ngx_http_gobi_send_job },
    { NGX_HTTP_POST, ngx_string("vaults/{vault}/restore"), JSON,
      ngx_http_gobi_restore_check, ngx_http_gobi_run_restore,
      ngx_http_gobi_restore_done },

    /* the log and the manifest: here */

    { NGX_HTTP_GOBI_GET, ngx_string("vaults/{vault}/events"), 0,
      ngx_http_gobi_query_args, ngx_http_gobi_run_events,
      ngx_http_gobi_send_job },

    { NGX_HTTP_GOBI_GET, ngx_string("vaults/{vault}/files"), 0,
      ngx_http_gobi_query_args, ngx_http_gobi_run_manifest,
      ngx_http_gobi_send_job },

    /* file bytes: ngx_http_gobi_files.c */

    { NGX_HTTP_GOBI_GET, ngx_string("vaults/{vault}/files/{path}"), 0,
      ngx_http_gobi_file_get_check, ngx_http_gobi_file_run_get,
      ngx_http_gobi_file_get_done },

    { NGX_HTTP_PUT, ngx_string("vaults/{vault}/files/{path}"), 0,
      ngx_http_gobi_file_put_check, ngx_http_gobi_file_run_put_check,
      ngx_http_gobi_file_put_read },

    { NGX_HTTP_DELETE, ngx_string("vaults/{vault}/files/{path}"), 0,
      ngx_http_gobi_file_delete_check, ngx_http_gobi_file_run_delete,
      ngx_http_gobi_file_delete_done },

    { 0, ngx_null_string, 0, NULL, NULL, NULL }
};

#undef PUBLIC
#undef JSON
#undef BASIC
#undef HASH
#undef SIGNUP


/* the route table names the "endpoint" label of the metrics */

ngx_int_t
ngx_http_gobi_api_init(ngx_conf_t *cf)
{
    return ngx_http_gobi_metrics_routes(cf, ngx_http_gobi_routes);
}


ngx_int_t
ngx_http_gobi_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_gobi_ctx_t          *ctx;
    const ngx_http_gobi_route_t  *route;

    ctx = ngx_http_gobi_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->job->store == NULL || ctx->job->blob == NULL) {
        return ngx_http_gobi_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "store_unavailable",
                                        "the metadata store is not open");
    }

    rc = ngx_http_gobi_route_find(r, ngx_http_gobi_routes, ctx);
    route = ctx->route;

    if (route == NULL) {
        /* the error is sent */
        return rc;
    }

    /* a login without a body: Basic, or no credentials at all (401) */
    if (!(route->flags & NGX_HTTP_GOBI_ROUTE_JSON)
        || ((route->flags & NGX_HTTP_GOBI_ROUTE_BASIC)
            && r->headers_in.content_length_n <= 0
            && !r->headers_in.chunked))
    {
        return ngx_http_gobi_api_start(r, NULL);
    }

    return ngx_http_gobi_json_body(r, ngx_http_gobi_api_start);
}


/* credentials, the route's checks, then its thread work */

static ngx_int_t
ngx_http_gobi_api_start(ngx_http_request_t *r, yajl_val json)
{
    ngx_int_t                     rc;
    ngx_http_gobi_ctx_t          *ctx;
    ngx_http_gobi_job_t          *job;
    const ngx_http_gobi_route_t  *route;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gobi_module);
    route = ctx->route;
    job = ctx->job;

    if (!(route->flags & NGX_HTTP_GOBI_ROUTE_PUBLIC)) {
        rc = ngx_http_gobi_auth_parse(r, job);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                            "unauthorized",
                                            "missing or invalid credentials");
        }

        /* a password check costs an argon2id: only logins may ask one */

        if (job->auth == NGX_HTTP_GOBI_AUTH_BASIC) {
            return ngx_http_gobi_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                            "unauthorized",
                                            "HTTP Basic is accepted only by "
                                            "POST /api/v1/sessions; send "
                                            "its token as Bearer");
        }
    }

    if (route->validate) {
        rc = route->validate(r, job, json);

        if (rc == NGX_DECLINED) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "gobi: refused before any work: %s", job->code);
            return ngx_http_gobi_send_job(r, job);
        }

        if (rc == NGX_DONE) {
            /* nothing for a thread: the answer is known */
            return route->done(r, job);
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if ((route->flags & NGX_HTTP_GOBI_ROUTE_HASH)
        && ngx_http_gobi_limit_check(r, job,
                                     route->flags & NGX_HTTP_GOBI_ROUTE_SIGNUP)
           != NGX_OK)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "gobi: refused before hashing: %s", job->message);
        return ngx_http_gobi_limit_pause(r);
    }

    if (ngx_http_gobi_task_post(r, job, route->run, route->done) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * ?since=, ?limit=, ?include_deleted=, ?prefix=, ?after= of the manifest
 * and the events; both are answered in pages of at most 10000
 */

static ngx_int_t
ngx_http_gobi_query_args(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    int64_t    flag;
    ngx_int_t  rc;

    job->since = 0;
    job->limit = NGX_HTTP_GOBI_EVENTS_LIMIT;
    flag = 0;

    if (ngx_http_gobi_arg_int(r, "since", &job->since) != NGX_OK) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"since\" must be a non-negative "
                                "integer");
        return NGX_DECLINED;
    }

    if (ngx_http_gobi_arg_int(r, "limit", &job->limit) != NGX_OK
        || job->limit < 1 || job->limit > NGX_HTTP_GOBI_EVENTS_MAX)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"limit\" must be 1-10000");
        return NGX_DECLINED;
    }

    if (ngx_http_gobi_arg_int(r, "include_deleted", &flag) != NGX_OK
        || flag > 1)
    {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST, "bad_request",
                                "\"include_deleted\" must be 0 or 1");
        return NGX_DECLINED;
    }

    job->include_deleted = flag;

    rc = ngx_http_gobi_arg_path(r, job, "prefix", &job->prefix);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_gobi_arg_path(r, job, "after", &job->after);
}


/* thread side -------------------------------------------------------- */


typedef struct {
    yajl_gen   gen;
    char      *last;                     /* GOBI_PATH_MAX + 1 bytes */
} ngx_http_gobi_page_t;


static int
ngx_http_gobi_file_cb(void *data, const gobi_file_t *f)
{
    ngx_http_gobi_page_t  *page = data;

    ngx_http_gobi_gen_file(page->gen, f, 1);
    (void) ngx_cpystrn((u_char *) page->last, (u_char *) f->path,
                       GOBI_PATH_MAX + 1);
    return 0;
}


/*
 * One page of the manifest.  "next" is the ?after= of the following page
 * (null on the last); each page is consistent as of its own "seq", so a
 * client that pages through and then replays the events after the first
 * page's seq ends up with the state at the head.
 */

static void
ngx_http_gobi_run_manifest(ngx_http_gobi_job_t *job)
{
    int                   more;
    char                  last[GOBI_PATH_MAX + 1];
    int64_t               seq;
    gobi_store_rc_e       rc;
    ngx_http_gobi_page_t  page;

    if (ngx_http_gobi_job_vault(job) != NGX_OK
        || ngx_http_gobi_job_gen(job) != NGX_OK)
    {
        return;
    }

    /* the body opens with "files" and "seq" is added after the listing,
     * when the driver has said which seq it reflects */

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "files");
    yajl_gen_array_open(job->gen);

    seq = 0;
    more = 0;
    page.gen = job->gen;
    page.last = last;
    last[0] = '\0';

    rc = job->gmcf->store_driver->file_list(job->store, job->vault.id,
                                            job->prefix, job->include_deleted,
                                            job->after, job->limit, &seq,
                                            &more, ngx_http_gobi_file_cb,
                                            &page);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    yajl_gen_array_close(job->gen);
    ngx_http_gobi_gen_str(job->gen, "seq");
    ngx_http_gobi_gen_int(job->gen, seq);
    ngx_http_gobi_gen_str(job->gen, "next");

    if (more) {
        ngx_http_gobi_gen_str(job->gen, page.last);

    } else {
        yajl_gen_null(job->gen);
    }

    yajl_gen_map_close(job->gen);
}


static int
ngx_http_gobi_event_cb(void *data, const gobi_event_t *e)
{
    /* the same event object as on the WebSocket */
    return gobi_wsmsg_gen_event((yajl_gen) data, e) != 0;
}


static void
ngx_http_gobi_run_events(ngx_http_gobi_job_t *job)
{
    int              more;
    int64_t          head;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_job_vault(job) != NGX_OK
        || ngx_http_gobi_job_gen(job) != NGX_OK)
    {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "events");
    yajl_gen_array_open(job->gen);

    head = 0;
    more = 0;

    rc = job->gmcf->store_driver->events_since(job->store, job->vault.id,
                                               job->since, job->limit,
                                               ngx_http_gobi_event_cb,
                                               job->gen, &head, &more);
    if (rc == GOBI_STORE_EXPIRED) {
        ngx_http_gobi_job_error(job, NGX_HTTP_GOBI_GONE, "history_expired",
                                "events after seq %lld are no longer kept; "
                                "rebuild from the manifest",
                                (long long) job->since);
        return;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    yajl_gen_array_close(job->gen);
    ngx_http_gobi_gen_str(job->gen, "head_seq");
    ngx_http_gobi_gen_int(job->gen, head);
    ngx_http_gobi_gen_str(job->gen, "more");
    yajl_gen_bool(job->gen, more);
    yajl_gen_map_close(job->gen);
}
