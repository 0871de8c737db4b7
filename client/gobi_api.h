/*
 * Copyright (C) the gobi authors
 *
 * The server's REST API (issue 2) as C calls.  Synchronous ones here;
 * file transfers are built by the sync engine from gobi_api_file_url().
 */

#ifndef _GOBI_API_H_INCLUDED_
#define _GOBI_API_H_INCLUDED_


#include <stdint.h>

#include "gobi_http.h"
#include "gobi_json.h"
#include "gobi_event.h"


char *gobi_api_url(const char *server, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *gobi_api_vault_url(const char *server, const char *vault,
    const char *what);
char *gobi_api_file_url(const char *server, const char *vault,
    const char *path);

int gobi_api_login(gobi_http_t *h, const char *server, const char *user,
    const char *pass, char **token, int64_t *expires_at);
int gobi_api_logout(gobi_http_t *h, const char *server);

/* *root: the parsed answer, free with yajl_tree_free */
int gobi_api_vault_list(gobi_http_t *h, const char *server, yajl_val *root);
int gobi_api_vault_create(gobi_http_t *h, const char *server,
    const char *name);
/* NOT_FOUND when the vault does not exist */
int gobi_api_vault_head(gobi_http_t *h, const char *server,
    const char *vault, int64_t *head_seq);

/* PATCH the vault's conflict strategy; *root: the vault object */
int gobi_api_vault_strategy(gobi_http_t *h, const char *server,
    const char *vault, const char *strategy, yajl_val *root);

#define GOBI_MANIFEST_PAGE  1000
#define GOBI_HISTORY_PAGE   1000

/* one page of the manifest, from the path after `after` (NULL: the first) */
int gobi_api_manifest(gobi_http_t *h, const char *server, const char *vault,
    const char *after, yajl_val *root);
/* *expired = 1 on 410 history_expired (then returns 0) */
int gobi_api_events(gobi_http_t *h, const char *server, const char *vault,
    int64_t since, int limit, yajl_val *root, int *expired);

/*
 * One page of a file's versions, newest first, older than `before` (0: from
 * the newest); NOT_FOUND when the server has no history of the path.
 */
int gobi_api_versions(gobi_http_t *h, const char *server, const char *vault,
    const char *path, int64_t before, yajl_val *root);
/* one page of the trash, from the path after `after` (NULL: the first) */
int gobi_api_trash(gobi_http_t *h, const char *server, const char *vault,
    const char *after, yajl_val *root);
/*
 * POST restore: version n of path, or (path NULL) the whole vault as of
 * seq n; sent as coming from `device`.  NOT_FOUND for no such version,
 * USAGE for a seq the server refuses.
 */
int gobi_api_restore(gobi_http_t *h, const char *server, const char *vault,
    const char *device, const char *path, int64_t n, yajl_val *root);

/* an event/file object into the lib structs (strings point into v) */
int gobi_api_event(yajl_val v, gobi_event_t *ev);
int gobi_api_file(yajl_val v, gobi_file_t *f);


#endif /* _GOBI_API_H_INCLUDED_ */
