
/*
 * Copyright (C) the gobi authors
 *
 * The blob storage: its drivers, chosen by the scheme of each
 * "gobi_storage" line (one nginx-free file behind gobi_storage_driver_t,
 * gobi_storage.h, and one entry here), the targets they make together
 * (gobi_blob.h), and encryption at rest (gobi_encryption_key).
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_conf.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>


static const ngx_http_gobi_scheme_t  ngx_http_gobi_storage_schemes[] = {

    { ngx_string("local:"), NGX_HTTP_GOBI_ARG_DIR,
      &gobi_storage_local, "local storage" },

    { ngx_string("s3://"), NGX_HTTP_GOBI_ARG_URI,
      &gobi_storage_s3, "S3 storage" },

    { ngx_null_string, 0, NULL, NULL }
};


char *
ngx_http_gobi_storage(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    char                          *rv;
    ngx_str_t                     *value, uri, tmp;
    ngx_uint_t                     i;
    ngx_http_gobi_target_t        *t;
    const ngx_http_gobi_scheme_t  *s;

    if (cmd) {
        value = cf->args->elts;
        uri = value[1];

    } else {
        ngx_str_set(&uri, "local:var/vaults");
    }

    if (gmcf->storage.nelts == GOBI_BLOB_TARGETS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "more than %d \"gobi_storage\" targets",
                           GOBI_BLOB_TARGETS_MAX);
        return NGX_CONF_ERROR;
    }

    t = ngx_array_push(&gmcf->storage);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_gobi_scheme_find(cf, "gobi_storage",
                                   ngx_http_gobi_storage_schemes,
                                   "\"local:/path/to/folder\" or "
                                   "\"s3://bucket/prefix?endpoint=...\"",
                                   &uri, &s, &t->arg);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* the driver takes what follows "s3:" */
    if (s->arg == NGX_HTTP_GOBI_ARG_URI) {
        t->arg.data += sizeof("s3:") - 1;
        t->arg.len -= sizeof("s3:") - 1;
    }

    /* uri is what the logs show: a URI's password never is */

    if (ngx_http_gobi_uri_mask(cf->pool, &uri, &t->uri) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    t->driver = s->driver;

    for (i = 0; i + 1 < gmcf->storage.nelts; i++) {
        if (((ngx_http_gobi_target_t *) gmcf->storage.elts)[i].arg.len
                == t->arg.len
            && ngx_strcmp(((ngx_http_gobi_target_t *)
                           gmcf->storage.elts)[i].arg.data, t->arg.data) == 0)
        {
            return "is duplicate";
        }
    }

    if (gmcf->storage.nelts > 1 || s->arg != NGX_HTTP_GOBI_ARG_DIR) {
        return NGX_CONF_OK;
    }

    /* the first local target keeps the upload temp files: same file
     * system, so a finished upload becomes a blob by rename() */

    tmp.len = t->arg.len + sizeof("/.tmp") - 1;
    tmp.data = ngx_pnalloc(cf->pool, tmp.len);
    if (tmp.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(tmp.data, "%V/.tmp", &t->arg);

    if (ngx_http_gobi_add_path(cf, &tmp, &gmcf->tmp_path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a file name as a C string, from the prefix like nginx's own paths */

static char *
ngx_http_gobi_storage_file(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *out)
{
    ngx_str_t  name;

    name = *value;

    if (name.len == 0) {
        return "has an empty file name";
    }

    if (ngx_conf_full_name(cf->cycle, &name, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    out->data = ngx_pnalloc(cf->pool, name.len + 1);
    if (out->data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(out->data, name.data, name.len);
    out->data[name.len] = '\0';
    out->len = name.len;

    return NGX_CONF_OK;
}


char *
ngx_http_gobi_storage_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    int          fd;
    char        *rv, *name;
    ssize_t      n;
    ngx_str_t   *value;
    struct stat  st;

    if (gmcf->storage_credentials.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rv = ngx_http_gobi_storage_file(cf, &value[1],
                                    &gmcf->storage_credentials);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * Read here, by the master: the file is its owner's only (mode 0600),
     * the workers run as another user.  The driver checks what is in it.
     */

    name = (char *) gmcf->storage_credentials.data;

    fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"gobi_storage_credentials\": \"%s\" is not a "
                           "readable file", name);
        if (fd >= 0) {
            close(fd);
        }
        return NGX_CONF_ERROR;
    }

    if ((st.st_mode & 077) || st.st_size > 65536) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_storage_credentials\": \"%s\" %s", name,
                           (st.st_mode & 077) ? "is open to others: chmod 600"
                                              : "is too large");
        close(fd);
        return NGX_CONF_ERROR;
    }

    gmcf->storage_credentials_text = ngx_pcalloc(cf->pool, st.st_size + 1);
    if (gmcf->storage_credentials_text == NULL) {
        close(fd);
        return NGX_CONF_ERROR;
    }

    n = read(fd, gmcf->storage_credentials_text, st.st_size);
    close(fd);

    if (n != st.st_size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"gobi_storage_credentials\": reading \"%s\" "
                           "failed", name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_gobi_storage_scrub(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   ms;

    if (gmcf->storage_scrub != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        gmcf->storage_scrub = 0;
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&value[1], 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms < 1000) {
        return "must be \"off\" or a time of 1s or more";
    }

    gmcf->storage_scrub = ms;

    return NGX_CONF_OK;
}


/*
 * The master key is read at configuration time (the master may read what
 * the workers may not); a bad file stops "nginx -t" with the reason.
 */

char *
ngx_http_gobi_encryption_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gobi_main_conf_t *gmcf = conf;

    char        err[256], *rv;
    u_char     **key;
    ngx_str_t   *value, name;

    key = (cmd->offset == 0) ? &gmcf->encryption_key
                             : &gmcf->encryption_key_old;

    if (*key) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rv = ngx_http_gobi_storage_file(cf, &value[1], &name);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (gobi_crypt_init() != 0) {
        return "cannot start libsodium";
    }

    *key = ngx_pcalloc(cf->pool, GOBI_CRYPT_KEY_LEN);
    if (*key == NULL) {
        return NGX_CONF_ERROR;
    }

    if (gobi_crypt_key_load((char *) name.data, *key, err, sizeof(err)) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &cmd->name,
                           err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* init_main_conf: the defaults and the checks across directives */

char *
ngx_http_gobi_storage_init_conf(ngx_conf_t *cf,
    ngx_http_gobi_main_conf_t *gmcf)
{
    ngx_str_t                name;
    ngx_uint_t               i, remote;
    ngx_http_gobi_target_t  *t;

    if (gmcf->storage.nelts == 0
        && ngx_http_gobi_storage(cf, NULL, gmcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (gmcf->storage_quorum == NGX_CONF_UNSET_UINT) {
        gmcf->storage_quorum = 0;
    }

    if (gmcf->storage_quorum > gmcf->storage.nelts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_storage_quorum\" %ui is more than the "
                           "%ui \"gobi_storage\" targets",
                           gmcf->storage_quorum, gmcf->storage.nelts);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_msec_value(gmcf->storage_scrub, 3600 * 1000);

    if (gmcf->encryption_key_old && gmcf->encryption_key == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_encryption_key_old\" needs "
                           "\"gobi_encryption_key\", the new key");
        return NGX_CONF_ERROR;
    }

    t = gmcf->storage.elts;
    remote = 0;

    for (i = 0; i < gmcf->storage.nelts; i++) {
        if (t[i].driver == &gobi_storage_s3) {
            remote = 1;
        }
    }

    if (!remote) {
        return NGX_CONF_OK;
    }

    if (gmcf->storage_credentials.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "an \"s3://\" \"gobi_storage\" needs "
                           "\"gobi_storage_credentials\"");
        return NGX_CONF_ERROR;
    }

    /* upload temp files of remote targets, when no local one comes first */

    ngx_str_set(&name, "var/spool");

    if (ngx_conf_full_name(cf->cycle, &name, 0) != NGX_OK
        || ngx_http_gobi_add_path(cf, &name, NULL) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    gmcf->storage_spool.data = ngx_pnalloc(cf->pool, name.len + 1);
    if (gmcf->storage_spool.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(gmcf->storage_spool.data, name.data, name.len);
    gmcf->storage_spool.data[name.len] = '\0';
    gmcf->storage_spool.len = name.len;

    if (gmcf->tmp_path == NULL
        && ngx_http_gobi_add_path(cf, &name, &gmcf->tmp_path) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_push(&gmcf->data_paths) == NULL) {
        return NGX_CONF_ERROR;
    }

    ((ngx_str_t *) gmcf->data_paths.elts)[gmcf->data_paths.nelts - 1] = name;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_gobi_storage_init_process(ngx_cycle_t *cycle,
    ngx_http_gobi_main_conf_t *gmcf)
{
    char                      err[512];
    ngx_uint_t                i;
    ngx_http_gobi_target_t   *t;
    gobi_blob_target_conf_t   tc[GOBI_BLOB_TARGETS_MAX];

    t = gmcf->storage.elts;

    for (i = 0; i < gmcf->storage.nelts; i++) {
        ngx_memzero(&tc[i], sizeof(gobi_blob_target_conf_t));
        tc[i].driver = t[i].driver;
        tc[i].arg = (char *) t[i].arg.data;
        tc[i].name = (char *) t[i].uri.data;
        tc[i].conf.spool = (char *) gmcf->storage_spool.data;
        tc[i].conf.credentials = (char *) gmcf->storage_credentials.data;
        tc[i].conf.credentials_text = gmcf->storage_credentials_text;
    }

    err[0] = '\0';

    ngx_http_gobi_worker.blob = gobi_blob_open(tc, gmcf->storage.nelts,
                                               gmcf->storage_quorum,
                                               err, sizeof(err));
    if (ngx_http_gobi_worker.blob == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "gobi: storage: %s",
                      err);
        return NGX_ERROR;
    }

    if (gmcf->encryption_key) {
        ngx_http_gobi_worker.keys = gobi_keys_new(gmcf->encryption_key,
                                                  gmcf->encryption_key_old);
        if (ngx_http_gobi_worker.keys == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "gobi: no memory for the data keys");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


void
ngx_http_gobi_storage_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_gobi_worker.blob) {
        gobi_blob_close(ngx_http_gobi_worker.blob);
        ngx_http_gobi_worker.blob = NULL;
    }

    if (ngx_http_gobi_worker.keys) {
        gobi_keys_free(ngx_http_gobi_worker.keys);
        ngx_http_gobi_worker.keys = NULL;
    }
}


/*
 * Thread side: the vault's data key, fetched once per job; NULL when
 * encryption is off, or on failure with the job's error set (nothing may
 * be read or written then).
 */

const unsigned char *
ngx_http_gobi_job_dk(ngx_http_gobi_job_t *job, ngx_flag_t *failed)
{
    char             err[256];
    gobi_store_rc_e  rc;

    *failed = 0;

    if (job->keys == NULL) {
        return NULL;
    }

    if (job->has_dk) {
        return job->dk;
    }

    err[0] = '\0';

    rc = gobi_keys_get(job->keys, job->gmcf->store_driver, job->store,
                       job->vault.id, job->dk, err, sizeof(err));

    if (rc != GOBI_STORE_OK) {
        *failed = 1;

        if (rc == GOBI_STORE_ERROR && err[0]) {
            ngx_http_gobi_job_error(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "internal_error",
                                    "the vault's key is not available");
            snprintf(job->log, sizeof(job->log), "%s", err);
            return NULL;
        }

        ngx_http_gobi_job_store_error(job, rc);
        return NULL;
    }

    job->has_dk = 1;

    return job->dk;
}
