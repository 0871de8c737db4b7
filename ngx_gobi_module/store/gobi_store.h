/*
 * Copyright (C) the gobi authors
 *
 * The metadata store driver table.  Drivers are nginx-free and synchronous:
 * the nginx glue calls them only from thread-pool tasks, never from the
 * event loop.  Every operation may run concurrently on several threads of
 * one worker; a driver keeps whatever per-thread state it needs (SQLite: one
 * connection per thread; MongoDB: a client pool per worker).
 *
 * Strings passed in are NUL-terminated and owned by the caller.  Strings in
 * results handed to callbacks are valid only during the callback.
 */

#ifndef _GOBI_STORE_H_INCLUDED_
#define _GOBI_STORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "gobi_event.h"
#include "gobi_versions.h"
#include "gobi_write.h"


typedef enum {
    GOBI_STORE_OK = 0,
    GOBI_STORE_NOT_FOUND,      /* no such user/token/vault/file */
    GOBI_STORE_EXISTS,         /* unique constraint: user, vault, target */
    GOBI_STORE_CONFLICT,       /* base version does not match the current */
    GOBI_STORE_UNCHANGED,      /* write of the current content: no event */
    GOBI_STORE_EXPIRED,        /* cursor older than the retention horizon */
    GOBI_STORE_UNAVAILABLE,    /* database unreachable: retry later */
    GOBI_STORE_ERROR           /* anything else; see errmsg */
} gobi_store_rc_e;


#define GOBI_USERNAME_MAX   64
#define GOBI_VAULTNAME_MAX  128
#define GOBI_PWHASH_MAX     128            /* crypto_pwhash_STRBYTES */


typedef struct {
    int64_t     id;
    char        username[GOBI_USERNAME_MAX + 1];
    char        pwhash[GOBI_PWHASH_MAX];
} gobi_user_t;


typedef struct {
    int64_t     id;
    int64_t     owner;
    char        name[GOBI_VAULTNAME_MAX + 1];
    int64_t     created_at;                /* unix ms */
    int64_t     head_seq;                  /* 0 for an empty log */
    int64_t     oldest_seq;                /* oldest kept event, 0 if none */
    int         strategy;                  /* gobi_strategy_e */
} gobi_vault_t;


/*
 * A write (gobi_write_t, lib/gobi_write.h) is the one way to change a
 * vault: the driver reads the current record(s) of its path(s), lets
 * gobi_write_check() decide, appends the event with the next seq and
 * updates the file record(s).  Atomic per vault (SQLite: one transaction;
 * MongoDB: insert-with-next-seq and retry on duplicate key).
 *
 * On CONFLICT/EXISTS/UNCHANGED/NOT_FOUND, `current` holds the file the
 * precondition was checked against (deleted=1 if it is a tombstone).
 *
 * Every appended event also records, with it, the version it made of each
 * path it touches (gobi_version_of_event(): a rename makes two, a deleted
 * one of its source): the history that version_list() and friends read.
 * It is kept apart from the log so that thinning history leaves no holes
 * in the log, and the log's retention does not take history with it.
 */

/* what a driver answers for a refused write */
static inline gobi_store_rc_e
gobi_store_write_rc(gobi_write_rc_e rc)
{
    switch (rc) {
    case GOBI_WRITE_OK:         return GOBI_STORE_OK;
    case GOBI_WRITE_CONFLICT:   return GOBI_STORE_CONFLICT;
    case GOBI_WRITE_UNCHANGED:  return GOBI_STORE_UNCHANGED;
    case GOBI_WRITE_NOT_FOUND:  return GOBI_STORE_NOT_FOUND;
    default:                    return GOBI_STORE_EXISTS;
    }
}


typedef int (*gobi_vault_cb)(void *data, const gobi_vault_t *v);
typedef int (*gobi_file_cb)(void *data, const gobi_file_t *f);
typedef int (*gobi_event_cb)(void *data, const gobi_event_t *e);
/* v is NULL for versions_at's "did not exist" */
typedef int (*gobi_version_cb)(void *data, const char *path,
    const gobi_version_t *v);
/* deleted: the version that deleted path; last: its newest content */
typedef int (*gobi_trash_cb)(void *data, const char *path,
    const gobi_version_t *deleted, const gobi_version_t *last);

/* callbacks return 0 to go on, non-zero to stop (the driver then returns
 * GOBI_STORE_OK) */


typedef struct gobi_store_s  gobi_store_t;

typedef struct {
    const char   *scheme;                  /* "sqlite", "mongodb" */

    /*
     * open: parse the URI (everything after "scheme:"/the whole URI for
     * mongodb), connect lazily.  Called once per worker after fork, and once
     * in the master (or `nginx -t`) to validate the URI and create the
     * schema.  Returns NULL with errbuf filled on failure.
     */
    gobi_store_t *(*open)(const char *uri, char *errbuf, size_t errlen);
    /* create tables/collections and indexes; idempotent */
    gobi_store_rc_e (*init_schema)(gobi_store_t *st);
    void          (*close)(gobi_store_t *st);
    /* last error message of the calling thread, for the log */
    const char   *(*errmsg)(gobi_store_t *st);

    /*
     * Usernames are unique case-insensitively (ASCII letters folded):
     * user_create answers EXISTS for "Alice" when "alice" exists, and
     * user_get finds "alice" by "ALICE" (out->username keeps the spelling
     * it was created with).
     */
    gobi_store_rc_e (*user_create)(gobi_store_t *st, const char *username,
        const char *pwhash, int64_t now, gobi_user_t *out);
    gobi_store_rc_e (*user_get)(gobi_store_t *st, const char *username,
        gobi_user_t *out);
    gobi_store_rc_e (*user_get_by_id)(gobi_store_t *st, int64_t id,
        gobi_user_t *out);
    /* NOT_FOUND when the user is gone */
    gobi_store_rc_e (*user_set_password)(gobi_store_t *st, int64_t id,
        const char *pwhash);
    /*
     * Removes the user, its tokens, and the records of any vault it still
     * owns (files, events); the caller removes each vault first
     * (vault_delete, then the storage's blobs) so that no blob is left
     * without a record.  NOT_FOUND when the user is gone.
     */
    gobi_store_rc_e (*user_delete)(gobi_store_t *st, int64_t id);

    /* tokens are stored by their BLAKE2b-256 hash (64 hex chars) */
    gobi_store_rc_e (*token_create)(gobi_store_t *st, const char *token_hash,
        int64_t user_id, int64_t now, int64_t expires_at);
    /* NOT_FOUND when missing or expired (expires_at <= now) */
    gobi_store_rc_e (*token_get)(gobi_store_t *st, const char *token_hash,
        int64_t now, gobi_user_t *out, int64_t *expires_at);
    gobi_store_rc_e (*token_delete)(gobi_store_t *st, const char *token_hash);
    /* every token of the user but keep_hash (NULL: all of them) */
    gobi_store_rc_e (*token_delete_user)(gobi_store_t *st, int64_t user_id,
        const char *keep_hash, int64_t *removed);
    /* tokens with expires_at <= now */
    gobi_store_rc_e (*tokens_prune)(gobi_store_t *st, int64_t now,
        int64_t *removed);

    gobi_store_rc_e (*vault_create)(gobi_store_t *st, int64_t owner,
        const char *name, int64_t now, gobi_vault_t *out);
    gobi_store_rc_e (*vault_get)(gobi_store_t *st, int64_t owner,
        const char *name, gobi_vault_t *out);
    gobi_store_rc_e (*vault_get_by_id)(gobi_store_t *st, int64_t id,
        gobi_vault_t *out);
    /* ordered by name */
    gobi_store_rc_e (*vault_list)(gobi_store_t *st, int64_t owner,
        gobi_vault_cb cb, void *data);
    /* removes the vault, its files, events and versions; blobs are the
     * storage driver's business */
    gobi_store_rc_e (*vault_delete)(gobi_store_t *st, int64_t vault_id);
    /* strategy: a gobi_strategy_e (vault_get & co. answer it, default
     * keep-both); NOT_FOUND when the vault is gone */
    gobi_store_rc_e (*vault_set_strategy)(gobi_store_t *st, int64_t vault_id,
        int strategy);

    /* the file record, tombstones included (deleted=1) */
    gobi_store_rc_e (*file_get)(gobi_store_t *st, int64_t vault,
        const char *path, gobi_file_t *out);
    /*
     * One page of the manifest ordered by path (bytewise), consistent as
     * of *seq (set to the vault's head seq the page reflects).  prefix may
     * be NULL; it is a plain string prefix of the path.  after (NULL: from
     * the start) lists only paths > after; at most limit records (0: all),
     * *more is 1 when records beyond the page exist.
     */
    gobi_store_rc_e (*file_list)(gobi_store_t *st, int64_t vault,
        const char *prefix, int include_deleted, const char *after,
        int64_t limit, int64_t *seq, int *more, gobi_file_cb cb, void *data);

    /* see gobi_write_t; on OK `ev` is the appended event */
    gobi_store_rc_e (*write)(gobi_store_t *st, int64_t vault,
        const gobi_write_t *w, gobi_event_t *ev, gobi_file_t *current);

    /*
     * Events with seq > since, ascending, at most limit.  *head is the
     * vault's head seq, *more is 1 when events beyond the limit exist.
     * EXPIRED when since < oldest kept seq - 1 (events the client needs
     * were pruned).
     */
    gobi_store_rc_e (*events_since)(gobi_store_t *st, int64_t vault,
        int64_t since, int64_t limit, gobi_event_cb cb, void *data,
        int64_t *head, int *more);

    /* drop events with ts < before (unix ms) but always keep each vault's
     * latest event so head_seq survives; *removed counts them */
    gobi_store_rc_e (*events_prune)(gobi_store_t *st, int64_t before,
        int64_t *removed);

    /* is the blob still referenced by a live file record or a kept
     * version of the vault? */
    gobi_store_rc_e (*blob_referenced)(gobi_store_t *st, int64_t vault,
        const char *hash, int *referenced);

    /* history ------------------------------------------------------------ */

    /*
     * The versions of path, newest first: those < before (0: from the
     * newest), at most limit (0: all); *more is 1 when older ones exist.
     * A path without history answers OK with no callback.
     */
    gobi_store_rc_e (*version_list)(gobi_store_t *st, int64_t vault,
        const char *path, int64_t before, int64_t limit, gobi_version_cb cb,
        void *data, int *more);
    /* NOT_FOUND when path has no such version (never had, or thinned) */
    gobi_store_rc_e (*version_get)(gobi_store_t *st, int64_t vault,
        const char *path, int64_t version, gobi_version_t *out);
    /*
     * The trash: deleted paths (tombstones) > after, by path, at most
     * limit, each with the version that deleted it and its newest content
     * version; a tombstone whose content versions are all gone is not
     * listed.  *more as in file_list.
     */
    gobi_store_rc_e (*trash_list)(gobi_store_t *st, int64_t vault,
        const char *after, int64_t limit, gobi_trash_cb cb, void *data,
        int *more);
    /*
     * The vault as of seq, as a difference: every path with a version >
     * seq, > after, by path, at most limit, each with its newest version
     * <= seq (NULL: it did not exist then, or that history is gone and
     * nothing older is kept either).  *more as in file_list.
     */
    gobi_store_rc_e (*versions_at)(gobi_store_t *st, int64_t vault,
        int64_t seq, const char *after, int64_t limit, gobi_version_cb cb,
        void *data, int *more);
    /*
     * For the mass-delete guard: *deletes counts the DELETE events of the
     * vault by device (NULL: by no device) with ts >= since; *live the
     * vault's live files now (live NULL: not counted, it costs a scan).
     */
    gobi_store_rc_e (*delete_stats)(gobi_store_t *st, int64_t vault,
        const char *device, int64_t since, int64_t *deletes, int64_t *live);
    /* thins every path's history by gobi_versions_keep(); *removed */
    gobi_store_rc_e (*versions_prune)(gobi_store_t *st,
        const gobi_versions_policy_t *policy, int64_t now, int64_t *removed);

    /* encryption at rest ------------------------------------------------- */

    /*
     * A vault's data key, wrapped by a master key (lib/gobi_crypt.h: text
     * of at most GOBI_CRYPT_WRAPPED_MAX bytes).  The key goes with its
     * vault (vault_delete, user_delete).  vault_key_get: OK with the
     * NUL-terminated text in wrapped (ERROR when len is too small),
     * NOT_FOUND when the vault has none.
     */
    gobi_store_rc_e (*vault_key_get)(gobi_store_t *st, int64_t vault,
        char *wrapped, size_t len);
    /*
     * EXISTS when the vault has a key already: workers and instances that
     * race to create one all add theirs, exactly one wins and the others
     * read the winner's (MongoDB reads keys by majority, so that may be
     * NOT_FOUND for a moment: retry).  Seal nothing with a key before an
     * OK from here or vault_key_get gave it.  NOT_FOUND when the vault is
     * gone.
     */
    gobi_store_rc_e (*vault_key_add)(gobi_store_t *st, int64_t vault,
        const char *wrapped);
    /*
     * Compare-and-set, for key rotation: new_wrapped replaces the stored
     * text if it is still old_wrapped, else CONFLICT (someone else
     * swapped it first, or it is gone).
     */
    gobi_store_rc_e (*vault_key_swap)(gobi_store_t *st, int64_t vault,
        const char *old_wrapped, const char *new_wrapped);
    /* every vault's key, by vault id */
    gobi_store_rc_e (*vault_key_list)(gobi_store_t *st,
        int (*cb)(void *data, int64_t vault, const char *wrapped),
        void *data);

    /* every vault of every owner, by id (the storage scrub) */
    gobi_store_rc_e (*vault_all)(gobi_store_t *st, gobi_vault_cb cb,
        void *data);
} gobi_store_driver_t;


extern const gobi_store_driver_t  gobi_store_sqlite;
extern const gobi_store_driver_t  gobi_store_mongodb;


#endif /* _GOBI_STORE_H_INCLUDED_ */
