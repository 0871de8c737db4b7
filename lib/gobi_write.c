/*
 * Copyright (C) the gobi authors
 *
 * The write rules (see gobi_write.h).
 */

#include <string.h>

#include "gobi_hash.h"
#include "gobi_write.h"


const char *
gobi_write_invalid(const gobi_write_t *w)
{
    if (w->path == NULL || (w->type == GOBI_EV_RENAME && w->from == NULL)) {
        return "no path";
    }

    switch (w->type) {

    case GOBI_EV_CREATE:
    case GOBI_EV_MODIFY:
        if (w->hash == NULL || strlen(w->hash) != GOBI_HASH_HEX_LEN
            || !gobi_hash_valid_hex(w->hash, GOBI_HASH_HEX_LEN))
        {
            return "bad hash";
        }
        break;

    case GOBI_EV_DELETE:
    case GOBI_EV_RENAME:
        break;

    default:
        return "bad event type";
    }

    if (w->base_version < GOBI_BASE_ANY) {
        return "bad base version";
    }

    return NULL;
}


/* does the state satisfy the base version? */

static int
gobi_write_base_ok(int64_t base, const gobi_file_t *f)
{
    if (base == GOBI_BASE_ANY) {
        return 1;
    }

    if (base == 0) {
        return f->deleted;
    }

    return f->version == base;
}


gobi_write_rc_e
gobi_write_check(const gobi_write_t *w, const gobi_file_t *target,
    const gobi_file_t *source, gobi_event_t *ev, gobi_file_t *current)
{
    const gobi_file_t  *from;

    ev->path = w->path;
    ev->from = NULL;
    ev->device = w->device;
    ev->ts = w->now;
    ev->mtime = w->mtime ? w->mtime : w->now;

    switch (w->type) {

    case GOBI_EV_CREATE:
    case GOBI_EV_MODIFY:

        *current = *target;

        /* the precondition first: a stale base is a conflict even when
         * the content happens to match */

        if (!gobi_write_base_ok(w->base_version, target)) {
            return GOBI_WRITE_CONFLICT;
        }

        if (!target->deleted && strcmp(target->hash, w->hash) == 0) {
            return GOBI_WRITE_UNCHANGED;
        }

        ev->type = target->deleted ? GOBI_EV_CREATE : GOBI_EV_MODIFY;
        memcpy(ev->hash, w->hash, GOBI_HASH_HEX_LEN + 1);
        ev->size = w->size;

        return GOBI_WRITE_OK;

    case GOBI_EV_DELETE:

        *current = *target;

        if (target->deleted) {
            return GOBI_WRITE_NOT_FOUND;
        }

        if (!gobi_write_base_ok(w->base_version, target)) {
            return GOBI_WRITE_CONFLICT;
        }

        /* a tombstone tells nothing about content */

        ev->type = GOBI_EV_DELETE;
        ev->hash[0] = '\0';
        ev->size = 0;

        return GOBI_WRITE_OK;

    default: /* GOBI_EV_RENAME */

        from = source;
        *current = *from;

        if (from->deleted) {
            return GOBI_WRITE_NOT_FOUND;
        }

        if (!gobi_write_base_ok(w->base_version, from)) {
            return GOBI_WRITE_CONFLICT;
        }

        if (!target->deleted || strcmp(w->path, w->from) == 0) {
            *current = *target;
            return GOBI_WRITE_EXISTS;
        }

        ev->type = GOBI_EV_RENAME;
        ev->from = w->from;
        memcpy(ev->hash, from->hash, GOBI_HASH_HEX_LEN + 1);
        ev->size = from->size;
        ev->mtime = from->mtime;

        return GOBI_WRITE_OK;
    }
}


int
gobi_event_touches(const gobi_event_t *ev, const char *path)
{
    return strcmp(ev->path, path) == 0
           || (ev->from != NULL && strcmp(ev->from, path) == 0);
}


void
gobi_event_apply(const gobi_event_t *ev, const char *path, gobi_file_t *f)
{
    f->path = path;

    if (ev->type == GOBI_EV_RENAME && strcmp(ev->path, path) != 0) {
        /* moved away */
        f->version = ev->seq;
        f->hash[0] = '\0';
        f->size = 0;
        f->mtime = ev->ts;
        f->deleted = 1;
        return;
    }

    f->version = ev->version > 0 ? ev->version : ev->seq;
    f->mtime = ev->mtime;

    if (ev->type == GOBI_EV_DELETE) {
        f->hash[0] = '\0';
        f->size = 0;
        f->deleted = 1;
        return;
    }

    memcpy(f->hash, ev->hash, GOBI_HASH_HEX_LEN + 1);
    f->size = ev->size;
    f->deleted = 0;
}
