/*
 * Copyright (C) the gobi authors
 *
 * File history (see gobi_versions.h).
 */

#include <stdlib.h>
#include <string.h>

#include "gobi_versions.h"
#include "gobi_write.h"


#define GOBI_HOUR  (3600 * 1000LL)
#define GOBI_DAY   (24 * GOBI_HOUR)
#define GOBI_WEEK  (7 * GOBI_DAY)


void
gobi_version_of_event(const gobi_event_t *ev, const char *path,
    gobi_version_t *v)
{
    gobi_file_t  f;

    memset(&f, 0, sizeof(gobi_file_t));
    gobi_event_apply(ev, path, &f);

    /* every version of a path is one event: its seq */
    v->version = ev->seq;
    memcpy(v->hash, f.hash, sizeof(v->hash));
    v->size = f.size;
    v->mtime = f.mtime;
    v->ts = ev->ts;
    v->deleted = f.deleted;
    v->moved = (ev->type == GOBI_EV_RENAME && strcmp(ev->path, path) != 0);

    v->device[0] = '\0';

    if (ev->device) {
        strncpy(v->device, ev->device, sizeof(v->device) - 1);
        v->device[sizeof(v->device) - 1] = '\0';
    }
}


/* the staggered bucket of a version `age` ms old; -1: too old */

static int64_t
gobi_versions_bucket(const gobi_versions_policy_t *p, int64_t age)
{
    if (age < 0) {
        age = 0;
    }

    if (p->max_age > 0 && age >= p->max_age) {
        return -1;
    }

    /* buckets are numbered across the bands so that none collide */

    if (age < GOBI_DAY) {
        return -2;                          /* every version */
    }

    if (age < 2 * GOBI_DAY) {
        return (age - GOBI_DAY) / GOBI_HOUR;
    }

    if (age < 30 * GOBI_DAY) {
        return 24 + (age - 2 * GOBI_DAY) / GOBI_DAY;
    }

    return 24 + 28 + (age - 30 * GOBI_DAY) / GOBI_WEEK;
}


size_t
gobi_versions_keep(const gobi_versions_policy_t *policy, int64_t now,
    const gobi_version_t *v, size_t n, unsigned char *keep)
{
    size_t   i, kept, start;
    int64_t  bucket, last, limit;

    if (n == 0) {
        return 0;
    }

    memset(keep, 0, n);

    if (v[0].deleted) {
        /* in the trash: the newest content version stays for a while */
        if (policy->trash > 0 && now - v[0].ts >= policy->trash) {
            return 0;
        }

        keep[0] = 1;

        for (i = 1; i < n && v[i].deleted; i++) {
            keep[i] = 1;                    /* tombstones cost nothing */
        }

        if (i == n) {
            return n;
        }

        keep[i] = 1;
        start = i + 1;

    } else {
        keep[0] = 1;
        start = 1;
    }

    kept = start;

    switch (policy->kind) {

    case GOBI_VERSIONS_OFF:
        return kept;

    case GOBI_VERSIONS_KEEP:
        limit = policy->keep > 1 ? policy->keep : 1;

        for (i = start; i < n && (int64_t) kept < limit; i++) {
            keep[i] = 1;
            kept++;
        }

        return kept;

    default:
        break;
    }

    /* staggered: newest first, so the first of each bucket is its newest */

    last = -3;

    for (i = start; i < n; i++) {
        bucket = gobi_versions_bucket(policy, now - v[i].ts);

        if (bucket == -1) {
            break;                          /* older ones are older still */
        }

        if (bucket == -2 || bucket != last) {
            keep[i] = 1;
            kept++;
        }

        last = bucket;
    }

    return kept;
}


gobi_version_t *
gobi_versions_buf_push(gobi_versions_buf_t *b)
{
    size_t           size;
    unsigned char   *keep;
    gobi_version_t  *v;

    if (b->n == b->size) {
        size = b->size ? 2 * b->size : 64;

        v = realloc(b->v, size * sizeof(gobi_version_t));
        if (v == NULL) {
            return NULL;
        }

        b->v = v;

        keep = realloc(b->keep, size);
        if (keep == NULL) {
            return NULL;
        }

        b->keep = keep;
        b->size = size;
    }

    v = &b->v[b->n++];
    memset(v, 0, sizeof(gobi_version_t));

    return v;
}


size_t
gobi_versions_buf_judge(gobi_versions_buf_t *b,
    const gobi_versions_policy_t *policy, int64_t now)
{
    size_t          i;
    gobi_version_t  tmp;

    for (i = 0; i < b->n / 2; i++) {
        tmp = b->v[i];
        b->v[i] = b->v[b->n - 1 - i];
        b->v[b->n - 1 - i] = tmp;
    }

    return gobi_versions_keep(policy, now, b->v, b->n, b->keep);
}


void
gobi_versions_buf_free(gobi_versions_buf_t *b)
{
    free(b->v);
    free(b->keep);
    memset(b, 0, sizeof(gobi_versions_buf_t));
}
