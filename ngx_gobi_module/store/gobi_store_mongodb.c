/*
 * Copyright (C) the gobi authors
 *
 * The MongoDB store driver (libmongoc 1.23+).
 *
 * Threads and connections.  A store handle owns one mongoc_client_pool_t,
 * so open() in each worker after fork gives one pool per worker; the pool
 * connects (and starts its monitor thread) at the first operation, and a
 * handle opened before a fork must be closed before it.  Every operation
 * pops a client, runs synchronously on the calling thread-pool thread and
 * pushes the client back.  The URI gets bounded
 * serverSelectionTimeoutMS, connectTimeoutMS and socketTimeoutMS when it
 * does not name them, and writes carry a wtimeout, so no call waits
 * forever; an unreachable server, a stepped-down primary or a write concern
 * timeout give GOBI_STORE_UNAVAILABLE (503), and the pool's monitor finds
 * the server again when it returns.
 *
 * Write and read concerns.  Writes use w:"majority", j:true (unless the URI
 * sets "w"): an acknowledged write survives a failover, so a seq handed to a
 * client is never rolled back and given to another event.  Client-facing
 * reads (files, manifests, events, vaults) use readConcern "majority"
 * (unless the URI sets readConcernLevel) for the same reason: a client must
 * never see an event that a failover could roll back, or its cursor would
 * skip the event that later takes that seq.  A write is acknowledged only
 * when it is majority-committed, and the bus rings only after that, so
 * majority reads on the primary see it.  The write path itself reads the
 * latest state with the default ("local") read concern on the primary: it
 * wants the newest head and file state, and the unique _id of an event,
 * "<vault>:<seq>", catches whatever it could not see.
 *
 * Collections (gobi_store_mongodb_schema() lists the indexes):
 *   users     {_id: id, username, username_key, pwhash, created_at};
 *             username_key is the name with ASCII letters folded, unique
 *             (gobi_store_mongodb_migrate_users)
 *   tokens    {_id: token hash, user, created_at, expires_at}; a user's
 *             expired tokens are dropped when the user logs in again, the
 *             rest by tokens_prune
 *   vaults    {_id: id, owner, name, created_at, head_seq, pruned_seq,
 *              strategy, history}; strategy is a gobi_strategy_e (0 when
 *              missing), history says its versions are complete
 *              (gobi_store_mongodb_migrate_history)
 *   files     {_id: "<vault>:<path>", vault, path, version, hash, size,
 *              mtime, deleted}
 *   events    {_id: "<vault>:<seq>", vault, seq, type, path, from, hash,
 *              size, mtime, device, ts, op}
 *   versions  {_id: "<vault>:<path>:<seq, 19 digits>", vault, path,
 *              version, hash, size, mtime, ts, device, deleted, moved}
 *   counters  {_id: "<kind>:<n>", kind: "users"|"vaults", n}
 *   vault_keys {_id: vault id, wrapped}: the vault's data key wrapped by
 *             the master key (encryption at rest); the unique _id makes
 *             the first of racing vault_key_adds the one, and swap is one
 *             update filtered on the old text
 * Files and events are found by _id where possible: a point lookup on
 * every server (FerretDB v1 pushes only _id equality down to SQLite and
 * scans for anything else; see gobi_store_mongodb_detect).
 *
 * Integer ids without an atomic findAndModify: an id is claimed by
 * inserting {_id: "<kind>:<n>", kind, n} with n = max(n) + 1 into
 * counters, retrying on a duplicate key.  Claims are never reused, so the id
 * of a deleted vault never comes back (blobs and bus channels are keyed by
 * it); events_prune drops all but the highest claim of each kind.
 *
 * Seqs and the event log.  The event log is the truth; files and the
 * vault's head_seq are derived from it.  vaults.head_seq is the "applied
 * head": every event with seq <= head_seq has been applied to the file
 * records.  Events above it (the "backlog") are inserted but maybe not yet
 * applied.  Seqs are only ever taken as head + 1, so the backlog is
 * contiguous and the log's head is found by probing _ids head_seq + 1,
 * + 2, ... until one is missing (one lookup when there is no backlog).
 * A write:
 *   1. reads the applied head h, then the file record(s) of its path(s),
 *      which reflect at least h;
 *   2. probes the backlog (h, m] and folds the events that touch its
 *      path(s) into their state: the state as of the log's head m;
 *   3. checks the precondition against that state;
 *   4. inserts the event with seq m + 1 (_id "<vault>:<m+1>", unique); a
 *      duplicate key means another writer took it first: back to 2 from
 *      m, which folds in the newcomer (bounded retries with jitter); an
 *      "op" id per write recognizes an insert of ours that landed although
 *      its answer was lost;
 *   5. applies the event to the version and file record(s) and raises
 *      head_seq.
 * Step 5 waits (briefly) until head_seq has reached seq - 1, so the events
 * of a vault are applied in order by one writer at a time; file records are
 * then never updated concurrently, which keeps them right even on servers
 * whose single-document updates are not atomic (FerretDB v1 reads, then
 * writes back).  If the predecessor does not get there within
 * GOBI_MONGODB_APPLY_WAIT_MS (it crashed between its insert and its update,
 * or its connection broke), or the oldest backlog event is older than that
 * already, the writer takes over: it replays the backlog (h, seq] in order
 * and raises head_seq.  Every record update is guarded by
 * "version < seq" in its filter, so replaying an event twice is harmless
 * (on MongoDB, where single-document updates are atomic, even when two
 * writers replay at once).
 * Readers never write: file_get, file_list, vault_get, events_since,
 * blob_referenced and the history readers probe the backlog and overlay
 * it on the records, so a crash between steps 4 and 5 is invisible to
 * them, and the next write to the vault repairs the records.  If step 5
 * fails after the insert succeeded, the write still returns OK: the event
 * is committed, the next write applies it.
 *
 * History: the version each event made of each path it touches
 * (gobi_version_of_event: two for a rename, the source's deleted and
 * moved) is written in step 5, by whoever applies the event, the replay
 * of a takeover included, before the file record and always (even when
 * the file record's guard finds it applied), as an upsert by its _id, so
 * applying again writes the same record: with head_seq raised last, a
 * crash anywhere between steps 4 and 5 loses no version.  The _id makes
 * version_get, that upsert and the deletes of versions_prune point
 * lookups on every server; the listings (version_list, trash_list,
 * versions_at) filter on vault, path and version, by the
 * vault_1_path_1_version_1 index on MongoDB and by a scan on FerretDB
 * v1, as file_list does (see gobi_store_mongodb_version_key).  Versions
 * are apart from the log: events_prune leaves them, versions_prune thins
 * them.
 *
 * Retention: events_prune drops, per vault, the prefix of the log whose
 * events are older than the horizon, keeping the latest event and every
 * event not yet applied, so the log never has holes (a hole would let a
 * cursor skip an event without getting EXPIRED).  It raises
 * vaults.pruned_seq before deleting; the oldest kept event is
 * pruned_seq + 1.
 *
 * Known limits: with FerretDB v1 (no transactions, no change streams,
 * findAndModify and conditional updates not atomic) the takeover path can
 * race with a writer that stalled for longer than
 * GOBI_MONGODB_APPLY_WAIT_MS; vault_delete removes the vault document
 * first and then its files, events and versions (a crash in between
 * leaves orphans that events_prune and versions_prune remove); on
 * FerretDB v1 the history listings, delete_stats and versions_prune scan
 * their collection; a vault already backfilled gets no versions for the
 * writes of a server from before history (a rolling upgrade).  A crash
 * inside vault_delete or user_delete can leave a vault's wrapped key
 * behind (nothing reads it: ids are never reused); a key added while its
 * vault is being deleted can outlive it the same way.  On FerretDB v1,
 * whose conditional updates are not atomic, two vault_key_swaps of one
 * vault at once may both succeed: rotations must not overlap there.
 */


#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "gobi_crypt.h"
#include "gobi_hash.h"
#include "gobi_store.h"


#define GOBI_MONGODB_DEFAULT_DB           "gobi"
#define GOBI_MONGODB_SERVER_SELECTION_MS  5000
#define GOBI_MONGODB_CONNECT_MS           3000
#define GOBI_MONGODB_SOCKET_MS            15000
#define GOBI_MONGODB_WTIMEOUT_MS          10000
#define GOBI_MONGODB_RETRIES              100
#define GOBI_MONGODB_APPLY_WAIT_MS        2000
#define GOBI_MONGODB_DBNAME_MAX           64
#define GOBI_MONGODB_KEY_LEN              48
#define GOBI_MONGODB_PROBE_MAX            64

#define GOBI_MONGODB_SERVER_UNKNOWN       0
#define GOBI_MONGODB_SERVER_MONGODB       1
#define GOBI_MONGODB_SERVER_FERRETDB      2

/* gobi_store_mongodb_modify() */
#define GOBI_MONGODB_INSERT               0
#define GOBI_MONGODB_UPDATE               1
#define GOBI_MONGODB_DELETE               2

/* 0: treat FerretDB like MongoDB (tests of the MongoDB paths) */
#ifndef GOBI_MONGODB_DETECT_FERRETDB
#define GOBI_MONGODB_DETECT_FERRETDB      1
#endif


struct gobi_store_s {
    mongoc_uri_t             *uri;
    mongoc_client_pool_t     *pool;
    mongoc_write_concern_t   *wc;
    mongoc_read_concern_t    *rc;          /* client-facing reads */
    int                       schema;      /* the indexes exist */
    int                       server;      /* GOBI_MONGODB_SERVER_* */
    char                      db[GOBI_MONGODB_DBNAME_MAX + 1];
};


/* a file's state as of some seq: a record, maybe overlaid by an event */
typedef struct {
    int                       exists;
    int64_t                   version;
    char                      hash[GOBI_HASH_HEX_LEN + 1];
    int64_t                   size;
    int64_t                   mtime;
    int                       deleted;
} gobi_store_mongodb_state_t;


/* one manifest entry, owned (file_list buffers the listing) */
typedef struct {
    char                     *path;
    size_t                    order;
    gobi_store_mongodb_state_t  s;
} gobi_store_mongodb_entry_t;


typedef struct {
    gobi_store_mongodb_entry_t  *elts;
    size_t                       nelts;
    size_t                       nalloc;
} gobi_store_mongodb_list_t;


/* finds one user or vault by a filter; out may be NULL */
typedef gobi_store_rc_e (*gobi_store_mongodb_find_pt)(gobi_store_t *st,
    mongoc_client_t *cl, const bson_t *filter, void *out);


/* sees each backlog event; anything but OK stops the probe */
typedef gobi_store_rc_e (*gobi_store_mongodb_probe_pt)(void *data,
    const bson_t *doc, const gobi_event_t *ev);


static void gobi_store_mongodb_log(mongoc_log_level_t level,
    const char *domain, const char *message, void *data);
static void gobi_store_mongodb_init_once(void);
static void gobi_store_mongodb_set_err(const char *fmt, ...);
static gobi_store_rc_e gobi_store_mongodb_fail(const char *what,
    const bson_error_t *err, const bson_t *reply);
static int gobi_store_mongodb_is_dup(const bson_error_t *err);
static mongoc_client_t *gobi_store_mongodb_pop(gobi_store_t *st);
static int64_t gobi_store_mongodb_now(void);
static void gobi_store_mongodb_sleep_ms(int ms);
static void gobi_store_mongodb_backoff(int attempt);
static int64_t gobi_store_mongodb_get_int(const bson_t *doc,
    const char *key);
static const char *gobi_store_mongodb_get_str(const bson_t *doc,
    const char *key);
static void gobi_store_mongodb_copy(char *dst, size_t size,
    const char *src);
static void gobi_store_mongodb_read_opts(gobi_store_t *st, bson_t *opts,
    int majority);
static gobi_store_rc_e gobi_store_mongodb_find_one(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const bson_t *filter,
    const bson_t *sort, int majority, bson_t *out);
static gobi_store_rc_e gobi_store_mongodb_find_key(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const char *key, int majority,
    bson_t *out);
static gobi_store_rc_e gobi_store_mongodb_modify(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, int op, const bson_t *filter,
    const bson_t *doc, int upsert, int64_t *count);
static gobi_store_rc_e gobi_store_mongodb_insert(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const bson_t *doc);
static gobi_store_rc_e gobi_store_mongodb_update(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const bson_t *filter,
    const bson_t *update, int upsert, int64_t *matched);
static gobi_store_rc_e gobi_store_mongodb_delete(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const bson_t *filter,
    int64_t *deleted);
static gobi_store_rc_e gobi_store_mongodb_get(gobi_store_t *st,
    gobi_store_mongodb_find_pt find, const bson_t *filter, void *out);
static gobi_store_rc_e gobi_store_mongodb_remove(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const bson_t *filter);
static gobi_store_rc_e gobi_store_mongodb_last_claim(gobi_store_t *st,
    mongoc_client_t *cl, const char *kind, int64_t *n);
static gobi_store_rc_e gobi_store_mongodb_claim_id(gobi_store_t *st,
    mongoc_client_t *cl, const char *kind, int64_t *id);
static gobi_store_rc_e gobi_store_mongodb_create(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const bson_t *filter,
    int majority, const bson_t *fields, int64_t *id);
static void gobi_store_mongodb_detect(gobi_store_t *st,
    mongoc_client_t *cl);
static int gobi_store_mongodb_ferretdb(gobi_store_t *st);
static gobi_store_rc_e gobi_store_mongodb_schema(gobi_store_t *st,
    mongoc_client_t *cl);
static gobi_store_rc_e gobi_store_mongodb_need_schema(gobi_store_t *st,
    mongoc_client_t *cl);
static gobi_store_rc_e gobi_store_mongodb_index(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const char *name, int unique,
    const char *key1, const char *key2, const char *key3);
static void gobi_store_mongodb_name_key(char *key, const char *name);
static int gobi_store_mongodb_key_cmp(const void *a, const void *b);
static gobi_store_rc_e gobi_store_mongodb_migrate_users(gobi_store_t *st,
    mongoc_client_t *cl);
static gobi_store_rc_e gobi_store_mongodb_migrate_history(gobi_store_t *st,
    mongoc_client_t *cl);
static gobi_store_rc_e gobi_store_mongodb_backfill(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault);
static void gobi_store_mongodb_user_from(const bson_t *doc,
    gobi_user_t *u);
static gobi_store_rc_e gobi_store_mongodb_user_find(gobi_store_t *st,
    mongoc_client_t *cl, const bson_t *filter, void *out);
static void gobi_store_mongodb_event_key(char *buf, int64_t vault,
    int64_t seq);
static gobi_store_rc_e gobi_store_mongodb_find_event(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, int64_t seq, int majority,
    bson_t *out);
static gobi_store_rc_e gobi_store_mongodb_vault_heads(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, int majority, int64_t *applied,
    int64_t *pruned);
static gobi_store_rc_e gobi_store_mongodb_probe(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, int64_t from, int majority,
    gobi_store_mongodb_probe_pt handler, void *data, int64_t *head);
static gobi_store_rc_e gobi_store_mongodb_vault_fill(gobi_store_t *st,
    mongoc_client_t *cl, const bson_t *doc, gobi_vault_t *v);
static gobi_store_rc_e gobi_store_mongodb_vault_find(gobi_store_t *st,
    mongoc_client_t *cl, const bson_t *filter, void *out);
static int gobi_store_mongodb_event_from(const bson_t *doc,
    gobi_event_t *ev);
static void gobi_store_mongodb_event_state(const gobi_event_t *ev,
    const char *path, gobi_store_mongodb_state_t *s);
static void gobi_store_mongodb_record_state(const bson_t *doc,
    gobi_store_mongodb_state_t *s);
static void gobi_store_mongodb_to_file(const gobi_store_mongodb_state_t *s,
    const char *path, gobi_file_t *f);
static gobi_store_rc_e gobi_store_mongodb_record(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, const char *path, int majority,
    gobi_store_mongodb_state_t *s);
static gobi_store_rc_e gobi_store_mongodb_apply_path(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, const char *path,
    const gobi_store_mongodb_state_t *s);
static char *gobi_store_mongodb_version_key(int64_t vault, const char *path,
    int64_t seq);
static void gobi_store_mongodb_version_fields(bson_t *doc, int64_t vault,
    const char *path, const gobi_version_t *v);
static void gobi_store_mongodb_version_from(const bson_t *doc,
    gobi_version_t *v);
static gobi_store_rc_e gobi_store_mongodb_version_put(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, const gobi_event_t *ev,
    const char *path);
static gobi_store_rc_e gobi_store_mongodb_apply_event(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, const gobi_event_t *ev);
static gobi_store_rc_e gobi_store_mongodb_raise(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, const char *field, int64_t seq);
static gobi_store_rc_e gobi_store_mongodb_replay(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, int64_t from, int64_t to);
static gobi_store_rc_e gobi_store_mongodb_settle(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, const gobi_event_t *own,
    int64_t now);
static gobi_store_rc_e gobi_store_mongodb_fold(void *data,
    const bson_t *doc, const gobi_event_t *ev);
static gobi_store_rc_e gobi_store_mongodb_write_locked(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, const gobi_write_t *w,
    gobi_event_t *ev, gobi_file_t *current);
static gobi_store_rc_e gobi_store_mongodb_overlay(void *data,
    const bson_t *doc, const gobi_event_t *ev);
static int gobi_store_mongodb_list_push(gobi_store_mongodb_list_t *l,
    const char *path, const gobi_store_mongodb_state_t *s);
static void gobi_store_mongodb_list_free(gobi_store_mongodb_list_t *l);
static int gobi_store_mongodb_entry_cmp(const void *a, const void *b);
static gobi_store_rc_e gobi_store_mongodb_collect(void *data,
    const bson_t *doc, const gobi_event_t *ev);
static gobi_store_rc_e gobi_store_mongodb_events_by_id(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, int64_t since, int64_t to,
    gobi_event_cb cb, void *data, int64_t *last);
static gobi_store_rc_e gobi_store_mongodb_prune_claims(gobi_store_t *st,
    mongoc_client_t *cl, const char *kind);
static gobi_store_rc_e gobi_store_mongodb_prune_vault(gobi_store_t *st,
    mongoc_client_t *cl, int64_t vault, int64_t before, int64_t *removed);
static gobi_store_rc_e gobi_store_mongodb_blob_seen(void *data,
    const bson_t *doc, const gobi_event_t *ev);
static int gobi_store_mongodb_next_version(mongoc_cursor_t *cur,
    gobi_version_t *v);
static const bson_t *gobi_store_mongodb_next_path(mongoc_cursor_t *cur,
    const char **path);
static gobi_store_rc_e gobi_store_mongodb_next_distinct(mongoc_cursor_t *cur,
    char **path);
static gobi_store_rc_e gobi_store_mongodb_count(gobi_store_t *st,
    mongoc_client_t *cl, const char *coll, const bson_t *filter, int64_t *n);
static int gobi_store_mongodb_only_dups(const bson_t *reply);


static pthread_once_t  gobi_store_mongodb_once = PTHREAD_ONCE_INIT;
static __thread char   gobi_store_mongodb_errbuf[512];
static __thread unsigned int  gobi_store_mongodb_seed;


/*
 * libmongoc logs its own debug and info messages to stdout (the monitor
 * says so twice a second while a server is down); only warnings and worse
 * go on, to stderr, which nginx sends to its error log.
 */

static void
gobi_store_mongodb_log(mongoc_log_level_t level, const char *domain,
    const char *message, void *data)
{
    if (level <= MONGOC_LOG_LEVEL_WARNING) {
        mongoc_log_default_handler(level, domain, message, data);
    }
}


static void
gobi_store_mongodb_init_once(void)
{
    /* once per process; mongoc_cleanup() is never called: the library
     * stays usable until exit, in the master as in the workers */
    mongoc_log_set_handler(gobi_store_mongodb_log, NULL);
    mongoc_init();
}


static void
gobi_store_mongodb_set_err(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(gobi_store_mongodb_errbuf, sizeof(gobi_store_mongodb_errbuf),
              fmt, args);
    va_end(args);
}


/*
 * Map a libmongoc error to a store code and remember its message.
 * UNAVAILABLE is for what goes away by itself: no server to select, a
 * broken or timed-out connection, a primary stepping down or shutting
 * down, a write concern that timed out.
 */

static gobi_store_rc_e
gobi_store_mongodb_fail(const char *what, const bson_error_t *err,
    const bson_t *reply)
{
    int  transient;

    switch (err->domain) {

    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_WRITE_CONCERN:
        transient = 1;
        break;

    case MONGOC_ERROR_CLIENT:
        transient = (err->code == MONGOC_ERROR_CLIENT_NOT_READY);
        break;

    default:
        switch (err->code) {
        case 6:        /* HostUnreachable */
        case 7:        /* HostNotFound */
        case 50:       /* MaxTimeMSExpired */
        case 64:       /* WriteConcernFailed */
        case 89:       /* NetworkTimeout */
        case 91:       /* ShutdownInProgress */
        case 189:      /* PrimarySteppedDown */
        case 262:      /* ExceededTimeLimit */
        case 9001:     /* SocketException */
        case 10107:    /* NotWritablePrimary */
        case 11600:    /* InterruptedAtShutdown */
        case 11602:    /* InterruptedDueToReplStateChange */
        case 13435:    /* NotPrimaryNoSecondaryOk */
        case 13436:    /* NotPrimaryOrSecondary */
            transient = 1;
            break;
        default:
            transient = 0;
        }
    }

    if (!transient && reply != NULL
        && (mongoc_error_has_label(reply, "RetryableWriteError")
            || mongoc_error_has_label(reply, "NetworkError")))
    {
        transient = 1;
    }

    gobi_store_mongodb_set_err("mongodb: %s: %s (%u.%u)", what,
                               err->message, err->domain, err->code);

    return transient ? GOBI_STORE_UNAVAILABLE : GOBI_STORE_ERROR;
}


static int
gobi_store_mongodb_is_dup(const bson_error_t *err)
{
    return err->code == MONGOC_ERROR_DUPLICATE_KEY
           || err->code == 11001 || err->code == 12582;
}


static mongoc_client_t *
gobi_store_mongodb_pop(gobi_store_t *st)
{
    mongoc_client_t  *cl;

    /* blocks only when more threads than maxPoolSize (100) use the store
     * at once; clients come back within the timeouts */
    cl = mongoc_client_pool_pop(st->pool);
    if (cl == NULL) {
        gobi_store_mongodb_set_err("mongodb: no client from the pool");
    }

    return cl;
}


static int64_t
gobi_store_mongodb_now(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


static void
gobi_store_mongodb_sleep_ms(int ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long) (ms % 1000) * 1000000;
    nanosleep(&ts, NULL);
}


/* jittered exponential backoff, 0..min(50, 2^attempt) ms */

static void
gobi_store_mongodb_backoff(int attempt)
{
    int  cap;

    if (gobi_store_mongodb_seed == 0) {
        gobi_store_mongodb_seed = (unsigned int) gobi_store_mongodb_now()
                                  ^ (unsigned int) (uintptr_t) pthread_self();
    }

    cap = attempt < 6 ? 1 << attempt : 50;
    if (cap > 50) {
        cap = 50;
    }

    gobi_store_mongodb_sleep_ms(rand_r(&gobi_store_mongodb_seed)
                                % (cap + 1));
}


static int64_t
gobi_store_mongodb_get_int(const bson_t *doc, const char *key)
{
    bson_iter_t  it;

    if (bson_iter_init_find(&it, doc, key)) {
        return bson_iter_as_int64(&it);
    }

    return 0;
}


static const char *
gobi_store_mongodb_get_str(const bson_t *doc, const char *key)
{
    bson_iter_t  it;

    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) {
        return bson_iter_utf8(&it, NULL);
    }

    return NULL;
}


static void
gobi_store_mongodb_copy(char *dst, size_t size, const char *src)
{
    size_t  n;

    if (src == NULL) {
        dst[0] = '\0';
        return;
    }

    n = strlen(src);
    if (n >= size) {
        n = size - 1;
    }

    memcpy(dst, src, n);
    dst[n] = '\0';
}


static void
gobi_store_mongodb_read_opts(gobi_store_t *st, bson_t *opts, int majority)
{
    if (majority && st->rc != NULL) {
        mongoc_read_concern_append(st->rc, opts);
    }
}


/* OK with *out initialized (the caller destroys it), or NOT_FOUND */

static gobi_store_rc_e
gobi_store_mongodb_find_one(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const bson_t *filter, const bson_t *sort, int majority,
    bson_t *out)
{
    bson_t                opts;
    bson_error_t          err;
    const bson_t         *doc;
    gobi_store_rc_e       rc;
    mongoc_cursor_t      *cur;
    mongoc_collection_t  *c;

    bson_init(&opts);
    BSON_APPEND_INT64(&opts, "limit", 1);
    BSON_APPEND_BOOL(&opts, "singleBatch", true);
    if (sort != NULL) {
        BSON_APPEND_DOCUMENT(&opts, "sort", sort);
    }
    gobi_store_mongodb_read_opts(st, &opts, majority);

    c = mongoc_client_get_collection(cl, st->db, coll);
    cur = mongoc_collection_find_with_opts(c, filter, &opts, NULL);

    if (mongoc_cursor_next(cur, &doc)) {
        bson_copy_to(doc, out);
        rc = GOBI_STORE_OK;

    } else if (mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail(coll, &err, NULL);

    } else {
        rc = GOBI_STORE_NOT_FOUND;
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    bson_destroy(&opts);

    return rc;
}


/* the document with the string _id `key`, as find_one */

static gobi_store_rc_e
gobi_store_mongodb_find_key(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const char *key, int majority, bson_t *out)
{
    bson_t           filter;
    gobi_store_rc_e  rc;

    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "_id", key);
    rc = gobi_store_mongodb_find_one(st, cl, coll, &filter, NULL, majority,
                                     out);
    bson_destroy(&filter);

    return rc;
}


/*
 * Run a write: an insert of doc, an update of what filter matches by doc
 * (the update document), or a delete of what filter matches.  OK, with
 * *count the matched and upserted (update) or deleted (delete) documents;
 * EXISTS on a duplicate key (insert, update); or the error.
 */

static gobi_store_rc_e
gobi_store_mongodb_modify(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, int op, const bson_t *filter, const bson_t *doc,
    int upsert, int64_t *count)
{
    bool                  done;
    bson_t                opts, reply;
    bson_error_t          err;
    gobi_store_rc_e       rc;
    mongoc_collection_t  *c;

    bson_init(&opts);
    mongoc_write_concern_append(st->wc, &opts);
    if (upsert) {
        BSON_APPEND_BOOL(&opts, "upsert", true);
    }

    c = mongoc_client_get_collection(cl, st->db, coll);

    switch (op) {

    case GOBI_MONGODB_INSERT:
        done = mongoc_collection_insert_one(c, doc, &opts, &reply, &err);
        break;

    case GOBI_MONGODB_UPDATE:
        done = mongoc_collection_update_one(c, filter, doc, &opts, &reply,
                                            &err);
        break;

    default: /* GOBI_MONGODB_DELETE */
        done = mongoc_collection_delete_many(c, filter, &opts, &reply, &err);
    }

    if (done) {
        if (count != NULL) {
            *count = op == GOBI_MONGODB_DELETE
                     ? gobi_store_mongodb_get_int(&reply, "deletedCount")
                     : gobi_store_mongodb_get_int(&reply, "matchedCount")
                       + gobi_store_mongodb_get_int(&reply, "upsertedCount");
        }

        rc = GOBI_STORE_OK;

    } else if (op != GOBI_MONGODB_DELETE && gobi_store_mongodb_is_dup(&err)) {
        gobi_store_mongodb_set_err("mongodb: %s: %s", coll, err.message);
        rc = GOBI_STORE_EXISTS;

    } else {
        rc = gobi_store_mongodb_fail(coll, &err, &reply);
    }

    bson_destroy(&reply);
    mongoc_collection_destroy(c);
    bson_destroy(&opts);

    return rc;
}


/* OK, EXISTS on a duplicate key, or the error */

static gobi_store_rc_e
gobi_store_mongodb_insert(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const bson_t *doc)
{
    return gobi_store_mongodb_modify(st, cl, coll, GOBI_MONGODB_INSERT, NULL,
                                     doc, 0, NULL);
}


static gobi_store_rc_e
gobi_store_mongodb_update(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const bson_t *filter, const bson_t *update, int upsert,
    int64_t *matched)
{
    return gobi_store_mongodb_modify(st, cl, coll, GOBI_MONGODB_UPDATE,
                                     filter, update, upsert, matched);
}


static gobi_store_rc_e
gobi_store_mongodb_delete(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const bson_t *filter, int64_t *deleted)
{
    return gobi_store_mongodb_modify(st, cl, coll, GOBI_MONGODB_DELETE,
                                     filter, NULL, 0, deleted);
}


/* a user or a vault by a filter, on a client of its own */

static gobi_store_rc_e
gobi_store_mongodb_get(gobi_store_t *st, gobi_store_mongodb_find_pt find,
    const bson_t *filter, void *out)
{
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = find(st, cl, filter, out);

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* delete what the filter matches: NOT_FOUND if nothing */

static gobi_store_rc_e
gobi_store_mongodb_remove(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const bson_t *filter)
{
    int64_t          n;
    gobi_store_rc_e  rc;

    n = 0;
    rc = gobi_store_mongodb_delete(st, cl, coll, filter, &n);

    if (rc == GOBI_STORE_OK && n == 0) {
        rc = GOBI_STORE_NOT_FOUND;
    }

    return rc;
}


/* the highest id claim of a kind: OK with *n, NOT_FOUND, or the error */

static gobi_store_rc_e
gobi_store_mongodb_last_claim(gobi_store_t *st, mongoc_client_t *cl,
    const char *kind, int64_t *n)
{
    bson_t           filter, sort, doc;
    gobi_store_rc_e  rc;

    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "kind", kind);
    bson_init(&sort);
    BSON_APPEND_INT32(&sort, "n", -1);

    rc = gobi_store_mongodb_find_one(st, cl, "counters", &filter, &sort, 0,
                                     &doc);
    bson_destroy(&sort);
    bson_destroy(&filter);

    if (rc == GOBI_STORE_OK) {
        *n = gobi_store_mongodb_get_int(&doc, "n");
        bson_destroy(&doc);
    }

    return rc;
}


/* claim the next integer id of a kind: insert max + 1, retry on a dup */

static gobi_store_rc_e
gobi_store_mongodb_claim_id(gobi_store_t *st, mongoc_client_t *cl,
    const char *kind, int64_t *id)
{
    int              attempt;
    char             key[GOBI_MONGODB_KEY_LEN];
    bson_t           doc;
    int64_t          n;
    gobi_store_rc_e  rc;

    for (attempt = 0; attempt < GOBI_MONGODB_RETRIES; attempt++) {

        if (attempt > 0) {
            gobi_store_mongodb_backoff(attempt);
        }

        rc = gobi_store_mongodb_last_claim(st, cl, kind, &n);

        if (rc == GOBI_STORE_NOT_FOUND) {
            n = 0;

        } else if (rc != GOBI_STORE_OK) {
            return rc;
        }

        gobi_store_mongodb_copy(key, sizeof(key), kind);
        snprintf(key + strlen(key), sizeof(key) - strlen(key), ":%lld",
                 (long long) (n + 1));

        bson_init(&doc);
        BSON_APPEND_UTF8(&doc, "_id", key);
        BSON_APPEND_UTF8(&doc, "kind", kind);
        BSON_APPEND_INT64(&doc, "n", n + 1);
        rc = gobi_store_mongodb_insert(st, cl, "counters", &doc);
        bson_destroy(&doc);

        if (rc == GOBI_STORE_OK) {
            *id = n + 1;
            return GOBI_STORE_OK;
        }

        if (rc != GOBI_STORE_EXISTS) {
            return rc;
        }
    }

    gobi_store_mongodb_set_err("mongodb: too much contention for a new "
                               "%s id", kind);

    return GOBI_STORE_UNAVAILABLE;
}


/*
 * A new user or vault: {_id: a new id of kind coll, fields...}, unless
 * filter finds one (EXISTS).  OK with *id.
 */

static gobi_store_rc_e
gobi_store_mongodb_create(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const bson_t *filter, int majority,
    const bson_t *fields, int64_t *id)
{
    int              attempt;
    bson_t           doc, found;
    gobi_store_rc_e  rc;

    for (attempt = 0; attempt < GOBI_MONGODB_RETRIES; attempt++) {

        /* a taken name does not use up an id */
        rc = gobi_store_mongodb_find_one(st, cl, coll, filter, NULL,
                                         majority, &found);
        if (rc == GOBI_STORE_OK) {
            bson_destroy(&found);
            return GOBI_STORE_EXISTS;
        }

        if (rc != GOBI_STORE_NOT_FOUND) {
            return rc;
        }

        rc = gobi_store_mongodb_claim_id(st, cl, coll, id);
        if (rc != GOBI_STORE_OK) {
            return rc;
        }

        bson_init(&doc);
        BSON_APPEND_INT64(&doc, "_id", *id);
        bson_concat(&doc, fields);
        rc = gobi_store_mongodb_insert(st, cl, coll, &doc);
        bson_destroy(&doc);

        if (rc != GOBI_STORE_EXISTS) {
            return rc;
        }

        /* a duplicate: the name was taken meanwhile (checked above) */
    }

    gobi_store_mongodb_set_err("mongodb: too much contention");

    return GOBI_STORE_UNAVAILABLE;
}


static gobi_store_t *
gobi_store_mongodb_open(const char *uri_str, char *errbuf, size_t errlen)
{
    const char          *db;
    bson_error_t         err;
    gobi_store_t        *st;
    const mongoc_read_concern_t   *urc;
    const mongoc_write_concern_t  *uwc;

    pthread_once(&gobi_store_mongodb_once, gobi_store_mongodb_init_once);

    st = calloc(1, sizeof(gobi_store_t));
    if (st == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    st->uri = mongoc_uri_new_with_error(uri_str, &err);
    if (st->uri == NULL) {
        snprintf(errbuf, errlen, "invalid MongoDB URI: %s", err.message);
        goto failed;
    }

    db = mongoc_uri_get_database(st->uri);
    if (db == NULL || db[0] == '\0') {
        db = GOBI_MONGODB_DEFAULT_DB;
    }

    if (strlen(db) > GOBI_MONGODB_DBNAME_MAX) {
        snprintf(errbuf, errlen, "MongoDB database name too long");
        goto failed;
    }

    memcpy(st->db, db, strlen(db) + 1);

    /* no call may wait forever: bound what the URI leaves open */

    if (!mongoc_uri_has_option(st->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
    {
        mongoc_uri_set_option_as_int32(st->uri,
                                       MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                       GOBI_MONGODB_SERVER_SELECTION_MS);
    }

    if (!mongoc_uri_has_option(st->uri, MONGOC_URI_CONNECTTIMEOUTMS)) {
        mongoc_uri_set_option_as_int32(st->uri, MONGOC_URI_CONNECTTIMEOUTMS,
                                       GOBI_MONGODB_CONNECT_MS);
    }

    if (!mongoc_uri_has_option(st->uri, MONGOC_URI_SOCKETTIMEOUTMS)) {
        mongoc_uri_set_option_as_int32(st->uri, MONGOC_URI_SOCKETTIMEOUTMS,
                                       GOBI_MONGODB_SOCKET_MS);
    }

    uwc = mongoc_uri_get_write_concern(st->uri);
    if (uwc != NULL && !mongoc_write_concern_is_default(uwc)) {
        st->wc = mongoc_write_concern_copy(uwc);

    } else {
        st->wc = mongoc_write_concern_new();
        mongoc_write_concern_set_wmajority(st->wc, GOBI_MONGODB_WTIMEOUT_MS);
        mongoc_write_concern_set_journal(st->wc, true);
    }

    urc = mongoc_uri_get_read_concern(st->uri);
    if (urc != NULL && mongoc_read_concern_get_level(urc) != NULL) {
        st->rc = mongoc_read_concern_copy(urc);

    } else {
        st->rc = mongoc_read_concern_new();
        mongoc_read_concern_set_level(st->rc,
                                      MONGOC_READ_CONCERN_LEVEL_MAJORITY);
    }

    /* connects lazily: the pool's monitor starts with the first client */
    st->pool = mongoc_client_pool_new(st->uri);
    if (st->pool == NULL) {
        snprintf(errbuf, errlen, "cannot create a MongoDB client pool for "
                 "the URI (TLS options?)");
        goto failed;
    }

    mongoc_client_pool_set_error_api(st->pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(st->pool, "gobi");

    return st;

failed:

    if (st->uri != NULL) {
        mongoc_uri_destroy(st->uri);
    }

    if (st->wc != NULL) {
        mongoc_write_concern_destroy(st->wc);
    }

    if (st->rc != NULL) {
        mongoc_read_concern_destroy(st->rc);
    }

    free(st);

    return NULL;
}


static void
gobi_store_mongodb_close(gobi_store_t *st)
{
    if (st == NULL) {
        return;
    }

    mongoc_client_pool_destroy(st->pool);
    mongoc_uri_destroy(st->uri);
    mongoc_write_concern_destroy(st->wc);
    mongoc_read_concern_destroy(st->rc);
    free(st);
}


static const char *
gobi_store_mongodb_errmsg(gobi_store_t *st)
{
    (void) st;

    return gobi_store_mongodb_errbuf;
}


/*
 * createIndexes creates the collection too and is a no-op for an index
 * that exists with the same options, so init_schema is idempotent.
 */

static gobi_store_rc_e
gobi_store_mongodb_index(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const char *name, int unique, const char *key1,
    const char *key2, const char *key3)
{
    bson_t              cmd, indexes, index, key, opts, reply;
    bson_error_t        err;
    gobi_store_rc_e     rc;
    mongoc_database_t  *db;

    bson_init(&cmd);
    BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
    BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
    BSON_APPEND_INT32(&key, key1, 1);
    if (key2 != NULL) {
        BSON_APPEND_INT32(&key, key2, 1);
    }
    if (key3 != NULL) {
        BSON_APPEND_INT32(&key, key3, 1);
    }
    bson_append_document_end(&index, &key);
    BSON_APPEND_UTF8(&index, "name", name);
    if (unique) {
        BSON_APPEND_BOOL(&index, "unique", true);
    }
    bson_append_document_end(&indexes, &index);
    bson_append_array_end(&cmd, &indexes);

    bson_init(&opts);
    mongoc_write_concern_append(st->wc, &opts);

    db = mongoc_client_get_database(cl, st->db);

    if (mongoc_database_write_command_with_opts(db, &cmd, &opts, &reply,
                                                &err))
    {
        rc = GOBI_STORE_OK;

    } else {
        rc = gobi_store_mongodb_fail(coll, &err, &reply);
    }

    bson_destroy(&reply);
    mongoc_database_destroy(db);
    bson_destroy(&opts);
    bson_destroy(&cmd);

    return rc;
}


/*
 * Which server: buildInfo of FerretDB carries "ferretdbVersion".  FerretDB
 * v1 evaluates every filter but an _id equality by scanning the whole
 * collection, and performs a conditional update as read, compare, write
 * back, not atomically.  On it, two hot paths use _id point lookups
 * instead: a file record is read by _id, compared and written by _id
 * (what FerretDB would do anyway, minus the scan), and a short run of
 * events is read by _id.  Until the server is known (it was down), the
 * MongoDB paths are used: they are correct on both.
 */

static void
gobi_store_mongodb_detect(gobi_store_t *st, mongoc_client_t *cl)
{
    int           server;
    bson_t        cmd, reply;
    bson_error_t  err;

    if (__atomic_load_n(&st->server, __ATOMIC_ACQUIRE)
        != GOBI_MONGODB_SERVER_UNKNOWN)
    {
        return;
    }

    bson_init(&cmd);
    BSON_APPEND_INT32(&cmd, "buildInfo", 1);

    if (mongoc_client_command_simple(cl, "admin", &cmd, NULL, &reply, &err))
    {
        server = GOBI_MONGODB_SERVER_MONGODB;

        if (GOBI_MONGODB_DETECT_FERRETDB
            && bson_has_field(&reply, "ferretdbVersion"))
        {
            server = GOBI_MONGODB_SERVER_FERRETDB;
        }

        __atomic_store_n(&st->server, server, __ATOMIC_RELEASE);
    }

    bson_destroy(&reply);
    bson_destroy(&cmd);
}


static int
gobi_store_mongodb_ferretdb(gobi_store_t *st)
{
    return __atomic_load_n(&st->server, __ATOMIC_ACQUIRE)
           == GOBI_MONGODB_SERVER_FERRETDB;
}


static gobi_store_rc_e
gobi_store_mongodb_schema(gobi_store_t *st, mongoc_client_t *cl)
{
    gobi_store_rc_e  rc;

    gobi_store_mongodb_detect(st, cl);

    rc = gobi_store_mongodb_index(st, cl, "users", "username_1", 1,
                                  "username", NULL, NULL);
    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_migrate_users(st, cl);
    }
    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_index(st, cl, "users", "username_key_1", 1,
                                      "username_key", NULL, NULL);
    }
    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_index(st, cl, "tokens",
                                      "user_1_expires_at_1", 0, "user",
                                      "expires_at", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        /* tokens_prune */
        rc = gobi_store_mongodb_index(st, cl, "tokens", "expires_at_1", 0,
                                      "expires_at", NULL, NULL);
    }
    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_index(st, cl, "vaults", "owner_1_name_1", 1,
                                      "owner", "name", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_index(st, cl, "files", "vault_1_path_1", 1,
                                      "vault", "path", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        /* blob_referenced */
        rc = gobi_store_mongodb_index(st, cl, "files", "vault_1_hash_1", 0,
                                      "vault", "hash", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        /* events_since, pruning */
        rc = gobi_store_mongodb_index(st, cl, "events", "vault_1_seq_1", 1,
                                      "vault", "seq", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        /* retention */
        rc = gobi_store_mongodb_index(st, cl, "events", "ts_1", 0,
                                      "ts", NULL, NULL);
    }
    if (rc == GOBI_STORE_OK) {
        /* delete_stats */
        rc = gobi_store_mongodb_index(st, cl, "events", "vault_1_ts_1", 0,
                                      "vault", "ts", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_index(st, cl, "counters", "kind_1_n_1", 1,
                                      "kind", "n", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        /* version_list, trash_list, versions_at, versions_prune */
        rc = gobi_store_mongodb_index(st, cl, "versions",
                                      "vault_1_path_1_version_1", 0,
                                      "vault", "path", "version");
    }
    if (rc == GOBI_STORE_OK) {
        /* versions_at from a recent seq */
        rc = gobi_store_mongodb_index(st, cl, "versions",
                                      "vault_1_version_1", 0, "vault",
                                      "version", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        /* blob_referenced */
        rc = gobi_store_mongodb_index(st, cl, "versions", "vault_1_hash_1",
                                      0, "vault", "hash", NULL);
    }
    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_migrate_history(st, cl);
    }

    if (rc == GOBI_STORE_OK) {
        __atomic_store_n(&st->schema, 1, __ATOMIC_RELEASE);
    }

    return rc;
}


/*
 * Seqs, file records and id claims are unique by _id, which needs no
 * index of ours; unique user names and vault names do.  If init_schema
 * could not reach the server (a worker starts while the database is
 * down), user_create and vault_create create the indexes first.
 */

static gobi_store_rc_e
gobi_store_mongodb_need_schema(gobi_store_t *st, mongoc_client_t *cl)
{
    if (__atomic_load_n(&st->schema, __ATOMIC_ACQUIRE)) {
        return GOBI_STORE_OK;
    }

    return gobi_store_mongodb_schema(st, cl);
}


static gobi_store_rc_e
gobi_store_mongodb_init_schema(gobi_store_t *st)
{
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_schema(st, cl);

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* users */


#define GOBI_MONGODB_NAME_KEY_LEN  (GOBI_USERNAME_MAX + 24)


/* the unique form of a user name: ASCII letters folded */

static void
gobi_store_mongodb_name_key(char *key, const char *name)
{
    size_t  i;

    for (i = 0; name[i] != '\0' && i < GOBI_USERNAME_MAX; i++) {
        key[i] = (name[i] >= 'A' && name[i] <= 'Z') ? name[i] | 0x20
                                                    : name[i];
    }

    key[i] = '\0';
}


typedef struct {
    char     key[GOBI_MONGODB_NAME_KEY_LEN];
    int64_t  id;
    int      lacking;
} gobi_store_mongodb_name_t;


static int
gobi_store_mongodb_key_cmp(const void *a, const void *b)
{
    int                               c;
    const gobi_store_mongodb_name_t  *x, *y;

    x = a;
    y = b;

    c = strcmp(x->key, y->key);
    if (c != 0) {
        return c;
    }

    return (x->id > y->id) - (x->id < y->id);
}


/*
 * Schema 2: every user has a username_key, unique.  Users made before it
 * get theirs here.  Names that then differed only in case all stay: the
 * oldest of them gets the plain key, the others "<key>#<id>" ('#' is never
 * in a name), so each still logs in by its exact spelling and the unique
 * index builds.  The keys follow from the users alone, so processes that
 * migrate at once (and a migration cut short, run again) agree.
 */

static gobi_store_rc_e
gobi_store_mongodb_migrate_users(gobi_store_t *st, mongoc_client_t *cl)
{
    size_t                      i, n, nalloc;
    bson_t                      filter, exists, opts, proj, sort, doc, upd;
    bson_t                      set;
    int64_t                     matched;
    const char                 *name;
    bson_error_t                err;
    const bson_t               *d;
    gobi_store_rc_e             rc;
    mongoc_cursor_t            *cur;
    mongoc_collection_t        *coll;
    gobi_store_mongodb_name_t  *names, *p;

    bson_init(&filter);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "username_key", &exists);
    BSON_APPEND_BOOL(&exists, "$exists", false);
    bson_append_document_end(&filter, &exists);
    rc = gobi_store_mongodb_find_one(st, cl, "users", &filter, NULL, 0,
                                     &doc);
    bson_destroy(&filter);

    if (rc != GOBI_STORE_OK) {
        return rc == GOBI_STORE_NOT_FOUND ? GOBI_STORE_OK : rc;
    }

    bson_destroy(&doc);

    /* every user, as the keys of the lacking ones depend on the others */

    names = NULL;
    n = 0;
    nalloc = 0;

    bson_init(&filter);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "username", 1);
    BSON_APPEND_INT32(&proj, "username_key", 1);
    bson_append_document_end(&opts, &proj);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(&opts, &sort);

    coll = mongoc_client_get_collection(cl, st->db, "users");
    cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);

    while (mongoc_cursor_next(cur, &d)) {
        name = gobi_store_mongodb_get_str(d, "username");
        if (name == NULL) {
            continue;
        }

        if (n == nalloc) {
            nalloc = nalloc ? nalloc * 2 : 256;
            p = realloc(names, nalloc * sizeof(gobi_store_mongodb_name_t));
            if (p == NULL) {
                gobi_store_mongodb_set_err("mongodb: out of memory");
                rc = GOBI_STORE_ERROR;
                break;
            }
            names = p;
        }

        gobi_store_mongodb_name_key(names[n].key, name);
        names[n].id = gobi_store_mongodb_get_int(d, "_id");
        names[n].lacking = !bson_has_field(d, "username_key");
        n++;
    }

    if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("users", &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);
    bson_destroy(&filter);

    if (rc == GOBI_STORE_OK && n > 0) {
        qsort(names, n, sizeof(gobi_store_mongodb_name_t),
              gobi_store_mongodb_key_cmp);
    }

    for (i = 0; rc == GOBI_STORE_OK && i < n; i++) {
        if (i > 0 && strcmp(names[i].key, names[i - 1].key) == 0) {
            snprintf(names[i].key + strlen(names[i].key),
                     GOBI_MONGODB_NAME_KEY_LEN - strlen(names[i].key),
                     "#%lld", (long long) names[i].id);
        }

        if (!names[i].lacking) {
            continue;
        }

        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "_id", names[i].id);
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "username_key", &exists);
        BSON_APPEND_BOOL(&exists, "$exists", false);
        bson_append_document_end(&filter, &exists);
        bson_init(&upd);
        BSON_APPEND_DOCUMENT_BEGIN(&upd, "$set", &set);
        BSON_APPEND_UTF8(&set, "username_key", names[i].key);
        bson_append_document_end(&upd, &set);

        rc = gobi_store_mongodb_update(st, cl, "users", &filter, &upd, 0,
                                       &matched);
        bson_destroy(&upd);
        bson_destroy(&filter);
    }

    free(names);

    return rc;
}


static void
gobi_store_mongodb_user_from(const bson_t *doc, gobi_user_t *u)
{
    u->id = gobi_store_mongodb_get_int(doc, "_id");
    gobi_store_mongodb_copy(u->username, sizeof(u->username),
                            gobi_store_mongodb_get_str(doc, "username"));
    gobi_store_mongodb_copy(u->pwhash, sizeof(u->pwhash),
                            gobi_store_mongodb_get_str(doc, "pwhash"));
}


static gobi_store_rc_e
gobi_store_mongodb_user_find(gobi_store_t *st, mongoc_client_t *cl,
    const bson_t *filter, void *out)
{
    bson_t           doc;
    gobi_store_rc_e  rc;

    rc = gobi_store_mongodb_find_one(st, cl, "users", filter, NULL, 1, &doc);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    if (out != NULL) {
        gobi_store_mongodb_user_from(&doc, out);
    }

    bson_destroy(&doc);

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_user_create(gobi_store_t *st, const char *username,
    const char *pwhash, int64_t now, gobi_user_t *out)
{
    char              key[GOBI_MONGODB_NAME_KEY_LEN];
    bson_t            filter, fields;
    int64_t           id;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_need_schema(st, cl);
    if (rc != GOBI_STORE_OK) {
        mongoc_client_pool_push(st->pool, cl);
        return rc;
    }

    gobi_store_mongodb_name_key(key, username);

    /* the unique username_key index settles a race of two spellings */
    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "username_key", key);
    bson_init(&fields);
    BSON_APPEND_UTF8(&fields, "username", username);
    BSON_APPEND_UTF8(&fields, "username_key", key);
    BSON_APPEND_UTF8(&fields, "pwhash", pwhash);
    BSON_APPEND_INT64(&fields, "created_at", now);

    rc = gobi_store_mongodb_create(st, cl, "users", &filter, 1, &fields,
                                   &id);

    if (rc == GOBI_STORE_OK && out != NULL) {
        out->id = id;
        gobi_store_mongodb_copy(out->username, sizeof(out->username),
                                username);
        gobi_store_mongodb_copy(out->pwhash, sizeof(out->pwhash), pwhash);
    }

    bson_destroy(&fields);
    bson_destroy(&filter);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_user_get(gobi_store_t *st, const char *username,
    gobi_user_t *out)
{
    char             key[GOBI_MONGODB_NAME_KEY_LEN];
    bson_t           filter;
    gobi_store_rc_e  rc;

    /* the exact spelling first: it wins over a legacy case twin */

    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "username", username);
    rc = gobi_store_mongodb_get(st, gobi_store_mongodb_user_find, &filter,
                                out);
    bson_destroy(&filter);

    if (rc != GOBI_STORE_NOT_FOUND) {
        return rc;
    }

    gobi_store_mongodb_name_key(key, username);

    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "username_key", key);
    rc = gobi_store_mongodb_get(st, gobi_store_mongodb_user_find, &filter,
                                out);
    bson_destroy(&filter);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_user_get_by_id(gobi_store_t *st, int64_t id,
    gobi_user_t *out)
{
    bson_t           filter;
    gobi_store_rc_e  rc;

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", id);
    rc = gobi_store_mongodb_get(st, gobi_store_mongodb_user_find, &filter,
                                out);
    bson_destroy(&filter);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_user_set_password(gobi_store_t *st, int64_t id,
    const char *pwhash)
{
    bson_t            filter, upd, set;
    int64_t           matched;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", id);
    bson_init(&upd);
    BSON_APPEND_DOCUMENT_BEGIN(&upd, "$set", &set);
    BSON_APPEND_UTF8(&set, "pwhash", pwhash);
    bson_append_document_end(&upd, &set);

    matched = 0;
    rc = gobi_store_mongodb_update(st, cl, "users", &filter, &upd, 0,
                                   &matched);
    if (rc == GOBI_STORE_OK && matched == 0) {
        rc = GOBI_STORE_NOT_FOUND;
    }

    bson_destroy(&upd);
    bson_destroy(&filter);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/*
 * The user document goes last: a failure half way leaves a user that can
 * log in and delete again, never records without an owner that nobody
 * can reach.
 */

static gobi_store_rc_e
gobi_store_mongodb_user_delete(gobi_store_t *st, int64_t id)
{
    bson_t                filter, opts, proj, vf;
    int64_t               vault;
    bson_error_t          err;
    const bson_t         *doc;
    gobi_store_rc_e       rc;
    mongoc_cursor_t      *cur;
    mongoc_client_t      *cl;
    mongoc_collection_t  *coll;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = GOBI_STORE_OK;

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "owner", id);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "_id", 1);
    bson_append_document_end(&opts, &proj);

    coll = mongoc_client_get_collection(cl, st->db, "vaults");
    cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);

    while (rc == GOBI_STORE_OK && mongoc_cursor_next(cur, &doc)) {
        vault = gobi_store_mongodb_get_int(doc, "_id");

        bson_init(&vf);
        BSON_APPEND_INT64(&vf, "_id", vault);
        rc = gobi_store_mongodb_delete(st, cl, "vault_keys", &vf, NULL);
        bson_destroy(&vf);

        if (rc != GOBI_STORE_OK) {
            break;
        }

        bson_init(&vf);
        BSON_APPEND_INT64(&vf, "vault", vault);
        rc = gobi_store_mongodb_delete(st, cl, "files", &vf, NULL);
        if (rc == GOBI_STORE_OK) {
            rc = gobi_store_mongodb_delete(st, cl, "events", &vf, NULL);
        }
        if (rc == GOBI_STORE_OK) {
            rc = gobi_store_mongodb_delete(st, cl, "versions", &vf, NULL);
        }
        bson_destroy(&vf);
    }

    if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("vaults", &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);

    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_delete(st, cl, "vaults", &filter, NULL);
    }

    bson_destroy(&filter);

    if (rc == GOBI_STORE_OK) {
        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "user", id);
        rc = gobi_store_mongodb_delete(st, cl, "tokens", &filter, NULL);
        bson_destroy(&filter);
    }

    if (rc == GOBI_STORE_OK) {
        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "_id", id);
        rc = gobi_store_mongodb_remove(st, cl, "users", &filter);
        bson_destroy(&filter);
    }

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* tokens */


static gobi_store_rc_e
gobi_store_mongodb_token_create(gobi_store_t *st, const char *token_hash,
    int64_t user_id, int64_t now, int64_t expires_at)
{
    bson_t            doc, filter, range;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&doc);
    BSON_APPEND_UTF8(&doc, "_id", token_hash);
    BSON_APPEND_INT64(&doc, "user", user_id);
    BSON_APPEND_INT64(&doc, "created_at", now);
    BSON_APPEND_INT64(&doc, "expires_at", expires_at);
    rc = gobi_store_mongodb_insert(st, cl, "tokens", &doc);
    bson_destroy(&doc);

    if (rc == GOBI_STORE_OK) {
        /* the user's expired tokens go as a new one comes */
        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "user", user_id);
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "expires_at", &range);
        BSON_APPEND_INT64(&range, "$lte", now);
        bson_append_document_end(&filter, &range);
        (void) gobi_store_mongodb_delete(st, cl, "tokens", &filter, NULL);
        bson_destroy(&filter);
    }

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_token_get(gobi_store_t *st, const char *token_hash,
    int64_t now, gobi_user_t *out, int64_t *expires_at)
{
    bson_t            filter, doc;
    int64_t           exp, user;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_find_key(st, cl, "tokens", token_hash, 1, &doc);
    if (rc != GOBI_STORE_OK) {
        goto done;
    }

    exp = gobi_store_mongodb_get_int(&doc, "expires_at");
    user = gobi_store_mongodb_get_int(&doc, "user");
    bson_destroy(&doc);

    if (exp <= now) {
        rc = GOBI_STORE_NOT_FOUND;
        goto done;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", user);
    rc = gobi_store_mongodb_user_find(st, cl, &filter, out);
    bson_destroy(&filter);

    if (rc == GOBI_STORE_OK && expires_at != NULL) {
        *expires_at = exp;
    }

done:

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_token_delete(gobi_store_t *st, const char *token_hash)
{
    bson_t            filter;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "_id", token_hash);
    rc = gobi_store_mongodb_remove(st, cl, "tokens", &filter);
    bson_destroy(&filter);

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_token_delete_user(gobi_store_t *st, int64_t user_id,
    const char *keep_hash, int64_t *removed)
{
    bson_t            filter, ne;
    int64_t           n;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "user", user_id);
    if (keep_hash != NULL) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &ne);
        BSON_APPEND_UTF8(&ne, "$ne", keep_hash);
        bson_append_document_end(&filter, &ne);
    }

    n = 0;
    rc = gobi_store_mongodb_delete(st, cl, "tokens", &filter, &n);
    bson_destroy(&filter);

    if (removed != NULL) {
        *removed = n;
    }

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_tokens_prune(gobi_store_t *st, int64_t now,
    int64_t *removed)
{
    bson_t            filter, range;
    int64_t           n;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "expires_at", &range);
    BSON_APPEND_INT64(&range, "$lte", now);
    bson_append_document_end(&filter, &range);

    n = 0;
    rc = gobi_store_mongodb_delete(st, cl, "tokens", &filter, &n);
    bson_destroy(&filter);

    if (removed != NULL) {
        *removed = n;
    }

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* vaults */


static void
gobi_store_mongodb_event_key(char *buf, int64_t vault, int64_t seq)
{
    snprintf(buf, GOBI_MONGODB_KEY_LEN, "%lld:%lld", (long long) vault,
             (long long) seq);
}


/* the event with a seq, by _id, as find_one */

static gobi_store_rc_e
gobi_store_mongodb_find_event(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, int64_t seq, int majority, bson_t *out)
{
    char  key[GOBI_MONGODB_KEY_LEN];

    gobi_store_mongodb_event_key(key, vault, seq);

    return gobi_store_mongodb_find_key(st, cl, "events", key, majority, out);
}


/* the applied head and the prune floor of a vault; NOT_FOUND without it */

static gobi_store_rc_e
gobi_store_mongodb_vault_heads(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, int majority, int64_t *applied, int64_t *pruned)
{
    bson_t           filter, doc;
    gobi_store_rc_e  rc;

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", vault);
    rc = gobi_store_mongodb_find_one(st, cl, "vaults", &filter, NULL,
                                     majority, &doc);
    bson_destroy(&filter);

    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    *applied = gobi_store_mongodb_get_int(&doc, "head_seq");
    if (pruned != NULL) {
        *pruned = gobi_store_mongodb_get_int(&doc, "pruned_seq");
    }

    bson_destroy(&doc);

    return GOBI_STORE_OK;
}


/*
 * The log's head.  The events above the applied head are contiguous (a
 * seq is only ever taken as head + 1, pruning stays below the applied
 * head), so they are found one by one by _id, a point lookup on any
 * server, until the first missing seq.  The handler, if any, sees each.
 */

static gobi_store_rc_e
gobi_store_mongodb_probe(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, int64_t from, int majority,
    gobi_store_mongodb_probe_pt handler, void *data, int64_t *head)
{
    bson_t           doc;
    int64_t          seq;
    gobi_event_t     ev;
    gobi_store_rc_e  rc;

    seq = from;

    for ( ;; ) {
        rc = gobi_store_mongodb_find_event(st, cl, vault, seq + 1, majority,
                                           &doc);
        if (rc == GOBI_STORE_NOT_FOUND) {
            break;
        }

        if (rc != GOBI_STORE_OK) {
            return rc;
        }

        seq++;

        if (handler != NULL && gobi_store_mongodb_event_from(&doc, &ev)) {
            rc = handler(data, &doc, &ev);
        }

        bson_destroy(&doc);

        if (rc != GOBI_STORE_OK) {
            return rc;
        }
    }

    *head = seq;

    return GOBI_STORE_OK;
}


/* head_seq: the log's head; oldest_seq: the oldest kept event */

static gobi_store_rc_e
gobi_store_mongodb_vault_fill(gobi_store_t *st, mongoc_client_t *cl,
    const bson_t *doc, gobi_vault_t *v)
{
    int64_t          applied, pruned, head;
    gobi_store_rc_e  rc;

    v->id = gobi_store_mongodb_get_int(doc, "_id");
    v->owner = gobi_store_mongodb_get_int(doc, "owner");
    gobi_store_mongodb_copy(v->name, sizeof(v->name),
                            gobi_store_mongodb_get_str(doc, "name"));
    v->created_at = gobi_store_mongodb_get_int(doc, "created_at");
    v->strategy = (int) gobi_store_mongodb_get_int(doc, "strategy");
    applied = gobi_store_mongodb_get_int(doc, "head_seq");
    pruned = gobi_store_mongodb_get_int(doc, "pruned_seq");

    rc = gobi_store_mongodb_probe(st, cl, v->id, applied, 1, NULL, NULL,
                                  &head);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    v->head_seq = head;
    v->oldest_seq = head > 0 ? pruned + 1 : 0;

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_find(gobi_store_t *st, mongoc_client_t *cl,
    const bson_t *filter, void *out)
{
    bson_t           doc;
    gobi_vault_t     v;
    gobi_store_rc_e  rc;

    rc = gobi_store_mongodb_find_one(st, cl, "vaults", filter, NULL, 1,
                                     &doc);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    rc = gobi_store_mongodb_vault_fill(st, cl, &doc, out != NULL ? out : &v);
    bson_destroy(&doc);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_create(gobi_store_t *st, int64_t owner,
    const char *name, int64_t now, gobi_vault_t *out)
{
    bson_t            filter, fields;
    int64_t           id;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_need_schema(st, cl);
    if (rc != GOBI_STORE_OK) {
        mongoc_client_pool_push(st->pool, cl);
        return rc;
    }

    /* a vault of a user that does not exist: NOT_FOUND */
    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", owner);
    rc = gobi_store_mongodb_user_find(st, cl, &filter, NULL);
    bson_destroy(&filter);

    if (rc != GOBI_STORE_OK) {
        mongoc_client_pool_push(st->pool, cl);
        return rc;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "owner", owner);
    BSON_APPEND_UTF8(&filter, "name", name);
    bson_init(&fields);
    BSON_APPEND_INT64(&fields, "owner", owner);
    BSON_APPEND_UTF8(&fields, "name", name);
    BSON_APPEND_INT64(&fields, "created_at", now);
    BSON_APPEND_INT64(&fields, "head_seq", 0);
    BSON_APPEND_INT64(&fields, "pruned_seq", 0);
    BSON_APPEND_INT32(&fields, "strategy", 0);
    /* its versions are written from the start: nothing to backfill */
    BSON_APPEND_BOOL(&fields, "history", true);

    rc = gobi_store_mongodb_create(st, cl, "vaults", &filter, 0, &fields,
                                   &id);

    if (rc == GOBI_STORE_OK && out != NULL) {
        out->id = id;
        out->owner = owner;
        gobi_store_mongodb_copy(out->name, sizeof(out->name), name);
        out->created_at = now;
        out->head_seq = 0;
        out->oldest_seq = 0;
        out->strategy = 0;
    }

    bson_destroy(&fields);
    bson_destroy(&filter);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_get(gobi_store_t *st, int64_t owner,
    const char *name, gobi_vault_t *out)
{
    bson_t           filter;
    gobi_store_rc_e  rc;

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "owner", owner);
    BSON_APPEND_UTF8(&filter, "name", name);
    rc = gobi_store_mongodb_get(st, gobi_store_mongodb_vault_find, &filter,
                                out);
    bson_destroy(&filter);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_get_by_id(gobi_store_t *st, int64_t id,
    gobi_vault_t *out)
{
    bson_t           filter;
    gobi_store_rc_e  rc;

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", id);
    rc = gobi_store_mongodb_get(st, gobi_store_mongodb_vault_find, &filter,
                                out);
    bson_destroy(&filter);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_list(gobi_store_t *st, int64_t owner,
    gobi_vault_cb cb, void *data)
{
    bson_t                filter, opts, sort;
    bson_error_t          err;
    gobi_vault_t          v;
    const bson_t         *doc;
    gobi_store_rc_e       rc;
    mongoc_cursor_t      *cur;
    mongoc_client_t      *cl;
    mongoc_collection_t  *c;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "owner", owner);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "name", 1);
    bson_append_document_end(&opts, &sort);
    gobi_store_mongodb_read_opts(st, &opts, 1);

    c = mongoc_client_get_collection(cl, st->db, "vaults");
    cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);

    rc = GOBI_STORE_OK;

    while (mongoc_cursor_next(cur, &doc)) {
        rc = gobi_store_mongodb_vault_fill(st, cl, doc, &v);
        if (rc != GOBI_STORE_OK) {
            break;
        }

        if (cb(data, &v) != 0) {
            break;
        }
    }

    if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("vaults", &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    bson_destroy(&opts);
    bson_destroy(&filter);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/*
 * The vault document goes first, so the vault is gone for every reader at
 * once; its files, events and versions follow.  Ids are never reused, so
 * leftovers of a crash in between are harmless: events_prune removes the
 * events and files, versions_prune the versions.
 */

static gobi_store_rc_e
gobi_store_mongodb_vault_delete(gobi_store_t *st, int64_t vault_id)
{
    bson_t            filter;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", vault_id);
    rc = gobi_store_mongodb_remove(st, cl, "vaults", &filter);
    bson_destroy(&filter);

    /* its key next: the vault's content cannot be read from then on */
    if (rc == GOBI_STORE_OK) {
        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "_id", vault_id);
        rc = gobi_store_mongodb_delete(st, cl, "vault_keys", &filter, NULL);
        bson_destroy(&filter);
    }

    if (rc == GOBI_STORE_OK) {
        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "vault", vault_id);
        rc = gobi_store_mongodb_delete(st, cl, "files", &filter, NULL);
        if (rc == GOBI_STORE_OK) {
            rc = gobi_store_mongodb_delete(st, cl, "events", &filter, NULL);
        }
        if (rc == GOBI_STORE_OK) {
            rc = gobi_store_mongodb_delete(st, cl, "versions", &filter,
                                           NULL);
        }
        bson_destroy(&filter);
    }

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_set_strategy(gobi_store_t *st, int64_t vault_id,
    int strategy)
{
    bson_t            filter, upd, set;
    int64_t           matched;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", vault_id);
    bson_init(&upd);
    BSON_APPEND_DOCUMENT_BEGIN(&upd, "$set", &set);
    BSON_APPEND_INT32(&set, "strategy", strategy);
    bson_append_document_end(&upd, &set);

    matched = 0;
    rc = gobi_store_mongodb_update(st, cl, "vaults", &filter, &upd, 0,
                                   &matched);
    if (rc == GOBI_STORE_OK && matched == 0) {
        rc = GOBI_STORE_NOT_FOUND;
    }

    bson_destroy(&upd);
    bson_destroy(&filter);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* files and events */


/* strings of ev point into doc; returns 0 on a malformed event */

static int
gobi_store_mongodb_event_from(const bson_t *doc, gobi_event_t *ev)
{
    const char  *s;

    ev->seq = gobi_store_mongodb_get_int(doc, "seq");
    ev->version = ev->seq;
    s = gobi_store_mongodb_get_str(doc, "type");
    ev->type = s != NULL ? gobi_event_type_parse(s) : GOBI_EV_NONE;
    ev->path = gobi_store_mongodb_get_str(doc, "path");
    ev->from = gobi_store_mongodb_get_str(doc, "from");
    gobi_store_mongodb_copy(ev->hash, sizeof(ev->hash),
                            gobi_store_mongodb_get_str(doc, "hash"));
    ev->size = gobi_store_mongodb_get_int(doc, "size");
    ev->mtime = gobi_store_mongodb_get_int(doc, "mtime");
    ev->device = gobi_store_mongodb_get_str(doc, "device");
    ev->ts = gobi_store_mongodb_get_int(doc, "ts");

    if (ev->type != GOBI_EV_RENAME) {
        ev->from = NULL;
    }

    return ev->type != GOBI_EV_NONE && ev->path != NULL
           && (ev->type != GOBI_EV_RENAME || ev->from != NULL);
}


/* does the event change `path`? */

/* the state of `path` right after event ev (see gobi_event_apply()) */

static void
gobi_store_mongodb_event_state(const gobi_event_t *ev, const char *path,
    gobi_store_mongodb_state_t *s)
{
    gobi_file_t  f;

    gobi_event_apply(ev, path, &f);

    s->exists = 1;
    s->version = f.version;
    memcpy(s->hash, f.hash, sizeof(s->hash));
    s->size = f.size;
    s->mtime = f.mtime;
    s->deleted = f.deleted;
}


static void
gobi_store_mongodb_record_state(const bson_t *doc,
    gobi_store_mongodb_state_t *s)
{
    bson_iter_t  it;

    s->exists = 1;
    s->version = gobi_store_mongodb_get_int(doc, "version");
    gobi_store_mongodb_copy(s->hash, sizeof(s->hash),
                            gobi_store_mongodb_get_str(doc, "hash"));
    s->size = gobi_store_mongodb_get_int(doc, "size");
    s->mtime = gobi_store_mongodb_get_int(doc, "mtime");
    s->deleted = bson_iter_init_find(&it, doc, "deleted")
                 && bson_iter_as_bool(&it);
}


static void
gobi_store_mongodb_to_file(const gobi_store_mongodb_state_t *s,
    const char *path, gobi_file_t *f)
{
    f->path = path;
    f->version = s->version;
    memcpy(f->hash, s->hash, sizeof(f->hash));
    f->size = s->size;
    f->mtime = s->mtime;
    f->deleted = s->exists ? s->deleted : 1;
}


/* the file record of a path, by _id ("<vault>:<path>"); !exists if none */

static gobi_store_rc_e
gobi_store_mongodb_record(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, const char *path, int majority,
    gobi_store_mongodb_state_t *s)
{
    char            *key;
    bson_t           doc;
    gobi_store_rc_e  rc;

    memset(s, 0, sizeof(gobi_store_mongodb_state_t));

    key = bson_strdup_printf("%lld:%s", (long long) vault, path);

    rc = gobi_store_mongodb_find_key(st, cl, "files", key, majority, &doc);
    bson_free(key);

    if (rc == GOBI_STORE_OK) {
        gobi_store_mongodb_record_state(&doc, s);
        bson_destroy(&doc);
        return GOBI_STORE_OK;
    }

    return rc == GOBI_STORE_NOT_FOUND ? GOBI_STORE_OK : rc;
}


/*
 * Set a file record to a state, unless it is at that version or newer.
 * On MongoDB the guard is part of the update's filter: atomic.  The upsert
 * inserts a missing record; if another writer inserted it first (duplicate
 * key), the plain guarded update decides.  On FerretDB (see
 * gobi_store_mongodb_detect) the guard is checked on the record read by
 * _id, and the update names the _id only.
 */

static gobi_store_rc_e
gobi_store_mongodb_apply_path(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, const char *path, const gobi_store_mongodb_state_t *s)
{
    char                        *key;
    bson_t                       filter, range, update, set;
    gobi_store_rc_e              rc;
    gobi_store_mongodb_state_t   cur;

    if (gobi_store_mongodb_ferretdb(st)) {
        rc = gobi_store_mongodb_record(st, cl, vault, path, 0, &cur);
        if (rc != GOBI_STORE_OK || (cur.exists && cur.version >= s->version))
        {
            return rc;
        }
    }

    key = bson_strdup_printf("%lld:%s", (long long) vault, path);

    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "_id", key);
    if (!gobi_store_mongodb_ferretdb(st)) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "version", &range);
        BSON_APPEND_INT64(&range, "$lt", s->version);
        bson_append_document_end(&filter, &range);
    }

    bson_init(&update);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_INT64(&set, "vault", vault);
    BSON_APPEND_UTF8(&set, "path", path);
    BSON_APPEND_INT64(&set, "version", s->version);
    BSON_APPEND_UTF8(&set, "hash", s->hash);
    BSON_APPEND_INT64(&set, "size", s->size);
    BSON_APPEND_INT64(&set, "mtime", s->mtime);
    BSON_APPEND_BOOL(&set, "deleted", s->deleted ? true : false);
    bson_append_document_end(&update, &set);

    rc = gobi_store_mongodb_update(st, cl, "files", &filter, &update, 1,
                                   NULL);
    if (rc == GOBI_STORE_EXISTS) {
        rc = gobi_store_mongodb_update(st, cl, "files", &filter, &update, 0,
                                       NULL);
    }

    bson_destroy(&update);
    bson_destroy(&filter);
    bson_free(key);

    return rc;
}


/*
 * Version records: {_id: "<vault>:<path>:<seq, 19 digits>", vault, path,
 * version, hash, size, mtime, ts, device, deleted, moved}.  The _id makes
 * the record of a (vault, path, seq) a point lookup on every server
 * (version_get, the upsert of apply, the backfill's insert-or-ignore, the
 * deletes of versions_prune); it is unambiguous, as the seq has no ':'.
 * Listings do not use _id ranges (a path may itself end in ":<digits>",
 * which would fall inside another path's range): they filter on the
 * fields, by the vault_1_path_1_version_1 index on MongoDB, by a scan on
 * FerretDB v1, as file_list does.  The padding keeps a path's records in
 * seq order by _id for whoever reads the collection by hand.
 */

static char *
gobi_store_mongodb_version_key(int64_t vault, const char *path,
    int64_t seq)
{
    return bson_strdup_printf("%lld:%s:%019lld", (long long) vault, path,
                              (long long) seq);
}


static void
gobi_store_mongodb_version_fields(bson_t *doc, int64_t vault,
    const char *path, const gobi_version_t *v)
{
    BSON_APPEND_INT64(doc, "vault", vault);
    BSON_APPEND_UTF8(doc, "path", path);
    BSON_APPEND_INT64(doc, "version", v->version);
    BSON_APPEND_UTF8(doc, "hash", v->hash);
    BSON_APPEND_INT64(doc, "size", v->size);
    BSON_APPEND_INT64(doc, "mtime", v->mtime);
    BSON_APPEND_INT64(doc, "ts", v->ts);
    if (v->device[0] != '\0') {
        BSON_APPEND_UTF8(doc, "device", v->device);
    }
    BSON_APPEND_BOOL(doc, "deleted", v->deleted ? true : false);
    BSON_APPEND_BOOL(doc, "moved", v->moved ? true : false);
}


static void
gobi_store_mongodb_version_from(const bson_t *doc, gobi_version_t *v)
{
    bson_iter_t  it;

    memset(v, 0, sizeof(gobi_version_t));

    v->version = gobi_store_mongodb_get_int(doc, "version");
    gobi_store_mongodb_copy(v->hash, sizeof(v->hash),
                            gobi_store_mongodb_get_str(doc, "hash"));
    v->size = gobi_store_mongodb_get_int(doc, "size");
    v->mtime = gobi_store_mongodb_get_int(doc, "mtime");
    v->ts = gobi_store_mongodb_get_int(doc, "ts");
    gobi_store_mongodb_copy(v->device, sizeof(v->device),
                            gobi_store_mongodb_get_str(doc, "device"));
    v->deleted = bson_iter_init_find(&it, doc, "deleted")
                 && bson_iter_as_bool(&it);
    v->moved = bson_iter_init_find(&it, doc, "moved")
               && bson_iter_as_bool(&it);
}


/*
 * The version ev made of path, as an upsert by _id: the record follows
 * from the event alone, so writing it again (a replay, a takeover, two
 * writers replaying at once) writes the same record.  A duplicate key
 * (two upserts inserting at once) is settled by the plain update; it also
 * overwrites what the backfill guessed from a file record.
 */

static gobi_store_rc_e
gobi_store_mongodb_version_put(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, const gobi_event_t *ev, const char *path)
{
    char            *key;
    bson_t           filter, update, set;
    gobi_version_t   v;
    gobi_store_rc_e  rc;

    gobi_version_of_event(ev, path, &v);

    key = gobi_store_mongodb_version_key(vault, path, v.version);

    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "_id", key);

    bson_init(&update);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    gobi_store_mongodb_version_fields(&set, vault, path, &v);
    bson_append_document_end(&update, &set);

    rc = gobi_store_mongodb_update(st, cl, "versions", &filter, &update, 1,
                                   NULL);
    if (rc == GOBI_STORE_EXISTS) {
        rc = gobi_store_mongodb_update(st, cl, "versions", &filter, &update,
                                       0, NULL);
    }

    bson_destroy(&update);
    bson_destroy(&filter);
    bson_free(key);

    return rc;
}


/*
 * Apply one event: for each path it touches, the version record, then
 * the file record.  Both are idempotent, and the applied head is raised
 * only after the event is applied whole, so a crash anywhere in between
 * leaves the event in the backlog, and the replay by the next writer
 * (gobi_store_mongodb_replay) writes whatever is missing: no version is
 * lost.  The version record is written even when the file record's guard
 * finds the record applied already (a replay after a crash between the
 * two).
 */

static gobi_store_rc_e
gobi_store_mongodb_apply_event(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, const gobi_event_t *ev)
{
    gobi_store_rc_e             rc;
    gobi_store_mongodb_state_t  s;

    if (ev->type == GOBI_EV_RENAME) {
        rc = gobi_store_mongodb_version_put(st, cl, vault, ev, ev->from);
        if (rc != GOBI_STORE_OK) {
            return rc;
        }

        gobi_store_mongodb_event_state(ev, ev->from, &s);
        rc = gobi_store_mongodb_apply_path(st, cl, vault, ev->from, &s);
        if (rc != GOBI_STORE_OK) {
            return rc;
        }
    }

    rc = gobi_store_mongodb_version_put(st, cl, vault, ev, ev->path);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    gobi_store_mongodb_event_state(ev, ev->path, &s);

    return gobi_store_mongodb_apply_path(st, cl, vault, ev->path, &s);
}


static gobi_store_rc_e
gobi_store_mongodb_raise(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, const char *field, int64_t seq)
{
    bson_t           filter, range, update, set;
    gobi_store_rc_e  rc;

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", vault);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, field, &range);
    BSON_APPEND_INT64(&range, "$lt", seq);
    bson_append_document_end(&filter, &range);

    bson_init(&update);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_INT64(&set, field, seq);
    bson_append_document_end(&update, &set);

    rc = gobi_store_mongodb_update(st, cl, "vaults", &filter, &update, 0,
                                   NULL);

    bson_destroy(&update);
    bson_destroy(&filter);

    return rc;
}


/* apply the events (from, to] in order, then raise the applied head */

static gobi_store_rc_e
gobi_store_mongodb_replay(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, int64_t from, int64_t to)
{
    bson_t           doc;
    int64_t          seq;
    gobi_event_t     ev;
    gobi_store_rc_e  rc;

    for (seq = from + 1; seq <= to; seq++) {
        rc = gobi_store_mongodb_find_event(st, cl, vault, seq, 0, &doc);
        if (rc != GOBI_STORE_OK) {
            return rc;
        }

        if (gobi_store_mongodb_event_from(&doc, &ev)) {
            rc = gobi_store_mongodb_apply_event(st, cl, vault, &ev);
        }

        bson_destroy(&doc);

        if (rc != GOBI_STORE_OK) {
            return rc;
        }
    }

    return gobi_store_mongodb_raise(st, cl, vault, "head_seq", to);
}


/*
 * Step 5 of a write (see the top of the file): wait until the events
 * before ours are applied, apply ours and raise the applied head; take
 * over the backlog when its writer does not get there in time.
 */

static gobi_store_rc_e
gobi_store_mongodb_settle(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, const gobi_event_t *own, int64_t now)
{
    int              delay, waited;
    int64_t          applied, seq, ts;
    bson_t           doc;
    gobi_store_rc_e  rc;

    seq = own->seq;
    waited = 0;
    delay = 1;

    for ( ;; ) {
        rc = gobi_store_mongodb_vault_heads(st, cl, vault, 0, &applied,
                                            NULL);
        if (rc != GOBI_STORE_OK) {
            return rc;
        }

        if (applied >= seq) {
            /* somebody took over and applied ours too */
            return GOBI_STORE_OK;
        }

        if (applied == seq - 1) {
            rc = gobi_store_mongodb_apply_event(st, cl, vault, own);
            if (rc != GOBI_STORE_OK) {
                return rc;
            }

            return gobi_store_mongodb_raise(st, cl, vault, "head_seq", seq);
        }

        if (waited == 0) {
            /* an old backlog is a crash's leftover: no use waiting */
            rc = gobi_store_mongodb_find_event(st, cl, vault, applied + 1, 0,
                                               &doc);
            if (rc == GOBI_STORE_OK) {
                ts = gobi_store_mongodb_get_int(&doc, "ts");
                bson_destroy(&doc);

                if (ts + GOBI_MONGODB_APPLY_WAIT_MS < now) {
                    break;
                }

            } else if (rc != GOBI_STORE_NOT_FOUND) {
                return rc;
            }
        }

        if (waited >= GOBI_MONGODB_APPLY_WAIT_MS) {
            break;
        }

        gobi_store_mongodb_sleep_ms(delay);
        waited += delay;
        delay = delay * 2 > 20 ? 20 : delay * 2;
    }

    return gobi_store_mongodb_replay(st, cl, vault, applied, seq);
}


/* a write's view of the backlog: fold newer events into the path states */

typedef struct {
    const gobi_write_t          *w;
    gobi_store_mongodb_state_t  *target;
    gobi_store_mongodb_state_t  *source;
    const bson_oid_t            *op;
    int64_t                      own;
} gobi_store_mongodb_fold_t;


static gobi_store_rc_e
gobi_store_mongodb_fold(void *data, const bson_t *doc,
    const gobi_event_t *ev)
{
    bson_iter_t                 it;
    gobi_store_mongodb_fold_t  *f;

    f = data;

    if (bson_iter_init_find(&it, doc, "op") && BSON_ITER_HOLDS_OID(&it)
        && bson_oid_equal(bson_iter_oid(&it), f->op))
    {
        f->own = ev->seq;
    }

    if (ev->seq > f->target->version
        && gobi_event_touches(ev, f->w->path))
    {
        gobi_store_mongodb_event_state(ev, f->w->path, f->target);
    }

    if (f->w->type == GOBI_EV_RENAME && ev->seq > f->source->version
        && gobi_event_touches(ev, f->w->from))
    {
        gobi_store_mongodb_event_state(ev, f->w->from, f->source);
    }

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_write_locked(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, const gobi_write_t *w, gobi_event_t *ev,
    gobi_file_t *current)
{
    int                          attempt;
    char                         key[GOBI_MONGODB_KEY_LEN];
    bson_t                       doc;
    int64_t                      applied, head;
    bson_oid_t                   op;
    gobi_file_t                  tf, sf;
    gobi_write_t                 wn;
    gobi_store_rc_e              rc;
    gobi_write_rc_e              wrc;
    gobi_store_mongodb_fold_t    fold;
    gobi_store_mongodb_state_t   target, source;

    wn = *w;

    if (wn.now == 0) {
        wn.now = gobi_store_mongodb_now();
    }

    gobi_store_mongodb_detect(st, cl);

    /*
     * 1, 2: the applied head, then the records (they reflect at least
     * the applied head), then the backlog folded in by the probe.
     */

    rc = gobi_store_mongodb_vault_heads(st, cl, vault, 0, &applied, NULL);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    rc = gobi_store_mongodb_record(st, cl, vault, w->path, 0, &target);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    memset(&source, 0, sizeof(gobi_store_mongodb_state_t));

    if (w->type == GOBI_EV_RENAME) {
        rc = gobi_store_mongodb_record(st, cl, vault, w->from, 0, &source);
        if (rc != GOBI_STORE_OK) {
            return rc;
        }
    }

    /* one id for all attempts: finds an insert that landed unreported */
    bson_oid_init(&op, NULL);

    fold.w = w;
    fold.target = &target;
    fold.source = &source;
    fold.op = &op;
    fold.own = 0;

    head = applied;

    for (attempt = 0; attempt < GOBI_MONGODB_RETRIES; attempt++) {

        if (attempt > 2) {
            gobi_store_mongodb_backoff(attempt - 2);
        }

        rc = gobi_store_mongodb_probe(st, cl, vault, head, 0,
                                      gobi_store_mongodb_fold, &fold, &head);
        if (rc != GOBI_STORE_OK) {
            return rc;
        }

        if (fold.own != 0) {
            /* our insert of the previous attempt did land */
            ev->seq = fold.own;
            ev->version = fold.own;
            goto settle;
        }

        /* 3. the precondition, as of head */

        gobi_store_mongodb_to_file(&target, w->path, &tf);
        gobi_store_mongodb_to_file(&source, w->from, &sf);

        memset(ev, 0, sizeof(gobi_event_t));

        wrc = gobi_write_check(&wn, &tf, &sf, ev, current);
        if (wrc != GOBI_WRITE_OK) {
            return gobi_store_write_rc(wrc);
        }

        /* 4. the event with the next seq */

        ev->seq = head + 1;
        ev->version = ev->seq;

        gobi_store_mongodb_event_key(key, vault, ev->seq);

        bson_init(&doc);
        BSON_APPEND_UTF8(&doc, "_id", key);
        BSON_APPEND_INT64(&doc, "vault", vault);
        BSON_APPEND_INT64(&doc, "seq", ev->seq);
        BSON_APPEND_UTF8(&doc, "type", gobi_event_type_name(ev->type));
        BSON_APPEND_UTF8(&doc, "path", ev->path);
        if (ev->from != NULL) {
            BSON_APPEND_UTF8(&doc, "from", ev->from);
        }
        BSON_APPEND_UTF8(&doc, "hash", ev->hash);
        BSON_APPEND_INT64(&doc, "size", ev->size);
        BSON_APPEND_INT64(&doc, "mtime", ev->mtime);
        if (ev->device != NULL) {
            BSON_APPEND_UTF8(&doc, "device", ev->device);
        }
        BSON_APPEND_INT64(&doc, "ts", ev->ts);
        BSON_APPEND_OID(&doc, "op", &op);

        rc = gobi_store_mongodb_insert(st, cl, "events", &doc);
        bson_destroy(&doc);

        if (rc == GOBI_STORE_OK) {
            goto settle;
        }

        if (rc != GOBI_STORE_EXISTS) {
            return rc;
        }

        /* another writer took the seq: fold its event in, try the next */
    }

    gobi_store_mongodb_set_err("mongodb: too much contention for the next "
                               "seq of vault %lld", (long long) vault);

    return GOBI_STORE_UNAVAILABLE;

settle:

    /*
     * 5. the event is committed: the write has happened whatever follows.
     * A failure here leaves the event in the backlog, which readers
     * overlay and the next write applies.
     */

    (void) gobi_store_mongodb_settle(st, cl, vault, ev, wn.now);

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_write(gobi_store_t *st, int64_t vault,
    const gobi_write_t *w, gobi_event_t *ev, gobi_file_t *current)
{
    const char       *bad;
    gobi_store_rc_e   rc;
    gobi_file_t       cur0;
    gobi_event_t      ev0;
    mongoc_client_t  *cl;

    bad = gobi_write_invalid(w);
    if (bad != NULL) {
        gobi_store_mongodb_set_err("mongodb: write: %s", bad);
        return GOBI_STORE_ERROR;
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_write_locked(st, cl, vault, w,
                                         ev != NULL ? ev : &ev0,
                                         current != NULL ? current : &cur0);

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* a reader's view of the backlog: overlay newer events on one path */

typedef struct {
    const char                  *path;
    gobi_store_mongodb_state_t  *s;
} gobi_store_mongodb_overlay_t;


static gobi_store_rc_e
gobi_store_mongodb_overlay(void *data, const bson_t *doc,
    const gobi_event_t *ev)
{
    gobi_store_mongodb_overlay_t  *o;

    (void) doc;

    o = data;

    if (ev->seq > o->s->version && gobi_event_touches(ev, o->path)) {
        gobi_store_mongodb_event_state(ev, o->path, o->s);
    }

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_file_get(gobi_store_t *st, int64_t vault,
    const char *path, gobi_file_t *out)
{
    int64_t                        applied, head;
    gobi_store_rc_e                rc;
    mongoc_client_t               *cl;
    gobi_store_mongodb_state_t     s;
    gobi_store_mongodb_overlay_t   o;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_vault_heads(st, cl, vault, 1, &applied, NULL);

    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_record(st, cl, vault, path, 1, &s);
    }

    if (rc == GOBI_STORE_OK) {
        o.path = path;
        o.s = &s;
        rc = gobi_store_mongodb_probe(st, cl, vault, applied, 1,
                                      gobi_store_mongodb_overlay, &o, &head);
    }

    if (rc == GOBI_STORE_OK) {
        if (!s.exists) {
            rc = GOBI_STORE_NOT_FOUND;

        } else if (out != NULL) {
            gobi_store_mongodb_to_file(&s, path, out);
        }
    }

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static int
gobi_store_mongodb_list_push(gobi_store_mongodb_list_t *l, const char *path,
    const gobi_store_mongodb_state_t *s)
{
    size_t                       n;
    gobi_store_mongodb_entry_t  *e;

    if (l->nelts == l->nalloc) {
        n = l->nalloc ? l->nalloc * 2 : 64;
        e = realloc(l->elts, n * sizeof(gobi_store_mongodb_entry_t));
        if (e == NULL) {
            return -1;
        }
        l->elts = e;
        l->nalloc = n;
    }

    e = &l->elts[l->nelts];
    e->path = strdup(path);
    if (e->path == NULL) {
        return -1;
    }

    e->order = l->nelts;
    e->s = *s;
    l->nelts++;

    return 0;
}


static void
gobi_store_mongodb_list_free(gobi_store_mongodb_list_t *l)
{
    size_t  i;

    for (i = 0; i < l->nelts; i++) {
        free(l->elts[i].path);
    }

    free(l->elts);
}


/* by path, then by the order of the events (the newest last) */

static int
gobi_store_mongodb_entry_cmp(const void *a, const void *b)
{
    int                                c;
    const gobi_store_mongodb_entry_t  *x, *y;

    x = a;
    y = b;

    c = strcmp(x->path, y->path);
    if (c != 0) {
        return c;
    }

    return (x->order > y->order) - (x->order < y->order);
}


/* file_list's view of the backlog: the state of every path it touches */

static gobi_store_rc_e
gobi_store_mongodb_collect(void *data, const bson_t *doc,
    const gobi_event_t *ev)
{
    gobi_store_mongodb_list_t   *over;
    gobi_store_mongodb_state_t   s;

    (void) doc;

    over = data;

    gobi_store_mongodb_event_state(ev, ev->path, &s);
    if (gobi_store_mongodb_list_push(over, ev->path, &s) != 0) {
        goto nomem;
    }

    if (ev->from != NULL) {
        gobi_store_mongodb_event_state(ev, ev->from, &s);
        if (gobi_store_mongodb_list_push(over, ev->from, &s) != 0) {
            goto nomem;
        }
    }

    return GOBI_STORE_OK;

nomem:

    gobi_store_mongodb_set_err("mongodb: out of memory");

    return GOBI_STORE_ERROR;
}


/*
 * The manifest as of the log's head m, without a snapshot across the
 * cursor: the records are listed (and buffered) after reading the applied
 * head h, the backlog (h, m] is probed after the listing.  Every record
 * then reflects its last event <= h and maybe events in (h, m] (an event
 * is inserted before it is applied), never one above m.  Overlaying the
 * newest backlog event of every path the backlog touches gives exactly
 * the state as of m.
 *
 * A page: the records after the cursor are listed up to `fetch`; when the
 * listing is cut there, only paths up to its last one are known, so the
 * page ends there.  The backlog can hide listed records (deletes and
 * renames away); if that leaves fewer than `limit`, the page is listed
 * again with room for more (the backlog is short: a few writes in flight).
 */

typedef struct {
    const char                  *prefix;
    size_t                       plen;
    const char                  *after;
    int                          include_deleted;
    const char                  *bound;       /* NULL: the listing is whole */
    gobi_store_mongodb_list_t    list;
    gobi_store_mongodb_list_t    over;
} gobi_store_mongodb_page_t;


/* the page's entries in order, at most max (0: all); cb NULL counts */

static size_t
gobi_store_mongodb_merge(gobi_store_mongodb_page_t *pg, size_t max,
    gobi_file_cb cb, void *data)
{
    int                          c;
    size_t                       i, j, n;
    gobi_file_t                  f;
    gobi_store_mongodb_entry_t  *le, *oe, *e;

    i = 0;
    j = 0;
    n = 0;

    while ((i < pg->list.nelts || j < pg->over.nelts)
           && (max == 0 || n < max))
    {
        le = i < pg->list.nelts ? &pg->list.elts[i] : NULL;
        oe = j < pg->over.nelts ? &pg->over.elts[j] : NULL;

        if (le != NULL && oe != NULL) {
            c = strcmp(le->path, oe->path);

        } else {
            c = le != NULL ? -1 : 1;
        }

        if (c < 0) {
            i++;
            e = le;

        } else {
            if (c == 0) {
                i++;
            }

            j++;
            e = oe;

            if (strncmp(oe->path, pg->prefix, pg->plen) != 0
                || (pg->after != NULL && strcmp(oe->path, pg->after) <= 0)
                || (oe->s.deleted && !pg->include_deleted))
            {
                continue;
            }

            if (pg->bound != NULL && strcmp(oe->path, pg->bound) > 0) {
                break;
            }
        }

        n++;

        if (cb != NULL) {
            gobi_store_mongodb_to_file(&e->s, e->path, &f);

            if (cb(data, &f) != 0) {
                break;
            }
        }
    }

    return n;
}


static gobi_store_rc_e
gobi_store_mongodb_page_read(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, gobi_store_mongodb_page_t *pg, int64_t fetch,
    int64_t *seq)
{
    size_t                       i, j;
    bson_t                       filter, range, opts, sort;
    int64_t                      applied, head;
    bson_error_t                 err;
    const char                  *path;
    const bson_t                *doc;
    gobi_store_rc_e              rc;
    mongoc_cursor_t             *cur;
    mongoc_collection_t         *coll;
    gobi_store_mongodb_state_t   s;

    rc = gobi_store_mongodb_vault_heads(st, cl, vault, 1, &applied, NULL);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    /* the listing: paths after the cursor in order, until one lacks the
     * prefix */

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    if (pg->after != NULL && strcmp(pg->after, pg->prefix) >= 0) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "path", &range);
        BSON_APPEND_UTF8(&range, "$gt", pg->after);
        bson_append_document_end(&filter, &range);

    } else if (pg->plen > 0) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "path", &range);
        BSON_APPEND_UTF8(&range, "$gte", pg->prefix);
        bson_append_document_end(&filter, &range);
    }
    if (!pg->include_deleted) {
        BSON_APPEND_BOOL(&filter, "deleted", false);
    }
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "path", 1);
    bson_append_document_end(&opts, &sort);
    if (fetch > 0) {
        BSON_APPEND_INT64(&opts, "limit", fetch);
    }
    gobi_store_mongodb_read_opts(st, &opts, 1);

    coll = mongoc_client_get_collection(cl, st->db, "files");
    cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);

    while (mongoc_cursor_next(cur, &doc)) {
        path = gobi_store_mongodb_get_str(doc, "path");
        if (path == NULL) {
            continue;
        }

        if (strncmp(path, pg->prefix, pg->plen) != 0) {
            break;
        }

        gobi_store_mongodb_record_state(doc, &s);

        if (gobi_store_mongodb_list_push(&pg->list, path, &s) != 0) {
            rc = GOBI_STORE_ERROR;
            gobi_store_mongodb_set_err("mongodb: out of memory");
            break;
        }
    }

    if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("files", &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);
    bson_destroy(&filter);

    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    pg->bound = NULL;
    if (fetch > 0 && pg->list.nelts == (size_t) fetch) {
        pg->bound = pg->list.elts[pg->list.nelts - 1].path;
    }

    /* the backlog after the listing: the newest state of each path */

    rc = gobi_store_mongodb_probe(st, cl, vault, applied, 1,
                                  gobi_store_mongodb_collect, &pg->over,
                                  &head);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    if (pg->over.nelts > 0) {
        qsort(pg->over.elts, pg->over.nelts,
              sizeof(gobi_store_mongodb_entry_t),
              gobi_store_mongodb_entry_cmp);

        for (i = 0, j = 0; i < pg->over.nelts; i++) {
            if (i + 1 < pg->over.nelts
                && strcmp(pg->over.elts[i].path,
                          pg->over.elts[i + 1].path) == 0)
            {
                free(pg->over.elts[i].path);
                continue;
            }

            pg->over.elts[j++] = pg->over.elts[i];
        }

        pg->over.nelts = j;
    }

    *seq = head;

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_file_list(gobi_store_t *st, int64_t vault,
    const char *prefix, int include_deleted, const char *after,
    int64_t limit, int64_t *seq, int *more, gobi_file_cb cb, void *data)
{
    int                         attempt;
    size_t                      n;
    int64_t                     fetch, head;
    gobi_store_rc_e             rc;
    mongoc_client_t            *cl;
    gobi_store_mongodb_page_t   pg;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    memset(&pg, 0, sizeof(gobi_store_mongodb_page_t));
    pg.prefix = prefix != NULL ? prefix : "";
    pg.plen = strlen(pg.prefix);
    pg.after = after;
    pg.include_deleted = include_deleted;

    /* one record beyond the page says whether there is more */
    fetch = limit > 0 ? limit + 1 : 0;
    n = 0;

    for (attempt = 0; /* void */; attempt++) {
        rc = gobi_store_mongodb_page_read(st, cl, vault, &pg, fetch, &head);
        if (rc != GOBI_STORE_OK) {
            goto done;
        }

        if (pg.bound == NULL) {
            break;
        }

        n = gobi_store_mongodb_merge(&pg, (size_t) limit + 1, NULL, NULL);

        if (n > (size_t) limit || attempt == 4) {
            break;
        }

        gobi_store_mongodb_list_free(&pg.list);
        gobi_store_mongodb_list_free(&pg.over);
        memset(&pg.list, 0, sizeof(gobi_store_mongodb_list_t));
        memset(&pg.over, 0, sizeof(gobi_store_mongodb_list_t));
        fetch *= 2;
    }

    if (seq != NULL) {
        *seq = head;
    }

    if (pg.bound == NULL && limit > 0) {
        n = gobi_store_mongodb_merge(&pg, (size_t) limit + 1, NULL, NULL);
    }

    if (more != NULL) {
        /* a listing still cut after the retries: more, to be safe */
        *more = limit > 0 && (n > (size_t) limit || pg.bound != NULL);
    }

    (void) gobi_store_mongodb_merge(&pg, (size_t) limit, cb, data);

done:

    gobi_store_mongodb_list_free(&pg.list);
    gobi_store_mongodb_list_free(&pg.over);

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/*
 * The events (since, to] one by one by _id (FerretDB, a short run): the
 * first one missing means pruned (EXPIRED); *last is the last one handed
 * to the callback.
 */

static gobi_store_rc_e
gobi_store_mongodb_events_by_id(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, int64_t since, int64_t to, gobi_event_cb cb, void *data,
    int64_t *last)
{
    int              stop;
    bson_t           doc;
    int64_t          seq;
    gobi_event_t     ev;
    gobi_store_rc_e  rc;

    *last = since;

    for (seq = since + 1; seq <= to; seq++) {
        rc = gobi_store_mongodb_find_event(st, cl, vault, seq, 1, &doc);
        if (rc == GOBI_STORE_NOT_FOUND) {
            return seq == since + 1 ? GOBI_STORE_EXPIRED : GOBI_STORE_OK;
        }

        if (rc != GOBI_STORE_OK) {
            return rc;
        }

        stop = 0;

        if (gobi_store_mongodb_event_from(&doc, &ev)) {
            *last = ev.seq;
            stop = cb(data, &ev);
        }

        bson_destroy(&doc);

        if (stop) {
            break;
        }
    }

    return GOBI_STORE_OK;
}


/*
 * The events (since, head] as of the head probed first.  The oldest kept
 * event is pruned_seq + 1 (events_prune raises pruned_seq before it
 * deletes); if a prune got in between anyway, the first event is not
 * since + 1, and that is EXPIRED too, before any callback.
 * limit <= 0: no limit; a negative since reads as 0.
 */

static gobi_store_rc_e
gobi_store_mongodb_events_since(gobi_store_t *st, int64_t vault,
    int64_t since, int64_t limit, gobi_event_cb cb, void *data,
    int64_t *head, int *more)
{
    bson_t                filter, range, opts, sort;
    int64_t               applied, pruned, top, oldest, last, n;
    bson_error_t          err;
    gobi_event_t          ev;
    const bson_t         *doc;
    gobi_store_rc_e       rc;
    mongoc_cursor_t      *cur;
    mongoc_client_t      *cl;
    mongoc_collection_t  *c;

    if (head != NULL) {
        *head = 0;
    }

    if (more != NULL) {
        *more = 0;
    }

    if (since < 0) {
        since = 0;
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_vault_heads(st, cl, vault, 1, &applied,
                                        &pruned);
    if (rc != GOBI_STORE_OK) {
        goto done;
    }

    rc = gobi_store_mongodb_probe(st, cl, vault, applied, 1, NULL, NULL,
                                  &top);
    if (rc != GOBI_STORE_OK) {
        goto done;
    }

    oldest = top > 0 ? pruned + 1 : 0;

    if (head != NULL) {
        *head = top;
    }

    if (since < top && (oldest == 0 || since < oldest - 1)) {
        rc = GOBI_STORE_EXPIRED;
        goto done;
    }

    if (since >= top) {
        goto done;
    }

    n = top - since;
    if (limit > 0 && n > limit) {
        n = limit;
    }

    if (gobi_store_mongodb_ferretdb(st) && n <= GOBI_MONGODB_PROBE_MAX) {
        rc = gobi_store_mongodb_events_by_id(st, cl, vault, since,
                                             since + n, cb, data, &last);
        if (rc == GOBI_STORE_OK && more != NULL) {
            *more = (last < top);
        }

        goto done;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "seq", &range);
    BSON_APPEND_INT64(&range, "$gt", since);
    BSON_APPEND_INT64(&range, "$lte", top);
    bson_append_document_end(&filter, &range);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "seq", 1);
    bson_append_document_end(&opts, &sort);
    if (limit > 0) {
        BSON_APPEND_INT64(&opts, "limit", limit);
    }
    gobi_store_mongodb_read_opts(st, &opts, 1);

    c = mongoc_client_get_collection(cl, st->db, "events");
    cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);

    last = since;

    while (mongoc_cursor_next(cur, &doc)) {
        if (!gobi_store_mongodb_event_from(doc, &ev)) {
            continue;
        }

        if (last == since && ev.seq != since + 1) {
            rc = GOBI_STORE_EXPIRED;
            break;
        }

        last = ev.seq;

        if (cb(data, &ev) != 0) {
            break;
        }
    }

    if (mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("events", &err, NULL);

    } else if (rc == GOBI_STORE_OK && last == since) {
        /* (since, top] is not empty: pruned under our feet */
        rc = GOBI_STORE_EXPIRED;

    } else if (rc == GOBI_STORE_OK && more != NULL) {
        *more = (last < top);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    bson_destroy(&opts);
    bson_destroy(&filter);

done:

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* drop, per kind, every id claim but the highest */

static gobi_store_rc_e
gobi_store_mongodb_prune_claims(gobi_store_t *st, mongoc_client_t *cl,
    const char *kind)
{
    bson_t           filter, range;
    int64_t          n;
    gobi_store_rc_e  rc;

    rc = gobi_store_mongodb_last_claim(st, cl, kind, &n);
    if (rc != GOBI_STORE_OK) {
        return rc == GOBI_STORE_NOT_FOUND ? GOBI_STORE_OK : rc;
    }

    bson_init(&filter);
    BSON_APPEND_UTF8(&filter, "kind", kind);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "n", &range);
    BSON_APPEND_INT64(&range, "$lt", n);
    bson_append_document_end(&filter, &range);
    rc = gobi_store_mongodb_delete(st, cl, "counters", &filter, NULL);
    bson_destroy(&filter);

    return rc;
}


/*
 * Prune one vault's log: the prefix up to the newest event older than the
 * horizon, but never the latest event nor an event not yet applied.  A
 * prefix, not "every old event": workers' clocks differ a little, and a
 * hole in the log would let a cursor skip an event without EXPIRED.
 * pruned_seq is raised before the delete, so readers never count on an
 * event that is about to go.  A vault that no longer exists loses its
 * leftover events, files and versions.
 */

static gobi_store_rc_e
gobi_store_mongodb_prune_vault(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, int64_t before, int64_t *removed)
{
    bson_t           filter, range, sort, doc;
    int64_t          applied, pruned, head, cut, n;
    gobi_store_rc_e  rc;

    rc = gobi_store_mongodb_vault_heads(st, cl, vault, 0, &applied,
                                        &pruned);

    if (rc == GOBI_STORE_NOT_FOUND) {
        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "vault", vault);
        n = 0;
        rc = gobi_store_mongodb_delete(st, cl, "events", &filter, &n);
        if (rc == GOBI_STORE_OK) {
            *removed += n;
            rc = gobi_store_mongodb_delete(st, cl, "files", &filter, NULL);
        }
        if (rc == GOBI_STORE_OK) {
            rc = gobi_store_mongodb_delete(st, cl, "versions", &filter,
                                           NULL);
        }
        bson_destroy(&filter);

        return rc;
    }

    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    rc = gobi_store_mongodb_probe(st, cl, vault, applied, 0, NULL, NULL,
                                  &head);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "ts", &range);
    BSON_APPEND_INT64(&range, "$lt", before);
    bson_append_document_end(&filter, &range);
    bson_init(&sort);
    BSON_APPEND_INT32(&sort, "seq", -1);
    rc = gobi_store_mongodb_find_one(st, cl, "events", &filter, &sort, 0,
                                     &doc);
    bson_destroy(&sort);
    bson_destroy(&filter);

    if (rc == GOBI_STORE_NOT_FOUND) {
        return GOBI_STORE_OK;
    }

    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    cut = gobi_store_mongodb_get_int(&doc, "seq");
    bson_destroy(&doc);

    if (cut > head - 1) {
        cut = head - 1;
    }

    if (cut > applied) {
        cut = applied;
    }

    if (cut > pruned) {
        rc = gobi_store_mongodb_raise(st, cl, vault, "pruned_seq", cut);
        if (rc != GOBI_STORE_OK) {
            return rc;
        }

    } else {
        /* nothing new; a crashed prune may have left its events */
        cut = pruned;
    }

    if (cut <= 0) {
        return GOBI_STORE_OK;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "seq", &range);
    BSON_APPEND_INT64(&range, "$lte", cut);
    bson_append_document_end(&filter, &range);
    n = 0;
    rc = gobi_store_mongodb_delete(st, cl, "events", &filter, &n);
    bson_destroy(&filter);

    *removed += n;

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_events_prune(gobi_store_t *st, int64_t before,
    int64_t *removed)
{
    bson_t                cmd, query, range, reply;
    int64_t               count;
    bson_iter_t           it, values;
    bson_error_t          err;
    gobi_store_rc_e       rc;
    mongoc_client_t      *cl;
    mongoc_collection_t  *c;

    count = 0;

    if (removed != NULL) {
        *removed = 0;
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    /* the vaults that have events older than the horizon */

    bson_init(&cmd);
    BSON_APPEND_UTF8(&cmd, "distinct", "events");
    BSON_APPEND_UTF8(&cmd, "key", "vault");
    BSON_APPEND_DOCUMENT_BEGIN(&cmd, "query", &query);
    BSON_APPEND_DOCUMENT_BEGIN(&query, "ts", &range);
    BSON_APPEND_INT64(&range, "$lt", before);
    bson_append_document_end(&query, &range);
    bson_append_document_end(&cmd, &query);

    c = mongoc_client_get_collection(cl, st->db, "events");

    if (!mongoc_collection_read_command_with_opts(c, &cmd, NULL, NULL,
                                                  &reply, &err))
    {
        rc = gobi_store_mongodb_fail("events", &err, &reply);
        goto done;
    }

    rc = GOBI_STORE_OK;

    if (bson_iter_init_find(&it, &reply, "values")
        && BSON_ITER_HOLDS_ARRAY(&it)
        && bson_iter_recurse(&it, &values))
    {
        while (bson_iter_next(&values)) {
            rc = gobi_store_mongodb_prune_vault(st, cl,
                                                bson_iter_as_int64(&values),
                                                before, &count);
            if (rc != GOBI_STORE_OK) {
                break;
            }
        }
    }

    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_prune_claims(st, cl, "users");
    }

    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_prune_claims(st, cl, "vaults");
    }

done:

    bson_destroy(&reply);
    mongoc_collection_destroy(c);
    bson_destroy(&cmd);
    mongoc_client_pool_push(st->pool, cl);

    if (removed != NULL) {
        *removed = count;
    }

    return rc;
}


/*
 * A live record or a kept content version with the hash, or a backlog
 * event that names it (conservative: the collector must never drop a blob
 * in use).
 */

typedef struct {
    const char  *hash;
    int          found;
} gobi_store_mongodb_blob_t;


static gobi_store_rc_e
gobi_store_mongodb_blob_seen(void *data, const bson_t *doc,
    const gobi_event_t *ev)
{
    gobi_store_mongodb_blob_t  *b;

    (void) doc;

    b = data;

    if (strcmp(ev->hash, b->hash) == 0) {
        b->found = 1;
    }

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_blob_referenced(gobi_store_t *st, int64_t vault,
    const char *hash, int *referenced)
{
    bson_t                      filter, doc;
    int64_t                     applied, head;
    gobi_store_rc_e             rc;
    mongoc_client_t            *cl;
    gobi_store_mongodb_blob_t   b;

    *referenced = 0;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_UTF8(&filter, "hash", hash);
    BSON_APPEND_BOOL(&filter, "deleted", false);
    rc = gobi_store_mongodb_find_one(st, cl, "files", &filter, NULL, 0,
                                     &doc);
    bson_destroy(&filter);

    if (rc == GOBI_STORE_NOT_FOUND) {
        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "vault", vault);
        BSON_APPEND_UTF8(&filter, "hash", hash);
        BSON_APPEND_BOOL(&filter, "deleted", false);
        rc = gobi_store_mongodb_find_one(st, cl, "versions", &filter, NULL,
                                         0, &doc);
        bson_destroy(&filter);
    }

    if (rc == GOBI_STORE_OK) {
        bson_destroy(&doc);
        *referenced = 1;
        goto done;
    }

    if (rc != GOBI_STORE_NOT_FOUND) {
        goto done;
    }

    rc = gobi_store_mongodb_vault_heads(st, cl, vault, 0, &applied, NULL);
    if (rc == GOBI_STORE_NOT_FOUND) {
        rc = GOBI_STORE_OK;
        goto done;
    }

    if (rc != GOBI_STORE_OK) {
        goto done;
    }

    b.hash = hash;
    b.found = 0;
    rc = gobi_store_mongodb_probe(st, cl, vault, applied, 0,
                                  gobi_store_mongodb_blob_seen, &b, &head);
    if (rc == GOBI_STORE_OK) {
        *referenced = b.found;
    }

done:

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/*
 * History.  Version records are written where events are applied (see
 * gobi_store_mongodb_apply_event), so the events of the backlog (inserted,
 * not yet applied: a write in flight, or one whose writer crashed) may
 * lack theirs.  The readers overlay the backlog as file_get does: the
 * versions it makes are computed from its events (gobi_version_of_event,
 * what apply will write) and merged with the records, a version that is
 * both (applied, head not raised yet) counted once.  version_list,
 * version_get, trash_list, versions_at and delete_stats are so exact as
 * of the log's head; versions_prune and the backfill read the records
 * only (what they do not see, they leave alone).
 */

/* a version the backlog makes, not applied yet, maybe not recorded */
typedef struct {
    char                        *path;
    gobi_version_t               v;
} gobi_store_mongodb_bver_t;


/* by path, then newest first: each path's run starts with its state */
typedef struct {
    gobi_store_mongodb_bver_t   *elts;
    size_t                       nelts;
    size_t                       nalloc;
} gobi_store_mongodb_backlog_t;


static int
gobi_store_mongodb_backlog_push(gobi_store_mongodb_backlog_t *bl,
    const gobi_event_t *ev, const char *path)
{
    size_t                      n;
    gobi_store_mongodb_bver_t  *e;

    if (bl->nelts == bl->nalloc) {
        n = bl->nalloc ? bl->nalloc * 2 : 16;
        e = realloc(bl->elts, n * sizeof(gobi_store_mongodb_bver_t));
        if (e == NULL) {
            return -1;
        }
        bl->elts = e;
        bl->nalloc = n;
    }

    e = &bl->elts[bl->nelts];
    e->path = strdup(path);
    if (e->path == NULL) {
        return -1;
    }

    gobi_version_of_event(ev, path, &e->v);
    bl->nelts++;

    return 0;
}


static gobi_store_rc_e
gobi_store_mongodb_backlog_seen(void *data, const bson_t *doc,
    const gobi_event_t *ev)
{
    gobi_store_mongodb_backlog_t  *bl;

    (void) doc;

    bl = data;

    if (gobi_store_mongodb_backlog_push(bl, ev, ev->path) != 0
        || (ev->from != NULL
            && gobi_store_mongodb_backlog_push(bl, ev, ev->from) != 0))
    {
        gobi_store_mongodb_set_err("mongodb: out of memory");
        return GOBI_STORE_ERROR;
    }

    return GOBI_STORE_OK;
}


static int
gobi_store_mongodb_bver_cmp(const void *a, const void *b)
{
    int                               c;
    const gobi_store_mongodb_bver_t  *x, *y;

    x = a;
    y = b;

    c = strcmp(x->path, y->path);
    if (c != 0) {
        return c;
    }

    return (x->v.version < y->v.version) - (x->v.version > y->v.version);
}


static void
gobi_store_mongodb_backlog_free(gobi_store_mongodb_backlog_t *bl)
{
    size_t  i;

    for (i = 0; i < bl->nelts; i++) {
        free(bl->elts[i].path);
    }

    free(bl->elts);
    memset(bl, 0, sizeof(gobi_store_mongodb_backlog_t));
}


/*
 * The versions of the backlog, read after the applied head (the records
 * reflect at least that head).  A vault that is gone has none.
 */

static gobi_store_rc_e
gobi_store_mongodb_backlog(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault, gobi_store_mongodb_backlog_t *bl)
{
    int64_t          applied, head;
    gobi_store_rc_e  rc;

    memset(bl, 0, sizeof(gobi_store_mongodb_backlog_t));

    rc = gobi_store_mongodb_vault_heads(st, cl, vault, 1, &applied, NULL);
    if (rc != GOBI_STORE_OK) {
        return rc == GOBI_STORE_NOT_FOUND ? GOBI_STORE_OK : rc;
    }

    rc = gobi_store_mongodb_probe(st, cl, vault, applied, 1,
                                  gobi_store_mongodb_backlog_seen, bl,
                                  &head);

    if (rc == GOBI_STORE_OK && bl->nelts > 1) {
        qsort(bl->elts, bl->nelts, sizeof(gobi_store_mongodb_bver_t),
              gobi_store_mongodb_bver_cmp);
    }

    return rc;
}


/* the run of path's backlog versions (newest first): *n of them */

static gobi_store_mongodb_bver_t *
gobi_store_mongodb_backlog_path(gobi_store_mongodb_backlog_t *bl,
    const char *path, size_t *n)
{
    size_t  i, j;

    for (i = 0; i < bl->nelts; i++) {
        if (strcmp(bl->elts[i].path, path) == 0) {
            break;
        }
    }

    for (j = i; j < bl->nelts && strcmp(bl->elts[j].path, path) == 0; j++) {
        /* void */
    }

    *n = j - i;

    return i < bl->nelts ? &bl->elts[i] : NULL;
}


/* the next version record of a cursor: 1, or 0 at its end */

static int
gobi_store_mongodb_next_version(mongoc_cursor_t *cur, gobi_version_t *v)
{
    const bson_t  *doc;

    if (!mongoc_cursor_next(cur, &doc)) {
        return 0;
    }

    gobi_store_mongodb_version_from(doc, v);

    return 1;
}


/*
 * The newest version of path <= max (content versions only if
 * content): the record's and the backlog's, whichever is newer.
 * *found 0 if neither has one.
 */

static gobi_store_rc_e
gobi_store_mongodb_version_newest(gobi_store_t *st, mongoc_client_t *cl,
    gobi_store_mongodb_backlog_t *bl, int64_t vault, const char *path,
    int64_t max, int content, gobi_version_t *out, int *found)
{
    size_t                      i, n;
    bson_t                      filter, range, sort, doc;
    gobi_store_rc_e             rc;
    gobi_store_mongodb_bver_t  *b;

    *found = 0;

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_UTF8(&filter, "path", path);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "version", &range);
    BSON_APPEND_INT64(&range, "$lte", max);
    bson_append_document_end(&filter, &range);
    if (content) {
        BSON_APPEND_BOOL(&filter, "deleted", false);
    }
    bson_init(&sort);
    BSON_APPEND_INT32(&sort, "version", -1);

    rc = gobi_store_mongodb_find_one(st, cl, "versions", &filter, &sort, 1,
                                     &doc);
    bson_destroy(&sort);
    bson_destroy(&filter);

    if (rc == GOBI_STORE_OK) {
        gobi_store_mongodb_version_from(&doc, out);
        bson_destroy(&doc);
        *found = 1;

    } else if (rc != GOBI_STORE_NOT_FOUND) {
        return rc;
    }

    b = gobi_store_mongodb_backlog_path(bl, path, &n);

    for (i = 0; i < n; i++) {
        if (b[i].v.version > max || (content && b[i].v.deleted)) {
            continue;
        }

        if (!*found || b[i].v.version > out->version) {
            *out = b[i].v;
            *found = 1;
        }

        break;
    }

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_version_list(gobi_store_t *st, int64_t vault,
    const char *path, int64_t before, int64_t limit, gobi_version_cb cb,
    void *data, int *more)
{
    int                            stored;
    size_t                         i, nb;
    bson_t                         filter, range, opts, sort;
    int64_t                        n;
    bson_error_t                   err;
    gobi_version_t                 v, sv;
    gobi_store_rc_e                rc;
    mongoc_cursor_t               *cur;
    mongoc_client_t               *cl;
    mongoc_collection_t           *c;
    gobi_store_mongodb_bver_t     *b;
    gobi_store_mongodb_backlog_t   bl;

    if (more != NULL) {
        *more = 0;
    }

    if (before <= 0) {
        before = INT64_MAX;
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_backlog(st, cl, vault, &bl);
    if (rc != GOBI_STORE_OK) {
        goto done;
    }

    b = gobi_store_mongodb_backlog_path(&bl, path, &nb);

    for (i = 0; i < nb && b[i].v.version >= before; i++) {
        /* void */
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_UTF8(&filter, "path", path);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "version", &range);
    BSON_APPEND_INT64(&range, "$lt", before);
    bson_append_document_end(&filter, &range);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "version", -1);
    bson_append_document_end(&opts, &sort);
    if (limit > 0) {
        BSON_APPEND_INT64(&opts, "limit", limit + 1);
    }
    gobi_store_mongodb_read_opts(st, &opts, 1);

    c = mongoc_client_get_collection(cl, st->db, "versions");
    cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);

    /* two lists newest first: the records' and the backlog's */

    stored = gobi_store_mongodb_next_version(cur, &sv);

    for (n = 0; /* void */; n++) {
        if (i < nb && (!stored || b[i].v.version >= sv.version)) {
            if (stored && b[i].v.version == sv.version) {
                stored = gobi_store_mongodb_next_version(cur, &sv);
            }

            v = b[i++].v;

        } else if (stored) {
            v = sv;
            stored = gobi_store_mongodb_next_version(cur, &sv);

        } else {
            break;
        }

        if (limit > 0 && n == limit) {
            if (more != NULL) {
                *more = 1;
            }
            break;
        }

        if (cb(data, path, &v) != 0) {
            break;
        }
    }

    if (mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("versions", &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    bson_destroy(&opts);
    bson_destroy(&filter);

done:

    gobi_store_mongodb_backlog_free(&bl);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/*
 * By _id.  A version not recorded may be in the backlog (its event
 * names the path); one <= the applied head may have been applied since
 * the first look.
 */

static gobi_store_rc_e
gobi_store_mongodb_version_get(gobi_store_t *st, int64_t vault,
    const char *path, int64_t version, gobi_version_t *out)
{
    char             *key;
    bson_t            doc;
    int64_t           applied;
    gobi_event_t      ev;
    gobi_version_t    v;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    key = gobi_store_mongodb_version_key(vault, path, version);

    rc = gobi_store_mongodb_find_key(st, cl, "versions", key, 1, &doc);

    if (rc == GOBI_STORE_NOT_FOUND) {
        rc = gobi_store_mongodb_vault_heads(st, cl, vault, 1, &applied,
                                            NULL);

        if (rc == GOBI_STORE_OK && version > applied) {
            rc = gobi_store_mongodb_find_event(st, cl, vault, version, 1,
                                               &doc);
            if (rc == GOBI_STORE_OK) {
                if (gobi_store_mongodb_event_from(&doc, &ev)
                    && gobi_event_touches(&ev, path))
                {
                    gobi_version_of_event(&ev, path, &v);
                    if (out != NULL) {
                        *out = v;
                    }

                } else {
                    rc = GOBI_STORE_NOT_FOUND;
                }

                bson_destroy(&doc);
            }

            goto done;
        }

        if (rc == GOBI_STORE_OK) {
            rc = gobi_store_mongodb_find_key(st, cl, "versions", key, 1,
                                             &doc);
        }
    }

    if (rc == GOBI_STORE_OK) {
        if (out != NULL) {
            gobi_store_mongodb_version_from(&doc, out);
        }

        bson_destroy(&doc);
    }

done:

    bson_free(key);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* the length of the backlog's run of versions of one path from i */

static size_t
gobi_store_mongodb_backlog_run(gobi_store_mongodb_backlog_t *bl, size_t i)
{
    size_t  j;

    for (j = i; j < bl->nelts
                && strcmp(bl->elts[j].path, bl->elts[i].path) == 0; j++)
    {
        /* void */
    }

    return j - i;
}


/*
 * Whether path is in the trash and with what: run (n of them) are its
 * backlog versions, if any, whose newest is its state; else the state is
 * the tombstone's version `version`.  A version that is not a plain
 * delete (a rename away), or a tombstone whose content versions are all
 * gone, is not listed.
 */

static gobi_store_rc_e
gobi_store_mongodb_trash_entry(gobi_store_t *st, mongoc_client_t *cl,
    gobi_store_mongodb_backlog_t *bl, int64_t vault, const char *path,
    const gobi_store_mongodb_bver_t *run, size_t n, int64_t version,
    gobi_version_t *d, gobi_version_t *l, int *listed)
{
    char            *key;
    bson_t           doc;
    gobi_store_rc_e  rc;

    *listed = 0;

    if (n > 0) {
        *d = run[0].v;

        if (!d->deleted) {
            return GOBI_STORE_OK;
        }

    } else {
        key = gobi_store_mongodb_version_key(vault, path, version);
        rc = gobi_store_mongodb_find_key(st, cl, "versions", key, 1, &doc);
        bson_free(key);

        if (rc != GOBI_STORE_OK) {
            return rc == GOBI_STORE_NOT_FOUND ? GOBI_STORE_OK : rc;
        }

        gobi_store_mongodb_version_from(&doc, d);
        bson_destroy(&doc);
    }

    if (d->moved) {
        return GOBI_STORE_OK;
    }

    return gobi_store_mongodb_version_newest(st, cl, bl, vault, path,
                                             d->version, 1, l, listed);
}


/* the next file record of a cursor that has a path, or NULL */

static const bson_t *
gobi_store_mongodb_next_path(mongoc_cursor_t *cur, const char **path)
{
    const bson_t  *doc;

    while (mongoc_cursor_next(cur, &doc)) {
        *path = gobi_store_mongodb_get_str(doc, "path");
        if (*path != NULL) {
            return doc;
        }
    }

    return NULL;
}


/*
 * The tombstones after the cursor by path, merged with the backlog's
 * states: a path the backlog touches is as its newest backlog version
 * says.  Each costs a lookup by _id (its deleting version) and an
 * indexed query (its newest content version; a scan on FerretDB v1).
 */

static gobi_store_rc_e
gobi_store_mongodb_trash_list(gobi_store_t *st, int64_t vault,
    const char *after, int64_t limit, gobi_trash_cb cb, void *data,
    int *more)
{
    int                            c, listed, stop;
    size_t                         i, nrun;
    bson_t                         filter, range, opts, sort;
    int64_t                        n, version;
    const char                    *spath, *path;
    bson_error_t                   err;
    const bson_t                  *doc;
    gobi_version_t                 d, l;
    gobi_store_rc_e                rc;
    mongoc_cursor_t               *cur;
    mongoc_client_t               *cl;
    mongoc_collection_t           *coll;
    gobi_store_mongodb_bver_t     *run;
    gobi_store_mongodb_backlog_t   bl;

    if (more != NULL) {
        *more = 0;
    }

    if (after == NULL) {
        after = "";
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_backlog(st, cl, vault, &bl);
    if (rc != GOBI_STORE_OK) {
        goto done;
    }

    for (i = 0; i < bl.nelts && strcmp(bl.elts[i].path, after) <= 0; i++) {
        /* void */
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_BOOL(&filter, "deleted", true);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "path", &range);
    BSON_APPEND_UTF8(&range, "$gt", after);
    bson_append_document_end(&filter, &range);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "path", 1);
    bson_append_document_end(&opts, &sort);
    gobi_store_mongodb_read_opts(st, &opts, 1);

    coll = mongoc_client_get_collection(cl, st->db, "files");
    cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);

    spath = NULL;
    doc = gobi_store_mongodb_next_path(cur, &spath);
    n = 0;

    while (doc != NULL || i < bl.nelts) {

        if (doc == NULL) {
            c = 1;

        } else if (i == bl.nelts) {
            c = -1;

        } else {
            c = strcmp(spath, bl.elts[i].path);
        }

        if (c < 0) {
            /* a tombstone that the backlog leaves alone */
            path = spath;
            version = gobi_store_mongodb_get_int(doc, "version");
            run = NULL;
            nrun = 0;

        } else {
            /* a path of the backlog: its newest version is its state */
            path = bl.elts[i].path;
            version = 0;
            run = &bl.elts[i];
            nrun = gobi_store_mongodb_backlog_run(&bl, i);
        }

        rc = gobi_store_mongodb_trash_entry(st, cl, &bl, vault, path, run,
                                            nrun, version, &d, &l, &listed);
        if (rc != GOBI_STORE_OK) {
            break;
        }

        if (listed) {
            if (limit > 0 && n == limit) {
                if (more != NULL) {
                    *more = 1;
                }
                break;
            }

            n++;

            stop = cb(data, path, &d, &l);
            if (stop) {
                break;
            }
        }

        if (c <= 0) {
            doc = gobi_store_mongodb_next_path(cur, &spath);
        }

        i += nrun;
    }

    if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("files", &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);
    bson_destroy(&filter);

done:

    gobi_store_mongodb_backlog_free(&bl);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* the next path of a cursor sorted by path that differs from *path (owned,
 * replaced; NULL at the end) */

static gobi_store_rc_e
gobi_store_mongodb_next_distinct(mongoc_cursor_t *cur, char **path)
{
    const char    *p;
    const bson_t  *doc;

    while (mongoc_cursor_next(cur, &doc)) {
        p = gobi_store_mongodb_get_str(doc, "path");

        if (p == NULL || (*path != NULL && strcmp(p, *path) == 0)) {
            continue;
        }

        free(*path);

        *path = strdup(p);
        if (*path == NULL) {
            gobi_store_mongodb_set_err("mongodb: out of memory");
            return GOBI_STORE_ERROR;
        }

        return GOBI_STORE_OK;
    }

    free(*path);
    *path = NULL;

    return GOBI_STORE_OK;
}


/*
 * The paths with a version > seq, after the cursor: the records' (each
 * path once, by the vault_1_path_1_version_1 or the vault_1_version_1
 * index, as the server picks) merged with the backlog's, each then with
 * its newest version <= seq.
 */

static gobi_store_rc_e
gobi_store_mongodb_versions_at(gobi_store_t *st, int64_t vault, int64_t seq,
    const char *after, int64_t limit, gobi_version_cb cb, void *data,
    int *more)
{
    int                            c, found, stop;
    char                          *spath;
    size_t                         i, nrun;
    bson_t                         filter, range, prange, opts, sort, proj;
    int64_t                        n;
    const char                    *path;
    bson_error_t                   err;
    gobi_version_t                 v;
    gobi_store_rc_e                rc;
    mongoc_cursor_t               *cur;
    mongoc_client_t               *cl;
    mongoc_collection_t           *coll;
    gobi_store_mongodb_backlog_t   bl;

    if (more != NULL) {
        *more = 0;
    }

    if (after == NULL) {
        after = "";
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    rc = gobi_store_mongodb_backlog(st, cl, vault, &bl);
    if (rc != GOBI_STORE_OK) {
        goto done;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "version", &range);
    BSON_APPEND_INT64(&range, "$gt", seq);
    bson_append_document_end(&filter, &range);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "path", &prange);
    BSON_APPEND_UTF8(&prange, "$gt", after);
    bson_append_document_end(&filter, &prange);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "path", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "path", 1);
    bson_append_document_end(&opts, &proj);
    gobi_store_mongodb_read_opts(st, &opts, 1);

    coll = mongoc_client_get_collection(cl, st->db, "versions");
    cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);

    /* spath: the records' current path (owned), NULL at their end */

    spath = NULL;
    rc = gobi_store_mongodb_next_distinct(cur, &spath);

    i = 0;
    n = 0;

    while (rc == GOBI_STORE_OK) {

        /* the backlog's next path with a version > seq */

        while (i < bl.nelts
               && (strcmp(bl.elts[i].path, after) <= 0
                   || bl.elts[i].v.version <= seq))
        {
            i += gobi_store_mongodb_backlog_run(&bl, i);
        }

        if (spath == NULL && i == bl.nelts) {
            break;
        }

        if (spath == NULL) {
            c = 1;

        } else if (i == bl.nelts) {
            c = -1;

        } else {
            c = strcmp(spath, bl.elts[i].path);
        }

        path = c <= 0 ? spath : bl.elts[i].path;
        nrun = c >= 0 ? gobi_store_mongodb_backlog_run(&bl, i) : 0;

        if (limit > 0 && n == limit) {
            if (more != NULL) {
                *more = 1;
            }
            break;
        }

        n++;

        rc = gobi_store_mongodb_version_newest(st, cl, &bl, vault, path, seq,
                                               0, &v, &found);
        if (rc != GOBI_STORE_OK) {
            break;
        }

        stop = cb(data, path, found ? &v : NULL);
        if (stop) {
            break;
        }

        if (c <= 0) {
            rc = gobi_store_mongodb_next_distinct(cur, &spath);
        }

        i += nrun;
    }

    free(spath);

    if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("versions", &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);
    bson_destroy(&filter);

done:

    gobi_store_mongodb_backlog_free(&bl);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}



static gobi_store_rc_e
gobi_store_mongodb_count(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, const bson_t *filter, int64_t *n)
{
    bson_t                opts;
    int64_t               count;
    bson_error_t          err;
    gobi_store_rc_e       rc;
    mongoc_collection_t  *c;

    bson_init(&opts);
    gobi_store_mongodb_read_opts(st, &opts, 1);

    c = mongoc_client_get_collection(cl, st->db, coll);
    count = mongoc_collection_count_documents(c, filter, &opts, NULL, NULL,
                                              &err);
    if (count >= 0) {
        *n = count;
        rc = GOBI_STORE_OK;

    } else {
        rc = gobi_store_mongodb_fail(coll, &err, NULL);
    }

    mongoc_collection_destroy(c);
    bson_destroy(&opts);

    return rc;
}


/*
 * The deletes are events, the truth, backlog included.  The live files:
 * the records of the paths the backlog leaves alone, and the paths it
 * touches as their newest backlog version says.
 */

static gobi_store_rc_e
gobi_store_mongodb_delete_stats(gobi_store_t *st, int64_t vault,
    const char *device, int64_t since, int64_t *deletes, int64_t *live)
{
    char                           key[16];
    size_t                         i, k;
    bson_t                         filter, range, exists, path, nin;
    int64_t                        n;
    gobi_store_rc_e                rc;
    mongoc_client_t               *cl;
    gobi_store_mongodb_backlog_t   bl;

    *deletes = 0;

    if (live) {
        *live = 0;
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    memset(&bl, 0, sizeof(gobi_store_mongodb_backlog_t));

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_UTF8(&filter, "type", gobi_event_type_name(GOBI_EV_DELETE));
    if (device != NULL) {
        BSON_APPEND_UTF8(&filter, "device", device);

    } else {
        /* events without a device have no such field */
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "device", &exists);
        BSON_APPEND_BOOL(&exists, "$exists", false);
        bson_append_document_end(&filter, &exists);
    }
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "ts", &range);
    BSON_APPEND_INT64(&range, "$gte", since);
    bson_append_document_end(&filter, &range);

    rc = gobi_store_mongodb_count(st, cl, "events", &filter, deletes);
    bson_destroy(&filter);

    if (rc != GOBI_STORE_OK || live == NULL) {
        goto done;
    }

    rc = gobi_store_mongodb_backlog(st, cl, vault, &bl);
    if (rc != GOBI_STORE_OK) {
        goto done;
    }

    n = 0;

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);
    BSON_APPEND_BOOL(&filter, "deleted", false);

    if (bl.nelts > 0) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "path", &path);
        BSON_APPEND_ARRAY_BEGIN(&path, "$nin", &nin);

        for (i = 0, k = 0; i < bl.nelts;
             i += gobi_store_mongodb_backlog_run(&bl, i))
        {
            snprintf(key, sizeof(key), "%zu", k++);
            BSON_APPEND_UTF8(&nin, key, bl.elts[i].path);

            if (!bl.elts[i].v.deleted) {
                n++;
            }
        }

        bson_append_array_end(&path, &nin);
        bson_append_document_end(&filter, &path);
    }

    rc = gobi_store_mongodb_count(st, cl, "files", &filter, live);
    bson_destroy(&filter);

    *live += n;

done:

    gobi_store_mongodb_backlog_free(&bl);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/*
 * Batched writes (the backfill's inserts, versions_prune's deletes), as
 * unordered bulk operations of GOBI_MONGODB_BATCH documents; on FerretDB
 * v1 each one of them is a statement of its own, by _id.  A duplicate key
 * is no error: a backfilled record that exists already stays as it is.
 */

#define GOBI_MONGODB_BATCH  500

typedef struct {
    mongoc_collection_t         *coll;
    mongoc_bulk_operation_t     *bulk;
    size_t                       n;
    int64_t                      done;     /* inserted or removed */
} gobi_store_mongodb_batch_t;


static void
gobi_store_mongodb_batch_init(gobi_store_t *st, mongoc_client_t *cl,
    const char *coll, gobi_store_mongodb_batch_t *b)
{
    b->coll = mongoc_client_get_collection(cl, st->db, coll);
    b->bulk = NULL;
    b->n = 0;
    b->done = 0;
}


/* a failed bulk whose every error is a duplicate key */

static int
gobi_store_mongodb_only_dups(const bson_t *reply)
{
    int          dups;
    bson_iter_t  it, errs, e;

    if (bson_iter_init_find(&it, reply, "writeConcernErrors")
        && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &errs)
        && bson_iter_next(&errs))
    {
        return 0;
    }

    if (!bson_iter_init_find(&it, reply, "writeErrors")
        || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &errs))
    {
        return 0;
    }

    dups = 0;

    while (bson_iter_next(&errs)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&errs)
            || !bson_iter_recurse(&errs, &e)
            || !bson_iter_find(&e, "code"))
        {
            return 0;
        }

        switch (bson_iter_as_int64(&e)) {
        case 11000:
        case 11001:
        case 12582:
            dups++;
            break;
        default:
            return 0;
        }
    }

    return dups > 0;
}


static gobi_store_rc_e
gobi_store_mongodb_batch_flush(gobi_store_mongodb_batch_t *b)
{
    bson_t           reply;
    bson_error_t     err;
    gobi_store_rc_e  rc;

    if (b->bulk == NULL) {
        return GOBI_STORE_OK;
    }

    if (mongoc_bulk_operation_execute(b->bulk, &reply, &err) != 0
        || gobi_store_mongodb_only_dups(&reply))
    {
        rc = GOBI_STORE_OK;

    } else {
        rc = gobi_store_mongodb_fail(mongoc_collection_get_name(b->coll),
                                     &err, &reply);
    }

    b->done += gobi_store_mongodb_get_int(&reply, "nInserted")
               + gobi_store_mongodb_get_int(&reply, "nRemoved");

    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(b->bulk);
    b->bulk = NULL;
    b->n = 0;

    return rc;
}


/* doc: a document to insert, or (remove) a selector of one to delete */

static gobi_store_rc_e
gobi_store_mongodb_batch_add(gobi_store_t *st, gobi_store_mongodb_batch_t *b,
    const bson_t *doc, int remove)
{
    bool          done;
    bson_t        opts;
    bson_error_t  err;

    if (b->bulk == NULL) {
        bson_init(&opts);
        BSON_APPEND_BOOL(&opts, "ordered", false);
        mongoc_write_concern_append(st->wc, &opts);
        b->bulk = mongoc_collection_create_bulk_operation_with_opts(b->coll,
                                                                    &opts);
        bson_destroy(&opts);
    }

    done = remove
           ? mongoc_bulk_operation_remove_one_with_opts(b->bulk, doc, NULL,
                                                        &err)
           : mongoc_bulk_operation_insert_with_opts(b->bulk, doc, NULL,
                                                    &err);
    if (!done) {
        return gobi_store_mongodb_fail(mongoc_collection_get_name(b->coll),
                                       &err, NULL);
    }

    if (++b->n < GOBI_MONGODB_BATCH) {
        return GOBI_STORE_OK;
    }

    return gobi_store_mongodb_batch_flush(b);
}


static void
gobi_store_mongodb_batch_free(gobi_store_mongodb_batch_t *b)
{
    if (b->bulk != NULL) {
        mongoc_bulk_operation_destroy(b->bulk);
    }

    mongoc_collection_destroy(b->coll);
}


/*
 * Thinning, a path at a time, in one pass over the versions by vault,
 * path and version (the vault_1_path_1_version_1 index; FerretDB v1
 * sorts in memory): each path's versions are judged by
 * gobi_versions_keep() and the dropped ones deleted by _id.  A write that
 * lands meanwhile adds a version the pass did not see, newer than those it
 * judged, and is left alone.  The versions of vaults that are gone (a
 * vault_delete cut short) go too.
 */

typedef struct {
    int64_t                      vault;
    int                          gone;     /* the vault is */
    char                        *path;
    gobi_versions_buf_t          buf;
} gobi_store_mongodb_thin_t;


static gobi_store_rc_e
gobi_store_mongodb_thin_path(gobi_store_t *st, gobi_store_mongodb_thin_t *t,
    gobi_store_mongodb_batch_t *b, const gobi_versions_policy_t *policy,
    int64_t now)
{
    char            *key;
    size_t           i;
    bson_t           sel;
    gobi_store_rc_e  rc;

    if (t->buf.n == 0 || t->gone) {
        return GOBI_STORE_OK;
    }

    /* read oldest first, judged newest first */

    if (gobi_versions_buf_judge(&t->buf, policy, now) == t->buf.n) {
        return GOBI_STORE_OK;
    }

    rc = GOBI_STORE_OK;

    for (i = 0; rc == GOBI_STORE_OK && i < t->buf.n; i++) {
        if (t->buf.keep[i]) {
            continue;
        }

        key = gobi_store_mongodb_version_key(t->vault, t->path,
                                             t->buf.v[i].version);
        bson_init(&sel);
        BSON_APPEND_UTF8(&sel, "_id", key);
        rc = gobi_store_mongodb_batch_add(st, b, &sel, 1);
        bson_destroy(&sel);
        bson_free(key);
    }

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_versions_prune(gobi_store_t *st,
    const gobi_versions_policy_t *policy, int64_t now, int64_t *removed)
{
    bson_t                       filter, opts, sort, proj, vf;
    size_t                       i, ngone;
    int64_t                      vault, applied, n, *gone, *p;
    bson_iter_t                  it;
    const char                  *path;
    bson_error_t                 err;
    const bson_t                *d;
    gobi_version_t              *v;
    gobi_store_rc_e              rc;
    mongoc_cursor_t             *cur;
    mongoc_client_t             *cl;
    mongoc_collection_t         *coll;
    gobi_store_mongodb_thin_t    t;
    gobi_store_mongodb_batch_t   b;

    *removed = 0;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    memset(&t, 0, sizeof(gobi_store_mongodb_thin_t));
    t.vault = -1;
    gone = NULL;
    ngone = 0;

    gobi_store_mongodb_batch_init(st, cl, "versions", &b);

    bson_init(&filter);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "vault", 1);
    BSON_APPEND_INT32(&sort, "path", 1);
    BSON_APPEND_INT32(&sort, "version", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "vault", 1);
    BSON_APPEND_INT32(&proj, "path", 1);
    BSON_APPEND_INT32(&proj, "version", 1);
    BSON_APPEND_INT32(&proj, "ts", 1);
    BSON_APPEND_INT32(&proj, "deleted", 1);
    BSON_APPEND_INT32(&proj, "moved", 1);
    bson_append_document_end(&opts, &proj);

    coll = mongoc_client_get_collection(cl, st->db, "versions");
    cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);

    rc = GOBI_STORE_OK;

    while (rc == GOBI_STORE_OK && mongoc_cursor_next(cur, &d)) {
        vault = gobi_store_mongodb_get_int(d, "vault");
        path = gobi_store_mongodb_get_str(d, "path");

        if (path == NULL) {
            continue;
        }

        if (vault != t.vault || strcmp(path, t.path) != 0) {
            rc = gobi_store_mongodb_thin_path(st, &t, &b, policy, now);
            if (rc != GOBI_STORE_OK) {
                break;
            }

            if (vault != t.vault) {
                t.vault = vault;

                rc = gobi_store_mongodb_vault_heads(st, cl, vault, 0,
                                                    &applied, NULL);
                t.gone = (rc == GOBI_STORE_NOT_FOUND);

                if (t.gone) {
                    p = realloc(gone, (ngone + 1) * sizeof(int64_t));
                    if (p == NULL) {
                        goto nomem;
                    }
                    gone = p;
                    gone[ngone++] = vault;
                    rc = GOBI_STORE_OK;

                } else if (rc != GOBI_STORE_OK) {
                    break;
                }
            }

            free(t.path);
            t.path = strdup(path);
            if (t.path == NULL) {
                goto nomem;
            }

            t.buf.n = 0;
        }

        if (t.gone) {
            continue;
        }

        v = gobi_versions_buf_push(&t.buf);
        if (v == NULL) {
            goto nomem;
        }

        v->version = gobi_store_mongodb_get_int(d, "version");
        v->ts = gobi_store_mongodb_get_int(d, "ts");
        v->deleted = bson_iter_init_find(&it, d, "deleted")
                     && bson_iter_as_bool(&it);
        v->moved = bson_iter_init_find(&it, d, "moved")
                   && bson_iter_as_bool(&it);
    }

    if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("versions", &err, NULL);
    }

    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_thin_path(st, &t, &b, policy, now);
    }

    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_batch_flush(&b);
    }

    goto done;

nomem:

    gobi_store_mongodb_set_err("mongodb: out of memory");
    rc = GOBI_STORE_ERROR;

done:

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);
    bson_destroy(&filter);

    *removed = b.done;
    gobi_store_mongodb_batch_free(&b);

    for (i = 0; rc == GOBI_STORE_OK && i < ngone; i++) {
        bson_init(&vf);
        BSON_APPEND_INT64(&vf, "vault", gone[i]);
        n = 0;
        rc = gobi_store_mongodb_delete(st, cl, "versions", &vf, &n);
        bson_destroy(&vf);

        *removed += n;
    }

    free(gone);
    free(t.path);
    gobi_versions_buf_free(&t.buf);

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/*
 * Schema 3: history.  A vault document without "history" predates the
 * versions collection (vault_create sets it).  Its history is backfilled
 * from what is still known, as the SQLite driver's to3 does: the events
 * still kept first (the versions that apply would have written), then the
 * file records (the current version of every path, the record's mtime as
 * its ts, no device).  Each is an insert that leaves a record already
 * there alone: one from the events, or one that a write applied meanwhile
 * wrote (and apply's upsert overwrites what the backfill guessed).  Then
 * the vault gets "history".  A backfill cut short runs again whole;
 * workers that start at once backfill at once, harmlessly.
 */

static gobi_store_rc_e
gobi_store_mongodb_backfill_version(gobi_store_t *st,
    gobi_store_mongodb_batch_t *b, int64_t vault, const char *path,
    const gobi_version_t *v)
{
    char            *key;
    bson_t           doc;
    gobi_store_rc_e  rc;

    key = gobi_store_mongodb_version_key(vault, path, v->version);

    bson_init(&doc);
    BSON_APPEND_UTF8(&doc, "_id", key);
    gobi_store_mongodb_version_fields(&doc, vault, path, v);
    rc = gobi_store_mongodb_batch_add(st, b, &doc, 0);
    bson_destroy(&doc);
    bson_free(key);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_backfill(gobi_store_t *st, mongoc_client_t *cl,
    int64_t vault)
{
    int                          round;
    bson_t                       filter;
    const char                  *path;
    bson_error_t                 err;
    const bson_t                *doc;
    gobi_event_t                 ev;
    gobi_version_t               v;
    gobi_store_rc_e              rc;
    mongoc_cursor_t             *cur;
    mongoc_collection_t         *coll;
    gobi_store_mongodb_batch_t   b;
    gobi_store_mongodb_state_t   s;

    static const char  *colls[] = { "events", "files" };

    gobi_store_mongodb_batch_init(st, cl, "versions", &b);

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "vault", vault);

    rc = GOBI_STORE_OK;

    for (round = 0; rc == GOBI_STORE_OK && round < 2; round++) {
        coll = mongoc_client_get_collection(cl, st->db, colls[round]);
        cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);

        while (rc == GOBI_STORE_OK && mongoc_cursor_next(cur, &doc)) {

            if (round == 0) {
                if (!gobi_store_mongodb_event_from(doc, &ev)) {
                    continue;
                }

                gobi_version_of_event(&ev, ev.path, &v);
                rc = gobi_store_mongodb_backfill_version(st, &b, vault,
                                                         ev.path, &v);

                if (rc == GOBI_STORE_OK && ev.from != NULL) {
                    gobi_version_of_event(&ev, ev.from, &v);
                    rc = gobi_store_mongodb_backfill_version(st, &b, vault,
                                                             ev.from, &v);
                }

                continue;
            }

            path = gobi_store_mongodb_get_str(doc, "path");
            if (path == NULL) {
                continue;
            }

            gobi_store_mongodb_record_state(doc, &s);

            memset(&v, 0, sizeof(gobi_version_t));
            v.version = s.version;
            memcpy(v.hash, s.hash, sizeof(v.hash));
            v.size = s.size;
            v.mtime = s.mtime;
            v.ts = s.mtime;
            v.deleted = s.deleted;

            rc = gobi_store_mongodb_backfill_version(st, &b, vault, path,
                                                     &v);
        }

        if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
            rc = gobi_store_mongodb_fail(colls[round], &err, NULL);
        }

        mongoc_cursor_destroy(cur);
        mongoc_collection_destroy(coll);

        /* the events' records go in before the files' guesses */

        if (rc == GOBI_STORE_OK) {
            rc = gobi_store_mongodb_batch_flush(&b);
        }
    }

    bson_destroy(&filter);
    gobi_store_mongodb_batch_free(&b);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_migrate_history(gobi_store_t *st, mongoc_client_t *cl)
{
    bson_t                filter, exists, opts, proj, upd, set;
    size_t                i, n, nalloc;
    int64_t              *ids, *p, matched;
    bson_error_t          err;
    const bson_t         *doc;
    gobi_store_rc_e       rc;
    mongoc_cursor_t      *cur;
    mongoc_collection_t  *coll;

    /* the vaults first: their documents change as they are done */

    bson_init(&filter);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "history", &exists);
    BSON_APPEND_BOOL(&exists, "$exists", false);
    bson_append_document_end(&filter, &exists);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "_id", 1);
    bson_append_document_end(&opts, &proj);

    coll = mongoc_client_get_collection(cl, st->db, "vaults");
    cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);

    ids = NULL;
    n = 0;
    nalloc = 0;
    rc = GOBI_STORE_OK;

    while (mongoc_cursor_next(cur, &doc)) {
        if (n == nalloc) {
            nalloc = nalloc ? nalloc * 2 : 64;
            p = realloc(ids, nalloc * sizeof(int64_t));
            if (p == NULL) {
                gobi_store_mongodb_set_err("mongodb: out of memory");
                rc = GOBI_STORE_ERROR;
                break;
            }
            ids = p;
        }

        ids[n++] = gobi_store_mongodb_get_int(doc, "_id");
    }

    if (rc == GOBI_STORE_OK && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail("vaults", &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);
    bson_destroy(&filter);

    for (i = 0; rc == GOBI_STORE_OK && i < n; i++) {
        rc = gobi_store_mongodb_backfill(st, cl, ids[i]);
        if (rc != GOBI_STORE_OK) {
            break;
        }

        bson_init(&filter);
        BSON_APPEND_INT64(&filter, "_id", ids[i]);
        bson_init(&upd);
        BSON_APPEND_DOCUMENT_BEGIN(&upd, "$set", &set);
        BSON_APPEND_BOOL(&set, "history", true);
        bson_append_document_end(&upd, &set);

        rc = gobi_store_mongodb_update(st, cl, "vaults", &filter, &upd, 0,
                                       &matched);
        bson_destroy(&upd);
        bson_destroy(&filter);
    }

    free(ids);

    return rc;
}



/* encryption at rest: the vaults' wrapped data keys */


static gobi_store_rc_e
gobi_store_mongodb_wrapped_check(const char *wrapped)
{
    if (wrapped == NULL || wrapped[0] == '\0') {
        gobi_store_mongodb_set_err("mongodb: no wrapped key");
        return GOBI_STORE_ERROR;
    }

    if (strlen(wrapped) >= GOBI_CRYPT_WRAPPED_MAX) {
        gobi_store_mongodb_set_err("mongodb: wrapped key too long");
        return GOBI_STORE_ERROR;
    }

    return GOBI_STORE_OK;
}


/*
 * A majority read: a key is used only once it cannot be rolled back, or
 * blobs sealed with it would be lost with it.  The loser of a race to add
 * one may therefore read NOT_FOUND for a moment after its EXISTS.
 */

static gobi_store_rc_e
gobi_store_mongodb_vault_key_get(gobi_store_t *st, int64_t vault,
    char *wrapped, size_t len)
{
    bson_t            filter, doc;
    const char       *text;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", vault);
    rc = gobi_store_mongodb_find_one(st, cl, "vault_keys", &filter, NULL, 1,
                                     &doc);
    bson_destroy(&filter);
    mongoc_client_pool_push(st->pool, cl);

    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    text = gobi_store_mongodb_get_str(&doc, "wrapped");

    /* a cut key would not open: say so instead */
    if (text == NULL || strlen(text) >= len) {
        gobi_store_mongodb_set_err("mongodb: vault_key_get: %s",
                                   text == NULL ? "a key without text"
                                                : "no room for the key");
        rc = GOBI_STORE_ERROR;

    } else {
        memcpy(wrapped, text, strlen(text) + 1);
    }

    bson_destroy(&doc);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_key_add(gobi_store_t *st, int64_t vault,
    const char *wrapped)
{
    bson_t            filter, doc;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    rc = gobi_store_mongodb_wrapped_check(wrapped);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    /* no key for a vault that is gone (the primary's latest view) */
    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", vault);
    rc = gobi_store_mongodb_find_one(st, cl, "vaults", &filter, NULL, 0,
                                     &doc);
    bson_destroy(&filter);

    if (rc == GOBI_STORE_OK) {
        bson_destroy(&doc);

        /* the unique _id: exactly one of racing adds lands, the others
         * get EXISTS */
        bson_init(&doc);
        BSON_APPEND_INT64(&doc, "_id", vault);
        BSON_APPEND_UTF8(&doc, "wrapped", wrapped);
        rc = gobi_store_mongodb_insert(st, cl, "vault_keys", &doc);
        bson_destroy(&doc);
    }

    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_key_swap(gobi_store_t *st, int64_t vault,
    const char *old_wrapped, const char *new_wrapped)
{
    bson_t            filter, upd, set;
    int64_t           matched;
    gobi_store_rc_e   rc;
    mongoc_client_t  *cl;

    rc = gobi_store_mongodb_wrapped_check(old_wrapped);
    if (rc == GOBI_STORE_OK) {
        rc = gobi_store_mongodb_wrapped_check(new_wrapped);
    }

    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    /* compare-and-set: the filter holds the text we replace */
    bson_init(&filter);
    BSON_APPEND_INT64(&filter, "_id", vault);
    BSON_APPEND_UTF8(&filter, "wrapped", old_wrapped);
    bson_init(&upd);
    BSON_APPEND_DOCUMENT_BEGIN(&upd, "$set", &set);
    BSON_APPEND_UTF8(&set, "wrapped", new_wrapped);
    bson_append_document_end(&upd, &set);

    matched = 0;
    rc = gobi_store_mongodb_update(st, cl, "vault_keys", &filter, &upd, 0,
                                   &matched);
    if (rc == GOBI_STORE_OK && matched == 0) {
        gobi_store_mongodb_set_err("mongodb: vault_key_swap: the key of "
                                   "vault %lld changed", (long long) vault);
        rc = GOBI_STORE_CONFLICT;
    }

    bson_destroy(&upd);
    bson_destroy(&filter);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


/* every document of coll by _id, to cb (the cursor stays on its client) */

typedef gobi_store_rc_e (*gobi_store_mongodb_each_pt)(gobi_store_t *st,
    mongoc_client_t *cl, const bson_t *doc, void *data, int *stop);


static gobi_store_rc_e
gobi_store_mongodb_each(gobi_store_t *st, const char *coll,
    gobi_store_mongodb_each_pt each, void *data)
{
    int                   stop;
    bson_t                filter, opts, sort;
    bson_error_t          err;
    const bson_t         *doc;
    gobi_store_rc_e       rc;
    mongoc_cursor_t      *cur;
    mongoc_client_t      *cl;
    mongoc_collection_t  *c;

    cl = gobi_store_mongodb_pop(st);
    if (cl == NULL) {
        return GOBI_STORE_UNAVAILABLE;
    }

    bson_init(&filter);
    bson_init(&opts);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(&opts, &sort);
    gobi_store_mongodb_read_opts(st, &opts, 1);

    c = mongoc_client_get_collection(cl, st->db, coll);
    cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);

    rc = GOBI_STORE_OK;
    stop = 0;

    while (!stop && mongoc_cursor_next(cur, &doc)) {
        rc = each(st, cl, doc, data, &stop);
        if (rc != GOBI_STORE_OK) {
            break;
        }
    }

    if (rc == GOBI_STORE_OK && !stop && mongoc_cursor_error(cur, &err)) {
        rc = gobi_store_mongodb_fail(coll, &err, NULL);
    }

    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    bson_destroy(&opts);
    bson_destroy(&filter);
    mongoc_client_pool_push(st->pool, cl);

    return rc;
}


typedef struct {
    int                     (*cb)(void *data, int64_t vault,
                                  const char *wrapped);
    void                     *data;
} gobi_store_mongodb_key_list_t;


static gobi_store_rc_e
gobi_store_mongodb_key_each(gobi_store_t *st, mongoc_client_t *cl,
    const bson_t *doc, void *data, int *stop)
{
    const char                     *text;
    gobi_store_mongodb_key_list_t  *kl = data;

    (void) st;
    (void) cl;

    text = gobi_store_mongodb_get_str(doc, "wrapped");
    *stop = kl->cb(kl->data, gobi_store_mongodb_get_int(doc, "_id"),
                   text != NULL ? text : "") != 0;

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_key_list(gobi_store_t *st,
    int (*cb)(void *data, int64_t vault, const char *wrapped), void *data)
{
    gobi_store_mongodb_key_list_t  kl;

    kl.cb = cb;
    kl.data = data;

    return gobi_store_mongodb_each(st, "vault_keys",
                                   gobi_store_mongodb_key_each, &kl);
}


typedef struct {
    gobi_vault_cb             cb;
    void                     *data;
} gobi_store_mongodb_vault_all_t;


static gobi_store_rc_e
gobi_store_mongodb_vault_each(gobi_store_t *st, mongoc_client_t *cl,
    const bson_t *doc, void *data, int *stop)
{
    gobi_vault_t                     v;
    gobi_store_rc_e                  rc;
    gobi_store_mongodb_vault_all_t  *va = data;

    rc = gobi_store_mongodb_vault_fill(st, cl, doc, &v);

    if (rc == GOBI_STORE_OK) {
        *stop = va->cb(va->data, &v) != 0;
    }

    return rc;
}


static gobi_store_rc_e
gobi_store_mongodb_vault_all(gobi_store_t *st, gobi_vault_cb cb, void *data)
{
    gobi_store_mongodb_vault_all_t  va;

    va.cb = cb;
    va.data = data;

    return gobi_store_mongodb_each(st, "vaults",
                                   gobi_store_mongodb_vault_each, &va);
}


const gobi_store_driver_t  gobi_store_mongodb = {
    "mongodb",
    gobi_store_mongodb_open,
    gobi_store_mongodb_init_schema,
    gobi_store_mongodb_close,
    gobi_store_mongodb_errmsg,
    gobi_store_mongodb_user_create,
    gobi_store_mongodb_user_get,
    gobi_store_mongodb_user_get_by_id,
    gobi_store_mongodb_user_set_password,
    gobi_store_mongodb_user_delete,
    gobi_store_mongodb_token_create,
    gobi_store_mongodb_token_get,
    gobi_store_mongodb_token_delete,
    gobi_store_mongodb_token_delete_user,
    gobi_store_mongodb_tokens_prune,
    gobi_store_mongodb_vault_create,
    gobi_store_mongodb_vault_get,
    gobi_store_mongodb_vault_get_by_id,
    gobi_store_mongodb_vault_list,
    gobi_store_mongodb_vault_delete,
    gobi_store_mongodb_vault_set_strategy,
    gobi_store_mongodb_file_get,
    gobi_store_mongodb_file_list,
    gobi_store_mongodb_write,
    gobi_store_mongodb_events_since,
    gobi_store_mongodb_events_prune,
    gobi_store_mongodb_blob_referenced,
    gobi_store_mongodb_version_list,
    gobi_store_mongodb_version_get,
    gobi_store_mongodb_trash_list,
    gobi_store_mongodb_versions_at,
    gobi_store_mongodb_delete_stats,
    gobi_store_mongodb_versions_prune,
    gobi_store_mongodb_vault_key_get,
    gobi_store_mongodb_vault_key_add,
    gobi_store_mongodb_vault_key_swap,
    gobi_store_mongodb_vault_key_list,
    gobi_store_mongodb_vault_all
};
