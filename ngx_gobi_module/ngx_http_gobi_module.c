
/*
 * Copyright (C) the gobi authors
 *
 * The module: directives, configuration, per-worker start and stop.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_bus.h"
#include "ngx_http_gobi_ws.h"
#include "ngx_http_gobi_metrics.h"
#include "ngx_http_gobi_web.h"

#include <sodium.h>


static void *ngx_http_gobi_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_gobi_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_gobi_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gobi_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_gobi_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_gobi_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gobi_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gobi_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gobi_version_retention(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gobi_mass_delete_limit(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gobi_websocket(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_gobi_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_gobi_init_process(ngx_cycle_t *cycle);
static void ngx_http_gobi_exit_process(ngx_cycle_t *cycle);


ngx_http_gobi_worker_t  ngx_http_gobi_worker;

static ngx_conf_num_bounds_t  ngx_http_gobi_quorum_bounds = {
    ngx_conf_check_num_bounds, 1, GOBI_BLOB_TARGETS_MAX
};


static ngx_command_t  ngx_http_gobi_commands[] = {

    { ngx_string("gobi_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_storage"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_storage,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_storage_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_storage_credentials,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_storage_quorum"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, storage_quorum),
      &ngx_http_gobi_quorum_bounds },

    { ngx_string("gobi_storage_scrub"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_storage_scrub,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    /* the offset tells the two apart */
    { ngx_string("gobi_encryption_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_encryption_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_encryption_key_old"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_encryption_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      1,
      NULL },

    { ngx_string("gobi_bus"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_bus,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, thread_pool_name),
      NULL },

    { ngx_string("gobi_registration"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, registration),
      NULL },

    { ngx_string("gobi_max_file_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, max_file_size),
      NULL },

    { ngx_string("gobi_event_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, event_retention),
      NULL },

    { ngx_string("gobi_version_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_gobi_version_retention,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_trash_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, trash_retention),
      NULL },

    { ngx_string("gobi_mass_delete_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_mass_delete_limit,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_blob_grace"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, blob_grace),
      NULL },

    { ngx_string("gobi_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, token_ttl),
      NULL },

    { ngx_string("gobi_auth_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, auth_concurrency),
      NULL },

    { ngx_string("gobi_auth_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, auth_pool_name),
      NULL },

    { ngx_string("gobi_login_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_rate,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, login_limit),
      NULL },

    { ngx_string("gobi_bus_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gobi_main_conf_t, bus_prefix),
      NULL },

    { ngx_string("gobi_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gobi_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_websocket"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gobi_websocket,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gobi_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_web"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gobi_web,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_web_root"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gobi_web_root,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gobi_ws_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gobi_loc_conf_t, ws_ping_interval),
      NULL },

    { ngx_string("gobi_ws_max_message"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gobi_loc_conf_t, ws_max_message),
      NULL },

    { ngx_string("gobi_ws_send_queue"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gobi_loc_conf_t, ws_send_queue),
      NULL },

    { ngx_string("gobi_ws_batch"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gobi_loc_conf_t, ws_batch),
      NULL },

    { ngx_string("gobi_ws_max_replay"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gobi_loc_conf_t, ws_max_replay),
      NULL },

    { ngx_string("gobi_ws_allowed_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_gobi_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gobi_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_gobi_postconfiguration,       /* postconfiguration */

    ngx_http_gobi_create_main_conf,        /* create main configuration */
    ngx_http_gobi_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gobi_create_loc_conf,         /* create location configuration */
    ngx_http_gobi_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_gobi_module = {
    NGX_MODULE_V1,
    &ngx_http_gobi_module_ctx,             /* module context */
    ngx_http_gobi_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_gobi_init_module,             /* init module */
    ngx_http_gobi_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_gobi_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_gobi_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gobi_main_conf_t));
    if (gmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     gmcf->store_uri = { 0, NULL };
     *     gmcf->store_driver = NULL;
     *     gmcf->storage_credentials = { 0, NULL };
     *     gmcf->storage_spool = { 0, NULL };
     *     gmcf->encryption_key = NULL;
     *     gmcf->encryption_key_old = NULL;
     *     gmcf->bus_uri = { 0, NULL };
     *     gmcf->thread_pool_name = { 0, NULL };
     *     gmcf->thread_pool = NULL;
     *     gmcf->tmp_path = NULL;
     *     gmcf->enabled = 0;
     */

    gmcf->registration = NGX_CONF_UNSET;
    gmcf->max_file_size = NGX_CONF_UNSET;
    gmcf->event_retention = NGX_CONF_UNSET;
    gmcf->trash_retention = NGX_CONF_UNSET;
    gmcf->versions.kind = (gobi_versions_kind_e) -1;
    gmcf->mass_delete_limit = NGX_CONF_UNSET;
    gmcf->token_ttl = NGX_CONF_UNSET;
    gmcf->blob_grace = NGX_CONF_UNSET_MSEC;
    gmcf->auth_concurrency = NGX_CONF_UNSET_UINT;
    gmcf->login_limit.count = NGX_CONF_UNSET_UINT;
    gmcf->storage_quorum = NGX_CONF_UNSET_UINT;
    gmcf->storage_scrub = NGX_CONF_UNSET_MSEC;

    if (ngx_array_init(&gmcf->storage, cf->pool, 2,
                       sizeof(ngx_http_gobi_target_t))
        != NGX_OK
        || ngx_array_init(&gmcf->api_locations, cf->pool, 4,
                       sizeof(ngx_http_core_loc_conf_t *))
        != NGX_OK
        || ngx_array_init(&gmcf->data_paths, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    return gmcf;
}


static char *
ngx_http_gobi_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    if (!gmcf->enabled && gmcf->store_uri.data == NULL) {
        /* loaded but unused: create no folders */
        return NGX_CONF_OK;
    }

    if (gmcf->store_uri.data == NULL) {
        if (ngx_http_gobi_store(cf, NULL, gmcf) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_gobi_storage_init_conf(cf, gmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (gmcf->bus_uri.data == NULL) {
        if (ngx_http_gobi_bus(cf, NULL, gmcf) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (gmcf->thread_pool_name.data == NULL) {
        ngx_str_set(&gmcf->thread_pool_name, "gobi");
    }

    ngx_conf_init_value(gmcf->registration, 1);
    if (gmcf->max_file_size == NGX_CONF_UNSET) {
        gmcf->max_file_size = 1024 * 1024 * 1024;
    }
    ngx_conf_init_value(gmcf->event_retention, 365 * 86400);
    ngx_conf_init_value(gmcf->trash_retention, 30 * 86400);

    if ((int) gmcf->versions.kind == -1) {
        gmcf->versions.kind = GOBI_VERSIONS_STAGGERED;
    }

    /* history is kept as long as the log, the trash as configured */
    gmcf->versions.max_age = (int64_t) gmcf->event_retention * 1000;
    gmcf->versions.trash = (int64_t) gmcf->trash_retention * 1000;

    if (gmcf->mass_delete_limit == NGX_CONF_UNSET) {
        gmcf->mass_delete_limit = 50;
        gmcf->mass_delete_percent = 1;
    }
    ngx_conf_init_value(gmcf->token_ttl, 30 * 86400);
    ngx_conf_init_msec_value(gmcf->blob_grace, 3600 * 1000);

    if (gmcf->login_limit.count == NGX_CONF_UNSET_UINT) {
        gmcf->login_limit.count = 10;
        gmcf->login_limit.period = 60000;
    }

    if (gmcf->bus_prefix.data == NULL) {
        ngx_str_set(&gmcf->bus_prefix, "gobi");
    }

    if (gmcf->auth_concurrency == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_auth_concurrency\" must be positive");
        return NGX_CONF_ERROR;
    }

    if (gmcf->max_file_size <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_max_file_size\" must be positive");
        return NGX_CONF_ERROR;
    }

    if (gmcf->event_retention <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_event_retention\" must be positive");
        return NGX_CONF_ERROR;
    }

    if (gmcf->token_ttl <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_token_ttl\" must be positive");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_gobi_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gobi_loc_conf_t  *glcf;

    glcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gobi_loc_conf_t));
    if (glcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     glcf->web_root = { 0, NULL };
     */

    glcf->api = NGX_CONF_UNSET;
    glcf->websocket = NGX_CONF_UNSET;
    glcf->web = NGX_CONF_UNSET;
    glcf->ws_ping_interval = NGX_CONF_UNSET_MSEC;
    glcf->ws_max_message = NGX_CONF_UNSET_SIZE;
    glcf->ws_send_queue = NGX_CONF_UNSET_SIZE;
    glcf->ws_batch = NGX_CONF_UNSET_UINT;
    glcf->ws_max_replay = NGX_CONF_UNSET_UINT;
    glcf->ws_allowed_origins = NGX_CONF_UNSET_PTR;

    return glcf;
}


static char *
ngx_http_gobi_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_gobi_loc_conf_t *prev = parent;
    ngx_http_gobi_loc_conf_t *conf = child;

    /* handlers are not inherited by nested locations, as in nginx */
    ngx_conf_init_value(conf->api, 0);
    ngx_conf_init_value(conf->websocket, 0);
    ngx_conf_init_value(conf->web, 0);

    /* gobi_web_root is not inherited either: it belongs to its gobi_web */
    if (conf->web_root.data && !conf->web) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_web_root\" needs \"gobi_web\" in the "
                           "same location");
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_msec_value(conf->ws_ping_interval, prev->ws_ping_interval,
                              30000);
    /* the JSON limit of a client message (GOBI_WSMSG_MAX_SIZE) */
    ngx_conf_merge_size_value(conf->ws_max_message, prev->ws_max_message,
                              64 * 1024);
    ngx_conf_merge_size_value(conf->ws_send_queue, prev->ws_send_queue,
                              4 * 1024 * 1024);
    ngx_conf_merge_uint_value(conf->ws_batch, prev->ws_batch, 500);
    ngx_conf_merge_uint_value(conf->ws_max_replay, prev->ws_max_replay,
                              100000);
    ngx_conf_merge_ptr_value(conf->ws_allowed_origins,
                             prev->ws_allowed_origins, NULL);

    if (conf->ws_max_message < 125) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_ws_max_message\" must be at least 125");
        return NGX_CONF_ERROR;
    }

    if (conf->ws_send_queue < conf->ws_max_message) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_ws_send_queue\" must be at least "
                           "\"gobi_ws_max_message\"");
        return NGX_CONF_ERROR;
    }

    if (conf->ws_batch < 1 || conf->ws_batch > 10000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_ws_batch\" must be 1-10000");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_gobi_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_loc_conf_t *glcf = conf;

    ngx_http_core_loc_conf_t   *clcf, **clcfp;
    ngx_http_gobi_main_conf_t  *gmcf;

    if (glcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    glcf->api = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_gobi_api_handler;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gobi_module);
    gmcf->enabled = 1;

    clcfp = ngx_array_push(&gmcf->api_locations);
    if (clcfp == NULL) {
        return NGX_CONF_ERROR;
    }

    *clcfp = clcf;

    return NGX_CONF_OK;
}


static char *
ngx_http_gobi_websocket(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_loc_conf_t *glcf = conf;

    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_gobi_main_conf_t  *gmcf;

    if (glcf->websocket != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    glcf->websocket = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_gobi_ws_handler;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gobi_module);
    gmcf->enabled = 1;

    return NGX_CONF_OK;
}


/* gobi_login_limit N/s | N/m | N/h */

static char *
ngx_http_gobi_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char               *slash;
    ngx_int_t             n;
    ngx_str_t            *value;
    ngx_http_gobi_rate_t *rate;

    rate = (ngx_http_gobi_rate_t *) (p + cmd->offset);

    if (rate->count != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    slash = ngx_strlchr(value[1].data, value[1].data + value[1].len, '/');
    if (slash == NULL || value[1].data + value[1].len - slash != 2) {
        goto invalid;
    }

    n = ngx_atoi(value[1].data, slash - value[1].data);
    if (n <= 0) {
        goto invalid;
    }

    switch (slash[1]) {
    case 's':
        rate->period = 1000;
        break;
    case 'm':
        rate->period = 60000;
        break;
    case 'h':
        rate->period = 3600000;
        break;
    default:
        goto invalid;
    }

    rate->count = n;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid rate \"%V\", expected N/s, N/m or N/h",
                       &value[1]);
    return NGX_CONF_ERROR;
}


/* gobi_version_retention staggered | keep N | off */

static char *
ngx_http_gobi_version_retention(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if ((int) gmcf->versions.kind != -1) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "staggered") == 0) {
        gmcf->versions.kind = GOBI_VERSIONS_STAGGERED;
        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        gmcf->versions.kind = GOBI_VERSIONS_OFF;
        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 3 && ngx_strcmp(value[1].data, "keep") == 0) {
        n = ngx_atoi(value[2].data, value[2].len);

        if (n >= 1) {
            gmcf->versions.kind = GOBI_VERSIONS_KEEP;
            gmcf->versions.keep = n;
            return NGX_CONF_OK;
        }
    }

    return "takes \"staggered\", \"keep N\" (N >= 1) or \"off\"";
}


/* gobi_mass_delete_limit 50% | 200 | off */

static char *
ngx_http_gobi_mass_delete_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (gmcf->mass_delete_limit != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        gmcf->mass_delete_limit = 0;
        return NGX_CONF_OK;
    }

    if (value[1].len > 1 && value[1].data[value[1].len - 1] == '%') {
        n = ngx_atoi(value[1].data, value[1].len - 1);

        if (n >= 1 && n <= 100) {
            gmcf->mass_delete_limit = n;
            gmcf->mass_delete_percent = 1;
            return NGX_CONF_OK;
        }

        return "takes a percentage of 1-100%, a count or \"off\"";
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1) {
        return "takes a percentage of 1-100%, a count or \"off\"";
    }

    gmcf->mass_delete_limit = n;
    gmcf->mass_delete_percent = 0;

    return NGX_CONF_OK;
}


/* gobi_ws_allowed_origins https://a.example https://b.example | none */

static char *
ngx_http_gobi_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_loc_conf_t *glcf = conf;

    ngx_str_t   *value, *origin;
    ngx_uint_t   i;

    if (glcf->ws_allowed_origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "none") == 0) {
        glcf->ws_allowed_origins = NULL;
        return NGX_CONF_OK;
    }

    glcf->ws_allowed_origins = ngx_array_create(cf->pool, cf->args->nelts,
                                                sizeof(ngx_str_t));
    if (glcf->ws_allowed_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0 || value[i].data[value[i].len - 1] == '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\", expected "
                               "scheme://host[:port]", &value[i]);
            return NGX_CONF_ERROR;
        }

        origin = ngx_array_push(glcf->ws_allowed_origins);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = value[i];
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gobi_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_http_core_loc_conf_t  **clcfp;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gobi_module);

    if (!gmcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_gobi_errors_init(cf) != NGX_OK
        || ngx_http_gobi_metrics_init(cf) != NGX_OK
        || ngx_http_gobi_api_init(cf) != NGX_OK
        || ngx_http_gobi_health_init(cf) != NGX_OK
        || ngx_http_gobi_limit_init(cf) != NGX_OK
        || ngx_http_gobi_body_filter_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    gmcf->thread_pool = ngx_thread_pool_add(cf, &gmcf->thread_pool_name);
    if (gmcf->thread_pool == NULL) {
        return NGX_ERROR;
    }

    /* password hashes: a pool of their own, or a share of the main one */

    if (gmcf->auth_pool_name.data) {
        gmcf->auth_pool = ngx_thread_pool_add(cf, &gmcf->auth_pool_name);
        if (gmcf->auth_pool == NULL) {
            return NGX_ERROR;
        }

    } else {
        gmcf->auth_pool = gmcf->thread_pool;
        gmcf->auth_pool_name = gmcf->thread_pool_name;
    }

    if (gmcf->bus->configure(cf, &gmcf->bus_uri) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * Request bodies of gobi locations go to the storage's temp folder,
     * and nginx's own body size limit follows gobi_max_file_size (our
     * handler answers 413 in JSON when Content-Length is known).
     */

    clcfp = gmcf->api_locations.elts;

    for (i = 0; i < gmcf->api_locations.nelts; i++) {
        clcfp[i]->client_body_temp_path = gmcf->tmp_path;
        clcfp[i]->client_max_body_size = gmcf->max_file_size;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_init_module(ngx_cycle_t *cycle)
{
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gobi_module);
    if (gmcf == NULL || !gmcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_gobi_access_check(cycle) != NGX_OK
        || ngx_http_gobi_limit_init_module(cycle) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return gmcf->bus->init_module(cycle);
}


static ngx_int_t
ngx_http_gobi_init_process(ngx_cycle_t *cycle)
{
    char                        err[256];
    ngx_uint_t                  level;
    gobi_store_rc_e             rc;
    ngx_http_gobi_main_conf_t  *gmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gobi_module);
    if (gmcf == NULL || !gmcf->enabled) {
        return NGX_OK;
    }

    ngx_http_gobi_metrics_init_process();

    if (sodium_init() < 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gobi: sodium_init() failed");
        return NGX_ERROR;
    }

    if (ngx_http_gobi_storage_init_process(cycle, gmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    err[0] = '\0';

    ngx_http_gobi_worker.store = gmcf->store_driver->open(
                              (char *) gmcf->store_arg.data,
                              err, sizeof(err));
    if (ngx_http_gobi_worker.store == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gobi: store \"%V\": %s", &gmcf->store_uri, err);
        return NGX_ERROR;
    }

    /*
     * Idempotent; run by the workers (not the master) so that the files
     * it creates belong to the worker user.  A database that is down is
     * not fatal: requests answer 503 until it is back.
     */

    rc = gmcf->store_driver->init_schema(ngx_http_gobi_worker.store);
    if (rc != GOBI_STORE_OK) {
        level = (rc == GOBI_STORE_UNAVAILABLE) ? NGX_LOG_WARN : NGX_LOG_EMERG;

        ngx_log_error(level, cycle->log, 0, "gobi: store \"%V\": %s",
                      &gmcf->store_uri,
                      gmcf->store_driver->errmsg(ngx_http_gobi_worker.store));

        if (rc != GOBI_STORE_UNAVAILABLE) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_gobi_retention_init(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_gobi_upkeep_init(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_gobi_limit_init_process(cycle);

    return gmcf->bus->init_process(cycle);
}


static void
ngx_http_gobi_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gobi_module);
    if (gmcf == NULL || !gmcf->enabled) {
        return;
    }

    gmcf->bus->exit_process(cycle);

    if (ngx_http_gobi_worker.store) {
        gmcf->store_driver->close(ngx_http_gobi_worker.store);
        ngx_http_gobi_worker.store = NULL;
    }

    ngx_http_gobi_storage_exit_process(cycle);
}
