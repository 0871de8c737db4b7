/*
 * Copyright (C) the gobi authors
 *
 * Conflict strategies (see gobi_strategy.h).
 */

#include <stdio.h>
#include <string.h>

#include "gobi_path.h"
#include "gobi_strategy.h"


static const char  *gobi_strategy_names[] = {
    "keep-both", "last-writer-wins", "server-wins", "merge"
};


const char *
gobi_strategy_name(gobi_strategy_e s)
{
    if ((size_t) s >= sizeof(gobi_strategy_names) / sizeof(char *)) {
        return gobi_strategy_names[GOBI_STRATEGY_DEFAULT];
    }

    return gobi_strategy_names[s];
}


int
gobi_strategy_parse(const char *name, size_t len, gobi_strategy_e *s)
{
    size_t  i;

    for (i = 0; i < sizeof(gobi_strategy_names) / sizeof(char *); i++) {
        if (strlen(gobi_strategy_names[i]) == len
            && memcmp(gobi_strategy_names[i], name, len) == 0)
        {
            *s = (gobi_strategy_e) i;
            return 0;
        }
    }

    return -1;
}


gobi_resolve_e
gobi_strategy_resolve(gobi_strategy_e s, const gobi_write_t *w,
    const gobi_file_t *current)
{
    int64_t  mtime;

    if (s == GOBI_STRATEGY_SERVER_WINS) {
        return GOBI_RESOLVE_REJECT;
    }

    if (w->base_version > current->version) {
        /* a version the server never gave out: no intent to honour */
        return GOBI_RESOLVE_REJECT;
    }

    switch (w->type) {

    case GOBI_EV_RENAME:
        /* the source changed since: the changed content moves */
        return current->deleted ? GOBI_RESOLVE_REJECT : GOBI_RESOLVE_APPLY;

    case GOBI_EV_DELETE:
        if (s != GOBI_STRATEGY_LWW) {
            /* the change made since the client looked stays */
            return GOBI_RESOLVE_REJECT;
        }

        mtime = w->mtime ? w->mtime : w->now;

        return mtime >= current->mtime ? GOBI_RESOLVE_APPLY
                                       : GOBI_RESOLVE_REJECT;

    case GOBI_EV_CREATE:
    case GOBI_EV_MODIFY:
        break;

    default:
        return GOBI_RESOLVE_REJECT;
    }

    if (s == GOBI_STRATEGY_LWW) {
        mtime = w->mtime ? w->mtime : w->now;

        return mtime >= current->mtime ? GOBI_RESOLVE_APPLY
                                       : GOBI_RESOLVE_LOSE;
    }

    if (current->deleted) {
        /* edited here, deleted there: the edit comes back, the delete
         * left the old content in history */
        return GOBI_RESOLVE_APPLY;
    }

    if (s == GOBI_STRATEGY_MERGE && w->base_version > 0) {
        return GOBI_RESOLVE_MERGE;
    }

    return GOBI_RESOLVE_COPY;
}


/* the length of at most max bytes of s that do not split a UTF-8 char */

static size_t
gobi_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }

    while (max > 0 && ((unsigned char) s[max] & 0xc0) == 0x80) {
        max--;
    }

    return max;
}


size_t
gobi_conflict_name(char *buf, size_t size, const char *path,
    const char *device, const char *date, int n)
{
    int          len;
    char         tag[128 + 64];
    size_t       dirlen, stem, ext, room;
    const char  *slash, *name, *dot;

    slash = strrchr(path, '/');
    name = slash ? slash + 1 : path;
    dirlen = name - path;

    dot = strrchr(name, '.');
    if (dot == NULL || dot == name) {
        dot = name + strlen(name);
    }

    stem = dot - name;
    ext = strlen(dot);

    if (n > 1) {
        len = snprintf(tag, sizeof(tag), " (conflict %s %s %d)", device,
                       date, n);
    } else {
        len = snprintf(tag, sizeof(tag), " (conflict %s %s)", device, date);
    }

    if (len < 0 || (size_t) len >= sizeof(tag) || len >= GOBI_NAME_MAX) {
        return 0;
    }

    room = GOBI_NAME_MAX - len;

    if (stem + ext > room) {
        /* too long a name: the extension goes first, then the stem */
        if (ext > room / 2) {
            ext = 0;
        }

        stem = gobi_utf8_cut(name, stem, room - ext);
    }

    if (dirlen + stem + len + ext + 1 > size) {
        return 0;
    }

    memcpy(buf, path, dirlen + stem);
    memcpy(buf + dirlen + stem, tag, len);
    memcpy(buf + dirlen + stem + len, dot, ext);
    buf[dirlen + stem + len + ext] = '\0';

    return dirlen + stem + len + ext;
}


/* "YYYY-MM-DD HHMMSS" ending at end */
static int
gobi_conflict_date(const char *start, const char *end)
{
    static const char   shape[] = "dddd-dd-dd dddddd";
    size_t              i, len;

    len = sizeof(shape) - 1;

    if ((size_t) (end - start) < len) {
        return 0;
    }

    start = end - len;

    for (i = 0; i < len; i++) {
        if (shape[i] == 'd' ? (start[i] < '0' || start[i] > '9')
                            : start[i] != shape[i])
        {
            return 0;
        }
    }

    return 1;
}


int
gobi_conflict_of(char *buf, size_t size, const char *path)
{
    static const char   tag[] = " (conflict ";
    const char         *name, *open, *p, *close, *end;
    size_t              dirlen, stem, ext;

    name = strrchr(path, '/');
    name = name ? name + 1 : path;
    dirlen = name - path;

    /* the last tag in the name: a copy of a copy keeps the first */
    open = NULL;
    for (p = strstr(name, tag); p; p = strstr(p + 1, tag)) {
        open = p;
    }

    if (open == NULL || open == name) {
        return 0;
    }

    close = strchr(open + sizeof(tag) - 1, ')');
    if (close == NULL || (close[1] != '\0' && close[1] != '.')) {
        return 0;
    }

    /* "<device> <date>" or "<device> <date> <n>" */
    end = close;

    if (end[-1] >= '0' && end[-1] <= '9'
        && !gobi_conflict_date(open + sizeof(tag) - 1, end))
    {
        while (end > open && end[-1] >= '0' && end[-1] <= '9') {
            end--;
        }

        if (end[-1] != ' ') {
            return 0;
        }

        end--;
    }

    /* a device name of one character at least before the date */
    if (end - (open + sizeof(tag) - 1) < 19
        || !gobi_conflict_date(open + sizeof(tag) - 1, end)
        || end[-18] != ' ')
    {
        return 0;
    }

    stem = open - name;
    ext = strlen(close + 1);

    if (dirlen + stem + ext + 1 > size) {
        return 0;
    }

    memcpy(buf, path, dirlen + stem);
    memcpy(buf + dirlen + stem, close + 1, ext + 1);

    return 1;
}
