
/*
 * Copyright (C) the gobi authors
 */


#ifndef _NGX_HTTP_GOBI_MODULE_H_INCLUDED_
#define _NGX_HTTP_GOBI_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl_gen.h>
#include <yajl_tree.h>

#include "gobi_event.h"
#include "gobi_path.h"
#include "gobi_strategy.h"
#include "gobi_store.h"
#include "gobi_storage.h"
#include "gobi_blob.h"
#include "gobi_crypt.h"
#include "gobi_keys.h"
#include "gobi_reader.h"
#include "gobi_spool.h"


#define NGX_HTTP_GOBI_JSON_MAX      65536  /* request JSON bodies */
#define NGX_HTTP_GOBI_GONE          410
#define NGX_HTTP_GOBI_DEVICE_MAX    64     /* = GOBI_HEADER_DEVICE_MAX */
#define NGX_HTTP_GOBI_EVENTS_LIMIT  1000   /* default ?limit= */
#define NGX_HTTP_GOBI_EVENTS_MAX    10000
#define NGX_HTTP_GOBI_ROOM_MARGIN   (1024 * 1024)  /* bytes kept free */


/* gobi_login_limit: count per period */
typedef struct {
    ngx_uint_t                     count;
    ngx_msec_t                     period;
} ngx_http_gobi_rate_t;


typedef struct {
    ngx_str_t                      store_uri;
    const gobi_store_driver_t     *store_driver;
    ngx_str_t                      store_arg;    /* what the driver opens */

    ngx_array_t                    storage;      /* ngx_http_gobi_target_t:
                                                    gobi_storage lines */
    ngx_str_t                      storage_credentials;
    char                          *storage_credentials_text;
    ngx_str_t                      storage_spool; /* remote targets' temp */
    ngx_uint_t                     storage_quorum; /* 0: all */
    ngx_msec_t                     storage_scrub;  /* 0: off */
    u_char                        *encryption_key; /* 32 bytes, or NULL */
    u_char                        *encryption_key_old;

    ngx_str_t                      bus_uri;
    const struct ngx_http_gobi_bus_s  *bus;

    ngx_str_t                      thread_pool_name;
    ngx_thread_pool_t             *thread_pool;
    ngx_str_t                      auth_pool_name;
    ngx_thread_pool_t             *auth_pool;    /* password hashes: its
                                                    own, or thread_pool */

    ngx_flag_t                     registration;
    off_t                          max_file_size;
    time_t                         event_retention;
    time_t                         trash_retention;
    gobi_versions_policy_t         versions;     /* gobi_version_retention */
    ngx_int_t                      mass_delete_limit; /* 0: off */
    ngx_flag_t                     mass_delete_percent; /* limit is a % */
    time_t                         token_ttl;
    ngx_msec_t                     blob_grace;

    ngx_uint_t                     auth_concurrency; /* hashes at once, per
                                                        worker */
    ngx_http_gobi_rate_t           login_limit;  /* failed logins, sign-ups */
    ngx_str_t                      bus_prefix;   /* channel names */

    ngx_path_t                    *tmp_path;     /* upload temp files */
    ngx_array_t                    data_paths;   /* ngx_str_t: folders the
                                                    workers must use */
    ngx_array_t                    api_locations; /* ngx_http_core_loc_conf_t * */
    ngx_flag_t                     enabled;      /* some gobi_* location */
} ngx_http_gobi_main_conf_t;


typedef struct {
    ngx_flag_t                     api;
    ngx_flag_t                     websocket;
    ngx_msec_t                     ws_ping_interval;
    size_t                         ws_max_message;
    size_t                         ws_send_queue;
    ngx_uint_t                     ws_batch;
    ngx_uint_t                     ws_max_replay; /* events, else resync */
    ngx_array_t                   *ws_allowed_origins; /* ngx_str_t; NULL:
                                                          none */
    ngx_flag_t                     web;          /* gobi_web */
    ngx_str_t                      web_root;     /* gobi_web_root, or
                                                    embedded: NULL */
} ngx_http_gobi_loc_conf_t;


/* a gobi_storage line */
typedef struct {
    ngx_str_t                      uri;          /* for logs */
    const gobi_storage_driver_t   *driver;
    ngx_str_t                      arg;          /* what it opens */
} ngx_http_gobi_target_t;


/* the per-worker handles, opened in init_process */
typedef struct {
    gobi_store_t                  *store;
    gobi_blob_t                   *blob;
    gobi_keys_t                   *keys;         /* NULL: not encrypted */
} ngx_http_gobi_worker_t;


typedef enum {
    NGX_HTTP_GOBI_AUTH_NONE = 0,
    NGX_HTTP_GOBI_AUTH_BEARER,
    NGX_HTTP_GOBI_AUTH_BASIC
} ngx_http_gobi_auth_e;


typedef struct ngx_http_gobi_job_s  ngx_http_gobi_job_t;

/* runs in a pool thread: no nginx allocation, no logging */
typedef void (*ngx_http_gobi_run_pt)(ngx_http_gobi_job_t *job);
/* runs in the event loop when the thread is done */
typedef void (*ngx_http_gobi_complete_pt)(ngx_http_gobi_job_t *job);
/* a request's completion; returns what ngx_http_finalize_request() gets */
typedef ngx_int_t (*ngx_http_gobi_done_pt)(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);


/*
 * One request's work.  It lives in the request pool: the request is held
 * (r->main->count, r->main->blocked) while a thread uses it.  Strings are
 * NUL-terminated copies made in the event loop before the task is posted.
 */
struct ngx_http_gobi_job_s {
    ngx_thread_task_t              task;         /* ngx_http_gobi_job_post */
    ngx_http_request_t            *request;      /* NULL: not a request's */
    ngx_http_gobi_main_conf_t     *gmcf;
    gobi_store_t                  *store;
    gobi_blob_t                   *blob;
    gobi_keys_t                   *keys;

    ngx_http_gobi_run_pt           run;
    ngx_http_gobi_complete_pt      complete;
    ngx_http_gobi_done_pt          done;         /* a request's */
    ngx_flag_t                     probe;        /* tries a down store */
    ngx_flag_t                     refused;      /* the store was down */
    ngx_flag_t                     hashing;      /* holds a hashing slot */
    ngx_flag_t                     password_failed; /* counts as a failed
                                                       login */
    ngx_uint_t                     retry_after;  /* s, with a 429 */
    ngx_msec_t                     posted;       /* ngx_current_msec */

    int64_t                        now;          /* unix ms */

    /* credentials */
    ngx_http_gobi_auth_e           auth;
    char                          *token;
    char                          *username;
    char                          *password;
    char                          *new_password;
    gobi_user_t                    user;
    char                           token_hash[GOBI_HASH_HEX_LEN + 1];

    /* target */
    char                          *vault_name;
    gobi_vault_t                   vault;
    char                          *path;
    char                          *from;

    /* inputs */
    char                          *prefix;
    char                          *after;        /* manifest page cursor */
    ngx_flag_t                     include_deleted;
    int64_t                        since;
    int64_t                        limit;
    int64_t                        base_version;  /* GOBI_BASE_ANY */
    int64_t                        mtime;
    char                          *device;
    char                          *hash;         /* X-Gobi-Hash */
    int                            strategy;     /* PATCH vaults/{vault} */
    int64_t                        version;      /* ?version=, restore */
    int64_t                        restore_seq;  /* restore {"seq"} */
    ngx_flag_t                     confirm_mass_delete;

    /* upload: ngx_http_gobi_upload.c */
    void                          *upload;
    gobi_spool_t                  *spool;
    int64_t                        size;
    char                           body_hash[GOBI_HASH_HEX_LEN + 1];
    /* the vault's data key, once job_dk() fetched it */
    unsigned char                  dk[GOBI_CRYPT_KEY_LEN];
    ngx_flag_t                     has_dk;
    /* download: a reader when not sent from a local file */
    gobi_reader_t                 *reader;
    void                          *stream;       /* ngx_http_gobi_stream.c */

    /* outputs */
    ngx_uint_t                     status;
    const char                    *code;         /* error code or NULL */
    char                           message[256];
    yajl_gen                       gen;          /* success body */
    gobi_file_t                    file;
    gobi_event_t                   event;
    char                           blob_path[1024];
    char                           log[512];     /* logged in the loop */
    int64_t                        publish;      /* a seq to announce */
    int                            resolved;     /* gobi_resolve_e done */
    int64_t                        copy_version; /* a conflict copy's */
    char                           copy_path[GOBI_PATH_MAX + 1];
    ngx_uint_t                     log_level;

    /* WebSocket work: the session, and the messages a thread made */
    void                          *ws;
    u_char                        *msgs;         /* see gobi_msgs_add() */
    size_t                         msgs_len;
    size_t                         msgs_cap;
    int64_t                        head;
    int64_t                        replay_max;   /* gobi_ws_max_replay */
    ngx_flag_t                     replay_more;  /* pages left to send */
    char                           op_id[260];
    size_t                         op_id_len;

    /* GET /api/v1/health: what stands (1 ok, 0 down, -1 not known), and
     * the storage targets a check found able to take blobs (-1: none ran) */
    ngx_int_t                      health_store;
    ngx_int_t                      health_storage;
    ngx_int_t                      targets_up;
};


/*
 * The event-loop checks of a route: fill the job from the request (and
 * its JSON body, or NULL).  NGX_OK to go on with the thread work,
 * NGX_DECLINED with the job's error set, NGX_DONE to answer with done()
 * at once (no thread work), or an HTTP status.
 */
typedef ngx_int_t (*ngx_http_gobi_validate_pt)(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);

#define NGX_HTTP_GOBI_ROUTE_PUBLIC  0x01   /* no credentials parsed first */
#define NGX_HTTP_GOBI_ROUTE_JSON    0x02   /* a JSON body */
#define NGX_HTTP_GOBI_ROUTE_BASIC   0x04   /* ... unless Basic, bodyless */
#define NGX_HTTP_GOBI_ROUTE_HASH    0x08   /* checks or makes a password:
                                              ngx_http_gobi_limit.c */
#define NGX_HTTP_GOBI_ROUTE_SIGNUP  0x10   /* counted per address */

/*
 * One endpoint: methods, the path after the API location ("{vault}" one
 * segment, "{path}" the rest), then validate in the loop, run in a pool
 * thread, done in the loop to answer.
 */
typedef struct {
    ngx_uint_t                     methods;
    ngx_str_t                      pattern;
    ngx_uint_t                     flags;
    ngx_http_gobi_validate_pt      validate;     /* may be NULL */
    ngx_http_gobi_run_pt           run;
    ngx_http_gobi_done_pt          done;
} ngx_http_gobi_route_t;

typedef ngx_int_t (*ngx_http_gobi_json_pt)(ngx_http_request_t *r,
    yajl_val json);


/*
 * The module's request context.  The job is allocated apart (it is
 * large): an upgraded WebSocket gives it back, see
 * ngx_http_gobi_ctx_drop_job().
 */
typedef struct {
    ngx_http_gobi_job_t           *job;
    const ngx_http_gobi_route_t   *route;
    ngx_http_gobi_json_pt          json_next;
    off_t                          json_read;    /* body bytes so far */
    void                          *ws;
    ngx_str_t                      error_body;   /* see _errors.c */
    ngx_uint_t                     error_rewrite;
    unsigned                       body_reading:1;  /* a PUT's bytes */
    unsigned                       download:1;   /* file bytes: counted */
} ngx_http_gobi_ctx_t;


#define ngx_http_gobi_get_ctx(r)                                             \
    ((ngx_http_gobi_ctx_t *) ngx_http_get_module_ctx(r, ngx_http_gobi_module))


extern ngx_module_t                ngx_http_gobi_module;
extern ngx_http_gobi_worker_t      ngx_http_gobi_worker;


/*
 * A driver family's table entry: the value's scheme and what the driver
 * opens (see ngx_http_gobi_scheme_find()); driver NULL: a driver this
 * build left out because its library was not found.
 */

#define NGX_HTTP_GOBI_ARG_NONE      0      /* the value is the scheme */
#define NGX_HTTP_GOBI_ARG_URI       1      /* the whole value */
#define NGX_HTTP_GOBI_ARG_FILE      2      /* a file path after the scheme */
#define NGX_HTTP_GOBI_ARG_DIR       3      /* a folder after the scheme */

typedef struct {
    ngx_str_t                      prefix;
    ngx_uint_t                     arg;
    const void                    *driver;
    const char                    *name;
} ngx_http_gobi_scheme_t;


/* ngx_http_gobi_conf.c */
char *ngx_http_gobi_scheme_find(ngx_conf_t *cf, const char *directive,
    const ngx_http_gobi_scheme_t *schemes, const char *expected,
    ngx_str_t *value, const ngx_http_gobi_scheme_t **found, ngx_str_t *arg);
ngx_int_t ngx_http_gobi_add_path(ngx_conf_t *cf, ngx_str_t *name,
    ngx_path_t **out);

/* store/ngx_http_gobi_store.c, storage/ngx_http_gobi_storage.c,
 * bus/ngx_http_gobi_bus.c: the gobi_store, gobi_storage, gobi_bus
 * directives (cmd NULL: the default) */
char *ngx_http_gobi_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_gobi_storage(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_gobi_storage_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gobi_storage_scrub(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gobi_encryption_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gobi_storage_init_conf(ngx_conf_t *cf,
    ngx_http_gobi_main_conf_t *gmcf);
ngx_int_t ngx_http_gobi_storage_init_process(ngx_cycle_t *cycle,
    ngx_http_gobi_main_conf_t *gmcf);
void ngx_http_gobi_storage_exit_process(ngx_cycle_t *cycle);
/* ngx_http_gobi_retention.c: the collector's and the scrub's question,
 * data a job: 1 used, 0 not, -1 unknown (keep it) */
int ngx_http_gobi_blob_referenced(void *data, int64_t vault,
    const char *hash);
/* storage/ngx_http_gobi_upkeep.c: key rotation, the scrub */
ngx_int_t ngx_http_gobi_upkeep_init(ngx_cycle_t *cycle);
const unsigned char *ngx_http_gobi_job_dk(ngx_http_gobi_job_t *job,
    ngx_flag_t *failed);
char *ngx_http_gobi_bus(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_http_gobi_task.c */
ngx_int_t ngx_http_gobi_job_post(ngx_http_gobi_job_t *job,
    ngx_http_gobi_run_pt run, ngx_http_gobi_complete_pt complete,
    ngx_log_t *log);
ngx_int_t ngx_http_gobi_task_post(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, ngx_http_gobi_run_pt run,
    ngx_http_gobi_done_pt done);
int64_t ngx_http_gobi_now_ms(void);
/* a thread works for us: a graceful exit waits (task.c's own tasks and
 * the upload/download windows) */
void ngx_http_gobi_task_hold(void);
void ngx_http_gobi_task_release(void);

/* ngx_http_gobi_upload.c: a PUT's body into the spool */
ngx_int_t ngx_http_gobi_upload_start(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, ngx_http_gobi_run_pt commit,
    ngx_http_gobi_done_pt done);
ngx_int_t ngx_http_gobi_upload_finish(ngx_http_gobi_job_t *job);

/* ngx_http_gobi_stream.c: a blob's plaintext out through pool threads */
ngx_int_t ngx_http_gobi_stream_send(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);

/* ngx_http_gobi_health.c */
ngx_int_t ngx_http_gobi_health_init(ngx_conf_t *cf);
ngx_int_t ngx_http_gobi_health_refuse(ngx_http_gobi_job_t *job);
void ngx_http_gobi_health_outcome(ngx_http_gobi_job_t *job);
ngx_flag_t ngx_http_gobi_health_store_down(void);
ngx_int_t ngx_http_gobi_health_claim(ngx_int_t *store_ok,
    ngx_int_t *storage_ok);
void ngx_http_gobi_health_record(ngx_flag_t store_ok, ngx_int_t storage_ok);

/* ngx_http_gobi_status.c: GET /api/v1/health */
ngx_int_t ngx_http_gobi_status_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_run_status(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_status_done(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);

/*
 * Messages made by a thread for the event loop: records of
 * [int64 seq][size_t len][len bytes], appended with ngx_http_gobi_msgs_add()
 * (malloc'd, freed with the job).
 */
int ngx_http_gobi_msgs_add(ngx_http_gobi_job_t *job, int64_t seq,
    yajl_gen g);
u_char *ngx_http_gobi_msgs_next(ngx_http_gobi_job_t *job, u_char *p,
    int64_t *seq, u_char **msg, size_t *len);
void ngx_http_gobi_job_free_results(ngx_http_gobi_job_t *job);

/* ngx_http_gobi_reply.c */
ngx_int_t ngx_http_gobi_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message);
ngx_int_t ngx_http_gobi_send_gen(ngx_http_request_t *r, ngx_uint_t status,
    yajl_gen gen);
ngx_int_t ngx_http_gobi_add_header(ngx_http_request_t *r, const char *key,
    const char *value);
ngx_int_t ngx_http_gobi_send_job(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
void ngx_http_gobi_job_error(ngx_http_gobi_job_t *job, ngx_uint_t status,
    const char *code, const char *fmt, ...);
void ngx_http_gobi_job_store_error(ngx_http_gobi_job_t *job,
    gobi_store_rc_e rc);
yajl_gen ngx_http_gobi_gen_new(void);
void ngx_http_gobi_gen_str(yajl_gen g, const char *s);
void ngx_http_gobi_gen_int(yajl_gen g, int64_t n);
void ngx_http_gobi_gen_file(yajl_gen g, const gobi_file_t *f, int full);
ngx_int_t ngx_http_gobi_job_gen(ngx_http_gobi_job_t *job);

/* ngx_http_gobi_limit.c */
ngx_int_t ngx_http_gobi_limit_init(ngx_conf_t *cf);
ngx_int_t ngx_http_gobi_limit_init_module(ngx_cycle_t *cycle);
void ngx_http_gobi_limit_init_process(ngx_cycle_t *cycle);
int ngx_http_gobi_hash_begin(void);
void ngx_http_gobi_hash_end(int lowered);
ngx_int_t ngx_http_gobi_limit_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, ngx_uint_t signup);
void ngx_http_gobi_limit_done(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_limit_pause(ngx_http_request_t *r);

/* ngx_http_gobi_auth.c */
char *ngx_http_gobi_strdup(ngx_pool_t *pool, u_char *s, size_t len);
ngx_int_t ngx_http_gobi_auth_parse(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_auth_check(ngx_http_gobi_job_t *job);
int ngx_http_gobi_password_hash(const char *password, char *out);
int ngx_http_gobi_password_verify(const char *hash, const char *password);
ngx_int_t ngx_http_gobi_token_new(ngx_http_gobi_job_t *job, char *token,
    size_t len);
void ngx_http_gobi_token_hash(const char *token, char *hex);

/* ngx_http_gobi_errors.c */
ngx_int_t ngx_http_gobi_errors_init(ngx_conf_t *cf);

/* ngx_http_gobi_access.c: can the worker user use the data folders? */
ngx_int_t ngx_http_gobi_access_check(ngx_cycle_t *cycle);

/* ngx_http_gobi_retention.c */
ngx_int_t ngx_http_gobi_retention_init(ngx_cycle_t *cycle);

/* bus/ngx_http_gobi_bus.c: tell the bus a vault moved on */
void ngx_http_gobi_bus_publish(int64_t vault, int64_t seq);

/* ngx_http_gobi_request.c */
ngx_http_gobi_ctx_t *ngx_http_gobi_ctx_create(ngx_http_request_t *r);
void ngx_http_gobi_ctx_drop_job(ngx_http_request_t *r);
ngx_int_t ngx_http_gobi_route_find(ngx_http_request_t *r,
    const ngx_http_gobi_route_t *routes, ngx_http_gobi_ctx_t *ctx);
ngx_int_t ngx_http_gobi_json_body(ngx_http_request_t *r,
    ngx_http_gobi_json_pt next);
ngx_int_t ngx_http_gobi_body_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_gobi_json_str(ngx_http_gobi_job_t *job, yajl_val json,
    const char *key, char **out, size_t *len);
ngx_table_elt_t *ngx_http_gobi_header_in(ngx_http_request_t *r,
    const char *name);
ngx_int_t ngx_http_gobi_arg_path(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, const char *name, char **out);
ngx_int_t ngx_http_gobi_device(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_file_get_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
ngx_int_t ngx_http_gobi_arg_int(ngx_http_request_t *r, const char *name,
    int64_t *out);

/* ngx_http_gobi_auth.c: the authenticated user's vault (thread side) */
ngx_int_t ngx_http_gobi_job_vault(ngx_http_gobi_job_t *job);

/* ngx_http_gobi_api.c */
ngx_int_t ngx_http_gobi_api_init(ngx_conf_t *cf);
ngx_int_t ngx_http_gobi_api_handler(ngx_http_request_t *r);

/* ngx_http_gobi_account.c: the account routes */
ngx_int_t ngx_http_gobi_user_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_run_user_create(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_session_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_run_session_create(ngx_http_gobi_job_t *job);
void ngx_http_gobi_run_session_delete(ngx_http_gobi_job_t *job);
void ngx_http_gobi_run_sessions_delete(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_password_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_run_password_change(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_account_delete_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_run_account_delete(ngx_http_gobi_job_t *job);

/* ngx_http_gobi_vaults.c: the vault routes */
ngx_int_t ngx_http_gobi_vault_remove(ngx_http_gobi_job_t *job,
    int64_t vault);
ngx_int_t ngx_http_gobi_vault_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
ngx_int_t ngx_http_gobi_vault_deleted(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
void ngx_http_gobi_run_vault_list(ngx_http_gobi_job_t *job);
void ngx_http_gobi_run_vault_create(ngx_http_gobi_job_t *job);
void ngx_http_gobi_run_vault_delete(ngx_http_gobi_job_t *job);

/* ngx_http_gobi_vaults.c: PATCH */
ngx_int_t ngx_http_gobi_vault_patch_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_run_vault_patch(ngx_http_gobi_job_t *job);

/*
 * ngx_http_gobi_resolve.c: a write refused as stale (rc CONFLICT,
 * job->file the current state) under the vault's strategy; thread side.
 * Returns the outcome (OK: job->event is what was written, with
 * job->resolved GOBI_RESOLVE_COPY the conflict copy's job->copy_*) or
 * sets job->code.  job->publish is a seq to announce.
 */
gobi_store_rc_e ngx_http_gobi_resolve(ngx_http_gobi_job_t *job,
    gobi_write_t *w, gobi_store_rc_e rc);
ngx_int_t ngx_http_gobi_mass_delete_check(ngx_http_gobi_job_t *job);
void ngx_http_gobi_gen_copied(ngx_http_gobi_job_t *job);
void ngx_http_gobi_gen_resolved(ngx_http_gobi_job_t *job);

/* ngx_http_gobi_history.c: versions, the trash, restores */
ngx_int_t ngx_http_gobi_history_args(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_run_versions(ngx_http_gobi_job_t *job);
void ngx_http_gobi_run_trash(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_restore_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_run_restore(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_restore_done(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);

/* ngx_http_gobi_files.c: the file routes */
ngx_int_t ngx_http_gobi_file_put_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_file_run_put_check(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_no_room(ngx_http_gobi_job_t *job, off_t need);
ngx_int_t ngx_http_gobi_reader_open(ngx_http_gobi_job_t *job,
    gobi_reader_t *rd, const char *hash, const unsigned char *dk);
ngx_int_t ngx_http_gobi_reader_error(ngx_http_gobi_job_t *job,
    gobi_reader_rc_e rc, const char *err);
void ngx_http_gobi_reader_cleanup(void *data);
ngx_int_t ngx_http_gobi_file_headers(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_send_empty(ngx_http_request_t *r);
ngx_int_t ngx_http_gobi_file_put_read(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
void ngx_http_gobi_file_run_get(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_file_get_done(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_file_delete_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json);
void ngx_http_gobi_file_run_delete(ngx_http_gobi_job_t *job);
ngx_int_t ngx_http_gobi_file_delete_done(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job);


#endif /* _NGX_HTTP_GOBI_MODULE_H_INCLUDED_ */
