/*
 * Copyright (C) the gobi authors
 *
 * login, logout, vaults, vault create, vault set.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "gobi.h"
#include "gobi_out.h"
#include "gobi_conf.h"
#include "gobi_api.h"
#include "gobi_cmd.h"
#include "gobi_path.h"
#include "gobi_strategy.h"


#define GOBI_PASSWORD_MAX  1024


/* a line from fd without its newline; NULL at EOF */
static char *
gobi_read_line(int fd)
{
    char     *buf;
    size_t    len;
    ssize_t   n;
    char      c;

    buf = gobi_alloc(GOBI_PASSWORD_MAX + 2);
    len = 0;

    for ( ;; ) {
        n = read(fd, &c, 1);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            if (len == 0) {
                free(buf);
                return NULL;
            }

            break;
        }

        if (c == '\n') {
            break;
        }

        if (len <= GOBI_PASSWORD_MAX) {
            buf[len++] = c;
        }
    }

    if (len > 0 && buf[len - 1] == '\r') {
        len--;
    }

    buf[len] = '\0';

    return buf;
}


static char *
gobi_password(const char *user, const char *url)
{
    const char      *env;
    struct termios   old, noecho;
    int              fd, restore;
    char            *pw, *prompt;

    env = getenv("GOBI_PASSWORD");
    if (env) {
        return gobi_strdup(env);
    }

    fd = open("/dev/tty", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        /* no terminal: the password is the first line of stdin */
        return gobi_read_line(0);
    }

    prompt = gobi_sprintf("Password for %s at %s: ", user, url);

    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* the prompt is a courtesy */
    }

    free(prompt);

    restore = 0;

    if (tcgetattr(fd, &old) == 0) {
        noecho = old;
        noecho.c_lflag &= ~(ECHO | ECHONL);
        noecho.c_lflag |= ICANON;

        if (tcsetattr(fd, TCSAFLUSH, &noecho) == 0) {
            restore = 1;
        }
    }

    pw = gobi_read_line(fd);

    if (restore) {
        tcsetattr(fd, TCSAFLUSH, &old);
    }

    if (write(fd, "\n", 1) < 0) {
        /* as above */
    }

    close(fd);

    return pw;
}


int
gobi_cmd_login(int argc, char **argv)
{
    gobi_cred_t   cred;
    gobi_http_t  *h;
    char         *url, *pw, *token;
    int64_t       expires;
    yajl_gen      g;
    int           rc;

    (void) argc;

    rc = gobi_url_normalize(argv[0], &url);
    if (rc != 0) {
        return rc;
    }

    if (gobi_username_check(argv[1], strlen(argv[1])) != NULL) {
        free(url);
        return gobi_error(GOBI_EXIT_USAGE, "bad username \"%s\": 1-64 "
                          "characters of A-Z a-z 0-9 . _ @ -", argv[1]);
    }

    pw = gobi_password(argv[1], url);
    if (pw == NULL) {
        free(url);
        return gobi_error(GOBI_EXIT_USAGE, "no password given (set "
                          "GOBI_PASSWORD or type it)");
    }

    h = gobi_http_new(NULL, 1);
    if (h == NULL) {
        free(url);
        free(pw);
        return gobi_error_code();
    }

    rc = gobi_api_login(h, url, argv[1], pw, &token, &expires);

    sodium_memzero(pw, strlen(pw));
    free(pw);
    gobi_http_free(h);

    if (rc != 0) {
        free(url);
        return rc;
    }

    cred.url = url;
    cred.username = argv[1];
    cred.token = token;
    cred.expires_at = expires;

    rc = gobi_cred_save(&cred);

    sodium_memzero(token, strlen(token));
    free(token);

    if (rc == 0) {
        if (gobi_opts.json) {
            g = gobi_json_out_new();
            yajl_gen_map_open(g);
            gobi_jkv_str(g, "server", url);
            gobi_jkv_str(g, "username", argv[1]);
            gobi_jkv_int(g, "expires_at", expires);
            yajl_gen_map_close(g);
            gobi_json_out_end(g);

        } else {
            gobi_out("logged in to %s as %s", url, argv[1]);
        }
    }

    free(url);

    return rc;
}


int
gobi_cmd_logout(int argc, char **argv)
{
    gobi_cred_t   cred;
    gobi_http_t  *h;
    int           rc;

    rc = gobi_cred_load(argc > 0 ? argv[0] : NULL, &cred);
    if (rc != 0) {
        return rc;
    }

    h = gobi_http_new(cred.token, 1);
    if (h == NULL) {
        gobi_cred_free(&cred);
        return gobi_error_code();
    }

    /* forget the token locally even when the server cannot be told */
    rc = gobi_api_logout(h, cred.url);
    gobi_http_free(h);

    if (rc != 0) {
        gobi_warn("%s (the token is forgotten locally)", gobi_error_msg());
        gobi_error_clear();
    }

    rc = gobi_cred_remove(cred.url);

    if (rc == 0) {
        gobi_out("logged out of %s", cred.url);
    }

    gobi_cred_free(&cred);

    return rc;
}


/* credentials and an HTTP handle for the account commands */
static int
gobi_account(gobi_cred_t *cred, gobi_http_t **h)
{
    int  rc;

    rc = gobi_cred_load(NULL, cred);
    if (rc != 0) {
        return rc;
    }

    *h = gobi_http_new(cred->token, 1);
    if (*h == NULL) {
        gobi_cred_free(cred);
        return gobi_error_code();
    }

    return 0;
}


int
gobi_cmd_vaults(int argc, char **argv)
{
    gobi_cred_t   cred;
    gobi_http_t  *h;
    yajl_val      root, *items;
    yajl_gen      g;
    const char   *name, *strategy;
    size_t        i, n;
    int64_t       head, created;
    char          tbuf[64];
    int           rc;

    (void) argc;
    (void) argv;

    rc = gobi_account(&cred, &h);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_api_vault_list(h, cred.url, &root);

    gobi_http_free(h);

    if (rc != 0) {
        gobi_cred_free(&cred);
        return rc;
    }

    n = gobi_json_array(root, "vaults", &items);
    g = NULL;

    if (gobi_opts.json) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "server", cred.url);
        gobi_jstr(g, "vaults");
        yajl_gen_array_open(g);
    }

    for (i = 0; i < n; i++) {
        name = gobi_json_str(items[i], "name");
        if (name == NULL) {
            continue;
        }

        head = 0;
        created = 0;
        gobi_json_int(items[i], "head_seq", &head);
        gobi_json_int(items[i], "created_at", &created);

        /* a server from before strategies has only keep-both */
        strategy = gobi_json_str(items[i], "conflict_strategy");
        if (strategy == NULL) {
            strategy = gobi_strategy_name(GOBI_STRATEGY_DEFAULT);
        }

        if (gobi_opts.json) {
            yajl_gen_map_open(g);
            gobi_jkv_str(g, "name", name);
            gobi_jkv_int(g, "head_seq", head);
            gobi_jkv_int(g, "created_at", created);
            gobi_jkv_str(g, "conflict_strategy", strategy);
            yajl_gen_map_close(g);

        } else if (gobi_opts.verbose >= 0) {
            printf("%-32s  seq %-8lld  created %s  %s\n", name,
                   (long long) head,
                   gobi_time_str(tbuf, sizeof(tbuf), created), strategy);
        }
    }

    if (gobi_opts.json) {
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);
    }

    yajl_tree_free(root);
    gobi_cred_free(&cred);

    return 0;
}


/* vault set <name> conflict-strategy <strategy> */
static int
gobi_vault_set(const char *vault, const char *what, const char *value)
{
    gobi_cred_t       cred;
    gobi_http_t      *h;
    gobi_strategy_e   strategy;
    const char       *why, *now;
    yajl_val          root;
    yajl_gen          g;
    int64_t           head;
    int               rc;

    why = gobi_vault_name_check(vault, strlen(vault));
    if (why) {
        return gobi_error(GOBI_EXIT_USAGE, "bad vault name \"%s\": %s",
                          vault, why);
    }

    if (strcmp(what, "conflict-strategy") != 0) {
        return gobi_error(GOBI_EXIT_USAGE, "gobi vault set: unknown setting "
                          "\"%s\" (there is conflict-strategy)", what);
    }

    /* the names the server knows, from the code it uses */
    if (gobi_strategy_parse(value, strlen(value), &strategy) != 0) {
        return gobi_error(GOBI_EXIT_USAGE, "unknown conflict strategy \"%s\":"
                          " keep-both, last-writer-wins, server-wins or "
                          "merge", value);
    }

    rc = gobi_account(&cred, &h);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_api_vault_strategy(h, cred.url, vault,
                                 gobi_strategy_name(strategy), &root);

    gobi_http_free(h);

    if (rc != 0) {
        gobi_cred_free(&cred);
        return rc;
    }

    now = gobi_json_str(root, "conflict_strategy");
    if (now == NULL) {
        now = gobi_strategy_name(strategy);
    }

    if (gobi_opts.json) {
        head = 0;
        gobi_json_int(root, "head_seq", &head);

        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "name", vault);
        gobi_jkv_str(g, "server", cred.url);
        gobi_jkv_int(g, "head_seq", head);
        gobi_jkv_str(g, "conflict_strategy", now);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);

    } else {
        gobi_out("vault %s: conflict strategy %s", vault, now);
    }

    yajl_tree_free(root);
    gobi_cred_free(&cred);

    return 0;
}


int
gobi_cmd_vault(int argc, char **argv)
{
    gobi_cred_t   cred;
    gobi_http_t  *h;
    const char   *why;
    yajl_gen      g;
    int           rc;

    if (argc == 4 && strcmp(argv[0], "set") == 0) {
        return gobi_vault_set(argv[1], argv[2], argv[3]);
    }

    if (argc != 2 || strcmp(argv[0], "create") != 0) {
        return gobi_error(GOBI_EXIT_USAGE, "usage: gobi vault create "
                          "<name>, or gobi vault set <name> "
                          "conflict-strategy <strategy>");
    }

    why = gobi_vault_name_check(argv[1], strlen(argv[1]));
    if (why) {
        return gobi_error(GOBI_EXIT_USAGE, "bad vault name \"%s\": %s",
                          argv[1], why);
    }

    rc = gobi_account(&cred, &h);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_api_vault_create(h, cred.url, argv[1]);

    gobi_http_free(h);

    if (rc == 0) {
        if (gobi_opts.json) {
            g = gobi_json_out_new();
            yajl_gen_map_open(g);
            gobi_jkv_str(g, "name", argv[1]);
            gobi_jkv_str(g, "server", cred.url);
            yajl_gen_map_close(g);
            gobi_json_out_end(g);

        } else {
            gobi_out("created vault %s", argv[1]);
        }
    }

    gobi_cred_free(&cred);

    return rc;
}
