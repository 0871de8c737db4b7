/*
 * Copyright (C) the gobi authors
 *
 * clone, sync (watch lives in gobi_watch.c).
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_out.h"
#include "gobi_api.h"
#include "gobi_cmd.h"
#include "gobi_path.h"
#include "gobi_sync.h"


/* the one-line summary, or the JSON object */
void
gobi_sync_report(gobi_sync_t *s, const char *what, int64_t ms)
{
    gobi_sync_stats_t  *t;
    yajl_gen            g;
    char                line[512], b1[32];
    size_t              len;
    int64_t             pending, files;

    t = &s->stats;
    pending = gobi_state_queue_count(s->st);

    if (gobi_opts.json) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "command", what);
        gobi_jkv_str(g, "dir", s->root);
        gobi_jkv_str(g, "server", s->server);
        gobi_jkv_str(g, "vault", s->vault);
        gobi_jkv_str(g, "device", s->device);
        gobi_jkv_int(g, "cursor", s->cursor);
        gobi_jkv_int(g, "uploaded", t->uploaded);
        gobi_jkv_int(g, "downloaded", t->downloaded);
        gobi_jkv_int(g, "deleted_local", t->deleted_local);
        gobi_jkv_int(g, "deleted_remote", t->deleted_remote);
        gobi_jkv_int(g, "renamed_local", t->renamed_local);
        gobi_jkv_int(g, "renamed_remote", t->renamed_remote);
        gobi_jkv_int(g, "conflicts", t->conflicts);
        gobi_jkv_int(g, "bytes_up", t->bytes_up);
        gobi_jkv_int(g, "bytes_down", t->bytes_down);
        gobi_jkv_int(g, "pending", pending);
        gobi_jkv_int(g, "mass_delete_refused", t->mass_delete_refused);
        gobi_jkv_int(g, "ms", ms);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);
        return;
    }

    len = snprintf(line, sizeof(line), "%s %s:", what, s->vault);

#define GOBI_PART(n, label)                                                  \
    if ((n) && len < sizeof(line)) {                                         \
        len += snprintf(line + len, sizeof(line) - len, " %lld %s,",         \
                        (long long) (n), label);                             \
    }

    GOBI_PART(t->uploaded, "uploaded");
    GOBI_PART(t->downloaded, "downloaded");
    GOBI_PART(t->deleted_remote, "deleted on the server");
    GOBI_PART(t->deleted_local, "deleted here");
    GOBI_PART(t->renamed_remote, "renamed on the server");
    GOBI_PART(t->renamed_local, "renamed here");
    GOBI_PART(t->conflicts, "conflicts");
    GOBI_PART(pending, "pending");

#undef GOBI_PART

    files = t->uploaded + t->downloaded + t->deleted_remote + t->deleted_local
            + t->renamed_remote + t->renamed_local + t->conflicts + pending;

    if (files == 0 && len < sizeof(line)) {
        len += snprintf(line + len, sizeof(line) - len, " up to date,");
    }

    if (len < sizeof(line)) {
        snprintf(line + len - 1, sizeof(line) - len + 1, " (%s, %.1fs)",
                 gobi_human_bytes(b1, sizeof(b1),
                                  t->bytes_up + t->bytes_down),
                 ms / 1000.0);
    }

    gobi_out("%s", line);
}


int
gobi_cmd_clone(int argc, char **argv)
{
    gobi_cred_t   cred;
    gobi_http_t  *h;
    gobi_sync_t  *s;
    const char   *vault, *dir, *why;
    int64_t       head, start;
    int           rc;

    vault = argv[0];
    dir = argc > 1 ? argv[1] : argv[0];

    why = gobi_vault_name_check(vault, strlen(vault));
    if (why) {
        return gobi_error(GOBI_EXIT_USAGE, "bad vault name \"%s\": %s",
                          vault, why);
    }

    start = gobi_mono_ms();

    rc = gobi_cred_load(NULL, &cred);
    if (rc != 0) {
        return rc;
    }

    /* the vault must exist before a folder is made for it */
    h = gobi_http_new(cred.token, 1);
    if (h == NULL) {
        gobi_cred_free(&cred);
        return gobi_error_code();
    }

    rc = gobi_api_vault_head(h, cred.url, vault, &head);
    gobi_http_free(h);

    if (rc != 0) {
        gobi_cred_free(&cred);
        return rc;
    }

    rc = gobi_sync_create(dir, cred.url, vault, &s);
    gobi_cred_free(&cred);

    if (rc != 0) {
        return rc;
    }

    rc = gobi_sync_connect(s);

    if (rc == 0) {
        rc = gobi_sync_pull(s);
    }

    if (rc == 0) {
        rc = gobi_state_meta_set_int(s->st, "last_sync", gobi_now_ms());
    }

    if (rc == 0) {
        gobi_sync_report(s, "clone", gobi_mono_ms() - start);

    } else {
        gobi_warn("the clone in %s is incomplete: \"gobi sync\" there "
                  "finishes it", s->root);
    }

    gobi_sync_close(s);

    return rc;
}


int
gobi_cmd_sync(int argc, char **argv)
{
    gobi_sync_t  *s;
    int64_t       start;
    int           rc;

    start = gobi_mono_ms();

    rc = gobi_sync_open(argc > 0 ? argv[0] : ".", 1, &s);
    if (rc != 0) {
        return rc;
    }

    s->rename = gobi_watch_rename_lazy;

    rc = gobi_sync_run(s);

    gobi_watch_lazy_close();

    if (rc == 0 || rc == GOBI_EXIT_MASS_DELETE) {
        gobi_sync_report(s, "sync", gobi_mono_ms() - start);
    }

    if (rc == 0 && s->stats.conflicts) {
        rc = gobi_error(GOBI_EXIT_CONFLICT, "%lld conflicts: both versions "
                        "kept, see \"gobi conflicts\"",
                        (long long) s->stats.conflicts);
    }

    gobi_sync_close(s);

    return rc;
}
