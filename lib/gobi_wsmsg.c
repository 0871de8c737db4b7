/*
 * Copyright (C) the gobi authors
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gobi_utf8.h"
#include "gobi_wsmsg.h"


static int
gobi_wsmsg_error(gobi_wsmsg_t *m, const char *fmt, ...)
{
    va_list  args;

    m->code = GOBI_WSMSG_BAD;

    va_start(args, fmt);
    vsnprintf(m->message, sizeof(m->message), fmt, args);
    va_end(args);

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


/*
 * Before yajl sees the text: its size, strict UTF-8, its nesting depth
 * (yajl_tree_free recurses, so a deep tree could overflow the stack), no
 * NUL byte and no "\u0000" (yajl's tree strings are NUL-terminated:
 * "a\u0000b" would read as "a"), no '/' outside strings (yajl_tree_parse
 * allows comments, which would hide brackets and quotes from this scan;
 * JSON has none).
 */
static const char *
gobi_wsmsg_scan(const char *p, size_t len)
{
    size_t  i;
    int     depth, in_string;

    if (len > GOBI_WSMSG_MAX_SIZE) {
        return "message too big";
    }

    /* yajl only checks the shape of UTF-8 sequences, not overlongs */
    if (!gobi_utf8_valid((const unsigned char *) p, len)) {
        return "message is not JSON: invalid UTF-8";
    }

    depth = 0;
    in_string = 0;

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
            break;

        case ']':
        case '}':
            depth--;
            break;

        case '/':
            return "message is not JSON: comments are not allowed";
        }
    }

    return NULL;
}


static yajl_val
gobi_wsmsg_get(yajl_val obj, const char *key)
{
    size_t  i;

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


static int
gobi_wsmsg_str(gobi_wsmsg_t *m, const char *key, const char **out,
    int optional)
{
    yajl_val  v;

    v = gobi_wsmsg_get(m->tree, key);

    if (v == NULL || (optional && YAJL_IS_NULL(v))) {
        *out = NULL;
        return optional ? 0 : gobi_wsmsg_error(m, "missing \"%s\"", key);
    }

    if (!YAJL_IS_STRING(v)) {
        return gobi_wsmsg_error(m, "\"%s\" must be a string", key);
    }

    *out = YAJL_GET_STRING(v);

    return 0;
}


/* an integer >= min; dflt < min: required */
static int
gobi_wsmsg_int(gobi_wsmsg_t *m, const char *key, int64_t *out, int64_t min,
    int64_t dflt)
{
    yajl_val  v;

    v = gobi_wsmsg_get(m->tree, key);

    if (v == NULL) {
        if (dflt < min) {
            return gobi_wsmsg_error(m, "missing \"%s\"", key);
        }

        *out = dflt;
        return 0;
    }

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min) {
        return gobi_wsmsg_error(m, "\"%s\" must be an integer >= %lld", key,
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


static int
gobi_wsmsg_id(gobi_wsmsg_t *m)
{
    yajl_val     v;
    const char  *raw;
    size_t       len;

    v = gobi_wsmsg_get(m->tree, "id");

    if (v == NULL) {
        return gobi_wsmsg_error(m, "missing \"id\"");
    }

    if (YAJL_IS_NUMBER(v)) {
        raw = YAJL_GET_NUMBER(v);
        len = strlen(raw);

        if (len > GOBI_WSMSG_ID_MAX) {
            return gobi_wsmsg_error(m, "\"id\" is too long");
        }

        memcpy(m->id, raw, len + 1);

    } else if (YAJL_IS_STRING(v)) {
        len = gobi_wsmsg_quote(m->id, sizeof(m->id), YAJL_GET_STRING(v));
        if (len == 0) {
            m->id[0] = '\0';
            return gobi_wsmsg_error(m, "\"id\" is too long");
        }

    } else {
        return gobi_wsmsg_error(m, "\"id\" must be a string or a number");
    }

    m->id_len = len;

    return 0;
}


int
gobi_wsmsg_parse(gobi_wsmsg_t *m, const char *text, size_t len)
{
    const char  *err, *type;
    char        *buf, errbuf[256], *nl;
    size_t       i, j;
    yajl_val     v;

    memset(m, 0, sizeof(gobi_wsmsg_t));

    err = gobi_wsmsg_scan(text, len);
    if (err) {
        return gobi_wsmsg_error(m, "%s", err);
    }

    /* yajl_tree_parse wants a C string */
    buf = malloc(len + 1);
    if (buf == NULL) {
        return gobi_wsmsg_error(m, "out of memory");
    }

    memcpy(buf, text, len);
    buf[len] = '\0';

    errbuf[0] = '\0';
    m->tree = yajl_tree_parse(buf, errbuf, sizeof(errbuf));
    free(buf);

    if (m->tree == NULL) {
        /* the first line; the rest is a picture of where */
        nl = strchr(errbuf, '\n');
        if (nl) {
            *nl = '\0';
        }

        return gobi_wsmsg_error(m, "message is not JSON: %s",
                                errbuf[0] ? errbuf : "parse error");
    }

    if (!YAJL_IS_OBJECT(m->tree)) {
        return gobi_wsmsg_error(m, "message is not a JSON object");
    }

    for (i = 1; i < m->tree->u.object.len; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(m->tree->u.object.keys[i],
                       m->tree->u.object.keys[j]) == 0)
            {
                return gobi_wsmsg_error(m, "duplicate key \"%.*s\"",
                                 gobi_wsmsg_clip(m->tree->u.object.keys[i], 64),
                                 m->tree->u.object.keys[i]);
            }
        }
    }

    v = gobi_wsmsg_get(m->tree, "type");
    if (v == NULL) {
        return gobi_wsmsg_error(m, "missing \"type\"");
    }

    if (!YAJL_IS_STRING(v)) {
        return gobi_wsmsg_error(m, "\"type\" must be a string");
    }

    type = YAJL_GET_STRING(v);

    if (strcmp(type, "hello") == 0) {
        m->type = GOBI_WSMSG_HELLO;

        if (gobi_wsmsg_str(m, "vault", &m->vault, 0) != 0
            || gobi_wsmsg_int(m, "since", &m->since, 0, -1) != 0
            || gobi_wsmsg_str(m, "device", &m->device, 1) != 0
            || gobi_wsmsg_int(m, "protocol", &m->protocol, 1,
                              GOBI_WSMSG_PROTOCOL) != 0)
        {
            return -1;
        }

        return 0;
    }

    if (strcmp(type, "rename") == 0) {
        m->type = GOBI_WSMSG_RENAME;

        if (gobi_wsmsg_id(m) != 0
            || gobi_wsmsg_str(m, "from", &m->from, 0) != 0
            || gobi_wsmsg_str(m, "to", &m->path, 0) != 0
            || gobi_wsmsg_int(m, "base_version", &m->base_version, 0, -1)
               != 0)
        {
            return -1;
        }

        return 0;
    }

    if (strcmp(type, "delete") == 0) {
        m->type = GOBI_WSMSG_DELETE;

        if (gobi_wsmsg_id(m) != 0
            || gobi_wsmsg_str(m, "path", &m->path, 0) != 0
            || gobi_wsmsg_int(m, "base_version", &m->base_version, 0, -1)
               != 0)
        {
            return -1;
        }

        return 0;
    }

    return gobi_wsmsg_error(m, "unknown message type \"%.*s\"",
                            gobi_wsmsg_clip(type, 64), type);
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
    return yajl_gen_string(g, (const unsigned char *) s, strlen(s))
           != yajl_gen_status_ok;
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
