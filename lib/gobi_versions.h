/*
 * Copyright (C) the gobi authors
 *
 * File history: a version is the state a path had after one event (its
 * version number is the event's seq); the store keeps them apart from the
 * event log, so history can be thinned without holes in the log.  Which
 * versions a retention policy keeps is decided here, for both drivers.
 */

#ifndef _GOBI_VERSIONS_H_INCLUDED_
#define _GOBI_VERSIONS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "gobi_event.h"
#include "gobi_header.h"


typedef struct {
    int64_t     version;                   /* the event's seq */
    char        hash[GOBI_HASH_HEX_LEN + 1];   /* "" when deleted */
    int64_t     size;
    int64_t     mtime;                     /* unix ms */
    int64_t     ts;                        /* server time, unix ms */
    char        device[GOBI_HEADER_DEVICE_MAX + 1];    /* "" if unknown */
    int         deleted;                   /* deleted or moved away */
    int         moved;                     /* moved away by a rename */
} gobi_version_t;


/* the version of `path` that event ev (which touches it) made */
void gobi_version_of_event(const gobi_event_t *ev, const char *path,
    gobi_version_t *v);


typedef enum {
    GOBI_VERSIONS_STAGGERED = 0,           /* the default */
    GOBI_VERSIONS_KEEP,                    /* the newest `keep` versions */
    GOBI_VERSIONS_OFF                      /* the current version only */
} gobi_versions_kind_e;

typedef struct {
    gobi_versions_kind_e   kind;
    int64_t                keep;           /* KEEP: how many */
    int64_t                max_age;        /* ms; older ones go (0: none) */
    int64_t                trash;          /* ms a deleted file stays */
} gobi_versions_policy_t;


/*
 * v[0..n-1]: the versions of one path, newest first.  Sets keep[i] to 1
 * for the versions to keep, 0 for those to drop, as of `now`:
 *   - the newest is always kept while the path is live; the newest
 *     content version of a deleted path is kept for policy->trash after
 *     the delete, then the whole history of the path goes;
 *   - STAGGERED: every version of the last day, then the newest of each
 *     hour for a day, of each day up to 30 days, of each week up to
 *     max_age;
 *   - KEEP: the newest `keep` (at least 1); OFF: only the newest.
 * Returns how many are kept.
 */
size_t gobi_versions_keep(const gobi_versions_policy_t *policy, int64_t now,
    const gobi_version_t *v, size_t n, unsigned char *keep);


/*
 * One path's versions as a store reads them for thinning: oldest first
 * (its index order), judged newest first.
 */
typedef struct {
    gobi_version_t        *v;
    unsigned char         *keep;
    size_t                 n;
    size_t                 size;
} gobi_versions_buf_t;

/* a zeroed slot at the end; NULL when out of memory */
gobi_version_t *gobi_versions_buf_push(gobi_versions_buf_t *b);
/* gobi_versions_keep() of b's versions (reversed: newest first from now
 * on), b->keep[i] for each; returns how many are kept */
size_t gobi_versions_buf_judge(gobi_versions_buf_t *b,
    const gobi_versions_policy_t *policy, int64_t now);
void gobi_versions_buf_free(gobi_versions_buf_t *b);


#endif /* _GOBI_VERSIONS_H_INCLUDED_ */
