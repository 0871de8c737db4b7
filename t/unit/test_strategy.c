/*
 * Copyright (C) the gobi authors
 *
 * The conflict strategies' decisions (lib/gobi_strategy.c), conflict copy
 * names, and which versions a retention policy keeps (lib/gobi_versions.c).
 */

#include "unit.h"

#include "gobi_path.h"
#include "gobi_strategy.h"
#include "gobi_versions.h"


#define H1  "1111111111111111111111111111111111111111111111111111111111111111"

#define HOUR  (3600 * 1000LL)
#define DAY   (24 * HOUR)


static gobi_file_t
state(int64_t version, int64_t mtime, int deleted)
{
    gobi_file_t  f;

    memset(&f, 0, sizeof(f));
    f.path = "a.txt";
    f.version = version;
    f.mtime = mtime;
    f.deleted = deleted;

    if (!deleted) {
        strcpy(f.hash, H1);
    }

    return f;
}


static gobi_write_t
wr(gobi_event_type_e type, int64_t base, int64_t mtime)
{
    gobi_write_t  w;

    memset(&w, 0, sizeof(w));
    w.type = type;
    w.path = "a.txt";
    w.from = (type == GOBI_EV_RENAME) ? "z.txt" : NULL;
    w.base_version = base;
    w.hash = H1;
    w.mtime = mtime;
    w.now = 9000;

    return w;
}


static void
test_names(void)
{
    gobi_strategy_e  s;

    is_str(gobi_strategy_name(GOBI_STRATEGY_KEEP_BOTH), "keep-both",
           "keep-both");
    is_str(gobi_strategy_name(GOBI_STRATEGY_LWW), "last-writer-wins",
           "last-writer-wins");
    is_str(gobi_strategy_name(GOBI_STRATEGY_SERVER_WINS), "server-wins",
           "server-wins");
    is_str(gobi_strategy_name(GOBI_STRATEGY_MERGE), "merge", "merge");
    is_str(gobi_strategy_name((gobi_strategy_e) 77), "keep-both",
           "an unknown number reads as the default");

    ok(gobi_strategy_parse("merge", 5, &s) == 0 && s == GOBI_STRATEGY_MERGE,
       "parse merge");
    ok(gobi_strategy_parse("last-writer-wins", 16, &s) == 0
       && s == GOBI_STRATEGY_LWW, "parse last-writer-wins");
    ok(gobi_strategy_parse("mergex", 6, &s) != 0, "mergex: unknown");
    ok(gobi_strategy_parse("merg", 4, &s) != 0, "a prefix: unknown");
    ok(gobi_strategy_parse("", 0, &s) != 0, "empty: unknown");
    ok(gobi_strategy_parse("Merge", 5, &s) != 0, "case matters");
}


static void
test_resolve(void)
{
    gobi_file_t   live, gone;
    gobi_write_t  w;

    live = state(5, 5000, 0);
    gone = state(6, 7000, 1);

    /* server-wins refuses everything */
    w = wr(GOBI_EV_MODIFY, 3, 9999);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_SERVER_WINS, &w, &live),
           GOBI_RESOLVE_REJECT, "server-wins: upload rejected");
    w = wr(GOBI_EV_RENAME, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_SERVER_WINS, &w, &live),
           GOBI_RESOLVE_REJECT, "server-wins: rename rejected");

    w = wr(GOBI_EV_MODIFY, 9, 9999);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_LWW, &w, &live),
           GOBI_RESOLVE_REJECT, "a base from the future: rejected");
    w = wr(GOBI_EV_RENAME, 9, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_KEEP_BOTH, &w, &live),
           GOBI_RESOLVE_REJECT, "a rename from the future too");

    /* keep-both */
    w = wr(GOBI_EV_MODIFY, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_KEEP_BOTH, &w, &live),
           GOBI_RESOLVE_COPY, "keep-both: a stale upload is copied");
    w = wr(GOBI_EV_MODIFY, 0, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_KEEP_BOTH, &w, &live),
           GOBI_RESOLVE_COPY, "keep-both: a create on a live file too");
    w = wr(GOBI_EV_MODIFY, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_KEEP_BOTH, &w, &gone),
           GOBI_RESOLVE_APPLY, "keep-both: an edit of a deleted file "
           "brings it back");
    w = wr(GOBI_EV_DELETE, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_KEEP_BOTH, &w, &live),
           GOBI_RESOLVE_REJECT, "keep-both: a delete of a changed file is "
           "refused");
    w = wr(GOBI_EV_RENAME, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_KEEP_BOTH, &w, &live),
           GOBI_RESOLVE_APPLY, "keep-both: a rename moves the changed file");
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_KEEP_BOTH, &w, &gone),
           GOBI_RESOLVE_REJECT, "a rename of a deleted file: refused");

    /* merge */
    w = wr(GOBI_EV_MODIFY, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_MERGE, &w, &live),
           GOBI_RESOLVE_MERGE, "merge: a stale upload with a base");
    w = wr(GOBI_EV_MODIFY, 0, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_MERGE, &w, &live),
           GOBI_RESOLVE_COPY, "merge: without a base, a copy");
    w = wr(GOBI_EV_MODIFY, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_MERGE, &w, &gone),
           GOBI_RESOLVE_APPLY, "merge: over a delete, applied");

    /* last-writer-wins: by mtime, ties to the incoming */
    w = wr(GOBI_EV_MODIFY, 3, 6000);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_LWW, &w, &live),
           GOBI_RESOLVE_APPLY, "lww: the later upload wins");
    w = wr(GOBI_EV_MODIFY, 3, 5000);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_LWW, &w, &live),
           GOBI_RESOLVE_APPLY, "lww: a tie goes to the incoming");
    w = wr(GOBI_EV_MODIFY, 3, 4000);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_LWW, &w, &live),
           GOBI_RESOLVE_LOSE, "lww: the older upload loses");
    w = wr(GOBI_EV_MODIFY, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_LWW, &w, &live),
           GOBI_RESOLVE_APPLY, "lww: no mtime is now (9000)");
    w = wr(GOBI_EV_DELETE, 3, 0);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_LWW, &w, &live),
           GOBI_RESOLVE_APPLY, "lww: a delete now beats an older edit");
    w = wr(GOBI_EV_DELETE, 3, 4000);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_LWW, &w, &live),
           GOBI_RESOLVE_REJECT, "lww: an older delete loses");
    w = wr(GOBI_EV_MODIFY, 3, 6000);
    is_int(gobi_strategy_resolve(GOBI_STRATEGY_LWW, &w, &gone),
           GOBI_RESOLVE_LOSE, "lww: an edit older than the delete loses");
}


static void
test_copy_names(void)
{
    char    buf[GOBI_PATH_MAX + 1], name[300];
    size_t  n;

    n = gobi_conflict_name(buf, sizeof(buf), "notes/a.txt", "laptop",
                           "2026-12-03 101500", 1);
    is_str(buf, "notes/a (conflict laptop 2026-12-03 101500).txt",
           "beside the file, the extension kept");
    is_int(n, strlen(buf), "the length");

    gobi_conflict_name(buf, sizeof(buf), "a.txt", "laptop",
                       "2026-12-03 101500", 3);
    is_str(buf, "a (conflict laptop 2026-12-03 101500 3).txt",
           "a number after the first");

    gobi_conflict_name(buf, sizeof(buf), "Makefile", "pc", "d", 1);
    is_str(buf, "Makefile (conflict pc d)", "no extension");

    gobi_conflict_name(buf, sizeof(buf), "dir.d/.bashrc", "pc", "d", 1);
    is_str(buf, "dir.d/.bashrc (conflict pc d)",
           "a dot file has no extension, a dot in a folder is no "
           "extension");

    memset(name, 'x', 250);
    memcpy(name + 250, ".txt", 5);
    n = gobi_conflict_name(buf, sizeof(buf), name, "laptop",
                           "2026-12-03 101500", 1);
    ok(n > 0 && strlen(buf) <= GOBI_NAME_MAX, "a long name is cut to 255 "
       "bytes (%zu)", strlen(buf));
    ok(gobi_path_check(buf, strlen(buf)) == NULL, "and is a valid path");
    ok(strstr(buf, ".txt") != NULL, "its extension kept");

    /* UTF-8 is not cut in the middle of a character */
    memset(name, 0, sizeof(name));
    for (n = 0; n < 120; n++) {
        memcpy(name + 2 * n, "\xc3\xa9", 2);
    }
    gobi_conflict_name(buf, sizeof(buf), name, "laptop",
                       "2026-12-03 101500", 1);
    ok(gobi_path_check(buf, strlen(buf)) == NULL,
       "a cut UTF-8 name is still valid UTF-8");

    is_int(gobi_conflict_name(buf, 10, "a.txt", "laptop", "d", 1), 0,
           "too small a buffer: 0");
}


static void
test_conflict_of(void)
{
    static const char  *paths[] = {
        "notes/a.txt", "a.txt", "Makefile", "dir.d/.bashrc",
        "a (conflict old 2020-01-01 000000).txt", "x.tar.gz", NULL
    };

    char          buf[GOBI_PATH_MAX + 1], copy[GOBI_PATH_MAX + 1];
    const char  **p;
    int           n;

    /* every name gobi_conflict_name makes is read back */
    for (p = paths; *p; p++) {
        for (n = 1; n <= 12; n += 11) {
            gobi_conflict_name(copy, sizeof(copy), *p, "my laptop",
                               "2026-12-03 101500", n);
            ok(gobi_conflict_of(buf, sizeof(buf), copy) == 1
               && strcmp(buf, *p) == 0, "\"%s\" is a copy of \"%s\" (%s)",
               copy, *p, buf);
        }
    }

    ok(!gobi_conflict_of(buf, sizeof(buf), "notes/a.txt"), "a plain name");
    ok(!gobi_conflict_of(buf, sizeof(buf), "a (conflict pc).txt"),
       "no date");
    ok(!gobi_conflict_of(buf, sizeof(buf), "a (conflict 2026-12-03 101500)"),
       "no device");
    ok(!gobi_conflict_of(buf, sizeof(buf),
                         "a (conflict pc 2026-12-03 101500)x"),
       "something after the tag that is no extension");
    ok(!gobi_conflict_of(buf, sizeof(buf),
                         "a (conflict pc 2026-12-03 1015)"), "a short time");
    ok(!gobi_conflict_of(buf, sizeof(buf),
                         "a (conflict pc 2026-12-03 101500 )"),
       "a space and no number");
    ok(!gobi_conflict_of(buf, sizeof(buf),
                         "(conflict pc 2026-12-03 101500)"), "no name");
    ok(!gobi_conflict_of(buf, sizeof(buf),
                         "d (conflict pc 2026-12-03 101500)/a.txt"),
       "a folder named like a copy holds no copy");
    ok(!gobi_conflict_of(buf, 4, "a (conflict pc 2026-12-03 101500).txt"),
       "too small a buffer: 0");
}


static gobi_version_t
ver(int64_t version, int64_t ts, int deleted)
{
    gobi_version_t  v;

    memset(&v, 0, sizeof(v));
    v.version = version;
    v.ts = ts;
    v.deleted = deleted;

    return v;
}


static void
test_keep(void)
{
    size_t                  i, n, kept;
    int64_t                 now;
    unsigned char           keep[500];
    gobi_version_t          v[500];
    gobi_versions_policy_t  p;

    now = 1000 * DAY;
    memset(&p, 0, sizeof(p));
    p.kind = GOBI_VERSIONS_STAGGERED;
    p.max_age = 365 * DAY;
    p.trash = 30 * DAY;

    /* one version every 10 minutes for 3 days, newest first */
    n = 3 * 24 * 6;
    for (i = 0; i < n; i++) {
        v[i] = ver(n - i, now - (int64_t) i * 10 * 60 * 1000, 0);
    }

    kept = gobi_versions_keep(&p, now, v, n, keep);
    /* the last day: 144, the day before: one per hour (24), the third
     * day: one (its day) */
    ok(kept >= 144 + 24 && kept <= 144 + 24 + 2,
       "staggered: every version of a day, hourly for a day, then daily "
       "(%zu)", kept);
    is_int(keep[0], 1, "the newest kept");
    is_int(keep[143], 1, "the last of the first day kept");

    p.kind = GOBI_VERSIONS_KEEP;
    p.keep = 5;
    kept = gobi_versions_keep(&p, now, v, n, keep);
    is_int(kept, 5, "keep 5");
    ok(keep[0] && keep[4] && !keep[5], "the newest five");

    p.kind = GOBI_VERSIONS_OFF;
    kept = gobi_versions_keep(&p, now, v, n, keep);
    is_int(kept, 1, "off: the current version only");

    /* older than max_age: gone, but never the newest */
    p.kind = GOBI_VERSIONS_STAGGERED;
    v[0] = ver(3, now - 400 * DAY, 0);
    v[1] = ver(2, now - 401 * DAY, 0);
    kept = gobi_versions_keep(&p, now, v, 2, keep);
    ok(kept == 1 && keep[0] && !keep[1], "past max_age: only the current");

    /* weekly after 30 days */
    for (i = 0; i < 70; i++) {
        v[i] = ver(100 - i, now - 31 * DAY - (int64_t) i * DAY, 0);
    }
    kept = gobi_versions_keep(&p, now, v, 70, keep);
    ok(kept >= 10 && kept <= 12, "daily versions past 30 days: one a week "
       "(%zu of 70)", kept);

    /* the trash */
    v[0] = ver(9, now - 2 * DAY, 1);
    v[1] = ver(8, now - 3 * DAY, 0);
    v[2] = ver(7, now - 3 * DAY - 1000, 0);
    p.kind = GOBI_VERSIONS_OFF;
    kept = gobi_versions_keep(&p, now, v, 3, keep);
    ok(kept == 2 && keep[0] && keep[1] && !keep[2],
       "deleted: the delete and the last content stay");
    v[0] = ver(9, now - 31 * DAY, 1);
    kept = gobi_versions_keep(&p, now, v, 3, keep);
    is_int(kept, 0, "deleted longer than the trash keeps: all go");
    v[0] = ver(9, now - 2 * DAY, 1);
    v[1] = ver(8, now - 3 * DAY, 1);
    kept = gobi_versions_keep(&p, now, v, 2, keep);
    is_int(kept, 2, "tombstones only: kept (nothing to restore, cheap)");
}


int
main(void)
{
    test_names();
    test_resolve();
    test_copy_names();
    test_conflict_of();
    test_keep();

    done_testing();
}
