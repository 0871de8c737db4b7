/*
 * Copyright (C) the gobi authors
 *
 * Opening a vault folder (find it, lock it, read its state), one whole
 * sync pass and its report.  .gobi/ and what is in it are opened beneath
 * the root without following links (gobi_beneath.c).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "gobi.h"
#include "gobi_beneath.h"
#include "gobi_changes.h"
#include "gobi_conf.h"
#include "gobi_http.h"
#include "gobi_ignore.h"
#include "gobi_local.h"
#include "gobi_map.h"
#include "gobi_out.h"
#include "gobi_progress_fmt.h"
#include "gobi_pull.h"
#include "gobi_push.h"
#include "gobi_state.h"
#include "gobi_sync.h"


#define GOBI_ROUNDS  5


/* the nearest folder from dir upwards that holds .gobi/state.db */
static char *
gobi_sync_find_root(const char *dir)
{
    char  *abs, *p, *slash;

    abs = realpath(dir, NULL);
    if (abs == NULL) {
        gobi_error(gobi_errno_exit(errno), "cannot open \"%s\": %s", dir,
                   strerror(errno));
        return NULL;
    }

    for ( ;; ) {
        p = gobi_sprintf("%s/.gobi/state.db", strcmp(abs, "/") ? abs : "");

        if (access(p, F_OK) == 0) {
            free(p);
            return abs;
        }

        free(p);

        slash = strrchr(abs, '/');
        if (slash == NULL || slash == abs) {
            break;
        }

        *slash = '\0';
    }

    free(abs);
    gobi_error(GOBI_EXIT_NOT_FOUND, "\"%s\" is not inside a gobi folder: "
               "run \"gobi clone <vault> <dir>\" first", dir);

    return NULL;
}


/*
 * .gobi/ and the state files must be what they seem: a link there would
 * have SQLite, the lock or the temp files write wherever it points.
 */
static int
gobi_sync_check_state(gobi_sync_t *s)
{
    static const char  *files[] = { ".gobi", ".gobi/state.db",
                                    ".gobi/state.db-wal",
                                    ".gobi/state.db-shm",
                                    ".gobi/state.db-journal", ".gobi/lock",
                                    ".gobi/tmp" };
    struct stat         st;
    size_t              i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (gobi_beneath_stat(s->rootfd, files[i], &st) != 0) {
            if (errno == ENOENT) {
                continue;
            }

            return gobi_error(gobi_errno_exit(errno), "cannot use %s/%s: "
                              "%s", s->root, files[i], strerror(errno));
        }

        if (S_ISLNK(st.st_mode)) {
            return gobi_error(GOBI_EXIT_ERROR, "%s/%s is a symbolic link: "
                              "gobi does not follow links there; remove it",
                              s->root, files[i]);
        }
    }

    return 0;
}


static int
gobi_sync_lock(gobi_sync_t *s)
{
    s->lockfd = gobi_beneath_open(s->rootfd, ".gobi/lock", O_RDWR | O_CREAT,
                                  0600);
    if (s->lockfd < 0) {
        return gobi_error(gobi_errno_exit(errno), "cannot open %s/.gobi/lock:"
                          " %s", s->root, strerror(errno));
    }

    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            return gobi_error(GOBI_EXIT_BUSY, "another gobi is working in "
                              "%s", s->root);
        }

        return gobi_error(GOBI_EXIT_ERROR, "cannot lock %s: %s", s->root,
                          strerror(errno));
    }

    return 0;
}


/* leftovers of an interrupted download */
static void
gobi_sync_clean_tmp(gobi_sync_t *s)
{
    DIR            *d;
    struct dirent  *de;
    int             fd;

    if (gobi_beneath_mkdir(s->rootfd, ".gobi/tmp", 0700) == 0
        || errno != EEXIST)
    {
        return;
    }

    fd = gobi_beneath_open(s->rootfd, ".gobi/tmp", O_RDONLY | O_DIRECTORY,
                           0);
    if (fd < 0) {
        return;
    }

    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "dl.", 3) == 0) {
            unlinkat(dirfd(d), de->d_name, 0);
        }
    }

    closedir(d);
}


static int
gobi_sync_init(gobi_sync_t *s, int lock)
{
    int  rc;

    s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0) {
        return gobi_error(gobi_errno_exit(errno), "cannot open %s: %s",
                          s->root, strerror(errno));
    }

    rc = gobi_sync_check_state(s);
    if (rc != 0) {
        return rc;
    }

    if (lock) {
        rc = gobi_sync_lock(s);
        if (rc != 0) {
            return rc;
        }

        gobi_sync_clean_tmp(s);
    }

    gobi_map_init(&s->hashes);
    s->ign = gobi_ignore_load(s->rootfd);

    return 0;
}


static gobi_sync_t *
gobi_sync_new(void)
{
    gobi_sync_t  *s;

    s = gobi_calloc(sizeof(gobi_sync_t));
    s->rootfd = -1;
    s->lockfd = -1;

    return s;
}


int
gobi_sync_open(const char *dir, int lock, gobi_sync_t **out)
{
    gobi_sync_t  *s;
    int           rc;
    char         *url;

    *out = NULL;

    s = gobi_sync_new();

    s->root = gobi_sync_find_root(dir ? dir : ".");
    if (s->root == NULL) {
        gobi_sync_close(s);
        return gobi_error_code();
    }

    rc = gobi_sync_init(s, lock);

    if (rc == 0) {
        rc = gobi_state_open(s->root, 0, &s->st);
    }

    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    s->server = gobi_state_meta_get(s->st, "server");
    s->vault = gobi_state_meta_get(s->st, "vault");
    s->device = gobi_state_meta_get(s->st, "device");
    s->cursor = gobi_state_meta_int(s->st, "cursor", 0);

    if (s->server == NULL || s->vault == NULL || s->device == NULL) {
        rc = gobi_error(GOBI_EXIT_ERROR, "%s/.gobi/state.db is incomplete: "
                        "clone the vault again", s->root);
        gobi_sync_close(s);
        return rc;
    }

    /*
     * --server on a cloned folder moves it to another instance of the same
     * deployment (another gobi behind the same store): the cursor stays
     * valid, the folder remembers the new address.
     */

    url = NULL;

    if (gobi_opts.server) {
        rc = gobi_url_normalize(gobi_opts.server, &url);

        if (rc == 0 && strcmp(url, s->server) != 0) {
            rc = gobi_state_meta_set(s->st, "server", url);

            if (rc == 0) {
                free(s->server);
                s->server = url;
                url = NULL;
            }
        }

        free(url);

        if (rc != 0) {
            gobi_sync_close(s);
            return rc;
        }
    }

    *out = s;

    return 0;
}


int
gobi_sync_create(const char *dir, const char *server, const char *vault,
    gobi_sync_t **out)
{
    gobi_sync_t    *s;
    DIR            *d;
    struct dirent  *de;
    int             rc, empty;

    *out = NULL;

    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        return gobi_error(gobi_errno_exit(errno), "cannot create \"%s\": %s",
                          dir, strerror(errno));
    }

    d = opendir(dir);
    if (d == NULL) {
        return gobi_error(gobi_errno_exit(errno), "cannot open \"%s\": %s",
                          dir, strerror(errno));
    }

    empty = 1;

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            empty = 0;
            break;
        }
    }

    closedir(d);

    if (!empty) {
        return gobi_error(GOBI_EXIT_EXISTS, "\"%s\" exists and is not empty",
                          dir);
    }

    s = gobi_sync_new();

    s->root = realpath(dir, NULL);
    if (s->root == NULL) {
        rc = gobi_error(gobi_errno_exit(errno), "cannot open \"%s\": %s",
                        dir, strerror(errno));
        gobi_sync_close(s);
        return rc;
    }

    rc = gobi_state_open(s->root, 1, &s->st);

    if (rc == 0) {
        rc = gobi_sync_init(s, 1);
    }

    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    s->server = gobi_strdup(server);
    s->vault = gobi_strdup(vault);
    s->device = gobi_opts.device ? gobi_strdup(gobi_opts.device)
                                 : gobi_device_default();

    rc = gobi_state_begin(s->st);

    if (rc == 0) {
        rc = gobi_state_meta_set(s->st, "server", s->server);
    }

    if (rc == 0) {
        rc = gobi_state_meta_set(s->st, "vault", s->vault);
    }

    if (rc == 0) {
        rc = gobi_state_meta_set(s->st, "device", s->device);
    }

    if (rc == 0) {
        rc = gobi_state_meta_set_int(s->st, "cursor", 0);
    }

    if (rc == 0) {
        rc = gobi_state_commit(s->st);
    }

    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    *out = s;

    return 0;
}


int
gobi_sync_connect(gobi_sync_t *s)
{
    int  rc;

    if (s->http) {
        return 0;
    }

    rc = gobi_cred_load(s->server, &s->cred);
    if (rc != 0) {
        return rc;
    }

    s->http = gobi_http_new(s->cred.token, gobi_opts.jobs);
    if (s->http == NULL) {
        return gobi_error_code();
    }

    return 0;
}


void
gobi_sync_close(gobi_sync_t *s)
{
    size_t  i;

    if (s == NULL) {
        return;
    }

    if (s->st) {
        gobi_sync_flush(s);
        gobi_state_close(s->st);
    }

    gobi_sync_offer_clear(s);
    gobi_http_free(s->http);
    gobi_cred_free(&s->cred);
    gobi_ignore_free(s->ign);

    if (s->hashes.slots) {
        for (i = 0; i < s->hashes.cap; i++) {
            if (s->hashes.slots[i].key) {
                free((char *) s->hashes.slots[i].key);
                free(s->hashes.slots[i].value);
            }
        }

        gobi_map_free(&s->hashes);
    }

    if (s->rootfd >= 0) {
        close(s->rootfd);
    }

    if (s->lockfd >= 0) {
        close(s->lockfd);
    }

    free(s->root);
    free(s->server);
    free(s->vault);
    free(s->device);
    free(s);
}


int
gobi_sync_run(gobi_sync_t *s)
{
    int  rc, round, prc;

    rc = gobi_sync_connect(s);
    if (rc != 0) {
        return rc;
    }

    for (round = 0; round < GOBI_ROUNDS; round++) {
        s->need_pull = 0;

        prc = gobi_sync_pull(s);

        /*
         * Local changes go into the queue even when the server cannot be
         * reached: they are sent, in order, on the next run.
         */
        rc = gobi_sync_scan(s);

        if (prc != 0) {
            return prc;
        }

        if (rc != 0) {
            return rc;
        }

        rc = gobi_sync_push(s);
        if (rc != 0) {
            return rc;
        }

        if (!s->need_pull) {
            break;
        }
    }

    rc = gobi_state_meta_set_int(s->st, "last_sync", gobi_now_ms());
    if (rc != 0) {
        return rc;
    }

    if (s->stats.mass_delete_refused) {
        return gobi_error(GOBI_EXIT_MASS_DELETE, "refusing to delete %lld "
                          "of %lld files on the server (more than half, or "
                          "more than the server takes from one device in a "
                          "few minutes): check the folder, or run again "
                          "with --allow-mass-delete",
                          (long long) s->stats.mass_delete_refused,
                          (long long) gobi_state_base_count(s->st));
    }

    return 0;
}


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
        gobi_jkv_int(g, "skipped", t->skipped);
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
    GOBI_PART(t->skipped, "skipped");
    GOBI_PART(pending, "pending");

#undef GOBI_PART

    files = t->uploaded + t->downloaded + t->deleted_remote + t->deleted_local
            + t->renamed_remote + t->renamed_local + t->conflicts
            + t->skipped + pending;

    if (files == 0 && len < sizeof(line)) {
        len += snprintf(line + len, sizeof(line) - len, " up to date,");
    }

    if (len < sizeof(line)) {
        snprintf(line + len - 1, sizeof(line) - len + 1, " (%s, %.1fs)",
                 gobi_fmt_bytes(b1, sizeof(b1),
                                  t->bytes_up + t->bytes_down),
                 ms / 1000.0);
    }

    gobi_out("%s", line);
}
