
/*
 * Copyright (C) the gobi authors
 *
 * The vaults endpoints: list, create, change (the conflict strategy),
 * delete.
 */


#include "ngx_http_gobi_module.h"

#include <stdio.h>

#include "gobi_path.h"
#include "gobi_strategy.h"


/*
 * Thread side: a vault's records, then its blobs (unreachable once the
 * records are gone; a failure there leaves garbage, never a dangling
 * record).
 */

ngx_int_t
ngx_http_gobi_vault_remove(ngx_http_gobi_job_t *job, int64_t vault)
{
    char             err[256];
    gobi_store_rc_e  rc;

    rc = job->gmcf->store_driver->vault_delete(job->store, vault);
    if (rc != GOBI_STORE_OK && rc != GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_store_error(job, rc);
        return NGX_ERROR;
    }

    if (job->keys) {
        gobi_keys_forget(job->keys, vault);
    }

    if (gobi_blob_remove_vault(job->blob, vault, err, sizeof(err)) != 0) {
        snprintf(job->log, sizeof(job->log),
                 "removing the blobs of vault %lld failed: %s",
                 (long long) vault, err);
        job->log_level = NGX_LOG_WARN;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_gobi_vault_check(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    size_t       nlen;
    char        *name;
    const char  *err;

    if (ngx_http_gobi_json_str(job, json, "name", &name, &nlen) != NGX_OK) {
        return NGX_DECLINED;
    }

    err = gobi_vault_name_check(name, nlen);
    if (err) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST,
                                "invalid_vault_name", "%s", err);
        return NGX_DECLINED;
    }

    job->vault_name = name;

    return NGX_OK;
}


/* ring the vault's subscribers: their next read finds it gone */

ngx_int_t
ngx_http_gobi_vault_deleted(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    if (job->code == NULL) {
        ngx_http_gobi_bus_publish(job->vault.id, job->vault.head_seq + 1);
    }

    return ngx_http_gobi_send_job(r, job);
}


static void
ngx_http_gobi_gen_vault(yajl_gen g, const gobi_vault_t *v)
{
    yajl_gen_map_open(g);
    ngx_http_gobi_gen_str(g, "id");
    ngx_http_gobi_gen_int(g, v->id);
    ngx_http_gobi_gen_str(g, "name");
    ngx_http_gobi_gen_str(g, v->name);
    ngx_http_gobi_gen_str(g, "created_at");
    ngx_http_gobi_gen_int(g, v->created_at);
    ngx_http_gobi_gen_str(g, "head_seq");
    ngx_http_gobi_gen_int(g, v->head_seq);
    ngx_http_gobi_gen_str(g, "conflict_strategy");
    ngx_http_gobi_gen_str(g, gobi_strategy_name(v->strategy));
    yajl_gen_map_close(g);
}


static int
ngx_http_gobi_vault_cb(void *data, const gobi_vault_t *v)
{
    ngx_http_gobi_gen_vault((yajl_gen) data, v);
    return 0;
}


void
ngx_http_gobi_run_vault_list(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK
        || ngx_http_gobi_job_gen(job) != NGX_OK)
    {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "vaults");
    yajl_gen_array_open(job->gen);

    rc = job->gmcf->store_driver->vault_list(job->store, job->user.id,
                                             ngx_http_gobi_vault_cb,
                                             job->gen);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    yajl_gen_array_close(job->gen);
    yajl_gen_map_close(job->gen);
}


void
ngx_http_gobi_run_vault_create(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return;
    }

    rc = job->gmcf->store_driver->vault_create(job->store, job->user.id,
                                               job->vault_name, job->now,
                                               &job->vault);
    if (rc == GOBI_STORE_EXISTS) {
        ngx_http_gobi_job_error(job, NGX_HTTP_CONFLICT, "vault_exists",
                                "you already have a vault of this name");
        return;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    job->status = NGX_HTTP_CREATED;
    ngx_http_gobi_gen_vault(job->gen, &job->vault);
}


/* PATCH: {"conflict_strategy": "..."}, the one setting there is so far */

ngx_int_t
ngx_http_gobi_vault_patch_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json)
{
    size_t             len;
    char              *name;
    gobi_strategy_e    s;

    if (ngx_http_gobi_json_str(job, json, "conflict_strategy", &name, &len)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (gobi_strategy_parse(name, len, &s) != 0) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST,
                                "invalid_strategy",
                                "conflict_strategy is one of keep-both, "
                                "last-writer-wins, server-wins, merge");
        return NGX_DECLINED;
    }

    job->strategy = s;

    return NGX_OK;
}


void
ngx_http_gobi_run_vault_patch(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_job_vault(job) != NGX_OK) {
        return;
    }

    rc = job->gmcf->store_driver->vault_set_strategy(job->store,
                                                     job->vault.id,
                                                     job->strategy);
    if (rc == GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_error(job, NGX_HTTP_NOT_FOUND, "vault_not_found",
                                "no such vault");
        return;
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    job->vault.strategy = job->strategy;
    ngx_http_gobi_gen_vault(job->gen, &job->vault);
}


void
ngx_http_gobi_run_vault_delete(ngx_http_gobi_job_t *job)
{
    if (ngx_http_gobi_job_vault(job) != NGX_OK) {
        return;
    }

    if (ngx_http_gobi_vault_remove(job, job->vault.id) != NGX_OK) {
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "id");
    ngx_http_gobi_gen_int(job->gen, job->vault.id);
    ngx_http_gobi_gen_str(job->gen, "name");
    ngx_http_gobi_gen_str(job->gen, job->vault.name);
    ngx_http_gobi_gen_str(job->gen, "deleted");
    yajl_gen_bool(job->gen, 1);
    yajl_gen_map_close(job->gen);
}
