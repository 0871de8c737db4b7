/*
 * Copyright (C) the gobi authors
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gobi_hash.h"
#include "gobi_header.h"
#include "gobi_utf8.h"
#include "gobi_json_gen.h"
#include "gobi_wsmsg.h"


/* what was wrong, into err (GOBI_WSMSG_ERR_MAX bytes); returns -1 */
static int
gobi_wsmsg_fail(char *err, const char *fmt, ...)
{
    char     *p;
    va_list   args;

    va_start(args, fmt);
    vsnprintf(err, GOBI_WSMSG_ERR_MAX, fmt, args);
    va_end(args);

    /* it may quote what the peer sent: one line, no control characters */
    for (p = err; *p; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }

    return -1;
}


/* how much of s fits in max bytes without cutting a UTF-8 character */
static int
gobi_wsmsg_clip(const char *s, size_t max)
{
    size_t  len;

    len = strlen(s);

    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char) s[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    return (int) len;
}


#define GOBI_WSMSG_STR_(x)  #x
#define GOBI_WSMSG_STR(x)   GOBI_WSMSG_STR_(x)


/*
 * Before yajl sees the text: its size, strict UTF-8, its nesting depth
 * (yajl_tree_free recurses, so a deep tree could overflow the stack), the
 * members of each object (yajl grows a tree's object one member at a time
 * and we look keys up linearly: a 64 KiB message of 10,000 keys would cost
 * far more than its size), no NUL byte and no "\u0000" (yajl's tree
 * strings are NUL-terminated: "a\u0000b" would read as "a"), no '/'
 * outside strings (yajl_tree_parse allows comments, which would hide
 * brackets and quotes from this scan; JSON has none).
 */
static const char *
gobi_wsmsg_scan(const char *p, size_t len, size_t max)
{
    size_t  i;
    int     depth, in_string;
    int     keys[GOBI_WSMSG_MAX_DEPTH + 1];   /* -1: an array */

    if (len > max) {
        return "message too big";
    }

    /* yajl only checks the shape of UTF-8 sequences, not overlongs */
    if (!gobi_utf8_valid((const unsigned char *) p, len)) {
        return "message is not JSON: invalid UTF-8";
    }

    depth = 0;
    in_string = 0;
    keys[0] = -1;

    for (i = 0; i < len; i++) {
        if (p[i] == '\0') {
            return "message is not JSON: NUL byte";
        }

        if (in_string) {
            if (p[i] == '"') {
                in_string = 0;

            } else if (p[i] == '\\' && i + 1 < len) {
                if (len - i >= 6 && memcmp(p + i + 1, "u0000", 5) == 0) {
                    return "NUL is not allowed in strings";
                }

                i++;
            }

            continue;
        }

        switch (p[i]) {

        case '"':
            in_string = 1;
            break;

        case '[':
        case '{':
            if (++depth > GOBI_WSMSG_MAX_DEPTH) {
                return "message nested too deep";
            }

            keys[depth] = (p[i] == '{') ? 0 : -1;
            break;

        case ']':
        case '}':
            if (depth > 0) {
                depth--;
            }
            break;

        case ':':
            /* one per member (else it is not JSON, and yajl says so) */
            if (keys[depth] >= 0 && ++keys[depth] > GOBI_WSMSG_MAX_KEYS) {
                return "more than " GOBI_WSMSG_STR(GOBI_WSMSG_MAX_KEYS)
                       " keys";
            }
            break;

        case '/':
            return "message is not JSON: comments are not allowed";
        }
    }

    return NULL;
}


/*
 * Are the decoded strings and keys UTF-8?  The text is, but yajl decodes
 * a lone surrogate escape ("\udc00") into bytes that are not: a device
 * name taken that way would make every event of its writes unreadable.
 * The depth is bounded by the scan.
 */
static int
gobi_wsmsg_tree_utf8(yajl_val v)
{
    size_t  i;

    if (YAJL_IS_STRING(v)) {
        return gobi_utf8_valid((const unsigned char *) v->u.string,
                               strlen(v->u.string));
    }

    if (YAJL_IS_OBJECT(v)) {
        for (i = 0; i < v->u.object.len; i++) {
            if (!gobi_utf8_valid((const unsigned char *) v->u.object.keys[i],
                                 strlen(v->u.object.keys[i]))
                || !gobi_wsmsg_tree_utf8(v->u.object.values[i]))
            {
                return 0;
            }
        }
    }

    if (YAJL_IS_ARRAY(v)) {
        for (i = 0; i < v->u.array.len; i++) {
            if (!gobi_wsmsg_tree_utf8(v->u.array.values[i])) {
                return 0;
            }
        }
    }

    return 1;
}


/* the text as a yajl tree (*tree is set whenever yajl built one) */
static int
gobi_wsmsg_tree(const char *text, size_t len, size_t max, yajl_val *tree,
    char *err)
{
    const char  *why;
    char        *buf, errbuf[256], *nl;

    *tree = NULL;

    why = gobi_wsmsg_scan(text, len, max);
    if (why) {
        return gobi_wsmsg_fail(err, "%s", why);
    }

    /* yajl_tree_parse wants a C string */
    buf = malloc(len + 1);
    if (buf == NULL) {
        return gobi_wsmsg_fail(err, "out of memory");
    }

    memcpy(buf, text, len);
    buf[len] = '\0';

    errbuf[0] = '\0';
    *tree = yajl_tree_parse(buf, errbuf, sizeof(errbuf));
    free(buf);

    if (*tree == NULL) {
        /* the first line; the rest is a picture of where */
        nl = strchr(errbuf, '\n');
        if (nl) {
            *nl = '\0';
        }

        return gobi_wsmsg_fail(err, "message is not JSON: %s",
                               errbuf[0] ? errbuf : "parse error");
    }

    if (!YAJL_IS_OBJECT(*tree)) {
        return gobi_wsmsg_fail(err, "message is not a JSON object");
    }

    if (!gobi_wsmsg_tree_utf8(*tree)) {
        return gobi_wsmsg_fail(err, "message is not JSON: a string escape "
                               "that is not UTF-8");
    }

    return 0;
}


/*
 * obj's value for key (NULL when missing); the key given twice is an
 * error.  Linear, so a huge object costs no more than reading it.
 */
static int
gobi_wsmsg_get(yajl_val obj, const char *key, yajl_val *out, char *err)
{
    size_t  i;

    *out = NULL;

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            if (*out) {
                return gobi_wsmsg_fail(err, "duplicate key \"%s\"", key);
            }

            *out = obj->u.object.values[i];
        }
    }

    return 0;
}


static int
gobi_wsmsg_str(yajl_val obj, const char *key, const char **out,
    int optional, char *err)
{
    yajl_val  v;

    if (gobi_wsmsg_get(obj, key, &v, err) != 0) {
        return -1;
    }

    if (v == NULL || (optional && YAJL_IS_NULL(v))) {
        *out = NULL;
        return optional ? 0 : gobi_wsmsg_fail(err, "missing \"%s\"", key);
    }

    if (!YAJL_IS_STRING(v)) {
        return gobi_wsmsg_fail(err, "\"%s\" must be a string", key);
    }

    *out = YAJL_GET_STRING(v);

    return 0;
}


/* an integer >= min; dflt < min: required */
static int
gobi_wsmsg_int(yajl_val obj, const char *key, int64_t *out, int64_t min,
    int64_t dflt, char *err)
{
    yajl_val  v;

    if (gobi_wsmsg_get(obj, key, &v, err) != 0) {
        return -1;
    }

    if (v == NULL) {
        if (dflt < min) {
            return gobi_wsmsg_fail(err, "missing \"%s\"", key);
        }

        *out = dflt;
        return 0;
    }

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min) {
        return gobi_wsmsg_fail(err, "\"%s\" must be an integer >= %lld", key,
                               (long long) min);
    }

    *out = YAJL_GET_INTEGER(v);

    return 0;
}


/* a string as JSON text: quotes, escapes for '"', '\' and controls */
static size_t
gobi_wsmsg_quote(char *dst, size_t cap, const char *s)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      c;
    size_t             n, need;

    n = 0;

    if (cap < 3) {
        return 0;
    }

    dst[n++] = '"';

    for ( ; *s; s++) {
        c = (unsigned char) *s;
        need = (c == '"' || c == '\\') ? 2 : c < 0x20 ? 6 : 1;

        /* and the closing quote and the NUL */
        if (n + need + 2 > cap) {
            return 0;
        }

        if (need == 2) {
            dst[n++] = '\\';
            dst[n++] = (char) c;

        } else if (need == 6) {
            dst[n++] = '\\';
            dst[n++] = 'u';
            dst[n++] = '0';
            dst[n++] = '0';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 0xf];

        } else {
            dst[n++] = (char) c;
        }
    }

    dst[n++] = '"';
    dst[n] = '\0';

    return n;
}


/*
 * "id" as JSON text into id[GOBI_WSMSG_ID_MAX + 1]; optional: missing or
 * null gives *id_len 0
 */
static int
gobi_wsmsg_id(yajl_val obj, char *id, size_t *id_len, int optional,
    char *err)
{
    yajl_val     v;
    const char  *raw;
    size_t       len;

    if (gobi_wsmsg_get(obj, "id", &v, err) != 0) {
        return -1;
    }

    if (v == NULL || (optional && YAJL_IS_NULL(v))) {
        return optional ? 0 : gobi_wsmsg_fail(err, "missing \"id\"");
    }

    if (YAJL_IS_NUMBER(v)) {
        raw = YAJL_GET_NUMBER(v);
        len = strlen(raw);

        if (len > GOBI_WSMSG_ID_MAX) {
            return gobi_wsmsg_fail(err, "\"id\" is too long");
        }

        memcpy(id, raw, len + 1);

    } else if (YAJL_IS_STRING(v)) {
        len = gobi_wsmsg_quote(id, GOBI_WSMSG_ID_MAX + 1, YAJL_GET_STRING(v));
        if (len == 0) {
            id[0] = '\0';
            return gobi_wsmsg_fail(err, "\"id\" is too long");
        }

    } else {
        return gobi_wsmsg_fail(err, "\"id\" must be a string or a number");
    }

    *id_len = len;

    return 0;
}


static int
gobi_wsmsg_parse_msg(gobi_wsmsg_t *m, const char *text, size_t len)
{
    const char  *type, *msg;
    char        *err;
    size_t       i, j;
    yajl_val     obj, v;

    err = m->message;

    if (gobi_wsmsg_tree(text, len, GOBI_WSMSG_MAX_SIZE, &m->tree, err) != 0) {
        return -1;
    }

    obj = m->tree;

    /* at most GOBI_WSMSG_MAX_KEYS keys (the scan): 2,016 compares */

    for (i = 1; i < obj->u.object.len; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(obj->u.object.keys[i], obj->u.object.keys[j]) == 0) {
                return gobi_wsmsg_fail(err, "duplicate key \"%.*s\"",
                                   gobi_wsmsg_clip(obj->u.object.keys[i], 64),
                                   obj->u.object.keys[i]);
            }
        }
    }

    if (gobi_wsmsg_str(obj, "type", &type, 0, err) != 0) {
        return -1;
    }

    if (strcmp(type, "hello") == 0) {
        m->type = GOBI_WSMSG_HELLO;

        if (gobi_wsmsg_str(obj, "vault", &m->vault, 0, err) != 0
            || gobi_wsmsg_int(obj, "since", &m->since, 0, -1, err) != 0
            || gobi_wsmsg_str(obj, "device", &m->device, 1, err) != 0
            || gobi_wsmsg_int(obj, "protocol", &m->protocol, 1,
                              GOBI_WSMSG_PROTOCOL, err) != 0)
        {
            return -1;
        }

        /* the same rule as X-Gobi-Device: it goes into every event */
        if (m->device
            && (msg = gobi_header_device(m->device, strlen(m->device))))
        {
            return gobi_wsmsg_fail(err, "%s", msg);
        }

        return 0;
    }

    if (strcmp(type, "rename") == 0) {
        m->type = GOBI_WSMSG_RENAME;

        if (gobi_wsmsg_id(obj, m->id, &m->id_len, 0, err) != 0
            || gobi_wsmsg_str(obj, "from", &m->from, 0, err) != 0
            || gobi_wsmsg_str(obj, "to", &m->path, 0, err) != 0
            || gobi_wsmsg_int(obj, "base_version", &m->base_version, 0, -1,
                              err) != 0)
        {
            return -1;
        }

        return 0;
    }

    if (strcmp(type, "delete") == 0) {
        m->type = GOBI_WSMSG_DELETE;

        if (gobi_wsmsg_id(obj, m->id, &m->id_len, 0, err) != 0
            || gobi_wsmsg_str(obj, "path", &m->path, 0, err) != 0
            || gobi_wsmsg_int(obj, "base_version", &m->base_version, 0, -1,
                              err) != 0
            || gobi_wsmsg_get(obj, "confirm_mass_delete", &v, err) != 0)
        {
            return -1;
        }

        if (v != NULL && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
            return gobi_wsmsg_fail(err, "\"confirm_mass_delete\" must be "
                                   "true or false");
        }

        m->confirm_mass_delete = (v != NULL && YAJL_IS_TRUE(v));

        return 0;
    }

    return gobi_wsmsg_fail(err, "unknown message type \"%.*s\"",
                           gobi_wsmsg_clip(type, 64), type);
}


int
gobi_wsmsg_parse(gobi_wsmsg_t *m, const char *text, size_t len)
{
    memset(m, 0, sizeof(gobi_wsmsg_t));

    if (gobi_wsmsg_parse_msg(m, text, len) != 0) {
        m->code = GOBI_WSMSG_BAD;
        return -1;
    }

    return 0;
}


void
gobi_wsmsg_free(gobi_wsmsg_t *m)
{
    if (m->tree) {
        yajl_tree_free(m->tree);
        m->tree = NULL;
    }
}


/* writers: each returns non-zero when yajl refused */

static int
gobi_wsmsg_gen_str(yajl_gen g, const char *s)
{
    return gobi_json_gen_str(g, s, strlen(s));
}


static int
gobi_wsmsg_gen_kv_str(yajl_gen g, const char *key, const char *val)
{
    return gobi_wsmsg_gen_str(g, key) | gobi_wsmsg_gen_str(g, val);
}


static int
gobi_wsmsg_gen_kv_int(yajl_gen g, const char *key, int64_t val)
{
    return gobi_wsmsg_gen_str(g, key)
           | (yajl_gen_integer(g, (long long) val) != yajl_gen_status_ok);
}


/* the id as the client wrote it; a number's text goes in verbatim */
static int
gobi_wsmsg_gen_kv_id(yajl_gen g, const char *id, size_t id_len)
{
    int  rc;

    rc = gobi_wsmsg_gen_str(g, "id");

    if (id == NULL || id_len == 0) {
        return rc | (yajl_gen_null(g) != yajl_gen_status_ok);
    }

    return rc | (yajl_gen_number(g, id, id_len) != yajl_gen_status_ok);
}


static int
gobi_wsmsg_gen_close(yajl_gen g, int rc)
{
    rc |= yajl_gen_map_close(g) != yajl_gen_status_ok;

    return rc ? -1 : 0;
}


static int
gobi_wsmsg_gen_event_body(yajl_gen g, const gobi_event_t *e)
{
    int  rc;

    rc = yajl_gen_map_open(g) != yajl_gen_status_ok;

    rc |= gobi_wsmsg_gen_kv_int(g, "seq", e->seq);
    rc |= gobi_wsmsg_gen_kv_str(g, "type", gobi_event_type_name(e->type));
    rc |= gobi_wsmsg_gen_kv_str(g, "path", e->path ? e->path : "");

    if (e->type == GOBI_EV_RENAME) {
        rc |= gobi_wsmsg_gen_kv_str(g, "from", e->from ? e->from : "");
    }

    rc |= gobi_wsmsg_gen_kv_int(g, "version", e->version);
    rc |= gobi_wsmsg_gen_kv_str(g, "hash", e->hash);
    rc |= gobi_wsmsg_gen_kv_int(g, "size", e->size);
    rc |= gobi_wsmsg_gen_kv_int(g, "mtime", e->mtime);

    if (e->device && e->device[0]) {
        rc |= gobi_wsmsg_gen_kv_str(g, "device", e->device);

    } else {
        rc |= gobi_wsmsg_gen_str(g, "device");
        rc |= yajl_gen_null(g) != yajl_gen_status_ok;
    }

    rc |= gobi_wsmsg_gen_kv_int(g, "ts", e->ts);

    return gobi_wsmsg_gen_close(g, rc);
}


int
gobi_wsmsg_gen_event(yajl_gen g, const gobi_event_t *e)
{
    return gobi_wsmsg_gen_event_body(g, e);
}


/* "{"type":<type>" */
static int
gobi_wsmsg_gen_open(yajl_gen g, const char *type)
{
    return (yajl_gen_map_open(g) != yajl_gen_status_ok)
           | gobi_wsmsg_gen_kv_str(g, "type", type);
}


int
gobi_wsmsg_gen_welcome(yajl_gen g, const char *vault, int64_t head_seq,
    int64_t oldest_seq)
{
    int  rc;

    rc = gobi_wsmsg_gen_open(g, "welcome");
    rc |= gobi_wsmsg_gen_kv_str(g, "vault", vault);
    rc |= gobi_wsmsg_gen_kv_int(g, "head_seq", head_seq);
    rc |= gobi_wsmsg_gen_kv_int(g, "oldest_seq", oldest_seq);
    rc |= gobi_wsmsg_gen_kv_int(g, "protocol", GOBI_WSMSG_PROTOCOL);

    return gobi_wsmsg_gen_close(g, rc);
}


int
gobi_wsmsg_gen_events(yajl_gen g, const gobi_event_t *ev, size_t n,
    int more)
{
    size_t  i;
    int     rc;

    rc = gobi_wsmsg_gen_open(g, "events");
    rc |= gobi_wsmsg_gen_str(g, "events");
    rc |= yajl_gen_array_open(g) != yajl_gen_status_ok;

    for (i = 0; i < n; i++) {
        rc |= gobi_wsmsg_gen_event_body(g, &ev[i]) != 0;
    }

    rc |= yajl_gen_array_close(g) != yajl_gen_status_ok;
    rc |= gobi_wsmsg_gen_str(g, "more");
    rc |= yajl_gen_bool(g, more != 0) != yajl_gen_status_ok;

    return gobi_wsmsg_gen_close(g, rc);
}


int
gobi_wsmsg_gen_event_msg(yajl_gen g, const gobi_event_t *e)
{
    int  rc;

    rc = gobi_wsmsg_gen_open(g, "event");
    rc |= gobi_wsmsg_gen_str(g, "event");
    rc |= gobi_wsmsg_gen_event_body(g, e) != 0;

    return gobi_wsmsg_gen_close(g, rc);
}


int
gobi_wsmsg_gen_resync(yajl_gen g, const char *reason, int64_t head_seq)
{
    int  rc;

    rc = gobi_wsmsg_gen_open(g, "resync");
    rc |= gobi_wsmsg_gen_kv_str(g, "reason", reason);
    rc |= gobi_wsmsg_gen_kv_int(g, "head_seq", head_seq);

    return gobi_wsmsg_gen_close(g, rc);
}


int
gobi_wsmsg_gen_ack(yajl_gen g, const char *id, size_t id_len, int64_t seq,
    int64_t version)
{
    int  rc;

    rc = gobi_wsmsg_gen_open(g, "ack");
    rc |= gobi_wsmsg_gen_kv_id(g, id, id_len);
    rc |= gobi_wsmsg_gen_kv_int(g, "seq", seq);
    rc |= gobi_wsmsg_gen_kv_int(g, "version", version);

    return gobi_wsmsg_gen_close(g, rc);
}


static int
gobi_wsmsg_gen_action(yajl_gen g, const gobi_wsmsg_action_t *a)
{
    int  rc;

    rc = yajl_gen_map_open(g) != yajl_gen_status_ok;

    switch (a->op) {

    case GOBI_WSMSG_DOWNLOAD:
        rc |= gobi_wsmsg_gen_kv_str(g, "op", "download");
        rc |= gobi_wsmsg_gen_kv_str(g, "path", a->path);
        rc |= gobi_wsmsg_gen_kv_int(g, "version", a->version);
        break;

    case GOBI_WSMSG_DELETE_LOCAL:
        rc |= gobi_wsmsg_gen_kv_str(g, "op", "delete_local");
        rc |= gobi_wsmsg_gen_kv_str(g, "path", a->path);
        break;

    case GOBI_WSMSG_RENAME_LOCAL:
        rc |= gobi_wsmsg_gen_kv_str(g, "op", "rename_local");
        rc |= gobi_wsmsg_gen_kv_str(g, "from", a->from);
        rc |= gobi_wsmsg_gen_kv_str(g, "to", a->to);
        break;

    default:
        rc = 1;
    }

    return gobi_wsmsg_gen_close(g, rc);
}


int
gobi_wsmsg_gen_reject(yajl_gen g, const char *id, size_t id_len,
    const char *code, const char *message,
    const gobi_wsmsg_action_t *actions, size_t nactions)
{
    size_t  i;
    int     rc;

    rc = gobi_wsmsg_gen_open(g, "reject");
    rc |= gobi_wsmsg_gen_kv_id(g, id, id_len);
    rc |= gobi_wsmsg_gen_kv_str(g, "code", code);
    rc |= gobi_wsmsg_gen_kv_str(g, "message", message);
    rc |= gobi_wsmsg_gen_str(g, "actions");
    rc |= yajl_gen_array_open(g) != yajl_gen_status_ok;

    for (i = 0; i < nactions; i++) {
        rc |= gobi_wsmsg_gen_action(g, &actions[i]) != 0;
    }

    rc |= yajl_gen_array_close(g) != yajl_gen_status_ok;

    return gobi_wsmsg_gen_close(g, rc);
}


int
gobi_wsmsg_gen_error(yajl_gen g, const char *code, const char *message,
    const char *id, size_t id_len)
{
    int  rc;

    rc = gobi_wsmsg_gen_open(g, "error");
    rc |= gobi_wsmsg_gen_kv_str(g, "code", code);
    rc |= gobi_wsmsg_gen_kv_str(g, "message", message);

    if (id && id_len) {
        rc |= gobi_wsmsg_gen_kv_id(g, id, id_len);
    }

    return gobi_wsmsg_gen_close(g, rc);
}


/* client messages */

/* closes the message; one the server would refuse as too big fails */
static int
gobi_wsmsg_gen_client_close(yajl_gen g, int rc)
{
    const unsigned char  *buf;
    size_t                len;

    if (gobi_wsmsg_gen_close(g, rc) != 0
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok
        || len > GOBI_WSMSG_MAX_SIZE)
    {
        return -1;
    }

    return 0;
}


int
gobi_wsmsg_gen_hello(yajl_gen g, const char *vault, int64_t since,
    const char *device)
{
    int  rc;

    rc = gobi_wsmsg_gen_open(g, "hello");
    rc |= gobi_wsmsg_gen_kv_str(g, "vault", vault);
    rc |= gobi_wsmsg_gen_kv_int(g, "since", since);

    if (device) {
        rc |= gobi_wsmsg_gen_kv_str(g, "device", device);

    } else {
        rc |= gobi_wsmsg_gen_str(g, "device");
        rc |= yajl_gen_null(g) != yajl_gen_status_ok;
    }

    rc |= gobi_wsmsg_gen_kv_int(g, "protocol", GOBI_WSMSG_PROTOCOL);

    return gobi_wsmsg_gen_client_close(g, rc);
}


int
gobi_wsmsg_gen_rename(yajl_gen g, const char *id, size_t id_len,
    const char *from, const char *to, int64_t base_version)
{
    int  rc;

    rc = gobi_wsmsg_gen_open(g, "rename");
    rc |= gobi_wsmsg_gen_kv_id(g, id, id_len);
    rc |= gobi_wsmsg_gen_kv_str(g, "from", from);
    rc |= gobi_wsmsg_gen_kv_str(g, "to", to);
    rc |= gobi_wsmsg_gen_kv_int(g, "base_version", base_version);

    return gobi_wsmsg_gen_client_close(g, rc);
}


int
gobi_wsmsg_gen_delete(yajl_gen g, const char *id, size_t id_len,
    const char *path, int64_t base_version)
{
    int  rc;

    rc = gobi_wsmsg_gen_open(g, "delete");
    rc |= gobi_wsmsg_gen_kv_id(g, id, id_len);
    rc |= gobi_wsmsg_gen_kv_str(g, "path", path);
    rc |= gobi_wsmsg_gen_kv_int(g, "base_version", base_version);

    return gobi_wsmsg_gen_client_close(g, rc);
}


/* server messages, read by the client */

static int
gobi_wsmsg_bool(yajl_val obj, const char *key, int *out, char *err)
{
    yajl_val  v;

    if (gobi_wsmsg_get(obj, key, &v, err) != 0) {
        return -1;
    }

    if (v == NULL) {
        return gobi_wsmsg_fail(err, "missing \"%s\"", key);
    }

    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        return gobi_wsmsg_fail(err, "\"%s\" must be true or false", key);
    }

    *out = YAJL_IS_TRUE(v);

    return 0;
}


/* an array of at most max items; optional: missing or null is empty */
static int
gobi_wsmsg_array(yajl_val obj, const char *key, size_t max, int optional,
    yajl_val **items, size_t *n, char *err)
{
    yajl_val  v;

    *items = NULL;
    *n = 0;

    if (gobi_wsmsg_get(obj, key, &v, err) != 0) {
        return -1;
    }

    if (v == NULL || (optional && YAJL_IS_NULL(v))) {
        return optional ? 0 : gobi_wsmsg_fail(err, "missing \"%s\"", key);
    }

    if (!YAJL_IS_ARRAY(v)) {
        return gobi_wsmsg_fail(err, "\"%s\" must be an array", key);
    }

    if (v->u.array.len > max) {
        return gobi_wsmsg_fail(err, "\"%s\" has more than %zu items", key,
                               max);
    }

    *items = v->u.array.values;
    *n = v->u.array.len;

    return 0;
}


static int
gobi_wsmsg_read_event(yajl_val v, gobi_event_t *e, char *err)
{
    const char  *type, *hash;
    size_t       len;

    memset(e, 0, sizeof(gobi_event_t));

    if (!YAJL_IS_OBJECT(v)) {
        return gobi_wsmsg_fail(err, "an event must be an object");
    }

    if (gobi_wsmsg_int(v, "seq", &e->seq, 1, -1, err) != 0
        || gobi_wsmsg_str(v, "type", &type, 0, err) != 0)
    {
        return -1;
    }

    e->type = gobi_event_type_parse(type);

    if (e->type == GOBI_EV_NONE) {
        return gobi_wsmsg_fail(err, "unknown event type \"%.*s\"",
                               gobi_wsmsg_clip(type, 64), type);
    }

    if (gobi_wsmsg_str(v, "path", &e->path, 0, err) != 0
        || (e->type == GOBI_EV_RENAME
            && gobi_wsmsg_str(v, "from", &e->from, 0, err) != 0)
        || gobi_wsmsg_int(v, "version", &e->version, 0, -1, err) != 0
        || gobi_wsmsg_str(v, "hash", &hash, 0, err) != 0
        || gobi_wsmsg_int(v, "size", &e->size, 0, -1, err) != 0
        || gobi_wsmsg_int(v, "mtime", &e->mtime, 0, -1, err) != 0
        || gobi_wsmsg_str(v, "device", &e->device, 1, err) != 0
        || gobi_wsmsg_int(v, "ts", &e->ts, 0, -1, err) != 0)
    {
        return -1;
    }

    len = strlen(hash);

    if (!(len == 0 && e->type == GOBI_EV_DELETE)
        && !gobi_hash_valid_hex(hash, len))
    {
        return gobi_wsmsg_fail(err, "\"hash\" must be %d lowercase hex "
                               "digits", GOBI_HASH_HEX_LEN);
    }

    memcpy(e->hash, hash, len + 1);

    return 0;
}


static int
gobi_wsmsg_read_action(yajl_val v, gobi_wsmsg_action_t *a, char *err)
{
    const char  *op;

    memset(a, 0, sizeof(gobi_wsmsg_action_t));

    if (!YAJL_IS_OBJECT(v)) {
        return gobi_wsmsg_fail(err, "an action must be an object");
    }

    if (gobi_wsmsg_str(v, "op", &op, 0, err) != 0) {
        return -1;
    }

    if (strcmp(op, "download") == 0) {
        a->op = GOBI_WSMSG_DOWNLOAD;

        return gobi_wsmsg_str(v, "path", &a->path, 0, err) != 0
               || gobi_wsmsg_int(v, "version", &a->version, 0, -1, err) != 0
               ? -1 : 0;
    }

    if (strcmp(op, "delete_local") == 0) {
        a->op = GOBI_WSMSG_DELETE_LOCAL;

        return gobi_wsmsg_str(v, "path", &a->path, 0, err);
    }

    if (strcmp(op, "rename_local") == 0) {
        a->op = GOBI_WSMSG_RENAME_LOCAL;

        return gobi_wsmsg_str(v, "from", &a->from, 0, err) != 0
               || gobi_wsmsg_str(v, "to", &a->to, 0, err) != 0
               ? -1 : 0;
    }

    return gobi_wsmsg_fail(err, "unknown action \"%.*s\"",
                           gobi_wsmsg_clip(op, 64), op);
}


static int
gobi_wsmsg_read_welcome(gobi_wsmsg_server_t *m, yajl_val obj)
{
    char  *err = m->error;

    return gobi_wsmsg_str(obj, "vault", &m->vault, 0, err) != 0
           || gobi_wsmsg_int(obj, "head_seq", &m->head_seq, 0, -1, err) != 0
           || gobi_wsmsg_int(obj, "oldest_seq", &m->oldest_seq, 0, -1, err)
              != 0
           || gobi_wsmsg_int(obj, "protocol", &m->protocol, 1,
                             GOBI_WSMSG_PROTOCOL, err) != 0
           ? -1 : 0;
}


static int
gobi_wsmsg_read_events(gobi_wsmsg_server_t *m, yajl_val obj)
{
    yajl_val  *items;
    size_t     n, i;
    char       why[GOBI_WSMSG_ERR_MAX];

    if (gobi_wsmsg_array(obj, "events", GOBI_WSMSG_MAX_EVENTS, 0, &items,
                         &n, m->error) != 0
        || gobi_wsmsg_bool(obj, "more", &m->more, m->error) != 0)
    {
        return -1;
    }

    if (n == 0) {
        return 0;
    }

    m->events = calloc(n, sizeof(gobi_event_t));
    if (m->events == NULL) {
        return gobi_wsmsg_fail(m->error, "out of memory");
    }

    for (i = 0; i < n; i++) {
        if (gobi_wsmsg_read_event(items[i], &m->events[i], why) != 0) {
            return gobi_wsmsg_fail(m->error, "events[%zu]: %s", i, why);
        }

        m->nevents++;
    }

    return 0;
}


static int
gobi_wsmsg_read_event_msg(gobi_wsmsg_server_t *m, yajl_val obj)
{
    yajl_val  v;
    char      why[GOBI_WSMSG_ERR_MAX];

    if (gobi_wsmsg_get(obj, "event", &v, m->error) != 0) {
        return -1;
    }

    if (v == NULL) {
        return gobi_wsmsg_fail(m->error, "missing \"event\"");
    }

    if (gobi_wsmsg_read_event(v, &m->event, why) != 0) {
        return gobi_wsmsg_fail(m->error, "event: %s", why);
    }

    m->events = &m->event;
    m->nevents = 1;

    return 0;
}


static int
gobi_wsmsg_read_ack(gobi_wsmsg_server_t *m, yajl_val obj)
{
    char  *err = m->error;

    return gobi_wsmsg_id(obj, m->id, &m->id_len, 1, err) != 0
           || gobi_wsmsg_int(obj, "seq", &m->seq, 0, -1, err) != 0
           || gobi_wsmsg_int(obj, "version", &m->version, 0, -1, err) != 0
           ? -1 : 0;
}


static int
gobi_wsmsg_read_reject(gobi_wsmsg_server_t *m, yajl_val obj)
{
    yajl_val  *items;
    size_t     n, i;
    char       why[GOBI_WSMSG_ERR_MAX];

    if (gobi_wsmsg_id(obj, m->id, &m->id_len, 1, m->error) != 0
        || gobi_wsmsg_str(obj, "code", &m->code, 0, m->error) != 0
        || gobi_wsmsg_str(obj, "message", &m->message, 0, m->error) != 0
        || gobi_wsmsg_array(obj, "actions", GOBI_WSMSG_MAX_ACTIONS, 1,
                            &items, &n, m->error) != 0)
    {
        return -1;
    }

    if (n == 0) {
        return 0;
    }

    m->actions = calloc(n, sizeof(gobi_wsmsg_action_t));
    if (m->actions == NULL) {
        return gobi_wsmsg_fail(m->error, "out of memory");
    }

    for (i = 0; i < n; i++) {
        if (gobi_wsmsg_read_action(items[i], &m->actions[i], why) != 0) {
            return gobi_wsmsg_fail(m->error, "actions[%zu]: %s", i, why);
        }

        m->nactions++;
    }

    return 0;
}


static int
gobi_wsmsg_read_resync(gobi_wsmsg_server_t *m, yajl_val obj)
{
    return gobi_wsmsg_str(obj, "reason", &m->reason, 0, m->error) != 0
           || gobi_wsmsg_int(obj, "head_seq", &m->head_seq, 0, -1, m->error)
              != 0
           ? -1 : 0;
}


static int
gobi_wsmsg_read_error(gobi_wsmsg_server_t *m, yajl_val obj)
{
    char  *err = m->error;

    /* the id first: an error can then still be matched with its op */
    return gobi_wsmsg_id(obj, m->id, &m->id_len, 1, err) != 0
           || gobi_wsmsg_str(obj, "code", &m->code, 0, err) != 0
           || gobi_wsmsg_str(obj, "message", &m->message, 0, err) != 0
           ? -1 : 0;
}


typedef struct {
    const char            *name;
    gobi_wsmsg_server_e    type;
    int                  (*read)(gobi_wsmsg_server_t *m, yajl_val obj);
} gobi_wsmsg_reader_t;


static const gobi_wsmsg_reader_t  gobi_wsmsg_readers[] = {
    { "welcome", GOBI_WSMSG_WELCOME, gobi_wsmsg_read_welcome },
    { "events",  GOBI_WSMSG_EVENTS,  gobi_wsmsg_read_events },
    { "event",   GOBI_WSMSG_EVENT,   gobi_wsmsg_read_event_msg },
    { "ack",     GOBI_WSMSG_ACK,     gobi_wsmsg_read_ack },
    { "reject",  GOBI_WSMSG_REJECT,  gobi_wsmsg_read_reject },
    { "resync",  GOBI_WSMSG_RESYNC,  gobi_wsmsg_read_resync },
    { "error",   GOBI_WSMSG_ERROR,   gobi_wsmsg_read_error },
    { NULL, GOBI_WSMSG_SERVER_NONE, NULL }
};


int
gobi_wsmsg_parse_server(gobi_wsmsg_server_t *m, const char *text,
    size_t len)
{
    const gobi_wsmsg_reader_t  *r;
    const char                 *type;

    memset(m, 0, sizeof(gobi_wsmsg_server_t));

    if (gobi_wsmsg_tree(text, len, GOBI_WSMSG_SERVER_MAX_SIZE, &m->tree,
                        m->error) != 0
        || gobi_wsmsg_str(m->tree, "type", &type, 0, m->error) != 0)
    {
        return -1;
    }

    for (r = gobi_wsmsg_readers; r->name; r++) {
        if (strcmp(type, r->name) == 0) {
            m->type = r->type;
            return r->read(m, m->tree);
        }
    }

    return gobi_wsmsg_fail(m->error, "unknown message type \"%.*s\"",
                           gobi_wsmsg_clip(type, 64), type);
}


void
gobi_wsmsg_server_free(gobi_wsmsg_server_t *m)
{
    if (m->events != &m->event) {
        free(m->events);
    }

    free(m->actions);

    m->events = NULL;
    m->nevents = 0;
    m->actions = NULL;
    m->nactions = 0;

    if (m->tree) {
        yajl_tree_free(m->tree);
        m->tree = NULL;
    }
}
