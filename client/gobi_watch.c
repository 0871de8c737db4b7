/*
 * Copyright (C) the gobi authors
 *
 * watch: stay running.  Local changes come from inotify (recursive, new
 * folders included) and go into the durable queue at once.  A file that
 * was closed after writing (or moved into place, or deleted) is pushed at
 * once; while some file is still being written, the push waits for a
 * short quiet time (debounce), so a file is not sent half-written.  Remote changes are announced on
 * the WebSocket (welcome, events, event): each announcement schedules a
 * pull; the events it brings are applied as they are when they follow
 * the cursor, else the pull replays the log since the cursor.  Without
 * a WebSocket (the server has none, or it is down) the client polls.
 * Every pass pulls before it pushes, so after an offline period the
 * server's events are applied first and the queue is re-checked against
 * the new base.  Network errors back off (1 s doubling to 30 s).
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "gobi.h"
#include "gobi_beneath.h"
#include "gobi_changes.h"
#include "gobi_cmd.h"
#include "gobi_ignore.h"
#include "gobi_out.h"
#include "gobi_path.h"
#include "gobi_pull.h"
#include "gobi_push.h"
#include "gobi_session.h"
#include "gobi_state.h"
#include "gobi_sync.h"
#include "gobi_wsmsg.h"


#define GOBI_DEBOUNCE_MS     300
#define GOBI_DEBOUNCE_MAX    2000
#define GOBI_SETTLE_MS       5             /* all closed: push now */
#define GOBI_OPEN_MAX        256           /* files seen being written */
#define GOBI_MOVE_PAIR_MS    200
#define GOBI_POLL_MS         2000          /* no WebSocket: REST polling */
#define GOBI_BACKOFF_MAX     30000
#define GOBI_RESCAN_MS       300000        /* a full scan now and then */

#define GOBI_IN_MASK  (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE    \
                       | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB             \
                       | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR          \
                       | IN_DONT_FOLLOW | IN_EXCL_UNLINK)


/* a file written to and not closed yet (by its last IN_MODIFY) */
typedef struct {
    char           *path;
    int64_t         at;
} gobi_watch_open_t;


typedef struct {
    gobi_sync_t    *s;
    int             ifd;
    char          **wd_path;               /* by watch descriptor */
    int             nwd;

    gobi_session_t *ss;
    int             ws_welcomed;           /* every event comes on it */
    int             ws_backoff;
    int64_t         ws_next;

    int             offline;
    int             net_backoff;
    int64_t         net_next;

    int             pull_wanted;
    int             push_wanted;
    int             rescan_wanted;
    int64_t         push_at;
    int64_t         push_first;
    int64_t         poll_next;
    int64_t         rescan_next;

    uint32_t        mv_cookie;
    char           *mv_from;
    int64_t         mv_at;

    gobi_watch_open_t  open[GOBI_OPEN_MAX];
    int             nopen;
} gobi_watch_t;


static volatile sig_atomic_t  gobi_watch_stop;


static void
gobi_watch_signal(int signo)
{
    (void) signo;

    gobi_watch_stop = 1;
}


static void
gobi_watch_add_dir(gobi_watch_t *w, const char *rel)
{
    DIR            *d;
    struct dirent  *de;
    struct stat     st;
    char           *abs, *child;
    int             wd, fd;

    abs = *rel ? gobi_sprintf("%s/%s", w->s->root, rel)
               : gobi_strdup(w->s->root);

    wd = inotify_add_watch(w->ifd, abs, GOBI_IN_MASK);

    if (wd < 0) {
        if (errno == ENOSPC) {
            gobi_warn("too many folders to watch (raise "
                      "fs.inotify.max_user_watches): some changes are "
                      "found by periodic scans only");
        }

        free(abs);
        return;
    }

    if (wd >= w->nwd) {
        w->wd_path = gobi_realloc(w->wd_path, sizeof(char *) * (wd + 64));
        memset(w->wd_path + w->nwd, 0, sizeof(char *) * (wd + 64 - w->nwd));
        w->nwd = wd + 64;
    }

    free(w->wd_path[wd]);
    w->wd_path[wd] = gobi_strdup(rel);

    /* what is watched is read beneath the root: links are not followed */
    free(abs);
    fd = *rel ? gobi_beneath_open(w->s->rootfd, rel, O_RDONLY | O_DIRECTORY,
                                  0)
              : openat(w->s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        return;
    }

    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0
            || (*rel == '\0' && strcmp(de->d_name, ".gobi") == 0))
        {
            continue;
        }

        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0
            || !S_ISDIR(st.st_mode))
        {
            continue;
        }

        child = *rel ? gobi_sprintf("%s/%s", rel, de->d_name)
                     : gobi_strdup(de->d_name);

        if (!gobi_ignore_entry(w->s->ign, child, 1)) {
            gobi_watch_add_dir(w, child);
        }

        free(child);
    }

    closedir(d);
}


static void
gobi_watch_changed(gobi_watch_t *w)
{
    int64_t  now;

    now = gobi_mono_ms();

    if (!w->push_wanted) {
        w->push_wanted = 1;
        w->push_first = now;
    }

    w->push_at = now + GOBI_DEBOUNCE_MS;

    if (w->push_at > w->push_first + GOBI_DEBOUNCE_MAX) {
        w->push_at = w->push_first + GOBI_DEBOUNCE_MAX;
    }
}


/*
 * Files being written: an IN_MODIFY or IN_CREATE adds the file, its
 * IN_CLOSE_WRITE (or its delete or move) takes it out.  A file written
 * through a descriptor that stays open is forgotten after the longest
 * debounce, so the push is only ever delayed as before.
 */

static void
gobi_watch_open_del(gobi_watch_t *w, const char *path)
{
    int  i;

    for (i = 0; i < w->nopen; i++) {
        if (strcmp(w->open[i].path, path) == 0) {
            free(w->open[i].path);
            w->open[i] = w->open[--w->nopen];
            return;
        }
    }
}


static void
gobi_watch_open_add(gobi_watch_t *w, const char *path)
{
    int  i;

    for (i = 0; i < w->nopen; i++) {
        if (strcmp(w->open[i].path, path) == 0) {
            w->open[i].at = gobi_mono_ms();
            return;
        }
    }

    if (w->nopen == GOBI_OPEN_MAX) {
        /* too many to follow: the oldest one waits out the debounce */
        return;
    }

    w->open[w->nopen].path = gobi_strdup(path);
    w->open[w->nopen].at = gobi_mono_ms();
    w->nopen++;
}


/* after a batch of inotify events: nothing half-written, push now */
static void
gobi_watch_settle(gobi_watch_t *w)
{
    int64_t  now;
    int      i;

    now = gobi_mono_ms();

    for (i = 0; i < w->nopen; /* void */) {
        if (now - w->open[i].at >= GOBI_DEBOUNCE_MAX) {
            free(w->open[i].path);
            w->open[i] = w->open[--w->nopen];
            continue;
        }

        i++;
    }

    if (w->push_wanted && w->nopen == 0 && w->push_at > now + GOBI_SETTLE_MS)
    {
        w->push_at = now + GOBI_SETTLE_MS;
    }
}


static void
gobi_watch_queue(gobi_watch_t *w, gobi_qop_e op, const char *path,
    const char *src)
{
    if (gobi_ignore_path(w->s->ign, path)) {
        return;
    }

    if (gobi_state_queue_add(w->s->st, op, path, src) != 0) {
        gobi_warn("%s", gobi_error_msg());
        w->rescan_wanted = 1;
    }

    gobi_watch_changed(w);
}


static void
gobi_watch_flush_move(gobi_watch_t *w)
{
    if (w->mv_from) {
        gobi_watch_queue(w, GOBI_QOP_CHECK, w->mv_from, NULL);
        free(w->mv_from);
        w->mv_from = NULL;
    }
}


static void
gobi_watch_event(gobi_watch_t *w, struct inotify_event *ev)
{
    const char  *dir;
    char        *path;
    int          is_dir;

    if (ev->mask & IN_Q_OVERFLOW) {
        w->rescan_wanted = 1;
        gobi_watch_changed(w);
        return;
    }

    if (ev->wd < 0 || ev->wd >= w->nwd || w->wd_path[ev->wd] == NULL) {
        return;
    }

    dir = w->wd_path[ev->wd];

    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (ev->mask & IN_IGNORED) {
            free(w->wd_path[ev->wd]);
            w->wd_path[ev->wd] = NULL;
        }

        return;
    }

    if (ev->len == 0) {
        return;
    }

    if (*dir == '\0' && strcmp(ev->name, ".gobi") == 0) {
        return;
    }

    path = *dir ? gobi_sprintf("%s/%s", dir, ev->name)
                : gobi_strdup(ev->name);
    is_dir = (ev->mask & IN_ISDIR) != 0;

    if (gobi_path_check(path, strlen(path)) != NULL
        || gobi_ignore_entry(w->s->ign, path, is_dir))
    {
        free(path);
        return;
    }

    if (strcmp(path, ".gobiignore") == 0) {
        /* other rules: compare everything again */
        w->rescan_wanted = 1;
    }

    if (is_dir) {
        if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
            gobi_watch_add_dir(w, path);
        }

        /* folder moves and deletes: the scan pairs them up by hash */
        w->rescan_wanted = 1;
        gobi_watch_changed(w);
        free(path);
        return;
    }

    if (ev->mask & (IN_MODIFY | IN_CREATE)) {
        gobi_watch_open_add(w, path);
    }

    if (ev->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM)) {
        gobi_watch_open_del(w, path);
    }

    if (ev->mask & IN_MOVED_FROM) {
        gobi_watch_flush_move(w);
        w->mv_from = path;
        w->mv_cookie = ev->cookie;
        w->mv_at = gobi_mono_ms();
        return;
    }

    if ((ev->mask & IN_MOVED_TO) && w->mv_from
        && w->mv_cookie == ev->cookie)
    {
        gobi_watch_queue(w, GOBI_QOP_RENAME, path, w->mv_from);
        free(w->mv_from);
        w->mv_from = NULL;
        free(path);
        return;
    }

    gobi_watch_queue(w, GOBI_QOP_CHECK, path, NULL);
    free(path);
}


static void
gobi_watch_read_inotify(gobi_watch_t *w)
{
    char                   buf[65536]
                           __attribute__((aligned(__alignof__(
                               struct inotify_event))));
    struct inotify_event  *ev;
    ssize_t                n;
    char                  *p;
    int                    tx;

    tx = (gobi_state_begin(w->s->st) == 0);

    for ( ;; ) {
        n = read(w->ifd, buf, sizeof(buf));

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            break;
        }

        if (n == 0) {
            break;
        }

        for (p = buf; p < buf + n;
             p += sizeof(struct inotify_event) + ev->len)
        {
            ev = (struct inotify_event *) p;
            gobi_watch_event(w, ev);
        }
    }

    if (tx && gobi_state_commit(w->s->st) != 0) {
        gobi_warn("%s", gobi_error_msg());
    }

    gobi_watch_settle(w);
}


/*
 * Server messages: announcements and answers schedule a pull; the events
 * they bring are offered to it, so that it need not ask for them again.
 */
static void
gobi_watch_ws_msg(void *data, const gobi_wsmsg_server_t *m)
{
    size_t           n;
    gobi_watch_t    *w = data;
    gobi_offered_t  *o;

    o = &w->s->offered;

    switch (m->type) {

    case GOBI_WSMSG_EVENTS:
    case GOBI_WSMSG_EVENT:
        /* our own writes come back too: only news is worth a pull */
        n = o->n;
        gobi_sync_offer(w->s, m->events, m->nevents);

        if (o->n > n || o->gap) {
            w->pull_wanted = 1;
        }

        return;

    case GOBI_WSMSG_WELCOME:
        w->ws_welcomed = 1;
        break;

    case GOBI_WSMSG_RESYNC:
        gobi_sync_offer_gap(w->s);
        break;

    case GOBI_WSMSG_ERROR:
        return;

    default:
        break;
    }

    w->pull_wanted = 1;
}


/* s->rename: a rename sent on the WebSocket, waiting for its answer */
static int
gobi_watch_rename(void *data, const char *from, const char *to,
    int64_t base_version, int64_t *version)
{
    gobi_watch_t  *w = data;

    if (w->ss == NULL) {
        return gobi_error(GOBI_EXIT_NETWORK, "no WebSocket");
    }

    return gobi_session_rename(w->ss, from, to, base_version, version);
}


static void
gobi_watch_ws_connect(gobi_watch_t *w)
{
    gobi_sync_t  *s;
    int           rc;

    s = w->s;

    rc = gobi_session_open(s->server, s->cred.token, s->vault, s->cursor,
                           s->device, gobi_watch_ws_msg, w, &w->ss);

    if (rc != 0) {
        gobi_out_v("no WebSocket (%s): polling", gobi_error_msg());
        gobi_error_clear();

        w->ws_backoff = w->ws_backoff ? w->ws_backoff * 2 : 1000;
        if (w->ws_backoff > GOBI_BACKOFF_MAX) {
            w->ws_backoff = GOBI_BACKOFF_MAX;
        }

        w->ws_next = gobi_mono_ms() + w->ws_backoff;
        return;
    }

    gobi_out_v("WebSocket connected");
    w->ws_backoff = 0;
    w->pull_wanted = 1;
    s->rename = gobi_watch_rename;
    s->rename_data = w;
}


static void
gobi_watch_ws_lost(gobi_watch_t *w)
{
    gobi_out_v("WebSocket lost: %s", gobi_error_msg());
    gobi_error_clear();

    gobi_session_close(w->ss);
    w->ss = NULL;
    w->ws_welcomed = 0;
    w->s->rename = NULL;
    w->ws_backoff = 1000;
    w->ws_next = gobi_mono_ms() + w->ws_backoff;
    w->pull_wanted = 1;
}


static void
gobi_watch_report(gobi_watch_t *w)
{
    gobi_sync_stats_t  *t;

    t = &w->s->stats;

    if (t->uploaded + t->downloaded + t->deleted_local + t->deleted_remote
        + t->renamed_local + t->renamed_remote + t->conflicts == 0)
    {
        return;
    }

    gobi_sync_report(w->s, "watch", 0);
    memset(t, 0, sizeof(gobi_sync_stats_t));
}


/* one pass: pull, then (rescan and) push; returns an exit code */
static int
gobi_watch_pass(gobi_watch_t *w, int push)
{
    gobi_sync_t  *s;
    int           rc, round;

    s = w->s;

    for (round = 0; round < 5; round++) {
        s->need_pull = 0;

        /*
         * A push needs no pull first while the WebSocket is live and has
         * announced nothing new: a write on a stale base is refused
         * (412, 409) and pulls then.
         */

        if (round > 0 || w->pull_wanted || !w->ws_welcomed) {
            rc = gobi_sync_pull(s);
            if (rc != 0) {
                return rc;
            }
        }

        w->pull_wanted = 0;

        if (!push) {
            break;
        }

        if (w->rescan_wanted) {
            rc = gobi_sync_scan(s);
            if (rc != 0) {
                return rc;
            }

            w->rescan_wanted = 0;
        }

        rc = gobi_sync_push(s);
        if (rc != 0) {
            return rc;
        }

        if (!s->need_pull) {
            break;
        }

        /* the server moved on or a file changed: again, rescanning */
        w->rescan_wanted = 1;
    }

    if (s->stats.mass_delete_refused) {
        gobi_warn("refusing to delete %lld files on the server (more than "
                  "half): restart with --allow-mass-delete to allow it",
                  (long long) s->stats.mass_delete_refused);
        s->stats.mass_delete_refused = 0;
    }

    gobi_state_meta_set_int(s->st, "last_sync", gobi_now_ms());
    gobi_watch_report(w);

    return 0;
}


static int
gobi_watch_loop(gobi_watch_t *w)
{
    struct pollfd  pfd[2];
    int64_t        now, next;
    int            n, nfd, rc, push;

    for ( ;; ) {
        if (gobi_watch_stop) {
            return 0;
        }

        now = gobi_mono_ms();

        /* an unpaired move: the file left the vault */
        if (w->mv_from && now - w->mv_at >= GOBI_MOVE_PAIR_MS) {
            gobi_watch_flush_move(w);
        }

        if (w->ss == NULL && now >= w->ws_next && !w->offline) {
            gobi_watch_ws_connect(w);
            now = gobi_mono_ms();
        }

        if (w->ss == NULL && now >= w->poll_next) {
            w->pull_wanted = 1;
            w->poll_next = now + GOBI_POLL_MS;
        }

        if (now >= w->rescan_next) {
            w->rescan_wanted = 1;
            w->rescan_next = now + GOBI_RESCAN_MS;
            gobi_watch_changed(w);
        }

        push = w->push_wanted && now >= w->push_at;

        if ((w->pull_wanted || push) && now >= w->net_next) {
            rc = gobi_watch_pass(w, push || w->rescan_wanted);

            if (rc == 0) {
                if (push) {
                    w->push_wanted = 0;
                }

                if (w->offline) {
                    gobi_out("back online");
                    w->offline = 0;
                }

                w->net_backoff = 0;

            } else if (rc == GOBI_EXIT_NETWORK || rc == GOBI_EXIT_SERVER
                       || rc == GOBI_EXIT_BUSY)
            {
                if (!w->offline) {
                    gobi_warn("%s: working offline, retrying",
                              gobi_error_msg());
                    w->offline = 1;
                }

                gobi_error_clear();

                w->net_backoff = w->net_backoff ? w->net_backoff * 2 : 1000;
                if (w->net_backoff > GOBI_BACKOFF_MAX) {
                    w->net_backoff = GOBI_BACKOFF_MAX;
                }

                w->net_next = gobi_mono_ms() + w->net_backoff;

                if (w->ss) {
                    gobi_watch_ws_lost(w);
                }

                /* a WebSocket attempt when the network is back */
                w->ws_next = w->net_next;

            } else {
                return rc;
            }

            if (w->offline) {
                /* reconnect attempts go through passes */
                w->pull_wanted = 1;
            }

            continue;
        }

        /* sleep until something happens or a deadline passes */
        next = now + 60000;

        if (w->push_wanted && w->push_at < next) {
            next = w->push_at;
        }

        if (w->mv_from && w->mv_at + GOBI_MOVE_PAIR_MS < next) {
            next = w->mv_at + GOBI_MOVE_PAIR_MS;
        }

        if (w->ss == NULL && !w->offline && w->ws_next < next) {
            next = w->ws_next;
        }

        if (w->ss == NULL && w->poll_next < next) {
            next = w->poll_next;
        }

        if ((w->pull_wanted || w->push_wanted) && w->net_next > now
            && w->net_next < next)
        {
            next = w->net_next;
        }

        if (w->rescan_next < next) {
            next = w->rescan_next;
        }

        if (next < now) {
            next = now;
        }

        nfd = 0;
        pfd[nfd].fd = w->ifd;
        pfd[nfd].events = POLLIN;
        nfd++;

        if (w->ss) {
            pfd[nfd].fd = gobi_session_fd(w->ss);
            pfd[nfd].events = POLLIN;
            nfd++;
        }

        n = poll(pfd, nfd, (int) (next - now));

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            return gobi_error(GOBI_EXIT_ERROR, "poll: %s", strerror(errno));
        }

        if (pfd[0].revents) {
            gobi_watch_read_inotify(w);
        }

        if (w->ss && nfd > 1 && pfd[1].revents) {
            if (gobi_session_read(w->ss) != 0) {
                gobi_watch_ws_lost(w);
            }
        }
    }
}


int
gobi_cmd_watch(int argc, char **argv)
{
    gobi_watch_t      w;
    gobi_sync_t      *s;
    struct sigaction  sa;
    int               rc, i;

    rc = gobi_sync_open(argc > 0 ? argv[0] : ".", 1, &s);
    if (rc != 0) {
        return rc;
    }

    rc = gobi_sync_connect(s);
    if (rc != 0) {
        gobi_sync_close(s);
        return rc;
    }

    memset(&w, 0, sizeof(gobi_watch_t));
    w.s = s;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = gobi_watch_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    w.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w.ifd < 0) {
        rc = gobi_error(GOBI_EXIT_ERROR, "inotify: %s", strerror(errno));
        gobi_sync_close(s);
        return rc;
    }

    gobi_watch_add_dir(&w, "");

    gobi_out("watching %s (vault %s on %s)", s->root, s->vault, s->server);

    /* the first pass finds what changed while we were not running */
    w.rescan_wanted = 1;
    w.pull_wanted = 1;
    w.rescan_next = gobi_mono_ms() + GOBI_RESCAN_MS;
    gobi_watch_changed(&w);
    w.push_at = 0;

    rc = gobi_watch_loop(&w);

    if (rc == 0) {
        gobi_out("stopped");
    }

    s->rename = NULL;
    gobi_session_close(w.ss);

    for (i = 0; i < w.nwd; i++) {
        free(w.wd_path[i]);
    }

    for (i = 0; i < w.nopen; i++) {
        free(w.open[i].path);
    }

    free(w.wd_path);
    free(w.mv_from);
    close(w.ifd);
    gobi_sync_close(s);

    return rc;
}
