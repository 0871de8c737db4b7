/*
 * Copyright (C) the gobi authors
 *
 * Conflict copy names, the strategies' decisions and the retention policy
 * (lib/gobi_strategy.c, lib/gobi_versions.c).  The input is read as
 * choices.  Checks:
 *  - a valid path and device make a conflict name that is a valid path,
 *    in the same folder, different from the path, naming the device;
 *    gobi_conflict_of() reads any path safely, and of such a name gives
 *    the path back (or, when the name was cut, a shorter one);
 *  - every decision is one of the five, server-wins always rejects, a
 *    base above the current version is always rejected;
 *  - the policy keeps exactly what it counts, never more than it was
 *    given, always the newest of a live path, and as much or more with a
 *    longer KEEP count.
 */

#include "fuzz.h"

#include "gobi_header.h"
#include "gobi_path.h"
#include "gobi_strategy.h"
#include "gobi_versions.h"


static void
fuzz_name(fuzz_in_t *in)
{
    int          n;
    char         path[GOBI_PATH_MAX + 1], device[GOBI_HEADER_DEVICE_MAX + 1];
    char         out[GOBI_PATH_MAX + 1], of[GOBI_PATH_MAX + 1];
    size_t       plen, dlen, len, i, dir;
    const char  *slash;

    static const char  *alpha[] = { "a", "b", ".", "/", "x y", "\xc3\xa9",
                                    "\xe2\x82\xac", "-", "(", ")" };

    /* paths of the usual characters, some long: names near 255 bytes */
    plen = 0;
    len = 1 + fuzz_pick(in, 255) * (1 + fuzz_pick(in, 16));

    while (plen < len && plen + 3 < GOBI_PATH_MAX) {
        const char *a = alpha[fuzz_pick(in, sizeof(alpha) / sizeof(char *))];

        if (in->left == 0 && fuzz_pick(in, 2) == 0) {
            a = "a";
        }

        memcpy(path + plen, a, strlen(a));
        plen += strlen(a);
    }
    path[plen] = '\0';

    dlen = 1 + fuzz_pick(in, GOBI_HEADER_DEVICE_MAX);
    n = 1 + fuzz_pick(in, 30);

    for (i = 0; i < dlen; i++) {
        device[i] = (char) (0x21 + fuzz_pick(in, 0x5e));
        if (device[i] == '/') {
            device[i] = '_';                /* as the server does */
        }
    }
    device[dlen] = '\0';

    if (strlen(path) != plen || gobi_path_check(path, plen) != NULL
        || strlen(device) != dlen || gobi_header_device(device, dlen) != NULL)
    {
        return;
    }

    len = gobi_conflict_name(out, sizeof(out), path, device,
                             "2026-12-03 101500", n);
    if (len == 0) {
        /* only when it cannot fit the whole path */
        fuzz_check(plen + 40 + dlen >= GOBI_PATH_MAX, "no name for %s",
                   path);
        return;
    }

    fuzz_check(len == strlen(out), "length %zu", len);
    fuzz_check(gobi_path_check(out, len) == NULL, "invalid: %s", out);
    fuzz_check(strcmp(out, path) != 0, "the same path");
    fuzz_check(strstr(out, device) != NULL, "no device in %s", out);

    slash = strrchr(path, '/');
    dir = slash ? (size_t) (slash - path + 1) : 0;
    fuzz_check(strncmp(out, path, dir) == 0 && strchr(out + dir, '/') == NULL,
               "another folder: %s for %s", out, path);

    /* and back: the copy's name names what it is a copy of */
    (void) gobi_conflict_of(of, sizeof(of), path);

    if (gobi_conflict_of(of, sizeof(of), out)) {
        fuzz_check(strcmp(of, path) == 0 || strlen(of) < plen,
                   "%s is a copy of %s, not of %s", out, of, path);
    }
}


static void
fuzz_resolve(fuzz_in_t *in)
{
    gobi_file_t     cur;
    gobi_write_t    w;
    gobi_resolve_e  how;
    gobi_strategy_e s;

    memset(&cur, 0, sizeof(cur));
    memset(&w, 0, sizeof(w));

    s = (gobi_strategy_e) fuzz_pick(in, 4);
    w.type = (gobi_event_type_e) (1 + fuzz_pick(in, 4));
    w.base_version = (int64_t) fuzz_pick(in, 8) - 1;
    w.mtime = fuzz_pick(in, 5) * 1000;
    w.now = 2500;
    cur.version = fuzz_pick(in, 8);
    cur.mtime = fuzz_pick(in, 5) * 1000;
    cur.deleted = fuzz_pick(in, 2);

    how = gobi_strategy_resolve(s, &w, &cur);

    fuzz_check(how >= GOBI_RESOLVE_REJECT && how <= GOBI_RESOLVE_MERGE,
               "decision %d", (int) how);
    fuzz_check(s != GOBI_STRATEGY_SERVER_WINS || how == GOBI_RESOLVE_REJECT,
               "server-wins did not reject");
    fuzz_check(w.base_version <= cur.version || how == GOBI_RESOLVE_REJECT,
               "a base from the future was honoured");
    fuzz_check(how != GOBI_RESOLVE_MERGE
               || (s == GOBI_STRATEGY_MERGE && w.base_version > 0),
               "merge without a base or outside merge");
    fuzz_check(how != GOBI_RESOLVE_LOSE || s == GOBI_STRATEGY_LWW,
               "a loss outside lww");
}


static void
fuzz_keep(fuzz_in_t *in)
{
    size_t                  n, i, kept, more, sum;
    int64_t                 now, ts;
    unsigned char           keep[256], keep2[256];
    gobi_version_t          v[256];
    gobi_versions_policy_t  p;

    memset(&p, 0, sizeof(p));
    p.kind = (gobi_versions_kind_e) fuzz_pick(in, 3);
    p.keep = fuzz_pick(in, 10);
    p.max_age = (int64_t) fuzz_pick(in, 4) * 30 * 86400000LL;
    p.trash = (int64_t) fuzz_pick(in, 3) * 86400000LL;
    n = fuzz_pick(in, 256);
    now = 400 * 86400000LL;
    ts = now;

    for (i = 0; i < n; i++) {
        memset(&v[i], 0, sizeof(gobi_version_t));
        v[i].version = (int64_t) (n - i);
        v[i].ts = ts;
        v[i].deleted = (fuzz_pick(in, 8) == 0);
        ts -= (int64_t) fuzz_byte(in) * fuzz_byte(in) * 60000;
    }

    kept = gobi_versions_keep(&p, now, v, n, keep);

    for (sum = 0, i = 0; i < n; i++) {
        fuzz_check(keep[i] <= 1, "keep[%zu] = %d", i, keep[i]);
        sum += keep[i];
    }

    fuzz_check(sum == kept, "kept %zu, counted %zu", kept, sum);
    fuzz_check(n == 0 || v[0].deleted || keep[0], "the current version went");

    if (p.kind == GOBI_VERSIONS_KEEP) {
        p.keep++;
        more = gobi_versions_keep(&p, now, v, n, keep2);
        fuzz_check(more >= kept, "keep %lld+1 kept less", (long long) p.keep);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t  in;

    in.p = data;
    in.left = size;

    switch (fuzz_pick(&in, 3)) {
    case 0:
        fuzz_name(&in);
        break;
    case 1:
        fuzz_resolve(&in);
        break;
    default:
        fuzz_keep(&in);
    }

    return 0;
}
