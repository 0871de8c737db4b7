/*
 * Copyright (C) the gobi authors
 *
 * clone, sync (watch lives in gobi_watch.c).
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_api.h"
#include "gobi_cmd.h"
#include "gobi_conf.h"
#include "gobi_http.h"
#include "gobi_out.h"
#include "gobi_path.h"
#include "gobi_pull.h"
#include "gobi_session.h"
#include "gobi_state.h"
#include "gobi_sync.h"


/*
 * s->rename for sync: the first rename opens a WebSocket session for the
 * rest of the run; without one (no endpoint, server down) renames go as
 * PUT + DELETE.
 */
typedef struct {
    gobi_sync_t     *s;
    gobi_session_t  *ss;
    int              tried;
} gobi_sync_ws_t;


static int
gobi_sync_ws_rename(void *data, const char *from, const char *to,
    int64_t base_version, int64_t *version)
{
    gobi_sync_ws_t  *sw = data;
    gobi_sync_t     *s;
    int              rc;

    s = sw->s;

    if (sw->ss == NULL) {
        if (sw->tried) {
            return gobi_error(GOBI_EXIT_NETWORK, "no WebSocket");
        }

        sw->tried = 1;

        rc = gobi_session_open(s->server, s->cred.token, s->vault, s->cursor,
                               s->device, NULL, NULL, &sw->ss);
        if (rc != 0) {
            gobi_out_v("no WebSocket (%s): renames go as PUT + DELETE",
                       gobi_error_msg());
            return gobi_error(GOBI_EXIT_NETWORK, "no WebSocket");
        }

        gobi_out_v("WebSocket connected");
    }

    return gobi_session_rename(sw->ss, from, to, base_version, version);
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
    gobi_sync_t     *s;
    gobi_sync_ws_t   sw;
    int64_t          start;
    int              rc;

    start = gobi_mono_ms();

    rc = gobi_sync_open(argc > 0 ? argv[0] : ".", 1, &s);
    if (rc != 0) {
        return rc;
    }

    memset(&sw, 0, sizeof(gobi_sync_ws_t));
    sw.s = s;
    s->rename = gobi_sync_ws_rename;
    s->rename_data = &sw;

    rc = gobi_sync_run(s);

    gobi_session_close(sw.ss);

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
