/*
 * Copyright (C) the gobi authors
 *
 * The SQLite metadata store: one database file in WAL mode, shared by the
 * thread-pool threads of every worker.
 *
 * Each call borrows a connection from a per-store pool and gives it back
 * when done, so a connection is only ever used by one thread at a time and
 * there are as many connections as there were concurrent calls (the pool
 * threads).  A pool, not a connection keyed by pthread_self(), because a
 * callback may call the store again while its caller still holds a
 * statement open, and because threads that come and go must not leave
 * connections behind.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gobi_crypt.h"
#include "gobi_hash.h"
#include "gobi_store.h"


#define GOBI_STORE_SQLITE_SCHEMA   4
#define GOBI_STORE_SQLITE_BUSY_MS  10000
#define GOBI_STORE_SQLITE_ERRLEN   512

/* gobi_store_sqlite_begin(): which transaction */
#define GOBI_SQLITE_READ           0
#define GOBI_SQLITE_WRITE          1


typedef enum {
    GOBI_SQLITE_BEGIN = 0,
    GOBI_SQLITE_BEGIN_IMMEDIATE,
    GOBI_SQLITE_COMMIT,
    GOBI_SQLITE_ROLLBACK,
    GOBI_SQLITE_SAVEPOINT,
    GOBI_SQLITE_RELEASE,
    GOBI_SQLITE_ROLLBACK_TO,
    GOBI_SQLITE_USER_INSERT,
    GOBI_SQLITE_USER_BY_NAME,
    GOBI_SQLITE_USER_BY_ID,
    GOBI_SQLITE_USER_TAKEN,
    GOBI_SQLITE_USER_SET_PASSWORD,
    GOBI_SQLITE_USER_DELETE_EVENTS,
    GOBI_SQLITE_USER_DELETE_FILES,
    GOBI_SQLITE_USER_DELETE_VAULTS,
    GOBI_SQLITE_USER_DELETE_TOKENS,
    GOBI_SQLITE_USER_DELETE,
    GOBI_SQLITE_TOKEN_INSERT,
    GOBI_SQLITE_TOKEN_EXPIRE,
    GOBI_SQLITE_TOKEN_GET,
    GOBI_SQLITE_TOKEN_DELETE,
    GOBI_SQLITE_TOKEN_DELETE_USER,
    GOBI_SQLITE_TOKEN_PRUNE,
    GOBI_SQLITE_VAULT_INSERT,
    GOBI_SQLITE_VAULT_BY_NAME,
    GOBI_SQLITE_VAULT_BY_ID,
    GOBI_SQLITE_VAULT_LIST,
    GOBI_SQLITE_VAULT_HEAD,
    GOBI_SQLITE_VAULT_SET_HEAD,
    GOBI_SQLITE_VAULT_DELETE,
    GOBI_SQLITE_VAULT_DELETE_FILES,
    GOBI_SQLITE_VAULT_DELETE_EVENTS,
    GOBI_SQLITE_FILE_GET,
    GOBI_SQLITE_FILE_LIST,
    GOBI_SQLITE_FILE_PUT,
    GOBI_SQLITE_EVENT_INSERT,
    GOBI_SQLITE_EVENTS_SINCE,
    GOBI_SQLITE_PRUNE_SCAN,
    GOBI_SQLITE_PRUNE_DELETE,
    GOBI_SQLITE_BLOB_REF,
    GOBI_SQLITE_VAULT_SET_STRATEGY,
    GOBI_SQLITE_USER_DELETE_VERSIONS,
    GOBI_SQLITE_VAULT_DELETE_VERSIONS,
    GOBI_SQLITE_VERSION_PUT,
    GOBI_SQLITE_VERSION_LIST,
    GOBI_SQLITE_VERSION_GET,
    GOBI_SQLITE_TRASH_LIST,
    GOBI_SQLITE_VERSIONS_AT,
    GOBI_SQLITE_DELETE_COUNT,
    GOBI_SQLITE_LIVE_COUNT,
    GOBI_SQLITE_VERSIONS_SCAN,
    GOBI_SQLITE_VERSION_DROP,
    GOBI_SQLITE_VAULT_KEY_GET,
    GOBI_SQLITE_VAULT_KEY_INSERT,
    GOBI_SQLITE_VAULT_KEY_SWAP,
    GOBI_SQLITE_VAULT_KEY_LIST,
    GOBI_SQLITE_VAULT_DELETE_KEY,
    GOBI_SQLITE_USER_DELETE_KEYS,
    GOBI_SQLITE_VAULT_ALL,
    GOBI_SQLITE_NSTMT
} gobi_store_sqlite_stmt_e;


typedef struct {
    const char  *name;                     /* for error messages */
    const char  *sql;
} gobi_store_sqlite_sql_t;


typedef struct gobi_store_sqlite_conn_s  gobi_store_sqlite_conn_t;
typedef struct gobi_store_sqlite_gw_s    gobi_store_sqlite_gw_t;

struct gobi_store_sqlite_conn_s {
    sqlite3                    *db;
    sqlite3_stmt               *stmt[GOBI_SQLITE_NSTMT];
    gobi_store_sqlite_conn_t   *next;
};


struct gobi_store_s {
    char                       *path;
    pid_t                       pid;       /* the process owning `idle` */
    pthread_mutex_t             lock;      /* guards idle */
    /*
     * Queues this process' writers in front of BEGIN IMMEDIATE: a mutex
     * hands the lock over at once, SQLite's busy handler polls with sleeps.
     * Other processes still wait through busy_timeout.
     */
    pthread_mutex_t             wlock;
    gobi_store_sqlite_conn_t   *idle;

    /*
     * Group commit of write(): the writes that queue while one thread
     * commits go in together, in one transaction and one WAL sync, each
     * in a savepoint of its own (see gobi_store_sqlite_write()).
     */
    pthread_mutex_t             glock;
    pthread_cond_t              gdone;
    gobi_store_sqlite_gw_t     *gqueue;
    gobi_store_sqlite_gw_t    **gqueue_last;
    int                         gleading;
};


/* one write() waiting for its group's commit */
struct gobi_store_sqlite_gw_s {
    int64_t                     vault;
    const gobi_write_t         *w;
    gobi_event_t               *ev;
    gobi_file_t                *current;
    gobi_store_rc_e             rc;
    int                         done;
    char                       *err;         /* the message of a failure */
    gobi_store_sqlite_gw_t     *next;
};

/* at most this many writes share a commit: a bound on the others' wait */
#define GOBI_STORE_SQLITE_GROUP  64


#define GOBI_SQLITE_VAULT_COLUMNS                                            \
    "SELECT v.id, v.owner, v.name, v.created_at, v.head_seq,"                \
    " COALESCE((SELECT e.seq FROM events e WHERE e.vault = v.id"             \
    " ORDER BY e.seq LIMIT 1), 0), v.strategy FROM vaults v "

#define GOBI_SQLITE_VERSION_COLUMNS                                          \
    "SELECT version, hash, size, mtime, ts, device, deleted, moved "

#define GOBI_SQLITE_USER_COLUMNS                                             \
    "SELECT id, username, pwhash FROM users "


static const gobi_store_sqlite_sql_t  gobi_store_sqlite_sql[] = {

    [GOBI_SQLITE_BEGIN] = { "begin", "BEGIN" },
    [GOBI_SQLITE_BEGIN_IMMEDIATE] = { "begin", "BEGIN IMMEDIATE" },
    [GOBI_SQLITE_COMMIT] = { "commit", "COMMIT" },
    [GOBI_SQLITE_ROLLBACK] = { "rollback", "ROLLBACK" },
    [GOBI_SQLITE_SAVEPOINT] = { "savepoint", "SAVEPOINT w" },
    [GOBI_SQLITE_RELEASE] = { "release", "RELEASE w" },
    [GOBI_SQLITE_ROLLBACK_TO] = { "rollback", "ROLLBACK TO w" },

    [GOBI_SQLITE_USER_INSERT] = { "user_create",
      "INSERT INTO users (username, pwhash, created_at) VALUES (?1, ?2, ?3)" },
    /*
     * NOCASE folds ASCII letters, as the contract says.  Names that differ
     * only in case and predate schema 2 both stay: the exact one wins.
     */
    [GOBI_SQLITE_USER_BY_NAME] = { "user_get",
      GOBI_SQLITE_USER_COLUMNS "WHERE username = ?1 COLLATE NOCASE"
      " ORDER BY username = ?1 DESC, id LIMIT 1" },
    [GOBI_SQLITE_USER_BY_ID] = { "user_get_by_id",
      GOBI_SQLITE_USER_COLUMNS "WHERE id = ?1" },
    [GOBI_SQLITE_USER_TAKEN] = { "user_create",
      "SELECT 1 FROM users WHERE username = ?1 COLLATE NOCASE LIMIT 1" },
    [GOBI_SQLITE_USER_SET_PASSWORD] = { "user_set_password",
      "UPDATE users SET pwhash = ?2 WHERE id = ?1" },
    [GOBI_SQLITE_USER_DELETE_EVENTS] = { "user_delete",
      "DELETE FROM events WHERE vault IN"
      " (SELECT id FROM vaults WHERE owner = ?1)" },
    [GOBI_SQLITE_USER_DELETE_FILES] = { "user_delete",
      "DELETE FROM files WHERE vault IN"
      " (SELECT id FROM vaults WHERE owner = ?1)" },
    [GOBI_SQLITE_USER_DELETE_VAULTS] = { "user_delete",
      "DELETE FROM vaults WHERE owner = ?1" },
    [GOBI_SQLITE_USER_DELETE_TOKENS] = { "user_delete",
      "DELETE FROM tokens WHERE user_id = ?1" },
    [GOBI_SQLITE_USER_DELETE] = { "user_delete",
      "DELETE FROM users WHERE id = ?1" },

    [GOBI_SQLITE_TOKEN_INSERT] = { "token_create",
      "INSERT INTO tokens (hash, user_id, created_at, expires_at)"
      " VALUES (?1, ?2, ?3, ?4)" },
    [GOBI_SQLITE_TOKEN_EXPIRE] = { "token_create",
      "DELETE FROM tokens WHERE user_id = ?1 AND expires_at <= ?2" },
    [GOBI_SQLITE_TOKEN_GET] = { "token_get",
      "SELECT u.id, u.username, u.pwhash, t.expires_at"
      " FROM tokens t JOIN users u ON u.id = t.user_id"
      " WHERE t.hash = ?1 AND t.expires_at > ?2" },
    [GOBI_SQLITE_TOKEN_DELETE] = { "token_delete",
      "DELETE FROM tokens WHERE hash = ?1" },
    [GOBI_SQLITE_TOKEN_DELETE_USER] = { "token_delete_user",
      "DELETE FROM tokens WHERE user_id = ?1 AND (?2 IS NULL OR hash <> ?2)" },
    [GOBI_SQLITE_TOKEN_PRUNE] = { "tokens_prune",
      "DELETE FROM tokens WHERE expires_at <= ?1" },

    [GOBI_SQLITE_VAULT_INSERT] = { "vault_create",
      "INSERT INTO vaults (owner, name, created_at, head_seq)"
      " VALUES (?1, ?2, ?3, 0)" },
    [GOBI_SQLITE_VAULT_BY_NAME] = { "vault_get",
      GOBI_SQLITE_VAULT_COLUMNS "WHERE v.owner = ?1 AND v.name = ?2" },
    [GOBI_SQLITE_VAULT_BY_ID] = { "vault_get_by_id",
      GOBI_SQLITE_VAULT_COLUMNS "WHERE v.id = ?1" },
    [GOBI_SQLITE_VAULT_LIST] = { "vault_list",
      GOBI_SQLITE_VAULT_COLUMNS "WHERE v.owner = ?1 ORDER BY v.name" },
    [GOBI_SQLITE_VAULT_HEAD] = { "vault_head",
      "SELECT head_seq, COALESCE((SELECT seq FROM events WHERE vault = ?1"
      " ORDER BY seq LIMIT 1), 0) FROM vaults WHERE id = ?1" },
    [GOBI_SQLITE_VAULT_SET_HEAD] = { "write",
      "UPDATE vaults SET head_seq = ?2 WHERE id = ?1" },
    [GOBI_SQLITE_VAULT_DELETE] = { "vault_delete",
      "DELETE FROM vaults WHERE id = ?1" },
    [GOBI_SQLITE_VAULT_DELETE_FILES] = { "vault_delete",
      "DELETE FROM files WHERE vault = ?1" },
    [GOBI_SQLITE_VAULT_DELETE_EVENTS] = { "vault_delete",
      "DELETE FROM events WHERE vault = ?1" },

    [GOBI_SQLITE_FILE_GET] = { "file_get",
      "SELECT path, version, hash, size, mtime, deleted FROM files"
      " WHERE vault = ?1 AND path = ?2" },
    /*
     * The prefix is checked in C: rows sort bytewise, so the matches are
     * the run that starts at the prefix itself.  ?2 is the one lower
     * bound of the index range, the prefix or the page cursor, whichever
     * is greater (a path equal to the cursor is skipped in C).
     */
    [GOBI_SQLITE_FILE_LIST] = { "file_list",
      "SELECT path, version, hash, size, mtime, deleted FROM files"
      " WHERE vault = ?1 AND path >= ?2 AND (?3 OR deleted = 0)"
      " ORDER BY path LIMIT ?4" },
    [GOBI_SQLITE_FILE_PUT] = { "write",
      "INSERT INTO files (vault, path, version, hash, size, mtime, deleted)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
      " ON CONFLICT (vault, path) DO UPDATE SET version = excluded.version,"
      " hash = excluded.hash, size = excluded.size, mtime = excluded.mtime,"
      " deleted = excluded.deleted" },

    [GOBI_SQLITE_EVENT_INSERT] = { "write",
      "INSERT INTO events (vault, seq, type, path, from_path, version, hash,"
      " size, mtime, device, ts)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?2, ?6, ?7, ?8, ?9, ?10)" },
    [GOBI_SQLITE_EVENTS_SINCE] = { "events_since",
      "SELECT seq, type, path, from_path, version, hash, size, mtime,"
      " device, ts FROM events WHERE vault = ?1 AND seq > ?2"
      " ORDER BY seq LIMIT ?3" },
    [GOBI_SQLITE_PRUNE_SCAN] = { "events_prune",
      "SELECT vault, max(seq) FROM events WHERE ts < ?1 GROUP BY vault" },
    [GOBI_SQLITE_PRUNE_DELETE] = { "events_prune",
      "DELETE FROM events WHERE vault = ?1 AND seq <= ?2"
      " AND seq < (SELECT head_seq FROM vaults WHERE id = ?1)" },

    [GOBI_SQLITE_BLOB_REF] = { "blob_referenced",
      "SELECT 1 FROM files WHERE vault = ?1 AND hash = ?2 AND deleted = 0"
      " UNION ALL SELECT 1 FROM versions WHERE vault = ?1 AND hash = ?2"
      " AND deleted = 0 LIMIT 1" },

    [GOBI_SQLITE_VAULT_SET_STRATEGY] = { "vault_set_strategy",
      "UPDATE vaults SET strategy = ?2 WHERE id = ?1" },
    [GOBI_SQLITE_USER_DELETE_VERSIONS] = { "user_delete",
      "DELETE FROM versions WHERE vault IN"
      " (SELECT id FROM vaults WHERE owner = ?1)" },
    [GOBI_SQLITE_VAULT_DELETE_VERSIONS] = { "vault_delete",
      "DELETE FROM versions WHERE vault = ?1" },

    [GOBI_SQLITE_VERSION_PUT] = { "write",
      "INSERT OR REPLACE INTO versions (vault, path, version, hash, size,"
      " mtime, ts, device, deleted, moved)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)" },
    [GOBI_SQLITE_VERSION_LIST] = { "version_list",
      GOBI_SQLITE_VERSION_COLUMNS "FROM versions"
      " WHERE vault = ?1 AND path = ?2 AND version < ?3"
      " ORDER BY version DESC LIMIT ?4" },
    [GOBI_SQLITE_VERSION_GET] = { "version_get",
      GOBI_SQLITE_VERSION_COLUMNS "FROM versions"
      " WHERE vault = ?1 AND path = ?2 AND version = ?3" },
    /* a tombstone, the version that made it, the newest content before */
    [GOBI_SQLITE_TRASH_LIST] = { "trash_list",
      "SELECT f.path, d.version, d.hash, d.size, d.mtime, d.ts, d.device,"
      " d.deleted, d.moved, l.version, l.hash, l.size, l.mtime, l.ts,"
      " l.device, l.deleted, l.moved"
      " FROM files f"
      " JOIN versions d ON d.vault = f.vault AND d.path = f.path"
      "  AND d.version = f.version"
      " JOIN versions l ON l.vault = f.vault AND l.path = f.path"
      "  AND l.version = (SELECT max(version) FROM versions"
      "   WHERE vault = f.vault AND path = f.path AND deleted = 0)"
      " WHERE f.vault = ?1 AND f.deleted = 1 AND f.path > ?2"
      "  AND d.moved = 0"
      " ORDER BY f.path LIMIT ?3" },
    /* the paths changed after ?2, each with its newest version <= ?2 */
    [GOBI_SQLITE_VERSIONS_AT] = { "versions_at",
      "SELECT p.path, v.version, v.hash, v.size, v.mtime, v.ts, v.device,"
      " v.deleted, v.moved FROM"
      " (SELECT DISTINCT path FROM versions"
      "  WHERE vault = ?1 AND version > ?2 AND path > ?3"
      "  ORDER BY path LIMIT ?4) p"
      " LEFT JOIN versions v ON v.vault = ?1 AND v.path = p.path"
      "  AND v.version = (SELECT max(version) FROM versions"
      "   WHERE vault = ?1 AND path = p.path AND version <= ?2)"
      " ORDER BY p.path" },
    [GOBI_SQLITE_DELETE_COUNT] = { "delete_stats",
      "SELECT count(*) FROM events WHERE ts >= ?3 AND vault = ?1"
      " AND type = 'delete' AND device IS ?2" },
    [GOBI_SQLITE_LIVE_COUNT] = { "delete_stats",
      "SELECT count(*) FROM files WHERE vault = ?1 AND deleted = 0" },
    [GOBI_SQLITE_VERSIONS_SCAN] = { "versions_prune",
      "SELECT vault, path, version, ts, deleted, moved FROM versions"
      " WHERE (vault, path) > (?1, ?2) ORDER BY vault, path, version" },
    [GOBI_SQLITE_VERSION_DROP] = { "versions_prune",
      "DELETE FROM versions WHERE vault = ?1 AND path = ?2 AND version = ?3" },

    [GOBI_SQLITE_VAULT_KEY_GET] = { "vault_key_get",
      "SELECT wrapped FROM vault_keys WHERE vault_id = ?1" },
    [GOBI_SQLITE_VAULT_KEY_INSERT] = { "vault_key_add",
      "INSERT INTO vault_keys (vault_id, wrapped) VALUES (?1, ?2)" },
    [GOBI_SQLITE_VAULT_KEY_SWAP] = { "vault_key_swap",
      "UPDATE vault_keys SET wrapped = ?3 WHERE vault_id = ?1"
      " AND wrapped = ?2" },
    [GOBI_SQLITE_VAULT_KEY_LIST] = { "vault_key_list",
      "SELECT vault_id, wrapped FROM vault_keys ORDER BY vault_id" },
    [GOBI_SQLITE_VAULT_DELETE_KEY] = { "vault_delete",
      "DELETE FROM vault_keys WHERE vault_id = ?1" },
    [GOBI_SQLITE_USER_DELETE_KEYS] = { "user_delete",
      "DELETE FROM vault_keys WHERE vault_id IN"
      " (SELECT id FROM vaults WHERE owner = ?1)" },
    [GOBI_SQLITE_VAULT_ALL] = { "vault_all",
      GOBI_SQLITE_VAULT_COLUMNS "ORDER BY v.id" },
};


/*
 * Version 4.  Every statement is idempotent, so running the whole script
 * migrates an older database; what cannot be written so (version 3's
 * ALTER TABLE) adds steps keyed on PRAGMA user_version.
 */
static const char  gobi_store_sqlite_schema[] =
    /* AUTOINCREMENT: an id never comes back after a delete (blob folders
     * and bus channels are keyed by it, live sessions know it) */
    "CREATE TABLE IF NOT EXISTS users ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " username TEXT NOT NULL UNIQUE,"
    " pwhash TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"

    "CREATE TABLE IF NOT EXISTS tokens ("
    " hash TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS tokens_user ON tokens (user_id, expires_at);"

    "CREATE TABLE IF NOT EXISTS vaults ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " owner INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " head_seq INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (owner, name));"

    "CREATE TABLE IF NOT EXISTS files ("
    " vault INTEGER NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,"
    " path TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " hash TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " mtime INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (vault, path)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS files_hash ON files (vault, hash)"
    " WHERE deleted = 0;"

    "CREATE TABLE IF NOT EXISTS events ("
    " vault INTEGER NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " path TEXT NOT NULL,"
    " from_path TEXT,"
    " version INTEGER NOT NULL,"
    " hash TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " mtime INTEGER NOT NULL,"
    " device TEXT,"
    " ts INTEGER NOT NULL,"
    " PRIMARY KEY (vault, seq)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS events_ts ON events (ts);"

    /* version 2: usernames unique case-insensitively (checked by
     * user_create in its write transaction), expired tokens pruned */
    "CREATE INDEX IF NOT EXISTS users_fold"
    " ON users (username COLLATE NOCASE);"
    "CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens (expires_at);"

    /* version 3: history (written with each event, see gobi_store.h) */
    "CREATE TABLE IF NOT EXISTS versions ("
    " vault INTEGER NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,"
    " path TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " hash TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " mtime INTEGER NOT NULL,"
    " ts INTEGER NOT NULL,"
    " device TEXT,"
    " deleted INTEGER NOT NULL,"
    " moved INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (vault, path, version)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS versions_seq ON versions (vault, version);"
    "CREATE INDEX IF NOT EXISTS versions_hash ON versions (vault, hash)"
    " WHERE deleted = 0;"

    /* version 4: the vaults' wrapped data keys (encryption at rest); the
     * primary key makes the first of racing vault_key_adds the one */
    "CREATE TABLE IF NOT EXISTS vault_keys ("
    " vault_id INTEGER PRIMARY KEY"
    "  REFERENCES vaults (id) ON DELETE CASCADE,"
    " wrapped TEXT NOT NULL);";


/*
 * From version 2 to 3, once (ALTER TABLE is not idempotent): the vault's
 * strategy, and the history of what the log and the records still know.
 */
static const char  gobi_store_sqlite_to3[] =
    "ALTER TABLE vaults ADD COLUMN strategy INTEGER NOT NULL DEFAULT 0;"
    "INSERT OR IGNORE INTO versions"
    " SELECT vault, path, seq, hash, size, mtime, ts, device,"
    " type = 'delete', 0 FROM events;"
    "INSERT OR IGNORE INTO versions"
    " SELECT vault, from_path, seq, '', 0, ts, ts, device, 1, 1 FROM events"
    " WHERE type = 'rename';"
    "INSERT OR IGNORE INTO versions"
    " SELECT vault, path, version, hash, size, mtime, mtime, NULL, deleted, 0"
    " FROM files;";


static __thread char  gobi_store_sqlite_errbuf[GOBI_STORE_SQLITE_ERRLEN];


static gobi_store_rc_e
gobi_store_sqlite_fail(sqlite3 *db, int rc, const char *what)
{
    int  err;

    err = db ? sqlite3_system_errno(db) : 0;

    if (err && (rc & 0xff) == SQLITE_IOERR) {
        snprintf(gobi_store_sqlite_errbuf, GOBI_STORE_SQLITE_ERRLEN,
                 "sqlite: %s: %s (%d: %s)", what,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc,
                 strerror(err));

    } else {
        snprintf(gobi_store_sqlite_errbuf, GOBI_STORE_SQLITE_ERRLEN,
                 "sqlite: %s: %s (%d)", what,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    }

    switch (rc & 0xff) {

    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return GOBI_STORE_UNAVAILABLE;

    default:
        return GOBI_STORE_ERROR;
    }
}


static gobi_store_rc_e
gobi_store_sqlite_invalid(const char *what, const char *why)
{
    snprintf(gobi_store_sqlite_errbuf, GOBI_STORE_SQLITE_ERRLEN,
             "sqlite: %s: %s", what, why);

    return GOBI_STORE_ERROR;
}


static void
gobi_store_sqlite_copy(char *dst, size_t size, const unsigned char *src)
{
    size_t  n;

    if (src == NULL) {
        dst[0] = '\0';
        return;
    }

    n = strlen((const char *) src);
    if (n >= size) {
        n = size - 1;
    }

    memcpy(dst, src, n);
    dst[n] = '\0';
}


static void
gobi_store_sqlite_conn_free(gobi_store_sqlite_conn_t *c)
{
    int  i;

    for (i = 0; i < GOBI_SQLITE_NSTMT; i++) {
        sqlite3_finalize(c->stmt[i]);
    }

    sqlite3_close_v2(c->db);
    free(c);
}


static gobi_store_rc_e
gobi_store_sqlite_connect(gobi_store_t *st, gobi_store_sqlite_conn_t **out)
{
    int                        rc, err;
    int                        tries;
    const char                *mode;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    c = calloc(1, sizeof(gobi_store_sqlite_conn_t));
    if (c == NULL) {
        return gobi_store_sqlite_invalid("open", "out of memory");
    }

    rc = sqlite3_open_v2(st->path, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        err = c->db ? sqlite3_system_errno(c->db) : 0;
        snprintf(gobi_store_sqlite_errbuf, GOBI_STORE_SQLITE_ERRLEN,
                 "sqlite: cannot open database \"%s\": %s%s%s%s",
                 st->path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc),
                 err ? " (" : "", err ? strerror(err) : "", err ? ")" : "");
        grc = GOBI_STORE_ERROR;
        goto failed;
    }

    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, GOBI_STORE_SQLITE_BUSY_MS);

    /* WAL lets readers go on while one writer commits */

    rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &stmt,
                            NULL);
    if (rc == SQLITE_OK) {
        /*
         * Switching a new database to WAL does not wait in the busy
         * handler: workers starting together retry here instead.
         */
        for (tries = 0; tries < GOBI_STORE_SQLITE_BUSY_MS / 10; tries++) {
            rc = sqlite3_step(stmt);

            if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
                break;
            }

            sqlite3_reset(stmt);
            usleep(10000);
        }

        if (rc == SQLITE_ROW) {
            mode = (const char *) sqlite3_column_text(stmt, 0);

            if (mode == NULL || strcmp(mode, "wal") != 0) {
                snprintf(gobi_store_sqlite_errbuf, GOBI_STORE_SQLITE_ERRLEN,
                         "sqlite: database \"%s\" cannot use WAL mode "
                         "(journal_mode is \"%s\")",
                         st->path, mode ? mode : "");
                sqlite3_finalize(stmt);
                grc = GOBI_STORE_ERROR;
                goto failed;
            }

            rc = SQLITE_OK;
        }
    }

    if (rc != SQLITE_OK) {
        grc = gobi_store_sqlite_fail(c->db, rc, st->path);
        sqlite3_finalize(stmt);
        goto failed;
    }

    sqlite3_finalize(stmt);

    /* synchronous=FULL: a committed write survives a power loss */

    rc = sqlite3_exec(c->db, "PRAGMA synchronous = FULL;"
                             "PRAGMA foreign_keys = ON;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        grc = gobi_store_sqlite_fail(c->db, rc, st->path);
        goto failed;
    }

    *out = c;

    return GOBI_STORE_OK;

failed:

    gobi_store_sqlite_conn_free(c);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_get(gobi_store_t *st, gobi_store_sqlite_conn_t **out)
{
    gobi_store_sqlite_conn_t  *c;

    pthread_mutex_lock(&st->lock);

    /*
     * Connections must not cross a fork (SQLite's rule); a child drops
     * what it inherited, without closing, as the parent still owns it.
     */

    if (st->pid != getpid()) {
        st->pid = getpid();
        st->idle = NULL;
    }

    c = st->idle;
    if (c) {
        st->idle = c->next;
    }

    pthread_mutex_unlock(&st->lock);

    if (c) {
        *out = c;
        return GOBI_STORE_OK;
    }

    return gobi_store_sqlite_connect(st, out);
}


static void
gobi_store_sqlite_put(gobi_store_t *st, gobi_store_sqlite_conn_t *c)
{
    /* an error path that left a transaction open must not leak it */

    if (!sqlite3_get_autocommit(c->db)) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);

        if (!sqlite3_get_autocommit(c->db)) {
            gobi_store_sqlite_conn_free(c);
            return;
        }
    }

    pthread_mutex_lock(&st->lock);

    if (st->pid == getpid()) {
        c->next = st->idle;
        st->idle = c;
        c = NULL;
    }

    pthread_mutex_unlock(&st->lock);

    if (c) {
        gobi_store_sqlite_conn_free(c);
    }
}


/* prepared on first use, kept for the connection's life */

static gobi_store_rc_e
gobi_store_sqlite_stmt(gobi_store_sqlite_conn_t *c,
    gobi_store_sqlite_stmt_e id, sqlite3_stmt **stmt)
{
    int  rc;

    if (c->stmt[id] == NULL) {
        rc = sqlite3_prepare_v3(c->db, gobi_store_sqlite_sql[id].sql, -1,
                                SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
                                NULL);
        if (rc != SQLITE_OK) {
            *stmt = NULL;
            return gobi_store_sqlite_fail(c->db, rc,
                                          gobi_store_sqlite_sql[id].name);
        }
    }

    *stmt = c->stmt[id];

    return GOBI_STORE_OK;
}


/* a statement left unreset would hold its read snapshot open */

static void
gobi_store_sqlite_reset(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}


/* steps a bound statement once: SQLITE_ROW or SQLITE_DONE, else fails */

static gobi_store_rc_e
gobi_store_sqlite_step(gobi_store_sqlite_conn_t *c, sqlite3_stmt *stmt,
    gobi_store_sqlite_stmt_e id, int *row)
{
    int  rc;

    if (row) {
        *row = 0;
    }

    rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        if (row) {
            *row = (rc == SQLITE_ROW);
        }
        return GOBI_STORE_OK;
    }

    return gobi_store_sqlite_fail(c->db, rc, gobi_store_sqlite_sql[id].name);
}


/* runs an unbound statement (BEGIN, COMMIT, ROLLBACK) */

static gobi_store_rc_e
gobi_store_sqlite_run(gobi_store_sqlite_conn_t *c,
    gobi_store_sqlite_stmt_e id)
{
    sqlite3_stmt     *stmt;
    gobi_store_rc_e   rc;

    rc = gobi_store_sqlite_stmt(c, id, &stmt);
    if (rc != GOBI_STORE_OK) {
        return rc;
    }

    rc = gobi_store_sqlite_step(c, stmt, id, NULL);
    gobi_store_sqlite_reset(stmt);

    return rc;
}


/* steps a bound single-row query: NOT_FOUND when it has no row */

static gobi_store_rc_e
gobi_store_sqlite_one(gobi_store_sqlite_conn_t *c, sqlite3_stmt *stmt,
    gobi_store_sqlite_stmt_e id)
{
    int               row;
    gobi_store_rc_e   grc;

    grc = gobi_store_sqlite_step(c, stmt, id, &row);

    if (grc == GOBI_STORE_OK && !row) {
        return GOBI_STORE_NOT_FOUND;
    }

    return grc;
}


/*
 * Steps a bound INSERT: a key already taken is EXISTS, a missing parent
 * row (a foreign key) NOT_FOUND.
 */

static gobi_store_rc_e
gobi_store_sqlite_insert(gobi_store_sqlite_conn_t *c, sqlite3_stmt *stmt,
    gobi_store_sqlite_stmt_e id)
{
    int  rc;

    rc = sqlite3_step(stmt);

    switch (rc) {

    case SQLITE_DONE:
        return GOBI_STORE_OK;

    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return GOBI_STORE_EXISTS;

    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return GOBI_STORE_NOT_FOUND;

    default:
        return gobi_store_sqlite_fail(c->db, rc,
                                      gobi_store_sqlite_sql[id].name);
    }
}


/*
 * Takes a connection and its cached statement `id`, for a call that runs
 * that one statement; gobi_store_sqlite_release() gives both back.
 */

static gobi_store_rc_e
gobi_store_sqlite_acquire(gobi_store_t *st, gobi_store_sqlite_stmt_e id,
    gobi_store_sqlite_conn_t **c, sqlite3_stmt **stmt)
{
    gobi_store_rc_e  grc;

    grc = gobi_store_sqlite_get(st, c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_stmt(*c, id, stmt);
    if (grc != GOBI_STORE_OK) {
        gobi_store_sqlite_put(st, *c);
    }

    return grc;
}


static void
gobi_store_sqlite_release(gobi_store_t *st, gobi_store_sqlite_conn_t *c,
    sqlite3_stmt *stmt)
{
    gobi_store_sqlite_reset(stmt);
    gobi_store_sqlite_put(st, c);
}


/* rolls back what was not committed and gives the connection back */

static void
gobi_store_sqlite_end(gobi_store_t *st, int write,
    gobi_store_sqlite_conn_t *c)
{
    if (!sqlite3_get_autocommit(c->db)) {
        (void) gobi_store_sqlite_run(c, GOBI_SQLITE_ROLLBACK);
    }

    if (write) {
        pthread_mutex_unlock(&st->wlock);
    }

    gobi_store_sqlite_put(st, c);
}


/*
 * Takes a connection and opens a transaction on it: a write one queues on
 * this process' write lock, then runs BEGIN IMMEDIATE; a read one runs
 * BEGIN.  On success gobi_store_sqlite_end() must follow.
 */

static gobi_store_rc_e
gobi_store_sqlite_begin(gobi_store_t *st, int write,
    gobi_store_sqlite_conn_t **c)
{
    gobi_store_rc_e  grc;

    grc = gobi_store_sqlite_get(st, c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    if (write) {
        pthread_mutex_lock(&st->wlock);
    }

    grc = gobi_store_sqlite_run(*c, write ? GOBI_SQLITE_BEGIN_IMMEDIATE
                                          : GOBI_SQLITE_BEGIN);
    if (grc != GOBI_STORE_OK) {
        gobi_store_sqlite_end(st, write, *c);
    }

    return grc;
}


static void
gobi_store_sqlite_close(gobi_store_t *st)
{
    gobi_store_sqlite_conn_t  *c, *next;

    if (st == NULL) {
        return;
    }

    /* connections inherited over fork() are the parent's to close */

    if (st->pid == getpid()) {
        for (c = st->idle; c; c = next) {
            next = c->next;
            gobi_store_sqlite_conn_free(c);
        }
    }

    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->wlock);
    pthread_mutex_destroy(&st->glock);
    pthread_cond_destroy(&st->gdone);
    free(st->path);
    free(st);
}


static gobi_store_t *
gobi_store_sqlite_open(const char *uri, char *errbuf, size_t errlen)
{
    int                        fd;
    gobi_store_t              *st;
    gobi_store_rc_e            rc;
    gobi_store_sqlite_conn_t  *c;

    if (!sqlite3_threadsafe()) {
        snprintf(errbuf, errlen, "sqlite: libsqlite3 is built without "
                 "thread support");
        return NULL;
    }

    if (uri == NULL || uri[0] == '\0') {
        snprintf(errbuf, errlen, "sqlite: no database path");
        return NULL;
    }

    /* every connection would get a database of its own */

    if (strcmp(uri, ":memory:") == 0) {
        snprintf(errbuf, errlen, "sqlite: \":memory:\" cannot be shared, "
                 "give a file path");
        return NULL;
    }

    st = calloc(1, sizeof(gobi_store_t));
    if (st == NULL) {
        snprintf(errbuf, errlen, "sqlite: out of memory");
        return NULL;
    }

    st->path = strdup(uri);
    if (st->path == NULL) {
        snprintf(errbuf, errlen, "sqlite: out of memory");
        free(st);
        return NULL;
    }

    st->pid = getpid();
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->wlock, NULL);
    pthread_mutex_init(&st->glock, NULL);
    pthread_cond_init(&st->gdone, NULL);
    st->gqueue_last = &st->gqueue;

    /*
     * The database holds password and token hashes: a new file is made
     * 0600 before SQLite opens it (it gives its -wal and -shm files the
     * database's mode).  A failure is left for SQLite to report.
     */

    fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd != -1) {
        (void) close(fd);
    }

    /* open one connection now: creates the file, or says why it cannot */

    rc = gobi_store_sqlite_connect(st, &c);
    if (rc != GOBI_STORE_OK) {
        snprintf(errbuf, errlen, "%s", gobi_store_sqlite_errbuf);
        gobi_store_sqlite_close(st);
        return NULL;
    }

    st->idle = c;

    return st;
}


static const char *
gobi_store_sqlite_errmsg(gobi_store_t *st)
{
    (void) st;

    return gobi_store_sqlite_errbuf;
}


static gobi_store_rc_e
gobi_store_sqlite_init_schema(gobi_store_t *st)
{
    int                        rc, version;
    char                      *msg;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_WRITE, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    rc = sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        grc = gobi_store_sqlite_fail(c->db, rc, "init_schema");
        goto done;
    }

    rc = sqlite3_step(stmt);
    version = (rc == SQLITE_ROW) ? sqlite3_column_int(stmt, 0) : 0;
    sqlite3_finalize(stmt);

    if (rc != SQLITE_ROW) {
        grc = gobi_store_sqlite_fail(c->db, rc, "init_schema");
        goto done;
    }

    if (version > GOBI_STORE_SQLITE_SCHEMA) {
        snprintf(gobi_store_sqlite_errbuf, GOBI_STORE_SQLITE_ERRLEN,
                 "sqlite: database \"%s\" has schema version %d, this gobi "
                 "knows up to %d", st->path, version,
                 GOBI_STORE_SQLITE_SCHEMA);
        grc = GOBI_STORE_ERROR;
        goto done;
    }

    msg = NULL;

    rc = sqlite3_exec(c->db, gobi_store_sqlite_schema, NULL, NULL, &msg);

    if (rc == SQLITE_OK && version < 3) {
        rc = sqlite3_exec(c->db, gobi_store_sqlite_to3, NULL, NULL, &msg);
    }

    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(c->db, "PRAGMA user_version = 4", NULL, NULL,
                          &msg);
    }

    sqlite3_free(msg);

    if (rc != SQLITE_OK) {
        grc = gobi_store_sqlite_fail(c->db, rc, "init_schema");
        goto done;
    }

    grc = gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);

done:

    gobi_store_sqlite_end(st, GOBI_SQLITE_WRITE, c);

    return grc;
}


/* users */


static void
gobi_store_sqlite_user_row(sqlite3_stmt *stmt, gobi_user_t *u)
{
    u->id = sqlite3_column_int64(stmt, 0);
    gobi_store_sqlite_copy(u->username, sizeof(u->username),
                           sqlite3_column_text(stmt, 1));
    gobi_store_sqlite_copy(u->pwhash, sizeof(u->pwhash),
                           sqlite3_column_text(stmt, 2));
}


/*
 * Runs statements bound to one id in turn: *changes is what the last one
 * changed.  Inside the caller's transaction.
 */

static gobi_store_rc_e
gobi_store_sqlite_steps(gobi_store_sqlite_conn_t *c,
    const gobi_store_sqlite_stmt_e *steps, size_t n, int64_t id,
    int64_t *changes)
{
    size_t            i;
    sqlite3_stmt     *stmt;
    gobi_store_rc_e   grc;

    for (i = 0; i < n; i++) {
        grc = gobi_store_sqlite_stmt(c, steps[i], &stmt);
        if (grc != GOBI_STORE_OK) {
            return grc;
        }

        sqlite3_bind_int64(stmt, 1, id);
        grc = gobi_store_sqlite_step(c, stmt, steps[i], NULL);
        gobi_store_sqlite_reset(stmt);

        if (grc != GOBI_STORE_OK) {
            return grc;
        }
    }

    *changes = sqlite3_changes64(c->db);

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_sqlite_user_create(gobi_store_t *st, const char *username,
    const char *pwhash, int64_t now, gobi_user_t *out)
{
    int                        taken;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (strlen(username) > GOBI_USERNAME_MAX
        || strlen(pwhash) >= GOBI_PWHASH_MAX)
    {
        return gobi_store_sqlite_invalid("user_create",
                                         "username or hash too long");
    }

    /*
     * The case-folded name is checked and the row inserted in one write
     * transaction: writers of every process are serialized by it.
     */

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_WRITE, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_USER_TAKEN, &stmt);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);
    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_USER_TAKEN, &taken);
    gobi_store_sqlite_reset(stmt);

    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    if (taken) {
        grc = GOBI_STORE_EXISTS;
        goto done;
    }

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_USER_INSERT, &stmt);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, pwhash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, now);

    grc = gobi_store_sqlite_insert(c, stmt, GOBI_SQLITE_USER_INSERT);
    gobi_store_sqlite_reset(stmt);

    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    if (out) {
        out->id = sqlite3_last_insert_rowid(c->db);
        gobi_store_sqlite_copy(out->username, sizeof(out->username),
                               (const unsigned char *) username);
        gobi_store_sqlite_copy(out->pwhash, sizeof(out->pwhash),
                               (const unsigned char *) pwhash);
    }

    grc = gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);

done:

    gobi_store_sqlite_end(st, GOBI_SQLITE_WRITE, c);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_user_find(gobi_store_t *st, gobi_store_sqlite_stmt_e id,
    const char *username, int64_t uid, gobi_user_t *out)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, id, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    if (username) {
        sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);

    } else {
        sqlite3_bind_int64(stmt, 1, uid);
    }

    grc = gobi_store_sqlite_one(c, stmt, id);

    if (grc == GOBI_STORE_OK && out) {
        gobi_store_sqlite_user_row(stmt, out);
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_user_get(gobi_store_t *st, const char *username,
    gobi_user_t *out)
{
    return gobi_store_sqlite_user_find(st, GOBI_SQLITE_USER_BY_NAME,
                                       username, 0, out);
}


static gobi_store_rc_e
gobi_store_sqlite_user_get_by_id(gobi_store_t *st, int64_t id,
    gobi_user_t *out)
{
    return gobi_store_sqlite_user_find(st, GOBI_SQLITE_USER_BY_ID, NULL, id,
                                       out);
}


static gobi_store_rc_e
gobi_store_sqlite_user_set_password(gobi_store_t *st, int64_t id,
    const char *pwhash)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (strlen(pwhash) >= GOBI_PWHASH_MAX) {
        return gobi_store_sqlite_invalid("user_set_password",
                                         "hash too long");
    }

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_USER_SET_PASSWORD, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, pwhash, -1, SQLITE_STATIC);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_USER_SET_PASSWORD,
                                 NULL);

    if (grc == GOBI_STORE_OK && sqlite3_changes(c->db) == 0) {
        grc = GOBI_STORE_NOT_FOUND;
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_user_delete(gobi_store_t *st, int64_t id)
{
    int64_t                    changes;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    /* children first: the same whether foreign keys cascade or not */

    static const gobi_store_sqlite_stmt_e  steps[] = {
        GOBI_SQLITE_USER_DELETE_KEYS,
        GOBI_SQLITE_USER_DELETE_VERSIONS,
        GOBI_SQLITE_USER_DELETE_EVENTS,
        GOBI_SQLITE_USER_DELETE_FILES,
        GOBI_SQLITE_USER_DELETE_VAULTS,
        GOBI_SQLITE_USER_DELETE_TOKENS,
        GOBI_SQLITE_USER_DELETE
    };

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_WRITE, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_steps(c, steps, sizeof(steps) / sizeof(steps[0]),
                                  id, &changes);

    if (grc == GOBI_STORE_OK) {
        grc = (changes == 0) ? GOBI_STORE_NOT_FOUND
                             : gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);
    }

    gobi_store_sqlite_end(st, GOBI_SQLITE_WRITE, c);

    return grc;
}


/* tokens */


static gobi_store_rc_e
gobi_store_sqlite_token_create(gobi_store_t *st, const char *token_hash,
    int64_t user_id, int64_t now, int64_t expires_at)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_get(st, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    /* the contract has no token sweep: drop the user's dead ones here */

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_TOKEN_EXPIRE, &stmt);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    sqlite3_bind_int64(stmt, 1, user_id);
    sqlite3_bind_int64(stmt, 2, now);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_TOKEN_EXPIRE, NULL);
    gobi_store_sqlite_reset(stmt);

    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_TOKEN_INSERT, &stmt);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, user_id);
    sqlite3_bind_int64(stmt, 3, now);
    sqlite3_bind_int64(stmt, 4, expires_at);

    grc = gobi_store_sqlite_insert(c, stmt, GOBI_SQLITE_TOKEN_INSERT);
    gobi_store_sqlite_reset(stmt);

done:

    gobi_store_sqlite_put(st, c);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_token_get(gobi_store_t *st, const char *token_hash,
    int64_t now, gobi_user_t *out, int64_t *expires_at)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_TOKEN_GET, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now);

    grc = gobi_store_sqlite_one(c, stmt, GOBI_SQLITE_TOKEN_GET);

    if (grc == GOBI_STORE_OK) {
        if (out) {
            gobi_store_sqlite_user_row(stmt, out);
        }

        if (expires_at) {
            *expires_at = sqlite3_column_int64(stmt, 3);
        }
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_token_delete(gobi_store_t *st, const char *token_hash)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_TOKEN_DELETE, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_TOKEN_DELETE, NULL);

    if (grc == GOBI_STORE_OK && sqlite3_changes(c->db) == 0) {
        grc = GOBI_STORE_NOT_FOUND;
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_token_delete_user(gobi_store_t *st, int64_t user_id,
    const char *keep_hash, int64_t *removed)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    *removed = 0;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_TOKEN_DELETE_USER, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, user_id);

    if (keep_hash) {
        sqlite3_bind_text(stmt, 2, keep_hash, -1, SQLITE_STATIC);

    } else {
        sqlite3_bind_null(stmt, 2);
    }

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_TOKEN_DELETE_USER,
                                 NULL);

    if (grc == GOBI_STORE_OK) {
        *removed = sqlite3_changes64(c->db);
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_tokens_prune(gobi_store_t *st, int64_t now,
    int64_t *removed)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    *removed = 0;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_TOKEN_PRUNE, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, now);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_TOKEN_PRUNE, NULL);

    if (grc == GOBI_STORE_OK) {
        *removed = sqlite3_changes64(c->db);
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


/* vaults */


static void
gobi_store_sqlite_vault_row(sqlite3_stmt *stmt, gobi_vault_t *v)
{
    v->id = sqlite3_column_int64(stmt, 0);
    v->owner = sqlite3_column_int64(stmt, 1);
    gobi_store_sqlite_copy(v->name, sizeof(v->name),
                           sqlite3_column_text(stmt, 2));
    v->created_at = sqlite3_column_int64(stmt, 3);
    v->head_seq = sqlite3_column_int64(stmt, 4);
    v->oldest_seq = sqlite3_column_int64(stmt, 5);
    v->strategy = sqlite3_column_int(stmt, 6);
}


static gobi_store_rc_e
gobi_store_sqlite_vault_create(gobi_store_t *st, int64_t owner,
    const char *name, int64_t now, gobi_vault_t *out)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (strlen(name) > GOBI_VAULTNAME_MAX) {
        return gobi_store_sqlite_invalid("vault_create", "name too long");
    }

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VAULT_INSERT, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, owner);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, now);

    grc = gobi_store_sqlite_insert(c, stmt, GOBI_SQLITE_VAULT_INSERT);

    if (grc == GOBI_STORE_OK && out) {
        out->id = sqlite3_last_insert_rowid(c->db);
        out->owner = owner;
        gobi_store_sqlite_copy(out->name, sizeof(out->name),
                               (const unsigned char *) name);
        out->created_at = now;
        out->head_seq = 0;
        out->oldest_seq = 0;
        out->strategy = 0;
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_vault_find(gobi_store_t *st, gobi_store_sqlite_stmt_e id,
    int64_t key, const char *name, gobi_vault_t *out)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, id, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, key);

    if (name) {
        sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    }

    grc = gobi_store_sqlite_one(c, stmt, id);

    if (grc == GOBI_STORE_OK && out) {
        gobi_store_sqlite_vault_row(stmt, out);
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_vault_get(gobi_store_t *st, int64_t owner,
    const char *name, gobi_vault_t *out)
{
    return gobi_store_sqlite_vault_find(st, GOBI_SQLITE_VAULT_BY_NAME, owner,
                                        name, out);
}


static gobi_store_rc_e
gobi_store_sqlite_vault_get_by_id(gobi_store_t *st, int64_t id,
    gobi_vault_t *out)
{
    return gobi_store_sqlite_vault_find(st, GOBI_SQLITE_VAULT_BY_ID, id,
                                        NULL, out);
}


static gobi_store_rc_e
gobi_store_sqlite_vault_list(gobi_store_t *st, int64_t owner,
    gobi_vault_cb cb, void *data)
{
    int                        row;
    sqlite3_stmt              *stmt;
    gobi_vault_t               v;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VAULT_LIST, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, owner);

    for ( ;; ) {
        grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VAULT_LIST, &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        gobi_store_sqlite_vault_row(stmt, &v);

        if (cb(data, &v) != 0) {
            break;
        }
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_vault_delete(gobi_store_t *st, int64_t vault_id)
{
    int64_t                    changes;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    static const gobi_store_sqlite_stmt_e  steps[] = {
        GOBI_SQLITE_VAULT_DELETE_KEY,
        GOBI_SQLITE_VAULT_DELETE_VERSIONS,
        GOBI_SQLITE_VAULT_DELETE_EVENTS,
        GOBI_SQLITE_VAULT_DELETE_FILES,
        GOBI_SQLITE_VAULT_DELETE
    };

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_WRITE, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_steps(c, steps, sizeof(steps) / sizeof(steps[0]),
                                  vault_id, &changes);

    /* the last step deleted the vault row itself */

    if (grc == GOBI_STORE_OK) {
        grc = (changes == 0) ? GOBI_STORE_NOT_FOUND
                             : gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);
    }

    gobi_store_sqlite_end(st, GOBI_SQLITE_WRITE, c);

    return grc;
}


/* files */


static void
gobi_store_sqlite_file_row(sqlite3_stmt *stmt, gobi_file_t *f)
{
    f->path = (const char *) sqlite3_column_text(stmt, 0);
    f->version = sqlite3_column_int64(stmt, 1);
    gobi_store_sqlite_copy(f->hash, sizeof(f->hash),
                           sqlite3_column_text(stmt, 2));
    f->size = sqlite3_column_int64(stmt, 3);
    f->mtime = sqlite3_column_int64(stmt, 4);
    f->deleted = sqlite3_column_int(stmt, 5) != 0;
}


/*
 * Reads the record of `path` into f, f->path pointing at `path`.  A path
 * without a record reads as version 0, deleted: "absent".
 */

static gobi_store_rc_e
gobi_store_sqlite_file_read(gobi_store_sqlite_conn_t *c, int64_t vault,
    const char *path, gobi_file_t *f, int *found)
{
    int               row;
    sqlite3_stmt     *stmt;
    gobi_store_rc_e   grc;

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_FILE_GET, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_FILE_GET, &row);

    if (grc == GOBI_STORE_OK) {
        if (row) {
            gobi_store_sqlite_file_row(stmt, f);

        } else {
            memset(f, 0, sizeof(gobi_file_t));
            f->deleted = 1;
        }

        f->path = path;
        *found = row;
    }

    gobi_store_sqlite_reset(stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_file_get(gobi_store_t *st, int64_t vault,
    const char *path, gobi_file_t *out)
{
    int                        found;
    gobi_file_t                f;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_get(st, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_file_read(c, vault, path, &f, &found);

    if (grc == GOBI_STORE_OK) {
        if (!found) {
            grc = GOBI_STORE_NOT_FOUND;

        } else if (out) {
            *out = f;
        }
    }

    gobi_store_sqlite_put(st, c);

    return grc;
}


/* the vault's head and oldest kept seq; NOT_FOUND without the vault */

static gobi_store_rc_e
gobi_store_sqlite_head(gobi_store_sqlite_conn_t *c, int64_t vault,
    int64_t *head, int64_t *oldest)
{
    sqlite3_stmt     *stmt;
    gobi_store_rc_e   grc;

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_VAULT_HEAD, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);

    grc = gobi_store_sqlite_one(c, stmt, GOBI_SQLITE_VAULT_HEAD);

    if (grc == GOBI_STORE_OK) {
        *head = sqlite3_column_int64(stmt, 0);

        if (oldest) {
            *oldest = sqlite3_column_int64(stmt, 1);
        }
    }

    gobi_store_sqlite_reset(stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_file_list(gobi_store_t *st, int64_t vault,
    const char *prefix, int include_deleted, const char *after,
    int64_t limit, int64_t *seq, int *more, gobi_file_cb cb, void *data)
{
    int                        row;
    size_t                     plen;
    int64_t                    head, n;
    const char                *from;
    gobi_file_t                f;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (prefix == NULL) {
        prefix = "";
    }

    plen = strlen(prefix);

    from = (after != NULL && strcmp(after, prefix) >= 0) ? after : prefix;

    if (more) {
        *more = 0;
    }

    /* one read transaction: head and rows from the same snapshot */

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_READ, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_head(c, vault, &head, NULL);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    if (seq) {
        *seq = head;
    }

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_FILE_LIST, &stmt);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, from, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, include_deleted ? 1 : 0);

    /* room for the cursor's own row and for one that says there is more */
    sqlite3_bind_int64(stmt, 4, limit > 0 ? limit + 2 : -1);

    n = 0;

    for ( ;; ) {
        grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_FILE_LIST, &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        gobi_store_sqlite_file_row(stmt, &f);

        if (f.path == NULL || strncmp(f.path, prefix, plen) != 0) {
            break;
        }

        if (from == after && strcmp(f.path, after) == 0) {
            continue;
        }

        if (limit > 0 && n == limit) {
            if (more) {
                *more = 1;
            }
            break;
        }

        n++;

        if (cb(data, &f) != 0) {
            break;
        }
    }

    gobi_store_sqlite_reset(stmt);

    if (grc == GOBI_STORE_OK) {
        grc = gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);
    }

done:

    gobi_store_sqlite_end(st, GOBI_SQLITE_READ, c);

    return grc;
}


/* writes */


static gobi_store_rc_e
gobi_store_sqlite_file_put(gobi_store_sqlite_conn_t *c, int64_t vault,
    const char *path, int64_t version, const char *hash, int64_t size,
    int64_t mtime, int deleted)
{
    sqlite3_stmt     *stmt;
    gobi_store_rc_e   grc;

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_FILE_PUT, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, version);
    sqlite3_bind_text(stmt, 4, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, size);
    sqlite3_bind_int64(stmt, 6, mtime);
    sqlite3_bind_int(stmt, 7, deleted);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_FILE_PUT, NULL);
    gobi_store_sqlite_reset(stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_event_put(gobi_store_sqlite_conn_t *c, int64_t vault,
    const gobi_event_t *ev)
{
    sqlite3_stmt     *stmt;
    gobi_store_rc_e   grc;

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_EVENT_INSERT, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_int64(stmt, 2, ev->seq);
    sqlite3_bind_text(stmt, 3, gobi_event_type_name(ev->type), -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, ev->path, -1, SQLITE_STATIC);

    if (ev->from) {
        sqlite3_bind_text(stmt, 5, ev->from, -1, SQLITE_STATIC);
    }

    sqlite3_bind_text(stmt, 6, ev->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 7, ev->size);
    sqlite3_bind_int64(stmt, 8, ev->mtime);

    if (ev->device) {
        sqlite3_bind_text(stmt, 9, ev->device, -1, SQLITE_STATIC);
    }

    sqlite3_bind_int64(stmt, 10, ev->ts);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_EVENT_INSERT, NULL);
    gobi_store_sqlite_reset(stmt);

    return grc;
}


/* the version ev made of path, in the write's transaction */

static gobi_store_rc_e
gobi_store_sqlite_version_put(gobi_store_sqlite_conn_t *c, int64_t vault,
    const gobi_event_t *ev, const char *path)
{
    sqlite3_stmt     *stmt;
    gobi_version_t    v;
    gobi_store_rc_e   grc;

    gobi_version_of_event(ev, path, &v);

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_VERSION_PUT, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, v.version);
    sqlite3_bind_text(stmt, 4, v.hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, v.size);
    sqlite3_bind_int64(stmt, 6, v.mtime);
    sqlite3_bind_int64(stmt, 7, v.ts);

    if (v.device[0]) {
        sqlite3_bind_text(stmt, 8, v.device, -1, SQLITE_STATIC);
    }

    sqlite3_bind_int(stmt, 9, v.deleted);
    sqlite3_bind_int(stmt, 10, v.moved);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VERSION_PUT, NULL);
    gobi_store_sqlite_reset(stmt);

    return grc;
}


/*
 * Reads the records of the write's path(s), lets gobi_write_check()
 * decide, and fills the event and the file records; runs inside the
 * write transaction.
 */

static gobi_store_rc_e
gobi_store_sqlite_apply(gobi_store_sqlite_conn_t *c, int64_t vault,
    const gobi_write_t *w, gobi_event_t *ev, gobi_file_t *current)
{
    int               found;
    gobi_file_t       target, source;
    gobi_store_rc_e   grc;
    gobi_write_rc_e   wrc;

    grc = gobi_store_sqlite_file_read(c, vault, w->path, &target, &found);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    if (w->type == GOBI_EV_RENAME) {
        grc = gobi_store_sqlite_file_read(c, vault, w->from, &source,
                                          &found);
        if (grc != GOBI_STORE_OK) {
            return grc;
        }
    }

    wrc = gobi_write_check(w, &target, &source, ev, current);
    if (wrc != GOBI_WRITE_OK) {
        return gobi_store_write_rc(wrc);
    }

    if (ev->type == GOBI_EV_RENAME) {
        grc = gobi_store_sqlite_file_put(c, vault, w->from, ev->seq, "", 0,
                                         ev->ts, 1);
        if (grc == GOBI_STORE_OK) {
            grc = gobi_store_sqlite_version_put(c, vault, ev, w->from);
        }

        if (grc != GOBI_STORE_OK) {
            return grc;
        }
    }

    grc = gobi_store_sqlite_file_put(c, vault, w->path, ev->seq, ev->hash,
                                     ev->size, ev->mtime,
                                     ev->type == GOBI_EV_DELETE);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    return gobi_store_sqlite_version_put(c, vault, ev, w->path);
}


/* one write's statements, in the open transaction */

static gobi_store_rc_e
gobi_store_sqlite_write_one(gobi_store_sqlite_conn_t *c, int64_t vault,
    const gobi_write_t *w, gobi_event_t *ev, gobi_file_t *current)
{
    int64_t           head;
    sqlite3_stmt     *stmt;
    gobi_store_rc_e   grc;

    grc = gobi_store_sqlite_head(c, vault, &head, NULL);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    memset(ev, 0, sizeof(gobi_event_t));
    ev->seq = head + 1;
    ev->version = ev->seq;

    grc = gobi_store_sqlite_apply(c, vault, w, ev, current);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_event_put(c, vault, ev);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_VAULT_SET_HEAD, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_int64(stmt, 2, ev->seq);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VAULT_SET_HEAD, NULL);
    gobi_store_sqlite_reset(stmt);

    return grc;
}


/*
 * A group's writes in one transaction, each in a savepoint: a write that
 * fails (a conflict, a missing file) is undone alone.  The group's result
 * is the commit's: a write is reported done only once it is durable.
 */

static void
gobi_store_sqlite_write_group(gobi_store_t *st, gobi_store_sqlite_gw_t *g)
{
    gobi_store_rc_e            grc, rc;
    gobi_store_sqlite_gw_t    *gw;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_WRITE, &c);

    if (grc == GOBI_STORE_OK) {
        for (gw = g; gw; gw = gw->next) {

            rc = gobi_store_sqlite_run(c, GOBI_SQLITE_SAVEPOINT);
            if (rc == GOBI_STORE_OK) {
                rc = gobi_store_sqlite_write_one(c, gw->vault, gw->w, gw->ev,
                                                 gw->current);
            }

            gw->rc = rc;

            if (rc != GOBI_STORE_OK) {
                gw->err = strdup(gobi_store_sqlite_errbuf);

                if (sqlite3_get_autocommit(c->db)) {
                    /* SQLite rolled the transaction back: the rest fail */
                    grc = rc;
                    break;
                }

                rc = gobi_store_sqlite_run(c, GOBI_SQLITE_ROLLBACK_TO);
            }

            if (rc == GOBI_STORE_OK) {
                rc = gobi_store_sqlite_run(c, GOBI_SQLITE_RELEASE);
            }

            if (rc != GOBI_STORE_OK) {
                grc = rc;
                break;
            }
        }

        if (grc == GOBI_STORE_OK) {
            grc = gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);
        }

        gobi_store_sqlite_end(st, GOBI_SQLITE_WRITE, c);
    }

    /* nothing of the group is kept: each write says why */

    if (grc != GOBI_STORE_OK) {
        for (gw = g; gw; gw = gw->next) {
            if (gw->rc == GOBI_STORE_OK || gw->err == NULL) {
                free(gw->err);
                gw->rc = grc;
                gw->err = strdup(gobi_store_sqlite_errbuf);
            }
        }
    }
}


/*
 * A write joins the queue; the first writer that finds no group being
 * committed takes the queue (up to GOBI_STORE_SQLITE_GROUP) and commits
 * it for all, the others sleep until theirs is done.  Under one writer
 * it is the single transaction it always was; under many, one WAL sync
 * serves them all.
 */

static gobi_store_rc_e
gobi_store_sqlite_write(gobi_store_t *st, int64_t vault,
    const gobi_write_t *w, gobi_event_t *ev, gobi_file_t *current)
{
    unsigned                 n;
    const char              *bad;
    gobi_event_t             ev0;
    gobi_file_t              cur0;
    gobi_store_sqlite_gw_t   me, *g, **last, *gw;

    bad = gobi_write_invalid(w);
    if (bad != NULL) {
        return gobi_store_sqlite_invalid("write", bad);
    }

    memset(&me, 0, sizeof(me));
    me.vault = vault;
    me.w = w;
    me.ev = ev ? ev : &ev0;
    me.current = current ? current : &cur0;

    pthread_mutex_lock(&st->glock);

    *st->gqueue_last = &me;
    st->gqueue_last = &me.next;

    while (!me.done) {

        if (st->gleading) {
            pthread_cond_wait(&st->gdone, &st->glock);
            continue;
        }

        /* lead: take the queue's head */

        st->gleading = 1;

        g = st->gqueue;
        last = &st->gqueue;

        for (n = 0; *last && n < GOBI_STORE_SQLITE_GROUP; n++) {
            last = &(*last)->next;
        }

        st->gqueue = *last;
        *last = NULL;

        if (st->gqueue == NULL) {
            st->gqueue_last = &st->gqueue;
        }

        pthread_mutex_unlock(&st->glock);

        gobi_store_sqlite_write_group(st, g);

        pthread_mutex_lock(&st->glock);

        for (gw = g; gw; gw = gw->next) {
            gw->done = 1;
        }

        st->gleading = 0;
        pthread_cond_broadcast(&st->gdone);
    }

    pthread_mutex_unlock(&st->glock);

    if (me.err) {
        snprintf(gobi_store_sqlite_errbuf, GOBI_STORE_SQLITE_ERRLEN, "%s",
                 me.err);
        free(me.err);
    }

    return me.rc;
}


/* events */


static void
gobi_store_sqlite_event_row(sqlite3_stmt *stmt, gobi_event_t *ev)
{
    ev->seq = sqlite3_column_int64(stmt, 0);
    ev->type = gobi_event_type_parse(
                              (const char *) sqlite3_column_text(stmt, 1));
    ev->path = (const char *) sqlite3_column_text(stmt, 2);
    ev->from = (const char *) sqlite3_column_text(stmt, 3);
    ev->version = sqlite3_column_int64(stmt, 4);
    gobi_store_sqlite_copy(ev->hash, sizeof(ev->hash),
                           sqlite3_column_text(stmt, 5));
    ev->size = sqlite3_column_int64(stmt, 6);
    ev->mtime = sqlite3_column_int64(stmt, 7);
    ev->device = (const char *) sqlite3_column_text(stmt, 8);
    ev->ts = sqlite3_column_int64(stmt, 9);
}


/* limit <= 0: no limit; a negative since reads as 0 */

static gobi_store_rc_e
gobi_store_sqlite_events_since(gobi_store_t *st, int64_t vault,
    int64_t since, int64_t limit, gobi_event_cb cb, void *data,
    int64_t *head, int *more)
{
    int                        row;
    int64_t                    h, oldest, last;
    gobi_event_t               ev;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (head) {
        *head = 0;
    }

    if (more) {
        *more = 0;
    }

    if (since < 0) {
        since = 0;
    }

    /* head, horizon and events from one snapshot */

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_READ, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_head(c, vault, &h, &oldest);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    if (head) {
        *head = h;
    }

    /* pruning keeps the log gapless, so seqs oldest..h are all there */

    if (since < h && (oldest == 0 || since < oldest - 1)) {
        grc = GOBI_STORE_EXPIRED;
        goto done;
    }

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_EVENTS_SINCE, &stmt);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_int64(stmt, 2, since);
    sqlite3_bind_int64(stmt, 3, limit > 0 ? limit : -1);

    last = since;

    for ( ;; ) {
        grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_EVENTS_SINCE,
                                     &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        gobi_store_sqlite_event_row(stmt, &ev);
        last = ev.seq;

        if (cb(data, &ev) != 0) {
            break;
        }
    }

    gobi_store_sqlite_reset(stmt);

    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    if (more) {
        *more = (last < h);
    }

    grc = gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);

done:

    gobi_store_sqlite_end(st, GOBI_SQLITE_READ, c);

    return grc;
}


typedef struct {
    int64_t  vault;
    int64_t  seq;
} gobi_store_sqlite_cut_t;


/*
 * Prunes a prefix of each vault's log: everything up to the newest event
 * older than `before`.  An event a skewed clock stamped later than a newer
 * one goes with it, so the log never gets a hole a cursor could skip.
 */

static gobi_store_rc_e
gobi_store_sqlite_events_prune(gobi_store_t *st, int64_t before,
    int64_t *removed)
{
    int                        row;
    size_t                     n, size, i;
    int64_t                    count;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_cut_t   *cuts, *p;
    gobi_store_sqlite_conn_t  *c;

    if (removed) {
        *removed = 0;
    }

    grc = gobi_store_sqlite_get(st, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    cuts = NULL;
    n = 0;
    size = 0;
    count = 0;

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_PRUNE_SCAN, &stmt);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    sqlite3_bind_int64(stmt, 1, before);

    for ( ;; ) {
        grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_PRUNE_SCAN, &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        if (n == size) {
            size = size ? size * 2 : 16;
            p = realloc(cuts, size * sizeof(gobi_store_sqlite_cut_t));
            if (p == NULL) {
                grc = gobi_store_sqlite_invalid("events_prune",
                                                "out of memory");
                break;
            }

            cuts = p;
        }

        cuts[n].vault = sqlite3_column_int64(stmt, 0);
        cuts[n].seq = sqlite3_column_int64(stmt, 1);
        n++;
    }

    gobi_store_sqlite_reset(stmt);

    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    /* a statement per vault: writers wait for one vault's delete at most */

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_PRUNE_DELETE, &stmt);
    if (grc != GOBI_STORE_OK) {
        goto done;
    }

    for (i = 0; i < n; i++) {
        sqlite3_bind_int64(stmt, 1, cuts[i].vault);
        sqlite3_bind_int64(stmt, 2, cuts[i].seq);

        pthread_mutex_lock(&st->wlock);

        grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_PRUNE_DELETE,
                                     NULL);
        if (grc == GOBI_STORE_OK) {
            count += sqlite3_changes(c->db);
        }

        pthread_mutex_unlock(&st->wlock);

        gobi_store_sqlite_reset(stmt);

        if (grc != GOBI_STORE_OK) {
            break;
        }
    }

done:

    if (removed) {
        *removed = count;
    }

    free(cuts);
    gobi_store_sqlite_put(st, c);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_blob_referenced(gobi_store_t *st, int64_t vault,
    const char *hash, int *referenced)
{
    int                        row;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    *referenced = 0;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_BLOB_REF, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_BLOB_REF, &row);

    if (grc == GOBI_STORE_OK) {
        *referenced = row;
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


/* vault settings */


static gobi_store_rc_e
gobi_store_sqlite_vault_set_strategy(gobi_store_t *st, int64_t vault_id,
    int strategy)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VAULT_SET_STRATEGY, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault_id);
    sqlite3_bind_int(stmt, 2, strategy);

    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VAULT_SET_STRATEGY,
                                 NULL);

    if (grc == GOBI_STORE_OK && sqlite3_changes(c->db) == 0) {
        grc = GOBI_STORE_NOT_FOUND;
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


/* history */


/* a version from column `col` on (GOBI_SQLITE_VERSION_COLUMNS' order) */

static void
gobi_store_sqlite_version_row(sqlite3_stmt *stmt, int col,
    gobi_version_t *v)
{
    v->version = sqlite3_column_int64(stmt, col);
    gobi_store_sqlite_copy(v->hash, sizeof(v->hash),
                           sqlite3_column_text(stmt, col + 1));
    v->size = sqlite3_column_int64(stmt, col + 2);
    v->mtime = sqlite3_column_int64(stmt, col + 3);
    v->ts = sqlite3_column_int64(stmt, col + 4);
    gobi_store_sqlite_copy(v->device, sizeof(v->device),
                           sqlite3_column_text(stmt, col + 5));
    v->deleted = sqlite3_column_int(stmt, col + 6) != 0;
    v->moved = sqlite3_column_int(stmt, col + 7) != 0;
}


/*
 * The next row of a page, from a query bound with LIMIT limit + 1 (limit
 * 0: all): *row is 0 at the page's end; the one row beyond it sets *more
 * instead of being returned.
 */

static gobi_store_rc_e
gobi_store_sqlite_page_step(gobi_store_sqlite_conn_t *c, sqlite3_stmt *stmt,
    gobi_store_sqlite_stmt_e id, int64_t limit, int64_t *n, int *more,
    int *row)
{
    gobi_store_rc_e  grc;

    grc = gobi_store_sqlite_step(c, stmt, id, row);
    if (grc != GOBI_STORE_OK || !*row) {
        return grc;
    }

    if (limit > 0 && *n == limit) {
        if (more) {
            *more = 1;
        }

        *row = 0;
        return GOBI_STORE_OK;
    }

    (*n)++;

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_sqlite_version_list(gobi_store_t *st, int64_t vault,
    const char *path, int64_t before, int64_t limit, gobi_version_cb cb,
    void *data, int *more)
{
    int                        row;
    int64_t                    n;
    sqlite3_stmt              *stmt;
    gobi_version_t             v;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (more) {
        *more = 0;
    }

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VERSION_LIST, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, before > 0 ? before : INT64_MAX);
    sqlite3_bind_int64(stmt, 4, limit > 0 ? limit + 1 : -1);

    for (n = 0; ; ) {
        grc = gobi_store_sqlite_page_step(c, stmt, GOBI_SQLITE_VERSION_LIST,
                                          limit, &n, more, &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        gobi_store_sqlite_version_row(stmt, 0, &v);

        if (cb(data, path, &v) != 0) {
            break;
        }
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_version_get(gobi_store_t *st, int64_t vault,
    const char *path, int64_t version, gobi_version_t *out)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VERSION_GET, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, version);

    grc = gobi_store_sqlite_one(c, stmt, GOBI_SQLITE_VERSION_GET);

    if (grc == GOBI_STORE_OK && out) {
        gobi_store_sqlite_version_row(stmt, 0, out);
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_trash_list(gobi_store_t *st, int64_t vault,
    const char *after, int64_t limit, gobi_trash_cb cb, void *data,
    int *more)
{
    int                        row;
    int64_t                    n;
    const char                *path;
    sqlite3_stmt              *stmt;
    gobi_version_t             d, l;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (more) {
        *more = 0;
    }

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_TRASH_LIST, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, limit > 0 ? limit + 1 : -1);

    for (n = 0; ; ) {
        grc = gobi_store_sqlite_page_step(c, stmt, GOBI_SQLITE_TRASH_LIST,
                                          limit, &n, more, &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        path = (const char *) sqlite3_column_text(stmt, 0);
        gobi_store_sqlite_version_row(stmt, 1, &d);
        gobi_store_sqlite_version_row(stmt, 9, &l);

        if (cb(data, path, &d, &l) != 0) {
            break;
        }
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_versions_at(gobi_store_t *st, int64_t vault, int64_t seq,
    const char *after, int64_t limit, gobi_version_cb cb, void *data,
    int *more)
{
    int                        row;
    int64_t                    n;
    const char                *path;
    sqlite3_stmt              *stmt;
    gobi_version_t             v;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (more) {
        *more = 0;
    }

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VERSIONS_AT, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_int64(stmt, 2, seq);
    sqlite3_bind_text(stmt, 3, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, limit > 0 ? limit + 1 : -1);

    for (n = 0; ; ) {
        grc = gobi_store_sqlite_page_step(c, stmt, GOBI_SQLITE_VERSIONS_AT,
                                          limit, &n, more, &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        path = (const char *) sqlite3_column_text(stmt, 0);

        if (sqlite3_column_type(stmt, 1) == SQLITE_NULL) {
            row = cb(data, path, NULL);

        } else {
            gobi_store_sqlite_version_row(stmt, 1, &v);
            row = cb(data, path, &v);
        }

        if (row != 0) {
            break;
        }
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_count(gobi_store_sqlite_conn_t *c,
    gobi_store_sqlite_stmt_e id, int64_t vault, const char *device,
    int64_t since, int64_t *n)
{
    sqlite3_stmt     *stmt;
    gobi_store_rc_e   grc;

    grc = gobi_store_sqlite_stmt(c, id, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);

    if (id == GOBI_SQLITE_DELETE_COUNT) {
        if (device) {
            sqlite3_bind_text(stmt, 2, device, -1, SQLITE_STATIC);
        }

        sqlite3_bind_int64(stmt, 3, since);
    }

    grc = gobi_store_sqlite_one(c, stmt, id);

    if (grc == GOBI_STORE_OK) {
        *n = sqlite3_column_int64(stmt, 0);
    }

    gobi_store_sqlite_reset(stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_delete_stats(gobi_store_t *st, int64_t vault,
    const char *device, int64_t since, int64_t *deletes, int64_t *live)
{
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_READ, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_count(c, GOBI_SQLITE_DELETE_COUNT, vault, device,
                                  since, deletes);

    if (grc == GOBI_STORE_OK && live) {
        grc = gobi_store_sqlite_count(c, GOBI_SQLITE_LIVE_COUNT, vault, NULL,
                                      0, live);
    }

    if (grc == GOBI_STORE_OK) {
        grc = gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);
    }

    gobi_store_sqlite_end(st, GOBI_SQLITE_READ, c);

    return grc;
}


/*
 * Thinning, a path at a time: its versions are read (newest first) and
 * judged by gobi_versions_keep(), the dropped ones deleted in a short
 * write transaction of their own, so writers wait for one path at most.
 */

typedef struct {
    int64_t               vault;
    char                 *path;
    gobi_versions_buf_t   buf;
} gobi_store_sqlite_thin_t;


static gobi_store_rc_e
gobi_store_sqlite_thin_path(gobi_store_t *st, gobi_store_sqlite_thin_t *t,
    const gobi_versions_policy_t *policy, int64_t now, int64_t *removed)
{
    size_t                     i;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    if (gobi_versions_buf_judge(&t->buf, policy, now) == t->buf.n) {
        return GOBI_STORE_OK;
    }

    grc = gobi_store_sqlite_begin(st, GOBI_SQLITE_WRITE, &c);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_stmt(c, GOBI_SQLITE_VERSION_DROP, &stmt);

    for (i = 0; grc == GOBI_STORE_OK && i < t->buf.n; i++) {
        if (t->buf.keep[i]) {
            continue;
        }

        sqlite3_bind_int64(stmt, 1, t->vault);
        sqlite3_bind_text(stmt, 2, t->path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, t->buf.v[i].version);

        grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VERSION_DROP, NULL);
        gobi_store_sqlite_reset(stmt);

        *removed += sqlite3_changes(c->db);
    }

    if (grc == GOBI_STORE_OK) {
        grc = gobi_store_sqlite_run(c, GOBI_SQLITE_COMMIT);
    }

    gobi_store_sqlite_end(st, GOBI_SQLITE_WRITE, c);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_versions_prune(gobi_store_t *st,
    const gobi_versions_policy_t *policy, int64_t now, int64_t *removed)
{
    int                        row;
    int64_t                    vault;
    const char                *path;
    sqlite3_stmt              *stmt;
    gobi_version_t            *v;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;
    gobi_store_sqlite_thin_t   t;

    *removed = 0;

    memset(&t, 0, sizeof(t));
    t.path = strdup("");
    if (t.path == NULL) {
        return gobi_store_sqlite_invalid("versions_prune", "out of memory");
    }

    /* one path per round: the scan restarts after the last path judged */

    for ( ;; ) {
        grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VERSIONS_SCAN, &c,
                                        &stmt);
        if (grc != GOBI_STORE_OK) {
            break;
        }

        sqlite3_bind_int64(stmt, 1, t.vault);
        sqlite3_bind_text(stmt, 2, t.path, -1, SQLITE_TRANSIENT);

        t.buf.n = 0;

        for ( ;; ) {
            grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VERSIONS_SCAN,
                                         &row);
            if (grc != GOBI_STORE_OK || !row) {
                break;
            }

            vault = sqlite3_column_int64(stmt, 0);
            path = (const char *) sqlite3_column_text(stmt, 1);

            if (t.buf.n == 0) {
                free(t.path);
                t.vault = vault;
                t.path = strdup(path ? path : "");

                if (t.path == NULL) {
                    grc = gobi_store_sqlite_invalid("versions_prune",
                                                    "out of memory");
                    break;
                }

            } else if (vault != t.vault || path == NULL
                       || strcmp(path, t.path) != 0)
            {
                break;
            }

            v = gobi_versions_buf_push(&t.buf);
            if (v == NULL) {
                grc = gobi_store_sqlite_invalid("versions_prune",
                                                "out of memory");
                break;
            }

            v->version = sqlite3_column_int64(stmt, 2);
            v->ts = sqlite3_column_int64(stmt, 3);
            v->deleted = sqlite3_column_int(stmt, 4) != 0;
            v->moved = sqlite3_column_int(stmt, 5) != 0;
        }

        gobi_store_sqlite_release(st, c, stmt);

        if (grc != GOBI_STORE_OK || t.buf.n == 0) {
            break;
        }

        grc = gobi_store_sqlite_thin_path(st, &t, policy, now, removed);
        if (grc != GOBI_STORE_OK) {
            break;
        }
    }

    free(t.path);
    gobi_versions_buf_free(&t.buf);

    return grc;
}


/* encryption at rest: the vaults' wrapped data keys */


static gobi_store_rc_e
gobi_store_sqlite_wrapped_check(const char *what, const char *wrapped)
{
    if (wrapped == NULL || wrapped[0] == '\0') {
        return gobi_store_sqlite_invalid(what, "no wrapped key");
    }

    if (strlen(wrapped) >= GOBI_CRYPT_WRAPPED_MAX) {
        return gobi_store_sqlite_invalid(what, "wrapped key too long");
    }

    return GOBI_STORE_OK;
}


static gobi_store_rc_e
gobi_store_sqlite_vault_key_get(gobi_store_t *st, int64_t vault,
    char *wrapped, size_t len)
{
    const char                *text;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VAULT_KEY_GET, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);

    grc = gobi_store_sqlite_one(c, stmt, GOBI_SQLITE_VAULT_KEY_GET);

    if (grc == GOBI_STORE_OK) {
        text = (const char *) sqlite3_column_text(stmt, 0);

        /* a cut key would not open: say so instead */
        if (text == NULL || strlen(text) >= len) {
            grc = gobi_store_sqlite_invalid("vault_key_get",
                                            "no room for the wrapped key");

        } else {
            memcpy(wrapped, text, strlen(text) + 1);
        }
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_vault_key_add(gobi_store_t *st, int64_t vault,
    const char *wrapped)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_wrapped_check("vault_key_add", wrapped);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VAULT_KEY_INSERT, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, wrapped, -1, SQLITE_STATIC);

    /* the primary key: EXISTS; the vault's foreign key: NOT_FOUND */
    grc = gobi_store_sqlite_insert(c, stmt, GOBI_SQLITE_VAULT_KEY_INSERT);

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_vault_key_swap(gobi_store_t *st, int64_t vault,
    const char *old_wrapped, const char *new_wrapped)
{
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_wrapped_check("vault_key_swap", old_wrapped);
    if (grc == GOBI_STORE_OK) {
        grc = gobi_store_sqlite_wrapped_check("vault_key_swap", new_wrapped);
    }

    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VAULT_KEY_SWAP, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    sqlite3_bind_int64(stmt, 1, vault);
    sqlite3_bind_text(stmt, 2, old_wrapped, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, new_wrapped, -1, SQLITE_STATIC);

    /* one UPDATE compares and sets: no other writer between the two */
    grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VAULT_KEY_SWAP, NULL);

    if (grc == GOBI_STORE_OK && sqlite3_changes(c->db) == 0) {
        grc = GOBI_STORE_CONFLICT;
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_vault_key_list(gobi_store_t *st,
    int (*cb)(void *data, int64_t vault, const char *wrapped), void *data)
{
    int                        row;
    const char                *text;
    sqlite3_stmt              *stmt;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VAULT_KEY_LIST, &c,
                                    &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    for ( ;; ) {
        grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VAULT_KEY_LIST,
                                     &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        text = (const char *) sqlite3_column_text(stmt, 1);

        if (cb(data, sqlite3_column_int64(stmt, 0), text ? text : "") != 0) {
            break;
        }
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


static gobi_store_rc_e
gobi_store_sqlite_vault_all(gobi_store_t *st, gobi_vault_cb cb, void *data)
{
    int                        row;
    sqlite3_stmt              *stmt;
    gobi_vault_t               v;
    gobi_store_rc_e            grc;
    gobi_store_sqlite_conn_t  *c;

    grc = gobi_store_sqlite_acquire(st, GOBI_SQLITE_VAULT_ALL, &c, &stmt);
    if (grc != GOBI_STORE_OK) {
        return grc;
    }

    for ( ;; ) {
        grc = gobi_store_sqlite_step(c, stmt, GOBI_SQLITE_VAULT_ALL, &row);
        if (grc != GOBI_STORE_OK || !row) {
            break;
        }

        gobi_store_sqlite_vault_row(stmt, &v);

        if (cb(data, &v) != 0) {
            break;
        }
    }

    gobi_store_sqlite_release(st, c, stmt);

    return grc;
}


const gobi_store_driver_t  gobi_store_sqlite = {
    "sqlite",
    gobi_store_sqlite_open,
    gobi_store_sqlite_init_schema,
    gobi_store_sqlite_close,
    gobi_store_sqlite_errmsg,
    gobi_store_sqlite_user_create,
    gobi_store_sqlite_user_get,
    gobi_store_sqlite_user_get_by_id,
    gobi_store_sqlite_user_set_password,
    gobi_store_sqlite_user_delete,
    gobi_store_sqlite_token_create,
    gobi_store_sqlite_token_get,
    gobi_store_sqlite_token_delete,
    gobi_store_sqlite_token_delete_user,
    gobi_store_sqlite_tokens_prune,
    gobi_store_sqlite_vault_create,
    gobi_store_sqlite_vault_get,
    gobi_store_sqlite_vault_get_by_id,
    gobi_store_sqlite_vault_list,
    gobi_store_sqlite_vault_delete,
    gobi_store_sqlite_vault_set_strategy,
    gobi_store_sqlite_file_get,
    gobi_store_sqlite_file_list,
    gobi_store_sqlite_write,
    gobi_store_sqlite_events_since,
    gobi_store_sqlite_events_prune,
    gobi_store_sqlite_blob_referenced,
    gobi_store_sqlite_version_list,
    gobi_store_sqlite_version_get,
    gobi_store_sqlite_trash_list,
    gobi_store_sqlite_versions_at,
    gobi_store_sqlite_delete_stats,
    gobi_store_sqlite_versions_prune,
    gobi_store_sqlite_vault_key_get,
    gobi_store_sqlite_vault_key_add,
    gobi_store_sqlite_vault_key_swap,
    gobi_store_sqlite_vault_key_list,
    gobi_store_sqlite_vault_all
};
