/*
 * Copyright (C) the gobi authors
 *
 * Events and file records: the vocabulary shared by server, store drivers
 * and client.
 */

#ifndef _GOBI_EVENT_H_INCLUDED_
#define _GOBI_EVENT_H_INCLUDED_


#include <stdint.h>


#define GOBI_HASH_HEX_LEN  64              /* BLAKE2b-256, lowercase hex */


typedef enum {
    GOBI_EV_NONE = 0,
    GOBI_EV_CREATE,
    GOBI_EV_MODIFY,
    GOBI_EV_DELETE,
    GOBI_EV_RENAME
} gobi_event_type_e;


typedef struct {
    int64_t             seq;
    gobi_event_type_e   type;
    const char         *path;
    const char         *from;              /* RENAME: the old path */
    int64_t             version;           /* == seq */
    char                hash[GOBI_HASH_HEX_LEN + 1];   /* "" for DELETE */
    int64_t             size;
    int64_t             mtime;             /* unix ms */
    const char         *device;            /* may be NULL */
    int64_t             ts;                /* server time, unix ms */
} gobi_event_t;


typedef struct {
    const char         *path;
    int64_t             version;           /* seq of the last change */
    char                hash[GOBI_HASH_HEX_LEN + 1];
    int64_t             size;
    int64_t             mtime;
    int                 deleted;           /* a tombstone */
} gobi_file_t;


const char *gobi_event_type_name(gobi_event_type_e type);
gobi_event_type_e gobi_event_type_parse(const char *name);


#endif /* _GOBI_EVENT_H_INCLUDED_ */
