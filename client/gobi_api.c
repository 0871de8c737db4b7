/*
 * Copyright (C) the gobi authors
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <yajl/yajl_gen.h>

#include "gobi.h"
#include "gobi_api.h"


char *
gobi_api_url(const char *server, const char *fmt, ...)
{
    va_list  ap;
    char    *tail, *url;

    va_start(ap, fmt);

    if (vasprintf(&tail, fmt, ap) < 0) {
        fputs("gobi: out of memory\n", stderr);
        exit(GOBI_EXIT_ERROR);
    }

    va_end(ap);

    url = gobi_sprintf("%s/api/v1/%s", server, tail);
    free(tail);

    return url;
}


char *
gobi_api_vault_url(const char *server, const char *vault, const char *what)
{
    char  *ev, *url;

    ev = gobi_http_escape_path(vault);
    url = gobi_api_url(server, "vaults/%s%s%s", ev, what ? "/" : "",
                       what ? what : "");
    free(ev);

    return url;
}


char *
gobi_api_file_url(const char *server, const char *vault, const char *path)
{
    char  *ev, *ep, *url;

    ev = gobi_http_escape_path(vault);
    ep = gobi_http_escape_path(path);
    url = gobi_api_url(server, "vaults/%s/files/%s", ev, ep);
    free(ev);
    free(ep);

    return url;
}


static int
gobi_api_parse(gobi_req_t *r, const char *what, yajl_val *root)
{
    char  err[256];

    *root = NULL;

    if (r->resp == NULL) {
        return gobi_error(GOBI_EXIT_SERVER, "%s: empty answer from the "
                          "server", what);
    }

    *root = gobi_json_parse(r->resp, r->resp_len, err, sizeof(err));

    if (*root == NULL || !YAJL_IS_OBJECT(*root)) {
        yajl_tree_free(*root);
        *root = NULL;
        return gobi_error(GOBI_EXIT_SERVER, "%s: bad JSON from the server: "
                          "%s", what, err);
    }

    return 0;
}


int
gobi_api_login(gobi_http_t *h, const char *server, const char *user,
    const char *pass, char **token, int64_t *expires_at)
{
    gobi_req_t   *r;
    yajl_val      root;
    const char   *tok;
    int           rc;

    r = gobi_req_new("POST", gobi_api_url(server, "sessions"));
    r->user = user;
    r->pass = pass;

    gobi_http_do(h, r);

    if (r->cc != CURLE_OK || r->status != 201) {
        if (r->cc == CURLE_OK && r->status == 401) {
            rc = gobi_error(GOBI_EXIT_AUTH, "login failed: wrong username "
                            "or password");

        } else if (r->cc == CURLE_OK && r->status == 404) {
            rc = gobi_error(GOBI_EXIT_NOT_FOUND, "login failed: %s is not a "
                            "gobi server (HTTP 404)", server);

        } else {
            rc = gobi_req_error(r, "login failed");
        }

        gobi_req_free(r);
        return rc;
    }

    rc = gobi_api_parse(r, "login", &root);

    if (r->resp) {
        sodium_memzero(r->resp, r->resp_len);
    }

    gobi_req_free(r);

    if (rc != 0) {
        return rc;
    }

    tok = gobi_json_str(root, "token");

    if (tok == NULL || *tok == '\0' || strpbrk(tok, " \t\r\n") != NULL) {
        yajl_tree_free(root);
        return gobi_error(GOBI_EXIT_SERVER, "login: the server sent no "
                          "usable token");
    }

    *token = gobi_strdup(tok);
    *expires_at = 0;
    gobi_json_int(root, "expires_at", expires_at);

    yajl_tree_free(root);

    return 0;
}


int
gobi_api_logout(gobi_http_t *h, const char *server)
{
    gobi_req_t  *r;
    int          rc;

    r = gobi_req_new("DELETE", gobi_api_url(server, "sessions/current"));

    gobi_http_do(h, r);

    rc = 0;

    if (r->cc != CURLE_OK || (r->status >= 300 && r->status != 401)) {
        rc = gobi_req_error(r, "logout");
    }

    gobi_req_free(r);

    return rc;
}


int
gobi_api_vault_list(gobi_http_t *h, const char *server, yajl_val *root)
{
    gobi_req_t  *r;
    int          rc;

    r = gobi_req_new("GET", gobi_api_url(server, "vaults"));

    gobi_http_do(h, r);

    if (r->cc != CURLE_OK || r->status != 200) {
        rc = gobi_req_error(r, "cannot list vaults");

    } else {
        rc = gobi_api_parse(r, "vaults", root);
    }

    gobi_req_free(r);

    return rc;
}


int
gobi_api_vault_create(gobi_http_t *h, const char *server, const char *name)
{
    gobi_req_t           *r;
    yajl_gen              g;
    const unsigned char  *buf;
    size_t                len;
    int                   rc;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return gobi_error(GOBI_EXIT_ERROR, "out of memory");
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "name", 4);
    yajl_gen_string(g, (const unsigned char *) name, strlen(name));
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);

    r = gobi_req_new("POST", gobi_api_url(server, "vaults"));
    gobi_req_json_body(r, gobi_strndup((const char *) buf, len));
    yajl_gen_free(g);

    gobi_http_do(h, r);

    rc = 0;

    if (r->cc != CURLE_OK || r->status != 201) {
        if (r->cc == CURLE_OK && r->status == 409) {
            rc = gobi_error(GOBI_EXIT_EXISTS, "vault \"%s\" already exists",
                            name);

        } else {
            rc = gobi_req_error(r, "cannot create the vault");
        }
    }

    gobi_req_free(r);

    return rc;
}


int
gobi_api_vault_head(gobi_http_t *h, const char *server, const char *vault,
    int64_t *head_seq)
{
    yajl_val     root, *items;
    const char  *name;
    size_t       i, n;
    int          rc;

    rc = gobi_api_vault_list(h, server, &root);
    if (rc != 0) {
        return rc;
    }

    n = gobi_json_array(root, "vaults", &items);

    for (i = 0; i < n; i++) {
        name = gobi_json_str(items[i], "name");

        if (name && strcmp(name, vault) == 0) {
            *head_seq = 0;
            gobi_json_int(items[i], "head_seq", head_seq);
            yajl_tree_free(root);
            return 0;
        }
    }

    yajl_tree_free(root);

    return gobi_error(GOBI_EXIT_NOT_FOUND, "vault \"%s\" not found", vault);
}


int
gobi_api_manifest(gobi_http_t *h, const char *server, const char *vault,
    const char *after, yajl_val *root)
{
    gobi_req_t  *r;
    char        *base, *ea, *url;
    int          rc;

    base = gobi_api_vault_url(server, vault, "files");

    if (after) {
        ea = gobi_http_escape_path(after);
        url = gobi_sprintf("%s?limit=%d&after=%s", base, GOBI_MANIFEST_PAGE,
                           ea);
        free(ea);

    } else {
        url = gobi_sprintf("%s?limit=%d", base, GOBI_MANIFEST_PAGE);
    }

    free(base);

    r = gobi_req_new("GET", url);

    gobi_http_do(h, r);

    if (r->cc != CURLE_OK || r->status != 200) {
        if (r->cc == CURLE_OK && r->status == 404) {
            rc = gobi_error(GOBI_EXIT_NOT_FOUND, "vault \"%s\" not found",
                            vault);

        } else {
            rc = gobi_req_error(r, "cannot list the vault's files");
        }

    } else {
        rc = gobi_api_parse(r, "manifest", root);
    }

    gobi_req_free(r);

    return rc;
}


int
gobi_api_events(gobi_http_t *h, const char *server, const char *vault,
    int64_t since, int limit, yajl_val *root, int *expired)
{
    gobi_req_t  *r;
    char        *base, code[64];
    int          rc;

    *expired = 0;
    *root = NULL;

    base = gobi_api_vault_url(server, vault, "events");
    r = gobi_req_new("GET", gobi_sprintf("%s?since=%lld&limit=%d", base,
                                         (long long) since, limit));
    free(base);

    gobi_http_do(h, r);

    if (r->cc == CURLE_OK && r->status == 200) {
        rc = gobi_api_parse(r, "events", root);

    } else if (r->cc == CURLE_OK && r->status == 410) {
        *expired = 1;
        rc = 0;

    } else if (r->cc == CURLE_OK && r->status == 404
               && strcmp(gobi_req_error_code(r, code, sizeof(code)),
                         "vault_not_found") == 0)
    {
        rc = gobi_error(GOBI_EXIT_NOT_FOUND, "vault \"%s\" not found", vault);

    } else {
        rc = gobi_req_error(r, "cannot read the vault's events");
    }

    gobi_req_free(r);

    return rc;
}


/* the generator's JSON as r's body; frees g */
static void
gobi_api_json_body(gobi_req_t *r, yajl_gen g)
{
    const unsigned char  *buf;
    size_t                len;

    yajl_gen_get_buf(g, &buf, &len);
    gobi_req_json_body(r, gobi_strndup((const char *) buf, len));
    yajl_gen_free(g);
}


static yajl_gen
gobi_api_gen(void)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        fputs("gobi: out of memory\n", stderr);
        exit(GOBI_EXIT_ERROR);
    }

    return g;
}


static void
gobi_api_gen_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}


/* a failed request on a vault: its 404 named, the rest by gobi_req_error */
static int
gobi_api_vault_error(gobi_req_t *r, const char *vault, const char *what)
{
    char  code[64];

    if (r->cc == CURLE_OK && r->status == 404
        && strcmp(gobi_req_error_code(r, code, sizeof(code)),
                  "vault_not_found") == 0)
    {
        return gobi_error(GOBI_EXIT_NOT_FOUND, "vault \"%s\" not found",
                          vault);
    }

    return gobi_req_error(r, what);
}


int
gobi_api_vault_strategy(gobi_http_t *h, const char *server,
    const char *vault, const char *strategy, yajl_val *root)
{
    gobi_req_t  *r;
    yajl_gen     g;
    char         code[64];
    int          rc;

    *root = NULL;

    g = gobi_api_gen();
    yajl_gen_map_open(g);
    gobi_api_gen_str(g, "conflict_strategy");
    gobi_api_gen_str(g, strategy);
    yajl_gen_map_close(g);

    r = gobi_req_new("PATCH", gobi_api_vault_url(server, vault, NULL));
    gobi_api_json_body(r, g);

    gobi_http_do(h, r);

    if (r->cc == CURLE_OK && r->status == 200) {
        rc = gobi_api_parse(r, "vault", root);

    } else if (r->cc == CURLE_OK && r->status == 400
               && strcmp(gobi_req_error_code(r, code, sizeof(code)),
                         "invalid_strategy") == 0)
    {
        rc = gobi_req_error(r, "cannot set the conflict strategy");
        rc = gobi_error(GOBI_EXIT_USAGE, "%s", gobi_error_msg());

    } else {
        rc = gobi_api_vault_error(r, vault, "cannot set the conflict "
                                  "strategy");
    }

    gobi_req_free(r);

    return rc;
}


int
gobi_api_versions(gobi_http_t *h, const char *server, const char *vault,
    const char *path, int64_t before, yajl_val *root)
{
    gobi_req_t  *r;
    char        *ep, *what, *base, code[64];
    int          rc;

    *root = NULL;

    ep = gobi_http_escape_path(path);
    what = gobi_sprintf("versions/%s", ep);
    base = gobi_api_vault_url(server, vault, what);
    free(ep);
    free(what);

    if (before > 0) {
        r = gobi_req_new("GET", gobi_sprintf("%s?limit=%d&before=%lld", base,
                                             GOBI_HISTORY_PAGE,
                                             (long long) before));
    } else {
        r = gobi_req_new("GET", gobi_sprintf("%s?limit=%d", base,
                                             GOBI_HISTORY_PAGE));
    }

    free(base);

    gobi_http_do(h, r);

    if (r->cc == CURLE_OK && r->status == 200) {
        rc = gobi_api_parse(r, "versions", root);

    } else if (r->cc == CURLE_OK && r->status == 404
               && strcmp(gobi_req_error_code(r, code, sizeof(code)),
                         "file_not_found") == 0)
    {
        rc = gobi_error(GOBI_EXIT_NOT_FOUND, "\"%s\": no such file in vault "
                        "\"%s\", nor any history of it", path, vault);

    } else {
        rc = gobi_api_vault_error(r, vault, "cannot read the file's "
                                  "versions");
    }

    gobi_req_free(r);

    return rc;
}


int
gobi_api_trash(gobi_http_t *h, const char *server, const char *vault,
    const char *after, yajl_val *root)
{
    gobi_req_t  *r;
    char        *base, *ea;
    int          rc;

    *root = NULL;

    base = gobi_api_vault_url(server, vault, "trash");

    if (after) {
        ea = gobi_http_escape_path(after);
        r = gobi_req_new("GET", gobi_sprintf("%s?limit=%d&after=%s", base,
                                             GOBI_HISTORY_PAGE, ea));
        free(ea);

    } else {
        r = gobi_req_new("GET", gobi_sprintf("%s?limit=%d", base,
                                             GOBI_HISTORY_PAGE));
    }

    free(base);

    gobi_http_do(h, r);

    if (r->cc == CURLE_OK && r->status == 200) {
        rc = gobi_api_parse(r, "trash", root);

    } else {
        rc = gobi_api_vault_error(r, vault, "cannot read the trash");
    }

    gobi_req_free(r);

    return rc;
}


int
gobi_api_restore(gobi_http_t *h, const char *server, const char *vault,
    const char *device, const char *path, int64_t n, yajl_val *root)
{
    gobi_req_t  *r;
    yajl_gen     g;
    char         code[64];
    int          rc;

    *root = NULL;

    g = gobi_api_gen();
    yajl_gen_map_open(g);

    if (path) {
        gobi_api_gen_str(g, "path");
        gobi_api_gen_str(g, path);
        gobi_api_gen_str(g, "version");

    } else {
        gobi_api_gen_str(g, "seq");
    }

    yajl_gen_integer(g, n);
    yajl_gen_map_close(g);

    r = gobi_req_new("POST", gobi_api_vault_url(server, vault, "restore"));
    gobi_api_json_body(r, g);
    gobi_req_header(r, "X-Gobi-Device: %s", device);

    gobi_http_do(h, r);

    if (r->cc == CURLE_OK && r->status == 200) {
        rc = gobi_api_parse(r, "restore", root);

    } else if (path && r->cc == CURLE_OK && r->status == 404
               && strcmp(gobi_req_error_code(r, code, sizeof(code)),
                         "version_not_found") == 0)
    {
        rc = gobi_error(GOBI_EXIT_NOT_FOUND, "\"%s\" has no version %lld to "
                        "restore (see \"gobi history %s\")", path,
                        (long long) n, path);

    } else if (r->cc == CURLE_OK && r->status == 400) {
        /* a seq beyond the head, a path the server refuses */
        rc = gobi_req_error(r, "cannot restore");
        rc = gobi_error(GOBI_EXIT_USAGE, "%s", gobi_error_msg());

    } else {
        rc = gobi_api_vault_error(r, vault, "cannot restore");
    }

    gobi_req_free(r);

    return rc;
}


int
gobi_api_event(yajl_val v, gobi_event_t *ev)
{
    const char  *type, *hash;

    memset(ev, 0, sizeof(gobi_event_t));

    type = gobi_json_str(v, "type");
    ev->path = gobi_json_str(v, "path");

    if (type == NULL || ev->path == NULL
        || gobi_json_int(v, "seq", &ev->seq) != 0)
    {
        return -1;
    }

    ev->type = gobi_event_type_parse(type);
    if (ev->type == GOBI_EV_NONE) {
        return -1;
    }

    ev->from = gobi_json_str(v, "from");

    if (ev->type == GOBI_EV_RENAME && ev->from == NULL) {
        return -1;
    }

    if (gobi_json_int(v, "version", &ev->version) != 0) {
        ev->version = ev->seq;
    }

    hash = gobi_json_str(v, "hash");

    if (hash && gobi_hash_valid_hex(hash, strlen(hash))) {
        memcpy(ev->hash, hash, GOBI_HASH_HEX_LEN + 1);

    } else if (ev->type != GOBI_EV_DELETE) {
        return -1;
    }

    gobi_json_int(v, "size", &ev->size);
    gobi_json_int(v, "mtime", &ev->mtime);
    gobi_json_int(v, "ts", &ev->ts);
    ev->device = gobi_json_str(v, "device");

    return 0;
}


int
gobi_api_file(yajl_val v, gobi_file_t *f)
{
    const char  *hash;

    memset(f, 0, sizeof(gobi_file_t));

    f->path = gobi_json_str(v, "path");

    if (f->path == NULL || gobi_json_int(v, "version", &f->version) != 0) {
        return -1;
    }

    f->deleted = gobi_json_bool(v, "deleted");
    hash = gobi_json_str(v, "hash");

    if (hash && gobi_hash_valid_hex(hash, strlen(hash))) {
        memcpy(f->hash, hash, GOBI_HASH_HEX_LEN + 1);

    } else if (!f->deleted) {
        return -1;
    }

    gobi_json_int(v, "size", &f->size);
    gobi_json_int(v, "mtime", &f->mtime);

    return 0;
}
