
/*
 * Copyright (C) the gobi authors
 *
 * Can the worker user use gobi's data folders?  nginx creates them for it
 * at start-up, but a parent it cannot search (a checkout in a 0700 home
 * run by root, whose workers are "nobody") leaves it without: the workers
 * then fail and nginx keeps the port with no one serving.  The master
 * (and `nginx -t`) refuses to start instead, naming the folder, the user
 * and the fix.  Mode bits only: an ACL that would grant access is not
 * looked at.
 */


#include "ngx_http_gobi_module.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>


#define NGX_HTTP_GOBI_GROUPS_MAX  64


typedef struct {
    uid_t                          uid;
    gid_t                          groups[NGX_HTTP_GOBI_GROUPS_MAX];
    int                            ngroups;
} ngx_http_gobi_access_user_t;


/* the permission bits that apply to the user: owner, group or other */

static mode_t
ngx_http_gobi_access_bits(ngx_http_gobi_access_user_t *u, struct stat *st)
{
    int  i;

    if (st->st_uid == u->uid) {
        return (st->st_mode >> 6) & 7;
    }

    for (i = 0; i < u->ngroups; i++) {
        if (u->groups[i] == st->st_gid) {
            return (st->st_mode >> 3) & 7;
        }
    }

    return st->st_mode & 7;
}


/*
 * The first folder on the way to `path` (included) that the user cannot
 * search, or `path` itself if it cannot read and write it; NULL if all is
 * well.  A part that does not exist yet is left to nginx, which makes it.
 */

static u_char *
ngx_http_gobi_access_blocker(ngx_pool_t *pool, ngx_http_gobi_access_user_t *u,
    ngx_str_t *path, struct stat *bad)
{
    u_char       *p, *name;
    mode_t        bits, need;
    struct stat   st;

    name = ngx_pnalloc(pool, path->len + 1);
    if (name == NULL) {
        return NULL;
    }

    ngx_memcpy(name, path->data, path->len);
    name[path->len] = '\0';

    for (p = name + 1; /* void */ ; p++) {

        if (*p != '/' && *p != '\0') {
            continue;
        }

        *p = '\0';

        if (stat((char *) name, &st) == -1) {
            return NULL;
        }

        need = (p == name + path->len) ? 7 : 1;
        bits = ngx_http_gobi_access_bits(u, &st);

        if ((bits & need) != need) {
            *bad = st;
            return name;
        }

        if (p == name + path->len) {
            return NULL;
        }

        *p = '/';
    }
}


ngx_int_t
ngx_http_gobi_access_check(ngx_cycle_t *cycle)
{
    char                         what[128];
    u_char                      *bad;
    ngx_str_t                   *path;
    ngx_uint_t                   i;
    struct stat                  st;
    struct passwd               *pw;
    ngx_core_conf_t             *ccf;
    ngx_http_gobi_main_conf_t   *gmcf;
    ngx_http_gobi_access_user_t  u;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gobi_module);
    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (geteuid() != 0 || ccf->user == (uid_t) NGX_CONF_UNSET_UINT) {
        /* the workers are us: whatever we made, they can use */
        return NGX_OK;
    }

    if (ccf->user == 0) {
        return NGX_OK;
    }

    u.uid = ccf->user;
    u.groups[0] = ccf->group;
    u.ngroups = 1;

    pw = getpwuid(ccf->user);
    if (pw != NULL) {
        u.ngroups = NGX_HTTP_GOBI_GROUPS_MAX;
        if (getgrouplist(pw->pw_name, ccf->group, u.groups, &u.ngroups)
            == -1)
        {
            u.ngroups = NGX_HTTP_GOBI_GROUPS_MAX;
        }
    }

    path = gmcf->data_paths.elts;

    for (i = 0; i < gmcf->data_paths.nelts; i++) {

        bad = ngx_http_gobi_access_blocker(cycle->pool, &u, &path[i], &st);
        if (bad == NULL) {
            continue;
        }

        pw = getpwuid(st.st_uid);

        if (pw != NULL) {
            snprintf(what, sizeof(what), "mode %04o, owner %s",
                     (unsigned) (st.st_mode & 07777), pw->pw_name);
        } else {
            snprintf(what, sizeof(what), "mode %04o, owner uid %u",
                     (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid);
        }

        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gobi: the worker user \"%s\" cannot use \"%V\": "
                      "\"%s\" (%s) is closed to it; run the workers as a "
                      "user that can (the \"user\" directive) or keep the "
                      "data in a folder it can reach",
                      ccf->username, &path[i], bad, what);
        return NGX_ERROR;
    }

    return NGX_OK;
}
