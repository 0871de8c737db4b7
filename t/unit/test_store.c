/*
 * Copyright (C) the gobi authors
 *
 * The store driver contract (gobi_store.h), for any driver:
 *
 *   GOBI_TEST_STORE=sqlite:/path/gobi.db      the SQLite driver on a file
 *   GOBI_TEST_STORE=mongodb://host/db         the MongoDB driver
 *   (unset)                                   SQLite on a fresh temp file
 *
 * Names are made unique per run and the vaults are deleted at the end, so
 * a shared database can be reused.
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>
#include <sqlite3.h>

#include "unit.h"

#include "gobi_crypt.h"
#include "gobi_store.h"


/* the MongoDB driver is optional in this binary */
extern const gobi_store_driver_t  gobi_store_mongodb __attribute__((weak));


#define NTHREADS   8
#define NWRITES    25
#define NROUNDS    10
#define MAXVAULTS  32


static const gobi_store_driver_t  *drv;
static gobi_store_t               *st;
static char                        uri[4096];
static char                        tmpdir[1024];
static char                        run[32];
static int64_t                     T0;
static int64_t                     vaults[MAXVAULTS];
static int                         nvaults;
static int64_t                     alice, bob;


static int64_t
now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* a valid content hash per number: 64 lowercase hex digits */

static const char *
hash_r(char *buf, unsigned n)
{
    snprintf(buf, GOBI_HASH_HEX_LEN + 1, "%064x", n);

    return buf;
}


/* main thread only */

static const char *
hash(unsigned n)
{
    static char  bufs[8][GOBI_HASH_HEX_LEN + 1];
    static int   i;

    return hash_r(bufs[i++ % 8], n);
}


static const char *
token(unsigned n)
{
    static char  buf[GOBI_HASH_HEX_LEN + 1];

    snprintf(buf, sizeof(buf), "%-16.16s%048x", run, n);

    return buf;
}


static int64_t
new_vault(int64_t owner, const char *name)
{
    gobi_vault_t     v;
    gobi_store_rc_e  rc;

    rc = drv->vault_create(st, owner, name, T0, &v);
    if (rc != GOBI_STORE_OK) {
        printf("Bail out! vault_create %s: %d %s\n", name, rc,
               drv->errmsg(st));
        exit(1);
    }

    if (nvaults < MAXVAULTS) {
        vaults[nvaults++] = v.id;
    }

    return v.id;
}


static gobi_store_rc_e
put(int64_t vault, const char *path, int64_t base, const char *h,
    int64_t now, gobi_event_t *ev, gobi_file_t *cur)
{
    gobi_write_t  w;

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_MODIFY;
    w.path = path;
    w.base_version = base;
    w.hash = h;
    w.size = (int64_t) strlen(path);
    w.mtime = 1000;
    w.now = now;

    return drv->write(st, vault, &w, ev, cur);
}


static gobi_store_rc_e
del(int64_t vault, const char *path, int64_t base, gobi_event_t *ev,
    gobi_file_t *cur)
{
    gobi_write_t  w;

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_DELETE;
    w.path = path;
    w.base_version = base;
    w.now = T0;

    return drv->write(st, vault, &w, ev, cur);
}


static gobi_store_rc_e
ren(int64_t vault, const char *from, const char *to, int64_t base,
    gobi_event_t *ev, gobi_file_t *cur)
{
    gobi_write_t  w;

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_RENAME;
    w.path = to;
    w.from = from;
    w.base_version = base;
    w.now = T0;

    return drv->write(st, vault, &w, ev, cur);
}


/* callbacks: collect what a listing returns */

typedef struct {
    int      n;
    int      stop;                         /* stop after this many, 0: no */
    char     names[64][256];
    int64_t  seqs[64];
    int      deleted[64];
    char     hashes[64][GOBI_HASH_HEX_LEN + 1];
} list_t;


static void
list_add(list_t *l, const char *name, int64_t seq, int deleted,
    const char *h)
{
    if (l->n < 64) {
        snprintf(l->names[l->n], 256, "%s", name ? name : "(null)");
        l->seqs[l->n] = seq;
        l->deleted[l->n] = deleted;
        snprintf(l->hashes[l->n], GOBI_HASH_HEX_LEN + 1, "%s", h);
    }

    l->n++;
}


static int
vault_cb(void *data, const gobi_vault_t *v)
{
    list_t  *l = data;

    list_add(l, v->name, v->head_seq, 0, "");

    return l->stop && l->n >= l->stop;
}


static int
file_cb(void *data, const gobi_file_t *f)
{
    list_t  *l = data;

    list_add(l, f->path, f->version, f->deleted, f->hash);

    return l->stop && l->n >= l->stop;
}


static int
event_cb(void *data, const gobi_event_t *e)
{
    list_t  *l = data;

    list_add(l, e->path, e->seq, e->type, e->hash);

    return l->stop && l->n >= l->stop;
}


static char *
joined(list_t *l)
{
    static char  buf[4096];
    int          i;
    size_t       len;

    buf[0] = '\0';
    len = 0;

    for (i = 0; i < l->n && i < 64; i++) {
        len += snprintf(buf + len, sizeof(buf) - len, "%s%s",
                        i ? "," : "", l->names[i]);
        if (len >= sizeof(buf)) {
            break;
        }
    }

    return buf;
}


static void
test_open(void)
{
    FILE          *f;
    char           errbuf[512], path[2048];
    gobi_store_t  *s;

    if (drv != &gobi_store_sqlite) {
        printf("# skip sqlite open errors: not the sqlite driver\n");
        return;
    }

    errbuf[0] = '\0';
    s = drv->open("/nonexistent-gobi-dir/sub/gobi.db", errbuf,
                  sizeof(errbuf));
    ok(s == NULL, "open in a missing folder fails");
    ok(strstr(errbuf, "/nonexistent-gobi-dir/sub/gobi.db") != NULL,
       "the message names the path: %s", errbuf);

    errbuf[0] = '\0';
    s = drv->open("", errbuf, sizeof(errbuf));
    ok(s == NULL && errbuf[0], "open of \"\" fails: %s", errbuf);

    errbuf[0] = '\0';
    s = drv->open(":memory:", errbuf, sizeof(errbuf));
    ok(s == NULL && errbuf[0], "open of :memory: fails: %s", errbuf);

    if (tmpdir[0]) {
        snprintf(path, sizeof(path), "%s/junk.db", tmpdir);
        f = fopen(path, "w");
        if (f) {
            fprintf(f, "%0*d", 8192, 0);
            fclose(f);
        }

        errbuf[0] = '\0';
        s = drv->open(path, errbuf, sizeof(errbuf));
        ok(s == NULL && errbuf[0], "open of a non-database fails: %s",
           errbuf);
        if (s) {
            drv->close(s);
        }

        unlink(path);
    }
}


static void
test_schema(void)
{
    is_int(drv->init_schema(st), GOBI_STORE_OK, "init_schema again");
    is_int(drv->init_schema(st), GOBI_STORE_OK, "and again: idempotent");
}


static void
test_users(void)
{
    char          name[80], name2[80], longname[80], upper[80];
    gobi_user_t   u, u2;

    snprintf(name, sizeof(name), "alice-%s", run);
    snprintf(name2, sizeof(name2), "bob-%s", run);

    memset(&u, 0, sizeof(u));
    is_int(drv->user_create(st, name, "$argon2id$alice", T0, &u),
           GOBI_STORE_OK, "user_create");
    ok(u.id > 0, "user id %lld", (long long) u.id);
    is_str(u.username, name, "username echoed");
    is_str(u.pwhash, "$argon2id$alice", "pwhash echoed");
    alice = u.id;

    is_int(drv->user_create(st, name, "$argon2id$other", T0, &u2),
           GOBI_STORE_EXISTS, "same username again: EXISTS");

    is_int(drv->user_create(st, name2, "$argon2id$bob", T0, &u2),
           GOBI_STORE_OK, "second user");
    ok(u2.id > 0 && u2.id != u.id, "distinct id");
    bob = u2.id;

    memset(&u2, 0, sizeof(u2));
    is_int(drv->user_get(st, name, &u2), GOBI_STORE_OK, "user_get");
    is_int(u2.id, alice, "user_get id");
    is_str(u2.username, name, "user_get username");
    is_str(u2.pwhash, "$argon2id$alice", "user_get pwhash");

    /* usernames are unique case-insensitively; the spelling stays */
    snprintf(upper, sizeof(upper), "ALICE-%s", run);
    is_int(drv->user_create(st, upper, "$argon2id$twin", T0, &u2),
           GOBI_STORE_EXISTS, "the same name in capitals: EXISTS");
    memset(&u2, 0, sizeof(u2));
    is_int(drv->user_get(st, upper, &u2), GOBI_STORE_OK,
           "user_get in capitals");
    is_int(u2.id, alice, "finds the user");
    is_str(u2.username, name, "with the spelling it was created with");

    is_int(drv->user_get(st, "nobody-at-all-here", &u2),
           GOBI_STORE_NOT_FOUND, "user_get unknown: NOT_FOUND");

    memset(&u2, 0, sizeof(u2));
    is_int(drv->user_get_by_id(st, bob, &u2), GOBI_STORE_OK,
           "user_get_by_id");
    is_str(u2.username, name2, "user_get_by_id username");
    is_str(u2.pwhash, "$argon2id$bob", "user_get_by_id pwhash");

    is_int(drv->user_get_by_id(st, INT64_C(999999999999), &u2),
           GOBI_STORE_NOT_FOUND, "user_get_by_id unknown: NOT_FOUND");

    /* a name of exactly GOBI_USERNAME_MAX bytes round-trips */
    snprintf(longname, sizeof(longname), "%s-%0*d", run,
             (int) (GOBI_USERNAME_MAX - strlen(run) - 1), 7);
    is_int(strlen(longname), GOBI_USERNAME_MAX, "a 64-byte name");
    is_int(drv->user_create(st, longname, "$x", T0, &u2), GOBI_STORE_OK,
           "user_create with the longest name");
    memset(&u2, 0, sizeof(u2));
    is_int(drv->user_get(st, longname, &u2), GOBI_STORE_OK,
           "user_get with the longest name");
    is_str(u2.username, longname, "longest name intact");
}


static void
test_tokens(void)
{
    int64_t      exp;
    gobi_user_t  u;
    char         t1[GOBI_HASH_HEX_LEN + 1], t2[GOBI_HASH_HEX_LEN + 1];

    snprintf(t1, sizeof(t1), "%s", token(1));
    snprintf(t2, sizeof(t2), "%s", token(2));

    is_int(drv->token_create(st, t1, alice, T0, T0 + 1000), GOBI_STORE_OK,
           "token_create");
    is_int(drv->token_create(st, t2, bob, T0, T0 + 5000), GOBI_STORE_OK,
           "token_create for another user");
    is_int(drv->token_create(st, t1, bob, T0, T0 + 5000), GOBI_STORE_EXISTS,
           "same token hash again: EXISTS");

    memset(&u, 0, sizeof(u));
    exp = 0;
    is_int(drv->token_get(st, t1, T0 + 999, &u, &exp), GOBI_STORE_OK,
           "token_get before expiry");
    is_int(u.id, alice, "token's user");
    ok(strncmp(u.username, "alice-", 6) == 0, "token's username %s",
       u.username);
    is_str(u.pwhash, "$argon2id$alice", "token's user pwhash");
    is_int(exp, T0 + 1000, "expires_at");

    is_int(drv->token_get(st, t1, T0 + 1000, &u, &exp),
           GOBI_STORE_NOT_FOUND, "token_get at expires_at: NOT_FOUND");
    is_int(drv->token_get(st, token(99), T0, &u, &exp),
           GOBI_STORE_NOT_FOUND, "unknown token: NOT_FOUND");

    is_int(drv->token_get(st, t2, T0, &u, &exp), GOBI_STORE_OK,
           "second token");
    is_int(u.id, bob, "second token's user");

    is_int(drv->token_delete(st, t2), GOBI_STORE_OK, "token_delete");
    is_int(drv->token_get(st, t2, T0, &u, &exp), GOBI_STORE_NOT_FOUND,
           "deleted token: NOT_FOUND");
    is_int(drv->token_delete(st, t2), GOBI_STORE_NOT_FOUND,
           "token_delete again: NOT_FOUND");
}


static void
test_vaults(void)
{
    list_t        l;
    int64_t       a, b, c;
    gobi_vault_t  v;

    a = new_vault(alice, "notes");
    memset(&v, 0, sizeof(v));
    is_int(drv->vault_get(st, alice, "notes", &v), GOBI_STORE_OK,
           "vault_get");
    is_int(v.id, a, "vault id");
    is_int(v.owner, alice, "vault owner");
    is_str(v.name, "notes", "vault name");
    is_int(v.created_at, T0, "vault created_at");
    is_int(v.head_seq, 0, "empty vault: head_seq 0");
    is_int(v.oldest_seq, 0, "empty vault: oldest_seq 0");

    is_int(drv->vault_create(st, alice, "notes", T0, &v), GOBI_STORE_EXISTS,
           "same owner and name: EXISTS");

    b = new_vault(bob, "notes");
    ok(b != a, "another owner may use the same name");

    is_int(drv->vault_get(st, bob, "notes", &v), GOBI_STORE_OK,
           "bob's notes");
    is_int(v.id, b, "bob's notes is bob's");
    is_int(drv->vault_get(st, alice, "nothing", &v), GOBI_STORE_NOT_FOUND,
           "vault_get unknown name: NOT_FOUND");

    memset(&v, 0, sizeof(v));
    is_int(drv->vault_get_by_id(st, a, &v), GOBI_STORE_OK,
           "vault_get_by_id");
    is_str(v.name, "notes", "vault_get_by_id name");
    is_int(v.owner, alice, "vault_get_by_id owner");
    is_int(drv->vault_get_by_id(st, INT64_C(999999999999), &v),
           GOBI_STORE_NOT_FOUND, "vault_get_by_id unknown: NOT_FOUND");

    new_vault(alice, "zeta");
    new_vault(alice, "alpha");

    memset(&l, 0, sizeof(l));
    is_int(drv->vault_list(st, alice, vault_cb, &l), GOBI_STORE_OK,
           "vault_list");
    is_str(joined(&l), "alpha,notes,zeta", "ordered by name");

    memset(&l, 0, sizeof(l));
    l.stop = 2;
    is_int(drv->vault_list(st, alice, vault_cb, &l), GOBI_STORE_OK,
           "vault_list stopped by the callback: OK");
    is_int(l.n, 2, "stopped after 2");

    memset(&l, 0, sizeof(l));
    is_int(drv->vault_list(st, INT64_C(999999999999), vault_cb, &l),
           GOBI_STORE_OK, "vault_list of an owner without vaults");
    is_int(l.n, 0, "no vaults");

    c = new_vault(alice, "doomed");
    is_int(drv->vault_delete(st, c), GOBI_STORE_OK, "vault_delete");
    is_int(drv->vault_get_by_id(st, c, &v), GOBI_STORE_NOT_FOUND,
           "deleted vault: NOT_FOUND");
    is_int(drv->vault_delete(st, c), GOBI_STORE_NOT_FOUND,
           "vault_delete again: NOT_FOUND");

    if (drv == &gobi_store_sqlite) {
        is_int(drv->vault_create(st, INT64_C(999999999999), "orphan", T0,
                                 &v),
               GOBI_STORE_NOT_FOUND, "sqlite: vault of an unknown owner");
    }
}


static int
nested_cb(void *data, const gobi_vault_t *v)
{
    gobi_vault_t  v2;
    int          *okay = data;

    /* a callback may call the store again */
    if (drv->vault_get_by_id(st, v->id, &v2) != GOBI_STORE_OK
        || v2.id != v->id)
    {
        *okay = 0;
    }

    return 0;
}


static void
test_nested(void)
{
    int  okay = 1;

    is_int(drv->vault_list(st, alice, nested_cb, &okay), GOBI_STORE_OK,
           "vault_list with store calls in the callback");
    ok(okay, "nested calls answered");
}


/* the state test_write leaves, checked by the manifest and events tests */
static int64_t  wv;


static void
test_write(void)
{
    gobi_write_t  w;
    gobi_event_t  ev;
    gobi_file_t   cur, f;
    gobi_vault_t  v;

    wv = new_vault(alice, "write");

    /* 1: create */
    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_CREATE;
    w.path = "a.txt";
    w.base_version = GOBI_BASE_ANY;
    w.hash = hash(0xa);
    w.size = 3;
    w.mtime = 1000;
    w.device = "dev1";
    w.now = T0 + 1;

    memset(&ev, 0, sizeof(ev));
    is_int(drv->write(st, wv, &w, &ev, &cur), GOBI_STORE_OK, "create");
    is_int(ev.seq, 1, "first seq is 1");
    is_int(ev.type, GOBI_EV_CREATE, "type create");
    is_str(ev.path, "a.txt", "event path");
    ok(ev.from == NULL, "no from");
    is_int(ev.version, 1, "version == seq");
    is_str(ev.hash, hash(0xa), "event hash");
    is_int(ev.size, 3, "event size");
    is_int(ev.mtime, 1000, "event mtime: the client's");
    is_str(ev.device, "dev1", "event device");
    is_int(ev.ts, T0 + 1, "event ts: now");

    memset(&f, 0, sizeof(f));
    is_int(drv->file_get(st, wv, "a.txt", &f), GOBI_STORE_OK, "file_get");
    is_str(f.path, "a.txt", "file path");
    is_int(f.version, 1, "file version");
    is_str(f.hash, hash(0xa), "file hash");
    is_int(f.size, 3, "file size");
    is_int(f.mtime, 1000, "file mtime");
    is_int(f.deleted, 0, "file live");

    is_int(drv->file_get(st, wv, "nope.txt", &f), GOBI_STORE_NOT_FOUND,
           "file_get of a missing path: NOT_FOUND");

    /* same content: no event */
    memset(&cur, 0, sizeof(cur));
    is_int(put(wv, "a.txt", GOBI_BASE_ANY, hash(0xa), T0, &ev, &cur),
           GOBI_STORE_UNCHANGED, "same hash: UNCHANGED");
    is_int(cur.version, 1, "UNCHANGED: current version");
    is_str(cur.hash, hash(0xa), "UNCHANGED: current hash");
    is_int(cur.deleted, 0, "UNCHANGED: current is live");
    is_int(put(wv, "a.txt", 1, hash(0xa), T0, &ev, &cur),
           GOBI_STORE_UNCHANGED, "same hash on the right base: UNCHANGED");
    drv->vault_get_by_id(st, wv, &v);
    is_int(v.head_seq, 1, "no event for UNCHANGED");

    /* 2: modify on the right base; type CREATE is turned into MODIFY */
    w.base_version = 1;
    w.hash = hash(0xb);
    w.size = 4;
    w.mtime = 0;
    w.device = NULL;
    w.now = T0 + 2;
    is_int(drv->write(st, wv, &w, &ev, &cur), GOBI_STORE_OK, "modify");
    is_int(ev.seq, 2, "seq 2");
    is_int(ev.type, GOBI_EV_MODIFY, "driver says MODIFY");
    is_int(ev.mtime, T0 + 2, "mtime 0: now");
    ok(ev.device == NULL, "no device");

    memset(&cur, 0, sizeof(cur));
    is_int(put(wv, "a.txt", 1, hash(0xc), T0, &ev, &cur),
           GOBI_STORE_CONFLICT, "stale base: CONFLICT");
    is_str(cur.path, "a.txt", "CONFLICT: current path");
    is_int(cur.version, 2, "CONFLICT: current version");
    is_str(cur.hash, hash(0xb), "CONFLICT: current hash");
    is_int(cur.size, 4, "CONFLICT: current size");
    is_int(cur.mtime, T0 + 2, "CONFLICT: current mtime");
    is_int(cur.deleted, 0, "CONFLICT: current live");

    is_int(put(wv, "a.txt", 1, hash(0xb), T0, &ev, &cur),
           GOBI_STORE_CONFLICT, "stale base with the current hash: CONFLICT");
    is_int(put(wv, "a.txt", 0, hash(0xc), T0, &ev, &cur),
           GOBI_STORE_CONFLICT, "base 0 on an existing path: CONFLICT");
    is_int(cur.version, 2, "base 0 CONFLICT: current version");

    memset(&cur, 0, sizeof(cur));
    is_int(put(wv, "c.txt", 5, hash(0xa), T0, &ev, &cur),
           GOBI_STORE_CONFLICT, "base > 0 on a missing path: CONFLICT");
    is_int(cur.version, 0, "missing: current version 0");
    is_int(cur.deleted, 1, "missing: current reads as deleted");

    drv->vault_get_by_id(st, wv, &v);
    is_int(v.head_seq, 2, "nothing written by the conflicts");
    is_int(drv->file_get(st, wv, "c.txt", &f), GOBI_STORE_NOT_FOUND,
           "no record for the conflicting path");

    /* 3: create only */
    is_int(put(wv, "b.txt", 0, hash(0xc), T0, &ev, &cur), GOBI_STORE_OK,
           "base 0 on a new path");
    is_int(ev.seq, 3, "seq 3");
    is_int(ev.type, GOBI_EV_CREATE, "create");

    /* 4: delete */
    is_int(del(wv, "missing.txt", GOBI_BASE_ANY, &ev, &cur),
           GOBI_STORE_NOT_FOUND, "delete of a missing path: NOT_FOUND");
    memset(&cur, 0, sizeof(cur));
    is_int(del(wv, "a.txt", 1, &ev, &cur), GOBI_STORE_CONFLICT,
           "delete on a stale base: CONFLICT");
    is_int(cur.version, 2, "delete CONFLICT: current version");

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_DELETE;
    w.path = "a.txt";
    w.base_version = 2;
    w.device = "dev2";
    w.now = T0 + 4;
    is_int(drv->write(st, wv, &w, &ev, &cur), GOBI_STORE_OK, "delete");
    is_int(ev.seq, 4, "seq 4");
    is_int(ev.type, GOBI_EV_DELETE, "type delete");
    is_int(ev.version, 4, "delete version == seq");
    is_str(ev.hash, "", "delete: no hash");
    is_str(ev.device, "dev2", "delete device");

    memset(&f, 0, sizeof(f));
    is_int(drv->file_get(st, wv, "a.txt", &f), GOBI_STORE_OK,
           "file_get of a tombstone");
    is_int(f.deleted, 1, "tombstone");
    is_int(f.version, 4, "tombstone version == seq");

    is_int(del(wv, "a.txt", GOBI_BASE_ANY, &ev, &cur), GOBI_STORE_NOT_FOUND,
           "delete of a tombstone: NOT_FOUND");
    is_int(put(wv, "a.txt", 2, hash(0xa), T0, &ev, &cur),
           GOBI_STORE_CONFLICT, "write on the pre-delete base: CONFLICT");
    is_int(cur.deleted, 1, "CONFLICT with a tombstone: deleted");
    is_int(cur.version, 4, "CONFLICT with a tombstone: its version");

    /* 5: recreate over the tombstone */
    is_int(put(wv, "a.txt", 0, hash(0xa), T0 + 5, &ev, &cur), GOBI_STORE_OK,
           "base 0 over a tombstone");
    is_int(ev.seq, 5, "seq 5");
    is_int(ev.type, GOBI_EV_CREATE, "over a tombstone: CREATE");

    /* 6: rename */
    is_int(ren(wv, "nope", "x", GOBI_BASE_ANY, &ev, &cur),
           GOBI_STORE_NOT_FOUND, "rename of a missing path: NOT_FOUND");
    is_int(ren(wv, "missing.txt", "x", GOBI_BASE_ANY, &ev, &cur),
           GOBI_STORE_NOT_FOUND, "rename of a never-written path");

    memset(&cur, 0, sizeof(cur));
    is_int(ren(wv, "b.txt", "a.txt", GOBI_BASE_ANY, &ev, &cur),
           GOBI_STORE_EXISTS, "rename onto a live file: EXISTS");
    is_str(cur.path, "a.txt", "EXISTS: current is the target");
    is_int(cur.version, 5, "EXISTS: target version");
    is_str(cur.hash, hash(0xa), "EXISTS: target hash");

    memset(&cur, 0, sizeof(cur));
    is_int(ren(wv, "b.txt", "dir/d.txt", 1, &ev, &cur), GOBI_STORE_CONFLICT,
           "rename on a stale base: CONFLICT");
    is_int(cur.version, 3, "rename CONFLICT: the source's version");

    is_int(ren(wv, "b.txt", "dir/d.txt", 3, &ev, &cur), GOBI_STORE_OK,
           "rename");
    is_int(ev.seq, 6, "seq 6");
    is_int(ev.type, GOBI_EV_RENAME, "type rename");
    is_str(ev.path, "dir/d.txt", "rename path: the target");
    is_str(ev.from, "b.txt", "rename from");
    is_int(ev.version, 6, "rename version == seq");
    is_str(ev.hash, hash(0xc), "rename keeps the hash");
    is_int(ev.size, 5, "rename keeps the size");
    is_int(ev.mtime, 1000, "rename keeps the mtime");

    memset(&f, 0, sizeof(f));
    is_int(drv->file_get(st, wv, "b.txt", &f), GOBI_STORE_OK,
           "old path kept");
    is_int(f.deleted, 1, "old path: tombstone");
    is_int(f.version, 6, "old path: version == seq");

    memset(&f, 0, sizeof(f));
    is_int(drv->file_get(st, wv, "dir/d.txt", &f), GOBI_STORE_OK,
           "new path");
    is_int(f.deleted, 0, "new path live");
    is_int(f.version, 6, "new path version == seq");
    is_str(f.hash, hash(0xc), "new path hash");
    is_int(f.size, 5, "new path size");
    is_int(f.mtime, 1000, "new path mtime");

    is_int(ren(wv, "b.txt", "q.txt", GOBI_BASE_ANY, &ev, &cur),
           GOBI_STORE_NOT_FOUND, "rename of a tombstone: NOT_FOUND");

    /* 7..10: more files, then a rename onto a tombstone */
    is_int(put(wv, "dir/e.txt", GOBI_BASE_ANY, hash(0xa), T0, &ev, &cur),
           GOBI_STORE_OK, "dir/e.txt");
    is_int(put(wv, "dir/f.txt", GOBI_BASE_ANY, hash(0xb), T0, &ev, &cur),
           GOBI_STORE_OK, "dir/f.txt");
    is_int(put(wv, "dirx.txt", GOBI_BASE_ANY, hash(0xc), T0, &ev, &cur),
           GOBI_STORE_OK, "dirx.txt");
    is_int(ev.seq, 9, "seq 9");
    is_int(ren(wv, "dir/f.txt", "b.txt", 8, &ev, &cur), GOBI_STORE_OK,
           "rename onto a tombstone");
    is_int(ev.seq, 10, "seq 10");

    memset(&f, 0, sizeof(f));
    drv->file_get(st, wv, "b.txt", &f);
    is_int(f.deleted, 0, "b.txt live again");
    is_str(f.hash, hash(0xb), "with dir/f.txt's hash");

    memset(&v, 0, sizeof(v));
    is_int(drv->vault_get(st, alice, "write", &v), GOBI_STORE_OK,
           "vault_get after writes");
    is_int(v.head_seq, 10, "head_seq 10");
    is_int(v.oldest_seq, 1, "oldest_seq 1");

    /* the missing vault and bad input */
    is_int(put(INT64_C(999999999999), "a.txt", GOBI_BASE_ANY, hash(1), T0,
               &ev, &cur), GOBI_STORE_NOT_FOUND, "write to a missing vault");

    is_int(put(wv, "z.txt", GOBI_BASE_ANY, "xyz", T0, &ev, &cur),
           GOBI_STORE_ERROR, "bad hash: ERROR");
    ok(drv->errmsg(st) && drv->errmsg(st)[0], "errmsg: %s",
       drv->errmsg(st));

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_NONE;
    w.path = "z.txt";
    w.base_version = GOBI_BASE_ANY;
    w.hash = hash(1);
    w.now = T0;
    is_int(drv->write(st, wv, &w, &ev, &cur), GOBI_STORE_ERROR,
           "bad type: ERROR");

    drv->vault_get_by_id(st, wv, &v);
    is_int(v.head_seq, 10, "nothing written by the errors");
}


static void
test_manifest(void)
{
    int      more;
    list_t   l;
    int64_t  seq;

    memset(&l, 0, sizeof(l));
    seq = -1;
    is_int(drv->file_list(st, wv, NULL, 0, NULL, 0, &seq, NULL, file_cb, &l),
           GOBI_STORE_OK, "file_list");
    is_int(seq, 10, "manifest seq");
    is_str(joined(&l), "a.txt,b.txt,dir/d.txt,dir/e.txt,dirx.txt",
           "live files by path");
    is_int(l.seqs[2], 6, "dir/d.txt version");
    is_str(l.hashes[2], hash(0xc), "dir/d.txt hash");

    memset(&l, 0, sizeof(l));
    is_int(drv->file_list(st, wv, "", 1, NULL, 0, &seq, NULL, file_cb, &l), GOBI_STORE_OK,
           "file_list with tombstones");
    is_str(joined(&l), "a.txt,b.txt,dir/d.txt,dir/e.txt,dir/f.txt,dirx.txt",
           "tombstones included");
    is_int(l.deleted[4], 1, "dir/f.txt is a tombstone");
    is_int(l.seqs[4], 10, "its version");
    is_int(l.deleted[0], 0, "a.txt is live");

    memset(&l, 0, sizeof(l));
    is_int(drv->file_list(st, wv, "dir/", 0, NULL, 0, &seq, NULL, file_cb, &l),
           GOBI_STORE_OK, "prefix dir/");
    is_str(joined(&l), "dir/d.txt,dir/e.txt", "prefix dir/");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, "dir/", 1, NULL, 0, &seq, NULL, file_cb, &l);
    is_str(joined(&l), "dir/d.txt,dir/e.txt,dir/f.txt",
           "prefix dir/ with tombstones");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, "dir", 0, NULL, 0, &seq, NULL, file_cb, &l);
    is_str(joined(&l), "dir/d.txt,dir/e.txt,dirx.txt",
           "prefix dir: a plain string prefix");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, "b.txt", 1, NULL, 0, &seq, NULL, file_cb, &l);
    is_str(joined(&l), "b.txt", "prefix: a whole path");

    memset(&l, 0, sizeof(l));
    is_int(drv->file_list(st, wv, "zzz", 1, NULL, 0, &seq, NULL, file_cb, &l),
           GOBI_STORE_OK, "prefix matching nothing");
    is_int(l.n, 0, "empty");
    is_int(seq, 10, "still the head seq");

    memset(&l, 0, sizeof(l));
    l.stop = 2;
    is_int(drv->file_list(st, wv, NULL, 1, NULL, 0, &seq, NULL, file_cb, &l),
           GOBI_STORE_OK, "file_list stopped by the callback: OK");
    is_int(l.n, 2, "stopped after 2");

    /* pages: limit, a cursor, more */
    memset(&l, 0, sizeof(l));
    more = -1;
    is_int(drv->file_list(st, wv, NULL, 0, NULL, 2, &seq, &more, file_cb,
                          &l),
           GOBI_STORE_OK, "first page of 2");
    is_str(joined(&l), "a.txt,b.txt", "first page");
    is_int(more, 1, "more");
    is_int(seq, 10, "page seq");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, NULL, 0, "b.txt", 2, &seq, &more, file_cb, &l);
    is_str(joined(&l), "dir/d.txt,dir/e.txt", "second page after b.txt");
    is_int(more, 1, "more again");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, NULL, 0, "dir/e.txt", 2, &seq, &more, file_cb,
                   &l);
    is_str(joined(&l), "dirx.txt", "last page skips the tombstone");
    is_int(more, 0, "no more");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, NULL, 0, "dirx.txt", 2, &seq, &more, file_cb,
                   &l);
    is_int(l.n, 0, "a cursor at the end: empty");
    is_int(more, 0, "and no more");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, NULL, 1, "b", 3, &seq, &more, file_cb, &l);
    is_str(joined(&l), "b.txt,dir/d.txt,dir/e.txt",
           "a cursor that is no path: the paths after it");
    is_int(more, 1, "more with tombstones");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, "dir/", 1, "dir/d.txt", 2, &seq, &more, file_cb,
                   &l);
    is_str(joined(&l), "dir/e.txt,dir/f.txt", "prefix and cursor");
    is_int(more, 0, "the prefix ends the listing");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, "dir/", 0, "a", 1, &seq, &more, file_cb, &l);
    is_str(joined(&l), "dir/d.txt", "a cursor before the prefix");
    is_int(more, 1, "more in the prefix");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, wv, NULL, 0, NULL, 5, &seq, &more, file_cb, &l);
    is_int(l.n, 5, "a page of exactly the live files");
    is_int(more, 0, "no more after it");

    memset(&l, 0, sizeof(l));
    is_int(drv->file_list(st, INT64_C(999999999999), NULL, 0, NULL, 0, &seq, NULL, file_cb,
                          &l),
           GOBI_STORE_NOT_FOUND, "file_list of a missing vault");
}


static int
check_event_cb(void *data, const gobi_event_t *e)
{
    gobi_event_t  *out = data;

    if (e->seq == 1 || e->seq == 4 || e->seq == 6) {
        out[e->seq] = *e;
        out[e->seq].path = strdup(e->path);
        out[e->seq].from = e->from ? strdup(e->from) : NULL;
        out[e->seq].device = e->device ? strdup(e->device) : NULL;
    }

    return 0;
}


static void
test_events(void)
{
    int           more, i;
    list_t        l;
    int64_t       head;
    gobi_event_t  evs[11];

    memset(&l, 0, sizeof(l));
    head = -1;
    more = -1;
    is_int(drv->events_since(st, wv, 0, 100, event_cb, &l, &head, &more),
           GOBI_STORE_OK, "events_since 0");
    is_int(l.n, 10, "10 events");
    is_int(head, 10, "head 10");
    is_int(more, 0, "no more");

    for (i = 0; i < 10; i++) {
        if (l.seqs[i] != i + 1) {
            break;
        }
    }
    is_int(i, 10, "seqs 1..10 ascending");
    is_str(joined(&l), "a.txt,a.txt,b.txt,a.txt,a.txt,dir/d.txt,dir/e.txt,"
           "dir/f.txt,dirx.txt,b.txt", "event paths");
    ok(l.deleted[0] == GOBI_EV_CREATE && l.deleted[1] == GOBI_EV_MODIFY
       && l.deleted[2] == GOBI_EV_CREATE && l.deleted[3] == GOBI_EV_DELETE
       && l.deleted[4] == GOBI_EV_CREATE && l.deleted[5] == GOBI_EV_RENAME
       && l.deleted[9] == GOBI_EV_RENAME, "event types");

    memset(evs, 0, sizeof(evs));
    drv->events_since(st, wv, 0, 0, check_event_cb, evs, &head, &more);
    is_str(evs[1].device, "dev1", "event 1 device");
    is_int(evs[1].mtime, 1000, "event 1 mtime");
    is_int(evs[1].ts, T0 + 1, "event 1 ts");
    is_int(evs[1].size, 3, "event 1 size");
    is_str(evs[1].hash, hash(0xa), "event 1 hash");
    ok(evs[1].from == NULL, "event 1 has no from");
    is_int(evs[4].type, GOBI_EV_DELETE, "event 4 delete");
    is_str(evs[4].hash, "", "event 4 no hash");
    is_str(evs[4].device, "dev2", "event 4 device");
    is_int(evs[4].ts, T0 + 4, "event 4 ts");
    is_str(evs[6].from, "b.txt", "event 6 from");
    is_str(evs[6].path, "dir/d.txt", "event 6 path");
    is_int(evs[6].version, 6, "event 6 version");
    is_str(evs[6].hash, hash(0xc), "event 6 hash");
    ok(evs[6].device == NULL, "event 6 no device");

    for (i = 0; i < 11; i++) {
        free((char *) evs[i].path);
        free((char *) evs[i].from);
        free((char *) evs[i].device);
    }

    memset(&l, 0, sizeof(l));
    is_int(drv->events_since(st, wv, 0, 3, event_cb, &l, &head, &more),
           GOBI_STORE_OK, "limit 3");
    is_int(l.n, 3, "3 events");
    is_int(l.seqs[2], 3, "up to seq 3");
    is_int(more, 1, "more");

    memset(&l, 0, sizeof(l));
    drv->events_since(st, wv, 3, 3, event_cb, &l, &head, &more);
    ok(l.n == 3 && l.seqs[0] == 4 && l.seqs[2] == 6, "since 3 limit 3");
    is_int(more, 1, "more");

    memset(&l, 0, sizeof(l));
    drv->events_since(st, wv, 7, 3, event_cb, &l, &head, &more);
    ok(l.n == 3 && l.seqs[0] == 8 && l.seqs[2] == 10, "since 7 limit 3");
    is_int(more, 0, "exactly the rest: no more");

    memset(&l, 0, sizeof(l));
    drv->events_since(st, wv, 9, 3, event_cb, &l, &head, &more);
    ok(l.n == 1 && l.seqs[0] == 10, "since 9: the last one");
    is_int(more, 0, "no more");

    memset(&l, 0, sizeof(l));
    more = -1;
    is_int(drv->events_since(st, wv, 10, 3, event_cb, &l, &head, &more),
           GOBI_STORE_OK, "since == head");
    is_int(l.n, 0, "nothing");
    is_int(more, 0, "no more");
    is_int(head, 10, "head");

    memset(&l, 0, sizeof(l));
    is_int(drv->events_since(st, wv, 50, 3, event_cb, &l, &head, &more),
           GOBI_STORE_OK, "since beyond head");
    is_int(l.n, 0, "nothing");

    memset(&l, 0, sizeof(l));
    l.stop = 1;
    is_int(drv->events_since(st, wv, 0, 0, event_cb, &l, &head, &more),
           GOBI_STORE_OK, "stopped by the callback: OK");
    is_int(l.n, 1, "one event");
    is_int(more, 1, "more");

    is_int(drv->events_since(st, INT64_C(999999999999), 0, 10, event_cb, &l,
                             &head, &more),
           GOBI_STORE_NOT_FOUND, "events_since of a missing vault");
}


/* events oldest..head are all there: no hole a cursor could skip */

typedef struct {
    int64_t  next;
    int64_t  n;
    int      holes;
} run_t;


static int
run_cb(void *data, const gobi_event_t *e)
{
    run_t  *r = data;

    if (e->seq != r->next) {
        r->holes++;
    }

    r->next = e->seq + 1;
    r->n++;

    return 0;
}


static int
gapless(int64_t vault, int64_t *oldest, int64_t *head)
{
    int           more;
    run_t         r;
    gobi_vault_t  v;

    if (drv->vault_get_by_id(st, vault, &v) != GOBI_STORE_OK) {
        return 0;
    }

    *oldest = v.oldest_seq;
    *head = v.head_seq;

    r.next = v.oldest_seq;
    r.n = 0;
    r.holes = 0;

    if (drv->events_since(st, vault, v.oldest_seq - 1, 0, run_cb, &r,
                          head, &more) != GOBI_STORE_OK)
    {
        return 0;
    }

    return r.holes == 0 && r.n == v.head_seq - v.oldest_seq + 1;
}


static void
test_prune(void)
{
    int           i, more;
    list_t        l;
    int64_t       pv, sv, pt, removed, head, oldest;
    gobi_event_t  ev;
    gobi_file_t   cur;
    gobi_vault_t  v;
    char          path[32];
    static const int64_t  skew[] = { 1000, 5000, 2000, 9000 };

    /* a vault whose history is ~11 days old */
    pt = T0 - INT64_C(1000000000);
    pv = new_vault(alice, "prune");

    for (i = 1; i <= 5; i++) {
        snprintf(path, sizeof(path), "p%d", i);
        put(pv, path, GOBI_BASE_ANY, hash(i), pt + i * 1000, &ev, &cur);
    }

    removed = -1;
    is_int(drv->events_prune(st, pt + 3500, &removed), GOBI_STORE_OK,
           "events_prune");
    is_int(removed, 3, "3 events removed");

    drv->vault_get_by_id(st, pv, &v);
    is_int(v.oldest_seq, 4, "oldest_seq 4");
    is_int(v.head_seq, 5, "head_seq unchanged");

    is_int(drv->events_since(st, pv, 0, 10, event_cb, &l, &head, &more),
           GOBI_STORE_EXPIRED, "since 0 after the prune: EXPIRED");
    is_int(head, 5, "EXPIRED still tells the head");
    is_int(drv->events_since(st, pv, 2, 10, event_cb, &l, &head, &more),
           GOBI_STORE_EXPIRED, "since 2: EXPIRED");

    memset(&l, 0, sizeof(l));
    is_int(drv->events_since(st, pv, 3, 10, event_cb, &l, &head, &more),
           GOBI_STORE_OK, "since oldest - 1: OK");
    ok(l.n == 2 && l.seqs[0] == 4 && l.seqs[1] == 5, "events 4 and 5");

    removed = -1;
    is_int(drv->events_prune(st, pt + 3500, &removed), GOBI_STORE_OK,
           "prune again");
    is_int(removed, 0, "nothing more");

    /* everything old: the latest event stays, so head_seq survives */
    is_int(drv->events_prune(st, pt + 100000, &removed), GOBI_STORE_OK,
           "prune all");
    is_int(removed, 1, "only event 4 removed");

    drv->vault_get_by_id(st, pv, &v);
    is_int(v.oldest_seq, 5, "the latest event kept");
    is_int(v.head_seq, 5, "head_seq 5");

    is_int(drv->events_since(st, pv, 3, 10, event_cb, &l, &head, &more),
           GOBI_STORE_EXPIRED, "since 3: EXPIRED");

    memset(&l, 0, sizeof(l));
    is_int(drv->events_since(st, pv, 4, 10, event_cb, &l, &head, &more),
           GOBI_STORE_OK, "since 4: OK");
    ok(l.n == 1 && l.seqs[0] == 5, "event 5");

    memset(&l, 0, sizeof(l));
    is_int(drv->events_since(st, pv, 5, 10, event_cb, &l, &head, &more),
           GOBI_STORE_OK, "since == head is never expired");
    is_int(l.n, 0, "nothing");

    is_int(put(pv, "p6", GOBI_BASE_ANY, hash(6), T0, &ev, &cur),
           GOBI_STORE_OK, "write after the prune");
    is_int(ev.seq, 6, "seq goes on at 6");

    memset(&l, 0, sizeof(l));
    drv->events_since(st, pv, 4, 10, event_cb, &l, &head, &more);
    ok(l.n == 2 && l.seqs[0] == 5 && l.seqs[1] == 6, "events 5 and 6");

    /* the files survive the prune */
    memset(&l, 0, sizeof(l));
    drv->file_list(st, pv, NULL, 0, NULL, 0, &head, NULL, file_cb, &l);
    is_str(joined(&l), "p1,p2,p3,p4,p5,p6", "files untouched by the prune");

    /* a clock that went back and forth must not leave holes */
    sv = new_vault(alice, "skew");

    for (i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "s%d", i);
        put(sv, path, GOBI_BASE_ANY, hash(i + 1), pt + skew[i], &ev, &cur);
    }

    is_int(drv->events_prune(st, pt + 3000, &removed), GOBI_STORE_OK,
           "prune with skewed timestamps");
    ok(removed >= 1, "something removed (%lld)", (long long) removed);
    ok(gapless(sv, &oldest, &head), "kept events %lld..%lld without a hole",
       (long long) oldest, (long long) head);
    is_int(head, 4, "head 4");
}


static void
test_blob(void)
{
    int           ref;
    int64_t       bv, other;
    gobi_event_t  ev;
    gobi_file_t   cur;

    bv = new_vault(alice, "blobs");
    other = new_vault(bob, "blobs");

    put(bv, "g", GOBI_BASE_ANY, hash(0xe0), T0, &ev, &cur);
    put(bv, "h", GOBI_BASE_ANY, hash(0xe2), T0, &ev, &cur);
    put(other, "g", GOBI_BASE_ANY, hash(0xe3), T0, &ev, &cur);

    ref = -1;
    is_int(drv->blob_referenced(st, bv, hash(0xe0), &ref), GOBI_STORE_OK,
           "blob_referenced");
    is_int(ref, 1, "live file's blob: referenced");

    put(bv, "g", GOBI_BASE_ANY, hash(0xe1), T0, &ev, &cur);
    drv->blob_referenced(st, bv, hash(0xe0), &ref);
    is_int(ref, 1, "old version's blob: referenced by history");
    drv->blob_referenced(st, bv, hash(0xe1), &ref);
    is_int(ref, 1, "new version's blob: referenced");

    del(bv, "g", GOBI_BASE_ANY, &ev, &cur);
    drv->blob_referenced(st, bv, hash(0xe1), &ref);
    is_int(ref, 1, "deleted file's blob: referenced by the trash");

    ren(bv, "h", "h2", GOBI_BASE_ANY, &ev, &cur);
    drv->blob_referenced(st, bv, hash(0xe2), &ref);
    is_int(ref, 1, "renamed file's blob: referenced");

    drv->blob_referenced(st, bv, hash(0xe3), &ref);
    is_int(ref, 0, "another vault's blob: not referenced here");
    drv->blob_referenced(st, other, hash(0xe3), &ref);
    is_int(ref, 1, "but there");
    drv->blob_referenced(st, bv, hash(0xeeee), &ref);
    is_int(ref, 0, "unknown blob");
}


/* history: versions, trash, the vault as of a seq, thinning */

typedef struct {
    int             n;
    char            paths[64][64];
    gobi_version_t  v[64];
    gobi_version_t  last[64];
    int             null[64];
} vlist_t;


static int
version_cb(void *data, const char *path, const gobi_version_t *v)
{
    vlist_t  *l = data;

    if (l->n < 64) {
        snprintf(l->paths[l->n], 64, "%s", path);
        l->null[l->n] = (v == NULL);
        if (v) {
            l->v[l->n] = *v;
        }
    }

    l->n++;

    return 0;
}


static int
trash_cb(void *data, const char *path, const gobi_version_t *d,
    const gobi_version_t *last)
{
    vlist_t  *l = data;

    if (l->n < 64) {
        snprintf(l->paths[l->n], 64, "%s", path);
        l->v[l->n] = *d;
        l->last[l->n] = *last;
    }

    l->n++;

    return 0;
}


static gobi_store_rc_e
put_dev(int64_t vault, const char *path, const char *h, const char *device,
    int64_t now)
{
    gobi_write_t  w;

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_MODIFY;
    w.path = path;
    w.base_version = GOBI_BASE_ANY;
    w.hash = h;
    w.size = 7;
    w.mtime = now - 5;
    w.device = device;
    w.now = now;

    return drv->write(st, vault, &w, NULL, NULL);
}


static gobi_store_rc_e
del_dev(int64_t vault, const char *path, const char *device, int64_t now)
{
    gobi_write_t  w;

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_DELETE;
    w.path = path;
    w.base_version = GOBI_BASE_ANY;
    w.device = device;
    w.now = now;

    return drv->write(st, vault, &w, NULL, NULL);
}


static void
test_history(void)
{
    int                     more, ref;
    int64_t                 hv, day, removed, deletes, live;
    vlist_t                 l;
    gobi_vault_t            v;
    gobi_version_t          one;
    gobi_versions_policy_t  pol;

    day = 24 * 3600 * 1000LL;
    hv = new_vault(alice, "history");

    /* 1 a.txt, 2 a.txt, 3 b.txt, 4 a.txt -> c.txt, 5 b.txt deleted,
     * 6 a.txt again, 7 d.txt */
    put_dev(hv, "a.txt", hash(0xa1), "laptop", T0 - 40 * day);
    put_dev(hv, "a.txt", hash(0xa2), "phone", T0 - 3 * day);
    put_dev(hv, "b.txt", hash(0xb1), NULL, T0 - 2 * day);
    ren(hv, "a.txt", "c.txt", GOBI_BASE_ANY, NULL, NULL);
    del_dev(hv, "b.txt", "laptop", T0);
    put_dev(hv, "a.txt", hash(0xa3), "laptop", T0);
    put_dev(hv, "d.txt", hash(0xd1), "laptop", T0);

    memset(&l, 0, sizeof(l));
    more = -1;
    is_int(drv->version_list(st, hv, "a.txt", 0, 0, version_cb, &l, &more),
           GOBI_STORE_OK, "version_list");
    is_int(l.n, 4, "a.txt: four versions");
    is_int(l.v[0].version, 6, "newest first: 6");
    is_int(l.v[1].version, 4, "then the rename that moved it away");
    is_int(l.v[1].deleted, 1, "moved away: deleted");
    is_int(l.v[1].moved, 1, "moved away: moved");
    is_int(l.v[2].version, 2, "then 2");
    is_str(l.v[2].hash, hash(0xa2), "version 2's hash");
    is_int(l.v[2].size, 7, "version 2's size");
    is_int(l.v[2].mtime, T0 - 3 * day - 5, "version 2's mtime");
    is_int(l.v[2].ts, T0 - 3 * day, "version 2's ts");
    is_str(l.v[2].device, "phone", "version 2's device");
    is_int(l.v[3].version, 1, "then 1");
    is_int(more, 0, "no more");

    memset(&l, 0, sizeof(l));
    drv->version_list(st, hv, "a.txt", 0, 2, version_cb, &l, &more);
    is_int(l.n, 2, "a page of 2");
    is_int(more, 1, "more");
    memset(&l, 0, sizeof(l));
    drv->version_list(st, hv, "a.txt", 4, 2, version_cb, &l, &more);
    is_int(l.n, 2, "the next page: before 4");
    is_int(l.v[0].version, 2, "starts at 2");
    is_int(more, 0, "and is the last");

    memset(&l, 0, sizeof(l));
    drv->version_list(st, hv, "c.txt", 0, 0, version_cb, &l, &more);
    is_int(l.n, 1, "c.txt: the rename's version");
    is_str(l.v[0].hash, hash(0xa2), "with a.txt's content");
    is_int(l.v[0].deleted, 0, "live");

    memset(&l, 0, sizeof(l));
    drv->version_list(st, hv, "nothing.txt", 0, 0, version_cb, &l, &more);
    is_int(l.n, 0, "no history: no versions");

    memset(&one, 0, sizeof(one));
    is_int(drv->version_get(st, hv, "a.txt", 2, &one), GOBI_STORE_OK,
           "version_get");
    is_str(one.hash, hash(0xa2), "version_get: the hash");
    is_int(drv->version_get(st, hv, "a.txt", 3, &one), GOBI_STORE_NOT_FOUND,
           "version_get of another path's version: NOT_FOUND");

    /* the trash: b.txt (deleted), not a.txt's rename (it came back
     * anyway) nor c.txt */
    memset(&l, 0, sizeof(l));
    is_int(drv->trash_list(st, hv, NULL, 0, trash_cb, &l, &more),
           GOBI_STORE_OK, "trash_list");
    is_int(l.n, 1, "one file in the trash");
    is_str(l.paths[0], "b.txt", "b.txt");
    is_int(l.v[0].version, 5, "deleted by version 5");
    is_str(l.v[0].device, "laptop", "by the laptop");
    is_int(l.last[0].version, 3, "its last content: version 3");
    is_str(l.last[0].hash, hash(0xb1), "with its hash");

    /* the vault as of seq 3: a.txt at 2, b.txt at 3, c.txt and d.txt did
     * not exist */
    memset(&l, 0, sizeof(l));
    is_int(drv->versions_at(st, hv, 3, NULL, 0, version_cb, &l, &more),
           GOBI_STORE_OK, "versions_at");
    is_int(l.n, 4, "four paths changed after 3");
    is_str(l.paths[0], "a.txt", "a.txt");
    is_int(l.v[0].version, 2, "a.txt as of 3: version 2");
    is_str(l.paths[1], "b.txt", "b.txt");
    is_int(l.v[1].version, 3, "b.txt as of 3: version 3");
    is_str(l.paths[2], "c.txt", "c.txt");
    is_int(l.null[2], 1, "c.txt did not exist");
    is_int(l.null[3], 1, "nor d.txt");

    memset(&l, 0, sizeof(l));
    drv->versions_at(st, hv, 3, "a.txt", 2, version_cb, &l, &more);
    is_int(l.n, 2, "versions_at: a page after a.txt");
    is_str(l.paths[0], "b.txt", "starts at b.txt");
    is_int(more, 1, "more");

    /* the mass-delete guard's numbers */
    is_int(drv->delete_stats(st, hv, "laptop", T0 - 1000, &deletes, &live),
           GOBI_STORE_OK, "delete_stats");
    is_int(deletes, 1, "one delete by the laptop");
    is_int(live, 3, "three live files");
    drv->delete_stats(st, hv, "phone", T0 - 1000, &deletes, &live);
    is_int(deletes, 0, "none by the phone");
    drv->delete_stats(st, hv, "laptop", T0 + 1, &deletes, &live);
    is_int(deletes, 0, "none since later");

    /* thinning: keep 1 drops a.txt's old versions, not the trash's */
    memset(&pol, 0, sizeof(pol));
    pol.kind = GOBI_VERSIONS_KEEP;
    pol.keep = 2;
    pol.trash = 30 * day;
    removed = -1;
    is_int(drv->versions_prune(st, &pol, T0, &removed), GOBI_STORE_OK,
           "versions_prune");
    ok(removed >= 2, "versions_prune removed some (%lld)",
       (long long) removed);
    memset(&l, 0, sizeof(l));
    drv->version_list(st, hv, "a.txt", 0, 0, version_cb, &l, &more);
    is_int(l.n, 2, "a.txt: two versions kept");
    is_int(l.v[1].version, 4, "the newest two");
    is_int(drv->version_get(st, hv, "a.txt", 1, &one), GOBI_STORE_NOT_FOUND,
           "a thinned version: NOT_FOUND");
    drv->blob_referenced(st, hv, hash(0xa1), &ref);
    is_int(ref, 0, "a thinned version's blob: not referenced");
    drv->blob_referenced(st, hv, hash(0xa2), &ref);
    is_int(ref, 1, "a renamed file's blob: referenced");
    memset(&l, 0, sizeof(l));
    drv->trash_list(st, hv, NULL, 0, trash_cb, &l, &more);
    is_int(l.n, 1, "b.txt still in the trash");

    /* past the trash's retention the deleted file's history goes */
    pol.kind = GOBI_VERSIONS_OFF;
    drv->versions_prune(st, &pol, T0 + 31 * day, &removed);
    memset(&l, 0, sizeof(l));
    drv->trash_list(st, hv, NULL, 0, trash_cb, &l, &more);
    is_int(l.n, 0, "the trash emptied after 30 days");
    drv->blob_referenced(st, hv, hash(0xb1), &ref);
    is_int(ref, 0, "its blob: not referenced");
    memset(&l, 0, sizeof(l));
    drv->version_list(st, hv, "a.txt", 0, 0, version_cb, &l, &more);
    is_int(l.n, 1, "off: a.txt keeps its current version only");
    drv->blob_referenced(st, hv, hash(0xa3), &ref);
    is_int(ref, 1, "whose blob stays referenced");

    /* the strategy */
    memset(&v, 0, sizeof(v));
    drv->vault_get_by_id(st, hv, &v);
    is_int(v.strategy, 0, "a new vault: keep-both (0)");
    is_int(drv->vault_set_strategy(st, hv, 3), GOBI_STORE_OK,
           "vault_set_strategy");
    drv->vault_get(st, alice, "history", &v);
    is_int(v.strategy, 3, "vault_get answers it");
    memset(&l, 0, sizeof(l));
    is_int(drv->vault_set_strategy(st, 987654321, 1), GOBI_STORE_NOT_FOUND,
           "vault_set_strategy of no vault: NOT_FOUND");
}


static void
test_vault_delete(void)
{
    int           more;
    list_t        l;
    int64_t       dv, head;
    gobi_event_t  ev;
    gobi_file_t   cur, f;
    gobi_vault_t  v;

    dv = new_vault(alice, "gone");
    put(dv, "a", GOBI_BASE_ANY, hash(1), T0, &ev, &cur);
    put(dv, "b", GOBI_BASE_ANY, hash(2), T0, &ev, &cur);

    is_int(drv->vault_delete(st, dv), GOBI_STORE_OK, "delete a full vault");
    is_int(drv->file_get(st, dv, "a", &f), GOBI_STORE_NOT_FOUND,
           "its files are gone");
    is_int(drv->events_since(st, dv, 0, 10, event_cb, &l, &head, &more),
           GOBI_STORE_NOT_FOUND, "its events are gone");

    dv = new_vault(alice, "gone");
    memset(&v, 0, sizeof(v));
    drv->vault_get_by_id(st, dv, &v);
    ok(v.head_seq == 0 && v.oldest_seq == 0, "a new vault of that name "
       "starts empty");

    memset(&l, 0, sizeof(l));
    drv->file_list(st, dv, NULL, 1, NULL, 0, &head, NULL, file_cb, &l);
    is_int(l.n, 0, "no files inherited");
    is_int(drv->file_get(st, dv, "a", &f), GOBI_STORE_NOT_FOUND,
           "no file a");
    is_int(put(dv, "a", 0, hash(1), T0, &ev, &cur), GOBI_STORE_OK,
           "write to the new vault");
    is_int(ev.seq, 1, "seq starts at 1");
}


/* encryption at rest: the vaults' wrapped data keys */

typedef struct {
    int64_t   want[4];                     /* the vaults to look for */
    int       n;
    char      wrapped[4][GOBI_CRYPT_WRAPPED_MAX];
    int       found[4];
    int       total;
    int       stop;                        /* stop after this many */
    int       ordered;
    int64_t   last;
} keys_t;


static int
key_cb(void *data, int64_t vault, const char *wrapped)
{
    int      i;
    keys_t  *k = data;

    if (vault <= k->last) {
        k->ordered = 0;
    }

    k->last = vault;
    k->total++;

    for (i = 0; i < k->n; i++) {
        if (k->want[i] == vault) {
            k->found[i]++;
            snprintf(k->wrapped[i], GOBI_CRYPT_WRAPPED_MAX, "%s", wrapped);
        }
    }

    return k->stop && k->total >= k->stop;
}


typedef struct {
    int64_t   want[4];
    int       n;
    int64_t   owner[4];
    int       total;
    int       stop;
    int       ordered;
    int64_t   last;
} all_t;


static int
all_cb(void *data, const gobi_vault_t *v)
{
    int     i;
    all_t  *a = data;

    if (v->id <= a->last) {
        a->ordered = 0;
    }

    a->last = v->id;
    a->total++;

    for (i = 0; i < a->n; i++) {
        if (a->want[i] == v->id) {
            a->owner[i] = v->owner;
        }
    }

    return a->stop && a->total >= a->stop;
}


typedef struct {
    gobi_store_t     *store;
    int64_t           vault;
    char              wrapped[GOBI_CRYPT_WRAPPED_MAX];
    gobi_store_rc_e   rc;
} key_racer_t;


static void *
key_racer(void *arg)
{
    key_racer_t  *kr = arg;

    kr->rc = drv->vault_key_add(kr->store, kr->vault, kr->wrapped);

    return NULL;
}


static void
wrap_new(const unsigned char *master, int64_t vault, char *out)
{
    unsigned char  dk[GOBI_CRYPT_KEY_LEN];

    gobi_crypt_key_new(dk);

    if (gobi_crypt_wrap(master, vault, dk, out, GOBI_CRYPT_WRAPPED_MAX) != 0)
    {
        printf("Bail out! gobi_crypt_wrap\n");
        exit(1);
    }
}


static void
test_vault_keys(void)
{
    int             i, wins, lost;
    char            w1[GOBI_CRYPT_WRAPPED_MAX], w2[GOBI_CRYPT_WRAPPED_MAX];
    char            w3[GOBI_CRYPT_WRAPPED_MAX], wb[GOBI_CRYPT_WRAPPED_MAX];
    char            got[GOBI_CRYPT_WRAPPED_MAX], name[80], errbuf[512];
    char            big[GOBI_CRYPT_WRAPPED_MAX + 10];
    int64_t         kv, kb, kd, rv;
    keys_t          k;
    all_t           a;
    pthread_t       t[NTHREADS];
    gobi_user_t     u;
    gobi_store_t   *st2;
    key_racer_t     kr[NTHREADS];
    unsigned char   master[GOBI_CRYPT_KEY_LEN], dk[GOBI_CRYPT_KEY_LEN];

    if (gobi_crypt_init() != 0) {
        ok(0, "libsodium");
        return;
    }

    gobi_crypt_key_new(master);

    kv = new_vault(alice, "keyed");
    kb = new_vault(bob, "keyed");
    wrap_new(master, kv, w1);
    wrap_new(master, kv, w2);
    wrap_new(master, kv, w3);
    wrap_new(master, kb, wb);

    is_int(drv->vault_key_get(st, kv, got, sizeof(got)),
           GOBI_STORE_NOT_FOUND, "vault_key_get of a vault without a key: "
           "NOT_FOUND");
    is_int(drv->vault_key_add(st, kv, w1), GOBI_STORE_OK, "vault_key_add");
    is_int(drv->vault_key_add(st, kv, w2), GOBI_STORE_EXISTS,
           "vault_key_add again: EXISTS");
    got[0] = '\0';
    is_int(drv->vault_key_get(st, kv, got, sizeof(got)), GOBI_STORE_OK,
           "vault_key_get");
    is_str(got, w1, "the first key stays");
    ok(gobi_crypt_unwrap(master, kv, got, dk) == 0, "and opens");

    is_int(drv->vault_key_get(st, kv, got, strlen(w1)), GOBI_STORE_ERROR,
           "vault_key_get into a buffer one byte short: ERROR");
    ok(drv->errmsg(st)[0] != '\0', "errmsg: %s", drv->errmsg(st));

    is_int(drv->vault_key_swap(st, kv, w1, w2), GOBI_STORE_OK,
           "vault_key_swap");
    drv->vault_key_get(st, kv, got, sizeof(got));
    is_str(got, w2, "the new key is stored");
    is_int(drv->vault_key_swap(st, kv, w1, w3), GOBI_STORE_CONFLICT,
           "vault_key_swap from a stale key: CONFLICT");
    drv->vault_key_get(st, kv, got, sizeof(got));
    is_str(got, w2, "and changed nothing");
    is_int(drv->vault_key_swap(st, kb, w1, w3), GOBI_STORE_CONFLICT,
           "vault_key_swap of a vault without a key: CONFLICT");
    is_int(drv->vault_key_get(st, kb, got, sizeof(got)),
           GOBI_STORE_NOT_FOUND, "and added none");

    is_int(drv->vault_key_add(st, INT64_C(999999999999), w1),
           GOBI_STORE_NOT_FOUND, "vault_key_add for no vault: NOT_FOUND");
    is_int(drv->vault_key_add(st, kb, ""), GOBI_STORE_ERROR,
           "an empty key: ERROR");
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    is_int(drv->vault_key_add(st, kb, big), GOBI_STORE_ERROR,
           "a key over GOBI_CRYPT_WRAPPED_MAX: ERROR");
    is_int(drv->vault_key_swap(st, kv, w2, big), GOBI_STORE_ERROR,
           "swapped for one: ERROR");
    is_int(drv->vault_key_get(st, kb, got, sizeof(got)),
           GOBI_STORE_NOT_FOUND, "nothing stored for bob's vault");

    is_int(drv->vault_key_add(st, kb, wb), GOBI_STORE_OK,
           "a key for bob's vault");

    memset(&k, 0, sizeof(k));
    k.want[0] = kv;
    k.want[1] = kb;
    k.n = 2;
    k.ordered = 1;
    is_int(drv->vault_key_list(st, key_cb, &k), GOBI_STORE_OK,
           "vault_key_list");
    ok(k.found[0] == 1 && k.found[1] == 1, "lists both keys once");
    is_str(k.wrapped[0], w2, "alice's current key");
    is_str(k.wrapped[1], wb, "bob's key");
    ok(k.ordered, "by vault id");

    memset(&k, 0, sizeof(k));
    k.stop = 1;
    is_int(drv->vault_key_list(st, key_cb, &k), GOBI_STORE_OK,
           "vault_key_list stopped by the callback: OK");
    is_int(k.total, 1, "stopped after 1");

    memset(&a, 0, sizeof(a));
    a.want[0] = kv;
    a.want[1] = kb;
    a.want[2] = vaults[0];
    a.n = 3;
    a.ordered = 1;
    is_int(drv->vault_all(st, all_cb, &a), GOBI_STORE_OK, "vault_all");
    ok(a.owner[0] == alice && a.owner[1] == bob && a.owner[2] == alice,
       "vaults of both owners");
    ok(a.ordered && a.total >= 3, "by id (%d vaults)", a.total);

    memset(&a, 0, sizeof(a));
    a.stop = 2;
    is_int(drv->vault_all(st, all_cb, &a), GOBI_STORE_OK,
           "vault_all stopped by the callback: OK");
    is_int(a.total, 2, "stopped after 2");

    /* the key goes with its vault */
    is_int(drv->vault_delete(st, kv), GOBI_STORE_OK, "vault_delete");
    is_int(drv->vault_key_get(st, kv, got, sizeof(got)),
           GOBI_STORE_NOT_FOUND, "its key is gone");
    memset(&k, 0, sizeof(k));
    k.want[0] = kv;
    k.want[1] = kb;
    k.n = 2;
    drv->vault_key_list(st, key_cb, &k);
    ok(k.found[0] == 0 && k.found[1] == 1, "vault_key_list: only bob's");
    memset(&a, 0, sizeof(a));
    a.want[0] = kv;
    a.n = 1;
    drv->vault_all(st, all_cb, &a);
    is_int(a.owner[0], 0, "vault_all: the vault is gone");

    rv = new_vault(alice, "keyed");
    is_int(drv->vault_key_get(st, rv, got, sizeof(got)),
           GOBI_STORE_NOT_FOUND, "a new vault of that name has no key");

    /* and with its owner */
    snprintf(name, sizeof(name), "dan-%s", run);
    is_int(drv->user_create(st, name, "$x", T0, &u), GOBI_STORE_OK, "dan");
    kd = new_vault(u.id, "dans");
    wrap_new(master, kd, w3);
    is_int(drv->vault_key_add(st, kd, w3), GOBI_STORE_OK, "dan's key");
    is_int(drv->user_delete(st, u.id), GOBI_STORE_OK, "user_delete");
    is_int(drv->vault_key_get(st, kd, got, sizeof(got)),
           GOBI_STORE_NOT_FOUND, "its vault's key is gone");
    is_int(drv->vault_key_get(st, kb, got, sizeof(got)), GOBI_STORE_OK,
           "others' stay");

    /* workers and instances race to make a vault's first key */
    st2 = drv->open(uri, errbuf, sizeof(errbuf));
    if (st2 == NULL) {
        printf("# second store: %s\n", errbuf);
        st2 = st;
    }

    kv = new_vault(alice, "keyrace");

    for (i = 0; i < NTHREADS; i++) {
        kr[i].store = (i % 2) ? st2 : st;
        kr[i].vault = kv;
        wrap_new(master, kv, kr[i].wrapped);
        pthread_create(&t[i], NULL, key_racer, &kr[i]);
    }

    wins = 0;
    lost = 0;

    for (i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        wins += kr[i].rc == GOBI_STORE_OK;
        lost += kr[i].rc == GOBI_STORE_EXISTS;
    }

    is_int(wins, 1, "%d racing vault_key_adds: exactly one wins", NTHREADS);
    is_int(lost, NTHREADS - 1, "the others get EXISTS");
    drv->vault_key_get(st, kv, got, sizeof(got));

    for (i = 0; i < NTHREADS; i++) {
        if (kr[i].rc == GOBI_STORE_OK) {
            is_str(got, kr[i].wrapped, "the winner's key is stored");
        }
    }

    if (st2 != st) {
        drv->close(st2);
    }
}


static void
test_account(void)
{
    char          name[80], t1[GOBI_HASH_HEX_LEN + 1];
    char          t2[GOBI_HASH_HEX_LEN + 1], t3[GOBI_HASH_HEX_LEN + 1];
    int64_t       cv, removed, exp;
    gobi_user_t   u;
    gobi_file_t   f, cur;
    gobi_event_t  ev;
    gobi_vault_t  v;

    snprintf(name, sizeof(name), "carol-%s", run);
    is_int(drv->user_create(st, name, "$argon2id$old", T0, &u),
           GOBI_STORE_OK, "carol");

    is_int(drv->user_set_password(st, u.id, "$argon2id$new"), GOBI_STORE_OK,
           "user_set_password");
    drv->user_get(st, name, &u);
    is_str(u.pwhash, "$argon2id$new", "the new hash");
    is_int(drv->user_set_password(st, INT64_C(999999999999), "$x"),
           GOBI_STORE_NOT_FOUND, "user_set_password of nobody: NOT_FOUND");

    snprintf(t1, sizeof(t1), "%s", token(31));
    snprintf(t2, sizeof(t2), "%s", token(32));
    snprintf(t3, sizeof(t3), "%s", token(33));
    drv->token_create(st, t1, u.id, T0, T0 + 100000);
    drv->token_create(st, t2, u.id, T0, T0 + 100000);
    drv->token_create(st, t3, u.id, T0, T0 + 100000);

    removed = -1;
    is_int(drv->token_delete_user(st, u.id, t1, &removed), GOBI_STORE_OK,
           "token_delete_user keeping one");
    is_int(removed, 2, "two removed");
    is_int(drv->token_get(st, t1, T0, &u, &exp), GOBI_STORE_OK,
           "the kept token works");
    is_int(drv->token_get(st, t2, T0, &u, &exp), GOBI_STORE_NOT_FOUND,
           "another is gone");

    removed = -1;
    is_int(drv->token_delete_user(st, u.id, NULL, &removed), GOBI_STORE_OK,
           "token_delete_user, all");
    is_int(removed, 1, "the last one removed");
    is_int(drv->token_get(st, t1, T0, &u, &exp), GOBI_STORE_NOT_FOUND,
           "none left");

    /* tokens_prune: expired ones of anyone, never a live one */
    drv->token_create(st, t1, u.id, T0, T0 + 10);
    drv->token_create(st, t2, u.id, T0, T0 + 20);
    drv->token_create(st, t3, u.id, T0, T0 + 100000);
    removed = -1;
    is_int(drv->tokens_prune(st, T0 + 20, &removed), GOBI_STORE_OK,
           "tokens_prune");
    ok(removed >= 2, "the expired ones removed (%lld)", (long long) removed);
    is_int(drv->token_get(st, t3, T0, &u, &exp), GOBI_STORE_OK,
           "a live token stays");
    is_int(drv->token_delete(st, t1), GOBI_STORE_NOT_FOUND,
           "an expired one is gone");

    /* user_delete: the user, its tokens, its vaults' records */
    cv = new_vault(u.id, "carols");
    put(cv, "x", GOBI_BASE_ANY, hash(7), T0, &ev, &cur);

    is_int(drv->user_delete(st, u.id), GOBI_STORE_OK, "user_delete");
    is_int(drv->user_get(st, name, &u), GOBI_STORE_NOT_FOUND,
           "the user is gone");
    is_int(drv->token_get(st, t3, T0, &u, &exp), GOBI_STORE_NOT_FOUND,
           "its tokens are gone");
    is_int(drv->vault_get_by_id(st, cv, &v), GOBI_STORE_NOT_FOUND,
           "its vault is gone");
    is_int(drv->file_get(st, cv, "x", &f), GOBI_STORE_NOT_FOUND,
           "its files are gone");
    is_int(drv->user_delete(st, u.id), GOBI_STORE_NOT_FOUND,
           "user_delete again: NOT_FOUND");

    is_int(drv->user_create(st, name, "$argon2id$again", T0, &u),
           GOBI_STORE_OK, "the name is free again");
}


/*
 * Users from before usernames were unique case-insensitively: two names
 * that differ only in case.  The schema upgrade keeps both, each logs in by
 * its exact spelling, other spellings find the older, new twins are refused.
 */

static int
legacy_twins(const char *a, const char *b)
{
    int                   rc;
    char                  sql[512];
    bson_t               *doc;
    sqlite3              *db;
    mongoc_uri_t         *u;
    bson_error_t          err;
    mongoc_client_t      *cl;
    mongoc_collection_t  *c;

    if (drv == &gobi_store_sqlite) {
        if (sqlite3_open(uri, &db) != SQLITE_OK) {
            sqlite3_close(db);
            return -1;
        }

        snprintf(sql, sizeof(sql), "INSERT INTO users (username, pwhash, "
                 "created_at) VALUES ('%s', '$old', 0), ('%s', '$new', 0)",
                 a, b);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
        sqlite3_close(db);

        return rc;
    }

    u = mongoc_uri_new(uri);
    if (u == NULL) {
        return -1;
    }

    cl = mongoc_client_new_from_uri(u);
    c = mongoc_client_get_collection(cl, mongoc_uri_get_database(u)
                                     ? mongoc_uri_get_database(u) : "gobi",
                                     "users");

    /* as before the upgrade: no username_key, no index on it */
    (void) mongoc_collection_drop_index(c, "username_key_1", &err);

    rc = 0;
    doc = BCON_NEW("_id", BCON_INT64(INT64_C(7000000000000) + (T0 % 100000)),
                   "username", BCON_UTF8(a), "pwhash", BCON_UTF8("$old"),
                   "created_at", BCON_INT64(0));
    if (!mongoc_collection_insert_one(c, doc, NULL, NULL, &err)) {
        rc = -1;
    }
    bson_destroy(doc);

    doc = BCON_NEW("_id", BCON_INT64(INT64_C(7000000000001) + (T0 % 100000)),
                   "username", BCON_UTF8(b), "pwhash", BCON_UTF8("$new"),
                   "created_at", BCON_INT64(0));
    if (!mongoc_collection_insert_one(c, doc, NULL, NULL, &err)) {
        rc = -1;
    }
    bson_destroy(doc);

    mongoc_collection_destroy(c);
    mongoc_client_destroy(cl);
    mongoc_uri_destroy(u);

    return rc;
}


static void
test_twins(void)
{
    char         a[80], b[80], up[80];
    gobi_user_t  u, older;

    snprintf(a, sizeof(a), "Dave-%s", run);
    snprintf(b, sizeof(b), "dave-%s", run);
    snprintf(up, sizeof(up), "DAVE-%s", run);

    if (legacy_twins(a, b) != 0) {
        ok(0, "legacy users written");
        return;
    }

    is_int(drv->init_schema(st), GOBI_STORE_OK,
           "the schema upgrades with two names differing in case");

    memset(&older, 0, sizeof(older));
    is_int(drv->user_get(st, a, &older), GOBI_STORE_OK, "the first twin");
    is_str(older.pwhash, "$old", "by its exact spelling");
    memset(&u, 0, sizeof(u));
    is_int(drv->user_get(st, b, &u), GOBI_STORE_OK, "the second twin");
    is_str(u.pwhash, "$new", "by its exact spelling too");
    ok(u.id != older.id, "two users");

    memset(&u, 0, sizeof(u));
    is_int(drv->user_get(st, up, &u), GOBI_STORE_OK, "another spelling");
    is_int(u.id, older.id, "finds the older twin");

    is_int(drv->user_create(st, up, "$x", T0, &u), GOBI_STORE_EXISTS,
           "a third spelling cannot be created");
    is_int(drv->init_schema(st), GOBI_STORE_OK, "init_schema once more");
}


/*
 * SQLite: a schema-3 database (as the previous gobi left it: no
 * vault_keys) upgrades to 4 in place and keeps its data.  Made by
 * dropping what 4 added from a fresh one, on a file of its own.
 */

static int
sqlite_user_version(const char *path)
{
    int            v;
    sqlite3       *db;
    sqlite3_stmt  *stmt;

    v = -1;

    if (sqlite3_open(path, &db) == SQLITE_OK
        && sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL)
           == SQLITE_OK)
    {
        if (sqlite3_step(stmt) == SQLITE_ROW) {
            v = sqlite3_column_int(stmt, 0);
        }

        sqlite3_finalize(stmt);
    }

    sqlite3_close(db);

    return v;
}


static void
test_migrate(void)
{
    int            i, rc;
    char           dir[1024], path[1200], errbuf[512], name[80];
    char           got[GOBI_CRYPT_WRAPPED_MAX];
    char           w[GOBI_CRYPT_WRAPPED_MAX];
    sqlite3       *db;
    gobi_user_t    u;
    gobi_vault_t   v;
    gobi_file_t    f, cur;
    gobi_event_t   ev;
    gobi_store_t  *s, *keep;
    unsigned char  master[GOBI_CRYPT_KEY_LEN];
    static const char  *ext[] = { "", "-wal", "-shm" };

    if (drv != &gobi_store_sqlite) {
        printf("# skip the schema 3 -> 4 migration: not the sqlite driver\n");
        return;
    }

    snprintf(dir, sizeof(dir), "/tmp/gobi-migrate-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp: %s", strerror(errno));
        return;
    }

    snprintf(path, sizeof(path), "%s/old.db", dir);
    snprintf(name, sizeof(name), "erin-%s", run);

    s = drv->open(path, errbuf, sizeof(errbuf));
    if (s == NULL || drv->init_schema(s) != GOBI_STORE_OK) {
        ok(0, "a fresh database: %s", s ? drv->errmsg(s) : errbuf);
        goto done;
    }

    drv->user_create(s, name, "$argon2id$erin", T0, &u);
    drv->vault_create(s, u.id, "old", T0, &v);
    drv->vault_set_strategy(s, v.id, 2);

    /* put() writes through the global st */
    keep = st;
    st = s;
    put(v.id, "kept.txt", GOBI_BASE_ANY, hash(41), T0, &ev, &cur);
    st = keep;
    drv->close(s);

    rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, "DROP TABLE vault_keys;"
                              "PRAGMA user_version = 3;", NULL, NULL, NULL);
    }
    sqlite3_close(db);
    is_int(rc, SQLITE_OK, "a schema-3 database");
    is_int(sqlite_user_version(path), 3, "user_version 3");

    s = drv->open(path, errbuf, sizeof(errbuf));
    if (s == NULL) {
        ok(0, "reopen: %s", errbuf);
        goto done;
    }

    is_int(drv->vault_key_get(s, v.id, got, sizeof(got)), GOBI_STORE_ERROR,
           "before the upgrade there are no keys to read (ERROR)");
    is_int(drv->init_schema(s), GOBI_STORE_OK, "init_schema upgrades it");
    is_int(sqlite_user_version(path), 4, "user_version 4");

    memset(&u, 0, sizeof(u));
    is_int(drv->user_get(s, name, &u), GOBI_STORE_OK, "the user stays");
    is_str(u.pwhash, "$argon2id$erin", "with its password hash");
    memset(&v, 0, sizeof(v));
    is_int(drv->vault_get(s, u.id, "old", &v), GOBI_STORE_OK,
           "the vault stays");
    ok(v.head_seq == 1 && v.strategy == 2, "with its log and strategy");
    memset(&f, 0, sizeof(f));
    is_int(drv->file_get(s, v.id, "kept.txt", &f), GOBI_STORE_OK,
           "the file stays");
    is_str(f.hash, hash(41), "with its hash");

    is_int(drv->vault_key_get(s, v.id, got, sizeof(got)),
           GOBI_STORE_NOT_FOUND, "an old vault has no key yet");
    gobi_crypt_key_new(master);
    wrap_new(master, v.id, w);
    is_int(drv->vault_key_add(s, v.id, w), GOBI_STORE_OK, "and gets one");
    is_int(drv->init_schema(s), GOBI_STORE_OK, "init_schema once more");
    is_int(drv->vault_key_get(s, v.id, got, sizeof(got)), GOBI_STORE_OK,
           "the key survives it");
    is_str(got, w, "unchanged");

    drv->close(s);

done:

    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/old.db%s", dir, ext[i]);
        unlink(path);
    }

    rmdir(dir);
}


/* concurrency: threads of one process, and a second store (a worker) */

typedef struct {
    gobi_store_t     *store;
    int64_t           vault;
    int               id;
    int64_t           base;
    gobi_store_rc_e   rc[NWRITES];
    int64_t           seq[NWRITES];
    int64_t           cur_version;
    char              errmsg[256];
} worker_t;


static void *
writer(void *arg)
{
    int            j;
    char           path[64], h[GOBI_HASH_HEX_LEN + 1];
    worker_t      *wk = arg;
    gobi_write_t   w;
    gobi_event_t   ev;
    gobi_file_t    cur;

    for (j = 0; j < NWRITES; j++) {
        if (j % 2) {
            snprintf(path, sizeof(path), "shared.txt");

        } else {
            snprintf(path, sizeof(path), "t%d/f%d", wk->id, j);
        }

        memset(&w, 0, sizeof(w));
        w.type = GOBI_EV_CREATE;
        w.path = path;
        w.base_version = GOBI_BASE_ANY;
        w.hash = hash_r(h, 0x10000 + wk->id * 1000 + j);
        w.size = j;
        w.now = T0;

        wk->seq[j] = 0;
        wk->rc[j] = drv->write(wk->store, wk->vault, &w, &ev, &cur);

        if (wk->rc[j] == GOBI_STORE_OK) {
            wk->seq[j] = ev.seq;

        } else {
            snprintf(wk->errmsg, sizeof(wk->errmsg), "%s",
                     drv->errmsg(wk->store));
        }
    }

    return NULL;
}


static void *
racer(void *arg)
{
    char           h[GOBI_HASH_HEX_LEN + 1];
    worker_t      *wk = arg;
    gobi_event_t   ev;
    gobi_file_t    cur;
    gobi_write_t   w;

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_MODIFY;
    w.path = "race.txt";
    w.base_version = wk->base;
    w.hash = hash_r(h, 0x20000 + wk->id * 1000 + (unsigned) wk->base);
    w.now = T0;

    memset(&cur, 0, sizeof(cur));
    wk->rc[0] = drv->write(wk->store, wk->vault, &w, &ev, &cur);
    wk->seq[0] = (wk->rc[0] == GOBI_STORE_OK) ? ev.seq : 0;
    wk->cur_version = cur.version;

    return NULL;
}


static void *
deleter(void *arg)
{
    worker_t      *wk = arg;
    gobi_event_t   ev;
    gobi_file_t    cur;
    gobi_write_t   w;

    memset(&w, 0, sizeof(w));
    w.type = GOBI_EV_DELETE;
    w.path = "race.txt";
    w.base_version = GOBI_BASE_ANY;
    w.now = T0;

    wk->rc[0] = drv->write(wk->store, wk->vault, &w, &ev, &cur);
    wk->seq[0] = (wk->rc[0] == GOBI_STORE_OK) ? ev.seq : 0;

    return NULL;
}


static void
run_threads(void *(*fn)(void *), worker_t *wk)
{
    int        i;
    pthread_t  t[NTHREADS];

    for (i = 0; i < NTHREADS; i++) {
        pthread_create(&t[i], NULL, fn, &wk[i]);
    }

    for (i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
    }
}


static void
test_concurrency(void)
{
    int            i, j, errors, dups, wins, conflicts, bad, others;
    char           errbuf[512];
    int64_t        cv, head, base, oldest;
    worker_t       wk[NTHREADS];
    gobi_store_t  *st2;
    gobi_vault_t   v;
    gobi_event_t   ev;
    gobi_file_t    cur;
    static int     seen[NTHREADS * NWRITES + 1];

    st2 = drv->open(uri, errbuf, sizeof(errbuf));
    ok(st2 != NULL, "a second store on the same database");
    if (st2 == NULL) {
        printf("# %s\n", errbuf);
        st2 = st;
    }

    cv = new_vault(alice, "busy");

    memset(wk, 0, sizeof(wk));
    for (i = 0; i < NTHREADS; i++) {
        wk[i].store = (i % 2) ? st2 : st;
        wk[i].vault = cv;
        wk[i].id = i;
    }

    run_threads(writer, wk);

    errors = 0;
    dups = 0;
    memset(seen, 0, sizeof(seen));

    for (i = 0; i < NTHREADS; i++) {
        for (j = 0; j < NWRITES; j++) {
            if (wk[i].rc[j] != GOBI_STORE_OK) {
                if (errors++ == 0) {
                    printf("# write: %d %s\n", wk[i].rc[j], wk[i].errmsg);
                }
                continue;
            }

            if (wk[i].seq[j] < 1 || wk[i].seq[j] > NTHREADS * NWRITES
                || seen[wk[i].seq[j]]++)
            {
                dups++;
            }
        }
    }

    is_int(errors, 0, "%d concurrent writes all OK", NTHREADS * NWRITES);
    is_int(dups, 0, "no duplicate or out-of-range seq");

    for (i = 1; i <= NTHREADS * NWRITES; i++) {
        if (seen[i] != 1) {
            break;
        }
    }
    is_int(i, NTHREADS * NWRITES + 1, "seqs 1..%d without a gap",
           NTHREADS * NWRITES);

    memset(&v, 0, sizeof(v));
    drv->vault_get_by_id(st, cv, &v);
    is_int(v.head_seq, NTHREADS * NWRITES, "head_seq");
    ok(gapless(cv, &oldest, &head) && oldest == 1,
       "the log holds every event in order");

    memset(&cur, 0, sizeof(cur));
    drv->file_get(st, cv, "shared.txt", &cur);
    is_int(cur.deleted, 0, "shared.txt live");

    /* conditional writes: one winner per base version */
    put(cv, "race.txt", 0, hash(0x1ace), T0, &ev, &cur);
    base = ev.seq;
    bad = 0;

    for (j = 0; j < NROUNDS; j++) {
        memset(wk, 0, sizeof(wk));
        for (i = 0; i < NTHREADS; i++) {
            wk[i].store = (i % 2) ? st2 : st;
            wk[i].vault = cv;
            wk[i].id = i;
            wk[i].base = base;
        }

        run_threads(racer, wk);

        wins = 0;
        conflicts = 0;
        others = 0;

        for (i = 0; i < NTHREADS; i++) {
            if (wk[i].rc[0] == GOBI_STORE_OK) {
                wins++;
                base = wk[i].seq[0];

            } else if (wk[i].rc[0] == GOBI_STORE_CONFLICT) {
                conflicts++;

            } else {
                others++;
            }
        }

        for (i = 0; i < NTHREADS; i++) {
            if (wk[i].rc[0] == GOBI_STORE_CONFLICT
                && wk[i].cur_version != base)
            {
                others++;
            }
        }

        if (wins != 1 || conflicts != NTHREADS - 1 || others) {
            printf("# round %d: %d wins, %d conflicts, %d others\n", j, wins,
                   conflicts, others);
            bad++;
        }
    }

    is_int(bad, 0, "%d rounds of %d racing conditional writes: one winner "
           "each, the rest CONFLICT with the winner's version", NROUNDS,
           NTHREADS);

    memset(&cur, 0, sizeof(cur));
    drv->file_get(st, cv, "race.txt", &cur);
    is_int(cur.version, base, "race.txt is at the last winner's version");

    /* racing deletes: one OK, the rest NOT_FOUND */
    memset(wk, 0, sizeof(wk));
    for (i = 0; i < NTHREADS; i++) {
        wk[i].store = (i % 2) ? st2 : st;
        wk[i].vault = cv;
        wk[i].id = i;
    }

    run_threads(deleter, wk);

    wins = 0;
    others = 0;
    for (i = 0; i < NTHREADS; i++) {
        if (wk[i].rc[0] == GOBI_STORE_OK) {
            wins++;

        } else if (wk[i].rc[0] != GOBI_STORE_NOT_FOUND) {
            others++;
        }
    }
    ok(wins == 1 && others == 0, "racing deletes: one OK, %d NOT_FOUND",
       NTHREADS - 1);

    drv->vault_get_by_id(st, cv, &v);
    is_int(v.head_seq, NTHREADS * NWRITES + 1 + NROUNDS + 1,
           "head_seq counts exactly the successful writes");

    if (st2 != st) {
        drv->close(st2);
    }
}


/* SQLite only: a writer in another connection holds the database */

typedef struct {
    sqlite3  *db;
    int       ms;
} holder_t;


static void *
release_later(void *arg)
{
    holder_t  *h = arg;

    usleep(h->ms * 1000);
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);

    return NULL;
}


static void
test_busy(void)
{
    int64_t       bv, t;
    sqlite3      *db;
    holder_t      h;
    pthread_t     th;
    gobi_event_t  ev;
    gobi_file_t   cur, f;

    if (drv != &gobi_store_sqlite) {
        printf("# skip busy database: not the sqlite driver\n");
        return;
    }

    bv = new_vault(alice, "locked");
    put(bv, "a", GOBI_BASE_ANY, hash(1), T0, &ev, &cur);

    if (sqlite3_open(uri, &db) != SQLITE_OK) {
        ok(0, "raw sqlite connection: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }

    /* a short lock: the busy timeout waits it out */
    is_int(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK,
           "another connection takes the write lock");
    h.db = db;
    h.ms = 300;
    pthread_create(&th, NULL, release_later, &h);

    t = now_ms();
    is_int(put(bv, "b", GOBI_BASE_ANY, hash(2), T0, &ev, &cur),
           GOBI_STORE_OK, "a write waits for a short lock");
    ok(now_ms() - t >= 200, "and waited (%lld ms)",
       (long long) (now_ms() - t));
    pthread_join(th, NULL);

    /* a lock beyond the busy timeout: UNAVAILABLE, reads go on (WAL) */
    printf("# holding the lock past the busy timeout (~10 s)\n");
    sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL);

    is_int(drv->file_get(st, bv, "a", &f), GOBI_STORE_OK,
           "reads go on while a writer holds the lock");
    is_int(put(bv, "c", GOBI_BASE_ANY, hash(3), T0, &ev, &cur),
           GOBI_STORE_UNAVAILABLE, "a write past the busy timeout: "
           "UNAVAILABLE");
    ok(drv->errmsg(st) && drv->errmsg(st)[0], "errmsg: %s",
       drv->errmsg(st));

    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);

    is_int(put(bv, "c", GOBI_BASE_ANY, hash(3), T0, &ev, &cur),
           GOBI_STORE_OK, "the write works once the lock is gone");
    is_int(ev.seq, 3, "and takes the next seq");
}


/*
 * SQLite only: group commit.  While another connection holds the lock,
 * the writes of this process queue behind the first one and go in as a
 * group: a write that fails in it (a stale base, a missing file) is
 * undone alone, the others take seqs in a row.
 */

typedef struct {
    int64_t           vault;
    int               kind;      /* 0 create, 1 stale modify, 2 delete */
    int64_t           base;
    char              path[64];
    gobi_store_rc_e   rc;
    int64_t           seq;
    int64_t           cur_version;
} grouped_t;


static void *
grouped_writer(void *arg)
{
    char           h[GOBI_HASH_HEX_LEN + 1];
    grouped_t     *g = arg;
    gobi_write_t   w;
    gobi_event_t   ev;
    gobi_file_t    cur;

    memset(&w, 0, sizeof(w));
    memset(&cur, 0, sizeof(cur));
    w.type = (g->kind == 2) ? GOBI_EV_DELETE : GOBI_EV_MODIFY;
    w.path = g->path;
    w.base_version = g->base;
    w.hash = (g->kind == 2) ? NULL : hash_r(h, 0x30000 + (unsigned) g->seq);
    w.size = 1;
    w.now = T0;

    g->rc = drv->write(st, g->vault, &w, &ev, &cur);
    g->seq = (g->rc == GOBI_STORE_OK) ? ev.seq : 0;
    g->cur_version = cur.version;

    return NULL;
}


static void
test_group(void)
{
    int            i, ok_n, bad;
    int64_t        gv, head, s1, s2, lo, hi, oldest;
    sqlite3       *db;
    holder_t       h;
    pthread_t      th, t[NTHREADS];
    grouped_t      g[NTHREADS];
    gobi_event_t   ev;
    gobi_file_t    cur;

    if (drv != &gobi_store_sqlite) {
        printf("# skip group commit: not the sqlite driver\n");
        return;
    }

    gv = new_vault(alice, "grouped");
    put(gv, "stale", GOBI_BASE_ANY, hash(1), T0, &ev, &cur);
    s1 = ev.seq;
    put(gv, "stale", s1, hash(2), T0, &ev, &cur);
    s2 = ev.seq;
    head = s2;

    if (sqlite3_open(uri, &db) != SQLITE_OK) {
        ok(0, "raw sqlite connection: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }

    is_int(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK,
           "another connection takes the write lock");

    memset(g, 0, sizeof(g));

    for (i = 0; i < NTHREADS; i++) {
        g[i].vault = gv;
        g[i].kind = (i == 3) ? 1 : (i == 5) ? 2 : 0;
        g[i].base = (i == 3) ? s1 : GOBI_BASE_ANY;
        g[i].seq = i;
        snprintf(g[i].path, sizeof(g[i].path), "%s",
                 (i == 3) ? "stale" : (i == 5) ? "missing" : "");

        if (g[i].kind == 0) {
            snprintf(g[i].path, sizeof(g[i].path), "g/f%d", i);
        }

        pthread_create(&t[i], NULL, grouped_writer, &g[i]);
    }

    /* the writers queue while the lock is held */
    h.db = db;
    h.ms = 300;
    pthread_create(&th, NULL, release_later, &h);
    pthread_join(th, NULL);

    for (i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
    }

    sqlite3_close(db);

    ok_n = 0;
    bad = 0;
    lo = INT64_MAX;
    hi = 0;

    for (i = 0; i < NTHREADS; i++) {
        if (g[i].kind == 1) {
            is_int(g[i].rc, GOBI_STORE_CONFLICT, "a stale write in the group: "
                   "CONFLICT");
            is_int(g[i].cur_version, s2, "with the current version");
            continue;
        }

        if (g[i].kind == 2) {
            is_int(g[i].rc, GOBI_STORE_NOT_FOUND, "a delete of a missing "
                   "file in the group: NOT_FOUND");
            continue;
        }

        if (g[i].rc != GOBI_STORE_OK) {
            bad++;
            continue;
        }

        ok_n++;
        lo = g[i].seq < lo ? g[i].seq : lo;
        hi = g[i].seq > hi ? g[i].seq : hi;

        memset(&cur, 0, sizeof(cur));
        if (drv->file_get(st, gv, g[i].path, &cur) != GOBI_STORE_OK
            || cur.version != g[i].seq)
        {
            bad++;
        }
    }

    is_int(bad, 0, "the other %d writes are in, each file at its seq",
           NTHREADS - 2);
    ok(lo == head + 1 && hi == head + ok_n, "their seqs follow the head "
       "in a row (%lld..%lld)", (long long) lo, (long long) hi);
    ok(gapless(gv, &oldest, &head) && head == s2 + ok_n,
       "the log has no event of the failed writes (head %lld)",
       (long long) head);

    memset(&cur, 0, sizeof(cur));
    drv->file_get(st, gv, "stale", &cur);
    is_int(cur.version, s2, "the stale write changed nothing");
}


static void
cleanup(void)
{
    int   i;
    char  path[2048];
    static const char  *files[] = { "gobi.db", "gobi.db-wal", "gobi.db-shm",
                                    "junk.db", "junk.db-wal", "junk.db-shm" };

    for (i = 0; i < nvaults; i++) {
        drv->vault_delete(st, vaults[i]);
    }

    drv->close(st);

    if (tmpdir[0]) {
        for (i = 0; i < 6; i++) {
            snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
            unlink(path);
        }

        rmdir(tmpdir);
    }
}


int
main(void)
{
    char        errbuf[512];
    const char *env, *tmp;

    setvbuf(stdout, NULL, _IONBF, 0);

    T0 = now_ms();
    snprintf(run, sizeof(run), "%llx%x", (long long) T0,
             (unsigned) getpid());

    env = getenv("GOBI_TEST_STORE");

    if (env && strncmp(env, "sqlite:", 7) == 0) {
        drv = &gobi_store_sqlite;
        snprintf(uri, sizeof(uri), "%s", env + 7);

    } else if (env && strncmp(env, "mongodb", 7) == 0) {
        if (&gobi_store_mongodb == NULL) {
            printf("1..0 # SKIP the mongodb driver is not linked in\n");
            return 0;
        }

        drv = &gobi_store_mongodb;
        snprintf(uri, sizeof(uri), "%s", env);

    } else if (env && env[0]) {
        printf("Bail out! GOBI_TEST_STORE=%s: want sqlite:/path or "
               "mongodb://...\n", env);
        return 1;

    } else {
        tmp = getenv("TMPDIR");
        snprintf(tmpdir, sizeof(tmpdir), "%s/gobi-store-XXXXXX",
                 tmp && tmp[0] ? tmp : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
            printf("Bail out! mkdtemp %s: %s\n", tmpdir, strerror(errno));
            return 1;
        }

        drv = &gobi_store_sqlite;
        snprintf(uri, sizeof(uri), "%s/gobi.db", tmpdir);
    }

    printf("# driver %s, store %s\n", drv->scheme, uri);

    test_open();

    st = drv->open(uri, errbuf, sizeof(errbuf));
    if (st == NULL) {
        printf("Bail out! open %s: %s\n", uri, errbuf);
        return 1;
    }

    if (drv->init_schema(st) != GOBI_STORE_OK) {
        printf("Bail out! init_schema: %s\n", drv->errmsg(st));
        return 1;
    }

    test_schema();
    test_users();
    test_tokens();
    test_vaults();
    test_nested();
    test_write();
    test_manifest();
    test_events();
    test_prune();
    test_blob();
    test_history();
    test_vault_delete();
    test_vault_keys();
    test_account();
    test_twins();
    test_migrate();
    test_concurrency();
    test_busy();
    test_group();

    cleanup();

    done_testing();
}
