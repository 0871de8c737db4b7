
/*
 * Copyright (C) the gobi authors
 *
 * Credentials: "Authorization: Bearer <token>" or Basic, parsed in the
 * event loop, checked in a pool thread (argon2id and the store block).
 * Basic is for the logins only (ngx_http_gobi_auth_bearer()).
 * Tokens are 32 random bytes, stored only as their BLAKE2b-256 hash.
 */


#include "ngx_http_gobi_module.h"

#include <pthread.h>
#include <sodium.h>

#include "gobi_hash.h"


#define NGX_HTTP_GOBI_TOKEN_BYTES  32


static pthread_once_t  ngx_http_gobi_dummy_once = PTHREAD_ONCE_INIT;
static char            ngx_http_gobi_dummy_hash[crypto_pwhash_STRBYTES];


static char *
ngx_http_gobi_strdup(ngx_pool_t *pool, u_char *s, size_t len)
{
    char  *p;

    p = ngx_pnalloc(pool, len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


/* no NUL or other control bytes (they would cut or bend the strings) */

static ngx_uint_t
ngx_http_gobi_printable(u_char *p, size_t len)
{
    u_char  *last;

    for (last = p + len; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_http_gobi_auth_parse(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    u_char     *colon;
    ngx_str_t   value, decoded;

    if (r->headers_in.authorization == NULL) {
        return NGX_DECLINED;
    }

    value = r->headers_in.authorization->value;

    if (value.len > 7 && ngx_strncasecmp(value.data, (u_char *) "Bearer ", 7)
                         == 0)
    {
        value.data += 7;
        value.len -= 7;

        while (value.len && value.data[0] == ' ') {
            value.data++;
            value.len--;
        }

        if (value.len == 0 || value.len > 256) {
            return NGX_DECLINED;
        }

        job->token = ngx_http_gobi_strdup(r->pool, value.data, value.len);
        if (job->token == NULL) {
            return NGX_ERROR;
        }

        job->auth = NGX_HTTP_GOBI_AUTH_BEARER;
        return NGX_OK;
    }

    if (value.len > 6 && ngx_strncasecmp(value.data, (u_char *) "Basic ", 6)
                         == 0)
    {
        value.data += 6;
        value.len -= 6;

        while (value.len && value.data[0] == ' ') {
            value.data++;
            value.len--;
        }

        if (value.len == 0 || value.len > 4096) {
            return NGX_DECLINED;
        }

        decoded.len = ngx_base64_decoded_length(value.len);
        decoded.data = ngx_pnalloc(r->pool, decoded.len + 1);
        if (decoded.data == NULL) {
            return NGX_ERROR;
        }

        if (ngx_decode_base64(&decoded, &value) != NGX_OK) {
            return NGX_DECLINED;
        }

        colon = ngx_strlchr(decoded.data, decoded.data + decoded.len, ':');
        if (colon == NULL
            || colon - decoded.data > GOBI_USERNAME_MAX
            || !ngx_http_gobi_printable(decoded.data, decoded.len))
        {
            /* no such user can exist: refused without hashing */
            return NGX_DECLINED;
        }

        job->username = ngx_http_gobi_strdup(r->pool, decoded.data,
                                             colon - decoded.data);
        job->password = ngx_http_gobi_strdup(r->pool, colon + 1,
                                 decoded.data + decoded.len - colon - 1);
        if (job->username == NULL || job->password == NULL) {
            return NGX_ERROR;
        }

        job->auth = NGX_HTTP_GOBI_AUTH_BASIC;
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * The credentials of every endpoint but the logins: a Bearer token, or
 * `arg` (the WebSocket's ?access_token=, NULL elsewhere) when there is no
 * Authorization header.  A password check costs an argon2id, so only the
 * logins may ask one: Basic is refused here, unchecked.  NGX_OK, NGX_ERROR,
 * or NGX_DECLINED with the 401 in the job.
 */

ngx_int_t
ngx_http_gobi_auth_bearer(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    ngx_str_t *arg)
{
    ngx_int_t  rc;

    rc = ngx_http_gobi_auth_parse(r, job);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK && job->auth == NGX_HTTP_GOBI_AUTH_BASIC) {
        job->auth = NGX_HTTP_GOBI_AUTH_NONE;
        job->username = NULL;
        job->password = NULL;

        ngx_http_gobi_job_error(job, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                "HTTP Basic is accepted only by "
                                "POST /api/v1/sessions; send its token "
                                "as Bearer");
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED && r->headers_in.authorization == NULL
        && arg && arg->len > 0 && arg->len <= 256)
    {
        /* tokens are url-safe base64: nothing to unescape */
        job->token = ngx_http_gobi_strdup(r->pool, arg->data, arg->len);
        if (job->token == NULL) {
            return NGX_ERROR;
        }

        job->auth = NGX_HTTP_GOBI_AUTH_BEARER;
        return NGX_OK;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_gobi_job_error(job, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                "missing or invalid credentials");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* argon2id, at a low priority (ngx_http_gobi_limit.c) */

int
ngx_http_gobi_password_hash(const char *password, char *out)
{
    int  rc, low;

    low = ngx_http_gobi_hash_begin();
    rc = crypto_pwhash_str(out, password, strlen(password),
                           crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE);
    ngx_http_gobi_hash_end(low);

    return rc;
}


int
ngx_http_gobi_password_verify(const char *hash, const char *password)
{
    int  rc, low;

    low = ngx_http_gobi_hash_begin();
    rc = crypto_pwhash_str_verify(hash, password, strlen(password));
    ngx_http_gobi_hash_end(low);

    return rc == 0;
}


static void
ngx_http_gobi_dummy_init(void)
{
    (void) ngx_http_gobi_password_hash("gobi dummy password",
                                       ngx_http_gobi_dummy_hash);
}


void
ngx_http_gobi_token_hash(const char *token, char *hex)
{
    gobi_hash_buf(token, strlen(token), hex);
}


/* a new session token for job->user: 43 url-safe base64 characters */

ngx_int_t
ngx_http_gobi_token_new(ngx_http_gobi_job_t *job, char *token, size_t len)
{
    unsigned char  raw[NGX_HTTP_GOBI_TOKEN_BYTES];

    if (len < sodium_base64_ENCODED_LEN(sizeof(raw),
                  sodium_base64_VARIANT_URLSAFE_NO_PADDING))
    {
        return NGX_ERROR;
    }

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(token, len, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));

    ngx_http_gobi_token_hash(token, job->token_hash);

    return NGX_OK;
}


/*
 * Thread side.  Unknown user and wrong password take the same time and
 * give the same answer: a missing user is checked against a dummy hash.
 */

ngx_int_t
ngx_http_gobi_auth_check(ngx_http_gobi_job_t *job)
{
    int                         ok;
    gobi_store_rc_e             rc;
    const gobi_store_driver_t  *drv;

    drv = job->gmcf->store_driver;

    switch (job->auth) {

    case NGX_HTTP_GOBI_AUTH_BEARER:
        ngx_http_gobi_token_hash(job->token, job->token_hash);
        return ngx_http_gobi_auth_token(job);

    case NGX_HTTP_GOBI_AUTH_BASIC:
        rc = drv->user_get(job->store, job->username, &job->user);

        if (rc != GOBI_STORE_OK && rc != GOBI_STORE_NOT_FOUND) {
            ngx_http_gobi_job_store_error(job, rc);
            return NGX_ERROR;
        }

        if (rc == GOBI_STORE_NOT_FOUND) {
            (void) pthread_once(&ngx_http_gobi_dummy_once,
                                ngx_http_gobi_dummy_init);
            (void) ngx_http_gobi_password_verify(ngx_http_gobi_dummy_hash,
                                                 job->password);
            ok = 0;

        } else {
            ok = ngx_http_gobi_password_verify(job->user.pwhash,
                                               job->password);
        }

        if (ok) {
            return NGX_OK;
        }

        job->password_failed = 1;
        break;

    default:
        break;
    }

    ngx_memzero(&job->user, sizeof(gobi_user_t));

    ngx_http_gobi_job_error(job, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                            "missing or invalid credentials");
    return NGX_ERROR;
}


/*
 * Thread side: is job->token_hash a token, not expired?  job->user becomes
 * its user.  A WebSocket session re-checks the hash it opened with: a
 * token revoked or expired since is the same 401 as an unknown one.
 */

ngx_int_t
ngx_http_gobi_auth_token(ngx_http_gobi_job_t *job)
{
    int64_t          expires;
    gobi_store_rc_e  rc;

    rc = job->gmcf->store_driver->token_get(job->store, job->token_hash,
                                            job->now, &job->user, &expires);
    if (rc == GOBI_STORE_OK) {
        return NGX_OK;
    }

    if (rc != GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_store_error(job, rc);
        return NGX_ERROR;
    }

    ngx_memzero(&job->user, sizeof(gobi_user_t));

    ngx_http_gobi_job_error(job, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                            "missing or invalid credentials");
    return NGX_ERROR;
}


/* the authenticated user's vault named by the request */

ngx_int_t
ngx_http_gobi_job_vault(ngx_http_gobi_job_t *job)
{
    gobi_store_rc_e  rc;

    if (ngx_http_gobi_auth_check(job) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = job->gmcf->store_driver->vault_get(job->store, job->user.id,
                                            job->vault_name, &job->vault);
    if (rc == GOBI_STORE_OK) {
        return NGX_OK;
    }

    if (rc == GOBI_STORE_NOT_FOUND) {
        ngx_http_gobi_job_error(job, NGX_HTTP_NOT_FOUND, "vault_not_found",
                                "no such vault");
    } else {
        ngx_http_gobi_job_store_error(job, rc);
    }

    return NGX_ERROR;
}
