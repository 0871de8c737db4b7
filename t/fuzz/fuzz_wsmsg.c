/*
 * Copyright (C) the gobi authors
 *
 * The WebSocket JSON messages (lib/gobi_wsmsg.c), both directions: the
 * input is read as a client message by the server's gobi_wsmsg_parse()
 * and as a server message by the client's gobi_wsmsg_parse_server().
 * Checks:
 *  - an error has the code bad_message and a message that is one line of
 *    UTF-8 the server can send back: gobi_wsmsg_gen_error() with it (and
 *    the id, if read) reads back the same through the client's decoder;
 *  - an accepted client message has what its type needs, in UTF-8; its id
 *    echoed through gen_ack, gen_reject and gen_error is JSON that yajl
 *    reads and that the client decodes to the same id; re-encoded with
 *    gen_hello/gen_rename/gen_delete it parses back to the same fields;
 *  - an accepted server message has sane fields (hashes, renames' from);
 *    written again with the server's gen_* it decodes to the same.
 *
 * yajl decodes a lone surrogate escape ("\udc00") into bytes that are not
 * UTF-8; gobi_wsmsg refuses those strings since 0009de7.  Build with
 * -DKNOWN_SURROGATE=1 to let such inputs go, should that come back.
 */

#include "fuzz.h"

#include "gobi_hash.h"
#include "gobi_utf8.h"
#include "gobi_wsmsg.h"


#ifndef KNOWN_SURROGATE
#define KNOWN_SURROGATE  0
#endif


static int  surrogate_escape;


/* the input has a "\\ud" or "\\uD" escape */
static int
has_surrogate_escape(const uint8_t *p, size_t len)
{
    size_t  i;

    for (i = 0; i + 3 < len; i++) {
        if (p[i] == '\\' && p[i + 1] == 'u' && (p[i + 2] | 0x20) == 'd') {
            return 1;
        }
    }

    return 0;
}


static int
utf8(const char *s)
{
    return s == NULL || gobi_utf8_valid((const unsigned char *) s, strlen(s));
}


/* a bad string the known yajl/gobi_wsmsg surrogate issue explains */
static int
known_bad(const char *s)
{
    return KNOWN_SURROGATE && surrogate_escape && !utf8(s);
}


static int
same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }

    return strcmp(a, b) == 0;
}


static yajl_gen
gen_new(void)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    fuzz_check(g != NULL, "out of memory");

    /* what gobi writes must be UTF-8: let yajl say when it is not */
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    return g;
}


/* the gen's text as a server message, decoded; 0 when it decodes */
static int
reread_server(yajl_gen g, gobi_wsmsg_server_t *s)
{
    const unsigned char  *buf;
    size_t                len;
    yajl_val              tree;
    char                 *text;

    fuzz_check(yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok,
               "no text from the gen");

    /* plain yajl reads it too */
    text = malloc(len + 1);
    fuzz_check(text != NULL, "out of memory");
    memcpy(text, buf, len);
    text[len] = '\0';
    tree = yajl_tree_parse(text, NULL, 0);
    fuzz_check(tree != NULL && YAJL_IS_OBJECT(tree),
               "gobi wrote what yajl cannot read: %s", text);
    yajl_tree_free(tree);
    free(text);

    return gobi_wsmsg_parse_server(s, (const char *) buf, len);
}


static void
check_error_echo(const char *code, const char *message, const char *id,
    size_t id_len)
{
    gobi_wsmsg_server_t  s;
    yajl_gen             g;

    g = gen_new();
    fuzz_check(gobi_wsmsg_gen_error(g, code, message, id, id_len) == 0,
               "gen_error refused \"%s\"", message);
    fuzz_check(reread_server(g, &s) == 0, "our error does not decode: %s",
               s.error);
    fuzz_check(s.type == GOBI_WSMSG_ERROR && same_str(s.code, code)
               && same_str(s.message, message) && s.id_len == id_len
               && memcmp(s.id, id, id_len) == 0, "error echo differs");
    gobi_wsmsg_server_free(&s);
    yajl_gen_free(g);
}


static void
check_id_echo(const gobi_wsmsg_t *m)
{
    gobi_wsmsg_server_t  s;
    gobi_wsmsg_action_t  act[2];
    yajl_gen             g;

    g = gen_new();
    fuzz_check(gobi_wsmsg_gen_ack(g, m->id, m->id_len, 7, 7) == 0,
               "gen_ack refused id %s", m->id);
    fuzz_check(reread_server(g, &s) == 0, "our ack does not decode: %s",
               s.error);
    fuzz_check(s.type == GOBI_WSMSG_ACK && s.id_len == m->id_len
               && memcmp(s.id, m->id, m->id_len) == 0 && s.seq == 7
               && s.version == 7, "ack echoes id %s as %s", m->id, s.id);
    gobi_wsmsg_server_free(&s);
    yajl_gen_free(g);

    memset(act, 0, sizeof(act));
    act[0].op = GOBI_WSMSG_DOWNLOAD;
    act[0].path = m->path;
    act[0].version = m->base_version;
    act[1].op = GOBI_WSMSG_RENAME_LOCAL;
    act[1].from = m->from ? m->from : m->path;
    act[1].to = m->path;

    g = gen_new();
    fuzz_check(gobi_wsmsg_gen_reject(g, m->id, m->id_len, "conflict",
                                     "changed", act, 2) == 0,
               "gen_reject refused");
    fuzz_check(reread_server(g, &s) == 0, "our reject does not decode: %s",
               s.error);
    fuzz_check(s.type == GOBI_WSMSG_REJECT && s.id_len == m->id_len
               && memcmp(s.id, m->id, m->id_len) == 0 && s.nactions == 2
               && s.actions[0].op == GOBI_WSMSG_DOWNLOAD
               && same_str(s.actions[0].path, act[0].path)
               && s.actions[0].version == act[0].version
               && s.actions[1].op == GOBI_WSMSG_RENAME_LOCAL
               && same_str(s.actions[1].from, act[1].from)
               && same_str(s.actions[1].to, act[1].to),
               "reject differs");
    gobi_wsmsg_server_free(&s);
    yajl_gen_free(g);

    check_error_echo("invalid_path", "bad path", m->id, m->id_len);
}


/* a client message written again by the client's encoders */
static void
check_client_reencode(const gobi_wsmsg_t *m)
{
    gobi_wsmsg_t          m2;
    yajl_gen              g;
    const unsigned char  *buf;
    size_t                len;
    int                   rc;

    g = gen_new();

    switch (m->type) {

    case GOBI_WSMSG_HELLO:
        rc = gobi_wsmsg_gen_hello(g, m->vault, m->since, m->device);
        break;

    case GOBI_WSMSG_RENAME:
        rc = gobi_wsmsg_gen_rename(g, m->id, m->id_len, m->from, m->path,
                                   m->base_version);
        break;

    default:
        rc = gobi_wsmsg_gen_delete(g, m->id, m->id_len, m->path,
                                   m->base_version);
    }

    fuzz_check(rc == 0, "the client's encoder refused a message the server "
               "accepts");
    yajl_gen_get_buf(g, &buf, &len);

    rc = gobi_wsmsg_parse(&m2, (const char *) buf, len);
    fuzz_check(rc == 0, "re-encoded client message refused: %s: %.*s",
               m2.message, (int) len, buf);
    fuzz_check(m2.type == m->type && same_str(m2.vault, m->vault)
               && m2.since == m->since && same_str(m2.device, m->device)
               && m2.id_len == m->id_len
               && memcmp(m2.id, m->id, m->id_len) == 0
               && same_str(m2.from, m->from) && same_str(m2.path, m->path)
               && m2.base_version == m->base_version,
               "re-encoded client message differs: %.*s", (int) len, buf);

    gobi_wsmsg_free(&m2);
    yajl_gen_free(g);
}


static void
client_message(const char *text, size_t len)
{
    gobi_wsmsg_t  m;

    if (gobi_wsmsg_parse(&m, text, len) != 0) {
        fuzz_check(m.code != NULL && strcmp(m.code, GOBI_WSMSG_BAD) == 0,
                   "error without bad_message");
        fuzz_check(memchr(m.message, '\0', sizeof(m.message)) != NULL
                   && m.message[0] != '\0' && strchr(m.message, '\n') == NULL,
                   "error message not one line");
        if (known_bad(m.message) || known_bad(m.id)) {
            gobi_wsmsg_free(&m);
            return;
        }

        fuzz_check(utf8(m.message), "error message not UTF-8: %s",
                   m.message);
        fuzz_check(m.id_len <= GOBI_WSMSG_ID_MAX
                   && strlen(m.id) == m.id_len, "id length");

        check_error_echo(m.code, m.message, m.id, m.id_len);
        gobi_wsmsg_free(&m);
        return;
    }

    switch (m.type) {

    case GOBI_WSMSG_HELLO:
        fuzz_check(m.vault != NULL && m.since >= 0 && m.protocol >= 1,
                   "hello fields");

        if (known_bad(m.vault) || known_bad(m.device)) {
            gobi_wsmsg_free(&m);
            return;
        }

        fuzz_check(utf8(m.vault) && utf8(m.device),
                   "hello strings not UTF-8");
        break;

    case GOBI_WSMSG_RENAME:
    case GOBI_WSMSG_DELETE:
        fuzz_check(m.id_len > 0 && m.id_len <= GOBI_WSMSG_ID_MAX
                   && strlen(m.id) == m.id_len, "id of %zu", m.id_len);
        fuzz_check(m.path != NULL && m.base_version >= 0
                   && (m.type == GOBI_WSMSG_DELETE || m.from != NULL),
                   "rename/delete fields");

        if (known_bad(m.path) || known_bad(m.from) || known_bad(m.id)) {
            gobi_wsmsg_free(&m);
            return;
        }

        fuzz_check(utf8(m.path) && utf8(m.from), "paths not UTF-8");
        check_id_echo(&m);
        break;

    default:
        fuzz_check(0, "accepted type %d", (int) m.type);
    }

    check_client_reencode(&m);
    gobi_wsmsg_free(&m);
}


static int
same_event(const gobi_event_t *a, const gobi_event_t *b)
{
    /* an empty device goes out as null */
    return a->seq == b->seq && a->type == b->type
           && same_str(a->path, b->path) && same_str(a->from, b->from)
           && a->version == b->version && strcmp(a->hash, b->hash) == 0
           && a->size == b->size && a->mtime == b->mtime
           && same_str(a->device && a->device[0] ? a->device : NULL,
                       b->device && b->device[0] ? b->device : NULL)
           && a->ts == b->ts;
}


static void
check_event(const gobi_event_t *e)
{
    size_t  n;

    n = strlen(e->hash);
    fuzz_check(e->seq >= 1 && e->path != NULL, "event seq/path");
    fuzz_check((n == 0 && e->type == GOBI_EV_DELETE)
               || gobi_hash_valid_hex(e->hash, n), "event hash");
    fuzz_check((e->type == GOBI_EV_RENAME) == (e->from != NULL),
               "from only for renames");
    fuzz_check(utf8(e->path) && utf8(e->from) && utf8(e->device),
               "event strings not UTF-8");
}


static int
server_known_bad(const gobi_wsmsg_server_t *s)
{
    size_t  i;

    if (known_bad(s->vault) || known_bad(s->code) || known_bad(s->message)
        || known_bad(s->reason) || known_bad(s->id))
    {
        return 1;
    }

    for (i = 0; i < s->nevents; i++) {
        if (known_bad(s->events[i].path) || known_bad(s->events[i].from)
            || known_bad(s->events[i].device))
        {
            return 1;
        }
    }

    for (i = 0; i < s->nactions; i++) {
        if (known_bad(s->actions[i].path) || known_bad(s->actions[i].from)
            || known_bad(s->actions[i].to))
        {
            return 1;
        }
    }

    return 0;
}


static void
server_message(const char *text, size_t len)
{
    gobi_wsmsg_server_t  s, s2;
    yajl_gen             g;
    size_t               i;
    int                  rc;

    if (gobi_wsmsg_parse_server(&s, text, len) != 0) {
        fuzz_check(memchr(s.error, '\0', sizeof(s.error)) != NULL
                   && s.error[0] != '\0', "decoder error not set");
        fuzz_check(s.id_len <= GOBI_WSMSG_ID_MAX
                   && strlen(s.id) == s.id_len, "id length");
        gobi_wsmsg_server_free(&s);
        return;
    }

    if (server_known_bad(&s)) {
        gobi_wsmsg_server_free(&s);
        return;
    }

    g = gen_new();

    switch (s.type) {

    case GOBI_WSMSG_WELCOME:
        rc = gobi_wsmsg_gen_welcome(g, s.vault, s.head_seq, s.oldest_seq);
        break;

    case GOBI_WSMSG_EVENTS:
        fuzz_check(s.nevents <= GOBI_WSMSG_MAX_EVENTS, "too many events");
        rc = gobi_wsmsg_gen_events(g, s.events, s.nevents, s.more);
        break;

    case GOBI_WSMSG_EVENT:
        fuzz_check(s.nevents == 1, "event message with %zu", s.nevents);
        rc = gobi_wsmsg_gen_event_msg(g, &s.events[0]);
        break;

    case GOBI_WSMSG_ACK:
        rc = gobi_wsmsg_gen_ack(g, s.id, s.id_len, s.seq, s.version);
        break;

    case GOBI_WSMSG_REJECT:
        fuzz_check(s.nactions <= GOBI_WSMSG_MAX_ACTIONS, "too many actions");
        rc = gobi_wsmsg_gen_reject(g, s.id, s.id_len, s.code, s.message,
                                   s.actions, s.nactions);
        break;

    case GOBI_WSMSG_RESYNC:
        rc = gobi_wsmsg_gen_resync(g, s.reason, s.head_seq);
        break;

    case GOBI_WSMSG_ERROR:
        rc = gobi_wsmsg_gen_error(g, s.code, s.message, s.id, s.id_len);
        break;

    default:
        fuzz_check(0, "accepted server type %d", (int) s.type);
        rc = -1;
    }

    for (i = 0; i < s.nevents; i++) {
        check_event(&s.events[i]);
    }

    fuzz_check(rc == 0, "a decoded server message cannot be written again");
    fuzz_check(reread_server(g, &s2) == 0, "written again, refused: %s",
               s2.error);
    fuzz_check(s2.type == s.type, "type changed");

    switch (s.type) {

    case GOBI_WSMSG_WELCOME:
        fuzz_check(same_str(s2.vault, s.vault) && s2.head_seq == s.head_seq
                   && s2.oldest_seq == s.oldest_seq, "welcome differs");
        break;

    case GOBI_WSMSG_EVENTS:
    case GOBI_WSMSG_EVENT:
        fuzz_check(s2.nevents == s.nevents && s2.more == s.more,
                   "events differ");
        for (i = 0; i < s.nevents; i++) {
            fuzz_check(same_event(&s.events[i], &s2.events[i]),
                       "event %zu differs", i);
        }
        break;

    case GOBI_WSMSG_RESYNC:
        fuzz_check(same_str(s2.reason, s.reason) && s2.head_seq == s.head_seq,
                   "resync differs");
        break;

    default:
        fuzz_check(s2.id_len == s.id_len && memcmp(s2.id, s.id, s.id_len) == 0
                   && s2.seq == s.seq && s2.version == s.version
                   && same_str(s2.code, s.code)
                   && same_str(s2.message, s.message)
                   && s2.nactions == s.nactions, "%d differs", (int) s.type);

        for (i = 0; i < s.nactions; i++) {
            fuzz_check(s2.actions[i].op == s.actions[i].op
                       && same_str(s2.actions[i].path, s.actions[i].path)
                       && same_str(s2.actions[i].from, s.actions[i].from)
                       && same_str(s2.actions[i].to, s.actions[i].to)
                       && s2.actions[i].version == s.actions[i].version,
                       "action %zu differs", i);
        }
    }

    gobi_wsmsg_server_free(&s2);
    gobi_wsmsg_server_free(&s);
    yajl_gen_free(g);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    surrogate_escape = has_surrogate_escape(data, size);

    client_message((const char *) data, size);
    server_message((const char *) data, size);

    return 0;
}
