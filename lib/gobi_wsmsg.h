/*
 * Copyright (C) the gobi authors
 *
 * The WebSocket protocol's JSON messages, both directions, for both sides:
 * the server parses what a client sends and writes its answers, the client
 * writes its messages and parses the server's.  One JSON object per text
 * message, "type" first in every object either side writes.
 */

#ifndef _GOBI_WSMSG_H_INCLUDED_
#define _GOBI_WSMSG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "gobi_event.h"


#define GOBI_WSMSG_PROTOCOL   1

#define GOBI_WSMSG_MAX_SIZE   65536        /* bytes of JSON text */
#define GOBI_WSMSG_MAX_DEPTH  16           /* nesting of arrays/objects */
#define GOBI_WSMSG_ID_MAX     256          /* bytes of an id's JSON text */
#define GOBI_WSMSG_ERR_MAX    256          /* bytes of an error message */
#define GOBI_WSMSG_MAX_KEYS   64           /* members of a client message */

/*
 * What a client accepts from the server: an events batch holds up to
 * gobi_ws_batch (at most 10000) events, each up to two paths of
 * GOBI_PATH_MAX bytes, so the size is the client transport's message limit.
 */
#define GOBI_WSMSG_SERVER_MAX_SIZE  (16 * 1024 * 1024)
#define GOBI_WSMSG_MAX_EVENTS       10000  /* per "events" message */
#define GOBI_WSMSG_MAX_ACTIONS      16     /* per "reject" message */

#define GOBI_WSMSG_BAD        "bad_message"


typedef enum {
    GOBI_WSMSG_NONE = 0,
    GOBI_WSMSG_HELLO,
    GOBI_WSMSG_RENAME,
    GOBI_WSMSG_DELETE
} gobi_wsmsg_type_e;


/*
 * A client message.  Strings are NUL-terminated UTF-8 without NUL inside
 * (a "\u0000" escape is refused), owned by the message until
 * gobi_wsmsg_free().  Paths are as sent: the caller checks them with
 * gobi_path_check() and answers `reject` with invalid_path.
 *
 *   hello   {"type":"hello","vault":s,"since":n,"device":s,"protocol":n}
 *           vault and since (>= 0) are required; device may be missing or
 *           null (NULL here); protocol defaults to 1.
 *   rename  {"type":"rename","id":x,"from":s,"to":s,"base_version":n}
 *   delete  {"type":"delete","id":x,"path":s,"base_version":n,
 *            "confirm_mass_delete":b}
 *           id is a string or a number; base_version an integer >= 0;
 *           confirm_mass_delete (optional, false) passes the server's
 *           mass-delete guard.
 *
 * Unknown fields are ignored; a key given twice is an error.
 */
typedef struct {
    gobi_wsmsg_type_e   type;

    /* hello */
    const char         *vault;
    int64_t             since;
    const char         *device;            /* NULL when not given */
    int64_t             protocol;

    /* rename, delete: the id as JSON text, to be echoed back as is
     * (numbers keep their exact text, strings come back re-escaped) */
    char                id[GOBI_WSMSG_ID_MAX + 1];
    size_t              id_len;            /* 0: no usable id */
    const char         *from;              /* rename */
    const char         *path;              /* rename: "to"; delete: "path" */
    int64_t             base_version;
    int                 confirm_mass_delete;   /* delete */

    /* after an error: GOBI_WSMSG_BAD and what exactly was wrong */
    const char         *code;
    char                message[GOBI_WSMSG_ERR_MAX];

    /* private */
    yajl_val            tree;
} gobi_wsmsg_t;


/*
 * Parses one text message (len bytes, not necessarily NUL-terminated, at
 * most GOBI_WSMSG_MAX_SIZE, nested at most GOBI_WSMSG_MAX_DEPTH deep:
 * checked before yajl builds a tree, whose free is recursive).  Returns 0,
 * or -1 with m->code and m->message set; m->id is filled when the message
 * got that far, so an error can name the operation.  m needs no
 * initialization; call gobi_wsmsg_free() either way, before m is reused.
 */
int gobi_wsmsg_parse(gobi_wsmsg_t *m, const char *text, size_t len);
void gobi_wsmsg_free(gobi_wsmsg_t *m);


/*
 * Server messages, written with the caller's yajl_gen (one message per
 * gen: yajl_gen_get_buf, send, yajl_gen_clear).  Each returns 0, or -1 if
 * yajl refused something (e.g. a string that is not UTF-8 when the gen
 * validates).  `id` is JSON text as kept by gobi_wsmsg_parse().
 */

/* {"seq","type","path","from" (renames only),"version","hash","size",
 *  "mtime","device" (null when unknown),"ts"} */
int gobi_wsmsg_gen_event(yajl_gen g, const gobi_event_t *e);

/* {"type":"welcome","vault","head_seq","oldest_seq","protocol":1} */
int gobi_wsmsg_gen_welcome(yajl_gen g, const char *vault, int64_t head_seq,
    int64_t oldest_seq);

/* {"type":"events","events":[...],"more":true|false} */
int gobi_wsmsg_gen_events(yajl_gen g, const gobi_event_t *ev, size_t n,
    int more);

/* {"type":"event","event":{...}} */
int gobi_wsmsg_gen_event_msg(yajl_gen g, const gobi_event_t *e);

/* {"type":"resync","reason","head_seq"} */
int gobi_wsmsg_gen_resync(yajl_gen g, const char *reason, int64_t head_seq);

/* {"type":"ack","id","seq","version"} */
int gobi_wsmsg_gen_ack(yajl_gen g, const char *id, size_t id_len,
    int64_t seq, int64_t version);


typedef enum {
    GOBI_WSMSG_DOWNLOAD = 1,               /* path, version */
    GOBI_WSMSG_DELETE_LOCAL,               /* path */
    GOBI_WSMSG_RENAME_LOCAL                /* from, to */
} gobi_wsmsg_op_e;

typedef struct {
    gobi_wsmsg_op_e     op;
    const char         *path;              /* download, delete_local */
    const char         *from;              /* rename_local */
    const char         *to;                /* rename_local */
    int64_t             version;           /* download */
} gobi_wsmsg_action_t;

/* {"type":"reject","id","code","message","actions":[{"op":...},...]} */
int gobi_wsmsg_gen_reject(yajl_gen g, const char *id, size_t id_len,
    const char *code, const char *message,
    const gobi_wsmsg_action_t *actions, size_t nactions);

/* {"type":"error","code","message"}, plus "id" when id_len > 0 */
int gobi_wsmsg_gen_error(yajl_gen g, const char *code, const char *message,
    const char *id, size_t id_len);


/*
 * Client messages, written as gobi_wsmsg_parse() reads them; each returns
 * 0, or -1 if yajl refused something or the message would be bigger than
 * GOBI_WSMSG_MAX_SIZE (the server refuses those).  `id` is JSON text: a
 * number as digits, or a quoted string; an empty id is written as null.
 */

/* {"type":"hello","vault","since","device" (null when NULL),"protocol":1} */
int gobi_wsmsg_gen_hello(yajl_gen g, const char *vault, int64_t since,
    const char *device);

/* {"type":"rename","id","from","to","base_version"} */
int gobi_wsmsg_gen_rename(yajl_gen g, const char *id, size_t id_len,
    const char *from, const char *to, int64_t base_version);

/* {"type":"delete","id","path","base_version"} */
int gobi_wsmsg_gen_delete(yajl_gen g, const char *id, size_t id_len,
    const char *path, int64_t base_version);


typedef enum {
    GOBI_WSMSG_SERVER_NONE = 0,
    GOBI_WSMSG_WELCOME,
    GOBI_WSMSG_EVENTS,
    GOBI_WSMSG_EVENT,
    GOBI_WSMSG_ACK,
    GOBI_WSMSG_REJECT,
    GOBI_WSMSG_RESYNC,
    GOBI_WSMSG_ERROR
} gobi_wsmsg_server_e;


/*
 * A server message, read as strictly as the server writes it (see the
 * gobi_wsmsg_gen_* above for each shape).  Strings point into the message
 * and live until gobi_wsmsg_server_free(); paths are as sent, for the
 * caller to check with gobi_path_check().
 *
 *   welcome  vault, head_seq, oldest_seq, protocol (default 1)
 *   events   events[nevents] (at most GOBI_WSMSG_MAX_EVENTS), more
 *   event    events[0], nevents 1
 *   ack      id, seq, version
 *   reject   id, code, message, actions[nactions] (missing: none)
 *   resync   reason, head_seq
 *   error    code, message, id (when given)
 *
 * An event needs every field gobi_wsmsg_gen_event() writes ("from" only
 * for renames; "device" may be null) and a hash of 64 lowercase hex digits
 * ("" only for deletes).  Unknown fields are ignored; a field we read
 * given twice is an error.  An id missing or null has id_len 0.
 */
typedef struct {
    gobi_wsmsg_server_e   type;

    const char           *vault;           /* welcome */
    int64_t               head_seq;        /* welcome, resync */
    int64_t               oldest_seq;      /* welcome */
    int64_t               protocol;        /* welcome */

    gobi_event_t         *events;          /* events, event */
    size_t                nevents;
    int                   more;            /* events */

    char                  id[GOBI_WSMSG_ID_MAX + 1];  /* ack, reject, error */
    size_t                id_len;
    int64_t               seq;             /* ack */
    int64_t               version;         /* ack */
    const char           *code;            /* reject, error */
    const char           *message;         /* reject, error */
    gobi_wsmsg_action_t  *actions;         /* reject */
    size_t                nactions;
    const char           *reason;          /* resync */

    /* after -1: what was wrong, one line */
    char                  error[GOBI_WSMSG_ERR_MAX];

    /* private */
    gobi_event_t          event;
    yajl_val              tree;
} gobi_wsmsg_server_t;


/*
 * Parses one server message (len bytes, not necessarily NUL-terminated, at
 * most GOBI_WSMSG_SERVER_MAX_SIZE, nested at most GOBI_WSMSG_MAX_DEPTH).
 * Returns 0, or -1 with m->error set; m->type and m->id are filled when
 * the message got that far, so an error can be matched with the operation
 * it answers.  m needs no initialization; call gobi_wsmsg_server_free()
 * either way, before m is reused.
 */
int gobi_wsmsg_parse_server(gobi_wsmsg_server_t *m, const char *text,
    size_t len);
void gobi_wsmsg_server_free(gobi_wsmsg_server_t *m);


#endif /* _GOBI_WSMSG_H_INCLUDED_ */
