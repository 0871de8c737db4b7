
/*
 * Copyright (C) the gobi authors
 *
 * Accounts and sessions: sign-up, log in, log out (one token or all),
 * change the password, delete the account.  Every route here that checks
 * a password is limited first (ngx_http_gobi_limit.c).
 */


#include "ngx_http_gobi_module.h"

#include <sodium.h>
#include <stdlib.h>

#include "gobi_path.h"


typedef struct {
    int64_t   *ids;
    size_t     n;
    size_t     cap;
} ngx_http_gobi_ids_t;


static ngx_int_t ngx_http_gobi_password_field(ngx_http_gobi_job_t *job,
    yajl_val json, const char *key, char **out);
static ngx_int_t ngx_http_gobi_password_again(ngx_http_gobi_job_t *job);
static int ngx_http_gobi_vault_id_cb(void *data, const gobi_vault_t *v);
static void ngx_http_gobi_gen_revoked(ngx_http_gobi_job_t *job,
    const char *key, int64_t revoked);


ngx_int_t
ngx_http_gobi_user_check(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    size_t       ulen, plen;
    char        *username, *password;
    const char  *err;

    if (!job->gmcf->registration) {
        ngx_http_gobi_job_error(job, NGX_HTTP_FORBIDDEN,
                                "registration_closed",
                                "registration is disabled");
        return NGX_DECLINED;
    }

    if (ngx_http_gobi_json_str(job, json, "username", &username, &ulen)
        != NGX_OK
        || ngx_http_gobi_json_str(job, json, "password", &password, &plen)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    err = gobi_username_check(username, ulen);
    if (err) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST,
                                "invalid_username", "%s", err);
        return NGX_DECLINED;
    }

    if (plen < 8 || plen > 1024) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST,
                                "invalid_password",
                                "password must be 8-1024 bytes");
        return NGX_DECLINED;
    }

    job->username = username;
    job->password = password;

    return NGX_OK;
}


/* Basic credentials, or a JSON body with them */

ngx_int_t
ngx_http_gobi_session_check(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    size_t      ulen, plen;
    char       *username, *password;
    ngx_int_t   rc;

    if (json) {
        if (ngx_http_gobi_json_str(job, json, "username", &username, &ulen)
            != NGX_OK
            || ngx_http_gobi_json_str(job, json, "password", &password,
                                      &plen)
               != NGX_OK)
        {
            return NGX_DECLINED;
        }

        job->username = username;
        job->password = password;
        job->auth = NGX_HTTP_GOBI_AUTH_BASIC;

        return NGX_OK;
    }

    rc = ngx_http_gobi_auth_parse(r, job);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED || job->auth != NGX_HTTP_GOBI_AUTH_BASIC) {
        ngx_http_gobi_job_error(job, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                "username and password required");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


void
ngx_http_gobi_run_user_create(ngx_http_gobi_job_t *job)
{
    char             pwhash[GOBI_PWHASH_MAX];
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_password_hash(job->password, pwhash) != 0) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "password hashing failed");
        return;
    }

    rc = job->gmcf->store_driver->user_create(job->store, job->username,
                                              pwhash, job->now, &job->user);
    if (rc == GOBI_STORE_EXISTS) {
        ngx_http_gobi_job_error(job, NGX_HTTP_CONFLICT, "user_exists",
                                "this username is taken");
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

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "id");
    ngx_http_gobi_gen_int(job->gen, job->user.id);
    ngx_http_gobi_gen_str(job->gen, "username");
    ngx_http_gobi_gen_str(job->gen, job->user.username);
    yajl_gen_map_close(job->gen);
}


void
ngx_http_gobi_run_session_create(ngx_http_gobi_job_t *job)
{
    char             token[64];
    int64_t          expires;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return;
    }

    if (ngx_http_gobi_token_new(job, token, sizeof(token)) != NGX_OK) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "token generation failed");
        return;
    }

    expires = job->now + (int64_t) job->gmcf->token_ttl * 1000;

    rc = job->gmcf->store_driver->token_create(job->store, job->token_hash,
                                               job->user.id, job->now,
                                               expires);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    job->status = NGX_HTTP_CREATED;

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "token");
    ngx_http_gobi_gen_str(job->gen, token);
    ngx_http_gobi_gen_str(job->gen, "expires_at");
    ngx_http_gobi_gen_int(job->gen, expires);
    ngx_http_gobi_gen_str(job->gen, "user");
    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "id");
    ngx_http_gobi_gen_int(job->gen, job->user.id);
    ngx_http_gobi_gen_str(job->gen, "username");
    ngx_http_gobi_gen_str(job->gen, job->user.username);
    yajl_gen_map_close(job->gen);
    yajl_gen_map_close(job->gen);

    sodium_memzero(token, sizeof(token));
}


void
ngx_http_gobi_run_session_delete(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return;
    }

    rc = job->gmcf->store_driver->token_delete(job->store, job->token_hash);
    if (rc != GOBI_STORE_OK && rc != GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "revoked");
    yajl_gen_bool(job->gen, 1);
    yajl_gen_map_close(job->gen);
}


/* a password in a JSON body: 8-1024 bytes */

static ngx_int_t
ngx_http_gobi_password_field(ngx_http_gobi_job_t *job, yajl_val json,
    const char *key, char **out)
{
    size_t  len;

    if (ngx_http_gobi_json_str(job, json, key, out, &len) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (len < 8 || len > 1024) {
        ngx_http_gobi_job_error(job, NGX_HTTP_BAD_REQUEST,
                                "invalid_password",
                                "\"%s\" must be 8-1024 bytes", key);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* PUT users/me/password {"password", "new_password"} */

ngx_int_t
ngx_http_gobi_password_check(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    yajl_val json)
{
    if (ngx_http_gobi_password_field(job, json, "password", &job->password)
        != NGX_OK
        || ngx_http_gobi_password_field(job, json, "new_password",
                                        &job->new_password)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* DELETE users/me {"password"} */

ngx_int_t
ngx_http_gobi_account_delete_check(ngx_http_request_t *r,
    ngx_http_gobi_job_t *job, yajl_val json)
{
    return ngx_http_gobi_password_field(job, json, "password",
                                        &job->password);
}


/*
 * Thread side: the token's user must also know the password (a stolen
 * token alone can neither lock the owner out nor delete everything).
 * A wrong one counts as a failed login of that username.
 */

static ngx_int_t
ngx_http_gobi_password_again(ngx_http_gobi_job_t *job)
{
    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return NGX_ERROR;
    }

    job->username = job->user.username;

    if (!ngx_http_gobi_password_verify(job->user.pwhash, job->password)) {
        job->password_failed = 1;
        ngx_http_gobi_job_error(job, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                "wrong password");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_gobi_gen_revoked(ngx_http_gobi_job_t *job, const char *key,
    int64_t revoked)
{
    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, key);
    yajl_gen_bool(job->gen, 1);
    ngx_http_gobi_gen_str(job->gen, "revoked");
    ngx_http_gobi_gen_int(job->gen, revoked);
    yajl_gen_map_close(job->gen);
}


/* DELETE sessions: log out everywhere, this token included */

void
ngx_http_gobi_run_sessions_delete(ngx_http_gobi_job_t *job)
{
    int64_t          removed;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return;
    }

    removed = 0;

    rc = job->gmcf->store_driver->token_delete_user(job->store, job->user.id,
                                                    NULL, &removed);
    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    ngx_http_gobi_gen_revoked(job, "logged_out", removed);
}


/* the new password, then every other session ends */

void
ngx_http_gobi_run_password_change(ngx_http_gobi_job_t *job)
{
    char             pwhash[GOBI_PWHASH_MAX];
    int64_t          removed;
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_password_again(job) != NGX_OK) {
        return;
    }

    if (ngx_http_gobi_password_hash(job->new_password, pwhash) != 0) {
        ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", "password hashing failed");
        return;
    }

    rc = job->gmcf->store_driver->user_set_password(job->store, job->user.id,
                                                    pwhash);
    if (rc == GOBI_STORE_OK) {
        removed = 0;
        rc = job->gmcf->store_driver->token_delete_user(job->store,
                                                        job->user.id,
                                                        job->token_hash,
                                                        &removed);
    }

    if (rc != GOBI_STORE_OK) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    ngx_http_gobi_gen_revoked(job, "changed", removed);
}


static int
ngx_http_gobi_vault_id_cb(void *data, const gobi_vault_t *v)
{
    int64_t              *p;
    ngx_http_gobi_ids_t  *ids = data;

    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 16;

        p = realloc(ids->ids, ids->cap * sizeof(int64_t));
        if (p == NULL) {
            return 1;
        }

        ids->ids = p;
    }

    ids->ids[ids->n++] = v->id;

    return 0;
}


/*
 * The sessions end first (nothing acts for the account while it goes),
 * then each vault with its blobs, then the user.  A failure half way
 * leaves an account with fewer vaults and no sessions: logging in and
 * deleting again finishes it.
 */

void
ngx_http_gobi_run_account_delete(ngx_http_gobi_job_t *job)
{
    size_t                      i;
    int64_t                     removed;
    gobi_store_rc_e             rc;
    ngx_http_gobi_ids_t         ids;
    const gobi_store_driver_t  *drv;

    if (ngx_http_gobi_password_again(job) != NGX_OK) {
        return;
    }

    drv = job->gmcf->store_driver;
    ngx_memzero(&ids, sizeof(ngx_http_gobi_ids_t));
    removed = 0;

    rc = drv->token_delete_user(job->store, job->user.id, NULL, &removed);

    if (rc == GOBI_STORE_OK) {
        rc = drv->vault_list(job->store, job->user.id,
                             ngx_http_gobi_vault_id_cb, &ids);
    }

    if (rc != GOBI_STORE_OK) {
        free(ids.ids);
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    for (i = 0; i < ids.n; i++) {
        if (ngx_http_gobi_vault_remove(job, ids.ids[i]) != NGX_OK) {
            free(ids.ids);
            return;
        }
    }

    free(ids.ids);

    rc = drv->user_delete(job->store, job->user.id);
    if (rc != GOBI_STORE_OK && rc != GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_store_error(job, rc);
        return;
    }

    if (ngx_http_gobi_job_gen(job) != NGX_OK) {
        return;
    }

    yajl_gen_map_open(job->gen);
    ngx_http_gobi_gen_str(job->gen, "deleted");
    yajl_gen_bool(job->gen, 1);
    ngx_http_gobi_gen_str(job->gen, "username");
    ngx_http_gobi_gen_str(job->gen, job->user.username);
    ngx_http_gobi_gen_str(job->gen, "vaults");
    ngx_http_gobi_gen_int(job->gen, (int64_t) i);
    yajl_gen_map_close(job->gen);
}
