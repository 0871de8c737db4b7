/*
 * Copyright (C) the gobi authors
 *
 * The write rules (lib/gobi_write.c): every outcome of gobi_write_check(),
 * the state after an event, and a randomized run in which the rules and
 * gobi_event_apply() keep a model of a vault consistent.
 */

#include "unit.h"

#include "gobi_write.h"


#define H1  "1111111111111111111111111111111111111111111111111111111111111111"
#define H2  "2222222222222222222222222222222222222222222222222222222222222222"


static gobi_file_t
live(const char *path, int64_t version, const char *hash)
{
    gobi_file_t  f;

    memset(&f, 0, sizeof(f));
    f.path = path;
    f.version = version;
    strcpy(f.hash, hash);
    f.size = 10;
    f.mtime = 5000;

    return f;
}


static gobi_file_t
gone(const char *path, int64_t version)
{
    gobi_file_t  f;

    memset(&f, 0, sizeof(f));
    f.path = path;
    f.version = version;
    f.deleted = 1;

    return f;
}


static gobi_write_t
put(const char *path, int64_t base, const char *hash)
{
    gobi_write_t  w;

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_MODIFY;
    w.path = path;
    w.base_version = base;
    w.hash = hash;
    w.size = 3;
    w.mtime = 7000;
    w.device = "dev";
    w.now = 9000;

    return w;
}


static void
test_put(void)
{
    gobi_write_t  w;
    gobi_file_t   t, cur;
    gobi_event_t  ev;

    w = put("a", GOBI_BASE_ANY, H1);
    t = gone("a", 0);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_OK,
           "a new path");
    is_int(ev.type, GOBI_EV_CREATE, "is a create");
    is_str(ev.hash, H1, "with the hash");
    is_int(ev.size, 3, "the size");
    is_int(ev.mtime, 7000, "the client's mtime");
    is_int(ev.ts, 9000, "the server's time");
    is_str(ev.device, "dev", "the device");

    w.mtime = 0;
    t = gone("a", 4);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_OK,
           "over a tombstone");
    is_int(ev.type, GOBI_EV_CREATE, "is a create");
    is_int(ev.mtime, 9000, "no mtime: now");

    w = put("a", 3, H2);
    t = live("a", 3, H1);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_OK,
           "the current base");
    is_int(ev.type, GOBI_EV_MODIFY, "is a modify");

    w = put("a", 2, H2);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_CONFLICT,
           "a stale base");
    is_int(cur.version, 3, "current is the record");
    is_str(cur.hash, H1, "with its hash");

    w = put("a", 2, H1);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_CONFLICT,
           "a stale base with the same content is still a conflict");

    w = put("a", GOBI_BASE_ANY, H1);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_UNCHANGED,
           "the same content");
    is_int(cur.version, 3, "current is the record");

    w = put("a", 0, H2);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_CONFLICT,
           "must not exist, but does");

    t = gone("a", 8);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_OK,
           "must not exist: a tombstone");

    w = put("a", 8, H2);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_OK,
           "the tombstone's version is a base");
}


static void
test_delete(void)
{
    gobi_write_t  w;
    gobi_file_t   t, cur;
    gobi_event_t  ev;

    w = put("a", GOBI_BASE_ANY, NULL);
    w.type = GOBI_EV_DELETE;

    t = gone("a", 0);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_NOT_FOUND,
           "delete of nothing");

    t = gone("a", 5);
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_NOT_FOUND,
           "delete of a tombstone");
    is_int(cur.deleted, 1, "current is the tombstone");

    t = live("a", 5, H1);
    w.base_version = 4;
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_CONFLICT,
           "delete with a stale base");

    w.base_version = 5;
    is_int(gobi_write_check(&w, &t, NULL, &ev, &cur), GOBI_WRITE_OK,
           "delete");
    is_int(ev.type, GOBI_EV_DELETE, "is a delete");
    is_str(ev.hash, "", "without content");
    is_int(ev.size, 0, "size 0");
}


static void
test_rename(void)
{
    gobi_write_t  w;
    gobi_file_t   t, src, cur;
    gobi_event_t  ev;

    w = put("b", GOBI_BASE_ANY, NULL);
    w.type = GOBI_EV_RENAME;
    w.from = "a";

    src = gone("a", 0);
    t = gone("b", 0);
    is_int(gobi_write_check(&w, &t, &src, &ev, &cur), GOBI_WRITE_NOT_FOUND,
           "rename of nothing");
    is_str(cur.path, "a", "current is the source");

    src = live("a", 6, H1);
    w.base_version = 5;
    is_int(gobi_write_check(&w, &t, &src, &ev, &cur), GOBI_WRITE_CONFLICT,
           "rename with a stale base");
    is_str(cur.path, "a", "current is the source");

    w.base_version = 6;
    t = live("b", 2, H2);
    is_int(gobi_write_check(&w, &t, &src, &ev, &cur), GOBI_WRITE_EXISTS,
           "rename onto a live file");
    is_str(cur.path, "b", "current is the target");
    is_str(cur.hash, H2, "with its hash");

    t = gone("b", 2);
    is_int(gobi_write_check(&w, &t, &src, &ev, &cur), GOBI_WRITE_OK,
           "rename onto a tombstone");
    is_int(ev.type, GOBI_EV_RENAME, "is a rename");
    is_str(ev.from, "a", "from");
    is_str(ev.path, "b", "to");
    is_str(ev.hash, H1, "the file's content");
    is_int(ev.size, 10, "its size");
    is_int(ev.mtime, 5000, "its mtime");

    w.path = "a";
    t = src;
    is_int(gobi_write_check(&w, &t, &src, &ev, &cur), GOBI_WRITE_EXISTS,
           "rename onto itself");
}


static void
test_apply(void)
{
    gobi_file_t   f;
    gobi_event_t  ev;

    memset(&ev, 0, sizeof(ev));
    ev.seq = 9;
    ev.version = 9;
    ev.type = GOBI_EV_RENAME;
    ev.path = "b";
    ev.from = "a";
    strcpy(ev.hash, H1);
    ev.size = 10;
    ev.mtime = 5000;
    ev.ts = 9000;

    ok(gobi_event_touches(&ev, "a") && gobi_event_touches(&ev, "b")
       && !gobi_event_touches(&ev, "c"), "a rename touches both paths");

    gobi_event_apply(&ev, "b", &f);
    ok(!f.deleted && f.version == 9 && strcmp(f.hash, H1) == 0
       && f.size == 10 && f.mtime == 5000, "the target gets the file");

    gobi_event_apply(&ev, "a", &f);
    ok(f.deleted && f.version == 9 && f.hash[0] == '\0' && f.size == 0
       && f.mtime == 9000, "the source is a tombstone of the rename's time");

    ev.type = GOBI_EV_DELETE;
    ev.from = NULL;
    ev.hash[0] = '\0';
    ev.mtime = 7000;
    gobi_event_apply(&ev, "b", &f);
    ok(f.deleted && f.version == 9 && f.size == 0 && f.mtime == 7000,
       "a delete leaves a tombstone of its mtime");

    ev.type = GOBI_EV_MODIFY;
    ev.version = 4;                        /* a squashed event */
    strcpy(ev.hash, H2);
    gobi_event_apply(&ev, "b", &f);
    ok(!f.deleted && f.version == 4 && strcmp(f.hash, H2) == 0,
       "a squashed event gives its version");
}


static void
test_invalid(void)
{
    gobi_write_t  w;

    w = put("a", GOBI_BASE_ANY, H1);
    ok(gobi_write_invalid(&w) == NULL, "a good write");

    w.hash = "abc";
    ok(gobi_write_invalid(&w) != NULL, "a short hash");

    w.hash = NULL;
    ok(gobi_write_invalid(&w) != NULL, "no hash");

    w = put(NULL, GOBI_BASE_ANY, H1);
    ok(gobi_write_invalid(&w) != NULL, "no path");

    w = put("a", -2, H1);
    ok(gobi_write_invalid(&w) != NULL, "a bad base");

    w = put("a", GOBI_BASE_ANY, NULL);
    w.type = GOBI_EV_RENAME;
    ok(gobi_write_invalid(&w) != NULL, "a rename without from");

    w.type = GOBI_EV_NONE;
    ok(gobi_write_invalid(&w) != NULL, "no type");
}


/*
 * Random writes on four paths, each applied with gobi_event_apply() when
 * accepted: a create only where nothing lives, a modify only where
 * something does, versions always the seq of the last change, nothing
 * accepted with a stale base, a rename never loses the content.
 */

static void
test_random(void)
{
    static const char  *paths[] = { "p0", "p1", "p2", "p3" };
    static const char  *hashes[] = { H1, H2 };

    int            i, k, bad;
    int64_t        seq;
    gobi_file_t    state[4], cur, before_src;
    gobi_write_t   w;
    gobi_event_t   ev;
    gobi_write_rc_e  rc;

    for (k = 0; k < 4; k++) {
        state[k] = gone(paths[k], 0);
    }

    srand(7);
    seq = 0;
    bad = 0;

    for (i = 0; i < 20000; i++) {
        int  t = rand() % 4, s = rand() % 4, r = rand() % 10;

        w = put(paths[t], GOBI_BASE_ANY, hashes[rand() % 2]);
        w.type = r < 5 ? GOBI_EV_MODIFY
                       : r < 7 ? GOBI_EV_DELETE : GOBI_EV_RENAME;
        w.from = w.type == GOBI_EV_RENAME ? paths[s] : NULL;

        k = w.type == GOBI_EV_RENAME ? s : t;
        r = rand() % 3;
        w.base_version = r == 0 ? GOBI_BASE_ANY
                         : r == 1 ? state[k].version
                                  : state[k].version + 1;

        before_src = state[s];
        memset(&ev, 0, sizeof(ev));

        rc = gobi_write_check(&w, &state[t],
                              w.type == GOBI_EV_RENAME ? &state[s] : NULL,
                              &ev, &cur);

        if (rc != GOBI_WRITE_OK) {
            if (rc == GOBI_WRITE_CONFLICT
                && w.base_version == state[k].version
                && !(w.base_version == 0 && !state[k].deleted))
            {
                bad++;
            }
            continue;
        }

        if (w.base_version == state[k].version + 1) {
            bad++;                          /* a stale base got through */
        }

        if ((ev.type == GOBI_EV_CREATE) != (w.type == GOBI_EV_MODIFY
                                            && state[t].deleted))
        {
            bad++;
        }

        ev.seq = ++seq;
        ev.version = seq;

        for (k = 0; k < 4; k++) {
            if (gobi_event_touches(&ev, paths[k])) {
                gobi_event_apply(&ev, paths[k], &state[k]);
            }
        }

        if (state[t].version != seq) {
            bad++;
        }

        if (ev.type == GOBI_EV_RENAME
            && (!state[s].deleted || state[t].deleted
                || strcmp(state[t].hash, before_src.hash) != 0))
        {
            bad++;
        }

        if (ev.type == GOBI_EV_MODIFY || ev.type == GOBI_EV_CREATE) {
            if (state[t].deleted || strcmp(state[t].hash, w.hash) != 0) {
                bad++;
            }
        }
    }

    is_int(bad, 0, "20000 random writes keep the model consistent "
           "(%lld accepted)", (long long) seq);
}


int
main(void)
{
    test_put();
    test_delete();
    test_rename();
    test_apply();
    test_invalid();
    test_random();

    done_testing();
}
