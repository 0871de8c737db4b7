/*
 * Copyright (C) the gobi authors
 *
 * A string-keyed hash map (open addressing).  Keys are not copied: they
 * must live as long as their entry, usually inside the value.
 */

#ifndef _GOBI_MAP_H_INCLUDED_
#define _GOBI_MAP_H_INCLUDED_


#include <stddef.h>


typedef struct {
    const char   *key;
    void         *value;
} gobi_map_slot_t;


typedef struct {
    gobi_map_slot_t  *slots;
    size_t            cap;                 /* a power of 2 */
    size_t            n;
} gobi_map_t;


void gobi_map_init(gobi_map_t *m);
void gobi_map_free(gobi_map_t *m);
void *gobi_map_get(gobi_map_t *m, const char *key);
/* replaces an existing value for the same key */
void gobi_map_put(gobi_map_t *m, const char *key, void *value);


#endif /* _GOBI_MAP_H_INCLUDED_ */
