/*
 * Copyright (C) the gobi authors
 *
 * history, restore, trash: the server keeps the versions of every file
 * and the last content of deleted ones.  A restore is done by the server
 * (the old content becomes a new version, or the whole vault goes back to
 * a seq as new events); then the same pull as a sync's brings it here.
 */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "gobi.h"
#include "gobi_api.h"
#include "gobi_changes.h"
#include "gobi_cmd.h"
#include "gobi_json.h"
#include "gobi_local.h"
#include "gobi_out.h"
#include "gobi_progress_fmt.h"
#include "gobi_path.h"
#include "gobi_pull.h"
#include "gobi_sync.h"


#define GOBI_AT_EVENTS_PAGE  10000     /* the server's largest page */
/*
 * The store stamps an event's ts when the request began and gives out seqs
 * as writes commit, so ts grows with seq only nearly: the search for a
 * time reads this far past the first later event.
 */
#define GOBI_AT_SKEW_MS      60000


/* the answers of a paged listing, kept until the output is written */
typedef struct {
    yajl_val   *roots;
    size_t      n;
} gobi_pages_t;


/* one entry of a file's history */
typedef struct {
    int64_t      version;
    const char  *hash;
    int64_t      size;
    int64_t      ts;
    const char  *device;
    int          deleted;
    int          moved;
} gobi_hversion_t;


static void
gobi_pages_add(gobi_pages_t *p, yajl_val root)
{
    p->roots = gobi_realloc(p->roots, (p->n + 1) * sizeof(yajl_val));
    p->roots[p->n++] = root;
}


static void
gobi_pages_free(gobi_pages_t *p)
{
    size_t  i;

    for (i = 0; i < p->n; i++) {
        yajl_tree_free(p->roots[i]);
    }

    free(p->roots);
    p->roots = NULL;
    p->n = 0;
}


/* "a/./b//../c" to "a/c", in place; ".." above the start stays at "/" */
static void
gobi_path_clean(char *abs)
{
    char    *r, *w, *seg;
    size_t   len;

    r = abs;
    w = abs;

    while (*r) {
        while (*r == '/') {
            r++;
        }

        seg = r;

        while (*r && *r != '/') {
            r++;
        }

        len = r - seg;

        if (len == 0 || (len == 1 && seg[0] == '.')) {
            continue;
        }

        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (w > abs && *--w != '/') {
                /* back to the previous slash */
            }

            continue;
        }

        *w++ = '/';
        memmove(w, seg, len);
        w += len;
    }

    if (w == abs) {
        *w++ = '/';
    }

    *w = '\0';
}


/*
 * The vault folder holding `arg` (a file's path, relative to the current
 * folder or absolute; the file itself may be gone) and the file's path in
 * the vault.  The folder is found from the nearest existing folder on the
 * path, so links above the vault folder do not matter.
 */
static int
gobi_history_open(const char *arg, int lock, gobi_sync_t **out, char **rel)
{
    gobi_sync_t  *s;
    struct stat   st;
    const char   *why, *tail;
    char         *abs, *cwd, *dir, *real, *slash;
    size_t        rlen;
    int           rc;

    *out = NULL;
    *rel = NULL;

    if (arg[0] == '\0') {
        return gobi_error(GOBI_EXIT_USAGE, "name a file of the vault");
    }

    if (arg[0] == '/') {
        abs = gobi_strdup(arg);

    } else {
        cwd = getcwd(NULL, 0);
        if (cwd == NULL) {
            return gobi_error(gobi_errno_exit(errno), "cannot find the "
                              "current folder: %s", strerror(errno));
        }

        abs = gobi_sprintf("%s/%s", cwd, arg);
        free(cwd);
    }

    gobi_path_clean(abs);

    if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode)) {
        free(abs);
        return gobi_error(GOBI_EXIT_USAGE, "\"%s\" is a folder: name a file",
                          arg);
    }

    /* the nearest existing folder upwards; the rest is the file's tail */
    slash = abs + strlen(abs);

    for ( ;; ) {
        while (slash > abs && *--slash != '/') {
            /* the previous component */
        }

        dir = slash == abs ? gobi_strdup("/")
                           : gobi_strndup(abs, slash - abs);

        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
            break;
        }

        free(dir);

        if (slash == abs) {
            free(abs);
            return gobi_error(GOBI_EXIT_NOT_FOUND, "cannot find a folder "
                              "on the path \"%s\"", arg);
        }
    }

    tail = slash + 1;

    rc = gobi_sync_open(dir, lock, &s);

    real = rc == 0 ? realpath(dir, NULL) : NULL;
    free(dir);

    if (rc != 0) {
        free(abs);
        return rc;
    }

    if (real == NULL) {
        rc = gobi_error(gobi_errno_exit(errno), "cannot open the folder of "
                        "\"%s\": %s", arg, strerror(errno));
        goto failed;
    }

    /* real is s->root or beneath it (that is where s->root was found) */
    rlen = strcmp(s->root, "/") == 0 ? 0 : strlen(s->root);

    if (strncmp(real, s->root, rlen) != 0
        || (real[rlen] != '\0' && real[rlen] != '/'))
    {
        free(real);
        rc = gobi_error(GOBI_EXIT_ERROR, "\"%s\" is not beneath %s", arg,
                        s->root);
        goto failed;
    }

    if (real[rlen] == '\0') {
        *rel = gobi_strdup(tail);

    } else {
        *rel = gobi_sprintf("%s/%s", real + rlen + 1, tail);
    }

    free(real);
    free(abs);
    abs = NULL;

    if (strcmp(*rel, ".gobi") == 0 || strncmp(*rel, ".gobi/", 6) == 0) {
        rc = gobi_error(GOBI_EXIT_USAGE, "\"%s\" is gobi's own state, not a "
                        "file of the vault", arg);
        goto failed;
    }

    why = gobi_path_check(*rel, strlen(*rel));
    if (why) {
        rc = gobi_error(GOBI_EXIT_USAGE, "bad path \"%s\": %s", *rel, why);
        goto failed;
    }

    rc = gobi_sync_connect(s);
    if (rc != 0) {
        goto failed;
    }

    *out = s;

    return 0;

failed:

    free(abs);
    free(*rel);
    *rel = NULL;
    gobi_sync_close(s);

    return rc;
}


static int
gobi_history_version(yajl_val v, gobi_hversion_t *hv)
{
    memset(hv, 0, sizeof(gobi_hversion_t));

    if (gobi_json_int(v, "version", &hv->version) != 0) {
        return -1;
    }

    hv->hash = gobi_json_str(v, "hash");
    gobi_json_int(v, "size", &hv->size);
    gobi_json_int(v, "ts", &hv->ts);
    hv->device = gobi_json_str(v, "device");
    hv->deleted = gobi_json_bool(v, "deleted");
    hv->moved = gobi_json_bool(v, "moved");

    return 0;
}


/* every page of path's versions, newest first */
static int
gobi_history_fetch(gobi_sync_t *s, const char *path, gobi_pages_t *p)
{
    yajl_val  root;
    int64_t   before, next;
    int       rc;

    before = 0;

    for ( ;; ) {
        rc = gobi_api_versions(s->http, s->server, s->vault, path, before,
                               &root);
        if (rc != 0) {
            return rc;
        }

        gobi_pages_add(p, root);

        if (gobi_json_int(root, "next", &next) != 0) {
            return 0;
        }

        /* a cursor that does not move on would page forever */
        if (next <= 0 || (before > 0 && next >= before)) {
            return gobi_error(GOBI_EXIT_SERVER, "the server's version pages "
                              "do not move on");
        }

        before = next;
    }
}


int
gobi_cmd_history(int argc, char **argv)
{
    gobi_sync_t      *s;
    gobi_pages_t      p;
    gobi_hversion_t   hv;
    yajl_val         *items;
    yajl_gen          g;
    const char       *state;
    char             *path, tbuf[64], bbuf[32];
    size_t            i, j, n, total;
    int               rc;

    (void) argc;

    rc = gobi_history_open(argv[0], 0, &s, &path);
    if (rc != 0) {
        return rc;
    }

    memset(&p, 0, sizeof(gobi_pages_t));

    rc = gobi_history_fetch(s, path, &p);
    if (rc != 0) {
        goto done;
    }

    g = NULL;
    total = 0;

    if (gobi_opts.json) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "vault", s->vault);
        gobi_jkv_str(g, "path", path);
        gobi_jstr(g, "versions");
        yajl_gen_array_open(g);
    }

    for (i = 0; i < p.n; i++) {
        n = gobi_json_array(p.roots[i], "versions", &items);

        for (j = 0; j < n; j++) {
            if (gobi_history_version(items[j], &hv) != 0) {
                continue;
            }

            if (g) {
                yajl_gen_map_open(g);
                gobi_jkv_int(g, "version", hv.version);

                if (!hv.deleted && hv.hash) {
                    gobi_jkv_str(g, "hash", hv.hash);
                    gobi_jkv_int(g, "size", hv.size);
                }

                gobi_jkv_int(g, "ts", hv.ts);
                gobi_jkv_str(g, "device", hv.device);
                gobi_jkv_bool(g, "deleted", hv.deleted);

                if (hv.moved) {
                    gobi_jkv_bool(g, "moved", 1);
                }

                gobi_jkv_bool(g, "current", total == 0 && !hv.deleted);
                yajl_gen_map_close(g);

            } else {
                state = hv.moved ? "  moved away"
                        : hv.deleted ? "  deleted"
                        : total == 0 ? "  current" : "";

                gobi_out("%8lld  %s  %10s  %s%s", (long long) hv.version,
                         gobi_time_str(tbuf, sizeof(tbuf), hv.ts),
                         hv.deleted ? "-"
                         : gobi_fmt_bytes(bbuf, sizeof(bbuf), hv.size),
                         hv.device ? hv.device : "-", state);
            }

            total++;
        }
    }

    if (g) {
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);
    }

done:

    gobi_pages_free(&p);
    free(path);
    gobi_sync_close(s);

    return rc;
}


/*
 * The version `restore <path>` brings back without --version: the newest
 * content that is not the current one (for a deleted file: its last).
 */
static int
gobi_restore_pick(gobi_sync_t *s, const char *path, int64_t *version)
{
    gobi_pages_t      p;
    gobi_hversion_t   hv;
    yajl_val         *items;
    const char       *current;
    size_t            i, j, n;
    int               rc, first;

    memset(&p, 0, sizeof(gobi_pages_t));

    rc = gobi_history_fetch(s, path, &p);
    if (rc != 0) {
        gobi_pages_free(&p);
        return rc;
    }

    current = NULL;
    first = 1;

    for (i = 0; i < p.n; i++) {
        n = gobi_json_array(p.roots[i], "versions", &items);

        for (j = 0; j < n; j++) {
            if (gobi_history_version(items[j], &hv) != 0) {
                continue;
            }

            if (first) {
                first = 0;

                if (!hv.deleted) {
                    current = hv.hash;
                    continue;
                }
            }

            if (hv.deleted || hv.hash == NULL
                || (current && strcmp(hv.hash, current) == 0))
            {
                continue;
            }

            *version = hv.version;
            gobi_pages_free(&p);

            return 0;
        }
    }

    gobi_pages_free(&p);

    return gobi_error(GOBI_EXIT_NOT_FOUND, "\"%s\" has no other content in "
                      "its history to restore (see \"gobi history %s\")",
                      path, path);
}


static int
gobi_restore_change(void *data, gobi_change_e kind, const char *path,
    const char *src)
{
    int64_t  *n = data;

    (void) path;
    (void) src;

    if (kind != GOBI_CH_SKIPPED) {
        (*n)++;
    }

    return 0;
}


/*
 * The pull after a restore (a failure leaves the restore done).  It never
 * writes over an edit made here and not synced yet: the sync's pull keeps
 * it as a conflict copy, or leaves it to the push where the vault's
 * strategy decides on the server.  Either way it is said: for the file
 * (path) as a conflict, for the vault as the count of local changes left.
 */
static int
gobi_restore_pull(gobi_sync_t *s, const char *path, int64_t *left)
{
    gobi_local_t  l;
    int           rc;

    *left = 0;

    rc = gobi_sync_pull(s);

    if (rc != 0) {
        gobi_warn("restored on the server, but not here yet: \"gobi sync\" "
                  "in %s brings it", s->root);
        return rc;
    }

    if (s->stats.conflicts) {
        return gobi_error(GOBI_EXIT_CONFLICT, "%lld local edits were kept "
                          "as conflict copies: \"gobi sync\" sends them, see "
                          "\"gobi conflicts\"",
                          (long long) s->stats.conflicts);
    }

    if (path) {
        rc = gobi_local_get(s, path, &l);
        if (rc != 0) {
            return rc;
        }

        if (l.state == GOBI_L_CHANGED) {
            *left = 1;
            return gobi_error(GOBI_EXIT_CONFLICT, "\"%s\" has an edit here "
                              "that was never synced, so the restored "
                              "version is not written over it yet: \"gobi "
                              "sync\" settles the two by the vault's "
                              "conflict strategy, losing neither", path);
        }

        return 0;
    }

    rc = gobi_sync_changes(s, gobi_restore_change, left);

    if (rc == 0 && *left) {
        gobi_warn("%lld local changes not synced yet were left as they are "
                  "(see \"gobi status\"): \"gobi sync\" sends them",
                  (long long) *left);
    }

    return rc;
}


static int
gobi_restore_file(const char *arg)
{
    gobi_sync_t  *s;
    yajl_val      root;
    yajl_gen      g;
    int64_t       from, version, seq, size, left;
    char         *path, bbuf[32];
    int           rc;

    rc = gobi_history_open(arg, 1, &s, &path);
    if (rc != 0) {
        return rc;
    }

    from = gobi_opts.version;

    if (from == 0) {
        rc = gobi_restore_pick(s, path, &from);
        if (rc != 0) {
            goto done;
        }
    }

    rc = gobi_api_restore(s->http, s->server, s->vault, s->device, path,
                          from, &root);
    if (rc != 0) {
        goto done;
    }

    version = 0;
    seq = 0;
    size = 0;
    gobi_json_int(root, "version", &version);
    gobi_json_int(root, "seq", &seq);
    gobi_json_int(root, "size", &size);

    rc = gobi_restore_pull(s, path, &left);

    if (gobi_opts.json && (rc == 0 || rc == GOBI_EXIT_CONFLICT)) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "command", "restore");
        gobi_jkv_str(g, "dir", s->root);
        gobi_jkv_str(g, "vault", s->vault);
        gobi_jkv_str(g, "path", path);
        gobi_jkv_int(g, "restored_from", from);
        gobi_jkv_int(g, "version", version);
        gobi_jkv_str(g, "hash", gobi_json_str(root, "hash"));
        gobi_jkv_int(g, "size", size);
        gobi_jkv_int(g, "seq", seq);
        gobi_jkv_int(g, "cursor", s->cursor);
        gobi_jkv_int(g, "downloaded", s->stats.downloaded);
        gobi_jkv_int(g, "conflicts", s->stats.conflicts);
        gobi_jkv_bool(g, "local_edit", (int) left);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);

    } else if (rc == 0 || rc == GOBI_EXIT_CONFLICT) {
        gobi_out("restored %s from version %lld: now version %lld (%s)",
                 path, (long long) from, (long long) version,
                 gobi_fmt_bytes(bbuf, sizeof(bbuf), size));
    }

    yajl_tree_free(root);

done:

    free(path);
    gobi_sync_close(s);

    return rc;
}


/* n digits at *p into *out */
static int
gobi_at_digits(const char **p, int n, int *out)
{
    int  v;

    for (v = 0; n > 0; n--, (*p)++) {
        if (**p < '0' || **p > '9') {
            return -1;
        }

        v = v * 10 + (**p - '0');
    }

    *out = v;

    return 0;
}


/*
 * ISO 8601: YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:]MM]; without a
 * zone the local time.  Unix ms into *ms.
 */
static int
gobi_at_iso(const char *p, int64_t *ms)
{
    static const int  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };
    struct tm         tm;
    time_t            t;
    int               y, mo, d, h, mi, sec, frac, scale, zone, zh, zm, leap;
    int               sign;

    h = 0;
    mi = 0;
    sec = 0;
    frac = 0;
    zone = 0;
    sign = 0;
    zh = 0;
    zm = 0;

    if (gobi_at_digits(&p, 4, &y) != 0 || *p++ != '-'
        || gobi_at_digits(&p, 2, &mo) != 0 || *p++ != '-'
        || gobi_at_digits(&p, 2, &d) != 0)
    {
        return -1;
    }

    if (*p == 'T' || *p == ' ') {
        p++;

        if (gobi_at_digits(&p, 2, &h) != 0 || *p++ != ':'
            || gobi_at_digits(&p, 2, &mi) != 0)
        {
            return -1;
        }

        if (*p == ':') {
            p++;

            if (gobi_at_digits(&p, 2, &sec) != 0) {
                return -1;
            }

            if (*p == '.' || *p == ',') {
                p++;

                if (*p < '0' || *p > '9') {
                    return -1;
                }

                for (scale = 100; *p >= '0' && *p <= '9'; p++) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                }
            }
        }
    }

    if (*p == 'Z') {
        zone = 1;
        p++;

    } else if (*p == '+' || *p == '-') {
        zone = 1;
        sign = *p++ == '-' ? -1 : 1;

        if (gobi_at_digits(&p, 2, &zh) != 0) {
            return -1;
        }

        if (*p == ':') {
            p++;
        }

        if (gobi_at_digits(&p, 2, &zm) != 0 || zh > 23 || zm > 59) {
            return -1;
        }
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1
        || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)
        || h > 23 || mi > 59 || sec > 59)
    {
        return -1;
    }

    memset(&tm, 0, sizeof(struct tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;

    t = zone ? timegm(&tm) : mktime(&tm);
    if (t == (time_t) -1) {
        return -1;
    }

    t -= sign * (zh * 3600 + zm * 60);
    *ms = (int64_t) t * 1000 + frac;

    return 0;
}


/*
 * --at: a seq (digits), unix seconds (@digits) or an ISO 8601 time.
 * *seq >= 0 for a seq, else *ms is the time.
 */
static int
gobi_at_parse(const char *at, int64_t *seq, int64_t *ms)
{
    char       *end;
    long long   n;

    *seq = -1;
    *ms = 0;

    if (at[0] >= '0' && at[0] <= '9' && strchr(at, '-') == NULL) {
        errno = 0;
        n = strtoll(at, &end, 10);

        if (*end == '\0' && errno == 0) {
            *seq = n;
            return 0;
        }

    } else if (at[0] == '@' && at[1] >= '0' && at[1] <= '9') {
        errno = 0;
        n = strtoll(at + 1, &end, 10);

        if (*end == '\0' && errno == 0 && n <= INT64_MAX / 1000) {
            *ms = (int64_t) n * 1000;
            return 0;
        }

    } else if (gobi_at_iso(at, ms) == 0) {
        return 0;
    }

    return gobi_error(GOBI_EXIT_USAGE, "bad --at \"%s\": a seq (12), a time "
                      "(2026-12-03T10:15:00Z, or local without the Z) or "
                      "unix seconds (@1796292900)", at);
}


/*
 * The oldest seq the server still has events after: since=0 answers 410
 * once the log was pruned, and a since answers 410 exactly when events
 * after it are gone, so the boundary is found by halving [0, head].
 */
static int
gobi_at_oldest(gobi_sync_t *s, int64_t *since)
{
    yajl_val  root;
    int64_t   lo, hi, mid, head;
    int       rc, expired;

    rc = gobi_api_vault_head(s->http, s->server, s->vault, &head);
    if (rc != 0) {
        return rc;
    }

    lo = 0;                                    /* expired */
    hi = head;                                 /* answers */

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;

        rc = gobi_api_events(s->http, s->server, s->vault, mid, 1, &root,
                             &expired);
        if (rc != 0) {
            return rc;
        }

        yajl_tree_free(root);

        if (expired) {
            lo = mid;
        } else {
            hi = mid;
        }
    }

    *since = hi;

    return 0;
}


/* the newest event at or before ms: its seq */
static int
gobi_at_find(gobi_sync_t *s, int64_t ms, int64_t *seq)
{
    yajl_val      root, *items;
    gobi_event_t  ev;
    int64_t       since, first_ts, first_seq;
    size_t        i, n;
    int           rc, expired, more, pruned;
    char          tbuf[64], fbuf[64];

    *seq = -1;
    since = 0;
    pruned = 0;
    first_ts = -1;
    first_seq = 0;

    for ( ;; ) {
        rc = gobi_api_events(s->http, s->server, s->vault, since,
                             GOBI_AT_EVENTS_PAGE, &root, &expired);
        if (rc != 0) {
            return rc;
        }

        if (expired) {
            if (pruned) {
                return gobi_error(GOBI_EXIT_SERVER, "the server's events "
                                  "expired while they were read");
            }

            pruned = 1;

            rc = gobi_at_oldest(s, &since);
            if (rc != 0) {
                return rc;
            }

            continue;
        }

        n = gobi_json_array(root, "events", &items);
        more = gobi_json_bool(root, "more");

        for (i = 0; i < n; i++) {
            if (gobi_api_event(items[i], &ev) != 0 || ev.seq <= since) {
                continue;
            }

            if (first_ts < 0) {
                first_ts = ev.ts;
                first_seq = ev.seq;
            }

            if (ev.ts <= ms && ev.seq > *seq) {
                *seq = ev.seq;
            }

            if (ev.ts > ms + GOBI_AT_SKEW_MS) {
                more = 0;
            }

            since = ev.seq;
        }

        yajl_tree_free(root);

        if (!more || n == 0) {
            break;
        }
    }

    if (*seq >= 0) {
        return 0;
    }

    gobi_time_str(tbuf, sizeof(tbuf), ms);

    if (first_ts < 0) {
        return gobi_error(GOBI_EXIT_NOT_FOUND, "the server keeps no events "
                          "of vault \"%s\" to find %s in: give a seq",
                          s->vault, tbuf);
    }

    gobi_time_str(fbuf, sizeof(fbuf), first_ts);

    if (pruned) {
        return gobi_error(GOBI_EXIT_NOT_FOUND, "the server keeps the "
                          "vault's events from %s (seq %lld) on, none from "
                          "%s: give a later time, or a seq", fbuf,
                          (long long) first_seq, tbuf);
    }

    return gobi_error(GOBI_EXIT_NOT_FOUND, "vault \"%s\" had no changes yet "
                      "at %s (the first is from %s); \"--at 0\" would empty "
                      "it", s->vault, tbuf, fbuf);
}


static int
gobi_restore_at(const char *dir)
{
    gobi_sync_t  *s;
    struct stat   st;
    yajl_val      root;
    yajl_gen      g;
    int64_t       seq, ms, restored, deleted, unchanged, head, left;
    char          tbuf[64];
    int           rc;

    rc = gobi_at_parse(gobi_opts.at, &seq, &ms);
    if (rc != 0) {
        return rc;
    }

    /* a file here would be found to be in the folder: say what --at does */
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        return gobi_error(GOBI_EXIT_USAGE, "--at restores the whole vault: "
                          "give its folder, not \"%s\" (a file's versions: "
                          "--version N)", dir);
    }

    rc = gobi_sync_open(dir, 1, &s);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_sync_connect(s);

    if (rc == 0 && seq < 0) {
        rc = gobi_at_find(s, ms, &seq);
    }

    if (rc == 0) {
        rc = gobi_api_restore(s->http, s->server, s->vault, s->device, NULL,
                              seq, &root);
    }

    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    restored = 0;
    deleted = 0;
    unchanged = 0;
    head = 0;
    gobi_json_int(root, "restored", &restored);
    gobi_json_int(root, "deleted", &deleted);
    gobi_json_int(root, "unchanged", &unchanged);
    gobi_json_int(root, "seq", &head);
    yajl_tree_free(root);

    rc = gobi_restore_pull(s, NULL, &left);

    if (gobi_opts.json && (rc == 0 || rc == GOBI_EXIT_CONFLICT)) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "command", "restore");
        gobi_jkv_str(g, "dir", s->root);
        gobi_jkv_str(g, "vault", s->vault);
        gobi_jkv_int(g, "restored_to", seq);

        if (ms) {
            gobi_jkv_int(g, "at", ms);
        }

        gobi_jkv_int(g, "restored", restored);
        gobi_jkv_int(g, "deleted", deleted);
        gobi_jkv_int(g, "unchanged", unchanged);
        gobi_jkv_int(g, "seq", head);
        gobi_jkv_int(g, "cursor", s->cursor);
        gobi_jkv_int(g, "downloaded", s->stats.downloaded);
        gobi_jkv_int(g, "deleted_local", s->stats.deleted_local);
        gobi_jkv_int(g, "conflicts", s->stats.conflicts);
        gobi_jkv_int(g, "local_changes", left);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);

    } else if (rc == 0 || rc == GOBI_EXIT_CONFLICT) {
        if (ms) {
            gobi_out("restored vault %s to seq %lld (its last change at or "
                     "before %s): %lld files restored, %lld deleted, %lld "
                     "unchanged", s->vault, (long long) seq,
                     gobi_time_str(tbuf, sizeof(tbuf), ms),
                     (long long) restored, (long long) deleted,
                     (long long) unchanged);

        } else {
            gobi_out("restored vault %s to seq %lld: %lld files restored, "
                     "%lld deleted, %lld unchanged", s->vault,
                     (long long) seq, (long long) restored,
                     (long long) deleted, (long long) unchanged);
        }
    }

    gobi_sync_close(s);

    return rc;
}


int
gobi_cmd_restore(int argc, char **argv)
{
    if (gobi_opts.at) {
        if (gobi_opts.version) {
            return gobi_error(GOBI_EXIT_USAGE, "gobi restore: --at and "
                              "--version do not go together");
        }

        return gobi_restore_at(argc > 0 ? argv[0] : ".");
    }

    if (argc != 1) {
        return gobi_error(GOBI_EXIT_USAGE, "usage: gobi restore <path> "
                          "[--version N], or gobi restore --at <seq|time> "
                          "[dir]");
    }

    return gobi_restore_file(argv[0]);
}


int
gobi_cmd_trash(int argc, char **argv)
{
    gobi_sync_t   *s;
    gobi_pages_t   p;
    yajl_val       root, *items;
    yajl_gen       g;
    const char    *path, *next, *device;
    char          *after, tbuf[64], bbuf[32];
    int64_t        version, size, deleted_at, retention;
    size_t         i, j, n, total;
    int            rc;

    rc = gobi_sync_open(argc > 0 ? argv[0] : ".", 0, &s);
    if (rc != 0) {
        return rc;
    }

    memset(&p, 0, sizeof(gobi_pages_t));
    after = NULL;

    rc = gobi_sync_connect(s);

    while (rc == 0) {
        rc = gobi_api_trash(s->http, s->server, s->vault, after, &root);
        if (rc != 0) {
            break;
        }

        gobi_pages_add(&p, root);

        next = gobi_json_str(root, "next");
        if (next == NULL) {
            break;
        }

        if (after && strcmp(next, after) <= 0) {
            rc = gobi_error(GOBI_EXIT_SERVER, "the server's trash pages do "
                            "not move on");
            break;
        }

        free(after);
        after = gobi_strdup(next);
    }

    free(after);

    if (rc != 0) {
        goto done;
    }

    retention = 0;
    gobi_json_int(p.roots[0], "retention", &retention);

    g = NULL;
    total = 0;

    if (gobi_opts.json) {
        g = gobi_json_out_new();
        yajl_gen_map_open(g);
        gobi_jkv_str(g, "vault", s->vault);
        gobi_jkv_int(g, "retention", retention);
        gobi_jstr(g, "trash");
        yajl_gen_array_open(g);
    }

    for (i = 0; i < p.n; i++) {
        n = gobi_json_array(p.roots[i], "trash", &items);

        for (j = 0; j < n; j++) {
            path = gobi_json_str(items[j], "path");

            if (path == NULL
                || gobi_json_int(items[j], "version", &version) != 0)
            {
                continue;
            }

            size = 0;
            deleted_at = 0;
            gobi_json_int(items[j], "size", &size);
            gobi_json_int(items[j], "deleted_at", &deleted_at);
            device = gobi_json_str(items[j], "device");

            if (g) {
                yajl_gen_map_open(g);
                gobi_jkv_str(g, "path", path);
                gobi_jkv_int(g, "version", version);
                gobi_jkv_str(g, "hash", gobi_json_str(items[j], "hash"));
                gobi_jkv_int(g, "size", size);
                gobi_jkv_int(g, "deleted_at", deleted_at);
                gobi_jkv_str(g, "device", device);
                yajl_gen_map_close(g);

            } else {
                gobi_out("%s  %s  %10s  version %lld, deleted by %s",
                         gobi_time_str(tbuf, sizeof(tbuf), deleted_at),
                         path, gobi_fmt_bytes(bbuf, sizeof(bbuf), size),
                         (long long) version, device ? device : "-");
            }

            total++;
        }
    }

    if (g) {
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        gobi_json_out_end(g);

    } else if (total == 0) {
        gobi_out("the trash of vault %s is empty", s->vault);

    } else if (retention >= 86400) {
        gobi_out("(kept %lld days after the delete: \"gobi restore <path>\" "
                 "brings one back)", (long long) (retention / 86400));

    } else if (retention > 0) {
        gobi_out("(kept %lld s after the delete: \"gobi restore <path>\" "
                 "brings one back)", (long long) retention);
    }

done:

    gobi_pages_free(&p);
    gobi_sync_close(s);

    return rc;
}
