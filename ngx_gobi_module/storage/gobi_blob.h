/*
 * Copyright (C) the gobi authors
 *
 * The blob targets of a worker: one or more storage drivers (a
 * gobi_storage line each) used as one.  Writes go to every target and are
 * durable once `quorum` of them have the blob; reads come from the first
 * healthy target that has it and fall back to the next; a target that
 * fails is left alone for a while (its next try comes after a back-off)
 * and what it missed is copied to it by gobi_blob_scrub().  nginx-free
 * and thread-safe: pool threads share one gobi_blob_t per worker.
 *
 * Bytes are the stored form (ciphertext with encryption at rest): the
 * layer neither encrypts nor decrypts.
 */

#ifndef _GOBI_BLOB_H_INCLUDED_
#define _GOBI_BLOB_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gobi_storage.h"


#define GOBI_BLOB_TARGETS_MAX  8


typedef struct gobi_blob_s  gobi_blob_t;


typedef struct {
    const gobi_storage_driver_t  *driver;
    const char                   *arg;     /* what follows "scheme:" */
    const char                   *name;    /* for logs: the URI, masked */
    gobi_storage_conf_t           conf;
} gobi_blob_target_conf_t;


/*
 * Opens every target (a failure to open is a configuration error: NULL
 * with errbuf filled, naming the target).  quorum 0 means all of them;
 * one above n, or a target listed twice, is refused.
 */
gobi_blob_t *gobi_blob_open(const gobi_blob_target_conf_t *targets,
    size_t n, size_t quorum, char *errbuf, size_t errlen);
void gobi_blob_close(gobi_blob_t *b);

size_t gobi_blob_targets(gobi_blob_t *b);
const char *gobi_blob_target_name(gobi_blob_t *b, size_t i);
/*
 * 1 from a failure of target i until a call succeeds on it again: during
 * its back-off (1 s after the first failure, doubling to 60 s) calls skip
 * it; after it, one call tries it again.  "Not there" and "no room" are
 * answers, not failures.
 */
int gobi_blob_target_down(gobi_blob_t *b, size_t i);

/*
 * Asks every target whether it can take blobs now (the driver's check(),
 * else a stat() of a blob that is never there), in its back-off or not,
 * and keeps its health by the answer.  The number of targets that can,
 * and in errbuf the first failure's words.  For the health check: at
 * most once a second.
 */
size_t gobi_blob_check(gobi_blob_t *b, char *errbuf, size_t errlen);
/* the quorum of writes: gobi_blob_check() of at least this many is ok */
size_t gobi_blob_quorum(gobi_blob_t *b);

/* the clock of the back-offs, ms (tests; NULL: CLOCK_MONOTONIC) */
void gobi_blob_clock(gobi_blob_t *b, int64_t (*now)(void));

/* the upload temp folder: the first target's tmp_dir */
const char *gobi_blob_tmp_dir(gobi_blob_t *b);

/*
 * Stores the complete temp file (see gobi_storage_driver_t.put) on every
 * target that is not in its back-off: the others first, the one whose
 * tmp_dir holds the file last (it may take the file by rename: the
 * caller removes tmp_path after, if it is still there).  A target in its
 * back-off counts as a failure.  0 when at least quorum targets have it;
 * -1 with errno set (ENOSPC when every failure was no room, else EIO).
 * errbuf holds the first failure's words, prefixed with the target's
 * name, whenever one failed (on 0 too: *stored is less than the targets).
 * *stored, if not NULL, counts the targets that have it.
 */
int gobi_blob_put(gobi_blob_t *b, int64_t vault, const char *hash,
    const char *tmp_path, int fd, size_t *stored, char *errbuf,
    size_t errlen);

/*
 * 1 with *size if a target has the blob, 0 if every target answered that
 * it has not, -1 with errbuf filled when none has it and one could not
 * tell (it failed, or is in its back-off).
 */
int gobi_blob_stat(gobi_blob_t *b, int64_t vault, const char *hash,
    int64_t *size, char *errbuf, size_t errlen);

/*
 * Reads stored bytes [off, off + len): from *target (the one the last
 * read of this blob came from; start with 0), falling back to the next
 * targets on failure or absence; *target is set to the one that answered.
 * The number read, or -1 with errbuf filled and errno set (ENOENT: every
 * target answered that it has not; EIO: one could not tell).
 */
ssize_t gobi_blob_read(gobi_blob_t *b, int64_t vault, const char *hash,
    int64_t off, void *buf, size_t len, size_t *target, char *errbuf,
    size_t errlen);

/*
 * A local file of the blob for sendfile: from the first target that has
 * one (a driver with path()) if it is healthy and the blob is there; -1
 * otherwise (read through gobi_blob_read then).
 */
int gobi_blob_path(gobi_blob_t *b, int64_t vault, const char *hash,
    char *buf, size_t len);

/*
 * On every target; 0 when each one did, else -1 with errbuf filled (a
 * target in its back-off is not done: its copy is garbage for its own
 * collect() later).
 */
int gobi_blob_remove(gobi_blob_t *b, int64_t vault, const char *hash,
    char *errbuf, size_t errlen);
int gobi_blob_remove_vault(gobi_blob_t *b, int64_t vault, char *errbuf,
    size_t errlen);

/*
 * Every target's collect() and tmp_sweep(), *removed summed; -1 when one
 * failed or was in its back-off (the others are done).
 */
int gobi_blob_collect(gobi_blob_t *b, int64_t min_age_ms,
    int (*referenced)(void *data, int64_t vault, const char *hash),
    void *data, int64_t *removed);
int gobi_blob_tmp_sweep(gobi_blob_t *b, int64_t min_age_ms,
    int64_t *removed);

/*
 * The scrub of one vault: every blob some target has and another lacks
 * (or has with another size) is copied to it from one that has it,
 * through a temp file in tmp_dir (the next target's, while the first is
 * down).  Targets in back-off are skipped.
 * Sizes that differ are settled by a strict majority of the targets that
 * have the blob (the others' copies are replaced), else left alone and
 * reported.  `referenced` (the collector's question, may be NULL: copy
 * all) keeps garbage from being copied back: a blob that collect()
 * removed from one target while another was down is not spread again.
 * *copied counts the copies made; 0, or -1 with errbuf filled (the
 * copies that could be made are made).
 */
int gobi_blob_scrub_vault(gobi_blob_t *b, int64_t vault,
    int (*referenced)(void *data, int64_t vault, const char *hash),
    void *data, int64_t *copied, char *errbuf, size_t errlen);


#endif /* _GOBI_BLOB_H_INCLUDED_ */
