/*
 * Copyright (C) the gobi authors
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "gobi.h"
#include "gobi_state.h"


enum {
    GOBI_ST_META_GET = 0,
    GOBI_ST_META_SET,
    GOBI_ST_BASE_GET,
    GOBI_ST_BASE_PUT,
    GOBI_ST_BASE_DEL,
    GOBI_ST_BASE_ALL,
    GOBI_ST_BASE_COUNT,
    GOBI_ST_BASE_HASH,
    GOBI_ST_Q_ADD,
    GOBI_ST_Q_LAST,
    GOBI_ST_Q_LIST,
    GOBI_ST_Q_DEL,
    GOBI_ST_Q_COUNT,
    GOBI_ST_C_ADD,
    GOBI_ST_C_LIST,
    GOBI_ST_C_DEL,
    GOBI_ST_N
};


static const char  *gobi_state_sql[GOBI_ST_N] = {
    "SELECT value FROM meta WHERE key = ?1",
    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
    "SELECT version, hash, size, mtime, lmtime, ino FROM base "
        "WHERE path = ?1",
    "INSERT OR REPLACE INTO base (path, version, hash, size, mtime, lmtime, "
        "ino) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "DELETE FROM base WHERE path = ?1",
    "SELECT path, version, hash, size, mtime, lmtime, ino FROM base "
        "ORDER BY path",
    "SELECT count(*) FROM base",
    "SELECT path FROM base WHERE hash = ?1 AND path != ?2 LIMIT 1",
    "INSERT INTO queue (op, path, src, ts) VALUES (?1, ?2, ?3, ?4)",
    "SELECT 1 FROM queue WHERE op = ?1 AND path = ?2 AND src IS ?3 LIMIT 1",
    "SELECT id, op, path, src FROM queue ORDER BY id",
    "DELETE FROM queue WHERE id = ?1",
    "SELECT count(*) FROM queue",
    "INSERT OR REPLACE INTO conflicts (copy, path, version, ts) "
        "VALUES (?1, ?2, ?3, ?4)",
    "SELECT path, copy, version, ts FROM conflicts ORDER BY path, copy",
    "DELETE FROM conflicts WHERE copy = ?1"
};


static const char  gobi_state_schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "CREATE TABLE IF NOT EXISTS meta ("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS base ("
    "  path TEXT PRIMARY KEY, version INTEGER NOT NULL, hash TEXT NOT NULL,"
    "  size INTEGER NOT NULL, mtime INTEGER NOT NULL,"
    "  lmtime INTEGER NOT NULL, ino INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS base_hash ON base (hash);"
    "CREATE TABLE IF NOT EXISTS queue ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, op INTEGER NOT NULL,"
    "  path TEXT NOT NULL, src TEXT, ts INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS queue_path ON queue (path);"
    "CREATE TABLE IF NOT EXISTS conflicts ("
    "  copy TEXT PRIMARY KEY, path TEXT NOT NULL, version INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL);";


struct gobi_state_s {
    sqlite3        *db;
    sqlite3_stmt   *stmt[GOBI_ST_N];
    int             in_tx;
};


static int
gobi_state_fail(gobi_state_t *st, const char *what)
{
    int  ec, code;

    ec = sqlite3_extended_errcode(st->db) & 0xff;

    switch (ec) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
        code = GOBI_EXIT_DISK;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = GOBI_EXIT_BUSY;
        break;
    default:
        code = GOBI_EXIT_ERROR;
    }

    return gobi_error(code, "local state (%s): %s", what,
                      sqlite3_errmsg(st->db));
}


/* runs a statement that returns no rows to its end, ready for reuse */

static int
gobi_state_done(gobi_state_t *st, sqlite3_stmt *s, const char *what)
{
    if (sqlite3_step(s) != SQLITE_DONE) {
        return gobi_state_fail(st, what);
    }

    sqlite3_reset(s);

    return 0;
}


static sqlite3_stmt *
gobi_state_stmt(gobi_state_t *st, int which)
{
    sqlite3_stmt  *s;

    s = st->stmt[which];

    if (s == NULL) {
        if (sqlite3_prepare_v2(st->db, gobi_state_sql[which], -1, &s, NULL)
            != SQLITE_OK)
        {
            gobi_state_fail(st, "prepare");
            return NULL;
        }

        st->stmt[which] = s;
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    return s;
}


int
gobi_state_open(const char *root, int create, gobi_state_t **out)
{
    gobi_state_t  *st;
    char          *dir, *path, *err;
    int            flags, rc;

    *out = NULL;

    dir = gobi_sprintf("%s/.gobi", root);
    path = gobi_sprintf("%s/state.db", dir);

    if (create) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = gobi_error(gobi_errno_exit(errno), "cannot create %s: %s",
                            dir, strerror(errno));
            free(dir);
            free(path);
            return rc;
        }

    } else if (access(path, F_OK) != 0) {
        rc = gobi_error(GOBI_EXIT_NOT_FOUND, "%s is not a gobi folder (no "
                        ".gobi/state.db): run \"gobi clone\" first", root);
        free(dir);
        free(path);
        return rc;
    }

    free(dir);

    st = gobi_calloc(sizeof(gobi_state_t));

    /* no link on the way to our state (gobi_sync checks .gobi/ too) */
    flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
            | SQLITE_OPEN_NOFOLLOW;
    if (create) {
        flags |= SQLITE_OPEN_CREATE;
    }

    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        rc = gobi_error(GOBI_EXIT_DISK, "cannot open %s: %s", path,
                        st->db ? sqlite3_errmsg(st->db) : "out of memory");
        sqlite3_close(st->db);
        free(st);
        free(path);
        return rc;
    }

    free(path);

    sqlite3_busy_timeout(st->db, 10000);

    if (sqlite3_exec(st->db, gobi_state_schema, NULL, NULL, &err)
        != SQLITE_OK)
    {
        rc = gobi_error(GOBI_EXIT_DISK, "local state: %s", err);
        sqlite3_free(err);
        gobi_state_close(st);
        return rc;
    }

    *out = st;

    return 0;
}


void
gobi_state_close(gobi_state_t *st)
{
    int  i;

    if (st == NULL) {
        return;
    }

    for (i = 0; i < GOBI_ST_N; i++) {
        sqlite3_finalize(st->stmt[i]);
    }

    sqlite3_close(st->db);
    free(st);
}


char *
gobi_state_meta_get(gobi_state_t *st, const char *key)
{
    sqlite3_stmt  *s;
    char          *v;

    s = gobi_state_stmt(st, GOBI_ST_META_GET);
    if (s == NULL) {
        return NULL;
    }

    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);

    v = NULL;

    if (sqlite3_step(s) == SQLITE_ROW) {
        v = gobi_strdup((const char *) sqlite3_column_text(s, 0));
    }

    sqlite3_reset(s);

    return v;
}


int
gobi_state_meta_set(gobi_state_t *st, const char *key, const char *val)
{
    sqlite3_stmt  *s;

    s = gobi_state_stmt(st, GOBI_ST_META_SET);
    if (s == NULL) {
        return gobi_error_code();
    }

    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);

    return gobi_state_done(st, s, "meta");
}


int64_t
gobi_state_meta_int(gobi_state_t *st, const char *key, int64_t def)
{
    char     *v, *end;
    int64_t   n;

    v = gobi_state_meta_get(st, key);
    if (v == NULL) {
        return def;
    }

    n = strtoll(v, &end, 10);
    if (*end != '\0' || end == v) {
        n = def;
    }

    free(v);

    return n;
}


int
gobi_state_meta_set_int(gobi_state_t *st, const char *key, int64_t val)
{
    char  buf[32];

    snprintf(buf, sizeof(buf), "%lld", (long long) val);

    return gobi_state_meta_set(st, key, buf);
}


int
gobi_state_begin(gobi_state_t *st)
{
    if (st->in_tx) {
        return 0;
    }

    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)
        != SQLITE_OK)
    {
        return gobi_state_fail(st, "begin");
    }

    st->in_tx = 1;

    return 0;
}


int
gobi_state_commit(gobi_state_t *st)
{
    if (!st->in_tx) {
        return 0;
    }

    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        return gobi_state_fail(st, "commit");
    }

    st->in_tx = 0;

    return 0;
}


void
gobi_state_rollback(gobi_state_t *st)
{
    if (st->in_tx) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        st->in_tx = 0;
    }
}


static void
gobi_state_base_row(sqlite3_stmt *s, int col, gobi_base_t *b)
{
    const char  *hash;

    b->version = sqlite3_column_int64(s, col);
    hash = (const char *) sqlite3_column_text(s, col + 1);
    snprintf(b->hash, sizeof(b->hash), "%s", hash ? hash : "");
    b->size = sqlite3_column_int64(s, col + 2);
    b->mtime = sqlite3_column_int64(s, col + 3);
    b->lmtime = sqlite3_column_int64(s, col + 4);
    b->ino = sqlite3_column_int64(s, col + 5);
}


int
gobi_state_base_get(gobi_state_t *st, const char *path, gobi_base_t *out)
{
    sqlite3_stmt  *s;
    int            rc;

    s = gobi_state_stmt(st, GOBI_ST_BASE_GET);
    if (s == NULL) {
        return -1;
    }

    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);

    rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        out->path = NULL;
        gobi_state_base_row(s, 0, out);
        sqlite3_reset(s);
        return 1;
    }

    sqlite3_reset(s);

    if (rc != SQLITE_DONE) {
        gobi_state_fail(st, "base");
        return -1;
    }

    return 0;
}


int
gobi_state_base_put(gobi_state_t *st, const gobi_base_t *b)
{
    sqlite3_stmt  *s;

    s = gobi_state_stmt(st, GOBI_ST_BASE_PUT);
    if (s == NULL) {
        return gobi_error_code();
    }

    sqlite3_bind_text(s, 1, b->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, b->version);
    sqlite3_bind_text(s, 3, b->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, b->size);
    sqlite3_bind_int64(s, 5, b->mtime);
    sqlite3_bind_int64(s, 6, b->lmtime);
    sqlite3_bind_int64(s, 7, b->ino);

    return gobi_state_done(st, s, "base");
}


int
gobi_state_base_del(gobi_state_t *st, const char *path)
{
    sqlite3_stmt  *s;

    s = gobi_state_stmt(st, GOBI_ST_BASE_DEL);
    if (s == NULL) {
        return gobi_error_code();
    }

    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);

    return gobi_state_done(st, s, "base");
}


int
gobi_state_base_all(gobi_state_t *st, gobi_base_t **out, size_t *n)
{
    sqlite3_stmt  *s;
    gobi_base_t   *arr;
    size_t         len, cap;
    int            rc;

    *out = NULL;
    *n = 0;

    s = gobi_state_stmt(st, GOBI_ST_BASE_ALL);
    if (s == NULL) {
        return gobi_error_code();
    }

    arr = NULL;
    len = 0;
    cap = 0;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 256;
            arr = gobi_realloc(arr, cap * sizeof(gobi_base_t));
        }

        arr[len].path = gobi_strdup((const char *) sqlite3_column_text(s, 0));
        gobi_state_base_row(s, 1, &arr[len]);
        len++;
    }

    sqlite3_reset(s);

    if (rc != SQLITE_DONE) {
        gobi_state_base_free(arr, len);
        return gobi_state_fail(st, "base");
    }

    *out = arr;
    *n = len;

    return 0;
}


void
gobi_state_base_free(gobi_base_t *arr, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(arr[i].path);
    }

    free(arr);
}


static int64_t
gobi_state_count(gobi_state_t *st, int which)
{
    sqlite3_stmt  *s;
    int64_t        n;

    s = gobi_state_stmt(st, which);
    if (s == NULL) {
        return -1;
    }

    n = -1;

    if (sqlite3_step(s) == SQLITE_ROW) {
        n = sqlite3_column_int64(s, 0);
    }

    sqlite3_reset(s);

    return n;
}


int64_t
gobi_state_base_count(gobi_state_t *st)
{
    return gobi_state_count(st, GOBI_ST_BASE_COUNT);
}


char *
gobi_state_base_find_hash(gobi_state_t *st, const char *hash,
    const char *not)
{
    sqlite3_stmt  *s;
    char          *p;

    s = gobi_state_stmt(st, GOBI_ST_BASE_HASH);
    if (s == NULL) {
        return NULL;
    }

    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, not ? not : "", -1, SQLITE_STATIC);

    p = NULL;

    if (sqlite3_step(s) == SQLITE_ROW) {
        p = gobi_strdup((const char *) sqlite3_column_text(s, 0));
    }

    sqlite3_reset(s);

    return p;
}


int
gobi_state_queue_add(gobi_state_t *st, gobi_qop_e op, const char *path,
    const char *src)
{
    sqlite3_stmt  *s;

    /* the same operation already waiting adds nothing */
    s = gobi_state_stmt(st, GOBI_ST_Q_LAST);
    if (s == NULL) {
        return gobi_error_code();
    }

    sqlite3_bind_int(s, 1, (int) op);
    sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);

    if (src) {
        sqlite3_bind_text(s, 3, src, -1, SQLITE_STATIC);

    } else {
        sqlite3_bind_null(s, 3);
    }

    if (sqlite3_step(s) == SQLITE_ROW) {
        sqlite3_reset(s);
        return 0;
    }

    sqlite3_reset(s);

    s = gobi_state_stmt(st, GOBI_ST_Q_ADD);
    if (s == NULL) {
        return gobi_error_code();
    }

    sqlite3_bind_int(s, 1, (int) op);
    sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);

    if (src) {
        sqlite3_bind_text(s, 3, src, -1, SQLITE_STATIC);

    } else {
        sqlite3_bind_null(s, 3);
    }

    sqlite3_bind_int64(s, 4, gobi_now_ms());

    return gobi_state_done(st, s, "queue");
}


int
gobi_state_queue_list(gobi_state_t *st, gobi_qentry_t **out, size_t *n)
{
    sqlite3_stmt   *s;
    gobi_qentry_t  *arr;
    const char     *src;
    size_t          len, cap;
    int             rc;

    *out = NULL;
    *n = 0;

    s = gobi_state_stmt(st, GOBI_ST_Q_LIST);
    if (s == NULL) {
        return gobi_error_code();
    }

    arr = NULL;
    len = 0;
    cap = 0;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 64;
            arr = gobi_realloc(arr, cap * sizeof(gobi_qentry_t));
        }

        arr[len].id = sqlite3_column_int64(s, 0);
        arr[len].op = (gobi_qop_e) sqlite3_column_int(s, 1);
        arr[len].path = gobi_strdup((const char *) sqlite3_column_text(s, 2));
        src = (const char *) sqlite3_column_text(s, 3);
        arr[len].src = src ? gobi_strdup(src) : NULL;
        len++;
    }

    sqlite3_reset(s);

    if (rc != SQLITE_DONE) {
        gobi_state_queue_free(arr, len);
        return gobi_state_fail(st, "queue");
    }

    *out = arr;
    *n = len;

    return 0;
}


void
gobi_state_queue_free(gobi_qentry_t *arr, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(arr[i].path);
        free(arr[i].src);
    }

    free(arr);
}


int
gobi_state_queue_del(gobi_state_t *st, int64_t id)
{
    sqlite3_stmt  *s;

    s = gobi_state_stmt(st, GOBI_ST_Q_DEL);
    if (s == NULL) {
        return gobi_error_code();
    }

    sqlite3_bind_int64(s, 1, id);

    return gobi_state_done(st, s, "queue");
}


int64_t
gobi_state_queue_count(gobi_state_t *st)
{
    return gobi_state_count(st, GOBI_ST_Q_COUNT);
}


int
gobi_state_conflict_add(gobi_state_t *st, const char *path,
    const char *copy, int64_t version)
{
    sqlite3_stmt  *s;

    s = gobi_state_stmt(st, GOBI_ST_C_ADD);
    if (s == NULL) {
        return gobi_error_code();
    }

    sqlite3_bind_text(s, 1, copy, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, version);
    sqlite3_bind_int64(s, 4, gobi_now_ms());

    return gobi_state_done(st, s, "conflicts");
}


int
gobi_state_conflict_list(gobi_state_t *st, gobi_conflict_t **out, size_t *n)
{
    sqlite3_stmt     *s;
    gobi_conflict_t  *arr;
    size_t            len, cap;
    int               rc;

    *out = NULL;
    *n = 0;

    s = gobi_state_stmt(st, GOBI_ST_C_LIST);
    if (s == NULL) {
        return gobi_error_code();
    }

    arr = NULL;
    len = 0;
    cap = 0;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            arr = gobi_realloc(arr, cap * sizeof(gobi_conflict_t));
        }

        arr[len].path = gobi_strdup((const char *) sqlite3_column_text(s, 0));
        arr[len].copy = gobi_strdup((const char *) sqlite3_column_text(s, 1));
        arr[len].version = sqlite3_column_int64(s, 2);
        arr[len].ts = sqlite3_column_int64(s, 3);
        len++;
    }

    sqlite3_reset(s);

    if (rc != SQLITE_DONE) {
        gobi_state_conflict_free(arr, len);
        return gobi_state_fail(st, "conflicts");
    }

    *out = arr;
    *n = len;

    return 0;
}


void
gobi_state_conflict_free(gobi_conflict_t *arr, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(arr[i].path);
        free(arr[i].copy);
    }

    free(arr);
}


int
gobi_state_conflict_del(gobi_state_t *st, const char *copy)
{
    sqlite3_stmt  *s;

    s = gobi_state_stmt(st, GOBI_ST_C_DEL);
    if (s == NULL) {
        return gobi_error_code();
    }

    sqlite3_bind_text(s, 1, copy, -1, SQLITE_STATIC);

    return gobi_state_done(st, s, "conflicts");
}
